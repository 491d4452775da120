//! The customer-readable document of an issued bill, as an HTML page and as a PDF file. Pure: the caller fills a
//! [`BillDocument`] from the stored bill and gets text or bytes back; no I/O, no database, no template files.
//!
//! Why it is shaped so:
//! - Both renderings show the same content because both lay out the same formatted tables (bill facts, charges,
//!   tax summary, totals, built once by `sections`); only the layout differs.
//! - Amounts stay integer minor units until they are printed with [`Money`]'s `Display` (`35.48 EUR`). Floats
//!   appear only as PDF coordinates, never as money.
//! - The HTML page is self-contained (inline CSS, no script, no external resource) so it can be mailed or stored
//!   as is; every text from the input is escaped.
//! - The PDF is written here rather than with a PDF crate, because a bill is text only: PDF 1.4, the standard
//!   Type 1 fonts Helvetica and Helvetica-Bold (every reader has them, nothing is embedded) with WinAnsiEncoding,
//!   one uncompressed content stream per A4 page, and a cross-reference table of exact byte offsets. Text is
//!   encoded to WinAnsi bytes (Latin-1 plus dashes, curly quotes, €); any other character becomes `?`. Columns
//!   sit at fixed x positions; amounts are right-aligned with Helvetica's glyph widths (its AFM metrics for
//!   digits, punctuation and letters, half an em for the rest). Helvetica-Bold is measured with the same table:
//!   its digits, `.`, space and the letters of currency codes mostly share those widths, so amounts still align.

use bss_tmf::money::{Currency, Money};
use chrono::NaiveDate;

/// Everything a bill document shows; built by the caller from the stored, issued bill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillDocument {
    pub bill_id: String,
    /// e.g. "B0000000042"
    pub bill_no: String,
    pub bill_date: NaiveDate,
    pub payment_due_date: NaiveDate,
    /// The billing period, half-open [start, end): show it as "1 Jan 2026 – 31 Jan 2026" (end − 1 day).
    /// None for an off-cycle bill with no period.
    pub period: Option<(NaiveDate, NaiveDate)>,
    pub account_id: String,
    pub account_name: String,
    pub customer_id: String,
    pub currency: Currency,
    pub lines: Vec<DocumentLine>,
    /// One entry per tax rate on the bill.
    pub taxes: Vec<DocumentTax>,
    pub tax_excluded_minor: i64,
    pub tax_minor: i64,
    pub tax_included_minor: i64,
    pub amount_due_minor: i64,
    pub paid_minor: i64,
    pub remaining_minor: i64,
    pub state: String,
}

/// One charge on the bill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentLine {
    /// e.g. "Fibre 1G — Monthly"
    pub description: String,
    /// "recurring" | "oneTime" | "credit"
    pub kind: String,
    /// The dates charged, half-open; None for one-time charges.
    pub covers: Option<(NaiveDate, NaiveDate)>,
    /// Tax excluded, negative for credits.
    pub amount_minor: i64,
    /// 2000 = 20 %
    pub tax_rate_basis_points: u32,
    pub tax_minor: i64,
}

/// The bill's tax at one rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentTax {
    pub tax_rate_basis_points: u32,
    pub taxable_minor: i64,
    pub tax_minor: i64,
}

/// A tax rate in basis points as a percentage without trailing zeros: 2000 → "20 %", 550 → "5.5 %".
pub fn percent(basis_points: u32) -> String {
    let (whole, hundredths) = (basis_points / 100, basis_points % 100);
    if hundredths == 0 {
        format!("{whole} %")
    } else {
        let fraction = format!("{hundredths:02}");
        format!("{whole}.{} %", fraction.trim_end_matches('0'))
    }
}

/// Renders the bill as a complete, self-contained HTML5 page.
pub fn render_html(doc: &BillDocument) -> String {
    let title = escape_html(&document_title(doc));
    let mut page = String::with_capacity(4096 + 256 * doc.lines.len());
    page.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    page.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    page.push_str(&format!("<title>{title}</title>\n<style>\n{HTML_STYLE}</style>\n</head>\n<body>\n"));
    page.push_str(&format!("<h1>{title}</h1>\n"));
    for table in sections(doc) {
        page.push_str(&html_table(&table));
    }
    page.push_str("</body>\n</html>\n");
    page
}

/// Renders the bill as a PDF 1.4 file of A4 pages numbered "Page n of m".
pub fn render_pdf(doc: &BillDocument) -> Vec<u8> {
    let title = document_title(doc);
    let [facts, charges, taxes, totals] = sections(doc);
    let mut layout = Layout::new();
    layout.title(&title);
    layout.table(&facts, &FACT_COLUMNS, false);
    layout.table(&charges, &CHARGE_COLUMNS, false);
    layout.table(&taxes, &TAX_COLUMNS, false);
    layout.table(&totals, &TOTAL_COLUMNS, true);
    let mut pages = layout.pages;
    add_page_footers(&mut pages, &title);
    write_pdf(&pages, &title)
}

// ---------------------------------------------------------------------------------------------------------------
// Content shared by both renderings
// ---------------------------------------------------------------------------------------------------------------

/// How a column's cells are aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}

/// One row of formatted cells; an emphasised row is printed in bold.
struct Row {
    cells: Vec<String>,
    emphasised: bool,
}

impl Row {
    fn plain(cells: Vec<String>) -> Self {
        Self { cells, emphasised: false }
    }
}

/// A table of formatted text, laid out by either renderer.
struct Table {
    /// The HTML class of the table.
    name: &'static str,
    title: Option<&'static str>,
    header: Option<Vec<&'static str>>,
    align: Vec<Align>,
    /// The first cell of each row labels the row.
    row_labels: bool,
    rows: Vec<Row>,
}

/// The document's content in reading order: bill facts, charges, tax summary, totals.
fn sections(doc: &BillDocument) -> [Table; 4] {
    [facts_table(doc), charges_table(doc), tax_table(doc), totals_table(doc)]
}

fn document_title(doc: &BillDocument) -> String {
    format!("Bill {}", doc.bill_no)
}

fn facts_table(doc: &BillDocument) -> Table {
    let period = doc.period.map(format_span).unwrap_or_else(|| "None (off-cycle bill)".to_owned());
    let facts = [
        ("Account", doc.account_name.clone()),
        ("Account id", doc.account_id.clone()),
        ("Customer id", doc.customer_id.clone()),
        ("Bill number", doc.bill_no.clone()),
        ("Bill date", format_date(doc.bill_date)),
        ("Payment due", format_date(doc.payment_due_date)),
        ("Billing period", period),
        ("State", doc.state.clone()),
        ("Bill id", doc.bill_id.clone()),
    ];
    Table {
        name: "facts",
        title: None,
        header: None,
        align: vec![Align::Left, Align::Left],
        row_labels: true,
        rows: facts.into_iter().map(|(label, value)| Row::plain(vec![label.to_owned(), value])).collect(),
    }
}

fn charges_table(doc: &BillDocument) -> Table {
    let mut rows: Vec<Row> = doc.lines.iter().map(|line| charge_row(doc.currency, line)).collect();
    if rows.is_empty() {
        rows.push(Row::plain(vec!["No charges".to_owned(), String::new(), String::new(), String::new()]));
    }
    Table {
        name: "charges",
        title: Some("Charges"),
        header: Some(vec!["Description", "Kind", "Period covered", "Amount excl. tax", "Tax rate", "Tax"]),
        align: vec![Align::Left, Align::Left, Align::Left, Align::Right, Align::Right, Align::Right],
        row_labels: false,
        rows,
    }
}

fn charge_row(currency: Currency, line: &DocumentLine) -> Row {
    Row::plain(vec![
        line.description.clone(),
        kind_label(&line.kind),
        line.covers.map(format_span).unwrap_or_else(|| "—".to_owned()),
        money(currency, line.amount_minor),
        percent(line.tax_rate_basis_points),
        money(currency, line.tax_minor),
    ])
}

fn tax_table(doc: &BillDocument) -> Table {
    let mut rows: Vec<Row> = doc
        .taxes
        .iter()
        .map(|tax| {
            Row::plain(vec![
                percent(tax.tax_rate_basis_points),
                money(doc.currency, tax.taxable_minor),
                money(doc.currency, tax.tax_minor),
            ])
        })
        .collect();
    if rows.is_empty() {
        rows.push(Row::plain(vec!["No tax".to_owned()]));
    }
    Table {
        name: "taxes",
        title: Some("Tax summary"),
        header: Some(vec!["Tax rate", "Taxable amount", "Tax"]),
        align: vec![Align::Left, Align::Right, Align::Right],
        row_labels: false,
        rows,
    }
}

fn totals_table(doc: &BillDocument) -> Table {
    let total = |label: &str, minor: i64, emphasised: bool| Row {
        cells: vec![label.to_owned(), money(doc.currency, minor)],
        emphasised,
    };
    Table {
        name: "totals",
        title: Some("Totals"),
        header: None,
        align: vec![Align::Left, Align::Right],
        row_labels: false,
        rows: vec![
            total("Total excluding tax", doc.tax_excluded_minor, false),
            total("Tax", doc.tax_minor, false),
            total("Total including tax", doc.tax_included_minor, true),
            total("Amount due", doc.amount_due_minor, false),
            total("Paid", doc.paid_minor, false),
            total("Remaining to pay", doc.remaining_minor, true),
        ],
    }
}

/// What a customer reads for a charge kind; an unknown kind is shown as it is.
fn kind_label(kind: &str) -> String {
    match kind {
        "recurring" => "Recurring",
        "oneTime" => "One-time",
        "credit" => "Credit",
        other => other,
    }
    .to_owned()
}

fn money(currency: Currency, minor: i64) -> String {
    Money::from_minor(minor, currency).to_string()
}

/// "10 Jan 2026".
fn format_date(date: NaiveDate) -> String {
    date.format("%-d %b %Y").to_string()
}

/// A half-open span of dates as its first and last day: `[1 Jan, 1 Feb)` → "1 Jan 2026 – 31 Jan 2026".
fn format_span((start, end): (NaiveDate, NaiveDate)) -> String {
    let last = end.pred_opt().filter(|last| *last >= start).unwrap_or(start);
    format!("{} – {}", format_date(start), format_date(last))
}

// ---------------------------------------------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------------------------------------------

const HTML_STYLE: &str = "\
body { font-family: Helvetica, Arial, sans-serif; color: #222; max-width: 60em; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.6em; }
h2 { font-size: 1.1em; margin: 1.6em 0 0.4em; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: 0.3em 0.6em; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }
thead th { background: #f2f2f2; }
table.facts { width: auto; }
table.facts th { padding-left: 0; }
table.totals { width: auto; margin-left: auto; }
.amount { text-align: right; white-space: nowrap; }
tr.emphasised td { font-weight: bold; }
@media print { body { margin: 0; max-width: none; } }
";

/// Escapes text for HTML content and attribute values.
fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

fn html_table(table: &Table) -> String {
    let mut html = String::new();
    if let Some(title) = table.title {
        html.push_str(&format!("<h2>{}</h2>\n", escape_html(title)));
    }
    html.push_str(&format!("<table class=\"{}\">\n", table.name));
    if let Some(header) = &table.header {
        html.push_str("<thead><tr>");
        for (name, align) in header.iter().zip(&table.align) {
            html.push_str(&format!("<th{}>{}</th>", html_align(*align), escape_html(name)));
        }
        html.push_str("</tr></thead>\n");
    }
    html.push_str("<tbody>\n");
    for row in &table.rows {
        html.push_str(&html_row(table, row));
    }
    html.push_str("</tbody>\n</table>\n");
    html
}

fn html_row(table: &Table, row: &Row) -> String {
    let mut html = String::from(if row.emphasised { "<tr class=\"emphasised\">" } else { "<tr>" });
    for (index, (cell, align)) in row.cells.iter().zip(&table.align).enumerate() {
        let (open, close) =
            if table.row_labels && index == 0 { ("<th scope=\"row\"", "</th>") } else { ("<td", "</td>") };
        html.push_str(&format!("{open}{}>{}{close}", html_align(*align), escape_html(cell)));
    }
    html.push_str("</tr>\n");
    html
}

fn html_align(align: Align) -> &'static str {
    match align {
        Align::Left => "",
        Align::Right => " class=\"amount\"",
    }
}

// ---------------------------------------------------------------------------------------------------------------
// PDF layout
// ---------------------------------------------------------------------------------------------------------------

const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const LEFT_EDGE: f32 = 50.0;
const RIGHT_EDGE: f32 = PAGE_WIDTH - 50.0;
const TOP_EDGE: f32 = PAGE_HEIGHT - 50.0;
/// Nothing but the footer goes below this line.
const BOTTOM_EDGE: f32 = 60.0;
const FOOTER_BASELINE: f32 = 30.0;

const TITLE_SIZE: f32 = 18.0;
const TITLE_HEIGHT: f32 = 28.0;
const HEADING_SIZE: f32 = 11.0;
const HEADING_HEIGHT: f32 = 18.0;
const TEXT_SIZE: f32 = 8.5;
const LINE_HEIGHT: f32 = 11.0;
const ROW_PADDING: f32 = 2.5;
const SECTION_GAP: f32 = 14.0;
const FOOTER_SIZE: f32 = 8.0;

/// Where a column's text goes: between `left` and `right`, aligned as its table says.
#[derive(Debug, Clone, Copy)]
struct Column {
    left: f32,
    right: f32,
}

const fn column(left: f32, right: f32) -> Column {
    Column { left, right }
}

const FACT_COLUMNS: [Column; 2] = [column(LEFT_EDGE, 150.0), column(155.0, RIGHT_EDGE)];
const CHARGE_COLUMNS: [Column; 6] = [
    column(LEFT_EDGE, 180.0),
    column(186.0, 232.0),
    column(238.0, 345.0),
    column(350.0, 435.0),
    column(440.0, 480.0),
    column(485.0, RIGHT_EDGE),
];
/// Taxable amounts and taxes line up with the charges' amount and tax columns.
const TAX_COLUMNS: [Column; 3] = [column(LEFT_EDGE, 200.0), column(350.0, 435.0), column(485.0, RIGHT_EDGE)];
const TOTAL_COLUMNS: [Column; 2] = [column(300.0, 435.0), column(440.0, RIGHT_EDGE)];

/// The two fonts of the document, by their resource names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Font {
    Regular,
    Bold,
}

impl Font {
    fn resource(self) -> &'static str {
        match self {
            Font::Regular => "F1",
            Font::Bold => "F2",
        }
    }
}

/// One piece of WinAnsi text placed on a page.
#[derive(Debug, Clone)]
struct TextRun {
    x: f32,
    baseline: f32,
    font: Font,
    size: f32,
    text: Vec<u8>,
}

/// A table cell broken into lines that fit its column.
struct WrappedCell {
    lines: Vec<Vec<u8>>,
    font: Font,
}

struct WrappedRow {
    cells: Vec<WrappedCell>,
}

impl WrappedRow {
    fn height(&self) -> f32 {
        let lines = self.cells.iter().map(|cell| cell.lines.len()).max().unwrap_or(1).max(1);
        lines as f32 * LINE_HEIGHT + ROW_PADDING
    }
}

/// Places text top to bottom, starting a new page when the next block does not fit.
struct Layout {
    pages: Vec<Vec<TextRun>>,
    /// The top of the free space on the current page.
    cursor: f32,
}

impl Layout {
    fn new() -> Self {
        Self { pages: vec![Vec::new()], cursor: TOP_EDGE }
    }

    fn at_page_top(&self) -> bool {
        self.cursor >= TOP_EDGE
    }

    /// Starts a new page unless `height` fits on this one (or this page is still empty: a block taller than a
    /// page is then cut by the bottom margin rather than pushed on forever). Returns whether a page was started.
    fn make_room(&mut self, height: f32) -> bool {
        if self.cursor - height >= BOTTOM_EDGE || self.at_page_top() {
            return false;
        }
        self.pages.push(Vec::new());
        self.cursor = TOP_EDGE;
        true
    }

    fn place(&mut self, x: f32, baseline: f32, font: Font, size: f32, text: Vec<u8>) {
        if text.is_empty() {
            return;
        }
        let run = TextRun { x, baseline, font, size, text };
        self.pages.last_mut().expect("a layout always has a page").push(run);
    }

    fn title(&mut self, text: &str) {
        self.place(LEFT_EDGE, self.cursor - TITLE_SIZE, Font::Bold, TITLE_SIZE, encode_win_ansi(text));
        self.cursor -= TITLE_HEIGHT;
    }

    fn heading(&mut self, text: &str) {
        self.place(LEFT_EDGE, self.cursor - HEADING_SIZE, Font::Bold, HEADING_SIZE, encode_win_ansi(text));
        self.cursor -= HEADING_HEIGHT;
    }

    /// Lays out a table under its title. The title, the header and the first row (all rows when
    /// `keep_together`) stay on one page; the header is repeated on every page the table continues on.
    fn table(&mut self, table: &Table, columns: &[Column], keep_together: bool) {
        let header = table.header.as_ref().map(|names| wrap_header(names, columns));
        let rows: Vec<WrappedRow> = table.rows.iter().map(|row| wrap_row(table, row, columns)).collect();
        let title_height = if table.title.is_some() { HEADING_HEIGHT } else { 0.0 };
        let header_height = header.as_ref().map_or(0.0, WrappedRow::height);
        let body_height = if keep_together {
            rows.iter().map(WrappedRow::height).sum()
        } else {
            rows.first().map_or(0.0, WrappedRow::height)
        };
        self.make_room(SECTION_GAP + title_height + header_height + body_height);
        if !self.at_page_top() {
            self.cursor -= SECTION_GAP;
        }
        if let Some(title) = table.title {
            self.heading(title);
        }
        if let Some(header) = &header {
            self.row(header, columns, &table.align);
        }
        for row in &rows {
            if self.make_room(row.height())
                && let Some(header) = &header
            {
                self.row(header, columns, &table.align);
            }
            self.row(row, columns, &table.align);
        }
    }

    fn row(&mut self, row: &WrappedRow, columns: &[Column], align: &[Align]) {
        for ((cell, column), align) in row.cells.iter().zip(columns).zip(align) {
            for (index, line) in cell.lines.iter().enumerate() {
                let baseline = self.cursor - TEXT_SIZE - index as f32 * LINE_HEIGHT;
                let x = match align {
                    Align::Left => column.left,
                    Align::Right => column.right - text_width(line, TEXT_SIZE),
                };
                self.place(x, baseline, cell.font, TEXT_SIZE, line.clone());
            }
        }
        self.cursor -= row.height();
    }
}

fn wrap_header(names: &[&str], columns: &[Column]) -> WrappedRow {
    let cells = names.iter().zip(columns).map(|(name, column)| wrap_cell(name, Font::Bold, *column)).collect();
    WrappedRow { cells }
}

fn wrap_row(table: &Table, row: &Row, columns: &[Column]) -> WrappedRow {
    let cells = row
        .cells
        .iter()
        .zip(columns)
        .enumerate()
        .map(|(index, (text, column))| {
            let bold = row.emphasised || (table.row_labels && index == 0);
            wrap_cell(text, if bold { Font::Bold } else { Font::Regular }, *column)
        })
        .collect();
    WrappedRow { cells }
}

fn wrap_cell(text: &str, font: Font, column: Column) -> WrappedCell {
    WrappedCell { lines: wrap(&encode_win_ansi(text), TEXT_SIZE, column.right - column.left), font }
}

/// Breaks WinAnsi text into lines no wider than `width`: at spaces, and inside a word only when the word alone is
/// too wide. Always at least one line (empty for empty text).
fn wrap(text: &[u8], size: f32, width: f32) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    for word in text.split(|byte| *byte == b' ').filter(|word| !word.is_empty()) {
        let widened = if current.is_empty() {
            text_width(word, size)
        } else {
            text_width(&current, size) + text_width(b" ", size) + text_width(word, size)
        };
        if widened <= width {
            if !current.is_empty() {
                current.push(b' ');
            }
            current.extend_from_slice(word);
            continue;
        }
        if !current.is_empty() {
            lines.push(std::mem::take(&mut current));
        }
        let mut pieces = break_word(word, size, width);
        current = pieces.pop().unwrap_or_default();
        lines.extend(pieces);
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(current);
    }
    lines
}

/// Cuts one word into pieces no wider than `width` (each at least one character).
fn break_word(word: &[u8], size: f32, width: f32) -> Vec<Vec<u8>> {
    let mut pieces = Vec::new();
    let mut piece: Vec<u8> = Vec::new();
    for &byte in word {
        if !piece.is_empty() && text_width(&piece, size) + text_width(&[byte], size) > width {
            pieces.push(std::mem::take(&mut piece));
        }
        piece.push(byte);
    }
    pieces.push(piece);
    pieces
}

/// Adds "Page n of m" (right) and the document title (left) under the text of every page.
fn add_page_footers(pages: &mut [Vec<TextRun>], title: &str) {
    let count = pages.len();
    for (index, page) in pages.iter_mut().enumerate() {
        let number = encode_win_ansi(&format!("Page {} of {count}", index + 1));
        let x = RIGHT_EDGE - text_width(&number, FOOTER_SIZE);
        page.push(TextRun { x, baseline: FOOTER_BASELINE, font: Font::Regular, size: FOOTER_SIZE, text: number });
        let text = encode_win_ansi(title);
        page.push(TextRun { x: LEFT_EDGE, baseline: FOOTER_BASELINE, font: Font::Regular, size: FOOTER_SIZE, text });
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Text: WinAnsi encoding and Helvetica widths
// ---------------------------------------------------------------------------------------------------------------

/// Encodes text to WinAnsi (Windows-1252) bytes, one per character; a character WinAnsi lacks becomes `?`.
fn encode_win_ansi(text: &str) -> Vec<u8> {
    text.chars().map(win_ansi_byte).collect()
}

fn win_ansi_byte(c: char) -> u8 {
    match c {
        ' '..='~' => c as u8,
        // WinAnsi agrees with Latin-1 from 0xA0 on.
        '\u{A0}'..='\u{FF}' => c as u32 as u8,
        '\t' | '\n' | '\r' => b' ',
        _ => win_ansi_extra(c).unwrap_or(b'?'),
    }
}

/// The characters WinAnsi places at 0x80–0x9F.
fn win_ansi_extra(c: char) -> Option<u8> {
    let byte = match c {
        '€' => 0x80,
        '‚' => 0x82,
        'ƒ' => 0x83,
        '„' => 0x84,
        '…' => 0x85,
        '†' => 0x86,
        '‡' => 0x87,
        'ˆ' => 0x88,
        '‰' => 0x89,
        'Š' => 0x8A,
        '‹' => 0x8B,
        'Œ' => 0x8C,
        'Ž' => 0x8E,
        '‘' => 0x91,
        '’' => 0x92,
        '“' => 0x93,
        '”' => 0x94,
        '•' => 0x95,
        '–' => 0x96,
        '—' => 0x97,
        '˜' => 0x98,
        '™' => 0x99,
        'š' => 0x9A,
        '›' => 0x9B,
        'œ' => 0x9C,
        'ž' => 0x9E,
        'Ÿ' => 0x9F,
        _ => return None,
    };
    Some(byte)
}

/// The width of WinAnsi text in Helvetica at `size` points.
fn text_width(text: &[u8], size: f32) -> f32 {
    let units: u32 = text.iter().map(|byte| u32::from(helvetica_width(*byte))).sum();
    units as f32 * size / 1000.0
}

/// Helvetica's advance width of a WinAnsi byte in thousandths of an em (AFM metrics); half an em when not listed.
fn helvetica_width(byte: u8) -> u16 {
    match byte {
        b' ' | b'.' | b',' | b'/' | b':' | b';' | b'!' | b'[' | b']' | b'I' | b'f' | b't' => 278,
        b'-' | b'(' | b')' | b'r' => 333,
        b'0'..=b'9' => 556,
        b'%' => 889,
        b'i' | b'j' | b'l' => 222,
        b'c' | b'k' | b's' | b'v' | b'x' | b'y' | b'z' | b'J' => 500,
        b'm' | b'M' => 833,
        b'w' => 722,
        b'a'..=b'z' => 556,
        b'C' | b'D' | b'H' | b'N' | b'R' | b'U' => 722,
        b'G' | b'O' | b'Q' => 778,
        b'F' | b'T' | b'Z' => 611,
        b'L' => 556,
        b'W' => 944,
        b'A'..=b'Z' => 667,
        0x96 => 556,
        0x97 => 1000,
        _ => 500,
    }
}

// ---------------------------------------------------------------------------------------------------------------
// PDF file
// ---------------------------------------------------------------------------------------------------------------

/// Objects 1–5 are fixed; each page then has its page object and its content stream.
const CATALOG_OBJECT: usize = 1;
const PAGES_OBJECT: usize = 2;
const REGULAR_FONT_OBJECT: usize = 3;
const BOLD_FONT_OBJECT: usize = 4;
const INFO_OBJECT: usize = 5;
const FIRST_PAGE_OBJECT: usize = 6;

fn page_object(page_index: usize) -> usize {
    FIRST_PAGE_OBJECT + 2 * page_index
}

fn write_pdf(pages: &[Vec<TextRun>], title: &str) -> Vec<u8> {
    let kids: Vec<String> = (0..pages.len()).map(|index| format!("{} 0 R", page_object(index))).collect();
    let mut objects = vec![
        format!("<< /Type /Catalog /Pages {PAGES_OBJECT} 0 R >>").into_bytes(),
        format!("<< /Type /Pages /Kids [{}] /Count {} >>", kids.join(" "), pages.len()).into_bytes(),
        font_object("Helvetica"),
        font_object("Helvetica-Bold"),
        info_object(title),
    ];
    for (index, runs) in pages.iter().enumerate() {
        objects.push(page_dictionary(page_object(index) + 1));
        objects.push(stream_object(&content_stream(runs)));
    }
    assemble(&objects)
}

fn font_object(base_font: &str) -> Vec<u8> {
    format!("<< /Type /Font /Subtype /Type1 /BaseFont /{base_font} /Encoding /WinAnsiEncoding >>").into_bytes()
}

/// The document information dictionary. Its strings are PDFDocEncoding, so only ASCII is kept there.
fn info_object(title: &str) -> Vec<u8> {
    let ascii: Vec<u8> = title.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c as u8 } else { b'?' }).collect();
    let mut object = b"<< /Title ".to_vec();
    object.extend_from_slice(&pdf_string(&ascii));
    object.extend_from_slice(b" /Producer (bss-oss-rust billing) >>");
    object
}

fn page_dictionary(contents_object: usize) -> Vec<u8> {
    format!(
        "<< /Type /Page /Parent {PAGES_OBJECT} 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] \
         /Resources << /Font << /F1 {REGULAR_FONT_OBJECT} 0 R /F2 {BOLD_FONT_OBJECT} 0 R >> >> \
         /Contents {contents_object} 0 R >>"
    )
    .into_bytes()
}

fn stream_object(content: &[u8]) -> Vec<u8> {
    let mut object = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
    object.extend_from_slice(content);
    object.extend_from_slice(b"\nendstream");
    object
}

/// One text object per run: font, position, string.
fn content_stream(runs: &[TextRun]) -> Vec<u8> {
    let mut content = Vec::new();
    for run in runs {
        let placement = format!("BT /{} {} Tf {:.2} {:.2} Td ", run.font.resource(), run.size, run.x, run.baseline);
        content.extend_from_slice(placement.as_bytes());
        content.extend_from_slice(&pdf_string(&run.text));
        content.extend_from_slice(b" Tj ET\n");
    }
    content
}

/// A PDF literal string: the bytes in parentheses, with `(`, `)` and `\` escaped.
fn pdf_string(bytes: &[u8]) -> Vec<u8> {
    let mut literal = Vec::with_capacity(bytes.len() + 2);
    literal.push(b'(');
    for &byte in bytes {
        if matches!(byte, b'(' | b')' | b'\\') {
            literal.push(b'\\');
        }
        literal.push(byte);
    }
    literal.push(b')');
    literal
}

/// Writes the header, the objects numbered from 1 in order, the cross-reference table of their byte offsets,
/// the trailer, `startxref` and `%%EOF`.
fn assemble(objects: &[Vec<u8>]) -> Vec<u8> {
    // The second line's high bytes tell transfer tools the file is binary.
    let mut pdf = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (index, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n", index + 1).as_bytes());
        pdf.extend_from_slice(body);
        pdf.extend_from_slice(b"\nendobj\n");
    }
    let xref_offset = pdf.len();
    pdf.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for offset in offsets {
        // Each entry is exactly 20 bytes: 10-digit offset, space, 5-digit generation, space, n, space, newline.
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    let trailer = format!(
        "trailer\n<< /Size {} /Root {CATALOG_OBJECT} 0 R /Info {INFO_OBJECT} 0 R >>\nstartxref\n{xref_offset}\n%%EOF\n",
        objects.len() + 1
    );
    pdf.extend_from_slice(trailer.as_bytes());
    pdf
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    fn line(
        description: &str,
        kind: &str,
        amount_minor: i64,
        tax_rate_basis_points: u32,
        tax_minor: i64,
    ) -> DocumentLine {
        let covers = (kind != "oneTime").then(|| (date("2026-01-10"), date("2026-02-01")));
        DocumentLine {
            description: description.into(),
            kind: kind.into(),
            covers,
            amount_minor,
            tax_rate_basis_points,
            tax_minor,
        }
    }

    /// A January bill: a prorated fibre line, an installation, an ebook at 5.5 % and a credit.
    fn sample() -> BillDocument {
        BillDocument {
            bill_id: "6f1c2a9e-0000-4000-8000-000000000042".into(),
            bill_no: "B0000000042".into(),
            bill_date: date("2026-02-01"),
            payment_due_date: date("2026-02-15"),
            period: Some((date("2026-01-01"), date("2026-02-01"))),
            account_id: "acc-7".into(),
            account_name: "Zoë Müller".into(),
            customer_id: "cust-3".into(),
            currency: eur(),
            lines: vec![
                line("Fibre 1G — Monthly", "recurring", 3548, 2000, 710),
                line("Installation", "oneTime", 4900, 2000, 980),
                line("Ebook bundle", "recurring", 1000, 550, 55),
                line("Fibre 1G — unused days", "credit", -1000, 2000, -200),
            ],
            taxes: vec![
                DocumentTax { tax_rate_basis_points: 2000, taxable_minor: 7448, tax_minor: 1490 },
                DocumentTax { tax_rate_basis_points: 550, taxable_minor: 1000, tax_minor: 55 },
            ],
            tax_excluded_minor: 8448,
            tax_minor: 1545,
            tax_included_minor: 9993,
            amount_due_minor: 9993,
            paid_minor: 1000,
            remaining_minor: 8993,
            state: "settled".into(),
        }
    }

    fn with_lines(count: usize) -> BillDocument {
        let mut doc = sample();
        doc.lines = (1..=count).map(|n| line(&format!("Charge number {n}"), "recurring", 1000, 2000, 200)).collect();
        doc
    }

    fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        haystack.windows(needle.len()).position(|window| window == needle)
    }

    fn count(haystack: &[u8], needle: &[u8]) -> usize {
        haystack.windows(needle.len()).filter(|window| *window == needle).count()
    }

    fn number_at(bytes: &[u8]) -> usize {
        let digits: Vec<u8> = bytes.iter().copied().take_while(u8::is_ascii_digit).collect();
        String::from_utf8(digits).unwrap().parse().unwrap()
    }

    /// Every content stream of the file, each checked against its `/Length`.
    fn content_streams(pdf: &[u8]) -> Vec<&[u8]> {
        let mut streams = Vec::new();
        let mut rest = pdf;
        while let Some(at) = find(rest, b"<< /Length ") {
            let after = &rest[at + b"<< /Length ".len()..];
            let length = number_at(after);
            let start = find(after, b">>\nstream\n").unwrap() + b">>\nstream\n".len();
            let content = &after[start..start + length];
            assert!(after[start + length..].starts_with(b"\nendstream\nendobj"), "/Length {length} is exact");
            streams.push(content);
            rest = &after[start + length..];
        }
        streams
    }

    /// The decoded literal strings of a content stream, read by the PDF rules (escapes, nested parentheses).
    /// Panics on a `)` outside any string or a string left open.
    fn literal_strings(stream: &[u8]) -> Vec<Vec<u8>> {
        let mut strings = Vec::new();
        let mut bytes = stream.iter().copied();
        while let Some(byte) = bytes.next() {
            assert_ne!(byte, b')', "unbalanced ) in {}", String::from_utf8_lossy(stream));
            if byte != b'(' {
                continue;
            }
            let (mut text, mut depth) = (Vec::new(), 1);
            loop {
                match bytes.next().expect("string left open") {
                    b'\\' => text.push(bytes.next().expect("escape at the end")),
                    b'(' => {
                        depth += 1;
                        text.push(b'(');
                    }
                    b')' if depth == 1 => break,
                    b')' => {
                        depth -= 1;
                        text.push(b')');
                    }
                    other => text.push(other),
                }
            }
            strings.push(text);
        }
        strings
    }

    fn all_strings(pdf: &[u8]) -> Vec<Vec<u8>> {
        content_streams(pdf).into_iter().flat_map(literal_strings).collect()
    }

    fn page_count(pdf: &[u8]) -> usize {
        let at = find(pdf, b"/Count ").unwrap();
        number_at(&pdf[at + b"/Count ".len()..])
    }

    #[test]
    fn percent_drops_trailing_zeros() {
        for (basis_points, text) in [
            (2000, "20 %"),
            (550, "5.5 %"),
            (825, "8.25 %"),
            (0, "0 %"),
            (5, "0.05 %"),
            (1950, "19.5 %"),
            (10000, "100 %"),
        ] {
            assert_eq!(percent(basis_points), text, "{basis_points}");
        }
    }

    #[test]
    fn dates_read_like_10_jan_2026_and_a_half_open_period_ends_the_day_before() {
        assert_eq!(format_date(date("2026-01-10")), "10 Jan 2026");
        assert_eq!(format_span((date("2026-01-01"), date("2026-02-01"))), "1 Jan 2026 – 31 Jan 2026");
    }

    #[test]
    fn the_html_page_shows_the_bill_its_lines_taxes_and_totals() {
        let html = render_html(&sample());
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<meta charset=\"utf-8\">"));
        assert!(html.contains("<title>Bill B0000000042</title>"));
        assert!(html.contains("<h1>Bill B0000000042</h1>"));
        for expected in [
            "Zoë Müller",
            "acc-7",
            "cust-3",
            "1 Feb 2026",
            "15 Feb 2026",
            "1 Jan 2026 – 31 Jan 2026",
            "10 Jan 2026 – 31 Jan 2026",
            "Fibre 1G — Monthly",
            "Installation",
            "Ebook bundle",
            "Fibre 1G — unused days",
            "One-time",
            "35.48 EUR",
            "49.00 EUR",
            "-10.00 EUR",
            "-2.00 EUR",
            "20 %",
            "5.5 %",
            "74.48 EUR",
            "14.90 EUR",
            "0.55 EUR",
            "84.48 EUR",
            "15.45 EUR",
            "99.93 EUR",
            "89.93 EUR",
            "Remaining to pay",
        ] {
            assert!(html.contains(expected), "{expected} missing from the page");
        }
    }

    #[test]
    fn the_html_page_is_self_contained() {
        let html = render_html(&sample());
        for forbidden in ["<script", "src=", "href=", "http://", "https://", "<link"] {
            assert!(!html.contains(forbidden), "{forbidden} found");
        }
        assert!(html.contains("<style>"));
        assert!(html.trim_end().ends_with("</html>"));
    }

    #[test]
    fn hostile_text_is_escaped_in_the_html_page() {
        let mut doc = sample();
        doc.lines[0].description = "<script>alert(1)</script>".into();
        doc.account_name = "\"&'".into();
        doc.bill_no = "B<1>".into();
        let html = render_html(&doc);
        assert!(!html.contains("<script"));
        assert!(!html.contains("\"&'"));
        assert!(!html.contains("B<1>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("&quot;&amp;&#39;"));
        assert!(html.contains("<title>Bill B&lt;1&gt;</title>"));
    }

    #[test]
    fn an_off_cycle_bill_without_lines_says_so() {
        let mut doc = sample();
        doc.period = None;
        doc.lines.clear();
        doc.taxes.clear();
        let html = render_html(&doc);
        assert!(html.contains("None (off-cycle bill)"));
        assert!(html.contains("No charges"));
        assert!(html.contains("No tax"));
        let strings = all_strings(&render_pdf(&doc));
        assert!(strings.contains(&b"None (off-cycle bill)".to_vec()));
        assert!(strings.contains(&b"No charges".to_vec()));
    }

    #[test]
    fn amounts_use_the_currency_s_decimals() {
        let mut doc = sample();
        doc.currency = Currency::parse("JPY").unwrap();
        assert!(render_html(&doc).contains("3548 JPY"));
    }

    #[test]
    fn the_pdf_has_a_header_a_trailer_and_a_cross_reference_table_of_exact_offsets() {
        let pdf = render_pdf(&with_lines(200));
        assert!(pdf.starts_with(b"%PDF-1.4\n"));
        assert!(pdf.ends_with(b"%%EOF\n"));

        let startxref = find(&pdf, b"startxref\n").unwrap();
        let xref = number_at(&pdf[startxref + b"startxref\n".len()..]);
        assert!(pdf[xref..].starts_with(b"xref\n0 "));
        let section = &pdf[xref + b"xref\n0 ".len()..];
        let size = number_at(section);
        let entries = &section[section.iter().position(|b| *b == b'\n').unwrap() + 1..];
        assert_eq!(&entries[..20], b"0000000000 65535 f \n");
        for number in 1..size {
            let entry = &entries[number * 20..number * 20 + 20];
            assert!(entry.ends_with(b" 00000 n \n"), "entry {number} is 20 bytes");
            let offset = number_at(entry);
            let expected = format!("{number} 0 obj\n");
            assert!(pdf[offset..].starts_with(expected.as_bytes()), "object {number} at {offset}");
        }
        assert!(entries[size * 20..].starts_with(format!("trailer\n<< /Size {size} ").as_bytes()));
        assert_eq!(size, FIRST_PAGE_OBJECT + 2 * page_count(&pdf));
    }

    #[test]
    fn two_hundred_lines_fill_several_numbered_pages_and_every_line_is_printed() {
        let doc = with_lines(200);
        let pdf = render_pdf(&doc);
        let pages = page_count(&pdf);
        assert!(pages > 1, "{pages} page(s)");
        assert_eq!(count(&pdf, b"/Type /Page /Parent"), pages);
        assert_eq!(content_streams(&pdf).len(), pages);
        let strings = all_strings(&pdf);
        for line in &doc.lines {
            assert!(strings.contains(&encode_win_ansi(&line.description)), "{} missing", line.description);
        }
        for page in 1..=pages {
            assert!(strings.contains(&format!("Page {page} of {pages}").into_bytes()), "footer of page {page}");
        }
        assert!(strings.contains(&b"89.93 EUR".to_vec()), "the totals follow the lines");
    }

    #[test]
    fn a_short_bill_is_one_page() {
        let pdf = render_pdf(&sample());
        assert_eq!(page_count(&pdf), 1);
        assert!(all_strings(&pdf).contains(&b"Page 1 of 1".to_vec()));
    }

    #[test]
    fn parentheses_and_backslashes_are_escaped_so_every_string_reads_back_whole() {
        let mut doc = sample();
        doc.lines[0].description = "Fee (a) \\ b) (".into();
        let pdf = render_pdf(&doc);
        let stream = content_streams(&pdf)[0];
        assert!(find(stream, br"(Fee \(a\) \\ b\) \() Tj").is_some());
        let strings = literal_strings(stream);
        assert_eq!(strings.len(), count(stream, b" Tj "), "one string per text operator");
        assert!(strings.contains(&b"Fee (a) \\ b) (".to_vec()));
    }

    #[test]
    fn latin_1_and_dashes_encode_to_win_ansi_and_other_characters_to_a_question_mark() {
        assert_eq!(encode_win_ansi("— é ü € 日本"), b"\x97 \xE9 \xFC \x80 ??");
        let mut doc = sample();
        doc.lines[0].description = "Fibre — Café".into();
        let pdf = render_pdf(&doc);
        assert!(find(content_streams(&pdf)[0], b"(Fibre \x97 Caf\xE9) Tj").is_some());
    }

    #[test]
    fn amounts_are_right_aligned_on_their_column() {
        let pdf = render_pdf(&sample());
        let stream = content_streams(&pdf)[0];
        let x = CHARGE_COLUMNS[3].right - text_width(b"35.48 EUR", TEXT_SIZE);
        assert!(find(stream, format!("{x:.2} ").as_bytes()).is_some());
        assert!((text_width(b"0123456789", 1000.0) - 5560.0).abs() < 0.01);
    }

    #[test]
    fn long_text_wraps_inside_its_column() {
        let lines = wrap(b"Fibre 1G with static IP and premium support", TEXT_SIZE, 60.0);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|line| text_width(line, TEXT_SIZE) <= 60.0));
        assert_eq!(lines.join(&b' '), b"Fibre 1G with static IP and premium support");
        let pieces = wrap(&[b'W'; 40], TEXT_SIZE, 60.0);
        assert!(pieces.len() > 1 && pieces.iter().all(|piece| text_width(piece, TEXT_SIZE) <= 60.0));
    }
}

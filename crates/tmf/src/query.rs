//! TMF630 list queries, implemented once for every service (DESIGN.md §3).
//!
//! A list request (`GET …/productOffering?lifecycleStatus=Active,Launched&sort=-lastUpdate&limit=20`) is parsed
//! once into a [`ListQuery`]; its attribute filters then run in one of two places with the same meaning:
//! - in PostgreSQL, over the `tmf_resource` table: [`push_filters`] and [`push_order_by`] append to a
//!   `sqlx::QueryBuilder` nothing but static SQL fragments and `$n` placeholders (ADR 0006), the values and
//!   JSON paths travel as bound parameters;
//! - in memory, over a JSON document: [`matches`], used for `/hub` listener queries on events.
//!
//! Semantics, where TMF630 leaves room:
//! - `a.b.c=v` descends objects; a step that meets an array looks into each of its elements (one level), and
//!   the final value may be an array whose elements are compared (two levels). This is PostgreSQL's lax
//!   jsonpath mode, which the SQL uses and [`matches`] copies, so `productOfferingPrice.name=Monthly` matches
//!   an offering one of whose prices is named Monthly.
//! - A query value is text, the document may hold a string, number or boolean: a value is compared with each
//!   JSON reading it has — always the string, also the number when it is a JSON number (`20` matches `20` and
//!   `20.0`), also the boolean for `true`/`false` (equality only). Strings order by code point, numbers
//!   numerically; values of different JSON types never match.
//! - `lastUpdate` (top level) compares as a timestamp at microsecond precision, like its typed column; a value
//!   that is not RFC 3339 is a 400. Other date-times are strings and compare as text, which orders them right
//!   when they are written the way this server writes them. `id`, `name`, `version` and the status attribute
//!   compare as text.
//! - `,` separates OR'ed values before percent-decoding, so `%2C` is a comma inside a value.
//! - `.eq .gt .gte .lt .lte` (or `[gt]` …) are operators only as the last segment; the operators of other query
//!   languages (`.like`, `.ne`, `.in` …) are rejected rather than read as attribute names.
//!
//! SQL shapes: typed columns use `col = ANY($n)` / `col > ANY($n)`; any other equality is `doc @? $n::jsonpath`
//! (served by the GIN `jsonb_path_ops` index, arrays included); other comparisons `jsonb_path_exists(doc, …)`.
//! The jsonpath text is built here from validated attribute names and JSON-escaped literals and is bound as a
//! parameter, never spliced into the SQL.

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::{Number, Value};
use sqlx::{Postgres, QueryBuilder};
use std::cmp::Ordering;
use std::fmt;

/// Paging limits a resource documents (default and maximum page size).
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    pub default_limit: u32,
    pub max_limit: u32,
}

pub const DEFAULT_PAGING: Paging = Paging { default_limit: 100, max_limit: 1000 };

/// What a list request asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub offset: u32,
    pub limit: u32,
    /// `fields=`: the first-level attributes to return (see [`project`]); `None` returns whole resources.
    pub fields: Option<Vec<String>>,
    /// All must hold.
    pub filters: Vec<Filter>,
    /// In order of precedence; empty means the default order (newest first).
    pub sort: Vec<SortKey>,
}

/// One attribute filter: the attribute at `path` compares with `op` to at least one of `values`.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub path: Vec<String>,
    pub op: Op,
    /// OR'ed (comma-separated in the query).
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Gt,
    Gte,
    Lt,
    Lte,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub path: Vec<String>,
    pub descending: bool,
}

/// A malformed query: the message names the parameter; handlers answer 400 with it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(pub String);

/// How a resource's typed columns map to attribute names (`id`, `name`, `version` and `lastUpdate` always map).
#[derive(Debug, Clone, Copy)]
pub struct Columns {
    /// The attribute the `status` column holds, e.g. `Some("lifecycleStatus")`, `Some("status")`, `Some("state")`.
    pub status_attribute: Option<&'static str>,
}

// Limits: they keep a query's cost and its SQL bounded. Each is a 400 when exceeded.
pub const MAX_FILTERS: usize = 20;
pub const MAX_PATH_SEGMENTS: usize = 8;
pub const MAX_SEGMENT_CHARS: usize = 64;
pub const MAX_VALUE_BYTES: usize = 256;
pub const MAX_VALUES_PER_FILTER: usize = 50;
pub const MAX_SORT_KEYS: usize = 8;
pub const MAX_FIELDS: usize = 64;

/// Attributes `fields=` always keeps.
const ALWAYS_PROJECTED: [&str; 3] = ["id", "href", "@type"];

/// Operators of other query languages: as a last segment they are a 400, not an attribute name.
const UNSUPPORTED_OPERATORS: &str =
    "ne neq not like nlike ilike in nin notin regex contains startswith endswith exists between ge le isnull";

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Lt => "lt",
            Op::Lte => "lte",
        }
    }

    fn named(word: &str) -> Option<Op> {
        match word {
            "eq" => Some(Op::Eq),
            "gt" => Some(Op::Gt),
            "gte" => Some(Op::Gte),
            "lt" => Some(Op::Lt),
            "lte" => Some(Op::Lte),
            _ => None,
        }
    }

    /// Whether `document <op> query` holds, given how the document's value orders against the query's.
    fn holds(self, document_vs_query: Ordering) -> bool {
        match self {
            Op::Eq => document_vs_query.is_eq(),
            Op::Gt => document_vs_query.is_gt(),
            Op::Gte => document_vs_query.is_ge(),
            Op::Lt => document_vs_query.is_lt(),
            Op::Lte => document_vs_query.is_le(),
        }
    }

    fn sql(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Gt => ">",
            Op::Gte => ">=",
            Op::Lt => "<",
            Op::Lte => "<=",
        }
    }

    fn jsonpath(self) -> &'static str {
        match self {
            Op::Eq => "==",
            other => other.sql(),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------------------------

/// The parameters TMF630 reserves; every other parameter is an attribute filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reserved {
    Offset,
    Limit,
    Fields,
    Sort,
}

impl Reserved {
    fn of(name: &str) -> Option<Reserved> {
        match name {
            "offset" => Some(Reserved::Offset),
            "limit" => Some(Reserved::Limit),
            "fields" => Some(Reserved::Fields),
            "sort" => Some(Reserved::Sort),
            _ => None,
        }
    }
}

/// Parses a raw query string (`req.query_string()`, percent-encoded) into a ListQuery.
pub fn parse_list_query(raw: &str, paging: Paging) -> Result<ListQuery, QueryError> {
    let mut query =
        ListQuery { offset: 0, limit: paging.default_limit, fields: None, filters: Vec::new(), sort: Vec::new() };
    let mut seen: Vec<Reserved> = Vec::new();
    for (raw_name, raw_value) in parameters(raw) {
        let name = decode_name(raw_name)?;
        let Some(reserved) = Reserved::of(&name) else {
            push_filter(&mut query.filters, &name, raw_value)?;
            continue;
        };
        if seen.contains(&reserved) {
            return Err(error(&name, "given more than once"));
        }
        seen.push(reserved);
        match reserved {
            Reserved::Offset => {
                query.offset = parse_count(&name, raw_value)?
                    .ok_or_else(|| error(&name, format_args!("must be a whole number from 0 to {}", u32::MAX)))?;
            }
            Reserved::Limit => {
                query.limit =
                    parse_count(&name, raw_value)?.filter(|limit| (1..=paging.max_limit).contains(limit)).ok_or_else(
                        || error(&name, format_args!("must be a whole number from 1 to {}", paging.max_limit)),
                    )?;
            }
            Reserved::Fields => query.fields = Some(parse_fields(raw_value)?),
            Reserved::Sort => query.sort = parse_sort(raw_value)?,
        }
    }
    Ok(query)
}

/// Parses only attribute filters (no offset/limit/fields/sort), e.g. a /hub listener's `query`
/// like "eventType=ProductOfferingCreateEvent&event.productOffering.lifecycleStatus=Active".
///
/// The reserved parameters are a 400 here: a listener query that asks for paging would otherwise silently
/// filter on an attribute named `limit`.
pub fn parse_filters(raw: &str) -> Result<Vec<Filter>, QueryError> {
    let mut filters = Vec::new();
    for (raw_name, raw_value) in parameters(raw) {
        let name = decode_name(raw_name)?;
        if Reserved::of(&name).is_some() {
            return Err(error(&name, "not allowed here, only attribute filters are"));
        }
        push_filter(&mut filters, &name, raw_value)?;
    }
    Ok(filters)
}

/// The `name=value` pairs of a query string, still percent-encoded; a pair without `=` has an empty value.
fn parameters(raw: &str) -> impl Iterator<Item = (&str, &str)> {
    let raw = raw.strip_prefix('?').unwrap_or(raw);
    raw.split('&').filter(|pair| !pair.is_empty()).map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

fn decode_name(raw_name: &str) -> Result<String, QueryError> {
    let name = percent_decode(raw_name).map_err(|problem| error(raw_name, problem))?;
    if name.is_empty() {
        return Err(QueryError("a query parameter has no name".into()));
    }
    Ok(name)
}

/// Parses one attribute filter and appends it, enforcing [`MAX_FILTERS`].
fn push_filter(filters: &mut Vec<Filter>, name: &str, raw_value: &str) -> Result<(), QueryError> {
    if filters.len() == MAX_FILTERS {
        return Err(error(name, format_args!("one attribute filter too many (at most {MAX_FILTERS})")));
    }
    let (path, op) = parse_filter_name(name)?;
    let values = split_list(name, raw_value, MAX_VALUES_PER_FILTER, "comma-separated values")?;
    let filter = Filter { path, op, values };
    check_filter(&filter, name)?;
    filters.push(filter);
    Ok(())
}

/// `a.b.gt`, `a.b[gt]` or `a.b` (equality) into the attribute path and the operator.
fn parse_filter_name(name: &str) -> Result<(Vec<String>, Op), QueryError> {
    if let Some((base, word)) = name.strip_suffix(']').and_then(|rest| rest.rsplit_once('[')) {
        let op = Op::named(word).ok_or_else(|| unknown_operator(name, word))?;
        return Ok((parse_path(name, base)?, op));
    }
    if let Some((base, last)) = name.rsplit_once('.') {
        if let Some(op) = Op::named(last) {
            return Ok((parse_path(name, base)?, op));
        }
        let lower = last.to_ascii_lowercase();
        if UNSUPPORTED_OPERATORS.split(' ').any(|word| word == lower) || Op::named(&lower).is_some() {
            return Err(unknown_operator(name, last));
        }
    }
    Ok((parse_path(name, name)?, Op::Eq))
}

fn unknown_operator(name: &str, word: &str) -> QueryError {
    error(name, format_args!("unknown operator {} (supported: eq, gt, gte, lt, lte)", Shown(word)))
}

/// A dot path of attribute names; `param` is the parameter it came from, for the message.
fn parse_path(param: &str, dotted: &str) -> Result<Vec<String>, QueryError> {
    let path: Vec<String> = dotted.split('.').map(str::to_owned).collect();
    check_path(param, &path)?;
    Ok(path)
}

fn check_path(param: &str, path: &[String]) -> Result<(), QueryError> {
    if path.is_empty() || path.len() > MAX_PATH_SEGMENTS {
        return Err(error(param, format_args!("a path has 1 to {MAX_PATH_SEGMENTS} attribute names")));
    }
    match path.iter().find(|segment| !is_attribute_name(segment)) {
        Some(bad) => Err(error(
            param,
            format_args!(
                "{} is not an attribute name (letters, digits, '_' and '@', starting with a letter or '@', at most \
                 {MAX_SEGMENT_CHARS} characters)",
                Shown(bad)
            ),
        )),
        None => Ok(()),
    }
}

/// `^[A-Za-z@][A-Za-z0-9_@]{0,63}$`: TMF attribute names, `@type` and friends included.
fn is_attribute_name(segment: &str) -> bool {
    let mut chars = segment.chars();
    chars.next().is_some_and(|first| first.is_ascii_alphabetic() || first == '@')
        && segment.len() <= MAX_SEGMENT_CHARS
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '@')
}

/// The rules a filter obeys however it was made (parsed here, or built by a caller): [`push_filters`] checks
/// them again so a hand-built filter cannot reach the database unchecked.
fn check_filter(filter: &Filter, param: &str) -> Result<(), QueryError> {
    check_path(param, &filter.path)?;
    if filter.values.is_empty() || filter.values.len() > MAX_VALUES_PER_FILTER {
        return Err(error(param, format_args!("1 to {MAX_VALUES_PER_FILTER} comma-separated values allowed")));
    }
    for value in &filter.values {
        check_value(param, value)?;
        if is_last_update(&filter.path) && parse_timestamp(value).is_none() {
            return Err(error(
                param,
                format_args!(
                    "{} is not an RFC 3339 date-time such as 2026-11-26T10:00:00Z (send '+' as %2B)",
                    Shown(value)
                ),
            ));
        }
    }
    Ok(())
}

fn check_value(param: &str, value: &str) -> Result<(), QueryError> {
    if value.is_empty() {
        Err(error(param, "empty value"))
    } else if value.len() > MAX_VALUE_BYTES {
        Err(error(param, format_args!("a value is longer than {MAX_VALUE_BYTES} bytes")))
    } else if value.contains('\0') {
        // PostgreSQL text cannot hold NUL: let it be a 400 here rather than a 500 there.
        Err(error(param, "a value contains the NUL character"))
    } else {
        Ok(())
    }
}

/// Splits a raw comma list, then percent-decodes each item: an encoded comma (`%2C`) stays inside its item.
fn split_list(param: &str, raw: &str, max_items: usize, what: &str) -> Result<Vec<String>, QueryError> {
    let mut items = Vec::new();
    for raw_item in raw.split(',') {
        if items.len() == max_items {
            return Err(error(param, format_args!("at most {max_items} {what} allowed")));
        }
        // Decoding never shrinks text below a third: refuse a huge item before decoding it.
        if raw_item.len() > 3 * MAX_VALUE_BYTES {
            return Err(error(param, format_args!("a value is longer than {MAX_VALUE_BYTES} bytes")));
        }
        let item = percent_decode(raw_item).map_err(|problem| error(param, problem))?;
        check_value(param, &item)?;
        items.push(item);
    }
    Ok(items)
}

/// `offset` and `limit`: ASCII digits only (no sign, no spaces), within `u32`; `None` when not so.
fn parse_count(param: &str, raw: &str) -> Result<Option<u32>, QueryError> {
    let text = percent_decode(raw).map_err(|problem| error(param, problem))?;
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    Ok(text.parse().ok())
}

fn parse_fields(raw: &str) -> Result<Vec<String>, QueryError> {
    let mut fields: Vec<String> = Vec::new();
    for field in split_list("fields", raw, MAX_FIELDS, "attribute names")? {
        if !is_attribute_name(&field) {
            return Err(error("fields", format_args!("{} is not a first-level attribute name", Shown(&field))));
        }
        if !fields.contains(&field) {
            fields.push(field);
        }
    }
    Ok(fields)
}

fn parse_sort(raw: &str) -> Result<Vec<SortKey>, QueryError> {
    split_list("sort", raw, MAX_SORT_KEYS, "sort keys")?
        .into_iter()
        .map(|item| {
            // `-` descends; `+` ascends explicitly, also when sent unencoded (and so decoded as a space).
            let (descending, dotted) = match item.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, item.strip_prefix(['+', ' ']).unwrap_or(&item)),
            };
            Ok(SortKey { path: parse_path("sort", dotted)?, descending })
        })
        .collect()
}

/// `application/x-www-form-urlencoded` decoding: `%XX` escapes and `+` for a space; the result must be UTF-8.
fn percent_decode(raw: &str) -> Result<String, &'static str> {
    fn hex(byte: Option<&u8>) -> Option<u8> {
        char::from(*byte?).to_digit(16).map(|digit| digit as u8)
    }
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => decoded.push(b' '),
            b'%' => {
                let (Some(high), Some(low)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) else {
                    return Err("malformed percent-encoding (expected %XX with two hex digits)");
                };
                decoded.push(high << 4 | low);
                i += 2;
            }
            other => decoded.push(other),
        }
        i += 1;
    }
    String::from_utf8(decoded).map_err(|_| "not UTF-8 once percent-decoded")
}

fn error(param: &str, problem: impl fmt::Display) -> QueryError {
    QueryError(format!("query parameter {}: {problem}", Shown(param)))
}

/// User text inside a message: quoted, control characters escaped, cut at 64 characters.
struct Shown<'a>(&'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX_CHARS: usize = 64;
        match self.0.char_indices().nth(MAX_CHARS) {
            Some((cut, _)) => write!(f, "{:?}…", &self.0[..cut]),
            None => write!(f, "{:?}", self.0),
        }
    }
}

/// How a filter or sort key is written in a query, for messages about hand-built ones.
fn display_name(path: &[String], op: Op) -> String {
    let dotted = path.join(".");
    match op {
        Op::Eq => dotted,
        other => format!("{dotted}.{}", other.name()),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Typing: the JSON values a query value may stand for
// ---------------------------------------------------------------------------------------------------------------

/// A query value and the JSON values it may mean: always the string, also a number or a boolean when it spells
/// one. Both the SQL and [`matches`] compare through this, so they agree.
struct QueryValue<'a> {
    text: &'a str,
    number: Option<Number>,
    boolean: Option<bool>,
}

impl<'a> QueryValue<'a> {
    fn new(text: &'a str) -> Self {
        let boolean = match text {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        };
        Self { text, number: json_number(text), boolean }
    }
}

/// A number exactly when the text is a JSON number (no spaces, no leading zeros, finite): then the same text
/// is also a valid jsonpath numeric literal.
fn json_number(text: &str) -> Option<Number> {
    let starts = text.starts_with(|c: char| c == '-' || c.is_ascii_digit());
    let ends = text.ends_with(|c: char| c.is_ascii_digit());
    if starts && ends { serde_json::from_str(text).ok() } else { None }
}

fn is_last_update(path: &[String]) -> bool {
    matches!(path, [only] if only == "lastUpdate")
}

/// RFC 3339 at the database's precision (microseconds), so an in-memory comparison equals the column's.
fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc).trunc_subsecs(6))
}

// ---------------------------------------------------------------------------------------------------------------
// SQL
// ---------------------------------------------------------------------------------------------------------------

/// Appends a static SQL fragment: the only way text enters the builder here, so no input can.
fn sql(builder: &mut QueryBuilder<Postgres>, fragment: &'static str) {
    builder.push(fragment);
}

/// Where a single-attribute path lives in the resource table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    /// A text column (`id`, `name`, `version`, `status`).
    Text(&'static str),
    LastUpdate,
}

impl Column {
    fn of(path: &[String], columns: &Columns) -> Option<Column> {
        let [attribute] = path else { return None };
        match attribute.as_str() {
            "id" => Some(Column::Text("id")),
            "name" => Some(Column::Text("name")),
            "version" => Some(Column::Text("version")),
            "lastUpdate" => Some(Column::LastUpdate),
            other if columns.status_attribute == Some(other) => Some(Column::Text("status")),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Column::Text(name) => name,
            Column::LastUpdate => "last_update",
        }
    }
}

/// Appends ` AND <predicate>` for each filter to a builder whose SQL already ends in a WHERE clause
/// (the caller has written `SELECT … FROM tmf_resource WHERE kind = $1`).
///
/// Every filter is checked first, so on error nothing has been appended. Each filter binds one parameter.
pub fn push_filters(
    builder: &mut QueryBuilder<Postgres>,
    filters: &[Filter],
    columns: &Columns,
) -> Result<(), QueryError> {
    if filters.len() > MAX_FILTERS {
        return Err(QueryError(format!("too many attribute filters (at most {MAX_FILTERS})")));
    }
    for filter in filters {
        check_filter(filter, &display_name(&filter.path, filter.op))?;
    }
    for filter in filters {
        sql(builder, " AND ");
        match Column::of(&filter.path, columns) {
            Some(column) => {
                sql(builder, column.name());
                if let (Column::Text(_), Op::Gt | Op::Gte | Op::Lt | Op::Lte) = (column, filter.op) {
                    // Byte order, like jsonpath and `matches`, whatever the database's collation.
                    sql(builder, " COLLATE \"C\"");
                }
                sql(builder, " ");
                sql(builder, filter.op.sql());
                sql(builder, " ANY(");
                if column == Column::LastUpdate {
                    // Checked above: every value is a timestamp.
                    let instants: Vec<DateTime<Utc>> =
                        filter.values.iter().filter_map(|v| parse_timestamp(v)).collect();
                    builder.push_bind(instants);
                } else {
                    builder.push_bind(filter.values.clone());
                }
                sql(builder, ")");
            }
            None if filter.op == Op::Eq => {
                // `@?` is what the GIN jsonb_path_ops index serves.
                sql(builder, "doc @? ");
                builder.push_bind(jsonpath(filter));
                sql(builder, "::jsonpath");
            }
            None => {
                // The index cannot serve ranges; the function keeps the planner from trying.
                sql(builder, "jsonb_path_exists(doc, ");
                builder.push_bind(jsonpath(filter));
                sql(builder, "::jsonpath, '{}'::jsonb, true)");
            }
        }
    }
    Ok(())
}

/// `$."a"."b" ? (@ == "x" || @ == 20 || …)`: the path from validated attribute names, each value as every JSON
/// literal it may mean, JSON-escaped (which jsonpath string literals accept).
fn jsonpath(filter: &Filter) -> String {
    let mut path = String::from("$");
    for segment in &filter.path {
        path.push('.');
        path.push_str(&Value::from(segment.as_str()).to_string());
    }
    path.push_str(" ? (");
    let mut first = true;
    let mut compare = |literal: &str| {
        if !first {
            path.push_str(" || ");
        }
        first = false;
        path.push_str("@ ");
        path.push_str(filter.op.jsonpath());
        path.push(' ');
        path.push_str(literal);
    };
    for value in &filter.values {
        let typed = QueryValue::new(value);
        compare(&Value::from(typed.text).to_string());
        if typed.number.is_some() {
            compare(typed.text);
        }
        if let (Some(boolean), Op::Eq) = (typed.boolean, filter.op) {
            compare(if boolean { "true" } else { "false" });
        }
    }
    path.push(')');
    path
}

/// What a sort key orders by.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SortTarget<'a> {
    Column(Column),
    Document(&'a [String]),
}

/// Appends ` ORDER BY …, id` (default when sort is empty: `last_update DESC, id`).
///
/// Typed attributes sort by their column, others by `doc #> $n::text[]` (jsonb order; a missing attribute is
/// NULL, last ascending and first descending, as PostgreSQL does). A key given twice counts once, in its first
/// direction; `id` ends the list unless already in it, so pages are stable.
pub fn push_order_by(
    builder: &mut QueryBuilder<Postgres>,
    sort: &[SortKey],
    columns: &Columns,
) -> Result<(), QueryError> {
    if sort.len() > MAX_SORT_KEYS {
        return Err(error("sort", format_args!("at most {MAX_SORT_KEYS} sort keys allowed")));
    }
    let mut keys: Vec<(SortTarget, bool)> = Vec::new();
    for key in sort {
        check_path("sort", &key.path)?;
        let target = match Column::of(&key.path, columns) {
            Some(column) => SortTarget::Column(column),
            None => SortTarget::Document(&key.path),
        };
        if !keys.iter().any(|(seen, _)| *seen == target) {
            keys.push((target, key.descending));
        }
    }
    if keys.is_empty() {
        keys.push((SortTarget::Column(Column::LastUpdate), true));
    }
    let id = SortTarget::Column(Column::Text("id"));
    if !keys.iter().any(|(target, _)| *target == id) {
        keys.push((id, false));
    }

    sql(builder, " ORDER BY ");
    for (i, (target, descending)) in keys.into_iter().enumerate() {
        if i > 0 {
            sql(builder, ", ");
        }
        match target {
            SortTarget::Column(column) => sql(builder, column.name()),
            SortTarget::Document(path) => {
                sql(builder, "doc #> ");
                builder.push_bind(path.to_vec());
                sql(builder, "::text[]");
            }
        }
        if descending {
            sql(builder, " DESC");
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// In memory
// ---------------------------------------------------------------------------------------------------------------

/// In-memory evaluation of the same filters against a JSON document (same semantics as the SQL).
///
/// A filter that could not have been compiled (a `lastUpdate` value that is not a timestamp) matches nothing.
pub fn matches(document: &Value, filters: &[Filter]) -> bool {
    filters.iter().all(|filter| filter_matches(document, filter))
}

fn filter_matches(document: &Value, filter: &Filter) -> bool {
    if is_last_update(&filter.path) {
        let Some(stored) = document.get("lastUpdate").and_then(Value::as_str).and_then(parse_timestamp) else {
            return false;
        };
        return filter
            .values
            .iter()
            .filter_map(|value| parse_timestamp(value))
            .any(|wanted| filter.op.holds(stored.cmp(&wanted)));
    }
    let candidates = leaf_values(document, &filter.path);
    filter
        .values
        .iter()
        .map(|value| QueryValue::new(value))
        .any(|wanted| candidates.iter().any(|candidate| compares(candidate, &wanted, filter.op)))
}

/// The scalars a path reaches, as lax jsonpath sees them: each member step looks into the elements of an array
/// it meets (one level), and the value reached is compared element-wise down to two levels of arrays.
fn leaf_values<'a>(document: &'a Value, path: &[String]) -> Vec<&'a Value> {
    let mut items = vec![document];
    for key in path {
        items = items.into_iter().flat_map(unwrap_array).filter_map(|item| item.get(key.as_str())).collect();
    }
    // The filter step unwraps one level, the comparison another.
    items.into_iter().flat_map(unwrap_array).flat_map(unwrap_array).collect()
}

/// One level of lax jsonpath's array unwrapping: an array's elements, or the value itself.
fn unwrap_array(item: &Value) -> &[Value] {
    match item {
        Value::Array(elements) => elements,
        other => std::slice::from_ref(other),
    }
}

/// `document <op> wanted` for one scalar, through the JSON readings of the query value.
fn compares(document: &Value, wanted: &QueryValue, op: Op) -> bool {
    match document {
        Value::String(text) => op.holds(text.as_str().cmp(wanted.text)),
        Value::Number(number) => {
            wanted.number.as_ref().and_then(|w| compare_numbers(number, w)).is_some_and(|order| op.holds(order))
        }
        Value::Bool(boolean) => op == Op::Eq && wanted.boolean == Some(*boolean),
        _ => false,
    }
}

/// Integers exactly, anything else as f64 (PostgreSQL compares `numeric` exactly; they differ only beyond
/// f64's precision).
fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    fn integer(n: &Number) -> Option<i128> {
        n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from))
    }
    match (integer(a), integer(b)) {
        (Some(a), Some(b)) => Some(a.cmp(&b)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Projection
// ---------------------------------------------------------------------------------------------------------------

/// `fields=` projection: only the named first-level attributes plus id, href, @type (when present).
///
/// Names the document does not have are simply absent; a document that is not an object is returned as is.
pub fn project(document: Value, fields: &[String]) -> Value {
    let Value::Object(mut attributes) = document else { return document };
    attributes.retain(|name, _| ALWAYS_PROJECTED.contains(&name.as_str()) || fields.iter().any(|f| f == name));
    Value::Object(attributes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;
    use sqlx::{Arguments as _, Connection as _, Execute as _};

    const COLUMNS: Columns = Columns { status_attribute: Some("lifecycleStatus") };

    fn filter(dotted: &str, op: Op, values: &[&str]) -> Filter {
        Filter {
            path: dotted.split('.').map(str::to_owned).collect(),
            op,
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    fn sort_key(dotted: &str, descending: bool) -> SortKey {
        SortKey { path: dotted.split('.').map(str::to_owned).collect(), descending }
    }

    fn defaults() -> ListQuery {
        ListQuery { offset: 0, limit: 100, fields: None, filters: vec![], sort: vec![] }
    }

    fn with_filters(filters: Vec<Filter>) -> ListQuery {
        ListQuery { filters, ..defaults() }
    }

    /// Percent-encodes every byte but the unreserved ones, as a careful client would.
    fn encode(text: &str) -> String {
        text.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }

    fn many_filters(count: usize) -> String {
        (0..count).map(|i| format!("a{i}=x")).collect::<Vec<_>>().join("&")
    }

    #[test]
    fn each_well_formed_query_parses_to_its_list_query() {
        let t1 = "2026-11-26T10:00:00Z";
        let cases: Vec<(&str, String, ListQuery)> = vec![
            ("empty query gives the paging defaults", String::new(), defaults()),
            ("a leading question mark is ignored", "?limit=5".into(), ListQuery { limit: 5, ..defaults() }),
            ("offset and limit", "offset=20&limit=10".into(), ListQuery { offset: 20, limit: 10, ..defaults() }),
            ("limit may be the maximum", "limit=1000".into(), ListQuery { limit: 1000, ..defaults() }),
            ("offset may be u32::MAX", "offset=4294967295".into(), ListQuery { offset: u32::MAX, ..defaults() }),
            (
                "fields is a comma list, duplicates dropped",
                "fields=name,lifecycleStatus,name,%40type".into(),
                ListQuery { fields: Some(vec!["name".into(), "lifecycleStatus".into(), "@type".into()]), ..defaults() },
            ),
            (
                "sort: minus means descending, dot paths allowed",
                "sort=name,-lastUpdate,-validFor.startDateTime".into(),
                ListQuery {
                    sort: vec![
                        sort_key("name", false),
                        sort_key("lastUpdate", true),
                        sort_key("validFor.startDateTime", true),
                    ],
                    ..defaults()
                },
            ),
            (
                "sort: plus, encoded or not, means ascending",
                "sort=+name,%2Bid".into(),
                ListQuery { sort: vec![sort_key("name", false), sort_key("id", false)], ..defaults() },
            ),
            ("offset and limit are percent-decoded too", "offset=%32".into(), ListQuery { offset: 2, ..defaults() }),
            (
                "an attribute filter is equality",
                "lifecycleStatus=Active".into(),
                with_filters(vec![filter("lifecycleStatus", Op::Eq, &["Active"])]),
            ),
            (
                "dot notation gives a path",
                "productOfferingPrice.price.value=20".into(),
                with_filters(vec![filter("productOfferingPrice.price.value", Op::Eq, &["20"])]),
            ),
            (
                "a comma separates OR'ed values",
                "lifecycleStatus=Active,Launched".into(),
                with_filters(vec![filter("lifecycleStatus", Op::Eq, &["Active", "Launched"])]),
            ),
            (
                "a repeated parameter is two filters (AND)",
                "name=a&name=b".into(),
                with_filters(vec![filter("name", Op::Eq, &["a"]), filter("name", Op::Eq, &["b"])]),
            ),
            (
                "every operator suffix",
                format!("lastUpdate.gt={t1}&lastUpdate.gte={t1}&price.value.lt=20&price.value.lte=20&name.eq=x"),
                with_filters(vec![
                    filter("lastUpdate", Op::Gt, &[t1]),
                    filter("lastUpdate", Op::Gte, &[t1]),
                    filter("price.value", Op::Lt, &["20"]),
                    filter("price.value", Op::Lte, &["20"]),
                    filter("name", Op::Eq, &["x"]),
                ]),
            ),
            (
                "the bracket form of operators, encoded or not",
                format!("lastUpdate[gt]={t1}&price.value%5Blte%5D=3"),
                with_filters(vec![filter("lastUpdate", Op::Gt, &[t1]), filter("price.value", Op::Lte, &["3"])]),
            ),
            (
                "names and values are percent-decoded, plus is a space",
                "name=Fibre+1G%21&%40type=Product%20Offering".into(),
                with_filters(vec![
                    filter("name", Op::Eq, &["Fibre 1G!"]),
                    filter("@type", Op::Eq, &["Product Offering"]),
                ]),
            ),
            (
                "an encoded comma stays inside its value",
                "name=a%2Cb,c".into(),
                with_filters(vec![filter("name", Op::Eq, &["a,b", "c"])]),
            ),
            (
                "SQL-looking text is a perfectly good value",
                "name=' OR 1=1--&description=%22)%3B DROP TABLE tmf_resource%3B--".into(),
                with_filters(vec![
                    filter("name", Op::Eq, &["' OR 1=1--"]),
                    filter("description", Op::Eq, &["\"); DROP TABLE tmf_resource;--"]),
                ]),
            ),
            ("a value may contain '='", "name=a=b".into(), with_filters(vec![filter("name", Op::Eq, &["a=b"])])),
            (
                "an unknown last segment is an attribute name, not an operator",
                "name.foo=x".into(),
                with_filters(vec![filter("name.foo", Op::Eq, &["x"])]),
            ),
            (
                "operators are operators only as the last segment",
                "gt.value.gt=1".into(),
                with_filters(vec![filter("gt.value", Op::Gt, &["1"])]),
            ),
            (
                "a reserved word with an operator is an attribute filter",
                "limit.gt=5".into(),
                with_filters(vec![filter("limit", Op::Gt, &["5"])]),
            ),
            ("empty pairs are skipped", "&&name=x&".into(), with_filters(vec![filter("name", Op::Eq, &["x"])])),
            (
                "a timestamp offset sent as %2B",
                "lastUpdate=2026-11-26T11:00:00%2B01:00".into(),
                with_filters(vec![filter("lastUpdate", Op::Eq, &["2026-11-26T11:00:00+01:00"])]),
            ),
            (
                "the longest path and value allowed",
                format!("a.b.c.d.e.f.g.h={}", "v".repeat(256)),
                with_filters(vec![filter("a.b.c.d.e.f.g.h", Op::Eq, &[&"v".repeat(256)])]),
            ),
            ("as many filters as allowed", many_filters(20), with_filters(parse_filters(&many_filters(20)).unwrap())),
        ];
        for (case, raw, expected) in cases {
            assert_eq!(parse_list_query(&raw, DEFAULT_PAGING), Ok(expected), "case: {case}");
        }
        assert_eq!(parse_filters(&many_filters(20)).unwrap().len(), 20);
    }

    #[test]
    fn each_malformed_query_is_an_error_naming_its_parameter() {
        let cases: Vec<(&str, String, &str)> = vec![
            ("limit zero", "limit=0".into(), r#""limit""#),
            ("limit not a number", "limit=abc".into(), r#""limit""#),
            ("limit above the maximum", "limit=1001".into(), r#""limit""#),
            ("limit negative", "limit=-1".into(), r#""limit""#),
            ("limit empty", "limit=".into(), r#""limit""#),
            ("offset negative", "offset=-1".into(), r#""offset""#),
            ("offset with a sign", "offset=%2B5".into(), r#""offset""#),
            ("offset beyond u32", "offset=4294967296".into(), r#""offset""#),
            ("offset malformed escape", "offset=%G1".into(), r#""offset": malformed percent-encoding"#),
            ("a reserved parameter twice", "limit=1&limit=2".into(), r#""limit": given more than once"#),
            ("an empty value", "name=".into(), r#""name": empty value"#),
            ("a parameter without '='", "name".into(), r#""name": empty value"#),
            ("an empty OR value", "name=a,,b".into(), r#""name": empty value"#),
            ("a parameter without a name", "=x".into(), "no name"),
            ("an unknown operator", "name.like=x".into(), r#""name.like": unknown operator "like""#),
            ("an upper-case operator", "lastUpdate.GT=x".into(), r#"unknown operator "GT""#),
            ("an unknown bracket operator", "name[ne]=x".into(), r#"unknown operator "ne""#),
            ("an empty segment", "a..b=x".into(), r#""a..b""#),
            ("a segment starting with a digit", "1abc=x".into(), r#""1abc""#),
            ("a space in a name", "na%20me=x".into(), r#""na me""#),
            ("an SQL-looking name", "name'--=x".into(), r#""name'--""#),
            ("nine segments", "a.b.c.d.e.f.g.h.i=x".into(), "1 to 8 attribute names"),
            ("a 65-character segment", format!("{}=x", "a".repeat(65)), "is not an attribute name"),
            ("a NUL in a value", "name=%00".into(), r#""name": a value contains the NUL character"#),
            ("a NUL in a name", "na%00me=x".into(), r#""na\0me""#),
            ("a malformed escape", "name=%zz".into(), r#""name": malformed percent-encoding"#),
            ("a truncated escape", "name=abc%4".into(), r#""name": malformed percent-encoding"#),
            ("an escape that is not UTF-8", "name=%E9".into(), r#""name": not UTF-8"#),
            ("a 10 KB value", format!("name={}", "x".repeat(10 * 1024)), r#""name": a value is longer than 256"#),
            ("a 257-byte value", format!("name={}", "%41".repeat(257)), r#""name": a value is longer than 256"#),
            ("51 OR values", format!("name={}", ["x"; 51].join(",")), r#""name": at most 50 comma-separated values"#),
            ("21 filters", many_filters(21), r#""a20": one attribute filter too many"#),
            ("100 filters", many_filters(100), r#""a20": one attribute filter too many"#),
            ("lastUpdate not a timestamp", "lastUpdate.gt=yesterday".into(), r#""lastUpdate.gt""#),
            ("lastUpdate with an unencoded '+'", "lastUpdate=2026-11-26T11:00:00+01:00".into(), "%2B"),
            ("fields with a dot path", "fields=a.b".into(), r#""fields""#),
            ("fields empty", "fields=".into(), r#""fields": empty value"#),
            ("too many fields", format!("fields={}", ["a"; 65].join(",")), r#""fields": at most 64"#),
            ("sort by a bare minus", "sort=-".into(), r#""sort""#),
            ("sort with an empty key", "sort=name,,id".into(), r#""sort": empty value"#),
            ("sort by a double minus", "sort=--name".into(), r#""sort""#),
            ("too many sort keys", format!("sort={}", ["a"; 9].join(",")), r#""sort": at most 8"#),
        ];
        for (case, raw, expected) in cases {
            match parse_list_query(&raw, DEFAULT_PAGING) {
                Err(QueryError(message)) => {
                    assert!(message.contains(expected), "case: {case}: message {message:?} lacks {expected:?}");
                    assert!(message.len() < 400, "case: {case}: the message echoes too much: {message}");
                }
                Ok(query) => panic!("case: {case}: {raw:?} parsed as {query:?}"),
            }
        }
    }

    #[test]
    fn paging_bounds_follow_the_resource() {
        let paging = Paging { default_limit: 20, max_limit: 50 };
        assert_eq!(parse_list_query("", paging).unwrap().limit, 20);
        assert_eq!(parse_list_query("limit=50", paging).unwrap().limit, 50);
        assert!(parse_list_query("limit=51", paging).unwrap_err().0.contains("from 1 to 50"));
    }

    #[test]
    fn listener_queries_hold_attribute_filters_only() {
        let filters =
            parse_filters("eventType=ProductOfferingCreateEvent&event.productOffering.lifecycleStatus=Active").unwrap();
        assert_eq!(
            filters,
            vec![
                filter("eventType", Op::Eq, &["ProductOfferingCreateEvent"]),
                filter("event.productOffering.lifecycleStatus", Op::Eq, &["Active"]),
            ]
        );
        assert_eq!(parse_filters(""), Ok(vec![]));
        for reserved in ["limit=5", "offset=1", "fields=name", "sort=name"] {
            let message = parse_filters(reserved).unwrap_err().0;
            assert!(message.contains("only attribute filters"), "{reserved}: {message}");
        }
        assert!(parse_filters(&many_filters(21)).is_err());
    }

    fn offering() -> Value {
        json!({
            "id": "po-1",
            "href": "/tmf-api/productCatalogManagement/v4/productOffering/po-1",
            "name": "Fibre 1G",
            "lifecycleStatus": "Active",
            "version": "1.0",
            "lastUpdate": "2026-11-26T10:00:00.123456Z",
            "isBundle": false,
            "productOfferingPrice": [
                {"id": "p1", "name": "Monthly", "price": {"value": 20.0, "unit": "EUR"}},
                {"id": "p2", "name": "Setup", "price": {"value": 49, "unit": "EUR"}}
            ],
            "tags": ["fibre", "home"],
            "matrix": [["a", "b"]],
            "deep": [[{"x": "y"}]],
            "validFor": {"startDateTime": "2026-01-01T00:00:00Z"},
            "@type": "ProductOffering"
        })
    }

    #[test]
    fn matches_follows_tmf_semantics_on_a_sample_offering() {
        let cases: &[(&str, &str, bool)] = &[
            ("no filters match everything", "", true),
            ("top-level string", "name=Fibre+1G", true),
            ("strings are case-sensitive", "name=fibre+1g", false),
            ("comma is OR", "lifecycleStatus=Retired,Active", true),
            ("AND of two filters, one failing", "name=Fibre+1G&lifecycleStatus=Retired", false),
            ("dot path through an array: any element", "productOfferingPrice.name=Monthly", true),
            ("dot path through an array: no element", "productOfferingPrice.name=Yearly", false),
            (
                "AND may hold on different elements",
                "productOfferingPrice.name=Monthly&productOfferingPrice.id=p2",
                true,
            ),
            ("a number equals its integer spelling", "productOfferingPrice.price.value=20", true),
            ("an integer equals its decimal spelling", "productOfferingPrice.price.value=49.0", true),
            ("numbers compare numerically", "productOfferingPrice.price.value=21", false),
            ("gt on numbers, across the array", "productOfferingPrice.price.value.gt=40", true),
            ("gt is strict", "productOfferingPrice.price.value.gt=49", false),
            ("gte includes equality", "productOfferingPrice.price.value.gte=49", true),
            ("numbers are not compared as text", "productOfferingPrice.price.value.lt=3", false),
            ("a boolean matches false", "isBundle=false", true),
            ("a boolean does not match true", "isBundle=true", false),
            ("a boolean is not a number", "isBundle=0", false),
            ("a boolean has no order", "isBundle.lt=true", false),
            ("an array of strings matches any element", "tags=home", true),
            ("an array of arrays is looked into at the end", "matrix=b", true),
            ("arrays of arrays are not crossed mid-path (lax jsonpath)", "deep.x=y", false),
            ("lastUpdate compares as a timestamp, not as text", "lastUpdate.gt=2026-11-26T10:00:00Z", true),
            ("lastUpdate equality at microseconds, any offset", "lastUpdate=2026-11-26T11:00:00.123456%2B01:00", true),
            ("lastUpdate lt is strict", "lastUpdate.lt=2026-11-26T10:00:00.123456Z", false),
            ("lastUpdate lte includes equality", "lastUpdate.lte=2026-11-26T10:00:00.123456Z", true),
            ("other dates compare as text", "validFor.startDateTime.gte=2026-01-01T00:00:00Z", true),
            ("strings compare by code point: upper before lower", "name.lt=a", true),
            ("strings compare by code point: gt", "name.gt=Fibre", true),
            ("version is text: 1.0 is not 1", "version=1", false),
            ("a missing attribute matches nothing", "nosuch=x", false),
            ("a path below a string matches nothing", "name.foo=x", false),
            ("an object is not a scalar", "productOfferingPrice=Monthly", false),
            ("@type", "%40type=ProductOffering", true),
        ];
        let document = offering();
        for (case, raw, expected) in cases {
            let filters = parse_filters(raw).unwrap();
            assert_eq!(matches(&document, &filters), *expected, "case: {case} ({raw})");
        }
    }

    #[test]
    fn matches_treats_an_uncompilable_filter_as_matching_nothing() {
        let document = offering();
        assert!(!matches(&document, &[filter("lastUpdate", Op::Gt, &["yesterday"])]));
        assert!(!matches(&document, &[filter("name", Op::Eq, &[])]));
        assert!(!matches(&json!("not an object"), &[filter("name", Op::Eq, &["x"])]));
    }

    #[test]
    fn project_keeps_the_named_attributes_and_the_identity() {
        let projected = project(offering(), &["name".into(), "lifecycleStatus".into(), "nosuch".into()]);
        assert_eq!(
            projected,
            json!({
                "id": "po-1",
                "href": "/tmf-api/productCatalogManagement/v4/productOffering/po-1",
                "name": "Fibre 1G",
                "lifecycleStatus": "Active",
                "@type": "ProductOffering"
            })
        );
        assert_eq!(project(json!({"name": "x"}), &[]), json!({}));
        assert_eq!(project(json!([1, 2]), &["name".into()]), json!([1, 2]));
    }

    /// The SQL text and the number of bound arguments of a list query over productOffering.
    fn compile(filters: &[Filter], sort: &[SortKey]) -> (String, usize) {
        let mut builder = QueryBuilder::<Postgres>::new("SELECT doc FROM tmf_resource WHERE kind = ");
        builder.push_bind("productOffering");
        push_filters(&mut builder, filters, &COLUMNS).unwrap();
        push_order_by(&mut builder, sort, &COLUMNS).unwrap();
        let sql = builder.sql().as_str().to_owned();
        let arguments = builder.build().take_arguments().unwrap().map_or(0, |a| a.len());
        (sql, arguments)
    }

    #[test]
    fn filters_and_sort_compile_to_static_fragments_and_binds() {
        let query = parse_list_query(
            "lifecycleStatus=Active,Launched&productOfferingPrice.name=Monthly&lastUpdate.gte=2026-11-26T10:00:00Z\
             &isBundle=false&price.value.lt=20&name.gt=M&id=a,b&sort=-name,validFor.startDateTime",
            DEFAULT_PAGING,
        )
        .unwrap();
        let (sql, arguments) = compile(&query.filters, &query.sort);
        assert_eq!(
            sql,
            "SELECT doc FROM tmf_resource WHERE kind = $1 AND status = ANY($2) AND doc @? $3::jsonpath \
             AND last_update >= ANY($4) AND doc @? $5::jsonpath \
             AND jsonb_path_exists(doc, $6::jsonpath, '{}'::jsonb, true) AND name COLLATE \"C\" > ANY($7) \
             AND id = ANY($8) ORDER BY name DESC, doc #> $9::text[], id"
        );
        assert_eq!(arguments, 9);
    }

    #[test]
    fn order_by_defaults_to_newest_first_and_never_repeats_a_key() {
        let cases: &[(&str, &str, &str)] = &[
            ("default", "", " ORDER BY last_update DESC, id"),
            ("typed columns", "sort=version,-lifecycleStatus", " ORDER BY version, status DESC, id"),
            ("a repeated key counts once", "sort=lastUpdate,-lastUpdate", " ORDER BY last_update, id"),
            ("id given: no second id", "sort=-id,name", " ORDER BY id DESC, name"),
            ("document paths bind", "sort=a.b,-a.b", " ORDER BY doc #> $2::text[], id"),
        ];
        for (case, raw, expected) in cases {
            let (sql, _) = compile(&[], &parse_list_query(raw, DEFAULT_PAGING).unwrap().sort);
            assert_eq!(sql.strip_prefix("SELECT doc FROM tmf_resource WHERE kind = $1"), Some(*expected), "{case}");
        }
    }

    #[test]
    fn the_jsonpath_compares_every_json_reading_of_each_value() {
        let eq = filter("productOfferingPrice.name", Op::Eq, &["Monthly", "20", "true", "q\"\\)"]);
        assert_eq!(
            jsonpath(&eq),
            r#"$."productOfferingPrice"."name" ? (@ == "Monthly" || @ == "20" || @ == 20 || @ == "true" || @ == true || @ == "q\"\\)")"#
        );
        let gt = filter("price.value", Op::Gt, &["-1.5e3", "false", "007"]);
        assert_eq!(jsonpath(&gt), r#"$."price"."value" ? (@ > "-1.5e3" || @ > -1.5e3 || @ > "false" || @ > "007")"#);
    }

    #[test]
    fn hostile_values_never_reach_the_sql_text() {
        let hostile = [
            "' OR 1=1--",
            "\"); DROP TABLE tmf_resource; --",
            "$99",
            "a\\b",
            ") || true || (",
            "'{}'::jsonb, true) OR (true",
            "é\n\t\u{1}",
        ];
        for path in ["name", "lifecycleStatus", "description", "productOfferingPrice.name"] {
            for op in [Op::Eq, Op::Gt, Op::Lte] {
                let reference = compile(&[filter(path, op, &["x"])], &[]);
                let filters = [filter(path, op, &hostile)];
                let (sql, arguments) = compile(&filters, &[]);
                assert_eq!((sql.as_str(), arguments), (reference.0.as_str(), 2), "{path} {op:?}");
                for value in hostile {
                    assert!(!sql.contains(value), "{path} {op:?}: {value:?} is in {sql}");
                }
            }
        }
    }

    #[test]
    fn hand_built_filters_are_checked_and_leave_the_builder_untouched() {
        let bad: &[(&str, Filter)] = &[
            ("a bad segment", filter("na'me", Op::Eq, &["x"])),
            ("no values", filter("name", Op::Eq, &[])),
            ("a NUL", filter("name", Op::Eq, &["a\0"])),
            ("a long value", filter("name", Op::Eq, &[&"x".repeat(257)])),
            ("a bad timestamp", filter("lastUpdate", Op::Gt, &["soon"])),
        ];
        for (case, bad) in bad {
            let mut builder = QueryBuilder::<Postgres>::new("SELECT 1 WHERE true");
            let good = filter("name", Op::Eq, &["x"]);
            assert!(push_filters(&mut builder, &[good, bad.clone()], &COLUMNS).is_err(), "{case}");
            assert_eq!(builder.sql().as_str(), "SELECT 1 WHERE true", "{case}");
        }
        let mut builder = QueryBuilder::<Postgres>::new("SELECT 1 WHERE true");
        let too_many = vec![filter("name", Op::Eq, &["x"]); MAX_FILTERS + 1];
        assert!(push_filters(&mut builder, &too_many, &COLUMNS).is_err());
        assert!(push_order_by(&mut builder, &[sort_key("a b", false)], &COLUMNS).is_err());
        assert_eq!(builder.sql().as_str(), "SELECT 1 WHERE true");
    }

    proptest! {
        #[test]
        fn parse_list_query_never_panics(raw in any::<String>()) {
            let _ = parse_list_query(&raw, DEFAULT_PAGING);
        }

        #[test]
        fn parse_list_query_never_panics_on_query_like_text(raw in "[a-zA-Z0-9.%&=,+\\-\\[\\]@_' ]{0,300}") {
            if let Ok(query) = parse_list_query(&raw, DEFAULT_PAGING) {
                let _ = compile(&query.filters, &query.sort);
                let _ = matches(&offering(), &query.filters);
            }
        }

        #[test]
        fn ascii_values_round_trip_exactly(values in prop::collection::vec("[\\x01-\\x7f]{1,256}", 1..=5)) {
            let raw = format!("description={}", values.iter().map(|v| encode(v)).collect::<Vec<_>>().join(","));
            let filters = parse_filters(&raw).unwrap();
            prop_assert_eq!(&filters[0].values, &values);
        }

        #[test]
        fn the_sql_text_never_depends_on_the_values(
            path in prop::sample::select(vec!["name", "lifecycleStatus", "description", "a.b.c"]),
            op in prop::sample::select(vec![Op::Eq, Op::Gt, Op::Gte, Op::Lt, Op::Lte]),
            values in prop::collection::vec("[\\x01-\\x7f]{1,64}", 1..=5),
        ) {
            let values: Vec<&str> = values.iter().map(String::as_str).collect();
            let (sql, arguments) = compile(&[filter(path, op, &values)], &[]);
            let (reference, _) = compile(&[filter(path, op, &["x"])], &[]);
            prop_assert_eq!(sql, reference);
            prop_assert_eq!(arguments, 2);
        }
    }

    /// Documents of the database test: each exercises a corner of the semantics.
    fn corpus() -> Vec<Value> {
        vec![
            offering(),
            json!({
                "id": "po-2", "name": "Mobile 5G", "lifecycleStatus": "Launched", "version": "2.0",
                "lastUpdate": "2026-11-26T09:00:00.000000Z", "isBundle": true,
                "productOfferingPrice": [{"name": "Monthly", "price": {"value": "20"}}],
                "tags": "fibre", "validFor": {"startDateTime": "2025-06-01T00:00:00Z"}
            }),
            json!({
                "id": "po-3", "name": "' OR 1=1--", "lifecycleStatus": "Retired", "version": "10.0",
                "lastUpdate": "2026-11-27T00:00:00.000001Z",
                "description": "quote \" backslash \\ paren ) pipes || dollar $v é \n tab\t",
                "productOfferingPrice": {"name": "Monthly", "price": {"value": 5}},
                "deep": [[{"x": "y"}]], "validFor": {"startDateTime": "2026-01-01T00:00:00Z"}
            }),
            json!({
                "id": "po-4", "name": "alpha", "lastUpdate": "2026-11-25T00:00:00.000000Z",
                "price": {"value": 1e2}, "isBundle": "false", "matrix": [["b"]]
            }),
            json!({
                "id": "po-5", "name": "Zeta", "lastUpdate": "2026-11-24T00:00:00.000000Z",
                "@type": "BundledOffering", "tags": [], "count": 7, "n": "7"
            }),
        ]
    }

    /// The same documents must come out of PostgreSQL and out of `matches`, and both must be the right ones.
    #[tokio::test]
    async fn sql_and_matches_select_the_same_documents_in_postgres() {
        let url = std::env::var("DATABASE_URL")
            .expect("DATABASE_URL is not set: run the tests with `make test`, which starts PostgreSQL");
        let mut connection = sqlx::PgConnection::connect(&url).await.expect("cannot reach PostgreSQL");
        let mut tx = connection.begin().await.unwrap();
        // A temporary table of the migration's shape (and indexes) shadows any real one; the rollback drops it.
        for statement in [
            "CREATE TEMP TABLE tmf_resource (kind text NOT NULL, id text NOT NULL, name text, status text, \
             version text, last_update timestamptz NOT NULL, doc jsonb NOT NULL, PRIMARY KEY (kind, id)) \
             ON COMMIT DROP",
            "CREATE INDEX ON tmf_resource (kind, last_update DESC, id)",
            "CREATE INDEX ON tmf_resource (kind, name, id)",
            "CREATE INDEX ON tmf_resource (kind, status, last_update DESC)",
            "CREATE INDEX ON tmf_resource USING gin (doc jsonb_path_ops)",
        ] {
            sqlx::query(statement).execute(&mut *tx).await.unwrap();
        }
        let mut rows: Vec<(&str, Value)> = corpus().into_iter().map(|doc| ("productOffering", doc)).collect();
        rows.push(("category", json!({"id": "cat-1", "name": "Fibre 1G", "lastUpdate": "2026-11-26T10:00:00Z"})));
        for (kind, doc) in &rows {
            let text = |name: &str| doc.get(name).and_then(Value::as_str).map(str::to_owned);
            sqlx::query(
                "INSERT INTO tmf_resource (kind, id, name, status, version, last_update, doc) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(kind)
            .bind(text("id"))
            .bind(text("name"))
            .bind(text("lifecycleStatus"))
            .bind(text("version"))
            .bind(parse_timestamp(&text("lastUpdate").unwrap()).unwrap())
            .bind(doc)
            .execute(&mut *tx)
            .await
            .unwrap();
        }

        let hostile = encode("quote \" backslash \\ paren ) pipes || dollar $v é \n tab\t");
        let description = format!("description={hostile}");
        let filter_cases: &[(&str, &[&str])] = &[
            ("name=Fibre+1G", &["po-1"]),
            ("name=%27+OR+1%3D1--", &["po-3"]),
            ("name=' OR 1=1--", &["po-3"]),
            (&description, &["po-3"]),
            ("lifecycleStatus=Active,Launched", &["po-1", "po-2"]),
            ("lifecycleStatus.gt=B", &["po-2", "po-3"]),
            ("productOfferingPrice.name=Monthly", &["po-1", "po-2", "po-3"]),
            ("productOfferingPrice.price.value=20", &["po-1", "po-2"]),
            // "20" is a string in po-2: it compares as text, where "20" > "10" and "20" < "9".
            ("productOfferingPrice.price.value.gt=10", &["po-1", "po-2"]),
            ("productOfferingPrice.price.value.lt=9", &["po-2", "po-3"]),
            ("productOfferingPrice.name=Monthly&productOfferingPrice.price.value.gt=30", &["po-1"]),
            ("isBundle=false", &["po-1", "po-4"]),
            ("isBundle=true", &["po-2"]),
            ("tags=fibre", &["po-1", "po-2"]),
            ("matrix=b", &["po-1", "po-4"]),
            ("deep.x=y", &[]),
            ("lastUpdate.gt=2026-11-26T10:00:00Z", &["po-1", "po-3"]),
            ("lastUpdate=2026-11-26T10:00:00.123456Z", &["po-1"]),
            ("lastUpdate=2026-11-26T11:00:00.123456%2B01:00", &["po-1"]),
            ("lastUpdate.lte=2026-11-26T09:00:00Z", &["po-2", "po-4", "po-5"]),
            ("name.lt=a", &["po-1", "po-2", "po-3", "po-5"]),
            ("version.gt=2", &["po-2"]),
            ("%40type=BundledOffering", &["po-5"]),
            ("count.gte=7.0", &["po-5"]),
            ("n=7", &["po-5"]),
            ("price.value=100", &["po-4"]),
            ("id=po-1,po-5", &["po-1", "po-5"]),
            ("id.gte=po-4", &["po-4", "po-5"]),
            ("nosuch=x", &[]),
            ("productOfferingPrice=Monthly", &[]),
            ("name=Fibre+1G&lifecycleStatus=Active", &["po-1"]),
        ];
        let documents = corpus();
        for force_index in [false, true] {
            // Without sequential scans the `@?` filters go through the GIN index and its recheck.
            let setting = if force_index { "SET LOCAL enable_seqscan = off" } else { "SET LOCAL enable_seqscan = on" };
            sqlx::query(setting).execute(&mut *tx).await.unwrap();
            for (raw, expected) in filter_cases {
                let filters = parse_filters(raw).unwrap();
                let in_memory: Vec<&str> = documents
                    .iter()
                    .filter(|doc| matches(doc, &filters))
                    .map(|doc| doc["id"].as_str().unwrap())
                    .collect();
                assert_eq!(in_memory, *expected, "matches(): {raw}");

                let mut builder = QueryBuilder::<Postgres>::new("SELECT id FROM tmf_resource WHERE kind = ");
                builder.push_bind("productOffering");
                push_filters(&mut builder, &filters, &COLUMNS).unwrap();
                push_order_by(&mut builder, &[sort_key("id", false)], &COLUMNS).unwrap();
                let in_sql: Vec<String> = builder.build_query_scalar().fetch_all(&mut *tx).await.unwrap();
                assert_eq!(in_sql, *expected, "SQL (index forced: {force_index}): {raw}");
            }
        }

        let sort_cases: &[(&str, &[&str])] = &[
            ("", &["po-3", "po-1", "po-2", "po-4", "po-5"]),
            ("sort=lastUpdate", &["po-5", "po-4", "po-2", "po-1", "po-3"]),
            ("sort=-lifecycleStatus,lastUpdate", &["po-5", "po-4", "po-3", "po-2", "po-1"]),
            ("sort=validFor.startDateTime,-id", &["po-2", "po-3", "po-1", "po-5", "po-4"]),
        ];
        for (raw, expected) in sort_cases {
            let query = parse_list_query(raw, DEFAULT_PAGING).unwrap();
            let mut builder = QueryBuilder::<Postgres>::new("SELECT id FROM tmf_resource WHERE kind = ");
            builder.push_bind("productOffering");
            push_order_by(&mut builder, &query.sort, &COLUMNS).unwrap();
            let ids: Vec<String> = builder.build_query_scalar().fetch_all(&mut *tx).await.unwrap();
            assert_eq!(ids, *expected, "{raw}");
        }
        tx.rollback().await.unwrap();
    }
}

//! TMF678 `customerBill` and `appliedCustomerBillingRate`: rendered from billing's relational tables, read
//! through TMF630 lists, and — for bills — moved along their state machine by PATCH.
//!
//! A bill is issued by its bill run ([`crate::billrun`]); from then on its amounts, dates and applied rates
//! are frozen (database triggers refuse any change, docs/adr/0016). What a client may change is the bill's
//! `state`, along these moves only (anything else is a 409 and changes nothing; any other attribute a 400):
//!
//! ```text
//! new ──(bill run: issue)──▶ validated ──▶ sent
//!                               │  ▲        │
//!                               ▼  │        ▼
//!                               onHold ◀────┘        onHold ──▶ validated | sent
//! validated | sent | partiallyPaid ──(payments)──▶ partiallyPaid | settled   (settled is final)
//! ```
//! `partiallyPaid` and `settled` follow the payments recorded ([`crate::payments`]), never a PATCH.

use crate::calendar::AccountTimeZone;
use crate::charging::TaxRate;
use crate::listing::{Attribute, ColumnType, Listing};
use actix_web::{HttpRequest, HttpResponse, web};
use bss_common::server::resource;
use bss_common::{ApiError, ServiceContext};
use bss_tmf::events::{self, NewEvent};
use bss_tmf::money::{Currency, Money};
use bss_tmf::patch;
use bss_tmf::query::Paging;
use bss_tmf::store::Lifecycle;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

/// Bill states a client may move between with PATCH (payments move to partiallyPaid and settled).
pub static BILL_LIFECYCLE: Lifecycle = Lifecycle {
    attribute: "state",
    initial: "new",
    transitions: &[
        ("new", &["validated", "onHold"]),
        ("validated", &["sent", "onHold"]),
        ("sent", &["onHold"]),
        ("onHold", &["validated", "sent"]),
        ("partiallyPaid", &[]),
        ("settled", &[]),
    ],
};

/// `href` of a bill.
pub fn bill_href(id: impl std::fmt::Display) -> String {
    format!("{}/customerBill/{id}", crate::BASE_PATH)
}

fn rate_href(id: impl std::fmt::Display) -> String {
    format!("{}/appliedCustomerBillingRate/{id}", crate::BASE_PATH)
}

fn account_ref(id: &str) -> Value {
    json!({"id": id, "href": format!("{}/billingAccount/{id}", crate::accounts::BASE_PATH), "@referredType": "BillingAccount"})
}

/// The bill number as shown: `B` and ten digits.
pub fn bill_number(number: i64) -> String {
    format!("B{number:010}")
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The first instant of a local date, as a TMF date-time.
fn local_start(zone: Option<AccountTimeZone>, date: NaiveDate) -> Value {
    let at = match zone {
        Some(zone) => zone.start_of(date),
        None => date.and_hms_opt(0, 0, 0).map(|t| t.and_utc()),
    };
    at.map_or(Value::Null, |t| Value::from(t.to_rfc3339_opts(SecondsFormat::Secs, true)))
}

fn money(minor: i64, currency: Currency) -> Value {
    Money::from_minor(minor, currency).to_tmf()
}

/// A tax rate as a JSON number (TMF `taxRate`, a fraction: 0.2). Only the display: amounts never use it.
fn tax_rate_number(basis_points: i32) -> Value {
    let text = u32::try_from(basis_points)
        .ok()
        .and_then(|bp| TaxRate::from_basis_points(bp).ok())
        .map_or_else(|| "0".to_owned(), |rate| rate.to_string());
    serde_json::from_str::<serde_json::Number>(&text).map_or(Value::Null, Value::Number)
}

/// One `customer_bill` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BillRow {
    pub id: Uuid,
    pub billing_account_id: String,
    pub customer_id: String,
    pub account_name: String,
    pub time_zone: String,
    pub run_type: String,
    pub category: String,
    pub state: String,
    pub bill_no: Option<i64>,
    pub currency: String,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub bill_date: NaiveDate,
    pub payment_due_date: NaiveDate,
    pub tax_excluded_minor: i64,
    pub tax_minor: i64,
    pub tax_included_minor: i64,
    pub amount_due_minor: i64,
    pub paid_minor: i64,
    pub remaining_minor: i64,
    pub last_update: DateTime<Utc>,
}

/// `SELECT <every bill column> FROM customer_bill <tail>`, as one literal (no SQL is assembled at run time).
macro_rules! select_bill {
    ($tail:literal) => {
        concat!(
            "SELECT id, billing_account_id, customer_id, account_name, time_zone, run_type, category, state, bill_no,
                    currency::text AS currency, period_start, period_end, bill_date, payment_due_date,
                    tax_excluded_minor, tax_minor, tax_included_minor, amount_due_minor, paid_minor, remaining_minor,
                    last_update
             FROM customer_bill ",
            $tail
        )
    };
}

/// A bill row with its tax rows and payments: everything its document shows.
#[derive(Debug, Clone)]
pub struct StoredBill {
    pub row: BillRow,
    /// `(basis points, taxable, tax)` per rate.
    pub taxes: Vec<(i32, i64, i64)>,
    /// `(payment ref, amount, paid at)`, oldest first.
    pub payments: Vec<(Option<String>, i64, DateTime<Utc>)>,
}

impl StoredBill {
    pub fn currency(&self) -> Currency {
        Currency::parse(&self.row.currency).unwrap_or_else(|_| Currency::parse("EUR").expect("EUR is known"))
    }

    pub fn zone(&self) -> Option<AccountTimeZone> {
        AccountTimeZone::parse(&self.row.time_zone).ok()
    }
}

/// Loads a bill (`None` when there is none), locking it `FOR UPDATE` when `lock`.
pub async fn load(conn: &mut PgConnection, id: Uuid, lock: bool) -> Result<Option<StoredBill>, sqlx::Error> {
    let sql = if lock { select_bill!("WHERE id = $1 FOR UPDATE") } else { select_bill!("WHERE id = $1") };
    let Some(row) = sqlx::query_as::<_, BillRow>(sql).bind(id).fetch_optional(&mut *conn).await? else {
        return Ok(None);
    };
    let taxes = sqlx::query_as(
        "SELECT tax_rate_basis_points, taxable_minor, tax_minor FROM customer_bill_tax WHERE bill_id = $1
         ORDER BY tax_rate_basis_points",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let payments = sqlx::query_as(
        "SELECT payment_ref, amount_minor, paid_at FROM bill_payment WHERE bill_id = $1 ORDER BY created_at, id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some(StoredBill { row, taxes, payments }))
}

/// The TMF678 CustomerBill document of a stored bill.
pub fn render(bill: &StoredBill) -> Value {
    let row = &bill.row;
    let currency = bill.currency();
    let zone = bill.zone();
    let mut doc = Map::new();
    doc.insert("id".into(), Value::from(row.id.to_string()));
    doc.insert("href".into(), Value::from(bill_href(row.id)));
    if let Some(number) = row.bill_no {
        doc.insert("billNo".into(), Value::from(bill_number(number)));
    }
    doc.insert("billDate".into(), local_start(zone, row.bill_date));
    doc.insert("paymentDueDate".into(), local_start(zone, row.payment_due_date));
    doc.insert("nextBillDate".into(), local_start(zone, row.period_end));
    doc.insert(
        "billingPeriod".into(),
        json!({"startDateTime": local_start(zone, row.period_start), "endDateTime": local_start(zone, row.period_end)}),
    );
    doc.insert("category".into(), Value::from(row.category.clone()));
    doc.insert("runType".into(), Value::from(row.run_type.clone()));
    doc.insert("state".into(), Value::from(row.state.clone()));
    doc.insert("lastUpdate".into(), Value::from(rfc3339(row.last_update)));
    doc.insert("amountDue".into(), money(row.amount_due_minor, currency));
    doc.insert("remainingAmount".into(), money(row.remaining_minor, currency));
    doc.insert("taxExcludedAmount".into(), money(row.tax_excluded_minor, currency));
    doc.insert("taxIncludedAmount".into(), money(row.tax_included_minor, currency));
    doc.insert(
        "taxItem".into(),
        bill.taxes
            .iter()
            .map(|(rate, _, tax)| {
                json!({"taxCategory": "VAT", "taxRate": tax_rate_number(*rate), "taxAmount": money(*tax, currency),
                       "@type": "TaxItem"})
            })
            .collect(),
    );
    doc.insert(
        "appliedPayment".into(),
        bill.payments
            .iter()
            .map(|(reference, amount, _)| {
                let mut applied = json!({"appliedAmount": money(*amount, currency), "@type": "AppliedPayment"});
                if let Some(reference) = reference {
                    applied["payment"] = json!({"id": reference, "@referredType": "Payment"});
                }
                applied
            })
            .collect(),
    );
    let mut account = account_ref(&row.billing_account_id);
    account["name"] = Value::from(row.account_name.clone());
    doc.insert("billingAccount".into(), account);
    doc.insert(
        "relatedParty".into(),
        json!([{"id": row.customer_id, "role": "customer", "@referredType": "Customer"}]),
    );
    if row.bill_no.is_some() {
        doc.insert(
            "billDocument".into(),
            json!([
                {"id": format!("{}-html", row.id), "href": format!("{}/document.html", bill_href(row.id)),
                 "name": format!("Bill {}", bill_number(row.bill_no.unwrap_or_default())), "mimeType": "text/html",
                 "attachmentType": "bill", "@type": "AttachmentRef"},
                {"id": format!("{}-pdf", row.id), "href": format!("{}/document.pdf", bill_href(row.id)),
                 "name": format!("Bill {}", bill_number(row.bill_no.unwrap_or_default())), "mimeType": "application/pdf",
                 "attachmentType": "bill", "@type": "AttachmentRef"}
            ]),
        );
    }
    doc.insert("@type".into(), Value::from("CustomerBill"));
    Value::Object(doc)
}

/// The CustomerBill document of bill `id` (an error when there is none).
pub async fn bill_document(conn: &mut PgConnection, id: Uuid) -> Result<Value, sqlx::Error> {
    load(conn, id, false).await?.map(|bill| render(&bill)).ok_or(sqlx::Error::RowNotFound)
}

/// Parses a path id; anything that is not a UUID names no bill (404, not 400: ids are opaque to clients).
pub fn parse_id(id: &str, what: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::not_found(format!("No {what} with id '{id}'.")))
}

static BILL_ATTRIBUTES: &[Attribute] = &[
    Attribute { path: "id", column: "id::text", ty: ColumnType::Text },
    Attribute { path: "billNo", column: "('B' || lpad(bill_no::text, 10, '0'))", ty: ColumnType::Text },
    Attribute { path: "state", column: "state", ty: ColumnType::Text },
    Attribute { path: "category", column: "category", ty: ColumnType::Text },
    Attribute { path: "runType", column: "run_type", ty: ColumnType::Text },
    Attribute { path: "billingAccount.id", column: "billing_account_id", ty: ColumnType::Text },
    Attribute { path: "relatedParty.id", column: "customer_id", ty: ColumnType::Text },
    Attribute { path: "billDate", column: "bill_date", ty: ColumnType::Date },
    Attribute { path: "paymentDueDate", column: "payment_due_date", ty: ColumnType::Date },
    Attribute { path: "lastUpdate", column: "last_update", ty: ColumnType::Timestamp },
];

/// Bills per page: 20 by default, at most 100 (each is rendered from three queries).
pub static BILL_LISTING: Listing = Listing {
    from: "customer_bill",
    id: "id",
    attributes: BILL_ATTRIBUTES,
    default_order: "last_update DESC",
    paging: Paging { default_limit: 20, max_limit: 100 },
};

async fn list_bills(req: HttpRequest, ctx: web::Data<ServiceContext>) -> Result<HttpResponse, ApiError> {
    let query = BILL_LISTING.parse(req.query_string())?;
    let (total, ids) = BILL_LISTING.page_ids(&ctx.db, &query).await?;
    let mut conn = ctx.db.acquire().await?;
    let mut page = Vec::with_capacity(ids.len());
    for id in ids {
        page.push(bill_document(&mut conn, id).await?);
    }
    Ok(bss_tmf::routes::list_response(page, total, &query))
}

async fn get_bill(
    req: HttpRequest,
    id: web::Path<String>,
    ctx: web::Data<ServiceContext>,
) -> Result<HttpResponse, ApiError> {
    let query = BILL_LISTING.parse(req.query_string())?;
    let id = parse_id(&id, "customerBill")?;
    let mut conn = ctx.db.acquire().await?;
    let bill = load(&mut conn, id, false)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("No customerBill with id '{id}'.")))?;
    let doc = render(&bill);
    Ok(crate::listing::single(doc, &query))
}

/// PATCH: only `state`, only along [`BILL_LIFECYCLE`].
async fn patch_bill(
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
    ctx: web::Data<ServiceContext>,
) -> Result<HttpResponse, ApiError> {
    let format = bss_tmf::routes::patch_format(&req)?;
    let id = parse_id(&id, "customerBill")?;
    let mut tx = ctx.db.begin().await?;
    let bill = load(&mut tx, id, true)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("No customerBill with id '{id}'.")))?;
    let before = render(&bill);
    let after = patch::apply(&before, format, &body)?;
    patch::ensure_patchable(&patch::changed_attributes(&before, &after), &["state"])?;
    let from = bill.row.state.as_str();
    let to = after["state"].as_str().ok_or_else(|| ApiError::bad_request("'state' must be a string."))?;
    if to == from {
        return Ok(HttpResponse::Ok().json(before));
    }
    if !BILL_LIFECYCLE.is_known(to) {
        return Err(ApiError::bad_request(format!("'state' must be one of {:?}.", BILL_LIFECYCLE.statuses())));
    }
    if matches!(to, "partiallyPaid" | "settled") {
        return Err(ApiError::conflict(format!(
            "A bill becomes '{to}' when payments are recorded against it, not by PATCH."
        )));
    }
    if !BILL_LIFECYCLE.allows(from, to) {
        return Err(ApiError::conflict(format!("A customerBill in '{from}' cannot move to '{to}'.")));
    }
    sqlx::query("UPDATE customer_bill SET state = $2, last_update = $3 WHERE id = $1")
        .bind(id)
        .bind(to)
        .bind(Utc::now())
        .execute(&mut *tx)
        .await?;
    let changed = bill_document(&mut tx, id).await?;
    let resource_id = id.to_string();
    events::enqueue(
        &mut tx,
        NewEvent {
            event_type: "CustomerBillStateChangeEvent".into(),
            resource_type: "customerBill",
            resource_id: &resource_id,
            resource: &changed,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(changed))
}

// ---------------------------------------------------------------------------------------------------------------
// Applied rates
// ---------------------------------------------------------------------------------------------------------------

#[derive(Debug, sqlx::FromRow)]
struct RateRow {
    id: Uuid,
    charge_key: String,
    billable_product_id: Uuid,
    billing_account_id: String,
    kind: String,
    name: String,
    amount_minor: i64,
    currency: String,
    covers_start: Option<NaiveDate>,
    covers_end: Option<NaiveDate>,
    bill_id: Option<Uuid>,
    tax_rate_basis_points: Option<i32>,
    tax_minor: Option<i64>,
    created_at: DateTime<Utc>,
    time_zone: Option<String>,
}

fn render_rate(row: &RateRow) -> Value {
    let currency = Currency::parse(&row.currency).unwrap_or_else(|_| Currency::parse("EUR").expect("EUR is known"));
    let zone = row.time_zone.as_deref().and_then(|z| AccountTimeZone::parse(z).ok());
    let mut doc = json!({
        "id": row.id.to_string(),
        "href": rate_href(row.id),
        "name": row.name,
        "type": row.kind,
        "date": rfc3339(row.created_at),
        "isBilled": row.bill_id.is_some(),
        "chargeKey": row.charge_key,
        "billingAccount": account_ref(&row.billing_account_id),
        "product": {"id": row.billable_product_id.to_string(), "@referredType": "Product"},
        "taxExcludedAmount": money(row.amount_minor, currency),
        "@type": "AppliedCustomerBillingRate",
    });
    if let (Some(start), Some(end)) = (row.covers_start, row.covers_end) {
        doc["periodCoverage"] =
            json!({"startDateTime": local_start(zone, start), "endDateTime": local_start(zone, end)});
    }
    if let (Some(bill), Some(rate), Some(tax)) = (row.bill_id, row.tax_rate_basis_points, row.tax_minor) {
        doc["bill"] = json!({"id": bill.to_string(), "href": bill_href(bill), "@referredType": "CustomerBill"});
        doc["appliedTax"] = json!([{"taxCategory": "VAT", "taxRate": tax_rate_number(rate),
                                     "taxAmount": money(tax, currency), "@type": "AppliedBillingTaxRate"}]);
        doc["taxIncludedAmount"] = money(row.amount_minor.saturating_add(tax), currency);
    }
    doc
}

/// `SELECT <applied rate columns and the account's time zone> … <tail>`, as one literal.
macro_rules! select_rate {
    ($tail:literal) => {
        concat!(
            "SELECT r.id, r.charge_key, r.billable_product_id, r.billing_account_id, r.kind, r.name, r.amount_minor,
                    r.currency::text AS currency, r.covers_start, r.covers_end, r.bill_id, r.tax_rate_basis_points,
                    r.tax_minor, r.created_at, a.doc->>'timeZone' AS time_zone
             FROM applied_rate r
             LEFT JOIN tmf_resource a ON a.kind = 'billingAccount' AND a.id = r.billing_account_id ",
            $tail
        )
    };
}

static RATE_ATTRIBUTES: &[Attribute] = &[
    Attribute { path: "id", column: "id::text", ty: ColumnType::Text },
    Attribute { path: "isBilled", column: "(bill_id IS NOT NULL)", ty: ColumnType::Boolean },
    Attribute { path: "type", column: "kind", ty: ColumnType::Text },
    Attribute { path: "bill.id", column: "bill_id::text", ty: ColumnType::Text },
    Attribute { path: "billingAccount.id", column: "billing_account_id", ty: ColumnType::Text },
    Attribute { path: "product.id", column: "billable_product_id::text", ty: ColumnType::Text },
    Attribute { path: "date", column: "created_at", ty: ColumnType::Timestamp },
];

/// Applied rates per page: 100 by default, at most 1,000.
pub static RATE_LISTING: Listing = Listing {
    from: "applied_rate",
    id: "id",
    attributes: RATE_ATTRIBUTES,
    default_order: "created_at DESC",
    paging: Paging { default_limit: 100, max_limit: 1_000 },
};

async fn list_rates(req: HttpRequest, ctx: web::Data<ServiceContext>) -> Result<HttpResponse, ApiError> {
    let query = RATE_LISTING.parse(req.query_string())?;
    let (total, ids) = RATE_LISTING.page_ids(&ctx.db, &query).await?;
    let rows: Vec<RateRow> = sqlx::query_as(select_rate!("WHERE r.id = ANY($1)")).bind(&ids).fetch_all(&ctx.db).await?;
    // Back into the page's order.
    let page = ids.iter().filter_map(|id| rows.iter().find(|row| row.id == *id)).map(render_rate).collect();
    Ok(bss_tmf::routes::list_response(page, total, &query))
}

async fn get_rate(
    req: HttpRequest,
    id: web::Path<String>,
    ctx: web::Data<ServiceContext>,
) -> Result<HttpResponse, ApiError> {
    let query = RATE_LISTING.parse(req.query_string())?;
    let id = parse_id(&id, "appliedCustomerBillingRate")?;
    let row: RateRow = sqlx::query_as(select_rate!("WHERE r.id = $1"))
        .bind(id)
        .fetch_optional(&ctx.db)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("No appliedCustomerBillingRate with id '{id}'.")))?;
    let doc = render_rate(&row);
    Ok(crate::listing::single(doc, &query))
}

// ---------------------------------------------------------------------------------------------------------------
// Bill documents
// ---------------------------------------------------------------------------------------------------------------

/// The customer-readable document of an issued bill, from its frozen rows (`None` before it is issued).
pub async fn customer_document(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<crate::document::BillDocument>, sqlx::Error> {
    use crate::document::{BillDocument, DocumentLine, DocumentTax};
    let Some(bill) = load(conn, id, false).await? else { return Ok(None) };
    let Some(number) = bill.row.bill_no else { return Ok(None) };
    type Line = (String, String, Option<NaiveDate>, Option<NaiveDate>, i64, Option<i32>, Option<i64>);
    let lines: Vec<Line> = sqlx::query_as(
        "SELECT name, kind, covers_start, covers_end, amount_minor, tax_rate_basis_points, tax_minor
         FROM applied_rate WHERE bill_id = $1 ORDER BY chargeable_on, charge_key",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let basis = |bp: i32| u32::try_from(bp).unwrap_or_default();
    let row = &bill.row;
    Ok(Some(BillDocument {
        bill_id: row.id.to_string(),
        bill_no: bill_number(number),
        bill_date: row.bill_date,
        payment_due_date: row.payment_due_date,
        period: Some((row.period_start, row.period_end)),
        account_id: row.billing_account_id.clone(),
        account_name: row.account_name.clone(),
        customer_id: row.customer_id.clone(),
        currency: bill.currency(),
        lines: lines
            .into_iter()
            .map(|(description, kind, start, end, amount, rate, tax)| DocumentLine {
                description,
                kind,
                covers: start.zip(end),
                amount_minor: amount,
                tax_rate_basis_points: rate.map(basis).unwrap_or_default(),
                tax_minor: tax.unwrap_or_default(),
            })
            .collect(),
        taxes: bill
            .taxes
            .iter()
            .map(|(rate, taxable, tax)| DocumentTax {
                tax_rate_basis_points: basis(*rate),
                taxable_minor: *taxable,
                tax_minor: *tax,
            })
            .collect(),
        tax_excluded_minor: row.tax_excluded_minor,
        tax_minor: row.tax_minor,
        tax_included_minor: row.tax_included_minor,
        amount_due_minor: row.amount_due_minor,
        paid_minor: row.paid_minor,
        remaining_minor: row.remaining_minor,
        state: row.state.clone(),
    }))
}

async fn document_of(ctx: &ServiceContext, id: &str) -> Result<crate::document::BillDocument, ApiError> {
    let id = parse_id(id, "customerBill")?;
    let mut conn = ctx.db.acquire().await?;
    customer_document(&mut conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("No issued customerBill with id '{id}'.")))
}

/// `GET customerBill/{id}/document.html`: the bill as a self-contained web page.
async fn document_html(id: web::Path<String>, ctx: web::Data<ServiceContext>) -> Result<HttpResponse, ApiError> {
    let document = document_of(&ctx, &id).await?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(crate::document::render_html(&document)))
}

/// `GET customerBill/{id}/document.pdf`: the bill as a PDF.
async fn document_pdf(id: web::Path<String>, ctx: web::Data<ServiceContext>) -> Result<HttpResponse, ApiError> {
    let document = document_of(&ctx, &id).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("inline; filename=\"{}.pdf\"", document.bill_no),
        ))
        .body(crate::document::render_pdf(&document)))
}

/// Registers `customerBill` (list, read, PATCH, its HTML and PDF documents) and `appliedCustomerBillingRate`
/// (list, read).
pub fn configure(config: &mut web::ServiceConfig) {
    let base = crate::BASE_PATH;
    config
        .service(resource(&format!("{base}/customerBill")).route(web::get().to(list_bills)))
        .service(
            resource(&format!("{base}/customerBill/{{id}}"))
                .route(web::get().to(get_bill))
                .route(web::patch().to(patch_bill)),
        )
        .service(resource(&format!("{base}/customerBill/{{id}}/document.html")).route(web::get().to(document_html)))
        .service(resource(&format!("{base}/customerBill/{{id}}/document.pdf")).route(web::get().to(document_pdf)))
        .service(resource(&format!("{base}/appliedCustomerBillingRate")).route(web::get().to(list_rates)))
        .service(resource(&format!("{base}/appliedCustomerBillingRate/{{id}}")).route(web::get().to(get_rate)));
}

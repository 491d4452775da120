//! TMF678 `customerBillOnDemand`: a request for a bill now, answered asynchronously.
//!
//! `POST` stores the request `inProgress` (with its CreateEvent) and answers 201 at once; the request is then
//! worked by an on-demand bill run ([`crate::billrun`], as of the account's local today) in ONE transaction that
//! also records how it ended: `done` with the `customerBill`, `rejected` (unknown or inactive billing account,
//! nothing unbilled) or `terminatedWithError` (the account's products cannot be rated), each with its reason in
//! the extension attribute `stateReason`, and a StateChangeEvent. A crash before that commit leaves the request
//! `inProgress`, and the worker that polls for such requests (every two seconds, `FOR UPDATE SKIP LOCKED`, so
//! replicas share them) takes it up again: a request is never lost and never billed twice.

use crate::billrun::{self, RunError, RunKind, RunOutcome};
use crate::bills::{bill_href, parse_id};
use crate::listing::{Attribute, ColumnType, Listing};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use bss_common::server::resource;
use bss_common::{ApiError, ServiceContext};
use bss_tmf::events::{self, NewEvent};
use bss_tmf::query::Paging;
use bss_tmf::schema::{Schema, Ty, opt, req};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use sqlx::PgConnection;
use std::time::Duration;
use uuid::Uuid;

/// How often the worker looks for requests left `inProgress` (by a crash, or a database failure).
const POLL: Duration = Duration::from_secs(2);

pub static ON_DEMAND_SCHEMA: Schema = Schema {
    type_name: "CustomerBillOnDemand",
    fields: &[
        req("billingAccount", Ty::Ref),
        opt("name", Ty::String),
        opt("description", Ty::String),
        // One party, as TMF678 v4 has it (a RelatedPartyRef, not the array most resources carry).
        opt("relatedParty", Ty::Ref),
        opt("customerBill", Ty::Ref),
        opt("state", Ty::String),
        opt("lastUpdate", Ty::DateTime),
    ],
};

#[derive(Debug, sqlx::FromRow)]
struct OnDemandRow {
    id: Uuid,
    billing_account_id: String,
    state: String,
    reason: Option<String>,
    bill_id: Option<Uuid>,
    request: Value,
    last_update: DateTime<Utc>,
}

fn href(id: Uuid) -> String {
    format!("{}/customerBillOnDemand/{id}", crate::BASE_PATH)
}

fn render(row: &OnDemandRow) -> Value {
    let mut doc = match &row.request {
        Value::Object(map) => Value::Object(map.clone()),
        _ => json!({}),
    };
    doc["id"] = Value::from(row.id.to_string());
    doc["href"] = Value::from(href(row.id));
    doc["state"] = Value::from(row.state.clone());
    doc["lastUpdate"] = Value::from(row.last_update.to_rfc3339_opts(SecondsFormat::Micros, true));
    doc["billingAccount"]["id"] = Value::from(row.billing_account_id.clone());
    doc["billingAccount"]["href"] =
        Value::from(format!("{}/billingAccount/{}", crate::accounts::BASE_PATH, row.billing_account_id));
    match row.bill_id {
        Some(bill) => {
            doc["customerBill"] =
                json!({"id": bill.to_string(), "href": bill_href(bill), "@referredType": "CustomerBill"})
        }
        None => {
            if let Some(map) = doc.as_object_mut() {
                map.remove("customerBill");
            }
        }
    }
    match &row.reason {
        Some(reason) => doc["stateReason"] = Value::from(reason.clone()),
        None => {
            if let Some(map) = doc.as_object_mut() {
                map.remove("stateReason");
            }
        }
    }
    doc["@type"] = Value::from("CustomerBillOnDemand");
    doc
}

async fn load(conn: &mut PgConnection, id: Uuid) -> Result<Option<OnDemandRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, billing_account_id, state, reason, bill_id, request, last_update FROM bill_on_demand WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
}

async fn enqueue(conn: &mut PgConnection, event_type: &str, row: &OnDemandRow) -> Result<(), sqlx::Error> {
    let id = row.id.to_string();
    let doc = render(row);
    events::enqueue(
        conn,
        NewEvent {
            event_type: event_type.to_owned(),
            resource_type: "customerBillOnDemand",
            resource_id: &id,
            resource: &doc,
        },
    )
    .await
    .map(drop)
}

async fn create(ctx: web::Data<ServiceContext>, body: web::Json<Value>) -> Result<HttpResponse, ApiError> {
    let mut request = body.into_inner();
    ON_DEMAND_SCHEMA.check(&request)?;
    let account_id = request["billingAccount"]["id"]
        .as_str()
        .filter(|id| !id.is_empty() && id.len() <= 128)
        .ok_or_else(|| ApiError::bad_request("'billingAccount.id' is required (at most 128 characters)."))?
        .to_owned();
    if let Some(map) = request.as_object_mut() {
        for server_owned in ["id", "href", "state", "lastUpdate", "customerBill", "stateReason"] {
            map.remove(server_owned);
        }
    }
    let now = Utc::now();
    let id = Uuid::now_v7();
    let mut tx = ctx.db.begin().await?;
    sqlx::query(
        "INSERT INTO bill_on_demand (id, billing_account_id, name, description, state, request, created_at, last_update)
         VALUES ($1, $2, $3, $4, 'inProgress', $5, $6, $6)",
    )
    .bind(id)
    .bind(&account_id)
    .bind(request.get("name").and_then(Value::as_str))
    .bind(request.get("description").and_then(Value::as_str))
    .bind(&request)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let row = load(&mut tx, id).await?.ok_or_else(|| ApiError::internal(anyhow::anyhow!("on-demand row vanished")))?;
    enqueue(&mut tx, "CustomerBillOnDemandCreateEvent", &row).await?;
    tx.commit().await?;
    let worker_ctx = ctx.clone();
    tokio::spawn(async move {
        if let Err(e) = work(&worker_ctx, id).await {
            tracing::warn!(on_demand = %id, error = %e, "on-demand bill run failed; the worker will retry");
        }
    });
    Ok(HttpResponse::Created().insert_header((header::LOCATION, href(id))).json(render(&row)))
}

/// Works one request if it is still `inProgress` and no one else holds it. A database failure rolls everything
/// back (the request stays `inProgress` for the next poll).
pub async fn work(ctx: &ServiceContext, id: Uuid) -> Result<(), sqlx::Error> {
    let mut tx = ctx.db.begin().await?;
    let claimed: Option<String> = sqlx::query_scalar(
        "SELECT billing_account_id FROM bill_on_demand WHERE id = $1 AND state = 'inProgress' FOR UPDATE SKIP LOCKED",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(account_id) = claimed else { return Ok(()) };
    let outcome = match billrun::load_account(&mut tx, &account_id).await {
        Ok(Some(account)) => {
            let today = account.terms.time_zone.local_date(Utc::now());
            // A savepoint: a run that fails leaves nothing of itself, but the request's end is still recorded.
            let mut run = sqlx::Connection::begin(&mut *tx).await?;
            match billrun::run_in(&mut run, &account, RunKind::OnDemand, today).await {
                Ok(outcome) => {
                    run.commit().await?;
                    Ok(outcome)
                }
                Err(e) => {
                    run.rollback().await?;
                    Err(e)
                }
            }
        }
        Ok(None) => Err(RunError::UnknownAccount(account_id.clone())),
        Err(e) => Err(e),
    };
    let (state, reason, bill) = match outcome {
        Ok(RunOutcome::Issued { bill_id, .. }) => ("done", None, Some(bill_id)),
        Ok(RunOutcome::NothingToBill { .. }) | Ok(RunOutcome::AlreadyRun) => {
            ("rejected", Some("The billing account has no unbilled charges.".to_owned()), None)
        }
        Err(e) if e.is_transient() => {
            tx.rollback().await?;
            return Err(match e {
                RunError::Database(e) => e,
                other => sqlx::Error::Protocol(other.to_string()),
            });
        }
        Err(e) if e.is_rejection() => ("rejected", Some(e.reason()), None),
        Err(e) => ("terminatedWithError", Some(e.reason()), None),
    };
    sqlx::query("UPDATE bill_on_demand SET state = $2, reason = $3, bill_id = $4, last_update = $5 WHERE id = $1")
        .bind(id)
        .bind(state)
        .bind(&reason)
        .bind(bill)
        .bind(Utc::now())
        .execute(&mut *tx)
        .await?;
    let row = load(&mut tx, id).await?.ok_or(sqlx::Error::RowNotFound)?;
    enqueue(&mut tx, "CustomerBillOnDemandStateChangeEvent", &row).await?;
    tx.commit().await?;
    metrics::counter!(bss_common::metrics::BILL_RUNS_TOTAL, "service" => "billing", "kind" => "onDemand", "outcome" => state)
        .increment(1);
    Ok(())
}

/// The worker that takes up requests left `inProgress`.
pub fn start_worker(ctx: &web::Data<ServiceContext>) {
    let ctx = ctx.clone();
    let lifecycle = ctx.lifecycle.clone();
    ctx.lifecycle.clone().spawn_worker("bill-on-demand", async move {
        lifecycle
            .every("bill-on-demand", POLL, || {
                let ctx = ctx.clone();
                async move {
                    let waiting: Result<Vec<Uuid>, _> = sqlx::query_scalar(
                        "SELECT id FROM bill_on_demand WHERE state = 'inProgress' ORDER BY created_at LIMIT 100",
                    )
                    .fetch_all(&ctx.db)
                    .await;
                    for id in waiting.unwrap_or_default() {
                        if let Err(e) = work(&ctx, id).await {
                            tracing::warn!(on_demand = %id, error = %e, "on-demand bill run failed; will retry");
                            break;
                        }
                    }
                }
            })
            .await;
    });
}

static ON_DEMAND_ATTRIBUTES: &[Attribute] = &[
    Attribute { path: "id", column: "id::text", ty: ColumnType::Text },
    Attribute { path: "state", column: "state", ty: ColumnType::Text },
    Attribute { path: "name", column: "name", ty: ColumnType::Text },
    Attribute { path: "billingAccount.id", column: "billing_account_id", ty: ColumnType::Text },
    Attribute { path: "customerBill.id", column: "bill_id::text", ty: ColumnType::Text },
    Attribute { path: "lastUpdate", column: "last_update", ty: ColumnType::Timestamp },
];

pub static ON_DEMAND_LISTING: Listing = Listing {
    from: "bill_on_demand",
    id: "id",
    attributes: ON_DEMAND_ATTRIBUTES,
    default_order: "last_update DESC",
    paging: Paging { default_limit: 100, max_limit: 1_000 },
};

async fn list(req: HttpRequest, ctx: web::Data<ServiceContext>) -> Result<HttpResponse, ApiError> {
    let query = ON_DEMAND_LISTING.parse(req.query_string())?;
    let (total, ids) = ON_DEMAND_LISTING.page_ids(&ctx.db, &query).await?;
    let mut conn = ctx.db.acquire().await?;
    let mut page = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(row) = load(&mut conn, id).await? {
            page.push(render(&row));
        }
    }
    Ok(bss_tmf::routes::list_response(page, total, &query))
}

async fn get(
    req: HttpRequest,
    id: web::Path<String>,
    ctx: web::Data<ServiceContext>,
) -> Result<HttpResponse, ApiError> {
    let query = ON_DEMAND_LISTING.parse(req.query_string())?;
    let id = parse_id(&id, "customerBillOnDemand")?;
    let mut conn = ctx.db.acquire().await?;
    let row = load(&mut conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("No customerBillOnDemand with id '{id}'.")))?;
    let doc = render(&row);
    Ok(crate::listing::single(doc, &query))
}

/// Registers `customerBillOnDemand` (POST, list, read).
pub fn configure(config: &mut web::ServiceConfig) {
    let base = crate::BASE_PATH;
    config
        .service(
            resource(&format!("{base}/customerBillOnDemand")).route(web::get().to(list)).route(web::post().to(create)),
        )
        .service(resource(&format!("{base}/customerBillOnDemand/{{id}}")).route(web::get().to(get)));
}

//! `cancelProductOrder` (TMF622): a request to cancel an order, and the cancellation flow it starts.
//!
//! - The request's own diagram: `acknowledged → inProgress → done | terminatedWithError` (a task).
//! - `POST cancelProductOrder`: the order must exist (422) and be in a state the order diagram lets move to
//!   `assessingCancellation` (`inProgress`, `pending`, `held`; otherwise 409 and nothing is written; an order
//!   still `acknowledged` never progressed and is deleted instead). The request is stored `acknowledged`, the
//!   order moves to `assessingCancellation` (with the request's `cancellationReason`), and the request moves to
//!   `inProgress`: three transitions, each with its events.
//! - Then the order's fulfilment decides: in `external` mode a fulfilment system PATCHes the order
//!   (`assessingCancellation → pendingCancellation → cancelled`, or back to `inProgress`/`pending`/`held` when
//!   the cancellation is refused); in `auto` mode the fulfilment worker accepts it (`crate::fulfilment`).
//! - [`run_worker`] (both modes) closes requests that are `inProgress`: `done` with
//!   `effectiveCancellationDate` once their order is `cancelled`, `terminatedWithError` once it left the
//!   cancellation states any other way.
//! - GET list and by id are the toolkit's; PATCH and DELETE are 405 (the request is driven by the server).

use crate::resources::{ORDER_LIFECYCLE, PRODUCT_ORDER};
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use bss_common::{ApiError, ServiceContext};
use bss_tmf::schema::{Schema, Ty, opt, req};
use bss_tmf::store::{self, Lifecycle, ResourceKind};
use chrono::SubsecRound;
use serde_json::Value;
use std::time::Duration;

/// The CancelProductOrder diagram.
pub static CANCEL_LIFECYCLE: Lifecycle = Lifecycle {
    attribute: "state",
    initial: "acknowledged",
    transitions: &[
        ("acknowledged", &["inProgress"]),
        ("inProgress", &["done", "terminatedWithError"]),
        ("done", &[]),
        ("terminatedWithError", &[]),
    ],
};

/// `CancelProductOrder_Create` plus what the server sets.
pub static CANCEL_SCHEMA: Schema = Schema {
    type_name: "CancelProductOrder",
    fields: &[
        req("productOrder", Ty::Ref),
        opt("cancellationReason", Ty::String),
        opt("requestedCancellationDate", Ty::DateTime),
        opt("effectiveCancellationDate", Ty::DateTime),
        opt("lastUpdate", Ty::DateTime),
        opt("state", Ty::String),
    ],
};

pub static CANCEL_PRODUCT_ORDER: ResourceKind = ResourceKind {
    name: "cancelProductOrder",
    schema: &CANCEL_SCHEMA,
    lifecycle: Some(&CANCEL_LIFECYCLE),
    patchable: &[],
    paging: crate::resources::PAGING,
    cached: false,
    validate: store::accept,
    deletable: store::accept,
    check_change: store::accept_change,
    derive: store::derive_nothing,
    extra_events: store::no_extra_events,
};

/// The order states a cancellation is being decided in.
pub const CANCELLING: [&str; 2] = ["assessingCancellation", "pendingCancellation"];

fn now_text() -> String {
    chrono::Utc::now().trunc_subsecs(6).to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// `POST cancelProductOrder`.
pub async fn create_cancel(ctx: web::Data<ServiceContext>, body: web::Json<Value>) -> Result<HttpResponse, ApiError> {
    let mut request = body.into_inner();
    CANCEL_SCHEMA.check(&request)?;
    let order_id = request["productOrder"]["id"].as_str().unwrap_or_default().to_owned();
    let order = match store::get(&ctx, &PRODUCT_ORDER, &order_id).await {
        Ok(order) => order,
        Err(e) if e.status() == 404 => {
            return Err(ApiError::unprocessable(format!("'productOrder': no productOrder with id '{order_id}'.")));
        }
        Err(e) => return Err(e),
    };
    let state = order["state"].as_str().unwrap_or_default().to_owned();
    if !ORDER_LIFECYCLE.allows(&state, "assessingCancellation") || state == "assessingCancellation" {
        return Err(cannot_cancel(&order_id, &state));
    }
    if let Some(object) = request.as_object_mut() {
        object.insert("state".into(), Value::from(CANCEL_LIFECYCLE.initial));
        object.remove("effectiveCancellationDate");
        object.insert(
            "productOrder".into(),
            serde_json::json!({"id": order_id, "href": order["href"], "@referredType": "ProductOrder"}),
        );
    }
    let created = store::create(&ctx, &CANCEL_PRODUCT_ORDER, crate::BASE_PATH, request).await?;
    let cancel_id = created["id"].as_str().unwrap_or_default().to_owned();
    let reason = created.get("cancellationReason").cloned();
    let moved = store::update_with(&ctx, &PRODUCT_ORDER, &order_id, |before| {
        let from = before["state"].as_str().unwrap_or_default();
        if !ORDER_LIFECYCLE.allows(from, "assessingCancellation") || from == "assessingCancellation" {
            return Err(cannot_cancel(&order_id, from));
        }
        let mut after = before.clone();
        after["state"] = Value::from("assessingCancellation");
        if let Some(reason) = &reason {
            after["cancellationReason"] = reason.clone();
        }
        Ok(after)
    })
    .await;
    let started = set_state(&ctx, &cancel_id, "inProgress", false).await?;
    let answer = match moved {
        Ok(_) => started,
        // The order moved on between the check and the change (e.g. completed): the request ends in error.
        Err(e) if e.status() == 409 => set_state(&ctx, &cancel_id, "terminatedWithError", false).await?,
        Err(e) => return Err(e),
    };
    let location = answer["href"].as_str().unwrap_or_default().to_owned();
    Ok(HttpResponse::Created().insert_header((header::LOCATION, location)).json(answer))
}

fn cannot_cancel(order_id: &str, state: &str) -> ApiError {
    ApiError::conflict(format!(
        "productOrder '{order_id}' is '{state}': only an order in inProgress, pending or held can be cancelled \
         (an acknowledged order that never progressed is deleted instead)."
    ))
}

/// Moves a cancel request to `to` (with `effectiveCancellationDate` when `effective`).
async fn set_state(ctx: &ServiceContext, id: &str, to: &str, effective: bool) -> Result<Value, ApiError> {
    store::update_with(ctx, &CANCEL_PRODUCT_ORDER, id, |before| {
        if before["state"] == to {
            return Ok(before.clone());
        }
        let mut after = before.clone();
        after["state"] = Value::from(to);
        if effective {
            after["effectiveCancellationDate"] = Value::from(now_text());
        }
        Ok(after)
    })
    .await
}

/// How often open cancel requests are compared with their orders.
pub const POLL: Duration = Duration::from_millis(200);

/// Closes open cancel requests once their order's cancellation is decided (both fulfilment modes).
pub async fn run_worker(ctx: web::Data<ServiceContext>) {
    ctx.lifecycle
        .every("order-cancellation", POLL, || async {
            if let Err(e) = close_decided(&ctx).await {
                tracing::warn!(error = %e.message(), "could not close cancel requests");
            }
        })
        .await;
}

/// One round: every `inProgress` cancel request whose order is no longer being cancelled is closed.
pub async fn close_decided(ctx: &ServiceContext) -> Result<(), ApiError> {
    let open: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.id, o.status FROM tmf_resource c
         JOIN tmf_resource o ON o.kind = 'productOrder' AND o.id = c.doc -> 'productOrder' ->> 'id'
         WHERE c.kind = 'cancelProductOrder' AND c.status = 'inProgress'
         ORDER BY c.last_update LIMIT 100",
    )
    .fetch_all(&ctx.db)
    .await?;
    for (cancel_id, order_state) in open {
        if CANCELLING.contains(&order_state.as_str()) {
            continue;
        }
        let (to, effective) = if order_state == "cancelled" { ("done", true) } else { ("terminatedWithError", false) };
        set_state(ctx, &cancel_id, to, effective).await?;
    }
    Ok(())
}

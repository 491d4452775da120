//! Payments recorded against a bill: `POST {base}/customerBill/{id}/appliedPayment` (docs/adr/0016).
//!
//! TMF678 shows payments on the bill (`appliedPayment`, `remainingAmount`) but leaves recording them to the
//! payment system (TMF676). This endpoint is where that system tells billing: the body is a TMF678
//! `AppliedPayment` — `appliedAmount` (Money, in the bill's currency, > 0) and optionally `payment` (`id`: the
//! payment system's reference; the same reference cannot be recorded twice on a bill, 409). The bill is locked
//! while the payment is applied, so concurrent payments add up; `remainingAmount` never goes below zero — a
//! payment larger than what remains is refused (422) and changes nothing — and the bill moves to
//! `partiallyPaid`, or `settled` once nothing remains (with its StateChangeEvent). Payments are accepted on
//! `validated`, `sent` and `partiallyPaid` bills; `onHold` (disputed), `new` and `settled` bills refuse them (409).

use crate::bills::{self, parse_id};
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use bss_common::server::resource;
use bss_common::{ApiError, ServiceContext};
use bss_tmf::events::{self, NewEvent};
use bss_tmf::money::Money;
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

/// Longest payment reference accepted.
const MAX_REFERENCE_CHARS: usize = 128;

async fn record(
    id: web::Path<String>,
    body: web::Json<Value>,
    ctx: web::Data<ServiceContext>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id, "customerBill")?;
    let body = body.into_inner();
    let amount = Money::from_tmf(body.get("appliedAmount").unwrap_or(&Value::Null))
        .map_err(|e| ApiError::bad_request(format!("'appliedAmount': {e}.")))?;
    if amount.minor() <= 0 {
        return Err(ApiError::bad_request("'appliedAmount.value' must be greater than zero."));
    }
    let reference = match body.get("payment").and_then(|p| p.get("id")) {
        None | Some(Value::Null) => None,
        Some(Value::String(r)) if !r.is_empty() && r.chars().count() <= MAX_REFERENCE_CHARS => Some(r.clone()),
        Some(_) => {
            return Err(ApiError::bad_request(format!(
                "'payment.id' must be a non-empty string of at most {MAX_REFERENCE_CHARS} characters."
            )));
        }
    };
    let paid_at = match body.get("paymentDate").and_then(Value::as_str) {
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map_err(|_| ApiError::bad_request("'paymentDate' must be an RFC 3339 date-time."))?
            .with_timezone(&Utc),
        None => Utc::now(),
    };

    let mut tx = ctx.db.begin().await?;
    let bill = bills::load(&mut tx, id, true)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("No customerBill with id '{id}'.")))?;
    let row = &bill.row;
    if !matches!(row.state.as_str(), "validated" | "sent" | "partiallyPaid") {
        return Err(ApiError::conflict(format!("A customerBill in '{}' does not accept payments.", row.state)));
    }
    if amount.currency() != bill.currency() {
        return Err(ApiError::unprocessable(format!(
            "The payment is in {}; the bill is in {}.",
            amount.currency().code(),
            row.currency
        )));
    }
    if amount.minor() > row.remaining_minor {
        return Err(ApiError::unprocessable(format!(
            "The payment ({amount}) exceeds the remaining amount ({}).",
            Money::from_minor(row.remaining_minor, bill.currency())
        )));
    }
    let inserted = sqlx::query(
        "INSERT INTO bill_payment (id, bill_id, payment_ref, amount_minor, paid_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(Uuid::now_v7())
    .bind(id)
    .bind(&reference)
    .bind(amount.minor())
    .bind(paid_at)
    .execute(&mut *tx)
    .await;
    match inserted {
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("bill_payment_ref_key") => {
            return Err(ApiError::conflict(format!(
                "Payment '{}' is already recorded on this bill.",
                reference.unwrap_or_default()
            )));
        }
        other => other?,
    };
    let remaining = row.remaining_minor - amount.minor();
    let state = if remaining == 0 { "settled" } else { "partiallyPaid" };
    sqlx::query(
        "UPDATE customer_bill SET paid_minor = paid_minor + $2, remaining_minor = $3, state = $4, last_update = $5
         WHERE id = $1",
    )
    .bind(id)
    .bind(amount.minor())
    .bind(remaining)
    .bind(state)
    .bind(Utc::now())
    .execute(&mut *tx)
    .await?;
    let paid = bills::bill_document(&mut tx, id).await?;
    let resource_id = id.to_string();
    let event_type =
        if state == row.state { "CustomerBillAttributeValueChangeEvent" } else { "CustomerBillStateChangeEvent" };
    events::enqueue(
        &mut tx,
        NewEvent {
            event_type: event_type.into(),
            resource_type: "customerBill",
            resource_id: &resource_id,
            resource: &paid,
        },
    )
    .await?;
    tx.commit().await?;
    let location = paid["href"].as_str().unwrap_or_default().to_owned();
    Ok(HttpResponse::Created().insert_header((header::LOCATION, location)).json(paid))
}

/// Registers `POST {base}/customerBill/{id}/appliedPayment`.
pub fn configure(config: &mut web::ServiceConfig) {
    config.service(
        resource(&format!("{}/customerBill/{{id}}/appliedPayment", crate::BASE_PATH)).route(web::post().to(record)),
    );
}

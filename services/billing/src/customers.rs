//! The customer a billing account bills, checked in the customer service (TMF629) when an account is created
//! or its `relatedParty` customer changes (docs/adr/0015, "Billing accounts").
//!
//! Billing never reads the customer service's tables (DESIGN.md §2): it asks the service, through the shared
//! client, which relays the caller's token (the customer service authorises and audits the original caller)
//! and the trace context. The rules are the order service's for an ordering customer (ADR 0013's final
//! statuses), so a customer that cannot order cannot get a new account either.

use bss_common::auth::Principal;
use bss_common::http_client::{ClientError, path_segment};
use bss_common::{ApiError, ServiceContext};
use serde_json::Value;

/// The TMF629 base path on the customer peer.
pub const CUSTOMER_API: &str = "/tmf-api/customerManagement/v4";

/// Customer statuses (ADR 0013) in which no account may be opened or moved to the customer: the final ones.
pub const CLOSED_CUSTOMER_STATUSES: [&str; 2] = ["Rejected", "Closed"];

/// Checks that customer `id` exists in the customer service and is not in a final status.
///
/// - unknown customer → 422 naming the reference;
/// - `Rejected` / `Closed` → 422;
/// - the caller may not read customers (401/403 from the peer) → 403;
/// - the service cannot answer (down, timeout, 5xx, unreadable body) → 503.
pub async fn check_customer(ctx: &ServiceContext, caller: Option<&Principal>, id: &str) -> Result<(), ApiError> {
    // SPEC.required_peers makes start-up fail without it; this only guards against a misbuilt context.
    let base = ctx.settings.peer("CUSTOMER_URL").map_err(ApiError::internal)?.trim_end_matches('/');
    let url = format!("{base}{CUSTOMER_API}/customer/{}", path_segment(id));
    let customer = match ctx.http.get_json::<Value>(&url, caller).await {
        Ok(customer) => customer,
        Err(ClientError::Status { status, .. }) if status.as_u16() == 404 => {
            return Err(ApiError::unprocessable(format!("relatedParty customer '{id}' does not exist.")));
        }
        Err(ClientError::Status { status, .. }) if matches!(status.as_u16(), 401 | 403) => {
            return Err(ApiError::forbidden(format!(
                "The caller may not read customers in the customer service (status {status})."
            )));
        }
        Err(e) => {
            tracing::warn!(peer = "customer", error = %e, "customer lookup failed");
            return Err(ApiError::service_unavailable(
                "The customer service cannot be reached; the billing account was not changed. Retry later.",
            ));
        }
    };
    match customer.get("status").and_then(Value::as_str) {
        Some(status) if CLOSED_CUSTOMER_STATUSES.contains(&status) => Err(ApiError::unprocessable(format!(
            "relatedParty customer '{id}' is {status} and cannot be billed on a new account."
        ))),
        _ => Ok(()),
    }
}

//! What happens to an order before it is stored: its references are resolved in the catalog, customer and
//! billing services (synchronously, through the shared client, which relays the caller's token and the trace
//! context), the catalog's prices are copied onto the items and the totals computed.
//!
//! - Each item's `productOffering` must exist and be sellable (ADR 0010's rule: [`is_sellable`]); its
//!   `productOfferingPrice` references are read, and the prices sellable now become the item's `itemPrice`
//!   (replacing whatever the client sent). An offering that lists prices none of which is sellable is refused.
//! - `orderTotalPrice` is the sum of `itemPrice × quantity` per `priceType` and `recurringChargePeriod`, in
//!   integer minor units; an order has one currency.
//! - Every `relatedParty` with role `Customer` (or `@referredType` `Customer`) must exist in the customer
//!   service, and not be `Rejected` or `Closed`.
//! - A `billingAccount` (of the order or of an item), when given, must exist in billing and not be `closed`.
//! - A reference that does not resolve is a 422 naming it; a peer that cannot be reached or answers 5xx is a
//!   503, and nothing is written.
//!
//! Decisions: docs/adr/0014-order-state-and-pricing.md.

use bss_common::auth::Principal;
use bss_common::http_client::{ClientError, path_segment as segment};
use bss_common::{ApiError, ServiceContext};
use bss_tmf::money::{Currency, Money};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The TMF620 base path on the catalog peer.
pub const CATALOG_API: &str = "/tmf-api/productCatalogManagement/v4";
/// The TMF629 base path on the customer peer.
pub const CUSTOMER_API: &str = "/tmf-api/customerManagement/v4";
/// The TMF666 base path on the billing peer (its `billingAccount`s).
pub const BILLING_API: &str = "/tmf-api/accountManagement/v4";
/// Billing account states (ADR 0015) in which no new order is accepted: the final one.
pub const CLOSED_ACCOUNT_STATES: [&str; 1] = ["closed"];

pub use bss_tmf::sellable::{SELLABLE_STATUSES, is_sellable};

/// The peers of one request and the caller whose token is relayed to them.
pub struct Peers<'a> {
    ctx: &'a ServiceContext,
    caller: Option<&'a Principal>,
    catalog: String,
    customer: String,
    billing: String,
}

impl<'a> Peers<'a> {
    pub fn new(ctx: &'a ServiceContext, caller: Option<&'a Principal>) -> Result<Self, ApiError> {
        // SPEC.required_peers makes start-up fail without them; this only guards against a misbuilt context.
        let peer = |variable: &str| {
            ctx.settings.peer(variable).map(|url| url.trim_end_matches('/').to_owned()).map_err(ApiError::internal)
        };
        Ok(Self {
            ctx,
            caller,
            catalog: peer("CATALOG_URL")?,
            customer: peer("CUSTOMER_URL")?,
            billing: peer("BILLING_URL")?,
        })
    }

    /// GETs `url`: `Some(document)`, `None` for a 404, 503 when the peer cannot answer.
    async fn fetch(&self, service: &str, url: &str) -> Result<Option<Value>, ApiError> {
        match self.ctx.http.get_json::<Value>(url, self.caller).await {
            Ok(document) => Ok(Some(document)),
            Err(ClientError::Status { status, .. }) if status.as_u16() == 404 => Ok(None),
            Err(ClientError::Status { status, .. }) if matches!(status.as_u16(), 401 | 403) => {
                Err(ApiError::forbidden(format!("The caller may not read the {service} service (status {status}).")))
            }
            Err(e) => {
                tracing::warn!(peer = service, error = %e, "peer lookup failed");
                Err(ApiError::service_unavailable(format!(
                    "The {service} service cannot be reached; the order was not created. Retry later."
                )))
            }
        }
    }

    async fn catalog(&self, collection: &str, id: &str) -> Result<Option<Value>, ApiError> {
        let url = format!("{}{CATALOG_API}/{collection}/{}", self.catalog, segment(id));
        self.fetch("catalog", &url).await
    }

    async fn customer(&self, id: &str) -> Result<Option<Value>, ApiError> {
        let url = format!("{}{CUSTOMER_API}/customer/{}", self.customer, segment(id));
        self.fetch("customer", &url).await
    }

    async fn billing_account(&self, id: &str) -> Result<Option<Value>, ApiError> {
        let url = format!("{}{BILLING_API}/billingAccount/{}", self.billing, segment(id));
        self.fetch("billing", &url).await
    }
}

/// Checks the billing account `reference` (at attribute `path`) exists in billing and is not closed.
async fn check_billing_account(peers: &Peers<'_>, path: &str, reference: &Value) -> Result<(), ApiError> {
    let id = reference.get("id").and_then(Value::as_str).unwrap_or_default();
    let account = peers
        .billing_account(id)
        .await?
        .ok_or_else(|| unresolved(format!("'{path}': no billingAccount with id '{id}' in billing.")))?;
    if let Some(state) = account.get("state").and_then(Value::as_str)
        && CLOSED_ACCOUNT_STATES.contains(&state)
    {
        return Err(unresolved(format!("'{path}': billingAccount '{id}' is {state} and cannot be ordered on.")));
    }
    Ok(())
}

fn unresolved(message: String) -> ApiError {
    ApiError::unprocessable(message)
}

/// Customer statuses (ADR 0013) in which no new order is accepted: the final ones.
pub const CLOSED_CUSTOMER_STATUSES: [&str; 2] = ["Rejected", "Closed"];

/// Whether a related party is the order's customer.
pub fn is_customer(party: &Value) -> bool {
    let is = |key: &str| party.get(key).and_then(Value::as_str).is_some_and(|v| v.eq_ignore_ascii_case("customer"));
    is("role") || is("@referredType")
}

/// The `recurringChargePeriod` of a catalog price: its period type (`month`), or `"<n> <type>"` when the
/// period is longer than one unit (`3 month`); `None` for other price types.
fn recurring_period(price: &Value) -> Option<String> {
    let period = price.get("recurringChargePeriodType").and_then(Value::as_str)?;
    match price.get("recurringChargePeriodLength").and_then(Value::as_i64) {
        Some(length) if length > 1 => Some(format!("{length} {period}")),
        _ => Some(period.to_owned()),
    }
}

/// The `OrderPrice` snapshot of a catalog `ProductOfferingPrice`: the catalog amount (before tax; tax is
/// billing's) as `price.dutyFreeAmount`, and a reference to the price it was copied from.
fn order_price(price: &Value, amount: Money) -> Value {
    let mut snapshot = json!({
        "name": price.get("name").cloned().unwrap_or(Value::Null),
        "priceType": price.get("priceType").and_then(Value::as_str).unwrap_or("oneTime"),
        "price": {"dutyFreeAmount": amount.to_tmf()},
        "productOfferingPrice": {
            "id": price.get("id").cloned().unwrap_or(Value::Null),
            "href": price.get("href").cloned().unwrap_or(Value::Null),
            "name": price.get("name").cloned().unwrap_or(Value::Null),
        },
    });
    if let Some(period) = recurring_period(price) {
        snapshot["recurringChargePeriod"] = Value::from(period);
    }
    if let Some(description) = price.get("description").and_then(Value::as_str) {
        snapshot["description"] = Value::from(description);
    }
    snapshot
}

/// The amount of an `OrderPrice` this service wrote.
fn snapshot_amount(price: &Value) -> Option<Money> {
    Money::from_tmf(price.get("price")?.get("dutyFreeAmount")?).ok()
}

/// Resolves the item's offering and returns its prices as `OrderPrice` snapshots.
async fn price_item(peers: &Peers<'_>, index: usize, item: &Value, at: DateTime<Utc>) -> Result<Vec<Value>, ApiError> {
    let Some(offering_id) = item.get("productOffering").and_then(|o| o.get("id")).and_then(Value::as_str) else {
        // An item without an offering carries no price; it is kept as sent.
        return Ok(Vec::new());
    };
    let path = format!("productOrderItem[{index}].productOffering");
    let offering = peers
        .catalog("productOffering", offering_id)
        .await?
        .ok_or_else(|| unresolved(format!("'{path}': no productOffering with id '{offering_id}' in the catalog.")))?;
    if !is_sellable(&offering, at) {
        return Err(unresolved(format!("'{path}': productOffering '{offering_id}' cannot be sold now.")));
    }
    let references = offering.get("productOfferingPrice").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut prices = Vec::new();
    for reference in &references {
        let Some(price_id) = reference.get("id").and_then(Value::as_str) else {
            continue;
        };
        let price = peers.catalog("productOfferingPrice", price_id).await?.ok_or_else(|| {
            unresolved(format!(
                "'{path}': productOffering '{offering_id}' lists productOfferingPrice '{price_id}', which is not in the catalog."
            ))
        })?;
        if !is_sellable(&price, at) {
            continue;
        }
        let amount = price.get("price").map(Money::from_tmf).transpose().map_err(|e| {
            unresolved(format!("'{path}': productOfferingPrice '{price_id}' has an unusable amount: {e}."))
        })?;
        let Some(amount) = amount else {
            continue;
        };
        prices.push(order_price(&price, amount));
    }
    if prices.is_empty() && !references.is_empty() {
        return Err(unresolved(format!("'{path}': no price of productOffering '{offering_id}' can be sold now.")));
    }
    Ok(prices)
}

/// `orderTotalPrice`: per `priceType` and `recurringChargePeriod`, the sum of each item's prices times its
/// quantity. Every amount must be in one currency (422 otherwise).
pub fn total_price(items: &[Value]) -> Result<Vec<Value>, ApiError> {
    let mut currency: Option<Currency> = None;
    let mut totals: BTreeMap<(String, String), i64> = BTreeMap::new();
    for item in items {
        let quantity = item.get("quantity").and_then(Value::as_i64).unwrap_or(1);
        for price in item.get("itemPrice").and_then(Value::as_array).map_or(&[][..], Vec::as_slice) {
            let Some(amount) = snapshot_amount(price) else {
                continue;
            };
            match currency {
                None => currency = Some(amount.currency()),
                Some(c) if c != amount.currency() => {
                    return Err(unresolved(format!(
                        "An order has one currency: its prices are in {} and {}.",
                        c.code(),
                        amount.currency().code()
                    )));
                }
                Some(_) => {}
            }
            let price_type = price.get("priceType").and_then(Value::as_str).unwrap_or_default().to_owned();
            let period = price.get("recurringChargePeriod").and_then(Value::as_str).unwrap_or_default().to_owned();
            let line =
                amount.minor().checked_mul(quantity).ok_or_else(|| unresolved("The order total overflows.".into()))?;
            let sum = totals.entry((price_type, period)).or_insert(0);
            *sum = sum.checked_add(line).ok_or_else(|| unresolved("The order total overflows.".into()))?;
        }
    }
    let Some(currency) = currency else {
        return Ok(Vec::new());
    };
    Ok(totals
        .into_iter()
        .map(|((price_type, period), minor)| {
            let mut total = json!({
                "priceType": price_type,
                "price": {"dutyFreeAmount": Money::from_minor(minor, currency).to_tmf()},
            });
            if !period.is_empty() {
                total["recurringChargePeriod"] = Value::from(period);
            }
            total
        })
        .collect())
}

/// Resolves and prices a schema-checked order body in place and sets what the server owns at creation
/// (`state`, `orderDate`, each item's `state`).
pub async fn prepare(peers: &Peers<'_>, order: &mut Value, at: DateTime<Utc>) -> Result<(), ApiError> {
    let parties = order.get("relatedParty").and_then(Value::as_array).cloned().unwrap_or_default();
    for (index, party) in parties.iter().enumerate().filter(|(_, party)| is_customer(party)) {
        let id = party.get("id").and_then(Value::as_str).unwrap_or_default();
        let customer = peers
            .customer(id)
            .await?
            .ok_or_else(|| unresolved(format!("'relatedParty[{index}]': no customer with id '{id}'.")))?;
        // A customer whose relationship ended (ADR 0013's final statuses) cannot order.
        if let Some(status) = customer.get("status").and_then(Value::as_str)
            && CLOSED_CUSTOMER_STATUSES.contains(&status)
        {
            return Err(unresolved(format!("'relatedParty[{index}]': customer '{id}' is {status} and cannot order.")));
        }
    }
    if let Some(account) = order.get("billingAccount") {
        check_billing_account(peers, "billingAccount", account).await?;
    }
    for (index, item) in crate::resources::items(order).iter().enumerate() {
        if let Some(account) = item.get("billingAccount") {
            check_billing_account(peers, &format!("productOrderItem[{index}].billingAccount"), account).await?;
        }
    }
    let count = crate::resources::items(order).len();
    for index in 0..count {
        let prices = price_item(peers, index, &order["productOrderItem"][index], at).await?;
        let item = &mut order["productOrderItem"][index];
        if let Some(item) = item.as_object_mut() {
            item.remove("itemTotalPrice");
            if prices.is_empty() {
                item.remove("itemPrice");
            } else {
                item.insert("itemPrice".into(), Value::from(prices));
            }
            item.insert("state".into(), Value::from(crate::resources::ITEM_LIFECYCLE.initial));
        }
    }
    let totals = total_price(crate::resources::items(order))?;
    if let Some(object) = order.as_object_mut() {
        if totals.is_empty() {
            object.remove("orderTotalPrice");
        } else {
            object.insert("orderTotalPrice".into(), Value::from(totals));
        }
        object.insert("state".into(), Value::from(crate::resources::ORDER_LIFECYCLE.initial));
        object.insert("orderDate".into(), Value::from(at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)));
        for server_owned in ["completionDate", "expectedCompletionDate", "cancellationDate"] {
            object.remove(server_owned);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn priced(price_type: &str, period: Option<&str>, value: f64, unit: &str) -> Value {
        let mut price = json!({"priceType": price_type, "price": {"dutyFreeAmount": {"unit": unit, "value": value}}});
        if let Some(period) = period {
            price["recurringChargePeriod"] = Value::from(period);
        }
        price
    }

    #[test]
    fn totals_add_item_prices_times_quantity_per_type_and_period() {
        let items = [
            json!({"quantity": 2, "itemPrice": [priced("recurring", Some("month"), 10.05, "EUR"), priced("oneTime", None, 49.99, "EUR")]}),
            json!({"itemPrice": [priced("recurring", Some("month"), 0.10, "EUR")]}),
        ];
        let totals = total_price(&items).unwrap();
        assert_eq!(
            totals,
            vec![
                json!({"priceType": "oneTime", "price": {"dutyFreeAmount": {"unit": "EUR", "value": 99.98}}}),
                json!({"priceType": "recurring", "recurringChargePeriod": "month", "price": {"dutyFreeAmount": {"unit": "EUR", "value": 20.2}}}),
            ]
        );
    }

    #[test]
    fn an_order_in_two_currencies_is_refused() {
        let items = [json!({"itemPrice": [priced("oneTime", None, 1.0, "EUR"), priced("oneTime", None, 1.0, "USD")]})];
        assert_eq!(total_price(&items).unwrap_err().status(), 422);
    }

    #[test]
    fn sellability_follows_adr_0010() {
        let at: DateTime<Utc> = "2026-06-01T00:00:00Z".parse().unwrap();
        let cases = [
            (json!({"lifecycleStatus": "Active"}), true),
            (json!({"lifecycleStatus": "Launched"}), true),
            (json!({"lifecycleStatus": "In test"}), false),
            (json!({"lifecycleStatus": "Active", "isSellable": false}), false),
            (json!({"lifecycleStatus": "Active", "validFor": {"startDateTime": "2026-06-01T00:00:00Z"}}), true),
            (json!({"lifecycleStatus": "Active", "validFor": {"startDateTime": "2026-06-02T00:00:00Z"}}), false),
            (json!({"lifecycleStatus": "Active", "validFor": {"endDateTime": "2026-06-01T00:00:00Z"}}), false),
        ];
        for (resource, expected) in cases {
            assert_eq!(is_sellable(&resource, at), expected, "{resource}");
        }
    }

    #[test]
    fn longer_periods_name_their_length() {
        assert_eq!(recurring_period(&json!({"recurringChargePeriodType": "month"})).as_deref(), Some("month"));
        assert_eq!(
            recurring_period(&json!({"recurringChargePeriodType": "month", "recurringChargePeriodLength": 3}))
                .as_deref(),
            Some("3 month")
        );
        assert_eq!(recurring_period(&json!({"priceType": "oneTime"})), None);
    }
}

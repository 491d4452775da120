//! The TMF622 v4 `productOrder` resource: its body schema, the order and order item state machines, and the
//! rules the store applies on every PATCH.
//!
//! The schema is transcribed from `ProductOrder_Create` / `ProductOrderItem` / `OrderPrice` of the official
//! specification (`TMF622-ProductOrdering-v4.0.0.swagger.json`), plus the attributes the server sets
//! (`state`, `orderDate`, `lastUpdate`, `completionDate`, `expectedCompletionDate`); patchable attributes
//! from `ProductOrder_Update`, minus `orderTotalPrice`, which the server computes. The state machines are the
//! TMF622 life-cycle diagrams (docs/adr/0014-order-state-and-pricing.md).

use bss_common::ApiError;
use bss_tmf::query::Paging;
use bss_tmf::schema::{Field, RELATED_PARTY, Schema, Ty, opt, req};
use bss_tmf::store::{Lifecycle, ResourceKind};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// Page size of order lists: 100 by default, at most 1,000.
pub const PAGING: Paging = Paging { default_limit: 100, max_limit: 1_000 };

/// The ProductOrder state machine (TMF622 diagram). `rejected` is known but never stored: an order that fails
/// the business checks is answered with a 4xx instead.
pub static ORDER_LIFECYCLE: Lifecycle = Lifecycle {
    attribute: "state",
    initial: "acknowledged",
    transitions: &[
        ("acknowledged", &["inProgress", "pending"]),
        ("inProgress", &["pending", "assessingCancellation", "held", "completed", "failed", "partial"]),
        ("pending", &["inProgress", "assessingCancellation", "cancelled"]),
        ("assessingCancellation", &["inProgress", "pending", "held", "pendingCancellation"]),
        ("held", &["inProgress", "assessingCancellation", "cancelled"]),
        ("pendingCancellation", &["cancelled"]),
        ("rejected", &[]),
        ("cancelled", &[]),
        ("completed", &[]),
        ("failed", &[]),
        ("partial", &[]),
    ],
};

/// The ProductOrderItem state machine: the order's without `partial`.
pub static ITEM_LIFECYCLE: Lifecycle = Lifecycle {
    attribute: "state",
    initial: "acknowledged",
    transitions: &[
        ("acknowledged", &["inProgress", "pending"]),
        ("inProgress", &["pending", "assessingCancellation", "held", "completed", "failed"]),
        ("pending", &["inProgress", "assessingCancellation", "cancelled"]),
        ("assessingCancellation", &["inProgress", "pending", "held", "pendingCancellation"]),
        ("held", &["inProgress", "assessingCancellation", "cancelled"]),
        ("pendingCancellation", &["cancelled"]),
        ("rejected", &[]),
        ("cancelled", &[]),
        ("completed", &[]),
        ("failed", &[]),
    ],
};

/// `OrderItemActionType`.
pub const ACTIONS: [&str; 4] = ["add", "modify", "delete", "noChange"];

const REFS: Ty = Ty::Array(&Ty::Ref);

/// `Price`.
const PRICE: &[Field] = &[
    opt("percentage", Ty::Number),
    opt("taxRate", Ty::Number),
    opt("dutyFreeAmount", Ty::Money),
    opt("taxIncludedAmount", Ty::Money),
];

/// `OrderPrice`.
const ORDER_PRICE: &[Field] = &[
    opt("description", Ty::String),
    opt("name", Ty::String),
    opt("priceType", Ty::String),
    opt("recurringChargePeriod", Ty::String),
    opt("unitOfMeasure", Ty::String),
    opt("billingAccount", Ty::Ref),
    opt("price", Ty::Object(PRICE)),
    opt("priceAlteration", Ty::Array(&Ty::Any)),
    opt("productOfferingPrice", Ty::Ref),
];

/// `OrderTerm`.
const ORDER_TERM: &[Field] = &[opt("description", Ty::String), opt("name", Ty::String), opt("duration", Ty::Quantity)];

/// `OrderItemRelationship`.
const ITEM_RELATIONSHIP: &[Field] = &[req("id", Ty::String), req("relationshipType", Ty::String)];

/// `ProductOrderItem`.
const ORDER_ITEM: &[Field] = &[
    req("id", Ty::String),
    req("action", Ty::String),
    opt("quantity", Ty::Integer),
    opt("appointment", Ty::Ref),
    opt("billingAccount", Ty::Ref),
    opt("itemPrice", Ty::Array(&Ty::Object(ORDER_PRICE))),
    opt("itemTerm", Ty::Array(&Ty::Object(ORDER_TERM))),
    opt("itemTotalPrice", Ty::Array(&Ty::Object(ORDER_PRICE))),
    opt("payment", REFS),
    opt("product", Ty::Any),
    opt("productOffering", Ty::Ref),
    opt("productOfferingQualificationItem", Ty::Any),
    opt("productOrderItem", Ty::Array(&Ty::Any)),
    opt("productOrderItemRelationship", Ty::Array(&Ty::Object(ITEM_RELATIONSHIP))),
    opt("qualification", Ty::Array(&Ty::Any)),
    opt("quoteItem", Ty::Any),
    opt("state", Ty::String),
];

/// `Note`.
const NOTE: &[Field] =
    &[req("text", Ty::String), opt("id", Ty::String), opt("author", Ty::String), opt("date", Ty::DateTime)];

pub static ORDER_SCHEMA: Schema = Schema {
    type_name: "ProductOrder",
    fields: &[
        req("productOrderItem", Ty::Array(&Ty::Object(ORDER_ITEM))),
        opt("cancellationDate", Ty::DateTime),
        opt("cancellationReason", Ty::String),
        opt("category", Ty::String),
        opt("completionDate", Ty::DateTime),
        opt("description", Ty::String),
        opt("expectedCompletionDate", Ty::DateTime),
        opt("externalId", Ty::String),
        opt("lastUpdate", Ty::DateTime),
        opt("notificationContact", Ty::String),
        opt("orderDate", Ty::DateTime),
        opt("priority", Ty::String),
        opt("requestedCompletionDate", Ty::DateTime),
        opt("requestedStartDate", Ty::DateTime),
        opt("state", Ty::String),
        opt("agreement", REFS),
        opt("billingAccount", Ty::Ref),
        opt("channel", Ty::Array(&Ty::Any)),
        opt("note", Ty::Array(&Ty::Object(NOTE))),
        opt("orderTotalPrice", Ty::Array(&Ty::Object(ORDER_PRICE))),
        opt("payment", REFS),
        opt("productOfferingQualification", REFS),
        opt("quote", REFS),
        opt("relatedParty", Ty::Array(&Ty::Object(RELATED_PARTY))),
    ],
};

/// The items of an order (empty when the attribute is missing or malformed; the schema rejects those).
pub fn items(order: &Value) -> &[Value] {
    order.get("productOrderItem").and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn item_id(item: &Value) -> &str {
    item.get("id").and_then(Value::as_str).unwrap_or_default()
}

fn item_state(item: &Value) -> Option<&str> {
    item.get("state").and_then(Value::as_str)
}

/// Rules beyond the schema, on create and after every PATCH: at least one item, unique item ids, a known
/// action, a positive quantity, known item states.
/// The longest `externalId`, in characters: it is indexed (unique per customer), and a B-tree entry must fit
/// in about a third of a page; a longer one was a 500 from PostgreSQL before.
pub const MAX_EXTERNAL_ID_CHARS: usize = 256;

pub fn validate_order(order: &Value) -> Result<(), ApiError> {
    if order.get("externalId").and_then(Value::as_str).is_some_and(|id| id.chars().count() > MAX_EXTERNAL_ID_CHARS) {
        return Err(ApiError::bad_request(format!("'externalId' must be at most {MAX_EXTERNAL_ID_CHARS} characters.")));
    }
    let items = items(order);
    if items.is_empty() {
        return Err(ApiError::bad_request("'productOrderItem' needs at least one item."));
    }
    let mut seen = HashSet::new();
    for (index, item) in items.iter().enumerate() {
        if !seen.insert(item_id(item)) {
            return Err(ApiError::bad_request(format!(
                "'productOrderItem[{index}].id' '{}' is used by another item.",
                item_id(item)
            )));
        }
        let action = item.get("action").and_then(Value::as_str).unwrap_or_default();
        if !ACTIONS.contains(&action) {
            return Err(ApiError::bad_request(format!(
                "'productOrderItem[{index}].action' must be one of {ACTIONS:?}."
            )));
        }
        if item.get("quantity").and_then(Value::as_i64).is_some_and(|q| q < 1) {
            return Err(ApiError::bad_request(format!("'productOrderItem[{index}].quantity' must be at least 1.")));
        }
        if let Some(state) = item_state(item)
            && !ITEM_LIFECYCLE.is_known(state)
        {
            return Err(ApiError::bad_request(format!(
                "'productOrderItem[{index}].state' must be one of {:?}.",
                ITEM_LIFECYCLE.statuses()
            )));
        }
    }
    Ok(())
}

/// Item attributes fixed at creation: what was ordered and the price snapshot taken from the catalog.
pub const FIXED_ITEM_ATTRIBUTES: [&str; 5] = ["action", "productOffering", "quantity", "itemPrice", "itemTotalPrice"];

/// A PATCH keeps the items (same ids), never touches what was ordered or its prices, and moves each item's
/// state only as the item diagram allows (409 otherwise).
pub fn check_order_change(before: &Value, after: &Value) -> Result<(), ApiError> {
    let old: HashMap<&str, &Value> = items(before).iter().map(|item| (item_id(item), item)).collect();
    let new = items(after);
    let same_ids = new.len() == old.len() && new.iter().all(|item| old.contains_key(item_id(item)));
    if !same_ids {
        return Err(ApiError::bad_request(
            "Items cannot be added to or removed from an order ('productOrderItem' ids).",
        ));
    }
    for item in new {
        let id = item_id(item);
        let previous = old[id];
        for attribute in FIXED_ITEM_ATTRIBUTES {
            if previous.get(attribute) != item.get(attribute) {
                return Err(ApiError::bad_request(format!(
                    "'productOrderItem.{attribute}' of item '{id}' cannot be changed."
                )));
            }
        }
        let (from, to) = (item_state(previous).unwrap_or(ITEM_LIFECYCLE.initial), item_state(item));
        let to = to.ok_or_else(|| ApiError::bad_request(format!("The state of item '{id}' cannot be removed.")))?;
        if ITEM_LIFECYCLE.is_known(to) && !ITEM_LIFECYCLE.allows(from, to) {
            return Err(ApiError::conflict(format!("Order item '{id}' cannot move from '{from}' to '{to}'.")));
        }
    }
    Ok(())
}

/// Item states in which nothing more happens to an item.
pub const FINAL_ITEM_STATES: [&str; 4] = ["completed", "failed", "cancelled", "rejected"];

/// The order's state follows its items (`ResourceKind::derive`, applied by the store after every change, PATCH
/// or worker, in the same transaction): once every item of an `inProgress` order is final, the order moves to
/// `completed` (all completed, with `completionDate`), `failed` (all failed) or `partial` (a mix with at least
/// one completed). Any other end (no item completed and not all failed, e.g. all cancelled) is left to the
/// fulfilment system. `None` when nothing follows.
pub fn derive_order_state(order: &Value) -> Option<Value> {
    if order.get("state").and_then(Value::as_str) != Some("inProgress") {
        return None;
    }
    let states: Vec<&str> =
        items(order).iter().map(|item| item_state(item).unwrap_or(ITEM_LIFECYCLE.initial)).collect();
    if states.is_empty() || !states.iter().all(|state| FINAL_ITEM_STATES.contains(state)) {
        return None;
    }
    let to = if states.iter().all(|state| *state == "completed") {
        "completed"
    } else if states.iter().all(|state| *state == "failed") {
        "failed"
    } else if states.contains(&"completed") {
        "partial"
    } else {
        return None;
    };
    let mut next = order.clone();
    next["state"] = Value::from(to);
    if to == "completed" && next.get("completionDate").is_none() {
        next["completionDate"] = Value::from(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
    }
    Some(next)
}

/// TMF622's `ProductOrderInformationRequiredEvent` (`ResourceKind::extra_events`): raised when an order moves
/// to `pending`, the diagram's "the ordering process needs extra information", beside its StateChangeEvent.
pub fn order_information_required(before: &Value, after: &Value) -> &'static [&'static str] {
    let (from, to) = (before.get("state").and_then(Value::as_str), after.get("state").and_then(Value::as_str));
    if to == Some("pending") && from != Some("pending") { &["InformationRequiredEvent"] } else { &[] }
}

/// An order can be deleted only while it never progressed (`acknowledged`): afterwards it is a record of what
/// was done and leaves only by cancellation.
fn deletable_while_acknowledged(order: &Value) -> Result<(), ApiError> {
    match order.get("state").and_then(Value::as_str) {
        Some("acknowledged") => Ok(()),
        Some(state) => Err(ApiError::conflict(format!(
            "An order in '{state}' cannot be deleted: only an order that never progressed ('acknowledged') can."
        ))),
        None => Ok(()),
    }
}

pub static PRODUCT_ORDER: ResourceKind = ResourceKind {
    name: "productOrder",
    schema: &ORDER_SCHEMA,
    lifecycle: Some(&ORDER_LIFECYCLE),
    patchable: &[
        "cancellationDate",
        "cancellationReason",
        "category",
        "completionDate",
        "description",
        "expectedCompletionDate",
        "externalId",
        "notificationContact",
        "priority",
        "requestedCompletionDate",
        "requestedStartDate",
        "agreement",
        "billingAccount",
        "channel",
        "note",
        "payment",
        "productOfferingQualification",
        "productOrderItem",
        "quote",
        "relatedParty",
        "state",
        "@baseType",
        "@schemaLocation",
        "@type",
    ],
    paging: PAGING,
    cached: false,
    validate: validate_order,
    deletable: deletable_while_acknowledged,
    check_change: check_order_change,
    derive: derive_order_state,
    extra_events: order_information_required,
};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order(items: Value) -> Value {
        json!({"state": "acknowledged", "productOrderItem": items})
    }

    #[test]
    fn the_item_diagram_is_the_order_diagram_without_partial() {
        for (from, next) in ORDER_LIFECYCLE.transitions {
            let item_next = ITEM_LIFECYCLE.transitions.iter().find(|(state, _)| state == from).map(|(_, n)| *n);
            if *from == "partial" {
                assert!(item_next.is_none());
                continue;
            }
            let expected: Vec<_> = next.iter().filter(|s| **s != "partial").collect();
            assert_eq!(item_next.unwrap().iter().collect::<Vec<_>>(), expected, "{from}");
        }
    }

    #[test]
    fn a_patch_may_move_item_states_only_along_the_diagram() {
        let before = order(json!([{"id": "1", "action": "add", "state": "acknowledged"}]));
        let legal = order(json!([{"id": "1", "action": "add", "state": "inProgress"}]));
        check_order_change(&before, &legal).unwrap();
        let illegal = order(json!([{"id": "1", "action": "add", "state": "completed"}]));
        assert_eq!(check_order_change(&before, &illegal).unwrap_err().status(), 409);
    }

    #[test]
    fn an_in_progress_order_follows_its_items_once_all_are_final() {
        let in_progress = |states: &[&str]| {
            let items: Vec<Value> = states
                .iter()
                .enumerate()
                .map(|(i, s)| json!({"id": i.to_string(), "action": "add", "state": s}))
                .collect();
            json!({"state": "inProgress", "productOrderItem": items})
        };
        let derived = |states: &[&str]| derive_order_state(&in_progress(states)).map(|o| o["state"].clone());
        assert_eq!(derived(&["completed", "completed"]), Some(json!("completed")));
        assert_eq!(derived(&["failed", "failed"]), Some(json!("failed")));
        assert_eq!(derived(&["completed", "failed"]), Some(json!("partial")));
        assert_eq!(derived(&["completed", "cancelled"]), Some(json!("partial")));
        assert_eq!(derived(&["failed", "cancelled"]), None, "no item completed and not all failed");
        assert_eq!(derived(&["completed", "inProgress"]), None, "an item still open");
        let completed = derive_order_state(&in_progress(&["completed"])).unwrap();
        assert!(completed["completionDate"].as_str().is_some_and(|d| d.ends_with('Z')), "{completed}");
        let mut held = in_progress(&["completed"]);
        held["state"] = json!("held");
        assert_eq!(derive_order_state(&held), None, "only an inProgress order follows its items");
    }

    #[test]
    fn moving_to_pending_and_only_that_requires_information() {
        let in_state = |state: &str| json!({"state": state, "productOrderItem": []});
        for from in ["acknowledged", "inProgress", "assessingCancellation"] {
            assert_eq!(order_information_required(&in_state(from), &in_state("pending")), ["InformationRequiredEvent"]);
        }
        assert!(order_information_required(&in_state("pending"), &in_state("pending")).is_empty(), "staying");
        assert!(order_information_required(&in_state("pending"), &in_state("inProgress")).is_empty());
        assert!(order_information_required(&in_state("acknowledged"), &in_state("inProgress")).is_empty());
    }

    #[test]
    fn a_patch_keeps_the_items_and_their_prices() {
        let before = order(json!([{"id": "1", "action": "add", "itemPrice": [{"name": "m"}]}]));
        let cases = [
            (
                "item added",
                order(
                    json!([{"id": "1", "action": "add", "itemPrice": [{"name": "m"}]}, {"id": "2", "action": "add"}]),
                ),
            ),
            ("item removed", order(json!([]))),
            ("price changed", order(json!([{"id": "1", "action": "add", "itemPrice": []}]))),
            ("action changed", order(json!([{"id": "1", "action": "delete", "itemPrice": [{"name": "m"}]}]))),
        ];
        for (case, after) in cases {
            assert_eq!(check_order_change(&before, &after).unwrap_err().status(), 400, "{case}");
        }
    }

    #[test]
    fn items_need_unique_ids_known_actions_and_positive_quantities() {
        validate_order(&order(json!([{"id": "1", "action": "add", "quantity": 2}]))).unwrap();
        for bad in [
            json!([]),
            json!([{"id": "1", "action": "add"}, {"id": "1", "action": "add"}]),
            json!([{"id": "1", "action": "sell"}]),
            json!([{"id": "1", "action": "add", "quantity": 0}]),
            json!([{"id": "1", "action": "add", "state": "partial"}]),
        ] {
            assert!(validate_order(&order(bad.clone())).is_err(), "{bad}");
        }
    }
}

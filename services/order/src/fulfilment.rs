//! Automatic fulfilment (`FULFILMENT_MODE=auto`, the local stack's mode): there is no OSS here, so the service
//! completes valid orders on its own. In `external` mode (the default) this worker does not run and a
//! fulfilment system PATCHes order and item states.
//!
//! Each step is one transition written with its events through `bss_tmf::store::update_with` (row locked,
//! legal moves only, so two replicas working on one order only ever make legal moves, one after the other):
//! `acknowledged → inProgress`; then item by item `acknowledged → inProgress → completed`. The order follows its
//! items by the store's rule (`ResourceKind::derive`, [`resources::derive_order_state`]) in the transaction of
//! the last item's step, as it does for a fulfilment system's PATCH in `external` mode. Orders with an item the worker does not drive (held, pending, cancelling: a
//! person or system took over) are left alone.
//!
//! A cancellation (`assessingCancellation`, after a cancelProductOrder) is accepted: the order moves to
//! `pendingCancellation`, each item that is not final moves along the item diagram to `cancelled`
//! (`acknowledged → pending → cancelled`, `inProgress → assessingCancellation → pendingCancellation →
//! cancelled`, `pending | held → cancelled`), then the order to `cancelled` with `cancellationDate`.

use crate::resources::{self, PRODUCT_ORDER};
use actix_web::web;
use bss_common::{ApiError, ServiceContext};
use serde_json::Value;
use std::time::Duration;

/// How often the worker looks for orders to move.
pub const POLL: Duration = Duration::from_millis(200);
/// Orders picked per round.
const BATCH: i64 = 50;

/// The background worker: waits for the migrations, then moves orders until the service stops (a step in
/// progress is abandoned on stop and rolls back; the next start takes it again).
pub async fn run_worker(ctx: web::Data<ServiceContext>) {
    ctx.lifecycle.every("order-fulfilment", POLL, || fulfil_round(&ctx)).await;
}

/// One round: every candidate order is moved as far as it can go now.
async fn fulfil_round(ctx: &ServiceContext) {
    let ids = match candidates(ctx).await {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!(error = %e, "could not look for orders to fulfil");
            return;
        }
    };
    for id in ids {
        loop {
            match advance(ctx, &id).await {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    tracing::warn!(order = %id, error = %e.message(), "fulfilment step failed");
                    break;
                }
            }
        }
    }
}

/// Orders the worker may still move, oldest change first.
async fn candidates(ctx: &ServiceContext) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM tmf_resource WHERE kind = 'productOrder' AND status IN ('acknowledged', 'inProgress', 'assessingCancellation', 'pendingCancellation')
         ORDER BY last_update, id LIMIT $1",
    )
    .bind(BATCH)
    .fetch_all(&ctx.db)
    .await
}

/// Makes the next transition of one order; `false` when there is none to make.
pub async fn advance(ctx: &ServiceContext, id: &str) -> Result<bool, ApiError> {
    let mut moved = false;
    bss_tmf::store::update_with(ctx, &PRODUCT_ORDER, id, |before| {
        let next = next_step(before);
        moved = next.is_some();
        Ok(next.unwrap_or_else(|| before.clone()))
    })
    .await?;
    Ok(moved)
}

fn item_state(item: &Value) -> &str {
    item.get("state").and_then(Value::as_str).unwrap_or("acknowledged")
}

/// The order after its next automatic transition, or `None`.
pub fn next_step(order: &Value) -> Option<Value> {
    let state = order.get("state").and_then(Value::as_str)?;
    let mut next = order.clone();
    match state {
        "acknowledged" => {
            next["state"] = Value::from("inProgress");
            Some(next)
        }
        "inProgress" => {
            let items = resources::items(order);
            if let Some(index) = items.iter().position(|item| matches!(item_state(item), "acknowledged" | "inProgress"))
            {
                let to = if item_state(&items[index]) == "acknowledged" { "inProgress" } else { "completed" };
                next["productOrderItem"][index]["state"] = Value::from(to);
                return Some(next);
            }
            // The store derives the order's state from its items after every step (one rule,
            // `resources::derive_order_state`); this only catches an order left inProgress with final items.
            resources::derive_order_state(order)
        }
        // A cancellation (cancelProductOrder) is accepted: the order, then each open item, then the order.
        "assessingCancellation" => {
            next["state"] = Value::from("pendingCancellation");
            Some(next)
        }
        "pendingCancellation" => {
            let items = resources::items(order);
            if let Some((index, to)) = items
                .iter()
                .enumerate()
                .find_map(|(index, item)| item_cancel_step(item_state(item)).map(|to| (index, to)))
            {
                next["productOrderItem"][index]["state"] = Value::from(to);
                return Some(next);
            }
            next["state"] = Value::from("cancelled");
            next["cancellationDate"] =
                Value::from(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
            Some(next)
        }
        _ => None,
    }
}

/// An item's next state on its way to `cancelled` along the item diagram; `None` once it is final.
fn item_cancel_step(state: &str) -> Option<&'static str> {
    match state {
        "acknowledged" => Some("pending"),
        "inProgress" => Some("assessingCancellation"),
        "assessingCancellation" => Some("pendingCancellation"),
        "pending" | "held" | "pendingCancellation" => Some("cancelled"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(mut order: Value) -> Vec<String> {
        let mut steps = Vec::new();
        while let Some(next) = next_step(&order) {
            // As the store does after every step.
            let next = resources::derive_order_state(&next).unwrap_or(next);
            let items: Vec<&str> =
                resources::items(&next).iter().map(|i| i["state"].as_str().unwrap_or("acknowledged")).collect();
            steps.push(format!("{} {}", next["state"].as_str().unwrap(), items.join(",")));
            order = next;
        }
        steps
    }

    #[test]
    fn an_order_moves_one_transition_at_a_time_item_by_item() {
        let order = json!({"state": "acknowledged", "productOrderItem": [
            {"id": "1", "state": "acknowledged"}, {"id": "2", "state": "acknowledged"}]});
        assert_eq!(
            run(order),
            [
                "inProgress acknowledged,acknowledged",
                "inProgress inProgress,acknowledged",
                "inProgress completed,acknowledged",
                "inProgress completed,inProgress",
                "completed completed,completed",
            ]
        );
    }

    #[test]
    fn the_order_follows_its_final_items_and_leaves_items_others_hold_alone() {
        let order = |items: Value| json!({"state": "inProgress", "productOrderItem": items});
        let failed = order(json!([{"id": "1", "state": "failed"}, {"id": "2", "state": "failed"}]));
        assert_eq!(next_step(&failed).unwrap()["state"], "failed");
        let mixed = order(json!([{"id": "1", "state": "completed"}, {"id": "2", "state": "failed"}]));
        assert_eq!(next_step(&mixed).unwrap()["state"], "partial");
        let none_completed = order(json!([{"id": "1", "state": "cancelled"}, {"id": "2", "state": "failed"}]));
        assert!(next_step(&none_completed).is_none(), "left to the fulfilment system");
        let held = order(json!([{"id": "1", "state": "completed"}, {"id": "2", "state": "held"}]));
        assert!(next_step(&held).is_none());
        assert!(next_step(&json!({"state": "pending", "productOrderItem": []})).is_none());
    }

    #[test]
    fn an_accepted_cancellation_cancels_each_open_item_along_its_diagram_then_the_order() {
        let order = json!({"state": "assessingCancellation", "productOrderItem": [
            {"id": "1", "state": "completed"}, {"id": "2", "state": "inProgress"}, {"id": "3", "state": "acknowledged"}]});
        assert_eq!(
            run(order),
            [
                "pendingCancellation completed,inProgress,acknowledged",
                "pendingCancellation completed,assessingCancellation,acknowledged",
                "pendingCancellation completed,pendingCancellation,acknowledged",
                "pendingCancellation completed,cancelled,acknowledged",
                "pendingCancellation completed,cancelled,pending",
                "pendingCancellation completed,cancelled,cancelled",
                "cancelled completed,cancelled,cancelled",
            ]
        );
    }
}

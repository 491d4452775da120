//! `FULFILMENT_MODE`: `auto` completes orders item by item, one transition at a time; `external` leaves them.

use crate::helpers::*;
use bss_testkit::TestApp;
use serde_json::{Value, json};
use std::time::Duration;

fn two_items() -> Value {
    json!({"productOrderItem": [{"id": "1", "action": "add"}, {"id": "2", "action": "add"}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_auto_mode_an_order_is_completed_item_by_item_with_one_event_per_transition() {
    let order = TestApp::spawn_with(&order::SPEC, order::routes, |env| {
        env.set("FULFILMENT_MODE", "auto");
    })
    .await;
    let created = create(&order, &order_path("productOrder"), &two_items()).await;
    let id = created["id"].as_str().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let done = loop {
        let now = order.get_json(&order_path(&format!("productOrder/{id}"))).await;
        if now["state"] == "completed" {
            break now;
        }
        assert!(tokio::time::Instant::now() < deadline, "not completed in time: {now}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(done["completionDate"].as_str().is_some_and(|d| d.ends_with('Z')), "{done}");
    assert!(done["productOrderItem"].as_array().unwrap().iter().all(|i| i["state"] == "completed"), "{done}");

    let events = events_of(&order, id).await;
    let order_states: Vec<&str> = events
        .iter()
        .filter(|(t, _)| t == "ProductOrderStateChangeEvent")
        .map(|(_, p)| p["event"]["productOrder"]["state"].as_str().unwrap())
        .collect();
    assert_eq!(order_states, ["inProgress", "completed"]);
    let item_steps: Vec<String> = events
        .iter()
        .filter(|(t, p)| {
            t == "ProductOrderAttributeValueChangeEvent" && p["event"]["productOrder"]["state"] == "inProgress"
        })
        .map(|(_, p)| {
            let items = p["event"]["productOrder"]["productOrderItem"].as_array().unwrap();
            items.iter().map(|i| i["state"].as_str().unwrap()).collect::<Vec<_>>().join(",")
        })
        .collect();
    assert_eq!(
        item_steps,
        ["inProgress,acknowledged", "completed,acknowledged", "completed,inProgress", "completed,completed"],
        "one item transition per event, in order"
    );
    assert_eq!(events[0].0, "ProductOrderCreateEvent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_external_mode_orders_wait_for_the_fulfilment_system() {
    // FULFILMENT_MODE unset: external is the default.
    let order = order_alone().await;
    let created = create(&order, &order_path("productOrder"), &two_items()).await;
    tokio::time::sleep(order::fulfilment::POLL * 6).await;
    let now = order.get_json(&order_path(&format!("productOrder/{}", created["id"].as_str().unwrap()))).await;
    assert_eq!(now, created, "nothing moved it");
}

/// PATCHes an order (merge patch) as a fulfilment system does, asserting 200; returns the order as stored.
async fn fulfil(order: &TestApp, id: &str, body: Value) -> Value {
    let response =
        order.patch_as(&order_path(&format!("productOrder/{id}")), "application/merge-patch+json", &body).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "PATCH {body}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// The item array of a merge patch putting the two items in `states`.
fn items_in(states: [&str; 2]) -> Value {
    json!({"productOrderItem": [
        {"id": "1", "action": "add", "state": states[0]}, {"id": "2", "action": "add", "state": states[1]}]})
}

/// The states carried by the order's StateChangeEvents, oldest first.
async fn order_state_events(order: &TestApp, id: &str) -> Vec<String> {
    events_of(order, id)
        .await
        .into_iter()
        .filter(|(t, _)| t == "ProductOrderStateChangeEvent")
        .map(|(_, p)| p["event"]["productOrder"]["state"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_external_mode_the_patch_that_completes_the_last_item_completes_the_order() {
    let order = order_alone().await;
    let id = create(&order, &order_path("productOrder"), &two_items()).await["id"].as_str().unwrap().to_owned();
    fulfil(&order, &id, json!({"state": "inProgress"})).await;
    fulfil(&order, &id, items_in(["inProgress", "inProgress"])).await;
    let one_done = fulfil(&order, &id, items_in(["completed", "inProgress"])).await;
    assert_eq!(one_done["state"], "inProgress", "an item is still open: {one_done}");
    assert!(one_done.get("completionDate").is_none(), "{one_done}");

    let done = fulfil(&order, &id, items_in(["completed", "completed"])).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert!(done["completionDate"].as_str().is_some_and(|d| d.ends_with('Z')), "{done}");
    assert_eq!(order.get_json(&order_path(&format!("productOrder/{id}"))).await, done, "stored as answered");
    assert_eq!(order_state_events(&order, &id).await, ["inProgress", "completed"], "one event per transition");
    let events = events_of(&order, &id).await;
    let (last_type, last) = events.last().unwrap();
    assert_eq!(last_type, "ProductOrderStateChangeEvent");
    assert_eq!(last["event"]["productOrder"], done, "the event carries the completed order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_external_mode_the_order_ends_failed_or_partial_as_its_items_do() {
    let order = order_alone().await;
    let cases = [
        (["completed", "failed"], "partial"),
        (["failed", "failed"], "failed"),
        (["completed", "cancelled"], "partial"),
        (["failed", "cancelled"], "inProgress"),
    ];
    for (states, expected) in cases {
        let id = create(&order, &order_path("productOrder"), &two_items()).await["id"].as_str().unwrap().to_owned();
        fulfil(&order, &id, json!({"state": "inProgress"})).await;
        let open = [
            if states[0] == "cancelled" { "pending" } else { "inProgress" },
            if states[1] == "cancelled" { "pending" } else { "inProgress" },
        ];
        fulfil(&order, &id, items_in(open)).await;
        let ended = fulfil(&order, &id, items_in(states)).await;
        assert_eq!(ended["state"], expected, "{states:?}: {ended}");
        assert!(ended.get("completionDate").is_none(), "{states:?}: only a completed order has one");
        let mut transitions = vec!["inProgress"];
        if expected != "inProgress" {
            transitions.push(expected);
        }
        assert_eq!(order_state_events(&order, &id).await, transitions, "{states:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_whose_items_ended_before_it_started_moves_through_in_progress_with_an_event_per_transition() {
    let order = order_alone().await;
    let id = create(&order, &order_path("productOrder"), &two_items()).await["id"].as_str().unwrap().to_owned();
    fulfil(&order, &id, items_in(["inProgress", "inProgress"])).await;
    fulfil(&order, &id, items_in(["completed", "completed"])).await;
    let done = fulfil(&order, &id, json!({"state": "inProgress"})).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(order_state_events(&order, &id).await, ["inProgress", "completed"]);
    let events = events_of(&order, &id).await;
    let states: Vec<&str> = events
        .iter()
        .filter(|(t, _)| t == "ProductOrderStateChangeEvent")
        .map(|(_, p)| p["event"]["productOrder"]["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["inProgress", "completed"], "each event carries the order as that transition left it");
}

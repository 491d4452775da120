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

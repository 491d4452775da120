//! The order's TMF622 events at a `/hub` listener, in particular ProductOrderInformationRequiredEvent.

use crate::helpers::*;
use bss_testkit::listener::Recorder;
use serde_json::{Value, json};
use std::time::Duration;

async fn fulfil(order: &bss_testkit::TestApp, href: &str, body: Value) -> Value {
    let response = order.patch_as(href, "application/merge-patch+json", &body).await;
    assert_eq!(response.status(), 200, "PATCH {body}");
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_moved_to_pending_raises_one_information_required_event_on_the_outbox_and_at_a_listener() {
    let order = order_alone().await;
    let recorder = Recorder::default();
    let server = recorder.serve(0, 204).await;
    let callback = server.callback();
    let registered = order.post_json(&order_path("hub"), &json!({"callback": callback})).await;
    assert_eq!(registered.status(), 201);

    let body = json!({"productOrderItem": [{"id": "1", "action": "add"}]});
    let created = create(&order, &order_path("productOrder"), &body).await;
    let href = created["href"].as_str().unwrap();
    let id = created["id"].as_str().unwrap();
    fulfil(&order, href, json!({"state": "inProgress"})).await;
    let pending = fulfil(&order, href, json!({"state": "pending"})).await;
    // Staying pending (an attribute change) and moving on raise no further InformationRequiredEvent.
    fulfil(&order, href, json!({"description": "waiting for the floor plan"})).await;
    fulfil(&order, href, json!({"state": "inProgress"})).await;

    let expected = [
        "ProductOrderCreateEvent",
        "ProductOrderStateChangeEvent",
        "ProductOrderStateChangeEvent",
        "ProductOrderInformationRequiredEvent",
        "ProductOrderAttributeValueChangeEvent",
        "ProductOrderStateChangeEvent",
    ];
    let outbox = events_of(&order, id).await;
    let types: Vec<&str> = outbox.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(types, expected, "the outbox, in order");
    assert_eq!(outbox[3].1["event"]["productOrder"], pending, "it carries the order as it moved to pending");

    let events = recorder.wait_for(expected.len(), Duration::from_secs(15), "the events").await;
    let types: Vec<&str> = events.iter().map(|e| e["eventType"].as_str().unwrap()).collect();
    assert_eq!(types, expected, "the listener, in order");
    let required = &events[3];
    assert_eq!(required["@type"], "ProductOrderInformationRequiredEvent");
    assert_eq!(required["event"]["productOrder"], pending);
    assert_ne!(required["eventId"], events[2]["eventId"], "its own eventId");
    assert_eq!(required["eventId"], outbox[3].1["eventId"]);
}

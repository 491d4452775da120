//! The catalog's TMF620 events reach a registered listener with the full resource.

use crate::helpers::{create, path, spawn};
use bss_testkit::listener::Recorder;
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn a_listener_receives_create_change_state_and_delete_events_with_the_full_resource() {
    let app = spawn().await;
    let recorder = Recorder::default();
    let server = recorder.serve(0, 204).await;
    let callback = server.callback();
    let registered = app.post_json(&path("hub"), &json!({"callback": callback})).await;
    assert_eq!(registered.status(), 201);

    let offering = create(&app, "productOffering", &json!({"name": "Fibre"})).await;
    let href = offering["href"].as_str().unwrap();
    let described = app.patch_as(href, "application/merge-patch+json", &json!({"description": "fast"})).await;
    let described: Value = described.json().await.unwrap();
    let moved = app.patch_as(href, "application/merge-patch+json", &json!({"lifecycleStatus": "In design"})).await;
    let moved: Value = moved.json().await.unwrap();
    assert_eq!(app.delete_authorized(href).await.status(), 204);

    let events = recorder.wait_for(4, Duration::from_secs(15), "the events").await;
    let types: Vec<&str> = events.iter().map(|e| e["eventType"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "ProductOfferingCreateEvent",
            "ProductOfferingAttributeValueChangeEvent",
            "ProductOfferingStateChangeEvent",
            "ProductOfferingDeleteEvent"
        ]
    );
    let resources: Vec<&Value> = events.iter().map(|e| &e["event"]["productOffering"]).collect();
    assert_eq!(resources[0], &offering, "create carries the resource as created");
    assert_eq!(resources[1], &described, "attribute change carries the resource after the change");
    assert_eq!(resources[2], &moved, "state change carries the new state");
    assert_eq!(resources[3], &moved, "delete carries the resource as it was");
    let ids: std::collections::HashSet<&str> = events.iter().map(|e| e["eventId"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 4, "each event has its own id");
    assert!(events.iter().all(|e| e["eventTime"].as_str().is_some_and(|t| t.ends_with('Z'))));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(recorder.bodies().len(), 4, "no duplicates");
}

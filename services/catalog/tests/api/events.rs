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

/// A write whose event is queued while a listener is being unregistered waits for the unregistration and
/// queues the event without that listener (it once failed the write with a 500: the listener was read, then
/// gone when its delivery row was inserted). Deterministic: the unregistration is held open in a transaction
/// of the test's own until the write is seen waiting on it.
#[tokio::test]
async fn a_write_during_an_unregistration_waits_for_it_and_queues_the_event_without_that_listener() {
    let app = spawn().await;
    let registered = app.post_json(&path("hub"), &json!({"callback": "http://127.0.0.1:9/leaving"})).await;
    assert_eq!(registered.status(), 201);
    let listener = registered.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();

    let mut unregistering = app.db().await;
    let unregistering_pid: i32 =
        sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&mut unregistering).await.unwrap();
    sqlx::query("BEGIN").execute(&mut unregistering).await.unwrap();
    let deleted = sqlx::query("DELETE FROM hub_listener WHERE id = $1").bind(&listener).execute(&mut unregistering);
    assert_eq!(deleted.await.unwrap().rows_affected(), 1);

    let write = async {
        let response = app.post_json(&path("productOffering"), &json!({"name": "Written meanwhile"})).await;
        (response.status(), response.text().await.unwrap())
    };
    let commit_once_the_write_waits = async {
        let mut observer = app.db().await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let waiting: i64 =
                sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))")
                    .bind(unregistering_pid)
                    .fetch_one(&mut observer)
                    .await
                    .unwrap();
            if waiting > 0 {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "the write never waited for the unregistration");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        sqlx::query("COMMIT").execute(&mut unregistering).await.unwrap();
    };
    let ((status, body), ()) = tokio::join!(write, commit_once_the_write_waits);
    assert_eq!(status, 201, "{body}");

    let created: Value = serde_json::from_str(&body).unwrap();
    let mut db = app.db().await;
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE resource_id = $1")
        .bind(created["id"].as_str().unwrap())
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(queued, 1, "the event is in the outbox");
    let deliveries: i64 = sqlx::query_scalar("SELECT count(*) FROM listener_delivery WHERE listener_id = $1")
        .bind(&listener)
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(deliveries, 0, "nothing is queued for the listener that left");
}

//! `cancelProductOrder`: its own diagram (acknowledged → inProgress → done | terminatedWithError) and the
//! cancellation flow on the order, in external and auto fulfilment.

use crate::helpers::*;
use bss_testkit::TestApp;
use bss_testkit::conformance::assert_tmf_error;
use serde_json::{Value, json};
use std::time::Duration;

async fn new_order(order: &TestApp) -> String {
    let body = json!({"productOrderItem": [{"id": "1", "action": "add"}, {"id": "2", "action": "add"}]});
    create(order, &order_path("productOrder"), &body).await["id"].as_str().unwrap().to_owned()
}

async fn move_order(order: &TestApp, id: &str, to: &str) {
    let response = order
        .patch_as(&order_path(&format!("productOrder/{id}")), "application/merge-patch+json", &json!({"state": to}))
        .await;
    assert_eq!(response.status(), 200, "order {id} → {to}");
}

async fn request_cancel(order: &TestApp, id: &str) -> reqwest::Response {
    order
        .post_json(
            &order_path("cancelProductOrder"),
            &json!({"productOrder": {"id": id}, "cancellationReason": "Duplicate order"}),
        )
        .await
}

async fn order_state(order: &TestApp, id: &str) -> String {
    order.get_json(&order_path(&format!("productOrder/{id}"))).await["state"].as_str().unwrap().to_owned()
}

/// Polls the cancel request until it is in `state`.
async fn wait_for_cancel_state(order: &TestApp, id: &str, state: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let now = order.get_json(&order_path(&format!("cancelProductOrder/{id}"))).await;
        if now["state"] == state {
            return now;
        }
        assert!(tokio::time::Instant::now() < deadline, "cancel request never reached {state}: {now}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The states carried by a resource's CreateEvent and StateChangeEvents, in order.
async fn state_history(order: &TestApp, id: &str, resource: &str) -> Vec<String> {
    events_of(order, id)
        .await
        .iter()
        .filter(|(t, _)| t.ends_with("CreateEvent") || t.ends_with("StateChangeEvent"))
        .map(|(_, p)| p["event"][resource]["state"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancellation_the_fulfilment_system_accepts_ends_done_with_the_order_cancelled() {
    let order = order_alone().await;
    let id = new_order(&order).await;
    move_order(&order, &id, "inProgress").await;

    let response = request_cancel(&order, &id).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let cancel: Value = response.json().await.unwrap();
    assert_eq!(cancel["state"], "inProgress");
    assert_eq!(cancel["@type"], "CancelProductOrder");
    assert_eq!(location, cancel["href"].as_str().unwrap());
    assert_eq!(cancel["productOrder"]["id"], id.as_str());
    let cancel_id = cancel["id"].as_str().unwrap();
    let now = order.get_json(&order_path(&format!("productOrder/{id}"))).await;
    assert_eq!(now["state"], "assessingCancellation");
    assert_eq!(now["cancellationReason"], "Duplicate order");

    move_order(&order, &id, "pendingCancellation").await;
    tokio::time::sleep(order::cancel::POLL * 3).await;
    let still = order.get_json(&order_path(&format!("cancelProductOrder/{cancel_id}"))).await;
    assert_eq!(still["state"], "inProgress", "undecided while the order is pendingCancellation");
    move_order(&order, &id, "cancelled").await;
    let done = wait_for_cancel_state(&order, cancel_id, "done").await;
    assert!(done["effectiveCancellationDate"].as_str().is_some_and(|d| d.ends_with('Z')), "{done}");

    assert_eq!(state_history(&order, cancel_id, "cancelProductOrder").await, ["acknowledged", "inProgress", "done"]);
    assert_eq!(
        state_history(&order, &id, "productOrder").await,
        ["acknowledged", "inProgress", "assessingCancellation", "pendingCancellation", "cancelled"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancellation_the_fulfilment_system_refuses_ends_terminated_with_error() {
    let order = order_alone().await;
    let id = new_order(&order).await;
    move_order(&order, &id, "inProgress").await;
    move_order(&order, &id, "held").await;
    let cancel: Value = request_cancel(&order, &id).await.json().await.unwrap();
    let cancel_id = cancel["id"].as_str().unwrap();
    move_order(&order, &id, "inProgress").await;
    let ended = wait_for_cancel_state(&order, cancel_id, "terminatedWithError").await;
    assert!(ended.get("effectiveCancellationDate").is_none(), "{ended}");
    assert_eq!(order_state(&order, &id).await, "inProgress");
    assert_eq!(
        state_history(&order, cancel_id, "cancelProductOrder").await,
        ["acknowledged", "inProgress", "terminatedWithError"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_order_in_progress_pending_or_held_can_be_cancelled() {
    let order = order_alone().await;
    let paths: [(&str, &[&str], u16); 8] = [
        ("acknowledged", &[], 409),
        ("inProgress", &["inProgress"], 201),
        ("pending", &["pending"], 201),
        ("held", &["inProgress", "held"], 201),
        ("assessingCancellation", &["inProgress", "assessingCancellation"], 409),
        ("completed", &["inProgress", "completed"], 409),
        ("failed", &["inProgress", "failed"], 409),
        ("cancelled", &["pending", "cancelled"], 409),
    ];
    let mut accepted = 0;
    for (state, path, expected) in paths {
        let id = new_order(&order).await;
        for step in path {
            move_order(&order, &id, step).await;
        }
        let response = request_cancel(&order, &id).await;
        if expected == 201 {
            accepted += 1;
            assert_eq!(response.status(), 201, "{state}");
            assert_eq!(order_state(&order, &id).await, "assessingCancellation", "{state}");
        } else {
            assert_tmf_error(response, expected, state).await;
            assert_eq!(order_state(&order, &id).await, state, "{state}: the order did not move");
        }
    }
    let listed = order.get_authorized(&order_path("cancelProductOrder")).await;
    assert_eq!(listed.headers()["x-total-count"], accepted.to_string().as_str(), "refused requests are not stored");

    let unknown = request_cancel(&order, "no-such-order").await;
    let error = assert_tmf_error(unknown, 422, "unknown order").await;
    assert!(error["message"].as_str().unwrap().contains("no-such-order"), "{error}");
    let malformed = order.post_json(&order_path("cancelProductOrder"), &json!({"cancellationReason": "x"})).await;
    assert_tmf_error(malformed, 400, "no productOrder").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_requests_are_listed_and_read_but_never_patched_or_deleted() {
    let order = order_alone().await;
    let id = new_order(&order).await;
    move_order(&order, &id, "pending").await;
    let cancel = create(&order, &order_path("cancelProductOrder"), &json!({"productOrder": {"id": id}})).await;
    let path = order_path(&format!("cancelProductOrder/{}", cancel["id"].as_str().unwrap()));
    assert_eq!(order.get_json(&path).await, cancel);
    let list: Value = order.get_json(&order_path(&format!("cancelProductOrder?productOrder.id={id}"))).await;
    assert_eq!(list, json!([cancel]));
    let patch = order.patch_as(&path, "application/merge-patch+json", &json!({"state": "done"})).await;
    assert_tmf_error(patch, 405, "PATCH").await;
    assert_tmf_error(order.delete_authorized(&path).await, 405, "DELETE").await;
    assert_eq!(order.get_json(&path).await["state"], "inProgress");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_auto_mode_a_cancellation_is_accepted_and_each_open_item_is_cancelled() {
    // An order left pending (the auto worker does not drive pending orders), then the service restarts in auto.
    let external = order_alone().await;
    let id = new_order(&external).await;
    move_order(&external, &id, "pending").await;
    let database_url = external.database_url.clone();
    external.stop().await.unwrap();
    let order = TestApp::spawn_on_database(&order::SPEC, order::routes, &database_url, |env| {
        env.set("FULFILMENT_MODE", "auto");
    })
    .await;
    tokio::time::sleep(order::fulfilment::POLL * 3).await;
    assert_eq!(order_state(&order, &id).await, "pending");

    let cancel: Value = request_cancel(&order, &id).await.json().await.unwrap();
    let done = wait_for_cancel_state(&order, cancel["id"].as_str().unwrap(), "done").await;
    assert!(done["effectiveCancellationDate"].is_string(), "{done}");
    let cancelled = order.get_json(&order_path(&format!("productOrder/{id}"))).await;
    assert_eq!(cancelled["state"], "cancelled");
    assert!(cancelled["cancellationDate"].is_string(), "{cancelled}");
    assert!(cancelled["productOrderItem"].as_array().unwrap().iter().all(|i| i["state"] == "cancelled"), "{cancelled}");
    assert_eq!(
        state_history(&order, &id, "productOrder").await,
        ["acknowledged", "pending", "assessingCancellation", "pendingCancellation", "cancelled"]
    );
}

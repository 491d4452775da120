//! The order and order item state machines (TMF622 diagrams), driven by PATCH, table by table, with the
//! events each transition writes.

use crate::helpers::*;
use bss_testkit::TestApp;
use bss_testkit::conformance::assert_tmf_error;
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};

/// The ProductOrder diagram as drawn, written out independently of the service's table.
const ORDER_DIAGRAM: &[(&str, &[&str])] = &[
    ("acknowledged", &["inProgress", "pending"]),
    ("inProgress", &["pending", "assessingCancellation", "held", "completed", "failed", "partial"]),
    ("pending", &["inProgress", "assessingCancellation", "cancelled"]),
    ("assessingCancellation", &["inProgress", "pending", "held", "pendingCancellation"]),
    ("held", &["inProgress", "assessingCancellation", "cancelled"]),
    ("pendingCancellation", &["cancelled"]),
    ("cancelled", &[]),
    ("completed", &[]),
    ("failed", &[]),
    ("partial", &[]),
];

/// Every state a client can name, `rejected` included (it is known but never reached).
const ALL_STATES: &[&str] = &[
    "acknowledged",
    "inProgress",
    "pending",
    "assessingCancellation",
    "held",
    "pendingCancellation",
    "rejected",
    "cancelled",
    "completed",
    "failed",
    "partial",
];

fn next(diagram: &[(&str, &'static [&'static str])], state: &str) -> &'static [&'static str] {
    diagram.iter().find(|(s, _)| *s == state).map_or(&[], |(_, n)| *n)
}

/// The shortest legal path from `acknowledged` to each state of `diagram` (breadth first).
fn paths(diagram: &[(&'static str, &'static [&'static str])]) -> HashMap<&'static str, Vec<&'static str>> {
    let mut paths = HashMap::from([("acknowledged", vec![])]);
    let mut queue = VecDeque::from(["acknowledged"]);
    while let Some(state) = queue.pop_front() {
        for to in next(diagram, state) {
            if !paths.contains_key(to) {
                let mut path = paths[state].clone();
                path.push(*to);
                paths.insert(*to, path);
                queue.push_back(*to);
            }
        }
    }
    paths
}

async fn new_order(order: &TestApp) -> String {
    let body = json!({"productOrderItem": [{"id": "1", "action": "add"}, {"id": "2", "action": "add"}]});
    create(order, &order_path("productOrder"), &body).await["id"].as_str().unwrap().to_owned()
}

async fn patch(order: &TestApp, id: &str, body: &Value) -> reqwest::Response {
    order.patch_as(&order_path(&format!("productOrder/{id}")), "application/merge-patch+json", body).await
}

async fn move_order(order: &TestApp, id: &str, to: &str) -> reqwest::Response {
    patch(order, id, &json!({"state": to})).await
}

/// The order states carried by its StateChangeEvents, oldest first, after checking it has one CreateEvent
/// first and after it nothing but StateChangeEvents, each move to `pending` followed by exactly one
/// ProductOrderInformationRequiredEvent carrying the same order.
async fn state_changes(order: &TestApp, id: &str) -> Vec<String> {
    let events = events_of(order, id).await;
    assert_eq!(events.first().map(|(t, _)| t.as_str()), Some("ProductOrderCreateEvent"), "{id}");
    let mut states = Vec::new();
    let mut rest = events[1..].iter();
    while let Some((event_type, payload)) = rest.next() {
        assert_eq!(event_type, "ProductOrderStateChangeEvent", "{payload}");
        assert_eq!(payload["eventType"], "ProductOrderStateChangeEvent", "{payload}");
        let state = payload["event"]["productOrder"]["state"].as_str().unwrap().to_owned();
        if state == "pending" {
            let (next_type, next) = rest.next().expect("an InformationRequiredEvent after the move to pending");
            assert_eq!(next_type, "ProductOrderInformationRequiredEvent", "{next}");
            assert_eq!(next["eventType"], "ProductOrderInformationRequiredEvent", "{next}");
            assert_eq!(next["event"], payload["event"], "it carries the order as it moved to pending");
            assert_ne!(next["eventId"], payload["eventId"], "its own eventId");
        }
        states.push(state);
    }
    states
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_order_transition_of_the_diagram_is_allowed_and_every_other_is_409_with_one_event_per_move() {
    let order = order_alone().await;
    let paths = paths(ORDER_DIAGRAM);
    assert_eq!(paths.len(), ORDER_DIAGRAM.len(), "every state of the diagram is reachable");
    let (mut legal, mut illegal) = (0, 0);
    for (from, _) in ORDER_DIAGRAM {
        for to in ALL_STATES.iter().filter(|to| *to != from) {
            let case = format!("{from} → {to}");
            let id = new_order(&order).await;
            for step in &paths[from] {
                assert_eq!(move_order(&order, &id, step).await.status(), 200, "{case}: reaching {step}");
            }
            let allowed = next(ORDER_DIAGRAM, from).contains(to);
            let response = move_order(&order, &id, to).await;
            let mut expected: Vec<String> = paths[from].iter().map(|s| s.to_string()).collect();
            if allowed {
                legal += 1;
                assert_eq!(response.status(), 200, "{case}");
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["state"], *to, "{case}");
                expected.push(to.to_string());
            } else {
                illegal += 1;
                assert_tmf_error(response, 409, &case).await;
                let now = order.get_json(&order_path(&format!("productOrder/{id}"))).await;
                assert_eq!(now["state"], *from, "{case}: an illegal move changes nothing");
            }
            assert_eq!(state_changes(&order, &id).await, expected, "{case}: one StateChangeEvent per move, in order");
        }
    }
    assert_eq!(legal, ORDER_DIAGRAM.iter().map(|(_, n)| n.len()).sum::<usize>());
    assert!(illegal > 80, "{illegal}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn final_states_stay_final() {
    let order = order_alone().await;
    let paths = paths(ORDER_DIAGRAM);
    for final_state in ["cancelled", "completed", "failed", "partial"] {
        let id = new_order(&order).await;
        for step in &paths[final_state] {
            assert_eq!(move_order(&order, &id, step).await.status(), 200);
        }
        let before = order.get_json(&order_path(&format!("productOrder/{id}"))).await;
        for to in ALL_STATES.iter().filter(|to| **to != final_state) {
            assert_tmf_error(move_order(&order, &id, to).await, 409, &format!("{final_state} → {to}")).await;
        }
        assert_eq!(order.get_json(&order_path(&format!("productOrder/{id}"))).await, before, "{final_state}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_state_is_400_and_a_new_order_cannot_skip_acknowledged() {
    let order = order_alone().await;
    let id = new_order(&order).await;
    assert_tmf_error(move_order(&order, &id, "shipped").await, 400, "unknown state").await;
    assert_tmf_error(move_order(&order, &id, "completed").await, 409, "acknowledged → completed").await;
    assert_eq!(state_changes(&order, &id).await, Vec::<String>::new());
}

/// The item diagram: the order's without `partial`.
fn item_diagram() -> Vec<(&'static str, &'static [&'static str])> {
    const ITEM: &[(&str, &[&str])] = &[
        ("acknowledged", &["inProgress", "pending"]),
        ("inProgress", &["pending", "assessingCancellation", "held", "completed", "failed"]),
        ("pending", &["inProgress", "assessingCancellation", "cancelled"]),
        ("assessingCancellation", &["inProgress", "pending", "held", "pendingCancellation"]),
        ("held", &["inProgress", "assessingCancellation", "cancelled"]),
        ("pendingCancellation", &["cancelled"]),
        ("cancelled", &[]),
        ("completed", &[]),
        ("failed", &[]),
    ];
    ITEM.to_vec()
}

async fn move_item(order: &TestApp, id: &str, item_state: &str) -> reqwest::Response {
    // A merge patch replaces arrays whole: the client sends both items, the second unchanged.
    let body = json!({"productOrderItem": [
        {"id": "1", "action": "add", "state": item_state},
        {"id": "2", "action": "add", "state": "acknowledged"},
    ]});
    patch(order, id, &body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_item_transition_of_the_diagram_is_allowed_and_every_other_is_409() {
    let order = order_alone().await;
    let diagram = item_diagram();
    let paths = paths(&diagram);
    assert_eq!(paths.len(), diagram.len());
    let item_states: Vec<&str> = ALL_STATES.iter().copied().filter(|s| *s != "partial").collect();
    for (from, next_states) in &diagram {
        for to in item_states.iter().filter(|to| *to != from) {
            let case = format!("item {from} → {to}");
            let id = new_order(&order).await;
            for step in &paths[from] {
                assert_eq!(move_item(&order, &id, step).await.status(), 200, "{case}: reaching {step}");
            }
            let response = move_item(&order, &id, to).await;
            let now = order.get_json(&order_path(&format!("productOrder/{id}"))).await;
            if next_states.contains(to) {
                assert_eq!(response.status(), 200, "{case}");
                assert_eq!(now["productOrderItem"][0]["state"], *to, "{case}");
            } else {
                assert_tmf_error(response, 409, &case).await;
                assert_eq!(now["productOrderItem"][0]["state"], *from, "{case}: nothing changed");
            }
            assert_eq!(now["state"], "acknowledged", "{case}: the order's own state is untouched");
        }
    }
    // `partial` is an order state only.
    let id = new_order(&order).await;
    assert_eq!(move_item(&order, &id, "inProgress").await.status(), 200);
    assert_tmf_error(move_item(&order, &id, "partial").await, 400, "item → partial").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_cannot_change_what_was_ordered_nor_the_server_computed_totals() {
    let order = order_alone().await;
    let id = new_order(&order).await;
    let cases = [
        (
            "item added",
            json!({"productOrderItem": [{"id": "1", "action": "add"}, {"id": "2", "action": "add"}, {"id": "3", "action": "add"}]}),
        ),
        (
            "item action changed",
            json!({"productOrderItem": [{"id": "1", "action": "delete"}, {"id": "2", "action": "add"}]}),
        ),
        (
            "item price sent",
            json!({"productOrderItem": [{"id": "1", "action": "add", "itemPrice": []}, {"id": "2", "action": "add"}]}),
        ),
        ("order total sent", json!({"orderTotalPrice": []})),
        ("order date", json!({"orderDate": "2020-01-01T00:00:00Z"})),
    ];
    for (case, body) in cases {
        assert_tmf_error(patch(&order, &id, &body).await, 400, case).await;
    }
    let response = patch(&order, &id, &json!({"description": "ring twice", "priority": "1"})).await;
    assert_eq!(response.status(), 200);
    let events = events_of(&order, &id).await;
    let types: Vec<&str> = events.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(types, ["ProductOrderCreateEvent", "ProductOrderAttributeValueChangeEvent"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_order_that_never_progressed_can_be_deleted() {
    let order = order_alone().await;
    let untouched = new_order(&order).await;
    assert_eq!(order.delete_authorized(&order_path(&format!("productOrder/{untouched}"))).await.status(), 204);
    let started = new_order(&order).await;
    assert_eq!(move_order(&order, &started, "inProgress").await.status(), 200);
    assert_tmf_error(order.delete_authorized(&order_path(&format!("productOrder/{started}"))).await, 409, "inProgress")
        .await;
    assert_eq!(order.get_json(&order_path(&format!("productOrder/{started}"))).await["state"], "inProgress");
}

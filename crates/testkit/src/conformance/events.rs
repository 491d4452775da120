//! Conformance checks of the TMF630 event machinery every service runs (`bss_tmf::events`, `bss_tmf::hub`):
//! the outbox, its relay to the service's Redis Stream, deliveries to `/hub` listeners and the `/hub` API.
//!
//! Events are produced by a test-only route (`POST <base>/__conformance/event`, [`emit_event`]) that enqueues one
//! event in its own transaction, as a resource store does with its write; the services' own resources are not
//! needed. Listeners are tiny HTTP servers on 127.0.0.1 that record what they receive ([`Recorder`]); the stream
//! is read back with `XRANGE`. Outages are real: a listener whose server is stopped, Redis behind a cut
//! [`TcpProxy`], an app killed without any graceful step ([`TestApp::kill`]).

use super::{Subject, assert_tmf_error, metric_value, with_test_routes};
use crate::listener::{Recorder, callback};
use crate::proxy::{TcpProxy, host_port};
use crate::{TestApp, token};
use actix_web::{HttpResponse, web};
use bss_common::auth::ALL_SCOPES;
use bss_common::kv::redis;
use bss_common::{ApiError, ServiceContext, ServiceSpec};
use bss_tmf::events::{EventsConfig, NewEvent, PublishedEvent, PublishedHook};
use serde_json::{Value, json};
use sqlx::{Connection as _, Row};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const RESOURCE_TYPE: &str = "conformanceItem";
const CREATE: &str = "ConformanceItemCreateEvent";
const CHANGE: &str = "ConformanceItemAttributeValueChangeEvent";
const DELETE: &str = "ConformanceItemDeleteEvent";

/// Test-only handler: enqueues the event described by the body (`eventType`, `resourceId`, `resource`) in a
/// transaction of its own and commits it, or rolls it back when `rollback` is true. Answers `{"eventId"}`.
pub(super) async fn emit_event(
    ctx: web::Data<ServiceContext>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let resource_id = body["resourceId"].as_str().unwrap_or_default();
    let mut tx = ctx.db.begin().await?;
    let event = NewEvent {
        event_type: body["eventType"].as_str().unwrap_or_default().to_owned(),
        resource_type: RESOURCE_TYPE,
        resource_id,
        resource: &body["resource"],
    };
    let event_id = bss_tmf::events::enqueue(&mut tx, event).await?;
    if body["rollback"] == true {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
    }
    Ok(HttpResponse::Created().json(json!({ "eventId": event_id })))
}

/// A loopback port nothing listens on (a listener that is down).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Polls `check` until it yields a value; panics naming `what` after `limit`.
async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn hub_path(subject: Subject) -> String {
    format!("{}/hub", subject.base())
}

/// Registers a listener through the API; returns its id.
async fn register(app: &TestApp, subject: Subject, callback: &str, query: Option<&str>) -> String {
    let mut body = json!({ "callback": callback });
    if let Some(query) = query {
        body["query"] = json!(query);
    }
    let response =
        app.client.post(app.url(&hub_path(subject))).bearer_auth(token(ALL_SCOPES)).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 201, "registering {body}");
    let created: Value = response.json().await.unwrap();
    created["id"].as_str().expect("an id").to_owned()
}

fn item(id: &str, status: &str) -> Value {
    json!({ "id": id, "name": format!("Item {id}"), "lifecycleStatus": status, "@type": "ConformanceItem",
            "price": { "unit": "EUR", "value": 12.5 }, "tags": ["a", "b"] })
}

/// Writes one event through the API (the write must succeed whatever the listeners and Redis do).
async fn emit(app: &TestApp, subject: Subject, event_type: &str, resource: &Value, rollback: bool) -> String {
    let body =
        json!({ "eventType": event_type, "resourceId": resource["id"], "resource": resource, "rollback": rollback });
    let response = app
        .client
        .post(app.url(&subject.test_path("/event")))
        .bearer_auth(token(ALL_SCOPES))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "the write commits");
    response.json::<Value>().await.unwrap()["eventId"].as_str().expect("eventId").to_owned()
}

/// The entries of the app's event stream, oldest first, as field maps.
async fn stream_entries(app: &TestApp) -> Vec<HashMap<String, String>> {
    let stream = bss_tmf::events::stream_name(&app.context);
    let client = redis::Client::open(crate::redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.expect("Redis reachable from the test");
    let entries: Vec<(String, Vec<String>)> =
        redis::cmd("XRANGE").arg(&stream).arg("-").arg("+").query_async(&mut conn).await.expect("XRANGE");
    entries.into_iter().map(|(_, fields)| fields.chunks(2).map(|kv| (kv[0].clone(), kv[1].clone())).collect()).collect()
}

async fn wait_for_stream(app: &TestApp, count: usize, limit: Duration) -> Vec<HashMap<String, String>> {
    eventually(limit, &format!("{count} entries on the stream"), || async {
        let entries = stream_entries(app).await;
        (entries.len() >= count).then_some(entries)
    })
    .await
}

fn stream_event_ids(entries: &[HashMap<String, String>]) -> Vec<String> {
    entries.iter().map(|e| e.get("eventId").cloned().unwrap_or_default()).collect()
}

/// A delivery row: (eventId, attempts, last_error, delivered, failed), in outbox order.
type DeliveryRow = (String, i32, Option<String>, bool, bool);

async fn deliveries(app: &TestApp, listener_id: &str) -> Vec<DeliveryRow> {
    let mut conn = app.db().await;
    sqlx::query(
        "SELECT o.event_id::text AS event_id, d.attempts, d.last_error, d.delivered_at IS NOT NULL AS delivered,
                d.failed_at IS NOT NULL AS failed
         FROM listener_delivery d JOIN outbox o ON o.id = d.outbox_id WHERE d.listener_id = $1 ORDER BY o.id",
    )
    .bind(listener_id)
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get("event_id"), r.get("attempts"), r.get("last_error"), r.get("delivered"), r.get("failed")))
    .collect()
}

async fn unpublished(app: &TestApp) -> i64 {
    let mut conn = app.db().await;
    sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetch_one(&mut conn).await.unwrap()
}

async fn open_deliveries(app: &TestApp) -> i64 {
    let mut conn = app.db().await;
    sqlx::query_scalar("SELECT count(*) FROM listener_delivery WHERE delivered_at IS NULL AND failed_at IS NULL")
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

pub async fn a_registered_listener_and_the_stream_receive_each_committed_event_with_its_full_payload(subject: Subject) {
    let app = subject.spawn().await;
    let name = subject.spec.name;
    let recorder = Recorder::default();
    let server = recorder.serve(0, 201).await;
    let listener_id = register(&app, subject, &server.callback(), None).await;

    let created = item("item-1", "Active");
    let first = emit(&app, subject, CREATE, &created, false).await;
    let rolled_back = emit(&app, subject, DELETE, &created, true).await;
    let changed = item("item-1", "Retired");
    let second = emit(&app, subject, CHANGE, &changed, false).await;

    let bodies = recorder.wait_for(2, Duration::from_secs(15), "two deliveries").await;
    assert_eq!(recorder.event_ids(), [first.clone(), second.clone()], "in commit order, the rolled-back one never");
    let body = &bodies[0];
    assert_eq!(body["@type"], CREATE, "{body}");
    assert_eq!(body["eventType"], CREATE, "{body}");
    assert_eq!(body["eventId"], first.as_str(), "{body}");
    assert_eq!(body["event"][RESOURCE_TYPE], created, "the full resource under its type: {body}");
    let time = body["eventTime"].as_str().expect("eventTime");
    assert!(time.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(time).is_ok(), "RFC 3339 UTC: {time}");
    assert_eq!(bodies[1]["event"][RESOURCE_TYPE]["lifecycleStatus"], "Retired", "the resource after the change");
    for content_type in recorder.content_types().iter() {
        assert!(content_type.starts_with("application/json"), "POSTed as JSON, got {content_type:?}");
    }

    let entries = wait_for_stream(&app, 2, Duration::from_secs(15)).await;
    assert_eq!(stream_event_ids(&entries), [first.clone(), second.clone()], "the stream has the same events, in order");
    let entry = &entries[0];
    assert_eq!(entry["eventType"], CREATE);
    assert_eq!(entry["resourceType"], RESOURCE_TYPE);
    assert_eq!(entry["resourceId"], "item-1");
    let payload: Value = serde_json::from_str(&entry["payload"]).expect("payload is JSON");
    assert_eq!(&payload, body, "the stream's payload is the delivered payload");

    let mut conn = app.db().await;
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE event_id::text = $1")
        .bind(&rolled_back)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(kept, 0, "a rolled-back write leaves no event");
    for (event_id, attempts, _, delivered, failed) in deliveries(&app, &listener_id).await {
        assert!(delivered && !failed && attempts == 1, "{event_id}: delivered at the first attempt");
    }

    let metrics = eventually(Duration::from_secs(5), "metrics after publishing", || async {
        let text = app.metrics_text().await;
        let published = metric_value(&text, "bss_oss_events_published_total", &[("service", name)]);
        (published == 2.0 && metric_value(&text, "bss_oss_outbox_backlog", &[("service", name)]) == 0.0).then_some(text)
    })
    .await;
    assert_eq!(
        metric_value(&metrics, "bss_oss_events_published_total", &[("service", name), ("event_type", CREATE)]),
        1.0
    );
    assert_eq!(
        metric_value(&metrics, "bss_oss_listener_deliveries_total", &[("service", name), ("outcome", "delivered")]),
        2.0
    );
    for (metric, kind) in [
        ("bss_oss_events_published_total", "counter"),
        ("bss_oss_outbox_backlog", "gauge"),
        ("bss_oss_listener_deliveries_total", "counter"),
    ] {
        assert!(metrics.contains(&format!("# HELP {metric} ")), "HELP for {metric}");
        assert!(metrics.contains(&format!("# TYPE {metric} {kind}")), "TYPE for {metric}");
    }

    // A deleted listener gets nothing more (and its pending deliveries go with it).
    let deleted = app
        .client
        .delete(app.url(&format!("{}/{listener_id}", hub_path(subject))))
        .bearer_auth(token(ALL_SCOPES))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let third = emit(&app, subject, CREATE, &item("item-2", "Active"), false).await;
    let entries = wait_for_stream(&app, 3, Duration::from_secs(15)).await;
    assert_eq!(stream_event_ids(&entries)[2], third);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM listener_delivery").fetch_one(&mut conn).await.unwrap();
    assert_eq!(rows, 0, "no delivery for a deleted listener");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(recorder.bodies().len(), 2, "nothing sent after deletion");
    server.stop().await;
}

pub async fn hub_registrations_are_created_listed_fetched_and_deleted_and_bad_ones_get_tmf_errors(subject: Subject) {
    let app = subject.spawn().await;
    let hub = hub_path(subject);
    let bearer = token(ALL_SCOPES);
    let post = |body: Value| app.client.post(app.url(&hub)).bearer_auth(&bearer).json(&body).send();

    let query = "eventType=ConformanceItemCreateEvent&event.conformanceItem.lifecycleStatus=Active";
    let response =
        post(json!({ "callback": "https://listener.example.com/events?tenant=1", "query": query })).await.unwrap();
    assert_eq!(response.status(), 201);
    let location = response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(location, format!("{hub}/{id}"), "Location names the registration");
    assert_eq!(created["callback"], "https://listener.example.com/events?tenant=1");
    assert_eq!(created["query"], query);
    let plain: Value =
        post(json!({ "callback": "http://listener.example.com:8080/all" })).await.unwrap().json().await.unwrap();
    assert!(plain["query"].is_null(), "no query, no filter: {plain}");
    let plain_id = plain["id"].as_str().unwrap().to_owned();

    let fetched = app.get_authorized(&format!("{hub}/{id}")).await;
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.json::<Value>().await.unwrap(), created);
    let listed = app.get_authorized(&hub).await;
    assert_eq!(listed.status(), 200);
    let listed: Value = listed.json().await.unwrap();
    let ids: Vec<&str> = listed.as_array().expect("an array").iter().filter_map(|l| l["id"].as_str()).collect();
    assert_eq!(ids, [id.as_str(), plain_id.as_str()], "both, oldest first");

    for (body, field) in [
        (json!({}), "callback"),
        (json!({ "query": "eventType=X" }), "callback"),
        (json!({ "callback": "" }), "callback"),
        (json!({ "callback": 42 }), "callback"),
        (json!({ "callback": "/relative/path" }), "callback"),
        (json!({ "callback": "ftp://listener.example.com/x" }), "callback"),
        (json!({ "callback": "not a url" }), "callback"),
        (json!(["https://listener.example.com/x"]), "callback"),
        (json!({ "callback": "https://listener.example.com/x", "query": "limit=5" }), "query"),
        (json!({ "callback": "https://listener.example.com/x", "query": "=x" }), "query"),
        (json!({ "callback": "https://listener.example.com/x", "query": "a.like=1" }), "query"),
        (json!({ "callback": "https://listener.example.com/x", "query": 7 }), "query"),
    ] {
        let case = format!("POST {body}");
        let error = assert_tmf_error(post(body).await.unwrap(), 400, &case).await;
        assert!(error["message"].as_str().unwrap_or("").contains(field), "{case}: names {field}: {error}");
    }
    let listed: Value = app.get_authorized(&hub).await.json().await.unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "refused registrations are not stored");

    let missing = format!("{hub}/no-such-listener");
    assert_tmf_error(app.get_authorized(&missing).await, 404, "GET unknown listener").await;
    let delete_missing = app.client.delete(app.url(&missing)).bearer_auth(&bearer).send().await.unwrap();
    assert_tmf_error(delete_missing, 404, "DELETE unknown listener").await;
    let read_only = token(&[&format!("{}:read", subject.spec.name)]);
    let refused = app
        .client
        .post(app.url(&hub))
        .bearer_auth(&read_only)
        .json(&json!({ "callback": "https://listener.example.com/x" }))
        .send()
        .await
        .unwrap();
    assert_tmf_error(refused, 403, "registering needs the write scope").await;
    let readable = app.client.get(app.url(&hub)).bearer_auth(&read_only).send().await.unwrap();
    assert_eq!(readable.status(), 200, "listing needs the read scope");
    assert_tmf_error(app.client.get(app.url(&hub)).send().await.unwrap(), 401, "no token").await;

    let deleted = app.client.delete(app.url(&format!("{hub}/{id}"))).bearer_auth(&bearer).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    assert_tmf_error(app.get_authorized(&format!("{hub}/{id}")).await, 404, "GET deleted listener").await;
    let listed: Value = app.get_authorized(&hub).await.json().await.unwrap();
    assert_eq!(listed, json!([plain]), "only the other one is left");

    // Registrations and deletions are configuration changes in the audit log, with who did them.
    eventually(Duration::from_secs(10), "hub changes audited", || async {
        let mut conn = app.db().await;
        let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT action, actor, resource_id FROM audit_log WHERE category = 'configuration' AND action LIKE 'hub.%'
             ORDER BY id",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let expected = [
            ("hub.register".to_owned(), "test-user".to_owned(), Some(id.clone())),
            ("hub.register".to_owned(), "test-user".to_owned(), Some(plain_id.clone())),
            ("hub.unregister".to_owned(), "test-user".to_owned(), Some(id.clone())),
        ];
        (rows == expected).then_some(())
    })
    .await;
    let mut conn = app.db().await;
    let detail: String =
        sqlx::query_scalar("SELECT detail::text FROM audit_log WHERE action = 'hub.register' ORDER BY id LIMIT 1")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(!detail.contains("tenant=1"), "the audit keeps the callback without its query string: {detail}");
}

pub async fn private_callbacks_are_refused_unless_the_setting_allows_them(subject: Subject) {
    let app = subject
        .spawn_with(|env| {
            env.set("HUB_ALLOW_PRIVATE_CALLBACKS", "false");
        })
        .await;
    let hub = app.url(&hub_path(subject));
    let bearer = token(ALL_SCOPES);
    for callback in [
        "http://localhost:8080/listener",
        "http://127.0.0.1:9000/listener",
        "http://127.8.9.10/listener",
        "http://2130706433/listener",
        "http://10.1.2.3/listener",
        "http://172.16.5.4/listener",
        "http://192.168.0.10/listener",
        "http://169.254.169.254/latest/meta-data",
        "http://0.0.0.0/listener",
        "http://[::1]/listener",
        "http://[::]/listener",
        "http://[fe80::1]/listener",
        "http://[fd00::1]/listener",
        "http://[::ffff:10.0.0.1]/listener",
    ] {
        let response = app.client.post(&hub).bearer_auth(&bearer).json(&json!({ "callback": callback })).send().await;
        let error = assert_tmf_error(response.unwrap(), 400, callback).await;
        assert!(error["message"].as_str().unwrap_or("").contains("callback"), "{callback}: {error}");
    }
    let listed: Value = app.get_authorized(&hub_path(subject)).await.json().await.unwrap();
    assert_eq!(listed, json!([]), "nothing stored");
    for public in ["https://listener.example.com/events", "http://8.8.8.8/listener", "http://[2001:db8::1]/listener"] {
        let response = app.client.post(&hub).bearer_auth(&bearer).json(&json!({ "callback": public })).send().await;
        assert_eq!(response.unwrap().status(), 201, "{public} is a public callback");
    }

    // A listener stored while private callbacks were allowed is not called once they are not: the setting in
    // force at delivery time decides.
    let recorder = Recorder::default();
    let server = recorder.serve(0, 200).await;
    let mut conn = app.db().await;
    sqlx::query("INSERT INTO hub_listener (id, callback) VALUES ('stored-earlier', $1)")
        .bind(server.callback())
        .execute(&mut conn)
        .await
        .unwrap();
    emit(&app, subject, CREATE, &item("item-1", "Active"), false).await;
    let rows = eventually(Duration::from_secs(10), "the refused delivery attempt", || async {
        let rows = deliveries(&app, "stored-earlier").await;
        rows.first().is_some_and(|r| r.1 >= 1 && r.2.is_some()).then_some(rows)
    })
    .await;
    assert!(rows[0].2.as_deref().unwrap_or("").contains("refused"), "{rows:?}");
    assert!(recorder.bodies().is_empty(), "nothing was sent to the internal address");
    server.stop().await;

    // The local stack and the tests allow them.
    let allowing = subject.spawn().await;
    register(&allowing, subject, "http://127.0.0.1:9000/listener", None).await;
}

pub async fn a_listener_that_is_down_gets_its_events_in_order_when_it_comes_back(subject: Subject) {
    let app = subject.spawn().await;
    let port = free_port();
    let listener_id = register(&app, subject, &callback(port), None).await;
    let mut sent = Vec::new();
    for i in 0..5 {
        // Each write succeeds while the listener is down: deliveries never sit in the request path.
        sent.push(emit(&app, subject, CREATE, &item(&format!("item-{i}"), "Active"), false).await);
    }

    let rows = eventually(Duration::from_secs(15), "the first delivery retried", || async {
        let rows = deliveries(&app, &listener_id).await;
        (rows.first().is_some_and(|r| r.1 >= 2)).then_some(rows)
    })
    .await;
    let (_, attempts, last_error, delivered, failed) = &rows[0];
    assert!(!delivered && !failed, "still open");
    assert!(last_error.as_deref().is_some_and(|e| !e.is_empty()), "the failure is recorded ({attempts} attempts)");
    for (event_id, attempts, last_error, ..) in &rows[1..] {
        assert_eq!((*attempts, last_error.as_deref()), (0, None), "{event_id}: later events wait for the first one");
    }

    let recorder = Recorder::default();
    let back = Instant::now();
    let server = recorder.serve(port, 200).await;
    recorder.wait_for(5, Duration::from_secs(30), "the five pending events").await;
    let resumed = back.elapsed();
    assert_eq!(recorder.event_ids(), sent, "every pending event, in order, once");
    eprintln!("listener back on port {port}: 5 pending events delivered {resumed:?} later");

    let rows = eventually(Duration::from_secs(5), "outcomes recorded", || async {
        let rows = deliveries(&app, &listener_id).await;
        rows.iter().all(|r| r.3).then_some(rows)
    })
    .await;
    // At least one recorded failure, then the delivery. (Attempts are counted when claimed, so the attempt in
    // flight when the listener came back may be the one that delivered: 2 is the least, not 3.)
    assert!(rows[0].1 >= 2, "first event: a failed attempt and then the delivery ({} attempts)", rows[0].1);
    assert!(rows[1..].iter().all(|r| r.1 == 1), "the others went at their first attempt: {rows:?}");
    let text = app.metrics_text().await;
    let retries = metric_value(
        &text,
        "bss_oss_listener_deliveries_total",
        &[("service", subject.spec.name), ("outcome", "retry")],
    );
    assert!(retries >= 2.0, "retries counted: {retries}");
    server.stop().await;
}

pub async fn a_listener_that_keeps_failing_is_given_up_without_delaying_other_listeners(subject: Subject) {
    let app = subject
        .spawn_with(|env| {
            env.set("HUB_DELIVERY_MAX_ATTEMPTS", "2");
        })
        .await;
    let failing = Recorder::default();
    let failing_server = failing.serve(0, 500).await;
    let hanging = Recorder::default();
    let hanging_server = hanging.serve_slowly(0, 200, Duration::from_secs(8)).await;
    let healthy = Recorder::default();
    let healthy_server = healthy.serve(0, 204).await;
    let failing_id = register(&app, subject, &failing_server.callback(), None).await;
    let hanging_id = register(&app, subject, &hanging_server.callback(), None).await;
    let healthy_id = register(&app, subject, &healthy_server.callback(), None).await;

    let first = emit(&app, subject, CREATE, &item("item-1", "Active"), false).await;
    let second = emit(&app, subject, CREATE, &item("item-2", "Active"), false).await;

    // The healthy listener has both events while the others still hold their first: neither a listener that
    // fails nor one that hangs holds up another.
    healthy.wait_for(2, Duration::from_secs(10), "the healthy listener's events").await;
    assert_eq!(healthy.event_ids(), [first.clone(), second.clone()]);
    let given_up = deliveries(&app, &failing_id).await.iter().filter(|r| r.4).count();
    assert!(given_up < 2, "the healthy listener did not wait for the failing one's retries");
    let answered = deliveries(&app, &hanging_id).await.iter().filter(|r| r.3).count();
    assert_eq!(answered, 0, "the healthy listener did not wait for the hanging one");

    let rows = eventually(Duration::from_secs(20), "both deliveries given up", || async {
        let rows = deliveries(&app, &failing_id).await;
        rows.iter().all(|r| r.4).then_some(rows)
    })
    .await;
    for (event_id, attempts, last_error, delivered, _) in &rows {
        assert_eq!(*attempts, 2, "{event_id}: HUB_DELIVERY_MAX_ATTEMPTS attempts");
        assert!(!delivered);
        assert!(last_error.as_deref().unwrap_or("").contains("500"), "{event_id}: {last_error:?}");
    }
    assert_eq!(failing.event_ids(), [first.clone(), first.clone(), second.clone(), second.clone()], "in order");
    assert!(deliveries(&app, &healthy_id).await.iter().all(|r| r.3 && r.1 == 1));

    let text = app.metrics_text().await;
    let count = |outcome| {
        metric_value(
            &text,
            "bss_oss_listener_deliveries_total",
            &[("service", subject.spec.name), ("outcome", outcome)],
        )
    };
    assert_eq!((count("failed"), count("retry")), (2.0, 2.0));
    assert!(count("delivered") >= 2.0);
    let logs = crate::captured_logs();
    let warned = logs.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).any(|line| {
        line["level"] == "WARN"
            && line["fields"]["listener_id"] == failing_id.as_str()
            && line["fields"]["event_id"] == first.as_str()
    });
    assert!(warned, "a WARN names the listener and the event given up");
    failing_server.stop().await;
    hanging_server.stop().await;
    healthy_server.stop().await;
}

pub async fn a_listener_gets_only_the_events_its_query_matches(subject: Subject) {
    let app = subject.spawn().await;
    let (all, matching, never) = (Recorder::default(), Recorder::default(), Recorder::default());
    let servers = [all.serve(0, 200).await, matching.serve(0, 200).await, never.serve(0, 200).await];
    register(&app, subject, &servers[0].callback(), None).await;
    let matching_query = format!("eventType={CREATE}&event.{RESOURCE_TYPE}.lifecycleStatus=Active");
    let matching_id = register(&app, subject, &servers[1].callback(), Some(&matching_query)).await;
    let never_id = register(&app, subject, &servers[2].callback(), Some("eventType=NoSuchEvent")).await;

    let wanted_1 = emit(&app, subject, CREATE, &item("item-1", "Active"), false).await;
    emit(&app, subject, CREATE, &item("item-2", "Retired"), false).await;
    emit(&app, subject, DELETE, &item("item-3", "Active"), false).await;
    emit(&app, subject, CHANGE, &item("item-4", "Active"), false).await;
    let wanted_2 = emit(&app, subject, CREATE, &item("item-5", "Active"), false).await;

    all.wait_for(5, Duration::from_secs(15), "every event for the listener without a query").await;
    eventually(Duration::from_secs(15), "no open delivery left", || async {
        (open_deliveries(&app).await == 0).then_some(())
    })
    .await;
    assert_eq!(matching.event_ids(), [wanted_1, wanted_2], "only matching events, in order");
    assert_eq!(deliveries(&app, &matching_id).await.len(), 2);
    assert!(never.bodies().is_empty(), "a query that matches nothing gets nothing");
    assert!(deliveries(&app, &never_id).await.is_empty());
    for server in servers {
        server.stop().await;
    }
}

pub async fn events_wait_in_the_outbox_while_redis_is_cut_and_are_published_in_order_after(subject: Subject) {
    let proxy = TcpProxy::start(&host_port(&crate::redis_url())).await;
    let app = subject.spawn_with(crate::proxy::redis_behind(&proxy)).await;
    let name = subject.spec.name;
    let recorder = Recorder::default();
    let server = recorder.serve(0, 200).await;
    register(&app, subject, &server.callback(), None).await;
    let mut sent = vec![emit(&app, subject, CREATE, &item("item-0", "Active"), false).await];
    let published = Instant::now();
    wait_for_stream(&app, 1, Duration::from_secs(10)).await;
    eprintln!("relay latency with Redis up: first event on the stream {:?} after its commit", published.elapsed());

    proxy.cut();
    for i in 1..=5 {
        sent.push(emit(&app, subject, CHANGE, &item(&format!("item-{i}"), "Active"), false).await);
    }
    // Listeners do not depend on Redis: they get every event during the outage.
    recorder.wait_for(6, Duration::from_secs(15), "deliveries during the Redis outage").await;
    eventually(Duration::from_secs(10), "backlog gauge at 5", || async {
        let text = app.metrics_text().await;
        (metric_value(&text, "bss_oss_outbox_backlog", &[("service", name)]) == 5.0).then_some(())
    })
    .await;
    assert_eq!(unpublished(&app).await, 5, "the events wait in the outbox");
    assert_eq!(stream_entries(&app).await.len(), 1, "nothing reached the stream");

    let restored = Instant::now();
    proxy.restore();
    let entries = wait_for_stream(&app, 6, Duration::from_secs(30)).await;
    eprintln!("Redis restored: 5 waiting events on the stream {:?} later", restored.elapsed());
    assert_eq!(stream_event_ids(&entries), sent, "every event once, in commit order");
    assert_eq!(unpublished(&app).await, 0);
    eventually(Duration::from_secs(10), "backlog gauge back at 0", || async {
        let text = app.metrics_text().await;
        (metric_value(&text, "bss_oss_outbox_backlog", &[("service", name)]) == 0.0).then_some(())
    })
    .await;
    assert_eq!(recorder.event_ids(), sent, "listeners got each event once");
    server.stop().await;
}

pub async fn a_crash_between_commit_and_publish_loses_no_event(subject: Subject) {
    // First life: Redis unreachable and the listener down, so every event stays pending.
    let proxy = TcpProxy::start(&host_port(&crate::redis_url())).await;
    proxy.cut();
    let port = free_port();
    let app = subject.spawn_with(crate::proxy::redis_behind(&proxy)).await;
    let listener_id = register(&app, subject, &callback(port), None).await;
    let mut sent = Vec::new();
    for i in 0..5 {
        sent.push(emit(&app, subject, CREATE, &item(&format!("item-{i}"), "Active"), false).await);
    }
    // Both workers ran in the first life: the relay failed to publish (its backlog gauge counts all five) and
    // the delivery worker failed to deliver.
    eventually(Duration::from_secs(10), "a failed relay attempt and a failed delivery in the first life", || async {
        let text = app.metrics_text().await;
        let relay_tried = metric_value(&text, "bss_oss_outbox_backlog", &[("service", subject.spec.name)]) == 5.0;
        let delivery_tried = deliveries(&app, &listener_id).await.first().is_some_and(|r| r.1 >= 1 && r.2.is_some());
        (relay_tried && delivery_tried).then_some(())
    })
    .await;
    let database_url = app.database_url.clone();
    let prefix = app.context.settings.redis.key_prefix.clone();
    let old_live = app.url("/live");
    let crashed = Instant::now();
    app.kill().await;
    assert!(reqwest::get(&old_live).await.is_err(), "the killed app no longer answers");
    let mut conn = sqlx::PgConnection::connect_with(
        &database_url
            .parse::<sqlx::postgres::PgConnectOptions>()
            .unwrap()
            .options([("search_path", subject.spec.schema)]),
    )
    .await
    .unwrap();
    let waiting: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(waiting, 5, "the crash left every committed event in the outbox");

    // Second life on the same database, same stream, Redis reachable, the listener back.
    let recorder = Recorder::default();
    let server = recorder.serve(port, 200).await;
    let app = TestApp::spawn_on_database(
        subject.spec,
        with_test_routes(subject.routes, subject.base()),
        &database_url,
        |env| {
            env.set("REDIS_KEY_PREFIX", prefix.clone());
        },
    )
    .await;
    let entries = wait_for_stream(&app, 5, Duration::from_secs(30)).await;
    eprintln!("restart after a crash: 5 events on the stream {:?} after the kill", crashed.elapsed());
    recorder.wait_for(5, Duration::from_secs(45), "the listener's events after the restart").await;
    eprintln!("restart after a crash: 5 events at the listener {:?} after the kill", crashed.elapsed());
    tokio::time::sleep(Duration::from_millis(500)).await;

    let on_stream = stream_event_ids(&stream_entries(&app).await);
    assert_eq!(on_stream, sent, "each event exactly once on the stream, in order");
    assert_eq!(stream_event_ids(&entries), sent);
    assert_eq!(on_stream.iter().collect::<HashSet<_>>().len(), 5);
    assert_eq!(recorder.event_ids(), sent, "each event exactly once at the listener, in order");
    assert_eq!(unpublished(&app).await, 0);
    server.stop().await;
}

/// What the published-event hook saw: (eventId, eventType, resourceType, resourceId, published in the outbox).
type HookCall = (String, String, String, String, bool);
static HOOK_CALLS: Mutex<Vec<HookCall>> = Mutex::new(Vec::new());

/// An `on_start` that starts the event workers with a hook recording each call and whether the event was
/// already marked published (committed) when the hook ran.
fn start_workers_with_recording_hook(ctx: &web::Data<ServiceContext>) {
    let hook_ctx = ctx.clone();
    let hook: PublishedHook = Arc::new(move |event: PublishedEvent| {
        let ctx = hook_ctx.clone();
        Box::pin(async move {
            let published: bool = sqlx::query_scalar("SELECT published_at IS NOT NULL FROM outbox WHERE event_id = $1")
                .bind(event.event_id)
                .fetch_one(&ctx.db)
                .await
                .unwrap_or(false);
            let call =
                (event.event_id.to_string(), event.event_type, event.resource_type, event.resource_id, published);
            HOOK_CALLS.lock().unwrap().push(call);
        })
    });
    bss_tmf::events::start_workers(ctx, EventsConfig { on_published: Some(hook) });
}

pub async fn the_published_hook_runs_once_per_event_after_it_is_published(subject: Subject) {
    // The service's spec with the event workers started by a recording hook instead of its own on_start.
    let spec: &'static ServiceSpec =
        Box::leak(Box::new(ServiceSpec { on_start: start_workers_with_recording_hook, ..*subject.spec }));
    let app = TestApp::spawn(spec, with_test_routes(subject.routes, subject.base())).await;
    let mut sent = Vec::new();
    for (i, event_type) in [CREATE, CHANGE, DELETE].into_iter().enumerate() {
        sent.push((emit(&app, subject, event_type, &item(&format!("item-{i}"), "Active"), false).await, event_type));
    }
    let calls = eventually(Duration::from_secs(15), "three hook calls", || async {
        let calls = HOOK_CALLS.lock().unwrap().clone();
        (calls.len() >= 3).then_some(calls)
    })
    .await;
    for ((event_id, event_type), (i, call)) in sent.iter().zip(calls.iter().enumerate()) {
        let expected = (event_id.clone(), event_type.to_string(), RESOURCE_TYPE.to_owned(), format!("item-{i}"), true);
        assert_eq!(call, &expected, "hook call {i}: in order, with the event, after it was marked published");
    }
    let entries = stream_entries(&app).await;
    assert_eq!(stream_event_ids(&entries).len(), 3, "the hooked events are on the stream");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(HOOK_CALLS.lock().unwrap().len(), 3, "once per event");
}

pub async fn two_replicas_publish_and_deliver_each_event_once_in_order(subject: Subject) {
    let first = subject.spawn().await;
    let prefix = first.context.settings.redis.key_prefix.clone();
    let second = TestApp::spawn_on_database(
        subject.spec,
        with_test_routes(subject.routes, subject.base()),
        &first.database_url,
        |env| {
            env.set("REDIS_KEY_PREFIX", prefix.clone());
        },
    )
    .await;
    let recorder = Recorder::default();
    let server = recorder.serve(0, 200).await;
    register(&first, subject, &server.callback(), None).await;

    // Writes alternate between the replicas; both relays and both delivery workers are woken by each commit.
    let mut sent = Vec::new();
    for i in 0..20 {
        let replica = if i % 2 == 0 { &first } else { &second };
        sent.push(emit(replica, subject, CREATE, &item(&format!("item-{i}"), "Active"), false).await);
    }
    let entries = wait_for_stream(&first, 20, Duration::from_secs(20)).await;
    recorder.wait_for(20, Duration::from_secs(20), "twenty deliveries").await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(stream_event_ids(&stream_entries(&first).await), sent, "one relay at a time: once each, in order");
    assert_eq!(stream_event_ids(&entries), sent);
    assert_eq!(recorder.event_ids(), sent, "one delivery at a time per listener: once each, in order");
    server.stop().await;
}

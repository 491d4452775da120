//! `Idempotency-Key` on POST and `externalId` unique per customer.

use crate::helpers::*;
use bss_common::auth::ALL_SCOPES;
use bss_testkit::TestApp;
use bss_testkit::conformance::assert_tmf_error;
use bss_testkit::proxy::{TcpProxy, host_port, redis_behind};
use serde_json::{Value, json};

async fn post_with_key(app: &TestApp, key: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url(&order_path("productOrder")))
        .bearer_auth(bss_testkit::token(ALL_SCOPES))
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .expect("request sent")
}

/// A sellable offering with a monthly price and a customer of the stack.
async fn priced_order_body(stack: &Stack) -> Value {
    let price = catalog_price(&stack.catalog, monthly("Monthly", 30.0)).await;
    let fibre = offering(&stack.catalog, "Fibre", "Active", &[&price]).await;
    let customer = customer(&stack.customer).await;
    order_body(customer["id"].as_str().unwrap(), vec![item("1", Some(&fibre), 1)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_with_the_same_key_and_body_gets_the_first_response_and_creates_nothing() {
    let stack = stack().await;
    let body = priced_order_body(&stack).await;
    let first = post_with_key(&stack.order, "key-1", &body).await;
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();

    // The order moves on; a retry still gets the response the first request got.
    let id = first["id"].as_str().unwrap();
    let moved = stack
        .order
        .patch_as(
            &order_path(&format!("productOrder/{id}")),
            "application/merge-patch+json",
            &json!({"state": "inProgress"}),
        )
        .await;
    assert_eq!(moved.status(), 200);
    let retry = post_with_key(&stack.order, "key-1", &body).await;
    assert_eq!(retry.status(), 201);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(retry.headers()["location"].to_str().unwrap(), first["href"].as_str().unwrap());
    let retry: Value = retry.json().await.unwrap();
    assert_eq!(retry, first);
    assert_eq!(stored(&stack.order).await.0, 1);

    // Another key is another order.
    assert_eq!(post_with_key(&stack.order, "key-2", &body).await.status(), 201);
    assert_eq!(stored(&stack.order).await.0, 2);
}

/// Deletes the Redis record of `key`: what a process killed between committing the order and storing the
/// response leaves behind once its claim expires, or what a Redis that lost its data leaves.
async fn forget_in_redis(app: &TestApp, key: &str) {
    let redis = bss_common::kv::RedisPool::new(&app.context.settings.redis).unwrap();
    let record = app.context.redis.key(&format!("idem:order:{key}"));
    redis.query::<i64>(bss_common::kv::redis::cmd("DEL").arg(&record)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_whose_redis_record_is_gone_replays_the_order_recorded_in_postgres() {
    let stack = stack().await;
    let body = priced_order_body(&stack).await;
    let first = post_with_key(&stack.order, "key-lost", &body).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    forget_in_redis(&stack.order, "key-lost").await;

    let retry = post_with_key(&stack.order, "key-lost", &body).await;
    assert_eq!(retry.status(), 201);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    let retry: Value = retry.json().await.unwrap();
    assert_eq!(retry["id"], first["id"], "the same order, not a second one");
    assert_eq!(stored(&stack.order).await.0, 1);

    // The replay stored its record again: the next retry is answered from Redis, still the same order.
    let again: Value = post_with_key(&stack.order, "key-lost", &body).await.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);

    // Another body under the lost key is still refused, from the PostgreSQL record.
    forget_in_redis(&stack.order, "key-lost").await;
    let mut other = body.clone();
    other["description"] = json!("another order");
    assert_tmf_error(post_with_key(&stack.order, "key-lost", &other).await, 409, "different body").await;
    assert_eq!(stored(&stack.order).await.0, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_key_with_another_body_is_409_and_creates_nothing() {
    let stack = stack().await;
    let body = priced_order_body(&stack).await;
    assert_eq!(post_with_key(&stack.order, "key-1", &body).await.status(), 201);
    let mut other = body.clone();
    other["description"] = json!("another order");
    let response = post_with_key(&stack.order, "key-1", &other).await;
    let error = assert_tmf_error(response, 409, "different body").await;
    assert!(error["message"].as_str().unwrap().contains("Idempotency-Key"), "{error}");
    assert_eq!(stored(&stack.order).await.0, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_posts_with_one_key_create_one_order_and_all_get_it() {
    let stack = stack().await;
    let body = priced_order_body(&stack).await;
    let token = bss_testkit::token(ALL_SCOPES);
    let requests: Vec<_> = (0..16)
        .map(|_| {
            let request = stack
                .order
                .client
                .post(stack.order.url(&order_path("productOrder")))
                .bearer_auth(&token)
                .header("Idempotency-Key", "concurrent-key")
                .json(&body);
            tokio::spawn(request.send())
        })
        .collect();
    let mut ids = Vec::new();
    for request in requests {
        let response = request.await.unwrap().unwrap();
        assert_eq!(response.status(), 201);
        let created: Value = response.json().await.unwrap();
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every retry got the one order: {ids:?}");
    assert_eq!(stored(&stack.order).await, (1, 1), "one order, one CreateEvent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_creation_releases_its_key_for_a_corrected_retry() {
    let stack = stack().await;
    let good = priced_order_body(&stack).await;
    let mut bad = good.clone();
    bad["relatedParty"][0]["id"] = json!("no-such-customer");
    let started = std::time::Instant::now();
    assert_tmf_error(post_with_key(&stack.order, "key-1", &bad).await, 422, "first").await;
    // The same request again is processed anew (not held by a pending claim), and refused again.
    assert_tmf_error(post_with_key(&stack.order, "key-1", &bad).await, 422, "retry").await;
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "no wait for a claim");
    assert_eq!(stored(&stack.order).await.0, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_key_is_400() {
    let order = order_alone().await;
    let body = json!({"productOrderItem": [{"id": "1", "action": "add"}]});
    assert_tmf_error(post_with_key(&order, &"k".repeat(256), &body).await, 400, "too long").await;
    assert_eq!(stored(&order).await.0, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_a_post_with_a_key_is_503_and_one_without_a_key_still_creates() {
    let proxy = TcpProxy::start(&host_port(&bss_testkit::redis_url())).await;
    let order = TestApp::spawn_with(&order::SPEC, order::routes, redis_behind(&proxy)).await;
    let body = json!({"productOrderItem": [{"id": "1", "action": "add"}]});
    proxy.cut();
    assert_tmf_error(post_with_key(&order, "key-1", &body).await, 503, "keyed POST without Redis").await;
    assert_eq!(stored(&order).await.0, 0);
    create(&order, &order_path("productOrder"), &body).await;
    assert_eq!(stored(&order).await.0, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_id_is_unique_per_customer() {
    let stack = stack().await;
    let mut body = priced_order_body(&stack).await;
    body["externalId"] = json!("PO-2026-001");
    create(&stack.order, &order_path("productOrder"), &body).await;

    let response = stack.order.post_json(&order_path("productOrder"), &body).await;
    let error = assert_tmf_error(response, 409, "same customer, same externalId").await;
    assert!(error["message"].as_str().unwrap().contains("product_order_external_id_per_customer_key"), "{error}");

    // Another customer may use the same externalId; the first customer another one.
    let other = customer(&stack.customer).await;
    let mut for_other = body.clone();
    for_other["relatedParty"][0]["id"] = other["id"].clone();
    create(&stack.order, &order_path("productOrder"), &for_other).await;
    let mut next = body.clone();
    next["externalId"] = json!("PO-2026-002");
    let second = create(&stack.order, &order_path("productOrder"), &next).await;
    assert_eq!(stored(&stack.order).await.0, 3);

    // A PATCH into a taken externalId is refused the same way.
    let id = second["id"].as_str().unwrap();
    let response = stack
        .order
        .patch_as(
            &order_path(&format!("productOrder/{id}")),
            "application/merge-patch+json",
            &json!({"externalId": "PO-2026-001"}),
        )
        .await;
    assert_tmf_error(response, 409, "PATCH into a taken externalId").await;
}

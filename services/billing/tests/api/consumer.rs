//! The order-event consumer, driven by the real order service (with the real catalog and customer services) in
//! auto fulfilment mode, sharing one Redis and one `REDIS_KEY_PREFIX` with billing.

use crate::helpers::ACCOUNTS;
use bss_common::kv::{RedisPool, redis};
use bss_testkit::TestApp;
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

fn new_prefix() -> String {
    format!("test-billing-{}", uuid::Uuid::new_v4().simple())
}

/// Billing on `prefix`, claiming idle entries after 100 ms (so retries are quick), with `customise` applied.
async fn billing_on(prefix: &str, customise: impl FnOnce(&mut bss_common::config::Env)) -> TestApp {
    let prefix = prefix.to_owned();
    let app = TestApp::spawn_with(&billing::SPEC, billing::routes, |env| {
        env.set("REDIS_KEY_PREFIX", prefix).set("BILLING_CLAIM_IDLE_MS", "100");
        customise(env);
    })
    .await;
    wait_for_group(&app).await;
    app
}

/// A Redis pool of the test's own runtime, on the app's Redis and prefix.
fn redis_of(app: &TestApp) -> RedisPool {
    RedisPool::new(&app.context.settings.redis).unwrap()
}

fn stream(app: &TestApp) -> String {
    app.context.redis.key("events:order")
}

async fn cmd(redis: &RedisPool, cmd: &mut redis::Cmd) -> redis::Value {
    redis.query::<redis::Value>(cmd).await.unwrap()
}

fn flat(value: &redis::Value) -> Vec<redis::Value> {
    match value {
        redis::Value::Array(items) => items.clone(),
        redis::Value::Map(pairs) => pairs.iter().flat_map(|(k, v)| [k.clone(), v.clone()]).collect(),
        _ => Vec::new(),
    }
}

fn text(value: &redis::Value) -> String {
    match value {
        redis::Value::BulkString(b) => String::from_utf8(b.clone()).unwrap(),
        redis::Value::SimpleString(s) => s.clone(),
        redis::Value::Int(n) => n.to_string(),
        other => panic!("not text: {other:?}"),
    }
}

/// `(pending, last-delivered-id)` of the billing group, if it exists.
async fn group_info(app: &TestApp) -> Option<(i64, String)> {
    let redis = redis_of(app);
    let reply = redis.query::<redis::Value>(redis::cmd("XINFO").arg("GROUPS").arg(stream(app))).await.ok()?;
    for group in flat(&reply) {
        let fields = flat(&group);
        let get = |name: &str| fields.chunks(2).find(|kv| text(&kv[0]) == name).map(|kv| text(&kv[1]));
        if get("name").as_deref() == Some(billing::consumer::GROUP) {
            return Some((get("pending")?.parse().ok()?, get("last-delivered-id")?));
        }
    }
    None
}

async fn wait_for_group(app: &TestApp) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while group_info(app).await.is_none() {
        assert!(tokio::time::Instant::now() < deadline, "the billing group was never created");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `(id, fields)` of every entry of `key`.
async fn entries(redis: &RedisPool, key: &str) -> Vec<(String, Vec<(String, String)>)> {
    let reply = cmd(redis, redis::cmd("XRANGE").arg(key).arg("-").arg("+")).await;
    flat(&reply)
        .iter()
        .map(|entry| {
            let parts = flat(entry);
            let fields = flat(&parts[1]).chunks(2).map(|kv| (text(&kv[0]), text(&kv[1]))).collect();
            (text(&parts[0]), fields)
        })
        .collect()
}

/// Waits until the group has been handed the stream's last entry and acked everything.
async fn wait_consumed(app: &TestApp) {
    let redis = redis_of(app);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let last = entries(&redis, &stream(app)).await.last().map(|(id, _)| id.clone());
        let info = group_info(app).await;
        if let (Some(last), Some((0, delivered))) = (&last, &info)
            && last == delivered
        {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "stream not consumed: last {last:?}, group {info:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every billable product with its prices, and every processed event id, in a stable order.
async fn billing_state(app: &TestApp) -> (Vec<Value>, Vec<String>) {
    let mut db = app.db().await;
    let products: Vec<Value> = sqlx::query_scalar(
        "SELECT to_jsonb(p) || jsonb_build_object('prices', coalesce((
             SELECT jsonb_agg(to_jsonb(pp) ORDER BY pp.position) FROM billable_product_price pp
             WHERE pp.billable_product_id = p.id), '[]'::jsonb))
         FROM billable_product p ORDER BY order_id, order_item_id",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    let events: Vec<String> = sqlx::query_scalar("SELECT event_id::text FROM processed_event ORDER BY event_id")
        .fetch_all(&mut db)
        .await
        .unwrap();
    (products, events)
}

/// The order service in `mode` with the real catalog and customer, on `prefix`.
struct Orders {
    order: TestApp,
    catalog: TestApp,
    customer: TestApp,
}

async fn orders_on(prefix: &str, mode: &str) -> Orders {
    let catalog = TestApp::spawn(&catalog::SPEC, catalog::routes).await;
    let customer = TestApp::spawn(&customer::SPEC, customer::routes).await;
    let order = order_app(prefix, mode, &catalog, &customer, None).await;
    Orders { order, catalog, customer }
}

async fn order_app(prefix: &str, mode: &str, catalog: &TestApp, customer: &TestApp, db: Option<&str>) -> TestApp {
    let (prefix, mode, catalog_url, customer_url) =
        (prefix.to_owned(), mode.to_owned(), catalog.address.clone(), customer.address.clone());
    let customise = move |env: &mut bss_common::config::Env| {
        env.set("REDIS_KEY_PREFIX", prefix)
            .set("FULFILMENT_MODE", mode)
            .set("CATALOG_URL", catalog_url)
            .set("CUSTOMER_URL", customer_url);
    };
    match db {
        None => TestApp::spawn_with(&order::SPEC, order::routes, customise).await,
        Some(url) => TestApp::spawn_on_database(&order::SPEC, order::routes, url, customise).await,
    }
}

async fn create(app: &TestApp, path: &str, body: &Value) -> Value {
    let response = app.post_json(path, body).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 201, "POST {path}: {text}");
    serde_json::from_str(&text).unwrap()
}

async fn offering(catalog: &TestApp, name: &str, prices: &[Value]) -> Value {
    let mut refs = Vec::new();
    for price in prices {
        let mut price = price.clone();
        price["lifecycleStatus"] = json!("Active");
        let created = create(catalog, &format!("{}/productOfferingPrice", catalog::BASE_PATH), &price).await;
        refs.push(json!({"id": created["id"], "href": created["href"], "name": created["name"]}));
    }
    create(
        catalog,
        &format!("{}/productOffering", catalog::BASE_PATH),
        &json!({"name": name, "lifecycleStatus": "Active", "productOfferingPrice": refs}),
    )
    .await
}

/// An order for a new customer with two priced items: Fibre (29.99 EUR a month) × 1 and Router (49.00 EUR once
/// plus 3.50 EUR a month) × 2.
async fn priced_order(orders: &Orders) -> Value {
    let customer = new_customer(orders).await;
    priced_order_for(orders, &customer, None).await
}

/// A customer of the order stack's customer service.
async fn new_customer(orders: &Orders) -> String {
    let customer = create(
        &orders.customer,
        &format!("{}/customer", customer::BASE_PATH),
        &json!({"name": "Jean Dupont", "engagedParty": {"id": "ind-7", "@referredType": "Individual", "name": "Jean Dupont"}}),
    )
    .await;
    customer["id"].as_str().unwrap().to_owned()
}

/// The two-item order of [`priced_order`] for `customer_id`, on `account` when given.
async fn priced_order_for(orders: &Orders, customer_id: &str, account: Option<&Value>) -> Value {
    let fibre = offering(
        &orders.catalog,
        "Fibre 1G",
        &[json!({"name": "Fibre monthly", "priceType": "recurring", "recurringChargePeriodType": "month",
                 "recurringChargePeriodLength": 1, "price": {"unit": "EUR", "value": 29.99}})],
    )
    .await;
    let router = offering(
        &orders.catalog,
        "Router",
        &[
            json!({"name": "Router fee", "priceType": "oneTime", "price": {"unit": "EUR", "value": 49.0}}),
            json!({"name": "Router rental", "priceType": "recurring", "recurringChargePeriodType": "month",
                   "recurringChargePeriodLength": 1, "price": {"unit": "EUR", "value": 3.5}}),
        ],
    )
    .await;
    let mut body = json!({
        "relatedParty": [{"id": customer_id, "@referredType": "Customer", "role": "Customer"}],
        "productOrderItem": [
            {"id": "1", "action": "add", "quantity": 1, "productOffering": {"id": fibre["id"], "name": fibre["name"]}},
            {"id": "2", "action": "add", "quantity": 2, "productOffering": {"id": router["id"], "name": router["name"]}},
        ],
    });
    if let Some(account) = account {
        body["billingAccount"] =
            json!({"id": account["id"], "href": account["href"], "@referredType": "BillingAccount"});
    }
    create(&orders.order, &format!("{}/productOrder", order::BASE_PATH), &body).await
}

/// What billing holds about default accounts: the `(customer, currency, account)` mappings, every billing
/// account document, and how many BillingAccountCreateEvents its outbox has.
async fn default_accounts(app: &TestApp) -> (Vec<(String, String, String)>, Vec<Value>, i64) {
    let mut db = app.db().await;
    let mappings: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT customer_id, currency::text, billing_account_id FROM default_billing_account ORDER BY created_at",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    let accounts = app.get_json(ACCOUNTS).await.as_array().unwrap().clone();
    let created: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE event_type = 'BillingAccountCreateEvent'")
        .fetch_one(&mut db)
        .await
        .unwrap();
    (mappings, accounts, created)
}

/// Asserts that `customer_id` has exactly one default account, in EUR, with the documented defaults, that it
/// is the only account and was evented once, and returns its id.
async fn assert_one_default_account(billing: &TestApp, customer_id: &str) -> String {
    let (mappings, accounts, created) = default_accounts(billing).await;
    assert_eq!(mappings.len(), 1, "{mappings:?}");
    let (customer, currency, id) = mappings[0].clone();
    assert_eq!((customer.as_str(), currency.as_str()), (customer_id, "EUR"));
    assert_eq!(accounts.len(), 1, "{accounts:#?}");
    let account = &accounts[0];
    assert_eq!(account["id"], id);
    assert_eq!(account["href"], format!("{ACCOUNTS}/{id}"));
    assert_eq!(account["@type"], "BillingAccount");
    assert_eq!(account["state"], "active");
    assert_eq!(account["name"], "Default account");
    assert_eq!(account["currency"], "EUR", "the currency of the items' prices");
    assert_eq!(account["timeZone"], "UTC");
    assert_eq!(account["taxRate"], "0");
    assert_eq!((account["billCycleDay"].as_i64(), account["paymentTermsDays"].as_i64()), (Some(1), Some(30)));
    assert_eq!(account["relatedParty"][0]["id"], customer_id);
    assert!(account["lastUpdate"].is_string());
    assert_eq!(created, 1, "one BillingAccountCreateEvent");
    id
}

async fn wait_order_state(order: &TestApp, id: &str, state: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = order.get_json(&format!("{}/productOrder/{id}", order::BASE_PATH)).await;
        if now["state"] == state {
            order.wait_for_outbox_drain().await;
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "order never reached {state}: {now}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `(priceType, recurringChargePeriod, minor units, currency)`.
type PriceRow = (String, Value, i64, String);
/// `(order item, quantity, state, prices)`.
type ProductRow = (String, i64, String, Vec<PriceRow>);

/// The products of `order_id`, as `(item, quantity, state, [(priceType, period, minor, currency)])`.
fn summary(products: &[Value]) -> Vec<ProductRow> {
    products
        .iter()
        .map(|p| {
            let prices = p["prices"]
                .as_array()
                .unwrap()
                .iter()
                .map(|pp| {
                    (
                        pp["price_type"].as_str().unwrap().to_owned(),
                        pp["recurring_charge_period"].clone(),
                        pp["amount_minor"].as_i64().unwrap(),
                        pp["currency"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            (
                p["order_item_id"].as_str().unwrap().to_owned(),
                p["quantity"].as_i64().unwrap(),
                p["state"].as_str().unwrap().to_owned(),
                prices,
            )
        })
        .collect()
}

fn expected_two_products() -> Vec<ProductRow> {
    vec![
        ("1".into(), 1, "active".into(), vec![("recurring".into(), json!("month"), 2999, "EUR".into())]),
        (
            "2".into(),
            2,
            "active".into(),
            vec![
                ("oneTime".into(), Value::Null, 4900, "EUR".into()),
                ("recurring".into(), json!("month"), 350, "EUR".into()),
            ],
        ),
    ]
}

/// A priced order placed through a fresh order stack (auto fulfilment) on `prefix`, completed and consumed by
/// `billing`; the stack is returned so it stays up.
async fn completed_and_consumed(prefix: &str, billing: &TestApp) -> (Orders, Value) {
    let orders = orders_on(prefix, "auto").await;
    let order = priced_order(&orders).await;
    wait_order_state(&orders.order, order["id"].as_str().unwrap(), "completed").await;
    wait_consumed(billing).await;
    (orders, order)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_order_with_two_priced_items_becomes_two_billable_products_with_their_price_snapshot() {
    let prefix = new_prefix();
    let billing = billing_on(&prefix, |_| {}).await;
    let (_orders, order) = completed_and_consumed(&prefix, &billing).await;
    let id = order["id"].as_str().unwrap();

    let (products, events) = billing_state(&billing).await;
    assert_eq!(summary(&products), expected_two_products(), "{products:#?}");
    let customer = order["relatedParty"][0]["id"].as_str().unwrap();
    for product in &products {
        assert_eq!(product["order_id"], id);
        assert_eq!(product["customer_id"], customer);
        assert_eq!(product["end_date"], Value::Null);
        assert!(product["prices"][0]["product_offering_price_id"].is_string(), "{product}");
    }
    assert_eq!(products[0]["product_offering_name"], "Fibre 1G");
    // The order named no billing account: both products go to the customer's default account.
    let account = assert_one_default_account(&billing, customer).await;
    for product in &products {
        assert_eq!(product["billing_account_id"], account, "{product}");
    }
    // Every event of the order was looked at once.
    let published = entries(&redis_of(&billing), &stream(&billing)).await.len();
    assert_eq!(events.len(), published);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_the_order_events_many_times_concurrently_changes_nothing() {
    let prefix = new_prefix();
    let billing = billing_on(&prefix, |_| {}).await;
    let (_orders, _order) = completed_and_consumed(&prefix, &billing).await;
    let before = billing_state(&billing).await;
    assert_eq!(summary(&before.0), expected_two_products());

    let redis = redis_of(&billing);
    let originals = entries(&redis, &stream(&billing)).await;
    let mut replays = tokio::task::JoinSet::new();
    for _ in 0..5 {
        let (redis, key, originals) = (redis.clone(), stream(&billing), originals.clone());
        replays.spawn(async move {
            for (_, fields) in originals {
                let mut xadd = redis::cmd("XADD");
                xadd.arg(&key).arg("*");
                for (name, value) in fields {
                    xadd.arg(name).arg(value);
                }
                redis.query::<String>(&xadd).await.unwrap();
            }
        });
    }
    replays.join_all().await;
    assert_eq!(entries(&redis, &stream(&billing)).await.len(), originals.len() * 6);
    wait_consumed(&billing).await;

    assert_eq!(billing_state(&billing).await, before);
    let customer = before.0[0]["customer_id"].as_str().unwrap();
    let account = assert_one_default_account(&billing, customer).await;
    assert!(before.0.iter().all(|p| p["billing_account_id"] == account));

    // The metrics tell the same story: each event applied once, every replay a duplicate, nothing left
    // behind; and the order service (same process, same recorder) counted the order's states once each.
    let consumed = |text: &str, outcome: &str| {
        bss_testkit::metric_value(
            text,
            "bss_oss_events_consumed_total",
            &[("service", "billing"), ("outcome", outcome)],
        )
    };
    let text = billing.metrics_text().await;
    assert_eq!(consumed(&text, "applied"), originals.len() as f64, "{text}");
    assert_eq!(consumed(&text, "duplicate"), (originals.len() * 5) as f64);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        // Reported after each claim round (every 100 ms here).
        let text = billing.metrics_text().await;
        let gauge = |name: &str| text.lines().any(|l| l.starts_with(&format!("{name}{{")) && l.ends_with(" 0"));
        if gauge("bss_oss_consumer_lag") && gauge("bss_oss_consumer_pending") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "lag and pending never reported as 0:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for state in ["acknowledged", "inProgress", "completed"] {
        let labels = [("service", "order"), ("state", state)];
        assert_eq!(bss_testkit::metric_value(&text, "bss_oss_order_state_transitions_total", &labels), 1.0, "{state}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_order_bills_nothing() {
    let prefix = new_prefix();
    let billing = billing_on(&prefix, |_| {}).await;
    // Left pending in external mode (the auto worker does not drive pending orders), then cancelled in auto mode.
    let external = orders_on(&prefix, "external").await;
    let order = priced_order(&external).await;
    let id = order["id"].as_str().unwrap().to_owned();
    let path = format!("{}/productOrder/{id}", order::BASE_PATH);
    let moved = external.order.patch_as(&path, "application/merge-patch+json", &json!({"state": "pending"})).await;
    assert_eq!(moved.status(), 200);
    let Orders { order: stopped, catalog, customer } = external;
    let database_url = stopped.database_url.clone();
    stopped.stop().await.unwrap();
    let order_app = order_app(&prefix, "auto", &catalog, &customer, Some(&database_url)).await;
    let cancel = create(
        &order_app,
        &format!("{}/cancelProductOrder", order::BASE_PATH),
        &json!({"productOrder": {"id": id}, "cancellationReason": "Changed my mind"}),
    )
    .await;
    wait_order_state(&order_app, &id, "cancelled").await;
    // The cancel request reaches `done` after the order is cancelled, and its events go to the same stream:
    // wait for it and for the order service's outbox, so no event is still on its way when we compare.
    let cancel_path = format!("{}/cancelProductOrder/{}", order::BASE_PATH, cancel["id"].as_str().unwrap());
    let deadline = tokio::time::Instant::now() + WAIT;
    while order_app.get_json(&cancel_path).await["state"] != "done" {
        assert!(tokio::time::Instant::now() < deadline, "the cancel request never reached done");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    order_app.wait_for_outbox_drain().await;
    wait_consumed(&billing).await;

    let (products, events) = billing_state(&billing).await;
    assert_eq!(products, Vec::<Value>::new());
    let published = entries(&redis_of(&billing), &stream(&billing)).await.len();
    assert!(published >= 5, "{published}");
    assert_eq!(events.len(), published, "every event was processed, none billed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_entry_is_dead_lettered_after_the_maximum_deliveries_and_does_not_block_later_events() {
    let prefix = new_prefix();
    let billing = billing_on(&prefix, |env| {
        env.set("BILLING_MAX_DELIVERIES", "3");
    })
    .await;
    let redis = redis_of(&billing);
    let poison_event = uuid::Uuid::new_v4().to_string();
    let poison: String = redis
        .query(
            redis::cmd("XADD")
                .arg(stream(&billing))
                .arg("*")
                .arg("eventId")
                .arg(&poison_event)
                .arg("eventType")
                .arg("ProductOrderStateChangeEvent")
                .arg("payload")
                .arg("{not json"),
        )
        .await
        .unwrap();

    let (_orders, _order) = completed_and_consumed(&prefix, &billing).await;

    assert_eq!(summary(&billing_state(&billing).await.0), expected_two_products());
    let dead = entries(&redis, &billing.context.redis.key("events:order:dead")).await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    let fields: std::collections::HashMap<_, _> = dead[0].1.iter().cloned().collect();
    assert_eq!(fields["sourceId"], poison);
    assert_eq!(fields["eventId"], poison_event);
    assert_eq!(fields["payload"], "{not json");
    assert_eq!(fields["deliveries"], "4");
    let processed = billing_state(&billing).await.1;
    assert!(!processed.contains(&poison_event));
    let text = billing.metrics_text().await;
    let labels = [("service", "billing"), ("outcome", "dead_lettered")];
    assert_eq!(bss_testkit::metric_value(&text, "bss_oss_events_consumed_total", &labels), 1.0);
    let labels = [("service", "billing"), ("outcome", "malformed")];
    assert_eq!(bss_testkit::metric_value(&text, "bss_oss_events_consumed_total", &labels), 3.0, "one per delivery");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_processed_but_not_acked_before_a_crash_is_redelivered_after_restart_and_bills_once() {
    let prefix = new_prefix();
    // A stable consumer name, and claiming far off: only the start-up re-read of its own pending entries can
    // deliver them again.
    let named = |env: &mut bss_common::config::Env| {
        env.set("BILLING_CONSUMER_NAME", "billing-0").set("BILLING_CLAIM_IDLE_MS", "600000");
    };
    let billing = billing_on(&prefix, named).await;
    let (_orders, _order) = completed_and_consumed(&prefix, &billing).await;
    let before = billing_state(&billing).await;
    assert_eq!(summary(&before.0), expected_two_products());

    let database_url = billing.database_url.clone();
    let key = stream(&billing);
    let redis = redis_of(&billing);
    billing.kill().await;
    // The state a crash between the commit and the XACK leaves: every entry applied, and pending for billing-0.
    cmd(&redis, redis::cmd("XGROUP").arg("SETID").arg(&key).arg(billing::consumer::GROUP).arg("0")).await;
    cmd(
        &redis,
        redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(billing::consumer::GROUP)
            .arg("billing-0")
            .arg("COUNT")
            .arg(1000)
            .arg("STREAMS")
            .arg(&key)
            .arg(">"),
    )
    .await;
    let pending = flat(&cmd(&redis, redis::cmd("XPENDING").arg(&key).arg(billing::consumer::GROUP)).await);
    assert_eq!(text(&pending[0]), before.1.len().to_string());

    let restarted = TestApp::spawn_on_database(&billing::SPEC, billing::routes, &database_url, |env| {
        env.set("REDIS_KEY_PREFIX", prefix.clone());
        named(env);
    })
    .await;
    wait_consumed(&restarted).await;
    assert_eq!(billing_state(&restarted).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_the_consumer_backs_off_without_busy_looping_and_bills_once_redis_is_back() {
    let prefix = new_prefix();
    let proxy = bss_testkit::proxy::TcpProxy::start(&bss_testkit::proxy::host_port(&bss_testkit::redis_url())).await;
    let billing = billing_on(&prefix, bss_testkit::proxy::redis_behind(&proxy)).await;
    let orders = orders_on(&prefix, "auto").await;
    let failures = || bss_testkit::captured_logs().matches("order consumer round failed").count();

    proxy.cut();
    let order = priced_order(&orders).await;
    wait_order_state(&orders.order, order["id"].as_str().unwrap(), "completed").await;
    let before = failures();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let during = failures() - before;
    // Backoff from 100 ms doubling: a handful of attempts in 2 s, not thousands.
    assert!((1..=8).contains(&during), "{during} failed rounds in 2 s");
    assert_eq!(billing_state(&billing).await.0, Vec::<Value>::new(), "nothing can be read while Redis is down");

    proxy.restore();
    wait_consumed(&billing).await;
    assert_eq!(summary(&billing_state(&billing).await.0), expected_two_products());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_order_of_the_same_customer_without_an_account_reuses_the_default_account() {
    let prefix = new_prefix();
    let billing = billing_on(&prefix, |_| {}).await;
    let (orders, first) = completed_and_consumed(&prefix, &billing).await;
    let customer = first["relatedParty"][0]["id"].as_str().unwrap().to_owned();
    let account = assert_one_default_account(&billing, &customer).await;

    let second = priced_order_for(&orders, &customer, None).await;
    wait_order_state(&orders.order, second["id"].as_str().unwrap(), "completed").await;
    wait_consumed(&billing).await;

    let products = billing_state(&billing).await.0;
    assert_eq!(products.len(), 4, "{products:#?}");
    assert!(products.iter().all(|p| p["billing_account_id"] == account), "{products:#?}");
    assert_eq!(assert_one_default_account(&billing, &customer).await, account, "reused, not created again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_transactions_needing_the_same_default_account_at_once_create_one() {
    // What two replicas applying two events of one customer at the same moment do, step by step: the second
    // transaction's insert waits for the first's and then reads back its account.
    let billing = billing_on(&new_prefix(), |_| {}).await;
    let terms = billing::default_accounts::default_terms(&billing.context.settings.default_account).unwrap();
    let mut first = billing.db().await;
    sqlx::query("BEGIN").execute(&mut first).await.unwrap();
    let winner = billing::default_accounts::default_account(&mut first, &terms, "c-race", None).await.unwrap();

    let mut second = billing.db().await;
    let racing_terms = terms.clone();
    let racing = tokio::spawn(async move {
        sqlx::query("BEGIN").execute(&mut second).await.unwrap();
        let id = billing::default_accounts::default_account(&mut second, &racing_terms, "c-race", None).await.unwrap();
        sqlx::query("COMMIT").execute(&mut second).await.unwrap();
        id
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!racing.is_finished(), "the second insert waits for the first transaction");
    sqlx::query("COMMIT").execute(&mut first).await.unwrap();
    assert_eq!(racing.await.unwrap(), winner);

    let (mappings, accounts, created) = default_accounts(&billing).await;
    assert_eq!(mappings, vec![("c-race".to_owned(), "EUR".to_owned(), winner.clone())]);
    assert_eq!((accounts.len(), created), (1, 1), "one account document, one CreateEvent");
    assert_eq!(accounts[0]["id"], winner);
}

/// Catalog and customer, billing checking its accounts' customers there, and the order service (auto
/// fulfilment) with all three as peers, on `prefix`.
async fn orders_with_billing(prefix: &str) -> (Orders, TestApp) {
    let catalog = TestApp::spawn(&catalog::SPEC, catalog::routes).await;
    let customer = TestApp::spawn(&customer::SPEC, customer::routes).await;
    let customer_url = customer.address.clone();
    let billing = billing_on(prefix, |env| {
        env.set("CUSTOMER_URL", customer_url);
    })
    .await;
    let (prefix, catalog_url, customer_url, billing_url) =
        (prefix.to_owned(), catalog.address.clone(), customer.address.clone(), billing.address.clone());
    let order = TestApp::spawn_with(&order::SPEC, order::routes, |env| {
        env.set("REDIS_KEY_PREFIX", prefix)
            .set("FULFILMENT_MODE", "auto")
            .set("CATALOG_URL", catalog_url)
            .set("CUSTOMER_URL", customer_url)
            .set("BILLING_URL", billing_url);
    })
    .await;
    (Orders { order, catalog, customer }, billing)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn products_of_an_order_on_a_named_account_start_on_the_event_date_in_the_account_time_zone() {
    let prefix = new_prefix();
    let (orders, billing) = orders_with_billing(&prefix).await;
    let customer = new_customer(&orders).await;
    // UTC−12: the local date differs from the UTC date for half of every day, so the test sees the zone at work
    // (the exact Los Angeles case of the brief is the consumer's unit test).
    let account = create(
        &billing,
        ACCOUNTS,
        &json!({"name": "Far west", "currency": "EUR", "timeZone": "Etc/GMT+12", "taxRate": "0.20",
                "relatedParty": [{"id": customer, "@referredType": "Customer", "role": "customer"}]}),
    )
    .await;
    let order = priced_order_for(&orders, &customer, Some(&account)).await;
    wait_order_state(&orders.order, order["id"].as_str().unwrap(), "completed").await;
    wait_consumed(&billing).await;

    // The first event that showed the order completed is the one that created the products.
    let completed_at = entries(&redis_of(&billing), &stream(&billing))
        .await
        .into_iter()
        .find_map(|(_, fields)| {
            let payload = fields.into_iter().find(|(name, _)| name == "payload")?.1;
            let payload: Value = serde_json::from_str(&payload).ok()?;
            (payload["event"]["productOrder"]["state"] == "completed").then(|| payload["eventTime"].clone())
        })
        .expect("a completion event");
    let at: chrono::DateTime<chrono::Utc> = completed_at.as_str().unwrap().parse().unwrap();
    let zone = billing::calendar::AccountTimeZone::parse("Etc/GMT+12").unwrap();
    let expected = billing::consumer::local_date(zone, at).to_string();

    let products = billing_state(&billing).await.0;
    assert_eq!(products.len(), 2);
    for product in &products {
        assert_eq!(product["billing_account_id"], account["id"]);
        assert_eq!(product["start_date"], expected, "eventTime {at} in Etc/GMT+12");
    }
    assert_eq!(default_accounts(&billing).await.0, vec![], "no default account for an order naming one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_naming_an_account_billing_does_not_have_is_left_pending_and_dead_lettered() {
    let prefix = new_prefix();
    let billing = billing_on(&prefix, |env| {
        env.set("BILLING_MAX_DELIVERIES", "2");
    })
    .await;
    let event_id = uuid::Uuid::new_v4().to_string();
    let payload = json!({"eventId": event_id, "eventTime": "2026-03-01T05:00:00Z", "eventType": "ProductOrderStateChangeEvent",
        "event": {"productOrder": {"id": "o-ghost", "state": "completed", "billingAccount": {"id": "no-such-account"},
            "relatedParty": [{"id": "c-ghost", "@referredType": "Customer", "role": "Customer"}],
            "productOrderItem": [{"id": "1", "action": "add", "state": "completed"}]}}});
    let redis = redis_of(&billing);
    let mut xadd = redis::cmd("XADD");
    xadd.arg(stream(&billing)).arg("*").arg("eventId").arg(&event_id).arg("payload").arg(payload.to_string());
    redis.query::<String>(&xadd).await.unwrap();

    let dead_key = billing.context.redis.key("events:order:dead");
    let deadline = tokio::time::Instant::now() + WAIT;
    while entries(&redis, &dead_key).await.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "never dead-lettered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (products, processed) = billing_state(&billing).await;
    assert_eq!(products, Vec::<Value>::new(), "nothing billed");
    assert!(!processed.contains(&event_id), "the event was rolled back each time, never recorded");
    assert!(bss_testkit::captured_logs().contains("no-such-account"), "the reason is logged");
    assert_eq!(default_accounts(&billing).await.0, vec![], "a named account is never replaced by a default one");
}

//! Shared setup of the order tests: the order service with its real peers, and catalog, customer and billing
//! fixtures.

use bss_testkit::TestApp;
use serde_json::{Value, json};
use sqlx::Row;

pub fn order_path(rest: &str) -> String {
    format!("{}/{rest}", order::BASE_PATH)
}

pub fn catalog_path(rest: &str) -> String {
    format!("{}/{rest}", catalog::BASE_PATH)
}

/// The order service with the real catalog and customer services as its peers.
pub struct Stack {
    pub order: TestApp,
    pub catalog: TestApp,
    pub customer: TestApp,
}

pub async fn stack() -> Stack {
    let catalog = TestApp::spawn(&catalog::SPEC, catalog::routes).await;
    let customer = TestApp::spawn(&customer::SPEC, customer::routes).await;
    let order = TestApp::spawn_with(&order::SPEC, order::routes, |env| {
        env.set("CATALOG_URL", catalog.address.clone()).set("CUSTOMER_URL", customer.address.clone());
    })
    .await;
    Stack { order, catalog, customer }
}

/// The order service with the real catalog, customer and billing services as its peers; billing is returned
/// beside the stack.
pub async fn stack_with_billing() -> (Stack, TestApp) {
    let catalog = TestApp::spawn(&catalog::SPEC, catalog::routes).await;
    let customer = TestApp::spawn(&customer::SPEC, customer::routes).await;
    // Billing checks the customer of each billing account in the same customer service.
    let customer_url = customer.address.clone();
    let billing = TestApp::spawn_with(&billing::SPEC, billing::routes, |env| {
        env.set("CUSTOMER_URL", customer_url);
    })
    .await;
    let order = TestApp::spawn_with(&order::SPEC, order::routes, |env| {
        env.set("CATALOG_URL", catalog.address.clone())
            .set("CUSTOMER_URL", customer.address.clone())
            .set("BILLING_URL", billing.address.clone());
    })
    .await;
    (Stack { order, catalog, customer }, billing)
}

/// An active billing account of the billing service for `customer_id`.
pub async fn billing_account(billing: &TestApp, customer_id: &str) -> Value {
    create(
        billing,
        &format!("{}/billingAccount", billing::accounts::BASE_PATH),
        &json!({"name": "Jean Dupont — main account", "currency": "EUR", "timeZone": "Europe/Paris", "taxRate": "0.20",
                "relatedParty": [{"id": customer_id, "@referredType": "Customer", "role": "customer"}]}),
    )
    .await
}

/// The order service alone: its peer URLs are `test_env`'s placeholders (a closed port).
pub async fn order_alone() -> TestApp {
    TestApp::spawn(&order::SPEC, order::routes).await
}

/// POSTs `body` and returns the created resource, asserting 201.
pub async fn create(app: &TestApp, path: &str, body: &Value) -> Value {
    let response = app.post_json(path, body).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 201, "POST {path}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// A catalog price in `lifecycleStatus` `Active`.
pub async fn catalog_price(catalog: &TestApp, body: Value) -> Value {
    let mut body = body;
    body["lifecycleStatus"] = json!("Active");
    create(catalog, &catalog_path("productOfferingPrice"), &body).await
}

/// A monthly recurring price of `value` EUR.
pub fn monthly(name: &str, value: f64) -> Value {
    json!({"name": name, "priceType": "recurring", "recurringChargePeriodType": "month",
           "recurringChargePeriodLength": 1, "price": {"unit": "EUR", "value": value}})
}

/// A one-time price of `value` EUR.
pub fn one_time(name: &str, value: f64) -> Value {
    json!({"name": name, "priceType": "oneTime", "price": {"unit": "EUR", "value": value}})
}

/// An offering in `status` with the given prices.
pub async fn offering(catalog: &TestApp, name: &str, status: &str, prices: &[&Value]) -> Value {
    let refs: Vec<Value> =
        prices.iter().map(|p| json!({"id": p["id"], "href": p["href"], "name": p["name"]})).collect();
    create(
        catalog,
        &catalog_path("productOffering"),
        &json!({"name": name, "lifecycleStatus": status, "productOfferingPrice": refs}),
    )
    .await
}

/// A customer of the customer service.
pub async fn customer(customer: &TestApp) -> Value {
    create(
        customer,
        &format!("{}/customer", customer::BASE_PATH),
        &json!({"name": "Jean Dupont", "engagedParty": {"id": "ind-7", "@referredType": "Individual", "name": "Jean Dupont"}}),
    )
    .await
}

/// An order item for `offering` (no offering when `None`).
pub fn item(id: &str, offering: Option<&Value>, quantity: i64) -> Value {
    let mut item = json!({"id": id, "action": "add", "quantity": quantity});
    if let Some(offering) = offering {
        item["productOffering"] = json!({"id": offering["id"], "name": offering["name"]});
    }
    item
}

/// An order body for `customer_id` with `items`.
pub fn order_body(customer_id: &str, items: Vec<Value>) -> Value {
    json!({
        "description": "Fibre for the flat",
        "relatedParty": [{"id": customer_id, "@referredType": "Customer", "role": "Customer"}],
        "productOrderItem": items,
    })
}

/// How many orders the order service stored, and how many events it wrote.
pub async fn stored(order: &TestApp) -> (i64, i64) {
    let mut db = order.db().await;
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM tmf_resource WHERE kind = 'productOrder'")
        .fetch_one(&mut db)
        .await
        .unwrap();
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox").fetch_one(&mut db).await.unwrap();
    (orders, events)
}

/// The events written for one resource, oldest first: `(eventType, payload)`.
pub async fn events_of(app: &TestApp, id: &str) -> Vec<(String, Value)> {
    let mut db = app.db().await;
    sqlx::query("SELECT event_type, payload FROM outbox WHERE resource_id = $1 ORDER BY id")
        .bind(id)
        .fetch_all(&mut db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.get::<String, _>("event_type"), row.get::<Value, _>("payload")))
        .collect()
}

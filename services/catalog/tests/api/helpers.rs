//! Shared setup of the catalog tests: a running catalog and valid bodies for each resource.

use bss_testkit::TestApp;
use serde_json::{Value, json};

pub const BASE: &str = catalog::BASE_PATH;

pub async fn spawn() -> TestApp {
    TestApp::spawn(&catalog::SPEC, catalog::routes).await
}

pub fn path(rest: &str) -> String {
    format!("{BASE}/{rest}")
}

/// A minimal valid body for each resource collection, plus an attribute a PATCH may change.
pub fn valid_bodies() -> Vec<(&'static str, Value)> {
    vec![
        ("catalog", json!({"name": "Consumer", "catalogType": "productCatalog"})),
        ("category", json!({"name": "Broadband", "isRoot": true})),
        (
            "productSpecification",
            json!({"name": "Fibre access", "brand": "Acme", "productSpecCharacteristic": [{"name": "speed", "valueType": "string"}]}),
        ),
        (
            "productOfferingPrice",
            json!({"name": "Monthly fee", "priceType": "recurring", "recurringChargePeriodType": "month", "recurringChargePeriodLength": 1, "price": {"unit": "EUR", "value": 49.99}}),
        ),
        (
            "productOffering",
            json!({"name": "Fibre 1G", "isBundle": false, "validFor": {"startDateTime": "2026-01-01T00:00:00Z"}}),
        ),
    ]
}

/// Creates a resource and returns its body (asserting 201).
pub async fn create(app: &TestApp, collection: &str, body: &Value) -> Value {
    let response = app.post_json(&path(collection), body).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 201, "POST {collection}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// An offering with a price, both Active (sellable).
pub async fn active_offering(app: &TestApp, name: &str, monthly: f64) -> (Value, Value) {
    let price = create(
        app,
        "productOfferingPrice",
        &json!({"name": format!("{name} monthly"), "lifecycleStatus": "Active", "priceType": "recurring",
                "recurringChargePeriodType": "month", "price": {"unit": "EUR", "value": monthly}}),
    )
    .await;
    let offering = create(
        app,
        "productOffering",
        &json!({"name": name, "lifecycleStatus": "Active",
                "productOfferingPrice": [{"id": price["id"], "href": price["href"], "name": price["name"]}]}),
    )
    .await;
    (offering, price)
}

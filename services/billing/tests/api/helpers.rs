//! Shared setup of the billing tests: a running billing service and a valid billing account body.

use bss_testkit::TestApp;
use serde_json::{Value, json};

pub const ACCOUNTS: &str = "/tmf-api/accountManagement/v4/billingAccount";

pub async fn spawn() -> TestApp {
    TestApp::spawn(&billing::SPEC, billing::routes).await
}

/// A minimal valid billing account: everything required, nothing defaulted.
pub fn account_body() -> Value {
    json!({
        "name": "Jane Doe — main account",
        "currency": "EUR",
        "timeZone": "America/Los_Angeles",
        "taxRate": "0.20",
        "relatedParty": [{"id": "customer-1", "@referredType": "Customer", "role": "customer"}]
    })
}

/// Creates a billing account and returns its body (asserting 201).
pub async fn create_account(app: &TestApp, body: &Value) -> Value {
    let response = app.post_json(ACCOUNTS, body).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 201, "POST billingAccount: {text}");
    serde_json::from_str(&text).unwrap()
}

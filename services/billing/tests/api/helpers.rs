//! Shared setup of the billing tests: a running billing service with the real customer service as its peer, a
//! customer there, and a valid billing account body for that customer.

use bss_testkit::TestApp;
use serde_json::{Value, json};

pub const ACCOUNTS: &str = "/tmf-api/accountManagement/v4/billingAccount";
pub const CUSTOMERS: &str = "/tmf-api/customerManagement/v4/customer";

/// Billing, the customer service it checks account customers in, and one customer there.
pub struct Billing {
    pub app: TestApp,
    pub customer: TestApp,
    /// An `Approved` customer of `customer`.
    pub customer_id: String,
}

impl std::ops::Deref for Billing {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

impl Billing {
    /// A minimal valid billing account of [`Billing::customer_id`]: everything required, nothing defaulted.
    pub fn account_body(&self) -> Value {
        account_body_for(&self.customer_id)
    }
}

pub async fn spawn() -> Billing {
    spawn_with(|_| {}).await
}

/// [`spawn`], with `customise` applied to billing's environment.
pub async fn spawn_with(customise: impl FnOnce(&mut bss_common::config::Env)) -> Billing {
    let customer = TestApp::spawn(&customer::SPEC, customer::routes).await;
    let customer_url = customer.address.clone();
    let app = TestApp::spawn_with(&billing::SPEC, billing::routes, |env| {
        env.set("CUSTOMER_URL", customer_url);
        customise(env);
    })
    .await;
    let customer_id = new_customer(&customer, "Approved").await;
    Billing { app, customer, customer_id }
}

/// Creates a customer in `status` in the customer service and returns its id.
pub async fn new_customer(customer: &TestApp, status: &str) -> String {
    let body = json!({"name": "Jane Doe", "status": status,
                      "engagedParty": {"id": "ind-1", "@referredType": "Individual", "name": "Jane Doe"}});
    let created = create(customer, CUSTOMERS, &body).await;
    created["id"].as_str().unwrap().to_owned()
}

/// A minimal valid billing account of `customer_id`.
pub fn account_body_for(customer_id: &str) -> Value {
    json!({
        "name": "Jane Doe — main account",
        "currency": "EUR",
        "timeZone": "America/Los_Angeles",
        "taxRate": "0.20",
        "relatedParty": [{"id": customer_id, "@referredType": "Customer", "role": "customer"}]
    })
}

/// Creates a billing account and returns its body (asserting 201).
pub async fn create_account(app: &TestApp, body: &Value) -> Value {
    create(app, ACCOUNTS, body).await
}

/// POSTs `body` to `path` and returns the created resource (asserting 201).
pub async fn create(app: &TestApp, path: &str, body: &Value) -> Value {
    let response = app.post_json(path, body).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 201, "POST {path}: {text}");
    serde_json::from_str(&text).unwrap()
}

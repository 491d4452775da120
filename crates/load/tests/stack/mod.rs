//! The four real services for the load crate's tests: each on its own fresh database, order and billing
//! sharing one Redis prefix (billing consumes the order stream), automatic fulfilment, peers wired to each
//! other.

use bss_load::client::Targets;
use bss_testkit::TestApp;

pub struct Stack {
    pub catalog: TestApp,
    pub customer: TestApp,
    pub order: TestApp,
    pub billing: TestApp,
}

pub async fn stack() -> Stack {
    let prefix = format!("test-load-{}", uuid::Uuid::new_v4().simple());
    let catalog = TestApp::spawn(&catalog::SPEC, catalog::routes).await;
    let customer = TestApp::spawn(&customer::SPEC, customer::routes).await;
    let (billing_prefix, customer_url) = (prefix.clone(), customer.address.clone());
    let billing = TestApp::spawn_with(&billing::SPEC, billing::routes, |env| {
        env.set("REDIS_KEY_PREFIX", billing_prefix).set("CUSTOMER_URL", customer_url);
    })
    .await;
    let peers = (catalog.address.clone(), customer.address.clone(), billing.address.clone());
    let order = TestApp::spawn_with(&order::SPEC, order::routes, |env| {
        env.set("REDIS_KEY_PREFIX", prefix)
            .set("FULFILMENT_MODE", "auto")
            .set("CATALOG_URL", peers.0)
            .set("CUSTOMER_URL", peers.1)
            .set("BILLING_URL", peers.2);
    })
    .await;
    Stack { catalog, customer, order, billing }
}

impl Stack {
    pub fn targets(&self) -> Targets {
        Targets {
            catalog: self.catalog.address.clone(),
            customer: self.customer.address.clone(),
            order: self.order.address.clone(),
            billing: self.billing.address.clone(),
        }
    }
}

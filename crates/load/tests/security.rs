//! Hostile input against the four real services: SQL in filters and bodies, oversized values, unbounded
//! lists — each refused with a TMF error or treated as a plain value, never a 5xx, never a change — and the
//! logs of a whole customer journey free of tokens, secrets and personal data. (Forged, expired and `alg:
//! none` tokens, tokens of another service, missing scopes and private hub callbacks are the runtime
//! conformance checks every service runs: crates/testkit/src/conformance.rs.)

mod stack;

use bss_common::auth::ALL_SCOPES;
use bss_testkit::TestApp;
use bss_testkit::conformance::assert_tmf_error;
use serde_json::{Value, json};

const CATALOG: &str = "/tmf-api/productCatalogManagement/v4";
const CUSTOMERS: &str = "/tmf-api/customerManagement/v4";
const ORDERS: &str = "/tmf-api/productOrderingManagement/v4";
const BILLS: &str = "/tmf-api/customerBillManagement/v4";
const ACCOUNTS: &str = "/tmf-api/accountManagement/v4";

/// Classic injection payloads, as filter values and as stored values.
const PAYLOADS: &[&str] = &[
    "x' OR '1'='1",
    "'; DROP TABLE tmf_resource; --",
    "1) OR pg_sleep(5) IS NULL --",
    "%' UNION SELECT doc FROM tmf_resource --",
    "\\\"}]}'); DELETE FROM outbox; --",
];

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// A string of `length` characters that does not compress (PostgreSQL would shrink a repeated one).
fn incompressible(length: usize) -> String {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(b'a' + (state % 26) as u8)
        })
        .collect()
}

async fn created(app: &TestApp, path: &str, body: &Value) -> Value {
    let response = app.post_json(path, body).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 201, "POST {path}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// What every list of the stack returns without a filter (to compare before and after).
async fn everything(stack: &stack::Stack) -> Vec<Value> {
    let mut all = Vec::new();
    for (app, path) in lists(stack) {
        all.push(app.get_json(&format!("{path}?limit=100")).await);
    }
    all
}

fn lists(stack: &stack::Stack) -> Vec<(&TestApp, String)> {
    vec![
        (&stack.catalog, format!("{CATALOG}/productOffering")),
        (&stack.catalog, format!("{CATALOG}/productOfferingPrice")),
        (&stack.customer, format!("{CUSTOMERS}/customer")),
        (&stack.order, format!("{ORDERS}/productOrder")),
        (&stack.billing, format!("{ACCOUNTS}/billingAccount")),
        (&stack.billing, format!("{BILLS}/customerBill")),
        (&stack.billing, format!("{BILLS}/appliedCustomerBillingRate")),
    ]
}

/// A catalog with one priced offering, a customer, an account and an order, so every list has something.
async fn seed(stack: &stack::Stack) -> (Value, Value, Value) {
    let price = created(
        &stack.catalog,
        &format!("{CATALOG}/productOfferingPrice"),
        &json!({"name": "Monthly", "lifecycleStatus": "Active", "priceType": "recurring",
                "recurringChargePeriodType": "month", "price": {"unit": "EUR", "value": 10}}),
    )
    .await;
    let offering = created(
        &stack.catalog,
        &format!("{CATALOG}/productOffering"),
        &json!({"name": "Fibre", "lifecycleStatus": "Active", "productOfferingPrice": [{"id": price["id"]}]}),
    )
    .await;
    let customer = created(
        &stack.customer,
        &format!("{CUSTOMERS}/customer"),
        &json!({"name": "Jane Doe", "engagedParty": {"id": "p-1", "@referredType": "Individual"}}),
    )
    .await;
    let account = created(
        &stack.billing,
        &format!("{ACCOUNTS}/billingAccount"),
        &json!({"name": "Main", "currency": "EUR", "timeZone": "UTC", "taxRate": "0.20",
                "relatedParty": [{"id": customer["id"], "@referredType": "Customer", "role": "customer"}]}),
    )
    .await;
    let order = created(
        &stack.order,
        &format!("{ORDERS}/productOrder"),
        &json!({"relatedParty": [{"id": customer["id"], "@referredType": "Customer", "role": "Customer"}],
                "billingAccount": {"id": account["id"], "@referredType": "BillingAccount"},
                "productOrderItem": [{"id": "1", "action": "add", "productOffering": {"id": offering["id"]}}]}),
    )
    .await;
    // Let the order complete (automatic fulfilment), so the lists stand still while the test compares them.
    let order_path = format!("{ORDERS}/productOrder/{}", order["id"].as_str().unwrap());
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while stack.order.get_json(&order_path).await["state"] != "completed" {
        assert!(tokio::time::Instant::now() < deadline, "the seeded order never completed");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    stack.order.wait_for_outbox_drain().await;
    (offering, customer, account)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_in_filters_sorts_and_fields_is_a_value_or_a_400_never_sql() {
    let stack = stack::stack().await;
    seed(&stack).await;
    let before = everything(&stack).await;
    for (app, path) in lists(&stack) {
        for payload in PAYLOADS {
            let value = encode(payload);
            for query in [
                format!("id={value}"),
                format!("name={value}"),
                format!("billingAccount.id={value}"),
                format!("relatedParty.id={value}"),
                format!("lastUpdate.gt={value}"),
                format!("sort={value}"),
                format!("fields={value}"),
                format!("{value}=1"),
            ] {
                let url = format!("{path}?{query}");
                let response = app.get_authorized(&url).await;
                let status = response.status().as_u16();
                match status {
                    200 => {
                        let body: Value = response.json().await.unwrap();
                        let matched = body.as_array().map_or(0, Vec::len);
                        // `fields` and `sort` do not filter; every other payload matches nothing.
                        if !query.starts_with("fields=") && !query.starts_with("sort=") {
                            assert_eq!(matched, 0, "GET {url} matched {matched}: {body}");
                        }
                    }
                    400 => {
                        assert_tmf_error(response, 400, &url).await;
                    }
                    other => panic!("GET {url}: {other} {}", response.text().await.unwrap_or_default()),
                }
            }
        }
    }
    assert_eq!(everything(&stack).await, before, "nothing changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_in_bodies_is_stored_verbatim_and_found_by_an_exact_filter() {
    let stack = stack::stack().await;
    seed(&stack).await;
    for payload in PAYLOADS {
        let customer = created(
            &stack.customer,
            &format!("{CUSTOMERS}/customer"),
            &json!({"name": payload, "engagedParty": {"id": payload, "@referredType": "Individual"}}),
        )
        .await;
        let id = customer["id"].as_str().unwrap();
        let stored = stack.customer.get_json(&format!("{CUSTOMERS}/customer/{id}")).await;
        assert_eq!(stored["name"], *payload);
        assert_eq!(stored["engagedParty"]["id"], *payload);
        let found = stack.customer.get_json(&format!("{CUSTOMERS}/customer?name={}", encode(payload))).await;
        let ids: Vec<&str> = found.as_array().unwrap().iter().filter_map(|c| c["id"].as_str()).collect();
        assert_eq!(ids, [id], "exactly the customer named {payload:?}");
    }
    // The tables the payloads name are all there, with everything in them.
    let customers = stack.customer.get_json(&format!("{CUSTOMERS}/customer?limit=100")).await;
    assert_eq!(customers.as_array().unwrap().len(), 1 + PAYLOADS.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_values_and_bodies_are_refused_with_a_tmf_error_and_change_nothing() {
    let stack = stack::stack().await;
    let (offering, customer, account) = seed(&stack).await;
    let before = everything(&stack).await;
    let long_name = incompressible(20_000);
    let party = json!([{"id": customer["id"], "@referredType": "Customer", "role": "customer"}]);
    for (app, path, body) in [
        (&stack.catalog, format!("{CATALOG}/productOffering"), json!({"name": long_name})),
        (
            &stack.customer,
            format!("{CUSTOMERS}/customer"),
            json!({"name": long_name, "engagedParty": {"id": "p-2", "@referredType": "Individual"}}),
        ),
        (
            &stack.billing,
            format!("{ACCOUNTS}/billingAccount"),
            json!({"name": long_name, "currency": "EUR", "timeZone": "UTC", "taxRate": "0.20", "relatedParty": party}),
        ),
        (
            &stack.order,
            format!("{ORDERS}/productOrder"),
            json!({"externalId": long_name, "relatedParty": [{"id": customer["id"], "@referredType": "Customer"}],
                   "productOrderItem": [{"id": "1", "action": "add", "productOffering": {"id": offering["id"]}}]}),
        ),
    ] {
        let error = assert_tmf_error(app.post_json(&path, &body).await, 400, &format!("long value on {path}")).await;
        assert!(error["message"].as_str().unwrap().contains("at most"), "{error}");
        // A body larger than the limit is refused before it is read.
        let huge = json!({"name": "x", "description": "y".repeat(3 * 1024 * 1024)});
        assert_tmf_error(app.post_json(&path, &huge).await, 413, &format!("huge body on {path}")).await;
    }
    // A PATCH to an oversized name is refused too, and the stored name is unchanged.
    let offering_path = format!("{CATALOG}/productOffering/{}", offering["id"].as_str().unwrap());
    let patched =
        stack.catalog.patch_as(&offering_path, "application/merge-patch+json", &json!({"name": long_name})).await;
    assert_tmf_error(patched, 400, "PATCH with a long name").await;
    let account_path = format!("{ACCOUNTS}/billingAccount/{}", account["id"].as_str().unwrap());
    let patched =
        stack.billing.patch_as(&account_path, "application/merge-patch+json", &json!({"name": long_name})).await;
    assert_tmf_error(patched, 400, "PATCH an account with a long name").await;
    assert_eq!(everything(&stack).await, before, "nothing changed");
    // The longest name accepted is stored whole.
    let longest = incompressible(bss_tmf::store::MAX_NAME_CHARS);
    let kept = created(&stack.catalog, &format!("{CATALOG}/productOffering"), &json!({"name": longest})).await;
    assert_eq!(kept["name"], longest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_character_anywhere_in_a_body_is_a_400_and_changes_nothing() {
    // JSON allows "\u0000"; PostgreSQL's jsonb and text do not. schemathesis (make fuzz) found the 500 this was.
    let stack = stack::stack().await;
    let (offering, customer, _) = seed(&stack).await;
    let before = everything(&stack).await;
    let nul = "a\u{0}b";
    for (app, path, body) in [
        (&stack.catalog, format!("{CATALOG}/category"), json!({"name": "ok", "description": nul})),
        (&stack.catalog, format!("{CATALOG}/productOffering"), json!({"name": "ok", "version": nul})),
        (
            &stack.customer,
            format!("{CUSTOMERS}/customer"),
            json!({"name": nul, "engagedParty": {"id": "p", "@referredType": "Individual"}}),
        ),
        (
            &stack.order,
            format!("{ORDERS}/productOrder"),
            json!({"description": nul, "relatedParty": [{"id": customer["id"], "@referredType": "Customer"}],
                   "productOrderItem": [{"id": "1", "action": "add", "productOffering": {"id": offering["id"]}}]}),
        ),
    ] {
        let error = assert_tmf_error(app.post_json(&path, &body).await, 400, &format!("NUL in {path}")).await;
        assert!(error["message"].as_str().unwrap().contains("NUL"), "{path}: {error}");
    }
    assert_eq!(everything(&stack).await, before, "nothing changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_list_is_bounded() {
    let stack = stack::stack().await;
    seed(&stack).await;
    for (app, path) in lists(&stack) {
        for query in ["limit=100000", "limit=0", "limit=-1", "offset=-1", "limit=1e3", "offset=99999999999999999999"] {
            let url = format!("{path}?{query}");
            assert_tmf_error(app.get_authorized(&url).await, 400, &url).await;
        }
        let page = app.get_authorized(&format!("{path}?limit=1")).await;
        assert_eq!(page.status(), 200, "{path}");
        assert!(page.json::<Value>().await.unwrap().as_array().unwrap().len() <= 1, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_journey_logs_no_token_secret_or_personal_data() {
    let stack = stack::stack().await;
    let token = bss_testkit::token(ALL_SCOPES);
    let (email, phone, name) = ("jane.secret@example.com", "+44 20 7946 0123", "Janet Q. Privatesurname");
    created(
        &stack.customer,
        &format!("{CUSTOMERS}/customer"),
        &json!({"name": name, "engagedParty": {"id": "p-9", "@referredType": "Individual", "name": name},
                "contactMedium": [{"mediumType": "Email", "characteristic": {"emailAddress": email}},
                                  {"mediumType": "TelephoneNumber", "characteristic": {"phoneNumber": phone}}]}),
    )
    .await;
    // A refused request carries the token too (errors are where secrets usually leak).
    let refused = reqwest::Client::new()
        .get(stack.customer.url(&format!("{CUSTOMERS}/customer?limit=-5&name={}", encode(email))))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let options = bss_load::Options {
        targets: stack.targets(),
        token: token.clone(),
        concurrency: 2,
        rate: None,
        duration: None,
        journeys: Some(4),
        cancel_every: 2,
        bill_batch: 2,
        order_timeout: std::time::Duration::from_secs(60),
        settle_timeout: std::time::Duration::from_secs(30),
        progress: false,
    };
    let outcome = bss_load::run(options).await.unwrap();
    assert!(outcome.passed(), "{}", bss_load::report::text(&outcome));

    let logs = bss_testkit::captured_logs();
    assert!(logs.contains("\"service\":\"billing\"") && logs.contains("\"service\":\"order\""), "logs were captured");
    let signature = token.rsplit('.').next().unwrap();
    for (what, secret) in [
        ("the bearer token", token.as_str()),
        ("the token's signature", signature),
        ("the JWT secret", bss_testkit::TEST_JWT_SECRET),
        ("an email address", email),
        ("a phone number", phone),
        ("a customer's name", name),
        ("a load customer's name", "Load Customer 1"),
    ] {
        assert!(!logs.contains(secret), "{what} is in the logs");
    }
}

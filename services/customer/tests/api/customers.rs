//! Every customer operation with its success and failure paths, list features, PATCH, lifecycle, events.

use bss_testkit::TestApp;
use bss_testkit::conformance::assert_tmf_error;
use serde_json::{Value, json};

pub const BASE: &str = customer::BASE_PATH;

pub fn path(rest: &str) -> String {
    format!("{BASE}/{rest}")
}

pub async fn spawn() -> TestApp {
    TestApp::spawn(&customer::SPEC, customer::routes).await
}

/// A complete, valid customer in the shape of the TMF629 sample.
pub fn customer_body(name: &str, email: &str) -> Value {
    json!({
        "name": name,
        "engagedParty": {"id": "org-500", "@referredType": "Organization", "name": name},
        "contactMedium": [
            {"mediumType": "Email", "preferred": true, "characteristic": {"emailAddress": email, "contactType": "work"}},
            {"mediumType": "TelephoneNumber", "characteristic": {"phoneNumber": "+44 20 7946 0958", "contactType": "homePhone"}},
            {"mediumType": "PostalAddress", "characteristic": {"city": "Paris", "street1": "15 Rue des Canards", "postCode": "75014", "country": "France"}}
        ],
        "characteristic": [{"name": "fidelityProgram", "value": "premium", "valueType": "string"}],
        "account": [{"id": "8251", "name": "Travel Account", "@referredType": "BillingAccount"}],
        "agreement": [{"id": "AG-1", "name": "Framework"}],
        "creditProfile": [{"creditProfileDate": "2026-06-15T00:00:00Z", "creditRiskRating": 4, "creditScore": 5,
                           "validFor": {"startDateTime": "2026-06-13T00:00:00Z"}}],
        "paymentMethod": [{"id": "9562", "name": "card", "@referredType": "CreditCardPayment"}],
        "relatedParty": [{"id": "ind-1", "@referredType": "Individual", "role": "accountManager"}],
        "validFor": {"startDateTime": "2026-06-12T00:00:00Z"}
    })
}

pub async fn create(app: &TestApp, body: &Value) -> Value {
    let response = app.post_json(&path("customer"), body).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 201, "{text}");
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn a_customer_is_created_read_listed_patched_and_deleted() {
    let app = spawn().await;
    let body = customer_body("Moon Football Club", "club@moon.example");
    let response = app.post_json(&path("customer"), &body).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    assert_eq!(location, created["href"]);
    assert_eq!(created["status"], "Initialized");
    assert_eq!(created["@type"], "Customer");
    for attribute in [
        "engagedParty",
        "contactMedium",
        "characteristic",
        "account",
        "agreement",
        "creditProfile",
        "paymentMethod",
        "relatedParty",
        "validFor",
    ] {
        assert_eq!(created[attribute], body[attribute], "{attribute} kept as sent");
    }
    let href = created["href"].as_str().unwrap();
    assert_eq!(app.get_json(href).await, created);

    let listed = app.get_authorized(&path("customer")).await;
    assert_eq!(listed.headers()["x-total-count"], "1");
    assert_eq!(listed.json::<Vec<Value>>().await.unwrap(), vec![created.clone()]);

    let patched = app.patch_as(href, "application/merge-patch+json", &json!({"statusReason": "checked"})).await;
    assert_eq!(patched.status(), 200);
    assert_eq!(patched.json::<Value>().await.unwrap()["statusReason"], "checked");
    assert_eq!(app.delete_authorized(href).await.status(), 204);
    assert_tmf_error(app.get_authorized(href).await, 404, "deleted customer").await;
    assert_tmf_error(app.delete_authorized(href).await, 404, "delete twice").await;
}

#[tokio::test]
async fn invalid_customers_get_a_400_naming_the_attribute() {
    let app = spawn().await;
    let with = |change: &dyn Fn(&mut Value)| {
        let mut body = customer_body("Jane Doe", "jane@example.com");
        change(&mut body);
        body
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "missing name",
            with(&|b| {
                b.as_object_mut().unwrap().remove("name");
            }),
            "'name'",
        ),
        (
            "missing engaged party",
            with(&|b| {
                b.as_object_mut().unwrap().remove("engagedParty");
            }),
            "'engagedParty'",
        ),
        (
            "engaged party without type",
            with(&|b| {
                b["engagedParty"] = json!({"id": "p"});
            }),
            "engagedParty.@referredType",
        ),
        (
            "malformed e-mail",
            with(&|b| b["contactMedium"][0]["characteristic"]["emailAddress"] = json!("jane.example.com")),
            "contactMedium[0].characteristic.emailAddress",
        ),
        (
            "e-mail medium without address",
            with(&|b| b["contactMedium"][0]["characteristic"] = json!({"contactType": "work"})),
            "contactMedium[0].characteristic.emailAddress",
        ),
        (
            "malformed phone",
            with(&|b| b["contactMedium"][1]["characteristic"]["phoneNumber"] = json!("call me maybe")),
            "contactMedium[1].characteristic.phoneNumber",
        ),
        (
            "postal address without place",
            with(&|b| b["contactMedium"][2]["characteristic"] = json!({"street1": "x"})),
            "contactMedium[2].characteristic.city",
        ),
        (
            "unknown medium",
            with(&|b| b["contactMedium"][0]["mediumType"] = json!("Pigeon")),
            "contactMedium[0].mediumType",
        ),
        (
            "characteristic without value",
            with(&|b| b["characteristic"] = json!([{"name": "x"}])),
            "characteristic[0].value",
        ),
        ("account without name", with(&|b| b["account"] = json!([{"id": "1"}])), "account[0].name"),
        (
            "credit profile without date",
            with(&|b| b["creditProfile"] = json!([{"validFor": {}}])),
            "creditProfile[0].creditProfileDate",
        ),
        ("unknown status", with(&|b| b["status"] = json!("VIP")), "status"),
        ("unknown attribute", with(&|b| b["shoeSize"] = json!(44)), "shoeSize"),
    ];
    for (case, body, named) in cases {
        let error = assert_tmf_error(app.post_json(&path("customer"), &body).await, 400, case).await;
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(named), "{case}: {message}");
        assert!(!message.contains("jane"), "{case}: the value is not echoed: {message}");
    }
    assert_eq!(app.get_authorized(&path("customer")).await.headers()["x-total-count"], "0", "nothing was created");
}

#[tokio::test]
async fn lists_filter_by_nested_contact_details_with_paging_fields_and_sort() {
    let app = spawn().await;
    for (name, email) in [("Alice", "alice@a.example"), ("Bob", "bob@b.example"), ("Carol", "carol@c.example")] {
        create(&app, &customer_body(name, email)).await;
    }
    let names = |query: &str| {
        let url = format!("{}?{query}", path("customer"));
        let app = &app;
        async move {
            let response = app.get_authorized(&url).await;
            assert_eq!(response.status(), 200, "{url}");
            let total = response.headers()["x-total-count"].to_str().unwrap().to_owned();
            let page: Vec<Value> = response.json().await.unwrap();
            (page.iter().map(|c| c["name"].as_str().unwrap_or("?").to_owned()).collect::<Vec<_>>(), total, page)
        }
    };
    assert_eq!(names("contactMedium.characteristic.emailAddress=bob@b.example").await.0, ["Bob"]);
    assert_eq!(
        names("contactMedium.characteristic.emailAddress=bob@b.example,carol@c.example&sort=name").await.0,
        ["Bob", "Carol"]
    );
    assert_eq!(names("contactMedium.mediumType=Email&name=Alice").await.0, ["Alice"]);
    assert_eq!(names("engagedParty.id=org-500&sort=-name").await.0, ["Carol", "Bob", "Alice"]);
    assert_eq!(names("status=Initialized&sort=name&offset=1&limit=1").await.0, ["Bob"]);
    assert_eq!(names("status=Initialized&sort=name&offset=1&limit=1").await.1, "3");
    let (_, _, page) = names("fields=name,status&sort=name&limit=1").await;
    let mut keys: Vec<&str> = page[0].as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["@type", "href", "id", "name", "status"]);
    for bad in ["contactMedium.characteristic.emailAddress.like=a", "shoeSize=44", "limit=0"] {
        assert_tmf_error(app.get_authorized(&format!("{}?{bad}", path("customer"))).await, 400, bad).await;
    }
}

#[tokio::test]
async fn patch_works_in_all_three_media_types_and_revalidates() {
    let app = spawn().await;
    let created = create(&app, &customer_body("Jane", "jane@example.com")).await;
    let href = created["href"].as_str().unwrap();
    let merged = app.patch_as(href, "application/merge-patch+json", &json!({"name": "Jane D."})).await;
    assert_eq!(merged.json::<Value>().await.unwrap()["name"], "Jane D.");
    let plain = app.patch_as(href, "application/json", &json!({"statusReason": "kyc"})).await;
    assert_eq!(plain.json::<Value>().await.unwrap()["statusReason"], "kyc");
    let ops =
        json!([{"op": "replace", "path": "/contactMedium/0/characteristic/emailAddress", "value": "jd@example.com"}]);
    let patched = app.patch_as(href, "application/json-patch+json", &ops).await;
    assert_eq!(patched.status(), 200);
    assert_eq!(
        patched.json::<Value>().await.unwrap()["contactMedium"][0]["characteristic"]["emailAddress"],
        "jd@example.com"
    );

    let bad =
        json!([{"op": "replace", "path": "/contactMedium/0/characteristic/emailAddress", "value": "not-an-address"}]);
    let error =
        assert_tmf_error(app.patch_as(href, "application/json-patch+json", &bad).await, 400, "invalid e-mail by patch")
            .await;
    assert!(error["message"].as_str().unwrap().contains("contactMedium[0].characteristic.emailAddress"));
    assert_tmf_error(app.patch_as(href, "application/merge-patch+json", &json!({"id": "x"})).await, 400, "id").await;
    assert_tmf_error(
        app.patch_as(href, "application/merge-patch+json", &json!({"engagedParty": null})).await,
        400,
        "required engagedParty",
    )
    .await;
    assert_eq!(
        app.get_json(href).await["contactMedium"][0]["characteristic"]["emailAddress"],
        "jd@example.com",
        "refused patches changed nothing"
    );
}

#[tokio::test]
async fn the_status_lifecycle_is_enforced_and_each_move_is_a_state_change_event() {
    let app = spawn().await;
    let created = create(&app, &customer_body("Jane", "jane@example.com")).await;
    let href = created["href"].as_str().unwrap();
    let steps = [
        ("Closed", 409),
        ("Validated", 200),
        ("Initialized", 409),
        ("Approved", 200),
        ("Suspended", 200),
        ("Validated", 409),
        ("Approved", 200),
        ("Closed", 200),
        ("Approved", 409),
    ];
    for (to, status) in steps {
        let response = app.patch_as(href, "application/merge-patch+json", &json!({"status": to})).await;
        assert_eq!(response.status().as_u16(), status, "→ {to}");
    }
    let mut db = app.db().await;
    let moves: Vec<String> = sqlx::query_scalar(
        "SELECT payload #>> '{event,customer,status}' FROM outbox WHERE event_type = 'CustomerStateChangeEvent' ORDER BY id",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(
        moves,
        ["Validated", "Approved", "Suspended", "Approved", "Closed"],
        "one event per legal move, in order"
    );
}

#[tokio::test]
async fn an_active_customer_cannot_be_deleted_until_closed() {
    let app = spawn().await;
    let mut body = customer_body("Jane", "jane@example.com");
    body["status"] = json!("Approved");
    let created = create(&app, &body).await;
    let href = created["href"].as_str().unwrap();
    assert_tmf_error(app.delete_authorized(href).await, 409, "delete an Approved customer").await;
    let closed = app.patch_as(href, "application/merge-patch+json", &json!({"status": "Closed"})).await;
    assert_eq!(closed.status(), 200);
    assert_eq!(app.delete_authorized(href).await.status(), 204);
}

#[tokio::test]
async fn reads_and_writes_are_audited_with_who_and_why() {
    let app = spawn().await;
    let created = create(&app, &customer_body("Jane", "jane@example.com")).await;
    let href = created["href"].as_str().unwrap().to_owned();
    let read = app
        .client
        .get(app.url(&href))
        .bearer_auth(bss_testkit::token(&["customer:read"]))
        .header("X-Purpose", "order validation")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let mut db = app.db().await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let rows: Vec<(String, String, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT category, actor, resource_id, detail->>'purpose' FROM audit_log
             WHERE category IN ('data_access', 'data_change') ORDER BY id",
        )
        .fetch_all(&mut db)
        .await
        .unwrap();
        let id = created["id"].as_str().map(str::to_owned);
        if rows.len() >= 2 {
            assert_eq!(rows[0].0, "data_change", "the creation");
            assert_eq!(rows[1], ("data_access".into(), "test-user".into(), id, Some("order validation".into())));
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "audit rows: {rows:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn customers_are_cached_and_a_change_is_visible_at_once() {
    let app = spawn().await;
    let created = create(&app, &customer_body("Jane", "jane@example.com")).await;
    let href = created["href"].as_str().unwrap();
    app.wait_for_outbox_drain().await;
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    app.get_json(href).await;
    let client = bss_common::kv::redis::Client::open(bss_testkit::redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let key = app.context.redis.key(&format!("resource:customer:{}", created["id"].as_str().unwrap()));
    let cached: Option<String> = bss_common::kv::redis::cmd("GET").arg(&key).query_async(&mut conn).await.unwrap();
    assert!(cached.is_some_and(|c| c.contains("Jane")), "filled by the read");
    let patched = app.patch_as(href, "application/merge-patch+json", &json!({"name": "Janet"})).await;
    assert_eq!(patched.status(), 200);
    assert_eq!(app.get_json(href).await["name"], "Janet", "read after write");
}

#[tokio::test]
async fn customer_events_reach_a_registered_listener() {
    let app = spawn().await;
    let recorder = bss_testkit::listener::Recorder::default();
    let server = recorder.serve(0, 200).await;
    let callback = server.callback();
    assert_eq!(
        app.post_json(
            &path("hub"),
            &json!({"callback": callback, "query": "eventType=CustomerCreateEvent,CustomerStateChangeEvent"})
        )
        .await
        .status(),
        201
    );
    let created = create(&app, &customer_body("Jane", "jane@example.com")).await;
    let href = created["href"].as_str().unwrap();
    app.patch_as(href, "application/merge-patch+json", &json!({"statusReason": "not sent: filtered out"})).await;
    app.patch_as(href, "application/merge-patch+json", &json!({"status": "Approved"})).await;
    recorder.wait_for(2, std::time::Duration::from_secs(15), "the two matching events").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let events = recorder.bodies();
    let types: Vec<&str> = events.iter().map(|e| e["eventType"].as_str().unwrap()).collect();
    assert_eq!(types, ["CustomerCreateEvent", "CustomerStateChangeEvent"]);
    assert_eq!(events[0]["event"]["customer"], created);
    assert_eq!(events[1]["event"]["customer"]["status"], "Approved");
}

//! Billing accounts (TMF666 subset): every operation, the validation of each billing term, the lifecycle.

use crate::helpers::{ACCOUNTS, Billing, account_body_for, create_account, new_customer, spawn};
use bss_testkit::TestApp;
use bss_testkit::conformance::assert_tmf_error;
use serde_json::{Value, json};

const MERGE: &str = "application/merge-patch+json";

#[tokio::test]
async fn a_billing_account_is_created_read_listed_patched_and_deleted() {
    let app = spawn().await;
    let response = app.post_json(ACCOUNTS, &app.account_body()).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_str().expect("server-generated id");
    assert_eq!(created["href"], format!("{ACCOUNTS}/{id}"));
    assert_eq!(location, created["href"], "Location = href");
    assert_eq!(created["state"], "active", "initial state");
    assert_eq!(created["@type"], "BillingAccount");
    assert_eq!(
        (created["billCycleDay"].as_i64(), created["paymentTermsDays"].as_i64()),
        (Some(1), Some(30)),
        "defaults"
    );
    assert_eq!(
        (created["currency"].as_str(), created["timeZone"].as_str()),
        (Some("EUR"), Some("America/Los_Angeles"))
    );
    assert_eq!(created["taxRate"], "0.20", "the rate is kept as sent");
    let href = created["href"].as_str().unwrap().to_owned();

    assert_eq!(app.get_json(&href).await, created, "GET returns what POST returned");
    let listed = app.get_authorized(ACCOUNTS).await;
    assert_eq!(listed.headers()["x-total-count"], "1");
    assert_eq!(listed.json::<Vec<Value>>().await.unwrap(), vec![created.clone()]);
    let filtered = app.get_authorized(&format!("{ACCOUNTS}?currency=USD")).await;
    assert_eq!(filtered.headers()["x-total-count"], "0", "attribute filters apply to the extensions");

    let patched = app.patch_as(&href, MERGE, &json!({"paymentTermsDays": 14, "taxRate": "0.055"})).await;
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.unwrap();
    assert_eq!((patched["paymentTermsDays"].as_i64(), patched["taxRate"].as_str()), (Some(14), Some("0.055")));
    assert_eq!(app.get_json(&href).await, patched, "the patch was stored");

    assert_tmf_error(app.delete_authorized(&href).await, 409, "an active account cannot be deleted").await;
    assert_eq!(app.patch_as(&href, MERGE, &json!({"state": "closed"})).await.status(), 200);
    assert_eq!(app.delete_authorized(&href).await.status(), 204);
    assert_tmf_error(app.get_authorized(&href).await, 404, "read after delete").await;
}

#[tokio::test]
async fn explicit_cycle_day_and_payment_terms_are_kept() {
    let app = spawn().await;
    let mut body = app.account_body();
    body["billCycleDay"] = json!(31);
    body["paymentTermsDays"] = json!(0);
    let created = create_account(&app, &body).await;
    assert_eq!((created["billCycleDay"].as_i64(), created["paymentTermsDays"].as_i64()), (Some(31), Some(0)));
}

#[tokio::test]
async fn invalid_billing_terms_are_400s_naming_the_attribute_and_create_nothing() {
    let app = spawn().await;
    let cases: Vec<(&str, &str, Value)> = vec![
        ("currency", "currency", json!("EURO")),
        ("lower-case currency", "currency", json!("eur")),
        ("time zone", "timeZone", json!("Europe/Atlantis")),
        ("offset instead of a zone", "timeZone", json!("+02:00")),
        ("cycle day 0", "billCycleDay", json!(0)),
        ("cycle day 32", "billCycleDay", json!(32)),
        ("fractional cycle day", "billCycleDay", json!(1.5)),
        ("negative terms", "paymentTermsDays", json!(-1)),
        ("terms over a year", "paymentTermsDays", json!(366)),
        ("percent tax", "taxRate", json!("20%")),
        ("tax over 100 %", "taxRate", json!("1.2")),
        ("numeric tax", "taxRate", json!(0.2)),
    ];
    for (case, attribute, value) in cases {
        let mut body = app.account_body();
        body[attribute] = value;
        let response = app.post_json(ACCOUNTS, &body).await;
        let error = assert_tmf_error(response, 400, case).await;
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains(&format!("'{attribute}'")), "{case}: {message}");
    }
    for missing in ["currency", "timeZone", "taxRate", "relatedParty", "name"] {
        let mut body = app.account_body();
        body.as_object_mut().unwrap().remove(missing);
        let error = assert_tmf_error(app.post_json(ACCOUNTS, &body).await, 400, missing).await;
        assert!(error["message"].as_str().unwrap_or_default().contains(&format!("'{missing}'")), "{missing}: {error}");
    }
    let mut body = app.account_body();
    body["relatedParty"] = json!([{"id": "u1", "@referredType": "Individual", "role": "contact"}]);
    let error = assert_tmf_error(app.post_json(ACCOUNTS, &body).await, 400, "no customer").await;
    assert!(error["message"].as_str().unwrap_or_default().contains("'relatedParty'"), "{error}");
    assert_eq!(app.get_authorized(ACCOUNTS).await.headers()["x-total-count"], "0", "nothing was created");
}

#[tokio::test]
async fn a_patch_that_breaks_a_term_is_refused_and_changes_nothing() {
    let app = spawn().await;
    let created = create_account(&app, &app.account_body()).await;
    let href = created["href"].as_str().unwrap();
    for (attribute, value) in [("paymentTermsDays", json!(-5)), ("taxRate", json!("abc"))] {
        let error = assert_tmf_error(app.patch_as(href, MERGE, &json!({attribute: value})).await, 400, attribute).await;
        assert!(error["message"].as_str().unwrap_or_default().contains(&format!("'{attribute}'")), "{error}");
    }
    assert_eq!(app.get_json(href).await, created);
}

#[tokio::test]
async fn the_calendar_and_currency_of_an_account_cannot_be_patched() {
    let app = spawn().await;
    let created = create_account(&app, &app.account_body()).await;
    let href = created["href"].as_str().unwrap();
    for (attribute, value) in [("currency", json!("USD")), ("timeZone", json!("UTC")), ("billCycleDay", json!(15))] {
        let error = assert_tmf_error(app.patch_as(href, MERGE, &json!({attribute: value})).await, 400, attribute).await;
        assert!(error["message"].as_str().unwrap_or_default().contains(attribute), "{attribute}: {error}");
    }
    assert_eq!(app.get_json(href).await, created);
}

#[tokio::test]
async fn the_lifecycle_allows_suspend_and_resume_and_closed_is_final() {
    let app = spawn().await;
    let created = create_account(&app, &app.account_body()).await;
    let href = created["href"].as_str().unwrap();
    let state = |body: Value| body["state"].as_str().unwrap_or_default().to_owned();
    for next in ["suspended", "active", "suspended", "closed"] {
        let response = app.patch_as(href, MERGE, &json!({"state": next})).await;
        assert_eq!(response.status(), 200, "→ {next}");
        assert_eq!(state(response.json().await.unwrap()), next);
    }
    for next in ["active", "suspended"] {
        assert_tmf_error(app.patch_as(href, MERGE, &json!({"state": next})).await, 409, next).await;
    }
    assert_eq!(state(app.get_json(href).await), "closed", "a refused move changes nothing");
    assert_tmf_error(app.patch_as(href, MERGE, &json!({"state": "deleted"})).await, 400, "unknown state").await;
}

#[tokio::test]
async fn a_suspended_account_cannot_be_deleted_and_an_unknown_one_is_404() {
    let app = spawn().await;
    let created = create_account(&app, &app.account_body()).await;
    let href = created["href"].as_str().unwrap();
    assert_eq!(app.patch_as(href, MERGE, &json!({"state": "suspended"})).await.status(), 200);
    assert_tmf_error(app.delete_authorized(href).await, 409, "suspended").await;
    assert_tmf_error(app.get_authorized(&format!("{ACCOUNTS}/no-such-id")).await, 404, "unknown id").await;
    assert_tmf_error(app.delete_authorized(&format!("{ACCOUNTS}/no-such-id")).await, 404, "unknown id").await;
}

#[tokio::test]
async fn a_client_may_create_an_account_in_a_known_state_but_not_an_unknown_one() {
    // Migrations of existing accounts arrive in their current state.
    let app = spawn().await;
    let mut body = app.account_body();
    body["state"] = json!("closed");
    assert_eq!(create_account(&app, &body).await["state"], "closed");
    body["state"] = json!("open");
    assert_tmf_error(app.post_json(ACCOUNTS, &body).await, 400, "unknown state").await;
}

/// How many billing accounts billing stores.
async fn account_count(app: &TestApp) -> String {
    app.get_authorized(ACCOUNTS).await.headers()["x-total-count"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_account_for_an_unknown_customer_is_a_422_naming_the_reference_and_creates_nothing() {
    let app = spawn().await;
    let error =
        assert_tmf_error(app.post_json(ACCOUNTS, &account_body_for("no-such-customer")).await, 422, "unknown").await;
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.contains("relatedParty customer 'no-such-customer' does not exist"), "{error}");
    assert_eq!(account_count(&app).await, "0", "nothing was created");
}

#[tokio::test]
async fn an_account_for_a_closed_or_rejected_customer_is_a_422_and_creates_nothing() {
    let app = spawn().await;
    for status in ["Closed", "Rejected"] {
        let customer_id = new_customer(&app.customer, status).await;
        let error = assert_tmf_error(app.post_json(ACCOUNTS, &account_body_for(&customer_id)).await, 422, status).await;
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains(&customer_id) && message.contains(status), "{error}");
    }
    assert_eq!(account_count(&app).await, "0", "nothing was created");
}

#[tokio::test]
async fn with_the_customer_service_down_an_account_post_is_a_503_and_creates_nothing() {
    let Billing { app, customer, customer_id } = spawn().await;
    customer.stop().await.unwrap();
    let error = assert_tmf_error(app.post_json(ACCOUNTS, &account_body_for(&customer_id)).await, 503, "down").await;
    assert!(error["message"].as_str().unwrap_or_default().contains("customer service"), "{error}");
    assert_eq!(account_count(&app).await, "0", "nothing was created");
}

#[tokio::test]
async fn a_patch_moving_an_account_to_an_unknown_customer_is_a_422_and_changes_nothing() {
    let app = spawn().await;
    let created = create_account(&app, &app.account_body()).await;
    let href = created["href"].as_str().unwrap();
    let to = |id: &str| json!({"relatedParty": [{"id": id, "@referredType": "Customer", "role": "customer"}]});
    let error = assert_tmf_error(app.patch_as(href, MERGE, &to("no-such-customer")).await, 422, "unknown").await;
    assert!(error["message"].as_str().unwrap_or_default().contains("'no-such-customer'"), "{error}");
    let closed = new_customer(&app.customer, "Closed").await;
    assert_tmf_error(app.patch_as(href, MERGE, &to(&closed)).await, 422, "closed").await;
    assert_eq!(app.get_json(href).await, created, "the account is unchanged");

    // To an existing customer, and a patch that leaves the customer alone, both go through.
    let other = new_customer(&app.customer, "Approved").await;
    let moved = app.patch_as(href, MERGE, &to(&other)).await;
    assert_eq!(moved.status(), 200);
    assert_eq!(moved.json::<Value>().await.unwrap()["relatedParty"][0]["id"], other);
    assert_eq!(app.patch_as(href, MERGE, &json!({"name": "Renamed"})).await.status(), 200);
}

#[tokio::test]
async fn a_default_account_setting_billing_cannot_use_stops_start_up_naming_the_variable() {
    let database_url = bss_testkit::fresh_database().await;
    let base = bss_testkit::test_env(&database_url).into_pairs();
    for (variable, value) in [
        ("BILLING_DEFAULT_TAX_RATE", "1.5"),
        ("BILLING_DEFAULT_TIME_ZONE", "Europe/Atlantis"),
        ("BILLING_DEFAULT_CURRENCY", "XYZ"),
    ] {
        let env: Vec<(String, String)> = base
            .iter()
            .filter(|(k, _)| k != variable && k != "PORT")
            .cloned()
            .chain([(variable.to_owned(), value.to_owned())])
            .collect();
        let mut process = bss_testkit::process::ServiceProcess::spawn(env!("CARGO_BIN_EXE_billing"), &env);
        let status = process.wait_exit(std::time::Duration::from_secs(10)).expect("exits at once");
        assert_eq!(status.code(), Some(2), "{variable}: exit code");
        let output = process.output().join("\n");
        assert!(output.contains(variable), "{variable} named in:\n{output}");
    }
}

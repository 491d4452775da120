//! Bill runs, bills, applied rates, payments, on-demand bills and bill documents, black box: billable products
//! arrive as order events on the real stream (crafted with chosen event times, so the calendar is under the
//! test's control), bills come from `POST billRun` and `customerBillOnDemand`, and everything is read back
//! through the TMF678 API, with the stored rows compared where "nothing changed" must be proven.

use crate::helpers::{self, Billing};
use bss_common::kv::{RedisPool, redis};
use serde_json::{Value, json};
use std::time::Duration;

const BASE: &str = "/tmf-api/customerBillManagement/v4";
const WAIT: Duration = Duration::from_secs(30);

/// Billing with the scheduler off (the tests run bills themselves) on a stream prefix of its own.
async fn spawn() -> Billing {
    let prefix = format!("test-bills-{}", uuid::Uuid::new_v4().simple());
    helpers::spawn_with(move |env| {
        env.set("REDIS_KEY_PREFIX", prefix).set("BILLING_RUN_SCHEDULER", "false").set("BILLING_CLAIM_IDLE_MS", "100");
    })
    .await
}

async fn account(app: &Billing, time_zone: &str, cycle_day: i64) -> String {
    let mut body = app.account_body();
    body["timeZone"] = json!(time_zone);
    body["billCycleDay"] = json!(cycle_day);
    helpers::create_account(app, &body).await["id"].as_str().unwrap().to_owned()
}

/// A completed order with one completed `add` item per price list, on `account`, as the order service
/// publishes it, at `event_time`. Returns the order id.
async fn order_event(app: &Billing, account: &str, event_time: &str, state: &str, items: Vec<(&str, Value)>) -> String {
    let order_id = uuid::Uuid::new_v4().to_string();
    let items: Vec<Value> = items
        .into_iter()
        .enumerate()
        .map(|(i, (item_state, prices))| {
            json!({"id": (i + 1).to_string(), "action": "add", "state": item_state, "quantity": 1,
                   "productOffering": {"id": "po-1", "name": "Fibre 1G"}, "itemPrice": prices})
        })
        .collect();
    let order = json!({"id": order_id, "state": state, "productOrderItem": items,
                       "billingAccount": {"id": account},
                       "relatedParty": [{"id": app.customer_id, "role": "Customer", "@referredType": "Customer"}]});
    publish(app, event_time, json!({"productOrder": order})).await;
    order_id
}

/// Replays `fields` `times` times concurrently, then waits until billing has read past them (a later event,
/// which the single consumer reads after them, has been applied).
async fn replay(app: &Billing, fields: &(String, String), times: usize) {
    futures_util::future::join_all((0..times).map(|_| xadd(app, fields))).await;
    let sentinel = json!({"productOrder": {"id": "sentinel", "state": "inProgress", "productOrderItem": []}});
    publish(app, "2026-01-01T00:00:00Z", sentinel).await;
}

/// Publishes an order event as the order service does and waits until billing has applied it; returns the
/// entry's fields, so a test can replay them.
async fn publish(app: &Billing, event_time: &str, event: Value) -> (String, String) {
    let event_id = uuid::Uuid::new_v4().to_string();
    let payload = json!({"eventId": event_id, "eventTime": event_time, "eventType": "ProductOrderStateChangeEvent",
                         "event": event});
    let fields = (event_id, payload.to_string());
    xadd(app, &fields).await;
    wait_processed(app, &fields.0).await;
    fields
}

async fn xadd(app: &Billing, (event_id, payload): &(String, String)) {
    let redis = RedisPool::new(&app.context.settings.redis).unwrap();
    let stream = app.context.redis.key("events:order");
    let mut command = redis::cmd("XADD");
    command.arg(&stream).arg("*").arg("eventId").arg(event_id).arg("payload").arg(payload);
    redis.query::<redis::Value>(&command).await.unwrap();
}

async fn wait_processed(app: &Billing, event_id: &str) {
    let mut db = app.db().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let done: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM processed_event WHERE event_id::text = $1)")
            .bind(event_id)
            .fetch_one(&mut db)
            .await
            .unwrap();
        if done {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "event {event_id} never processed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn monthly(value: &str) -> Value {
    json!([{"name": "Monthly", "priceType": "recurring", "recurringChargePeriod": "month",
            "price": {"dutyFreeAmount": {"unit": "EUR", "value": serde_json::from_str::<Value>(value).unwrap()}}}])
}

async fn bill_run(app: &Billing, bill_date: &str, account: &str) -> Value {
    let response = app
        .post_json(&format!("{BASE}/billRun"), &json!({"billDate": bill_date, "billingAccount": [{"id": account}]}))
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn bills_of(app: &Billing, account: &str) -> Vec<Value> {
    let bills = app.get_json(&format!("{BASE}/customerBill?billingAccount.id={account}&sort=billDate")).await;
    bills.as_array().unwrap().clone()
}

async fn rates_of(app: &Billing, bill: &str) -> Vec<Value> {
    app.get_json(&format!("{BASE}/appliedCustomerBillingRate?bill.id={bill}")).await.as_array().unwrap().clone()
}

fn minor(money: &Value) -> i64 {
    let text = money["value"].to_string();
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let negative = whole.starts_with('-');
    let magnitude =
        whole.trim_start_matches('-').parse::<i64>().unwrap() * 100 + format!("{fraction:0<2}").parse::<i64>().unwrap();
    if negative { -magnitude } else { magnitude }
}

/// Everything billing stores about charges and bills, in a stable order (for "nothing changed" comparisons).
async fn billing_state(app: &Billing) -> Vec<Value> {
    let mut db = app.db().await;
    sqlx::query_scalar(
        "SELECT jsonb_build_object(
             'rates', (SELECT coalesce(jsonb_agg(jsonb_build_array(charge_key, amount_minor, bill_id, tax_minor) ORDER BY charge_key), '[]') FROM applied_rate),
             'bills', (SELECT coalesce(jsonb_agg(jsonb_build_array(id, bill_no, tax_included_minor, state) ORDER BY id), '[]') FROM customer_bill),
             'runs', (SELECT count(*) FROM bill_run WHERE state = 'done'),
             'products', (SELECT count(*) FROM billable_product))",
    )
    .fetch_all(&mut db)
    .await
    .unwrap()
}

/// The money invariants of every stored bill: tax-excluded total = Σ its rates, Σ line taxes per rate = its tax
/// item, tax-included = tax-excluded + tax, remaining = due − paid ≥ 0, one currency.
async fn assert_bill_invariants(app: &Billing) {
    let mut db = app.db().await;
    let broken: Vec<String> = sqlx::query_scalar(
        "SELECT b.id::text FROM customer_bill b
         WHERE b.tax_excluded_minor <> (SELECT coalesce(sum(amount_minor), 0) FROM applied_rate r WHERE r.bill_id = b.id)
            OR b.tax_minor <> (SELECT coalesce(sum(tax_minor), 0) FROM customer_bill_tax t WHERE t.bill_id = b.id)
            OR EXISTS (SELECT 1 FROM customer_bill_tax t WHERE t.bill_id = b.id AND t.tax_minor <>
                       (SELECT coalesce(sum(r.tax_minor), 0) FROM applied_rate r
                        WHERE r.bill_id = b.id AND r.tax_rate_basis_points = t.tax_rate_basis_points))
            OR b.tax_included_minor <> b.tax_excluded_minor + b.tax_minor
            OR b.remaining_minor <> b.amount_due_minor - b.paid_minor OR b.remaining_minor < 0
            OR EXISTS (SELECT 1 FROM applied_rate r WHERE r.bill_id = b.id AND r.currency <> b.currency)",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert!(broken.is_empty(), "bills breaking the money invariants: {broken:?}");
}

#[tokio::test]
async fn a_product_started_on_the_tenth_is_prorated_on_its_first_bill_and_the_bill_adds_up() {
    let app = spawn().await;
    let account = account(&app, "UTC", 1).await;
    order_event(&app, &account, "2026-01-10T09:00:00Z", "completed", vec![("completed", monthly("50.00"))]).await;

    let summary = bill_run(&app, "2026-02-01", &account).await;
    assert_eq!(summary["billsIssued"], 1, "{summary}");
    let bills = bills_of(&app, &account).await;
    assert_eq!(bills.len(), 1);
    let bill = &bills[0];
    assert_eq!(bill["state"], "validated");
    assert_eq!(bill["billNo"].as_str().unwrap().len(), 11);
    assert_eq!(bill["billDate"], "2026-02-01T00:00:00Z");
    assert_eq!(bill["paymentDueDate"], "2026-03-03T00:00:00Z", "30 days of payment terms");
    assert_eq!(bill["billingPeriod"]["startDateTime"], "2026-02-01T00:00:00Z");
    // 50.00 × 22/31 = 35.48 for [Jan 10, Feb 1), then February in advance.
    let rates = rates_of(&app, bill["id"].as_str().unwrap()).await;
    let mut amounts: Vec<i64> = rates.iter().map(|r| minor(&r["taxExcludedAmount"])).collect();
    amounts.sort();
    assert_eq!(amounts, [3548, 5000]);
    assert!(rates.iter().all(|r| r["isBilled"] == true));
    assert_eq!(minor(&bill["taxExcludedAmount"]), 8548);
    assert_eq!(minor(&bill["taxItem"][0]["taxAmount"]), 1710, "round_half_up(85.48 × 0.20) = 17.10, once");
    assert_eq!(minor(&bill["taxIncludedAmount"]), 10258);
    assert_eq!(minor(&bill["amountDue"]), 10258);
    assert_eq!(minor(&bill["remainingAmount"]), 10258);
    let line_taxes: i64 = rates.iter().map(|r| minor(&r["appliedTax"][0]["taxAmount"])).sum();
    assert_eq!(line_taxes, 1710, "line taxes add up to the bill's tax item");
    // Exact decimals in the JSON text, never a float rendering.
    let raw = app
        .get_authorized(&format!("{BASE}/customerBill/{}", bill["id"].as_str().unwrap()))
        .await
        .text()
        .await
        .unwrap();
    assert!(raw.contains("\"value\":102.58"), "{raw}");
    assert_bill_invariants(&app).await;

    // The customer-readable documents.
    let html = app.get_authorized(&format!("{BASE}/customerBill/{}/document.html", bill["id"].as_str().unwrap())).await;
    assert_eq!(html.status(), 200);
    assert!(html.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = html.text().await.unwrap();
    for expected in ["35.48 EUR", "50.00 EUR", "17.10 EUR", "102.58 EUR", bill["billNo"].as_str().unwrap()] {
        assert!(html.contains(expected), "{expected} missing from the HTML bill");
    }
    let pdf = app.get_authorized(&format!("{BASE}/customerBill/{}/document.pdf", bill["id"].as_str().unwrap())).await;
    assert_eq!(pdf.status(), 200);
    let pdf = pdf.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-1.4"));
    assert_eq!(bill["billDocument"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn running_the_same_bill_run_many_times_in_parallel_and_replaying_events_changes_nothing_after_the_first() {
    let app = spawn().await;
    let account = account(&app, "Europe/Paris", 1).await;
    let order = json!({"productOrder": {"id": "o-replayed", "state": "completed", "billingAccount": {"id": account},
        "relatedParty": [{"id": app.customer_id, "role": "Customer"}],
        "productOrderItem": [{"id": "1", "action": "add", "state": "completed", "itemPrice": monthly("50.00")}]}});
    let fields = publish(&app, "2026-01-10T09:00:00Z", order.clone()).await;
    bill_run(&app, "2026-02-01", &account).await;
    let first = billing_state(&app).await;

    // The same entry replayed, and the same completed order published again as a new event.
    replay(&app, &fields, 8).await;
    publish(&app, "2026-01-10T09:00:01Z", order).await;
    bill_run(&app, "2026-02-01", &account).await;
    assert_eq!(billing_state(&app).await, first, "replayed order events changed the billing state");

    let runs = (0..12).map(|_| bill_run(&app, "2026-02-01", &account));
    let summaries = futures_util::future::join_all(runs).await;
    assert!(summaries.iter().all(|s| s["billsIssued"] == 0), "{summaries:?}");
    assert!(
        summaries.iter().all(|s| s["accounts"] == 1 && s["alreadyRun"] == 1),
        "counted as already run: {summaries:?}"
    );
    assert_eq!(billing_state(&app).await, first, "a repeated bill run changed the billing state");

    // Cycle runs of the same period, racing from scratch on a second account.
    let second = account_with_product(&app).await;
    let runs = (0..12).map(|_| bill_run(&app, "2026-02-01", &second));
    let issued: i64 =
        futures_util::future::join_all(runs).await.iter().map(|s| s["billsIssued"].as_i64().unwrap()).sum();
    assert_eq!(issued, 1, "twelve concurrent runs of one period issue one bill");
    assert_eq!(bills_of(&app, &second).await.len(), 1);
    assert_bill_invariants(&app).await;
}

async fn account_with_product(app: &Billing) -> String {
    let account = account(app, "UTC", 1).await;
    order_event(app, &account, "2026-01-20T09:00:00Z", "completed", vec![("completed", monthly("9.99"))]).await;
    account
}

#[tokio::test]
async fn cancelled_failed_and_uncompleted_orders_and_items_are_never_charged() {
    let app = spawn().await;
    let account = account(&app, "UTC", 1).await;
    for state in ["cancelled", "failed", "inProgress", "acknowledged", "pending"] {
        order_event(&app, &account, "2026-01-05T09:00:00Z", state, vec![("completed", monthly("50.00"))]).await;
    }
    order_event(
        &app,
        &account,
        "2026-01-05T09:00:00Z",
        "partial",
        vec![("failed", monthly("50.00")), ("cancelled", monthly("7.00"))],
    )
    .await;
    let summary = bill_run(&app, "2026-02-01", &account).await;
    assert_eq!((summary["billsIssued"].as_i64(), summary["nothingToBill"].as_i64()), (Some(0), Some(1)), "{summary}");
    let rates = app.get_json(&format!("{BASE}/appliedCustomerBillingRate?billingAccount.id={account}")).await;
    assert_eq!(rates, json!([]));
}

#[tokio::test]
async fn a_bill_run_for_an_unknown_or_inactive_account_is_refused_naming_it_and_runs_nothing() {
    let app = spawn().await;
    let due = account_with_product(&app).await;
    let resting = account_with_product(&app).await;
    let resting_href = format!("{}/{resting}", helpers::ACCOUNTS);
    let suspended = app.patch_as(&resting_href, "application/merge-patch+json", &json!({"state": "suspended"})).await;
    assert_eq!(suspended.status(), 200);
    let body = json!({"billDate": "2026-02-01",
                      "billingAccount": [{"id": due}, {"id": "no-such-account"}, {"id": resting}]});
    let refused = app.post_json(&format!("{BASE}/billRun"), &body).await;
    let error = bss_testkit::conformance::assert_tmf_error(refused, 422, "unknown and suspended").await;
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("'no-such-account' does not exist"), "{message}");
    assert!(message.contains(&format!("'{resting}' is suspended")), "{message}");
    assert!(!message.contains(&format!("'{due}'")), "the active one is not named: {message}");
    let mut db = app.db().await;
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM bill_run").fetch_one(&mut db).await.unwrap();
    assert_eq!(runs, 0, "nothing was run");
    assert_eq!(bills_of(&app, &due).await.len(), 0);
    let summary = bill_run(&app, "2026-02-01", &due).await;
    assert_eq!((summary["accounts"].as_i64(), summary["billsIssued"].as_i64()), (Some(1), Some(1)), "{summary}");
}

#[tokio::test]
async fn a_bill_moves_only_along_its_state_machine_and_its_amounts_never_change() {
    let app = spawn().await;
    let account = account_with_product(&app).await;
    bill_run(&app, "2026-02-01", &account).await;
    let bill = bills_of(&app, &account).await.remove(0);
    let path = format!("{BASE}/customerBill/{}", bill["id"].as_str().unwrap());
    let merge = "application/merge-patch+json";

    let refused = app.patch_as(&path, merge, &json!({"amountDue": {"unit": "EUR", "value": 0}})).await;
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["@type"], "Error");
    for illegal in ["settled", "partiallyPaid", "new"] {
        assert_eq!(app.patch_as(&path, merge, &json!({"state": illegal})).await.status(), 409, "{illegal}");
    }
    for legal in ["sent", "onHold", "sent"] {
        let moved = app.patch_as(&path, merge, &json!({"state": legal})).await;
        assert_eq!(moved.status(), 200, "{legal}");
    }
    let json_patch = app
        .patch_as(
            &path,
            "application/json-patch+json",
            &json!([{"op": "replace", "path": "/taxIncludedAmount/value", "value": 1}]),
        )
        .await;
    assert_eq!(json_patch.status(), 400);
    let after = app.get_json(&path).await;
    for attribute in ["amountDue", "taxIncludedAmount", "taxExcludedAmount", "taxItem", "billNo", "billDate"] {
        assert_eq!(after[attribute], bill[attribute], "{attribute} changed");
    }
    // Not even SQL can edit an issued bill or a billed rate.
    let mut db = app.db().await;
    let edit = sqlx::query("UPDATE customer_bill SET tax_excluded_minor = 1, tax_included_minor = 1 + tax_minor, amount_due_minor = 1 + tax_minor, remaining_minor = 1 + tax_minor")
        .execute(&mut db)
        .await;
    assert!(edit.is_err(), "an issued bill's amounts were changed");
    assert!(sqlx::query("UPDATE applied_rate SET amount_minor = 1").execute(&mut db).await.is_err());
    assert!(sqlx::query("DELETE FROM applied_rate").execute(&mut db).await.is_err());
    let rate = &rates_of(&app, bill["id"].as_str().unwrap()).await[0];
    let rate_path = format!("{BASE}/appliedCustomerBillingRate/{}", rate["id"].as_str().unwrap());
    assert_eq!(app.patch_as(&rate_path, merge, &json!({"name": "free"})).await.status(), 405);
}

#[tokio::test]
async fn payments_reduce_the_remaining_amount_to_zero_and_never_below() {
    let app = spawn().await;
    let account = account(&app, "UTC", 1).await;
    order_event(&app, &account, "2026-02-01T09:00:00Z", "completed", vec![("completed", monthly("50.00"))]).await;
    bill_run(&app, "2026-02-01", &account).await;
    let bill = bills_of(&app, &account).await.remove(0);
    assert_eq!(minor(&bill["amountDue"]), 6000);
    let pay = format!("{BASE}/customerBill/{}/appliedPayment", bill["id"].as_str().unwrap());
    let money = |value: f64| json!({"appliedAmount": {"unit": "EUR", "value": value}, "payment": {"id": uuid::Uuid::new_v4().to_string()}});

    let partial = app.post_json(&pay, &money(20.5)).await;
    assert_eq!(partial.status(), 201);
    let partial: Value = partial.json().await.unwrap();
    assert_eq!((partial["state"].as_str(), minor(&partial["remainingAmount"])), (Some("partiallyPaid"), 3950));

    let too_much = app.post_json(&pay, &money(39.51)).await;
    assert_eq!(too_much.status(), 422);
    let wrong_currency = app.post_json(&pay, &json!({"appliedAmount": {"unit": "USD", "value": 1}})).await;
    assert_eq!(wrong_currency.status(), 422);
    for bad in [
        json!({"appliedAmount": {"unit": "EUR", "value": 0}}),
        json!({"appliedAmount": {"unit": "EUR", "value": "1"}}),
        json!({}),
    ] {
        assert_eq!(app.post_json(&pay, &bad).await.status(), 400, "{bad}");
    }
    let twice = json!({"appliedAmount": {"unit": "EUR", "value": 1}, "payment": {"id": "pay-1"}});
    assert_eq!(app.post_json(&pay, &twice).await.status(), 201);
    assert_eq!(app.post_json(&pay, &twice).await.status(), 409, "the same payment recorded twice");

    let rest = app.post_json(&pay, &money(38.5)).await;
    assert_eq!(rest.status(), 201);
    let settled: Value = rest.json().await.unwrap();
    assert_eq!((settled["state"].as_str(), minor(&settled["remainingAmount"])), (Some("settled"), 0));
    assert_eq!(settled["appliedPayment"].as_array().unwrap().len(), 3);
    assert_eq!(app.post_json(&pay, &money(0.01)).await.status(), 409, "a settled bill takes no payment");
    assert_bill_invariants(&app).await;
}

#[tokio::test]
async fn a_bill_on_demand_is_done_with_its_bill_or_rejected_with_a_reason() {
    let app = spawn().await;
    let path = format!("{BASE}/customerBillOnDemand");
    let wait_ended = |id: String| {
        let app = &app;
        async move {
            let deadline = tokio::time::Instant::now() + WAIT;
            loop {
                let doc = app.get_json(&format!("{BASE}/customerBillOnDemand/{id}")).await;
                if doc["state"] != "inProgress" {
                    return doc;
                }
                assert!(tokio::time::Instant::now() < deadline, "on-demand never ended");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let unknown = helpers::create(&app, &path, &json!({"billingAccount": {"id": "nobody"}})).await;
    assert_eq!(unknown["state"], "inProgress");
    let unknown = wait_ended(unknown["id"].as_str().unwrap().to_owned()).await;
    assert_eq!(unknown["state"], "rejected");
    assert!(unknown["stateReason"].as_str().unwrap().contains("nobody"), "{unknown}");

    let account = account_with_product(&app).await;
    // TMF678 v4 names one related party here (a RelatedPartyRef), not a list of them.
    let requester = json!({"id": "agent-7", "@referredType": "Individual", "role": "requester"});
    let listed = json!({"billingAccount": {"id": account}, "relatedParty": [requester]});
    assert_eq!(app.post_json(&path, &listed).await.status(), 400, "relatedParty is one party");
    let asked = json!({"name": "now please", "billingAccount": {"id": account}, "relatedParty": requester});
    let created = helpers::create(&app, &path, &asked).await;
    assert_eq!(created["relatedParty"], requester);
    let done = wait_ended(created["id"].as_str().unwrap().to_owned()).await;
    assert_eq!(done["state"], "done", "{done}");
    let bill = app.get_json(done["customerBill"]["href"].as_str().unwrap()).await;
    assert_eq!((bill["runType"].as_str(), bill["state"].as_str()), (Some("offCycle"), Some("validated")));

    let again = helpers::create(&app, &path, &json!({"billingAccount": {"id": account}})).await;
    let again = wait_ended(again["id"].as_str().unwrap().to_owned()).await;
    assert_eq!(again["state"], "rejected", "nothing left to bill");
    assert_eq!(app.post_json(&path, &json!({"name": "no account"})).await.status(), 400);
    assert_eq!(bills_of(&app, &account).await.len(), 1);
    app.wait_for_outbox_drain().await;
    let mut db = app.db().await;
    let events: Vec<String> =
        sqlx::query_scalar("SELECT event_type FROM outbox WHERE resource_type <> 'billingAccount' ORDER BY id")
            .fetch_all(&mut db)
            .await
            .unwrap();
    for expected in [
        "CustomerBillOnDemandCreateEvent",
        "CustomerBillOnDemandStateChangeEvent",
        "CustomerBillCreateEvent",
        "CustomerBillStateChangeEvent",
    ] {
        assert!(events.iter().any(|e| e == expected), "{expected} not in {events:?}");
    }
}

#[tokio::test]
async fn a_cancellation_credits_the_unused_days_on_the_next_bill() {
    let app = spawn().await;
    let account = account(&app, "UTC", 1).await;
    order_event(&app, &account, "2026-01-01T09:00:00Z", "completed", vec![("completed", monthly("50.00"))]).await;
    bill_run(&app, "2026-02-01", &account).await;
    let first = bills_of(&app, &account).await.remove(0);
    assert_eq!(minor(&first["taxExcludedAmount"]), 10_000, "January and February");
    let product = rates_of(&app, first["id"].as_str().unwrap()).await[0]["product"]["id"].as_str().unwrap().to_owned();
    let delete = json!({"productOrder": {"id": uuid::Uuid::new_v4().to_string(), "state": "completed",
        "billingAccount": {"id": account},
        "relatedParty": [{"id": app.customer_id, "role": "Customer"}],
        "productOrderItem": [{"id": "1", "action": "delete", "state": "completed", "product": {"id": product}}]}});
    publish(&app, "2026-02-15T10:00:00Z", delete).await;
    bill_run(&app, "2026-03-01", &account).await;
    let bills = bills_of(&app, &account).await;
    assert_eq!(bills.len(), 2);
    let credit = rates_of(&app, bills[1]["id"].as_str().unwrap()).await;
    assert_eq!(credit.len(), 1, "only the credit: nothing for March");
    assert_eq!((credit[0]["type"].as_str(), minor(&credit[0]["taxExcludedAmount"])), (Some("credit"), -2500));
    assert_eq!(bills[1]["category"], "credit");
    assert_eq!(minor(&bills[1]["amountDue"]), 0);
    assert_bill_invariants(&app).await;
}

#[tokio::test]
async fn bill_cycle_day_31_bills_on_the_last_day_of_short_months_with_periods_that_tile() {
    let app = spawn().await;
    let account = account(&app, "America/Los_Angeles", 31).await;
    order_event(&app, &account, "2026-01-31T20:00:00Z", "completed", vec![("completed", monthly("31.00"))]).await;
    for date in ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30"] {
        bill_run(&app, date, &account).await;
    }
    let bills = bills_of(&app, &account).await;
    assert_eq!(bills.len(), 4);
    for pair in bills.windows(2) {
        assert_eq!(
            pair[0]["billingPeriod"]["endDateTime"], pair[1]["billingPeriod"]["startDateTime"],
            "gap or overlap"
        );
    }
    // Local midnight in Los Angeles: PST before 8 March, PDT after.
    let starts: Vec<&str> = bills.iter().map(|b| b["billingPeriod"]["startDateTime"].as_str().unwrap()).collect();
    assert_eq!(
        starts,
        ["2026-01-31T08:00:00Z", "2026-02-28T08:00:00Z", "2026-03-31T07:00:00Z", "2026-04-30T07:00:00Z"]
    );
    // Every period billed in full: the DST change does not shorten March's days.
    for bill in &bills {
        assert_eq!(minor(&bill["taxExcludedAmount"]), 3100, "{}", bill["billDate"]);
    }
    let unknown_filter = app.get_authorized(&format!("{BASE}/customerBill?amountDue=1")).await;
    assert_eq!(unknown_filter.status(), 400);
}

async fn wait_no_on_demand_in_progress(app: &bss_testkit::TestApp, limit: Duration) {
    let mut db = app.db().await;
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let waiting: i64 = sqlx::query_scalar("SELECT count(*) FROM bill_on_demand WHERE state = 'inProgress'")
            .fetch_one(&mut db)
            .await
            .unwrap();
        if waiting == 0 {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{waiting} on-demand requests still in progress");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn bill_numbers_are_unique_gap_free_and_monotonic_under_a_thousand_concurrent_issues() {
    const BILLS: usize = 1_000;
    let app = spawn().await;
    let mut accounts = Vec::with_capacity(BILLS);
    for _ in 0..BILLS {
        accounts.push(account(&app, "UTC", 1).await);
    }
    // Products for every account, published at once, then awaited together.
    let redis = RedisPool::new(&app.context.settings.redis).unwrap();
    let stream = app.context.redis.key("events:order");
    for account in &accounts {
        let order = json!({"productOrder": {"id": uuid::Uuid::new_v4().to_string(), "state": "completed",
            "billingAccount": {"id": account},
            "relatedParty": [{"id": app.customer_id, "role": "Customer"}],
            "productOrderItem": [{"id": "1", "action": "add", "state": "completed", "itemPrice": monthly("12.34")}]}});
        let payload =
            json!({"eventId": uuid::Uuid::new_v4().to_string(), "eventTime": "2026-11-02T10:00:00Z", "event": order});
        redis
            .query::<redis::Value>(redis::cmd("XADD").arg(&stream).arg("*").arg("payload").arg(payload.to_string()))
            .await
            .unwrap();
    }
    let mut db = app.db().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while sqlx::query_scalar::<_, i64>("SELECT count(*) FROM billable_product").fetch_one(&mut db).await.unwrap()
        < BILLS as i64
    {
        assert!(tokio::time::Instant::now() < deadline, "products never all arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let path = format!("{BASE}/customerBillOnDemand");
    // 64 requests in flight at a time (a client retries the 503 an exhausted connection pool answers), so the
    // issues themselves — the runs the requests start — overlap by the hundreds.
    use futures_util::StreamExt as _;
    let post = |account: String| {
        let (app, path) = (&app, &path);
        async move {
            let body = json!({"billingAccount": {"id": account}});
            loop {
                let status = app.post_json(path, &body).await.status();
                if status != 503 {
                    return status;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let statuses: Vec<_> =
        futures_util::stream::iter(accounts.iter().cloned().map(post)).buffer_unordered(64).collect().await;
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    wait_no_on_demand_in_progress(&app, Duration::from_secs(150)).await;
    let numbers: Vec<i64> = sqlx::query_scalar("SELECT bill_no FROM customer_bill ORDER BY issued_at, bill_no")
        .fetch_all(&mut db)
        .await
        .unwrap();
    assert_eq!(numbers, (1..=BILLS as i64).collect::<Vec<_>>(), "numbers must be 1..=1000 in issue order");
    let done: i64 = sqlx::query_scalar("SELECT count(*) FROM bill_on_demand WHERE state = 'done'")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(done, BILLS as i64);
    assert_bill_invariants(&app).await;
}

#[tokio::test]
async fn an_on_demand_request_whose_run_never_committed_is_billed_once_after_a_restart() {
    let prefix = format!("test-bills-{}", uuid::Uuid::new_v4().simple());
    let env_prefix = prefix.clone();
    let billing = helpers::spawn_with(move |env| {
        env.set("REDIS_KEY_PREFIX", env_prefix).set("BILLING_RUN_SCHEDULER", "false");
    })
    .await;
    let account = account_with_product(&billing).await;
    // What a crash between accepting a request and committing its run leaves: the request, in progress.
    let mut db = billing.db().await;
    sqlx::query(
        "INSERT INTO bill_on_demand (id, billing_account_id, state, request, created_at, last_update)
         VALUES ($1, $2, 'inProgress', '{}', now(), now())",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(&account)
    .execute(&mut db)
    .await
    .unwrap();
    let Billing { app, customer, .. } = billing;
    let database_url = app.database_url.clone();
    app.kill().await;

    let customer_url = customer.address.clone();
    let restarted = bss_testkit::TestApp::spawn_on_database(&billing::SPEC, billing::routes, &database_url, |env| {
        env.set("REDIS_KEY_PREFIX", prefix).set("BILLING_RUN_SCHEDULER", "false").set("CUSTOMER_URL", customer_url);
    })
    .await;
    wait_no_on_demand_in_progress(&restarted, WAIT).await;
    let mut db = restarted.db().await;
    let (done, bills): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM bill_on_demand WHERE state = 'done'), (SELECT count(*) FROM customer_bill)",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!((done, bills), (1, 1));
}

//! Creating an order: references resolved in the real catalog and customer services, the price snapshot, the
//! totals, and every way creation is refused.

use crate::helpers::*;
use bss_testkit::conformance::assert_tmf_error;
use serde_json::{Value, json};

fn money(price: &Value) -> &Value {
    &price["price"]["dutyFreeAmount"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_of_two_priced_offerings_carries_the_catalog_prices_and_the_server_computed_totals() {
    let stack = stack().await;
    let fibre_monthly = catalog_price(&stack.catalog, monthly("Fibre monthly", 29.99)).await;
    let fibre_setup = catalog_price(&stack.catalog, one_time("Fibre installation", 49.5)).await;
    let tv_monthly = catalog_price(&stack.catalog, monthly("TV monthly", 10.01)).await;
    let fibre = offering(&stack.catalog, "Fibre 1G", "Active", &[&fibre_monthly, &fibre_setup]).await;
    let tv = offering(&stack.catalog, "TV", "Launched", &[&tv_monthly]).await;
    let customer = customer(&stack.customer).await;

    let mut body =
        order_body(customer["id"].as_str().unwrap(), vec![item("1", Some(&fibre), 1), item("2", Some(&tv), 2)]);
    // Prices and a state sent by the client are never trusted.
    body["productOrderItem"][0]["itemPrice"] =
        json!([{"priceType": "recurring", "price": {"dutyFreeAmount": {"unit": "EUR", "value": 0.01}}}]);
    body["orderTotalPrice"] =
        json!([{"priceType": "recurring", "price": {"dutyFreeAmount": {"unit": "EUR", "value": 0.01}}}]);
    body["state"] = json!("completed");
    let response = stack.order.post_json(&order_path("productOrder"), &body).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();

    assert_eq!(created["state"], "acknowledged");
    assert_eq!(created["@type"], "ProductOrder");
    assert_eq!(location, created["href"].as_str().unwrap());
    assert_eq!(created["href"], order_path(&format!("productOrder/{}", created["id"].as_str().unwrap())));
    assert!(created["orderDate"].as_str().is_some_and(|d| d.ends_with('Z')), "{created}");
    assert!(created["lastUpdate"].as_str().is_some_and(|d| d.ends_with('Z')), "{created}");
    let items = created["productOrderItem"].as_array().unwrap();
    assert!(items.iter().all(|i| i["state"] == "acknowledged"), "{created}");

    let fibre_prices = items[0]["itemPrice"].as_array().unwrap();
    assert_eq!(fibre_prices.len(), 2, "{created}");
    let recurring = fibre_prices.iter().find(|p| p["priceType"] == "recurring").expect("recurring price");
    assert_eq!(recurring["recurringChargePeriod"], "month");
    assert_eq!(recurring["name"], "Fibre monthly");
    assert_eq!(*money(recurring), json!({"unit": "EUR", "value": 29.99}));
    assert_eq!(recurring["productOfferingPrice"]["id"], fibre_monthly["id"]);
    let setup = fibre_prices.iter().find(|p| p["priceType"] == "oneTime").expect("one-time price");
    assert!(setup.get("recurringChargePeriod").is_none(), "{setup}");
    assert_eq!(*money(setup), json!({"unit": "EUR", "value": 49.5}));
    assert_eq!(*money(&items[1]["itemPrice"][0]), json!({"unit": "EUR", "value": 10.01}));

    // 29.99 + 2 × 10.01 per month; 49.50 once.
    let totals = created["orderTotalPrice"].as_array().unwrap();
    assert_eq!(totals.len(), 2, "{created}");
    let monthly_total = totals.iter().find(|t| t["priceType"] == "recurring").unwrap();
    assert_eq!(monthly_total["recurringChargePeriod"], "month");
    assert_eq!(*money(monthly_total), json!({"unit": "EUR", "value": 50.01}));
    let once_total = totals.iter().find(|t| t["priceType"] == "oneTime").unwrap();
    assert_eq!(*money(once_total), json!({"unit": "EUR", "value": 49.5}));

    // Stored as answered, with its CreateEvent.
    let read = stack.order.get_json(&order_path(&format!("productOrder/{}", created["id"].as_str().unwrap()))).await;
    assert_eq!(read, created);
    let events = events_of(&stack.order, created["id"].as_str().unwrap()).await;
    assert_eq!(events.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(), ["ProductOrderCreateEvent"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_catalog_price_change_leaves_existing_orders_as_they_were() {
    let stack = stack().await;
    let price = catalog_price(&stack.catalog, monthly("Monthly", 30.0)).await;
    let fibre = offering(&stack.catalog, "Fibre", "Active", &[&price]).await;
    let customer = customer(&stack.customer).await;
    let body = order_body(customer["id"].as_str().unwrap(), vec![item("1", Some(&fibre), 1)]);
    let first = create(&stack.order, &order_path("productOrder"), &body).await;

    let response = stack
        .catalog
        .patch_as(
            &catalog_path(&format!("productOfferingPrice/{}", price["id"].as_str().unwrap())),
            "application/merge-patch+json",
            &json!({"price": {"unit": "EUR", "value": 35.0}}),
        )
        .await;
    assert_eq!(response.status(), 200);

    // A new order sees the new price, so the catalog change is visible to the order service …
    let second = create(&stack.order, &order_path("productOrder"), &body).await;
    assert_eq!(*money(&second["productOrderItem"][0]["itemPrice"][0]), json!({"unit": "EUR", "value": 35.0}));
    // … and the first order keeps the price it was taken at.
    let first_now = stack.order.get_json(&order_path(&format!("productOrder/{}", first["id"].as_str().unwrap()))).await;
    assert_eq!(*money(&first_now["productOrderItem"][0]["itemPrice"][0]), json!({"unit": "EUR", "value": 30.0}));
    assert_eq!(*money(&first_now["orderTotalPrice"][0]), json!({"unit": "EUR", "value": 30.0}));
    assert_eq!(first_now, first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unresolvable_references_are_refused_with_422_naming_them_and_nothing_is_written() {
    let stack = stack().await;
    let price = catalog_price(&stack.catalog, monthly("Monthly", 30.0)).await;
    let sellable = offering(&stack.catalog, "Fibre", "Active", &[&price]).await;
    let in_design = offering(&stack.catalog, "Fibre 10G", "In design", &[&price]).await;
    let flagged = create(
        &stack.catalog,
        &catalog_path("productOffering"),
        &json!({"name": "Legacy DSL", "lifecycleStatus": "Active", "isSellable": false}),
    )
    .await;
    let expired_price = catalog_price(
        &stack.catalog,
        json!({"name": "Old monthly", "priceType": "recurring", "recurringChargePeriodType": "month",
               "price": {"unit": "EUR", "value": 20}, "validFor": {"endDateTime": "2026-01-01T00:00:00Z"}}),
    )
    .await;
    let only_expired = offering(&stack.catalog, "Fibre legacy", "Active", &[&expired_price]).await;
    let customer = customer(&stack.customer).await;
    let customer_id = customer["id"].as_str().unwrap();
    let rejected = self::customer(&stack.customer).await;
    let rejected_id = rejected["id"].as_str().unwrap();
    let response = stack
        .customer
        .patch_as(
            &format!("{}/customer/{rejected_id}", customer::BASE_PATH),
            "application/merge-patch+json",
            &json!({"status": "Rejected"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let unknown_offering = json!({"id": "no-such-offering", "name": "Ghost"});

    let cases = [
        ("unknown offering", order_body(customer_id, vec![item("1", Some(&unknown_offering), 1)]), "no-such-offering"),
        ("offering in design", order_body(customer_id, vec![item("1", Some(&in_design), 1)]), "cannot be sold"),
        (
            "offering flagged not sellable",
            order_body(customer_id, vec![item("1", Some(&flagged), 1)]),
            "cannot be sold",
        ),
        ("no price sellable now", order_body(customer_id, vec![item("1", Some(&only_expired), 1)]), "no price"),
        ("unknown customer", order_body("no-such-customer", vec![item("1", Some(&sellable), 1)]), "no-such-customer"),
        ("rejected customer", order_body(rejected_id, vec![item("1", Some(&sellable), 1)]), "is Rejected"),
        (
            "the second item is unknown",
            order_body(customer_id, vec![item("1", Some(&sellable), 1), item("2", Some(&unknown_offering), 1)]),
            "productOrderItem[1].productOffering",
        ),
    ];
    for (case, body, named) in cases {
        let response = stack.order.post_json(&order_path("productOrder"), &body).await;
        let error = assert_tmf_error(response, 422, case).await;
        assert!(error["message"].as_str().unwrap().contains(named), "{case}: {error}");
    }
    assert_eq!(stored(&stack.order).await, (0, 0), "no order and no event written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_catalog_gets_503_and_nothing_is_written() {
    let customer_service = bss_testkit::TestApp::spawn(&customer::SPEC, customer::routes).await;
    // CATALOG_URL stays test_env's placeholder: a closed port.
    let order = bss_testkit::TestApp::spawn_with(&order::SPEC, order::routes, |env| {
        env.set("CUSTOMER_URL", customer_service.address.clone());
    })
    .await;
    let customer = customer(&customer_service).await;
    let body = order_body(customer["id"].as_str().unwrap(), vec![item("1", Some(&json!({"id": "o-1"})), 1)]);
    let response = order.post_json(&order_path("productOrder"), &body).await;
    let error = assert_tmf_error(response, 503, "catalog down").await;
    assert!(error["message"].as_str().unwrap().contains("catalog"), "{error}");
    assert_eq!(stored(&order).await, (0, 0), "no order and no event written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalog_that_stops_mid_life_gets_503_and_nothing_is_written() {
    let stack = stack().await;
    let price = catalog_price(&stack.catalog, monthly("Monthly", 30.0)).await;
    let fibre = offering(&stack.catalog, "Fibre", "Active", &[&price]).await;
    let customer = customer(&stack.customer).await;
    let body = order_body(customer["id"].as_str().unwrap(), vec![item("1", Some(&fibre), 1)]);
    let Stack { order, catalog, customer: _customer } = stack;
    catalog.stop().await.unwrap();
    let response = order.post_json(&order_path("productOrder"), &body).await;
    assert_tmf_error(response, 503, "catalog stopped").await;
    assert_eq!(stored(&order).await, (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_breaks_the_schema_gets_400_before_any_peer_is_asked() {
    // The peers are placeholders (a closed port): a 400 proves the body was refused before any call.
    let order = order_alone().await;
    let cases = [
        ("no items", json!({"description": "x"})),
        ("items not an array", json!({"productOrderItem": {"id": "1"}})),
        ("empty item list", json!({"productOrderItem": []})),
        ("item without id", json!({"productOrderItem": [{"action": "add"}]})),
        ("item without action", json!({"productOrderItem": [{"id": "1"}]})),
        ("unknown action", json!({"productOrderItem": [{"id": "1", "action": "sell"}]})),
        ("quantity not an integer", json!({"productOrderItem": [{"id": "1", "action": "add", "quantity": "two"}]})),
        ("zero quantity", json!({"productOrderItem": [{"id": "1", "action": "add", "quantity": 0}]})),
        (
            "duplicate item ids",
            json!({"productOrderItem": [{"id": "1", "action": "add"}, {"id": "1", "action": "add"}]}),
        ),
        (
            "offering without id",
            json!({"productOrderItem": [{"id": "1", "action": "add", "productOffering": {"name": "x"}}]}),
        ),
        (
            "related party without @referredType",
            json!({"relatedParty": [{"id": "c"}], "productOrderItem": [{"id": "1", "action": "add"}]}),
        ),
        ("unknown attribute", json!({"colour": "red", "productOrderItem": [{"id": "1", "action": "add"}]})),
        ("bad date", json!({"requestedStartDate": "tomorrow", "productOrderItem": [{"id": "1", "action": "add"}]})),
    ];
    for (case, body) in cases {
        let response = order.post_json(&order_path("productOrder"), &body).await;
        assert_tmf_error(response, 400, case).await;
    }
    assert_eq!(stored(&order).await, (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_without_an_offering_and_other_parties_are_kept_as_sent_without_prices() {
    let order = order_alone().await;
    let body = json!({
        "relatedParty": [{"id": "ind-9", "@referredType": "Individual", "role": "Seller"}],
        "productOrderItem": [{"id": "1", "action": "modify", "product": {"id": "p-1"}}],
    });
    let created = create(&order, &order_path("productOrder"), &body).await;
    assert_eq!(created["relatedParty"], body["relatedParty"]);
    assert_eq!(created["productOrderItem"][0]["product"], json!({"id": "p-1"}));
    assert!(created["productOrderItem"][0].get("itemPrice").is_none(), "{created}");
    assert!(created.get("orderTotalPrice").is_none(), "{created}");
}

//! The order's `billingAccount` (and an item's): when given, it must exist in the real billing service and not
//! be closed; billing unreachable is a 503. Nothing is written when the check fails.

use crate::helpers::*;
use bss_testkit::conformance::assert_tmf_error;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_on_an_existing_billing_account_is_created_with_the_reference_kept() {
    let (stack, billing) = stack_with_billing().await;
    let customer = customer(&stack.customer).await;
    let customer_id = customer["id"].as_str().unwrap();
    let account = billing_account(&billing, customer_id).await;
    let reference = json!({"id": account["id"], "href": account["href"], "@referredType": "BillingAccount"});
    let mut body = order_body(customer_id, vec![item("1", None, 1)]);
    body["billingAccount"] = reference.clone();
    body["productOrderItem"][0]["billingAccount"] = reference.clone();

    let created = create(&stack.order, &order_path("productOrder"), &body).await;
    assert_eq!(created["billingAccount"], reference);
    assert_eq!(created["productOrderItem"][0]["billingAccount"], reference);
    assert_eq!(stored(&stack.order).await, (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_or_closed_billing_account_is_refused_with_422_naming_it_and_nothing_is_written() {
    let (stack, billing) = stack_with_billing().await;
    let customer = customer(&stack.customer).await;
    let customer_id = customer["id"].as_str().unwrap();
    let open = billing_account(&billing, customer_id).await;
    let closed = billing_account(&billing, customer_id).await;
    let closed_id = closed["id"].as_str().unwrap();
    let response = billing
        .patch_as(
            &format!("{}/billingAccount/{closed_id}", billing::accounts::BASE_PATH),
            "application/merge-patch+json",
            &json!({"state": "closed"}),
        )
        .await;
    assert_eq!(response.status(), 200);

    let with_account = |order_level: &str, item_level: &str| {
        let mut body = order_body(customer_id, vec![item("1", None, 1)]);
        body["billingAccount"] = json!({"id": order_level});
        body["productOrderItem"][0]["billingAccount"] = json!({"id": item_level});
        body
    };
    let open_id = open["id"].as_str().unwrap();
    let cases = [
        (
            "unknown account",
            with_account("no-such-account", open_id),
            "'billingAccount': no billingAccount with id 'no-such-account'",
        ),
        ("closed account", with_account(closed_id, open_id), "is closed"),
        ("unknown item account", with_account(open_id, "no-such-account"), "'productOrderItem[0].billingAccount'"),
        ("closed item account", with_account(open_id, closed_id), "'productOrderItem[0].billingAccount'"),
    ];
    for (case, body, named) in cases {
        let response = stack.order.post_json(&order_path("productOrder"), &body).await;
        let error = assert_tmf_error(response, 422, case).await;
        assert!(error["message"].as_str().unwrap().contains(named), "{case}: {error}");
    }
    assert_eq!(stored(&stack.order).await, (0, 0), "no order and no event written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_billing_gets_503_for_an_order_with_a_billing_account_and_nothing_is_written() {
    // BILLING_URL stays test_env's placeholder: a closed port.
    let stack = stack().await;
    let customer = customer(&stack.customer).await;
    let mut body = order_body(customer["id"].as_str().unwrap(), vec![item("1", None, 1)]);
    body["billingAccount"] = json!({"id": "acc-1"});
    let response = stack.order.post_json(&order_path("productOrder"), &body).await;
    let error = assert_tmf_error(response, 503, "billing down").await;
    assert!(error["message"].as_str().unwrap().contains("billing"), "{error}");
    assert_eq!(stored(&stack.order).await, (0, 0), "no order and no event written");

    // Billing is only asked when an account is given.
    body.as_object_mut().unwrap().remove("billingAccount");
    create(&stack.order, &order_path("productOrder"), &body).await;
    assert_eq!(stored(&stack.order).await.0, 1);
}

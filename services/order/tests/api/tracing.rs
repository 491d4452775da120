//! One trace across the three services: an order POST with a `traceparent` continues into the catalog and
//! customer lookups it makes (all three run in this process and export to one OTLP receiver).

use crate::helpers::*;
use bss_common::auth::ALL_SCOPES;
use bss_testkit::otlp::OtlpReceiver;
use std::time::Duration;

const SERVER: i64 = 2;
const CLIENT: i64 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_post_is_one_trace_through_order_catalog_and_customer() {
    let receiver = OtlpReceiver::start().await;
    let telemetry = bss_testkit::init_telemetry_exporting_to("order", &receiver.endpoint);
    assert!(telemetry.is_exporting());
    let stack = stack().await;
    let price = catalog_price(&stack.catalog, monthly("Monthly", 30.0)).await;
    let fibre = offering(&stack.catalog, "Fibre", "Active", &[&price]).await;
    let customer = customer(&stack.customer).await;
    let body = order_body(customer["id"].as_str().unwrap(), vec![item("1", Some(&fibre), 1)]);

    let trace_id = "5bf92f3577b34da6a3ce929d0e0e4737";
    let response = stack
        .order
        .client
        .post(stack.order.url(&order_path("productOrder")))
        .bearer_auth(bss_testkit::token(ALL_SCOPES))
        .header("traceparent", format!("00-{trace_id}-10f067aa0ba902b8-01"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);

    telemetry.shutdown();
    let is_server_of =
        |span: &bss_testkit::otlp::ExportedSpan, base: &str| span.kind == SERVER && span.name.contains(base);
    let spans = receiver
        .wait_for(Duration::from_secs(10), |spans| {
            let in_trace: Vec<_> = spans.iter().filter(|s| s.trace_id == trace_id).collect();
            [order::BASE_PATH, catalog::BASE_PATH, customer::BASE_PATH]
                .iter()
                .all(|base| in_trace.iter().any(|s| is_server_of(s, base)))
        })
        .await;
    let in_trace: Vec<_> = spans.iter().filter(|s| s.trace_id == trace_id).collect();
    let order_span = in_trace
        .iter()
        .find(|s| is_server_of(s, order::BASE_PATH))
        .unwrap_or_else(|| panic!("an order server span in the trace: {in_trace:#?}"));
    assert_eq!(order_span.parent_span_id, "10f067aa0ba902b8", "the order span continues the caller's trace");
    for (peer, base) in [("catalog", catalog::BASE_PATH), ("customer", customer::BASE_PATH)] {
        let server = in_trace.iter().filter(|s| is_server_of(s, base)).collect::<Vec<_>>();
        assert!(!server.is_empty(), "{peer} server spans in the trace: {in_trace:#?}");
        for span in server {
            let parent = in_trace.iter().find(|s| s.span_id == span.parent_span_id);
            assert!(
                parent.is_some_and(|p| p.kind == CLIENT),
                "each {peer} span's parent is an order client span: {span:#?}"
            );
        }
    }
}

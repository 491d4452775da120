//! Personal data never reaches logs, traces or metrics: a whole customer lifecycle with distinctive personal
//! data, then a search for any trace of it in everything the service emitted.

use crate::customers::{create, customer_body, path};
use bss_testkit::TestApp;
use bss_testkit::otlp::OtlpReceiver;
use serde_json::json;

const PERSONAL: [&str; 6] = ["Zebulon", "Quixote", "zebulon.quixote", "privacy.example", "7946 0123", "Secret Lane"];

#[tokio::test]
async fn no_name_email_or_phone_number_appears_in_logs_traces_or_metrics() {
    let receiver = OtlpReceiver::start().await;
    let telemetry = bss_testkit::init_telemetry_exporting_to("customer", &receiver.endpoint);
    let app = TestApp::spawn(&customer::SPEC, customer::routes).await;

    let mut body = customer_body("Zebulon Quixote", "zebulon.quixote@privacy.example");
    body["contactMedium"][1]["characteristic"]["phoneNumber"] = json!("+44 20 7946 0123");
    body["contactMedium"][2]["characteristic"]["street1"] = json!("42 Secret Lane");
    let created = create(&app, &body).await;
    let href = created["href"].as_str().unwrap();
    app.get_json(href).await;
    for query in [
        "contactMedium.characteristic.emailAddress=zebulon.quixote@privacy.example",
        "name=Zebulon%20Quixote",
        "contactMedium.characteristic.phoneNumber=%2B44%2020%207946%200123",
    ] {
        let response = app.get_authorized(&format!("{}?{query}", path("customer"))).await;
        assert_eq!(response.status(), 200, "{query}");
    }
    // Failures whose input is personal data.
    let bad_filter = app
        .get_authorized(&format!("{}?contactMedium.characteristic.emailAddress.like=zebulon.quixote", path("customer")))
        .await;
    assert_eq!(bad_filter.status(), 400);
    let mut invalid = body.clone();
    invalid["contactMedium"][0]["characteristic"]["emailAddress"] = json!("zebulon.quixote.at.privacy");
    assert_eq!(app.post_json(&path("customer"), &invalid).await.status(), 400);
    let bad_patch = app
        .patch_as(href, "application/merge-patch+json", &json!({"name": 42, "statusReason": "Zebulon Quixote asked"}))
        .await;
    assert_eq!(bad_patch.status(), 400);
    let patched =
        app.patch_as(href, "application/merge-patch+json", &json!({"statusReason": "Zebulon Quixote asked"})).await;
    assert_eq!(patched.status(), 200);
    let unauthenticated = app.client.get(app.url(&format!("{}?name=Zebulon", path("customer")))).send().await.unwrap();
    assert_eq!(unauthenticated.status(), 401);
    assert_eq!(app.delete_authorized(href).await.status(), 204);
    app.wait_for_outbox_drain().await;

    telemetry.shutdown();
    let spans = receiver.wait_for(std::time::Duration::from_secs(10), |s| s.len() >= 8).await;
    assert!(spans.len() >= 8, "the requests were traced: {}", spans.len());
    let logs = bss_testkit::captured_logs();
    assert!(logs.lines().count() > 10, "the service logged");
    let traces = receiver.raw_text();
    let metrics = app.metrics_text().await;
    for (what, text) in [("logs", &logs), ("traces", &traces), ("metrics", &metrics)] {
        for value in PERSONAL {
            let found = text.to_lowercase().find(&value.to_lowercase());
            assert!(
                found.is_none(),
                "{value:?} appears in the {what}: …{}…",
                &text[found.unwrap_or(0).saturating_sub(200)..(found.unwrap_or(0) + 100).min(text.len())]
            );
        }
    }
}

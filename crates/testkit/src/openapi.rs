//! The API document checks every service runs: it is served, it describes exactly the routes the service
//! serves, and it keeps to the official TMF contract except where the service's allow-list says why not.
//!
//! [`crate::openapi_conformance!`] expands them into tests inside a service's own test binary.

use crate::TestApp;
use bss_common::server::ServiceSpec;
use bss_tmf::openapi::contract::{self, Contract};
use serde_json::Value;
use std::path::PathBuf;

/// Where the official specifications are: `TMF_SPECS`, or `../shared/tmf/specs` beside the repository.
pub fn specs_dir() -> PathBuf {
    match std::env::var_os("TMF_SPECS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/tmf/specs"),
    }
}

/// `/openapi.json` and `/api-docs` answer without a token; the document is the one the binary prints.
pub async fn the_document_and_the_api_page_are_served_without_a_token(spec: &'static ServiceSpec, app: &TestApp) {
    let response = app.client.get(app.url("/openapi.json")).send().await.expect("openapi.json");
    assert_eq!(response.status(), 200);
    let served: Value = response.json().await.expect("a JSON document");
    assert_eq!(served["openapi"], "3.0.3");
    assert_eq!(served, (spec.api_document)(), "the served document is the spec's");
    let page = app.client.get(app.url("/api-docs")).send().await.expect("api-docs");
    assert_eq!(page.status(), 200);
    let content_type = page.headers()["content-type"].to_str().unwrap_or_default().to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(page.text().await.unwrap_or_default().contains("openapi.json"), "the page loads the document");
}

/// Every documented operation is served (neither 404 for want of a route nor 405), and on each documented
/// path every undocumented method is 405: the document and the routes cannot drift apart.
pub async fn every_documented_operation_is_served_and_nothing_else(spec: &'static ServiceSpec, app: &TestApp) {
    let document = (spec.api_document)();
    let token = crate::token(&["admin"]);
    let mut problems = Vec::new();
    for (path, operations) in document["paths"].as_object().expect("paths") {
        assert!(spec.base_paths.iter().any(|base| path.starts_with(base)), "{path} is under a base path");
        let concrete = path.replace("{id}", "00000000-0000-7000-8000-000000000000");
        for method in ["get", "post", "patch", "delete", "put"] {
            let request = app
                .client
                .request(method.to_uppercase().parse().expect("method"), app.url(&concrete))
                .bearer_auth(&token)
                .header(
                    "content-type",
                    if method == "patch" { "application/merge-patch+json" } else { "application/json" },
                )
                .body("{}");
            let response = request.send().await.expect("request");
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let unrouted = status == 404 && body["message"].as_str().is_some_and(|m| m.starts_with("No resource at"));
            let documented = operations.get(method).is_some();
            if documented && (unrouted || status == 405) {
                problems.push(format!("{} {path} is documented but answers {status}", method.to_uppercase()));
            }
            if !documented && status != 405 {
                problems.push(format!("{} {path} is not documented but answers {status}", method.to_uppercase()));
            }
        }
    }
    let documented = document["paths"].as_object().expect("paths");
    for path in bss_common::server::registered_paths() {
        let ours = spec.base_paths.iter().any(|base| path.starts_with(&format!("{base}/")));
        if ours && !path.contains("/__conformance") && !documented.contains_key(&path) {
            problems.push(format!("{path} is served but not documented"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The document keeps to the official v4 contract but for the allow-list. Without the specifications (they
/// live beside the repository) the check says so loudly and passes: there is nothing to compare with.
pub fn the_document_keeps_to_the_official_contract(spec: &'static ServiceSpec, contract: Contract) {
    let file = specs_dir().join(contract.official_file);
    let Ok(text) = std::fs::read_to_string(&file) else {
        eprintln!("SKIPPED: the official specification is not at {} (set TMF_SPECS)", file.display());
        return;
    };
    let official: Value = serde_json::from_str(&text).expect("the official specification is JSON");
    match contract::check(&(spec.api_document)(), &official, contract.allowed) {
        Ok(explained) => eprintln!("{}: {explained} deliberate differences, all in the allow-list", spec.name),
        Err(report) => panic!("{} differs from {}:\n{report}", spec.name, contract.official_file),
    }
}

/// The three API document checks as tests of one service: `openapi_conformance!(SPEC, routes, CONTRACT)`.
#[macro_export]
macro_rules! openapi_conformance {
    ($spec:path, $routes:path, $contract:path) => {
        mod openapi_conformance {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn the_document_and_the_api_page_are_served_without_a_token() {
                let app = $crate::TestApp::spawn(&$spec, $routes).await;
                $crate::openapi::the_document_and_the_api_page_are_served_without_a_token(&$spec, &app).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn every_documented_operation_is_served_and_nothing_else() {
                let app = $crate::TestApp::spawn(&$spec, $routes).await;
                $crate::openapi::every_documented_operation_is_served_and_nothing_else(&$spec, &app).await;
            }

            #[test]
            fn the_document_keeps_to_the_official_contract() {
                $crate::openapi::the_document_keeps_to_the_official_contract(&$spec, $contract);
            }
        }
    };
}

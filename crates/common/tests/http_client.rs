//! The shared outgoing client against a real local HTTP peer: retries only where a retry is safe.

use actix_web::{App, HttpResponse, HttpServer, web};
use bss_common::config::HttpClientSettings;
use bss_common::http_client::{ClientError, ServiceClient};
use reqwest::Method;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// A peer that answers 503 to the first `failures` requests, then 200; returns its URL and request counter.
async fn flaky_peer(failures: u32) -> (String, Arc<AtomicU32>) {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let server = HttpServer::new(move || {
        let counter = counter.clone();
        App::new().default_service(web::to(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < failures {
                    HttpResponse::ServiceUnavailable().finish()
                } else {
                    HttpResponse::Ok().json(serde_json::json!({ "attempt": n + 1 }))
                }
            }
        }))
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .unwrap();
    let url = format!("http://127.0.0.1:{}/thing", server.addrs()[0].port());
    tokio::spawn(server.run());
    (url, calls)
}

fn client(retries: u32) -> ServiceClient {
    let settings =
        HttpClientSettings { timeout: Duration::from_secs(2), connect_timeout: Duration::from_millis(500), retries };
    ServiceClient::new(&settings, "test").unwrap()
}

#[tokio::test]
async fn idempotent_get_is_retried_through_transient_503s() {
    let (url, calls) = flaky_peer(2).await;
    let body: serde_json::Value = client(2).get_json(&url, None).await.expect("third attempt succeeds");
    assert_eq!(body["attempt"], 3);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn retries_stop_at_the_configured_limit() {
    let (url, calls) = flaky_peer(10).await;
    let outcome = client(1).get_json::<serde_json::Value>(&url, None).await;
    assert!(matches!(outcome, Err(ClientError::Status { status, .. }) if status == 503), "{outcome:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one try plus one retry");
}

#[tokio::test]
async fn post_is_never_retried() {
    let (url, calls) = flaky_peer(1).await;
    let response = client(3).send(Method::POST, &url, None, Some(&serde_json::json!({}))).await.unwrap();
    assert_eq!(response.status(), 503, "the 503 is returned as it came");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "a POST could apply twice, so it is sent once");
}

#[tokio::test]
async fn an_unreachable_peer_is_reported_as_unreachable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let outcome = client(2).get_json::<serde_json::Value>(&format!("http://127.0.0.1:{port}/x"), None).await;
    assert!(matches!(outcome, Err(ClientError::Unreachable(_))), "{outcome:?}");
}

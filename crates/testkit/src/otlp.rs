//! An in-process OTLP/HTTP receiver that keeps the spans services export, for asserting on real traces.
//!
//! Services export with `OTEL_EXPORTER_OTLP_PROTOCOL=http/json`, so the receiver needs no protobuf: it keeps
//! each `POST /v1/traces` body as JSON and flattens the spans for assertions.

use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// One exported span, flattened.
#[derive(Debug, Clone)]
pub struct ExportedSpan {
    pub service: String,
    pub name: String,
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    pub kind: i64,
}

/// A receiver listening on a free port.
pub struct OtlpReceiver {
    pub endpoint: String,
    bodies: Arc<Mutex<Vec<Value>>>,
    handle: actix_web::dev::ServerHandle,
}

impl OtlpReceiver {
    pub async fn start() -> OtlpReceiver {
        let bodies: Arc<Mutex<Vec<Value>>> = Arc::default();
        let sink = bodies.clone();
        let server = HttpServer::new(move || {
            let sink = sink.clone();
            App::new().app_data(web::PayloadConfig::default().limit(64 * 1_048_576)).route(
                "/v1/traces",
                web::post().to(move |body: web::Bytes| {
                    let sink = sink.clone();
                    async move {
                        if let Ok(json) = serde_json::from_slice::<Value>(&body) {
                            sink.lock().unwrap_or_else(|e| e.into_inner()).push(json);
                        }
                        HttpResponse::Ok().content_type("application/json").body("{}")
                    }
                }),
            )
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .expect("OTLP receiver binds");
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        OtlpReceiver { endpoint: format!("http://127.0.0.1:{port}"), bodies, handle }
    }

    /// Every export received so far, as JSON text (for checks that no attribute carries some value).
    pub fn raw_text(&self) -> String {
        self.bodies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|b| b.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ExportedSpan> {
        let bodies = self.bodies.lock().unwrap_or_else(|e| e.into_inner());
        let mut spans = Vec::new();
        for body in bodies.iter() {
            for resource_spans in body["resourceSpans"].as_array().into_iter().flatten() {
                let service = resource_spans["resource"]["attributes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|a| a["key"] == "service.name")
                    .and_then(|a| a["value"]["stringValue"].as_str())
                    .unwrap_or("")
                    .to_owned();
                for scope in resource_spans["scopeSpans"].as_array().into_iter().flatten() {
                    for span in scope["spans"].as_array().into_iter().flatten() {
                        spans.push(ExportedSpan {
                            service: service.clone(),
                            name: span["name"].as_str().unwrap_or("").to_owned(),
                            trace_id: span["traceId"].as_str().unwrap_or("").to_lowercase(),
                            span_id: span["spanId"].as_str().unwrap_or("").to_lowercase(),
                            parent_span_id: span["parentSpanId"].as_str().unwrap_or("").to_lowercase(),
                            kind: span["kind"].as_i64().unwrap_or(0),
                        });
                    }
                }
            }
        }
        spans
    }

    /// Waits until `predicate` holds for the received spans, up to `limit`.
    pub async fn wait_for(
        &self,
        limit: std::time::Duration,
        predicate: impl Fn(&[ExportedSpan]) -> bool,
    ) -> Vec<ExportedSpan> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let spans = self.spans();
            if predicate(&spans) || tokio::time::Instant::now() >= deadline {
                return spans;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        tokio::spawn(async move { handle.stop(false).await });
    }
}

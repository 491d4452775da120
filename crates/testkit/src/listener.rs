//! A `/hub` listener for tests: a local HTTP server that records every body it is sent and answers with a
//! chosen status (or late), across restarts on the same port.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the listener servers of one test received, across restarts.
#[derive(Clone, Default)]
pub struct Recorder {
    bodies: Arc<Mutex<Vec<Value>>>,
    content_types: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    pub fn bodies(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }

    /// The `Content-Type` of each request received.
    pub fn content_types(&self) -> Vec<String> {
        self.content_types.lock().unwrap().clone()
    }

    pub fn event_ids(&self) -> Vec<String> {
        self.bodies().iter().map(|b| b["eventId"].as_str().unwrap_or_default().to_owned()).collect()
    }

    /// The bodies once at least `count` arrived; panics after `limit`.
    pub async fn wait_for(&self, count: usize, limit: Duration, what: &str) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let bodies = self.bodies();
            if bodies.len() >= count {
                return bodies;
            }
            assert!(tokio::time::Instant::now() < deadline, "{what}: {} of {count} arrived: {bodies:?}", bodies.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Serves on 127.0.0.1:`port` (0: any), answering every request with `status`.
    pub async fn serve(&self, port: u16, status: u16) -> ListenerServer {
        self.serve_slowly(port, status, Duration::ZERO).await
    }

    /// Like [`Recorder::serve`], answering each request only after `delay` (a listener that hangs).
    pub async fn serve_slowly(&self, port: u16, status: u16, delay: Duration) -> ListenerServer {
        let status = Arc::new(AtomicU16::new(status));
        let (bodies, content_types, answer) = (self.bodies.clone(), self.content_types.clone(), status.clone());
        let server = actix_web::HttpServer::new(move || {
            let (bodies, content_types, answer) = (bodies.clone(), content_types.clone(), answer.clone());
            actix_web::App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let (bodies, content_types, answer) = (bodies.clone(), content_types.clone(), answer.clone());
                async move {
                    let content_type =
                        req.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                    content_types.lock().unwrap().push(content_type);
                    bodies.lock().unwrap().push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                    tokio::time::sleep(delay).await;
                    let status = actix_web::http::StatusCode::from_u16(answer.load(Ordering::SeqCst)).unwrap();
                    HttpResponse::build(status).finish()
                }
            }))
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("listener cannot bind 127.0.0.1:{port}: {e}"));
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        ListenerServer { port, handle }
    }
}

/// A running listener server.
pub struct ListenerServer {
    pub port: u16,
    handle: actix_web::dev::ServerHandle,
}

impl ListenerServer {
    pub fn callback(&self) -> String {
        callback(self.port)
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// The callback URL of a listener on `port`.
pub fn callback(port: u16) -> String {
    format!("http://127.0.0.1:{port}/listener")
}

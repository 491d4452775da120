//! The one HTTP client for service-to-service calls.
//!
//! - Trace context: every call is a client span (reqwest-tracing) and carries a W3C `traceparent`, so an order
//!   request and the catalog and customer lookups it makes are one trace in Jaeger.
//! - Caller identity: the caller's bearer token is relayed, so the peer authorises and audits the original
//!   subject rather than a service account that could do anything (ADR 0004).
//! - Bounded time: connect and total timeouts on every call.
//! - Retries: idempotent methods (GET, HEAD, PUT, DELETE, OPTIONS) are retried on connection failures,
//!   timeouts and 502/503/504, with exponential backoff and jitter; POST and PATCH never are, because a retry
//!   after a lost response could apply them twice.

use crate::auth::Principal;
use crate::config::HttpClientSettings;
use reqwest::{Method, StatusCode};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use reqwest_tracing::TracingMiddleware;
use std::time::Duration;

/// Why a call to a peer did not produce a response.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("peer unreachable: {0}")]
    Unreachable(String),
    #[error("peer answered {status}")]
    Status { status: StatusCode, body: String },
    #[error("peer sent an unreadable body: {0}")]
    Body(String),
}

/// Outgoing client shared by all handlers of a service.
#[derive(Clone, Debug)]
pub struct ServiceClient {
    inner: ClientWithMiddleware,
    retries: u32,
}

const BASE_BACKOFF: Duration = Duration::from_millis(50);

impl ServiceClient {
    pub fn new(settings: &HttpClientSettings, user_agent: &str) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(user_agent)
            .build()?;
        Ok(Self {
            inner: ClientBuilder::new(client).with(TracingMiddleware::default()).build(),
            retries: settings.retries,
        })
    }

    /// Sends one request (retrying when safe) and returns the response whatever its status.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        caller: Option<&Principal>,
        body: Option<&serde_json::Value>,
    ) -> Result<reqwest::Response, ClientError> {
        let idempotent = matches!(method, Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS);
        let attempts = if idempotent { self.retries + 1 } else { 1 };
        let mut last_error = None;
        for attempt in 0..attempts {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let mut request = self.inner.request(method.clone(), url);
            if let Some(principal) = caller {
                request = request.bearer_auth(&*principal.token);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            match request.send().await {
                Ok(response) if retryable_status(response.status()) && attempt + 1 < attempts => {
                    tracing::warn!(status = response.status().as_u16(), attempt, "peer unavailable, retrying");
                    last_error = Some(ClientError::Status { status: response.status(), body: String::new() });
                }
                Ok(response) => return Ok(response),
                Err(e) => {
                    tracing::warn!(error = %e, attempt, "peer call failed");
                    last_error = Some(ClientError::Unreachable(e.to_string()));
                }
            }
        }
        Err(last_error.unwrap_or_else(|| ClientError::Unreachable("no attempt made".into())))
    }

    /// GETs `url` and decodes a 2xx JSON body; any other status is [`ClientError::Status`].
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        caller: Option<&Principal>,
    ) -> Result<T, ClientError> {
        let response = self.send(Method::GET, url, caller, None).await?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(ClientError::Status { status, body });
        }
        response.json().await.map_err(|e| ClientError::Body(e.to_string()))
    }
}

/// One URL path segment, percent-encoded: ids come from clients and must not change the path of a call to a
/// peer (`a/b` stays one segment).
pub fn path_segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn retryable_status(status: StatusCode) -> bool {
    matches!(status, StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT)
}

fn backoff(attempt: u32) -> Duration {
    let exponential = BASE_BACKOFF * 2u32.saturating_pow(attempt.saturating_sub(1));
    // Up to 50 % jitter so replicas retrying together do not hit the peer in step.
    let jitter = exponential.mul_f64(rand_fraction() * 0.5);
    exponential + jitter
}

fn rand_fraction() -> f64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    f64::from(nanos % 1_000) / 1_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(path_segment("a/b?c d"), "a%2Fb%3Fc%20d");
        assert_eq!(path_segment("1f3e-ab_9.x~"), "1f3e-ab_9.x~");
    }
}

//! The HTTP side of the load generator: one client for the four services, every request timed and recorded
//! under its operation name, and the retry policy of a well-behaved API client (503 and transport errors are
//! retried with backoff; a create is retried only when it is safe — with the same `Idempotency-Key`, or where
//! a duplicate is harmless).

use crate::stats::{Outcome, Stats};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the four services are.
#[derive(Debug, Clone)]
pub struct Targets {
    pub catalog: String,
    pub customer: String,
    pub order: String,
    pub billing: String,
}

pub const CATALOG_API: &str = "/tmf-api/productCatalogManagement/v4";
pub const CUSTOMER_API: &str = "/tmf-api/customerManagement/v4";
pub const ORDER_API: &str = "/tmf-api/productOrderingManagement/v4";
pub const BILL_API: &str = "/tmf-api/customerBillManagement/v4";
pub const ACCOUNT_API: &str = "/tmf-api/accountManagement/v4";

/// A request's answer: its status and JSON body (`Null` when there is none or it is not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

/// Why a call gave up.
#[derive(Debug)]
pub enum CallError {
    /// The last attempt was answered with a status the call does not accept.
    Status(Answer),
    /// The last attempt got no answer.
    Transport(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Status(answer) => write!(f, "status {}: {}", answer.status.as_u16(), answer.body),
            CallError::Transport(reason) => write!(f, "no answer: {reason}"),
        }
    }
}

impl std::error::Error for CallError {}

/// How a call treats answers.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    /// Statuses that count as success besides 2xx (a refused cancellation, 404 of a deleted order).
    pub also_ok: &'static [u16],
    /// Statuses retried besides 429, 502, 503 and 504 (409 "still being processed" of an idempotent create).
    pub also_retry: &'static [u16],
}

impl Policy {
    /// Reads and safe writes: a few attempts over about 10 s (a service restarting, a dependency coming back).
    pub const RETRY: Policy = Policy { attempts: 8, also_ok: &[], also_retry: &[] };
    /// `POST productOrder` with an `Idempotency-Key`: retried for about 80 s, 409 included — a key whose first
    /// request died with its process stays claimed for a minute, and while the outcome is unknown so is
    /// whether the account will be billed.
    pub const IDEMPOTENT_CREATE: Policy = Policy { attempts: 45, also_ok: &[], also_retry: &[409] };

    pub const fn accepting(self, also_ok: &'static [u16]) -> Policy {
        Policy { attempts: self.attempts, also_ok, also_retry: self.also_retry }
    }
}

/// The shared client.
#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    token: Arc<str>,
    pub targets: Arc<Targets>,
    pub stats: Arc<Stats>,
}

/// One request to send (rebuilt for each attempt).
#[derive(Debug, Clone)]
pub struct Call<'a> {
    pub operation: &'static str,
    pub method: Method,
    pub url: String,
    pub body: Option<&'a Value>,
    pub idempotency_key: Option<&'a str>,
    pub policy: Policy,
}

impl Api {
    pub fn new(targets: Targets, token: String, stats: Arc<Stats>) -> anyhow::Result<Api> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(256)
            .build()?;
        Ok(Api { http, token: token.into(), targets: Arc::new(targets), stats })
    }

    /// GET `url` (recorded as `operation`), retried.
    pub async fn get(&self, operation: &'static str, url: String) -> Result<Answer, CallError> {
        self.send(Call {
            operation,
            method: Method::GET,
            url,
            body: None,
            idempotency_key: None,
            policy: Policy::RETRY,
        })
        .await
    }

    /// POST `body` to `url` (recorded as `operation`) under `policy`.
    pub async fn post(
        &self,
        operation: &'static str,
        url: String,
        body: &Value,
        policy: Policy,
    ) -> Result<Answer, CallError> {
        self.send(Call { operation, method: Method::POST, url, body: Some(body), idempotency_key: None, policy }).await
    }

    /// Sends `call`, retrying 503, 502, 504, 429 and transport errors with doubling backoff (100 ms to 2 s)
    /// up to its attempts. Every attempt is recorded.
    pub async fn send(&self, call: Call<'_>) -> Result<Answer, CallError> {
        let mut backoff = Duration::from_millis(100);
        let mut attempt = 1;
        loop {
            let result = self.attempt(&call).await;
            let retryable = match &result {
                Ok(_) => false,
                Err(CallError::Status(answer)) => {
                    matches!(answer.status.as_u16(), 429 | 502 | 503 | 504)
                        || call.policy.also_retry.contains(&answer.status.as_u16())
                }
                Err(CallError::Transport(_)) => true,
            };
            if !retryable || attempt >= call.policy.attempts {
                return result;
            }
            attempt += 1;
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }

    async fn attempt(&self, call: &Call<'_>) -> Result<Answer, CallError> {
        let mut request = self.http.request(call.method.clone(), &call.url).bearer_auth(&self.token);
        if let Some(body) = call.body {
            request = request.json(body);
        }
        if let Some(key) = call.idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let started = Instant::now();
        let sent = request.send().await;
        let answer = match sent {
            Ok(response) => {
                let status = response.status();
                let bytes = response.bytes().await;
                match bytes {
                    Ok(bytes) => Ok(Answer { status, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }),
                    Err(e) => Err(CallError::Transport(transport_reason(&e))),
                }
            }
            Err(e) => Err(CallError::Transport(transport_reason(&e))),
        };
        let latency = started.elapsed();
        let result = match answer {
            Ok(answer) if answer.status.is_success() || call.policy.also_ok.contains(&answer.status.as_u16()) => {
                Ok(answer)
            }
            Ok(answer) => Err(CallError::Status(answer)),
            Err(e) => Err(e),
        };
        let outcome = match &result {
            Ok(_) => Outcome::Ok,
            Err(CallError::Status(answer)) => Outcome::Status(answer.status.as_u16()),
            Err(CallError::Transport(reason)) => Outcome::Transport(reason.clone()),
        };
        self.stats.record(call.operation, latency, &outcome);
        result
    }

    /// GET `url` without a token and without recording it (probes and metrics).
    pub async fn probe(&self, url: &str) -> Option<(StatusCode, String)> {
        let response = self.http.get(url).timeout(Duration::from_secs(5)).send().await.ok()?;
        let status = response.status();
        Some((status, response.text().await.ok()?))
    }
}

/// A short, stable description of a transport failure (the error kinds of the report).
fn transport_reason(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timeout".into()
    } else if error.is_connect() {
        "connect".into()
    } else if error.is_body() || error.is_decode() {
        "body".into()
    } else {
        "request".into()
    }
}

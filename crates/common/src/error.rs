//! The TMF630 error body and the one place where failures become HTTP responses.
//!
//! Every error a client can see — from a handler, the auth layer, actix's own extractors, an unknown route, a
//! panic — leaves through [`ApiError`], so the body is always `{code, reason, message, status, @type: "Error"}`.
//! Server-side failures keep their cause chain in the log and give the client only a generic message and the
//! trace id to quote to support.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, error as actix_error, web};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The TMF630 `Error` resource.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    /// Application-relevant error code (stable, machine-readable).
    pub code: String,
    /// Short human-readable explanation of the class of problem.
    pub reason: String,
    /// Detail for this occurrence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The HTTP status, as a string (TMF630 types it so).
    pub status: String,
    #[serde(rename = "@type")]
    pub type_: String,
}

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// The internal cause, logged and never sent.
    source: Option<anyhow::Error>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), source: None }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "CONFLICT", message)
    }

    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "UNPROCESSABLE_ENTITY", message)
    }

    pub fn service_unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE", message)
    }

    /// An unexpected failure: the cause is logged, the client sees a generic message naming the trace.
    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "INTERNAL_ERROR",
            message: internal_error_message(),
            source: Some(source.into()),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code.to_owned(),
            reason: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            message: Some(self.message.clone()),
            status: self.status.as_u16().to_string(),
            type_: "Error".to_owned(),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::internal(e)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                tracing::warn!(error = %e, "database unavailable");
                ApiError::service_unavailable("The database is temporarily unavailable; retry later.")
            }
            // A value PostgreSQL cannot store — the NUL character, which JSON allows as `\u0000` but `jsonb` and
            // `text` do not — is the client's input, not a fault: 400, and the transaction is rolled back.
            sqlx::Error::Database(db)
                if matches!(db.code().as_deref(), Some(UNTRANSLATABLE_CHARACTER | CHARACTER_NOT_IN_REPERTOIRE)) =>
            {
                ApiError::bad_request("A text value contains a character that cannot be stored (NUL, \\u0000).")
            }
            other => ApiError::internal(other),
        }
    }
}

/// SQLSTATE 22P05: `jsonb` refuses `\u0000`.
const UNTRANSLATABLE_CHARACTER: &str = "22P05";
/// SQLSTATE 22021: a `text` value with a 0x00 byte.
const CHARACTER_NOT_IN_REPERTOIRE: &str = "22021";

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(source) = &self.source {
            tracing::error!(error = format!("{source:#}"), status = self.status.as_u16(), "request failed");
        }
        let mut response = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        response.json(self.body())
    }
}

/// What a client is told of a server failure: nothing of the cause, but the id of the request's trace, which
/// its log lines (`trace_id`) and its spans in Jaeger carry, so support can find what happened.
pub fn internal_error_message() -> String {
    match crate::telemetry::current_trace_id() {
        Some(trace_id) => format!("The server could not complete the request; quote trace id {trace_id} to support."),
        None => "The server could not complete the request.".to_owned(),
    }
}

/// The crate-wide result of handlers.
pub type ApiResult<T> = Result<T, ApiError>;

/// Turns actix's JSON extractor failures into TMF errors with the right status.
pub fn json_error_handler(err: actix_error::JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    use actix_error::JsonPayloadError as E;
    let api = match &err {
        E::OverflowKnownLength { .. } | E::Overflow { .. } => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", "The request body is too large.")
        }
        E::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "The request body must be application/json.",
        ),
        E::Deserialize(e) => ApiError::bad_request(format!("The request body is not valid JSON: {e}")),
        _ => ApiError::bad_request("The request body could not be read."),
    };
    api.into()
}

/// Query-string extractor failures are client errors.
pub fn query_error_handler(err: actix_error::QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::bad_request(format!("Invalid query string: {err}")).into()
}

/// Path extractor failures (e.g. a malformed id) are client errors.
pub fn path_error_handler(err: actix_error::PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::bad_request(format!("Invalid path parameter: {err}")).into()
}

/// The extractor configuration every service installs, bound to the configured body limit.
pub fn extractor_configs(
    max_body_bytes: usize,
) -> (web::JsonConfig, web::PayloadConfig, web::QueryConfig, web::PathConfig) {
    (
        web::JsonConfig::default().limit(max_body_bytes).error_handler(json_error_handler).content_type_required(true),
        web::PayloadConfig::default().limit(max_body_bytes),
        web::QueryConfig::default().error_handler(query_error_handler),
        web::PathConfig::default().error_handler(path_error_handler),
    )
}

/// Default service for requests no route matched: 404, or 405 when the path exists with another method.
pub async fn unmatched_route(req: HttpRequest) -> HttpResponse {
    ApiError::not_found(format!("No resource at {} {}.", req.method(), req.path())).error_response()
}

/// Fallback handler for a known path called with a method it does not support.
pub async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        format!("{} is not allowed on {}.", req.method(), req.path()),
    )
    .error_response()
}

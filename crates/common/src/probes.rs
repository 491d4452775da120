//! `/live`, `/ready`, `/health` and `/metrics`: the endpoints Kubernetes and Prometheus call.
//!
//! - `/live` answers 200 while the process can serve HTTP at all; it checks nothing else, so a database outage
//!   never makes Kubernetes restart healthy pods.
//! - `/ready` is 200 only when the instance should get traffic: migrations applied, PostgreSQL answering, not
//!   shutting down. Redis is deliberately not part of readiness: without it a service degrades (no cache,
//!   events wait in the outbox) but still serves, so pulling it from the load balancer would turn a Redis
//!   outage into a full outage (ADR 0003).
//! - `/health` is the human and dashboard view: status, version, uptime and each dependency's state and
//!   latency. It answers 200 whenever the process runs; `status` says UP, DEGRADED (Redis down) or DOWN.

use crate::error::ApiError;
use crate::metrics::DEPENDENCY_UP;
use crate::server::ServiceContext;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use std::time::Instant;

/// One dependency's state in `/health`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DependencyHealth {
    pub status: &'static str,
    pub latency_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The `/health` document.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthReport {
    pub status: &'static str,
    pub service: &'static str,
    pub version: &'static str,
    pub uptime_seconds: u64,
    pub migrations_applied: bool,
    pub shutting_down: bool,
    pub checks: Checks,
}

#[derive(Debug, Serialize)]
pub struct Checks {
    pub database: DependencyHealth,
    pub redis: DependencyHealth,
}

async fn timed<F: std::future::Future<Output = anyhow::Result<()>>>(
    service: &'static str,
    dependency: &'static str,
    check: F,
) -> DependencyHealth {
    let started = Instant::now();
    let outcome = check.await;
    let latency_ms = (started.elapsed().as_secs_f64() * 1_000.0 * 100.0).round() / 100.0;
    metrics::gauge!(DEPENDENCY_UP, "service" => service, "dependency" => dependency).set(if outcome.is_ok() {
        1.0
    } else {
        0.0
    });
    match outcome {
        Ok(()) => DependencyHealth { status: "UP", latency_ms, error: None },
        // The chain says what failed (timeout, refused) without credentials: URLs are never in these errors.
        Err(e) => DependencyHealth { status: "DOWN", latency_ms, error: Some(format!("{e:#}")) },
    }
}

pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "UP" }))
}

pub async fn ready(ctx: web::Data<ServiceContext>) -> Result<HttpResponse, ApiError> {
    let lifecycle = &ctx.lifecycle;
    if lifecycle.is_shutting_down() {
        return Err(ApiError::service_unavailable("Shutting down."));
    }
    if !lifecycle.migrations_done() {
        return Err(ApiError::service_unavailable("Database migrations not applied yet."));
    }
    let database = timed(ctx.spec.name, "postgres", crate::db::ping(&ctx.db, ctx.settings.probe_timeout)).await;
    if database.status != "UP" {
        return Err(ApiError::service_unavailable("The database is unreachable."));
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({ "status": "UP" })))
}

pub async fn health(ctx: web::Data<ServiceContext>) -> HttpResponse {
    let service = ctx.spec.name;
    let (database, redis) = tokio::join!(
        timed(service, "postgres", crate::db::ping(&ctx.db, ctx.settings.probe_timeout)),
        timed(service, "redis", ctx.redis.ping()),
    );
    let status = match (database.status, redis.status) {
        ("UP", "UP") if !ctx.lifecycle.is_shutting_down() => "UP",
        ("UP", _) => "DEGRADED",
        _ => "DOWN",
    };
    HttpResponse::Ok().json(HealthReport {
        status,
        service,
        version: ctx.spec.version,
        uptime_seconds: ctx.lifecycle.uptime().as_secs(),
        migrations_applied: ctx.lifecycle.migrations_done(),
        shutting_down: ctx.lifecycle.is_shutting_down(),
        checks: Checks { database, redis },
    })
}

pub async fn metrics(ctx: web::Data<ServiceContext>) -> HttpResponse {
    crate::metrics::record_db_pool(ctx.spec.name, &ctx.db, ctx.settings.database.max_connections);
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(ctx.metrics.render())
}

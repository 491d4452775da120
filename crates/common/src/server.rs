//! Builds and runs a service: the same middleware stack, probes and lifecycle for all four.
//!
//! A service supplies a [`ServiceSpec`] (its name, base paths and migrations) and a function that registers
//! its TMF routes; [`Application::build`] does the rest. The application binds its own listener, so tests run
//! it on port 0, and [`Application::run_until_stopped`] takes the shutdown trigger as a future, so tests can
//! stop it without signals.
//!
//! Middleware, outermost first: tracing (root span, W3C trace context extracted from the request) → HTTP
//! metrics → TMF error shaping (panics become 500s, every error body becomes the TMF error) → authentication,
//! authorisation and audit → the service's handlers.

use crate::api_docs;
use crate::audit::{AuditCategory, AuditLog, AuditRecord};
use crate::auth::{self, Access, Verifier};
use crate::config::Settings;
use crate::error::{self, ApiError};
use crate::http_client::ServiceClient;
use crate::kv::RedisPool;
use crate::lifecycle::Lifecycle;
use crate::metrics::{self as bss_metrics, ConnectionGauge, ServiceName};
use crate::probes;
use crate::request_span::PrivacyRootSpan;
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::CONTENT_TYPE;
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpServer, ResponseError, web};
use anyhow::Context as _;
use futures_util::FutureExt as _;
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use std::future::Future;
use std::net::TcpListener;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing_actix_web::TracingLogger;

/// What makes one service different from another at the runtime level.
#[derive(Debug)]
pub struct ServiceSpec {
    /// Short name: scope prefix (`catalog:read`), metrics `service` label, log `service` field.
    pub name: &'static str,
    /// The PostgreSQL schema the service owns (not always its name: `order` is an SQL keyword).
    pub schema: &'static str,
    pub version: &'static str,
    /// Path prefixes that require a bearer token; the first is the TMF base path.
    pub base_paths: &'static [&'static str],
    /// The service's embedded migrations (`sqlx::migrate!("../../migrations/<name>")`).
    pub migrator: &'static Migrator,
    /// Whether successful reads are audited too (personal data, e.g. customers).
    pub audit_reads: bool,
    /// Starts the service's own background workers (outbox relay, consumers, jobs) once the context exists.
    /// Workers are spawned with [`Lifecycle::spawn_worker`] and watch its stop token.
    pub on_start: fn(&web::Data<ServiceContext>),
    /// Peer URL variables (`CATALOG_URL`, …) the service cannot work without: start-up stops, naming the
    /// variable, when one is missing.
    pub required_peers: &'static [&'static str],
    /// Checks the service's own settings with types only the service knows (billing parses its default
    /// account's currency, time zone and tax rate); an error names the variable and stops start-up.
    pub validate_settings: fn(&Settings) -> Result<(), crate::config::ConfigError>,
    /// The service's OpenAPI document (built from its route declarations by `bss_tmf::openapi`), served at
    /// `/openapi.json` and printed by the `openapi` subcommand.
    pub api_document: fn() -> serde_json::Value,
}

/// An [`ServiceSpec::on_start`] for services without workers of their own.
pub fn no_workers(_: &web::Data<ServiceContext>) {}

/// A [`ServiceSpec::validate_settings`] for services with no settings of their own to check.
pub fn no_settings_check(_: &Settings) -> Result<(), crate::config::ConfigError> {
    Ok(())
}

impl ServiceSpec {
    /// Checks what the service itself requires of the settings beyond what every service reads: its peers,
    /// then [`ServiceSpec::validate_settings`].
    pub fn check_settings(&self, settings: &Settings) -> Result<(), crate::config::ConfigError> {
        self.required_peers.iter().try_for_each(|variable| settings.peer(variable).map(|_| ()))?;
        (self.validate_settings)(settings)
    }

    fn is_protected(&self, path: &str) -> bool {
        self.base_paths.iter().any(|base| path == *base || path.starts_with(&format!("{base}/")))
    }
}

/// Everything a handler may need, shared by all workers of one instance.
pub struct ServiceContext {
    pub spec: &'static ServiceSpec,
    pub settings: Settings,
    pub db: PgPool,
    pub redis: RedisPool,
    pub verifier: Verifier,
    pub audit: AuditLog,
    pub lifecycle: Arc<Lifecycle>,
    pub http: ServiceClient,
    pub metrics: PrometheusHandle,
}

impl std::fmt::Debug for ServiceContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceContext").field("service", &self.spec.name).finish()
    }
}

/// A built, bound, not yet running service.
pub struct Application {
    server: Server,
    port: u16,
    context: web::Data<ServiceContext>,
}

impl Application {
    /// Connects (lazily) to PostgreSQL and Redis, starts migrations and the background workers, and binds
    /// the HTTP listener on `settings.port` (0 picks a free port).
    pub async fn build<F>(spec: &'static ServiceSpec, settings: Settings, routes: F) -> anyhow::Result<Self>
    where
        F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
    {
        spec.check_settings(&settings)?;
        let metrics = bss_metrics::recorder();
        bss_metrics::record_build_info(spec.name, spec.version);
        let db = crate::db::connect(&settings.database, spec.schema)?;
        let redis = RedisPool::new(&settings.redis)?;
        let verifier = Verifier::new(&settings.auth).context("JWT_PUBLIC_KEY is not a usable public key")?;
        let http = ServiceClient::new(&settings.http_client, &format!("bss-oss-{}/{}", spec.name, spec.version))?;
        let lifecycle = Arc::new(Lifecycle::new());
        let (audit, audit_writer) = AuditLog::new(spec.name);

        let listener = TcpListener::bind((settings.bind_address, settings.port)).with_context(|| {
            format!("cannot listen on BIND_ADDRESS {} PORT {}", settings.bind_address, settings.port)
        })?;
        let port = listener.local_addr()?.port();

        let context = web::Data::new(ServiceContext {
            spec,
            settings: settings.clone(),
            db: db.clone(),
            redis,
            verifier,
            audit: audit.clone(),
            lifecycle: lifecycle.clone(),
            http,
            metrics,
        });

        // Migrations, then the workers that need the tables.
        let stop = lifecycle.stop_token();
        let migrate_lifecycle = lifecycle.clone();
        let run_migrations = settings.database.run_migrations;
        let worker_db = db.clone();
        let retention_days = settings.audit_retention_days;
        lifecycle.spawn_worker("migrations-and-audit", async move {
            let ready = if run_migrations {
                crate::db::migrate_until_done(&worker_db, spec.schema, spec.migrator, &stop).await
            } else {
                tracing::info!("RUN_MIGRATIONS=false: assuming the schema is managed by a migration job");
                true
            };
            if !ready {
                return;
            }
            migrate_lifecycle.mark_migrated();
            let retention =
                tokio::spawn(crate::audit::run_retention(spec.name, worker_db.clone(), retention_days, stop.clone()));
            audit_writer.run(worker_db, stop).await;
            let _ = retention.await;
        });
        let upkeep_handle = context.metrics.clone();
        let upkeep_stop = lifecycle.stop_token();
        lifecycle.spawn_worker("metrics-upkeep", async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tokio::select! {
                    _ = tick.tick() => upkeep_handle.run_upkeep(),
                    _ = upkeep_stop.cancelled() => break,
                }
            }
            tracing::info!(worker = "metrics-upkeep", "background worker stopped");
        });

        audit.record(AuditRecord::new(AuditCategory::Configuration, "system", "service.configure", "success").detail(
            serde_json::json!({
                "port": settings.port,
                "httpWorkers": settings.http_workers,
                "databaseMaxConnections": settings.database.max_connections,
                "runMigrations": settings.database.run_migrations,
                "jwtAlgorithm": settings.auth.key.algorithm_name(),
                "jwtIssuer": settings.auth.issuer,
                "jwtAudience": settings.auth.audience,
                "auditRetentionDays": settings.audit_retention_days,
                "shutdownTimeoutSecs": settings.shutdown_timeout.as_secs(),
                "peers": settings.peers.keys().collect::<Vec<_>>(),
                "hubAllowPrivateCallbacks": settings.hub_allow_private_callbacks,
                "hubDeliveryMaxAttempts": settings.hub_delivery_max_attempts,
            }),
        ));
        audit.record(AuditRecord::new(AuditCategory::System, "system", "service.start", "success"));
        (spec.on_start)(&context);

        let app_context = context.clone();
        let api_document = web::Data::new(api_docs::RenderedDocument::of(spec));
        let max_body = settings.max_body_bytes;
        let server = HttpServer::new(move || {
            let (json, payload, query, path) = error::extractor_configs(max_body);
            App::new()
                .app_data(app_context.clone())
                .app_data(api_document.clone())
                .app_data(ServiceName(spec.name))
                .app_data(json)
                .app_data(payload)
                .app_data(query)
                .app_data(path)
                .wrap(from_fn(authenticate_and_audit))
                .wrap(from_fn(close_connections_when_draining))
                .wrap(from_fn(tmf_errors))
                .wrap(from_fn(bss_metrics::record_http))
                .wrap(TracingLogger::<PrivacyRootSpan>::new())
                .service(resource("/live").route(web::get().to(probes::live)))
                .service(resource("/ready").route(web::get().to(probes::ready)))
                .service(resource("/health").route(web::get().to(probes::health)))
                .service(resource("/metrics").route(web::get().to(probes::metrics)))
                .service(resource("/openapi.json").route(web::get().to(api_docs::document)))
                .service(resource("/api-docs").route(web::get().to(api_docs::page)))
                .configure(routes.clone())
                .default_service(web::to(error::unmatched_route))
        })
        .on_connect(move |_, extensions| {
            extensions.insert(ConnectionGauge::open(spec.name));
        })
        .workers(settings.http_workers)
        .disable_signals()
        .shutdown_timeout(settings.shutdown_timeout.saturating_sub(settings.shutdown_drain).as_secs().max(1))
        .listen(listener)?
        .run();

        tracing::info!(service = spec.name, version = spec.version, port, "listening");
        Ok(Self { server, port, context })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared context (tests use it to reach the pool or lifecycle).
    pub fn context(&self) -> web::Data<ServiceContext> {
        self.context.clone()
    }

    /// Serves until `shutdown` resolves, then stops gracefully (see [`crate::lifecycle`]).
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let Self { server, context, .. } = self;
        let handle = server.handle();
        let mut server = tokio::spawn(server);
        let settings = &context.settings;
        let started = Instant::now();

        tokio::select! {
            result = &mut server => {
                // The server ended without being asked: report why.
                return result.context("HTTP server task failed")?.context("HTTP server failed");
            }
            _ = shutdown => {}
        }

        let lifecycle = &context.lifecycle;
        lifecycle.begin_shutdown();
        tracing::info!(drain_secs = settings.shutdown_drain.as_secs(), "shutdown: readiness is now 503, draining");
        context.audit.record(AuditRecord::new(AuditCategory::System, "system", "service.stop", "started"));
        tokio::time::sleep(settings.shutdown_drain).await;

        tracing::info!("shutdown: no longer accepting connections, finishing in-flight requests");
        handle.stop(true).await;
        let _ = server.await;

        let remaining = settings.shutdown_timeout.saturating_sub(started.elapsed()).max(Duration::from_millis(500));
        if lifecycle.stop_workers(remaining).await {
            tracing::info!("shutdown: background workers stopped");
        } else {
            tracing::warn!("shutdown: background workers did not stop in time");
        }
        context.db.close().await;
        tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "shutdown complete");
        Ok(())
    }
}

/// A route whose other methods get 405 with the TMF error body (rather than actix's empty 404). Its path is
/// recorded (see [`registered_paths`]).
pub fn resource(path: &str) -> actix_web::Resource {
    REGISTERED_PATHS.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(path.to_owned());
    web::resource(path).default_service(web::to(error::method_not_allowed))
}

static REGISTERED_PATHS: std::sync::Mutex<std::collections::BTreeSet<String>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// Every path registered with [`resource`] in this process (by any service built in it), so a test can
/// prove that a service documents every route it serves.
pub fn registered_paths() -> Vec<String> {
    REGISTERED_PATHS.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).iter().cloned().collect()
}

/// Gives every error response the TMF body and turns a handler panic into a 500 that reveals nothing.
///
/// The request is not cloned before routing (actix needs sole ownership to record the matched route), so a
/// panic cannot become a response here; it becomes an error that actix renders with the TMF body.
/// While the instance drains (after SIGTERM), each response tells the client to close its connection
/// (`Connection: close`), so no client keeps sending requests over a kept-alive connection to an instance about
/// to stop (see [`crate::lifecycle`]).
async fn close_connections_when_draining(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let mut response = next.call(req).await?;
    let draining =
        response.request().app_data::<web::Data<ServiceContext>>().is_some_and(|ctx| ctx.lifecycle.is_shutting_down());
    if draining {
        response.response_mut().head_mut().set_connection_type(actix_web::http::ConnectionType::Close);
    }
    Ok(response)
}

async fn tmf_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let service = req.app_data::<ServiceName>().map(|s| s.0).unwrap_or("unknown");
    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
        Ok(Ok(response)) => Ok(ensure_tmf_body(response.map_into_boxed_body())),
        Ok(Err(err)) => {
            let status = err.as_response_error().status_code();
            Err(ApiError::new(status, code_for(status), err.to_string()).into())
        }
        Err(panic) => {
            let detail = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".to_owned());
            metrics::counter!(bss_metrics::PANICS_TOTAL, "service" => service).increment(1);
            Err(ApiError::internal(anyhow::anyhow!("handler panicked: {detail}")).into())
        }
    }
}

fn code_for(status: actix_web::http::StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "BAD_REQUEST",
        401 => "UNAUTHORIZED",
        403 => "FORBIDDEN",
        404 => "NOT_FOUND",
        405 => "METHOD_NOT_ALLOWED",
        409 => "CONFLICT",
        413 => "PAYLOAD_TOO_LARGE",
        415 => "UNSUPPORTED_MEDIA_TYPE",
        s if s >= 500 => "INTERNAL_ERROR",
        _ => "CLIENT_ERROR",
    }
}

/// Rewrites an error response that is not already JSON (actix's own plain-text errors) into the TMF body.
fn ensure_tmf_body(response: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    let message = if status.is_client_error() {
        response
            .response()
            .error()
            .map(|e| e.to_string())
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_owned())
    } else {
        error::internal_error_message()
    };
    let body = ApiError::new(status, code_for(status), message).error_response();
    response.into_response(body)
}

/// Requires a valid token with the right scope under the base paths, and audits refusals and writes.
async fn authenticate_and_audit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(ctx) = req.app_data::<web::Data<ServiceContext>>().cloned() else {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    };
    if !ctx.spec.is_protected(req.path()) {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    }
    let action = format!("{} {}", req.method(), req.path());
    let principal = match auth::authorize(&ctx.verifier, ctx.spec.name, &req).await {
        Ok(principal) => principal,
        Err(denied) => {
            metrics::counter!(bss_metrics::AUTH_DENIED_TOTAL, "service" => ctx.spec.name, "reason" => denied.label())
                .increment(1);
            let actor = subject_hint(&req).unwrap_or_else(|| "anonymous".to_owned());
            ctx.audit.record(
                AuditRecord::new(AuditCategory::Security, actor, action, "denied")
                    .detail(serde_json::json!({ "reason": denied.label() })),
            );
            let response = ApiError::from(denied).error_response();
            return Ok(req.into_response(response).map_into_right_body());
        }
    };
    let access = Access::for_method(req.method());
    // Why the caller accesses the data (GDPR purpose), when it says so; bounded and printable only.
    let purpose: Option<String> = req
        .headers()
        .get("x-purpose")
        .and_then(|v| v.to_str().ok())
        .map(|p| p.chars().filter(|c| !c.is_control()).take(200).collect());
    let response = next.call(req).await?;
    let status = response.status();
    let audited = match access {
        Access::Write => Some(AuditCategory::DataChange),
        Access::Read if ctx.spec.audit_reads && status.is_success() => Some(AuditCategory::DataAccess),
        Access::Read => None,
    };
    if let Some(category) = audited {
        let (resource_type, resource_id) = resource_of(response.request());
        let detail = match purpose {
            Some(purpose) => serde_json::json!({ "purpose": purpose }),
            None => serde_json::Value::Null,
        };
        ctx.audit.record(
            AuditRecord::new(category, principal.subject.clone(), action, status.as_u16().to_string())
                .resource(resource_type, resource_id)
                .detail(detail),
        );
    }
    Ok(response.map_into_left_body())
}

/// The resource type (last literal segment of the matched pattern) and id (the `{id}` segment, if any).
fn resource_of(req: &actix_web::HttpRequest) -> (String, Option<String>) {
    let pattern = req.match_pattern().unwrap_or_else(|| req.path().to_owned());
    let resource_type = pattern
        .rsplit('/')
        .find(|segment| !segment.is_empty() && !segment.starts_with('{'))
        .unwrap_or("unknown")
        .to_owned();
    (resource_type, req.match_info().get("id").map(str::to_owned))
}

/// For the audit of a refused request: the `sub` a token claims, without trusting it (marked unverified).
fn subject_hint(req: &ServiceRequest) -> Option<String> {
    use base64::Engine as _;
    let header = req.headers().get(actix_web::http::header::AUTHORIZATION)?.to_str().ok()?;
    let token = header.split_once(' ')?.1.trim();
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let sub = claims.get("sub")?.as_str()?;
    // Bounded and marked, since anyone can put anything in an unverified token.
    Some(format!("unverified:{}", sub.chars().take(64).collect::<String>()))
}

//! `bss-testkit`: black-box tests of the services against real PostgreSQL and Redis.
//!
//! `make test` starts a private PostgreSQL and Redis and exports `DATABASE_URL` and `REDIS_URL`; every
//! [`TestApp`] gets a fresh database of its own on that server and its own Redis key prefix, binds port 0 and
//! is driven over HTTP like any client would. Nothing is mocked: failure paths are produced by really breaking
//! things — a [`proxy::TcpProxy`] between the service and a dependency cuts the connection; a
//! [`process::ServiceProcess`] runs the real binary so it can be sent SIGTERM.

pub mod conformance;
pub mod listener;
pub mod openapi;
pub mod otlp;
pub mod process;
pub mod proxy;

use bss_common::auth::{ALL_SCOPES, Claims, mint_hs256, now_epoch_secs};
use bss_common::config::{Env, Settings};
use bss_common::server::{Application, ServiceContext, ServiceSpec};
use bss_common::telemetry::{self, CapturedLogs};
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::oneshot;

/// The HS256 secret every test app verifies tokens with.
pub const TEST_JWT_SECRET: &str = "test-secret-that-is-long-enough-for-hs256-0123456789";
pub const TEST_ISSUER: &str = "bss-oss-test";
pub const TEST_AUDIENCE: &str = "bss-oss";

/// The PostgreSQL server `make test` started (admin URL: tests create their databases through it).
pub fn database_url() -> String {
    std::env::var("DATABASE_URL").expect("DATABASE_URL is not set: run the tests with `make test`")
}

/// The Redis server `make test` started.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").expect("REDIS_URL is not set: run the tests with `make test`")
}

/// Creates an empty database named `test_<uuid>` and returns its URL.
pub async fn fresh_database() -> String {
    let admin = database_url();
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(&admin).await.expect("cannot reach the test PostgreSQL");
    // The name is generated above from hex digits only; identifiers cannot be bound as parameters.
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut conn)
        .await
        .expect("cannot create a test database");
    let _ = conn.close().await;
    replace_database_name(&admin, &name)
}

fn replace_database_name(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let prefix = base.rsplit_once('/').map_or(base, |(p, _)| p);
    match query {
        Some(q) => format!("{prefix}/{name}?{q}"),
        None => format!("{prefix}/{name}"),
    }
}

/// The sum of the samples of metric `name` whose labels include all of `labels`, in Prometheus text `text`
/// (0 when there is none).
pub fn metric_value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| line.split(['{', ' ']).next() == Some(name))
        .filter(|line| labels.iter().all(|(k, v)| line.contains(&format!("{k}=\"{v}\""))))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Where [`test_env`] points the peer URLs a service requires: the discard port on loopback, never listened on.
pub const PLACEHOLDER_PEER: &str = "http://127.0.0.1:9";

/// The environment a test app runs with: fresh database, own Redis prefix, port 0, fast shutdown.
pub fn test_env(database_url: &str) -> Env {
    Env::from_pairs([
        ("DATABASE_URL", database_url.to_owned()),
        ("REDIS_URL", redis_url()),
        ("REDIS_KEY_PREFIX", format!("test-{}", uuid::Uuid::new_v4().simple())),
        ("JWT_SECRET", TEST_JWT_SECRET.to_owned()),
        ("JWT_ISSUER", TEST_ISSUER.to_owned()),
        ("JWT_AUDIENCE", TEST_AUDIENCE.to_owned()),
        ("PORT", "0".to_owned()),
        ("BIND_ADDRESS", "127.0.0.1".to_owned()),
        ("HTTP_WORKERS", "1".to_owned()),
        ("DATABASE_MAX_CONNECTIONS", "5".to_owned()),
        ("SHUTDOWN_TIMEOUT_SECS", "5".to_owned()),
        ("SHUTDOWN_DRAIN_SECS", "0".to_owned()),
        // Test listeners for /hub run on 127.0.0.1.
        ("HUB_ALLOW_PRIVATE_CALLBACKS", "true".to_owned()),
        // Peers a service requires at start-up (the order service's catalog, customer and billing) point at the discard
        // port, where nothing listens: the service starts, and a test that needs a peer starts the real one
        // and sets its URL. A call that reaches a placeholder fails like an unreachable peer.
        ("CATALOG_URL", PLACEHOLDER_PEER.to_owned()),
        ("CUSTOMER_URL", PLACEHOLDER_PEER.to_owned()),
        ("BILLING_URL", PLACEHOLDER_PEER.to_owned()),
    ])
}

/// Claims for a token the test apps accept, valid for an hour, with `scopes`.
pub fn claims(scopes: &[&str]) -> Claims {
    let now = now_epoch_secs();
    Claims {
        sub: "test-user".into(),
        iss: TEST_ISSUER.into(),
        aud: TEST_AUDIENCE.into(),
        exp: now + 3_600,
        nbf: Some(now - 1),
        iat: Some(now),
        scope: Some(scopes.join(" ")),
        scp: None,
    }
}

/// A token the test apps accept with `scopes`.
pub fn token(scopes: &[&str]) -> String {
    sign(&claims(scopes))
}

/// Signs arbitrary claims with the test secret.
pub fn sign(claims: &Claims) -> String {
    mint_hs256(TEST_JWT_SECRET.as_bytes(), claims).expect("HS256 signing cannot fail")
}

pub(crate) static LOGS: OnceLock<CapturedLogs> = OnceLock::new();

/// Everything the process has logged (the apps of one test process share the subscriber).
pub fn captured_logs() -> String {
    LOGS.get().map(CapturedLogs::contents).unwrap_or_default()
}

/// Installs the process's telemetry exporting spans to `otlp_endpoint` (an [`otlp::OtlpReceiver`]), with logs
/// captured for [`captured_logs`]. Call it before the first app starts.
pub fn init_telemetry_exporting_to(service: &'static str, otlp_endpoint: &str) -> telemetry::TelemetryGuard {
    let logs = LOGS.get_or_init(CapturedLogs::default).clone();
    telemetry::init_with(service, logs, Some(otlp_endpoint))
}

fn init_telemetry(service: &'static str) {
    let logs = LOGS.get_or_init(CapturedLogs::default).clone();
    telemetry::init_with_writer(service, logs);
}

/// A running service on a free port, stopped when dropped or by [`TestApp::stop`], or crashed by
/// [`TestApp::kill`].
///
/// Each app runs on a Tokio runtime of its own, on its own thread, as if it were a separate process: its HTTP
/// server, background workers and connections live there, so [`TestApp::kill`] can drop all of them at once
/// without any graceful step. The test still reaches [`TestApp::context`] (the pool, the settings) from its
/// own runtime while the app lives.
pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    pub context: actix_web::web::Data<ServiceContext>,
    pub database_url: String,
    schema: &'static str,
    shutdown: Option<oneshot::Sender<()>>,
    kill: Option<oneshot::Sender<()>>,
    finished: Option<oneshot::Receiver<anyhow::Result<()>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestApp {
    /// Starts `spec` with a fresh database and waits until it is ready.
    pub async fn spawn<F>(spec: &'static ServiceSpec, routes: F) -> TestApp
    where
        F: Fn(&mut actix_web::web::ServiceConfig) + Clone + Send + 'static,
    {
        Self::spawn_with(spec, routes, |_| {}).await
    }

    /// Like [`TestApp::spawn`], with the environment adjusted by `customise` first.
    pub async fn spawn_with<F>(spec: &'static ServiceSpec, routes: F, customise: impl FnOnce(&mut Env)) -> TestApp
    where
        F: Fn(&mut actix_web::web::ServiceConfig) + Clone + Send + 'static,
    {
        let app = Self::start(spec, routes, customise).await;
        app.wait_ready(Duration::from_secs(30)).await;
        app
    }

    /// Starts without waiting for readiness (for tests of a service whose database is down).
    pub async fn start<F>(spec: &'static ServiceSpec, routes: F, customise: impl FnOnce(&mut Env)) -> TestApp
    where
        F: Fn(&mut actix_web::web::ServiceConfig) + Clone + Send + 'static,
    {
        let database_url = fresh_database().await;
        Self::start_on_database(spec, routes, &database_url, customise).await
    }

    /// Starts `spec` on an existing database (`database_url` as [`TestApp::database_url`] gives it, e.g. the
    /// database of an app that was stopped or killed) and waits until it is ready: a restart.
    pub async fn spawn_on_database<F>(
        spec: &'static ServiceSpec,
        routes: F,
        database_url: &str,
        customise: impl FnOnce(&mut Env),
    ) -> TestApp
    where
        F: Fn(&mut actix_web::web::ServiceConfig) + Clone + Send + 'static,
    {
        let app = Self::start_on_database(spec, routes, database_url, customise).await;
        app.wait_ready(Duration::from_secs(30)).await;
        app
    }

    async fn start_on_database<F>(
        spec: &'static ServiceSpec,
        routes: F,
        database_url: &str,
        customise: impl FnOnce(&mut Env),
    ) -> TestApp
    where
        F: Fn(&mut actix_web::web::ServiceConfig) + Clone + Send + 'static,
    {
        init_telemetry(spec.name);
        let mut env = test_env(database_url);
        customise(&mut env);
        let settings = Settings::from_env(&env).expect("test settings are valid");
        let (started_tx, started) = oneshot::channel();
        let (shutdown, stopped) = oneshot::channel::<()>();
        let (kill, killed) = oneshot::channel::<()>();
        let (finished_tx, finished) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name(format!("{}-app", spec.name))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name(format!("{}-app-rt", spec.name))
                    .enable_all()
                    .build()
                    .expect("the app's runtime starts");
                let outcome = runtime.block_on(async move {
                    let application = Application::build(spec, settings, routes).await.expect("the application builds");
                    let _ = started_tx.send((application.port(), application.context()));
                    tokio::select! {
                        result = application.run_until_stopped(async move { let _ = stopped.await; }) => Some(result),
                        // Only an explicit kill: a dropped TestApp stops gracefully instead.
                        Ok(()) = killed => None,
                    }
                });
                // After a kill this drops every task of the app where it stands (HTTP server, workers, open
                // transactions): their connections close, nothing gets to finish.
                runtime.shutdown_timeout(Duration::from_secs(5));
                if let Some(result) = outcome {
                    let _ = finished_tx.send(result);
                }
            })
            .expect("the app's thread starts");
        let (port, context) = started.await.expect("the application builds");
        TestApp {
            address: format!("http://127.0.0.1:{port}"),
            port,
            client: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client"),
            context,
            database_url: database_url.to_owned(),
            schema: spec.schema,
            shutdown: Some(shutdown),
            kill: Some(kill),
            finished: Some(finished),
            thread: Some(thread),
        }
    }

    /// Polls `/ready` until 200, panicking after `limit`.
    pub async fn wait_ready(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Ok(r) = self.client.get(self.url("/ready")).send().await
                && r.status() == 200
            {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "service at {} not ready within {limit:?}", self.address);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// GET with a token carrying every scope.
    pub async fn get_authorized(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).bearer_auth(token(ALL_SCOPES)).send().await.expect("request sent")
    }

    /// POST JSON with a token carrying every scope.
    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client.post(self.url(path)).bearer_auth(token(ALL_SCOPES)).json(body).send().await.expect("request sent")
    }

    /// PATCH with the given media type and a token carrying every scope.
    pub async fn patch_as(&self, path: &str, content_type: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .patch(self.url(path))
            .bearer_auth(token(ALL_SCOPES))
            .header("content-type", content_type)
            .body(body.to_string())
            .send()
            .await
            .expect("request sent")
    }

    /// DELETE with a token carrying every scope.
    pub async fn delete_authorized(&self, path: &str) -> reqwest::Response {
        self.client.delete(self.url(path)).bearer_auth(token(ALL_SCOPES)).send().await.expect("request sent")
    }

    /// GET with every scope, expecting 200 and a JSON body.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let response = self.get_authorized(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.expect("JSON body")
    }

    /// Waits until the relay has published every committed event (so its cache evictions have happened).
    pub async fn wait_for_outbox_drain(&self) {
        let mut db = self.db().await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                .fetch_one(&mut db)
                .await
                .expect("outbox readable");
            if pending == 0 {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "{pending} events never left the outbox");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `/metrics` as text.
    pub async fn metrics_text(&self) -> String {
        self.client.get(self.url("/metrics")).send().await.expect("metrics").text().await.expect("metrics body")
    }

    /// A direct connection to the app's own database and schema, for assertions on what it stored.
    pub async fn db(&self) -> PgConnection {
        let options = PgConnectOptions::from_str(&self.database_url)
            .expect("test database URL")
            .options([("search_path", self.schema)]);
        PgConnection::connect_with(&options).await.expect("test database reachable")
    }

    /// Asks for a graceful stop and waits for it.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.finished.take() {
            Some(finished) => finished.await.map_err(|_| anyhow::anyhow!("the app's thread ended without a result"))?,
            None => Ok(()),
        }
    }

    /// Crashes the app, as `kill -9` would a process: no drain, no worker finishing its batch, no flush.
    /// Returns once everything it ran is gone (its port refuses connections, its database sessions are closed
    /// by the server as their sockets drop).
    pub async fn kill(mut self) {
        if let Some(kill) = self.kill.take() {
            let _ = kill.send(());
        }
        if let Some(thread) = self.thread.take() {
            tokio::task::spawn_blocking(move || thread.join()).await.expect("join").expect("the app's thread ended");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

//! The runtime conformance suite: what every service must do before it has a single TMF resource.
//!
//! Each check is a function here; [`crate::runtime_conformance!`] expands them into `#[tokio::test]`s inside
//! a service's own test binary, so all four services prove the same behaviours (probes, outages, metrics,
//! JWT, error bodies, tracing, audit, graceful shutdown, start-up validation) with one implementation of the
//! tests. Checks that need a handler the services do not have yet (a JSON body, a panic, an outgoing call)
//! add test-only routes under the service's base path with [`with_test_routes`]; the binaries never have them.

use crate::otlp::OtlpReceiver;
use crate::process::ServiceProcess;
use crate::proxy::{TcpProxy, host_port, via};
use crate::{TestApp, claims, metric_value, sign, token};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use bss_common::ServiceContext;
use bss_common::auth::{ALL_SCOPES, Principal};
use bss_common::server::ServiceSpec;
use serde_json::{Value, json};
use sqlx::Row;
use std::time::Duration;

mod events;
pub use events::*;

/// The service under test: its spec, its routes and its binary (`env!("CARGO_BIN_EXE_<name>")`).
#[derive(Clone, Copy)]
pub struct Subject {
    pub spec: &'static ServiceSpec,
    pub routes: fn(&mut web::ServiceConfig),
    pub binary: &'static str,
}

impl Subject {
    fn base(&self) -> &'static str {
        self.spec.base_paths[0]
    }

    fn test_path(&self, rest: &str) -> String {
        format!("{}/__conformance{rest}", self.base())
    }

    async fn spawn(&self) -> TestApp {
        self.spawn_with(|_| {}).await
    }

    async fn spawn_with(&self, customise: impl FnOnce(&mut bss_common::config::Env)) -> TestApp {
        TestApp::spawn_with(self.spec, with_test_routes(self.routes, self.base()), customise).await
    }
}

/// The service's routes plus test-only handlers under `<base>/__conformance`.
pub fn with_test_routes(
    routes: fn(&mut web::ServiceConfig),
    base: &'static str,
) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    move |config: &mut web::ServiceConfig| {
        routes(config);
        config.service(
            web::scope(&format!("{base}/__conformance"))
                .service(bss_common::server::resource("/echo").route(web::post().to(echo)))
                .service(bss_common::server::resource("/item/{id}").route(web::get().to(item)))
                .service(bss_common::server::resource("/panic").route(web::get().to(panic_handler)))
                .service(bss_common::server::resource("/call").route(web::get().to(call_peer)))
                .service(bss_common::server::resource("/event").route(web::post().to(events::emit_event))),
        );
    }
}

async fn echo(body: web::Json<Value>) -> HttpResponse {
    HttpResponse::Created().json(body.into_inner())
}

async fn item(id: web::Path<String>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "id": id.into_inner() }))
}

async fn panic_handler() -> HttpResponse {
    panic!("conformance: deliberate panic with internal detail /etc/secret");
}

#[derive(serde::Deserialize)]
struct CallQuery {
    url: String,
}

async fn call_peer(req: HttpRequest, query: web::Query<CallQuery>, ctx: web::Data<ServiceContext>) -> HttpResponse {
    let principal = req.extensions().get::<Principal>().cloned();
    match ctx.http.get_json::<Value>(&query.url, principal.as_ref()).await {
        Ok(body) => HttpResponse::Ok().json(body),
        Err(e) => bss_common::ApiError::service_unavailable(e.to_string()).into_response(),
    }
}

trait IntoResponse {
    fn into_response(self) -> HttpResponse;
}

impl IntoResponse for bss_common::ApiError {
    fn into_response(self) -> HttpResponse {
        actix_web::ResponseError::error_response(&self)
    }
}

/// Asserts `response` is `status` with a well-formed TMF error body; returns the body.
pub async fn assert_tmf_error(response: reqwest::Response, status: u16, case: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "{case}: status");
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert!(content_type.starts_with("application/json"), "{case}: content-type {content_type}");
    let body: Value = response.json().await.unwrap_or_else(|e| panic!("{case}: body is not JSON: {e}"));
    assert_eq!(body["@type"], "Error", "{case}: {body}");
    assert_eq!(body["status"], status.to_string(), "{case}: {body}");
    for field in ["code", "reason", "message"] {
        assert!(body[field].as_str().is_some_and(|s| !s.is_empty()), "{case}: {field} missing in {body}");
    }
    body
}

async fn wait_for_status(app: &TestApp, path: &str, status: u16, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let got = app.client.get(app.url(path)).send().await.map(|r| r.status().as_u16()).ok();
        if got == Some(status) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{path} did not become {status} (last {got:?})");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn health(app: &TestApp) -> Value {
    let response = app.client.get(app.url("/health")).send().await.expect("health");
    assert_eq!(response.status(), 200);
    response.json().await.expect("health JSON")
}

pub async fn live_and_ready_answer_200_when_dependencies_are_up(subject: Subject) {
    let app = subject.spawn().await;
    for path in ["/live", "/ready"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    app.stop().await.unwrap();
}

pub async fn health_reports_status_version_uptime_and_each_dependency(subject: Subject) {
    let app = subject.spawn().await;
    let report = health(&app).await;
    assert_eq!(report["status"], "UP", "{report}");
    assert_eq!(report["service"], subject.spec.name);
    assert_eq!(report["version"], subject.spec.version);
    assert!(report["uptimeSeconds"].is_u64(), "{report}");
    assert_eq!(report["migrationsApplied"], true);
    for dependency in ["database", "redis"] {
        assert_eq!(report["checks"][dependency]["status"], "UP", "{report}");
        assert!(report["checks"][dependency]["latencyMs"].as_f64().is_some_and(|ms| ms >= 0.0), "{report}");
    }
}

pub async fn ready_is_503_while_postgres_is_unreachable_and_recovers(subject: Subject) {
    let database_url = crate::database_url();
    let proxy = TcpProxy::start(&host_port(&database_url)).await;
    let app = TestApp::spawn_with(subject.spec, subject.routes, |env| {
        let own = env.get("DATABASE_URL").expect("test database").to_owned();
        env.set("DATABASE_URL", via(&own, &proxy.address()));
        env.set("DATABASE_ACQUIRE_TIMEOUT_MS", "500");
    })
    .await;

    proxy.cut();
    let down = app.client.get(app.url("/ready")).send().await.unwrap();
    assert_tmf_error(down, 503, "ready with PostgreSQL cut off").await;
    assert_eq!(app.client.get(app.url("/live")).send().await.unwrap().status(), 200, "live stays 200");
    let report = health(&app).await;
    assert_eq!(report["status"], "DOWN", "{report}");
    assert_eq!(report["checks"]["database"]["status"], "DOWN", "{report}");

    proxy.restore();
    wait_for_status(&app, "/ready", 200, Duration::from_secs(15)).await;
    // A pooled connection broken by the cut can still fail one check after readiness returned (its workers
    // share the pool), so health must come back UP within the same bound rather than on the very next call.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let report = health(&app).await;
        if report["status"] == "UP" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "health never recovered: {report}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn starts_without_postgres_and_becomes_ready_when_it_arrives(subject: Subject) {
    let database_url = crate::database_url();
    let proxy = TcpProxy::start(&host_port(&database_url)).await;
    proxy.cut();
    let app = TestApp::start(subject.spec, subject.routes, |env| {
        let own = env.get("DATABASE_URL").expect("test database").to_owned();
        env.set("DATABASE_URL", via(&own, &proxy.address()));
        env.set("DATABASE_ACQUIRE_TIMEOUT_MS", "300");
    })
    .await;
    assert_eq!(app.client.get(app.url("/live")).send().await.unwrap().status(), 200, "live without a database");
    let not_ready = app.client.get(app.url("/ready")).send().await.unwrap();
    let body = assert_tmf_error(not_ready, 503, "ready before migrations").await;
    assert!(body["message"].as_str().unwrap_or("").contains("migrations"), "{body}");

    proxy.restore();
    app.wait_ready(Duration::from_secs(20)).await;
    let mut conn = app.db().await;
    let applied: i64 =
        sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success").fetch_one(&mut conn).await.unwrap();
    assert_eq!(applied, subject.spec.migrator.iter().count() as i64, "every service migration applied once");
    let common: i64 = sqlx::query_scalar("SELECT count(*) FROM _bss_common_migrations WHERE success")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(common >= 1, "common migrations applied");
}

pub async fn redis_outage_keeps_the_service_ready_and_degraded_until_it_recovers(subject: Subject) {
    let proxy = TcpProxy::start(&host_port(&crate::redis_url())).await;
    let app = subject.spawn_with(crate::proxy::redis_behind(&proxy)).await;
    assert_eq!(health(&app).await["checks"]["redis"]["status"], "UP");

    proxy.cut();
    let report = health(&app).await;
    assert_eq!(report["status"], "DEGRADED", "{report}");
    assert_eq!(report["checks"]["redis"]["status"], "DOWN", "{report}");
    assert_eq!(report["checks"]["database"]["status"], "UP", "{report}");
    assert_eq!(app.client.get(app.url("/ready")).send().await.unwrap().status(), 200, "ready without Redis");
    let echoed = app
        .client
        .post(app.url(&subject.test_path("/echo")))
        .bearer_auth(token(ALL_SCOPES))
        .json(&json!({ "name": "works without Redis" }))
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.status(), 201, "an API call that needs no Redis still works");

    proxy.restore();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let report = health(&app).await;
        if report["checks"]["redis"]["status"] == "UP" {
            assert_eq!(report["status"], "UP");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "Redis never recovered: {report}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn metrics_count_requests_by_matched_route_with_help_text(subject: Subject) {
    let app = subject.spawn().await;
    let item_path = subject.test_path("/item/{id}");
    for id in ["a1", "b2", "c3"] {
        let response = app.get_authorized(&subject.test_path(&format!("/item/{id}"))).await;
        assert_eq!(response.status(), 200);
    }
    let _ = app.client.get(app.url("/no/such/route/42")).send().await.unwrap();
    let before = app.metrics_text().await;
    let labels = [("service", subject.spec.name), ("route", item_path.as_str()), ("status", "200"), ("method", "GET")];
    assert_eq!(metric_value(&before, "bss_oss_http_requests_total", &labels), 3.0, "{before}");
    assert!(!before.contains("/item/a1"), "raw paths must not become labels");
    assert!(before.contains("route=\"unmatched\""), "unmatched routes share one label");

    let _ = app.get_authorized(&subject.test_path("/item/d4")).await;
    let after = app.metrics_text().await;
    assert_eq!(metric_value(&after, "bss_oss_http_requests_total", &labels), 4.0, "the counter moves");

    for (name, kind) in [
        ("bss_oss_http_requests_total", "counter"),
        ("bss_oss_http_request_duration_seconds", "histogram"),
        ("bss_oss_active_connections", "gauge"),
        ("bss_oss_db_pool_connections", "gauge"),
        ("bss_oss_db_pool_max_connections", "gauge"),
    ] {
        assert!(after.contains(&format!("# HELP {name} ")), "HELP for {name}\n{after}");
        assert!(after.contains(&format!("# TYPE {name} {kind}")), "TYPE {kind} for {name}\n{after}");
    }
    let bucket = "bss_oss_http_request_duration_seconds_bucket{";
    assert!(after.lines().any(|l| l.starts_with(bucket) && l.contains(&format!("service=\"{}\"", subject.spec.name))));
    assert!(metric_value(&after, "bss_oss_active_connections", &[("service", subject.spec.name)]) >= 1.0);
    assert_eq!(metric_value(&after, "bss_oss_db_pool_max_connections", &[("service", subject.spec.name)]), 5.0);
}

fn alg_none_token() -> String {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = engine.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = engine.encode(serde_json::to_vec(&claims(ALL_SCOPES)).unwrap());
    format!("{header}.{payload}.")
}

pub async fn every_bad_token_is_refused_with_a_tmf_error(subject: Subject) {
    let app = subject.spawn().await;
    let path = subject.test_path("/item/x");
    let now = bss_common::auth::now_epoch_secs();
    let other_secret =
        bss_common::auth::mint_hs256(b"another-secret-another-secret-another-secret", &claims(ALL_SCOPES)).unwrap();
    let read = format!("{}:read", subject.spec.name);
    let bearer_with = |change: &dyn Fn(&mut bss_common::auth::Claims)| {
        let mut c = claims(ALL_SCOPES);
        change(&mut c);
        Some(format!("Bearer {}", sign(&c)))
    };
    let cases: Vec<(&str, Option<String>, u16)> = vec![
        ("missing header", None, 401),
        ("not a bearer token", Some("Basic dXNlcjpwYXNz".into()), 401),
        ("malformed token", Some("Bearer not.a.jwt".into()), 401),
        ("expired", bearer_with(&|c| c.exp = now - 3_600), 401),
        ("not yet valid", bearer_with(&|c| c.nbf = Some(now + 3_600)), 401),
        ("wrong signature", Some(format!("Bearer {other_secret}")), 401),
        ("wrong issuer", bearer_with(&|c| c.iss = "evil".into()), 401),
        ("wrong audience", bearer_with(&|c| c.aud = "other-api".into()), 401),
        ("alg none", Some(format!("Bearer {}", alg_none_token())), 401),
        ("another service's scope", Some(format!("Bearer {}", token(&["some-other:read", "some-other:write"]))), 403),
        ("no scope at all", Some(format!("Bearer {}", token(&[]))), 403),
    ];
    for (case, header, status) in &cases {
        let mut request = app.client.get(app.url(&path));
        if let Some(value) = header {
            request = request.header("Authorization", value);
        }
        let body = assert_tmf_error(request.send().await.unwrap(), *status, case).await;
        assert!(!body.to_string().contains(crate::TEST_JWT_SECRET), "{case}: secret leaked");
    }

    // Read scope does not allow writes; write does; admin does everything.
    let write_with_read = app
        .client
        .post(app.url(&subject.test_path("/echo")))
        .bearer_auth(token(&[&read]))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_tmf_error(write_with_read, 403, "write with a read-only token").await;
    let ok = app.client.get(app.url(&path)).bearer_auth(token(&[&read])).send().await.unwrap();
    assert_eq!(ok.status(), 200, "a valid token with the read scope passes");
    let admin = app
        .client
        .post(app.url(&subject.test_path("/echo")))
        .bearer_auth(token(&["admin"]))
        .json(&json!({"a": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 201, "admin passes");

    // Probes and metrics need no token.
    for open in ["/live", "/ready", "/health", "/metrics"] {
        assert_eq!(app.client.get(app.url(open)).send().await.unwrap().status(), 200, "{open} without token");
    }

    // Every refusal is in the audit log, with its reason.
    let denied = cases.len() as i64 + 1;
    let mut conn = app.db().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let count: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM audit_log WHERE category = 'security' AND outcome = 'denied' AND detail ? 'reason'",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap_or(0);
        if count >= denied {
            assert_eq!(count, denied);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "only {count} of {denied} refusals audited");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).expect("fixture exists")
}

pub async fn rs256_and_es256_public_keys_verify_tokens(subject: Subject) {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    for (algorithm, name, public, private) in [
        (Algorithm::RS256, "RS256", "rs256-public.pem", "rs256-private.pem"),
        (Algorithm::ES256, "ES256", "es256-public.pem", "es256-private.pem"),
    ] {
        let public_pem = String::from_utf8(fixture(public)).unwrap();
        let app = subject
            .spawn_with(|env| {
                env.remove("JWT_SECRET");
                env.set("JWT_PUBLIC_KEY", public_pem.clone());
                env.set("JWT_ALGORITHM", name);
            })
            .await;
        let key = match algorithm {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(&fixture(private)).unwrap(),
            _ => EncodingKey::from_ec_pem(&fixture(private)).unwrap(),
        };
        let good = encode(&Header::new(algorithm), &claims(ALL_SCOPES), &key).unwrap();
        let path = app.url(&subject.test_path("/item/k"));
        let response = app.client.get(&path).bearer_auth(&good).send().await.unwrap();
        assert_eq!(response.status(), 200, "{name} token accepted");
        // An HS256 token signed with the public key as secret (the classic key-confusion attack) is refused.
        let confused = bss_common::auth::mint_hs256(public_pem.as_bytes(), &claims(ALL_SCOPES)).unwrap();
        let refused = app.client.get(&path).bearer_auth(&confused).send().await.unwrap();
        assert_tmf_error(refused, 401, &format!("HS256 token against {name} key")).await;
        app.stop().await.unwrap();
    }
}

/// Serves a JWKS document that the test can replace (key rotation at the identity provider).
async fn start_jwks_provider(
    initial: Value,
) -> (String, std::sync::Arc<std::sync::Mutex<Value>>, actix_web::dev::ServerHandle) {
    let document = std::sync::Arc::new(std::sync::Mutex::new(initial));
    let shared = document.clone();
    let server = actix_web::HttpServer::new(move || {
        let shared = shared.clone();
        actix_web::App::new().default_service(web::to(move || {
            let body = shared.lock().unwrap().clone();
            async move { HttpResponse::Ok().json(body) }
        }))
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .unwrap();
    let url = format!("http://127.0.0.1:{}/.well-known/jwks.json", server.addrs()[0].port());
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    (url, document, handle)
}

pub async fn identity_provider_jwks_keys_verify_tokens_and_rotate(subject: Subject) {
    use jsonwebtoken::jwk::Jwk;
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    let rsa = EncodingKey::from_rsa_pem(&fixture("rs256-private.pem")).unwrap();
    let ec = EncodingKey::from_ec_pem(&fixture("es256-private.pem")).unwrap();
    let jwk = |key: &EncodingKey, algorithm: Algorithm, kid: &str| {
        let mut jwk = Jwk::from_encoding_key(key, algorithm).unwrap();
        jwk.common.key_id = Some(kid.to_owned());
        serde_json::to_value(jwk).unwrap()
    };
    let signed = |key: &EncodingKey, algorithm: Algorithm, kid: &str| {
        let mut header = Header::new(algorithm);
        header.kid = Some(kid.to_owned());
        encode(&header, &claims(ALL_SCOPES), key).unwrap()
    };
    let (jwks_url, document, provider) =
        start_jwks_provider(json!({ "keys": [jwk(&rsa, Algorithm::RS256, "rsa-1")] })).await;
    let app = subject
        .spawn_with(|env| {
            env.remove("JWT_SECRET");
            env.set("JWT_JWKS_URL", jwks_url.clone());
            env.set("JWT_JWKS_CACHE_SECS", "1");
        })
        .await;
    let path = app.url(&subject.test_path("/item/j"));
    let get = |token: String| app.client.get(&path).bearer_auth(token).send();

    assert_eq!(get(signed(&rsa, Algorithm::RS256, "rsa-1")).await.unwrap().status(), 200, "known kid");
    assert_tmf_error(get(signed(&rsa, Algorithm::RS256, "unknown")).await.unwrap(), 401, "unknown kid").await;
    let hs_with_kid = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("rsa-1".into());
        encode(&header, &claims(ALL_SCOPES), &EncodingKey::from_secret(b"guessed-secret-guessed-secret-guessed"))
            .unwrap()
    };
    assert_tmf_error(get(hs_with_kid).await.unwrap(), 401, "HS256 token naming an RSA kid").await;
    assert_tmf_error(get(signed(&ec, Algorithm::ES256, "ec-2")).await.unwrap(), 401, "not yet published").await;

    // The provider rotates: a new EC key appears and the old RSA key is withdrawn.
    *document.lock().unwrap() = json!({ "keys": [jwk(&ec, Algorithm::ES256, "ec-2")] });
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(get(signed(&ec, Algorithm::ES256, "ec-2")).await.unwrap().status(), 200, "rotated key accepted");
    assert_tmf_error(get(signed(&rsa, Algorithm::RS256, "rsa-1")).await.unwrap(), 401, "withdrawn key refused").await;
    provider.stop(false).await;
}

pub async fn every_error_path_returns_the_tmf_error_body(subject: Subject) {
    let app = subject
        .spawn_with(|env| {
            env.set("MAX_BODY_BYTES", "2048");
        })
        .await;
    let bearer = token(ALL_SCOPES);
    let echo = app.url(&subject.test_path("/echo"));

    let unknown = app.client.get(app.url("/definitely/not/here")).send().await.unwrap();
    assert_tmf_error(unknown, 404, "unknown route").await;
    let unknown_tmf = app
        .client
        .get(app.url(&format!("{}/noSuchResource", subject.base())))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap();
    assert_tmf_error(unknown_tmf, 404, "unknown resource under the base path").await;
    let wrong_method = app.client.delete(app.url("/health")).send().await.unwrap();
    assert_tmf_error(wrong_method, 405, "wrong method on a probe").await;
    let wrong_method_api = app.client.put(&echo).bearer_auth(&bearer).json(&json!({})).send().await.unwrap();
    assert_tmf_error(wrong_method_api, 405, "wrong method on an API route").await;
    let malformed = app
        .client
        .post(&echo)
        .bearer_auth(&bearer)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_tmf_error(malformed, 400, "malformed JSON").await;
    let wrong_type = app
        .client
        .post(&echo)
        .bearer_auth(&bearer)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_tmf_error(wrong_type, 415, "wrong content type").await;
    let huge = json!({ "blob": "x".repeat(10_000) });
    let oversized = app.client.post(&echo).bearer_auth(&bearer).json(&huge).send().await.unwrap();
    assert_tmf_error(oversized, 413, "oversized body").await;
    let bad_query = app.client.get(app.url(&subject.test_path("/call"))).bearer_auth(&bearer).send().await.unwrap();
    assert_tmf_error(bad_query, 400, "missing query parameter").await;

    let panicked = app.client.get(app.url(&subject.test_path("/panic"))).bearer_auth(&bearer).send().await.unwrap();
    let body = assert_tmf_error(panicked, 500, "panic in a handler").await;
    let text = body.to_string();
    for internal in ["panic", "/etc/secret", "conformance", "src/"] {
        assert!(!text.contains(internal), "500 body leaks {internal:?}: {text}");
    }
    assert_eq!(app.client.get(app.url("/live")).send().await.unwrap().status(), 200, "still serving after a panic");
    assert!(app.metrics_text().await.contains("bss_oss_http_panics_total"), "panics are counted");

    let fine = app.client.post(&echo).bearer_auth(&bearer).json(&json!({"ok": true})).send().await.unwrap();
    assert_eq!(fine.status(), 201, "a good request still works");
}

/// `(traceparent, authorization)` of each request a peer received.
type SeenHeaders = std::sync::Arc<std::sync::Mutex<Vec<(Option<String>, Option<String>)>>>;

/// A tiny peer that answers JSON and remembers the headers it was sent.
async fn start_peer() -> (String, SeenHeaders, actix_web::dev::ServerHandle) {
    let seen: SeenHeaders = Default::default();
    let sink = seen.clone();
    let server = actix_web::HttpServer::new(move || {
        let sink = sink.clone();
        actix_web::App::new().default_service(web::to(move |req: HttpRequest| {
            let sink = sink.clone();
            async move {
                let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
                sink.lock().unwrap().push((header("traceparent"), header("authorization")));
                HttpResponse::Ok().json(json!({ "peer": "answered" }))
            }
        }))
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .unwrap();
    let url = format!("http://127.0.0.1:{}/peer/resource", server.addrs()[0].port());
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    (url, seen, handle)
}

pub async fn an_incoming_trace_continues_through_the_service_and_its_outgoing_calls(subject: Subject) {
    let receiver = OtlpReceiver::start().await;
    let telemetry = crate::init_telemetry_exporting_to(subject.spec.name, &receiver.endpoint);
    assert!(telemetry.is_exporting());
    let app = subject.spawn().await;
    let (peer_url, seen, peer) = start_peer().await;

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent_span = "00f067aa0ba902b7";
    let bearer = token(ALL_SCOPES);
    let response = app
        .client
        .get(format!("{}?url={peer_url}", app.url(&subject.test_path("/call"))))
        .bearer_auth(&bearer)
        .header("traceparent", format!("00-{trace_id}-{parent_span}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["peer"], "answered");

    let (traceparent, authorization) = seen.lock().unwrap().first().cloned().expect("peer was called");
    let traceparent = traceparent.expect("outgoing call carries traceparent");
    assert_eq!(traceparent.split('-').nth(1), Some(trace_id), "same trace id downstream: {traceparent}");
    assert_ne!(traceparent.split('-').nth(2), Some(parent_span), "a new span id for the outgoing call");
    assert_eq!(authorization.as_deref(), Some(format!("Bearer {bearer}").as_str()), "caller identity relayed");

    // A log line written while serving the request carries the same trace id (the audit of a refusal).
    let refused = app
        .client
        .get(app.url(&subject.test_path("/item/x")))
        .header("traceparent", format!("00-{trace_id}-{parent_span}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    telemetry.shutdown();
    let spans =
        receiver.wait_for(Duration::from_secs(10), |s| s.iter().filter(|s| s.trace_id == trace_id).count() >= 2).await;
    let in_trace: Vec<_> = spans.iter().filter(|s| s.trace_id == trace_id).collect();
    let server_span = in_trace
        .iter()
        .find(|s| s.parent_span_id == parent_span)
        .unwrap_or_else(|| panic!("server span continues the incoming trace: {spans:#?}"));
    assert_eq!(server_span.service, subject.spec.name);
    let client_span =
        in_trace.iter().find(|s| s.kind == 3).unwrap_or_else(|| panic!("an exported client span: {in_trace:#?}"));
    assert_eq!(
        traceparent.split('-').nth(2),
        Some(client_span.span_id.as_str()),
        "the peer's parent is the client span"
    );

    let lines: Vec<Value> = crate::captured_logs().lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(!lines.is_empty(), "logs are JSON lines");
    assert!(
        lines.iter().any(|l| l["trace_id"] == trace_id && l["span_id"].as_str().is_some_and(|s| s.len() == 16)),
        "a log line with the request's trace and span ids"
    );
    peer.stop(false).await;
}

pub async fn writes_are_audited_and_old_records_purged(subject: Subject) {
    let app = subject.spawn().await;
    let response = app
        .client
        .post(app.url(&subject.test_path("/echo")))
        .bearer_auth(token(ALL_SCOPES))
        .json(&json!({ "email": "jane@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);

    let mut conn = app.db().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let row = loop {
        let row = sqlx::query(
            "SELECT actor, action, outcome, resource_type, detail::text AS detail FROM audit_log
             WHERE category = 'data_change' ORDER BY id DESC LIMIT 1",
        )
        .fetch_optional(&mut conn)
        .await
        .unwrap();
        if let Some(row) = row {
            break row;
        }
        assert!(tokio::time::Instant::now() < deadline, "write not audited");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(row.get::<String, _>("actor"), "test-user");
    assert_eq!(row.get::<String, _>("outcome"), "201");
    assert_eq!(row.get::<String, _>("resource_type"), "echo");
    assert!(row.get::<String, _>("action").starts_with("POST "));
    assert!(!row.get::<String, _>("detail").contains("jane@example.com"), "no request body in the audit log");

    let system: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE category IN ('system', 'configuration')")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(system >= 2, "start-up and configuration are audited");

    sqlx::query(
        "INSERT INTO audit_log (occurred_at, category, actor, action, outcome) VALUES
         (now() - interval '91 days', 'system', 'system', 'old', 'success'),
         (now() - interval '89 days', 'system', 'system', 'recent', 'success')",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    // The retention worker's first pass may already have taken the old row (it starts with the service), so
    // the purge here removes one row or none; what must hold is the result.
    let purged = bss_common::audit::purge_older_than(&app.context.db, 90).await.unwrap();
    assert!(purged <= 1, "only the old record is purged ({purged})");
    let left: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log WHERE action IN ('old', 'recent')")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, vec!["recent".to_owned()]);
}

fn connection_header(response: &reqwest::Response) -> Option<&str> {
    response.headers().get(reqwest::header::CONNECTION).and_then(|v| v.to_str().ok())
}

pub async fn sigterm_drains_in_flight_requests_and_exits_cleanly(subject: Subject) {
    let database_url = crate::fresh_database().await;
    let postgres = TcpProxy::start(&host_port(&database_url)).await;
    let receiver = OtlpReceiver::start().await;
    let env: Vec<(String, String)> = crate::test_env(&via(&database_url, &postgres.address()))
        .into_pairs()
        .into_iter()
        .filter(|(k, _)| k != "PORT")
        .chain([
            ("PROBE_TIMEOUT_MS".to_owned(), "5000".to_owned()),
            ("DATABASE_ACQUIRE_TIMEOUT_MS".to_owned(), "5000".to_owned()),
            ("SHUTDOWN_TIMEOUT_SECS".to_owned(), "15".to_owned()),
            ("SHUTDOWN_DRAIN_SECS".to_owned(), "2".to_owned()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(), receiver.endpoint.clone()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL".to_owned(), "http/json".to_owned()),
            ("RUST_LOG".to_owned(), "info".to_owned()),
        ])
        .collect();
    let mut process = ServiceProcess::spawn(subject.binary, &env);
    process.wait_for_status("/ready", 200, Duration::from_secs(30)).await;
    let client = reqwest::Client::new();
    let before = client.get(process.url("/live")).send().await.unwrap();
    assert_ne!(connection_header(&before), Some("close"), "connections are kept alive while serving");

    // A request that takes ~5 s, longer than the drain: /health waits for a PostgreSQL that accepts
    // connections but never answers.
    postgres.stall();
    let trace_id = "0af7651916cd43dd8448eb211c80319c";
    let started = std::time::Instant::now();
    let in_flight = tokio::spawn({
        let request =
            client.get(process.url("/health")).header("traceparent", format!("00-{trace_id}-b7ad6b7169203331-01"));
        async move { request.send().await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let signalled = std::time::Instant::now();
    process.signal("TERM");

    // Readiness turns 503 at once, while the listener still drains.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ready = client.get(process.url("/ready")).send().await.expect("still accepting during the drain");
    assert_eq!(ready.status(), 503, "ready is 503 once shutdown began");
    // …and every response of the drain closes its connection, so keep-alive clients move to another replica.
    assert_eq!(connection_header(&ready), Some("close"), "{:?}", ready.headers());

    let finished = in_flight.await.unwrap().expect("the in-flight request completed");
    let took = started.elapsed();
    assert!(took > Duration::from_millis(2_500), "the request outlived the 2 s drain: {took:?}");
    assert_eq!(finished.status(), 200, "in-flight request answered");
    let report: Value = finished.json().await.unwrap();
    assert_eq!(report["checks"]["database"]["status"], "DOWN", "{report}");
    assert_eq!(report["shuttingDown"], true, "{report}");

    let status = tokio::task::spawn_blocking(move || {
        let status = process.wait_exit(Duration::from_secs(20));
        (status, process)
    })
    .await
    .unwrap();
    let (status, process) = status;
    let status = status.unwrap_or_else(|| panic!("did not exit; output:\n{}", process.output().join("\n")));
    let output = process.output().join("\n");
    assert!(status.success(), "exit status {status:?}\n{output}");
    let took = signalled.elapsed();
    assert!(took < Duration::from_secs(15), "stopped within SHUTDOWN_TIMEOUT_SECS, took {took:?}\n{output}");
    for expected in
        ["readiness is now 503", "worker=\"audit-writer\"", "background workers stopped", "shutdown complete"]
    {
        let found = output.lines().any(|l| {
            l.contains(expected) || (expected.starts_with("worker=") && l.contains("\"worker\":\"audit-writer\""))
        });
        assert!(found, "log mentions {expected:?}\n{output}");
    }
    let spans = receiver.wait_for(Duration::from_secs(5), |s| s.iter().any(|s| s.trace_id == trace_id)).await;
    assert!(spans.iter().any(|s| s.trace_id == trace_id), "the in-flight request's span was flushed before exit");
}

pub async fn a_bad_setting_stops_start_up_naming_the_variable(subject: Subject) {
    let database_url = crate::fresh_database().await;
    let base: Vec<(String, String)> = crate::test_env(&database_url).into_pairs();
    let every_service =
        [("DATABASE_MAX_CONNECTIONS", Some("abc")), ("JWT_SECRET", None), ("REDIS_URL", Some("not-a-url"))];
    // The peers the service requires (the order service's catalog and customer) must be set too.
    let required_peers = subject.spec.required_peers.iter().map(|variable| (*variable, None));
    for (variable, value) in every_service.into_iter().chain(required_peers) {
        let env: Vec<(String, String)> = base
            .iter()
            .filter(|(k, _)| k != variable && k != "PORT")
            .cloned()
            .chain(value.map(|v| (variable.to_owned(), v.to_owned())))
            .collect();
        let mut process = ServiceProcess::spawn(subject.binary, &env);
        let status = process.wait_exit(Duration::from_secs(10)).expect("exits at once");
        assert_eq!(status.code(), Some(2), "{variable}: exit code");
        let output = process.output().join("\n");
        assert!(output.contains(variable), "{variable} named in:\n{output}");
        if let Some(secret) = value {
            assert!(!output.contains(&format!("JWT_SECRET={secret}")));
        }
    }
}

/// `<service> migrate` applies the common and the service's migrations with only the database settings (no
/// JWT secret), is idempotent, and a service started with `RUN_MIGRATIONS=false` on that schema becomes
/// ready. An unreachable database ends it with exit 1 after `MIGRATE_TIMEOUT_SECS`; no database setting
/// with exit 2, naming the variable.
pub async fn the_migrate_subcommand_applies_migrations_once_for_a_service_that_skips_them(subject: Subject) {
    let database_url = crate::fresh_database().await;
    let database_only = vec![("DATABASE_URL".to_owned(), database_url.clone())];
    let migrations_applied = || async {
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&database_url).await.expect("connects");
        let mut counts = Vec::new();
        for table in ["_bss_common_migrations", "_sqlx_migrations"] {
            // The schema is the service's static name and the table a constant above; neither is input.
            let sql = format!("SELECT count(*) FROM \"{}\".{table} WHERE success", subject.spec.schema);
            let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(&mut conn).await.expect("counted");
            counts.push(count as usize);
        }
        counts
    };
    let expected = vec![bss_common::db::COMMON_MIGRATOR.iter().count(), subject.spec.migrator.iter().count()];
    for round in ["first", "second"] {
        let mut process = ServiceProcess::spawn_with_args(subject.binary, &["migrate"], &database_only);
        let status = process.wait_exit(Duration::from_secs(60)).expect("migrate exits");
        assert_eq!(status.code(), Some(0), "{round} migrate: {}", process.output().join("\n"));
        assert_eq!(migrations_applied().await, expected, "{round} migrate: applied migrations");
    }

    let app = TestApp::spawn_on_database(subject.spec, subject.routes, &database_url, |env| {
        env.set("RUN_MIGRATIONS", "false");
    })
    .await;
    let hub = format!("{}/hub", subject.spec.base_paths[0]);
    assert_eq!(app.get_authorized(&hub).await.status(), 200, "the migrated schema serves {hub}");
    app.stop().await.expect("stops");

    let unreachable = vec![
        ("DATABASE_URL".to_owned(), "postgres://bss:bss@127.0.0.1:9/bss".to_owned()),
        ("MIGRATE_TIMEOUT_SECS".to_owned(), "1".to_owned()),
    ];
    let mut process = ServiceProcess::spawn_with_args(subject.binary, &["migrate"], &unreachable);
    let status = process.wait_exit(Duration::from_secs(20)).expect("gives up after its timeout");
    assert_eq!(status.code(), Some(1), "unreachable database: {}", process.output().join("\n"));

    let mut process = ServiceProcess::spawn_with_args(subject.binary, &["migrate"], &[]);
    let status = process.wait_exit(Duration::from_secs(10)).expect("exits at once");
    assert_eq!(status.code(), Some(2));
    assert!(process.output().join("\n").contains("DATABASE_URL"), "names the variable");
}

/// Expands every check into a `#[tokio::test]` for one service.
#[macro_export]
macro_rules! runtime_conformance {
    ($spec:path, $routes:path, $binary:expr) => {
        mod runtime_conformance {
            use $crate::conformance as check;
            fn subject() -> check::Subject {
                check::Subject { spec: &$spec, routes: $routes, binary: $binary }
            }
            $crate::runtime_conformance!(@tests
                live_and_ready_answer_200_when_dependencies_are_up,
                health_reports_status_version_uptime_and_each_dependency,
                ready_is_503_while_postgres_is_unreachable_and_recovers,
                starts_without_postgres_and_becomes_ready_when_it_arrives,
                redis_outage_keeps_the_service_ready_and_degraded_until_it_recovers,
                metrics_count_requests_by_matched_route_with_help_text,
                every_bad_token_is_refused_with_a_tmf_error,
                rs256_and_es256_public_keys_verify_tokens,
                identity_provider_jwks_keys_verify_tokens_and_rotate,
                every_error_path_returns_the_tmf_error_body,
                an_incoming_trace_continues_through_the_service_and_its_outgoing_calls,
                writes_are_audited_and_old_records_purged,
                sigterm_drains_in_flight_requests_and_exits_cleanly,
                a_bad_setting_stops_start_up_naming_the_variable,
                the_migrate_subcommand_applies_migrations_once_for_a_service_that_skips_them,
                a_registered_listener_and_the_stream_receive_each_committed_event_with_its_full_payload,
                hub_registrations_are_created_listed_fetched_and_deleted_and_bad_ones_get_tmf_errors,
                private_callbacks_are_refused_unless_the_setting_allows_them,
                a_listener_that_is_down_gets_its_events_in_order_when_it_comes_back,
                a_listener_that_keeps_failing_is_given_up_without_delaying_other_listeners,
                a_listener_gets_only_the_events_its_query_matches,
                events_wait_in_the_outbox_while_redis_is_cut_and_are_published_in_order_after,
                a_crash_between_commit_and_publish_loses_no_event,
                the_published_hook_runs_once_per_event_after_it_is_published,
                two_replicas_publish_and_deliver_each_event_once_in_order
            );
        }
    };
    (@tests $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                check::$name(subject()).await
            }
        )*
    };
}

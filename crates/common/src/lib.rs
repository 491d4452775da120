//! `bss-common`: the runtime every BSS service shares.
//!
//! One implementation of each cross-cutting concern (DESIGN.md §4), so the four services cannot drift apart:
//! configuration ([`config`]), logs and traces ([`telemetry`]), metrics ([`metrics`]), probes ([`probes`]),
//! graceful shutdown ([`lifecycle`]), JWT authentication ([`auth`]), the audit log ([`audit`]), the TMF error
//! body ([`error`]), PostgreSQL ([`db`]), Redis ([`kv`]), the outgoing HTTP client ([`http_client`]) and the
//! application assembly that ties them together ([`server`]). A service's `main` is [`run_service`].

pub mod api_docs;
pub mod audit;
pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod http_client;
pub mod kv;
pub mod lifecycle;
pub mod metrics;
pub mod probes;
pub mod request_span;
pub mod server;
pub mod telemetry;

pub use error::{ApiError, ApiResult};
pub use server::{Application, ServiceContext, ServiceSpec};

use actix_web::web;

/// The whole life of a service process: `healthcheck` subcommand, or telemetry → settings → serve until
/// SIGTERM → flush. A bad setting ends the process with exit code 2 and a message naming the variable.
pub async fn run_service<F>(spec: &'static ServiceSpec, routes: F) -> anyhow::Result<()>
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    match std::env::args().nth(1).as_deref() {
        Some("healthcheck") => std::process::exit(healthcheck()),
        Some("migrate") => std::process::exit(migrate_and_exit(spec).await),
        Some("openapi") => {
            // The document needs no settings, database or network: `make sdk` generates clients from it.
            use std::io::Write as _;
            // A closed pipe (`| head`) ends the output quietly.
            let _ = writeln!(std::io::stdout(), "{:#}", (spec.api_document)());
            return Ok(());
        }
        _ => {}
    }
    let telemetry = telemetry::init(spec.name);
    let settings = config::Settings::from_env(&config::Env::from_process())
        .and_then(|settings| spec.check_settings(&settings).map(|()| settings));
    let settings = match settings {
        Ok(settings) => settings,
        Err(e) => {
            tracing::error!(variable = %e.variable, "{e}");
            eprintln!("{}: {e}", spec.name);
            telemetry.shutdown();
            std::process::exit(2);
        }
    };
    tracing::info!(settings = ?settings, "configuration loaded");
    let application = Application::build(spec, settings, routes).await?;
    let outcome = application.run_until_stopped(lifecycle::shutdown_signal()).await;
    if let Err(e) = &outcome {
        tracing::error!(error = format!("{e:#}"), "service failed");
    }
    telemetry.shutdown();
    outcome
}

/// `<service> migrate`: applies the common and the service's migrations (under sqlx's advisory lock) and exits
/// 0, for operators who run migrations as a job before an upgrade and start the service with
/// `RUN_MIGRATIONS=false`. Reads only the database settings; waits up to `MIGRATE_TIMEOUT_SECS` (default 300)
/// for the database to answer; exit 1 when migrations fail or time out, 2 on a bad setting.
async fn migrate_and_exit(spec: &'static ServiceSpec) -> i32 {
    let telemetry = telemetry::init(spec.name);
    let env = config::Env::from_process();
    let settings = config::database_settings(&env).and_then(|database| {
        let timeout = env.parse_or("MIGRATE_TIMEOUT_SECS", 300u64)?;
        Ok((database, std::time::Duration::from_secs(timeout)))
    });
    let code = match settings {
        Err(e) => {
            eprintln!("{}: {e}", spec.name);
            2
        }
        Ok((database, timeout)) => match db::connect(&database, spec.schema) {
            Err(e) => {
                eprintln!("{}: {e:#}", spec.name);
                2
            }
            Ok(pool) => {
                let stop = tokio_util::sync::CancellationToken::new();
                let deadline = stop.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(timeout).await;
                    deadline.cancel();
                });
                if db::migrate_until_done(&pool, spec.schema, spec.migrator, &stop).await {
                    0
                } else {
                    tracing::error!(timeout_secs = timeout.as_secs(), "migrations did not complete in time");
                    eprintln!("{}: migrations did not complete within {}s", spec.name, timeout.as_secs());
                    1
                }
            }
        },
    };
    telemetry.shutdown();
    code
}

/// `<service> healthcheck`: exit 0 when `/live` on `PORT` answers 200. For container HEALTHCHECKs in images
/// that have no shell or curl.
fn healthcheck() -> i32 {
    use std::io::{Read, Write};
    let port = std::env::var("PORT").ok().and_then(|p| p.parse::<u16>().ok()).unwrap_or(8080);
    let address = std::env::var("BIND_ADDRESS")
        .ok()
        .and_then(|a| a.parse::<std::net::IpAddr>().ok())
        .filter(|a| !a.is_unspecified())
        .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]));
    let attempt = || -> std::io::Result<bool> {
        let timeout = std::time::Duration::from_secs(2);
        let mut stream = std::net::TcpStream::connect_timeout(&(address, port).into(), timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.write_all(b"GET /live HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head)?;
        Ok(head.starts_with(b"HTTP/1.1 200"))
    };
    match attempt() {
        Ok(true) => 0,
        _ => 1,
    }
}

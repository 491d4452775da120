//! PostgreSQL: one pool per service, confined to the service's own schema, with embedded migrations.
//!
//! Each service owns a schema named after it (DESIGN.md §2) and its connections set `search_path` to that
//! schema only, so a query cannot reach another service's tables by accident. Two migration sets run there:
//! the common tables of `bss-common` (`migrations/common`, tracked in `_bss_common_migrations`) and the
//! service's own (`migrations/<service>`, tracked in `_sqlx_migrations`). sqlx takes an advisory lock while
//! migrating, so replicas starting together do not race.
//!
//! The pool connects lazily: a service whose database is down at start still starts, reports not-ready, and
//! applies migrations as soon as the database answers (see [`migrate_until_done`]).

use anyhow::Context as _;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};
use std::str::FromStr;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use crate::config::DatabaseSettings;

/// The migrations of the tables every service has (audit log, and later outbox and listeners).
pub static COMMON_MIGRATOR: Migrator = sqlx::migrate!("../../migrations/common");

const COMMON_MIGRATIONS_TABLE: &str = "_bss_common_migrations";

/// Opens a lazy pool whose connections see only `schema`.
pub fn connect(settings: &DatabaseSettings, schema: &'static str) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(&settings.url)
        .context("DATABASE_URL is not a valid PostgreSQL URL")?
        .application_name(schema)
        .options([("search_path", schema)]);
    Ok(PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .min_connections(0)
        .acquire_timeout(settings.acquire_timeout)
        .idle_timeout(Some(Duration::from_secs(300)))
        .test_before_acquire(true)
        .connect_lazy_with(options))
}

/// Applies the common and the service migrations inside `schema`, creating it first if needed.
pub async fn migrate(pool: &PgPool, schema: &'static str, service_migrator: &'static Migrator) -> anyhow::Result<()> {
    let mut common = Migrator::with_migrations(COMMON_MIGRATOR.iter().cloned().collect());
    common.create_schema(schema);
    common.dangerous_set_table_name(COMMON_MIGRATIONS_TABLE);
    common.run(pool).await.context("common migrations failed")?;

    let mut own = Migrator::with_migrations(service_migrator.iter().cloned().collect());
    own.create_schema(schema);
    own.run(pool).await.context("service migrations failed")?;
    Ok(())
}

/// Retries [`migrate`] with backoff until it succeeds or `stop` fires. Returns whether migrations are done.
pub async fn migrate_until_done(
    pool: &PgPool,
    schema: &'static str,
    service_migrator: &'static Migrator,
    stop: &CancellationToken,
) -> bool {
    let mut delay = Duration::from_millis(200);
    loop {
        match migrate(pool, schema, service_migrator).await {
            Ok(()) => {
                tracing::info!(schema, "database migrations applied");
                return true;
            }
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    retry_in_ms = delay.as_millis() as u64,
                    "database not ready for migrations"
                );
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.cancelled() => return false,
        }
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

/// Runs `SELECT 1` within `timeout`; the readiness and health probes use it.
pub async fn ping(pool: &PgPool, timeout: Duration) -> anyhow::Result<()> {
    tokio::time::timeout(timeout, sqlx::query_scalar::<Postgres, i32>("SELECT 1").fetch_one(pool))
        .await
        .context("database did not answer in time")?
        .context("database query failed")?;
    Ok(())
}

//! Redis connection pool, with every wait bounded.
//!
//! Redis carries streams, caches, idempotency keys and rate limits, never the only copy of anything. So an
//! outage must cost time-bounded failures that callers degrade around, not hung requests: the pool's wait,
//! create and recycle timeouts are all set from `REDIS_TIMEOUT_MS`, and a broken connection is replaced on the
//! next checkout, which is how the service recovers on its own when Redis returns.
//!
//! A failed checkout also opens a short breaker ([`BREAKER_OPEN`]): for that time callers get an error at once
//! instead of each waiting out the timeout, so a Redis outage costs a cache miss, not half a second per request.
//! The health check bypasses the breaker, so recovery is seen as soon as Redis answers.

use crate::config::RedisSettings;
use anyhow::Context as _;
use deadpool_redis::{Config, Pool, PoolConfig, Runtime, Timeouts};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long callers skip Redis after a failed checkout.
pub const BREAKER_OPEN: Duration = Duration::from_secs(2);

pub use deadpool_redis::redis;

/// A Redis pool plus the key prefix of this deployment.
#[derive(Clone)]
pub struct RedisPool {
    pool: Pool,
    prefix: String,
    timeout: std::time::Duration,
    /// Milliseconds since the epoch until which the breaker is open (0: closed).
    open_until_ms: Arc<AtomicU64>,
}

impl std::fmt::Debug for RedisPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPool").field("prefix", &self.prefix).finish()
    }
}

impl RedisPool {
    /// Builds the pool; no connection is made until first use.
    pub fn new(settings: &RedisSettings) -> anyhow::Result<Self> {
        let mut config = Config::from_url(settings.url.clone());
        let mut pool_config = PoolConfig::new(settings.pool_size);
        pool_config.timeouts =
            Timeouts { wait: Some(settings.timeout), create: Some(settings.timeout), recycle: Some(settings.timeout) };
        config.pool = Some(pool_config);
        let pool = config.create_pool(Some(Runtime::Tokio1)).context("REDIS_URL cannot be used")?;
        Ok(Self {
            pool,
            prefix: settings.key_prefix.clone(),
            timeout: settings.timeout,
            open_until_ms: Arc::new(AtomicU64::new(0)),
        })
    }

    /// A connection, or an error within the configured timeout — at once while the breaker is open.
    pub async fn get(&self) -> anyhow::Result<deadpool_redis::Connection> {
        anyhow::ensure!(now_ms() >= self.open_until_ms.load(Ordering::Relaxed), "Redis skipped (recent failure)");
        self.checkout().await
    }

    /// Runs one command with the pool's timeout. A lost connection or a timeout opens the breaker; a command
    /// error (wrong type, bad argument) does not, since Redis itself answered.
    pub async fn query<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> anyhow::Result<T> {
        let mut conn = self.get().await?;
        match tokio::time::timeout(self.timeout, command.query_async::<T>(&mut conn)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() || e.is_connection_refusal() {
                    self.report_failure();
                }
                Err(e).context("Redis command failed")
            }
            Err(_) => {
                self.report_failure();
                anyhow::bail!("Redis command timed out")
            }
        }
    }

    /// Reports a failed command so the breaker opens (a checkout failure opens it by itself).
    pub fn report_failure(&self) {
        self.open_until_ms.store(now_ms() + BREAKER_OPEN.as_millis() as u64, Ordering::Relaxed);
    }

    async fn checkout(&self) -> anyhow::Result<deadpool_redis::Connection> {
        match self.pool.get().await {
            Ok(conn) => {
                self.open_until_ms.store(0, Ordering::Relaxed);
                Ok(conn)
            }
            Err(e) => {
                self.report_failure();
                Err(e).context("no Redis connection")
            }
        }
    }

    /// `prefix:part`, the name of a key or stream owned by this deployment.
    pub fn key(&self, part: &str) -> String {
        format!("{}:{}", self.prefix, part)
    }

    /// The per-command timeout (commands are wrapped in it, since a half-open socket can stall forever).
    pub fn timeout(&self) -> std::time::Duration {
        self.timeout
    }

    /// Sends `PING` and waits at most the configured timeout.
    pub async fn ping(&self) -> anyhow::Result<()> {
        let work = async {
            let mut conn = self.checkout().await?;
            let pong: String = redis::cmd("PING").query_async(&mut conn).await.context("PING failed")?;
            anyhow::ensure!(pong == "PONG", "unexpected PING answer");
            Ok(())
        };
        tokio::time::timeout(self.timeout, work).await.context("Redis did not answer in time")?
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

//! Redis connection pool, with every wait bounded.
//!
//! Redis carries streams, caches, idempotency keys and rate limits, never the only copy of anything. So an
//! outage must cost time-bounded failures that callers degrade around, not hung requests: the pool's wait,
//! create and recycle timeouts are all set from `REDIS_TIMEOUT_MS`, and a broken connection is replaced on the
//! next checkout, which is how the service recovers on its own when Redis returns.

use crate::config::RedisSettings;
use anyhow::Context as _;
use deadpool_redis::{Config, Pool, PoolConfig, Runtime, Timeouts};

pub use deadpool_redis::redis;

/// A Redis pool plus the key prefix of this deployment.
#[derive(Clone)]
pub struct RedisPool {
    pool: Pool,
    prefix: String,
    timeout: std::time::Duration,
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
        Ok(Self { pool, prefix: settings.key_prefix.clone(), timeout: settings.timeout })
    }

    /// A connection, or an error within the configured timeout.
    pub async fn get(&self) -> anyhow::Result<deadpool_redis::Connection> {
        self.pool.get().await.context("no Redis connection")
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
            let mut conn = self.get().await?;
            let pong: String = redis::cmd("PING").query_async(&mut conn).await.context("PING failed")?;
            anyhow::ensure!(pong == "PONG", "unexpected PING answer");
            Ok(())
        };
        tokio::time::timeout(self.timeout, work).await.context("Redis did not answer in time")?
    }
}

//! Typed settings read once from environment variables at start-up.
//!
//! Every service reads the same variables (DESIGN.md §4), so the parsing lives here. A bad or missing value
//! is a [`ConfigError`] that names the variable: the process stops before it binds a port, which is what an
//! operator wants from a typo in a Helm value. Secrets have no default: the local stack generates its own JWT
//! secret and passes it in like any other deployment would.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A setting that could not be used, naming the environment variable it came from.
#[derive(Debug, thiserror::Error)]
#[error("configuration error in {variable}: {problem}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: String,
    /// What is wrong with it, without echoing secret values.
    pub problem: String,
}

impl ConfigError {
    /// An error naming `variable`; services use it for the checks of their own settings
    /// ([`crate::ServiceSpec::validate_settings`]).
    pub fn new(variable: &str, problem: impl Into<String>) -> Self {
        Self { variable: variable.to_owned(), problem: problem.into() }
    }
}

/// A source of variables: the process environment in production, a map in tests.
#[derive(Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values can be secrets; only the names are printable.
        f.debug_struct("Env").field("names", &self.vars.keys().collect::<Vec<_>>()).finish()
    }
}

impl Env {
    /// Snapshot of the process environment.
    pub fn from_process() -> Self {
        Self { vars: std::env::vars().collect() }
    }

    /// An environment made of the given pairs only (tests).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        Self { vars: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect() }
    }

    /// Sets or replaces one variable.
    pub fn set(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        self.vars.insert(name.to_owned(), value.into());
        self
    }

    /// Removes one variable.
    pub fn remove(&mut self, name: &str) -> &mut Self {
        self.vars.remove(name);
        self
    }

    /// Every variable as a `(name, value)` pair (to hand to a child process).
    pub fn into_pairs(self) -> Vec<(String, String)> {
        self.vars.into_iter().collect()
    }

    /// The raw value; an empty string counts as unset, as it does in Kubernetes manifests.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str).filter(|v| !v.trim().is_empty())
    }

    fn required(&self, name: &str) -> Result<&str, ConfigError> {
        self.get(name).ok_or_else(|| ConfigError::new(name, "is required but not set"))
    }

    pub(crate) fn parse_or<T: FromStr>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => raw.trim().parse().map_err(|e| ConfigError::new(name, format!("cannot parse {raw:?}: {e}"))),
        }
    }

    fn bool_or(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if matches!(v.as_str(), "1" | "true" | "yes" | "on") => Ok(true),
            Some(v) if matches!(v.as_str(), "0" | "false" | "no" | "off") => Ok(false),
            Some(v) => Err(ConfigError::new(name, format!("expected true or false, got {v:?}"))),
        }
    }

    fn bounded<T: PartialOrd + fmt::Display + Copy>(name: &str, value: T, min: T, max: T) -> Result<T, ConfigError> {
        if value < min || value > max {
            return Err(ConfigError::new(name, format!("{value} is outside {min}..={max}")));
        }
        Ok(value)
    }
}

/// How requests are authenticated: the key that verifies bearer tokens and the claims they must carry.
#[derive(Clone)]
pub struct AuthSettings {
    pub key: JwtKey,
    pub issuer: String,
    pub audience: String,
    pub leeway: Duration,
}

impl fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthSettings")
            .field("algorithm", &self.key.algorithm_name())
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway", &self.leeway)
            .finish()
    }
}

/// Verification key material. Shared secrets and public keys never appear in `Debug` output.
#[derive(Clone)]
pub enum JwtKey {
    /// HS256 with the shared `JWT_SECRET`.
    Hs256Secret(Vec<u8>),
    /// RS256 with a PEM public key from an external identity provider.
    Rs256PublicPem(Vec<u8>),
    /// ES256 with a PEM public key from an external identity provider.
    Es256PublicPem(Vec<u8>),
    /// RS256/ES256 keys published by an identity provider as a JWKS document, chosen by the token's `kid`.
    Jwks { url: String, cache: Duration },
}

impl JwtKey {
    pub fn algorithm_name(&self) -> &'static str {
        match self {
            JwtKey::Hs256Secret(_) => "HS256",
            JwtKey::Rs256PublicPem(_) => "RS256",
            JwtKey::Es256PublicPem(_) => "ES256",
            JwtKey::Jwks { .. } => "JWKS",
        }
    }
}

/// Where the service's database lives and how many connections it may hold.
#[derive(Clone)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    pub run_migrations: bool,
}

impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field("run_migrations", &self.run_migrations)
            .finish()
    }
}

/// The Redis server behind streams, caches, idempotency keys and rate limits.
#[derive(Clone)]
pub struct RedisSettings {
    pub url: String,
    pub pool_size: usize,
    pub timeout: Duration,
    /// Prefix of every key and stream this deployment writes, so several deployments (or tests) can share one
    /// Redis without seeing each other's data.
    pub key_prefix: String,
}

impl fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &redact_url(&self.url))
            .field("pool_size", &self.pool_size)
            .field("key_prefix", &self.key_prefix)
            .finish()
    }
}

/// All settings of one service process.
#[derive(Clone, Debug)]
pub struct Settings {
    pub bind_address: std::net::IpAddr,
    pub port: u16,
    pub http_workers: usize,
    pub max_body_bytes: usize,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub auth: AuthSettings,
    pub audit_retention_days: u32,
    /// How long `/ready` and `/health` wait for each dependency before calling it down.
    pub probe_timeout: Duration,
    /// Total time allowed for a graceful stop, drain included.
    pub shutdown_timeout: Duration,
    /// Time between readiness turning 503 and the listener closing, so load balancers can stop routing here.
    pub shutdown_drain: Duration,
    pub http_client: HttpClientSettings,
    /// Peer service base URLs (`CATALOG_URL`, `CUSTOMER_URL`, `BILLING_URL`, `ORDER_URL`) that were set.
    pub peers: HashMap<String, String>,
    /// Whether `/hub` accepts callbacks on loopback, private, link-local or unique-local addresses
    /// (`HUB_ALLOW_PRIVATE_CALLBACKS`). Off by default: a listener URL is a server-side request the caller
    /// chooses, so it must not reach the cluster's internal network (SSRF). The local stack and tests turn it on.
    pub hub_allow_private_callbacks: bool,
    /// Delivery attempts to a `/hub` listener before an event is given up for it (`HUB_DELIVERY_MAX_ATTEMPTS`).
    pub hub_delivery_max_attempts: u32,
    /// Who moves product orders forward (`FULFILMENT_MODE`, read by the order service only): `external` (the
    /// default) leaves it to a fulfilment system that PATCHes states; `auto` has the service complete valid
    /// orders on its own (the local stack, where there is no OSS).
    pub fulfilment_mode: FulfilmentMode,
    /// The billing service's consumer of the order events stream (read by billing only; docs/adr/0015).
    pub order_consumer: OrderConsumerSettings,
    /// The terms of the default billing accounts billing creates for orders that name none (read by billing
    /// only; docs/adr/0015).
    pub default_account: DefaultAccountSettings,
    /// The billing service's bill runs (read by billing only; docs/adr/0016).
    pub bill_runs: BillRunSettings,
}

/// How billing runs bills (`BILLING_RUN_*`, read by the billing service only).
#[derive(Clone, Debug)]
pub struct BillRunSettings {
    /// How often the scheduler looks for accounts whose bill date has come (`BILLING_RUN_INTERVAL_SECS`,
    /// 1..=86,400, default 60). Runs are idempotent per account and period, so every replica may look.
    pub interval: Duration,
    /// Accounts billed at once by one scheduler pass or one `billRun` request (`BILLING_RUN_CONCURRENCY`,
    /// 1..=64, default 4); keep it below `DATABASE_MAX_CONNECTIONS`.
    pub concurrency: usize,
    /// Whether the scheduler runs at all (`BILLING_RUN_SCHEDULER`, default true); off, bills come only from
    /// `billRun` requests and customerBillOnDemand.
    pub scheduler: bool,
}

/// The terms of a customer's default billing account, which billing creates the first time an order of that
/// customer names no billing account (`BILLING_DEFAULT_*`, read by the billing service only). The other terms
/// are fixed (name "Default account", bill cycle day 1, payment terms 30 days; docs/adr/0015).
///
/// The values are checked for shape here; billing parses them into its own types (ISO 4217 currency, IANA
/// zone, tax rate) at start-up through its `validate_settings`, so a value it cannot bill with stops the
/// process naming the variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefaultAccountSettings {
    /// Currency of a default account created for an item without prices (`BILLING_DEFAULT_CURRENCY`, three
    /// upper-case letters, `EUR`). An item with prices gets a default account in its prices' currency.
    pub currency: String,
    /// IANA time zone of default accounts (`BILLING_DEFAULT_TIME_ZONE`, at most 64 characters, `UTC`).
    pub time_zone: String,
    /// Tax rate of default accounts, a decimal fraction 0..=1 with at most four decimals
    /// (`BILLING_DEFAULT_TAX_RATE`, `0`).
    pub tax_rate: String,
}

/// The default account variables, bounded in length and shape (billing checks their meaning).
fn default_account_settings(env: &Env) -> Result<DefaultAccountSettings, ConfigError> {
    let text = |name: &str, default: &str, max_len: usize| -> Result<String, ConfigError> {
        let value = env.get(name).map(str::trim).unwrap_or(default);
        if value.len() > max_len || value.chars().any(char::is_whitespace) {
            return Err(ConfigError::new(name, format!("expected at most {max_len} characters without spaces")));
        }
        Ok(value.to_owned())
    };
    let currency = text("BILLING_DEFAULT_CURRENCY", "EUR", 3)?;
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ConfigError::new(
            "BILLING_DEFAULT_CURRENCY",
            format!("{currency:?} is not an ISO 4217 code (three upper-case letters)"),
        ));
    }
    Ok(DefaultAccountSettings {
        currency,
        time_zone: text("BILLING_DEFAULT_TIME_ZONE", "UTC", 64)?,
        tax_rate: text("BILLING_DEFAULT_TAX_RATE", "0", 16)?,
    })
}

/// How billing consumes the order service's event stream (`BILLING_*`, read by the billing service only).
#[derive(Clone, Debug)]
pub struct OrderConsumerSettings {
    /// The consumer's name in the `billing` group (`BILLING_CONSUMER_NAME`; default `HOSTNAME`, else a random
    /// `billing-<uuid>`). A name that survives restarts (a StatefulSet pod name) lets a restarted process
    /// re-read its own pending entries at once; otherwise they are claimed after `claim_idle`.
    pub name: String,
    /// Deliveries of one entry before it goes to the dead-letter stream (`BILLING_MAX_DELIVERIES`, 1..=100, 5).
    pub max_deliveries: u32,
    /// How long an entry stays pending before any consumer claims it (`BILLING_CLAIM_IDLE_MS`, 10..=3,600,000,
    /// 60,000): also the pause before a failed entry is tried again.
    pub claim_idle: Duration,
}

/// `FULFILMENT_MODE`: who progresses product orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FulfilmentMode {
    /// A fulfilment system PATCHes order and item states.
    #[default]
    External,
    /// The order service moves each acknowledged order to completed itself.
    Auto,
}

impl FromStr for FulfilmentMode {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.to_ascii_lowercase().as_str() {
            "external" => Ok(Self::External),
            "auto" => Ok(Self::Auto),
            _ => Err("expected auto or external".into()),
        }
    }
}

/// Outgoing HTTP behaviour shared by every service-to-service call.
#[derive(Clone, Debug)]
pub struct HttpClientSettings {
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Retries after the first attempt, for idempotent requests only.
    pub retries: u32,
}

/// Peer URL variables a service may read.
pub const PEER_VARIABLES: [&str; 4] = ["CATALOG_URL", "CUSTOMER_URL", "ORDER_URL", "BILLING_URL"];

impl Settings {
    /// Reads every setting, failing on the first one that is missing or malformed.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let port = env.parse_or("PORT", 8080u16)?;
        let default_workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let http_workers = Env::bounded("HTTP_WORKERS", env.parse_or("HTTP_WORKERS", default_workers)?, 1, 256)?;
        let max_body_bytes =
            Env::bounded("MAX_BODY_BYTES", env.parse_or("MAX_BODY_BYTES", 1_048_576usize)?, 1_024, 64 * 1_048_576)?;

        let shutdown_timeout_secs =
            Env::bounded("SHUTDOWN_TIMEOUT_SECS", env.parse_or("SHUTDOWN_TIMEOUT_SECS", 30u64)?, 1, 3_600)?;
        let shutdown_drain_secs = env.parse_or("SHUTDOWN_DRAIN_SECS", 5u64.min(shutdown_timeout_secs / 2))?;
        if shutdown_drain_secs >= shutdown_timeout_secs {
            return Err(ConfigError::new(
                "SHUTDOWN_DRAIN_SECS",
                format!("must be shorter than SHUTDOWN_TIMEOUT_SECS ({shutdown_timeout_secs})"),
            ));
        }

        Ok(Self {
            bind_address: env.parse_or("BIND_ADDRESS", std::net::IpAddr::from([0, 0, 0, 0]))?,
            port,
            http_workers,
            max_body_bytes,
            database: database_settings(env)?,
            redis: RedisSettings {
                url: parse_url(env, "REDIS_URL", &["redis", "rediss"])?,
                pool_size: Env::bounded("REDIS_POOL_SIZE", env.parse_or("REDIS_POOL_SIZE", 16usize)?, 1, 1_024)?,
                timeout: Duration::from_millis(Env::bounded(
                    "REDIS_TIMEOUT_MS",
                    env.parse_or("REDIS_TIMEOUT_MS", 500u64)?,
                    10,
                    60_000,
                )?),
                key_prefix: env.get("REDIS_KEY_PREFIX").unwrap_or("bss").to_owned(),
            },
            auth: auth_settings(env)?,
            audit_retention_days: Env::bounded(
                "AUDIT_RETENTION_DAYS",
                env.parse_or("AUDIT_RETENTION_DAYS", 90u32)?,
                1,
                36_500,
            )?,
            probe_timeout: Duration::from_millis(Env::bounded(
                "PROBE_TIMEOUT_MS",
                env.parse_or("PROBE_TIMEOUT_MS", 1_000u64)?,
                50,
                60_000,
            )?),
            shutdown_timeout: Duration::from_secs(shutdown_timeout_secs),
            shutdown_drain: Duration::from_secs(shutdown_drain_secs),
            http_client: HttpClientSettings {
                timeout: Duration::from_millis(Env::bounded(
                    "HTTP_CLIENT_TIMEOUT_MS",
                    env.parse_or("HTTP_CLIENT_TIMEOUT_MS", 5_000u64)?,
                    10,
                    300_000,
                )?),
                connect_timeout: Duration::from_millis(Env::bounded(
                    "HTTP_CLIENT_CONNECT_TIMEOUT_MS",
                    env.parse_or("HTTP_CLIENT_CONNECT_TIMEOUT_MS", 1_000u64)?,
                    10,
                    60_000,
                )?),
                retries: Env::bounded("HTTP_CLIENT_RETRIES", env.parse_or("HTTP_CLIENT_RETRIES", 2u32)?, 0, 10)?,
            },
            peers: PEER_VARIABLES
                .iter()
                .filter(|name| env.get(name).is_some())
                .map(|name| Ok((name.to_string(), parse_url(env, name, &["http", "https"])?)))
                .collect::<Result<_, ConfigError>>()?,
            hub_allow_private_callbacks: env.bool_or("HUB_ALLOW_PRIVATE_CALLBACKS", false)?,
            hub_delivery_max_attempts: Env::bounded(
                "HUB_DELIVERY_MAX_ATTEMPTS",
                env.parse_or("HUB_DELIVERY_MAX_ATTEMPTS", 12u32)?,
                1,
                100,
            )?,
            fulfilment_mode: env.parse_or("FULFILMENT_MODE", FulfilmentMode::External)?,
            bill_runs: BillRunSettings {
                interval: Duration::from_secs(Env::bounded(
                    "BILLING_RUN_INTERVAL_SECS",
                    env.parse_or("BILLING_RUN_INTERVAL_SECS", 60u64)?,
                    1,
                    86_400,
                )?),
                concurrency: Env::bounded(
                    "BILLING_RUN_CONCURRENCY",
                    env.parse_or("BILLING_RUN_CONCURRENCY", 4usize)?,
                    1,
                    64,
                )?,
                scheduler: env.bool_or("BILLING_RUN_SCHEDULER", true)?,
            },
            order_consumer: OrderConsumerSettings {
                name: env
                    .get("BILLING_CONSUMER_NAME")
                    .or_else(|| env.get("HOSTNAME"))
                    .map(|n| n.trim().to_owned())
                    .unwrap_or_else(|| format!("billing-{}", uuid::Uuid::new_v4().simple())),
                max_deliveries: Env::bounded(
                    "BILLING_MAX_DELIVERIES",
                    env.parse_or("BILLING_MAX_DELIVERIES", 5u32)?,
                    1,
                    100,
                )?,
                claim_idle: Duration::from_millis(Env::bounded(
                    "BILLING_CLAIM_IDLE_MS",
                    env.parse_or("BILLING_CLAIM_IDLE_MS", 60_000u64)?,
                    10,
                    3_600_000,
                )?),
            },
            default_account: default_account_settings(env)?,
        })
    }

    /// The base URL of a peer service, or an error naming the variable that must be set.
    pub fn peer(&self, variable: &str) -> Result<&str, ConfigError> {
        self.peers
            .get(variable)
            .map(String::as_str)
            .ok_or_else(|| ConfigError::new(variable, "is required by this service but not set"))
    }
}

/// The database settings alone: what the `migrate` subcommand needs, without the secrets of the HTTP side.
pub fn database_settings(env: &Env) -> Result<DatabaseSettings, ConfigError> {
    let url = match env.get("DATABASE_URL") {
        Some(_) => parse_url(env, "DATABASE_URL", &["postgres", "postgresql"])?,
        None => {
            // The split form lets the password come from its own Secret key.
            let host = env.get("DATABASE_HOST").ok_or_else(|| {
                ConfigError::new("DATABASE_URL", "is required (or DATABASE_HOST with DATABASE_NAME, _USER, _PASSWORD)")
            })?;
            let port = env.parse_or("DATABASE_PORT", 5432u16)?;
            let name = env.required("DATABASE_NAME")?;
            let user = env.required("DATABASE_USER")?;
            let password = env.required("DATABASE_PASSWORD")?;
            format!(
                "postgres://{}:{}@{}:{}/{}",
                percent_encode(user),
                percent_encode(password),
                host,
                port,
                percent_encode(name)
            )
        }
    };
    Ok(DatabaseSettings {
        url,
        max_connections: Env::bounded(
            "DATABASE_MAX_CONNECTIONS",
            env.parse_or("DATABASE_MAX_CONNECTIONS", 20u32)?,
            1,
            10_000,
        )?,
        acquire_timeout: Duration::from_millis(Env::bounded(
            "DATABASE_ACQUIRE_TIMEOUT_MS",
            env.parse_or("DATABASE_ACQUIRE_TIMEOUT_MS", 3_000u64)?,
            10,
            600_000,
        )?),
        run_migrations: env.bool_or("RUN_MIGRATIONS", true)?,
    })
}

fn auth_settings(env: &Env) -> Result<AuthSettings, ConfigError> {
    Ok(AuthSettings {
        key: jwt_key(env)?,
        issuer: env.get("JWT_ISSUER").unwrap_or("bss-oss").to_owned(),
        audience: env.get("JWT_AUDIENCE").unwrap_or("bss-oss").to_owned(),
        leeway: Duration::from_secs(Env::bounded("JWT_LEEWAY_SECS", env.parse_or("JWT_LEEWAY_SECS", 30u64)?, 0, 600)?),
    })
}

/// Exactly one key source: a shared secret, a public key, or an identity provider's JWKS.
fn jwt_key(env: &Env) -> Result<JwtKey, ConfigError> {
    let public_pem = match (env.get("JWT_PUBLIC_KEY"), env.get("JWT_PUBLIC_KEY_FILE")) {
        (Some(pem), _) => Some(pem.replace("\\n", "\n").into_bytes()),
        (None, Some(path)) => Some(
            std::fs::read(path)
                .map_err(|e| ConfigError::new("JWT_PUBLIC_KEY_FILE", format!("cannot read {path}: {e}")))?,
        ),
        (None, None) => None,
    };
    match (env.get("JWT_SECRET"), public_pem, env.get("JWT_JWKS_URL")) {
        (Some(secret), None, None) => {
            if secret.len() < 32 {
                return Err(ConfigError::new("JWT_SECRET", "must be at least 32 characters"));
            }
            Ok(JwtKey::Hs256Secret(secret.as_bytes().to_vec()))
        }
        (None, Some(pem), None) => match env.get("JWT_ALGORITHM").unwrap_or("RS256") {
            "RS256" => Ok(JwtKey::Rs256PublicPem(pem)),
            "ES256" => Ok(JwtKey::Es256PublicPem(pem)),
            other => Err(ConfigError::new("JWT_ALGORITHM", format!("{other:?} is not RS256 or ES256"))),
        },
        (None, None, Some(_)) => Ok(JwtKey::Jwks {
            url: parse_url(env, "JWT_JWKS_URL", &["http", "https"])?,
            cache: Duration::from_secs(Env::bounded(
                "JWT_JWKS_CACHE_SECS",
                env.parse_or("JWT_JWKS_CACHE_SECS", 600u64)?,
                1,
                86_400,
            )?),
        }),
        (None, None, None) => Err(ConfigError::new(
            "JWT_SECRET",
            "is required (or JWT_PUBLIC_KEY / JWT_PUBLIC_KEY_FILE / JWT_JWKS_URL for an identity provider); there is no default",
        )),
        _ => Err(ConfigError::new(
            "JWT_SECRET",
            "set exactly one of JWT_SECRET, JWT_PUBLIC_KEY (or JWT_PUBLIC_KEY_FILE) and JWT_JWKS_URL",
        )),
    }
}

fn parse_url(env: &Env, name: &str, schemes: &[&str]) -> Result<String, ConfigError> {
    let raw = env.required(name)?.trim();
    let scheme = raw.split_once("://").map(|(s, _)| s).unwrap_or("");
    if !schemes.contains(&scheme) {
        return Err(ConfigError::new(name, format!("must be a URL starting with one of {schemes:?}://")));
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

/// Replaces a URL's password with `***` for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(start), Some(at)) if at > start => {
            let userinfo = &url[start + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..start], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

fn percent_encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> Env {
        Env::from_pairs([
            ("DATABASE_URL", "postgres://u:p@localhost:5432/db"),
            ("REDIS_URL", "redis://localhost:6379"),
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        ])
    }

    #[test]
    fn minimal_environment_gives_documented_defaults() {
        let s = Settings::from_env(&minimal()).unwrap();
        assert_eq!(s.port, 8080);
        assert_eq!(s.database.max_connections, 20);
        assert_eq!(s.shutdown_timeout, Duration::from_secs(30));
        assert_eq!(s.shutdown_drain, Duration::from_secs(5));
        assert!(s.database.run_migrations);
        assert_eq!(s.auth.issuer, "bss-oss");
        assert!(!s.hub_allow_private_callbacks);
        assert_eq!(s.hub_delivery_max_attempts, 12);
        assert_eq!(s.fulfilment_mode, FulfilmentMode::External);
        let mut auto = minimal();
        auto.set("FULFILMENT_MODE", "auto");
        assert_eq!(Settings::from_env(&auto).unwrap().fulfilment_mode, FulfilmentMode::Auto);
        assert_eq!(s.order_consumer.max_deliveries, 5);
        assert_eq!(s.order_consumer.claim_idle, Duration::from_secs(60));
        assert!(s.order_consumer.name.starts_with("billing-"), "{}", s.order_consumer.name);
        let mut named = minimal();
        named.set("HOSTNAME", "billing-7");
        assert_eq!(Settings::from_env(&named).unwrap().order_consumer.name, "billing-7");
        named.set("BILLING_CONSUMER_NAME", "billing-x");
        assert_eq!(Settings::from_env(&named).unwrap().order_consumer.name, "billing-x");
        assert_eq!(
            s.default_account,
            DefaultAccountSettings { currency: "EUR".into(), time_zone: "UTC".into(), tax_rate: "0".into() }
        );
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        let cases: &[(&str, &str)] = &[
            ("DATABASE_MAX_CONNECTIONS", "abc"),
            ("DATABASE_MAX_CONNECTIONS", "0"),
            ("PORT", "70000"),
            ("BIND_ADDRESS", "localhost:80"),
            ("SHUTDOWN_TIMEOUT_SECS", "-1"),
            ("RUN_MIGRATIONS", "maybe"),
            ("REDIS_URL", "localhost:6379"),
            ("DATABASE_URL", "mysql://x"),
            ("JWT_SECRET", "short"),
            ("CATALOG_URL", "ftp://x"),
            ("SHUTDOWN_DRAIN_SECS", "60"),
            ("HUB_ALLOW_PRIVATE_CALLBACKS", "sometimes"),
            ("HUB_DELIVERY_MAX_ATTEMPTS", "0"),
            ("FULFILMENT_MODE", "manual"),
            ("BILLING_MAX_DELIVERIES", "0"),
            ("BILLING_CLAIM_IDLE_MS", "5"),
            ("BILLING_DEFAULT_CURRENCY", "eur"),
            ("BILLING_DEFAULT_CURRENCY", "EURO"),
            ("BILLING_DEFAULT_TIME_ZONE", "Europe/Paris Europe/Berlin"),
            ("BILLING_DEFAULT_TAX_RATE", "0.20000000000000000001"),
        ];
        for (name, value) in cases {
            let mut env = minimal();
            env.set(name, *value);
            let err = Settings::from_env(&env).expect_err(&format!("{name}={value} must be rejected"));
            assert_eq!(err.variable, *name, "{name}={value} gave {err}");
        }
    }

    #[test]
    fn missing_secret_stops_start_up() {
        let mut env = minimal();
        env.remove("JWT_SECRET");
        assert_eq!(Settings::from_env(&env).unwrap_err().variable, "JWT_SECRET");
    }

    #[test]
    fn split_database_variables_build_an_encoded_url() {
        let mut env = minimal();
        env.remove("DATABASE_URL");
        env.set("DATABASE_HOST", "db").set("DATABASE_NAME", "bss").set("DATABASE_USER", "bss");
        env.set("DATABASE_PASSWORD", "p@ss:w/rd");
        let s = Settings::from_env(&env).unwrap();
        assert_eq!(s.database.url, "postgres://bss:p%40ss%3Aw%2Frd@db:5432/bss");
        assert!(!format!("{:?}", s.database).contains("p%40ss"));
    }

    #[test]
    fn redaction_hides_the_password() {
        assert_eq!(redact_url("postgres://bss:secret@h:5/db"), "postgres://bss:***@h:5/db");
        assert_eq!(redact_url("redis://h:6379"), "redis://h:6379");
    }
}

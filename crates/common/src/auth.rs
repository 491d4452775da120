//! Bearer-token authentication and per-service scopes.
//!
//! Every request under a service's TMF base path carries `Authorization: Bearer <JWT>`. The token is verified
//! against the configured key (HS256 shared secret, an RS256/ES256 public key, or the JWKS of an external
//! identity provider, keys chosen by `kid`), its `exp`, `nbf`, `iss` and `aud` are checked, and its scopes must grant the operation:
//! `<service>:read` for GET/HEAD, `<service>:write` for everything else, `admin` for all. The verified
//! [`Principal`] rides in the request extensions so handlers, the audit log and the outgoing HTTP client know
//! who is calling. Probes and `/metrics` are outside the protected prefixes and need no token.

use crate::config::{AuthSettings, JwtKey};
use crate::error::ApiError;
use actix_web::HttpMessage;
use actix_web::dev::ServiceRequest;
use actix_web::http::Method;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Claims this project reads from a token. Scopes come as an OAuth2 space-separated `scope` string or as an
/// `scp` array (both are common among identity providers).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scp: Option<Vec<String>>,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub subject: String,
    pub scopes: BTreeSet<String>,
    /// The bearer token as received, relayed on calls this request makes to peer services.
    pub token: Arc<str>,
}

impl Principal {
    /// Whether the caller may do `access` on `service`.
    pub fn may(&self, service: &str, access: Access) -> bool {
        self.scopes.contains("admin") || self.scopes.contains(&access.scope(service))
    }
}

/// The two kinds of operation a scope can grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

impl Access {
    pub fn for_method(method: &Method) -> Self {
        if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) { Access::Read } else { Access::Write }
    }

    pub fn scope(self, service: &str) -> String {
        match self {
            Access::Read => format!("{service}:read"),
            Access::Write => format!("{service}:write"),
        }
    }
}

/// Why a request was refused; each maps to 401 or 403 with a TMF body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token")]
    Missing,
    #[error("malformed token")]
    Malformed,
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("invalid token signature")]
    BadSignature,
    #[error("token issuer not accepted")]
    WrongIssuer,
    #[error("token audience not accepted")]
    WrongAudience,
    #[error("token algorithm not accepted")]
    WrongAlgorithm,
    #[error("token lacks scope {0}")]
    MissingScope(String),
}

impl AuthError {
    /// A short, stable label for metrics and the audit log.
    pub fn label(&self) -> &'static str {
        match self {
            AuthError::Missing => "missing",
            AuthError::Malformed => "malformed",
            AuthError::Expired => "expired",
            AuthError::NotYetValid => "not_yet_valid",
            AuthError::BadSignature => "bad_signature",
            AuthError::WrongIssuer => "wrong_issuer",
            AuthError::WrongAudience => "wrong_audience",
            AuthError::WrongAlgorithm => "wrong_algorithm",
            AuthError::MissingScope(_) => "missing_scope",
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::MissingScope(scope) => ApiError::forbidden(format!("The token does not grant {scope}.")),
            other => ApiError::unauthorized(format!("Authentication failed: {other}.")),
        }
    }
}

/// Verifies tokens against the configured key source.
#[derive(Clone)]
pub struct Verifier {
    source: KeySource,
    issuer: String,
    audience: String,
    leeway: u64,
}

#[derive(Clone)]
enum KeySource {
    /// One key, one algorithm: a token cannot choose how it is verified (no `none`, no HS/RS confusion).
    Static {
        key: DecodingKey,
        algorithm: Algorithm,
    },
    Jwks(Arc<JwksKeys>),
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let source = match &self.source {
            KeySource::Static { algorithm, .. } => format!("{algorithm:?}"),
            KeySource::Jwks(jwks) => format!("JWKS {}", jwks.url),
        };
        f.debug_struct("Verifier").field("source", &source).field("issuer", &self.issuer).finish()
    }
}

impl Verifier {
    pub fn new(settings: &AuthSettings) -> anyhow::Result<Self> {
        let source = match &settings.key {
            JwtKey::Hs256Secret(secret) => {
                KeySource::Static { key: DecodingKey::from_secret(secret), algorithm: Algorithm::HS256 }
            }
            JwtKey::Rs256PublicPem(pem) => {
                KeySource::Static { key: DecodingKey::from_rsa_pem(pem)?, algorithm: Algorithm::RS256 }
            }
            JwtKey::Es256PublicPem(pem) => {
                KeySource::Static { key: DecodingKey::from_ec_pem(pem)?, algorithm: Algorithm::ES256 }
            }
            JwtKey::Jwks { url, cache } => KeySource::Jwks(Arc::new(JwksKeys::new(url.clone(), *cache)?)),
        };
        Ok(Self {
            source,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            leeway: settings.leeway.as_secs(),
        })
    }

    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = self.leeway;
        validation
    }

    /// Checks a raw `Authorization` header value and returns the caller it proves.
    pub async fn verify_header(&self, header: Option<&str>) -> Result<Principal, AuthError> {
        let value = header.ok_or(AuthError::Missing)?.trim();
        let (scheme, token) = value.split_once(' ').ok_or(AuthError::Malformed)?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(AuthError::Malformed);
        }
        self.verify(token.trim()).await
    }

    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let (key, algorithm) = match &self.source {
            KeySource::Static { key, algorithm } => (key.clone(), *algorithm),
            KeySource::Jwks(jwks) => {
                let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
                let kid = header.kid.ok_or(AuthError::Malformed)?;
                let (key, algorithm) = jwks.key(&kid).await.ok_or(AuthError::BadSignature)?;
                if header.alg != algorithm {
                    return Err(AuthError::WrongAlgorithm);
                }
                (key, algorithm)
            }
        };
        let data =
            jsonwebtoken::decode::<Claims>(token, &key, &self.validation(algorithm)).map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::ImmatureSignature => AuthError::NotYetValid,
                ErrorKind::InvalidSignature => AuthError::BadSignature,
                ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
                ErrorKind::InvalidAudience => AuthError::WrongAudience,
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName | ErrorKind::UnsupportedAlgorithm => {
                    AuthError::WrongAlgorithm
                }
                _ => AuthError::Malformed,
            })?;
        let claims = data.claims;
        let mut scopes: BTreeSet<String> =
            claims.scope.as_deref().unwrap_or("").split_whitespace().map(str::to_owned).collect();
        scopes.extend(claims.scp.unwrap_or_default());
        Ok(Principal { subject: claims.sub, scopes, token: Arc::from(token) })
    }
}

/// An identity provider's signing keys, fetched from its JWKS URL and cached.
///
/// The document is fetched on first use, again when it is older than `JWT_JWKS_CACHE_SECS`, and when a token
/// names a `kid` we do not know (key rotation) — but then at most every [`JwksKeys::MIN_REFETCH`] (or the cache
/// period, if shorter), so a flood
/// of tokens with made-up key ids cannot turn into a flood of requests to the provider. Only asymmetric keys
/// are accepted: a JWKS entry cannot make the service trust a shared secret.
struct JwksKeys {
    url: String,
    cache: Duration,
    client: reqwest::Client,
    state: tokio::sync::Mutex<JwksState>,
}

#[derive(Default)]
struct JwksState {
    keys: HashMap<String, (DecodingKey, Algorithm)>,
    fetched: Option<Instant>,
}

impl JwksKeys {
    const MIN_REFETCH: Duration = Duration::from_secs(30);

    fn new(url: String, cache: Duration) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
        Ok(Self { url, cache, client, state: tokio::sync::Mutex::new(JwksState::default()) })
    }

    async fn key(&self, kid: &str) -> Option<(DecodingKey, Algorithm)> {
        let mut state = self.state.lock().await;
        let age = state.fetched.map(|at| at.elapsed());
        let stale = age.is_none_or(|age| age > self.cache);
        let min_refetch = Self::MIN_REFETCH.min(self.cache);
        let unknown_and_may_refetch = !state.keys.contains_key(kid) && age.is_none_or(|age| age > min_refetch);
        if stale || unknown_and_may_refetch {
            match self.fetch().await {
                Ok(keys) => {
                    tracing::info!(keys = keys.len(), "JWKS refreshed");
                    state.keys = keys;
                }
                // Keep the keys we have: a provider hiccup must not lock every caller out.
                Err(e) => tracing::warn!(error = format!("{e:#}"), "JWKS refresh failed"),
            }
            state.fetched = Some(Instant::now());
        }
        state.keys.get(kid).cloned()
    }

    async fn fetch(&self) -> anyhow::Result<HashMap<String, (DecodingKey, Algorithm)>> {
        let set: JwkSet = self.client.get(&self.url).send().await?.error_for_status()?.json().await?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else { continue };
            let algorithm = match (&jwk.algorithm, jwk.common.key_algorithm) {
                (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
                (AlgorithmParameters::EllipticCurve(_), None | Some(KeyAlgorithm::ES256)) => Algorithm::ES256,
                _ => continue,
            };
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                keys.insert(kid, (key, algorithm));
            }
        }
        Ok(keys)
    }
}

/// Authenticates and authorises one request for `service`, leaving the [`Principal`] in its extensions.
pub async fn authorize(verifier: &Verifier, service: &str, req: &ServiceRequest) -> Result<Principal, AuthError> {
    let header = req.headers().get(actix_web::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let principal = verifier.verify_header(header).await?;
    let access = Access::for_method(req.method());
    if !principal.may(service, access) {
        return Err(AuthError::MissingScope(access.scope(service)));
    }
    req.extensions_mut().insert(principal.clone());
    Ok(principal)
}

/// Issues HS256 tokens: the local stack's `make token`, and tests.
pub fn mint_hs256(secret: &[u8], claims: &Claims) -> anyhow::Result<String> {
    Ok(jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret))?)
}

/// An HS256 token for `subject` with `scopes` (space-separated), valid for `ttl_secs`, signed with the
/// `JWT_SECRET` of the environment for its `JWT_ISSUER` and `JWT_AUDIENCE` (defaults as the services use): what
/// the local stack's tools (`make token`, the load generator) present. Without `JWT_SECRET` it is an error,
/// never a built-in secret.
pub fn mint_from_env(subject: &str, scopes: &str, ttl_secs: u64) -> anyhow::Result<String> {
    let secret = std::env::var("JWT_SECRET")
        .map_err(|_| anyhow::anyhow!("JWT_SECRET is not set (the local stack keeps it in .dev/jwt-secret)"))?;
    let now = now_epoch_secs();
    let claims = Claims {
        sub: subject.to_owned(),
        iss: std::env::var("JWT_ISSUER").unwrap_or_else(|_| "bss-oss".into()),
        aud: std::env::var("JWT_AUDIENCE").unwrap_or_else(|_| "bss-oss".into()),
        exp: now + ttl_secs,
        nbf: Some(now),
        iat: Some(now),
        scope: Some(scopes.to_owned()),
        scp: None,
    };
    mint_hs256(secret.as_bytes(), &claims)
}

/// Every scope the four services know, for an all-powerful local token.
pub const ALL_SCOPES: &[&str] = &[
    "catalog:read",
    "catalog:write",
    "customer:read",
    "customer:write",
    "order:read",
    "order:write",
    "billing:read",
    "billing:write",
    "admin",
];

/// Seconds since the Unix epoch.
pub fn now_epoch_secs() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

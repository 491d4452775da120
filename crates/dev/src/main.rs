//! `bss-dev`: the local stack's developer tool.
//!
//! `bss-dev token [--scopes "catalog:read ..."] [--subject NAME] [--ttl-secs N]` prints an HS256 bearer token
//! signed with `JWT_SECRET` for `JWT_ISSUER`/`JWT_AUDIENCE` (defaults as the services use). `make token` calls
//! it with the secret the local stack generated; it is not an identity provider for production.

use bss_common::auth::{ALL_SCOPES, Claims, mint_hs256, now_epoch_secs};

const USAGE: &str = "usage: bss-dev token [--scopes \"a:read b:write\"] [--subject NAME] [--ttl-secs N]";

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("token") => {
            let mut scopes = ALL_SCOPES.join(" ");
            let mut subject = "local-developer".to_owned();
            let mut ttl_secs: u64 = 12 * 3_600;
            while let Some(flag) = args.next() {
                let value = args.next().ok_or_else(|| anyhow::anyhow!("{flag} needs a value\n{USAGE}"))?;
                match flag.as_str() {
                    "--scopes" => scopes = value,
                    "--subject" => subject = value,
                    "--ttl-secs" => ttl_secs = value.parse().map_err(|e| anyhow::anyhow!("--ttl-secs: {e}"))?,
                    other => anyhow::bail!("unknown option {other}\n{USAGE}"),
                }
            }
            let secret = std::env::var("JWT_SECRET")
                .map_err(|_| anyhow::anyhow!("JWT_SECRET is not set (make token reads it from .dev/jwt-secret)"))?;
            let now = now_epoch_secs();
            let claims = Claims {
                sub: subject,
                iss: std::env::var("JWT_ISSUER").unwrap_or_else(|_| "bss-oss".into()),
                aud: std::env::var("JWT_AUDIENCE").unwrap_or_else(|_| "bss-oss".into()),
                exp: now + ttl_secs,
                nbf: Some(now),
                iat: Some(now),
                scope: Some(scopes),
                scp: None,
            };
            println!("{}", mint_hs256(secret.as_bytes(), &claims)?);
            Ok(())
        }
        _ => anyhow::bail!("{USAGE}"),
    }
}

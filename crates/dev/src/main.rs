//! `bss-dev`: the local stack's developer tool.
//!
//! `bss-dev token [--scopes "catalog:read ..."] [--subject NAME] [--ttl-secs N]` prints an HS256 bearer token
//! signed with `JWT_SECRET` for `JWT_ISSUER`/`JWT_AUDIENCE` (defaults as the services use). `make token` calls
//! it with the secret the local stack generated; it is not an identity provider for production.

use bss_common::auth::{ALL_SCOPES, mint_from_env};

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
            println!("{}", mint_from_env(&subject, &scopes, ttl_secs)?);
            Ok(())
        }
        _ => anyhow::bail!("{USAGE}"),
    }
}

//! `Idempotency-Key` on `POST productOrder`: a retry with the same key and body gets the first response; the
//! same key with another body (or from another caller) gets 409; concurrent retries create one order.
//!
//! The record lives in Redis under `idem:order:<key>` (with the deployment's prefix), as JSON:
//! `{"fingerprint", "subject", "state": "pending"|"done", "response"}`.
//! - The first request claims the key with `SET NX` (a `pending` record that expires after [`CLAIM_TTL`], so a
//!   crash mid-creation does not lock the key for long), creates the order, then stores the `done` record with
//!   the response body for [`RECORD_TTL`].
//! - A request that finds a `done` record with its fingerprint replays the response (201, same body, header
//!   `Idempotent-Replayed: true`); one that finds a `pending` record waits up to [`WAIT_FOR_FIRST`] for it to
//!   finish, then replays it (or, if the first one failed and released the key, claims it itself).
//! - A creation that fails (4xx, 503) releases the claim: the client may retry with the same key once the cause
//!   is fixed.
//! - Redis unavailable: a POST with a key is 503 (the guarantee cannot be kept); without a key it works.
//! - The key is also written to PostgreSQL (`order_idempotency_key`) **in the transaction that creates the
//!   order** ([`record_in`]). Redis alone cannot close one window: a process killed after the order committed
//!   but before the `done` record was stored (what `make chaos` does to this service under load), or a Redis
//!   that lost the record, would let the retry, once the claim expired, create a second order. So the owner
//!   of a claim first looks the key up there ([`recorded`]) and replays the order it finds (as it is now: the
//!   first response was not kept); and the table's primary key refuses a second order for one key whatever
//!   Redis says. Rows are purged after [`RECORD_TTL`], the replay window ([`purge_expired`]).
//!
//! Decisions: docs/adr/0014-order-state-and-pricing.md.

use bss_common::kv::redis;
use bss_common::{ApiError, ServiceContext};
use serde_json::{Value, json};
use std::time::Duration;

/// The request header.
pub const HEADER: &str = "Idempotency-Key";
/// How long a claim holds while the first request creates the order.
pub const CLAIM_TTL: Duration = Duration::from_secs(60);
/// How long a completed request's response is replayed.
pub const RECORD_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long a retry waits for a concurrent first request to finish.
pub const WAIT_FOR_FIRST: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(25);

/// Checks the header value: 1–255 visible ASCII characters.
pub fn parse_key(value: &str) -> Result<&str, ApiError> {
    let valid = !value.is_empty() && value.len() <= 255 && value.bytes().all(|b| b.is_ascii_graphic());
    if valid {
        Ok(value)
    } else {
        Err(ApiError::bad_request(format!("'{HEADER}' must be 1 to 255 visible ASCII characters.")))
    }
}

/// A stable 128-bit FNV-1a fingerprint of the request body's canonical JSON text (object keys sorted by
/// serde_json's map), in hex. Not a cryptographic hash: it only tells one caller's own requests apart.
pub fn fingerprint(body: &Value) -> String {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013B;
    let text = body.to_string();
    let hash = text.bytes().fold(OFFSET, |hash, byte| (hash ^ u128::from(byte)).wrapping_mul(PRIME));
    format!("{hash:032x}")
}

/// What the caller must do after [`claim`].
#[derive(Debug)]
pub enum Claim {
    /// This request owns the key: create the order, then [`complete`] or [`release`].
    Owned,
    /// A previous request with this key and body succeeded: answer its response.
    Replay(Value),
}

fn unavailable() -> ApiError {
    ApiError::service_unavailable(format!(
        "Requests with an '{HEADER}' cannot be accepted right now (the idempotency store is unavailable); retry later."
    ))
}

fn record_key(ctx: &ServiceContext, key: &str) -> String {
    ctx.redis.key(&format!("idem:order:{key}"))
}

/// Claims `key` for a request with `fingerprint` from `subject`, or finds the response to replay.
pub async fn claim(ctx: &ServiceContext, key: &str, fingerprint: &str, subject: &str) -> Result<Claim, ApiError> {
    let redis_key = record_key(ctx, key);
    let pending = json!({"fingerprint": fingerprint, "subject": subject, "state": "pending"}).to_string();
    let deadline = tokio::time::Instant::now() + WAIT_FOR_FIRST;
    loop {
        let command = redis::cmd("SET")
            .arg(&redis_key)
            .arg(&pending)
            .arg("NX")
            .arg("PX")
            .arg(CLAIM_TTL.as_millis() as u64)
            .to_owned();
        let claimed: Option<String> = ctx.redis.query(&command).await.map_err(|_| unavailable())?;
        if claimed.is_some() {
            return Ok(Claim::Owned);
        }
        let existing: Option<String> =
            ctx.redis.query(redis::cmd("GET").arg(&redis_key)).await.map_err(|_| unavailable())?;
        // Gone between SET and GET: the first request released it; claim again.
        let Some(existing) = existing else { continue };
        let record: Value = serde_json::from_str(&existing).unwrap_or(Value::Null);
        if record["fingerprint"] != fingerprint || record["subject"] != subject {
            return Err(reused_key());
        }
        if record["state"] == "done" {
            return Ok(Claim::Replay(record["response"].clone()));
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ApiError::conflict(format!(
                "A request with this '{HEADER}' is still being processed; retry it later."
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Records the response of the request that owned `key`. A failure here only loses the replay: the order
/// exists, and the claim expires, after which a retry would create a second order, so it is logged loudly.
pub async fn complete(ctx: &ServiceContext, key: &str, fingerprint: &str, subject: &str, response: &Value) {
    let record =
        json!({"fingerprint": fingerprint, "subject": subject, "state": "done", "response": response}).to_string();
    let command =
        redis::cmd("SET").arg(record_key(ctx, key)).arg(record).arg("PX").arg(RECORD_TTL.as_millis() as u64).to_owned();
    if let Err(e) = ctx.redis.query::<()>(&command).await {
        tracing::error!(error = %e, order = %response["id"], "idempotency record not stored; a retry could duplicate the order");
    }
}

/// The order created with `key` by `subject`, from PostgreSQL: `(fingerprint, order id)`.
pub async fn recorded(ctx: &ServiceContext, key: &str, subject: &str) -> Result<Option<(String, String)>, ApiError> {
    let row = sqlx::query_as("SELECT fingerprint, order_id FROM order_idempotency_key WHERE subject = $1 AND key = $2")
        .bind(subject)
        .bind(key)
        .fetch_optional(&ctx.db)
        .await?;
    Ok(row)
}

/// Records `key` for `order_id` in the transaction creating the order. `false`: the key was recorded already
/// (another request created its order first); the caller rolls back and replays that one.
pub async fn record_in(
    tx: &mut sqlx::PgConnection,
    key: &str,
    fingerprint: &str,
    subject: &str,
    order_id: &str,
) -> Result<bool, ApiError> {
    let inserted = sqlx::query(
        "INSERT INTO order_idempotency_key (subject, key, fingerprint, order_id) VALUES ($1, $2, $3, $4)
         ON CONFLICT (subject, key) DO NOTHING",
    )
    .bind(subject)
    .bind(key)
    .bind(fingerprint)
    .bind(order_id)
    .execute(&mut *tx)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Deletes the PostgreSQL records older than the replay window.
pub async fn purge_expired(ctx: &ServiceContext) -> Result<u64, sqlx::Error> {
    let purged = sqlx::query("DELETE FROM order_idempotency_key WHERE created_at < now() - make_interval(secs => $1)")
        .bind(RECORD_TTL.as_secs_f64())
        .execute(&ctx.db)
        .await?;
    Ok(purged.rows_affected())
}

/// The 409 for a key used before with another body.
pub fn reused_key() -> ApiError {
    ApiError::conflict(format!(
        "This '{HEADER}' was already used for a different request; use a new key for a new order."
    ))
}

/// Gives the key back after a failed creation, so a retry is processed anew.
pub async fn release(ctx: &ServiceContext, key: &str) {
    if let Err(e) = ctx.redis.query::<()>(redis::cmd("DEL").arg(record_key(ctx, key))).await {
        tracing::warn!(error = %e, "idempotency claim not released; it expires on its own");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_ignores_key_order_and_tells_bodies_apart() {
        let a = fingerprint(&json!({"a": 1, "b": [1, 2]}));
        assert_eq!(a, fingerprint(&serde_json::from_str(r#"{"b": [1, 2], "a": 1}"#).unwrap()));
        assert_ne!(a, fingerprint(&json!({"a": 1, "b": [2, 1]})));
        assert_eq!(a.len(), 32);
    }

    #[test]
    fn keys_are_short_visible_ascii() {
        assert!(parse_key("3f2b-41c9").is_ok());
        for bad in ["", "with space", "ünïcode", &"x".repeat(256)] {
            assert!(parse_key(bad).is_err(), "{bad}");
        }
    }
}

//! TMF630 events: the transactional outbox, its relay to the service's Redis Stream, and the deliveries to the
//! HTTP listeners registered on `/hub` (DESIGN.md §1).
//!
//! Shape, in the order an event travels:
//! 1. [`enqueue`] runs inside the caller's transaction: it writes the TMF event (`eventId`, `eventTime`,
//!    `eventType`, `event: {<resourceType>: <resource>}`, `@type`) into `outbox`, one `listener_delivery` row per
//!    registered listener whose query matches the payload, and a `pg_notify`. A rolled-back change therefore
//!    never has an event and a committed one always has; nothing leaves the process before the commit.
//! 2. The **relay** ([`start_workers`]) reads unpublished rows in id order, `XADD`s them to the stream named by
//!    [`stream_name`] and marks them published, in one transaction per batch that also holds
//!    `pg_try_advisory_xact_lock`: only one replica relays at a time, so the stream is in outbox order. It wakes
//!    on the NOTIFY of a commit (LISTEN on its own channel, one per schema) and polls every 500 ms as a fallback.
//!    While Redis is down a batch fails and rolls back, the events stay in the outbox, the relay backs off
//!    (0.5 s doubling to 5 s, never a busy loop) and catches up in order once Redis answers. After a batch
//!    commits, the [`PublishedHook`] runs for each event (the catalog invalidates its cache there).
//! 3. The **delivery worker** POSTs each event to each matching listener. It holds no transaction during HTTP:
//!    it claims deliveries with a lease (`UPDATE … SET next_attempt_at = now() + lease … FOR UPDATE SKIP
//!    LOCKED … RETURNING`), sends them concurrently (at most 16 at once, 5 s timeout each) and records the
//!    outcome. Per listener only the oldest open delivery is ever claimed, so a listener receives its events in
//!    order and a slow or dead listener only delays itself. A non-2xx answer or a transport error is retried
//!    with backoff (1 s doubling, capped at 5 min); after `HUB_DELIVERY_MAX_ATTEMPTS` (default 12, about 17
//!    minutes) the delivery is marked failed, logged at WARN and counted, and the listener's next event goes.
//!
//! Guarantees and their price:
//! - **At least once, on the stream and to listeners.** A crash between `XADD` and the commit that marks the
//!   rows published republishes them; a crash after a listener answered but before the outcome was stored
//!   resends once the lease (15 s) expires. Consumers must deduplicate by `eventId` (billing keeps a
//!   processed-event table keyed by it).
//! - **Order.** The stream follows outbox id order; listeners get their events in outbox id order. Ids are
//!   taken at insert, so two transactions committing concurrently can be relayed in either order; changes to
//!   one resource are ordered, because the store locks the resource row before it enqueues the event.
//! - **No stream trimming.** `XADD` is never given `MAXLEN`: a consumer that lags (or is down for a weekend)
//!   must never find its events trimmed away. The price is memory in Redis; trimming, if ever needed, belongs
//!   to an operator job that knows every consumer group's position (`XINFO GROUPS`), not to the producer.
//! - Outbox rows are kept after publication (audit trail, redelivery); purging old published rows is an
//!   operator task for now.

use crate::hub::{internal_callback, is_internal_address};
use actix_web::web;
use bss_common::ServiceContext;
use bss_common::kv::redis;
use bss_common::metrics::{EVENTS_PUBLISHED_TOTAL, LISTENER_DELIVERIES_TOTAL, OUTBOX_BACKLOG};
use futures_util::future::BoxFuture;
use serde_json::{Map, Value};
use sqlx::PgConnection;
use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::types::Json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Rows the relay moves per transaction.
const RELAY_BATCH: i64 = 100;
/// Fallback poll when no NOTIFY arrives (a lost notification, another replica's relay holding the lock).
const RELAY_POLL: Duration = Duration::from_millis(500);
/// First and longest pause of the relay after a failed batch (Redis or PostgreSQL down).
const RELAY_BACKOFF_FIRST: Duration = Duration::from_millis(500);
const RELAY_BACKOFF_MAX: Duration = Duration::from_secs(5);
/// First key of the relay's advisory lock; the second is the outbox table's OID, so services sharing one
/// database (one schema each) relay independently.
const RELAY_LOCK_NAMESPACE: i32 = 0x0B55_0E1A;
/// The NOTIFY channel is this prefix plus the schema (`current_schema()` at enqueue, the spec's at LISTEN).
const NOTIFY_CHANNEL_PREFIX: &str = "bss_outbox_";
/// How long a [`PublishedHook`] may take before the relay moves on.
const HOOK_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest relay batch: a PostgreSQL or Redis connection that hangs (rather than fails) must not stall the
/// relay for good. A batch cut short rolls back and is retried.
const RELAY_BATCH_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on the small bookkeeping queries (backlog count, delivery claims and outcomes).
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);
/// Once the service stops, how long work under way may take to finish before it is dropped (a healthy batch
/// takes milliseconds; one stuck on a hung database is abandoned, rolled back and redone by the next start).
const STOP_GRACE: Duration = Duration::from_secs(1);

/// Fallback poll of the delivery worker (retries falling due).
const DELIVERY_POLL: Duration = Duration::from_millis(500);
/// Deliveries in flight at once, across listeners (each listener has at most one).
const DELIVERY_CONCURRENCY: usize = 16;
/// Whole-request and connect timeouts of one delivery.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);
const DELIVERY_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a claimed delivery is reserved for the worker that claimed it; longer than one delivery can take,
/// so a claim only lapses when its worker died.
const DELIVERY_LEASE: Duration = Duration::from_secs(15);
/// Retry backoff of a delivery: 1 s after the first failure, doubling, capped.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(300);
/// Longest `last_error` stored.
const LAST_ERROR_MAX_CHARS: usize = 500;

/// An event to write with the change it describes.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    /// The TMF event type, e.g. `ProductOfferingCreateEvent`, `ProductOfferingAttributeValueChangeEvent`,
    /// `ProductOfferingStateChangeEvent`, `ProductOfferingDeleteEvent`.
    pub event_type: String,
    /// The key inside `event`, e.g. `productOffering`.
    pub resource_type: &'a str,
    pub resource_id: &'a str,
    /// The full resource after the change (before it, for a delete).
    pub resource: &'a Value,
}

/// Writes the event into the outbox inside the caller's transaction, plus one `listener_delivery` row per
/// registered listener whose query matches; returns the `eventId`. Nothing leaves the process until commit.
///
/// `tx` is the caller's open transaction (`&mut *tx` on a `sqlx::Transaction`).
pub async fn enqueue(tx: &mut PgConnection, event: NewEvent<'_>) -> Result<Uuid, sqlx::Error> {
    let event_id = Uuid::now_v7();
    let payload = event_payload(event_id, chrono::Utc::now(), &event);
    let outbox_id: i64 = sqlx::query_scalar(
        "INSERT INTO outbox (event_id, event_type, resource_type, resource_id, payload)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(event_id)
    .bind(&event.event_type)
    .bind(event.resource_type)
    .bind(event.resource_id)
    .bind(Json(&payload))
    .fetch_one(&mut *tx)
    .await?;

    // FOR KEY SHARE: a listener unregistered between this read and the insert below would fail the insert's
    // foreign key (a 500 for the write that raised the event: `make fuzz` found it, deleting listeners while
    // writing). The lock makes an unregistration wait for this transaction, and skips a listener whose
    // unregistration committed first.
    let listeners: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT id, query FROM hub_listener FOR KEY SHARE").fetch_all(&mut *tx).await?;
    let matching: Vec<String> = listeners
        .into_iter()
        .filter(|(id, query)| listener_wants(id, query.as_deref(), &payload))
        .map(|(id, _)| id)
        .collect();
    if !matching.is_empty() {
        sqlx::query("INSERT INTO listener_delivery (outbox_id, listener_id) SELECT $1, unnest($2::text[])")
            .bind(outbox_id)
            .bind(&matching)
            .execute(&mut *tx)
            .await?;
    }
    // Delivered at commit (and only then); several in one transaction fold into one.
    sqlx::query("SELECT pg_notify($1 || current_schema(), '')").bind(NOTIFY_CHANNEL_PREFIX).execute(&mut *tx).await?;
    Ok(event_id)
}

/// The TMF630 notification: `{"@type", "eventId", "eventTime", "eventType", "event": {<resourceType>: …}}`.
fn event_payload(event_id: Uuid, time: chrono::DateTime<chrono::Utc>, event: &NewEvent<'_>) -> Value {
    let mut inner = Map::new();
    inner.insert(event.resource_type.to_owned(), event.resource.clone());
    let mut payload = Map::new();
    payload.insert("@type".into(), Value::String(event.event_type.clone()));
    payload.insert("eventId".into(), Value::String(event_id.to_string()));
    payload.insert("eventTime".into(), Value::String(time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)));
    payload.insert("eventType".into(), Value::String(event.event_type.clone()));
    payload.insert("event".into(), Value::Object(inner));
    Value::Object(payload)
}

/// Whether a listener with `query` wants this event. A stored query that no longer parses matches nothing.
fn listener_wants(id: &str, query: Option<&str>, payload: &Value) -> bool {
    let Some(query) = query else { return true };
    match parse_listener_query(query) {
        Ok(filters) => crate::query::matches(payload, &filters),
        Err(e) => {
            tracing::warn!(listener_id = id, error = %e, "hub listener query no longer parses; event not delivered");
            false
        }
    }
}

/// Parses a `/hub` listener query (TMF630 filter syntax, e.g. `eventType=ProductOfferingCreateEvent` or
/// `event.productOffering.lifecycleStatus=Active`, matched against the whole event payload), or says why it
/// cannot be used.
pub(crate) fn parse_listener_query(query: &str) -> Result<Vec<crate::query::Filter>, crate::query::QueryError> {
    crate::query::parse_filters(query.trim())
}

/// Called after an event is on the stream (the catalog uses it to invalidate its Redis cache).
pub type PublishedHook = Arc<dyn Fn(PublishedEvent) -> BoxFuture<'static, ()> + Send + Sync>;

/// An event the relay has just put on the stream.
#[derive(Debug, Clone)]
pub struct PublishedEvent {
    pub event_id: Uuid,
    pub event_type: String,
    pub resource_type: String,
    pub resource_id: String,
    /// The whole TMF event as published (`{eventId, eventType, event: {<resource>: …}}`).
    pub payload: Value,
}

/// What a service adds to the event machinery.
#[derive(Clone, Default)]
pub struct EventsConfig {
    /// Runs once per event after the relay committed it as published (at least once, like the event).
    pub on_published: Option<PublishedHook>,
}

impl std::fmt::Debug for EventsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventsConfig").field("on_published", &self.on_published.is_some()).finish()
    }
}

/// The Redis Stream a service publishes to: `<REDIS_KEY_PREFIX>:events:<service>`.
pub fn stream_name(ctx: &ServiceContext) -> String {
    ctx.redis.key(&format!("events:{}", ctx.spec.name))
}

/// Spawns the relay and the delivery worker (plus the LISTEN connection that wakes them) with
/// `ctx.lifecycle.spawn_worker`; each first awaits `ctx.lifecycle.migrated()` and stops when
/// `ctx.lifecycle.stop_token()` fires, after finishing its batch.
pub fn start_workers(ctx: &web::Data<ServiceContext>, config: EventsConfig) {
    let relay_wake = Arc::new(Notify::new());
    let delivery_wake = Arc::new(Notify::new());
    ctx.lifecycle.spawn_worker(
        "outbox-notifications",
        listen_for_commits(ctx.clone(), vec![relay_wake.clone(), delivery_wake.clone()]),
    );
    ctx.lifecycle.spawn_worker("outbox-relay", relay(ctx.clone(), config.on_published, relay_wake));
    ctx.lifecycle.spawn_worker("hub-delivery", deliver(ctx.clone(), delivery_wake));
}

/// Waits for migrations; false when the service stops first.
async fn migrated(ctx: &ServiceContext, stop: &CancellationToken) -> bool {
    tokio::select! {
        _ = ctx.lifecycle.migrated() => true,
        _ = stop.cancelled() => false,
    }
}

/// Sleeps `pause` unless `stop` fires first; true when stopped.
async fn pause_or_stop(pause: Duration, stop: &CancellationToken) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(pause) => false,
        _ = stop.cancelled() => true,
    }
}

/// Runs `work` to its end, unless the service stops meanwhile: then `work` gets [`STOP_GRACE`] more and is
/// dropped if still running (`None`), so shutdown never waits on a hung dependency.
async fn finish_unless_stopped<T>(stop: &CancellationToken, work: impl Future<Output = T>) -> Option<T> {
    let mut work = std::pin::pin!(work);
    tokio::select! {
        done = &mut work => return Some(done),
        _ = stop.cancelled() => {}
    }
    tokio::time::timeout(STOP_GRACE, work).await.ok()
}

/// Exponential backoff: `first`, doubling per consecutive failure, capped at `max`.
fn backoff(first: Duration, max: Duration, failures: u32) -> Duration {
    first.saturating_mul(2u32.saturating_pow(failures.saturating_sub(1).min(20))).min(max)
}

/// Holds a LISTEN connection on the schema's outbox channel and wakes the workers on every commit that
/// enqueued events. Reconnects with backoff; the workers' polls cover the gaps.
///
/// The connection is one of its own beside the service's pool (same options), so a long-lived LISTEN never
/// takes a connection the API needs: size PostgreSQL's `max_connections` for `DATABASE_MAX_CONNECTIONS + 1`
/// per replica.
async fn listen_for_commits(ctx: web::Data<ServiceContext>, wakes: Vec<Arc<Notify>>) {
    let stop = ctx.lifecycle.stop_token();
    let wake_all = || wakes.iter().for_each(|w| w.notify_one());
    if migrated(&ctx, &stop).await {
        let channel = format!("{NOTIFY_CHANNEL_PREFIX}{}", ctx.spec.schema);
        let own_pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy_with((*ctx.db.connect_options()).clone());
        let mut failures = 0u32;
        loop {
            let connect = async {
                let mut listener = PgListener::connect_with(&own_pool).await?;
                listener.listen(&channel).await?;
                Ok::<_, sqlx::Error>(listener)
            };
            let connected = tokio::select! {
                connected = connect => connected,
                _ = stop.cancelled() => break,
            };
            match connected {
                Ok(mut listener) => {
                    failures = 0;
                    wake_all(); // anything committed while nobody listened
                    loop {
                        tokio::select! {
                            received = listener.recv() => match received {
                                Ok(_) => wake_all(),
                                Err(e) => {
                                    tracing::warn!(error = %e, "outbox LISTEN connection lost; polling until it is back");
                                    break;
                                }
                            },
                            _ = stop.cancelled() => break,
                        }
                    }
                }
                Err(e) => {
                    failures += 1;
                    if failures == 1 {
                        tracing::warn!(error = %e, "cannot LISTEN for outbox commits; polling until it works");
                    }
                }
            }
            if stop.is_cancelled()
                || pause_or_stop(backoff(RELAY_BACKOFF_FIRST, RELAY_BACKOFF_MAX, failures), &stop).await
            {
                break;
            }
        }
    }
    tracing::info!(worker = "outbox-notifications", "background worker stopped");
}

/// One outbox row on its way to the stream.
#[derive(sqlx::FromRow)]
struct OutboxRow {
    id: i64,
    event_id: Uuid,
    event_type: String,
    resource_type: String,
    resource_id: String,
    payload: Json<Value>,
}

enum RelayOutcome {
    /// Another replica holds the relay lock.
    Locked,
    /// Published this many rows (a full batch means more may be waiting).
    Published(Vec<OutboxRow>),
}

async fn relay(ctx: web::Data<ServiceContext>, hook: Option<PublishedHook>, wake: Arc<Notify>) {
    let stop = ctx.lifecycle.stop_token();
    if migrated(&ctx, &stop).await {
        let stream = stream_name(&ctx);
        let mut failures = 0u32;
        loop {
            let batch = tokio::time::timeout(RELAY_BATCH_TIMEOUT, relay_batch(&ctx, &stream));
            let Some(outcome) = finish_unless_stopped(&stop, batch).await else { break };
            let outcome = outcome.unwrap_or_else(|_| Err(anyhow::anyhow!("relay batch timed out")));
            let (pause, more) = match outcome {
                Ok(RelayOutcome::Published(rows)) => {
                    if failures > 0 {
                        tracing::info!(failures, "outbox relay recovered");
                    }
                    failures = 0;
                    let full = rows.len() as i64 == RELAY_BATCH;
                    // Committed: the hooks run even if the service is stopping.
                    after_publish(&ctx, hook.as_ref(), rows).await;
                    (None, full)
                }
                Ok(RelayOutcome::Locked) => (None, false),
                Err(e) => {
                    failures += 1;
                    // Once per outage and then every 20 failures (about every 100 s at the longest backoff).
                    if failures == 1 || failures.is_multiple_of(20) {
                        tracing::warn!(
                            error = format!("{e:#}"),
                            failures,
                            "outbox relay cannot publish; events wait in the outbox"
                        );
                    }
                    (Some(backoff(RELAY_BACKOFF_FIRST, RELAY_BACKOFF_MAX, failures)), false)
                }
            };
            // After every attempt, failed ones included: an outage is when the backlog matters.
            if finish_unless_stopped(&stop, update_backlog(&ctx)).await.is_none() || stop.is_cancelled() {
                break;
            }
            if more {
                continue;
            }
            let stopped = match pause {
                // A failure backs off whatever commits arrive meanwhile: no busy loop against a dead Redis.
                Some(pause) => pause_or_stop(pause, &stop).await,
                None => tokio::select! {
                    _ = wake.notified() => false,
                    _ = tokio::time::sleep(RELAY_POLL) => false,
                    _ = stop.cancelled() => true,
                },
            };
            if stopped {
                break;
            }
        }
    }
    tracing::info!(worker = "outbox-relay", "background worker stopped");
}

/// One batch: lock, read the oldest unpublished rows, XADD them, mark them published, commit. Any failure
/// rolls the transaction back and leaves the rows for the next try.
async fn relay_batch(ctx: &ServiceContext, stream: &str) -> anyhow::Result<RelayOutcome> {
    use anyhow::Context as _;
    let mut tx = ctx.db.begin().await.context("PostgreSQL unavailable")?;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1, 'outbox'::regclass::oid::int)")
        .bind(RELAY_LOCK_NAMESPACE)
        .fetch_one(&mut *tx)
        .await
        .context("cannot take the relay lock")?;
    if !locked {
        return Ok(RelayOutcome::Locked);
    }
    let rows: Vec<OutboxRow> = sqlx::query_as(
        "SELECT id, event_id, event_type, resource_type, resource_id, payload
         FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1",
    )
    .bind(RELAY_BATCH)
    .fetch_all(&mut *tx)
    .await
    .context("cannot read the outbox")?;
    if rows.is_empty() {
        return Ok(RelayOutcome::Published(rows));
    }

    let mut pipe = redis::pipe();
    for row in &rows {
        pipe.cmd("XADD")
            .arg(stream)
            .arg("*")
            .arg("eventId")
            .arg(row.event_id.to_string())
            .arg("eventType")
            .arg(&row.event_type)
            .arg("resourceType")
            .arg(&row.resource_type)
            .arg("resourceId")
            .arg(&row.resource_id)
            .arg("payload")
            .arg(serde_json::to_string(&row.payload.0)?);
    }
    let xadd = async {
        let mut conn = ctx.redis.get().await?;
        let _ids: Vec<String> = pipe.query_async(&mut conn).await.context("XADD failed")?;
        anyhow::Ok(())
    };
    // Bounded: a stalled Redis must not hold the relay's transaction (and lock) for long.
    tokio::time::timeout(ctx.redis.timeout() + Duration::from_secs(1), xadd)
        .await
        .context("Redis did not answer in time")?
        .context("Redis unavailable")?;

    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    sqlx::query("UPDATE outbox SET published_at = now() WHERE id = ANY($1)")
        .bind(&ids)
        .execute(&mut *tx)
        .await
        .context("cannot mark events published (they will be published again)")?;
    tx.commit().await.context("cannot commit the relay batch (its events will be published again)")?;
    Ok(RelayOutcome::Published(rows))
}

/// Counts and hooks for events that are now on the stream.
async fn after_publish(ctx: &ServiceContext, hook: Option<&PublishedHook>, rows: Vec<OutboxRow>) {
    for row in rows {
        metrics::counter!(EVENTS_PUBLISHED_TOTAL, "service" => ctx.spec.name, "event_type" => row.event_type.clone())
            .increment(1);
        tracing::debug!(event_id = %row.event_id, event_type = %row.event_type, "event published");
        if let Some(hook) = hook {
            let event = PublishedEvent {
                event_id: row.event_id,
                event_type: row.event_type,
                resource_type: row.resource_type,
                resource_id: row.resource_id,
                payload: row.payload.0,
            };
            if tokio::time::timeout(HOOK_TIMEOUT, hook(event)).await.is_err() {
                tracing::warn!(event_id = %row.event_id, "published-event hook timed out");
            }
        }
    }
}

/// Sets the backlog gauge to the number of unpublished events (every replica reports the same number).
async fn update_backlog(ctx: &ServiceContext) {
    let count =
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM outbox WHERE published_at IS NULL").fetch_one(&ctx.db);
    if let Ok(Ok(count)) = tokio::time::timeout(QUERY_TIMEOUT, count).await {
        metrics::gauge!(OUTBOX_BACKLOG, "service" => ctx.spec.name).set(count as f64);
    }
}

/// A delivery claimed by this worker.
#[derive(sqlx::FromRow)]
struct Claimed {
    outbox_id: i64,
    listener_id: String,
    /// Attempts including this one.
    attempts: i32,
    callback: String,
    event_id: Uuid,
    payload: Json<Value>,
}

/// Per listener the oldest open delivery, if it is due; leased so no other worker takes it meanwhile. The
/// lock re-checks `next_attempt_at` and the open state on the row itself, so two workers racing on one
/// listener cannot both win.
const CLAIM_SQL: &str = "
WITH heads AS (
    SELECT DISTINCT ON (listener_id) outbox_id, listener_id
    FROM listener_delivery
    WHERE delivered_at IS NULL AND failed_at IS NULL
    ORDER BY listener_id, outbox_id
), claimable AS (
    SELECT d.outbox_id, d.listener_id
    FROM listener_delivery d
    JOIN heads h ON h.outbox_id = d.outbox_id AND h.listener_id = d.listener_id
    WHERE d.next_attempt_at <= now() AND d.delivered_at IS NULL AND d.failed_at IS NULL
    ORDER BY d.next_attempt_at
    LIMIT $1
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE listener_delivery d
SET attempts = d.attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
FROM claimable c, hub_listener l, outbox o
WHERE d.outbox_id = c.outbox_id AND d.listener_id = c.listener_id AND l.id = d.listener_id AND o.id = d.outbox_id
RETURNING d.outbox_id, d.listener_id, d.attempts, l.callback, o.event_id, o.payload";

async fn deliver(ctx: web::Data<ServiceContext>, wake: Arc<Notify>) {
    let stop = ctx.lifecycle.stop_token();
    if migrated(&ctx, &stop).await {
        match delivery_client(&ctx) {
            Ok(client) => deliver_until_stopped(&ctx, &client, &wake, &stop).await,
            Err(e) => tracing::error!(error = %e, "cannot build the hub delivery client; listeners get no events"),
        }
    }
    tracing::info!(worker = "hub-delivery", "background worker stopped");
}

async fn deliver_until_stopped(
    ctx: &web::Data<ServiceContext>,
    client: &reqwest::Client,
    wake: &Notify,
    stop: &CancellationToken,
) {
    let mut in_flight: JoinSet<()> = JoinSet::new();
    let mut failures = 0u32;
    loop {
        let free = DELIVERY_CONCURRENCY - in_flight.len();
        let mut pause = DELIVERY_POLL;
        if free > 0 {
            let claim = sqlx::query_as::<_, Claimed>(CLAIM_SQL)
                .bind(free as i64)
                .bind(DELIVERY_LEASE.as_secs_f64())
                .fetch_all(&ctx.db);
            let Some(claimed) = finish_unless_stopped(stop, tokio::time::timeout(QUERY_TIMEOUT, claim)).await else {
                break;
            };
            match claimed.unwrap_or(Err(sqlx::Error::PoolTimedOut)) {
                Ok(claimed) => {
                    failures = 0;
                    for delivery in claimed {
                        in_flight.spawn(deliver_one(ctx.clone(), client.clone(), delivery));
                    }
                }
                Err(e) => {
                    failures += 1;
                    if failures == 1 || failures.is_multiple_of(20) {
                        tracing::warn!(error = %e, failures, "cannot claim hub deliveries");
                    }
                    pause = backoff(RELAY_BACKOFF_FIRST, RELAY_BACKOFF_MAX, failures);
                }
            }
        }
        tokio::select! {
            // A finished delivery frees a slot, and its listener's next event may now go.
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                if let Err(e) = done {
                    tracing::error!(error = %e, "hub delivery task failed");
                }
            }
            _ = wake.notified() => {}
            _ = tokio::time::sleep(pause) => {}
            _ = stop.cancelled() => break,
        }
    }
    // Let what is in flight finish (each bounded by the delivery timeout) so outcomes are recorded; whatever
    // is still running then is aborted, and its lease lapses into a retry.
    let drained =
        tokio::time::timeout(DELIVERY_TIMEOUT + STOP_GRACE, async { while in_flight.join_next().await.is_some() {} })
            .await;
    if drained.is_err() {
        in_flight.shutdown().await;
    }
}

/// The client for listener callbacks: short timeouts, no redirects (a redirect could lead anywhere), and
/// unless private callbacks are allowed, a resolver that refuses names resolving to internal addresses.
fn delivery_client(ctx: &ServiceContext) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .timeout(DELIVERY_TIMEOUT)
        .connect_timeout(DELIVERY_CONNECT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(format!("bss-oss-{}/{} (TMF630 hub)", ctx.spec.name, ctx.spec.version));
    if !ctx.settings.hub_allow_private_callbacks {
        builder = builder.dns_resolver(PublicAddressesOnly);
    }
    builder.build()
}

/// Resolves callback host names, dropping internal addresses; a name with nothing else is an error.
struct PublicAddressesOnly;

impl reqwest::dns::Resolve for PublicAddressesOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let public: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.filter(|a| !is_internal_address(a.ip())).collect();
            if public.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

async fn deliver_one(ctx: web::Data<ServiceContext>, client: reqwest::Client, delivery: Claimed) {
    let max_attempts = i32::try_from(ctx.settings.hub_delivery_max_attempts).unwrap_or(i32::MAX);
    let (outcome, record) = match post(&ctx, &client, &delivery).await {
        Ok(()) => {
            tracing::debug!(listener_id = %delivery.listener_id, event_id = %delivery.event_id, "event delivered");
            let record = sqlx::query(
                "UPDATE listener_delivery SET delivered_at = now() WHERE outbox_id = $1 AND listener_id = $2",
            );
            ("delivered", record)
        }
        Err(error) if delivery.attempts >= max_attempts => {
            tracing::warn!(
                listener_id = %delivery.listener_id,
                event_id = %delivery.event_id,
                attempts = delivery.attempts,
                error = %error,
                "giving up delivering an event to a hub listener"
            );
            let record = sqlx::query(
                "UPDATE listener_delivery SET failed_at = now(), last_error = $1 WHERE outbox_id = $2 AND listener_id = $3",
            )
            .bind(error);
            ("failed", record)
        }
        Err(error) => {
            let delay = retry_delay(delivery.attempts);
            tracing::info!(
                listener_id = %delivery.listener_id,
                event_id = %delivery.event_id,
                attempts = delivery.attempts,
                retry_in_secs = delay.as_secs(),
                error = %error,
                "hub listener did not take an event; will retry"
            );
            let record = sqlx::query(
                "UPDATE listener_delivery SET last_error = $1, next_attempt_at = now() + make_interval(secs => $2)
                 WHERE outbox_id = $3 AND listener_id = $4",
            )
            .bind(error)
            .bind(delay.as_secs_f64());
            ("retry", record)
        }
    };
    metrics::counter!(LISTENER_DELIVERIES_TOTAL, "service" => ctx.spec.name, "outcome" => outcome).increment(1);
    // The branch bound its own values first; the row's key comes last ($n order follows the binds).
    let record = record.bind(delivery.outbox_id).bind(&delivery.listener_id).execute(&ctx.db);
    let recorded = match tokio::time::timeout(QUERY_TIMEOUT, record).await {
        Ok(Ok(_)) => return,
        Ok(Err(e)) => e.to_string(),
        Err(_) => "timed out".to_owned(),
    };
    // The lease lapses and the delivery is tried again: at least once, never lost.
    tracing::warn!(
        error = %recorded,
        listener_id = %delivery.listener_id,
        event_id = %delivery.event_id,
        outcome,
        "cannot record a hub delivery outcome"
    );
}

/// The delay before the next attempt after `attempts` failed ones: 1 s, 2 s, 4 s, … capped at 5 min.
fn retry_delay(attempts: i32) -> Duration {
    backoff(RETRY_FIRST, RETRY_MAX, u32::try_from(attempts).unwrap_or(1))
}

/// POSTs the event; `Err` carries what goes into `last_error`.
async fn post(ctx: &ServiceContext, client: &reqwest::Client, delivery: &Claimed) -> Result<(), String> {
    let url = reqwest::Url::parse(&delivery.callback).map_err(|e| format!("callback is not a URL: {e}"))?;
    // Registered while private callbacks were allowed, perhaps: the setting in force now decides.
    if !ctx.settings.hub_allow_private_callbacks
        && let Some(why) = internal_callback(&url)
    {
        return Err(format!("callback refused: {why}"));
    }
    let body = serde_json::to_vec(&delivery.payload.0).map_err(|e| e.to_string())?;
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| truncate(&error_chain(&e)))?;
    let status = response.status();
    if status.is_success() { Ok(()) } else { Err(format!("HTTP {status}")) }
}

/// An error and its causes on one line (reqwest's own message alone hides "connection refused").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn truncate(text: &str) -> String {
    text.chars().take(LAST_ERROR_MAX_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload() -> Value {
        let resource =
            json!({"id": "po-1", "lifecycleStatus": "Active", "version": 3, "tags": [{"n": "a"}, {"n": "b"}]});
        let event = NewEvent {
            event_type: "ProductOfferingCreateEvent".into(),
            resource_type: "productOffering",
            resource_id: "po-1",
            resource: &resource,
        };
        event_payload(Uuid::nil(), chrono::DateTime::UNIX_EPOCH, &event)
    }

    #[test]
    fn the_payload_is_a_tmf_notification() {
        let p = payload();
        assert_eq!(p["@type"], "ProductOfferingCreateEvent");
        assert_eq!(p["eventType"], "ProductOfferingCreateEvent");
        assert_eq!(p["eventId"], Uuid::nil().to_string());
        assert_eq!(p["eventTime"], "1970-01-01T00:00:00.000Z");
        assert_eq!(p["event"]["productOffering"]["id"], "po-1");
    }

    #[test]
    fn listener_queries_select_events() {
        let p = payload();
        let wants = |q: &str| listener_wants("l", Some(q), &p);
        assert!(wants("eventType=ProductOfferingCreateEvent"));
        assert!(wants("?eventType=X,ProductOfferingCreateEvent"));
        assert!(!wants("eventType=ProductOfferingDeleteEvent"));
        assert!(wants("event.productOffering.lifecycleStatus=Active&eventType=ProductOfferingCreateEvent"));
        assert!(!wants("event.productOffering.lifecycleStatus=Active&eventType=Other"));
        assert!(wants("event.productOffering.version.gt=2"));
        assert!(!wants("event.productOffering.version.gt=3"));
        assert!(wants("event.productOffering.tags.n=b"));
        assert!(!wants("event.productOffering.missing=x"));
        assert!(listener_wants("l", None, &p), "no query: every event");
        assert!(!listener_wants("l", Some("=broken"), &p), "an unusable stored query matches nothing");
        for bad in ["=x", "limit=5", "event.productOffering.version.like=3"] {
            assert!(parse_listener_query(bad).is_err(), "{bad:?} must not parse");
        }
    }

    #[tokio::test]
    async fn the_delivery_resolver_drops_internal_addresses() {
        use reqwest::dns::Resolve as _;
        let refused = PublicAddressesOnly.resolve("localhost".parse().unwrap()).await;
        assert!(refused.is_err(), "localhost resolves to loopback only");
    }

    #[test]
    fn retries_back_off_from_one_second_to_five_minutes() {
        let delays: Vec<u64> = (1..=12).map(|n| retry_delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert_eq!(backoff(RELAY_BACKOFF_FIRST, RELAY_BACKOFF_MAX, 1), Duration::from_millis(500));
        assert_eq!(backoff(RELAY_BACKOFF_FIRST, RELAY_BACKOFF_MAX, 50), RELAY_BACKOFF_MAX);
    }
}

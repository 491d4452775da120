//! The order-event consumer: turns completed order items into billable products (docs/adr/0015, "Consuming
//! orders").
//!
//! The order service publishes its TMF events to the Redis Stream `<REDIS_KEY_PREFIX>:events:order` (ADR 0012),
//! at least once. This worker reads it in the consumer group [`GROUP`] (created at `0` with `MKSTREAM`, so
//! idempotently and from the start of the stream: orders completed before billing first ran are billed too,
//! and `processed_event` makes reading them again harmless), as the consumer named by
//! `BILLING_CONSUMER_NAME`:
//! 1. on start, its own pending entries (`XREADGROUP … 0`): what it read before a crash but never acked;
//! 2. then new entries (`>`, `BLOCK` at most 2 s, half of `REDIS_TIMEOUT_MS` and `BILLING_CLAIM_IDLE_MS`);
//! 3. every `BILLING_CLAIM_IDLE_MS`, entries pending longer than that on any consumer (`XAUTOCLAIM`): a dead
//!    consumer's entries, and this consumer's own failures, which is how a failed entry is tried again.
//!
//! An entry delivered more than `BILLING_MAX_DELIVERIES` times (`XPENDING` delivery count) is copied to the
//! dead-letter stream `<prefix>:events:order:dead` and acked, in one `MULTI`, so a poison entry never blocks the
//! group. Each entry is applied in ONE PostgreSQL transaction that first inserts its `eventId` into
//! `processed_event` (a conflict means it was applied already: nothing else is done) and is `XACK`ed only after
//! the commit: exactly once in effect. Redis or PostgreSQL down: the worker backs off (100 ms doubling to 10 s)
//! and resumes; it never busy-loops.
//!
//! Every product is billed on an account: the item's `billingAccount`, else the order's, else the customer's
//! default account in the currency of the item's prices ([`crate::default_accounts`], created in the same
//! transaction on first need). Its dates (`start_date` of an added product, `end_date` of a terminated one) are
//! the event's `eventTime` as a calendar date in that account's time zone. An event naming an account billing
//! does not have cannot be applied: it is rolled back, logged and left pending, and dead-lettered after
//! `BILLING_MAX_DELIVERIES`.

use crate::calendar::AccountTimeZone;
use crate::default_accounts::{DefaultTerms, default_account, default_terms};
use actix_web::web;
use anyhow::Context as _;
use bss_common::ServiceContext;
use bss_common::kv::redis::{self, Value as RedisValue};
use bss_tmf::money::Currency;
use bss_tmf::money::Money;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The consumer group of the billing service on the order stream.
pub const GROUP: &str = "billing";
/// Entries read per command.
const BATCH: usize = 50;
/// The longest a `XREADGROUP … >` blocks (shorter when `BILLING_CLAIM_IDLE_MS` or half of `REDIS_TIMEOUT_MS` is).
const MAX_BLOCK: Duration = Duration::from_secs(2);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// The order service's stream (`<prefix>:events:order`, what `bss_tmf::events::stream_name` gives the order
/// service under the same `REDIS_KEY_PREFIX`).
pub fn order_stream(ctx: &ServiceContext) -> String {
    ctx.redis.key("events:order")
}

/// Where entries delivered too often go: `<prefix>:events:order:dead`.
pub fn dead_letter_stream(ctx: &ServiceContext) -> String {
    ctx.redis.key("events:order:dead")
}

/// Spawns the consumer (stop-token aware; awaited at shutdown).
pub fn start(ctx: &web::Data<ServiceContext>) {
    ctx.lifecycle.spawn_worker("order-consumer", run(ctx.clone()));
}

/// One stream entry: its id and fields (`None` for an entry deleted from the stream while pending).
#[derive(Debug, Clone)]
struct Entry {
    id: String,
    fields: Option<HashMap<String, String>>,
}

/// Where the consumer stands.
struct State {
    group_ready: bool,
    /// The cursor of the start-up re-read of its own pending entries; `None` once done.
    pending_from: Option<String>,
    last_claim: Option<Instant>,
}

async fn run(ctx: web::Data<ServiceContext>) {
    let stop = ctx.lifecycle.stop_token();
    tokio::select! {
        _ = ctx.lifecycle.migrated() => {}
        _ = stop.cancelled() => return,
    }
    let mut state = State { group_ready: false, pending_from: Some("0".to_owned()), last_claim: None };
    let mut failures: u32 = 0;
    loop {
        let outcome = tokio::select! {
            outcome = round(&ctx, &mut state) => outcome,
            _ = stop.cancelled() => break,
        };
        match outcome {
            Ok(()) => failures = 0,
            Err(e) => {
                failures = failures.saturating_add(1);
                let pause = backoff(failures);
                tracing::warn!(error = %format!("{e:#}"), pause_ms = pause.as_millis() as u64, "order consumer round failed");
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = stop.cancelled() => break,
                }
            }
        }
    }
    tracing::info!(worker = "order-consumer", "background worker stopped");
}

fn backoff(failures: u32) -> Duration {
    FIRST_BACKOFF.saturating_mul(2u32.saturating_pow(failures.saturating_sub(1).min(20))).min(MAX_BACKOFF)
}

/// One step: create the group, or re-read a batch of own pending entries, or claim idle ones, or read new ones.
async fn round(ctx: &ServiceContext, state: &mut State) -> anyhow::Result<()> {
    let settings = &ctx.settings.order_consumer;
    let stream = order_stream(ctx);
    if !state.group_ready {
        create_group(ctx, &stream).await?;
        state.group_ready = true;
    }
    if let Some(from) = state.pending_from.clone() {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP").arg(GROUP).arg(&settings.name).arg("COUNT").arg(BATCH).arg("STREAMS").arg(&stream).arg(&from);
        let entries = read_reply(&query(ctx, &cmd, Duration::ZERO).await?)?;
        state.pending_from = entries.last().map(|e| e.id.clone());
        return handle_redelivered(ctx, &stream, entries).await;
    }
    if state.last_claim.is_none_or(|at| at.elapsed() >= settings.claim_idle) {
        state.last_claim = Some(Instant::now());
        claim(ctx, &stream).await?;
        return report_lag(ctx, &stream).await;
    }
    // The connection's own response timeout is `REDIS_TIMEOUT_MS`: a longer BLOCK would be cut off by it.
    let block = MAX_BLOCK.min(settings.claim_idle).min(ctx.redis.timeout() / 2);
    let mut cmd = redis::cmd("XREADGROUP");
    cmd.arg("GROUP")
        .arg(GROUP)
        .arg(&settings.name)
        .arg("COUNT")
        .arg(BATCH)
        .arg("BLOCK")
        .arg(block.as_millis() as u64)
        .arg("STREAMS")
        .arg(&stream)
        .arg(">");
    let entries = read_reply(&query(ctx, &cmd, block).await?)?;
    for entry in entries {
        // First deliveries: nothing to count.
        handle(ctx, &stream, &entry).await?;
    }
    Ok(())
}

/// `XGROUP CREATE <stream> billing 0 MKSTREAM`; an existing group (BUSYGROUP) is fine.
async fn create_group(ctx: &ServiceContext, stream: &str) -> anyhow::Result<()> {
    let mut cmd = redis::cmd("XGROUP");
    cmd.arg("CREATE").arg(stream).arg(GROUP).arg("0").arg("MKSTREAM");
    match query(ctx, &cmd, Duration::ZERO).await {
        Ok(_) => Ok(()),
        Err(e) if format!("{e:#}").contains("BUSYGROUP") => Ok(()),
        Err(e) => Err(e),
    }
}

/// `XAUTOCLAIM` entries idle longer than `BILLING_CLAIM_IDLE_MS` (a few pages per round), then handles them.
async fn claim(ctx: &ServiceContext, stream: &str) -> anyhow::Result<()> {
    let settings = &ctx.settings.order_consumer;
    let mut start = "0-0".to_owned();
    for _ in 0..10 {
        let mut cmd = redis::cmd("XAUTOCLAIM");
        cmd.arg(stream)
            .arg(GROUP)
            .arg(&settings.name)
            .arg(settings.claim_idle.as_millis() as u64)
            .arg(&start)
            .arg("COUNT")
            .arg(BATCH);
        let reply = query(ctx, &cmd, Duration::ZERO).await?;
        let parts = elements(&reply);
        let next = parts.first().and_then(text).context("XAUTOCLAIM reply without a cursor")?;
        let entries = parts.get(1).map(entries_of).transpose()?.unwrap_or_default();
        handle_redelivered(ctx, stream, entries).await?;
        if next == "0-0" {
            break;
        }
        start = next;
    }
    Ok(())
}

/// Entries delivered before: dead-lettered past the delivery limit, handled otherwise.
async fn handle_redelivered(ctx: &ServiceContext, stream: &str, entries: Vec<Entry>) -> anyhow::Result<()> {
    let max = u64::from(ctx.settings.order_consumer.max_deliveries);
    for entry in entries {
        if entry.fields.is_none() {
            // Deleted from the stream (XDEL/XTRIM) while pending: nothing to apply.
            ack(ctx, stream, &entry.id).await?;
            continue;
        }
        let deliveries = delivery_count(ctx, stream, &entry.id).await?;
        if deliveries > max {
            dead_letter(ctx, stream, &entry, deliveries).await?;
        } else {
            handle(ctx, stream, &entry).await?;
        }
    }
    Ok(())
}

/// Applies one entry and acks it after the commit. An entry that cannot be applied (bad payload) stays pending
/// and is claimed again later; a database failure fails the round (backoff).
async fn handle(ctx: &ServiceContext, stream: &str, entry: &Entry) -> anyhow::Result<()> {
    let Some(fields) = &entry.fields else {
        return ack(ctx, stream, &entry.id).await;
    };
    let event = match parse_event(fields) {
        Ok(event) => event,
        Err(reason) => {
            tracing::warn!(entry = %entry.id, reason = %reason, "order event cannot be applied; left pending");
            count_consumed("malformed");
            return Ok(());
        }
    };
    let outcome = apply(ctx, &event).await.with_context(|| format!("applying order event {}", event.event_id))?;
    match outcome {
        Outcome::Applied => count_consumed("applied"),
        Outcome::AlreadyApplied => count_consumed("duplicate"),
        Outcome::Unresolvable(reason) => {
            tracing::warn!(entry = %entry.id, event = %event.event_id, reason = %reason, "order event cannot be applied; left pending");
            count_consumed("unresolvable");
            return Ok(());
        }
    }
    ack(ctx, stream, &entry.id).await
}

/// `bss_oss_events_consumed_total{outcome}`: `applied`, `duplicate` (already in `processed_event`),
/// `malformed` and `unresolvable` (left pending), `dead_lettered`.
fn count_consumed(outcome: &'static str) {
    metrics::counter!(bss_common::metrics::EVENTS_CONSUMED_TOTAL, "service" => "billing", "outcome" => outcome)
        .increment(1);
}

/// Sets `bss_oss_consumer_lag` (entries not yet delivered to the group) and `bss_oss_consumer_pending`
/// (delivered, not acknowledged) from `XINFO GROUPS`. Redis leaves `lag` nil when it cannot tell (after
/// deletions in the stream): the gauge then keeps its last value rather than claiming zero.
async fn report_lag(ctx: &ServiceContext, stream: &str) -> anyhow::Result<()> {
    let mut cmd = redis::cmd("XINFO");
    cmd.arg("GROUPS").arg(stream);
    let reply = query(ctx, &cmd, Duration::ZERO).await?;
    for group in elements(&reply) {
        let fields = elements(&group);
        let field = |name: &str| {
            fields
                .chunks(2)
                .find(|pair| text(&pair[0]).as_deref() == Some(name))
                .and_then(|pair| pair.get(1))
                .and_then(text)
        };
        if field("name").as_deref() != Some(GROUP) {
            continue;
        }
        let labels = [("service", "billing"), ("stream", "order"), ("group", GROUP)];
        if let Some(pending) = field("pending").and_then(|n| n.parse::<f64>().ok()) {
            metrics::gauge!(bss_common::metrics::CONSUMER_PENDING, &labels).set(pending);
        }
        if let Some(lag) = field("lag").and_then(|n| n.parse::<f64>().ok()) {
            metrics::gauge!(bss_common::metrics::CONSUMER_LAG, &labels).set(lag);
        }
    }
    Ok(())
}

async fn ack(ctx: &ServiceContext, stream: &str, id: &str) -> anyhow::Result<()> {
    let mut cmd = redis::cmd("XACK");
    cmd.arg(stream).arg(GROUP).arg(id);
    query(ctx, &cmd, Duration::ZERO).await.map(drop)
}

/// The entry's delivery count (`XPENDING <stream> billing <id> <id> 1`); 0 when no longer pending.
async fn delivery_count(ctx: &ServiceContext, stream: &str, id: &str) -> anyhow::Result<u64> {
    let mut cmd = redis::cmd("XPENDING");
    cmd.arg(stream).arg(GROUP).arg(id).arg(id).arg(1);
    let reply = query(ctx, &cmd, Duration::ZERO).await?;
    let count = elements(&reply)
        .first()
        .map(elements)
        .and_then(|row| row.get(3).and_then(text))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Ok(count)
}

/// Copies the entry to the dead-letter stream (its fields plus `sourceId`, `deliveries`, `consumer`) and acks it,
/// in one `MULTI`.
async fn dead_letter(ctx: &ServiceContext, stream: &str, entry: &Entry, deliveries: u64) -> anyhow::Result<()> {
    let consumer = &ctx.settings.order_consumer.name;
    let mut pipe = redis::pipe();
    pipe.atomic();
    let xadd = pipe.cmd("XADD").arg(dead_letter_stream(ctx)).arg("*");
    let mut fields: Vec<_> = entry.fields.iter().flatten().collect();
    fields.sort();
    for (name, value) in fields {
        xadd.arg(name).arg(value);
    }
    xadd.arg("sourceId").arg(&entry.id).arg("deliveries").arg(deliveries).arg("consumer").arg(consumer);
    pipe.cmd("XACK").arg(stream).arg(GROUP).arg(&entry.id);
    let mut conn = ctx.redis.get().await?;
    let sent = tokio::time::timeout(ctx.redis.timeout(), pipe.query_async::<RedisValue>(&mut conn)).await;
    match sent {
        Ok(Ok(_)) => {
            tracing::error!(entry = %entry.id, deliveries, "order event dead-lettered after too many deliveries");
            count_consumed("dead_lettered");
            Ok(())
        }
        Ok(Err(e)) => Err(e).context("dead-lettering failed"),
        Err(_) => {
            ctx.redis.report_failure();
            anyhow::bail!("dead-lettering timed out")
        }
    }
}

/// Runs one command on a pooled connection, waiting the Redis timeout plus `block` (for `BLOCK`).
async fn query(ctx: &ServiceContext, cmd: &redis::Cmd, block: Duration) -> anyhow::Result<RedisValue> {
    let mut conn = ctx.redis.get().await?;
    match tokio::time::timeout(ctx.redis.timeout() + block, cmd.query_async::<RedisValue>(&mut conn)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => {
            if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() || e.is_connection_refusal() {
                ctx.redis.report_failure();
            }
            Err(e).context("Redis command failed")
        }
        Err(_) => {
            ctx.redis.report_failure();
            anyhow::bail!("Redis command timed out")
        }
    }
}

fn elements(value: &RedisValue) -> Vec<RedisValue> {
    match value {
        RedisValue::Array(items) | RedisValue::Set(items) => items.clone(),
        RedisValue::Map(pairs) => pairs.iter().flat_map(|(k, v)| [k.clone(), v.clone()]).collect(),
        RedisValue::Attribute { data, .. } => elements(data),
        _ => Vec::new(),
    }
}

fn text(value: &RedisValue) -> Option<String> {
    match value {
        RedisValue::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        RedisValue::SimpleString(s) => Some(s.clone()),
        RedisValue::VerbatimString { text, .. } => Some(text.clone()),
        RedisValue::Int(n) => Some(n.to_string()),
        RedisValue::Okay => Some("OK".to_owned()),
        _ => None,
    }
}

/// The entries of an `XREADGROUP` reply (nil on timeout; `[[stream, entries]]`, or a map in RESP3).
fn read_reply(reply: &RedisValue) -> anyhow::Result<Vec<Entry>> {
    match reply {
        RedisValue::Nil => Ok(Vec::new()),
        RedisValue::Map(pairs) => pairs.iter().map(|(_, v)| entries_of(v)).try_fold(Vec::new(), |mut all, e| {
            all.extend(e?);
            Ok(all)
        }),
        other => {
            let mut all = Vec::new();
            for stream in elements(other) {
                let parts = elements(&stream);
                all.extend(entries_of(parts.get(1).context("XREADGROUP reply without entries")?)?);
            }
            Ok(all)
        }
    }
}

/// `[[id, [field, value, …] | nil], …]`.
fn entries_of(value: &RedisValue) -> anyhow::Result<Vec<Entry>> {
    elements(value)
        .iter()
        .map(|raw| {
            let parts = elements(raw);
            let id = parts.first().and_then(text).context("stream entry without an id")?;
            let fields = match parts.get(1) {
                None | Some(RedisValue::Nil) => None,
                Some(list) => {
                    let flat = elements(list);
                    Some(
                        flat.chunks(2)
                            .filter_map(|pair| Some((text(pair.first()?)?, text(pair.get(1)?)?)))
                            .collect::<HashMap<_, _>>(),
                    )
                }
            };
            Ok(Entry { id, fields })
        })
        .collect()
}

/// An order event as billing reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderEvent {
    pub event_id: Uuid,
    /// `eventTime`: as a date in the product's account's time zone, the start of added products and the end of
    /// deleted ones.
    pub time: DateTime<Utc>,
    pub effects: Vec<Effect>,
}

/// What an order event does to billable products.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Add(NewProduct),
    /// Ends the active product whose id is the item's `product.id`.
    Terminate {
        product_id: String,
    },
}

/// A completed `add` item of a completed or partial order.
#[derive(Debug, Clone, PartialEq)]
pub struct NewProduct {
    pub order_id: String,
    pub order_item_id: String,
    pub customer_id: String,
    /// The item's `billingAccount`, else the order's; `None`: the customer's default account.
    pub billing_account_id: Option<String>,
    pub offering_id: Option<String>,
    pub offering_name: Option<String>,
    pub quantity: i32,
    pub prices: Vec<PriceSnapshot>,
}

/// One `itemPrice` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceSnapshot {
    pub name: Option<String>,
    pub price_type: String,
    pub recurring_charge_period: Option<String>,
    pub amount: Money,
    pub product_offering_price_id: Option<String>,
}

impl NewProduct {
    /// The currency of the item's prices (one per order, the order service enforces it); `None` without prices.
    pub fn currency(&self) -> Option<Currency> {
        self.prices.first().map(|price| price.amount.currency())
    }
}

/// The local calendar date of `instant` for an account in `zone`: a product's start or end date.
pub fn local_date(zone: AccountTimeZone, instant: DateTime<Utc>) -> NaiveDate {
    zone.local_date(instant)
}

/// Reads an entry's fields (`eventId`, `payload`); an error says why it can never be applied.
pub fn parse_event(fields: &HashMap<String, String>) -> Result<OrderEvent, String> {
    let payload: Value = serde_json::from_str(fields.get("payload").ok_or("no payload field")?)
        .map_err(|e| format!("payload is not JSON: {e}"))?;
    let raw_id = fields.get("eventId").map(String::as_str).or(payload["eventId"].as_str()).ok_or("no eventId")?;
    let event_id = Uuid::parse_str(raw_id).map_err(|e| format!("eventId {raw_id:?} is not a UUID: {e}"))?;
    let time = payload["eventTime"].as_str().ok_or("payload without eventTime")?;
    let time = DateTime::parse_from_rfc3339(time).map_err(|e| format!("eventTime {time:?}: {e}"))?.with_timezone(&Utc);
    let effects = match payload["event"].get("productOrder") {
        Some(order) => order_effects(order)?,
        // Other resources of the order stream (cancelProductOrder) bill nothing.
        None => Vec::new(),
    };
    Ok(OrderEvent { event_id, time, effects })
}

fn opt_str(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// The effects of one order document: only `completed` / `partial` orders, only `completed` items.
pub fn order_effects(order: &Value) -> Result<Vec<Effect>, String> {
    let state = order["state"].as_str().unwrap_or_default();
    if !matches!(state, "completed" | "partial") {
        return Ok(Vec::new());
    }
    let order_id = order["id"].as_str().ok_or("productOrder without id")?;
    let customer = order["relatedParty"].as_array().into_iter().flatten().find(|p| {
        p["role"].as_str().is_some_and(|r| r.eq_ignore_ascii_case("customer"))
            || (p["role"].is_null() && p["@referredType"] == "Customer")
    });
    let customer_id = customer.and_then(|c| opt_str(c, "id"));
    let order_account = order["billingAccount"].get("id").and_then(Value::as_str);
    let mut effects = Vec::new();
    for (index, item) in order["productOrderItem"].as_array().into_iter().flatten().enumerate() {
        if item["state"] != "completed" {
            continue;
        }
        match item["action"].as_str() {
            Some("add") => {
                let Some(customer_id) = customer_id.clone() else {
                    return Err(format!("order {order_id} has a completed item but no customer"));
                };
                let order_item_id = item["id"].as_str().ok_or(format!("productOrderItem[{index}] without id"))?;
                let quantity = match &item["quantity"] {
                    Value::Null => 1,
                    q => q
                        .as_i64()
                        .and_then(|q| i32::try_from(q).ok())
                        .filter(|q| *q > 0)
                        .ok_or(format!("productOrderItem[{index}].quantity {q} is not a positive integer"))?,
                };
                let mut prices = Vec::new();
                for (p, price) in item["itemPrice"].as_array().into_iter().flatten().enumerate() {
                    let at = format!("productOrderItem[{index}].itemPrice[{p}]");
                    prices.push(PriceSnapshot {
                        name: opt_str(price, "name"),
                        price_type: opt_str(price, "priceType").ok_or(format!("{at} without priceType"))?,
                        recurring_charge_period: opt_str(price, "recurringChargePeriod"),
                        amount: Money::from_tmf(&price["price"]["dutyFreeAmount"])
                            .map_err(|e| format!("{at}.price.dutyFreeAmount: {}", e.0))?,
                        product_offering_price_id: price["productOfferingPrice"]
                            .get("id")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                    });
                }
                effects.push(Effect::Add(NewProduct {
                    order_id: order_id.to_owned(),
                    order_item_id: order_item_id.to_owned(),
                    customer_id,
                    billing_account_id: item["billingAccount"]
                        .get("id")
                        .and_then(Value::as_str)
                        .or(order_account)
                        .map(str::to_owned),
                    offering_id: item["productOffering"].get("id").and_then(Value::as_str).map(str::to_owned),
                    offering_name: item["productOffering"].get("name").and_then(Value::as_str).map(str::to_owned),
                    quantity,
                    prices,
                }));
            }
            Some("delete") => {
                if let Some(product_id) = item["product"].get("id").and_then(Value::as_str) {
                    effects.push(Effect::Terminate { product_id: product_id.to_owned() });
                } else {
                    tracing::warn!(
                        order = order_id,
                        item = index,
                        "completed delete item without product.id: nothing terminated"
                    );
                }
            }
            // modify / noChange: not billed differently yet.
            _ => {}
        }
    }
    Ok(effects)
}

/// What [`apply`] did with an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Its effects are committed (with its `processed_event` row).
    Applied,
    /// Its id was in `processed_event`: nothing done.
    AlreadyApplied,
    /// It names something billing does not have (a billing account): rolled back, to be left pending.
    Unresolvable(String),
}

/// The transaction: `processed_event` first (a conflict: already applied, nothing else), then the effects.
pub async fn apply(ctx: &ServiceContext, event: &OrderEvent) -> anyhow::Result<Outcome> {
    let defaults = default_terms(&ctx.settings.default_account).context("BILLING_DEFAULT_* settings")?;
    let mut tx = ctx.db.begin().await.context("cannot begin")?;
    let fresh = sqlx::query(
        "INSERT INTO processed_event (event_id) VALUES ($1) ON CONFLICT ON CONSTRAINT processed_event_pkey DO NOTHING",
    )
    .bind(event.event_id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !fresh {
        tx.rollback().await?;
        return Ok(Outcome::AlreadyApplied);
    }
    for effect in &event.effects {
        let outcome = match effect {
            Effect::Add(product) => add(&mut tx, &defaults, product, event.time).await?,
            Effect::Terminate { product_id } => terminate(&mut tx, product_id, event.time).await?,
        };
        if let Outcome::Unresolvable(reason) = outcome {
            tx.rollback().await?;
            return Ok(Outcome::Unresolvable(reason));
        }
    }
    tx.commit().await?;
    Ok(Outcome::Applied)
}

/// The time zone of billing account `id`, read on `tx` (so a default account created in it is seen); `None`
/// when billing has no such account.
async fn account_time_zone(tx: &mut PgConnection, id: &str) -> anyhow::Result<Option<AccountTimeZone>> {
    let zone: Option<Option<String>> =
        sqlx::query_scalar("SELECT doc->>'timeZone' FROM tmf_resource WHERE kind = $1 AND id = $2")
            .bind(crate::accounts::BILLING_ACCOUNT.name)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(zone) = zone else { return Ok(None) };
    // Every stored account was validated, so its zone parses; anything else is corruption, not a bad event.
    let zone = zone.with_context(|| format!("billingAccount {id} has no timeZone"))?;
    Ok(Some(AccountTimeZone::parse(&zone).with_context(|| format!("billingAccount {id}: timeZone {zone:?}"))?))
}

async fn add(
    tx: &mut PgConnection,
    defaults: &DefaultTerms,
    product: &NewProduct,
    at: DateTime<Utc>,
) -> anyhow::Result<Outcome> {
    // The several events of one completed order carry the same items: only the first creates the product (and,
    // when needed, the default account); the others change nothing, even if the account has gone since.
    let known: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM billable_product WHERE order_id = $1 AND order_item_id = $2")
            .bind(&product.order_id)
            .bind(&product.order_item_id)
            .fetch_optional(&mut *tx)
            .await?;
    if known.is_some() {
        return Ok(Outcome::Applied);
    }
    let account_id = match &product.billing_account_id {
        Some(id) => id.clone(),
        None => default_account(tx, defaults, &product.customer_id, product.currency()).await?,
    };
    let Some(zone) = account_time_zone(tx, &account_id).await? else {
        return Ok(Outcome::Unresolvable(format!(
            "order {} item {} names billingAccount '{account_id}', which billing does not have",
            product.order_id, product.order_item_id
        )));
    };
    let id: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO billable_product (id, order_id, order_item_id, customer_id, billing_account_id,
             product_offering_id, product_offering_name, quantity, start_date)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT ON CONSTRAINT billable_product_order_item_key DO NOTHING RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(&product.order_id)
    .bind(&product.order_item_id)
    .bind(&product.customer_id)
    .bind(&account_id)
    .bind(&product.offering_id)
    .bind(&product.offering_name)
    .bind(product.quantity)
    .bind(local_date(zone, at))
    .fetch_optional(&mut *tx)
    .await?;
    let Some(id) = id else { return Ok(Outcome::Applied) };
    for (position, price) in product.prices.iter().enumerate() {
        sqlx::query(
            "INSERT INTO billable_product_price (billable_product_id, position, name, price_type,
                 recurring_charge_period, amount_minor, currency, product_offering_price_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(position as i32)
        .bind(&price.name)
        .bind(&price.price_type)
        .bind(&price.recurring_charge_period)
        .bind(price.amount.minor())
        .bind(price.amount.currency().code())
        .bind(&price.product_offering_price_id)
        .execute(&mut *tx)
        .await?;
    }
    Ok(Outcome::Applied)
}

/// Ends the active product `product_id` on the event's date in its account's time zone (UTC for a product
/// written before products had to have an account), never before its start.
async fn terminate(tx: &mut PgConnection, product_id: &str, at: DateTime<Utc>) -> anyhow::Result<Outcome> {
    let account: Option<Option<String>> = sqlx::query_scalar(
        "SELECT billing_account_id FROM billable_product WHERE id::text = $1 AND state = 'active' FOR UPDATE",
    )
    .bind(product_id)
    .fetch_optional(&mut *tx)
    .await?;
    let end = match account {
        // Unknown or already terminated: nothing to do (a replay, or a product billing never had).
        None => return Ok(Outcome::Applied),
        Some(None) => at.date_naive(),
        Some(Some(account_id)) => match account_time_zone(tx, &account_id).await? {
            Some(zone) => local_date(zone, at),
            None => {
                return Ok(Outcome::Unresolvable(format!(
                    "product {product_id} is billed on billingAccount '{account_id}', which billing no longer has"
                )));
            }
        },
    };
    sqlx::query(
        "UPDATE billable_product SET state = 'terminated', end_date = GREATEST($2, start_date)
         WHERE id::text = $1 AND state = 'active'",
    )
    .bind(product_id)
    .bind(end)
    .execute(&mut *tx)
    .await?;
    Ok(Outcome::Applied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order(state: &str, items: Value) -> Value {
        json!({"id": "o-1", "state": state, "productOrderItem": items,
               "relatedParty": [{"id": "c-1", "@referredType": "Customer", "role": "Customer"}]})
    }

    fn priced_item(id: &str, state: &str) -> Value {
        json!({"id": id, "action": "add", "state": state, "quantity": 2,
               "productOffering": {"id": "po-1", "name": "Fibre"},
               "itemPrice": [{"name": "Monthly", "priceType": "recurring", "recurringChargePeriod": "month",
                              "price": {"dutyFreeAmount": {"unit": "EUR", "value": 29.99}},
                              "productOfferingPrice": {"id": "pop-1"}}]})
    }

    #[test]
    fn only_completed_items_of_completed_or_partial_orders_become_products() {
        let items = json!([priced_item("1", "completed"), priced_item("2", "failed")]);
        for state in ["completed", "partial"] {
            let effects = order_effects(&order(state, items.clone())).unwrap();
            assert_eq!(effects.len(), 1, "{state}");
            let Effect::Add(p) = &effects[0] else { panic!("{effects:?}") };
            assert_eq!((p.order_item_id.as_str(), p.customer_id.as_str(), p.quantity), ("1", "c-1", 2));
            assert_eq!(p.prices[0].amount.minor(), 2999);
            assert_eq!(p.prices[0].product_offering_price_id.as_deref(), Some("pop-1"));
        }
        for state in ["inProgress", "cancelled", "failed", "acknowledged"] {
            assert!(order_effects(&order(state, items.clone())).unwrap().is_empty(), "{state}");
        }
    }

    #[test]
    fn a_completed_delete_item_terminates_its_product_and_a_bad_price_is_refused() {
        let delete = json!([{"id": "1", "action": "delete", "state": "completed", "product": {"id": "p-9"}}]);
        assert_eq!(
            order_effects(&order("completed", delete)).unwrap(),
            [Effect::Terminate { product_id: "p-9".into() }]
        );
        let mut bad = priced_item("1", "completed");
        bad["itemPrice"][0]["price"]["dutyFreeAmount"] = json!({"unit": "EUR", "value": "lots"});
        assert!(order_effects(&order("completed", json!([bad]))).is_err());
    }

    #[test]
    fn an_entry_without_a_json_payload_or_a_uuid_event_id_cannot_be_applied() {
        let fields = |id: &str, payload: &str| {
            HashMap::from([("eventId".to_owned(), id.to_owned()), ("payload".to_owned(), payload.to_owned())])
        };
        assert!(parse_event(&fields(&Uuid::new_v4().to_string(), "not json")).is_err());
        let payload = json!({"eventTime": "2026-11-26T23:30:00+01:00", "event": {"productOrder": order("inProgress", json!([]))}});
        assert!(parse_event(&fields("x", &payload.to_string())).is_err());
        let ok = parse_event(&fields(&Uuid::new_v4().to_string(), &payload.to_string())).unwrap();
        assert_eq!(ok.time, "2026-11-26T22:30:00Z".parse::<DateTime<Utc>>().unwrap());
    }

    #[test]
    fn product_dates_are_the_event_time_in_the_account_time_zone() {
        let at: DateTime<Utc> = "2026-03-01T05:00:00Z".parse().unwrap();
        let date = |zone: &str| local_date(AccountTimeZone::parse(zone).unwrap(), at);
        assert_eq!(date("America/Los_Angeles"), NaiveDate::from_ymd_opt(2026, 2, 28).unwrap(), "21:00 the day before");
        assert_eq!(date("UTC"), NaiveDate::from_ymd_opt(2026, 3, 1).unwrap());
        assert_eq!(date("Asia/Tokyo"), NaiveDate::from_ymd_opt(2026, 3, 1).unwrap());
    }

    #[test]
    fn an_item_bills_in_the_currency_of_its_prices() {
        let effects = order_effects(&order("completed", json!([priced_item("1", "completed")]))).unwrap();
        let Effect::Add(p) = &effects[0] else { panic!("{effects:?}") };
        assert_eq!(p.currency().map(Currency::code), Some("EUR"));
        assert_eq!(p.billing_account_id, None, "no account named: the default account");
        let mut unpriced = priced_item("2", "completed");
        unpriced.as_object_mut().unwrap().remove("itemPrice");
        unpriced["billingAccount"] = json!({"id": "acc-9"});
        let effects = order_effects(&order("completed", json!([unpriced]))).unwrap();
        let Effect::Add(p) = &effects[0] else { panic!("{effects:?}") };
        assert_eq!((p.currency(), p.billing_account_id.as_deref()), (None, Some("acc-9")));
    }
}

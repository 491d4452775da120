//! The audit log: who did what to which resource, with what outcome, under which trace.
//!
//! Four categories are recorded: `security` (every refused request), `data_access` (reads of resources a
//! service marks as personal data), `data_change` (every write), `configuration` (effective settings at start,
//! listener registrations) and `system` (start and stop). Each record goes to two places:
//! - the `audit` log target at once, so log shipping sees it even if the database is down;
//! - the service's own `audit_log` table, written in batches by a background task so the request path never
//!   waits on it. The queue is bounded; a record that does not fit is counted in
//!   `bss_oss_audit_events_dropped_total` and still present in the log stream.
//!
//! Records older than `AUDIT_RETENTION_DAYS` are purged hourly. Records carry no request bodies: personal data
//! stays in the resource tables, the audit log names the resource.

use crate::metrics::{AUDIT_EVENTS_DROPPED, AUDIT_EVENTS_TOTAL, AUDIT_PURGED_TOTAL};
use serde::Serialize;
use sqlx::PgPool;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What kind of event an audit record describes.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AuditCategory {
    Security,
    DataAccess,
    DataChange,
    Configuration,
    System,
}

impl AuditCategory {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditCategory::Security => "security",
            AuditCategory::DataAccess => "data_access",
            AuditCategory::DataChange => "data_change",
            AuditCategory::Configuration => "configuration",
            AuditCategory::System => "system",
        }
    }
}

/// One audit record.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    pub category: AuditCategory,
    /// The authenticated subject, or `anonymous` / `system`.
    pub actor: String,
    /// What was attempted, e.g. `POST /tmf-api/.../productOffering` or `service.start`.
    pub action: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    /// `success`, `denied`, `failure`, or an HTTP status.
    pub outcome: String,
    pub trace_id: Option<String>,
    /// Non-personal detail (denial reason, settings fingerprint).
    pub detail: serde_json::Value,
}

impl AuditRecord {
    pub fn new(
        category: AuditCategory,
        actor: impl Into<String>,
        action: impl Into<String>,
        outcome: impl Into<String>,
    ) -> Self {
        Self {
            category,
            actor: actor.into(),
            action: action.into(),
            resource_type: None,
            resource_id: None,
            outcome: outcome.into(),
            trace_id: crate::telemetry::current_trace_id(),
            detail: serde_json::Value::Null,
        }
    }

    pub fn resource(mut self, resource_type: impl Into<String>, resource_id: Option<String>) -> Self {
        self.resource_type = Some(resource_type.into());
        self.resource_id = resource_id;
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
}

/// The handle services use to record; cheap to clone.
#[derive(Debug, Clone)]
pub struct AuditLog {
    service: &'static str,
    sender: mpsc::Sender<AuditRecord>,
}

const QUEUE_CAPACITY: usize = 10_000;
const BATCH_SIZE: usize = 256;

impl AuditLog {
    /// Creates the log and the writer task's receiving end.
    pub fn new(service: &'static str) -> (Self, AuditWriter) {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        (Self { service, sender }, AuditWriter { service, receiver })
    }

    /// Records without waiting.
    pub fn record(&self, record: AuditRecord) {
        tracing::info!(
            target: "audit",
            category = record.category.as_str(),
            actor = %record.actor,
            action = %record.action,
            resource_type = record.resource_type.as_deref().unwrap_or(""),
            resource_id = record.resource_id.as_deref().unwrap_or(""),
            outcome = %record.outcome,
            "audit"
        );
        let category = record.category.as_str();
        match self.sender.try_send(record) {
            Ok(()) => counter_inc(AUDIT_EVENTS_TOTAL, self.service, category),
            Err(_) => counter_inc(AUDIT_EVENTS_DROPPED, self.service, category),
        }
    }
}

fn counter_inc(name: &'static str, service: &'static str, category: &'static str) {
    metrics::counter!(name, "service" => service, "category" => category).increment(1);
}

/// Drains the queue into PostgreSQL.
#[derive(Debug)]
pub struct AuditWriter {
    service: &'static str,
    receiver: mpsc::Receiver<AuditRecord>,
}

impl AuditWriter {
    /// Writes batches until `stop` fires and the queue is empty (records queued before shutdown are kept).
    pub async fn run(mut self, pool: PgPool, stop: CancellationToken) {
        let mut batch = Vec::with_capacity(BATCH_SIZE);
        loop {
            let received = tokio::select! {
                n = self.receiver.recv_many(&mut batch, BATCH_SIZE) => n,
                _ = stop.cancelled() => {
                    self.receiver.close();
                    self.receiver.recv_many(&mut batch, QUEUE_CAPACITY).await
                }
            };
            if received == 0 {
                break;
            }
            if let Err(e) = insert_batch(&pool, &batch).await {
                tracing::warn!(error = %e, records = batch.len(), "audit records not stored (still in the log stream)");
                for record in &batch {
                    counter_inc(AUDIT_EVENTS_DROPPED, self.service, record.category.as_str());
                }
            }
            batch.clear();
            if stop.is_cancelled() && self.receiver.is_empty() {
                break;
            }
        }
        tracing::info!(worker = "audit-writer", "background worker stopped");
    }
}

async fn insert_batch(pool: &PgPool, batch: &[AuditRecord]) -> Result<(), sqlx::Error> {
    let mut categories = Vec::with_capacity(batch.len());
    let mut actors = Vec::with_capacity(batch.len());
    let mut actions = Vec::with_capacity(batch.len());
    let mut resource_types = Vec::with_capacity(batch.len());
    let mut resource_ids = Vec::with_capacity(batch.len());
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut trace_ids = Vec::with_capacity(batch.len());
    let mut details = Vec::with_capacity(batch.len());
    for r in batch {
        categories.push(r.category.as_str());
        actors.push(r.actor.as_str());
        actions.push(r.action.as_str());
        resource_types.push(r.resource_type.as_deref());
        resource_ids.push(r.resource_id.as_deref());
        outcomes.push(r.outcome.as_str());
        trace_ids.push(r.trace_id.as_deref());
        details.push(r.detail.clone());
    }
    sqlx::query(
        "INSERT INTO audit_log (category, actor, action, resource_type, resource_id, outcome, trace_id, detail)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::jsonb[])",
    )
    .bind(categories)
    .bind(actors)
    .bind(actions)
    .bind(resource_types)
    .bind(resource_ids)
    .bind(outcomes)
    .bind(trace_ids)
    .bind(details)
    .execute(pool)
    .await?;
    Ok(())
}

/// Deletes records older than the retention period, now and then hourly, until `stop` fires.
pub async fn run_retention(service: &'static str, pool: PgPool, retention_days: u32, stop: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(3_600));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => break,
        }
        match purge_older_than(&pool, retention_days).await {
            Ok(0) => {}
            Ok(n) => {
                metrics::counter!(AUDIT_PURGED_TOTAL, "service" => service).increment(n);
                tracing::info!(purged = n, retention_days, "audit retention purge");
            }
            Err(e) => tracing::warn!(error = %e, "audit retention purge failed; next try in an hour"),
        }
    }
    tracing::info!(worker = "audit-retention", "background worker stopped");
}

/// Deletes audit records older than `retention_days`; returns how many went.
pub async fn purge_older_than(pool: &PgPool, retention_days: u32) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM audit_log WHERE occurred_at < now() - make_interval(days => $1)")
        .bind(i32::try_from(retention_days).unwrap_or(i32::MAX))
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

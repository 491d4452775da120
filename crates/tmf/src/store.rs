//! The TMF resource store: documents in `tmf_resource`, every write with its event in one transaction.
//!
//! A [`ResourceKind`] describes one TMF resource (its name, body schema, status lifecycle, patchable
//! attributes, paging, whether reads are cached). The store gives all of them the same behaviour:
//! - the server sets `id`, `href`, `lastUpdate` (microsecond precision, so a value read back filters equal)
//!   and defaults `@type` and the initial status;
//! - each create, attribute change, status change and delete writes its TMF event to the outbox inside the
//!   transaction that makes the change ([`crate::events::enqueue`]);
//! - an illegal status transition is a 409 and changes nothing;
//! - a kind may derive a further step from a change ([`ResourceKind::derive`], e.g. an order's state from its
//!   items'), checked and evented as a step of its own in the same transaction, and may raise further events
//!   for a step ([`ResourceKind::extra_events`]);
//! - reads of cached kinds go through Redis (read-through, five minutes), and every write evicts the cached
//!   copy after commit; the event relay evicts it again once the event is published. An eviction leaves a
//!   tombstone for a few seconds that refills (`SET NX`) cannot overwrite, which closes the race with a read
//!   that fetched the old version before the commit. Without Redis, reads go to PostgreSQL.

use crate::events::{self, NewEvent};
use crate::patch::{self, PatchFormat};
use crate::query::{self, Columns, ListQuery, Paging};
use crate::schema::Schema;
use bss_common::kv::redis;
use bss_common::{ApiError, ServiceContext};
use chrono::{DateTime, SubsecRound, Utc};
use serde_json::Value;
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};
use std::time::Duration;

/// How a resource's status may move.
#[derive(Debug)]
pub struct Lifecycle {
    /// The attribute holding the status (`lifecycleStatus`, `status`, `state`).
    pub attribute: &'static str,
    /// The status a resource gets when created without one.
    pub initial: &'static str,
    /// Every known status and the statuses it may move to.
    pub transitions: &'static [(&'static str, &'static [&'static str])],
}

impl Lifecycle {
    /// Whether `status` is one this lifecycle knows.
    pub fn is_known(&self, status: &str) -> bool {
        self.known(status).is_some()
    }

    /// The lifecycle's own `'static` name of `status`, when it knows it (a bounded metric label, say).
    pub fn known(&self, status: &str) -> Option<&'static str> {
        self.transitions.iter().map(|(known, _)| *known).find(|known| *known == status)
    }

    /// Whether a status may move from `from` to `to` (staying put is always allowed).
    pub fn allows(&self, from: &str, to: &str) -> bool {
        from == to || self.transitions.iter().any(|(state, next)| *state == from && next.contains(&to))
    }

    /// Every known status, for error messages.
    pub fn statuses(&self) -> Vec<&'static str> {
        self.transitions.iter().map(|(status, _)| *status).collect()
    }
}

/// Everything the store needs to know about one kind of TMF resource.
#[derive(Debug)]
pub struct ResourceKind {
    /// The collection name: path segment, `kind` column, key inside events (e.g. `productOffering`).
    pub name: &'static str,
    /// The body schema; its `type_name` is the default `@type` and the event name prefix.
    pub schema: &'static Schema,
    pub lifecycle: Option<&'static Lifecycle>,
    /// First-level attributes a PATCH may change.
    pub patchable: &'static [&'static str],
    pub paging: Paging,
    /// Whether GET by id reads through the Redis cache.
    pub cached: bool,
    /// Further checks beyond the schema (cross-attribute rules), run on create and after every patch.
    pub validate: fn(&Value) -> Result<(), ApiError>,
    /// Whether a resource in this state may be deleted (409 otherwise).
    pub deletable: fn(&Value) -> Result<(), ApiError>,
    /// Checks a change against the resource as it was (`before`, `after`), for rules [`Lifecycle`] cannot
    /// express (e.g. the states of items nested in the document); run by [`update_with`] before `validate`.
    pub check_change: fn(&Value, &Value) -> Result<(), ApiError>,
    /// What the server derives from a changed resource (e.g. an order's state from its items' states), or
    /// `None`. [`update_with`] applies it after every change, in the same transaction, as a second step that
    /// is checked (`check_change`, lifecycle) and evented like any change.
    pub derive: fn(&Value) -> Option<Value>,
    /// Further events a change (`before`, `after`) raises beside the standard ones, as event type suffixes
    /// after the schema's type name (e.g. `InformationRequiredEvent`). [`update_with`] writes them for each
    /// step of a change, after its StateChangeEvent, in the same transaction, carrying the resource as changed.
    pub extra_events: fn(&Value, &Value) -> &'static [&'static str],
}

/// A [`ResourceKind::validate`] or [`ResourceKind::deletable`] that accepts everything.
pub fn accept(_: &Value) -> Result<(), ApiError> {
    Ok(())
}

/// A [`ResourceKind::check_change`] that accepts every change.
pub fn accept_change(_: &Value, _: &Value) -> Result<(), ApiError> {
    Ok(())
}

/// A [`ResourceKind::derive`] that derives nothing.
pub fn derive_nothing(_: &Value) -> Option<Value> {
    None
}

/// A [`ResourceKind::extra_events`] that raises none.
pub fn no_extra_events(_: &Value, _: &Value) -> &'static [&'static str] {
    &[]
}

impl ResourceKind {
    fn columns(&self) -> Columns {
        Columns { status_attribute: self.lifecycle.map(|l| l.attribute) }
    }

    fn status_of<'a>(&self, document: &'a Value) -> Option<&'a str> {
        self.lifecycle.and_then(|l| document.get(l.attribute)).and_then(Value::as_str)
    }

    /// Whether `attribute` is a first-level attribute of this resource (filters and sorts must name one).
    fn has_attribute(&self, attribute: &str) -> bool {
        attribute == "lastUpdate"
            || crate::schema::COMMON.iter().chain(self.schema.fields).any(|field| field.name == attribute)
    }

    /// 400 naming the first filter or sort key that is not an attribute of this resource.
    fn check_attributes(&self, query: &ListQuery) -> Result<(), ApiError> {
        let named = query.filters.iter().map(|f| &f.path).chain(query.sort.iter().map(|s| &s.path));
        for path in named {
            let first = path.first().map(String::as_str).unwrap_or("");
            if !self.has_attribute(first) {
                return Err(ApiError::bad_request(format!("'{first}' is not an attribute of {}.", self.name)));
            }
        }
        Ok(())
    }

    fn event_type(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.schema.type_name)
    }

    fn not_found(&self, id: &str) -> ApiError {
        ApiError::not_found(format!("No {} with id '{id}'.", self.name))
    }
}

const CACHE_TTL: Duration = Duration::from_secs(300);

/// The `href` of a resource: its path under the API base path.
pub fn href(base_path: &str, kind: &ResourceKind, id: &str) -> String {
    format!("{base_path}/{}/{id}", kind.name)
}

/// `lastUpdate` for a write happening now, at the precision PostgreSQL keeps.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Creates a resource from a client body; returns it as stored.
pub async fn create(
    ctx: &ServiceContext,
    kind: &ResourceKind,
    base_path: &str,
    body: Value,
) -> Result<Value, ApiError> {
    let new = prepare_new(kind, base_path, body)?;
    insert_with_event(ctx, kind, &new.id, new.at, new.document).await
}

/// A resource [`prepare_new`] made ready to insert: server-owned attributes set, every check passed.
#[derive(Debug, Clone)]
pub struct NewResource {
    id: String,
    at: DateTime<Utc>,
    document: Value,
}

impl NewResource {
    /// The server-generated id, known before the insert (a caller may record it elsewhere in the same
    /// transaction first).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The document as it will be stored.
    pub fn document(&self) -> &Value {
        &self.document
    }
}

/// What [`create`] does before writing: the schema check, the server-owned `id`, `href`, `lastUpdate`, the
/// default `@type` and initial status, and the kind's validation.
pub fn prepare_new(kind: &ResourceKind, base_path: &str, mut body: Value) -> Result<NewResource, ApiError> {
    kind.schema.check(&body)?;
    let object = body.as_object_mut().ok_or_else(|| ApiError::bad_request("The body must be a JSON object."))?;
    for server_owned in ["id", "href", "lastUpdate"] {
        object.remove(server_owned);
    }
    let id = uuid::Uuid::new_v4().to_string();
    let at = now();
    object.insert("id".into(), Value::from(id.clone()));
    object.insert("href".into(), Value::from(href(base_path, kind, &id)));
    object.insert("lastUpdate".into(), Value::from(rfc3339(at)));
    object.entry("@type").or_insert_with(|| Value::from(kind.schema.type_name));
    if let Some(lifecycle) = kind.lifecycle {
        let status = object.entry(lifecycle.attribute).or_insert_with(|| Value::from(lifecycle.initial));
        let status = status.as_str().unwrap_or_default();
        if !lifecycle.is_known(status) {
            return Err(ApiError::bad_request(format!(
                "'{}' must be one of {:?}.",
                lifecycle.attribute,
                lifecycle.statuses()
            )));
        }
    }
    (kind.validate)(&body)?;
    Ok(NewResource { id, at, document: body })
}

/// Inserts a prepared resource and its CreateEvent inside the caller's transaction, for a resource a service
/// creates as part of a larger change (billing's default accounts, with the order event that needs them). The
/// caller commits; nothing is cached yet, so there is nothing to evict.
pub async fn insert_in(tx: &mut PgConnection, kind: &ResourceKind, new: NewResource) -> Result<Value, ApiError> {
    insert_row_and_event(tx, kind, &new.id, new.at, &new.document).await?;
    Ok(new.document)
}

/// Inserts a new resource row and its CreateEvent in one transaction; an existing id is a 409.
async fn insert_with_event(
    ctx: &ServiceContext,
    kind: &ResourceKind,
    id: &str,
    at: DateTime<Utc>,
    document: Value,
) -> Result<Value, ApiError> {
    let mut tx = ctx.db.begin().await?;
    insert_row_and_event(&mut tx, kind, id, at, &document).await?;
    tx.commit().await?;
    Ok(document)
}

/// The longest `name` the store accepts, in characters. `name` is a column with a B-tree index (with the kind
/// and the id) for filters and sorting, and a B-tree entry must fit in about a third of a page (2,704 bytes):
/// 512 characters of at most 4 bytes, with the kind and an id of at most 128, always do. A longer name used to
/// reach PostgreSQL and fail there with a 500 (the security tests found it); now it is a 400 naming the limit.
pub const MAX_NAME_CHARS: usize = 512;

/// The document's `name`, for the `name` column, once it is known to fit its index.
fn indexed_name(document: &Value) -> Result<Option<&str>, ApiError> {
    let name = document.get("name").and_then(Value::as_str);
    if name.is_some_and(|n| n.chars().count() > MAX_NAME_CHARS) {
        return Err(ApiError::bad_request(format!("'name' must be at most {MAX_NAME_CHARS} characters.")));
    }
    Ok(name)
}

/// The row in `tmf_resource` and the CreateEvent in the outbox, on `tx`; an existing id is a 409.
async fn insert_row_and_event(
    tx: &mut PgConnection,
    kind: &ResourceKind,
    id: &str,
    at: DateTime<Utc>,
    document: &Value,
) -> Result<(), ApiError> {
    let name = indexed_name(document)?;
    let inserted = sqlx::query(
        "INSERT INTO tmf_resource (kind, id, name, status, version, last_update, doc)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(kind.name)
    .bind(id)
    .bind(name)
    .bind(kind.status_of(document))
    .bind(document.get("version").and_then(Value::as_str))
    .bind(at)
    .bind(document)
    .execute(&mut *tx)
    .await;
    match inserted {
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("tmf_resource_pkey") => {
            return Err(ApiError::conflict(format!("A {} with id '{id}' already exists.", kind.name)));
        }
        other => other.map_err(|e| unique_violation(kind, e))?,
    };
    let event_type = kind.event_type("CreateEvent");
    events::enqueue(tx, NewEvent { event_type, resource_type: kind.name, resource_id: id, resource: document }).await?;
    Ok(())
}

/// Inserts a resource exactly as given (an import), keeping its `id`; fails on an existing id.
pub async fn insert_document(
    ctx: &ServiceContext,
    kind: &ResourceKind,
    base_path: &str,
    mut document: Value,
) -> Result<Value, ApiError> {
    kind.schema.check(&document)?;
    (kind.validate)(&document)?;
    let id = document
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty() && id.len() <= 128)
        .ok_or_else(|| ApiError::bad_request("An imported resource needs an id (at most 128 characters)."))?
        .to_owned();
    let at = now();
    let object = document.as_object_mut().ok_or_else(|| ApiError::bad_request("not an object"))?;
    object.insert("href".into(), Value::from(href(base_path, kind, &id)));
    object.insert("lastUpdate".into(), Value::from(rfc3339(at)));
    object.entry("@type").or_insert_with(|| Value::from(kind.schema.type_name));
    insert_with_event(ctx, kind, &id, at, document).await
}

fn cache_key(ctx: &ServiceContext, kind: &ResourceKind, id: &str) -> String {
    ctx.redis.key(&format!("resource:{}:{id}", kind.name))
}

/// A [`PublishedHook`](crate::events::PublishedHook) that evicts the cached copy of every published resource
/// of the `cached` kinds: the second eviction that makes a change visible on every replica (module comment).
pub fn cache_eviction_hook(
    ctx: &actix_web::web::Data<ServiceContext>,
    cached: &'static [&'static ResourceKind],
) -> crate::events::PublishedHook {
    let ctx = ctx.clone();
    std::sync::Arc::new(move |event: crate::events::PublishedEvent| {
        let ctx = ctx.clone();
        Box::pin(async move {
            if cached.iter().any(|kind| kind.name == event.resource_type) {
                evict(&ctx, &event.resource_type, &event.resource_id).await;
            }
        })
    })
}

/// How long an eviction keeps the key from being refilled. A read that fetched the old version from
/// PostgreSQL before the write committed cannot put it back within this time (its refill is `SET … NX`).
const EVICTION_HOLD: Duration = Duration::from_secs(2);

/// Evicts the cached copy of a resource by replacing it with a short-lived empty tombstone (a miss for
/// readers, and a refill is refused until it expires). Failures only cost a stale read until the event relay
/// evicts again.
pub async fn evict(ctx: &ServiceContext, kind_name: &str, id: &str) {
    let key = ctx.redis.key(&format!("resource:{kind_name}:{id}"));
    let command = redis::cmd("SET").arg(&key).arg("").arg("PX").arg(EVICTION_HOLD.as_millis() as u64).to_owned();
    if let Err(e) = ctx.redis.query::<()>(&command).await {
        tracing::debug!(kind = kind_name, error = %e, "cache eviction skipped");
    }
}

fn count_cache(ctx: &ServiceContext, outcome: &'static str) {
    metrics::counter!(bss_common::metrics::CACHE_REQUESTS_TOTAL, "service" => ctx.spec.name, "outcome" => outcome)
        .increment(1);
}

async fn cached(ctx: &ServiceContext, key: &str) -> Option<Value> {
    match ctx.redis.query::<Option<String>>(redis::cmd("GET").arg(key)).await {
        Ok(Some(text)) if !text.is_empty() => {
            count_cache(ctx, "hit");
            serde_json::from_str(&text).ok()
        }
        Ok(_) => {
            count_cache(ctx, "miss");
            None
        }
        Err(_) => {
            count_cache(ctx, "unavailable");
            None
        }
    }
}

async fn fill_cache(ctx: &ServiceContext, key: &str, document: &Value) {
    // NX: an eviction's tombstone (or a fresher fill) wins over this possibly older read.
    let command =
        redis::cmd("SET").arg(key).arg(document.to_string()).arg("EX").arg(CACHE_TTL.as_secs()).arg("NX").to_owned();
    let _ = ctx.redis.query::<()>(&command).await;
}

/// The resource with `id`, or 404.
pub async fn get(ctx: &ServiceContext, kind: &ResourceKind, id: &str) -> Result<Value, ApiError> {
    let key = kind.cached.then(|| cache_key(ctx, kind, id));
    if let Some(key) = &key
        && let Some(document) = cached(ctx, key).await
    {
        return Ok(document);
    }
    let row = sqlx::query("SELECT doc FROM tmf_resource WHERE kind = $1 AND id = $2")
        .bind(kind.name)
        .bind(id)
        .fetch_optional(&ctx.db)
        .await?
        .ok_or_else(|| kind.not_found(id))?;
    let document: Value = row.try_get("doc").map_err(ApiError::internal)?;
    if let Some(key) = &key {
        fill_cache(ctx, key, &document).await;
    }
    Ok(document)
}

/// The count and page queries of a list request; `prefix` is `""` or `"EXPLAIN "`.
fn list_queries(
    kind: &ResourceKind,
    query: &ListQuery,
    prefix: &'static str,
) -> Result<(QueryBuilder<Postgres>, QueryBuilder<Postgres>), ApiError> {
    kind.check_attributes(query)?;
    let columns = kind.columns();
    let bad = |e: query::QueryError| ApiError::bad_request(e.to_string());
    let mut count: QueryBuilder<Postgres> = QueryBuilder::new(prefix);
    count.push("SELECT count(*) FROM tmf_resource WHERE kind = ").push_bind(kind.name);
    query::push_filters(&mut count, &query.filters, &columns).map_err(bad)?;

    let mut page: QueryBuilder<Postgres> = QueryBuilder::new(prefix);
    page.push("SELECT doc FROM tmf_resource WHERE kind = ").push_bind(kind.name);
    query::push_filters(&mut page, &query.filters, &columns).map_err(bad)?;
    query::push_order_by(&mut page, &query.sort, &columns).map_err(bad)?;
    page.push(" LIMIT ").push_bind(i64::from(query.limit)).push(" OFFSET ").push_bind(i64::from(query.offset));
    Ok((count, page))
}

/// One page of resources matching `query`, and how many match in all.
pub async fn list(ctx: &ServiceContext, kind: &ResourceKind, query: &ListQuery) -> Result<(Vec<Value>, i64), ApiError> {
    let (mut count, mut page) = list_queries(kind, query, "")?;
    let total: i64 = count.build_query_scalar().fetch_one(&ctx.db).await?;
    let documents: Vec<Value> = page.build_query_scalar().fetch_all(&ctx.db).await?;
    Ok((documents, total))
}

/// PostgreSQL's plans for the count and page queries of a list request (tests and benchmarks show them).
pub async fn explain_list(
    ctx: &ServiceContext,
    kind: &ResourceKind,
    query: &ListQuery,
) -> Result<Vec<(&'static str, String)>, ApiError> {
    let (mut count, mut page) = list_queries(kind, query, "EXPLAIN ")?;
    let count_plan: Vec<String> = count.build_query_scalar().fetch_all(&ctx.db).await?;
    let page_plan: Vec<String> = page.build_query_scalar().fetch_all(&ctx.db).await?;
    Ok(vec![("count", count_plan.join("\n")), ("page", page_plan.join("\n"))])
}

/// Applies a PATCH body to the resource; returns it as stored.
pub async fn patch(
    ctx: &ServiceContext,
    kind: &ResourceKind,
    id: &str,
    format: PatchFormat,
    body: &[u8],
) -> Result<Value, ApiError> {
    update_with(ctx, kind, id, |before| {
        let after = patch::apply(before, format, body)?;
        patch::ensure_patchable(&patch::changed_attributes(before, &after), kind.patchable)?;
        Ok(after)
    })
    .await
}

/// Changes a resource with `change` (the server's own updates, e.g. a job's progress, and PATCH): the result
/// is validated, its status move checked, `lastUpdate` set, and the events written, all in one transaction.
/// What [`ResourceKind::derive`] derives from the result is a second step, checked and evented the same way
/// (so each status move has its own StateChangeEvent). A change that changes nothing writes nothing.
pub async fn update_with(
    ctx: &ServiceContext,
    kind: &ResourceKind,
    id: &str,
    change: impl FnOnce(&Value) -> Result<Value, ApiError>,
) -> Result<Value, ApiError> {
    let mut tx = ctx.db.begin().await?;
    let row = sqlx::query("SELECT doc FROM tmf_resource WHERE kind = $1 AND id = $2 FOR UPDATE")
        .bind(kind.name)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| kind.not_found(id))?;
    let before: Value = row.try_get("doc").map_err(ApiError::internal)?;
    // The change, then what the kind derives from it: each step is checked as a change of its own.
    let mut steps = vec![change(&before)?];
    if let Some(derived) = (kind.derive)(&steps[0]) {
        steps.push(derived);
    }
    let mut previous = &before;
    for step in &steps {
        check_step(kind, previous, step)?;
        previous = step;
    }
    let changed = patch::changed_attributes(&before, previous);
    if changed.is_empty() {
        tx.rollback().await?;
        return Ok(before);
    }

    let at = now();
    for step in &mut steps {
        if let Some(object) = step.as_object_mut() {
            object.insert("lastUpdate".into(), Value::from(rfc3339(at)));
        }
    }
    let after = steps.last().cloned().unwrap_or_default();
    sqlx::query(
        "UPDATE tmf_resource SET name = $3, status = $4, version = $5, last_update = $6, doc = $7
         WHERE kind = $1 AND id = $2",
    )
    .bind(kind.name)
    .bind(id)
    .bind(indexed_name(&after)?)
    .bind(kind.status_of(&after))
    .bind(after.get("version").and_then(Value::as_str))
    .bind(at)
    .bind(&after)
    .execute(&mut *tx)
    .await
    .map_err(|e| unique_violation(kind, e))?;

    // The events of each step, in order, each carrying the resource as that step left it.
    let status_attribute = kind.lifecycle.map(|l| l.attribute);
    let mut previous = &before;
    for step in &steps {
        let mut event_types = Vec::new();
        let step_changed = patch::changed_attributes(previous, step);
        if step_changed
            .iter()
            .any(|attribute| attribute != "lastUpdate" && Some(attribute.as_str()) != status_attribute)
        {
            event_types.push(kind.event_type("AttributeValueChangeEvent"));
        }
        if kind.status_of(previous) != kind.status_of(step) {
            event_types.push(kind.event_type("StateChangeEvent"));
        }
        event_types.extend((kind.extra_events)(previous, step).iter().map(|suffix| kind.event_type(suffix)));
        for event_type in event_types {
            events::enqueue(
                &mut tx,
                NewEvent { event_type, resource_type: kind.name, resource_id: id, resource: step },
            )
            .await?;
        }
        previous = step;
    }
    tx.commit().await?;
    if kind.cached {
        evict(ctx, kind.name, id).await;
    }
    Ok(after)
}

/// Checks one step of a change (`before` → `after`): server-owned attributes untouched, the schema, the kind's
/// change rule and validation, and the status move along the lifecycle (409 when illegal).
fn check_step(kind: &ResourceKind, before: &Value, after: &Value) -> Result<(), ApiError> {
    let changed = patch::changed_attributes(before, after);
    for server_owned in ["id", "href", "lastUpdate"] {
        if changed.contains(server_owned) {
            return Err(ApiError::bad_request(format!("The attribute '{server_owned}' cannot be changed.")));
        }
    }
    kind.schema.check(after)?;
    (kind.check_change)(before, after)?;
    (kind.validate)(after)?;
    let (old_status, new_status) = (kind.status_of(before), kind.status_of(after));
    if let (Some(lifecycle), Some(from)) = (kind.lifecycle, old_status) {
        let to =
            new_status.ok_or_else(|| ApiError::bad_request(format!("'{}' cannot be removed.", lifecycle.attribute)))?;
        if !lifecycle.is_known(to) {
            return Err(ApiError::bad_request(format!(
                "'{}' must be one of {:?}.",
                lifecycle.attribute,
                lifecycle.statuses()
            )));
        }
        if !lifecycle.allows(from, to) {
            return Err(ApiError::conflict(format!("A {} cannot move from '{from}' to '{to}'.", kind.name)));
        }
    }
    Ok(())
}

/// A write refused by a unique index a service added on its documents (e.g. the order service's `externalId`
/// per customer) is a 409 naming the constraint; any other error is what it is.
fn unique_violation(kind: &ResourceKind, error: sqlx::Error) -> ApiError {
    match &error {
        sqlx::Error::Database(e) if e.is_unique_violation() => ApiError::conflict(format!(
            "The {} conflicts with an existing one (unique constraint '{}').",
            kind.name,
            e.constraint().unwrap_or("unknown")
        )),
        _ => error.into(),
    }
}

/// Deletes the resource (if its state allows); its DeleteEvent carries the resource as it was.
pub async fn delete(ctx: &ServiceContext, kind: &ResourceKind, id: &str) -> Result<(), ApiError> {
    let mut tx = ctx.db.begin().await?;
    let row = sqlx::query("SELECT doc FROM tmf_resource WHERE kind = $1 AND id = $2 FOR UPDATE")
        .bind(kind.name)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| kind.not_found(id))?;
    let document: Value = row.try_get("doc").map_err(ApiError::internal)?;
    (kind.deletable)(&document)?;
    sqlx::query("DELETE FROM tmf_resource WHERE kind = $1 AND id = $2")
        .bind(kind.name)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let event_type = kind.event_type("DeleteEvent");
    events::enqueue(&mut tx, NewEvent { event_type, resource_type: kind.name, resource_id: id, resource: &document })
        .await?;
    tx.commit().await?;
    if kind.cached {
        evict(ctx, kind.name, id).await;
    }
    Ok(())
}

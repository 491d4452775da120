//! The order service: TMF622 Product Ordering (v4) over the shared runtime (`bss-common`) and the TMF630
//! toolkit (`bss-tmf`).
//!
//! - `productOrder` ([`resources`]): list, read, PATCH and DELETE are the toolkit's (`bss_tmf::routes`), with
//!   the order diagram as the store's lifecycle (`state`; an illegal move is a 409) and the item diagram
//!   checked on every PATCH through `ResourceKind::check_change`. DELETE only while the order is still
//!   `acknowledged`.
//! - POST is this crate's ([`create_order`]): the body is checked against `ProductOrder_Create`, the customer,
//!   the billing accounts and every offering and price are resolved in the customer, billing and catalog
//!   services ([`pricing`]; 422 for a reference that does not resolve, 503 when a peer cannot answer, and
//!   nothing is written), the catalog's prices are copied onto the items and the totals computed, and the order is stored `acknowledged` with its
//!   CreateEvent in one transaction.
//! - `POST productOrder` with an `Idempotency-Key` creates at most one order per key ([`idempotency`]);
//!   `externalId` is unique per customer (a unique index, 409).
//! - `cancelProductOrder` ([`cancel`]): GET list/by id and POST; the request starts the cancellation flow on the
//!   order and is closed (`done` / `terminatedWithError`) once the order's cancellation is decided.
//! - `FULFILMENT_MODE=auto` runs [`fulfilment`], which completes orders item by item (and accepts
//!   cancellations); `external` (the default) leaves both to a fulfilment system that PATCHes states.
//! - `CATALOG_URL`, `CUSTOMER_URL` and `BILLING_URL` are required at start-up ([`SPEC`]`.required_peers`).
//!
//! Decisions: docs/adr/0014-order-state-and-pricing.md.

pub mod cancel;
pub mod fulfilment;
pub mod idempotency;
pub mod openapi;
pub mod pricing;
pub mod resources;

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use bss_common::auth::Principal;
use bss_common::config::FulfilmentMode;
use bss_common::{ApiError, ServiceContext, ServiceSpec};
use bss_tmf::events::EventsConfig;
use chrono::SubsecRound;
use serde_json::Value;

/// The TMF622 Product Ordering API base path.
pub const BASE_PATH: &str = "/tmf-api/productOrderingManagement/v4";

/// Embedded migrations of the `ordering` schema (`order` is an SQL keyword) (`migrations/order`).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/order");

/// What the shared runtime needs to know about this service.
pub static SPEC: ServiceSpec = ServiceSpec {
    name: "order",
    schema: "ordering",
    version: env!("CARGO_PKG_VERSION"),
    base_paths: &[BASE_PATH],
    migrator: &MIGRATOR,
    on_start: start_workers,
    required_peers: &["CATALOG_URL", "CUSTOMER_URL", "BILLING_URL"],
    validate_settings: bss_common::server::no_settings_check,
    audit_reads: false,
    api_document: openapi::document,
};

/// Registers the TMF622 routes: `productOrder`, `cancelProductOrder` and `/hub`.
pub fn routes(config: &mut web::ServiceConfig) {
    bss_tmf::routes::configure_with_create(config, BASE_PATH, &resources::PRODUCT_ORDER, create_order);
    bss_tmf::routes::configure_with_create_operations(
        config,
        BASE_PATH,
        &cancel::CANCEL_PRODUCT_ORDER,
        cancel::create_cancel,
        bss_tmf::routes::Operations::READ_ONLY,
    );
    bss_tmf::hub::configure(config, BASE_PATH);
}

/// `POST productOrder`: checks the body, resolves and prices it through the peers, stores it `acknowledged`;
/// with an `Idempotency-Key`, at most once per key ([`idempotency`]).
pub async fn create_order(
    req: HttpRequest,
    ctx: web::Data<ServiceContext>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let key = match req.headers().get(idempotency::HEADER) {
        Some(value) => Some(idempotency::parse_key(value.to_str().unwrap_or_default())?.to_owned()),
        None => None,
    };
    let caller = req.extensions().get::<Principal>().cloned();
    let Some(key) = key else {
        return create_once(&ctx, caller.as_ref(), body).await.map(|created| created_response(created, false));
    };
    let fingerprint = idempotency::fingerprint(&body);
    let subject = caller.as_ref().map_or("", |c| c.subject.as_str()).to_owned();
    match idempotency::claim(&ctx, &key, &fingerprint, &subject).await? {
        idempotency::Claim::Replay(created) => Ok(created_response(created, true)),
        idempotency::Claim::Owned => {
            let key = IdempotencyKey { key: &key, fingerprint: &fingerprint, subject: &subject };
            match create_or_find(&ctx, caller.as_ref(), body, &key).await {
                Ok((created, replayed)) => {
                    idempotency::complete(&ctx, key.key, key.fingerprint, key.subject, &created).await;
                    Ok(created_response(created, replayed))
                }
                Err(e) => {
                    idempotency::release(&ctx, key.key).await;
                    Err(e)
                }
            }
        }
    }
}

/// The key of a request that owns its Redis claim.
struct IdempotencyKey<'a> {
    key: &'a str,
    fingerprint: &'a str,
    subject: &'a str,
}

/// The order `key` created already (`true`: a replay), found in PostgreSQL; or a new one, created with the key
/// recorded in its transaction.
async fn create_or_find(
    ctx: &ServiceContext,
    caller: Option<&Principal>,
    body: Value,
    key: &IdempotencyKey<'_>,
) -> Result<(Value, bool), ApiError> {
    if let Some(found) = find_recorded(ctx, key).await? {
        return Ok((found, true));
    }
    let new = prepare_order(ctx, caller, body).await?;
    let mut tx = ctx.db.begin().await?;
    if !idempotency::record_in(&mut tx, key.key, key.fingerprint, key.subject, new.id()).await? {
        // Another request with this key committed its order in the meantime: that one is the answer.
        drop(tx);
        return find_recorded(ctx, key).await?.map(|found| (found, true)).ok_or_else(|| {
            ApiError::conflict(format!(
                "A request with this '{}' is still being processed; retry it later.",
                idempotency::HEADER
            ))
        });
    }
    let created = bss_tmf::store::insert_in(&mut tx, &resources::PRODUCT_ORDER, new).await?;
    tx.commit().await?;
    Ok((created, false))
}

/// The order recorded in PostgreSQL for `key`, as it is now (409 when the key came with another body).
async fn find_recorded(ctx: &ServiceContext, key: &IdempotencyKey<'_>) -> Result<Option<Value>, ApiError> {
    let Some((fingerprint, order_id)) = idempotency::recorded(ctx, key.key, key.subject).await? else {
        return Ok(None);
    };
    if fingerprint != key.fingerprint {
        return Err(idempotency::reused_key());
    }
    bss_tmf::store::get(ctx, &resources::PRODUCT_ORDER, &order_id).await.map(Some)
}

fn created_response(created: Value, replayed: bool) -> HttpResponse {
    let location = created["href"].as_str().unwrap_or_default().to_owned();
    let mut response = HttpResponse::Created();
    response.insert_header((header::LOCATION, location));
    if replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    response.json(created)
}

async fn create_once(ctx: &ServiceContext, caller: Option<&Principal>, order: Value) -> Result<Value, ApiError> {
    let new = prepare_order(ctx, caller, order).await?;
    let mut tx = ctx.db.begin().await?;
    let created = bss_tmf::store::insert_in(&mut tx, &resources::PRODUCT_ORDER, new).await?;
    tx.commit().await?;
    Ok(created)
}

/// The order as it will be stored: checked, resolved and priced through the peers.
async fn prepare_order(
    ctx: &ServiceContext,
    caller: Option<&Principal>,
    mut order: Value,
) -> Result<bss_tmf::store::NewResource, ApiError> {
    // Shape and item rules first: a malformed body is a 400 without a single call to a peer.
    resources::ORDER_SCHEMA.check(&order)?;
    resources::validate_order(&order)?;
    let peers = pricing::Peers::new(ctx, caller)?;
    pricing::prepare(&peers, &mut order, chrono::Utc::now().trunc_subsecs(6)).await?;
    bss_tmf::store::prepare_new(&resources::PRODUCT_ORDER, BASE_PATH, order)
}

/// `bss_oss_order_state_transitions_total{state}`: one per published ProductOrderCreateEvent or
/// ProductOrderStateChangeEvent, by the state the order entered. Counted when the relay has published the
/// event, so a rolled-back change never counts and each transition counts once across replicas (at least
/// once, like the event: a relay crash between publish and commit may count one twice).
fn count_state_transition(event: bss_tmf::events::PublishedEvent) -> futures_util::future::BoxFuture<'static, ()> {
    if matches!(event.event_type.as_str(), "ProductOrderCreateEvent" | "ProductOrderStateChangeEvent")
        && let Some(state) = event.payload.pointer("/event/productOrder/state").and_then(|s| s.as_str())
        && let Some(state) = resources::ORDER_LIFECYCLE.known(state)
    {
        metrics::counter!(bss_common::metrics::ORDER_STATE_TRANSITIONS_TOTAL, "service" => "order", "state" => state)
            .increment(1);
    }
    Box::pin(async {})
}

/// The outbox relay to the service's event stream and the deliveries to `/hub` listeners; in
/// the closing of decided cancel requests; the hourly purge of expired idempotency keys; in `FULFILMENT_MODE=auto`, the fulfilment worker.
fn start_workers(ctx: &web::Data<ServiceContext>) {
    bss_tmf::events::start_workers(
        ctx,
        EventsConfig { on_published: Some(std::sync::Arc::new(count_state_transition)) },
    );
    ctx.lifecycle.spawn_worker("order-cancellation", cancel::run_worker(ctx.clone()));
    let purge_ctx = ctx.clone();
    ctx.lifecycle.spawn_worker("idempotency-key-purge", async move {
        purge_ctx
            .lifecycle
            .every("idempotency-key-purge", std::time::Duration::from_secs(3_600), || async {
                if let Err(e) = idempotency::purge_expired(&purge_ctx).await {
                    tracing::warn!(error = %e, "could not purge expired idempotency keys");
                }
            })
            .await;
    });
    if ctx.settings.fulfilment_mode == FulfilmentMode::Auto {
        ctx.lifecycle.spawn_worker("order-fulfilment", fulfilment::run_worker(ctx.clone()));
    }
}

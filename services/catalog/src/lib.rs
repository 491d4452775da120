//! The catalog service: TMF620 Product Catalog (v4.1) over the shared runtime (`bss-common`) and the TMF630
//! toolkit (`bss-tmf`).
//!
//! This crate holds what is specific to the catalog: its resources and their rules ([`resources`]), the
//! import and export jobs ([`jobs`]), and the wiring below — routes, the event relay with its cache
//! invalidation, the job worker. Offerings and prices are read through the Redis cache: the order service
//! reads them on every order.

pub mod jobs;
pub mod openapi;
pub mod resources;

use actix_web::web;
use bss_common::{ServiceContext, ServiceSpec};
use bss_tmf::events::EventsConfig;

/// The TMF620 API base path.
pub const BASE_PATH: &str = "/tmf-api/productCatalogManagement/v4";

/// Embedded migrations of the `catalog` schema (`migrations/catalog`).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/catalog");

/// What the shared runtime needs to know about this service.
pub static SPEC: ServiceSpec = ServiceSpec {
    name: "catalog",
    schema: "catalog",
    version: env!("CARGO_PKG_VERSION"),
    base_paths: &[BASE_PATH],
    migrator: &MIGRATOR,
    on_start: start_workers,
    required_peers: &[],
    validate_settings: bss_common::server::no_settings_check,
    audit_reads: false,
    api_document: openapi::document,
};

/// Registers the TMF620 routes: the five resources, the jobs and `/hub`.
pub fn routes(config: &mut web::ServiceConfig) {
    for kind in resources::ALL {
        bss_tmf::routes::configure(config, BASE_PATH, kind);
    }
    jobs::configure(config, BASE_PATH);
    bss_tmf::hub::configure(config, BASE_PATH);
}

/// The event relay (which also evicts cached offerings and prices once their change is published, so every
/// replica reads the new version) and the job worker.
fn start_workers(ctx: &web::Data<ServiceContext>) {
    static CACHED: [&bss_tmf::store::ResourceKind; 2] =
        [&resources::PRODUCT_OFFERING, &resources::PRODUCT_OFFERING_PRICE];
    let evict = bss_tmf::store::cache_eviction_hook(ctx, &CACHED);
    bss_tmf::events::start_workers(ctx, EventsConfig { on_published: Some(evict) });
    ctx.lifecycle.spawn_worker("catalog-jobs", jobs::run_worker(ctx.clone()));
}

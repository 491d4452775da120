//! The customer service: TMF629 Customer (v4) over the shared runtime (`bss-common`) and the TMF630 toolkit
//! (`bss-tmf`).
//!
//! Customers are personal data. Every read and write is audited with the caller and, when the client says it
//! (`X-Purpose`), why; no name, e-mail address or phone number is written to logs, traces or metric labels
//! (request spans carry only the path, errors never echo values). `GET customer/{id}` reads through the Redis
//! cache: the order service checks the customer of every order.

pub mod openapi;
pub mod resources;

use actix_web::web;
use bss_common::{ServiceContext, ServiceSpec};
use bss_tmf::events::EventsConfig;

/// The TMF629 Customer API base path.
pub const BASE_PATH: &str = "/tmf-api/customerManagement/v4";

/// Embedded migrations of the `customer` schema (`migrations/customer`).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/customer");

/// What the shared runtime needs to know about this service.
pub static SPEC: ServiceSpec = ServiceSpec {
    name: "customer",
    schema: "customer",
    version: env!("CARGO_PKG_VERSION"),
    base_paths: &[BASE_PATH],
    migrator: &MIGRATOR,
    on_start: start_workers,
    required_peers: &[],
    validate_settings: bss_common::server::no_settings_check,
    audit_reads: true,
    api_document: openapi::document,
};

/// Registers the TMF629 routes: `customer` and `/hub`.
pub fn routes(config: &mut web::ServiceConfig) {
    bss_tmf::routes::configure(config, BASE_PATH, &resources::CUSTOMER);
    bss_tmf::hub::configure(config, BASE_PATH);
}

/// The event relay (evicting cached customers once their change is published) and the hub deliveries.
fn start_workers(ctx: &web::Data<ServiceContext>) {
    static CACHED: [&bss_tmf::store::ResourceKind; 1] = [&resources::CUSTOMER];
    let evict = bss_tmf::store::cache_eviction_hook(ctx, &CACHED);
    bss_tmf::events::start_workers(ctx, EventsConfig { on_published: Some(evict) });
}

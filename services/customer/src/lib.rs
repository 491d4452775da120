//! The customer service: TMF629 Customer (v4) over the shared runtime in `bss-common`.
//!
//! This crate holds only what is specific to customer: its [`SPEC`] (name, base path, migrations) and its
//! routes. Probes, metrics, authentication, audit, errors and shutdown come from `bss_common::server`.

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
    audit_reads: true,
};

/// Registers the service's TMF routes: `/hub` (TMF630 listeners) for now. The resources arrive with their issue;
/// until then the rest of the base path only authenticates and answers 404.
pub fn routes(config: &mut web::ServiceConfig) {
    bss_tmf::hub::configure(config, BASE_PATH);
}

/// The outbox relay to the service's event stream and the deliveries to `/hub` listeners.
fn start_workers(ctx: &web::Data<ServiceContext>) {
    bss_tmf::events::start_workers(ctx, EventsConfig { on_published: None });
}

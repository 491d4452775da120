//! The billing service: TMF678 Customer Bill (v4) over the shared runtime in `bss-common`.
//!
//! This crate holds only what is specific to billing: its [`SPEC`] (name, base path, migrations) and its
//! routes. Probes, metrics, authentication, audit, errors and shutdown come from `bss_common::server`.

use actix_web::web;
use bss_common::{ServiceContext, ServiceSpec};
use bss_tmf::events::EventsConfig;

/// The TMF678 Customer Bill API base path.
pub const BASE_PATH: &str = "/tmf-api/customerBillManagement/v4";

/// Embedded migrations of the `billing` schema (`migrations/billing`).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/billing");

/// What the shared runtime needs to know about this service.
pub static SPEC: ServiceSpec = ServiceSpec {
    name: "billing",
    schema: "billing",
    version: env!("CARGO_PKG_VERSION"),
    base_paths: &[BASE_PATH, "/tmf-api/accountManagement/v4"],
    migrator: &MIGRATOR,
    on_start: start_workers,
    required_peers: &[],
    audit_reads: false,
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

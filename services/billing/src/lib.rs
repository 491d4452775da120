//! The billing service: TMF678 Customer Bill (v4) over the shared runtime in `bss-common`.
//!
//! This crate holds only what is specific to billing: its [`SPEC`] (name, base paths, migrations), its routes,
//! and the billing domain — [`calendar`] (bill cycle days, billing periods, account time zones) and [`charging`]
//! (recurring, prorated, credit and one-time charges; tax per rate and its allocation to lines), both pure —
//! [`accounts`] (TMF666 billing accounts), [`consumer`] (order events that become billable products) and
//! [`document`] (the customer-readable bill as HTML and PDF, pure). Probes, metrics, authentication, audit, errors
//! and shutdown come from `bss_common::server`. The rules are in docs/adr/0015-billing-periods-proration-and-tax.md.

pub mod accounts;
pub mod calendar;
pub mod charging;
pub mod consumer;
pub mod document;

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
    base_paths: &[BASE_PATH, accounts::BASE_PATH],
    migrator: &MIGRATOR,
    on_start: start_workers,
    required_peers: &[],
    audit_reads: false,
};

/// Registers the service's routes: `billingAccount` under the TMF666 base path, and `/hub` (TMF630 listeners)
/// under the TMF678 one. Bills, applied rates and bill runs arrive with the rest of the billing issue; until
/// then the rest of the TMF678 base path only authenticates and answers 404.
pub fn routes(config: &mut web::ServiceConfig) {
    accounts::configure(config);
    bss_tmf::hub::configure(config, BASE_PATH);
}

/// The outbox relay to the service's event stream, the deliveries to `/hub` listeners, and the consumer of the
/// order service's events ([`consumer`]).
fn start_workers(ctx: &web::Data<ServiceContext>) {
    bss_tmf::events::start_workers(ctx, EventsConfig { on_published: None });
    consumer::start(ctx);
}

//! The billing service: TMF678 Customer Bill (v4) over the shared runtime in `bss-common`.
//!
//! This crate holds only what is specific to billing: its [`SPEC`] (name, base paths, migrations), its routes,
//! and the billing domain — [`calendar`] (bill cycle days, billing periods, account time zones) and [`charging`]
//! (recurring, prorated, credit and one-time charges; tax per rate and its allocation to lines), both pure —
//! [`accounts`] (TMF666 billing accounts, whose customer [`customers`] checks in the customer service),
//! [`default_accounts`] (where orders without a billing account are billed), [`consumer`] (order events that
//! become billable products), [`rating`] (billable products → applied rates), [`billrun`] (rates → issued
//! bills, scheduled and on demand via [`ondemand`]), [`bills`] (customerBill and appliedCustomerBillingRate
//! over [`listing`]), [`payments`] and [`document`] (the customer-readable bill as HTML and PDF, pure).
//! `CUSTOMER_URL` is required at start-up, and the `BILLING_DEFAULT_*` settings must parse ([`SPEC`]). Probes,
//! metrics, authentication, audit, errors and shutdown come from `bss_common::server`. The rules are in
//! docs/adr/0015-billing-periods-proration-and-tax.md and docs/adr/0016-bill-runs-bills-and-payments.md.

pub mod accounts;
pub mod billrun;
pub mod bills;
pub mod calendar;
pub mod charging;
pub mod consumer;
pub mod customers;
pub mod default_accounts;
pub mod document;
pub mod listing;
pub mod ondemand;
pub mod openapi;
pub mod payments;
pub mod rating;

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
    required_peers: &["CUSTOMER_URL"],
    validate_settings: default_accounts::validate_settings,
    audit_reads: false,
    api_document: openapi::document,
};

/// Registers the service's routes: `billingAccount` under the TMF666 base path; `customerBill` (with its
/// payments and documents), `appliedCustomerBillingRate`, `customerBillOnDemand`, `billRun` and `/hub` (TMF630
/// listeners) under the TMF678 one.
pub fn routes(config: &mut web::ServiceConfig) {
    accounts::configure(config);
    bills::configure(config);
    payments::configure(config);
    ondemand::configure(config);
    billrun::configure(config);
    bss_tmf::hub::configure(config, BASE_PATH);
}

/// The outbox relay to the service's event stream, the deliveries to `/hub` listeners, the consumer of the
/// order service's events ([`consumer`]), the bill-run scheduler ([`billrun`]) and the on-demand worker
/// ([`ondemand`]).
fn start_workers(ctx: &web::Data<ServiceContext>) {
    bss_tmf::events::start_workers(ctx, EventsConfig { on_published: None });
    consumer::start(ctx);
    billrun::start_scheduler(ctx);
    ondemand::start_worker(ctx);
}

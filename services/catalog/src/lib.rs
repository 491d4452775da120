//! The catalog service: TMF620 Product Catalog (v4) over the shared runtime in `bss-common`.
//!
//! This crate holds only what is specific to catalog: its [`SPEC`] (name, base path, migrations) and its
//! routes. Probes, metrics, authentication, audit, errors and shutdown come from `bss_common::server`.

use actix_web::web;
use bss_common::ServiceSpec;

/// The TMF620 Product Catalog API base path.
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
    on_start: bss_common::server::no_workers,
    audit_reads: false,
};

/// Registers the service's TMF routes. The resources arrive with their issue; until then the base path only
/// authenticates and answers 404.
pub fn routes(_config: &mut web::ServiceConfig) {}

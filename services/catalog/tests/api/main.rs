//! Black-box tests of the catalog service: one test binary, real PostgreSQL and Redis (see `bss-testkit`).

mod cache;
mod events;
mod helpers;
mod jobs;
mod lists;
mod resources;

// The runtime every service shares: probes, outages, metrics, JWT, error bodies, tracing, audit, shutdown.
bss_testkit::runtime_conformance!(catalog::SPEC, catalog::routes, env!("CARGO_BIN_EXE_catalog"));
bss_testkit::openapi_conformance!(catalog::SPEC, catalog::routes, catalog::openapi::CONTRACT);

//! Black-box tests of the billing service: one test binary, real PostgreSQL and Redis (see `bss-testkit`).

mod accounts;
mod bills;
mod consumer;
mod helpers;

// The runtime every service shares: probes, outages, metrics, JWT, error bodies, tracing, audit, shutdown.
bss_testkit::runtime_conformance!(billing::SPEC, billing::routes, env!("CARGO_BIN_EXE_billing"));
bss_testkit::openapi_conformance!(billing::SPEC, billing::routes, billing::openapi::CONTRACT);

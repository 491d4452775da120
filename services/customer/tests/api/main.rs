//! Black-box tests of the customer service: one test binary, real PostgreSQL and Redis (see `bss-testkit`).

mod customers;
mod privacy;

// The runtime every service shares: probes, outages, metrics, JWT, error bodies, tracing, audit, shutdown.
bss_testkit::runtime_conformance!(customer::SPEC, customer::routes, env!("CARGO_BIN_EXE_customer"));
bss_testkit::openapi_conformance!(customer::SPEC, customer::routes, customer::openapi::CONTRACT);

//! Black-box tests of the order service: one test binary, real PostgreSQL and Redis (see `bss-testkit`), and
//! the real catalog, customer and billing services started in-process as its peers.

mod billing_account;
mod cancel;
mod creation;
mod events;
mod fulfilment;
mod helpers;
mod idempotency;
mod states;
mod tracing;

// The runtime every service shares: probes, outages, metrics, JWT, error bodies, tracing, audit, shutdown.
// `test_env` points CATALOG_URL, CUSTOMER_URL and BILLING_URL at a closed port, so the order service starts as
// it must (all three are required) and the runtime checks never depend on the peers.
bss_testkit::runtime_conformance!(order::SPEC, order::routes, env!("CARGO_BIN_EXE_order"));
bss_testkit::openapi_conformance!(order::SPEC, order::routes, order::openapi::CONTRACT);

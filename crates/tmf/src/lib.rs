//! `bss-tmf`: the TMF630 REST conventions, implemented once for every service (DESIGN.md §3).
//!
//! - [`query`]: list queries — paging, `fields=`, attribute filters with dot paths and operators, `sort=` —
//!   parsed once, compiled to parameterised SQL over the resource table, or evaluated in memory (hub queries).
//! - [`store`]: the resource table: create, read, list, patch, delete, each write with its event in one
//!   transaction.
//! - [`patch`]: merge-patch and JSON Patch with the per-resource list of patchable attributes.
//! - [`events`]: the transactional outbox, its relay to the service's Redis Stream and the deliveries to `/hub`
//!   listeners; [`hub`]: the `/hub` endpoints.
//! - [`money`]: TMF `Money` parsed into integer minor units; [`schema`]: declarative body checks.
//! - [`routes`]: the five operations of a collection as HTTP handlers; [`openapi`]: the OpenAPI document
//!   derived from the same declarations, and its comparison with the official contract.
//! - [`sellable`]: the catalog's sellability rule, shared by the catalog and the order service.

pub mod events;
pub mod hub;
pub mod money;
pub mod openapi;
pub mod patch;
pub mod query;
pub mod routes;
pub mod schema;
pub mod sellable;
pub mod store;

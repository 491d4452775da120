//! The TMF629 document this service serves (`/openapi.json`) and its differences from the official contract.

use bss_tmf::openapi::contract::{Allowed, Contract};
use bss_tmf::openapi::{ApiDocument, ApiInfo};
use bss_tmf::routes::Operations;
use serde_json::{Value, json};

/// The document: `customer` and `/hub`, as [`crate::routes`] registers them.
pub fn document() -> Value {
    let info = ApiInfo {
        title: "TMF629 Customer Management",
        version: env!("CARGO_PKG_VERSION"),
        service: "customer",
        local_port: 8629,
        description: "Customers of the operator (TMF629 v4). Customers are personal data: every read and write is \
                      audited, with the caller's `X-Purpose` when given.",
    };
    let example = json!({"name": "Jane Doe", "status": "Approved",
        "engagedParty": {"id": "ind-42", "@referredType": "Individual", "name": "Jane Doe"},
        "contactMedium": [{"mediumType": "email", "preferred": true,
                           "characteristic": {"emailAddress": "jane@example.com"}}]});
    ApiDocument::new(info)
        .collection(crate::BASE_PATH, &crate::resources::CUSTOMER, Operations::ALL, example)
        .hub(crate::BASE_PATH)
        .build()
}

/// The official TMF629 v4 contract and where this service differs on purpose.
pub const CONTRACT: Contract = Contract { official_file: "TMF629-Customer-v4.0.0.swagger.json", allowed: ALLOWED };

const ALLOWED: &[Allowed] = &[Allowed {
    at: "PATCH /customer/{id} request",
    reason: "a merge patch names only what changes (RFC 7386); the patched customer is checked whole",
}];

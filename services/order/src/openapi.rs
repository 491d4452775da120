//! The TMF622 document this service serves (`/openapi.json`) and its differences from the official contract.

use crate::{BASE_PATH, cancel, resources};
use bss_tmf::openapi::contract::{Allowed, Contract};
use bss_tmf::openapi::{ApiDocument, ApiInfo, Method};
use bss_tmf::routes::Operations;
use serde_json::{Value, json};

/// The document: `productOrder`, `cancelProductOrder` and `/hub`, as [`crate::routes`] registers them.
pub fn document() -> Value {
    let info = ApiInfo {
        title: "TMF622 Product Ordering Management",
        version: env!("CARGO_PKG_VERSION"),
        service: "order",
        local_port: 8622,
        description: "Product orders (TMF622 v4): placed against the catalog's sellable offerings for a known \
                      customer and billing account, priced at order time, fulfilled item by item, and billed once \
                      completed. States follow the TMF622 state diagram.",
    };
    let order = json!({
        "relatedParty": [{"id": "<customer id>", "@referredType": "Customer", "role": "Customer"}],
        "billingAccount": {"id": "<billing account id>", "@referredType": "BillingAccount"},
        "productOrderItem": [{"id": "1", "action": "add", "quantity": 1, "productOffering": {"id": "<offering id>"}}],
    });
    let cancel = json!({"productOrder": {"id": "<order id>"}, "cancellationReason": "Customer changed their mind"});
    let order_path = format!("{BASE_PATH}/productOrder");
    ApiDocument::new(info)
        .collection(BASE_PATH, &resources::PRODUCT_ORDER, Operations::ALL, order)
        .parameter(Method::Post, &order_path, json!({
            "name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string", "maxLength": 255},
            "description": "Retrying a POST with the same key returns the order the first one created (24 hours) \
                            instead of placing a second one.",
        }))
        .collection(BASE_PATH, &cancel::CANCEL_PRODUCT_ORDER, Operations { create: true, ..Operations::READ_ONLY }, cancel)
        .hub(BASE_PATH)
        .build()
}

/// The official TMF622 v4 contract and where this service differs on purpose.
pub const CONTRACT: Contract =
    Contract { official_file: "TMF622-ProductOrdering-v4.0.0.swagger.json", allowed: ALLOWED };

const ALLOWED: &[Allowed] = &[
    Allowed {
        at: "PATCH /productOrder/{id} request",
        reason: "a merge patch names only what changes (RFC 7386); the patched order is checked whole",
    },
    Allowed { at: "* request channel", reason: "kept as sent: the order service does not route by channel" },
    Allowed { at: "* request * priceAlteration", reason: "kept as sent: prices are computed from the catalog" },
    Allowed { at: "* request * productOfferingQualificationItem", reason: "kept as sent: no qualification step" },
    Allowed { at: "* request * qualification", reason: "kept as sent: no qualification step" },
    Allowed { at: "* request * quoteItem", reason: "kept as sent: no quotes (TMF648) in this BSS" },
    Allowed {
        at: "* request productOrderItem productOrderItem",
        reason: "nested (bundle) items are kept as sent: the service fulfils and bills the first-level items",
    },
    Allowed {
        at: "* request productOrderItem productOrderItemRelationship",
        reason: "a relationship must name the related item and its type to mean anything",
    },
];

//! The TMF620 document this service serves (`/openapi.json`) and its differences from the official contract.

use crate::{BASE_PATH, jobs, resources};
use bss_tmf::openapi::contract::{Allowed, Contract};
use bss_tmf::openapi::{ApiDocument, ApiInfo, Method, Operation, Success};
use bss_tmf::routes::Operations;
use serde_json::{Value, json};

/// The document: the five resources, the jobs and `/hub`, as [`crate::routes`] registers them.
pub fn document() -> Value {
    let info = ApiInfo {
        title: "TMF620 Product Catalog Management",
        version: env!("CARGO_PKG_VERSION"),
        service: "catalog",
        local_port: 8620,
        description: "The operator's product catalog (TMF620 v4.1): catalogs, categories, product specifications, \
                      offerings and their prices, with import and export jobs.",
    };
    let period = json!({"startDateTime": "2026-01-01T00:00:00Z"});
    // Each collection beside the create example its document shows.
    let collections = [
        (&resources::CATALOG, json!({"name": "Consumer catalog", "lifecycleStatus": "In design", "validFor": period})),
        (&resources::CATEGORY, json!({"name": "Broadband", "isRoot": true, "lifecycleStatus": "In design"})),
        (
            &resources::PRODUCT_SPECIFICATION,
            json!({"name": "Fibre 1 Gbit/s", "brand": "Acme", "lifecycleStatus": "In design"}),
        ),
        (
            &resources::PRODUCT_OFFERING_PRICE,
            json!({"name": "Fibre monthly fee", "priceType": "recurring", "recurringChargePeriodType": "month",
                   "recurringChargePeriodLength": 1, "price": {"unit": "EUR", "value": 30.0},
                   "lifecycleStatus": "Active", "validFor": period}),
        ),
        (
            &resources::PRODUCT_OFFERING,
            json!({"name": "Fibre 1 Gbit/s", "lifecycleStatus": "Active", "isSellable": true, "validFor": period,
                   "productOfferingPrice": [{"id": "<price id>"}]}),
        ),
    ];
    let mut document = ApiDocument::new(info);
    for (kind, example) in collections {
        document = document.collection(BASE_PATH, kind, Operations::ALL, example);
    }
    let job_operations = Operations { create: true, ..Operations::READ_AND_DELETE };
    document
        .collection(BASE_PATH, &jobs::EXPORT_JOB, job_operations, json!({"query": "lifecycleStatus=Active"}))
        .collection(
            BASE_PATH,
            &jobs::IMPORT_JOB,
            job_operations,
            json!({"url": "https://files.example.com/catalog.json"}),
        )
        .operation(
            Operation::new(
                Method::Get,
                format!("{BASE_PATH}/exportJob/{{id}}/content"),
                "retrieveExportJobContent",
                "exportJob",
                "The document a completed export job produced",
            )
            .success(Success::Json(200, "ExportContent"))
            .errors(&[404]),
        )
        .raw_schema(
            "ExportContent",
            json!({"type": "object", "description": "The exported resources, by collection name",
            "additionalProperties": {"type": "array", "items": {"type": "object"}}}),
        )
        .hub(BASE_PATH)
        .build()
}

/// The official TMF620 v4.1 contract and where this service differs on purpose.
pub const CONTRACT: Contract =
    Contract { official_file: "TMF620-ProductCatalog-v4.1.0.swagger.json", allowed: ALLOWED };

const ALLOWED: &[Allowed] = &[
    Allowed { at: "GET /exportJob/{id}/content", reason: "the exported document, which an import job's url names" },
    Allowed {
        at: "POST /exportJob request",
        reason: "url is not required: the service keeps the export and sets url to its content",
    },
    Allowed {
        at: "POST /importJob request",
        reason: "url or an inline content: only this catalog's own export URLs are fetched (no request forgery)",
    },
    Allowed { at: "* request bundledProductOffering", reason: "a bundle must name the offerings it bundles" },
    Allowed { at: "* request bundledProductSpecification", reason: "a bundle must name the specifications it bundles" },
    Allowed { at: "* request * priceAlteration", reason: "kept as sent: the catalog does not compute alterations" },
    Allowed { at: "* request targetProductSchema", reason: "kept as sent: the catalog does not resolve schemas" },
];

//! `/openapi.json` and `/api-docs`: each service describes what it serves, without a token.
//!
//! The document comes from the service ([`crate::ServiceSpec::api_document`], built by `bss_tmf::openapi`
//! from the same declarations as its routes); the page is one self-contained HTML file, the same for every
//! service, that renders the document of whichever service serves it and lets a user try its operations
//! with a token. Neither reveals anything a client could not learn from the API itself.

use crate::ServiceSpec;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};

/// The API page (no external resources: it works offline and under a strict content security policy).
const PAGE: &str = include_str!("../assets/api-docs.html");

/// The service's document as served: built and serialised once per instance, when it starts.
#[derive(Debug, Clone)]
pub struct RenderedDocument(Bytes);

impl RenderedDocument {
    pub fn of(spec: &ServiceSpec) -> Self {
        let document = (spec.api_document)();
        RenderedDocument(Bytes::from(serde_json::to_vec(&document).expect("a JSON value serialises")))
    }
}

/// `GET /openapi.json`.
pub async fn document(rendered: web::Data<RenderedDocument>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-cache"))
        .content_type("application/json")
        .body(rendered.0.clone())
}

/// `GET /api-docs`.
pub async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((
            CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:",
        ))
        .body(PAGE)
}

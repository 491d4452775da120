//! The five TMF630 operations of a resource collection, as HTTP handlers over [`crate::store`].
//!
//! `GET {base}/{name}` (list with paging headers), `POST {base}/{name}` (201 + `Location`),
//! `GET {base}/{name}/{id}`, `PATCH {base}/{name}/{id}` (three media types), `DELETE {base}/{name}/{id}` (204).
//! Any other method on these paths is a 405 with the TMF error body.

use crate::patch::PatchFormat;
use crate::query;
use crate::store::{self, ResourceKind};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use bss_common::server::resource;
use bss_common::{ApiError, ServiceContext};
use serde_json::Value;

/// Registers the collection and item routes of `kind` under `base_path`.
pub fn configure(config: &mut web::ServiceConfig, base_path: &'static str, kind: &'static ResourceKind) {
    configure_operations(config, base_path, kind, Operations::ALL);
}

/// Which of the five operations a collection offers (jobs, for instance, are created by their own handler
/// and never patched).
#[derive(Debug, Clone, Copy)]
pub struct Operations {
    pub create: bool,
    pub patch: bool,
    pub delete: bool,
}

impl Operations {
    pub const ALL: Operations = Operations { create: true, patch: true, delete: true };
    pub const READ_AND_DELETE: Operations = Operations { create: false, patch: false, delete: true };
    /// GET list and by id only (plus a POST of the service's own, see [`configure_with_create_operations`]).
    pub const READ_ONLY: Operations = Operations { create: false, patch: false, delete: false };
}

/// Registers the routes of `kind` that `operations` allows; the others answer 405.
pub fn configure_operations(
    config: &mut web::ServiceConfig,
    base_path: &'static str,
    kind: &'static ResourceKind,
    operations: Operations,
) {
    register(config, base_path, kind, operations, Handlers::default());
}

/// A service's own handlers replacing the toolkit's for some operations.
#[derive(Default)]
struct Handlers {
    post: Option<actix_web::Route>,
    patch: Option<actix_web::Route>,
}

/// Registers the routes `operations` allows, with `post` (a service's own handler) as POST when given.
fn register(
    config: &mut web::ServiceConfig,
    base_path: &'static str,
    kind: &'static ResourceKind,
    operations: Operations,
    handlers: Handlers,
) {
    let collection_path = format!("{base_path}/{}", kind.name);
    let item_path = format!("{collection_path}/{{id}}");
    let mut collection =
        resource(&collection_path).app_data(web::Data::new(Collection { base_path, kind })).route(web::get().to(list));
    match handlers.post {
        Some(route) => collection = collection.route(route),
        None if operations.create => collection = collection.route(web::post().to(create)),
        None => {}
    }
    let mut item =
        resource(&item_path).app_data(web::Data::new(Collection { base_path, kind })).route(web::get().to(retrieve));
    if operations.delete {
        item = item.route(web::delete().to(delete));
    }
    match handlers.patch {
        Some(route) => item = item.route(route),
        None if operations.patch => item = item.route(web::patch().to(patch)),
        None => {}
    }
    config.service(collection).service(item);
}

/// Registers the list, read, PATCH and DELETE routes of `kind` with the toolkit's handlers and `create` as its
/// POST handler, for a resource whose creation needs more than the store does (e.g. calls to other services).
pub fn configure_with_create<H, Args>(
    config: &mut web::ServiceConfig,
    base_path: &'static str,
    kind: &'static ResourceKind,
    create: H,
) where
    H: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    H::Output: actix_web::Responder + 'static,
{
    configure_with_create_operations(config, base_path, kind, create, Operations::ALL);
}

/// Like [`configure_with_create`], with PATCH and DELETE only where `operations` allows them (405 otherwise);
/// `operations.create` is ignored: `create` is the POST handler.
pub fn configure_with_create_operations<H, Args>(
    config: &mut web::ServiceConfig,
    base_path: &'static str,
    kind: &'static ResourceKind,
    create: H,
    operations: Operations,
) where
    H: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    H::Output: actix_web::Responder + 'static,
{
    register(config, base_path, kind, operations, Handlers { post: Some(web::post().to(create)), patch: None });
}

/// Registers the routes of `kind` with `create` as its POST handler and `patch` as its PATCH handler (list,
/// read and DELETE are the toolkit's), for a resource whose changes also need more than the store does (e.g.
/// a reference checked in another service). A `patch` handler usually ends in [`store::patch`] or
/// [`store::update_with`]; [`patch_format`] reads the media type as the toolkit does.
pub fn configure_with_create_and_patch<C, CArgs, P, PArgs>(
    config: &mut web::ServiceConfig,
    base_path: &'static str,
    kind: &'static ResourceKind,
    create: C,
    patch: P,
) where
    C: actix_web::Handler<CArgs>,
    CArgs: actix_web::FromRequest + 'static,
    C::Output: actix_web::Responder + 'static,
    P: actix_web::Handler<PArgs>,
    PArgs: actix_web::FromRequest + 'static,
    P::Output: actix_web::Responder + 'static,
{
    let handlers = Handlers { post: Some(web::post().to(create)), patch: Some(web::patch().to(patch)) };
    register(config, base_path, kind, Operations::ALL, handlers);
}

/// The PATCH format a request's `Content-Type` names (415 for any other media type).
pub fn patch_format(req: &HttpRequest) -> Result<PatchFormat, ApiError> {
    PatchFormat::from_content_type(req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()))
}

/// Which collection a handler serves.
struct Collection {
    base_path: &'static str,
    kind: &'static ResourceKind,
}

async fn list(
    req: HttpRequest,
    ctx: web::Data<ServiceContext>,
    collection: web::Data<Collection>,
) -> Result<HttpResponse, ApiError> {
    let kind = collection.kind;
    let query =
        query::parse_list_query(req.query_string(), kind.paging).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let (documents, total) = store::list(&ctx, kind, &query).await?;
    Ok(list_response(documents, total, &query))
}

/// The 200 of a list request: the page (projected to `fields=` when asked), `X-Total-Count` (all matching) and
/// `X-Result-Count` (this page). For services that list from tables of their own (billing) as well.
pub fn list_response(documents: Vec<Value>, total: i64, query: &query::ListQuery) -> HttpResponse {
    let page: Vec<Value> = match &query.fields {
        Some(fields) => documents.into_iter().map(|d| query::project(d, fields)).collect(),
        None => documents,
    };
    HttpResponse::Ok()
        .insert_header(("X-Total-Count", total.to_string()))
        .insert_header(("X-Result-Count", page.len().to_string()))
        .json(page)
}

async fn create(
    ctx: web::Data<ServiceContext>,
    collection: web::Data<Collection>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let created = store::create(&ctx, collection.kind, collection.base_path, body.into_inner()).await?;
    let location = created["href"].as_str().unwrap_or_default().to_owned();
    Ok(HttpResponse::Created().insert_header((header::LOCATION, location)).json(created))
}

async fn retrieve(
    req: HttpRequest,
    id: web::Path<String>,
    ctx: web::Data<ServiceContext>,
    collection: web::Data<Collection>,
) -> Result<HttpResponse, ApiError> {
    // `fields=` applies to a single resource too (parsed by the same rules); other list parameters are
    // meaningless here and ignored.
    let query = query::parse_list_query(req.query_string(), collection.kind.paging)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let document = store::get(&ctx, collection.kind, &id).await?;
    let document = match &query.fields {
        Some(fields) => query::project(document, fields),
        None => document,
    };
    Ok(HttpResponse::Ok().json(document))
}

async fn patch(
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
    ctx: web::Data<ServiceContext>,
    collection: web::Data<Collection>,
) -> Result<HttpResponse, ApiError> {
    let format = patch_format(&req)?;
    let patched = store::patch(&ctx, collection.kind, &id, format, &body).await?;
    Ok(HttpResponse::Ok().json(patched))
}

async fn delete(
    id: web::Path<String>,
    ctx: web::Data<ServiceContext>,
    collection: web::Data<Collection>,
) -> Result<HttpResponse, ApiError> {
    store::delete(&ctx, collection.kind, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

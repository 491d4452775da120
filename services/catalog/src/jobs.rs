//! TMF620 `exportJob` and `importJob`: move a catalog (or a filtered part of it) between environments.
//!
//! A job is a TMF resource (`tmf_resource`, kinds `exportJob`/`importJob`) whose `status` moves
//! `Not Started → Running → Succeeded | Failed`, each move a StateChangeEvent. POST creates it and answers 201
//! at once; a background worker (every replica runs one; `FOR UPDATE SKIP LOCKED` hands each job to one) does
//! the work:
//! - export: every catalog resource matching the job's `query` — either `lifecycleStatus=Active` (applied
//!   to every resource kind) or `productOffering?lifecycleStatus=Active` (one kind) — into one JSON document
//!   `{ "<kind>": [resources…] }`, stored in `export_content` and served at `{base}/exportJob/{id}/content`,
//!   which becomes the job's `url`.
//! - import: a document of that shape, from `url` (the content URL of an export job of this service: fetching
//!   arbitrary URLs from inside the network would be a request-forgery hole) or given inline as `content`.
//!   Resources keep their ids; each one that cannot be imported (an id that exists, an invalid body) is a line
//!   in `errorLog`, and the job ends `Failed` if there was any (what was imported stays imported).
//!
//! A job interrupted by a crash or a shutdown stays `Running`; the worker fails such jobs after [`STALE_AFTER`]
//! so the operator can resubmit them (exports are repeatable; a repeated import reports the ids it already has).

use crate::resources::{self, LIFECYCLE};
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use bss_common::{ApiError, ServiceContext};
use bss_tmf::query::{self, ListQuery};
use bss_tmf::schema::{Schema, Ty, opt};
use bss_tmf::store::{self, Lifecycle, ResourceKind};
use serde_json::{Map, Value, json};
use std::time::Duration;

/// Job states, as TMF620's `JobStateType` names them.
pub static JOB_LIFECYCLE: Lifecycle = Lifecycle {
    attribute: "status",
    initial: "Not Started",
    transitions: &[
        ("Not Started", &["Running", "Failed"]),
        ("Running", &["Succeeded", "Failed"]),
        ("Succeeded", &[]),
        ("Failed", &[]),
    ],
};

/// A job still `Running` after this long was interrupted (its replica died) and is failed.
pub const STALE_AFTER: Duration = Duration::from_secs(600);

/// The attributes of TMF620's `ExportJob`/`ImportJob`, plus each kind's own.
macro_rules! job_schema {
    ($type_name:literal, $($extra:expr),* $(,)?) => {
        Schema {
            type_name: $type_name,
            fields: &[
                opt("completionDate", Ty::DateTime),
                opt("contentType", Ty::String),
                opt("creationDate", Ty::DateTime),
                opt("errorLog", Ty::String),
                opt("path", Ty::String),
                opt("url", Ty::String),
                opt("status", Ty::String),
                opt("lastUpdate", Ty::DateTime),
                $($extra),*
            ],
        }
    };
}

static EXPORT_SCHEMA: Schema = job_schema!("ExportJob", opt("query", Ty::String));
// Extension: `content`, the document to import inline (see the module comment).
static IMPORT_SCHEMA: Schema = job_schema!("ImportJob", opt("content", Ty::Any));

pub static EXPORT_JOB: ResourceKind = ResourceKind {
    name: "exportJob",
    schema: &EXPORT_SCHEMA,
    lifecycle: Some(&JOB_LIFECYCLE),
    patchable: &[],
    paging: resources::PAGING,
    cached: false,
    validate: store::accept,
    deletable: store::accept,
    check_change: bss_tmf::store::accept_change,
    derive: bss_tmf::store::derive_nothing,
    extra_events: bss_tmf::store::no_extra_events,
};

pub static IMPORT_JOB: ResourceKind = ResourceKind {
    name: "importJob",
    schema: &IMPORT_SCHEMA,
    lifecycle: Some(&JOB_LIFECYCLE),
    patchable: &[],
    paging: resources::PAGING,
    cached: false,
    validate: store::accept,
    deletable: store::accept,
    check_change: bss_tmf::store::accept_change,
    derive: bss_tmf::store::derive_nothing,
    extra_events: bss_tmf::store::no_extra_events,
};

/// Job routes: list, get and delete from the toolkit; POST and the export content here. (The POST handlers
/// must be routes of the toolkit's collection resource: a second resource on the same path would shadow its
/// GET with a 405, as it once did, until the API document's drift test found it.)
pub fn configure(config: &mut web::ServiceConfig, base_path: &'static str) {
    use bss_common::server::resource;
    use bss_tmf::routes::{Operations, configure_with_create_operations};
    config.service(resource(&format!("{base_path}/exportJob/{{id}}/content")).route(web::get().to(export_content)));
    configure_with_create_operations(config, base_path, &EXPORT_JOB, create_export, Operations::READ_AND_DELETE);
    configure_with_create_operations(config, base_path, &IMPORT_JOB, create_import, Operations::READ_AND_DELETE);
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

async fn create_job(ctx: &ServiceContext, kind: &ResourceKind, mut body: Value) -> Result<HttpResponse, ApiError> {
    let object = body.as_object_mut().ok_or_else(|| ApiError::bad_request("The body must be a JSON object."))?;
    // The server owns the job's progress.
    for owned in ["status", "completionDate", "errorLog", "creationDate"] {
        object.remove(owned);
    }
    object.insert("creationDate".into(), Value::from(now_rfc3339()));
    object.entry("contentType").or_insert_with(|| Value::from("application/json"));
    let created = store::create(ctx, kind, crate::BASE_PATH, body).await?;
    let location = created["href"].as_str().unwrap_or_default().to_owned();
    Ok(HttpResponse::Created().insert_header((header::LOCATION, location)).json(created))
}

async fn create_export(ctx: web::Data<ServiceContext>, body: web::Json<Value>) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    if let Some(query) = body.get("query").and_then(Value::as_str) {
        export_scope(query)?;
    }
    create_job(&ctx, &EXPORT_JOB, body).await
}

async fn create_import(ctx: web::Data<ServiceContext>, body: web::Json<Value>) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    match (body.get("url").and_then(Value::as_str), body.get("content")) {
        (Some(url), _) => {
            export_job_id(url)?;
        }
        (None, Some(content)) if content.is_object() => {}
        _ => return Err(ApiError::bad_request("An import needs 'url' (an export's content URL) or 'content'.")),
    }
    create_job(&ctx, &IMPORT_JOB, body).await
}

async fn export_content(ctx: web::Data<ServiceContext>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let content: Option<Value> = sqlx::query_scalar("SELECT content FROM export_content WHERE job_id = $1")
        .bind(id.as_str())
        .fetch_optional(&ctx.db)
        .await?;
    let content = content.ok_or_else(|| ApiError::not_found(format!("No finished export with id '{id}'.")))?;
    Ok(HttpResponse::Ok().json(content))
}

/// Which kinds an export covers and with which filters.
fn export_scope(query: &str) -> Result<(Vec<&'static ResourceKind>, Vec<query::Filter>), ApiError> {
    let bad = |e: query::QueryError| ApiError::bad_request(format!("'query': {e}"));
    let (kinds, filters) = match query.split_once('?') {
        Some((name, filters)) => {
            let kind = resources::ALL
                .iter()
                .copied()
                .find(|k| k.name == name)
                .ok_or_else(|| ApiError::bad_request(format!("'query': '{name}' is not a catalog resource.")))?;
            (vec![kind], filters)
        }
        None => (resources::ALL.to_vec(), query),
    };
    let filters = if filters.is_empty() { Vec::new() } else { query::parse_filters(filters).map_err(bad)? };
    Ok((kinds, filters))
}

/// The export job id in `…/exportJob/{id}/content` (absolute or relative URL).
fn export_job_id(url: &str) -> Result<String, ApiError> {
    let path = url.split_once("://").map_or(url, |(_, rest)| rest.find('/').map_or("", |i| &rest[i..]));
    path.strip_prefix(&format!("{}/exportJob/", crate::BASE_PATH))
        .and_then(|rest| rest.strip_suffix("/content"))
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::bad_request(
                "'url' must be the content URL of an export job of this catalog (…/exportJob/{id}/content).",
            )
        })
}

/// Runs jobs until the service stops; a job still running then is abandoned like one whose replica died
/// (see [`STALE_AFTER`]).
pub async fn run_worker(ctx: web::Data<ServiceContext>) {
    ctx.lifecycle
        .every("catalog-jobs", Duration::from_millis(250), || async {
            if let Err(e) = fail_stale_jobs(&ctx).await {
                tracing::warn!(error = %e, "could not check for interrupted jobs");
            }
            match claim_next(&ctx).await {
                Ok(Some((kind, job))) => run_job(&ctx, kind, job).await,
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "could not claim a catalog job"),
            }
        })
        .await;
}

/// Moves the oldest waiting job to `Running` and returns it.
async fn claim_next(ctx: &ServiceContext) -> Result<Option<(&'static ResourceKind, Value)>, ApiError> {
    let mut tx = ctx.db.begin().await?;
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT kind, id FROM tmf_resource
         WHERE kind IN ('exportJob', 'importJob') AND status = 'Not Started'
         ORDER BY last_update LIMIT 1 FOR UPDATE SKIP LOCKED",
    )
    .fetch_optional(&mut *tx)
    .await?;
    // The row lock only decides who claims; the claim itself is the status change below.
    tx.commit().await?;
    let Some((kind_name, id)) = row else { return Ok(None) };
    let kind: &'static ResourceKind = if kind_name == "exportJob" { &EXPORT_JOB } else { &IMPORT_JOB };
    match store::update_with(ctx, kind, &id, |job| {
        if job["status"] != "Not Started" {
            return Err(ApiError::conflict("claimed elsewhere"));
        }
        let mut job = job.clone();
        job["status"] = json!("Running");
        Ok(job)
    })
    .await
    {
        Ok(job) => Ok(Some((kind, job))),
        Err(e) if e.status().as_u16() == 409 || e.status().as_u16() == 404 => Ok(None),
        Err(e) => Err(e),
    }
}

async fn run_job(ctx: &ServiceContext, kind: &'static ResourceKind, job: Value) {
    let id = job["id"].as_str().unwrap_or_default().to_owned();
    let outcome = if kind.name == "exportJob" { export(ctx, &job).await } else { import(ctx, &job).await };
    let finished = store::update_with(ctx, kind, &id, |current| {
        let mut done = current.clone();
        done["completionDate"] = json!(now_rfc3339());
        match &outcome {
            Ok(Finished { url, errors }) if errors.is_empty() => {
                done["status"] = json!("Succeeded");
                if let Some(url) = url {
                    done["url"] = json!(url);
                }
            }
            Ok(Finished { errors, .. }) => {
                done["status"] = json!("Failed");
                done["errorLog"] = json!(errors.join("\n"));
            }
            Err(e) => {
                done["status"] = json!("Failed");
                done["errorLog"] = json!(e.message());
            }
        }
        Ok(done)
    })
    .await;
    match finished {
        Ok(job) => tracing::info!(job = %id, kind = kind.name, status = %job["status"], "catalog job finished"),
        Err(e) => tracing::warn!(job = %id, error = %e, "catalog job result not recorded"),
    }
}

/// What a job produced: the export's URL, and one line per resource that could not be imported.
struct Finished {
    url: Option<String>,
    errors: Vec<String>,
}

async fn export(ctx: &ServiceContext, job: &Value) -> Result<Finished, ApiError> {
    let (kinds, filters) = export_scope(job.get("query").and_then(Value::as_str).unwrap_or(""))?;
    let mut content = Map::new();
    for kind in kinds {
        let mut documents = Vec::new();
        let mut offset = 0u32;
        loop {
            let page = ListQuery {
                offset,
                limit: resources::PAGING.max_limit,
                fields: None,
                filters: filters.clone(),
                sort: vec![query::SortKey { path: vec!["id".into()], descending: false }],
            };
            let (batch, total) = store::list(ctx, kind, &page).await?;
            let fetched = batch.len() as u32;
            documents.extend(batch);
            offset += fetched;
            if fetched == 0 || i64::from(offset) >= total {
                break;
            }
        }
        content.insert(kind.name.to_owned(), Value::Array(documents));
    }
    let id = job["id"].as_str().unwrap_or_default();
    sqlx::query(
        "INSERT INTO export_content (job_id, content) VALUES ($1, $2) ON CONFLICT (job_id) DO UPDATE SET content = $2",
    )
    .bind(id)
    .bind(Value::Object(content))
    .execute(&ctx.db)
    .await?;
    Ok(Finished { url: Some(format!("{}/exportJob/{id}/content", crate::BASE_PATH)), errors: Vec::new() })
}

async fn import(ctx: &ServiceContext, job: &Value) -> Result<Finished, ApiError> {
    let content = match (job.get("url").and_then(Value::as_str), job.get("content")) {
        (Some(url), _) => {
            let export_id = export_job_id(url)?;
            sqlx::query_scalar::<_, Value>("SELECT content FROM export_content WHERE job_id = $1")
                .bind(&export_id)
                .fetch_optional(&ctx.db)
                .await?
                .ok_or_else(|| ApiError::bad_request(format!("There is no finished export '{export_id}'.")))?
        }
        (None, Some(content)) => content.clone(),
        (None, None) => return Err(ApiError::bad_request("Nothing to import.")),
    };
    let mut errors = Vec::new();
    if let Some(unknown) =
        content.as_object().and_then(|o| o.keys().find(|k| !resources::ALL.iter().any(|r| r.name == k.as_str())))
    {
        errors.push(format!("{unknown}: not a catalog resource; skipped"));
    }
    for kind in resources::ALL {
        for document in content.get(kind.name).and_then(Value::as_array).into_iter().flatten() {
            let id = document.get("id").and_then(Value::as_str).unwrap_or("?").to_owned();
            let known_status = document
                .get("lifecycleStatus")
                .and_then(Value::as_str)
                .is_none_or(|s| LIFECYCLE.statuses().contains(&s));
            let outcome = if known_status {
                store::insert_document(ctx, kind, crate::BASE_PATH, document.clone()).await.map(|_| ())
            } else {
                Err(ApiError::bad_request("unknown lifecycleStatus"))
            };
            if let Err(e) = outcome {
                errors.push(format!("{} {id}: {}", kind.name, e.message()));
            }
        }
    }
    Ok(Finished { url: None, errors })
}

/// Fails jobs left `Running` by a replica that died.
async fn fail_stale_jobs(ctx: &ServiceContext) -> Result<(), ApiError> {
    let stale: Vec<(String, String)> = sqlx::query_as(
        "SELECT kind, id FROM tmf_resource
         WHERE kind IN ('exportJob', 'importJob') AND status = 'Running' AND last_update < now() - make_interval(secs => $1)",
    )
    .bind(STALE_AFTER.as_secs_f64())
    .fetch_all(&ctx.db)
    .await?;
    for (kind_name, id) in stale {
        let kind: &'static ResourceKind = if kind_name == "exportJob" { &EXPORT_JOB } else { &IMPORT_JOB };
        let _ = store::update_with(ctx, kind, &id, |job| {
            let mut job = job.clone();
            job["status"] = json!("Failed");
            job["errorLog"] = json!("Interrupted (the replica running it stopped); submit the job again.");
            job["completionDate"] = json!(now_rfc3339());
            Ok(job)
        })
        .await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_catalogs_export_urls_are_importable() {
        let base = crate::BASE_PATH;
        assert_eq!(export_job_id(&format!("{base}/exportJob/abc/content")).unwrap(), "abc");
        assert_eq!(export_job_id(&format!("https://catalog.example{base}/exportJob/abc/content")).unwrap(), "abc");
        for bad in [
            "http://169.254.169.254/latest/meta-data".to_owned(),
            format!("{base}/exportJob//content"),
            format!("{base}/exportJob/a/b/content"),
            format!("{base}/productOffering/x"),
        ] {
            assert!(export_job_id(&bad).is_err(), "{bad}");
        }
    }
}

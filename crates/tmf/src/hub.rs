//! TMF630 `/hub`: clients register an HTTP listener for the service's events, list and delete registrations.
//!
//! Shape: four handlers over the `hub_listener` table (`POST/GET {base}/hub`, `GET/DELETE {base}/hub/{id}`),
//! registered by [`configure`] under a service's base path, so the bearer-token middleware guards them like any
//! other TMF route (`<service>:write` to register or delete, `<service>:read` to list). A registration is
//! `{"callback": "https://…", "query": "eventType=…"}`; the query is a TMF630 filter evaluated against each
//! event's payload (see [`crate::events`], which also delivers to the listeners).
//!
//! A callback is a URL the *server* will call, chosen by the caller: without a guard anyone with write scope
//! could make the service probe its own network (SSRF). So a callback must be an absolute http(s) URL and,
//! unless `HUB_ALLOW_PRIVATE_CALLBACKS=true`, its host may not be `localhost` nor a loopback, private,
//! link-local, unique-local or unspecified IP literal. Names that *resolve* to such addresses are refused at
//! delivery time by the delivery client's resolver (a name can change its address after registration).
//! Every registration and deletion is audited (`configuration` category) with the callback stripped of
//! credentials and query string.

use crate::events::parse_listener_query;
use actix_web::http::header::LOCATION;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use bss_common::audit::{AuditCategory, AuditRecord};
use bss_common::auth::Principal;
use bss_common::server::resource;
use bss_common::{ApiError, ApiResult, ServiceContext};
use reqwest::Url;
use serde_json::{Map, Value, json};
use std::net::{IpAddr, Ipv4Addr};

/// Longest accepted callback URL and query, in bytes.
const MAX_CALLBACK_LEN: usize = 2_048;
const MAX_QUERY_LEN: usize = 2_048;

/// Registers `POST/GET {base_path}/hub` and `GET/DELETE {base_path}/hub/{id}` on `config`.
pub fn configure(config: &mut web::ServiceConfig, base_path: &'static str) {
    config
        .service(
            resource(&format!("{base_path}/hub"))
                .route(web::post().to(
                    move |req: HttpRequest, ctx: web::Data<ServiceContext>, body: web::Json<Value>| {
                        register(req, ctx, body, base_path)
                    },
                ))
                .route(web::get().to(list)),
        )
        .service(
            resource(&format!("{base_path}/hub/{{id}}"))
                .route(web::get().to(get_one))
                .route(web::delete().to(unregister)),
        );
}

/// One registered listener as the API shows it.
fn listener_json(id: &str, callback: &str, query: Option<&str>) -> Value {
    let mut body = Map::new();
    body.insert("id".into(), json!(id));
    body.insert("callback".into(), json!(callback));
    if let Some(query) = query {
        body.insert("query".into(), json!(query));
    }
    Value::Object(body)
}

async fn register(
    req: HttpRequest,
    ctx: web::Data<ServiceContext>,
    body: web::Json<Value>,
    base_path: &'static str,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let Some(fields) = body.as_object() else {
        return Err(ApiError::bad_request("The body must be a JSON object with `callback` (and optionally `query`)."));
    };
    let callback = match fields.get("callback") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err(ApiError::bad_request("callback is required: the absolute http(s) URL to send events to."));
        }
        Some(_) => return Err(ApiError::bad_request("callback must be a string (an absolute http(s) URL).")),
    };
    let url = parse_callback(&callback).map_err(ApiError::bad_request)?;
    if !ctx.settings.hub_allow_private_callbacks
        && let Some(why) = internal_callback(&url)
    {
        return Err(ApiError::bad_request(format!(
            "callback is refused: its host {why}; listeners must be reachable on a public address."
        )));
    }
    let query = match fields.get("query") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.trim().to_owned()),
        Some(_) => return Err(ApiError::bad_request("query must be a string (a TMF630 filter).")),
    };
    if let Some(query) = &query {
        if query.len() > MAX_QUERY_LEN {
            return Err(ApiError::bad_request(format!("query is longer than {MAX_QUERY_LEN} bytes.")));
        }
        parse_listener_query(query)
            .map_err(|e| ApiError::bad_request(format!("query is not a valid TMF630 filter: {e}")))?;
    }

    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query("INSERT INTO hub_listener (id, callback, query) VALUES ($1, $2, $3)")
        .bind(&id)
        .bind(&callback)
        .bind(query.as_deref())
        .execute(&ctx.db)
        .await?;
    ctx.audit.record(
        AuditRecord::new(AuditCategory::Configuration, actor(&req), "hub.register", "success")
            .resource("hub", Some(id.clone()))
            .detail(json!({ "callback": redacted(&url), "query": query })),
    );
    tracing::info!(listener_id = %id, callback = %redacted(&url), "hub listener registered");
    Ok(HttpResponse::Created().insert_header((LOCATION, format!("{base_path}/hub/{id}"))).json(listener_json(
        &id,
        &callback,
        query.as_deref(),
    )))
}

async fn list(ctx: web::Data<ServiceContext>) -> ApiResult<HttpResponse> {
    let rows: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT id, callback, query FROM hub_listener ORDER BY created_at, id")
            .fetch_all(&ctx.db)
            .await?;
    let listeners: Vec<Value> = rows.iter().map(|(id, cb, q)| listener_json(id, cb, q.as_deref())).collect();
    Ok(HttpResponse::Ok().json(listeners))
}

async fn get_one(ctx: web::Data<ServiceContext>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let row: Option<(String, String, Option<String>)> =
        sqlx::query_as("SELECT id, callback, query FROM hub_listener WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&ctx.db)
            .await?;
    match row {
        Some((id, callback, query)) => Ok(HttpResponse::Ok().json(listener_json(&id, &callback, query.as_deref()))),
        None => Err(not_found(&id)),
    }
}

async fn unregister(
    req: HttpRequest,
    ctx: web::Data<ServiceContext>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    // Its open deliveries go with it (ON DELETE CASCADE): nothing more is sent to a deleted listener.
    let deleted = sqlx::query("DELETE FROM hub_listener WHERE id = $1").bind(id.as_str()).execute(&ctx.db).await?;
    if deleted.rows_affected() == 0 {
        return Err(not_found(&id));
    }
    ctx.audit.record(
        AuditRecord::new(AuditCategory::Configuration, actor(&req), "hub.unregister", "success")
            .resource("hub", Some(id.to_string())),
    );
    tracing::info!(listener_id = %id, "hub listener deleted");
    Ok(HttpResponse::NoContent().finish())
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("No hub listener with id {id:?}."))
}

fn actor(req: &HttpRequest) -> String {
    req.extensions().get::<Principal>().map(|p| p.subject.clone()).unwrap_or_else(|| "anonymous".to_owned())
}

/// The callback as an absolute http(s) URL, or why not (naming `callback`).
fn parse_callback(callback: &str) -> Result<Url, String> {
    if callback.len() > MAX_CALLBACK_LEN {
        return Err(format!("callback is longer than {MAX_CALLBACK_LEN} bytes."));
    }
    let url = Url::parse(callback).map_err(|e| format!("callback is not an absolute URL: {e}."))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("callback must be an http or https URL, not {}.", url.scheme()));
    }
    if url.host().is_none() {
        return Err("callback has no host.".to_owned());
    }
    Ok(url)
}

/// Why a callback URL points at this machine or an internal network, if it does (by name or IP literal).
pub(crate) fn internal_callback(url: &Url) -> Option<String> {
    // The URL parser has normalised IP literals (decimal, hex, short forms) already; IPv6 ones keep brackets.
    let host = url.host_str()?;
    let literal = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return is_internal_address(ip).then(|| format!("{ip} is an internal address"));
    }
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    (name == "localhost" || name.ends_with(".localhost")).then(|| format!("{name} is this machine"))
}

/// Loopback, private (RFC 1918), link-local, unique-local (fc00::/7), unspecified or "this network" (0/8)
/// addresses, IPv4-mapped IPv6 included: where a callback must not lead unless private callbacks are allowed.
pub(crate) fn is_internal_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_internal_v4(v4),
            None => v6.is_loopback() || v6.is_unspecified() || v6.is_unique_local() || v6.is_unicast_link_local(),
        },
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified() || ip.octets()[0] == 0
}

/// `scheme://host[:port]/path`: the callback without credentials, query string or fragment, for logs and audit.
fn redacted(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(callback: &str) -> bool {
        internal_callback(&parse_callback(callback).unwrap()).is_some()
    }

    #[test]
    fn internal_hosts_are_recognised() {
        for callback in [
            "http://localhost/cb",
            "http://LOCALHOST./cb",
            "http://api.localhost:8080/cb",
            "http://127.0.0.1/cb",
            "http://127.1.2.3/cb",
            "http://2130706433/cb", // 127.0.0.1 in decimal, normalised by the URL parser
            "http://10.0.0.5/cb",
            "http://172.16.0.1/cb",
            "http://172.31.255.255/cb",
            "http://192.168.1.1/cb",
            "http://169.254.169.254/latest/meta-data",
            "http://0.0.0.0/cb",
            "http://[::1]/cb",
            "http://[::]/cb",
            "http://[fe80::1]/cb",
            "http://[fd12:3456::1]/cb",
            "http://[fc00::1]/cb",
            "http://[::ffff:127.0.0.1]/cb",
            "http://[::ffff:10.1.2.3]/cb",
        ] {
            assert!(refused(callback), "{callback} must be refused");
        }
        for callback in [
            "https://example.com/cb",
            "http://8.8.8.8/cb",
            "http://172.32.0.1/cb",
            "http://[2001:db8::1]/cb",
            "https://localhost.example.com/cb",
        ] {
            assert!(!refused(callback), "{callback} is public");
        }
    }

    #[test]
    fn callbacks_must_be_absolute_http_urls() {
        for bad in ["", "/relative", "ftp://example.com/x", "file:///etc/passwd", "example.com/cb", "http://"] {
            let error = parse_callback(bad).expect_err(bad);
            assert!(error.contains("callback"), "{bad}: {error}");
        }
        assert!(parse_callback("https://example.com:8443/hooks?x=1").is_ok());
    }

    #[test]
    fn redaction_drops_credentials_and_query() {
        let url = parse_callback("https://user:secret@example.com/hook?token=abc#f").unwrap();
        assert_eq!(redacted(&url), "https://example.com/hook");
    }
}

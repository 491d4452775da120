//! Each service's OpenAPI 3.0.3 document, derived from the same declarations that serve its routes.
//!
//! A document written by hand drifts from the code; this one is built from each collection's
//! [`ResourceKind`] and [`Schema`](crate::schema::Schema) (the attributes the server checks are the
//! attributes it documents), so it names its schemas as TMF does (`ProductOffering`, `ProductOffering_Create`,
//! `ProductOffering_Update`), gives every list its paging parameters and count headers, every PATCH its three
//! media types and every failure the TMF `Error` body. Operations a service writes itself (bill runs,
//! documents, payments) are added with [`Operation`], and the schemas of its own with
//! [`ApiDocument::object`]. Paths are full paths (`/tmf-api/<api>/v4/<collection>`): billing serves two TMF
//! base paths. [`contract`] compares a document with the official specification of its API.

pub mod contract;

use crate::routes::Operations;
use crate::schema::{COMMON, Field, Ty};
use crate::store::ResourceKind;
use bss_common::auth::Access;
use serde_json::{Map, Value, json};

/// What a document says about its service.
#[derive(Debug, Clone, Copy)]
pub struct ApiInfo {
    /// E.g. `TMF620 Product Catalog Management`.
    pub title: &'static str,
    pub version: &'static str,
    /// The service name, which prefixes its scopes (`catalog:read`).
    pub service: &'static str,
    /// The port of the service in the local stack (`make run`).
    pub local_port: u16,
    pub description: &'static str,
}

/// An HTTP method of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Patch => "patch",
            Method::Delete => "delete",
        }
    }

    /// The scope that grants it, by the rule the server enforces ([`Access::for_method`]).
    fn scope(self, service: &str) -> String {
        let method = match self {
            Method::Get => actix_web::http::Method::GET,
            Method::Post => actix_web::http::Method::POST,
            Method::Patch => actix_web::http::Method::PATCH,
            Method::Delete => actix_web::http::Method::DELETE,
        };
        Access::for_method(&method).scope(service)
    }
}

/// What a successful answer carries.
#[derive(Debug, Clone)]
pub enum Success {
    /// A JSON body of the named schema.
    Json(u16, &'static str),
    /// A JSON array of the named schema, with `X-Total-Count` and `X-Result-Count`.
    Page(&'static str),
    /// `201 Created` with `Location` and a body of the named schema.
    Created(&'static str),
    /// A body of another media type (a bill as HTML or PDF).
    Binary(&'static str),
    /// `204 No Content`.
    NoContent,
}

/// The body of a request.
#[derive(Debug, Clone)]
pub enum RequestBody {
    /// JSON of the named schema, with an example.
    Json(String, Value),
    /// A PATCH in the three media types, the merge patch of the named schema first.
    Patch(String, Value),
}

/// One operation, for the routes a service writes itself.
#[derive(Debug, Clone)]
pub struct Operation {
    pub method: Method,
    pub path: String,
    pub operation_id: String,
    pub tag: &'static str,
    pub summary: String,
    pub body: Option<RequestBody>,
    pub success: Success,
    /// Error statuses beside the ones every operation has (401, 403, 500, 503).
    pub errors: Vec<u16>,
    /// Query parameters beyond the path's `{id}`.
    pub parameters: Vec<Value>,
}

impl Operation {
    pub fn new(method: Method, path: String, operation_id: &str, tag: &'static str, summary: &str) -> Self {
        Operation {
            method,
            path,
            operation_id: operation_id.to_owned(),
            tag,
            summary: summary.to_owned(),
            body: None,
            success: Success::NoContent,
            errors: Vec::new(),
            parameters: Vec::new(),
        }
    }

    pub fn body(mut self, body: RequestBody) -> Self {
        self.body = Some(body);
        self
    }

    pub fn success(mut self, success: Success) -> Self {
        self.success = success;
        self
    }

    pub fn errors(mut self, errors: &[u16]) -> Self {
        self.errors = errors.to_vec();
        self
    }

    pub fn parameters(mut self, parameters: Vec<Value>) -> Self {
        self.parameters = parameters;
        self
    }
}

/// Builds one service's document.
#[derive(Debug)]
pub struct ApiDocument {
    info: ApiInfo,
    paths: Map<String, Value>,
    schemas: Map<String, Value>,
    tags: Vec<&'static str>,
}

/// The three errors of every protected operation (besides its own): no or a bad token, a missing scope, and
/// the server's own failures.
const ALWAYS: [u16; 4] = [401, 403, 500, 503];

impl ApiDocument {
    pub fn new(info: ApiInfo) -> Self {
        let mut document = ApiDocument { info, paths: Map::new(), schemas: Map::new(), tags: Vec::new() };
        document.add_shared_schemas();
        document
    }

    /// The operations of a collection served by [`crate::routes`]: list and read always, create, PATCH and
    /// DELETE as `operations` says (`create` is also documented for a service's own POST handler).
    pub fn collection(
        mut self,
        base_path: &str,
        kind: &'static ResourceKind,
        operations: Operations,
        example: Value,
    ) -> Self {
        let name = kind.schema.type_name;
        let upper = upper_first(kind.name);
        self.resource_schemas(kind);
        let collection = format!("{base_path}/{}", kind.name);
        let item = format!("{collection}/{{id}}");
        let limit = kind.paging.max_limit;
        self = self.operation(
            Operation::new(
                Method::Get,
                collection.clone(),
                &format!("list{upper}"),
                kind.name,
                &format!("List or find {name} objects"),
            )
            .success(Success::Page(name))
            .errors(&[400])
            .parameters(list_parameters(limit)),
        );
        if operations.create {
            self = self.operation(
                Operation::new(
                    Method::Post,
                    collection,
                    &format!("create{upper}"),
                    kind.name,
                    &format!("Creates a {name}"),
                )
                .body(RequestBody::Json(format!("{name}_Create"), example.clone()))
                .success(Success::Created(name))
                .errors(&[400, 409, 422]),
            );
        }
        self = self.operation(
            Operation::new(
                Method::Get,
                item.clone(),
                &format!("retrieve{upper}"),
                kind.name,
                &format!("Retrieves a {name} by id"),
            )
            .success(Success::Json(200, name))
            .errors(&[400, 404])
            .parameters(vec![fields_parameter()]),
        );
        if operations.patch {
            let patch_example = kind
                .patchable
                .iter()
                .find_map(|attribute| example.get(*attribute).map(|value| json!({ *attribute: value })))
                .unwrap_or_else(|| json!({}));
            self = self.operation(
                Operation::new(
                    Method::Patch,
                    item.clone(),
                    &format!("patch{upper}"),
                    kind.name,
                    &format!("Updates partially a {name}"),
                )
                .body(RequestBody::Patch(format!("{name}_Update"), patch_example))
                .success(Success::Json(200, name))
                .errors(&[400, 404, 409, 415, 422]),
            );
        }
        if operations.delete {
            self = self.operation(
                Operation::new(
                    Method::Delete,
                    item,
                    &format!("delete{upper}"),
                    kind.name,
                    &format!("Deletes a {name}"),
                )
                .success(Success::NoContent)
                .errors(&[404, 409]),
            );
        }
        self
    }

    /// Adds the object schema `name`: the attributes of `field_sets` that `keep` admits, requiring
    /// `required`. Every object schema of the document, the resource variants included, is built here.
    pub fn object(
        mut self,
        name: &str,
        field_sets: &[&[Field]],
        keep: impl Fn(&Field) -> bool,
        required: Required,
    ) -> Self {
        self.insert_object(name, field_sets, keep, required);
        self
    }

    /// A schema written out (a shape no [`crate::schema::Schema`] describes, such as a map).
    pub fn raw_schema(mut self, name: &str, schema: Value) -> Self {
        self.schemas.insert(name.to_owned(), schema);
        self
    }

    fn insert_object(
        &mut self,
        name: &str,
        field_sets: &[&[Field]],
        keep: impl Fn(&Field) -> bool,
        required: Required,
    ) {
        self.schemas.insert(name.to_owned(), object_schema(field_sets, keep, required));
    }

    /// The resource schema (`X`), its create schema (`X_Create`) and its update schema (`X_Update`).
    fn resource_schemas(&mut self, kind: &ResourceKind) {
        let name = kind.schema.type_name;
        let fields: &[&[Field]] = &[COMMON, kind.schema.fields];
        self.insert_object(name, fields, |_| true, Required::ANSWER);
        if let Some(lifecycle) = kind.lifecycle {
            self.schemas[name]["properties"][lifecycle.attribute]["enum"] = json!(lifecycle.statuses());
        }
        self.insert_object(
            &format!("{name}_Create"),
            fields,
            |field| !matches!(field.name, "id" | "href"),
            Required::Declared,
        );
        self.insert_object(
            &format!("{name}_Update"),
            fields,
            |field| kind.patchable.contains(&field.name) || field.name == "@type",
            Required::Named(&[]),
        );
    }

    /// Adds one operation.
    pub fn operation(mut self, operation: Operation) -> Self {
        if !self.tags.contains(&operation.tag) {
            self.tags.push(operation.tag);
        }
        let scope = operation.method.scope(self.info.service);
        let mut parameters = Vec::new();
        if operation.path.contains("{id}") {
            parameters.push(json!({"name": "id", "in": "path", "required": true,
                "description": "Identifier of the resource", "schema": {"type": "string"}}));
        }
        parameters.extend(operation.parameters.iter().cloned());
        let mut responses = Map::new();
        let (status, success) = success_response(&operation.success);
        responses.insert(status.to_string(), success);
        let mut errors: Vec<u16> = operation.errors.iter().chain(ALWAYS.iter()).copied().collect();
        errors.sort_unstable();
        errors.dedup();
        for status in errors {
            responses.insert(status.to_string(), json!({"$ref": format!("#/components/responses/{status}")}));
        }
        let mut entry = json!({
            "operationId": operation.operation_id,
            "tags": [operation.tag],
            "summary": operation.summary,
            "description": format!("Requires the scope `{scope}` (or `admin`)."),
            "security": [{"bearerAuth": []}],
            "x-scopes": [scope, "admin"],
            "responses": responses,
        });
        if !parameters.is_empty() {
            entry["parameters"] = Value::Array(parameters);
        }
        if let Some(body) = &operation.body {
            entry["requestBody"] = request_body(body);
        }
        let path = self.paths.entry(operation.path.clone()).or_insert_with(|| json!({}));
        path[operation.method.as_str()] = entry;
        self
    }

    /// Adds `parameter` to the operation already documented at `method` `path` (a header a service reads).
    pub fn parameter(mut self, method: Method, path: &str, parameter: Value) -> Self {
        if let Some(operation) = self.paths.get_mut(path).and_then(|p| p.get_mut(method.as_str())) {
            match operation.get_mut("parameters").and_then(Value::as_array_mut) {
                Some(parameters) => parameters.push(parameter),
                None => operation["parameters"] = json!([parameter]),
            }
        }
        self
    }

    /// `POST/GET {base}/hub` and `GET/DELETE {base}/hub/{id}` ([`crate::hub`]).
    pub fn hub(self, base_path: &str) -> Self {
        let hub = format!("{base_path}/hub");
        let example = json!({"callback": "https://listener.example.com/tmf/events", "query": "eventType=ProductOrderStateChangeEvent"});
        self.operation(
            Operation::new(
                Method::Post,
                hub.clone(),
                "registerListener",
                "events subscription",
                "Registers a listener",
            )
            .body(RequestBody::Json("EventSubscriptionInput".into(), example))
            .success(Success::Created("EventSubscription"))
            .errors(&[400, 409]),
        )
        .operation(
            Operation::new(
                Method::Get,
                hub.clone(),
                "listListener",
                "events subscription",
                "Lists the registered listeners",
            )
            .success(Success::Json(200, "EventSubscriptionList")),
        )
        .operation(
            Operation::new(
                Method::Get,
                format!("{hub}/{{id}}"),
                "retrieveListener",
                "events subscription",
                "Retrieves a listener",
            )
            .success(Success::Json(200, "EventSubscription"))
            .errors(&[404]),
        )
        .operation(
            Operation::new(
                Method::Delete,
                format!("{hub}/{{id}}"),
                "unregisterListener",
                "events subscription",
                "Unregisters a listener",
            )
            .success(Success::NoContent)
            .errors(&[404]),
        )
    }

    /// The document.
    pub fn build(self) -> Value {
        let info = self.info;
        json!({
            "openapi": "3.0.3",
            "info": {"title": info.title, "version": info.version, "description": info.description},
            "servers": [
                {"url": format!("http://localhost:{}", info.local_port), "description": "the local stack (make run)"},
                {"url": "/", "description": "the service that served this document"},
            ],
            "tags": self.tags.iter().map(|tag| json!({"name": tag})).collect::<Vec<_>>(),
            "security": [{"bearerAuth": []}],
            "paths": self.paths,
            "components": {
                "schemas": self.schemas,
                "responses": error_responses(),
                "headers": {
                    "X-Total-Count": {"description": "How many resources match the query (all pages)", "schema": {"type": "integer"}},
                    "X-Result-Count": {"description": "How many resources this page holds", "schema": {"type": "integer"}},
                    "Location": {"description": "The href of the created resource", "schema": {"type": "string"}},
                },
                "securitySchemes": {"bearerAuth": {
                    "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                    "description": format!(
                        "A JWT from the operator's identity provider (locally: `make token`). Its scopes grant \
                         `{0}:read` for GET, `{0}:write` for the other methods, `admin` for all; each operation \
                         lists the scopes that grant it in `x-scopes`.", info.service),
                }},
            },
        })
    }

    /// The document, with a last change only the service can make (an enum of its own, say).
    pub fn build_with(self, change: impl FnOnce(&mut Value)) -> Value {
        let mut document = self.build();
        change(&mut document);
        document
    }

    fn add_shared_schemas(&mut self) {
        let string = json!({"type": "string"});
        let date_time = json!({"type": "string", "format": "date-time"});
        let schemas = [
            (
                "Error",
                json!({"type": "object", "required": ["code", "reason", "status", "@type"], "properties": {
                    "code": {"type": "string", "description": "Application-relevant error code (stable, machine-readable)"},
                    "reason": {"type": "string", "description": "Short explanation of the class of problem"},
                    "message": {"type": "string", "description": "Detail for this occurrence"},
                    "status": {"type": "string", "description": "The HTTP status, as a string"},
                    "@type": {"type": "string", "enum": ["Error"]},
                }}),
            ),
            (
                "TimePeriod",
                json!({"type": "object", "properties": {"startDateTime": date_time, "endDateTime": date_time}}),
            ),
            (
                "Money",
                json!({"type": "object", "required": ["unit", "value"], "properties": {
                    "unit": {"type": "string", "description": "ISO 4217 currency code", "example": "EUR"},
                    "value": {"type": "number", "description": "Amount, in at most the currency's minor units", "example": 30.0},
                }}),
            ),
            ("Quantity", json!({"type": "object", "properties": {"amount": {"type": "number"}, "units": string}})),
            (
                "EntityRef",
                json!({"type": "object", "required": ["id"], "properties": {
                    "id": string, "href": string, "name": string, "version": string, "role": string,
                    "@referredType": string, "@type": string, "@baseType": string, "@schemaLocation": string,
                }}),
            ),
            (
                "EventSubscriptionInput",
                json!({"type": "object", "required": ["callback"], "properties": {
                    "callback": {"type": "string", "description": "The listener's URL (https; private addresses only when allowed)"},
                    "query": {"type": "string", "description": "TMF630 filter on the event (e.g. eventType=…)"},
                }}),
            ),
            (
                "EventSubscription",
                json!({"type": "object", "required": ["id", "callback"], "properties": {
                    "id": string, "callback": string, "query": string,
                }}),
            ),
            (
                "EventSubscriptionList",
                json!({"type": "array", "items": {"$ref": "#/components/schemas/EventSubscription"}}),
            ),
        ];
        for (name, schema) in schemas {
            self.schemas.insert(name.to_owned(), schema);
        }
    }
}

/// `productOffering` → `ProductOffering`.
fn upper_first(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}

/// The schema of one attribute type.
pub fn schema_of(ty: &Ty) -> Value {
    match ty {
        Ty::String => json!({"type": "string"}),
        Ty::Boolean => json!({"type": "boolean"}),
        Ty::Number => json!({"type": "number"}),
        Ty::Integer => json!({"type": "integer"}),
        Ty::DateTime => json!({"type": "string", "format": "date-time"}),
        Ty::TimePeriod => json!({"$ref": "#/components/schemas/TimePeriod"}),
        Ty::Money => json!({"$ref": "#/components/schemas/Money"}),
        Ty::Quantity => json!({"$ref": "#/components/schemas/Quantity"}),
        Ty::Ref => json!({"$ref": "#/components/schemas/EntityRef"}),
        Ty::Object(fields) => object_schema(&[COMMON, fields], |_| true, Required::Declared),
        Ty::Array(element) => json!({"type": "array", "items": schema_of(element)}),
        Ty::Any => json!({}),
    }
}

/// Which attributes an object schema requires.
#[derive(Debug, Clone, Copy)]
pub enum Required<'a> {
    /// The ones the fields declare required: what a request body must carry.
    Declared,
    /// The attributes named here.
    Named(&'a [&'a str]),
}

impl Required<'_> {
    /// What every answer carries, `fields=` or not; the rest may be projected away.
    pub const ANSWER: Required<'static> = Required::Named(&["id", "href", "@type"]);

    fn requires(&self, field: &Field) -> bool {
        match self {
            Required::Declared => field.required,
            Required::Named(names) => names.contains(&field.name),
        }
    }
}

/// An object schema of the attributes of `field_sets` that `keep` admits. A nested object's own required
/// attributes stay required in every schema (the server checks them in any body it accepts).
fn object_schema(field_sets: &[&[Field]], keep: impl Fn(&Field) -> bool, required: Required) -> Value {
    let mut properties = Map::new();
    let mut required_names = Vec::new();
    for field in field_sets.iter().flat_map(|set| set.iter()).filter(|field| keep(field)) {
        properties.insert(field.name.to_owned(), schema_of(&field.ty));
        if required.requires(field) {
            required_names.push(field.name);
        }
    }
    let mut schema = json!({"type": "object", "properties": properties});
    if !required_names.is_empty() {
        schema["required"] = json!(required_names);
    }
    schema
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn success_response(success: &Success) -> (u16, Value) {
    let json_body = |name: &str| json!({"application/json": {"schema": reference(name)}});
    match success {
        Success::Json(status, name) => (*status, json!({"description": "Success", "content": json_body(name)})),
        Success::Created(name) => (
            201,
            json!({"description": "Created", "headers": {"Location": {"$ref": "#/components/headers/Location"}},
                   "content": json_body(name)}),
        ),
        Success::Page(name) => (
            200,
            json!({"description": "Success: one page of the matching resources",
                   "headers": {"X-Total-Count": {"$ref": "#/components/headers/X-Total-Count"},
                               "X-Result-Count": {"$ref": "#/components/headers/X-Result-Count"}},
                   "content": {"application/json": {"schema": {"type": "array", "items": reference(name)}}}}),
        ),
        Success::Binary(media_type) => (
            200,
            json!({"description": "Success", "content": {*media_type: {"schema": {"type": "string", "format": "binary"}}}}),
        ),
        Success::NoContent => (204, json!({"description": "Deleted"})),
    }
}

fn request_body(body: &RequestBody) -> Value {
    match body {
        RequestBody::Json(name, example) => json!({"required": true, "content": {
            "application/json": {"schema": reference(name), "example": example},
        }}),
        RequestBody::Patch(name, example) => json!({
            "required": true,
            "description": "JSON Merge Patch (RFC 7386, also as application/json) or JSON Patch (RFC 6902). Only the \
                            attributes of the update schema may change; the result is checked whole.",
            "content": {
                "application/merge-patch+json": {"schema": reference(name), "example": example},
                "application/json": {"schema": reference(name)},
                "application/json-patch+json": {"schema": {"type": "array", "items": {
                    "type": "object", "required": ["op", "path"], "properties": {
                        "op": {"type": "string", "enum": ["add", "remove", "replace", "move", "copy", "test"]},
                        "path": {"type": "string"}, "from": {"type": "string"}, "value": {},
                    }}}},
            },
        }),
    }
}

/// The query parameters of every list.
pub fn list_parameters(max_limit: u32) -> Vec<Value> {
    vec![
        fields_parameter(),
        json!({"name": "offset", "in": "query", "description": "Index of the first resource to return",
               "schema": {"type": "integer", "minimum": 0}}),
        json!({"name": "limit", "in": "query", "description": format!("Most resources to return (at most {max_limit})"),
               "schema": {"type": "integer", "minimum": 1, "maximum": max_limit}}),
        json!({"name": "sort", "in": "query",
               "description": "Comma-separated attributes to sort by, `-` before one for descending order",
               "schema": {"type": "string"}}),
    ]
}

fn fields_parameter() -> Value {
    json!({"name": "fields", "in": "query",
           "description": "Comma-separated first-level attributes to return (id, href and @type always are). Any \
                           other query parameter is a TMF630 filter on an attribute (dot paths, `.gt`, `.lt`, …; \
                           see docs/api.md).",
           "schema": {"type": "string"}})
}

fn error_responses() -> Value {
    let statuses = [
        (400, "Bad request: the body or the query is invalid (the message names the attribute)"),
        (401, "No token, or a token that is invalid, expired or not for this service"),
        (403, "The token does not grant the scope the operation needs"),
        (404, "No such resource"),
        (409, "Conflict with the resource's state (an illegal status transition, a duplicate)"),
        (415, "PATCH in a media type other than merge-patch, JSON or JSON Patch"),
        (422, "The request is well formed but cannot be processed (e.g. a reference to something unusable)"),
        (500, "The server failed; the message quotes the trace id"),
        (503, "A dependency (PostgreSQL or a peer service) is unavailable; retry later"),
    ];
    let mut responses = Map::new();
    for (status, description) in statuses {
        responses.insert(
            status.to_string(),
            json!({"description": description, "content": {"application/json": {"schema": reference("Error")}}}),
        );
    }
    Value::Object(responses)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::DEFAULT_PAGING;
    use crate::schema::{Schema, opt, req};

    static THING: Schema = Schema {
        type_name: "Thing",
        fields: &[req("name", Ty::String), opt("price", Ty::Money), opt("note", Ty::String)],
    };
    static KIND: ResourceKind = ResourceKind {
        name: "thing",
        schema: &THING,
        lifecycle: None,
        patchable: &["note"],
        paging: DEFAULT_PAGING,
        cached: false,
        validate: crate::store::accept,
        deletable: crate::store::accept,
        check_change: crate::store::accept_change,
        derive: crate::store::derive_nothing,
        extra_events: crate::store::no_extra_events,
    };

    fn document(operations: Operations) -> Value {
        let info = ApiInfo { title: "T", version: "1", service: "svc", local_port: 1, description: "" };
        ApiDocument::new(info).collection("/api/v4", &KIND, operations, json!({"name": "x", "note": "n"})).build()
    }

    #[test]
    fn a_collection_gets_its_operations_schemas_scopes_and_list_headers() {
        let doc = document(Operations::ALL);
        let paths = &doc["paths"];
        assert_eq!(paths["/api/v4/thing"]["get"]["operationId"], "listThing");
        assert_eq!(paths["/api/v4/thing"]["post"]["x-scopes"], json!(["svc:write", "admin"]));
        assert_eq!(paths["/api/v4/thing/{id}"]["get"]["x-scopes"], json!(["svc:read", "admin"]));
        let list = &paths["/api/v4/thing"]["get"]["responses"]["200"];
        assert!(list["headers"]["X-Total-Count"].is_object());
        let patch = &paths["/api/v4/thing/{id}"]["patch"]["requestBody"]["content"];
        for media_type in ["application/merge-patch+json", "application/json", "application/json-patch+json"] {
            assert!(patch[media_type].is_object(), "{media_type}");
        }
        assert_eq!(patch["application/merge-patch+json"]["example"], json!({"note": "n"}));
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["Thing_Create"]["required"], json!(["name"]));
        assert!(schemas["Thing_Update"]["properties"].get("name").is_none(), "name is not patchable");
        assert_eq!(schemas["Thing"]["required"], json!(["id", "href", "@type"]));
        assert_eq!(paths["/api/v4/thing/{id}"]["delete"]["responses"]["404"]["$ref"], "#/components/responses/404");
    }

    #[test]
    fn operations_a_collection_does_not_offer_are_not_documented() {
        let doc = document(Operations::READ_ONLY);
        assert!(doc["paths"]["/api/v4/thing"].get("post").is_none());
        assert!(doc["paths"]["/api/v4/thing/{id}"].get("patch").is_none());
        assert!(doc["paths"]["/api/v4/thing/{id}"].get("delete").is_none());
    }
}

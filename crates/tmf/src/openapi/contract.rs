//! Compares a service's document with the official TMF v4 specification of its API.
//!
//! A client written against the official contract must work against the service. So every operation the
//! service documents must exist in the contract (same path under the base path, same method), and for each
//! one the required attributes must agree: a request body requires exactly what the contract requires (more
//! would refuse conforming clients, less would accept what the contract forbids), and a response guarantees at
//! least what the contract guarantees. Nested attributes are compared through `$ref`s, on both sides, down to
//! where the attribute exists in both. Each difference the service makes on purpose is an [`Allowed`] entry
//! with its reason; an entry that no longer matches a difference is itself a failure, so the list stays true.

use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// A service's official contract and its deliberate differences from it.
#[derive(Debug, Clone, Copy)]
pub struct Contract {
    /// The official v4 specification's file name in the TMF specs directory (`../shared/tmf/specs`).
    pub official_file: &'static str,
    pub allowed: &'static [Allowed],
}

/// One deliberate difference: `at` is the location it explains, matched whole, where `*` stands for any text.
/// `POST /productOffering request price` explains that one location and nothing below it; `* request *
/// taxAmount` that attribute at any depth of any request; a subtree needs its own `*` (`POST /x request
/// part*`), so an entry cannot hide a difference nobody has looked at.
#[derive(Debug, Clone, Copy)]
pub struct Allowed {
    pub at: &'static str,
    pub reason: &'static str,
}

/// One difference between the documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// `GET /hub`, `POST /customer request engagedParty`.
    pub location: String,
    pub what: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.location, self.what)
    }
}

/// The differences no entry explains and the entries that explain nothing, as one report (`Ok` when empty).
pub fn check(ours: &Value, official: &Value, allowed: &[Allowed]) -> Result<usize, String> {
    let differences = differences(ours, official);
    let explains = |entry: &Allowed, difference: &Difference| glob_match(entry.at, &difference.location);
    let unexplained: Vec<&Difference> =
        differences.iter().filter(|d| !allowed.iter().chain(TOOLKIT_ALLOWED).any(|entry| explains(entry, d))).collect();
    let stale: Vec<&Allowed> = allowed.iter().filter(|entry| !differences.iter().any(|d| explains(entry, d))).collect();
    if unexplained.is_empty() && stale.is_empty() {
        return Ok(differences.len());
    }
    let mut report = String::new();
    for difference in unexplained {
        report.push_str(&format!("not in the allow-list: {difference}\n"));
    }
    for entry in stale {
        report.push_str(&format!("allow-list entry matches no difference: {} ({})\n", entry.at, entry.reason));
    }
    Err(report)
}

/// Differences every service makes, because the toolkit they share makes them (applied to every contract;
/// not every service has every one, so these are not reported as stale).
pub const TOOLKIT_ALLOWED: &[Allowed] = &[
    Allowed {
        at: "GET /hub",
        reason: "registered listeners can be listed (TMF630 defines only register and unregister); an operator \
                 must be able to see who receives the events",
    },
    Allowed { at: "GET /hub/{id}", reason: "a registered listener can be read back, as any created resource" },
    Allowed {
        at: "* response",
        reason: "`fields=` (TMF630) returns only the named attributes besides id, href and @type, so a response \
                 guarantees only those",
    },
    Allowed {
        at: "* request * taxIncludedAmount",
        reason: "a Money requires unit and value everywhere: an amount without its currency cannot be billed",
    },
    Allowed { at: "* request * dutyFreeAmount", reason: "a Money requires unit and value" },
    Allowed { at: "* request * taxAmount", reason: "a Money requires unit and value" },
    Allowed { at: "* request * price", reason: "a Money requires unit and value" },
    Allowed { at: "* request price", reason: "a Money requires unit and value" },
];

/// Whether `text` matches `pattern`, where `*` matches any run of characters.
fn glob_match(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    for (index, part) in parts.iter().enumerate() {
        if index == parts.len() - 1 {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

/// Every difference between `ours` (OpenAPI 3, full paths) and `official` (Swagger 2.0 with a `basePath`).
pub fn differences(ours: &Value, official: &Value) -> Vec<Difference> {
    let mut found = Vec::new();
    let empty = Map::new();
    let official_paths = official["paths"].as_object().unwrap_or(&empty);
    for (full_path, operations) in ours["paths"].as_object().unwrap_or(&empty) {
        let path = strip_base_path(full_path);
        for (method, operation) in operations.as_object().unwrap_or(&empty) {
            let location = format!("{} {path}", method.to_uppercase());
            let Some(theirs) = official_paths.get(&path).and_then(|p| p.get(method)) else {
                found.push(Difference { location, what: "not in the official contract".into() });
                continue;
            };
            let walk = Walk { ours, official };
            if let (Some(mine), Some(contract)) = (request_schema(operation), official_request_schema(theirs)) {
                walk.compare(&format!("{location} request"), mine, contract, Direction::Request, 0, &mut found);
            }
            if let (Some(mine), Some(contract)) = (response_schema(operation), official_response_schema(theirs)) {
                walk.compare(&format!("{location} response"), mine, contract, Direction::Response, 0, &mut found);
            }
        }
    }
    found
}

/// `/tmf-api/productCatalogManagement/v4/productOffering/{id}` → `/productOffering/{id}`.
fn strip_base_path(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').collect();
    match segments.as_slice() {
        ["", "tmf-api", _api, version, rest @ ..] if version.starts_with('v') => format!("/{}", rest.join("/")),
        _ => path.to_owned(),
    }
}

fn request_schema(operation: &Value) -> Option<&Value> {
    let content = operation["requestBody"]["content"].as_object()?;
    ["application/json", "application/merge-patch+json"].iter().find_map(|t| content.get(*t)).map(|c| &c["schema"])
}

fn response_schema(operation: &Value) -> Option<&Value> {
    let responses = operation["responses"].as_object()?;
    let (_, success) = responses.iter().find(|(status, _)| status.starts_with('2'))?;
    success["content"].get("application/json").map(|c| &c["schema"])
}

fn official_request_schema(operation: &Value) -> Option<&Value> {
    operation["parameters"].as_array()?.iter().find(|p| p["in"] == "body").map(|p| &p["schema"])
}

fn official_response_schema(operation: &Value) -> Option<&Value> {
    let responses = operation["responses"].as_object()?;
    responses.iter().filter(|(status, _)| status.starts_with('2')).find_map(|(_, r)| r.get("schema"))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Request,
    Response,
}

/// How deep nested attributes are compared (the official schemas are recursive).
const MAX_DEPTH: usize = 6;

struct Walk<'a> {
    ours: &'a Value,
    official: &'a Value,
}

/// An object schema flattened: its required attributes and its properties (through `allOf`).
struct Flat<'a> {
    required: BTreeSet<String>,
    properties: Vec<(&'a str, &'a Value)>,
}

impl<'a> Walk<'a> {
    fn compare(
        &self,
        location: &str,
        mine: &'a Value,
        contract: &'a Value,
        direction: Direction,
        depth: usize,
        found: &mut Vec<Difference>,
    ) {
        let mine = resolve(self.ours, mine);
        let contract = resolve(self.official, contract);
        if depth > MAX_DEPTH {
            return;
        }
        match (mine.get("items"), contract.get("items")) {
            (Some(my_items), Some(their_items)) => {
                return self.compare(location, my_items, their_items, direction, depth, found);
            }
            (Some(_), None) | (None, Some(_)) => {
                let (ours, theirs) =
                    if mine.get("items").is_some() { ("an array", "one") } else { ("one", "an array") };
                found.push(Difference {
                    location: location.to_owned(),
                    what: format!("{ours} here, {theirs} in the official contract"),
                });
                return;
            }
            (None, None) => {}
        }
        let (mine, contract) = (flatten(self.ours, mine), flatten(self.official, contract));
        let missing: Vec<&String> = contract.required.difference(&mine.required).collect();
        let extra: Vec<&String> = mine.required.difference(&contract.required).collect();
        match direction {
            Direction::Request if !missing.is_empty() || !extra.is_empty() => found.push(Difference {
                location: location.to_owned(),
                what: format!(
                    "requires {:?}, the official contract {:?}",
                    mine.required.iter().collect::<Vec<_>>(),
                    contract.required.iter().collect::<Vec<_>>()
                ),
            }),
            Direction::Response if !missing.is_empty() => found.push(Difference {
                location: location.to_owned(),
                what: format!("the official contract guarantees {missing:?}, which a response may lack"),
            }),
            _ => {}
        }
        // A response's nested attributes are what a request stored, so the request comparison covers them.
        if direction == Direction::Response {
            return;
        }
        for (name, my_property) in &mine.properties {
            if let Some((_, their_property)) = contract.properties.iter().find(|(n, _)| n == name) {
                let deeper = format!("{location} {name}");
                self.compare(&deeper, my_property, their_property, direction, depth + 1, found);
            }
        }
    }
}

/// Follows `$ref`s within `document` (`#/components/schemas/X` or `#/definitions/X`).
fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    let mut current = schema;
    for _ in 0..8 {
        let Some(pointer) = current.get("$ref").and_then(Value::as_str) else { break };
        match document.pointer(pointer.trim_start_matches('#')) {
            Some(target) => current = target,
            None => break,
        }
    }
    current
}

fn flatten<'a>(document: &'a Value, schema: &'a Value) -> Flat<'a> {
    let mut flat = Flat { required: BTreeSet::new(), properties: Vec::new() };
    let mut pending = vec![schema];
    let mut steps = 0;
    while let Some(part) = pending.pop() {
        steps += 1;
        if steps > 32 {
            break;
        }
        let part = resolve(document, part);
        if let Some(required) = part["required"].as_array() {
            flat.required.extend(required.iter().filter_map(Value::as_str).map(str::to_owned));
        }
        if let Some(properties) = part["properties"].as_object() {
            flat.properties.extend(properties.iter().map(|(name, value)| (name.as_str(), value)));
        }
        if let Some(parts) = part["allOf"].as_array() {
            pending.extend(parts.iter());
        }
    }
    flat
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ours(required: &[&str], nested_required: &[&str]) -> Value {
        json!({"paths": {
            "/tmf-api/x/v4/thing": {"post": {
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing_Create"}}}},
                "responses": {"201": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}}},
            }},
            "/tmf-api/x/v4/extra": {"post": {"responses": {}}},
        }, "components": {"schemas": {
            "Thing_Create": {"type": "object", "required": required, "properties": {
                "name": {"type": "string"}, "part": {"type": "array", "items": {"type": "object", "required": nested_required, "properties": {"id": {}}}}}},
            "Thing": {"type": "object", "required": ["id"], "properties": {"id": {}}},
        }}})
    }

    fn official() -> Value {
        json!({"basePath": "/tmf-api/x/v4/", "paths": {"/thing": {"post": {
            "parameters": [{"in": "body", "schema": {"$ref": "#/definitions/Thing_Create"}}],
            "responses": {"201": {"schema": {"$ref": "#/definitions/Thing"}}},
        }}}, "definitions": {
            "Thing_Create": {"required": ["name"], "properties": {"name": {}, "part": {"type": "array", "items": {"$ref": "#/definitions/PartRef"}}}},
            "PartRef": {"required": ["id"], "properties": {"id": {}}},
            "Thing": {"allOf": [{"required": ["id", "name"]}]},
        }})
    }

    #[test]
    fn paths_request_and_nested_requirements_and_response_guarantees_are_compared() {
        let found: Vec<String> = differences(&ours(&[], &[]), &official()).iter().map(ToString::to_string).collect();
        assert_eq!(
            found,
            [
                "POST /extra: not in the official contract",
                "POST /thing request: requires [], the official contract [\"name\"]",
                "POST /thing request part: requires [], the official contract [\"id\"]",
                "POST /thing response: the official contract guarantees [\"name\"], which a response may lack",
            ]
        );
        assert_eq!(differences(&ours(&["name"], &["id"]), &official()).len(), 2);
    }

    #[test]
    fn patterns_match_any_text_at_their_stars() {
        assert!(glob_match("* request * price", "POST /x request item price"));
        assert!(glob_match("GET /hub", "GET /hub"));
        assert!(!glob_match("GET /hub", "GET /hub/{id}"));
        assert!(!glob_match("* request * price", "POST /x response price"));
        assert!(glob_match("*", "anything"));
    }

    #[test]
    fn an_array_where_the_contract_has_one_object_is_a_difference() {
        let mut doc = ours(&["name"], &["id"]);
        doc["components"]["schemas"]["Thing_Create"]["properties"]["part"] =
            json!({"type": "object", "required": ["id"]});
        let found: Vec<String> = differences(&doc, &official()).iter().map(ToString::to_string).collect();
        assert!(found.contains(&"POST /thing request part: one here, an array in the official contract".to_owned()));
    }

    #[test]
    fn a_plain_entry_explains_its_own_location_and_nothing_below_it() {
        let doc = ours(&[], &[]);
        let toolkit_response_and_extra = 2;
        let plain = [Allowed { at: "POST /extra", reason: "ours" }, Allowed { at: "POST /thing request", reason: "r" }];
        let error = check(&doc, &official(), &plain).unwrap_err();
        assert!(error.contains("not in the allow-list: POST /thing request part:"), "{error}");
        let subtree = [plain[0], Allowed { at: "POST /thing request*", reason: "the request and below" }];
        assert_eq!(check(&doc, &official(), &subtree), Ok(toolkit_response_and_extra + 2));
    }

    #[test]
    fn the_allow_list_must_explain_every_difference_and_nothing_else() {
        let doc = ours(&["name"], &["id"]);
        let allowed = [Allowed { at: "POST /extra", reason: "ours" }];
        // The response difference is the toolkit's (`fields=`), explained for every service.
        assert_eq!(check(&doc, &official(), &allowed), Ok(2));
        let error = check(&doc, &official(), &[]).unwrap_err();
        assert!(error.contains("not in the allow-list: POST /extra"), "{error}");
        let stale = [allowed[0], Allowed { at: "GET /gone", reason: "old" }];
        assert!(check(&doc, &official(), &stale).unwrap_err().contains("matches no difference: GET /gone"));
    }
}

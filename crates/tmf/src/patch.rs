//! PATCH in the three media types TMF630 names, with one rule for what may change.
//!
//! `application/merge-patch+json` and `application/json` are JSON Merge Patch (RFC 7386);
//! `application/json-patch+json` is JSON Patch (RFC 6902). Rather than inspecting each operation's paths (a
//! `move` or `copy` has two, a merge patch can null a whole subtree), the patch is applied to a copy and the
//! first-level attributes that differ are compared with the resource's list of patchable attributes: any other
//! change is a 400 naming the attribute. The caller then re-validates the whole result.

use bss_common::ApiError;
use serde_json::Value;
use std::collections::BTreeSet;

/// How the body of a PATCH is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchFormat {
    /// RFC 7386 (`application/merge-patch+json`, or plain `application/json`).
    Merge,
    /// RFC 6902 (`application/json-patch+json`).
    JsonPatch,
}

impl PatchFormat {
    /// Picks the format from a `Content-Type` header; anything else is 415.
    pub fn from_content_type(content_type: Option<&str>) -> Result<Self, ApiError> {
        let essence = content_type.unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match essence.as_str() {
            "application/merge-patch+json" | "application/json" => Ok(PatchFormat::Merge),
            "application/json-patch+json" => Ok(PatchFormat::JsonPatch),
            _ => Err(ApiError::new(
                actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "PATCH takes application/merge-patch+json, application/json or application/json-patch+json.",
            )),
        }
    }
}

/// Applies `body` to `document` and returns the patched copy; the original is untouched.
pub fn apply(document: &Value, format: PatchFormat, body: &[u8]) -> Result<Value, ApiError> {
    let patch: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("The PATCH body is not valid JSON: {e}")))?;
    let mut patched = document.clone();
    match format {
        PatchFormat::Merge => {
            if !patch.is_object() {
                return Err(ApiError::bad_request("A merge patch must be a JSON object."));
            }
            json_patch::merge(&mut patched, &patch);
        }
        PatchFormat::JsonPatch => {
            let operations: json_patch::Patch = serde_json::from_value(patch)
                .map_err(|e| ApiError::bad_request(format!("The JSON Patch is malformed: {e}")))?;
            json_patch::patch(&mut patched, &operations)
                .map_err(|e| ApiError::bad_request(format!("The JSON Patch cannot be applied: {e}")))?;
        }
    }
    if !patched.is_object() {
        return Err(ApiError::bad_request("The patch would replace the resource with a non-object."));
    }
    Ok(patched)
}

/// First-level attributes whose value differs between `before` and `after` (added, removed or changed).
pub fn changed_attributes(before: &Value, after: &Value) -> BTreeSet<String> {
    let empty = serde_json::Map::new();
    let old = before.as_object().unwrap_or(&empty);
    let new = after.as_object().unwrap_or(&empty);
    old.keys().chain(new.keys()).filter(|key| old.get(*key) != new.get(*key)).cloned().collect()
}

/// 400 naming the first attribute in `changed` that the resource does not allow to patch.
pub fn ensure_patchable(changed: &BTreeSet<String>, patchable: &[&str]) -> Result<(), ApiError> {
    match changed.iter().find(|attribute| !patchable.contains(&attribute.as_str())) {
        Some(attribute) => Err(ApiError::bad_request(format!("The attribute '{attribute}' cannot be patched."))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn offering() -> Value {
        json!({"id": "o1", "name": "Fibre", "lifecycleStatus": "In design", "validFor": {"startDateTime": "2026-01-01T00:00:00Z"}})
    }

    #[test]
    fn content_types_pick_the_format() {
        let cases = [
            (Some("application/merge-patch+json"), Ok(PatchFormat::Merge)),
            (Some("application/json; charset=utf-8"), Ok(PatchFormat::Merge)),
            (Some("application/json-patch+json"), Ok(PatchFormat::JsonPatch)),
            (Some("text/plain"), Err(415)),
            (None, Err(415)),
        ];
        for (content_type, expected) in cases {
            let got = PatchFormat::from_content_type(content_type).map_err(|e| e.status().as_u16());
            assert_eq!(got, expected, "{content_type:?}");
        }
    }

    #[test]
    fn merge_patch_changes_and_removes_attributes() {
        let patched = apply(&offering(), PatchFormat::Merge, br#"{"name": "Fibre 2", "validFor": null}"#).unwrap();
        assert_eq!(patched["name"], "Fibre 2");
        assert!(patched.get("validFor").is_none());
        assert_eq!(changed_attributes(&offering(), &patched), ["name".to_owned(), "validFor".to_owned()].into());
    }

    #[test]
    fn json_patch_operations_apply_in_order() {
        let body = br#"[{"op": "test", "path": "/name", "value": "Fibre"},
                        {"op": "replace", "path": "/lifecycleStatus", "value": "Active"},
                        {"op": "add", "path": "/description", "value": "fast"}]"#;
        let patched = apply(&offering(), PatchFormat::JsonPatch, body).unwrap();
        assert_eq!(patched["lifecycleStatus"], "Active");
        assert_eq!(patched["description"], "fast");
    }

    #[test]
    fn bad_patches_are_client_errors_naming_the_problem() {
        let cases: &[(&str, PatchFormat, &[u8])] = &[
            ("not JSON", PatchFormat::Merge, b"{name"),
            ("merge patch that is an array", PatchFormat::Merge, b"[1]"),
            ("JSON Patch that is an object", PatchFormat::JsonPatch, br#"{"op": "add"}"#),
            ("failed test operation", PatchFormat::JsonPatch, br#"[{"op": "test", "path": "/name", "value": "x"}]"#),
            ("path that does not exist", PatchFormat::JsonPatch, br#"[{"op": "replace", "path": "/a/b", "value": 1}]"#),
            ("replacing the whole resource", PatchFormat::JsonPatch, br#"[{"op": "replace", "path": "", "value": 1}]"#),
        ];
        for (case, format, body) in cases {
            let error = apply(&offering(), *format, body).expect_err(case);
            assert_eq!(error.status().as_u16(), 400, "{case}");
        }
    }

    #[test]
    fn a_move_out_of_a_protected_attribute_is_caught() {
        let body = br#"[{"op": "move", "from": "/id", "path": "/description"}]"#;
        let patched = apply(&offering(), PatchFormat::JsonPatch, body).unwrap();
        let changed = changed_attributes(&offering(), &patched);
        let error = ensure_patchable(&changed, &["name", "description"]).unwrap_err();
        assert!(error.message().contains("'id'"), "{}", error.message());
    }
}

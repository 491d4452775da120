//! Whether a catalog offering or price may be ordered now: the contract between the catalog and the order
//! service (ADR 0010), in one place. The catalog documents and enforces it (a sellable resource cannot be
//! deleted); the order service applies it to the documents it reads from the catalog when an order is placed.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// Statuses in which an offering or a price may be ordered.
pub const SELLABLE_STATUSES: [&str; 2] = ["Active", "Launched"];

/// Whether an offering or price may be ordered at `at`: its `lifecycleStatus` is sellable, it is not flagged
/// `isSellable: false`, and `at` lies in its `validFor` (half-open: start included, end excluded).
pub fn is_sellable(resource: &Value, at: DateTime<Utc>) -> bool {
    let status_ok =
        resource.get("lifecycleStatus").and_then(Value::as_str).is_some_and(|s| SELLABLE_STATUSES.contains(&s));
    let flag_ok = resource.get("isSellable").and_then(Value::as_bool).unwrap_or(true);
    let bound = |key: &str| {
        resource
            .get("validFor")
            .and_then(|v| v.get(key))
            .and_then(Value::as_str)
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|d| d.with_timezone(&Utc))
    };
    let started = bound("startDateTime").is_none_or(|start| start <= at);
    let not_ended = bound("endDateTime").is_none_or(|end| at < end);
    status_ok && flag_ok && started && not_ended
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sellability_needs_status_flag_and_validity() {
        let at: DateTime<Utc> = "2026-06-01T00:00:00Z".parse().unwrap();
        let cases = [
            ("active, no validity", json!({"lifecycleStatus": "Active"}), true),
            ("launched", json!({"lifecycleStatus": "Launched"}), true),
            ("in design", json!({"lifecycleStatus": "In design"}), false),
            ("retired", json!({"lifecycleStatus": "Retired"}), false),
            ("flagged not sellable", json!({"lifecycleStatus": "Active", "isSellable": false}), false),
            (
                "not started yet",
                json!({"lifecycleStatus": "Active", "validFor": {"startDateTime": "2026-07-01T00:00:00Z"}}),
                false,
            ),
            (
                "starts exactly now",
                json!({"lifecycleStatus": "Active", "validFor": {"startDateTime": "2026-06-01T00:00:00Z"}}),
                true,
            ),
            (
                "ended exactly now",
                json!({"lifecycleStatus": "Active", "validFor": {"endDateTime": "2026-06-01T00:00:00Z"}}),
                false,
            ),
            (
                "ends later",
                json!({"lifecycleStatus": "Active", "validFor": {"endDateTime": "2026-06-02T00:00:00Z"}}),
                true,
            ),
        ];
        for (case, resource, expected) in cases {
            assert_eq!(is_sellable(&resource, at), expected, "{case}");
        }
    }
}

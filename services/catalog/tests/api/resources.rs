//! Every operation of every catalog resource, success and failure.

use crate::helpers::{BASE, create, path, spawn, valid_bodies};
use bss_testkit::conformance::assert_tmf_error;
use serde_json::{Value, json};

#[tokio::test]
async fn every_resource_supports_create_read_list_patch_and_delete() {
    let app = spawn().await;
    for (collection, body) in valid_bodies() {
        let response = app.post_json(&path(collection), &body).await;
        assert_eq!(response.status(), 201, "{collection}");
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        let created: Value = response.json().await.unwrap();
        let id = created["id"].as_str().expect("server-generated id");
        assert_eq!(created["href"], format!("{BASE}/{collection}/{id}"), "{collection}: href");
        assert_eq!(location, created["href"], "{collection}: Location = href");
        assert_eq!(created["lifecycleStatus"], "In study", "{collection}: default status");
        assert!(created["@type"].as_str().is_some_and(|t| !t.is_empty()), "{collection}: @type defaulted");
        let last_update = created["lastUpdate"].as_str().expect("lastUpdate set");
        assert!(last_update.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(last_update).is_ok());
        assert_eq!(created["name"], body["name"]);

        let read = app.get_json(created["href"].as_str().unwrap()).await;
        assert_eq!(read, created, "{collection}: GET returns what POST returned");

        let listed = app.get_authorized(&path(collection)).await;
        assert_eq!(listed.headers()["x-total-count"], "1", "{collection}");
        assert_eq!(listed.headers()["x-result-count"], "1", "{collection}");
        assert_eq!(listed.json::<Vec<Value>>().await.unwrap(), vec![created.clone()]);

        let href = created["href"].as_str().unwrap();
        let patched = app.patch_as(href, "application/merge-patch+json", &json!({"description": "changed"})).await;
        assert_eq!(patched.status(), 200, "{collection}: merge patch");
        let patched: Value = patched.json().await.unwrap();
        assert_eq!(patched["description"], "changed");
        assert!(patched["lastUpdate"].as_str().unwrap() > last_update, "{collection}: every write bumps lastUpdate");

        assert_eq!(app.delete_authorized(href).await.status(), 204, "{collection}: delete");
        assert_tmf_error(app.get_authorized(href).await, 404, "read after delete").await;
        assert_tmf_error(app.delete_authorized(href).await, 404, "delete twice").await;
    }
}

#[tokio::test]
async fn patch_accepts_all_three_media_types() {
    let app = spawn().await;
    let offering = create(&app, "productOffering", &json!({"name": "Fibre"})).await;
    let href = offering["href"].as_str().unwrap();

    let merged = app.patch_as(href, "application/merge-patch+json", &json!({"description": "a"})).await;
    assert_eq!(merged.json::<Value>().await.unwrap()["description"], "a");
    let plain = app.patch_as(href, "application/json", &json!({"description": "b", "statusReason": "x"})).await;
    let plain: Value = plain.json().await.unwrap();
    assert_eq!((plain["description"].as_str(), plain["statusReason"].as_str()), (Some("b"), Some("x")));
    let ops = json!([
        {"op": "test", "path": "/description", "value": "b"},
        {"op": "replace", "path": "/description", "value": "c"},
        {"op": "remove", "path": "/statusReason"},
        {"op": "add", "path": "/category", "value": [{"id": "cat-1", "name": "Broadband"}]}
    ]);
    let patched = app.patch_as(href, "application/json-patch+json", &ops).await;
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(patched["description"], "c");
    assert!(patched.get("statusReason").is_none());
    assert_eq!(patched["category"][0]["id"], "cat-1");
    assert_eq!(app.get_json(href).await, patched, "the patch was stored");
}

#[tokio::test]
async fn bad_bodies_get_a_400_naming_the_attribute_and_change_nothing() {
    let app = spawn().await;
    let cases: Vec<(&str, &str, Value, &str)> = vec![
        ("missing name", "productOffering", json!({"description": "x"}), "'name'"),
        ("wrong type", "productOffering", json!({"name": "x", "isBundle": "yes"}), "'isBundle'"),
        ("unknown attribute", "productOffering", json!({"name": "x", "colour": "red"}), "'colour'"),
        (
            "bad date",
            "productOffering",
            json!({"name": "x", "validFor": {"startDateTime": "soon"}}),
            "validFor.startDateTime",
        ),
        (
            "reference without id",
            "productOffering",
            json!({"name": "x", "category": [{"name": "c"}]}),
            "category[0].id",
        ),
        ("bundle without parts", "productOffering", json!({"name": "x", "isBundle": true}), "bundledProductOffering"),
        ("unknown status", "productOffering", json!({"name": "x", "lifecycleStatus": "Live"}), "lifecycleStatus"),
        (
            "float money",
            "productOfferingPrice",
            json!({"name": "p", "price": {"unit": "EUR", "value": 1.005}}),
            "price",
        ),
        (
            "unknown currency",
            "productOfferingPrice",
            json!({"name": "p", "price": {"unit": "ABC", "value": 1}}),
            "price",
        ),
        (
            "recurring without period",
            "productOfferingPrice",
            json!({"name": "p", "priceType": "recurring"}),
            "recurringChargePeriodType",
        ),
        (
            "related party without type",
            "catalog",
            json!({"name": "c", "relatedParty": [{"id": "p1"}]}),
            "@referredType",
        ),
        ("not an object", "category", json!(["name"]), "object"),
    ];
    for (case, collection, body, named) in cases {
        let response = app.post_json(&path(collection), &body).await;
        let error = assert_tmf_error(response, 400, case).await;
        assert!(error["message"].as_str().unwrap().contains(named), "{case}: {error}");
    }
    for (collection, _) in valid_bodies() {
        assert_eq!(app.get_authorized(&path(collection)).await.headers()["x-total-count"], "0", "{collection}");
    }
}

#[tokio::test]
async fn patch_refuses_what_may_not_change_and_changes_nothing() {
    let app = spawn().await;
    let offering = create(&app, "productOffering", &json!({"name": "Fibre"})).await;
    let href = offering["href"].as_str().unwrap();
    let cases: Vec<(&str, &str, Value, u16)> = vec![
        ("id", "application/merge-patch+json", json!({"id": "mine"}), 400),
        ("href", "application/merge-patch+json", json!({"href": "/x"}), 400),
        ("lastUpdate", "application/merge-patch+json", json!({"lastUpdate": "2020-01-01T00:00:00Z"}), 400),
        ("@type", "application/merge-patch+json", json!({"@type": "Other"}), 400),
        (
            "move id away",
            "application/json-patch+json",
            json!([{"op": "move", "from": "/id", "path": "/description"}]),
            400,
        ),
        ("schema broken by patch", "application/merge-patch+json", json!({"name": null}), 400),
        ("wrong type by patch", "application/merge-patch+json", json!({"isSellable": "no"}), 400),
        ("malformed JSON Patch", "application/json-patch+json", json!({"op": "add"}), 400),
        (
            "failed test op",
            "application/json-patch+json",
            json!([{"op": "test", "path": "/name", "value": "other"}]),
            400,
        ),
        ("skipping the lifecycle", "application/merge-patch+json", json!({"lifecycleStatus": "Launched"}), 409),
        ("unknown status", "application/merge-patch+json", json!({"lifecycleStatus": "Sold out"}), 400),
        ("unsupported media type", "text/plain", json!({"name": "x"}), 415),
    ];
    for (case, content_type, body, status) in cases {
        assert_tmf_error(app.patch_as(href, content_type, &body).await, status, case).await;
    }
    assert_eq!(app.get_json(href).await, offering, "no refused patch changed anything");
    assert_tmf_error(
        app.patch_as(&path("productOffering/nope"), "application/merge-patch+json", &json!({"name": "x"})).await,
        404,
        "patch unknown id",
    )
    .await;
}

#[tokio::test]
async fn the_lifecycle_moves_only_along_its_transitions() {
    let app = spawn().await;
    let offering = create(&app, "productOffering", &json!({"name": "Fibre"})).await;
    let href = offering["href"].as_str().unwrap();
    let steps = [
        ("In design", 200),
        ("In study", 200),
        ("Active", 409),
        ("In design", 200),
        ("In test", 200),
        ("Active", 200),
        ("In design", 409),
        ("Launched", 200),
        ("Active", 409),
        ("Retired", 200),
        ("Launched", 409),
        ("Obsolete", 200),
        ("Retired", 409),
    ];
    for (to, status) in steps {
        let response = app.patch_as(href, "application/merge-patch+json", &json!({"lifecycleStatus": to})).await;
        assert_eq!(response.status().as_u16(), status, "→ {to}");
    }
    assert_eq!(app.get_json(href).await["lifecycleStatus"], "Obsolete");
}

#[tokio::test]
async fn sellable_offerings_and_prices_cannot_be_deleted_until_retired() {
    let app = spawn().await;
    let (offering, price) = crate::helpers::active_offering(&app, "Fibre", 30.0).await;
    for resource in [&offering, &price] {
        let href = resource["href"].as_str().unwrap();
        assert_tmf_error(app.delete_authorized(href).await, 409, "delete an Active resource").await;
        let retired = app.patch_as(href, "application/merge-patch+json", &json!({"lifecycleStatus": "Retired"})).await;
        assert_eq!(retired.status(), 200);
        assert_eq!(app.delete_authorized(href).await.status(), 204);
    }
}

#[tokio::test]
async fn type_annotations_round_trip_and_extensions_keep_their_attributes() {
    let app = spawn().await;
    let body = json!({
        "name": "Fibre", "@type": "FibreOffering", "@baseType": "ProductOffering",
        "@schemaLocation": "https://schemas.example/fibre.json", "maxSpeedMbps": 1000
    });
    let created = create(&app, "productOffering", &body).await;
    for key in ["@type", "@baseType", "@schemaLocation", "maxSpeedMbps"] {
        assert_eq!(created[key], body[key], "{key}");
    }
    let read = app.get_json(created["href"].as_str().unwrap()).await;
    assert_eq!(read["maxSpeedMbps"], 1000);
}

#[tokio::test]
async fn client_supplied_ids_and_timestamps_are_replaced_by_the_server() {
    let app = spawn().await;
    let created = create(
        &app,
        "category",
        &json!({"name": "c", "id": "mine", "href": "/elsewhere", "lastUpdate": "2000-01-01T00:00:00Z"}),
    )
    .await;
    assert_ne!(created["id"], "mine");
    assert_ne!(created["href"], "/elsewhere");
    assert_ne!(created["lastUpdate"], "2000-01-01T00:00:00Z");
}

#[tokio::test]
async fn writes_need_the_write_scope_and_reads_the_read_scope() {
    let app = spawn().await;
    let read_only = bss_testkit::token(&["catalog:read"]);
    let denied = app
        .client
        .post(app.url(&path("productOffering")))
        .bearer_auth(&read_only)
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_tmf_error(denied, 403, "POST with catalog:read").await;
    let other_service = bss_testkit::token(&["customer:read", "customer:write"]);
    let denied = app.client.get(app.url(&path("productOffering"))).bearer_auth(&other_service).send().await.unwrap();
    assert_tmf_error(denied, 403, "a customer token on the catalog").await;
    let allowed = app.client.get(app.url(&path("productOffering"))).bearer_auth(&read_only).send().await.unwrap();
    assert_eq!(allowed.status(), 200);
}

/// A failure of the server's own (here: the outbox table is gone, so no write can record its event) is a 500
/// that tells the client nothing of the cause but names the trace, and the log line with the cause carries
/// that same trace id; the write it failed left nothing behind.
#[tokio::test]
async fn a_server_failure_names_the_trace_whose_log_line_holds_the_cause() {
    let app = spawn().await;
    let mut db = app.db().await;
    sqlx::query("ALTER TABLE outbox RENAME TO outbox_gone").execute(&mut db).await.unwrap();

    let response = app.post_json(&path("productOffering"), &json!({"name": "Never stored"})).await;
    let error = assert_tmf_error(response, 500, "a write without its outbox").await;
    let message = error["message"].as_str().unwrap();
    let trace_id = message
        .split_whitespace()
        .find(|word| word.len() == 32 && word.chars().all(|c| c.is_ascii_hexdigit()))
        .unwrap_or_else(|| panic!("no trace id in {message:?}"));
    assert!(!message.contains("outbox"), "the cause stays in the log: {message}");

    let logs = bss_testkit::captured_logs();
    let line = logs
        .lines()
        .find(|line| line.contains(trace_id) && line.contains("request failed"))
        .unwrap_or_else(|| panic!("no log line of trace {trace_id}"));
    assert!(line.contains("outbox"), "the log line names the cause: {line}");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM tmf_resource WHERE name = 'Never stored'")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(stored, 0, "the failed write left nothing");
}

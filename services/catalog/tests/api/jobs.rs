//! Export a catalog, import it elsewhere; the jobs report their status and errors.

use crate::helpers::{active_offering, create, path, spawn};
use bss_testkit::TestApp;
use serde_json::{Value, json};
use std::time::Duration;

async fn finished(app: &TestApp, href: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let job = app.get_json(href).await;
        if matches!(job["status"].as_str(), Some("Succeeded" | "Failed")) {
            return job;
        }
        assert!(tokio::time::Instant::now() < deadline, "job never finished: {job}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_exported_catalog_imports_into_another_environment_with_the_same_ids() {
    let source = spawn().await;
    let (offering, price) = active_offering(&source, "Fibre", 30.0).await;
    let draft = create(&source, "productOffering", &json!({"name": "Draft"})).await;
    create(&source, "category", &json!({"name": "Broadband", "lifecycleStatus": "Active"})).await;

    let job = source.post_json(&path("exportJob"), &json!({"query": "lifecycleStatus=Active"})).await;
    assert_eq!(job.status(), 201);
    let job: Value = job.json().await.unwrap();
    assert_eq!(job["status"], "Not Started");
    let done = finished(&source, job["href"].as_str().unwrap()).await;
    assert_eq!(done["status"], "Succeeded", "{done}");
    assert!(done["completionDate"].is_string());
    let content = source.get_json(done["url"].as_str().unwrap()).await;
    let exported_offerings: Vec<&str> =
        content["productOffering"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(exported_offerings, [offering["id"].as_str().unwrap()], "only Active offerings: not {}", draft["id"]);
    assert_eq!(content["productOfferingPrice"].as_array().unwrap().len(), 1);
    assert_eq!(content["category"].as_array().unwrap().len(), 1);

    let target = spawn().await;
    let import = target.post_json(&path("importJob"), &json!({"content": content})).await;
    assert_eq!(import.status(), 201);
    let import: Value = import.json().await.unwrap();
    let imported = finished(&target, import["href"].as_str().unwrap()).await;
    assert_eq!(imported["status"], "Succeeded", "{imported}");
    let copy = target.get_json(&path(&format!("productOffering/{}", offering["id"].as_str().unwrap()))).await;
    assert_eq!(copy["name"], "Fibre");
    assert_eq!(copy["productOfferingPrice"], offering["productOfferingPrice"]);
    target.get_json(&path(&format!("productOfferingPrice/{}", price["id"].as_str().unwrap()))).await;

    // Importing the same export again into the source: every id exists, so the job fails listing them.
    let again = source.post_json(&path("importJob"), &json!({"url": done["url"]})).await;
    let again: Value = again.json().await.unwrap();
    let failed = finished(&source, again["href"].as_str().unwrap()).await;
    assert_eq!(failed["status"], "Failed");
    let log = failed["errorLog"].as_str().unwrap();
    assert!(log.contains(offering["id"].as_str().unwrap()) && log.contains("already exists"), "{log}");
}

#[tokio::test]
async fn jobs_refuse_what_they_cannot_do() {
    let app = spawn().await;
    let cases = [
        ("exportJob", json!({"query": "salesOrder?x=1"}), "not a catalog resource"),
        ("exportJob", json!({"query": "name.like=x"}), "query"),
        ("importJob", json!({"url": "http://169.254.169.254/latest/meta-data"}), "url"),
        ("importJob", json!({}), "url"),
    ];
    for (collection, body, named) in cases {
        let error =
            bss_testkit::conformance::assert_tmf_error(app.post_json(&path(collection), &body).await, 400, named).await;
        assert!(error["message"].as_str().unwrap().contains(named), "{error}");
    }
    let job: Value = app.post_json(&path("exportJob"), &json!({})).await.json().await.unwrap();
    let href = job["href"].as_str().unwrap();
    let patch = app.patch_as(href, "application/merge-patch+json", &json!({"status": "Succeeded"})).await;
    bss_testkit::conformance::assert_tmf_error(patch, 405, "jobs are not patched").await;
    finished(&app, href).await;
    assert_eq!(app.delete_authorized(href).await.status(), 204);
    let missing = app
        .post_json(&path("importJob"), &json!({"url": format!("{}/exportJob/none/content", catalog::BASE_PATH)}))
        .await;
    let missing: Value = missing.json().await.unwrap();
    let failed = finished(&app, missing["href"].as_str().unwrap()).await;
    assert_eq!(failed["status"], "Failed");
    assert!(failed["errorLog"].as_str().unwrap().contains("no finished export"), "{failed}");
}

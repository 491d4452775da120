//! TMF630 list features end to end: paging, fields, filters (dot notation, OR, AND, operators), sort, hostile
//! input, and the index plan of a filtered page over 10,000 offerings.

use crate::helpers::{create, path, spawn};
use bss_testkit::TestApp;
use bss_testkit::conformance::assert_tmf_error;
use serde_json::{Value, json};

async fn names(app: &TestApp, query: &str) -> (Vec<String>, String) {
    let response = app.get_authorized(&format!("{}?{query}", path("productOffering"))).await;
    assert_eq!(response.status(), 200, "{query}");
    let total = response.headers()["x-total-count"].to_str().unwrap().to_owned();
    let page: Vec<Value> = response.json().await.unwrap();
    (page.iter().map(|o| o["name"].as_str().unwrap_or("").to_owned()).collect(), total)
}

/// Five offerings with varied attributes.
async fn seed(app: &TestApp) -> Vec<Value> {
    let bodies = [
        json!({"name": "Alpha", "lifecycleStatus": "Active", "isBundle": false, "version": "1",
               "productOfferingPrice": [{"name": "Monthly", "priceType": "recurring"}], "category": [{"id": "c-fibre", "name": "Fibre"}]}),
        json!({"name": "Bravo", "lifecycleStatus": "Active", "isBundle": true, "version": "2",
               "bundledProductOffering": [{"id": "x"}], "productOfferingPrice": [{"name": "Setup", "priceType": "oneTime"}]}),
        json!({"name": "Charlie", "lifecycleStatus": "Launched", "version": "1", "category": [{"id": "c-mobile", "name": "Mobile"}]}),
        json!({"name": "Delta", "lifecycleStatus": "Retired", "isSellable": false}),
        json!({"name": "Echo", "lifecycleStatus": "In design", "description": "' OR 1=1--"}),
    ];
    let mut created = Vec::new();
    for body in bodies {
        created.push(create(app, "productOffering", &body).await);
    }
    created
}

#[tokio::test]
async fn filters_sort_and_paging_work_together() {
    let app = spawn().await;
    let created = seed(&app).await;
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("name=Alpha", vec!["Alpha"]),
        ("lifecycleStatus=Active", vec!["Alpha", "Bravo"]),
        ("lifecycleStatus=Active,Launched", vec!["Alpha", "Bravo", "Charlie"]),
        ("lifecycleStatus=Active&version=1", vec!["Alpha"]),
        ("isBundle=true", vec!["Bravo"]),
        ("isSellable=false", vec!["Delta"]),
        ("productOfferingPrice.name=Monthly", vec!["Alpha"]),
        ("productOfferingPrice.priceType=oneTime,recurring", vec!["Alpha", "Bravo"]),
        ("category.id=c-mobile", vec!["Charlie"]),
        ("category.name=Fibre&lifecycleStatus=Active", vec!["Alpha"]),
        ("description=%27%20OR%201%3D1--", vec!["Echo"]),
        ("name=Nobody", vec![]),
        ("validFor.startDateTime=2026-01-01T00:00:00Z", vec![]),
    ];
    for (query, expected) in cases {
        let (got, total) = names(&app, query).await;
        assert_eq!(sorted(got), expected, "{query}");
        assert_eq!(total, expected.len().to_string(), "{query}: X-Total-Count");
    }

    // lastUpdate filters compare exactly with the values the server returned.
    let third = created[2]["lastUpdate"].as_str().unwrap();
    let (after, _) = names(&app, &format!("lastUpdate.gt={third}&sort=lastUpdate")).await;
    assert_eq!(after, ["Delta", "Echo"]);
    let (at_or_after, _) = names(&app, &format!("lastUpdate.gte={third}&sort=lastUpdate")).await;
    assert_eq!(at_or_after, ["Charlie", "Delta", "Echo"]);
    let (exact, _) = names(&app, &format!("lastUpdate={}", third.replace('+', "%2B"))).await;
    assert_eq!(exact, ["Charlie"], "a timestamp read back filters equal");
    let (before, _) = names(&app, &format!("lastUpdate.lt={third}&sort=-name")).await;
    assert_eq!(before, ["Bravo", "Alpha"]);

    // Sorting and paging.
    assert_eq!(names(&app, "sort=name").await.0, ["Alpha", "Bravo", "Charlie", "Delta", "Echo"]);
    assert_eq!(names(&app, "sort=-name").await.0, ["Echo", "Delta", "Charlie", "Bravo", "Alpha"]);
    assert_eq!(names(&app, "sort=lifecycleStatus,-name").await.0, ["Bravo", "Alpha", "Echo", "Charlie", "Delta"]);
    let response = app.get_authorized(&format!("{}?sort=name&offset=1&limit=2", path("productOffering"))).await;
    assert_eq!(response.headers()["x-total-count"], "5");
    assert_eq!(response.headers()["x-result-count"], "2");
    let page: Vec<Value> = response.json().await.unwrap();
    assert_eq!(page.iter().map(|o| o["name"].as_str().unwrap()).collect::<Vec<_>>(), ["Bravo", "Charlie"]);
    let (beyond, total) = names(&app, "offset=50").await;
    assert!(beyond.is_empty());
    assert_eq!(total, "5");
}

#[tokio::test]
async fn fields_returns_only_the_named_attributes_plus_identity() {
    let app = spawn().await;
    seed(&app).await;
    let page: Vec<Value> = app
        .get_authorized(&format!("{}?fields=name,version&sort=name&limit=1", path("productOffering")))
        .await
        .json()
        .await
        .unwrap();
    let keys: Vec<&str> = page[0].as_object().unwrap().keys().map(String::as_str).collect();
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, ["@type", "href", "id", "name", "version"]);
    let one = app.get_json(&format!("{}?fields=lifecycleStatus", page[0]["href"].as_str().unwrap())).await;
    let mut keys: Vec<&str> = one.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["@type", "href", "id", "lifecycleStatus"]);
}

#[tokio::test]
async fn hostile_or_malformed_queries_get_400_or_a_correct_result_never_500() {
    let app = spawn().await;
    seed(&app).await;
    let huge = "x".repeat(10_000);
    let deep = (0..20).map(|i| format!("a{i}")).collect::<Vec<_>>().join(".");
    let cases: Vec<(String, Option<usize>)> = vec![
        // Valid queries whose values look like SQL: answered, and they match nothing.
        ("name=%27%20OR%201%3D1--".into(), Some(0)),
        ("name=Alpha%27%3B%20DROP%20TABLE%20tmf_resource%3B--".into(), Some(0)),
        ("productOfferingPrice.name=%22%7D%5D%2C%22x%22%3A%5B%7B".into(), Some(0)),
        ("validFor.a.b.c=1".into(), Some(0)),
        ("category.unknown.deeper=1".into(), Some(0)),
        // Malformed: 400 with the TMF error body.
        ("name.like=Al".into(), None),
        ("unknownAttribute=1".into(), None),
        ("a.b.c.d=1".into(), None),
        ("sort=colour".into(), None),
        ("name%27%3B--=1".into(), None),
        (format!("{deep}=1"), None),
        (format!("name={huge}"), None),
        ("lastUpdate.gt=yesterday".into(), None),
        ("limit=0".into(), None),
        ("limit=100000".into(), None),
        ("limit=abc".into(), None),
        ("offset=-1".into(), None),
        ("sort=name%3B%20DROP".into(), None),
        ("name=".into(), None),
    ];
    for (query, expected) in cases {
        let response = app.get_authorized(&format!("{}?{query}", path("productOffering"))).await;
        let shown: String = query.chars().take(60).collect();
        match expected {
            Some(count) => {
                assert_eq!(response.status(), 200, "{shown}");
                assert_eq!(response.json::<Vec<Value>>().await.unwrap().len(), count, "{shown}");
            }
            None => {
                assert_tmf_error(response, 400, &shown).await;
            }
        }
    }
    assert_eq!(names(&app, "").await.1, "5", "nothing was harmed");
}

/// The SQL the store runs for a filtered, sorted page and its count, EXPLAINed over 10,000 offerings.
#[tokio::test]
async fn a_filtered_sorted_page_over_ten_thousand_offerings_uses_indexes() {
    let app = spawn().await;
    let mut db = app.db().await;
    sqlx::query(
        "WITH offering AS (
             SELECT n, 'Offer ' || lpad(n::text, 5, '0') AS name,
                    CASE n % 20 WHEN 0 THEN 'Active' WHEN 1 THEN 'Launched' WHEN 2 THEN 'In design' ELSE 'Retired' END AS status
             FROM generate_series(1, 10000) AS n)
         INSERT INTO tmf_resource (kind, id, name, status, version, last_update, doc)
         SELECT 'productOffering', 'po-' || n, name, status, '1', now() - make_interval(secs => n),
                jsonb_build_object('id', 'po-' || n, 'name', name, 'lifecycleStatus', status, 'isBundle', n % 7 = 0,
                                   'category', jsonb_build_array(jsonb_build_object('id', 'cat-' || n % 50)))
         FROM offering",
    )
    .execute(&mut db)
    .await
    .unwrap();
    // The steady state autovacuum keeps: statistics current and the visibility map set.
    sqlx::query("VACUUM ANALYZE tmf_resource").execute(&mut db).await.unwrap();

    let query = bss_tmf::query::parse_list_query(
        "lifecycleStatus=Active&sort=-lastUpdate&limit=20",
        catalog::resources::PAGING,
    )
    .unwrap();
    let plans =
        bss_tmf::store::explain_list(&app.context, &catalog::resources::PRODUCT_OFFERING, &query).await.unwrap();
    for (what, plan) in &plans {
        println!("{what} plan:\n{plan}\n");
        assert!(plan.contains("Index"), "{what} uses an index:\n{plan}");
        assert!(!plan.contains("Seq Scan on tmf_resource"), "{what} reads no whole table:\n{plan}");
    }
    let (page, total) = names(&app, "lifecycleStatus=Active&sort=-lastUpdate&limit=20").await;
    assert_eq!(total, "500");
    assert_eq!(page.len(), 20);

    let query = bss_tmf::query::parse_list_query("category.id=cat-7&limit=20", catalog::resources::PAGING).unwrap();
    for (what, plan) in
        bss_tmf::store::explain_list(&app.context, &catalog::resources::PRODUCT_OFFERING, &query).await.unwrap()
    {
        println!("dot-path {what} plan:\n{plan}\n");
        assert!(!plan.contains("Seq Scan on tmf_resource"), "dot-path {what} reads no whole table:\n{plan}");
    }
    assert_eq!(names(&app, "category.id=cat-7&limit=20").await.1, "200");
}

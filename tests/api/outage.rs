//! A database restart in the middle of a run: requests during the outage fail fast with a code,
//! the server recovers by itself, and no acknowledged write is lost.
//!
//! The test starts a PostgreSQL cluster of its own (initdb into a temporary folder, on a free
//! port) so that stopping it disturbs no other test.

use std::time::{Duration, Instant};

use entity::values::Role;
use serde_json::{json, Value};

use crate::helpers::{Cluster, TestApp};

const RATE: &str = "public-service-portal.level4-online-dossier-rate";

async fn write(app: &TestApp, key: &str, day: u32) -> Value {
    let input = json!({ "input": [{ "metric": RATE, "observedAt": format!("2021-01-{day:02}T00:00:00Z"),
        "value": day.to_string(), "source": "article-003", "quote": "q" }] });
    app.graphql_as(key, "mutation R($input: [ObservationInput!]!) { recordObservations(input: $input) { observations { id } } }", input)
        .await
        .1
}

async fn stored_ids(app: &TestApp) -> Vec<String> {
    let data = app
        .data(&format!("{{ observations(first: 100, filter: {{metric: \"{RATE}\"}}) {{ edges {{ node {{ id }} }} }} }}"), json!({}))
        .await;
    data["observations"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_server_rides_out_a_database_restart() {
    let cluster = Cluster::create();
    let app = TestApp::spawn_at(cluster.url()).await;
    let reporter = app.key(Role::Reporter, None).await;
    let mut acknowledged = Vec::new();
    for day in 1..=5 {
        let body = write(&app, &reporter, day).await;
        acknowledged.push(
            body["data"]["recordObservations"]["observations"][0]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }

    cluster.stop();
    let started = Instant::now();
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("x-request-id", "during-the-outage")
        .json(&json!({ "query": "{ platforms { code } }" }))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["requestId"], "during-the-outage",
        "the log can be matched"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE",
        "{body}"
    );
    assert!(
        !body
            .to_string()
            .to_lowercase()
            .contains("connection refused"),
        "no database text: {body}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the outage is answered, not waited out"
    );
    let (status, body) = app
        .graphql_as(&reporter, "{ platforms { code } }", json!({}))
        .await;
    assert_eq!(status, 503, "a key cannot be checked either: {body}");
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 503);
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200, "the process itself is alive");

    cluster.start();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = app.get("/readyz").await;
        if ready.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the server did not recover");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for day in 6..=8 {
        let body = write(&app, &reporter, day).await;
        acknowledged.push(
            body["data"]["recordObservations"]["observations"][0]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{body}"))
                .to_owned(),
        );
    }
    let mut stored = stored_ids(&app).await;
    stored.sort();
    acknowledged.sort();
    assert_eq!(
        stored, acknowledged,
        "every acknowledged write is stored, once"
    );
}

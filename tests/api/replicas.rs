//! Reads from a PostgreSQL streaming replica: a caller never reads a state without its own
//! acknowledged write, whichever process answers; a replica that falls behind or goes away
//! leaves the rotation and comes back by itself; no write is lost.
//!
//! The test makes its own primary and replica (`pg_basebackup -R`), writes through one server
//! and reads through another server process that reads the replica.

use std::time::{Duration, Instant};

use entity::values::Role;
use serde_json::{json, Value};

use crate::helpers::{exported_line, exported_metric, Backend, Cluster, ServerProcess, TestApp};
use crate::on_both_databases;

const RATE: &str = "public-service-portal.level4-online-dossier-rate";
const POSITION: &str = "egov-kpi-position";

/// The figures' ids; `page` varies the text, so that answers kept for one do not serve another.
fn ids_query(page: u32) -> String {
    format!(
        "{{ observations(first: {page}, filter: {{metric: \"{RATE}\"}}) {{ edges {{ node {{ id }} }} }} }}"
    )
}

/// Records one figure on day `day` of February 2021; its id and the position the answer gives.
async fn write(app: &TestApp, key: &str, day: u32) -> (String, String) {
    write_at(app, key, &format!("2021-02-{day:02}T00:00:00Z"), day).await
}

async fn write_at(app: &TestApp, key: &str, observed_at: &str, value: u32) -> (String, String) {
    let input = json!({ "input": [{ "metric": RATE, "observedAt": observed_at,
        "value": value.to_string(), "source": "article-003", "quote": "q" }] });
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(key)
        .json(&json!({ "query": "mutation R($input: [ObservationInput!]!) { recordObservations(input: $input) { observations { id } } }", "variables": input }))
        .send()
        .await
        .unwrap();
    let position = response
        .headers()
        .get(POSITION)
        .expect("an acknowledged write gives its position")
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    let id = body["data"]["recordObservations"]["observations"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    (id, position)
}

/// The figures' ids as the server at `address` reads them, requiring `position` if given.
async fn read_ids(address: &str, position: Option<&str>) -> Vec<String> {
    read_page(address, position, 100).await
}

async fn read_page(address: &str, position: Option<&str>, page: u32) -> Vec<String> {
    let mut request = reqwest::Client::new()
        .post(format!("{address}/graphql"))
        .json(&json!({ "query": ids_query(page) }));
    if let Some(position) = position {
        request = request.header(POSITION, position);
    }
    let body: Value = request.send().await.unwrap().json().await.unwrap();
    let mut ids: Vec<String> = body["data"]["observations"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

async fn replica_status(address: &str) -> Value {
    let ready: Value = reqwest::get(format!("{address}/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready", "{ready}");
    ready["replicas"][0].clone()
}

/// Waits until the replica's status passes `check`.
async fn until_replica(address: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = replica_status(address).await;
        if check(&status) {
            return status;
        }
        assert!(Instant::now() < deadline, "{what}: {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn reads_on(address: &str, source: &str) -> u64 {
    exported_metric(
        address,
        &format!("egov_kpi_reads_total{{source=\"{source}\"}}"),
    )
    .await
}

#[tokio::test]
async fn reads_on_a_replica_include_every_acknowledged_write_and_survive_its_lag_and_loss() {
    let primary = Cluster::create();
    let writer = TestApp::spawn_at(primary.url()).await;
    let replica = primary.replica();
    let reader = ServerProcess::start(
        &primary.url(),
        &[
            ("DATABASE_READ_URL", &replica.url()),
            ("DATABASE_READ_MAX_LAG_MS", "3000"),
            // Answers are kept: none may be kept from a replica behind a write that retired one.
            ("EGOV_KPI_RESPONSE_CACHE_MS", "60000"),
        ],
    )
    .await;
    let reporter = writer.key(Role::Reporter, None).await;
    let mut acknowledged = Vec::new();

    let status = until_replica(&reader.address, "the replica enters the rotation", |s| {
        s["inRotation"] == true
    })
    .await;
    assert!(status["lagSeconds"].as_f64().unwrap() <= 1.0, "{status}");
    let before = read_ids(&reader.address, None).await;
    // Kept by the reader's cache, to be retired by the write below.
    assert_eq!(read_page(&reader.address, None, 99).await, before);
    assert!(
        reads_on(&reader.address, "replica").await >= 1,
        "a query in rotation reads the replica"
    );
    // The replica's reads hold their connections, as the primary's do (one may be in use by
    // the monitor's read at the moment asked).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let held = exported_line(
            &reader.address,
            "egov_kpi_replica_connections_held{replica=",
        )
        .await;
        if !held.ends_with("} 0") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no connection held for the replica: {held}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The replica stops replaying: a write's caller still reads it, anywhere.
    assert_eq!(
        replica.sql("SELECT pg_wal_replay_pause(); SELECT 'paused'"),
        "paused"
    );
    let (id, position) = write(&writer, &reporter, 1).await;
    acknowledged.push(id.clone());
    let on_primary = reads_on(&reader.address, "primary").await;
    let read = read_ids(&reader.address, Some(&position)).await;
    assert!(
        read.contains(&id),
        "the caller's own write is read: {read:?}"
    );
    assert!(
        reads_on(&reader.address, "primary").await > on_primary,
        "read on the primary, the replica not having replayed it"
    );
    // Without the position too, once the reader's process has seen the write: the answer kept
    // before it retires and is not computed again on the paused replica.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !read_page(&reader.address, None, 99).await.contains(&id) {
        assert!(Instant::now() < deadline, "the reader never saw the write");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for _ in 0..10 {
        let read = read_page(&reader.address, None, 99).await;
        assert!(
            read.contains(&id),
            "a later read went back in time: {read:?}"
        );
    }
    assert!(!before.contains(&id));
    let status = replica_status(&reader.address).await;
    assert_eq!(
        status["inRotation"], true,
        "all this while the replica was in rotation, only behind: {status}"
    );

    // Still paused past the bound: out of rotation, its lag shown.
    let (id, _) = write(&writer, &reporter, 2).await;
    acknowledged.push(id);
    let status = until_replica(
        &reader.address,
        "a paused replica leaves the rotation",
        |s| s["inRotation"] == false,
    )
    .await;
    assert!(status["lagSeconds"].as_f64().unwrap() > 3.0, "{status}");
    assert!(status["lagBytes"].as_u64().unwrap() > 0, "{status}");
    let in_rotation = exported_line(
        &reader.address,
        "egov_kpi_replica_in_rotation{replica=\"postgres://",
    )
    .await;
    assert!(in_rotation.ends_with("} 0"), "{in_rotation}");
    exported_line(&reader.address, "egov_kpi_replica_lag_seconds{replica=").await;

    // Replaying again, it catches up and comes back by itself.
    replica.sql("SELECT pg_wal_replay_resume()");
    until_replica(&reader.address, "a resumed replica comes back", |s| {
        s["inRotation"] == true && s["lagBytes"] == 0
    })
    .await;
    let on_replica = reads_on(&reader.address, "replica").await;
    let (id, position) = write(&writer, &reporter, 3).await;
    acknowledged.push(id.clone());
    assert!(read_ids(&reader.address, Some(&position))
        .await
        .contains(&id));
    let read = read_ids(&reader.address, None).await;
    assert!(read.contains(&id), "{read:?}");
    assert!(
        reads_on(&reader.address, "replica").await > on_replica,
        "back in rotation, queries read the replica again"
    );

    // Gone: reads go to the primary; back: the replica rejoins.
    replica.stop();
    let status = until_replica(
        &reader.address,
        "a stopped replica leaves the rotation",
        |s| s["inRotation"] == false,
    )
    .await;
    assert!(status["error"].is_string(), "{status}");
    let (id, position) = write(&writer, &reporter, 4).await;
    acknowledged.push(id.clone());
    assert!(read_ids(&reader.address, Some(&position))
        .await
        .contains(&id));
    replica.start();
    until_replica(&reader.address, "a restarted replica comes back", |s| {
        s["inRotation"] == true
    })
    .await;

    // Every acknowledged write, once, through the replica and on the primary.
    acknowledged.sort();
    let on_reader: Vec<String> = read_ids(&reader.address, None)
        .await
        .into_iter()
        .filter(|id| !before.contains(id))
        .collect();
    assert_eq!(on_reader, acknowledged);
    let on_writer: Vec<String> = read_ids(&writer.address, None)
        .await
        .into_iter()
        .filter(|id| !before.contains(id))
        .collect();
    assert_eq!(on_writer, acknowledged);
}

on_both_databases! {
    async fn a_position_that_is_not_one_is_refused_before_anything_runs(app: TestApp) {
        let response = app
            .client
            .post(format!("{}/graphql", app.address))
            .header(POSITION, "yesterday")
            .json(&json!({ "query": "{ platforms { code } }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST", "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("Egov-Kpi-Position") && message.contains("yesterday"), "{message}");
        // A position read off a write is accepted, even by a server without replicas.
        let read = app
            .client
            .post(format!("{}/graphql", app.address))
            .header(POSITION, "0/16B3748")
            .json(&json!({ "query": "{ platforms { code } }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(read.status(), 200);
    }
}

/// A PostgreSQL log position (`16/B374D848`) as a number, to compare two.
fn log_position(text: &str) -> u64 {
    let (high, low) = text.split_once('/').expect("HIGH/LOW");
    (u64::from_str_radix(high, 16).unwrap() << 32) | u64::from_str_radix(low, 16).unwrap()
}

async fn primary_position(app: &TestApp) -> u64 {
    use sea_orm::ConnectionTrait;
    let row = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT pg_current_wal_lsn()::text AS position",
        ))
        .await
        .unwrap()
        .unwrap();
    log_position(&row.try_get::<String>("", "position").unwrap())
}

/// Writers acknowledged together share a read of the primary's position: each must still be
/// given a position past its own write, never one read before it committed.
#[tokio::test]
async fn concurrent_writers_are_each_given_a_position_past_their_own_write() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let reporter = app.key(Role::Reporter, None).await;
    let writers = (0..8u32).map(|writer| {
        let (app, reporter) = (&app, &reporter);
        async move {
            for n in 0..6u32 {
                let before = primary_position(app).await;
                let at = format!("2021-03-{:02}T{:02}:00:00Z", writer + 1, n);
                let (_, position) = write_at(app, reporter, &at, n).await;
                assert!(
                    log_position(&position) > before,
                    "writer {writer}, write {n}: given {position}, the primary was past it before"
                );
            }
        }
    });
    futures_util::future::join_all(writers).await;
}

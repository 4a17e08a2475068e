//! What one anonymous client can try against the public endpoint, class by class. Each test sends
//! the hostile request over HTTP or WebSocket as an attacker would, checks the coded refusal and
//! that it cost little (time, memory, the size of the answer), then that an honest client is
//! still served promptly and that nothing was stored.

use std::time::{Duration, Instant};

use api::config::Limits;
use entity::values::Role;
use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::helpers::{row_counts, Backend, Options, ServerProcess, TestApp};
use crate::live::{connect, receive, send, Socket};
use crate::on_both_databases;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
const RATE: &str = "public-service-portal.level4-online-dossier-rate";

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("none")
}

/// Posts a document to `address`; returns the status, the body and how long the answer took.
async fn post(address: &str, body: Value) -> (u16, Value, Duration, usize) {
    let started = Instant::now();
    let response = reqwest::Client::new()
        .post(format!("{address}/graphql"))
        .header("accept", GRAPHQL_RESPONSE)
        // The refusals are read in English here; their Vietnamese is tested with the errors.
        .header("accept-language", "en")
        .json(&body)
        .send()
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        started.elapsed(),
        text.len(),
    )
}

/// `/healthz` and a dashboard query both answer within a second.
async fn served_promptly(address: &str) {
    let started = Instant::now();
    let health = reqwest::get(format!("{address}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    let (status, body, _, _) = post(address, json!({ "query": "{ platforms { code } }" })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["platforms"].as_array().map(Vec::len), Some(4));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "an honest client waited {:?}",
        started.elapsed()
    );
}

/// A document of `levels` fragments, each spreading the next `spreads` times: about 1.5 KB of
/// text for 10 × 10, and 10^10 fields if it were expanded.
fn fragment_bomb(levels: usize, spreads: usize) -> String {
    let mut document = String::from("query Bomb { ...F0 }");
    for level in 0..levels {
        document.push_str(&format!(
            " fragment F{level} on QueryRoot {{ a{level}: platforms {{ code }} {} }}",
            format!("...F{} ", level + 1).repeat(spreads)
        ));
    }
    document.push_str(&format!(
        " fragment F{levels} on QueryRoot {{ platforms {{ code }} }}"
    ));
    document
}

#[tokio::test]
async fn limits_hold_on_the_document_as_it_would_run() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let server = ServerProcess::start(&app.database_url, &[]).await;
    let before = row_counts(&app.db).await;

    let bomb = fragment_bomb(10, 10);
    assert!(bomb.len() < 2_000, "{} bytes", bomb.len());
    let (status, body, took, _) = post(&server.address, json!({ "query": bomb })).await;
    assert_eq!((status, code(&body)), (400, "TOO_MANY_FIELDS"), "{body}");
    assert!(took < Duration::from_secs(1), "refused after {took:?}");

    // Aliases and depth count every place a fragment is spread.
    let aliases: String = (0..15).map(|i| format!("a{i}: code ")).collect();
    let spread_aliases =
        format!("{{ platforms {{ ...A ...A ...A }} }} fragment A on Platform {{ {aliases} }}");
    let (status, body, _, _) = post(&server.address, json!({ "query": spread_aliases })).await;
    assert_eq!((status, code(&body)), (400, "TOO_MANY_ALIASES"), "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("45 aliases"),
        "{body}"
    );
    let deep = "{ platforms { ...M } } fragment M on Platform { metrics { platform { ...N } } }
        fragment N on Platform { metrics { platform { ...O } } }
        fragment O on Platform { metrics { platform { ...P } } }
        fragment P on Platform { metrics { platform { ...Q } } }
        fragment Q on Platform { metrics { platform { ...R } } }
        fragment R on Platform { metrics { platform { code } } }";
    let (status, body, _, _) = post(&server.address, json!({ "query": deep })).await;
    assert_eq!((status, code(&body)), (400, "QUERY_TOO_DEEP"), "{body}");
    let cycle = "{ ...A } fragment A on QueryRoot { platforms { code } ...B } fragment B on QueryRoot { ...A }";
    let (status, body, _, _) = post(&server.address, json!({ "query": cycle })).await;
    assert_eq!(
        (status, code(&body)),
        (400, "GRAPHQL_VALIDATION_FAILED"),
        "{body}"
    );

    // Sixteen attackers at once: nobody else waits, and the server's memory stays small.
    let attacks = (0..16).map(|_| post(&server.address, json!({ "query": fragment_bomb(10, 10) })));
    let (answers, ()) = tokio::join!(join_all(attacks), served_promptly(&server.address));
    assert!(answers.iter().all(|(status, _, _, _)| *status == 400));
    assert!(
        server.peak_memory_mb() < 150.0,
        "{} MB",
        server.peak_memory_mb()
    );
    assert_eq!(row_counts(&app.db).await, before);
}

#[tokio::test]
async fn token_and_directive_floods_are_refused_before_they_are_parsed() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let server = ServerProcess::start(&app.database_url, &[]).await;
    let before = row_counts(&app.db).await;

    let flood = format!(
        "{{ platforms {{ {} }} }}",
        "code @skip(if: false) ".repeat(100_000)
    );
    assert!(flood.len() > 1_500_000);
    let floods = (0..8).map(|_| post(&server.address, json!({ "query": flood })));
    let (answers, ()) = tokio::join!(join_all(floods), served_promptly(&server.address));
    for (status, body, took, size) in answers {
        assert_eq!((status, code(&body)), (400, "TOO_MANY_TOKENS"), "{body}");
        assert!(size < 1_000, "a {size}-byte answer");
        assert!(took < Duration::from_secs(3), "refused after {took:?}");
    }

    let directives = format!(
        "{{ platforms {{ code {} }} }}",
        "@skip(if: false) ".repeat(6)
    );
    let (status, body, _, _) = post(&server.address, json!({ "query": directives })).await;
    assert_eq!(
        (status, code(&body)),
        (400, "TOO_MANY_DIRECTIVES"),
        "{body}"
    );

    // A document that fails validation in 1,500 places gets 50 errors, the last one counting the
    // rest.
    let unknown: String = (0..1_500).map(|i| format!("x{i} ")).collect();
    let (status, body, _, size) = post(
        &server.address,
        json!({ "query": format!("{{ platforms {{ {unknown} }} }}") }),
    )
    .await;
    assert_eq!(status, 400);
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 50, "{size} bytes");
    assert_eq!(errors[49]["extensions"]["code"], "TOO_MANY_ERRORS");
    assert!(errors[49]["message"]
        .as_str()
        .unwrap()
        .starts_with("1451 more errors"));

    served_promptly(&server.address).await;
    assert!(
        server.peak_memory_mb() < 150.0,
        "{} MB",
        server.peak_memory_mb()
    );
    assert_eq!(row_counts(&app.db).await, before);
}

/// Sends an operation over a `graphql-transport-ws` socket and returns the first message about it.
async fn operate(socket: &mut Socket, id: &str, query: &str) -> Value {
    send(
        socket,
        json!({ "id": id, "type": "subscribe", "payload": { "query": query } }),
    )
    .await;
    receive(socket).await
}

fn socket_code(message: &Value) -> &str {
    message["payload"]["errors"][0]["extensions"]["code"]
        .as_str()
        .or_else(|| message["payload"][0]["extensions"]["code"].as_str())
        .unwrap_or("none")
}

#[tokio::test]
async fn a_socket_has_the_same_rate_as_http() {
    let limits = Limits {
        rate_per_address: 20,
        ..Limits::default()
    };
    let app = TestApp::spawn_with(Backend::Sqlite, Options::limits(limits)).await;
    let viewer = app.key(Role::Viewer, None).await;
    let mut socket = connect(&app.address, "graphql-transport-ws", None)
        .await
        .unwrap();
    let mut refused = 0;
    for id in 0..30 {
        let answer = operate(&mut socket, &id.to_string(), "{ platforms { code } }").await;
        if socket_code(&answer) == "RATE_LIMITED" {
            refused += 1;
        } else {
            assert!(
                answer["payload"]["data"]["platforms"][0]["code"].is_string(),
                "{answer}"
            );
        }
        assert_eq!(receive(&mut socket).await["type"], "complete");
    }
    assert!((10..=11).contains(&refused), "{refused} of 30 refused");
    // The address's budget is the same one over HTTP; a keyed client has its own.
    let (status, _, _, _) = post(&app.address, json!({ "query": "{ platforms { code } }" })).await;
    assert_eq!(status, 429);
    let (status, _) = app
        .graphql_as(&viewer, "{ platforms { code } }", json!({}))
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_socket_obeys_size_depth_time_and_subscription_limits() {
    let limits = Limits {
        max_body_bytes: 64 * 1024,
        request_timeout_seconds: 1,
        max_subscriptions_per_socket: 3,
        max_subscriptions_per_caller: 5,
        ..Limits::default()
    };
    let app = TestApp::spawn_with(Backend::Sqlite, Options::limits(limits)).await;
    let before = row_counts(&app.db).await;

    let mut socket = connect(&app.address, "graphql-transport-ws", None)
        .await
        .unwrap();
    let deep = format!(
        "{{ platforms {}code{} }}",
        "{ metrics { platform ".repeat(7),
        " } }".repeat(7)
    );
    assert_eq!(
        socket_code(&operate(&mut socket, "deep", &deep).await),
        "QUERY_TOO_DEEP"
    );
    receive(&mut socket).await;
    assert_eq!(
        socket_code(&operate(&mut socket, "bomb", &fragment_bomb(10, 10)).await),
        "TOO_MANY_FIELDS"
    );
    receive(&mut socket).await;
    // A message over the body cap closes the socket; a new one works.
    let huge = format!("{{ platforms {{ {} }} }}", "code ".repeat(20_000));
    assert_eq!(operate(&mut socket, "huge", &huge).await, Value::Null);
    served_promptly(&app.address).await;

    // An operation over the time limit is answered TIMEOUT and stores nothing.
    let reporter = app.key(Role::Reporter, None).await;
    let before_write = row_counts(&app.db).await;
    let mut writer = connect(&app.address, "graphql-transport-ws", Some(&reporter))
        .await
        .unwrap();
    let holder = api::service::audit::begin_write(&app.db).await.unwrap();
    let started = Instant::now();
    let mutation = format!(
        "mutation {{ recordObservations(input: [{{ metric: \"{RATE}\", observedAt: \"2021-06-30T00:00:00Z\", value: \"30\", source: \"article-003\", quote: \"q\" }}]) {{ checked }} }}"
    );
    let answer = operate(&mut writer, "slow", &mutation).await;
    holder.rollback().await.unwrap();
    assert_eq!(socket_code(&answer), "TIMEOUT", "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(row_counts(&app.db).await, before_write);

    // Three live subscriptions a socket, five a caller.
    let subscription = "subscription { observationRecorded { sequence } }";
    let mut first = connect(&app.address, "graphql-transport-ws", None)
        .await
        .unwrap();
    for id in ["a", "b", "c"] {
        send(
            &mut first,
            json!({ "id": id, "type": "subscribe", "payload": { "query": subscription } }),
        )
        .await;
    }
    crate::live::wait_for_subscribers(&app.address, 3).await;
    assert_eq!(
        socket_code(&operate(&mut first, "d", subscription).await),
        "TOO_MANY_SUBSCRIPTIONS"
    );
    let mut second = connect(&app.address, "graphql-transport-ws", None)
        .await
        .unwrap();
    for id in ["a", "b"] {
        send(
            &mut second,
            json!({ "id": id, "type": "subscribe", "payload": { "query": subscription } }),
        )
        .await;
    }
    crate::live::wait_for_subscribers(&app.address, 5).await;
    let refused = operate(&mut second, "c", subscription).await;
    assert_eq!(socket_code(&refused), "TOO_MANY_SUBSCRIPTIONS");
    assert!(
        // A socket opened without `Accept-Language` is answered in Vietnamese.
        refused["payload"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("người gọi này")
            || refused["payload"]["errors"][0]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("người gọi này"),
        "{refused}"
    );
    // Ending one gives its place back.
    send(&mut first, json!({ "id": "a", "type": "complete" })).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    send(
        &mut second,
        json!({ "id": "c2", "type": "subscribe", "payload": { "query": subscription } }),
    )
    .await;
    crate::live::wait_for_subscribers(&app.address, 5).await;
    served_promptly(&app.address).await;
    let after = row_counts(&app.db).await;
    assert_eq!(after["observation"], before["observation"]);
}

#[tokio::test]
async fn a_revoked_key_loses_its_power_on_an_open_socket() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let admin = app.key(Role::Admin, None).await;
    let mut socket = connect(&app.address, "graphql-transport-ws", Some(&admin))
        .await
        .unwrap();
    let create =
        "mutation { createApiKey(input: { name: \"made over a socket\", role: ADMIN }) { key } }";
    let answer = operate(&mut socket, "1", create).await;
    assert!(
        answer["payload"]["data"]["createApiKey"]["key"].is_string(),
        "{answer}"
    );
    receive(&mut socket).await;

    let prefix = admin.split('_').nth(1).unwrap();
    let revoked = app.command(&["keys", "revoke", prefix]);
    assert!(revoked.status.success(), "{revoked:?}");
    let keys = row_counts(&app.db).await["api_key"];
    let answer = operate(&mut socket, "2", create).await;
    assert_eq!(socket_code(&answer), "UNAUTHENTICATED", "{answer}");
    assert_eq!(
        row_counts(&app.db).await["api_key"],
        keys,
        "no key was made after revocation"
    );
}

/// Posts a CSV file to `importObservations`, with a key or without.
async fn upload(address: &str, key: Option<&str>, csv: String) -> (u16, Value, Duration, usize) {
    let operations = json!({
        "query": "mutation Import($file: Upload!) { importObservations(file: $file) { checked } }",
        "variables": { "file": null }
    });
    let form = reqwest::multipart::Form::new()
        .text("operations", operations.to_string())
        .text("map", json!({ "0": ["variables.file"] }).to_string())
        .part(
            "0",
            reqwest::multipart::Part::text(csv).file_name("figures.csv"),
        );
    let mut request = reqwest::Client::new()
        .post(format!("{address}/graphql"))
        .header("accept-language", "en")
        .multipart(form);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let started = Instant::now();
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap(),
        started.elapsed(),
        text.len(),
    )
}

/// The particulars of the newest entries of the audit log, read as an auditor would.
async fn newest_entries(app: &TestApp, count: usize) -> Vec<Value> {
    let auditor = app.key(Role::Auditor, None).await;
    let (_, body) = app
        .graphql_as(
            &auditor,
            "query($n: Int!) { auditLog(last: $n) { edges { node { action outcome detail } } } }",
            json!({ "n": count }),
        )
        .await;
    body["data"]["auditLog"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|edge| edge["node"].clone())
        .collect()
}

#[tokio::test]
async fn refused_imports_are_refused_before_the_work() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let server = ServerProcess::start(&app.database_url, &[]).await;
    let before = row_counts(&app.db).await;
    let bad_lines = format!(
        "metric,observed_at,value,source,quote\n{}",
        "x,,,,\n".repeat(300_000)
    );

    let (status, body, took, size) = upload(&server.address, None, bad_lines.clone()).await;
    assert_eq!(code(&body), "UNAUTHENTICATED", "{status}: {body}");
    assert!(took < Duration::from_secs(3), "refused after {took:?}");
    assert!(size < 1_000);
    let after = row_counts(&app.db).await;
    assert_eq!(
        after["audit_entry"],
        before["audit_entry"] + 1,
        "one entry for the refusal"
    );
    let entry = &newest_entries(&app, 1).await[0];
    assert!(entry.to_string().len() < 2_000, "{entry}");

    // A reporter's file over the row cap is refused whole; one within it lists the first
    // hundred failures and counts them all.
    let reporter = app.key(Role::Reporter, None).await;
    let (_, body, _, size) = upload(&server.address, Some(&reporter), bad_lines).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("more than 100000 rows"));
    assert!(size < 1_000);
    let fifty_thousand = format!(
        "metric,observed_at,value,source,quote\n{}",
        format!("{RATE},never,30,article-003,q\n").repeat(50_000)
    );
    let (_, body, took, size) = upload(&server.address, Some(&reporter), fifty_thousand).await;
    assert_eq!(
        body["errors"][0]["extensions"]["failures"]
            .as_array()
            .map(Vec::len),
        Some(100)
    );
    assert_eq!(body["errors"][0]["extensions"]["failureCount"], 50_000);
    assert!(size < 50_000, "a {size}-byte answer");
    assert!(took < Duration::from_secs(10), "{took:?}");
    let entry = &newest_entries(&app, 1).await[0];
    assert!(
        entry.to_string().len() < 50_000,
        "the audit entry is bounded too"
    );
    let after = row_counts(&app.db).await;
    assert_eq!(after["observation"], before["observation"]);
    assert_eq!(
        after["observation_revision"],
        before["observation_revision"]
    );
    served_promptly(&server.address).await;
    assert!(
        server.peak_memory_mb() < 300.0,
        "{} MB",
        server.peak_memory_mb()
    );
}

#[tokio::test]
async fn anonymous_refusals_cost_the_audit_log_a_bounded_number_of_entries() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let before = row_counts(&app.db).await;
    let aliases: String = (0..30)
        .map(|i| format!("r{i}: retractObservation(id: \"1\", reason: \"x\") {{ id }} "))
        .collect();
    let batch: Vec<Value> = (0..10)
        .map(|_| json!({ "query": format!("mutation {{ {aliases} }}") }))
        .collect();
    for _ in 0..50 {
        let response = app
            .client
            .post(format!("{}/graphql", app.address))
            .json(&batch)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body[0]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{body}"
        );
    }
    let written = row_counts(&app.db).await["audit_entry"] - before["audit_entry"];
    assert_eq!(
        written,
        i64::from(api::service::audit::REFUSALS_LOGGED_PER_MINUTE),
        "15,000 refusals, one entry per request up to the caller's budget"
    );
    // What was not written one by one is counted in the next entry the caller gets.
    let entries = newest_entries(&app, 30).await;
    let counted: i64 = entries
        .iter()
        .filter_map(|entry| {
            let detail: Value = match &entry["detail"] {
                Value::String(text) => serde_json::from_str(text).ok()?,
                other => other.clone(),
            };
            detail["refusalsCountedWithoutEntry"].as_i64()
        })
        .sum();
    assert!(
        counted >= 29 * 299,
        "{counted} refusals counted beside the entries"
    );
    served_promptly(&app.address).await;
}

#[tokio::test]
async fn metric_labels_cannot_be_chosen_by_clients() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let long_name = "A".repeat(1024 * 1024);
    for name in [long_name.as_str(), "Board\nfake_metric 1", "Board\"}"] {
        let body = json!({ "query": "query Board { platforms { code } }", "operationName": name });
        post(&app.address, body).await;
    }
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.len() < 20_000, "{} bytes", metrics.len());
    assert!(!metrics.contains("fake_metric"));
    assert!(
        metrics
            .lines()
            .all(|line| line.starts_with('#') || line.starts_with("egov_kpi_")),
        "{metrics}"
    );
}

on_both_databases! {
    async fn input_either_database_cannot_keep_is_refused_alike(app: TestApp) {
        let reporter = app.key(Role::Reporter, None).await;
        let admin = app.key(Role::Admin, None).await;
        let before = row_counts(&app.db).await;
        let record = "mutation R($input: [ObservationInput!]!) { recordObservations(input: $input) { checked } }";
        let item = |observed_at: &str, value: &str, quote: &str| json!({ "input": [{ "metric": RATE,
            "observedAt": observed_at, "value": value, "source": "article-003", "quote": quote }] });
        let refused = [
            (record, item("2021-06-30T00:00:00Z", "30", "a\u{0}b"), "$input"),
            (record, item("2021-06-30T00:00:00.123456789Z", "30", "q"), "input.0.observedAt"),
            (record, item("2016-12-31T23:59:60Z", "30", "q"), "input.0.observedAt"),
            (record, item("2021-06-30T00:00:00Z", "0.00000000000000000000000000001", "q"), "input.0.value"),
            (record, item("2021-06-30T00:00:00Z", "5_0", "q"), "input.0.value"),
            ("query($s: String!) { auditLog(filter: {action: $s}) { edges { cursor } } }", json!({ "s": "a\u{0}b" }), "$s"),
            ("query($s: String!) { platform(code: $s) { code } }", json!({ "s": "\u{0}" }), "$s"),
            ("mutation { createApiKey(input: { name: \"a\\u0000b\", role: VIEWER }) { key } }", json!({}), "input"),
            ("{ observations(asOf: \"2025-01-01T00:00:00.0000001Z\") { totalCount } }", json!({}), "asOf"),
            ("{ breakdown(metric: \"e-cabinet.annual-savings\", from: \"2021-01-01\", to: \"2021-12-31\", of: PROVINCES, asOf: \"0000-06-01T00:00:00Z\") { reportedCount } }", json!({}), "asOf"),
            ("{ timeSeriesByAgency(metric: \"e-cabinet.annual-savings\", of: PROVINCES, from: \"2021-01-01\", to: \"2021-12-31\", asOf: \"9999-12-31T23:59:59-01:00\") { agency { code } } }", json!({}), "asOf"),
            ("{ timeSeries(metric: \"e-cabinet.annual-savings\", from: \"-262143-01-01\", to: \"-262142-12-31\", bucket: YEAR) { bucket } }", json!({}), "from"),
            ("{ timeSeries(metric: \"e-cabinet.annual-savings\", from: \"+262142-01-01\", to: \"+262143-12-31\", bucket: YEAR) { bucket } }", json!({}), "from"),
        ];
        for (query, variables, argument) in refused {
            let key = if query.contains("createApiKey") || query.contains("auditLog") { &admin } else { &reporter };
            let (status, body) = app.graphql_as(key, query, variables.clone()).await;
            assert_eq!(code(&body), "BAD_USER_INPUT", "{query} {variables}: {status} {body}");
            let named = body["errors"][0]["extensions"]["argument"].as_str().unwrap_or_default();
            assert!(named == argument || body["errors"][0]["message"].as_str().unwrap().contains(argument),
                "{query} {variables}: names {argument}: {body}");
        }
        // A figure dated tomorrow is in the future, even by a few hours.
        let tomorrow = (chrono::Utc::now() + chrono::Duration::hours(23)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let (_, body) = app.graphql_as(&reporter, record, item(&tomorrow, "30", "q")).await;
        assert_eq!(body["errors"][0]["extensions"]["failures"][0]["field"], "observedAt", "{body}");
        let after = row_counts(&app.db).await;
        for table in ["observation", "observation_revision", "api_key", "idempotency_record"] {
            assert_eq!(after[table], before[table], "{table}");
        }
        served_promptly(&app.address).await;
    }
}

#[tokio::test]
async fn introspection_off_still_answers_typename_and_suggests_nothing() {
    let limits = Limits {
        introspection: false,
        ..Limits::default()
    };
    let app = TestApp::spawn_with(Backend::Sqlite, Options::limits(limits)).await;
    let body = app
        .graphql("{ platforms { __typename code } }", json!({}))
        .await;
    assert_eq!(
        body["data"]["platforms"][0]["__typename"], "Platform",
        "{body}"
    );
    let (status, body, _, _) = post(
        &app.address,
        json!({ "query": "{ __type(name: \"Platform\") { name } }" }),
    )
    .await;
    assert_eq!((status, code(&body)), (400, "INTROSPECTION_DISABLED"));
    let body = app.graphql("{ platforms { cod } }", json!({})).await;
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(!message.contains("Did you mean"), "{message}");
}

on_both_databases! {
    async fn idempotency_keys_belong_to_the_key_and_names_cannot_pass_for_others(app: TestApp) {
        let admin = app.key(Role::Admin, None).await;
        let create = |name: &str| format!("mutation {{ createApiKey(input: {{ name: \"{name}\", role: REPORTER }}) {{ key }} }}");
        let (_, body) = app.graphql_as(&admin, &create("twin"), json!({})).await;
        let first = body["data"]["createApiKey"]["key"].as_str().unwrap().to_owned();
        let (_, body) = app.graphql_as(&admin, &create("twin"), json!({})).await;
        let second = body["data"]["createApiKey"]["key"].as_str().unwrap().to_owned();
        for name in ["cli:root", "anonymous"] {
            let (_, body) = app.graphql_as(&admin, &create(name), json!({})).await;
            assert_eq!(code(&body), "BAD_USER_INPUT", "{name}: {body}");
        }

        let record = "mutation R($input: [ObservationInput!]!, $key: String) { recordObservations(input: $input, idempotencyKey: $key) { replayed observations { id value } } }";
        let variables = |value: &str| json!({ "key": "report-2021-06", "input": [{ "metric": RATE,
            "observedAt": "2021-06-30T00:00:00Z", "value": value, "source": "article-003", "quote": "q" }] });
        let (_, body) = app.graphql_as(&first, record, variables("30")).await;
        assert_eq!(body["data"]["recordObservations"]["replayed"], false, "{body}");
        // The second key of the same name is another caller: its key is its own.
        let (_, body) = app.graphql_as(&second, record, json!({ "key": "report-2021-06", "input": [{ "metric": RATE,
            "observedAt": "2021-03-31T00:00:00Z", "value": "25", "source": "article-003", "quote": "q" }] })).await;
        assert_eq!(body["data"]["recordObservations"]["replayed"], false, "{body}");
        assert_eq!(body["data"]["recordObservations"]["observations"][0]["value"], "25");
    }
}

#[tokio::test]
async fn csv_exports_keep_formulas_from_running_in_spreadsheets() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let reporter = app.key(Role::Reporter, None).await;
    let auditor = app.key(Role::Auditor, None).await;
    let input = json!({ "input": [{ "metric": RATE, "observedAt": "2021-06-30T00:00:00Z", "value": "30",
        "source": "article-003", "quote": "=HYPERLINK(\"http://example.invalid\",\"x\")" }] });
    let (_, body) = app
        .graphql_as(&reporter, "mutation R($input: [ObservationInput!]!) { recordObservations(input: $input) { checked } }", input)
        .await;
    assert_eq!(body["data"]["recordObservations"]["checked"], 1, "{body}");
    let csv = app
        .client
        .get(format!(
            "{}/export/observations.csv?metric={RATE}",
            app.address
        ))
        .bearer_auth(&auditor)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut reader = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .from_reader(csv.as_bytes());
    let quotes: Vec<String> = reader
        .records()
        .map(|record| record.unwrap()[10].to_owned())
        .collect();
    assert!(
        quotes.contains(&"'=HYPERLINK(\"http://example.invalid\",\"x\")".to_owned()),
        "{quotes:?}"
    );
    assert!(quotes.iter().all(|quote| !quote.starts_with('=')));
}

#[tokio::test]
async fn subscribers_cannot_take_the_database_from_requests() {
    let limits = Limits {
        max_subscriptions_per_socket: 100,
        max_subscriptions_per_caller: 1000,
        rate_per_address: 10_000,
        ..Limits::default()
    };
    let app = TestApp::spawn_with(Backend::Postgres, Options::limits(limits)).await;
    let subscription = format!(
        "subscription {{ timeSeriesUpdated(metric: \"{RATE}\", bucket: MONTH) {{ label value }} }}"
    );
    let mut sockets = Vec::new();
    for _ in 0..10 {
        let mut socket = connect(&app.address, "graphql-transport-ws", None)
            .await
            .unwrap();
        for id in 0..100 {
            send(
                &mut socket,
                json!({ "id": id.to_string(), "type": "subscribe",
                "payload": { "query": subscription } }),
            )
            .await;
        }
        sockets.push(socket);
    }
    crate::live::wait_for_subscribers(&app.address, 1000).await;

    // Each write makes 1,000 subscribers recompute a point; requests keep their connections.
    let reporter = app.key(Role::Reporter, None).await;
    let record = "mutation R($input: [ObservationInput!]!) { recordObservations(input: $input) { checked } }";
    for (day, value) in [
        ("2021-01-31", "21"),
        ("2021-03-31", "25"),
        ("2021-06-30", "28"),
        ("2021-09-30", "31"),
        ("2021-12-31", "33"),
    ] {
        let input = json!({ "input": [{ "metric": RATE, "observedAt": format!("{day}T00:00:00Z"),
            "value": value, "source": "article-003", "quote": "q" }] });
        let (status, body) = app.graphql_as(&reporter, record, input).await;
        assert_eq!(status, 200, "{body}");
    }
    // An unrelated dashboard, with a key of its own.
    let viewer = app.key(Role::Viewer, None).await;
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        let started = Instant::now();
        let (_, body) = app
            .graphql_as(
                &viewer,
                "{ observations(last: 5) { totalCount } }",
                json!({}),
            )
            .await;
        assert!(body.get("errors").is_none(), "{body}");
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "a read waited {:?} beside the subscribers",
            started.elapsed()
        );
    }
    // And the subscribers are served too, in their turn.
    let point = receive(&mut sockets[0]).await;
    assert_eq!(point["type"], "next", "{point}");
    assert!(
        point["payload"]["data"]["timeSeriesUpdated"]["label"].is_string(),
        "{point}"
    );
}

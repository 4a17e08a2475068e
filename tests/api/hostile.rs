//! Requests a public API must survive: each is answered with the right status and code, says
//! nothing internal, and leaves the server healthy.

use api::config::Limits;
use entity::values::Role;
use serde_json::{json, Value};

use crate::helpers::{Backend, Options, TestApp};
use crate::on_both_databases;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// Nothing of the server's insides in an answer.
fn assert_no_leak(body: &Value) {
    let text = body.to_string().to_lowercase();
    for secret in [
        "select ",
        "sqlx",
        "sqlite",
        "postgres",
        "/work/",
        "src/",
        "panicked",
        "stack backtrace",
        "dberr",
    ] {
        assert!(
            !text.contains(secret),
            "the answer leaks `{secret}`: {body}"
        );
    }
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("none")
}

async fn post(app: &TestApp, query: &str) -> (u16, String, Value) {
    let body = json!({ "query": query }).to_string().into_bytes();
    app.post_raw("application/json", GRAPHQL_RESPONSE, body)
        .await
}

async fn still_healthy(app: &TestApp) {
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);
    let data = app.data("{ platforms { code } }", json!({})).await;
    assert_eq!(data["platforms"].as_array().unwrap().len(), 4);
}

on_both_databases! {
    async fn expensive_documents_are_refused_before_they_run(app: TestApp) {
        let deep = format!("{{ platforms {}code{} }}", "{ metrics { platform ".repeat(7), " } }".repeat(7));
        let (status, media, body) = post(&app, &deep).await;
        assert_eq!((status, code(&body)), (400, "QUERY_TOO_DEEP"), "{body}");
        assert!(media.starts_with(GRAPHQL_RESPONSE));
        assert!(body.get("data").is_none(), "a request error has no data entry");

        let aliases: String = (0..31).map(|i| format!("a{i}: platforms {{ code }} ")).collect();
        let (status, _, body) = post(&app, &format!("{{ {aliases} }}")).await;
        assert_eq!((status, code(&body)), (400, "TOO_MANY_ALIASES"), "{body}");

        let complex = "{ observations(first: 100) { edges { node { metric {
            history(first: 100) { edges { node { value source { code title outlet fileName } } } } } } } } }";
        let (status, _, body) = post(&app, complex).await;
        assert_eq!((status, code(&body)), (400, "QUERY_TOO_COMPLEX"), "{body}");

        let (status, _, body) = post(&app, "{ observations(first: 100000) { totalCount } }").await;
        assert_eq!((status, code(&body)), (200, "BAD_USER_INPUT"), "a field error executes: 200");
        still_healthy(&app).await;
    }

    async fn bodies_that_are_not_graphql_requests_are_refused(app: TestApp) {
        let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
            ("application/json", b"{\"query\": ".to_vec(), 400, "BAD_REQUEST"),
            ("application/json", b"[1, 2, 3]".to_vec(), 400, "BAD_REQUEST"),
            ("application/json", vec![b'{', 0xff, 0xfe, b'}'], 400, "BAD_REQUEST"),
            ("text/plain", b"{ platforms { code } }".to_vec(), 415, "UNSUPPORTED_MEDIA_TYPE"),
            ("application/json", vec![b' '; 5 * 1024 * 1024], 413, "PAYLOAD_TOO_LARGE"),
        ];
        for (content_type, body, status, expected) in cases {
            let size = body.len();
            let (got, _, answer) = app.post_raw(content_type, GRAPHQL_RESPONSE, body).await;
            assert_eq!((got, code(&answer)), (status, expected), "{content_type}, {size} bytes: {answer}");
            assert_no_leak(&answer);
        }
        let (status, _, body) = app.post_raw("application/json", "text/html", b"{\"query\":\"{ platforms { code } }\"}".to_vec()).await;
        assert_eq!((status, code(&body)), (406, "NOT_ACCEPTABLE"));
        still_healthy(&app).await;
    }

    async fn sql_in_every_argument_is_only_data(app: TestApp) {
        let injection = "x' OR '1'='1'; DROP TABLE platform; --";
        let queries = [
            "query Q($s: String!) { platform(code: $s) { code } }",
            "query Q($s: String!) { metric(code: $s) { code } }",
            "query Q($s: String!) { metrics(filter: {platform: $s}) { code } }",
            "query Q($s: String!) { events(filter: {platform: $s}) { code } }",
            "query Q($s: String!) { observations(filter: {platform: $s, metric: $s, agency: $s}) { totalCount } }",
            "query Q($s: String!) { observations(after: $s) { totalCount } }",
            "query Q($s: String!) { observation(id: $s) { value } }",
            "query Q($s: String!) { timeSeries(metric: $s, from: \"2020-01-01\", to: \"2020-12-31\") { bucket } }",
            "query Q($s: String!) { timeSeries(metric: \"e-cabinet.annual-savings\", from: \"2020-01-01\", to: \"2020-12-31\", timeZone: $s) { bucket } }",
        ];
        for query in queries {
            let body = app.graphql(query, json!({ "s": injection })).await;
            let answered = code(&body);
            assert!(["NOT_FOUND", "BAD_USER_INPUT"].contains(&answered), "{query}: {body}");
            assert_no_leak(&body);
        }
        still_healthy(&app).await;
    }

    async fn operations_are_chosen_by_name_and_mutations_need_post(app: TestApp) {
        let document = "query Platforms { platforms { code } } query Sources { sources { code } }";
        let body = app.graphql_with_language(document, json!({}), None).await;
        assert!(body["errors"][0]["message"].as_str().is_some(), "two operations without a name: {body}");
        let named = json!({ "query": document, "operationName": "Sources" }).to_string().into_bytes();
        let (_, _, body) = app.post_raw("application/json", GRAPHQL_RESPONSE, named).await;
        assert_eq!(body["data"]["sources"].as_array().unwrap().len(), 5);
        let unknown = json!({ "query": document, "operationName": "Nope" }).to_string().into_bytes();
        let (status, _, body) = app.post_raw("application/json", GRAPHQL_RESPONSE, unknown).await;
        assert_eq!((status, code(&body)), (400, "GRAPHQL_VALIDATION_FAILED"), "{body}");

        let mutation = "mutation { retractObservation(id: \"1\", reason: \"x\") { id } }";
        let response = app
            .client
            .get(format!("{}/graphql", app.address))
            .query(&[("query", mutation)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405);
        assert_eq!(response.headers()["allow"], "POST");
        let body: Value = response.json().await.unwrap();
        assert_eq!(code(&body), "METHOD_NOT_ALLOWED");

        let batch = json!([{ "query": "{ platforms { code } }" }, { "query": "{ sources { code } }" }]).to_string().into_bytes();
        let (status, _, body) = app.post_raw("application/json", "application/json", batch).await;
        assert_eq!(status, 200);
        assert_eq!(body.as_array().map(Vec::len), Some(2), "{body}");
        let many: Vec<Value> = (0..11).map(|_| json!({ "query": "{ platforms { code } }" })).collect();
        let (status, _, body) = app.post_raw("application/json", "application/json", Value::Array(many).to_string().into_bytes()).await;
        assert_eq!((status, code(&body)), (400, "TOO_MANY_OPERATIONS"));
        still_healthy(&app).await;
    }

    async fn the_legacy_media_type_answers_200_for_well_formed_requests(app: TestApp) {
        let body = json!({ "query": "{ platforms { noSuchField } }" }).to_string().into_bytes();
        let (status, media, answer) = app.post_raw("application/json", "application/json", body).await;
        assert_eq!((status, code(&answer)), (200, "GRAPHQL_VALIDATION_FAILED"));
        assert!(media.starts_with("application/json"));

        let aliases: String = (0..31).map(|i| format!("a{i}: platforms {{ code }} ")).collect();
        let body = json!({ "query": format!("{{ {aliases} }}") }).to_string().into_bytes();
        let (status, _, answer) = app.post_raw("application/json", "application/json", body).await;
        assert_eq!((status, code(&answer)), (200, "TOO_MANY_ALIASES"));
    }

    async fn readiness_and_metrics_are_served(app: TestApp) {
        let ready = app.get("/readyz").await;
        assert_eq!(ready.status(), 200);
        app.graphql("query SavingsBoard { savingsComparison { total } }", json!({})).await;
        app.graphql("{ platform(code: \"none\") { code } }", json!({})).await;
        let metrics = app.get("/metrics").await.text().await.unwrap();
        assert!(metrics.contains("egov_kpi_graphql_requests_total{operation=\"SavingsBoard\"} 1"), "{metrics}");
        assert!(metrics.contains("egov_kpi_graphql_request_duration_seconds_count{operation=\"SavingsBoard\"} 1"));
        assert!(metrics.contains("egov_kpi_graphql_errors_total{code=\"NOT_FOUND\"} 1"));
        assert!(metrics.contains("egov_kpi_db_pool_connections{state=\"open\"}"));
    }
}

#[tokio::test]
async fn callers_over_their_rate_are_told_when_to_come_back() {
    let limits = Limits {
        rate_per_address: 5,
        ..Limits::default()
    };
    let app = TestApp::spawn_with(Backend::Sqlite, Options::limits(limits)).await;
    for _ in 0..5 {
        let (status, _, _) = post(&app, "{ platforms { code } }").await;
        assert_eq!(status, 200);
    }
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&json!({ "query": "{ platforms { code } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=12).contains(&retry_after), "{retry_after}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(code(&body), "RATE_LIMITED");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("egov_kpi_graphql_errors_total{code=\"RATE_LIMITED\"} 1"),
        "a refusal is counted: {metrics}"
    );
}

#[tokio::test]
async fn each_key_has_its_own_rate() {
    let limits = Limits {
        rate_per_key: 3,
        ..Limits::default()
    };
    let app = TestApp::spawn_with(Backend::Sqlite, Options::limits(limits)).await;
    let (first, second) = (
        app.key(Role::Viewer, None).await,
        app.key(Role::Viewer, None).await,
    );
    for _ in 0..3 {
        assert_eq!(
            app.graphql_as(&first, "{ sources { code } }", json!({}))
                .await
                .0,
            200
        );
    }
    let (status, body) = app
        .graphql_as(&first, "{ sources { code } }", json!({}))
        .await;
    assert_eq!((status, code(&body)), (429, "RATE_LIMITED"));
    assert_eq!(
        app.graphql_as(&second, "{ sources { code } }", json!({}))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn a_request_over_its_time_is_answered_timeout() {
    let limits = Limits {
        request_timeout_seconds: 1,
        ..Limits::default()
    };
    let app = TestApp::spawn_with(Backend::Sqlite, Options::limits(limits)).await;
    let reporter = app.key(Role::Reporter, None).await;
    // Another writer holds the audit chain: the request has to wait, longer than it may.
    let holder = api::service::audit::begin_write(&app.db).await.unwrap();
    let input = json!({ "input": [{ "metric": "public-service-portal.level4-online-dossier-rate",
        "observedAt": "2021-06-30T00:00:00Z", "value": "30", "source": "article-003", "quote": "q" }] });
    let (status, body) = app
        .graphql_as(&reporter, "mutation R($input: [ObservationInput!]!) { recordObservations(input: $input) { checked } }", input)
        .await;
    holder.rollback().await.unwrap();
    assert_eq!((status, code(&body)), (504, "TIMEOUT"), "{body}");
    assert_no_leak(&body);
    let count = app.data("{ observations(filter: {metric: \"public-service-portal.level4-online-dossier-rate\"}) { totalCount } }", json!({})).await;
    assert_eq!(
        count["observations"]["totalCount"], 0,
        "the abandoned write stored nothing"
    );
}

#[tokio::test]
async fn introspection_can_be_turned_off() {
    let limits = Limits {
        introspection: false,
        ..Limits::default()
    };
    let app = TestApp::spawn_with(Backend::Sqlite, Options::limits(limits)).await;
    let (status, _, body) = post(&app, "{ __schema { types { name } } }").await;
    assert_eq!((status, code(&body)), (400, "INTROSPECTION_DISABLED"));
    let open = TestApp::spawn(Backend::Sqlite).await;
    let (_, _, body) = post(&open, "{ __schema { queryType { name } } }").await;
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "QueryRoot");
}

#[tokio::test]
async fn an_address_guessing_keys_is_stopped_before_the_database() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for _ in 0..30 {
        let (status, body) = app
            .graphql_as("ekpi_000000000000_guess", "{ sources { code } }", json!({}))
            .await;
        assert_eq!((status, code(&body)), (401, "UNAUTHENTICATED"));
    }
    let (status, body) = app
        .graphql_as("ekpi_000000000000_guess", "{ sources { code } }", json!({}))
        .await;
    assert_eq!((status, code(&body)), (429, "RATE_LIMITED"));
    // Reads without a key still work, and the log holds the refusals, not the flood after them.
    assert_eq!(
        app.data("{ sources { code } }", json!({})).await["sources"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    let auditor = app.key(Role::Auditor, None).await;
    let (_, body) = app
        .graphql_as(&auditor, "{ auditLog(first: 100, filter: {action: \"request.authenticate\"}) { edges { cursor } } }", json!({}))
        .await;
    assert_eq!(
        body["data"]["auditLog"]["edges"].as_array().map(Vec::len),
        Some(30),
        "{body}"
    );
}

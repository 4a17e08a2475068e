use entity::values::Role;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::helpers::figure;
use crate::on_both_databases;

const RECORD: &str = "mutation Record($input: [ObservationInput!]!) {
  recordObservations(input: $input) { checked }
}";
const RATE: &str = "public-service-portal.level4-online-dossier-rate";

on_both_databases! {
    async fn unknown_codes_are_not_found(app: TestApp) {
        for (query, argument) in [
            ("{ platform(code: \"no-such-platform\") { code } }", "code"),
            ("{ metric(code: \"no-such-metric\") { code } }", "code"),
            ("{ observations(filter: {metric: \"no-such-metric\"}) { totalCount } }", "filter.metric"),
            ("{ observations(filter: {agency: \"no-such-agency\"}) { totalCount } }", "filter.agency"),
            ("{ timeSeries(metric: \"no-such-metric\", from: \"2020-01-01\", to: \"2020-12-31\") { bucket } }", "metric"),
            ("{ timeSeries(metric: \"public-service-portal.level4-online-dossier-rate\", agency: \"no-such-agency\", from: \"2020-01-01\", to: \"2020-12-31\") { bucket } }", "agency"),
            ("{ observation(id: \"999999\") { id } }", "id"),
        ] {
            let body = app.graphql(query, json!({})).await;
            let error = &body["errors"][0];
            assert_eq!(error["extensions"]["code"], "NOT_FOUND", "{query}: {body}");
            assert_eq!(error["extensions"]["argument"], argument, "the error names the argument: {query}: {body}");
            let message = error["message"].as_str().unwrap();
            assert!(message.contains("`no-such") || message.contains("`999999`"), "{message}");
        }
    }

    async fn documents_that_do_not_fit_the_schema_are_refused_with_a_code(app: TestApp) {
        let (code, _) = app.error("{ platforms { noSuchField } }", json!({})).await;
        assert_eq!(code, "GRAPHQL_VALIDATION_FAILED");
        let (code, _) = app.error("{ platforms { code ", json!({})).await;
        assert_eq!(code, "GRAPHQL_PARSE_FAILED");
        let (code, _) = app
            .error("{ timeSeries(metric: \"x\", from: \"not a date\", to: \"2020-01-01\") { bucket } }", json!({}))
            .await;
        assert_eq!(code, "BAD_USER_INPUT");
    }

    async fn a_request_validated_before_is_answered_alike_and_others_are_still_validated(app: TestApp) {
        // A request validated once runs without being validated again: what it answers must not
        // change, and a request with another document or other variables is judged on its own.
        let page = "query Page($size: Int!) { observations(first: $size) { edges { node { id value } } } }";
        let unknown_field = "query Page($size: Int!) { observations(first: $size) { edges { node { id noSuchField } } } }";
        let wrong_type = app.error(page, json!({"size": "two"})).await;
        let first = app.data(page, json!({"size": 2})).await;
        assert_eq!(first["observations"]["edges"].as_array().unwrap().len(), 2, "{first}");
        assert_eq!(app.data(page, json!({"size": 2})).await, first);
        let (code, message) = app.error(unknown_field, json!({"size": 2})).await;
        assert_eq!(code, "GRAPHQL_VALIDATION_FAILED", "{message}");
        assert!(message.contains("noSuchField"), "{message}");
        assert_eq!(app.error(page, json!({"size": "two"})).await, wrong_type);
    }

    async fn http_gets_health_graphiql_and_queries(app: TestApp) {
        let health = app.get("/healthz").await;
        assert_eq!(health.status(), 200);
        assert!(health.headers().contains_key("x-request-id"));
        let body: serde_json::Value = health.json().await.unwrap();
        assert_eq!(body["status"], "ok");

        let page = app.client.get(&app.address).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().to_lowercase().contains("graphiql"));

        let answer: serde_json::Value = app
            .client
            .get(format!("{}/graphql", app.address))
            .query(&[("query", "{ platform(code: \"e-cabinet\") { code } }")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["data"]["platform"]["code"], "e-cabinet");
    }
}

on_both_databases! {
    async fn every_error_speaks_the_language_of_the_request(app: TestApp) {
        let reporter = app.key(Role::Reporter, None).await;
        let auditor = app.key(Role::Auditor, None).await;
        let deep = format!("{{ platforms {}code{} }}", "{ metrics ".repeat(20), " }".repeat(20));
        let mut unknown = figure(RATE, "2021-06-30T00:00:00Z", "28");
        unknown["source"] = json!("no-such-source");
        unknown["metric"] = json!("no-such-metric");
        // (what is asked, English, Vietnamese): a lookup, a batch's item failures, a document
        // over the limits, a document async-graphql refuses, a key refused before execution.
        let cases: [(Option<&str>, &str, Value, &str, &str); 5] = [
            (None, "{ metric(code: \"nope\") { code } }", json!({}),
             "no metric has the code `nope`", "không có chỉ số nào có mã `nope`"),
            (Some(&reporter), RECORD, json!({ "input": [unknown] }),
             "2 of the items are invalid; nothing was stored", "2 mục không hợp lệ; không có gì được lưu"),
            (None, &deep, json!({}),
             "the document nests fields", "tài liệu lồng các trường"),
            (None, "{ platforms { nope } }", json!({}),
             "Unknown field \"nope\"", "Tài liệu GraphQL không hợp lệ với lược đồ: Unknown field \"nope\""),
            (Some("egk_bad"), "{ platforms { code } }", json!({}),
             "the API key is malformed", "khóa API sai định dạng"),
        ];
        for (key, query, variables, english, vietnamese) in cases {
            let (status_en, en) = app.ask(query, variables.clone(), Some("en-GB,en;q=0.9"), key).await;
            let (status_vi, vi) = app.ask(query, variables.clone(), Some("vi-VN"), key).await;
            let (status_default, default) = app.ask(query, variables, None, key).await;
            let message = |body: &Value| body["errors"][0]["message"].as_str().unwrap_or_default().to_owned();
            assert!(message(&en).starts_with(english), "{en}");
            assert!(message(&vi).starts_with(vietnamese), "{vi}");
            assert_eq!(message(&default), message(&vi), "Vietnamese unless asked otherwise");
            // Only the words change: the status, the code and the argument are the same.
            assert_eq!((status_en, status_vi), (status_default, status_default));
            for body in [&vi, &default] {
                assert_eq!(body["errors"][0]["extensions"]["code"], en["errors"][0]["extensions"]["code"]);
                assert_eq!(body["errors"][0]["extensions"]["argument"], en["errors"][0]["extensions"]["argument"]);
            }
        }

        // Each failure of a batch is listed in the request's language too; the audit trail
        // keeps the refusal in English, whoever asked.
        let mut precise = figure(RATE, "2021-06-30T00:00:00Z", "28.123456789");
        precise["note"] = json!("x".repeat(3000));
        let (_, vi) = app.ask(RECORD, json!({ "input": [precise] }), Some("vi"), Some(&reporter)).await;
        let failures = vi["errors"][0]["extensions"]["failures"].as_array().cloned().unwrap_or_default();
        let texts: Vec<&str> = failures.iter().filter_map(|f| f["message"].as_str()).collect();
        assert!(texts.iter().any(|t| t.contains("chữ số thập phân")), "{vi}");
        assert!(texts.iter().any(|t| t.starts_with("dài hơn")), "{vi}");
        let (_, log) = app
            .graphql_as(&auditor, "{ auditLog(last: 1) { edges { node { outcome detail } } } }", json!({}))
            .await;
        let refusal = log["data"]["auditLog"]["edges"][0]["node"].to_string();
        assert!(refusal.contains("decimal places") && !refusal.contains("thập phân"), "{refusal}");

        // Refusals outside GraphQL execution: an export's unknown metric, and a socket whose
        // upgrade asked for English.
        for (language, expected) in [("en", "no metric has the code `nope`"), ("vi", "không có chỉ số nào có mã `nope`")] {
            let response = app
                .client
                .get(format!("{}/export/observations.csv?metric=nope", app.address))
                .header("accept-language", language)
                .bearer_auth(&auditor)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 404);
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["errors"][0]["message"], expected, "{body}");
            assert_eq!(body["errors"][0]["extensions"]["argument"], "metric", "{body}");
        }
        let url = format!("{}/graphql/ws", app.address.replace("http://", "ws://"));
        let mut request = url.into_client_request().unwrap();
        let headers = request.headers_mut();
        headers.insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
        headers.insert("accept-language", "en".parse().unwrap());
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        crate::live::send(&mut socket, json!({ "type": "connection_init", "payload": {} })).await;
        assert_eq!(crate::live::receive(&mut socket).await["type"], "connection_ack");
        crate::live::send(
            &mut socket,
            json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ metric(code: \"nope\") { code } }" } }),
        )
        .await;
        let answer = crate::live::receive(&mut socket).await;
        assert_eq!(answer["payload"]["errors"][0]["message"], "no metric has the code `nope`", "{answer}");
    }
}

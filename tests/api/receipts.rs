//! Receipts: a dashboard's answer, signed, that an auditor can check later against history.

use entity::values::Role;
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

use crate::helpers::{Options, TestApp};
use crate::on_both_databases;

const RATE: &str = "public-service-portal.level4-online-dossier-rate";
const FIGURES: &str = "query Rate($metric: String!) { observations(filter: {metric: $metric}) {
  edges { node { id value revision } } } }";

async fn post(app: &TestApp, body: Value) -> Value {
    app.client
        .post(format!("{}/graphql", app.address))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn check(app: &TestApp, token: &str) -> Value {
    let query = "query V($token: String!) { verifyReceipt(token: $token) { query asOf chainHead
        matchesAsOf matchesNow problem changeCount changes { observationId revisionBefore revisionAfter reason } } }";
    let body = post(
        app,
        json!({ "query": query, "variables": { "token": token } }),
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["verifyReceipt"].clone()
}

on_both_databases! {
    async fn a_receipt_proves_an_answer_and_says_why_it_moved(app: TestApp) {
        let reporter = app.key(Role::Reporter, None).await;
        let record = "mutation R($input: [ObservationInput!]!) { recordObservations(input: $input) { observations { id } } }";
        let (_, body) = app.graphql_as(&reporter, record, json!({ "input": [{ "metric": RATE, "observedAt": "2021-06-30T00:00:00+07:00",
            "value": "24", "source": "article-003", "quote": "tỉ lệ" }] })).await;
        let id = body["data"]["recordObservations"]["observations"][0]["id"].as_str().unwrap().to_owned();

        let answered = post(&app, json!({ "query": FIGURES, "variables": { "metric": RATE }, "extensions": { "receipt": true } })).await;
        assert_eq!(answered["data"]["observations"]["edges"][0]["node"]["value"], "24", "{answered}");
        let receipt = &answered["extensions"]["receipt"];
        let token = receipt["token"].as_str().unwrap_or_else(|| panic!("a receipt: {answered}"));
        assert!(receipt["chainHead"].as_str().unwrap().contains(':'));
        let plain = post(&app, json!({ "query": FIGURES, "variables": { "metric": RATE } })).await;
        assert_eq!(plain["data"], answered["data"], "the same answer, with or without a receipt");
        assert!(plain.get("extensions").is_none_or(|e| e.get("receipt").is_none()));

        let fresh = check(&app, token).await;
        assert_eq!((&fresh["matchesAsOf"], &fresh["matchesNow"], &fresh["changeCount"]), (&json!(true), &json!(true), &json!(0)), "{fresh}");
        assert_eq!(fresh["asOf"], receipt["asOf"]);

        // A correction moves the answer now, not the answer as of the receipt.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let auditor = app.key(Role::Auditor, None).await;
        let correct = "mutation C($id: ID!) { correctObservation(input: {id: $id, expectedRevision: 1, value: \"26\",
            reason: \"the ministry revised its count\", source: \"article-003\", quote: \"tỉ lệ\"}) { revision } }";
        let (_, body) = app.graphql_as(&auditor, correct, json!({ "id": id })).await;
        assert_eq!(body["data"]["correctObservation"]["revision"], 2, "{body}");
        let moved = check(&app, token).await;
        assert_eq!((&moved["matchesAsOf"], &moved["matchesNow"]), (&json!(true), &json!(false)), "{moved}");
        assert_eq!(moved["changes"], json!([{ "observationId": id.parse::<i64>().unwrap(), "revisionBefore": 1, "revisionAfter": 2,
            "reason": "the ministry revised its count" }]));

        // History changed behind the API: the answer as of the receipt no longer holds.
        app.db
            .execute_unprepared(&format!("UPDATE observation_revision SET value = 25 WHERE observation_id = {id} AND revision = 1"))
            .await
            .unwrap();
        let tampered = check(&app, token).await;
        assert_eq!(tampered["matchesAsOf"], false, "{tampered}");

        // A token changed by hand is not this server's.
        let (payload, signature) = token.split_once('.').unwrap();
        let mut forged = payload.as_bytes().to_vec();
        forged[10] = if forged[10] == b'A' { b'B' } else { b'A' };
        let forged = format!("{}.{signature}", String::from_utf8(forged).unwrap());
        let refused = post(&app, json!({ "query": "query V($t: String!) { verifyReceipt(token: $t) { matchesNow } }", "variables": { "t": forged } })).await;
        assert_eq!(refused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{refused}");

        // Receipts are for answers, not writes.
        let write = app.client.post(format!("{}/graphql", app.address)).bearer_auth(&reporter)
            .json(&json!({ "query": record, "variables": { "input": [{ "metric": RATE, "observedAt": "2021-09-30T00:00:00+07:00",
                "value": "30", "source": "article-003", "quote": "tỉ lệ" }] }, "extensions": { "receipt": true } }))
            .send().await.unwrap().json::<Value>().await.unwrap();
        assert_eq!(write["errors"][0]["extensions"]["code"], "BAD_REQUEST", "{write}");
        let counted = app.data(FIGURES, json!({ "metric": RATE })).await;
        assert_eq!(counted["observations"]["edges"].as_array().unwrap().len(), 1, "the refused write stored nothing");
    }
}

on_both_databases! { Options::unanchored();
    async fn a_server_without_a_signing_key_signs_no_receipts(app: TestApp) {
        let answered = post(&app, json!({ "query": FIGURES, "variables": { "metric": RATE }, "extensions": { "receipt": true } })).await;
        assert_eq!(answered["errors"][0]["extensions"]["code"], "RECEIPTS_UNAVAILABLE", "{answered}");
        let checked = post(&app, json!({ "query": "{ verifyReceipt(token: \"a.b\") { matchesNow } }" })).await;
        assert_eq!(checked["errors"][0]["extensions"]["code"], "RECEIPTS_UNAVAILABLE", "{checked}");
    }
}

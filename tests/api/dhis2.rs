//! DHIS2 `dataValueSets`: exported by one server, recorded by another, exported again the same.

use entity::values::{MetricKind, Role, Unit};
use serde_json::{json, Value};

use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

const FLOW: &str = "test.dossiers-in-period";

const IDENTIFY: &str = "mutation($kind: Dhis2Kind!, $uid: String!, $code: String!) {
  identifyForDhis2(kind: $kind, uid: $uid, code: $code) { uid code } }";
const IMPORT: &str = "mutation($set: JSON!) {
  importDhis2DataValueSet(dataValueSet: $set, source: \"article-001\") { checked } }";

/// The metric and the units given the identifiers a DHIS2 instance uses for them.
async fn identified(app: &TestApp) {
    app.add_metric(FLOW, MetricKind::Flow, Unit::Dossiers).await;
    let admin = app.key(Role::Admin, None).await;
    for (kind, uid, code) in [
        ("DATA_ELEMENT", "dEdossiers1", FLOW),
        ("ORG_UNIT", "ouHaNoi0001", "ha-noi"),
        ("ORG_UNIT", "ouDakNong01", "dak-nong"),
        ("ORG_UNIT", "ouVietnam01", "VN"),
    ] {
        let (_, body) = app
            .graphql_as(
                &admin,
                IDENTIFY,
                json!({ "kind": kind, "uid": uid, "code": code }),
            )
            .await;
        assert_eq!(body["data"]["identifyForDhis2"]["uid"], uid, "{body}");
    }
}

async fn export(app: &TestApp, query: &str) -> (Value, String) {
    let response = app
        .get(&format!(
            "/export/dhis2/dataValueSets.json?metric={FLOW}&from=2025-06-01&to=2025-07-31{query}"
        ))
        .await;
    assert_eq!(response.status(), 200);
    let unidentified = response
        .headers()
        .get("egov-kpi-unidentified")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (response.json().await.unwrap(), unidentified)
}

on_both_databases! {
    async fn a_data_value_set_goes_to_another_server_and_comes_back_the_same(app: TestApp) {
        identified(&app).await;
        let (june, july) = (Some("2025-06-01T00:00:00+07:00"), Some("2025-07-01T00:00:00+07:00"));
        app.record_as_reporter(FLOW, &[
            ("ha-noi", "2025-06-30T00:00:00+07:00", "300", "EXACT", june, None),
            ("ha-noi", "2025-07-31T00:00:00+07:00", "350", "MORE_THAN", july, None),
            ("dak-nong", "2025-06-30T00:00:00+07:00", "101", "EXACT", june, None),
            ("lam-dong", "2025-06-30T00:00:00+07:00", "70", "EXACT", june, None),
            ("", "2025-06-30T00:00:00+07:00", "1000", "ABOUT", june, None),
        ]).await;

        let (provinces, unidentified) = export(&app, "&bucket=MONTH&of=PROVINCES").await;
        assert_eq!(unidentified, "lam-dong", "a unit without an identifier is left out, and named");
        let mut values = provinces["dataValues"].as_array().unwrap().clone();
        values.sort_by_key(|v| (v["orgUnit"].to_string(), v["period"].to_string()));
        assert_eq!(values, [
            json!({ "dataElement": "dEdossiers1", "period": "202506", "orgUnit": "ouDakNong01", "value": "101" }),
            json!({ "dataElement": "dEdossiers1", "period": "202506", "orgUnit": "ouHaNoi0001", "value": "300" }),
            json!({ "dataElement": "dEdossiers1", "period": "202507", "orgUnit": "ouHaNoi0001", "value": "350", "comment": "MORE_THAN" }),
        ]);
        let (national, _) = export(&app, "&bucket=QUARTER").await;
        assert_eq!(national["dataValues"], json!([
            { "dataElement": "dEdossiers1", "period": "2025Q2", "orgUnit": "ouVietnam01", "value": "1000", "comment": "ABOUT" },
        ]), "the national figures only");

        // Another server, given the same identifiers, records the document and exports it back.
        let backend = if app.database_url.starts_with("postgres") { Backend::Postgres } else { Backend::Sqlite };
        let other = TestApp::spawn(backend).await;
        identified(&other).await;
        let reporter = other.key(Role::Reporter, None).await;
        let (_, body) = other.graphql_as(&reporter, IMPORT, json!({ "set": provinces })).await;
        assert_eq!(body["data"]["importDhis2DataValueSet"]["checked"], 3, "{body}");
        let (again, _) = export(&other, "&bucket=MONTH&of=PROVINCES").await;
        assert_eq!(again, provinces);
        let stored = other.scalar("SELECT COUNT(*) FROM observation o JOIN observation_revision r ON r.observation_id = o.id WHERE r.quote LIKE '%ouHaNoi0001%'").await;
        assert_eq!(stored, 2, "each figure cites the data value it came from");

        // A document with bad values is refused whole, each failure named; nothing is added.
        let bad = json!({ "period": "202508", "orgUnit": "ouHaNoi0001", "dataValues": [
            { "dataElement": "dEdossiers1", "value": "5" },
            { "dataElement": "unknownUid1", "value": "5" },
            { "dataElement": "dEdossiers1", "period": "2025-09", "value": "5" },
            { "dataElement": "dEdossiers1", "orgUnit": "ouDakNong01", "value": "five" },
        ] });
        let (_, body) = other.graphql_as(&reporter, IMPORT, json!({ "set": bad })).await;
        let failures = body["errors"][0]["extensions"]["failures"].as_array().unwrap_or_else(|| panic!("{body}"));
        let named: Vec<_> = failures.iter().map(|f| (f["index"].as_u64().unwrap(), f["field"].as_str().unwrap())).collect();
        assert_eq!(named, [(1, "dataElement"), (2, "period"), (3, "value")]);
        let (unchanged, _) = export(&other, "&bucket=MONTH&of=PROVINCES").await;
        assert_eq!(unchanged, provinces);

        // Identifiers are an admin's to give, one per code and per identifier.
        let (_, body) = other.graphql_as(&reporter, IDENTIFY, json!({ "kind": "ORG_UNIT", "uid": "ouLamDong01", "code": "lam-dong" })).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN", "{body}");
        let admin = other.key(Role::Admin, None).await;
        for (uid, code, expected) in [("ouHaNoi0001", "lam-dong", "CONFLICT"), ("ouLamDong01", "ha-noi", "CONFLICT"), ("1badUid", "lam-dong", "BAD_USER_INPUT"), ("ouLamDong01", "no-such-unit", "NOT_FOUND")] {
            let (_, body) = other.graphql_as(&admin, IDENTIFY, json!({ "kind": "ORG_UNIT", "uid": uid, "code": code })).await;
            assert_eq!(body["errors"][0]["extensions"]["code"], expected, "{uid} {code}: {body}");
        }
    }
}

//! Scored indices: provinces scored on versioned components, ranked, and a score's change split
//! into what the data and what a new definition changed.

use entity::values::{MetricKind, Role, Unit};
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::on_both_databases;

const ONLINE: &str = "test.dossiers-online-in-period";
const ALL: &str = "test.dossiers-in-period";
const SERVICES: &str = "test.services-online";

const DEFINE_INDICATOR: &str =
    "mutation($input: DefineIndicatorInput!) { defineIndicator(input: $input) { code } }";
const DEFINE: &str = "mutation($input: DefineScoredIndexInput!) { defineScoredIndex(input: $input) {
  code of versions { version validFrom maxPoints components { code indicator metric rule maxPoints } } } }";
const REVISE: &str = "mutation($input: ReviseScoredIndexInput!) { reviseScoredIndex(input: $input) { versions { version } } }";

const SCORE: &str = "query($agency: String!, $day: NaiveDate!) {
  indexScore(index: \"test.service-index\", agency: $agency, day: $day) {
    label version rankedAmong previousLabel previousVersion change changeFromData changeFromDefinition
    score { rank total totalQualifier components { component { code } value points pointsQualifier gap } }
    previous { total } } }";

/// Online dossiers scored up to `full_at` percent for `online_points`, and at least 100 services
/// online for `service_points`.
fn components(full_at: &str, online_points: &str, service_points: &str) -> Value {
    json!([
        { "code": "online-dossiers", "nameVi": "Hồ sơ trực tuyến", "nameEn": "Dossiers online",
          "measure": { "indicator": "test.online-share" },
          "rule": { "linear": { "zeroAt": "0", "fullAt": full_at } }, "maxPoints": online_points },
        { "code": "services-online", "nameVi": "Dịch vụ trực tuyến", "nameEn": "Services online",
          "measure": { "metric": SERVICES }, "rule": { "atLeast": "100" }, "maxPoints": service_points },
    ])
}

/// The first and last day of 2021 and of 2022: a year's flows start on the first, and levels are
/// read on the last.
const YEARS: [(Option<&str>, &str); 2] = [
    (
        Some("2021-01-01T00:00:00+07:00"),
        "2021-12-31T00:00:00+07:00",
    ),
    (
        Some("2022-01-01T00:00:00+07:00"),
        "2022-12-31T00:00:00+07:00",
    ),
];

async fn arrange(app: &TestApp) -> String {
    app.add_metric(ONLINE, MetricKind::Flow, Unit::Dossiers)
        .await;
    app.add_metric(ALL, MetricKind::Flow, Unit::Dossiers).await;
    app.add_metric(SERVICES, MetricKind::Level, Unit::Services)
        .await;
    let admin = app.key(Role::Admin, None).await;
    let share = json!({ "input": {
        "code": "test.online-share", "nameVi": "Tỷ lệ hồ sơ trực tuyến", "nameEn": "Online share", "unit": "PERCENT",
        "formula": { "scaled": { "factor": "100", "of": { "ratio": { "numerator": { "metric": ONLINE }, "denominator": { "metric": ALL } } } } },
    } });
    let (_, body) = app.graphql_as(&admin, DEFINE_INDICATOR, share).await;
    assert!(body["errors"].is_null(), "{body}");
    let [(start21, end21), (start22, end22)] = YEARS;
    app.record_as_reporter(
        ONLINE,
        &[
            ("ha-noi", end21, "200", "EXACT", start21, None),
            ("ha-noi", end22, "300", "EXACT", start22, None),
            ("dak-nong", end22, "100", "EXACT", start22, None),
        ],
    )
    .await;
    app.record_as_reporter(
        ALL,
        &[
            ("ha-noi", end21, "1000", "EXACT", start21, None),
            ("ha-noi", end22, "1000", "EXACT", start22, None),
            ("dak-nong", end22, "400", "EXACT", start22, None),
        ],
    )
    .await;
    app.record_as_reporter(
        SERVICES,
        &[
            ("ha-noi", end21, "120", "EXACT", None, None),
            ("ha-noi", end22, "150", "EXACT", None, None),
            ("dak-nong", end22, "90", "EXACT", None, None),
        ],
    )
    .await;
    admin
}

on_both_databases! {
    async fn a_score_s_change_splits_into_data_and_definition_exactly(app: TestApp) {
        let admin = arrange(&app).await;
        let define = json!({ "input": {
            "code": "test.service-index", "nameVi": "Chỉ số phục vụ", "nameEn": "Service index", "of": "PROVINCES",
            "components": components("50", "60", "40"),
        } });
        let (_, body) = app.graphql_as(&admin, DEFINE, define).await;
        assert_eq!(body["data"]["defineScoredIndex"]["versions"][0]["maxPoints"], "100", "{body}");
        assert_eq!(body["data"]["defineScoredIndex"]["versions"][0]["components"][0]["rule"], "linear from 0 (0 points) to 50 (all points)");
        // 2022 read before the revision: 36 + 40 under version 1, which no longer applies after it.
        let before = app.data(SCORE, json!({ "agency": "ha-noi", "day": "2022-06-01" })).await["indexScore"].clone();
        assert_eq!((before["version"].clone(), before["score"]["total"].clone()), (json!(1), json!("76")));
        // From 2022, the online share weighs more and is full at 40%.
        let revise = json!({ "input": { "code": "test.service-index", "validFrom": "2022-01-01", "components": components("40", "70", "30") } });
        let (_, body) = app.graphql_as(&admin, REVISE, revise).await;
        assert_eq!(body["data"]["reviseScoredIndex"]["versions"], json!([{ "version": 1 }, { "version": 2 }]), "{body}");
        let verified = app.command(&["audit", "verify"]);
        assert_ne!(verified.status.code(), Some(1), "the versions are as logged: {}", String::from_utf8_lossy(&verified.stdout));

        let score = app.data(SCORE, json!({ "agency": "ha-noi", "day": "2022-06-01" })).await["indexScore"].clone();
        // 2021 under version 1: 20% of 50 is 24 of 60 points, 120 services all 40: 64.
        // 2022 under version 2: 30% of 40 is 52.5 of 70 points, 150 services all 30: 82.5.
        // 2022's data under version 1: 36 + 40 = 76, so the data added 12, the definition 6.5.
        assert_eq!((score["label"].clone(), score["version"].clone(), score["previousLabel"].clone(), score["previousVersion"].clone()),
                   (json!("2022"), json!(2), json!("2021"), json!(1)));
        assert_eq!((score["score"]["total"].clone(), score["previous"]["total"].clone()), (json!("82.5"), json!("64")));
        assert_eq!((score["change"].clone(), score["changeFromData"].clone(), score["changeFromDefinition"].clone()),
                   (json!("18.5"), json!("12"), json!("6.5")));
        assert_eq!(score["score"]["components"], json!([
            { "component": { "code": "online-dossiers" }, "value": "30", "points": "52.5", "pointsQualifier": "EXACT", "gap": null },
            { "component": { "code": "services-online" }, "value": "150", "points": "30", "pointsQualifier": "EXACT", "gap": null },
        ]));
        // Đắk Nông: 25% is 43.75 points, 90 services none.
        assert_eq!((score["score"]["rank"].clone(), score["rankedAmong"].clone()), (json!(1), json!(2)));
        let dak_nong = app.data(SCORE, json!({ "agency": "dak-nong", "day": "2022-06-01" })).await["indexScore"].clone();
        assert_eq!((dak_nong["score"]["rank"].clone(), dak_nong["score"]["total"].clone()), (json!(2), json!("43.75")));
        // Nothing in 2021 to compare with: no change, rather than a change from zero.
        assert_eq!((dak_nong["previous"]["total"].clone(), dak_nong["change"].clone()), (Value::Null, Value::Null));

        let ranking = app.data("{ indexRanking(index: \"test.service-index\", day: \"2022-03-01\") {
            label version scores { rank agency { code } total } } }", json!({})).await["indexRanking"].clone();
        let scores = ranking["scores"].as_array().unwrap();
        assert_eq!(scores.len(), 63);
        assert_eq!(scores[..2].to_vec(), [
            json!({ "rank": 1, "agency": { "code": "ha-noi" }, "total": "82.5" }),
            json!({ "rank": 2, "agency": { "code": "dak-nong" }, "total": "43.75" }),
        ]);
        assert!(scores[2..].iter().all(|s| s["rank"].is_null() && s["total"].is_null()));
    }

    async fn an_index_that_cannot_be_scored_is_refused_and_stores_nothing(app: TestApp) {
        let admin = arrange(&app).await;
        let viewer = app.key(Role::Viewer, None).await;
        let define = |code: &str, components: Value| json!({ "input": {
            "code": code, "nameVi": "Chỉ số", "nameEn": "Index", "of": "PROVINCES", "components": components } });
        let mut twice = components("50", "60", "40");
        twice[1]["code"] = json!("online-dossiers");
        let mut no_points = components("50", "60", "40");
        no_points[0]["maxPoints"] = json!("0");
        let mut flat = components("0", "60", "40");
        flat[0]["rule"] = json!({ "linear": { "zeroAt": "5", "fullAt": "5" } });
        let mut unknown = components("50", "60", "40");
        unknown[0]["measure"] = json!({ "indicator": "no.such-indicator" });
        for (key, variables, expected) in [
            (&admin, define("test.twice", twice), "BAD_USER_INPUT"),
            (&admin, define("test.no-points", no_points), "BAD_USER_INPUT"),
            (&admin, define("test.flat", flat), "BAD_USER_INPUT"),
            (&admin, define("test.unknown", unknown), "NOT_FOUND"),
            (&admin, define("test.empty", json!([])), "BAD_USER_INPUT"),
            (&viewer, define("test.viewer", components("50", "60", "40")), "FORBIDDEN"),
        ] {
            let (_, body) = app.graphql_as(key, DEFINE, variables.clone()).await;
            assert_eq!(body["errors"][0]["extensions"]["code"], expected, "{variables}: {body}");
        }
        // A malformed component code names the components as the argument at fault.
        let mut malformed = components("50", "60", "40");
        malformed[0]["code"] = json!("Not A Code");
        let (_, body) = app.graphql_as(&admin, DEFINE, define("test.malformed", malformed)).await;
        assert_eq!(body["errors"][0]["extensions"]["argument"], "input.components", "{body}");
        let indices = app.data("{ scoredIndices { code } }", json!({})).await;
        assert_eq!(indices["scoredIndices"], json!([]));
        let refused = app.scalar("SELECT COUNT(*) FROM audit_entry WHERE action = 'scored-index.define' AND outcome = 'refused'").await;
        assert_eq!(refused, 7);
    }
}

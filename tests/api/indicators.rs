use entity::values::{MetricKind, Qualifier, Role, Unit};
use serde_json::{json, Value};

use crate::helpers::{Reading, TestApp};
use crate::on_both_databases;

const ONLINE: &str = "test.dossiers-filed-online";
const ALL: &str = "test.dossiers-filed";

const DEFINE: &str =
    "mutation Define($input: DefineIndicatorInput!) { defineIndicator(input: $input) {
  code versions { version validFrom expression inputs recordedBy }
} }";

const REVISE: &str =
    "mutation Revise($input: ReviseIndicatorInput!) { reviseIndicator(input: $input) {
  versions { version validFrom expression }
} }";

const SERIES: &str = "query Series($code: String!, $version: Int) {
  indicatorSeries(indicator: $code, from: \"2021-01-01\", to: \"2021-04-30\", bucket: MONTH, version: $version) {
    indicator { code unit }
    points { label version value qualifier gap missingInputs inputs { metric { code } value qualifier } }
  }
}";

fn ratio(numerator: &str, denominator: &str) -> Value {
    json!({ "ratio": { "numerator": { "metric": numerator }, "denominator": { "metric": denominator } } })
}

fn percent(numerator: &str, denominator: &str) -> Value {
    json!({ "scaled": { "factor": "100", "of": ratio(numerator, denominator) } })
}

fn definition(code: &str, formula: Value) -> Value {
    json!({ "input": {
        "code": code, "nameVi": "Tỷ lệ hồ sơ trực tuyến", "nameEn": "Share of dossiers filed online",
        "unit": "PERCENT", "formula": formula, "note": "test definition",
    } })
}

/// Two counters of dossiers, each with a reading at the end of 2020 for the growth of January
/// to be measured from, then January to March 2021.
async fn two_counters(app: &TestApp) {
    app.add_metric(ONLINE, MetricKind::Cumulative, Unit::Dossiers)
        .await;
    app.add_metric(ALL, MetricKind::Cumulative, Unit::Dossiers)
        .await;
    for (metric, at, value, qualifier) in [
        (ONLINE, "2020-12-31T00:00:00Z", "0", Qualifier::Exact),
        (ALL, "2020-12-31T00:00:00Z", "0", Qualifier::Exact),
        (ONLINE, "2021-01-31T00:00:00Z", "100", Qualifier::Exact),
        (ALL, "2021-01-31T00:00:00Z", "500", Qualifier::Exact),
        // "More than 250" so far: February grew by more than 150.
        (ONLINE, "2021-02-28T00:00:00Z", "250", Qualifier::MoreThan),
        (ALL, "2021-02-28T00:00:00Z", "1000", Qualifier::Exact),
        // Exactly 400: March grew by less than 150.
        (ONLINE, "2021-03-31T00:00:00Z", "400", Qualifier::Exact),
        (ALL, "2021-03-31T00:00:00Z", "1500", Qualifier::Exact),
    ] {
        app.store_reading(Reading::at(metric, at, value).qualified(qualifier))
            .await;
    }
}

async fn define(app: &TestApp, admin: &str, variables: Value) -> Value {
    let (status, body) = app.graphql_as(admin, DEFINE, variables).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["defineIndicator"].clone()
}

const COMPARE: &str = "query($from: NaiveDate, $to: NaiveDate, $relative: RelativePeriod) {
  compareIndicator(indicator: \"test.online-share\", current: { from: $from, to: $to, relative: $relative }, baseline: { relative: PREVIOUS_PERIOD }) {
    current { from value qualifier version inputs { metric { code } value qualifier } }
    baseline { from value qualifier gap }
    change changeQualifier relativeChange direction comparable reason } }";

/// The online share of the days `from` to `to` against the period before.
async fn compare(app: &TestApp, from: &str, to: &str) -> Value {
    let variables = json!({ "from": from, "to": to });
    app.data(COMPARE, variables).await["compareIndicator"].clone()
}

fn points(body: &Value) -> Vec<Value> {
    body["indicatorSeries"]["points"]
        .as_array()
        .unwrap()
        .clone()
}

on_both_databases! {
    async fn an_indicator_over_two_counters_takes_each_months_growth_and_qualifiers(app: TestApp) {
        two_counters(&app).await;
        let admin = app.key(Role::Admin, None).await;
        let defined = define(&app, &admin, definition("test.online-share", percent(ONLINE, ALL))).await;
        assert_eq!(defined["versions"][0]["expression"], format!("100 × ({ONLINE} / {ALL})"));
        assert_eq!(defined["versions"][0]["validFrom"], Value::Null);
        assert_eq!(defined["versions"][0]["inputs"], json!([ALL, ONLINE]));

        let series = app.data(SERIES, json!({ "code": "test.online-share" })).await;
        let points = points(&series);
        let seen: Vec<_> = points.iter().map(|p| (p["label"].clone(), p["value"].clone(), p["qualifier"].clone())).collect();
        assert_eq!(seen, [
            // 100 of 500 dossiers filed in January.
            (json!("2021-01"), json!("20"), json!("EXACT")),
            // More than 150 of 500: more than 30%.
            (json!("2021-02"), json!("30"), json!("MORE_THAN")),
            // Less than 150 of 500: less than 30%.
            (json!("2021-03"), json!("30"), json!("LESS_THAN")),
            (json!("2021-04"), Value::Null, Value::Null),
        ]);
        assert_eq!(points[1]["inputs"], json!([
            { "metric": { "code": ALL }, "value": "500", "qualifier": "EXACT" },
            { "metric": { "code": ONLINE }, "value": "150", "qualifier": "MORE_THAN" },
        ]));
        assert_eq!(points[0]["version"], 1);
        assert_eq!(points[3]["gap"], "MISSING_INPUT");
        assert_eq!(points[3]["missingInputs"], json!([ALL, ONLINE]));
    }

    async fn bounds_on_both_inputs_leave_the_value_open(app: TestApp) {
        two_counters(&app).await;
        let admin = app.key(Role::Admin, None).await;
        // Online over its complement: February's "more than 150" online leaves "less than 350"
        // offline, and a lower bound over an upper one is a lower bound; over a lower one,
        // nothing can be said.
        let offline = json!({ "difference": { "minuend": { "metric": ALL }, "subtrahend": { "metric": ONLINE } } });
        let per_offline = json!({ "ratio": { "numerator": { "metric": ONLINE }, "denominator": offline } });
        define(&app, &admin, definition("test.online-per-offline", per_offline)).await;
        let over_itself = json!({ "ratio": {
            "numerator": { "metric": ONLINE },
            "denominator": { "sum": [{ "metric": ONLINE }, { "constant": "0" }] },
        } });
        define(&app, &admin, definition("test.online-over-itself", over_itself)).await;

        let series = app.data(SERIES, json!({ "code": "test.online-per-offline" })).await;
        let february = &points(&series)[1];
        assert_eq!((february["value"].clone(), february["qualifier"].clone()), (json!("0.428571"), json!("MORE_THAN")));
        let series = app.data(SERIES, json!({ "code": "test.online-over-itself" })).await;
        let february = &points(&series)[1];
        assert_eq!(february["value"], "1");
        assert_eq!(february["qualifier"], Value::Null, "{february}");
        assert_eq!(february["gap"], Value::Null);
    }

    async fn a_new_version_leaves_earlier_periods_as_they_were(app: TestApp) {
        two_counters(&app).await;
        let admin = app.key(Role::Admin, None).await;
        define(&app, &admin, definition("test.online-share", percent(ONLINE, ALL))).await;
        let before = points(&app.data(SERIES, json!({ "code": "test.online-share" })).await);

        // From March on, the share is stated as a fraction, not a percentage.
        let revise = |valid_from: &str| json!({ "input": {
            "code": "test.online-share", "formula": ratio(ONLINE, ALL), "validFrom": valid_from,
            "note": "stated as a fraction from March",
        } });
        let (status, body) = app.graphql_as(&admin, REVISE, revise("2021-03-01")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["reviseIndicator"]["versions"][1], json!({
            "version": 2, "validFrom": "2021-03-01", "expression": format!("{ONLINE} / {ALL}"),
        }));

        let after = points(&app.data(SERIES, json!({ "code": "test.online-share" })).await);
        assert_eq!(after[..2], before[..2], "January and February keep version 1");
        assert_eq!((after[2]["version"].clone(), after[2]["value"].clone()), (json!(2), json!("0.3")));
        // Named, a version computes every period, as it would have.
        let as_first = points(&app.data(SERIES, json!({ "code": "test.online-share", "version": 1 })).await);
        assert_eq!(as_first, before);

        // A version must start after the latest: refused, and nothing is added.
        let (code, message) = app.error(REVISE, revise("2021-03-01")).await;
        assert_eq!(code, "UNAUTHENTICATED", "{message}");
        let (_, body) = app.graphql_as(&admin, REVISE, revise("2021-02-01")).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["argument"], "input.validFrom", "{body}");
        let (_, body) = app.graphql_as(&admin, SERIES, json!({ "code": "test.online-share", "version": 3 })).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        let versions = app.data("{ indicator(code: \"test.online-share\") { versions { version } } }", json!({})).await;
        assert_eq!(versions["indicator"]["versions"], json!([{ "version": 1 }, { "version": 2 }]));
        let log = app.scalar("SELECT COUNT(*) FROM audit_entry WHERE action = 'indicator.revise' AND outcome = 'applied'").await;
        assert_eq!(log, 1);
        let verified = app.command(&["audit", "verify"]);
        assert_ne!(verified.status.code(), Some(1), "the versions are as logged: {}", String::from_utf8_lossy(&verified.stdout));
    }

    async fn a_definition_that_cannot_be_computed_is_refused_and_stores_nothing(app: TestApp) {
        let admin = app.key(Role::Admin, None).await;
        let viewer = app.key(Role::Viewer, None).await;
        let reporter = app.key(Role::Reporter, None).await;
        let seeded = app.data("{ indicators { code } }", json!({})).await;

        let refusals = [
            (&admin, definition("test.unknown", percent("no.such-metric", ALL)), "NOT_FOUND"),
            (&admin, definition("test.empty", json!({ "sum": [] })), "BAD_USER_INPUT"),
            (&admin, definition("test.constant", json!({ "constant": "3" })), "BAD_USER_INPUT"),
            (&admin, definition("Not A Code", percent(ONLINE, ALL)), "BAD_USER_INPUT"),
            (&admin, definition("test.two-kinds", json!({ "metric": ONLINE, "constant": "1" })), "BAD_USER_INPUT"),
            (&viewer, definition("test.viewer", percent(ONLINE, ALL)), "FORBIDDEN"),
            (&reporter, definition("test.reporter", percent(ONLINE, ALL)), "FORBIDDEN"),
        ];
        app.add_metric(ONLINE, MetricKind::Cumulative, Unit::Dossiers).await;
        app.add_metric(ALL, MetricKind::Cumulative, Unit::Dossiers).await;
        let mut deep = json!({ "metric": ONLINE });
        for _ in 0..12 {
            deep = json!({ "sum": [deep] });
        }
        for (key, variables, expected) in refusals.into_iter().chain([(&admin, definition("test.deep", deep), "BAD_USER_INPUT")]) {
            let (_, body) = app.graphql_as(key, DEFINE, variables.clone()).await;
            assert_eq!(body["errors"][0]["extensions"]["code"], expected, "{variables}: {body}");
        }
        assert_eq!(app.data("{ indicators { code } }", json!({})).await, seeded);

        define(&app, &admin, definition("test.online-share", percent(ONLINE, ALL))).await;
        let (_, body) = app.graphql_as(&admin, DEFINE, definition("test.online-share", ratio(ONLINE, ALL))).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "CONFLICT", "{body}");
        let versions = app.data("{ indicator(code: \"test.online-share\") { versions { expression } } }", json!({})).await;
        assert_eq!(versions["indicator"]["versions"], json!([{ "expression": format!("100 × ({ONLINE} / {ALL})") }]));
    }

    async fn provinces_are_ranked_on_the_rate_their_own_counts_give(app: TestApp) {
        const ONLINE_FLOW: &str = "test.dossiers-online-in-period";
        const ALL_FLOW: &str = "test.dossiers-in-period";
        app.add_metric(ONLINE_FLOW, MetricKind::Flow, Unit::Dossiers).await;
        app.add_metric(ALL_FLOW, MetricKind::Flow, Unit::Dossiers).await;
        let admin = app.key(Role::Admin, None).await;
        define(&app, &admin, definition("test.online-share", percent(ONLINE_FLOW, ALL_FLOW))).await;
        let (june, end) = (Some("2025-06-01T00:00:00+07:00"), "2025-06-30T00:00:00+07:00");
        app.record_as_reporter(ONLINE_FLOW, &[
            ("ha-noi", end, "300", "EXACT", june, None),
            ("dak-nong", end, "100", "EXACT", june, None),
            ("lam-dong", end, "50", "MORE_THAN", june, None),
            ("ninh-binh", end, "10", "EXACT", june, None),
        ]).await;
        app.record_as_reporter(ALL_FLOW, &[
            ("ha-noi", end, "1000", "EXACT", june, None),
            ("dak-nong", end, "400", "EXACT", june, None),
            ("lam-dong", end, "200", "EXACT", june, None),
        ]).await;

        const RANKING: &str = "query($boundaries: Boundaries) {
          indicatorByAgency(indicator: \"test.online-share\", of: PROVINCES, day: \"2025-06-01\", boundaries: $boundaries) {
            entries { rank agency { code } computed { label value qualifier gap missingInputs } } } }";
        let entries = |data: &Value| data["indicatorByAgency"]["entries"].as_array().unwrap().clone();
        let as_recorded = entries(&app.data(RANKING, json!({ "boundaries": "AS_RECORDED" })).await);
        assert_eq!(as_recorded.len(), 63, "the provinces of June 2025");
        let top: Vec<_> = as_recorded[..3].iter().map(|e| (e["rank"].clone(), e["agency"]["code"].clone(), e["computed"]["value"].clone(), e["computed"]["qualifier"].clone())).collect();
        assert_eq!(top, [
            (json!(1), json!("ha-noi"), json!("30"), json!("EXACT")),
            // Equal values share a rank, whatever their qualifiers.
            (json!(2), json!("dak-nong"), json!("25"), json!("EXACT")),
            (json!(2), json!("lam-dong"), json!("25"), json!("MORE_THAN")),
        ]);
        assert_eq!(as_recorded[3]["computed"]["label"], "2025-06");
        let ninh_binh = as_recorded.iter().find(|e| e["agency"]["code"] == "ninh-binh").unwrap();
        assert_eq!((ninh_binh["rank"].clone(), ninh_binh["computed"]["missingInputs"].clone()), (Value::Null, json!([ALL_FLOW])));
        assert!(as_recorded[3..].iter().all(|e| e["rank"].is_null() && e["computed"]["gap"] == "MISSING_INPUT"));

        // In today's 34 units, Đắk Nông's counts join Lâm Đồng's: 150 or more of 600.
        let current = entries(&app.data(RANKING, json!({ "boundaries": "CURRENT" })).await);
        assert_eq!(current.len(), 34, "today's provinces");
        let lam_dong = current.iter().find(|e| e["agency"]["code"] == "lam-dong-2025").unwrap();
        assert_eq!((lam_dong["rank"].clone(), lam_dong["computed"]["value"].clone(), lam_dong["computed"]["qualifier"].clone()), (json!(2), json!("25"), json!("MORE_THAN")));
    }

    async fn an_indicator_is_compared_as_far_as_its_qualifiers_prove(app: TestApp) {
        two_counters(&app).await;
        let admin = app.key(Role::Admin, None).await;
        define(&app, &admin, definition("test.online-share", percent(ONLINE, ALL))).await;
        // February's "more than 30%" against January's 20%: certainly up, by more than 10 points.
        let february = compare(&app, "2021-02-01", "2021-02-28").await;
        assert_eq!((february["change"].clone(), february["changeQualifier"].clone(), february["direction"].clone()),
                   (json!("10"), json!("MORE_THAN"), json!("UP")));
        assert_eq!(february["relativeChange"], "0.5");
        assert_eq!(february["current"]["inputs"], json!([
            { "metric": { "code": ALL }, "value": "500", "qualifier": "EXACT" },
            { "metric": { "code": ONLINE }, "value": "150", "qualifier": "MORE_THAN" },
        ]));
        // March's "less than 30%" against February's "more than 30%": certainly down, though
        // both say 30.
        let march = compare(&app, "2021-03-01", "2021-03-31").await;
        assert_eq!((march["change"].clone(), march["changeQualifier"].clone(), march["direction"].clone()),
                   (json!("0"), json!("LESS_THAN"), json!("DOWN")));
        assert!(march["comparable"].as_bool().unwrap());
        // April has no figures: not comparable, and the reason names what is missing.
        let april = compare(&app, "2021-04-01", "2021-04-30").await;
        assert_eq!((april["comparable"].clone(), april["direction"].clone()), (json!(false), json!("UNDETERMINED")));
        assert!(april["reason"].as_str().unwrap().contains(ONLINE), "{april}");
        // The month under way is not over: never comparable.
        let open = app.data(COMPARE, json!({ "relative": "THIS_MONTH" })).await["compareIndicator"].clone();
        assert_eq!(open["comparable"], false, "{open}");
    }

    async fn the_rates_of_the_2021_targets_are_defined_over_their_counts(app: TestApp) {
        let data = app.data("{ indicators { code unit computes { code } versions { version validFrom expression recordedBy } } }", json!({})).await;
        let indicators = data["indicators"].as_array().unwrap();
        let rate = indicators.iter().find(|i| i["code"] == "level4-online-dossier-rate").expect("the online dossier rate");
        assert_eq!(rate["computes"]["code"], "public-service-portal.level4-online-dossier-rate");
        assert_eq!(rate["unit"], "PERCENT");
        assert_eq!(rate["versions"], json!([{
            "version": 1, "validFrom": null, "recordedBy": "seed",
            "expression": "100 × (e-government.level4-dossiers-online / e-government.level4-dossiers)",
        }]));
        let computed: Vec<_> = indicators.iter().filter_map(|i| i["computes"]["code"].as_str()).collect();
        assert_eq!(computed.len(), 3, "{data}");
    }
}

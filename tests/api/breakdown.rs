//! A metric by province or ministry: ranked, the missing named, totals by kind, and the 2025
//! mergers shown as recorded or composed into today's units.

use entity::values::{MetricKind, Unit};
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::on_both_databases;

const BREAKDOWN: &str = "query($metric: String!, $from: NaiveDate!, $to: NaiveDate!, $of: AgencyGroup!, $boundaries: Boundaries) {
  breakdown(metric: $metric, from: $from, to: $to, of: $of, boundaries: $boundaries) {
    expectedCount reportedCount totalRule total totalQualifier totalDenominator national { value qualifier }
    missing { code }
    entries { rank agency { code } value qualifier denominator share composedOf { agency { code } value } } } }";

async fn breakdown(app: &TestApp, metric: &str, from: &str, to: &str, boundaries: &str) -> Value {
    let variables = json!({ "metric": metric, "from": from, "to": to, "of": "PROVINCES", "boundaries": boundaries });
    app.data(BREAKDOWN, variables).await["breakdown"].clone()
}

fn entry<'a>(breakdown: &'a Value, code: &str) -> &'a Value {
    breakdown["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["agency"]["code"] == code)
        .unwrap_or_else(|| panic!("{code} in {breakdown}"))
}

fn codes(list: &Value, field: &str) -> Vec<String> {
    let mut codes: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            item[field]["code"]
                .as_str()
                .or(item["code"].as_str())
                .unwrap()
                .to_owned()
        })
        .collect();
    codes.sort();
    codes
}

const JUNE: &str = "2025-06-01T00:00:00+07:00";
const JULY: &str = "2025-07-01T00:00:00+07:00";

on_both_databases! {
    async fn a_breakdown_of_every_province_lists_each_with_its_own_figure_in_rank_order(app: TestApp) {
        let flow = "test.dossiers-filed-per-month";
        app.add_metric(flow, MetricKind::Flow, Unit::Dossiers).await;
        let empty = breakdown(&app, flow, "2025-06-01", "2025-06-30", "AS_RECORDED").await;
        let provinces = codes(&empty["missing"], "code");
        assert_eq!(provinces.len(), 63, "{empty}");
        // Each province its own value, 1000 to 1062, sent in no order of rank.
        let values: Vec<String> = (0..63).map(|n| (1000 + (n * 37) % 63).to_string()).collect();
        let figures: Vec<_> = provinces.iter().zip(&values)
            .map(|(code, value)| (code.as_str(), JULY, value.as_str(), "EXACT", Some(JUNE), None))
            .collect();
        app.record_as_reporter(flow, &figures).await;

        let june = breakdown(&app, flow, "2025-06-01", "2025-06-30", "AS_RECORDED").await;
        let entries = june["entries"].as_array().unwrap_or_else(|| panic!("{june}"));
        assert_eq!(entries.len(), 63);
        for (n, entry) in entries.iter().enumerate() {
            assert_eq!(entry["rank"], n + 1, "{entry}");
            assert_eq!(entry["value"], (1062 - n).to_string(), "{entry}");
            let code = entry["agency"]["code"].as_str().unwrap();
            let recorded = &values[provinces.iter().position(|p| p == code).unwrap()];
            assert_eq!(entry["value"], recorded.as_str(), "{code}'s own figure");
        }
    }

    async fn a_breakdown_ranks_the_units_names_the_missing_and_adds_a_flow(app: TestApp) {
        let flow = "test.dossiers-filed-per-month";
        app.add_metric(flow, MetricKind::Flow, Unit::Dossiers).await;
        app.record_as_reporter(flow, &[
            ("ha-noi", JULY, "300", "EXACT", Some(JUNE), None),
            ("dak-nong", JULY, "100", "EXACT", Some(JUNE), None),
            ("lam-dong", JULY, "100", "EXACT", Some(JUNE), None),
            ("binh-thuan", JULY, "50", "MORE_THAN", Some(JUNE), None),
            ("", JULY, "600", "ABOUT", Some(JUNE), None),
        ]).await;

        let june = breakdown(&app, flow, "2025-06-01", "2025-06-30", "AS_RECORDED").await;
        assert_eq!((june["expectedCount"].as_u64(), june["reportedCount"].as_u64()), (Some(63), Some(4)), "{june}");
        let missing = codes(&june["missing"], "");
        assert_eq!(missing.len(), 59);
        assert!(missing.contains(&"ninh-binh".to_owned()) && !missing.contains(&"ha-noi".to_owned()));
        let ranks: Vec<(String, u64)> = june["entries"].as_array().unwrap().iter()
            .map(|e| (e["agency"]["code"].as_str().unwrap().to_owned(), e["rank"].as_u64().unwrap()))
            .collect();
        assert_eq!(ranks, [("ha-noi".into(), 1), ("dak-nong".into(), 2), ("lam-dong".into(), 2), ("binh-thuan".into(), 4)], "a tie shares its rank");
        // Exact figures and one "more than": the total is "more than" 550.
        assert_eq!((june["total"].as_str(), june["totalQualifier"].as_str(), june["totalRule"].as_str()), (Some("550"), Some("MORE_THAN"), Some("SUM")));
        assert_eq!(entry(&june, "ha-noi")["share"], "0.545455");
        // The roll-up of 4 of 63 units beside the figure reported nationally.
        assert_eq!(june["national"], json!({ "value": "600", "qualifier": "ABOUT" }));

        // Today's units: the three provinces merged into Lâm Đồng count as one, made of them.
        let current = breakdown(&app, flow, "2025-06-01", "2025-06-30", "CURRENT").await;
        assert_eq!((current["expectedCount"].as_u64(), current["reportedCount"].as_u64()), (Some(34), Some(2)), "{current}");
        let merged = entry(&current, "lam-dong-2025");
        assert_eq!((merged["value"].as_str(), merged["qualifier"].as_str(), merged["rank"].as_u64()), (Some("250"), Some("MORE_THAN"), Some(2)));
        assert_eq!(codes(&merged["composedOf"], "agency"), ["binh-thuan", "dak-nong", "lam-dong"]);
        let parts: f64 = merged["composedOf"].as_array().unwrap().iter().map(|p| p["value"].as_str().unwrap().parse::<f64>().unwrap()).sum();
        assert_eq!(parts, 250.0, "the merged value is the sum of its parts");
        assert_eq!(current["total"], june["total"], "the same figures, other boundaries");

        // Or the units of any day: 30 June's are June's own, 1 July's are today's 34.
        let on_day = "query($metric: String!, $on: NaiveDate!) { breakdown(metric: $metric, from: \"2025-06-01\", to: \"2025-06-30\",
            of: PROVINCES, boundariesOn: $on) { boundaries boundariesOn expectedCount reportedCount } }";
        let before = app.data(on_day, json!({ "metric": flow, "on": "2025-06-30" })).await;
        assert_eq!(before["breakdown"], json!({ "boundaries": "CURRENT", "boundariesOn": "2025-06-30", "expectedCount": 63, "reportedCount": 4 }));
        let after = app.data(on_day, json!({ "metric": flow, "on": "2025-07-01" })).await;
        assert_eq!((after["breakdown"]["expectedCount"].as_u64(), after["breakdown"]["reportedCount"].as_u64()), (Some(34), Some(2)));

        // July: 34 units in force, and nothing reported yet.
        let july = breakdown(&app, flow, "2025-07-01", "2025-07-31", "AS_RECORDED").await;
        assert_eq!((july["expectedCount"].as_u64(), july["reportedCount"].as_u64()), (Some(34), Some(0)));
        assert!(july["total"].is_null(), "no data is not zero: {july}");
    }

    async fn ratios_add_numerators_and_denominators_and_bare_percentages_do_not_add(app: TestApp) {
        let ratio = "test.indicators-reported";
        app.add_metric(ratio, MetricKind::Ratio, Unit::Indicators).await;
        let end_of_june = "2025-06-30T00:00:00+07:00";
        app.record_as_reporter(ratio, &[
            ("dak-nong", end_of_june, "30", "EXACT", None, Some("50")),
            ("lam-dong", end_of_june, "10", "EXACT", None, Some("50")),
        ]).await;
        let current = breakdown(&app, ratio, "2025-06-01", "2025-06-30", "CURRENT").await;
        let merged = entry(&current, "lam-dong-2025");
        assert_eq!((merged["value"].as_str(), merged["denominator"].as_str()), (Some("40"), Some("100")), "{current}");
        assert_eq!((current["totalRule"].as_str(), current["totalDenominator"].as_str()), (Some("RATIO_OF_SUMS"), Some("100")));

        // A percentage without denominators has no total, and merged units cannot be composed.
        let rate = "public-service-portal.level4-online-dossier-rate";
        app.record_as_reporter(rate, &[
            ("dak-nong", end_of_june, "40", "EXACT", None, None),
            ("lam-dong", end_of_june, "20", "EXACT", None, None),
        ]).await;
        let as_recorded = breakdown(&app, rate, "2025-06-01", "2025-06-30", "AS_RECORDED").await;
        assert_eq!(as_recorded["totalRule"], "NOT_ADDITIVE");
        assert!(as_recorded["total"].is_null() && as_recorded["entries"][0]["share"].is_null(), "{as_recorded}");
        assert_eq!(entry(&as_recorded, "dak-nong")["rank"], 1);
        let variables = json!({ "metric": rate, "from": "2025-06-01", "to": "2025-06-30", "of": "PROVINCES", "boundaries": "CURRENT" });
        let body = app.graphql_with_language(BREAKDOWN, variables, Some("en")).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["argument"], "boundaries");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains("lam-dong-2025"), "{body}");
    }
}

const SERIES: &str = "query($metric: String!, $agency: String, $boundaries: Boundaries) {
  timeSeries(metric: $metric, agency: $agency, from: \"2025-06-01\", to: \"2025-07-31\", bucket: MONTH, boundaries: $boundaries) {
    points { label value qualifier denominator composedOf { agency { code } value denominator } } } }";

const BY_AGENCY: &str = "query($metric: String!, $boundaries: Boundaries) {
  timeSeriesByAgency(metric: $metric, of: PROVINCES, from: \"2025-06-01\", to: \"2025-07-31\", bucket: MONTH, boundaries: $boundaries) {
    agency { code } points { label value composedOf { agency { code } } } } }";

on_both_databases! {
    async fn a_series_across_the_merger_shows_the_unit_as_recorded_or_composed_of_its_parts(app: TestApp) {
        let flow = "test.dossiers-filed-per-month";
        app.add_metric(flow, MetricKind::Flow, Unit::Dossiers).await;
        app.record_as_reporter(flow, &[
            ("dak-nong", JULY, "100", "EXACT", Some(JUNE), None),
            ("lam-dong", JULY, "120", "EXACT", Some(JUNE), None),
            ("binh-thuan", JULY, "30", "EXACT", Some(JUNE), None),
            ("lam-dong-2025", "2025-08-01T00:00:00+07:00", "400", "EXACT", Some(JULY), None),
        ]).await;
        let recorded = app.data(SERIES, json!({ "metric": flow, "agency": "lam-dong-2025", "boundaries": "AS_RECORDED" })).await;
        let points = &recorded["timeSeries"]["points"];
        assert_eq!((points[0]["value"].clone(), points[1]["value"].clone()), (Value::Null, json!("400")), "{recorded}");

        let current = app.data(SERIES, json!({ "metric": flow, "agency": "lam-dong-2025", "boundaries": "CURRENT" })).await;
        let june = &current["timeSeries"]["points"][0];
        assert_eq!(june["value"], "250", "the merged value is the sum of its parts: {current}");
        assert_eq!(codes(&june["composedOf"], "agency"), ["binh-thuan", "dak-nong", "lam-dong"]);
        assert_eq!(current["timeSeries"]["points"][1]["value"], "400");

        // A ratio composes numerators and denominators.
        let ratio = "test.indicators-reported";
        app.add_metric(ratio, MetricKind::Ratio, Unit::Indicators).await;
        app.record_as_reporter(ratio, &[
            ("dak-nong", "2025-06-30T00:00:00+07:00", "30", "EXACT", None, Some("50")),
            ("lam-dong", "2025-06-30T00:00:00+07:00", "10", "EXACT", None, Some("50")),
        ]).await;
        let current = app.data(SERIES, json!({ "metric": ratio, "agency": "lam-dong-2025", "boundaries": "CURRENT" })).await;
        let june = &current["timeSeries"]["points"][0];
        assert_eq!((june["value"].as_str(), june["denominator"].as_str()), (Some("40"), Some("100")), "{current}");
    }

    async fn every_province_is_one_line_read_in_a_bounded_number_of_statements(app: TestApp) {
        let flow = "test.dossiers-filed-per-month";
        app.add_metric(flow, MetricKind::Flow, Unit::Dossiers).await;
        app.record_as_reporter(flow, &[
            ("dak-nong", JULY, "100", "EXACT", Some(JUNE), None),
            ("lam-dong", JULY, "120", "EXACT", Some(JUNE), None),
            ("ha-noi", JULY, "500", "EXACT", Some(JUNE), None),
            ("ha-noi", "2025-08-01T00:00:00+07:00", "510", "EXACT", Some(JULY), None),
        ]).await;
        // Warm the reference snapshot, then count what one request costs.
        app.data(BY_AGENCY, json!({ "metric": flow, "boundaries": "CURRENT" })).await;
        let before = app.statements();
        let current = app.data(BY_AGENCY, json!({ "metric": flow, "boundaries": "CURRENT" })).await;
        assert!(app.statements() - before <= 2, "{} statements for 34 lines", app.statements() - before);
        let lines = current["timeSeriesByAgency"].as_array().unwrap();
        assert_eq!(lines.len(), 34);
        let line = |code: &str| lines.iter().find(|l| l["agency"]["code"] == code).unwrap_or_else(|| panic!("{code}"));
        assert_eq!(line("lam-dong-2025")["points"][0]["value"], "220");
        assert_eq!(line("ha-noi")["points"][1]["value"], "510");
        assert!(line("ninh-binh-2025")["points"][0]["value"].is_null());

        // A counter's lines measure their first change from each unit's reading before the range.
        let counter = "test.services-connected";
        app.add_metric(counter, MetricKind::Cumulative, Unit::Services).await;
        app.record_as_reporter(counter, &[
            ("ha-noi", "2025-05-31T00:00:00+07:00", "100", "EXACT", None, None),
            ("ha-noi", "2025-06-30T00:00:00+07:00", "150", "EXACT", None, None),
            ("ha-noi", "2025-07-31T00:00:00+07:00", "190", "EXACT", None, None),
        ]).await;
        let changes = "query($metric: String!) { timeSeriesByAgency(metric: $metric, of: PROVINCES, from: \"2025-06-01\", to: \"2025-07-31\") {
            agency { code } points { value change } } }";
        app.data(changes, json!({ "metric": counter })).await;
        let before = app.statements();
        let lines = app.data(changes, json!({ "metric": counter })).await;
        assert!(app.statements() - before <= 2, "{} statements for a counter's lines", app.statements() - before);
        let ha_noi = lines["timeSeriesByAgency"].as_array().unwrap().iter().find(|l| l["agency"]["code"] == "ha-noi").unwrap().clone();
        assert_eq!(ha_noi["points"], json!([{ "value": "150", "change": "50" }, { "value": "190", "change": "40" }]));

        // As recorded: the 63 units of June and the 23 new ones of July, each with its own figures.
        let recorded = app.data(BY_AGENCY, json!({ "metric": flow, "boundaries": "AS_RECORDED" })).await;
        let lines = recorded["timeSeriesByAgency"].as_array().unwrap();
        assert_eq!(lines.len(), 63 + 23);
        let dak_nong = lines.iter().find(|l| l["agency"]["code"] == "dak-nong").unwrap();
        assert_eq!(dak_nong["points"][0]["value"], "100");
    }
}

const ONE_MONTH: &str = "query($metric: String!, $boundaries: Boundaries) {
  timeSeriesByAgency(metric: $metric, of: PROVINCES, from: \"2025-06-01\", to: \"2025-06-30\", bucket: MONTH, boundaries: $boundaries) {
    agency { code } points { value qualifier composedOf { agency { code } } } } }";

on_both_databases! {
    async fn one_month_of_a_flow_for_every_province_sums_its_readings_as_two_months_do(app: TestApp) {
        let flow = "test.dossiers-filed-per-month";
        app.add_metric(flow, MetricKind::Flow, Unit::Dossiers).await;
        let mid_june = "2025-06-16T00:00:00+07:00";
        app.record_as_reporter(flow, &[
            ("dak-nong", mid_june, "100", "EXACT", Some(JUNE), None),
            ("dak-nong", JULY, "50", "MORE_THAN", Some(mid_june), None),
            ("lam-dong", JULY, "120", "EXACT", Some(JUNE), None),
            ("ha-noi", mid_june, "500", "ABOUT", Some(JUNE), None),
            ("ha-noi", JULY, "10", "EXACT", Some(mid_june), None),
            ("ha-noi", "2025-08-01T00:00:00+07:00", "30", "EXACT", Some(JULY), None),
        ]).await;
        for boundaries in ["AS_RECORDED", "CURRENT"] {
            let variables = json!({ "metric": flow, "boundaries": boundaries });
            let june = app.data(ONE_MONTH, variables.clone()).await;
            let two_months = app.data(BY_AGENCY, variables).await;
            let june = june["timeSeriesByAgency"].as_array().unwrap();
            let two_months = two_months["timeSeriesByAgency"].as_array().unwrap();
            assert!(!june.is_empty());
            for one in june {
                let both = two_months.iter().find(|l| l["agency"] == one["agency"]).unwrap_or_else(|| panic!("{one}"));
                assert_eq!(one["points"][0]["value"], both["points"][0]["value"], "{boundaries}: {one} {both}");
                assert_eq!(one["points"][0]["composedOf"], both["points"][0]["composedOf"], "{boundaries}");
            }
            let line = |code: &str| june.iter().find(|l| l["agency"]["code"] == code).unwrap_or_else(|| panic!("{code}"))["points"][0].clone();
            if boundaries == "AS_RECORDED" {
                assert_eq!((line("dak-nong")["value"].clone(), line("dak-nong")["qualifier"].clone()), (json!("150"), json!("MORE_THAN")));
                assert_eq!((line("ha-noi")["value"].clone(), line("ha-noi")["qualifier"].clone()), (json!("510"), json!("ABOUT")), "July's figure is not June's");
                assert!(line("binh-thuan")["value"].is_null());
            } else {
                let merged = line("lam-dong-2025");
                assert_eq!((merged["value"].clone(), merged["qualifier"].clone()), (json!("270"), json!("MORE_THAN")), "{merged}");
                assert_eq!(codes(&merged["composedOf"], "agency"), ["dak-nong", "lam-dong"]);
            }
        }

        // A reading that runs past the month cannot be put in one month.
        let late = "test.dossiers-filed-late";
        app.add_metric(late, MetricKind::Flow, Unit::Dossiers).await;
        app.record_as_reporter(late, &[("ha-noi", "2025-07-10T00:00:00+07:00", "5", "EXACT", Some("2025-06-20T00:00:00+07:00"), None)]).await;
        let body = app.graphql(ONE_MONTH, json!({ "metric": late, "boundaries": "AS_RECORDED" })).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["argument"], "bucket", "{body}");
    }
}

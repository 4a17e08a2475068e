//! A metric against an earlier period, as its kind and qualifiers allow.

use entity::values::{MetricKind, Qualifier, Unit};
use serde_json::{json, Value};

use crate::helpers::{Reading, TestApp};
use crate::on_both_databases;

const COMPARE: &str = "query($metric: String!, $current: PeriodInput!, $baseline: BaselineInput!) {
  compare(metric: $metric, current: $current, baseline: $baseline) {
    current { from to open value qualifier } baseline { from to value qualifier }
    change changeQualifier relativeChange direction comparable reason } }";

async fn compare(app: &TestApp, metric: &str, current: Value, baseline: Value) -> Value {
    let body = app
        .graphql_with_language(
            COMPARE,
            json!({ "metric": metric, "current": current, "baseline": baseline }),
            Some("en"),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["compare"].clone()
}

on_both_databases! {
    async fn a_counter_is_compared_by_its_growth_and_bounds_decide_the_direction(app: TestApp) {
        let counter = "test.documents-exchanged";
        app.add_metric(counter, MetricKind::Cumulative, Unit::Documents).await;
        app.store_reading(Reading::at(counter, "2024-12-31T00:00:00+07:00", "1000")).await;
        app.store_reading(Reading::at(counter, "2025-06-30T00:00:00+07:00", "1500")).await;
        app.store_reading(Reading::at(counter, "2025-12-31T00:00:00+07:00", "2200").qualified(Qualifier::MoreThan)).await;
        let second_half = json!({ "from": "2025-07-01", "to": "2025-12-31" });
        let result = compare(&app, counter, second_half, json!({ "relative": "PREVIOUS_PERIOD" })).await;
        // Growth: more than 700 in the second half, exactly 500 in the first (six whole months).
        assert_eq!(result["baseline"], json!({ "from": "2025-01-01", "to": "2025-06-30", "value": "500", "qualifier": "EXACT" }));
        assert_eq!((result["current"]["value"].as_str(), result["current"]["qualifier"].as_str()), (Some("700"), Some("MORE_THAN")));
        assert_eq!((result["change"].as_str(), result["changeQualifier"].as_str()), (Some("200"), Some("MORE_THAN")));
        assert_eq!(result["relativeChange"], "0.4");
        assert_eq!((result["direction"].as_str(), result["comparable"].as_bool()), (Some("UP"), Some(true)), "a certain rise: {result}");

        // The first half of 2025 against the second of 2024: the counter has a reading there, but
        // none before it to measure its growth from, and the answer says so.
        let first_half = json!({ "from": "2025-01-01", "to": "2025-06-30" });
        let result = compare(&app, counter, first_half, json!({ "relative": "PREVIOUS_PERIOD" })).await;
        assert_eq!((result["comparable"].as_bool(), result["direction"].as_str()), (Some(false), Some("UNDETERMINED")));
        assert!(result["baseline"]["value"].is_null());
        assert!(result["reason"].as_str().unwrap().contains("nothing was recorded before 2024-07-01"), "{result}");
    }

    async fn estimates_against_estimates_leave_the_direction_open_and_flows_are_summed(app: TestApp) {
        let savings = "document-exchange-axis.annual-savings";
        app.store_reading(Reading::at(savings, "2022-06-30T00:00:00+07:00", "1300").qualified(Qualifier::About)).await;
        app.store_reading(Reading::at(savings, "2023-06-30T00:00:00+07:00", "1250").qualified(Qualifier::About)).await;
        let result = compare(&app, savings, json!({ "from": "2023-01-01", "to": "2023-12-31" }), json!({ "relative": "SAME_PERIOD_LAST_YEAR" })).await;
        assert_eq!((result["current"]["value"].as_str(), result["baseline"]["value"].as_str()), (Some("1250"), Some("1300")), "a yearly rate's last estimate, never a sum");
        assert_eq!((result["change"].as_str(), result["direction"].as_str()), (Some("-50"), Some("UNDETERMINED")), "{result}");

        let flow = "test.dossiers-filed-per-month";
        app.add_metric(flow, MetricKind::Flow, Unit::Dossiers).await;
        for (start, end, value) in [
            ("2025-01-01", "2025-02-01", "100"), ("2025-02-01", "2025-03-01", "150"),
            ("2025-04-01", "2025-05-01", "90"), ("2025-05-01", "2025-06-01", "80"),
        ] {
            app.store_reading(Reading::at(flow, &format!("{end}T00:00:00+07:00"), value).since(&format!("{start}T00:00:00+07:00"))).await;
        }
        let result = compare(&app, flow, json!({ "relative": "LAST_QUARTER", "relativeTo": "2025-07-15" }), json!({ "relative": "PREVIOUS_PERIOD" })).await;
        assert_eq!((result["current"]["from"].as_str(), result["current"]["value"].as_str()), (Some("2025-04-01"), Some("170")));
        assert_eq!((result["baseline"]["from"].as_str(), result["baseline"]["value"].as_str()), (Some("2025-01-01"), Some("250")));
        assert_eq!(result["direction"], "DOWN");
    }

    async fn an_open_period_is_not_comparable_and_says_why(app: TestApp) {
        let result = compare(&app, "document-exchange-axis.annual-savings", json!({ "relative": "THIS_YEAR" }), json!({ "relative": "SAME_PERIOD_LAST_YEAR" })).await;
        assert_eq!((result["current"]["open"].as_bool(), result["comparable"].as_bool()), (Some(true), Some(false)));
        assert_eq!(result["direction"], "UNDETERMINED");
        assert!(result["reason"].as_str().unwrap().contains("not over yet"), "{result}");

        let body = app
            .graphql_with_language(COMPARE, json!({ "metric": "document-exchange-axis.annual-savings",
                "current": { "relative": "THIS_YEAR", "from": "2025-01-01", "to": "2025-12-31" },
                "baseline": { "relative": "PREVIOUS_PERIOD" } }), Some("en"))
            .await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["argument"], "current");
    }
}

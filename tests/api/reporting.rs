//! Who reported for a period, on time or late: judged by the first revision's recording time.

use chrono::{Datelike, Duration, Months, NaiveDate, Utc};
use entity::values::{MetricKind, ReportingPeriod, Role, Unit};
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::on_both_databases;

const METRIC: &str = "test.services-connected";
const RECORD: &str = "mutation Record($input: [ObservationInput!]!) { recordObservations(input: $input) { observations { id } } }";
const STATUS: &str = "query($metric: String!, $period: NaiveDate!) {
  reportingStatus(metric: $metric, period: $period, of: PROVINCES) {
    firstDay lastDay due expectedCount onTimeCount lateCount missingCount
    reports { agency { code } status firstRecordedAt } } }";

/// The first day of the month `back` months before this one, in Vietnam.
fn month_start(back: u32) -> NaiveDate {
    let today = Utc::now()
        .with_timezone(&chrono_tz::Asia::Ho_Chi_Minh)
        .date_naive();
    today.with_day(1).unwrap() - Months::new(back)
}

/// Reports `value` for `agency` for the month starting `first`, dated its last day.
async fn report(app: &TestApp, key: &str, agency: &str, first: NaiveDate, value: &str) -> Value {
    let last = first + Months::new(1) - Duration::days(1);
    let item = json!({ "metric": METRIC, "agency": agency, "observedAt": format!("{last}T00:00:00+07:00"),
                       "value": value, "source": "article-001", "quote": "báo cáo tháng" });
    let (_, body) = app
        .graphql_as(key, RECORD, json!({ "input": [item] }))
        .await;
    body["data"]["recordObservations"]["observations"][0]["id"].clone()
}

fn status_of<'a>(status: &'a Value, code: &str) -> &'a Value {
    status["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["agency"]["code"] == code)
        .unwrap_or_else(|| panic!("{code}"))
}

on_both_databases! {
    async fn reports_are_on_time_late_or_missing_by_their_first_revision(app: TestApp) {
        // Monthly, due 40 days after the month: last month's reports are still on time today,
        // those of three months ago are late.
        app.add_reported_metric(METRIC, MetricKind::Level, Unit::Services, Some((ReportingPeriod::Month, 40))).await;
        let reporter = app.key(Role::Reporter, None).await;
        let auditor = app.key(Role::Auditor, None).await;
        let last_month = month_start(1);
        report(&app, &reporter, "ha-noi", last_month, "120").await;
        let corrected = report(&app, &reporter, "can-tho-2025", last_month, "80").await;
        let correction = json!({ "input": { "id": corrected, "expectedRevision": 1, "value": "85",
            "reason": "a ward was missed", "source": "article-001", "quote": "báo cáo tháng" } });
        let (_, body) = app.graphql_as(&auditor, "mutation C($input: CorrectionInput!) { correctObservation(input: $input) { revision } }", correction).await;
        assert_eq!(body["data"]["correctObservation"]["revision"], 2, "{body}");
        let retracted = report(&app, &reporter, "hue", last_month, "60").await;
        let (_, body) = app.graphql_as(&auditor, "mutation R($id: ID!) { retractObservation(id: $id, reason: \"sent twice\") { retracted } }", json!({ "id": retracted })).await;
        assert_eq!(body["data"]["retractObservation"]["retracted"], true, "{body}");

        let status = app.data(STATUS, json!({ "metric": METRIC, "period": last_month.to_string() })).await["reportingStatus"].clone();
        assert_eq!(status["firstDay"], last_month.to_string());
        assert_eq!(status["expectedCount"], 34, "{status}");
        assert_eq!((status["onTimeCount"].as_u64(), status["lateCount"].as_u64(), status["missingCount"].as_u64()), (Some(2), Some(0), Some(32)));
        assert_eq!(status_of(&status, "ha-noi")["status"], "ON_TIME");
        assert_eq!(status_of(&status, "can-tho-2025")["status"], "ON_TIME", "a correction does not make a report late");
        assert_eq!(status_of(&status, "hue")["status"], "MISSING", "a retracted report is missing");
        assert!(status_of(&status, "hue")["firstRecordedAt"].is_null());

        let long_ago = month_start(3);
        report(&app, &reporter, "ha-noi", long_ago, "110").await;
        let status = app.data(STATUS, json!({ "metric": METRIC, "period": long_ago.to_string() })).await["reportingStatus"].clone();
        assert_eq!(status_of(&status, "ha-noi")["status"], "LATE", "{status}");
        assert_eq!(status["lateCount"], 1);

        // A metric without a calendar has no reporting status.
        let body = app.graphql_with_language(STATUS, json!({ "metric": "public-service-portal.online-services", "period": "2025-06-01" }), Some("en")).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["argument"], "metric");
    }

    async fn the_units_expected_are_those_in_force_during_the_period(app: TestApp) {
        app.add_reported_metric(METRIC, MetricKind::Level, Unit::Services, Some((ReportingPeriod::Quarter, 30))).await;
        for (day, expected) in [("2025-05-15", 63), ("2025-08-15", 34)] {
            let status = app.data(STATUS, json!({ "metric": METRIC, "period": day })).await["reportingStatus"].clone();
            assert_eq!(status["expectedCount"], expected, "{day}: {status}");
            assert_eq!(status["missingCount"], expected);
        }
        let q2 = app.data(STATUS, json!({ "metric": METRIC, "period": "2025-05-15" })).await["reportingStatus"].clone();
        assert_eq!((q2["firstDay"].as_str(), q2["lastDay"].as_str()), (Some("2025-04-01"), Some("2025-06-30")));
        assert_eq!(q2["due"], "2025-07-30T17:00:00+00:00", "30 days after the quarter, midnight in Vietnam");
    }
}

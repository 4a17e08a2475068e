use entity::values::{MetricKind, Unit};
use serde_json::{json, Value};

use crate::helpers::{Reading, TestApp};
use crate::on_both_databases;

const SERIES: &str = "query Series($metric: String!, $from: NaiveDate!, $to: NaiveDate!, $bucket: TimeBucket!, $timeZone: String! = \"Asia/Ho_Chi_Minh\") {
  timeSeries(metric: $metric, from: $from, to: $to, bucket: $bucket, timeZone: $timeZone) {
    bucket timeZone aggregation
    points { label start end isOpen isEmpty value qualifier denominator change changeQualifier observationCount }
  }
}";

async fn series(app: &TestApp, metric: &str, from: &str, to: &str, bucket: &str) -> Vec<Value> {
    let data = app
        .data(
            SERIES,
            json!({ "metric": metric, "from": from, "to": to, "bucket": bucket }),
        )
        .await;
    data["timeSeries"]["points"].as_array().unwrap().clone()
}

fn labels(points: &[Value]) -> Vec<&str> {
    points
        .iter()
        .map(|p| p["label"].as_str().unwrap())
        .collect()
}

const DOCUMENTS: &str = "document-exchange-axis.documents-exchanged";

on_both_databases! {
    async fn a_counter_gives_its_last_reading_and_the_growth_since_the_one_before(app: TestApp) {
        let points = series(&app, DOCUMENTS, "2020-10-15", "2021-02-01", "MONTH").await;
        assert_eq!(labels(&points), ["2020-10", "2020-11", "2020-12", "2021-01", "2021-02"]);
        assert_eq!(points[2]["value"], "3700000");
        assert_eq!(points[2]["qualifier"], "MORE_THAN");
        assert!(points[2]["change"].is_null(), "no earlier reading to grow from");
        for empty in [0, 1, 3, 4] {
            assert_eq!(points[empty]["isEmpty"], true);
            assert!(points[empty]["value"].is_null());
            assert_eq!(points[empty]["observationCount"], 0);
        }
        assert!(points.iter().all(|p| p["isOpen"] == false));

        app.store_reading(Reading::at(DOCUMENTS, "2021-02-10T00:00:00+07:00", "4000000")).await;
        app.store_reading(Reading::at(DOCUMENTS, "2021-02-20T00:00:00+07:00", "4100000")).await;
        let points = series(&app, DOCUMENTS, "2021-01-01", "2021-02-28", "MONTH").await;
        assert_eq!(labels(&points), ["2021-01", "2021-02"]);
        let february = &points[1];
        // The last reading, not the sum of the two.
        assert_eq!(february["value"], "4100000");
        assert_eq!(february["observationCount"], 2);
        // Growth since the December reading, which lies before the window.
        assert_eq!(february["change"], "400000");
        // "More than 3.7 million" in December to an exact count: it grew by less than 400,000.
        assert_eq!(february["changeQualifier"], "LESS_THAN");
    }

    async fn a_flow_is_summed_per_bucket_and_never_split(app: TestApp) {
        let flow = "test.dossiers-filed-per-month";
        app.add_metric(flow, MetricKind::Flow, Unit::Vnd).await;
        for (start, end, value) in [
            ("2021-01-01T00:00:00+07:00", "2021-02-01T00:00:00+07:00", "100"),
            ("2021-02-01T00:00:00+07:00", "2021-03-01T00:00:00+07:00", "150.5"),
            ("2021-03-01T00:00:00+07:00", "2021-04-01T00:00:00+07:00", "200"),
        ] {
            app.store_reading(Reading::at(flow, end, value).since(start)).await;
        }
        let months = series(&app, flow, "2021-01-01", "2021-04-30", "MONTH").await;
        let values: Vec<&Value> = months.iter().map(|p| &p["value"]).collect();
        assert_eq!(values, [&json!("100"), &json!("150.5"), &json!("200"), &Value::Null]);
        let quarters = series(&app, flow, "2021-01-01", "2021-06-30", "QUARTER").await;
        assert_eq!(labels(&quarters), ["2021-Q1", "2021-Q2"]);
        assert_eq!(quarters[0]["value"], "450.5");
        assert_eq!(quarters[0]["observationCount"], 3);

        let body = app
            .graphql(SERIES, json!({ "metric": flow, "from": "2021-01-01", "to": "2021-01-31", "bucket": "DAY" }))
            .await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains("thô hơn"), "{body}");
    }

    async fn a_level_takes_its_last_reading_and_is_never_summed(app: TestApp) {
        let services = "public-service-portal.online-services";
        app.store_reading(Reading::at(services, "2021-01-10T00:00:00+07:00", "2700")).await;
        app.store_reading(Reading::at(services, "2021-01-20T00:00:00+07:00", "2800")).await;
        let points = series(&app, services, "2021-01-01", "2021-01-31", "MONTH").await;
        assert_eq!(points[0]["value"], "2800");
        assert_eq!(points[0]["qualifier"], "EXACT");
        assert_eq!(points[0]["observationCount"], 2);
        assert!(points[0]["change"].is_null());
    }

    async fn yearly_savings_estimates_are_not_added_up(app: TestApp) {
        let savings = "document-exchange-axis.annual-savings";
        let points = series(&app, savings, "2021-01-01", "2021-12-31", "YEAR").await;
        assert_eq!(points[0]["value"], "1200");
        assert_eq!(points[0]["qualifier"], "ABOUT");
        app.store_reading(Reading::at(savings, "2021-03-01T00:00:00+07:00", "1300")).await;
        let points = series(&app, savings, "2021-01-01", "2021-12-31", "YEAR").await;
        assert_eq!(points[0]["value"], "1300", "the newer estimate, not 2500");
        let data = app
            .data(SERIES, json!({ "metric": savings, "from": "2021-01-01", "to": "2021-01-01", "bucket": "YEAR" }))
            .await;
        assert!(data["timeSeries"]["aggregation"].as_str().unwrap().contains("không bao giờ cộng"), "Vietnamese by default: {data}");
        let english = app
            .graphql_with_language(SERIES, json!({ "metric": savings, "from": "2021-01-01", "to": "2021-01-01", "bucket": "YEAR" }), Some("en-GB,en;q=0.9"))
            .await;
        assert!(english["data"]["timeSeries"]["aggregation"].as_str().unwrap().contains("never summed"), "{english}");
    }

    async fn a_ratio_keeps_its_denominator(app: TestApp) {
        let points = series(&app, "reporting-system.indicators-connected", "2021-01-01", "2021-03-31", "QUARTER").await;
        assert_eq!(points[0]["value"], "106");
        assert_eq!(points[0]["denominator"], "200");
    }

    async fn the_bucket_in_progress_is_open(app: TestApp) {
        let today = chrono::Utc::now().date_naive().to_string();
        let points = series(&app, DOCUMENTS, "2020-01-01", &today, "YEAR").await;
        let last = points.last().unwrap();
        assert_eq!(last["isOpen"], true);
        assert_eq!(points[0]["isOpen"], false);
        assert_eq!(points[0]["label"], "2020");
        assert_eq!(points[0]["value"], "3700000");
    }

    async fn buckets_follow_the_requested_time_zone(app: TestApp) {
        let query = |zone: &'static str| {
            let app = &app;
            async move {
                let data = app
                    .data(SERIES, json!({ "metric": DOCUMENTS, "from": "2020-12-24", "to": "2020-12-25", "bucket": "DAY", "timeZone": zone }))
                    .await;
                assert_eq!(data["timeSeries"]["timeZone"], zone);
                data["timeSeries"]["points"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|p| p["isEmpty"] == false)
                    .map(|p| p["label"].as_str().unwrap().to_owned())
            }
        };
        // 25/12/2020 in Hà Nội began at 17:00 UTC on the 24th.
        assert_eq!(query("Asia/Ho_Chi_Minh").await.as_deref(), Some("2020-12-25"));
        assert_eq!(query("UTC").await.as_deref(), Some("2020-12-24"));
    }

    async fn bad_series_arguments_are_refused(app: TestApp) {
        for (variables, argument) in [
            (json!({ "metric": DOCUMENTS, "from": "2021-01-01", "to": "2020-01-01", "bucket": "MONTH" }), "to"),
            (json!({ "metric": DOCUMENTS, "from": "2020-01-01", "to": "2021-01-01", "bucket": "MONTH", "timeZone": "Mars/Olympus" }), "timeZone"),
            (json!({ "metric": DOCUMENTS, "from": "1900-01-01", "to": "2100-01-01", "bucket": "DAY" }), "bucket"),
        ] {
            let body = app.graphql(SERIES, variables.clone()).await;
            let error = &body["errors"][0];
            assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{variables}: {body}");
            assert_eq!(error["extensions"]["argument"], argument, "{variables}");
        }
    }
}

on_both_databases! {
    async fn a_chart_without_readings_reads_one_per_bucket_and_answers_the_same(app: TestApp) {
        let generated = app.command(&["demo-data", "--rows", "2300", "--seed", "11"]);
        assert!(generated.status.success(), "{}", String::from_utf8_lossy(&generated.stderr));
        let services = "public-service-portal.online-services";
        app.store_reading(Reading::at(services, "2021-01-10T00:00:00+07:00", "2700")).await;
        app.store_reading(Reading::at(services, "2021-01-20T00:00:00+07:00", "2800")).await;
        app.store_reading(Reading::at(services, "2021-03-05T00:00:00+07:00", "2900")).await;
        let query = |fields: &str| {
            format!(
                "query($metric: String!, $agency: String, $from: NaiveDate!, $to: NaiveDate!, $bucket: TimeBucket!) {{
                   timeSeries(metric: $metric, agency: $agency, includeSynthetic: true, from: $from, to: $to, bucket: $bucket) {{
                     points {{ label isEmpty value qualifier denominator change changeQualifier {fields} }} }} }}"
            )
        };
        let cases = [
            (DOCUMENTS, Some("demo-unit-0001"), "2019-01-01", "2021-12-31", "MONTH"),
            (DOCUMENTS, Some("demo-unit-0001"), "2019-03-10", "2019-06-30", "WEEK"),
            (DOCUMENTS, Some("demo-unit-0001"), "2020-12-20", "2021-01-10", "DAY"),
            (DOCUMENTS, None, "2019-01-01", "2021-12-31", "QUARTER"),
            (services, None, "2020-12-01", "2021-04-30", "MONTH"),
            ("reporting-system.indicators-connected", None, "2019-01-01", "2021-12-31", "YEAR"),
        ];
        for (metric, agency, from, to, bucket) in cases {
            let variables = json!({ "metric": metric, "agency": agency, "from": from, "to": to, "bucket": bucket });
            let light = app.data(&query(""), variables.clone()).await;
            let full = app.data(&query("observationCount"), variables).await;
            let full_points: Vec<Value> = full["timeSeries"]["points"]
                .as_array()
                .unwrap()
                .iter()
                .map(|point| {
                    let mut point = point.clone();
                    point.as_object_mut().unwrap().remove("observationCount");
                    point
                })
                .collect();
            let light_points = light["timeSeries"]["points"].as_array().unwrap();
            assert!(light_points.iter().any(|p| !p["value"].is_null()), "{metric} {bucket}: some values");
            assert_eq!(light_points, &full_points, "{metric} {agency:?} {bucket}");
        }

        // The light answer really comes without the readings: values, but no rows behind them.
        let request = api::service::series::SeriesRequest {
            metric: DOCUMENTS.to_owned(),
            agency: Some("demo-unit-0001".to_owned()),
            include_synthetic: true,
            from: "2019-01-01".parse().unwrap(),
            to: "2019-12-31".parse().unwrap(),
            bucket: api::service::series::TimeBucket::Month,
            time_zone: chrono_tz::Asia::Ho_Chi_Minh,
            now: chrono::Utc::now(),
            as_of: None,
            with_readings: false,
            boundaries: api::service::breakdown::Boundaries::AsRecorded,
        };
        let reference = api::service::reference::ReferenceCache::new(
            app.db.clone(),
            api::service::live::LiveFeed::start(app.db.clone())
                .await
                .seen_head(),
        );
        let light = api::service::series::time_series(&app.db, &reference, &request)
            .await
            .unwrap();
        assert!(light.points.iter().all(|p| p.value.is_some() && p.observations.is_empty()));
    }
}

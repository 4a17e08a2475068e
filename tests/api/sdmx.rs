//! Series and breakdowns in SDMX-CSV, read back as a statistical system would.

use entity::values::{MetricKind, Role, Unit};
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::on_both_databases;

const HEADER: [&str; 9] = [
    "DATAFLOW",
    "REF_AREA",
    "INDICATOR",
    "TIME_PERIOD",
    "OBS_VALUE",
    "OBS_STATUS",
    "OBS_QUALIFIER",
    "UNIT_MEASURE",
    "UNIT_MULT",
];

/// The status, content type and rows (header first) of an export.
async fn export(app: &TestApp, path: &str) -> (u16, String, Vec<Vec<String>>) {
    let (status, media, text) = app.get_text(path).await;
    let rows = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (status, media, rows)
}

on_both_databases! {
    async fn a_series_is_exported_with_its_qualifiers_as_sdmx_csv(app: TestApp) {
        let (status, media, rows) = export(&app, "/export/series.sdmx.csv?metric=document-exchange-axis.documents-exchanged&from=2020-01-01&to=2020-12-31&bucket=QUARTER").await;
        assert_eq!(status, 200, "{rows:?}");
        assert!(media.starts_with("application/vnd.sdmx.data+csv; version=1.0.0"), "{media}");
        assert_eq!(rows[0], HEADER);
        // "More than 3.7 million": not the true value, so estimated, and the bound says which way.
        assert_eq!(rows[1..], [vec!["EGOVKPI:DF_KPI(1.0)", "VN", "document-exchange-axis.documents-exchanged", "2020-Q4", "3700000", "E", "MORE_THAN", "DOCUMENTS", "0"]]);
    }

    async fn a_breakdown_is_exported_one_row_per_unit(app: TestApp) {
        let flow = "test.dossiers-filed-per-month";
        app.add_metric(flow, MetricKind::Flow, Unit::Dossiers).await;
        let reporter = app.key(Role::Reporter, None).await;
        let item = |agency: &str, value: &str| json!({ "metric": flow, "agency": agency, "observedAt": "2025-07-01T00:00:00+07:00",
            "periodStart": "2025-06-01T00:00:00+07:00", "value": value, "source": "article-001", "quote": "báo cáo" });
        let (_, body) = app
            .graphql_as(&reporter, "mutation($input: [ObservationInput!]!) { recordObservations(input: $input) { checked } }",
                json!({ "input": [item("ha-noi", "300"), item("dak-nong", "100")] }))
            .await;
        assert_eq!(body["data"]["recordObservations"]["checked"], 2, "{body}");
        let (status, _, rows) = export(&app, &format!("/export/breakdown.sdmx.csv?metric={flow}&from=2025-06-01&to=2025-06-30&of=PROVINCES")).await;
        assert_eq!(status, 200, "{rows:?}");
        let areas: Vec<(&str, &str, &str, &str)> = rows[1..].iter().map(|r| (r[1].as_str(), r[3].as_str(), r[4].as_str(), r[5].as_str())).collect();
        assert_eq!(areas, [("ha-noi", "2025-06", "300", "A"), ("dak-nong", "2025-06", "100", "A")], "ranked, exact");

        // Refusals are coded, as everywhere.
        let response = app.get("/export/breakdown.sdmx.csv?metric=x&from=2025-06-01").await;
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST", "{body}");
        let response = app.get("/export/series.sdmx.csv?metric=nope&from=2025-01-01&to=2025-12-31").await;
        assert_eq!(response.status(), 404);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["argument"], "metric", "{body}");
    }
}

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

/// What pysdmx, a published SDMX reader, reads in an export: for each dataset its structure and
/// its rows, every cell as text. The reader is installed by the test command (`scripts/test`).
fn read_with_pysdmx(csv: &str) -> Value {
    const READ: &str = "import json, sys\n\
from pysdmx.io import read_sdmx\n\
message = read_sdmx(sys.stdin.read())\n\
print(json.dumps([{'structure': str(d.short_urn), 'columns': list(d.data.columns),\n\
  'rows': d.data.astype(str).values.tolist()} for d in message.data]))\n";
    let reader = std::env::var("EGOV_KPI_SDMX_READER")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target/sdmx-reader").to_owned());
    let python = format!("{reader}/bin/python");
    let mut child = std::process::Command::new(&python)
        .args(["-c", READ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {python} ({e}): run scripts/test, which installs pysdmx")
        });
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(csv.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "pysdmx refused the export: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

on_both_databases! {
    async fn an_export_is_read_back_by_a_published_sdmx_reader(app: TestApp) {
        let (status, _, series) = app.get_text("/export/series.sdmx.csv?metric=document-exchange-axis.documents-exchanged&from=2019-01-01&to=2020-12-31&bucket=YEAR").await;
        assert_eq!(status, 200);
        let read = read_with_pysdmx(&series);
        assert_eq!(read.as_array().unwrap().len(), 1, "one dataset: {read}");
        assert_eq!(read[0]["structure"], "Dataflow=EGOVKPI:DF_KPI(1.0)");
        assert_eq!(read[0]["columns"], json!(HEADER[1..]));
        // The reader sees each year, the exact value and the qualifier as its status.
        let rows: Vec<Vec<String>> = serde_json::from_value(read[0]["rows"].clone()).unwrap();
        let ours: Vec<Vec<String>> = series.lines().skip(1).map(|line| line.split(',').skip(1).map(str::to_owned).collect()).collect();
        assert_eq!(rows, ours);
        assert!(rows.iter().any(|r| r[2] == "2020" && r[3] == "3700000" && r[4] == "E" && r[5] == "MORE_THAN"), "{rows:?}");
    }

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

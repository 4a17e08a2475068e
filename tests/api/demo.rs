//! Synthetic history: clearly marked, kept out of reported answers, and realistic.

use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::helpers::seeded_figures;
use crate::on_both_databases;

const DOCUMENTS: &str = "document-exchange-axis.documents-exchanged";

on_both_databases! {
    async fn demo_data_is_marked_synthetic_and_its_counters_never_decrease(app: TestApp) {
        let refused = app.command(&["demo-data", "--rows", "10000000000000"]);
        assert!(!refused.status.success());
        assert!(String::from_utf8_lossy(&refused.stderr).contains("generate from 1 to"));
        let generated = app.command(&["demo-data", "--rows", "3000", "--seed", "7"]);
        assert!(generated.status.success(), "{}", String::from_utf8_lossy(&generated.stderr));
        assert!(String::from_utf8_lossy(&generated.stdout).contains("generated 3000 synthetic observations"));
        // Generated rows are sealed by the audit chain like recorded ones.
        assert!(app.command(&["audit", "checkpoint"]).status.success());
        let verified = app.command(&["audit", "verify"]);
        let report = String::from_utf8_lossy(&verified.stdout);
        let revisions = format!("{} revisions", 3000 + seeded_figures());
        assert!(verified.status.success() && report.contains(&revisions), "{report}");
        app.db
            .execute_unprepared("UPDATE observation_revision SET value = value + 1 WHERE id = (SELECT MAX(id) FROM observation_revision)")
            .await
            .unwrap();
        let report = String::from_utf8_lossy(&app.command(&["audit", "verify"]).stdout).into_owned();
        assert!(report.contains("differs from what entry") && report.contains("demo-data.write"), "{report}");
        app.db
            .execute_unprepared("UPDATE observation_revision SET value = value - 1 WHERE id = (SELECT MAX(id) FROM observation_revision)")
            .await
            .unwrap();

        let totals = "query T($synthetic: Boolean!) { observations(filter: {includeSynthetic: $synthetic}) { totalCount } }";
        assert_eq!(app.data(totals, json!({ "synthetic": false })).await["observations"]["totalCount"], seeded_figures(), "reported figures only");
        assert_eq!(app.data(totals, json!({ "synthetic": true })).await["observations"]["totalCount"], 3000 + seeded_figures());
        assert_eq!(
            app.scalar("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM observation o JOIN observation_revision r ON r.observation_id = o.id
                JOIN source s ON s.id = r.source_id WHERE s.code = 'demo-generator' AND NOT o.synthetic").await,
            0,
            "every generated row is marked synthetic"
        );

        let steps = "FROM (SELECT r.value - LAG(r.value) OVER (PARTITION BY o.metric_id, o.agency_id ORDER BY o.observed_at) AS step
            FROM observation o JOIN observation_revision r ON r.observation_id = o.id JOIN metric m ON m.id = o.metric_id
            WHERE o.synthetic AND m.kind = 'cumulative') s";
        assert!(app.scalar(&format!("SELECT CAST(COUNT(*) AS BIGINT) AS n {steps} WHERE step IS NOT NULL")).await > 2000);
        assert_eq!(app.scalar(&format!("SELECT CAST(COUNT(*) AS BIGINT) AS n {steps} WHERE step < 0")).await, 0);

        let series = "query S($agency: String) { timeSeries(metric: \"document-exchange-axis.documents-exchanged\", agency: $agency, includeSynthetic: true,
            from: \"2019-01-01\", to: \"2019-12-31\", bucket: MONTH) { points { label value change } } }";
        let unit = app.data(series, json!({ "agency": "demo-unit-0001" })).await;
        let points = unit["timeSeries"]["points"].as_array().unwrap();
        assert_eq!(points.len(), 12);
        assert!(points.iter().all(|p| !p["value"].is_null()), "a daily counter fills every month");
        assert!(points.iter().skip(1).all(|p| !p["change"].as_str().unwrap().starts_with('-')));
        let national = app.data(series, json!({ "agency": null })).await;
        assert!(national["timeSeries"]["points"].as_array().unwrap().iter().all(|p| p["value"].is_null()), "the national series is untouched");
        let reported = app
            .data(&format!("{{ timeSeries(metric: \"{DOCUMENTS}\", from: \"2020-12-01\", to: \"2020-12-31\") {{ points {{ value }} }} }}"), json!({}))
            .await;
        assert_eq!(reported["timeSeries"]["points"][0]["value"], "3700000");
    }

    async fn demo_data_can_give_every_real_province_and_ministry_a_month_across_the_mergers(app: TestApp) {
        let generated = app.command(&["demo-data", "--rows", "3000", "--real-units"]);
        assert!(generated.status.success(), "{}", String::from_utf8_lossy(&generated.stderr));
        let breakdown = "query B($from: NaiveDate!, $to: NaiveDate!, $of: AgencyGroup!) {
            breakdown(metric: \"demo.public-service-portal.dossiers-filed-per-month\", from: $from, to: $to, of: $of, includeSynthetic: true) {
              expectedCount reportedCount } }";
        for (from, to, of, units) in [
            ("2025-06-01", "2025-06-30", "PROVINCES", 63),
            ("2025-07-01", "2025-07-31", "PROVINCES", 34),
            ("2025-02-01", "2025-02-28", "MINISTRIES", 22),
            ("2025-03-01", "2025-03-31", "MINISTRIES", 17),
        ] {
            let data = app.data(breakdown, json!({ "from": from, "to": to, "of": of })).await;
            assert_eq!(data["breakdown"], json!({ "expectedCount": units, "reportedCount": units }), "{of} {from}");
        }
        // Left out unless asked for, as every synthetic figure is.
        let hidden = app
            .data(&breakdown.replace("includeSynthetic: true", "includeSynthetic: false"), json!({ "from": "2025-06-01", "to": "2025-06-30", "of": "PROVINCES" }))
            .await;
        assert_eq!(hidden["breakdown"]["reportedCount"], 0);
    }
}

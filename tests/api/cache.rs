use entity::values::Role;
use serde_json::json;

use crate::helpers::{exported_metric, figure, Options, TestApp};
use crate::on_both_databases;

const RATE: &str = "public-service-portal.level4-online-dossier-rate";
const LATEST: &str = "{ metric(code: \"public-service-portal.level4-online-dossier-rate\") { latest { value observedAt } } }";
const COUNT: &str = "{ observations { totalCount } }";
const RECORD: &str = "mutation Record($input: [ObservationInput!]!) {
  recordObservations(input: $input) { checked }
}";

async fn cache_hits(app: &TestApp) -> u64 {
    exported_metric(&app.address, "egov_kpi_response_cache_hits_total").await
}

on_both_databases! { Options::cached();
    async fn a_repeated_query_is_answered_without_the_database_until_a_write(app: TestApp) {
        let first = app.data(LATEST, json!({})).await;
        let (hits, statements) = (cache_hits(&app).await, app.statements());
        let again = app.data(LATEST, json!({})).await;
        assert_eq!(again, first);
        assert_eq!(cache_hits(&app).await, hits + 1);
        assert_eq!(app.statements(), statements, "a cached answer runs no SQL");

        let reporter = app.key(Role::Reporter, None).await;
        let (_, body) = app
            .graphql_as(&reporter, RECORD, json!({ "input": [figure(RATE, "2099-01-01T00:00:00Z", "1")] }))
            .await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "a refused write");
        let (_, body) = app
            .graphql_as(&reporter, RECORD, json!({ "input": [figure(RATE, "2021-12-31T00:00:00+07:00", "31.5")] }))
            .await;
        assert_eq!(body["data"]["recordObservations"]["checked"], 1, "{body}");
        let after = app.data(LATEST, json!({})).await;
        assert_eq!(after["metric"]["latest"]["value"], "31.5", "the write is read back at once");
    }

    async fn a_write_through_another_process_retires_cached_answers(app: TestApp) {
        let before = app.data(COUNT, json!({})).await["observations"]["totalCount"].as_i64().unwrap();
        app.data(COUNT, json!({})).await;
        let directory = std::env::temp_dir().join(format!("egov-kpi-cache-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&directory).unwrap();
        let file = directory.join("one.csv");
        std::fs::write(&file, format!("metric,observed_at,value,source,quote\n{RATE},2021-09-30,29,article-003,q\n")).unwrap();
        let import = app.command(&["import", file.to_str().unwrap()]);
        assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
        std::fs::remove_dir_all(directory).unwrap();

        // Answers are kept for a minute here: seeing the row sooner proves the write retired them.
        let mut seen = before;
        for _ in 0..100 {
            seen = app.data(COUNT, json!({})).await["observations"]["totalCount"].as_i64().unwrap();
            if seen == before + 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(seen, before + 1, "the imported row is counted within 5 s");
    }

    async fn callers_with_different_rights_never_share_an_answer(app: TestApp) {
        let history = "{ metric(code: \"public-service-portal.level4-online-dossier-rate\") { history(last: 5) { edges { node { value } } } } }";
        let auditor = app.key(Role::Auditor, None).await;
        for _ in 0..2 {
            let (_, body) = app.graphql_as(&auditor, history, json!({})).await;
            assert!(body["errors"].is_null(), "{body}");
        }
        let hits = cache_hits(&app).await;
        let viewer = app.key(Role::Viewer, None).await;
        for _ in 0..2 {
            let (_, body) = app.graphql_as(&viewer, history, json!({})).await;
            assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN", "{body}");
            let body = app.graphql(history, json!({})).await;
            assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{body}");
        }
        assert_eq!(cache_hits(&app).await, hits, "refusals are not kept");
    }
}

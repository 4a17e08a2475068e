use serde_json::json;

use crate::on_both_databases;

on_both_databases! {
    async fn unknown_codes_are_not_found(app: TestApp) {
        for (query, argument) in [
            ("{ platform(code: \"no-such-platform\") { code } }", "code"),
            ("{ metric(code: \"no-such-metric\") { code } }", "code"),
            ("{ observations(filter: {metric: \"no-such-metric\"}) { totalCount } }", "filter.metric"),
            ("{ observations(filter: {agency: \"no-such-agency\"}) { totalCount } }", "filter.agency"),
            ("{ timeSeries(metric: \"no-such-metric\", from: \"2020-01-01\", to: \"2020-12-31\") { bucket } }", "metric"),
            ("{ timeSeries(metric: \"public-service-portal.level4-online-dossier-rate\", agency: \"no-such-agency\", from: \"2020-01-01\", to: \"2020-12-31\") { bucket } }", "agency"),
            ("{ observation(id: \"999999\") { id } }", "id"),
        ] {
            let body = app.graphql(query, json!({})).await;
            let error = &body["errors"][0];
            assert_eq!(error["extensions"]["code"], "NOT_FOUND", "{query}: {body}");
            assert_eq!(error["extensions"]["argument"], argument, "the error names the argument: {query}: {body}");
            let message = error["message"].as_str().unwrap();
            assert!(message.contains("no-such") || message.contains("no observation has the id `999999`"), "{message}");
        }
    }

    async fn documents_that_do_not_fit_the_schema_are_refused_with_a_code(app: TestApp) {
        let (code, _) = app.error("{ platforms { noSuchField } }", json!({})).await;
        assert_eq!(code, "GRAPHQL_VALIDATION_FAILED");
        let (code, _) = app.error("{ platforms { code ", json!({})).await;
        assert_eq!(code, "GRAPHQL_PARSE_FAILED");
        let (code, _) = app
            .error("{ timeSeries(metric: \"x\", from: \"not a date\", to: \"2020-01-01\") { bucket } }", json!({}))
            .await;
        assert_eq!(code, "BAD_USER_INPUT");
    }

    async fn http_gets_health_graphiql_and_queries(app: TestApp) {
        let health = app.get("/healthz").await;
        assert_eq!(health.status(), 200);
        assert!(health.headers().contains_key("x-request-id"));
        let body: serde_json::Value = health.json().await.unwrap();
        assert_eq!(body["status"], "ok");

        let page = app.client.get(&app.address).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().to_lowercase().contains("graphiql"));

        let answer: serde_json::Value = app
            .client
            .get(format!("{}/graphql", app.address))
            .query(&[("query", "{ platform(code: \"e-cabinet\") { code } }")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["data"]["platform"]["code"], "e-cabinet");
    }
}

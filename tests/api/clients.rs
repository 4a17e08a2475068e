//! What standard GraphQL clients (GraphiQL, Code Generator, Apollo, urql) expect of a server.

use serde_json::{json, Value};

use crate::helpers::{Backend, TestApp};
use crate::on_both_databases;

/// The answer's text as it came: JSON values read back would lose the order of its keys.
async fn answer_text(app: &TestApp, query: &str) -> String {
    app.client
        .post(format!("{}/graphql", app.address))
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

on_both_databases! {
    async fn fields_come_back_in_the_order_asked(app: TestApp) {
        let query = "{ targetProgress(year: 2021) { status } platforms { code } sources { code } }";
        let text = answer_text(&app, query).await;
        let at = |key: &str| text.find(&format!("\"{key}\"")).unwrap_or_else(|| panic!("{key} in {text}"));
        assert!(at("targetProgress") < at("platforms") && at("platforms") < at("sources"), "{text}");

        // A key asked twice, once through a fragment, is one field with both selections, in
        // the order they are first asked.
        let merged = "{ platforms { code } ...P platforms { name(lang: EN) } } fragment P on QueryRoot { platforms { code metrics { code } } }";
        let first = answer_text(&app, merged).await;
        assert!(
            first.starts_with("{\"data\":{\"platforms\":[{\"code\":\"document-exchange-axis\",\"metrics\":[{\"code\":"),
            "{first}"
        );
        assert!(first.contains("],\"name\":\"National Document Exchange Axis\"}"), "{first}");
        for _ in 0..20 {
            let again = answer_text(&app, merged).await;
            assert_eq!(again, first, "the same answer every time");
        }
    }
}

#[tokio::test]
async fn requests_without_a_document_and_get_operation_names_follow_the_specification() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for accept in ["application/json", "application/graphql-response+json"] {
        let (status, _, body) = app
            .post_raw("application/json", accept, b"{}".to_vec())
            .await;
        assert_eq!(status, 400, "{accept}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    }
    let answer: Value = app
        .client
        .get(format!("{}/graphql", app.address))
        .query(&[
            (
                "query",
                "query A { platforms { code } } query B { sources { code } }",
            ),
            ("operationName", "B"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer["data"]["sources"].as_array().map(Vec::len),
        Some(5),
        "{answer}"
    );

    let (code, message) = app
        .error("{ observation(id: \"999999\") { id } }", json!({}))
        .await;
    assert_eq!(code, "NOT_FOUND");
    assert_eq!(message, "không có số liệu nào có mã định danh `999999`");
    let english = app
        .graphql_with_language(
            "{ observation(id: \"999999\") { id } }",
            json!({}),
            Some("en"),
        )
        .await;
    assert_eq!(
        english["errors"][0]["message"],
        "no observation has the id `999999`"
    );
}

#[tokio::test]
async fn every_command_takes_the_database_flags_after_its_subcommand_too() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let key = app.signing_key.clone().unwrap();
    let key = key.to_str().unwrap();
    let url = app.database_url.as_str();
    for args in [
        vec!["keys", "list", "--database-url", url],
        vec![
            "audit",
            "checkpoint",
            "--database-url",
            url,
            "--audit-signing-key",
            key,
        ],
        vec![
            "audit",
            "verify",
            "--database-url",
            url,
            "--audit-signing-key",
            key,
        ],
        vec!["keys", "--database-url", url, "list"],
        vec![
            "audit",
            "--audit-signing-key",
            key,
            "--database-url",
            url,
            "verify",
        ],
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_egov-kpi"))
            .args(&args)
            .env_remove("DATABASE_URL")
            .env_remove("EGOV_KPI_AUDIT_SIGNING_KEY")
            .env("RUST_LOG", "warn")
            .current_dir(std::env::temp_dir())
            .output()
            .unwrap();
        assert!(output.status.success(), "{args:?}: {output:?}");
    }
}

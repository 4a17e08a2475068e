//! `schema.graphql` is the contract clients generate code from: it must be the schema served.

#[test]
fn committed_sdl_matches_the_schema_the_code_builds() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let committed = std::fs::read_to_string(path).expect("schema.graphql exists");
    let built = api::graphql::schema_sdl();
    assert!(
        committed == built,
        "schema.graphql is out of date: run `cargo run -- export-schema -o schema.graphql` and commit it"
    );
}

/// The query graphql-js's `getIntrospectionQuery()` writes, which GraphiQL, GraphQL Code
/// Generator, Apollo and Postman send: its type references nest `ofType` seven levels deep.
const STANDARD_INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) {
    name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason
  }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }
}
"#;

#[tokio::test]
async fn the_standard_introspection_query_is_answered_and_deep_queries_are_still_refused() {
    use crate::helpers::{Backend, TestApp};
    let app = TestApp::spawn(Backend::Sqlite).await;
    let body = app
        .graphql(STANDARD_INTROSPECTION, serde_json::json!({}))
        .await;
    assert!(body.get("errors").is_none(), "{}", body["errors"]);
    let types = body["data"]["__schema"]["types"].as_array().unwrap();
    assert!(
        types.iter().any(|t| t["name"] == "Observation"),
        "{} types",
        types.len()
    );
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "QueryRoot");
    // The depth limit still holds for ordinary fields.
    let deep = format!(
        "{{ platforms {}code{} }}",
        "{ metrics { platform ".repeat(7),
        " } }".repeat(7)
    );
    let (code, _) = app.error(&deep, serde_json::json!({})).await;
    assert_eq!(code, "QUERY_TOO_DEEP");
}

/// Requests that validated once run on a schema of their own the next time (see the engine):
/// introspection must describe the schema served however often it is asked, and a field only
/// that schema has must stay out of reach.
#[tokio::test]
async fn introspection_asked_again_describes_the_same_schema_and_nothing_more() {
    use crate::helpers::{Backend, TestApp};
    let app = TestApp::spawn(Backend::Sqlite).await;
    let plain = "{ __schema { types { name } queryType { fields { name } } } }";
    let first = app.graphql(plain, serde_json::json!({})).await;
    assert!(first.get("errors").is_none(), "{}", first["errors"]);
    for _ in 0..2 {
        assert_eq!(app.graphql(plain, serde_json::json!({})).await, first);
    }
    let standard = app
        .graphql(STANDARD_INTROSPECTION, serde_json::json!({}))
        .await;
    assert_eq!(
        app.graphql(STANDARD_INTROSPECTION, serde_json::json!({}))
            .await,
        standard
    );

    // Every type and root field introspection names is one `schema.graphql` declares.
    let sdl = api::graphql::schema_sdl();
    let declared = |name: &str| {
        sdl.lines().any(|line| {
            line.split_whitespace().nth(1) == Some(name)
                || line.trim_start().starts_with(&format!("{name}("))
                || line.trim_start().starts_with(&format!("{name}:"))
        })
    };
    let types = first["data"]["__schema"]["types"].as_array().unwrap();
    for name in types.iter().filter_map(|t| t["name"].as_str()) {
        let built_in =
            name.starts_with("__") || ["String", "Int", "Float", "Boolean", "ID"].contains(&name);
        assert!(
            built_in || declared(name),
            "introspection names type {name}"
        );
    }
    let root = first["data"]["__schema"]["queryType"]["fields"]
        .as_array()
        .unwrap();
    for name in root.iter().filter_map(|f| f["name"].as_str()) {
        assert!(declared(name), "introspection names root field {name}");
    }
    assert!(types.iter().all(|t| t["name"] != "_Service"));

    // A validated query first, so that the next requests may run on the other schema.
    app.graphql("{ platforms { code } }", serde_json::json!({}))
        .await;
    for _ in 0..2 {
        let (code, _) = app
            .error("{ _service { sdl } }", serde_json::json!({}))
            .await;
        assert_eq!(code, "GRAPHQL_VALIDATION_FAILED");
    }
}

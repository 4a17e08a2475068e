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

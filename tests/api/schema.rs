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

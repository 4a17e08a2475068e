use serde_json::{json, Value};

use entity::values::{MetricKind, Qualifier, Role, Unit};

use crate::helpers::{instant, seeded_figures, Reading};
use crate::on_both_databases;

const PAGE: &str = "query Page($first: Int, $after: String, $last: Int, $before: String, $filter: ObservationFilterInput) {
  observations(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
    totalCount
    edges { cursor node { id observedAt value qualifier metric { code } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}";

fn ids(connection: &Value) -> Vec<String> {
    connection["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

on_both_databases! {
    async fn a_repeated_page_of_points_is_answered_directly_as_the_executor_answers_it(app: TestApp) {
        // The dashboard's latest page: validated once, then answered directly, byte for byte
        // as the executor answered it.
        let latest = "{ observations(last: 3, filter: {includeSynthetic: true}) { edges { node { id observedAt value qualifier } } } }";
        let (answer, direct) = app.asked_three_times(latest, json!({})).await;
        let page: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(page["data"]["observations"]["edges"].as_array().unwrap().len(), 3, "{answer}");
        assert_eq!(direct, 2, "validated once, then answered directly");

        // Paged forwards with variables and cursors: the same figures, in the same order, as
        // the page the executor answers with its totals and `pageInfo`.
        let everything = app.data(PAGE, json!({ "first": 10 })).await["observations"].clone();
        let paged = "query Paged($first: Int, $after: String) { observations(first: $first, after: $after) {
            __typename edges { __typename cursor n: node { id value } } } }";
        let (answer, direct) = app.asked_three_times(paged, json!({ "first": 5 })).await;
        assert_eq!(direct, 2);
        let first: Value = serde_json::from_str(&answer).unwrap();
        let edges = first["data"]["observations"]["edges"].as_array().unwrap().clone();
        assert_eq!(edges[0]["__typename"], "ObservationEdge");
        let after = edges[4]["cursor"].clone();
        let (answer, direct) = app.asked_three_times(paged, json!({ "first": 5, "after": after })).await;
        assert_eq!(direct, 2);
        let second: Value = serde_json::from_str(&answer).unwrap();
        let read: Vec<&Value> = edges.iter().chain(second["data"]["observations"]["edges"].as_array().unwrap())
            .map(|edge| &edge["n"]["id"]).collect();
        let expected: Vec<&Value> = everything["edges"].as_array().unwrap().iter().map(|edge| &edge["node"]["id"]).collect();
        assert_eq!(read, expected);

        // What the writers leave to resolvers (totals, `pageInfo`, a figure's metric or quote),
        // and a directive: the executor answers every time.
        app.assert_left_to_the_executor(&[
            "{ observations(last: 2) { totalCount edges { node { id } } } }",
            "{ observations(last: 2) { edges { node { id } } pageInfo { hasPreviousPage } } }",
            "{ observations(last: 2) { edges { node { id metric { code } } } } }",
            "{ observations(last: 2) { edges { node { id quote } } } }",
            "{ observations(last: 2) { edges @include(if: true) { node { id } } } }",
        ])
        .await;

        // Bad input is refused every time, as it was the first.
        for variables in [json!({ "first": 5, "after": "not a cursor" }), json!({ "first": 500 })] {
            let (answer, direct) = app.asked_three_times(paged, variables).await;
            assert!(answer.contains("BAD_USER_INPUT"), "{answer}");
            assert_eq!(direct, 0);
        }

        // A direct answer reads what the database holds now: a new figure is on the page.
        let id = app
            .store_reading(Reading::at("public-service-portal.level4-online-dossier-rate", "2026-11-30T00:00:00+07:00", "31.5"))
            .await;
        let before = app.direct_answers().await;
        let page = app.data(latest, json!({})).await;
        assert_eq!(app.direct_answers().await, before + 1);
        assert_eq!(page["observations"]["edges"][2]["node"]["id"], id.to_string(), "{page}");
        assert_eq!(page["observations"]["edges"][2]["node"]["value"], "31.5", "{page}");
    }

    async fn pages_forwards_and_backwards_see_every_observation_once_in_time_order(app: TestApp) {
        let everything = app.data(PAGE, json!({ "first": 100 })).await["observations"].clone();
        assert_eq!(everything["totalCount"], seeded_figures());
        let all = ids(&everything);
        assert_eq!(all.len(), seeded_figures());
        let times: Vec<_> = everything["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| instant(&e["node"]["observedAt"]))
            .collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "time order");

        let mut forwards = Vec::new();
        let mut after = Value::Null;
        loop {
            let page = app.data(PAGE, json!({ "first": 3, "after": after })).await["observations"].clone();
            forwards.extend(ids(&page));
            assert_eq!(page["pageInfo"]["hasPreviousPage"], !after.is_null());
            if page["pageInfo"]["hasNextPage"] == false {
                break;
            }
            after = page["pageInfo"]["endCursor"].clone();
        }
        assert_eq!(forwards, all);

        let mut backwards = Vec::new();
        let mut before = Value::Null;
        loop {
            let page = app.data(PAGE, json!({ "last": 4, "before": before })).await["observations"].clone();
            let mut chunk = ids(&page);
            chunk.extend(backwards);
            backwards = chunk;
            if page["pageInfo"]["hasPreviousPage"] == false {
                break;
            }
            before = page["pageInfo"]["startCursor"].clone();
        }
        assert_eq!(backwards, all);

        // A page that does not ask what lies beyond it is read without the row that would
        // tell: the same figures, from either end and from a cursor.
        let bare = "query Bare($first: Int, $after: String, $last: Int, $before: String) {
          observations(first: $first, after: $after, last: $last, before: $before) { edges { node { id } } } }";
        let cursor = &everything["edges"][4]["cursor"];
        for asked in [json!({ "first": 3 }), json!({ "last": 4 }), json!({ "first": 3, "after": cursor }),
                      json!({ "last": 2, "before": cursor })] {
            let told = ids(&app.data(PAGE, asked.clone()).await["observations"]);
            assert_eq!(ids(&app.data(bare, asked.clone()).await["observations"]), told, "{asked}");
            assert_eq!(told.len(), asked["first"].as_u64().or(asked["last"].as_u64()).unwrap() as usize, "{asked}");
        }
    }

    async fn filters_narrow_by_platform_metric_and_time(app: TestApp) {
        let count = |filter: Value| {
            let app = &app;
            async move {
                app.data(PAGE, json!({ "filter": filter })).await["observations"]["totalCount"]
                    .as_u64()
                    .unwrap()
            }
        };
        assert_eq!(count(json!({ "platform": "public-service-portal" })).await, 4);
        assert_eq!(count(json!({ "metric": "e-cabinet.annual-savings" })).await, 1);
        // Readings dated 25/12/2020 sit at 00:00 Vietnam time, 17:00 UTC the day before.
        assert_eq!(
            count(json!({ "observedFrom": "2020-12-24T17:00:00Z", "observedBefore": "2020-12-25T00:00:00Z" })).await,
            4
        );
        assert_eq!(count(json!({ "observedFrom": "2021-01-01T00:00:00Z" })).await, 6);
    }

    async fn page_arguments_out_of_range_are_refused(app: TestApp) {
        for (variables, argument) in [
            (json!({ "first": -1 }), "first"),
            (json!({ "first": 101 }), "first"),
            (json!({ "last": 1000 }), "last"),
            (json!({ "first": 2, "last": 2 }), "last"),
            (json!({ "after": "bm90IGEgY3Vyc29y" }), "after"),
            (json!({ "filter": { "observedFrom": "2021-01-01T00:00:00Z", "observedBefore": "2020-01-01T00:00:00Z" } }), "observedBefore"),
        ] {
            let body = app.graphql(PAGE, variables.clone()).await;
            let error = &body["errors"][0];
            assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{variables}: {body}");
            assert_eq!(error["extensions"]["argument"], argument, "{variables}");
            assert!(body["data"].is_null(), "nothing answered for {variables}");
        }
    }

    async fn one_observation_carries_its_citation(app: TestApp) {
        let first = app.data(PAGE, json!({ "first": 1, "filter": { "metric": "public-service-portal.dossiers-synchronised" } })).await;
        let id = first["observations"]["edges"][0]["node"]["id"].clone();
        let data = app
            .data(
                "query One($id: ID!) { observation(id: $id) { value valueFloat qualifier quote revision recordedBy
                   source { code fileName } metric { unit } } }",
                json!({ "id": id }),
            )
            .await;
        let observation = &data["observation"];
        assert_eq!(observation["value"], "27000000");
        assert_eq!(observation["valueFloat"], 27000000.0);
        assert_eq!(observation["qualifier"], "MORE_THAN");
        assert_eq!(observation["quote"], "hơn 27 triệu hồ sơ đồng bộ trạng thái");
        assert_eq!(observation["revision"], 1);
        assert_eq!(observation["recordedBy"], "seed");
        assert_eq!(observation["source"]["code"], "article-001");
        assert_eq!(observation["metric"]["unit"], "DOSSIERS");
    }

    async fn values_come_back_exactly_as_stored_on_either_database(app: TestApp) {
        // Billions of VND: fractions and fifteen digits are allowed.
        let savings = "document-exchange-axis.annual-savings";
        for (day, value) in ["123456789.012345", "999999999999999", "0.000001", "30.5"].into_iter().enumerate() {
            let observed_at = format!("2022-06-0{}T00:00:00Z", day + 1);
            let id = app.store_reading(Reading::at(savings, &observed_at, value)).await;
            let data = app
                .data("query One($id: ID!) { observation(id: $id) { value } }", json!({ "id": id.to_string() }))
                .await;
            assert_eq!(data["observation"]["value"], value);
        }
    }

    async fn the_newest_page_asked_again_shows_what_was_recorded_since(app: TestApp) {
        // The statement of a first or last page is kept; what it reads is read again each time.
        let savings = "document-exchange-axis.annual-savings";
        let filter = json!({ "metric": savings });
        let newest = |data: &Value| ids(&data["observations"]).last().cloned();
        let before = app.data(PAGE, json!({ "last": 2, "filter": filter })).await;
        let id = app.store_reading(Reading::at(savings, "2026-06-01T00:00:00Z", "1300")).await;
        let after = app.data(PAGE, json!({ "last": 2, "filter": filter })).await;
        assert_ne!(newest(&before), Some(id.to_string()), "{before}");
        assert_eq!(newest(&after), Some(id.to_string()), "{after}");
        let count = |data: &Value| data["observations"]["totalCount"].as_u64().unwrap();
        assert_eq!(count(&after), count(&before) + 1);
    }

    async fn objects_answer_alike_however_their_fields_are_asked(app: TestApp) {
        // Plain fields take a shorter path through the executor than fragments, directives and
        // repeated keys do: both must give the same data, in the order asked, and the same errors.
        let savings = "document-exchange-axis.annual-savings";
        app.store_reading(Reading::at(savings, "2026-07-01T01:02:03.456789Z", "1250")).await;
        // Written by the figure itself over HTTP (see `WrittenFields`): each with a value and
        // without one, a ratio's denominator and a flow's period among them, as read whole
        // (`source` asked) and as a reading alone.
        let flow = "test.dossiers-filed-per-month";
        app.add_metric(flow, MetricKind::Flow, Unit::Dossiers).await;
        app.store_reading(Reading::at(flow, "2026-02-01T00:00:00+07:00", "120").since("2026-01-01T00:00:00+07:00")).await;
        let page = |count: &str, cursor: &str, fields: &str| format!(r#"{{
          observations(last: 2, filter: {{metric: "{savings}"}}) {{ {count} edges {{ {cursor} node {{ {fields} }} }} }}
          ratios: observations(first: 1, filter: {{metric: "reporting-system.indicators-connected"}}) {{
            edges {{ node {{ {fields} }} }} }}
          flows: observations(first: 1, filter: {{metric: "{flow}"}}) {{ nodes {{ {fields} }} }} }}"#);
        let figure = "__typename id observedAt periodStart value qualifier denominator";
        let plain = &page("totalCount", "cursor", &format!("{figure} source {{ code }}"));
        let general = format!("query {} fragment Count on ObservationConnection {{ totalCount }}", page(
            "...Count", "cursor @include(if: true)",
            "__typename ... on Observation { id } observedAt periodStart @include(if: true) value \
             qualifier @skip(if: false) denominator source { code code }"));
        let asked_plainly = app.graphql(plain, json!({})).await;
        assert_eq!(asked_plainly, app.graphql(&general, json!({})).await);
        let ratio = &asked_plainly["data"]["ratios"]["edges"][0]["node"];
        assert_eq!((ratio["value"].as_str(), ratio["denominator"].as_str()), (Some("106"), Some("200")), "{ratio}");
        let flow_figure = &asked_plainly["data"]["flows"]["nodes"][0];
        assert_eq!(flow_figure["value"], "120", "{flow_figure}");
        assert_eq!(instant(&flow_figure["periodStart"]), instant(&json!("2026-01-01T00:00:00+07:00")));
        let newest = &asked_plainly["data"]["observations"]["edges"][1]["node"];
        assert_eq!((&newest["periodStart"], &newest["denominator"]), (&Value::Null, &Value::Null), "{newest}");
        // Read as readings alone (no source asked): the same figures.
        fn without_sources(answer: &mut Value) {
            match answer {
                Value::Object(object) => {
                    object.remove("source");
                    object.values_mut().for_each(without_sources);
                }
                Value::Array(items) => items.iter_mut().for_each(without_sources),
                _ => {}
            }
        }
        let mut whole = asked_plainly.clone();
        without_sources(&mut whole);
        assert_eq!(app.graphql(&page("totalCount", "cursor", figure), json!({})).await, whole);
        let text = app.client.post(format!("{}/graphql", app.address)).json(&json!({ "query": plain }))
            .send().await.unwrap().text().await.unwrap();
        let first_at = |key: &str| text.find(&format!("\"{key}\":")).unwrap_or_else(|| panic!("{key} in {text}"));
        let order: Vec<usize> = ["__typename", "id", "observedAt", "periodStart", "value", "qualifier", "denominator", "source"].map(first_at).into();
        assert!(order.is_sorted(), "fields in the order asked: {text}");
        // Over HTTP the objects are written as JSON while they resolve; a receipt's answer is
        // built whole, to be hashed: the same bytes either way.
        let receipted = app.client.post(format!("{}/graphql", app.address))
            .json(&json!({ "query": plain, "extensions": { "receipt": true } }))
            .send().await.unwrap().text().await.unwrap();
        let built_whole = receipted.split_once(r#","extensions":"#).map(|(data, _)| data);
        assert_eq!(built_whole, text.strip_suffix('}'), "{receipted}");
        // A page asking only what a point holds is written by one layout for all its figures
        // (`plain::Layout`): the same answer as the executor's, cursors and type names included,
        // and the same bytes as the answer built whole.
        let point = "__typename id observedAt value qualifier";
        let laid_out = &page("totalCount", "__typename cursor", point);
        let general = format!("query {} fragment Count on ObservationConnection {{ totalCount }}", page(
            "...Count", "__typename cursor @include(if: true)",
            "__typename ... on Observation { id } observedAt value qualifier @skip(if: false)"));
        let asked_for_points = app.graphql(laid_out, json!({})).await;
        assert_eq!(asked_for_points, app.graphql(&general, json!({})).await);
        assert_eq!(asked_for_points["data"]["observations"]["edges"][1]["node"]["value"], "1250", "{asked_for_points}");
        let app = &app;
        let answer_text = |extensions: Value| async move {
            app.client.post(format!("{}/graphql", app.address))
                .json(&json!({ "query": laid_out, "extensions": extensions }))
                .send().await.unwrap().text().await.unwrap()
        };
        let (text, receipted) = (answer_text(json!({})).await, answer_text(json!({ "receipt": true })).await);
        assert_eq!(receipted.split_once(r#","extensions":"#).map(|(data, _)| data), text.strip_suffix('}'), "{receipted}");
        assert_eq!(newest["__typename"], "Observation");
        assert_eq!(newest["value"], "1250");
        assert_eq!(instant(&newest["observedAt"]), instant(&json!("2026-07-01T01:02:03.456789Z")));
        assert!(newest["source"]["code"].is_string(), "{newest}");

        // A field refused inside a page (revisions are for auditors) is reported at its path.
        let refused = "{ observations(last: 2) { edges { node { id revisions { revision } } } } }";
        let refused_generally = "{ observations(last: 2) { edges { node { id revisions @include(if: true) { revision } } } } }";
        let answer = app.graphql(refused, json!({})).await;
        assert_eq!(answer, app.graphql(refused_generally, json!({})).await);
        assert_eq!(answer["errors"][0]["path"], json!(["observations", "edges", 0, "node", "revisions"]), "{answer}");
    }

    async fn a_page_answers_each_field_alike_however_few_columns_it_reads(app: TestApp) {
        // A page asking only for what a point (id, instant, value, qualifier) or a reading holds
        // reads fewer columns: every field of a figure, asked alone and asked beside one that
        // needs the whole row, answers the same, in `edges` and in `nodes`, fragments included.
        let auditor = app.key(Role::Auditor, None).await;
        let savings = "document-exchange-axis.annual-savings";
        app.store_reading(Reading::at(savings, "2026-06-01T00:00:00Z", "1200.5").qualified(Qualifier::MoreThan)).await;
        app.store_reading(Reading::at(savings, "2026-07-01T01:02:03.456789Z", "1250")).await;
        let introspection = app.data(r#"{ __schema { types { name kind fields { name type {
            kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }"#, json!({})).await;
        let types = introspection["__schema"]["types"].as_array().unwrap();
        let fields_of = |name: &str| types.iter().find(|t| t["name"] == name).unwrap()["fields"].as_array().unwrap().clone();
        let named = |mut kind: &Value| { while kind["name"].is_null() { kind = &kind["ofType"]; } kind.clone() };
        // An object's first scalar field answers for it: which agency, which source.
        let selection = |field: &Value| {
            let inner = named(&field["type"]);
            if inner["kind"] != "OBJECT" { return String::new(); }
            let scalar = fields_of(inner["name"].as_str().unwrap()).into_iter()
                .find(|f| named(&f["type"])["kind"] == "SCALAR").unwrap();
            format!("{{ __typename {} }}", scalar["name"].as_str().unwrap())
        };
        let ask = |figure: String| format!(
            r#"{{ observations(last: 6, filter: {{includeSynthetic: true}}) {{
                edges {{ node {figure} }} nodes {figure} }} }}"#);
        let fields = fields_of("Observation");
        assert!(fields.len() >= 18, "{fields:?}");
        for field in &fields {
            let name = field["name"].as_str().unwrap();
            let asked = format!("{name} {}", selection(field));
            let (_, alone) = app.graphql_as(&auditor, &ask(format!("{{ id {asked} }}")), json!({})).await;
            let (_, beside_quote) = app.graphql_as(&auditor, &ask(format!("{{ id {asked} quote }}")), json!({})).await;
            let (_, by_fragment) = app.graphql_as(&auditor, &ask(format!("{{ id ...on Observation {{ {asked} quote }} }}")), json!({})).await;
            assert!(alone.get("errors").is_none(), "{name}: {alone}");
            assert!(beside_quote.get("errors").is_none(), "{name}: {beside_quote}");
            assert_eq!(beside_quote, by_fragment, "{name}");
            let nodes = alone["data"]["observations"]["nodes"].as_array().unwrap();
            assert_eq!(nodes.len(), 6, "{name}: {alone}");
            for (at, node) in nodes.iter().enumerate() {
                let whole = &beside_quote["data"]["observations"]["nodes"][at];
                assert_eq!(node[name], whole[name], "{name} of {node}");
                assert_eq!(alone["data"]["observations"]["edges"][at]["node"], *node, "{name}");
                assert!(whole["quote"].is_string(), "{whole}");
            }
        }
        let newest = app.data(&ask("{ id value qualifier observedAt agency { code } }".to_owned()), json!({})).await;
        let [.., before, newest] = newest["observations"]["nodes"].as_array().unwrap().as_slice() else { panic!("{newest}") };
        assert_eq!((&before["value"], &before["qualifier"]), (&json!("1200.5"), &json!("MORE_THAN")), "{before}");
        assert_eq!((&newest["value"], &newest["qualifier"]), (&json!("1250"), &json!("EXACT")), "{newest}");
        assert_eq!(instant(&newest["observedAt"]), instant(&json!("2026-07-01T01:02:03.456789Z")));
    }
}

/// The figure readers decode PostgreSQL's binary format by hand; a value that comes as text (as
/// every value of a simple query does) is left to sqlx, and must read the same.
#[tokio::test]
async fn values_postgresql_sends_as_text_read_as_sqlx_reads_them() {
    use api::service::pg_columns::{column, optional_column, qualifier};
    use chrono::{DateTime, Utc};
    use rust_decimal::Decimal;
    use sea_orm::sqlx::postgres::PgValueFormat;
    use sea_orm::sqlx::Row;

    let app = crate::helpers::TestApp::spawn(crate::helpers::Backend::Postgres).await;
    let row = sea_orm::sqlx::raw_sql(
        "SELECT 42::int4, true, 'tỉ lệ'::text, '2021-06-30 17:00:00.123456+00'::timestamptz, \
         6700.50::numeric, -0.0001::numeric, NULL::numeric, 'about'::text",
    )
    .fetch_one(app.db.get_postgres_connection_pool())
    .await
    .unwrap();
    assert_eq!(row.try_get_raw(0).unwrap().format(), PgValueFormat::Text);

    assert_eq!(column::<i32>(&row, 0).unwrap(), 42);
    assert!(column::<bool>(&row, 1).unwrap());
    assert_eq!(column::<String>(&row, 2).unwrap(), "tỉ lệ");
    let instant: DateTime<Utc> = "2021-06-30T17:00:00.123456Z".parse().unwrap();
    assert_eq!(column::<DateTime<Utc>>(&row, 3).unwrap(), instant);
    let exact = column::<Decimal>(&row, 4).unwrap();
    assert_eq!((exact.to_string().as_str(), exact.scale()), ("6700.50", 2));
    assert_eq!(column::<Decimal>(&row, 5).unwrap().to_string(), "-0.0001");
    assert_eq!(optional_column::<Decimal>(&row, 6).unwrap(), None);
    assert_eq!(optional_column::<Decimal>(&row, 4).unwrap(), Some(exact));
    assert_eq!(qualifier(&row, 7).unwrap(), Qualifier::About);
    // Text that is not the column's type is refused by sqlx, naming the column.
    let refused = column::<i32>(&row, 2).unwrap_err().to_string();
    assert!(refused.contains('2'), "{refused}");
    assert!(qualifier(&row, 2).is_err());
}

use entity::values::Role;
use serde_json::{json, Value};

use crate::helpers::{decimal, TestApp};
use crate::on_both_databases;

const COMPARISON: &str = "query Savings($asOf: DateTime) { savingsComparison(asOf: $asOf) {
  unit scale unitLabel(lang: EN) total totalQualifier totalLabel(lang: EN) status platformsWithoutEstimate { code }
  entries { rank value qualifier platform { code } observation { id quote source { code } } }
} }";

/// Over HTTP the comparison, its entries and their platforms write their leaves into the answer
/// themselves: the same bytes as the resolvers', with entries asked with their figure (resolved
/// field by field) and without (written whole).
async fn assert_written_as_the_resolvers_answer(app: &TestApp) {
    let with_figures = COMPARISON.replace("platform { code }", "platform { code nameVi nameEn }");
    let without = "{ savingsComparison { entries { rank platform { __typename code nameEn } value \
                   qualifier } total } }";
    for query in [with_figures.as_str(), without] {
        let written = app.written_as_built_whole(query).await;
        assert!(
            written.contains("National Public Service Portal"),
            "{written}"
        );
    }
}

/// An auditor retracts the paperless Cabinet's savings estimate, withdrawn by its source.
async fn retract_the_cabinets_estimate(app: &TestApp) {
    let auditor = app.key(Role::Auditor, None).await;
    let data = app.data(COMPARISON, json!({})).await;
    let cabinet = data["savingsComparison"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["platform"]["code"] == "e-cabinet")
        .unwrap()["observation"]["id"]
        .clone();
    let retract = "mutation R($id: ID!) { retractObservation(id: $id, reason: \"withdrawn by the source\") { retracted } }";
    let (_, body) = app
        .graphql_as(&auditor, retract, json!({ "id": cabinet }))
        .await;
    assert_eq!(
        body["data"]["retractObservation"]["retracted"], true,
        "{body}"
    );
}

on_both_databases! {
    async fn a_repeated_comparison_is_answered_directly_as_the_executor_answers_it(app: TestApp) {
        let written = "{ savingsComparison { entries { rank platform { code } value } total } }";
        let (answer, direct) = app.asked_three_times(written, json!({})).await;
        assert!(answer.contains(r#""platform":{"code":"public-service-portal"},"value":"6700""#), "{answer}");
        assert_eq!(direct, 2, "validated once, then answered directly");
        // As a tree built whole (a receipt's answer), too.
        app.written_as_built_whole(written).await;

        // Aliases, `__typename`, arguments from variables or written in.
        let aliased = "query Compare($at: DateTime) { s: savingsComparison(asOf: $at) { __typename sum: total \
                       entries { __typename r: rank p: platform { __typename code nameEn } value qualifier } } }";
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let (answer, direct) = app.asked_three_times(aliased, json!({ "at": now })).await;
        assert!(answer.starts_with(r#"{"data":{"s":{"__typename":"SavingsComparison","sum":"8529","entries":[{"__typename":"SavingsEntry","r":1,"#), "{answer}");
        assert_eq!(direct, 2);
        let (answer, direct) = app.asked_three_times(aliased, json!({})).await;
        assert!(answer.contains(r#""sum":"8529""#), "no variable is no argument: {answer}");
        assert_eq!(direct, 2);
        let year_ago = (chrono::Utc::now() - chrono::Duration::days(365)).to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let then = written.replace("savingsComparison", &format!("savingsComparison(asOf: \"{year_ago}\")"));
        let (answer, direct) = app.asked_three_times(&then, json!({})).await;
        assert_eq!(answer, r#"{"data":{"savingsComparison":{"entries":[],"total":null}}}"#);
        assert_eq!(direct, 2);
        let defaulted = format!("query Then($at: DateTime = \"{year_ago}\") {{ savingsComparison(asOf: $at) {{ total }} }}");
        let (answer, direct) = app.asked_three_times(&defaulted, json!({})).await;
        assert_eq!(answer, r#"{"data":{"savingsComparison":{"total":null}}}"#, "a variable's default is its value");
        assert_eq!(direct, 2);

        // What the writers leave to resolvers (a status, a figure), a directive, a second root
        // field: the executor answers every time.
        app.assert_left_to_the_executor(&[
            "{ savingsComparison { total status } }",
            "{ savingsComparison { entries { rank observation { id } } } }",
            "{ savingsComparison { total @skip(if: false) } }",
            "{ savingsComparison { total } platforms { code } }",
        ])
        .await;

        // Bad input is refused every time, as it was the first.
        let (answer, direct) = app.asked_three_times(aliased, json!({ "at": "not an instant" })).await;
        assert!(answer.contains("errors"), "{answer}");
        assert_eq!(direct, 0);

        // A direct answer reads what the database holds now: a retracted estimate drops out.
        retract_the_cabinets_estimate(&app).await;
        let before = app.direct_answers().await;
        let data = app.data(written, json!({})).await;
        assert_eq!(app.direct_answers().await, before + 1);
        assert_eq!(data["savingsComparison"]["entries"].as_array().unwrap().len(), 3, "{data}");
        assert_eq!(decimal(&data["savingsComparison"]["total"]), "8360".parse().unwrap());
    }

    async fn platforms_are_ranked_by_yearly_savings_and_the_total_is_a_rate(app: TestApp) {
        let data = app.data(COMPARISON, json!({})).await;
        let comparison = &data["savingsComparison"];
        let ranking: Vec<(&str, &str, u64)> = comparison["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["platform"]["code"].as_str().unwrap(), e["value"].as_str().unwrap(), e["rank"].as_u64().unwrap()))
            .collect();
        assert_eq!(
            ranking,
            [
                ("public-service-portal", "6700", 1),
                ("document-exchange-axis", "1200", 2),
                ("reporting-system", "460", 3),
                ("e-cabinet", "169", 4),
            ]
        );
        assert_eq!(decimal(&comparison["total"]), "8529".parse().unwrap());
        assert_eq!(comparison["totalQualifier"], "ABOUT");
        assert_eq!((&comparison["status"], &comparison["platformsWithoutEstimate"]), (&json!("COMPLETE"), &json!([])));
        assert_eq!(comparison["unit"], "VND");
        assert_eq!(comparison["scale"], "BILLION");
        assert_eq!(comparison["unitLabel"], "billion VND per year");
        assert!(comparison["totalLabel"].as_str().unwrap().contains("not an amount saved"));
        let first = &comparison["entries"][0];
        assert_eq!(first["qualifier"], "ABOUT");
        assert_eq!(first["observation"]["source"]["code"], "article-001");
        assert!(first["observation"]["quote"].as_str().unwrap().contains("6.700 tỷ đồng/năm"));
        assert_written_as_the_resolvers_answer(&app).await;
    }

    async fn a_platform_without_an_estimate_is_named_not_counted_as_zero(app: TestApp) {
        retract_the_cabinets_estimate(&app).await;
        let data = app.data(COMPARISON, json!({})).await;
        let partial = &data["savingsComparison"];
        assert_eq!(partial["status"], "PARTIAL");
        assert_eq!(partial["platformsWithoutEstimate"], json!([{ "code": "e-cabinet" }]));
        assert_eq!(decimal(&partial["total"]), "8360".parse().unwrap(), "the total of those that have one");
        assert_written_as_the_resolvers_answer(&app).await;
    }

    async fn as_of_answers_what_was_known_then(app: TestApp) {
        // The figures were recorded when the server was seeded, moments ago: a year earlier the
        // API knew of none.
        let year_ago = (chrono::Utc::now() - chrono::Duration::days(365)).to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let data = app.data(COMPARISON, json!({ "asOf": year_ago })).await;
        let then = &data["savingsComparison"];
        assert_eq!(then["entries"], json!([]));
        // No data is no data: no total, not "0 (exact)".
        assert_eq!((&then["total"], &then["totalQualifier"], &then["status"]), (&Value::Null, &Value::Null, &json!("NO_DATA")), "{then}");
        assert_eq!(then["platformsWithoutEstimate"].as_array().unwrap().len(), 4, "{then}");
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let data = app.data(COMPARISON, json!({ "asOf": now })).await;
        assert_eq!(data["savingsComparison"]["entries"].as_array().unwrap().len(), 4);
    }

    async fn an_estimate_is_read_with_what_its_figure_asks(app: TestApp) {
        // Entries whose figure asks only its value, metric and source are read without the
        // figure's quote and author; asked for those too, here in a fragment, it is read whole.
        // Both answer alike what both show.
        let shown = "id value qualifier metric { code } source { code }";
        let sourced = app
            .data(&format!("{{ savingsComparison {{ entries {{ platform {{ code }} observation {{ {shown} }} }} }} }}"), json!({}))
            .await;
        let whole = app
            .data(&format!("{{ savingsComparison {{ entries {{ platform {{ code }} observation {{ ...Figure }} }} }} }}
                            fragment Figure on Observation {{ {shown} quote recordedBy }}"), json!({}))
            .await;
        let entries = |data: &Value| data["savingsComparison"]["entries"].as_array().unwrap().clone();
        assert_eq!(entries(&sourced).len(), 4, "{sourced}");
        for (sourced, whole) in entries(&sourced).iter().zip(entries(&whole)) {
            assert_eq!(sourced["platform"], whole["platform"]);
            for field in ["id", "value", "qualifier", "metric", "source"] {
                assert_eq!(sourced["observation"][field], whole["observation"][field], "{field}");
            }
            assert!(sourced["observation"]["metric"]["code"].as_str().unwrap().ends_with("annual-savings"), "{sourced}");
            assert!(whole["observation"]["quote"].as_str().is_some_and(|quote| quote.contains("tỷ")), "{whole}");
            assert!(whole["observation"]["recordedBy"].is_string(), "{whole}");
        }
        // Asked for no figure at all, each estimate is read as a point: the same ranks, values
        // and qualifiers, and the same total, as when its whole figure is read beside them.
        let shown = "rank platform { code } value qualifier";
        let points = app
            .data(&format!("{{ savingsComparison {{ total totalQualifier entries {{ {shown} }} }} }}"), json!({}))
            .await;
        let mut read_whole = app
            .data(&format!("{{ savingsComparison {{ total totalQualifier entries {{ {shown} observation {{ quote }} }} }} }}"), json!({}))
            .await;
        assert_eq!(entries(&points).len(), 4, "{points}");
        for entry in read_whole["savingsComparison"]["entries"].as_array_mut().unwrap() {
            assert!(entry["observation"]["quote"].is_string(), "{entry}");
            entry.as_object_mut().unwrap().remove("observation");
        }
        assert_eq!(points, read_whole);
    }
}

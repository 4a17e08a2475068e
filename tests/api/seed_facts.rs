//! The seeded figures, read back through the API, match `shared/FACTS.md` and quote their
//! articles verbatim.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use api::service::seed::{parse, SEED_FILE};
use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde_json::json;

use crate::helpers::{decimal, instant};
use crate::on_both_databases;

fn shared_dir() -> PathBuf {
    std::env::var_os("EGOV_KPI_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared")))
}

/// One row of the FACTS.md table.
#[derive(Debug, Clone)]
struct Fact {
    platform: String,
    reported: String,
    as_of: String,
    kind: String,
    article: String,
}

fn facts() -> HashMap<u32, Fact> {
    let path = shared_dir().join("FACTS.md");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} must be readable: {e}", path.display()));
    text.lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let number = cells.get(1)?.parse().ok()?;
            Some((
                number,
                Fact {
                    platform: cells[2].to_owned(),
                    reported: cells[4].to_owned(),
                    as_of: cells[5].to_owned(),
                    kind: cells[6].to_owned(),
                    article: cells[7].to_owned(),
                },
            ))
        })
        .collect()
}

/// Numbers written with thousands separators, in order: "(> 3,700,000)" gives 3700000.
fn numbers(text: &str) -> Vec<Decimal> {
    text.split(|c: char| !(c.is_ascii_digit() || c == ',' || c == '.'))
        .map(|token| {
            token
                .trim_matches(|c| c == ',' || c == '.')
                .replace(',', "")
        })
        .filter(|token| !token.is_empty())
        .filter_map(|token| token.parse().ok())
        .collect()
}

/// The first d/m/yyyy or m/yyyy date in `text`, with whether the day is known.
fn date(text: &str) -> Option<(NaiveDate, bool)> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '/'))
        .find_map(|token| {
            let parts: Vec<u32> = token.split('/').filter_map(|p| p.parse().ok()).collect();
            match parts[..] {
                [d, m, y] => NaiveDate::from_ymd_opt(y as i32, m, d).map(|date| (date, true)),
                [m, y] if y > 1900 => {
                    NaiveDate::from_ymd_opt(y as i32, m, 1).map(|date| (date, false))
                }
                _ => None,
            }
        })
}

/// The figure as reported: the text in parentheses when there is one ("(≈ 1,200 billion VND per
/// year)"), otherwise the cell.
fn figure(fact: &Fact) -> (Decimal, Option<Decimal>, &'static str) {
    let cell = fact.reported.as_str();
    let inner = cell
        .find('(')
        .and_then(|open| {
            cell[open + 1..]
                .find(')')
                .map(|close| &cell[open + 1..open + 1 + close])
        })
        .unwrap_or(cell);
    let qualifier = if inner.starts_with('>') {
        "MORE_THAN"
    } else if inner.starts_with('≈') {
        "ABOUT"
    } else if inner.starts_with("nearly") {
        "NEARLY"
    } else {
        "EXACT"
    };
    let found = numbers(inner);
    let scale = if inner.contains("billion") {
        Decimal::from(1_000_000_000)
    } else {
        Decimal::ONE
    };
    // A value out of a whole ("106 of 200", "6th of 11 in ASEAN") is the part that says so.
    if let Some(part) = inner.split(';').find(|part| part.contains(" of ")) {
        let pair = numbers(part);
        return (pair[0], Some(pair[1]), qualifier);
    }
    (found[0] * scale, None, qualifier)
}

fn scale_factor(scale: &str) -> Decimal {
    match scale {
        "ONE" => Decimal::ONE,
        "THOUSAND" => Decimal::from(1_000),
        "MILLION" => Decimal::from(1_000_000),
        "BILLION" => Decimal::from(1_000_000_000),
        other => panic!("unknown scale {other}"),
    }
}

fn article_text(file_name: &str) -> String {
    std::fs::read_to_string(shared_dir().join("articles").join(file_name))
        .unwrap_or_else(|e| panic!("article {file_name}: {e}"))
}

/// Whose figures are seeded: the platforms', and Vietnam's own (the programme's outcomes).
const MEASURED_IN_FACTS: [&str; 5] = [
    "Document Exchange Axis",
    "Public Service Portal",
    "Reporting System",
    "e-Cabinet",
    "Vietnam",
];

on_both_databases! {
    async fn every_figure_of_the_facts_is_served_as_reported(app: TestApp) {
        let facts = facts();
        let seeds = parse(SEED_FILE).unwrap();

        let figures_of_platforms: BTreeSet<u32> = facts
            .iter()
            .filter(|(_, f)| MEASURED_IN_FACTS.iter().any(|p| f.platform.contains(p)))
            .filter(|(_, f)| !f.kind.contains("event") && !f.kind.contains("target"))
            .map(|(&n, _)| n)
            .collect();
        let seeded: BTreeSet<u32> = seeds.observation.iter().map(|o| o.fact).collect();
        assert_eq!(seeded, figures_of_platforms, "every figure of a platform or of Vietnam is seeded, and only those");

        for seed in &seeds.observation {
            let fact = &facts[&seed.fact];
            let data = app
                .data(
                    "query Of($metric: String!) { observations(filter: {metric: $metric}) {
                       edges { node { value denominator qualifier observedAt quote
                         metric { scale } source { fileName } } } } }",
                    json!({ "metric": seed.metric }),
                )
                .await;
            let node = &data["observations"]["edges"][0]["node"];
            let (value, denominator, qualifier) = figure(fact);
            let served = decimal(&node["value"]) * scale_factor(node["metric"]["scale"].as_str().unwrap());
            assert_eq!(served, value, "fact {}: value", seed.fact);
            assert_eq!(node["qualifier"], qualifier, "fact {}: qualifier", seed.fact);
            assert_eq!(node["denominator"].as_str().map(|d| d.parse().unwrap()), denominator, "fact {}", seed.fact);
            let observed_on = instant(&node["observedAt"])
                .with_timezone(&chrono_tz::Asia::Ho_Chi_Minh)
                .date_naive();
            match date(&fact.as_of) {
                Some((as_of, _)) => assert_eq!(observed_on, as_of, "fact {}: date", seed.fact),
                // A year alone: the figure is dated within it.
                None => assert_eq!(observed_on.year().to_string(), fact.as_of, "fact {}: year", seed.fact),
            }
            let file_name = node["source"]["fileName"].as_str().unwrap();
            assert!(file_name.starts_with(&format!("{}_", fact.article)), "fact {}: article", seed.fact);
            let quote = node["quote"].as_str().unwrap();
            assert!(article_text(file_name).contains(quote), "fact {}: quote not in {file_name}: {quote}", seed.fact);
        }
    }

    async fn events_are_dated_as_the_facts_report_them(app: TestApp) {
        let facts = facts();
        let seeds = parse(SEED_FILE).unwrap();
        let data = app
            .data("{ events { code occurredOn datePrecision quote source { fileName } } }", json!({}))
            .await;
        let events = data["events"].as_array().unwrap();
        let mut checked = 0;
        for seed in seeds.event.iter().filter(|e| facts[&e.fact].kind == "event") {
            let fact = &facts[&seed.fact];
            let event = events.iter().find(|e| e["code"] == seed.code.as_str()).unwrap();
            let (on, day_known) = date(&fact.reported).expect("a date in the reported value");
            assert_eq!(event["occurredOn"], on.to_string(), "fact {}", seed.fact);
            assert_eq!(event["datePrecision"], if day_known { "DAY" } else { "MONTH" }, "fact {}", seed.fact);
            let file_name = event["source"]["fileName"].as_str().unwrap();
            assert!(article_text(file_name).contains(event["quote"].as_str().unwrap()), "fact {}", seed.fact);
            checked += 1;
        }
        let event_facts = facts.values().filter(|f| f.kind == "event").count();
        assert_eq!(checked, event_facts, "every event of the facts is seeded");
    }

    async fn targets_match_the_facts(app: TestApp) {
        let facts = facts();
        let seeds = parse(SEED_FILE).unwrap();
        let data = app
            .data("{ targetProgress(year: 2021) { target { code value comparator quote source { fileName } } } }", json!({}))
            .await;
        let targets = data["targetProgress"].as_array().unwrap();
        let target_facts: BTreeSet<u32> = facts
            .iter()
            .filter(|(_, f)| f.kind.starts_with("target") && f.platform.contains("targets for 2021"))
            .map(|(&n, _)| n)
            .collect();
        let seeded: BTreeSet<u32> = seeds.target.iter().map(|t| t.fact).collect();
        assert_eq!(seeded, target_facts);
        for seed in &seeds.target {
            let fact = &facts[&seed.fact];
            let target = &targets.iter().find(|t| t["target"]["code"] == seed.code.as_str()).unwrap()["target"];
            assert_eq!(decimal(&target["value"]), numbers(&fact.reported)[0], "fact {}", seed.fact);
            assert_eq!(target["comparator"], "AT_LEAST", "fact {}", seed.fact);
            let file_name = target["source"]["fileName"].as_str().unwrap();
            assert!(file_name.starts_with(&format!("{}_", fact.article)));
            assert!(article_text(file_name).contains(target["quote"].as_str().unwrap()), "fact {}", seed.fact);
        }
    }

    async fn seeding_again_changes_nothing(app: TestApp) {
        let count = "{ observations { totalCount } events { code } sources { code } }";
        let before = app.data(count, json!({})).await;
        let report = api::service::seed::load(&app.db).await.unwrap();
        assert_eq!(report.inserted, 0);
        assert!(report.already_present > 0);
        assert_eq!(app.data(count, json!({})).await, before);
    }
}

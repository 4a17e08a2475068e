//! Generated documents and variables, sent to a server on SQLite and one on PostgreSQL: random
//! nesting, fragments, directives and aliases, arguments of every kind as literals or variables,
//! odd strings, numbers and dates. No answer may be a 5xx or an internal error, and both databases
//! must answer alike.
//!
//! `EGOV_KPI_FUZZ_DOCUMENTS` sets how many documents (100,000 by default), `EGOV_KPI_FUZZ_SEED`
//! the generator's seed; a failure names the seed and the document.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use api::config::Limits;
use futures_util::stream::{self, StreamExt};
use serde_json::{json, Map, Value};

use crate::helpers::{Backend, Options, TestApp};

/// A small, fast, reproducible generator (SplitMix64).
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const STRINGS: &[&str] = &[
    "e-cabinet",
    "public-service-portal",
    "document-exchange-axis.documents-exchanged",
    "public-service-portal.level4-online-dossier-rate",
    "e-cabinet.annual-savings",
    "van-phong-chinh-phu",
    "article-001",
    "",
    " ",
    "a\u{0}b",
    "\u{0}",
    "' OR '1'='1' --",
    "Robert'); DROP TABLE platform;--",
    "tỉ lệ hồ sơ trực tuyến",
    "🇻🇳🚀",
    "\u{202e}evil",
    "\u{feff}bom",
    "\\",
    "\"",
    "%00",
    "null",
    "Asia/Ho_Chi_Minh",
    "UTC",
    "Mars/Olympus_Mons",
    "MQ==",
    "eyJpZCI6MX0=",
];

const DATES: &[&str] = &[
    "2019-01-01",
    "2020-12-31",
    "2021-06-30",
    "0001-01-01",
    "1899-12-31",
    "2999-12-31",
    "3000-01-01",
    "9999-12-31",
    "+262143-12-31",
    "-262143-01-01",
    "2021-02-30",
    "not a date",
    "",
];

const INSTANTS: &[&str] = &[
    "2020-01-01T00:00:00Z",
    "2021-06-30T00:00:00+07:00",
    "2100-01-01T00:00:00Z",
    "2021-06-30T00:00:00.123456Z",
    "2021-06-30T00:00:00.1234567Z",
    "2016-12-31T23:59:60Z",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "2021-06-30",
    "yesterday",
];

const DECIMALS: &[&str] = &[
    "1",
    "0.25",
    "-1",
    "100",
    "1e5",
    "5_0",
    "0.0000001",
    "0.00000000000000000000000000001",
    "99999999999999999999",
    "",
];

fn int(random: &mut Random) -> Value {
    match random.below(10) {
        0 => json!(-1),
        1 => json!(0),
        2 => json!(101),
        3 => json!(2_147_483_647),
        4 => json!(2_147_483_648_i64),
        5 => json!(1.5),
        6 => json!("3"),
        _ => json!(random.below(30)),
    }
}

/// A value for an argument of kind `kind`, sometimes of the wrong kind.
fn value(random: &mut Random, kind: &str) -> Value {
    if random.chance(5) {
        return random
            .pick(&[
                json!(null),
                json!(true),
                json!([1, 2]),
                json!({ "a": 1 }),
                json!(1e308),
            ])
            .clone();
    }
    match kind {
        "String" => json!(if random.chance(3) {
            "x".repeat(10_000)
        } else {
            random.pick(STRINGS).to_string()
        }),
        "Int" => int(random),
        "Date" => json!(random.pick(DATES)),
        "DateTime" => json!(random.pick(INSTANTS)),
        "Decimal" => json!(random.pick(DECIMALS)),
        "Boolean" => json!(random.chance(50)),
        "Bucket" => json!(random.pick(&["DAY", "WEEK", "MONTH", "QUARTER", "YEAR", "HOUR"])),
        "ID" => json!(random.pick(&["1", "2", "999999", "-1", "x", "", "1.5"])),
        "Lang" => json!(random.pick(&["VI", "EN", "FR"])),
        _ => json!(null),
    }
}

/// A value a dashboard would send for an argument of kind `kind`.
fn sensible(random: &mut Random, kind: &str) -> Value {
    match kind {
        "String" => json!(random.pick(&STRINGS[..7])),
        "Int" => json!(1 + random.below(25)),
        "Date" => json!(random.pick(&DATES[..3])),
        "DateTime" => json!(random.pick(&INSTANTS[..4])),
        "Decimal" => json!(random.pick(&DECIMALS[..4])),
        "ID" => json!(random.pick(&["1", "2", "3", "999999"])),
        "Lang" => json!(random.pick(&["VI", "EN"])),
        "Bucket" => json!(random.pick(&["DAY", "WEEK", "MONTH", "QUARTER", "YEAR"])),
        other => value(random, other),
    }
}

/// A GraphQL literal for a JSON value (enums are bare names).
fn literal(value: &Value, kind: &str) -> String {
    match (value, kind) {
        (Value::String(text), "Bucket" | "Lang") if !text.is_empty() => text.clone(),
        (Value::Object(_), _) => "{a: 1}".to_owned(),
        (Value::Array(_), _) => "[1, 2]".to_owned(),
        _ => value.to_string(),
    }
}

/// A type's fields: (name, arguments as (name, type), type of the field).
type Fields = &'static [(
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
)];

/// The fields of each type the generator knows.
fn fields(type_name: &str) -> Fields {
    match type_name {
        "QueryRoot" => &[
            ("platforms", &[], "Platform"),
            ("platform", &[("code", "String!")], "Platform"),
            ("agencies", &[], "Agency"),
            ("metrics", &[], "Metric"),
            ("metric", &[("code", "String!")], "Metric"),
            ("sources", &[], "Source"),
            (
                "observations",
                &[
                    ("first", "Int"),
                    ("last", "Int"),
                    ("after", "String"),
                    ("asOf", "DateTime"),
                ],
                "ObservationConnection",
            ),
            (
                "observation",
                &[("id", "ID!"), ("asOf", "DateTime")],
                "Observation",
            ),
            (
                "timeSeries",
                &[
                    ("metric", "String!"),
                    ("from", "Date!"),
                    ("to", "Date!"),
                    ("bucket", "Bucket"),
                    ("timeZone", "String"),
                    ("agency", "String"),
                    ("asOf", "DateTime"),
                ],
                "TimeSeries",
            ),
            (
                "savingsComparison",
                &[("asOf", "DateTime")],
                "SavingsComparison",
            ),
            (
                "targetProgress",
                &[("year", "Int!"), ("asOf", "DateTime")],
                "TargetProgress",
            ),
            ("auditLog", &[("first", "Int")], "AuditEntryConnection"),
            ("apiKeys", &[], "ApiKey"),
        ],
        "MutationRoot" => &[(
            "retractObservation",
            &[("id", "ID!"), ("reason", "String!")],
            "Observation",
        )],
        "Platform" => &[
            ("code", &[], ""),
            ("name", &[("lang", "Lang")], ""),
            ("metrics", &[], "Metric"),
            ("operator", &[], "Agency"),
            ("launch", &[], "Event"),
        ],
        "Metric" => &[
            ("code", &[], ""),
            ("kind", &[], ""),
            ("unit", &[], ""),
            ("platform", &[], "Platform"),
            ("latest", &[], "Observation"),
            (
                "history",
                &[("first", "Int"), ("before", "String")],
                "RevisionConnection",
            ),
        ],
        "Observation" => &[
            ("id", &[], ""),
            ("value", &[], ""),
            ("valueFloat", &[], ""),
            ("qualifier", &[], ""),
            ("denominator", &[], ""),
            ("observedAt", &[], ""),
            ("recordedAt", &[], ""),
            ("quote", &[], ""),
            ("metric", &[], "Metric"),
            ("source", &[], "Source"),
            ("revisions", &[], "Revision"),
        ],
        "ObservationConnection" => &[("totalCount", &[], ""), ("edges", &[], "ObservationEdge")],
        "ObservationEdge" => &[("cursor", &[], ""), ("node", &[], "Observation")],
        "RevisionConnection" => &[("edges", &[], "RevisionEdge")],
        "RevisionEdge" => &[("node", &[], "Revision")],
        "Revision" => &[
            ("revision", &[], ""),
            ("value", &[], ""),
            ("recordedAt", &[], ""),
        ],
        "TimeSeries" => &[
            ("bucket", &[], ""),
            ("aggregation", &[("lang", "Lang")], ""),
            ("points", &[], "SeriesPoint"),
        ],
        "SeriesPoint" => &[
            ("label", &[], ""),
            ("start", &[], ""),
            ("isEmpty", &[], ""),
            ("value", &[], ""),
            ("change", &[], ""),
            ("observationCount", &[], ""),
        ],
        "SavingsComparison" => &[
            ("total", &[], ""),
            ("totalQualifier", &[], ""),
            ("unitLabel", &[("lang", "Lang")], ""),
            ("entries", &[], "SavingsEntry"),
        ],
        "SavingsEntry" => &[
            ("rank", &[], ""),
            ("value", &[], ""),
            ("platform", &[], "Platform"),
        ],
        "TargetProgress" => &[
            ("status", &[], ""),
            ("progress", &[], ""),
            ("target", &[], "Target"),
        ],
        "Target" => &[
            ("code", &[], ""),
            ("value", &[], ""),
            ("description", &[("lang", "Lang")], ""),
        ],
        "Source" => &[
            ("code", &[], ""),
            ("title", &[], ""),
            ("publishedOn", &[], ""),
        ],
        "Agency" => &[("code", &[], ""), ("kind", &[], "")],
        "Event" => &[("code", &[], ""), ("occurredOn", &[], "")],
        "AuditEntryConnection" => &[("edges", &[], "AuditEntryEdge")],
        "AuditEntryEdge" => &[("cursor", &[], "")],
        "ApiKey" => &[("name", &[], "")],
        _ => &[],
    }
}

/// One generated request: its document and its variables.
struct Generator {
    random: Random,
    /// Whether the document may break the schema's rules too (unknown fields, directives,
    /// fragments, cut text), or only sends odd values in well-formed places.
    hostile: bool,
    variables: Map<String, Value>,
    definitions: Vec<String>,
    fragments: Vec<String>,
    aliases: usize,
}

impl Generator {
    fn argument(&mut self, name: &str, kind: &str) -> String {
        let required = kind.ends_with('!');
        let kind = kind.trim_end_matches('!');
        let value = if self.hostile || self.random.chance(30) {
            value(&mut self.random, kind)
        } else {
            sensible(&mut self.random, kind)
        };
        if self.random.chance(40) {
            let variable = format!("v{}", self.variables.len());
            let declared = match kind {
                "Date" => "NaiveDate",
                "Bucket" => "TimeBucket",
                other => other,
            };
            let declared = if self.hostile && self.random.chance(10) {
                "String".to_owned()
            } else if required {
                format!("{declared}!")
            } else {
                declared.to_owned()
            };
            self.definitions.push(format!("${variable}: {declared}"));
            self.variables.insert(variable.clone(), value);
            format!("{name}: ${variable}")
        } else {
            format!("{name}: {}", literal(&value, kind))
        }
    }

    fn directives(&mut self) -> String {
        let mut out = String::new();
        let most = if self.hostile { 3 } else { 2 };
        for _ in 0..self.random.below(most) {
            let directive = *self.random.pick(if self.hostile {
                &["skip", "include", "deprecated", "unknown"]
            } else {
                &["skip", "include", "skip", "include"]
            });
            let condition = if self.random.chance(50) {
                "true"
            } else {
                "false"
            };
            out.push_str(&format!(" @{directive}(if: {condition})"));
        }
        out
    }

    fn selection(&mut self, type_name: &str, depth: usize) -> String {
        let known = fields(type_name);
        let mut parts = Vec::new();
        for _ in 0..1 + self.random.below(4) {
            if known.is_empty() || (self.hostile && self.random.chance(4)) {
                parts.push(
                    self.random
                        .pick(&["__typename", "noSuchField", "code"])
                        .to_string(),
                );
                continue;
            }
            let (name, arguments, child) = *self.random.pick(known);
            let mut field = String::new();
            // Well-formed documents alias every field with arguments uniquely: fields of one
            // name must otherwise ask the same.
            if self.hostile && self.random.chance(20) {
                field.push_str(&format!("a{}: ", self.random.below(40)));
            } else if !self.hostile && !arguments.is_empty() {
                self.aliases += 1;
                field.push_str(&format!("u{}: ", self.aliases));
            }
            field.push_str(name);
            let mut chosen = Vec::new();
            for (argument, kind) in arguments {
                let required = kind.ends_with('!') && !self.hostile;
                if required || self.random.chance(70) {
                    chosen.push(self.argument(argument, kind));
                }
            }
            if !chosen.is_empty() {
                field.push_str(&format!("({})", chosen.join(", ")));
            }
            if self.random.chance(10) {
                field.push_str(&self.directives());
            }
            if !child.is_empty() {
                let mut inner = if depth > 6 {
                    "__typename".to_owned()
                } else {
                    self.selection(child, depth + 1)
                };
                if depth <= 6 && self.random.chance(10) {
                    let index = self.fragments.len();
                    self.fragments.push(String::new());
                    let body = self.selection(child, depth + 1);
                    self.fragments[index] = format!("fragment F{index} on {child} {{ {body} }}");
                    let spreads = if self.hostile {
                        1 + self.random.below(3)
                    } else {
                        1
                    };
                    for _ in 0..spreads {
                        inner.push_str(&format!(" ...F{index}"));
                    }
                }
                if self.hostile && self.random.chance(2) {
                    inner.push_str(" ...Nowhere");
                }
                field.push_str(&format!(" {{ {inner} }}"));
            }
            parts.push(field);
        }
        if self.random.chance(10) {
            let inner = self.selection(type_name, depth + 1);
            parts.push(format!("... on {type_name} {{ {inner} }}"));
        }
        parts.join(" ")
    }

    fn request(seed: u64) -> Value {
        let mut random = Random(seed);
        let hostile = random.chance(30);
        let mut generator = Generator {
            random,
            hostile,
            variables: Map::new(),
            definitions: Vec::new(),
            fragments: Vec::new(),
            aliases: 0,
        };
        let mutation = generator.random.chance(5);
        let root = if mutation {
            "MutationRoot"
        } else {
            "QueryRoot"
        };
        let body = generator.selection(root, 0);
        let keyword = if mutation { "mutation" } else { "query" };
        let definitions = if generator.definitions.is_empty() {
            String::new()
        } else {
            format!("({})", generator.definitions.join(", "))
        };
        let mut document = format!("{keyword} Fuzz{definitions} {{ {body} }}");
        for fragment in &generator.fragments {
            document.push(' ');
            document.push_str(fragment);
        }
        if generator.hostile && generator.random.chance(10) {
            // Broken text: a cut document.
            let cut = generator.random.below(document.len().max(1));
            document.truncate(document.floor_char_boundary(cut));
        }
        json!({ "query": document, "variables": Value::Object(generator.variables) })
    }
}

/// What may differ between two servers: when their seed figures were recorded.
fn normalised(mut answer: Value) -> Value {
    fn walk(value: &mut Value) {
        match value {
            Value::String(text) if text.starts_with("202") && text.len() >= 20 => {
                let year: i32 = text[..4].parse().unwrap_or(0);
                if year >= 2026 && chrono::DateTime::parse_from_rfc3339(text).is_ok() {
                    *text = "<recorded at seeding>".to_owned();
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            Value::Object(fields) => fields.values_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut answer);
    answer
}

async fn ask(client: &reqwest::Client, address: &str, request: &Value) -> (u16, Value) {
    let response = client
        .post(format!("{address}/graphql"))
        .json(request)
        .send()
        .await
        // The transport's own words (a reset, a closed connection): what a flake needs to say.
        .unwrap_or_else(|error| panic!("no answer from {address} to {request}: {error:?}"));
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_documents_get_no_server_error_and_the_same_answer_on_both_databases() {
    let documents: usize = std::env::var("EGOV_KPI_FUZZ_DOCUMENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let seed: u64 = std::env::var("EGOV_KPI_FUZZ_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2026);
    let limits = Limits {
        rate_per_address: u32::MAX,
        ..Limits::default()
    };
    let sqlite = TestApp::spawn_with(Backend::Sqlite, Options::limits(limits.clone())).await;
    let postgres = TestApp::spawn_with(Backend::Postgres, Options::limits(limits)).await;
    let client = reqwest::Client::new();
    let differences = Arc::new(std::sync::Mutex::new(Vec::new()));
    let statuses = Arc::new(AtomicUsize::new(0));
    let executed = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();

    stream::iter(0..documents as u64)
        .for_each_concurrent(8, |index| {
            let (client, differences, statuses, executed) = (
                &client,
                differences.clone(),
                statuses.clone(),
                executed.clone(),
            );
            let (sqlite, postgres) = (&sqlite.address, &postgres.address);
            async move {
                let request = Generator::request(seed.wrapping_mul(1_000_003).wrapping_add(index));
                let ((status_a, answer_a), (status_b, answer_b)) = tokio::join!(
                    ask(client, sqlite, &request),
                    ask(client, postgres, &request)
                );
                for (status, answer) in [(status_a, &answer_a), (status_b, &answer_b)] {
                    assert!(status < 500, "{status} for {request}: {answer}");
                    assert!(
                        !answer.to_string().contains("INTERNAL_SERVER_ERROR"),
                        "an internal error for {request}: {answer}"
                    );
                }
                statuses.fetch_add(1, Ordering::Relaxed);
                // Executed: no error stopped the document before it ran (field errors carry a
                // path).
                let refused = answer_a["errors"]
                    .as_array()
                    .is_some_and(|errors| errors.iter().any(|error| error.get("path").is_none()));
                if !refused {
                    executed.fetch_add(1, Ordering::Relaxed);
                } else if std::env::var("EGOV_KPI_FUZZ_SHOW").is_ok() {
                    eprintln!("REFUSED {}", answer_a["errors"][0]["message"]);
                }
                let (a, b) = (normalised(answer_a), normalised(answer_b));
                if (status_a, &a) != (status_b, &b) {
                    differences.lock().unwrap().push(format!(
                        "{request}\n  SQLite {status_a}: {a}\n  PostgreSQL {status_b}: {b}"
                    ));
                }
            }
        })
        .await;

    let differences = std::mem::take(&mut *differences.lock().unwrap());
    let executed = executed.load(Ordering::Relaxed);
    eprintln!(
        "{documents} generated documents (seed {seed}) on both databases in {:.0?}; {executed} executed",
        started.elapsed()
    );
    assert!(
        executed * 4 >= documents,
        "only {executed} of {documents} documents got past validation: the generator tests too little"
    );
    assert!(
        differences.is_empty(),
        "{} of {documents} answers differ (seed {seed}), first ones:\n{}",
        differences.len(),
        differences
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(statuses.load(Ordering::Relaxed), documents);
    for app in [&sqlite, &postgres] {
        let metrics = app.get("/metrics").await.text().await.unwrap();
        assert!(
            !metrics.contains("code=\"INTERNAL_SERVER_ERROR\""),
            "{metrics}"
        );
    }
}

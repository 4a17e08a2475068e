//! Definitions against the log: every stored version of an indicator or a scored index must be
//! what the entry that defined it recorded (its formula or components, first day, note, and for
//! a first version the names), and every stored version must have such an entry. A formula
//! edited behind the API would change every value computed with it; this is how it is found.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use entity::{audit_entry, indicator, indicator_version, scored_index, scored_index_version};
use sea_orm::{DatabaseConnection, DbErr, EntityTrait};
use serde_json::{Map, Value};

use super::{Action, APPLIED};

/// A stored version, as the log's detail names its parts.
struct Stored {
    version: i32,
    valid_from: Option<NaiveDate>,
    body: Value,
    note: Option<String>,
    names: (String, String),
}

/// What a kind of definition is called, where its entries are, and the name of its body.
struct Kind {
    name: &'static str,
    define: Action,
    revise: Action,
    body: &'static str,
    prefix: &'static str,
}

const KINDS: [Kind; 2] = [
    Kind {
        name: "indicator",
        define: Action::DefineIndicator,
        revise: Action::ReviseIndicator,
        body: "formula",
        prefix: "indicator:",
    },
    Kind {
        name: "scored index",
        define: Action::DefineScoredIndex,
        revise: Action::ReviseScoredIndex,
        body: "components",
        prefix: "scored-index:",
    },
];

/// An entry that stored a version.
struct Entry {
    sequence: i64,
    /// It defined the definition (a first version, with the names).
    defined: bool,
    detail: Map<String, Value>,
}

/// The entries that stored a definition's version, met during the walk.
#[derive(Default)]
pub struct Logged {
    /// By kind, then by code and version.
    versions: [BTreeMap<(String, i64), Entry>; 2],
}

impl Logged {
    pub fn note(&mut self, entry: &audit_entry::Model) {
        if entry.outcome != APPLIED {
            return;
        }
        let Some(action) = Action::parse(&entry.action) else {
            return;
        };
        for (kind, versions) in KINDS.iter().zip(self.versions.iter_mut()) {
            if action != kind.define && action != kind.revise {
                continue;
            }
            let code = entry
                .subject
                .as_deref()
                .and_then(|s| s.strip_prefix(kind.prefix));
            let detail = serde_json::from_str::<Map<String, Value>>(&entry.detail).ok();
            if let (Some(code), Some(detail)) = (code, detail) {
                let version = detail.get("version").and_then(Value::as_i64).unwrap_or(0);
                let logged = Entry {
                    sequence: entry.sequence,
                    defined: action == kind.define,
                    detail,
                };
                versions.insert((code.to_owned(), version), logged);
            }
        }
    }
}

async fn stored(db: &DatabaseConnection) -> Result<[BTreeMap<(String, i64), Stored>; 2], DbErr> {
    let body = |text: &str| serde_json::from_str(text).unwrap_or(Value::String(text.to_owned()));
    let indicators = indicator_version::Entity::find()
        .find_also_related(indicator::Entity)
        .all(db)
        .await?
        .into_iter()
        .filter_map(|(version, head)| {
            let head = head?;
            Some((
                (head.code, i64::from(version.version)),
                Stored {
                    version: version.version,
                    valid_from: version.valid_from,
                    body: body(&version.formula),
                    note: version.note,
                    names: (head.name_vi, head.name_en),
                },
            ))
        })
        .collect();
    let indices = scored_index_version::Entity::find()
        .find_also_related(scored_index::Entity)
        .all(db)
        .await?
        .into_iter()
        .filter_map(|(version, head)| {
            let head = head?;
            Some((
                (head.code, i64::from(version.version)),
                Stored {
                    version: version.version,
                    valid_from: version.valid_from,
                    body: body(&version.components),
                    note: version.note,
                    names: (head.name_vi, head.name_en),
                },
            ))
        })
        .collect();
    Ok([indicators, indices])
}

/// Compares the stored versions with the logged ones; `problem` is told of each difference.
pub async fn check(
    db: &DatabaseConnection,
    logged: Logged,
    mut problem: impl FnMut(Option<i64>, String),
) -> Result<(), DbErr> {
    for ((kind, logged), mut stored) in KINDS.iter().zip(logged.versions).zip(stored(db).await?) {
        for ((code, number), entry) in logged {
            let Entry {
                sequence,
                defined,
                detail,
            } = entry;
            let what = format!("{} `{code}` version {number}", kind.name);
            let Some(row) = stored.remove(&(code.clone(), number)) else {
                problem(
                    Some(sequence),
                    format!("{what} was recorded by entry {sequence} but is not stored"),
                );
                continue;
            };
            let mut expected = Map::new();
            expected.insert("version".into(), row.version.into());
            expected.insert(
                "validFrom".into(),
                serde_json::to_value(row.valid_from).unwrap_or_default(),
            );
            expected.insert(kind.body.into(), row.body);
            expected.insert("note".into(), row.note.into());
            if defined {
                expected.insert("nameVi".into(), row.names.0.into());
                expected.insert("nameEn".into(), row.names.1.into());
            }
            let differing: Vec<&str> = expected
                .iter()
                .filter(|(key, value)| detail.get(key.as_str()) != Some(value))
                .map(|(key, _)| key.as_str())
                .collect();
            if !differing.is_empty() {
                problem(
                    Some(sequence),
                    format!(
                        "{what}: its {} differ from what entry {sequence} recorded",
                        differing.join(", ")
                    ),
                );
            }
        }
        for (code, number) in stored.into_keys() {
            problem(
                None,
                format!(
                    "{} `{code}` version {number} is stored but no entry recorded it",
                    kind.name
                ),
            );
        }
    }
    Ok(())
}

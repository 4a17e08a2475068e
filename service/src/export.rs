//! Exports for auditors: every revision of the chosen observations, read a chunk at a time so
//! that memory stays flat however many rows there are.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use ed25519_dalek::VerifyingKey;
use entity::{observation, observation_revision};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::access::{Permission, Principal};
use super::audit::anchor::{self, Anchor};
use super::catalog::MetricFilter;
use super::observations::normalized;
use super::reference::ReferenceCache;
use crate::error::ApiError;

/// Rows read from the database at a time.
pub const CHUNK: u64 = 1000;

#[derive(Debug, Clone, Default)]
pub struct ExportFilter {
    pub platform: Option<String>,
    pub metric: Option<String>,
}

/// The columns of a CSV export, as [`ExportRow`] names its fields.
pub const COLUMNS: [&str; 18] = [
    "observation_id",
    "metric",
    "agency",
    "observed_at",
    "period_start",
    "revision",
    "value",
    "qualifier",
    "denominator",
    "source",
    "quote",
    "note",
    "recorded_at",
    "recorded_by",
    "reason",
    "superseded_at",
    "retracted",
    "synthetic",
];

/// One revision, flattened for CSV and JSON.
#[derive(Debug, Clone, Serialize)]
pub struct ExportRow {
    pub observation_id: i32,
    pub metric: String,
    pub agency: Option<String>,
    pub observed_at: String,
    pub period_start: Option<String>,
    pub revision: i32,
    pub value: String,
    pub qualifier: String,
    pub denominator: Option<String>,
    pub source: String,
    pub quote: String,
    pub note: Option<String>,
    pub recorded_at: String,
    pub recorded_by: String,
    pub reason: Option<String>,
    pub superseded_at: Option<String>,
    pub retracted: bool,
    pub synthetic: bool,
}

impl ExportRow {
    /// The row as a spreadsheet may open it: free text that a spreadsheet would run as a formula
    /// (`=HYPERLINK(…)`, `+…`, `-…`, `@…`) starts with an apostrophe instead. Values and codes
    /// are the service's own and never start so, but a negative value does, and is left as it is.
    pub fn for_spreadsheet(mut self) -> Self {
        fn inert(text: &mut String) {
            if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                text.insert(0, '\'');
            }
        }
        inert(&mut self.quote);
        inert(&mut self.recorded_by);
        for text in [&mut self.note, &mut self.reason].into_iter().flatten() {
            inert(text);
        }
        self
    }
}

fn timestamp(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// What an export reads from: the codes of reference rows, and which metrics to include.
pub struct Export {
    metrics: HashMap<i32, String>,
    agencies: HashMap<i32, String>,
    sources: HashMap<i32, String>,
    metric_ids: Vec<i32>,
}

impl Export {
    /// Checks the caller and the filter before anything is streamed.
    pub async fn prepare(
        reference: &ReferenceCache,
        principal: &Principal,
        filter: &ExportFilter,
    ) -> Result<Self, ApiError> {
        principal.require(Permission::Audit)?;
        let chosen = reference
            .metrics(&MetricFilter {
                platform: filter.platform.clone(),
                ..Default::default()
            })
            .await?;
        let metric_ids = match &filter.metric {
            Some(code) => vec![
                reference
                    .metric_by_code(code)
                    .await
                    .map_err(|e| e.for_argument("metric"))?
                    .id,
            ],
            None => chosen.iter().map(|m| m.id).collect(),
        };
        let snapshot = reference.current().await?;
        Ok(Self {
            metrics: snapshot
                .metrics()
                .iter()
                .map(|m| (m.id, m.code.clone()))
                .collect(),
            agencies: snapshot
                .agencies()
                .iter()
                .map(|a| (a.id, a.code.clone()))
                .collect(),
            sources: snapshot
                .sources()
                .iter()
                .map(|s| (s.id, s.code.clone()))
                .collect(),
            metric_ids,
        })
    }

    /// The next chunk of revisions after revision id `after`, in the order they were written.
    pub async fn chunk(
        &self,
        db: &DatabaseConnection,
        after: i32,
    ) -> Result<Vec<(i32, ExportRow)>, ApiError> {
        let rows = observation_revision::Entity::find()
            .find_also_related(observation::Entity)
            .filter(observation::Column::MetricId.is_in(self.metric_ids.iter().copied()))
            .filter(observation_revision::Column::Id.gt(after))
            .order_by_asc(observation_revision::Column::Id)
            .limit(CHUNK)
            .all(db)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(revision, observation)| {
                let observation = observation?;
                let revision = normalized(revision);
                let code = |codes: &HashMap<i32, String>, id: i32| {
                    codes.get(&id).cloned().unwrap_or_default()
                };
                Some((
                    revision.id,
                    ExportRow {
                        observation_id: observation.id,
                        metric: code(&self.metrics, observation.metric_id),
                        agency: observation.agency_id.map(|id| code(&self.agencies, id)),
                        observed_at: timestamp(observation.observed_at),
                        period_start: observation.period_start.map(timestamp),
                        revision: revision.revision,
                        value: revision.value.to_string(),
                        qualifier: serde_json::to_value(revision.qualifier)
                            .ok()
                            .and_then(|q| q.as_str().map(str::to_owned))
                            .unwrap_or_default(),
                        denominator: revision.denominator.map(|d| d.to_string()),
                        source: code(&self.sources, revision.source_id),
                        quote: revision.quote,
                        note: revision.note,
                        recorded_at: timestamp(revision.recorded_at),
                        recorded_by: revision.recorded_by,
                        reason: revision.reason,
                        superseded_at: revision.superseded_at.map(timestamp),
                        retracted: revision.retracted,
                        synthetic: observation.synthetic,
                    },
                ))
            })
            .collect())
    }
}

/// The last line of a CSV export, before its statement.
pub const CSV_STATEMENT_PREFIX: &str = "#egov-kpi-statement ";
/// The last line of a JSON export, before its statement (the line ends the object with `}`).
pub const JSON_STATEMENT_PREFIX: &str = "\"statement\":";

/// What the last line of an export says about the bytes before it: taken at which chain head,
/// how many rows, their digest; signed when the server has a signing key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportStatement {
    /// `csv` or `json`.
    pub format: String,
    /// `sequence:hash` of the audit chain when the export began.
    pub chain_head: String,
    pub rows: u64,
    /// SHA-256 of every byte of the file before the statement's line, hex.
    pub sha256: String,
    pub signed_at: DateTime<Utc>,
    pub public_key: Option<String>,
    pub signature: Option<String>,
}

impl ExportStatement {
    /// What the signature covers: every field but the signature.
    fn signed_bytes(&self) -> Vec<u8> {
        format!(
            "egov-kpi export\nformat {}\nchain head {}\nrows {}\nsha256 {}\nsigned at {}\n",
            self.format,
            self.chain_head,
            self.rows,
            self.sha256,
            timestamp(self.signed_at)
        )
        .into_bytes()
    }

    /// The statement of an export, signed with `anchor` if there is one.
    pub fn new(
        format: &str,
        chain_head: String,
        rows: u64,
        digest: [u8; 32],
        anchor: Option<&Anchor>,
    ) -> Self {
        let mut statement = Self {
            format: format.to_owned(),
            chain_head,
            rows,
            sha256: hex::encode(digest),
            signed_at: Utc::now().trunc_subsecs(6),
            public_key: None,
            signature: None,
        };
        if let Some(anchor) = anchor {
            statement.public_key = Some(anchor.public_key_hex());
            statement.signature = Some(anchor.sign(&statement.signed_bytes()));
        }
        statement
    }

    /// The statement as the export's last line.
    pub fn last_line(&self) -> String {
        let json = serde_json::to_string(self).expect("a statement serialises");
        match self.format.as_str() {
            "csv" => format!("{CSV_STATEMENT_PREFIX}{json}\n"),
            _ => format!("{JSON_STATEMENT_PREFIX}{json}}}\n"),
        }
    }
}

/// What checking an export found, when everything holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedExport {
    pub statement: ExportStatement,
}

/// Checks an export file without a database: its statement is signed by `key`, and the bytes
/// before it have the digest and the row count it states.
pub fn check_export(file: &[u8], key: &VerifyingKey) -> Result<CheckedExport, String> {
    let body_end = file
        .strip_suffix(b"\n")
        .unwrap_or(file)
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let (body, last_line) = file.split_at(body_end);
    let last_line = std::str::from_utf8(last_line)
        .map_err(|_| "the last line is not text: the statement is missing".to_owned())?
        .trim_end_matches('\n');
    let (json, format) = if let Some(json) = last_line.strip_prefix(CSV_STATEMENT_PREFIX) {
        (json, "csv")
    } else if let Some(json) = last_line
        .strip_prefix(JSON_STATEMENT_PREFIX)
        .and_then(|rest| rest.strip_suffix('}'))
    {
        (json, "json")
    } else {
        return Err("the file does not end with an egov-kpi statement".to_owned());
    };
    let statement: ExportStatement =
        serde_json::from_str(json).map_err(|e| format!("the statement is malformed: {e}"))?;
    if statement.format != format {
        return Err(format!(
            "the statement is for a {} export",
            statement.format
        ));
    }
    let (Some(public_key), Some(signature)) = (&statement.public_key, &statement.signature) else {
        return Err(
            "the statement is not signed: the server that made it had no signing key".to_owned(),
        );
    };
    if *public_key != hex::encode(key.as_bytes())
        || !anchor::verify_signature(key, &statement.signed_bytes(), signature)
    {
        return Err("the statement is not signed by the given public key".to_owned());
    }
    let digest = hex::encode(Sha256::digest(body));
    if digest != statement.sha256 {
        return Err(format!(
            "the rows were changed: they hash to {digest}, the signed statement says {}",
            statement.sha256
        ));
    }
    let rows = match format {
        "csv" => csv::Reader::from_reader(body).records().count() as u64,
        _ => {
            let object = body
                .strip_suffix(b",\n")
                .ok_or("the rows do not end as an export's do")?;
            let mut whole = object.to_vec();
            whole.push(b'}');
            #[derive(Deserialize)]
            struct Rows {
                rows: Vec<serde_json::Value>,
            }
            serde_json::from_slice::<Rows>(&whole)
                .map_err(|e| format!("the rows are not JSON: {e}"))?
                .rows
                .len() as u64
        }
    };
    if rows != statement.rows {
        return Err(format!(
            "the file holds {rows} rows, the signed statement says {}",
            statement.rows
        ));
    }
    Ok(CheckedExport { statement })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_a_spreadsheet_would_run_is_made_inert_and_values_are_kept() {
        let row = ExportRow {
            observation_id: 1,
            metric: "m".into(),
            agency: None,
            observed_at: "t".into(),
            period_start: None,
            revision: 1,
            value: "-5".into(),
            qualifier: "EXACT".into(),
            denominator: None,
            source: "s".into(),
            quote: "=HYPERLINK(\"http://x\")".into(),
            note: Some("@SUM(A1)".into()),
            recorded_at: "t".into(),
            recorded_by: "+key".into(),
            reason: Some("a plain reason".into()),
            superseded_at: None,
            retracted: false,
            synthetic: false,
        }
        .for_spreadsheet();
        assert_eq!(row.quote, "'=HYPERLINK(\"http://x\")");
        assert_eq!(row.note.as_deref(), Some("'@SUM(A1)"));
        assert_eq!(row.recorded_by, "'+key");
        assert_eq!(row.reason.as_deref(), Some("a plain reason"));
        assert_eq!(row.value, "-5");
    }
}

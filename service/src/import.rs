//! Importing figures from CSV, under the same rules as any other batch: all rows or none, and a
//! dry run that reports every bad row with its line number.
//!
//! Columns (a header row names them; their order is free): `metric`, `observed_at`, `value`,
//! `source`, `quote`, and optionally `agency`, `period_start`, `qualifier`, `denominator`, `note`.
//! Dates are RFC 3339 instants or `YYYY-MM-DD` days (00:00 Vietnam time); qualifiers are
//! `exact`, `more_than`, `at_least`, `about`, `nearly`, `less_than` (default `exact`).

use std::io::Read;

use chrono::{DateTime, NaiveDate, Utc};
use entity::values::Qualifier;
use rust_decimal::Decimal;
use sea_orm::DatabaseConnection;
use serde::de::IntoDeserializer;
use serde::Deserialize;

use super::access::Permission;
use super::audit::{self, Action, Caller};
use super::recording::{self, Mode, NewObservation, Recorded};
use super::time::{start_of_day, VIETNAM};
use crate::error::{ApiError, ItemFailure, MAX_ITEM_FAILURES};
use crate::messages::Message;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    metric: String,
    agency: Option<String>,
    observed_at: String,
    period_start: Option<String>,
    value: String,
    qualifier: Option<String>,
    denominator: Option<String>,
    source: String,
    quote: String,
    note: Option<String>,
}

fn instant(text: &str) -> Result<DateTime<Utc>, Message> {
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Ok(instant.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(|day| start_of_day(day, VIETNAM))
        .map_err(|_| crate::message!(NOT_AN_INSTANT_OR_DAY, text = text))
}

fn decimal(text: &str) -> Result<Decimal, Message> {
    super::exact::parse(text)
}

/// A qualifier by its name, `more_than` or `MORE_THAN`.
pub(crate) fn qualifier(text: &str) -> Result<Qualifier, Message> {
    let lowercase = text.to_ascii_lowercase();
    Qualifier::deserialize(lowercase.as_str().into_deserializer())
        .map_err(|_: serde::de::value::Error| crate::message!(NOT_A_QUALIFIER, text = text))
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// The most rows one file may hold: a larger set is split into several imports.
pub const MAX_ROWS: usize = 100_000;

/// Reads every row; a row that cannot be read becomes a failure with its line number.
pub fn parse(input: impl Read) -> Result<Vec<NewObservation>, ApiError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(input);
    let mut items = Vec::new();
    let mut failures = Vec::new();
    let mut failure_count = 0;
    let headers = match reader.headers() {
        Ok(headers) => headers.clone(),
        Err(error) => {
            return Err(ApiError::bad_input(
                "file",
                crate::message!(NO_HEADER_ROW, error = error),
            ))
        }
    };
    for (index, record) in reader.records().enumerate() {
        if index == MAX_ROWS {
            return Err(ApiError::bad_input(
                "file",
                crate::message!(FILE_TOO_MANY_ROWS, max = MAX_ROWS),
            ));
        }
        // Only the first failures are kept in detail: a file of bad lines costs no more memory
        // than the answer can carry.
        let mut fail = |line: Option<u64>, field: &'static str, message: Message| {
            failure_count += 1;
            if failures.len() < MAX_ITEM_FAILURES {
                failures.push(ItemFailure {
                    index,
                    line,
                    field,
                    message,
                });
            }
        };
        // The line a record starts on, quoted line breaks included.
        let parsed = record.and_then(|record| {
            let line = record.position().map(|p| p.line());
            record
                .deserialize::<Row>(Some(&headers))
                .map(|row| (line, row))
        });
        let (line, row) = match parsed {
            Ok(parsed) => parsed,
            Err(error) => {
                let line = error.position().map(|p| p.line());
                fail(line, "row", crate::message!(ROW_UNREADABLE, error = error));
                continue;
            }
        };
        let observed_at = instant(&row.observed_at).map_err(|m| fail(line, "observed_at", m));
        let period_start = non_empty(row.period_start)
            .map(|t| instant(&t))
            .transpose()
            .map_err(|m| fail(line, "period_start", m));
        let value = decimal(&row.value).map_err(|m| fail(line, "value", m));
        let denominator = non_empty(row.denominator)
            .map(|t| decimal(&t))
            .transpose()
            .map_err(|m| fail(line, "denominator", m));
        let qualifier = non_empty(row.qualifier)
            .map(|t| qualifier(&t))
            .transpose()
            .map_err(|m| fail(line, "qualifier", m));
        if let (Ok(observed_at), Ok(period_start), Ok(value), Ok(denominator), Ok(qualifier)) =
            (observed_at, period_start, value, denominator, qualifier)
        {
            items.push(NewObservation {
                metric: row.metric,
                agency: non_empty(row.agency),
                observed_at,
                period_start,
                value,
                qualifier: qualifier.unwrap_or(Qualifier::Exact),
                denominator,
                source: row.source,
                quote: row.quote,
                note: non_empty(row.note),
                line,
            });
        }
    }
    if failures.is_empty() {
        Ok(items)
    } else {
        Err(ApiError::InvalidItems {
            failures,
            total: failure_count,
        })
    }
}

/// Imports a CSV file: parses it, then records every row in one batch.
pub async fn import(
    db: &DatabaseConnection,
    caller: &Caller,
    name: &str,
    input: impl Read,
    mode: Mode,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Recorded, ApiError> {
    // Who may import is decided before the file is read: a refused caller costs no parsing.
    let items = caller
        .principal
        .require(Permission::Record)
        .and_then(|()| parse(input));
    let items = match items {
        Ok(items) => items,
        Err(error) => {
            let subject = Some(format!("file:{name}"));
            return audit::log_refusal(db, caller, Action::ImportObservations, subject, Err(error))
                .await;
        }
    };
    recording::record(db, caller, items, None, mode, progress).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_of_bad_lines_is_answered_with_the_first_failures_and_a_count() {
        let mut csv = String::from("metric,observed_at,value,source,quote\n");
        for _ in 0..5_000 {
            csv.push_str("a.b,never,x,s,q\n");
        }
        let ApiError::InvalidItems { failures, total } = parse(csv.as_bytes()).unwrap_err() else {
            panic!("expected item failures");
        };
        assert_eq!(failures.len(), MAX_ITEM_FAILURES);
        assert_eq!(total, 10_000, "two bad fields on every line");

        let mut huge = String::from("metric,observed_at,value,source,quote\n");
        huge.push_str(&"x\n".repeat(MAX_ROWS + 1));
        let refused = parse(huge.as_bytes()).unwrap_err();
        assert_eq!(refused.code(), "BAD_USER_INPUT");
        assert!(
            refused.to_string().contains("more than 100000 rows"),
            "{refused}"
        );
    }

    #[test]
    fn rows_are_read_with_their_line_numbers() {
        let csv = "metric,observed_at,value,qualifier,source,quote\n\
                   a.b,2021-03-31,25.5,more_than,article-001,\"trên 25,\nhai dòng\"\n\
                   a.b,31/03/2021,x,,article-001,q\n";
        let ApiError::InvalidItems { failures, .. } = parse(csv.as_bytes()).unwrap_err() else {
            panic!("expected item failures");
        };
        let fields: Vec<(Option<u64>, &str)> = failures.iter().map(|f| (f.line, f.field)).collect();
        // The first row's quote spans two lines: the bad row starts on line 4.
        assert_eq!(fields, [(Some(4), "observed_at"), (Some(4), "value")]);

        let good = parse(&csv.as_bytes()[..csv.find("a.b,31").unwrap()]).unwrap();
        assert_eq!(good[0].qualifier, Qualifier::MoreThan);
        assert_eq!(good[0].value.to_string(), "25.5");
        assert_eq!(good[0].line, Some(2));
        assert_eq!(
            good[0].observed_at.to_rfc3339(),
            "2021-03-30T17:00:00+00:00"
        );
    }
}

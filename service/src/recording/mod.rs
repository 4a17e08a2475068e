//! Recording figures: batches that are all-or-nothing, corrections that never overwrite,
//! retractions that keep history, each written together with its audit entries.
//!
//! - `rules`: every rule a figure must meet, whether it comes from GraphQL, a CSV import, the
//!   seed or the demonstration data;
//! - `batch`: checking a batch against the database and storing it, with idempotency;
//! - `corrections`: corrections and retractions, new revisions of a stored figure;
//! - `group`: batches from concurrent writers written together, one commit for all.

use chrono::{DateTime, Utc};
use entity::values::Qualifier;
use rust_decimal::Decimal;
use serde::Serialize;

use super::observations::CurrentObservation;

mod batch;
mod corrections;
mod group;
mod rules;

pub use batch::record;
pub use corrections::{correct, retract, Correction};
pub use group::GroupCommit;
pub use rules::check_figure;

/// The longest quote or note kept with a figure.
pub const MAX_TEXT: usize = 2000;

/// A figure as a reporter submits it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewObservation {
    pub metric: String,
    pub agency: Option<String>,
    pub observed_at: DateTime<Utc>,
    pub period_start: Option<DateTime<Utc>>,
    pub value: Decimal,
    pub qualifier: Qualifier,
    pub denominator: Option<Decimal>,
    pub source: String,
    pub quote: String,
    pub note: Option<String>,
    /// The CSV line the figure was read from, for error reports.
    #[serde(skip)]
    pub line: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Store the batch.
    Apply,
    /// Check every item, report every failure, store nothing.
    DryRun,
}

#[derive(Debug, Clone)]
pub struct Recorded {
    /// What was stored (empty for a dry run).
    pub observations: Vec<CurrentObservation>,
    /// How many items were valid.
    pub checked: usize,
    /// True when an idempotency key matched an earlier request, whose result this is.
    pub replayed: bool,
}

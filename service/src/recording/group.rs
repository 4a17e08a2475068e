//! Group commit: batches that arrive while another group is being written wait for it and are
//! then written together, in one transaction that holds the chain's head once and commits once.
//!
//! Each batch is still all-or-nothing: every rule is checked before anything of it is written, so
//! a refused batch leaves nothing behind while the others of its group are kept. The chain stays
//! linear (the group appends in the order its batches arrived), and no batch is acknowledged
//! before the commit that makes it durable: when the commit fails, every batch of the group is
//! answered with that error and nothing of it is stored. A batch whose caller has gone (a timed
//! out request) is left out, and the group written again without it if it had been written.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr};
use tokio::sync::{mpsc, oneshot};

use crate::audit::{self, Action, Caller, APPLIED};
use crate::error::ApiError;
use crate::kinds;
use crate::observations::{self, Places};

use super::batch::{check, places, store, Batch, Catalog, Checked, KnownRows, ToStore, Written};
use super::rules::Valid;
use super::{NewObservation, Recorded};

/// Batches waiting for the writer, beyond which a new one waits to be queued.
const QUEUED_BATCHES: usize = 1024;
/// Rows a group gathers at most: enough to share a commit among many small writers without
/// making one of them wait behind a long group.
const ROWS_PER_GROUP: usize = 2000;
/// Rows a group stores without reading their places first: a round trip saved for a few small
/// writers. Past a few, PostgreSQL, guessing that the guard lets almost none through, joins the
/// stored figures to their revisions by a nested loop: a 1000-figure batch took twice as long
/// (bench/RESULTS-writes.md).
const ROWS_CHECKED_BY_THE_INSERT: usize = 64;

/// The process's writer of batches; cloned handles share it.
#[derive(Clone)]
pub struct GroupCommit {
    db: DatabaseConnection,
    queue: mpsc::Sender<Job>,
    pending: Arc<AtomicUsize>,
}

/// A batch counted as pending while its request waits for the writer, however it ends.
struct Pending(Arc<AtomicUsize>);

impl Pending {
    fn count(pending: &Arc<AtomicUsize>) -> Self {
        pending.fetch_add(1, Ordering::Relaxed);
        Self(pending.clone())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

struct Job {
    caller: Caller,
    items: Vec<NewObservation>,
    idempotency_key: Option<String>,
    answer: oneshot::Sender<Result<Recorded, ApiError>>,
}

impl GroupCommit {
    /// Starts the writer on the current runtime; it stops when every handle is dropped.
    pub fn start(db: DatabaseConnection) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUED_BATCHES);
        tokio::spawn(write_groups(db.clone(), jobs));
        Self {
            db,
            queue,
            pending: Arc::default(),
        }
    }

    /// Batches handed to the writer and not yet answered: waiting for their group, or in the
    /// group being written.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    /// Records a batch as `recording::record` does in `Mode::Apply`, sharing its transaction and
    /// commit with the batches that arrive with it.
    pub async fn record(
        &self,
        caller: &Caller,
        items: Vec<NewObservation>,
        idempotency_key: Option<&str>,
    ) -> Result<Recorded, ApiError> {
        let pending = Pending::count(&self.pending);
        let (answer, answered) = oneshot::channel();
        let job = Job {
            caller: caller.clone(),
            items,
            idempotency_key: idempotency_key.map(str::to_owned),
            answer,
        };
        let result = match self.queue.send(job).await {
            // A group that failed before answering stored nothing of it.
            Ok(()) => answered.await.unwrap_or_else(|_| {
                Err(ApiError::from(DbErr::Custom(
                    "the group of writes this batch was in failed".to_owned(),
                )))
            }),
            // The writer stops only with the process.
            Err(_) => Err(ApiError::Stopping),
        };
        drop(pending);
        audit::log_refusal(&self.db, caller, Action::RecordObservation, None, result).await
    }
}

async fn write_groups(db: DatabaseConnection, mut jobs: mpsc::Receiver<Job>) {
    let mut known = KnownRows::default();
    while let Some(first) = jobs.recv().await {
        let mut rows = first.items.len();
        let mut group = vec![first];
        while rows < ROWS_PER_GROUP {
            let Ok(job) = jobs.try_recv() else { break };
            rows += job.items.len();
            group.push(job);
        }
        // A group of its own task: should it panic, its batches are answered (their senders
        // dropped) and the writer goes on with the next.
        let written = tokio::spawn(write_group(db.clone(), group, known)).await;
        known = written.unwrap_or_else(|error| {
            tracing::error!(%error, "a group of writes failed before it was answered");
            KnownRows::default()
        });
    }
}

/// Writes a group, and gives back the reference rows it came to know.
async fn write_group(
    db: DatabaseConnection,
    mut group: Vec<Job>,
    mut known: KnownRows,
) -> KnownRows {
    // The places of a few figures are checked by the statement that stores them, a round trip
    // less on the chain's head; a group that finds one taken is written again, reading them
    // first, so that each batch gets its own answer. Many figures are read first (see
    // `ROWS_CHECKED_BY_THE_INSERT`).
    let rows: usize = group.iter().map(|job| job.items.len()).sum();
    let mut places_known = if rows <= ROWS_CHECKED_BY_THE_INSERT {
        Places::Unread
    } else {
        Places::Free
    };
    loop {
        // A caller that gave up (its request timed out, its connection closed) is answered
        // nothing and its batch is not stored: a request answered with an error stores nothing.
        group.retain(|job| !job.answer.is_closed());
        if group.is_empty() {
            return known;
        }
        let mut results = Vec::with_capacity(group.len());
        match attempt(&db, &group, places_known, &mut results, &mut known).await {
            Ok(Attempt::Committed) => {
                for (job, result) in group.into_iter().zip(results) {
                    let _ = job.answer.send(result);
                }
                return known;
            }
            // Someone left while the group was written: write it again without them.
            Ok(Attempt::Abandoned) => continue,
            Ok(Attempt::PlaceTaken) => places_known = Places::Free,
            Err(error) => {
                // Nothing of the group was stored: a batch that had been refused keeps its own
                // reason, every other one is told why the group failed.
                let refusals = results.into_iter().map(Some).chain(std::iter::repeat(None));
                for (job, refused) in group.into_iter().zip(refusals) {
                    let result = match refused {
                        Some(Err(reason)) => Err(reason),
                        _ => Err(error.clone()),
                    };
                    let _ = job.answer.send(result);
                }
                return known;
            }
        }
    }
}

enum Attempt {
    Committed,
    /// Rolled back, because a caller of the group went away before the commit.
    Abandoned,
    /// Rolled back, because a figure was found recorded at a place not read before.
    PlaceTaken,
}

/// Checks each batch of the group in turn and stores those that pass together, then commits;
/// `results` gets each batch's answer. The error is the group's: the database failing under it.
async fn attempt(
    db: &DatabaseConnection,
    group: &[Job],
    places_known: Places,
    results: &mut Vec<Result<Recorded, ApiError>>,
    known: &mut KnownRows,
) -> Result<Attempt, ApiError> {
    let txn = audit::begin_write(db).await?;
    // The reference rows the group names, read once: each batch sees them as of the group's
    // start, as it would have had it arrived first.
    let catalog = Catalog::load(&txn, group.iter().flat_map(|job| &job.items), known).await?;
    // The figures already recorded where the group's batches would write, read together (the
    // small writers' lone figures in one statement rather than one each), or taken to be none.
    let already_recorded = match places_known {
        Places::Free => {
            observations::existing_in_batches(
                &txn,
                group.iter().map(|job| places(&job.items, &catalog)),
            )
            .await?
        }
        Places::Unread => HashMap::new(),
    };
    let mut answers: Vec<Option<Result<Written, ApiError>>> = group.iter().map(|_| None).collect();
    let mut waiting = Waiting::default();
    let mut group_writes = GroupWrites::default();
    for (index, job) in group.iter().enumerate() {
        let mut batch = Batch {
            caller: &job.caller,
            items: &job.items,
            idempotency_key: job.idempotency_key.as_deref(),
            catalog: &catalog,
            already_recorded: Some(&already_recorded),
        };
        // A batch that could depend on earlier ones of the group (the same instant of a series,
        // a counter's series, an idempotency key) is checked after they are stored, reading
        // afresh, so that it sees them as it would have had it come later.
        let touched = group_writes.touched_by(&batch);
        if (touched || batch.idempotency_key.is_some())
            && !waiting.store(&txn, &mut answers, places_known).await?
        {
            txn.rollback().await?;
            return Ok(Attempt::PlaceTaken);
        }
        if touched {
            batch.already_recorded = None;
        }
        match check(&txn, &batch, &|_| {}).await {
            Ok(Checked::Replayed(recorded)) => {
                answers[index] = Some(Ok(Written {
                    recorded,
                    entries: Vec::new(),
                }));
            }
            Ok(Checked::Valid {
                valid,
                request_hash,
            }) => {
                group_writes.add(&batch, &valid);
                waiting.add(
                    index,
                    ToStore {
                        batch,
                        valid,
                        request_hash,
                    },
                );
            }
            // Nothing of a refused batch was written: the group goes on.
            Err(refused) if refused.is_refusal() => answers[index] = Some(Err(refused)),
            Err(error) => return Err(error),
        }
    }
    if !waiting.store(&txn, &mut answers, places_known).await? {
        txn.rollback().await?;
        return Ok(Attempt::PlaceTaken);
    }
    if group.iter().any(|job| job.answer.is_closed()) {
        txn.rollback().await?;
        return Ok(Attempt::Abandoned);
    }
    // The entries of the group are appended together, in the order its batches arrived: one
    // read and one update of the chain's head for the whole group.
    let mut entries = Vec::new();
    for (job, answer) in group.iter().zip(answers) {
        let answer = answer.expect("every batch of the group answered");
        results.push(match answer {
            Ok(written) => {
                entries.extend(written.entries.into_iter().map(|e| (&job.caller, e)));
                Ok(written.recorded)
            }
            Err(refused) => Err(refused),
        });
    }
    audit::append_each(&txn, APPLIED, entries).await?;
    txn.commit().await?;
    Ok(Attempt::Committed)
}

/// Where the group's checked batches write, stored yet or not.
#[derive(Default)]
struct GroupWrites {
    instants: HashSet<(i32, Option<i32>, DateTime<Utc>)>,
    counters: HashSet<(i32, Option<i32>)>,
}

impl GroupWrites {
    fn add(&mut self, batch: &Batch<'_>, valid: &[Valid]) {
        for (item, valid) in batch.items.iter().zip(valid) {
            let series = (valid.metric.id, valid.agency_id);
            self.instants.insert((series.0, series.1, item.observed_at));
            if kinds::never_decreases(valid.metric.kind) {
                self.counters.insert(series);
            }
        }
    }

    /// Whether `batch` writes where an earlier batch of the group does: the same instant of a
    /// series, or a counter's series.
    fn touched_by(&self, batch: &Batch<'_>) -> bool {
        !self.instants.is_empty()
            && places(batch.items, batch.catalog).into_iter().any(
                |(metric, agency, observed_at)| {
                    self.instants.contains(&(metric, agency, observed_at))
                        || self.counters.contains(&(metric, agency))
                },
            )
    }
}

/// Checked batches not yet stored, and what they will store.
#[derive(Default)]
struct Waiting<'a> {
    batches: Vec<(usize, ToStore<'a>)>,
}

impl<'a> Waiting<'a> {
    fn add(&mut self, index: usize, checked: ToStore<'a>) {
        self.batches.push((index, checked));
    }

    /// Stores the waiting batches together and records each one's answer; false when a place
    /// not read before was found taken.
    async fn store(
        &mut self,
        txn: &DatabaseTransaction,
        answers: &mut [Option<Result<Written, ApiError>>],
        places: Places,
    ) -> Result<bool, ApiError> {
        if self.batches.is_empty() {
            return Ok(true);
        }
        let (indexes, batches): (Vec<usize>, Vec<ToStore<'a>>) =
            std::mem::take(&mut self.batches).into_iter().unzip();
        let Some(written) = store(txn, batches, places).await? else {
            return Ok(false);
        };
        for (index, written) in indexes.into_iter().zip(written) {
            answers[index] = Some(Ok(written));
        }
        Ok(true)
    }
}

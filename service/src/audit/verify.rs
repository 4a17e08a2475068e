//! Walking the chain: every link, every revision against the seal of the entry that recorded
//! it, and every checkpoint against a trusted public key.
//!
//! The entries and the revisions are read in two streams, both in the order they were written
//! (writes hold the chain's head, so the revisions an entry seals have ids above the previous
//! entry's): memory stays flat however long the history is.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use entity::{audit_entry, observation, observation_revision};
use futures_util::{Stream, StreamExt};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::anchor::{self, Checkpoint, Trust};
use super::definitions::{self, Logged};
use super::seal::{Seal, SealBuilder, Sealed};
use super::{entry_hash, head, Head};
use crate::error::ApiError;

/// Problems listed one by one; past this many they are only counted.
pub const MAX_LISTED: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Every link, revision and checkpoint holds, and a trusted checkpoint anchors the chain.
    Intact,
    /// Everything holds, but nothing signed pins the chain: a rewrite of the whole chain would
    /// look the same.
    Unanchored,
    Broken,
}

/// A revision that does not match what the log says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevisionProblem {
    /// The entry that recorded it, or should have.
    pub entry: Option<i64>,
    pub observation_id: Option<i32>,
    pub revision: Option<i32>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anchoring {
    Anchored {
        checkpoints: u64,
        last_sequence: i64,
    },
    Unanchored {
        why: String,
    },
    /// The chain does not pass through a trusted checkpoint, or a checkpoint is forged.
    Broken {
        checkpoint_sequence: i64,
        why: String,
    },
}

/// The outcome of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub entries_checked: u64,
    pub revisions_checked: u64,
    pub head_sequence: i64,
    pub head_hash: String,
    /// The first entry whose link does not hold, and why.
    pub first_broken: Option<(i64, String)>,
    /// The first [`MAX_LISTED`] revision problems, in id order.
    pub revision_problems: Vec<RevisionProblem>,
    pub revision_problem_count: u64,
    pub anchoring: Anchoring,
    /// Revisions written while the walk ran, after the head it checked: the next walk checks them.
    pub revisions_after_head: u64,
}

impl Verification {
    /// No link, revision or checkpoint is broken (anchored or not).
    pub fn intact(&self) -> bool {
        self.status() != Status::Broken
    }

    pub fn status(&self) -> Status {
        if self.first_broken.is_some()
            || self.revision_problem_count > 0
            || matches!(self.anchoring, Anchoring::Broken { .. })
        {
            Status::Broken
        } else if matches!(self.anchoring, Anchoring::Unanchored { .. }) {
            Status::Unanchored
        } else {
            Status::Intact
        }
    }

    /// One line for people: what holds, or the first thing that does not.
    pub fn summary(&self) -> String {
        if let Some((sequence, why)) = &self.first_broken {
            return format!("BROKEN at entry {sequence}: {why}");
        }
        if let Anchoring::Broken {
            checkpoint_sequence,
            why,
        } = &self.anchoring
        {
            return format!("BROKEN at the checkpoint of entry {checkpoint_sequence}: {why}");
        }
        if let Some(first) = self.revision_problems.first() {
            return format!(
                "BROKEN: {} revision problem(s); the first: {}",
                self.revision_problem_count, first.message
            );
        }
        let walked = format!(
            "{} entries and {} revisions, head {}:{}",
            self.entries_checked, self.revisions_checked, self.head_sequence, self.head_hash
        );
        match &self.anchoring {
            Anchoring::Anchored {
                checkpoints,
                last_sequence,
            } => format!(
                "intact and anchored: {walked}; {checkpoints} signed checkpoint(s), the last at entry {last_sequence} ({} entries after it)",
                self.head_sequence - last_sequence
            ),
            Anchoring::Unanchored { why } => {
                format!("UNANCHORED: the links and revisions hold ({walked}), but {why}")
            }
            Anchoring::Broken { .. } => unreachable!("reported above"),
        }
    }
}

type Row = (observation_revision::Model, Option<observation::Model>);

/// The revisions in id order, one looked ahead.
struct Revisions<'a> {
    stream: std::pin::Pin<Box<dyn Stream<Item = Result<Row, DbErr>> + Send + 'a>>,
    held: Option<Row>,
    checked: u64,
}

impl<'a> Revisions<'a> {
    async fn open(db: &'a DatabaseConnection) -> Result<Self, DbErr> {
        let stream = observation_revision::Entity::find()
            .find_also_related(observation::Entity)
            .order_by_asc(observation_revision::Column::Id)
            .stream(db)
            .await?;
        Ok(Self {
            stream: Box::pin(stream),
            held: None,
            checked: 0,
        })
    }

    async fn peek_id(&mut self) -> Result<Option<i32>, DbErr> {
        if self.held.is_none() {
            self.held = self.stream.next().await.transpose()?;
        }
        Ok(self.held.as_ref().map(|(revision, _)| revision.id))
    }

    /// The next revision if its id is at most `bound`.
    async fn next_up_to(&mut self, bound: i32) -> Result<Option<Row>, DbErr> {
        match self.peek_id().await? {
            Some(id) if id <= bound => {
                self.checked += 1;
                Ok(self.held.take())
            }
            _ => Ok(None),
        }
    }
}

/// Problems found so far: listed up to [`MAX_LISTED`], all counted.
#[derive(Default)]
struct Problems {
    listed: Vec<RevisionProblem>,
    count: u64,
}

impl Problems {
    fn add(&mut self, entry: Option<i64>, row: Option<&Row>, message: String) {
        self.count += 1;
        if self.listed.len() < MAX_LISTED {
            self.listed.push(RevisionProblem {
                entry,
                observation_id: row.map(|(r, _)| r.observation_id),
                revision: row.map(|(r, _)| r.revision),
                message,
            });
        }
    }
}

/// Checks that each revision closes the one before it: `superseded_at` is the one column a later
/// write sets, so it must equal the next revision's `recorded_at`, and only the last is open.
#[derive(Default)]
struct Succession {
    /// Revisions closed whose successor has not been read yet, by observation.
    closed: HashMap<i32, (i32, DateTime<Utc>)>,
}

impl Succession {
    fn check(&mut self, row: &Row, problems: &mut Problems) {
        let revision = &row.0;
        if revision.revision > 1 {
            match self.closed.remove(&revision.observation_id) {
                Some((previous, closed_at))
                    if previous == revision.revision - 1 && closed_at == revision.recorded_at => {}
                _ => problems.add(
                    None,
                    Some(row),
                    format!(
                        "observation {} revision {}: revision {} before it was not closed when it was recorded",
                        revision.observation_id,
                        revision.revision,
                        revision.revision - 1
                    ),
                ),
            }
        }
        if let Some(closed_at) = revision.superseded_at {
            self.closed
                .insert(revision.observation_id, (revision.revision, closed_at));
        }
    }

    fn finish(self, problems: &mut Problems) {
        let mut left: Vec<_> = self.closed.into_iter().collect();
        left.sort_unstable();
        for (observation_id, (revision, _)) in left {
            problems.count += 1;
            if problems.listed.len() < MAX_LISTED {
                problems.listed.push(RevisionProblem {
                    entry: None,
                    observation_id: Some(observation_id),
                    revision: Some(revision),
                    message: format!(
                        "observation {observation_id} revision {revision} is marked replaced, but no later revision exists"
                    ),
                });
            }
        }
    }
}

fn describe(row: &Row) -> String {
    format!(
        "observation {} revision {}",
        row.0.observation_id, row.0.revision
    )
}

fn revision_hash(row: &Row) -> Option<[u8; 32]> {
    let (revision, observation) = row;
    observation.as_ref().map(|observation| {
        Sealed {
            observation,
            revision,
        }
        .hash()
    })
}

/// Checkpoints to check the walk against, by the entry they sign.
struct Checkpoints {
    by_sequence: BTreeMap<i64, Checkpoint>,
    broken: Option<(i64, String)>,
    valid: u64,
    trusted: bool,
}

impl Checkpoints {
    fn new(stored: Vec<Checkpoint>, trust: &Trust) -> Self {
        let mut checkpoints = Self {
            by_sequence: BTreeMap::new(),
            broken: None,
            valid: 0,
            trusted: !trust.public_keys.is_empty(),
        };
        for (checkpoint, from_witness) in stored
            .into_iter()
            .map(|c| (c, false))
            .chain(trust.witness.iter().cloned().map(|c| (c, true)))
        {
            if !checkpoints.trusted {
                continue;
            }
            if !checkpoint.signed_by_any(&trust.public_keys) {
                let place = if from_witness {
                    "the witness file's"
                } else {
                    "the stored"
                };
                checkpoints.fail(
                    checkpoint.sequence,
                    format!("{place} checkpoint is not signed by a trusted key"),
                );
                continue;
            }
            match checkpoints.by_sequence.get(&checkpoint.sequence) {
                Some(known) if known.hash != checkpoint.hash => {
                    let sequence = checkpoint.sequence;
                    checkpoints.fail(
                        sequence,
                        "two signed checkpoints disagree on the entry's hash".to_owned(),
                    );
                }
                Some(_) => {}
                None => {
                    checkpoints.valid += 1;
                    checkpoints
                        .by_sequence
                        .insert(checkpoint.sequence, checkpoint);
                }
            }
        }
        checkpoints
    }

    fn fail(&mut self, sequence: i64, why: String) {
        if self
            .broken
            .as_ref()
            .is_none_or(|(first, _)| sequence < *first)
        {
            self.broken = Some((sequence, why));
        }
    }

    fn pass(&mut self, entry: &audit_entry::Model) {
        if let Some(checkpoint) = self.by_sequence.get(&entry.sequence) {
            if checkpoint.hash != entry.hash {
                let why = format!(
                    "the chain does not pass through the checkpoint signed at {}: entry {} hashes to {}, the checkpoint to {}",
                    checkpoint.signed_at.to_rfc3339(),
                    entry.sequence,
                    entry.hash,
                    checkpoint.hash
                );
                self.fail(entry.sequence, why);
            }
        }
    }

    fn anchoring(mut self, head: &Head) -> Anchoring {
        if let Some((&sequence, checkpoint)) = self.by_sequence.range(head.sequence + 1..).next() {
            let why = format!(
                "the chain ends at entry {}, before the checkpoint signed at {}: entries were removed",
                head.sequence,
                checkpoint.signed_at.to_rfc3339()
            );
            self.fail(sequence, why);
        }
        if let Some((checkpoint_sequence, why)) = self.broken {
            return Anchoring::Broken {
                checkpoint_sequence,
                why,
            };
        }
        if !self.trusted {
            return Anchoring::Unanchored {
                why: "no public key was given to check checkpoints with".to_owned(),
            };
        }
        match self.by_sequence.keys().next_back() {
            None => Anchoring::Unanchored {
                why: "no checkpoint is signed: configure a signing key (`egov-kpi audit keygen`)"
                    .to_owned(),
            },
            Some(&last_sequence) => Anchoring::Anchored {
                checkpoints: self.valid,
                last_sequence,
            },
        }
    }
}

/// Walks the whole chain and every revision.
pub async fn verify(db: &DatabaseConnection, trust: &Trust) -> Result<Verification, ApiError> {
    const CHUNK: u64 = 1000;
    let head = head(db).await?;
    let mut checkpoints = Checkpoints::new(anchor::stored(db).await?, trust);
    let mut revisions = Revisions::open(db).await?;
    let mut problems = Problems::default();
    let mut succession = Succession::default();
    let mut previous_hash = migration::GENESIS_HASH.to_owned();
    let mut expected_sequence = 1;
    let mut checked = 0;
    let mut last_sealed_id = 0;
    let mut first_broken = None;
    let mut definitions = Logged::default();
    'walk: loop {
        let entries = audit_entry::Entity::find()
            .filter(audit_entry::Column::Sequence.gte(expected_sequence))
            .filter(audit_entry::Column::Sequence.lte(head.sequence))
            .order_by_asc(audit_entry::Column::Sequence)
            .limit(CHUNK)
            .all(db)
            .await?;
        let done = (entries.len() as u64) < CHUNK;
        for entry in entries {
            let why = if entry.sequence != expected_sequence {
                Some((expected_sequence, "the entry is missing"))
            } else if entry.previous_hash != previous_hash {
                Some((entry.sequence, "it does not link to the entry before it"))
            } else if entry_hash(&entry) != entry.hash {
                Some((entry.sequence, "its content does not match its hash"))
            } else {
                None
            };
            if let Some((sequence, why)) = why {
                first_broken = Some((sequence, why.to_owned()));
                break 'walk;
            }
            checkpoints.pass(&entry);
            definitions.note(&entry);
            let detail: serde_json::Value = serde_json::from_str(&entry.detail).unwrap_or_default();
            match Seal::in_detail(&detail) {
                None => {}
                Some(Err(why)) => problems.add(
                    Some(entry.sequence),
                    None,
                    format!("entry {}: {why}", entry.sequence),
                ),
                Some(Ok(seal)) if seal.first_id <= last_sealed_id => problems.add(
                    Some(entry.sequence),
                    None,
                    format!(
                        "entry {} seals revision rows from {}, which an earlier entry sealed",
                        entry.sequence, seal.first_id
                    ),
                ),
                Some(Ok(seal)) => {
                    check_sealed(
                        &entry,
                        &seal,
                        &mut revisions,
                        &mut succession,
                        &mut problems,
                    )
                    .await?;
                    last_sealed_id = seal.last_id;
                }
            }
            previous_hash = entry.hash;
            expected_sequence += 1;
            checked += 1;
        }
        if done {
            break;
        }
    }
    if first_broken.is_none()
        && (head.sequence != expected_sequence - 1 || head.hash != previous_hash)
    {
        first_broken = Some((
            head.sequence,
            "the chain's head does not match its last entry (entries were removed)".to_owned(),
        ));
    }

    // Revisions after the last sealed one: written since the walk began, or by no entry at all.
    // Past a broken link nothing is sealed any more: only the link is reported.
    let mut revisions_after_head = 0;
    if first_broken.is_none() {
        let mut trailing: Vec<Row> = Vec::new();
        let mut count = 0u64;
        while let Some(row) = revisions.next_up_to(i32::MAX).await? {
            succession.check(&row, &mut problems);
            count += 1;
            if trailing.len() < MAX_LISTED {
                trailing.push(row);
            }
        }
        if super::head(db).await?.sequence != head.sequence {
            revisions_after_head = count;
        } else {
            for row in &trailing {
                problems.add(
                    None,
                    Some(row),
                    format!("{} was stored with no audit entry", describe(row)),
                );
            }
            problems.count += count - trailing.len() as u64;
            succession.finish(&mut problems);
        }
        definitions::check(db, definitions, |entry, message| {
            problems.add(entry, None, message)
        })
        .await?;
    }
    Ok(Verification {
        entries_checked: checked,
        revisions_checked: revisions.checked - revisions_after_head,
        head_sequence: head.sequence,
        anchoring: checkpoints.anchoring(&head),
        head_hash: head.hash,
        first_broken,
        revision_problems: problems.listed,
        revision_problem_count: problems.count,
        revisions_after_head,
    })
}

/// Reads the revisions up to the end of `seal`'s range: those before it were sealed by no
/// entry, those in it must give the seal again.
async fn check_sealed(
    entry: &audit_entry::Model,
    seal: &Seal,
    revisions: &mut Revisions<'_>,
    succession: &mut Succession,
    problems: &mut Problems,
) -> Result<(), DbErr> {
    while let Some(row) = revisions.next_up_to(seal.first_id - 1).await? {
        succession.check(&row, problems);
        problems.add(
            None,
            Some(&row),
            format!("{} was stored with no audit entry", describe(&row)),
        );
    }
    let mut builder = SealBuilder::default();
    let mut first: Option<Row> = None;
    while let Some(row) = revisions.next_up_to(seal.last_id).await? {
        succession.check(&row, problems);
        match revision_hash(&row) {
            Some(hash) => builder.add(row.0.id, hash),
            None => problems.add(
                Some(entry.sequence),
                Some(&row),
                format!("{}: its observation is gone", describe(&row)),
            ),
        }
        first.get_or_insert(row);
    }
    let found = builder.revisions();
    if builder.finish().as_ref() == Some(seal) {
        return Ok(());
    }
    let sequence = entry.sequence;
    let subject = entry.subject.as_deref().unwrap_or("its subject");
    let message = match (found.cmp(&seal.revisions), &first) {
        (std::cmp::Ordering::Less, _) => format!(
            "entry {sequence} ({}, {subject}) recorded {} revision(s) as rows {} to {}; {} of them are gone",
            entry.action,
            seal.revisions,
            seal.first_id,
            seal.last_id,
            seal.revisions - found
        ),
        (std::cmp::Ordering::Greater, _) => format!(
            "rows {} to {} hold {found} revisions, but entry {sequence} ({}) recorded {}: revisions were added",
            seal.first_id, seal.last_id, entry.action, seal.revisions
        ),
        (std::cmp::Ordering::Equal, Some(row)) if seal.revisions == 1 => format!(
            "{} differs from what entry {sequence} ({}) recorded",
            describe(row),
            entry.action
        ),
        (std::cmp::Ordering::Equal, _) => format!(
            "one of the {} revisions in rows {} to {} differs from what entry {sequence} ({}) recorded",
            seal.revisions, seal.first_id, seal.last_id, entry.action
        ),
    };
    let named = if seal.revisions == 1 {
        first.as_ref()
    } else {
        None
    };
    problems.add(Some(sequence), named, message);
    Ok(())
}

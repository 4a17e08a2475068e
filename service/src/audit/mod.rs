//! The append-only, hash-chained audit log of every write and every refused write.
//!
//! Each entry's hash covers all its fields and the previous entry's hash, so changing, removing
//! or reordering an entry breaks every link after it. Writes take the chain's head row first,
//! which serialises them on both databases and keeps the chain from forking. An entry that
//! stores revisions carries their [`seal`]; signed [`anchor`] checkpoints pin the chain to a key
//! kept outside the database; [`verify`] checks all three.

pub mod anchor;
mod definitions;
pub mod seal;
pub mod verify;

pub use verify::{verify, Verification};

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use entity::audit_entry;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr,
    EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect, Statement,
    TransactionTrait,
};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::access::{Permission, Principal};
use super::pagination::{Cursor, Direction, Page, PageRequest};
use crate::error::ApiError;
use crate::unpoisoned::LockUnpoisoned;

/// Who made a request and from where: what every audit entry records.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub client_address: Option<IpAddr>,
    pub request_id: Option<String>,
    /// How this request's refusals are logged.
    pub refusals: RefusalScope,
    /// When this request's writes committed.
    pub committed: CommittedAt,
}

/// When a request's writes were last committed, for a read that must see them (a replica's,
/// say): one that starts later does. Set by [`ChainWrite::commit`] for every caller whose
/// entries the write appended.
#[derive(Debug, Clone, Default)]
pub struct CommittedAt(Arc<Mutex<Option<Instant>>>);

impl CommittedAt {
    pub fn get(&self) -> Option<Instant> {
        *self.0.lock_unpoisoned()
    }

    /// The later of the two: writes of one request may commit in any order.
    fn set(&self, at: Instant) {
        let mut committed = self.0.lock_unpoisoned();
        *committed = (*committed).max(Some(at));
    }
}

impl Caller {
    pub fn command_line(name: &str) -> Self {
        Self {
            principal: Principal::command_line(name),
            client_address: None,
            request_id: None,
            refusals: RefusalScope::default(),
            committed: CommittedAt::default(),
        }
    }

    /// Whom budgets are kept for: the API key, or the client address of a caller without one.
    pub fn identity(&self) -> Identity {
        match self.principal.key_id {
            Some(id) => Identity::Key(id),
            None => Identity::Address(self.client_address),
        }
    }
}

/// Whom a budget (of requests, subscriptions or logged refusals) is kept for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Identity {
    /// An API key, by its id.
    Key(i32),
    /// A caller without a key, by its client address (none from the command line).
    Address(Option<IpAddr>),
}

/// Refused writes logged one by one per caller and minute; past that they are counted, and the
/// next entry written for the caller says how many were not.
pub const REFUSALS_LOGGED_PER_MINUTE: u32 = 30;

/// The refusals of one request: its first is logged (within its caller's budget), the rest are
/// counted, so that a request cannot turn a hundred refused operations into a hundred entries.
#[derive(Debug, Clone, Default)]
pub struct RefusalScope {
    in_request: Arc<AtomicU32>,
    /// None for the command line, whose refusals are all logged.
    budget: Option<Arc<RefusalBudget>>,
}

impl RefusalScope {
    pub fn for_request(budget: Arc<RefusalBudget>) -> Self {
        Self {
            in_request: Arc::default(),
            budget: Some(budget),
        }
    }

    /// Whether this refusal gets an entry of its own, and then how many of the caller's were
    /// counted without one since its last entry.
    fn admit(&self, identity: Identity) -> Option<u64> {
        let first_of_request = self.in_request.fetch_add(1, Ordering::SeqCst) == 0;
        match &self.budget {
            None => Some(0),
            Some(budget) => budget.admit(identity, first_of_request, Instant::now()),
        }
    }
}

/// Entries written for each caller's refusals in the current minute, and those only counted.
#[derive(Debug, Default)]
pub struct RefusalBudget {
    by_caller: Mutex<HashMap<Identity, RefusalWindow>>,
}

#[derive(Debug)]
struct RefusalWindow {
    started: Instant,
    logged: u32,
    counted: u64,
}

impl RefusalBudget {
    fn admit(&self, identity: Identity, first_of_request: bool, now: Instant) -> Option<u64> {
        const MINUTE: Duration = Duration::from_secs(60);
        let mut by_caller = self.by_caller.lock_unpoisoned();
        if by_caller.len() > 10_000 {
            by_caller.retain(|_, window| now.duration_since(window.started) < MINUTE);
        }
        let window = by_caller.entry(identity).or_insert(RefusalWindow {
            started: now,
            logged: 0,
            counted: 0,
        });
        if now.duration_since(window.started) >= MINUTE {
            window.started = now;
            window.logged = 0;
        }
        if first_of_request && window.logged < REFUSALS_LOGGED_PER_MINUTE {
            window.logged += 1;
            Some(std::mem::take(&mut window.counted))
        } else {
            window.counted += 1;
            None
        }
    }
}

/// What was attempted: the `action` of an entry, one name per kind of write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    RecordObservation,
    CorrectObservation,
    RetractObservation,
    ImportObservations,
    SeedObservation,
    GenerateDemoData,
    WriteDemoData,
    CreateKey,
    RevokeKey,
    DefineIndicator,
    ReviseIndicator,
    DefineScoredIndex,
    ReviseScoredIndex,
    IdentifyForDhis2,
    /// A request refused before it ran: a bad or revoked key.
    Authenticate,
}

impl Action {
    const ALL: [Action; 15] = [
        Action::RecordObservation,
        Action::CorrectObservation,
        Action::RetractObservation,
        Action::ImportObservations,
        Action::SeedObservation,
        Action::GenerateDemoData,
        Action::WriteDemoData,
        Action::CreateKey,
        Action::RevokeKey,
        Action::DefineIndicator,
        Action::ReviseIndicator,
        Action::DefineScoredIndex,
        Action::ReviseScoredIndex,
        Action::IdentifyForDhis2,
        Action::Authenticate,
    ];

    /// The name the log stores.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::RecordObservation => "observation.record",
            Action::CorrectObservation => "observation.correct",
            Action::RetractObservation => "observation.retract",
            Action::ImportObservations => "observation.import",
            Action::SeedObservation => "observation.seed",
            Action::GenerateDemoData => "demo-data.generate",
            Action::WriteDemoData => "demo-data.write",
            Action::CreateKey => "key.create",
            Action::RevokeKey => "key.revoke",
            Action::DefineIndicator => "indicator.define",
            Action::ReviseIndicator => "indicator.revise",
            Action::DefineScoredIndex => "scored-index.define",
            Action::ReviseScoredIndex => "scored-index.revise",
            Action::IdentifyForDhis2 => "dhis2.identify",
            Action::Authenticate => "request.authenticate",
        }
    }

    /// The action a stored name stands for.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|action| action.as_str() == name)
    }
}

/// The subject of an entry about one observation, as the log stores it.
pub fn observation_subject(id: i32) -> String {
    format!("observation:{id}")
}

/// The observation an entry's subject names, if it names one.
pub fn subject_observation(subject: &str) -> Option<i32> {
    subject.strip_prefix("observation:")?.parse().ok()
}

/// What an entry says happened.
#[derive(Debug, Clone)]
pub struct Event {
    pub action: Action,
    pub subject: Option<String>,
    pub detail: Value,
}

impl Event {
    pub fn new(action: Action, subject: Option<String>, detail: Value) -> Self {
        Self {
            action,
            subject,
            detail,
        }
    }

    /// The event of a write that stored revisions, committing to their content.
    pub fn sealing(mut self, seal: seal::Seal) -> Self {
        if let Value::Object(detail) = &mut self.detail {
            detail.insert(
                seal::DETAIL_KEY.to_owned(),
                serde_json::to_value(seal).expect("a seal serialises"),
            );
        }
        self
    }
}

pub const APPLIED: &str = "applied";
pub const REFUSED: &str = "refused";

/// A write: a transaction that holds the chain's head until it commits or rolls back, and knows
/// where the head stands, having read it as it took it.
pub struct ChainWrite {
    txn: DatabaseTransaction,
    /// Moved by each append of this write.
    head: std::sync::Mutex<Head>,
    /// The callers whose entries this write appended, told when it commits.
    committers: Mutex<Vec<CommittedAt>>,
}

impl std::ops::Deref for ChainWrite {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

/// A write is used wherever a connection is, as the transaction it holds would be.
#[async_trait::async_trait]
impl ConnectionTrait for ChainWrite {
    fn get_database_backend(&self) -> sea_orm::DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, statement: Statement) -> Result<sea_orm::ExecResult, DbErr> {
        self.txn.execute_raw(statement).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<sea_orm::ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(
        &self,
        statement: Statement,
    ) -> Result<Option<sea_orm::QueryResult>, DbErr> {
        self.txn.query_one_raw(statement).await
    }

    async fn query_all_raw(
        &self,
        statement: Statement,
    ) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
        self.txn.query_all_raw(statement).await
    }

    fn support_returning(&self) -> bool {
        self.txn.support_returning()
    }
}

impl ChainWrite {
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await?;
        let now = Instant::now();
        for committed in self
            .committers
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
        {
            committed.set(now);
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }

    fn head(&self) -> Head {
        self.head.lock_unpoisoned().clone()
    }

    fn moved_to(&self, head: Head) {
        *self.head.lock_unpoisoned() = head;
    }
}

/// Starts a write: the chain's head is taken and read in one statement.
pub async fn begin_write(db: &DatabaseConnection) -> Result<ChainWrite, DbErr> {
    let txn = db.begin().await?;
    // A write as the first statement: PostgreSQL locks the row, SQLite takes its write lock.
    let statement = Statement::from_string(
        txn.get_database_backend(),
        "UPDATE audit_head SET sequence = sequence WHERE id = 1 RETURNING sequence, hash",
    );
    let head = Head::find_by_statement(statement)
        .one(&txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the audit chain's head".to_owned()))?;
    Ok(ChainWrite {
        txn,
        head: std::sync::Mutex::new(head),
        committers: Mutex::default(),
    })
}

#[derive(Debug, Clone, FromQueryResult)]
struct Head {
    sequence: i64,
    hash: String,
}

async fn head(db: &impl ConnectionTrait) -> Result<Head, DbErr> {
    let statement = Statement::from_string(
        db.get_database_backend(),
        "SELECT sequence, hash FROM audit_head WHERE id = 1",
    );
    Head::find_by_statement(statement)
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the audit chain's head".to_owned()))
}

/// The fields an entry's hash covers, in a fixed order.
#[derive(Serialize)]
struct Hashed<'a> {
    sequence: i64,
    occurred_at: String,
    actor: &'a str,
    api_key_id: Option<i32>,
    action: &'a str,
    outcome: &'a str,
    subject: Option<&'a str>,
    detail: &'a str,
    client_address: Option<&'a str>,
    request_id: Option<&'a str>,
    previous_hash: &'a str,
}

/// The hash an entry must carry: public, as the algorithm is, for tools that check the chain.
pub fn entry_hash(entry: &audit_entry::Model) -> String {
    let hashed = Hashed {
        sequence: entry.sequence,
        occurred_at: entry
            .occurred_at
            .to_rfc3339_opts(SecondsFormat::Micros, true),
        actor: &entry.actor,
        api_key_id: entry.api_key_id,
        action: &entry.action,
        outcome: &entry.outcome,
        subject: entry.subject.as_deref(),
        detail: &entry.detail,
        client_address: entry.client_address.as_deref(),
        request_id: entry.request_id.as_deref(),
        previous_hash: &entry.previous_hash,
    };
    let canonical = serde_json::to_vec(&hashed).expect("plain fields serialise");
    hex::encode(Sha256::digest(&canonical))
}

/// Appends an entry inside a write begun with [`begin_write`].
pub async fn append(
    txn: &ChainWrite,
    caller: &Caller,
    outcome: &'static str,
    event: Event,
) -> Result<audit_entry::Model, DbErr> {
    let mut appended = append_all(txn, caller, outcome, vec![event]).await?;
    Ok(appended.pop().expect("one entry per event"))
}

/// Appends one entry per event, in order, inside a write begun with [`begin_write`]: the chain is
/// computed here and written in a few statements, and the other processes are told once.
pub async fn append_all(
    txn: &ChainWrite,
    caller: &Caller,
    outcome: &'static str,
    events: Vec<Event>,
) -> Result<Vec<audit_entry::Model>, DbErr> {
    append_each(txn, outcome, events.into_iter().map(|e| (caller, e))).await
}

/// The same for events of several callers (the batches of one group commit), each entry naming
/// its own caller.
pub async fn append_each<'a>(
    txn: &ChainWrite,
    outcome: &'static str,
    events: impl IntoIterator<Item = (&'a Caller, Event)>,
) -> Result<Vec<audit_entry::Model>, DbErr> {
    let head = txn.head();
    let occurred_at = Utc::now().trunc_subsecs(6);
    let (mut sequence, mut previous_hash) = (head.sequence, head.hash);
    let mut entries = Vec::new();
    let mut committers = Vec::new();
    for (caller, event) in events {
        committers.push(caller.committed.clone());
        sequence += 1;
        let mut entry = audit_entry::Model {
            sequence,
            occurred_at,
            actor: caller.principal.actor.clone(),
            api_key_id: caller.principal.key_id,
            action: event.action.as_str().to_owned(),
            outcome: outcome.to_owned(),
            subject: event.subject,
            detail: event.detail.to_string(),
            client_address: caller.client_address.map(|address| address.to_string()),
            request_id: caller.request_id.clone(),
            previous_hash,
            hash: String::new(),
        };
        entry.hash = entry_hash(&entry);
        previous_hash = entry.hash.clone();
        entries.push(entry);
    }
    let Some(last) = entries.last() else {
        return Ok(entries);
    };
    let head = Head {
        sequence: last.sequence,
        hash: last.hash.clone(),
    };
    write_entries(txn, &entries, &head).await?;
    txn.moved_to(head);
    txn.committers.lock_unpoisoned().extend(committers);
    Ok(entries)
}

/// Writes the entries and moves the chain's head to `head` (the last of them), telling the other
/// processes: on PostgreSQL in one statement, as every write does it once.
async fn write_entries(
    txn: &ChainWrite,
    entries: &[audit_entry::Model],
    head: &Head,
) -> Result<(), DbErr> {
    let backend = txn.get_database_backend();
    if backend != sea_orm::DbBackend::Postgres {
        crate::rows::insert(txn, entries).await?;
        let statement = Statement::from_sql_and_values(
            backend,
            "UPDATE audit_head SET sequence = ?, hash = ? WHERE id = 1",
            [head.sequence.into(), head.hash.clone().into()],
        );
        txn.execute_raw(statement).await?;
        return Ok(());
    }
    let insert = crate::rows::insert_statement(entries)?;
    let mut values = insert.values.map(|values| values.0).unwrap_or_default();
    let next = values.len();
    let sql = format!(
        "WITH appended AS ({}), \
         moved AS (UPDATE audit_head SET sequence = ${}, hash = ${} WHERE id = 1) \
         SELECT pg_notify(${}, ${})",
        insert.sql,
        next + 1,
        next + 2,
        next + 3,
        next + 4,
    );
    values.extend([
        head.sequence.into(),
        head.hash.clone().into(),
        CHANNEL.into(),
        head.sequence.to_string().into(),
    ]);
    txn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(())
}

/// The chain's head as this process last saw it: the live feed keeps it current, and answers
/// cached before it moved are stale.
#[derive(Debug, Clone, Default)]
pub struct SeenHead(Arc<std::sync::atomic::AtomicI64>);

impl SeenHead {
    pub fn new(sequence: i64) -> Self {
        Self(Arc::new(std::sync::atomic::AtomicI64::new(sequence)))
    }

    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Acquire)
    }

    pub fn set(&self, sequence: i64) {
        self.0.store(sequence, Ordering::Release);
    }
}

/// The PostgreSQL channel every append is announced on, for the processes that follow the chain.
pub const CHANNEL: &str = "egov_kpi_audit";

/// Records that a write was refused, in a transaction of its own (the refused one rolled back).
pub async fn record_refusal(
    db: &DatabaseConnection,
    caller: &Caller,
    action: Action,
    subject: Option<String>,
    error: &ApiError,
) -> Result<(), DbErr> {
    record_refusals(db, caller, action, subject, error, 0).await
}

/// Appends a refusal, with the number of the caller's refusals counted without an entry since
/// its last one.
async fn record_refusals(
    db: &DatabaseConnection,
    caller: &Caller,
    action: Action,
    subject: Option<String>,
    error: &ApiError,
    counted_before: u64,
) -> Result<(), DbErr> {
    let txn = begin_write(db).await?;
    let mut detail = serde_json::json!({ "code": error.code(), "reason": error.to_string() });
    if let ApiError::InvalidItems { failures, total } = error {
        detail["failures"] = serde_json::to_value(failures).unwrap_or_default();
        detail["failureCount"] = (*total).into();
    }
    if counted_before > 0 {
        detail["refusalsCountedWithoutEntry"] = counted_before.into();
    }
    append(&txn, caller, REFUSED, Event::new(action, subject, detail)).await?;
    txn.commit().await
}

/// Logs `result`'s refusal, if it is one, and passes it on.
pub async fn log_refusal<T>(
    db: &DatabaseConnection,
    caller: &Caller,
    action: Action,
    subject: Option<String>,
    result: Result<T, ApiError>,
) -> Result<T, ApiError> {
    if let Err(error) = &result {
        if error.is_refusal() {
            if let Some(counted_before) = caller.refusals.admit(caller.identity()) {
                record_refusals(db, caller, action, subject, error, counted_before).await?;
            }
        }
    }
    result
}

/// The chain's head as `sequence:hash`, for export headers.
pub async fn chain_head(db: &impl ConnectionTrait) -> Result<String, ApiError> {
    let head = head(db).await?;
    Ok(format!("{}:{}", head.sequence, head.hash))
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub outcome: Option<String>,
    pub subject: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub before: Option<DateTime<Utc>>,
}

impl AuditFilter {
    fn condition(&self) -> Condition {
        let mut condition = Condition::all();
        if let Some(actor) = &self.actor {
            condition = condition.add(audit_entry::Column::Actor.eq(actor.as_str()));
        }
        if let Some(action) = &self.action {
            condition = condition.add(audit_entry::Column::Action.eq(action.as_str()));
        }
        if let Some(outcome) = &self.outcome {
            condition = condition.add(audit_entry::Column::Outcome.eq(outcome.as_str()));
        }
        if let Some(subject) = &self.subject {
            condition = condition.add(audit_entry::Column::Subject.eq(subject.as_str()));
        }
        if let Some(from) = self.from {
            condition = condition.add(audit_entry::Column::OccurredAt.gte(from));
        }
        if let Some(before) = self.before {
            condition = condition.add(audit_entry::Column::OccurredAt.lt(before));
        }
        condition
    }
}

/// A page of the log in append order; only auditors and admins read it.
pub async fn entries(
    db: &DatabaseConnection,
    principal: &Principal,
    filter: &AuditFilter,
    request: &PageRequest,
) -> Result<Page<audit_entry::Model>, ApiError> {
    principal.require(Permission::Audit)?;
    let sequence = audit_entry::Column::Sequence;
    let mut query = audit_entry::Entity::find().filter(filter.condition());
    if let Some(cursor) = request.cursor {
        query = query.filter(match request.direction {
            Direction::Forward => sequence.gt(cursor.id),
            Direction::Backward => sequence.lt(cursor.id),
        });
    }
    query = match request.direction {
        Direction::Forward => query.order_by_asc(sequence),
        Direction::Backward => query.order_by_desc(sequence),
    };
    let rows = query.limit(request.rows()).all(db).await?;
    let rows = rows
        .into_iter()
        .map(|entry| {
            (
                Cursor {
                    at: entry.occurred_at,
                    id: entry.sequence,
                },
                entry,
            )
        })
        .collect();
    Ok(Page::from_fetched(request, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_reads_back_from_its_stored_name_and_names_are_unique() {
        for action in Action::ALL {
            assert_eq!(Action::parse(action.as_str()), Some(action));
        }
        let mut names: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Action::ALL.len());
        assert_eq!(Action::parse("observation.unknown"), None);
        assert_eq!(subject_observation(&observation_subject(12)), Some(12));
        assert_eq!(subject_observation("key:12"), None);
    }
}

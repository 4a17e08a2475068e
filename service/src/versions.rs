//! Definitions that change by versions (indicators, scored indices): each version applies from
//! its first local day (Vietnam time; none: from the beginning) until the next one's, and a new
//! version must start after the latest, so that every day has exactly one and a new definition
//! never changes what an earlier period showed.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::Instant;

use chrono::NaiveDate;
use sea_orm::{DatabaseConnection, DatabaseTransaction};
use serde::Serialize;

use crate::audit::{self, Action, Caller, Event, SeenHead, APPLIED};
use crate::error::ApiError;
use crate::message;
use crate::recording::MAX_TEXT;
use crate::reference::{ReferenceCache, RECHECK};
use crate::unpoisoned::ReadWriteUnpoisoned;

/// What the rules need of a stored version.
pub trait Dated {
    fn number(&self) -> i32;
    fn valid_from(&self) -> Option<NaiveDate>;
}

/// The version valid on `day`: the last one (in order of definition) starting on or before it.
pub fn valid_on<V: Dated>(versions: &[V], day: NaiveDate) -> Option<&V> {
    versions
        .iter()
        .rev()
        .find(|v| v.valid_from().is_none_or(|first| first <= day))
}

/// The version numbered `number`, or a refusal naming what `code` has not.
pub fn numbered<'a, V: Dated>(
    versions: &'a [V],
    code: &str,
    number: i32,
) -> Result<&'a V, ApiError> {
    versions
        .iter()
        .find(|v| v.number() == number)
        .ok_or_else(|| {
            ApiError::bad_input(
                "version",
                message!(DEFINITION_VERSION_UNKNOWN, code = code, version = number),
            )
        })
}

/// The number of a version starting on `valid_from` after `latest`, or a refusal when it would
/// not start after it.
pub fn next_number<V: Dated>(latest: Option<&V>, valid_from: NaiveDate) -> Result<i32, ApiError> {
    match latest {
        None => Ok(1),
        Some(latest) => match latest.valid_from() {
            Some(first) if valid_from <= first => Err(ApiError::bad_input(
                "input.validFrom",
                message!(
                    VERSION_NOT_AFTER,
                    valid_from = valid_from,
                    first = first,
                    version = latest.number()
                ),
            )),
            _ => Ok(latest.number() + 1),
        },
    }
}

/// A definition kept as a head row and its versions.
pub trait Versioned: Sized + Send {
    type Version: Dated + Send;
    /// What the head holds besides code and names (a unit, the units scored), as the audit log
    /// shows it.
    type Head: Serialize + Sync;
    /// What a version holds (a formula, components), as stored and as the audit log shows it.
    type Body: Serialize + Sync;
    /// The audit log's actions for a new definition and a new version, and the name it gives
    /// the body.
    const DEFINE: Action;
    const REVISE: Action;
    const BODY: &'static str;

    /// The audit log's subject for the definition `code`.
    fn subject(code: &str) -> String;
    /// Where this process keeps the definitions it has read.
    fn kept(reference: &ReferenceCache) -> &KeptDefinitions<Self>;
    fn head_id(&self) -> i32;
    fn versions(&self) -> &[Self::Version];
    fn push(&mut self, version: Self::Version);
    fn load(
        txn: &DatabaseTransaction,
        code: &str,
    ) -> impl Future<Output = Result<Self, ApiError>> + Send;
    /// Stores the head of a new definition; the result has no version yet.
    fn insert_head(
        txn: &DatabaseTransaction,
        new: &NewDefinition<Self::Head, Self::Body>,
    ) -> impl Future<Output = Result<Self, ApiError>> + Send;
    #[allow(clippy::too_many_arguments)] // one per column
    fn store(
        txn: &DatabaseTransaction,
        head_id: i32,
        number: i32,
        valid_from: Option<NaiveDate>,
        body: &Self::Body,
        note: Option<String>,
        recorded_by: &str,
    ) -> impl Future<Output = Result<Self::Version, ApiError>> + Send;
}

/// Definitions a process has read, by code, so that a request computing with one does not read
/// it again: a definition only changes by a new version, written with an audit entry, so one
/// read while the audit log's head stood where it stands now is still whole. A version this
/// process writes retires every definition kept before it at once (the live feed may see the
/// head move later); one written without an audit entry (a seed run beside the server) is seen
/// within [`RECHECK`], as reference rows are.
pub struct KeptDefinitions<D> {
    head: SeenHead,
    /// Counts this process's own writes of definitions.
    writes: AtomicU64,
    kept: RwLock<HashMap<String, Kept<D>>>,
}

struct Kept<D> {
    definition: D,
    /// The head and the count of own writes before it was read.
    head: i64,
    writes: u64,
    at: Instant,
}

impl<D> KeptDefinitions<D> {
    pub fn new(head: SeenHead) -> Self {
        Self {
            head,
            writes: AtomicU64::new(0),
            kept: RwLock::new(HashMap::new()),
        }
    }

    /// Called once this process has committed a new definition or version.
    pub fn written(&self) {
        self.writes.fetch_add(1, Ordering::AcqRel);
    }
}

impl<D: Clone> KeptDefinitions<D> {
    /// The definition `code` as kept, or as `read` finds it (kept for the next request unless
    /// the state moved meanwhile: then it is kept under the older state and read again).
    pub async fn get(
        &self,
        code: &str,
        read: impl Future<Output = Result<D, ApiError>>,
    ) -> Result<D, ApiError> {
        let (head, writes) = (self.head.get(), self.writes.load(Ordering::Acquire));
        let whole = |kept: &Kept<D>| {
            kept.head == head && kept.writes == writes && kept.at.elapsed() < RECHECK
        };
        let found = (self.kept.read_unpoisoned())
            .get(code)
            .filter(|k| whole(k))
            .map(|k| k.definition.clone());
        if let Some(definition) = found {
            return Ok(definition);
        }
        let at = Instant::now();
        let definition = read.await?;
        self.kept.write_unpoisoned().insert(
            code.to_owned(),
            Kept {
                definition: definition.clone(),
                head,
                writes,
                at,
            },
        );
        Ok(definition)
    }
}

/// A new definition with its first version.
#[derive(Debug, Clone)]
pub struct NewDefinition<H, B> {
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    pub head: H,
    pub body: B,
    /// None: from the beginning.
    pub valid_from: Option<NaiveDate>,
    pub note: Option<String>,
}

impl<H, B> NewDefinition<H, B> {
    /// Refuses a code or a text the databases should not keep.
    pub fn check_texts(&self) -> Result<(), ApiError> {
        checked_code("input.code", &self.code)?;
        checked_text("input.nameVi", &self.name_vi, true)?;
        checked_text("input.nameEn", &self.name_en, true)?;
        checked_note(self.note.as_deref())
    }
}

pub fn checked_note(note: Option<&str>) -> Result<(), ApiError> {
    note.map_or(Ok(()), |note| checked_text("input.note", note, false))
}

pub fn checked_text(argument: &'static str, text: &str, required: bool) -> Result<(), ApiError> {
    let refusal = if required && text.trim().is_empty() {
        message!(TEXT_REQUIRED)
    } else if text.contains('\0') {
        message!(TEXT_HAS_NUL)
    } else if text.chars().count() > MAX_TEXT {
        message!(TEXT_TOO_LONG, max = MAX_TEXT)
    } else {
        return Ok(());
    };
    Err(ApiError::bad_input(argument, refusal))
}

/// Codes are lowercase letters, digits, dots and hyphens, as metric codes are.
pub fn checked_code(argument: &'static str, code: &str) -> Result<(), ApiError> {
    let well_formed = (1..=128).contains(&code.len())
        && code.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
    if well_formed {
        Ok(())
    } else {
        Err(ApiError::bad_input(
            argument,
            message!(CODE_FORMAT, code = code),
        ))
    }
}

/// Stores a new definition and its first version, with its audit entry, in one write (the
/// caller has checked the body and the caller's rights); `CONFLICT` when the code is taken.
pub async fn create<D: Versioned>(
    db: &DatabaseConnection,
    reference: &ReferenceCache,
    caller: &Caller,
    new: &NewDefinition<D::Head, D::Body>,
) -> Result<D, ApiError> {
    let txn = audit::begin_write(db).await?;
    match D::load(&txn, &new.code).await {
        Ok(_) => {
            return Err(ApiError::Conflict(message!(
                DEFINITION_EXISTS,
                code = &new.code
            )))
        }
        Err(ApiError::NotFound { .. }) => {}
        Err(other) => return Err(other),
    }
    let mut definition = D::insert_head(&txn, new).await?;
    let first = D::store(
        &txn,
        definition.head_id(),
        1,
        new.valid_from,
        &new.body,
        new.note.clone(),
        &caller.principal.actor,
    )
    .await?;
    let event = define_event::<D>(new);
    audit::append(&txn, caller, APPLIED, event).await?;
    txn.commit().await?;
    D::kept(reference).written();
    definition.push(first);
    Ok(definition)
}

/// The audit entry of a new definition: its names, head, and first version, as `audit verify`
/// checks the stored rows against.
pub fn define_event<D: Versioned>(new: &NewDefinition<D::Head, D::Body>) -> Event {
    let mut detail = serde_json::Map::new();
    detail.insert("nameVi".into(), new.name_vi.clone().into());
    detail.insert("nameEn".into(), new.name_en.clone().into());
    if let serde_json::Value::Object(head) = serialized(&new.head) {
        detail.extend(head);
    }
    let version = VersionDetail {
        number: 1,
        valid_from: new.valid_from,
        body: &new.body,
        note: &new.note,
    };
    version.fill::<D>(&mut detail);
    Event::new(D::DEFINE, Some(D::subject(&new.code)), detail.into())
}

fn serialized(value: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(value).expect("a definition serialises")
}

/// What the audit log keeps of a version.
struct VersionDetail<'a, B> {
    number: i32,
    valid_from: Option<NaiveDate>,
    body: &'a B,
    note: &'a Option<String>,
}

impl<B: Serialize> VersionDetail<'_, B> {
    fn fill<D: Versioned>(&self, detail: &mut serde_json::Map<String, serde_json::Value>) {
        detail.insert("version".into(), self.number.into());
        detail.insert("validFrom".into(), serialized(&self.valid_from));
        detail.insert(D::BODY.into(), serialized(self.body));
        detail.insert("note".into(), self.note.clone().into());
    }
}

/// A new definition of `code` from a day on.
#[derive(Debug, Clone)]
pub struct NewVersion<B> {
    pub code: String,
    pub body: B,
    pub valid_from: NaiveDate,
    pub note: Option<String>,
}

/// Stores the next version after the latest, with its audit entry, in one write (the caller
/// has checked the body and the caller's rights).
pub async fn append<D: Versioned>(
    db: &DatabaseConnection,
    reference: &ReferenceCache,
    caller: &Caller,
    new: &NewVersion<D::Body>,
) -> Result<D, ApiError> {
    let txn = audit::begin_write(db).await?;
    let mut definition = D::load(&txn, &new.code)
        .await
        .map_err(|e| e.for_argument("input.code"))?;
    let number = next_number(definition.versions().last(), new.valid_from)?;
    let row = D::store(
        &txn,
        definition.head_id(),
        number,
        Some(new.valid_from),
        &new.body,
        new.note.clone(),
        &caller.principal.actor,
    )
    .await?;
    let mut detail = serde_json::Map::new();
    let version = VersionDetail {
        number,
        valid_from: Some(new.valid_from),
        body: &new.body,
        note: &new.note,
    };
    version.fill::<D>(&mut detail);
    let event = Event::new(D::REVISE, Some(D::subject(&new.code)), detail.into());
    audit::append(&txn, caller, APPLIED, event).await?;
    txn.commit().await?;
    D::kept(reference).written();
    definition.push(row);
    Ok(definition)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct V(i32, Option<NaiveDate>);

    impl Dated for V {
        fn number(&self) -> i32 {
            self.0
        }
        fn valid_from(&self) -> Option<NaiveDate> {
            self.1
        }
    }

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[tokio::test]
    async fn a_kept_definition_is_read_again_once_the_head_moves_or_this_process_writes() {
        let head = SeenHead::new(1);
        let kept = KeptDefinitions::new(head.clone());
        let read = |value: i32| async move { Ok(value) };
        assert_eq!(kept.get("a", read(1)).await.unwrap(), 1);
        assert_eq!(kept.get("a", read(2)).await.unwrap(), 1, "kept");
        assert_eq!(kept.get("b", read(3)).await.unwrap(), 3, "by code");
        head.set(2);
        assert_eq!(kept.get("a", read(4)).await.unwrap(), 4, "the head moved");
        kept.written();
        assert_eq!(
            kept.get("a", read(5)).await.unwrap(),
            5,
            "this process wrote"
        );
        let unknown = kept.get("c", async { Err(ApiError::not_found("indicator", "c")) });
        assert!(unknown.await.is_err());
        assert_eq!(
            kept.get("c", read(6)).await.unwrap(),
            6,
            "a refusal is not kept"
        );
    }

    #[test]
    fn each_day_has_the_version_that_started_last_before_it() {
        let versions = [V(1, None), V(2, Some(day("2022-01-01")))];
        assert_eq!(valid_on(&versions, day("2021-12-31")).map(|v| v.0), Some(1));
        assert_eq!(valid_on(&versions, day("2022-01-01")).map(|v| v.0), Some(2));
        let late = [V(1, Some(day("2022-01-01")))];
        assert!(valid_on(&late, day("2021-06-01")).is_none());
        assert_eq!(next_number(versions.last(), day("2022-01-02")).unwrap(), 3);
        assert!(next_number(versions.last(), day("2022-01-01")).is_err());
        assert_eq!(next_number::<V>(None, day("2020-01-01")).unwrap(), 1);
    }
}

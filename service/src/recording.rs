//! Recording figures: batches that are all-or-nothing, corrections that never overwrite,
//! retractions that keep history, each written together with its audit entries.
//!
//! Every rule a figure must meet is checked here, whether it comes from GraphQL or from a CSV
//! import.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, SubsecRound, Utc};
use entity::values::{MetricKind, Qualifier, Scale, Unit};
use entity::{agency, metric, observation, observation_revision, source};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, QueryFilter, Set,
};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::access::Permission;
use super::audit::seal::{Seal, Sealed};
use super::audit::{self, Action, Caller, Event, APPLIED};
use super::observations::{self, CurrentObservation};
use super::time::{start_of_day, storable_instant, VIETNAM};
use super::{catalog, exact, kinds};
use crate::error::{not_found_message, ApiError, ItemFailure};
use crate::message;
use crate::messages::Message;

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

/// Reference data a batch is checked against, read once per batch.
struct Catalog {
    metrics: HashMap<String, metric::Model>,
    agencies: HashMap<String, agency::Model>,
    sources: HashMap<String, source::Model>,
}

impl Catalog {
    /// The reference rows a batch names, and no others: a batch for one province need not read
    /// every agency.
    async fn load(db: &impl ConnectionTrait, items: &[NewObservation]) -> Result<Self, ApiError> {
        let named = |code: fn(&NewObservation) -> Option<&String>| -> HashSet<String> {
            items.iter().filter_map(code).cloned().collect()
        };
        let metrics = named(|item| Some(&item.metric));
        let agencies = named(|item| item.agency.as_ref());
        let sources = named(|item| Some(&item.source));
        Ok(Self {
            metrics: catalog::keyed_where::<metric::Entity, _>(
                db,
                metric::Column::Code.is_in(metrics),
                |m| m.code.clone(),
            )
            .await?,
            agencies: catalog::keyed_where::<agency::Entity, _>(
                db,
                agency::Column::Code.is_in(agencies),
                |a| a.code.clone(),
            )
            .await?,
            sources: catalog::keyed_where::<source::Entity, _>(
                db,
                source::Column::Code.is_in(sources),
                |s| s.code.clone(),
            )
            .await?,
        })
    }
}

/// An item that passed every check, with its references resolved.
struct Valid {
    metric: metric::Model,
    agency_id: Option<i32>,
    source_id: i32,
    value: Decimal,
    denominator: Option<Decimal>,
}

/// Collects the failures of one item.
struct Failures<'a> {
    index: usize,
    line: Option<u64>,
    list: &'a mut Vec<ItemFailure>,
}

impl Failures<'_> {
    fn add(&mut self, field: &'static str, message: Message) {
        self.list.push(ItemFailure {
            index: self.index,
            line: self.line,
            field,
            message,
        });
    }
}

/// Earliest date a figure may describe: before the first national e-government programmes.
fn earliest_observation() -> DateTime<Utc> {
    start_of_day(
        NaiveDate::from_ymd_opt(1990, 1, 1).expect("a date"),
        VIETNAM,
    )
}

/// Checks one figure against the rules that need no database (value and unit, denominator,
/// dates, texts): seed and demonstration figures are held to them as every write is. The value
/// and denominator as stored, or every failure.
pub fn check_figure(
    item: &NewObservation,
    metric: &metric::Model,
    now: DateTime<Utc>,
) -> Result<(Decimal, Option<Decimal>), Vec<ItemFailure>> {
    let mut list = Vec::new();
    let mut failures = Failures {
        index: 0,
        line: item.line,
        list: &mut list,
    };
    check_shape(item, metric, now, &mut failures).ok_or(list)
}

/// Checks the rules that need no database: value and unit, denominator, dates, texts.
fn check_shape(
    item: &NewObservation,
    metric: &metric::Model,
    now: DateTime<Utc>,
    failures: &mut Failures<'_>,
) -> Option<(Decimal, Option<Decimal>)> {
    let before = failures.list.len();
    let value = match exact::storable("value", item.value) {
        Ok(value) => Some(value),
        Err(error) => {
            failures.add("value", error.message());
            None
        }
    };
    if let Some(value) = value {
        if value.is_sign_negative() && !value.is_zero() {
            failures.add(
                "value",
                message!(
                    VALUE_NEGATIVE,
                    value = value,
                    unit = format!("{:?}", metric.unit)
                ),
            );
        }
        let counted = matches!(
            metric.unit,
            Unit::Documents | Unit::Dossiers | Unit::Services | Unit::Agencies | Unit::Indicators
        );
        if counted && metric.scale == Scale::One && !value.fract().is_zero() {
            failures.add(
                "value",
                message!(
                    NOT_WHOLE,
                    value = value,
                    unit = format!("{:?}", metric.unit)
                ),
            );
        }
        if metric.unit == Unit::Percent && value > Decimal::ONE_HUNDRED {
            failures.add("value", message!(PERCENT_OVER_100, value = value));
        }
    }
    let denominator = match (kinds::needs_denominator(metric.kind), item.denominator) {
        (true, None) => {
            failures.add("denominator", message!(RATIO_NEEDS_DENOMINATOR));
            None
        }
        (true, Some(denominator)) => match exact::storable("denominator", denominator) {
            Ok(d) if d <= Decimal::ZERO => {
                failures.add("denominator", message!(DENOMINATOR_NOT_POSITIVE));
                None
            }
            Ok(d) => {
                if value.is_some_and(|v| v > d) {
                    failures.add(
                        "value",
                        message!(OVER_DENOMINATOR, value = item.value, denominator = d),
                    );
                }
                Some(d)
            }
            Err(error) => {
                failures.add("denominator", error.message());
                None
            }
        },
        (false, Some(_)) => {
            failures.add("denominator", message!(DENOMINATOR_ONLY_FOR_RATIOS));
            None
        }
        (_, None) => None,
    };
    // A few minutes' grace for a reporter whose clock runs ahead; a figure of today is dated
    // at the start of the day, which has passed.
    if item.observed_at > now + Duration::minutes(5) {
        failures.add(
            "observedAt",
            message!(IN_THE_FUTURE, instant = item.observed_at),
        );
    }
    for (field, instant) in [
        ("observedAt", Some(item.observed_at)),
        ("periodStart", item.period_start),
    ] {
        if let Some(Err(why)) = instant.map(storable_instant) {
            failures.add(
                field,
                Message::new(why).with("instant", instant.expect("checked")),
            );
        }
    }
    if item.observed_at < earliest_observation() {
        failures.add(
            "observedAt",
            message!(BEFORE_1990, instant = item.observed_at),
        );
    }
    match (kinds::covers_period(metric.kind), item.period_start) {
        (true, None) => failures.add("periodStart", message!(FLOW_NEEDS_PERIOD)),
        (true, Some(start)) if start >= item.observed_at => {
            failures.add("periodStart", message!(PERIOD_REVERSED))
        }
        (true, _) | (false, None) => {}
        (false, Some(_)) => failures.add("periodStart", message!(PERIOD_ONLY_FOR_FLOWS)),
    }
    if item.quote.trim().is_empty() {
        failures.add("quote", message!(QUOTE_REQUIRED));
    }
    for (field, text) in [("quote", Some(&item.quote)), ("note", item.note.as_ref())] {
        if text.is_some_and(|text| text.contains('\0')) {
            failures.add(field, message!(TEXT_HAS_NUL));
        }
    }
    if item.quote.chars().count() > MAX_TEXT {
        failures.add("quote", message!(TEXT_TOO_LONG, max = MAX_TEXT));
    }
    if item
        .note
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_TEXT)
    {
        failures.add("note", message!(TEXT_TOO_LONG, max = MAX_TEXT));
    }
    (failures.list.len() == before).then(|| (value.expect("checked"), denominator))
}

/// Checks a counter against the readings around it: it never goes down.
async fn check_counter(
    db: &impl ConnectionTrait,
    valid: &Valid,
    at: DateTime<Utc>,
    except: Option<i32>,
    failures: &mut Failures<'_>,
) -> Result<(), ApiError> {
    if !kinds::never_decreases(valid.metric.kind) {
        return Ok(());
    }
    let (before, after) =
        observations::neighbours(db, valid.metric.id, valid.agency_id, at, except).await?;
    if let Some(before) = before.filter(|b| b.revision.value > valid.value) {
        failures.add(
            "value",
            message!(
                COUNTER_DOWN_BEFORE,
                value = before.revision.value,
                at = before.observation.observed_at,
                id = before.observation.id
            ),
        );
    }
    if let Some(after) = after.filter(|a| a.revision.value < valid.value) {
        failures.add(
            "value",
            message!(
                COUNTER_DOWN_AFTER,
                value = after.revision.value,
                at = after.observation.observed_at,
                id = after.observation.id
            ),
        );
    }
    Ok(())
}

async fn validate(
    txn: &DatabaseTransaction,
    caller: &Caller,
    items: &[NewObservation],
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<Valid>, ApiError> {
    let catalog = Catalog::load(txn, items).await?;
    let now = Utc::now();
    let mut failures = Vec::new();
    let mut valid = Vec::with_capacity(items.len());
    let mut seen: HashMap<(i32, Option<i32>, DateTime<Utc>), usize> = HashMap::new();
    let keys = valid_keys(items, &catalog);
    let already_recorded = observations::existing(
        txn,
        keys.iter().zip(items).filter_map(|(key, item)| {
            key.map(|(metric, agency, _)| (metric, agency, item.observed_at))
        }),
    )
    .await?;
    for (index, item) in items.iter().enumerate() {
        let mut item_failures = Failures {
            index,
            line: item.line,
            list: &mut failures,
        };
        // Every reference is looked up, so that an item's answer names all that is wrong.
        let metric = catalog.metrics.get(&item.metric);
        if metric.is_none() {
            item_failures.add("metric", not_found_message("metric", "code", &item.metric));
        }
        let agency_id = match &item.agency {
            None => Some(None),
            Some(code) => catalog.agencies.get(code).map(|agency| Some(agency.id)),
        };
        if let (None, Some(code)) = (agency_id, &item.agency) {
            item_failures.add("agency", not_found_message("agency", "code", code));
        }
        let source = catalog.sources.get(&item.source);
        if source.is_none() {
            item_failures.add("source", not_found_message("source", "code", &item.source));
        }
        let (Some(metric), Some(agency_id), Some(source)) = (metric, agency_id, source) else {
            continue;
        };
        caller
            .principal
            .require_scope(agency_id, metric.platform_id)?;
        let Some((value, denominator)) = check_shape(item, metric, now, &mut item_failures) else {
            continue;
        };
        let series_key = (metric.id, agency_id, item.observed_at);
        if let Some(first) = seen.insert(series_key, index) {
            item_failures.add("observedAt", message!(DUPLICATE_IN_BATCH, item = first));
            continue;
        }
        if let Some(existing) = already_recorded.get(&observations::SeriesInstant::new(
            metric.id,
            agency_id,
            item.observed_at,
        )) {
            item_failures.add("observedAt", message!(ALREADY_RECORDED, id = existing));
            continue;
        }
        let candidate = Valid {
            metric: metric.clone(),
            agency_id,
            source_id: source.id,
            value,
            denominator,
        };
        check_counter(txn, &candidate, item.observed_at, None, &mut item_failures).await?;
        valid.push(candidate);
        progress(index as u64 + 1);
    }
    check_counters_within_batch(items, &keys, &mut failures);
    if failures.is_empty() {
        Ok(valid)
    } else {
        failures.sort_by_key(|f| f.index);
        Err(ApiError::invalid_items(failures))
    }
}

/// The series key of each item whose metric and agency are known.
fn valid_keys(
    items: &[NewObservation],
    catalog: &Catalog,
) -> Vec<Option<(i32, Option<i32>, MetricKind)>> {
    items
        .iter()
        .map(|item| {
            let metric = catalog.metrics.get(&item.metric)?;
            let agency = match &item.agency {
                None => None,
                Some(code) => Some(catalog.agencies.get(code)?.id),
            };
            Some((metric.id, agency, metric.kind))
        })
        .collect()
}

/// Counters within one batch must not go down between its own items either.
fn check_counters_within_batch(
    items: &[NewObservation],
    keys: &[Option<(i32, Option<i32>, MetricKind)>],
    failures: &mut Vec<ItemFailure>,
) {
    let mut series: HashMap<(i32, Option<i32>), Vec<usize>> = HashMap::new();
    for (index, key) in keys.iter().enumerate() {
        match key {
            Some((metric, agency, kind)) if kinds::never_decreases(*kind) => {
                series.entry((*metric, *agency)).or_default().push(index);
            }
            _ => {}
        }
    }
    for indexes in series.values_mut() {
        indexes.sort_by_key(|&i| items[i].observed_at);
        for pair in indexes.windows(2) {
            let (earlier, later) = (&items[pair[0]], &items[pair[1]]);
            if later.value < earlier.value {
                failures.push(ItemFailure {
                    index: pair[1],
                    line: later.line,
                    field: "value",
                    message: message!(COUNTER_DOWN_IN_BATCH, item = pair[0], value = earlier.value),
                });
            }
        }
    }
}

fn request_hash(items: &[NewObservation]) -> String {
    let canonical = serde_json::to_vec(items).expect("plain fields serialise");
    hex::encode(Sha256::digest(&canonical))
}

/// Records a batch: every item is checked, and one bad item refuses the batch with the index and
/// reason of each failure. With an idempotency key, a retried batch is applied once and the first
/// answer given again.
pub async fn record(
    db: &DatabaseConnection,
    caller: &Caller,
    items: Vec<NewObservation>,
    idempotency_key: Option<&str>,
    mode: Mode,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Recorded, ApiError> {
    let result = record_batch(db, caller, &items, idempotency_key, mode, progress).await;
    audit::log_refusal(db, caller, Action::RecordObservation, None, result).await
}

async fn record_batch(
    db: &DatabaseConnection,
    caller: &Caller,
    items: &[NewObservation],
    idempotency_key: Option<&str>,
    mode: Mode,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Recorded, ApiError> {
    caller.principal.require(Permission::Record)?;
    if items.is_empty() {
        return Err(ApiError::bad_input("input", message!(BATCH_EMPTY)));
    }
    let txn = audit::begin_write(db).await?;
    // Only a keyed request is compared with an earlier one: a large import need not hash itself.
    let request_hash = idempotency_key.map(|_| request_hash(items));
    if let (Some(key), Some(request_hash)) = (idempotency_key, &request_hash) {
        if let Some(earlier) =
            super::idempotency::find(&txn, &caller.principal.idempotency_scope(), key).await?
        {
            if &earlier.request_hash != request_hash {
                return Err(ApiError::Conflict(message!(
                    IDEMPOTENCY_KEY_REUSED,
                    key = key
                )));
            }
            // The first answer, as it was: the figures as they stood when it was given,
            // whatever was corrected since.
            let ids = super::idempotency::observation_ids(&earlier);
            let mut found = observations::by_ids(&txn, &ids, Some(earlier.created_at)).await?;
            let stored = ids
                .iter()
                .map(|id| {
                    found
                        .remove(id)
                        .ok_or_else(|| ApiError::no_such_id("observation", id))
                })
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(Recorded {
                checked: stored.len(),
                observations: stored,
                replayed: true,
            });
        }
    }
    let valid = validate(&txn, caller, items, progress).await?;
    if mode == Mode::DryRun {
        txn.rollback().await?;
        return Ok(Recorded {
            observations: Vec::new(),
            checked: valid.len(),
            replayed: false,
        });
    }

    let recorded_at = Utc::now().trunc_subsecs(6);
    let stored = insert_all(&txn, caller, items, valid, recorded_at).await?;
    if let (Some(key), Some(request_hash)) = (idempotency_key, &request_hash) {
        let ids: Vec<i32> = stored.iter().map(|o| o.observation.id).collect();
        super::idempotency::remember(
            &txn,
            &caller.principal.idempotency_scope(),
            key,
            request_hash,
            &ids,
        )
        .await?;
    }
    txn.commit().await?;
    Ok(Recorded {
        checked: stored.len(),
        observations: stored,
        replayed: false,
    })
}

/// Writes a validated batch in a few statements per thousand items: the observations, their
/// first revisions, and one audit entry each.
async fn insert_all(
    txn: &DatabaseTransaction,
    caller: &Caller,
    items: &[NewObservation],
    valid: Vec<Valid>,
    recorded_at: DateTime<Utc>,
) -> Result<Vec<CurrentObservation>, ApiError> {
    let mut observations = Vec::with_capacity(items.len());
    for chunk in items
        .iter()
        .zip(&valid)
        .collect::<Vec<_>>()
        .chunks(super::ROWS_PER_STATEMENT)
    {
        let inserted = observation::Entity::insert_many(chunk.iter().map(|(item, valid)| {
            observation::ActiveModel {
                metric_id: Set(valid.metric.id),
                agency_id: Set(valid.agency_id),
                observed_at: Set(item.observed_at),
                period_start: Set(item.period_start),
                synthetic: Set(false),
                ..Default::default()
            }
        }))
        .exec_with_returning(txn)
        .await?;
        // RETURNING promises no order: match rows by what identifies them within a batch.
        let mut by_key: HashMap<_, _> = inserted
            .into_iter()
            .map(|o| ((o.metric_id, o.agency_id, o.observed_at), o))
            .collect();
        for (item, valid) in chunk {
            let key = (valid.metric.id, valid.agency_id, item.observed_at);
            observations.push(by_key.remove(&key).ok_or_else(|| {
                ApiError::from(sea_orm::DbErr::Custom(format!(
                    "the inserted observation {key:?} was not returned"
                )))
            })?);
        }
    }

    let revisions: Vec<observation_revision::Model> = items
        .iter()
        .zip(valid)
        .zip(&observations)
        .map(|((item, valid), observation)| observation_revision::Model {
            id: 0,
            observation_id: observation.id,
            revision: 1,
            value: valid.value,
            qualifier: item.qualifier,
            denominator: valid.denominator,
            source_id: valid.source_id,
            quote: item.quote.trim().to_owned(),
            note: item.note.clone(),
            recorded_at,
            recorded_by: caller.principal.actor.clone(),
            reason: None,
            superseded_at: None,
            retracted: false,
        })
        .collect();
    let mut stored_revisions: HashMap<i32, observation_revision::Model> = HashMap::new();
    for chunk in revisions.chunks(super::ROWS_PER_STATEMENT) {
        let inserted = observation_revision::Entity::insert_many(chunk.iter().map(|revision| {
            let mut model = observation_revision::ActiveModel::from(revision.clone());
            model.id = sea_orm::NotSet;
            model
        }))
        .exec_with_returning(txn)
        .await?;
        stored_revisions.extend(inserted.into_iter().map(|r| (r.observation_id, r)));
    }

    let mut events = Vec::with_capacity(items.len());
    for (item, observation) in items.iter().zip(&observations) {
        let revision = stored_revisions.get(&observation.id).ok_or_else(|| {
            ApiError::from(sea_orm::DbErr::Custom(format!(
                "the revision of observation {} was not returned",
                observation.id
            )))
        })?;
        let detail = json!({
            "metric": item.metric,
            "agency": item.agency,
            "observedAt": item.observed_at,
            "periodStart": item.period_start,
            "value": exact::from_storage(revision.value).to_string(),
            "qualifier": item.qualifier,
            "denominator": exact::from_storage_opt(revision.denominator).map(|d| d.to_string()),
            "source": item.source,
            "quote": revision.quote,
        });
        let seal = Seal::of(
            revision.id,
            &Sealed {
                observation,
                revision,
            },
        );
        events.push(
            Event::new(
                Action::RecordObservation,
                Some(audit::observation_subject(observation.id)),
                detail,
            )
            .sealing(seal),
        );
    }
    audit::append_all(txn, caller, APPLIED, events).await?;

    observations
        .into_iter()
        .map(|observation| {
            let revision = stored_revisions.remove(&observation.id).ok_or_else(|| {
                ApiError::from(sea_orm::DbErr::Custom(format!(
                    "the revision of observation {} was not returned",
                    observation.id
                )))
            })?;
            Ok(CurrentObservation {
                observation,
                revision: observations::normalized(revision),
            })
        })
        .collect()
}

/// A new value for a recorded figure, based on the revision the corrector saw.
#[derive(Debug, Clone)]
pub struct Correction {
    pub observation_id: i32,
    /// The revision the correction replaces; if another correction came first, `CONFLICT`.
    pub expected_revision: i32,
    pub value: Decimal,
    /// Defaults to the current qualifier.
    pub qualifier: Option<Qualifier>,
    /// Defaults to the current denominator.
    pub denominator: Option<Decimal>,
    pub reason: String,
    pub source: String,
    pub quote: String,
}

/// Adds a revision with the corrected value; the replaced one stays in history.
pub async fn correct(
    db: &DatabaseConnection,
    caller: &Caller,
    correction: Correction,
) -> Result<CurrentObservation, ApiError> {
    let subject = Some(audit::observation_subject(correction.observation_id));
    let result = apply_correction(db, caller, &correction).await;
    audit::log_refusal(db, caller, Action::CorrectObservation, subject, result).await
}

/// The current revision of an observation the caller may amend, in a write transaction.
async fn amendable(
    txn: &DatabaseTransaction,
    caller: &Caller,
    observation_id: i32,
    expected_revision: Option<i32>,
) -> Result<(CurrentObservation, metric::Model), ApiError> {
    caller.principal.require(Permission::Amend)?;
    let current = observations::by_id(txn, observation_id, None).await?;
    let metric = metric::Entity::find_by_id(current.observation.metric_id)
        .one(txn)
        .await?
        .ok_or_else(|| ApiError::no_such_id("metric", current.observation.metric_id))?;
    caller
        .principal
        .require_scope(current.observation.agency_id, metric.platform_id)?;
    if current.revision.retracted {
        return Err(ApiError::Conflict(message!(
            RETRACTED,
            id = observation_id,
            revision = current.revision.revision
        )));
    }
    if let Some(expected) = expected_revision {
        if current.revision.revision != expected {
            return Err(ApiError::Conflict(message!(
                STALE_REVISION,
                id = observation_id,
                revision = current.revision.revision,
                expected = expected
            )));
        }
    }
    Ok((current, metric))
}

fn require_reason(reason: &str) -> Result<String, ApiError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_TEXT {
        return Err(ApiError::bad_input(
            "reason",
            message!(REASON_REQUIRED, max = MAX_TEXT),
        ));
    }
    Ok(reason.to_owned())
}

/// The revision after `previous`, made by `caller` for `reason`: the same figure until the caller
/// changes some of its fields.
fn next_revision(
    previous: &observation_revision::Model,
    caller: &Caller,
    reason: &str,
    recorded_at: DateTime<Utc>,
) -> observation_revision::ActiveModel {
    observation_revision::ActiveModel {
        observation_id: Set(previous.observation_id),
        revision: Set(previous.revision + 1),
        value: Set(previous.value),
        qualifier: Set(previous.qualifier),
        denominator: Set(previous.denominator),
        source_id: Set(previous.source_id),
        quote: Set(previous.quote.clone()),
        note: Set(previous.note.clone()),
        recorded_at: Set(recorded_at),
        recorded_by: Set(caller.principal.actor.clone()),
        reason: Set(Some(reason.to_owned())),
        superseded_at: Set(None),
        retracted: Set(false),
        ..Default::default()
    }
}

/// Closes `current` when `next` is recorded and appends `next`, refusing if another write closed
/// it first.
async fn supersede(
    txn: &DatabaseTransaction,
    current: &observation_revision::Model,
    next: observation_revision::ActiveModel,
) -> Result<observation_revision::Model, ApiError> {
    let closed_at = next.recorded_at.clone().take().unwrap_or_else(Utc::now);
    let closed = observation_revision::Entity::update_many()
        .col_expr(
            observation_revision::Column::SupersededAt,
            sea_orm::sea_query::Expr::value(closed_at),
        )
        .filter(observation_revision::Column::Id.eq(current.id))
        .filter(observation_revision::Column::SupersededAt.is_null())
        .exec(txn)
        .await?;
    if closed.rows_affected != 1 {
        return Err(ApiError::Conflict(message!(
            REPLACED_MEANWHILE,
            revision = current.revision,
            id = current.observation_id
        )));
    }
    Ok(next.insert(txn).await?)
}

/// Replaces the current revision of a figure inside a write begun with `audit::begin_write`,
/// logs `action` with the detail `describe` gives of the replaced and the new revision, and
/// commits: corrections and retractions end alike.
async fn amend(
    txn: DatabaseTransaction,
    caller: &Caller,
    current: CurrentObservation,
    replacement: observation_revision::ActiveModel,
    action: Action,
    describe: impl FnOnce(&observation_revision::Model, &observation_revision::Model) -> Value,
) -> Result<CurrentObservation, ApiError> {
    // As read back, so that the log states the value the same way on both databases.
    let revision = observations::normalized(supersede(&txn, &current.revision, replacement).await?);
    let subject = Some(audit::observation_subject(current.observation.id));
    let detail = describe(&current.revision, &revision);
    let seal = Seal::of(
        revision.id,
        &Sealed {
            observation: &current.observation,
            revision: &revision,
        },
    );
    let event = Event::new(action, subject, detail).sealing(seal);
    audit::append(&txn, caller, APPLIED, event).await?;
    txn.commit().await?;
    Ok(CurrentObservation {
        observation: current.observation,
        revision,
    })
}

async fn apply_correction(
    db: &DatabaseConnection,
    caller: &Caller,
    correction: &Correction,
) -> Result<CurrentObservation, ApiError> {
    let reason = require_reason(&correction.reason)?;
    let txn = audit::begin_write(db).await?;
    let (current, metric) = amendable(
        &txn,
        caller,
        correction.observation_id,
        Some(correction.expected_revision),
    )
    .await
    .map_err(|e| e.for_argument("input.id"))?;
    let source = source::Entity::find()
        .filter(source::Column::Code.eq(correction.source.as_str()))
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::not_found("source", correction.source.clone()))
        .map_err(|e| e.for_argument("input.source"))?;
    let corrected = NewObservation {
        metric: metric.code.clone(),
        agency: None,
        observed_at: current.observation.observed_at,
        period_start: current.observation.period_start,
        value: correction.value,
        qualifier: correction.qualifier.unwrap_or(current.revision.qualifier),
        denominator: correction.denominator.or(current.revision.denominator),
        source: source.code.clone(),
        quote: correction.quote.clone(),
        note: None,
        line: None,
    };
    let mut failures = Vec::new();
    let mut item_failures = Failures {
        index: 0,
        line: None,
        list: &mut failures,
    };
    if let Some((value, denominator)) =
        check_shape(&corrected, &metric, Utc::now(), &mut item_failures)
    {
        let valid = Valid {
            metric: metric.clone(),
            agency_id: current.observation.agency_id,
            source_id: source.id,
            value,
            denominator,
        };
        check_counter(
            &txn,
            &valid,
            corrected.observed_at,
            Some(current.observation.id),
            &mut item_failures,
        )
        .await?;
    }
    if let Some(failure) = failures.into_iter().next() {
        return Err(ApiError::bad_input(failure.field, failure.message));
    }

    let recorded_at = Utc::now().trunc_subsecs(6);
    let value = exact::storable("value", corrected.value)?;
    let replacement = observation_revision::ActiveModel {
        value: Set(value),
        qualifier: Set(corrected.qualifier),
        denominator: Set(corrected.denominator.map(|d| d.normalize())),
        source_id: Set(source.id),
        quote: Set(corrected.quote.trim().to_owned()),
        ..next_revision(&current.revision, caller, &reason, recorded_at)
    };
    amend(
        txn,
        caller,
        current,
        replacement,
        Action::CorrectObservation,
        |from, to| {
            json!({
                "fromRevision": from.revision,
                "toRevision": to.revision,
                "from": { "value": from.value.to_string(), "qualifier": from.qualifier },
                "to": { "value": to.value.to_string(), "qualifier": to.qualifier },
                "reason": reason,
                "source": source.code,
            })
        },
    )
    .await
}

/// Withdraws a figure from current answers; it stays in history and in answers `asOf` earlier.
pub async fn retract(
    db: &DatabaseConnection,
    caller: &Caller,
    observation_id: i32,
    reason: &str,
) -> Result<CurrentObservation, ApiError> {
    let subject = Some(audit::observation_subject(observation_id));
    let result = apply_retraction(db, caller, observation_id, reason).await;
    audit::log_refusal(db, caller, Action::RetractObservation, subject, result).await
}

async fn apply_retraction(
    db: &DatabaseConnection,
    caller: &Caller,
    observation_id: i32,
    reason: &str,
) -> Result<CurrentObservation, ApiError> {
    let reason = require_reason(reason)?;
    let txn = audit::begin_write(db).await?;
    let (current, _) = amendable(&txn, caller, observation_id, None)
        .await
        .map_err(|e| e.for_argument("id"))?;
    let recorded_at = Utc::now().trunc_subsecs(6);
    // The retraction keeps the withdrawn value, so history shows what was withdrawn.
    let replacement = observation_revision::ActiveModel {
        retracted: Set(true),
        ..next_revision(&current.revision, caller, &reason, recorded_at)
    };
    amend(
        txn,
        caller,
        current,
        replacement,
        Action::RetractObservation,
        |_, to| json!({ "revision": to.revision, "reason": reason }),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(kind: MetricKind, unit: Unit) -> metric::Model {
        metric::Model {
            id: 1,
            platform_id: 1,
            code: "platform.metric".to_owned(),
            name_vi: String::new(),
            name_en: String::new(),
            unit,
            scale: Scale::One,
            kind,
        }
    }

    fn figure(observed_at: &str, value: &str) -> NewObservation {
        NewObservation {
            metric: "platform.metric".to_owned(),
            agency: None,
            observed_at: observed_at.parse().unwrap(),
            period_start: None,
            value: value.parse().unwrap(),
            qualifier: Qualifier::Exact,
            denominator: None,
            source: "article-001".to_owned(),
            quote: "trích dẫn".to_owned(),
            note: None,
            line: None,
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    /// The fields a figure is refused on, and the English of each reason.
    fn refusals(item: &NewObservation, metric: &metric::Model) -> Vec<(&'static str, String)> {
        match check_figure(item, metric, now()) {
            Ok(_) => Vec::new(),
            Err(failures) => failures
                .into_iter()
                .map(|f| (f.field, f.message.to_string()))
                .collect(),
        }
    }

    #[test]
    fn a_figure_that_meets_every_rule_is_stored_in_its_canonical_form() {
        let level = metric(MetricKind::Level, Unit::Services);
        let checked = check_figure(&figure("2021-06-30T00:00:00Z", "2700.00"), &level, now());
        assert_eq!(checked.unwrap().0.to_string(), "2700");
    }

    #[test]
    fn values_must_fit_the_unit() {
        let count = metric(MetricKind::Level, Unit::Documents);
        let fields = |value| refusals(&figure("2021-06-30T00:00:00Z", value), &count);
        assert_eq!(fields("-1")[0].0, "value");
        assert!(fields("-1")[0].1.contains("negative"));
        assert!(fields("2.5")[0].1.contains("not a whole number"));
        assert!(fields("1.1234567")[0].1.contains("decimal places"));
        let percent = metric(MetricKind::Level, Unit::Percent);
        let over = refusals(&figure("2021-06-30T00:00:00Z", "100.5"), &percent);
        assert!(over[0].1.contains("more than 100%"), "{over:?}");
        assert!(refusals(&figure("2021-06-30T00:00:00Z", "100"), &percent).is_empty());
    }

    #[test]
    fn a_ratio_carries_its_denominator_and_nothing_else_does() {
        let ratio = metric(MetricKind::Ratio, Unit::Indicators);
        let mut item = figure("2021-06-30T00:00:00Z", "106");
        assert_eq!(refusals(&item, &ratio)[0].0, "denominator");
        item.denominator = Some(Decimal::from(200));
        assert!(refusals(&item, &ratio).is_empty());
        item.denominator = Some(Decimal::from(100));
        assert!(refusals(&item, &ratio)[0]
            .1
            .contains("more than its denominator"));
        item.denominator = Some(Decimal::ZERO);
        assert_eq!(
            refusals(&item, &ratio)[0],
            ("denominator", "must be greater than zero".to_owned())
        );
        let level = metric(MetricKind::Level, Unit::Indicators);
        assert_eq!(refusals(&item, &level)[0].0, "denominator");
    }

    #[test]
    fn a_flow_says_when_its_period_started_and_nothing_else_does() {
        let flow = metric(MetricKind::Flow, Unit::Dossiers);
        let mut item = figure("2021-07-01T00:00:00Z", "5000");
        assert_eq!(refusals(&item, &flow)[0].0, "periodStart");
        item.period_start = Some("2021-07-01T00:00:00Z".parse().unwrap());
        assert!(refusals(&item, &flow)[0].1.contains("start before it ends"));
        item.period_start = Some("2021-06-01T00:00:00Z".parse().unwrap());
        assert!(refusals(&item, &flow).is_empty());
        let level = metric(MetricKind::Level, Unit::Dossiers);
        assert_eq!(refusals(&item, &level)[0].1, "only flows cover a period");
    }

    #[test]
    fn dates_lie_between_1990_and_a_few_minutes_from_now() {
        let level = metric(MetricKind::Level, Unit::Services);
        assert!(refusals(&figure("1989-12-31T00:00:00Z", "1"), &level)[0]
            .1
            .contains("before 1990"));
        assert!(refusals(&figure("2026-01-01T00:04:00Z", "1"), &level).is_empty());
        assert!(refusals(&figure("2026-01-01T00:06:00Z", "1"), &level)[0]
            .1
            .contains("in the future"));
        let fine = refusals(&figure("2021-06-30T00:00:00.0000001Z", "1"), &level);
        assert!(fine[0].1.contains("finer than a microsecond"), "{fine:?}");
    }

    #[test]
    fn texts_are_quoted_within_bounds_and_storable() {
        let level = metric(MetricKind::Level, Unit::Services);
        let mut item = figure("2021-06-30T00:00:00Z", "1");
        item.quote = " ".to_owned();
        assert_eq!(refusals(&item, &level)[0].0, "quote");
        item.quote = "a\0b".to_owned();
        item.note = Some("x".repeat(MAX_TEXT + 1));
        let fields: Vec<_> = refusals(&item, &level)
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(fields, ["quote", "note"]);
    }

    #[test]
    fn every_failure_of_a_figure_is_listed_not_only_the_first() {
        let ratio = metric(MetricKind::Ratio, Unit::Indicators);
        let mut item = figure("2031-01-01T00:00:00Z", "-1");
        item.quote = String::new();
        item.period_start = Some("2020-01-01T00:00:00Z".parse().unwrap());
        let fields: Vec<_> = refusals(&item, &ratio)
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(
            fields,
            ["value", "denominator", "observedAt", "periodStart", "quote"]
        );
    }

    #[test]
    fn a_counter_never_goes_down_within_a_batch() {
        let items = [
            figure("2021-03-01T00:00:00Z", "300"),
            figure("2021-01-01T00:00:00Z", "100"),
            figure("2021-02-01T00:00:00Z", "50"),
        ];
        let counter = Some((1, None, MetricKind::Cumulative));
        let mut failures = Vec::new();
        check_counters_within_batch(&items, &[counter; 3], &mut failures);
        let refused: Vec<_> = failures
            .iter()
            .map(|f| (f.index, f.message.to_string()))
            .collect();
        assert_eq!(
            refused,
            [(
                2,
                "the counter would go down: item 1 records 100 for an earlier instant".to_owned()
            )]
        );
        let level = Some((1, None, MetricKind::Level));
        let mut failures = Vec::new();
        check_counters_within_batch(&items, &[level; 3], &mut failures);
        assert!(failures.is_empty(), "a level may go down");
    }
}

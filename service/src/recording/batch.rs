//! A batch checked against the database and stored all or nothing, with its audit entries.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, SubsecRound, Utc};
use entity::values::MetricKind;
use entity::{agency, metric, observation, observation_revision, source};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait,
};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::access::Permission;
use crate::audit::seal::{Seal, Sealed};
use crate::audit::{self, Action, Caller, Event, APPLIED};
use crate::error::{not_found_message, ApiError};
use crate::message;
use crate::observations::{self, CurrentObservation, Places};
use crate::time::{local_date, VIETNAM};
use crate::{catalog, exact};

use super::rules::{check_counter, check_counters_within_batch, check_shape, Failures, Valid};
use super::{Mode, NewObservation, Recorded};

/// The first day of the figure on which `agency` is not in force, if there is one: a figure
/// belongs to the units of its own days (a province merged on 1 July 2025 reports until June).
fn outside_validity(agency: &agency::Model, item: &NewObservation) -> Option<chrono::NaiveDate> {
    let first = local_date(item.period_start.unwrap_or(item.observed_at), VIETNAM);
    // A period ends where the next begins: its last day is the one before `observedAt`.
    let last = match item.period_start {
        Some(_) => local_date(
            item.observed_at - chrono::Duration::microseconds(1),
            VIETNAM,
        ),
        None => local_date(item.observed_at, VIETNAM),
    };
    [first, last].into_iter().find(|&day| !agency.valid_on(day))
}

/// Reference data a batch is checked against, read once per batch (or per group of batches).
pub(super) struct Catalog {
    pub(super) metrics: HashMap<String, metric::Model>,
    pub(super) agencies: HashMap<String, agency::Model>,
    sources: HashMap<String, source::Model>,
}

/// Metrics and sources read before. They are only ever added while a server runs (seeds and
/// demonstration data insert the missing ones and change none), so a row read once stays
/// current and only codes not seen yet are read; agencies, whose dates a seed may complete, are
/// read each time.
#[derive(Default)]
pub(super) struct KnownRows {
    metrics: HashMap<String, metric::Model>,
    sources: HashMap<String, source::Model>,
}

impl Catalog {
    /// The reference rows a batch names, and no others: a batch for one province need not read
    /// every agency.
    pub(super) async fn load<'a>(
        db: &impl ConnectionTrait,
        items: impl IntoIterator<Item = &'a NewObservation>,
        known: &mut KnownRows,
    ) -> Result<Self, ApiError> {
        let items: Vec<&NewObservation> = items.into_iter().collect();
        let named = |code: fn(&NewObservation) -> Option<&String>| -> HashSet<String> {
            items.iter().copied().filter_map(code).cloned().collect()
        };
        let agencies = named(|item| item.agency.as_ref());
        Ok(Self {
            metrics: known_or_read::<metric::Entity>(
                db,
                &mut known.metrics,
                named(|item| Some(&item.metric)),
                metric::Column::Code,
                |m| m.code.clone(),
            )
            .await?,
            // National figures name no agency: nothing to read.
            agencies: if agencies.is_empty() {
                HashMap::new()
            } else {
                catalog::keyed_where::<agency::Entity, _>(
                    db,
                    agency::Column::Code.is_in(agencies),
                    |a| a.code.clone(),
                )
                .await?
            },
            sources: known_or_read::<source::Entity>(
                db,
                &mut known.sources,
                named(|item| Some(&item.source)),
                source::Column::Code,
                |s| s.code.clone(),
            )
            .await?,
        })
    }
}

/// The rows with these codes: those in `known`, and the others read (and kept once found).
async fn known_or_read<E: EntityTrait>(
    db: &impl ConnectionTrait,
    known: &mut HashMap<String, E::Model>,
    codes: HashSet<String>,
    code_column: E::Column,
    code: fn(&E::Model) -> String,
) -> Result<HashMap<String, E::Model>, ApiError>
where
    E::Model: Clone,
{
    let unseen: Vec<&String> = codes.iter().filter(|c| !known.contains_key(*c)).collect();
    if !unseen.is_empty() {
        let read = catalog::keyed_where::<E, _>(db, code_column.is_in(unseen), code).await?;
        known.extend(read);
    }
    Ok(codes
        .into_iter()
        .filter_map(|c| known.get(&c).map(|row| (c, row.clone())))
        .collect())
}

async fn validate(
    txn: &DatabaseTransaction,
    caller: &Caller,
    items: &[NewObservation],
    catalog: &Catalog,
    already_recorded: Option<&HashMap<observations::SeriesInstant, i32>>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<Valid>, ApiError> {
    let now = Utc::now();
    let mut failures = Vec::new();
    let mut valid = Vec::with_capacity(items.len());
    let mut seen: HashMap<(i32, Option<i32>, DateTime<Utc>), usize> = HashMap::new();
    let keys = valid_keys(items, catalog);
    let read_here;
    let already_recorded = match already_recorded {
        Some(known) => known,
        None => {
            read_here = observations::existing(txn, places(items, catalog).into_iter()).await?;
            &read_here
        }
    };
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
        if let Some(agency) = item
            .agency
            .as_ref()
            .and_then(|code| catalog.agencies.get(code))
        {
            if let Some(day) = outside_validity(agency, item) {
                let agency = &agency.code;
                item_failures.add(
                    "agency",
                    message!(AGENCY_NOT_IN_FORCE, agency = agency, day = day),
                );
            }
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

/// Where each item whose metric and agency exist would be recorded: (metric, agency, instant).
pub(super) fn places(
    items: &[NewObservation],
    catalog: &Catalog,
) -> Vec<(i32, Option<i32>, DateTime<Utc>)> {
    valid_keys(items, catalog)
        .into_iter()
        .zip(items)
        .filter_map(|(key, item)| key.map(|(metric, agency, _)| (metric, agency, item.observed_at)))
        .collect()
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
    let txn = audit::begin_write(db).await?;
    let catalog = Catalog::load(&txn, items, &mut KnownRows::default()).await?;
    let batch = Batch {
        caller,
        items,
        idempotency_key,
        catalog: &catalog,
        already_recorded: None,
    };
    let recorded = match check(&txn, &batch, progress).await? {
        Checked::Replayed(recorded) => recorded,
        Checked::Valid { valid, .. } if mode == Mode::DryRun => Recorded {
            observations: Vec::new(),
            checked: valid.len(),
            replayed: false,
        },
        Checked::Valid {
            valid,
            request_hash,
        } => {
            let written = store(
                &txn,
                vec![ToStore {
                    batch,
                    valid,
                    request_hash,
                }],
                Places::Free,
            )
            .await?
            .and_then(|mut written| written.pop())
            .ok_or_else(|| DbErr::Custom("a batch read as free was not stored".to_owned()))?;
            audit::append_all(&txn, caller, APPLIED, written.entries).await?;
            txn.commit().await?;
            return Ok(written.recorded);
        }
    };
    // Nothing was written: a replayed answer, or a dry run.
    txn.rollback().await?;
    Ok(recorded)
}

/// A batch as a caller sent it, with the reference rows it names.
pub(super) struct Batch<'a> {
    pub caller: &'a Caller,
    pub items: &'a [NewObservation],
    pub idempotency_key: Option<&'a str>,
    pub catalog: &'a Catalog,
    /// The figures already recorded at the batch's places, when read with others' (a group's);
    /// none: the batch reads them itself.
    pub already_recorded: Option<&'a HashMap<observations::SeriesInstant, i32>>,
}

/// What checking a batch found.
pub(super) enum Checked {
    /// The key matched an earlier request: its answer, given again.
    Replayed(Recorded),
    /// Every item met every rule: the figures, ready to be stored.
    Valid {
        valid: Vec<Valid>,
        request_hash: Option<String>,
    },
}

/// A checked batch, waiting to be stored with others.
pub(super) struct ToStore<'a> {
    pub batch: Batch<'a>,
    pub valid: Vec<Valid>,
    pub request_hash: Option<String>,
}

/// A batch stored, and the audit entries that must seal it in the same transaction.
pub(super) struct Written {
    pub recorded: Recorded,
    pub entries: Vec<Event>,
}

/// Checks a batch within `txn`, which holds the chain's head, and writes nothing: every refusal
/// is decided here, so an error while storing is the database's, never a refusal.
pub(super) async fn check(
    txn: &DatabaseTransaction,
    batch: &Batch<'_>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Checked, ApiError> {
    let Batch {
        caller,
        items,
        idempotency_key,
        catalog,
        already_recorded,
    } = *batch;
    caller.principal.require(Permission::Record)?;
    if items.is_empty() {
        return Err(ApiError::bad_input("input", message!(BATCH_EMPTY)));
    }
    // Only a keyed request is compared with an earlier one: a large import need not hash itself.
    let request_hash = idempotency_key.map(|_| request_hash(items));
    if let (Some(key), Some(request_hash)) = (idempotency_key, &request_hash) {
        if let Some(earlier) =
            crate::idempotency::find(txn, &caller.principal.idempotency_scope(), key).await?
        {
            if &earlier.request_hash != request_hash {
                return Err(ApiError::Conflict(message!(
                    IDEMPOTENCY_KEY_REUSED,
                    key = key
                )));
            }
            // The first answer, as it was: the figures as they stood when it was given,
            // whatever was corrected since.
            let ids = crate::idempotency::observation_ids(&earlier);
            let mut found = observations::by_ids(txn, &ids, Some(earlier.created_at)).await?;
            let stored = ids
                .iter()
                .map(|id| {
                    found
                        .remove(id)
                        .ok_or_else(|| ApiError::no_such_id("observation", id))
                })
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(Checked::Replayed(Recorded {
                checked: stored.len(),
                observations: stored,
                replayed: true,
            }));
        }
    }
    let valid = validate(txn, caller, items, catalog, already_recorded, progress).await?;
    Ok(Checked::Valid {
        valid,
        request_hash,
    })
}

/// Stores checked batches together, in a few statements per thousand figures whatever the
/// number of batches, and remembers each keyed batch's answer; returns each batch's figures and
/// audit entries, in order. `None` when `places` were not read and one was found taken: the
/// caller rolls back.
pub(super) async fn store(
    txn: &DatabaseTransaction,
    batches: Vec<ToStore<'_>>,
    places: Places,
) -> Result<Option<Vec<Written>>, ApiError> {
    let recorded_at = Utc::now().trunc_subsecs(6);
    let sizes: Vec<usize> = batches.iter().map(|b| b.valid.len()).collect();
    let mut rows = Vec::with_capacity(sizes.iter().sum());
    let mut keyed = Vec::with_capacity(batches.len());
    for ToStore {
        batch,
        valid,
        request_hash,
    } in batches
    {
        keyed.push((batch.caller, batch.idempotency_key, request_hash));
        rows.extend(
            batch
                .items
                .iter()
                .zip(valid)
                .map(|(item, valid)| (batch.caller, item, valid)),
        );
    }
    let Some((stored, entries)) = insert_all(txn, rows, recorded_at, places).await? else {
        return Ok(None);
    };
    let (mut stored, mut entries) = (stored.into_iter(), entries.into_iter());
    let mut written = Vec::with_capacity(sizes.len());
    for (size, (caller, key, request_hash)) in sizes.into_iter().zip(keyed) {
        let observations: Vec<CurrentObservation> = stored.by_ref().take(size).collect();
        if let (Some(key), Some(request_hash)) = (key, &request_hash) {
            let ids: Vec<i32> = observations.iter().map(|o| o.observation.id).collect();
            crate::idempotency::remember(
                txn,
                &caller.principal.idempotency_scope(),
                key,
                request_hash,
                &ids,
            )
            .await?;
        }
        written.push(Written {
            recorded: Recorded {
                checked: observations.len(),
                observations,
                replayed: false,
            },
            entries: entries.by_ref().take(size).collect(),
        });
    }
    Ok(Some(written))
}

/// Writes validated batches' observations and their first revisions (on PostgreSQL in one
/// statement, on SQLite a few per thousand items); returns them with the audit entry that seals
/// each, or `None` as [`store`] does.
async fn insert_all(
    txn: &DatabaseTransaction,
    rows: Vec<(&Caller, &NewObservation, Valid)>,
    recorded_at: DateTime<Utc>,
    places: Places,
) -> Result<Option<(Vec<CurrentObservation>, Vec<Event>)>, ApiError> {
    let new_observations: Vec<observation::Model> = rows
        .iter()
        .map(|(_, item, valid)| observation::Model {
            id: 0,
            metric_id: valid.metric.id,
            agency_id: valid.agency_id,
            observed_at: item.observed_at,
            period_start: item.period_start,
            synthetic: false,
        })
        .collect();
    let revisions: Vec<observation_revision::Model> = rows
        .iter()
        .map(|(caller, item, valid)| observation_revision::Model {
            id: 0,
            observation_id: 0,
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
    let stored = match places {
        Places::Free => {
            observations::insert_with_first_revisions(txn, &new_observations, revisions).await?
        }
        Places::Unread => {
            match observations::insert_where_free(txn, &new_observations, revisions).await? {
                Some(stored) => stored,
                None => return Ok(None),
            }
        }
    };

    let mut events = Vec::with_capacity(rows.len());
    for (
        (_, item, _),
        CurrentObservation {
            observation,
            revision,
        },
    ) in rows.iter().zip(&stored)
    {
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
    Ok(Some((stored, events)))
}

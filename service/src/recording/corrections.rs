//! Corrections and retractions: new revisions of a stored figure, never overwrites.

use chrono::{DateTime, SubsecRound, Utc};
use entity::values::Qualifier;
use entity::{metric, observation_revision, source};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryFilter, Set,
};
use serde_json::{json, Value};

use crate::access::Permission;
use crate::audit::seal::{Seal, Sealed};
use crate::audit::{self, Action, Caller, Event, APPLIED};
use crate::error::ApiError;
use crate::exact;
use crate::message;
use crate::observations::{self, CurrentObservation};

use super::rules::{check_counter, check_shape, Failures, Valid};
use super::{NewObservation, MAX_TEXT};

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
    txn: audit::ChainWrite,
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

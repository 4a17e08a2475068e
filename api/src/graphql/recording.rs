use super::scalars::Instant;
use async_graphql::{Context, InputObject, Object, Result, SimpleObject, Upload, ID};
use entity::values::Qualifier;

use super::observations::Observation;
use super::scalars::Exact;
use super::{caller, database};
use crate::error::{ApiError, GraphqlError};
use crate::service::import;
use crate::service::recording::{self, Correction, GroupCommit, Mode, NewObservation, Recorded};

/// The most observations one request may record; larger sets go through the CSV import.
pub const MAX_BATCH: usize = 1000;

/// A figure to record.
#[derive(Debug, InputObject)]
pub struct ObservationInput {
    /// Metric code.
    pub metric: String,
    /// Agency code, for a figure about one agency.
    pub agency: Option<String>,
    /// The instant the value describes; for a flow, the end of its period (exclusive).
    pub observed_at: Instant,
    /// For a flow, the start of its period.
    pub period_start: Option<Instant>,
    /// In the metric's unit and scale.
    pub value: Exact,
    #[graphql(default_with = "Qualifier::Exact")]
    pub qualifier: Qualifier,
    /// For a ratio, what the value is out of.
    pub denominator: Option<Exact>,
    /// Code of a registered source.
    pub source: String,
    /// The phrase of the source the value was read from, verbatim.
    pub quote: String,
    pub note: Option<String>,
}

impl From<ObservationInput> for NewObservation {
    fn from(input: ObservationInput) -> Self {
        Self {
            metric: input.metric,
            agency: input.agency,
            observed_at: input.observed_at.0,
            period_start: input.period_start.map(|at| at.0),
            value: input.value.0,
            qualifier: input.qualifier,
            denominator: input.denominator.map(|d| d.0),
            source: input.source,
            quote: input.quote,
            note: input.note,
            line: None,
        }
    }
}

/// A corrected value for a recorded figure.
#[derive(Debug, InputObject)]
pub struct CorrectionInput {
    pub id: ID,
    /// The revision being corrected, as last read; a later one makes this a `CONFLICT`.
    pub expected_revision: i32,
    pub value: Exact,
    /// Defaults to the current qualifier.
    pub qualifier: Option<Qualifier>,
    /// Defaults to the current denominator.
    pub denominator: Option<Exact>,
    /// Why the value changes.
    pub reason: String,
    /// Code of the source of the corrected value.
    pub source: String,
    /// The phrase of that source, verbatim.
    pub quote: String,
}

#[derive(SimpleObject)]
pub struct RecordResult {
    /// What was stored; empty for a dry run.
    pub observations: Vec<Observation>,
    /// How many items passed every check.
    pub checked: usize,
    /// True when the idempotency key matched an earlier request and this is its result.
    pub replayed: bool,
}

impl From<Recorded> for RecordResult {
    fn from(recorded: Recorded) -> Self {
        Self {
            observations: recorded
                .observations
                .into_iter()
                .map(Observation::from)
                .collect(),
            checked: recorded.checked,
            replayed: recorded.replayed,
        }
    }
}

fn observation_id(id: &ID) -> Result<i32> {
    id.parse().map_err(|_| {
        ApiError::bad_input("id", crate::message!(NOT_AN_OBSERVATION_ID, id = &**id)).extend()
    })
}

#[derive(Default)]
pub struct RecordingMutation;

#[Object]
impl RecordingMutation {
    /// Records figures, all or none: one invalid item refuses the batch, and the error lists the
    /// index, field and reason of every failure. A retry with the same `idempotencyKey` is applied
    /// once. Reporters record within their key's agency or platform.
    async fn record_observations(
        &self,
        ctx: &Context<'_>,
        input: Vec<ObservationInput>,
        idempotency_key: Option<String>,
        #[graphql(default)] dry_run: bool,
    ) -> Result<RecordResult> {
        if input.len() > MAX_BATCH {
            return Err(ApiError::bad_input(
                "input",
                crate::message!(BATCH_TOO_LARGE, max = MAX_BATCH),
            )
            .extend());
        }
        let items = input.into_iter().map(NewObservation::from).collect();
        let key = idempotency_key.as_deref();
        let recorded = if dry_run {
            recording::record(
                database(ctx)?,
                &caller(ctx),
                items,
                key,
                Mode::DryRun,
                &|_| {},
            )
            .await
        } else {
            // Stored with the batches other callers send meanwhile, in one commit.
            let writer = ctx.data::<GroupCommit>()?;
            writer.record(&caller(ctx), items, key).await
        };
        recorded.map(RecordResult::from).map_err(|e| e.extend())
    }

    /// Corrects a figure: a new revision replaces the current one, which stays in history.
    async fn correct_observation(
        &self,
        ctx: &Context<'_>,
        input: CorrectionInput,
    ) -> Result<Observation> {
        let correction = Correction {
            observation_id: observation_id(&input.id)?,
            expected_revision: input.expected_revision,
            value: input.value.0,
            qualifier: input.qualifier,
            denominator: input.denominator.map(|d| d.0),
            reason: input.reason,
            source: input.source,
            quote: input.quote,
        };
        recording::correct(database(ctx)?, &caller(ctx), correction)
            .await
            .map(Observation::from)
            .map_err(|e| e.extend())
    }

    /// Records the figures of an uploaded CSV file (multipart request), all rows or none; the
    /// error lists every bad row with its line number. Columns as for `egov-kpi import`.
    async fn import_observations(
        &self,
        ctx: &Context<'_>,
        file: Upload,
        #[graphql(default)] dry_run: bool,
    ) -> Result<RecordResult> {
        let upload = file.value(ctx)?;
        let mode = if dry_run { Mode::DryRun } else { Mode::Apply };
        import::import(
            database(ctx)?,
            &caller(ctx),
            &upload.filename,
            upload.content.as_ref(),
            mode,
            &|_| {},
        )
        .await
        .map(RecordResult::from)
        .map_err(|e| e.extend())
    }

    /// Withdraws a figure from current answers; it stays in history and in earlier `asOf` answers.
    async fn retract_observation(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
    ) -> Result<Observation> {
        recording::retract(database(ctx)?, &caller(ctx), observation_id(&id)?, &reason)
            .await
            .map(Observation::from)
            .map_err(|e| e.extend())
    }
}

use super::scalars::Instant;
use async_graphql::{Context, Enum, Object, Result};
use entity::values::Comparator;
use entity::{metric, source, target};

use super::indicators::IndicatorPoint;
use super::lang::{self, LangChoice};
use super::loaders::load_row;
use super::metrics::Metric;
use super::observations::Observation;
use super::scalars::Exact;
use super::sources::Source;
use super::{database, reference};
use crate::error::GraphqlError;
use crate::service::exact;
use crate::service::targets;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::targets::TargetStatus")]
pub enum TargetStatus {
    /// The latest reading meets the target.
    Met,
    /// The latest reading falls short of the target.
    NotMet,
    /// The reading is a bound or estimate on the wrong side to decide ("more than 25" for
    /// "at least 30").
    Inconclusive,
    /// Nothing was observed for the metric in the target's year.
    NoData,
}

/// What a status was judged on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::targets::Basis")]
pub enum TargetBasis {
    /// The latest reading of the target's metric in its year.
    Reading,
    /// The value an indicator computes for the year from its inputs.
    Indicator,
}

/// A goal for a metric in a year.
pub struct Target(pub target::Model);

#[Object]
impl Target {
    async fn code(&self) -> &str {
        &self.0.code
    }

    async fn year(&self) -> i32 {
        self.0.year
    }

    async fn comparator(&self) -> Comparator {
        self.0.comparator
    }

    /// In the metric's unit and scale.
    async fn value(&self) -> Exact {
        Exact(self.0.value)
    }

    /// The goal in words, in the requested language.
    async fn description(&self, ctx: &Context<'_>, lang: Option<LangChoice>) -> String {
        lang::resolve(ctx, lang)
            .pick(&self.0.description_vi, &self.0.description_en)
            .to_owned()
    }

    async fn metric(&self, ctx: &Context<'_>) -> Result<Metric> {
        load_row::<metric::Entity>(ctx, self.0.metric_id)
            .await
            .map(Metric)
    }

    async fn source(&self, ctx: &Context<'_>) -> Result<Source> {
        load_row::<source::Entity>(ctx, self.0.source_id)
            .await
            .map(Source)
    }

    /// The phrase of the source that sets the target, verbatim.
    async fn quote(&self) -> &str {
        &self.0.quote
    }
}

/// How far a metric is from its target.
pub struct TargetProgress(pub targets::TargetProgress);

#[Object]
impl TargetProgress {
    async fn target(&self) -> Target {
        Target(self.0.target.clone())
    }

    /// The latest reading of the target's metric observed in its year.
    async fn latest(&self) -> Option<Observation> {
        self.0.latest.clone().map(Observation::from)
    }

    /// Reading ÷ target (target ÷ reading for an upper limit): 1 or more is on target.
    async fn progress(&self) -> Option<Exact> {
        self.0.progress.map(Exact)
    }

    async fn progress_float(&self) -> Option<f64> {
        self.0.progress.map(exact::approximate)
    }

    async fn status(&self) -> TargetStatus {
        self.0.status.into()
    }

    /// `INDICATOR` once the indicator that computes the target's metric has a value for the
    /// year; `READING` before.
    async fn basis(&self) -> TargetBasis {
        self.0.basis.into()
    }

    /// The year's value of the indicator that computes the target's metric, with its inputs
    /// (and, while one is missing, which).
    async fn computed(&self) -> Option<IndicatorPoint> {
        self.0.computed.clone().map(IndicatorPoint)
    }
}

#[derive(Default)]
pub struct TargetQuery;

#[Object]
impl TargetQuery {
    /// Every target set for `year`, with the latest reading of that year and a status.
    async fn target_progress(
        &self,
        ctx: &Context<'_>,
        year: i32,
        #[graphql(
            desc = "Answer as the API did at this instant: revisions recorded by then and not yet replaced."
        )]
        as_of: Option<Instant>,
    ) -> Result<Vec<TargetProgress>> {
        let progress = targets::progress_in_year(
            database(ctx)?,
            reference(ctx)?,
            year,
            super::as_of(ctx, as_of),
        )
        .await
        .map_err(|e| e.extend())?;
        Ok(progress.into_iter().map(TargetProgress).collect())
    }
}

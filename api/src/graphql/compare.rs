use async_graphql::{Context, Enum, InputObject, Object, Result};
use chrono::Utc;
use entity::values::Qualifier;

use super::agencies::Agency;
use super::indicators::{Indicator, IndicatorGap};
use super::metrics::Metric;
use super::scalars::{Day, Exact};
use super::{database, reference};
use crate::error::{ApiError, GraphqlError};
use crate::service::compare::{self, Baseline, CompareRequest, Period};

/// A period named relative to a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::compare::RelativePeriod")]
pub enum RelativePeriod {
    ThisMonth,
    LastMonth,
    ThisQuarter,
    LastQuarter,
    ThisYear,
    LastYear,
    /// The twelve whole months before the day's month.
    Last12Months,
}

/// What the current period is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum BaselinePeriod {
    /// The period just before: as many whole months for a calendar period, else as many days.
    PreviousPeriod,
    /// The same days a year before.
    SamePeriodLastYear,
}

/// Which way a change goes, as far as the qualifiers prove it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::compare::Direction")]
pub enum Direction {
    Up,
    Down,
    Unchanged,
    /// The qualifiers leave both ways open ("about" against "about"), or the sides cannot be
    /// compared (see `comparable`).
    Undetermined,
}

/// A period: `relative` (to `relativeTo`, today by default) or `from` and `to` (local days,
/// inclusive).
#[derive(InputObject)]
pub struct PeriodInput {
    pub relative: Option<RelativePeriod>,
    pub relative_to: Option<Day>,
    pub from: Option<Day>,
    pub to: Option<Day>,
}

/// What to compare with: `relative` to the current period, or `from` and `to`.
#[derive(InputObject)]
pub struct BaselineInput {
    pub relative: Option<BaselinePeriod>,
    pub from: Option<Day>,
    pub to: Option<Day>,
}

fn period(input: PeriodInput) -> Result<Period, ApiError> {
    match input {
        PeriodInput {
            relative: Some(relative),
            from: None,
            to: None,
            relative_to,
        } => Ok(Period::Relative(relative.into(), relative_to.map(|d| d.0))),
        PeriodInput {
            relative: None,
            relative_to: None,
            from: Some(from),
            to: Some(to),
        } => Ok(Period::Fixed(from.0, to.0)),
        _ => Err(ApiError::bad_input(
            "current",
            crate::message!(PERIOD_CHOICE),
        )),
    }
}

fn baseline(input: BaselineInput) -> Result<Baseline, ApiError> {
    match input {
        BaselineInput {
            relative: Some(BaselinePeriod::PreviousPeriod),
            from: None,
            to: None,
        } => Ok(Baseline::PreviousPeriod),
        BaselineInput {
            relative: Some(BaselinePeriod::SamePeriodLastYear),
            from: None,
            to: None,
        } => Ok(Baseline::SamePeriodLastYear),
        BaselineInput {
            relative: None,
            from: Some(from),
            to: Some(to),
        } => Ok(Baseline::Fixed(from.0, to.0)),
        _ => Err(ApiError::bad_input(
            "baseline",
            crate::message!(PERIOD_CHOICE),
        )),
    }
}

/// A metric in one period against another.
pub struct Comparison(compare::Comparison);

#[Object]
impl Comparison {
    async fn metric(&self) -> Metric {
        Metric(self.0.metric.clone())
    }

    /// The agency compared; null for the national figures.
    async fn agency(&self) -> Option<Agency> {
        self.0.agency.clone().map(Agency)
    }

    async fn current(&self) -> ComparedPeriod {
        ComparedPeriod(self.0.current.clone())
    }

    async fn baseline(&self) -> ComparedPeriod {
        ComparedPeriod(self.0.baseline.clone())
    }

    /// Current value minus baseline value.
    async fn change(&self) -> Option<Exact> {
        self.0.change.map(Exact)
    }

    /// What the qualifiers of both sides make of the change: "more than 3.7 million" against
    /// 3.5 million changed by more than 0.2 million.
    async fn change_qualifier(&self) -> Option<Qualifier> {
        self.0.change_qualifier
    }

    /// The change over the baseline value (0.1 is 10%); null when the baseline is zero or missing.
    async fn relative_change(&self) -> Option<Exact> {
        self.0.relative_change.map(Exact)
    }

    async fn direction(&self) -> Direction {
        self.0.direction.into()
    }

    /// False when the current period is not over yet, or a side has no figure; `reason` says
    /// which.
    async fn comparable(&self) -> bool {
        self.0.not_comparable.is_none()
    }

    /// Why the sides cannot be compared, in the request's language.
    async fn reason(&self, ctx: &Context<'_>) -> Option<String> {
        let lang = super::lang::resolve(ctx, None);
        self.0.not_comparable.as_ref().map(|m| m.render(lang))
    }
}

/// One side of a comparison.
pub struct ComparedPeriod(compare::Side);

#[Object]
impl ComparedPeriod {
    async fn from(&self) -> Day {
        Day(self.0.first)
    }

    async fn to(&self) -> Day {
        Day(self.0.last)
    }

    /// The period has not ended yet.
    async fn open(&self) -> bool {
        self.0.open
    }

    /// The value compared, as the metric's kind defines it: a counter's growth in the period, a
    /// flow's sum, a level's or yearly rate's last reading, a ratio's value over its denominator.
    async fn value(&self) -> Option<Exact> {
        self.0.value.map(Exact)
    }

    async fn qualifier(&self) -> Option<Qualifier> {
        self.0.qualifier
    }

    /// The readings the figure was made from.
    async fn reading_count(&self) -> usize {
        self.0.figure.as_ref().map_or(0, |f| f.readings)
    }
}

/// An indicator in one period against another.
pub struct IndicatorComparison(compare::IndicatorComparison);

#[Object]
impl IndicatorComparison {
    async fn indicator(&self) -> Indicator {
        Indicator(self.0.definition.clone())
    }

    async fn agency(&self) -> Option<Agency> {
        self.0.agency.clone().map(Agency)
    }

    async fn current(&self) -> ComparedIndicatorPeriod<'_> {
        ComparedIndicatorPeriod(&self.0.current)
    }

    async fn baseline(&self) -> ComparedIndicatorPeriod<'_> {
        ComparedIndicatorPeriod(&self.0.baseline)
    }

    /// Current value minus baseline value.
    async fn change(&self) -> Option<Exact> {
        self.0.change.map(Exact)
    }

    /// What the two values' qualifiers let the change say; null when their bounds leave it open.
    async fn change_qualifier(&self) -> Option<Qualifier> {
        self.0.change_qualifier
    }

    async fn relative_change(&self) -> Option<Exact> {
        self.0.relative_change.map(Exact)
    }

    /// The way the change certainly goes, as the qualifiers prove it.
    async fn direction(&self) -> Direction {
        self.0.direction.into()
    }

    async fn comparable(&self) -> bool {
        self.0.not_comparable.is_none()
    }

    /// Why the two sides cannot be compared fairly, in the request's language.
    async fn reason(&self, ctx: &Context<'_>) -> Option<String> {
        let lang = super::lang::resolve(ctx, None);
        self.0.not_comparable.as_ref().map(|m| m.render(lang))
    }
}

/// One side of an indicator's comparison.
pub struct ComparedIndicatorPeriod<'a>(&'a compare::IndicatorSide);

#[Object]
impl ComparedIndicatorPeriod<'_> {
    async fn from(&self) -> Day {
        Day(self.0.first)
    }

    async fn to(&self) -> Day {
        Day(self.0.last)
    }

    /// The period has not ended yet.
    async fn open(&self) -> bool {
        self.0.open
    }

    /// The version valid on the period's first day, which computed it.
    async fn version(&self) -> Option<i32> {
        self.0.version
    }

    async fn value(&self) -> Option<Exact> {
        self.0.value.as_ref().ok().map(|q| Exact(q.value))
    }

    /// Null when the value is missing or its inputs' bounds leave it open.
    async fn qualifier(&self) -> Option<Qualifier> {
        self.0.value.as_ref().ok().and_then(|q| q.qualifier)
    }

    async fn gap(&self) -> Option<IndicatorGap> {
        self.0.value.as_ref().err().map(IndicatorGap::from)
    }

    /// Each input's value in the period, as its kind defines it for a comparison.
    async fn inputs(&self) -> Vec<ComparedInput<'_>> {
        self.0
            .inputs
            .iter()
            .map(|(metric, side)| ComparedInput(metric, side))
            .collect()
    }
}

/// One input of an indicator's side.
pub struct ComparedInput<'a>(&'a entity::metric::Model, &'a compare::Side);

#[Object]
impl ComparedInput<'_> {
    async fn metric(&self) -> Metric {
        Metric(self.0.clone())
    }

    async fn value(&self) -> Option<Exact> {
        self.1.value.map(Exact)
    }

    async fn qualifier(&self) -> Option<Qualifier> {
        self.1.qualifier
    }
}

#[derive(Default)]
pub struct CompareQuery;

#[Object]
impl CompareQuery {
    /// A metric (nationally, or for one agency) in the current period against a baseline, in
    /// Vietnam's calendar.
    async fn compare(
        &self,
        ctx: &Context<'_>,
        metric: String,
        agency: Option<String>,
        current: PeriodInput,
        baseline: BaselineInput,
        #[graphql(
            default,
            desc = "Include generated demonstration data (left out by default)."
        )]
        include_synthetic: bool,
    ) -> Result<Comparison> {
        let request = CompareRequest {
            code: metric,
            agency,
            current: period(current).map_err(|e| e.extend())?,
            baseline: self::baseline(baseline).map_err(|e| e.extend())?,
            include_synthetic,
            now: Utc::now(),
        };
        compare::compare(database(ctx)?, reference(ctx)?, &request)
            .await
            .map(Comparison)
            .map_err(|e| e.extend())
    }

    /// An indicator in a period against a baseline: each side computed with the version valid
    /// on its first day from its inputs as their kinds define them for a period (a counter's
    /// growth, a flow's sum, a level's last reading), the change and a direction only as far as
    /// the qualifiers prove it; an open current period is not comparable.
    async fn compare_indicator(
        &self,
        ctx: &Context<'_>,
        indicator: String,
        agency: Option<String>,
        current: PeriodInput,
        baseline: BaselineInput,
        #[graphql(
            default,
            desc = "Include generated demonstration data (left out by default)."
        )]
        include_synthetic: bool,
    ) -> Result<IndicatorComparison> {
        let request = CompareRequest {
            code: indicator,
            agency,
            current: period(current).map_err(|e| e.extend())?,
            baseline: self::baseline(baseline).map_err(|e| e.extend())?,
            include_synthetic,
            now: Utc::now(),
        };
        compare::compare_indicator(database(ctx)?, reference(ctx)?, &request)
            .await
            .map(IndicatorComparison)
            .map_err(|e| e.extend())
    }
}

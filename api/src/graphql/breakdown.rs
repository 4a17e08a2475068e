use async_graphql::{Context, Enum, Object, Result};
use entity::values::Qualifier;

use super::agencies::Agency;
use super::metrics::Metric;
use super::plain::{Plain, PlainList};
use super::scalars::{Day, Exact, Instant};
use super::written::WrittenFields;
use super::{database, reference};
use crate::error::GraphqlError;
use crate::service::breakdown::{self, BreakdownRequest, Figure};
use crate::service::exact;

/// The agencies a breakdown compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::breakdown::AgencyGroup")]
pub enum AgencyGroup {
    /// Provinces and municipalities.
    Provinces,
    /// Ministries, ministerial-level agencies and the Government Office.
    Ministries,
}

/// Whose boundaries figures are shown in, across the 2025 mergers; `boundariesOn` (a date)
/// composes them into the units in force on that day instead of today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum Boundaries {
    /// The units in force during the period, each with its own figures (June 2025: 63
    /// provinces; July 2025: 34).
    AsRecorded,
    /// The units in force today, each with the figures of the units merged into it.
    Current,
}

impl Boundaries {
    /// The boundaries asked for: `boundariesOn`, when given, names the day of the units.
    pub fn with_day(self, on: Option<Day>) -> breakdown::Boundaries {
        match (self, on) {
            (_, Some(Day(day))) => breakdown::Boundaries::On(day),
            (Self::AsRecorded, None) => breakdown::Boundaries::AsRecorded,
            (Self::Current, None) => breakdown::Boundaries::Current,
        }
    }
}

/// How a total of several agencies is made from their figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::kinds::AcrossAgencies")]
pub enum TotalRule {
    /// Amounts, counts and levels add up.
    Sum,
    /// Yearly rates add up to a yearly rate, never to an amount saved over a period.
    SumOfYearlyRates,
    /// Numerators add, and denominators add: 30 of 50 and 10 of 50 make 40 of 100.
    RatioOfSums,
    /// A percentage without its denominator: there is no total.
    NotAdditive,
}

/// A metric for one period, by agency: ranked, with the units that did not report.
pub struct Breakdown(pub breakdown::Breakdown);

#[Object]
impl Breakdown {
    async fn metric(&self) -> Metric {
        Metric(self.0.metric.clone())
    }

    async fn from(&self) -> Day {
        Day(self.0.from)
    }

    async fn to(&self) -> Day {
        Day(self.0.to)
    }

    async fn boundaries(&self) -> Boundaries {
        match self.0.boundaries {
            breakdown::Boundaries::AsRecorded => Boundaries::AsRecorded,
            breakdown::Boundaries::Current | breakdown::Boundaries::On(_) => Boundaries::Current,
        }
    }

    /// The day whose units the figures are composed into, when one was named.
    async fn boundaries_on(&self) -> Option<Day> {
        match self.0.boundaries {
            breakdown::Boundaries::On(day) => Some(Day(day)),
            _ => None,
        }
    }

    /// Highest first; equal values share a rank.
    async fn entries(&self) -> PlainList<BreakdownEntry<'_>> {
        PlainList(self.0.entries.iter().map(BreakdownEntry).collect())
    }

    /// The units expected that have no figure for the period: never dropped silently.
    async fn missing(&self) -> Vec<Agency> {
        self.0.missing.iter().cloned().map(Agency).collect()
    }

    /// How many units are expected: those reported and those missing.
    async fn expected_count(&self) -> usize {
        self.0.expected()
    }

    async fn reported_count(&self) -> usize {
        self.0.entries.len()
    }

    async fn total_rule(&self) -> TotalRule {
        self.0.total_rule.into()
    }

    /// The total of the units that reported, made by `totalRule`; null when nobody reported or
    /// the metric does not add up.
    async fn total(&self) -> Option<Exact> {
        self.0.total.as_ref().map(|t| Exact(t.value))
    }

    async fn total_qualifier(&self) -> Option<Qualifier> {
        self.0.total.as_ref().map(|t| t.qualifier)
    }

    /// For a ratio: the sum of the denominators.
    async fn total_denominator(&self) -> Option<Exact> {
        self.0.total.as_ref().and_then(|t| t.denominator).map(Exact)
    }

    /// The figure reported nationally for the period, beside the roll-up (`total`, with
    /// `reportedCount` of `expectedCount` units): null when none was reported.
    async fn national(&self, ctx: &Context<'_>) -> Result<Option<BreakdownFigure>> {
        let figure = breakdown::national(database(ctx)?, &self.0)
            .await
            .map_err(|e| e.extend())?;
        Ok(figure.map(BreakdownFigure))
    }
}

/// A figure made from readings: a value, its qualifier, and for a ratio its denominator.
pub struct BreakdownFigure(Figure);

#[Object]
impl BreakdownFigure {
    async fn value(&self) -> Exact {
        Exact(self.0.value)
    }

    async fn qualifier(&self) -> Qualifier {
        self.0.qualifier
    }

    async fn denominator(&self) -> Option<Exact> {
        self.0.denominator.map(Exact)
    }

    /// The readings it was made from.
    async fn reading_count(&self) -> usize {
        self.0.readings
    }
}

/// One unit's place in a breakdown.
pub struct BreakdownEntry<'a>(&'a breakdown::Entry);

/// Answered by its resolvers alone.
impl WrittenFields for BreakdownEntry<'_> {}

#[Object]
impl BreakdownEntry<'_> {
    async fn rank(&self) -> usize {
        self.0.rank
    }

    async fn agency(&self) -> Plain<Agency> {
        Plain(Agency(self.0.agency.clone()))
    }

    async fn value(&self) -> Exact {
        Exact(self.0.figure.value)
    }

    async fn value_float(&self) -> f64 {
        exact::approximate(self.0.figure.value)
    }

    async fn qualifier(&self) -> Qualifier {
        self.0.figure.qualifier
    }

    async fn denominator(&self) -> Option<Exact> {
        self.0.figure.denominator.map(Exact)
    }

    /// Its part of the total (of the numerators, for a ratio), from 0 to 1; null without a total.
    async fn share(&self) -> Option<Exact> {
        self.0.share.map(Exact)
    }

    /// The readings the value was made from.
    async fn reading_count(&self) -> usize {
        self.0.figure.readings
    }

    /// The units whose own figures make the value: the unit itself, or with `CURRENT`
    /// boundaries the units merged into it that reported.
    async fn composed_of(&self) -> Vec<UnitPart> {
        self.0
            .parts
            .iter()
            .map(|part| UnitPart {
                agency: part.agency.clone(),
                value: part.figure.value,
                qualifier: part.figure.qualifier,
                denominator: part.figure.denominator,
            })
            .collect()
    }
}

/// One unit's own value inside a figure made of several units' (a merged province's).
pub struct UnitPart {
    pub agency: entity::agency::Model,
    pub value: rust_decimal::Decimal,
    pub qualifier: Qualifier,
    pub denominator: Option<rust_decimal::Decimal>,
}

#[Object]
impl UnitPart {
    async fn agency(&self) -> Agency {
        Agency(self.agency.clone())
    }

    async fn value(&self) -> Exact {
        Exact(self.value)
    }

    async fn qualifier(&self) -> Qualifier {
        self.qualifier
    }

    async fn denominator(&self) -> Option<Exact> {
        self.denominator.map(Exact)
    }
}

#[derive(Default)]
pub struct BreakdownQuery;

#[Object]
impl BreakdownQuery {
    /// A metric for the period `from`–`to` (local days, Vietnam time) by agency of a group:
    /// flows summed over the period, anything else its last reading in it.
    #[allow(clippy::too_many_arguments)]
    async fn breakdown(
        &self,
        ctx: &Context<'_>,
        metric: String,
        from: Day,
        to: Day,
        of: AgencyGroup,
        #[graphql(default_with = "Boundaries::AsRecorded")] boundaries: Boundaries,
        #[graphql(desc = "Compose the figures into the units in force on this day.")]
        boundaries_on: Option<Day>,
        #[graphql(
            default,
            desc = "Include generated demonstration data (left out by default)."
        )]
        include_synthetic: bool,
        #[graphql(
            desc = "Answer as the API did at this instant; with CURRENT boundaries, the units in force then."
        )]
        as_of: Option<Instant>,
    ) -> Result<Breakdown> {
        let request = BreakdownRequest {
            metric,
            from: from.0,
            to: to.0,
            group: of.into(),
            boundaries: boundaries.with_day(boundaries_on),
            include_synthetic,
            as_of: super::as_of(ctx, as_of),
        };
        breakdown::breakdown(database(ctx)?, reference(ctx)?, &request)
            .await
            .map(Breakdown)
            .map_err(|e| e.extend())
    }
}

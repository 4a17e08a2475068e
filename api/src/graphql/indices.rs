use async_graphql::{Context, InputObject, Object, OneofObject, Result};
use chrono::Utc;
use entity::values::Qualifier;

use super::agencies::Agency;
use super::breakdown::{AgencyGroup, Boundaries};
use super::indicators::IndicatorGap;
use super::lang::{self, LangChoice};
use super::scalars::{Day, Exact, Instant};
use super::series::TimeBucket;
use super::{caller, database, reference};
use crate::error::GraphqlError;
use crate::service::indicators::Qualified;
use crate::service::indices::{self, Component, Measure, Rule};
use crate::service::versions::NewVersion;

/// A score of every province or every ministry, made of versioned components.
pub struct ScoredIndex(pub indices::Definition);

#[Object]
impl ScoredIndex {
    async fn code(&self) -> &str {
        &self.0.index.code
    }

    async fn name(&self, ctx: &Context<'_>, lang: Option<LangChoice>) -> String {
        let index = &self.0.index;
        lang::resolve(ctx, lang)
            .pick(&index.name_vi, &index.name_en)
            .to_owned()
    }

    /// The units it scores.
    async fn of(&self) -> AgencyGroup {
        self.0.group.into()
    }

    /// Every definition, oldest first; each applies from its first day until the next one's.
    async fn versions(&self) -> Vec<ScoredIndexVersion<'_>> {
        self.0.versions.iter().map(ScoredIndexVersion).collect()
    }
}

pub struct ScoredIndexVersion<'a>(&'a indices::Version);

#[Object]
impl ScoredIndexVersion<'_> {
    async fn version(&self) -> i32 {
        self.0.row.version
    }

    /// The first local day (Vietnam time) it applies to; null: from the beginning.
    async fn valid_from(&self) -> Option<Day> {
        self.0.row.valid_from.map(Day)
    }

    async fn components(&self) -> Vec<IndexComponent<'_>> {
        self.0
            .components
            .iter()
            .map(|c| IndexComponent(c))
            .collect()
    }

    /// The most points a unit can score.
    async fn max_points(&self) -> Exact {
        Exact(self.0.components.iter().map(|c| c.max_points).sum())
    }

    async fn note(&self) -> Option<&str> {
        self.0.row.note.as_deref()
    }

    async fn recorded_at(&self) -> Instant {
        Instant(self.0.row.recorded_at)
    }

    async fn recorded_by(&self) -> &str {
        &self.0.row.recorded_by
    }
}

/// One part of a score: what it measures and how a value becomes points.
pub struct IndexComponent<'a>(&'a Component);

#[Object]
impl IndexComponent<'_> {
    async fn code(&self) -> &str {
        &self.0.code
    }

    async fn name(&self, ctx: &Context<'_>, lang: Option<LangChoice>) -> String {
        lang::resolve(ctx, lang)
            .pick(&self.0.name_vi, &self.0.name_en)
            .to_owned()
    }

    /// The indicator it scores, by code, if it scores one.
    async fn indicator(&self) -> Option<&str> {
        match &self.0.measure {
            Measure::Indicator(code) => Some(code),
            Measure::Metric(_) => None,
        }
    }

    /// The metric it scores, by code, if it scores one.
    async fn metric(&self) -> Option<&str> {
        match &self.0.measure {
            Measure::Metric(code) => Some(code),
            Measure::Indicator(_) => None,
        }
    }

    /// The rule in words: `linear from 20 (0 points) to 60 (all points)`, `at least 30`.
    async fn rule(&self) -> String {
        match &self.0.rule {
            Rule::Linear { zero_at, full_at } => {
                format!("linear from {zero_at} (0 points) to {full_at} (all points)")
            }
            Rule::AtLeast(threshold) => format!("at least {threshold}"),
        }
    }

    async fn max_points(&self) -> Exact {
        Exact(self.0.max_points)
    }
}

fn exact_of(value: Option<&Qualified>) -> Option<Exact> {
    value.map(|q| Exact(q.value))
}

/// A unit's points on one component.
pub struct ComponentScore<'a>(&'a indices::ComponentScore);

#[Object]
impl ComponentScore<'_> {
    async fn component(&self) -> IndexComponent<'_> {
        IndexComponent(&self.0.component)
    }

    /// The value scored, as its indicator or metric gives it for the period.
    async fn value(&self) -> Option<Exact> {
        exact_of(self.0.value.as_ref().ok())
    }

    async fn value_qualifier(&self) -> Option<Qualifier> {
        self.0.value.as_ref().ok().and_then(|q| q.qualifier)
    }

    async fn gap(&self) -> Option<IndicatorGap> {
        self.0.value.as_ref().err().map(IndicatorGap::from)
    }

    async fn points(&self) -> Option<Exact> {
        exact_of(self.0.points.as_ref())
    }

    /// Null when the value's bounds leave the points open ("more than 25" against "at least 30").
    async fn points_qualifier(&self) -> Option<Qualifier> {
        self.0.points.and_then(|q| q.qualifier)
    }
}

/// A unit's score in a period.
pub struct UnitScore<'a>(&'a indices::UnitScore);

#[Object]
impl UnitScore<'_> {
    async fn agency(&self) -> Agency {
        Agency(self.0.agency.clone())
    }

    /// 1 for the highest total among the units scored (equal totals share a rank); null without
    /// a total.
    async fn rank(&self) -> Option<usize> {
        self.0.rank
    }

    /// The sum of the components' points; null while a component has no value.
    async fn total(&self) -> Option<Exact> {
        exact_of(self.0.total.as_ref())
    }

    async fn total_qualifier(&self) -> Option<Qualifier> {
        self.0.total.and_then(|q| q.qualifier)
    }

    async fn components(&self) -> Vec<ComponentScore<'_>> {
        self.0.components.iter().map(ComponentScore).collect()
    }
}

/// Every unit of an index ranked for a period.
pub struct IndexRanking(pub indices::IndexRanking);

#[Object]
impl IndexRanking {
    async fn index(&self) -> ScoredIndex {
        ScoredIndex(self.0.definition.clone())
    }

    async fn label(&self) -> &str {
        &self.0.label
    }

    /// The version the period is scored with; null when none applies to it.
    async fn version(&self) -> Option<i32> {
        self.0.version
    }

    /// Highest total first, then the units without a total.
    async fn scores(&self) -> Vec<UnitScore<'_>> {
        self.0.scores.iter().map(UnitScore).collect()
    }
}

/// One unit's score, its rank, and how it changed since the period before.
pub struct IndexScore(pub indices::IndexScore);

#[Object]
impl IndexScore {
    async fn index(&self) -> ScoredIndex {
        ScoredIndex(self.0.definition.clone())
    }

    async fn label(&self) -> &str {
        &self.0.label
    }

    async fn version(&self) -> i32 {
        self.0.version
    }

    async fn score(&self) -> UnitScore<'_> {
        UnitScore(&self.0.score)
    }

    /// How many units have a total in the period.
    async fn ranked_among(&self) -> usize {
        self.0.ranked_among
    }

    async fn previous_label(&self) -> Option<&str> {
        self.0.previous.as_ref().map(|p| &*p.label)
    }

    async fn previous_version(&self) -> Option<i32> {
        self.0.previous.as_ref().map(|p| p.version)
    }

    /// The unit's score in the period before, under the version valid then.
    async fn previous(&self) -> Option<UnitScore<'_>> {
        self.0.previous.as_ref().map(|p| UnitScore(&p.score))
    }

    /// This total minus the previous one: `changeFromData + changeFromDefinition`, exactly.
    async fn change(&self) -> Option<Exact> {
        self.0.change.map(Exact)
    }

    /// What the data changed: the previous definition applied to this period's data, minus the
    /// previous total.
    async fn change_from_data(&self) -> Option<Exact> {
        self.0.change_from_data.map(Exact)
    }

    /// What the new definition changed: this total minus the previous definition applied to
    /// this period's data.
    async fn change_from_definition(&self) -> Option<Exact> {
        self.0.change_from_definition.map(Exact)
    }
}

/// What a component scores: give exactly one.
#[derive(Debug, OneofObject)]
pub enum MeasureInput {
    Indicator(String),
    Metric(String),
}

/// How a value becomes points: give exactly one.
#[derive(Debug, OneofObject)]
pub enum ScoringRuleInput {
    /// No points at `zeroAt`, all at `fullAt`, in proportion between, clamped.
    Linear(LinearRuleInput),
    /// All points at this value or above, none below.
    AtLeast(Exact),
}

#[derive(Debug, InputObject)]
pub struct LinearRuleInput {
    pub zero_at: Exact,
    pub full_at: Exact,
}

#[derive(Debug, InputObject)]
pub struct ComponentInput {
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    pub measure: MeasureInput,
    pub rule: ScoringRuleInput,
    pub max_points: Exact,
}

impl From<ComponentInput> for Component {
    fn from(input: ComponentInput) -> Self {
        Component {
            code: input.code,
            name_vi: input.name_vi,
            name_en: input.name_en,
            measure: match input.measure {
                MeasureInput::Indicator(code) => Measure::Indicator(code),
                MeasureInput::Metric(code) => Measure::Metric(code),
            },
            rule: match input.rule {
                ScoringRuleInput::Linear(linear) => Rule::Linear {
                    zero_at: linear.zero_at.0,
                    full_at: linear.full_at.0,
                },
                ScoringRuleInput::AtLeast(threshold) => Rule::AtLeast(threshold.0),
            },
            max_points: input.max_points.0,
        }
    }
}

#[derive(Debug, InputObject)]
pub struct DefineScoredIndexInput {
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    pub of: AgencyGroup,
    pub components: Vec<ComponentInput>,
    /// The first local day (Vietnam time) it applies to; none: from the beginning.
    pub valid_from: Option<Day>,
    pub note: Option<String>,
}

#[derive(Debug, InputObject)]
pub struct ReviseScoredIndexInput {
    pub code: String,
    pub components: Vec<ComponentInput>,
    /// After the latest version's first day; earlier periods keep the version they had.
    pub valid_from: Day,
    pub note: Option<String>,
}

fn request(
    ctx: &Context<'_>,
    index: String,
    day: Day,
    bucket: TimeBucket,
    boundaries: Boundaries,
    as_of: Option<Instant>,
    include_synthetic: bool,
) -> indices::ScoreRequest {
    indices::ScoreRequest {
        index,
        day: day.0,
        bucket: bucket.into(),
        boundaries: boundaries.with_day(None),
        include_synthetic,
        now: Utc::now(),
        as_of: super::as_of(ctx, as_of),
    }
}

#[derive(Default)]
pub struct IndexQuery;

#[Object]
impl IndexQuery {
    async fn scored_indices(&self, ctx: &Context<'_>) -> Result<Vec<ScoredIndex>> {
        let all = indices::all(database(ctx)?).await.map_err(|e| e.extend())?;
        Ok(all.into_iter().map(ScoredIndex).collect())
    }

    /// Every unit's score for the bucket holding `day` (Vietnam's calendar), ranked.
    #[allow(clippy::too_many_arguments)] // each is a GraphQL argument
    async fn index_ranking(
        &self,
        ctx: &Context<'_>,
        index: String,
        day: Day,
        #[graphql(default_with = "TimeBucket::Year")] bucket: TimeBucket,
        #[graphql(default_with = "Boundaries::AsRecorded")] boundaries: Boundaries,
        as_of: Option<Instant>,
        #[graphql(
            default,
            desc = "Include generated demonstration data (left out by default)."
        )]
        include_synthetic: bool,
    ) -> Result<IndexRanking> {
        let request = request(
            ctx,
            index,
            day,
            bucket,
            boundaries,
            as_of,
            include_synthetic,
        );
        indices::ranking(database(ctx)?, reference(ctx)?, &request)
            .await
            .map(IndexRanking)
            .map_err(|e| e.extend())
    }

    /// One unit's score for the bucket holding `day`: the total, its rank among the units
    /// scored, each component's points and value, and the change since the bucket before split
    /// into what the data and what a new definition changed.
    #[allow(clippy::too_many_arguments)] // each is a GraphQL argument
    async fn index_score(
        &self,
        ctx: &Context<'_>,
        index: String,
        agency: String,
        day: Day,
        #[graphql(default_with = "TimeBucket::Year")] bucket: TimeBucket,
        #[graphql(default_with = "Boundaries::AsRecorded")] boundaries: Boundaries,
        as_of: Option<Instant>,
        #[graphql(
            default,
            desc = "Include generated demonstration data (left out by default)."
        )]
        include_synthetic: bool,
    ) -> Result<IndexScore> {
        let request = request(
            ctx,
            index,
            day,
            bucket,
            boundaries,
            as_of,
            include_synthetic,
        );
        indices::index_score(database(ctx)?, reference(ctx)?, &request, &agency)
            .await
            .map(IndexScore)
            .map_err(|e| e.extend())
    }
}

#[derive(Default)]
pub struct IndexMutation;

#[Object]
impl IndexMutation {
    /// Defines a scored index with its first version (admins only).
    async fn define_scored_index(
        &self,
        ctx: &Context<'_>,
        input: DefineScoredIndexInput,
    ) -> Result<ScoredIndex> {
        let new = indices::NewIndex {
            code: input.code,
            name_vi: input.name_vi,
            name_en: input.name_en,
            head: indices::IndexHead {
                of: input.of.into(),
            },
            body: input.components.into_iter().map(Component::from).collect(),
            valid_from: input.valid_from.map(|day| day.0),
            note: input.note,
        };
        indices::define(database(ctx)?, reference(ctx)?, &caller(ctx), new)
            .await
            .map(ScoredIndex)
            .map_err(|e| e.extend())
    }

    /// Adds a version of a scored index from a day on (admins only).
    async fn revise_scored_index(
        &self,
        ctx: &Context<'_>,
        input: ReviseScoredIndexInput,
    ) -> Result<ScoredIndex> {
        let new = NewVersion {
            code: input.code,
            body: input.components.into_iter().map(Component::from).collect(),
            valid_from: input.valid_from.0,
            note: input.note,
        };
        indices::revise(database(ctx)?, reference(ctx)?, &caller(ctx), new)
            .await
            .map(ScoredIndex)
            .map_err(|e| e.extend())
    }
}

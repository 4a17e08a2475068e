use async_graphql::{Context, Enum, InputObject, Object, OneofObject, Result};
use chrono::Utc;
use entity::metric;
use entity::values::{Qualifier, Scale, Unit};

use super::agencies::Agency;
use super::breakdown::{AgencyGroup, Boundaries};
use super::lang::{self, LangChoice};
use super::loaders::load_row;
use super::metrics::Metric;
use super::scalars::{Day, Exact, Instant};
use super::series::TimeBucket;
use super::{caller, database, reference};
use crate::error::GraphqlError;
use crate::service::exact;
use crate::service::indicators::{self, Formula, Gap, Qualified};
use crate::service::time::parse_time_zone;
use crate::service::versions::NewVersion;

/// A named formula over metrics, with every version of its definition.
pub struct Indicator(pub indicators::Definition);

#[Object]
impl Indicator {
    async fn code(&self) -> &str {
        &self.0.indicator.code
    }

    async fn name(&self, ctx: &Context<'_>, lang: Option<LangChoice>) -> String {
        let indicator = &self.0.indicator;
        lang::resolve(ctx, lang)
            .pick(&indicator.name_vi, &indicator.name_en)
            .to_owned()
    }

    async fn unit(&self) -> Unit {
        self.0.indicator.unit
    }

    async fn scale(&self) -> Scale {
        self.0.indicator.scale
    }

    /// The reported metric it computes from inputs: that metric's targets are judged on it.
    async fn computes(&self, ctx: &Context<'_>) -> Result<Option<Metric>> {
        match self.0.indicator.metric_id {
            Some(id) => Ok(Some(Metric(load_row::<metric::Entity>(ctx, id).await?))),
            None => Ok(None),
        }
    }

    /// Every definition, oldest first; each applies from its first day until the next one's.
    async fn versions(&self) -> Vec<IndicatorVersion<'_>> {
        self.0.versions.iter().map(IndicatorVersion).collect()
    }
}

/// One definition of an indicator.
pub struct IndicatorVersion<'a>(&'a indicators::Version);

#[Object]
impl IndicatorVersion<'_> {
    async fn version(&self) -> i32 {
        self.0.row.version
    }

    /// The first local day (Vietnam time) it applies to; null: from the beginning.
    async fn valid_from(&self) -> Option<Day> {
        self.0.row.valid_from.map(Day)
    }

    /// The formula as arithmetic over metric codes: `100 × (a / b)`.
    async fn expression(&self) -> String {
        self.0.formula.to_string()
    }

    /// The formula as stored, in JSON.
    async fn formula_json(&self) -> &str {
        &self.0.row.formula
    }

    /// The metrics it reads, by code.
    async fn inputs(&self) -> Vec<&str> {
        self.0.formula.metrics().into_iter().collect()
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

/// Why a computed value is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum IndicatorGap {
    /// No version of the indicator applies to the period.
    NoVersion,
    /// An input has no value in the period (see `missingInputs`).
    MissingInput,
    /// The denominator is zero.
    ZeroDenominator,
    /// The result is too large to keep exactly.
    Overflow,
}

impl From<&Gap> for IndicatorGap {
    fn from(gap: &Gap) -> Self {
        match gap {
            Gap::NoVersion => Self::NoVersion,
            Gap::MissingInputs(_) => Self::MissingInput,
            Gap::ZeroDenominator => Self::ZeroDenominator,
            Gap::Overflow => Self::Overflow,
        }
    }
}

/// An indicator's value in one period, with the inputs it was computed from.
pub struct IndicatorPoint(pub indicators::IndicatorPoint);

impl IndicatorPoint {
    fn computed(&self) -> Option<&Qualified> {
        self.0.value.as_ref().ok()
    }
}

#[Object]
impl IndicatorPoint {
    /// The period's name on a chart axis.
    async fn label(&self) -> &str {
        &self.0.label
    }

    async fn start(&self) -> Instant {
        Instant(self.0.start)
    }

    /// Exclusive.
    async fn end(&self) -> Instant {
        Instant(self.0.end)
    }

    /// The period has not ended yet: its value may still change.
    async fn is_open(&self) -> bool {
        self.0.is_open
    }

    /// The version of the definition it was computed with.
    async fn version(&self) -> Option<i32> {
        self.0.version
    }

    /// The exact value; null when it cannot be computed (see `gap`).
    async fn value(&self) -> Option<Exact> {
        self.computed().map(|q| Exact(q.value))
    }

    /// The value as a float for charting libraries: approximate.
    async fn value_float(&self) -> Option<f64> {
        self.computed().map(|q| exact::approximate(q.value))
    }

    /// What the inputs' qualifiers let the value say: a lower bound over an exact value is a
    /// lower bound, anything over an estimate an estimate. Null when the inputs' bounds pull
    /// opposite ways ("more than" over "more than"): the value is then only their arithmetic.
    async fn qualifier(&self) -> Option<Qualifier> {
        self.computed().and_then(|q| q.qualifier)
    }

    async fn gap(&self) -> Option<IndicatorGap> {
        self.0.value.as_ref().err().map(IndicatorGap::from)
    }

    /// The metrics without a value in the period, by code.
    async fn missing_inputs(&self) -> Vec<&str> {
        match &self.0.value {
            Err(Gap::MissingInputs(codes)) => codes.iter().map(String::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// Each input's value in the period, as its kind defines it (a counter's growth, a flow's
    /// sum, a level's last reading, a ratio's value over its denominator).
    async fn inputs(&self) -> Vec<IndicatorInput<'_>> {
        self.0.inputs.iter().map(IndicatorInput).collect()
    }
}

/// One input of a computed value.
pub struct IndicatorInput<'a>(&'a indicators::InputValue);

#[Object]
impl IndicatorInput<'_> {
    async fn metric(&self) -> Metric {
        Metric(self.0.metric.clone())
    }

    async fn value(&self) -> Option<Exact> {
        self.0.value.map(|q| Exact(exact::from_storage(q.value)))
    }

    async fn qualifier(&self) -> Option<Qualifier> {
        self.0.value.and_then(|q| q.qualifier)
    }
}

/// An indicator over calendar buckets.
pub struct IndicatorSeries(pub indicators::IndicatorSeries);

#[Object]
impl IndicatorSeries {
    async fn indicator(&self) -> Indicator {
        Indicator(self.0.definition.clone())
    }

    async fn points(&self) -> Vec<IndicatorPoint> {
        self.0.points.iter().cloned().map(IndicatorPoint).collect()
    }
}

/// An indicator for one period across the units of a group, ranked.
pub struct IndicatorRanking(pub indicators::IndicatorRanking);

#[Object]
impl IndicatorRanking {
    async fn indicator(&self) -> Indicator {
        Indicator(self.0.definition.clone())
    }

    /// The units with a value, highest first (equal values share a rank: 1, 1, 3), then the
    /// units without one, unranked, each saying what it lacks.
    async fn entries(&self) -> Vec<IndicatorRankEntry<'_>> {
        self.0.units.iter().map(IndicatorRankEntry).collect()
    }
}

/// One unit of a ranking.
pub struct IndicatorRankEntry<'a>(&'a indicators::RankedUnit);

#[Object]
impl IndicatorRankEntry<'_> {
    async fn rank(&self) -> Option<usize> {
        self.0.rank
    }

    async fn agency(&self) -> Agency {
        Agency(self.0.agency.clone())
    }

    /// The unit's value with its inputs.
    async fn computed(&self) -> IndicatorPoint {
        IndicatorPoint(self.0.point.clone())
    }
}

/// A formula: give exactly one field.
#[derive(Debug, OneofObject)]
pub enum FormulaInput {
    /// A metric's value in the period, by code.
    Metric(String),
    Constant(Exact),
    Sum(Vec<FormulaInput>),
    Difference(DifferenceInput),
    Ratio(RatioInput),
    Scaled(ScaledInput),
}

#[derive(Debug, InputObject)]
pub struct DifferenceInput {
    pub minuend: Box<FormulaInput>,
    pub subtrahend: Box<FormulaInput>,
}

#[derive(Debug, InputObject)]
pub struct RatioInput {
    pub numerator: Box<FormulaInput>,
    pub denominator: Box<FormulaInput>,
}

/// A constant factor times a formula (100 × a ratio makes a percentage).
#[derive(Debug, InputObject)]
pub struct ScaledInput {
    pub factor: Exact,
    pub of: Box<FormulaInput>,
}

impl From<FormulaInput> for Formula {
    fn from(input: FormulaInput) -> Self {
        let boxed = |input: Box<FormulaInput>| Box::new(Formula::from(*input));
        match input {
            FormulaInput::Metric(code) => Formula::Metric(code),
            FormulaInput::Constant(value) => Formula::Constant(value.0),
            FormulaInput::Sum(terms) => {
                Formula::Sum(terms.into_iter().map(Formula::from).collect())
            }
            FormulaInput::Difference(d) => Formula::Difference {
                minuend: boxed(d.minuend),
                subtrahend: boxed(d.subtrahend),
            },
            FormulaInput::Ratio(r) => Formula::Ratio {
                numerator: boxed(r.numerator),
                denominator: boxed(r.denominator),
            },
            FormulaInput::Scaled(s) => Formula::Scaled {
                factor: s.factor.0,
                of: boxed(s.of),
            },
        }
    }
}

#[derive(Debug, InputObject)]
pub struct DefineIndicatorInput {
    /// Lowercase letters, digits, dots and hyphens.
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    pub unit: Unit,
    #[graphql(default_with = "Scale::One")]
    pub scale: Scale,
    /// The reported metric it computes (by code): that metric's targets are then judged on it.
    pub computes: Option<String>,
    pub formula: FormulaInput,
    /// The first local day (Vietnam time) it applies to; none: from the beginning.
    pub valid_from: Option<Day>,
    pub note: Option<String>,
}

#[derive(Debug, InputObject)]
pub struct ReviseIndicatorInput {
    pub code: String,
    pub formula: FormulaInput,
    /// The first local day (Vietnam time) the new version applies to: after the latest
    /// version's. Earlier periods keep the version they had.
    pub valid_from: Day,
    pub note: Option<String>,
}

#[derive(Default)]
pub struct IndicatorQuery;

#[Object]
impl IndicatorQuery {
    /// Every indicator, by code.
    async fn indicators(&self, ctx: &Context<'_>) -> Result<Vec<Indicator>> {
        let all = indicators::all(database(ctx)?)
            .await
            .map_err(|e| e.extend())?;
        Ok(all.into_iter().map(Indicator).collect())
    }

    async fn indicator(&self, ctx: &Context<'_>, code: String) -> Result<Option<Indicator>> {
        match indicators::by_code(database(ctx)?, &code).await {
            Ok(definition) => Ok(Some(Indicator(definition))),
            Err(crate::service::error::ApiError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.extend()),
        }
    }

    /// An indicator per bucket from the bucket holding `from` to the bucket holding `to`
    /// (local dates, inclusive), each computed with the version valid on its first day unless
    /// `version` is given.
    #[allow(clippy::too_many_arguments)] // each is a GraphQL argument
    async fn indicator_series(
        &self,
        ctx: &Context<'_>,
        indicator: String,
        #[graphql(desc = "The agency whose inputs are read (by code); national when not given.")]
        agency: Option<String>,
        from: Day,
        to: Day,
        #[graphql(default_with = "TimeBucket::Month")] bucket: TimeBucket,
        #[graphql(default = "Asia/Ho_Chi_Minh")] time_zone: String,
        #[graphql(desc = "Compute every bucket with this version of the definition.")]
        version: Option<i32>,
        #[graphql(
            desc = "Answer as the API did at this instant: revisions recorded by then and not yet replaced."
        )]
        as_of: Option<Instant>,
        #[graphql(
            default_with = "Boundaries::AsRecorded",
            desc = "CURRENT: an agency's inputs include the figures of the units merged into it."
        )]
        boundaries: Boundaries,
        #[graphql(desc = "Compose the figures into the units in force on this day.")]
        boundaries_on: Option<Day>,
        #[graphql(
            default,
            desc = "Include generated demonstration data (left out by default)."
        )]
        include_synthetic: bool,
    ) -> Result<IndicatorSeries> {
        let time_zone = parse_time_zone(&time_zone).map_err(|e| e.extend())?;
        let request = indicators::IndicatorRequest {
            code: indicator,
            agency,
            include_synthetic,
            from: from.0,
            to: to.0,
            bucket: bucket.into(),
            time_zone,
            now: Utc::now(),
            as_of: super::as_of(ctx, as_of),
            version,
            boundaries: boundaries.with_day(boundaries_on),
        };
        indicators::series(database(ctx)?, reference(ctx)?, &request)
            .await
            .map(IndicatorSeries)
            .map_err(|e| e.extend())
    }

    /// An indicator for the bucket holding `day`, for every province (or ministry), ranked;
    /// each unit's inputs as its own series would give them.
    #[allow(clippy::too_many_arguments)] // each is a GraphQL argument
    async fn indicator_by_agency(
        &self,
        ctx: &Context<'_>,
        indicator: String,
        of: AgencyGroup,
        day: Day,
        #[graphql(default_with = "TimeBucket::Month")] bucket: TimeBucket,
        #[graphql(default = "Asia/Ho_Chi_Minh")] time_zone: String,
        #[graphql(desc = "Compute with this version of the definition.")] version: Option<i32>,
        as_of: Option<Instant>,
        #[graphql(default_with = "Boundaries::AsRecorded")] boundaries: Boundaries,
        #[graphql(desc = "Compose the figures into the units in force on this day.")]
        boundaries_on: Option<Day>,
        #[graphql(
            default,
            desc = "Include generated demonstration data (left out by default)."
        )]
        include_synthetic: bool,
    ) -> Result<IndicatorRanking> {
        let time_zone = parse_time_zone(&time_zone).map_err(|e| e.extend())?;
        let request = indicators::IndicatorRequest {
            code: indicator,
            agency: None,
            include_synthetic,
            from: day.0,
            to: day.0,
            bucket: bucket.into(),
            time_zone,
            now: Utc::now(),
            as_of: super::as_of(ctx, as_of),
            version,
            boundaries: boundaries.with_day(boundaries_on),
        };
        indicators::by_agency(database(ctx)?, reference(ctx)?, &request, of.into())
            .await
            .map(IndicatorRanking)
            .map_err(|e| e.extend())
    }
}

#[derive(Default)]
pub struct IndicatorMutation;

#[Object]
impl IndicatorMutation {
    /// Defines an indicator with its first version (admins only).
    async fn define_indicator(
        &self,
        ctx: &Context<'_>,
        input: DefineIndicatorInput,
    ) -> Result<Indicator> {
        let new = indicators::NewIndicator {
            code: input.code,
            name_vi: input.name_vi,
            name_en: input.name_en,
            head: indicators::IndicatorHead {
                unit: input.unit,
                scale: input.scale,
                computes: input.computes,
            },
            body: input.formula.into(),
            valid_from: input.valid_from.map(|day| day.0),
            note: input.note,
        };
        indicators::define(database(ctx)?, reference(ctx)?, &caller(ctx), new)
            .await
            .map(Indicator)
            .map_err(|e| e.extend())
    }

    /// Adds a version of an indicator's definition from a day on (admins only); the periods
    /// before it keep the version they had.
    async fn revise_indicator(
        &self,
        ctx: &Context<'_>,
        input: ReviseIndicatorInput,
    ) -> Result<Indicator> {
        let new = NewVersion {
            code: input.code,
            body: input.formula.into(),
            valid_from: input.valid_from.0,
            note: input.note,
        };
        indicators::revise(database(ctx)?, reference(ctx)?, &caller(ctx), new)
            .await
            .map(Indicator)
            .map_err(|e| e.extend())
    }
}

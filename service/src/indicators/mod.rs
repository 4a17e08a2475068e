//! Indicators: named formulas over metrics, versioned. A period is computed with the version
//! valid on its first day (Vietnam's calendar for versions, the request's for buckets) unless a
//! version is named, so a new definition never changes what an earlier period showed. Each
//! input is the metric's value in the period as its kind defines it: a counter's growth, a
//! flow's sum, a level's or yearly rate's last reading, a ratio's value over its denominator.

pub mod formula;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use chrono_tz::Tz;
use entity::values::{MetricKind, Scale, Unit};
use entity::{agency, indicator, indicator_version, metric};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
};

use crate::access::Permission;
use crate::audit::{self, Action, Caller};
use crate::breakdown::{AgencyGroup, Boundaries};
use crate::catalog;
use crate::error::ApiError;
use crate::reference::ReferenceCache;
use crate::series::{self, SeriesPoint, SeriesRequest, TimeBucket};
use crate::time::{local_date, VIETNAM};
use crate::versions::{self, Dated, NewDefinition, NewVersion, Versioned};
pub use formula::{Formula, Gap, Qualified};

/// An indicator with its versions, oldest first.
#[derive(Debug, Clone)]
pub struct Definition {
    pub indicator: indicator::Model,
    pub versions: Vec<Version>,
}

#[derive(Debug, Clone)]
pub struct Version {
    pub row: indicator_version::Model,
    pub formula: Formula,
}

impl Dated for Version {
    fn number(&self) -> i32 {
        self.row.version
    }

    fn valid_from(&self) -> Option<NaiveDate> {
        self.row.valid_from
    }
}

impl Definition {
    pub fn valid_on(&self, day: NaiveDate) -> Option<&Version> {
        versions::valid_on(&self.versions, day)
    }

    pub fn numbered(&self, number: i32) -> Result<&Version, ApiError> {
        versions::numbered(&self.versions, &self.indicator.code, number)
    }
}

fn version(row: indicator_version::Model) -> Result<Version, ApiError> {
    // Stored formulas were checked when defined; one that no longer reads was edited outside.
    let formula = serde_json::from_str(&row.formula).map_err(|e| {
        ApiError::Database(std::sync::Arc::new(sea_orm::DbErr::Custom(format!(
            "indicator version {} holds a formula that does not read: {e}",
            row.id
        ))))
    })?;
    Ok(Version { row, formula })
}

async fn definitions_of(
    db: &impl ConnectionTrait,
    indicators: Vec<indicator::Model>,
) -> Result<Vec<Definition>, ApiError> {
    let ids: Vec<i32> = indicators.iter().map(|i| i.id).collect();
    let mut versions: BTreeMap<i32, Vec<Version>> = BTreeMap::new();
    for row in indicator_version::Entity::find()
        .filter(indicator_version::Column::IndicatorId.is_in(ids))
        .order_by_asc(indicator_version::Column::Version)
        .all(db)
        .await?
    {
        versions
            .entry(row.indicator_id)
            .or_default()
            .push(version(row)?);
    }
    Ok(indicators
        .into_iter()
        .map(|indicator| Definition {
            versions: versions.remove(&indicator.id).unwrap_or_default(),
            indicator,
        })
        .collect())
}

/// Every indicator, by code.
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<Definition>, ApiError> {
    let indicators = indicator::Entity::find()
        .order_by_asc(indicator::Column::Code)
        .all(db)
        .await?;
    definitions_of(db, indicators).await
}

/// The indicator `code` as this process keeps it between requests ([`versions::KeptDefinitions`]).
pub async fn definition(reference: &ReferenceCache, code: &str) -> Result<Definition, ApiError> {
    (reference.indicators)
        .get(code, by_code(reference.database(), code))
        .await
}

pub async fn by_code(db: &impl ConnectionTrait, code: &str) -> Result<Definition, ApiError> {
    let indicator = indicator::Entity::find()
        .filter(indicator::Column::Code.eq(code))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("indicator", code))?;
    Ok(definitions_of(db, vec![indicator]).await?.remove(0))
}

/// The indicators that compute these metrics, by metric.
pub async fn computing(
    db: &impl ConnectionTrait,
    metric_ids: Vec<i32>,
) -> Result<BTreeMap<i32, Definition>, ApiError> {
    let indicators = indicator::Entity::find()
        .filter(indicator::Column::MetricId.is_in(metric_ids))
        .order_by_asc(indicator::Column::Id)
        .all(db)
        .await?;
    let mut by_metric = BTreeMap::new();
    for definition in definitions_of(db, indicators).await? {
        let metric = definition.indicator.metric_id.expect("filtered on it");
        by_metric.entry(metric).or_insert(definition);
    }
    Ok(by_metric)
}

/// What an indicator's head holds besides its code and names.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IndicatorHead {
    pub unit: Unit,
    pub scale: Scale,
    /// The reported metric it computes, by code.
    pub computes: Option<String>,
}

/// A new indicator and its first version.
pub type NewIndicator = NewDefinition<IndicatorHead, Formula>;

/// Every metric the formula names exists.
async fn checked_formula(reference: &ReferenceCache, formula: &Formula) -> Result<(), ApiError> {
    formula.check("input.formula")?;
    for code in formula.metrics() {
        reference
            .metric_by_code(code)
            .await
            .map_err(|e| e.for_argument("input.formula"))?;
    }
    Ok(())
}

/// Stores a version as given; the caller has checked it.
pub(crate) async fn insert_version(
    db: &impl ConnectionTrait,
    indicator_id: i32,
    number: i32,
    valid_from: Option<NaiveDate>,
    formula: &Formula,
    note: Option<String>,
    recorded_by: &str,
) -> Result<indicator_version::Model, ApiError> {
    Ok(indicator_version::ActiveModel {
        indicator_id: Set(indicator_id),
        version: Set(number),
        valid_from: Set(valid_from),
        formula: Set(serde_json::to_string(formula).expect("a formula serialises")),
        note: Set(note),
        recorded_at: Set(Utc::now().trunc_subsecs(6)),
        recorded_by: Set(recorded_by.to_owned()),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

pub async fn define(
    db: &DatabaseConnection,
    reference: &ReferenceCache,
    caller: &Caller,
    new: NewIndicator,
) -> Result<Definition, ApiError> {
    let subject = Definition::subject(&new.code);
    let result = insert_indicator(db, reference, caller, new).await;
    audit::log_refusal(db, caller, Action::DefineIndicator, Some(subject), result).await
}

async fn insert_indicator(
    db: &DatabaseConnection,
    reference: &ReferenceCache,
    caller: &Caller,
    new: NewIndicator,
) -> Result<Definition, ApiError> {
    caller.principal.require(Permission::Define)?;
    new.check_texts()?;
    checked_formula(reference, &new.body).await?;
    crate::look_up_optional(new.head.computes.as_deref(), "input.computes", |code| {
        reference.metric_by_code(code)
    })
    .await?;
    versions::create(db, reference, caller, &new).await
}

pub async fn revise(
    db: &DatabaseConnection,
    reference: &ReferenceCache,
    caller: &Caller,
    new: NewVersion<Formula>,
) -> Result<Definition, ApiError> {
    let subject = Definition::subject(&new.code);
    let result = add_version(db, reference, caller, new).await;
    audit::log_refusal(db, caller, Action::ReviseIndicator, Some(subject), result).await
}

async fn add_version(
    db: &DatabaseConnection,
    reference: &ReferenceCache,
    caller: &Caller,
    new: NewVersion<Formula>,
) -> Result<Definition, ApiError> {
    caller.principal.require(Permission::Define)?;
    versions::checked_note(new.note.as_deref())?;
    checked_formula(reference, &new.body).await?;
    versions::append(db, reference, caller, &new).await
}

impl Versioned for Definition {
    type Version = Version;
    type Head = IndicatorHead;
    type Body = Formula;
    const DEFINE: Action = Action::DefineIndicator;
    const REVISE: Action = Action::ReviseIndicator;
    const BODY: &'static str = "formula";

    fn subject(code: &str) -> String {
        format!("indicator:{code}")
    }

    fn kept(reference: &ReferenceCache) -> &versions::KeptDefinitions<Self> {
        &reference.indicators
    }

    fn head_id(&self) -> i32 {
        self.indicator.id
    }

    fn versions(&self) -> &[Version] {
        &self.versions
    }

    fn push(&mut self, version: Version) {
        self.versions.push(version);
    }

    async fn load(txn: &DatabaseTransaction, code: &str) -> Result<Self, ApiError> {
        by_code(txn, code).await
    }

    async fn insert_head(txn: &DatabaseTransaction, new: &NewIndicator) -> Result<Self, ApiError> {
        let computes = match &new.head.computes {
            Some(code) => Some(catalog::load_metric(txn, code).await?.id),
            None => None,
        };
        let indicator = indicator::ActiveModel {
            code: Set(new.code.clone()),
            name_vi: Set(new.name_vi.clone()),
            name_en: Set(new.name_en.clone()),
            unit: Set(new.head.unit),
            scale: Set(new.head.scale),
            metric_id: Set(computes),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        Ok(Definition {
            indicator,
            versions: Vec::new(),
        })
    }

    async fn store(
        txn: &DatabaseTransaction,
        head_id: i32,
        number: i32,
        valid_from: Option<NaiveDate>,
        formula: &Formula,
        note: Option<String>,
        recorded_by: &str,
    ) -> Result<Version, ApiError> {
        version(insert_version(txn, head_id, number, valid_from, formula, note, recorded_by).await?)
    }
}

/// A metric's value in one bucket of its series, as an indicator takes it.
pub fn input_of(kind: MetricKind, point: &SeriesPoint) -> Option<Qualified> {
    let (value, qualifier) = match kind {
        // A counter counts since it began: what happened in the period is its growth.
        MetricKind::Cumulative => (point.change?, point.change_qualifier?),
        MetricKind::Ratio => {
            let value = point.value?;
            match point.denominator {
                Some(total) if !total.is_zero() => (value.checked_div(total)?, point.qualifier?),
                _ => return None,
            }
        }
        MetricKind::Flow | MetricKind::Level | MetricKind::AnnualRate => {
            (point.value?, point.qualifier?)
        }
    };
    Some(Qualified {
        value,
        qualifier: Some(qualifier),
    })
}

#[derive(Debug, Clone)]
pub struct IndicatorRequest {
    pub code: String,
    pub agency: Option<String>,
    pub include_synthetic: bool,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub bucket: TimeBucket,
    pub time_zone: Tz,
    pub now: DateTime<Utc>,
    pub as_of: Option<DateTime<Utc>>,
    /// Compute every bucket with this version instead of the one valid then.
    pub version: Option<i32>,
    pub boundaries: Boundaries,
}

/// One input's value in a bucket.
#[derive(Debug, Clone)]
pub struct InputValue {
    pub metric: metric::Model,
    pub value: Option<Qualified>,
}

#[derive(Debug, Clone)]
pub struct IndicatorPoint {
    pub label: std::sync::Arc<str>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub is_open: bool,
    /// The version it was computed with; none when no version was valid then.
    pub version: Option<i32>,
    pub value: Result<Qualified, Gap>,
    /// The inputs of that version, in code order.
    pub inputs: Vec<InputValue>,
}

#[derive(Debug, Clone)]
pub struct IndicatorSeries {
    pub definition: Definition,
    pub points: Vec<IndicatorPoint>,
}

/// The versions a request may compute with: the one named, or every one.
fn versions_used<'a>(definition: &'a Definition, chosen: Option<&'a Version>) -> Vec<&'a Version> {
    match chosen {
        Some(version) => vec![version],
        None => definition.versions.iter().collect(),
    }
}

/// The metrics the versions read, each once.
fn metrics_of<'a>(versions: &[&'a Version]) -> std::collections::BTreeSet<&'a str> {
    versions.iter().flat_map(|v| v.formula.metrics()).collect()
}

/// The indicator in one bucket, from its inputs' points in that bucket.
fn point_at<'a>(
    definition: &Definition,
    chosen: Option<&Version>,
    bucket: &SeriesPoint,
    input: impl Fn(&str) -> Option<(&'a metric::Model, &'a SeriesPoint)>,
) -> IndicatorPoint {
    let version = chosen.or_else(|| definition.valid_on(local_date(bucket.start, VIETNAM)));
    let value_of = |code: &str| {
        let (metric, point) = input(code)?;
        input_of(metric.kind, point)
    };
    let (value, inputs) = match version {
        None => (Err(Gap::NoVersion), Vec::new()),
        Some(version) => (
            version.formula.evaluate(&value_of),
            version
                .formula
                .metrics()
                .into_iter()
                .filter_map(|code| {
                    let (metric, _) = input(code)?;
                    Some(InputValue {
                        metric: metric.clone(),
                        value: value_of(code),
                    })
                })
                .collect(),
        ),
    };
    IndicatorPoint {
        label: bucket.label.clone(),
        start: bucket.start,
        end: bucket.end,
        is_open: bucket.is_open,
        version: version.map(|v| v.row.version),
        value,
        inputs,
    }
}

/// The series request for one input of `request`: the same units, period and instant.
pub(crate) fn input_series(request: &IndicatorRequest, metric: &str) -> SeriesRequest {
    SeriesRequest {
        metric: metric.to_owned(),
        agency: request.agency.clone(),
        include_synthetic: request.include_synthetic,
        from: request.from,
        to: request.to,
        bucket: request.bucket,
        time_zone: request.time_zone,
        now: request.now,
        as_of: request.as_of,
        with_readings: false,
        boundaries: request.boundaries,
    }
}

pub async fn series(
    db: &DatabaseConnection,
    reference: &ReferenceCache,
    request: &IndicatorRequest,
) -> Result<IndicatorSeries, ApiError> {
    let definition = definition(reference, &request.code)
        .await
        .map_err(|e| e.for_argument("indicator"))?;
    let chosen = request
        .version
        .map(|n| definition.numbered(n))
        .transpose()?;
    let mut inputs: BTreeMap<&str, (metric::Model, Vec<SeriesPoint>)> = BTreeMap::new();
    for code in metrics_of(&versions_used(&definition, chosen)) {
        let line = series::time_series(db, reference, &input_series(request, code)).await?;
        inputs.insert(code, (line.metric, line.points));
    }
    let buckets = inputs.values().next().map_or(&[][..], |(_, points)| points);
    let points = buckets
        .iter()
        .enumerate()
        .map(|(i, bucket)| {
            point_at(&definition, chosen, bucket, |code| {
                inputs
                    .get(code)
                    .map(|(metric, points)| (metric, &points[i]))
            })
        })
        .collect();
    Ok(IndicatorSeries { definition, points })
}

/// One unit's value in a ranking.
#[derive(Debug, Clone)]
pub struct RankedUnit {
    pub agency: agency::Model,
    /// 1 for the highest value; equal values share a rank. None without a value.
    pub rank: Option<usize>,
    pub point: IndicatorPoint,
}

#[derive(Debug, Clone)]
pub struct IndicatorRanking {
    pub definition: Definition,
    /// The units with a value, highest first, then those without one (by code), each saying
    /// what it lacks.
    pub units: Vec<RankedUnit>,
}

/// Each unit's point of an input in one bucket, by unit id.
type PointsByUnit = BTreeMap<i32, (agency::Model, SeriesPoint)>;

/// The indicator for the bucket holding `request.from`, for every unit of a group, ranked: each
/// unit's inputs are read from one read per metric (see `series::time_series_by_agency`).
pub async fn by_agency(
    db: &DatabaseConnection,
    reference: &ReferenceCache,
    request: &IndicatorRequest,
    group: AgencyGroup,
) -> Result<IndicatorRanking, ApiError> {
    let definition = definition(reference, &request.code)
        .await
        .map_err(|e| e.for_argument("indicator"))?;
    let chosen = request
        .version
        .map(|n| definition.numbered(n))
        .transpose()?;
    let one_bucket = IndicatorRequest {
        to: request.from,
        agency: None,
        ..request.clone()
    };
    let mut inputs: BTreeMap<&str, (metric::Model, PointsByUnit)> = BTreeMap::new();
    for code in metrics_of(&versions_used(&definition, chosen)) {
        let (metric, lines) =
            series::time_series_by_agency(db, reference, &input_series(&one_bucket, code), group)
                .await?;
        let by_unit = lines
            .into_iter()
            .filter_map(|(unit, mut points)| Some((unit.id, (unit, points.pop()?))))
            .collect();
        inputs.insert(code, (metric, by_unit));
    }
    let Some((_, units)) = inputs.values().next() else {
        return Ok(IndicatorRanking {
            definition,
            units: Vec::new(),
        });
    };
    let mut ranked: Vec<RankedUnit> = units
        .values()
        .map(|(unit, bucket)| RankedUnit {
            agency: unit.clone(),
            rank: None,
            point: point_at(&definition, chosen, bucket, |code| {
                let (metric, by_unit) = inputs.get(code)?;
                by_unit.get(&unit.id).map(|(_, point)| (metric, point))
            }),
        })
        .collect();
    crate::ranking::rank(
        &mut ranked,
        |unit| unit.point.value.as_ref().ok().map(|q| q.value),
        |unit| unit.agency.code.clone(),
        |unit, rank| unit.rank = rank,
    );
    Ok(IndicatorRanking {
        definition,
        units: ranked,
    })
}

/// The indicator's value over one year in Vietnam's calendar, national, as a target reads it.
pub async fn in_year(
    db: &DatabaseConnection,
    reference: &ReferenceCache,
    code: &str,
    year: i32,
    as_of: Option<DateTime<Utc>>,
) -> Result<IndicatorPoint, ApiError> {
    let day = |month, day| NaiveDate::from_ymd_opt(year, month, day).expect("a checked year");
    let mut series = series(
        db,
        reference,
        &IndicatorRequest {
            code: code.to_owned(),
            agency: None,
            include_synthetic: false,
            from: day(1, 1),
            to: day(12, 31),
            bucket: TimeBucket::Year,
            time_zone: VIETNAM,
            now: Utc::now(),
            as_of,
            version: None,
            boundaries: Boundaries::AsRecorded,
        },
    )
    .await?;
    Ok(series.points.pop().expect("one bucket for one year"))
}

//! Scored indices: every province (or every ministry) scored on components, each an indicator
//! or a metric with a scoring rule and the most points it gives, summed and ranked. The
//! components are versioned like indicators ([`crate::versions`]); the change of a unit's score
//! since the previous period is split into what the data changed (the previous definition
//! applied to both periods' data) and what the new definition changed (both definitions applied
//! to this period's data), which add up to the change exactly.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, SubsecRound, Utc};
use entity::values::Qualifier;
use entity::{agency, scored_index, scored_index_version};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};

use crate::access::Permission;
use crate::audit::{self, Action, Caller};
use crate::breakdown::{AgencyGroup, Boundaries};
use crate::error::ApiError;
use crate::indicators::{self, Gap, IndicatorRequest, Qualified};
use crate::reference::ReferenceCache;
use crate::series::{self, TimeBucket};
use crate::time::VIETNAM;
use crate::versions::{
    self, checked_code, checked_text, Dated, NewDefinition, NewVersion, Versioned,
};
use crate::{exact, kinds, message};

/// Most components a version may have.
pub const MAX_COMPONENTS: usize = 50;

/// One part of a score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct Component {
    /// Unique within its version; the same code across versions is the same component.
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    pub measure: Measure,
    pub rule: Rule,
    pub max_points: Decimal,
}

/// What a component scores: an indicator's value, or a metric's as its kind defines it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    Indicator(String),
    Metric(String),
}

/// How a value becomes points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Rule {
    /// No points at `zero_at`, every point at `full_at`, in proportion between, clamped (a
    /// `full_at` below `zero_at` scores lower values higher).
    Linear { zero_at: Decimal, full_at: Decimal },
    /// Every point when the value is at least this, none otherwise.
    AtLeast(Decimal),
}

impl Rule {
    /// Points out of `max` for a value, with what its qualifier lets them say (none: open).
    pub fn points(&self, max: Decimal, value: Qualified) -> Qualified {
        match self {
            Rule::Linear { zero_at, full_at } => {
                let rising = full_at > zero_at;
                let share = (value.value - zero_at) / (full_at - zero_at);
                let clamped = share.clamp(Decimal::ZERO, Decimal::ONE);
                // Points fall as the value rises when `full_at` is below `zero_at`.
                let side = if rising {
                    value.qualifier
                } else {
                    kinds::derived_difference(Some(Qualifier::Exact), value.qualifier)
                };
                let beyond = |limit: Decimal, past: &[Qualifier]| {
                    clamped == limit && side.is_some_and(|q| past.contains(&q))
                };
                // A bound past the end of the scale still earns exactly the end's points.
                let qualifier = if beyond(Decimal::ONE, &[Qualifier::MoreThan, Qualifier::AtLeast])
                    || beyond(Decimal::ZERO, &[Qualifier::LessThan, Qualifier::Nearly])
                {
                    Some(Qualifier::Exact)
                } else {
                    side
                };
                Qualified {
                    value: exact::from_storage((max * clamped).round_dp(exact::MAX_DECIMAL_PLACES)),
                    qualifier,
                }
            }
            Rule::AtLeast(threshold) => {
                let status = value.qualifier.map(|q| {
                    crate::targets::judge(
                        entity::values::Comparator::AtLeast,
                        *threshold,
                        value.value,
                        q,
                    )
                });
                let met = value.value >= *threshold;
                Qualified {
                    value: if met { max } else { Decimal::ZERO },
                    qualifier: match status {
                        Some(crate::targets::TargetStatus::Inconclusive) | None => None,
                        Some(_) => Some(Qualifier::Exact),
                    },
                }
            }
        }
    }
}

/// Refuses components no period could be scored with, before they are stored.
async fn checked_components(
    reference: &ReferenceCache,
    db: &impl ConnectionTrait,
    components: &[Component],
) -> Result<(), ApiError> {
    const ARGUMENT: &str = "input.components";
    if components.is_empty() || components.len() > MAX_COMPONENTS {
        return Err(ApiError::bad_input(
            ARGUMENT,
            message!(COMPONENT_COUNT, max = MAX_COMPONENTS),
        ));
    }
    let mut codes = BTreeSet::new();
    for component in components {
        checked_code(ARGUMENT, &component.code)?;
        if !codes.insert(component.code.as_str()) {
            return Err(ApiError::bad_input(
                ARGUMENT,
                message!(COMPONENT_TWICE, code = &component.code),
            ));
        }
        checked_text(ARGUMENT, &component.name_vi, true)?;
        checked_text(ARGUMENT, &component.name_en, true)?;
        exact::storable(ARGUMENT, component.max_points)?;
        if component.max_points <= Decimal::ZERO {
            return Err(ApiError::bad_input(
                ARGUMENT,
                message!(POINTS_NOT_POSITIVE, code = &component.code),
            ));
        }
        match &component.rule {
            Rule::Linear { zero_at, full_at } if zero_at == full_at => {
                return Err(ApiError::bad_input(
                    ARGUMENT,
                    message!(SCALE_WITHOUT_LENGTH, code = &component.code),
                ));
            }
            Rule::Linear { zero_at, full_at } => {
                exact::storable(ARGUMENT, *zero_at)?;
                exact::storable(ARGUMENT, *full_at)?;
            }
            Rule::AtLeast(threshold) => {
                exact::storable(ARGUMENT, *threshold)?;
            }
        }
        match &component.measure {
            Measure::Metric(code) => {
                reference
                    .metric_by_code(code)
                    .await
                    .map_err(|e| e.for_argument(ARGUMENT))?;
            }
            Measure::Indicator(code) => {
                indicators::by_code(db, code)
                    .await
                    .map_err(|e| e.for_argument(ARGUMENT))?;
            }
        }
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct Version {
    pub row: scored_index_version::Model,
    /// Shared with every unit's score that names them.
    pub components: Vec<Arc<Component>>,
}

impl Dated for Version {
    fn number(&self) -> i32 {
        self.row.version
    }

    fn valid_from(&self) -> Option<NaiveDate> {
        self.row.valid_from
    }
}

#[derive(Debug, Clone)]
pub struct Definition {
    pub index: scored_index::Model,
    pub group: AgencyGroup,
    pub versions: Vec<Version>,
}

fn group_of(code: &str) -> Result<AgencyGroup, ApiError> {
    match code {
        "provinces" => Ok(AgencyGroup::Provinces),
        "ministries" => Ok(AgencyGroup::Ministries),
        other => Err(stored_unreadable(format!("an index scores `{other}`"))),
    }
}

fn group_code(group: AgencyGroup) -> &'static str {
    match group {
        AgencyGroup::Provinces => "provinces",
        AgencyGroup::Ministries => "ministries",
    }
}

/// Stored definitions were checked when defined; one that no longer reads was edited outside.
fn stored_unreadable(what: String) -> ApiError {
    ApiError::Database(std::sync::Arc::new(sea_orm::DbErr::Custom(format!(
        "a scored index's stored definition does not read: {what}"
    ))))
}

fn version(row: scored_index_version::Model) -> Result<Version, ApiError> {
    let components: Vec<Component> =
        serde_json::from_str(&row.components).map_err(|e| stored_unreadable(e.to_string()))?;
    Ok(Version {
        row,
        components: components.into_iter().map(Arc::new).collect(),
    })
}

async fn definitions_of(
    db: &impl ConnectionTrait,
    indices: Vec<scored_index::Model>,
) -> Result<Vec<Definition>, ApiError> {
    let ids: Vec<i32> = indices.iter().map(|i| i.id).collect();
    let mut versions: BTreeMap<i32, Vec<Version>> = BTreeMap::new();
    for row in scored_index_version::Entity::find()
        .filter(scored_index_version::Column::ScoredIndexId.is_in(ids))
        .order_by_asc(scored_index_version::Column::Version)
        .all(db)
        .await?
    {
        versions
            .entry(row.scored_index_id)
            .or_default()
            .push(version(row)?);
    }
    indices
        .into_iter()
        .map(|index| {
            Ok(Definition {
                group: group_of(&index.agency_group)?,
                versions: versions.remove(&index.id).unwrap_or_default(),
                index,
            })
        })
        .collect()
}

pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<Definition>, ApiError> {
    let indices = scored_index::Entity::find()
        .order_by_asc(scored_index::Column::Code)
        .all(db)
        .await?;
    definitions_of(db, indices).await
}

/// The index `code` as this process keeps it between requests ([`versions::KeptDefinitions`]).
pub async fn definition(reference: &ReferenceCache, code: &str) -> Result<Definition, ApiError> {
    (reference.indices)
        .get(code, by_code(reference.database(), code))
        .await
}

pub async fn by_code(db: &impl ConnectionTrait, code: &str) -> Result<Definition, ApiError> {
    let index = scored_index::Entity::find()
        .filter(scored_index::Column::Code.eq(code))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("scored index", code))?;
    Ok(definitions_of(db, vec![index]).await?.remove(0))
}

/// What an index's head holds besides its code and names.
#[derive(Debug, Clone, Serialize)]
pub struct IndexHead {
    /// The units it scores.
    pub of: AgencyGroup,
}

/// A new scored index and its first version.
pub type NewIndex = NewDefinition<IndexHead, Vec<Component>>;

async fn insert_version(
    db: &impl ConnectionTrait,
    index_id: i32,
    number: i32,
    valid_from: Option<NaiveDate>,
    components: &[Component],
    note: Option<String>,
    recorded_by: &str,
) -> Result<scored_index_version::Model, ApiError> {
    Ok(scored_index_version::ActiveModel {
        scored_index_id: Set(index_id),
        version: Set(number),
        valid_from: Set(valid_from),
        components: Set(serde_json::to_string(components).expect("components serialise")),
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
    new: NewIndex,
) -> Result<Definition, ApiError> {
    let code = new.code.clone();
    let result = insert_index(db, reference, caller, new).await;
    audit::log_refusal(
        db,
        caller,
        Action::DefineScoredIndex,
        Some(Definition::subject(&code)),
        result,
    )
    .await
}

async fn insert_index(
    db: &DatabaseConnection,
    reference: &ReferenceCache,
    caller: &Caller,
    new: NewIndex,
) -> Result<Definition, ApiError> {
    caller.principal.require(Permission::Define)?;
    new.check_texts()?;
    checked_components(reference, db, &new.body).await?;
    versions::create(db, reference, caller, &new).await
}

pub async fn revise(
    db: &DatabaseConnection,
    reference: &ReferenceCache,
    caller: &Caller,
    new: NewVersion<Vec<Component>>,
) -> Result<Definition, ApiError> {
    let subject = Definition::subject(&new.code);
    let result = add_version(db, reference, caller, new).await;
    audit::log_refusal(db, caller, Action::ReviseScoredIndex, Some(subject), result).await
}

async fn add_version(
    db: &DatabaseConnection,
    reference: &ReferenceCache,
    caller: &Caller,
    new: NewVersion<Vec<Component>>,
) -> Result<Definition, ApiError> {
    caller.principal.require(Permission::Define)?;
    versions::checked_note(new.note.as_deref())?;
    checked_components(reference, db, &new.body).await?;
    versions::append(db, reference, caller, &new).await
}

impl Versioned for Definition {
    type Version = Version;
    type Head = IndexHead;
    type Body = Vec<Component>;
    const DEFINE: Action = Action::DefineScoredIndex;
    const REVISE: Action = Action::ReviseScoredIndex;
    const BODY: &'static str = "components";

    fn subject(code: &str) -> String {
        format!("scored-index:{code}")
    }

    fn kept(reference: &ReferenceCache) -> &versions::KeptDefinitions<Self> {
        &reference.indices
    }

    fn head_id(&self) -> i32 {
        self.index.id
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

    async fn insert_head(txn: &DatabaseTransaction, new: &NewIndex) -> Result<Self, ApiError> {
        let index = scored_index::ActiveModel {
            code: Set(new.code.clone()),
            name_vi: Set(new.name_vi.clone()),
            name_en: Set(new.name_en.clone()),
            agency_group: Set(group_code(new.head.of).to_owned()),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        Ok(Definition {
            index,
            group: new.head.of,
            versions: Vec::new(),
        })
    }

    async fn store(
        txn: &DatabaseTransaction,
        head_id: i32,
        number: i32,
        valid_from: Option<NaiveDate>,
        components: &Vec<Component>,
        note: Option<String>,
        recorded_by: &str,
    ) -> Result<Version, ApiError> {
        version(
            insert_version(
                txn,
                head_id,
                number,
                valid_from,
                components,
                note,
                recorded_by,
            )
            .await?,
        )
    }
}

/// A period to score: the bucket holding a day.
#[derive(Debug, Clone)]
pub struct ScoreRequest {
    pub index: String,
    pub day: NaiveDate,
    pub bucket: TimeBucket,
    pub boundaries: Boundaries,
    pub include_synthetic: bool,
    pub now: DateTime<Utc>,
    pub as_of: Option<DateTime<Utc>>,
}

/// Each unit's value of every measure: measure, then unit id.
type MeasureValues = HashMap<Measure, HashMap<i32, Result<Qualified, Gap>>>;

/// Each unit's value of every measure in one period.
struct PeriodData {
    label: std::sync::Arc<str>,
    units: Vec<agency::Model>,
    values: MeasureValues,
}

/// Reads the measures' values in the bucket holding `day` for every unit of the group.
async fn period_data(
    db: &DatabaseConnection,
    reference: &ReferenceCache,
    request: &ScoreRequest,
    group: AgencyGroup,
    day: NaiveDate,
    measures: &BTreeSet<&Measure>,
) -> Result<PeriodData, ApiError> {
    let mut data = PeriodData {
        label: request.bucket.label(request.bucket.start_of(day)).into(),
        units: Vec::new(),
        values: HashMap::new(),
    };
    // The period as an indicator's request; a metric is read as an indicator's input is.
    let over_period = |code: &str| IndicatorRequest {
        code: code.to_owned(),
        agency: None,
        include_synthetic: request.include_synthetic,
        from: day,
        to: day,
        bucket: request.bucket,
        time_zone: VIETNAM,
        now: request.now,
        as_of: request.as_of,
        version: None,
        boundaries: request.boundaries,
    };
    for &measure in measures {
        let valued: Vec<(agency::Model, Result<Qualified, Gap>)> = match measure {
            Measure::Indicator(code) => {
                let ranking =
                    indicators::by_agency(db, reference, &over_period(code), group).await?;
                ranking
                    .units
                    .into_iter()
                    .map(|u| (u.agency, u.point.value))
                    .collect()
            }
            Measure::Metric(code) => {
                let series_request = indicators::input_series(&over_period(code), code);
                let (metric, lines) =
                    series::time_series_by_agency(db, reference, &series_request, group).await?;
                lines
                    .into_iter()
                    .map(|(unit, points)| {
                        let value = points
                            .last()
                            .and_then(|point| indicators::input_of(metric.kind, point))
                            .ok_or_else(|| Gap::MissingInputs(vec![code.clone()]));
                        (unit, value)
                    })
                    .collect()
            }
        };
        let by_unit = valued
            .iter()
            .map(|(unit, value)| (unit.id, value.clone()))
            .collect();
        if data.units.is_empty() {
            data.units = valued.into_iter().map(|(unit, _)| unit).collect();
        }
        data.values.insert(measure.clone(), by_unit);
    }
    Ok(data)
}

/// One component of a unit's score.
#[derive(Debug, Clone)]
pub struct ComponentScore {
    pub component: Arc<Component>,
    pub value: Result<Qualified, Gap>,
    /// None when the value is missing.
    pub points: Option<Qualified>,
}

/// A unit's score under one version in one period.
#[derive(Debug, Clone)]
pub struct UnitScore {
    pub agency: agency::Model,
    /// The sum of the components' points; none when a component has no value.
    pub total: Option<Qualified>,
    pub components: Vec<ComponentScore>,
    /// 1 for the highest total among the units scored; none without a total.
    pub rank: Option<usize>,
}

fn score(version: &Version, values: &MeasureValues, unit: agency::Model) -> UnitScore {
    let components: Vec<ComponentScore> = version
        .components
        .iter()
        .map(|component| {
            let value = values
                .get(&component.measure)
                .and_then(|by_unit| by_unit.get(&unit.id).cloned())
                .unwrap_or(Err(Gap::MissingInputs(Vec::new())));
            let points = value
                .as_ref()
                .ok()
                .map(|v| component.rule.points(component.max_points, *v));
            ComponentScore {
                component: component.clone(),
                value,
                points,
            }
        })
        .collect();
    let total = components
        .iter()
        .map(|c| c.points)
        .collect::<Option<Vec<Qualified>>>()
        .map(|points| Qualified {
            value: exact::from_storage(points.iter().map(|p| p.value).sum()),
            qualifier: kinds::derived_sum(points.iter().map(|p| p.qualifier)),
        });
    UnitScore {
        agency: unit,
        total,
        components,
        rank: None,
    }
}

/// Every unit's score in a period under a version, ranked.
fn ranked(version: &Version, units: Vec<agency::Model>, values: &MeasureValues) -> Vec<UnitScore> {
    let mut scores: Vec<UnitScore> = units
        .into_iter()
        .map(|unit| score(version, values, unit))
        .collect();
    crate::ranking::rank(
        &mut scores,
        |s| s.total.map(|t| t.value),
        |s| s.agency.code.clone(),
        |s, rank| s.rank = rank,
    );
    scores
}

fn measures_of<'a>(versions: impl IntoIterator<Item = &'a Version>) -> BTreeSet<&'a Measure> {
    versions
        .into_iter()
        .flat_map(|v| v.components.iter().map(|c| &c.measure))
        .collect()
}

#[derive(Debug, Clone)]
pub struct IndexRanking {
    pub definition: Definition,
    pub label: std::sync::Arc<str>,
    /// None when no version applies to the period.
    pub version: Option<i32>,
    pub scores: Vec<UnitScore>,
}

pub async fn ranking(
    db: &DatabaseConnection,
    reference: &ReferenceCache,
    request: &ScoreRequest,
) -> Result<IndexRanking, ApiError> {
    let definition = definition(reference, &request.index)
        .await
        .map_err(|e| e.for_argument("index"))?;
    let start = request.bucket.start_of(request.day);
    let Some(version) = versions::valid_on(&definition.versions, start) else {
        return Ok(IndexRanking {
            label: request.bucket.label(start).into(),
            definition,
            version: None,
            scores: Vec::new(),
        });
    };
    let data = period_data(
        db,
        reference,
        request,
        definition.group,
        request.day,
        &measures_of([version]),
    )
    .await?;
    let scores = ranked(version, data.units, &data.values);
    Ok(IndexRanking {
        label: data.label,
        version: Some(version.row.version),
        scores,
        definition,
    })
}

/// A unit's score in the period before.
#[derive(Debug, Clone)]
pub struct Previous {
    pub label: std::sync::Arc<str>,
    pub version: i32,
    pub score: UnitScore,
}

#[derive(Debug, Clone)]
pub struct IndexScore {
    pub definition: Definition,
    pub label: std::sync::Arc<str>,
    pub version: i32,
    pub score: UnitScore,
    /// How many units have a total this period.
    pub ranked_among: usize,
    pub previous: Option<Previous>,
    /// This period's total minus the previous one's.
    pub change: Option<Decimal>,
    /// The previous definition applied to this period's data, minus the previous total.
    pub change_from_data: Option<Decimal>,
    /// This period's total minus the previous definition applied to this period's data.
    pub change_from_definition: Option<Decimal>,
}

pub async fn index_score(
    db: &DatabaseConnection,
    reference: &ReferenceCache,
    request: &ScoreRequest,
    agency_code: &str,
) -> Result<IndexScore, ApiError> {
    let unit = reference
        .agency_by_code(agency_code)
        .await
        .map_err(|e| e.for_argument("agency"))?;
    let definition = definition(reference, &request.index)
        .await
        .map_err(|e| e.for_argument("index"))?;
    let start = request.bucket.start_of(request.day);
    let before = request.bucket.start_of(start - Duration::days(1));
    let current = versions::valid_on(&definition.versions, start).ok_or_else(|| {
        ApiError::bad_input(
            "day",
            message!(
                NO_VERSION_FOR_PERIOD,
                code = &definition.index.code,
                day = start
            ),
        )
    })?;
    let earlier = versions::valid_on(&definition.versions, before);
    let data = period_data(
        db,
        reference,
        request,
        definition.group,
        start,
        &measures_of([Some(current), earlier].into_iter().flatten()),
    )
    .await?;
    let scores = ranked(current, data.units, &data.values);
    let ranked_among = scores.iter().filter(|s| s.rank.is_some()).count();
    let own = scores
        .into_iter()
        .find(|s| s.agency.id == unit.id)
        .ok_or_else(|| {
            ApiError::bad_input(
                "agency",
                message!(
                    NOT_SCORED,
                    agency = agency_code,
                    code = &definition.index.code
                ),
            )
        })?;
    let (mut previous, mut change, mut from_data, mut from_definition) = (None, None, None, None);
    if let Some(earlier) = earlier {
        let earlier_data = period_data(
            db,
            reference,
            request,
            definition.group,
            before,
            &measures_of([earlier]),
        )
        .await?;
        let then = score(earlier, &earlier_data.values, unit.clone());
        let now_by_then = score(earlier, &data.values, unit);
        let total = |s: &UnitScore| s.total.map(|t| t.value);
        if let (Some(now), Some(was), Some(bridge)) =
            (total(&own), total(&then), total(&now_by_then))
        {
            change = Some(exact::from_storage(now - was));
            from_data = Some(exact::from_storage(bridge - was));
            from_definition = Some(exact::from_storage(now - bridge));
        }
        previous = Some(Previous {
            label: earlier_data.label,
            version: earlier.row.version,
            score: then,
        });
    }
    Ok(IndexScore {
        label: data.label,
        version: current.row.version,
        score: own,
        ranked_among,
        previous,
        change,
        change_from_data: from_data,
        change_from_definition: from_definition,
        definition,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use Qualifier::*;

    fn q(value: i64, qualifier: Qualifier) -> Qualified {
        Qualified {
            value: Decimal::from(value),
            qualifier: Some(qualifier),
        }
    }

    #[test]
    fn a_linear_rule_scores_in_proportion_and_clamps_at_its_ends() {
        let rule = Rule::Linear {
            zero_at: Decimal::from(20),
            full_at: Decimal::from(60),
        };
        let ten = Decimal::from(10);
        assert_eq!(rule.points(ten, q(40, Exact)), q(5, Exact));
        assert_eq!(rule.points(ten, q(40, MoreThan)), q(5, MoreThan));
        assert_eq!(rule.points(ten, q(90, Exact)), q(10, Exact));
        // More than 70 is past the end: every point, exactly.
        assert_eq!(rule.points(ten, q(70, MoreThan)), q(10, Exact));
        assert_eq!(rule.points(ten, q(10, Exact)), q(0, Exact));
        let falling = Rule::Linear {
            zero_at: Decimal::from(60),
            full_at: Decimal::from(20),
        };
        // Fewer days is better: "more than 30 days" earns fewer than 7.5 points.
        assert_eq!(
            falling.points(ten, q(30, MoreThan)).qualifier,
            Some(LessThan)
        );
        assert_eq!(
            falling.points(ten, q(30, MoreThan)).value.to_string(),
            "7.5"
        );
    }

    #[test]
    fn a_threshold_gives_all_or_nothing_and_no_points_it_cannot_prove() {
        let rule = Rule::AtLeast(Decimal::from(30));
        let ten = Decimal::from(10);
        assert_eq!(rule.points(ten, q(31, Exact)), q(10, Exact));
        assert_eq!(rule.points(ten, q(29, Exact)), q(0, Exact));
        assert_eq!(rule.points(ten, q(30, MoreThan)), q(10, Exact));
        let unsure = rule.points(ten, q(25, MoreThan));
        assert_eq!((unsure.value, unsure.qualifier), (Decimal::ZERO, None));
    }
}

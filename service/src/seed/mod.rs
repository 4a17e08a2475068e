//! Loading the reported figures of `seeds/kpi.toml` with their citations.
//!
//! Idempotent and all-or-nothing: records already stored (by code; observations by metric,
//! agency and instant) are left as they are, and a failure stores nothing.

mod reference;

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use entity::values::{
    AgencyKind, Comparator, DatePrecision, EventKind, MetricKind, Qualifier, Scale, Unit,
};
use entity::{
    agency, event, indicator, metric, observation, observation_revision, platform, source, target,
};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter,
};
use serde::Deserialize;

use super::audit::seal::{Seal, Sealed};
use super::audit::{self, Action, Caller, Event, APPLIED};
use super::exact;
use super::indicators::{self, insert_version, Formula, IndicatorHead, NewIndicator};
use super::recording::{check_figure, NewObservation};
use super::time::{start_of_day, VIETNAM};
use super::versions;
use crate::error::ApiError;
use serde_json::json;

/// The seed file, compiled into the binary so that a server needs nothing beside it.
pub const SEED_FILE: &str = include_str!("../../../seeds/kpi.toml");

/// Who recorded the seeded revisions.
pub const SEED_RECORDER: &str = "seed";

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("the seed file is not valid: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("the seed file names an unknown {kind} `{code}`")]
    UnknownReference { kind: &'static str, code: String },
    #[error("the seed file has a value that cannot be stored: {0}")]
    Value(#[from] ApiError),
    #[error("the seed figure of fact {fact} ({metric}) breaks the rules of recording: {reasons}")]
    Invalid {
        fact: u32,
        metric: String,
        reasons: String,
    },
    #[error("the reference data is not valid: {0}")]
    Reference(String),
    #[error("the database refused the seed data: {0}")]
    Database(#[from] DbErr),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedFile {
    pub source: Vec<SeedSource>,
    pub agency: Vec<SeedAgency>,
    pub platform: Vec<SeedPlatform>,
    pub metric: Vec<SeedMetric>,
    pub observation: Vec<SeedObservation>,
    #[serde(default)]
    pub indicator: Vec<SeedIndicator>,
    pub target: Vec<SeedTarget>,
    pub event: Vec<SeedEvent>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedSource {
    pub code: String,
    pub file: String,
    pub title: Option<String>,
    pub outlet: String,
    pub outlet_inferred: bool,
    pub published_on: Option<NaiveDate>,
    pub published_on_inferred: bool,
    pub language: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedAgency {
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    pub kind: AgencyKind,
    /// The agency it answers to, by code.
    #[serde(default)]
    pub parent: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedPlatform {
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    pub operator: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedMetric {
    pub code: String,
    /// None for the programme's own metrics.
    pub platform: Option<String>,
    pub name_vi: String,
    pub name_en: String,
    pub unit: Unit,
    pub scale: Scale,
    pub kind: MetricKind,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedObservation {
    /// The row of shared/FACTS.md the figure comes from.
    pub fact: u32,
    pub metric: String,
    pub agency: Option<String>,
    pub observed_on: NaiveDate,
    pub value: Decimal,
    pub denominator: Option<Decimal>,
    pub qualifier: Qualifier,
    pub source: String,
    pub quote: String,
    pub note: Option<String>,
}

/// An indicator and its first version.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedIndicator {
    pub code: String,
    /// The metric it computes, by code.
    pub computes: Option<String>,
    pub name_vi: String,
    pub name_en: String,
    pub unit: Unit,
    pub scale: Scale,
    pub note: Option<String>,
    pub formula: Formula,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedTarget {
    pub fact: u32,
    pub code: String,
    pub metric: String,
    pub year: i32,
    pub comparator: Comparator,
    pub value: Decimal,
    pub description_vi: String,
    pub description_en: String,
    pub source: String,
    pub quote: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedEvent {
    pub fact: u32,
    pub code: String,
    pub platform: Option<String>,
    pub agency: Option<String>,
    pub kind: EventKind,
    pub occurred_on: NaiveDate,
    pub precision: DatePrecision,
    pub name_vi: String,
    pub name_en: String,
    pub source: String,
    pub quote: String,
}

pub fn parse(text: &str) -> Result<SeedFile, SeedError> {
    Ok(toml::from_str(text)?)
}

/// How many records a load added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub inserted: usize,
    pub already_present: usize,
}

/// Codes of the records of one table, mapped to their ids.
struct Codes {
    kind: &'static str,
    ids: HashMap<String, i32>,
}

impl Codes {
    fn id(&self, code: &str) -> Result<i32, SeedError> {
        self.ids
            .get(code)
            .copied()
            .ok_or_else(|| SeedError::UnknownReference {
                kind: self.kind,
                code: code.to_owned(),
            })
    }

    fn optional_id(&self, code: Option<&String>) -> Result<Option<i32>, SeedError> {
        code.map(|code| self.id(code)).transpose()
    }
}

pub async fn load(db: &DatabaseConnection) -> Result<SeedReport, SeedError> {
    load_file(db, &parse(SEED_FILE)?).await
}

pub async fn load_file(db: &DatabaseConnection, file: &SeedFile) -> Result<SeedReport, SeedError> {
    // A write like any other: the figures it stores are recorded in the audit chain.
    let txn = audit::begin_write(db).await?;
    let mut sealed_events = Vec::new();
    let mut report = SeedReport::default();
    let mut count = |inserted: bool| {
        if inserted {
            report.inserted += 1
        } else {
            report.already_present += 1
        }
    };

    let mut sources = codes(
        &txn,
        "source",
        source::Entity::find(),
        |m: &source::Model| (m.code.clone(), m.id),
    )
    .await?;
    for s in &file.source {
        let inserted = insert_missing(&txn, &mut sources, &s.code, || source::ActiveModel {
            code: set(s.code.clone()),
            file_name: set(s.file.clone()),
            title: set(s.title.clone()),
            outlet: set(s.outlet.clone()),
            outlet_inferred: set(s.outlet_inferred),
            published_on: set(s.published_on),
            published_on_inferred: set(s.published_on_inferred),
            language: set(s.language.clone()),
            ..Default::default()
        })
        .await?;
        count(inserted);
    }

    let mut agencies = codes(
        &txn,
        "agency",
        agency::Entity::find(),
        |m: &agency::Model| (m.code.clone(), m.id),
    )
    .await?;
    reference::load(&txn, &mut agencies, &mut count).await?;
    for a in &file.agency {
        let parent = agencies.optional_id(a.parent.as_ref())?;
        let inserted = insert_missing(&txn, &mut agencies, &a.code, || agency::ActiveModel {
            code: set(a.code.clone()),
            name_vi: set(a.name_vi.clone()),
            name_en: set(a.name_en.clone()),
            kind: set(a.kind),
            parent_id: set(parent),
            ..Default::default()
        })
        .await?;
        count(inserted);
    }

    let mut platforms = codes(
        &txn,
        "platform",
        platform::Entity::find(),
        |m: &platform::Model| (m.code.clone(), m.id),
    )
    .await?;
    for p in &file.platform {
        let operator = agencies.id(&p.operator)?;
        let inserted = insert_missing(&txn, &mut platforms, &p.code, || platform::ActiveModel {
            code: set(p.code.clone()),
            name_vi: set(p.name_vi.clone()),
            name_en: set(p.name_en.clone()),
            operator_agency_id: set(operator),
            ..Default::default()
        })
        .await?;
        count(inserted);
    }

    let mut metrics = codes(
        &txn,
        "metric",
        metric::Entity::find(),
        |m: &metric::Model| (m.code.clone(), m.id),
    )
    .await?;
    for m in &file.metric {
        let platform_id = platforms.optional_id(m.platform.as_ref())?;
        let inserted = insert_missing(&txn, &mut metrics, &m.code, || metric::ActiveModel {
            platform_id: set(platform_id),
            code: set(m.code.clone()),
            name_vi: set(m.name_vi.clone()),
            name_en: set(m.name_en.clone()),
            unit: set(m.unit),
            scale: set(m.scale),
            kind: set(m.kind),
            ..Default::default()
        })
        .await?;
        count(inserted);
    }

    let recorded_at = Utc::now().trunc_subsecs(6);
    for o in &file.observation {
        let metric_id = metrics.id(&o.metric)?;
        let agency_id = agencies.optional_id(o.agency.as_ref())?;
        let observed_at = start_of_day(o.observed_on, VIETNAM);
        let metric = metric::Entity::find_by_id(metric_id)
            .one(&txn)
            .await?
            .ok_or_else(|| DbErr::RecordNotFound(format!("metric {metric_id}")))?;
        let (value, denominator) = checked(o, &metric, recorded_at)?;
        let existing = observation::Entity::find()
            .filter(observation::Column::MetricId.eq(metric_id))
            .filter(match agency_id {
                Some(id) => observation::Column::AgencyId.eq(id),
                None => observation::Column::AgencyId.is_null(),
            })
            .filter(observation::Column::ObservedAt.eq(observed_at))
            .one(&txn)
            .await?;
        if existing.is_some() {
            count(false);
            continue;
        }
        let stored = observation::ActiveModel {
            metric_id: set(metric_id),
            agency_id: set(agency_id),
            observed_at: set(observed_at),
            period_start: set(None),
            synthetic: set(false),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        let revision = observation_revision::ActiveModel {
            observation_id: set(stored.id),
            revision: set(1),
            value: set(value),
            qualifier: set(o.qualifier),
            denominator: set(denominator),
            source_id: set(sources.id(&o.source)?),
            quote: set(o.quote.clone()),
            note: set(o.note.clone()),
            recorded_at: set(recorded_at),
            recorded_by: set(SEED_RECORDER.to_owned()),
            reason: set(None),
            superseded_at: set(None),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        let seal = Seal::of(
            revision.id,
            &Sealed {
                observation: &stored,
                revision: &revision,
            },
        );
        let detail = json!({ "metric": o.metric, "agency": o.agency, "observedOn": o.observed_on, "source": o.source });
        sealed_events.push(
            Event::new(
                Action::SeedObservation,
                Some(audit::observation_subject(stored.id)),
                detail,
            )
            .sealing(seal),
        );
        count(true);
    }

    let mut indicators = codes(
        &txn,
        "indicator",
        indicator::Entity::find(),
        |m: &indicator::Model| (m.code.clone(), m.id),
    )
    .await?;
    for i in &file.indicator {
        i.formula.check("formula")?;
        for code in i.formula.metrics() {
            metrics.id(code)?;
        }
        let metric_id = metrics.optional_id(i.computes.as_ref())?;
        let inserted = insert_missing(&txn, &mut indicators, &i.code, || indicator::ActiveModel {
            code: set(i.code.clone()),
            name_vi: set(i.name_vi.clone()),
            name_en: set(i.name_en.clone()),
            unit: set(i.unit),
            scale: set(i.scale),
            metric_id: set(metric_id),
            ..Default::default()
        })
        .await?;
        if inserted {
            let id = indicators.id(&i.code)?;
            insert_version(&txn, id, 1, None, &i.formula, i.note.clone(), SEED_RECORDER).await?;
            let defined = NewIndicator {
                code: i.code.clone(),
                name_vi: i.name_vi.clone(),
                name_en: i.name_en.clone(),
                head: IndicatorHead {
                    unit: i.unit,
                    scale: i.scale,
                    computes: i.computes.clone(),
                },
                body: i.formula.clone(),
                valid_from: None,
                note: i.note.clone(),
            };
            sealed_events.push(versions::define_event::<indicators::Definition>(&defined));
        }
        count(inserted);
    }

    let mut targets = codes(
        &txn,
        "target",
        target::Entity::find(),
        |m: &target::Model| (m.code.clone(), m.id),
    )
    .await?;
    for t in &file.target {
        let (metric_id, source_id) = (metrics.id(&t.metric)?, sources.id(&t.source)?);
        let value = exact::storable("value", t.value)?;
        let inserted = insert_missing(&txn, &mut targets, &t.code, || target::ActiveModel {
            code: set(t.code.clone()),
            metric_id: set(metric_id),
            year: set(t.year),
            comparator: set(t.comparator),
            value: set(value),
            description_vi: set(t.description_vi.clone()),
            description_en: set(t.description_en.clone()),
            source_id: set(source_id),
            quote: set(t.quote.clone()),
            ..Default::default()
        })
        .await?;
        count(inserted);
    }

    let mut events = codes(&txn, "event", event::Entity::find(), |m: &event::Model| {
        (m.code.clone(), m.id)
    })
    .await?;
    for e in &file.event {
        let platform_id = platforms.optional_id(e.platform.as_ref())?;
        let agency_id = agencies.optional_id(e.agency.as_ref())?;
        let source_id = sources.id(&e.source)?;
        let inserted = insert_missing(&txn, &mut events, &e.code, || event::ActiveModel {
            code: set(e.code.clone()),
            platform_id: set(platform_id),
            agency_id: set(agency_id),
            kind: set(e.kind),
            occurred_on: set(e.occurred_on),
            date_precision: set(e.precision),
            name_vi: set(e.name_vi.clone()),
            name_en: set(e.name_en.clone()),
            source_id: set(source_id),
            quote: set(e.quote.clone()),
            ..Default::default()
        })
        .await?;
        count(inserted);
    }

    audit::append_all(
        &txn,
        &Caller::command_line(SEED_RECORDER),
        APPLIED,
        sealed_events,
    )
    .await?;
    txn.commit().await?;
    Ok(report)
}

/// A seed figure held to the rules every recorded figure meets: its value and denominator as
/// stored.
fn checked(
    figure: &SeedObservation,
    metric: &metric::Model,
    now: DateTime<Utc>,
) -> Result<(Decimal, Option<Decimal>), SeedError> {
    let item = NewObservation {
        metric: figure.metric.clone(),
        agency: figure.agency.clone(),
        observed_at: start_of_day(figure.observed_on, VIETNAM),
        period_start: None,
        value: figure.value,
        qualifier: figure.qualifier,
        denominator: figure.denominator,
        source: figure.source.clone(),
        quote: figure.quote.clone(),
        note: figure.note.clone(),
        line: None,
    };
    check_figure(&item, metric, now).map_err(|failures| SeedError::Invalid {
        fact: figure.fact,
        metric: figure.metric.clone(),
        reasons: failures
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; "),
    })
}

fn set<T: Into<sea_orm::Value>>(value: T) -> sea_orm::ActiveValue<T> {
    sea_orm::ActiveValue::Set(value)
}

async fn codes<E, F>(
    db: &impl ConnectionTrait,
    kind: &'static str,
    query: sea_orm::Select<E>,
    code_and_id: F,
) -> Result<Codes, DbErr>
where
    E: EntityTrait,
    F: Fn(&E::Model) -> (String, i32),
{
    let ids = query.all(db).await?.iter().map(code_and_id).collect();
    Ok(Codes { kind, ids })
}

/// Inserts the record built by `build` unless `code` is already stored; says whether it did.
async fn insert_missing<A, B>(
    db: &impl ConnectionTrait,
    codes: &mut Codes,
    code: &str,
    build: B,
) -> Result<bool, DbErr>
where
    A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
    B: FnOnce() -> A,
{
    if codes.ids.contains_key(code) {
        return Ok(false);
    }
    let inserted = build().insert(db).await?;
    let id = match sea_orm::ModelTrait::get(&inserted, primary_id::<A::Entity>()) {
        sea_orm::Value::Int(Some(id)) => id,
        other => {
            return Err(DbErr::Custom(format!(
                "{} `{code}` was stored without an integer id ({other:?})",
                codes.kind
            )))
        }
    };
    codes.ids.insert(code.to_owned(), id);
    Ok(true)
}

fn primary_id<E: EntityTrait>() -> E::Column {
    use sea_orm::{Iterable, PrimaryKeyToColumn};
    E::PrimaryKey::iter()
        .next()
        .expect("every table has a primary key")
        .into_column()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_seed_figure_meets_the_rules_of_recording() {
        let file = parse(SEED_FILE).expect("seeds/kpi.toml parses");
        assert!(file.observation.len() >= 10);
        for o in &file.observation {
            let seeded = file
                .metric
                .iter()
                .find(|m| m.code == o.metric)
                .expect("a metric");
            let metric = metric::Model {
                id: 1,
                platform_id: Some(1),
                code: seeded.code.clone(),
                name_vi: seeded.name_vi.clone(),
                name_en: seeded.name_en.clone(),
                unit: seeded.unit,
                scale: seeded.scale,
                kind: seeded.kind,
                reporting_period: None,
                reporting_due_days: None,
            };
            if let Err(refused) = checked(o, &metric, Utc::now()) {
                panic!("{refused}");
            }
        }
    }

    #[test]
    fn a_seed_figure_that_breaks_a_rule_is_refused_with_its_fact() {
        let file = parse(SEED_FILE).expect("seeds/kpi.toml parses");
        let ratio = file
            .metric
            .iter()
            .find(|m| m.kind == MetricKind::Ratio)
            .expect("a ratio metric");
        let mut figure = file
            .observation
            .into_iter()
            .find(|o| o.metric == ratio.code)
            .expect("a ratio figure");
        figure.denominator = None;
        let metric = metric::Model {
            id: 1,
            platform_id: Some(1),
            code: ratio.code.clone(),
            name_vi: String::new(),
            name_en: String::new(),
            unit: ratio.unit,
            scale: ratio.scale,
            kind: ratio.kind,
            reporting_period: None,
            reporting_due_days: None,
        };
        let refused = checked(&figure, &metric, Utc::now())
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains(&format!("fact {}", figure.fact)),
            "{refused}"
        );
        assert!(refused.contains("denominator: a ratio needs"), "{refused}");
    }
}

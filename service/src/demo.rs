//! Synthetic history for demonstrations and load: daily readings of growing counters for many
//! synthetic agencies, and monthly flows, so that charts and queries can be tried at scale.
//!
//! Every row it writes is marked `synthetic`, every agency, metric and source it creates says so
//! in its code and name, and each batch is an audit entry that seals its rows: generated data
//! can never pass for reported figures, nor be changed unseen.

use chrono::{DateTime, Duration, NaiveDate, SubsecRound, Utc};
use entity::values::{AgencyKind, MetricKind, Qualifier, ReportingPeriod, Scale, Unit};
use entity::{agency, metric, observation, observation_revision, source};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, Set, Statement, TransactionTrait,
};
use serde_json::json;

use super::access::Permission;
use super::audit::seal::{SealBuilder, Sealed};
use super::audit::{self, Action, Caller, Event, APPLIED};
use super::breakdown::AgencyGroup;
use super::recording::{check_figure, NewObservation};
use super::time::{start_of_day, VIETNAM};
use crate::error::ApiError;

/// The counters that get a daily reading per synthetic agency.
pub const COUNTERS: [&str; 3] = [
    "document-exchange-axis.documents-exchanged",
    "public-service-portal.dossiers-synchronised",
    "public-service-portal.dossiers-filed-online",
];
/// The synthetic flow metric: dossiers filed online per month.
pub const FLOW_METRIC: &str = "demo.public-service-portal.dossiers-filed-per-month";
pub const DEMO_SOURCE: &str = "demo-generator";
/// The most rows one generation writes: beyond the scale the project is measured at, a typo.
pub const MAX_ROWS: u64 = 50_000_000;
/// Days of history generated per series, ending before the first reported figure's year.
pub const DAYS: i64 = 730;
const FIRST_DAY: (i32, u32, u32) = (2019, 1, 1);

/// What a generation added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generated {
    pub agencies: usize,
    pub observations: u64,
}

/// A small, seedable generator, so that a demonstration can be repeated exactly.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }
}

/// One generated reading, ready to be written.
struct Row {
    metric_id: i32,
    agency_id: i32,
    observed_at: DateTime<Utc>,
    period_start: Option<DateTime<Utc>>,
    value: u64,
}

/// What every generated reading says it is quoted from.
const QUOTE: &str = "synthetic";

impl Row {
    /// The row, if it meets the rules every recorded figure meets.
    fn checked(self, metric: &metric::Model, now: DateTime<Utc>) -> Result<Self, ApiError> {
        let figure = NewObservation {
            metric: String::new(),
            agency: None,
            observed_at: self.observed_at,
            period_start: self.period_start,
            value: Decimal::from(self.value),
            qualifier: Qualifier::Exact,
            denominator: None,
            source: String::new(),
            quote: QUOTE.to_owned(),
            note: None,
            line: None,
        };
        check_figure(&figure, metric, now).map_err(ApiError::invalid_items)?;
        Ok(self)
    }
}

/// The months real units get synthetic figures for, across the 2025 changes.
const REAL_UNITS_FROM: (i32, u32) = (2023, 1);
const REAL_UNITS_MONTHS: u32 = 36;

pub async fn generate(
    db: &DatabaseConnection,
    caller: &Caller,
    rows: u64,
    seed: u64,
    real_units: bool,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Generated, ApiError> {
    caller.principal.require(Permission::Administer)?;
    if rows == 0 || rows > MAX_ROWS {
        return Err(ApiError::bad_input(
            "rows",
            crate::message!(DEMO_ROWS, max = MAX_ROWS, rows = rows),
        ));
    }
    let (counters, flow, source_id) = prepare(db).await?;
    // Each synthetic agency gets DAYS daily readings of each counter and a flow a month.
    let months = (DAYS / 30) as u64;
    let per_agency = DAYS as u64 * counters.len() as u64 + months;
    let agencies = rows.div_ceil(per_agency) as usize;
    let agency_ids = synthetic_agencies(db, agencies).await?;

    let first = NaiveDate::from_ymd_opt(FIRST_DAY.0, FIRST_DAY.1, FIRST_DAY.2).expect("a date");
    let now = Utc::now();
    let mut random = Random(seed.max(1));
    let mut written = 0u64;
    let mut batch = Vec::with_capacity(10_000);
    if real_units {
        // Every province and ministry in force through a month gets that month's flow, so that
        // breakdowns across the 2025 changes have something to show: 63 units, then 34.
        let units: Vec<agency::Model> = agency::Entity::find()
            .order_by_asc(agency::Column::Code)
            .all(db)
            .await?
            .into_iter()
            .filter(|a| AgencyGroup::ALL.iter().any(|g| g.includes(a)))
            .collect();
        let first_month =
            NaiveDate::from_ymd_opt(REAL_UNITS_FROM.0, REAL_UNITS_FROM.1, 1).expect("a date");
        'months: for offset in 0..REAL_UNITS_MONTHS {
            let month_start = first_month + chrono::Months::new(offset);
            let next = month_start + chrono::Months::new(1);
            let last_day = next - Duration::days(1);
            for unit in units
                .iter()
                .filter(|u| u.valid_on(month_start) && u.valid_on(last_day))
            {
                if batch.len() as u64 >= rows {
                    break 'months;
                }
                let row = Row {
                    metric_id: flow.id,
                    agency_id: unit.id,
                    observed_at: start_of_day(next, VIETNAM),
                    period_start: Some(start_of_day(month_start, VIETNAM)),
                    value: 100 + random.below(5_000),
                };
                batch.push(row.checked(&flow, now)?);
            }
        }
    }
    'agencies: for &agency_id in &agency_ids {
        for counter in &counters {
            let mut total = 1_000 + random.below(100_000);
            for day in 0..DAYS {
                if written + batch.len() as u64 >= rows {
                    break 'agencies;
                }
                total += random.below(500);
                let row = Row {
                    metric_id: counter.id,
                    agency_id,
                    observed_at: start_of_day(first + Duration::days(day), VIETNAM),
                    period_start: None,
                    value: total,
                };
                batch.push(row.checked(counter, now)?);
            }
        }
        let mut month_start = first;
        for _ in 0..months {
            if written + batch.len() as u64 >= rows {
                break 'agencies;
            }
            let next = month_start + chrono::Months::new(1);
            let row = Row {
                metric_id: flow.id,
                agency_id,
                observed_at: start_of_day(next, VIETNAM),
                period_start: Some(start_of_day(month_start, VIETNAM)),
                value: 100 + random.below(5_000),
            };
            batch.push(row.checked(&flow, now)?);
            month_start = next;
        }
        if batch.len() >= 5_000 {
            written += write(db, caller, source_id, &std::mem::take(&mut batch)).await?;
            progress(written);
        }
    }
    written += write(db, caller, source_id, &batch).await?;
    progress(written);

    let txn = audit::begin_write(db).await?;
    audit::append(
        &txn,
        caller,
        APPLIED,
        Event::new(
            Action::GenerateDemoData,
            None,
            json!({ "observations": written, "agencies": agency_ids.len(), "seed": seed, "synthetic": true }),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(Generated {
        agencies: agency_ids.len(),
        observations: written,
    })
}

/// The counters, the synthetic flow metric and the synthetic source's id, created if missing.
async fn prepare(
    db: &DatabaseConnection,
) -> Result<(Vec<metric::Model>, metric::Model, i32), ApiError> {
    let mut counters = Vec::new();
    for code in COUNTERS {
        counters.push(super::catalog::load_metric(db, code).await?);
    }
    let portal = super::catalog::load_platform(db, "public-service-portal").await?;
    let flow = match metric::Entity::find()
        .filter(metric::Column::Code.eq(FLOW_METRIC))
        .one(db)
        .await?
    {
        Some(existing) => existing,
        None => {
            metric::ActiveModel {
                platform_id: Set(Some(portal.id)),
                code: Set(FLOW_METRIC.to_owned()),
                name_vi: Set("Hồ sơ trực tuyến mỗi tháng (dữ liệu mô phỏng)".to_owned()),
                name_en: Set("Dossiers filed online per month (synthetic)".to_owned()),
                unit: Set(Unit::Dossiers),
                scale: Set(Scale::One),
                kind: Set(MetricKind::Flow),
                // Each month's figure due within 15 days, as a reporting calendar would say.
                reporting_period: Set(Some(ReportingPeriod::Month)),
                reporting_due_days: Set(Some(15)),
                ..Default::default()
            }
            .insert(db)
            .await?
        }
    };
    let source_id = match source::Entity::find()
        .filter(source::Column::Code.eq(DEMO_SOURCE))
        .one(db)
        .await?
    {
        Some(existing) => existing.id,
        None => {
            source::ActiveModel {
                code: Set(DEMO_SOURCE.to_owned()),
                file_name: Set("(none: generated by egov-kpi demo-data)".to_owned()),
                title: Set(Some("Synthetic demonstration data".to_owned())),
                outlet: Set("egov-kpi demo-data".to_owned()),
                outlet_inferred: Set(false),
                published_on: Set(None),
                published_on_inferred: Set(false),
                language: Set("en".to_owned()),
                ..Default::default()
            }
            .insert(db)
            .await?
            .id
        }
    };
    Ok((counters, flow, source_id))
}

/// Creates synthetic agencies `demo-unit-0001`…; every call makes new ones, so that generations
/// never write a second reading for the same series and instant.
async fn synthetic_agencies(db: &DatabaseConnection, count: usize) -> Result<Vec<i32>, ApiError> {
    let existing = agency::Entity::find()
        .filter(agency::Column::Code.starts_with("demo-unit-"))
        .all(db)
        .await?
        .len();
    let txn = db.begin().await?;
    let mut ids = Vec::with_capacity(count);
    for n in existing + 1..=existing + count {
        let created = agency::ActiveModel {
            code: Set(format!("demo-unit-{n:04}")),
            name_vi: Set(format!("Đơn vị mô phỏng {n:04}")),
            name_en: Set(format!("Synthetic unit {n:04}")),
            kind: Set(AgencyKind::Province),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        ids.push(created.id);
    }
    txn.commit().await?;
    Ok(ids)
}

/// The text form sea-orm gives instants, so that SQLite's text comparisons order them right.
fn timestamp(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
}

/// Writes one batch with its revisions, and an audit entry that seals them; returns how many
/// observations it wrote.
async fn write(
    db: &DatabaseConnection,
    caller: &Caller,
    source_id: i32,
    rows: &[Row],
) -> Result<u64, ApiError> {
    const PER_STATEMENT: usize = 500;
    if rows.is_empty() {
        return Ok(0);
    }
    let recorded_at = Utc::now().trunc_subsecs(6);
    let txn = audit::begin_write(db).await?;
    // The chain's head is held: no other write takes ids until this one commits.
    let first_observation = next_id(&txn, "observation").await?;
    let first_revision = next_id(&txn, "observation_revision").await?;
    let mut seal = SealBuilder::default();
    // Values are numbers and fixed strings made here, never input: inlining them is safe and
    // lets both databases take hundreds of rows per statement.
    for (chunk_index, chunk) in rows.chunks(PER_STATEMENT).enumerate() {
        let mut observations = Vec::with_capacity(chunk.len());
        let mut revisions = Vec::with_capacity(chunk.len());
        for (offset, row) in chunk.iter().enumerate() {
            let n = (chunk_index * PER_STATEMENT + offset) as i32;
            let observation = observation::Model {
                id: first_observation + n,
                metric_id: row.metric_id,
                agency_id: Some(row.agency_id),
                observed_at: row.observed_at,
                period_start: row.period_start,
                synthetic: true,
            };
            let revision = observation_revision::Model {
                id: first_revision + n,
                observation_id: observation.id,
                revision: 1,
                value: Decimal::from(row.value),
                qualifier: Qualifier::Exact,
                denominator: None,
                source_id,
                quote: QUOTE.to_owned(),
                note: None,
                recorded_at,
                recorded_by: "demo-data".to_owned(),
                reason: None,
                superseded_at: None,
                retracted: false,
            };
            seal.add(
                revision.id,
                Sealed {
                    observation: &observation,
                    revision: &revision,
                }
                .hash(),
            );
            let period = observation
                .period_start
                .map_or("NULL".to_owned(), |p| format!("'{}'", timestamp(p)));
            observations.push(format!(
                "({}, {}, {}, '{}', {period}, TRUE)",
                observation.id,
                observation.metric_id,
                row.agency_id,
                timestamp(observation.observed_at)
            ));
            revisions.push(format!(
                "({}, {}, 1, {}, 'exact', NULL, {source_id}, 'synthetic', NULL, '{}', 'demo-data', NULL, NULL, FALSE)",
                revision.id,
                revision.observation_id,
                row.value,
                timestamp(recorded_at)
            ));
        }
        txn.execute_unprepared(&format!(
            "INSERT INTO observation (id, metric_id, agency_id, observed_at, period_start, synthetic) VALUES {}",
            observations.join(", ")
        ))
        .await?;
        txn.execute_unprepared(&format!(
            "INSERT INTO observation_revision (id, observation_id, revision, value, qualifier, denominator, source_id, quote, note, recorded_at, recorded_by, reason, superseded_at, retracted) VALUES {}",
            revisions.join(", ")
        ))
        .await?;
    }
    if txn.get_database_backend() == DbBackend::Postgres {
        // Ids were given, not drawn: move the sequences past them.
        for table in ["observation", "observation_revision"] {
            txn.execute_unprepared(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
            ))
            .await?;
        }
    }
    let event = Event::new(
        Action::WriteDemoData,
        None,
        json!({ "observations": rows.len(), "synthetic": true }),
    )
    .sealing(seal.finish().expect("the batch is not empty"));
    audit::append(&txn, caller, APPLIED, event).await?;
    txn.commit().await?;
    Ok(rows.len() as u64)
}

/// The id after the highest in `table`.
async fn next_id(db: &impl ConnectionTrait, table: &str) -> Result<i32, ApiError> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) AS last FROM {table}"),
        ))
        .await?
        .ok_or_else(|| ApiError::from(sea_orm::DbErr::RecordNotFound(format!("{table} ids"))))?;
    let last = row.try_get::<i64>("", "last")?;
    i32::try_from(last + 1)
        .map_err(|_| ApiError::from(sea_orm::DbErr::Custom(format!("{table} ids are exhausted"))))
}

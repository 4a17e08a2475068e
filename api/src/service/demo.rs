//! Synthetic history for demonstrations and load: daily readings of growing counters for many
//! synthetic agencies, and monthly flows, so that charts and queries can be tried at scale.
//!
//! Every row it writes is marked `synthetic`, every agency, metric and source it creates says so
//! in its code and name, and the load is one entry in the audit log: generated data can never
//! pass for reported figures. PostgreSQL takes the rows by `COPY`; SQLite by batched inserts.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use entity::values::{AgencyKind, MetricKind, Scale, Unit};
use entity::{agency, metric, source};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    QueryFilter, Set, Statement, TransactionTrait,
};
use serde_json::json;

use super::audit::{self, Caller, Event, APPLIED};
use super::auth::Permission;
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

pub async fn generate(
    db: &DatabaseConnection,
    caller: &Caller,
    rows: u64,
    seed: u64,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Generated, ApiError> {
    caller.principal.require(Permission::Administer)?;
    if rows == 0 || rows > MAX_ROWS {
        return Err(ApiError::bad_input(
            "rows",
            format!("generate from 1 to {MAX_ROWS} rows (got {rows})"),
        ));
    }
    let (counters, flow, source_id) = prepare(db).await?;
    // Each synthetic agency gets DAYS daily readings of each counter and a flow a month.
    let months = (DAYS / 30) as u64;
    let per_agency = DAYS as u64 * counters.len() as u64 + months;
    let agencies = rows.div_ceil(per_agency) as usize;
    let agency_ids = synthetic_agencies(db, agencies).await?;

    let first = NaiveDate::from_ymd_opt(FIRST_DAY.0, FIRST_DAY.1, FIRST_DAY.2).expect("a date");
    let mut random = Random(seed.max(1));
    let mut written = 0u64;
    let mut batch = Vec::with_capacity(10_000);
    'agencies: for &agency_id in &agency_ids {
        for &metric_id in &counters {
            let mut total = 1_000 + random.below(100_000);
            for day in 0..DAYS {
                if written + batch.len() as u64 >= rows {
                    break 'agencies;
                }
                total += random.below(500);
                batch.push(Row {
                    metric_id,
                    agency_id,
                    observed_at: start_of_day(first + Duration::days(day), VIETNAM),
                    period_start: None,
                    value: total,
                });
            }
        }
        let mut month_start = first;
        for _ in 0..months {
            if written + batch.len() as u64 >= rows {
                break 'agencies;
            }
            let next = month_start + chrono::Months::new(1);
            batch.push(Row {
                metric_id: flow,
                agency_id,
                observed_at: start_of_day(next, VIETNAM),
                period_start: Some(start_of_day(month_start, VIETNAM)),
                value: 100 + random.below(5_000),
            });
            month_start = next;
        }
        if batch.len() >= 5_000 {
            written += write(db, source_id, &std::mem::take(&mut batch)).await?;
            progress(written);
        }
    }
    written += write(db, source_id, &batch).await?;
    progress(written);

    let txn = audit::begin_write(db).await?;
    audit::append(
        &txn,
        caller,
        APPLIED,
        Event::new(
            "demo-data.generate",
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

/// The counters' ids, the synthetic flow metric and the synthetic source, created if missing.
async fn prepare(db: &DatabaseConnection) -> Result<(Vec<i32>, i32, i32), ApiError> {
    let mut counters = Vec::new();
    for code in COUNTERS {
        counters.push(super::catalog::metric_by_code(db, code).await?.id);
    }
    let portal = super::catalog::platform_by_code(db, "public-service-portal").await?;
    let flow = match metric::Entity::find()
        .filter(metric::Column::Code.eq(FLOW_METRIC))
        .one(db)
        .await?
    {
        Some(existing) => existing.id,
        None => {
            metric::ActiveModel {
                platform_id: Set(portal.id),
                code: Set(FLOW_METRIC.to_owned()),
                name_vi: Set("Hồ sơ trực tuyến mỗi tháng (dữ liệu mô phỏng)".to_owned()),
                name_en: Set("Dossiers filed online per month (synthetic)".to_owned()),
                unit: Set(Unit::Dossiers),
                scale: Set(Scale::One),
                kind: Set(MetricKind::Flow),
                ..Default::default()
            }
            .insert(db)
            .await?
            .id
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

/// Writes one batch with its revisions; returns how many observations it wrote.
async fn write(db: &DatabaseConnection, source_id: i32, rows: &[Row]) -> Result<u64, ApiError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let recorded_at = timestamp(Utc::now());
    match db.get_database_backend() {
        DbBackend::Postgres => copy_postgres(db, source_id, rows, &recorded_at).await,
        _ => insert_batched(db, source_id, rows, &recorded_at).await,
    }
}

async fn next_observation_id(db: &impl ConnectionTrait) -> Result<i64, ApiError> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) AS last FROM observation",
        ))
        .await?
        .ok_or_else(|| ApiError::from(sea_orm::DbErr::RecordNotFound("observation ids".into())))?;
    Ok(row.try_get::<i64>("", "last")? + 1)
}

async fn copy_postgres(
    db: &DatabaseConnection,
    source_id: i32,
    rows: &[Row],
    recorded_at: &str,
) -> Result<u64, ApiError> {
    use sea_orm::sqlx::{self, Row as _};
    let failed = |e: sqlx::Error| ApiError::from(sea_orm::DbErr::Custom(e.to_string()));
    // One transaction for the lock, the ids and both copies: all of a batch or none of it.
    let mut txn = db
        .get_postgres_connection_pool()
        .begin()
        .await
        .map_err(failed)?;
    sqlx::query("UPDATE audit_head SET sequence = sequence WHERE id = 1")
        .execute(&mut *txn)
        .await
        .map_err(failed)?;
    let first_id: i64 =
        sqlx::query("SELECT COALESCE(MAX(id), 0)::BIGINT + 1 AS next FROM observation")
            .fetch_one(&mut *txn)
            .await
            .map_err(failed)?
            .try_get("next")
            .map_err(failed)?;
    let mut observations = String::with_capacity(rows.len() * 64);
    let mut revisions = String::with_capacity(rows.len() * 96);
    for (offset, row) in rows.iter().enumerate() {
        let id = first_id + offset as i64;
        let period = row.period_start.map(timestamp).unwrap_or_default();
        observations.push_str(&format!(
            "{id},{},{},{},{period},true\n",
            row.metric_id,
            row.agency_id,
            timestamp(row.observed_at)
        ));
        revisions.push_str(&format!(
            "{id},1,{},exact,,{source_id},synthetic,,{recorded_at},demo-data,,,false\n",
            row.value
        ));
    }
    for (table, columns, data) in [
        ("observation", "id, metric_id, agency_id, observed_at, period_start, synthetic", observations),
        (
            "observation_revision",
            "observation_id, revision, value, qualifier, denominator, source_id, quote, note, recorded_at, recorded_by, reason, superseded_at, retracted",
            revisions,
        ),
    ] {
        let mut copy = txn
            .copy_in_raw(&format!("COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)"))
            .await
            .map_err(failed)?;
        copy.send(data.as_bytes()).await.map_err(failed)?;
        copy.finish().await.map_err(failed)?;
    }
    sqlx::query("SELECT setval(pg_get_serial_sequence('observation', 'id'), (SELECT MAX(id) FROM observation))")
        .execute(&mut *txn)
        .await
        .map_err(failed)?;
    txn.commit().await.map_err(failed)?;
    Ok(rows.len() as u64)
}

async fn insert_batched(
    db: &DatabaseConnection,
    source_id: i32,
    rows: &[Row],
    recorded_at: &str,
) -> Result<u64, ApiError> {
    let txn = audit::begin_write(db).await?;
    let first_id = next_observation_id(&txn).await?;
    // Values are numbers and fixed strings made here, never input: inlining them is safe and
    // lets SQLite take hundreds of rows per statement.
    for (chunk_index, chunk) in rows.chunks(500).enumerate() {
        let base = first_id + (chunk_index * 500) as i64;
        let observations: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(offset, row)| {
                let period = row
                    .period_start
                    .map_or("NULL".to_owned(), |p| format!("'{}'", timestamp(p)));
                format!(
                    "({}, {}, {}, '{}', {period}, 1)",
                    base + offset as i64,
                    row.metric_id,
                    row.agency_id,
                    timestamp(row.observed_at)
                )
            })
            .collect();
        txn.execute_unprepared(&format!(
            "INSERT INTO observation (id, metric_id, agency_id, observed_at, period_start, synthetic) VALUES {}",
            observations.join(", ")
        ))
        .await?;
        let revisions: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(offset, row)| {
                format!(
                    "({}, 1, {}, 'exact', NULL, {source_id}, 'synthetic', NULL, '{recorded_at}', 'demo-data', NULL, NULL, 0)",
                    base + offset as i64,
                    row.value
                )
            })
            .collect();
        txn.execute_unprepared(&format!(
            "INSERT INTO observation_revision (observation_id, revision, value, qualifier, denominator, source_id, quote, note, recorded_at, recorded_by, reason, superseded_at, retracted) VALUES {}",
            revisions.join(", ")
        ))
        .await?;
    }
    txn.commit().await?;
    Ok(rows.len() as u64)
}

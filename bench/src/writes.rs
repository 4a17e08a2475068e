//! Loading rows through the GraphQL write API and through `egov-kpi import`, against two floors:
//! a bare PostgreSQL `COPY` of the same rows into egov-kpi's own tables (what storing them costs
//! the database, with its indexes and keys) and into an unindexed table (what the pipe carries).

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sqlx::PgPool;
use serde_json::{json, Value};

/// A level metric (no counter rule, so rows at distinct instants are all valid) for one province:
/// the national series the dashboard queries read stay as they were, run after run.
pub const METRIC: &str = "public-service-portal.online-services";
pub const AGENCY: &str = "ninh-binh";
const SOURCE: &str = "article-001";

/// The ids the COPY floors write: the benchmark's metric and province, and its source.
#[derive(Clone, Copy)]
pub struct Series {
    metric_id: i32,
    agency_id: i32,
    source_id: i32,
}

impl Series {
    pub async fn find(pool: &PgPool) -> anyhow::Result<Self> {
        let id = |sql: &'static str, code: &'static str| {
            sea_orm::sqlx::query_scalar::<_, i32>(sql)
                .bind(code)
                .fetch_one(pool)
        };
        Ok(Self {
            metric_id: id("SELECT id FROM metric WHERE code = $1", METRIC).await?,
            agency_id: id("SELECT id FROM agency WHERE code = $1", AGENCY).await?,
            source_id: id("SELECT id FROM source WHERE code = $1", SOURCE).await?,
        })
    }
}

/// The instants the rows describe: one minute apart from 1991 on, after any earlier run's.
pub async fn first_free_instant(pool: &PgPool) -> anyhow::Result<DateTime<Utc>> {
    let taken: i64 = sea_orm::sqlx::query_scalar(
        "SELECT count(*) FROM observation o JOIN metric m ON m.id = o.metric_id \
         JOIN agency a ON a.id = o.agency_id WHERE m.code = $1 AND a.code = $2",
    )
    .bind(METRIC)
    .bind(AGENCY)
    .fetch_one(pool)
    .await?;
    Ok("1991-01-01T00:00:00Z".parse::<DateTime<Utc>>()? + TimeDelta::minutes(taken))
}

fn instant(base: DateTime<Utc>, i: usize) -> String {
    (base + TimeDelta::minutes(i as i64)).to_rfc3339()
}

/// Rows through `recordObservations`, `batch` items per request, one request at a time.
pub async fn through_api(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    base: DateTime<Utc>,
    rows: usize,
    batch: usize,
) -> anyhow::Result<Duration> {
    // Requests are built before the clock starts, as the COPY data is.
    let requests: Vec<String> = (0..rows)
        .step_by(batch)
        .map(|first| {
            let items: Vec<Value> = (first..(first + batch).min(rows))
                .map(|i| {
                    json!({
                        "metric": METRIC,
                        "agency": AGENCY,
                        "observedAt": instant(base, i),
                        "value": (1000 + i).to_string(),
                        "source": SOURCE,
                        "quote": "benchmark row",
                    })
                })
                .collect();
            json!({
                "query": "mutation($items: [ObservationInput!]!) { recordObservations(input: $items) { checked } }",
                "variables": { "items": items },
            })
            .to_string()
        })
        .collect();
    let started = Instant::now();
    for request in &requests {
        let response: Value = client
            .post(url)
            .bearer_auth(key)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(request.clone())
            .send()
            .await?
            .json()
            .await?;
        ensure!(
            response["errors"].is_null(),
            "the write API refused a batch: {}",
            response["errors"]
        );
    }
    Ok(started.elapsed())
}

/// Records one figure every `interval` through the write API, as provinces reporting while
/// dashboards read would, until the task is aborted; `recorded` counts them.
pub async fn trickle(
    client: reqwest::Client,
    url: String,
    key: String,
    pool: PgPool,
    interval: Duration,
    recorded: Arc<AtomicUsize>,
) -> anyhow::Result<()> {
    let base = first_free_instant(&pool).await?;
    let mut ticks = tokio::time::interval(interval);
    loop {
        ticks.tick().await;
        let next = recorded.load(Ordering::Relaxed);
        let at = base + TimeDelta::minutes(next as i64);
        through_api(&client, &url, &key, at, 1, 1).await?;
        recorded.fetch_add(1, Ordering::Relaxed);
    }
}

/// The same kind of rows as a CSV file through `egov-kpi import`.
pub fn through_import(
    binary: &Path,
    database_url: &str,
    work: &Path,
    base: DateTime<Utc>,
    rows: usize,
) -> anyhow::Result<Duration> {
    let file = work.join("bench-import.csv");
    let mut csv = String::from("metric,agency,observed_at,value,source,quote\n");
    for i in 0..rows {
        csv.push_str(&format!(
            "{METRIC},{AGENCY},{},{},{SOURCE},benchmark row\n",
            instant(base, i),
            1000 + i
        ));
    }
    std::fs::write(&file, csv)?;
    let started = Instant::now();
    let output = std::process::Command::new(binary)
        .arg("import")
        .arg(&file)
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .output()
        .with_context(|| format!("running {}", binary.display()))?;
    let elapsed = started.elapsed();
    ensure!(
        output.status.success(),
        "the import failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(elapsed)
}

async fn copy_in(
    connection: &mut sea_orm::sqlx::PgConnection,
    statement: &str,
    data: &str,
    rows: usize,
) -> anyhow::Result<()> {
    let mut copy = connection.copy_in_raw(statement).await?;
    copy.send(data.as_bytes()).await?;
    let copied = copy.finish().await?;
    ensure!(copied as usize == rows, "COPY took {copied} of {rows} rows");
    Ok(())
}

/// The first floor: the same rows by `COPY` into `observation` and `observation_revision`, with
/// every index and foreign key they have, ids drawn from their sequence. What the API and the
/// import add on top (validation, the audit chain, RETURNING) is theirs. The transaction is
/// rolled back so that the data stays as it was.
pub async fn copy_into_tables(
    pool: &PgPool,
    series: &Series,
    base: DateTime<Utc>,
    rows: usize,
) -> anyhow::Result<Duration> {
    let Series {
        metric_id,
        agency_id,
        source_id,
    } = *series;
    let mut transaction = pool.begin().await?;
    let now = Utc::now().to_rfc3339();
    let ids: Vec<i32> = sea_orm::sqlx::query_scalar(
        "SELECT nextval(pg_get_serial_sequence('observation', 'id'))::int \
         FROM generate_series(1, $1)",
    )
    .bind(rows as i32)
    .fetch_all(&mut *transaction)
    .await?;
    let observations: String = (0..rows)
        .map(|i| {
            format!(
                "{},{metric_id},{agency_id},{},,false\n",
                ids[i],
                instant(base, i)
            )
        })
        .collect();
    let revisions: String = (0..rows)
        .map(|i| {
            format!(
                "{},1,{},exact,,{source_id},benchmark row,,{now},bench,,,false\n",
                ids[i],
                1000 + i
            )
        })
        .collect();
    // The clock runs for the COPY alone, as for the unindexed table.
    let started = Instant::now();
    copy_in(
        &mut transaction,
        "COPY observation (id, metric_id, agency_id, observed_at, period_start, synthetic) \
         FROM STDIN WITH (FORMAT csv)",
        &observations,
        rows,
    )
    .await?;
    copy_in(
        &mut transaction,
        "COPY observation_revision (observation_id, revision, value, qualifier, denominator, \
         source_id, quote, note, recorded_at, recorded_by, reason, superseded_at, retracted) \
         FROM STDIN WITH (FORMAT csv)",
        &revisions,
        rows,
    )
    .await?;
    let elapsed = started.elapsed();
    transaction.rollback().await?;
    Ok(elapsed)
}

/// The second floor: the same rows, the columns an observation and its revision hold, by `COPY`
/// into a temporary table without indexes, constraints or audit (and without a write-ahead log).
pub async fn copy_into_bare_table(
    pool: &PgPool,
    series: &Series,
    base: DateTime<Utc>,
    rows: usize,
) -> anyhow::Result<Duration> {
    let Series {
        metric_id,
        agency_id,
        source_id,
    } = *series;
    let mut connection = pool.acquire().await?;
    sea_orm::sqlx::query(
        "CREATE TEMP TABLE bench_copy (metric_id int, agency_id int, observed_at timestamptz, \
         period_start timestamptz, synthetic boolean, value numeric(21,6), qualifier varchar(16), \
         denominator numeric(21,6), source_id int, quote text, note text, \
         recorded_at timestamptz, recorded_by text)",
    )
    .execute(&mut *connection)
    .await?;
    let now = Utc::now().to_rfc3339();
    let data: String = (0..rows)
        .map(|i| {
            format!(
            "{metric_id},{agency_id},{},,false,{},exact,,{source_id},benchmark row,,{now},bench\n",
            instant(base, i),
            1000 + i
        )
        })
        .collect();
    let started = Instant::now();
    copy_in(
        &mut connection,
        "COPY bench_copy FROM STDIN WITH (FORMAT csv)",
        &data,
        rows,
    )
    .await?;
    let elapsed = started.elapsed();
    sea_orm::sqlx::query("DROP TABLE bench_copy")
        .execute(&mut *connection)
        .await?;
    Ok(elapsed)
}

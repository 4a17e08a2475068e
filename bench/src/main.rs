//! `egov-kpi-bench`: egov-kpi measured against its floors on one machine and one dataset, with
//! the results written as Markdown. `bench/run.sh` prepares the data and the server and runs it.

mod dashboard;
mod floor;
mod hostile;
mod load;
mod writes;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Context};
use clap::{Parser, Subcommand};
use sea_orm::sqlx::PgPool;

use load::{millis, Stats};

/// Rounds of the write measurements; the median is reported.
const WRITE_ROUNDS: usize = 3;
/// Where the minimal handlers listen.
const FLOOR_PORT: u16 = 18791;
/// How often a figure is recorded while the as-deployed server is measured under writes.
const TRICKLE: Duration = Duration::from_millis(100);

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs every measurement against a running egov-kpi server and writes the report.
    Run(RunArgs),
    /// Sends one query from concurrent clients for a while and prints its latency and rate.
    Load {
        #[arg(long, default_value = "http://127.0.0.1:18790/graphql")]
        url: String,
        #[arg(long)]
        query: String,
        #[arg(long, default_value_t = 8)]
        clients: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Honest dashboards alone and beside attackers sending the worst request of each class.
    Hostile(hostile::HostileArgs),
    /// Only the write paths against `COPY` (the `run` section), appended to a report.
    Writes(WritesArgs),
    /// Serves a fixed payload, and the dashboard queries' SQL, from minimal axum handlers
    /// (started by `run`).
    Floor {
        #[arg(long)]
        port: u16,
        #[arg(long)]
        payload: PathBuf,
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
        #[arg(long)]
        connections: u32,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// The egov-kpi server's GraphQL endpoint.
    #[arg(long, default_value = "http://127.0.0.1:18790/graphql")]
    url: String,
    /// The PostgreSQL database the server uses.
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// The server's process id, to read its peak memory.
    #[arg(long)]
    server_pid: u32,
    /// A second server on the same database with the response cache turned off.
    #[arg(long, default_value = "http://127.0.0.1:18792/graphql")]
    uncached_url: String,
    #[arg(long)]
    uncached_pid: u32,
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Seconds per measured operation.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    #[command(flatten)]
    writes: WriteOptions,
    #[arg(long, default_value = "bench/RESULTS.md")]
    out: PathBuf,
    /// Measure only the dashboard queries whose name holds this text, and nothing else: for
    /// trying a change, not for the report.
    #[arg(long, env = "ONLY")]
    only: Option<String>,
}

/// How the write paths are loaded, by `run` and by `writes` alike.
#[derive(clap::Args)]
struct WriteOptions {
    /// A reporter key for the write API.
    #[arg(long)]
    key: String,
    /// The egov-kpi binary, for the import.
    #[arg(long, default_value = "target/release/egov-kpi")]
    egov_kpi: PathBuf,
    /// Rows loaded by each of the write API, the import and COPY.
    #[arg(long, default_value_t = 20_000)]
    write_rows: usize,
    /// Items per write API request.
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
}

#[derive(clap::Args)]
struct WritesArgs {
    #[arg(long, default_value = "http://127.0.0.1:18790/graphql")]
    url: String,
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    #[command(flatten)]
    writes: WriteOptions,
    /// The report this section is appended to.
    #[arg(long)]
    out: PathBuf,
}

async fn writes_only(args: WritesArgs) -> anyhow::Result<()> {
    let pool = dashboard::sql_pool(&args.database_url, 2).await?;
    let work = std::env::temp_dir().join(format!("egov-kpi-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let load = WriteLoad {
        url: &args.url,
        database_url: &args.database_url,
        work: &work,
        options: &args.writes,
    };
    let (mut report, mut verdicts) = (String::new(), Vec::new());
    measure_writes(
        &pool,
        &reqwest::Client::new(),
        &load,
        &mut report,
        &mut verdicts,
    )
    .await?;
    std::fs::remove_dir_all(&work).ok();
    writeln!(report, "\nVerdicts:\n")?;
    for verdict in &verdicts {
        writeln!(report, "- {verdict}")?;
    }
    let mut out = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&args.out)?;
    std::io::Write::write_all(&mut out, report.as_bytes())?;
    println!("{report}");
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Floor {
            port,
            payload,
            database_url,
            connections,
        } => {
            let payload = std::fs::read_to_string(payload)?;
            floor::serve(port, payload, &database_url, connections).await
        }
        Command::Run(args) => run(args).await,
        Command::Hostile(args) => hostile::run(args).await,
        Command::Writes(args) => writes_only(args).await,
        Command::Load {
            url,
            query,
            clients,
            seconds,
        } => {
            let client = reqwest::Client::new();
            dashboard::graphql(&client, &url, &query).await?;
            let duration = Duration::from_secs(seconds);
            let stats = dashboard::graphql_load(&client, &url, &query, clients, duration).await;
            println!(
                "clients | p50 | p95 | p99 | req/s | errors\n{}",
                row(&stats)
            );
            Ok(())
        }
    }
}

fn row(stats: &Stats) -> String {
    format!(
        "{} | {} | {} | {} | {:.0} | {}",
        stats.clients,
        millis(stats.p50),
        millis(stats.p95),
        millis(stats.p99),
        stats.throughput(),
        stats.errors
    )
}

async fn scalar(pool: &PgPool, sql: &'static str) -> anyhow::Result<i64> {
    Ok(sea_orm::sqlx::query_scalar(sql).fetch_one(pool).await?)
}

/// CPU seconds a process has used (user and system), from /proc (in USER_HZ ticks of 1/100 s).
fn cpu_seconds(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The command name may hold spaces: count fields after its closing parenthesis.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds used so far by every PostgreSQL process on the machine.
fn postgres_cpu_seconds() -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|pid| pid.chars().all(|c| c.is_ascii_digit()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|name| name.trim() == "postgres")
        })
        .map(|pid| cpu_seconds(&pid))
        .sum()
}

/// Where a run's CPU went per request, in ms: the process that answered over HTTP (none when the
/// benchmark queried PostgreSQL itself), the benchmark's own client, and PostgreSQL.
struct CpuPerRequest {
    server: Option<f64>,
    client: f64,
    postgres: f64,
}

impl CpuPerRequest {
    async fn measure<F: std::future::Future<Output = Stats>>(
        server: Option<u32>,
        run: F,
    ) -> (Stats, Self) {
        let server = server.map(|pid| pid.to_string());
        let server_before = server.as_deref().map(cpu_seconds);
        let (client_before, postgres_before) = (cpu_seconds("self"), postgres_cpu_seconds());
        let stats = run.await;
        let per_request = |seconds: f64| seconds * 1000.0 / stats.requests.max(1) as f64;
        let cpu = Self {
            server: server
                .as_deref()
                .zip(server_before)
                .map(|(pid, before)| per_request(cpu_seconds(pid) - before)),
            client: per_request(cpu_seconds("self") - client_before),
            postgres: per_request(postgres_cpu_seconds() - postgres_before),
        };
        (stats, cpu)
    }

    fn cells(&self) -> String {
        let server = self.server.map_or("–".to_owned(), |ms| format!("{ms:.3}"));
        format!("{server} | {:.3} | {:.3}", self.client, self.postgres)
    }
}

/// Rounds of the cache-off comparison taken in turns, and how long each side runs in a round.
/// A round's server CPU a request varies by a tenth either way on a shared two-core machine,
/// and five rounds left the median of a verdict near its target to chance.
const ALTERNATED_ROUNDS: usize = 9;
/// How far the small queries' server CPU and p50, cache off, may be from the minimal handler's.
const HANDLER_TARGET: f64 = 1.3;
const ALTERNATED_ROUND: Duration = Duration::from_secs(3);

/// One side's run in a round: its latencies and where the CPU went.
type Measured<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = (Stats, CpuPerRequest)> + Send + 'a>>;

/// The sides of a cache-off comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Egov,
    Sql,
    SqlOverHttp,
    /// egov-kpi's service layer behind the minimal handler: egov-kpi without GraphQL.
    Service,
}

impl Side {
    const ALL: [Side; 4] = [Side::Egov, Side::Sql, Side::SqlOverHttp, Side::Service];
}

/// The cache-off server, the SQL, the SQL over HTTP and, where the floor has it, the service
/// layer without GraphQL, measured in turns, so that the machine's drift between windows falls
/// on all alike.
struct Alternated {
    /// Per round: each side's p50 and server CPU per request, at `side as usize` (a p50 of NaN
    /// for a side not measured).
    rounds: Vec<[(f64, Option<f64>); 4]>,
}

impl Alternated {
    async fn measure<F, Fut>(rounds: usize, sides: &[Side], mut run: F) -> Self
    where
        F: FnMut(Side) -> Fut,
        Fut: std::future::Future<Output = (Stats, CpuPerRequest)>,
    {
        let mut measured = Vec::with_capacity(rounds);
        for round in 0..rounds {
            let mut measures = [(f64::NAN, None); 4];
            for turn in 0..sides.len() {
                let side = sides[(round + turn) % sides.len()];
                let (stats, cpu) = run(side).await;
                measures[side as usize] = (stats.p50.as_secs_f64() * 1000.0, cpu.server);
            }
            measured.push(measures);
        }
        Self { rounds: measured }
    }

    fn ratios(&self, baseline: Side) -> Vec<f64> {
        let mut ratios: Vec<f64> = self
            .rounds
            .iter()
            .map(|sides| sides[Side::Egov as usize].0 / sides[baseline as usize].0)
            .filter(|ratio| !ratio.is_nan())
            .collect();
        ratios.sort_by(f64::total_cmp);
        ratios
    }

    fn median_ratio(&self, baseline: Side) -> f64 {
        median(&self.ratios(baseline))
    }

    fn ratio_range(&self, baseline: Side) -> String {
        let ratios = self.ratios(baseline);
        format!(
            "{:.2}–{:.2}",
            ratios.first().copied().unwrap_or(f64::NAN),
            ratios.last().copied().unwrap_or(f64::NAN)
        )
    }

    fn median_of(&self, side: Side, value: impl Fn((f64, Option<f64>)) -> Option<f64>) -> f64 {
        let mut values: Vec<f64> = self
            .rounds
            .iter()
            .filter_map(|sides| value(sides[side as usize]).filter(|v| !v.is_nan()))
            .collect();
        values.sort_by(f64::total_cmp);
        median(&values)
    }

    /// Whether egov-kpi's server CPU per request and p50 are within [`HANDLER_TARGET`] of the
    /// minimal handler's, the same SQL behind HTTP.
    fn against_handler(&self, name: &str) -> String {
        let cpu = |side| self.median_of(side, |(_, cpu)| cpu);
        let (server, handler) = (cpu(Side::Egov), cpu(Side::SqlOverHttp));
        let cpu_ratio = server / handler;
        let p50_ratio = self.median_ratio(Side::SqlOverHttp);
        let met = cpu_ratio <= HANDLER_TARGET && p50_ratio <= HANDLER_TARGET;
        format!(
            "{name} (cache off against the minimal handler, alternating rounds: {}): server CPU \
             {cpu_ratio:.2}× the handler's ({server:.3} against {handler:.3} ms a request), p50 \
             {p50_ratio:.2}× the SQL over HTTP's, the median of {} rounds ({}); {HANDLER_TARGET}× \
             asked of each",
            if met { "met" } else { "NOT met" },
            self.rounds.len(),
            self.ratio_range(Side::SqlOverHttp),
        )
    }

    fn row(&self, name: &str) -> String {
        let p50 = |side| self.median_of(side, |(p50, _)| Some(p50));
        let cpu = |side| self.median_of(side, |(_, cpu)| cpu);
        let or_dash = |value: f64, text: String| {
            if value.is_nan() {
                "–".to_owned()
            } else {
                text
            }
        };
        let service = p50(Side::Service);
        format!(
            "| {name} | {:.2} | {:.2} | {:.2} | {:.2}× ({}) | {:.2}× ({}) | {:.3} | {:.3} | {} | {} |",
            p50(Side::Egov),
            p50(Side::Sql),
            p50(Side::SqlOverHttp),
            self.median_ratio(Side::Sql),
            self.ratio_range(Side::Sql),
            self.median_ratio(Side::SqlOverHttp),
            self.ratio_range(Side::SqlOverHttp),
            cpu(Side::Egov),
            cpu(Side::SqlOverHttp),
            or_dash(
                service,
                format!(
                    "{service:.2} ({:.2}×, {})",
                    self.median_ratio(Side::Service),
                    self.ratio_range(Side::Service)
                )
            ),
            or_dash(service, format!("{:.3}", cpu(Side::Service))),
        )
    }
}

fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// The columns `CpuPerRequest::cells` fills.
const CPU_COLUMNS: &str = "server CPU ms/req | client CPU ms/req | PostgreSQL CPU ms/req";

fn peak_memory_mb(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kilobytes: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .context("VmHWM in /proc/PID/status")?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?;
    Ok(kilobytes / 1024.0)
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let pool = dashboard::sql_pool(&args.database_url, args.clients as u32 + 1).await?;
    let client = reqwest::Client::new();
    let duration = Duration::from_secs(args.seconds);
    let mut report = String::new();
    let mut verdicts = Vec::new();

    let observations = scalar(&pool, "SELECT count(*) FROM observation").await?;
    let synthetic = scalar(&pool, "SELECT count(*) FROM observation WHERE synthetic").await?;
    let revisions = scalar(&pool, "SELECT count(*) FROM observation_revision").await?;
    let agencies = scalar(&pool, "SELECT count(*) FROM agency").await?;
    let version: String = sea_orm::sqlx::query_scalar("SHOW server_version")
        .fetch_one(&pool)
        .await?;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    writeln!(
        report,
        "# egov-kpi benchmark\n\n\
         Measured {} with `bench/run.sh` (release build). Machine: {cores} cores, PostgreSQL \
         {version}; the load clients, the server and PostgreSQL share the cores.\n\n\
         Data: {observations} observations ({synthetic} synthetic, from `egov-kpi demo-data`), \
         {revisions} revisions, {agencies} agencies.\n\n\
         Each operation runs for {} s from {} concurrent clients after a warm-up, each client \
         sending its next request when the last is answered. Latencies in milliseconds.\n",
        chrono::Utc::now().format("%Y-%m-%d"),
        args.seconds,
        args.clients
    )?;

    let simple = "{ platforms { code } }";
    let payload =
        serde_json::json!({ "data": dashboard::graphql(&client, &args.url, simple).await? });
    let work = std::env::temp_dir().join(format!("egov-kpi-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let payload_file = work.join("payload.json");
    std::fs::write(&payload_file, payload.to_string())?;
    let floor = floor::Process::start(
        FLOOR_PORT,
        &payload_file,
        &args.database_url,
        args.clients as u32 + 1,
    )?;
    floor.wait_until_answering(&client).await?;

    writeln!(
        report,
        "## Dashboard queries: GraphQL over HTTP against hand-written SQL\n\n\
         The SQL computes the same answer (checked before timing) and runs on a plain `sqlx` \
         pool (which, like egov-kpi's, does not ping a connection before each use), with no \
         HTTP, no JSON and no GraphQL. It is measured a second time behind a \
         minimal axum handler that runs it and returns its rows as JSON (`SQL over HTTP`): \
         what HTTP alone adds on this machine, with no GraphQL and no ORM. egov-kpi is measured \
         three times: as deployed, where repeated queries are answered from the response cache \
         until a write retires them; the same while a figure is recorded through the write API \
         every {} ms, each write retiring every kept answer (`N writes/s`, the rate reached); \
         and with the cache turned off, every request executed against the database. Each \
         egov-kpi row says which share of its requests the cache answered, from the server's \
         `/metrics`.\n\n\
         Target: egov-kpi's p50 within 1.5× of the SQL's, as deployed; for the breakdown over \
         all provinces and the line per province, with the cache off too. The other cache-off \
         rows are measured beside it, not judged by it: they show what each cache miss costs, \
         and `SQL over HTTP` shows what any server that runs the SQL for each request starts \
         from on this machine.\n\n\
         The last three columns say where the CPU went, per request: the server that answered \
         over HTTP (egov-kpi, or the minimal handler), the benchmark's own client (HTTP and JSON; \
         for SQL, the `sqlx` pool), and PostgreSQL. The clients, the servers and PostgreSQL \
         share the cores, so the p50 follows the sum of the three.\n\n\
         | query | side | clients | p50 | p95 | p99 | req/s | errors | {CPU_COLUMNS} |\n\
         |---|---|---|---|---|---|---|---|---|---|---|",
        TRICKLE.as_millis()
    )?;
    let url = args.url.clone();
    let uncached_url = args.uncached_url.clone();
    dashboard::define_measures(&client, &url, &args.writes.key).await?;
    let mut alternated_rows = Vec::new();
    for (n, pair) in dashboard::pairs().into_iter().enumerate() {
        if args
            .only
            .as_ref()
            .is_some_and(|only| !pair.name.contains(only.as_str()))
        {
            continue;
        }
        eprintln!("{}", pair.name);
        let answer = dashboard::graphql(&client, &url, &pair.graphql).await?;
        let from_graphql = (pair.from_graphql)(&answer);
        let from_sql = dashboard::canonical_rows(dashboard::sql(&pool, pair.sql).await?);
        ensure!(
            !from_graphql.is_empty() && from_graphql == from_sql,
            "{}: the SQL answers differently\n GraphQL: {from_graphql:?}\n SQL:     {from_sql:?}",
            pair.name
        );
        let over_http = floor.sql_url(n);
        let from_floor = dashboard::canonical_rows(floor::rows(
            &dashboard::graphql(&client, &over_http, "").await?,
        ));
        ensure!(
            from_floor == from_sql,
            "{}: the SQL over HTTP answers differently: {from_floor:?}",
            pair.name
        );
        // egov-kpi's service layer without GraphQL writes the same answer as the server.
        let service = floor.service_url(n);
        if pair.service.is_some() {
            let from_service =
                (pair.from_graphql)(&dashboard::graphql(&client, &service, "").await?);
            ensure!(
                from_service == from_graphql,
                "{}: the service layer answers differently: {from_service:?}",
                pair.name
            );
        }
        // Each egov-kpi run also says which share of its requests the response cache answered.
        let measure = |server: &str, pid: u32| {
            let run =
                dashboard::graphql_load(&client, server, &pair.graphql, args.clients, duration);
            let (client, server) = (client.clone(), server.to_owned());
            async move {
                let hits_before = dashboard::cache_hits(&client, &server).await?;
                let (stats, cpu) = CpuPerRequest::measure(Some(pid), run).await;
                let hits = dashboard::cache_hits(&client, &server).await? - hits_before;
                // The warm-up's hits are counted too: a fully cached run may pass 100% by a few.
                let share = (hits as f64 / stats.requests.max(1) as f64).min(1.0);
                anyhow::Ok((stats, cpu, format!("{:.1}% from the cache", share * 100.0)))
            }
        };
        let (cached, cached_cpu, cached_hits) = measure(&url, args.server_pid).await?;
        let (cold, cold_cpu, cold_hits) = measure(&uncached_url, args.uncached_pid).await?;
        // As deployed again, while figures are recorded: each write retires the kept answers.
        let recorded = Arc::new(AtomicUsize::new(0));
        let writer = tokio::spawn(writes::trickle(
            client.clone(),
            url.clone(),
            args.writes.key.clone(),
            pool.clone(),
            TRICKLE,
            recorded.clone(),
        ));
        let measured_under_writes = measure(&url, args.server_pid).await;
        writer.abort();
        // A writer that stopped by itself failed; one still running was cancelled.
        if let Ok(Err(error)) = writer.await {
            return Err(error.context("recording figures while measuring"));
        }
        let (written_to, written_to_cpu, written_to_hits) = measured_under_writes?;
        let written = recorded.load(Ordering::Relaxed);
        let under_writes = format!(
            "egov-kpi, as deployed, {:.0} writes/s ({written_to_hits})",
            written as f64 / duration.as_secs_f64()
        );
        let cached_side = format!("egov-kpi, as deployed ({cached_hits})");
        let cold_side = format!("egov-kpi, cache off ({cold_hits})");
        let run = dashboard::sql_load(&pool, pair.sql, args.clients, duration);
        let (direct, direct_cpu) = CpuPerRequest::measure(None, run).await;
        let run = dashboard::graphql_load(&client, &over_http, "", args.clients, duration);
        let (http, http_cpu) = CpuPerRequest::measure(Some(floor.pid()), run).await;
        let ratio = |stats: &Stats| stats.p50.as_secs_f64() / direct.p50.as_secs_f64();
        let lines = [
            (
                pair.name.to_owned(),
                cached_side.as_str(),
                &cached,
                &cached_cpu,
            ),
            (
                String::new(),
                under_writes.as_str(),
                &written_to,
                &written_to_cpu,
            ),
            (String::new(), cold_side.as_str(), &cold, &cold_cpu),
            (
                format!("({} rows)", from_sql.len()),
                "SQL",
                &direct,
                &direct_cpu,
            ),
            (String::new(), "SQL over HTTP", &http, &http_cpu),
        ];
        for (name, side, stats, cpu) in lines {
            writeln!(
                report,
                "| {name} | {side} | {} | {} |",
                row(stats),
                cpu.cells()
            )?;
        }
        let met = |stats: &Stats| {
            if ratio(stats) <= 1.5 {
                "met"
            } else {
                "NOT met"
            }
        };
        for (label, stats) in [
            ("as deployed", &cached),
            ("as deployed, under writes", &written_to),
        ] {
            verdicts.push(format!(
                "{} ({label}): p50 {:.2}× the SQL's ({})",
                pair.name,
                ratio(stats),
                met(stats)
            ));
        }
        let cache_off = if pair.judged_cache_off {
            format!("cache off: {}", met(&cold))
        } else {
            "cache off; no target, what each cache miss costs".to_owned()
        };
        verdicts.push(format!(
            "{} ({cache_off}): p50 {:.2}× the SQL's; the same SQL over HTTP takes {:.2}× the \
             SQL's, and egov-kpi {:.2}× that",
            pair.name,
            ratio(&cold),
            ratio(&http),
            cold.p50.as_secs_f64() / http.p50.as_secs_f64()
        ));

        let sides = if pair.service.is_some() {
            &Side::ALL[..]
        } else {
            &Side::ALL[..3]
        };
        let alternated = Alternated::measure(ALTERNATED_ROUNDS, sides, |side| -> Measured<'_> {
            let round = ALTERNATED_ROUND;
            match side {
                Side::Egov => Box::pin(CpuPerRequest::measure(
                    Some(args.uncached_pid),
                    dashboard::graphql_load(
                        &client,
                        &uncached_url,
                        &pair.graphql,
                        args.clients,
                        round,
                    ),
                )),
                Side::Sql => Box::pin(CpuPerRequest::measure(
                    None,
                    dashboard::sql_load(&pool, pair.sql, args.clients, round),
                )),
                Side::SqlOverHttp => Box::pin(CpuPerRequest::measure(
                    Some(floor.pid()),
                    dashboard::graphql_load(&client, &over_http, "", args.clients, round),
                )),
                Side::Service => Box::pin(CpuPerRequest::measure(
                    Some(floor.pid()),
                    dashboard::graphql_load(&client, &service, "", args.clients, round),
                )),
            }
        })
        .await;
        alternated_rows.push(alternated.row(pair.name));
        if pair.judged_against_handler {
            verdicts.push(alternated.against_handler(pair.name));
        }
        if pair.judged_cache_off {
            let median = alternated.median_ratio(Side::Sql);
            verdicts.push(format!(
                "{} (cache off, alternating rounds: {}): p50 {median:.2}× the SQL's, the median of \
                 {ALTERNATED_ROUNDS} rounds ({})",
                pair.name,
                if median <= 1.5 { "met" } else { "NOT met" },
                alternated.ratio_range(Side::Sql),
            ));
        }
    }
    writeln!(
        report,
        "\n## Cache off, in alternating rounds\n\n\
         Each window above is measured once, and this machine's speed drifts between windows a \
         few seconds apart (the same SQL's p50 has moved by half between runs). Here the \
         cache-off server, the SQL and the SQL over HTTP take turns in {ALTERNATED_ROUNDS} rounds \
         of {} s each, the order rotating every round, and each round's ratio compares windows \
         measured seconds apart: the median p50 of each side, the median and range of the \
         rounds' ratios, and the median server CPU per request.\n\n\
         For the two smallest queries a fourth side takes its turn: the same answer from \
         egov-kpi's own service layer (the reads, statements, held connections and decoding the \
         resolvers call), written as JSON with serde behind the minimal handler: egov-kpi \
         without its GraphQL executor. Its column gives its p50, egov-kpi's p50 over it, and \
         the range over the rounds.\n\n\
         | query | egov-kpi p50 | SQL p50 | SQL over HTTP p50 | egov-kpi / SQL | egov-kpi / SQL over HTTP | egov-kpi server CPU ms/req | minimal handler CPU ms/req | service without GraphQL p50 (egov-kpi / it) | service without GraphQL CPU ms/req |\n\
         |---|---|---|---|---|---|---|---|---|---|",
        ALTERNATED_ROUND.as_secs()
    )?;
    for row in &alternated_rows {
        writeln!(report, "{row}")?;
    }

    if args.only.is_some() {
        return finish(report, &verdicts, &args.out, &work);
    }

    eprintln!("cost steps");
    writeln!(
        report,
        "\n## Where a cold request's time goes\n\n\
         Queries that each add one kind of work, sent to the server with the response cache off, \
         and the cheapest statement through the benchmark's `sqlx` pool. CPU per request as \
         above.\n\n\
         | step | query | clients | p50 | p95 | p99 | req/s | errors | {CPU_COLUMNS} |\n\
         |---|---|---|---|---|---|---|---|---|---|---|"
    )?;
    for (step, query) in dashboard::COST_STEPS {
        let run = dashboard::graphql_load(&client, &uncached_url, query, args.clients, duration);
        let (stats, cpu) = CpuPerRequest::measure(Some(args.uncached_pid), run).await;
        writeln!(
            report,
            "| {step} | `{query}` | {} | {} |",
            row(&stats),
            cpu.cells()
        )?;
    }
    let run = dashboard::sql_load(&pool, dashboard::TRIVIAL_STATEMENT, args.clients, duration);
    let (stats, cpu) = CpuPerRequest::measure(None, run).await;
    writeln!(
        report,
        "| one statement through `sqlx`, no HTTP | `{}` | {} | {} |",
        dashboard::TRIVIAL_STATEMENT,
        row(&stats),
        cpu.cells()
    )?;

    eprintln!("simple query");
    let simple_load =
        |server: &str| dashboard::graphql_load(&client, server, simple, args.clients, duration);
    let ours = simple_load(&url).await;
    let ours_cold = simple_load(&uncached_url).await;
    let minimal = simple_load(&floor.url).await;
    drop(floor);
    let share = |stats: &Stats| stats.throughput() / minimal.throughput();
    writeln!(
        report,
        "\n## A simple query against a minimal axum handler\n\n\
         `{simple}` against an axum handler (own process) returning the same bytes. Target: \
         egov-kpi at least half the handler's throughput.\n\n\
         | server | clients | p50 | p95 | p99 | req/s | errors |\n|---|---|---|---|---|---|---|\n\
         | egov-kpi, as deployed | {} |\n| egov-kpi, cache off | {} |\n| minimal axum | {} |",
        row(&ours),
        row(&ours_cold),
        row(&minimal)
    )?;
    for (label, stats) in [("as deployed", &ours), ("cache off", &ours_cold)] {
        verdicts.push(format!(
            "simple query ({label}): {:.2} of the minimal handler's throughput ({})",
            share(stats),
            if share(stats) >= 0.5 {
                "met"
            } else {
                "NOT met"
            }
        ));
    }

    eprintln!("writes");
    let load = WriteLoad {
        url: &url,
        database_url: &args.database_url,
        work: &work,
        options: &args.writes,
    };
    measure_writes(&pool, &client, &load, &mut report, &mut verdicts).await?;

    let peak = peak_memory_mb(args.server_pid)?.max(peak_memory_mb(args.uncached_pid)?);
    writeln!(
        report,
        "\n## Server memory\n\nPeak resident memory of the egov-kpi servers over the whole run \
         (VmHWM, the larger of the two): {peak:.1} MB. Target: below 200 MB at 10M rows."
    )?;
    verdicts.push(format!(
        "peak server memory {peak:.1} MB at {observations} observations ({})",
        if peak < 200.0 { "met" } else { "NOT met" }
    ));

    finish(report, &verdicts, &args.out, &work)
}

/// Ends the report with its verdicts, writes it and clears the scratch folder.
fn finish(
    mut report: String,
    verdicts: &[String],
    out: &std::path::Path,
    work: &std::path::Path,
) -> anyhow::Result<()> {
    writeln!(report, "\n## Verdicts\n")?;
    for verdict in verdicts {
        writeln!(report, "- {verdict}")?;
    }
    std::fs::write(out, &report)?;
    std::fs::remove_dir_all(work).ok();
    println!("{report}");
    Ok(())
}

/// Where the write paths are measured: the server, its database, a scratch folder, and how.
struct WriteLoad<'a> {
    url: &'a str,
    database_url: &'a str,
    work: &'a std::path::Path,
    options: &'a WriteOptions,
}

/// The write API and the import against two bare `COPY` floors, as a report section and verdicts.
async fn measure_writes(
    pool: &PgPool,
    client: &reqwest::Client,
    load: &WriteLoad<'_>,
    report: &mut String,
    verdicts: &mut Vec<String>,
) -> anyhow::Result<()> {
    let series = writes::Series::find(pool).await?;
    let rows = load.options.write_rows;
    // Rounds interleave the four paths, so that a slow moment of the shared machine falls on all
    // of them; each path's median round is reported.
    let mut rounds: [Vec<Duration>; 4] = Default::default();
    for _ in 0..WRITE_ROUNDS {
        let base = writes::first_free_instant(pool).await?;
        rounds[0].push(
            writes::through_api(
                client,
                load.url,
                &load.options.key,
                base,
                rows,
                load.options.batch,
            )
            .await?,
        );
        let base = writes::first_free_instant(pool).await?;
        rounds[1].push(writes::through_import(
            &load.options.egov_kpi,
            load.database_url,
            load.work,
            base,
            rows,
        )?);
        let base = writes::first_free_instant(pool).await?;
        rounds[2].push(writes::copy_into_tables(pool, &series, base, rows).await?);
        rounds[3].push(writes::copy_into_bare_table(pool, &series, base, rows).await?);
    }
    let [api, import, into_tables, into_bare_table] = rounds.map(|mut times| {
        times.sort();
        times[times.len() / 2]
    });
    let rate = |elapsed: Duration| rows as f64 / elapsed.as_secs_f64();
    writeln!(
        report,
        "\n## Loading rows against a bare COPY\n\n\
         {rows} rows each (one province's figure per minute), the median of {WRITE_ROUNDS} rounds. The write API and the import validate \
         every row, store an observation and its first revision, chain one audit entry per row and \
         read back what they stored. The floor is a bare `COPY` of the same rows, measured two \
         ways: into egov-kpi's own `observation` and `observation_revision` (every index and \
         foreign key they have; rolled back afterwards), and into an unindexed temporary table \
         with the same columns, which writes no log. Target: at least a third of COPY's rate; \
         the first floor is the one the verdict is judged against (same rows, same tables), the \
         second is shown so that the cost of the tables themselves is visible.\n\n\
         | path | seconds | rows/s | share of COPY into the tables | share of COPY into an unindexed table |\n\
         |---|---|---|---|---|"
    )?;
    let paths = [
        (
            format!(
                "write API (`recordObservations`, {} per request)",
                load.options.batch
            ),
            api,
        ),
        ("`egov-kpi import` (CSV)".to_owned(), import),
        (
            "`COPY` into `observation` and `observation_revision`".to_owned(),
            into_tables,
        ),
        (
            "`COPY` into an unindexed temporary table".to_owned(),
            into_bare_table,
        ),
    ];
    for (path, elapsed) in &paths {
        writeln!(
            report,
            "| {path} | {:.2} | {:.0} | {:.3} | {:.3} |",
            elapsed.as_secs_f64(),
            rate(*elapsed),
            rate(*elapsed) / rate(into_tables),
            rate(*elapsed) / rate(into_bare_table),
        )?;
    }
    for (path, elapsed) in [("write API", api), ("import", import)] {
        let share = rate(elapsed) / rate(into_tables);
        verdicts.push(format!(
            "{path}: {share:.3} of the rate of COPY into the tables ({})",
            if share >= 1.0 / 3.0 { "met" } else { "NOT met" }
        ));
        verdicts.push(format!(
            "{path} (no target, what the tables themselves cost): {:.3} of the rate of COPY \
             into an unindexed table",
            rate(elapsed) / rate(into_bare_table)
        ));
    }

    Ok(())
}

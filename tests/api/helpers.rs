//! A real server on a random port with a fresh database, and a client that talks HTTP to it.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use api::config::{AuditSettings, DatabaseSettings, Limits, ServerSettings};
use api::service::audit::Caller;
use api::startup::{self, Application};
use chrono::{DateTime, Utc};
use entity::values::{Qualifier, Role};
use entity::{metric, observation, observation_revision, source};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set,
};
use serde_json::{json, Value};

/// Where PostgreSQL is reached to create a database per test.
pub fn postgres_admin_url() -> String {
    std::env::var("EGOV_KPI_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Removes the test's database when the test ends, passed or not.
enum Scratch {
    SqliteFile(PathBuf),
    PostgresDatabase(String),
}

impl Drop for Scratch {
    fn drop(&mut self) {
        match self {
            Scratch::SqliteFile(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Scratch::PostgresDatabase(name) => {
                let name = name.clone();
                // The test's runtime is shutting down: drop the database from a runtime of its own.
                let _ = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("runtime");
                    runtime.block_on(async {
                        if let Ok(admin) = sea_orm::Database::connect(postgres_admin_url()).await {
                            let _ = admin
                                .execute_unprepared(&format!(
                                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                                ))
                                .await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

/// Removes the test's signing key and witness file when the test ends.
struct KeyDirectory(PathBuf);

impl Drop for KeyDirectory {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct TestApp {
    pub address: String,
    /// The key that signs the audit chain's checkpoints (none for an unanchored server); its
    /// public half is beside it, at `<key>.pub`.
    pub signing_key: Option<PathBuf>,
    _key_directory: Option<KeyDirectory>,
    /// For running the command line against the same database.
    pub database_url: String,
    pub client: reqwest::Client,
    /// The server's database, for arranging data no API writes yet and for checking storage.
    pub db: DatabaseConnection,
    statements: Arc<AtomicUsize>,
    _scratch: Option<Scratch>,
}

impl TestApp {
    /// Starts the real application, migrated and seeded, on a database of its own.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with_limits(backend, Limits::default()).await
    }

    /// The same, with other request limits.
    pub async fn spawn_with_limits(backend: Backend, limits: Limits) -> Self {
        Self::spawn_configured(backend, limits, 0, true).await
    }

    /// The same, with no signing key: nothing anchors the audit chain.
    pub async fn spawn_unanchored(backend: Backend) -> Self {
        Self::spawn_configured(backend, Limits::default(), 0, false).await
    }

    /// The same, answering repeated queries from the response cache as a deployed server does.
    /// (Other tests turn it off: they arrange data behind the server's back, which no cache
    /// could notice.)
    pub async fn spawn_with_cache(backend: Backend) -> Self {
        Self::spawn_configured(backend, Limits::default(), 60_000, true).await
    }

    async fn spawn_configured(
        backend: Backend,
        limits: Limits,
        response_cache_ms: u64,
        anchored: bool,
    ) -> Self {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let (database_url, scratch) = match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("egov-kpi-test-{unique}.db"));
                (
                    format!("sqlite://{}?mode=rwc", path.display()),
                    Scratch::SqliteFile(path),
                )
            }
            Backend::Postgres => {
                let name = format!("egov_kpi_test_{unique}");
                let admin = sea_orm::Database::connect(postgres_admin_url())
                    .await
                    .unwrap_or_else(|e| {
                        panic!(
                            "PostgreSQL is not reachable at {} ({e}); the PostgreSQL tests need it",
                            postgres_admin_url()
                        )
                    });
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("create the test database");
                let (base, _) = postgres_admin_url()
                    .rsplit_once('/')
                    .map(|(base, db)| (base.to_owned(), db.to_owned()))
                    .expect("the admin URL names a database");
                (format!("{base}/{name}"), Scratch::PostgresDatabase(name))
            }
        };
        Self::start(
            database_url,
            Some(scratch),
            limits,
            response_cache_ms,
            anchored,
        )
        .await
    }

    /// Starts the application on a database someone else created (and will remove).
    pub async fn spawn_at(database_url: String) -> Self {
        Self::start(database_url, None, Limits::default(), 0, true).await
    }

    async fn start(
        database_url: String,
        scratch: Option<Scratch>,
        limits: Limits,
        response_cache_ms: u64,
        anchored: bool,
    ) -> Self {
        let key_directory = anchored.then(|| {
            let directory = std::env::temp_dir().join(format!(
                "egov-kpi-test-keys-{}",
                uuid::Uuid::new_v4().simple()
            ));
            std::fs::create_dir_all(&directory).expect("a directory for the signing key");
            KeyDirectory(directory)
        });
        let signing_key = key_directory.as_ref().map(|directory| {
            let path = directory.0.join("signing.key");
            api::service::audit::anchor::generate_key(&path).expect("a signing key");
            path
        });
        let settings = DatabaseSettings {
            database_url,
            max_connections: 5,
            acquire_timeout_seconds: 3,
        };
        let database_url = settings.database_url.clone();
        let mut db = api::db::connect(&settings).await.expect("connect");
        let statements = Arc::new(AtomicUsize::new(0));
        let counter = statements.clone();
        // The live feed reads the audit log on its own schedule: only the rest is the requests'.
        db.set_metric_callback(move |info| {
            if !info.statement.sql.contains("audit_") {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        });
        startup::prepare(&db, true).await.expect("migrate and seed");

        let server = ServerSettings {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            seed: false,
            public_read: true,
            response_cache_ms,
            limits,
            audit: AuditSettings {
                audit_signing_key: signing_key.clone(),
                ..AuditSettings::default()
            },
        };
        let app = Application::with_database(db.clone(), &server)
            .await
            .expect("bind");
        let address = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        TestApp {
            address,
            signing_key,
            _key_directory: key_directory,
            database_url,
            client: reqwest::Client::new(),
            db,
            statements,
            _scratch: scratch,
        }
    }

    /// Sends a GraphQL request and returns the whole response body.
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        self.graphql_with_language(query, variables, None).await
    }

    /// A plain GET of one of the server's paths.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("the server answers")
    }

    /// Posts a raw body; returns the status, the content type and the body as JSON (null if none).
    pub async fn post_raw(
        &self,
        content_type: &str,
        accept: &str,
        body: Vec<u8>,
    ) -> (u16, String, Value) {
        let response = self
            .client
            .post(format!("{}/graphql", self.address))
            .header("content-type", content_type)
            .header("accept", accept)
            .body(body)
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        let media = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = response.text().await.unwrap_or_default();
        (
            status,
            media,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }

    /// Sends a GraphQL request with an API key; returns the HTTP status and the body.
    pub async fn graphql_as(&self, key: &str, query: &str, variables: Value) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}/graphql", self.address))
            .bearer_auth(key)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        (status, response.json().await.expect("a JSON body"))
    }

    /// Creates an API key as the operator at the command line would.
    pub async fn key(&self, role: Role, agency: Option<&str>) -> String {
        let request = api::service::auth::NewKey {
            name: format!("test {role:?} {}", uuid::Uuid::new_v4().simple()),
            role,
            agency: agency.map(str::to_owned),
            platform: None,
            expires_at: None,
        };
        api::service::auth::create_key(&self.db, &Caller::command_line("test"), request)
            .await
            .expect("a key")
            .secret
    }

    /// Runs the `egov-kpi` binary against this app's database.
    /// Runs the `egov-kpi` binary against this app's database, with its signing key.
    pub fn command(&self, args: &[&str]) -> std::process::Output {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_egov-kpi"));
        command
            .args(args)
            .env("DATABASE_URL", &self.database_url)
            .env("RUST_LOG", "warn")
            .env_remove("EGOV_KPI_AUDIT_SIGNING_KEY");
        if let Some(key) = &self.signing_key {
            command.env("EGOV_KPI_AUDIT_SIGNING_KEY", key);
        }
        command.output().expect("the egov-kpi binary runs")
    }

    /// The public key of the app's signing key, hex.
    pub fn public_key(&self) -> String {
        let key = self.signing_key.as_ref().expect("an anchored app");
        let path = api::service::audit::anchor::public_key_path(key);
        std::fs::read_to_string(path)
            .expect("the public key")
            .trim()
            .to_owned()
    }

    pub async fn graphql_with_language(
        &self,
        query: &str,
        variables: Value,
        accept_language: Option<&str>,
    ) -> Value {
        self.ask(query, variables, accept_language, None).await.1
    }

    /// A request in `accept_language` (none: no header), with `key` if given: status and body.
    pub async fn ask(
        &self,
        query: &str,
        variables: Value,
        accept_language: Option<&str>,
        key: Option<&str>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.address))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(language) = accept_language {
            request = request.header("accept-language", language);
        }
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        (status, response.json().await.expect("a JSON body"))
    }

    /// The `data` of a response that must have no errors.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.graphql(query, variables).await;
        assert!(
            body.get("errors").is_none(),
            "unexpected errors: {}",
            body["errors"]
        );
        body["data"].clone()
    }

    /// The first error of a response that must fail, as (code, message).
    pub async fn error(&self, query: &str, variables: Value) -> (String, String) {
        let body = self.graphql(query, variables).await;
        let error = &body["errors"][0];
        assert!(!error.is_null(), "expected an error, got {body}");
        (
            error["extensions"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            error["message"].as_str().unwrap_or_default().to_owned(),
        )
    }

    /// The one integer a query of the server's database gives (a count, an id, a sequence).
    pub async fn scalar(&self, sql: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                self.db.get_database_backend(),
                sql,
            ))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .unwrap_or_else(|| panic!("a row for {sql}"));
        row.try_get_by_index::<i64>(0)
            .or_else(|_| row.try_get_by_index::<i32>(0).map(i64::from))
            .unwrap_or_else(|e| panic!("an integer from {sql}: {e}"))
    }

    /// SQL statements the server has run so far for requests (not the live feed's reads of the
    /// audit log).
    pub fn statements(&self) -> usize {
        self.statements.load(Ordering::SeqCst)
    }

    /// Stores a reading directly in the database, as no write API exists for it yet.
    pub async fn store_reading(&self, reading: Reading<'_>) -> i32 {
        let metric = metric::Entity::find()
            .filter(metric::Column::Code.eq(reading.metric))
            .one(&self.db)
            .await
            .unwrap()
            .expect("known metric");
        let source = source::Entity::find()
            .filter(source::Column::Code.eq("article-001"))
            .one(&self.db)
            .await
            .unwrap()
            .expect("seeded source");
        let stored = observation::ActiveModel {
            metric_id: Set(metric.id),
            agency_id: Set(None),
            observed_at: Set(reading.observed_at.parse().unwrap()),
            period_start: Set(reading.period_start.map(|t| t.parse().unwrap())),
            synthetic: Set(false),
            ..Default::default()
        }
        .insert(&self.db)
        .await
        .unwrap();
        observation_revision::ActiveModel {
            observation_id: Set(stored.id),
            revision: Set(1),
            value: Set(reading.value.parse().unwrap()),
            qualifier: Set(reading.qualifier),
            denominator: Set(None),
            source_id: Set(source.id),
            quote: Set("test reading".to_owned()),
            note: Set(None),
            recorded_at: Set(Utc::now()),
            recorded_by: Set("test".to_owned()),
            reason: Set(None),
            superseded_at: Set(None),
            ..Default::default()
        }
        .insert(&self.db)
        .await
        .unwrap();
        stored.id
    }

    /// Adds a metric to a seeded platform, for kinds the seed figures do not have.
    pub async fn add_metric(&self, code: &str, kind: entity::values::MetricKind) {
        let platform = entity::platform::Entity::find()
            .one(&self.db)
            .await
            .unwrap()
            .unwrap();
        metric::ActiveModel {
            platform_id: Set(platform.id),
            code: Set(code.to_owned()),
            name_vi: Set(code.to_owned()),
            name_en: Set(code.to_owned()),
            unit: Set(entity::values::Unit::Dossiers),
            scale: Set(entity::values::Scale::One),
            kind: Set(kind),
            ..Default::default()
        }
        .insert(&self.db)
        .await
        .unwrap();
    }
}

pub struct Reading<'a> {
    pub metric: &'a str,
    pub observed_at: &'a str,
    pub period_start: Option<&'a str>,
    pub value: &'a str,
    pub qualifier: Qualifier,
}

impl<'a> Reading<'a> {
    pub fn at(metric: &'a str, observed_at: &'a str, value: &'a str) -> Self {
        Self {
            metric,
            observed_at,
            period_start: None,
            value,
            qualifier: Qualifier::Exact,
        }
    }

    pub fn qualified(self, qualifier: Qualifier) -> Self {
        Self { qualifier, ..self }
    }

    pub fn since(self, period_start: &'a str) -> Self {
        Self {
            period_start: Some(period_start),
            ..self
        }
    }
}

pub fn decimal(value: &Value) -> Decimal {
    value
        .as_str()
        .unwrap_or_else(|| panic!("a decimal string, got {value}"))
        .parse()
        .unwrap()
}

pub fn instant(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .unwrap_or_else(|| panic!("a date-time string, got {value}"))
        .parse()
        .unwrap()
}

/// One figure to record, citing a seeded source.
pub fn figure(metric: &str, observed_at: &str, value: &str) -> Value {
    serde_json::json!({ "metric": metric, "observedAt": observed_at, "value": value, "source": "article-003", "quote": "trích dẫn" })
}

/// The value of an unlabelled metric the server at `address` exports on `/metrics`.
pub async fn exported_metric(address: &str, name: &str) -> u64 {
    let text = reqwest::get(format!("{address}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} is exported"))
}

/// Runs each test once on SQLite and once on PostgreSQL, each with a fresh, seeded database;
/// `on_both_databases!(spawn_with_cache; ...)` starts the servers another way.
#[macro_export]
macro_rules! on_both_databases {
    ($(async fn $name:ident($app:ident: TestApp) $body:block)*) => {
        $crate::on_both_databases!(spawn; $(async fn $name($app: TestApp) $body)*);
    };
    ($spawn:ident; $(async fn $name:ident($app:ident: TestApp) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($app: $crate::helpers::TestApp) $body

            #[tokio::test]
            async fn sqlite() {
                run($crate::helpers::TestApp::$spawn($crate::helpers::Backend::Sqlite).await).await
            }

            #[tokio::test]
            async fn postgres() {
                run($crate::helpers::TestApp::$spawn($crate::helpers::Backend::Postgres).await).await
            }
        }
    )*};
}

/// Every table's row count, to show that a refused request stored nothing.
pub async fn row_counts(db: &DatabaseConnection) -> std::collections::BTreeMap<&'static str, i64> {
    let mut counts = std::collections::BTreeMap::new();
    for table in [
        "platform",
        "agency",
        "metric",
        "source",
        "event",
        "target",
        "observation",
        "observation_revision",
        "audit_entry",
        "api_key",
        "idempotency_record",
    ] {
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .expect("count")
            .expect("a row");
        counts.insert(table, row.try_get::<i64>("", "n").expect("a count"));
    }
    counts
}

/// The egov-kpi binary serving a prepared database in a process of its own, so that a test can
/// read its memory; stopped when dropped.
pub struct ServerProcess {
    child: std::process::Child,
    pub address: String,
}

impl ServerProcess {
    /// Starts `egov-kpi serve` on `database_url` with extra environment settings, and waits
    /// until it answers.
    pub async fn start(database_url: &str, settings: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_egov-kpi"))
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("EGOV_KPI_PORT", port.to_string())
            .env("EGOV_KPI_SEED", "false")
            .env("EGOV_KPI_RESPONSE_CACHE_MS", "0")
            .env("RUST_LOG", "warn")
            .envs(settings.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the server starts");
        let process = Self {
            child,
            address: format!("http://127.0.0.1:{port}"),
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while reqwest::get(format!("{}/healthz", process.address))
            .await
            .is_err()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the server did not come up"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        process
    }

    /// The most memory the process has held, in MB (Linux's `VmHWM`).
    pub fn peak_memory_mb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the process status");
        let kilobytes: f64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM");
        kilobytes / 1024.0
    }
}

impl ServerProcess {
    /// Stops the server as an operator does (SIGTERM) and waits until it has exited.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let signalled = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(signalled.success());
        self.child.wait().expect("the server exits")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

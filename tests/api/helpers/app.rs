//! The real application on a random port, migrated and seeded, on a database of its own.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use api::config::{AuditSettings, DatabaseSettings, Limits, ServerSettings};
use api::startup::{self, Application};
use sea_orm::DatabaseConnection;

use super::database::{fresh_database, Backend, Scratch};

/// How a test's server differs from the default one.
#[derive(Debug, Clone)]
pub struct Options {
    pub limits: Limits,
    /// How long repeated answers are kept; 0 turns the response cache off.
    pub response_cache_ms: u64,
    /// With a signing key that anchors the audit chain.
    pub anchored: bool,
}

impl Default for Options {
    /// No response cache: most tests arrange data behind the server's back, which no cache
    /// could notice.
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            response_cache_ms: 0,
            anchored: true,
        }
    }
}

impl Options {
    /// Other request limits.
    pub fn limits(limits: Limits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Answers repeated queries from the response cache, as a deployed server does.
    pub fn cached() -> Self {
        Self {
            response_cache_ms: 60_000,
            ..Self::default()
        }
    }

    /// No signing key: nothing anchors the audit chain.
    pub fn unanchored() -> Self {
        Self {
            anchored: false,
            ..Self::default()
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
        Self::spawn_with(backend, Options::default()).await
    }

    /// The same, started another way.
    pub async fn spawn_with(backend: Backend, options: Options) -> Self {
        let (database_url, scratch) = fresh_database(backend).await;
        Self::start(database_url, Some(scratch), options).await
    }

    /// Starts the application on a database someone else created (and will remove).
    pub async fn spawn_at(database_url: String) -> Self {
        Self::start(database_url, None, Options::default()).await
    }

    async fn start(database_url: String, scratch: Option<Scratch>, options: Options) -> Self {
        let Options {
            limits,
            response_cache_ms,
            anchored,
        } = options;
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
        // The live feed reads the audit log, and the reference snapshot checks its tables' row
        // counts when the feed has seen the log move, each on its own schedule: only the rest is
        // the requests'.
        let count = move |sql: &str| {
            if !sql.contains("audit_") && sql != api::service::reference::ROW_COUNTS {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        };
        let count: Arc<dyn Fn(&str) + Send + Sync> = Arc::new(count);
        let counted = count.clone();
        db.set_metric_callback(move |info| counted(&info.statement.sql));
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
            replicas: Default::default(),
        };
        let app = Application::with_database(db.clone(), &server)
            .await
            .expect("bind");
        // Reads on connections held out of the pool are not seen by the pool's callback.
        app.observe_held_statements(Arc::new(move |statement| count(&statement.sql)));
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

    /// SQL statements the server has run so far for requests (not the live feed's reads of the
    /// audit log, nor the reference snapshot's check of its row counts).
    pub fn statements(&self) -> usize {
        self.statements.load(Ordering::SeqCst)
    }
}

//! A database per test, on SQLite or PostgreSQL, removed when the test ends.

use std::path::PathBuf;

use sea_orm::{ConnectionTrait, DatabaseConnection};

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
pub(super) enum Scratch {
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

/// A new, empty database for one test, and what removes it afterwards.
pub(super) async fn fresh_database(backend: Backend) -> (String, Scratch) {
    let unique = uuid::Uuid::new_v4().simple().to_string();
    match backend {
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
    }
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

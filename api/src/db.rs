//! Connecting to the database and bringing its schema up to date.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr};

use crate::config::DatabaseSettings;

pub async fn connect(settings: &DatabaseSettings) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(&settings.database_url);
    options
        .max_connections(settings.max_connections)
        .acquire_timeout(Duration::from_secs(settings.acquire_timeout_seconds))
        // A ping on every checkout doubles the round trips of a small query; a connection idle
        // long enough to have been dropped is still checked.
        .test_before_acquire_if_idle_for(Duration::from_secs(30))
        .sqlx_logging(false);
    let db = Database::connect(options).await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        // Readers do not wait for the writer.
        db.execute_unprepared("PRAGMA journal_mode = WAL").await?;
    }
    Ok(db)
}

/// A replica's pool, opened lazily: a replica down at start leaves the rotation, not the server.
pub async fn connect_replica(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(max_connections)
        // A replica that does not answer is passed over for the primary, quickly.
        .acquire_timeout(Duration::from_secs(1))
        .test_before_acquire_if_idle_for(Duration::from_secs(30))
        .connect_lazy(true)
        .sqlx_logging(false);
    let db = Database::connect(options).await?;
    if db.get_database_backend() != DbBackend::Postgres {
        return Err(DbErr::Custom(
            "a read replica must be a PostgreSQL database".into(),
        ));
    }
    Ok(db)
}

pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

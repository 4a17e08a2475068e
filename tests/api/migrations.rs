//! A database migrated before a migration gained what it has now reaches the same schema as a
//! fresh one.

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use crate::on_both_databases;

/// Every index of the database, with its definition.
async fn indexes(db: &DatabaseConnection) -> Vec<(String, String)> {
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => {
            "SELECT name, sql AS definition FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name"
        }
        _ => {
            "SELECT indexname AS name, indexdef AS definition FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname"
        }
    };
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .iter()
        .map(|row| {
            (
                row.try_get::<String>("", "name").unwrap(),
                row.try_get::<String>("", "definition").unwrap(),
            )
        })
        .collect()
}

on_both_databases! {
    async fn a_database_from_the_first_landed_scale_migration_reaches_the_same_indexes(app: TestApp) {
        let fresh = indexes(&app.db).await;
        assert!(fresh.iter().any(|(name, _)| name == "idx_observation_agency_time"));
        // Back to the state the first version of the scale migration left: without the two
        // indexes it gained after it had landed, nor any later migration.
        let later = Migrator::migrations()
            .iter()
            .rev()
            .take_while(|m| m.name() != "m20261126_000003_indexes_for_scale")
            .count();
        Migrator::down(&app.db, Some(later as u32)).await.unwrap();
        for index in ["idx_observation_national_time", "idx_observation_agency_time"] {
            app.db
                .execute_unprepared(&format!("DROP INDEX {index}"))
                .await
                .unwrap();
        }
        assert_ne!(indexes(&app.db).await, fresh);
        Migrator::up(&app.db, None).await.unwrap();
        assert_eq!(indexes(&app.db).await, fresh, "the upgraded schema is the fresh one");
    }

    async fn a_database_whose_national_index_was_not_replaced_is_settled_by_the_next_migration(app: TestApp) {
        let fresh = indexes(&app.db).await;
        assert!(fresh.iter().any(|(name, _)| name == "idx_observation_national_instant"));
        // A database where migration 000012 is recorded as run but left the index it replaces
        // in place and the new one missing: back before the step that settles it, then broken so.
        Migrator::down(&app.db, Some(1)).await.unwrap();
        assert_eq!(indexes(&app.db).await, fresh, "the settling step's down changes nothing");
        for statement in [
            "DROP INDEX idx_observation_national_instant",
            "CREATE INDEX idx_observation_national_time ON observation (metric_id, synthetic, observed_at, id) WHERE agency_id IS NULL",
        ] {
            app.db.execute_unprepared(statement).await.unwrap();
        }
        assert_ne!(indexes(&app.db).await, fresh);
        Migrator::up(&app.db, None).await.unwrap();
        assert_eq!(indexes(&app.db).await, fresh, "the settled schema is the fresh one");
    }
}

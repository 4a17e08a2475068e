//! Metrics of the e-government programme itself, tied to no platform: national outcomes (the
//! United Nations' index, the 2021 targets set for every ministry and locality) are not any one
//! platform's. `metric.platform_id` may be empty, and the metrics of the 2021 targets move there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The metrics the 2021 targets are set on, which the portal only delivers.
const NATIONAL: [&str; 3] = [
    "public-service-portal.level4-eligible-services-share",
    "public-service-portal.level4-online-users-per-offline-user",
    "public-service-portal.level4-online-dossier-rate",
];

const REQUIRED: &str = r#""platform_id" integer NOT NULL,"#;
const OPTIONAL: &str = r#""platform_id" integer NULL,"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_platform_required(manager, false).await?;
        manager
            .exec_stmt(
                Query::update()
                    .table(Metric::Table)
                    .value(Metric::PlatformId, Option::<i32>::None)
                    .and_where(Expr::col(Metric::Code).is_in(NATIONAL))
                    .to_owned(),
            )
            .await
    }

    /// Every metric must have a platform again: the programme's go to the portal, where the
    /// targets' metrics were kept before (a metric seeded since, such as the United Nations'
    /// ranking, goes there too, which is the best an older schema can say).
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .exec_stmt(
                Query::update()
                    .table(Metric::Table)
                    .value(
                        Metric::PlatformId,
                        Query::select()
                            .column(Platform::Id)
                            .from(Platform::Table)
                            .and_where(Expr::col(Platform::Code).eq("public-service-portal"))
                            .take(),
                    )
                    .and_where(Expr::col(Metric::PlatformId).is_null())
                    .to_owned(),
            )
            .await?;
        set_platform_required(manager, true).await
    }

    // SQLite changes the table's definition in place, which must happen in one transaction.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

async fn set_platform_required(manager: &SchemaManager<'_>, required: bool) -> Result<(), DbErr> {
    let db = manager.get_connection();
    match manager.get_database_backend() {
        DbBackend::Sqlite => {
            // SQLite cannot alter a column; dropping a NOT NULL is the one change it allows by
            // editing the stored definition (https://sqlite.org/lang_altertable.html, "other
            // kinds of table schema changes"): no row is rewritten and every key stays.
            let (from, to) = if required {
                (OPTIONAL, REQUIRED)
            } else {
                (REQUIRED, OPTIONAL)
            };
            let version: i64 = db
                .query_one_raw(Statement::from_string(
                    DbBackend::Sqlite,
                    "PRAGMA schema_version",
                ))
                .await?
                .ok_or_else(|| DbErr::Migration("no schema version".to_owned()))?
                .try_get_by_index(0)?;
            for sql in [
                "PRAGMA writable_schema = ON".to_owned(),
                format!(
                    "UPDATE sqlite_schema SET sql = replace(sql, '{from}', '{to}') \
                     WHERE type = 'table' AND name = 'metric'"
                ),
                format!("PRAGMA schema_version = {}", version + 1),
                "PRAGMA writable_schema = OFF".to_owned(),
            ] {
                db.execute_unprepared(&sql).await?;
            }
            let definition = db
                .query_one_raw(Statement::from_string(
                    DbBackend::Sqlite,
                    "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'metric'",
                ))
                .await?
                .ok_or_else(|| DbErr::Migration("no metric table".to_owned()))?
                .try_get_by_index::<String>(0)?;
            if !definition.contains(to) {
                return Err(DbErr::Migration(format!(
                    "metric.platform_id was not found as expected in {definition}"
                )));
            }
            Ok(())
        }
        _ => {
            let mut column = ColumnDef::new(Metric::PlatformId);
            column.integer();
            if required {
                column.not_null();
            } else {
                column.null();
            }
            manager
                .alter_table(
                    Table::alter()
                        .table(Metric::Table)
                        .modify_column(column)
                        .to_owned(),
                )
                .await
        }
    }
}

#[derive(DeriveIden)]
enum Metric {
    Table,
    PlatformId,
    Code,
}

#[derive(DeriveIden)]
enum Platform {
    Table,
    Id,
    Code,
}

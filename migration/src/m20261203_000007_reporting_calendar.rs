//! A metric's reporting calendar: how often agencies report it and how many days after each
//! period their report is due, so that who reported, on time or late, can be told.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one column at a time.
        for column in [
            string_len_null(Metric::ReportingPeriod, 8),
            integer_null(Metric::ReportingDueDays),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Metric::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Metric::ReportingPeriod, Metric::ReportingDueDays] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Metric::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Metric {
    Table,
    ReportingPeriod,
    ReportingDueDays,
}

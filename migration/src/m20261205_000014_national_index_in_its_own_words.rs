//! The national figures' index by metric then instant, stated in this migration's own words.
//! Migration 000012 builds it through helpers and 000013 runs 000012 again; the statements
//! written out here were once put into 000012's text after it had landed, which a migrated
//! database never runs. Here they run on every database: create the index if it is absent, drop
//! the one it replaced if it is present. Both are idempotent, so a database 000012 left as
//! intended is unchanged.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const REPLACED: &str = "idx_observation_national_time";
const INDEX: &str = "idx_observation_national_instant";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name(INDEX)
                    .table(Observation::Table)
                    .col(Observation::MetricId)
                    .col(Observation::ObservedAt)
                    .col(Observation::Synthetic)
                    .col(Observation::Id)
                    .and_where(Expr::col(Observation::AgencyId).is_null())
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .if_exists()
                    .name(REPLACED)
                    .table(Observation::Table)
                    .to_owned(),
            )
            .await
    }

    /// The schema before this step is the one it leaves: nothing to undo (000012's down puts
    /// the replaced index back).
    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Observation {
    Table,
    MetricId,
    AgencyId,
    ObservedAt,
    Id,
    Synthetic,
}

//! The two indexes that `m20261126_000003` gained after it had landed: a database migrated by its
//! first version has only the series and synthetic indexes. Each is created here if it is
//! missing, so that every database reaches the same schema; on a database that `000003` already
//! gave them, this changes nothing.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_observation_national_time")
                    .table(Observation::Table)
                    .col(Observation::MetricId)
                    .col(Observation::Synthetic)
                    .col(Observation::ObservedAt)
                    .col(Observation::Id)
                    .and_where(Expr::col(Observation::AgencyId).is_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_observation_agency_time")
                    .table(Observation::Table)
                    .col(Observation::AgencyId)
                    .col(Observation::ObservedAt)
                    .col(Observation::Id)
                    .to_owned(),
            )
            .await
    }

    /// The indexes may be `000003`'s, whose own `down` drops them.
    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Observation {
    Table,
    MetricId,
    AgencyId,
    ObservedAt,
    Id,
    Synthetic,
}

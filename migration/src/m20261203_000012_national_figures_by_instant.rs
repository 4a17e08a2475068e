//! National figures indexed by metric, then instant. The index this replaces put whether a
//! figure is generated before its instant, so a lookup by instant alone (is a figure already
//! recorded here?) filtered every national figure of the metric instead of seeking it: each
//! write to a national series read more of it as the series grew. Series reads, which exclude
//! generated figures, still find them in the index by the column kept after the instant.

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

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name(REPLACED)
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
            .drop_index(
                Index::drop()
                    .if_exists()
                    .name(INDEX)
                    .table(Observation::Table)
                    .to_owned(),
            )
            .await
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

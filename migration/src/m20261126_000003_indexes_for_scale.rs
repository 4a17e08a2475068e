//! Indexes for millions of readings: one chart line (a metric for one agency, or national) in
//! time order, and the newest reported figures without walking past generated ones.
//!
//! National series get a small index of their own: PostgreSQL does not treat `agency_id IS NULL`
//! as an equality, so the series index would not give their time order; and with `synthetic` in
//! its key, the newest reported national figure is one index step away, where the planner
//! would otherwise walk the newest reported figures of every series looking for it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_observation_series_time")
                    .table(Observation::Table)
                    .col(Observation::MetricId)
                    .col(Observation::AgencyId)
                    .col(Observation::ObservedAt)
                    .col(Observation::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
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
        // Pages and counts of one agency's figures, across its metrics.
        manager
            .create_index(
                Index::create()
                    .name("idx_observation_agency_time")
                    .table(Observation::Table)
                    .col(Observation::AgencyId)
                    .col(Observation::ObservedAt)
                    .col(Observation::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_observation_synthetic_time")
                    .table(Observation::Table)
                    .col(Observation::Synthetic)
                    .col(Observation::ObservedAt)
                    .col(Observation::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in [
            "idx_observation_synthetic_time",
            "idx_observation_agency_time",
            "idx_observation_series_time",
        ] {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(Observation::Table)
                        .to_owned(),
                )
                .await?;
        }
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

//! Indexes for millions of readings: one chart line (a metric for one agency, or national) in
//! time order, one agency's figures across metrics, and the newest reported figures without
//! walking past generated ones.
//!
//! National series get a small index of their own: PostgreSQL does not treat `agency_id IS NULL`
//! as an equality, so the series index would not give their time order; and with `synthetic` in
//! its key, the newest reported national figure is one index step away, where the planner
//! would otherwise walk the newest reported figures of every series looking for it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Each index: its name, its columns, and whether it covers national figures only.
const INDEXES: [(&str, &[Observation], bool); 4] = [
    (
        "idx_observation_series_time",
        &[
            Observation::MetricId,
            Observation::AgencyId,
            Observation::ObservedAt,
            Observation::Id,
        ],
        false,
    ),
    (
        "idx_observation_national_time",
        &[
            Observation::MetricId,
            Observation::Synthetic,
            Observation::ObservedAt,
            Observation::Id,
        ],
        true,
    ),
    (
        "idx_observation_agency_time",
        &[
            Observation::AgencyId,
            Observation::ObservedAt,
            Observation::Id,
        ],
        false,
    ),
    (
        "idx_observation_synthetic_time",
        &[
            Observation::Synthetic,
            Observation::ObservedAt,
            Observation::Id,
        ],
        false,
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, columns, national_only) in INDEXES {
            let mut index = Index::create()
                .name(name)
                .table(Observation::Table)
                .to_owned();
            for column in columns {
                index.col(*column);
            }
            if national_only {
                index.and_where(Expr::col(Observation::AgencyId).is_null());
            }
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _, _) in INDEXES {
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

#[derive(DeriveIden, Clone, Copy)]
enum Observation {
    Table,
    MetricId,
    AgencyId,
    ObservedAt,
    Id,
    Synthetic,
}

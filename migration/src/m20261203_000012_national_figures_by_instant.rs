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
        let by_instant = [Observation::ObservedAt, Observation::Synthetic];
        replace(manager, national_index(INDEX, by_instant), REPLACED).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let by_origin = [Observation::Synthetic, Observation::ObservedAt];
        replace(manager, national_index(REPLACED, by_origin), INDEX).await
    }
}

/// An index of the national figures: metric, the two columns in the order given, then id.
fn national_index(name: &str, middle: [Observation; 2]) -> IndexCreateStatement {
    let mut index = Index::create();
    index
        .if_not_exists()
        .name(name)
        .table(Observation::Table)
        .col(Observation::MetricId);
    for column in middle {
        index.col(column);
    }
    index
        .col(Observation::Id)
        .and_where(Expr::col(Observation::AgencyId).is_null())
        .to_owned()
}

/// Creates `index`, then drops the one it replaces: the figures are indexed throughout.
async fn replace(
    manager: &SchemaManager<'_>,
    index: IndexCreateStatement,
    replaced: &str,
) -> Result<(), DbErr> {
    manager.create_index(index).await?;
    manager
        .drop_index(
            Index::drop()
                .if_exists()
                .name(replaced)
                .table(Observation::Table)
                .to_owned(),
        )
        .await
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

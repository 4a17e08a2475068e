//! The national figures' index by instant, settled. Migration 000012's text was rewritten after
//! it had landed (its statements written out, then built by helpers, then written out again):
//! every text built the same index, but a database records only that 000012 ran, not which text
//! ran it. This step leaves every database as a fresh one is, whatever it ran: the index by
//! metric then instant present, the one it replaced gone. Both statements are idempotent, so on
//! a database 000012 left as intended it changes nothing.

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

    /// On a database 000012 left as intended, the schema before this step is the one it leaves:
    /// nothing to undo (000012's down puts the replaced index back).
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

//! The national figures' index by instant, settled. Migration 000012's text was rewritten after
//! it had landed (its statements written out, then built by helpers, then written out again):
//! every text built the same index, but a database records only that 000012 ran, not which text
//! ran it. This step leaves every database as a fresh one is, whatever it ran: the index by
//! metric then instant present, the one it replaced gone. That is 000012's own step, whose
//! statements are idempotent (and whose text is fixed), run again: on a database 000012 left as
//! intended it changes nothing.

use sea_orm_migration::prelude::*;

use crate::m20261203_000012_national_figures_by_instant as national_figures_by_instant;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        national_figures_by_instant::Migration.up(manager).await
    }

    /// On a database 000012 left as intended, the schema before this step is the one it leaves:
    /// nothing to undo (000012's down puts the replaced index back).
    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}

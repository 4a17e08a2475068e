//! Signed checkpoints of the audit chain's head: what anchors the chain to a key kept outside
//! the database.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditCheckpoint::Table)
                    .col(big_integer(AuditCheckpoint::Sequence).primary_key())
                    .col(string_len(AuditCheckpoint::Hash, 64))
                    .col(timestamp_with_time_zone(AuditCheckpoint::SignedAt))
                    .col(string_len(AuditCheckpoint::PublicKey, 64))
                    .col(string_len(AuditCheckpoint::Signature, 128))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditCheckpoint::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum AuditCheckpoint {
    Table,
    Sequence,
    Hash,
    SignedAt,
    PublicKey,
    Signature,
}

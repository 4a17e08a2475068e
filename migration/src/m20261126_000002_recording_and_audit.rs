//! Recording figures: API keys, retraction of revisions, idempotent batches and the hash-chained
//! audit log.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ObservationRevision::Table)
                    .add_column(boolean(ObservationRevision::Retracted).default(false))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiKey::Table)
                    .col(pk_auto(ApiKey::Id))
                    .col(string_len_uniq(ApiKey::Prefix, 32))
                    .col(string_len(ApiKey::SecretHash, 64))
                    .col(string(ApiKey::Name))
                    .col(string_len(ApiKey::Role, 16))
                    .col(integer_null(ApiKey::AgencyId))
                    .col(integer_null(ApiKey::PlatformId))
                    .col(timestamp_with_time_zone(ApiKey::CreatedAt))
                    .col(string(ApiKey::CreatedBy))
                    .col(timestamp_with_time_zone_null(ApiKey::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ApiKey::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiKey::Table, ApiKey::AgencyId)
                            .to(Agency::Table, Agency::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiKey::Table, ApiKey::PlatformId)
                            .to(Platform::Table, Platform::Id),
                    )
                    .to_owned(),
            )
            .await?;

        // One row whose update serialises every write, so the audit chain never forks.
        manager
            .create_table(
                Table::create()
                    .table(AuditHead::Table)
                    .col(integer(AuditHead::Id).primary_key())
                    .col(big_integer(AuditHead::Sequence))
                    .col(string_len(AuditHead::Hash, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(AuditHead::Table)
                    .columns([AuditHead::Id, AuditHead::Sequence, AuditHead::Hash])
                    .values_panic([1.into(), 0i64.into(), GENESIS_HASH.into()])
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditEntry::Table)
                    .col(big_integer(AuditEntry::Sequence).primary_key())
                    .col(timestamp_with_time_zone(AuditEntry::OccurredAt))
                    .col(string(AuditEntry::Actor))
                    .col(integer_null(AuditEntry::ApiKeyId))
                    .col(string_len(AuditEntry::Action, 32))
                    .col(string_len(AuditEntry::Outcome, 16))
                    .col(string_null(AuditEntry::Subject))
                    .col(text(AuditEntry::Detail))
                    .col(string_null(AuditEntry::ClientAddress))
                    .col(string_null(AuditEntry::RequestId))
                    .col(string_len(AuditEntry::PreviousHash, 64))
                    .col(string_len(AuditEntry::Hash, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_entry_time")
                    .table(AuditEntry::Table)
                    .col(AuditEntry::OccurredAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(IdempotencyRecord::Table)
                    .col(pk_auto(IdempotencyRecord::Id))
                    .col(string(IdempotencyRecord::Actor))
                    .col(string(IdempotencyRecord::Key))
                    .col(string_len(IdempotencyRecord::RequestHash, 64))
                    .col(text(IdempotencyRecord::Response))
                    .col(timestamp_with_time_zone(IdempotencyRecord::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_idempotency_actor_key")
                    .table(IdempotencyRecord::Table)
                    .col(IdempotencyRecord::Actor)
                    .col(IdempotencyRecord::Key)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            IdempotencyRecord::Table.into_iden(),
            AuditEntry::Table.into_iden(),
            AuditHead::Table.into_iden(),
            ApiKey::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(ObservationRevision::Table)
                    .drop_column(ObservationRevision::Retracted)
                    .to_owned(),
            )
            .await
    }
}

/// The hash the first audit entry links to.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(DeriveIden)]
enum ObservationRevision {
    Table,
    Retracted,
}

#[derive(DeriveIden)]
enum Agency {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Platform {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ApiKey {
    Table,
    Id,
    Prefix,
    SecretHash,
    Name,
    Role,
    AgencyId,
    PlatformId,
    CreatedAt,
    CreatedBy,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum AuditHead {
    Table,
    Id,
    Sequence,
    Hash,
}

#[derive(DeriveIden)]
enum AuditEntry {
    Table,
    Sequence,
    OccurredAt,
    Actor,
    ApiKeyId,
    Action,
    Outcome,
    Subject,
    Detail,
    ClientAddress,
    RequestId,
    PreviousHash,
    Hash,
}

#[derive(DeriveIden)]
enum IdempotencyRecord {
    Table,
    Id,
    Actor,
    Key,
    RequestHash,
    Response,
    CreatedAt,
}

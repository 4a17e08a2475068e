//! Scored indices: a versioned set of components (an indicator or a metric, a scoring rule and
//! the most points it gives) scoring every province or every ministry, such as the index of
//! service to citizens and businesses, whose components and weights change between versions.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ScoredIndex::Table)
                    .col(pk_auto(ScoredIndex::Id))
                    .col(string_len_uniq(ScoredIndex::Code, 128))
                    .col(text(ScoredIndex::NameVi))
                    .col(text(ScoredIndex::NameEn))
                    // The units it scores: `provinces` or `ministries`.
                    .col(string_len(ScoredIndex::AgencyGroup, 16))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ScoredIndexVersion::Table)
                    .col(pk_auto(ScoredIndexVersion::Id))
                    .col(integer(ScoredIndexVersion::ScoredIndexId))
                    .col(integer(ScoredIndexVersion::Version))
                    .col(date_null(ScoredIndexVersion::ValidFrom))
                    .col(text(ScoredIndexVersion::Components))
                    .col(text_null(ScoredIndexVersion::Note))
                    .col(timestamp_with_time_zone(ScoredIndexVersion::RecordedAt))
                    .col(string_len(ScoredIndexVersion::RecordedBy, 128))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ScoredIndexVersion::Table, ScoredIndexVersion::ScoredIndexId)
                            .to(ScoredIndex::Table, ScoredIndex::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_scored_index_version_number")
                    .table(ScoredIndexVersion::Table)
                    .col(ScoredIndexVersion::ScoredIndexId)
                    .col(ScoredIndexVersion::Version)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ScoredIndexVersion::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ScoredIndex::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ScoredIndex {
    Table,
    Id,
    Code,
    NameVi,
    NameEn,
    AgencyGroup,
}

#[derive(DeriveIden)]
enum ScoredIndexVersion {
    Table,
    Id,
    ScoredIndexId,
    Version,
    ValidFrom,
    Components,
    Note,
    RecordedAt,
    RecordedBy,
}

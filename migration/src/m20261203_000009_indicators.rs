//! Indicators: named formulas over metrics (the share of dossiers filed online, online users per
//! offline user), each definition versioned with the first day it is valid, so that a period is
//! computed with the formula of its time and a new definition never rewrites an old figure.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Indicator::Table)
                    .col(pk_auto(Indicator::Id))
                    .col(string_len_uniq(Indicator::Code, 128))
                    .col(text(Indicator::NameVi))
                    .col(text(Indicator::NameEn))
                    .col(string_len(Indicator::Unit, 16))
                    .col(string_len(Indicator::Scale, 16))
                    // The reported metric it computes, whose targets it then decides.
                    .col(integer_null(Indicator::MetricId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Indicator::Table, Indicator::MetricId)
                            .to(Metric::Table, Metric::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IndicatorVersion::Table)
                    .col(pk_auto(IndicatorVersion::Id))
                    .col(integer(IndicatorVersion::IndicatorId))
                    .col(integer(IndicatorVersion::Version))
                    // None: valid from the beginning.
                    .col(date_null(IndicatorVersion::ValidFrom))
                    .col(text(IndicatorVersion::Formula))
                    .col(text_null(IndicatorVersion::Note))
                    .col(timestamp_with_time_zone(IndicatorVersion::RecordedAt))
                    .col(string_len(IndicatorVersion::RecordedBy, 128))
                    .foreign_key(
                        ForeignKey::create()
                            .from(IndicatorVersion::Table, IndicatorVersion::IndicatorId)
                            .to(Indicator::Table, Indicator::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_indicator_version_number")
                    .table(IndicatorVersion::Table)
                    .col(IndicatorVersion::IndicatorId)
                    .col(IndicatorVersion::Version)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(IndicatorVersion::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Indicator::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Indicator {
    Table,
    Id,
    Code,
    NameVi,
    NameEn,
    Unit,
    Scale,
    MetricId,
}

#[derive(DeriveIden)]
enum IndicatorVersion {
    Table,
    Id,
    IndicatorId,
    Version,
    ValidFrom,
    Formula,
    Note,
    RecordedAt,
    RecordedBy,
}

#[derive(DeriveIden)]
enum Metric {
    Table,
    Id,
}

//! Platforms, agencies, metrics, sources, observations with append-only revisions, targets and
//! events.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Precision and scale of every stored figure: 15 significant digits is what SQLite keeps
/// exactly, and no reported figure needs more than six decimal places.
const VALUE_PRECISION: u32 = 21;
const VALUE_SCALE: u32 = 6;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Source::Table)
                    .col(pk_auto(Source::Id))
                    .col(string_len_uniq(Source::Code, 64))
                    .col(string(Source::FileName))
                    .col(text_null(Source::Title))
                    .col(string(Source::Outlet))
                    .col(boolean(Source::OutletInferred))
                    .col(date_null(Source::PublishedOn))
                    .col(boolean(Source::PublishedOnInferred))
                    .col(string_len(Source::Language, 16))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Agency::Table)
                    .col(pk_auto(Agency::Id))
                    .col(string_len_uniq(Agency::Code, 64))
                    .col(string(Agency::NameVi))
                    .col(string(Agency::NameEn))
                    .col(string_len(Agency::Kind, 24))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Platform::Table)
                    .col(pk_auto(Platform::Id))
                    .col(string_len_uniq(Platform::Code, 64))
                    .col(string(Platform::NameVi))
                    .col(string(Platform::NameEn))
                    .col(integer(Platform::OperatorAgencyId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Platform::Table, Platform::OperatorAgencyId)
                            .to(Agency::Table, Agency::Id),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Metric::Table)
                    .col(pk_auto(Metric::Id))
                    .col(integer(Metric::PlatformId))
                    .col(string_len_uniq(Metric::Code, 128))
                    .col(string(Metric::NameVi))
                    .col(string(Metric::NameEn))
                    .col(string_len(Metric::Unit, 16))
                    .col(string_len(Metric::Scale, 16))
                    .col(string_len(Metric::Kind, 16))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Metric::Table, Metric::PlatformId)
                            .to(Platform::Table, Platform::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_metric_platform")
                    .table(Metric::Table)
                    .col(Metric::PlatformId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Observation::Table)
                    .col(pk_auto(Observation::Id))
                    .col(integer(Observation::MetricId))
                    .col(integer_null(Observation::AgencyId))
                    .col(timestamp_with_time_zone(Observation::ObservedAt))
                    .col(timestamp_with_time_zone_null(Observation::PeriodStart))
                    .col(boolean(Observation::Synthetic).default(false))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Observation::Table, Observation::MetricId)
                            .to(Metric::Table, Metric::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Observation::Table, Observation::AgencyId)
                            .to(Agency::Table, Agency::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // Time series and keyset pages walk observations of a metric in time order.
        manager
            .create_index(
                Index::create()
                    .name("idx_observation_metric_time")
                    .table(Observation::Table)
                    .col(Observation::MetricId)
                    .col(Observation::ObservedAt)
                    .col(Observation::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_observation_time")
                    .table(Observation::Table)
                    .col(Observation::ObservedAt)
                    .col(Observation::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ObservationRevision::Table)
                    .col(pk_auto(ObservationRevision::Id))
                    .col(integer(ObservationRevision::ObservationId))
                    .col(integer(ObservationRevision::Revision))
                    .col(decimal_len(
                        ObservationRevision::Value,
                        VALUE_PRECISION,
                        VALUE_SCALE,
                    ))
                    .col(string_len(ObservationRevision::Qualifier, 16))
                    .col(decimal_len_null(
                        ObservationRevision::Denominator,
                        VALUE_PRECISION,
                        VALUE_SCALE,
                    ))
                    .col(integer(ObservationRevision::SourceId))
                    .col(text(ObservationRevision::Quote))
                    .col(text_null(ObservationRevision::Note))
                    .col(timestamp_with_time_zone(ObservationRevision::RecordedAt))
                    .col(string(ObservationRevision::RecordedBy))
                    .col(text_null(ObservationRevision::Reason))
                    .col(timestamp_with_time_zone_null(
                        ObservationRevision::SupersededAt,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                ObservationRevision::Table,
                                ObservationRevision::ObservationId,
                            )
                            .to(Observation::Table, Observation::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ObservationRevision::Table, ObservationRevision::SourceId)
                            .to(Source::Table, Source::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_revision_observation_number")
                    .table(ObservationRevision::Table)
                    .col(ObservationRevision::ObservationId)
                    .col(ObservationRevision::Revision)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_revision_current")
                    .table(ObservationRevision::Table)
                    .col(ObservationRevision::ObservationId)
                    .col(ObservationRevision::SupersededAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Target::Table)
                    .col(pk_auto(Target::Id))
                    .col(string_len_uniq(Target::Code, 128))
                    .col(integer(Target::MetricId))
                    .col(integer(Target::Year))
                    .col(string_len(Target::Comparator, 8))
                    .col(decimal_len(Target::Value, VALUE_PRECISION, VALUE_SCALE))
                    .col(text(Target::DescriptionVi))
                    .col(text(Target::DescriptionEn))
                    .col(integer(Target::SourceId))
                    .col(text(Target::Quote))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Target::Table, Target::MetricId)
                            .to(Metric::Table, Metric::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Target::Table, Target::SourceId)
                            .to(Source::Table, Source::Id),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Event::Table)
                    .col(pk_auto(Event::Id))
                    .col(string_len_uniq(Event::Code, 128))
                    .col(integer_null(Event::PlatformId))
                    .col(integer_null(Event::AgencyId))
                    .col(string_len(Event::Kind, 16))
                    .col(date(Event::OccurredOn))
                    .col(string_len(Event::DatePrecision, 8))
                    .col(text(Event::NameVi))
                    .col(text(Event::NameEn))
                    .col(integer(Event::SourceId))
                    .col(text(Event::Quote))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Event::Table, Event::PlatformId)
                            .to(Platform::Table, Platform::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Event::Table, Event::AgencyId)
                            .to(Agency::Table, Agency::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Event::Table, Event::SourceId)
                            .to(Source::Table, Source::Id),
                    )
                    .to_owned(),
            )
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Event::Table.into_iden(),
            Target::Table.into_iden(),
            ObservationRevision::Table.into_iden(),
            Observation::Table.into_iden(),
            Metric::Table.into_iden(),
            Platform::Table.into_iden(),
            Agency::Table.into_iden(),
            Source::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Source {
    Table,
    Id,
    Code,
    FileName,
    Title,
    Outlet,
    OutletInferred,
    PublishedOn,
    PublishedOnInferred,
    Language,
}

#[derive(DeriveIden)]
enum Agency {
    Table,
    Id,
    Code,
    NameVi,
    NameEn,
    Kind,
}

#[derive(DeriveIden)]
enum Platform {
    Table,
    Id,
    Code,
    NameVi,
    NameEn,
    OperatorAgencyId,
}

#[derive(DeriveIden)]
enum Metric {
    Table,
    Id,
    PlatformId,
    Code,
    NameVi,
    NameEn,
    Unit,
    Scale,
    Kind,
}

#[derive(DeriveIden)]
enum Observation {
    Table,
    Id,
    MetricId,
    AgencyId,
    ObservedAt,
    PeriodStart,
    Synthetic,
}

#[derive(DeriveIden)]
enum ObservationRevision {
    Table,
    Id,
    ObservationId,
    Revision,
    Value,
    Qualifier,
    Denominator,
    SourceId,
    Quote,
    Note,
    RecordedAt,
    RecordedBy,
    Reason,
    SupersededAt,
}

#[derive(DeriveIden)]
enum Target {
    Table,
    Id,
    Code,
    MetricId,
    Year,
    Comparator,
    Value,
    DescriptionVi,
    DescriptionEn,
    SourceId,
    Quote,
}

#[derive(DeriveIden)]
enum Event {
    Table,
    Id,
    Code,
    PlatformId,
    AgencyId,
    Kind,
    OccurredOn,
    DatePrecision,
    NameVi,
    NameEn,
    SourceId,
    Quote,
}

//! Agencies as a hierarchy that changes over time: each agency's parent and the dates it is in
//! force, and which agencies succeeded which (the 2025 mergers of ministries and provinces).
//! The Government Office and the Ministry of Information and Communications take the codes of
//! the reference data (`van-phong-chinh-phu`, `bo-thong-tin-va-truyen-thong`).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one column at a time.
        for column in [
            integer_null(Agency::ParentId),
            date_null(Agency::ValidFrom),
            date_null(Agency::ValidTo),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Agency::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("agency_parent")
                    .table(Agency::Table)
                    .col(Agency::ParentId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AgencySuccession::Table)
                    .col(pk_auto(AgencySuccession::Id))
                    .col(integer(AgencySuccession::PredecessorId))
                    .col(integer(AgencySuccession::SuccessorId))
                    .col(date(AgencySuccession::EffectiveOn))
                    .foreign_key(
                        ForeignKey::create()
                            .from(AgencySuccession::Table, AgencySuccession::PredecessorId)
                            .to(Agency::Table, Agency::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(AgencySuccession::Table, AgencySuccession::SuccessorId)
                            .to(Agency::Table, Agency::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("agency_succession_pair")
                    .table(AgencySuccession::Table)
                    .col(AgencySuccession::PredecessorId)
                    .col(AgencySuccession::SuccessorId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("agency_succession_successor")
                    .table(AgencySuccession::Table)
                    .col(AgencySuccession::SuccessorId)
                    .to_owned(),
            )
            .await?;
        for (before, after) in [
            ("government-office", "van-phong-chinh-phu"),
            (
                "ministry-of-information-and-communications",
                "bo-thong-tin-va-truyen-thong",
            ),
        ] {
            manager
                .exec_stmt(
                    Query::update()
                        .table(Agency::Table)
                        .value(Agency::Code, after)
                        .and_where(Expr::col(Agency::Code).eq(before))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AgencySuccession::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("agency_parent")
                    .table(Agency::Table)
                    .to_owned(),
            )
            .await?;
        for column in [Agency::ParentId, Agency::ValidFrom, Agency::ValidTo] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Agency::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Agency {
    Table,
    Id,
    Code,
    ParentId,
    ValidFrom,
    ValidTo,
}

#[derive(DeriveIden)]
enum AgencySuccession {
    Table,
    Id,
    PredecessorId,
    SuccessorId,
    EffectiveOn,
}

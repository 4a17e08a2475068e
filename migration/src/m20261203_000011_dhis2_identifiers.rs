//! The identifiers a DHIS2 instance gives the metrics (data elements) and the agencies
//! (organisation units, `VN` for the national level) that are exchanged with it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Dhis2Identifier::Table)
                    .col(pk_auto(Dhis2Identifier::Id))
                    // `data_element` (a metric) or `org_unit` (an agency, or `VN`).
                    .col(string_len(Dhis2Identifier::Kind, 16))
                    .col(string_len(Dhis2Identifier::Uid, 11))
                    .col(string_len(Dhis2Identifier::Code, 128))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_dhis2_identifier_uid", Dhis2Identifier::Uid),
            ("idx_dhis2_identifier_code", Dhis2Identifier::Code),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Dhis2Identifier::Table)
                        .col(Dhis2Identifier::Kind)
                        .col(column)
                        .unique()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Dhis2Identifier::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Dhis2Identifier {
    Table,
    Id,
    Kind,
    Uid,
    Code,
}

//! Database migrations, applied in order by `egov-kpi migrate` and at server start.
//! A migration is never edited once it has landed: changes come as new migrations.

pub use sea_orm_migration::prelude::*;

mod m20261126_000001_create_kpi_model;
mod m20261126_000002_recording_and_audit;
mod m20261126_000003_indexes_for_scale;

pub use m20261126_000002_recording_and_audit::GENESIS_HASH;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_create_kpi_model::Migration),
            Box::new(m20261126_000002_recording_and_audit::Migration),
            Box::new(m20261126_000003_indexes_for_scale::Migration),
        ]
    }
}

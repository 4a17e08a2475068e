//! Database migrations, applied in order by `egov-kpi migrate` and at server start.
//! A migration is never edited once it has landed: changes come as new migrations.

pub use sea_orm_migration::prelude::*;

mod m20261126_000001_create_kpi_model;
mod m20261126_000002_recording_and_audit;
mod m20261126_000003_indexes_for_scale;
mod m20261202_000004_indexes_of_every_database;
mod m20261203_000005_audit_checkpoints;
mod m20261203_000006_agency_hierarchy;
mod m20261203_000007_reporting_calendar;
mod m20261203_000008_metrics_of_the_programme;
mod m20261203_000009_indicators;
mod m20261203_000010_scored_indices;
mod m20261203_000011_dhis2_identifiers;
mod m20261203_000012_national_figures_by_instant;
mod m20261204_000013_national_index_settled;
mod m20261205_000014_national_index_in_its_own_words;

pub use m20261126_000002_recording_and_audit::GENESIS_HASH;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_create_kpi_model::Migration),
            Box::new(m20261126_000002_recording_and_audit::Migration),
            Box::new(m20261126_000003_indexes_for_scale::Migration),
            Box::new(m20261202_000004_indexes_of_every_database::Migration),
            Box::new(m20261203_000005_audit_checkpoints::Migration),
            Box::new(m20261203_000006_agency_hierarchy::Migration),
            Box::new(m20261203_000007_reporting_calendar::Migration),
            Box::new(m20261203_000008_metrics_of_the_programme::Migration),
            Box::new(m20261203_000009_indicators::Migration),
            Box::new(m20261203_000010_scored_indices::Migration),
            Box::new(m20261203_000011_dhis2_identifiers::Migration),
            Box::new(m20261203_000012_national_figures_by_instant::Migration),
            Box::new(m20261204_000013_national_index_settled::Migration),
            Box::new(m20261205_000014_national_index_in_its_own_words::Migration),
        ]
    }
}

#[cfg(test)]
mod tests {
    /// Each landed migration and a hash of its text. A landed migration is never edited: a
    /// database that ran it will not run it again, so a change must come as a new migration.
    /// Add a migration here when it lands.
    const LANDED: [(&str, &str, u64); 14] = [
        (
            "m20261126_000001_create_kpi_model",
            include_str!("m20261126_000001_create_kpi_model.rs"),
            0xad3f53ca45acf519,
        ),
        (
            "m20261126_000002_recording_and_audit",
            include_str!("m20261126_000002_recording_and_audit.rs"),
            0xb9d02d06394fdf1d,
        ),
        (
            "m20261126_000003_indexes_for_scale",
            include_str!("m20261126_000003_indexes_for_scale.rs"),
            0x42aed293a0113bf4,
        ),
        (
            "m20261202_000004_indexes_of_every_database",
            include_str!("m20261202_000004_indexes_of_every_database.rs"),
            0x09358c3af6ad5111,
        ),
        (
            "m20261203_000005_audit_checkpoints",
            include_str!("m20261203_000005_audit_checkpoints.rs"),
            0x43e6660829c67907,
        ),
        (
            "m20261203_000006_agency_hierarchy",
            include_str!("m20261203_000006_agency_hierarchy.rs"),
            0xf56fd01b02b1fbe5,
        ),
        (
            "m20261203_000007_reporting_calendar",
            include_str!("m20261203_000007_reporting_calendar.rs"),
            0xb5278dc7e36ce1d3,
        ),
        (
            "m20261203_000008_metrics_of_the_programme",
            include_str!("m20261203_000008_metrics_of_the_programme.rs"),
            0x9b5f5f50bac1b26e,
        ),
        (
            "m20261203_000009_indicators",
            include_str!("m20261203_000009_indicators.rs"),
            0x6a6a36230fbca72c,
        ),
        (
            "m20261203_000010_scored_indices",
            include_str!("m20261203_000010_scored_indices.rs"),
            0xf2255e15bae2c80c,
        ),
        (
            "m20261203_000011_dhis2_identifiers",
            include_str!("m20261203_000011_dhis2_identifiers.rs"),
            0x67f2d9ccf05d50cd,
        ),
        (
            "m20261203_000012_national_figures_by_instant",
            include_str!("m20261203_000012_national_figures_by_instant.rs"),
            0xe571604cd8050c11,
        ),
        (
            "m20261204_000013_national_index_settled",
            include_str!("m20261204_000013_national_index_settled.rs"),
            0x6625d7b342281010,
        ),
        (
            "m20261205_000014_national_index_in_its_own_words",
            include_str!("m20261205_000014_national_index_in_its_own_words.rs"),
            0x9db8ae685dfecd90,
        ),
    ];

    /// FNV-1a: stable across toolchains, unlike the standard library's hasher.
    fn fnv1a(text: &str) -> u64 {
        text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
    }

    #[test]
    fn landed_migrations_are_never_edited() {
        for (name, text, hash) in LANDED {
            assert_eq!(
                fnv1a(text),
                hash,
                "{name} has changed since it landed: undo the change and write a new migration"
            );
        }
    }

    #[test]
    fn every_migration_is_listed_as_landed() {
        use super::MigratorTrait;
        let names: Vec<String> = super::Migrator::migrations()
            .iter()
            .map(|migration| migration.name().to_owned())
            .collect();
        let landed: Vec<&str> = LANDED.iter().map(|(name, _, _)| *name).collect();
        assert_eq!(names, landed);
    }
}

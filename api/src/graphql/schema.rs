//! Assembles the schema from the domain areas; nothing else lives here.

use async_graphql::dataloader::DataLoader;
use async_graphql::{EmptySubscription, MergedObject, Schema, SchemaBuilder};
use sea_orm::DatabaseConnection;

use super::agencies::AgencyQuery;
use super::audit::AuditQuery;
use super::events::EventQuery;
use super::keys::{KeyMutation, KeyQuery};
use super::limits::AliasLimit;
use super::loaders::DatabaseLoader;
use super::metrics::MetricQuery;
use super::observations::ObservationQuery;
use super::platforms::PlatformQuery;
use super::recording::RecordingMutation;
use super::savings::SavingsQuery;
use super::series::SeriesQuery;
use super::sources::SourceQuery;
use super::targets::TargetQuery;
use crate::config::Limits;

#[derive(MergedObject, Default)]
pub struct QueryRoot(
    PlatformQuery,
    AgencyQuery,
    MetricQuery,
    SourceQuery,
    EventQuery,
    ObservationQuery,
    SeriesQuery,
    SavingsQuery,
    TargetQuery,
    AuditQuery,
    KeyQuery,
);

#[derive(MergedObject, Default)]
pub struct MutationRoot(RecordingMutation, KeyMutation);

pub type AppSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

fn builder() -> SchemaBuilder<QueryRoot, MutationRoot, EmptySubscription> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        EmptySubscription,
    )
}

pub fn build_schema(db: DatabaseConnection, limits: &Limits) -> AppSchema {
    let builder = builder()
        .data(DataLoader::new(
            DatabaseLoader::new(db.clone()),
            tokio::spawn,
        ))
        .data(db)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .extension(AliasLimit(limits.max_aliases));
    if limits.introspection {
        builder.finish()
    } else {
        builder.disable_introspection().finish()
    }
}

/// The schema in SDL, as committed in `schema.graphql`; needs no database.
pub fn schema_sdl() -> String {
    builder().finish().sdl()
}

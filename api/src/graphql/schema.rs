//! Assembles the schema from the domain areas; nothing else lives here.

use async_graphql::dataloader::DataLoader;
use async_graphql::{EmptyMutation, EmptySubscription, MergedObject, Schema, SchemaBuilder};
use sea_orm::DatabaseConnection;

use super::agencies::AgencyQuery;
use super::events::EventQuery;
use super::loaders::DatabaseLoader;
use super::metrics::MetricQuery;
use super::observations::ObservationQuery;
use super::platforms::PlatformQuery;
use super::savings::SavingsQuery;
use super::series::SeriesQuery;
use super::sources::SourceQuery;
use super::targets::TargetQuery;

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
);

pub type AppSchema = Schema<QueryRoot, EmptyMutation, EmptySubscription>;

fn builder() -> SchemaBuilder<QueryRoot, EmptyMutation, EmptySubscription> {
    Schema::build(QueryRoot::default(), EmptyMutation, EmptySubscription)
}

pub fn build_schema(db: DatabaseConnection) -> AppSchema {
    builder()
        .data(DataLoader::new(
            DatabaseLoader::new(db.clone()),
            tokio::spawn,
        ))
        .data(db)
        .finish()
}

/// The schema in SDL, as committed in `schema.graphql`; needs no database.
pub fn schema_sdl() -> String {
    builder().finish().sdl()
}

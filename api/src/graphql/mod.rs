//! The GraphQL API: one module per domain area, each a thin translation to [`crate::service`].

pub mod agencies;
pub mod events;
pub mod lang;
pub mod loaders;
pub mod metrics;
pub mod observations;
pub mod platforms;
pub mod savings;
pub mod schema;
pub mod series;
pub mod sources;
pub mod targets;

pub use schema::{build_schema, schema_sdl, AppSchema};

use async_graphql::Context;
use sea_orm::DatabaseConnection;

/// The database handle every resolver reads through.
pub(crate) fn database<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a DatabaseConnection> {
    ctx.data::<DatabaseConnection>()
}

//! Assembles the schema from the domain areas; nothing else lives here.

use async_graphql::dataloader::DataLoader;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::{MergedObject, MergedSubscription, Schema, SchemaBuilder};
use sea_orm::DatabaseConnection;

use super::agencies::AgencyQuery;
use super::audit::AuditQuery;
use super::events::EventQuery;
use super::keys::{KeyMutation, KeyQuery};
use super::limits::AliasLimit;
use super::live::LiveSubscription;
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
use crate::service::live::LiveFeed;
use crate::service::reference::ReferenceCache;

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

#[derive(MergedSubscription, Default)]
pub struct SubscriptionRoot(LiveSubscription);

pub type AppSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

fn builder() -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot::default(),
    )
}

/// How a schema is reached. Over HTTP the alias limit is checked on the parsed document before
/// execution: as a schema extension it would take every field of every request off
/// async-graphql's fast path (an extension chain and a registry lookup per field, a few percent
/// of a page's CPU). Subscriptions resolve a few fields per change, so over WebSocket the limit
/// is an extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Http,
    WebSocket,
}

pub fn build_schema(
    db: DatabaseConnection,
    limits: &Limits,
    feed: Arc<LiveFeed>,
    reference: Arc<ReferenceCache>,
    transport: Transport,
) -> AppSchema {
    let mut builder = builder()
        .data(feed)
        .data(reference)
        // Sibling fields name their keys within one poll, so a short wait gathers them; the
        // default of 1 ms was paid once per level of nesting. Without any wait, the batch could
        // start on the other worker before the siblings had named their keys.
        .data(
            DataLoader::new(DatabaseLoader::new(db.clone()), tokio::spawn)
                .delay(Duration::from_micros(100)),
        )
        .data(db)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity);
    if transport == Transport::WebSocket {
        builder = builder.extension(AliasLimit(limits.max_aliases));
    }
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

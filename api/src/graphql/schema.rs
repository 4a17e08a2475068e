//! Assembles the schema from the domain areas; nothing else lives here.

use std::borrow::Cow;
use std::sync::{Arc, Weak};

use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::ContainerType;
use async_graphql::{
    Context, ContextSelectionSet, MergedObject, MergedSubscription, ObjectType, OutputType,
    Positioned, Schema, SchemaBuilder, ServerResult, Value,
};
use sea_orm::DatabaseConnection;

use crate::service::audit::anchor::Anchor;

use super::agencies::AgencyQuery;
use super::audit::AuditQuery;
use super::breakdown::BreakdownQuery;
use super::compare::CompareQuery;
use super::dhis2::Dhis2Mutation;
use super::engine::{AlreadyValidated, Engine, ValidateOnly};
use super::events::EventQuery;
use super::indicators::{IndicatorMutation, IndicatorQuery};
use super::indices::{IndexMutation, IndexQuery};
use super::keys::{KeyMutation, KeyQuery};
use super::live::LiveSubscription;
use super::loaders::DatabaseLoader;
use super::metrics::MetricQuery;
use super::observations::ObservationQuery;
use super::platforms::PlatformQuery;
use super::receipts::ReceiptQuery;
use super::recording::RecordingMutation;
use super::reporting::ReportingQuery;
use super::savings::SavingsQuery;
use super::series::SeriesQuery;
use super::sources::SourceQuery;
use super::targets::TargetQuery;
use crate::config::Limits;
use crate::service::live::LiveFeed;
use crate::service::recording::GroupCommit;
use crate::service::reference::ReferenceCache;

// Each root field asked is looked for in each area in turn, from the last area to the first
// (`MergedObject` nests the first area deepest): the areas dashboards read most come last, and
// the schema's SDL lists the areas in this order. Every area but those the small dashboard
// queries and reference lookups read is boxed (see `BoxedArea`): async-graphql boxes and moves
// the root field's future for every request, and it is as large as the largest future of any
// area the root awaits inline (an index's resolvers' was four times an observation page's).
#[derive(MergedObject, Default)]
pub struct QueryRoot(
    BoxedArea<KeyQuery>,
    BoxedArea<ReceiptQuery>,
    BoxedArea<AuditQuery>,
    BoxedArea<IndexQuery>,
    BoxedArea<IndicatorQuery>,
    BoxedArea<TargetQuery>,
    BoxedArea<ReportingQuery>,
    BoxedArea<CompareQuery>,
    BoxedArea<BreakdownQuery>,
    BoxedArea<EventQuery>,
    SourceQuery,
    BoxedArea<MetricQuery>,
    AgencyQuery,
    BoxedArea<SeriesQuery>,
    PlatformQuery,
    SavingsQuery,
    ObservationQuery,
);

/// An area of the root whose fields are resolved in a future of their own: the same type to
/// clients, and a pointer in the root's future instead of the area's whole future.
#[derive(Default)]
pub struct BoxedArea<T>(T);

impl<T: OutputType> OutputType for BoxedArea<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        Box::pin(self.0.resolve(ctx, field)).await
    }
}

impl<T: ContainerType> ContainerType for BoxedArea<T> {
    async fn resolve_field(&self, ctx: &Context<'_>) -> ServerResult<Option<Value>> {
        Box::pin(self.0.resolve_field(ctx)).await
    }

    async fn find_entity(&self, ctx: &Context<'_>, params: &Value) -> ServerResult<Option<Value>> {
        Box::pin(self.0.find_entity(ctx, params)).await
    }
}

impl<T: ObjectType> ObjectType for BoxedArea<T> {}

#[derive(MergedObject, Default)]
pub struct MutationRoot(
    RecordingMutation,
    IndicatorMutation,
    IndexMutation,
    Dhis2Mutation,
    KeyMutation,
);

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

/// The schemas a server runs requests with (see `engine`), sharing one database and feed.
pub fn build_engine(
    db: DatabaseConnection,
    limits: &Limits,
    feed: Arc<LiveFeed>,
    reference: Arc<ReferenceCache>,
    anchor: Option<Arc<Anchor>>,
) -> Arc<Engine> {
    // One writer for the three schemas, so that every write of the process may share a commit.
    let writer = GroupCommit::start(db.clone());
    // Resolvers that run a query again (receipts) reach the engine without owning it.
    Arc::new_cyclic(|engine: &Weak<Engine>| {
        let build = |purpose| {
            let shared = Shared {
                db: &db,
                writer: &writer,
                feed: &feed,
                reference: &reference,
                anchor: &anchor,
            };
            build_schema(purpose, shared, limits, engine)
        };
        Engine::new(
            build(Purpose::Run),
            build(Purpose::Validate),
            build(Purpose::RunCollected),
            anchor.clone(),
            db.clone(),
            reference.clone(),
            writer.clone(),
        )
    })
}

/// What the schemas of one engine share.
struct Shared<'a> {
    db: &'a DatabaseConnection,
    writer: &'a GroupCommit,
    feed: &'a Arc<LiveFeed>,
    reference: &'a Arc<ReferenceCache>,
    anchor: &'a Option<Arc<Anchor>>,
}

fn build_schema(
    purpose: Purpose,
    shared: Shared<'_>,
    limits: &Limits,
    engine: &Weak<Engine>,
) -> AppSchema {
    let Shared {
        db,
        writer,
        feed,
        reference,
        anchor,
    } = shared;
    let mut builder = builder()
        .data(engine.clone())
        .data(writer.clone())
        .data(feed.clone())
        .data(anchor.clone())
        .data(reference.clone())
        .data(super::live::SubscriberWork::default())
        .data(DatabaseLoader::on(db.clone()))
        .data(db.clone())
        // Depth, aliases, fields, tokens and directives are checked before execution, on
        // the document as it will run (`limits`); complexity needs the schema's page sizes.
        .limit_complexity(limits.max_complexity);
    builder = match purpose {
        Purpose::Run => builder,
        Purpose::Validate => builder.extension(ValidateOnly),
        // It runs only requests that were validated as sent (see `engine`), and never one
        // that introspects. Federation only adds `_service` and its types, which no request
        // that ran here could have passed validation with; it spares async-graphql a scan of
        // every type of the schema for entity keys at each field of the root (2-3% of a small
        // dashboard query), which it skips when federation is on.
        Purpose::RunCollected => builder
            .extension(AlreadyValidated::default())
            .enable_federation(),
    };
    if limits.introspection {
        builder.finish()
    } else {
        // Suggestions ("did you mean …") would name what introspection hides.
        builder
            .disable_introspection()
            .disable_suggestions()
            .finish()
    }
}

enum Purpose {
    Run,
    Validate,
    RunCollected,
}

/// The schema in SDL, as committed in `schema.graphql`; needs no database.
pub fn schema_sdl() -> String {
    builder()
        .finish()
        .sdl_with_options(async_graphql::SDLExportOptions::new().include_specified_by())
}

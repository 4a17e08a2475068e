//! The GraphQL API: one module per domain area, each a thin translation to [`crate::service`].

pub mod agencies;
pub mod audit;
pub mod breakdown;
pub mod collect;
pub mod compare;
pub mod dhis2;
pub(crate) mod direct;
pub mod engine;
pub mod events;
pub mod history;
pub mod indicators;
pub mod indices;
pub mod keys;
pub mod lang;
pub mod limits;
pub mod live;
pub mod loaders;
pub mod metrics;
pub mod observations;
pub mod plain;
pub mod platforms;
pub mod receipts;
pub mod recording;
pub mod reporting;
pub mod savings;
pub mod scalars;
pub mod schema;
pub mod series;
pub mod sources;
pub mod targets;
pub mod written;

pub use engine::Engine;
pub use schema::{build_engine, schema_sdl, AppSchema};

use async_graphql::connection::{Connection, CursorType, Edge};
use async_graphql::resolver_utils::ContainerType;
use async_graphql::{Context, ContextBase, ObjectType};
use sea_orm::DatabaseConnection;

use crate::error::GraphqlError;
use crate::service::access::Principal;
use crate::service::audit::Caller;
use crate::service::pagination::{Cursor, Page, PageRequest, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use crate::service::reference::{Reference, ReferenceCache};
pub(crate) use plain::PageConnection;
use plain::Plain;
use written::WrittenFields;

/// The instant a request is answered as of, when it asked for a receipt: figures as they were
/// recorded by then, wherever the query gives no `asOf` of its own.
#[derive(Debug, Clone, Copy)]
pub struct AnswerAsOf(pub chrono::DateTime<chrono::Utc>);

/// The instant a resolver answers as of: the one the query gives, else the request's, else now
/// (none).
pub(crate) fn as_of(
    ctx: &Context<'_>,
    given: Option<scalars::Instant>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    given
        .map(|at| at.0)
        .or_else(|| ctx.data_opt::<AnswerAsOf>().map(|at| at.0))
}

/// Runs a request's reads, relations included, on `db` (a replica) instead of the primary.
pub fn reading_from(
    batch: async_graphql::BatchRequest,
    db: DatabaseConnection,
) -> async_graphql::BatchRequest {
    use async_graphql::BatchRequest;
    // Each request its own loader: a loader's cache belongs to one request.
    let reading = |request: async_graphql::Request, db: DatabaseConnection| {
        request
            .data(loaders::DatabaseLoader::on(db.clone()))
            .data(db)
    };
    match batch {
        BatchRequest::Single(request) => BatchRequest::Single(reading(request, db)),
        BatchRequest::Batch(requests) => BatchRequest::Batch(
            requests
                .into_iter()
                .map(|request| reading(request, db.clone()))
                .collect(),
        ),
    }
}

/// The database handle every resolver reads through.
pub(crate) fn database<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a DatabaseConnection> {
    ctx.data::<DatabaseConnection>()
}

/// The reference rows (platforms, agencies, metrics, sources) resolvers read.
pub(crate) fn reference<'a, T>(
    ctx: &ContextBase<'a, T>,
) -> async_graphql::Result<&'a ReferenceCache> {
    ctx.data::<std::sync::Arc<ReferenceCache>>()
        .map(std::sync::Arc::as_ref)
}

/// The snapshot of reference rows, checked as `ReferenceCache::current` says.
pub(crate) async fn reference_rows(
    ctx: &Context<'_>,
) -> async_graphql::Result<std::sync::Arc<Reference>> {
    reference(ctx)?.current().await.map_err(|e| e.extend())
}

/// Who sent the request; the HTTP layer puts it there, and a request without one may do nothing.
pub(crate) fn caller(ctx: &Context<'_>) -> Caller {
    ctx.data_opt::<Caller>().cloned().unwrap_or_else(|| Caller {
        principal: Principal::anonymous(false),
        client_address: None,
        request_id: None,
        refusals: Default::default(),
        committed: Default::default(),
    })
}

/// The cost of a page of results: what one item costs, times the items asked for. A size over
/// the maximum counts as the maximum, so that the resolver refuses it with a clearer message.
pub(crate) fn page_cost(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let size = first
        .or(last)
        .map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize)
        .min(MAX_PAGE_SIZE as usize);
    size.max(1).saturating_mul(child_complexity.max(1))
}

/// Relay's page arguments as a service request; a page whose `pageInfo` is not asked (fragments
/// included) is read without the row that would tell whether more lie beyond it.
pub(crate) fn page_request(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<&str>,
    last: Option<i32>,
    before: Option<&str>,
) -> async_graphql::Result<PageRequest> {
    let request = PageRequest::new(first, after, last, before).map_err(|e| e.extend())?;
    Ok(if ctx.look_ahead().field("pageInfo").exists() {
        request
    } else {
        request.beyond_not_asked()
    })
}

/// A page's position as a Relay cursor: encoded only when a client asks for it, as most
/// dashboards read the nodes alone.
pub(crate) struct PageCursor(Cursor);

impl CursorType for PageCursor {
    type Error = crate::error::ApiError;

    fn decode_cursor(text: &str) -> Result<Self, Self::Error> {
        Cursor::decode("after", text).map(PageCursor)
    }

    fn encode_cursor(&self) -> String {
        self.0.encode()
    }
}

/// A service page as a Relay connection, with `fields` beside the edges (`EmptyFields` for none).
pub(crate) fn connection<T, N: ContainerType + WrittenFields, F: ObjectType>(
    page: Page<T>,
    fields: F,
    node: impl Fn(T) -> N,
) -> PageConnection<N, F> {
    let mut connection =
        Connection::with_additional_fields(page.has_previous_page, page.has_next_page, fields);
    connection.edges.extend(
        page.items
            .into_iter()
            .map(|(cursor, item)| Edge::new(PageCursor(cursor), Plain(node(item)))),
    );
    PageConnection(connection)
}

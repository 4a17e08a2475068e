//! HTTP routes: GraphQL, the GraphiQL page, the dashboard and health.

mod auth;
mod dashboard;
mod dhis2;
mod documents;
mod export;
mod graphiql;
mod graphql;
mod health;
mod live;
mod metrics;
mod rate_limit;
mod refusal;
mod response_cache;
mod sdmx;

pub use documents::DocumentCache;
pub use metrics::Metrics;
pub use rate_limit::RateLimiter;
pub use response_cache::ResponseCache;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use futures_util::FutureExt;
use tracing::Instrument;

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

use sea_orm::DatabaseConnection;

use crate::config::Limits;
use crate::service::live::LiveFeed;
use crate::service::reference::ReferenceCache;

use crate::graphql::Engine;
use crate::message;
use crate::replicas::Position;
use refusal::Refusal;

pub const REQUEST_ID_HEADER: &str = "x-request-id";
const REQUEST_ID: HeaderName = HeaderName::from_static(REQUEST_ID_HEADER);

/// Marks a response as an error answered outside GraphQL execution (a request refused before
/// it, or a panic), with its code, so that `/metrics` counts it whichever route answered it:
/// handlers only mark them, as they return early in many places.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

/// What every route may use, behind one `Arc`: axum clones the state for each request, and a
/// struct of fifteen `Arc`s took and dropped fifteen counts shared by every core.
#[derive(Clone)]
pub struct AppState(Arc<AppStateInner>);

impl From<AppStateInner> for AppState {
    fn from(inner: AppStateInner) -> Self {
        Self(Arc::new(inner))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppStateInner;

    fn deref(&self) -> &AppStateInner {
        &self.0
    }
}

pub struct AppStateInner {
    pub engine: Arc<Engine>,
    /// The primary: writes, the audit chain, keys.
    pub db: DatabaseConnection,
    /// Where queries and exports read: replicas when there are any.
    pub replicas: Arc<crate::replicas::Replicas>,
    /// Callers without a key may read.
    pub public_read: bool,
    pub limits: Arc<Limits>,
    pub rate_limiter: Arc<RateLimiter>,
    pub metrics: Arc<Metrics>,
    pub feed: Arc<LiveFeed>,
    pub response_cache: Arc<ResponseCache>,
    pub documents: Arc<DocumentCache>,
    pub reference: Arc<ReferenceCache>,
    /// The key that signs checkpoints, export statements and receipts, if one is configured.
    pub anchor: Option<Arc<crate::service::audit::anchor::Anchor>>,
    /// Refused writes logged per caller, for the cap on them.
    pub refusals: Arc<crate::service::audit::RefusalBudget>,
    /// Live subscriptions by caller, for the cap on them.
    pub subscriptions: Arc<live::LiveSubscriptions>,
}

/// Given with every acknowledged write on PostgreSQL, and sent back by a caller who must read
/// what it wrote: its reads run on a state at least that new, whichever process answers.
pub const POSITION_HEADER: &str = "egov-kpi-position";

/// The write position a request asks its reads to include, if it names one.
pub(crate) fn position_required(headers: &HeaderMap) -> Result<Option<Position>, Refusal> {
    let Some(value) = headers.get(POSITION_HEADER) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default();
    Position::parse(text).map(Some).ok_or_else(|| {
        let shown: String = text.chars().take(40).collect();
        Refusal::bad_request(message!(
            BAD_POSITION,
            header = "Egov-Kpi-Position",
            value = format!("{shown:?}")
        ))
    })
}

impl AppState {
    /// The database an export reads: a replica that has replayed what the request must see,
    /// else the primary.
    async fn reader(&self, headers: &HeaderMap) -> Result<DatabaseConnection, Refusal> {
        let position = position_required(headers)?;
        Ok(self.replicas.for_read(position, self.feed.head()).await.db)
    }
}

pub fn router(state: AppState) -> Router {
    let metrics = state.metrics.clone();
    let routes = Router::new()
        .route("/", get(graphiql::page))
        .route("/graphiql/{file}", get(graphiql::asset))
        .route("/graphql", get(graphql::execute).post(graphql::execute))
        .route("/graphql/ws", get(live::subscriptions))
        .route("/dashboard", get(dashboard::page))
        .route("/dashboard/dashboard.js", get(dashboard::script))
        .route("/dashboard/dashboard.css", get(dashboard::stylesheet))
        .route("/export/observations.csv", get(export::csv))
        .route("/export/observations.json", get(export::json))
        .route("/export/series.sdmx.csv", get(sdmx::series))
        .route("/export/breakdown.sdmx.csv", get(sdmx::breakdown))
        .route(
            "/export/dhis2/dataValueSets.json",
            get(dhis2::data_value_sets),
        )
        .route("/audit/public-key", get(export::public_key))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::metrics))
        .with_state(state);
    with_layers(routes, metrics)
}

/// What every request passes through: its id, a span that logs it, panics answered as coded
/// errors, and errors counted.
///
/// One service around the routes, as one future: as a stack of tower-http's layers (id set, trace,
/// id propagated, errors counted, panics caught) each request paid five nested futures, a wrapped
/// body and a classifier, a twentieth of a small query's work.
fn with_layers(routes: Router, metrics: Arc<Metrics>) -> Router {
    Router::new().fallback_service(Envelope {
        routes,
        ids: RequestIds::default(),
        metrics,
    })
}

#[derive(Clone)]
struct Envelope {
    routes: Router,
    ids: RequestIds,
    metrics: Arc<Metrics>,
}

impl tower::Service<Request<Body>> for Envelope {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> Poll<Result<(), Infallible>> {
        // A router is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let id = match request.headers().get(&REQUEST_ID) {
            Some(id) => id.clone(),
            None => {
                let id = self.ids.next_header();
                request.headers_mut().insert(REQUEST_ID, id.clone());
                id
            }
        };
        let span = tracing::info_span!(
            "request",
            method = %request.method(),
            path = %request.uri().path(),
            request_id = %id.to_str().unwrap_or_default(),
        );
        let started = Instant::now();
        let routed = {
            let _entered = span.enter();
            std::panic::catch_unwind(AssertUnwindSafe(|| self.routes.call(request)))
        };
        let metrics = self.metrics.clone();
        Box::pin(
            async move {
                let answered = match routed {
                    Ok(future) => AssertUnwindSafe(future).catch_unwind().await,
                    Err(panic) => Err(panic),
                };
                let mut response = match answered {
                    Ok(Ok(response)) => response,
                    Ok(Err(never)) => match never {},
                    Err(panic) => internal_error(panic),
                };
                response.headers_mut().entry(REQUEST_ID).or_insert(id);
                if let Some(ErrorCode(code)) = response.extensions().get::<ErrorCode>() {
                    metrics.answered_error(code);
                }
                let status = response.status();
                let latency = started.elapsed();
                if status.is_server_error() {
                    tracing::error!(status = status.as_u16(), ?latency, "response failed");
                } else {
                    tracing::debug!(
                        status = status.as_u16(),
                        ?latency,
                        "finished processing request"
                    );
                }
                Ok(response)
            }
            .instrument(span),
        )
    }
}

/// Ids for requests that come without one: UUIDs (version 4 in form) made of a random prefix
/// drawn once per process and a counter, unique within the process and, by the prefix, across
/// processes. Request ids correlate logs and need not be secret: this spares a `getrandom`
/// system call a request.
#[derive(Clone)]
struct RequestIds {
    prefix: u64,
    next: Arc<AtomicU64>,
}

impl Default for RequestIds {
    fn default() -> Self {
        Self {
            prefix: uuid::Uuid::new_v4().as_u64_pair().0,
            next: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl RequestIds {
    fn next_id(&self) -> uuid::Uuid {
        let count = self.next.fetch_add(1, Ordering::Relaxed);
        let mut bytes = [0; 16];
        bytes[..8].copy_from_slice(&self.prefix.to_be_bytes());
        bytes[8..].copy_from_slice(&count.to_be_bytes());
        // Version and variant bits land in the prefix's byte 6 and the counter's top two bits.
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    fn next_header(&self) -> HeaderValue {
        let mut text = uuid::Uuid::encode_buffer();
        let id = self.next_id().hyphenated().encode_lower(&mut text);
        HeaderValue::from_str(id).expect("a UUID is a valid header value")
    }
}

/// A panic becomes a coded GraphQL-shaped error; its message stays in the log.
fn internal_error(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = detail, "request handler panicked");
    // The panic happened where the request's headers are out of reach: the default language.
    Refusal::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL_SERVER_ERROR",
        crate::message!(INTERNAL),
    )
    .render_json(crate::messages::Lang::default())
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    async fn failing_handler() -> &'static str {
        panic!("a handler bug")
    }

    #[tokio::test]
    async fn a_panic_is_answered_as_a_coded_error_and_counted() {
        let metrics = Arc::new(Metrics::default());
        let routes = Router::new().route("/fails", get(failing_handler));
        let request = Request::get("/fails").body(Body::empty()).unwrap();
        let response = with_layers(routes, metrics.clone())
            .oneshot(request)
            .await
            .unwrap();

        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.headers().contains_key(REQUEST_ID_HEADER));
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            body["errors"][0]["extensions"]["code"],
            "INTERNAL_SERVER_ERROR"
        );
        assert!(!body.to_string().contains("a handler bug"), "{body}");
        let exported = metrics.render(None, 0, 0, 0);
        assert!(
            exported.contains("egov_kpi_graphql_errors_total{code=\"INTERNAL_SERVER_ERROR\"} 1"),
            "{exported}"
        );
    }

    #[test]
    fn request_ids_are_distinct_version_4_uuids() {
        let ids = RequestIds::default();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            let id = uuid::Uuid::parse_str(ids.next_header().to_str().unwrap()).unwrap();
            assert_eq!(id.get_version_num(), 4);
            assert!(seen.insert(id), "{id} repeated");
        }
        let other = RequestIds::default().next_id();
        assert!(
            !seen.contains(&other),
            "another process's first id is its own"
        );
    }
}

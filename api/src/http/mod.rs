//! HTTP routes: GraphQL, the GraphiQL page, the dashboard and health.

mod auth;
mod dashboard;
mod documents;
mod export;
mod graphql;
mod health;
mod live;
mod metrics;
mod rate_limit;
mod response_cache;

pub use documents::DocumentCache;
pub use metrics::Metrics;
pub use rate_limit::RateLimiter;
pub use response_cache::ResponseCache;

use axum::extract::State;
use axum::http::{HeaderName, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Router};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::config::Limits;
use crate::service::live::LiveFeed;
use crate::service::reference::ReferenceCache;

use crate::graphql::AppSchema;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Marks a response as a request refused before execution, with its code, so that `/metrics`
/// counts it among the errors, whichever route refused it.
#[derive(Debug, Clone, Copy)]
pub struct Refused(pub &'static str);

/// Counts refusals in `/metrics`: handlers only mark them, as they return early in many places.
async fn count_refusal(State(metrics): State<Arc<Metrics>>, response: Response) -> Response {
    if let Some(Refused(code)) = response.extensions().get::<Refused>() {
        metrics.refused(code);
    }
    response
}

/// What every route may use.
#[derive(Clone)]
pub struct AppState {
    pub schema: AppSchema,
    /// The same schema for subscriptions, with the alias limit as an extension.
    pub socket_schema: AppSchema,
    pub db: DatabaseConnection,
    /// Callers without a key may read.
    pub public_read: bool,
    pub limits: Arc<Limits>,
    pub rate_limiter: Arc<RateLimiter>,
    pub metrics: Arc<Metrics>,
    pub feed: Arc<LiveFeed>,
    pub response_cache: Arc<ResponseCache>,
    pub documents: Arc<DocumentCache>,
    pub reference: Arc<ReferenceCache>,
}

pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static(REQUEST_ID_HEADER);
    let metrics = state.metrics.clone();
    Router::new()
        .route("/", get(graphql::graphiql))
        .route("/graphql", get(graphql::execute).post(graphql::execute))
        .route("/graphql/ws", get(live::subscriptions))
        .route("/dashboard", get(dashboard::page))
        .route("/dashboard/dashboard.js", get(dashboard::script))
        .route("/dashboard/dashboard.css", get(dashboard::stylesheet))
        .route("/export/observations.csv", get(export::csv))
        .route("/export/observations.json", get(export::json))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::metrics))
        .with_state(state)
        // Layers run bottom-up on the way in: the id is set before the span that logs it.
        .layer(middleware::map_response_with_state(metrics, count_refusal))
        .layer(CatchPanicLayer::custom(internal_error))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let id = request
                    .headers()
                    .get(REQUEST_ID_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!(
                    "request",
                    method = %request.method(),
                    path = %request.uri().path(),
                    request_id = %id,
                )
            }),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// A panic becomes a coded GraphQL-shaped error; its message stays in the log.
fn internal_error(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = detail, "request handler panicked");
    let body = serde_json::json!({
        "errors": [{ "message": "internal error", "extensions": { "code": "INTERNAL_SERVER_ERROR" } }]
    });
    (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
}

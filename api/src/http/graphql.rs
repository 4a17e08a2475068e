use std::net::SocketAddr;

use async_graphql::http::GraphiQLSource;
use async_graphql_axum::GraphQLRequest;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Response};
use tracing::Instrument;

use super::auth::identify;
use super::AppState;
use crate::error;
use crate::graphql::lang::Lang;

/// `GET` (query string) and `POST` (JSON body) GraphQL requests.
pub async fn execute(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> Response {
    let caller = match identify(&state, &headers, peer).await {
        Ok(caller) => caller,
        Err(refusal) => return refusal,
    };

    let mut request = request.into_inner().data(caller);
    let lang = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|value| value.to_str().ok())
        .and_then(Lang::from_accept_language);
    if let Some(lang) = lang {
        request = request.data(lang);
    }
    let span = tracing::info_span!(
        "graphql",
        operation = request.operation_name.as_deref().unwrap_or("anonymous")
    );
    let mut response = state.schema.execute(request).instrument(span).await;
    error::ensure_codes(&mut response);
    if !response.errors.is_empty() {
        tracing::info!(errors = response.errors.len(), "answered with errors");
    }
    async_graphql_axum::GraphQLResponse::from(response).into_response()
}

/// The GraphiQL IDE, pointed at this server.
pub async fn graphiql() -> impl IntoResponse {
    Html(GraphiQLSource::build().endpoint("/graphql").finish())
}

use async_graphql::http::GraphiQLSource;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse};
use tracing::Instrument;

use crate::error;
use crate::graphql::lang::Lang;
use crate::graphql::AppSchema;

/// `GET` (query string) and `POST` (JSON body) GraphQL requests.
pub async fn execute(
    State(schema): State<AppSchema>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> GraphQLResponse {
    let mut request = request.into_inner();
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
    let mut response = schema.execute(request).instrument(span).await;
    error::ensure_codes(&mut response);
    if !response.errors.is_empty() {
        tracing::info!(errors = response.errors.len(), "answered with errors");
    }
    response.into()
}

/// The GraphiQL IDE, pointed at this server.
pub async fn graphiql() -> impl IntoResponse {
    Html(GraphiQLSource::build().endpoint("/graphql").finish())
}

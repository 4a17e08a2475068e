use std::net::SocketAddr;

use async_graphql::http::GraphiQLSource;
use async_graphql_axum::GraphQLRequest;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use tracing::Instrument;

use super::{AppState, REQUEST_ID_HEADER};
use crate::error::{self, ApiError};
use crate::graphql::lang::Lang;
use crate::service::audit::{self, Caller};
use crate::service::auth::{self, Principal};

/// `GET` (query string) and `POST` (JSON body) GraphQL requests.
pub async fn execute(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> Response {
    let request_id = headers
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let anonymous = Caller {
        principal: Principal::anonymous(state.public_read),
        client_address: Some(peer.ip().to_string()),
        request_id,
    };
    let caller = match identify(&state, &headers, anonymous).await {
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

/// The caller a request's `Authorization` header names; a key that does not hold is refused
/// with 401, and the refusal is logged.
async fn identify(
    state: &AppState,
    headers: &HeaderMap,
    anonymous: Caller,
) -> Result<Caller, Response> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        if anonymous.principal.role.is_none() {
            return Err(unauthenticated(&ApiError::Unauthenticated(
                "an API key is required: send `Authorization: Bearer <key>`".to_owned(),
            )));
        }
        return Ok(anonymous);
    };
    let presented = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::Unauthenticated("send the key as `Authorization: Bearer <key>`".to_owned())
        });
    let authenticated = match &presented {
        Ok(key) => auth::authenticate(&state.db, key).await,
        Err(error) => Err(error.clone()),
    };
    match authenticated {
        Ok(principal) => Ok(Caller {
            principal,
            ..anonymous
        }),
        Err(error) => {
            if error.is_refusal() {
                let key_prefix = presented
                    .ok()
                    .and_then(|key| key.split('_').nth(1))
                    .map(|p| format!("key:{p}"));
                if let Err(log_error) = audit::record_refusal(
                    &state.db,
                    &anonymous,
                    "request.authenticate",
                    key_prefix,
                    &error,
                )
                .await
                {
                    tracing::error!(error = %log_error, "could not log a refused key");
                }
            }
            Err(unauthenticated(&error))
        }
    }
}

fn unauthenticated(error: &ApiError) -> Response {
    let status = match error {
        ApiError::Database(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::UNAUTHORIZED,
    };
    let body = serde_json::json!({
        "errors": [{ "message": error.to_string(), "extensions": { "code": error.code() } }]
    });
    (status, [(header::WWW_AUTHENTICATE, "Bearer")], Json(body)).into_response()
}

/// The GraphiQL IDE, pointed at this server.
pub async fn graphiql() -> impl IntoResponse {
    Html(GraphiQLSource::build().endpoint("/graphql").finish())
}

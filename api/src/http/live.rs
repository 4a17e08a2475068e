//! `GET /graphql/ws`: GraphQL subscriptions over WebSocket, in the `graphql-transport-ws`
//! protocol or the older `graphql-ws`, as the client asks.
//!
//! Browsers cannot set headers on a WebSocket, so the API key travels in the `connection_init`
//! payload as `{"authorization": "Bearer <key>"}`; a bad key refuses the connection.

use std::net::SocketAddr;

use async_graphql::Data;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;

use super::auth::identify;
use super::AppState;

pub async fn subscriptions(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| async move {
            let schema = state.socket_schema.clone();
            GraphQLWebSocket::new(socket, schema, protocol)
                .on_connection_init(move |payload| async move {
                    let mut headers = HeaderMap::new();
                    let presented = payload
                        .get("authorization")
                        .or_else(|| payload.get("Authorization"))
                        .and_then(|value| value.as_str());
                    if let Some(value) = presented.and_then(|v| HeaderValue::from_str(v).ok()) {
                        headers.insert(header::AUTHORIZATION, value);
                    }
                    let caller = identify(&state, &headers, peer)
                        .await
                        .map_err(|_| async_graphql::Error::new("the API key was refused"))?;
                    let mut data = Data::default();
                    data.insert(caller);
                    Ok(data)
                })
                .serve()
                .await
        })
}

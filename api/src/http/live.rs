//! `GET /graphql/ws`: GraphQL over WebSocket, in the `graphql-transport-ws` protocol or the older
//! `graphql-ws`, as the client asks.
//!
//! Browsers cannot set headers on a WebSocket, so the API key travels in the `connection_init`
//! payload as `{"authorization": "Bearer <key>"}`; a bad key refuses the connection. A socket is
//! no way around the HTTP limits: every operation sent over it is checked as an HTTP request
//! is (the key again, so that a revoked key stops at once, the caller's rate, the document's
//! limits, the time limit), and live subscriptions are capped per socket and per caller.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_graphql::parser::types::OperationType;
use async_graphql::{Data, Executor};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use futures_util::stream::{self, BoxStream, StreamExt};
use tracing::Instrument;

use super::auth::{admit, identify};
use super::graphql::inspect;
use super::refusal::Refusal;
use super::AppState;
use crate::error;

pub async fn subscriptions(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let max_message = state.limits.max_body_bytes;
    upgrade
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(max_message)
        .max_frame_size(max_message)
        .on_upgrade(move |socket| async move {
            let executor = SocketExecutor {
                state: state.clone(),
                peer,
                authorization: Arc::default(),
                live_on_socket: Arc::default(),
            };
            let authorization = executor.authorization.clone();
            GraphQLWebSocket::new(socket, executor, protocol)
                .on_connection_init(move |payload| async move {
                    let mut headers = HeaderMap::new();
                    let presented = payload
                        .get("authorization")
                        .or_else(|| payload.get("Authorization"))
                        .and_then(|value| value.as_str());
                    if let Some(value) = presented.and_then(|v| HeaderValue::from_str(v).ok()) {
                        headers.insert(header::AUTHORIZATION, value);
                    }
                    identify(&state, &headers, peer)
                        .await
                        .map_err(|_| async_graphql::Error::new("the API key was refused"))?;
                    let _ = authorization.set(headers);
                    Ok(Data::default())
                })
                .serve()
                .await
        })
}

/// Runs the operations of one socket through the same checks as an HTTP request.
#[derive(Clone)]
struct SocketExecutor {
    state: AppState,
    peer: SocketAddr,
    /// The `authorization` of `connection_init`, presented again for every operation.
    authorization: Arc<OnceLock<HeaderMap>>,
    live_on_socket: Arc<AtomicUsize>,
}

impl SocketExecutor {
    /// The request ready to run, with its caller, its kind, and the subscription slot it holds;
    /// or why it may not run.
    async fn admit(
        &self,
        mut request: async_graphql::Request,
    ) -> Result<
        (
            async_graphql::Request,
            Option<OperationType>,
            Option<SubscriptionSlot>,
        ),
        Refusal,
    > {
        let headers = self.authorization.get().cloned().unwrap_or_default();
        let caller = identify(&self.state, &headers, self.peer).await?;
        admit(&self.state, &caller)?;
        let operation = inspect(&mut request, &self.state.documents, &self.state.limits);
        if let Some(refused) = operation.refused {
            return Err(Refusal::document(refused, StatusCode::BAD_REQUEST));
        }
        let slot = match operation.kind {
            Some(OperationType::Subscription) => Some(self.take_slot(caller.identity())?),
            _ => None,
        };
        Ok((request.data(caller), operation.kind, slot))
    }

    fn take_slot(&self, caller: String) -> Result<SubscriptionSlot, Refusal> {
        let limits = &self.state.limits;
        let too_many = |whose: &str, allowed: usize| {
            Refusal::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TOO_MANY_SUBSCRIPTIONS",
                format!("{whose} already has {allowed} live subscriptions; end one first"),
            )
        };
        // Both counts change only under this lock.
        let mut by_caller = self.state.subscriptions.lock();
        if self.live_on_socket.load(Ordering::SeqCst) >= limits.max_subscriptions_per_socket {
            return Err(too_many("this socket", limits.max_subscriptions_per_socket));
        }
        let live = by_caller.entry(caller.clone()).or_default();
        if *live >= limits.max_subscriptions_per_caller {
            return Err(too_many("this caller", limits.max_subscriptions_per_caller));
        }
        *live += 1;
        self.live_on_socket.fetch_add(1, Ordering::SeqCst);
        Ok(SubscriptionSlot {
            on_socket: self.live_on_socket.clone(),
            by_caller: self.state.subscriptions.clone(),
            caller,
        })
    }
}

impl Executor for SocketExecutor {
    async fn execute(&self, request: async_graphql::Request) -> async_graphql::Response {
        self.execute_stream(request, None)
            .next()
            .await
            .unwrap_or_default()
    }

    fn execute_stream(
        &self,
        request: async_graphql::Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, async_graphql::Response> {
        let this = self.clone();
        stream::once(async move {
            let (request, kind, slot) = match this.admit(request).await {
                Ok(admitted) => admitted,
                Err(refused) => {
                    this.state.metrics.answered_error(refused.code);
                    return stream::once(async move { refused.into_graphql() }).boxed();
                }
            };
            let finish = |mut answer: async_graphql::Response| {
                error::ensure_codes(&mut answer, None);
                answer
            };
            match (kind, slot) {
                (Some(OperationType::Subscription), Some(slot)) => this
                    .state
                    .engine
                    .subscribe(request, session_data.unwrap_or_default())
                    .map(move |answer| {
                        let _held = &slot;
                        finish(answer)
                    })
                    .boxed(),
                // A query or mutation answers once, within the time an HTTP request has.
                _ => {
                    let timeout = Duration::from_secs(this.state.limits.request_timeout_seconds);
                    let engine = this.state.engine.clone();
                    stream::once(
                        async move {
                            match tokio::time::timeout(timeout, engine.execute(request)).await {
                                Ok(answer) => finish(answer),
                                Err(_) => Refusal::new(
                                    StatusCode::GATEWAY_TIMEOUT,
                                    "TIMEOUT",
                                    format!(
                                        "the operation ran longer than {} s",
                                        timeout.as_secs()
                                    ),
                                )
                                .into_graphql(),
                            }
                        }
                        .instrument(tracing::info_span!("socket operation")),
                    )
                    .boxed()
                }
            }
        })
        .flatten()
        .boxed()
    }
}

/// Live subscriptions of each caller, over all of its sockets in this process.
#[derive(Default)]
pub struct LiveSubscriptions {
    by_caller: Mutex<HashMap<String, usize>>,
}

impl LiveSubscriptions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.by_caller.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One live subscription, counted on its socket and for its caller until it ends.
struct SubscriptionSlot {
    on_socket: Arc<AtomicUsize>,
    by_caller: Arc<LiveSubscriptions>,
    caller: String,
}

impl Drop for SubscriptionSlot {
    fn drop(&mut self) {
        let mut by_caller = self.by_caller.lock();
        self.on_socket.fetch_sub(1, Ordering::SeqCst);
        if let Some(live) = by_caller.get_mut(&self.caller) {
            *live -= 1;
            if *live == 0 {
                by_caller.remove(&self.caller);
            }
        }
    }
}

//! `GET /graphql/ws`: GraphQL over WebSocket, in the `graphql-transport-ws` protocol or the older
//! `graphql-ws`, as the client asks.
//!
//! Browsers cannot set headers on a WebSocket, so the API key travels in the `connection_init`
//! payload as `{"authorization": "Bearer <key>"}`; a bad key refuses the connection. A socket is
//! no way around the HTTP limits: every operation sent over it is checked as an HTTP request
//! is (the key again, so that a revoked key stops at once, the caller's rate, the document's
//! limits, the time limit), and live subscriptions are capped per socket and per caller.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_graphql::http::{WebSocketProtocols, WsMessage};
use async_graphql::parser::types::OperationType;
use async_graphql::{Data, Executor};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use futures_util::stream::{self, BoxStream, StreamExt};
use futures_util::SinkExt;
use tracing::Instrument;

use super::auth::{admitted, identify};
use super::graphql::inspect;
use super::refusal::{lang_of, Refusal};
use super::AppState;
use crate::error;
use crate::messages::{self, catalogue, Lang, Template};
use crate::service::audit::Identity;
use crate::service::unpoisoned::LockUnpoisoned;

pub async fn subscriptions(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    // Browsers send their languages with the upgrade: operations on the socket answer in them.
    let lang = lang_of(&headers);
    let Some(protocol) = chosen_protocol(&headers) else {
        return Refusal::new(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            crate::message!(WEBSOCKET_SUBPROTOCOL),
        )
        .render_json(lang);
    };
    let max_message = state.limits.max_body_bytes;
    upgrade
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(max_message)
        .max_frame_size(max_message)
        .on_upgrade(move |socket| async move {
            let executor = SocketExecutor {
                state: state.clone(),
                peer,
                lang,
                authorization: Arc::default(),
                live_on_socket: Arc::default(),
            };
            let authorization = executor.authorization.clone();
            let refused = Arc::new(AtomicBool::new(false));
            let on_init = {
                let refused = refused.clone();
                move |payload: serde_json::Value| async move {
                    let mut headers = HeaderMap::new();
                    let presented = payload
                        .get("authorization")
                        .or_else(|| payload.get("Authorization"))
                        .and_then(|value| value.as_str());
                    if let Some(value) = presented.and_then(|v| HeaderValue::from_str(v).ok()) {
                        headers.insert(header::AUTHORIZATION, value);
                    }
                    if let Err(refusal) = identify(&state, &headers, peer).await {
                        refused.store(true, Ordering::SeqCst);
                        return Err(async_graphql::Error::new(refusal.message.render(lang)));
                    }
                    let _ = authorization.set(headers);
                    Ok(Data::default())
                }
            };
            serve(socket, executor, protocol, on_init, refused).await
        })
}

/// The first subprotocol the client offers that the server speaks.
fn chosen_protocol(headers: &HeaderMap) -> Option<WebSocketProtocols> {
    headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|value| value.to_str().ok())?
        .split(',')
        .find_map(|offered| offered.trim().parse().ok())
}

/// What `graphql-transport-ws` closes a socket with, where async-graphql's codes differ from
/// the protocol's.
mod close {
    /// A message the protocol does not know, or not well formed.
    pub const BAD_MESSAGE: u16 = 4400;
    /// An operation before `connection_init` was acknowledged.
    pub const UNAUTHORIZED: u16 = 4401;
    /// `connection_init` with a key the server refuses.
    pub const FORBIDDEN: u16 = 4403;
    /// A `subscribe` whose id is already running.
    pub const SUBSCRIBER_EXISTS: u16 = 4409;
    pub const NORMAL: u16 = 1000;
}

/// Serves one socket with async-graphql's protocol machine, closing it as the protocol says:
/// 4401 for an operation before the handshake, 4403 for a refused key, 4409 for an id already
/// running, 4400 for a bad message; the older protocol gets a close frame too.
async fn serve<F, R>(
    socket: WebSocket,
    executor: SocketExecutor,
    protocol: WebSocketProtocols,
    on_init: F,
    refused: Arc<AtomicBool>,
) where
    F: FnOnce(serde_json::Value) -> R + Send + 'static,
    R: std::future::Future<Output = async_graphql::Result<Data>> + Send + 'static,
{
    let transport_ws = protocol == WebSocketProtocols::GraphQLWS;
    let (mut sink, stream) = socket.split();
    let running: Arc<Mutex<HashSet<String>>> = Arc::default();
    let duplicate: Arc<Mutex<Option<String>>> = Arc::default();
    let input = {
        let (running, duplicate) = (running.clone(), duplicate.clone());
        stream
            .take_while(|message| futures_util::future::ready(message.is_ok()))
            .filter_map(|message| {
                futures_util::future::ready(match message {
                    Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                        Some(message.into_data())
                    }
                    _ => None,
                })
            })
            // A `subscribe` with an id already running ends the input: the socket closes 4409.
            .take_while(move |bytes| {
                let accepted = !transport_ws || {
                    let message: serde_json::Value =
                        serde_json::from_slice(bytes).unwrap_or_default();
                    let id = message["id"].as_str().map(str::to_owned);
                    let mut running = running.lock_unpoisoned();
                    match (message["type"].as_str(), id) {
                        (Some("subscribe"), Some(id)) if !running.insert(id.clone()) => {
                            *duplicate.lock_unpoisoned() = Some(id);
                            false
                        }
                        (Some("complete"), Some(id)) => {
                            running.remove(&id);
                            true
                        }
                        _ => true,
                    }
                };
                futures_util::future::ready(accepted)
            })
    };
    let output =
        async_graphql::http::WebSocket::new(executor, input, protocol).on_connection_init(on_init);
    futures_util::pin_mut!(output);
    let mut closed = false;
    while let Some(message) = output.next().await {
        let frame = match message {
            WsMessage::Text(text) => {
                if transport_ws {
                    // An operation ends with `complete` or `error`: its id may be used again.
                    let message: serde_json::Value =
                        serde_json::from_str(&text).unwrap_or_default();
                    if matches!(message["type"].as_str(), Some("complete" | "error")) {
                        if let Some(id) = message["id"].as_str() {
                            running.lock_unpoisoned().remove(id);
                        }
                    }
                }
                Message::Text(text.into())
            }
            WsMessage::Close(code, reason) => {
                closed = true;
                let (code, reason) = match code {
                    1011 => (close::UNAUTHORIZED, "Unauthorized".to_owned()),
                    1002 if refused.load(Ordering::SeqCst) => {
                        (close::FORBIDDEN, "Forbidden".to_owned())
                    }
                    1002 => (close::BAD_MESSAGE, reason),
                    other => (other, reason),
                };
                close_frame(code, reason)
            }
        };
        if sink.send(frame).await.is_err() {
            return;
        }
    }
    if closed {
        return;
    }
    let taken = duplicate.lock_unpoisoned().take();
    let last = match taken {
        Some(id) => close_frame(
            close::SUBSCRIBER_EXISTS,
            format!("Subscriber for {id} already exists"),
        ),
        None if refused.load(Ordering::SeqCst) => {
            close_frame(close::FORBIDDEN, "Forbidden".to_owned())
        }
        None => close_frame(close::NORMAL, String::new()),
    };
    let _ = sink.send(last).await;
}

fn close_frame(code: u16, reason: String) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// Runs the operations of one socket through the same checks as an HTTP request.
#[derive(Clone)]
struct SocketExecutor {
    state: AppState,
    peer: SocketAddr,
    /// The language of the upgrade request, for every answer on the socket.
    lang: Lang,
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
        let caller = admitted(&self.state, &headers, self.peer).await?;
        let operation = inspect(&mut request, &self.state.documents);
        if let Some(refused) = operation.refused {
            return Err(Refusal::document(refused, StatusCode::BAD_REQUEST));
        }
        let slot = match operation.kind {
            Some(OperationType::Subscription) => Some(self.take_slot(caller.identity())?),
            _ => None,
        };
        Ok((request.data(caller).data(self.lang), operation.kind, slot))
    }

    fn take_slot(&self, caller: Identity) -> Result<SubscriptionSlot, Refusal> {
        let limits = &self.state.limits;
        let too_many = |whose: &'static Template, allowed: usize| {
            Refusal::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TOO_MANY_SUBSCRIPTIONS",
                messages::Message::new(whose).with("max", allowed),
            )
        };
        // Both counts change only under this lock.
        let mut by_caller = self.state.subscriptions.lock();
        if self.live_on_socket.load(Ordering::SeqCst) >= limits.max_subscriptions_per_socket {
            return Err(too_many(
                &catalogue::SUBSCRIPTIONS_ON_SOCKET,
                limits.max_subscriptions_per_socket,
            ));
        }
        let live = by_caller.entry(caller).or_default();
        if *live >= limits.max_subscriptions_per_caller {
            return Err(too_many(
                &catalogue::SUBSCRIPTIONS_OF_CALLER,
                limits.max_subscriptions_per_caller,
            ));
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
                    let lang = this.lang;
                    return stream::once(async move { refused.into_graphql(lang) }).boxed();
                }
            };
            let lang = this.lang;
            let finish = move |mut answer: async_graphql::Response| {
                error::ensure_codes(&mut answer, None, lang);
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
                                    crate::message!(OPERATION_TIMEOUT, seconds = timeout.as_secs()),
                                )
                                .into_graphql(lang),
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
    by_caller: Mutex<HashMap<Identity, usize>>,
}

impl LiveSubscriptions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Identity, usize>> {
        self.by_caller.lock_unpoisoned()
    }
}

/// One live subscription, counted on its socket and for its caller until it ends.
struct SubscriptionSlot {
    on_socket: Arc<AtomicUsize>,
    by_caller: Arc<LiveSubscriptions>,
    caller: Identity,
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

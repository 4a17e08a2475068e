//! GraphQL over HTTP, as the GraphQL-over-HTTP specification asks: `GET` for queries only,
//! `POST` with JSON (or multipart, for uploads), answers as `application/graphql-response+json` or
//! `application/json` by `Accept`, status codes that tell request errors from field errors, and
//! limits that refuse abuse with a coded error before any work is done.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{BatchRequest, BatchResponse, ParseRequestError};
use async_graphql_axum::GraphQLBatchRequest;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, FromRequest, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use super::auth::{admit, identify};
use super::documents::DocumentCache;
use super::refusal::{lang_of, Refusal};
use super::response_cache::{Answer, ResponseCache};
use super::AppState;
use crate::config::Limits;
use crate::error;
use crate::graphql::limits::DocumentRefusal;
use crate::message;
use crate::messages::{catalogue, Lang, Message, Template};
use crate::service::access::Permission;
use crate::service::audit;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
/// Documents up to this many bytes are parsed on the request's own worker: a dashboard's
/// queries are a few hundred bytes.
const PARSE_INLINE_BYTES: usize = 8 * 1024;
const JSON: &str = "application/json";
const MULTIPART: &str = "multipart/form-data";

/// What a `GET` request may carry beside `query` and `variables`.
#[derive(serde::Deserialize)]
struct GetParameters {
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
}

/// The media type an answer is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Media {
    /// Status codes follow the outcome: 400 for a document that does not parse or validate.
    GraphqlResponseJson,
    /// The legacy type: 200 for every well-formed request.
    Json,
}

impl Media {
    fn content_type(self) -> &'static str {
        match self {
            Self::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
            Self::Json => "application/json; charset=utf-8",
        }
    }
}

/// The media type the client accepts, preferring the newer one; none if it accepts neither.
fn negotiate(headers: &HeaderMap) -> Option<Media> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(Media::Json);
    };
    let mut best: Option<(f32, Media)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let quality = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let candidate = match media.as_str() {
            GRAPHQL_RESPONSE_JSON => Media::GraphqlResponseJson,
            JSON | "application/*" | "*/*" => Media::Json,
            _ => continue,
        };
        if quality > 0.0
            && best.is_none_or(|(q, m)| {
                quality > q
                    || (quality == q && m == Media::Json && candidate == Media::GraphqlResponseJson)
            })
        {
            best = Some((quality, candidate));
        }
    }
    best.map(|(_, media)| media)
}

/// A refusal before execution, in the shape of a GraphQL response without `data`.
fn refuse(
    status: StatusCode,
    code: &'static str,
    message: Message,
    media: Media,
    lang: Lang,
) -> Response {
    Refusal::new(status, code, message).render(media.content_type(), lang)
}

/// What a request's document says about it, read once: execution reuses the parse.
pub(super) struct Operation {
    /// For logs and metrics: the name the client chose, else the name the document gives its
    /// only operation.
    pub label: String,
    /// None when the document does not parse or names no operation that it holds.
    pub kind: Option<OperationType>,
    /// Why the document may not run, if it may not.
    pub refused: Option<DocumentRefusal>,
}

pub(super) fn inspect(
    request: &mut async_graphql::Request,
    documents: &DocumentCache,
    limits: &Limits,
) -> Operation {
    let chosen_name = request.operation_name.clone();
    let unread = |refused| Operation {
        label: "anonymous".to_owned(),
        kind: None,
        refused,
    };
    // A refused document is not parsed (again): refusing must cost less than running.
    let parsed = match documents.prepare(request, limits) {
        Ok(parsed) => parsed,
        Err(refused) => return unread(Some(refused)),
    };
    let (Some(_), Ok(document)) = (parsed, request.parsed_query()) else {
        return Operation {
            label: chosen_name.unwrap_or_else(|| "anonymous".to_owned()),
            ..unread(None)
        };
    };
    let (name, operation) = match (&document.operations, &chosen_name) {
        (DocumentOperations::Single(operation), _) => (None, Some(operation)),
        (DocumentOperations::Multiple(operations), Some(name)) => (
            None,
            operations
                .iter()
                .find(|(n, _)| n.as_str() == name)
                .map(|(_, operation)| operation),
        ),
        (DocumentOperations::Multiple(operations), None) => {
            let first = operations.iter().next();
            (
                first
                    .filter(|_| operations.len() == 1)
                    .map(|(name, _)| name.to_string()),
                first.map(|(_, operation)| operation),
            )
        }
    };
    Operation {
        label: chosen_name
            .or(name)
            .unwrap_or_else(|| "anonymous".to_owned()),
        kind: operation.map(|operation| operation.node.ty),
        refused: None,
    }
}

/// Inspects every operation of a batch. Documents long enough to take a while to parse are
/// parsed on the blocking pool, so that one large document cannot hold a worker that other
/// requests (and `/healthz`) need.
async fn inspect_batch(
    mut batch: BatchRequest,
    documents: &Arc<DocumentCache>,
    limits: &Arc<Limits>,
) -> (BatchRequest, Vec<Operation>) {
    let text: usize = batch.iter().map(|request| request.query.len()).sum();
    if text <= PARSE_INLINE_BYTES {
        let inspected = batch
            .iter_mut()
            .map(|request| inspect(request, documents, limits))
            .collect();
        return (batch, inspected);
    }
    let (documents, limits) = (documents.clone(), limits.clone());
    let parsed = tokio::task::spawn_blocking(move || {
        let inspected = batch
            .iter_mut()
            .map(|request| inspect(request, &documents, &limits))
            .collect();
        (batch, inspected)
    })
    .await;
    parsed.unwrap_or_else(|failed| std::panic::resume_unwind(failed.into_panic()))
}

/// `GET` (query string) and `POST` (JSON or multipart body) GraphQL requests.
pub async fn execute(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let started = Instant::now();
    let limits = &state.limits;
    let headers = request.headers().clone();
    let lang = lang_of(&headers);
    let Some(media) = negotiate(&headers) else {
        return refuse(
            StatusCode::NOT_ACCEPTABLE,
            "NOT_ACCEPTABLE",
            message!(NOT_ACCEPTABLE, first = GRAPHQL_RESPONSE_JSON, second = JSON),
            Media::Json,
            lang,
        );
    };
    let method = request.method().clone();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let multipart = method == Method::POST && content_type.starts_with(MULTIPART);
    if method == Method::POST {
        if !(content_type.starts_with(JSON) || multipart) {
            return refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                message!(UNSUPPORTED_MEDIA_TYPE),
                media,
                lang,
            );
        }
    }
    let declared_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let too_large = || {
        refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            message!(BODY_TOO_LARGE, max = limits.max_body_bytes),
            media,
            lang,
        )
    };
    if declared_length.is_some_and(|length| length > limits.max_body_bytes) {
        return too_large();
    }

    let caller = match identify(&state, &headers, peer).await {
        Ok(caller) => caller,
        Err(refused) => return refused.render(media.content_type(), lang),
    };
    if let Err(refused) = admit(&state, &caller) {
        return refused.render(media.content_type(), lang);
    }
    // Uploads only import figures: a caller who may not record is refused before the body is
    // read, not after a multipart body has been parsed and stored.
    if multipart {
        let allowed = caller.principal.require(Permission::Record);
        if let Err(error) = audit::log_refusal(
            &state.db,
            &caller,
            audit::Action::ImportObservations,
            None,
            allowed,
        )
        .await
        {
            return Refusal::from(&error).render(media.content_type(), lang);
        }
    }

    // The body is read with a cap, whatever its declared length.
    let (parts, body) = request.into_parts();
    let body = match http_body_util::BodyExt::collect(http_body_util::Limited::new(
        body,
        limits.max_body_bytes,
    ))
    .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => return too_large(),
        Err(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                message!(BODY_UNREADABLE),
                media,
                lang,
            )
        }
    };
    let cache = &state.response_cache;
    let cache_key = cache.enabled().then(|| {
        ResponseCache::key(&[
            method.as_str().as_bytes(),
            parts.uri.query().unwrap_or_default().as_bytes(),
            format!("{:?}/{:?}", caller.principal.key_id, caller.principal.role).as_bytes(),
            media.content_type().as_bytes(),
            headers
                .get(header::ACCEPT_LANGUAGE)
                .map_or(&b""[..], HeaderValue::as_bytes),
            &body,
        ])
    });
    // Read before executing: a change committed meanwhile retires what this request computes.
    let version = cache.version(state.feed.head());
    if let Some(key) = &cache_key {
        if let Some(answer) = cache.get(key, version) {
            state
                .metrics
                .record(&answer.operation, started.elapsed(), &[]);
            state.metrics.response_cache_hit();
            return respond_with(answer.status, answer.content_type, answer.body);
        }
    }
    // async-graphql reads `operation_name` from a GET query string; the specification's name is
    // `operationName`.
    let get_operation_name = (method == Method::GET)
        .then(|| Query::<GetParameters>::try_from_uri(&parts.uri).ok())
        .flatten()
        .and_then(|Query(parameters)| parameters.operation_name);
    let mut batch =
        match GraphQLBatchRequest::<async_graphql_axum::rejection::GraphQLRejection>::from_request(
            Request::from_parts(parts, Body::from(body)),
            &(),
        )
        .await
        {
            Ok(batch) => batch.into_inner(),
            Err(rejection) => {
                return match rejection.0 {
                    ParseRequestError::PayloadTooLarge => too_large(),
                    other => refuse(
                        StatusCode::BAD_REQUEST,
                        "BAD_REQUEST",
                        Message::new(describe(&other)),
                        media,
                        lang,
                    ),
                };
            }
        };
    if let (BatchRequest::Single(request), Some(name)) = (&mut batch, get_operation_name) {
        request.operation_name.get_or_insert(name);
    }
    if batch.iter().any(|request| request.query.trim().is_empty()) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            message!(NO_QUERY),
            media,
            lang,
        );
    }
    if let BatchRequest::Batch(requests) = &batch {
        if requests.len() > limits.max_batch {
            return refuse(
                StatusCode::BAD_REQUEST,
                "TOO_MANY_OPERATIONS",
                message!(
                    TOO_MANY_OPERATIONS,
                    count = requests.len(),
                    max = limits.max_batch
                ),
                media,
                lang,
            );
        }
    }
    let (batch, inspected) = inspect_batch(batch, &state.documents, &state.limits).await;
    let writes = inspected
        .iter()
        .any(|operation| operation.kind == Some(OperationType::Mutation));
    if let Some(refusal) = inspected
        .iter()
        .find_map(|operation| operation.refused.clone())
    {
        // A document refused as validation would refuse it: 200 in the legacy media type.
        let status = match media {
            Media::GraphqlResponseJson => StatusCode::BAD_REQUEST,
            Media::Json => StatusCode::OK,
        };
        return Refusal::document(refusal, status).render(media.content_type(), lang);
    }
    if method == Method::GET && writes {
        let mut response = refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            message!(MUTATIONS_BY_POST),
            media,
            lang,
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }

    let request_id = caller.request_id.clone();
    let operations = inspected
        .iter()
        .map(|operation| operation.label.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let mut batch = batch.data(caller);
    batch = batch.data(lang);
    let span = tracing::info_span!("graphql", operation = %operations);
    let timeout = Duration::from_secs(limits.request_timeout_seconds);
    let executed =
        tokio::time::timeout(timeout, state.engine.execute_batch(batch).instrument(span)).await;
    if writes {
        cache.written();
    }
    let Ok(mut answer) = executed else {
        state
            .metrics
            .record(&operations, started.elapsed(), &["TIMEOUT"]);
        return refuse(
            StatusCode::GATEWAY_TIMEOUT,
            "TIMEOUT",
            message!(REQUEST_TIMEOUT, seconds = limits.request_timeout_seconds),
            media,
            lang,
        );
    };

    let mut codes = Vec::new();
    let mut request_error = false;
    let responses = match &mut answer {
        BatchResponse::Single(response) => std::slice::from_mut(response),
        BatchResponse::Batch(responses) => responses.as_mut_slice(),
    };
    for response in responses.iter_mut() {
        error::ensure_codes(response, request_id.as_deref(), lang);
        codes.extend(response.errors.iter().filter_map(|e| {
            e.extensions
                .as_ref()
                .and_then(|x| x.get("code"))
                .map(|code| code.to_string().trim_matches('"').to_owned())
        }));
        request_error |= response.data == async_graphql::Value::Null
            && !response.errors.is_empty()
            && response.errors.iter().all(|e| e.path.is_empty());
    }
    let code_refs: Vec<&str> = codes.iter().map(String::as_str).collect();
    state
        .metrics
        .record(&operations, started.elapsed(), &code_refs);
    if !codes.is_empty() {
        tracing::info!(errors = ?codes, "answered with errors");
    }
    let (status, body) = encode(&answer, media, request_error);
    let single_query = matches!(answer, BatchResponse::Single(_))
        && inspected.first().and_then(|operation| operation.kind) == Some(OperationType::Query);
    if let Some(key) = cache_key.filter(|_| single_query && codes.is_empty()) {
        cache.put(
            key,
            version,
            Answer {
                status,
                content_type: media.content_type(),
                body: body.clone(),
                operation: operations,
            },
        );
    }
    respond_with(status, media.content_type(), body)
}

/// The answer's status and body: with the newer media type, a request that never executed has
/// no `data` and a 400 status.
fn encode(answer: &BatchResponse, media: Media, request_error: bool) -> (StatusCode, Bytes) {
    if media == Media::GraphqlResponseJson && request_error {
        let mut body = serde_json::to_value(answer).unwrap_or_default();
        if let Some(object) = body.as_object_mut() {
            object.remove("data");
        }
        (StatusCode::BAD_REQUEST, Bytes::from(body.to_string()))
    } else {
        let body = serde_json::to_vec(answer).unwrap_or_default();
        (StatusCode::OK, Bytes::from(body))
    }
}

fn respond_with(status: StatusCode, content_type: &'static str, body: Bytes) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// What was wrong with a request that could not be read, without internal detail.
fn describe(error: &ParseRequestError) -> &'static Template {
    match error {
        ParseRequestError::Io(_) => &catalogue::BODY_UNREADABLE,
        ParseRequestError::InvalidRequest(_) => &catalogue::NOT_GRAPHQL_JSON,
        ParseRequestError::InvalidFilesMap(_) | ParseRequestError::MissingMapPart => {
            &catalogue::MULTIPART_MAP_INVALID
        }
        ParseRequestError::InvalidMultipart(_) | ParseRequestError::MissingOperatorsPart => {
            &catalogue::MULTIPART_INVALID
        }
        ParseRequestError::NotUpload | ParseRequestError::MissingFiles => {
            &catalogue::MULTIPART_FILE_MISSING
        }
        ParseRequestError::UnsupportedBatch => &catalogue::BATCHES_NOT_ACCEPTED,
        _ => &catalogue::REQUEST_UNREADABLE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> Option<Media> {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        negotiate(&headers)
    }

    #[test]
    fn the_answer_type_follows_accept() {
        assert_eq!(negotiate(&HeaderMap::new()), Some(Media::Json));
        assert_eq!(
            accept("application/graphql-response+json, application/json;q=0.9"),
            Some(Media::GraphqlResponseJson)
        );
        assert_eq!(accept("application/json"), Some(Media::Json));
        assert_eq!(accept("*/*"), Some(Media::Json));
        assert_eq!(accept("text/html"), None);
    }
}

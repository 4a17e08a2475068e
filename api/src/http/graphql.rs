//! GraphQL over HTTP, as the GraphQL-over-HTTP specification asks: `GET` for queries only,
//! `POST` with JSON (or multipart, for uploads), answers as `application/graphql-response+json` or
//! `application/json` by `Accept`, status codes that tell request errors from field errors, and
//! limits that refuse abuse with a coded error before any work is done.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{BatchRequest, BatchResponse, ParseRequestError};
use async_graphql_axum::rejection::GraphQLRejection;
use async_graphql_axum::GraphQLBatchRequest;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, FromRequest, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use super::auth::admitted;
use super::documents::DocumentCache;
use super::refusal::{lang_of, Refusal};
use super::response_cache::{Answer, ResponseCache};
use super::AppState;
use super::{position_required, POSITION_HEADER};
use crate::config::Limits;
use crate::error;
use crate::graphql::limits::DocumentRefusal;
use crate::graphql::written::{self, WrittenAsJson};
use crate::graphql::Engine;
use crate::message;
use crate::messages::{catalogue, Lang, Message, Template};
use crate::replicas::{Position, Source};
use crate::service::access::Permission;
use crate::service::audit::{self, Caller};

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
) -> Operation {
    let chosen_name = request.operation_name.clone();
    let unread = |refused| Operation {
        label: "anonymous".to_owned(),
        kind: None,
        refused,
    };
    // A refused document is not parsed (again): refusing must cost less than running.
    let parsed = match documents.prepare(request) {
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
) -> (BatchRequest, Vec<Operation>) {
    let text: usize = batch.iter().map(|request| request.query.len()).sum();
    if text <= PARSE_INLINE_BYTES {
        let inspected = batch
            .iter_mut()
            .map(|request| inspect(request, documents))
            .collect();
        return (batch, inspected);
    }
    let documents = documents.clone();
    let parsed = tokio::task::spawn_blocking(move || {
        let inspected = batch
            .iter_mut()
            .map(|request| inspect(request, &documents))
            .collect();
        (batch, inspected)
    })
    .await;
    parsed.unwrap_or_else(|failed| std::panic::resume_unwind(failed.into_panic()))
}

/// `GET` (query string) and `POST` (JSON or multipart body) GraphQL requests: read within the
/// limits, answered from the response cache or run, and encoded as the client accepts.
pub async fn execute(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let started = Instant::now();
    let lang = lang_of(request.headers());
    let Some(media) = negotiate(request.headers()) else {
        let refusal = Refusal::new(
            StatusCode::NOT_ACCEPTABLE,
            "NOT_ACCEPTABLE",
            message!(NOT_ACCEPTABLE, first = GRAPHQL_RESPONSE_JSON, second = JSON),
        );
        return refusal.render(Media::Json.content_type(), lang);
    };
    let exchange = Exchange {
        state: &state,
        media,
        lang,
        started,
    };
    exchange
        .answer(peer, request)
        .await
        .unwrap_or_else(|refusal| refusal.render(media.content_type(), lang))
}

/// One request on its way through: what it is answered in, and when it came.
struct Exchange<'a> {
    state: &'a AppState,
    media: Media,
    lang: Lang,
    started: Instant,
}

/// A request read and checked, ready to run.
struct Checked {
    batch: BatchRequest,
    operations: Vec<Operation>,
}

impl Exchange<'_> {
    async fn answer(&self, peer: SocketAddr, request: Request) -> Result<Response, Refusal> {
        let (parts, body) = request.into_parts();
        let multipart = check_body_headers(&parts.method, &parts.headers, &self.state.limits)?;
        let caller = admitted(self.state, &parts.headers, peer).await?;
        if multipart {
            // Boxed, as the engine's future below: axum's layers move the handler's future
            // twice, and an upload's audit record would double its size.
            Box::pin(self.may_upload(&caller)).await?;
        }
        let body = read_body(body, &self.state.limits).await?;
        let caller_position = position_required(&parts.headers)?;

        let cache = &self.state.response_cache;
        let cache_key = cache.enabled().then(|| {
            ResponseCache::key(&[
                parts.method.as_str().as_bytes(),
                parts.uri.query().unwrap_or_default().as_bytes(),
                format!("{:?}/{:?}", caller.principal.key_id, caller.principal.role).as_bytes(),
                self.media.content_type().as_bytes(),
                parts
                    .headers
                    .get(header::ACCEPT_LANGUAGE)
                    .map_or(&b""[..], HeaderValue::as_bytes),
                &body,
            ])
        });
        // Read before executing: a change committed meanwhile retires what this request computes.
        let version = cache.version(self.state.feed.head());
        // A caller naming its write's position may be newer than anything kept here.
        let cached = cache_key
            .as_ref()
            .filter(|_| caller_position.is_none())
            .and_then(|key| cache.get(key, version));
        if let Some(answer) = cached {
            let metrics = &self.state.metrics;
            metrics.record(&answer.operation, self.started.elapsed(), &[]);
            metrics.response_cache_hit();
            return Ok(respond_with(
                answer.status,
                answer.content_type,
                answer.body,
            ));
        }

        let is_get = parts.method == Method::GET;
        let batch = read_batch(parts, body, multipart, &self.state.limits).await?;
        let checked = self.check(batch, is_get).await?;
        let single_query = matches!(checked.batch, BatchRequest::Single(_))
            && checked.operations.first().and_then(|o| o.kind) == Some(OperationType::Query);
        let request_id = caller.request_id.clone();
        let label = checked.label();
        let (answer, position) = self.run(checked, caller, &label, caller_position).await?;
        let (status, body, codes) = self.encode(answer, request_id.as_deref(), &label);
        if let Some(key) = cache_key.filter(|_| single_query && codes.is_empty()) {
            let answer = Answer {
                status,
                content_type: self.media.content_type(),
                body: body.clone(),
                operation: label,
            };
            cache.put(key, version, answer);
        }
        let mut response = respond_with(status, self.media.content_type(), body);
        if let Some(position) = position.and_then(|p| HeaderValue::from_str(&p.to_string()).ok()) {
            response.headers_mut().insert(POSITION_HEADER, position);
        }
        Ok(response)
    }

    /// Uploads only import figures: a caller who may not record is refused before the body is
    /// read, not after a multipart body has been parsed and stored.
    async fn may_upload(&self, caller: &Caller) -> Result<(), Refusal> {
        let allowed = caller.principal.require(Permission::Record);
        audit::log_refusal(
            &self.state.db,
            caller,
            audit::Action::ImportObservations,
            None,
            allowed,
        )
        .await
        .map_err(|error| Refusal::from(&error))
    }

    /// Holds every operation to the document limits; a mutation must come by `POST`.
    async fn check(&self, batch: BatchRequest, is_get: bool) -> Result<Checked, Refusal> {
        let (batch, operations) = inspect_batch(batch, &self.state.documents).await;
        if let Some(refused) = operations.iter().find_map(|o| o.refused.clone()) {
            // A document refused as validation would refuse it: 200 in the legacy media type.
            let status = match self.media {
                Media::GraphqlResponseJson => StatusCode::BAD_REQUEST,
                Media::Json => StatusCode::OK,
            };
            return Err(Refusal::document(refused, status));
        }
        let checked = Checked { batch, operations };
        if is_get && checked.writes() {
            return Err(Refusal::post_only(message!(MUTATIONS_BY_POST)));
        }
        Ok(checked)
    }

    /// Runs the batch within the time limit, reads on a replica when one has replayed what they
    /// must see; with the log position a write reached.
    async fn run(
        &self,
        checked: Checked,
        caller: Caller,
        label: &str,
        caller_position: Option<Position>,
    ) -> Result<(BatchResponse, Option<Position>), Refusal> {
        let writes = checked.writes();
        // A receipt names the chain head it was answered at, read on the primary: its answer
        // is read there too.
        let receipted = checked.batch.iter().any(Engine::asks_for_receipt);
        let committed = caller.committed.clone();
        let mut batch = checked.batch.data(caller).data(self.lang);
        // A receipt hashes its answer as a tree, in the process.
        if !receipted {
            batch = batch.data(WrittenAsJson);
        }
        if !writes && !receipted {
            let replicas = &self.state.replicas;
            let routed = replicas
                .for_read(caller_position, self.state.feed.head())
                .await;
            if routed.source == Source::Replica {
                batch = crate::graphql::reading_from(batch, routed.db);
            }
        }
        let span = tracing::info_span!("graphql", operation = %label);
        let limit = self.state.limits.request_timeout_seconds;
        // Boxed: axum's layers move the handler's future twice, and the engine's was most of it.
        let executed = tokio::time::timeout(
            Duration::from_secs(limit),
            Box::pin(self.state.engine.execute_batch(batch)).instrument(span),
        )
        .await;
        // Later reads here require the write's position before answers kept earlier retire,
        // so that none is computed again on a replica without it.
        let position = if writes {
            // A write that did not say when it committed did before now.
            let committed = committed.get().unwrap_or_else(Instant::now);
            let position = self.state.replicas.written(committed).await;
            self.state.response_cache.written();
            position
        } else {
            None
        };
        let answer = executed.map_err(|_| {
            let elapsed = self.started.elapsed();
            self.state.metrics.record(label, elapsed, &["TIMEOUT"]);
            Refusal::new(
                StatusCode::GATEWAY_TIMEOUT,
                "TIMEOUT",
                message!(REQUEST_TIMEOUT, seconds = limit),
            )
        })?;
        Ok((answer, position))
    }

    /// Codes and words every error, counts the answer, and writes it: status, body and the codes
    /// of its errors.
    fn encode(
        &self,
        mut answer: BatchResponse,
        request_id: Option<&str>,
        label: &str,
    ) -> (StatusCode, Bytes, Vec<String>) {
        let mut codes = Vec::new();
        let mut request_error = false;
        let responses = match &mut answer {
            BatchResponse::Single(response) => std::slice::from_mut(response),
            BatchResponse::Batch(responses) => responses.as_mut_slice(),
        };
        for response in responses.iter_mut() {
            error::ensure_codes(response, request_id, self.lang);
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
        let elapsed = self.started.elapsed();
        self.state.metrics.record(label, elapsed, &code_refs);
        if !codes.is_empty() {
            tracing::info!(errors = ?codes, "answered with errors");
        }
        let (status, body) = encode(&answer, self.media, request_error);
        (status, body, codes)
    }
}

impl Checked {
    fn writes(&self) -> bool {
        self.operations
            .iter()
            .any(|operation| operation.kind == Some(OperationType::Mutation))
    }

    /// For logs and metrics: the operations' names.
    fn label(&self) -> String {
        self.operations
            .iter()
            .map(|operation| operation.label.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Refuses a body of the wrong type or declared too large before it is read; says whether it is
/// a multipart upload.
fn check_body_headers(
    method: &Method,
    headers: &HeaderMap,
    limits: &Limits,
) -> Result<bool, Refusal> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let multipart = method == Method::POST && content_type.starts_with(MULTIPART);
    if method == Method::POST && !(content_type.starts_with(JSON) || multipart) {
        return Err(Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            message!(UNSUPPORTED_MEDIA_TYPE),
        ));
    }
    let declared_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared_length.is_some_and(|length| length > limits.max_body_bytes) {
        return Err(too_large(limits));
    }
    Ok(multipart)
}

fn too_large(limits: &Limits) -> Refusal {
    Refusal::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        message!(BODY_TOO_LARGE, max = limits.max_body_bytes),
    )
}

/// The body, read with a cap whatever its declared length.
async fn read_body(body: Body, limits: &Limits) -> Result<Bytes, Refusal> {
    let limited = http_body_util::Limited::new(body, limits.max_body_bytes);
    match http_body_util::BodyExt::collect(limited).await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(too_large(limits)),
        Err(_) => Err(Refusal::bad_request(message!(BODY_UNREADABLE))),
    }
}

/// The operations a request carries, each with a document.
async fn read_batch(
    parts: axum::http::request::Parts,
    body: Bytes,
    multipart: bool,
    limits: &Limits,
) -> Result<BatchRequest, Refusal> {
    // async-graphql reads `operation_name` from a GET query string; the specification's name is
    // `operationName`.
    let get_operation_name = (parts.method == Method::GET)
        .then(|| Query::<GetParameters>::try_from_uri(&parts.uri).ok())
        .flatten()
        .and_then(|Query(parameters)| parameters.operation_name);
    // A JSON body, already read, is parsed as async-graphql would after copying it through a
    // reader; GET and uploads are read by async-graphql.
    let read = if parts.method == Method::POST && !multipart {
        batch_from_json(&body)
            .map_err(|error| GraphQLRejection(ParseRequestError::InvalidRequest(Box::new(error))))
    } else {
        GraphQLBatchRequest::<GraphQLRejection>::from_request(
            Request::from_parts(parts, Body::from(body)),
            &(),
        )
        .await
        .map(GraphQLBatchRequest::into_inner)
    };
    let mut batch = match read {
        Ok(batch) => batch,
        Err(GraphQLRejection(ParseRequestError::PayloadTooLarge)) => return Err(too_large(limits)),
        Err(GraphQLRejection(other)) => {
            return Err(Refusal::bad_request(Message::new(describe(&other))))
        }
    };
    if let (BatchRequest::Single(request), Some(name)) = (&mut batch, get_operation_name) {
        request.operation_name.get_or_insert(name);
    }
    if batch.iter().any(|request| request.query.trim().is_empty()) {
        return Err(Refusal::bad_request(message!(NO_QUERY)));
    }
    if let BatchRequest::Batch(requests) = &batch {
        if requests.len() > limits.max_batch {
            let count = requests.len();
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "TOO_MANY_OPERATIONS",
                message!(TOO_MANY_OPERATIONS, count = count, max = limits.max_batch),
            ));
        }
    }
    Ok(batch)
}

/// A JSON body read as `BatchRequest` reads it: one request, or a list of them. `BatchRequest`
/// tries each form in turn on a copy of the whole body in serde's own tree; a body that opens
/// an object can only be one request, as nearly every body is, and is read as one directly.
fn batch_from_json(body: &[u8]) -> serde_json::Result<BatchRequest> {
    match body.iter().find(|byte| !byte.is_ascii_whitespace()) {
        Some(b'{') => serde_json::from_slice(body).map(BatchRequest::Single),
        _ => serde_json::from_slice(body),
    }
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
        (StatusCode::OK, Bytes::from(written::response_json(answer)))
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

    #[test]
    fn a_json_body_is_read_as_batch_request_reads_it() {
        let forms = [
            r#"{"query": "{ platforms { code } }", "variables": {"a": 1}}"#,
            r#"  {"query": "{ a }", "operationName": "A"}"#,
            r#"[{"query": "{ a }"}, {"query": "{ b }"}]"#,
            r#"["{ a }"]"#,
            r#"{"query": 7}"#,
            r#"{"query": "{ a }""#,
            "[]",
            "7",
            "",
        ];
        for body in forms {
            let direct = batch_from_json(body.as_bytes()).map(|batch| format!("{batch:?}"));
            let general = serde_json::from_str::<BatchRequest>(body).map(|b| format!("{b:?}"));
            assert_eq!(direct.is_ok(), general.is_ok(), "{body}");
            if let (Ok(direct), Ok(general)) = (direct, general) {
                assert_eq!(direct, general, "{body}");
            }
        }
    }

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

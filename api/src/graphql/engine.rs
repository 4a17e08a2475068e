//! Running a request so that the same request always gets the same answer, in the order it
//! asks: documents whose fields async-graphql could merge by timing are validated as sent, then
//! run with their fields collected (see `collect`); every answer is put in document order. A
//! query that asks for a receipt (`"extensions": {"receipt": true}`) is answered as of one
//! instant and gets a signed receipt of its answer.

use std::sync::Arc;

use async_graphql::parser::types::OperationType;
use async_graphql::Pos;
use chrono::{SubsecRound, Utc};
use sea_orm::DatabaseConnection;

use super::limits::{is_introspection, DocumentRefusal};
use super::AnswerAsOf;
use crate::error::{ApiError, GraphqlError};
use crate::service::audit::{self, anchor::Anchor};
use crate::service::kept::Kept;
use crate::service::receipts::{answer_digest, Receipt};
use crate::service::recording::GroupCommit;
use crate::service::reference::ReferenceCache;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextValidation,
};
use async_graphql::parser::types::{DocumentOperations, Selection, SelectionSet};
use async_graphql::{
    BatchRequest, BatchResponse, Data, Request, Response, ServerError, ValidationResult,
};
use futures_util::stream::BoxStream;

use super::collect::{collect_fields, needs_collecting, order, FieldTypes};
use super::direct::{DirectAnswers, Lane, NotAnswered};
use super::schema::AppSchema;

pub struct Engine {
    /// Validates and runs documents as they are sent.
    schema: AppSchema,
    /// Validates documents as they are sent and runs nothing.
    validator: AppSchema,
    /// Runs, without validating them again, requests that `schema` answered without errors
    /// and collected documents whose originals `validator` passed.
    collected: AppSchema,
    types: FieldTypes,
    /// Signs receipts; none when the server has no signing key.
    anchor: Option<Arc<Anchor>>,
    db: DatabaseConnection,
    validated: ValidatedRequests,
    /// Validated dashboard queries, answered without the executor.
    direct: DirectAnswers,
    /// The process's writer of batches, which the schemas share.
    writer: GroupCommit,
}

/// The request extension that asks for a receipt.
pub const RECEIPT_EXTENSION: &str = "receipt";

impl Engine {
    pub fn new(
        schema: AppSchema,
        validator: AppSchema,
        collected: AppSchema,
        anchor: Option<Arc<Anchor>>,
        db: DatabaseConnection,
        reference: Arc<ReferenceCache>,
        writer: GroupCommit,
    ) -> Self {
        Self {
            types: FieldTypes::of(&schema.sdl()),
            schema,
            validator,
            collected,
            anchor,
            direct: DirectAnswers::new(db.clone(), reference),
            db,
            validated: ValidatedRequests::default(),
            writer,
        }
    }

    /// Requests answered without async-graphql's executor (see `direct`).
    pub fn direct_answers(&self) -> u64 {
        self.direct.answered()
    }

    /// Batches of figures handed to the writer and not yet answered.
    pub fn write_batches_pending(&self) -> usize {
        self.writer.pending()
    }

    /// Whether a request asks for a receipt of its answer.
    pub fn asks_for_receipt(request: &Request) -> bool {
        request.extensions.get(RECEIPT_EXTENSION) == Some(&async_graphql::Value::Boolean(true))
    }

    /// Receipts and batches are boxed: the futures of their paths would otherwise make every
    /// request's future larger, copied whole as axum's layers move it.
    pub async fn execute(&self, request: Request) -> Response {
        if Self::asks_for_receipt(&request) {
            Box::pin(self.answer_with_receipt(request)).await
        } else {
            self.answer(request).await
        }
    }

    /// Answers a query as of this instant, with a signed receipt of the answer in its
    /// `extensions` (an answer with errors gets none).
    async fn answer_with_receipt(&self, mut request: Request) -> Response {
        let Some(anchor) = &self.anchor else {
            let error = ApiError::ReceiptsUnavailable.extend();
            return Response::from_errors(vec![error.into_server_error(Pos::default())]);
        };
        let name = request.operation_name.clone();
        let is_query = request.parsed_query().ok().map(|document| {
            operation_type(document, name.as_deref()) == Some(OperationType::Query)
        });
        if is_query == Some(false) {
            let refused =
                DocumentRefusal::new("BAD_REQUEST", crate::message!(RECEIPTS_FOR_QUERIES_ONLY));
            return Response::from_errors(vec![refused.into_server_error()]);
        }
        let as_of = Utc::now().trunc_subsecs(6);
        let chain_head = match audit::chain_head(&self.db).await {
            Ok(head) => head,
            Err(error) => {
                return Response::from_errors(vec![error
                    .extend()
                    .into_server_error(Pos::default())])
            }
        };
        let query = request.query.clone();
        let variables = serde_json::to_value(&request.variables).unwrap_or_default();
        request = request.data(AnswerAsOf(as_of));
        let mut response = self.answer(request).await;
        if response.is_err() {
            return response;
        }
        let data = serde_json::to_value(&response.data).unwrap_or_default();
        let receipt = Receipt {
            query,
            variables,
            operation_name: name,
            as_of,
            chain_head,
            answer_sha256: answer_digest(&data),
        };
        let token = receipt.sign(anchor);
        let described = serde_json::json!({
            "token": token,
            "asOf": receipt.as_of_text(),
            "chainHead": receipt.chain_head,
            "answerSha256": receipt.answer_sha256,
        });
        if let Ok(value) = async_graphql::Value::from_json(described) {
            response
                .extensions
                .insert(RECEIPT_EXTENSION.to_owned(), value);
        }
        response
    }

    /// Runs a receipt's query again, as of `as_of` or now, as `caller`: the hash of its answer,
    /// or why it could not be answered.
    pub async fn answer_digest_of(
        &self,
        receipt: &Receipt,
        as_of: Option<chrono::DateTime<Utc>>,
        caller: crate::service::audit::Caller,
    ) -> Result<String, String> {
        let mut request = Request::new(receipt.query.clone())
            .variables(async_graphql::Variables::from_json(
                receipt.variables.clone(),
            ))
            .data(caller);
        request.operation_name = receipt.operation_name.clone();
        if let Some(at) = as_of {
            request = request.data(AnswerAsOf(at));
        }
        let response = self.answer(request).await;
        match response.errors.first() {
            Some(error) => Err(error.message.clone()),
            None => Ok(answer_digest(
                &serde_json::to_value(&response.data).unwrap_or_default(),
            )),
        }
    }

    async fn answer(&self, mut request: Request) -> Response {
        let name = request.operation_name.clone();
        let uploads = !request.uploads.is_empty();
        let validated = (!uploads)
            .then(|| ValidatedRequests::key(&request))
            .flatten();
        let lane = validated.as_ref().and_then(|key| self.validated.lane(key));
        if lane == Some(Lane::Direct) {
            match self.answer_directly(&mut request, name.as_deref()).await {
                Ok(response) => return response,
                Err(NotAnswered::Unwritten) => {
                    if let Some(key) = validated.clone() {
                        self.validated.insert(key, Lane::Executor);
                    }
                }
                Err(NotAnswered::Declined) => {}
            }
        }
        let document = match request.parsed_query() {
            Ok(document) if uploads || !needs_collecting(document) => {
                // Even uncollected, the root is answered grouped by the area that has each
                // field (`MergedObject`), not in the order asked.
                let asked = chosen_selection(document, name.as_deref());
                let Some(key) = validated else {
                    return run(&self.schema, request, asked).await;
                };
                if lane.is_some() {
                    return run(&self.collected, request, asked).await;
                }
                // An introspecting request always runs on `schema`: `collected` has types of
                // its own (see `schema::build_schema`).
                let introspects = introspects(document, name.as_deref());
                let lane = Lane::of(chosen_operation(document, name.as_deref()));
                let response = run(&self.schema, request, asked).await;
                if response.errors.is_empty() && !introspects {
                    self.validated.insert(key, lane);
                }
                return response;
            }
            Ok(document) => document.clone(),
            Err(_) => return self.schema.execute(request).await,
        };
        let Some(collected) =
            collect_fields(&document, name.as_deref(), &request.variables, &self.types)
        else {
            return self.schema.execute(request).await;
        };
        let known = validated
            .as_ref()
            .filter(|key| self.validated.contains(key));
        if known.is_none() {
            let mut check =
                Request::new(request.query.clone()).variables(request.variables.clone());
            check.operation_name = name.clone();
            check.set_parsed_query(document);
            let checked = self.validator.execute(check).await;
            if checked.is_err() {
                return checked;
            }
            if let Some(key) = validated {
                self.validated.insert(key, Lane::Executor);
            }
        }
        let asked = chosen_selection(&collected, name.as_deref());
        request.set_parsed_query(collected);
        run(&self.collected, request, asked).await
    }

    /// A validated request of the direct lane, answered by its root field's own answer if it
    /// can be; the request is left as it came otherwise.
    async fn answer_directly(
        &self,
        request: &mut Request,
        name: Option<&str>,
    ) -> Result<Response, NotAnswered> {
        // Held apart while the document is borrowed from the request.
        let data = std::mem::take(&mut request.data);
        let variables = std::mem::take(&mut request.variables);
        let operation = request
            .parsed_query()
            .ok()
            .and_then(|document| chosen_operation(document, name));
        let direct = match operation {
            Some(operation) => self.direct.answer(&data, &variables, operation).await,
            None => Err(NotAnswered::Declined),
        };
        request.data = data;
        request.variables = variables;
        direct
    }

    pub async fn execute_batch(&self, batch: BatchRequest) -> BatchResponse {
        match batch {
            BatchRequest::Single(request) => BatchResponse::Single(self.execute(request).await),
            BatchRequest::Batch(requests) => BatchResponse::Batch(
                Box::pin(futures_util::future::join_all(
                    requests.into_iter().map(|request| self.execute(request)),
                ))
                .await,
            ),
        }
    }

    /// A subscription's stream of answers.
    pub fn subscribe(
        &self,
        request: Request,
        session_data: Arc<Data>,
    ) -> BoxStream<'static, Response> {
        self.schema
            .execute_stream_with_session_data(request, session_data)
    }
}

/// Requests (document, operation and variables) that passed validation, with the way they are
/// answered: the same request again runs without being validated again, as nothing it was
/// validated against changes while the server runs. Validating took a tenth of a small
/// dashboard query's time.
struct ValidatedRequests(Kept<ValidatedRequest, Lane>);

/// A request's text, its operation's name and its variables (as JSON).
type ValidatedRequest = (String, Option<String>, String);

const MAX_VALIDATED: usize = 1024;
/// Longer requests are validated every time, so that the memo holds at most about 16 MB.
const MAX_VALIDATED_BYTES: usize = 16 * 1024;

impl Default for ValidatedRequests {
    fn default() -> Self {
        Self(Kept::new(MAX_VALIDATED))
    }
}

impl ValidatedRequests {
    /// What makes a request valid or not: its text, its operation's name and its variables.
    fn key(request: &Request) -> Option<ValidatedRequest> {
        let variables = serde_json::to_string(&request.variables).ok()?;
        let name = request.operation_name.clone();
        let length = request.query.len() + name.as_ref().map_or(0, String::len) + variables.len();
        (length <= MAX_VALIDATED_BYTES).then(|| (request.query.clone(), name, variables))
    }

    fn contains(&self, key: &ValidatedRequest) -> bool {
        self.0.get(key).is_some()
    }

    fn lane(&self, key: &ValidatedRequest) -> Option<Lane> {
        self.0.get(key)
    }

    fn insert(&self, key: ValidatedRequest, lane: Lane) {
        self.0.insert(key, lane);
    }
}

/// Runs `request` on `schema` and puts its answer in the order `asked`.
async fn run(schema: &AppSchema, request: Request, asked: Option<SelectionSet>) -> Response {
    let mut response = schema.execute(request).await;
    if let Some(asked) = asked {
        order(&mut response.data, &asked);
    }
    response
}

/// The kind of the operation a request runs.
fn operation_type(
    document: &async_graphql::parser::types::ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<OperationType> {
    chosen_operation(document, operation_name).map(|operation| operation.node.ty)
}

fn chosen_operation<'a>(
    document: &'a async_graphql::parser::types::ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<&'a async_graphql::Positioned<async_graphql::parser::types::OperationDefinition>> {
    match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), _) => Some(operation),
        (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name),
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next()
        }
        _ => None,
    }
}

/// Whether the operation a request runs, written without fragments, asks for `__schema` or
/// `__type` (which only the root has).
fn introspects(
    document: &async_graphql::parser::types::ExecutableDocument,
    operation_name: Option<&str>,
) -> bool {
    chosen_operation(document, operation_name).is_some_and(|operation| {
        operation.node.selection_set.node.items.iter().any(
            |item| matches!(&item.node, Selection::Field(field) if is_introspection(&field.node)),
        )
    })
}

/// The selection set of the operation a request runs, to put its answer in order: none when it
/// asks for one field at the root, whose answer async-graphql and the plain path give in order
/// (only the merged root answers its fields grouped by area), so that most requests clone no
/// selection.
fn chosen_selection(
    document: &async_graphql::parser::types::ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<SelectionSet> {
    let selection = &chosen_operation(document, operation_name)?
        .node
        .selection_set
        .node;
    let one_field =
        matches!(selection.items.as_slice(), [only] if matches!(only.node, Selection::Field(_)));
    (!one_field).then(|| selection.clone())
}

/// Makes a schema that validates and stops: its `execute` step returns at once.
pub struct ValidateOnly;

impl ExtensionFactory for ValidateOnly {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ValidateOnly)
    }
}

#[async_trait::async_trait]
impl Extension for ValidateOnly {
    async fn execute(
        &self,
        _ctx: &ExtensionContext<'_>,
        _operation_name: Option<&str>,
        _next: NextExecute<'_>,
    ) -> Response {
        Response::default()
    }
}

/// Makes a schema that runs documents without validating them: it runs only requests that
/// passed validation on another schema, as sent or before their fields were collected, so
/// validating again would repeat the same verdict (a fifth of a small query's work).
#[derive(Default)]
pub struct AlreadyValidated(Arc<AlreadyValidatedHook>);

impl ExtensionFactory for AlreadyValidated {
    // One shared hook: nothing is allocated for a request.
    fn create(&self) -> Arc<dyn Extension> {
        self.0.clone()
    }
}

#[derive(Default)]
struct AlreadyValidatedHook;

#[async_trait::async_trait]
impl Extension for AlreadyValidatedHook {
    async fn validation(
        &self,
        _ctx: &ExtensionContext<'_>,
        _next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        // No cache hints, complexity or depth: the first validation enforced the limits.
        Ok(ValidationResult {
            cache_control: Default::default(),
            complexity: 0,
            depth: 0,
        })
    }
}

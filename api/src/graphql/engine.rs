//! Running a request so that the same request always gets the same answer, in the order it
//! asks: documents whose fields async-graphql could merge by timing are validated as sent, then
//! run with their fields collected (see `collect`); every answer is put in document order.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute};
use async_graphql::parser::types::{DocumentOperations, SelectionSet};
use async_graphql::{BatchRequest, BatchResponse, Data, Request, Response};
use futures_util::stream::BoxStream;

use super::collect::{collect_fields, needs_collecting, order, FieldTypes};
use super::schema::AppSchema;

pub struct Engine {
    /// Validates and runs documents as they are sent.
    schema: AppSchema,
    /// Validates documents as they are sent and runs nothing.
    validator: AppSchema,
    /// Runs collected documents, whose originals `validator` passed.
    collected: AppSchema,
    types: FieldTypes,
}

impl Engine {
    pub fn new(schema: AppSchema, validator: AppSchema, collected: AppSchema) -> Self {
        Self {
            types: FieldTypes::of(&schema.sdl()),
            schema,
            validator,
            collected,
        }
    }

    pub async fn execute(&self, mut request: Request) -> Response {
        let name = request.operation_name.clone();
        let uploads = !request.uploads.is_empty();
        let document = match request.parsed_query() {
            Ok(document) if uploads || !needs_collecting(document) => {
                let asked = chosen_selection(document, name.as_deref());
                return run(&self.schema, request, asked).await;
            }
            Ok(document) => document.clone(),
            Err(_) => return self.schema.execute(request).await,
        };
        let Some(collected) =
            collect_fields(&document, name.as_deref(), &request.variables, &self.types)
        else {
            return self.schema.execute(request).await;
        };
        let mut check = Request::new(request.query.clone()).variables(request.variables.clone());
        check.operation_name = name.clone();
        check.set_parsed_query(document);
        let checked = self.validator.execute(check).await;
        if checked.is_err() {
            return checked;
        }
        let asked = chosen_selection(&collected, name.as_deref());
        request.set_parsed_query(collected);
        run(&self.collected, request, asked).await
    }

    pub async fn execute_batch(&self, batch: BatchRequest) -> BatchResponse {
        match batch {
            BatchRequest::Single(request) => BatchResponse::Single(self.execute(request).await),
            BatchRequest::Batch(requests) => BatchResponse::Batch(
                futures_util::future::join_all(
                    requests.into_iter().map(|request| self.execute(request)),
                )
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

/// Runs `request` on `schema` and puts its answer in the order `asked`.
async fn run(schema: &AppSchema, request: Request, asked: Option<SelectionSet>) -> Response {
    let mut response = schema.execute(request).await;
    if let Some(asked) = asked {
        order(&mut response.data, &asked);
    }
    response
}

/// The selection set of the operation a request runs.
fn chosen_selection(
    document: &async_graphql::parser::types::ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<SelectionSet> {
    let operation = match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), _) => operation,
        (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name)?,
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next()?
        }
        _ => return None,
    };
    Some(operation.node.selection_set.node.clone())
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

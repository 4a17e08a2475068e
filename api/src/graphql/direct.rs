//! Dashboard root fields answered without async-graphql's request pipeline.
//!
//! A validated query whose one root field is a dashboard's (see [`Lane::of`]) is answered the
//! next times it comes by the field's own answer: the same service call its resolver makes and
//! the same writers (`written`, `plain`) that write the resolver's object into the JSON body.
//! What it skips is the pipeline around them (extension hooks, the request's environment, the
//! root's container and its boxed futures): about a sixth of a small dashboard query's work.
//! Tests ask each such query again and again and compare the answers byte for byte.
//!
//! A request goes to the executor as before whenever this path cannot give the same answer:
//! an answer built as a tree (receipts, WebSocket), a directive, fragments, a field the writers
//! leave to a resolver, an error. A selection the writers
//! cannot write sends its document to the executor from then on.

use std::any::{Any, TypeId};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, OperationDefinition, OperationType, Selection};
use async_graphql::{Data, InputType, Name, Positioned, Response, Value, Variables};
use sea_orm::DatabaseConnection;

use super::scalars::Instant;
use super::written::WrittenAsJson;
use super::{observations, savings, AnswerAsOf};
use crate::service::reference::ReferenceCache;

/// Which way a validated request is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lane {
    /// By its root field's own answer, when it can be written.
    Direct,
    /// By async-graphql's executor.
    Executor,
}

impl Lane {
    /// The lane of a validated operation: direct when it is a query of one dashboard root
    /// field, without directives.
    pub fn of(operation: Option<&Positioned<OperationDefinition>>) -> Lane {
        match operation.and_then(|operation| root_field(&operation.node)) {
            Some(field) if DIRECT_FIELDS.contains(&field.node.name.node.as_str()) => Lane::Direct,
            _ => Lane::Executor,
        }
    }
}

/// The root fields answered directly.
const DIRECT_FIELDS: &[&str] = &["observations", "savingsComparison"];

/// Why the direct path left a request to the executor.
pub(crate) enum NotAnswered {
    /// The writers leave part of the selection to resolvers: the document goes to the executor
    /// from now on.
    Unwritten,
    /// Something of this request (its transport, an argument, the database) is for the
    /// executor to answer.
    Declined,
}

/// What a direct answer reads with, besides the request: what the schemas' data holds.
pub(crate) struct DirectAnswers {
    db: DatabaseConnection,
    reference: Arc<ReferenceCache>,
    answered: AtomicU64,
}

impl DirectAnswers {
    pub fn new(db: DatabaseConnection, reference: Arc<ReferenceCache>) -> Self {
        Self {
            db,
            reference,
            answered: AtomicU64::new(0),
        }
    }

    /// Requests answered directly since the server started.
    pub fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }

    /// Answers `operation` of `request`, a validated query whose lane is direct.
    pub async fn answer(
        &self,
        data: &Data,
        variables: &Variables,
        operation: &Positioned<OperationDefinition>,
    ) -> Result<Response, NotAnswered> {
        if get::<WrittenAsJson>(data).is_none() {
            return Err(NotAnswered::Declined);
        }
        let Some(field) = root_field(&operation.node) else {
            return Err(NotAnswered::Declined);
        };
        let context = FieldContext {
            // A replica's connection when the request reads on one, as resolvers do.
            db: get::<DatabaseConnection>(data).unwrap_or(&self.db),
            reference: &self.reference,
            answer_as_of: get::<AnswerAsOf>(data).map(|at| at.0),
        };
        let arguments = Arguments {
            variables,
            operation: &operation.node,
            field,
        };
        let mut out = Vec::with_capacity(super::written::OBJECT_BYTES);
        match field.node.name.node.as_str() {
            "observations" => observations::write_page(&context, &arguments, &mut out).await?,
            "savingsComparison" => {
                savings::write_comparison(&context, &arguments, &mut out).await?
            }
            _ => return Err(NotAnswered::Declined),
        }
        self.answered.fetch_add(1, Ordering::Relaxed);
        let key = field.node.response_key().node.clone();
        let data = IndexMap::from([(key, Value::Binary(out.into()))]);
        Ok(Response::new(Value::Object(data)))
    }
}

impl NotAnswered {
    /// Whether the writers wrote the whole selection.
    pub fn unless_written(written: bool) -> Result<(), NotAnswered> {
        written.then_some(()).ok_or(NotAnswered::Unwritten)
    }

    /// For an error the executor reports itself.
    pub fn declined<E>(_: E) -> NotAnswered {
        NotAnswered::Declined
    }
}

/// What resolvers find in their context, for a direct answer.
pub(crate) struct FieldContext<'a> {
    pub db: &'a DatabaseConnection,
    pub reference: &'a ReferenceCache,
    /// The instant the whole request is answered as of, if it has one (`AnswerAsOf`).
    answer_as_of: Option<chrono::DateTime<chrono::Utc>>,
}

impl FieldContext<'_> {
    /// The instant a field is answered as of: its `asOf` argument, else the request's, as
    /// resolvers read it.
    pub fn as_of(&self, given: Option<Instant>) -> Option<chrono::DateTime<chrono::Utc>> {
        given.map(|at| at.0).or(self.answer_as_of)
    }
}

/// The arguments of a root field, with the request's variables and the operation that
/// defines them.
pub(crate) struct Arguments<'a> {
    variables: &'a Variables,
    operation: &'a OperationDefinition,
    field: &'a Positioned<Field>,
}

impl Arguments<'_> {
    /// The argument `name` as its resolver would get it; declined for a value its resolver
    /// would not get (the executor answers it, with its error).
    pub fn get<T: InputType>(&self, name: &str) -> Result<Option<T>, NotAnswered> {
        let Some(value) = self.field.node.get_argument(name) else {
            return Ok(None);
        };
        let value = value
            .node
            .clone()
            .into_const_with(|variable| self.variable(&variable).cloned().ok_or(()))
            .map_err(NotAnswered::declined)?;
        Option::<T>::parse(Some(value)).map_err(NotAnswered::declined)
    }

    /// A variable's value as the executor reads it: as sent, else its default (null for a
    /// nullable variable without one).
    fn variable(&self, name: &Name) -> Option<&Value> {
        let definition = self
            .operation
            .variable_definitions
            .iter()
            .find(|definition| definition.node.name.node == *name)?;
        self.variables
            .get(name)
            .or_else(|| definition.node.default_value())
    }

    pub fn field(&self) -> &Field {
        &self.field.node
    }
}

/// The one field of a query without directives, itself without directives.
fn root_field(operation: &OperationDefinition) -> Option<&Positioned<Field>> {
    if operation.ty != OperationType::Query || !operation.directives.is_empty() {
        return None;
    }
    match operation.selection_set.node.items.as_slice() {
        [only] => match &only.node {
            Selection::Field(field) if field.node.directives.is_empty() => Some(field),
            _ => None,
        },
        _ => None,
    }
}

/// A value of a request's data, by type.
fn get<T: Any>(data: &Data) -> Option<&T> {
    data.get(&TypeId::of::<T>())
        .and_then(|value| value.downcast_ref())
}

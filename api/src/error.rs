//! The errors a client can see, and the one place they become GraphQL errors with a code.

use std::sync::Arc;

use async_graphql::ErrorExtensions;
use sea_orm::DbErr;

use crate::graphql::limits::DocumentRefusal;
use crate::messages::{Lang, Message};

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("{}", self.message())]
    NotFound {
        entity: &'static str,
        /// What the value is: a `code`, an `id`, a `prefix`.
        key: &'static str,
        value: String,
        /// The argument that carried the value, where a request gave it (`metric`, `filter.agency`).
        argument: Option<&'static str>,
    },
    #[error("{argument}: {message}")]
    BadUserInput {
        argument: &'static str,
        message: Message,
    },
    /// One or more items of a batch are invalid; nothing of the batch was stored. `failures`
    /// holds the first [`MAX_ITEM_FAILURES`] of them, `total` counts them all.
    #[error("{}", self.message())]
    InvalidItems {
        failures: Vec<ItemFailure>,
        total: usize,
    },
    #[error("{0}")]
    Unauthenticated(Message),
    #[error("{0}")]
    Forbidden(Message),
    /// The write was based on a state that has changed since (a stale revision, a reused key).
    #[error("{0}")]
    Conflict(Message),
    /// A receipt was asked for or presented, but the server has no signing key.
    #[error("{}", self.message())]
    ReceiptsUnavailable,
    /// The database cannot be reached; the request may be retried.
    #[error("{}", self.message())]
    Unavailable(Arc<DbErr>),
    /// Details go to the log only: clients never see SQL or database text.
    #[error("{}", self.message())]
    Database(Arc<DbErr>),
}

/// How many item failures an answer (and the audit entry of the refusal) lists one by one; the
/// rest are counted.
pub const MAX_ITEM_FAILURES: usize = 100;

/// Why one item of a batch was refused.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ItemFailure {
    /// The item's position in the batch, from 0 (for an import: the CSV line is `line`).
    pub index: usize,
    /// The CSV line the item came from, for imports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    pub field: &'static str,
    /// In English where it is stored (the audit trail); in the request's language in answers.
    #[serde(serialize_with = "in_english")]
    pub message: Message,
}

fn in_english<S: serde::Serializer>(message: &Message, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(message)
}

impl ItemFailure {
    /// The failure as an answer lists it, in `lang`.
    pub fn to_json(&self, lang: Lang) -> serde_json::Value {
        let mut json = serde_json::json!({
            "index": self.index,
            "field": self.field,
            "message": self.message.render(lang),
        });
        if let Some(line) = self.line {
            json["line"] = line.into();
        }
        json
    }
}

impl ApiError {
    pub fn not_found(entity: &'static str, code: impl Into<String>) -> Self {
        Self::NotFound {
            entity,
            key: "code",
            value: code.into(),
            argument: None,
        }
    }

    /// Nothing has this id (an observation's, a metric's).
    pub fn no_such_id(entity: &'static str, id: impl ToString) -> Self {
        Self::NotFound {
            entity,
            key: "id",
            value: id.to_string(),
            argument: None,
        }
    }

    /// Names the argument a looked-up value came from, so that a client can point at it.
    pub fn for_argument(self, name: &'static str) -> Self {
        match self {
            Self::NotFound {
                entity, key, value, ..
            } => Self::NotFound {
                entity,
                key,
                value,
                argument: Some(name),
            },
            other => other,
        }
    }

    /// The failures of a batch, the first [`MAX_ITEM_FAILURES`] of them in detail.
    pub fn invalid_items(mut failures: Vec<ItemFailure>) -> Self {
        let total = failures.len();
        failures.truncate(MAX_ITEM_FAILURES);
        Self::InvalidItems { failures, total }
    }

    pub fn bad_input(argument: &'static str, message: Message) -> Self {
        Self::BadUserInput { argument, message }
    }

    /// What the error says, in any language.
    pub fn message(&self) -> Message {
        match self {
            Self::NotFound {
                entity, key, value, ..
            } => not_found_message(entity, key, value),
            Self::BadUserInput { message, .. }
            | Self::Unauthenticated(message)
            | Self::Forbidden(message)
            | Self::Conflict(message) => message.clone(),
            Self::InvalidItems { total, .. } => crate::message!(INVALID_ITEMS, total = total),
            Self::ReceiptsUnavailable => crate::message!(RECEIPTS_UNAVAILABLE),
            Self::Unavailable(_) => crate::message!(DATABASE_UNAVAILABLE),
            Self::Database(_) => crate::message!(INTERNAL),
        }
    }

    /// The text a client reads, in `lang`.
    pub fn render(&self, lang: Lang) -> String {
        match self {
            Self::BadUserInput { argument, message } => {
                format!("{argument}: {}", message.render(lang))
            }
            other => other.message().render(lang),
        }
    }

    /// A refusal of the caller's request, as opposed to a failure of the server: these are logged
    /// in the audit trail when they refuse a write.
    pub fn is_refusal(&self) -> bool {
        !matches!(self, Self::Database(_) | Self::Unavailable(_))
    }

    /// The machine-readable `extensions.code` of the error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "NOT_FOUND",
            Self::BadUserInput { .. } | Self::InvalidItems { .. } => "BAD_USER_INPUT",
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::Conflict(_) => "CONFLICT",
            Self::ReceiptsUnavailable => "RECEIPTS_UNAVAILABLE",
            Self::Unavailable(_) => "SERVICE_UNAVAILABLE",
            Self::Database(_) => "INTERNAL_SERVER_ERROR",
        }
    }
}

/// "No metric has the code `x`", for a lookup and for an item of a batch alike.
pub fn not_found_message(entity: &'static str, key: &'static str, value: &str) -> Message {
    crate::message!(NOT_FOUND, value = value)
        .with_word("entity", entity)
        .with_word("key", key)
}

impl From<DbErr> for ApiError {
    fn from(error: DbErr) -> Self {
        Self::from(Arc::new(error))
    }
}

impl From<Arc<DbErr>> for ApiError {
    fn from(error: Arc<DbErr>) -> Self {
        match error.as_ref() {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => Self::Unavailable(error),
            DbErr::Exec(cause) | DbErr::Query(cause) if connection_lost(cause) => {
                Self::Unavailable(error)
            }
            _ => Self::Database(error),
        }
    }
}

/// A statement failed because the connection under it broke (the database went away while the
/// connection sat in the pool), not because of the statement.
fn connection_lost(cause: &sea_orm::RuntimeErr) -> bool {
    use sea_orm::sqlx::Error;
    let sea_orm::RuntimeErr::SqlxError(error) = cause else {
        return false;
    };
    match error.as_ref() {
        Error::Io(_) | Error::PoolTimedOut | Error::PoolClosed | Error::WorkerCrashed => true,
        // SQLSTATE classes 08 (connection exception) and 57P (the server is shutting down or
        // starting up), as PostgreSQL tells connected clients when it stops.
        Error::Database(database) => database
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
        _ => false,
    }
}

impl ErrorExtensions for ApiError {
    /// The error with its code, in English until [`ensure_codes`] puts it in the request's
    /// language: the error itself travels as the source.
    fn extend(&self) -> async_graphql::Error {
        match self {
            Self::Database(source) => tracing::error!(error = %source, "database error"),
            Self::Unavailable(source) => tracing::warn!(error = %source, "database unavailable"),
            _ => {}
        }
        async_graphql::Error::new_with_source(self.clone()).extend_with(|_, extensions| {
            extensions.set("code", self.code());
            match self {
                Self::BadUserInput { argument, .. }
                | Self::NotFound {
                    argument: Some(argument),
                    ..
                } => extensions.set("argument", *argument),
                Self::InvalidItems { failures, total } => {
                    extensions.set("failures", failures_value(failures, Lang::En));
                    extensions.set("failureCount", *total as u64);
                }
                _ => {}
            }
        })
    }
}

fn failures_value(failures: &[ItemFailure], lang: Lang) -> async_graphql::Value {
    let listed = failures.iter().map(|f| f.to_json(lang)).collect();
    async_graphql::Value::from_json(serde_json::Value::Array(listed)).unwrap_or_default()
}

/// Most errors one answer carries: a document can be made to fail the same way thousands of
/// times, and the client learns nothing more from the thousandth.
pub const MAX_ERRORS: usize = 50;

/// Keeps the first [`MAX_ERRORS`] errors, and says how many more there were.
fn limit_errors(response: &mut async_graphql::Response, lang: Lang) {
    if response.errors.len() <= MAX_ERRORS {
        return;
    }
    let left_out = response.errors.len() - (MAX_ERRORS - 1);
    response.errors.truncate(MAX_ERRORS - 1);
    let mut summary = async_graphql::ServerError::new(
        crate::message!(ERRORS_LEFT_OUT, count = left_out).render(lang),
        None,
    );
    summary
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", "TOO_MANY_ERRORS");
    response.errors.push(summary);
}

/// Gives every error of a response a code, and its text in the request's language. Errors
/// raised by the services carry theirs; the rest come from async-graphql checking the request:
/// without a path, the document did not parse or validate against the schema; with one, an
/// argument's value could not be read as its type (their detail stays async-graphql's English).
/// Internal errors (and outages) also carry the request's id, which the log has too, so that a
/// report from a client can be matched with what the server saw.
pub fn ensure_codes(response: &mut async_graphql::Response, request_id: Option<&str>, lang: Lang) {
    // Validation walks the document's fragments in hash order, and fields resolve concurrently:
    // in the document's order, the same request gets the same errors every time.
    response.errors.sort_by_cached_key(|error| {
        let at = error.locations.first().map(|pos| (pos.line, pos.column));
        (at, format!("{:?}", error.path))
    });
    limit_errors(response, lang);
    for error in &mut response.errors {
        if let Some(raised) = error.source::<ApiError>().cloned() {
            error.message = raised.render(lang);
            let extensions = error.extensions.get_or_insert_with(Default::default);
            if extensions.get("code").is_none() {
                extensions.set("code", raised.code());
            }
            if let ApiError::InvalidItems { failures, .. } = &raised {
                extensions.set("failures", failures_value(failures, lang));
            }
        } else if let Some(refused) = error.source::<DocumentRefusal>() {
            error.message = refused.message.render(lang);
        } else if error
            .extensions
            .as_ref()
            .and_then(|x| x.get("code"))
            .is_none()
        {
            describe_graphql_error(error, lang);
        }
        let extensions = error.extensions.get_or_insert_with(Default::default);
        let internal = extensions.get("code").is_some_and(|c| {
            let code = c.to_string();
            code.contains("INTERNAL_SERVER_ERROR") || code.contains("SERVICE_UNAVAILABLE")
        });
        if let (true, Some(id)) = (internal, request_id) {
            extensions.set("requestId", id);
        }
    }
}

/// Codes an error async-graphql raised, and frames its text in the request's language.
fn describe_graphql_error(error: &mut async_graphql::ServerError, lang: Lang) {
    let detail = error.message.as_str();
    // A scalar that refuses a value during validation: the message names the argument.
    let argument = detail
        .strip_prefix("Invalid value for argument \"")
        .and_then(|rest| rest.split_once('"'))
        .map(|(argument, _)| argument.to_owned());
    let (code, message) = if argument.is_some() {
        (
            "BAD_USER_INPUT",
            crate::message!(ARGUMENT_INVALID, detail = detail),
        )
    } else if error.path.is_empty() {
        match detail {
            "Query is too complex." => ("QUERY_TOO_COMPLEX", crate::message!(QUERY_TOO_COMPLEX)),
            _ if detail.contains(" --> ") => (
                "GRAPHQL_PARSE_FAILED",
                crate::message!(DOCUMENT_UNPARSED, detail = detail),
            ),
            _ => (
                "GRAPHQL_VALIDATION_FAILED",
                crate::message!(DOCUMENT_INVALID, detail = detail),
            ),
        }
    } else {
        (
            "BAD_USER_INPUT",
            crate::message!(INPUT_INVALID, detail = detail),
        )
    };
    error.message = message.render(lang);
    let extensions = error.extensions.get_or_insert_with(Default::default);
    extensions.set("code", code);
    if let Some(argument) = argument {
        extensions.set("argument", argument);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_carries_a_bounded_number_of_errors_and_says_how_many_were_left_out() {
        let mut response = async_graphql::Response::from_errors(
            (0..1000)
                .map(|i| async_graphql::ServerError::new(format!("error {i}"), None))
                .collect(),
        );
        ensure_codes(&mut response, None, Lang::En);
        assert_eq!(response.errors.len(), MAX_ERRORS);
        let last = response.errors.last().unwrap();
        assert_eq!(last.message, "951 more errors were left out of this answer");
        assert_eq!(
            last.extensions.as_ref().unwrap().get("code"),
            Some(&async_graphql::Value::from("TOO_MANY_ERRORS"))
        );
        assert_eq!(response.errors[0].message, "error 0");
    }
}

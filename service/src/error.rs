//! The errors a client can see: each kind has its code, and its words come from the catalogue of
//! messages. The GraphQL layer turns them into errors with `extensions.code`.

use std::sync::Arc;

use sea_orm::DbErr;

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
    /// A subscriber read changes more slowly than they came and was dropped; it may subscribe
    /// again.
    #[error("{}", self.message())]
    SlowSubscriber { missed: u64 },
    /// The server is shutting down; the request may be retried elsewhere or later.
    #[error("{}", self.message())]
    Stopping,
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
            Self::SlowSubscriber { missed } => crate::message!(SLOW_SUBSCRIBER, missed = missed),
            Self::Stopping => crate::message!(SERVER_STOPPING),
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
        !matches!(
            self,
            Self::Database(_) | Self::Unavailable(_) | Self::Stopping | Self::SlowSubscriber { .. }
        )
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
            Self::SlowSubscriber { .. } => "SLOW_SUBSCRIBER",
            Self::Stopping => "SERVICE_UNAVAILABLE",
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
    let sea_orm::RuntimeErr::SqlxError(error) = cause else {
        return false;
    };
    database_unreachable(error)
}

/// The connection or the pool failed, not the statement: the database is not there to answer.
pub(crate) fn database_unreachable(error: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error;
    match error {
        Error::Io(_) | Error::PoolTimedOut | Error::PoolClosed | Error::WorkerCrashed => true,
        // SQLSTATE classes 08 (connection exception) and 57P (the server is shutting down or
        // starting up), as PostgreSQL tells connected clients when it stops.
        Error::Database(database) => database
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
        _ => false,
    }
}

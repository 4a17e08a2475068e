//! The one place errors become GraphQL errors with a code, in the request's language.
//!
//! The kinds of error and their codes are the service's ([`ApiError`]); here they meet the
//! errors async-graphql raises itself, and every answer's errors are put in order, bounded and
//! given their words.

use async_graphql::{ErrorExtensionValues, ErrorExtensions};

pub use service::error::*;

use crate::graphql::limits::DocumentRefusal;
use crate::messages::Lang;

/// Turns a service error into a GraphQL error: `?` does the same, and [`ensure_codes`] finishes
/// both the same way.
pub trait GraphqlError {
    fn extend(&self) -> async_graphql::Error;
}

impl GraphqlError for ApiError {
    /// The error with its code, in English until [`ensure_codes`] puts it in the request's
    /// language: the error itself travels as the source.
    fn extend(&self) -> async_graphql::Error {
        async_graphql::Error::new_with_source(self.clone())
            .extend_with(|_, extensions| describe(self, extensions, Lang::En))
    }
}

/// The extensions of a service error: its code, the argument at fault, the failures of a batch.
fn describe(error: &ApiError, extensions: &mut ErrorExtensionValues, lang: Lang) {
    extensions.set("code", error.code());
    match error {
        ApiError::BadUserInput { argument, .. }
        | ApiError::NotFound {
            argument: Some(argument),
            ..
        } => extensions.set("argument", *argument),
        ApiError::InvalidItems { failures, total } => {
            let listed = failures.iter().map(|f| f.to_json(lang)).collect();
            let listed = serde_json::Value::Array(listed);
            extensions.set(
                "failures",
                async_graphql::Value::from_json(listed).unwrap_or_default(),
            );
            extensions.set("failureCount", *total as u64);
        }
        _ => {}
    }
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
            match &raised {
                ApiError::Database(source) => tracing::error!(error = %source, "database error"),
                ApiError::Unavailable(source) => {
                    tracing::warn!(error = %source, "database unavailable")
                }
                _ => {}
            }
            error.message = raised.render(lang);
            describe(
                &raised,
                error.extensions.get_or_insert_with(Default::default),
                lang,
            );
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

//! A request refused before it runs: one shape for every route and transport, a GraphQL
//! response without `data` whose error carries a code, in the request's language.

use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::messages::{Lang, Message, Template};

use super::ErrorCode;
use crate::error::ApiError;
use crate::graphql::limits::DocumentRefusal;

/// The language a request's `Accept-Language` asks for, else the default (Vietnamese).
pub fn lang_of(headers: &HeaderMap) -> Lang {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|value| value.to_str().ok())
        .and_then(Lang::from_accept_language)
        .unwrap_or_default()
}

#[derive(Debug, Clone)]
pub struct Refusal {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: Message,
    /// The argument at fault, for a refused value.
    pub argument: Option<String>,
    /// For `429`: when the caller may come back.
    pub retry_after: Option<Duration>,
    /// For `405`: the method that is allowed.
    pub allow: Option<&'static str>,
}

impl Refusal {
    pub fn new(status: StatusCode, code: &'static str, message: Message) -> Self {
        Self {
            status,
            code,
            message,
            argument: None,
            retry_after: None,
            allow: None,
        }
    }

    /// A request that cannot be read as a GraphQL request.
    pub fn bad_request(message: Message) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }

    /// A request that only `POST` may make.
    pub fn post_only(message: Message) -> Self {
        Self {
            allow: Some("POST"),
            ..Self::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                message,
            )
        }
    }

    /// A caller over its budget, told when to come back; `why` takes the wait as `{seconds}`.
    pub fn rate_limited(why: &'static Template, wait: Duration) -> Self {
        let seconds = wait.as_secs().max(1);
        Self {
            retry_after: Some(Duration::from_secs(seconds)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                Message::new(why).with("seconds", seconds),
            )
        }
    }

    /// A document over the limits; `status` is what the media type asks for a request error.
    pub fn document(refusal: DocumentRefusal, status: StatusCode) -> Self {
        Self {
            argument: refusal.argument,
            ..Self::new(status, refusal.code, refusal.message)
        }
    }

    /// The answer in the given content type and language, marked so that `/metrics` counts it.
    pub fn render(self, content_type: &'static str, lang: Lang) -> Response {
        let mut extensions = serde_json::json!({ "code": self.code });
        if let Some(argument) = &self.argument {
            extensions["argument"] = argument.as_str().into();
        }
        let body = serde_json::json!({
            "errors": [{ "message": self.message.render(lang), "extensions": extensions }]
        });
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Some(allowed) = self.allow {
            headers.insert(header::ALLOW, HeaderValue::from_static(allowed));
        }
        if let Some(wait) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs()));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response.extensions_mut().insert(ErrorCode(self.code));
        response
    }

    /// The same refusal as an operation's answer over WebSocket.
    pub fn into_graphql(self, lang: Lang) -> async_graphql::Response {
        let mut answer = async_graphql::Response::from_errors(vec![DocumentRefusal {
            code: self.code,
            message: self.message,
            argument: self.argument,
        }
        .into_server_error()]);
        crate::error::ensure_codes(&mut answer, None, lang);
        answer
    }

    /// A JSON answer, for routes that are not GraphQL (exports, files).
    pub fn render_json(self, lang: Lang) -> Response {
        self.render("application/json; charset=utf-8", lang)
    }
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        Self::from(&error)
    }
}

impl From<&ApiError> for Refusal {
    fn from(error: &ApiError) -> Self {
        let status = match error {
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::BadUserInput { .. } | ApiError::InvalidItems { .. } => {
                StatusCode::BAD_REQUEST
            }
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::ReceiptsUnavailable => StatusCode::NOT_IMPLEMENTED,
            ApiError::SlowSubscriber { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Stopping => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Database(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self {
            argument: match error {
                ApiError::BadUserInput { argument, .. }
                | ApiError::NotFound {
                    argument: Some(argument),
                    ..
                } => Some((*argument).to_owned()),
                _ => None,
            },
            ..Self::new(status, error.code(), error.message())
        }
    }
}

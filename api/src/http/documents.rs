//! Parsed GraphQL documents, by their text, checked against the limits before they run.
//!
//! Dashboards send the same few documents again and again, and parsing one costs more than
//! resolving the fields of a small query. A document that parsed is kept and handed to execution
//! already parsed; validation still runs for every request, against its variables.

use async_graphql::parser::types::ExecutableDocument;

use crate::config::Limits;
use crate::graphql::limits::{
    check_document, check_tokens, check_variables, DocumentRefusal, Shape,
};
use crate::service::kept::Kept;

/// Longer documents are parsed every time; past `MAX_DOCUMENTS` everything is dropped and
/// refilled, so the cache holds at most about 16 MB of text and its trees.
const MAX_DOCUMENT_BYTES: usize = 16 * 1024;
const MAX_DOCUMENTS: usize = 1024;

pub struct DocumentCache {
    by_text: Kept<String, ExecutableDocument>,
}

impl Default for DocumentCache {
    fn default() -> Self {
        Self {
            by_text: Kept::new(MAX_DOCUMENTS),
        }
    }
}

impl DocumentCache {
    /// Parses the request's document and refuses it if it is over the limits, on every
    /// transport alike. `None` when the document does not parse: execution reports why.
    pub fn prepare(
        &self,
        request: &mut async_graphql::Request,
        limits: &Limits,
    ) -> Result<Option<Shape>, DocumentRefusal> {
        if !self.parse_cached(request) {
            check_tokens(&request.query, limits)?;
            self.parse(request);
        }
        check_variables(&request.variables)?;
        match request.parsed_query() {
            Ok(document) => check_document(document, limits).map(Some),
            Err(_) => Ok(None),
        }
    }

    /// Gives the request its kept document, if the same text was parsed before.
    fn parse_cached(&self, request: &mut async_graphql::Request) -> bool {
        if request.query.len() > MAX_DOCUMENT_BYTES {
            return false;
        }
        let kept = self.by_text.get(&request.query);
        let found = kept.is_some();
        if let Some(document) = kept {
            request.set_parsed_query(document);
        }
        found
    }

    /// Parses the request's document and keeps it; a document that does not parse is left for
    /// execution to report.
    fn parse(&self, request: &mut async_graphql::Request) {
        let keep = request.query.len() <= MAX_DOCUMENT_BYTES;
        let Ok(document) = request.parsed_query() else {
            return;
        };
        if !keep {
            return;
        }
        let document = document.clone();
        self.by_text.insert(request.query.clone(), document);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_parsed_once_and_a_broken_one_is_not_kept() {
        let cache = DocumentCache::default();
        let limits = Limits::default();
        let mut first = async_graphql::Request::new("{ platforms { code } }");
        cache.prepare(&mut first, &limits).unwrap();
        let mut again = async_graphql::Request::new("{ platforms { code } }");
        cache.prepare(&mut again, &limits).unwrap();
        assert_eq!(
            format!("{:?}", again.parsed_query().unwrap()),
            format!("{:?}", first.parsed_query().unwrap())
        );
        assert_eq!(cache.by_text.len(), 1);

        let mut broken = async_graphql::Request::new("{ platforms { code }");
        assert_eq!(cache.prepare(&mut broken, &limits), Ok(None));
        assert!(broken.parsed_query().is_err());
        assert_eq!(cache.by_text.len(), 1);
    }

    #[test]
    fn a_document_over_the_limits_is_refused_before_or_after_it_is_parsed() {
        let cache = DocumentCache::default();
        let limits = Limits {
            max_tokens: 20,
            ..Limits::default()
        };
        let mut long = async_graphql::Request::new("{ platforms { code } }".repeat(5));
        assert_eq!(
            cache.prepare(&mut long, &limits).unwrap_err().code,
            "TOO_MANY_TOKENS"
        );
        let mut deep = async_graphql::Request::new(format!(
            "{{ platforms {}code{} }}",
            "{ metrics { platform ".repeat(7),
            " } }".repeat(7)
        ));
        let limits = Limits::default();
        assert_eq!(
            cache.prepare(&mut deep, &limits).unwrap_err().code,
            "QUERY_TOO_DEEP"
        );
        // Kept once parsed, and refused again when read from the cache.
        assert_eq!(
            cache.prepare(&mut deep, &limits).unwrap_err().code,
            "QUERY_TOO_DEEP"
        );
    }
}

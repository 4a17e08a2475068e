//! Parsed GraphQL documents, by their text, checked against the limits before they run.
//!
//! Dashboards send the same few documents again and again, and parsing one costs more than
//! resolving the fields of a small query. A document that parsed is kept with its verdict
//! against the limits, and handed to execution already parsed; validation still runs for every
//! request that was not validated before, against its variables.

use std::sync::Arc;

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

/// Documents checked against one set of limits: a kept verdict holds as long as they do.
pub struct DocumentCache {
    limits: Arc<Limits>,
    by_text: Kept<String, (ExecutableDocument, Verdict)>,
}

/// A parsed document's shape, or why it is refused.
type Verdict = Result<Shape, DocumentRefusal>;

impl DocumentCache {
    pub fn new(limits: Arc<Limits>) -> Self {
        Self {
            limits,
            by_text: Kept::new(MAX_DOCUMENTS),
        }
    }

    /// Parses the request's document and refuses it if it is over the limits, on every
    /// transport alike. `None` when the document does not parse: execution reports why.
    pub fn prepare(
        &self,
        request: &mut async_graphql::Request,
    ) -> Result<Option<Shape>, DocumentRefusal> {
        let verdict = match self.kept_verdict(request) {
            Some(verdict) => verdict,
            None => {
                check_tokens(&request.query, &self.limits)?;
                match self.parse(request) {
                    Some(verdict) => verdict,
                    None => return check_variables(&request.variables).map(|()| None),
                }
            }
        };
        check_variables(&request.variables)?;
        verdict.map(Some)
    }

    /// Gives the request its kept document and returns the document's verdict, if the same
    /// text was parsed before.
    fn kept_verdict(&self, request: &mut async_graphql::Request) -> Option<Verdict> {
        if request.query.len() > MAX_DOCUMENT_BYTES {
            return None;
        }
        let (document, verdict) = self.by_text.get(&request.query)?;
        request.set_parsed_query(document);
        Some(verdict)
    }

    /// Parses the request's document, checks it and keeps both; a document that does not parse
    /// is left for execution to report.
    fn parse(&self, request: &mut async_graphql::Request) -> Option<Verdict> {
        let keep = request.query.len() <= MAX_DOCUMENT_BYTES;
        let document = request.parsed_query().ok()?;
        let verdict = check_document(document, &self.limits);
        if keep {
            let kept = (document.clone(), verdict.clone());
            self.by_text.insert(request.query.clone(), kept);
        }
        Some(verdict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_parsed_once_and_a_broken_one_is_not_kept() {
        let cache = DocumentCache::new(Arc::default());
        let mut first = async_graphql::Request::new("{ platforms { code } }");
        cache.prepare(&mut first).unwrap();
        let mut again = async_graphql::Request::new("{ platforms { code } }");
        cache.prepare(&mut again).unwrap();
        assert_eq!(
            format!("{:?}", again.parsed_query().unwrap()),
            format!("{:?}", first.parsed_query().unwrap())
        );
        assert_eq!(cache.by_text.len(), 1);

        let mut broken = async_graphql::Request::new("{ platforms { code }");
        assert_eq!(cache.prepare(&mut broken), Ok(None));
        assert!(broken.parsed_query().is_err());
        assert_eq!(cache.by_text.len(), 1);
    }

    #[test]
    fn a_document_over_the_limits_is_refused_before_or_after_it_is_parsed() {
        let few_tokens = DocumentCache::new(Arc::new(Limits {
            max_tokens: 20,
            ..Limits::default()
        }));
        let mut long = async_graphql::Request::new("{ platforms { code } }".repeat(5));
        assert_eq!(
            few_tokens.prepare(&mut long).unwrap_err().code,
            "TOO_MANY_TOKENS"
        );
        let cache = DocumentCache::new(Arc::default());
        let mut deep = async_graphql::Request::new(format!(
            "{{ platforms {}code{} }}",
            "{ metrics { platform ".repeat(7),
            " } }".repeat(7)
        ));
        assert_eq!(cache.prepare(&mut deep).unwrap_err().code, "QUERY_TOO_DEEP");
        // Kept once parsed, and refused again when read from the cache, before it runs.
        let mut again = async_graphql::Request::new(deep.query.clone());
        assert_eq!(
            cache.prepare(&mut again).unwrap_err().code,
            "QUERY_TOO_DEEP"
        );
        assert_eq!(cache.by_text.len(), 1);
    }

    #[test]
    fn a_kept_document_is_still_refused_for_its_variables() {
        let cache = DocumentCache::new(Arc::default());
        let query = "query Find($code: String!) { platform(code: $code) { code } }";
        let mut clean = async_graphql::Request::new(query).variables(
            async_graphql::Variables::from_json(serde_json::json!({"code": "e-cabinet"})),
        );
        assert!(cache.prepare(&mut clean).unwrap().is_some());
        let mut nul = async_graphql::Request::new(query).variables(
            async_graphql::Variables::from_json(serde_json::json!({"code": "e-\u{0}"})),
        );
        assert_eq!(cache.prepare(&mut nul).unwrap_err().code, "BAD_USER_INPUT");
    }
}

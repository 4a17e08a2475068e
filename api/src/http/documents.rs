//! Parsed GraphQL documents, by their text.
//!
//! Dashboards send the same few documents again and again, and parsing one costs more than
//! resolving the fields of a small query. A document that parsed is kept and handed to execution
//! already parsed; validation still runs for every request, against its variables.

use std::collections::HashMap;
use std::sync::Mutex;

use async_graphql::parser::types::ExecutableDocument;

/// Longer documents are parsed every time; past `MAX_DOCUMENTS` everything is dropped and
/// refilled, so the cache holds at most about 16 MB of text and its trees.
const MAX_DOCUMENT_BYTES: usize = 16 * 1024;
const MAX_DOCUMENTS: usize = 1024;

#[derive(Default)]
pub struct DocumentCache {
    by_text: Mutex<HashMap<String, ExecutableDocument>>,
}

impl DocumentCache {
    /// Gives the request its parsed document, from the cache when the same text was parsed
    /// before; a document that does not parse is left for execution to report.
    pub fn parse(&self, request: &mut async_graphql::Request) {
        if request.query.len() > MAX_DOCUMENT_BYTES {
            return;
        }
        let kept = self.lock().get(&request.query).cloned();
        if let Some(document) = kept {
            request.set_parsed_query(document);
            return;
        }
        let Ok(document) = request.parsed_query().cloned() else {
            return;
        };
        let mut by_text = self.lock();
        if by_text.len() >= MAX_DOCUMENTS {
            by_text.clear();
        }
        by_text.insert(request.query.clone(), document);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ExecutableDocument>> {
        self.by_text.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_parsed_once_and_a_broken_one_is_not_kept() {
        let cache = DocumentCache::default();
        let mut first = async_graphql::Request::new("{ platforms { code } }");
        cache.parse(&mut first);
        let mut again = async_graphql::Request::new("{ platforms { code } }");
        cache.parse(&mut again);
        assert_eq!(
            format!("{:?}", again.parsed_query().unwrap()),
            format!("{:?}", first.parsed_query().unwrap())
        );
        assert_eq!(cache.lock().len(), 1);

        let mut broken = async_graphql::Request::new("{ platforms { code }");
        cache.parse(&mut broken);
        assert!(broken.parsed_query().is_err());
        assert_eq!(cache.lock().len(), 1);
    }
}

//! Limits async-graphql has no setting for: the number of aliases in a document, checked by
//! the HTTP layer on the parsed document and, for subscriptions, by a schema extension.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Selection, SelectionSet,
};
use async_graphql::{ErrorExtensionValues, ServerError, ServerResult, Variables};

/// Refuses documents with more aliased fields than allowed: aliases let one request ask for the
/// same costly field many times over.
pub struct AliasLimit(pub usize);

impl ExtensionFactory for AliasLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AliasLimitExtension(self.0))
    }
}

struct AliasLimitExtension(usize);

fn aliases(selection_set: &SelectionSet) -> usize {
    selection_set
        .items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some()) + aliases(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => aliases(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

/// The aliased fields of a document, its fragments included.
fn aliases_in(document: &ExecutableDocument) -> usize {
    let operations: usize = match &document.operations {
        DocumentOperations::Single(operation) => aliases(&operation.node.selection_set.node),
        DocumentOperations::Multiple(operations) => operations
            .values()
            .map(|operation| aliases(&operation.node.selection_set.node))
            .sum(),
    };
    let fragments: usize = document
        .fragments
        .values()
        .map(|fragment| aliases(&fragment.node.selection_set.node))
        .sum();
    operations + fragments
}

/// Why a document is refused for its aliases, if it is.
pub fn too_many_aliases(document: &ExecutableDocument, allowed: usize) -> Option<String> {
    let found = aliases_in(document);
    (found > allowed)
        .then(|| format!("the document has {found} aliases; at most {allowed} are allowed"))
}

/// A request error with a code, as the protocol layer maps them.
pub fn coded(message: String, code: &str) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code);
    error.extensions = Some(extensions);
    error
}

#[async_trait::async_trait]
impl Extension for AliasLimitExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        match too_many_aliases(&document, self.0) {
            Some(message) => Err(coded(message, "TOO_MANY_ALIASES")),
            None => Ok(document),
        }
    }
}

//! Limits async-graphql has no setting for: the number of aliases in a document.

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

fn count(document: &ExecutableDocument) -> usize {
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
        let found = count(&document);
        if found > self.0 {
            return Err(coded(
                format!(
                    "the document has {found} aliases; at most {} are allowed",
                    self.0
                ),
                "TOO_MANY_ALIASES",
            ));
        }
        Ok(document)
    }
}

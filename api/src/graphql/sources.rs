use super::scalars::Day;
use async_graphql::{Context, Object, Result};
use entity::source;

use super::reference_rows;
use super::written::{self, WrittenFields};
use async_graphql::parser::types::Field;

/// An article figures were taken from.
pub struct Source(pub source::Model);

/// The source's texts, as their resolvers below answer them.
impl WrittenFields for Source {
    fn write_field(&self, field: &Field, out: &mut Vec<u8>) -> bool {
        write_source_field(&self.0, field, out)
    }

    fn writes(field: &Field) -> bool {
        matches!(
            field.name.node.as_str(),
            "code" | "fileName" | "outlet" | "language"
        )
    }
}

/// What a [`Source`] writes of its row, for a row written in place (see `plain::write_row`).
pub(crate) fn write_source_field(source: &source::Model, field: &Field, out: &mut Vec<u8>) -> bool {
    let text = match field.name.node.as_str() {
        "code" => Some(&source.code),
        "fileName" => Some(&source.file_name),
        "outlet" => Some(&source.outlet),
        "language" => Some(&source.language),
        _ => None,
    };
    written::write_text(out, text.map(String::as_str))
}

#[Object]
impl Source {
    /// Stable identifier, e.g. `article-001`.
    async fn code(&self) -> &str {
        &self.0.code
    }

    /// The article's file name in the project's collection of sources.
    async fn file_name(&self) -> &str {
        &self.0.file_name
    }

    /// The headline, when the article carries one.
    async fn title(&self) -> Option<&str> {
        self.0.title.as_deref()
    }

    async fn outlet(&self) -> &str {
        &self.0.outlet
    }

    /// True when the outlet is not named in the text and was inferred from it.
    async fn outlet_inferred(&self) -> bool {
        self.0.outlet_inferred
    }

    async fn published_on(&self) -> Option<Day> {
        self.0.published_on.map(Day)
    }

    /// True when the publication date was inferred rather than printed.
    async fn published_on_inferred(&self) -> bool {
        self.0.published_on_inferred
    }

    /// BCP 47 language tag of the article.
    async fn language(&self) -> &str {
        &self.0.language
    }
}

#[derive(Default)]
pub struct SourceQuery;

#[Object]
impl SourceQuery {
    /// Every source article.
    async fn sources(&self, ctx: &Context<'_>) -> Result<Vec<Source>> {
        let reference = reference_rows(ctx).await?;
        Ok(reference.sources().iter().cloned().map(Source).collect())
    }
}

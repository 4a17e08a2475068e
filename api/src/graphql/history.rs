use super::scalars::Instant;
use async_graphql::{Context, Object, Result};
use entity::observation_revision;
use entity::source;
use entity::values::Qualifier;

use super::loaders::load_row;
use super::scalars::Exact;
use super::sources::Source;
use super::written::WrittenFields;

/// One value an observation has had: revisions are appended, never edited.
pub struct Revision(pub observation_revision::Model);

/// Answered by its resolvers alone.
impl WrittenFields for Revision {}

#[Object]
impl Revision {
    /// The observation this revision belongs to.
    async fn observation_id(&self) -> async_graphql::ID {
        async_graphql::ID::from(self.0.observation_id)
    }

    /// 1 for the first value, then 2, 3… for each correction or retraction.
    async fn revision(&self) -> i32 {
        self.0.revision
    }

    async fn value(&self) -> Exact {
        Exact(self.0.value)
    }

    async fn qualifier(&self) -> Qualifier {
        self.0.qualifier
    }

    async fn denominator(&self) -> Option<Exact> {
        self.0.denominator.map(Exact)
    }

    async fn source(&self, ctx: &Context<'_>) -> Result<Source> {
        load_row::<source::Entity>(ctx, self.0.source_id)
            .await
            .map(Source)
    }

    async fn quote(&self) -> &str {
        &self.0.quote
    }

    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }

    async fn recorded_at(&self) -> Instant {
        Instant(self.0.recorded_at)
    }

    async fn recorded_by(&self) -> &str {
        &self.0.recorded_by
    }

    /// Why the revision was made (corrections and retractions).
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }

    /// When a later revision replaced this one; null while it is the latest.
    async fn superseded_at(&self) -> Option<Instant> {
        self.0.superseded_at.map(Instant)
    }

    /// True for a revision that withdrew the figure.
    async fn retracted(&self) -> bool {
        self.0.retracted
    }
}

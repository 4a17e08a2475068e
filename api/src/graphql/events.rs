use super::scalars::Day;
use async_graphql::{Context, InputObject, Object, Result};
use entity::values::{DatePrecision, EventKind};
use entity::{agency, event, platform, source};

use super::agencies::Agency;
use super::database;
use super::lang::{self, LangChoice};
use super::loaders::{load_optional_row, load_row};
use super::platforms::Platform;
use super::sources::Source;
use crate::error::GraphqlError;
use crate::service::catalog::{self, EventFilter};

/// A launch, milestone or policy, dated as precisely as its source allows.
pub struct Event(pub event::Model);

#[Object]
impl Event {
    async fn code(&self) -> &str {
        &self.0.code
    }

    async fn kind(&self) -> EventKind {
        self.0.kind
    }

    /// The first day of the period `datePrecision` names ("12/2019" is 2019-12-01 with `MONTH`).
    async fn occurred_on(&self) -> Day {
        Day(self.0.occurred_on)
    }

    async fn date_precision(&self) -> DatePrecision {
        self.0.date_precision
    }

    /// What happened, in the requested language.
    async fn name(&self, ctx: &Context<'_>, lang: Option<LangChoice>) -> String {
        lang::resolve(ctx, lang)
            .pick(&self.0.name_vi, &self.0.name_en)
            .to_owned()
    }

    async fn platform(&self, ctx: &Context<'_>) -> Result<Option<Platform>> {
        Ok(
            load_optional_row::<platform::Entity>(ctx, self.0.platform_id)
                .await?
                .map(Platform),
        )
    }

    async fn agency(&self, ctx: &Context<'_>) -> Result<Option<Agency>> {
        Ok(load_optional_row::<agency::Entity>(ctx, self.0.agency_id)
            .await?
            .map(Agency))
    }

    async fn source(&self, ctx: &Context<'_>) -> Result<Source> {
        load_row::<source::Entity>(ctx, self.0.source_id)
            .await
            .map(Source)
    }

    /// The phrase of the source that reports the event, verbatim.
    async fn quote(&self) -> &str {
        &self.0.quote
    }
}

#[derive(Debug, Default, InputObject)]
pub struct EventFilterInput {
    /// Only events of this platform (by code).
    pub platform: Option<String>,
}

#[derive(Default)]
pub struct EventQuery;

#[Object]
impl EventQuery {
    /// Launches, milestones and policies, oldest first.
    async fn events(
        &self,
        ctx: &Context<'_>,
        filter: Option<EventFilterInput>,
    ) -> Result<Vec<Event>> {
        let filter = EventFilter {
            platform: filter.and_then(|f| f.platform),
        };
        let events = catalog::events(database(ctx)?, &filter)
            .await
            .map_err(|e| e.extend())?;
        Ok(events.into_iter().map(Event).collect())
    }
}

use async_graphql::{Context, ErrorExtensions, InputObject, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::values::Qualifier;
use entity::{agency, metric, source};
use rust_decimal::Decimal;

use super::agencies::Agency;
use super::database;
use super::loaders::load_row;
use super::metrics::Metric;
use super::sources::Source;
use crate::error::ApiError;
use crate::service::exact;
use crate::service::observations::{self, CurrentObservation, ObservationFilter};
use crate::service::pagination::{Page, PageRequest};

/// A reported figure: what it describes, its current value with qualifier, and where it came
/// from.
pub struct Observation(pub CurrentObservation);

#[Object]
impl Observation {
    async fn id(&self) -> ID {
        ID::from(self.0.observation.id)
    }

    async fn metric(&self, ctx: &Context<'_>) -> Result<Metric> {
        load_row::<metric::Entity>(ctx, self.0.observation.metric_id)
            .await
            .map(Metric)
    }

    /// The agency the figure is about; null for a national figure.
    async fn agency(&self, ctx: &Context<'_>) -> Result<Option<Agency>> {
        let Some(id) = self.0.observation.agency_id else {
            return Ok(None);
        };
        load_row::<agency::Entity>(ctx, id)
            .await
            .map(|a| Some(Agency(a)))
    }

    /// The instant the value describes; for a flow, the end of its period. A figure dated by
    /// day in its source is placed at 00:00 of that day, Vietnam time.
    async fn observed_at(&self) -> DateTime<Utc> {
        self.0.observation.observed_at
    }

    /// For a flow, the start of its period.
    async fn period_start(&self) -> Option<DateTime<Utc>> {
        self.0.observation.period_start
    }

    /// The exact value, in the metric's unit and scale.
    async fn value(&self) -> Decimal {
        self.0.revision.value
    }

    /// The value as a float for charting libraries: approximate, never for sums or comparisons.
    async fn value_float(&self) -> f64 {
        exact::approximate(self.0.revision.value)
    }

    /// How the source states the value ("more than", "about"…): part of the figure.
    async fn qualifier(&self) -> Qualifier {
        self.0.revision.qualifier
    }

    /// For a ratio, what the value is out of (106 of 200).
    async fn denominator(&self) -> Option<Decimal> {
        self.0.revision.denominator
    }

    async fn source(&self, ctx: &Context<'_>) -> Result<Source> {
        load_row::<source::Entity>(ctx, self.0.revision.source_id)
            .await
            .map(Source)
    }

    /// The phrase of the source the value was read from, verbatim.
    async fn quote(&self) -> &str {
        &self.0.revision.quote
    }

    /// Context an auditor needs, such as how an undated figure was dated.
    async fn note(&self) -> Option<&str> {
        self.0.revision.note.as_deref()
    }

    /// The number of the current revision: 1 until the figure is corrected.
    async fn revision(&self) -> i32 {
        self.0.revision.revision
    }

    /// When the current revision was recorded.
    async fn recorded_at(&self) -> DateTime<Utc> {
        self.0.revision.recorded_at
    }

    /// Who recorded the current revision.
    async fn recorded_by(&self) -> &str {
        &self.0.revision.recorded_by
    }

    /// True for generated demonstration data, never a reported figure.
    async fn synthetic(&self) -> bool {
        self.0.observation.synthetic
    }
}

#[derive(Debug, Default, InputObject)]
pub struct ObservationFilterInput {
    /// Only observations of this platform's metrics (by code).
    pub platform: Option<String>,
    /// Only observations of this metric (by code).
    pub metric: Option<String>,
    /// Only observations about this agency (by code).
    pub agency: Option<String>,
    /// Observed at or after this instant.
    pub observed_from: Option<DateTime<Utc>>,
    /// Observed before this instant.
    pub observed_before: Option<DateTime<Utc>>,
    /// Include generated demonstration data (excluded by default).
    #[graphql(default)]
    pub include_synthetic: bool,
}

impl From<ObservationFilterInput> for ObservationFilter {
    fn from(input: ObservationFilterInput) -> Self {
        Self {
            platform: input.platform,
            metric: input.metric,
            agency: input.agency,
            observed_from: input.observed_from,
            observed_before: input.observed_before,
            include_synthetic: input.include_synthetic,
        }
    }
}

#[derive(SimpleObject)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

#[derive(SimpleObject)]
pub struct ObservationEdge {
    pub cursor: String,
    pub node: Observation,
}

/// A page of observations in time order (oldest first), Relay style.
pub struct ObservationConnection {
    page: Page<CurrentObservation>,
    filter: ObservationFilter,
}

#[Object]
impl ObservationConnection {
    async fn edges(&self) -> Vec<ObservationEdge> {
        self.page
            .items
            .iter()
            .map(|(cursor, item)| ObservationEdge {
                cursor: cursor.encode(),
                node: Observation(item.clone()),
            })
            .collect()
    }

    async fn page_info(&self) -> PageInfo {
        let items = &self.page.items;
        PageInfo {
            has_next_page: self.page.has_next_page,
            has_previous_page: self.page.has_previous_page,
            start_cursor: items.first().map(|(cursor, _)| cursor.encode()),
            end_cursor: items.last().map(|(cursor, _)| cursor.encode()),
        }
    }

    /// How many observations match the filter, on all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        observations::count(database(ctx)?, &self.filter)
            .await
            .map_err(|e| e.extend())
    }
}

#[derive(Default)]
pub struct ObservationQuery;

#[Object]
impl ObservationQuery {
    /// Observations matching `filter`, a page at a time: `first`/`after` forwards,
    /// `last`/`before` backwards (20 by default, at most 100).
    async fn observations(
        &self,
        ctx: &Context<'_>,
        filter: Option<ObservationFilterInput>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<ObservationConnection> {
        let request = PageRequest::new(first, after.as_deref(), last, before.as_deref())
            .map_err(|e| e.extend())?;
        let filter = ObservationFilter::from(filter.unwrap_or_default());
        let page = observations::page(database(ctx)?, &filter, &request)
            .await
            .map_err(|e| e.extend())?;
        Ok(ObservationConnection { page, filter })
    }

    /// One observation by id; `NOT_FOUND` when there is none.
    async fn observation(&self, ctx: &Context<'_>, id: ID) -> Result<Observation> {
        let id: i32 = id.parse().map_err(|_| {
            ApiError::bad_input("id", format!("`{}` is not an observation id", *id)).extend()
        })?;
        observations::by_id(database(ctx)?, id)
            .await
            .map(Observation)
            .map_err(|e| e.extend())
    }
}

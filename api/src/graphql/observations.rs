use std::sync::Arc;

use async_graphql::{Context, InputObject, Object, Result, SelectionField, ID};
use entity::values::Qualifier;
use entity::{agency, metric, source};
use sea_orm::DbErr;

use super::agencies::Agency;
use super::direct::{Arguments, FieldContext, NotAnswered};
use super::history::Revision;
use super::loaders::{load_optional_row, load_row, ReadAhead};
use super::metrics::Metric;
use super::plain::{write_row, write_selected, writes_selected, Plain};
use super::scalars::{write_decimal, write_instant, Exact, Instant};
use super::sources::{write_source_field, Source};
use super::written::{self, WrittenFields};
use super::{caller, connection, database, page_cost, page_request, reference, PageConnection};
use crate::error::{ApiError, GraphqlError};
use crate::service::observations::{
    self, CurrentObservation, Figure, ObservationFilter, Point, Reading, Row, SourcedReading,
};
use crate::service::pagination::PageRequest;
use crate::service::reference::ByIdInReference;
use crate::service::{exact, history};
use async_graphql::parser::types::Field;

/// A reported figure: what it describes, its current value with qualifier, and where it came
/// from.
pub struct Observation(Figure);

impl From<Figure> for Observation {
    fn from(figure: Figure) -> Self {
        Self(figure)
    }
}

impl From<CurrentObservation> for Observation {
    fn from(whole: CurrentObservation) -> Self {
        Self(whole.into_figure())
    }
}

impl From<SourcedReading> for Observation {
    fn from(sourced: SourcedReading) -> Self {
        Self(sourced.into_figure())
    }
}

/// The fields of `Observation` that a [`Point`] answers: what a chart plots.
const POINT_FIELDS: &[&str] = &[
    "__typename",
    "id",
    "observedAt",
    "value",
    "valueFloat",
    "qualifier",
];

/// The fields of `Observation` that a [`Reading`] answers: a page asking for no other is read
/// with a third of the columns.
const READING_FIELDS: &[&str] = &[
    "__typename",
    "id",
    "agency",
    "observedAt",
    "periodStart",
    "value",
    "valueFloat",
    "qualifier",
    "denominator",
    "revisions",
];

/// The fields a [`SourcedReading`] answers besides a reading's.
const SOURCED_FIELDS: &[&str] = &["metric", "source"];

/// Whether every field asked of `figure` (fragments included) is one a [`SourcedReading`]
/// answers: a figure asked for no other is read without its quote, note and author.
pub(crate) fn asks_only_sourced(figure: SelectionField<'_>) -> bool {
    figure.selection_set().all(|field| {
        READING_FIELDS.contains(&field.name()) || SOURCED_FIELDS.contains(&field.name())
    })
}

/// Whether every field asked of the page's figures (in `edges { node }` and `nodes`, fragments
/// included) is one of `answered`.
fn asks_only(page: SelectionField<'_>, answered: &[&str]) -> bool {
    let mut figures = Vec::new();
    for field in page.selection_set() {
        match field.name() {
            "edges" => figures.extend(field.selection_set().filter(|f| f.name() == "node")),
            "nodes" => figures.push(field),
            _ => {}
        }
    }
    figures.iter().all(|figure| {
        figure
            .selection_set()
            .all(|field| answered.contains(&field.name()))
    })
}

impl Observation {
    fn point(&self) -> Point {
        self.0.point()
    }

    /// The reading, for `field`; a figure read as a point is read so only when no field outside
    /// [`POINT_FIELDS`] is asked.
    fn reading(&self, field: &str) -> Result<Reading> {
        self.0.reading().ok_or_else(|| not_read(field))
    }

    /// The whole figure; a figure is read whole whenever a field outside [`READING_FIELDS`]
    /// (or [`SOURCED_FIELDS`], where it was read with them) is asked, so one read without
    /// those columns is never asked for more.
    fn whole(&self, field: &str) -> Result<&CurrentObservation> {
        match &self.0 {
            Figure::Whole(whole) => Ok(whole),
            Figure::Sourced(_) | Figure::Reading(_) | Figure::Point(_) => Err(not_read(field)),
        }
    }

    /// The ids of the figure's metric and source.
    fn sourced(&self, field: &str) -> Result<(i32, i32)> {
        match &self.0 {
            Figure::Whole(whole) => Ok((whole.observation.metric_id, whole.revision.source_id)),
            Figure::Sourced(sourced) => Ok((sourced.metric_id, sourced.source_id)),
            Figure::Reading(_) | Figure::Point(_) => Err(not_read(field)),
        }
    }
}

fn not_read(field: &str) -> async_graphql::Error {
    ApiError::Database(Arc::new(DbErr::Custom(format!(
        "`{field}` of a figure read without its column"
    ))))
    .extend()
}

/// How the point's leaves are written, as their resolvers below answer them; none for another
/// field.
fn point_writer(field: &str) -> Option<fn(&Point, &mut Vec<u8>) -> bool> {
    Some(match field {
        "id" => |point, out| {
            written::write_plain_string(out, |out| {
                out.extend_from_slice(itoa::Buffer::new().format(point.id).as_bytes())
            });
            true
        },
        "observedAt" => |point, out| {
            written::write_plain_string(out, |out| write_instant(out, point.observed_at));
            true
        },
        "value" => |point, out| {
            written::write_plain_string(out, |out| write_decimal(out, point.value));
            true
        },
        "qualifier" => |point, out| written::write_enum(out, point.qualifier),
        _ => return None,
    })
}

/// The reading's leaves, as their resolvers below answer them.
impl WrittenFields for Observation {
    fn write_field(&self, field: &Field, out: &mut Vec<u8>) -> bool {
        let name = field.name.node.as_str();
        if let Some(write) = point_writer(name) {
            return write(&self.point(), out);
        }
        match name {
            // Left to the resolvers, which refuse them, on a figure read as a point.
            "periodStart" => match self.0.reading().map(|reading| reading.period_start) {
                Some(Some(start)) => {
                    written::write_plain_string(out, |out| write_instant(out, start))
                }
                Some(None) => out.extend_from_slice(b"null"),
                None => return false,
            },
            "denominator" => match self.0.reading().map(|reading| reading.denominator) {
                Some(Some(of)) => written::write_plain_string(out, |out| write_decimal(out, of)),
                Some(None) => out.extend_from_slice(b"null"),
                None => return false,
            },
            _ => return false,
        }
        true
    }

    /// The point's leaves: what a chart's page asks.
    fn field_writer<'f>(field: &'f Field) -> Option<written::FieldWriter<'f, Self>>
    where
        Self: 'f,
    {
        let write = point_writer(field.name.node.as_str())?;
        Some(Box::new(move |figure: &Self, out: &mut Vec<u8>| {
            write(&figure.point(), out)
        }))
    }

    fn writes(field: &Field) -> bool {
        match field.name.node.as_str() {
            "id" | "observedAt" | "periodStart" | "value" | "qualifier" | "denominator" => true,
            "source" => writes_selected::<Source>(&field.selection_set.node),
            _ => false,
        }
    }

    /// The source too, from the reference rows.
    fn write_field_ahead(&self, ahead: &ReadAhead, field: &Field, out: &mut Vec<u8>) -> bool {
        if field.name.node != "source" {
            return self.write_field(field, out);
        }
        let source_id = match &self.0 {
            Figure::Whole(whole) => whole.revision.source_id,
            Figure::Sourced(sourced) => sourced.source_id,
            Figure::Reading(_) | Figure::Point(_) => return false,
        };
        match source::Entity::by_id(&ahead.reference, source_id) {
            Some(row) => write_row::<Source>(
                &field.selection_set.node,
                |field, out| write_source_field(row, field, out),
                out,
            ),
            None => false,
        }
    }
}

#[Object]
impl Observation {
    async fn id(&self) -> ID {
        ID::from(self.point().id)
    }

    async fn metric(&self, ctx: &Context<'_>) -> Result<Metric> {
        let (metric_id, _) = self.sourced("metric")?;
        load_row::<metric::Entity>(ctx, metric_id).await.map(Metric)
    }

    /// The agency the figure is about; null for a national figure.
    async fn agency(&self, ctx: &Context<'_>) -> Result<Option<Agency>> {
        let agency_id = self.reading("agency")?.agency_id;
        Ok(load_optional_row::<agency::Entity>(ctx, agency_id)
            .await?
            .map(Agency))
    }

    /// The instant the value describes; for a flow, the end of its period. A figure dated by
    /// day in its source is placed at 00:00 of that day, Vietnam time.
    async fn observed_at(&self) -> Instant {
        Instant(self.point().observed_at)
    }

    /// For a flow, the start of its period.
    async fn period_start(&self) -> Result<Option<Instant>> {
        Ok(self.reading("periodStart")?.period_start.map(Instant))
    }

    /// The exact value, in the metric's unit and scale.
    async fn value(&self) -> Exact {
        Exact(self.point().value)
    }

    /// The value as a float for charting libraries: approximate, never for sums or comparisons.
    async fn value_float(&self) -> f64 {
        exact::approximate(self.point().value)
    }

    /// How the source states the value ("more than", "about"…): part of the figure.
    async fn qualifier(&self) -> Qualifier {
        self.point().qualifier
    }

    /// For a ratio, what the value is out of (106 of 200).
    async fn denominator(&self) -> Result<Option<Exact>> {
        Ok(self.reading("denominator")?.denominator.map(Exact))
    }

    async fn source(&self, ctx: &Context<'_>) -> Result<Plain<Source>> {
        let (_, source_id) = self.sourced("source")?;
        load_row::<source::Entity>(ctx, source_id)
            .await
            .map(|source| Plain(Source(source)))
    }

    /// The phrase of the source the value was read from, verbatim.
    async fn quote(&self) -> Result<&str> {
        Ok(&self.whole("quote")?.revision.quote)
    }

    /// Context an auditor needs, such as how an undated figure was dated.
    async fn note(&self) -> Result<Option<&str>> {
        Ok(self.whole("note")?.revision.note.as_deref())
    }

    /// The number of the current revision: 1 until the figure is corrected.
    async fn revision(&self) -> Result<i32> {
        Ok(self.whole("revision")?.revision.revision)
    }

    /// When the current revision was recorded.
    async fn recorded_at(&self) -> Result<Instant> {
        Ok(Instant(self.whole("recordedAt")?.revision.recorded_at))
    }

    /// Who recorded the current revision.
    async fn recorded_by(&self) -> Result<&str> {
        Ok(&self.whole("recordedBy")?.revision.recorded_by)
    }

    /// True for generated demonstration data, never a reported figure.
    async fn synthetic(&self) -> Result<bool> {
        Ok(self.whole("synthetic")?.observation.synthetic)
    }

    /// True when the figure was withdrawn: it is left out of current answers.
    async fn retracted(&self) -> Result<bool> {
        Ok(self.whole("retracted")?.revision.retracted)
    }

    /// Why the current revision was made, for a correction or retraction.
    async fn reason(&self) -> Result<Option<&str>> {
        Ok(self.whole("reason")?.revision.reason.as_deref())
    }

    /// Every value the figure has had, oldest first (auditors and admins).
    async fn revisions(&self, ctx: &Context<'_>) -> Result<Vec<Revision>> {
        let revisions = history::revisions(database(ctx)?, &caller(ctx).principal, self.point().id)
            .await
            .map_err(|e| e.extend())?;
        Ok(revisions.into_iter().map(Revision).collect())
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
    pub observed_from: Option<Instant>,
    /// Observed before this instant.
    pub observed_before: Option<Instant>,
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
            observed_from: input.observed_from.map(|at| at.0),
            observed_before: input.observed_before.map(|at| at.0),
            include_synthetic: input.include_synthetic,
            as_of: None,
        }
    }
}

/// What a page of observations adds to the Relay connection: the count over all pages.
pub struct ObservationTotals {
    filter: ObservationFilter,
}

#[Object]
impl ObservationTotals {
    /// How many observations match the filter, on all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        observations::count(database(ctx)?, reference(ctx)?, &self.filter)
            .await
            .map_err(|e| e.extend())
    }
}

/// A page of figures read as `R` (a reading, or the whole row), each answered as `as_figure`
/// makes it.
async fn page_of<R: Row + 'static>(
    db: &sea_orm::DatabaseConnection,
    reference: &crate::service::reference::ReferenceCache,
    filter: ObservationFilter,
    request: &PageRequest,
    as_figure: impl Fn(R) -> Observation,
) -> Result<PageConnection<Observation, ObservationTotals>> {
    let page = observations::page::<R>(db, reference, &filter, request)
        .await
        .map_err(|e| e.extend())?;
    Ok(connection(page, ObservationTotals { filter }, as_figure))
}

/// `observations` answered directly (see `direct`): the page its resolver reads, written as
/// the resolver's connection is. The writers write a page's edges of figures read as points,
/// and leave its `pageInfo` and totals to resolvers, so a page they write all of is read as
/// points, without the row beyond it.
pub(crate) async fn write_page(
    context: &FieldContext<'_>,
    arguments: &Arguments<'_>,
    out: &mut Vec<u8>,
) -> Result<(), NotAnswered> {
    let (first, after) = (arguments.get("first")?, arguments.get::<String>("after")?);
    let (last, before) = (arguments.get("last")?, arguments.get::<String>("before")?);
    let request = PageRequest::new(first, after.as_deref(), last, before.as_deref())
        .map_err(NotAnswered::declined)?
        .beyond_not_asked();
    let as_of = context.as_of(arguments.get("asOf")?);
    let filter = page_filter(arguments.get("filter")?, as_of);
    let page = observations::page::<Point>(context.db, context.reference, &filter, &request)
        .await
        .map_err(NotAnswered::declined)?;
    let as_point = |point: Point| Observation(point.into_figure());
    let page = connection(page, ObservationTotals { filter }, as_point);
    NotAnswered::unless_written(write_selected(
        &page,
        &arguments.field().selection_set.node,
        out,
    ))
}

/// The figures a page filters, answered as of `as_of`.
fn page_filter(
    filter: Option<ObservationFilterInput>,
    as_of: Option<chrono::DateTime<chrono::Utc>>,
) -> ObservationFilter {
    ObservationFilter {
        as_of,
        ..ObservationFilter::from(filter.unwrap_or_default())
    }
}

#[derive(Default)]
pub struct ObservationQuery;

#[Object]
impl ObservationQuery {
    /// Observations matching `filter`, a page at a time: `first`/`after` forwards,
    /// `last`/`before` backwards (20 by default, at most 100).
    #[allow(clippy::too_many_arguments)] // each is a GraphQL argument
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn observations(
        &self,
        ctx: &Context<'_>,
        filter: Option<ObservationFilterInput>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(
            desc = "Answer as the API did at this instant: revisions recorded by then and not yet replaced."
        )]
        as_of: Option<Instant>,
    ) -> Result<PageConnection<Observation, ObservationTotals>> {
        let request = page_request(ctx, first, after.as_deref(), last, before.as_deref())?;
        let filter = page_filter(filter, super::as_of(ctx, as_of));
        let (db, reference) = (database(ctx)?, reference(ctx)?);
        if asks_only(ctx.field(), POINT_FIELDS) {
            let as_point = |point: Point| Observation(point.into_figure());
            page_of::<Point>(db, reference, filter, &request, as_point).await
        } else if asks_only(ctx.field(), READING_FIELDS) {
            let as_reading = |reading: Reading| Observation(reading.into_figure());
            page_of::<Reading>(db, reference, filter, &request, as_reading).await
        } else {
            page_of::<CurrentObservation>(db, reference, filter, &request, Observation::from).await
        }
    }

    /// One observation by id, retracted or not; `NOT_FOUND` when there is none.
    async fn observation(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(
            desc = "Answer as the API did at this instant: revisions recorded by then and not yet replaced."
        )]
        as_of: Option<Instant>,
    ) -> Result<Observation> {
        let id: i32 = id.parse().map_err(|_| {
            ApiError::bad_input("id", crate::message!(NOT_AN_OBSERVATION_ID, id = &*id)).extend()
        })?;
        observations::by_id(database(ctx)?, id, super::as_of(ctx, as_of))
            .await
            .map(Observation::from)
            .map_err(|e| e.for_argument("id").extend())
    }
}

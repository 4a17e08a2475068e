//! Observations with their current revision: filtering, keyset pages and latest readings.
//!
//! "Current" is decided here and nowhere else: the revision of an observation that no later
//! revision has superseded, unless it retracts the figure. With `as_of`, the same question is
//! asked of the past: the revision that was current at that instant, recorded by then and not
//! yet superseded, which is exactly what the API answered at that moment.

use std::any::TypeId;
use std::collections::HashMap;
use std::ops::Bound;
use std::sync::LazyLock;

use chrono::{DateTime, SubsecRound, Utc};
use entity::values::Qualifier;
use entity::{agency, metric, observation, observation_revision};
use rust_decimal::Decimal;
use sea_orm::sea_query::{
    Alias, Expr, ExprTrait, JoinType, Query, QueryStatementBuilder, SelectStatement, Value,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    IdenStatic, Iterable, PaginatorTrait, QueryFilter, QueryOrder, QueryResult, QuerySelect,
    QueryTrait, Select, Statement,
};

use super::exact;
use super::pagination::{Cursor, Page, PageRequest};
use super::pg_columns::{self, column, optional_column};
use super::reference::ReferenceCache;
use super::statements::StatementMemo;
use crate::error::ApiError;
use crate::id_map::{HashMapExt, IdMap};

/// What a figure describes and the value it has now.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrentObservation {
    pub observation: observation::Model,
    pub revision: observation_revision::Model,
}

/// What a figure is made of, without where it came from: enough to bucket, add up and rank
/// readings. Reading only these columns spares decoding each row's quote, note and author where
/// a chart or a ranking does not show them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    pub id: i32,
    pub agency_id: Option<i32>,
    pub observed_at: DateTime<Utc>,
    pub period_start: Option<DateTime<Utc>>,
    pub value: Decimal,
    pub qualifier: Qualifier,
    pub denominator: Option<Decimal>,
}

impl Reading {
    /// The instant the reading is filed under ([`crate::kinds::filed_at`]).
    pub fn filed_at(&self) -> DateTime<Utc> {
        crate::kinds::filed_at(self.observed_at, self.period_start)
    }

    /// Where the figure stands in pages of observations.
    pub fn cursor(&self) -> Cursor {
        self.point().cursor()
    }

    /// The reading as a chart plots it.
    pub fn point(&self) -> Point {
        Point {
            id: self.id,
            observed_at: self.observed_at,
            value: self.value,
            qualifier: self.qualifier,
        }
    }
}

/// A figure as a chart plots it: which one, when, how much and how it is stated. A page asked for
/// nothing more reads these four of a [`Reading`]'s seven columns; a field that needs another is
/// refused on a point rather than answered as if the column were empty.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub id: i32,
    pub observed_at: DateTime<Utc>,
    pub value: Decimal,
    pub qualifier: Qualifier,
}

impl Point {
    pub fn cursor(&self) -> Cursor {
        Cursor {
            at: self.observed_at,
            id: self.id.into(),
        }
    }
}

impl Row for Point {
    fn select(query: Joined) -> SelectStatement {
        use observation::Column as O;
        use observation_revision::Column as R;
        query
            .select_only()
            .column(O::Id)
            .column(O::ObservedAt)
            .column(R::Value)
            .column(R::Qualifier)
            .into_query()
    }

    /// By position, in the order `select` names the columns.
    fn read(row: &QueryResult) -> Result<Self, DbErr> {
        if let Some(row) = row.try_as_pg_row() {
            return read_postgres_point(row).map_err(|e| DbErr::Type(e.to_string()));
        }
        Ok(Point {
            id: row.try_get_by_index(0)?,
            observed_at: row.try_get_by_index(1)?,
            value: exact::from_storage(row.try_get_by_index(2)?),
            qualifier: row.try_get_by_index(3)?,
        })
    }

    fn cursor(&self) -> Cursor {
        Point::cursor(self)
    }

    fn into_figure(self) -> Figure {
        Figure::Point(self)
    }
}

/// A row the readers here return: a whole observation with its revision, its [`Reading`] with
/// its metric and source, only its reading, or only its [`Point`] (with its metric or not). Each
/// reader takes the one its caller needs.
pub trait Row: Sized {
    /// The columns to select from observations joined to their revisions.
    fn select(query: Joined) -> SelectStatement;
    fn read(row: &QueryResult) -> Result<Self, DbErr>;
    /// Where the figure stands in pages of observations.
    fn cursor(&self) -> Cursor;
    /// The figure as it was read.
    fn into_figure(self) -> Figure;

    /// The whole observation, when the row holds it.
    fn into_observation(self) -> Option<CurrentObservation> {
        match self.into_figure() {
            Figure::Whole(whole) => Some(whole),
            Figure::Sourced(_) | Figure::Reading(_) | Figure::Point(_) => None,
        }
    }
}

/// A row that holds a whole [`Reading`]: every row but a [`Point`].
pub trait ReadingRow: Row {
    fn reading(&self) -> Reading;
}

impl Row for CurrentObservation {
    fn select(query: Joined) -> SelectStatement {
        query.select_also(observation_revision::Entity).into_query()
    }

    fn read(row: &QueryResult) -> Result<Self, DbErr> {
        read_joined(row)
    }

    fn cursor(&self) -> Cursor {
        self.reading().cursor()
    }

    fn into_figure(self) -> Figure {
        Figure::Whole(self)
    }
}

impl ReadingRow for CurrentObservation {
    fn reading(&self) -> Reading {
        Reading {
            id: self.observation.id,
            agency_id: self.observation.agency_id,
            observed_at: self.observation.observed_at,
            period_start: self.observation.period_start,
            value: self.revision.value,
            qualifier: self.revision.qualifier,
            denominator: self.revision.denominator,
        }
    }
}

impl Row for Reading {
    /// [`Point`]'s columns, then the agency's id, the period's start and the denominator.
    fn select(query: Joined) -> SelectStatement {
        use observation::Column as O;
        use observation_revision::Column as R;
        let mut statement = Point::select(query);
        statement
            .column((observation::Entity, O::AgencyId))
            .column((observation::Entity, O::PeriodStart))
            .column((observation_revision::Entity, R::Denominator));
        statement
    }

    fn read(row: &QueryResult) -> Result<Self, DbErr> {
        let point = Point::read(row)?;
        let (agency_id, period_start, denominator) = match row.try_as_pg_row() {
            Some(row) => {
                let column_error = |e: sea_orm::sqlx::Error| DbErr::Type(e.to_string());
                (
                    optional_column(row, 4).map_err(column_error)?,
                    optional_column(row, 5).map_err(column_error)?,
                    optional_column(row, 6).map_err(column_error)?,
                )
            }
            None => (
                row.try_get_by_index(4)?,
                row.try_get_by_index(5)?,
                row.try_get_by_index(6)?,
            ),
        };
        Ok(Reading {
            id: point.id,
            agency_id,
            observed_at: point.observed_at,
            period_start,
            value: point.value,
            qualifier: point.qualifier,
            denominator: exact::from_storage_opt(denominator),
        })
    }

    fn cursor(&self) -> Cursor {
        Reading::cursor(self)
    }

    fn into_figure(self) -> Figure {
        Figure::Reading(self)
    }
}

impl ReadingRow for Reading {
    fn reading(&self) -> Reading {
        *self
    }
}

/// A reading with the metric it is of and the source it came from: a figure shown with its
/// metric or source but not its quote, note or author (a savings estimate, a metric's latest).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourcedReading {
    pub metric_id: i32,
    pub source_id: i32,
    pub reading: Reading,
}

impl Row for SourcedReading {
    /// [`Reading`]'s columns, then the metric's and the source's ids.
    fn select(query: Joined) -> SelectStatement {
        let mut statement = Reading::select(query);
        statement
            .column((observation::Entity, observation::Column::MetricId))
            .column((
                observation_revision::Entity,
                observation_revision::Column::SourceId,
            ));
        statement
    }

    fn read(row: &QueryResult) -> Result<Self, DbErr> {
        let reading = Reading::read(row)?;
        let (metric_id, source_id) = match row.try_as_pg_row() {
            Some(row) => {
                let id = |at| column(row, at).map_err(|e| DbErr::Type(e.to_string()));
                (id(7)?, id(8)?)
            }
            None => (row.try_get_by_index(7)?, row.try_get_by_index(8)?),
        };
        Ok(Self {
            metric_id,
            source_id,
            reading,
        })
    }

    fn cursor(&self) -> Cursor {
        self.reading.cursor()
    }

    fn into_figure(self) -> Figure {
        Figure::Sourced(self)
    }
}

impl ReadingRow for SourcedReading {
    fn reading(&self) -> Reading {
        self.reading
    }
}

/// A row that belongs to one metric.
pub trait OfMetric {
    fn metric_id(&self) -> i32;
}

impl OfMetric for CurrentObservation {
    fn metric_id(&self) -> i32 {
        self.observation.metric_id
    }
}

impl OfMetric for SourcedReading {
    fn metric_id(&self) -> i32 {
        self.metric_id
    }
}

/// A figure as it was read: whole, or without the columns its answer does not show.
#[derive(Debug, Clone, PartialEq)]
pub enum Figure {
    Whole(CurrentObservation),
    Sourced(SourcedReading),
    Reading(Reading),
    Point(Point),
}

impl Figure {
    /// The reading; none for a point, read without the reading's other columns.
    pub fn reading(&self) -> Option<Reading> {
        match self {
            Self::Whole(whole) => Some(whole.reading()),
            Self::Sourced(sourced) => Some(sourced.reading),
            Self::Reading(reading) => Some(*reading),
            Self::Point(_) => None,
        }
    }

    /// What every figure holds, however it was read.
    pub fn point(&self) -> Point {
        match self {
            Self::Whole(whole) => whole.reading().point(),
            Self::Sourced(sourced) => sourced.reading.point(),
            Self::Reading(reading) => reading.point(),
            Self::Point(point) => *point,
        }
    }
}

/// A point with the metric it is of: a figure compared by its value alone (a savings estimate
/// whose observation is not asked).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricPoint {
    pub metric_id: i32,
    pub point: Point,
}

impl Row for MetricPoint {
    /// [`Point`]'s columns, then the metric's id.
    fn select(query: Joined) -> SelectStatement {
        let mut statement = Point::select(query);
        statement.column((observation::Entity, observation::Column::MetricId));
        statement
    }

    fn read(row: &QueryResult) -> Result<Self, DbErr> {
        let point = Point::read(row)?;
        let metric_id = match row.try_as_pg_row() {
            Some(row) => column(row, 4).map_err(|e| DbErr::Type(e.to_string()))?,
            None => row.try_get_by_index(4)?,
        };
        Ok(Self { metric_id, point })
    }

    fn cursor(&self) -> Cursor {
        self.point.cursor()
    }

    fn into_figure(self) -> Figure {
        Figure::Point(self.point)
    }
}

impl OfMetric for MetricPoint {
    fn metric_id(&self) -> i32 {
        self.metric_id
    }
}

/// A PostgreSQL row of [`Point::select`], decoded without asking each value whether it has the
/// type its column has: the statement names the columns and the migrations fix their types. A
/// chart of 1,200 points reads a few thousand rows, and the check took a fifth of the server's time.
fn read_postgres_point(
    row: &sea_orm::sqlx::postgres::PgRow,
) -> Result<Point, sea_orm::sqlx::Error> {
    Ok(Point {
        id: column(row, 0)?,
        observed_at: column(row, 1)?,
        value: exact::from_storage(column(row, 2)?),
        qualifier: pg_columns::qualifier(row, 3)?,
    })
}

/// A revision as read from either database, its values in canonical form.
pub fn normalized(revision: observation_revision::Model) -> observation_revision::Model {
    observation_revision::Model {
        value: exact::from_storage(revision.value),
        denominator: exact::from_storage_opt(revision.denominator),
        ..revision
    }
}

/// Observations joined to their revisions, the columns not yet chosen: each reader selects what
/// its rows hold ([`Row::select`]), and a subquery that picks ids names no other column.
type Joined = Select<observation::Entity>;

fn current(as_of: Option<DateTime<Utc>>) -> Joined {
    latest_revisions(as_of).filter(observation_revision::Column::Retracted.eq(false))
}

/// The latest revision of every observation, retractions included.
///
/// Driven from `observation`, so that pages and series walk its (time, id) indexes and look up
/// one revision per row, rather than reading revisions first.
fn latest_revisions(as_of: Option<DateTime<Utc>>) -> Joined {
    use observation_revision::Column::{RecordedAt, SupersededAt};
    let query = observation::Entity::find().inner_join(observation_revision::Entity);
    match as_of {
        None => query.filter(SupersededAt.is_null()),
        Some(instant) => query.filter(RecordedAt.lte(instant)).filter(
            Condition::any()
                .add(SupersededAt.is_null())
                .add(SupersededAt.gt(instant)),
        ),
    }
}

async fn fetch<R: Row>(
    db: &(impl ConnectionTrait + 'static),
    query: Joined,
) -> Result<Vec<R>, ApiError> {
    read_all(db, statement::<R>(db.get_database_backend(), query)).await
}

/// The statement [`fetch`] sends.
fn statement<R: Row>(backend: DbBackend, query: Joined) -> Statement {
    crate::statements::with_literal_limits(backend.build(&R::select(query)))
}

/// As [`fetch`], for the questions dashboards ask again with the same values: planned once per
/// connection ([`crate::statements::with_written_values`]).
async fn fetch_asked_again<R: Row>(
    db: &(impl ConnectionTrait + 'static),
    query: Joined,
) -> Result<Vec<R>, ApiError> {
    let query = R::select(query);
    let statement = crate::statements::with_written_values(&query, db.get_database_backend());
    read_all(db, statement).await
}

async fn read_all<R: Row>(
    db: &(impl ConnectionTrait + 'static),
    statement: sea_orm::Statement,
) -> Result<Vec<R>, ApiError> {
    let rows = crate::held_connections::query_all(db, statement).await?;
    // Sized once: collecting results would grow the vector row by row.
    let mut read = Vec::with_capacity(rows.len());
    for row in &rows {
        read.push(R::read(row)?);
    }
    Ok(read)
}

/// A row of `Joined` read by position: the observation's columns, then the revision's, each in
/// the order of its `Column` enum, as sea-orm selects them. Reading by name would build the
/// prefixed name of each of the twenty columns of every row, a sixth of the server's time for a
/// page of twenty.
fn read_joined(row: &QueryResult) -> Result<CurrentObservation, DbErr> {
    if let Some(row) = row.try_as_pg_row() {
        return read_postgres_joined(row).map_err(|e| DbErr::Type(e.to_string()));
    }
    use observation::Column as O;
    use observation_revision::Column as R;
    let (o, r) = joined_positions();
    let observation = observation::Model {
        id: row.try_get_by_index(o(O::Id))?,
        metric_id: row.try_get_by_index(o(O::MetricId))?,
        agency_id: row.try_get_by_index(o(O::AgencyId))?,
        observed_at: row.try_get_by_index(o(O::ObservedAt))?,
        period_start: row.try_get_by_index(o(O::PeriodStart))?,
        synthetic: row.try_get_by_index(o(O::Synthetic))?,
    };
    let revision = observation_revision::Model {
        id: row.try_get_by_index(r(R::Id))?,
        observation_id: row.try_get_by_index(r(R::ObservationId))?,
        revision: row.try_get_by_index(r(R::Revision))?,
        value: row.try_get_by_index(r(R::Value))?,
        qualifier: row.try_get_by_index(r(R::Qualifier))?,
        denominator: row.try_get_by_index(r(R::Denominator))?,
        source_id: row.try_get_by_index(r(R::SourceId))?,
        quote: row.try_get_by_index(r(R::Quote))?,
        note: row.try_get_by_index(r(R::Note))?,
        recorded_at: row.try_get_by_index(r(R::RecordedAt))?,
        recorded_by: row.try_get_by_index(r(R::RecordedBy))?,
        reason: row.try_get_by_index(r(R::Reason))?,
        superseded_at: row.try_get_by_index(r(R::SupersededAt))?,
        retracted: row.try_get_by_index(r(R::Retracted))?,
    };
    Ok(CurrentObservation {
        observation,
        revision: normalized(revision),
    })
}

/// The positions of a row of `Joined`: the observation's columns, then the revision's.
fn joined_positions() -> (
    impl Fn(observation::Column) -> usize,
    impl Fn(observation_revision::Column) -> usize,
) {
    static REVISION_COLUMNS_FROM: LazyLock<usize> =
        LazyLock::new(|| observation::Column::iter().count());
    let revision_columns_from = *REVISION_COLUMNS_FROM;
    (
        |column: observation::Column| column as usize,
        move |column: observation_revision::Column| revision_columns_from + column as usize,
    )
}

/// A PostgreSQL row of `Joined`, decoded as [`read_postgres_reading`] decodes its rows: a page of
/// twenty spent a fifth of the server's time asking each value its type and naming its column.
fn read_postgres_joined(
    row: &sea_orm::sqlx::postgres::PgRow,
) -> Result<CurrentObservation, sea_orm::sqlx::Error> {
    use observation::Column as O;
    use observation_revision::Column as R;
    let (o, r) = joined_positions();
    let observation = observation::Model {
        id: column(row, o(O::Id))?,
        metric_id: column(row, o(O::MetricId))?,
        agency_id: optional_column(row, o(O::AgencyId))?,
        observed_at: column(row, o(O::ObservedAt))?,
        period_start: optional_column(row, o(O::PeriodStart))?,
        synthetic: column(row, o(O::Synthetic))?,
    };
    let revision = observation_revision::Model {
        id: column(row, r(R::Id))?,
        observation_id: column(row, r(R::ObservationId))?,
        revision: column(row, r(R::Revision))?,
        value: column(row, r(R::Value))?,
        qualifier: pg_columns::qualifier(row, r(R::Qualifier))?,
        denominator: optional_column(row, r(R::Denominator))?,
        source_id: column(row, r(R::SourceId))?,
        quote: column(row, r(R::Quote))?,
        note: optional_column(row, r(R::Note))?,
        recorded_at: column(row, r(R::RecordedAt))?,
        recorded_by: column(row, r(R::RecordedBy))?,
        reason: optional_column(row, r(R::Reason))?,
        superseded_at: optional_column(row, r(R::SupersededAt))?,
        retracted: column(row, r(R::Retracted))?,
    };
    Ok(CurrentObservation {
        observation,
        revision: normalized(revision),
    })
}

/// Which observations a client asks for; codes are checked, unknown ones are `NOT_FOUND`.
#[derive(Debug, Clone, Default)]
pub struct ObservationFilter {
    pub platform: Option<String>,
    pub metric: Option<String>,
    pub agency: Option<String>,
    /// Inclusive.
    pub observed_from: Option<DateTime<Utc>>,
    /// Exclusive.
    pub observed_before: Option<DateTime<Utc>>,
    pub include_synthetic: bool,
    /// Answer as the API did at this instant.
    pub as_of: Option<DateTime<Utc>>,
}

impl ObservationFilter {
    /// The filter with its codes looked up: unknown ones are `NOT_FOUND`.
    async fn resolved(&self, reference: &ReferenceCache) -> Result<ResolvedFilter, ApiError> {
        if let (Some(from), Some(before)) = (self.observed_from, self.observed_before) {
            if from >= before {
                return Err(ApiError::bad_input(
                    "observedBefore",
                    crate::message!(OBSERVED_RANGE_EMPTY, from = from, before = before),
                ));
            }
        }
        let mut resolved = ResolvedFilter {
            observed_from: self.observed_from,
            observed_before: self.observed_before,
            include_synthetic: self.include_synthetic,
            as_of: self.as_of,
            ..ResolvedFilter::default()
        };
        if let Some(code) = &self.platform {
            let platform = reference.platform_by_code(code).await;
            resolved.platform_id =
                Some(platform.map_err(|e| e.for_argument("filter.platform"))?.id);
        }
        if let Some(code) = &self.metric {
            let metric = reference.metric_by_code(code).await;
            resolved.metric_id = Some(metric.map_err(|e| e.for_argument("filter.metric"))?.id);
        }
        if let Some(code) = &self.agency {
            let agency = reference.agency_by_code(code).await;
            resolved.agency_id = Some(agency.map_err(|e| e.for_argument("filter.agency"))?.id);
        }
        Ok(resolved)
    }
}

/// A filter with its codes looked up: what a page's statement follows from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
struct ResolvedFilter {
    platform_id: Option<i32>,
    metric_id: Option<i32>,
    agency_id: Option<i32>,
    observed_from: Option<DateTime<Utc>>,
    observed_before: Option<DateTime<Utc>>,
    include_synthetic: bool,
    as_of: Option<DateTime<Utc>>,
}

impl ResolvedFilter {
    /// The observations, joined to their current revision, that the filter keeps.
    fn query(&self) -> Joined {
        let mut condition = Condition::all();
        if let Some(platform_id) = self.platform_id {
            let metrics_of_platform = Query::select()
                .column(metric::Column::Id)
                .from(metric::Entity)
                .and_where(metric::Column::PlatformId.eq(platform_id))
                .to_owned();
            condition =
                condition.add(observation::Column::MetricId.in_subquery(metrics_of_platform));
        }
        if let Some(metric_id) = self.metric_id {
            condition = condition.add(observation::Column::MetricId.eq(metric_id));
        }
        if let Some(agency_id) = self.agency_id {
            condition = condition.add(observation::Column::AgencyId.eq(agency_id));
        }
        if let Some(from) = self.observed_from {
            condition = condition.add(observation::Column::ObservedAt.gte(from));
        }
        if let Some(before) = self.observed_before {
            condition = condition.add(observation::Column::ObservedAt.lt(before));
        }
        if !self.include_synthetic {
            condition = condition.add(observation::Column::Synthetic.eq(false));
        }
        current(self.as_of).filter(condition)
    }
}

/// The statements of first and last pages, by (filter, page, kind of row): what dashboards ask
/// again and again. A page after a cursor is built each time.
static FIRST_PAGES: LazyLock<StatementMemo<(ResolvedFilter, PageRequest, TypeId)>> =
    LazyLock::new(StatementMemo::default);

/// A page of the observations `filter` keeps, as whole figures or as their readings only (a
/// third of the columns, for a page that shows no source, quote or author).
pub async fn page<R: Row + 'static>(
    db: &DatabaseConnection,
    reference: &ReferenceCache,
    filter: &ObservationFilter,
    request: &PageRequest,
) -> Result<Page<R>, ApiError> {
    let filter = filter.resolved(reference).await?;
    let backend = db.get_database_backend();
    let build = |filter: &ResolvedFilter| {
        let query = request.apply(
            filter.query(),
            observation::Column::ObservedAt,
            observation::Column::Id,
        );
        statement::<R>(backend, query.limit(request.rows()))
    };
    let statement = match request.cursor {
        None => {
            let question = (filter.clone(), request.clone(), TypeId::of::<R>());
            FIRST_PAGES.statement(backend, question, || build(&filter))
        }
        Some(_) => build(&filter),
    };
    let rows: Vec<R> = read_all(db, statement).await?;
    let rows = rows.into_iter().map(|row| (row.cursor(), row)).collect();
    Ok(Page::from_fetched(request, rows))
}

pub async fn count(
    db: &DatabaseConnection,
    reference: &ReferenceCache,
    filter: &ObservationFilter,
) -> Result<u64, ApiError> {
    Ok(filter.resolved(reference).await?.query().count(db).await?)
}

/// One series of a metric: the figures about one agency, or the national ones.
fn of_series(agency_id: Option<i32>) -> Condition {
    Condition::all().add(match agency_id {
        Some(id) => observation::Column::AgencyId.eq(id),
        None => observation::Column::AgencyId.is_null(),
    })
}

/// The figures of a metric that make one line on a chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Series {
    pub metric_id: i32,
    /// National figures when none.
    pub agency_id: Option<i32>,
    /// Generated demonstration data is left out unless asked for.
    pub include_synthetic: bool,
}

impl Series {
    pub fn national(metric_id: i32) -> Self {
        Self {
            metric_id,
            agency_id: None,
            include_synthetic: false,
        }
    }

    fn condition(&self) -> Condition {
        let mut condition =
            of_series(self.agency_id).add(observation::Column::MetricId.eq(self.metric_id));
        if !self.include_synthetic {
            condition = condition.add(observation::Column::Synthetic.eq(false));
        }
        condition
    }
}

/// Current observations of a series observed in `[from, before)`, oldest first.
pub async fn of_series_between<R: Row>(
    db: &DatabaseConnection,
    series: Series,
    from: DateTime<Utc>,
    before: DateTime<Utc>,
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<R>, ApiError> {
    let query = current(as_of)
        .filter(series.condition())
        .filter(observation::Column::ObservedAt.gte(from))
        .filter(observation::Column::ObservedAt.lt(before))
        .order_by_asc(observation::Column::ObservedAt)
        .order_by_asc(observation::Column::Id);
    fetch(db, query).await
}

/// The readings of a metric about some agencies (a group's units, not every agency stored).
#[derive(Debug, Clone, Copy)]
pub struct OfAgencies<'a> {
    pub metric_id: i32,
    pub agencies: &'a [i32],
    pub include_synthetic: bool,
}

/// Current observations of a metric about the agencies named, filed in `[from, before)` (a flow by the
/// start of its period, anything else by its instant), oldest first: a line per unit of a group.
/// `observed_before`, when given, bounds the instants too: what the index range stops at, where
/// the filing instant alone leaves it open to the newest reading.
pub async fn of_agencies_between<R: Row>(
    db: &DatabaseConnection,
    of: OfAgencies<'_>,
    from: DateTime<Utc>,
    before: DateTime<Utc>,
    observed_before: Option<DateTime<Utc>>,
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<R>, ApiError> {
    let mut query = filed_between(of.metric_id, of.include_synthetic, from, before, as_of)
        .filter(observation::Column::AgencyId.is_in(of.agencies.iter().copied()));
    if let Some(observed_before) = observed_before {
        query = query.filter(observation::Column::ObservedAt.lt(observed_before));
    }
    fetch_asked_again(db, query).await
}

/// The current observations of a metric about some agencies filed in `[from, before)` and
/// observed before `observed_before`, summed by agency and qualifier.
#[derive(Debug, Clone)]
pub struct FiledTotal {
    pub agency_id: i32,
    pub qualifier: Qualifier,
    pub total: Decimal,
    /// The latest instant among the readings summed, for a caller to find one that ends late.
    pub latest_observed_at: DateTime<Utc>,
}

/// As [`of_agencies_between`], summed where the readings are (PostgreSQL: SQLite keeps
/// decimals as doubles, and a sum of them is not exact).
pub async fn totals_of_agencies_between(
    db: &DatabaseConnection,
    of: OfAgencies<'_>,
    from: DateTime<Utc>,
    before: DateTime<Utc>,
    observed_before: DateTime<Utc>,
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<FiledTotal>, ApiError> {
    use observation::Column as O;
    use observation_revision::Column as R;
    let mut query = filed_between(of.metric_id, of.include_synthetic, from, before, as_of)
        .filter(O::AgencyId.is_in(of.agencies.iter().copied()))
        .filter(O::ObservedAt.lt(observed_before))
        .select_only()
        .column(O::AgencyId)
        .column(R::Qualifier)
        .column_as(
            Expr::col((observation_revision::Entity, R::Value)).sum(),
            "total",
        )
        .column_as(
            Expr::col((observation::Entity, O::ObservedAt)).max(),
            "latest",
        )
        .group_by(O::AgencyId)
        .group_by(R::Qualifier)
        .into_query();
    query.clear_order_by();
    let statement = crate::statements::with_written_values(&query, db.get_database_backend());
    let rows = crate::held_connections::query_all(db, statement).await?;
    let read = |row: &QueryResult| -> Result<FiledTotal, DbErr> {
        if let Some(row) = row.try_as_pg_row() {
            return read_postgres_total(row).map_err(|e| DbErr::Type(e.to_string()));
        }
        Ok(FiledTotal {
            agency_id: row.try_get_by_index(0)?,
            qualifier: row.try_get_by_index(1)?,
            total: row.try_get_by_index(2)?,
            latest_observed_at: row.try_get_by_index(3)?,
        })
    };
    Ok(rows.iter().map(read).collect::<Result<_, _>>()?)
}

/// A PostgreSQL row of [`totals_of_agencies_between`], decoded as [`read_postgres_reading`] is.
fn read_postgres_total(
    row: &sea_orm::sqlx::postgres::PgRow,
) -> Result<FiledTotal, sea_orm::sqlx::Error> {
    Ok(FiledTotal {
        agency_id: column(row, 0)?,
        qualifier: pg_columns::qualifier(row, 1)?,
        total: column(row, 2)?,
        latest_observed_at: column(row, 3)?,
    })
}

/// Current observations of a metric about any agency (not the national figures), filed in
/// `[from, before)`, oldest first: what one period's comparison of a group's units reads, keeping
/// its units itself. One range of the (metric, instant) index: the agencies reporting a metric
/// in one period are few, where naming a group's hundred units made PostgreSQL look each of them
/// up in turn, three times the pages.
pub async fn of_metric_between(
    db: &DatabaseConnection,
    metric_id: i32,
    include_synthetic: bool,
    from: DateTime<Utc>,
    before: DateTime<Utc>,
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<Reading>, ApiError> {
    let backend = db.get_database_backend();
    let question = (metric_id, include_synthetic, from, before, as_of);
    let statement = OF_METRIC_BETWEEN.statement(backend, question, || {
        let query = filed_between(metric_id, include_synthetic, from, before, as_of)
            .filter(observation::Column::AgencyId.is_not_null());
        crate::statements::with_written_values(&Reading::select(query), backend)
    });
    read_all(db, statement).await
}

/// The statements of [`of_metric_between`], by its question: a breakdown asked again (the last
/// month's, the last year's) is sent as it was built the first time.
static OF_METRIC_BETWEEN: LazyLock<StatementMemo<MetricPeriodQuestion>> =
    LazyLock::new(StatementMemo::default);

/// A metric, whether generated figures count, the period `[from, before)` and the instant asked as of.
type MetricPeriodQuestion = (
    i32,
    bool,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

/// A metric's current observations filed in `[from, before)`, oldest first.
fn filed_between(
    metric_id: i32,
    include_synthetic: bool,
    from: DateTime<Utc>,
    before: DateTime<Utc>,
    as_of: Option<DateTime<Utc>>,
) -> Joined {
    let filed = Expr::col((observation::Entity, observation::Column::PeriodStart)).if_null(
        Expr::col((observation::Entity, observation::Column::ObservedAt)),
    );
    let mut query = current(as_of)
        .filter(observation::Column::MetricId.eq(metric_id))
        // Implied by the next condition (nothing is observed before it is filed), and what an
        // index on the instant can use.
        .filter(observation::Column::ObservedAt.gte(from))
        .filter(filed.clone().gte(from))
        .filter(filed.lt(before));
    if !include_synthetic {
        query = query.filter(observation::Column::Synthetic.eq(false));
    }
    query
        .order_by_asc(observation::Column::ObservedAt)
        .order_by_asc(observation::Column::Id)
}

/// When the first revision of each observation was recorded: when it was reported, whatever
/// corrected it since.
pub async fn first_recorded(
    db: &DatabaseConnection,
    ids: impl IntoIterator<Item = i32>,
) -> Result<HashMap<i32, DateTime<Utc>>, ApiError> {
    let ids: Vec<i32> = ids.into_iter().collect();
    let mut first = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(crate::ROWS_PER_STATEMENT) {
        let revisions = observation_revision::Entity::find()
            .filter(observation_revision::Column::ObservationId.is_in(chunk.iter().copied()))
            .filter(observation_revision::Column::Revision.eq(1))
            .all(db)
            .await?;
        first.extend(
            revisions
                .into_iter()
                .map(|r| (r.observation_id, r.recorded_at)),
        );
    }
    Ok(first)
}

/// The latest current reading of a series observed before `before`.
pub async fn latest_in_series(
    db: &DatabaseConnection,
    series: Series,
    before: DateTime<Utc>,
    as_of: Option<DateTime<Utc>>,
) -> Result<Option<Reading>, ApiError> {
    let query = current(as_of)
        .filter(series.condition())
        .filter(observation::Column::ObservedAt.lt(before))
        .order_by_desc(observation::Column::ObservedAt)
        .order_by_desc(observation::Column::Id)
        .limit(1);
    Ok(fetch(db, query).await?.pop())
}

/// The id of the newest observation a query finds, as a scalar subquery (null if none): one step
/// back along a time index.
fn newest_id(query: Joined) -> Expr {
    let newest = query
        .select_only()
        .column(observation::Column::Id)
        .order_by_desc(observation::Column::ObservedAt)
        .order_by_desc(observation::Column::Id)
        .limit(1)
        .into_query();
    Expr::SubQuery(None, Box::new(newest.into_sub_query_statement()))
}

/// For each boundary, the latest current reading of a series observed before it, in the order of
/// the boundaries. One statement, planned once whatever the number of boundaries: the boundaries
/// are a list of values, and one correlated subquery takes one index step back from each.
pub async fn latest_before_each(
    db: &DatabaseConnection,
    series: Series,
    boundaries: &[DateTime<Utc>],
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<Option<Reading>>, ApiError> {
    if boundaries.is_empty() {
        return Ok(Vec::new());
    }
    let listed = Alias::new("boundaries");
    // Both databases name the one column of a VALUES list `column1`.
    let boundary = Expr::col((listed.clone(), Alias::new("column1")));
    let newest_before_each = Query::select()
        .expr(newest_id(current(as_of).filter(series.condition()).filter(
            Expr::col((observation::Entity, observation::Column::ObservedAt)).lt(boundary),
        )))
        .from_values(boundaries.iter().copied(), listed)
        .to_owned();
    let mut found: Vec<Reading> = fetch(
        db,
        current(as_of).filter(observation::Column::Id.in_subquery(newest_before_each)),
    )
    .await?;
    found.sort_by_key(|row| (row.observed_at, row.id));
    Ok(boundaries
        .iter()
        .map(|&boundary| {
            found
                .iter()
                .rev()
                .find(|row| row.observed_at < boundary)
                .copied()
        })
        .collect())
}

/// The statements of [`latest_of_metrics`], by (metrics, kind of bound, as of, kind of row).
#[allow(clippy::type_complexity)]
static LATEST_OF_METRICS: LazyLock<
    StatementMemo<(Vec<i32>, Bound<()>, Option<DateTime<Utc>>, TypeId)>,
> = LazyLock::new(StatementMemo::default);

/// The latest current national reading of each metric observed up to `until`.
///
/// One statement however long the series: for each metric, a correlated subquery walks its
/// series index backwards to the newest reading, and only those rows are read.
pub async fn latest_of_metrics<R: Row + OfMetric + 'static>(
    db: &DatabaseConnection,
    metric_ids: &[i32],
    until: Bound<DateTime<Utc>>,
    as_of: Option<DateTime<Utc>>,
) -> Result<IdMap<i32, R>, ApiError> {
    // In one order, so that the same metrics asked in another order are the same question.
    let mut metric_ids = metric_ids.to_vec();
    metric_ids.sort_unstable();
    metric_ids.dedup();
    let query = |until: Bound<DateTime<Utc>>| {
        let observed_at = observation::Column::ObservedAt;
        let until = match until {
            Bound::Included(instant) => observed_at.lte(instant),
            Bound::Excluded(instant) => observed_at.lt(instant),
            Bound::Unbounded => observed_at.is_not_null(),
        };
        let each = Alias::new("each_metric");
        let newest_of_the_metric = current(as_of)
            .filter(
                Expr::col((observation::Entity, observation::Column::MetricId))
                    .equals((each.clone(), metric::Column::Id)),
            )
            .filter(of_series(None))
            .filter(observation::Column::Synthetic.eq(false))
            .filter(until);
        // Joined to each metric by its newest id, so that PostgreSQL looks it up once a metric;
        // `id IN (SELECT newest FROM metric)` ran the lookup twice (to group, then to join).
        let mut query = current(as_of).filter(
            Expr::col((each.clone(), metric::Column::Id)).is_in(metric_ids.iter().copied()),
        );
        QueryTrait::query(&mut query).join_as(
            JoinType::InnerJoin,
            metric::Entity,
            each,
            Expr::col((observation::Entity, observation::Column::Id))
                .eq(newest_id(newest_of_the_metric)),
        );
        statement::<R>(db.get_database_backend(), query)
    };
    // Up to now, asked with a new instant each time, the instant is bound into a kept statement.
    let backend = db.get_database_backend();
    let question = (
        metric_ids.clone(),
        until.map(|_| ()),
        as_of,
        TypeId::of::<R>(),
    );
    let statement =
        match until {
            Bound::Included(at) => LATEST_OF_METRICS
                .statement_at(backend, question, at, |at| query(Bound::Included(at))),
            Bound::Excluded(at) => LATEST_OF_METRICS
                .statement_at(backend, question, at, |at| query(Bound::Excluded(at))),
            Bound::Unbounded => LATEST_OF_METRICS.statement(backend, question, || query(until)),
        };
    Ok(read_all::<R>(db, statement)
        .await?
        .into_iter()
        .map(|row| (row.metric_id(), row))
        .collect())
}

/// For each agency named, its latest current reading of the metric observed before `before`:
/// one statement, a correlated subquery stepping back along each agency's series index.
pub async fn latest_of_agencies_before(
    db: &DatabaseConnection,
    of: OfAgencies<'_>,
    before: DateTime<Utc>,
    as_of: Option<DateTime<Utc>>,
) -> Result<IdMap<i32, Reading>, ApiError> {
    let each = Alias::new("each_agency");
    let mut newest_of_the_agency = current(as_of)
        .filter(observation::Column::MetricId.eq(of.metric_id))
        .filter(
            Expr::col((observation::Entity, observation::Column::AgencyId))
                .equals((each.clone(), agency::Column::Id)),
        )
        .filter(observation::Column::ObservedAt.lt(before));
    if !of.include_synthetic {
        newest_of_the_agency =
            newest_of_the_agency.filter(observation::Column::Synthetic.eq(false));
    }
    let newest_of_each = Query::select()
        .expr(newest_id(newest_of_the_agency))
        .from_as(agency::Entity, each.clone())
        .and_where(Expr::col((each, agency::Column::Id)).is_in(of.agencies.iter().copied()))
        .to_owned();
    let query = current(as_of).filter(observation::Column::Id.in_subquery(newest_of_each));
    Ok(fetch::<Reading>(db, query)
        .await?
        .into_iter()
        .filter_map(|row| Some((row.agency_id?, row)))
        .collect())
}

/// One observation with its latest revision, a retraction included (`retracted` says so);
/// `NOT_FOUND` when there is none.
pub async fn by_id(
    db: &(impl ConnectionTrait + 'static),
    id: i32,
    as_of: Option<DateTime<Utc>>,
) -> Result<CurrentObservation, ApiError> {
    fetch(
        db,
        latest_revisions(as_of).filter(observation::Column::Id.eq(id)),
    )
    .await?
    .pop()
    .ok_or_else(|| ApiError::no_such_id("observation", id))
}

/// The state of each of these observations (now, or `as_of` an instant), by id, a retraction
/// included; ids that do not exist are left out.
pub async fn by_ids(
    db: &(impl ConnectionTrait + 'static),
    ids: &[i32],
    as_of: Option<DateTime<Utc>>,
) -> Result<IdMap<i32, CurrentObservation>, ApiError> {
    let mut found = IdMap::with_capacity(ids.len());
    for chunk in ids.chunks(super::ROWS_PER_STATEMENT) {
        let rows = fetch::<CurrentObservation>(
            db,
            latest_revisions(as_of).filter(observation::Column::Id.is_in(chunk.iter().copied())),
        )
        .await?;
        found.extend(rows.into_iter().map(|row| (row.observation.id, row)));
    }
    Ok(found)
}

/// The current readings of one series (a metric, for one agency or nationally) just before and
/// just after `at`, leaving out `except`: a counter must fit between them.
pub async fn neighbours(
    db: &(impl ConnectionTrait + 'static),
    metric_id: i32,
    agency_id: Option<i32>,
    at: DateTime<Utc>,
    except: Option<i32>,
) -> Result<(Option<CurrentObservation>, Option<CurrentObservation>), ApiError> {
    let series = || {
        let mut query = current(None)
            .filter(observation::Column::MetricId.eq(metric_id))
            .filter(of_series(agency_id));
        if let Some(id) = except {
            query = query.filter(observation::Column::Id.ne(id));
        }
        query
    };
    let before = series()
        .filter(observation::Column::ObservedAt.lt(at))
        .order_by_desc(observation::Column::ObservedAt)
        .limit(1);
    let after = series()
        .filter(observation::Column::ObservedAt.gt(at))
        .order_by_asc(observation::Column::ObservedAt)
        .limit(1);
    Ok((
        fetch(db, before).await?.pop(),
        fetch(db, after).await?.pop(),
    ))
}

/// A place in a series: what identifies an observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SeriesInstant {
    pub metric_id: i32,
    pub agency_id: Option<i32>,
    /// To the microsecond, as both databases keep it.
    pub observed_at: DateTime<Utc>,
}

impl SeriesInstant {
    pub fn new(metric_id: i32, agency_id: Option<i32>, observed_at: DateTime<Utc>) -> Self {
        Self {
            metric_id,
            agency_id,
            observed_at: observed_at.trunc_subsecs(6),
        }
    }
}

/// Stores new observations and the first revision of each (`revisions[i]` is of
/// `observations[i]`; its `observation_id` is set here) and returns them as stored, in the order
/// given. The places must be distinct and free (read before). PostgreSQL takes both tables in one
/// statement: a group of small writers pays one round trip for them, not two.
pub async fn insert_with_first_revisions(
    db: &(impl ConnectionTrait + 'static),
    observations: &[observation::Model],
    mut revisions: Vec<observation_revision::Model>,
) -> Result<Vec<CurrentObservation>, ApiError> {
    if observations.is_empty() {
        return Ok(Vec::new());
    }
    let stored: Vec<CurrentObservation> = match db.get_database_backend() {
        DbBackend::Postgres => {
            read_all(
                db,
                with_first_revisions(observations, &revisions, Places::Free)?,
            )
            .await?
        }
        _ => {
            let mut by_place: HashMap<SeriesInstant, observation::Model> =
                crate::rows::insert_returning(db, observations)
                    .await?
                    .into_iter()
                    .map(|o| (place(&o), o))
                    .collect();
            let mut by_id = HashMap::new();
            for (revision, new) in revisions.iter_mut().zip(observations) {
                let stored = by_place
                    .remove(&place(new))
                    .ok_or_else(|| not_returned(new))?;
                revision.observation_id = stored.id;
                by_id.insert(stored.id, stored);
            }
            crate::rows::insert_returning(db, &revisions)
                .await?
                .into_iter()
                .filter_map(|revision| {
                    Some(CurrentObservation {
                        observation: by_id.remove(&revision.observation_id)?,
                        revision: normalized(revision),
                    })
                })
                .collect()
        }
    };
    in_given_order(observations, stored)
}

/// Stores new observations and their first revisions as [`insert_with_first_revisions`] does,
/// at places not read before: `None` when a figure is already recorded at one of them, the
/// others being stored all the same (the caller rolls back and reads the places). PostgreSQL
/// checks the places within the insert, so that the check costs no round trip of its own.
pub async fn insert_where_free(
    db: &(impl ConnectionTrait + 'static),
    observations: &[observation::Model],
    revisions: Vec<observation_revision::Model>,
) -> Result<Option<Vec<CurrentObservation>>, ApiError> {
    if observations.is_empty() {
        return Ok(Some(Vec::new()));
    }
    if db.get_database_backend() != DbBackend::Postgres {
        let places = observations
            .iter()
            .map(|o| (o.metric_id, o.agency_id, o.observed_at));
        if !existing(db, places).await?.is_empty() {
            return Ok(None);
        }
        return insert_with_first_revisions(db, observations, revisions)
            .await
            .map(Some);
    }
    let statement = with_first_revisions(observations, &revisions, Places::Unread)?;
    let stored: Vec<CurrentObservation> = read_all(db, statement).await?;
    if stored.len() < observations.len() {
        return Ok(None);
    }
    in_given_order(observations, stored).map(Some)
}

/// The stored rows in the order of the observations sent (RETURNING promises no order): matched
/// by place.
fn in_given_order(
    observations: &[observation::Model],
    stored: Vec<CurrentObservation>,
) -> Result<Vec<CurrentObservation>, ApiError> {
    let mut by_place: HashMap<SeriesInstant, CurrentObservation> = stored
        .into_iter()
        .map(|stored| (place(&stored.observation), stored))
        .collect();
    observations
        .iter()
        .map(|new| {
            by_place
                .remove(&place(new))
                .ok_or_else(|| not_returned(new))
        })
        .collect()
}

fn place(observation: &observation::Model) -> SeriesInstant {
    SeriesInstant::new(
        observation.metric_id,
        observation.agency_id,
        observation.observed_at,
    )
}

fn not_returned(new: &observation::Model) -> ApiError {
    ApiError::from(DbErr::Custom(format!(
        "the observation of metric {} and agency {:?} at {} was not stored with its revision",
        new.metric_id, new.agency_id, new.observed_at
    )))
}

/// `WITH o AS (INSERT INTO observation … RETURNING *), r AS (INSERT INTO observation_revision …
/// SELECT o.id, … JOIN o ON its place RETURNING *) SELECT o.…, r.… FROM o JOIN r`: each revision
/// sent with its observation's place (the observation's own arrays, named again) and given the id
/// the observation got; the rows come back as [`CurrentObservation::read`] reads them. At places
/// not read before, an observation is inserted only where none is recorded (and its revision
/// only with it).
fn with_first_revisions(
    observations: &[observation::Model],
    revisions: &[observation_revision::Model],
    places: Places,
) -> Result<Statement, DbErr> {
    use crate::rows::Unnested;
    let mut values = Vec::new();
    let o = Unnested::of(observations, &["id"], "o", &mut values)?;
    let r = Unnested::of(revisions, &["id", "observation_id"], "r", &mut values)?;
    let of_observation = |name: &str| {
        o.column(name)
            .ok_or_else(|| DbErr::Custom(format!("observation has no column {name}")))
    };
    let (metric, agency, at) = (
        of_observation("metric_id")?,
        of_observation("agency_id")?,
        of_observation("observed_at")?,
    );
    let place = [metric, agency, at];
    let place_arrays: Vec<&str> = place
        .iter()
        .flat_map(|c| &c.arrays)
        .map(String::as_str)
        .collect();
    let place_aliases: Vec<&str> = place
        .iter()
        .flat_map(|c| &c.aliases)
        .map(String::as_str)
        .collect();
    let listed = |table: &str, names: Vec<&str>| {
        let columns: Vec<String> = names.iter().map(|n| format!("{table}.\"{n}\"")).collect();
        columns.join(", ")
    };
    // Each arm one index's lookup, as `at_places` reads them: a national place is one whose
    // agency is null. `OFFSET 0` keeps each a lookup per place: made a join, the national arm
    // was hashed from every national figure of the table once it held a few thousand.
    let only_where_free = match places {
        Places::Free => String::new(),
        Places::Unread => format!(
            " WHERE NOT EXISTS (SELECT 1 FROM \"observation\" e WHERE e.\"metric_id\" = {m} \
             AND e.\"observed_at\" = {t} AND e.\"agency_id\" = {a} OFFSET 0) \
             AND NOT EXISTS (SELECT 1 FROM \"observation\" e WHERE {a} IS NULL \
             AND e.\"agency_id\" IS NULL AND e.\"metric_id\" = {m} AND e.\"observed_at\" = {t} \
             OFFSET 0)",
            m = metric.selected,
            t = at.selected,
            a = agency.selected,
        ),
    };
    let sql = format!(
        "WITH o AS (INSERT INTO \"observation\" ({}) SELECT {} FROM UNNEST({}) AS u({}){} RETURNING *), \
         r AS (INSERT INTO \"observation_revision\" (\"observation_id\", {}) \
         SELECT o.\"id\", {} FROM UNNEST({}, {}) AS u({}, {}) \
         JOIN o ON o.\"metric_id\" = {} AND o.\"observed_at\" = {} \
         AND COALESCE(o.\"agency_id\", 0) = COALESCE({}, 0) RETURNING *) \
         SELECT {}, {} FROM o JOIN r ON r.\"observation_id\" = o.\"id\"",
        o.names(),
        o.selected(),
        o.arrays(),
        o.aliases(),
        only_where_free,
        r.names(),
        r.selected(),
        r.arrays(),
        place_arrays.join(", "),
        r.aliases(),
        place_aliases.join(", "),
        metric.selected,
        at.selected,
        // Agencies' ids start at 1: 0 stands for no agency (a national figure) and keeps the
        // join an equality PostgreSQL can hash, for bulk loads of many agencies at one instant.
        agency.selected,
        listed("o", observation::Column::iter().map(|c| c.as_str()).collect()),
        listed("r", observation_revision::Column::iter().map(|c| c.as_str()).collect()),
    );
    Ok(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
}

/// What a write knows of the places it stores figures at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Places {
    /// Read in the write's transaction and found free.
    Free,
    /// Not read: the store finds out.
    Unread,
}

/// The observations already recorded at any of these places, by place (one batch's places).
pub async fn existing(
    db: &(impl ConnectionTrait + 'static),
    places: impl Iterator<Item = (i32, Option<i32>, DateTime<Utc>)>,
) -> Result<HashMap<SeriesInstant, i32>, ApiError> {
    existing_in_batches(db, [places.collect()]).await
}

/// The observations already recorded at any of the places of several batches, by place.
///
/// A batch's own instants in a series lie near one another (a bulk load, a month of days): each
/// such set is read as the time range it spans, one query per series and thousand instants,
/// keeping the places asked for, as a list of a thousand instants would be compared with every
/// reading of the series instead of guiding the index. A batch's lone instant in a series (one
/// small writer's figure) may be far from the others' in the same series: those are looked up
/// where they are, the lone places of all the batches in one statement per few hundred.
pub async fn existing_in_batches(
    db: &(impl ConnectionTrait + 'static),
    batches: impl IntoIterator<Item = Vec<(i32, Option<i32>, DateTime<Utc>)>>,
) -> Result<HashMap<SeriesInstant, i32>, ApiError> {
    let mut spans: Vec<(SeriesKey, Vec<DateTime<Utc>>)> = Vec::new();
    let mut lone: HashMap<SeriesKey, Vec<DateTime<Utc>>> = HashMap::new();
    let mut wanted = std::collections::HashSet::new();
    for places in batches {
        let mut by_series: HashMap<SeriesKey, Vec<DateTime<Utc>>> = HashMap::new();
        for (metric_id, agency_id, observed_at) in places {
            by_series
                .entry((metric_id, agency_id))
                .or_default()
                .push(observed_at.trunc_subsecs(6));
            wanted.insert(SeriesInstant::new(metric_id, agency_id, observed_at));
        }
        for (series, instants) in by_series {
            match instants.as_slice() {
                [one] => lone.entry(series).or_default().push(*one),
                _ => spans.push((series, instants)),
            }
        }
    }
    let mut found = HashMap::new();
    let mut keep = |rows: Vec<observation::Model>| {
        found.extend(
            rows.into_iter()
                .map(|row| {
                    let place = SeriesInstant::new(row.metric_id, row.agency_id, row.observed_at);
                    (place, row.id)
                })
                .filter(|(place, _)| wanted.contains(place)),
        );
    };
    for ((metric_id, agency_id), mut instants) in spans {
        instants.sort_unstable();
        for chunk in instants.chunks(super::ROWS_PER_STATEMENT) {
            let (first, last) = (chunk[0], chunk[chunk.len() - 1]);
            let rows = observation::Entity::find()
                .filter(observation::Column::MetricId.eq(metric_id))
                .filter(of_series(agency_id))
                .filter(observation::Column::ObservedAt.gte(first))
                .filter(observation::Column::ObservedAt.lte(last))
                .all(db)
                .await?;
            keep(rows);
        }
    }
    let mut lone: Vec<(SeriesKey, DateTime<Utc>)> = lone
        .into_iter()
        .flat_map(|(series, instants)| instants.into_iter().map(move |at| (series, at)))
        .collect();
    lone.sort_unstable();
    lone.dedup();
    for chunk in lone.chunks(LONE_PLACES_PER_STATEMENT) {
        if db.get_database_backend() == DbBackend::Postgres {
            keep(at_places(db, chunk).await?);
            continue;
        }
        let mut any = Condition::any();
        for places in chunk.chunk_by(|(a, _), (b, _)| a == b) {
            let (metric_id, agency_id) = places[0].0;
            any = any.add(
                Condition::all()
                    .add(observation::Column::MetricId.eq(metric_id))
                    .add(of_series(agency_id))
                    .add(observation::Column::ObservedAt.is_in(places.iter().map(|(_, at)| *at))),
            );
        }
        keep(observation::Entity::find().filter(any).all(db).await?);
    }
    Ok(found)
}

/// A series: its metric, and its agency (none: national).
type SeriesKey = (i32, Option<i32>);

/// The observations at these places, on PostgreSQL: each place looked up by its own index
/// descent, whatever the planner knows of the table. Asked as a list of instants, a series'
/// places were compared with each of its readings when the table had no statistics yet (a new
/// database taking its first writes), a cost that grew with every write.
async fn at_places(
    db: &(impl ConnectionTrait + 'static),
    places: &[(SeriesKey, DateTime<Utc>)],
) -> Result<Vec<observation::Model>, DbErr> {
    type Place = (SeriesKey, DateTime<Utc>);
    let column = |name: &str, nullable: bool, value: fn(&Place) -> Value| {
        crate::rows::array_of(name, nullable, places.iter().map(value).collect())
    };
    let (metrics, _, _) = column("metric_id", false, |((metric, _), _)| (*metric).into())?;
    // A national place is one whose agency is null.
    let (agencies, _, national) = column("agency_id", true, |((_, agency), _)| (*agency).into())?;
    let national = national.ok_or_else(|| DbErr::Custom("no null flags for agency_id".into()))?;
    let (instants, _, _) = column("observed_at", false, |(_, at)| (*at).into())?;
    // LATERAL keeps each place an index lookup of its own; each arm is one index's.
    let sql = "SELECT found.* \
        FROM UNNEST($1::int4[], $2::int4[], $3::bool[], $4::timestamptz[]) \
          AS p(metric_id, agency_id, national, observed_at) \
        CROSS JOIN LATERAL ( \
          SELECT * FROM observation o WHERE p.national AND o.agency_id IS NULL \
            AND o.metric_id = p.metric_id AND o.observed_at = p.observed_at \
          UNION ALL \
          SELECT * FROM observation o WHERE NOT p.national AND o.agency_id = p.agency_id \
            AND o.metric_id = p.metric_id AND o.observed_at = p.observed_at) found";
    observation::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            [metrics, agencies, national, instants],
        ))
        .all(db)
        .await
}

/// Lone places looked up in one statement: enough to serve a group of small writers at once.
const LONE_PLACES_PER_STATEMENT: usize = 500;

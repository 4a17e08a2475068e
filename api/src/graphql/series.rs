use super::scalars::{Day, Exact, Instant};
use async_graphql::{Context, Enum, Object, Result};
use chrono::Utc;
use entity::values::{MetricKind, Qualifier};

use super::agencies::Agency;
use super::breakdown::{AgencyGroup, Boundaries, UnitPart};
use super::lang::{self, LangChoice};
use super::metrics::Metric;
use super::observations::Observation;
use super::{database, reference};
use crate::error::GraphqlError;
use crate::service::exact;
use crate::service::series::{self, SeriesPoint, SeriesRequest};
use crate::service::time::parse_time_zone;

/// The calendar unit a series is cut into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "crate::service::series::TimeBucket")]
pub enum TimeBucket {
    Day,
    /// ISO weeks, Monday to Sunday.
    Week,
    Month,
    Quarter,
    Year,
}

/// A metric cut into calendar buckets, aggregated as its kind allows.
pub struct TimeSeries {
    /// Its points are moved to `points`, which are served by reference.
    series: series::TimeSeries,
    points: Vec<Point>,
}

impl From<series::TimeSeries> for TimeSeries {
    fn from(mut series: series::TimeSeries) -> Self {
        let points = std::mem::take(&mut series.points)
            .into_iter()
            .map(Point)
            .collect();
        Self { series, points }
    }
}

#[Object]
impl TimeSeries {
    async fn metric(&self) -> Metric {
        Metric(self.series.metric.clone())
    }

    async fn bucket(&self) -> TimeBucket {
        self.series.bucket.into()
    }

    /// The IANA time zone the buckets follow.
    async fn time_zone(&self) -> &str {
        self.series.time_zone.name()
    }

    /// How each point's value was obtained from the readings in its bucket, in the request's
    /// language (as names are).
    async fn aggregation(&self, ctx: &Context<'_>, lang: Option<LangChoice>) -> &'static str {
        let lang = lang::resolve(ctx, lang);
        match self.series.metric.kind {
            MetricKind::Cumulative => lang.pick(
                "số đọc cuối cùng của bộ đếm trong khoảng; mức thay đổi = số đọc đó trừ số đọc cuối cùng trước khoảng",
                "last reading of the counter in the bucket; change = that reading minus the last reading before the bucket",
            ),
            MetricKind::Flow => lang.pick(
                "tổng các lượng có kỳ bắt đầu trong khoảng",
                "sum of the amounts whose period starts in the bucket",
            ),
            MetricKind::Level | MetricKind::Ratio => lang.pick(
                "số đọc cuối cùng trong khoảng; không bao giờ cộng dồn",
                "last reading in the bucket; never summed",
            ),
            MetricKind::AnnualRate => lang.pick(
                "ước tính hằng năm cuối cùng trong khoảng; một tốc độ mỗi năm, không bao giờ cộng qua các khoảng",
                "last yearly estimate in the bucket; a rate per year, never summed over buckets",
            ),
        }
    }

    /// Every bucket from the first to the last, empty ones included.
    async fn points(&self) -> &[Point] {
        &self.points
    }
}

/// One bucket of a time series.
pub struct Point(pub SeriesPoint);

#[Object(name = "SeriesPoint")]
impl Point {
    /// The bucket's name on a chart axis: `2020-12-25`, `2020-W52`, `2020-12`, `2020-Q4`, `2020`.
    async fn label(&self) -> &str {
        &self.0.label
    }

    async fn start(&self) -> Instant {
        Instant(self.0.start)
    }

    /// Exclusive.
    async fn end(&self) -> Instant {
        Instant(self.0.end)
    }

    /// The bucket has not ended yet: its value may still change.
    async fn is_open(&self) -> bool {
        self.0.is_open
    }

    /// No reading falls in the bucket.
    async fn is_empty(&self) -> bool {
        self.0.value.is_none()
    }

    /// The bucket's exact value; null when it is empty.
    async fn value(&self) -> Option<Exact> {
        self.0.value.map(Exact)
    }

    /// The value as a float for charting libraries: approximate.
    async fn value_float(&self) -> Option<f64> {
        self.0.value.map(exact::approximate)
    }

    /// The qualifier of the value; for a sum of differently qualified readings, `ABOUT`.
    async fn qualifier(&self) -> Option<Qualifier> {
        self.0.qualifier
    }

    async fn denominator(&self) -> Option<Exact> {
        self.0.denominator.map(Exact)
    }

    /// For a cumulative counter: the growth since the last reading before this bucket.
    async fn change(&self) -> Option<Exact> {
        self.0.change.map(Exact)
    }

    /// `EXACT` when both readings are exact; otherwise the change is an estimate (`ABOUT`).
    async fn change_qualifier(&self) -> Option<Qualifier> {
        self.0.change_qualifier
    }

    async fn observation_count(&self) -> usize {
        self.0.observations.len()
    }

    /// The readings behind the value, oldest first.
    async fn observations(&self) -> Vec<Observation> {
        self.0
            .observations
            .iter()
            .cloned()
            .map(Observation::from)
            .collect()
    }

    /// With `CURRENT` boundaries, the units whose own values make this one (the provinces merged
    /// into the unit asked for); empty when the value is the unit's own.
    async fn composed_of(&self) -> Vec<UnitPart> {
        self.0
            .parts
            .iter()
            .map(|part| UnitPart {
                agency: part.agency.as_ref().clone(),
                value: part.value,
                qualifier: part.qualifier,
                denominator: part.denominator,
            })
            .collect()
    }
}

#[derive(Default)]
pub struct SeriesQuery;

#[Object]
impl SeriesQuery {
    /// A metric's values per bucket from the bucket holding `from` to the bucket holding `to`
    /// (local dates, inclusive), in `timeZone`.
    #[allow(clippy::too_many_arguments)] // each is a GraphQL argument
    async fn time_series(
        &self,
        ctx: &Context<'_>,
        metric: String,
        #[graphql(
            desc = "The series of this agency (by code); the national series when not given."
        )]
        agency: Option<String>,
        #[graphql(
            default,
            desc = "Include generated demonstration data (left out by default)."
        )]
        include_synthetic: bool,
        from: Day,
        to: Day,
        #[graphql(default_with = "TimeBucket::Month")] bucket: TimeBucket,
        #[graphql(default = "Asia/Ho_Chi_Minh")] time_zone: String,
        #[graphql(
            desc = "Answer as the API did at this instant: revisions recorded by then and not yet replaced."
        )]
        as_of: Option<Instant>,
        #[graphql(
            default_with = "Boundaries::AsRecorded",
            desc = "CURRENT: an agency's series includes the figures of the units merged into it, point by point."
        )]
        boundaries: Boundaries,
        #[graphql(desc = "Compose the figures into the units in force on this day.")]
        boundaries_on: Option<Day>,
    ) -> Result<TimeSeries> {
        let time_zone = parse_time_zone(&time_zone).map_err(|e| e.extend())?;
        let with_readings = wants_readings(ctx);
        let request = SeriesRequest {
            metric,
            agency,
            include_synthetic,
            from: from.0,
            to: to.0,
            bucket: bucket.into(),
            time_zone,
            now: Utc::now(),
            as_of: super::as_of(ctx, as_of),
            with_readings,
            boundaries: boundaries.with_day(boundaries_on),
        };
        series::time_series(database(ctx)?, reference(ctx)?, &request)
            .await
            .map(TimeSeries::from)
            .map_err(|e| e.extend())
    }

    /// One line per province (or ministry), read together: the units in force during the range,
    /// or with `CURRENT` boundaries today's units, each with the figures of the units merged
    /// into it.
    #[allow(clippy::too_many_arguments)] // each is a GraphQL argument
    async fn time_series_by_agency(
        &self,
        ctx: &Context<'_>,
        metric: String,
        of: AgencyGroup,
        from: Day,
        to: Day,
        #[graphql(default_with = "TimeBucket::Month")] bucket: TimeBucket,
        #[graphql(default = "Asia/Ho_Chi_Minh")] time_zone: String,
        #[graphql(default_with = "Boundaries::AsRecorded")] boundaries: Boundaries,
        #[graphql(desc = "Compose the figures into the units in force on this day.")]
        boundaries_on: Option<Day>,
        #[graphql(
            default,
            desc = "Include generated demonstration data (left out by default)."
        )]
        include_synthetic: bool,
        as_of: Option<Instant>,
    ) -> Result<Vec<AgencySeries>> {
        let time_zone = parse_time_zone(&time_zone).map_err(|e| e.extend())?;
        let request = SeriesRequest {
            metric,
            agency: None,
            include_synthetic,
            from: from.0,
            to: to.0,
            bucket: bucket.into(),
            time_zone,
            now: Utc::now(),
            as_of: super::as_of(ctx, as_of),
            with_readings: wants_readings(ctx),
            boundaries: boundaries.with_day(boundaries_on),
        };
        let (_, lines) =
            series::time_series_by_agency(database(ctx)?, reference(ctx)?, &request, of.into())
                .await
                .map_err(|e| e.extend())?;
        Ok(lines
            .into_iter()
            .map(|(agency, points)| AgencySeries {
                agency,
                points: points.into_iter().map(Point).collect(),
            })
            .collect())
    }
}

/// One agency's line.
pub struct AgencySeries {
    agency: entity::agency::Model,
    points: Vec<Point>,
}

#[Object]
impl AgencySeries {
    async fn agency(&self) -> Agency {
        Agency(self.agency.clone())
    }

    /// Every bucket from the first to the last, empty ones included.
    async fn points(&self) -> &[Point] {
        &self.points
    }
}

/// Whether the query asks for the readings behind each point (not only the points' values).
fn wants_readings(ctx: &Context<'_>) -> bool {
    let points = ctx.look_ahead().field("points");
    points.field("observations").exists() || points.field("observationCount").exists()
}

//! Time series for charts, bucketed in a time zone, aggregated as the metric's kind allows (the
//! rules are in [`super::kinds`]):
//!
//! - A cumulative counter gives its last reading in each bucket and the change since the last
//!   reading before it: summing readings of a counter would count the same documents again.
//! - A flow is summed within each bucket.
//! - A level, an annual rate or a ratio takes its last reading and is never summed: two yearly
//!   savings estimates made in one month are not twice the savings.
//!
//! Every bucket from the first to the last is returned, empty ones included, and a bucket that
//! has not ended yet is marked open.

use std::sync::Arc;

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use chrono_tz::Tz;
use entity::values::Qualifier;
use entity::{agency, metric, observation};
use rust_decimal::Decimal;
use sea_orm::{DatabaseConnection, DbBackend};

use super::breakdown::{AgencyGroup, Boundaries};
use super::exact;
use super::kinds::{self, AcrossAgencies, BucketValue};
use super::observations::{self, CurrentObservation, Reading, ReadingRow};
use super::reference::ReferenceCache;
use super::time::{day_range, local_date, start_of_day};
use crate::error::ApiError;
use crate::id_map::IdMap;

/// More points than any chart draws; a larger request is refused rather than computed.
pub const MAX_POINTS: usize = 5000;

/// The calendar unit a series is cut into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeBucket {
    Day,
    /// ISO weeks, Monday to Sunday.
    Week,
    Month,
    Quarter,
    Year,
}

impl TimeBucket {
    /// The first day of the bucket holding `date`.
    pub fn start_of(self, date: NaiveDate) -> NaiveDate {
        let first_of_month = |month: u32| NaiveDate::from_ymd_opt(date.year(), month, 1);
        match self {
            Self::Day => Some(date),
            Self::Week => {
                Some(date - chrono::Days::new(date.weekday().num_days_from_monday().into()))
            }
            Self::Month => first_of_month(date.month()),
            Self::Quarter => first_of_month((date.month0() / 3) * 3 + 1),
            Self::Year => first_of_month(1),
        }
        .expect("the first day of a month exists")
    }

    /// The first day of the next bucket, given the first day of one.
    pub fn next(self, start: NaiveDate) -> NaiveDate {
        match self {
            Self::Day => start + chrono::Days::new(1),
            Self::Week => start + chrono::Days::new(7),
            Self::Month => start + Months::new(1),
            Self::Quarter => start + Months::new(3),
            Self::Year => start + Months::new(12),
        }
    }

    /// How a chart axis names the bucket: `2020-12-25`, `2020-W52`, `2020-12`, `2020-Q4`, `2020`.
    pub fn label(self, start: NaiveDate) -> String {
        match self {
            Self::Day => start.format("%Y-%m-%d").to_string(),
            Self::Week => {
                let week = start.iso_week();
                format!("{}-W{:02}", week.year(), week.week())
            }
            Self::Month => start.format("%Y-%m").to_string(),
            Self::Quarter => format!("{}-Q{}", start.year(), start.month0() / 3 + 1),
            Self::Year => start.year().to_string(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SeriesRequest {
    pub metric: String,
    /// The agency whose series is wanted (by code); the national one when none.
    pub agency: Option<String>,
    pub include_synthetic: bool,
    /// First local day wanted; the series starts at the bucket holding it.
    pub from: NaiveDate,
    /// Last local day wanted (inclusive); the series ends with the bucket holding it.
    pub to: NaiveDate,
    pub bucket: TimeBucket,
    pub time_zone: Tz,
    /// Buckets ending after this instant are open.
    pub now: DateTime<Utc>,
    /// Answer as the API did at this instant (it then also stands for `now`).
    pub as_of: Option<DateTime<Utc>>,
    /// The readings behind each point are wanted. Without them, a series whose points are last
    /// readings reads one reading per bucket instead of every reading in the range.
    pub with_readings: bool,
    /// With `Current`, an agency's series includes the figures of the units merged into it.
    pub boundaries: Boundaries,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SeriesPoint {
    /// Shared by the points of every line over the same buckets.
    pub label: Arc<str>,
    pub start: DateTime<Utc>,
    /// Exclusive.
    pub end: DateTime<Utc>,
    pub is_open: bool,
    /// The bucket's value as the metric's kind defines it; none for an empty bucket.
    pub value: Option<Decimal>,
    pub qualifier: Option<Qualifier>,
    pub denominator: Option<Decimal>,
    /// For a cumulative counter: the value minus the last reading before this bucket.
    pub change: Option<Decimal>,
    pub change_qualifier: Option<Qualifier>,
    /// The readings that went into the bucket, oldest first (when they were asked for).
    pub observations: Vec<CurrentObservation>,
    /// For a unit shown in today's boundaries: the units whose figures make the value (empty
    /// when the value is the unit's own).
    pub parts: Vec<PointPart>,
}

impl SeriesPoint {
    /// A bucket with nothing in it yet.
    fn empty(label: Arc<str>, start: DateTime<Utc>, end: DateTime<Utc>, is_open: bool) -> Self {
        Self {
            label,
            start,
            end,
            is_open,
            value: None,
            qualifier: None,
            denominator: None,
            change: None,
            change_qualifier: None,
            observations: Vec::new(),
            parts: Vec::new(),
        }
    }
}

/// One unit's own value inside a composed point.
#[derive(Debug, Clone, PartialEq)]
pub struct PointPart {
    /// Shared by the unit's parts of every point.
    pub agency: Arc<agency::Model>,
    pub value: Decimal,
    pub qualifier: Qualifier,
    pub denominator: Option<Decimal>,
}

#[derive(Debug, Clone)]
pub struct TimeSeries {
    pub metric: metric::Model,
    pub bucket: TimeBucket,
    pub time_zone: Tz,
    pub points: Vec<SeriesPoint>,
}

pub async fn time_series(
    db: &DatabaseConnection,
    reference: &ReferenceCache,
    request: &SeriesRequest,
) -> Result<TimeSeries, ApiError> {
    let plan = Plan::new(request)?;
    let metric = reference
        .metric_by_code(&request.metric)
        .await
        .map_err(|e| e.for_argument("metric"))?;
    let agency = super::look_up_optional(request.agency.as_deref(), "agency", |code| {
        reference.agency_by_code(code)
    })
    .await?;
    let series_of = |agency_id: Option<i32>| observations::Series {
        metric_id: metric.id,
        agency_id,
        include_synthetic: request.include_synthetic,
    };
    let composition = match (&agency, request.boundaries) {
        (Some(unit), Boundaries::Current | Boundaries::On(_)) => {
            reference.current().await?.composition(unit.id)
        }
        _ => Vec::new(),
    };
    let points = if composition.len() > 1 {
        let mut lines = Vec::with_capacity(composition.len());
        for part in composition {
            let points = line(db, &metric, &plan, series_of(Some(part.id)), request).await?;
            lines.push((Arc::new(part), points));
        }
        let unit = agency.as_ref().map_or("", |a| a.code.as_str());
        compose(&metric, unit, lines)?
    } else {
        line(db, &metric, &plan, series_of(agency.map(|a| a.id)), request).await?
    };
    Ok(TimeSeries {
        metric,
        bucket: request.bucket,
        time_zone: request.time_zone,
        points,
    })
}

/// The buckets a request asks for, empty, and the window they cover.
struct Plan {
    starts: Vec<NaiveDate>,
    points: Vec<SeriesPoint>,
    window_start: DateTime<Utc>,
    window_end: DateTime<Utc>,
    window_end_date: NaiveDate,
}

impl Plan {
    /// Where reading stops: a flow ends after it starts, so one bucket further, that flows
    /// starting inside the window are all found.
    fn read_until(&self, metric: &metric::Model, request: &SeriesRequest) -> DateTime<Utc> {
        if kinds::covers_period(metric.kind) {
            start_of_day(request.bucket.next(self.window_end_date), request.time_zone)
        } else {
            self.window_end
        }
    }

    fn new(request: &SeriesRequest) -> Result<Self, ApiError> {
        day_range(("from", request.from), ("to", request.to))?;
        let (bucket, zone) = (request.bucket, request.time_zone);
        let mut starts = vec![bucket.start_of(request.from)];
        while let Some(&last) = starts.last() {
            let next = bucket.next(last);
            if next > request.to {
                break;
            }
            if starts.len() == MAX_POINTS {
                return Err(ApiError::bad_input(
                    "bucket",
                    crate::message!(TOO_MANY_POINTS, max = MAX_POINTS),
                ));
            }
            starts.push(next);
        }
        let window_end_date = bucket.next(*starts.last().expect("at least one bucket"));
        let now = request.as_of.unwrap_or(request.now);
        let points = starts
            .iter()
            .map(|&start| {
                let end = start_of_day(bucket.next(start), zone);
                SeriesPoint::empty(
                    bucket.label(start).into(),
                    start_of_day(start, zone),
                    end,
                    end > now,
                )
            })
            .collect();
        Ok(Self {
            window_start: start_of_day(starts[0], zone),
            window_end: start_of_day(window_end_date, zone),
            window_end_date,
            starts,
            points,
        })
    }
}

/// One series' points: its readings bucketed as the metric's kind says.
async fn line(
    db: &DatabaseConnection,
    metric: &metric::Model,
    plan: &Plan,
    series: observations::Series,
    request: &SeriesRequest,
) -> Result<Vec<SeriesPoint>, ApiError> {
    if request.with_readings {
        return read_and_bucket::<CurrentObservation>(db, metric, plan, series, request).await;
    }
    if kinds::bucket_value(metric.kind) == BucketValue::Last {
        // One index step back from each bucket's end, instead of every reading of the range.
        let mut points = plan.points.clone();
        let mut boundaries: Vec<DateTime<Utc>> = points.iter().map(|p| p.end).collect();
        boundaries.push(plan.window_start);
        let mut latest =
            observations::latest_before_each(db, series, &boundaries, request.as_of).await?;
        let baseline = latest.pop().flatten();
        for (point, reading) in points.iter_mut().zip(latest) {
            if let Some(reading) = reading.filter(|r| r.observed_at >= point.start) {
                take_value(point, &reading);
            }
        }
        measure_changes(metric, &mut points, baseline);
        return Ok(points);
    }
    read_and_bucket::<Reading>(db, metric, plan, series, request).await
}

/// Every reading of the window bucketed; `R` says whether the points keep whole observations.
async fn read_and_bucket<R: ReadingRow>(
    db: &DatabaseConnection,
    metric: &metric::Model,
    plan: &Plan,
    series: observations::Series,
    request: &SeriesRequest,
) -> Result<Vec<SeriesPoint>, ApiError> {
    let readings = observations::of_series_between::<R>(
        db,
        series,
        plan.window_start,
        plan.read_until(metric, request),
        request.as_of,
    )
    .await?;
    // A counter's change in the first bucket is measured from the last reading before it.
    let baseline = if kinds::measures_change(metric.kind) {
        observations::latest_in_series(db, series, plan.window_start, request.as_of).await?
    } else {
        None
    };
    bucketed(metric, plan, request, readings, baseline)
}

/// Readings put in the buckets they are filed under, each bucket's value made as the kind says;
/// the points keep the whole observations when the rows hold them.
fn bucketed<R: ReadingRow>(
    metric: &metric::Model,
    plan: &Plan,
    request: &SeriesRequest,
    rows: Vec<R>,
    baseline: Option<Reading>,
) -> Result<Vec<SeriesPoint>, ApiError> {
    let bucket = request.bucket;
    let mut points = plan.points.clone();
    let mut filed: Vec<Vec<Reading>> = vec![Vec::new(); points.len()];
    for row in rows {
        let reading = row.reading();
        let attributed_to = reading.filed_at();
        // The buckets are consecutive instants: the one holding the reading is the last that
        // starts at or before it.
        let after = points.partition_point(|point| point.start <= attributed_to);
        let Some(i) = after
            .checked_sub(1)
            .filter(|&i| attributed_to < points[i].end)
        else {
            continue;
        };
        if reading.observed_at > points[i].end {
            return Err(ApiError::bad_input(
                "bucket",
                crate::message!(
                    READING_SPANS_BUCKETS,
                    metric = &metric.code,
                    from = attributed_to,
                    to = reading.observed_at,
                    bucket = format!("{bucket:?}")
                ),
            ));
        }
        filed[i].push(reading);
        points[i].observations.extend(row.into_observation());
    }
    for (point, readings) in points.iter_mut().zip(&filed) {
        match kinds::bucket_value(metric.kind) {
            BucketValue::Sum => sum_readings(point, readings),
            BucketValue::Last => {
                if let Some(last) = readings.last() {
                    take_value(point, last);
                }
            }
        }
    }
    measure_changes(metric, &mut points, baseline);
    Ok(points)
}

/// A counter's points say how much it grew since the reading before each.
fn measure_changes(metric: &metric::Model, points: &mut [SeriesPoint], baseline: Option<Reading>) {
    if !kinds::measures_change(metric.kind) {
        return;
    }
    let mut previous = baseline.map(|r| (r.value, r.qualifier));
    for point in points {
        if let (Some(value), Some(qualifier)) = (point.value, point.qualifier) {
            if let Some((before, before_qualifier)) = previous {
                point.change = Some(value - before);
                point.change_qualifier =
                    Some(kinds::difference_qualifier(qualifier, before_qualifier));
            }
            previous = Some((value, qualifier));
        }
    }
}

/// One line per unit of a group (every province, every ministry), from one read of the
/// metric's readings however many units there are. With `Current` boundaries, the units are
/// today's and each line includes the units merged into it.
pub async fn time_series_by_agency(
    db: &DatabaseConnection,
    reference: &ReferenceCache,
    request: &SeriesRequest,
    group: AgencyGroup,
) -> Result<(metric::Model, Vec<(agency::Model, Vec<SeriesPoint>)>), ApiError> {
    let plan = Plan::new(request)?;
    let metric = reference
        .metric_by_code(&request.metric)
        .await
        .map_err(|e| e.for_argument("metric"))?;
    let lines = if request.with_readings {
        lines_of_group::<CurrentObservation>(db, reference, request, group, &plan, &metric).await?
    } else if let Some(lines) =
        totals_of_group(db, reference, request, group, &plan, &metric).await?
    {
        lines
    } else {
        lines_of_group::<Reading>(db, reference, request, group, &plan, &metric).await?
    };
    Ok((metric, lines))
}

/// One bucket of a flow for every unit of a group, summed by PostgreSQL: a few rows a unit
/// (one per qualifier) instead of each of its readings of the period, such as the twelve months
/// of a year a ranking of provinces scores. None when it does not apply (another kind, several
/// buckets, SQLite, whose decimals are not exact to sum) or when a reading spans past the
/// bucket, for the reading-by-reading path to name it.
async fn totals_of_group(
    db: &DatabaseConnection,
    reference: &ReferenceCache,
    request: &SeriesRequest,
    group: AgencyGroup,
    plan: &Plan,
    metric: &metric::Model,
) -> Result<Option<Vec<(agency::Model, Vec<SeriesPoint>)>>, ApiError> {
    let [bucket] = plan.points.as_slice() else {
        return Ok(None);
    };
    if kinds::bucket_value(metric.kind) != BucketValue::Sum
        || db.get_database_backend() != DbBackend::Postgres
    {
        return Ok(None);
    }
    let snapshot = reference.current().await?;
    let shown = units_shown(&snapshot, group, plan, request);
    let parts = parts_read(&shown);
    let of = observations::OfAgencies {
        metric_id: metric.id,
        agencies: &parts,
        include_synthetic: request.include_synthetic,
    };
    let totals = observations::totals_of_agencies_between(
        db,
        of,
        plan.window_start,
        plan.window_end,
        plan.read_until(metric, request),
        request.as_of,
    )
    .await?;
    if totals.iter().any(|t| t.latest_observed_at > bucket.end) {
        return Ok(None);
    }
    let mut by_agency: IdMap<i32, Vec<observations::FiledTotal>> = IdMap::default();
    for total in totals {
        by_agency.entry(total.agency_id).or_default().push(total);
    }
    let lines = lines_of_units(shown, metric, |part| {
        let mut point = bucket.clone();
        if let Some(totals) = by_agency.remove(&part) {
            let sum: Decimal = totals.iter().map(|t| t.total).sum();
            point.value = Some(exact::from_storage(sum));
            point.qualifier = Some(kinds::sum_qualifier(totals.iter().map(|t| t.qualifier)));
        }
        Ok(vec![point])
    })?;
    Ok(Some(lines))
}

/// The lines of a group's units; `R` says whether the points keep whole observations.
async fn lines_of_group<R: ReadingRow>(
    db: &DatabaseConnection,
    reference: &ReferenceCache,
    request: &SeriesRequest,
    group: AgencyGroup,
    plan: &Plan,
    metric: &metric::Model,
) -> Result<Vec<(agency::Model, Vec<SeriesPoint>)>, ApiError> {
    let snapshot = reference.current().await?;
    let shown = units_shown(&snapshot, group, plan, request);
    let parts = parts_read(&shown);
    let of = observations::OfAgencies {
        metric_id: metric.id,
        agencies: &parts,
        include_synthetic: request.include_synthetic,
    };
    // Readings filed in the window; a flow filed in its last bucket may end one bucket later.
    let rows = observations::of_agencies_between::<R>(
        db,
        of,
        plan.window_start,
        plan.window_end,
        Some(plan.read_until(metric, request)),
        request.as_of,
    )
    .await?;
    // A counter's change in each line's first bucket is measured from the reading before it.
    let mut baselines = if kinds::measures_change(metric.kind) {
        observations::latest_of_agencies_before(db, of, plan.window_start, request.as_of).await?
    } else {
        IdMap::default()
    };
    let mut by_agency: IdMap<i32, Vec<R>> = IdMap::default();
    for row in rows {
        if let Some(agency) = row.reading().agency_id {
            by_agency.entry(agency).or_default().push(row);
        }
    }
    lines_of_units(shown, metric, |part| {
        let readings = by_agency.remove(&part).unwrap_or_default();
        let baseline = baselines.remove(&part);
        bucketed(metric, plan, request, readings, baseline)
    })
}

/// A unit of a group as a request shows it, and the units whose own figures make its line.
struct Shown {
    unit: agency::Model,
    parts: Parts,
}

enum Parts {
    /// Its own figures alone (as recorded).
    Own,
    /// In today's boundaries: itself and the units merged into it.
    Composition(Vec<agency::Model>),
}

/// The units of the group the request shows, in code order: as recorded, those in force at some
/// time in the window; in today's boundaries, those in force on the day.
fn units_shown(
    snapshot: &crate::reference::Reference,
    group: AgencyGroup,
    plan: &Plan,
    request: &SeriesRequest,
) -> Vec<Shown> {
    let last_day = plan
        .window_end_date
        .pred_opt()
        .unwrap_or(plan.window_end_date);
    let composed_on = request
        .boundaries
        .composed_on(request.as_of.unwrap_or(request.now));
    let mut shown: Vec<Shown> = snapshot
        .group(group)
        .filter_map(|unit| {
            let parts = match composed_on {
                None if unit.valid_during(plan.starts[0], last_day) => Parts::Own,
                Some(day) if unit.valid_on(day) => {
                    Parts::Composition(snapshot.composition(unit.id))
                }
                _ => return None,
            };
            Some(Shown {
                unit: unit.clone(),
                parts,
            })
        })
        .collect();
    shown.sort_by(|a, b| a.unit.code.cmp(&b.unit.code));
    shown
}

/// The units whose figures the lines are made of, in ascending order: only these are read, not
/// every unit the group has had (a year of provinces names 63 units, not the 87 of every date).
fn parts_read(shown: &[Shown]) -> Vec<i32> {
    let mut ids = Vec::with_capacity(shown.len());
    for line in shown {
        match &line.parts {
            Parts::Own => ids.push(line.unit.id),
            Parts::Composition(parts) => ids.extend(parts.iter().map(|part| part.id)),
        }
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// A line for each unit shown, in their order: its own points, or the points of its parts
/// composed; `points_of` gives a unit's own.
fn lines_of_units(
    shown: Vec<Shown>,
    metric: &metric::Model,
    mut points_of: impl FnMut(i32) -> Result<Vec<SeriesPoint>, ApiError>,
) -> Result<Vec<(agency::Model, Vec<SeriesPoint>)>, ApiError> {
    let mut lines = Vec::with_capacity(shown.len());
    for Shown { unit, parts } in shown {
        let points = match parts {
            Parts::Own => points_of(unit.id)?,
            Parts::Composition(parts) => {
                let mut own = Vec::with_capacity(parts.len());
                for part in parts {
                    let points = points_of(part.id)?;
                    own.push((Arc::new(part), points));
                }
                if own.len() == 1 {
                    own.pop().expect("one part").1
                } else {
                    compose(metric, &unit.code, own)?
                }
            }
        };
        lines.push((unit, points));
    }
    Ok(lines)
}

/// Several units' lines made one, point by point, as the metric's kind allows: the series of a
/// unit with the figures of the units merged into it. Each point says what it is made of.
fn compose(
    metric: &metric::Model,
    unit: &str,
    mut lines: Vec<(Arc<agency::Model>, Vec<SeriesPoint>)>,
) -> Result<Vec<SeriesPoint>, ApiError> {
    let rule = kinds::across_agencies(metric.kind, metric.unit);
    let Some((_, first)) = lines.first() else {
        return Ok(Vec::new());
    };
    let mut composed: Vec<SeriesPoint> = first
        .iter()
        .map(|point| SeriesPoint::empty(point.label.clone(), point.start, point.end, point.is_open))
        .collect();
    for (at, point) in composed.iter_mut().enumerate() {
        let reported: Vec<(&Arc<agency::Model>, &SeriesPoint)> = lines
            .iter()
            .map(|(agency, points)| (agency, &points[at]))
            .filter(|(_, p)| p.value.is_some())
            .collect();
        if reported.is_empty() {
            continue;
        }
        if reported.len() > 1 && rule == AcrossAgencies::NotAdditive {
            return Err(ApiError::bad_input(
                "boundaries",
                crate::message!(NOT_COMPOSABLE, metric = &metric.code, unit = unit),
            ));
        }
        let values = reported.iter().filter_map(|(_, p)| p.value);
        point.value = Some(exact::from_storage(values.sum()));
        point.qualifier = Some(kinds::sum_qualifier(
            reported.iter().filter_map(|(_, p)| p.qualifier),
        ));
        if rule == AcrossAgencies::RatioOfSums {
            let denominators: Option<Decimal> = reported.iter().map(|(_, p)| p.denominator).sum();
            point.denominator = denominators.map(exact::from_storage);
        }
        if reported.iter().all(|(_, p)| p.change.is_some()) {
            let changes = reported.iter().filter_map(|(_, p)| p.change);
            point.change = Some(exact::from_storage(changes.sum()));
            point.change_qualifier = Some(kinds::sum_qualifier(
                reported.iter().filter_map(|(_, p)| p.change_qualifier),
            ));
        }
        point.parts = reported
            .iter()
            .map(|(agency, p)| PointPart {
                agency: Arc::clone(agency),
                value: p.value.expect("reported"),
                qualifier: p.qualifier.expect("reported"),
                denominator: p.denominator,
            })
            .collect();
        // Each part's readings move to the composed point; the parts' lines are not kept.
        let mut readings: Vec<CurrentObservation> = lines
            .iter_mut()
            .flat_map(|(_, points)| std::mem::take(&mut points[at].observations))
            .collect();
        readings.sort_by_key(|r| (r.observation.observed_at, r.observation.id));
        point.observations = readings;
    }
    Ok(composed)
}

/// The point a newly recorded (or corrected) reading changed: in its agency's series, or the
/// national one, the bucket holding the day the reading is filed under, with its readings.
pub async fn point_of_change(
    db: &DatabaseConnection,
    reference: &ReferenceCache,
    metric_code: &str,
    reading: &observation::Model,
    bucket: TimeBucket,
    zone: Tz,
) -> Result<SeriesPoint, ApiError> {
    let agency = match reading.agency_id {
        Some(id) => reference
            .row::<entity::agency::Entity>(id)
            .await?
            .map(|agency| agency.code),
        None => None,
    };
    let day = local_date(
        kinds::filed_at(reading.observed_at, reading.period_start),
        zone,
    );
    let request = SeriesRequest {
        metric: metric_code.to_owned(),
        agency,
        include_synthetic: reading.synthetic,
        from: day,
        to: day,
        bucket,
        time_zone: zone,
        now: Utc::now(),
        as_of: None,
        // One bucket: its readings cost little and a subscriber may want them.
        with_readings: true,
        boundaries: Boundaries::AsRecorded,
    };
    let series = time_series(db, reference, &request).await?;
    series.points.into_iter().next().ok_or_else(|| {
        ApiError::from(sea_orm::DbErr::Custom(
            "a change without its point in the series".to_owned(),
        ))
    })
}

/// A point whose value is one reading's: the last of its bucket.
fn take_value(point: &mut SeriesPoint, reading: &Reading) {
    point.value = Some(reading.value);
    point.qualifier = Some(reading.qualifier);
    point.denominator = reading.denominator;
}

fn sum_readings(point: &mut SeriesPoint, readings: &[Reading]) {
    if readings.is_empty() {
        return;
    }
    let total: Decimal = readings.iter().map(|r| r.value).sum();
    point.value = Some(exact::from_storage(total));
    point.qualifier = Some(kinds::sum_qualifier(readings.iter().map(|r| r.qualifier)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn buckets_start_where_the_calendar_says() {
        let christmas = date("2020-12-25"); // a Friday
        assert_eq!(TimeBucket::Day.start_of(christmas), christmas);
        assert_eq!(TimeBucket::Week.start_of(christmas), date("2020-12-21"));
        assert_eq!(TimeBucket::Month.start_of(christmas), date("2020-12-01"));
        assert_eq!(TimeBucket::Quarter.start_of(christmas), date("2020-10-01"));
        assert_eq!(TimeBucket::Year.start_of(christmas), date("2020-01-01"));
        assert_eq!(
            TimeBucket::Quarter.next(date("2020-10-01")),
            date("2021-01-01")
        );
        assert_eq!(TimeBucket::Week.label(date("2020-12-21")), "2020-W52");
        assert_eq!(TimeBucket::Week.label(date("2021-01-04")), "2021-W01");
        assert_eq!(TimeBucket::Quarter.label(date("2020-10-01")), "2020-Q4");
    }
}

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

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use chrono_tz::Tz;
use entity::values::Qualifier;
use entity::{metric, observation};
use rust_decimal::Decimal;
use sea_orm::DatabaseConnection;

use super::exact;
use super::kinds::{self, BucketValue};
use super::observations::{self, CurrentObservation};
use super::reference::ReferenceCache;
use super::time::{local_date, start_of_day, within_calendar};
use crate::error::ApiError;

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
}

#[derive(Debug, Clone, PartialEq)]
pub struct SeriesPoint {
    pub label: String,
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
    within_calendar("from", request.from)?;
    within_calendar("to", request.to)?;
    if request.from > request.to {
        return Err(ApiError::bad_input(
            "to",
            crate::message!(RANGE_REVERSED, to = request.to, from = request.from),
        ));
    }
    let metric = reference
        .metric_by_code(&request.metric)
        .await
        .map_err(|e| e.for_argument("metric"))?;
    let agency_id = super::look_up_optional(request.agency.as_deref(), "agency", |code| {
        reference.agency_by_code(code)
    })
    .await?
    .map(|agency| agency.id);
    let series = observations::Series {
        metric_id: metric.id,
        agency_id,
        include_synthetic: request.include_synthetic,
    };
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
    let window_start = start_of_day(starts[0], zone);
    let window_end = start_of_day(window_end_date, zone);

    let now = request.as_of.unwrap_or(request.now);
    let mut points: Vec<SeriesPoint> = starts
        .iter()
        .map(|&start| {
            let end = start_of_day(bucket.next(start), zone);
            SeriesPoint {
                label: bucket.label(start),
                start: start_of_day(start, zone),
                end,
                is_open: end > now,
                value: None,
                qualifier: None,
                denominator: None,
                change: None,
                change_qualifier: None,
                observations: Vec::new(),
            }
        })
        .collect();

    // A counter's change in the first bucket is measured from the last reading before it.
    let mut baseline = None;
    let value_of_bucket = kinds::bucket_value(metric.kind);
    if value_of_bucket == BucketValue::Last && !request.with_readings {
        let mut boundaries: Vec<DateTime<Utc>> = points.iter().map(|p| p.end).collect();
        boundaries.push(window_start);
        let mut latest =
            observations::latest_before_each(db, series, &boundaries, request.as_of).await?;
        baseline = latest.pop().flatten();
        for (point, reading) in points.iter_mut().zip(latest) {
            if let Some(reading) = reading.filter(|r| r.observation.observed_at >= point.start) {
                take_value(point, &reading);
            }
        }
    } else {
        // A flow ends after it starts: read one bucket further so that flows starting inside
        // the window are all found.
        let read_until = if kinds::covers_period(metric.kind) {
            start_of_day(bucket.next(window_end_date), zone)
        } else {
            window_end
        };
        let readings =
            observations::of_series_between(db, series, window_start, read_until, request.as_of)
                .await?;
        let index: HashMap<NaiveDate, usize> = starts
            .iter()
            .enumerate()
            .map(|(i, &start)| (start, i))
            .collect();
        for reading in readings {
            let attributed_to = kinds::filed_at(&reading.observation);
            let Some(&i) = index.get(&bucket.start_of(local_date(attributed_to, zone))) else {
                continue;
            };
            if reading.observation.observed_at > points[i].end {
                return Err(ApiError::bad_input(
                    "bucket",
                    crate::message!(
                        READING_SPANS_BUCKETS,
                        metric = &metric.code,
                        from = attributed_to,
                        to = reading.observation.observed_at,
                        bucket = format!("{bucket:?}")
                    ),
                ));
            }
            points[i].observations.push(reading);
        }
        match value_of_bucket {
            BucketValue::Sum => points.iter_mut().for_each(sum_readings),
            BucketValue::Last => {
                for point in &mut points {
                    if let Some(last) = point.observations.last().cloned() {
                        take_value(point, &last);
                    }
                }
                if kinds::measures_change(metric.kind) {
                    baseline =
                        observations::latest_in_series(db, series, window_start, request.as_of)
                            .await?;
                }
            }
        }
    }

    if kinds::measures_change(metric.kind) {
        let mut previous = baseline.map(|r| (r.revision.value, r.revision.qualifier));
        for point in &mut points {
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

    Ok(TimeSeries {
        metric,
        bucket,
        time_zone: zone,
        points,
    })
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
    let day = local_date(kinds::filed_at(reading), zone);
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
    };
    let series = time_series(db, reference, &request).await?;
    series.points.into_iter().next().ok_or_else(|| {
        ApiError::from(sea_orm::DbErr::Custom(
            "a change without its point in the series".to_owned(),
        ))
    })
}

/// A point whose value is one reading's: the last of its bucket.
fn take_value(point: &mut SeriesPoint, reading: &CurrentObservation) {
    point.value = Some(reading.revision.value);
    point.qualifier = Some(reading.revision.qualifier);
    point.denominator = reading.revision.denominator;
}

fn sum_readings(point: &mut SeriesPoint) {
    if point.observations.is_empty() {
        return;
    }
    let total: Decimal = point.observations.iter().map(|r| r.revision.value).sum();
    point.value = Some(exact::from_storage(total));
    point.qualifier = Some(kinds::sum_qualifier(
        point.observations.iter().map(|r| r.revision.qualifier),
    ));
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

//! A metric in one period against another, as its kind and qualifiers allow: a counter by its
//! growth in each period, a flow by its sum, a level, ratio or yearly rate by its last reading;
//! the change, and a direction only as far as the qualifiers prove it ("more than 3.7 million"
//! against 3.5 million is a certain rise; "about" against "about" may be no change at all).

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, Utc};
use entity::values::{MetricKind, Qualifier};
use entity::{agency, metric};
use rust_decimal::Decimal;
use sea_orm::DatabaseConnection;

use crate::breakdown::{period_figure, Figure};
use crate::error::ApiError;
use crate::indicators::{self, Gap, Qualified};
use crate::messages::Message;
use crate::reference::ReferenceCache;
use crate::time::{day_range, local_date, start_of_day, VIETNAM};
use crate::{exact, kinds, message, observations};

/// A period named relative to a day (today when none is given).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelativePeriod {
    ThisMonth,
    LastMonth,
    ThisQuarter,
    LastQuarter,
    ThisYear,
    LastYear,
    /// The twelve months before the month of the day.
    Last12Months,
}

/// The period compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Relative(RelativePeriod, Option<NaiveDate>),
    /// From and to, local days, inclusive.
    Fixed(NaiveDate, NaiveDate),
}

/// What the period is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Baseline {
    /// The period of the same length just before.
    PreviousPeriod,
    /// The same days a year before.
    SamePeriodLastYear,
    Fixed(NaiveDate, NaiveDate),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
    Unchanged,
    /// The qualifiers leave both ways open.
    Undetermined,
}

/// One side of a comparison.
#[derive(Debug, Clone)]
pub struct Side {
    pub first: NaiveDate,
    pub last: NaiveDate,
    /// The period has not ended yet.
    pub open: bool,
    /// The value compared, as the kind defines it: for a ratio, value over denominator.
    pub value: Option<Decimal>,
    pub qualifier: Option<Qualifier>,
    /// The figure it was made from (for a counter, the last reading in the period).
    pub figure: Option<Figure>,
}

#[derive(Debug, Clone)]
pub struct Comparison {
    pub metric: metric::Model,
    pub agency: Option<agency::Model>,
    pub current: Side,
    pub baseline: Side,
    pub change: Option<Decimal>,
    pub change_qualifier: Option<Qualifier>,
    /// The change over the baseline's value; none when the baseline is zero or missing.
    pub relative_change: Option<Decimal>,
    pub direction: Direction,
    /// Why the two sides cannot be compared fairly, when they cannot.
    pub not_comparable: Option<Message>,
}

pub struct CompareRequest {
    /// The metric's code, or for [`compare_indicator`] the indicator's.
    pub code: String,
    pub agency: Option<String>,
    pub current: Period,
    pub baseline: Baseline,
    pub include_synthetic: bool,
    pub now: DateTime<Utc>,
}

fn quarter_start(day: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(day.year(), (day.month0() / 3) * 3 + 1, 1).expect("a date")
}

fn year_start(day: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(day.year(), 1, 1).expect("a date")
}

/// The first and last day of `period`.
fn days_of(period: Period, today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let before = |next: NaiveDate| next - Duration::days(1);
    match period {
        Period::Fixed(first, last) => (first, last),
        Period::Relative(relative, day) => {
            let day = day.unwrap_or(today);
            let month = day.with_day(1).expect("a date");
            match relative {
                RelativePeriod::ThisMonth => (month, before(month + Months::new(1))),
                RelativePeriod::LastMonth => (month - Months::new(1), before(month)),
                RelativePeriod::ThisQuarter => {
                    let start = quarter_start(day);
                    (start, before(start + Months::new(3)))
                }
                RelativePeriod::LastQuarter => {
                    let start = quarter_start(day);
                    (start - Months::new(3), before(start))
                }
                RelativePeriod::ThisYear => {
                    let start = year_start(day);
                    (start, before(start + Months::new(12)))
                }
                RelativePeriod::LastYear => {
                    let start = year_start(day);
                    (start - Months::new(12), before(start))
                }
                RelativePeriod::Last12Months => (month - Months::new(12), before(month)),
            }
        }
    }
}

/// How many whole calendar months `first` to `last` covers, if it covers whole months.
fn whole_months(first: NaiveDate, last: NaiveDate) -> Option<u32> {
    let next = last + Duration::days(1);
    if first.day() != 1 || next.day() != 1 {
        return None;
    }
    let months = (next.year() - first.year()) * 12 + next.month() as i32 - first.month() as i32;
    u32::try_from(months).ok().filter(|&m| m > 0)
}

fn baseline_days(baseline: Baseline, first: NaiveDate, last: NaiveDate) -> (NaiveDate, NaiveDate) {
    match baseline {
        Baseline::Fixed(first, last) => (first, last),
        // Whole months (a month, a quarter, a year) are preceded by as many whole months;
        // other ranges by as many days.
        Baseline::PreviousPeriod => match whole_months(first, last) {
            Some(months) => (first - Months::new(months), first - Duration::days(1)),
            None => {
                let length = last - first + Duration::days(1);
                (first - length, first - Duration::days(1))
            }
        },
        Baseline::SamePeriodLastYear => (first - Months::new(12), last - Months::new(12)),
    }
}

pub async fn compare(
    db: &DatabaseConnection,
    reference: &ReferenceCache,
    request: &CompareRequest,
) -> Result<Comparison, ApiError> {
    let metric = reference
        .metric_by_code(&request.code)
        .await
        .map_err(|e| e.for_argument("metric"))?;
    let agency = crate::look_up_optional(request.agency.as_deref(), "agency", |code| {
        reference.agency_by_code(code)
    })
    .await?;
    let ((first, last), (base_first, base_last)) = periods(request)?;
    let series = observations::Series {
        metric_id: metric.id,
        agency_id: agency.as_ref().map(|a| a.id),
        include_synthetic: request.include_synthetic,
    };
    let current = side(db, &metric, series, first, last, request.now).await?;
    let baseline = side(db, &metric, series, base_first, base_last, request.now).await?;

    let (change, change_qualifier) = match (
        current.value,
        current.qualifier,
        baseline.value,
        baseline.qualifier,
    ) {
        (Some(now), Some(q_now), Some(before), Some(q_before)) => (
            Some(exact::from_storage(now - before)),
            Some(kinds::difference_qualifier(q_now, q_before)),
        ),
        _ => (None, None),
    };
    let relative_change = relative(change, baseline.value);
    let not_comparable = if current.open {
        Some(message!(PERIOD_NOT_OVER, last = current.last))
    } else {
        [&current, &baseline]
            .into_iter()
            .find(|s| s.value.is_none())
            .map(|side| match side.figure {
                // Readings in the period, but none before it to measure a counter's growth from.
                Some(_) => message!(NO_READING_BEFORE, from = side.first),
                None => message!(NO_FIGURE_IN_PERIOD, from = side.first, to = side.last),
            })
    };
    let direction = match (change, change_qualifier, &not_comparable) {
        (Some(change), Some(qualifier), None) => direction(change, qualifier),
        _ => Direction::Undetermined,
    };
    Ok(Comparison {
        metric,
        agency,
        current,
        baseline,
        change,
        change_qualifier,
        relative_change,
        direction,
        not_comparable,
    })
}

/// The days of the current period and of the baseline.
fn periods(request: &CompareRequest) -> Result<Days, ApiError> {
    let today = local_date(request.now, VIETNAM);
    let (first, last) = days_of(request.current, today);
    day_range(("current", first), ("current", last))?;
    let (base_first, base_last) = baseline_days(request.baseline, first, last);
    day_range(("baseline", base_first), ("baseline", base_last))?;
    Ok(((first, last), (base_first, base_last)))
}

type Days = ((NaiveDate, NaiveDate), (NaiveDate, NaiveDate));

/// The change over the baseline's value; none when the baseline is zero or missing.
fn relative(change: Option<Decimal>, before: Option<Decimal>) -> Option<Decimal> {
    match (change, before) {
        (Some(change), Some(before)) if !before.is_zero() => {
            Some(exact::from_storage((change / before).round_dp(6)))
        }
        _ => None,
    }
}

/// One period of an indicator's comparison.
#[derive(Debug, Clone)]
pub struct IndicatorSide {
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub open: bool,
    /// The version valid on the period's first day.
    pub version: Option<i32>,
    pub value: Result<Qualified, Gap>,
    /// Each input's own side of the comparison, as its kind defines it.
    pub inputs: Vec<(metric::Model, Side)>,
}

#[derive(Debug, Clone)]
pub struct IndicatorComparison {
    pub definition: indicators::Definition,
    pub agency: Option<agency::Model>,
    pub current: IndicatorSide,
    pub baseline: IndicatorSide,
    pub change: Option<Decimal>,
    /// None when the two values' bounds leave the change open.
    pub change_qualifier: Option<Qualifier>,
    pub relative_change: Option<Decimal>,
    pub direction: Direction,
    pub not_comparable: Option<Message>,
}

/// An indicator in one period against another: each side computed with the version valid on its
/// first day, from its inputs' values in it as their kinds define them (a counter's growth, a
/// flow's sum…), the change qualified as the two values' qualifiers allow.
pub async fn compare_indicator(
    db: &DatabaseConnection,
    reference: &ReferenceCache,
    request: &CompareRequest,
) -> Result<IndicatorComparison, ApiError> {
    let definition = indicators::definition(reference, &request.code)
        .await
        .map_err(|e| e.for_argument("indicator"))?;
    let agency = crate::look_up_optional(request.agency.as_deref(), "agency", |code| {
        reference.agency_by_code(code)
    })
    .await?;
    let ((first, last), (base_first, base_last)) = periods(request)?;
    let side_of = |first, last| {
        indicator_side(
            db,
            reference,
            &definition,
            request,
            agency.as_ref(),
            first,
            last,
        )
    };
    let current = side_of(first, last).await?;
    let baseline = side_of(base_first, base_last).await?;
    let (change, change_qualifier) = match (&current.value, &baseline.value) {
        (Ok(now), Ok(before)) => (
            Some(exact::from_storage(now.value - before.value)),
            kinds::derived_difference(now.qualifier, before.qualifier),
        ),
        _ => (None, None),
    };
    let relative_change = relative(change, baseline.value.as_ref().ok().map(|q| q.value));
    let not_comparable = if current.open {
        Some(message!(PERIOD_NOT_OVER, last = current.last))
    } else {
        [&current, &baseline]
            .into_iter()
            .find_map(|side| side.value.as_ref().err().map(|gap| (side, gap)))
            .map(|(side, gap)| match gap {
                Gap::MissingInputs(codes) => message!(
                    INPUTS_MISSING,
                    from = side.first,
                    to = side.last,
                    metrics = codes.join(", ")
                ),
                Gap::NoVersion => message!(
                    NO_VERSION_FOR_PERIOD,
                    code = &definition.indicator.code,
                    day = side.first
                ),
                Gap::ZeroDenominator | Gap::Overflow => {
                    message!(INDICATOR_UNDEFINED, from = side.first, to = side.last)
                }
            })
    };
    let direction = match (change, change_qualifier, &not_comparable) {
        (Some(change), Some(qualifier), None) => direction(change, qualifier),
        _ => Direction::Undetermined,
    };
    Ok(IndicatorComparison {
        definition,
        agency,
        current,
        baseline,
        change,
        change_qualifier,
        relative_change,
        direction,
        not_comparable,
    })
}

async fn indicator_side(
    db: &DatabaseConnection,
    reference: &ReferenceCache,
    definition: &indicators::Definition,
    request: &CompareRequest,
    agency: Option<&agency::Model>,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<IndicatorSide, ApiError> {
    let open = start_of_day(last + Duration::days(1), VIETNAM) > request.now;
    let Some(version) = definition.valid_on(first) else {
        return Ok(IndicatorSide {
            first,
            last,
            open,
            version: None,
            value: Err(Gap::NoVersion),
            inputs: Vec::new(),
        });
    };
    let mut inputs = Vec::new();
    for code in version.formula.metrics() {
        let metric = reference.metric_by_code(code).await?;
        let series = observations::Series {
            metric_id: metric.id,
            agency_id: agency.map(|a| a.id),
            include_synthetic: request.include_synthetic,
        };
        let side = side(db, &metric, series, first, last, request.now).await?;
        inputs.push((metric, side));
    }
    let value = version.formula.evaluate(&|code: &str| {
        let (_, side) = inputs.iter().find(|(metric, _)| metric.code == code)?;
        Some(Qualified {
            value: side.value?,
            qualifier: Some(side.qualifier?),
        })
    });
    Ok(IndicatorSide {
        first,
        last,
        open,
        version: Some(version.row.version),
        value,
        inputs,
    })
}

/// One period's value as the kind defines it.
async fn side(
    db: &DatabaseConnection,
    metric: &metric::Model,
    series: observations::Series,
    first: NaiveDate,
    last: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Side, ApiError> {
    let open = start_of_day(last + Duration::days(1), VIETNAM) > now;
    let figure = period_figure(db, metric, series, first, last, None).await?;
    let (value, qualifier) = match (&figure, metric.kind) {
        (None, _) => (None, None),
        // A counter is compared by what it grew within the period.
        (Some(figure), MetricKind::Cumulative) => {
            let before =
                observations::latest_in_series(db, series, start_of_day(first, VIETNAM), None)
                    .await?;
            match before {
                Some(before) => (
                    Some(exact::from_storage(figure.value - before.value)),
                    Some(kinds::difference_qualifier(
                        figure.qualifier,
                        before.qualifier,
                    )),
                ),
                None => (None, None),
            }
        }
        (Some(figure), MetricKind::Ratio) => match figure.denominator {
            Some(denominator) if !denominator.is_zero() => (
                Some(exact::from_storage(
                    (figure.value / denominator).round_dp(6),
                )),
                Some(figure.qualifier),
            ),
            _ => (None, None),
        },
        (Some(figure), _) => (Some(figure.value), Some(figure.qualifier)),
    };
    Ok(Side {
        first,
        last,
        open,
        value,
        qualifier,
        figure,
    })
}

/// Which way a change of `change` (qualified) certainly goes.
fn direction(change: Decimal, qualifier: Qualifier) -> Direction {
    let zero = Decimal::ZERO;
    match qualifier {
        Qualifier::Exact if change > zero => Direction::Up,
        Qualifier::Exact if change < zero => Direction::Down,
        Qualifier::Exact => Direction::Unchanged,
        // Above a bound: a rise if the bound is not below zero (strictly above zero, for "at
        // least").
        Qualifier::MoreThan if change >= zero => Direction::Up,
        Qualifier::AtLeast if change > zero => Direction::Up,
        // Below a bound: a fall if the bound is not above zero.
        Qualifier::LessThan | Qualifier::Nearly if change <= zero => Direction::Down,
        _ => Direction::Undetermined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn relative_periods_and_baselines_name_the_days_they_cover() {
        let today = day("2026-12-03");
        let this_year = days_of(Period::Relative(RelativePeriod::ThisYear, None), today);
        assert_eq!(this_year, (day("2026-01-01"), day("2026-12-31")));
        let last_12 = days_of(Period::Relative(RelativePeriod::Last12Months, None), today);
        assert_eq!(last_12, (day("2025-12-01"), day("2026-11-30")));
        let last_quarter = days_of(Period::Relative(RelativePeriod::LastQuarter, None), today);
        assert_eq!(last_quarter, (day("2026-07-01"), day("2026-09-30")));
        let june = days_of(
            Period::Relative(RelativePeriod::LastMonth, Some(day("2025-07-15"))),
            today,
        );
        assert_eq!(june, (day("2025-06-01"), day("2025-06-30")));
        assert_eq!(
            baseline_days(Baseline::PreviousPeriod, june.0, june.1),
            (day("2025-05-01"), day("2025-05-31"))
        );
        assert_eq!(
            baseline_days(Baseline::SamePeriodLastYear, june.0, june.1),
            (day("2024-06-01"), day("2024-06-30"))
        );
    }

    #[test]
    fn a_direction_is_given_only_when_the_qualifiers_prove_it() {
        let d = |n: i64| Decimal::from(n);
        assert_eq!(direction(d(5), Qualifier::Exact), Direction::Up);
        assert_eq!(direction(d(0), Qualifier::Exact), Direction::Unchanged);
        // "More than 3.7 million" against 3.5 million: more than 0.2 million up.
        assert_eq!(direction(d(200_000), Qualifier::MoreThan), Direction::Up);
        assert_eq!(
            direction(d(-5), Qualifier::MoreThan),
            Direction::Undetermined
        );
        assert_eq!(direction(d(0), Qualifier::AtLeast), Direction::Undetermined);
        assert_eq!(direction(d(-3), Qualifier::LessThan), Direction::Down);
        assert_eq!(
            direction(d(3), Qualifier::LessThan),
            Direction::Undetermined
        );
        // "About" against "about": maybe no change at all.
        assert_eq!(direction(d(100), Qualifier::About), Direction::Undetermined);
    }
}

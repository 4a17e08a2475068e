//! Progress toward yearly targets such as "at least 30% of dossiers filed online in 2021".
//!
//! A target is judged on the latest reading observed within its year (Vietnam time). The reading's
//! qualifier counts: "more than 25" says nothing about reaching 30, so such a case is
//! `INCONCLUSIVE`, not `NOT_MET`.
//!
//! When an indicator computes the target's metric from inputs (the online dossier rate from the
//! dossiers filed online and all dossiers), the target is judged on the indicator's value for the
//! year as soon as every input has one, with the qualifier the inputs give it; until then, on
//! the metric's own readings.

use chrono::{DateTime, NaiveDate, Utc};
use entity::target;
use entity::values::{Comparator, Qualifier};
use rust_decimal::Decimal;
use sea_orm::DatabaseConnection;

use super::indicators::{self, IndicatorPoint};
use super::observations::{self, CurrentObservation};
use super::reference::ReferenceCache;
use super::time::{start_of_day, VIETNAM};
use super::{catalog, exact};
use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetStatus {
    /// The latest reading meets the target.
    Met,
    /// The latest reading falls short of the target.
    NotMet,
    /// The reading is a bound or estimate on the wrong side to decide ("more than 25" for
    /// "at least 30").
    Inconclusive,
    /// Nothing was observed for the metric in the target's year.
    NoData,
}

/// What a status was judged on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// The latest reading of the target's metric in its year.
    Reading,
    /// The value an indicator computes for the year from its inputs.
    Indicator,
}

#[derive(Debug, Clone)]
pub struct TargetProgress {
    pub target: target::Model,
    pub latest: Option<CurrentObservation>,
    /// The year's value of the indicator that computes the target's metric, with its inputs,
    /// when there is such an indicator (its value may be missing: see its gap).
    pub computed: Option<IndicatorPoint>,
    pub basis: Basis,
    /// The reading divided by the target value (1 means exactly on target); for an upper limit,
    /// the target divided by the reading, so that above 1 is always better.
    pub progress: Option<Decimal>,
    pub status: TargetStatus,
}

pub async fn progress_in_year(
    db: &DatabaseConnection,
    reference: &ReferenceCache,
    year: i32,
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<TargetProgress>, ApiError> {
    let (Some(first_day), Some(next_year)) = (
        NaiveDate::from_ymd_opt(year, 1, 1),
        NaiveDate::from_ymd_opt(year.saturating_add(1), 1, 1),
    ) else {
        return Err(ApiError::bad_input(
            "year",
            crate::message!(YEAR_UNDATABLE, year = year),
        ));
    };
    let (from, before) = (
        start_of_day(first_day, VIETNAM),
        start_of_day(next_year, VIETNAM),
    );

    let targets = catalog::targets_of_year(db, year).await?;
    let computing =
        indicators::computing(db, targets.iter().map(|t| t.metric_id).collect()).await?;
    let mut progress = Vec::new();
    for target in targets {
        let computed = match computing.get(&target.metric_id) {
            Some(definition) => Some(
                indicators::in_year(db, reference, &definition.indicator.code, year, as_of).await?,
            ),
            None => None,
        };
        let latest = observations::of_series_between::<observations::CurrentObservation>(
            db,
            observations::Series::national(target.metric_id),
            from,
            before,
            as_of,
        )
        .await?
        .pop();
        let judged = |value: Decimal, qualifier: Option<Qualifier>| {
            (
                ratio(target.comparator, value, target.value),
                match qualifier {
                    Some(qualifier) => judge(target.comparator, target.value, value, qualifier),
                    // The inputs' bounds pull both ways: the value is only their arithmetic.
                    None => TargetStatus::Inconclusive,
                },
            )
        };
        let computed_value = computed
            .as_ref()
            .and_then(|point| point.value.as_ref().ok());
        let (basis, (progress_ratio, status)) = match (computed_value, &latest) {
            (Some(value), _) => (Basis::Indicator, judged(value.value, value.qualifier)),
            (None, Some(reading)) => (
                Basis::Reading,
                judged(reading.revision.value, Some(reading.revision.qualifier)),
            ),
            (None, None) => (Basis::Reading, (None, TargetStatus::NoData)),
        };
        progress.push(TargetProgress {
            target,
            latest,
            computed,
            basis,
            progress: progress_ratio,
            status,
        });
    }
    Ok(progress)
}

fn ratio(comparator: Comparator, value: Decimal, target: Decimal) -> Option<Decimal> {
    let (numerator, denominator) = match comparator {
        Comparator::AtLeast | Comparator::Equal => (value, target),
        Comparator::AtMost => (target, value),
    };
    numerator
        .checked_div(denominator)
        .map(|r| exact::from_storage(r.round_dp(exact::MAX_DECIMAL_PLACES)))
}

/// Whether a reading of `value`, stated with `qualifier`, meets a target.
pub fn judge(
    comparator: Comparator,
    target: Decimal,
    value: Decimal,
    qualifier: Qualifier,
) -> TargetStatus {
    use TargetStatus::*;
    let decided = |met: bool| if met { Met } else { NotMet };
    match qualifier {
        // Estimates are judged as stated; the qualifier travels with the reading.
        Qualifier::Exact | Qualifier::About => match comparator {
            Comparator::AtLeast => decided(value >= target),
            Comparator::AtMost => decided(value <= target),
            Comparator::Equal => decided(value == target),
        },
        // The true value is at least (or above) `value`.
        Qualifier::MoreThan | Qualifier::AtLeast => match comparator {
            Comparator::AtLeast if value >= target => Met,
            Comparator::AtMost | Comparator::Equal
                if value > target || (value == target && qualifier == Qualifier::MoreThan) =>
            {
                NotMet
            }
            _ => Inconclusive,
        },
        // The true value is below `value`.
        Qualifier::LessThan | Qualifier::Nearly => match comparator {
            Comparator::AtMost if value <= target => Met,
            Comparator::AtLeast | Comparator::Equal if value <= target => NotMet,
            _ => Inconclusive,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Comparator::*;
    use TargetStatus::*;

    fn d(n: i64) -> Decimal {
        Decimal::from(n)
    }

    #[test]
    fn exact_readings_are_compared_directly() {
        assert_eq!(judge(AtLeast, d(30), d(31), Qualifier::Exact), Met);
        assert_eq!(judge(AtLeast, d(30), d(30), Qualifier::Exact), Met);
        assert_eq!(judge(AtLeast, d(30), d(29), Qualifier::Exact), NotMet);
        assert_eq!(judge(AtMost, d(30), d(31), Qualifier::Exact), NotMet);
    }

    #[test]
    fn bounds_decide_only_on_their_own_side() {
        assert_eq!(judge(AtLeast, d(30), d(30), Qualifier::MoreThan), Met);
        assert_eq!(
            judge(AtLeast, d(30), d(25), Qualifier::MoreThan),
            Inconclusive
        );
        assert_eq!(judge(AtMost, d(30), d(30), Qualifier::MoreThan), NotMet);
        assert_eq!(judge(AtLeast, d(1000), d(1000), Qualifier::Nearly), NotMet);
        assert_eq!(
            judge(AtLeast, d(30), d(40), Qualifier::Nearly),
            Inconclusive
        );
    }

    #[test]
    fn progress_is_above_one_when_better_than_target() {
        assert_eq!(ratio(AtLeast, d(15), d(30)), Some("0.5".parse().unwrap()));
        assert_eq!(ratio(AtMost, d(15), d(30)), Some(d(2)));
        assert_eq!(ratio(AtLeast, d(15), d(0)), None);
    }
}

//! What a metric's kind means for its figures: what a reading must carry, where it is filed in
//! time, how the readings of a bucket become one value, and how qualifiers combine when figures
//! are added or subtracted. Recording, series, savings and subscriptions all ask here.

use chrono::{DateTime, Utc};
use entity::values::{MetricKind, Qualifier, Unit};

/// A ratio is stored with the total it is out of (106 of 200).
pub fn needs_denominator(kind: MetricKind) -> bool {
    kind == MetricKind::Ratio
}

/// A flow is an amount within a period, and says when the period started.
pub fn covers_period(kind: MetricKind) -> bool {
    kind == MetricKind::Flow
}

/// A counter only grows: a reading below an earlier one is refused.
pub fn never_decreases(kind: MetricKind) -> bool {
    kind == MetricKind::Cumulative
}

/// How the readings within one bucket of a series become its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketValue {
    /// Periods add up (flows).
    Sum,
    /// The last reading stands (counters, levels, ratios, yearly rates: never summed).
    Last,
}

pub fn bucket_value(kind: MetricKind) -> BucketValue {
    match kind {
        MetricKind::Flow => BucketValue::Sum,
        MetricKind::Cumulative | MetricKind::Level | MetricKind::Ratio | MetricKind::AnnualRate => {
            BucketValue::Last
        }
    }
}

/// A counter's points also say how much it grew since the reading before.
pub fn measures_change(kind: MetricKind) -> bool {
    kind == MetricKind::Cumulative
}

/// How the figures of several agencies make one: a national total, or a merged province.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcrossAgencies {
    /// Amounts, counts and levels add up.
    Sum,
    /// Yearly rates add up to a yearly rate, never to an amount.
    SumOfYearlyRates,
    /// Numerators add, and denominators add: 30 of 50 and 10 of 50 make 40 of 100.
    RatioOfSums,
    /// A percentage without its denominator cannot be combined with another.
    NotAdditive,
}

pub fn across_agencies(kind: MetricKind, unit: Unit) -> AcrossAgencies {
    match (kind, unit) {
        // Places in a ranking never add up, whatever their kind.
        (_, Unit::Rank) => AcrossAgencies::NotAdditive,
        (MetricKind::Ratio, _) => AcrossAgencies::RatioOfSums,
        (_, Unit::Percent) => AcrossAgencies::NotAdditive,
        (MetricKind::AnnualRate, _) => AcrossAgencies::SumOfYearlyRates,
        (MetricKind::Cumulative | MetricKind::Level | MetricKind::Flow, _) => AcrossAgencies::Sum,
    }
}

/// The instant a reading is filed under: the start of a flow's period, else when it was observed.
pub fn filed_at(observed_at: DateTime<Utc>, period_start: Option<DateTime<Utc>>) -> DateTime<Utc> {
    period_start.unwrap_or(observed_at)
}

/// Which side of the stated number a figure may lie on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    Exact,
    /// At or above ("at least"); `strict` when never equal ("more than").
    Lower {
        strict: bool,
    },
    /// Below ("less than"); `near` when just below ("nearly").
    Upper {
        near: bool,
    },
    /// Either side.
    Estimate,
}

fn bound(qualifier: Qualifier) -> Bound {
    match qualifier {
        Qualifier::Exact => Bound::Exact,
        Qualifier::MoreThan => Bound::Lower { strict: true },
        Qualifier::AtLeast => Bound::Lower { strict: false },
        Qualifier::LessThan => Bound::Upper { near: false },
        Qualifier::Nearly => Bound::Upper { near: true },
        Qualifier::About => Bound::Estimate,
    }
}

fn qualifier(bound: Bound) -> Qualifier {
    match bound {
        Bound::Exact => Qualifier::Exact,
        Bound::Lower { strict: true } => Qualifier::MoreThan,
        Bound::Lower { strict: false } => Qualifier::AtLeast,
        Bound::Upper { near: false } => Qualifier::LessThan,
        Bound::Upper { near: true } => Qualifier::Nearly,
        Bound::Estimate => Qualifier::About,
    }
}

/// The qualifier of a sum: exact parts add exactly; lower bounds with exact parts give a lower
/// bound ("more than" if any part is strict), upper bounds likewise; bounds on both sides, or any
/// estimate, give an estimate. No parts: exact (nothing was added).
pub fn sum_qualifier(qualifiers: impl IntoIterator<Item = Qualifier>) -> Qualifier {
    let total = qualifiers
        .into_iter()
        .map(bound)
        .fold(Bound::Exact, |total, part| match (total, part) {
            (Bound::Exact, other) | (other, Bound::Exact) => other,
            (Bound::Lower { strict: a }, Bound::Lower { strict: b }) => {
                Bound::Lower { strict: a || b }
            }
            // Just under plus just under stays near; anything further under is "less than".
            (Bound::Upper { near: a }, Bound::Upper { near: b }) => Bound::Upper { near: a && b },
            _ => Bound::Estimate,
        });
    qualifier(total)
}

/// The qualifier of `later - earlier`: subtracting a lower bound bounds the result from above,
/// and the other way round. "At least" subtracted leaves "at most", which no qualifier says, so
/// the result is an estimate.
pub fn difference_qualifier(later: Qualifier, earlier: Qualifier) -> Qualifier {
    let negated = match bound(earlier) {
        Bound::Lower { strict: true } => Qualifier::LessThan,
        Bound::Upper { .. } => Qualifier::MoreThan,
        Bound::Exact => Qualifier::Exact,
        Bound::Lower { strict: false } | Bound::Estimate => Qualifier::About,
    };
    sum_qualifier([later, negated])
}

#[cfg(test)]
mod tests {
    use super::*;
    use Qualifier::*;

    #[test]
    fn a_sum_keeps_the_side_its_parts_agree_on() {
        assert_eq!(sum_qualifier([]), Exact);
        assert_eq!(sum_qualifier([Exact, Exact]), Exact);
        assert_eq!(sum_qualifier([MoreThan, Exact]), MoreThan);
        assert_eq!(sum_qualifier([Exact, AtLeast, Exact]), AtLeast);
        assert_eq!(sum_qualifier([AtLeast, MoreThan]), MoreThan);
        assert_eq!(sum_qualifier([Nearly, Exact]), Nearly);
        assert_eq!(sum_qualifier([Nearly, LessThan]), LessThan);
        assert_eq!(sum_qualifier([MoreThan, LessThan]), About);
        assert_eq!(sum_qualifier([About, Exact]), About);
        assert_eq!(sum_qualifier([MoreThan, About, MoreThan]), About);
    }

    #[test]
    fn a_difference_turns_the_subtracted_bound_around() {
        // 4.1 million now, "more than 3.7 million" before: it grew by less than 400,000.
        assert_eq!(difference_qualifier(Exact, MoreThan), LessThan);
        assert_eq!(difference_qualifier(MoreThan, Exact), MoreThan);
        assert_eq!(difference_qualifier(MoreThan, LessThan), MoreThan);
        assert_eq!(difference_qualifier(Exact, Nearly), MoreThan);
        assert_eq!(difference_qualifier(MoreThan, MoreThan), About);
        assert_eq!(difference_qualifier(Exact, AtLeast), About);
        assert_eq!(difference_qualifier(Exact, Exact), Exact);
        assert_eq!(difference_qualifier(About, Exact), About);
    }

    #[test]
    fn each_kind_says_what_its_readings_carry_and_how_they_aggregate() {
        use MetricKind::*;
        let kinds = [Cumulative, Level, Flow, AnnualRate, Ratio];
        let needs: Vec<_> = kinds.iter().map(|&k| needs_denominator(k)).collect();
        assert_eq!(needs, [false, false, false, false, true]);
        let periods: Vec<_> = kinds.iter().map(|&k| covers_period(k)).collect();
        assert_eq!(periods, [false, false, true, false, false]);
        let summed: Vec<_> = kinds
            .iter()
            .map(|&k| bucket_value(k) == BucketValue::Sum)
            .collect();
        assert_eq!(summed, [false, false, true, false, false]);
        assert!(never_decreases(Cumulative) && measures_change(Cumulative));
        assert!(!never_decreases(Level) && !measures_change(AnnualRate));
    }
}

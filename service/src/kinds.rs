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

/// Two figures' sides combined, where a larger part makes a larger result (adding, or
/// multiplying positive figures): exact parts keep the other's side, bounds on the same side
/// reinforce, an estimate makes an estimate, bounds on opposite sides leave it open (`None`).
fn combined(a: Option<Bound>, b: Option<Bound>) -> Option<Bound> {
    match (a?, b?) {
        (Bound::Exact, other) | (other, Bound::Exact) => Some(other),
        (Bound::Lower { strict: a }, Bound::Lower { strict: b }) => {
            Some(Bound::Lower { strict: a || b })
        }
        // Just under plus just under stays near; anything further under is "less than".
        (Bound::Upper { near: a }, Bound::Upper { near: b }) => Some(Bound::Upper { near: a && b }),
        (Bound::Estimate, _) | (_, Bound::Estimate) => Some(Bound::Estimate),
        (Bound::Lower { .. }, Bound::Upper { .. }) | (Bound::Upper { .. }, Bound::Lower { .. }) => {
            None
        }
    }
}

/// A figure's side once the figure is subtracted (or divided by, when positive): a lower bound
/// bounds the result from above and the other way round. "At least" turned is "at most", which
/// no qualifier says: open.
fn turned(bound: Option<Bound>) -> Option<Bound> {
    match bound? {
        Bound::Lower { strict: true } => Some(Bound::Upper { near: false }),
        Bound::Lower { strict: false } => None,
        Bound::Upper { .. } => Some(Bound::Lower { strict: true }),
        exact_or_estimate => Some(exact_or_estimate),
    }
}

/// What a value computed from qualified figures says about its side: a qualifier, or `None`
/// when the figures' bounds pull opposite ways and nothing can be said (open). Figures are
/// `None` when they are themselves open.
pub fn derived_sum(parts: impl IntoIterator<Item = Option<Qualifier>>) -> Option<Qualifier> {
    parts
        .into_iter()
        .map(|part| part.map(bound))
        .fold(Some(Bound::Exact), combined)
        .map(qualifier)
}

/// `later - earlier`, as [`derived_sum`] says.
pub fn derived_difference(
    later: Option<Qualifier>,
    earlier: Option<Qualifier>,
) -> Option<Qualifier> {
    combined(later.map(bound), turned(earlier.map(bound))).map(qualifier)
}

/// `numerator / denominator` for figures that are not negative: a lower bound over an exact
/// value is a lower bound, an exact value over a lower bound an upper one, bounds on the same
/// side of both leave it open.
pub fn derived_quotient(
    numerator: Option<Qualifier>,
    denominator: Option<Qualifier>,
) -> Option<Qualifier> {
    combined(numerator.map(bound), turned(denominator.map(bound))).map(qualifier)
}

/// The qualifier of a sum of reported figures (a national total), where an open result is
/// stated as an estimate. No parts: exact (nothing was added).
pub fn sum_qualifier(qualifiers: impl IntoIterator<Item = Qualifier>) -> Qualifier {
    derived_sum(qualifiers.into_iter().map(Some)).unwrap_or(Qualifier::About)
}

/// The qualifier of `later - earlier` between reported figures (a counter's growth), an open
/// result stated as an estimate.
pub fn difference_qualifier(later: Qualifier, earlier: Qualifier) -> Qualifier {
    derived_difference(Some(later), Some(earlier)).unwrap_or(Qualifier::About)
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
    fn a_quotient_is_bounded_only_when_its_parts_pull_the_same_way() {
        let quotient = |n, d| derived_quotient(Some(n), Some(d));
        // "More than 300 of exactly 1,000" is more than 30%.
        assert_eq!(quotient(MoreThan, Exact), Some(MoreThan));
        assert_eq!(quotient(AtLeast, Exact), Some(AtLeast));
        // Exactly 300 of more than 1,000 is less than 30%.
        assert_eq!(quotient(Exact, MoreThan), Some(LessThan));
        assert_eq!(quotient(MoreThan, LessThan), Some(MoreThan));
        assert_eq!(quotient(MoreThan, MoreThan), None);
        assert_eq!(quotient(Exact, AtLeast), None);
        assert_eq!(quotient(About, Exact), Some(About));
        assert_eq!(quotient(About, MoreThan), Some(About));
        assert_eq!(derived_quotient(None, Some(Exact)), None);
        assert_eq!(derived_sum([Some(MoreThan), Some(LessThan)]), None);
        assert_eq!(derived_sum([Some(About), None]), None);
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

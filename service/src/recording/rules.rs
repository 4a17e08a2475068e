//! Every rule a figure must meet before it is stored.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use entity::metric;
use entity::values::{MetricKind, Scale, Unit};
use rust_decimal::Decimal;
use sea_orm::ConnectionTrait;

use crate::error::{ApiError, ItemFailure};
use crate::message;
use crate::messages::Message;
use crate::observations;
use crate::time::{start_of_day, storable_instant, VIETNAM};
use crate::{exact, kinds};

use super::{NewObservation, MAX_TEXT};

/// An item that passed every check, with its references resolved.
pub(super) struct Valid {
    pub(super) metric: metric::Model,
    pub(super) agency_id: Option<i32>,
    pub(super) source_id: i32,
    pub(super) value: Decimal,
    pub(super) denominator: Option<Decimal>,
}

/// Collects the failures of one item.
pub(super) struct Failures<'a> {
    pub(super) index: usize,
    pub(super) line: Option<u64>,
    pub(super) list: &'a mut Vec<ItemFailure>,
}

impl Failures<'_> {
    pub(super) fn add(&mut self, field: &'static str, message: Message) {
        self.list.push(ItemFailure {
            index: self.index,
            line: self.line,
            field,
            message,
        });
    }
}

/// Earliest date a figure may describe: before the first national e-government programmes.
pub(super) fn earliest_observation() -> DateTime<Utc> {
    start_of_day(
        NaiveDate::from_ymd_opt(1990, 1, 1).expect("a date"),
        VIETNAM,
    )
}

/// Checks one figure against the rules that need no database (value and unit, denominator,
/// dates, texts): seed and demonstration figures are held to them as every write is. The value
/// and denominator as stored, or every failure.
pub fn check_figure(
    item: &NewObservation,
    metric: &metric::Model,
    now: DateTime<Utc>,
) -> Result<(Decimal, Option<Decimal>), Vec<ItemFailure>> {
    let mut list = Vec::new();
    let mut failures = Failures {
        index: 0,
        line: item.line,
        list: &mut list,
    };
    check_shape(item, metric, now, &mut failures).ok_or(list)
}

/// Checks the rules that need no database: value and unit, denominator, dates, texts.
pub(super) fn check_shape(
    item: &NewObservation,
    metric: &metric::Model,
    now: DateTime<Utc>,
    failures: &mut Failures<'_>,
) -> Option<(Decimal, Option<Decimal>)> {
    let before = failures.list.len();
    let value = match exact::storable("value", item.value) {
        Ok(value) => Some(value),
        Err(error) => {
            failures.add("value", error.message());
            None
        }
    };
    if let Some(value) = value {
        if value.is_sign_negative() && !value.is_zero() {
            failures.add(
                "value",
                message!(
                    VALUE_NEGATIVE,
                    value = value,
                    unit = format!("{:?}", metric.unit)
                ),
            );
        }
        let counted = matches!(
            metric.unit,
            Unit::Documents
                | Unit::Dossiers
                | Unit::Services
                | Unit::Users
                | Unit::Agencies
                | Unit::Indicators
                | Unit::Rank
        );
        if counted && metric.scale == Scale::One && !value.fract().is_zero() {
            failures.add(
                "value",
                message!(
                    NOT_WHOLE,
                    value = value,
                    unit = format!("{:?}", metric.unit)
                ),
            );
        }
        if metric.unit == Unit::Percent && value > Decimal::ONE_HUNDRED {
            failures.add("value", message!(PERCENT_OVER_100, value = value));
        }
        if metric.unit == Unit::Rank && value < Decimal::ONE {
            failures.add("value", message!(RANK_BELOW_FIRST, value = value));
        }
    }
    let denominator = match (kinds::needs_denominator(metric.kind), item.denominator) {
        (true, None) => {
            failures.add("denominator", message!(RATIO_NEEDS_DENOMINATOR));
            None
        }
        (true, Some(denominator)) => match exact::storable("denominator", denominator) {
            Ok(d) if d <= Decimal::ZERO => {
                failures.add("denominator", message!(DENOMINATOR_NOT_POSITIVE));
                None
            }
            Ok(d) => {
                if value.is_some_and(|v| v > d) {
                    failures.add(
                        "value",
                        message!(OVER_DENOMINATOR, value = item.value, denominator = d),
                    );
                }
                Some(d)
            }
            Err(error) => {
                failures.add("denominator", error.message());
                None
            }
        },
        (false, Some(_)) => {
            failures.add("denominator", message!(DENOMINATOR_ONLY_FOR_RATIOS));
            None
        }
        (_, None) => None,
    };
    // A few minutes' grace for a reporter whose clock runs ahead; a figure of today is dated
    // at the start of the day, which has passed.
    if item.observed_at > now + Duration::minutes(5) {
        failures.add(
            "observedAt",
            message!(IN_THE_FUTURE, instant = item.observed_at),
        );
    }
    for (field, instant) in [
        ("observedAt", Some(item.observed_at)),
        ("periodStart", item.period_start),
    ] {
        if let Some(Err(why)) = instant.map(storable_instant) {
            failures.add(
                field,
                Message::new(why).with("instant", instant.expect("checked")),
            );
        }
    }
    if item.observed_at < earliest_observation() {
        failures.add(
            "observedAt",
            message!(BEFORE_1990, instant = item.observed_at),
        );
    }
    match (kinds::covers_period(metric.kind), item.period_start) {
        (true, None) => failures.add("periodStart", message!(FLOW_NEEDS_PERIOD)),
        (true, Some(start)) if start >= item.observed_at => {
            failures.add("periodStart", message!(PERIOD_REVERSED))
        }
        (true, _) | (false, None) => {}
        (false, Some(_)) => failures.add("periodStart", message!(PERIOD_ONLY_FOR_FLOWS)),
    }
    if item.quote.trim().is_empty() {
        failures.add("quote", message!(QUOTE_REQUIRED));
    }
    for (field, text) in [("quote", Some(&item.quote)), ("note", item.note.as_ref())] {
        let Some(text) = text else { continue };
        if text.contains('\0') {
            failures.add(field, message!(TEXT_HAS_NUL));
        }
        if text.chars().count() > MAX_TEXT {
            failures.add(field, message!(TEXT_TOO_LONG, max = MAX_TEXT));
        }
    }
    (failures.list.len() == before).then(|| (value.expect("checked"), denominator))
}

/// Checks a counter against the readings around it: it never goes down.
pub(super) async fn check_counter(
    db: &(impl ConnectionTrait + 'static),
    valid: &Valid,
    at: DateTime<Utc>,
    except: Option<i32>,
    failures: &mut Failures<'_>,
) -> Result<(), ApiError> {
    if !kinds::never_decreases(valid.metric.kind) {
        return Ok(());
    }
    let (before, after) =
        observations::neighbours(db, valid.metric.id, valid.agency_id, at, except).await?;
    if let Some(before) = before.filter(|b| b.revision.value > valid.value) {
        failures.add(
            "value",
            message!(
                COUNTER_DOWN_BEFORE,
                value = before.revision.value,
                at = before.observation.observed_at,
                id = before.observation.id
            ),
        );
    }
    if let Some(after) = after.filter(|a| a.revision.value < valid.value) {
        failures.add(
            "value",
            message!(
                COUNTER_DOWN_AFTER,
                value = after.revision.value,
                at = after.observation.observed_at,
                id = after.observation.id
            ),
        );
    }
    Ok(())
}

/// Counters within one batch must not go down between its own items either.
pub(super) fn check_counters_within_batch(
    items: &[NewObservation],
    keys: &[Option<(i32, Option<i32>, MetricKind)>],
    failures: &mut Vec<ItemFailure>,
) {
    let mut series: HashMap<(i32, Option<i32>), Vec<usize>> = HashMap::new();
    for (index, key) in keys.iter().enumerate() {
        match key {
            Some((metric, agency, kind)) if kinds::never_decreases(*kind) => {
                series.entry((*metric, *agency)).or_default().push(index);
            }
            _ => {}
        }
    }
    for indexes in series.values_mut() {
        indexes.sort_by_key(|&i| items[i].observed_at);
        for pair in indexes.windows(2) {
            let (earlier, later) = (&items[pair[0]], &items[pair[1]]);
            if later.value < earlier.value {
                failures.push(ItemFailure {
                    index: pair[1],
                    line: later.line,
                    field: "value",
                    message: message!(COUNTER_DOWN_IN_BATCH, item = pair[0], value = earlier.value),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use entity::values::Qualifier;

    use super::*;
    use crate::recording::check_figure;

    fn metric(kind: MetricKind, unit: Unit) -> metric::Model {
        metric::Model {
            id: 1,
            platform_id: Some(1),
            code: "platform.metric".to_owned(),
            name_vi: String::new(),
            name_en: String::new(),
            unit,
            scale: Scale::One,
            kind,
            reporting_period: None,
            reporting_due_days: None,
        }
    }

    fn figure(observed_at: &str, value: &str) -> NewObservation {
        NewObservation {
            metric: "platform.metric".to_owned(),
            agency: None,
            observed_at: observed_at.parse().unwrap(),
            period_start: None,
            value: value.parse().unwrap(),
            qualifier: Qualifier::Exact,
            denominator: None,
            source: "article-001".to_owned(),
            quote: "trích dẫn".to_owned(),
            note: None,
            line: None,
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    /// The fields a figure is refused on, and the English of each reason.
    fn refusals(item: &NewObservation, metric: &metric::Model) -> Vec<(&'static str, String)> {
        match check_figure(item, metric, now()) {
            Ok(_) => Vec::new(),
            Err(failures) => failures
                .into_iter()
                .map(|f| (f.field, f.message.to_string()))
                .collect(),
        }
    }

    #[test]
    fn a_figure_that_meets_every_rule_is_stored_in_its_canonical_form() {
        let level = metric(MetricKind::Level, Unit::Services);
        let checked = check_figure(&figure("2021-06-30T00:00:00Z", "2700.00"), &level, now());
        assert_eq!(checked.unwrap().0.to_string(), "2700");
    }

    #[test]
    fn values_must_fit_the_unit() {
        let count = metric(MetricKind::Level, Unit::Documents);
        let fields = |value| refusals(&figure("2021-06-30T00:00:00Z", value), &count);
        assert_eq!(fields("-1")[0].0, "value");
        assert!(fields("-1")[0].1.contains("negative"));
        assert!(fields("2.5")[0].1.contains("not a whole number"));
        assert!(fields("1.1234567")[0].1.contains("decimal places"));
        let percent = metric(MetricKind::Level, Unit::Percent);
        let over = refusals(&figure("2021-06-30T00:00:00Z", "100.5"), &percent);
        assert!(over[0].1.contains("more than 100%"), "{over:?}");
        assert!(refusals(&figure("2021-06-30T00:00:00Z", "100"), &percent).is_empty());
    }

    #[test]
    fn a_ratio_carries_its_denominator_and_nothing_else_does() {
        let ratio = metric(MetricKind::Ratio, Unit::Indicators);
        let mut item = figure("2021-06-30T00:00:00Z", "106");
        assert_eq!(refusals(&item, &ratio)[0].0, "denominator");
        item.denominator = Some(Decimal::from(200));
        assert!(refusals(&item, &ratio).is_empty());
        item.denominator = Some(Decimal::from(100));
        assert!(refusals(&item, &ratio)[0]
            .1
            .contains("more than its denominator"));
        item.denominator = Some(Decimal::ZERO);
        assert_eq!(
            refusals(&item, &ratio)[0],
            ("denominator", "must be greater than zero".to_owned())
        );
        let level = metric(MetricKind::Level, Unit::Indicators);
        assert_eq!(refusals(&item, &level)[0].0, "denominator");
    }

    #[test]
    fn a_flow_says_when_its_period_started_and_nothing_else_does() {
        let flow = metric(MetricKind::Flow, Unit::Dossiers);
        let mut item = figure("2021-07-01T00:00:00Z", "5000");
        assert_eq!(refusals(&item, &flow)[0].0, "periodStart");
        item.period_start = Some("2021-07-01T00:00:00Z".parse().unwrap());
        assert!(refusals(&item, &flow)[0].1.contains("start before it ends"));
        item.period_start = Some("2021-06-01T00:00:00Z".parse().unwrap());
        assert!(refusals(&item, &flow).is_empty());
        let level = metric(MetricKind::Level, Unit::Dossiers);
        assert_eq!(refusals(&item, &level)[0].1, "only flows cover a period");
    }

    #[test]
    fn dates_lie_between_1990_and_a_few_minutes_from_now() {
        let level = metric(MetricKind::Level, Unit::Services);
        assert!(refusals(&figure("1989-12-31T00:00:00Z", "1"), &level)[0]
            .1
            .contains("before 1990"));
        assert!(refusals(&figure("2026-01-01T00:04:00Z", "1"), &level).is_empty());
        assert!(refusals(&figure("2026-01-01T00:06:00Z", "1"), &level)[0]
            .1
            .contains("in the future"));
        let fine = refusals(&figure("2021-06-30T00:00:00.0000001Z", "1"), &level);
        assert!(fine[0].1.contains("finer than a microsecond"), "{fine:?}");
    }

    #[test]
    fn texts_are_quoted_within_bounds_and_storable() {
        let level = metric(MetricKind::Level, Unit::Services);
        let mut item = figure("2021-06-30T00:00:00Z", "1");
        item.quote = " ".to_owned();
        assert_eq!(refusals(&item, &level)[0].0, "quote");
        item.quote = "a\0b".to_owned();
        item.note = Some("x".repeat(MAX_TEXT + 1));
        let fields: Vec<_> = refusals(&item, &level)
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(fields, ["quote", "note"]);
    }

    #[test]
    fn every_failure_of_a_figure_is_listed_not_only_the_first() {
        let ratio = metric(MetricKind::Ratio, Unit::Indicators);
        let mut item = figure("2031-01-01T00:00:00Z", "-1");
        item.quote = String::new();
        item.period_start = Some("2020-01-01T00:00:00Z".parse().unwrap());
        let fields: Vec<_> = refusals(&item, &ratio)
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(
            fields,
            ["value", "denominator", "observedAt", "periodStart", "quote"]
        );
    }

    #[test]
    fn a_counter_never_goes_down_within_a_batch() {
        let items = [
            figure("2021-03-01T00:00:00Z", "300"),
            figure("2021-01-01T00:00:00Z", "100"),
            figure("2021-02-01T00:00:00Z", "50"),
        ];
        let counter = Some((1, None, MetricKind::Cumulative));
        let mut failures = Vec::new();
        check_counters_within_batch(&items, &[counter; 3], &mut failures);
        let refused: Vec<_> = failures
            .iter()
            .map(|f| (f.index, f.message.to_string()))
            .collect();
        assert_eq!(
            refused,
            [(
                2,
                "the counter would go down: item 1 records 100 for an earlier instant".to_owned()
            )]
        );
        let level = Some((1, None, MetricKind::Level));
        let mut failures = Vec::new();
        check_counters_within_batch(&items, &[level; 3], &mut failures);
        assert!(failures.is_empty(), "a level may go down");
    }
}

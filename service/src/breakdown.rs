//! A metric for one period by agency: every province (or every ministry) ranked, with its share
//! of the total, the units expected but missing named, and the total made as the metric's kind
//! allows ([`kinds::across_agencies`]).
//!
//! Boundaries: `AsRecorded` compares the units as they were in the period (June 2025: 63
//! provinces; July: 34); `Current` composes the figures of merged units into the unit that took
//! them over, as it stands today, and says what each value is made of.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use entity::values::Qualifier;
use entity::{agency, metric};
use rust_decimal::Decimal;
use sea_orm::DatabaseConnection;

use crate::error::ApiError;
use crate::kinds::{self, AcrossAgencies, BucketValue};
use crate::observations::{self, Reading};
pub use crate::reference::AgencyGroup;
use crate::reference::{Reference, ReferenceCache};
use crate::time::{day_range, local_date, start_of_day, VIETNAM};
use crate::{exact, message};

/// Whose boundaries the figures are shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boundaries {
    /// The units in force during the period, each with its own figures.
    AsRecorded,
    /// The units in force today (or at `as_of`), each with the figures of the units it took over.
    Current,
    /// The units in force on a day, each with the figures of the units it took over by then.
    On(NaiveDate),
}

impl Boundaries {
    /// The day whose units the figures are composed into; none as recorded.
    pub fn composed_on(self, now: DateTime<Utc>) -> Option<NaiveDate> {
        match self {
            Self::AsRecorded => None,
            Self::Current => Some(local_date(now, VIETNAM)),
            Self::On(day) => Some(day),
        }
    }
}

#[derive(Debug, Clone)]
pub struct BreakdownRequest {
    pub metric: String,
    /// First and last local day (Vietnam time) of the period.
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub group: AgencyGroup,
    pub boundaries: Boundaries,
    pub include_synthetic: bool,
    pub as_of: Option<DateTime<Utc>>,
}

/// One unit's figure for the period, as the kind makes it from its readings.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub value: Decimal,
    pub qualifier: Qualifier,
    pub denominator: Option<Decimal>,
    /// The readings it was made from.
    pub readings: usize,
}

/// A unit's own figure, part of an entry's value.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub agency: agency::Model,
    pub figure: Figure,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub agency: agency::Model,
    pub figure: Figure,
    /// 1 for the highest; equal values share a rank (1, 1, 3).
    pub rank: usize,
    /// The entry's part of the total (of its numerator, for a ratio); none without a total.
    pub share: Option<Decimal>,
    /// The units whose figures make the value: the unit itself, or with `Current` boundaries the
    /// units merged into it.
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone)]
pub struct Breakdown {
    pub metric: metric::Model,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub boundaries: Boundaries,
    /// Ranked, highest first.
    pub entries: Vec<Entry>,
    /// The units expected that have no figure for the period, by code.
    pub missing: Vec<agency::Model>,
    /// How the total is made; `NotAdditive` has none.
    pub total_rule: AcrossAgencies,
    /// The roll-up: the figures of the units that reported, made one by `total_rule`.
    pub total: Option<Figure>,
    /// What the figures were read with, for [`national`].
    pub include_synthetic: bool,
    pub as_of: Option<DateTime<Utc>>,
}

impl Breakdown {
    pub fn expected(&self) -> usize {
        self.entries.len() + self.missing.len()
    }
}

pub async fn breakdown(
    db: &DatabaseConnection,
    reference: &ReferenceCache,
    request: &BreakdownRequest,
) -> Result<Breakdown, ApiError> {
    day_range(("from", request.from), ("to", request.to))?;
    let metric = reference
        .metric_by_code(&request.metric)
        .await
        .map_err(|e| e.for_argument("metric"))?;
    let snapshot = reference.current().await?;
    let rule = kinds::across_agencies(metric.kind, metric.unit);
    let members = request.group.members(&snapshot);
    let mut readings = observations::of_metric_between(
        db,
        metric.id,
        request.include_synthetic,
        start_of_day(request.from, VIETNAM),
        start_of_day(request.to + Duration::days(1), VIETNAM),
        request.as_of,
    )
    .await?;
    // `members` is in ascending order.
    readings.retain(|r| {
        r.agency_id
            .is_some_and(|id| members.binary_search(&id).is_ok())
    });
    let own = figures_by_agency(&metric, readings);

    // Each unit expected, with the units whose figures it is made of.
    let mut units: BTreeMap<i32, (agency::Model, Vec<Part>)> = BTreeMap::new();
    match request
        .boundaries
        .composed_on(request.as_of.unwrap_or_else(Utc::now))
    {
        None => {
            for agency in snapshot.group(request.group) {
                if agency.valid_during(request.from, request.to) {
                    units.insert(agency.id, (agency.clone(), Vec::new()));
                }
            }
            for (id, figure) in own {
                if let Some((agency, parts)) = units.get_mut(&id) {
                    parts.push(Part {
                        agency: agency.clone(),
                        figure,
                    });
                }
            }
        }
        Some(today) => {
            for agency in snapshot.group(request.group) {
                if agency.valid_on(today) {
                    units.insert(agency.id, (agency.clone(), Vec::new()));
                }
            }
            for (id, figure) in own {
                let (Some(reported), Some(unit)) =
                    (agency_of(&snapshot, id), snapshot.unit_on(id, today))
                else {
                    continue;
                };
                if let Some((_, parts)) = units.get_mut(&unit.id) {
                    parts.push(Part {
                        agency: reported.clone(),
                        figure,
                    });
                }
            }
        }
    }

    let mut entries = Vec::new();
    let mut missing = Vec::new();
    for (_, (agency, parts)) in units {
        if parts.is_empty() {
            missing.push(agency);
            continue;
        }
        let figure = if parts.len() == 1 {
            parts[0].figure.clone()
        } else {
            match combine(rule, parts.iter().map(|p| &p.figure)) {
                Some(figure) => figure,
                None => {
                    return Err(ApiError::bad_input(
                        "boundaries",
                        message!(NOT_COMPOSABLE, metric = &metric.code, unit = &agency.code),
                    ))
                }
            }
        };
        entries.push(Entry {
            agency,
            figure,
            rank: 0,
            share: None,
            parts,
        });
    }
    missing.sort_by(|a, b| a.code.cmp(&b.code));
    let total = combine(rule, entries.iter().map(|e| &e.figure));
    rank(&mut entries);
    if let Some(total) = total.as_ref().filter(|t| !t.value.is_zero()) {
        for entry in &mut entries {
            entry.share = Some(exact::from_storage(
                (entry.figure.value / total.value).round_dp(6),
            ));
        }
    }
    Ok(Breakdown {
        metric,
        from: request.from,
        to: request.to,
        boundaries: request.boundaries,
        entries,
        missing,
        total_rule: rule,
        total,
        include_synthetic: request.include_synthetic,
        as_of: request.as_of,
    })
}

/// The figure reported nationally for a breakdown's period, to set beside its roll-up; read
/// only when asked for.
pub async fn national(
    db: &DatabaseConnection,
    breakdown: &Breakdown,
) -> Result<Option<Figure>, ApiError> {
    let series = observations::Series {
        metric_id: breakdown.metric.id,
        agency_id: None,
        include_synthetic: breakdown.include_synthetic,
    };
    period_figure(
        db,
        &breakdown.metric,
        series,
        breakdown.from,
        breakdown.to,
        breakdown.as_of,
    )
    .await
}

/// One series' figure for the local days `first` to `last`: its flows filed in them summed, or
/// its last reading in them; none without readings.
pub async fn period_figure(
    db: &DatabaseConnection,
    metric: &metric::Model,
    series: observations::Series,
    first: NaiveDate,
    last: NaiveDate,
    as_of: Option<DateTime<Utc>>,
) -> Result<Option<Figure>, ApiError> {
    let (start, end) = (
        start_of_day(first, VIETNAM),
        start_of_day(last + Duration::days(1), VIETNAM),
    );
    // A flow ends after it starts: read as far as a flow filed in the period may end.
    let read_until = if kinds::covers_period(metric.kind) {
        end + Duration::days(366)
    } else {
        end
    };
    let mut readings =
        observations::of_series_between::<Reading>(db, series, start, read_until, as_of).await?;
    readings.retain(|r| (start..end).contains(&r.filed_at()));
    Ok(figure_of(metric, &readings))
}

fn agency_of(snapshot: &Reference, id: i32) -> Option<&agency::Model> {
    use crate::reference::ByIdInReference;
    agency::Entity::by_id(snapshot, id)
}

/// Each agency's figure for the period: the sum of its flows, or its last reading.
fn figures_by_agency(metric: &metric::Model, readings: Vec<Reading>) -> BTreeMap<i32, Figure> {
    let mut by_agency: BTreeMap<i32, Vec<Reading>> = BTreeMap::new();
    for reading in readings {
        if let Some(agency) = reading.agency_id {
            by_agency.entry(agency).or_default().push(reading);
        }
    }
    by_agency
        .into_iter()
        .filter_map(|(agency, readings)| Some((agency, figure_of(metric, &readings)?)))
        .collect()
}

/// One unit's figure for a period from its readings (oldest first): the sum of its flows, or
/// its last reading; none without readings.
fn figure_of(metric: &metric::Model, readings: &[Reading]) -> Option<Figure> {
    let last = readings.last()?;
    Some(match kinds::bucket_value(metric.kind) {
        BucketValue::Sum => Figure {
            value: exact::from_storage(readings.iter().map(|r| r.value).sum()),
            qualifier: kinds::sum_qualifier(readings.iter().map(|r| r.qualifier)),
            denominator: None,
            readings: readings.len(),
        },
        BucketValue::Last => Figure {
            value: last.value,
            qualifier: last.qualifier,
            denominator: last.denominator,
            readings: readings.len(),
        },
    })
}

/// Several figures made one, as `rule` allows; none when it does not.
fn combine<'a>(rule: AcrossAgencies, figures: impl Iterator<Item = &'a Figure>) -> Option<Figure> {
    let figures: Vec<&Figure> = figures.collect();
    if figures.is_empty() || rule == AcrossAgencies::NotAdditive {
        return None;
    }
    let denominator = match rule {
        AcrossAgencies::RatioOfSums => Some(exact::from_storage(
            figures
                .iter()
                .map(|f| f.denominator)
                .sum::<Option<Decimal>>()?,
        )),
        _ => None,
    };
    Some(Figure {
        value: exact::from_storage(figures.iter().map(|f| f.value).sum()),
        qualifier: kinds::sum_qualifier(figures.iter().map(|f| f.qualifier)),
        denominator,
        readings: figures.iter().map(|f| f.readings).sum(),
    })
}

/// What entries are ranked by: the value, or for a ratio the value over its denominator.
fn standing(figure: &Figure) -> Decimal {
    match figure.denominator {
        Some(denominator) if !denominator.is_zero() => figure.value / denominator,
        _ => figure.value,
    }
}

/// Highest standing first (see [`crate::ranking`]).
fn rank(entries: &mut [Entry]) {
    crate::ranking::rank(
        entries,
        |e| Some(standing(&e.figure)),
        |e| e.agency.code.clone(),
        |e, rank| e.rank = rank.unwrap_or_default(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figure(value: i64, qualifier: Qualifier, denominator: Option<i64>) -> Figure {
        Figure {
            value: Decimal::from(value),
            qualifier,
            denominator: denominator.map(Decimal::from),
            readings: 1,
        }
    }

    #[test]
    fn figures_combine_as_the_kind_allows() {
        let (exact, more) = (Qualifier::Exact, Qualifier::MoreThan);
        let sum = combine(
            AcrossAgencies::Sum,
            [figure(10, exact, None), figure(5, more, None)].iter(),
        )
        .unwrap();
        assert_eq!((sum.value, sum.qualifier), (Decimal::from(15), more));
        let ratio = combine(
            AcrossAgencies::RatioOfSums,
            [figure(30, exact, Some(50)), figure(10, exact, Some(50))].iter(),
        )
        .unwrap();
        assert_eq!(
            (ratio.value, ratio.denominator),
            (Decimal::from(40), Some(Decimal::from(100)))
        );
        assert!(combine(
            AcrossAgencies::RatioOfSums,
            [figure(30, exact, Some(50)), figure(10, exact, None)].iter()
        )
        .is_none());
        assert!(combine(AcrossAgencies::NotAdditive, [figure(1, exact, None)].iter()).is_none());
    }
}

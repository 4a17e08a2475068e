//! Comparing platforms by their yearly savings estimates.
//!
//! Each platform's latest estimate is a rate (billion VND per year) stated at one moment. Rates of
//! different platforms can be ranked and added up, and the total is itself a yearly rate: it is
//! labelled as such, never as money saved over some period.

use std::ops::Bound;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use entity::values::{Qualifier, Scale};
use entity::{metric, platform};
use rust_decimal::Decimal;
use sea_orm::DatabaseConnection;

use super::catalog::MetricFilter;
use super::exact;
use super::kinds::sum_qualifier;
use super::observations::{self, Figure, OfMetric, Row};
use super::reference::{ByIdInReference, Reference, ReferenceCache};
use crate::error::ApiError;

/// Savings are compared in billion VND per year, the scale the sources use.
pub const COMPARISON_SCALE: Scale = Scale::Billion;

#[derive(Debug, Clone)]
pub struct SavingsEntry {
    /// 1 for the largest estimate; equal estimates share a rank.
    pub rank: usize,
    /// In the comparison's reference rows ([`SavingsComparison::platform`]).
    pub platform_id: i32,
    /// In the comparison's reference rows ([`SavingsComparison::metric`]).
    pub metric_id: i32,
    /// The estimate as read: a point when its observation is not shown, whole when its quote,
    /// note or author is.
    pub reading: Figure,
    /// The estimate in billion VND per year.
    pub value: Decimal,
}

#[derive(Debug, Clone)]
pub struct SavingsComparison {
    pub as_of: DateTime<Utc>,
    pub entries: Vec<SavingsEntry>,
    /// The sum of the entries' yearly rates, in billion VND per year; none before any estimate
    /// (no data is no data, never zero).
    pub total: Option<Decimal>,
    pub total_qualifier: Option<Qualifier>,
    /// Platforms with a savings metric but no estimate by then, which the total leaves out.
    pub without_estimate: Vec<platform::Model>,
    /// The reference rows the comparison was made with, which its entries name: shared, not
    /// copied into each entry.
    pub reference: Arc<Reference>,
}

/// How much of the comparison there is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// Every platform with a savings metric has an estimate.
    Complete,
    /// Some have none yet: the total is of those that have.
    Partial,
    /// No estimate at all: there is no total.
    NoData,
}

impl SavingsComparison {
    /// The platform an entry ranks; always in the rows the comparison was made with.
    pub fn platform(&self, entry: &SavingsEntry) -> Option<&platform::Model> {
        platform::Entity::by_id(&self.reference, entry.platform_id)
    }

    /// The metric an entry's estimate is of; always in the rows the comparison was made with.
    pub fn metric(&self, entry: &SavingsEntry) -> Option<&metric::Model> {
        metric::Entity::by_id(&self.reference, entry.metric_id)
    }

    pub fn coverage(&self) -> Coverage {
        match (self.entries.is_empty(), self.without_estimate.is_empty()) {
            (true, _) => Coverage::NoData,
            (false, false) => Coverage::Partial,
            (false, true) => Coverage::Complete,
        }
    }
}

pub fn scale_factor(scale: Scale) -> Decimal {
    match scale {
        Scale::One => Decimal::ONE,
        Scale::Thousand => Decimal::from(1_000),
        Scale::Million => Decimal::from(1_000_000),
        Scale::Billion => Decimal::from(1_000_000_000),
    }
}

/// Expresses `value`, given in `from`, in `to`.
pub fn rescale(value: Decimal, from: Scale, to: Scale) -> Decimal {
    exact::from_storage(value * scale_factor(from) / scale_factor(to))
}

/// The latest estimate of each platform, largest first: as known now, or as the API answered
/// at `as_of` (estimates recorded and observed by then). Each estimate is read as an `R`: a
/// whole figure, or one without the columns the answer does not show.
pub async fn compare<R>(
    db: &DatabaseConnection,
    reference: &ReferenceCache,
    as_of: Option<DateTime<Utc>>,
) -> Result<SavingsComparison, ApiError>
where
    R: Row + OfMetric + 'static,
{
    let snapshot = reference.current().await?;
    let savings = MetricFilter::savings();
    let metrics: Vec<&metric::Model> = snapshot.metrics_matching(&savings, None).collect();
    let ids: Vec<i32> = metrics.iter().map(|m| m.id).collect();
    let instant = as_of.unwrap_or_else(Utc::now);
    let mut latest =
        observations::latest_of_metrics::<R>(db, &ids, Bound::Included(instant), as_of).await?;

    let mut entries: Vec<SavingsEntry> = Vec::new();
    let mut without_estimate: Vec<platform::Model> = Vec::new();
    for metric in metrics {
        let Some(platform) = metric
            .platform_id
            .and_then(|id| platform::Entity::by_id(&snapshot, id))
        else {
            continue;
        };
        let Some(reading) = latest.remove(&metric.id) else {
            without_estimate.push(platform.clone());
            continue;
        };
        let reading = reading.into_figure();
        entries.push(SavingsEntry {
            rank: 0,
            platform_id: platform.id,
            metric_id: metric.id,
            value: rescale(reading.point().value, metric.scale, COMPARISON_SCALE),
            reading,
        });
    }
    crate::ranking::rank(
        &mut entries,
        |e| Some(e.value),
        |e| {
            platform::Entity::by_id(&snapshot, e.platform_id)
                .map_or_else(String::new, |p| p.code.clone())
        },
        |e, rank| e.rank = rank.unwrap_or_default(),
    );

    without_estimate.retain(|platform| entries.iter().all(|e| e.platform_id != platform.id));
    without_estimate.sort_by(|a, b| a.code.cmp(&b.code));
    without_estimate.dedup_by_key(|platform| platform.id);
    let any = !entries.is_empty();
    Ok(SavingsComparison {
        as_of: instant,
        total: any.then(|| exact::from_storage(entries.iter().map(|e| e.value).sum())),
        total_qualifier: any
            .then(|| sum_qualifier(entries.iter().map(|e| e.reading.point().qualifier))),
        without_estimate,
        entries,
        reference: snapshot,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_move_between_scales_exactly() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(
            rescale(d("1.2"), Scale::Million, Scale::Billion),
            d("0.0012")
        );
        assert_eq!(
            rescale(d("6700"), Scale::Billion, Scale::Billion),
            d("6700")
        );
        assert_eq!(
            rescale(d("169"), Scale::Billion, Scale::Million),
            d("169000")
        );
    }
}

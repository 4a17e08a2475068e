//! Observations with their current revision: filtering, keyset pages and latest readings.
//!
//! "Current" is decided here and nowhere else: the revision of an observation that no later
//! revision has superseded.

use std::collections::HashMap;
use std::ops::Bound;

use chrono::{DateTime, Utc};
use entity::{metric, observation, observation_revision};
use sea_orm::sea_query::Query;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, SelectTwo,
};

use super::catalog;
use super::exact;
use super::pagination::{Cursor, Direction, Page, PageRequest};
use crate::error::ApiError;

/// What a figure describes and the value it has now.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrentObservation {
    pub observation: observation::Model,
    pub revision: observation_revision::Model,
}

impl CurrentObservation {
    fn from_row(
        (revision, observation): (observation_revision::Model, Option<observation::Model>),
    ) -> Option<Self> {
        Some(Self {
            observation: observation?,
            revision: observation_revision::Model {
                value: exact::from_storage(revision.value),
                denominator: exact::from_storage_opt(revision.denominator),
                ..revision
            },
        })
    }

    pub fn cursor(&self) -> Cursor {
        Cursor {
            at: self.observation.observed_at,
            id: self.observation.id,
        }
    }
}

fn current() -> SelectTwo<observation_revision::Entity, observation::Entity> {
    observation_revision::Entity::find()
        .find_also_related(observation::Entity)
        .filter(observation_revision::Column::SupersededAt.is_null())
}

async fn fetch(
    db: &DatabaseConnection,
    query: SelectTwo<observation_revision::Entity, observation::Entity>,
) -> Result<Vec<CurrentObservation>, ApiError> {
    Ok(query
        .all(db)
        .await?
        .into_iter()
        .filter_map(CurrentObservation::from_row)
        .collect())
}

/// Which observations a client asks for; codes are checked, unknown ones are `NOT_FOUND`.
#[derive(Debug, Clone, Default)]
pub struct ObservationFilter {
    pub platform: Option<String>,
    pub metric: Option<String>,
    pub agency: Option<String>,
    /// Inclusive.
    pub observed_from: Option<DateTime<Utc>>,
    /// Exclusive.
    pub observed_before: Option<DateTime<Utc>>,
    pub include_synthetic: bool,
}

impl ObservationFilter {
    async fn condition(&self, db: &DatabaseConnection) -> Result<Condition, ApiError> {
        if let (Some(from), Some(before)) = (self.observed_from, self.observed_before) {
            if from >= before {
                return Err(ApiError::bad_input(
                    "observedBefore",
                    format!("the range is empty or reversed: {from} is not before {before}"),
                ));
            }
        }
        let mut condition = Condition::all();
        if let Some(code) = &self.platform {
            let platform = catalog::platform_by_code(db, code).await?;
            let metrics_of_platform = Query::select()
                .column(metric::Column::Id)
                .from(metric::Entity)
                .and_where(metric::Column::PlatformId.eq(platform.id))
                .to_owned();
            condition =
                condition.add(observation::Column::MetricId.in_subquery(metrics_of_platform));
        }
        if let Some(code) = &self.metric {
            let metric = catalog::metric_by_code(db, code).await?;
            condition = condition.add(observation::Column::MetricId.eq(metric.id));
        }
        if let Some(code) = &self.agency {
            let agency = catalog::agency_by_code(db, code).await?;
            condition = condition.add(observation::Column::AgencyId.eq(agency.id));
        }
        if let Some(from) = self.observed_from {
            condition = condition.add(observation::Column::ObservedAt.gte(from));
        }
        if let Some(before) = self.observed_before {
            condition = condition.add(observation::Column::ObservedAt.lt(before));
        }
        if !self.include_synthetic {
            condition = condition.add(observation::Column::Synthetic.eq(false));
        }
        Ok(condition)
    }
}

pub async fn page(
    db: &DatabaseConnection,
    filter: &ObservationFilter,
    request: &PageRequest,
) -> Result<Page<CurrentObservation>, ApiError> {
    let mut query = current().filter(filter.condition(db).await?);
    let (at, id) = (observation::Column::ObservedAt, observation::Column::Id);
    if let Some(cursor) = request.cursor {
        let beyond = |after: bool| {
            let (time, same_time_id) = if after {
                (at.gt(cursor.at), id.gt(cursor.id))
            } else {
                (at.lt(cursor.at), id.lt(cursor.id))
            };
            Condition::any()
                .add(time)
                .add(Condition::all().add(at.eq(cursor.at)).add(same_time_id))
        };
        query = query.filter(beyond(request.direction == Direction::Forward));
    }
    query = match request.direction {
        Direction::Forward => query.order_by_asc(at).order_by_asc(id),
        Direction::Backward => query.order_by_desc(at).order_by_desc(id),
    };
    let rows = fetch(db, query.limit(request.size + 1)).await?;
    let rows = rows.into_iter().map(|row| (row.cursor(), row)).collect();
    Ok(Page::from_fetched(request, rows))
}

pub async fn count(db: &DatabaseConnection, filter: &ObservationFilter) -> Result<u64, ApiError> {
    Ok(current()
        .filter(filter.condition(db).await?)
        .count(db)
        .await?)
}

/// Current observations of a metric observed in `[from, before)`, oldest first.
pub async fn of_metric_between(
    db: &DatabaseConnection,
    metric_id: i32,
    from: DateTime<Utc>,
    before: DateTime<Utc>,
) -> Result<Vec<CurrentObservation>, ApiError> {
    let query = current()
        .filter(observation::Column::MetricId.eq(metric_id))
        .filter(observation::Column::Synthetic.eq(false))
        .filter(observation::Column::ObservedAt.gte(from))
        .filter(observation::Column::ObservedAt.lt(before))
        .order_by_asc(observation::Column::ObservedAt)
        .order_by_asc(observation::Column::Id);
    fetch(db, query).await
}

/// The latest current reading of each metric observed up to `until`.
pub async fn latest_of_metrics(
    db: &DatabaseConnection,
    metric_ids: &[i32],
    until: Bound<DateTime<Utc>>,
) -> Result<HashMap<i32, CurrentObservation>, ApiError> {
    let observed_at = observation::Column::ObservedAt;
    let until = match until {
        Bound::Included(instant) => observed_at.lte(instant),
        Bound::Excluded(instant) => observed_at.lt(instant),
        Bound::Unbounded => observed_at.is_not_null(),
    };
    // Newest first, so the first row seen for a metric is its latest.
    let query = current()
        .filter(observation::Column::MetricId.is_in(metric_ids.iter().copied()))
        .filter(observation::Column::Synthetic.eq(false))
        .filter(until)
        .order_by_desc(observation::Column::ObservedAt)
        .order_by_desc(observation::Column::Id);
    let mut latest = HashMap::new();
    for row in fetch(db, query).await? {
        latest.entry(row.observation.metric_id).or_insert(row);
    }
    Ok(latest)
}

/// One observation with its current revision; `NOT_FOUND` when there is none.
pub async fn by_id(db: &DatabaseConnection, id: i32) -> Result<CurrentObservation, ApiError> {
    fetch(db, current().filter(observation::Column::Id.eq(id)))
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found("observation", id.to_string()))
}

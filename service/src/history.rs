//! Revision history for auditors: every value a figure has had, who recorded it, when and why.

use entity::{observation, observation_revision};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::access::{Permission, Principal};
use super::observations::normalized;
use super::pagination::{Cursor, Page, PageRequest};
use crate::error::ApiError;

/// Every revision of an observation, oldest first.
pub async fn revisions(
    db: &DatabaseConnection,
    principal: &Principal,
    observation_id: i32,
) -> Result<Vec<observation_revision::Model>, ApiError> {
    principal.require(Permission::Audit)?;
    Ok(observation_revision::Entity::find()
        .filter(observation_revision::Column::ObservationId.eq(observation_id))
        .order_by_asc(observation_revision::Column::Revision)
        .all(db)
        .await?
        .into_iter()
        .map(normalized)
        .collect())
}

/// Every revision of every observation of a metric, in the order they were recorded.
pub async fn of_metric(
    db: &DatabaseConnection,
    principal: &Principal,
    metric_id: i32,
    request: &PageRequest,
) -> Result<Page<observation_revision::Model>, ApiError> {
    principal.require(Permission::Audit)?;
    let query = observation_revision::Entity::find()
        .inner_join(observation::Entity)
        .filter(observation::Column::MetricId.eq(metric_id));
    let rows = request
        .apply(
            query,
            observation_revision::Column::RecordedAt,
            observation_revision::Column::Id,
        )
        .limit(request.rows())
        .all(db)
        .await?;
    let rows = rows
        .into_iter()
        .map(|revision| {
            (
                Cursor {
                    at: revision.recorded_at,
                    id: revision.id.into(),
                },
                normalized(revision),
            )
        })
        .collect();
    Ok(Page::from_fetched(request, rows))
}

//! Platforms, agencies, metrics, sources, events and targets: the reference data figures hang on.

use std::collections::HashMap;
use std::hash::Hash;

use entity::values::{MetricKind, Unit};
use entity::{agency, event, metric, platform, target};
use sea_orm::sea_query::IntoCondition;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder,
};

use crate::error::ApiError;

/// Every row of a reference table, by a key of its rows (its code, its id…).
pub async fn keyed<E, K>(
    db: &impl ConnectionTrait,
    key: impl Fn(&E::Model) -> K,
) -> Result<HashMap<K, E::Model>, ApiError>
where
    E: EntityTrait,
    K: Eq + Hash,
{
    keyed_where::<E, K>(db, Condition::all(), key).await
}

/// The rows of a reference table that meet `filter`, by a key of its rows.
pub async fn keyed_where<E, K>(
    db: &impl ConnectionTrait,
    filter: impl IntoCondition,
    key: impl Fn(&E::Model) -> K,
) -> Result<HashMap<K, E::Model>, ApiError>
where
    E: EntityTrait,
    K: Eq + Hash,
{
    Ok(E::find()
        .filter(filter)
        .all(db)
        .await?
        .into_iter()
        .map(|row| (key(&row), row))
        .collect())
}

/// Reads the platform with this code from the database: for work inside a write transaction, or
/// before a server runs. Requests read it from memory instead
/// ([`super::reference::ReferenceCache::platform_by_code`]).
pub async fn load_platform(
    db: &impl ConnectionTrait,
    code: &str,
) -> Result<platform::Model, ApiError> {
    platform::Entity::find()
        .filter(platform::Column::Code.eq(code))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("platform", code))
}

/// Reads the agency with this code from the database: for work inside a write transaction, or
/// before a server runs. Requests read it from memory instead
/// ([`super::reference::ReferenceCache::agency_by_code`]).
pub async fn load_agency(db: &impl ConnectionTrait, code: &str) -> Result<agency::Model, ApiError> {
    agency::Entity::find()
        .filter(agency::Column::Code.eq(code))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("agency", code))
}

#[derive(Debug, Clone, Default)]
pub struct MetricFilter {
    pub platform: Option<String>,
    /// Only the programme's own metrics, tied to no platform (or only platforms' with `false`).
    pub programme: Option<bool>,
    pub kind: Option<MetricKind>,
    pub unit: Option<Unit>,
}

impl MetricFilter {
    /// Savings estimates are the per-year rates expressed in money.
    pub fn savings() -> Self {
        Self {
            kind: Some(MetricKind::AnnualRate),
            unit: Some(Unit::Vnd),
            ..Self::default()
        }
    }
}

/// Reads the metric with this code from the database: for work inside a write transaction, or
/// before a server runs. Requests read it from memory instead
/// ([`super::reference::ReferenceCache::metric_by_code`]).
pub async fn load_metric(db: &impl ConnectionTrait, code: &str) -> Result<metric::Model, ApiError> {
    metric::Entity::find()
        .filter(metric::Column::Code.eq(code))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("metric", code))
}

#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub platform: Option<String>,
}

/// Events in the order they happened.
pub async fn events(
    db: &DatabaseConnection,
    filter: &EventFilter,
) -> Result<Vec<event::Model>, ApiError> {
    let mut query = event::Entity::find()
        .order_by_asc(event::Column::OccurredOn)
        .order_by_asc(event::Column::Id);
    if let Some(code) = &filter.platform {
        let platform = load_platform(db, code).await?;
        query = query.filter(event::Column::PlatformId.eq(platform.id));
    }
    Ok(query.all(db).await?)
}

pub async fn targets_of_year(
    db: &DatabaseConnection,
    year: i32,
) -> Result<Vec<target::Model>, ApiError> {
    let targets = target::Entity::find()
        .filter(target::Column::Year.eq(year))
        .order_by_asc(target::Column::Id)
        .all(db)
        .await?;
    Ok(targets
        .into_iter()
        .map(|target| target::Model {
            value: super::exact::from_storage(target.value),
            ..target
        })
        .collect())
}

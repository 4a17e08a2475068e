//! Platforms, agencies, metrics, sources, events and targets: the reference data figures hang on.

use std::collections::HashMap;
use std::hash::Hash;

use entity::values::{MetricKind, Unit};
use entity::{agency, event, metric, platform, source, target};
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

pub async fn platforms(db: &DatabaseConnection) -> Result<Vec<platform::Model>, ApiError> {
    Ok(platform::Entity::find()
        .order_by_asc(platform::Column::Id)
        .all(db)
        .await?)
}

pub async fn platform_by_code(
    db: &impl ConnectionTrait,
    code: &str,
) -> Result<platform::Model, ApiError> {
    platform::Entity::find()
        .filter(platform::Column::Code.eq(code))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("platform", code))
}

pub async fn agencies(db: &DatabaseConnection) -> Result<Vec<agency::Model>, ApiError> {
    Ok(agency::Entity::find()
        .order_by_asc(agency::Column::Id)
        .all(db)
        .await?)
}

pub async fn agency_by_code(
    db: &impl ConnectionTrait,
    code: &str,
) -> Result<agency::Model, ApiError> {
    agency::Entity::find()
        .filter(agency::Column::Code.eq(code))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("agency", code))
}

#[derive(Debug, Clone, Default)]
pub struct MetricFilter {
    pub platform: Option<String>,
    pub kind: Option<MetricKind>,
    pub unit: Option<Unit>,
}

pub async fn metrics(
    db: &DatabaseConnection,
    filter: &MetricFilter,
) -> Result<Vec<metric::Model>, ApiError> {
    let mut query = metric::Entity::find().order_by_asc(metric::Column::Id);
    if let Some(code) = &filter.platform {
        let platform = platform_by_code(db, code).await?;
        query = query.filter(metric::Column::PlatformId.eq(platform.id));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(metric::Column::Kind.eq(kind));
    }
    if let Some(unit) = filter.unit {
        query = query.filter(metric::Column::Unit.eq(unit));
    }
    Ok(query.all(db).await?)
}

pub async fn metric_by_code(
    db: &DatabaseConnection,
    code: &str,
) -> Result<metric::Model, ApiError> {
    metric::Entity::find()
        .filter(metric::Column::Code.eq(code))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("metric", code))
}

/// Savings estimates are the per-year rates expressed in money.
pub async fn savings_metrics(db: &DatabaseConnection) -> Result<Vec<metric::Model>, ApiError> {
    metrics(
        db,
        &MetricFilter {
            kind: Some(MetricKind::AnnualRate),
            unit: Some(Unit::Vnd),
            ..MetricFilter::default()
        },
    )
    .await
}

pub async fn sources(db: &DatabaseConnection) -> Result<Vec<source::Model>, ApiError> {
    Ok(source::Entity::find()
        .order_by_asc(source::Column::Code)
        .all(db)
        .await?)
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
        let platform = platform_by_code(db, code).await?;
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

//! Batched loading of relations: one query per relation and request, whatever the nesting.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::ops::Bound;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, ErrorExtensions};
use entity::{event, metric};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, Iterable, PrimaryKeyToColumn, QueryFilter,
    QueryOrder,
};

use crate::error::ApiError;
use crate::service::observations::{self, CurrentObservation};

/// The row of table `E` with this primary key.
pub struct RowId<E>(pub i32, PhantomData<fn() -> E>);

impl<E> RowId<E> {
    pub fn new(id: i32) -> Self {
        Self(id, PhantomData)
    }
}

impl<E> Clone for RowId<E> {
    fn clone(&self) -> Self {
        Self::new(self.0)
    }
}

impl<E> PartialEq for RowId<E> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<E> Eq for RowId<E> {}

impl<E> Hash for RowId<E> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state)
    }
}

/// The metrics of a platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MetricsOfPlatform(pub i32);

/// The events of a platform, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventsOfPlatform(pub i32);

/// The latest current reading of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LatestReading(pub i32);

pub struct DatabaseLoader {
    db: DatabaseConnection,
}

impl DatabaseLoader {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

impl<E> Loader<RowId<E>> for DatabaseLoader
where
    E: EntityTrait + Send + Sync,
    E::Model: Send + Sync + Clone + 'static,
{
    type Value = E::Model;
    type Error = ApiError;

    async fn load(&self, keys: &[RowId<E>]) -> Result<HashMap<RowId<E>, E::Model>, Self::Error> {
        let id_column = E::PrimaryKey::iter()
            .next()
            .expect("every table has a primary key")
            .into_column();
        let rows = E::find()
            .filter(id_column.is_in(keys.iter().map(|key| key.0)))
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| match sea_orm::ModelTrait::get(&row, id_column) {
                sea_orm::Value::Int(Some(id)) => Some((RowId::new(id), row)),
                _ => None,
            })
            .collect())
    }
}

impl Loader<MetricsOfPlatform> for DatabaseLoader {
    type Value = Vec<metric::Model>;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[MetricsOfPlatform],
    ) -> Result<HashMap<MetricsOfPlatform, Self::Value>, Self::Error> {
        let rows = metric::Entity::find()
            .filter(metric::Column::PlatformId.is_in(keys.iter().map(|k| k.0)))
            .order_by_asc(metric::Column::Id)
            .all(&self.db)
            .await?;
        Ok(group(keys, rows, |m| MetricsOfPlatform(m.platform_id)))
    }
}

impl Loader<EventsOfPlatform> for DatabaseLoader {
    type Value = Vec<event::Model>;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[EventsOfPlatform],
    ) -> Result<HashMap<EventsOfPlatform, Self::Value>, Self::Error> {
        let rows = event::Entity::find()
            .filter(event::Column::PlatformId.is_in(keys.iter().map(|k| k.0)))
            .order_by_asc(event::Column::OccurredOn)
            .order_by_asc(event::Column::Id)
            .all(&self.db)
            .await?;
        Ok(group(keys, rows, |e| {
            EventsOfPlatform(e.platform_id.unwrap_or_default())
        }))
    }
}

impl Loader<LatestReading> for DatabaseLoader {
    type Value = CurrentObservation;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[LatestReading],
    ) -> Result<HashMap<LatestReading, Self::Value>, Self::Error> {
        let ids: Vec<i32> = keys.iter().map(|k| k.0).collect();
        let latest =
            observations::latest_of_metrics(&self.db, &ids, Bound::Unbounded, None).await?;
        Ok(latest
            .into_iter()
            .map(|(metric_id, reading)| (LatestReading(metric_id), reading))
            .collect())
    }
}

/// Every key gets a list, empty when no row belongs to it.
fn group<K: Copy + Eq + Hash, V>(
    keys: &[K],
    rows: Vec<V>,
    key_of: impl Fn(&V) -> K,
) -> HashMap<K, Vec<V>> {
    let mut groups: HashMap<K, Vec<V>> = keys.iter().map(|&k| (k, Vec::new())).collect();
    for row in rows {
        if let Some(group) = groups.get_mut(&key_of(&row)) {
            group.push(row);
        }
    }
    groups
}

/// Loads one value through the request's loader, with database errors coded like all others.
pub async fn load<K>(
    ctx: &Context<'_>,
    key: K,
) -> async_graphql::Result<Option<<DatabaseLoader as Loader<K>>::Value>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    DatabaseLoader: Loader<K, Error = ApiError>,
{
    ctx.data::<DataLoader<DatabaseLoader>>()?
        .load_one(key)
        .await
        .map_err(|error| error.extend())
}

/// Loads the row a nullable foreign key points to, if it points to one.
pub async fn load_optional_row<E>(
    ctx: &Context<'_>,
    id: Option<i32>,
) -> async_graphql::Result<Option<E::Model>>
where
    E: EntityTrait + Send + Sync,
    E::Model: Send + Sync + Clone + 'static,
{
    match id {
        Some(id) => load_row::<E>(ctx, id).await.map(Some),
        None => Ok(None),
    }
}

/// Loads a row that a foreign key guarantees to exist.
pub async fn load_row<E>(ctx: &Context<'_>, id: i32) -> async_graphql::Result<E::Model>
where
    E: EntityTrait + Send + Sync,
    E::Model: Send + Sync + Clone + 'static,
{
    load(ctx, RowId::<E>::new(id)).await?.ok_or_else(|| {
        ApiError::from(DbErr::RecordNotFound(format!(
            "{} {id}",
            E::default().table_name()
        )))
        .extend()
    })
}

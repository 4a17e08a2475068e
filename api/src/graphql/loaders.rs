//! Relations: reference rows from the in-memory snapshot, and the rest batched, one query per
//! relation and request whatever the nesting.

use std::collections::HashMap;
use std::hash::Hash;
use std::ops::Bound;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::Context;
use entity::event;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};

use crate::error::{ApiError, GraphqlError};
use crate::service::observations::{self, CurrentObservation, OfMetric, Row, SourcedReading};
use crate::service::reference::ByIdInReference;

/// The events of a platform, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventsOfPlatform(pub i32);

/// The latest current reading of a metric, whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LatestReading(pub i32);

/// The latest current reading of a metric, without its quote, note and author.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LatestSourcedReading(pub i32);

pub struct DatabaseLoader {
    db: DatabaseConnection,
}

impl DatabaseLoader {
    /// The loader a request's relations go through, reading `db`.
    pub fn on(db: DatabaseConnection) -> DataLoader<Self> {
        // Sibling fields name their keys within one poll, so a short wait gathers them; the
        // default of 1 ms was paid once per level of nesting. Without any wait, the batch
        // could start on the other worker before the siblings had named their keys.
        DataLoader::new(Self { db }, tokio::spawn).delay(std::time::Duration::from_micros(100))
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
        latest_of_metrics(&self.db, keys, |key| key.0, LatestReading).await
    }
}

impl Loader<LatestSourcedReading> for DatabaseLoader {
    type Value = SourcedReading;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[LatestSourcedReading],
    ) -> Result<HashMap<LatestSourcedReading, Self::Value>, Self::Error> {
        latest_of_metrics(&self.db, keys, |key| key.0, LatestSourcedReading).await
    }
}

/// The latest reading of each metric a key names, read as an `R`, by key.
async fn latest_of_metrics<K: Hash + Eq, R: Row + OfMetric + 'static>(
    db: &DatabaseConnection,
    keys: &[K],
    metric_of: impl Fn(&K) -> i32,
    key_of: impl Fn(i32) -> K,
) -> Result<HashMap<K, R>, ApiError> {
    let ids: Vec<i32> = keys.iter().map(metric_of).collect();
    let latest = observations::latest_of_metrics::<R>(db, &ids, Bound::Unbounded, None).await?;
    Ok(latest
        .into_iter()
        .map(|(metric_id, reading)| (key_of(metric_id), reading))
        .collect())
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

/// The reference row a nullable foreign key points to, if it points to one.
pub async fn load_optional_row<E>(
    ctx: &Context<'_>,
    id: Option<i32>,
) -> async_graphql::Result<Option<E::Model>>
where
    E: ByIdInReference,
    E::Model: Clone,
{
    match id {
        Some(id) => load_row::<E>(ctx, id).await.map(Some),
        None => Ok(None),
    }
}

/// The reference row a foreign key guarantees to exist.
pub async fn load_row<E>(ctx: &Context<'_>, id: i32) -> async_graphql::Result<E::Model>
where
    E: ByIdInReference,
    E::Model: Clone,
{
    super::reference(ctx)?
        .row::<E>(id)
        .await
        .and_then(|row| {
            row.ok_or_else(|| {
                ApiError::from(DbErr::RecordNotFound(format!(
                    "{} {id}",
                    E::default().table_name()
                )))
            })
        })
        .map_err(|error| error.extend())
}

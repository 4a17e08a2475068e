//! Relations: reference rows from the in-memory snapshot, and the rest batched, one query per
//! relation and request whatever the nesting.

use std::future::Future;
use std::hash::Hash;
use std::ops::Bound;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll, Wake, Waker};

use async_graphql::{Context, ContextBase};
use entity::event;
use futures_util::future::{BoxFuture, Shared};
use futures_util::FutureExt;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};

use crate::error::{ApiError, GraphqlError};
use crate::service::id_map::IdMap;
use crate::service::observations::{self, CurrentObservation, OfMetric, Row, SourcedReading};
use crate::service::reference::{ByIdInReference, Reference};
use crate::service::unpoisoned::LockUnpoisoned;

/// The events of a platform, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventsOfPlatform(pub i32);

/// The latest current reading of a metric, whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LatestReading(pub i32);

/// The latest current reading of a metric, without its quote, note and author.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LatestSourcedReading(pub i32);

/// The batches of each relation, read from one database.
pub struct DatabaseLoader {
    db: DatabaseConnection,
    events: Batches<EventsOfPlatform, Vec<event::Model>>,
    latest: Batches<LatestReading, CurrentObservation>,
    latest_sourced: Batches<LatestSourcedReading, SourcedReading>,
}

impl DatabaseLoader {
    /// The loader relations go through, reading `db`.
    pub fn on(db: DatabaseConnection) -> Self {
        Self {
            db,
            events: Batches::default(),
            latest: Batches::default(),
            latest_sourced: Batches::default(),
        }
    }
}

/// What one query answers for a batch of keys: the value of each key that has one.
type Answer<K, V> = Shared<BoxFuture<'static, Result<Arc<IdMap<K, V>>, ApiError>>>;

/// The keys of a relation asked together, answered by one query.
///
/// The first key opens a batch whose query yields once before it reads: the sibling fields
/// that async-graphql polls in the same pass (every metric of every platform, say) add their
/// keys meanwhile, as do requests that run on the worker then. async-graphql's `DataLoader`
/// gathers them with a spawned task and a timer, and a hash map and a channel for every key:
/// on a three-level dashboard query that cost a tenth of its work and a wait of the timer.
pub struct Batches<K, V>(Arc<Mutex<Option<OpenBatch<K, V>>>>);

/// The keys a batch has gathered so far, and its answer to come.
type OpenBatch<K, V> = (Vec<K>, Answer<K, V>);

impl<K, V> Default for Batches<K, V> {
    fn default() -> Self {
        Self(Arc::default())
    }
}

impl<K, V> Batches<K, V>
where
    K: Copy + Eq + Hash + Ord + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    async fn load<F>(
        &self,
        key: K,
        read: impl FnOnce(Vec<K>) -> F + Send + 'static,
    ) -> Result<Option<V>, ApiError>
    where
        F: Future<Output = Result<IdMap<K, V>, ApiError>> + Send + 'static,
    {
        Ok(self.join([key], read).await?.get(&key).cloned())
    }

    /// The values of `keys`, by key, read in one batch with whatever else is asked meanwhile.
    async fn load_all<F>(
        &self,
        keys: Vec<K>,
        read: impl FnOnce(Vec<K>) -> F + Send + 'static,
    ) -> Result<Arc<IdMap<K, V>>, ApiError>
    where
        F: Future<Output = Result<IdMap<K, V>, ApiError>> + Send + 'static,
    {
        if keys.is_empty() {
            return Ok(Arc::default());
        }
        self.join(keys, read).await
    }

    /// The answer of the open batch, `keys` added to it; of a new batch if none is open.
    fn join<F>(
        &self,
        keys: impl IntoIterator<Item = K>,
        read: impl FnOnce(Vec<K>) -> F + Send + 'static,
    ) -> Answer<K, V>
    where
        F: Future<Output = Result<IdMap<K, V>, ApiError>> + Send + 'static,
    {
        let mut open = self.0.lock_unpoisoned();
        if let Some((gathered, answer)) = open.as_mut() {
            gathered.extend(keys);
            return answer.clone();
        }
        let batch = self.0.clone();
        let gathered = move || {
            let open = batch.lock_unpoisoned().take();
            let mut keys = open.map(|(keys, _)| keys).unwrap_or_default();
            keys.sort_unstable();
            keys.dedup();
            keys
        };
        let answer = async move {
            YieldOnce::default().await;
            read(gathered()).await.map(Arc::new)
        }
        .boxed()
        .shared();
        *open = Some((keys.into_iter().collect(), answer.clone()));
        answer
    }
}

/// Completes when the task is polled after a turn of the runtime, however often it is polled
/// before: `tokio::task::yield_now` completes on its second poll, and a shared future is polled
/// once by each of its waiters in the same pass.
#[derive(Default)]
struct YieldOnce(Option<Arc<Nudge>>);

/// The wake a yield asked the runtime for, and the waker to pass it on to.
struct Nudge {
    woken: AtomicBool,
    waiter: Mutex<Waker>,
}

impl Wake for Nudge {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.waiter.lock_unpoisoned().wake_by_ref();
    }
}

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        if let Some(nudge) = &self.0 {
            if nudge.woken.load(Ordering::Acquire) {
                return Poll::Ready(());
            }
            *nudge.waiter.lock_unpoisoned() = cx.waker().clone();
            return Poll::Pending;
        }
        let nudge = Arc::new(Nudge {
            woken: AtomicBool::new(false),
            waiter: Mutex::new(cx.waker().clone()),
        });
        // The runtime keeps the waker and wakes it after its turn.
        let waker = Waker::from(nudge.clone());
        let _ = pin!(tokio::task::yield_now()).poll(&mut TaskContext::from_waker(&waker));
        self.0 = Some(nudge);
        Poll::Pending
    }
}

/// A relation the loader batches: where its batches are and how a batch is read.
pub trait Relation: Copy + Eq + Hash + Ord + Send + Sync + 'static {
    type Value: Clone + Send + Sync + 'static;

    fn batches(loader: &DatabaseLoader) -> &Batches<Self, Self::Value>;

    fn read(
        db: DatabaseConnection,
        keys: Vec<Self>,
    ) -> impl Future<Output = Result<IdMap<Self, Self::Value>, ApiError>> + Send + 'static;
}

impl Relation for EventsOfPlatform {
    type Value = Vec<event::Model>;

    fn batches(loader: &DatabaseLoader) -> &Batches<Self, Self::Value> {
        &loader.events
    }

    async fn read(
        db: DatabaseConnection,
        keys: Vec<Self>,
    ) -> Result<IdMap<Self, Self::Value>, ApiError> {
        let rows = event::Entity::find()
            .filter(event::Column::PlatformId.is_in(keys.iter().map(|k| k.0)))
            .order_by_asc(event::Column::OccurredOn)
            .order_by_asc(event::Column::Id)
            .all(&db)
            .await?;
        Ok(group(&keys, rows, |e| {
            EventsOfPlatform(e.platform_id.unwrap_or_default())
        }))
    }
}

impl Relation for LatestReading {
    type Value = CurrentObservation;

    fn batches(loader: &DatabaseLoader) -> &Batches<Self, Self::Value> {
        &loader.latest
    }

    async fn read(
        db: DatabaseConnection,
        keys: Vec<Self>,
    ) -> Result<IdMap<Self, Self::Value>, ApiError> {
        latest_of_metrics(&db, &keys, |key| key.0, LatestReading).await
    }
}

impl Relation for LatestSourcedReading {
    type Value = SourcedReading;

    fn batches(loader: &DatabaseLoader) -> &Batches<Self, Self::Value> {
        &loader.latest_sourced
    }

    async fn read(
        db: DatabaseConnection,
        keys: Vec<Self>,
    ) -> Result<IdMap<Self, Self::Value>, ApiError> {
        latest_of_metrics(&db, &keys, |key| key.0, LatestSourcedReading).await
    }
}

/// The latest reading of each metric a key names, read as an `R`, by key.
async fn latest_of_metrics<K: Hash + Eq, R: Row + OfMetric + 'static>(
    db: &DatabaseConnection,
    keys: &[K],
    metric_of: impl Fn(&K) -> i32,
    key_of: impl Fn(i32) -> K,
) -> Result<IdMap<K, R>, ApiError> {
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
) -> IdMap<K, Vec<V>> {
    let mut groups: IdMap<K, Vec<V>> = keys.iter().map(|&k| (k, Vec::new())).collect();
    for row in rows {
        if let Some(group) = groups.get_mut(&key_of(&row)) {
            group.push(row);
        }
    }
    groups
}

/// Loads one value through the request's loader, with database errors coded like all others.
pub async fn load<K: Relation, T>(
    ctx: &ContextBase<'_, T>,
    key: K,
) -> async_graphql::Result<Option<K::Value>> {
    let loader = ctx.data::<DatabaseLoader>()?;
    let db = loader.db.clone();
    K::batches(loader)
        .load(key, |keys| K::read(db, keys))
        .await
        .map_err(|error| error.extend())
}

/// Loads the values of `keys` through the request's loader, in one batch, by key.
pub async fn load_all<K: Relation, T>(
    ctx: &ContextBase<'_, T>,
    keys: Vec<K>,
) -> async_graphql::Result<Arc<IdMap<K, K::Value>>> {
    let loader = ctx.data::<DatabaseLoader>()?;
    let db = loader.db.clone();
    K::batches(loader)
        .load_all(keys, |keys| K::read(db, keys))
        .await
        .map_err(|error| error.extend())
}

/// Relations read for a list of objects before it is written, so that each object writes them
/// without a future of its own (see `WrittenFields::read_ahead`): the reference rows, and the
/// latest readings of the metrics the list asks them of.
pub(crate) struct ReadAhead {
    pub reference: Arc<Reference>,
    /// By metric; none when the list does not ask them.
    pub latest: Option<Arc<IdMap<LatestSourcedReading, SourcedReading>>>,
}

impl ReadAhead {
    /// The reference rows, and the latest readings of the metrics `latest_of` names in them;
    /// none when a read fails (the resolvers then answer, and report the failure, as without).
    pub async fn read<T>(
        ctx: &ContextBase<'_, T>,
        latest_of: impl FnOnce(&Reference) -> Option<Vec<i32>>,
    ) -> Option<Self> {
        let reference = super::reference(ctx).ok()?.current().await.ok()?;
        let latest = match latest_of(&reference) {
            Some(metrics) => {
                let keys = metrics.into_iter().map(LatestSourcedReading).collect();
                Some(load_all(ctx, keys).await.ok()?)
            }
            None => None,
        };
        Some(Self { reference, latest })
    }
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
        .and_then(|row| row.ok_or_else(|| missing_row::<E>(id)))
        .map_err(|error| error.extend())
}

/// A reference row that a foreign key, or the snapshot a result was made with, guarantees, and
/// that is not there.
pub(crate) fn missing_row<E: ByIdInReference>(id: i32) -> ApiError {
    ApiError::from(DbErr::RecordNotFound(format!(
        "{} {id}",
        E::default().table_name()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Reads = Arc<Mutex<Vec<Vec<i32>>>>;

    /// Answers each key with ten times itself, and notes the keys of each read.
    fn tenfold(
        reads: &Reads,
    ) -> impl FnOnce(Vec<i32>) -> BoxFuture<'static, Result<IdMap<i32, i32>, ApiError>> {
        let reads = reads.clone();
        move |keys| {
            reads.lock().unwrap().push(keys.clone());
            async move { Ok(keys.iter().map(|&key| (key, key * 10)).collect()) }.boxed()
        }
    }

    #[tokio::test]
    async fn keys_named_together_are_read_once_and_a_later_key_in_a_batch_of_its_own() {
        let batches = Batches::<i32, i32>::default();
        let reads = Reads::default();
        let together = [3, 1, 2, 1].map(|key| batches.load(key, tenfold(&reads)));
        let answers: Vec<_> = futures_util::future::join_all(together)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(answers, [Some(30), Some(10), Some(20), Some(10)]);
        assert_eq!(*reads.lock().unwrap(), [vec![1, 2, 3]]);

        let later = batches.load(4, tenfold(&reads)).await.unwrap();
        assert_eq!(later, Some(40));
        assert_eq!(*reads.lock().unwrap(), [vec![1, 2, 3], vec![4]]);
    }

    #[tokio::test]
    async fn a_batch_whose_first_caller_went_away_still_answers_the_others() {
        let batches = Batches::<i32, i32>::default();
        let reads = Reads::default();
        let mut first = Box::pin(batches.load(1, tenfold(&reads)));
        // Opens the batch and yields, then is dropped before the batch is read.
        assert!(futures_util::poll!(first.as_mut()).is_pending());
        let second = batches.load(2, tenfold(&reads));
        drop(first);
        assert_eq!(second.await.unwrap(), Some(20));
        assert_eq!(*reads.lock().unwrap(), [vec![1, 2]]);
    }
}

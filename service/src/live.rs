//! The live feed: every change to a figure, as it is committed, to every server process.
//!
//! The audit log already records each applied write in order, so the feed is its tail. On
//! PostgreSQL a write also sends `NOTIFY` inside its transaction (delivered only if it commits)
//! and each server `LISTEN`s, so a write through one process reaches the subscribers of all; on
//! SQLite the one process watches the log's head. Subscribers read from a bounded broadcast
//! channel: one that falls too far behind is dropped, and a writer never waits for anyone.

use std::sync::Arc;
use std::time::Duration;

use entity::{audit_entry, metric};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use tokio::sync::broadcast;

use super::audit::{self, Action, SeenHead, APPLIED};
use super::catalog;
use super::observations::{self, CurrentObservation};
use crate::error::ApiError;

/// Changes a subscriber may fall behind by before it is dropped.
pub const BACKLOG: usize = 1024;
/// How often SQLite's log head is looked at, and PostgreSQL's as a safety net.
const POLL: Duration = Duration::from_millis(250);
const POSTGRES_SAFETY_POLL: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Recorded,
    Corrected,
    Retracted,
}

/// A figure as it stands right after a committed change.
#[derive(Debug, Clone)]
pub struct Change {
    /// The audit entry that records the change.
    pub sequence: i64,
    pub kind: ChangeKind,
    pub observation: CurrentObservation,
    pub metric: metric::Model,
}

pub struct LiveFeed {
    sender: broadcast::Sender<Arc<Change>>,
    /// The last audit entry the feed has seen: any answer computed before it may be stale.
    head: SeenHead,
}

impl LiveFeed {
    /// Starts following the audit log from its present head, read before the first answer is
    /// cached so that no answer is kept under a head the feed has not seen yet.
    pub async fn start(db: DatabaseConnection) -> Arc<Self> {
        let (sender, _) = broadcast::channel(BACKLOG);
        let initial = head(&db).await.unwrap_or(0);
        let feed = Arc::new(Self {
            sender,
            head: SeenHead::new(initial),
        });
        let follower = Follower {
            sender: feed.sender.clone(),
            head: feed.head.clone(),
        };
        tokio::spawn(async move {
            let mut last = initial;
            match db.get_database_backend() {
                DbBackend::Postgres => follow_postgres(&db, &follower, &mut last).await,
                _ => {
                    // Until the server closes the pool on its way out.
                    while !db.get_sqlite_connection_pool().is_closed() {
                        catch_up(&db, &follower, &mut last).await;
                        tokio::time::sleep(POLL).await;
                    }
                }
            }
        });
        feed
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.sender.subscribe()
    }

    /// The sequence of the last audit entry seen: it moves whenever any process commits a change.
    pub fn head(&self) -> i64 {
        self.head.get()
    }

    /// The head as the feed keeps it, for whatever must notice when the chain moves.
    pub fn seen_head(&self) -> SeenHead {
        self.head.clone()
    }

    /// Subscriptions following the feed right now.
    pub fn subscribers(&self) -> usize {
        self.sender.receiver_count()
    }
}

/// The feed's writing end, held by the task that follows the log.
struct Follower {
    sender: broadcast::Sender<Arc<Change>>,
    head: SeenHead,
}

async fn head(db: &DatabaseConnection) -> Result<i64, ApiError> {
    let newest = audit_entry::Entity::find().order_by_desc(audit_entry::Column::Sequence);
    Ok(crate::held_connections::find_one(db, newest)
        .await?
        .map_or(0, |entry| entry.sequence))
}

async fn follow_postgres(db: &DatabaseConnection, follower: &Follower, last: &mut i64) {
    // Until the server closes the pool on its way out.
    while !db.get_postgres_connection_pool().is_closed() {
        let listener =
            sea_orm::sqlx::postgres::PgListener::connect_with(db.get_postgres_connection_pool())
                .await;
        let mut listener = match listener {
            Ok(mut listener) => match listener.listen(audit::CHANNEL).await {
                Ok(()) => listener,
                Err(error) => {
                    tracing::warn!(error = %error, "cannot listen for changes; retrying");
                    tokio::time::sleep(POLL * 8).await;
                    continue;
                }
            },
            Err(error) => {
                tracing::warn!(error = %error, "cannot listen for changes; retrying");
                tokio::time::sleep(POLL * 8).await;
                continue;
            }
        };
        // Whatever was committed while no one listened.
        catch_up(db, follower, last).await;
        loop {
            tokio::select! {
                notification = listener.try_recv() => match notification {
                    Ok(Some(_)) => catch_up(db, follower, last).await,
                    // The connection was lost; `try_recv` reconnects on the next call.
                    Ok(None) => catch_up(db, follower, last).await,
                    Err(error) => {
                        if !db.get_postgres_connection_pool().is_closed() {
                            tracing::warn!(error = %error, "listening for changes failed; reconnecting");
                        }
                        break;
                    }
                },
                () = tokio::time::sleep(POSTGRES_SAFETY_POLL) => catch_up(db, follower, last).await,
            }
        }
    }
}

/// Sends every change recorded in the log after `last`.
async fn catch_up(db: &DatabaseConnection, follower: &Follower, last: &mut i64) {
    if let Err(error) = try_catch_up(db, follower, last).await {
        tracing::debug!(error = %error, "the live feed could not read the log; will retry");
    }
}

async fn try_catch_up(
    db: &DatabaseConnection,
    follower: &Follower,
    last: &mut i64,
) -> Result<(), ApiError> {
    loop {
        if follower.sender.receiver_count() == 0 {
            // No one to tell: only the head moves, which retires cached answers.
            *last = head(db).await?.max(*last);
            follower.head.set(*last);
            return Ok(());
        }
        let after_last = audit_entry::Entity::find()
            .filter(audit_entry::Column::Sequence.gt(*last))
            .order_by_asc(audit_entry::Column::Sequence)
            .limit(500);
        let entries = crate::held_connections::find_all(db, after_last).await?;
        let Some(newest) = entries.last().map(|entry| entry.sequence) else {
            return Ok(());
        };
        let changes: Vec<(i64, ChangeKind, i32)> = entries
            .iter()
            .filter(|entry| entry.outcome == APPLIED)
            .filter_map(|entry| {
                let kind = match Action::parse(&entry.action)? {
                    Action::RecordObservation => ChangeKind::Recorded,
                    Action::CorrectObservation => ChangeKind::Corrected,
                    Action::RetractObservation => ChangeKind::Retracted,
                    _ => return None,
                };
                let id = audit::subject_observation(entry.subject.as_deref()?)?;
                Some((entry.sequence, kind, id))
            })
            .collect();
        if !changes.is_empty() {
            // One read for the whole stretch: a bulk import logs thousands of entries at once.
            let ids: Vec<i32> = changes.iter().map(|&(_, _, id)| id).collect();
            let current = observations::by_ids(db, &ids, None).await?;
            let metrics = catalog::keyed::<metric::Entity, _>(db, |m| m.id).await?;
            for (sequence, kind, id) in changes {
                // A later change in the same stretch shows the figure as it stands now.
                let Some(observation) = current.get(&id).cloned() else {
                    continue;
                };
                let Some(metric) = metrics.get(&observation.observation.metric_id).cloned() else {
                    continue;
                };
                // No subscribers is not an error: the change is simply not needed.
                let _ = follower.sender.send(Arc::new(Change {
                    sequence,
                    kind,
                    observation,
                    metric,
                }));
            }
        }
        *last = newest;
        follower.head.set(newest);
    }
}

//! Reads from PostgreSQL streaming replicas, writes on the primary.
//!
//! A position is a point in the primary's write-ahead log. Every answer is computed on a state
//! at least as new as the position its request requires: the one the caller sends back
//! (`Egov-Kpi-Position`, given on every acknowledged write) and the newest write this process
//! knows of, made here or seen by the live feed. So a caller never reads a state without its own
//! write, and no answer kept by the response cache predates a write that retired an older one.
//! A replica that has not replayed the required position within a short wait is passed over for
//! the primary. A monitor samples every replica's replay position: one that lags past the bound
//! or does not answer leaves the rotation, and comes back by itself once it has caught up.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::{DatabaseConnection, DbBackend, DbErr, Statement};

use crate::config::ReplicaSettings;
use crate::service::held_connections;
use crate::service::unpoisoned::LockUnpoisoned;

/// A point in PostgreSQL's write-ahead log, written `16/B374D848` as PostgreSQL writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position(u64);

impl Position {
    pub fn parse(text: &str) -> Option<Self> {
        let (high, low) = text.trim().split_once('/')?;
        if high.is_empty() || low.is_empty() || high.len() > 8 || low.len() > 8 {
            return None;
        }
        let high = u32::from_str_radix(high, 16).ok()?;
        let low = u32::from_str_radix(low, 16).ok()?;
        Some(Self((u64::from(high) << 32) | u64::from(low)))
    }

    fn bytes_after(self, earlier: Position) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

async fn position_of(db: &DatabaseConnection, function: &str) -> Result<Option<Position>, DbErr> {
    // Asked once a group of writes and by every wait for a replica: on a held connection.
    let statement =
        Statement::from_string(DbBackend::Postgres, format!("SELECT {function}()::text"));
    let rows = held_connections::query_all(db, statement).await?;
    Ok(rows
        .first()
        .and_then(|row| row.try_get_by_index::<Option<String>>(0).ok().flatten())
        .and_then(|text| Position::parse(&text)))
}

/// The primary's present position: every transaction committed before it is asked is behind it.
pub async fn primary_position(db: &DatabaseConnection) -> Result<Option<Position>, DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(None);
    }
    position_of(db, "pg_current_wal_lsn").await
}

async fn replayed_position(db: &DatabaseConnection) -> Result<Option<Position>, DbErr> {
    position_of(db, "pg_last_wal_replay_lsn").await
}

/// How far one replica is behind, as the monitor last saw it.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaStatus {
    pub name: String,
    pub in_rotation: bool,
    /// Bytes of the primary's log not yet replayed; none while the replica does not answer.
    pub lag_bytes: Option<u64>,
    /// Seconds since the replica last held everything the primary had; none while it does not
    /// answer.
    pub lag_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

struct Replica {
    db: DatabaseConnection,
    /// The newest position known to be replayed, raised by the monitor and by waiting reads.
    replayed: AtomicU64,
    status: Mutex<ReplicaStatus>,
}

impl Replica {
    fn replayed(&self) -> Position {
        Position(self.replayed.load(Ordering::Acquire))
    }

    fn saw_replayed(&self, position: Position) {
        self.replayed.fetch_max(position.0, Ordering::AcqRel);
    }

    fn in_rotation(&self) -> bool {
        self.status.lock_unpoisoned().in_rotation
    }
}

/// Where a read ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Primary,
    Replica,
}

pub struct Routed {
    pub db: DatabaseConnection,
    pub source: Source,
}

pub struct Replicas {
    primary: DatabaseConnection,
    members: Vec<Replica>,
    settings: ReplicaSettings,
    /// The newest write this process knows of: made here, or seen by the live feed.
    required: AtomicU64,
    /// The live feed's head when `required` last took it into account.
    head_accounted: AtomicI64,
    head_refresh: tokio::sync::Mutex<()>,
    /// The last read of the position after writes: when it started, and what it read. Held
    /// while a read runs, so that callers queue behind it.
    last_position_read: tokio::sync::Mutex<Option<(Instant, Option<Position>)>>,
    next: AtomicUsize,
    reads_on_replicas: AtomicU64,
    reads_on_primary: AtomicU64,
}

impl Replicas {
    /// Connects to every replica named (one that does not answer yet is kept out of rotation
    /// until it does) and starts the monitor.
    pub async fn connect(
        primary: DatabaseConnection,
        replicas: &[(String, DatabaseConnection)],
        settings: ReplicaSettings,
    ) -> Arc<Self> {
        let members = replicas
            .iter()
            .map(|(name, db)| Replica {
                db: db.clone(),
                replayed: AtomicU64::new(0),
                status: Mutex::new(ReplicaStatus {
                    name: name.clone(),
                    in_rotation: false,
                    lag_bytes: None,
                    lag_seconds: None,
                    error: Some("not checked yet".into()),
                }),
            })
            .collect();
        let replicas = Arc::new(Self::new(primary, members, settings));
        if !replicas.members.is_empty() {
            let mut monitor = Monitor::default();
            let this = Arc::downgrade(&replicas);
            monitor.check(&replicas).await;
            let interval = replicas.settings.monitor_interval();
            // Until the server lets its replicas go.
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(interval).await;
                    let Some(replicas) = this.upgrade() else {
                        return;
                    };
                    monitor.check(&replicas).await;
                }
            });
        }
        replicas
    }

    /// No replicas: every read on the primary.
    pub fn primary_only(primary: DatabaseConnection) -> Arc<Self> {
        Arc::new(Self::new(primary, Vec::new(), ReplicaSettings::default()))
    }

    fn new(primary: DatabaseConnection, members: Vec<Replica>, settings: ReplicaSettings) -> Self {
        Self {
            primary,
            members,
            settings,
            required: AtomicU64::new(0),
            head_accounted: AtomicI64::new(i64::MIN),
            head_refresh: tokio::sync::Mutex::new(()),
            last_position_read: tokio::sync::Mutex::new(None),
            next: AtomicUsize::new(0),
            reads_on_replicas: AtomicU64::new(0),
            reads_on_primary: AtomicU64::new(0),
        }
    }

    pub fn has_replicas(&self) -> bool {
        !self.members.is_empty()
    }

    /// A write was acknowledged here: its position, which later reads here require and which
    /// the caller is given to require anywhere. `committed` is when the write committed, or any
    /// moment after: a read of the position that started later is past the write.
    ///
    /// Writers committed together (one group commit) share one read: a caller takes the answer
    /// of the last read when it started after the caller's commit, or makes the next read
    /// itself. A read cancelled with its caller leaves the next caller in the queue to read.
    pub async fn written(&self, committed: Instant) -> Option<Position> {
        let mut last = self.last_position_read.lock().await;
        if let Some((started, position)) = *last {
            if started > committed {
                return position;
            }
        }
        let started = Instant::now();
        let position = self.read_written_position().await;
        *last = Some((started, position));
        position
    }

    async fn read_written_position(&self) -> Option<Position> {
        match primary_position(&self.primary).await {
            Ok(position) => {
                if let Some(position) = position {
                    self.required.fetch_max(position.0, Ordering::AcqRel);
                }
                position
            }
            Err(error) => {
                tracing::warn!(error = %error, "reading the primary's position after a write");
                None
            }
        }
    }

    /// Takes into account writes the live feed has seen (through any process): the primary's
    /// position read after the feed saw them is past them.
    async fn account_for_head(&self, head: i64) -> Result<(), DbErr> {
        if self.head_accounted.load(Ordering::Acquire) >= head {
            return Ok(());
        }
        let _one_at_a_time = self.head_refresh.lock().await;
        if self.head_accounted.load(Ordering::Acquire) >= head {
            return Ok(());
        }
        if let Some(position) = primary_position(&self.primary).await? {
            self.required.fetch_max(position.0, Ordering::AcqRel);
        }
        self.head_accounted.fetch_max(head, Ordering::AcqRel);
        Ok(())
    }

    /// The database a read runs on: a replica in rotation that has replayed `caller_position`
    /// and every write this process knows of (`feed_head` being the live feed's), waiting a
    /// little for one to catch up, else the primary.
    pub async fn for_read(&self, caller_position: Option<Position>, feed_head: i64) -> Routed {
        if self.members.is_empty() {
            return self.on_primary();
        }
        if let Err(error) = self.account_for_head(feed_head).await {
            tracing::warn!(error = %error, "reading the primary's position; reading the primary");
            return self.on_primary();
        }
        let required = caller_position
            .unwrap_or_default()
            .max(Position(self.required.load(Ordering::Acquire)));
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let candidates: Vec<&Replica> = (0..self.members.len())
            .map(|i| &self.members[(start + i) % self.members.len()])
            .filter(|replica| replica.in_rotation())
            .collect();
        if let Some(replica) = candidates.iter().find(|r| r.replayed() >= required) {
            return self.on_replica(replica);
        }
        let Some(&replica) = candidates.first() else {
            return self.on_primary();
        };
        let deadline = Instant::now() + self.settings.wait();
        loop {
            match replayed_position(&replica.db).await {
                Ok(Some(replayed)) => {
                    replica.saw_replayed(replayed);
                    if replayed >= required {
                        return self.on_replica(replica);
                    }
                }
                Ok(None) | Err(_) => break,
            }
            if Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        self.on_primary()
    }

    fn on_primary(&self) -> Routed {
        self.reads_on_primary.fetch_add(1, Ordering::Relaxed);
        Routed {
            db: self.primary.clone(),
            source: Source::Primary,
        }
    }

    fn on_replica(&self, replica: &Replica) -> Routed {
        self.reads_on_replicas.fetch_add(1, Ordering::Relaxed);
        Routed {
            db: replica.db.clone(),
            source: Source::Replica,
        }
    }

    pub fn statuses(&self) -> Vec<ReplicaStatus> {
        self.members
            .iter()
            .map(|r| r.status.lock_unpoisoned().clone())
            .collect()
    }

    /// Each replica's name and the connections its reads hold out of its pool now.
    pub fn held_connections(&self) -> Vec<(String, usize)> {
        self.members
            .iter()
            .map(|replica| {
                let status = replica.status.lock_unpoisoned();
                (status.name.clone(), held_connections::idle(&replica.db))
            })
            .collect()
    }

    /// Reads answered on the primary and on replicas since start.
    pub fn reads(&self) -> (u64, u64) {
        (
            self.reads_on_primary.load(Ordering::Relaxed),
            self.reads_on_replicas.load(Ordering::Relaxed),
        )
    }
}

/// Samples the primary's position and every replica's replay, and decides the rotation.
#[derive(Default)]
struct Monitor {
    /// The primary's positions as sampled, newest last, over the last lag bound and a bit.
    samples: VecDeque<(Instant, Position)>,
}

impl Monitor {
    async fn check(&mut self, replicas: &Replicas) {
        let now = Instant::now();
        let primary = match primary_position(&replicas.primary).await {
            Ok(Some(position)) => position,
            // Without the primary's position no lag can be told; the rotation stays as it is.
            Ok(None) | Err(_) => return,
        };
        self.samples.push_back((now, primary));
        let keep = replicas.settings.max_lag() * 2 + Duration::from_secs(1);
        while self
            .samples
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > keep)
            && self.samples.len() > 1
        {
            self.samples.pop_front();
        }
        for replica in &replicas.members {
            let replayed = replayed_position(&replica.db).await;
            let mut status = replica.status.lock_unpoisoned();
            let was_in_rotation = status.in_rotation;
            match replayed {
                Ok(Some(replayed)) => {
                    replica.saw_replayed(replayed);
                    // Behind since the oldest sampled position it has not replayed.
                    let behind_since = self
                        .samples
                        .iter()
                        .find(|(_, position)| *position > replayed)
                        .map(|(at, _)| *at);
                    let lag = behind_since.map_or(Duration::ZERO, |at| now.duration_since(at));
                    status.lag_bytes = Some(primary.bytes_after(replayed));
                    status.lag_seconds = Some(lag.as_secs_f64());
                    status.error = None;
                    status.in_rotation = lag <= replicas.settings.max_lag();
                }
                Ok(None) => {
                    status.lag_bytes = None;
                    status.lag_seconds = None;
                    status.error = Some("not a replica: it replays no log".into());
                    status.in_rotation = false;
                }
                Err(error) => {
                    status.lag_bytes = None;
                    status.lag_seconds = None;
                    status.error = Some(error.to_string());
                    status.in_rotation = false;
                }
            }
            if status.in_rotation != was_in_rotation {
                if status.in_rotation {
                    tracing::info!(replica = %status.name, "replica back in rotation");
                } else {
                    tracing::warn!(
                        replica = %status.name,
                        lag_seconds = ?status.lag_seconds,
                        error = ?status.error,
                        "replica out of rotation"
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_reads_and_writes_as_postgresql_does() {
        let position = Position::parse("16/B374D848").expect("a position");
        assert_eq!(position.to_string(), "16/B374D848");
        assert_eq!(Position::parse("0/0"), Some(Position(0)));
        assert!(Position::parse("16/B374D848").unwrap() > Position::parse("16/B374D847").unwrap());
        assert!(Position::parse("17/0").unwrap() > Position::parse("16/FFFFFFFF").unwrap());
        for refused in ["", "16", "/1", "1/", "G/1", "123456789/1", "1/2/3", "-1/2"] {
            assert_eq!(Position::parse(refused), None, "{refused:?}");
        }
    }
}

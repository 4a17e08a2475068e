//! PostgreSQL connections held out of sqlx's pool between reads.
//!
//! sqlx's pool answers every connection handed back to it with a task that sends PostgreSQL a
//! `Sync` and waits for its `ReadyForQuery` before the connection is idle again (its release
//! "ping"): a second round trip for every statement, a task spawned and a process woken on
//! each side, though a statement read to its end has already left its connection ready. Reads
//! (`query_all`) take their connection from here instead, and a read that ends well puts it
//! back here, without the ping.
//!
//! A read that fails or is dropped before its end leaves its connection to the pool, whose
//! release path cleans it as before (or closes it). So does a connection idle here longer than
//! the pool would trust one without a test, the connections beyond half the pool's size (the
//! other half is for writes and everything else), and every held connection when the server
//! stops ([`Holding`]), so that the pool can close.

use std::any::Any;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use sea_orm::sqlx::pool::PoolConnection;
use sea_orm::sqlx::postgres::Postgres;
use sea_orm::sqlx::{self, AssertSqlSafe, PgPool};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, FromQueryResult,
    QueryResult, QuerySelect, QueryTrait, RuntimeErr, Select, Statement,
};
use sea_query_sqlx::SqlxValues;
use tokio::sync::Notify;

use crate::unpoisoned::{LockUnpoisoned, ReadWriteUnpoisoned};

/// As long as a connection may wait here: the pool tests one idle longer before handing it out.
const IDLE_AT_MOST: Duration = Duration::from_secs(30);

/// Room for the rows of a dashboard's page (20 and one more) before the vector grows.
const ROWS_AT_FIRST: usize = 32;

/// Sees every statement a held connection runs, as sea-orm's metric callback sees the pool's.
pub type StatementObserver = Arc<dyn Fn(&Statement) + Send + Sync>;

/// The connections held for one pool.
pub struct HeldConnections {
    pool: PgPool,
    idle: Mutex<Vec<(PoolConnection<Postgres>, Instant)>>,
    /// Woken when a connection is put back here: a read waiting on the pool takes it instead.
    put_back: Notify,
    most: usize,
    /// [`IDLE_AT_MOST`], shorter in tests.
    idle_at_most: Duration,
    observer: OnceLock<StatementObserver>,
}

/// The pools whose reads hold their connections. A pool is found by its connect options, which
/// it shares with every clone of it and keeps while it lives.
static HELD: RwLock<Vec<Arc<HeldConnections>>> = RwLock::new(Vec::new());

/// Reads on a pool hold their connections while this lives; dropped, every held connection goes
/// back to the pool and reads go on through it.
pub struct Holding(Arc<HeldConnections>);

/// Has reads on `db` hold their connections; none for a database other than PostgreSQL (or one
/// already held).
pub fn hold(db: &DatabaseConnection) -> Option<Holding> {
    hold_idle_at_most(db, IDLE_AT_MOST)
}

fn hold_idle_at_most(db: &DatabaseConnection, idle_at_most: Duration) -> Option<Holding> {
    if db.get_database_backend() != DbBackend::Postgres || held(db).is_some() {
        return None;
    }
    let pool = db.get_postgres_connection_pool().clone();
    let most = (pool.options().get_max_connections() as usize / 2).max(1);
    let connections = Arc::new(HeldConnections {
        pool,
        idle: Mutex::new(Vec::new()),
        put_back: Notify::new(),
        most,
        idle_at_most,
        observer: OnceLock::new(),
    });
    HELD.write_unpoisoned().push(connections.clone());
    Some(Holding(connections))
}

impl Holding {
    /// Calls `observer` with every statement a held connection runs; the first observer given
    /// is the one kept.
    pub fn observe(&self, observer: StatementObserver) {
        let _ = self.0.observer.set(observer);
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        HELD.write_unpoisoned()
            .retain(|held| !Arc::ptr_eq(held, &self.0));
        let connections = std::mem::take(&mut *self.0.idle.lock_unpoisoned());
        // sqlx hands a connection back by a task of the runtime's: outside one (a runtime being
        // torn down), the connections are let go with their sockets unclosed rather than panic.
        if tokio::runtime::Handle::try_current().is_err() {
            std::mem::forget(connections);
        }
    }
}

/// Runs `statement` on `db` and reads every row: on a held connection when `db` is a held pool,
/// otherwise as `db.query_all_raw` does.
pub async fn query_all<C: ConnectionTrait + 'static>(
    db: &C,
    statement: Statement,
) -> Result<Vec<QueryResult>, DbErr> {
    let database = (db as &dyn Any).downcast_ref::<DatabaseConnection>();
    match database.and_then(held) {
        Some(connections) => connections.query_all(&statement).await,
        None => db.query_all_raw(statement).await,
    }
}

/// As `select.all(db)`, its statement run as [`query_all`] runs it.
pub async fn find_all<E: EntityTrait, C: ConnectionTrait + 'static>(
    db: &C,
    select: Select<E>,
) -> Result<Vec<E::Model>, DbErr> {
    let rows = query_all(db, select.build(db.get_database_backend())).await?;
    rows.iter()
        .map(|row| E::Model::from_query_result(row, ""))
        .collect()
}

/// As `select.one(db)`, its statement run as [`query_all`] runs it.
pub async fn find_one<E: EntityTrait, C: ConnectionTrait + 'static>(
    db: &C,
    select: Select<E>,
) -> Result<Option<E::Model>, DbErr> {
    Ok(find_all(db, select.limit(1)).await?.into_iter().next())
}

/// Connections held for `db`'s pool and idle now, out of the pool: none when it is not held.
pub fn idle(db: &DatabaseConnection) -> usize {
    held(db).map_or(0, |connections| connections.idle())
}

fn held(db: &DatabaseConnection) -> Option<Arc<HeldConnections>> {
    if db.get_database_backend() != DbBackend::Postgres {
        return None;
    }
    let options = db.get_postgres_connection_pool().connect_options();
    HELD.read_unpoisoned()
        .iter()
        .find(|held| Arc::ptr_eq(&held.pool.connect_options(), &options))
        .cloned()
}

impl HeldConnections {
    async fn query_all(&self, statement: &Statement) -> Result<Vec<QueryResult>, DbErr> {
        let mut answer = self.try_query_all(statement).await;
        if answer.as_ref().is_err_and(connection_lost) {
            // The database went away (a restart, say) since the held connections were last
            // used: none of them is worth trying. Once more on one from the pool, which tests
            // and replaces its own.
            drop(std::mem::take(&mut *self.idle.lock_unpoisoned()));
            answer = self.try_query_all(statement).await;
        }
        answer.map_err(|error| DbErr::Query(RuntimeErr::SqlxError(Arc::new(error))))
    }

    async fn try_query_all(&self, statement: &Statement) -> Result<Vec<QueryResult>, sqlx::Error> {
        let mut connection = self.take().await?;
        let values = statement
            .values
            .clone()
            .unwrap_or(sea_orm::Values(Vec::new()));
        // Rows go straight into the vector returned, sized for a page at first: collected by
        // sqlx and then converted, they would fill two vectors, the first grown row by row.
        let answer = async {
            let mut rows = Vec::with_capacity(ROWS_AT_FIRST);
            let mut fetched =
                sqlx::query_with(AssertSqlSafe(statement.sql.as_str()), SqlxValues(values))
                    .fetch(&mut *connection);
            while let Some(row) = fetched.try_next().await? {
                rows.push(QueryResult::from(row));
            }
            Ok(rows)
        }
        .await;
        if let Some(observer) = self.observer.get() {
            observer(statement);
        }
        if answer.is_ok() {
            // Read to its end: the connection is ready for the next statement.
            self.put_back(connection);
        }
        answer
    }

    /// A held connection idle for less than `idle_at_most`, else one from the pool, else the
    /// first put back here. A connection a read puts back here does not return to the pool, so
    /// a read that waited on the pool alone could wait out its timeout while held connections
    /// were free.
    ///
    /// When the pool has none idle and room for more, it opens one, and the opening is asked in
    /// a task of its own: a read that took a connection put back here meanwhile leaves that task
    /// to finish and hand the new connection to the pool. Dropped half way, the opening would be
    /// abandoned, and PostgreSQL would have started a process for it in vain (under load, most of
    /// its work). A full pool's wait is dropped as it is: left to run, it would take the next
    /// connection another waiter needs only to hand it back.
    async fn take(&self) -> Result<PoolConnection<Postgres>, sqlx::Error> {
        let mut opening = None;
        loop {
            let put_back = self.put_back.notified();
            tokio::pin!(put_back);
            // Registered before looking, so that a connection put back after the look wakes it.
            put_back.as_mut().enable();
            if let Some(connection) = self.fresh() {
                return Ok(connection);
            }
            if opening.is_none() && !self.pool_would_open() {
                tokio::select! {
                    // Boxed: sqlx's acquiring is 8.6 KB, and inline it made every read's future
                    // that large, copied whole at each move even when a held connection answers.
                    acquired = Box::pin(self.pool.acquire()) => return acquired,
                    () = put_back => continue,
                }
            }
            let acquiring = opening.get_or_insert_with(|| {
                let pool = self.pool.clone();
                tokio::spawn(async move { pool.acquire().await })
            });
            tokio::select! {
                acquired = acquiring => {
                    return acquired.unwrap_or_else(|_| Err(sqlx::Error::PoolClosed));
                }
                () = put_back => continue,
            }
        }
    }

    /// Whether the pool would open a connection to hand one out now.
    fn pool_would_open(&self) -> bool {
        self.pool.num_idle() == 0 && self.pool.size() < self.pool.options().get_max_connections()
    }

    /// The newest held connection idle for less than `idle_at_most`; the older ones go to the
    /// pool, to be tested there.
    fn fresh(&self) -> Option<PoolConnection<Postgres>> {
        let (fresh, stale) = {
            let mut idle = self.idle.lock_unpoisoned();
            let now = Instant::now();
            // The newest are at the end.
            let stale = idle
                .iter()
                .position(|(_, since)| now.duration_since(*since) < self.idle_at_most)
                .unwrap_or(idle.len());
            let stale: Vec<_> = idle.drain(..stale).collect();
            (idle.pop(), stale)
        };
        drop(stale);
        fresh.map(|(connection, _)| connection)
    }

    /// Keeps `connection` here if there is room, for the next read or one waiting; otherwise it
    /// goes back to the pool.
    fn put_back(&self, connection: PoolConnection<Postgres>) {
        {
            let mut idle = self.idle.lock_unpoisoned();
            if idle.len() >= self.most || self.pool.is_closed() {
                return;
            }
            idle.push((connection, Instant::now()));
        }
        self.put_back.notify_one();
    }

    fn idle(&self) -> usize {
        self.idle.lock_unpoisoned().len()
    }
}

/// Whether a read failed because its connection did (not the statement, nor the pool's wait).
fn connection_lost(error: &sqlx::Error) -> bool {
    !matches!(error, sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed)
        && crate::error::database_unreachable(error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ConnectOptions, Database};

    /// The PostgreSQL server the tests use (`scripts/test` makes sure it is up), as the
    /// end-to-end tests find it.
    fn postgres_url() -> String {
        std::env::var("EGOV_KPI_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
    }

    async fn pool_of(connections: u32) -> DatabaseConnection {
        let mut options = ConnectOptions::new(postgres_url());
        options.max_connections(connections).sqlx_logging(false);
        Database::connect(options).await.expect("PostgreSQL is up")
    }

    fn statement(sql: &str) -> Statement {
        Statement::from_string(DbBackend::Postgres, sql)
    }

    async fn number(db: &DatabaseConnection, sql: &str) -> Result<i32, DbErr> {
        let rows = query_all(db, statement(sql)).await?;
        rows[0].try_get_by_index(0)
    }

    #[tokio::test]
    async fn a_read_that_ends_keeps_its_connection_until_the_holding_ends() {
        let db = pool_of(4).await;
        let pool = db.get_postgres_connection_pool().clone();
        let holding = hold(&db).expect("a PostgreSQL pool is held");
        assert!(hold(&db).is_none(), "a pool is held once");
        for expected in 1..=5 {
            assert_eq!(
                number(&db, &format!("SELECT {expected}")).await.unwrap(),
                expected
            );
        }
        assert_eq!(idle(&db), 1, "one connection served five reads in turn");
        assert_eq!(pool.size(), 1);
        assert_eq!(pool.num_idle(), 0, "the held connection is out of the pool");

        drop(holding);
        assert_eq!(idle(&db), 0);
        tokio::time::timeout(Duration::from_secs(10), pool.close())
            .await
            .expect("the pool closes once the held connection is back");
    }

    #[tokio::test]
    async fn at_most_half_the_pool_is_held() {
        let db = pool_of(4).await;
        let _holding = hold(&db).unwrap();
        let reads = (0..4).map(|_| number(&db, "SELECT 1 FROM pg_sleep(0.2)"));
        for read in futures_util::future::join_all(reads).await {
            assert_eq!(read.unwrap(), 1);
        }
        assert_eq!(idle(&db), 2, "four connections read together, two kept");
    }

    /// Two connections held after two reads together, then one read after `pause`: how many
    /// connections are held after it.
    async fn held_after_a_pause(idle_at_most: Duration, pause: Duration) -> usize {
        let db = pool_of(4).await;
        let _holding = hold_idle_at_most(&db, idle_at_most).unwrap();
        let reads = (0..2).map(|_| number(&db, "SELECT 1 FROM pg_sleep(0.1)"));
        for read in futures_util::future::join_all(reads).await {
            assert_eq!(read.unwrap(), 1);
        }
        assert_eq!(idle(&db), 2);
        tokio::time::sleep(pause).await;
        assert_eq!(number(&db, "SELECT 2").await.unwrap(), 2);
        idle(&db)
    }

    #[tokio::test]
    async fn connections_idle_past_the_bound_go_back_to_the_pool() {
        let pause = Duration::from_millis(300);
        assert_eq!(
            held_after_a_pause(Duration::from_millis(200), pause).await,
            1,
            "both were idle too long: the read took one from the pool and kept only that"
        );
        assert_eq!(
            held_after_a_pause(Duration::from_secs(60), pause).await,
            2,
            "within the bound both stay held"
        );
    }

    #[tokio::test]
    async fn a_read_that_fails_or_is_dropped_half_way_leaves_its_connection_to_the_pool() {
        let db = pool_of(2).await;
        let _holding = hold(&db).unwrap();
        assert_eq!(number(&db, "SELECT 1").await.unwrap(), 1);
        assert_eq!(idle(&db), 1);

        let failed = number(&db, "SELECT 1 / (SELECT 0)").await.unwrap_err();
        assert!(failed.to_string().contains("division by zero"), "{failed}");
        assert_eq!(idle(&db), 0, "the failed read's connection is not kept");
        assert_eq!(number(&db, "SELECT 2").await.unwrap(), 2);
        assert_eq!(idle(&db), 1);

        // Dropped while PostgreSQL still works on it: the connection is in the middle of an
        // answer and must not serve the next read.
        let dropped = tokio::time::timeout(
            Duration::from_millis(100),
            number(&db, "SELECT 3 FROM pg_sleep(1)"),
        );
        assert!(dropped.await.is_err(), "the read was dropped half way");
        assert_eq!(idle(&db), 0);
        assert_eq!(number(&db, "SELECT 4").await.unwrap(), 4);
        assert_eq!(number(&db, "SELECT 5").await.unwrap(), 5);
    }

    #[tokio::test]
    async fn a_held_connection_that_postgresql_ended_is_passed_over() {
        let db = pool_of(2).await;
        let _holding = hold(&db).unwrap();
        let backend = number(&db, "SELECT pg_backend_pid()").await.unwrap();
        assert_eq!(idle(&db), 1);
        let other = pool_of(1).await;
        let ended = format!("SELECT pg_terminate_backend({backend})::int");
        assert_eq!(number(&other, &ended).await.unwrap(), 1);

        assert_eq!(
            number(&db, "SELECT 8").await.unwrap(),
            8,
            "read again on a new connection"
        );
        let now = number(&db, "SELECT pg_backend_pid()").await.unwrap();
        assert_ne!(now, backend);
        assert_eq!(idle(&db), 1);
    }

    #[tokio::test]
    async fn every_statement_on_a_held_connection_is_observed() {
        let db = pool_of(2).await;
        let holding = hold(&db).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        holding.observe(Arc::new(move |statement: &Statement| {
            record.lock_unpoisoned().push(statement.sql.clone());
        }));
        number(&db, "SELECT 6").await.unwrap();
        number(&db, "SELECT 1 / (SELECT 0)").await.unwrap_err();
        assert_eq!(
            *seen.lock_unpoisoned(),
            ["SELECT 6", "SELECT 1 / (SELECT 0)"]
        );
    }

    #[tokio::test]
    async fn a_read_waiting_for_a_connection_takes_one_put_back_here() {
        let db = pool_of(2).await;
        let pool = db.get_postgres_connection_pool().clone();
        let _holding = hold(&db).unwrap();
        number(&db, "SELECT 1").await.unwrap();
        assert_eq!(idle(&db), 1);
        // The pool's other connection in use elsewhere (a write, say): the pool has none left.
        let _elsewhere = pool.acquire().await.unwrap();
        let first = number(&db, "SELECT 1 FROM pg_sleep(0.3)");
        let second = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            number(&db, "SELECT 2").await
        };
        // The second read waits for the first one's connection, which comes back here, not to
        // the pool (whose wait would last its acquire timeout, 30 s).
        let (first, second) = tokio::time::timeout(Duration::from_secs(5), async {
            tokio::join!(first, second)
        })
        .await
        .expect("the waiting read took the connection the first one put back");
        assert_eq!((first.unwrap(), second.unwrap()), (1, 2));
        assert_eq!(idle(&db), 1);
    }

    /// A proxy to the test server that lets each connection through only after `delay`: time
    /// for a read to stop waiting while the pool opens one. Its address, in a URL.
    async fn slow_to_connect(delay: Duration) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let mut server = tokio::net::TcpStream::connect("127.0.0.1:5432").await?;
                    tokio::io::copy_bidirectional(&mut client, &mut server).await
                });
            }
        });
        format!("postgres://postgres@127.0.0.1:{port}/postgres")
    }

    #[tokio::test]
    async fn a_read_that_stops_waiting_leaves_the_connection_being_opened_to_the_pool() {
        let mut options = ConnectOptions::new(slow_to_connect(Duration::from_millis(400)).await);
        options.max_connections(3).sqlx_logging(false);
        let db = Database::connect(options).await.unwrap();
        let pool = db.get_postgres_connection_pool().clone();
        let _holding = hold(&db).unwrap();
        number(&db, "SELECT 1").await.unwrap();
        assert_eq!((idle(&db), pool.size()), (1, 1));
        let first = number(&db, "SELECT 1 FROM pg_sleep(0.1)");
        let second = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            // No held connection idle: the pool opens one, which takes 400 ms here.
            number(&db, "SELECT 2").await
        };
        let (first, second) = tokio::join!(first, second);
        assert_eq!((first.unwrap(), second.unwrap()), (1, 2));
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(
            pool.size(),
            2,
            "the second read took the first one's connection, and the one opened for it went \
             to the pool rather than being abandoned half open"
        );
    }

    /// PostgreSQL's list of databases as an entity: rows to find on any server.
    mod database {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
        #[sea_orm(table_name = "pg_database")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub datname: String,
            pub datallowconn: bool,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    #[tokio::test]
    async fn entities_found_by_the_helpers_are_read_on_held_connections() {
        use sea_orm::{ColumnTrait, QueryFilter};
        let db = pool_of(2).await;
        let _holding = hold(&db).unwrap();
        let named =
            |name: &str| database::Entity::find().filter(database::Column::Datname.eq(name));

        let postgres = find_one(&db, named("postgres")).await.unwrap();
        assert_eq!(
            postgres.map(|found| found.datname).as_deref(),
            Some("postgres")
        );
        assert_eq!(
            idle(&db),
            1,
            "the read's connection is held, not handed to the pool"
        );
        assert_eq!(
            find_one(&db, named("no such database")).await.unwrap(),
            None
        );
        let every = find_all(&db, database::Entity::find()).await.unwrap();
        assert!(["postgres", "template0", "template1"]
            .iter()
            .all(|name| every.iter().any(|found| found.datname == *name)));
        assert_eq!(idle(&db), 1, "one held connection served the three reads");
    }

    #[tokio::test]
    async fn sqlite_reads_go_through_its_pool() {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        assert!(hold(&db).is_none());
        let rows = query_all(&db, Statement::from_string(DbBackend::Sqlite, "SELECT 7"))
            .await
            .unwrap();
        assert_eq!(rows[0].try_get_by_index::<i32>(0).unwrap(), 7);
        assert_eq!(idle(&db), 0);
    }
}

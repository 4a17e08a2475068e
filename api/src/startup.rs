//! Building the server from settings, and running it until it is told to stop.

use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;

use crate::config::{redacted, AuditSettings, DatabaseSettings, ServerSettings};
use crate::replicas::Replicas;
use crate::service::audit::anchor::{self, Anchor};
use crate::service::held_connections::{self, Holding, StatementObserver};
use crate::{db, graphql, http, service};

pub struct Application {
    listener: TcpListener,
    router: Router,
    connection: DatabaseConnection,
    /// The connections reads hold out of the primary's pool and each replica's (PostgreSQL
    /// only), handed back when the server stops.
    held: Vec<Holding>,
    /// Signs the audit chain's checkpoints while the server runs, and once when it stops.
    checkpoints: Option<(
        tokio::sync::watch::Sender<bool>,
        tokio::task::JoinHandle<()>,
    )>,
}

/// The signing key the settings name, if any.
pub fn anchor(settings: &AuditSettings) -> anyhow::Result<Option<Arc<Anchor>>> {
    settings
        .audit_signing_key
        .as_ref()
        .map(|path| {
            Anchor::load(path, settings.witness_file())
                .map(Arc::new)
                .map_err(anyhow::Error::msg)
        })
        .transpose()
}

impl Application {
    /// Connects, migrates, seeds when asked, and binds the listening socket.
    pub async fn build(
        database: &DatabaseSettings,
        server: &ServerSettings,
    ) -> anyhow::Result<Self> {
        tracing::info!(
            database = %database.redacted_url(),
            address = %server.address(),
            seed = server.seed,
            "starting egov-kpi"
        );
        let connection = db::connect(database)
            .await
            .with_context(|| format!("connecting to {}", database.redacted_url()))?;
        prepare(&connection, server.seed).await?;
        Self::with_database(connection, server).await
    }

    /// Serves an already prepared database.
    pub async fn with_database(
        connection: DatabaseConnection,
        server: &ServerSettings,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(server.address())
            .await
            .with_context(|| format!("listening on {}", server.address()))?;
        let anchor = anchor(&server.audit)?;
        let checkpoints = anchor.clone().map(|anchor| {
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let cadence = anchor::Cadence {
                entries: server.audit.checkpoint_every_entries.max(1),
                interval: std::time::Duration::from_secs(server.audit.checkpoint_every_seconds),
            };
            let task = tokio::spawn(anchor::keep_checkpoints(
                anchor,
                connection.clone(),
                cadence,
                stopped,
            ));
            (stop, task)
        });
        let (replicas, held) = connect_replicas(&connection, server).await?;
        let feed = service::live::LiveFeed::start(connection.clone()).await;
        let reference = Arc::new(service::reference::ReferenceCache::new(
            connection.clone(),
            feed.seen_head(),
        ));
        let limits = Arc::new(server.limits.clone());
        let router = http::router(http::AppState::from(http::AppStateInner {
            engine: graphql::build_engine(
                connection.clone(),
                &server.limits,
                feed.clone(),
                reference.clone(),
                anchor.clone(),
            ),
            anchor,
            db: connection.clone(),
            replicas,
            public_read: server.public_read,
            limits: limits.clone(),
            rate_limiter: Default::default(),
            metrics: Default::default(),
            feed,
            response_cache: Arc::new(http::ResponseCache::new(std::time::Duration::from_millis(
                server.response_cache_ms,
            ))),
            documents: Arc::new(http::DocumentCache::new(limits)),
            reference,
            subscriptions: Default::default(),
            refusals: Default::default(),
        }));
        Ok(Self {
            listener,
            router,
            held: held_connections::hold(&connection)
                .into_iter()
                .chain(held)
                .collect(),
            connection,
            checkpoints,
        })
    }

    /// Calls `observer` with every statement the reads run on the connections they hold, which
    /// the pool's own statement callback (sea-orm's metric callback) does not see.
    pub fn observe_held_statements(&self, observer: StatementObserver) {
        for held in &self.held {
            held.observe(observer.clone());
        }
    }

    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_default()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let address = self.listener.local_addr()?;
        tracing::info!(%address, "serving GraphQL at http://{address}/graphql, GraphiQL at http://{address}/");
        let service = self
            .router
            .into_make_service_with_connect_info::<std::net::SocketAddr>();
        axum::serve(self.listener, service)
            .with_graceful_shutdown(shutdown_signal())
            .await?;
        // Requests in flight have been answered: sign the last head, then let the database go.
        if let Some((stop, task)) = self.checkpoints {
            let _ = stop.send(true);
            if let Err(error) = task.await {
                tracing::error!(error = %error, "the checkpoint task failed");
            }
        }
        // The pool closes once every connection is back in it: held ones go back when dropped.
        drop(self.held);
        if let Err(error) = self.connection.close().await {
            tracing::warn!(error = %error, "closing the database pool");
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// The replicas the settings name, connected lazily and watched, their reads holding their
/// connections.
async fn connect_replicas(
    primary: &DatabaseConnection,
    server: &ServerSettings,
) -> anyhow::Result<(Arc<Replicas>, Vec<Holding>)> {
    let settings = &server.replicas;
    if settings.urls.is_empty() {
        return Ok((Replicas::primary_only(primary.clone()), Vec::new()));
    }
    if primary.get_database_backend() != sea_orm::DbBackend::Postgres {
        anyhow::bail!("read replicas need a PostgreSQL primary (--database-url)");
    }
    // As many connections to each replica as to the primary.
    let max_connections = primary
        .get_postgres_connection_pool()
        .options()
        .get_max_connections();
    let mut members = Vec::with_capacity(settings.urls.len());
    for url in &settings.urls {
        let name = redacted(url);
        let db = db::connect_replica(url, max_connections)
            .await
            .with_context(|| format!("connecting to the replica {name}"))?;
        members.push((name, db));
    }
    tracing::info!(replicas = members.len(), "reading from replicas");
    let held = members
        .iter()
        .filter_map(|(_, db)| held_connections::hold(db))
        .collect();
    Ok((
        Replicas::connect(primary.clone(), &members, settings.clone()).await,
        held,
    ))
}

/// Brings the schema up to date and, when asked, loads the seed figures.
pub async fn prepare(connection: &DatabaseConnection, seed: bool) -> anyhow::Result<()> {
    db::migrate(connection)
        .await
        .context("migrating the database")?;
    if seed {
        let report = service::seed::load(connection).await?;
        tracing::info!(
            inserted = report.inserted,
            already_present = report.already_present,
            "seed figures loaded"
        );
    }
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

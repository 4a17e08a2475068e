//! The floors over HTTP: a minimal axum handler that returns a fixed payload (no database, no
//! GraphQL), one that runs a dashboard query's hand-written SQL and returns its rows as JSON
//! (the database and HTTP, no GraphQL), and one that asks egov-kpi's service layer for a
//! dashboard query's answer and writes the GraphQL answer's JSON with serde (egov-kpi's reads
//! and their decoding, no GraphQL). They run in a process of their own, as egov-kpi does, so
//! that none shares the client's runtime.

use std::process::{Child, Command};
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use api::config::DatabaseSettings;
use api::service::audit::SeenHead;
use api::service::dhis2::qualifier_name;
use api::service::held_connections::{self, Holding};
use api::service::observations::{self, MetricPoint, ObservationFilter, Point};
use api::service::pagination::PageRequest;
use api::service::reference::ReferenceCache;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use sea_orm::sqlx::PgPool;
use sea_orm::DatabaseConnection;
use serde::Serialize;
use serde_json::{json, Value};

use crate::dashboard::{self, ServiceQuery};

/// What the handlers share.
struct Floor {
    payload: String,
    pool: PgPool,
    statements: Vec<&'static str>,
    services: Vec<Option<ServiceQuery>>,
    /// egov-kpi's service layer, connected as the server connects.
    db: DatabaseConnection,
    reference: ReferenceCache,
    _held: Option<Holding>,
}

/// Serves `payload` as JSON at `/graphql`, and the answer of the `n`th dashboard query's SQL at
/// `/sql/n`, on `port` until killed.
pub async fn serve(
    port: u16,
    payload: String,
    database_url: &str,
    connections: u32,
) -> anyhow::Result<()> {
    let pool = dashboard::sql_pool(database_url, connections).await?;
    let pairs = dashboard::pairs();
    // Connected as the server connects, its reads held as the server holds them.
    let db = api::db::connect(&DatabaseSettings {
        database_url: database_url.to_owned(),
        max_connections: connections,
        acquire_timeout_seconds: 3,
    })
    .await?;
    let floor = Arc::new(Floor {
        payload,
        pool,
        statements: pairs.iter().map(|pair| pair.sql).collect(),
        services: pairs.iter().map(|pair| pair.service).collect(),
        _held: held_connections::hold(&db),
        reference: ReferenceCache::new(db.clone(), SeenHead::new(0)),
        db,
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let app = Router::new()
        .route("/graphql", post(fixed))
        .route("/sql/{n}", post(answer))
        .route("/service/{n}", post(service_answer))
        .with_state(floor);
    axum::serve(listener, app).await?;
    Ok(())
}

async fn fixed(State(floor): State<Arc<Floor>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        floor.payload.clone(),
    )
        .into_response()
}

async fn answer(State(floor): State<Arc<Floor>>, Path(n): Path<usize>) -> Response {
    let Some(&sql) = floor.statements.get(n) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match dashboard::sql(&floor.pool, sql).await {
        Ok(rows) => Json(json!({ "data": { "rows": rows } })).into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

/// The `n`th dashboard query's GraphQL answer, computed by egov-kpi's service layer and written
/// with serde: what egov-kpi costs without its GraphQL executor.
async fn service_answer(State(floor): State<Arc<Floor>>, Path(n): Path<usize>) -> Response {
    let Some(&Some(query)) = floor.services.get(n) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let answer = match query {
        ServiceQuery::LatestPage => latest_page(&floor).await,
        ServiceQuery::Savings => savings(&floor).await,
    };
    match answer {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

#[derive(Serialize)]
struct Answer<T> {
    data: T,
}

#[derive(Serialize)]
struct LatestPage {
    observations: Edges,
}

#[derive(Serialize)]
struct Edges {
    edges: Vec<Edge>,
}

#[derive(Serialize)]
struct Edge {
    node: Node,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Node {
    id: String,
    observed_at: String,
    value: String,
    qualifier: String,
}

/// `{ observations(last: 20, filter: {includeSynthetic: true}) { edges { node { id observedAt
/// value qualifier } } } }`, as the resolver asks the service for it.
async fn latest_page(floor: &Floor) -> anyhow::Result<Vec<u8>> {
    let request = PageRequest::new(None, None, Some(20), None)?.beyond_not_asked();
    let filter = ObservationFilter {
        include_synthetic: true,
        ..Default::default()
    };
    let page = observations::page::<Point>(&floor.db, &floor.reference, &filter, &request).await?;
    let edges = page
        .items
        .into_iter()
        .map(|(_, point)| Edge {
            node: Node {
                id: point.id.to_string(),
                observed_at: point.observed_at.to_rfc3339(),
                value: point.value.to_string(),
                qualifier: qualifier_name(point.qualifier),
            },
        })
        .collect();
    let answer = Answer {
        data: LatestPage {
            observations: Edges { edges },
        },
    };
    Ok(serde_json::to_vec(&answer)?)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Savings {
    savings_comparison: Comparison,
}

#[derive(Serialize)]
struct Comparison {
    entries: Vec<Entry>,
    total: Option<String>,
}

#[derive(Serialize)]
struct Entry {
    rank: usize,
    platform: Platform,
    value: String,
}

#[derive(Serialize)]
struct Platform {
    code: String,
}

/// `{ savingsComparison { entries { rank platform { code } value } total } }`.
async fn savings(floor: &Floor) -> anyhow::Result<Vec<u8>> {
    // Read as the server reads an estimate whose observation is not asked.
    let comparison =
        api::service::savings::compare::<MetricPoint>(&floor.db, &floor.reference, None).await?;
    let entries = comparison
        .entries
        .iter()
        .map(|entry| Entry {
            rank: entry.rank,
            platform: Platform {
                code: comparison
                    .platform(entry)
                    .map(|p| p.code.clone())
                    .unwrap_or_default(),
            },
            value: entry.value.to_string(),
        })
        .collect();
    let answer = Answer {
        data: Savings {
            savings_comparison: Comparison {
                entries,
                total: comparison.total.map(|total| total.to_string()),
            },
        },
    };
    Ok(serde_json::to_vec(&answer)?)
}

/// The rows of an answer from `/sql/n`.
pub fn rows(data: &Value) -> Vec<String> {
    data["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|row| row.as_str().map(str::to_owned))
        .collect()
}

/// The floors' process, killed when dropped.
pub struct Process {
    child: Child,
    port: u16,
    /// The fixed payload's address.
    pub url: String,
}

impl Process {
    pub fn start(
        port: u16,
        payload: &std::path::Path,
        database_url: &str,
        connections: u32,
    ) -> anyhow::Result<Self> {
        let child = Command::new(std::env::current_exe()?)
            .args(["floor", "--port", &port.to_string(), "--payload"])
            .arg(payload)
            .args(["--database-url", database_url])
            .args(["--connections", &connections.to_string()])
            .spawn()?;
        Ok(Self {
            child,
            port,
            url: format!("http://127.0.0.1:{port}/graphql"),
        })
    }

    /// Waits until the fixed payload is served.
    pub async fn wait_until_answering(&self, client: &reqwest::Client) -> anyhow::Result<()> {
        for _ in 0..50 {
            if dashboard::graphql(client, &self.url, "").await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the floor did not answer at {}", self.url)
    }

    /// Where the `n`th dashboard query's SQL is answered.
    pub fn sql_url(&self, n: usize) -> String {
        format!("http://127.0.0.1:{}/sql/{n}", self.port)
    }

    /// Where egov-kpi's service layer answers the `n`th dashboard query without GraphQL.
    pub fn service_url(&self, n: usize) -> String {
        format!("http://127.0.0.1:{}/service/{n}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

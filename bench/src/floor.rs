//! The floors over HTTP: a minimal axum handler that returns a fixed payload (no database, no
//! GraphQL), and one that runs a dashboard query's hand-written SQL and returns its rows as JSON
//! (the database and HTTP, no GraphQL). They run in a process of their own, as egov-kpi does, so
//! that neither shares the client's runtime.

use std::process::{Child, Command};
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use sea_orm::sqlx::PgPool;
use serde_json::{json, Value};

use crate::dashboard;

/// What the handlers share.
struct Floor {
    payload: String,
    pool: PgPool,
    statements: Vec<&'static str>,
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
    let statements = dashboard::pairs().iter().map(|pair| pair.sql).collect();
    let floor = Arc::new(Floor {
        payload,
        pool,
        statements,
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let app = Router::new()
        .route("/graphql", post(fixed))
        .route("/sql/{n}", post(answer))
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

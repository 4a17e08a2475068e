//! The floor: a minimal axum handler that returns a fixed payload, no database, no GraphQL.
//! It runs in a process of its own, as egov-kpi does, so that neither shares the client's runtime.

use axum::http::header;
use axum::routing::post;
use axum::Router;

/// Serves `payload` as JSON at `/graphql` on `port` until killed.
pub async fn serve(port: u16, payload: String) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let app = Router::new().route(
        "/graphql",
        post(move || {
            let payload = payload.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], payload) }
        }),
    );
    axum::serve(listener, app).await?;
    Ok(())
}

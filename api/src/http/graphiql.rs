//! The GraphiQL page at `/` and its scripts, compiled into the binary (gzipped, as they are
//! sent): the page works without a CDN, behind a firewall or offline. `scripts/vendor-graphiql`
//! refreshes them from the npm registry; `api/assets/graphiql/LICENSES.md` holds their licenses.

use axum::extract::Path;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use super::refusal::{lang_of, Refusal};

const PAGE: &str = include_str!("../../assets/graphiql/index.html");

/// Each asset: its name under `/graphiql/`, its type, its gzipped bytes.
const ASSETS: [(&str, &str, &[u8]); 5] = [
    (
        "graphiql.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/graphiql.min.js.gz"),
    ),
    (
        "graphiql.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/graphiql/graphiql.min.css.gz"),
    ),
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/react.production.min.js.gz"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/react-dom.production.min.js.gz"),
    ),
    (
        "graphql-ws.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/graphql-ws.min.js.gz"),
    ),
];

pub async fn page() -> Html<&'static str> {
    Html(PAGE)
}

pub async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().find(|(known, _, _)| *known == name) {
        Some((_, content_type, gzipped)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CONTENT_ENCODING, "gzip"),
                (header::CACHE_CONTROL, "public, max-age=86400"),
            ],
            *gzipped,
        )
            .into_response(),
        None => Refusal::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            crate::message!(GRAPHIQL_NO_FILE, name = name),
        )
        .render_json(lang_of(&headers)),
    }
}

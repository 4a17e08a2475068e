//! `GET /export/observations.csv` and `.json`: every revision, streamed, for auditors.

use std::net::SocketAddr;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use serde::Deserialize;

use super::auth::admitted;
use super::refusal::{lang_of, Refusal};
use super::AppState;
use crate::service::audit;
use crate::service::export::{Export, ExportFilter, ExportStatement};
use sha2::{Digest, Sha256};

/// The audit chain's head (`sequence:hash`) when the export began: what the export is consistent
/// with (the statement on the file's last line says it too, signed).
pub const CHAIN_HEAD_HEADER: &str = "x-audit-chain-head";

#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    platform: Option<String>,
    metric: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Json,
}

pub async fn csv(
    state: State<AppState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    query: Query<ExportQuery>,
) -> Response {
    export(state, peer, headers, query, Format::Csv).await
}

pub async fn json(
    state: State<AppState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    query: Query<ExportQuery>,
) -> Response {
    export(state, peer, headers, query, Format::Json).await
}

/// Where a stream of chunks stands: the rows written so far and the digest of their bytes, for
/// the statement that ends the file.
struct Cursor {
    after: i32,
    first: bool,
    done: bool,
    rows: u64,
    digest: Sha256,
}

async fn export(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<ExportQuery>,
    format: Format,
) -> Response {
    let lang = lang_of(&headers);
    let caller = match admitted(&state, &headers, peer).await {
        Ok(caller) => caller,
        Err(refused) => return refused.render_json(lang),
    };
    let filter = ExportFilter {
        platform: query.platform,
        metric: query.metric,
    };
    let export = match Export::prepare(&state.reference, &caller.principal, &filter).await {
        Ok(export) => export,
        Err(error) => return Refusal::from(&error).render_json(lang),
    };
    let head = match audit::chain_head(&state.db).await {
        Ok(head) => head,
        Err(error) => return Refusal::from(&error).render_json(lang),
    };

    let db = state.db.clone();
    let anchor = state.anchor.clone();
    let taken_at = head.clone();
    let start = Cursor {
        after: 0,
        first: true,
        done: false,
        rows: 0,
        digest: Sha256::new(),
    };
    let chunks = stream::unfold((start, export), move |(mut cursor, export)| {
        let (db, anchor, head) = (db.clone(), anchor.clone(), taken_at.clone());
        async move {
            if cursor.done {
                return None;
            }
            let rows = match export.chunk(&db, cursor.after).await {
                Ok(rows) => rows,
                Err(error) => {
                    // Headers are gone by now: end the body early so the client sees a truncated
                    // file (with no statement), and say why in the log.
                    tracing::error!(error = %error, "export stopped");
                    cursor.done = true;
                    return Some((
                        Err(std::io::Error::other("export stopped")),
                        (cursor, export),
                    ));
                }
            };
            let last = rows.len() < crate::service::export::CHUNK as usize;
            cursor.after = rows.last().map_or(cursor.after, |(id, _)| *id);
            cursor.rows += rows.len() as u64;
            let mut bytes = encode(
                format,
                cursor.first,
                last,
                rows.into_iter().map(|(_, row)| row),
            );
            cursor.digest.update(&bytes);
            if last {
                let digest = std::mem::take(&mut cursor.digest).finalize().into();
                let name = match format {
                    Format::Csv => "csv",
                    Format::Json => "json",
                };
                let statement =
                    ExportStatement::new(name, head, cursor.rows, digest, anchor.as_deref());
                bytes.extend_from_slice(statement.last_line().as_bytes());
            }
            cursor.first = false;
            cursor.done = last;
            Some((
                Ok::<Bytes, std::io::Error>(Bytes::from(bytes)),
                (cursor, export),
            ))
        }
    });

    let (content_type, file) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "observations.csv"),
        Format::Json => ("application/json", "observations.json"),
    };
    let mut response = Body::from_stream(chunks).into_response();
    let response_headers = response.headers_mut();
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        response_headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    if let Ok(head) = HeaderValue::from_str(&head) {
        response_headers.insert(HeaderName::from_static(CHAIN_HEAD_HEADER), head);
    }
    response
}

/// One chunk of the file: CSV with its header row first, or a piece of the JSON object's
/// `rows`; the statement follows the last.
fn encode(
    format: Format,
    first: bool,
    last: bool,
    rows: impl Iterator<Item = crate::service::export::ExportRow>,
) -> Vec<u8> {
    match format {
        Format::Csv => {
            let mut writer = csv::WriterBuilder::new()
                .has_headers(first)
                .from_writer(Vec::new());
            let mut wrote_any = false;
            for row in rows {
                wrote_any = true;
                let _ = writer.serialize(row.for_spreadsheet());
            }
            if first && !wrote_any {
                // An empty export still names its columns.
                let _ = writer.write_record(crate::service::export::COLUMNS);
            }
            writer.into_inner().unwrap_or_default()
        }
        Format::Json => {
            let mut out = Vec::new();
            if first {
                out.extend_from_slice(b"{\"rows\":[");
            }
            for (i, row) in rows.enumerate() {
                out.extend_from_slice(if first && i == 0 { b"\n" } else { b",\n" });
                let _ = serde_json::to_writer(&mut out, &row);
            }
            if last {
                out.extend_from_slice(b"\n],\n");
            }
            out
        }
    }
}

/// `GET /audit/public-key`: the key that signs checkpoints, exports and receipts, as hex.
pub async fn public_key(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match &state.anchor {
        Some(anchor) => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{}\n", anchor.public_key_hex()),
        )
            .into_response(),
        None => Refusal::new(
            axum::http::StatusCode::NOT_FOUND,
            "NOT_FOUND",
            crate::message!(CHAIN_UNANCHORED),
        )
        .render_json(lang_of(&headers)),
    }
}

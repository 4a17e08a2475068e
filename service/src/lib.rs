//! The domain rules, shared by GraphQL resolvers and the command line: what may be recorded and
//! by whom, how figures are read, compared and audited. Nothing here knows GraphQL or HTTP; the
//! `api` crate serves these rules.

pub mod access;
pub mod audit;
pub mod auth;
pub mod breakdown;
pub mod catalog;
pub mod compare;
pub mod demo;
pub mod dhis2;
pub mod error;
pub mod exact;
pub mod export;
pub mod held_connections;
pub mod history;
pub mod id_map;
pub mod idempotency;
pub mod import;
pub mod indicators;
pub mod indices;
pub mod kept;
pub mod kinds;
pub mod live;
pub mod messages;
pub mod observations;
pub mod pagination;
pub mod pg_columns;
pub mod ranking;
pub mod receipts;
pub mod recording;
pub mod reference;
pub mod reporting;
pub mod rows;
pub mod savings;
pub mod sdmx;
pub mod seed;
pub mod series;
pub mod statements;
pub mod targets;
pub mod time;
pub mod unpoisoned;
pub mod versions;

/// Rows written or looked up per statement in bulk work: well under both databases' limits on
/// bound parameters (SQLite 32,766; PostgreSQL 65,535).
pub const ROWS_PER_STATEMENT: usize = 1000;

/// Looks up a code a request may leave out; `NOT_FOUND` names `argument` when nothing has it.
pub async fn look_up_optional<'a, T, F>(
    code: Option<&'a str>,
    argument: &'static str,
    lookup: impl FnOnce(&'a str) -> F,
) -> Result<Option<T>, crate::error::ApiError>
where
    F: std::future::Future<Output = Result<T, crate::error::ApiError>>,
{
    match code {
        Some(code) => Ok(Some(
            lookup(code).await.map_err(|e| e.for_argument(argument))?,
        )),
        None => Ok(None),
    }
}

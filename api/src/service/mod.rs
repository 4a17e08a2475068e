//! The domain rules, shared by GraphQL resolvers and the command line.

pub mod access;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod demo;
pub mod exact;
pub mod export;
pub mod history;
pub mod idempotency;
pub mod import;
pub mod live;
pub mod observations;
pub mod pagination;
pub mod receipts;
pub mod recording;
pub mod reference;
pub mod savings;
pub mod seed;
pub mod series;
pub mod targets;
pub mod time;

/// Rows written or looked up per statement in bulk work: well under both databases' limits on
/// bound parameters (SQLite 32,766; PostgreSQL 65,535).
pub const ROWS_PER_STATEMENT: usize = 1000;

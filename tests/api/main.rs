//! End-to-end tests: the real server over HTTP, on SQLite and on PostgreSQL.

mod helpers;

mod catalog;
mod dashboard;
mod errors;
mod observations;
mod savings;
mod schema;
mod seed_facts;
mod series;
mod targets;

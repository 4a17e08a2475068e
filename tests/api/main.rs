//! End-to-end tests: the real server over HTTP, on SQLite and on PostgreSQL.

mod helpers;

mod hostile;

mod audit;
mod catalog;
mod dashboard;
mod errors;
mod observations;
mod recording;
mod savings;
mod schema;
mod seed_facts;
mod series;
mod targets;

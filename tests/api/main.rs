//! End-to-end tests: the real server over HTTP, on SQLite and on PostgreSQL.

mod helpers;

mod attacks;
mod hostile;
mod lifecycle;
mod live;
mod migrations;

mod agencies;
mod audit;
mod breakdown;
mod cache;
mod catalog;
mod clients;
mod compare;
mod dashboard;
mod demo;
mod dhis2;
mod errors;
mod fuzz;
mod indicators;
mod indices;
mod observations;
mod outage;
mod receipts;
mod recording;
mod replicas;
mod reporting;
mod savings;
mod schema;
mod sdmx;
mod seed_facts;
mod series;
mod tampering;
mod targets;

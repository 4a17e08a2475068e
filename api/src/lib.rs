//! egov-kpi: key performance indicators of Vietnam's national e-government platforms, served
//! over GraphQL.
//!
//! - [`service`] holds the domain rules (exact values, history, aggregation by metric kind).
//! - [`graphql`] translates between GraphQL and the services; [`http`] holds the routes.
//! - [`startup`] wires configuration, database and router into a running server.

pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod graphql;
pub mod http;
pub mod messages;
pub mod service;
pub mod startup;
pub mod telemetry;

pub use cli::main;

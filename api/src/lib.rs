//! egov-kpi: key performance indicators of Vietnam's national e-government platforms, served
//! over GraphQL.
//!
//! - [`service`] (its own crate) holds the domain rules (exact values, history, aggregation by
//!   metric kind), their errors and the catalogue of messages.
//! - [`graphql`] translates between GraphQL and the services; [`http`] holds the routes.
//! - [`startup`] wires configuration, database and router into a running server.
// The answers of nested GraphQL objects are futures of futures: their `Send` bounds nest deep.
#![recursion_limit = "256"]

pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod graphql;
pub mod http;
pub mod replicas;
pub mod startup;
pub mod telemetry;

/// The domain rules, as `crate::service::…`, with their errors and messages beside them.
pub use service::{self, message, messages};

pub use cli::main;

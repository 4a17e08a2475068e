//! A real server on a random port with a fresh database, and a client that talks HTTP to it.
//!
//! - `database`: a database per test on either backend, and row counts;
//! - `app`: the application started on it (`TestApp`, `Options`);
//! - `client`: requests as a client sends them;
//! - `fixtures`: keys, readings, metrics and figures a test arranges;
//! - `process`: the binary in a process of its own;
//! - `cluster`: a PostgreSQL server of a test's own, and replicas of it.

mod app;
mod client;
mod cluster;
mod database;
mod fixtures;
mod process;

pub use app::{Options, TestApp};
pub use client::{decimal, exported_line, exported_metric, instant};
pub use cluster::Cluster;
pub use database::{row_counts, Backend};
pub use fixtures::{figure, seeded_figures, Reading};
pub use process::ServerProcess;

/// Runs each test once on SQLite and once on PostgreSQL, each with a fresh, seeded database;
/// `on_both_databases! { Options::cached(); ... }` starts the servers another way.
#[macro_export]
macro_rules! on_both_databases {
    ($(async fn $name:ident($app:ident: TestApp) $body:block)*) => {
        $crate::on_both_databases!($crate::helpers::Options::default(); $(async fn $name($app: TestApp) $body)*);
    };
    ($options:expr; $(async fn $name:ident($app:ident: TestApp) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($app: $crate::helpers::TestApp) $body

            #[tokio::test]
            async fn sqlite() {
                run($crate::helpers::TestApp::spawn_with($crate::helpers::Backend::Sqlite, $options).await).await
            }

            #[tokio::test]
            async fn postgres() {
                run($crate::helpers::TestApp::spawn_with($crate::helpers::Backend::Postgres, $options).await).await
            }
        }
    )*};
}

//! `GET /metrics` in Prometheus' text format: requests and their latency by operation, errors by
//! code, and the database pool.

use std::collections::BTreeMap;
use std::fmt::{Display, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::AppState;
use crate::replicas::{ReplicaStatus, Replicas};
use crate::service::unpoisoned::LockUnpoisoned;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// A GraphQL name of at most 64 characters, or a batch's names joined by commas.
fn is_label(operation: &str) -> bool {
    operation.len() <= 256
        && operation.split(',').all(|name| {
            let mut chars = name.chars();
            name.len() <= 64
                && chars
                    .next()
                    .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
                && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
        })
}

/// An error code as the server writes them.
fn is_code(code: &str) -> bool {
    !code.is_empty() && code.len() <= 40 && code.chars().all(|c| c == '_' || c.is_ascii_uppercase())
}

#[derive(Default)]
struct Latency {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

#[derive(Default)]
struct Counts {
    by_operation: BTreeMap<String, Latency>,
    errors_by_code: BTreeMap<String, u64>,
}

#[derive(Default)]
pub struct Metrics {
    counts: Mutex<Counts>,
    response_cache_hits: AtomicU64,
}

impl Metrics {
    /// Counts a request answered from the response cache.
    pub fn response_cache_hit(&self) {
        self.response_cache_hits.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an error answered outside GraphQL execution (a refusal, or a panic), by its code.
    pub fn answered_error(&self, code: &str) {
        let mut counts = self.counts.lock_unpoisoned();
        *counts.errors_by_code.entry(code.to_owned()).or_default() += 1;
    }

    /// Counts one GraphQL request of `operation` and the codes of its errors.
    pub fn record(&self, operation: &str, elapsed: Duration, error_codes: &[&str]) {
        let mut counts = self.counts.lock_unpoisoned();
        // Operation names come from clients: only names (or a batch's names) of bounded length
        // become labels, and only so many distinct ones.
        let operation = if is_label(operation) {
            operation
        } else {
            "other"
        };
        let known = counts.by_operation.contains_key(operation) || counts.by_operation.len() < 200;
        let key = if known { operation } else { "other" };
        let latency = counts.by_operation.entry(key.to_owned()).or_default();
        let seconds = elapsed.as_secs_f64();
        latency.count += 1;
        latency.sum += seconds;
        for (bound, count) in BUCKETS.iter().zip(latency.buckets.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        for code in error_codes {
            let code = if is_code(code) { code } else { "OTHER" };
            *counts.errors_by_code.entry(code.to_owned()).or_default() += 1;
        }
    }

    pub(super) fn render(
        &self,
        pool: Option<(u32, usize)>,
        subscribers: usize,
        write_batches_pending: usize,
        direct_answers: u64,
    ) -> String {
        let counts = self.counts.lock_unpoisoned();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP egov_kpi_graphql_requests_total GraphQL requests by operation name."
        );
        let _ = writeln!(out, "# TYPE egov_kpi_graphql_requests_total counter");
        for (operation, latency) in &counts.by_operation {
            let _ = writeln!(
                out,
                "egov_kpi_graphql_requests_total{{operation=\"{}\"}} {}",
                label(operation),
                latency.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP egov_kpi_graphql_request_duration_seconds Time to answer a GraphQL request."
        );
        let _ = writeln!(
            out,
            "# TYPE egov_kpi_graphql_request_duration_seconds histogram"
        );
        for (operation, latency) in &counts.by_operation {
            let operation = label(operation);
            for (bound, count) in BUCKETS.iter().zip(latency.buckets) {
                let _ = writeln!(out, "egov_kpi_graphql_request_duration_seconds_bucket{{operation=\"{operation}\",le=\"{bound}\"}} {count}");
            }
            let _ = writeln!(out, "egov_kpi_graphql_request_duration_seconds_bucket{{operation=\"{operation}\",le=\"+Inf\"}} {}", latency.count);
            let _ = writeln!(
                out,
                "egov_kpi_graphql_request_duration_seconds_sum{{operation=\"{operation}\"}} {}",
                latency.sum
            );
            let _ = writeln!(
                out,
                "egov_kpi_graphql_request_duration_seconds_count{{operation=\"{operation}\"}} {}",
                latency.count
            );
        }
        unlabelled(
            &mut out,
            ("egov_kpi_response_cache_hits_total", "counter"),
            "GraphQL requests answered from the response cache.",
            self.response_cache_hits.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP egov_kpi_graphql_errors_total Errors answered, by extensions.code: GraphQL errors, and refusals and panics on any route."
        );
        let _ = writeln!(out, "# TYPE egov_kpi_graphql_errors_total counter");
        for (code, count) in &counts.errors_by_code {
            let _ = writeln!(
                out,
                "egov_kpi_graphql_errors_total{{code=\"{}\"}} {count}",
                label(code)
            );
        }
        unlabelled(
            &mut out,
            ("egov_kpi_graphql_direct_answers_total", "counter"),
            "GraphQL requests answered without the executor: validated dashboard queries written by their field's own answer.",
            direct_answers,
        );
        unlabelled(
            &mut out,
            ("egov_kpi_live_subscribers", "gauge"),
            "Subscriptions following changes.",
            subscribers,
        );
        unlabelled(
            &mut out,
            ("egov_kpi_write_batches_pending", "gauge"),
            "Batches of figures handed to the writer and not yet answered (waiting for their group, or in the group being written).",
            write_batches_pending,
        );
        if let Some((size, idle)) = pool {
            let _ = writeln!(
                out,
                "# HELP egov_kpi_db_pool_connections Database connections open in the pool."
            );
            let _ = writeln!(out, "# TYPE egov_kpi_db_pool_connections gauge");
            let _ = writeln!(out, "egov_kpi_db_pool_connections{{state=\"open\"}} {size}");
            let _ = writeln!(out, "egov_kpi_db_pool_connections{{state=\"idle\"}} {idle}");
        }
        out
    }
}

fn pool_use(db: &sea_orm::DatabaseConnection) -> Option<(u32, usize)> {
    match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            // Connections reads hold out of the pool between them are idle too.
            let held = crate::service::held_connections::idle(db);
            Some((pool.size(), pool.num_idle() + held))
        }
        sea_orm::DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            Some((pool.size(), pool.num_idle()))
        }
        _ => None,
    }
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(
            pool_use(&state.db),
            state.feed.subscribers(),
            state.engine.write_batches_pending(),
            state.engine.direct_answers(),
        ) + &replication(&state.replicas),
    )
}

/// A metric of one value, with its help and type lines.
fn unlabelled(out: &mut String, (name, kind): (&str, &str), help: &str, value: impl Display) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    let _ = writeln!(out, "{name} {value}");
}

/// A label's value as Prometheus' text format quotes it.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Where reads ran, and each replica's lag and place in the rotation.
fn replication(replicas: &Replicas) -> String {
    let mut out = String::new();
    let (primary, on_replicas) = replicas.reads();
    let _ = writeln!(
        out,
        "# HELP egov_kpi_reads_total Queries and exports by the database they read."
    );
    let _ = writeln!(out, "# TYPE egov_kpi_reads_total counter");
    let _ = writeln!(out, "egov_kpi_reads_total{{source=\"primary\"}} {primary}");
    let _ = writeln!(
        out,
        "egov_kpi_reads_total{{source=\"replica\"}} {on_replicas}"
    );
    let statuses = replicas.statuses();
    if statuses.is_empty() {
        return out;
    }
    type Gauge = fn(&ReplicaStatus) -> Option<String>;
    let gauges: [(&str, &str, Gauge); 3] = [
        ("egov_kpi_replica_lag_seconds", "Seconds since the replica last held everything the primary had (absent while it does not answer).", |s| s.lag_seconds.map(|v| v.to_string())),
        ("egov_kpi_replica_lag_bytes", "Bytes of the primary's log the replica has not replayed (absent while it does not answer).", |s| s.lag_bytes.map(|v| v.to_string())),
        ("egov_kpi_replica_in_rotation", "1 while reads may go to the replica.", |s| Some(u8::from(s.in_rotation).to_string())),
    ];
    for (name, help, value_of) in gauges {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for status in &statuses {
            if let Some(value) = value_of(status) {
                let replica = label(&status.name);
                let _ = writeln!(out, "{name}{{replica=\"{replica}\"}} {value}");
            }
        }
    }
    let held = "egov_kpi_replica_connections_held";
    let _ = writeln!(
        out,
        "# HELP {held} Connections the replica's reads keep out of its pool between reads."
    );
    let _ = writeln!(out, "# TYPE {held} gauge");
    for (name, connections) in replicas.held_connections() {
        let _ = writeln!(out, "{held}{{replica=\"{}\"}} {connections}", label(&name));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_a_bounded_set_whatever_the_client_sends() {
        let metrics = Metrics::default();
        let long = "A".repeat(1024 * 1024);
        for operation in [
            long.as_str(),
            "Board\"}\nfake_metric 1",
            "Board",
            "Board,Sources",
        ] {
            metrics.record(operation, Duration::from_millis(1), &["BAD\nCODE"]);
        }
        let exported = metrics.render(None, 0, 0, 0);
        assert!(exported.len() < 10_000, "{} bytes", exported.len());
        assert!(exported.contains("egov_kpi_graphql_requests_total{operation=\"other\"} 2"));
        assert!(exported.contains("egov_kpi_graphql_requests_total{operation=\"Board\"} 1"));
        assert!(exported.contains("egov_kpi_graphql_requests_total{operation=\"Board,Sources\"} 1"));
        assert!(exported.contains("egov_kpi_graphql_errors_total{code=\"OTHER\"} 4"));
        assert!(!exported.contains("fake_metric"));
    }
}

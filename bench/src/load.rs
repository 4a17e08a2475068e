//! A closed-loop load: `clients` tasks each send a request, wait for its answer, and send the
//! next, for a fixed time. Latency is measured per request, throughput over the whole run.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one run of one operation measured.
#[derive(Debug, Clone)]
pub struct Stats {
    pub clients: usize,
    pub requests: usize,
    pub errors: usize,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p95: Duration,
    pub p99: Duration,
}

impl Stats {
    pub fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
}

/// Runs `operation` from `clients` concurrent loops for `duration` (after a short warm-up).
pub async fn run<F, Fut>(clients: usize, duration: Duration, operation: F) -> Stats
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let operation = Arc::new(operation);
    // Warm-up: connections opened, statements prepared, caches filled.
    for _ in 0..clients.max(4) {
        let _ = operation().await;
    }
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let operation = operation.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            while Instant::now() < deadline {
                let sent = Instant::now();
                if let Err(error) = operation().await {
                    if errors == 0 {
                        eprintln!("  error: {error:#}");
                    }
                    errors += 1;
                }
                latencies.push(sent.elapsed());
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (mut measured, failed) = task.await.expect("a load task never panics");
        latencies.append(&mut measured);
        errors += failed;
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or_default()
    };
    Stats {
        clients,
        requests: latencies.len(),
        errors,
        elapsed,
        p50: percentile(0.50),
        p95: percentile(0.95),
        p99: percentile(0.99),
    }
}

pub fn millis(duration: Duration) -> String {
    format!("{:.2}", duration.as_secs_f64() * 1000.0)
}

//! The egov-kpi binary in a process of its own.

/// The egov-kpi binary serving a prepared database in a process of its own, so that a test can
/// read its memory; stopped when dropped.
pub struct ServerProcess {
    child: std::process::Child,
    pub address: String,
}

impl ServerProcess {
    /// Starts `egov-kpi serve` on `database_url` with extra environment settings, and waits
    /// until it answers.
    pub async fn start(database_url: &str, settings: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_egov-kpi"))
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("EGOV_KPI_PORT", port.to_string())
            .env("EGOV_KPI_SEED", "false")
            .env("EGOV_KPI_RESPONSE_CACHE_MS", "0")
            .env("RUST_LOG", "warn")
            .envs(settings.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the server starts");
        let process = Self {
            child,
            address: format!("http://127.0.0.1:{port}"),
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while reqwest::get(format!("{}/healthz", process.address))
            .await
            .is_err()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the server did not come up"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        process
    }

    /// The most memory the process has held, in MB (Linux's `VmHWM`).
    pub fn peak_memory_mb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the process status");
        let kilobytes: f64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM");
        kilobytes / 1024.0
    }
}

impl ServerProcess {
    /// Stops the server as an operator does (SIGTERM) and waits until it has exited.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let signalled = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(signalled.success());
        self.child.wait().expect("the server exits")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

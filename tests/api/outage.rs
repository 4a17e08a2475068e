//! A database restart in the middle of a run: requests during the outage fail fast with a code,
//! the server recovers by itself, and no acknowledged write is lost.
//!
//! The test starts a PostgreSQL cluster of its own (initdb into a temporary folder, on a free
//! port) so that stopping it disturbs no other test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use entity::values::Role;
use serde_json::{json, Value};

use crate::helpers::TestApp;

/// The folder with initdb and pg_ctl: `PG_BIN`, or the newest under /usr/lib/postgresql.
fn postgres_binaries() -> PathBuf {
    if let Some(dir) = std::env::var_os("PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's server binaries under /usr/lib/postgresql (or set PG_BIN)")
        .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("pg_ctl").exists())
        .collect();
    versions.sort();
    versions.pop().expect("a PostgreSQL version with pg_ctl")
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// A throwaway PostgreSQL server.
struct Cluster {
    data: PathBuf,
    port: u16,
    bin: PathBuf,
}

impl Cluster {
    /// PostgreSQL refuses to run as root: as root, run it as the `postgres` user.
    fn run(&self, program: &str, args: &[&str]) {
        let program = self.bin.join(program);
        let output = if running_as_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&program)
                .args(args)
                .output()
        } else {
            Command::new(&program).args(args).output()
        }
        .unwrap_or_else(|e| panic!("running {}: {e}", program.display()));
        assert!(
            output.status.success(),
            "{} {args:?} failed: {}{}",
            program.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn create() -> Self {
        let data =
            std::env::temp_dir().join(format!("egov-kpi-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&data).unwrap();
        if running_as_root() {
            let status = Command::new("chown")
                .arg("postgres")
                .arg(&data)
                .status()
                .unwrap();
            assert!(status.success(), "chown the cluster's folder");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Self {
            data,
            port,
            bin: postgres_binaries(),
        };
        cluster.run(
            "initdb",
            &[
                "-D",
                cluster.path(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        cluster.start();
        cluster
    }

    fn path(&self) -> &str {
        self.data.to_str().unwrap()
    }

    fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=on",
            self.port,
            self.path()
        );
        let log = Path::new(self.path()).join("server.log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                self.path(),
                "-o",
                &options,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        );
    }

    fn stop(&self) {
        self.run("pg_ctl", &["-D", self.path(), "-m", "fast", "-w", "stop"]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(self.bin.join("pg_ctl"))
            .args(["-D", self.path(), "-m", "immediate", "stop"])
            .output();
        if running_as_root() {
            let _ = Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"))
                .args(["-D", self.path(), "-m", "immediate", "stop"])
                .output();
        }
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

const RATE: &str = "public-service-portal.level4-online-dossier-rate";

async fn write(app: &TestApp, key: &str, day: u32) -> Value {
    let input = json!({ "input": [{ "metric": RATE, "observedAt": format!("2021-01-{day:02}T00:00:00Z"),
        "value": day.to_string(), "source": "article-003", "quote": "q" }] });
    app.graphql_as(key, "mutation R($input: [ObservationInput!]!) { recordObservations(input: $input) { observations { id } } }", input)
        .await
        .1
}

async fn stored_ids(app: &TestApp) -> Vec<String> {
    let data = app
        .data(&format!("{{ observations(first: 100, filter: {{metric: \"{RATE}\"}}) {{ edges {{ node {{ id }} }} }} }}"), json!({}))
        .await;
    data["observations"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_server_rides_out_a_database_restart() {
    let cluster = Cluster::create();
    let app = TestApp::spawn_at(cluster.url()).await;
    let reporter = app.key(Role::Reporter, None).await;
    let mut acknowledged = Vec::new();
    for day in 1..=5 {
        let body = write(&app, &reporter, day).await;
        acknowledged.push(
            body["data"]["recordObservations"]["observations"][0]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }

    cluster.stop();
    let started = Instant::now();
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("x-request-id", "during-the-outage")
        .json(&json!({ "query": "{ platforms { code } }" }))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["requestId"], "during-the-outage",
        "the log can be matched"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE",
        "{body}"
    );
    assert!(
        !body
            .to_string()
            .to_lowercase()
            .contains("connection refused"),
        "no database text: {body}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the outage is answered, not waited out"
    );
    let (status, body) = app
        .graphql_as(&reporter, "{ platforms { code } }", json!({}))
        .await;
    assert_eq!(status, 503, "a key cannot be checked either: {body}");
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 503);
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200, "the process itself is alive");

    cluster.start();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = app.get("/readyz").await;
        if ready.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the server did not recover");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for day in 6..=8 {
        let body = write(&app, &reporter, day).await;
        acknowledged.push(
            body["data"]["recordObservations"]["observations"][0]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{body}"))
                .to_owned(),
        );
    }
    let mut stored = stored_ids(&app).await;
    stored.sort();
    acknowledged.sort();
    assert_eq!(
        stored, acknowledged,
        "every acknowledged write is stored, once"
    );
}

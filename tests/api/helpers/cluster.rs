//! Throwaway PostgreSQL servers of a test's own (initdb into a temporary folder, on a free
//! port), so that stopping one, or making a replica of it, disturbs no other test.

use std::path::{Path, PathBuf};
use std::process::Command;

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
pub struct Cluster {
    data: PathBuf,
    port: u16,
    bin: PathBuf,
}

impl Cluster {
    /// PostgreSQL refuses to run as root: as root, run it as the `postgres` user.
    fn run(&self, program: &str, args: &[&str]) -> String {
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
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    /// A streaming replica of this server, as an operator makes one: a base backup over the
    /// replication protocol (`pg_basebackup -R`), started on a port of its own.
    pub fn replica(&self) -> Self {
        let replica = Self {
            data: std::env::temp_dir()
                .join(format!("egov-kpi-pg-{}", uuid::Uuid::new_v4().simple())),
            port: Self::free_port(),
            bin: self.bin.clone(),
        };
        let port = self.port.to_string();
        replica.run(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-D",
                replica.path(),
                "-R",
                "-X",
                "stream",
                "--no-sync",
            ],
        );
        replica.start();
        replica
    }

    /// Runs one statement with `psql`; its output, unaligned.
    pub fn sql(&self, statement: &str) -> String {
        let port = self.port.to_string();
        self.run(
            "psql",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-XAtc",
                statement,
            ],
        )
        .trim()
        .to_owned()
    }

    pub fn create() -> Self {
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
        let cluster = Self {
            data,
            port: Self::free_port(),
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

    pub fn start(&self) {
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

    pub fn stop(&self) {
        self.run("pg_ctl", &["-D", self.path(), "-m", "fast", "-w", "stop"]);
    }

    pub fn url(&self) -> String {
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

//! Configuration: typed, from flags or environment, with defaults that work on a fresh clone.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use clap::{ArgAction, Args, ValueEnum};

/// The embedded database: a file next to where the server runs, created on first start.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://egov-kpi.db?mode=rwc";

/// The same flags for every command, before or after a subcommand's own (`keys --database-url
/// URL list` and `keys list --database-url URL` alike).
#[derive(Debug, Clone, Args)]
pub struct DatabaseSettings {
    /// `sqlite://FILE?mode=rwc` (embedded) or `postgres://USER@HOST:PORT/DB`.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    pub database_url: String,
    /// Connections kept in the pool.
    #[arg(
        long,
        env = "DATABASE_MAX_CONNECTIONS",
        default_value_t = 10,
        global = true
    )]
    pub max_connections: u32,
    /// Seconds a request waits for a database connection before it is answered
    /// `SERVICE_UNAVAILABLE`: short, so that an outage fails requests fast.
    #[arg(
        long,
        env = "DATABASE_ACQUIRE_TIMEOUT_SECONDS",
        default_value_t = 3,
        global = true
    )]
    pub acquire_timeout_seconds: u64,
}

impl DatabaseSettings {
    /// The URL with any password replaced, for logs.
    pub fn redacted_url(&self) -> String {
        redacted(&self.database_url)
    }
}

/// A database URL with any password replaced, for logs.
pub fn redacted(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let authority_end = url[scheme_end..]
        .find('/')
        .map_or(url.len(), |i| scheme_end + i);
    match url[scheme_end..authority_end].rfind('@') {
        Some(at) => {
            let credentials = &url[scheme_end..scheme_end + at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end],
                    &credentials[..colon],
                    &url[scheme_end + at..]
                ),
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServerSettings {
    /// Address to listen on.
    #[arg(long, env = "EGOV_KPI_HOST", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub host: IpAddr,
    /// Port to listen on; 0 picks a free one.
    #[arg(long, env = "EGOV_KPI_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Load the seed figures at start (idempotent: existing records are left as they are).
    #[arg(long, env = "EGOV_KPI_SEED", default_value_t = true, action = ArgAction::Set)]
    pub seed: bool,
    /// Let callers without a key read current figures; `false` asks every request for a key.
    #[arg(long, env = "EGOV_KPI_PUBLIC_READ", default_value_t = true, action = ArgAction::Set)]
    pub public_read: bool,
    /// How long an answer to a repeated query may be served again, in milliseconds, while no
    /// write has happened since (any write retires it at once); 0 turns the cache off.
    #[arg(long, env = "EGOV_KPI_RESPONSE_CACHE_MS", default_value_t = 1000)]
    pub response_cache_ms: u64,
    #[command(flatten)]
    pub limits: Limits,
    #[command(flatten)]
    pub audit: AuditSettings,
    #[command(flatten)]
    pub replicas: ReplicaSettings,
}

/// PostgreSQL streaming replicas that queries and exports read from; writes, the audit chain
/// and the live feed stay on the primary (`--database-url`).
#[derive(Debug, Clone, Args)]
pub struct ReplicaSettings {
    /// A replica's URL; repeat the flag, or separate URLs with commas in the variable.
    #[arg(
        long = "database-read-url",
        env = "DATABASE_READ_URL",
        value_delimiter = ','
    )]
    pub urls: Vec<String>,
    /// A replica further behind the primary than this many milliseconds leaves the rotation
    /// until it catches up.
    #[arg(long = "database-read-max-lag-ms", env = "DATABASE_READ_MAX_LAG_MS", default_value_t = ReplicaSettings::DEFAULT.max_lag_ms)]
    pub max_lag_ms: u64,
    /// How long a read waits for a replica to replay the writes it must see before it reads
    /// the primary instead, in milliseconds.
    #[arg(long = "database-read-wait-ms", env = "DATABASE_READ_WAIT_MS", default_value_t = ReplicaSettings::DEFAULT.wait_ms)]
    pub wait_ms: u64,
}

impl ReplicaSettings {
    pub const DEFAULT: ReplicaSettings = ReplicaSettings {
        urls: Vec::new(),
        max_lag_ms: 2000,
        wait_ms: 50,
    };

    pub fn max_lag(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.max_lag_ms)
    }

    pub fn wait(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.wait_ms)
    }

    /// How often each replica's lag is sampled: often enough to notice the bound passed.
    pub fn monitor_interval(&self) -> std::time::Duration {
        (self.max_lag() / 4).clamp(
            std::time::Duration::from_millis(20),
            std::time::Duration::from_millis(250),
        )
    }
}

impl Default for ReplicaSettings {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The key that anchors the audit chain, and when the server signs with it. The same flags for
/// `serve` and `audit`.
#[derive(Debug, Clone, Args)]
pub struct AuditSettings {
    /// The Ed25519 signing key (a file `egov-kpi audit keygen` makes), kept outside the
    /// database; without one the server runs and `audit verify` reports the chain unanchored.
    #[arg(long, env = "EGOV_KPI_AUDIT_SIGNING_KEY", global = true)]
    pub audit_signing_key: Option<PathBuf>,
    /// Where signed checkpoints are appended, one JSON line each, to be shipped elsewhere;
    /// `<signing key>.witness.jsonl` if not given.
    #[arg(long, env = "EGOV_KPI_AUDIT_WITNESS_FILE", global = true)]
    pub audit_witness_file: Option<PathBuf>,
    /// Sign a checkpoint after this many audit entries…
    #[arg(long, env = "EGOV_KPI_CHECKPOINT_EVERY_ENTRIES", default_value_t = AuditSettings::DEFAULT.checkpoint_every_entries, global = true)]
    pub checkpoint_every_entries: i64,
    /// …or this many seconds after the last one if anything was written since (and at shutdown).
    #[arg(long, env = "EGOV_KPI_CHECKPOINT_EVERY_SECONDS", default_value_t = AuditSettings::DEFAULT.checkpoint_every_seconds, global = true)]
    pub checkpoint_every_seconds: u64,
}

impl AuditSettings {
    pub const DEFAULT: AuditSettings = AuditSettings {
        audit_signing_key: None,
        audit_witness_file: None,
        checkpoint_every_entries: 100,
        checkpoint_every_seconds: 300,
    };

    /// The witness file: the one given, or one beside the signing key.
    pub fn witness_file(&self) -> Option<PathBuf> {
        self.audit_witness_file.clone().or_else(|| {
            self.audit_signing_key.as_ref().map(|key| {
                let mut name = key.as_os_str().to_owned();
                name.push(".witness.jsonl");
                PathBuf::from(name)
            })
        })
    }
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What one request may ask of the server; past each limit it gets a coded error.
#[derive(Debug, Clone, Args)]
pub struct Limits {
    /// Deepest nesting of fields in a query.
    #[arg(long, env = "EGOV_KPI_MAX_DEPTH", default_value_t = Limits::DEFAULT.max_depth)]
    pub max_depth: usize,
    /// Highest cost of a query: 1 per field, multiplied by the page size inside a page.
    #[arg(long, env = "EGOV_KPI_MAX_COMPLEXITY", default_value_t = Limits::DEFAULT.max_complexity)]
    pub max_complexity: usize,
    /// Most aliased fields in a document, once its fragments are expanded.
    #[arg(long, env = "EGOV_KPI_MAX_ALIASES", default_value_t = Limits::DEFAULT.max_aliases)]
    pub max_aliases: usize,
    /// Most fields a document resolves, once its fragments are expanded.
    #[arg(long, env = "EGOV_KPI_MAX_FIELDS", default_value_t = Limits::DEFAULT.max_fields)]
    pub max_fields: usize,
    /// Most lexical tokens in a document's text, counted before it is parsed.
    #[arg(long, env = "EGOV_KPI_MAX_TOKENS", default_value_t = Limits::DEFAULT.max_tokens)]
    pub max_tokens: usize,
    /// Most directives on one field or fragment.
    #[arg(long, env = "EGOV_KPI_MAX_DIRECTIVES", default_value_t = Limits::DEFAULT.max_directives)]
    pub max_directives: usize,
    /// Most live subscriptions on one WebSocket.
    #[arg(long, env = "EGOV_KPI_MAX_SUBSCRIPTIONS_PER_SOCKET", default_value_t = Limits::DEFAULT.max_subscriptions_per_socket)]
    pub max_subscriptions_per_socket: usize,
    /// Most live subscriptions of one caller (API key, or client address without a key),
    /// over all its sockets.
    #[arg(long, env = "EGOV_KPI_MAX_SUBSCRIPTIONS_PER_CALLER", default_value_t = Limits::DEFAULT.max_subscriptions_per_caller)]
    pub max_subscriptions_per_caller: usize,
    /// Most operations in one batched request.
    #[arg(long, env = "EGOV_KPI_MAX_BATCH", default_value_t = Limits::DEFAULT.max_batch)]
    pub max_batch: usize,
    /// Largest request body, in bytes (CSV uploads included).
    #[arg(long, env = "EGOV_KPI_MAX_BODY_BYTES", default_value_t = Limits::DEFAULT.max_body_bytes)]
    pub max_body_bytes: usize,
    /// Answer introspection queries (GraphiQL needs them); `false` for a locked-down production.
    #[arg(long, env = "EGOV_KPI_INTROSPECTION", default_value_t = true, action = ArgAction::Set)]
    pub introspection: bool,
    /// Seconds a request may run before it is answered with `TIMEOUT`.
    #[arg(long, env = "EGOV_KPI_REQUEST_TIMEOUT_SECONDS", default_value_t = Limits::DEFAULT.request_timeout_seconds)]
    pub request_timeout_seconds: u64,
    /// Requests per minute for one API key.
    #[arg(long, env = "EGOV_KPI_RATE_PER_KEY", default_value_t = Limits::DEFAULT.rate_per_key)]
    pub rate_per_key: u32,
    /// Requests per minute from one client address without a key.
    #[arg(long, env = "EGOV_KPI_RATE_PER_ADDRESS", default_value_t = Limits::DEFAULT.rate_per_address)]
    pub rate_per_address: u32,
}

impl Limits {
    pub const DEFAULT: Limits = Limits {
        max_depth: 12,
        max_complexity: 20_000,
        max_aliases: 30,
        max_fields: 2_000,
        max_tokens: 10_000,
        max_directives: 5,
        max_subscriptions_per_socket: 20,
        max_subscriptions_per_caller: 50,
        max_batch: 10,
        max_body_bytes: 4 * 1024 * 1024,
        introspection: true,
        request_timeout_seconds: 30,
        rate_per_key: 1200,
        rate_per_address: 600,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl ServerSettings {
    pub fn address(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> DatabaseSettings {
        DatabaseSettings {
            database_url: url.into(),
            max_connections: 1,
            acquire_timeout_seconds: 1,
        }
    }

    #[test]
    fn passwords_are_redacted_and_the_rest_kept() {
        assert_eq!(
            settings("postgres://kpi:s3cret@db:5432/kpi").redacted_url(),
            "postgres://kpi:***@db:5432/kpi"
        );
        assert_eq!(
            settings("postgres://postgres@127.0.0.1:5432/kpi").redacted_url(),
            "postgres://postgres@127.0.0.1:5432/kpi"
        );
        assert_eq!(
            settings(DEFAULT_DATABASE_URL).redacted_url(),
            DEFAULT_DATABASE_URL
        );
    }
}

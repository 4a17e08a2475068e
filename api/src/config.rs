//! Configuration: typed, from flags or environment, with defaults that work on a fresh clone.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use clap::{ArgAction, Args, ValueEnum};

/// The embedded database: a file next to where the server runs, created on first start.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://egov-kpi.db?mode=rwc";

#[derive(Debug, Clone, Args)]
pub struct DatabaseSettings {
    /// `sqlite://FILE?mode=rwc` (embedded) or `postgres://USER@HOST:PORT/DB`.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
    /// Connections kept in the pool.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 10)]
    pub max_connections: u32,
}

impl DatabaseSettings {
    /// The URL with any password replaced, for logs.
    pub fn redacted_url(&self) -> String {
        let url = &self.database_url;
        let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
            return url.clone();
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
                    None => url.clone(),
                }
            }
            None => url.clone(),
        }
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

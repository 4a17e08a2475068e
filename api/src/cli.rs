//! The `egov-kpi` command: serve, migrate, seed, export-schema.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::{DatabaseSettings, LogFormat, ServerSettings};
use crate::{db, graphql, service, startup, telemetry};

#[derive(Debug, Parser)]
#[command(
    name = "egov-kpi",
    version,
    about = "Key performance indicators of Vietnam's national e-government platforms, over GraphQL"
)]
pub struct Cli {
    /// Log lines as text or JSON.
    #[arg(
        long,
        env = "EGOV_KPI_LOG_FORMAT",
        value_enum,
        default_value_t,
        global = true
    )]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate, seed and serve the GraphQL API (the default).
    Serve {
        #[command(flatten)]
        database: DatabaseSettings,
        #[command(flatten)]
        server: ServerSettings,
    },
    /// Bring the database schema up to date.
    Migrate {
        #[command(flatten)]
        database: DatabaseSettings,
    },
    /// Migrate, then load the reported figures (idempotent).
    Seed {
        #[command(flatten)]
        database: DatabaseSettings,
    },
    /// Print the GraphQL schema (SDL), or write it to a file.
    ExportSchema {
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("egov-kpi: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("egov-kpi: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Option<Command>) -> anyhow::Result<()> {
    let command = command.unwrap_or_else(|| {
        // `egov-kpi` alone serves, reading flags and environment as `serve` does.
        match Cli::parse_from(["egov-kpi", "serve"]).command {
            Some(serve) => serve,
            None => unreachable!("`serve` was given"),
        }
    });
    match command {
        Command::Serve { database, server } => {
            let app = startup::Application::build(&database, &server).await?;
            app.run_until_stopped().await?;
        }
        Command::Migrate { database } => {
            let connection = connect(&database).await?;
            db::migrate(&connection).await.context("migrating")?;
            tracing::info!("database schema is up to date");
        }
        Command::Seed { database } => {
            let connection = connect(&database).await?;
            db::migrate(&connection).await.context("migrating")?;
            let report = service::seed::load(&connection).await?;
            tracing::info!(
                inserted = report.inserted,
                already_present = report.already_present,
                "seed figures loaded"
            );
        }
        Command::ExportSchema { output } => {
            let sdl = graphql::schema_sdl();
            match output {
                Some(path) => std::fs::write(&path, sdl)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => print!("{sdl}"),
            }
        }
    }
    Ok(())
}

pub async fn connect(database: &DatabaseSettings) -> anyhow::Result<sea_orm::DatabaseConnection> {
    db::connect(database)
        .await
        .with_context(|| format!("connecting to {}", database.redacted_url()))
}

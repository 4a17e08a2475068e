//! The `egov-kpi` command: serve, migrate, seed, export-schema.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use entity::values::Role;

use crate::config::{AuditSettings, DatabaseSettings, LogFormat, ServerSettings};
use crate::service::audit::Caller;
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
    /// Create, list and revoke API keys.
    Keys {
        #[command(flatten)]
        database: DatabaseSettings,
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Check the audit log, make its signing key, check exports.
    Audit {
        #[command(flatten)]
        database: DatabaseSettings,
        #[command(flatten)]
        audit: AuditSettings,
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Add synthetic history (daily counters per synthetic agency, monthly flows), every row
    /// marked synthetic, for demonstrations and load.
    DemoData {
        #[command(flatten)]
        database: DatabaseSettings,
        /// How many observations to generate.
        #[arg(long)]
        rows: u64,
        /// Seed of the generator: the same seed gives the same values.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Also a monthly figure for every real province and ministry from 2023 to 2025, across
        /// the 2025 mergers (within the same number of rows).
        #[arg(long)]
        real_units: bool,
    },
    /// Record the figures of a CSV file, all rows or none (see the README for its columns).
    Import {
        #[command(flatten)]
        database: DatabaseSettings,
        file: PathBuf,
        /// Check every row and report every problem, storing nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it, once.
    Create {
        /// Who or what will use the key.
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Limit a reporter key to one agency (code).
        #[arg(long)]
        agency: Option<String>,
        /// Limit a reporter key to one platform (code).
        #[arg(long)]
        platform: Option<String>,
        /// Days until the key expires; never, if not given.
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key by its prefix.
    Revoke { prefix: String },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chain, every revision and every signed checkpoint. Exits 0 when all hold
    /// and a checkpoint anchors the chain, 1 when something is broken, 2 when nothing is broken
    /// but nothing signed anchors the chain.
    Verify {
        /// A public key to check checkpoints with (hex, or a file of it); repeat for rotated
        /// keys. Defaults to the configured signing key's.
        #[arg(long = "public-key")]
        public_keys: Vec<String>,
        /// Checkpoints kept outside the database (a witness file); defaults to the configured one.
        #[arg(long)]
        witness: Option<PathBuf>,
    },
    /// Make a signing key at FILE (owner-only) and its public key at FILE.pub; never replaces
    /// an existing key.
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a checkpoint of the chain's head now, with the configured signing key.
    Checkpoint,
    /// Check an export (`/export/observations.csv` or `.json`) without a database: fails if any
    /// row was edited, added, removed or reordered, or the statement is not the key's.
    VerifyExport {
        file: PathBuf,
        /// The public key (hex, or a file of it) the statement must be signed with.
        #[arg(long)]
        public_key: String,
    },
}

/// `audit verify` found nothing broken, but nothing signed anchors the chain.
#[derive(Debug, thiserror::Error)]
#[error("the audit chain is unanchored")]
struct Unanchored;

fn parse_role(text: &str) -> Result<Role, String> {
    <Role as sea_orm::ActiveEnum>::try_from_value(&text.to_owned()).map_err(|_| {
        let names: Vec<String> = <Role as sea_orm::Iterable>::iter()
            .map(service::access::role_name)
            .collect();
        format!("`{text}` is not one of {}", names.join(", "))
    })
}

/// The operator, as the audit log names command-line writes.
fn operator() -> Caller {
    let name = std::env::var("USER").unwrap_or_else(|_| "operator".to_owned());
    Caller::command_line(&name)
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
        Err(error) if error.is::<Unanchored>() => ExitCode::from(2),
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
        Command::Keys { database, command } => {
            let connection = connect(&database).await?;
            db::migrate(&connection).await.context("migrating")?;
            run_keys(&connection, command).await?;
        }
        Command::Audit {
            database,
            audit,
            command,
        } => run_audit(&database, &audit, command).await?,
        Command::DemoData {
            database,
            rows,
            seed,
            real_units,
        } => {
            let connection = connect(&database).await?;
            db::migrate(&connection).await.context("migrating")?;
            service::seed::load(&connection).await?;
            let bar = indicatif::ProgressBar::new(rows);
            let started = std::time::Instant::now();
            let generated = service::demo::generate(
                &connection,
                &operator(),
                rows,
                seed,
                real_units,
                &|done| bar.set_position(done),
            )
            .await?;
            bar.finish_and_clear();
            println!(
                "generated {} synthetic observations for {} synthetic agencies in {:.1} s",
                generated.observations,
                generated.agencies,
                started.elapsed().as_secs_f64()
            );
        }
        Command::Import {
            database,
            file,
            dry_run,
        } => {
            let connection = connect(&database).await?;
            db::migrate(&connection).await.context("migrating")?;
            run_import(&connection, &file, dry_run).await?;
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

async fn run_keys(
    connection: &sea_orm::DatabaseConnection,
    command: KeysCommand,
) -> anyhow::Result<()> {
    let caller = operator();
    match command {
        KeysCommand::Create {
            name,
            role,
            agency,
            platform,
            expires_in_days,
        } => {
            let request = service::auth::NewKey {
                name,
                role,
                agency,
                platform,
                expires_at: expires_in_days
                    .map(|days| chrono::Utc::now() + chrono::Duration::days(days.into())),
            };
            let issued = service::auth::create_key(connection, &caller, request).await?;
            eprintln!("Store this key now; it cannot be shown again.");
            println!("{}", issued.secret);
        }
        KeysCommand::List => {
            println!(
                "{:<14} {:<9} {:<8} {:<26} name",
                "prefix", "role", "state", "expires"
            );
            for key in service::auth::keys(connection, &caller.principal).await? {
                let state = key.state(chrono::Utc::now()).as_str();
                let expires = key
                    .expires_at
                    .map(|at| at.to_rfc3339())
                    .unwrap_or_else(|| "never".to_owned());
                println!(
                    "{:<14} {:<9} {:<8} {:<26} {}",
                    key.prefix,
                    service::access::role_name(key.role),
                    state,
                    expires,
                    key.name
                );
            }
        }
        KeysCommand::Revoke { prefix } => {
            let key = service::auth::revoke_key(connection, &caller, &prefix).await?;
            println!("revoked {} ({})", key.prefix, key.name);
        }
    }
    Ok(())
}

async fn run_audit(
    database: &DatabaseSettings,
    settings: &AuditSettings,
    command: AuditCommand,
) -> anyhow::Result<()> {
    use service::audit::{anchor, verify};
    match command {
        AuditCommand::Keygen { out } => {
            let public = anchor::generate_key(&out).map_err(anyhow::Error::msg)?;
            println!("{}", hex::encode(public.as_bytes()));
            eprintln!(
                "Signing key written to {} (keep it outside the database and its backups); public key to {}.",
                out.display(),
                anchor::public_key_path(&out).display()
            );
        }
        AuditCommand::VerifyExport { file, public_key } => {
            let key = anchor::parse_public_key(&public_key).map_err(anyhow::Error::msg)?;
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            match service::export::check_export(&bytes, &key) {
                Ok(checked) => println!(
                    "export intact: {} rows, signed at {}, taken at audit chain head {}",
                    checked.statement.rows,
                    checked.statement.signed_at.to_rfc3339(),
                    checked.statement.chain_head
                ),
                Err(why) => {
                    println!("export BROKEN: {why}");
                    anyhow::bail!("{} does not match its signed statement", file.display());
                }
            }
        }
        AuditCommand::Checkpoint => {
            let anchor = startup::anchor(settings)?
                .context("no signing key is configured (EGOV_KPI_AUDIT_SIGNING_KEY)")?;
            let connection = connect(database).await?;
            match anchor.checkpoint(&connection).await? {
                Some(checkpoint) => println!(
                    "checkpoint signed at entry {}: {}",
                    checkpoint.sequence, checkpoint.hash
                ),
                None => println!("the head is checkpointed already"),
            }
        }
        AuditCommand::Verify {
            public_keys,
            witness,
        } => {
            let mut trust = match startup::anchor(settings)? {
                Some(anchor) if public_keys.is_empty() => {
                    anchor.trust().map_err(anyhow::Error::msg)?
                }
                _ => anchor::Trust::default(),
            };
            for key in &public_keys {
                trust
                    .public_keys
                    .push(anchor::parse_public_key(key).map_err(anyhow::Error::msg)?);
            }
            if let Some(witness) = witness {
                trust.witness = anchor::read_witness(&witness).map_err(anyhow::Error::msg)?;
            }
            let connection = connect(database).await?;
            let verification = service::audit::verify(&connection, &trust).await?;
            println!("audit chain {}", verification.summary());
            for problem in verification.revision_problems.iter().skip(1).take(19) {
                println!("  also: {}", problem.message);
            }
            match verification.status() {
                verify::Status::Intact => {}
                verify::Status::Unanchored => return Err(Unanchored.into()),
                verify::Status::Broken => anyhow::bail!("the audit chain is broken"),
            }
        }
    }
    Ok(())
}

async fn run_import(
    connection: &sea_orm::DatabaseConnection,
    file: &std::path::Path,
    dry_run: bool,
) -> anyhow::Result<()> {
    let input = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let rows = data_rows(file);
    let bar = indicatif::ProgressBar::new(rows);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {msg} [{bar:40}] {pos}/{len} rows ({eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message("checking");
    let mode = if dry_run {
        service::recording::Mode::DryRun
    } else {
        service::recording::Mode::Apply
    };
    let name = file.display().to_string();
    let result = service::import::import(
        connection,
        &operator(),
        &name,
        std::io::BufReader::new(input),
        mode,
        &|done| bar.set_position(done),
    )
    .await;
    bar.finish_and_clear();
    match result {
        Ok(recorded) if dry_run => println!(
            "{} rows checked: all valid, nothing stored (dry run)",
            recorded.checked
        ),
        Ok(recorded) => println!("imported {} observations", recorded.observations.len()),
        Err(crate::error::ApiError::InvalidItems { failures, total }) => {
            for failure in &failures {
                let line = failure
                    .line
                    .map(|l| format!("line {l}"))
                    .unwrap_or_else(|| format!("row {}", failure.index + 1));
                println!("{line}: {}: {}", failure.field, failure.message);
            }
            if total > failures.len() {
                println!("… and {} more", total - failures.len());
            }
            anyhow::bail!("{total} problems in {}; nothing was stored", file.display());
        }
        Err(error) => return Err(error.into()),
    }
    Ok(())
}

/// Data rows in a CSV file, read in one streaming pass, for the progress bar (quoted line breaks
/// make it an estimate).
fn data_rows(file: &std::path::Path) -> u64 {
    use std::io::BufRead;
    let Ok(input) = std::fs::File::open(file) else {
        return 0;
    };
    let mut reader = std::io::BufReader::new(input);
    let mut lines = 0u64;
    while let Ok(buffer) = reader.fill_buf() {
        if buffer.is_empty() {
            break;
        }
        lines += buffer.iter().filter(|&&b| b == b'\n').count() as u64;
        let read = buffer.len();
        reader.consume(read);
    }
    lines.saturating_sub(1)
}

pub async fn connect(database: &DatabaseSettings) -> anyhow::Result<sea_orm::DatabaseConnection> {
    db::connect(database)
        .await
        .with_context(|| format!("connecting to {}", database.redacted_url()))
}

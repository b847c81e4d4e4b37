//! The `smsauth` command: `serve` (the default) and the operator's commands.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use smsauth::commands::{self, ConfigCommand, KeysCommand, UsersCommand};
use smsauth::configuration::Settings;
use smsauth::startup::{Application, shutdown_signal};
use smsauth_core::ports::clock::SystemClock;

#[derive(Parser)]
#[command(
    name = "smsauth",
    version,
    about = "SMS one-time-code authentication server",
    long_about = "SMS one-time-code authentication server, wire-compatible with NocoBase's auth API.\n\n\
                  Settings come from ./smsauth.toml (or the file in SMSAUTH_CONFIG), then SMSAUTH_* \
                  environment variables, DATABASE_URL and REDIS_URL; smsauth.toml.example lists them all."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve {
        /// On an empty store, create a console SMS verifier and an SMS authenticator with
        /// auto sign-up, so the whole flow works at once on a laptop.
        #[arg(long)]
        dev: bool,
    },
    /// Run database migrations and exit (the server also runs them on start).
    Migrate,
    /// Write a consistent copy of the SQLite store to FILE while the server runs.
    ///
    /// The copy is taken in one read transaction (VACUUM INTO) and checked; FILE must not exist.
    /// For PostgreSQL, says how to use pg_dump instead. Back up the key files of the data
    /// directory too.
    Backup {
        /// Where to write the copy.
        file: PathBuf,
    },
    /// Recover access: reset a password, grant root.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Check the settings and every dependency.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage the token signing key.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Print the OpenAPI 3.1 document of the HTTP API (also served at /api/openapi.json).
    Openapi,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve { dev: false });
    if let Command::Openapi = command {
        println!("{:#}", smsauth::http::openapi::document());
        return ExitCode::SUCCESS;
    }
    let mut settings = match Settings::load() {
        Ok(s) => s,
        Err(e) if matches!(command, Command::Config(ConfigCommand::Check)) => {
            println!("FAIL settings   {e:#}");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("smsauth: {e:#}");
            return ExitCode::from(2);
        }
    };
    smsauth::telemetry::init(&settings.log_format);
    // The server's own failures go to its log; a command's to the operator's terminal.
    let logged = matches!(command, Command::Serve { .. } | Command::Migrate);
    let result = match command {
        Command::Serve { dev } => {
            settings.dev = dev;
            serve(settings).await
        }
        Command::Migrate => smsauth::backend::open(&settings)
            .await
            .map(|_| tracing::info!("migrations applied")),
        Command::Backup { file } => commands::backup::run(&settings, &file).await,
        Command::Users(users) => commands::users::run(&settings, users).await,
        Command::Keys(KeysCommand::Rotate) => commands::keys::run(&settings).await,
        Command::Config(ConfigCommand::Check) => {
            let lines = commands::check::run(&settings).await;
            for line in &lines {
                println!("{line}");
            }
            return if lines.iter().all(|l| l.ok) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            };
        }
        Command::Openapi => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if logged => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("smsauth: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let (in_file, in_env) = smsauth::configuration::unknown_keys();
    for key in in_file {
        tracing::warn!(key, file = %smsauth::configuration::settings_file(), "unknown setting ignored (misspelt?)");
    }
    for name in in_env {
        tracing::warn!(
            variable = name,
            "environment variable names no setting; ignored"
        );
    }
    let app = Application::build(settings, Arc::new(SystemClock)).await?;
    app.run_until_stopped(shutdown_signal()).await
}

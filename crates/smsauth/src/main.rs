//! `smsauth serve [--dev]` (the default) and `smsauth migrate`.

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use smsauth::configuration::Settings;
use smsauth::startup::{Application, shutdown_signal};
use smsauth_core::ports::clock::SystemClock;

#[derive(Parser)]
#[command(
    name = "smsauth",
    version,
    about = "SMS one-time-code authentication server"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (default).
    Serve {
        /// On an empty store, create a console SMS verifier and an SMS authenticator with
        /// auto sign-up, so the whole flow works at once on a laptop.
        #[arg(long)]
        dev: bool,
    },
    /// Run database migrations and exit.
    Migrate,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("smsauth: {e:#}");
            return ExitCode::from(2);
        }
    };
    smsauth::telemetry::init(&settings.log_format);
    let result = match cli.command.unwrap_or(Command::Serve { dev: false }) {
        Command::Serve { dev } => {
            settings.dev = dev;
            serve(settings).await
        }
        Command::Migrate => smsauth::backend::open(&settings)
            .await
            .map(|_| tracing::info!("migrations applied")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings, Arc::new(SystemClock)).await?;
    app.run_until_stopped(shutdown_signal()).await
}

//! `kiln`: the command line. Everything else lives in the library (`kiln_server`).

use anyhow::Context;
use clap::{Parser, Subcommand};
use kiln_server::settings::SettingsArgs;
use std::io::BufRead;

/// Kiln turns a description of an app into a live, working, tested app.
///
/// Every flag can also be given as the environment variable shown, or as a key of the same name
/// in kiln.toml (for example `data_dir = "/var/lib/kiln"`). Flags win over variables, variables
/// over the file, the file over the defaults.
#[derive(Parser)]
#[command(name = "kiln", version, about, long_about)]
struct Cli {
    #[command(flatten)]
    settings: SettingsArgs,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the portal (the default): web pages, JSON API and background workers.
    Serve,
    /// Run generation workers only (no web server): more machines on one Postgres database.
    /// KILN_WORKERS sets how many.
    Worker,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage portal accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// The templates generated apps are made from.
    Templates {
        #[command(subcommand)]
        command: TemplatesCommand,
    },
}

#[derive(Subcommand)]
enum TemplatesCommand {
    /// Print each template module with a line about it.
    List,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account, already verified (works when sign-up is closed). The password is read
    /// from KILN_USER_PASSWORD or, if unset, from the first line of standard input.
    Add {
        /// The account's email address.
        #[arg(long)]
        email: String,
        /// Make the account an operator (sees the mail outbox).
        #[arg(long)]
        operator: bool,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Templates { command: TemplatesCommand::List }) = &cli.command {
        for (name, about) in kiln_codegen::MODULES {
            println!("{name:<8} {about}");
        }
        println!("(template version {})", kiln_codegen::TEMPLATE_VERSION);
        return Ok(());
    }
    let settings = cli.settings.resolve()?;
    kiln_server::telemetry::init(settings.log_format, &settings.log);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let listener = tokio::net::TcpListener::bind(settings.addr)
                .await
                .with_context(|| format!("listening on {}", settings.addr))?;
            let addr = listener.local_addr()?;
            let kiln = kiln_server::build(settings, addr, Default::default()).await?;
            tracing::info!(
                url = %kiln.state.accounts.config().public_url,
                database = ?kiln.state.db.backend(),
                "Kiln is listening on http://{addr}"
            );
            kiln_server::serve(listener, kiln, kiln_server::shutdown_signal()).await
        }
        Command::Worker => {
            let kiln =
                kiln_server::build(settings.clone(), settings.addr, Default::default()).await?;
            kiln_server::run_workers(kiln, kiln_server::shutdown_signal()).await
        }
        Command::Migrate => {
            let db = kiln_server::open_database(&settings).await?;
            tracing::info!(database = ?db.backend(), "migrations applied");
            db.close().await;
            Ok(())
        }
        Command::Templates { .. } => Ok(()),
        Command::User { command: UserCommand::Add { email, operator } } => {
            let password = match std::env::var("KILN_USER_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    eprintln!("Password (at least 12 characters), then Enter:");
                    let mut line = String::new();
                    std::io::stdin().lock().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            let kiln =
                kiln_server::build(settings.clone(), settings.addr, Default::default()).await?;
            let user = kiln
                .state
                .accounts
                .create_user(&email, &password, true)
                .await
                .map_err(|e| anyhow::anyhow!("{}", kiln_core::ApiError::from(e)))?;
            if operator {
                kiln.state
                    .accounts
                    .make_operator(user.id)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            let role = if operator || user.operator { "operator" } else { "member" };
            println!("created user {} ({}, {role})", user.id, user.email);
            kiln.state.db.close().await;
            Ok(())
        }
    }
}

//! `sync-server`: run the server, create the first dispatcher, back up or restore the embedded
//! database, or print the OpenAPI document.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sync_server::Config;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(name = "sync-server", version, about = "The fieldcore sync server")]
struct Cli {
    /// TOML configuration file; environment (FIELDCORE_BIND, FIELDCORE_DATA_DIR,
    /// FIELDCORE_DATABASE_URL) and flags override it.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long, global = true)]
    bind: Option<SocketAddr>,
    /// Data directory: database, photo blobs, partial uploads (default ./data).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the device and dispatcher APIs (the default).
    Serve,
    /// Create a dispatcher, and their organisation if it does not exist yet.
    CreateDispatcher {
        #[arg(long)]
        org: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Better given as FIELDCORE_PASSWORD, to keep it out of the shell history.
        #[arg(long, env = "FIELDCORE_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Print the OpenAPI document (for this configuration's limits) and exit.
    Openapi,
    /// Back the embedded database and the photos up into a new directory, while the server
    /// keeps serving (SQLite's online backup; unfinished uploads are not kept).
    Backup {
        /// The directory to create.
        #[arg(long)]
        to: PathBuf,
    },
    /// Restore a backup into the (empty) data directory; then start the server on it.
    Restore {
        /// A directory `backup` made.
        #[arg(long)]
        from: PathBuf,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,tower_http=info")),
        )
        .init();
    let cli = Cli::parse();
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(bind) = cli.bind {
        config.bind = bind;
    }
    if let Some(dir) = cli.data_dir {
        config.data_dir = dir;
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::CreateDispatcher {
            org,
            email,
            name,
            password,
        } => {
            let (org_id, id) =
                sync_server::create_dispatcher(&config, &org, &email, &name, &password).await?;
            println!("dispatcher {id} ({email}) created in organisation {org_id} ({org})");
            Ok(())
        }
        Command::Backup { to } => {
            let c = tokio::task::spawn_blocking(move || sync_server::backup::backup(&config, &to))
                .await??;
            println!(
                "backed up: database {} bytes, {} photos",
                c.database_bytes, c.blobs
            );
            Ok(())
        }
        Command::Restore { from } => {
            let c =
                tokio::task::spawn_blocking(move || sync_server::backup::restore(&from, &config))
                    .await??;
            println!(
                "restored: database {} bytes, {} photos; {} unfinished uploads forgotten \
                 (phones upload those photos again)",
                c.database_bytes, c.blobs, c.uploads_forgotten
            );
            Ok(())
        }
        Command::Openapi => {
            let doc = sync_server::openapi::document(&config);
            println!("{}", serde_json::to_string_pretty(&doc)?);
            Ok(())
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let storage = sync_server::open_storage(&config).await?;
    if storage.dispatcher_count().await? == 0 {
        let how = format!(
            "no dispatcher yet; create one with:\n  FIELDCORE_PASSWORD='<password>' sync-server \
             --data-dir {} create-dispatcher --org '<organisation>' --email <email> --name '<name>'",
            config.data_dir.display()
        );
        tracing::warn!("{how}");
        eprintln!("{how}");
    }
    drop(storage);
    let server = sync_server::start(config).await?;
    println!("listening on {}", server.base_url());
    shutdown_signal().await.context("waiting for a signal")?;
    tracing::info!("shutting down; letting in-flight requests finish");
    server.shutdown().await;
    Ok(())
}

async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

//! The fieldcore sync server: devices enrol, push their events and pull their feed, upload
//! photos over tus; dispatchers run the desk. All of it validated by the one rulebook in
//! `fieldcore::domain`, stored behind the [`storage::Storage`] trait.
//!
//! The library is what the binary runs and what end-to-end tests start in-process:
//! [`start`] a server on a [`Config`], talk to it over HTTP, [`RunningServer::shutdown`] it.

pub mod api;
pub mod auth;
pub mod backup;
pub mod blobs;
pub mod clock;
pub mod config;
pub mod console;
pub mod error;
pub mod evidence;
pub mod idempotency;
pub mod ingest;
pub mod metrics;
pub mod notify;
pub mod openapi;
pub mod ratelimit;
pub mod serve;
pub mod storage;
pub mod tus;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

pub use clock::ServerClock;
pub use config::Config;

use ratelimit::RateLimiter;
use storage::Storage;
use storage::postgres::PgStorage;
use storage::sqlite::SqliteStorage;

/// What every handler gets.
#[derive(Debug, Clone)]
pub struct AppState {
    pub storage: Arc<dyn Storage>,
    /// Photo bytes, finished and unfinished: see [`blobs`].
    pub blobs: Arc<dyn blobs::BlobStore>,
    pub config: Arc<Config>,
    pub limiter: Arc<RateLimiter>,
    /// Tells the console's live streams that a job changed; see [`notify`].
    pub notifier: Arc<dyn notify::ChangeNotifier>,
    /// Turns `true` when the server stops, so long-lived responses (the console's event
    /// streams) end and graceful shutdown does not wait for browsers to close their tabs.
    pub stopping: Arc<tokio::sync::watch::Sender<bool>>,
}

impl AppState {
    pub fn new(
        storage: Arc<dyn Storage>,
        blobs: Arc<dyn blobs::BlobStore>,
        config: Config,
    ) -> Self {
        AppState {
            blobs,
            limiter: Arc::new(RateLimiter::new(
                config.rate_limit_per_second,
                config.rate_limit_burst,
            )),
            storage,
            config: Arc::new(config),
            notifier: Arc::new(notify::InProcess::default()),
            stopping: Arc::new(tokio::sync::watch::Sender::new(false)),
        }
    }

    /// Replace the in-process notifier, e.g. with one that reaches other server processes.
    pub fn with_notifier(mut self, notifier: Arc<dyn notify::ChangeNotifier>) -> Self {
        self.notifier = notifier;
        self
    }
}

/// Create the data directory and open (migrating) the database.
pub async fn open_storage(config: &Config) -> anyhow::Result<Arc<dyn Storage>> {
    tokio::fs::create_dir_all(&config.data_dir)
        .await
        .with_context(|| format!("creating {}", config.data_dir.display()))?;
    if let Some(url) = &config.database_url {
        let storage = PgStorage::open(url, config.database_pool_size)
            .await
            .context("opening the PostgreSQL database")?
            .with_feed_commit_delay(config.test_feed_commit_delay.clone())
            .with_write_deadline(write_deadline(config));
        return Ok(Arc::new(storage));
    }
    let path = config.database_path();
    let storage = tokio::task::spawn_blocking(move || SqliteStorage::open(&path))
        .await?
        .with_context(|| format!("opening {}", config.database_path().display()))?
        .with_write_deadline(write_deadline(config))
        .with_commit_delay(config.test_feed_commit_delay.clone());
    Ok(Arc::new(storage))
}

/// The write deadline, kept below the request timeout so a write never outlives its answer.
fn write_deadline(config: &Config) -> Duration {
    let request = config.request_timeout_secs.max(2);
    Duration::from_secs(config.write_timeout_secs.clamp(1, request - 1))
}

/// A server listening on [`RunningServer::addr`] until [`RunningServer::shutdown`].
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    state: AppState,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
    sweeper: JoinHandle<()>,
    webhooks: JoinHandle<()>,
}

impl RunningServer {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The server's state (storage, config, clock), for tests that look behind the API.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Forget expired uploads and sessions now, rather than at the next sweep.
    pub async fn sweep_now(&self) -> anyhow::Result<usize> {
        sweep(&self.state).await
    }

    /// Stop accepting connections, let in-flight requests finish, then return.
    pub async fn shutdown(mut self) {
        self.state.stopping.send_replace(true);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.sweeper.abort();
        self.webhooks.abort();
        match (&mut self.server).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "server stopped with an error"),
            Err(e) => tracing::error!(error = %e, "server task failed"),
        }
    }
}

async fn sweep(state: &AppState) -> anyhow::Result<usize> {
    let ids = state.storage.sweep(state.config.clock.now()).await?;
    for id in &ids {
        if let Err(e) = state.blobs.delete_partial(*id).await {
            tracing::warn!(error = %e, upload = %id, "sweep: removing the bytes failed");
        }
    }
    Ok(ids.len())
}

/// Open the storage, bind, and serve in the background.
pub async fn start(config: Config) -> anyhow::Result<RunningServer> {
    let webhook_client = webhooks::deliver::client(&config)?;
    let storage = open_storage(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("binding {}", config.bind))?;
    let addr = listener.local_addr()?;
    let notifier: Option<Arc<dyn notify::ChangeNotifier>> = match &config.database_url {
        // Several processes share the database: the console's live updates go through it.
        Some(url) => Some(Arc::new(
            notify::Postgres::start(url).context("starting the change listener")?,
        )),
        None => None,
    };
    let blobs = blobs::open(&config)
        .await
        .context("opening the blob store")?;
    let mut state = AppState::new(storage, blobs, config);
    if let Some(n) = notifier {
        state = state.with_notifier(n);
    }
    let app = api::router(state.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let header_timeout = Duration::from_secs(state.config.header_read_timeout_secs.max(1));
    let server = tokio::spawn(serve::serve(listener, app, header_timeout, async {
        let _ = stopped.await;
    }));
    let sweeper = {
        let state = state.clone();
        let every = Duration::from_secs(state.config.sweep_interval_secs.max(1));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                if let Err(e) = sweep(&state).await {
                    tracing::warn!(error = %e, "sweep failed");
                }
            }
        })
    };
    let webhooks = webhooks::deliver::spawn(state.clone(), webhook_client);
    tracing::info!(%addr, data_dir = %state.config.data_dir.display(), "sync server listening");
    Ok(RunningServer {
        addr,
        state,
        stop: Some(stop),
        server,
        sweeper,
        webhooks,
    })
}

/// Create a dispatcher (and their organisation, by name, if new). Returns (organisation id,
/// dispatcher id). Works beside a running server on the same data directory.
pub async fn create_dispatcher(
    config: &Config,
    org: &str,
    email: &str,
    name: &str,
    password: &str,
) -> anyhow::Result<(Uuid, Uuid)> {
    anyhow::ensure!(!org.trim().is_empty(), "the organisation needs a name");
    anyhow::ensure!(email.contains('@'), "{email:?} is not an email address");
    anyhow::ensure!(
        password.chars().count() >= 8,
        "use a password of 8 characters or more"
    );
    let storage = open_storage(config).await?;
    let hash = api::dispatcher::hash_password_blocking(password.to_string()).await?;
    Ok(storage
        .create_dispatcher(
            org.trim(),
            email.trim(),
            name.trim(),
            &hash,
            config.clock.now(),
        )
        .await?)
}

//! Server configuration: defaults, then an optional TOML file, then `FIELDCORE_*` environment
//! variables, then command-line flags (applied by `main`), each overriding the one before.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::clock::ServerClock;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where to listen. Port 0 picks a free port (tests).
    pub bind: SocketAddr,
    /// Holds `fieldcore.sqlite`, and without `object_store_url` also `blobs/` (photos by
    /// SHA-256) and `uploads/` (partial tus files): then every process must see the same
    /// directory (a shared volume).
    pub data_dir: PathBuf,
    /// `s3://<bucket>[/<prefix>]` (or `gs://`, `az://`): photos and unfinished uploads in
    /// object storage instead of `data_dir`, so server processes on different machines share
    /// them (ADR 0012). `None`: files under `data_dir`.
    pub object_store_url: Option<String>,
    /// Settings for that store, by object_store's keys (S3: `endpoint`, `region`,
    /// `allow_http`, `access_key_id`, `secret_access_key`, ...). Secrets are better left to the
    /// environment variables object_store reads too (`AWS_*`, `GOOGLE_*`, `AZURE_*`).
    pub object_store_options: std::collections::BTreeMap<String, String>,
    /// `postgres://user:pass@host:port/db`: PostgreSQL instead of the SQLite file, so several
    /// processes can serve one organisation. `None`: SQLite in `data_dir`.
    pub database_url: Option<String>,
    /// Connections per process to PostgreSQL; the server's `max_connections` must cover all
    /// processes.
    pub database_pool_size: usize,
    /// How long an enrolment code stays usable unless the dispatcher says otherwise.
    pub enrolment_code_ttl_minutes: i64,
    pub session_ttl_hours: i64,
    /// tus expiration: an unfinished upload is refused (410) and swept after this.
    pub upload_expiry_hours: i64,
    /// `Tus-Max-Size`: the largest photo accepted. One PATCH may carry all of an upload's
    /// remaining bytes (they stream to disk), so this is the only size limit a tus client meets.
    pub max_upload_bytes: u64,
    /// How long a PATCH that stopped sending keeps its upload locked: after this much silence
    /// the upload's next PATCH (the same phone on another network) takes it over, and the
    /// silent request writes nothing more. Until then others are answered 423.
    pub upload_lease_secs: u64,
    /// Origins whose browser scripts may call the API and upload (CORS), e.g.
    /// `["https://shop.example"]`. Empty (the default): no CORS headers, same origin only.
    pub cors_allowed_origins: Vec<String>,
    /// Unfinished uploads one technician's devices may hold open at once, by count and by
    /// declared bytes: a phone has a dozen photos in flight, not hundreds.
    pub max_open_uploads: u64,
    pub max_open_upload_bytes: u64,
    /// Body limit for JSON requests other than push.
    pub json_body_limit: usize,
    pub push_body_limit: usize,
    pub max_push_events: usize,
    /// Token bucket per bearer token (or per client address without one), in this process.
    pub rate_limit_per_second: f64,
    pub rate_limit_burst: f64,
    /// Requests other than tus PATCH that take longer are answered 408.
    pub request_timeout_secs: u64,
    /// A batch of events (a push, a desk action) that has not begun to commit this long after
    /// it was sent to the database is abandoned and answered 503 "nothing was stored": shorter
    /// than `request_timeout_secs`, so no write commits after its request was answered.
    pub write_timeout_secs: u64,
    /// A connection that has not sent a request's headers this long is closed.
    pub header_read_timeout_secs: u64,
    pub sweep_interval_secs: u64,
    /// Webhooks: how often each process looks for deliveries due (milliseconds).
    pub webhook_poll_ms: u64,
    /// The first retry waits this long (milliseconds); each next one twice as long, up to
    /// `webhook_max_backoff_secs`.
    pub webhook_backoff_ms: u64,
    pub webhook_max_backoff_secs: u64,
    /// Attempts before a delivery is given up (the desk can send it again from the log).
    pub webhook_max_attempts: u32,
    /// A receiver that has not answered in this long failed this attempt.
    pub webhook_timeout_secs: u64,
    /// Let deliveries go to loopback and private networks (tests; a receiver inside the
    /// deployment). Off: only public addresses (`webhooks::destination`).
    pub webhook_allow_private_networks: bool,
    /// Mark the console's cookies `Secure`: set it when browsers reach the server over https
    /// (directly or behind a TLS-terminating proxy); plain-http development needs it off.
    pub console_secure_cookies: bool,
    /// The server's clock; tests move it forward to expire things.
    #[serde(skip)]
    pub clock: ServerClock,
    /// Tests only, never configurable: pushes hold their transaction this long before they
    /// commit (on PostgreSQL after writing their feed rows), so a test can show the feed lock
    /// closing that window, or a write abandoned at its deadline.
    #[serde(skip)]
    pub test_feed_commit_delay: TestDelay,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            object_store_url: None,
            object_store_options: Default::default(),
            database_url: None,
            database_pool_size: 16,
            enrolment_code_ttl_minutes: 24 * 60,
            session_ttl_hours: 12,
            upload_expiry_hours: 24,
            max_upload_bytes: 64 * 1024 * 1024,
            upload_lease_secs: 8,
            cors_allowed_origins: Vec::new(),
            max_open_uploads: 32,
            max_open_upload_bytes: 512 * 1024 * 1024,
            json_body_limit: 2 * 1024 * 1024,
            push_body_limit: 8 * 1024 * 1024,
            max_push_events: 500,
            rate_limit_per_second: 50.0,
            rate_limit_burst: 100.0,
            request_timeout_secs: 60,
            write_timeout_secs: 20,
            header_read_timeout_secs: 10,
            sweep_interval_secs: 300,
            webhook_poll_ms: 1000,
            // 30 s, 1 min, 2 min ... 6 h: 16 attempts span about three days.
            webhook_backoff_ms: 30_000,
            webhook_max_backoff_secs: 6 * 3600,
            webhook_max_attempts: 16,
            webhook_timeout_secs: 10,
            webhook_allow_private_networks: false,
            console_secure_cookies: false,
            clock: ServerClock::default(),
            test_feed_commit_delay: TestDelay::default(),
        }
    }
}

/// Tests only: a delay the config shares with the storage it opened, so a test can set it while
/// the server runs (after its setup wrote what it needs).
#[derive(Debug, Clone, Default)]
pub struct TestDelay(Arc<AtomicU64>);

impl TestDelay {
    pub fn new(delay: Option<Duration>) -> Self {
        let d = TestDelay::default();
        d.set(delay);
        d
    }

    pub fn set(&self, delay: Option<Duration>) {
        let ms = delay.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        self.0.store(ms, Ordering::Relaxed);
    }

    pub fn get(&self) -> Option<Duration> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }
}

impl Config {
    /// For tests: a free port on loopback and the given data directory, defaults otherwise.
    pub fn for_tests(data_dir: impl Into<PathBuf>) -> Self {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data_dir.into(),
            ..Config::default()
        }
    }

    /// Defaults, overridden by the TOML file if given, then by the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
            }
            None => Config::default(),
        };
        if let Ok(bind) = std::env::var("FIELDCORE_BIND") {
            config.bind = bind
                .parse()
                .with_context(|| format!("FIELDCORE_BIND={bind:?}"))?;
        }
        if let Ok(dir) = std::env::var("FIELDCORE_DATA_DIR") {
            config.data_dir = PathBuf::from(dir);
        }
        if let Ok(url) = std::env::var("FIELDCORE_OBJECT_STORE_URL") {
            config.object_store_url = Some(url).filter(|u| !u.trim().is_empty());
        }
        if let Ok(url) = std::env::var("FIELDCORE_DATABASE_URL") {
            config.database_url = Some(url).filter(|u| !u.trim().is_empty());
        }
        Ok(config)
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("fieldcore.sqlite")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_toml_file_overrides_the_defaults_it_names() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "bind = \"0.0.0.0:9000\"\nmax_push_events = 10\n").unwrap();
        let c = Config::load(Some(&file)).unwrap();
        assert_eq!(c.bind.port(), 9000);
        assert_eq!(c.max_push_events, 10);
        assert_eq!(c.session_ttl_hours, 12);
    }
}

//! Harness for the end-to-end tests: the real sync server on 127.0.0.1, real device stores
//! (in-process, or the `fieldtech` binary as a separate process to kill), a dispatcher client
//! over the real HTTP API, and a fault-injecting proxy.

pub mod desk;
pub mod proxy;
pub mod server;

use std::path::PathBuf;

use fieldcore::domain::EventBody;
use fieldcore::store::{Store, StoreOptions};
use fieldcore::sync::{SyncClient, SyncConfig, SyncError, SyncReport};
use uuid::Uuid;

pub use desk::Desk;
pub use server::Server;

/// A technician's phone: its own store on disk and a sync client.
#[derive(Debug)]
pub struct Device {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub server_url: String,
    pub chunk_size: usize,
}

impl Device {
    pub fn new(server_url: &str) -> Device {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open_with(StoreOptions::new(dir.path().join("device.db"))).expect("store");
        Device {
            dir,
            store,
            server_url: server_url.to_string(),
            chunk_size: 64 * 1024,
        }
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("device.db")
    }

    pub fn client(&self) -> SyncClient {
        let mut config = SyncConfig::new(self.server_url.clone());
        config.chunk_size = self.chunk_size;
        config.backoff.base = std::time::Duration::from_millis(20);
        config.backoff.max = std::time::Duration::from_millis(400);
        config.backoff.attempts = 12;
        config.request_timeout = std::time::Duration::from_secs(5);
        SyncClient::new(config).expect("client")
    }

    pub fn enroll(&self, code: &str) {
        self.client()
            .enroll(&self.store, code, "test phone")
            .expect("enrol");
    }

    pub fn act(&self, job: Uuid, body: EventBody) -> fieldcore::domain::Event {
        let kind = body.kind();
        self.store
            .act(job, body)
            .unwrap_or_else(|e| panic!("{kind:?} refused: {e}"))
    }

    pub fn sync(&self) -> Result<SyncReport, SyncError> {
        self.client().sync(&self.store, &|_| {})
    }
}

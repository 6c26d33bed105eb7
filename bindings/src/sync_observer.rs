//! The sync progress callback: implemented in Kotlin or Swift, called from the syncing thread.

use fieldcore::sync::SyncReport;

/// Where a sync is. `Started` first; then any number of progress states; then exactly one of
/// `Finished` or `Failed`.
#[derive(Debug, Clone, uniffi::Enum)]
pub enum SyncState {
    Started,
    /// Sending the outbox: `sent` events so far, `pending` still in it.
    Pushing {
        sent: u32,
        pending: u64,
    },
    /// Receiving the desk's changes: `received` events applied so far.
    Pulling {
        received: u32,
    },
    /// Uploading one photo: `sent` of `total` bytes.
    Uploading {
        photo_id: String,
        sent: u64,
        total: u64,
    },
    Finished {
        report: SyncReport,
    },
    /// `code` is the `CoreError` variant's stable name (`network`, `unauthorized`, ...);
    /// `detail` is the message to show. The same error is returned by `sync`.
    Failed {
        code: String,
        detail: String,
    },
}

/// Told about a running sync. Called on the syncing thread: hand the state over to the UI
/// thread, return quickly and never throw.
#[uniffi::export(with_foreign)]
pub trait SyncObserver: Send + Sync {
    fn on_state(&self, state: SyncState);
}

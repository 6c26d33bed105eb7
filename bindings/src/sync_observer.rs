//! The sync progress callback (implemented in Kotlin or Swift, called from the syncing thread),
//! the typed failure it ends with, and the one retry rule the platforms' schedulers follow.

use std::time::Duration;

use fieldcore::sync::{SyncReport, next_sync_delay};

/// Where a sync is. `Started` first; then any number of progress states; then exactly one of
/// `Finished`, `Failed` or `Cancelled`.
#[derive(Debug, Clone, uniffi::Enum)]
pub enum SyncState {
    Started,
    /// Sending the outbox: `sent` events so far, `pending` still in it; of the batch on its
    /// way, `batch_bytes_sent` of `batch_bytes` have left the phone.
    Pushing {
        sent: u32,
        pending: u64,
        batch_bytes_sent: u64,
        batch_bytes: u64,
    },
    /// Receiving the desk's changes: `received` events applied so far.
    Pulling {
        received: u32,
    },
    /// Uploading photo `number` of `count` (its job and category say which): `sent` of its
    /// `total` bytes have left the phone, `sync_sent` of `sync_total` over the whole sync.
    /// Both only move forward.
    Uploading {
        photo_id: String,
        job_id: String,
        category: String,
        number: u32,
        count: u32,
        sent: u64,
        total: u64,
        sync_sent: u64,
        sync_total: u64,
    },
    Finished {
        report: SyncReport,
    },
    /// The same error is returned by `sync`, as a `CoreError`.
    Failed {
        failure: SyncFailure,
    },
    /// Stopped through the interrupt handle; what was done before the stop is kept.
    Cancelled,
}

/// Why a sync did not finish, typed for the app's status line and its scheduler.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SyncFailure {
    pub kind: FailureKind,
    /// The server's HTTP status, when it answered with an error.
    pub http_status: Option<u16>,
    /// The server's `Retry-After`, in seconds, when it gave one (429, 503, 423).
    pub retry_after_secs: Option<u64>,
    /// Whether the same sync may succeed later on its own (network, server overload): the
    /// core's own rule, which [`retry_delay_secs`] schedules.
    pub transient: bool,
    /// The message to show.
    pub detail: String,
    /// What got through before the sync gave up (events pushed, photos finished, what still
    /// waits), for the summary beside the failure.
    pub report: SyncReport,
}

/// What kind of failure, one per `CoreError` variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum FailureKind {
    Refused,
    NotEnrolled,
    Unauthorized,
    EnrolmentRefused,
    Network,
    Server,
    InvalidPhoto,
    StorageFull,
    Storage,
    InvalidInput,
    Cancelled,
}

/// How long the app's background scheduler waits before syncing again after `failure`, the
/// `attempt`-th failure in a row (1 = the first); `None`: do not retry on a timer (the
/// technician must act: enrol again, free space). Android's worker and iOS's background task
/// both ask this rather than keep a retry rule of their own.
#[uniffi::export]
pub fn retry_delay_secs(failure: SyncFailure, attempt: u32) -> Option<u64> {
    next_sync_delay(
        failure.transient,
        failure.retry_after_secs.map(Duration::from_secs),
        attempt,
    )
    .map(|d| d.as_secs())
}

/// Told about a running sync. Called on the syncing thread: hand the state over to the UI
/// thread, return quickly and never throw.
#[uniffi::export(with_foreign)]
pub trait SyncObserver: Send + Sync {
    fn on_state(&self, state: SyncState);
}

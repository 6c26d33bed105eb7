//! Everything the server keeps, behind one trait.
//!
//! Handlers speak only to [`Storage`]: no SQL outside `storage/`. The embedded default is
//! [`sqlite::SqliteStorage`]; [`postgres::PgStorage`] (the scale-out path in design.md, chosen by
//! `Config::database_url`) is a second `impl Storage` with the same semantics, so no handler
//! changes. Each method is one
//! transaction: what it promises (an event stored once, a code used once, an offset persisted)
//! holds under concurrent requests and across processes sharing the database.

pub mod leases;
pub mod postgres;
pub mod sqlite;

pub use leases::UploadLeases;

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use fieldcore::domain::{
    ChecklistTemplate, Event, JobNumber, JobView, Lang, Policy, Refusal, Rulebook,
};
use fieldcore::protocol::{EventFlag, PushResult};
use serde::Serialize;
use uuid::Uuid;

use crate::webhooks::{Attempt, DeliveryLog, DueDelivery, Endpoint};

/// What went wrong below the handlers. Callers map it to a 500 (or 503) problem.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("postgres: {0}")]
    Pg(#[from] tokio_postgres::Error),
    /// No connection from the pool (the database is down or every connection is busy).
    #[error("postgres pool: {0}")]
    Pool(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error(
        "the database was written by a newer server (schema {found}, this build knows {known})"
    )]
    TooNew { found: i64, known: i64 },
    #[error("{0} already exists")]
    Conflict(String),
    #[error("background task failed: {0}")]
    Join(String),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The write could not begin to commit before its deadline and was abandoned: nothing of it
    /// was stored, so the request may say so and the client may retry.
    #[error("the database is busy; nothing was stored")]
    Busy,
    /// Enrolment named a device id that belongs to another technician or organisation.
    #[error("this device id is enrolled for someone else")]
    DeviceTaken,
}

pub type Result<T> = std::result::Result<T, StorageError>;

#[derive(Debug, Clone, Serialize)]
pub struct Organisation {
    pub id: Uuid,
    pub name: String,
    pub policy: Policy,
    pub checklist: ChecklistTemplate,
}

impl Organisation {
    pub fn rulebook(&self) -> Rulebook {
        Rulebook::new(self.policy.clone(), self.checklist.clone())
    }
}

#[derive(Debug, Clone)]
pub struct Dispatcher {
    pub id: Uuid,
    pub organisation_id: Uuid,
    pub email: String,
    pub name: String,
    /// PHC string (argon2id); never leaves the server.
    pub password_hash: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Technician {
    pub id: Uuid,
    pub organisation_id: Uuid,
    pub name: String,
    pub phone: String,
    pub created_at: DateTime<Utc>,
}

/// Who a device token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceIdentity {
    pub device_id: Uuid,
    pub technician_id: Uuid,
    pub organisation_id: Uuid,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Device {
    pub id: Uuid,
    pub technician_id: Uuid,
    pub name: String,
    pub enrolled_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_seen_at: Option<DateTime<Utc>>,
}

/// Who writes a batch of events: a device (the field record) or a dispatcher (the desk).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    Technician {
        technician_id: Uuid,
        device_id: Uuid,
        /// The key the device sent with its push (the server keeps the first: ADR 0016).
        public_key: Option<[u8; 32]>,
    },
    Dispatcher {
        dispatcher_id: Uuid,
    },
}

/// An event on its way in: `corrected_at` already set, with what the clock check noticed, or
/// why its time cannot be believed (then it is rejected with that refusal, and kept as such).
#[derive(Debug, Clone)]
pub struct Incoming {
    pub event: Event,
    pub flags: Vec<EventFlag>,
    pub refused: Option<Refusal>,
}

/// Whether a write may still commit. The request waiting for a write gives up (its deadline
/// passed, or its client went away) only while the write has not begun to commit; a write
/// commits only if nobody gave up on it. So an answer never says "not stored" about a write that
/// was stored, and no write commits after its request was answered with a timeout.
#[derive(Debug, Clone, Default)]
pub struct CommitGate(Arc<AtomicU8>);

const GATE_OPEN: u8 = 0;
const GATE_COMMITTING: u8 = 1;
const GATE_CANCELLED: u8 = 2;

impl CommitGate {
    /// Called by the write right before its commit: `false` means abandon (roll back).
    pub fn begin_commit(&self) -> bool {
        self.0
            .compare_exchange(
                GATE_OPEN,
                GATE_COMMITTING,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    /// Called by the waiter: `true` if the write will not commit (now or ever).
    pub fn cancel(&self) -> bool {
        match self.0.compare_exchange(
            GATE_OPEN,
            GATE_CANCELLED,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => true,
            Err(state) => state == GATE_CANCELLED,
        }
    }

    /// A commit that failed stored nothing: the batch may try again (PostgreSQL retries a
    /// serialisation failure).
    pub fn reopen(&self) {
        let _ = self.0.compare_exchange(
            GATE_COMMITTING,
            GATE_OPEN,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }

    /// Whether the waiter already gave up (a write checks before starting its work).
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Acquire) == GATE_CANCELLED
    }
}

/// Gives up on a write when the future waiting for it is dropped (the request timed out or the
/// client went away); harmless once the write has begun to commit.
struct CancelOnDrop(CommitGate);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// Wait for a spawned write at most `deadline`. If it has not begun to commit by then it is
/// cancelled and the answer is [`StorageError::Busy`]; if it has, its real outcome is awaited
/// (a commit takes milliseconds), so the answer is what happened.
pub(crate) async fn run_gated<T>(
    deadline: std::time::Duration,
    gate: CommitGate,
    mut work: tokio::task::JoinHandle<Result<T>>,
) -> Result<T> {
    let _cancel = CancelOnDrop(gate.clone());
    let joined = match tokio::time::timeout(deadline, &mut work).await {
        Ok(joined) => joined,
        Err(_) if gate.cancel() => return Err(StorageError::Busy),
        Err(_) => work.await,
    };
    joined.map_err(|e| StorageError::Join(e.to_string()))?
}

/// The schema step (on both databases) at which every job's view is folded again from its log:
/// views cached by builds before ADR 0007 follow today's rules after it.
pub(crate) const VIEWS_REBUILT_AT: usize = 3;

/// How long an idempotency key (and the answer under it) is kept.
pub const IDEMPOTENCY_KEEP_HOURS: i64 = 24;
/// A webhook event type as stored; anything else is a corrupt row.
pub(crate) fn stored_event_type(kind: &str) -> Result<crate::webhooks::WebhookEvent> {
    crate::webhooks::WebhookEvent::parse(kind)
        .ok_or_else(|| StorageError::Corrupt(format!("webhook event type {kind}")))
}

/// How long a finished webhook delivery (delivered or given up) stays in the log.
pub const WEBHOOK_LOG_KEEP_DAYS: i64 = 30;

/// A desk request's answer, kept under its idempotency key and replayed to a retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct StoredResponse {
    pub status: u16,
    /// The headers worth replaying (content type, location).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What an idempotency key says about a request that carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// First time (or a stale attempt that died): run it; the key is now held for it.
    Fresh,
    /// The same key is being answered right now by another request.
    InProgress,
    /// The key was used for a different request.
    Mismatch,
    /// Answered before: replay this.
    Done(StoredResponse),
}

/// One stored event as the desk's timeline shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TimelineEntry {
    pub event: Event,
    pub server_received_at: DateTime<Utc>,
    pub corrected_at: DateTime<Utc>,
    pub flags: Vec<EventFlag>,
}

/// A refused event, kept so the desk can see what a device tried.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Rejection {
    /// The event as the device sent it: it may break the limits it was refused for.
    #[schema(value_type = Object)]
    pub event: Event,
    pub rule: String,
    pub message: String,
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Photo {
    pub photo_id: Uuid,
    pub job_id: Uuid,
    pub organisation_id: Uuid,
    pub category: String,
    pub sha256: String,
    /// Relative to the data directory; `None` until the bytes arrived and matched the hash.
    pub blob_path: Option<String>,
    pub content_type: Option<String>,
}

#[derive(Debug, Clone)]
pub struct JobRow {
    pub view: JobView,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct JobDetail {
    pub view: JobView,
    pub timeline: Vec<TimelineEntry>,
    pub photos: Vec<Photo>,
    pub rejections: Vec<Rejection>,
    /// Stored entries that could not be read back: listed, never a reason to hide the job.
    pub unreadable: Vec<UnreadableEntry>,
}

/// A stored event or rejection this build cannot read back (damaged, or stored by a build that
/// accepted what this one cannot parse). One such row marks itself on the job's page; it never
/// makes the whole job unreadable (a hostile phone must not be able to hide a job's evidence).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UnreadableEntry {
    /// `event` or `rejection`.
    #[schema(value_type = UnreadableKind)]
    pub what: &'static str,
    pub id: String,
    pub problem: String,
}

/// What an unreadable entry was (the schema of [`UnreadableEntry::what`]).
#[derive(Debug, utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum UnreadableKind {
    Event,
    Rejection,
}

/// The device whose chain an event is in, and its place there: the columns stored beside it
/// (ADR 0017). A desk event is in none, and nor is a refused event that named another device
/// than the one that sent it (`wrong_device`).
pub(crate) fn chain_place(event: &Event, rule: Option<&str>) -> (Option<Uuid>, Option<i64>) {
    match event.actor {
        fieldcore::domain::Actor::Technician { device_id, .. }
            if rule != Some(crate::ingest::WRONG_DEVICE) =>
        {
            (Some(device_id), event.device_seq)
        }
        _ => (None, None),
    }
}

/// Stored event JSON read back and put in its device's order (`device_seq`), each id once
/// (the first row of it wins); unreadable rows are left out.
pub(crate) fn in_device_order<'a>(rows: impl Iterator<Item = &'a str>) -> Vec<Event> {
    let mut seen = std::collections::HashSet::new();
    let mut events: Vec<Event> = rows
        .filter_map(|j| serde_json::from_str::<Event>(j).ok())
        .filter(|e| seen.insert(e.id))
        .collect();
    // Stable: of two rows with one sequence, the first read stays first.
    events.sort_by_key(|e| e.device_seq);
    events
}

/// Read each row; the ones that fail go to `unreadable` instead of failing the whole read.
pub(crate) fn read_each<R, T>(
    rows: impl IntoIterator<Item = R>,
    what: &'static str,
    id: impl Fn(&R) -> String,
    read: impl Fn(R) -> Result<T>,
    unreadable: &mut Vec<UnreadableEntry>,
) -> Vec<T> {
    let mut out = Vec::new();
    for row in rows {
        let id = id(&row);
        match read(row) {
            Ok(t) => out.push(t),
            Err(e) => {
                tracing::warn!(what, id = %id, error = %e, "stored entry unreadable");
                unreadable.push(UnreadableEntry {
                    what,
                    id,
                    problem: e.to_string(),
                });
            }
        }
    }
    out
}

#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub status: Option<String>,
    pub technician_id: Option<Uuid>,
}

#[derive(Debug, Clone)]
pub struct FeedPage {
    pub events: Vec<Event>,
    /// The server's log sequence of each event (parallel to `events`): its place in the
    /// order of record.
    pub seqs: Vec<i64>,
    /// Feed position of the last event returned (or the cursor given, if none).
    pub last_position: i64,
    pub has_more: bool,
}

/// A tus upload in progress.
#[derive(Debug, Clone)]
pub struct Upload {
    pub id: Uuid,
    pub organisation_id: Uuid,
    pub technician_id: Uuid,
    pub photo_id: Uuid,
    pub job_id: Uuid,
    pub sha256: String,
    pub length: u64,
    pub offset: u64,
    /// `Upload-Metadata` as the client sent it at creation, returned on HEAD as tus requires.
    pub metadata: Option<String>,
    pub expires_at: DateTime<Utc>,
    /// The serialized SHA-256 state over bytes `0..offset` (`None`: not known, as for uploads
    /// begun before it was kept; the last byte then reads the file again).
    pub hash_state: Option<Vec<u8>>,
    /// The photo is linked to the stored blob: nothing is left to do for this upload.
    pub completed: bool,
}

/// Why the storage would not let a technician upload for a photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoAccess {
    /// The photo record exists, matches, and its job is the technician's.
    Allowed,
    /// No such photo for that job in this organisation, or the hash differs.
    NoRecord,
    /// The job is not (or no longer) this technician's.
    NotYours,
}

#[async_trait]
pub trait Storage: Send + Sync + std::fmt::Debug {
    /// A cheap round trip that proves the database answers.
    async fn health(&self) -> Result<()>;

    // --- organisations and dispatchers
    /// Create the organisation (by name) if needed, then the dispatcher.
    async fn create_dispatcher(
        &self,
        org_name: &str,
        email: &str,
        name: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(Uuid, Uuid)>;
    async fn dispatcher_count(&self) -> Result<u64>;
    async fn dispatcher_by_email(&self, email: &str) -> Result<Option<Dispatcher>>;
    async fn organisation(&self, id: Uuid) -> Result<Option<Organisation>>;
    /// Draw the organisation's next job number, in a write of its own (committed before the
    /// job is: a job the rulebook then refuses leaves a gap, never a number used twice).
    async fn next_job_number(&self, org: Uuid) -> Result<JobNumber>;
    async fn create_session(
        &self,
        token_hash: &str,
        dispatcher_id: Uuid,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// The dispatcher behind an unexpired session.
    async fn session(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<Dispatcher>>;
    async fn delete_session(&self, token_hash: &str) -> Result<()>;

    // --- technicians and devices
    async fn create_technician(
        &self,
        org: Uuid,
        name: &str,
        phone: &str,
        now: DateTime<Utc>,
    ) -> Result<Technician>;
    async fn technicians(&self, org: Uuid) -> Result<Vec<Technician>>;
    async fn technician(&self, org: Uuid, id: Uuid) -> Result<Option<Technician>>;
    async fn create_enrolment_code(
        &self,
        org: Uuid,
        technician_id: Uuid,
        code_hash: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Use up an unexpired, unused code and register the device under a new token, atomically.
    /// `None`: the code is unknown, used or expired (the caller cannot tell which, on purpose).
    async fn enroll_device(
        &self,
        code_hash: &str,
        now: DateTime<Utc>,
        device_id: Uuid,
        device_name: &str,
        token_hash: &str,
    ) -> Result<Option<DeviceIdentity>>;
    /// The device behind a token that is not revoked.
    async fn device_by_token(&self, token_hash: &str) -> Result<Option<DeviceIdentity>>;
    async fn devices(&self, org: Uuid) -> Result<Vec<Device>>;
    /// `false` if the device is not in this organisation.
    async fn revoke_device(&self, org: Uuid, device_id: Uuid, now: DateTime<Utc>) -> Result<bool>;

    // --- events, jobs, feeds
    /// Check each event with the rulebook against the job as it stands, in order, and store the
    /// accepted ones with their effect on the job view and the technicians' feeds; all in one
    /// transaction. Repeating a batch answers `duplicate` for what is already stored.
    async fn append_events(
        &self,
        org: Uuid,
        writer: Writer,
        rulebook: Rulebook,
        events: Vec<Incoming>,
        received_at: DateTime<Utc>,
        lang: Lang,
    ) -> Result<Vec<PushResult>>;
    /// A page of the technician's feed after `after` (a feed position; 0 = from the start).
    async fn feed(&self, technician_id: Uuid, after: i64, limit: usize) -> Result<FeedPage>;
    async fn jobs(&self, org: Uuid, filter: JobFilter) -> Result<Vec<JobRow>>;
    async fn job(&self, org: Uuid, id: Uuid) -> Result<Option<JobDetail>>;
    /// A device's registered key and its events, stored and refused, whose `device_seq` is in
    /// `from..=to`, in the device's order: the stretch of its chain an evidence bundle shows
    /// (ADR 0017). A row that cannot be read back is left out; the bundle's check then shows
    /// the hole it leaves.
    async fn device_chain(
        &self,
        org: Uuid,
        device: Uuid,
        from: i64,
        to: i64,
    ) -> Result<(Option<String>, Vec<Event>)>;

    // --- photos and uploads
    async fn photo(&self, org: Uuid, photo_id: Uuid) -> Result<Option<Photo>>;
    async fn photo_access(
        &self,
        who: DeviceIdentity,
        photo_id: Uuid,
        job_id: Uuid,
        sha256: &str,
    ) -> Result<PhotoAccess>;
    async fn create_upload(&self, upload: &Upload, now: DateTime<Utc>) -> Result<()>;
    /// Unfinished, unexpired uploads (the technician's, or everyone's): how many, and their
    /// declared bytes.
    async fn open_uploads(
        &self,
        technician_id: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<(u64, u64)>;
    /// The upload if it belongs to this technician (expired ones included: the caller says 410).
    async fn upload(&self, technician_id: Uuid, id: Uuid) -> Result<Option<Upload>>;
    /// Move the offset from `from` to `to`, with the hash state over bytes `0..to`, if the
    /// request holding `lease` still holds it at `now`; `false` if another request moved the
    /// offset first or took the lease over (its bytes may then be in the file instead).
    async fn advance_upload(
        &self,
        id: Uuid,
        from: u64,
        to: u64,
        hash_state: Option<Vec<u8>>,
        lease: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool>;
    async fn delete_upload(&self, id: Uuid) -> Result<()>;
    /// Who may write each upload's bytes (one request at a time): see [`leases`].
    fn leases(&self) -> &dyn UploadLeases;
    /// Link the photo to its stored bytes (once: a linked photo stays as it is) and close the
    /// upload. `content_type` is what the bytes are (sniffed), never what the client declared.
    async fn complete_upload(
        &self,
        id: Uuid,
        photo_id: Uuid,
        blob_path: &str,
        content_type: &str,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Forget expired uploads, sessions, idempotency keys and finished webhook deliveries older
    /// than [`WEBHOOK_LOG_KEEP_DAYS`]; returns the upload ids whose files to delete.
    async fn sweep(&self, now: DateTime<Utc>) -> Result<Vec<Uuid>>;
    /// Take the key for a request (fingerprint: what the request was), or say why not. A
    /// pending key older than `stale_before` belonged to an attempt that died: taken over.
    async fn idempotency_begin(
        &self,
        org: Uuid,
        key: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<IdempotencyBegin>;
    /// Keep the answer under the key.
    async fn idempotency_finish(
        &self,
        org: Uuid,
        key: &str,
        response: &StoredResponse,
    ) -> Result<()>;
    /// Let the key go (the request failed; a retry runs it again).
    async fn idempotency_abort(&self, org: Uuid, key: &str) -> Result<()>;

    // --- webhooks (`crate::webhooks`). Deliveries are created by `append_events`, in the
    // transaction that stores their events.
    async fn create_webhook(&self, endpoint: &Endpoint) -> Result<()>;
    async fn webhooks(&self, org: Uuid) -> Result<Vec<Endpoint>>;
    /// Remove the endpoint and its deliveries; false if the organisation has no such endpoint.
    async fn delete_webhook(&self, org: Uuid, id: Uuid) -> Result<bool>;
    /// Lease up to `limit` deliveries due at `now` (not delivered, not given up, no live lease)
    /// until `lease_until`, oldest first.
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DueDelivery>>;
    /// Record an attempt and release the lease, if `lease` still holds it (a sender whose lease
    /// lapsed and was taken by another records nothing).
    async fn finish_delivery(
        &self,
        id: Uuid,
        lease: Uuid,
        attempt: Attempt,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// The organisation's latest deliveries, newest first.
    async fn deliveries(&self, org: Uuid, limit: usize) -> Result<Vec<DeliveryLog>>;
    /// Send a delivery again now (given up or waiting), with a fresh series of retries; false
    /// if the organisation has no such delivery or it was delivered.
    async fn retry_delivery(&self, org: Uuid, id: Uuid, now: DateTime<Utc>) -> Result<bool>;
}

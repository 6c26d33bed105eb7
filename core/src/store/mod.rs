//! The device's durable store (SQLite, WAL, `synchronous = FULL`).
//!
//! The one promise: an action either returned `Ok` and is on disk, with its event in the outbox
//! and its effect on the job's view, or it did not happen at all. Each action is one immediate
//! transaction that reads the job's view, asks the rulebook, appends the event and writes the new
//! view. Nothing is ever updated in place without its event.

#[cfg(feature = "photo")]
mod capture;
mod clock;
mod error;
#[cfg(feature = "photo")]
mod housekeeping;
mod job_ref;
mod photos;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[cfg(feature = "photo")]
pub use capture::{CapturedPhoto, CapturedSignature};
pub use clock::{Clock, SystemClock};
pub use error::{ActionError, StoreError};
#[cfg(feature = "photo")]
pub use housekeeping::{HousekeepingPolicy, HousekeepingReport};
pub use job_ref::{JobLookupError, SHORT_ID_MIN, short_ids};
pub use photos::PendingPhoto;
pub use schema::{CURRENT_VERSION, V1 as SCHEMA_V1};

use crate::domain::{
    ActionKind, Actor, Event, EventBody, JobKind, JobStatus, JobView, Missing, PhotoCategory,
    Refusal, Rule, Rulebook, ScheduleConflict, Timer, Visit,
};

/// Where an event stands with the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushState {
    /// In the outbox, not yet answered by the server.
    Pending,
    Accepted,
    /// The server had it already (a retried push): as good as accepted.
    Duplicate,
    /// The server refused it; it stays visible to the technician as a conflict.
    Rejected,
    /// It came from the server in the first place.
    Remote,
}

impl PushState {
    fn as_str(self) -> &'static str {
        match self {
            PushState::Pending => "pending",
            PushState::Accepted => "accepted",
            PushState::Duplicate => "duplicate",
            PushState::Rejected => "rejected",
            PushState::Remote => "remote",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "pending" => PushState::Pending,
            "accepted" => PushState::Accepted,
            "duplicate" => PushState::Duplicate,
            "rejected" => PushState::Rejected,
            "remote" => PushState::Remote,
            other => return Err(StoreError::Corrupt(format!("unknown push state {other:?}"))),
        })
    }
}

/// One line of a job's timeline as the technician sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub event: Event,
    pub push_state: PushState,
    /// The server's reason, for a rejected event.
    pub push_note: Option<String>,
    /// For a pending event: why it no longer fits on top of the server's log (the job was
    /// reassigned or cancelled meanwhile, ...). The server will most likely say the same.
    pub conflict: Option<Refusal>,
    /// Whether the server has confirmed it (it is in the server's log, in the server's order,
    /// with the server's corrected time).
    pub confirmed: bool,
    /// For a photo taken on this device: whether its bytes reached the server. The event
    /// (the record) and the photo (the bytes) travel apart: one may be synced, the other not.
    pub photo_upload: Option<PhotoUpload>,
}

/// Where a photo's bytes stand, as the timeline shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhotoUpload {
    /// On the phone only, queued for the next sync.
    Waiting,
    Uploaded,
}

/// One file to record beside its event.
#[derive(Clone)]
pub(crate) struct FileRow<'a> {
    pub photo_id: Uuid,
    pub category: crate::domain::PhotoCategory,
    pub sha256: &'a str,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    pub path: &'a std::path::Path,
    /// Files that go with it (thumbnail, signature strokes): checked like `path`.
    pub companions: Vec<&'a std::path::Path>,
    pub location: Option<crate::domain::GeoPoint>,
}

/// A job as the list shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSummary {
    pub id: Uuid,
    /// What a person reads out and types: unique among this device's jobs (see [`short_ids`]).
    pub short_id: String,
    /// The organisation's number for the job (`J-1042`), the one the desk and the customer use.
    pub number: Option<crate::domain::JobNumber>,
    pub kind: JobKind,
    pub status: JobStatus,
    pub customer_name: String,
    pub address: String,
    pub appointment_at: Option<DateTime<Utc>>,
    /// The appointment's date in the organisation's local time.
    pub appointment_day: Option<NaiveDate>,
    /// The desk gave this job to another technician (this device worked on it): it shows what
    /// was kept and sent, and offers nothing more to do.
    pub reassigned_away: bool,
    /// My other visits too close to this one (`domain::schedule`): a warning, the same the desk
    /// sees on the job.
    #[serde(default)]
    pub schedule_conflicts: Vec<ScheduleConflict>,
}

/// One job with everything the job screen shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobDetail {
    pub view: JobView,
    /// See [`JobSummary::short_id`].
    pub short_id: String,
    pub status: JobStatus,
    /// See [`JobSummary::reassigned_away`].
    pub reassigned_away: bool,
    pub next_actions: Vec<ActionKind>,
    /// The photo categories the core accepts now (`Rulebook::photo_categories`).
    pub photo_categories: Vec<PhotoCategory>,
    pub completion_missing: Vec<Missing>,
    pub timers: Vec<Timer>,
    pub timeline: Vec<TimelineEntry>,
    /// See [`JobSummary::schedule_conflicts`].
    #[serde(default)]
    pub schedule_conflicts: Vec<ScheduleConflict>,
}

/// Which of my jobs to list. Empty filters list everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    pub statuses: Vec<JobStatus>,
    pub day: Option<NaiveDate>,
}

/// What applying a page of remote events did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemoteApplied {
    pub applied: usize,
    /// This device's own events echoed back: now confirmed, with the server's time and order.
    pub confirmed: usize,
    /// Already here and confirmed (a page fetched twice).
    pub already_known: usize,
    /// For a job this device was never told about; kept out of the log.
    pub orphaned: usize,
}

/// How to open a store. `new` gives the defaults an app wants: photos beside the database, the
/// default rulebook (replaced by the organisation's at enrolment), the system clock.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub path: PathBuf,
    pub photo_dir: PathBuf,
    pub rulebook: Rulebook,
    pub clock: Arc<dyn Clock>,
}

impl StoreOptions {
    pub fn new(path: impl AsRef<Path>) -> Self {
        let path = path.as_ref().to_path_buf();
        let photo_dir = path
            .parent()
            .map(|d| d.join("photos"))
            .unwrap_or_else(|| PathBuf::from("photos"));
        StoreOptions {
            path,
            photo_dir,
            rulebook: Rulebook::default(),
            clock: Arc::new(SystemClock),
        }
    }
}

#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
    photo_dir: PathBuf,
    /// The organisation's rules: the default until enrolment brings the organisation's own.
    rulebook: RwLock<Rulebook>,
    clock: Arc<dyn Clock>,
    device_id: Uuid,
    /// Captures between their first file write and their record: housekeeping leaves the photo
    /// directory alone while any runs (they may be reusing a file it would delete).
    #[cfg_attr(not(feature = "photo"), allow(dead_code))]
    captures: std::sync::atomic::AtomicUsize,
}

const RULEBOOK_KEY: &str = "rulebook";

/// The policy and checklist as persisted (the organisation's, from enrolment).
#[derive(Serialize, Deserialize)]
struct SavedRulebook {
    policy: crate::domain::Policy,
    checklist: crate::domain::ChecklistTemplate,
}

pub(crate) fn ts(t: DateTime<Utc>) -> String {
    // Fixed width, so text order is time order in SQL.
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn parse_uuid(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|e| StoreError::Corrupt(format!("bad id {s:?}: {e}")))
}

impl Store {
    /// Open (or create) the store at `path` with the system clock.
    pub fn open(path: impl AsRef<Path>, rulebook: Rulebook) -> Result<Store, StoreError> {
        Self::open_with_clock(path, rulebook, Arc::new(SystemClock))
    }

    pub fn open_with_clock(
        path: impl AsRef<Path>,
        rulebook: Rulebook,
        clock: Arc<dyn Clock>,
    ) -> Result<Store, StoreError> {
        let mut options = StoreOptions::new(path);
        options.rulebook = rulebook;
        options.clock = clock;
        Self::open_with(options)
    }

    pub fn open_with(options: StoreOptions) -> Result<Store, StoreError> {
        let StoreOptions {
            path,
            photo_dir,
            rulebook,
            clock,
        } = options;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut conn = Connection::open(&path)?;
        schema::setup_pragmas(&conn)?;
        schema::migrate(&mut conn, &rulebook.policy)?;
        let device_id = {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let existing: Option<String> = tx
                .query_row("SELECT device_id FROM device", [], |r| r.get(0))
                .optional()?;
            let id = match existing {
                Some(s) => parse_uuid(&s)?,
                None => {
                    let id = Uuid::now_v7();
                    tx.execute(
                        "INSERT INTO device (singleton, device_id) VALUES (1, ?1)",
                        params![id.to_string()],
                    )?;
                    id
                }
            };
            tx.commit()?;
            id
        };
        let rulebook = match get_state(&conn, RULEBOOK_KEY)? {
            Some(json) => {
                let saved: SavedRulebook = serde_json::from_str(&json)?;
                Rulebook::new(saved.policy, saved.checklist)
            }
            None => rulebook,
        };
        // A pull cut off between its pages (the app killed, the battery out) left views stale.
        settle_locked(&mut conn, &rulebook)?;
        Ok(Store {
            conn: Mutex::new(conn),
            path,
            photo_dir,
            rulebook: RwLock::new(rulebook),
            clock,
            device_id,
            captures: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// Now on the server's clock, as well as this device knows it: its own clock corrected by
    /// the last measured offset. Timers run on it, so a phone whose clock is hours off shows
    /// the same clocks as the desk.
    pub fn server_now(&self) -> Result<DateTime<Utc>, StoreError> {
        let now = self.clock.now();
        let offset = clock_offset_ms(&self.lock())?;
        Ok(offset
            .and_then(|o| now.checked_add_signed(chrono::Duration::milliseconds(o)))
            .unwrap_or(now))
    }

    pub fn photo_dir(&self) -> &Path {
        &self.photo_dir
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Adopt the organisation's rules (at enrolment); they persist across restarts.
    pub fn set_rulebook(&self, rulebook: Rulebook) -> Result<(), StoreError> {
        let json = serde_json::to_string(&SavedRulebook {
            policy: rulebook.policy.clone(),
            checklist: rulebook.checklist.clone(),
        })?;
        set_state(&self.lock(), RULEBOOK_KEY, Some(&json))?;
        *self.rulebook.write().unwrap_or_else(|p| p.into_inner()) = rulebook;
        Ok(())
    }

    /// A value the sync client keeps (token, cursor, clock offset).
    pub fn sync_value(&self, key: &str) -> Result<Option<String>, StoreError> {
        get_state(&self.lock(), key)
    }

    pub fn set_sync_value(&self, key: &str, value: Option<&str>) -> Result<(), StoreError> {
        set_state(&self.lock(), key, value)
    }

    /// Apply a pull page and remember its cursor, in one transaction: a crash leaves either both
    /// or neither, so a page is never skipped and applying one twice is harmless. The views of
    /// the jobs it touched are marked stale, not rebuilt: the puller calls [`Store::settle`]
    /// after its last page, and every read of a view settles first, so no caller sees a stale
    /// view.
    pub fn apply_pull_page(
        &self,
        events: &[Event],
        seqs: &[i64],
        cursor_key: &str,
        next_cursor: &str,
    ) -> Result<RemoteApplied, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let seqs = (seqs.len() == events.len()).then_some(seqs);
        let out = self.apply_remote_in(&tx, events, seqs)?;
        set_state(&tx, cursor_key, Some(next_cursor))?;
        tx.commit()?;
        Ok(out)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The rules in force (a copy: they can change at enrolment).
    pub fn rulebook(&self) -> Rulebook {
        self.rulebook
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn device_id(&self) -> Uuid {
        self.device_id
    }

    /// The connection, with every view a pull left stale rebuilt: what readers of views use.
    fn settled(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        let mut conn = self.lock();
        settle_locked(&mut conn, &self.rulebook())?;
        Ok(conn)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a half-written transaction behind (SQLite
        // rolls it back), so a poisoned lock is safe to keep using.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn technician_id(&self) -> Result<Option<Uuid>, StoreError> {
        let s: Option<String> =
            self.lock()
                .query_row("SELECT technician_id FROM device", [], |r| r.get(0))?;
        s.as_deref().map(parse_uuid).transpose()
    }

    /// Bind this device to a technician (done at enrolment).
    pub fn set_technician(&self, technician_id: Uuid) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE device SET technician_id = ?1",
            params![technician_id.to_string()],
        )?;
        Ok(())
    }

    /// This device's public key for the evidence chain (raw Ed25519, 32 bytes), made on first use:
    /// sent with every push, so the server can check every event this device signs.
    pub fn public_key(&self) -> Result<Vec<u8>, StoreError> {
        let conn = self.lock();
        Ok(device_key(&conn)?.public_key().to_vec())
    }

    /// Record one technician action: checked by the rulebook, then durably committed with its
    /// effect on the job's view. Returns the event as stored (and as it will be pushed).
    pub fn act(&self, job_id: Uuid, body: EventBody) -> Result<Event, ActionError> {
        let mut events = self.record(job_id, vec![(body, None)])?;
        Ok(events.remove(0))
    }

    /// Record several events (and the files some of them point at) in one transaction: all of
    /// them, checked in order against the evolving view, or none.
    pub(crate) fn record(
        &self,
        job_id: Uuid,
        items: Vec<(EventBody, Option<FileRow<'_>>)>,
    ) -> Result<Vec<Event>, ActionError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let rulebook = self.rulebook();
        settle_in(&tx, &rulebook)?;
        let (technician, mut last_seq): (Option<String>, i64) =
            tx.query_row("SELECT technician_id, last_seq FROM device", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        let technician_id = match technician {
            Some(s) => parse_uuid(&s)?,
            None => return Err(ActionError::NotEnrolled),
        };
        let offset = clock_offset_ms(&tx)?;
        // Each event is sealed after the last one this device recorded (ADR 0016).
        let key = device_key(&tx)?;
        let mut head: String = tx
            .query_row("SELECT chain_head FROM device", [], |r| {
                r.get::<_, Option<String>>(0)
            })?
            .unwrap_or_else(|| crate::domain::chain::genesis(key.public_key()));
        // ... and after this device's last event of the job: a device's events of one job are
        // a chain of their own, so a bundle shows none of them left out (ADR 0017).
        let mut job_head = job_chain_head(&tx, job_id, self.device_id)?;
        let mut view = None;
        let mut out = Vec::new();
        for (body, file) in items {
            let kind = body.kind();
            if view.is_none() {
                view = Some(
                    load_view(&tx, job_id)?.ok_or_else(|| Refusal::new(Rule::UnknownJob, kind))?,
                );
            }
            let v = view.as_mut().expect("loaded above");
            let mut event =
                self.field_event(technician_id, job_id, body, Some(last_seq + 1), offset);
            rulebook.check(Some(v), &event)?;
            rulebook.apply(v, &event);
            head = key.seal(&mut event, &head, &job_head);
            job_head = head.clone();
            insert_event(&tx, &event, PushState::Pending)?;
            last_seq += 1;
            if let Some(f) = file {
                // Checked inside the transaction housekeeping also takes: a capture that reused
                // a stored file housekeeping (maybe of another process) has just removed must
                // not record evidence without its bytes.
                for path in std::iter::once(f.path).chain(f.companions.iter().copied()) {
                    if !path.try_exists().map_err(StoreError::Io)? {
                        return Err(StoreError::Io(std::io::Error::new(
                            std::io::ErrorKind::NotFound,
                            format!(
                                "{} was removed before it was recorded; take it again",
                                path.display()
                            ),
                        ))
                        .into());
                    }
                }
                let file_name = f
                    .path
                    .strip_prefix(&self.photo_dir)
                    .unwrap_or(f.path)
                    .to_string_lossy()
                    .into_owned();
                tx.execute(
                    "INSERT INTO photos (id, job_id, event_id, category, sha256, captured_at,
                        monotonic_ms, lat, lon, accuracy_m, width, height, bytes, file_name)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                    params![
                        f.photo_id.to_string(),
                        job_id.to_string(),
                        event.id.to_string(),
                        f.category.as_str(),
                        f.sha256,
                        ts(event.recorded_at),
                        event.monotonic_ms,
                        f.location.map(|l| l.lat),
                        f.location.map(|l| l.lon),
                        f.location.and_then(|l| l.accuracy_m),
                        f.width,
                        f.height,
                        f.bytes as i64,
                        file_name,
                    ],
                )?;
            }
            out.push(event);
        }
        tx.execute(
            "UPDATE device SET last_seq = ?1, chain_head = ?2",
            params![last_seq, head],
        )?;
        if let Some(v) = &view {
            save_view(&tx, v, &rulebook)?;
        }
        tx.commit()?;
        Ok(out)
    }

    /// An event of this device's technician, stamped with both of the device's clocks now.
    pub(crate) fn field_event(
        &self,
        technician_id: Uuid,
        job_id: Uuid,
        body: EventBody,
        device_seq: Option<i64>,
        clock_offset_ms: Option<i64>,
    ) -> Event {
        let recorded_at = self.clock.now();
        Event {
            id: Uuid::now_v7(),
            job_id,
            actor: Actor::Technician {
                technician_id,
                device_id: self.device_id,
            },
            recorded_at,
            monotonic_ms: Some(self.clock.monotonic_ms()),
            device_seq,
            clock_offset_ms,
            // Until the server confirms it with its own corrected time, the phone's best estimate
            // of when it happened on the server's clock: a phone whose clock is hours off still
            // shows (and times) its pending actions right. The server never believes this field.
            corrected_at: clock_offset_ms
                .and_then(|o| recorded_at.checked_add_signed(chrono::Duration::milliseconds(o))),
            body,
            seal: None,
        }
    }

    /// Apply events that came from the server (a pull page), in one transaction. Events already
    /// here are skipped, so a page applied twice changes nothing.
    pub fn apply_remote(&self, events: &[Event]) -> Result<RemoteApplied, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = self.apply_remote_in(&tx, events, None)?;
        settle_in(&tx, &self.rulebook())?;
        tx.commit()?;
        Ok(out)
    }

    /// The body of [`Store::apply_remote`], for callers that commit more in the same transaction
    /// (the sync client stores the page's cursor with it).
    ///
    /// Pulled events are the server's log (ADR 0007): each takes its place by the server's
    /// sequence (`seqs`; without them, from a server that predates them, arrival order); this
    /// device's own events come back too, and take their place with the server's corrected time. Every
    /// job the page touched is marked stale, to be rebuilt by [`settle_in`]: the server's log
    /// replayed, this device's unconfirmed events re-applied on top.
    pub(crate) fn apply_remote_in(
        &self,
        tx: &Transaction<'_>,
        events: &[Event],
        seqs: Option<&[i64]>,
    ) -> Result<RemoteApplied, StoreError> {
        let mut out = RemoteApplied::default();
        let rulebook = self.rulebook();
        let mut touched = std::collections::BTreeSet::new();
        let mut next: i64 = tx.query_row(
            "SELECT COALESCE(MAX(confirmed_seq), 0) FROM events",
            [],
            |r| r.get(0),
        )?;
        for (i, event) in events.iter().enumerate() {
            let mut place = || match seqs.and_then(|s| s.get(i)) {
                Some(seq) => *seq,
                None => {
                    next += 1;
                    next
                }
            };
            let known: Option<(Option<i64>, String, Option<String>)> = tx
                .prepare_cached("SELECT confirmed_seq, body, conflict FROM events WHERE id = ?1")?
                .query_row(params![event.id.to_string()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()?;
            match known {
                Some((Some(seq), _, _)) if seq >= 0 => {
                    out.already_known += 1;
                    continue;
                }
                Some((_, body, conflict)) => {
                    // Our own event, echoed (or one kept from before schema v3, pulled again):
                    // the server's copy (its corrected time) and its place. The server keeps
                    // each device's events in the order they were recorded, so an echo that
                    // matches the stored copy and clears no conflict changes nothing the view
                    // shows: confirm it without a rebuild (the common case, and the cost of a
                    // large push's echo; docs/benchmarks.md, sync_push).
                    let echoed = serde_json::to_string(event)?;
                    let changes_view = echoed != body || conflict.is_some();
                    let seq = place();
                    tx.prepare_cached(
                        "UPDATE events SET body = ?2, confirmed_seq = ?3, conflict = NULL,
                            push_note = NULL,
                            push_state = CASE WHEN push_state IN ('duplicate', 'remote')
                                              THEN push_state ELSE 'accepted' END
                         WHERE id = ?1",
                    )?
                    .execute(params![event.id.to_string(), echoed, seq])?;
                    if changes_view {
                        touched.insert(event.job_id);
                    }
                    out.confirmed += 1;
                    continue;
                }
                None => {}
            }
            let has_job: bool = tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM jobs WHERE id = ?1)")?
                .query_row(params![event.job_id.to_string()], |r| r.get(0))?;
            if !has_job {
                match JobView::created(event) {
                    // The row first: events reference it; the rebuild below writes its view.
                    Some(v) => save_view(tx, &v, &rulebook)?,
                    None => {
                        out.orphaned += 1;
                        continue;
                    }
                }
            }
            insert_event(tx, event, PushState::Remote)?;
            let seq = place();
            tx.prepare_cached("UPDATE events SET confirmed_seq = ?2 WHERE id = ?1")?
                .execute(params![event.id.to_string(), seq])?;
            touched.insert(event.job_id);
            out.applied += 1;
        }
        let mut mark =
            tx.prepare_cached("INSERT OR IGNORE INTO stale_jobs (job_id) VALUES (?1)")?;
        for job_id in touched {
            mark.execute(params![job_id.to_string()])?;
        }
        Ok(out)
    }

    /// Rebuild every view a pull left stale, in one transaction; returns how many. Cheap when
    /// there are none (one indexed read), so every reader calls it.
    pub fn settle(&self) -> Result<usize, StoreError> {
        settle_locked(&mut self.lock(), &self.rulebook())
    }

    /// My jobs, by status and by day, in appointment order (unbooked last).
    pub fn jobs(&self, filter: &JobFilter) -> Result<Vec<JobSummary>, StoreError> {
        let conn = self.settled()?;
        let me: Option<String> =
            conn.query_row("SELECT technician_id FROM device", [], |r| r.get(0))?;
        let Some(me) = me else {
            return Ok(Vec::new());
        };
        let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
        let statuses_json = serde_json::to_string(&statuses)?;
        // Mine, and the ones the desk gave away that this device worked on: the technician
        // sees what became of their work (the same rows `job` shows).
        let mut stmt = conn.prepare_cached(
            "SELECT view, appointment_day FROM jobs
             WHERE (technician_id = ?1
                    OR id IN (SELECT job_id FROM events WHERE origin = 'local'))
               AND (?2 = '[]' OR status IN (SELECT value FROM json_each(?2)))
               AND (?3 IS NULL OR appointment_day = ?3)
             ORDER BY appointment_at IS NULL, appointment_at, id",
        )?;
        let rows = stmt.query_map(
            params![me, statuses_json, filter.day.map(|d| d.to_string())],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?)),
        )?;
        let mut listed = Vec::new();
        for row in rows {
            let (json, day) = row?;
            listed.push((serde_json::from_str::<JobView>(&json)?, day));
        }
        let mut out = Vec::new();
        let short = short_ids(&job_ids_in(&conn)?);
        // Only visits near the listed ones can clash with them (a day's list looks at that day).
        let booked = listed.iter().filter_map(|(v, _)| v.appointment_at);
        let mut conflicts = match (booked.clone().min(), booked.max()) {
            (Some(first), Some(last)) => {
                let policy = &self.rulebook().policy;
                let reach = crate::domain::schedule::reach(policy);
                schedule_conflicts_in(&conn, &me, policy, around(first, last, reach))?
            }
            _ => Default::default(),
        };
        for (view, day) in listed {
            out.push(JobSummary {
                id: view.id,
                short_id: short.get(&view.id).cloned().unwrap_or_default(),
                number: view.number,
                kind: view.order.kind,
                status: view.status(),
                customer_name: view.order.customer_name.clone(),
                address: view.order.address.clone(),
                appointment_at: view.appointment_at,
                appointment_day: day.and_then(|d| d.parse().ok()),
                reassigned_away: reassigned_away(&view, &me),
                schedule_conflicts: conflicts.remove(&view.id).unwrap_or_default(),
            });
        }
        Ok(out)
    }

    /// One job with its timeline, next allowed actions and SLA timers as of now.
    pub fn job(&self, job_id: Uuid) -> Result<Option<JobDetail>, StoreError> {
        let technician = self.technician_id()?;
        let conn = self.settled()?;
        let Some(view) = load_view(&conn, job_id)? else {
            return Ok(None);
        };
        let timeline = timeline(&conn, job_id)?;
        let short_id = short_ids(&job_ids_in(&conn)?)
            .remove(&job_id)
            .unwrap_or_default();
        let rulebook = self.rulebook();
        let schedule_conflicts = match (technician, view.appointment_at) {
            (Some(t), Some(at)) => {
                let reach = crate::domain::schedule::reach(&rulebook.policy);
                let window = around(at, at, reach);
                schedule_conflicts_in(&conn, &t.to_string(), &rulebook.policy, window)?
                    .remove(&job_id)
                    .unwrap_or_default()
            }
            _ => Vec::new(),
        };
        drop(conn);
        let (next_actions, photo_categories) = match technician {
            Some(t) => (
                rulebook.next_actions(&view, t),
                rulebook.photo_categories(&view, t),
            ),
            None => (Vec::new(), Vec::new()),
        };
        Ok(Some(JobDetail {
            short_id,
            status: view.status(),
            reassigned_away: technician.is_some_and(|t| reassigned_away(&view, &t.to_string())),
            completion_missing: rulebook.completion_missing(&view),
            timers: rulebook.policy.timers(&view, self.server_now()?),
            next_actions,
            photo_categories,
            timeline,
            view,
            schedule_conflicts,
        }))
    }

    /// The events that make the job's view, in the order they are folded: the server's log,
    /// then this device's unconfirmed events; not the rejected ones, nor pending ones in
    /// conflict. Replaying them gives the stored view.
    pub fn events_of(&self, job_id: Uuid) -> Result<Vec<Event>, StoreError> {
        // `conflict` is written by a view's rebuild: settle first, as every reader does.
        let conn = self.settled()?;
        Ok(timeline(&conn, job_id)?
            .into_iter()
            .filter(|t| t.push_state != PushState::Rejected && t.conflict.is_none())
            .map(|t| t.event)
            .collect())
    }

    /// The job's stored view, exactly as persisted (no recomputation).
    pub fn view(&self, job_id: Uuid) -> Result<Option<JobView>, StoreError> {
        let conn = self.settled()?;
        load_view(&conn, job_id)
    }

    /// Every job id on this device.
    pub fn job_ids(&self) -> Result<Vec<Uuid>, StoreError> {
        job_ids_in(&self.lock())
    }

    /// Events waiting to be pushed.
    pub fn outbox_len(&self) -> Result<u64, StoreError> {
        let n: i64 = self.lock().query_row(
            "SELECT count(*) FROM events WHERE push_state = 'pending'",
            [],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// The oldest `limit` events waiting to be pushed, in device order.
    pub fn pending_events(&self, limit: usize) -> Result<Vec<Event>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT body FROM events WHERE push_state = 'pending' ORDER BY device_seq LIMIT ?1",
        )?;
        let bodies: Vec<String> = stmt
            .query_map(params![limit as i64], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        bodies
            .iter()
            .map(|b| serde_json::from_str(b).map_err(StoreError::from))
            .collect()
    }

    /// Record the server's answers for pushed events, in one transaction.
    pub fn mark_pushed(
        &self,
        results: &[(Uuid, PushState, Option<String>)],
    ) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE events SET push_state = ?2, push_note = ?3
                 WHERE id = ?1 AND push_state = 'pending'",
            )?;
            for (id, state, note) in results {
                stmt.execute(params![id.to_string(), state.as_str(), note])?;
            }
        }
        // A rejected event no longer shapes its job's view.
        let mut rejected_jobs = std::collections::BTreeSet::new();
        for (id, state, _) in results {
            if *state == PushState::Rejected
                && let Some(job) = tx
                    .query_row(
                        "SELECT job_id FROM events WHERE id = ?1",
                        params![id.to_string()],
                        |r| r.get::<_, String>(0),
                    )
                    .optional()?
            {
                rejected_jobs.insert(parse_uuid(&job)?);
            }
        }
        let rulebook = self.rulebook();
        for job in rejected_jobs {
            rebuild_view(&tx, job, &rulebook)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The durability settings in force on the store's connection (for support and tests).
    pub fn settings(&self) -> Result<StoreSettings, StoreError> {
        let conn = self.lock();
        Ok(StoreSettings {
            journal_mode: conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?,
            synchronous: conn.query_row("PRAGMA synchronous", [], |r| r.get(0))?,
            foreign_keys: conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?,
        })
    }

    /// `PRAGMA integrity_check` and a foreign key check: for support, and for the crash tests.
    pub fn check_integrity(&self) -> Result<(), StoreError> {
        let conn = self.lock();
        let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if ok != "ok" {
            return Err(StoreError::Corrupt(ok));
        }
        let fk_violations: i64 =
            conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })?;
        if fk_violations != 0 {
            return Err(StoreError::Corrupt(format!(
                "{fk_violations} foreign key violations"
            )));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    pub journal_mode: String,
    /// 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA.
    pub synchronous: i64,
    pub foreign_keys: bool,
}

fn get_state(conn: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT value FROM sync_state WHERE key = ?1")?
        .query_row(params![key], |r| r.get(0))
        .optional()?)
}

fn set_state(conn: &Connection, key: &str, value: Option<&str>) -> Result<(), StoreError> {
    match value {
        Some(v) => conn
            .prepare_cached(
                "INSERT INTO sync_state (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![key, v])?,
        None => conn
            .prepare_cached("DELETE FROM sync_state WHERE key = ?1")?
            .execute(params![key])?,
    };
    Ok(())
}

/// The device's last estimate of the server's clock minus its own, kept by the sync client.
pub const CLOCK_OFFSET_KEY: &str = "clock_offset_ms";

fn clock_offset_ms(conn: &Connection) -> Result<Option<i64>, StoreError> {
    Ok(get_state(conn, CLOCK_OFFSET_KEY)?.and_then(|s| s.parse().ok()))
}

fn load_view(conn: &Connection, job_id: Uuid) -> Result<Option<JobView>, StoreError> {
    let json: Option<String> = conn
        .query_row(
            "SELECT view FROM jobs WHERE id = ?1",
            params![job_id.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    json.map(|j| serde_json::from_str(&j).map_err(StoreError::from))
        .transpose()
}

fn save_view(conn: &Connection, view: &JobView, rulebook: &Rulebook) -> Result<(), StoreError> {
    let day = view
        .appointment_at
        .map(|t| rulebook.policy.calendar.local_date(t).to_string());
    conn.prepare_cached(
        "INSERT INTO jobs (id, kind, status, technician_id, appointment_at, appointment_day,
                           view, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (id) DO UPDATE SET
            kind = excluded.kind, status = excluded.status,
            technician_id = excluded.technician_id, appointment_at = excluded.appointment_at,
            appointment_day = excluded.appointment_day, view = excluded.view,
            updated_at = excluded.updated_at",
    )?
    .execute(params![
        view.id.to_string(),
        view.order.kind.as_str(),
        view.status().as_str(),
        view.technician_id.map(|t| t.to_string()),
        view.appointment_at.map(ts),
        day,
        serde_json::to_string(view)?,
        ts(view.last_event_at),
    ])?;
    Ok(())
}

fn insert_event(conn: &Connection, event: &Event, state: PushState) -> Result<(), StoreError> {
    let origin = if state == PushState::Remote {
        "remote"
    } else {
        "local"
    };
    conn.prepare_cached(
        "INSERT INTO events (id, job_id, origin, kind, device_seq, recorded_at, monotonic_ms,
                             body, push_state)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        event.id.to_string(),
        event.job_id.to_string(),
        origin,
        event.body.kind().as_str(),
        // Only this device's own sequence is unique here; remote events keep theirs in the body.
        if origin == "local" {
            event.device_seq
        } else {
            None
        },
        ts(event.recorded_at),
        event.monotonic_ms,
        serde_json::to_string(event)?,
        state.as_str(),
    ])?;
    Ok(())
}

/// A job's events in the order its view is folded: the server's log, then this device's
/// unconfirmed events (rejected ones among them, shown as conflicts) in the order it made them.
const JOB_EVENTS_IN_ORDER: &str =
    "SELECT e.body, e.push_state, e.push_note, e.conflict, e.confirmed_seq, p.upload_state
     FROM events e LEFT JOIN photos p ON p.job_id = e.job_id AND p.event_id = e.id
     WHERE e.job_id = ?1
     ORDER BY e.confirmed_seq IS NULL, e.confirmed_seq, e.device_seq, e.position";

fn timeline(conn: &Connection, job_id: Uuid) -> Result<Vec<TimelineEntry>, StoreError> {
    let mut stmt = conn.prepare_cached(JOB_EVENTS_IN_ORDER)?;
    let rows = stmt.query_map(params![job_id.to_string()], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, Option<i64>>(4)?,
            r.get::<_, Option<String>>(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (body, state, note, conflict, confirmed, upload) = row?;
        out.push(TimelineEntry {
            event: serde_json::from_str(&body)?,
            push_state: PushState::parse(&state)?,
            push_note: note,
            conflict: conflict.as_deref().map(serde_json::from_str).transpose()?,
            confirmed: confirmed.is_some(),
            photo_upload: upload.map(|u| match u.as_str() {
                "uploaded" => PhotoUpload::Uploaded,
                _ => PhotoUpload::Waiting,
            }),
        });
    }
    Ok(out)
}

/// From `reach` before `first` to `reach` after `last`, and a second more each way (the column
/// holds microseconds, the view nanoseconds); saturating at the ends of time.
fn around(
    first: DateTime<Utc>,
    last: DateTime<Utc>,
    reach: chrono::Duration,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let reach = reach + chrono::Duration::seconds(1);
    (
        first
            .checked_sub_signed(reach)
            .unwrap_or(DateTime::<Utc>::MIN_UTC),
        last.checked_add_signed(reach)
            .unwrap_or(DateTime::<Utc>::MAX_UTC),
    )
}

/// Each of `me`'s booked visits with the others too close to it, by job. The open visits are
/// picked in SQL, as `Visit::of` picks them (this technician's, booked, neither completed,
/// cancelled nor checked out), without parsing every view: the list of a phone holding a year
/// of jobs stays as fast as the day it shows (`startup` bench).
fn schedule_conflicts_in(
    conn: &Connection,
    me: &str,
    policy: &crate::domain::Policy,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
) -> Result<std::collections::HashMap<Uuid, Vec<ScheduleConflict>>, StoreError> {
    let (from, to) = (ts(from), ts(to));
    let mut stmt = conn.prepare_cached(
        "SELECT id, json_extract(view, '$.appointment_at'), json_extract(view, '$.number')
         FROM jobs
         WHERE technician_id = ?1 AND appointment_at BETWEEN ?2 AND ?3
           AND status NOT IN ('completed', 'cancelled')
           AND json_extract(view, '$.checked_out_at') IS NULL",
    )?;
    let rows = stmt.query_map(params![me, from, to], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<i64>>(2)?,
        ))
    })?;
    let mut visits = Vec::new();
    for row in rows {
        let (id, at, number) = row?;
        visits.push(Visit {
            job_id: parse_uuid(&id)?,
            // The view's own text (full precision), as the desk has it.
            at: at
                .parse()
                .map_err(|e| StoreError::Corrupt(format!("appointment {at}: {e}")))?,
            number: number
                .and_then(|n| u32::try_from(n).ok())
                .map(crate::domain::JobNumber),
        });
    }
    let mut by_job = std::collections::HashMap::<Uuid, Vec<ScheduleConflict>>::new();
    for c in crate::domain::schedule::conflicts(&visits, policy) {
        by_job.entry(c.job_id).or_default().push(c);
    }
    Ok(by_job)
}

/// The device's signing key, made and kept on first use (in the caller's transaction, if any).
/// The link of this device's last event of `job` (the `job_prev` of its next one), or the
/// job's start if it has none.
fn job_chain_head(conn: &Connection, job: Uuid, device: Uuid) -> Result<String, StoreError> {
    let last: Option<String> = conn
        .prepare_cached(
            "SELECT body FROM events WHERE job_id = ?1 AND origin = 'local'
             ORDER BY device_seq DESC LIMIT 1",
        )?
        .query_row([job.to_string()], |r| r.get(0))
        .optional()?;
    let Some(body) = last else {
        return Ok(crate::domain::chain::job_start(&job));
    };
    let event: Event = serde_json::from_str(&body)?;
    // Recorded under another enrolment (another device id, another chain): a new start.
    let ours = matches!(event.actor, Actor::Technician { device_id, .. } if device_id == device);
    Ok(crate::domain::chain::link(&event)
        .filter(|_| ours)
        .unwrap_or_else(|| crate::domain::chain::job_start(&job)))
}

fn device_key(conn: &Connection) -> Result<crate::domain::chain::DeviceKey, StoreError> {
    use crate::domain::chain::DeviceKey;
    let stored: Option<Vec<u8>> =
        conn.query_row("SELECT signing_key FROM device", [], |r| r.get(0))?;
    let bad = |e: crate::domain::chain::ChainKeyError| StoreError::Corrupt(e.to_string());
    match stored {
        Some(pkcs8) => DeviceKey::from_pkcs8(&pkcs8).map_err(bad),
        None => {
            let key = DeviceKey::generate().map_err(bad)?;
            conn.execute("UPDATE device SET signing_key = ?1", params![key.pkcs8()])?;
            Ok(key)
        }
    }
}

fn job_ids_in(conn: &Connection) -> Result<Vec<Uuid>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT id FROM jobs ORDER BY id")?;
    let ids: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    ids.iter().map(|s| parse_uuid(s)).collect()
}

/// Whether the desk gave this job to someone other than `me` (a technician id as stored).
fn reassigned_away(view: &JobView, me: &str) -> bool {
    view.technician_id.map(|t| t.to_string()).as_deref() != Some(me)
}

/// [`settle_in`] in its own immediate transaction, when anything is stale.
fn settle_locked(conn: &mut Connection, rulebook: &Rulebook) -> Result<usize, StoreError> {
    let any: bool = conn.query_row("SELECT EXISTS (SELECT 1 FROM stale_jobs)", [], |r| r.get(0))?;
    if !any {
        return Ok(0);
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let n = settle_in(&tx, rulebook)?;
    tx.commit()?;
    Ok(n)
}

/// Rebuild the views marked stale and clear the marks, inside the caller's transaction.
fn settle_in(tx: &Connection, rulebook: &Rulebook) -> Result<usize, StoreError> {
    let stale: Vec<String> = {
        let mut stmt = tx.prepare_cached("SELECT job_id FROM stale_jobs")?;
        stmt.query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?
    };
    for job in &stale {
        rebuild_view(tx, parse_uuid(job)?, rulebook)?;
    }
    if !stale.is_empty() {
        tx.execute("DELETE FROM stale_jobs", [])?;
    }
    Ok(stale.len())
}

/// Rebuild a job's view as the rebase defines it (ADR 0007): the server's log replayed in the
/// server's order, then this device's unconfirmed events on top, in the order it made them.
/// Events the server accepted but has not echoed yet apply as they are; pending ones are checked
/// again by the rulebook, and one that no longer passes is marked as a conflict (and does not
/// shape the view) until the server answers. Rejected events never shape the view.
pub(crate) fn rebuild_view(
    tx: &Connection,
    job_id: Uuid,
    rulebook: &Rulebook,
) -> Result<(), StoreError> {
    let mut stmt = tx.prepare_cached(
        "SELECT id, body, push_state, confirmed_seq, conflict FROM events
         WHERE job_id = ?1 AND (confirmed_seq IS NOT NULL OR push_state != 'rejected')
         ORDER BY confirmed_seq IS NULL, confirmed_seq, device_seq, position",
    )?;
    let rows = stmt
        .query_map(params![job_id.to_string()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut view: Option<JobView> = None;
    for (id, body, state, confirmed, old_conflict) in rows {
        let event: Event = serde_json::from_str(&body)?;
        let Some(v) = view.as_mut() else {
            view = JobView::created(&event);
            continue;
        };
        if confirmed.is_some() || state != PushState::Pending.as_str() {
            rulebook.apply(v, &event);
            continue;
        }
        // The server's own decision (Rulebook::admit): what it would keep applies here too
        // (the view keeps it aside), what it would refuse is a conflict until it answers.
        let conflict = match rulebook.admit(Some(v), &event) {
            crate::domain::Admission::Applies | crate::domain::Admission::Kept(_) => {
                rulebook.apply(v, &event);
                None
            }
            crate::domain::Admission::Refused(r) => Some(serde_json::to_string(&r)?),
        };
        if conflict != old_conflict {
            tx.execute(
                "UPDATE events SET conflict = ?2 WHERE id = ?1",
                params![id, conflict],
            )?;
        }
    }
    if let Some(v) = view {
        save_view(tx, &v, rulebook)?;
    }
    Ok(())
}

//! The device's sync client: push the outbox, pull what changed, upload photos.
//!
//! Sync is a blocking call meant for a background thread (WorkManager, BGTaskScheduler, the
//! CLI). It never holds the store's lock across the network: each step is a short transaction
//! before or after a request, so the technician's actions are never blocked by a sync.
//!
//! Order matters: events first (the server must know a photo's record before it accepts the
//! photo's bytes), then the pull (so the device sees the server's verdicts and the desk's
//! news), then photos. Every step is safe to repeat: pushes are idempotent by event id, a pull
//! page and its cursor commit together, uploads resume from the server's offset.

mod backoff;
mod error;
mod http;
mod interrupt;
mod link;
mod upload;

use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use ureq::SendBody;
use uuid::Uuid;

pub use backoff::{Backoff, next_sync_delay};
pub use error::SyncError;
pub use interrupt::{Interrupt, InterruptScope};

use crate::domain::Rulebook;
use crate::protocol::{
    EnrollRequest, EnrollResponse, PullResponse, PushRequest, PushResponse, PushStatus,
};
use crate::store::{CLOCK_OFFSET_KEY, PendingPhoto, PushState, Store};
use http::{CountingBody, Http};
use link::{Link, Mark};
use upload::UploadRound;

const TOKEN_KEY: &str = "device_token";
const CURSOR_KEY: &str = "pull_cursor";
const SERVER_KEY: &str = "server_url";
/// When the last sync finished whole (RFC 3339), for "last synced" on the phone.
const LAST_SYNCED_KEY: &str = "last_synced_at";
/// The fewest events a push carries however slow the link: below it, the request's own cost
/// dominates.
const MIN_PUSH_BATCH: usize = 10;

/// What one event weighs in a pull page, roughly (JSON): to size pages by the link's rate.
const PULL_EVENT_BYTES: u64 = 1_000;

/// The fewest events a pull page asks for.
const MIN_PULL_PAGE: u64 = 20;

/// The link's upload rate the last sync measured (bytes per second, over its pushes and photo
/// chunks): the next one sizes its first requests from it.
const LINK_RATE_KEY: &str = "link_bytes_per_sec";
/// Set when the server refused the token (the desk revoked the device); cleared by enrolment.
const REVOKED_KEY: &str = "revoked_at";

#[derive(Debug, Clone)]
pub struct SyncConfig {
    pub base_url: String,
    /// Events per push request.
    pub push_batch: usize,
    /// Events per pull page.
    pub pull_page: usize,
    /// Bytes of the first tus PATCH of a sync, before the link's rate is measured.
    pub chunk_size: usize,
    /// The smallest chunk, however slow the link: below it, request overhead dominates.
    pub min_chunk_size: usize,
    /// The largest chunk, so a good network is not held back by one fsync per small chunk on
    /// the server, nor a cut made to cost much.
    pub max_chunk_size: usize,
    /// How long one PATCH should take at the measured rate: chunks are sized by time.
    pub chunk_seconds: Duration,
    pub backoff: Backoff,
    /// A request fails when no byte moves for this long (each read and write of the socket).
    pub stall_timeout: Duration,
    /// An upload whose bytes moved keeps trying (with backoff) until none has reached the
    /// server for this long: a flapping basement link is not a reason to give up.
    pub upload_patience: Duration,
    /// The whole of a small request (HEAD, upload creation, enrolment). Photo chunks, pushes
    /// and pull pages have none: they are sized to finish in `chunk_seconds` at the measured
    /// rate and bounded by the stall deadline instead.
    pub request_timeout: Duration,
    /// The technician's language: the server answers refusals in it.
    pub lang: crate::domain::Lang,
}

impl SyncConfig {
    pub fn new(base_url: impl Into<String>) -> Self {
        SyncConfig {
            base_url: base_url.into(),
            push_batch: 200,
            pull_page: 500,
            chunk_size: 256 * 1024,
            min_chunk_size: 16 * 1024,
            max_chunk_size: 8 * 1024 * 1024,
            chunk_seconds: Duration::from_secs(8),
            backoff: Backoff::default(),
            stall_timeout: Duration::from_secs(30),
            upload_patience: Duration::from_secs(120),
            request_timeout: Duration::from_secs(120),
            lang: crate::domain::Lang::En,
        }
    }
}

/// What one sync did, for the app's status line and for support.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    pub events_sent: u32,
    pub accepted: u32,
    pub duplicates: u32,
    pub rejected: u32,
    pub events_received: u32,
    pub photos_uploaded: u32,
    /// Photo bytes that reached the server for completed uploads.
    pub bytes_uploaded: u64,
    /// Photo bytes put on the wire, resent chunks included.
    pub bytes_sent: u64,
    pub retries: u32,
    /// Photos that could not be uploaded this time, with why.
    pub errors: Vec<String>,
    /// Events still in the outbox when the sync ended (its work failed or was stopped).
    pub events_waiting: u64,
    /// Photos still on the phone only when the sync ended.
    pub photos_waiting: u32,
    /// Server clock minus device clock, as measured on this sync.
    pub clock_offset_ms: Option<i64>,
}

/// Where a running sync is, for a progress bar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum Progress {
    /// `sent` events answered so far, `pending` still in the outbox; of the batch on its way,
    /// `batch_bytes_sent` of `batch_bytes` have left the device (never back within a batch).
    Pushing {
        sent: u32,
        pending: u64,
        batch_bytes_sent: u64,
        batch_bytes: u64,
    },
    /// A pull page was stored; the views it touched are rebuilt when the pull ends.
    Pulling {
        received: u32,
    },
    /// The pull is over and every view it touched is rebuilt: the moment to re-read jobs.
    Pulled {
        received: u32,
    },
    Uploading(PhotoProgress),
}

/// One photo's upload as the technician follows it, within the whole sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhotoProgress {
    pub photo_id: Uuid,
    pub job_id: Uuid,
    /// `pickup`, `completion`, ...
    pub category: String,
    /// Photo `number` of the `count` this sync uploads (1-based).
    pub number: u32,
    pub count: u32,
    /// Bytes of this photo that left the device (or the server already held), of `total`.
    /// Never more than `total` and never back: bytes lost on a cut are sent again unseen.
    pub sent: u64,
    pub total: u64,
    /// The same over all the photos of this sync.
    pub sync_sent: u64,
    pub sync_total: u64,
}

/// What a sync did, and how it ended: a failed sync still tells what got through.
#[derive(Debug)]
pub struct SyncRun {
    pub report: SyncReport,
    pub outcome: Result<(), SyncError>,
}

impl SyncRun {
    pub fn into_result(self) -> Result<SyncReport, SyncError> {
        self.outcome.map(|()| self.report)
    }
}

/// What every step of one sync works with.
#[derive(Clone, Copy)]
struct Session<'a> {
    store: &'a Store,
    token: &'a str,
    progress: &'a dyn Fn(Progress),
    scope: &'a InterruptScope,
    /// What this sync learns of the link, for sizing each request by time.
    link: &'a Link,
}

#[derive(Debug, Clone)]
pub struct SyncClient {
    config: SyncConfig,
    http: Http,
}

impl SyncClient {
    pub fn new(config: SyncConfig) -> Result<SyncClient, SyncError> {
        let http = Http::new(
            &config.base_url,
            config.request_timeout,
            config.stall_timeout,
            config.lang,
        )?;
        Ok(SyncClient { config, http })
    }

    pub fn config(&self) -> &SyncConfig {
        &self.config
    }

    /// Trade a one-time enrolment code for a device token, and adopt the organisation's rules.
    pub fn enroll(
        &self,
        store: &Store,
        code: &str,
        device_name: &str,
    ) -> Result<EnrollResponse, SyncError> {
        let body = EnrollRequest {
            code: code.trim().to_string(),
            device_id: store.device_id(),
            device_name: device_name.to_string(),
        };
        let request = self.http.agent().post(self.http.url("/v1/devices/enroll"));
        let answer = match self.http.send(request, store.clock().as_ref(), None, |r| {
            r.send_json(&body)
        }) {
            Ok(a) => a,
            Err(SyncError::Unauthorized) => {
                return Err(SyncError::EnrolmentRefused(
                    "unknown, used or expired code".into(),
                ));
            }
            Err(SyncError::Server { problem, .. }) if problem.status < 500 => {
                let problem = *problem;
                return Err(SyncError::EnrolmentRefused(
                    problem.detail.unwrap_or(problem.title),
                ));
            }
            Err(e) => return Err(e),
        };
        let offset_ms = answer.offset_ms;
        let enrolled: EnrollResponse = answer.json()?;
        store.set_sync_value(TOKEN_KEY, Some(&enrolled.token))?;
        store.set_sync_value(SERVER_KEY, Some(&self.config.base_url))?;
        store.set_sync_value(CURSOR_KEY, None)?;
        store.set_sync_value(REVOKED_KEY, None)?;
        store.set_technician(enrolled.technician_id)?;
        store.set_rulebook(Rulebook::new(
            enrolled.policy.clone(),
            enrolled.checklist.clone(),
        ))?;
        if let Some(offset) = offset_ms {
            store.set_sync_value(CLOCK_OFFSET_KEY, Some(&offset.to_string()))?;
        }
        Ok(enrolled)
    }

    /// One full sync: push, pull, upload. Transient failures are retried with backoff; what
    /// still fails is returned (the caller schedules the next sync) or, for single photos,
    /// listed in the report while the others go on.
    pub fn sync(
        &self,
        store: &Store,
        progress: &dyn Fn(Progress),
    ) -> Result<SyncReport, SyncError> {
        self.sync_interruptible(store, progress, &InterruptScope::never())
    }

    /// [`SyncClient::sync`], stopped with `Err(Cancelled)` at its next step once `scope` is
    /// interrupted. Nothing done before the stop is lost or done twice (see [`interrupt`]).
    pub fn sync_interruptible(
        &self,
        store: &Store,
        progress: &dyn Fn(Progress),
        scope: &InterruptScope,
    ) -> Result<SyncReport, SyncError> {
        self.run(store, progress, scope).into_result()
    }

    /// One sync, reporting what got through whether it ended well or not (for the summary a
    /// technician reads after a sync gave up in a basement).
    ///
    /// A whole sync records when it finished; a refused token marks the device revoked until
    /// it enrols again. Both outlive the app's process (the phone shows them after a restart).
    pub fn run(
        &self,
        store: &Store,
        progress: &dyn Fn(Progress),
        scope: &InterruptScope,
    ) -> SyncRun {
        let mut report = SyncReport::default();
        let mut outcome = self.sync_steps(store, progress, scope, &mut report);
        let now = store.clock().now().to_rfc3339();
        let marked = match &outcome {
            Ok(()) => store.set_sync_value(LAST_SYNCED_KEY, Some(&now)),
            Err(SyncError::Unauthorized) => store.set_sync_value(REVOKED_KEY, Some(&now)),
            Err(_) => Ok(()),
        };
        let waiting = store.outbox_len().and_then(|events| {
            let photos = store.photos_awaiting_upload()?.len();
            Ok((events, u32::try_from(photos).unwrap_or(u32::MAX)))
        });
        match (marked, waiting) {
            (Ok(()), Ok((events, photos))) => {
                report.events_waiting = events;
                report.photos_waiting = photos;
            }
            // The sync's own error says more than the bookkeeping's after it.
            (Err(e), _) | (_, Err(e)) => {
                if outcome.is_ok() {
                    outcome = Err(e.into());
                }
            }
        }
        SyncRun { report, outcome }
    }

    fn sync_steps(
        &self,
        store: &Store,
        progress: &dyn Fn(Progress),
        scope: &InterruptScope,
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        let token = store.sync_value(TOKEN_KEY)?.ok_or(SyncError::NotEnrolled)?;
        // The rate one request measured sizes the next, and the next sync's first.
        let link = Link::at(
            store
                .sync_value(LINK_RATE_KEY)?
                .and_then(|r| r.parse::<f64>().ok()),
        );
        let keep_rate = || match link.bytes_per_sec() {
            Some(rate) => store.set_sync_value(LINK_RATE_KEY, Some(&format!("{rate:.0}"))),
            None => Ok(()),
        };
        let session = Session {
            store,
            token: &token,
            progress,
            scope,
            link: &link,
        };
        scope.check()?;
        let pushed = self.push(&session, report);
        keep_rate()?;
        pushed?;
        self.pull(&session, report)?;
        let photos = store.photos_awaiting_upload()?;
        let mut round = UploadRound::new(&photos);
        // What a photo's failure means for the sync: the end of it, or a line in the report
        // while the other photos go on.
        let settle = |photo: &PendingPhoto, result, report: &mut SyncReport| match result {
            Ok(()) => Ok(()),
            Err(e @ (SyncError::Unauthorized | SyncError::Store(_) | SyncError::Cancelled)) => {
                Err(e)
            }
            Err(e) if e.is_transient() => Err(e),
            Err(e) => {
                report.errors.push(format!(
                    "{} photo {} of job {}: {e}",
                    photo.category, photo.photo_id, photo.job_id
                ));
                Ok(())
            }
        };
        // Photos a cut request of ours still holds: taken up again after the others.
        let mut busy = Vec::new();
        for (i, photo) in photos.iter().enumerate() {
            scope.check()?;
            let number = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let uploaded = self.upload_photo(&session, photo, number, &mut round, true, report);
            keep_rate()?;
            match uploaded {
                Err(e) if upload::is_busy(&e) => {
                    let wait = e.retry_after().unwrap_or(Duration::from_secs(5));
                    busy.push((number, photo, Instant::now() + wait));
                }
                other => settle(photo, other, report)?,
            }
        }
        for (number, photo, ready) in busy {
            scope.sleep(ready.saturating_duration_since(Instant::now()))?;
            let uploaded = self.upload_photo(&session, photo, number, &mut round, false, report);
            keep_rate()?;
            settle(photo, uploaded, report)?;
        }
        Ok(())
    }

    /// Send the outbox in batches sized by time at the link's rate (the first of a device that
    /// never measured it: [`MIN_PUSH_BATCH`] events), each answered whole. Progress counts a
    /// batch's bytes as they leave. A failed batch is sent again whole, so the bytes shown stay
    /// true, with a fresh `sent_at` (the server's time correction counts from it); the halved
    /// rate sizes the batches after it.
    fn push(&self, session: &Session, report: &mut SyncReport) -> Result<(), SyncError> {
        let Session {
            store,
            token,
            progress,
            scope,
            link,
        } = *session;
        let mut failures = 0;
        // Bytes shown for the batch on its way: a retry sends them again without going back.
        let mut shown = Mark::default();
        let mut retrying_batch: Option<usize> = None;
        // Sent with every push: the server keeps the first it gets (ADR 0016).
        let public_key = hex::encode(store.public_key()?);
        loop {
            scope.check()?;
            let mut batch = store.pending_events(self.config.push_batch.max(1))?;
            if batch.is_empty() {
                return Ok(());
            }
            let pending = store.outbox_len()?;
            let clock = store.clock();
            let encode = |events: &[crate::domain::Event]| {
                serde_json::to_vec(&PushRequest {
                    device_id: store.device_id(),
                    sent_at: clock.now(),
                    sent_monotonic_ms: clock.monotonic_ms(),
                    events: events.to_vec(),
                    public_key: Some(public_key.clone()),
                })
                .map_err(|e| SyncError::Protocol(format!("encoding a push: {e}")))
            };
            let mut body = encode(&batch)?;
            if let Some(n) = retrying_batch {
                // The same batch again: its bytes shown so far stay true.
                if n < batch.len() {
                    batch.truncate(n);
                    body = encode(&batch)?;
                }
            } else {
                let keep = match link.budget(&self.config) {
                    Some(budget) => {
                        let fits = (batch.len() as u64).saturating_mul(budget)
                            / (body.len() as u64).max(1);
                        usize::try_from(fits).unwrap_or(usize::MAX)
                    }
                    None => MIN_PUSH_BATCH,
                }
                .clamp(MIN_PUSH_BATCH.min(batch.len()), batch.len());
                if keep < batch.len() {
                    batch.truncate(keep);
                    body = encode(&batch)?;
                }
            }
            let sent = report.events_sent;
            let total = body.len() as u64;
            let show = |bytes: u64| {
                progress(Progress::Pushing {
                    sent,
                    pending,
                    batch_bytes_sent: bytes,
                    batch_bytes: total,
                })
            };
            if shown.at() == 0 {
                show(0);
            }
            let on_taken = |taken: usize| {
                if let Some(at) = shown.advance(taken as u64, total) {
                    show(at);
                }
            };
            let started = Instant::now();
            let mut counted = CountingBody::new(&body, &on_taken);
            let request = self
                .http
                .agent()
                .post(self.http.url("/v1/sync/push"))
                .config()
                .timeout_global(None)
                .build()
                .header("Content-Type", "application/json")
                .header("Content-Length", body.len().to_string());
            let answered = self
                .http
                .send(request, clock.as_ref(), Some(token), |r| {
                    r.send(SendBody::from_reader(&mut counted))
                })
                // No clock sample from a push: its body may take seconds to send, which would
                // skew the round trip's midpoint; pulls and HEADs sample the clock instead.
                .and_then(|answer| answer.json::<PushResponse>());
            let response = match answered {
                Ok(r) => {
                    link.observe(body.len() as u64, started.elapsed());
                    failures = 0;
                    retrying_batch = None;
                    r
                }
                Err(e) if e.is_transient() && failures + 1 < self.config.backoff.attempts => {
                    failures += 1;
                    retrying_batch = Some(batch.len());
                    report.retries += 1;
                    link.stalled(&self.config);
                    scope.sleep(
                        e.retry_after()
                            .unwrap_or(self.config.backoff.delay(failures)),
                    )?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let mut results = Vec::with_capacity(response.results.len());
            for r in &response.results {
                let (state, note) = match r.status {
                    PushStatus::Accepted => {
                        report.accepted += 1;
                        (PushState::Accepted, None)
                    }
                    PushStatus::Duplicate => {
                        report.duplicates += 1;
                        (PushState::Duplicate, None)
                    }
                    PushStatus::Rejected => {
                        report.rejected += 1;
                        let note = match (&r.rule, &r.message) {
                            (Some(rule), Some(msg)) => format!("{rule}: {msg}"),
                            (Some(rule), None) => rule.clone(),
                            (None, Some(msg)) => msg.clone(),
                            (None, None) => "rejected".into(),
                        };
                        (PushState::Rejected, Some(note))
                    }
                };
                results.push((r.event_id, state, note));
            }
            // An answer that skips an event we sent would leave it pending forever and the
            // loop spinning: refuse to go on rather than loop.
            let answered = batch
                .iter()
                .filter(|e| results.iter().any(|(id, _, _)| *id == e.id))
                .count();
            store.mark_pushed(&results)?;
            report.events_sent += batch.len() as u32;
            shown = Mark::default();
            // Answered: those events count as sent, and no batch is on its way until the next.
            progress(Progress::Pushing {
                sent: report.events_sent,
                pending: pending.saturating_sub(batch.len() as u64),
                batch_bytes_sent: 0,
                batch_bytes: 0,
            });
            if answered < batch.len() {
                return Err(SyncError::Protocol(format!(
                    "the server answered for {answered} of {} events",
                    batch.len()
                )));
            }
        }
    }

    /// Pull pages until the server has no more, then rebuild the views they touched once (also
    /// when a page failed: what was stored is shown).
    fn pull(&self, session: &Session, report: &mut SyncReport) -> Result<(), SyncError> {
        let pulled = self.pull_pages(session, report);
        let settled = session.store.settle();
        // The page's error, if any, says more than a settle that failed after it.
        pulled?;
        settled?;
        (session.progress)(Progress::Pulled {
            received: report.events_received,
        });
        Ok(())
    }

    fn pull_pages(&self, session: &Session, report: &mut SyncReport) -> Result<(), SyncError> {
        let Session {
            store,
            token,
            progress,
            scope,
            link,
        } = *session;
        loop {
            scope.check()?;
            let cursor = store.sync_value(CURSOR_KEY)?.unwrap_or_default();
            // A page the link carries in `chunk_seconds`, so a slow link shows pages arriving.
            let most = self.config.pull_page.max(1) as u64;
            let limit = link.budget(&self.config).map_or(most, |b| {
                (b / PULL_EVENT_BYTES).clamp(MIN_PULL_PAGE.min(most), most)
            });
            let page: PullResponse = self.retrying(report, scope, |report| {
                let request = self
                    .http
                    .agent()
                    .get(self.http.url("/v1/sync/pull"))
                    .config()
                    .timeout_global(None)
                    .build()
                    .query("cursor", cursor.as_str())
                    .query("limit", limit.to_string());
                let answer = self
                    .http
                    .send(request, store.clock().as_ref(), Some(token), |r| r.call())?;
                self.note_offset(store, answer.offset_ms, report)?;
                answer.json()
            })?;
            let applied =
                store.apply_pull_page(&page.events, &page.seqs, CURSOR_KEY, &page.next_cursor)?;
            report.events_received += applied.applied as u32;
            progress(Progress::Pulling {
                received: report.events_received,
            });
            if !page.has_more || page.events.is_empty() {
                return Ok(());
            }
        }
    }

    fn note_offset(
        &self,
        store: &Store,
        offset_ms: Option<i64>,
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        if let Some(offset) = offset_ms {
            report.clock_offset_ms = Some(offset);
            store.set_sync_value(CLOCK_OFFSET_KEY, Some(&offset.to_string()))?;
        }
        Ok(())
    }

    /// Run `f`, retrying transient failures with backoff (honouring `Retry-After`).
    fn retrying<T>(
        &self,
        report: &mut SyncReport,
        scope: &InterruptScope,
        f: impl FnMut(&mut SyncReport) -> Result<T, SyncError>,
    ) -> Result<T, SyncError> {
        self.retrying_until(report, scope, None, f)
    }

    /// [`Self::retrying`] for `backoff.attempts` tries, and past them until `deadline`.
    fn retrying_until<T>(
        &self,
        report: &mut SyncReport,
        scope: &InterruptScope,
        deadline: Option<Instant>,
        mut f: impl FnMut(&mut SyncReport) -> Result<T, SyncError>,
    ) -> Result<T, SyncError> {
        let mut attempt = 1;
        loop {
            match f(report) {
                Ok(v) => return Ok(v),
                Err(e)
                    if e.is_transient()
                        && (attempt < self.config.backoff.attempts
                            || deadline.is_some_and(|d| Instant::now() < d)) =>
                {
                    report.retries += 1;
                    scope.sleep(
                        e.retry_after()
                            .unwrap_or(self.config.backoff.delay(attempt)),
                    )?;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Whether this device has a token (is enrolled), and with which server.
pub fn enrolled_server(store: &Store) -> Result<Option<String>, SyncError> {
    if store.sync_value(TOKEN_KEY)?.is_none() {
        return Ok(None);
    }
    Ok(store.sync_value(SERVER_KEY)?)
}

/// Whether the server takes this device's syncs, as last heard; kept across restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authorization {
    /// No token yet: enrol with a code from the desk.
    NotEnrolled,
    Enrolled,
    /// The server refused the token (the desk revoked the device): enrol again.
    Revoked,
}

pub fn authorization(store: &Store) -> Result<Authorization, SyncError> {
    Ok(if store.sync_value(TOKEN_KEY)?.is_none() {
        Authorization::NotEnrolled
    } else if store.sync_value(REVOKED_KEY)?.is_some() {
        Authorization::Revoked
    } else {
        Authorization::Enrolled
    })
}

/// When the last whole sync finished on this device, if one ever did.
pub fn last_synced_at(store: &Store) -> Result<Option<SystemTime>, SyncError> {
    Ok(store
        .sync_value(LAST_SYNCED_KEY)?
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(&s).ok())
        .map(SystemTime::from))
}

//! `FieldCore`: the one object the app holds. Each method adapts one call of the core: it parses
//! the app's arguments (ids, days), calls the store or the sync client, and converts the answer.
//! The rules, the durability and the sync protocol all live in `fieldcore`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use chrono::NaiveDate;
use fieldcore::domain::{
    CallOutcome, EventBody, ExceptionKind, ExemptionReason, GeoPoint, JobStatus, Lang, Packaging,
    PhotoCategory, TimerKind,
};
use fieldcore::photo::{self, PhotoSource, PipelineConfig, Point, Signature, Stroke};
use fieldcore::store::{HousekeepingPolicy, HousekeepingReport, JobFilter, Store, StoreOptions};
use fieldcore::sync::{
    Interrupt, InterruptScope, Progress, SyncClient, SyncConfig, SyncReport, authorization,
    enrolled_server, last_synced_at,
};
use uuid::Uuid;

use crate::error::{CoreError, Internal, invalid, map_error, sync_failure};
use crate::sync_gate::{Outcome, SyncGate};
use crate::sync_observer::{SyncObserver, SyncState};
use crate::types::{
    CapturedPhoto, CapturedSignature, CoreConfig, CoreStatus, Enrollment, JobDetail, JobSummary,
    RecordedEvent, SignatureStroke, job_detail,
};
use crate::watch::{JobWatcher, JobsWatcher, WatchHandle, Watches};

/// The app core on this device: the technician's jobs, actions, evidence and sync.
///
/// Thread-safe: every action is its own transaction, so the UI may act from any thread while a
/// background thread syncs. Calls block (disk, and network for `enroll` and `sync`): call them
/// off the main thread. Screens watch their data (`watch_jobs`, `watch_job`) rather than poll.
#[derive(Debug, uniffi::Object)]
pub struct FieldCore {
    store: Arc<Store>,
    lang: Lang,
    /// The server named in the configuration, used until enrolment records one.
    configured_server: Option<String>,
    delete_original_photos: bool,
    pipeline: PipelineConfig,
    /// One sync at a time; requests during one share one more sync after it.
    sync_gate: SyncGate,
    /// Stops running and waiting syncs (`sync_interrupt_handle`).
    interrupt: Interrupt,
    watches: Watches,
}

fn parse_id(what: &str, s: &str) -> Result<Uuid, CoreError> {
    Uuid::parse_str(s.trim()).map_err(|e| invalid(what, s, e))
}

fn parse_day(day: Option<String>) -> Result<Option<NaiveDate>, CoreError> {
    day.map(|d| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").map_err(|e| invalid("day", &d, e)))
        .transpose()
}

fn date(t: SystemTime) -> chrono::DateTime<chrono::Utc> {
    t.into()
}

impl FieldCore {
    fn err(&self, e: impl Into<Internal>) -> CoreError {
        map_error(e, self.lang)
    }

    fn act(&self, job_id: &str, body: EventBody) -> Result<RecordedEvent, CoreError> {
        let job = parse_id("job id", job_id)?;
        let event = self.store.act(job, body).map_err(|e| self.err(e))?;
        self.watches.changed();
        Ok(event.into())
    }

    /// The sync client for `base_url`, speaking the technician's language (enrolment and sync).
    fn client(&self, base_url: &str) -> Result<SyncClient, fieldcore::sync::SyncError> {
        let mut config = SyncConfig::new(base_url);
        config.lang = self.lang;
        SyncClient::new(config)
    }

    /// The store underneath, for this crate's Rust tests and Rust callers (not exported).
    pub fn store(&self) -> &Store {
        &self.store
    }
}

#[uniffi::export]
impl FieldCore {
    /// Open (or create) the device's store.
    #[uniffi::constructor]
    pub fn new(config: CoreConfig) -> Result<Arc<Self>, CoreError> {
        let lang = Lang::parse(&config.language)
            .ok_or_else(|| invalid("language", &config.language, "use \"en\" or \"zh-CN\""))?;
        let mut options = StoreOptions::new(PathBuf::from(&config.database_path));
        if let Some(dir) = &config.photo_dir {
            options.photo_dir = PathBuf::from(dir);
        }
        let store = Arc::new(Store::open_with(options).map_err(|e| map_error(e, lang))?);
        let watches = Watches::start(store.clone(), lang).map_err(|e| CoreError::Storage {
            detail: format!("could not start the core's notifier thread: {e}"),
        })?;
        Ok(Arc::new(FieldCore {
            store,
            lang,
            configured_server: config.server_url.filter(|s| !s.trim().is_empty()),
            delete_original_photos: config.delete_original_photos,
            pipeline: PipelineConfig::default(),
            sync_gate: SyncGate::default(),
            interrupt: Interrupt::new(),
            watches,
        }))
    }

    /// This installation's id (made once, kept in the database).
    pub fn device_id(&self) -> String {
        self.store.device_id().to_string()
    }

    pub fn status(&self) -> Result<CoreStatus, CoreError> {
        let enrolled_at = enrolled_server(&self.store).map_err(|e| self.err(e))?;
        Ok(CoreStatus {
            device_id: self.device_id(),
            outbox_len: self.store.outbox_len().map_err(|e| self.err(e))?,
            photos_awaiting_upload: self
                .store
                .photos_awaiting_upload()
                .map_err(|e| self.err(e))?
                .len() as u64,
            enrolled: enrolled_at.is_some(),
            authorization: authorization(&self.store).map_err(|e| self.err(e))?,
            last_synced_at: last_synced_at(&self.store).map_err(|e| self.err(e))?,
            server_url: enrolled_at.or_else(|| self.configured_server.clone()),
            technician_id: self
                .store
                .technician_id()
                .map_err(|e| self.err(e))?
                .map(|t| t.to_string()),
        })
    }

    /// Trade the desk's one-time code for this device's token, and adopt the organisation's
    /// rules. Needs the network.
    pub fn enroll(
        &self,
        server_url: String,
        code: String,
        device_name: String,
    ) -> Result<Enrollment, CoreError> {
        let client = self.client(&server_url).map_err(|e| self.err(e))?;
        let e = client
            .enroll(&self.store, &code, &device_name)
            .map_err(|e| self.err(e))?;
        self.watches.changed();
        Ok(Enrollment {
            technician_id: e.technician_id.to_string(),
            technician_name: e.technician_name,
            organisation_name: e.organisation_name,
        })
    }

    /// My jobs, in appointment order. Empty `statuses` means all; `day` is `YYYY-MM-DD` in the
    /// organisation's local time.
    pub fn jobs(
        &self,
        statuses: Vec<JobStatus>,
        day: Option<String>,
    ) -> Result<Vec<JobSummary>, CoreError> {
        let day = parse_day(day)?;
        let jobs = self
            .store
            .jobs(&JobFilter { statuses, day })
            .map_err(|e| self.err(e))?;
        Ok(jobs.into_iter().map(JobSummary::from).collect())
    }

    /// One job with everything the job screen shows; `None` if this device does not know it.
    pub fn job(&self, job_id: String) -> Result<Option<JobDetail>, CoreError> {
        let id = parse_id("job id", &job_id)?;
        let detail = self.store.job(id).map_err(|e| self.err(e))?;
        let rulebook = self.store.rulebook();
        Ok(detail.map(|d| job_detail(d, &rulebook, self.lang)))
    }

    /// Watch the job list (`jobs` with the same arguments): the watcher hears the list now,
    /// then again after every change that alters it (an action here, a photo, an applied pull
    /// page). Keep the handle: cancelling or dropping it ends the watch.
    pub fn watch_jobs(
        &self,
        statuses: Vec<JobStatus>,
        day: Option<String>,
        watcher: Arc<dyn JobsWatcher>,
    ) -> Result<Arc<WatchHandle>, CoreError> {
        let day = parse_day(day)?;
        Ok(self
            .watches
            .watch_jobs(JobFilter { statuses, day }, watcher))
    }

    /// Watch one job (`job`): its detail now, then after every change to it (the desk's too,
    /// once pulled). `None` while this device does not know the job.
    pub fn watch_job(
        &self,
        job_id: String,
        watcher: Arc<dyn JobWatcher>,
    ) -> Result<Arc<WatchHandle>, CoreError> {
        let id = parse_id("job id", &job_id)?;
        Ok(self.watches.watch_job(id, watcher))
    }

    // ---- the technician's actions: each one durable, or refused with why ----

    pub fn accept(&self, job_id: String) -> Result<RecordedEvent, CoreError> {
        self.act(&job_id, EventBody::JobAccepted)
    }

    pub fn log_call(
        &self,
        job_id: String,
        outcome: CallOutcome,
        note: String,
    ) -> Result<RecordedEvent, CoreError> {
        self.act(&job_id, EventBody::CustomerCallLogged { outcome, note })
    }

    /// The goods reached the logistics point at `arrived_at` (it may be earlier than now).
    pub fn goods_arrived(
        &self,
        job_id: String,
        arrived_at: SystemTime,
        note: String,
    ) -> Result<RecordedEvent, CoreError> {
        let arrived_at = date(arrived_at);
        self.act(&job_id, EventBody::LogisticsArrived { arrived_at, note })
    }

    pub fn record_pickup(
        &self,
        job_id: String,
        pieces: u32,
        packaging: Packaging,
        note: String,
    ) -> Result<RecordedEvent, CoreError> {
        self.act(
            &job_id,
            EventBody::PickupRecorded {
                pieces,
                packaging,
                note,
            },
        )
    }

    /// Report something that stops or bends the visit; `photo_ids` are photos already captured
    /// in the `exception` category. The new exception's id is the result's `subject_id`.
    pub fn raise_exception(
        &self,
        job_id: String,
        kind: ExceptionKind,
        note: String,
        photo_ids: Vec<String>,
    ) -> Result<RecordedEvent, CoreError> {
        let photo_ids = photo_ids
            .iter()
            .map(|p| parse_id("photo id", p))
            .collect::<Result<Vec<_>, _>>()?;
        self.act(
            &job_id,
            EventBody::ExceptionRaised {
                exception_id: Uuid::now_v7(),
                kind,
                note,
                photo_ids,
            },
        )
    }

    pub fn book_appointment(
        &self,
        job_id: String,
        at: SystemTime,
        note: String,
    ) -> Result<RecordedEvent, CoreError> {
        let at = date(at);
        self.act(&job_id, EventBody::AppointmentBooked { at, note })
    }

    pub fn reschedule(
        &self,
        job_id: String,
        at: SystemTime,
        reason: String,
        customer_consented: bool,
    ) -> Result<RecordedEvent, CoreError> {
        let at = date(at);
        self.act(
            &job_id,
            EventBody::AppointmentRescheduled {
                at,
                reason,
                customer_consented,
            },
        )
    }

    pub fn check_in(
        &self,
        job_id: String,
        location: Option<GeoPoint>,
    ) -> Result<RecordedEvent, CoreError> {
        self.act(&job_id, EventBody::CheckedIn { location })
    }

    pub fn answer_checklist(
        &self,
        job_id: String,
        item_id: String,
        answer: bool,
        note: String,
    ) -> Result<RecordedEvent, CoreError> {
        self.act(
            &job_id,
            EventBody::ChecklistAnswered {
                item_id,
                answer,
                note,
            },
        )
    }

    pub fn mark_work_done(&self, job_id: String, note: String) -> Result<RecordedEvent, CoreError> {
        self.act(&job_id, EventBody::WorkMarkedDone { note })
    }

    pub fn enter_confirmation_code(
        &self,
        job_id: String,
        code: String,
    ) -> Result<RecordedEvent, CoreError> {
        self.act(&job_id, EventBody::ConfirmationCodeEntered { code })
    }

    pub fn complete(&self, job_id: String, note: String) -> Result<RecordedEvent, CoreError> {
        self.act(&job_id, EventBody::JobCompleted { note })
    }

    /// Ask the desk to excuse a breached timer. The claim's id is the result's `subject_id`.
    pub fn claim_exemption(
        &self,
        job_id: String,
        timer: TimerKind,
        reason: ExemptionReason,
        note: String,
    ) -> Result<RecordedEvent, CoreError> {
        self.act(
            &job_id,
            EventBody::ExemptionClaimed {
                claim_id: Uuid::now_v7(),
                timer,
                reason,
                note,
            },
        )
    }

    pub fn check_out(&self, job_id: String) -> Result<RecordedEvent, CoreError> {
        self.act(&job_id, EventBody::CheckedOut)
    }

    // ---- evidence ----

    /// Store the camera's file at `file_path` as evidence on the job (decoded with limits,
    /// upright, metadata-free, hashed) and record it. With `delete_original_photos`, the
    /// camera's file is deleted once the photo is recorded.
    pub fn capture_photo(
        &self,
        job_id: String,
        category: PhotoCategory,
        file_path: String,
        location: Option<GeoPoint>,
    ) -> Result<CapturedPhoto, CoreError> {
        let job = parse_id("job id", &job_id)?;
        let source = Path::new(&file_path);
        let c = self
            .store
            .capture_photo(
                job,
                category,
                PhotoSource::Path(source),
                location,
                &self.pipeline,
            )
            .map_err(|e| self.err(e))?;
        self.watches.changed();
        if self.delete_original_photos {
            photo::remove_original(source).map_err(|e| self.err(e))?;
        }
        Ok(CapturedPhoto {
            event_id: c.event.id.to_string(),
            photo_id: c.photo_id.to_string(),
            sha256: c.sha256,
            width: c.width,
            height: c.height,
            bytes: c.bytes,
            path: c.path.to_string_lossy().into_owned(),
            thumb_path: c.thumb_path.to_string_lossy().into_owned(),
        })
    }

    /// Record the customer's own signature: their strokes on a `width` x `height` canvas.
    pub fn capture_signature(
        &self,
        job_id: String,
        width: u32,
        height: u32,
        strokes: Vec<SignatureStroke>,
    ) -> Result<CapturedSignature, CoreError> {
        let job = parse_id("job id", &job_id)?;
        let signature = Signature {
            width,
            height,
            strokes: strokes
                .into_iter()
                .map(|s| Stroke {
                    points: s
                        .points
                        .into_iter()
                        .map(|p| Point {
                            x: p.x,
                            y: p.y,
                            t_ms: p.t_ms,
                        })
                        .collect(),
                })
                .collect(),
        };
        let c = self
            .store
            .capture_signature(job, &signature)
            .map_err(|e| self.err(e))?;
        self.watches.changed();
        Ok(CapturedSignature {
            signature_event_id: c.signature_event.id.to_string(),
            photo_event_id: c.photo_event.id.to_string(),
            strokes_sha256: c.strokes_sha256,
            png_sha256: c.png_sha256,
        })
    }

    // ---- housekeeping ----

    /// Free storage without losing evidence: delete the files of photos the server has held
    /// for `prune_uploaded_after_days` (`None`: keep them), and what captures killed mid-way
    /// left behind. Records and hashes stay. Meant for the background job, after a sync.
    pub fn housekeeping(
        &self,
        prune_uploaded_after_days: Option<u32>,
    ) -> Result<HousekeepingReport, CoreError> {
        let policy = HousekeepingPolicy {
            prune_uploaded_after: prune_uploaded_after_days
                .map(|days| chrono::Duration::days(days.into())),
            ..HousekeepingPolicy::default()
        };
        self.store.housekeeping(&policy).map_err(|e| self.err(e))
    }

    // ---- sync ----

    /// Push the outbox, pull the desk's changes, upload photos. Blocking, possibly for long
    /// (retries with backoff): call it from a background thread (WorkManager, BGTaskScheduler).
    /// One runs at a time: a call during a sync waits for one more sync after it, which all
    /// such calls share. The observer hears `Started`, progress, then `Finished`, `Failed` or
    /// `Cancelled`; the same outcome is returned. Actions on other threads go on meanwhile.
    pub fn sync(&self, observer: Arc<dyn SyncObserver>) -> Result<SyncReport, CoreError> {
        // Taken now: an interrupt from here on stops this request, waiting or running.
        let scope = self.interrupt.scope();
        let (outcome, _ran) = self.sync_gate.run(|| {
            observer.on_state(SyncState::Started);
            self.sync_now(&*observer, &scope)
        });
        observer.on_state(match &outcome {
            Ok(report) => SyncState::Finished {
                report: report.clone(),
            },
            Err(f) => match &**f {
                (CoreError::Cancelled { .. }, _) => SyncState::Cancelled,
                (_, failure) => SyncState::Failed {
                    failure: failure.clone(),
                },
            },
        });
        outcome.map_err(|f| f.0)
    }

    /// The handle that stops syncs from another thread (an OS expiration handler, a stopped
    /// worker, a Cancel button): every sync running or waiting when it is used ends with
    /// `Cancelled` at its next step; later syncs run normally.
    pub fn sync_interrupt_handle(&self) -> Arc<SyncInterruptHandle> {
        Arc::new(SyncInterruptHandle {
            interrupt: self.interrupt.clone(),
        })
    }
}

/// Stops the syncs of one [`FieldCore`]; safe to use from any thread, at any time.
#[derive(Debug, uniffi::Object)]
pub struct SyncInterruptHandle {
    interrupt: Interrupt,
}

#[uniffi::export]
impl SyncInterruptHandle {
    pub fn interrupt(&self) {
        self.interrupt.interrupt();
    }
}

/// The core's language for a device locale (BCP 47 or `zh_CN` style): `"en"` or `"zh-CN"`,
/// the value `CoreConfig.language` takes.
#[uniffi::export]
pub fn language_for_locale(locale_tag: String) -> String {
    Lang::for_locale(&locale_tag).tag().to_string()
}

impl FieldCore {
    fn sync_now(&self, observer: &dyn SyncObserver, scope: &InterruptScope) -> Outcome {
        let failed = |e: Internal| Box::new(sync_failure(e, self.lang));
        let server = enrolled_server(&self.store)
            .map_err(|e| failed(e.into()))?
            .or_else(|| self.configured_server.clone())
            .ok_or_else(|| failed(fieldcore::sync::SyncError::NotEnrolled.into()))?;
        let client = self.client(&server).map_err(|e| failed(e.into()))?;
        let progress = |p: Progress| {
            if let Progress::Pulled { .. } = p {
                // The pull is applied and its views rebuilt: the desk's changes are in the store.
                self.watches.changed();
            }
            observer.on_state(match p {
                Progress::Pushing {
                    sent,
                    pending,
                    batch_bytes_sent,
                    batch_bytes,
                } => SyncState::Pushing {
                    sent,
                    pending,
                    batch_bytes_sent,
                    batch_bytes,
                },
                Progress::Pulling { received } | Progress::Pulled { received } => {
                    SyncState::Pulling { received }
                }
                Progress::Uploading(p) => SyncState::Uploading {
                    photo_id: p.photo_id.to_string(),
                    job_id: p.job_id.to_string(),
                    category: p.category,
                    number: p.number,
                    count: p.count,
                    sent: p.sent,
                    total: p.total,
                    sync_sent: p.sync_sent,
                    sync_total: p.sync_total,
                },
            })
        };
        let run = client.run(&self.store, &progress, scope);
        // Push verdicts, uploads and the authorisation state show on screens too.
        self.watches.changed();
        match run.outcome {
            Ok(()) => Ok(run.report),
            Err(e) => {
                let mut failure = failed(e.into());
                failure.1.report = run.report;
                Err(failure)
            }
        }
    }
}

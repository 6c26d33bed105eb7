//! Harness for the end-to-end tests: the real sync server on 127.0.0.1, real device stores
//! (in-process, or the `fieldtech` binary as a separate process to kill), a dispatcher client
//! over the real HTTP API, and a fault-injecting proxy.

pub mod cli;
pub mod converge;
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
    /// The technician's language, sent with every request.
    pub lang: fieldcore::domain::Lang,
    /// The camera's picture size, in pixels (a phone's is 12 MP: 4000 x 3000).
    pub camera: (u32, u32),
}

/// A phone's clocks: the wall clock off by a skew the test sets (and may change: a user moving
/// the clock), the monotonic clock honest (the real one), as on a real phone.
#[derive(Debug, Default)]
pub struct SkewedClock {
    skew_ms: std::sync::atomic::AtomicI64,
}

impl SkewedClock {
    pub fn new(skew: chrono::Duration) -> std::sync::Arc<SkewedClock> {
        let c = SkewedClock::default();
        c.set(skew);
        std::sync::Arc::new(c)
    }

    pub fn set(&self, skew: chrono::Duration) {
        self.skew_ms.store(
            skew.num_milliseconds(),
            std::sync::atomic::Ordering::Relaxed,
        );
    }
}

impl fieldcore::store::Clock for SkewedClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
            + chrono::Duration::milliseconds(
                self.skew_ms.load(std::sync::atomic::Ordering::Relaxed),
            )
    }

    fn monotonic_ms(&self) -> i64 {
        fieldcore::store::SystemClock.monotonic_ms()
    }
}

impl Device {
    pub fn new(server_url: &str) -> Device {
        Self::with_clock(
            server_url,
            std::sync::Arc::new(fieldcore::store::SystemClock),
        )
    }

    /// A phone whose clocks are `clock` (a wrong wall clock, say).
    pub fn with_clock(
        server_url: &str,
        clock: std::sync::Arc<dyn fieldcore::store::Clock>,
    ) -> Device {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut options = StoreOptions::new(dir.path().join("device.db"));
        options.clock = clock;
        let store = Store::open_with(options).expect("store");
        Device {
            dir,
            store,
            server_url: server_url.to_string(),
            chunk_size: 64 * 1024,
            lang: fieldcore::domain::Lang::En,
            camera: (1024, 768),
        }
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("device.db")
    }

    /// The app killed and started again: the store closed and opened anew from its file.
    pub fn restart(&mut self) {
        let mut options = StoreOptions::new(self.db_path());
        options.clock = self.store.clock().clone();
        let placeholder = Store::open_with(StoreOptions::new(self.dir.path().join("swap.db")))
            .expect("placeholder");
        drop(std::mem::replace(&mut self.store, placeholder));
        self.store = Store::open_with(options).expect("reopen");
    }

    pub fn client(&self) -> SyncClient {
        let mut config = SyncConfig::new(self.server_url.clone());
        config.chunk_size = self.chunk_size;
        config.max_chunk_size = self.chunk_size;
        config.backoff.base = std::time::Duration::from_millis(20);
        config.backoff.max = std::time::Duration::from_millis(400);
        config.backoff.attempts = 12;
        config.request_timeout = std::time::Duration::from_secs(5);
        config.stall_timeout = std::time::Duration::from_secs(5);
        config.upload_patience = std::time::Duration::from_secs(5);
        config.lang = self.lang;
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

/// A camera JPEG that does not compress to nothing: gradients and seeded noise, distinct per
/// seed (so different photos have different hashes).
pub fn camera_jpeg(width: u32, height: u32, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let n = (state & 0x3f) as u8;
        image::Rgb([
            ((x * 255 / width) as u8).wrapping_add(n),
            ((y * 255 / height) as u8).wrapping_add(n / 2),
            (seed as u8).wrapping_mul(37).wrapping_add(n),
        ])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&img)
        .expect("encode");
    out
}

impl Device {
    /// Take a photo: write a camera file, then capture it as the app does.
    pub fn photo(
        &self,
        job: Uuid,
        category: fieldcore::domain::PhotoCategory,
        seed: u64,
    ) -> fieldcore::store::CapturedPhoto {
        let file = self.dir.path().join(format!("camera-{seed}.jpg"));
        let (width, height) = self.camera;
        std::fs::write(&file, camera_jpeg(width, height, seed)).expect("camera file");
        self.store
            .capture_photo(
                job,
                category,
                fieldcore::photo::PhotoSource::Path(&file),
                None,
                &fieldcore::photo::PipelineConfig::default(),
            )
            .unwrap_or_else(|e| panic!("photo refused: {e}"))
    }

    /// Everything a technician does on a clean visit, from acceptance to check-out. The desk
    /// booked the appointment when it created the job.
    pub fn clean_visit(&self, job: Uuid, kind: fieldcore::domain::JobKind, seed: u64) {
        self.act(job, EventBody::JobAccepted);
        self.clean_visit_after_acceptance(job, kind, seed);
    }

    /// [`Device::clean_visit`] of a job the technician has accepted already.
    pub fn clean_visit_after_acceptance(
        &self,
        job: Uuid,
        kind: fieldcore::domain::JobKind,
        seed: u64,
    ) {
        use fieldcore::domain::{CallOutcome, JobKind, Packaging, PhotoCategory};
        if kind == JobKind::DeliveryInstall {
            self.act(
                job,
                EventBody::LogisticsArrived {
                    arrived_at: chrono::Utc::now() - chrono::Duration::minutes(30),
                    note: String::new(),
                },
            );
        }
        self.act(
            job,
            EventBody::CustomerCallLogged {
                outcome: CallOutcome::Reached,
                note: "confirmed".into(),
            },
        );
        if kind == JobKind::DeliveryInstall {
            self.photo(job, PhotoCategory::Pickup, seed);
            self.act(
                job,
                EventBody::PickupRecorded {
                    pieces: 2,
                    packaging: Packaging::Intact,
                    note: String::new(),
                },
            );
        }
        self.act(job, EventBody::CheckedIn { location: None });
        for item in self.store.rulebook().checklist.required() {
            self.act(
                job,
                EventBody::ChecklistAnswered {
                    item_id: item.id.clone(),
                    answer: true,
                    note: String::new(),
                },
            );
        }
        self.act(
            job,
            EventBody::WorkMarkedDone {
                note: String::new(),
            },
        );
        self.photo(job, PhotoCategory::Completion, seed + 1);
        self.photo(job, PhotoCategory::Completion, seed + 2);
        self.store
            .capture_signature(job, &fieldcore::fixtures::pad_signature())
            .expect("signature");
        self.photo(job, PhotoCategory::Receipt, seed + 3);
        self.act(
            job,
            EventBody::ConfirmationCodeEntered {
                code: "834201".into(),
            },
        );
        self.act(
            job,
            EventBody::JobCompleted {
                note: String::new(),
            },
        );
        self.act(job, EventBody::CheckedOut);
    }
}

/// The desk's view of `job` after every event of the phone's `store` on it arrived exactly
/// once: nothing lost, nothing twice. Returns the job's detail for further checks.
pub fn assert_exactly_once(desk: &Desk, store: &Store, job: Uuid) -> serde_json::Value {
    let detail = desk.job_detail(job);
    let timeline = detail["timeline"].as_array().expect("timeline");
    let local = store.events_of(job).expect("events");
    assert_eq!(
        timeline.len(),
        local.len(),
        "job {job}: nothing lost, nothing twice"
    );
    for e in &local {
        let n = timeline
            .iter()
            .filter(|t| t["event"]["id"] == e.id.to_string())
            .count();
        assert_eq!(n, 1, "event {}", e.id);
    }
    detail
}

/// SHA-256 in lower-case hex, as evidence hashes are written.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

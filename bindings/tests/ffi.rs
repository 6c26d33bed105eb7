//! The bindings' object as the apps use it, from Rust: thread safety, error mapping, the job
//! screen's record. Jobs arrive the way a pull brings them (desk events applied to the store), so
//! these tests need no server; the Kotlin tests run the same flows against a real one.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use fieldcore::domain::{CallOutcome, JobKind, JobStatus, PhotoCategory};
use fieldcore::fixtures::Desk;
use fieldcore_ffi::types::JobSummary;
use fieldcore_ffi::types::{CoreConfig, SignaturePoint, SignatureStroke};
use fieldcore_ffi::{
    CoreError, FailureKind, FieldCore, JobsWatcher, SyncObserver, SyncState, WatchHandle,
    language_for_locale, retry_delay_secs,
};
use uuid::Uuid;

fn open(dir: &tempfile::TempDir, language: &str, server: Option<String>) -> Arc<FieldCore> {
    FieldCore::new(CoreConfig {
        database_path: dir.path().join("core.db").to_string_lossy().into_owned(),
        photo_dir: None,
        server_url: server,
        language: language.into(),
        delete_original_photos: true,
    })
    .expect("open")
}

/// Enrol by hand (as the sync client does at enrolment) and give the device `n` jobs.
fn with_jobs(core: &FieldCore, n: usize) -> Vec<String> {
    let technician = Uuid::now_v7();
    core.store().set_technician(technician).unwrap();
    let desk = Desk::default();
    let mut ids = Vec::new();
    for _ in 0..n {
        let (job, events) = desk.new_job(JobKind::Install, technician, chrono::Utc::now());
        core.store().apply_remote(&events).unwrap();
        ids.push(job.to_string());
    }
    ids
}

/// A whole visit, up to work done, through the exported methods.
fn visit(core: &FieldCore, job: &str) -> Result<usize, CoreError> {
    let mut n = 0;
    core.accept(job.into())?;
    core.log_call(job.into(), CallOutcome::Reached, "booked".into())?;
    core.book_appointment(
        job.into(),
        SystemTime::now() + Duration::from_secs(600),
        String::new(),
    )?;
    core.check_in(job.into(), None)?;
    n += 4;
    let detail = core.job(job.into())?.expect("job known");
    for item in detail.checklist.iter().filter(|i| i.required) {
        core.answer_checklist(job.into(), item.item_id.clone(), true, String::new())?;
        n += 1;
    }
    core.mark_work_done(job.into(), "installed".into())?;
    Ok(n + 1)
}

#[test]
fn the_object_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<FieldCore>();
}

#[derive(Default)]
struct Recorder(Mutex<Vec<SyncState>>);

impl SyncObserver for Recorder {
    fn on_state(&self, state: SyncState) {
        self.0.lock().unwrap().push(state);
    }
}

/// Eight threads work eight jobs at once while another syncs (against a port nobody listens on,
/// so it retries with backoff the whole time) and another reads: every action is recorded,
/// none fails, and the sync fails with `Network`, nothing lost.
#[test]
fn many_threads_act_while_one_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let core = open(&dir, "en", Some("http://127.0.0.1:9".into()));
    let jobs = with_jobs(&core, 8);
    // A token, as enrolment leaves one (the key is the sync client's), so the sync gets as far
    // as the network.
    core.store()
        .set_sync_value("device_token", Some("not-a-real-token"))
        .unwrap();
    let observer = Arc::new(Recorder::default());

    let (recorded, sync_result) = std::thread::scope(|s| {
        let syncing = {
            let core = core.clone();
            let observer = observer.clone();
            s.spawn(move || core.sync(observer))
        };
        let reader = {
            let core = core.clone();
            s.spawn(move || {
                for _ in 0..50 {
                    core.status().unwrap();
                    core.jobs(vec![], None).unwrap();
                }
            })
        };
        let workers: Vec<_> = jobs
            .iter()
            .map(|job| {
                let core = core.clone();
                s.spawn(move || visit(&core, job))
            })
            .collect();
        let recorded: usize = workers
            .into_iter()
            .map(|w| w.join().unwrap().expect("every action is recorded"))
            .sum();
        reader.join().unwrap();
        (recorded, syncing.join().unwrap())
    });

    assert!(
        matches!(sync_result, Err(CoreError::Network { .. })),
        "{sync_result:?}"
    );
    let states = observer.0.lock().unwrap();
    assert!(matches!(states.first(), Some(SyncState::Started)));
    let Some(SyncState::Failed { failure }) = states.last() else {
        panic!("{:?}", states.last())
    };
    assert_eq!(failure.kind, FailureKind::Network);
    assert!(failure.transient && failure.http_status.is_none());
    assert_eq!(
        retry_delay_secs(failure.clone(), 1),
        Some(30),
        "the platforms' schedulers retry a lost network"
    );

    let status = core.status().unwrap();
    assert_eq!(status.outbox_len, recorded as u64);
    for job in &jobs {
        let detail = core.job(job.clone()).unwrap().unwrap();
        assert_eq!(detail.status, JobStatus::WorkDone);
        let mine = detail.timeline.iter().filter(|t| t.by_technician).count();
        assert_eq!(mine, recorded / jobs.len());
    }
    core.store().check_integrity().unwrap();
}

#[test]
fn a_refusal_names_its_rule_and_speaks_the_configured_language() {
    let dir = tempfile::tempdir().unwrap();
    let core = open(&dir, "zh-CN", None);
    let job = with_jobs(&core, 1).remove(0);
    core.accept(job.clone()).unwrap();
    match core.mark_work_done(job.clone(), String::new()) {
        Err(CoreError::Refused { rule, detail, .. }) => {
            assert_eq!(rule, "not_checked_in");
            assert!(detail.contains("签到"), "{detail}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let detail = core.job(job).unwrap().unwrap();
    assert!(
        detail
            .completion_missing
            .iter()
            .any(|m| m.what == "check_in" && m.message.contains("签到"))
    );
    assert!(detail.checklist.iter().all(|i| !i.text.is_ascii()));
}

#[test]
fn app_errors_are_mapped_to_what_the_app_can_do() {
    let dir = tempfile::tempdir().unwrap();
    let core = open(&dir, "en", None);
    let some_job = Uuid::now_v7().to_string();
    assert!(matches!(
        core.accept(some_job.clone()),
        Err(CoreError::NotEnrolled { .. })
    ));
    assert!(matches!(
        core.sync(Arc::new(Recorder::default())),
        Err(CoreError::NotEnrolled { .. })
    ));
    assert!(matches!(
        core.accept("not-an-id".into()),
        Err(CoreError::InvalidInput { .. })
    ));
    assert!(matches!(
        core.jobs(vec![], Some("23/11/2026".into())),
        Err(CoreError::InvalidInput { .. })
    ));
    assert!(matches!(
        FieldCore::new(CoreConfig {
            database_path: dir.path().join("x.db").to_string_lossy().into_owned(),
            photo_dir: None,
            server_url: None,
            language: "fr".into(),
            delete_original_photos: false,
        }),
        Err(CoreError::InvalidInput { .. })
    ));
    let job = with_jobs(&core, 1).remove(0);
    assert!(matches!(
        core.accept(some_job),
        Err(CoreError::Refused { rule, .. }) if rule == "unknown_job"
    ));
    assert!(core.job(Uuid::now_v7().to_string()).unwrap().is_none());
    // A photo that is not a photo: refused as evidence, nothing recorded.
    core.accept(job.clone()).unwrap();
    core.book_appointment(job.clone(), SystemTime::now(), String::new())
        .unwrap();
    core.check_in(job.clone(), None).unwrap();
    core.mark_work_done(job.clone(), String::new()).unwrap();
    let bogus = dir.path().join("bogus.jpg");
    std::fs::write(&bogus, b"this is not a jpeg").unwrap();
    assert!(matches!(
        core.capture_photo(
            job.clone(),
            PhotoCategory::Completion,
            bogus.to_string_lossy().into_owned(),
            None
        ),
        Err(CoreError::InvalidPhoto { .. })
    ));
    // No strokes at all: the rulebook refuses it. A tap: the signature check refuses it.
    assert!(matches!(
        core.capture_signature(job.clone(), 400, 200, vec![]),
        Err(CoreError::Refused { rule, .. }) if rule == "invalid_input"
    ));
    let tap = SignatureStroke {
        points: vec![SignaturePoint {
            x: 10.0,
            y: 10.0,
            t_ms: 0,
        }],
    };
    let tapped = core.capture_signature(job, 400, 200, vec![tap]);
    assert!(
        matches!(tapped, Err(CoreError::InvalidPhoto { .. })),
        "{tapped:?}"
    );
}

#[test]
fn a_signature_is_recorded_from_strokes() {
    let dir = tempfile::tempdir().unwrap();
    let core = open(&dir, "en", None);
    let job = with_jobs(&core, 1).remove(0);
    visit(&core, &job).unwrap();
    let stroke = SignatureStroke {
        points: (0..40)
            .map(|i| SignaturePoint {
                x: 20.0 + i as f32 * 8.0,
                y: 100.0 + (i as f32 / 3.0).sin() * 40.0,
                t_ms: i * 16,
            })
            .collect(),
    };
    let captured = core
        .capture_signature(job.clone(), 400, 200, vec![stroke])
        .unwrap();
    assert_eq!(captured.png_sha256.len(), 64);
    let detail = core.job(job).unwrap().unwrap();
    assert!(detail.signature_captured);
    assert!(
        detail
            .photos
            .iter()
            .any(|p| p.category == PhotoCategory::Signature)
    );
    assert_eq!(core.status().unwrap().photos_awaiting_upload, 1);
}

/// Collects what a watcher hears, and lets a test wait for a value.
#[derive(Default)]
struct Heard(Mutex<Vec<Vec<JobSummary>>>, std::sync::Condvar);

impl JobsWatcher for Heard {
    fn on_jobs(&self, jobs: Vec<JobSummary>) {
        self.0.lock().unwrap().push(jobs);
        self.1.notify_all();
    }
}

impl Heard {
    /// Waits until some value told satisfies `f`; the values told so far on timeout.
    fn wait_for(&self, f: impl Fn(&[JobSummary]) -> bool) -> Result<(), String> {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let mut heard = self.0.lock().unwrap();
        loop {
            if heard.iter().any(|jobs| f(jobs)) {
                return Ok(());
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(format!("{heard:?}"));
            }
            heard = self.1.wait_timeout(heard, left).unwrap().0;
        }
    }
}

#[test]
fn a_watched_job_list_is_told_after_each_change_and_not_after_cancel() {
    let dir = tempfile::tempdir().unwrap();
    let core = open(&dir, "en", None);
    let jobs = with_jobs(&core, 2);
    let heard = Arc::new(Heard::default());
    let handle: Arc<WatchHandle> = core
        .watch_jobs(vec![JobStatus::Accepted], None, heard.clone())
        .unwrap();
    heard
        .wait_for(|list| list.is_empty())
        .expect("told the list at once");

    core.accept(jobs[0].clone()).unwrap();
    heard
        .wait_for(|list| list.len() == 1 && list[0].job_id == jobs[0])
        .expect("told after the action");
    // The list is unchanged by an action on a job it does not hold: nothing new is told.
    let told = heard.0.lock().unwrap().len();
    core.log_call(jobs[0].clone(), CallOutcome::Reached, String::new())
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(heard.0.lock().unwrap().len(), told, "no news, no call");

    handle.cancel();
    core.accept(jobs[1].clone()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        heard.0.lock().unwrap().len(),
        told,
        "a cancelled watch hears nothing"
    );
    assert!(
        core.watch_jobs(vec![], Some("28/11/2026".into()), heard.clone())
            .is_err(),
        "a malformed day is refused"
    );
}

/// A sync stuck in backoff (nobody listens on port 9) stops at once through the interrupt
/// handle; the next sync runs again.
#[test]
fn the_interrupt_handle_stops_a_sync_waiting_on_the_network() {
    let dir = tempfile::tempdir().unwrap();
    let core = open(&dir, "en", Some("http://127.0.0.1:9".into()));
    with_jobs(&core, 1);
    core.store()
        .set_sync_value("device_token", Some("not-a-real-token"))
        .unwrap();
    let observer = Arc::new(Recorder::default());
    let handle = core.sync_interrupt_handle();
    let started = std::time::Instant::now();
    let outcome = std::thread::scope(|s| {
        let syncing = s.spawn(|| core.sync(observer.clone()));
        while !observer
            .0
            .lock()
            .unwrap()
            .iter()
            .any(|st| matches!(st, SyncState::Started))
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(100));
        handle.interrupt();
        syncing.join().unwrap()
    });
    assert!(
        matches!(outcome, Err(CoreError::Cancelled { .. })),
        "{outcome:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(matches!(
        observer.0.lock().unwrap().last(),
        Some(SyncState::Cancelled)
    ));
    // Not stuck cancelled: the next sync goes to the network again (and fails there).
    let again = core.sync(Arc::new(Recorder::default()));
    assert!(matches!(again, Err(CoreError::Network { .. })), "{again:?}");
}

#[test]
fn the_language_follows_the_locale() {
    assert_eq!(language_for_locale("zh_CN".into()), "zh-CN");
    assert_eq!(language_for_locale("zh-Hant-TW".into()), "zh-CN");
    assert_eq!(language_for_locale("en-GB".into()), "en");
    assert_eq!(language_for_locale("de".into()), "en");
}

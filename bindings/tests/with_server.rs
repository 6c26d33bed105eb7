//! The exported object against the real sync server on 127.0.0.1: many threads work their jobs
//! while another thread syncs again and again; afterwards every action is on the server, once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use fieldcore::domain::{CallOutcome, JobKind};
use fieldcore_e2e::Server;
use fieldcore_ffi::types::CoreConfig;
use fieldcore_ffi::{FieldCore, SyncObserver, SyncState};

struct Quiet;
impl SyncObserver for Quiet {
    fn on_state(&self, _: SyncState) {}
}

#[test]
fn threads_act_on_their_jobs_while_one_thread_syncs_with_the_server() {
    let server = Server::start();
    let desk = server.desk("Acme Service");
    let technician = desk.technician("李师傅");
    let jobs: Vec<String> = (0..6)
        .map(|_| {
            desk.job(JobKind::Install, technician, chrono::Utc::now())
                .to_string()
        })
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let core = FieldCore::new(CoreConfig {
        database_path: dir.path().join("core.db").to_string_lossy().into_owned(),
        photo_dir: None,
        server_url: None,
        language: "en".into(),
        delete_original_photos: true,
    })
    .unwrap();
    core.enroll(server.url(), desk.code(technician), "test phone".into())
        .unwrap();
    core.sync(Arc::new(Quiet)).unwrap();
    assert_eq!(core.jobs(vec![], None).unwrap().len(), jobs.len());

    let working = AtomicBool::new(true);
    let (recorded, syncs) = std::thread::scope(|s| {
        let syncer = s.spawn(|| {
            let mut n = 0;
            while working.load(Ordering::Acquire) {
                core.sync(Arc::new(Quiet)).expect("sync during actions");
                n += 1;
            }
            n
        });
        let workers: Vec<_> = jobs
            .iter()
            .map(|job| {
                let core = &core;
                s.spawn(move || {
                    let j = || job.clone();
                    core.accept(j()).unwrap();
                    core.log_call(j(), CallOutcome::Reached, "booked".into())
                        .unwrap();
                    core.check_in(j(), None).unwrap();
                    let detail = core.job(j()).unwrap().unwrap();
                    let mut n = 3;
                    for item in detail.checklist.iter().filter(|i| i.required) {
                        core.answer_checklist(j(), item.item_id.clone(), true, String::new())
                            .unwrap();
                        n += 1;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    core.mark_work_done(j(), String::new()).unwrap();
                    core.reschedule(
                        j(),
                        SystemTime::now() + Duration::from_secs(86_400),
                        "return visit for a part".into(),
                        true,
                    )
                    .ok();
                    n + 1
                })
            })
            .collect();
        let recorded: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
        working.store(false, Ordering::Release);
        (recorded, syncer.join().unwrap())
    });
    assert!(syncs >= 1);

    let report = core.sync(Arc::new(Quiet)).unwrap();
    assert_eq!(report.rejected, 0, "{report:?}");
    let status = core.status().unwrap();
    assert_eq!(status.outbox_len, 0);
    for job in &jobs {
        let on_server = desk.job_detail(job.parse().unwrap());
        assert_eq!(on_server["status"], "work_done", "{on_server}");
        assert!(on_server["rejections"].as_array().unwrap().is_empty());
    }
    let mine: usize = jobs
        .iter()
        .map(|j| {
            let d = core.job(j.clone()).unwrap().unwrap();
            assert!(
                d.timeline
                    .iter()
                    .filter(|t| t.by_technician)
                    .all(|t| t.push_state == fieldcore::store::PushState::Accepted)
            );
            d.timeline.iter().filter(|t| t.by_technician).count()
        })
        .collect::<Vec<_>>()
        .iter()
        .sum();
    // A reschedule may be refused locally (rule), never lost: what was recorded is all there.
    assert!(mine >= recorded, "{mine} < {recorded}");
}

fn open_core(dir: &tempfile::TempDir) -> Arc<FieldCore> {
    FieldCore::new(CoreConfig {
        database_path: dir.path().join("core.db").to_string_lossy().into_owned(),
        photo_dir: None,
        server_url: None,
        language: "en".into(),
        delete_original_photos: true,
    })
    .unwrap()
}

/// A job's watcher hears the desk's change once a sync pulls it; the last sync's time and a
/// revocation survive a restart; a revoked device enrols again with a new code and syncs, its
/// unsynced work intact.
#[test]
fn the_desks_changes_reach_a_watcher_and_a_revoked_device_enrols_again() {
    use fieldcore::sync::Authorization;
    use fieldcore_ffi::types::JobDetail;
    use fieldcore_ffi::{CoreError, JobWatcher};
    use std::sync::{Condvar, Mutex};

    #[derive(Default)]
    struct Heard(Mutex<Vec<Option<JobDetail>>>, Condvar);
    impl JobWatcher for Heard {
        fn on_job(&self, job: Option<JobDetail>) {
            self.0.lock().unwrap().push(job);
            self.1.notify_all();
        }
    }
    impl Heard {
        fn wait_for(&self, f: impl Fn(&Option<JobDetail>) -> bool) {
            let mut heard = self.0.lock().unwrap();
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while !heard.iter().any(&f) {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                assert!(!left.is_zero(), "never heard it: {heard:?}");
                heard = self.1.wait_timeout(heard, left).unwrap().0;
            }
        }
    }

    let server = Server::start();
    let desk = server.desk("Acme Service");
    let technician = desk.technician("李师傅");
    let job = desk.job(JobKind::Install, technician, chrono::Utc::now());
    let dir = tempfile::tempdir().unwrap();
    let core = open_core(&dir);
    assert_eq!(
        core.status().unwrap().authorization,
        Authorization::NotEnrolled
    );
    core.enroll(server.url(), desk.code(technician), "test phone".into())
        .unwrap();
    let heard = Arc::new(Heard::default());
    let _watch = core.watch_job(job.to_string(), heard.clone()).unwrap();
    heard.wait_for(|j| j.is_none());
    core.sync(Arc::new(Quiet)).unwrap();
    heard.wait_for(|j| j.as_ref().is_some_and(|d| !d.reassigned_away));

    let other = desk.technician("王师傅");
    let (status, body) = desk.post(
        &format!("/v1/jobs/{job}/assign"),
        serde_json::json!({ "technician_id": other }),
    );
    assert_eq!(status, 200, "{body}");
    core.sync(Arc::new(Quiet)).unwrap();
    heard.wait_for(|j| j.as_ref().is_some_and(|d| d.reassigned_away));
    let synced = core
        .status()
        .unwrap()
        .last_synced_at
        .expect("a sync finished");

    // The desk withdraws the phone while it holds unsynced work.
    let job2 = desk.job(JobKind::Install, technician, chrono::Utc::now());
    core.sync(Arc::new(Quiet)).unwrap();
    core.accept(job2.to_string()).unwrap();
    let (_, devices) = desk.get("/v1/devices");
    let device_id = devices[0]["id"].as_str().unwrap().to_string();
    let (status, body) = desk.post(
        &format!("/v1/devices/{device_id}/revoke"),
        serde_json::json!({}),
    );
    assert!(status.is_success(), "{status} {body}");
    let refused = core.sync(Arc::new(Quiet));
    assert!(
        matches!(refused, Err(CoreError::Unauthorized { .. })),
        "{refused:?}"
    );

    drop(_watch);
    drop(core);
    let core = open_core(&dir);
    let status = core.status().unwrap();
    assert_eq!(
        status.authorization,
        Authorization::Revoked,
        "kept across a restart"
    );
    assert!(status.last_synced_at.is_some_and(|t| t >= synced));
    assert_eq!(status.outbox_len, 1, "the unsynced work is kept");

    core.enroll(server.url(), desk.code(technician), "test phone".into())
        .unwrap();
    assert_eq!(
        core.status().unwrap().authorization,
        Authorization::Enrolled
    );
    let report = core.sync(Arc::new(Quiet)).unwrap();
    assert_eq!(report.accepted, 1, "{report:?}");
    let on_server = desk.job_detail(job2);
    assert!(
        on_server["view"]["accepted_at"].is_string(),
        "the acceptance recorded while revoked reached the desk: {on_server}"
    );
}

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

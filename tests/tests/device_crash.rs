//! The device process (`fieldtech`) SIGKILLed in the middle of syncs, over and over, then
//! restarted and synced again: nothing lost, nothing twice.

use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use fieldcore::domain::JobKind;
use fieldcore::store::{Store, StoreOptions};
use fieldcore_e2e::cli::{fieldtech, run};
use fieldcore_e2e::proxy::{FaultProxy, Faults};
use fieldcore_e2e::{Server, assert_exactly_once, camera_jpeg};

const ROUNDS: u64 = 8;

#[test]
fn killing_the_device_mid_sync_loses_nothing_and_duplicates_nothing() {
    let server = Server::start_with(|c| {
        c.rate_limit_per_second = 5000.0;
        c.rate_limit_burst = 5000.0;
    });
    let desk = server.desk("Acme Crash");
    let tech = desk.technician("Zhao Lei");
    let jobs = [
        desk.job(
            JobKind::Install,
            tech,
            Utc::now() + chrono::Duration::hours(20),
        ),
        desk.job(
            JobKind::Install,
            tech,
            Utc::now() + chrono::Duration::hours(22),
        ),
    ];
    // A slow network, so that kills land inside pushes, pulls and uploads.
    let proxy = FaultProxy::start(server.addr, Faults::none(), 0xdead);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("device.db");
    let code = desk.code(tech);
    run(&db, &["enroll", "--server", &proxy.url(), "--code", &code]);
    run(&db, &["sync"]);
    for job in &jobs {
        let id = job.to_string();
        run(&db, &["accept", &id]);
        run(&db, &["checkin", &id]);
    }
    proxy.set_faults(Faults {
        stall_pct: 100,
        stall: Duration::from_millis(40),
        ..Faults::none()
    });

    let mut kills = 0;
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for round in 0..ROUNDS {
        for (i, job) in jobs.iter().enumerate() {
            let id = job.to_string();
            run(&db, &["call", &id, "--note", &format!("round {round}")]);
            let file = dir.path().join(format!("cam-{round}-{i}.jpg"));
            std::fs::write(&file, camera_jpeg(1280, 960, round * 10 + i as u64)).expect("camera");
            run(
                &db,
                &[
                    "photo",
                    "add",
                    &id,
                    "--category",
                    "completion",
                    file.to_str().expect("utf8"),
                ],
            );
        }
        let mut child = Command::new(fieldtech())
            .arg("--db")
            .arg(&db)
            .args(["sync", "--chunk-size", "16384"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn sync");
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        std::thread::sleep(Duration::from_millis(150 + state % 1200));
        if child.try_wait().expect("poll").is_none() {
            child.kill().expect("SIGKILL");
            kills += 1;
        }
        child.wait().expect("reap");
    }
    assert!(
        kills >= ROUNDS / 2,
        "only {kills} syncs were still running when killed"
    );

    // The network heals; the restarted device finishes the job.
    proxy.set_faults(Faults::none());
    run(&db, &["sync"]);
    let store = Store::open_with(StoreOptions::new(&db)).expect("reopen");
    store.check_integrity().expect("intact after kills");
    assert_eq!(store.outbox_len().expect("outbox"), 0);
    assert!(store.photos_awaiting_upload().expect("photos").is_empty());
    for job in jobs {
        let detail = assert_exactly_once(&desk, &store, job);
        let photos = detail["photos"].as_array().expect("photos");
        assert_eq!(photos.len() as u64, ROUNDS);
        assert!(photos.iter().all(|p| p["uploaded"] == true));
    }
}

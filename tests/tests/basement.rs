//! The basement as a technician lives it: a whole day of work offline (several jobs of each
//! kind, 12 MP camera photos, signatures), then syncs over a slow, lossy link that flaps, with
//! the phone's process killed mid-sync again and again. Afterwards every event and photo is on
//! the server exactly once with its hash, every job completed at the desk; on the way, the
//! progress the phone printed only ever moved forward, and no sync gave up while it could go
//! on.
//!
//! The link is built in the proxy (the kernel here has no `netem`): a bandwidth cap, stalls for
//! lost packets, short cuts, and flaps where the whole link goes silent for seconds. In CI it is
//! kept to about two minutes; `FIELDCORE_BASEMENT_SOAK=1` runs the full day (8 jobs,
//! 2 Mbit/s, flaps every 12-25 s) instead.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use chrono::Utc;
use fieldcore::domain::JobKind;
use fieldcore_e2e::cli::fieldtech;
use fieldcore_e2e::converge::Rng;
use fieldcore_e2e::proxy::{FaultProxy, Faults};
use fieldcore_e2e::{Device, Server, assert_exactly_once, sha256_hex};
use serde_json::Value;
use uuid::Uuid;

struct Day {
    jobs: usize,
    link_bytes_per_sec: u64,
    /// Seconds between flaps, and how long the link stays down, in milliseconds.
    flap_every: (u64, u64),
    flap_down_ms: (u64, u64),
    kills: u32,
}

impl Day {
    fn chosen() -> Day {
        if std::env::var_os("FIELDCORE_BASEMENT_SOAK").is_some() {
            Day {
                jobs: 8,
                link_bytes_per_sec: 250_000,
                flap_every: (12, 25),
                flap_down_ms: (2_000, 6_000),
                kills: 6,
            }
        } else {
            Day {
                jobs: 4,
                link_bytes_per_sec: 500_000,
                flap_every: (6, 12),
                flap_down_ms: (1_000, 4_000),
                kills: 6,
            }
        }
    }
}

/// `fieldtech --json sync` on the phone's database: progress goes to standard error, one JSON
/// line per event.
fn start_sync(db: &Path) -> Child {
    Command::new(fieldtech())
        .arg("--db")
        .arg(db)
        .args(["--json", "sync"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn fieldtech sync")
}

/// The progress lines a sync printed, read as they come (so a kill finds them read).
fn progress_of(child: &mut Child) -> thread::JoinHandle<(Vec<Value>, Vec<String>)> {
    let stderr = child.stderr.take().expect("stderr");
    thread::spawn(move || {
        let (mut events, mut other) = (Vec::new(), Vec::new());
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            match serde_json::from_str::<Value>(&line) {
                Ok(v) => events.push(v),
                Err(_) => other.push(line),
            }
        }
        (events, other)
    })
}

/// Progress that only moves forward: per photo, over the sync, and for the push.
fn assert_forward_only(events: &[Value]) {
    let n = |v: &Value, k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"));
    let (mut pushed, mut sync_sent) = ((0, 0), 0);
    let mut photo_sent: HashMap<String, u64> = HashMap::new();
    for e in events {
        match e["stage"].as_str() {
            Some("pushing") => {
                let at = (n(e, "sent"), n(e, "batch_bytes_sent"));
                assert!(at.1 <= n(e, "batch_bytes"), "{e}");
                // A new batch starts its bytes from zero; within one they only grow.
                assert!(at.0 > pushed.0 || at >= pushed, "the push went back: {e}");
                pushed = at;
            }
            Some("uploading") => {
                let (sent, total) = (n(e, "sent"), n(e, "total"));
                assert!(sent <= total, "more sent than the photo holds: {e}");
                assert!(n(e, "sync_sent") <= n(e, "sync_total"), "{e}");
                assert!(
                    n(e, "number") >= 1 && n(e, "number") <= n(e, "count"),
                    "{e}"
                );
                assert!(
                    n(e, "sync_sent") >= sync_sent,
                    "the sync's bytes went back: {e}"
                );
                sync_sent = n(e, "sync_sent");
                let id = e["photo_id"].as_str().expect("photo id").to_string();
                let before = photo_sent.insert(id, sent).unwrap_or(0);
                assert!(sent >= before, "a photo's bytes went back: {e}");
                assert!(e["job_id"].is_string() && e["category"].is_string(), "{e}");
            }
            Some("pulling" | "pulled") => {}
            other => panic!("unknown progress stage {other:?}: {e}"),
        }
    }
}

#[test]
fn a_day_offline_reaches_the_desk_whole_through_a_basement_link() {
    let day = Day::chosen();
    let mut rng = Rng::new(0xba5e_0e17);
    let server = Server::start_with(|c| {
        c.rate_limit_per_second = 5000.0;
        c.rate_limit_burst = 5000.0;
    });
    let desk = server.desk("Acme Basement");
    let tech = desk.technician("Chen Jie");
    let kinds = [JobKind::Install, JobKind::DeliveryInstall, JobKind::Repair];
    let jobs: Vec<(Uuid, JobKind)> = (0..day.jobs)
        .map(|i| {
            let kind = kinds[i % kinds.len()];
            let at = Utc::now() + chrono::Duration::hours(20 + i as i64);
            (desk.job(kind, tech, at), kind)
        })
        .collect();

    let proxy = FaultProxy::start(server.addr, Faults::none(), 0xb0b);
    let mut phone = Device::new(&proxy.url());
    phone.camera = (4000, 3000);
    phone.enroll(&desk.code(tech));
    phone.sync().expect("the morning sync, in the depot's wifi");

    // The whole day offline.
    for (i, (job, kind)) in jobs.iter().enumerate() {
        phone.clean_visit(*job, *kind, 100 * i as u64);
    }
    let outbox = phone.store.outbox_len().expect("outbox");
    let photos = phone.store.photos_awaiting_upload().expect("photos").len();
    eprintln!("offline: {outbox} events, {photos} photos waiting");
    let db = phone.db_path();

    // The deepest corner first: 3 KB/s. The old client showed nothing here for minutes (a
    // whole 256 KiB chunk had to be confirmed first); bytes must be seen leaving now.
    proxy.set_faults(Faults {
        rate_bytes_per_sec: 3_000,
        ..Faults::none()
    });
    {
        let mut child = start_sync(&db);
        let progress = progress_of(&mut child);
        thread::sleep(Duration::from_secs(12));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        let (events, _) = progress.join().expect("reader");
        assert_forward_only(&events);
        let on_the_way = events
            .iter()
            .filter(|e| e["stage"] == "pushing")
            .filter_map(|e| e["batch_bytes_sent"].as_u64())
            .filter(|b| *b > 0)
            .count();
        assert!(
            on_the_way >= 1,
            "at 3 KB/s the push shows its bytes leaving: {events:?}"
        );
    }

    // The basement proper: capped, lossy, cut now and then, flapping.
    proxy.set_faults(Faults {
        rate_bytes_per_sec: day.link_bytes_per_sec,
        stall_pct: 15,
        stall: Duration::from_millis(500),
        reset_request_pct: 1,
        drop_response_pct: 1,
    });
    let done = Arc::new(AtomicBool::new(false));
    let flapper = {
        let (done, proxy_flap) = (done.clone(), Arc::new(proxy));
        let p = proxy_flap.clone();
        let mut rng = Rng::new(rng.below(u64::MAX));
        let (every, down) = (day.flap_every, day.flap_down_ms);
        let handle = thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let wait = Instant::now() + Duration::from_secs(rng.between(every.0, every.1));
                while Instant::now() < wait && !done.load(Ordering::Relaxed) {
                    thread::sleep(Duration::from_millis(50));
                }
                if !done.load(Ordering::Relaxed) {
                    p.flap(Duration::from_millis(rng.between(down.0, down.1)));
                }
            }
        });
        (handle, proxy_flap)
    };
    let proxy = flapper.1.clone();

    let started = Instant::now();
    let mut kills = 0;
    let mut syncs = 0;
    loop {
        let mut child = start_sync(&db);
        let progress = progress_of(&mut child);
        syncs += 1;
        let killed = if kills < day.kills {
            thread::sleep(Duration::from_millis(rng.between(1_500, 7_000)));
            let running = child.try_wait().expect("poll").is_none();
            if running {
                child.kill().expect("SIGKILL");
                kills += 1;
            }
            running
        } else {
            false
        };
        let status = child.wait().expect("reap");
        let (events, other) = progress.join().expect("reader");
        assert_forward_only(&events);
        if !killed {
            // Left alone, a sync ends well: it does not give up while the link comes and goes.
            assert!(status.success(), "a sync gave up: {other:?}");
            let store = &phone.store;
            if store.outbox_len().expect("outbox") == 0
                && store.photos_awaiting_upload().expect("photos").is_empty()
            {
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "still not through after {syncs} syncs"
        );
    }
    done.store(true, Ordering::Relaxed);
    flapper.0.join().expect("flapper");
    let flaps = proxy.counters.flaps.load(Ordering::Relaxed);
    let stalls = proxy.counters.stalls.load(Ordering::Relaxed);
    eprintln!(
        "basement: {:?}, {syncs} syncs, {kills} kills, {flaps} flaps, {stalls} stalls, {} cut, {} lost",
        started.elapsed(),
        proxy.counters.requests_cut.load(Ordering::Relaxed),
        proxy.counters.responses_dropped.load(Ordering::Relaxed)
    );
    assert_eq!(
        kills, day.kills,
        "the phone died mid-sync as often as planned"
    );
    assert!(flaps >= 2, "the link flapped only {flaps} times");

    // Exactly once, hashes intact, every job completed as the desk sees it.
    phone.store.check_integrity().expect("intact after kills");
    for (job, _) in &jobs {
        let detail = assert_exactly_once(&desk, &phone.store, *job);
        assert_eq!(detail["status"], "completed", "{job}");
        let view = phone.store.view(*job).expect("view").expect("job");
        let served = detail["photos"].as_array().expect("photos");
        assert_eq!(served.len(), view.photos.len());
        for p in &view.photos {
            let on_server = served
                .iter()
                .find(|s| s["photo_id"] == p.photo_id.to_string())
                .unwrap_or_else(|| panic!("photo {} missing", p.photo_id));
            assert_eq!(on_server["uploaded"], true);
            let (status, bytes) = desk.get_bytes(&format!("/v1/photos/{}", p.photo_id));
            assert_eq!(status, 200);
            assert_eq!(sha256_hex(&bytes), p.sha256, "photo {}", p.photo_id);
        }
    }
}

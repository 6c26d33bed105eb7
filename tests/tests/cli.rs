//! `fieldtech` as a technician types it: ids they can tell apart and type back, relative times
//! as the help promises, a timeline that tells the event from its photo, and a pipe closed early.

use std::process::{Command, Stdio};

use chrono::{Duration, Utc};
use fieldcore::domain::{EventBody, JobKind};
use fieldcore::store::{Store, StoreOptions};
use fieldcore_e2e::cli::{fieldtech, run};
use fieldcore_e2e::{Server, camera_jpeg};

#[test]
fn jobs_made_in_one_second_have_ids_a_technician_can_tell_apart_and_type() {
    let server = Server::start();
    let desk = server.desk("Acme CLI");
    let tech = desk.technician("Sun Li");
    let tomorrow = Utc::now() + Duration::hours(20);
    // Eight jobs in well under a second: their UUIDv7s share the leading timestamp digits.
    let jobs: Vec<_> = (0..8)
        .map(|i| {
            let kind = if i == 0 {
                JobKind::DeliveryInstall
            } else {
                JobKind::Install
            };
            // Two hours apart: visits that fit one after another.
            desk.job(kind, tech, tomorrow + Duration::hours(2 * i))
        })
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("device.db");
    run(
        &db,
        &[
            "enroll",
            "--server",
            &server.url(),
            "--code",
            &desk.code(tech),
        ],
    );
    run(&db, &["sync"]);

    let listed = run(&db, &["jobs"]);
    let short: Vec<&str> = listed
        .lines()
        .map(|l| l.split_whitespace().next().expect("id column"))
        .collect();
    assert_eq!(short.len(), jobs.len(), "{listed}");
    let mut distinct = short.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), jobs.len(), "one id per job:\n{listed}");
    // Each short id names its own job back.
    for s in &short {
        let shown = run(&db, &["show", s]);
        assert!(shown.starts_with(&format!("job {s} ")), "{shown}");
    }
    // The organisation's numbers, as the desk gave them, in creation order; and by number too.
    let mut numbers: Vec<&str> = listed
        .lines()
        .map(|l| l.split_whitespace().nth(1).expect("number column"))
        .collect();
    numbers.sort();
    let expected: Vec<String> = (1001..1009).map(|n| format!("J-{n}")).collect();
    assert_eq!(numbers, expected, "{listed}");
    for (i, job) in jobs.iter().enumerate() {
        let number = format!("J-{}", 1001 + i);
        let desk_view = desk.job_detail(*job);
        assert_eq!(
            desk_view["view"]["number"],
            1001 + i as u64,
            "the desk's number"
        );
        let shown = run(&db, &["show", &number.to_lowercase()]);
        assert!(shown.contains(&format!(" {number} (")), "{shown}");
        assert!(
            shown.contains(&job.to_string()),
            "{number} is {job}: {shown}"
        );
    }

    // The desk moves J-1003 to 30 minutes after J-1002: both say so, in the list and in `show`.
    let (status, _) = desk.post(
        &format!("/v1/jobs/{}/appointment", jobs[2]),
        serde_json::json!({ "at": tomorrow + Duration::hours(2) + Duration::minutes(30) }),
    );
    assert!(status.is_success(), "{status}");
    run(&db, &["sync"]);
    let listed = run(&db, &["jobs"]);
    let warnings: Vec<&str> = listed.lines().filter(|l| l.contains("too close")).collect();
    assert_eq!(warnings.len(), 2, "{listed}");
    assert!(warnings[0].contains("too close to J-1003"), "{listed}");
    assert!(warnings[1].contains("too close to J-1002"), "{listed}");
    let shown = run(&db, &["show", "J-1003"]);
    assert!(
        shown.contains("clash      too close to J-1002") && shown.contains("90 min short"),
        "{shown}"
    );

    // Relative times with a leading minus, written as the help writes them.
    let delivery = jobs[0].to_string();
    run(&db, &["accept", &delivery]);
    run(&db, &["goods-arrived", &delivery, "--at", "-2h"]);
    {
        let store = Store::open_with(StoreOptions::new(&db)).expect("store");
        let arrived = store
            .events_of(jobs[0])
            .expect("events")
            .into_iter()
            .find_map(|e| match e.body {
                EventBody::LogisticsArrived { arrived_at, .. } => Some(arrived_at),
                _ => None,
            })
            .expect("goods arrived recorded");
        let ago = Utc::now() - arrived;
        assert!(
            ago > Duration::minutes(119) && ago < Duration::minutes(125),
            "{ago}"
        );
    }

    // The record and the bytes travel apart, and the timeline says which is where.
    let camera = dir.path().join("camera.jpg");
    std::fs::write(&camera, camera_jpeg(800, 600, 7)).expect("camera file");
    let camera = camera.to_str().expect("utf-8 path");
    run(
        &db,
        &["photo", "add", &delivery, "--category", "pickup", camera],
    );
    let photo_line = |shown: &str| {
        shown
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some("photo_captured"))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no photo in\n{shown}"))
    };
    let before = photo_line(&run(&db, &["show", &delivery]));
    assert!(
        before.contains("pending") && before.contains("photo waiting"),
        "{before}"
    );
    run(&db, &["sync"]);
    let after = photo_line(&run(&db, &["show", &delivery]));
    assert!(
        after.contains("synced") && after.contains("photo uploaded"),
        "{after}"
    );

    // `fieldtech show J | head`: a reader that left early is not a crash.
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = Command::new(fieldtech())
        .arg("--db")
        .arg(&db)
        .args(["show", short[0]])
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .expect("run fieldtech");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

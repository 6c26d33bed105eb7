//! Two server instances on one PostgreSQL database, as behind a load balancer: whatever a
//! device does, wherever each request lands, the outcome is the one a single process gives.
//! With object storage (`scripts/with-s3`) each has its own data directory, as on two machines;
//! without, they share one. PostgreSQL only (SQLite is one process by design).

mod common;

use std::collections::HashMap;

use common::*;
use fieldcore::domain::{CallOutcome, EventBody};
use fieldcore::protocol::PushStatus;
use reqwest::StatusCode;
use serde_json::json;
use sync_server::RunningServer;
use uuid::Uuid;

fn on(phone: &DeviceClient, server: &RunningServer) -> DeviceClient {
    DeviceClient {
        base: server.base_url(),
        ..phone.clone()
    }
}

/// The configuration of another process beside the World's: its own data directory when
/// photos are in object storage (nothing of an upload may live on one machine's disk).
fn second_process(w: &World) -> sync_server::Config {
    let mut config = w.config.clone();
    if config.object_store_url.is_some() {
        config.data_dir = w.dir.path().join("second-machine");
    }
    config
}

fn call(n: usize) -> EventBody {
    EventBody::CustomerCallLogged {
        outcome: CallOutcome::Reached,
        note: format!("call {n}"),
    }
}

#[tokio::test]
async fn two_processes_on_one_database_behave_as_one() {
    if test_cluster().is_none() {
        eprintln!(
            "SKIPPED two_processes: set FIELDCORE_TEST_DATABASE_URL \
             (scripts/with-postgres cargo test -p sync-server)"
        );
        return;
    }
    // A: the World's server. B: a second instance, same database URL; with object storage
    // (scripts/with-s3) a data directory of its own, as on another machine; else the same one.
    let w = World::start().await;
    let b = sync_server::start(second_process(&w)).await.unwrap();
    assert_ne!(w.server.addr(), b.addr());
    let a = &w.server;

    let desk = w.desk("Acme").await;
    let tech = desk.technician("Li Wei").await;
    let job = desk.job_for(tech).await;

    // Enrol on A, push on B, pull on A.
    let on_a = w.device(&desk, tech).await;
    let on_b = on(&on_a, &b);
    let r = on_b.push(&[on_b.event(job, EventBody::JobAccepted)]).await;
    assert_eq!(r.results[0].status, PushStatus::Accepted, "{r:?}");
    let feed = on_a.pull_all().await;
    assert!(feed.iter().any(|e| e.id == r.results[0].event_id));

    // The same batch pushed to both at once, several times: every event stored once.
    let batch: Vec<_> = (0..30).map(|n| on_a.event(job, call(n))).collect();
    let mut tasks = Vec::new();
    for i in 0..6 {
        let phone = on(&on_a, if i % 2 == 0 { a } else { &b });
        let batch = batch.clone();
        tasks.push(tokio::spawn(async move { phone.push(&batch).await }));
    }
    let mut accepted = HashMap::<Uuid, usize>::new();
    for t in tasks {
        for r in t.await.unwrap().results {
            assert_ne!(r.status, PushStatus::Rejected, "{r:?}");
            if r.status == PushStatus::Accepted {
                *accepted.entry(r.event_id).or_default() += 1;
            }
        }
    }
    assert_eq!(accepted.len(), batch.len());
    assert!(accepted.values().all(|n| *n == 1), "{accepted:?}");

    // One photo whose PATCHes alternate between A and B; its bytes are in the bucket (or the
    // shared directory), the offset and the lease in the database.
    // A JPEG's magic bytes first: the server stores only what sniffs as JPEG or PNG.
    let (bytes, photo) = fake_photo(100_000, 7);
    let r = on_a
        .push(&[on_a.event(
            job,
            EventBody::PhotoCaptured {
                photo: photo.clone(),
            },
        )])
        .await;
    assert_eq!(r.results[0].status, PushStatus::Accepted);
    let location = on(&on_a, &b).create_upload(job, &photo, bytes.len()).await;
    let servers = [a, &b];
    for (i, chunk) in bytes.chunks(20_000).enumerate() {
        let server = servers[i % 2];
        let offset = i * 20_000;
        // The other process reports the offset the previous one committed.
        let head = tus(
            w.http.head(format!("{}{location}", server.base_url())),
            &on_a.token,
        )
        .send()
        .await
        .unwrap();
        assert_eq!(head.headers()["upload-offset"], offset.to_string().as_str());
        let res = on(&on_a, server)
            .patch_upload(&location, offset, chunk.to_vec())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT, "chunk {i}");
    }
    // A PATCH after the last byte changes nothing, on either process.
    for server in servers {
        let res = tus(
            w.http.patch(format!("{}{location}", server.base_url())),
            &on_a.token,
        )
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", "0")
        .body(bytes[..10].to_vec())
        .send()
        .await
        .unwrap();
        assert_eq!(res.status(), StatusCode::CONFLICT);
    }

    // The desk, asking either process, sees every event once and the photo linked once.
    for server in servers {
        let desk_here = Desk {
            http: desk.http.clone(),
            base: server.base_url(),
            token: desk.token.clone(),
            dispatcher_id: desk.dispatcher_id,
            organisation_id: desk.organisation_id,
        };
        let detail = desk_here.job(job).await;
        let timeline = detail["timeline"].as_array().unwrap();
        let mut ids = HashMap::<String, usize>::new();
        for e in timeline {
            *ids.entry(e["event"]["id"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
        assert!(ids.values().all(|n| *n == 1));
        for e in &batch {
            assert_eq!(ids.get(&e.id.to_string()), Some(&1));
        }
        let photos = detail["photos"].as_array().unwrap();
        assert_eq!(photos.len(), 1);
        assert_eq!(photos[0]["uploaded"], true);
        let got = w
            .http
            .get(format!(
                "{}/v1/photos/{}",
                server.base_url(),
                photo.photo_id
            ))
            .bearer_auth(&desk.token)
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), StatusCode::OK);
        assert_eq!(got.bytes().await.unwrap().as_ref(), bytes.as_slice());
    }

    // The device's feed, paged through on alternating processes, is the feed one process
    // gives, and has each pushed event once.
    let mut cursor: Option<String> = None;
    let mut alternating = Vec::new();
    for i in 0.. {
        let phone = on(&on_a, servers[i % 2]);
        let page = phone.pull(cursor.as_deref(), 7).await;
        alternating.extend(page.events.iter().map(|e| e.id));
        cursor = Some(page.next_cursor);
        if !page.has_more {
            break;
        }
    }
    let single: Vec<Uuid> = on_a.pull_all().await.iter().map(|e| e.id).collect();
    assert_eq!(alternating, single);
    for e in &batch {
        assert_eq!(single.iter().filter(|id| **id == e.id).count(), 1);
    }

    b.shutdown().await;
    w.server.shutdown().await;
}

/// Pulls racing with pushes from both processes never skip an event: the cursor of a pull
/// can only pass positions whose rows are already committed.
#[tokio::test]
async fn a_pull_racing_pushes_on_two_processes_never_skips_an_event() {
    if test_cluster().is_none() {
        eprintln!("SKIPPED two_processes: set FIELDCORE_TEST_DATABASE_URL");
        return;
    }
    let w = World::start().await;
    let b = sync_server::start(w.config.clone()).await.unwrap();
    let desk = w.desk("Acme").await;
    let tech = desk.technician("Li Wei").await;
    let on_a = w.device(&desk, tech).await;
    // Several jobs, so pushes do not simply queue behind one job's lock.
    let mut jobs = Vec::new();
    for _ in 0..4 {
        let job = desk.job_for(tech).await;
        let r = on_a.push(&[on_a.event(job, EventBody::JobAccepted)]).await;
        assert_eq!(r.results[0].status, PushStatus::Accepted);
        jobs.push(job);
    }
    let mut pushed = Vec::new();
    let mut writers = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        let phone = on(&on_a, if i % 2 == 0 { &w.server } else { &b });
        let batches: Vec<Vec<_>> = (0..15)
            .map(|n| vec![phone.event(*job, call(n)), phone.event(*job, call(n + 100))])
            .collect();
        pushed.extend(batches.iter().flatten().map(|e| e.id));
        writers.push(tokio::spawn(async move {
            for batch in batches {
                phone.push(&batch).await;
            }
        }));
    }
    // Pull continuously from alternating processes while the pushes run.
    let reader = on(&on_a, &w.server);
    let reader_b = on(&on_a, &b);
    let mut cursor: Option<String> = None;
    let mut seen = HashMap::<Uuid, usize>::new();
    let mut rounds = 0usize;
    loop {
        let done = writers.iter().all(|t| t.is_finished());
        let phone = if rounds.is_multiple_of(2) {
            &reader
        } else {
            &reader_b
        };
        rounds += 1;
        let page = phone.pull(cursor.as_deref(), 5).await;
        for e in page.events {
            *seen.entry(e.id).or_default() += 1;
        }
        cursor = Some(page.next_cursor);
        if done && !page.has_more {
            break;
        }
    }
    for t in writers {
        t.await.unwrap();
    }
    // Each pushed event once (desk events may come twice: history on assignment).
    assert!(pushed.iter().all(|id| seen.get(id).is_none_or(|n| *n == 1)));
    let missing = pushed.iter().filter(|id| !seen.contains_key(id)).count();
    assert_eq!(missing, 0, "{missing} events skipped by a pull");
    b.shutdown().await;
    w.server.shutdown().await;
}

/// The window the feed lock closes, held open on purpose: the phone's push on process A has
/// drawn its feed position and waits before committing while the desk cancels another of the
/// technician's jobs on process B and the phone pulls from B. Without the lock the desk's later
/// position commits first, the pull's cursor passes the phone's, and that event is never
/// pulled; with it, the desk's write waits for the phone's.
#[tokio::test]
async fn a_push_committing_late_is_not_skipped_by_a_pull_that_saw_a_later_one() {
    if test_cluster().is_none() {
        eprintln!("SKIPPED two_processes: set FIELDCORE_TEST_DATABASE_URL");
        return;
    }
    let hold = std::time::Duration::from_millis(600);
    let w = World::start_with(|c| {
        c.test_feed_commit_delay = sync_server::config::TestDelay::new(Some(hold))
    })
    .await;
    let mut quick = w.config.clone();
    quick.test_feed_commit_delay = sync_server::config::TestDelay::default();
    let b = sync_server::start(quick).await.unwrap();
    let desk = w.desk("Acme").await;
    let desk_on_b = Desk {
        http: desk.http.clone(),
        base: b.base_url(),
        token: desk.token.clone(),
        dispatcher_id: desk.dispatcher_id,
        organisation_id: desk.organisation_id,
    };
    let tech = desk.technician("Li Wei").await;
    let on_a = w.device(&desk, tech).await;
    let on_b = on(&on_a, &b);
    let (job_1, job_2) = (desk.job_for(tech).await, desk.job_for(tech).await);
    // Catch up first, so the cursor stands past the desk's history.
    let cursor = on_b.pull(None, 500).await.next_cursor;

    let late = on_a.event(job_1, EventBody::JobAccepted);
    let late_id = late.id;
    let slow = {
        let phone = on(&on_a, &w.server);
        tokio::spawn(async move { phone.push(&[late]).await })
    };
    tokio::time::sleep(hold / 3).await;
    let (status, body) = desk_on_b
        .post(
            &format!("/v1/jobs/{job_2}/cancel"),
            json!({"reason": "the customer moved"}),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");

    let first = on_b.pull(Some(&cursor), 500).await;
    let r = slow.await.unwrap();
    assert_eq!(r.results[0].status, PushStatus::Accepted);
    let second = on_b.pull(Some(&first.next_cursor), 500).await;
    let seen: Vec<_> = first.events.iter().chain(&second.events).collect();
    assert!(
        seen.iter()
            .any(|e| e.job_id == job_2 && matches!(e.body, EventBody::JobCancelled { .. })),
        "the cancellation reached the phone"
    );
    assert!(
        seen.iter().any(|e| e.id == late_id),
        "the event committed late was skipped by the pull"
    );
    b.shutdown().await;
    w.server.shutdown().await;
}

/// Processes starting together on an empty database: the migration lock lets one migrate and
/// the others find it done. A database from a newer build is refused, not touched.
#[tokio::test]
async fn migrations_run_once_when_processes_start_together() {
    if test_cluster().is_none() {
        eprintln!("SKIPPED two_processes: set FIELDCORE_TEST_DATABASE_URL");
        return;
    }
    let url = fresh_database().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = sync_server::Config::for_tests(dir.path().join("data"));
    config.database_url = Some(url.clone());
    let opens: Vec<_> = (0..4)
        .map(|_| {
            let config = config.clone();
            tokio::spawn(async move { sync_server::open_storage(&config).await })
        })
        .collect();
    for o in opens {
        o.await.unwrap().unwrap().health().await.unwrap();
    }
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let rows = client
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap();
    let versions: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(versions, vec![1, 2, 3, 4, 5, 6, 7], "each step once");

    client
        .execute(
            "INSERT INTO schema_migrations (version, name) VALUES (99, 'future')",
            &[],
        )
        .await
        .unwrap();
    let err = sync_server::open_storage(&config).await.unwrap_err();
    assert!(format!("{err:#}").contains("newer server"), "{err:#}");
}

/// The console's live updates reach a dispatcher on either process: a device pushes to B, and
/// a console stream subscribed on A hears of it (PostgreSQL LISTEN/NOTIFY).
#[tokio::test]
async fn a_change_on_one_process_reaches_consoles_on_the_other() {
    if test_cluster().is_none() {
        eprintln!(
            "SKIPPED two_processes: set FIELDCORE_TEST_DATABASE_URL \
             (scripts/with-postgres cargo test -p sync-server)"
        );
        return;
    }
    let w = World::start().await;
    let b = sync_server::start(w.config.clone()).await.unwrap();
    let desk = w.desk("Acme").await;
    let tech = desk.technician("Li Wei").await;
    let job = desk.job_for(tech).await;
    let phone = w.device(&desk, tech).await;
    let mut on_a = w.server.state().notifier.subscribe(desk.organisation_id);
    let mut other_org = w.server.state().notifier.subscribe(Uuid::now_v7());
    // Let both listeners attach before the change happens.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let r = on(&phone, &b)
        .push(&[phone.event(job, EventBody::JobAccepted)])
        .await;
    assert_eq!(r.results[0].status, PushStatus::Accepted);
    let change = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            let c = on_a.recv().await.expect("channel open");
            if c.job_id == job {
                return c;
            }
        }
    })
    .await
    .expect("process A heard of the push on B");
    assert_eq!(change.organisation_id, desk.organisation_id);
    assert!(
        other_org.try_recv().is_err(),
        "other organisations hear nothing"
    );
    b.shutdown().await;
}

/// A server process as an operator runs it: the binary, its own data directory, killed with
/// SIGKILL when dropped.
struct Process {
    child: std::process::Child,
    base: String,
}

impl Process {
    async fn start(mut config: sync_server::Config, dir: &std::path::Path) -> Process {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        config.bind = ([127, 0, 0, 1], port).into();
        let file = dir.join("process.toml");
        std::fs::write(&file, toml::to_string(&config).unwrap()).unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_sync-server"))
            .arg("--config")
            .arg(&file)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let process = Process {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        for _ in 0..200 {
            if let Ok(r) = http.get(format!("{}/healthz", process.base)).send().await
                && r.status().is_success()
            {
                return process;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        drop(process);
        panic!("the server process did not come up");
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Two processes on two "machines" (separate data directories) sharing the database and the
/// bucket: one is killed (SIGKILL) in the middle of a PATCH, and the upload finishes on the
/// other from the last committed offset, with exactly the photo's bytes.
#[tokio::test]
async fn an_upload_outlives_the_process_killed_in_its_middle() {
    if test_cluster().is_none() || std::env::var("FIELDCORE_TEST_S3_ENDPOINT").is_err() {
        eprintln!(
            "SKIPPED: needs PostgreSQL and object storage \
             (scripts/with-postgres scripts/with-s3 cargo test -p sync-server)"
        );
        return;
    }
    // A lapsed lease frees the upload within a second of the kill.
    let w = World::start_with(|c| c.upload_lease_secs = 1).await;
    let a_dir = tempfile::tempdir().unwrap();
    let mut a_config = w.config.clone();
    a_config.data_dir = a_dir.path().join("data");
    let mut a = Process::start(a_config, a_dir.path()).await;

    let desk = w.desk("Acme").await;
    let tech = desk.technician("Li Wei").await;
    let job = desk.job_for(tech).await;
    let phone = w.device(&desk, tech).await;
    let (bytes, photo) = fake_photo(200_000, 13);
    let r = phone
        .push(&[
            phone.event(job, EventBody::JobAccepted),
            phone.event(
                job,
                EventBody::PhotoCaptured {
                    photo: photo.clone(),
                },
            ),
        ])
        .await;
    assert!(
        r.results.iter().all(|r| r.status == PushStatus::Accepted),
        "{r:?}"
    );
    let on_a = DeviceClient {
        base: a.base.clone(),
        ..phone.clone()
    };
    let location = on_a.create_upload(job, &photo, bytes.len()).await;
    // A stores the first 60 000 bytes.
    let res = on_a
        .patch_upload(&location, 0, bytes[..60_000].to_vec())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // A second PATCH to A sends 50 000 of its 140 000 bytes, then A is killed.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let cut = {
        let (on_a, location) = (on_a.clone(), location.clone());
        tokio::spawn(async move {
            on_a.patch_upload(&location, 60_000, reqwest::Body::wrap_stream(stream))
                .await
        })
    };
    tx.send(Ok(bytes[60_000..110_000].to_vec())).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    a.kill();
    assert!(
        cut.await.unwrap().is_err(),
        "the killed process answered nothing"
    );
    drop(tx);

    // B (another data directory) has what A committed, and takes the upload over once A's
    // lease lapses.
    let b = &w.server;
    let head = tus(
        w.http.head(format!("{}{location}", b.base_url())),
        &phone.token,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(head.headers()["upload-offset"], "60000");
    let mut done = None;
    for _ in 0..40 {
        let res = phone
            .patch_upload(&location, 60_000, bytes[60_000..].to_vec())
            .await
            .unwrap();
        if res.status() != StatusCode::LOCKED {
            done = Some(res.status());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_eq!(done, Some(StatusCode::NO_CONTENT));
    let got = w
        .http
        .get(format!("{}/v1/photos/{}", b.base_url(), photo.photo_id))
        .bearer_auth(&desk.token)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.bytes().await.unwrap().as_ref(), bytes.as_slice());
    // Nothing of the upload is left in the bucket, and nothing was ever on either disk.
    assert_eq!(
        stored_keys(&w.config, "uploads").await,
        Vec::<String>::new()
    );
    assert_eq!(stored_keys(&w.config, "blobs").await.len(), 1);
    for dir in [a_dir.path().join("data"), w.config.data_dir.clone()] {
        assert!(!dir.join("blobs").exists() && !dir.join("uploads").exists());
    }
    w.server.shutdown().await;
}

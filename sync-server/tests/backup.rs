//! `sync-server backup` / `restore` on the embedded default: a backup taken while a device keeps
//! pushing restores into a fresh directory as a server that has every event acknowledged
//! before the backup began, every uploaded photo, and no half-upload it cannot finish.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use common::*;
use fieldcore::domain::{CallOutcome, EventBody};
use fieldcore::protocol::PushStatus;
use reqwest::StatusCode;
use uuid::Uuid;

#[tokio::test]
async fn a_backup_taken_while_devices_push_restores_into_a_fresh_directory() {
    if test_cluster().is_some() || std::env::var("FIELDCORE_TEST_S3_ENDPOINT").is_ok() {
        eprintln!("SKIPPED backup: it is for the embedded default (SQLite, data directory)");
        return;
    }
    let w = World::start().await;
    let desk = w.desk("Acme").await;
    let tech = desk.technician("Li Wei").await;
    let job = desk.job_for(tech).await;
    let phone = w.device(&desk, tech).await;
    // One photo uploaded, one upload left half-way.
    let (done, done_ref) = fake_photo(50_000, 7);
    let (half, half_ref) = fake_photo(50_000, 11);
    let r = phone
        .push(&[
            phone.event(job, EventBody::JobAccepted),
            phone.event(
                job,
                EventBody::PhotoCaptured {
                    photo: done_ref.clone(),
                },
            ),
            phone.event(
                job,
                EventBody::PhotoCaptured {
                    photo: half_ref.clone(),
                },
            ),
        ])
        .await;
    assert!(
        r.results.iter().all(|r| r.status == PushStatus::Accepted),
        "{r:?}"
    );
    let loc = phone.create_upload(job, &done_ref, done.len()).await;
    let res = phone.patch_upload(&loc, 0, done.clone()).await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let half_loc = phone.create_upload(job, &half_ref, half.len()).await;
    let res = phone
        .patch_upload(&half_loc, 0, half[..20_000].to_vec())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    // The device keeps pushing, one call per push, through the backup (over ten jobs: a job
    // takes at most 100 calls).
    let mut jobs = Vec::new();
    for _ in 0..10 {
        let j = desk.job_for(tech).await;
        let r = phone.push(&[phone.event(j, EventBody::JobAccepted)]).await;
        assert_eq!(r.results[0].status, PushStatus::Accepted);
        jobs.push(j);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let pusher = {
        let (phone, stop, jobs) = (phone.clone(), stop.clone(), jobs.clone());
        tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let e = phone.event(
                    jobs[n % jobs.len()],
                    EventBody::CustomerCallLogged {
                        outcome: CallOutcome::Reached,
                        note: format!("call {n}"),
                    },
                );
                let r = phone.push(std::slice::from_ref(&e)).await;
                assert_eq!(r.results[0].status, PushStatus::Accepted, "{r:?}");
                acked.push((Instant::now(), e.id));
                // Under the per-token rate limit (50/s).
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
            acked
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let began = Instant::now();
    let backup_dir = w.dir.path().join("backup");
    let (config, to) = (w.config.clone(), backup_dir.clone());
    let copied = tokio::task::spawn_blocking(move || sync_server::backup::backup(&config, &to))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(copied.blobs, 1);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let acked = pusher.await.unwrap();
    let before: Vec<Uuid> = acked
        .iter()
        .filter(|(t, _)| *t < began)
        .map(|(_, id)| *id)
        .collect();
    assert!(
        before.len() >= 5,
        "the device pushed during the test ({})",
        before.len()
    );
    assert!(
        acked.len() > before.len(),
        "and during and after the backup"
    );

    // A backup goes into a new directory only.
    let (config, to) = (w.config.clone(), backup_dir.clone());
    assert!(
        tokio::task::spawn_blocking(move || sync_server::backup::backup(&config, &to))
            .await
            .unwrap()
            .is_err()
    );

    // Restore into a fresh directory and serve it.
    let fresh = tempfile::tempdir().unwrap();
    let restored_config = sync_server::Config::for_tests(fresh.path().join("data"));
    let (from, c) = (backup_dir.clone(), restored_config.clone());
    let r = tokio::task::spawn_blocking(move || sync_server::backup::restore(&from, &c))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((r.blobs, r.uploads_forgotten), (1, 1));
    let (from, c) = (backup_dir.clone(), restored_config.clone());
    assert!(
        tokio::task::spawn_blocking(move || sync_server::backup::restore(&from, &c))
            .await
            .unwrap()
            .is_err(),
        "never over a database"
    );
    let restored = sync_server::start(restored_config).await.unwrap();
    let desk_there = Desk {
        http: desk.http.clone(),
        base: restored.base_url(),
        token: desk.token.clone(),
        dispatcher_id: desk.dispatcher_id,
        organisation_id: desk.organisation_id,
    };
    let mut ids: Vec<Uuid> = Vec::new();
    for j in jobs.iter().chain([&job]) {
        let detail = desk_there.job(*j).await;
        ids.extend(
            detail["timeline"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["event"]["id"].as_str().unwrap().parse::<Uuid>().unwrap()),
        );
    }
    for id in &before {
        assert!(
            ids.contains(id),
            "event {id}, acknowledged before the backup, is restored"
        );
    }
    let all: Vec<Uuid> = acked.iter().map(|(_, id)| *id).collect();
    let calls_restored = ids.iter().filter(|id| all.contains(id)).count();
    assert!(calls_restored >= before.len() && calls_restored <= all.len());
    // The uploaded photo is served; the half-upload is gone (the phone starts it again).
    let got = w
        .http
        .get(format!(
            "{}/v1/photos/{}",
            restored.base_url(),
            done_ref.photo_id
        ))
        .bearer_auth(&desk.token)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.bytes().await.unwrap().as_ref(), done.as_slice());
    let head = tus(
        w.http.head(format!("{}{half_loc}", restored.base_url())),
        &phone.token,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(head.status(), StatusCode::NOT_FOUND);
    restored.shutdown().await;

    // A backup cut short (no completion marker: blobs may be missing) is never restored.
    std::fs::remove_file(backup_dir.join("BACKUP-COMPLETE")).unwrap();
    let elsewhere = sync_server::Config::for_tests(fresh.path().join("other"));
    let cut =
        tokio::task::spawn_blocking(move || sync_server::backup::restore(&backup_dir, &elsewhere))
            .await
            .unwrap();
    assert!(cut.unwrap_err().to_string().contains("cut short"));
    w.server.shutdown().await;
}

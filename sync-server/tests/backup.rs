//! `sync-server backup` / `restore` on the embedded default: a backup taken while a device keeps
//! pushing restores into a fresh directory as a server that has every event acknowledged
//! before the backup began, every uploaded photo, and no half-upload it cannot finish.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;
use fieldcore::domain::{CallOutcome, EventBody, PhotoCategory, PhotoRef};
use fieldcore::protocol::PushStatus;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use uuid::Uuid;

fn tus(req: reqwest::RequestBuilder, token: &str) -> reqwest::RequestBuilder {
    req.bearer_auth(token).header("Tus-Resumable", "1.0.0")
}

/// Create an upload for `photo` on `job`; its location.
async fn create_upload(
    w: &World,
    phone: &DeviceClient,
    job: Uuid,
    p: &PhotoRef,
    len: usize,
) -> String {
    let enc = |s: &str| STANDARD.encode(s);
    let res = tus(w.http.post(w.url("/v1/uploads")), &phone.token)
        .header("Upload-Length", len.to_string())
        .header(
            "Upload-Metadata",
            format!(
                "photo_id {},job_id {},sha256 {}",
                enc(&p.photo_id.to_string()),
                enc(&job.to_string()),
                enc(&p.sha256)
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    res.headers()["location"].to_str().unwrap().to_string()
}

async fn patch(
    w: &World,
    phone: &DeviceClient,
    loc: &str,
    offset: usize,
    bytes: &[u8],
) -> StatusCode {
    tus(w.http.patch(w.url(loc)), &phone.token)
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", offset.to_string())
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap()
        .status()
}

fn photo_bytes(seed: u32) -> (Vec<u8>, PhotoRef) {
    let mut bytes: Vec<u8> = (0..50_000u32).map(|i| (i * seed % 251) as u8).collect();
    bytes[..3].copy_from_slice(&[0xFF, 0xD8, 0xFF]);
    let p = PhotoRef {
        photo_id: Uuid::now_v7(),
        category: PhotoCategory::Exception,
        sha256: hex::encode(Sha256::digest(&bytes)),
        location: None,
    };
    (bytes, p)
}

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
    let (done, done_ref) = photo_bytes(7);
    let (half, half_ref) = photo_bytes(11);
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
    let loc = create_upload(&w, &phone, job, &done_ref, done.len()).await;
    assert_eq!(
        patch(&w, &phone, &loc, 0, &done).await,
        StatusCode::NO_CONTENT
    );
    let half_loc = create_upload(&w, &phone, job, &half_ref, half.len()).await;
    assert_eq!(
        patch(&w, &phone, &half_loc, 0, &half[..20_000]).await,
        StatusCode::NO_CONTENT
    );

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

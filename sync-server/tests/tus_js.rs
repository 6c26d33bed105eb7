//! "Any standard tus client works unmodified": the npm package tus-js-client, driven by Node,
//! uploads a photo in 64 KiB chunks. Skipped (with a note) where Node is not installed.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use fieldcore::domain::{EventBody, PhotoCategory, PhotoRef};
use fieldcore::protocol::PushStatus;
use sha2::{Digest, Sha256};
use uuid::Uuid;

#[tokio::test]
async fn tus_js_client_uploads_a_photo() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tus-js");
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("SKIPPED: node is not installed");
        return;
    }
    if !dir.join("node_modules/tus-js-client").exists() {
        let ok = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "npm ci in {} failed", dir.display());
    }

    let w = World::start().await;
    let desk = w.desk("Acme").await;
    let tech = desk.technician("Li Wei").await;
    let phone = w.device(&desk, tech).await;
    let job = desk.job_for(tech).await;
    // A JPEG's magic bytes first: the server stores only what sniffs as JPEG or PNG.
    let mut bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    bytes[..3].copy_from_slice(&[0xFF, 0xD8, 0xFF]);
    let sha: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let photo = PhotoRef {
        photo_id: Uuid::now_v7(),
        category: PhotoCategory::Exception,
        sha256: sha.clone(),
        location: None,
    };
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
    assert!(r.results.iter().all(|r| r.status == PushStatus::Accepted));
    let file = w.dir.path().join("photo.jpg");
    std::fs::write(&file, &bytes).unwrap();

    // The server runs on this test's runtime: wait for Node off it.
    let args = [
        dir.join("upload.mjs").display().to_string(),
        w.server.base_url(),
        phone.token.clone(),
        file.display().to_string(),
        photo.photo_id.to_string(),
        job.to_string(),
        sha,
    ];
    let out = tokio::task::spawn_blocking(move || Command::new("node").args(args).output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "node: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let detail = desk.job(job).await;
    assert_eq!(detail["photos"][0]["uploaded"], true, "{detail}");
    w.server.shutdown().await;
}

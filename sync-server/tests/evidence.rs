//! The evidence report's doors and what stands behind them (ADR 0017), on SQLite and, under
//! `scripts/with-postgres scripts/with-s3`, on PostgreSQL with photos in object storage: the
//! bundle holds the device's chain around the job (refused events included, other jobs by
//! their headers) and the photo's bytes, and verifies; the report is a PDF; neither leaves its
//! organisation.

mod common;

use std::io::{Cursor, Read};

use common::{Signer, World, fake_photo};
use fieldcore::domain::EventBody;
use fieldcore::evidence::{Link, Manifest, verify};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE};

#[tokio::test]
async fn the_bundle_holds_the_chain_around_the_job_and_the_photo_and_verifies() {
    let w = World::start().await;
    let desk = w.desk("Evidence Co").await;
    let tech = desk.technician("Lin Tao").await;
    let job = desk.job_for(tech).await;
    let other = desk.job_for(tech).await;
    let phone = w.device(&desk, tech).await;
    let mut s = Signer::new();
    let (bytes, photo) = fake_photo(20_000, 7);

    let events = vec![
        s.seal(&phone, other, EventBody::JobAccepted),
        s.seal(&phone, job, EventBody::JobAccepted),
        s.call(&phone, other, "other customer: between"),
        s.seal(
            &phone,
            job,
            EventBody::PhotoCaptured {
                photo: photo.clone(),
            },
        ),
        // Refused (nothing done yet), but signed: it holds its place in the chain.
        s.seal(
            &phone,
            job,
            EventBody::JobCompleted {
                note: String::new(),
            },
        ),
        s.call(&phone, job, "on my way"),
        s.call(&phone, other, "other customer: after"),
    ];
    let ids: Vec<_> = events.iter().map(|e| e.id).collect();
    let res = phone
        .push_with_key(&events, Some(hex::encode(s.key.public_key())))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    // A colleague's phone sends an event in this phone's name: refused, and nobody's evidence.
    let colleague = desk.technician("Mo Fan").await;
    let other_phone = w.device(&desk, colleague).await;
    let mut forged = other_phone.event(job, EventBody::CheckedIn { location: None });
    forged.actor = phone.event(job, EventBody::JobAccepted).actor;
    forged.device_seq = Some(3);
    let res = other_phone.push_raw(&[forged]).await;
    assert_eq!(res.status(), StatusCode::OK);
    // ... and one of its own, signed, on this job it was never given: refused as an unknown
    // job, and not this job's evidence (nor a view of the colleague's chain for its customer).
    let mut theirs = Signer::new();
    let stray = theirs.call(&other_phone, job, "wrong job");
    let res = other_phone
        .push_with_key(&[stray], Some(hex::encode(theirs.key.public_key())))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let location = phone.create_upload(job, &photo, bytes.len()).await;
    let res = phone
        .patch_upload(&location, 0, bytes.clone())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    let res = desk
        .http
        .get(w.url(&format!("/v1/jobs/{job}/evidence.zip")))
        .bearer_auth(&desk.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[CONTENT_TYPE], "application/zip");
    let zip = res.bytes().await.unwrap().to_vec();
    let mut archive = zip::ZipArchive::new(Cursor::new(&zip[..])).unwrap();
    let mut read = |name: &str| -> Option<Vec<u8>> {
        let mut f = archive.by_name(name).ok()?;
        let mut out = Vec::new();
        f.read_to_end(&mut out).unwrap();
        Some(out)
    };
    let manifest: Manifest = serde_json::from_slice(&read("manifest.json").unwrap()).unwrap();
    let stored = read(&format!("photos/{}.jpg", photo.photo_id)).expect("the photo");
    assert_eq!(stored, bytes);

    let chain: Vec<(bool, uuid::Uuid)> = manifest.chains[0]
        .links
        .iter()
        .map(|l| match l {
            Link::Job { event_id } => (true, *event_id),
            Link::Other(e) => (false, e.id),
        })
        .collect();
    let expected: Vec<(bool, uuid::Uuid)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (![0, 2, 6].contains(&i), *id))
        .collect();
    assert_eq!(
        chain, expected,
        "the device's chain from before to after the job"
    );
    assert_eq!(manifest.refused.len(), 1);
    assert_eq!(manifest.refused[0].event.id, ids[4]);

    let v = verify(&manifest, &|name| {
        (name == format!("photos/{}.jpg", photo.photo_id)).then(|| photo.sha256.clone())
    });
    assert_eq!(v.problems, vec![]);
    assert_eq!((v.signed_events, v.photos, v.devices), (4, 1, 1));
    assert_eq!(v.refused_events, 1);
    // The job was created, assigned and booked by the desk.
    assert!(v.desk_events >= 2, "{v:?}");

    // The report: a PDF, from the API and from the console (the dispatcher's cookie).
    let res = desk
        .http
        .get(w.url(&format!("/v1/jobs/{job}/evidence.pdf")))
        .bearer_auth(&desk.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[CONTENT_TYPE], "application/pdf");
    assert!(res.bytes().await.unwrap().starts_with(b"%PDF-"));
    for (path, kind) in [
        ("evidence.pdf", "application/pdf"),
        ("evidence.zip", "application/zip"),
    ] {
        let res = w
            .http
            .get(w.url(&format!("/console/jobs/{job}/{path}")))
            .header(COOKIE, format!("fc_session={}", desk.token))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(res.headers()[CONTENT_TYPE], kind);
    }

    // Another organisation sees nothing of it.
    let stranger = w.desk("Elsewhere Ltd").await;
    for path in [
        format!("/v1/jobs/{job}/evidence.zip"),
        format!("/v1/jobs/{job}/evidence.pdf"),
    ] {
        let res = stranger
            .http
            .get(w.url(&path))
            .bearer_auth(&stranger.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let res = w
        .http
        .get(w.url(&format!("/console/jobs/{job}/evidence.zip")))
        .header(COOKIE, format!("fc_session={}", stranger.token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

/// A note with a NUL character is stored and its job's evidence made like any other:
/// PostgreSQL's JSON functions cannot read `\u0000`, so nothing reads stored events with them
/// (an earlier draft's indexes did, and turned such a push into a 500).
#[tokio::test]
async fn a_nul_character_in_a_note_is_kept_and_its_evidence_verifies() {
    let w = World::start().await;
    let desk = w.desk("Nul Co").await;
    let tech = desk.technician("Xu Bo").await;
    let job = desk.job_for(tech).await;
    let phone = w.device(&desk, tech).await;
    let mut s = Signer::new();
    let accept = s.seal(&phone, job, EventBody::JobAccepted);
    let call = s.call(&phone, job, "on my way\0");
    let res = phone
        .push_with_key(&[accept, call], Some(hex::encode(s.key.public_key())))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let r: fieldcore::protocol::PushResponse = res.json().await.unwrap();
    assert!(
        r.results
            .iter()
            .all(|r| r.status == fieldcore::protocol::PushStatus::Accepted),
        "{r:?}"
    );
    let res = desk
        .http
        .get(w.url(&format!("/v1/jobs/{job}/evidence.zip")))
        .bearer_auth(&desk.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let zip = res.bytes().await.unwrap().to_vec();
    let mut archive = zip::ZipArchive::new(Cursor::new(&zip[..])).unwrap();
    let mut json = String::new();
    archive
        .by_name("manifest.json")
        .unwrap()
        .read_to_string(&mut json)
        .unwrap();
    let manifest: Manifest = serde_json::from_str(&json).unwrap();
    let v = verify(&manifest, &|_| None);
    assert_eq!(v.problems, vec![]);
    assert_eq!(v.signed_events, 2);
}

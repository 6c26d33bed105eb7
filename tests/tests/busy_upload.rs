//! A photo whose upload a cut request of ours still holds (the server answers 423 until that
//! request's lease lapses) waits its turn: the sync goes on with the other photos, comes back
//! after `Retry-After`, resumes from what the held request left on the server, and finishes.

use std::cell::RefCell;
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::Utc;
use fieldcore::domain::{EventBody, JobKind, PhotoCategory};
use fieldcore::protocol::{PushRequest, upload_metadata as meta};
use fieldcore::sync::Progress;
use fieldcore_e2e::{Device, Server, sha256_hex};

#[test]
fn a_busy_upload_waits_while_the_other_photos_go_on() {
    let server = Server::start_with(|c| c.upload_lease_secs = 2);
    let desk = server.desk("Acme Busy");
    let tech = desk.technician("Li Na");
    let job = desk.job(
        JobKind::Install,
        tech,
        Utc::now() + chrono::Duration::hours(20),
    );
    let phone = Device::new(&server.url());
    phone.enroll(&desk.code(tech));
    phone.sync().expect("first sync");
    phone.act(job, EventBody::JobAccepted);
    phone.act(job, EventBody::CheckedIn { location: None });
    let held = phone.photo(job, PhotoCategory::Completion, 1);
    let free = phone.photo(job, PhotoCategory::Completion, 2);

    // What an earlier sync of this phone did before its connection went silent: it pushed the
    // records, created the upload, and began a PATCH that still holds the upload.
    let token = phone
        .store
        .sync_value("device_token")
        .expect("store")
        .expect("token");
    let http = reqwest::blocking::Client::new();
    let clock = phone.store.clock();
    let push = PushRequest {
        device_id: phone.store.device_id(),
        sent_at: clock.now(),
        sent_monotonic_ms: clock.monotonic_ms(),
        events: phone.store.pending_events(100).expect("outbox"),
        public_key: None,
    };
    let pushed = http
        .post(format!("{}/v1/sync/push", server.url()))
        .bearer_auth(&token)
        .json(&push)
        .send()
        .expect("push");
    assert!(pushed.status().is_success(), "{pushed:?}");
    let metadata = [
        (meta::PHOTO_ID, held.photo_id.to_string()),
        (meta::JOB_ID, job.to_string()),
        (meta::SHA256, held.sha256.clone()),
    ]
    .iter()
    .map(|(k, v)| format!("{k} {}", B64.encode(v)))
    .collect::<Vec<_>>()
    .join(",");
    let created = http
        .post(format!("{}/v1/uploads", server.url()))
        .bearer_auth(&token)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", held.bytes.to_string())
        .header("Upload-Metadata", metadata)
        .send()
        .expect("create");
    let location = created.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    phone
        .store
        .set_upload_url(held.photo_id, Some(&format!("{}{location}", server.url())))
        .expect("remember the upload");
    let bytes = std::fs::read(&held.path).expect("photo file");
    let mut silent = TcpStream::connect(server.addr).expect("connect");
    write!(
        silent,
        "PATCH {location} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
         Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n\
         Content-Type: application/offset+octet-stream\r\nContent-Length: {}\r\n\r\n",
        server.addr,
        bytes.len()
    )
    .expect("headers");
    silent.write_all(&bytes[..1000]).expect("first bytes");
    silent.flush().expect("flush");
    let cut = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        drop(silent);
    });

    let seen = RefCell::new(Vec::new());
    let report = phone
        .client()
        .sync(&phone.store, &|p| {
            if let Progress::Uploading(u) = p
                && u.sent == u.total
            {
                seen.borrow_mut().push(u.photo_id);
            }
        })
        .expect("the sync finishes");
    cut.join().expect("cut");
    assert_eq!(
        seen.into_inner(),
        [free.photo_id, held.photo_id],
        "the free photo went first, the held one after its wait"
    );
    assert!(report.retries >= 1, "{report:?}");
    assert_eq!(report.photos_uploaded, 2);
    assert_eq!(report.photos_waiting, 0);
    for p in [&held, &free] {
        let (status, stored) = desk.get_bytes(&format!("/v1/photos/{}", p.photo_id));
        assert_eq!(status, 200);
        assert_eq!(sha256_hex(&stored), p.sha256);
    }
}

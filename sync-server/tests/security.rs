//! What a hostile phone or client could do, one regression test per finding of the security
//! review (issue 10), against the real server on 127.0.0.1. Each was seen to fail without its
//! fix. The threat model is in SECURITY.md.

mod common;

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use common::*;
use fieldcore::domain::{CallOutcome, Event, EventBody, PhotoCategory, PhotoRef};
use fieldcore::protocol::{PushRequest, PushResponse, PushStatus};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

/// A client that shows redirects instead of following them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

struct Field {
    w: World,
    desk: Desk,
    phone: DeviceClient,
    job: Uuid,
}

async fn field_with(tune: impl FnOnce(&mut sync_server::Config)) -> Field {
    let w = World::start_with(tune).await;
    let desk = w.desk("Acme").await;
    let tech = desk.technician("Li Wei").await;
    let phone = w.device(&desk, tech).await;
    let job = desk.job_for(tech).await;
    let r = phone
        .push(&[phone.event(job, EventBody::JobAccepted)])
        .await;
    assert_eq!(r.results[0].status, PushStatus::Accepted);
    Field {
        w,
        desk,
        phone,
        job,
    }
}

async fn field() -> Field {
    field_with(|_| {}).await
}

impl Field {
    /// Record a photo of `bytes` and upload them whole, declaring `filetype`. Returns the photo
    /// id and the answer to the last PATCH.
    async fn upload(&self, bytes: &[u8], filetype: &str) -> (Uuid, reqwest::Response) {
        let sha = hex::encode(Sha256::digest(bytes));
        let photo = PhotoRef {
            photo_id: Uuid::now_v7(),
            category: PhotoCategory::Exception,
            sha256: sha.clone(),
            location: None,
        };
        let r = self
            .phone
            .push(&[self.phone.event(
                self.job,
                EventBody::PhotoCaptured {
                    photo: photo.clone(),
                },
            )])
            .await;
        assert_eq!(r.results[0].status, PushStatus::Accepted, "{r:?}");
        let b = |s: &str| STANDARD.encode(s);
        let meta = format!(
            "photo_id {},job_id {},sha256 {},filetype {}",
            b(&photo.photo_id.to_string()),
            b(&self.job.to_string()),
            b(&sha),
            b(filetype)
        );
        let res = self
            .w
            .http
            .post(self.w.url("/v1/uploads"))
            .bearer_auth(&self.phone.token)
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", bytes.len().to_string())
            .header("Upload-Metadata", meta)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        let location = res.headers()["location"].to_str().unwrap().to_string();
        let res = self
            .w
            .http
            .patch(self.w.url(&location))
            .bearer_auth(&self.phone.token)
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Offset", "0")
            .header("Content-Type", "application/offset+octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        (photo.photo_id, res)
    }

    async fn photo(&self, id: Uuid) -> reqwest::Response {
        self.w
            .http
            .get(self.w.url(&format!("/v1/photos/{id}")))
            .bearer_auth(&self.desk.token)
            .send()
            .await
            .unwrap()
    }

    /// Push events given as JSON values (so a test can send what the types would not build).
    async fn push_json(&self, events: Vec<serde_json::Value>, sent_mono: i64) -> PushResponse {
        let res = self
            .w
            .http
            .post(self.w.url("/v1/sync/push"))
            .bearer_auth(&self.phone.token)
            .json(&json!({
                "device_id": self.phone.device_id,
                "sent_at": Utc::now(),
                "sent_monotonic_ms": sent_mono,
                "events": events,
            }))
            .send()
            .await
            .expect("an answer, not a dropped connection");
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.unwrap()
    }
}

fn jpeg_bytes(len: usize) -> Vec<u8> {
    let mut v: Vec<u8> = (0..len).map(|i| (i * 13 % 251) as u8).collect();
    v[..3].copy_from_slice(&[0xFF, 0xD8, 0xFF]);
    v
}

fn assert_security_headers(h: &HeaderMap, what: &str) {
    let csp = h
        .get(header::CONTENT_SECURITY_POLICY)
        .unwrap_or_else(|| panic!("{what}: no CSP"))
        .to_str()
        .unwrap();
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert!(
        csp.contains("frame-ancestors 'none'") || csp.contains("sandbox"),
        "{what}: {csp}"
    );
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{what}");
    assert!(h.contains_key(header::REFERRER_POLICY), "{what}");
    assert_eq!(h[header::X_FRAME_OPTIONS], "DENY", "{what}");
}

// ------------------------------------------------------------ 1. stored XSS through photos

#[tokio::test]
async fn an_svg_declared_as_a_photo_is_refused_at_its_last_byte_and_never_served() {
    let f = field().await;
    let svg =
        br#"<svg xmlns="http://www.w3.org/2000/svg"><script>fetch('/console')</script></svg>"#;
    let (photo, res) = f.upload(svg, "image/svg+xml").await;
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["type"], "/problems/not-a-photo", "{body}");
    assert_eq!(f.photo(photo).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_photo_is_served_as_what_its_bytes_are_never_as_declared() {
    let f = field().await;
    for (i, declared) in ["text/html", "image/svg+xml", "image/jpeg\u{1}", ""]
        .into_iter()
        .enumerate()
    {
        // Distinct bytes each time: the same photo twice on a job is refused as evidence.
        let (photo, res) = f.upload(&jpeg_bytes(5_000 + i), declared).await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT, "{declared:?}");
        let res = f.photo(photo).await;
        assert_eq!(res.status(), StatusCode::OK);
        let h = res.headers();
        assert_eq!(h[header::CONTENT_TYPE], "image/jpeg", "{declared:?}");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            csp.contains("sandbox") && csp.contains("default-src 'none'"),
            "{csp}"
        );
        assert!(
            h[header::CONTENT_DISPOSITION]
                .to_str()
                .unwrap()
                .starts_with("inline; filename=")
        );
    }
}

#[tokio::test]
async fn every_console_and_api_response_carries_the_security_headers() {
    let f = field().await;
    let http = browser();
    for path in [
        "/console/login",
        "/console",
        "/healthz",
        "/v1/openapi.json",
        "/no/such/route",
    ] {
        let res = http.get(f.w.url(path)).send().await.unwrap();
        assert_security_headers(res.headers(), path);
    }
    let res =
        f.w.http
            .get(f.w.url(&format!("/v1/jobs/{}", f.job)))
            .bearer_auth(&f.desk.token)
            .send()
            .await
            .unwrap();
    assert_security_headers(res.headers(), "job");
}

// ------------------------------------------------------------ 2. device takeover

#[tokio::test]
async fn enrolling_a_device_id_of_another_technician_changes_nothing() {
    let w = World::start().await;
    let acme = w.desk("Acme").await;
    let evil = w.desk("Evil").await;
    let li = acme.technician("Li Wei").await;
    let phone = w.device(&acme, li).await;
    let mallory = evil.technician("Mallory").await;

    let code = evil.code(mallory).await;
    let (status, body) = w.enroll(&code, phone.device_id).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["type"], "/problems/device-id-taken", "{body}");
    // The phone keeps working, stays in its organisation, and the code was not spent.
    assert_eq!(phone.pull_raw(None, 10).await.status(), StatusCode::OK);
    let (_, devices) = acme.get("/v1/devices").await;
    assert!(devices.to_string().contains(&phone.device_id.to_string()));
    let (_, theirs) = evil.get("/v1/devices").await;
    assert!(!theirs.to_string().contains(&phone.device_id.to_string()));
    let (status, _) = w.enroll(&code, Uuid::now_v7()).await;
    assert_eq!(status, StatusCode::OK, "the refused code is still usable");

    // Another technician of the same organisation cannot take it either.
    let wang = acme.technician("Wang Fang").await;
    let (status, _) = w.enroll(&acme.code(wang).await, phone.device_id).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // The same technician re-enrolling the same phone (reinstalled app) gets a new token; the
    // old one stops working.
    let (status, body) = w.enroll(&acme.code(li).await, phone.device_id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        phone.pull_raw(None, 10).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_push_with_another_organisations_event_id_is_rejected_never_a_duplicate() {
    let f = field().await;
    let other = f.w.desk("Other").await;
    let tech = other.technician("Zhao").await;
    let their_job = other.job_for(tech).await;
    let their_event = other.job(their_job).await["timeline"][0]["event"]["id"]
        .as_str()
        .unwrap()
        .parse::<Uuid>()
        .unwrap();
    let mut e = f.phone.event(
        f.job,
        EventBody::CustomerCallLogged {
            outcome: CallOutcome::Reached,
            note: String::new(),
        },
    );
    e.id = their_event;
    let r = f.phone.push(&[e]).await;
    assert_eq!(r.results[0].status, PushStatus::Rejected, "{r:?}");
}

// ------------------------------------------------------------ 3, 4. times and overflow

fn far_future() -> DateTime<Utc> {
    chrono::NaiveDate::from_ymd_opt(10_000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap()
        .and_utc()
}

#[tokio::test]
async fn impossible_times_are_rejected_with_a_rule_and_the_job_stays_readable() {
    let f = field().await;
    let call = |f: &Field| {
        f.phone.event(
            f.job,
            EventBody::CustomerCallLogged {
                outcome: CallOutcome::Reached,
                note: String::new(),
            },
        )
    };
    let mut year_10000 = serde_json::to_value(call(&f)).unwrap();
    year_10000["recorded_at"] = json!(far_future());
    year_10000["monotonic_ms"] = json!(null);
    let mut offset = serde_json::to_value(call(&f)).unwrap();
    offset["clock_offset_ms"] = json!(1_000_000_000_000_000i64);
    let mut offset_max = serde_json::to_value(call(&f)).unwrap();
    offset_max["clock_offset_ms"] = json!(i64::MAX);
    let r = f.push_json(vec![year_10000, offset, offset_max], 0).await;
    for result in &r.results {
        assert_eq!(result.status, PushStatus::Rejected, "{r:?}");
        assert_eq!(result.rule.as_deref(), Some("implausible_time"), "{r:?}");
    }
    // An appointment in the year 10000: refused by the rulebook, on the phone as here.
    let book = f.phone.event(
        f.job,
        EventBody::AppointmentRescheduled {
            at: far_future(),
            reason: "customer asked".into(),
            customer_consented: true,
        },
    );
    let r = f.phone.push(&[book]).await;
    assert_eq!(r.results[0].rule.as_deref(), Some("implausible_time"));

    let v = f.desk.job(f.job).await;
    assert_eq!(v["rejections"].as_array().unwrap().len(), 4, "{v}");
    let page =
        f.w.http
            .get(f.w.url(&format!("/console/jobs/{}", f.job)))
            .header(header::COOKIE, format!("fc_session={}", f.desk.token))
            .send()
            .await
            .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
}

#[tokio::test]
async fn overflowing_clock_readings_get_an_answer_not_a_dropped_connection() {
    let f = field().await;
    let mut e = serde_json::to_value(f.phone.event(
        f.job,
        EventBody::CustomerCallLogged {
            outcome: CallOutcome::Reached,
            note: String::new(),
        },
    ))
    .unwrap();
    e["monotonic_ms"] = json!(0);
    let r = f.push_json(vec![e], i64::MAX).await;
    assert_eq!(r.results[0].rule.as_deref(), Some("implausible_time"));
    let mut e = serde_json::to_value(f.phone.event(f.job, EventBody::CheckedOut)).unwrap();
    e["monotonic_ms"] = json!(i64::MIN);
    let r = f.push_json(vec![e], 5).await;
    assert_eq!(r.results[0].status, PushStatus::Rejected);
    // The server is still there and the job still reads.
    f.desk.job(f.job).await;
}

#[tokio::test]
async fn a_stored_row_that_cannot_be_read_marks_itself_and_the_job_still_shows() {
    if test_cluster().is_some() {
        return; // Writes the SQLite file behind the server's back.
    }
    let f = field().await;
    let db = rusqlite::Connection::open(f.w.config.database_path()).unwrap();
    let bad = Uuid::now_v7();
    db.execute(
        "INSERT INTO events (id, job_id, org_id, kind, event_json, server_received_at,
             corrected_at, flags_json)
         SELECT ?1, job_id, org_id, kind, event_json, server_received_at,
             '+10000-01-01T00:00:00.000Z', flags_json FROM events WHERE job_id = ?2 LIMIT 1",
        rusqlite::params![bad.to_string(), f.job.to_string()],
    )
    .unwrap();
    let v = f.desk.job(f.job).await;
    assert_eq!(v["unreadable"][0]["id"], bad.to_string(), "{v}");
    assert!(
        v["timeline"].as_array().unwrap().len() >= 2,
        "the rest shows"
    );
    let page =
        f.w.http
            .get(f.w.url(&format!("/console/jobs/{}", f.job)))
            .header(header::COOKIE, format!("fc_session={}", f.desk.token))
            .send()
            .await
            .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains(&bad.to_string()));
}

// ------------------------------------------------------------ 5. one device, every writer

#[tokio::test]
async fn an_over_long_note_is_rejected_by_the_servers_rulebook() {
    let f = field().await;
    let e = f.phone.event(
        f.job,
        EventBody::CustomerCallLogged {
            outcome: CallOutcome::Reached,
            note: "x".repeat(15 * 1024),
        },
    );
    let r = f.phone.push(&[e]).await;
    assert_eq!(r.results[0].rule.as_deref(), Some("invalid_input"), "{r:?}");
}

#[tokio::test]
async fn a_write_abandoned_at_its_deadline_is_answered_503_and_never_commits() {
    let f = field_with(|c| {
        c.request_timeout_secs = 4;
        c.write_timeout_secs = 1;
    })
    .await;
    f.w.config
        .test_feed_commit_delay
        .set(Some(Duration::from_secs(2)));
    let e = f.phone.event(
        f.job,
        EventBody::CustomerCallLogged {
            outcome: CallOutcome::Reached,
            note: "after the deadline".into(),
        },
    );
    let res = f.phone.push_raw(std::slice::from_ref(&e)).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().contains_key(header::RETRY_AFTER));
    // Well past the moment the write would have committed.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let v = f.desk.job(f.job).await;
    assert!(
        !v["timeline"].to_string().contains(&e.id.to_string()),
        "answered 503, yet stored: {v}"
    );
}

#[tokio::test]
async fn one_organisations_flood_holds_another_organisations_writes_for_about_a_second_at_most() {
    let f = field().await;
    // The flood: a device with several jobs pushing full batches of maximal notes at once.
    let tech = f.phone.technician_id;
    let mut jobs = vec![f.job];
    for _ in 0..3 {
        let job = f.desk.job_for(tech).await;
        f.phone
            .push(&[f.phone.event(job, EventBody::JobAccepted)])
            .await;
        jobs.push(job);
    }
    let note = "满".repeat(fieldcore::domain::limits::NOTE_MAX_CHARS);
    let batches: Vec<Vec<Event>> = (0..4)
        .map(|_| {
            (0..500)
                .map(|i| {
                    f.phone.event(
                        jobs[i % jobs.len()],
                        EventBody::CustomerCallLogged {
                            outcome: CallOutcome::NoAnswer,
                            note: note.clone(),
                        },
                    )
                })
                .collect()
        })
        .collect();
    let other = f.w.desk("Other").await;
    let other_tech = other.technician("Zhao").await;
    let flood = batches.into_iter().map(|events| {
        let (http, url, token, device_id) = (
            f.w.http.clone(),
            f.w.url("/v1/sync/push"),
            f.phone.token.clone(),
            f.phone.device_id,
        );
        tokio::spawn(async move {
            http.post(url)
                .bearer_auth(token)
                .json(&PushRequest {
                    device_id,
                    sent_at: Utc::now(),
                    sent_monotonic_ms: 0,
                    events,
                    public_key: None,
                })
                .send()
                .await
                .map(|r| r.status())
        })
    });
    let flood: Vec<_> = flood.collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut worst = Duration::ZERO;
    for _ in 0..5 {
        let start = Instant::now();
        other.job_for(other_tech).await;
        worst = worst.max(start.elapsed());
    }
    for h in flood {
        let status = h.await.unwrap().unwrap();
        assert_eq!(status, StatusCode::OK);
    }
    println!("another organisation's desk write under the flood: worst {worst:?}");
    assert!(
        worst < Duration::from_millis(1500),
        "another organisation waited {worst:?}"
    );
}

// ------------------------------------------------------------ 6. rate limits

#[tokio::test]
async fn a_fresh_random_bearer_per_request_is_limited_by_address_not_by_bearer() {
    let f = field_with(|c| {
        c.rate_limit_burst = 5.0;
        c.rate_limit_per_second = 0.5;
    })
    .await;
    let mut limited = 0;
    for _ in 0..15 {
        let res =
            f.w.http
                .get(f.w.url("/v1/sync/pull"))
                .bearer_auth(Uuid::now_v7().to_string())
                .send()
                .await
                .unwrap();
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            limited += 1;
        }
    }
    assert!(limited >= 5, "only {limited} of 15 random bearers limited");
    // A device that authenticated has a bucket of its own: the noise does not stop it.
    assert_eq!(f.phone.pull_raw(None, 10).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn failed_logins_slow_down_that_account_whatever_the_address() {
    let w = World::start().await;
    let desk = w.desk("Acme").await;
    let _ = desk;
    let login = |password: &str| {
        w.http
            .post(w.url("/v1/auth/login"))
            .json(&json!({"email": "desk@acme.example", "password": password}))
            .send()
    };
    for _ in 0..sync_server::ratelimit::LOGIN_FREE_FAILURES {
        assert_eq!(
            login("wrong").await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let res = login(PASSWORD).await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right one waits"
    );
    assert!(res.headers().contains_key(header::RETRY_AFTER));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(login(PASSWORD).await.unwrap().status(), StatusCode::OK);
}

// ------------------------------------------------------------ 7. redirects

#[tokio::test]
async fn redirect_targets_stay_on_the_console_and_odd_ones_never_fail() {
    let w = World::start().await;
    let http = browser();
    for back in [
        "/%09/evil.example",
        "//evil.example",
        "/\\evil.example",
        "https://evil.example/",
        "/%0a",
        "/%0d%0aSet-Cookie:x=1",
        "/console/%2F%2Fevil",
        "",
    ] {
        let res = http
            .get(w.url(&format!("/console/lang?to=en&back={back}")))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_redirection(), "{back}: {}", res.status());
        let to = res.headers()[header::LOCATION].to_str().unwrap();
        assert!(
            to == "/console" || (to.starts_with("/console/") && !to.contains("//")),
            "{back} -> {to:?}"
        );
        let page = http
            .get(w.url(&format!("/console/login?next={back}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!page.contains("evil.example"), "{back}");
    }
    let res = http
        .get(w.url("/console/lang?to=en&back=/console/technicians"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()[header::LOCATION], "/console/technicians");
}

// ------------------------------------------------------------ 9. resources one client holds

#[tokio::test]
async fn one_technicians_open_uploads_are_capped_by_count_and_bytes() {
    let f = field_with(|c| {
        c.max_open_uploads = 3;
        c.max_open_upload_bytes = 10_000;
    })
    .await;
    let create = |len: usize| {
        let b = |s: &str| STANDARD.encode(s);
        let meta = format!(
            "photo_id {},job_id {},sha256 {}",
            b(&Uuid::now_v7().to_string()),
            b(&f.job.to_string()),
            b(&"a".repeat(64))
        );
        f.w.http
            .post(f.w.url("/v1/uploads"))
            .bearer_auth(&f.phone.token)
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", len.to_string())
            .header("Upload-Metadata", meta)
            .send()
    };
    // Uploads need a recorded photo; record three.
    let mut locations = Vec::new();
    for i in 0..3 {
        // A different picture each: the same bytes twice on a job are refused as evidence.
        let sha = format!("{i:x}").repeat(64);
        let photo = PhotoRef {
            photo_id: Uuid::now_v7(),
            category: PhotoCategory::Exception,
            sha256: sha.clone(),
            location: None,
        };
        f.phone
            .push(&[f.phone.event(
                f.job,
                EventBody::PhotoCaptured {
                    photo: photo.clone(),
                },
            )])
            .await;
        let b = |s: &str| STANDARD.encode(s);
        let meta = format!(
            "photo_id {},job_id {},sha256 {}",
            b(&photo.photo_id.to_string()),
            b(&f.job.to_string()),
            b(&sha)
        );
        let res =
            f.w.http
                .post(f.w.url("/v1/uploads"))
                .bearer_auth(&f.phone.token)
                .header("Tus-Resumable", "1.0.0")
                .header("Upload-Length", "3000")
                .header("Upload-Metadata", meta)
                .send()
                .await
                .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        locations.push(res.headers()["location"].to_str().unwrap().to_string());
    }
    let res = create(100).await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["type"], "/problems/too-many-open-uploads");
    // Finishing (here: terminating) one frees room.
    let res =
        f.w.http
            .delete(f.w.url(&locations[0]))
            .bearer_auth(&f.phone.token)
            .header("Tus-Resumable", "1.0.0")
            .send()
            .await
            .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // By bytes: 2 x 3000 open, 5000 more would pass 10 000.
    assert_eq!(
        create(5_000).await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_connection_that_never_finishes_its_headers_is_closed() {
    let w = World::start_with(|c| c.header_read_timeout_secs = 1).await;
    let mut slow = Vec::new();
    for i in 0..30 {
        let mut s = tokio::net::TcpStream::connect(w.server.addr())
            .await
            .unwrap();
        // Headers that never end, a client that says nothing, and one that opens HTTP/2
        // without TLS and stops.
        match i % 3 {
            0 => s
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                .await
                .unwrap(),
            1 => {}
            _ => s.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap(),
        }
        slow.push(s);
    }
    let start = Instant::now();
    for mut s in slow {
        let mut buf = [0u8; 1024];
        // The server answers 408 or just closes; either way the read ends, well before 10 s.
        let read = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(read.is_ok(), "a slow-header connection stayed open");
    }
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    // The server still serves everyone else.
    let res = w.http.get(w.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

//! tus 1.0 photo uploads against a real server: full, resumed after a cut, refused ones.

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Duration;
use common::*;
use fieldcore::domain::{EventBody, PhotoCategory, PhotoRef};
use fieldcore::protocol::PushStatus;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use sync_server::auth::sha256_hex;
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

struct Setup {
    w: World,
    desk: Desk,
    phone: DeviceClient,
    job: Uuid,
}

fn jpeg(len: usize, seed: u8) -> Vec<u8> {
    let mut v: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect();
    v[..3].copy_from_slice(&[0xFF, 0xD8, 0xFF]);
    v
}

async fn setup() -> Setup {
    setup_with(|_| {}).await
}

async fn setup_with(tune: impl FnOnce(&mut sync_server::config::Config)) -> Setup {
    let w = World::start_with(tune).await;
    let desk = w.desk("Acme").await;
    let tech = desk.technician("Li Wei").await;
    let phone = w.device(&desk, tech).await;
    let job = desk.job_for(tech).await;
    let r = phone
        .push(&[phone.event(job, EventBody::JobAccepted)])
        .await;
    assert_eq!(r.results[0].status, PushStatus::Accepted);
    Setup {
        w,
        desk,
        phone,
        job,
    }
}

impl Setup {
    /// Record a photo of these bytes (the device pushes PhotoCaptured before uploading).
    async fn photo(&self, sha256: String) -> PhotoRef {
        let photo = PhotoRef {
            photo_id: Uuid::now_v7(),
            category: PhotoCategory::Exception,
            sha256,
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
        photo
    }

    fn metadata(&self, p: &PhotoRef) -> String {
        let b = |s: &str| STANDARD.encode(s);
        format!(
            "photo_id {},job_id {},sha256 {},filename {},filetype {}",
            b(&p.photo_id.to_string()),
            b(&self.job.to_string()),
            b(&p.sha256),
            b("p.jpg"),
            b("image/jpeg")
        )
    }

    async fn create(&self, p: &PhotoRef, len: usize) -> reqwest::Response {
        self.w
            .http
            .post(self.w.url("/v1/uploads"))
            .bearer_auth(&self.phone.token)
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", len.to_string())
            .header("Upload-Metadata", self.metadata(p))
            .send()
            .await
            .unwrap()
    }

    async fn created(&self, p: &PhotoRef, len: usize) -> String {
        let res = self.create(p, len).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        assert_eq!(res.headers()["tus-resumable"], "1.0.0");
        assert!(
            res.headers()["upload-expires"]
                .to_str()
                .unwrap()
                .ends_with("GMT")
        );
        res.headers()["location"].to_str().unwrap().to_string()
    }

    async fn patch(
        &self,
        location: &str,
        offset: usize,
        bytes: &[u8],
        checksum: Option<String>,
    ) -> reqwest::Response {
        let mut req = self
            .w
            .http
            .patch(self.w.url(location))
            .bearer_auth(&self.phone.token)
            .header("Tus-Resumable", "1.0.0")
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Offset", offset.to_string())
            .body(bytes.to_vec());
        if let Some(c) = checksum {
            req = req.header("Upload-Checksum", c);
        }
        req.send().await.unwrap()
    }

    async fn head(&self, location: &str, token: &str) -> reqwest::Response {
        self.w
            .http
            .head(self.w.url(location))
            .bearer_auth(token)
            .header("Tus-Resumable", "1.0.0")
            .send()
            .await
            .unwrap()
    }

    async fn offset(&self, location: &str) -> usize {
        let res = self.head(location, &self.phone.token).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["cache-control"], "no-store");
        res.headers()["upload-offset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    async fn photo_info(&self, p: &PhotoRef) -> serde_json::Value {
        let detail = self.desk.job(self.job).await;
        detail["photos"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["photo_id"] == p.photo_id.to_string())
            .unwrap()
            .clone()
    }

    async fn blob_count(&self) -> usize {
        stored_keys(&self.w.config, "blobs").await.len()
    }
}

#[tokio::test]
async fn discovery_and_protocol_checks() {
    let s = setup().await;
    let res =
        s.w.http
            .request(reqwest::Method::OPTIONS, s.w.url("/v1/uploads"))
            .send()
            .await
            .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let h = res.headers();
    assert_eq!(h["tus-resumable"], "1.0.0");
    assert_eq!(h["tus-version"], "1.0.0");
    assert_eq!(
        h["tus-extension"],
        "creation,checksum,termination,expiration"
    );
    assert_eq!(h["tus-checksum-algorithm"], "sha1,sha256");
    assert!(h["tus-max-size"].to_str().unwrap().parse::<u64>().unwrap() > 0);

    let bytes = jpeg(1000, 1);
    let p = s.photo(sha256_hex(&bytes)).await;
    let res =
        s.w.http
            .post(s.w.url("/v1/uploads"))
            .bearer_auth(&s.phone.token)
            .header("Upload-Length", "1000")
            .header("Upload-Metadata", s.metadata(&p))
            .send()
            .await
            .unwrap();
    assert_eq!(res.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(res.headers()["tus-resumable"], "1.0.0");

    let res = s.create(&p, 1 << 40).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let unknown = PhotoRef {
        photo_id: Uuid::now_v7(),
        ..p.clone()
    };
    let res = s.create(&unknown, 1000).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let loc = s.created(&p, 1000).await;
    let res =
        s.w.http
            .patch(s.w.url(&loc))
            .bearer_auth(&s.phone.token)
            .header("Tus-Resumable", "1.0.0")
            .header("Content-Type", "application/octet-stream")
            .header("Upload-Offset", "0")
            .body(bytes.clone())
            .send()
            .await
            .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let res = s.patch(&loc, 0, &bytes, Some("md5 AAAA".into())).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // Another technician's device does not see the upload.
    let other_tech = s.desk.technician("Other").await;
    let other = s.w.device(&s.desk, other_tech).await;
    assert_eq!(
        s.head(&loc, &other.token).await.status(),
        StatusCode::NOT_FOUND
    );
    s.w.server.shutdown().await;
}

#[tokio::test]
async fn a_full_upload_links_the_photo_once_and_the_desk_can_fetch_it() {
    let s = setup().await;
    let bytes = jpeg(300_000, 2);
    let p = s.photo(sha256_hex(&bytes)).await;
    assert_eq!(s.photo_info(&p).await["uploaded"], false);

    let loc = s.created(&p, bytes.len()).await;
    let sum = format!("sha256 {}", STANDARD.encode(Sha256::digest(&bytes)));
    let res = s.patch(&loc, 0, &bytes, Some(sum)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        res.headers()["upload-offset"],
        bytes.len().to_string().as_str()
    );
    assert_eq!(s.offset(&loc).await, bytes.len());
    let info = s.photo_info(&p).await;
    assert_eq!(info["uploaded"], true);

    let res =
        s.w.http
            .get(s.w.url(info["url"].as_str().unwrap()))
            .bearer_auth(&s.desk.token)
            .send()
            .await
            .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/jpeg");
    assert_eq!(res.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // The same photo again (a client that lost the first response): still one blob, linked.
    let again = s.created(&p, bytes.len()).await;
    let res = s.patch(&again, 0, &bytes, None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(s.blob_count().await, 1);
    assert_eq!(s.photo_info(&p).await["uploaded"], true);
    s.w.server.shutdown().await;
}

#[tokio::test]
async fn an_upload_cut_mid_patch_resumes_from_the_servers_offset() {
    let s = setup().await;
    let bytes = jpeg(200_000, 3);
    let p = s.photo(sha256_hex(&bytes)).await;
    let loc = s.created(&p, bytes.len()).await;

    // A raw PATCH that promises every byte, sends 70 000 and hangs up.
    let sent = 70_000;
    let mut tcp = tokio::net::TcpStream::connect(s.w.server.addr())
        .await
        .unwrap();
    let head = format!(
        "PATCH {loc} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nTus-Resumable: 1.0.0\r\n\
         Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n\
         Content-Length: {}\r\n\r\n",
        s.w.server.addr(),
        s.phone.token,
        bytes.len()
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(&bytes[..sent]).await.unwrap();
    tcp.flush().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    drop(tcp);

    let mut offset = 0;
    for _ in 0..50 {
        offset = s.offset(&loc).await;
        if offset == sent {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(offset, sent, "the bytes received before the cut are kept");

    let res = s.patch(&loc, 0, &bytes, None).await;
    assert_eq!(res.status(), StatusCode::CONFLICT, "wrong offset");
    assert_eq!(res.headers()["tus-resumable"], "1.0.0");

    // A corrupted chunk is refused and changes nothing.
    let mut bad = bytes[sent..sent + 1000].to_vec();
    let sum = format!("sha1 {}", STANDARD.encode(sha1::Sha1::digest(&bad)));
    bad[10] ^= 0xFF;
    let res = s.patch(&loc, sent, &bad, Some(sum)).await;
    assert_eq!(res.status().as_u16(), 460);
    assert_eq!(s.offset(&loc).await, sent);

    let rest = &bytes[sent..];
    let sum = format!("sha1 {}", STANDARD.encode(sha1::Sha1::digest(rest)));
    let res = s.patch(&loc, sent, rest, Some(sum)).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(s.photo_info(&p).await["uploaded"], true);
    s.w.server.shutdown().await;
}

#[tokio::test]
async fn bytes_that_do_not_hash_to_the_recorded_sha256_are_refused_at_the_end() {
    let s = setup().await;
    let real = jpeg(50_000, 4);
    let p = s.photo(sha256_hex(&real)).await;
    let loc = s.created(&p, real.len()).await;
    let fake = jpeg(50_000, 5);
    let res = s.patch(&loc, 0, &fake[..20_000], None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = s.patch(&loc, 20_000, &fake[20_000..], None).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["type"], "/problems/photo-hash-mismatch");
    assert_eq!(
        s.head(&loc, &s.phone.token).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(s.photo_info(&p).await["uploaded"], false);
    assert_eq!(s.blob_count().await, 0);
    s.w.server.shutdown().await;
}

/// Run SQL on the server's database, whichever store this run uses: for putting the database
/// in a state only a crash at the wrong instant leaves behind.
async fn raw_sql(w: &World, sql: &str) {
    match &w.config.database_url {
        Some(url) => {
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            client.batch_execute(sql).await.unwrap();
        }
        None => rusqlite::Connection::open(w.config.database_path())
            .unwrap()
            .execute_batch(sql)
            .unwrap(),
    }
}

/// The server was killed after removing refused bytes and before removing their upload: the
/// row says "all bytes here", yet there is neither a partial file nor a blob. That upload must
/// not answer "complete" (the device would mark a photo uploaded that never was): it is gone,
/// and a new upload of the right bytes links the photo.
#[tokio::test]
async fn an_upload_whose_bytes_vanished_is_gone_not_complete() {
    let s = setup().await;
    let bytes = jpeg(40_000, 6);
    let p = s.photo(sha256_hex(&bytes)).await;
    let loc = s.created(&p, bytes.len()).await;
    assert_eq!(
        s.patch(&loc, 0, &bytes, None).await.status(),
        StatusCode::NO_CONTENT
    );
    // Undo the link and the blob: what the crash would have left.
    raw_sql(
        &s.w,
        "UPDATE uploads SET completed_at = NULL; UPDATE photos SET blob_path = NULL;",
    )
    .await;
    let blob = sync_server::tus::blob_rel_path(&p.sha256);
    remove_key(&s.w.config, &blob).await;

    let res = s.head(&loc, &s.phone.token).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        s.head(&loc, &s.phone.token).await.status(),
        StatusCode::NOT_FOUND,
        "and stays gone"
    );
    assert_eq!(s.photo_info(&p).await["uploaded"], false);

    let again = s.created(&p, bytes.len()).await;
    assert_eq!(
        s.patch(&again, 0, &bytes, None).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(s.photo_info(&p).await["uploaded"], true);
    assert_eq!(stored_keys(&s.w.config, "blobs").await, vec![blob]);
    s.w.server.shutdown().await;
}

#[tokio::test]
async fn termination_and_expiry() {
    let s = setup().await;
    let bytes = jpeg(10_000, 6);
    let p = s.photo(sha256_hex(&bytes)).await;

    let loc = s.created(&p, bytes.len()).await;
    s.patch(&loc, 0, &bytes[..100], None).await;
    let res =
        s.w.http
            .delete(s.w.url(&loc))
            .bearer_auth(&s.phone.token)
            .header("Tus-Resumable", "1.0.0")
            .send()
            .await
            .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        s.head(&loc, &s.phone.token).await.status(),
        StatusCode::NOT_FOUND
    );

    let loc = s.created(&p, bytes.len()).await;
    s.patch(&loc, 0, &bytes[..100], None).await;
    s.w.server.state().config.clock.advance(Duration::hours(25));
    assert_eq!(
        s.head(&loc, &s.phone.token).await.status(),
        StatusCode::GONE
    );
    let res = s.patch(&loc, 100, &bytes[100..], None).await;
    assert_eq!(res.status(), StatusCode::GONE);
    assert!(s.w.server.sweep_now().await.unwrap() >= 1);
    assert_eq!(
        s.head(&loc, &s.phone.token).await.status(),
        StatusCode::NOT_FOUND
    );
    let partials = stored_keys(&s.w.config, "uploads").await;
    assert_eq!(partials, Vec::<String>::new(), "swept bytes are gone");
    s.w.server.shutdown().await;
}

/// A raw PATCH that promises `bytes` and sends only the first `sent`, then keeps the connection
/// open and silent (a phone whose network went away without a FIN), and the status line and
/// headers of what the server answers, if it answers.
async fn silent_patch(s: &Setup, loc: &str, bytes: &[u8], sent: usize) -> tokio::net::TcpStream {
    let mut tcp = tokio::net::TcpStream::connect(s.w.server.addr())
        .await
        .unwrap();
    let head = format!(
        "PATCH {loc} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nTus-Resumable: 1.0.0\r\n\
         Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n\
         Content-Length: {}\r\n\r\n",
        s.w.server.addr(),
        s.phone.token,
        bytes.len()
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(&bytes[..sent]).await.unwrap();
    tcp.flush().await.unwrap();
    tcp
}

/// Send a raw request and read the response's head (status line and headers).
async fn raw_head(w: &World, request: String) -> String {
    use tokio::io::AsyncReadExt;
    let mut tcp = tokio::net::TcpStream::connect(w.server.addr())
        .await
        .unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 8192];
    let mut got = Vec::new();
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tcp.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed before the response head");
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test]
async fn a_silent_patch_locks_its_upload_only_for_a_few_seconds() {
    let s = setup_with(|c| c.upload_lease_secs = 2).await;
    let bytes = jpeg(3_000_000, 9);
    let p = s.photo(sha256_hex(&bytes)).await;
    let loc = s.created(&p, bytes.len()).await;
    // 1.5 MB in (past the server's 1 MiB write buffer), then silence with the socket open.
    let silent = silent_patch(&s, &loc, &bytes, 1_500_000).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    // The phone, now on another network, resumes at once: the upload is locked, and says so
    // as tus does (423, not 409 which means a wrong offset), with when to try again.
    let res = s.patch(&loc, 0, &bytes, None).await;
    assert_eq!(res.status(), StatusCode::LOCKED);
    assert_eq!(res.headers()["tus-resumable"], "1.0.0");
    assert_eq!(res.headers()["retry-after"], "2");
    assert_eq!(
        res.headers()["content-type"],
        fieldcore::protocol::PROBLEM_CONTENT_TYPE
    );

    // After the lease's silence it takes the upload over and finishes it; the silent request
    // wrote nothing it could not commit.
    tokio::time::sleep(std::time::Duration::from_millis(2_200)).await;
    let from = s.offset(&loc).await;
    let res = s.patch(&loc, from, &bytes[from..], None).await;
    assert_eq!(
        res.status(),
        StatusCode::NO_CONTENT,
        "{:?}",
        res.text().await
    );
    let info = s.photo_info(&p).await;
    assert_eq!(info["uploaded"], true);
    let res =
        s.w.http
            .get(s.w.url(info["url"].as_str().unwrap()))
            .bearer_auth(&s.desk.token)
            .send()
            .await
            .unwrap();
    assert_eq!(res.bytes().await.unwrap().as_ref(), bytes.as_slice());
    drop(silent);
    s.w.server.shutdown().await;
}

#[tokio::test]
async fn a_steady_patch_keeps_its_lease_longer_than_the_silence_window() {
    // A slow but moving upload is not taken over: only silence lets the lease lapse.
    let s = setup_with(|c| c.upload_lease_secs = 1).await;
    let bytes = jpeg(2_400_000, 4);
    let p = s.photo(sha256_hex(&bytes)).await;
    let loc = s.created(&p, bytes.len()).await;
    let mut tcp = silent_patch(&s, &loc, &bytes, 0).await;
    // 3 s in 300 kB steps: three times the lease, never silent for a whole one.
    let parts: Vec<&[u8]> = bytes.chunks(240_000).collect();
    for (i, part) in parts.iter().enumerate() {
        tcp.write_all(part).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        if i + 1 < parts.len() {
            let res = s.patch(&loc, 0, &bytes[..10], None).await;
            assert_eq!(
                res.status(),
                StatusCode::LOCKED,
                "still writing: {:?}",
                res.text().await
            );
        }
    }
    let mut offset = 0;
    for _ in 0..50 {
        offset = s.offset(&loc).await;
        if offset == bytes.len() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(offset, bytes.len());
    assert_eq!(s.photo_info(&p).await["uploaded"], true);
    s.w.server.shutdown().await;
}

#[tokio::test]
async fn method_override_metadata_on_head_and_errors_as_problems() {
    let s = setup().await;
    let bytes = jpeg(50_000, 5);
    let p = s.photo(sha256_hex(&bytes)).await;
    let loc = s.created(&p, bytes.len()).await;

    // HEAD returns the metadata the upload was created with (creation extension: MUST).
    let res = s.head(&loc, &s.phone.token).await;
    assert_eq!(res.headers()["upload-metadata"], s.metadata(&p).as_str());

    // A client behind a GET/POST-only proxy: POST + X-HTTP-Method-Override is the PATCH.
    let res =
        s.w.http
            .post(s.w.url(&loc))
            .bearer_auth(&s.phone.token)
            .header("X-HTTP-Method-Override", "PATCH")
            .header("Tus-Resumable", "1.0.0")
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Offset", "0")
            .body(bytes[..20_000].to_vec())
            .send()
            .await
            .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(s.offset(&loc).await, 20_000);
    // Elsewhere a POST stays a POST.
    let res =
        s.w.http
            .post(s.w.url("/v1/sync/push"))
            .bearer_auth(&s.phone.token)
            .header("X-HTTP-Method-Override", "DELETE")
            .json(&fieldcore::protocol::PushRequest {
                device_id: s.phone.device_id,
                sent_at: now(),
                sent_monotonic_ms: 0,
                events: Vec::new(),
                public_key: None,
            })
            .send()
            .await
            .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // A method the resource does not take: 405 as a problem, with Allow and Tus-Resumable.
    let res =
        s.w.http
            .get(s.w.url(&loc))
            .bearer_auth(&s.phone.token)
            .send()
            .await
            .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()["tus-resumable"], "1.0.0");
    assert!(res.headers().contains_key("allow"));
    assert_eq!(
        res.headers()["content-type"],
        fieldcore::protocol::PROBLEM_CONTENT_TYPE
    );

    // A body larger than any upload, refused by the body limit before any handler: a problem.
    let head = raw_head(
        &s.w,
        format!(
            "PATCH {loc} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
             Tus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\n\
             Upload-Offset: 20000\r\nContent-Length: {}\r\n\r\n",
            s.phone.token,
            1u64 << 40
        ),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 413 "), "{head}");
    assert!(head.contains("tus-resumable: 1.0.0"), "{head}");
    assert!(head.contains("application/problem+json"), "{head}");

    // 460 has a reason phrase on the status line.
    let chunk = &bytes[20_000..21_000];
    let head = raw_head(
        &s.w,
        format!(
            "PATCH {loc} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
             Tus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\n\
             Upload-Offset: 20000\r\nUpload-Checksum: sha1 {}\r\nContent-Length: {}\r\n\r\n{}",
            s.phone.token,
            STANDARD.encode(sha1::Sha1::digest(b"not the chunk")),
            chunk.len(),
            "x".repeat(chunk.len()),
        ),
    )
    .await;
    assert!(
        head.starts_with("HTTP/1.1 460 Checksum Mismatch\r\n"),
        "{head}"
    );
    s.w.server.shutdown().await;
}

#[tokio::test]
async fn cors_is_off_by_default_and_exposes_the_tus_headers_when_configured() {
    let preflight = |w: &World| {
        w.http
            .request(reqwest::Method::OPTIONS, w.url("/v1/uploads"))
            .header("Origin", "https://shop.example")
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization,tus-resumable,upload-length,upload-metadata",
            )
            .send()
    };
    let off = World::start().await;
    let res = preflight(&off).await.unwrap();
    assert!(!res.headers().contains_key("access-control-allow-origin"));
    off.server.shutdown().await;

    let s = setup_with(|c| c.cors_allowed_origins = vec!["https://shop.example".into()]).await;
    let res = preflight(&s.w).await.unwrap();
    assert!(res.status().is_success());
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    let allowed = res.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(allowed.contains("upload-metadata"), "{allowed}");
    assert!(
        !res.headers()
            .contains_key("access-control-allow-credentials")
    );

    // The real request: the browser may read Location and the tus headers.
    let bytes = jpeg(1000, 6);
    let p = s.photo(sha256_hex(&bytes)).await;
    let res =
        s.w.http
            .post(s.w.url("/v1/uploads"))
            .header("Origin", "https://shop.example")
            .bearer_auth(&s.phone.token)
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", "1000")
            .header("Upload-Metadata", s.metadata(&p))
            .send()
            .await
            .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let exposed = res.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_string();
    for h in [
        "location",
        "upload-offset",
        "upload-length",
        "tus-resumable",
    ] {
        assert!(exposed.contains(h), "{h} not in {exposed}");
    }
    // Another origin is not let in.
    let res =
        s.w.http
            .request(reqwest::Method::OPTIONS, s.w.url("/v1/uploads"))
            .header("Origin", "https://evil.example")
            .header("Access-Control-Request-Method", "POST")
            .send()
            .await
            .unwrap();
    assert!(!res.headers().contains_key("access-control-allow-origin"));
    s.w.server.shutdown().await;
}

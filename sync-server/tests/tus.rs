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
    let w = World::start().await;
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

    fn blob_count(&self) -> usize {
        let mut n = 0;
        for d in std::fs::read_dir(self.w.config.blob_dir()).unwrap() {
            n += std::fs::read_dir(d.unwrap().path()).unwrap().count();
        }
        n
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
    assert_eq!(s.blob_count(), 1);
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
    assert_eq!(s.blob_count(), 0);
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
    let blob =
        s.w.config
            .data_dir
            .join(sync_server::tus::blob_rel_path(&p.sha256));
    std::fs::remove_file(&blob).unwrap();

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
    assert!(blob.exists());
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
    let partials = std::fs::read_dir(s.w.config.upload_dir()).unwrap().count();
    assert_eq!(partials, 0, "swept files are gone");
    s.w.server.shutdown().await;
}

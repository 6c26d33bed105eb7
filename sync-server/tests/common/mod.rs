//! A real server on 127.0.0.1:0 with its SQLite file in a temporary directory, and small
//! clients for the desk and for devices. No mocks.
//!
//! With `FIELDCORE_TEST_DATABASE_URL` set (`scripts/with-postgres` does), every test gets a
//! fresh PostgreSQL database on that cluster instead of the SQLite file, so the same suite
//! checks both stores. With `FIELDCORE_TEST_S3_ENDPOINT` set too (`scripts/with-s3`), photos
//! and unfinished uploads live in that S3-compatible server, each test under its own prefix.
#![allow(dead_code)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use fieldcore::domain::{Actor, Event, EventBody, JobKind, PhotoCategory, PhotoRef};
use fieldcore::protocol::{EnrollRequest, EnrollResponse, PullResponse, PushRequest, PushResponse};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sync_server::{Config, RunningServer};
use uuid::Uuid;

pub const PASSWORD: &str = "correct horse battery";

pub struct World {
    pub dir: tempfile::TempDir,
    pub server: RunningServer,
    pub http: reqwest::Client,
    pub config: Config,
}

impl World {
    pub async fn start() -> World {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tune: impl FnOnce(&mut Config)) -> World {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::for_tests(dir.path().join("data"));
        config.database_url = fresh_database().await;
        use_test_object_store(&mut config);
        tune(&mut config);
        let server = sync_server::start(config.clone()).await.unwrap();
        World {
            dir,
            server,
            http: reqwest::Client::new(),
            config,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.server.base_url(), path)
    }

    /// A new organisation with one dispatcher, logged in.
    pub async fn desk(&self, org: &str) -> Desk {
        let email = format!("desk@{}.example", org.to_lowercase().replace(' ', "-"));
        sync_server::create_dispatcher(&self.config, org, &email, "Desk", PASSWORD)
            .await
            .unwrap();
        let res = self
            .http
            .post(self.url("/v1/auth/login"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let v: Value = res.json().await.unwrap();
        Desk {
            http: self.http.clone(),
            base: self.server.base_url(),
            token: v["token"].as_str().unwrap().to_string(),
            dispatcher_id: v["dispatcher_id"].as_str().unwrap().parse().unwrap(),
            organisation_id: v["organisation_id"].as_str().unwrap().parse().unwrap(),
        }
    }

    /// Enrol a new device for `technician` with a fresh code.
    pub async fn device(&self, desk: &Desk, technician: Uuid) -> DeviceClient {
        let code = desk.code(technician).await;
        let device_id = Uuid::now_v7();
        let (status, body) = self.enroll(&code, device_id).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let r: EnrollResponse = serde_json::from_value(body).unwrap();
        DeviceClient {
            http: self.http.clone(),
            base: self.server.base_url(),
            token: r.token,
            device_id,
            technician_id: r.technician_id,
        }
    }

    pub async fn enroll(&self, code: &str, device_id: Uuid) -> (StatusCode, Value) {
        let res = self
            .http
            .post(self.url("/v1/devices/enroll"))
            .json(&EnrollRequest {
                code: code.to_string(),
                device_id,
                device_name: "test phone".into(),
            })
            .send()
            .await
            .unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

pub struct Desk {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
    pub dispatcher_id: Uuid,
    pub organisation_id: Uuid,
}

impl Desk {
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn technician(&self, name: &str) -> Uuid {
        let (s, v) = self
            .post(
                "/v1/technicians",
                json!({"name": name, "phone": "+86 139 0000 0000"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["id"].as_str().unwrap().parse().unwrap()
    }

    pub async fn code(&self, technician: Uuid) -> String {
        let (s, v) = self
            .post(
                &format!("/v1/technicians/{technician}/enrolment-codes"),
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["code"].as_str().unwrap().to_string()
    }

    /// An install job for `technician`, visit booked tomorrow.
    pub async fn job_for(&self, technician: Uuid) -> Uuid {
        let order = fieldcore::fixtures::order(JobKind::Install);
        let (s, v) = self
            .post(
                "/v1/jobs",
                json!({
                    "order": order,
                    "technician_id": technician,
                    "appointment_at": Utc::now() + chrono::Duration::days(1),
                }),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["view"]["id"].as_str().unwrap().parse().unwrap()
    }

    pub async fn job(&self, job: Uuid) -> Value {
        let (s, v) = self.get(&format!("/v1/jobs/{job}")).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }
}

#[derive(Clone)]
pub struct DeviceClient {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
    pub device_id: Uuid,
    pub technician_id: Uuid,
}

/// `len` bytes that sniff as a JPEG (its magic first, then a pattern of `seed`), and an
/// exception photo record of them.
pub fn fake_photo(len: u32, seed: u32) -> (Vec<u8>, PhotoRef) {
    let mut bytes: Vec<u8> = (0..len)
        .map(|i| (i.wrapping_mul(seed) % 251) as u8)
        .collect();
    bytes[..3].copy_from_slice(&[0xFF, 0xD8, 0xFF]);
    let photo = PhotoRef {
        photo_id: Uuid::now_v7(),
        category: PhotoCategory::Exception,
        sha256: {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(&bytes))
        },
        location: None,
    };
    (bytes, photo)
}

/// A phone's evidence chain (`fieldcore::fixtures::Chain`: its key, heads and sequence) that
/// seals the events a [`DeviceClient`] makes.
#[derive(Debug, Default)]
pub struct Signer(pub fieldcore::fixtures::Chain);

impl std::ops::Deref for Signer {
    type Target = fieldcore::fixtures::Chain;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Signer {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Signer {
    pub fn new() -> Signer {
        Signer::default()
    }

    /// The next event of the phone, numbered and sealed after the last.
    pub fn seal(&mut self, phone: &DeviceClient, job: Uuid, body: EventBody) -> Event {
        let mut e = phone.event(job, body);
        self.0.seal(&mut e);
        e
    }

    pub fn call(&mut self, phone: &DeviceClient, job: Uuid, note: &str) -> Event {
        let body = EventBody::CustomerCallLogged {
            outcome: fieldcore::domain::CallOutcome::Reached,
            note: note.into(),
        };
        self.seal(phone, job, body)
    }
}

/// A tus request with the device's token.
pub fn tus(req: reqwest::RequestBuilder, token: &str) -> reqwest::RequestBuilder {
    req.bearer_auth(token).header("Tus-Resumable", "1.0.0")
}

impl DeviceClient {
    /// Create an upload for `photo` on `job` (tus creation); its location.
    pub async fn create_upload(&self, job: Uuid, photo: &PhotoRef, len: usize) -> String {
        let enc = |s: &str| STANDARD.encode(s);
        let res = tus(
            self.http.post(format!("{}/v1/uploads", self.base)),
            &self.token,
        )
        .header("Upload-Length", len.to_string())
        .header(
            "Upload-Metadata",
            format!(
                "photo_id {},job_id {},sha256 {}",
                enc(&photo.photo_id.to_string()),
                enc(&job.to_string()),
                enc(&photo.sha256)
            ),
        )
        .send()
        .await
        .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        res.headers()["location"].to_str().unwrap().to_string()
    }

    /// A tus PATCH of `body` at `offset`; `Err` if no answer came.
    pub async fn patch_upload(
        &self,
        location: &str,
        offset: usize,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Result<reqwest::Response> {
        tus(
            self.http.patch(format!("{}{location}", self.base)),
            &self.token,
        )
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", offset.to_string())
        .body(body)
        .send()
        .await
    }

    pub fn event(&self, job_id: Uuid, body: EventBody) -> Event {
        Event {
            id: Uuid::now_v7(),
            job_id,
            actor: Actor::Technician {
                technician_id: self.technician_id,
                device_id: self.device_id,
            },
            recorded_at: Utc::now(),
            monotonic_ms: None,
            device_seq: None,
            clock_offset_ms: None,
            corrected_at: None,
            body,
            seal: None,
        }
    }

    pub async fn push_raw(&self, events: &[Event]) -> reqwest::Response {
        self.push_with_key(events, None).await
    }

    /// A push that also sends the device's evidence-chain key (hex), as the app does.
    pub async fn push_with_key(
        &self,
        events: &[Event],
        public_key: Option<String>,
    ) -> reqwest::Response {
        self.http
            .post(format!("{}/v1/sync/push", self.base))
            .bearer_auth(&self.token)
            .json(&PushRequest {
                device_id: self.device_id,
                sent_at: Utc::now(),
                sent_monotonic_ms: 0,
                events: events.to_vec(),
                public_key,
            })
            .send()
            .await
            .unwrap()
    }

    pub async fn push(&self, events: &[Event]) -> PushResponse {
        let res = self.push_raw(events).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.unwrap()
    }

    pub async fn pull_raw(&self, cursor: Option<&str>, limit: usize) -> reqwest::Response {
        let mut q = vec![("limit", limit.to_string())];
        if let Some(c) = cursor {
            q.push(("cursor", c.to_string()));
        }
        self.http
            .get(format!("{}/v1/sync/pull", self.base))
            .bearer_auth(&self.token)
            .query(&q)
            .send()
            .await
            .unwrap()
    }

    pub async fn pull(&self, cursor: Option<&str>, limit: usize) -> PullResponse {
        let res = self.pull_raw(cursor, limit).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.unwrap()
    }

    /// Every event in the feed, paging through.
    pub async fn pull_all(&self) -> Vec<Event> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self.pull(cursor.as_deref(), 1000).await;
            out.extend(page.events);
            cursor = Some(page.next_cursor);
            if !page.has_more {
                return out;
            }
        }
    }
}

/// Point `config` at the test S3 server (`scripts/with-s3`), if there is one, under a prefix
/// of its own (blobs are content-addressed: tests sharing one would see each other's).
pub fn use_test_object_store(config: &mut Config) {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let Some(endpoint) = var("FIELDCORE_TEST_S3_ENDPOINT") else {
        return;
    };
    let bucket = var("FIELDCORE_TEST_S3_BUCKET").unwrap_or_else(|| "fieldcore-test".into());
    config.object_store_url = Some(format!("s3://{bucket}/t-{}", Uuid::now_v7().simple()));
    config.object_store_options = [
        ("endpoint", endpoint),
        ("allow_http", "true".into()),
        ("region", "us-east-1".into()),
        (
            "access_key_id",
            var("FIELDCORE_TEST_S3_ACCESS_KEY").unwrap_or_default(),
        ),
        (
            "secret_access_key",
            var("FIELDCORE_TEST_S3_SECRET_KEY").unwrap_or_default(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
}

/// The keys under `prefix` (`blobs` or `uploads`) where `config` keeps photo bytes: files under
/// the data directory, or objects in the bucket.
pub async fn stored_keys(config: &Config, prefix: &str) -> Vec<String> {
    use futures_util::TryStreamExt;
    match &config.object_store_url {
        Some(url) => {
            let store =
                sync_server::blobs::object::open_store(url, &config.object_store_options).unwrap();
            let mut keys: Vec<String> = store
                .list(Some(&object_store::path::Path::from(prefix)))
                .map_ok(|m| m.location.to_string())
                .try_collect()
                .await
                .unwrap();
            keys.sort();
            keys
        }
        None => {
            fn walk(dir: &std::path::Path, rel: &str, out: &mut Vec<String>) {
                let Ok(entries) = std::fs::read_dir(dir) else {
                    return;
                };
                for e in entries {
                    let e = e.unwrap();
                    let name = format!("{rel}/{}", e.file_name().to_string_lossy());
                    if e.file_type().unwrap().is_dir() {
                        walk(&e.path(), &name, out);
                    } else {
                        out.push(name);
                    }
                }
            }
            let mut out = Vec::new();
            walk(&config.data_dir.join(prefix), prefix, &mut out);
            out.sort();
            out
        }
    }
}

/// Remove one stored key (what a crash or an operator's mistake would leave).
pub async fn remove_key(config: &Config, key: &str) {
    match &config.object_store_url {
        Some(url) => {
            use object_store::ObjectStoreExt;
            let store =
                sync_server::blobs::object::open_store(url, &config.object_store_options).unwrap();
            store
                .delete(&object_store::path::Path::from(key))
                .await
                .unwrap();
        }
        None => std::fs::remove_file(config.data_dir.join(key)).unwrap(),
    }
}

/// The PostgreSQL cluster the tests may use, if any.
pub fn test_cluster() -> Option<String> {
    std::env::var("FIELDCORE_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

/// A new, empty database on the test cluster (`None`: no cluster, use SQLite). Databases are
/// not dropped: the cluster is thrown away after the run.
pub async fn fresh_database() -> Option<String> {
    let url = test_cluster()?;
    let name = format!("t_{}", Uuid::now_v7().simple());
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connecting to FIELDCORE_TEST_DATABASE_URL");
    let driver = tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("CREATE DATABASE");
    drop(client);
    let _ = driver.await;
    Some(with_database(&url, &name))
}

/// `url` with its database name replaced (`postgres://u@h:p/db?x` → `.../name?x`).
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[after_scheme..]
        .find('/')
        .map_or(base.len(), |i| after_scheme + i);
    let mut out = format!("{}/{name}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

pub fn now() -> DateTime<Utc> {
    Utc::now()
}

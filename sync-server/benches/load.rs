//! Load generator: N simulated devices against real `sync-server` processes over loopback HTTP.
//! Each device enrols, pulls, pushes 20 events in 2 batches, uploads 2 photos over tus (one
//! PATCH each, with `Upload-Checksum`), pulls again, with think time between steps. Then the
//! database is checked: every event and photo there exactly once.
//!
//! (a) one process on SQLite; (b) two processes on PostgreSQL, the devices alternating between
//! them (skipped without `FIELDCORE_TEST_DATABASE_URL`), with photos in object storage and a
//! data directory each under `scripts/with-s3`, else sharing one data directory. Prints
//! `ratio pg_push_p99` = (b)'s push p99 / (a)'s.
//!
//! ```sh
//! PG_FSYNC=on scripts/with-postgres scripts/with-s3 \
//!     cargo bench -p sync-server --bench load -- --devices 1000
//! ```
//! Options: `--devices N` (1000), `--concurrency N` (devices in flight, 100), `--think-ms N`
//! (mean pause between steps, 100), `--photo-kb N` (300), `--only sqlite|postgres`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use fieldcore::domain::{Actor, CallOutcome, Event, EventBody, JobKind, PhotoCategory, PhotoRef};
use fieldcore::protocol::{EnrollResponse, PullResponse, PushRequest, PushResponse, PushStatus};
use rand::{Rng, RngCore, SeedableRng};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use uuid::Uuid;

const PASSWORD: &str = "load generator password";
const BIN: &str = env!("CARGO_BIN_EXE_sync-server");

#[derive(Debug, Clone)]
struct Args {
    devices: usize,
    concurrency: usize,
    think_ms: u64,
    photo_kb: usize,
    only: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        devices: 1000,
        concurrency: 100,
        think_ms: 100,
        photo_kb: 300,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut num = |name: &str| -> u64 {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match arg.as_str() {
            "--devices" => a.devices = num("--devices") as usize,
            "--concurrency" => a.concurrency = num("--concurrency") as usize,
            "--think-ms" => a.think_ms = num("--think-ms"),
            "--photo-kb" => a.photo_kb = num("--photo-kb") as usize,
            "--only" => a.only = it.next(),
            // `cargo bench` passes --bench; anything else is ignored likewise.
            _ => {}
        }
    }
    a
}

/// A `sync-server` child process, killed when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Object storage for (b), from `scripts/with-s3`: (url with a prefix of this run, options).
type ObjectStore = (String, Vec<(String, String)>);

fn object_store_from_env() -> Option<ObjectStore> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let endpoint = var("FIELDCORE_TEST_S3_ENDPOINT")?;
    let bucket = var("FIELDCORE_TEST_S3_BUCKET").unwrap_or_else(|| "fieldcore-test".into());
    let options = [
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
    ];
    Some((
        format!("s3://{bucket}/load-{}", Uuid::now_v7().simple()),
        options
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    ))
}

/// The blob keys (`blobs/<aa>/<sha256>`) stored: files under `data_dir`, or objects.
async fn stored_blobs(data_dir: &Path, object_store: Option<&ObjectStore>) -> HashSet<String> {
    use futures_util::TryStreamExt;
    match object_store {
        Some((url, options)) => {
            let options = options.iter().cloned().collect();
            let store = sync_server::blobs::object::open_store(url, &options).unwrap();
            store
                .list(Some(&object_store::path::Path::from("blobs")))
                .map_ok(|m| m.location.to_string())
                .try_collect()
                .await
                .unwrap()
        }
        None => {
            let mut out = HashSet::new();
            for dir in std::fs::read_dir(data_dir.join("blobs"))
                .into_iter()
                .flatten()
            {
                let dir = dir.unwrap();
                for f in std::fs::read_dir(dir.path()).unwrap() {
                    out.insert(format!(
                        "blobs/{}/{}",
                        dir.file_name().to_string_lossy(),
                        f.unwrap().file_name().to_string_lossy()
                    ));
                }
            }
            out
        }
    }
}

fn write_config(
    dir: &Path,
    name: &str,
    data_dir: &Path,
    database_url: Option<&str>,
    object_store: Option<&ObjectStore>,
) -> PathBuf {
    let port = free_port();
    let mut toml = format!(
        "bind = \"127.0.0.1:{port}\"\ndata_dir = {:?}\n\
         rate_limit_per_second = 1000000.0\nrate_limit_burst = 1000000.0\n",
        data_dir.display().to_string()
    );
    if let Some(url) = database_url {
        toml.push_str(&format!(
            "database_url = {url:?}\ndatabase_pool_size = 16\n"
        ));
    }
    if let Some((url, options)) = object_store {
        toml.push_str(&format!(
            "object_store_url = {url:?}\n[object_store_options]\n"
        ));
        for (k, v) in options {
            toml.push_str(&format!("{k} = {v:?}\n"));
        }
    }
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, toml).unwrap();
    path
}

fn port_of(config: &Path) -> u16 {
    let text = std::fs::read_to_string(config).unwrap();
    let v: toml::Value = toml::from_str(&text).unwrap();
    let bind = v["bind"].as_str().unwrap();
    bind.rsplit(':').next().unwrap().parse().unwrap()
}

async fn spawn_server(config: &Path, log: &Path) -> Server {
    let out = std::fs::File::create(log).unwrap();
    let child = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(out)
        .spawn()
        .expect("spawning sync-server");
    // Owned at once, so a panic below still kills and reaps it.
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{}", port_of(config)),
    };
    let base = server.base.clone();
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await
            && r.status().is_success()
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "server on {base} did not become healthy; see {}",
        log.display()
    );
}

fn create_dispatcher(config: &Path) {
    let status = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .args([
            "create-dispatcher",
            "--org",
            "Load",
            "--email",
            "desk@load.example",
            "--name",
            "Desk",
        ])
        .env("FIELDCORE_PASSWORD", PASSWORD)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

/// One device's work, prepared by the desk.
struct Assignment {
    base: String,
    code: String,
    job: Uuid,
}

#[derive(Default)]
struct Stats {
    push_ms: Vec<f64>,
    pull_ms: Vec<f64>,
    upload_ms: Vec<f64>,
    errors: Vec<String>,
    events_accepted: usize,
    photos_done: usize,
    event_ids: Vec<Uuid>,
    photos: Vec<(Uuid, String)>,
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((p / 100.0) * (v.len() as f64 - 1.0)).round() as usize;
    v[i.min(v.len() - 1)]
}

async fn think(ms: u64) {
    if ms > 0 {
        let d = rand::thread_rng().gen_range(0..=2 * ms);
        tokio::time::sleep(Duration::from_millis(d)).await;
    }
}

async fn desk_setup(http: &reqwest::Client, bases: &[String], n: usize) -> Vec<Assignment> {
    let base = &bases[0];
    let login: Value = http
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"email": "desk@load.example", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_string();
    let sem = Arc::new(Semaphore::new(16));
    let mut tasks = Vec::new();
    for i in 0..n {
        let (http, token, base, sem) = (http.clone(), token.clone(), base.clone(), sem.clone());
        let device_base = bases[i % bases.len()].clone();
        tasks.push(tokio::spawn(async move {
            let _p = sem.acquire().await.unwrap();
            let post = |path: String, body: Value| {
                let req = http
                    .post(format!("{base}{path}"))
                    .bearer_auth(&token)
                    .json(&body);
                async move {
                    let r = req.send().await.unwrap();
                    assert!(r.status().is_success(), "{}", r.status());
                    r.json::<Value>().await.unwrap()
                }
            };
            let t = post(
                "/v1/technicians".into(),
                json!({"name": format!("Tech {i}"), "phone": "+86 139 0000 0000"}),
            )
            .await;
            let tech = t["id"].as_str().unwrap().to_string();
            let c = post(format!("/v1/technicians/{tech}/enrolment-codes"), json!({})).await;
            let j = post(
                "/v1/jobs".into(),
                json!({
                    "order": fieldcore::fixtures::order(JobKind::Install),
                    "technician_id": tech,
                    "appointment_at": Utc::now() + chrono::Duration::days(1),
                }),
            )
            .await;
            Assignment {
                base: device_base,
                code: c["code"].as_str().unwrap().to_string(),
                job: j["view"]["id"].as_str().unwrap().parse().unwrap(),
            }
        }));
    }
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn event(tech: Uuid, device: Uuid, job: Uuid, body: EventBody) -> Event {
    Event {
        id: Uuid::now_v7(),
        job_id: job,
        actor: Actor::Technician {
            technician_id: tech,
            device_id: device,
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

fn call(n: usize) -> EventBody {
    EventBody::CustomerCallLogged {
        outcome: CallOutcome::Reached,
        note: format!("call {n}"),
    }
}

/// Everything one device does; failures go to `stats.errors`.
async fn run_device(
    http: reqwest::Client,
    a: Assignment,
    args: Args,
    stats: Arc<Mutex<Stats>>,
) -> Result<(), String> {
    let base = &a.base;
    let device_id = Uuid::now_v7();
    let r = http
        .post(format!("{base}/v1/devices/enroll"))
        .json(&json!({"code": a.code, "device_id": device_id, "device_name": "load phone"}))
        .send()
        .await
        .map_err(|e| format!("enroll: {e}"))?;
    if !r.status().is_success() {
        return Err(format!("enroll: {}", r.status()));
    }
    let enrolled: EnrollResponse = r.json().await.map_err(|e| e.to_string())?;
    let (token, tech) = (enrolled.token, enrolled.technician_id);

    let pull = |cursor: Option<String>| {
        let http = http.clone();
        let (base, token, stats) = (base.clone(), token.clone(), stats.clone());
        async move {
            let mut cursor = cursor;
            loop {
                let mut req = http
                    .get(format!("{base}/v1/sync/pull"))
                    .bearer_auth(&token)
                    .query(&[("limit", "500")]);
                if let Some(c) = &cursor {
                    req = req.query(&[("cursor", c)]);
                }
                let t = Instant::now();
                let r = req.send().await.map_err(|e| format!("pull: {e}"))?;
                if !r.status().is_success() {
                    return Err(format!("pull: {}", r.status()));
                }
                let page: PullResponse = r.json().await.map_err(|e| format!("pull: {e}"))?;
                stats
                    .lock()
                    .unwrap()
                    .pull_ms
                    .push(t.elapsed().as_secs_f64() * 1000.0);
                cursor = Some(page.next_cursor);
                if !page.has_more {
                    return Ok::<_, String>(cursor);
                }
            }
        }
    };
    let cursor = pull(None).await?;
    think(args.think_ms).await;

    let photos: Vec<(PhotoRef, Vec<u8>)> = (0..2)
        .map(|_| {
            let mut bytes = vec![0u8; args.photo_kb * 1024];
            rand::rngs::StdRng::from_entropy().fill_bytes(&mut bytes);
            // A JPEG's magic bytes: the server stores only what sniffs as JPEG or PNG.
            bytes[..3].copy_from_slice(&[0xFF, 0xD8, 0xFF]);
            let sha: String = Sha256::digest(&bytes)
                .iter()
                .map(|x| format!("{x:02x}"))
                .collect();
            let p = PhotoRef {
                photo_id: Uuid::now_v7(),
                category: PhotoCategory::Exception,
                sha256: sha,
                location: None,
            };
            (p, bytes)
        })
        .collect();
    let mut first = vec![event(tech, device_id, a.job, EventBody::JobAccepted)];
    for (p, _) in &photos {
        first.push(event(
            tech,
            device_id,
            a.job,
            EventBody::PhotoCaptured { photo: p.clone() },
        ));
    }
    first.extend((0..7).map(|n| event(tech, device_id, a.job, call(n))));
    let second: Vec<Event> = (7..17)
        .map(|n| event(tech, device_id, a.job, call(n)))
        .collect();
    for batch in [first, second] {
        let ids: Vec<Uuid> = batch.iter().map(|e| e.id).collect();
        let t = Instant::now();
        let r = http
            .post(format!("{base}/v1/sync/push"))
            .bearer_auth(&token)
            .json(&PushRequest {
                device_id,
                sent_at: Utc::now(),
                sent_monotonic_ms: 0,
                events: batch,
                public_key: None,
            })
            .send()
            .await
            .map_err(|e| format!("push: {e}"))?;
        if !r.status().is_success() {
            return Err(format!("push: {}", r.status()));
        }
        let res: PushResponse = r.json().await.map_err(|e| format!("push: {e}"))?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        let accepted = res
            .results
            .iter()
            .filter(|r| r.status == PushStatus::Accepted)
            .count();
        {
            let mut s = stats.lock().unwrap();
            s.push_ms.push(ms);
            s.events_accepted += accepted;
            s.event_ids.extend(ids);
        }
        if accepted != res.results.len() {
            return Err(format!("push: not all accepted: {:?}", res.results));
        }
        think(args.think_ms).await;
    }

    for (p, bytes) in &photos {
        let enc = |s: &str| STANDARD.encode(s);
        let t = Instant::now();
        let r = http
            .post(format!("{base}/v1/uploads"))
            .bearer_auth(&token)
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", bytes.len().to_string())
            .header(
                "Upload-Metadata",
                format!(
                    "photo_id {},job_id {},sha256 {}",
                    enc(&p.photo_id.to_string()),
                    enc(&a.job.to_string()),
                    enc(&p.sha256)
                ),
            )
            .send()
            .await
            .map_err(|e| format!("tus create: {e}"))?;
        if r.status() != reqwest::StatusCode::CREATED {
            return Err(format!("tus create: {}", r.status()));
        }
        let location = r.headers()["location"].to_str().unwrap().to_string();
        let r = http
            .patch(format!("{base}{location}"))
            .bearer_auth(&token)
            .header("Tus-Resumable", "1.0.0")
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Offset", "0")
            .header(
                "Upload-Checksum",
                format!("sha256 {}", STANDARD.encode(Sha256::digest(bytes))),
            )
            .body(bytes.clone())
            .send()
            .await
            .map_err(|e| format!("tus patch: {e}"))?;
        if r.status() != reqwest::StatusCode::NO_CONTENT {
            return Err(format!("tus patch: {}", r.status()));
        }
        {
            let mut s = stats.lock().unwrap();
            s.upload_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            s.photos_done += 1;
            s.photos.push((p.photo_id, p.sha256.clone()));
        }
        think(args.think_ms).await;
    }
    pull(cursor).await?;
    Ok(())
}

/// What the database holds for the pushed events and photos.
#[derive(Debug, Default)]
struct Audit {
    events_expected: usize,
    events_lost: usize,
    events_duplicated: usize,
    feed_duplicated: usize,
    photos_expected: usize,
    photos_unlinked: usize,
    photos_duplicated: usize,
    blobs_missing: usize,
}

fn audit_counts(
    stats: &Stats,
    event_counts: HashMap<String, i64>,
    photo_rows: Vec<(String, Option<String>)>,
    feed_duplicated: usize,
    blobs: &HashSet<String>,
) -> Audit {
    let mut a = Audit {
        events_expected: stats.event_ids.len(),
        photos_expected: stats.photos.len(),
        feed_duplicated,
        ..Audit::default()
    };
    for id in &stats.event_ids {
        match event_counts.get(&id.to_string()) {
            None => a.events_lost += 1,
            Some(n) if *n > 1 => a.events_duplicated += 1,
            _ => {}
        }
    }
    let mut by_photo: HashMap<String, Vec<Option<String>>> = HashMap::new();
    for (id, blob) in photo_rows {
        by_photo.entry(id).or_default().push(blob);
    }
    for (id, sha) in &stats.photos {
        match by_photo.get(&id.to_string()).map(Vec::as_slice) {
            Some([Some(path)]) => {
                let expected = format!("blobs/{}/{}", &sha[..2], sha);
                if *path != expected || !blobs.contains(path) {
                    a.blobs_missing += 1;
                }
            }
            Some([None]) | None => a.photos_unlinked += 1,
            Some(_) => a.photos_duplicated += 1,
        }
    }
    a
}

async fn audit_sqlite(stats: &Stats, data_dir: &Path) -> Audit {
    let c = rusqlite::Connection::open(data_dir.join("fieldcore.sqlite")).unwrap();
    let mut counts = HashMap::new();
    let mut stmt = c
        .prepare("SELECT id, count(*) FROM events GROUP BY id")
        .unwrap();
    for row in stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .unwrap()
    {
        let (id, n) = row.unwrap();
        counts.insert(id, n);
    }
    let mut stmt = c.prepare("SELECT photo_id, blob_path FROM photos").unwrap();
    let photos = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let feed_dup: i64 = c
        .query_row(
            "SELECT count(*) FROM (SELECT 1 FROM feed GROUP BY technician_id, event_seq
             HAVING count(*) > 1)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let blobs = stored_blobs(data_dir, None).await;
    audit_counts(stats, counts, photos, feed_dup as usize, &blobs)
}

async fn audit_postgres(
    stats: &Stats,
    url: &str,
    data_dir: &Path,
    object_store: Option<&ObjectStore>,
) -> Audit {
    let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let counts = c
        .query("SELECT id::text, count(*) FROM events GROUP BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let photos = c
        .query("SELECT photo_id::text, blob_path FROM photos", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let feed_dup: i64 = c
        .query_one(
            "SELECT count(*) FROM (SELECT 1 FROM feed GROUP BY technician_id, event_seq
             HAVING count(*) > 1) d",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let blobs = stored_blobs(data_dir, object_store).await;
    audit_counts(stats, counts, photos, feed_dup as usize, &blobs)
}

async fn run(name: &str, args: &Args, bases: &[String]) -> (Stats, Duration) {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let t = Instant::now();
    let assignments = desk_setup(&http, bases, args.devices).await;
    println!(
        "[{name}] desk set up {} technicians, codes and jobs in {:.1} s",
        args.devices,
        t.elapsed().as_secs_f64()
    );
    let stats = Arc::new(Mutex::new(Stats::default()));
    let sem = Arc::new(Semaphore::new(args.concurrency));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for a in assignments {
        let (http, args, stats, sem) = (http.clone(), args.clone(), stats.clone(), sem.clone());
        tasks.push(tokio::spawn(async move {
            let _p = sem.acquire().await.unwrap();
            if let Err(e) = run_device(http, a, args, stats.clone()).await {
                stats.lock().unwrap().errors.push(e);
            }
        }));
    }
    for t in tasks {
        if let Err(e) = t.await {
            stats.lock().unwrap().errors.push(format!("task: {e}"));
        }
    }
    let wall = start.elapsed();
    let stats = Arc::try_unwrap(stats)
        .ok()
        .expect("all tasks done")
        .into_inner()
        .unwrap();
    (stats, wall)
}

/// Print the run's figures; its push p99 (ms) if every check passed.
fn report(
    name: &str,
    args: &Args,
    stats: &mut Stats,
    wall: Duration,
    audit: &Audit,
) -> Option<f64> {
    let secs = wall.as_secs_f64();
    println!(
        "[{name}] {} devices, concurrency {}, think {} ms, photos {} KB: {:.1} s",
        args.devices, args.concurrency, args.think_ms, args.photo_kb, secs
    );
    println!(
        "[{name}] events/s {:.0}  photos/s {:.1}  (accepted {} events, {} photos)",
        stats.events_accepted as f64 / secs,
        stats.photos_done as f64 / secs,
        stats.events_accepted,
        stats.photos_done
    );
    for (what, v) in [
        ("push", &mut stats.push_ms),
        ("pull", &mut stats.pull_ms),
        ("upload (create+PATCH)", &mut stats.upload_ms),
    ] {
        println!(
            "[{name}] {what} latency ms: p50 {:.1}  p95 {:.1}  p99 {:.1}  max {:.1}  (n={})",
            percentile(v, 50.0),
            percentile(v, 95.0),
            percentile(v, 99.0),
            percentile(v, 100.0),
            v.len()
        );
    }
    println!("[{name}] errors {}", stats.errors.len());
    let distinct: HashSet<&String> = stats.errors.iter().collect();
    for e in distinct.iter().take(5) {
        println!("[{name}]   e.g. {e}");
    }
    println!(
        "[{name}] database: events {} expected, {} lost, {} duplicated; feed rows duplicated {}; \
         photos {} expected, {} not linked, {} duplicated, {} blobs missing",
        audit.events_expected,
        audit.events_lost,
        audit.events_duplicated,
        audit.feed_duplicated,
        audit.photos_expected,
        audit.photos_unlinked,
        audit.photos_duplicated,
        audit.blobs_missing
    );
    let ok = stats.errors.is_empty()
        && audit.events_lost == 0
        && audit.events_duplicated == 0
        && audit.feed_duplicated == 0
        && audit.photos_unlinked == 0
        && audit.photos_duplicated == 0
        && audit.blobs_missing == 0
        && audit.events_expected == 20 * args.devices
        && audit.photos_expected == 2 * args.devices;
    println!("[{name}] {}", if ok { "OK" } else { "FAILED" });
    ok.then(|| percentile(&mut stats.push_ms, 99.0))
}

async fn sqlite_run(args: &Args, tmp: &Path) -> Option<f64> {
    let data = tmp.join("sqlite-data");
    let config = write_config(tmp, "sqlite", &data, None, None);
    create_dispatcher(&config);
    let server = spawn_server(&config, &tmp.join("sqlite.log")).await;
    let (mut stats, wall) = run("sqlite", args, std::slice::from_ref(&server.base)).await;
    drop(server);
    let audit = audit_sqlite(&stats, &data).await;
    report("sqlite, 1 process", args, &mut stats, wall, &audit)
}

async fn postgres_run(args: &Args, tmp: &Path, cluster: &str) -> Option<f64> {
    let name = format!("load_{}", Uuid::now_v7().simple());
    {
        let (c, conn) = tokio_postgres::connect(cluster, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        c.batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
    }
    let url = with_database(cluster, &name);
    // With object storage (scripts/with-s3) each process has a data directory of its own, as
    // on two machines; without, they share one.
    let object_store = object_store_from_env();
    let data = tmp.join("pg-data");
    let data_b = match object_store {
        Some(_) => tmp.join("pg-data-b"),
        None => data.clone(),
    };
    println!(
        "[postgres] photos in {}",
        object_store
            .as_ref()
            .map_or("the shared data directory".to_string(), |(u, _)| format!(
                "object storage ({u})"
            ))
    );
    let ca = write_config(tmp, "pg-a", &data, Some(&url), object_store.as_ref());
    let cb = write_config(tmp, "pg-b", &data_b, Some(&url), object_store.as_ref());
    create_dispatcher(&ca);
    // Both start together: the migration lock makes them take turns.
    let (la, lb) = (tmp.join("pg-a.log"), tmp.join("pg-b.log"));
    let (a, b) = tokio::join!(spawn_server(&ca, &la), spawn_server(&cb, &lb));
    let (mut stats, wall) = run("postgres", args, &[a.base.clone(), b.base.clone()]).await;
    drop((a, b));
    let audit = audit_postgres(&stats, &url, &data, object_store.as_ref()).await;
    report("postgres, 2 processes", args, &mut stats, wall, &audit)
}

fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let after = base.find("://").map_or(0, |i| i + 3);
    let end = base[after..].find('/').map_or(base.len(), |i| after + i);
    let q = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    format!("{}/{name}{q}", &base[..end])
}

#[tokio::main]
async fn main() {
    let args = args();
    let tmp = tempfile::tempdir().unwrap();
    println!(
        "load: {} cores, sync-server {BIN}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let mut ok = true;
    let mut sqlite_p99 = None;
    if args.only.as_deref() != Some("postgres") {
        sqlite_p99 = sqlite_run(&args, tmp.path()).await;
        ok &= sqlite_p99.is_some();
    }
    if args.only.as_deref() != Some("sqlite") {
        match std::env::var("FIELDCORE_TEST_DATABASE_URL") {
            Ok(cluster) if !cluster.is_empty() => {
                let pg_p99 = postgres_run(&args, tmp.path(), &cluster).await;
                ok &= pg_p99.is_some();
                // Both runs in one process, one after the other: the same machine, the same
                // noise. Target (issue 17): at most 2.0.
                if let (Some(pg), Some(lite)) = (pg_p99, sqlite_p99) {
                    println!("ratio pg_push_p99 {:.2}", pg / lite.max(0.001));
                }
            }
            _ => println!(
                "[postgres] SKIPPED: no FIELDCORE_TEST_DATABASE_URL (scripts/with-postgres)"
            ),
        }
    }
    if !ok {
        std::process::exit(1);
    }
}

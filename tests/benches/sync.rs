//! Sync over loopback against references measured in the same run.
//!
//! - `sync_push`: 10 000 events pushed by the device client (batched) / the same number of events
//!   sent as 10 000 single bare HTTP POSTs to the same server's push endpoint.
//! - `sync_push_floor`: the same timed sync / the work the server cannot avoid: the same 10 000
//!   events' rows (id, job, JSON body) inserted into a SQLite table on the same disk in as many
//!   `synchronous = FULL` transactions as the client sends batches (one per 200 events).
//! - `photo_upload`: a 50 MB photo set through tus by the device client / one plain HTTP PUT of
//!   the same bytes on the same loopback (an axum handler in this process that streams the body
//!   to a file in the server's data directory and fsyncs it, as the server does with uploads).
//!
//! Run: `cargo bench -p fieldcore-e2e --bench sync`

use std::time::Instant;

use chrono::{Duration, Utc};
use fieldcore::domain::{CallOutcome, EventBody, JobKind, PhotoCategory};
use fieldcore::photo::{PhotoSource, PipelineConfig};
use fieldcore::protocol::{PushRequest, PushResponse};
use fieldcore::store::Clock;
use fieldcore_e2e::{Device, Server, camera_jpeg};

const EVENTS: usize = 10_000;
/// Spread over many jobs, as on a real device: a job's view holds its calls, so 10 000 calls on
/// one job would measure JSON rewriting, not sync.
const JOBS: usize = 100;
const PHOTO_SET_BYTES: u64 = 50 * 1024 * 1024;

fn main() {
    let server = Server::start_with(|c| {
        c.rate_limit_per_second = 1e9;
        c.rate_limit_burst = 1e9;
    });
    let desk = server.desk("Bench");
    let tech = desk.technician("Bench Tech");
    let jobs: Vec<_> = (0..JOBS)
        .map(|_| desk.job(JobKind::Install, tech, Utc::now() + Duration::hours(20)))
        .collect();
    let phone = Device::new(&server.url());
    phone.enroll(&desk.code(tech));
    phone.sync().expect("first sync");
    for &job in &jobs {
        phone.act(job, EventBody::JobAccepted);
        phone.act(job, EventBody::CheckedIn { location: None });
    }
    phone.sync().expect("sync");

    sync_push(&server, &phone, &jobs);
    photo_upload(&server, &phone, jobs[0]);
}

fn call(n: usize) -> EventBody {
    EventBody::CustomerCallLogged {
        outcome: CallOutcome::Reached,
        note: format!("call {n}"),
    }
}

/// The job of the `n`th event: a job's events follow one another, as a technician works one job
/// and then the next. (Interleaving all 100 jobs in every batch, as this bench did until
/// 2026-12-07, makes each batch rewrite every job's view: docs/benchmarks.md.)
fn job_of(jobs: &[uuid::Uuid], n: usize) -> uuid::Uuid {
    jobs[n / (EVENTS / JOBS)]
}

fn sync_push(server: &Server, phone: &Device, jobs: &[uuid::Uuid]) {
    for n in 0..EVENTS {
        phone.act(job_of(jobs, n), call(n));
    }
    let client = phone.client();
    let pending = phone.store.pending_events(EVENTS).expect("pending");
    let phases = std::sync::Mutex::new((None, None));
    let start = Instant::now();
    let report = client
        .sync(&phone.store, &|p| {
            let mut ph = phases.lock().expect("phases");
            match p {
                fieldcore::sync::Progress::Pulling { .. } if ph.0.is_none() => {
                    ph.0 = Some(start.elapsed())
                }
                fieldcore::sync::Progress::Pulled { .. } => ph.1 = Some(start.elapsed()),
                _ => {}
            }
        })
        .expect("sync");
    let batched = start.elapsed();
    let (first_page, pulled) = phases.into_inner().expect("phases");
    let ms = |d: Option<std::time::Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3);
    println!(
        "sync_push phases_ms push+first_page {:.0} pull_done {:.0}",
        ms(first_page),
        ms(pulled)
    );
    assert_eq!(report.accepted as usize, EVENTS);
    let batches = EVENTS.div_ceil(fieldcore::sync::SyncConfig::new(server.url()).push_batch);
    let floor = insert_floor(&pending, batches);
    println!(
        "sync_push_floor events {EVENTS} client_batched_ms {:.0} sqlite_full_inserts_ms {:.0}",
        batched.as_secs_f64() * 1e3,
        floor.as_secs_f64() * 1e3
    );
    println!(
        "ratio sync_push_floor {:.2}",
        batched.as_secs_f64() / floor.as_secs_f64()
    );

    // The same number of fresh events, one POST each, over one keep-alive connection.
    let token = phone
        .store
        .sync_value("device_token")
        .expect("token")
        .expect("enrolled");
    let technician = phone
        .store
        .technician_id()
        .expect("tech")
        .expect("enrolled");
    let device_id = phone.store.device_id();
    let clock = fieldcore::store::SystemClock;
    let http = reqwest::blocking::Client::new();
    let url = format!("{}/v1/sync/push", server.url());
    let events: Vec<_> = (0..EVENTS)
        .map(|n| {
            let job = job_of(jobs, n);
            let mut e = fieldcore::fixtures::tech_event(job, technician, clock.now(), call(n));
            e.actor = fieldcore::domain::Actor::Technician {
                technician_id: technician,
                device_id,
            };
            e
        })
        .collect();
    let start = Instant::now();
    for e in events {
        let body = PushRequest {
            device_id,
            sent_at: clock.now(),
            sent_monotonic_ms: clock.monotonic_ms(),
            events: vec![e],
            public_key: None,
        };
        let r: PushResponse = http
            .post(&url)
            .bearer_auth(&token)
            .json(&body)
            .send()
            .expect("post")
            .json()
            .expect("json");
        assert_eq!(r.results.len(), 1);
    }
    let single = start.elapsed();
    println!(
        "sync_push events {EVENTS} client_batched_ms {:.0} single_posts_ms {:.0}",
        batched.as_secs_f64() * 1e3,
        single.as_secs_f64() * 1e3
    );
    println!(
        "ratio sync_push {:.3}",
        batched.as_secs_f64() / single.as_secs_f64()
    );
}

/// The same events' rows into a SQLite table (WAL, `synchronous = FULL`, on the target dir's
/// disk), `batches` transactions: the durable write a push cannot do without.
fn insert_floor(events: &[fieldcore::domain::Event], batches: usize) -> std::time::Duration {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let mut conn = rusqlite::Connection::open(dir.path().join("floor.db")).expect("open");
    let _: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .expect("wal");
    conn.pragma_update(None, "synchronous", "FULL")
        .expect("full");
    conn.execute_batch(
        "CREATE TABLE events (id TEXT PRIMARY KEY, job_id TEXT NOT NULL, body TEXT NOT NULL)",
    )
    .expect("table");
    let rows: Vec<(String, String, String)> = events
        .iter()
        .map(|e| {
            (
                e.id.to_string(),
                e.job_id.to_string(),
                serde_json::to_string(e).expect("json"),
            )
        })
        .collect();
    let per = rows.len().div_ceil(batches.max(1));
    let start = Instant::now();
    for chunk in rows.chunks(per) {
        let tx = conn.transaction().expect("begin");
        {
            let mut insert = tx
                .prepare_cached("INSERT INTO events (id, job_id, body) VALUES (?1, ?2, ?3)")
                .expect("prepare");
            for (id, job, body) in chunk {
                insert
                    .execute(rusqlite::params![id, job, body])
                    .expect("insert");
            }
        }
        tx.commit().expect("commit");
    }
    start.elapsed()
}

fn photo_upload(server: &Server, phone: &Device, job: uuid::Uuid) {
    // The reference of `sync_push` left 10 000 events on the server that this phone has not
    // pulled yet; take them now, so the timed sync below is the photos' upload, not a pull.
    phone.sync().expect("drain the feed");
    // Full-resolution, high-quality captures: big files, like an unscaled 12 MP photo.
    let config = PipelineConfig {
        long_edge: 4032,
        jpeg_quality: 95,
        ..PipelineConfig::default()
    };
    let mut total = 0u64;
    let mut files = Vec::new();
    let mut seed = 0;
    while total < PHOTO_SET_BYTES {
        seed += 1;
        let bytes = camera_jpeg(4032, 3024, seed);
        let c = phone
            .store
            .capture_photo(
                job,
                PhotoCategory::Completion,
                PhotoSource::Bytes(&bytes),
                None,
                &config,
            )
            .expect("capture");
        total += c.bytes;
        files.push(c.path);
    }
    // The device's own defaults: chunks start small and grow while the network holds.
    let client = fieldcore::sync::SyncClient::new(fieldcore::sync::SyncConfig::new(server.url()))
        .expect("client");
    let start = Instant::now();
    let report = client.sync(&phone.store, &|_| {}).expect("sync");
    let tus = start.elapsed();
    assert_eq!(report.bytes_uploaded, total);

    // The reference: one PUT of the same bytes, streamed to disk and fsynced.
    let set: Vec<u8> = files
        .iter()
        .flat_map(|p| std::fs::read(p).expect("photo"))
        .collect();
    let sink_dir = server.config.data_dir.join("bench-sink");
    std::fs::create_dir_all(&sink_dir).expect("dir");
    let addr = server.block_on(sink(sink_dir));
    let start = Instant::now();
    let res = reqwest::blocking::Client::new()
        .put(format!("http://{addr}/sink"))
        .body(set)
        .send()
        .expect("put");
    assert!(res.status().is_success());
    let put = start.elapsed();
    println!(
        "photo_upload photos {} bytes {total} chunk {}..{} tus_ms {:.0} plain_put_ms {:.0}",
        files.len(),
        client.config().chunk_size,
        client.config().max_chunk_size,
        tus.as_secs_f64() * 1e3,
        put.as_secs_f64() * 1e3
    );
    println!(
        "ratio photo_upload {:.2}",
        tus.as_secs_f64() / put.as_secs_f64()
    );
}

/// A plain PUT handler: stream the body to a file, fsync, answer 204.
async fn sink(dir: std::path::PathBuf) -> std::net::SocketAddr {
    use axum::body::Body;
    use axum::routing::put;
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;

    let app = axum::Router::new()
        .route(
            "/sink",
            put(move |body: Body| {
                let path = dir.join("upload.bin");
                async move {
                    let mut file = tokio::fs::File::create(&path).await.expect("create");
                    let mut stream = body.into_data_stream();
                    while let Some(chunk) = stream.next().await {
                        file.write_all(&chunk.expect("chunk")).await.expect("write");
                    }
                    file.sync_all().await.expect("fsync");
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        )
        .layer(axum::extract::DefaultBodyLimit::disable());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

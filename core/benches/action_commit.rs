//! One technician action's durable commit, against the floor SQLite itself sets.
//!
//! Reference, measured in the same run and the same directory: a bare one-row INSERT
//! transaction on a database with the same settings (WAL, `synchronous = FULL`). Also printed:
//! the same bare INSERT with `synchronous = NORMAL`, which is what FULL costs (ADR 0001).
//! Iterations alternate between the two so drift on a noisy machine hits both alike.
//!
//! Last line: `ratio action_commit <fieldcore median / bare median>`.

use std::time::{Duration, Instant};

use fieldcore::domain::{CallOutcome, EventBody, Rulebook};
use fieldcore::fixtures::{Desk, job_on_site};
use fieldcore::store::Store;
use rusqlite::{Connection, TransactionBehavior, params};
use uuid::Uuid;

const JOBS: usize = 30;
const ITERATIONS: usize = 600;

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn bare(path: &std::path::Path, synchronous: &str) -> Connection {
    let conn = Connection::open(path).expect("open");
    let _: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .expect("wal");
    conn.pragma_update(None, "synchronous", synchronous)
        .expect("sync");
    conn.execute_batch("CREATE TABLE t (id TEXT PRIMARY KEY, body TEXT NOT NULL)")
        .expect("table");
    conn
}

fn bare_insert(conn: &mut Connection, body: &str) -> Duration {
    let start = Instant::now();
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .expect("begin");
    tx.execute(
        "INSERT INTO t (id, body) VALUES (?1, ?2)",
        params![Uuid::now_v7().to_string(), body],
    )
    .expect("insert");
    tx.commit().expect("commit");
    start.elapsed()
}

fn main() {
    // Real disk, not tmpfs: the fsync is the point.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let store = Store::open(dir.path().join("device.db"), Rulebook::default()).expect("open");
    store.set_technician(Uuid::now_v7()).expect("enrol");
    let desk = Desk::default();
    let jobs: Vec<Uuid> = (0..JOBS).map(|_| job_on_site(&store, &desk)).collect();

    let mut full = bare(&dir.path().join("bare-full.db"), "FULL");
    let mut normal = bare(&dir.path().join("bare-normal.db"), "NORMAL");
    let body = serde_json::to_string(&EventBody::CustomerCallLogged {
        outcome: CallOutcome::Reached,
        note: "customer confirmed the visit".into(),
    })
    .expect("json");

    let (mut ours, mut refs, mut relaxed) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..ITERATIONS {
        let job = jobs[i % JOBS];
        let start = Instant::now();
        store
            .act(
                job,
                EventBody::CustomerCallLogged {
                    outcome: CallOutcome::Reached,
                    note: "customer confirmed the visit".into(),
                },
            )
            .expect("action");
        ours.push(start.elapsed());
        refs.push(bare_insert(&mut full, &body));
        relaxed.push(bare_insert(&mut normal, &body));
    }
    let (a, b, c) = (median(ours), median(refs), median(relaxed));
    println!("iterations {ITERATIONS} over {JOBS} jobs, WAL, synchronous=FULL");
    println!(
        "fieldcore_action_commit median_us {:.1}",
        a.as_secs_f64() * 1e6
    );
    println!("bare_insert_full median_us {:.1}", b.as_secs_f64() * 1e6);
    println!("bare_insert_normal median_us {:.1}", c.as_secs_f64() * 1e6);
    println!(
        "ratio full_vs_normal {:.2}",
        b.as_secs_f64() / c.as_secs_f64()
    );
    println!(
        "ratio action_commit {:.2}",
        a.as_secs_f64() / b.as_secs_f64()
    );
}

//! The schema and its migrations, keyed on `PRAGMA user_version`.
//!
//! A phone upgrades the app over a database full of unsynced work, so each step runs inside one
//! transaction with the version bump: a failed upgrade rolls back and leaves the data as it was.
//! A database newer than this code is refused, never rewritten or deleted.

use rusqlite::{Connection, Transaction, params};

use super::error::StoreError;
use crate::domain::sla::Policy;
use crate::migrate::Step;

/// Schema version this code writes.
pub const CURRENT_VERSION: u32 = 5;

/// Version 1: the first layout (device identity, jobs, the event log with its outbox, sync state).
pub const V1: &str = r#"
CREATE TABLE device (
    singleton     INTEGER PRIMARY KEY CHECK (singleton = 1),
    device_id     TEXT NOT NULL,
    technician_id TEXT,
    -- The last per-device sequence number handed out; bumped in the action's own transaction.
    last_seq      INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE jobs (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    status         TEXT NOT NULL,
    technician_id  TEXT,
    appointment_at TEXT,
    -- The job's view (JSON): a cache of the fold of its events, rewritten with every event.
    view           TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);

CREATE TABLE events (
    -- Log order on this device: the order the view was folded in.
    position     INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    job_id       TEXT NOT NULL REFERENCES jobs(id),
    origin       TEXT NOT NULL CHECK (origin IN ('local', 'remote')),
    kind         TEXT NOT NULL,
    device_seq   INTEGER UNIQUE,
    recorded_at  TEXT NOT NULL,
    monotonic_ms INTEGER,
    body         TEXT NOT NULL,
    -- The outbox: local events stay 'pending' until the server answers for them.
    push_state   TEXT NOT NULL
                 CHECK (push_state IN ('pending', 'accepted', 'duplicate', 'rejected', 'remote')),
    push_note    TEXT
);
CREATE INDEX events_by_job ON events(job_id, position);
CREATE INDEX events_pending ON events(device_seq) WHERE push_state = 'pending';

CREATE TABLE sync_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"#;

/// Version 2: photo records, and the local appointment day so "my jobs today" is an index seek.
pub const V2: &str = r#"
CREATE TABLE photos (
    id               TEXT PRIMARY KEY,
    job_id           TEXT NOT NULL REFERENCES jobs(id),
    event_id         TEXT REFERENCES events(id),
    category         TEXT NOT NULL,
    sha256           TEXT NOT NULL,
    captured_at      TEXT NOT NULL,
    monotonic_ms     INTEGER,
    lat              REAL,
    lon              REAL,
    accuracy_m       REAL,
    width            INTEGER NOT NULL,
    height           INTEGER NOT NULL,
    bytes            INTEGER NOT NULL,
    -- The stored file, relative to the photo directory (content-addressed).
    file_name        TEXT NOT NULL,
    processing_state TEXT NOT NULL DEFAULT 'stored',
    upload_state     TEXT NOT NULL DEFAULT 'pending'
                     CHECK (upload_state IN ('pending', 'uploading', 'uploaded')),
    upload_url       TEXT,
    uploaded_at      TEXT,
    pruned_at        TEXT
);
CREATE INDEX photos_by_job ON photos(job_id);
CREATE INDEX photos_to_upload ON photos(captured_at) WHERE upload_state != 'uploaded';

ALTER TABLE jobs ADD COLUMN appointment_day TEXT;
CREATE INDEX jobs_by_day ON jobs(technician_id, appointment_day);
CREATE INDEX jobs_by_status ON jobs(technician_id, status);
"#;

/// Version 3: the server's order (ADR 0007). `confirmed_seq` places an event the server has
/// confirmed (pulled from its log, our own echoed back included) in the server's order; a job's
/// view is that log replayed, with this device's unconfirmed events re-applied on top.
/// `conflict` holds the rulebook's objection (a `Refusal` as JSON) to a pending event that no
/// longer fits on top of the server's log, shown at once, before the server answers.
/// `confirmed_seq` is the server's log sequence; events confirmed before this version keep the
/// order they were applied in (negative numbers) until the first pull after the upgrade, which
/// starts over and gives each the server's copy and sequence.
pub const V3: &str = r#"
ALTER TABLE events ADD COLUMN confirmed_seq INTEGER;
ALTER TABLE events ADD COLUMN conflict TEXT;
UPDATE events SET confirmed_seq = position - 1000000000000
 WHERE push_state IN ('remote', 'accepted', 'duplicate');
CREATE INDEX events_confirmed ON events(job_id, confirmed_seq);
-- Pull everything again once: the server's copies (its corrected times) and its sequence
-- replace what was kept before this version.
DELETE FROM sync_state WHERE key = 'pull_cursor';
"#;

/// The job list asks, for every listing, which jobs this device worked on (`origin = 'local'`):
/// without an index that read every event, 17 ms of a 20 ms start-up budget on a phone holding
/// 50 000 events (`benches/startup.rs`). The partial index holds only this device's own events.
///
/// `stale_jobs`: jobs whose events a pull page changed and whose view is rebuilt once, after the
/// pull's last page, instead of after every page (a 10 000-event echo in 20 pages rebuilt each
/// job 20 times, replaying its growing log each time). Written in the page's transaction, so a
/// crash between pages leaves the mark, and the next open (or the next read of any view) rebuilds.
pub const V4: &str = r#"
CREATE INDEX events_local ON events(job_id) WHERE origin = 'local';
CREATE TABLE stale_jobs (job_id TEXT PRIMARY KEY REFERENCES jobs(id)) WITHOUT ROWID;
"#;

/// The evidence chain (ADR 0016): the device's Ed25519 key (PKCS#8; made on first use) and the
/// link its last recorded event left, which the next one signs after.
pub const V5: &str = r#"
ALTER TABLE device ADD COLUMN signing_key BLOB;
ALTER TABLE device ADD COLUMN chain_head TEXT;
"#;

/// Settings that cannot be changed inside a transaction, run on every open.
pub fn setup_pragmas(conn: &Connection) -> Result<(), StoreError> {
    // WAL: readers never block the writer, and a commit is one append + fsync of the log.
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Corrupt(format!(
            "could not switch to WAL (got {mode})"
        )));
    }
    // FULL: a commit is on disk before the action returns (docs/adr/0001-durable-commits.md).
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(())
}

/// Bring the database to [`CURRENT_VERSION`], one transaction per step (the runner the server
/// shares, `crate::migrate`).
pub fn migrate(conn: &mut Connection, policy: &Policy) -> Result<(), StoreError> {
    let backfill = |tx: &Transaction<'_>| upgrade_to_2(tx, policy);
    let steps = [
        Step::sql(V1),
        Step {
            sql: V2,
            then: Some(&backfill),
        },
        Step::sql(V3),
        Step::sql(V4),
        Step::sql(V5),
    ];
    debug_assert_eq!(steps.len() as u32, CURRENT_VERSION);
    crate::migrate::migrate(conn, &steps, |found, supported| StoreError::NewerSchema {
        found,
        supported,
    })
}

/// After V2's SQL: the day of every booked visit, in the organisation's local time.
fn upgrade_to_2(tx: &Transaction<'_>, policy: &Policy) -> Result<(), StoreError> {
    let rows: Vec<(String, String)> = {
        let mut stmt =
            tx.prepare("SELECT id, appointment_at FROM jobs WHERE appointment_at IS NOT NULL")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?
    };
    for (id, at) in rows {
        let at: chrono::DateTime<chrono::Utc> = at
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("job {id}: appointment time {at:?}: {e}")))?;
        let day = policy.calendar.local_date(at).to_string();
        tx.execute(
            "UPDATE jobs SET appointment_day = ?1 WHERE id = ?2",
            params![day, id],
        )?;
    }
    Ok(())
}

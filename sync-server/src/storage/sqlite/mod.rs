//! The embedded storage: one SQLite file in WAL mode with `synchronous=FULL` (a committed push
//! survives a power cut), driven from `spawn_blocking` so the async runtime never waits on disk.
//!
//! One writer connection behind a mutex serialises writes inside the process; every write
//! transaction is `BEGIN IMMEDIATE`, so several processes on one file serialise too. Reads use a
//! small pool of reader connections, which WAL lets run beside the writer.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use fieldcore::domain::{ChecklistTemplate, Event, JobNumber, JobView, Lang, Policy, Rulebook};
use fieldcore::protocol::PushResult;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use uuid::Uuid;

use super::UploadLeases;
use super::leases::MemoryLeases;
use super::{
    CommitGate, Device, DeviceIdentity, Dispatcher, FeedPage, IDEMPOTENCY_KEEP_HOURS,
    IdempotencyBegin, Incoming, JobDetail, JobFilter, JobRow, Organisation, Photo, PhotoAccess,
    Rejection, Result, Storage, StorageError, StoredResponse, Technician, TimelineEntry, Upload,
    WEBHOOK_LOG_KEEP_DAYS, Writer, read_each, run_gated,
};
use crate::ingest::Batch;
use crate::webhooks::{Attempt, DeliveryLog, DueDelivery, Endpoint};
use fieldcore::migrate::{Hook, Step};

mod push;

/// Schema steps, in order; `PRAGMA user_version` says how many ran (`fieldcore::migrate`, the
/// runner the device store uses too).
const SCHEMA: [&str; 7] = [
    include_str!("schema_v1.sql"),
    include_str!("schema_v2.sql"),
    include_str!("schema_v3.sql"),
    include_str!("schema_v4.sql"),
    include_str!("schema_v5.sql"),
    include_str!("schema_v6.sql"),
    include_str!("schema_v7.sql"),
];
const MAX_IDLE_READERS: usize = 4;

#[derive(Debug, Clone)]
pub struct SqliteStorage {
    inner: Arc<Inner>,
    /// How long a push waits for the single writer before it is abandoned (never committed)
    /// and answered 503: see [`CommitGate`].
    write_deadline: Duration,
    /// Tests only: batches hold their transaction this long before committing.
    commit_delay: CommitDelay,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// tus PATCH leases: in memory, a SQLite deployment being one process (see
    /// [`super::leases`]).
    leases: MemoryLeases,
}

fn open_connection(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // WAL must be set outside any transaction; it sticks to the file.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// Bring the file to the last step. A database newer than this build is refused, never
/// touched.
fn migrate(conn: &mut Connection) -> Result<()> {
    let rebuild = |tx: &rusqlite::Transaction<'_>| rebuild_views(tx);
    let steps: Vec<Step<'_, StorageError>> = SCHEMA
        .iter()
        .enumerate()
        .map(|(i, sql)| Step {
            sql,
            then: (i + 1 == super::VIEWS_REBUILT_AT).then_some(&rebuild as Hook<'_, _>),
        })
        .collect();
    fieldcore::migrate::migrate(conn, &steps, |found, known| StorageError::TooNew {
        found: found.into(),
        known: known.into(),
    })
}

/// Every job's view folded again from its log, in the server's order, with today's rules: a
/// view cached by an older build (before the conflict policy of ADR 0007) must equal what a
/// phone replaying the same log computes.
fn rebuild_views(tx: &Connection) -> Result<()> {
    let mut rulebooks = HashMap::new();
    {
        let mut stmt = tx.prepare("SELECT id, policy_json, checklist_json FROM organisations")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for (id, policy, checklist) in rows {
            rulebooks.insert(
                id,
                Rulebook::new(from_json(&policy)?, from_json(&checklist)?),
            );
        }
    }
    let jobs: Vec<(String, String)> = {
        let mut stmt = tx.prepare("SELECT id, org_id FROM jobs")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?
    };
    let mut stmt = tx.prepare("SELECT event_json FROM events WHERE job_id = ?1 ORDER BY seq")?;
    for (job, org) in jobs {
        let Some(rulebook) = rulebooks.get(&org) else {
            continue;
        };
        let events: Vec<Event> = stmt
            .query_map([&job], |r| r.get::<_, String>(0))?
            .filter_map(|j| j.ok().and_then(|j| serde_json::from_str(&j).ok()))
            .collect();
        let Some(view) = rulebook.replay(&events) else {
            continue;
        };
        tx.execute(
            "UPDATE jobs SET view_json = ?2, status = ?3, technician_id = ?4 WHERE id = ?1",
            params![
                job,
                to_json(&view)?,
                view.status().as_str(),
                view.technician_id.map(|t| t.to_string())
            ],
        )?;
    }
    Ok(())
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_ts(s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StorageError::Corrupt(format!("time {s:?}: {e}")))
}

fn parse_opt_ts(s: Option<String>) -> Result<Option<DateTime<Utc>>> {
    s.as_deref().map(parse_ts).transpose()
}

fn parse_uuid(s: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|e| StorageError::Corrupt(format!("uuid {s:?}: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StorageError::Corrupt(format!("json: {e}")))
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StorageError::Corrupt(format!("json: {e}")))
}

impl SqliteStorage {
    /// Open (creating if needed) and migrate the database file.
    pub fn open(path: &Path) -> Result<Self> {
        let mut writer = open_connection(path)?;
        migrate(&mut writer)?;
        Ok(SqliteStorage {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
                leases: MemoryLeases::default(),
            }),
            write_deadline: Duration::from_secs(20),
            commit_delay: CommitDelay::default(),
        })
    }

    /// How long a batch of events may wait for the writer and run before it is abandoned.
    pub fn with_write_deadline(mut self, deadline: Duration) -> Self {
        self.write_deadline = deadline;
        self
    }

    /// For tests (`Config::test_feed_commit_delay`).
    pub fn with_commit_delay(mut self, delay: CommitDelay) -> Self {
        self.commit_delay = delay;
        self
    }

    async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = inner.writer.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut conn)
        })
        .await
        .map_err(|e| StorageError::Join(e.to_string()))?
    }

    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = inner
                .readers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop();
            let conn = match pooled {
                Some(c) => c,
                None => open_connection(&inner.path)?,
            };
            let out = f(&conn);
            let mut idle = inner.readers.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < MAX_IDLE_READERS {
                idle.push(conn);
            }
            out
        })
        .await
        .map_err(|e| StorageError::Join(e.to_string()))?
    }
}

fn dispatcher_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<[String; 5]> {
    Ok([
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
    ])
}

fn dispatcher_from_cols(c: [String; 5]) -> Result<Dispatcher> {
    let [id, org, email, name, hash] = c;
    Ok(Dispatcher {
        id: parse_uuid(&id)?,
        organisation_id: parse_uuid(&org)?,
        email,
        name,
        password_hash: hash,
    })
}

const DISPATCHER_COLS: &str = "d.id, d.org_id, d.email, d.name, d.password_hash";

fn technician_from_cols(c: [String; 5]) -> Result<Technician> {
    let [id, org, name, phone, created] = c;
    Ok(Technician {
        id: parse_uuid(&id)?,
        organisation_id: parse_uuid(&org)?,
        name,
        phone,
        created_at: parse_ts(&created)?,
    })
}

fn load_job(tx: &Connection, org: Uuid, job_id: Uuid) -> Result<Option<JobView>> {
    let json: Option<String> = tx
        .query_row(
            "SELECT view_json FROM jobs WHERE id = ?1 AND org_id = ?2",
            params![job_id.to_string(), org.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    json.as_deref().map(from_json).transpose()
}

/// Test-only: how long a batch holds its transaction open before committing.
type CommitDelay = crate::config::TestDelay;

fn photo_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<PhotoCols> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
    ))
}

type PhotoCols = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

const PHOTO_COLS: &str = "photo_id, job_id, org_id, category, sha256, blob_path, content_type";

fn photo_from_cols(c: PhotoCols) -> Result<Photo> {
    let (photo_id, job_id, org, category, sha256, blob_path, content_type) = c;
    Ok(Photo {
        photo_id: parse_uuid(&photo_id)?,
        job_id: parse_uuid(&job_id)?,
        organisation_id: parse_uuid(&org)?,
        category,
        sha256,
        blob_path,
        content_type,
    })
}

type UploadCols = (
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    Option<String>,
    String,
    Option<Vec<u8>>,
    bool,
);

fn upload_from_cols(c: UploadCols) -> Result<Upload> {
    let (
        id,
        org,
        tech,
        photo,
        job,
        sha256,
        length,
        offset,
        metadata,
        expires,
        hash_state,
        completed,
    ) = c;
    Ok(Upload {
        id: parse_uuid(&id)?,
        organisation_id: parse_uuid(&org)?,
        technician_id: parse_uuid(&tech)?,
        photo_id: parse_uuid(&photo)?,
        job_id: parse_uuid(&job)?,
        sha256,
        length: length as u64,
        offset: offset as u64,
        metadata,
        expires_at: parse_ts(&expires)?,
        hash_state,
        completed,
    })
}

#[async_trait]
impl Storage for SqliteStorage {
    async fn health(&self) -> Result<()> {
        self.read(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
            .await
            .map(|_| ())
    }

    async fn create_dispatcher(
        &self,
        org_name: &str,
        email: &str,
        name: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(Uuid, Uuid)> {
        let (org_name, email, name, hash) = (
            org_name.to_string(),
            email.to_string(),
            name.to_string(),
            password_hash.to_string(),
        );
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let now = ts(now);
            let existing: Option<String> = tx
                .query_row(
                    "SELECT id FROM organisations WHERE name = ?1",
                    [&org_name],
                    |r| r.get(0),
                )
                .optional()?;
            let org = match existing {
                Some(id) => parse_uuid(&id)?,
                None => {
                    let id = Uuid::now_v7();
                    tx.execute(
                        "INSERT INTO organisations (id, name, policy_json, checklist_json,
                             created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![
                            id.to_string(),
                            org_name,
                            to_json(&Policy::default())?,
                            to_json(&ChecklistTemplate::default_template())?,
                            now,
                        ],
                    )?;
                    id
                }
            };
            let taken: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM dispatchers WHERE email = ?1)",
                [&email],
                |r| r.get(0),
            )?;
            if taken {
                return Err(StorageError::Conflict(format!("dispatcher {email}")));
            }
            let id = Uuid::now_v7();
            tx.execute(
                "INSERT INTO dispatchers (id, org_id, email, name, password_hash, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id.to_string(), org.to_string(), email, name, hash, now],
            )?;
            tx.commit()?;
            Ok((org, id))
        })
        .await
    }

    async fn dispatcher_count(&self) -> Result<u64> {
        self.read(|c| {
            Ok(c.query_row("SELECT COUNT(*) FROM dispatchers", [], |r| {
                r.get::<_, i64>(0)
            })? as u64)
        })
        .await
    }

    async fn dispatcher_by_email(&self, email: &str) -> Result<Option<Dispatcher>> {
        let email = email.to_string();
        self.read(move |c| {
            c.query_row(
                &format!("SELECT {DISPATCHER_COLS} FROM dispatchers d WHERE d.email = ?1"),
                [email],
                dispatcher_from_row,
            )
            .optional()?
            .map(dispatcher_from_cols)
            .transpose()
        })
        .await
    }

    async fn organisation(&self, id: Uuid) -> Result<Option<Organisation>> {
        self.read(move |c| {
            let row: Option<(String, String, String)> = c
                .query_row(
                    "SELECT name, policy_json, checklist_json FROM organisations WHERE id = ?1",
                    [id.to_string()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            row.map(|(name, policy, checklist)| {
                Ok(Organisation {
                    id,
                    name,
                    policy: from_json(&policy)?,
                    checklist: from_json(&checklist)?,
                })
            })
            .transpose()
        })
        .await
    }

    async fn create_session(
        &self,
        token_hash: &str,
        dispatcher_id: Uuid,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let token_hash = token_hash.to_string();
        self.write(move |c| {
            c.execute(
                "INSERT INTO sessions (token_hash, dispatcher_id, expires_at, created_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    token_hash,
                    dispatcher_id.to_string(),
                    ts(expires_at),
                    ts(now)
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn session(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<Dispatcher>> {
        let token_hash = token_hash.to_string();
        self.read(move |c| {
            c.query_row(
                &format!(
                    "SELECT {DISPATCHER_COLS} FROM sessions s JOIN dispatchers d
                     ON d.id = s.dispatcher_id WHERE s.token_hash = ?1 AND s.expires_at > ?2"
                ),
                params![token_hash, ts(now)],
                dispatcher_from_row,
            )
            .optional()?
            .map(dispatcher_from_cols)
            .transpose()
        })
        .await
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        let token_hash = token_hash.to_string();
        self.write(move |c| {
            c.execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash])?;
            Ok(())
        })
        .await
    }

    async fn create_technician(
        &self,
        org: Uuid,
        name: &str,
        phone: &str,
        now: DateTime<Utc>,
    ) -> Result<Technician> {
        let t = Technician {
            id: Uuid::now_v7(),
            organisation_id: org,
            name: name.to_string(),
            phone: phone.to_string(),
            created_at: now,
        };
        let out = t.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO technicians (id, org_id, name, phone, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    t.id.to_string(),
                    org.to_string(),
                    t.name,
                    t.phone,
                    ts(t.created_at)
                ],
            )?;
            Ok(())
        })
        .await?;
        Ok(out)
    }

    async fn technicians(&self, org: Uuid) -> Result<Vec<Technician>> {
        self.read(move |c| {
            let mut stmt = c.prepare(
                "SELECT id, org_id, name, phone, created_at FROM technicians
                 WHERE org_id = ?1 ORDER BY name, id",
            )?;
            let rows = stmt
                .query_map([org.to_string()], |r| {
                    Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?])
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter().map(technician_from_cols).collect()
        })
        .await
    }

    async fn technician(&self, org: Uuid, id: Uuid) -> Result<Option<Technician>> {
        self.read(move |c| {
            c.query_row(
                "SELECT id, org_id, name, phone, created_at FROM technicians
                 WHERE org_id = ?1 AND id = ?2",
                params![org.to_string(), id.to_string()],
                |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?]),
            )
            .optional()?
            .map(technician_from_cols)
            .transpose()
        })
        .await
    }

    async fn create_enrolment_code(
        &self,
        org: Uuid,
        technician_id: Uuid,
        code_hash: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let code_hash = code_hash.to_string();
        self.write(move |c| {
            c.execute(
                "INSERT INTO enrolment_codes (code_hash, org_id, technician_id, expires_at,
                     created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    code_hash,
                    org.to_string(),
                    technician_id.to_string(),
                    ts(expires_at),
                    ts(now)
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn enroll_device(
        &self,
        code_hash: &str,
        now: DateTime<Utc>,
        device_id: Uuid,
        device_name: &str,
        token_hash: &str,
    ) -> Result<Option<DeviceIdentity>> {
        let (code_hash, device_name, token_hash) = (
            code_hash.to_string(),
            device_name.to_string(),
            token_hash.to_string(),
        );
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let row: Option<(String, String)> = tx
                .query_row(
                    "SELECT org_id, technician_id FROM enrolment_codes
                     WHERE code_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
                    params![code_hash, ts(now)],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((org, technician)) = row else {
                return Ok(None);
            };
            tx.execute(
                "UPDATE enrolment_codes SET used_at = ?2 WHERE code_hash = ?1",
                params![code_hash, ts(now)],
            )?;
            // A device enrolling again (reinstalled app, new code from the desk) gets a new
            // token; the old one stops working. A device id that exists for another technician
            // or organisation is never taken over (ADR 0006): nothing changes, the code stays
            // unused.
            let changed = tx.execute(
                "INSERT INTO devices (id, org_id, technician_id, name, token_hash, enrolled_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(id) DO UPDATE SET org_id = excluded.org_id,
                     technician_id = excluded.technician_id, name = excluded.name,
                     token_hash = excluded.token_hash, enrolled_at = excluded.enrolled_at,
                     revoked_at = NULL
                 WHERE devices.org_id = excluded.org_id
                     AND devices.technician_id = excluded.technician_id",
                params![
                    device_id.to_string(),
                    org,
                    technician,
                    device_name,
                    token_hash,
                    ts(now)
                ],
            )?;
            if changed == 0 {
                return Err(StorageError::DeviceTaken);
            }
            tx.commit()?;
            Ok(Some(DeviceIdentity {
                device_id,
                technician_id: parse_uuid(&technician)?,
                organisation_id: parse_uuid(&org)?,
            }))
        })
        .await
    }

    async fn device_by_token(&self, token_hash: &str) -> Result<Option<DeviceIdentity>> {
        let token_hash = token_hash.to_string();
        self.read(move |c| {
            let row: Option<(String, String, String)> = c
                .query_row(
                    "SELECT id, technician_id, org_id FROM devices
                     WHERE token_hash = ?1 AND revoked_at IS NULL",
                    [token_hash],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            row.map(|(d, t, o)| {
                Ok(DeviceIdentity {
                    device_id: parse_uuid(&d)?,
                    technician_id: parse_uuid(&t)?,
                    organisation_id: parse_uuid(&o)?,
                })
            })
            .transpose()
        })
        .await
    }

    async fn devices(&self, org: Uuid) -> Result<Vec<Device>> {
        self.read(move |c| {
            let mut stmt = c.prepare(
                "SELECT id, technician_id, name, enrolled_at, revoked_at, last_seen_at
                 FROM devices WHERE org_id = ?1 ORDER BY enrolled_at, id",
            )?;
            type Cols = (
                String,
                String,
                String,
                String,
                Option<String>,
                Option<String>,
            );
            let rows = stmt
                .query_map([org.to_string()], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<Cols>>>()?;
            rows.into_iter()
                .map(|(id, t, name, enrolled, revoked, seen)| {
                    Ok(Device {
                        id: parse_uuid(&id)?,
                        technician_id: parse_uuid(&t)?,
                        name,
                        enrolled_at: parse_ts(&enrolled)?,
                        revoked_at: parse_opt_ts(revoked)?,
                        last_seen_at: parse_opt_ts(seen)?,
                    })
                })
                .collect()
        })
        .await
    }

    async fn next_job_number(&self, org: Uuid) -> Result<JobNumber> {
        self.write(move |c| {
            let n: i64 = c.query_row(
                "UPDATE organisations SET next_job_number = next_job_number + 1
                 WHERE id = ?1 RETURNING next_job_number - 1",
                [org.to_string()],
                |r| r.get(0),
            )?;
            u32::try_from(n)
                .map(JobNumber)
                .map_err(|_| StorageError::Corrupt(format!("job number {n} out of range")))
        })
        .await
    }

    async fn revoke_device(&self, org: Uuid, device_id: Uuid, now: DateTime<Utc>) -> Result<bool> {
        self.write(move |c| {
            let n = c.execute(
                "UPDATE devices SET revoked_at = COALESCE(revoked_at, ?3)
                 WHERE id = ?1 AND org_id = ?2",
                params![device_id.to_string(), org.to_string(), ts(now)],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn append_events(
        &self,
        org: Uuid,
        writer: Writer,
        rulebook: Rulebook,
        events: Vec<Incoming>,
        received_at: DateTime<Utc>,
        lang: Lang,
    ) -> Result<Vec<PushResult>> {
        let gate = CommitGate::default();
        let (inner, g, hold) = (self.inner.clone(), gate.clone(), self.commit_delay.clone());
        let asked = std::time::Instant::now();
        let work = tokio::task::spawn_blocking(move || {
            let mut conn = inner.writer.lock().unwrap_or_else(|p| p.into_inner());
            crate::metrics::observe_write_queue(asked.elapsed());
            let batch = Batch {
                org,
                writer,
                rulebook: &rulebook,
                events: &events,
                lang,
            };
            push::append_tx(&mut conn, batch, received_at, &g, hold)
        });
        run_gated(self.write_deadline, gate, work).await
    }

    async fn feed(&self, technician_id: Uuid, after: i64, limit: usize) -> Result<FeedPage> {
        self.read(move |c| {
            let mut stmt = c.prepare(
                "SELECT f.pos, e.event_json, e.seq FROM feed f JOIN events e ON e.seq = f.event_seq
                 WHERE f.technician_id = ?1 AND f.pos > ?2 ORDER BY f.pos LIMIT ?3",
            )?;
            let rows = stmt
                .query_map(
                    params![technician_id.to_string(), after, (limit + 1) as i64],
                    |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, i64>(2)?,
                        ))
                    },
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let has_more = rows.len() > limit;
            let mut last_position = after;
            let mut events = Vec::with_capacity(limit.min(rows.len()));
            let mut seqs = Vec::with_capacity(events.capacity());
            for (pos, json, seq) in rows.into_iter().take(limit) {
                last_position = pos;
                events.push(from_json(&json)?);
                seqs.push(seq);
            }
            Ok(FeedPage {
                events,
                seqs,
                last_position,
                has_more,
            })
        })
        .await
    }

    async fn jobs(&self, org: Uuid, filter: JobFilter) -> Result<Vec<JobRow>> {
        self.read(move |c| {
            let mut stmt = c.prepare(
                "SELECT view_json, updated_at FROM jobs WHERE org_id = ?1
                   AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR technician_id = ?3)
                 ORDER BY created_at DESC, id",
            )?;
            let rows = stmt
                .query_map(
                    params![
                        org.to_string(),
                        filter.status,
                        filter.technician_id.map(|t| t.to_string())
                    ],
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter()
                .map(|(view, updated)| {
                    Ok(JobRow {
                        view: from_json(&view)?,
                        updated_at: parse_ts(&updated)?,
                    })
                })
                .collect()
        })
        .await
    }

    async fn device_chain(
        &self,
        org: Uuid,
        device: Uuid,
        from: i64,
        to: i64,
    ) -> Result<(Option<String>, Vec<Event>)> {
        self.read(move |c| {
            let (org, device) = (org.to_string(), device.to_string());
            let key = c
                .query_row(
                    "SELECT public_key FROM devices WHERE id = ?1 AND org_id = ?2",
                    params![device, org],
                    |r| r.get::<_, Option<String>>(0),
                )
                .optional()?
                .flatten();
            // The expressions of the `*_device_seq` indexes (schema v7).
            // Stored events first: one refused and later accepted is the stored one.
            let mut stmt = c.prepare(
                "SELECT event_json FROM events
                  WHERE device_id = ?1 AND device_seq BETWEEN ?2 AND ?3 AND org_id = ?4
                 UNION ALL
                 SELECT event_json FROM rejections
                  WHERE device_id = ?1 AND device_seq BETWEEN ?2 AND ?3 AND org_id = ?4",
            )?;
            let rows = stmt
                .query_map(params![device, from, to, org], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((key, super::in_device_order(rows.iter().map(String::as_str))))
        })
        .await
    }

    async fn job(&self, org: Uuid, id: Uuid) -> Result<Option<JobDetail>> {
        self.read(move |c| {
            let Some(view) = load_job(c, org, id)? else {
                return Ok(None);
            };
            let (job, org_s) = (id.to_string(), org.to_string());
            let mut unreadable = Vec::new();
            let mut stmt = c.prepare(
                "SELECT event_json, server_received_at, corrected_at, flags_json, id FROM events
                 WHERE job_id = ?1 AND org_id = ?2 ORDER BY seq",
            )?;
            let rows = stmt
                .query_map(params![job, org_s], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let timeline = read_each(
                rows,
                "event",
                |r| r.4.clone(),
                |(e, rec, cor, flags, _)| {
                    Ok(TimelineEntry {
                        event: from_json(&e)?,
                        server_received_at: parse_ts(&rec)?,
                        corrected_at: parse_ts(&cor)?,
                        flags: from_json(&flags)?,
                    })
                },
                &mut unreadable,
            );
            let mut stmt = c.prepare(&format!(
                "SELECT {PHOTO_COLS} FROM photos WHERE job_id = ?1 AND org_id = ?2
                 ORDER BY rowid"
            ))?;
            let photos = stmt
                .query_map(params![job, org_s], photo_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?
                .into_iter()
                .map(photo_from_cols)
                .collect::<Result<Vec<_>>>()?;
            let mut stmt = c.prepare(
                "SELECT event_json, rule, message, received_at, event_id FROM rejections
                 WHERE job_id = ?1 AND org_id = ?2 ORDER BY received_at, event_id",
            )?;
            let rows = stmt
                .query_map(params![job, org_s], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let rejections = read_each(
                rows,
                "rejection",
                |r| r.4.clone(),
                |(e, rule, message, at, _)| {
                    Ok(Rejection {
                        event: from_json(&e)?,
                        rule,
                        message,
                        received_at: parse_ts(&at)?,
                    })
                },
                &mut unreadable,
            );
            Ok(Some(JobDetail {
                view,
                timeline,
                photos,
                rejections,
                unreadable,
            }))
        })
        .await
    }

    async fn photo(&self, org: Uuid, photo_id: Uuid) -> Result<Option<Photo>> {
        self.read(move |c| {
            c.query_row(
                &format!("SELECT {PHOTO_COLS} FROM photos WHERE photo_id = ?1 AND org_id = ?2"),
                params![photo_id.to_string(), org.to_string()],
                photo_from_row,
            )
            .optional()?
            .map(photo_from_cols)
            .transpose()
        })
        .await
    }

    async fn photo_access(
        &self,
        who: DeviceIdentity,
        photo_id: Uuid,
        job_id: Uuid,
        sha256: &str,
    ) -> Result<PhotoAccess> {
        let sha256 = sha256.to_ascii_lowercase();
        self.read(move |c| {
            let row: Option<(String, String, Option<String>)> = c
                .query_row(
                    "SELECT p.job_id, p.sha256, j.technician_id FROM photos p
                     JOIN jobs j ON j.id = p.job_id
                     WHERE p.photo_id = ?1 AND p.org_id = ?2",
                    params![photo_id.to_string(), who.organisation_id.to_string()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((job, sha, technician)) = row else {
                return Ok(PhotoAccess::NoRecord);
            };
            if job != job_id.to_string() || sha != sha256 {
                return Ok(PhotoAccess::NoRecord);
            }
            if technician != Some(who.technician_id.to_string()) {
                return Ok(PhotoAccess::NotYours);
            }
            Ok(PhotoAccess::Allowed)
        })
        .await
    }

    async fn create_upload(&self, upload: &Upload, now: DateTime<Utc>) -> Result<()> {
        let u = upload.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO uploads (id, org_id, technician_id, photo_id, job_id, sha256, length,
                     offset_bytes, metadata, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    u.id.to_string(),
                    u.organisation_id.to_string(),
                    u.technician_id.to_string(),
                    u.photo_id.to_string(),
                    u.job_id.to_string(),
                    u.sha256,
                    u.length as i64,
                    u.offset as i64,
                    u.metadata,
                    ts(now),
                    ts(u.expires_at),
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn open_uploads(
        &self,
        technician_id: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<(u64, u64)> {
        self.read(move |c| {
            let (n, bytes): (i64, i64) = c.query_row(
                "SELECT COUNT(*), COALESCE(SUM(length), 0) FROM uploads
                 WHERE (?1 IS NULL OR technician_id = ?1) AND completed_at IS NULL
                   AND expires_at > ?2",
                params![technician_id.map(|t| t.to_string()), ts(now)],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Ok((n.max(0) as u64, bytes.max(0) as u64))
        })
        .await
    }

    async fn upload(&self, technician_id: Uuid, id: Uuid) -> Result<Option<Upload>> {
        self.read(move |c| {
            c.query_row(
                "SELECT id, org_id, technician_id, photo_id, job_id, sha256, length, offset_bytes,
                     metadata, expires_at, hash_state, completed_at IS NOT NULL
                 FROM uploads WHERE id = ?1 AND technician_id = ?2",
                params![id.to_string(), technician_id.to_string()],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                        r.get(9)?,
                        r.get(10)?,
                        r.get(11)?,
                    ))
                },
            )
            .optional()?
            .map(upload_from_cols)
            .transpose()
        })
        .await
    }

    async fn advance_upload(
        &self,
        id: Uuid,
        from: u64,
        to: u64,
        hash_state: Option<Vec<u8>>,
        lease: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        // One process: the lease map is the truth, and only an expiry lets it change hands.
        if !self.inner.leases.holds(id, lease, now) {
            return Ok(false);
        }
        self.write(move |c| {
            let n = c.execute(
                "UPDATE uploads SET offset_bytes = ?3, hash_state = ?4
                 WHERE id = ?1 AND offset_bytes = ?2",
                params![id.to_string(), from as i64, to as i64, hash_state],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn delete_upload(&self, id: Uuid) -> Result<()> {
        self.write(move |c| {
            c.execute("DELETE FROM uploads WHERE id = ?1", [id.to_string()])?;
            Ok(())
        })
        .await
    }

    fn leases(&self) -> &dyn UploadLeases {
        &self.inner.leases
    }

    async fn complete_upload(
        &self,
        id: Uuid,
        photo_id: Uuid,
        blob_path: &str,
        content_type: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let (blob_path, content_type) = (blob_path.to_string(), content_type.to_string());
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "UPDATE photos SET blob_path = ?2, content_type = ?3, uploaded_at = ?4
                 WHERE photo_id = ?1 AND blob_path IS NULL",
                params![photo_id.to_string(), blob_path, content_type, ts(now)],
            )?;
            tx.execute(
                "UPDATE uploads SET completed_at = ?2 WHERE id = ?1",
                params![id.to_string(), ts(now)],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn sweep(&self, now: DateTime<Utc>) -> Result<Vec<Uuid>> {
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let ids = {
                let mut stmt = tx.prepare("SELECT id FROM uploads WHERE expires_at <= ?1")?;
                stmt.query_map([ts(now)], |r| r.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?
            };
            tx.execute("DELETE FROM uploads WHERE expires_at <= ?1", [ts(now)])?;
            tx.execute("DELETE FROM sessions WHERE expires_at <= ?1", [ts(now)])?;
            tx.execute(
                "DELETE FROM idempotency_keys WHERE created_at <= ?1",
                [ts(now - chrono::Duration::hours(IDEMPOTENCY_KEEP_HOURS))],
            )?;
            tx.execute(
                "DELETE FROM webhook_deliveries
                 WHERE next_attempt_at IS NULL AND COALESCE(delivered_at, failed_at) <= ?1",
                [ts(now - chrono::Duration::days(WEBHOOK_LOG_KEEP_DAYS))],
            )?;
            tx.commit()?;
            ids.iter().map(|s| parse_uuid(s)).collect()
        })
        .await
    }

    async fn idempotency_begin(
        &self,
        org: Uuid,
        key: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<IdempotencyBegin> {
        let (key, fingerprint) = (key.to_string(), fingerprint.to_string());
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let row: Option<(
                String,
                String,
                Option<i64>,
                Option<String>,
                Option<Vec<u8>>,
                String,
            )> = tx
                .query_row(
                    "SELECT fingerprint, state, status, headers, body, created_at
                     FROM idempotency_keys WHERE org_id = ?1 AND key = ?2",
                    params![org.to_string(), key],
                    |r| {
                        Ok((
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            r.get(5)?,
                        ))
                    },
                )
                .optional()?;
            let out = match row {
                None => {
                    tx.execute(
                        "INSERT INTO idempotency_keys (org_id, key, fingerprint, state, created_at)
                         VALUES (?1, ?2, ?3, 'pending', ?4)",
                        params![org.to_string(), key, fingerprint, ts(now)],
                    )?;
                    IdempotencyBegin::Fresh
                }
                Some((fp, _, _, _, _, _)) if fp != fingerprint => IdempotencyBegin::Mismatch,
                Some((_, state, Some(status), headers, body, _)) if state == "done" => {
                    IdempotencyBegin::Done(StoredResponse {
                        status: u16::try_from(status).unwrap_or(500),
                        headers: headers
                            .as_deref()
                            .map(from_json)
                            .transpose()?
                            .unwrap_or_default(),
                        body: body.unwrap_or_default(),
                    })
                }
                Some((_, _, _, _, _, created)) if parse_ts(&created)? < stale_before => {
                    tx.execute(
                        "UPDATE idempotency_keys SET created_at = ?3, state = 'pending'
                         WHERE org_id = ?1 AND key = ?2",
                        params![org.to_string(), key, ts(now)],
                    )?;
                    IdempotencyBegin::Fresh
                }
                Some(_) => IdempotencyBegin::InProgress,
            };
            tx.commit()?;
            Ok(out)
        })
        .await
    }

    async fn idempotency_finish(
        &self,
        org: Uuid,
        key: &str,
        response: &StoredResponse,
    ) -> Result<()> {
        let (key, r) = (key.to_string(), response.clone());
        self.write(move |c| {
            c.execute(
                "UPDATE idempotency_keys SET state = 'done', status = ?3, headers = ?4, body = ?5
                 WHERE org_id = ?1 AND key = ?2",
                params![
                    org.to_string(),
                    key,
                    i64::from(r.status),
                    to_json(&r.headers)?,
                    r.body
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn idempotency_abort(&self, org: Uuid, key: &str) -> Result<()> {
        let key = key.to_string();
        self.write(move |c| {
            c.execute(
                "DELETE FROM idempotency_keys WHERE org_id = ?1 AND key = ?2 AND state = 'pending'",
                params![org.to_string(), key],
            )?;
            Ok(())
        })
        .await
    }

    async fn create_webhook(&self, e: &Endpoint) -> Result<()> {
        let e = e.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO webhook_endpoints (id, org_id, url, secret, events_json,
                     ordering_party, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    e.id.to_string(),
                    e.org_id.to_string(),
                    e.url,
                    e.secret,
                    to_json(&e.events)?,
                    e.ordering_party,
                    ts(e.created_at)
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn webhooks(&self, org: Uuid) -> Result<Vec<Endpoint>> {
        self.read(move |c| {
            let mut stmt = c.prepare(
                "SELECT id, url, secret, events_json, created_at, ordering_party
                 FROM webhook_endpoints WHERE org_id = ?1 ORDER BY created_at, id",
            )?;
            let rows = stmt
                .query_map([org.to_string()], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, Option<String>>(5)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter()
                .map(|(id, url, secret, events, at, ordering_party)| {
                    Ok(Endpoint {
                        id: parse_uuid(&id)?,
                        org_id: org,
                        url,
                        secret,
                        events: from_json(&events)?,
                        ordering_party,
                        created_at: parse_ts(&at)?,
                    })
                })
                .collect()
        })
        .await
    }

    async fn delete_webhook(&self, org: Uuid, id: Uuid) -> Result<bool> {
        self.write(move |c| {
            let n = c.execute(
                "DELETE FROM webhook_endpoints WHERE id = ?1 AND org_id = ?2",
                params![id.to_string(), org.to_string()],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DueDelivery>> {
        // A reader first: the single writer is not taken every poll when nothing is due.
        let due = self
            .read(move |c| {
                Ok(c.prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM webhook_deliveries
                     WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= ?1
                       AND (lease_until IS NULL OR lease_until <= ?1))",
                )?
                .query_row([ts(now)], |r| r.get::<_, bool>(0))?)
            })
            .await?;
        if !due {
            return Ok(Vec::new());
        }
        let lease = Uuid::now_v7();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let ids: Vec<String> = tx
                .prepare_cached(
                    "UPDATE webhook_deliveries SET lease_until = ?2, lease_token = ?4
                     WHERE id IN (SELECT id FROM webhook_deliveries
                                  WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= ?1
                                    AND (lease_until IS NULL OR lease_until <= ?1)
                                  ORDER BY next_attempt_at, id LIMIT ?3)
                     RETURNING id",
                )?
                .query_map(
                    params![
                        ts(now),
                        ts(lease_until),
                        i64::try_from(limit).unwrap_or(0),
                        lease.to_string()
                    ],
                    |r| r.get(0),
                )?
                .collect::<rusqlite::Result<_>>()?;
            let mut out = Vec::with_capacity(ids.len());
            {
                let mut one = tx.prepare_cached(
                    "SELECT e.url, e.secret, d.event_type, ev.event_json, d.job_id, d.created_at,
                            d.attempts, dv.public_key
                     FROM webhook_deliveries d
                     JOIN webhook_endpoints e ON e.id = d.endpoint_id
                     JOIN events ev ON ev.id = d.event_id
                     LEFT JOIN devices dv ON dv.id = ev.device_id AND dv.org_id = ev.org_id
                     WHERE d.id = ?1",
                )?;
                for id in ids {
                    let row = one.query_row([&id], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, String>(4)?,
                            r.get::<_, String>(5)?,
                            r.get::<_, i64>(6)?,
                            r.get::<_, Option<String>>(7)?,
                        ))
                    })?;
                    let (url, secret, kind, event_json, job, at, attempts, key) = row;
                    out.push(DueDelivery {
                        id: parse_uuid(&id)?,
                        lease,
                        url,
                        secret,
                        event_type: super::stored_event_type(&kind)?,
                        event_json,
                        device_public_key: key,
                        job_id: parse_uuid(&job)?,
                        created_at: parse_ts(&at)?,
                        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                    });
                }
            }
            tx.commit()?;
            Ok(out)
        })
        .await
    }

    async fn finish_delivery(
        &self,
        id: Uuid,
        lease: Uuid,
        attempt: Attempt,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(move |c| {
            match attempt {
                Attempt::Delivered { status } => c.execute(
                    "UPDATE webhook_deliveries SET attempts = attempts + 1, delivered_at = ?2,
                         next_attempt_at = NULL, lease_until = NULL, lease_token = NULL,
                         failed_at = NULL, last_status = ?3, last_error = NULL
                     WHERE id = ?1 AND lease_token = ?4",
                    params![id.to_string(), ts(now), status, lease.to_string()],
                )?,
                Attempt::Failed {
                    status,
                    error,
                    retry_at,
                } => c.execute(
                    "UPDATE webhook_deliveries SET attempts = attempts + 1,
                         next_attempt_at = ?2, lease_until = NULL, lease_token = NULL,
                         failed_at = CASE WHEN ?2 IS NULL THEN ?3 END,
                         last_status = ?4, last_error = ?5
                     WHERE id = ?1 AND delivered_at IS NULL AND lease_token = ?6",
                    params![
                        id.to_string(),
                        retry_at.map(ts),
                        ts(now),
                        status,
                        error,
                        lease.to_string()
                    ],
                )?,
            };
            Ok(())
        })
        .await
    }

    async fn deliveries(&self, org: Uuid, limit: usize) -> Result<Vec<DeliveryLog>> {
        self.read(move |c| {
            let mut stmt = c.prepare(
                "SELECT d.id, d.endpoint_id, e.url, d.event_id, d.job_id, d.event_type,
                        d.created_at, d.attempts, d.next_attempt_at, d.delivered_at,
                        d.failed_at, d.last_status, d.last_error
                 FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
                 WHERE d.org_id = ?1 ORDER BY d.created_at DESC, d.id DESC LIMIT ?2",
            )?;
            let rows = stmt
                .query_map(
                    params![org.to_string(), i64::try_from(limit).unwrap_or(0)],
                    |r| {
                        Ok((
                            [
                                r.get::<_, String>(0)?,
                                r.get::<_, String>(1)?,
                                r.get::<_, String>(2)?,
                                r.get::<_, String>(3)?,
                                r.get::<_, String>(4)?,
                                r.get::<_, String>(5)?,
                                r.get::<_, String>(6)?,
                            ],
                            r.get::<_, i64>(7)?,
                            [
                                r.get::<_, Option<String>>(8)?,
                                r.get::<_, Option<String>>(9)?,
                                r.get::<_, Option<String>>(10)?,
                            ],
                            r.get::<_, Option<i64>>(11)?,
                            r.get::<_, Option<String>>(12)?,
                        ))
                    },
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let opt = |s: &Option<String>| s.as_deref().map(parse_ts).transpose();
            rows.into_iter()
                .map(
                    |(
                        [id, endpoint, url, event, job, kind, at],
                        attempts,
                        times,
                        status,
                        error,
                    )| {
                        Ok(DeliveryLog {
                            id: parse_uuid(&id)?,
                            endpoint_id: parse_uuid(&endpoint)?,
                            url,
                            event_id: parse_uuid(&event)?,
                            job_id: parse_uuid(&job)?,
                            event_type: super::stored_event_type(&kind)?,
                            created_at: parse_ts(&at)?,
                            attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                            next_attempt_at: opt(&times[0])?,
                            delivered_at: opt(&times[1])?,
                            failed_at: opt(&times[2])?,
                            last_status: status.and_then(|s| u16::try_from(s).ok()),
                            last_error: error,
                        })
                    },
                )
                .collect()
        })
        .await
    }

    async fn retry_delivery(&self, org: Uuid, id: Uuid, now: DateTime<Utc>) -> Result<bool> {
        self.write(move |c| {
            let n = c.execute(
                "UPDATE webhook_deliveries SET next_attempt_at = ?3, failed_at = NULL,
                     attempts = 0
                 WHERE id = ?1 AND org_id = ?2 AND delivered_at IS NULL",
                params![id.to_string(), org.to_string(), ts(now)],
            )?;
            Ok(n == 1)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldcore::domain::EventBody;

    #[test]
    fn migrations_run_once_and_a_newer_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        drop(SqliteStorage::open(&path).unwrap());
        // Opening again is a no-op upgrade.
        drop(SqliteStorage::open(&path).unwrap());
        let c = Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", 99).unwrap();
        drop(c);
        assert!(matches!(
            SqliteStorage::open(&path),
            Err(StorageError::TooNew { found: 99, .. })
        ));
    }

    /// A server upgraded mid-upload: the upload begun under v1 is still there, with no hash
    /// state (its last byte will hash the file instead).
    #[tokio::test]
    async fn an_upload_begun_under_v1_survives_the_upgrade_without_a_hash_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let (id, tech) = (Uuid::now_v7(), Uuid::now_v7());
        let c = Connection::open(&path).unwrap();
        c.execute_batch(SCHEMA[0]).unwrap();
        c.pragma_update(None, "user_version", 1).unwrap();
        c.execute(
            "INSERT INTO uploads (id, org_id, technician_id, photo_id, job_id, sha256, length,
                 offset_bytes, content_type, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?2, ?2, 'ab', 10, 4, NULL, ?4, ?4)",
            params![
                id.to_string(),
                Uuid::now_v7().to_string(),
                tech.to_string(),
                ts(Utc::now())
            ],
        )
        .unwrap();
        drop(c);

        let storage = SqliteStorage::open(&path).unwrap();
        let u = storage.upload(tech, id).await.unwrap().expect("kept");
        assert_eq!((u.offset, u.hash_state), (4, None));
        let (lease, now) = (Uuid::now_v7(), Utc::now());
        let until = now + chrono::Duration::minutes(5);
        assert!(
            !storage
                .advance_upload(id, 4, 10, Some(vec![7; 3]), lease, now)
                .await
                .unwrap(),
            "not without the lease"
        );
        assert!(storage.leases().take(id, lease, now, until).await.unwrap());
        assert!(
            storage
                .advance_upload(id, 4, 10, Some(vec![7; 3]), lease, now)
                .await
                .unwrap()
        );
        let u = storage.upload(tech, id).await.unwrap().unwrap();
        assert_eq!((u.offset, u.hash_state), (10, Some(vec![7; 3])));
    }

    /// Views cached by a build before ADR 0007 are folded again from their logs at the upgrade,
    /// so they follow today's rules (here: the reassignment's time, which older views lacked).
    #[tokio::test]
    async fn the_upgrade_to_v3_folds_every_view_again_from_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let (org, li, wang) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let desk = fieldcore::fixtures::Desk::default();
        let t0 = Utc::now();
        let (job, mut events) = desk.new_job(fieldcore::domain::JobKind::Install, li, t0);
        events.push(desk.event(
            job,
            t0 + chrono::Duration::minutes(5),
            EventBody::JobAssigned {
                technician_id: wang,
            },
        ));
        let rules = Rulebook::default();
        let mut stale = rules.replay(&events).unwrap();
        stale.reassigned_at = None;
        let c = Connection::open(&path).unwrap();
        c.execute_batch(SCHEMA[0]).unwrap();
        c.execute_batch(SCHEMA[1]).unwrap();
        c.pragma_update(None, "user_version", 2).unwrap();
        c.execute(
            "INSERT INTO organisations (id, name, policy_json, checklist_json, created_at)
             VALUES (?1, 'Acme', ?2, ?3, ?4)",
            params![
                org.to_string(),
                to_json(&rules.policy).unwrap(),
                to_json(&rules.checklist).unwrap(),
                ts(t0)
            ],
        )
        .unwrap();
        c.execute(
            "INSERT INTO jobs (id, org_id, status, technician_id, view_json, created_at, updated_at)
             VALUES (?1, ?2, 'assigned', ?3, ?4, ?5, ?5)",
            params![
                job.to_string(),
                org.to_string(),
                wang.to_string(),
                to_json(&stale).unwrap(),
                ts(t0)
            ],
        )
        .unwrap();
        for e in &events {
            c.execute(
                "INSERT INTO events (id, job_id, org_id, kind, event_json, server_received_at,
                     corrected_at, flags_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, '[]')",
                params![
                    e.id.to_string(),
                    job.to_string(),
                    org.to_string(),
                    e.body.kind().as_str(),
                    to_json(e).unwrap(),
                    ts(e.at())
                ],
            )
            .unwrap();
        }
        drop(c);

        let storage = SqliteStorage::open(&path).unwrap();
        let d = storage.job(org, job).await.unwrap().expect("job");
        assert_eq!(
            d.view.reassigned_at,
            Some(t0 + chrono::Duration::minutes(5))
        );
        assert_eq!(d.view, rules.replay(&events).unwrap());
    }
}

//! PostgreSQL storage, for several server processes sharing one database (design.md, "Scale
//! path"). Same semantics as [`super::sqlite`]: both run [`crate::ingest::plan`], and only load
//! and apply (`push.rs`).
//!
//! Concurrency, which SQLite got for free from one writer and `BEGIN IMMEDIATE`:
//! * A push takes a transaction-scoped advisory lock per job it touches, in sorted order (no
//!   deadlock between two batches naming the same jobs in different orders). The lock also
//!   covers jobs that do not exist yet (a `JobCreated`), which a row lock could not. Under
//!   READ COMMITTED every later statement sees what the previous holder committed, so the
//!   rulebook decides against the current job and an event pushed to two processes at once is
//!   found by the second (`duplicate`). `events.id` is unique and inserted with
//!   `ON CONFLICT DO NOTHING` as the last word.
//! * Feed positions come from one identity sequence. A cursor only moves forward, so a position
//!   drawn early but committed late would be skipped by a pull that already saw a later one.
//!   Therefore feed rows are written at the end of the push transaction, under a per-technician
//!   advisory lock (sorted again) held until commit: within one technician's feed the next
//!   position is drawn only after the previous writer committed, so positions grow in commit
//!   order and a pull can never pass over a row that appears later. Pushes for different
//!   technicians do not wait for each other; a global watermark would delay everyone's pulls
//!   behind the slowest transaction.
//! * Migrations run at start-up under a session advisory lock on a connection of their own, so
//!   processes starting together run them once, one after the other.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use fieldcore::domain::{ChecklistTemplate, Event, JobNumber, JobView, Lang, Policy, Rulebook};
use fieldcore::protocol::PushResult;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};
use uuid::Uuid;

use super::UploadLeases;
use super::{
    CommitGate, Device, DeviceIdentity, Dispatcher, FeedPage, IDEMPOTENCY_KEEP_HOURS,
    IdempotencyBegin, Incoming, JobDetail, JobFilter, JobRow, Organisation, Photo, PhotoAccess,
    Rejection, Result, Storage, StorageError, StoredResponse, Technician, TimelineEntry, Upload,
    WEBHOOK_LOG_KEEP_DAYS, Writer, read_each, run_gated,
};
use crate::ingest::Batch;
use crate::webhooks::{Attempt, DeliveryLog, DueDelivery, Endpoint};

mod push;

/// Numbered schema steps; `schema_migrations` records which ran.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "initial", include_str!("migrations/0001_initial.sql")),
    (
        2,
        "upload hash state",
        include_str!("migrations/0002_upload_hash_state.sql"),
    ),
    (
        3,
        "idempotency keys",
        include_str!("migrations/0003_idempotency_keys.sql"),
    ),
    (
        4,
        "upload metadata",
        include_str!("migrations/0004_upload_metadata.sql"),
    ),
    (
        5,
        "job numbers",
        include_str!("migrations/0005_job_numbers.sql"),
    ),
    (
        6,
        "device keys and webhooks",
        include_str!("migrations/0006_webhooks.sql"),
    ),
    (
        7,
        "evidence: a device's events by its sequence",
        include_str!("migrations/0007_evidence.sql"),
    ),
];

/// Session advisory lock key for migrations ("fieldcor" in ASCII).
const MIGRATION_LOCK: i64 = 0x6669_656c_6463_6f72;
/// Namespaces of the two-key transaction advisory locks.
const LOCK_JOB: i32 = 1;
const LOCK_FEED: i32 = 2;
/// A push that loses a deadlock or serialisation race is run again from the start.
const PUSH_ATTEMPTS: usize = 5;

#[derive(Clone)]
pub struct PgStorage {
    pool: Pool,
    /// See `Config::test_feed_commit_delay`.
    feed_commit_delay: crate::config::TestDelay,
    /// See `Config::write_timeout_secs` and [`CommitGate`].
    write_deadline: std::time::Duration,
}

impl std::fmt::Debug for PgStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.pool.status();
        f.debug_struct("PgStorage")
            .field("pool_size", &s.size)
            .field("pool_max", &s.max_size)
            .finish()
    }
}

fn pool_err(e: impl std::fmt::Display) -> StorageError {
    StorageError::Pool(e.to_string())
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StorageError::Corrupt(format!("json: {e}")))
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StorageError::Corrupt(format!("json: {e}")))
}

/// A 32-bit advisory lock key for an id. Two ids sharing a key only wait for each other
/// needlessly; locking in key order keeps that deadlock-free.
fn lock_key(id: Uuid) -> i32 {
    let (hi, lo) = id.as_u64_pair();
    let x = hi ^ lo;
    ((x >> 32) ^ x) as u32 as i32
}

fn is_retryable(e: &StorageError) -> bool {
    matches!(e, StorageError::Pg(e) if matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED
            || *c == SqlState::T_R_SERIALIZATION_FAILURE
    ))
}

fn is_unique_violation(e: &StorageError) -> bool {
    matches!(e, StorageError::Pg(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION))
}

impl PgStorage {
    /// Connect (lazily: the pool opens connections when asked) and migrate under the lock.
    pub async fn open(url: &str, pool_size: usize) -> Result<Self> {
        let config: tokio_postgres::Config = url.parse()?;
        migrate(&config).await?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(2))
            .build()
            .map_err(pool_err)?;
        Ok(PgStorage {
            pool,
            feed_commit_delay: crate::config::TestDelay::default(),
            write_deadline: std::time::Duration::from_secs(20),
        })
    }

    /// How long a batch of events may wait and run before it is abandoned.
    pub fn with_write_deadline(mut self, deadline: std::time::Duration) -> Self {
        self.write_deadline = deadline;
        self
    }

    /// For tests (`Config::test_feed_commit_delay`).
    pub fn with_feed_commit_delay(mut self, delay: crate::config::TestDelay) -> Self {
        self.feed_commit_delay = delay;
        self
    }

    async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(pool_err)
    }
}

/// Run the missing steps, each in its own transaction, holding a session advisory lock on a
/// dedicated connection: a second process starting at the same moment waits, then finds
/// nothing left to do. The connection is closed at the end, which releases the lock even if a
/// step failed half-way. A database newer than this build is refused, never touched.
async fn migrate(config: &tokio_postgres::Config) -> Result<()> {
    let (mut client, conn) = config.connect(NoTls).await?;
    let driver = tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::warn!(error = %e, "migration connection ended");
        }
    });
    let out = async {
        client
            .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                     version integer PRIMARY KEY,
                     name text NOT NULL,
                     applied_at timestamptz NOT NULL DEFAULT now())",
            )
            .await?;
        let found: i32 = client
            .query_one(
                "SELECT COALESCE(max(version), 0) FROM schema_migrations",
                &[],
            )
            .await?
            .get(0);
        let known = MIGRATIONS.last().map_or(0, |m| m.0);
        if found > known {
            return Err(StorageError::TooNew {
                found: found.into(),
                known: known.into(),
            });
        }
        for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > found) {
            let tx = client.transaction().await?;
            tx.batch_execute(sql).await?;
            if *version as usize == super::VIEWS_REBUILT_AT && found > 0 {
                rebuild_views(&tx).await?;
            }
            tx.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                &[version, name],
            )
            .await?;
            tx.commit().await?;
            tracing::info!(version, name, "postgres migration applied");
        }
        Ok(())
    }
    .await;
    drop(client);
    let _ = driver.await;
    out
}

/// Every job's view folded again from its log, in the server's order, with today's rules (see
/// the SQLite store's `rebuild_views`).
async fn rebuild_views(tx: &tokio_postgres::Transaction<'_>) -> Result<()> {
    let mut rulebooks = HashMap::new();
    for r in tx
        .query(
            "SELECT id, policy_json, checklist_json FROM organisations",
            &[],
        )
        .await?
    {
        let id: Uuid = r.get(0);
        rulebooks.insert(
            id,
            Rulebook::new(from_json(r.get(1))?, from_json(r.get(2))?),
        );
    }
    let jobs = tx.query("SELECT id, org_id FROM jobs", &[]).await?;
    for j in jobs {
        let (job, org): (Uuid, Uuid) = (j.get(0), j.get(1));
        let Some(rulebook) = rulebooks.get(&org) else {
            continue;
        };
        let events: Vec<Event> = tx
            .query(
                "SELECT event_json FROM events WHERE job_id = $1 ORDER BY seq",
                &[&job],
            )
            .await?
            .iter()
            .filter_map(|r| serde_json::from_str(r.get::<_, &str>(0)).ok())
            .collect();
        let Some(view) = rulebook.replay(&events) else {
            continue;
        };
        tx.execute(
            "UPDATE jobs SET view_json = $2, status = $3, technician_id = $4 WHERE id = $1",
            &[
                &job,
                &to_json(&view)?,
                &view.status().as_str(),
                &view.technician_id,
            ],
        )
        .await?;
    }
    Ok(())
}

/// Statements go through the pool's per-connection cache: one round trip each instead of a
/// parse round trip plus an execute round trip, which halves a push's latency.
async fn q_opt(
    c: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<Row>> {
    let st = c.prepare_cached(sql).await?;
    Ok(c.query_opt(&st, params).await?)
}

async fn q_one(c: &impl GenericClient, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row> {
    let st = c.prepare_cached(sql).await?;
    Ok(c.query_one(&st, params).await?)
}

async fn q_all(
    c: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>> {
    let st = c.prepare_cached(sql).await?;
    Ok(c.query(&st, params).await?)
}

async fn exec(c: &impl GenericClient, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
    let st = c.prepare_cached(sql).await?;
    Ok(c.execute(&st, params).await?)
}

fn dispatcher_from_row(r: &Row) -> Dispatcher {
    Dispatcher {
        id: r.get(0),
        organisation_id: r.get(1),
        email: r.get(2),
        name: r.get(3),
        password_hash: r.get(4),
    }
}

const DISPATCHER_COLS: &str = "d.id, d.org_id, d.email, d.name, d.password_hash";

fn technician_from_row(r: &Row) -> Technician {
    Technician {
        id: r.get(0),
        organisation_id: r.get(1),
        name: r.get(2),
        phone: r.get(3),
        created_at: r.get(4),
    }
}

const PHOTO_COLS: &str = "photo_id, job_id, org_id, category, sha256, blob_path, content_type";

fn photo_from_row(r: &Row) -> Photo {
    Photo {
        photo_id: r.get(0),
        job_id: r.get(1),
        organisation_id: r.get(2),
        category: r.get(3),
        sha256: r.get(4),
        blob_path: r.get(5),
        content_type: r.get(6),
    }
}

async fn load_job(c: &impl GenericClient, org: Uuid, job_id: Uuid) -> Result<Option<JobView>> {
    let row = q_opt(
        c,
        "SELECT view_json FROM jobs WHERE id = $1 AND org_id = $2",
        &[&job_id, &org],
    )
    .await?;
    row.map(|r| from_json(r.get::<_, &str>(0))).transpose()
}

#[async_trait]
impl Storage for PgStorage {
    async fn health(&self) -> Result<()> {
        q_one(&self.client().await?, "SELECT 1", &[]).await?;
        Ok(())
    }

    async fn create_dispatcher(
        &self,
        org_name: &str,
        email: &str,
        name: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(Uuid, Uuid)> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        // Two processes creating the same organisation at once: one insert wins, both read it.
        exec(
            &tx,
            "INSERT INTO organisations (id, name, policy_json, checklist_json, created_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING",
            &[
                &Uuid::now_v7(),
                &org_name,
                &to_json(&Policy::default())?,
                &to_json(&ChecklistTemplate::default_template())?,
                &now,
            ],
        )
        .await?;
        let org: Uuid = q_one(
            &tx,
            "SELECT id FROM organisations WHERE name = $1",
            &[&org_name],
        )
        .await?
        .get(0);
        let id = Uuid::now_v7();
        match exec(
            &tx,
            "INSERT INTO dispatchers (id, org_id, email, name, password_hash, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            &[&id, &org, &email, &name, &password_hash, &now],
        )
        .await
        {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(StorageError::Conflict(format!("dispatcher {email}")));
            }
            Err(e) => return Err(e),
        }
        tx.commit().await?;
        Ok((org, id))
    }

    async fn dispatcher_count(&self) -> Result<u64> {
        let n: i64 = q_one(
            &self.client().await?,
            "SELECT count(*) FROM dispatchers",
            &[],
        )
        .await?
        .get(0);
        Ok(n as u64)
    }

    async fn dispatcher_by_email(&self, email: &str) -> Result<Option<Dispatcher>> {
        Ok(q_opt(
            &self.client().await?,
            &format!(
                "SELECT {DISPATCHER_COLS} FROM dispatchers d
                     WHERE lower(d.email) = lower($1)"
            ),
            &[&email],
        )
        .await?
        .as_ref()
        .map(dispatcher_from_row))
    }

    async fn organisation(&self, id: Uuid) -> Result<Option<Organisation>> {
        let row = q_opt(
            &self.client().await?,
            "SELECT name, policy_json, checklist_json FROM organisations WHERE id = $1",
            &[&id],
        )
        .await?;
        row.map(|r| {
            Ok(Organisation {
                id,
                name: r.get(0),
                policy: from_json(r.get(1))?,
                checklist: from_json(r.get(2))?,
            })
        })
        .transpose()
    }

    async fn create_session(
        &self,
        token_hash: &str,
        dispatcher_id: Uuid,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        exec(
            &self.client().await?,
            "INSERT INTO sessions (token_hash, dispatcher_id, expires_at, created_at)
                 VALUES ($1, $2, $3, $4)",
            &[&token_hash, &dispatcher_id, &expires_at, &now],
        )
        .await?;
        Ok(())
    }

    async fn session(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<Dispatcher>> {
        Ok(q_opt(
            &self.client().await?,
            &format!(
                "SELECT {DISPATCHER_COLS} FROM sessions s JOIN dispatchers d
                     ON d.id = s.dispatcher_id WHERE s.token_hash = $1 AND s.expires_at > $2"
            ),
            &[&token_hash, &now],
        )
        .await?
        .as_ref()
        .map(dispatcher_from_row))
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        exec(
            &self.client().await?,
            "DELETE FROM sessions WHERE token_hash = $1",
            &[&token_hash],
        )
        .await?;
        Ok(())
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
        exec(
            &self.client().await?,
            "INSERT INTO technicians (id, org_id, name, phone, created_at)
                 VALUES ($1, $2, $3, $4, $5)",
            &[&t.id, &org, &t.name, &t.phone, &t.created_at],
        )
        .await?;
        Ok(t)
    }

    async fn technicians(&self, org: Uuid) -> Result<Vec<Technician>> {
        // COLLATE "C": the same byte order SQLite uses, whatever the cluster's locale.
        Ok(q_all(
            &self.client().await?,
            "SELECT id, org_id, name, phone, created_at FROM technicians
                 WHERE org_id = $1 ORDER BY name COLLATE \"C\", id",
            &[&org],
        )
        .await?
        .iter()
        .map(technician_from_row)
        .collect())
    }

    async fn technician(&self, org: Uuid, id: Uuid) -> Result<Option<Technician>> {
        Ok(q_opt(
            &self.client().await?,
            "SELECT id, org_id, name, phone, created_at FROM technicians
                 WHERE org_id = $1 AND id = $2",
            &[&org, &id],
        )
        .await?
        .as_ref()
        .map(technician_from_row))
    }

    async fn create_enrolment_code(
        &self,
        org: Uuid,
        technician_id: Uuid,
        code_hash: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        exec(
            &self.client().await?,
            "INSERT INTO enrolment_codes (code_hash, org_id, technician_id, expires_at,
                     created_at) VALUES ($1, $2, $3, $4, $5)",
            &[&code_hash, &org, &technician_id, &expires_at, &now],
        )
        .await?;
        Ok(())
    }

    async fn enroll_device(
        &self,
        code_hash: &str,
        now: DateTime<Utc>,
        device_id: Uuid,
        device_name: &str,
        token_hash: &str,
    ) -> Result<Option<DeviceIdentity>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        // One conditional update uses the code: of two processes racing, one gets the row.
        let row = q_opt(
            &tx,
            "UPDATE enrolment_codes SET used_at = $2
                 WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2
                 RETURNING org_id, technician_id",
            &[&code_hash, &now],
        )
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let (org, technician): (Uuid, Uuid) = (row.get(0), row.get(1));
        // A device enrolling again (reinstalled app, new code from the desk) gets a new token;
        // the old one stops working. A device id that exists for another technician or
        // organisation is never taken over (ADR 0006): nothing changes, the code stays unused.
        let changed = exec(
            &tx,
            "INSERT INTO devices (id, org_id, technician_id, name, token_hash, enrolled_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (id) DO UPDATE SET org_id = excluded.org_id,
                 technician_id = excluded.technician_id, name = excluded.name,
                 token_hash = excluded.token_hash, enrolled_at = excluded.enrolled_at,
                 revoked_at = NULL
             WHERE devices.org_id = excluded.org_id
                 AND devices.technician_id = excluded.technician_id",
            &[
                &device_id,
                &org,
                &technician,
                &device_name,
                &token_hash,
                &now,
            ],
        )
        .await?;
        if changed == 0 {
            return Err(StorageError::DeviceTaken);
        }
        tx.commit().await?;
        Ok(Some(DeviceIdentity {
            device_id,
            technician_id: technician,
            organisation_id: org,
        }))
    }

    async fn device_by_token(&self, token_hash: &str) -> Result<Option<DeviceIdentity>> {
        Ok(q_opt(
            &self.client().await?,
            "SELECT id, technician_id, org_id FROM devices
                 WHERE token_hash = $1 AND revoked_at IS NULL",
            &[&token_hash],
        )
        .await?
        .map(|r| DeviceIdentity {
            device_id: r.get(0),
            technician_id: r.get(1),
            organisation_id: r.get(2),
        }))
    }

    async fn devices(&self, org: Uuid) -> Result<Vec<Device>> {
        Ok(q_all(
            &self.client().await?,
            "SELECT id, technician_id, name, enrolled_at, revoked_at, last_seen_at
                 FROM devices WHERE org_id = $1 ORDER BY enrolled_at, id",
            &[&org],
        )
        .await?
        .iter()
        .map(|r| Device {
            id: r.get(0),
            technician_id: r.get(1),
            name: r.get(2),
            enrolled_at: r.get(3),
            revoked_at: r.get(4),
            last_seen_at: r.get(5),
        })
        .collect())
    }

    async fn next_job_number(&self, org: Uuid) -> Result<JobNumber> {
        let row = self
            .client()
            .await?
            .query_opt(
                "UPDATE organisations SET next_job_number = next_job_number + 1
                 WHERE id = $1 RETURNING next_job_number - 1",
                &[&org],
            )
            .await?
            .ok_or_else(|| StorageError::Corrupt(format!("no organisation {org}")))?;
        let n: i32 = row.get(0);
        u32::try_from(n)
            .map(JobNumber)
            .map_err(|_| StorageError::Corrupt(format!("job number {n} out of range")))
    }

    async fn revoke_device(&self, org: Uuid, device_id: Uuid, now: DateTime<Utc>) -> Result<bool> {
        let n = exec(
            &self.client().await?,
            "UPDATE devices SET revoked_at = COALESCE(revoked_at, $3)
                 WHERE id = $1 AND org_id = $2",
            &[&device_id, &org, &now],
        )
        .await?;
        Ok(n == 1)
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
        let (this, g) = (self.clone(), gate.clone());
        // Spawned, so a request that gives up never drops the transaction mid-commit: the gate
        // decides whether it commits.
        let asked = std::time::Instant::now();
        let work = tokio::spawn(async move {
            let mut c = this.client().await?;
            crate::metrics::observe_write_queue(asked.elapsed());
            let batch = Batch {
                org,
                writer,
                rulebook: &rulebook,
                events: &events,
                lang,
            };
            push::append(&mut c, batch, received_at, this.feed_commit_delay.get(), &g).await
        });
        run_gated(self.write_deadline, gate, work).await
    }

    async fn feed(&self, technician_id: Uuid, after: i64, limit: usize) -> Result<FeedPage> {
        let rows = q_all(
            &self.client().await?,
            "SELECT f.pos, e.event_json, e.seq FROM feed f JOIN events e ON e.seq = f.event_seq
                 WHERE f.technician_id = $1 AND f.pos > $2 ORDER BY f.pos LIMIT $3",
            &[&technician_id, &after, &((limit + 1) as i64)],
        )
        .await?;
        let has_more = rows.len() > limit;
        let mut last_position = after;
        let mut events = Vec::with_capacity(limit.min(rows.len()));
        let mut seqs = Vec::with_capacity(events.capacity());
        for r in rows.iter().take(limit) {
            last_position = r.get(0);
            events.push(from_json(r.get(1))?);
            seqs.push(r.get(2));
        }
        Ok(FeedPage {
            events,
            seqs,
            last_position,
            has_more,
        })
    }

    async fn jobs(&self, org: Uuid, filter: JobFilter) -> Result<Vec<JobRow>> {
        q_all(&self.client().await?,
                "SELECT view_json, updated_at FROM jobs WHERE org_id = $1
                   AND ($2::text IS NULL OR status = $2) AND ($3::uuid IS NULL OR technician_id = $3)
                 ORDER BY created_at DESC, id",
                &[&org, &filter.status, &filter.technician_id],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(JobRow {
                    view: from_json(r.get(0))?,
                    updated_at: r.get(1),
                })
            })
            .collect()
    }

    async fn device_chain(
        &self,
        org: Uuid,
        device: Uuid,
        from: i64,
        to: i64,
    ) -> Result<(Option<String>, Vec<Event>)> {
        let c = self.client().await?;
        let key = q_opt(
            &c,
            "SELECT public_key FROM devices WHERE id = $1 AND org_id = $2",
            &[&device, &org],
        )
        .await?
        .and_then(|r| r.get::<_, Option<String>>(0));
        // Stored events first: one refused and later accepted is the stored one.
        let rows = q_all(
            &c,
            "SELECT event_json FROM events
              WHERE device_id = $1 AND device_seq BETWEEN $2 AND $3 AND org_id = $4
             UNION ALL
             SELECT event_json FROM rejections
              WHERE device_id = $1 AND device_seq BETWEEN $2 AND $3 AND org_id = $4",
            &[&device, &from, &to, &org],
        )
        .await?;
        Ok((
            key,
            super::in_device_order(rows.iter().map(|r| r.get::<_, &str>(0))),
        ))
    }

    async fn job(&self, org: Uuid, id: Uuid) -> Result<Option<JobDetail>> {
        let mut c = self.client().await?;
        // One snapshot for the view, timeline, photos and rejections.
        let tx = c
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let Some(view) = load_job(&tx, org, id).await? else {
            return Ok(None);
        };
        let mut unreadable = Vec::new();
        let rows = q_all(
            &tx,
            "SELECT event_json, server_received_at, corrected_at, flags_json, id::text
                 FROM events WHERE job_id = $1 AND org_id = $2 ORDER BY seq",
            &[&id, &org],
        )
        .await?;
        let timeline = read_each(
            rows.iter(),
            "event",
            |r| r.get::<_, String>(4),
            |r| {
                Ok(TimelineEntry {
                    event: from_json(r.get(0))?,
                    server_received_at: r.try_get(1)?,
                    corrected_at: r.try_get(2)?,
                    flags: from_json(r.get(3))?,
                })
            },
            &mut unreadable,
        );
        let photos = q_all(
            &tx,
            &format!(
                "SELECT {PHOTO_COLS} FROM photos WHERE job_id = $1 AND org_id = $2
                     ORDER BY created_seq"
            ),
            &[&id, &org],
        )
        .await?
        .iter()
        .map(photo_from_row)
        .collect();
        let rows = q_all(
            &tx,
            "SELECT event_json, rule, message, received_at, event_id::text FROM rejections
                 WHERE job_id = $1 AND org_id = $2 ORDER BY received_at, event_id::text",
            &[&id, &org],
        )
        .await?;
        let rejections = read_each(
            rows.iter(),
            "rejection",
            |r| r.get::<_, String>(4),
            |r| {
                Ok(Rejection {
                    event: from_json(r.get(0))?,
                    rule: r.get(1),
                    message: r.get(2),
                    received_at: r.try_get(3)?,
                })
            },
            &mut unreadable,
        );
        tx.commit().await?;
        Ok(Some(JobDetail {
            view,
            timeline,
            photos,
            rejections,
            unreadable,
        }))
    }

    async fn photo(&self, org: Uuid, photo_id: Uuid) -> Result<Option<Photo>> {
        Ok(q_opt(
            &self.client().await?,
            &format!("SELECT {PHOTO_COLS} FROM photos WHERE photo_id = $1 AND org_id = $2"),
            &[&photo_id, &org],
        )
        .await?
        .as_ref()
        .map(photo_from_row))
    }

    async fn photo_access(
        &self,
        who: DeviceIdentity,
        photo_id: Uuid,
        job_id: Uuid,
        sha256: &str,
    ) -> Result<PhotoAccess> {
        let row = q_opt(
            &self.client().await?,
            "SELECT p.job_id, p.sha256, j.technician_id FROM photos p
                 JOIN jobs j ON j.id = p.job_id
                 WHERE p.photo_id = $1 AND p.org_id = $2",
            &[&photo_id, &who.organisation_id],
        )
        .await?;
        let Some(r) = row else {
            return Ok(PhotoAccess::NoRecord);
        };
        let (job, sha, technician): (Uuid, String, Option<Uuid>) = (r.get(0), r.get(1), r.get(2));
        if job != job_id || sha != sha256.to_ascii_lowercase() {
            return Ok(PhotoAccess::NoRecord);
        }
        if technician != Some(who.technician_id) {
            return Ok(PhotoAccess::NotYours);
        }
        Ok(PhotoAccess::Allowed)
    }

    async fn create_upload(&self, u: &Upload, now: DateTime<Utc>) -> Result<()> {
        exec(
            &self.client().await?,
            "INSERT INTO uploads (id, org_id, technician_id, photo_id, job_id, sha256, length,
                     offset_bytes, metadata, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            &[
                &u.id,
                &u.organisation_id,
                &u.technician_id,
                &u.photo_id,
                &u.job_id,
                &u.sha256,
                &(u.length as i64),
                &(u.offset as i64),
                &u.metadata,
                &now,
                &u.expires_at,
            ],
        )
        .await?;
        Ok(())
    }

    async fn open_uploads(
        &self,
        technician_id: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<(u64, u64)> {
        let r = q_one(
            &self.client().await?,
            "SELECT COUNT(*), COALESCE(SUM(length), 0)::BIGINT FROM uploads
                 WHERE ($1::uuid IS NULL OR technician_id = $1) AND completed_at IS NULL
                   AND expires_at > $2",
            &[&technician_id, &now],
        )
        .await?;
        let (n, bytes): (i64, i64) = (r.get(0), r.get(1));
        Ok((n.max(0) as u64, bytes.max(0) as u64))
    }

    async fn upload(&self, technician_id: Uuid, id: Uuid) -> Result<Option<Upload>> {
        Ok(q_opt(
            &self.client().await?,
            "SELECT id, org_id, technician_id, photo_id, job_id, sha256, length, offset_bytes,
                     metadata, expires_at, hash_state, completed_at IS NOT NULL
                 FROM uploads WHERE id = $1 AND technician_id = $2",
            &[&id, &technician_id],
        )
        .await?
        .map(|r| Upload {
            id: r.get(0),
            organisation_id: r.get(1),
            technician_id: r.get(2),
            photo_id: r.get(3),
            job_id: r.get(4),
            sha256: r.get(5),
            length: r.get::<_, i64>(6) as u64,
            offset: r.get::<_, i64>(7) as u64,
            metadata: r.get(8),
            expires_at: r.get(9),
            hash_state: r.get(10),
            completed: r.get(11),
        }))
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
        let n = exec(
            &self.client().await?,
            "UPDATE uploads SET offset_bytes = $3, hash_state = $4
             WHERE id = $1 AND offset_bytes = $2 AND lease_token = $5 AND lease_until > $6",
            &[&id, &(from as i64), &(to as i64), &hash_state, &lease, &now],
        )
        .await?;
        Ok(n == 1)
    }

    async fn delete_upload(&self, id: Uuid) -> Result<()> {
        exec(
            &self.client().await?,
            "DELETE FROM uploads WHERE id = $1",
            &[&id],
        )
        .await?;
        Ok(())
    }

    fn leases(&self) -> &dyn UploadLeases {
        self
    }

    async fn complete_upload(
        &self,
        id: Uuid,
        photo_id: Uuid,
        blob_path: &str,
        content_type: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        // `blob_path IS NULL`: linked once, whichever process finishes first.
        exec(
            &tx,
            "UPDATE photos SET blob_path = $2, content_type = $3, uploaded_at = $4
             WHERE photo_id = $1 AND blob_path IS NULL",
            &[&photo_id, &blob_path, &content_type, &now],
        )
        .await?;
        exec(
            &tx,
            "UPDATE uploads SET completed_at = $2 WHERE id = $1",
            &[&id, &now],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn sweep(&self, now: DateTime<Utc>) -> Result<Vec<Uuid>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let ids = q_all(
            &tx,
            "DELETE FROM uploads WHERE expires_at <= $1 RETURNING id",
            &[&now],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
        exec(&tx, "DELETE FROM sessions WHERE expires_at <= $1", &[&now]).await?;
        let keep = now - chrono::Duration::hours(IDEMPOTENCY_KEEP_HOURS);
        exec(
            &tx,
            "DELETE FROM idempotency_keys WHERE created_at <= $1",
            &[&keep],
        )
        .await?;
        let log_keep = now - chrono::Duration::days(WEBHOOK_LOG_KEEP_DAYS);
        exec(
            &tx,
            "DELETE FROM webhook_deliveries
             WHERE next_attempt_at IS NULL AND COALESCE(delivered_at, failed_at) <= $1",
            &[&log_keep],
        )
        .await?;
        tx.commit().await?;
        Ok(ids)
    }

    async fn idempotency_begin(
        &self,
        org: Uuid,
        key: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<IdempotencyBegin> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let inserted = exec(
            &tx,
            "INSERT INTO idempotency_keys (org_id, key, fingerprint, state, created_at)
             VALUES ($1, $2, $3, 'pending', $4) ON CONFLICT DO NOTHING",
            &[&org, &key, &fingerprint, &now],
        )
        .await?;
        if inserted == 1 {
            tx.commit().await?;
            return Ok(IdempotencyBegin::Fresh);
        }
        let Some(r) = q_opt(
            &tx,
            "SELECT fingerprint, state, status, headers, body, created_at
             FROM idempotency_keys WHERE org_id = $1 AND key = $2 FOR UPDATE",
            &[&org, &key],
        )
        .await?
        else {
            // Freed between our insert and this read: ask again.
            return Ok(IdempotencyBegin::InProgress);
        };
        let (fp, state): (String, String) = (r.get(0), r.get(1));
        let status: Option<i32> = r.get(2);
        let created: DateTime<Utc> = r.get(5);
        let out = if fp != fingerprint {
            IdempotencyBegin::Mismatch
        } else if let (true, Some(status)) = (state == "done", status) {
            let headers: Option<String> = r.get(3);
            let body: Option<Vec<u8>> = r.get(4);
            IdempotencyBegin::Done(StoredResponse {
                status: u16::try_from(status).unwrap_or(500),
                headers: headers
                    .as_deref()
                    .map(from_json)
                    .transpose()?
                    .unwrap_or_default(),
                body: body.unwrap_or_default(),
            })
        } else if created < stale_before {
            exec(
                &tx,
                "UPDATE idempotency_keys SET created_at = $3, state = 'pending'
                 WHERE org_id = $1 AND key = $2",
                &[&org, &key, &now],
            )
            .await?;
            IdempotencyBegin::Fresh
        } else {
            IdempotencyBegin::InProgress
        };
        tx.commit().await?;
        Ok(out)
    }

    async fn idempotency_finish(
        &self,
        org: Uuid,
        key: &str,
        response: &StoredResponse,
    ) -> Result<()> {
        exec(
            &self.client().await?,
            "UPDATE idempotency_keys SET state = 'done', status = $3, headers = $4, body = $5
             WHERE org_id = $1 AND key = $2",
            &[
                &org,
                &key,
                &i32::from(response.status),
                &to_json(&response.headers)?,
                &response.body,
            ],
        )
        .await?;
        Ok(())
    }

    async fn idempotency_abort(&self, org: Uuid, key: &str) -> Result<()> {
        exec(
            &self.client().await?,
            "DELETE FROM idempotency_keys WHERE org_id = $1 AND key = $2 AND state = 'pending'",
            &[&org, &key],
        )
        .await?;
        Ok(())
    }

    async fn create_webhook(&self, e: &Endpoint) -> Result<()> {
        exec(
            &self.client().await?,
            "INSERT INTO webhook_endpoints (id, org_id, url, secret, events_json,
                 ordering_party, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &e.id,
                &e.org_id,
                &e.url,
                &e.secret,
                &to_json(&e.events)?,
                &e.ordering_party,
                &e.created_at,
            ],
        )
        .await?;
        Ok(())
    }

    async fn webhooks(&self, org: Uuid) -> Result<Vec<Endpoint>> {
        q_all(
            &self.client().await?,
            "SELECT id, url, secret, events_json, created_at, ordering_party
             FROM webhook_endpoints WHERE org_id = $1 ORDER BY created_at, id",
            &[&org],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(Endpoint {
                id: r.get(0),
                org_id: org,
                url: r.get(1),
                secret: r.get(2),
                events: from_json(r.get::<_, &str>(3))?,
                ordering_party: r.get(5),
                created_at: r.get(4),
            })
        })
        .collect()
    }

    async fn delete_webhook(&self, org: Uuid, id: Uuid) -> Result<bool> {
        let n = exec(
            &self.client().await?,
            "DELETE FROM webhook_endpoints WHERE id = $1 AND org_id = $2",
            &[&id, &org],
        )
        .await?;
        Ok(n == 1)
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DueDelivery>> {
        let limit = i64::try_from(limit).unwrap_or(0);
        let lease = Uuid::now_v7();
        // SKIP LOCKED: two processes polling at once take different rows.
        q_all(
            &self.client().await?,
            "WITH due AS (
                 SELECT id FROM webhook_deliveries
                 WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= $1
                   AND (lease_until IS NULL OR lease_until <= $1)
                 ORDER BY next_attempt_at, id LIMIT $3
                 FOR UPDATE SKIP LOCKED),
             taken AS (
                 UPDATE webhook_deliveries d SET lease_until = $2, lease_token = $4 FROM due
                 WHERE d.id = due.id
                 RETURNING d.id, d.endpoint_id, d.event_id, d.event_type, d.job_id,
                           d.created_at, d.attempts)
             SELECT t.id, e.url, e.secret, t.event_type, ev.event_json, t.job_id,
                    t.created_at, t.attempts, dv.public_key
             FROM taken t
             JOIN webhook_endpoints e ON e.id = t.endpoint_id
             JOIN events ev ON ev.id = t.event_id
             LEFT JOIN devices dv ON dv.id = ev.device_id AND dv.org_id = ev.org_id",
            &[&now, &lease_until, &limit, &lease],
        )
        .await?
        .iter()
        .map(|r| {
            let kind: &str = r.get(3);
            Ok(DueDelivery {
                id: r.get(0),
                lease,
                url: r.get(1),
                secret: r.get(2),
                event_type: super::stored_event_type(kind)?,
                event_json: r.get(4),
                device_public_key: r.get(8),
                job_id: r.get(5),
                created_at: r.get(6),
                attempts: u32::try_from(r.get::<_, i32>(7)).unwrap_or(u32::MAX),
            })
        })
        .collect()
    }

    async fn finish_delivery(
        &self,
        id: Uuid,
        lease: Uuid,
        attempt: Attempt,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let c = self.client().await?;
        match attempt {
            Attempt::Delivered { status } => {
                exec(
                    &c,
                    "UPDATE webhook_deliveries SET attempts = attempts + 1, delivered_at = $2,
                         next_attempt_at = NULL, lease_until = NULL, lease_token = NULL,
                         failed_at = NULL, last_status = $3, last_error = NULL
                     WHERE id = $1 AND lease_token = $4",
                    &[&id, &now, &i32::from(status), &lease],
                )
                .await?
            }
            Attempt::Failed {
                status,
                error,
                retry_at,
            } => {
                let failed_at = retry_at.is_none().then_some(now);
                exec(
                    &c,
                    "UPDATE webhook_deliveries SET attempts = attempts + 1,
                         next_attempt_at = $2, lease_until = NULL, lease_token = NULL,
                         failed_at = $3, last_status = $4, last_error = $5
                     WHERE id = $1 AND delivered_at IS NULL AND lease_token = $6",
                    &[
                        &id,
                        &retry_at,
                        &failed_at,
                        &status.map(i32::from),
                        &error,
                        &lease,
                    ],
                )
                .await?
            }
        };
        Ok(())
    }

    async fn deliveries(&self, org: Uuid, limit: usize) -> Result<Vec<DeliveryLog>> {
        let limit = i64::try_from(limit).unwrap_or(0);
        q_all(
            &self.client().await?,
            "SELECT d.id, d.endpoint_id, e.url, d.event_id, d.job_id, d.event_type,
                    d.created_at, d.attempts, d.next_attempt_at, d.delivered_at,
                    d.failed_at, d.last_status, d.last_error
             FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
             WHERE d.org_id = $1 ORDER BY d.created_at DESC, d.id DESC LIMIT $2",
            &[&org, &limit],
        )
        .await?
        .iter()
        .map(|r| {
            let kind: &str = r.get(5);
            Ok(DeliveryLog {
                id: r.get(0),
                endpoint_id: r.get(1),
                url: r.get(2),
                event_id: r.get(3),
                job_id: r.get(4),
                event_type: super::stored_event_type(kind)?,
                created_at: r.get(6),
                attempts: u32::try_from(r.get::<_, i32>(7)).unwrap_or(u32::MAX),
                next_attempt_at: r.get(8),
                delivered_at: r.get(9),
                failed_at: r.get(10),
                last_status: r
                    .get::<_, Option<i32>>(11)
                    .and_then(|s| u16::try_from(s).ok()),
                last_error: r.get(12),
            })
        })
        .collect()
    }

    async fn retry_delivery(&self, org: Uuid, id: Uuid, now: DateTime<Utc>) -> Result<bool> {
        let n = exec(
            &self.client().await?,
            "UPDATE webhook_deliveries SET next_attempt_at = $3, failed_at = NULL, attempts = 0
             WHERE id = $1 AND org_id = $2 AND delivered_at IS NULL",
            &[&id, &org, &now],
        )
        .await?;
        Ok(n == 1)
    }
}

/// Leases in the `uploads` row, which every process sees (see [`super::leases`]).
#[async_trait]
impl UploadLeases for PgStorage {
    async fn take(
        &self,
        id: Uuid,
        token: Uuid,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool> {
        let n = exec(
            &self.client().await?,
            "UPDATE uploads SET lease_token = $2, lease_until = $4
                 WHERE id = $1 AND (lease_token IS NULL OR lease_token = $2 OR lease_until <= $3)",
            &[&id, &token, &now, &until],
        )
        .await?;
        Ok(n == 1)
    }

    async fn renew(&self, id: Uuid, token: Uuid, until: DateTime<Utc>) -> Result<bool> {
        let n = exec(
            &self.client().await?,
            "UPDATE uploads SET lease_until = $3 WHERE id = $1 AND lease_token = $2",
            &[&id, &token, &until],
        )
        .await?;
        Ok(n == 1)
    }

    async fn release(&self, id: Uuid, token: Uuid) -> Result<()> {
        exec(
            &self.client().await?,
            "UPDATE uploads SET lease_token = NULL, lease_until = NULL
                 WHERE id = $1 AND lease_token = $2",
            &[&id, &token],
        )
        .await?;
        Ok(())
    }
}

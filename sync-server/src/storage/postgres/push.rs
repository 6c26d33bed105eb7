//! A push on PostgreSQL: lock the batch's jobs, load what it touches, let
//! [`crate::ingest::plan`] decide, apply the writes. Every step is one statement over arrays
//! (`unnest`), and independent statements are pipelined on the connection, so a batch costs
//! about ten round trips whatever its length (it was several per event; ADR 0011).

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};
use fieldcore::protocol::PushResult;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::{
    LOCK_FEED, LOCK_JOB, PUSH_ATTEMPTS, exec, from_json, is_retryable, lock_key, q_all, to_json,
};
use crate::ingest::{Batch, FeedRow, Loaded, StoredEvent, StoredJob, Wanted, Writes, plan};
use crate::storage::{CommitGate, Result, StorageError};

type Tx<'a> = deadpool_postgres::Transaction<'a>;
type Param<'a> = &'a (dyn ToSql + Sync);
/// Parameter lists that outlive the pipelined statements borrowing them.
type ParamsOf<'a, const A: usize, const B: usize, const C: usize> =
    ([Param<'a>; A], [Param<'a>; B], [Param<'a>; C]);

/// Decide and store one batch, or nothing of it (see `Storage::append_events`). A batch that
/// loses a deadlock or serialisation race, or finds one of its ids stored meanwhile by a
/// push it shared no lock with, runs again from the start.
pub(super) async fn append(
    client: &mut deadpool_postgres::Object,
    batch: Batch<'_>,
    received_at: DateTime<Utc>,
    hold: Option<Duration>,
    gate: &CommitGate,
) -> Result<Vec<PushResult>> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match append_once(client, batch, received_at, hold, gate).await {
            Ok(Some(results)) => return Ok(results),
            Ok(None) if attempt < PUSH_ATTEMPTS => {}
            Err(e) if attempt < PUSH_ATTEMPTS && is_retryable(&e) => {
                tracing::debug!(error = %e, attempt, "push retried");
            }
            Ok(None) => {
                return Err(StorageError::Corrupt(
                    "push kept racing with concurrent pushes".into(),
                ));
            }
            Err(e) => return Err(e),
        }
    }
}

/// One attempt; `None`: raced (an event id turned up stored after the load), run again.
async fn append_once(
    client: &mut deadpool_postgres::Object,
    batch: Batch<'_>,
    received_at: DateTime<Utc>,
    hold: Option<Duration>,
    gate: &CommitGate,
) -> Result<Option<Vec<PushResult>>> {
    if gate.is_cancelled() {
        return Err(StorageError::Busy);
    }
    let wanted = batch.wanted();
    let tx = client.transaction().await?;
    // Per job, in sorted key order (no deadlock between two batches naming the same jobs in
    // different orders); also covers jobs that do not exist yet, which a row lock could not.
    let keys: BTreeSet<i32> = wanted.job_ids.iter().map(|j| lock_key(*j)).collect();
    lock(&tx, LOCK_JOB, keys).await?;
    let loaded = load(&tx, batch.org, &wanted).await?;
    let plan = plan(batch, loaded)?;
    let Some(writes) = plan.writes else {
        // A refused desk request: nothing of it is stored (`tx` rolls back).
        return Ok(Some(plan.results));
    };
    if !apply(&tx, batch.org, &writes, received_at).await? {
        return Ok(None);
    }
    if let Some(hold) = hold {
        tokio::time::sleep(hold).await;
    }
    if !gate.begin_commit() {
        // Dropping `tx` rolls back: the request was (or is being) answered "not stored".
        return Err(StorageError::Busy);
    }
    if let Err(e) = tx.commit().await {
        // Nothing was stored: a retried attempt may commit again.
        gate.reopen();
        return Err(e.into());
    }
    Ok(Some(plan.results))
}

/// Transaction advisory locks on `keys` in `namespace`, taken in the order given (sorted).
async fn lock(tx: &Tx<'_>, namespace: i32, keys: BTreeSet<i32>) -> Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let keys: Vec<i32> = keys.into_iter().collect();
    exec(
        tx,
        "SELECT pg_advisory_xact_lock($1, k) FROM unnest($2::int4[]) WITH ORDINALITY AS l(k, n)
         ORDER BY n",
        &[&namespace, &keys],
    )
    .await?;
    Ok(())
}

/// The three reads, pipelined: the batch's stored ids, its jobs, the writer's assignments.
async fn load(tx: &Tx<'_>, org: Uuid, wanted: &Wanted) -> Result<Loaded> {
    let technician = wanted.technician.unwrap_or(Uuid::nil());
    let (p1, p2, p3): ParamsOf<1, 2, 2> = (
        [&wanted.event_ids],
        [&wanted.job_ids, &org],
        [&technician, &wanted.job_ids],
    );
    let (events, jobs, assigned) = tokio::try_join!(
        q_all(
            tx,
            "SELECT id, org_id, job_id FROM events WHERE id = ANY($1)",
            &p1,
        ),
        q_all(
            tx,
            "SELECT id, CASE WHEN org_id = $2 THEN view_json END FROM jobs WHERE id = ANY($1)",
            &p2,
        ),
        q_all(
            tx,
            "SELECT job_id FROM job_technicians WHERE technician_id = $1 AND job_id = ANY($2)",
            &p3,
        ),
    )?;
    let mut loaded = Loaded::default();
    for r in events {
        let home = StoredEvent {
            org: r.get(1),
            job: r.get(2),
        };
        loaded.events.insert(r.get(0), home);
    }
    for r in jobs {
        let job = match r.get::<_, Option<&str>>(1) {
            Some(view) => StoredJob::Ours(Box::new(from_json(view)?)),
            None => StoredJob::Elsewhere,
        };
        loaded.jobs.insert(r.get(0), job);
    }
    if wanted.technician.is_some() {
        loaded.assigned = assigned.iter().map(|r| r.get(0)).collect();
    }
    Ok(loaded)
}

/// Write the plan; `false`: one of its events was stored meanwhile (raced), roll back.
async fn apply(tx: &Tx<'_>, org: Uuid, w: &Writes<'_>, at: DateTime<Utc>) -> Result<bool> {
    if !w.views.is_empty() {
        let ids: Vec<Uuid> = w.views.iter().map(|v| v.id).collect();
        let statuses: Vec<&str> = w.views.iter().map(|v| v.status().as_str()).collect();
        let technicians: Vec<Option<Uuid>> = w.views.iter().map(|v| v.technician_id).collect();
        let json = w.views.iter().map(to_json).collect::<Result<Vec<_>>>()?;
        exec(
            tx,
            "INSERT INTO jobs (id, org_id, status, technician_id, view_json, created_at, updated_at)
             SELECT id, $1, status, technician_id, view_json, $2, $2
               FROM unnest($3::uuid[], $4::text[], $5::uuid[], $6::text[])
                 AS v(id, status, technician_id, view_json)
             ON CONFLICT (id) DO UPDATE SET status = excluded.status,
                 technician_id = excluded.technician_id, view_json = excluded.view_json,
                 updated_at = excluded.updated_at",
            &[&org, &at, &ids, &statuses, &technicians, &json],
        )
        .await?;
    }
    let seqs = insert_events(tx, org, w, at).await?;
    let Some(seqs) = seqs else {
        return Ok(false);
    };
    let (_, _, _, history) = tokio::try_join!(
        assignments(tx, w),
        photos(tx, org, w),
        rejections(tx, org, w, at),
        history(tx, w, &seqs),
    )?;
    if let Some(device) = w.device_seen {
        exec(
            tx,
            "UPDATE devices SET last_seen_at = $2 WHERE id = $1",
            &[&device, &at],
        )
        .await?;
    }
    // Last, and held until commit: see the module comment on feed positions.
    let mut technicians = Vec::new();
    let mut event_seqs = Vec::new();
    let mut history = history.into_iter();
    for row in &w.feed {
        match *row {
            FeedRow::Event { technician, event } => {
                technicians.push(technician);
                event_seqs.push(seq(&seqs, event)?);
            }
            FeedRow::History { technician, .. } => {
                for s in history.next().unwrap_or_default() {
                    technicians.push(technician);
                    event_seqs.push(s);
                }
            }
        }
    }
    if !technicians.is_empty() {
        lock(
            tx,
            LOCK_FEED,
            technicians.iter().map(|t| lock_key(*t)).collect(),
        )
        .await?;
        exec(
            tx,
            "INSERT INTO feed (technician_id, event_seq)
             SELECT t, s FROM unnest($1::uuid[], $2::int8[]) WITH ORDINALITY AS f(t, s, n)
             ORDER BY n",
            &[&technicians, &event_seqs],
        )
        .await?;
    }
    Ok(true)
}

fn seq(seqs: &[i64], i: usize) -> Result<i64> {
    seqs.get(i)
        .copied()
        .ok_or_else(|| StorageError::Corrupt(format!("feed row names event {i}")))
}

/// The events in the plan's order (their `seq`s grow in that order); `None` if any id was
/// stored meanwhile.
async fn insert_events(
    tx: &Tx<'_>,
    org: Uuid,
    w: &Writes<'_>,
    at: DateTime<Utc>,
) -> Result<Option<Vec<i64>>> {
    if w.events.is_empty() {
        return Ok(Some(Vec::new()));
    }
    let ids: Vec<Uuid> = w.events.iter().map(|n| n.event.id).collect();
    let jobs: Vec<Uuid> = w.events.iter().map(|n| n.event.job_id).collect();
    let kinds: Vec<&str> = w
        .events
        .iter()
        .map(|n| n.event.body.kind().as_str())
        .collect();
    let json = w
        .events
        .iter()
        .map(|n| to_json(n.event))
        .collect::<Result<Vec<_>>>()?;
    let corrected: Vec<DateTime<Utc>> = w.events.iter().map(|n| n.event.at()).collect();
    let flags = w
        .events
        .iter()
        .map(|n| to_json(&n.flags))
        .collect::<Result<Vec<_>>>()?;
    let rows = q_all(
        tx,
        "INSERT INTO events (id, job_id, org_id, kind, event_json, server_received_at,
             corrected_at, flags_json)
         SELECT id, job_id, $1, kind, event_json, $2, corrected_at, flags_json
           FROM unnest($3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::timestamptz[],
                       $8::text[]) WITH ORDINALITY
             AS e(id, job_id, kind, event_json, corrected_at, flags_json, n)
          ORDER BY n
         ON CONFLICT (id) DO NOTHING RETURNING id, seq",
        &[&org, &at, &ids, &jobs, &kinds, &json, &corrected, &flags],
    )
    .await?;
    if rows.len() != ids.len() {
        return Ok(None);
    }
    let by_id: HashMap<Uuid, i64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    Ok(ids.iter().map(|id| by_id.get(id).copied()).collect())
}

async fn assignments(tx: &Tx<'_>, w: &Writes<'_>) -> Result<()> {
    if w.assignments.is_empty() {
        return Ok(());
    }
    let (jobs, technicians): (Vec<Uuid>, Vec<Uuid>) = w.assignments.iter().copied().unzip();
    exec(
        tx,
        "INSERT INTO job_technicians (job_id, technician_id)
         SELECT * FROM unnest($1::uuid[], $2::uuid[]) ON CONFLICT DO NOTHING",
        &[&jobs, &technicians],
    )
    .await?;
    Ok(())
}

async fn photos(tx: &Tx<'_>, org: Uuid, w: &Writes<'_>) -> Result<()> {
    if w.photos.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = w.photos.iter().map(|p| p.photo.photo_id).collect();
    let jobs: Vec<Uuid> = w.photos.iter().map(|p| p.job_id).collect();
    let categories: Vec<&str> = w.photos.iter().map(|p| p.photo.category.as_str()).collect();
    let hashes: Vec<&str> = w.photos.iter().map(|p| p.photo.sha256.as_str()).collect();
    let events: Vec<Uuid> = w.photos.iter().map(|p| p.event_id).collect();
    exec(
        tx,
        "INSERT INTO photos (photo_id, job_id, org_id, category, sha256, event_id)
         SELECT p, j, $1, c, h, e
           FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::uuid[])
             WITH ORDINALITY AS x(p, j, c, h, e, n)
          ORDER BY n
         ON CONFLICT DO NOTHING",
        &[&org, &ids, &jobs, &categories, &hashes, &events],
    )
    .await?;
    Ok(())
}

async fn rejections(tx: &Tx<'_>, org: Uuid, w: &Writes<'_>, at: DateTime<Utc>) -> Result<()> {
    if w.rejections.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = w.rejections.iter().map(|r| r.event.id).collect();
    let jobs: Vec<Uuid> = w.rejections.iter().map(|r| r.event.job_id).collect();
    let technicians: Vec<Option<Uuid>> = w.rejections.iter().map(|r| r.technician).collect();
    let rules: Vec<&str> = w.rejections.iter().map(|r| r.rule.as_str()).collect();
    let messages: Vec<&str> = w.rejections.iter().map(|r| r.message.as_str()).collect();
    let json = w
        .rejections
        .iter()
        .map(|r| to_json(r.event))
        .collect::<Result<Vec<_>>>()?;
    exec(
        tx,
        "INSERT INTO rejections (event_id, job_id, org_id, technician_id, rule, message,
             event_json, received_at)
         SELECT i, j, $1, t, r, m, e, $2
           FROM unnest($3::uuid[], $4::uuid[], $5::uuid[], $6::text[], $7::text[], $8::text[])
             AS x(i, j, t, r, m, e)
         ON CONFLICT DO NOTHING",
        &[
            &org,
            &at,
            &ids,
            &jobs,
            &technicians,
            &rules,
            &messages,
            &json,
        ],
    )
    .await?;
    Ok(())
}

/// For each `FeedRow::History`, in order: the job's event seqs up to the one named (this
/// batch's own events of the job included: they were inserted first, under the job's lock).
async fn history(tx: &Tx<'_>, w: &Writes<'_>, seqs: &[i64]) -> Result<Vec<Vec<i64>>> {
    let mut out = Vec::new();
    for row in &w.feed {
        if let FeedRow::History { job, through, .. } = *row {
            let rows = q_all(
                tx,
                "SELECT seq FROM events WHERE job_id = $1 AND seq <= $2 ORDER BY seq",
                &[&job, &seq(seqs, through)?],
            )
            .await?;
            out.push(rows.iter().map(|r| r.get(0)).collect());
        }
    }
    Ok(out)
}

//! A push on PostgreSQL: lock the batch's jobs, load what it touches, let
//! [`crate::ingest::plan`] decide, apply the writes. Every write is one statement over arrays
//! (`unnest`), and the statements of a step are pipelined: sent back to back without waiting
//! for each other's answers, executed by PostgreSQL one after the other in that order. A batch
//! of any length costs four round trips (begin, lock + load, apply, commit); it was several per
//! event (ADR 0011).

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use fieldcore::protocol::PushResult;
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, try_join_all};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::{LOCK_FEED, LOCK_JOB, PUSH_ATTEMPTS, from_json, is_retryable, lock_key, to_json};
use crate::ingest::{
    Batch, DeviceChain, FeedRow, Loaded, StoredEvent, StoredJob, Wanted, Writes, plan,
};
use crate::storage::{CommitGate, Result, StorageError};

type Tx<'a> = deadpool_postgres::Transaction<'a>;
type Param<'a> = &'a (dyn ToSql + Sync);

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
    let tx = client.transaction().await?;
    let loaded = lock_and_load(&tx, batch.org, &batch.wanted()).await?;
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

/// Advisory locks on `keys` (sorted, so two transactions never wait on each other in a cycle),
/// taken one after the other in that order.
const LOCK: &str = "SELECT pg_advisory_xact_lock($1, k)
                      FROM unnest($2::int4[]) WITH ORDINALITY AS l(k, n) ORDER BY n";

/// The sorted, distinct lock keys of `ids`.
fn lock_keys(ids: impl IntoIterator<Item = Uuid>) -> Vec<i32> {
    let keys: BTreeSet<i32> = ids.into_iter().map(lock_key).collect();
    keys.into_iter().collect()
}

/// Send the statements back to back and wait for all their answers. tokio-postgres sends a
/// request when its future is first polled, and `try_join_all` polls in order, so PostgreSQL
/// receives (and runs) them in the order given; the first error in that order is the one
/// returned (after it, the transaction only answers "aborted").
async fn pipeline<'a>(
    statements: Vec<BoxFuture<'a, std::result::Result<Vec<Row>, tokio_postgres::Error>>>,
) -> Result<Vec<Vec<Row>>> {
    Ok(try_join_all(statements).await?)
}

/// Lock the batch's jobs, then read its stored ids, its jobs and the writer's assignments: one
/// round trip. The job locks (per job, also covering jobs that do not exist yet, which a row
/// lock could not) are held to commit, so every read sees what the previous holder committed.
async fn lock_and_load(tx: &Tx<'_>, org: Uuid, wanted: &Wanted) -> Result<Loaded> {
    let keys = lock_keys(wanted.job_ids.iter().copied());
    let technician = wanted.technician.unwrap_or(Uuid::nil());
    let lock = tx.prepare_cached(LOCK).await?;
    let events = tx
        .prepare_cached("SELECT id, org_id, job_id FROM events WHERE id = ANY($1)")
        .await?;
    let jobs = tx
        .prepare_cached(
            "SELECT id, CASE WHEN org_id = $2 THEN view_json END FROM jobs WHERE id = ANY($1)",
        )
        .await?;
    let assigned = tx
        .prepare_cached(
            "SELECT job_id FROM job_technicians WHERE technician_id = $1 AND job_id = ANY($2)",
        )
        .await?;
    // Row-locked: two pushes of one device move its chain one after the other.
    let chain = tx
        .prepare_cached("SELECT public_key, chain_head FROM devices WHERE id = $1 FOR UPDATE")
        .await?;
    let device = wanted.device.unwrap_or(Uuid::nil());
    let p_chain: [Param<'_>; 1] = [&device];
    let refused = tx
        .prepare_cached("SELECT event_id FROM rejections WHERE event_id = ANY($1)")
        .await?;
    let p_refused: [Param<'_>; 1] = [&wanted.event_ids];
    let p_lock: [Param<'_>; 2] = [&LOCK_JOB, &keys];
    let p_events: [Param<'_>; 1] = [&wanted.event_ids];
    let p_jobs: [Param<'_>; 2] = [&wanted.job_ids, &org];
    let p_assigned: [Param<'_>; 2] = [&technician, &wanted.job_ids];
    let mut answers = pipeline(vec![
        tx.query(&lock, &p_lock).boxed(),
        tx.query(&events, &p_events).boxed(),
        tx.query(&jobs, &p_jobs).boxed(),
        tx.query(&assigned, &p_assigned).boxed(),
        tx.query(&chain, &p_chain).boxed(),
        tx.query(&refused, &p_refused).boxed(),
    ])
    .await?
    .into_iter()
    .skip(1);
    let mut next = || answers.next().unwrap_or_default();
    let mut loaded = Loaded::default();
    for r in next() {
        let home = StoredEvent {
            org: r.get(1),
            job: r.get(2),
        };
        loaded.events.insert(r.get(0), home);
    }
    for r in next() {
        let job = match r.get::<_, Option<&str>>(1) {
            Some(view) => StoredJob::Ours(Box::new(from_json(view)?)),
            None => StoredJob::Elsewhere,
        };
        loaded.jobs.insert(r.get(0), job);
    }
    let assigned = next();
    if wanted.technician.is_some() {
        loaded.assigned = assigned.iter().map(|r| r.get(0)).collect();
    }
    if let Some(r) = next().first() {
        loaded.chain = DeviceChain {
            public_key: r.get(0),
            head: r.get(1),
        };
    }
    loaded.rejected = next().iter().map(|r| r.get(0)).collect();
    Ok(loaded)
}

const UPSERT_VIEWS: &str =
    "INSERT INTO jobs (id, org_id, status, technician_id, view_json, created_at, updated_at)
     SELECT id, $1, status, technician_id, view_json, $2, $2
       FROM unnest($3::uuid[], $4::text[], $5::uuid[], $6::text[])
         AS v(id, status, technician_id, view_json)
     ON CONFLICT (id) DO UPDATE SET status = excluded.status,
         technician_id = excluded.technician_id, view_json = excluded.view_json,
         updated_at = excluded.updated_at";

/// In the plan's order, so their `seq`s grow in that order; an id stored meanwhile is skipped
/// (and the caller runs the batch again).
const INSERT_EVENTS: &str = "INSERT INTO events (id, job_id, org_id, kind, event_json,
         server_received_at, corrected_at, flags_json, device_id, device_seq)
     SELECT id, job_id, $1, kind, event_json, $2, corrected_at, flags_json, device_id,
            device_seq
       FROM unnest($3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::timestamptz[],
                   $8::text[], $9::uuid[], $10::bigint[]) WITH ORDINALITY
         AS e(id, job_id, kind, event_json, corrected_at, flags_json, device_id, device_seq, n)
      ORDER BY n
     ON CONFLICT (id) DO NOTHING RETURNING id";

const INSERT_ASSIGNMENTS: &str = "INSERT INTO job_technicians (job_id, technician_id)
     SELECT * FROM unnest($1::uuid[], $2::uuid[]) ON CONFLICT DO NOTHING";

const INSERT_PHOTOS: &str =
    "INSERT INTO photos (photo_id, job_id, org_id, category, sha256, event_id)
     SELECT p, j, $1, c, h, e
       FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::uuid[])
         WITH ORDINALITY AS x(p, j, c, h, e, n)
      ORDER BY n
     ON CONFLICT DO NOTHING";

const INSERT_REJECTIONS: &str = "INSERT INTO rejections (event_id, job_id, org_id,
         technician_id, rule, message, event_json, received_at, device_id, device_seq)
     SELECT i, j, $1, t, r, m, e, $2, d, s
       FROM unnest($3::uuid[], $4::uuid[], $5::uuid[], $6::text[], $7::text[], $8::text[],
                   $9::uuid[], $10::bigint[])
         AS x(i, j, t, r, m, e, d, s)
     ON CONFLICT DO NOTHING";

const DEVICE_SEEN: &str = "UPDATE devices SET last_seen_at = $2 WHERE id = $1";

/// Feed rows in the plan's order, each naming an event by id: the event itself, or (a
/// `FeedRow::History`) the job's whole log up to and including it, this batch's own events of
/// the job among them (inserted first, under the job's lock).
const INSERT_FEED: &str = "INSERT INTO feed (technician_id, event_seq)
     SELECT f.t, h.seq
       FROM unnest($1::uuid[], $2::uuid[], $3::bool[]) WITH ORDINALITY AS f(t, eid, history, n)
       JOIN events x ON x.id = f.eid
       CROSS JOIN LATERAL (
           SELECT x.seq WHERE NOT f.history
           UNION ALL
           SELECT e.seq FROM events e WHERE f.history AND e.job_id = x.job_id AND e.seq <= x.seq
       ) AS h(seq)
      ORDER BY f.n, h.seq";

/// Write the plan in one round trip; `false`: one of its events was stored meanwhile (raced),
/// so the caller rolls back and runs the batch again.
async fn apply(tx: &Tx<'_>, org: Uuid, w: &Writes<'_>, at: DateTime<Utc>) -> Result<bool> {
    let mut st = Vec::new();
    for sql in [
        UPSERT_VIEWS,
        INSERT_EVENTS,
        INSERT_ASSIGNMENTS,
        INSERT_PHOTOS,
        INSERT_REJECTIONS,
        DEVICE_SEEN,
        LOCK,
        INSERT_FEED,
    ] {
        st.push(tx.prepare_cached(sql).await?);
    }
    let views = (
        w.views.iter().map(|v| v.id).collect::<Vec<Uuid>>(),
        w.views
            .iter()
            .map(|v| v.status().as_str())
            .collect::<Vec<&str>>(),
        w.views
            .iter()
            .map(|v| v.technician_id)
            .collect::<Vec<Option<Uuid>>>(),
        w.views.iter().map(to_json).collect::<Result<Vec<_>>>()?,
    );
    let events = (
        w.events.iter().map(|n| n.event.id).collect::<Vec<Uuid>>(),
        w.events
            .iter()
            .map(|n| n.event.job_id)
            .collect::<Vec<Uuid>>(),
        w.events
            .iter()
            .map(|n| n.event.body.kind().as_str())
            .collect::<Vec<&str>>(),
        w.events
            .iter()
            .map(|n| to_json(n.event))
            .collect::<Result<Vec<_>>>()?,
        w.events
            .iter()
            .map(|n| n.event.at())
            .collect::<Vec<DateTime<Utc>>>(),
        w.events
            .iter()
            .map(|n| to_json(&n.flags))
            .collect::<Result<Vec<_>>>()?,
        w.events
            .iter()
            .map(|n| super::super::chain_place(n.event, None))
            .unzip::<_, _, Vec<Option<Uuid>>, Vec<Option<i64>>>(),
    );
    let (assigned_jobs, assigned_to): (Vec<Uuid>, Vec<Uuid>) =
        w.assignments.iter().copied().unzip();
    let photos = (
        w.photos
            .iter()
            .map(|p| p.photo.photo_id)
            .collect::<Vec<Uuid>>(),
        w.photos.iter().map(|p| p.job_id).collect::<Vec<Uuid>>(),
        w.photos
            .iter()
            .map(|p| p.photo.category.as_str())
            .collect::<Vec<&str>>(),
        w.photos
            .iter()
            .map(|p| p.photo.sha256.as_str())
            .collect::<Vec<&str>>(),
        w.photos.iter().map(|p| p.event_id).collect::<Vec<Uuid>>(),
    );
    let rejections = (
        w.rejections
            .iter()
            .map(|r| r.event.id)
            .collect::<Vec<Uuid>>(),
        w.rejections
            .iter()
            .map(|r| r.event.job_id)
            .collect::<Vec<Uuid>>(),
        w.rejections
            .iter()
            .map(|r| r.technician)
            .collect::<Vec<Option<Uuid>>>(),
        w.rejections
            .iter()
            .map(|r| r.rule.as_str())
            .collect::<Vec<&str>>(),
        w.rejections
            .iter()
            .map(|r| r.message.as_str())
            .collect::<Vec<&str>>(),
        w.rejections
            .iter()
            .map(|r| to_json(r.event))
            .collect::<Result<Vec<_>>>()?,
        w.rejections
            .iter()
            .map(|r| super::super::chain_place(r.event, Some(&r.rule)))
            .unzip::<_, _, Vec<Option<Uuid>>, Vec<Option<i64>>>(),
    );
    let mut feed = (Vec::new(), Vec::new(), Vec::new());
    for row in &w.feed {
        let (technician, event, history) = match *row {
            FeedRow::Event { technician, event } => (technician, event, false),
            FeedRow::History {
                technician,
                through,
                ..
            } => (technician, through, true),
        };
        let id = w
            .events
            .get(event)
            .map(|n| n.event.id)
            .ok_or_else(|| StorageError::Corrupt(format!("feed row names event {event}")))?;
        feed.0.push(technician);
        feed.1.push(id);
        feed.2.push(history);
    }
    // Per technician, held until commit: see the module comment on feed positions.
    let feed_keys = lock_keys(feed.0.iter().copied());
    let p: [&[Param<'_>]; 8] = [
        &[&org, &at, &views.0, &views.1, &views.2, &views.3],
        &[
            &org,
            &at,
            &events.0,
            &events.1,
            &events.2,
            &events.3,
            &events.4,
            &events.5,
            &events.6.0,
            &events.6.1,
        ],
        &[&assigned_jobs, &assigned_to],
        &[&org, &photos.0, &photos.1, &photos.2, &photos.3, &photos.4],
        &[
            &org,
            &at,
            &rejections.0,
            &rejections.1,
            &rejections.2,
            &rejections.3,
            &rejections.4,
            &rejections.5,
            &rejections.6.0,
            &rejections.6.1,
        ],
        &[&w.device_seen, &at],
        &[&LOCK_FEED, &feed_keys],
        &[&feed.0, &feed.1, &feed.2],
    ];
    let answers = pipeline(
        st.iter()
            .zip(p)
            .map(|(st, p)| tx.query(st, p).boxed())
            .collect(),
    )
    .await?;
    let stored = answers.get(1).map_or(0, Vec::len);
    if stored != w.events.len() {
        return Ok(false);
    }
    if let Some((device, key)) = &w.register_key {
        tx.execute(
            "UPDATE devices SET public_key = $2 WHERE id = $1 AND public_key IS NULL",
            &[device, key],
        )
        .await?;
    }
    if let Some((device, head)) = &w.chain_head {
        tx.execute(
            "UPDATE devices SET chain_head = $2 WHERE id = $1",
            &[device, head],
        )
        .await?;
    }
    fan_out_webhooks(tx, org, w, at).await?;
    Ok(true)
}

const INSERT_DELIVERIES: &str = "INSERT INTO webhook_deliveries (id, endpoint_id, org_id,
         event_id, job_id, event_type, created_at, next_attempt_at)
     SELECT i, p, $1, e, j, t, $2, $2
       FROM unnest($3::uuid[], $4::uuid[], $5::uuid[], $6::uuid[], $7::text[]) AS x(i, p, e, j, t)
     ON CONFLICT DO NOTHING";

/// The outbox: a delivery per stored event and subscribed endpoint, in this transaction
/// (`crate::webhooks`). Batches with no event a webhook could carry skip the endpoints' read.
async fn fan_out_webhooks(tx: &Tx<'_>, org: Uuid, w: &Writes<'_>, at: DateTime<Utc>) -> Result<()> {
    if !w
        .events
        .iter()
        .any(|n| crate::webhooks::WebhookEvent::of(n.event.body.kind()).is_some())
    {
        return Ok(());
    }
    // KEY SHARE: an endpoint deleted meanwhile waits for this push, then takes its new
    // deliveries with it (instead of failing the push on the foreign key).
    let rows = tx
        .query(
            "SELECT id, events_json, ordering_party FROM webhook_endpoints WHERE org_id = $1
             FOR KEY SHARE",
            &[&org],
        )
        .await?;
    if rows.is_empty() {
        return Ok(());
    }
    let endpoints = rows
        .iter()
        .map(|r| {
            Ok(crate::webhooks::Subscription {
                endpoint_id: r.get(0),
                events: from_json(r.get::<_, &str>(1))?,
                ordering_party: r.get(2),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let events = w.events.iter().map(|n| (n.event, n.flags.as_slice()));
    let d = crate::webhooks::fan_out(&endpoints, events, |job| w.ordering_party(job));
    if d.is_empty() {
        return Ok(());
    }
    let cols = (
        d.iter().map(|d| d.id).collect::<Vec<Uuid>>(),
        d.iter().map(|d| d.endpoint_id).collect::<Vec<Uuid>>(),
        d.iter().map(|d| d.event_id).collect::<Vec<Uuid>>(),
        d.iter().map(|d| d.job_id).collect::<Vec<Uuid>>(),
        d.iter()
            .map(|d| d.event_type.as_str())
            .collect::<Vec<&str>>(),
    );
    tx.execute(
        INSERT_DELIVERIES,
        &[&org, &at, &cols.0, &cols.1, &cols.2, &cols.3, &cols.4],
    )
    .await?;
    Ok(())
}

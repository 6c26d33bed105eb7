//! A push on SQLite: load what the batch touches, let [`crate::ingest::plan`] decide, apply the
//! writes; one `BEGIN IMMEDIATE` transaction on the single writer.

use chrono::{DateTime, Utc};
use fieldcore::domain::JobView;
use fieldcore::protocol::PushResult;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use uuid::Uuid;

use super::{CommitDelay, from_json, parse_uuid, to_json, ts};
use crate::ingest::{
    Batch, DeviceChain, FeedRow, Loaded, StoredEvent, StoredJob, Wanted, Writes, plan,
};
use crate::storage::{CommitGate, Result, StorageError};
use crate::webhooks::Subscription;

/// Decide and store one batch, or nothing of it: see `Storage::append_events`.
pub(super) fn append_tx(
    conn: &mut Connection,
    batch: Batch<'_>,
    received_at: DateTime<Utc>,
    gate: &CommitGate,
    hold: CommitDelay,
) -> Result<Vec<PushResult>> {
    if gate.is_cancelled() {
        // The request gave up while this write waited for the writer: do nothing.
        return Err(StorageError::Busy);
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let loaded = load(&tx, batch.org, &batch.wanted())?;
    let plan = plan(batch, loaded)?;
    let Some(writes) = plan.writes else {
        // A refused desk request: nothing of it is stored (`tx` rolls back).
        return Ok(plan.results);
    };
    apply(&tx, batch.org, &writes, received_at)?;
    if let Some(hold) = hold.get() {
        std::thread::sleep(hold);
    }
    if !gate.begin_commit() {
        // Dropping `tx` rolls back: the request was (or is being) answered "not stored".
        return Err(StorageError::Busy);
    }
    tx.commit()?;
    Ok(plan.results)
}

fn load(tx: &Connection, org: Uuid, wanted: &Wanted) -> Result<Loaded> {
    let mut loaded = Loaded::default();
    let mut event = tx.prepare_cached("SELECT org_id, job_id FROM events WHERE id = ?1")?;
    if wanted.device.is_some() {
        let mut refused =
            tx.prepare_cached("SELECT EXISTS(SELECT 1 FROM rejections WHERE event_id = ?1)")?;
        for id in &wanted.event_ids {
            if refused.query_row([id.to_string()], |r| r.get::<_, bool>(0))? {
                loaded.rejected.insert(*id);
            }
        }
    }
    for id in &wanted.event_ids {
        let row: Option<(String, String)> = event
            .query_row([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if let Some((o, j)) = row {
            let home = StoredEvent {
                org: parse_uuid(&o)?,
                job: parse_uuid(&j)?,
            };
            loaded.events.insert(*id, home);
        }
    }
    let mut job = tx.prepare_cached(
        "SELECT CASE WHEN org_id = ?2 THEN view_json END FROM jobs WHERE id = ?1",
    )?;
    let mut assigned = tx.prepare_cached(
        "SELECT EXISTS(SELECT 1 FROM job_technicians WHERE job_id = ?1 AND technician_id = ?2)",
    )?;
    for id in &wanted.job_ids {
        let row: Option<Option<String>> = job
            .query_row(params![id.to_string(), org.to_string()], |r| r.get(0))
            .optional()?;
        let stored = match row {
            None => continue,
            Some(None) => StoredJob::Elsewhere,
            Some(Some(view)) => StoredJob::Ours(Box::new(from_json(&view)?)),
        };
        loaded.jobs.insert(*id, stored);
        if let Some(t) = wanted.technician
            && assigned.query_row(params![id.to_string(), t.to_string()], |r| r.get(0))?
        {
            loaded.assigned.insert(*id);
        }
    }
    if let Some(device) = wanted.device {
        let chain = tx
            .prepare_cached("SELECT public_key, chain_head FROM devices WHERE id = ?1")?
            .query_row([device.to_string()], |r| {
                Ok(DeviceChain {
                    public_key: r.get(0)?,
                    head: r.get(1)?,
                })
            })
            .optional()?;
        loaded.chain = chain.unwrap_or_default();
    }
    Ok(loaded)
}

fn apply(tx: &Connection, org: Uuid, w: &Writes<'_>, received_at: DateTime<Utc>) -> Result<()> {
    let (org, at) = (org.to_string(), ts(received_at));
    for view in &w.views {
        write_view(tx, &org, view, &at)?;
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO events (id, job_id, org_id, kind, event_json, server_received_at,
             corrected_at, flags_json, device_id, device_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    let mut seqs = Vec::with_capacity(w.events.len());
    for new in &w.events {
        let e = new.event;
        let (device, device_seq) = super::super::chain_place(e, None);
        insert.execute(params![
            e.id.to_string(),
            e.job_id.to_string(),
            org,
            e.body.kind().as_str(),
            to_json(e)?,
            at,
            ts(e.at()),
            to_json(&new.flags)?,
            device.map(|d| d.to_string()),
            device_seq,
        ])?;
        seqs.push(tx.last_insert_rowid());
    }
    for (job, technician) in &w.assignments {
        tx.prepare_cached(
            "INSERT OR IGNORE INTO job_technicians (job_id, technician_id) VALUES (?1, ?2)",
        )?
        .execute(params![job.to_string(), technician.to_string()])?;
    }
    for p in &w.photos {
        tx.prepare_cached(
            "INSERT OR IGNORE INTO photos (photo_id, job_id, org_id, category, sha256, event_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            p.photo.photo_id.to_string(),
            p.job_id.to_string(),
            org,
            p.photo.category.as_str(),
            p.photo.sha256,
            p.event_id.to_string(),
        ])?;
    }
    for r in &w.rejections {
        tx.prepare_cached(
            "INSERT OR IGNORE INTO rejections (event_id, job_id, org_id, technician_id,
                 rule, message, event_json, received_at, device_id, device_seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(params![
            r.event.id.to_string(),
            r.event.job_id.to_string(),
            org,
            r.technician.map(|t| t.to_string()),
            r.rule,
            r.message,
            to_json(r.event)?,
            at,
            super::super::chain_place(r.event, Some(&r.rule))
                .0
                .map(|d| d.to_string()),
            super::super::chain_place(r.event, Some(&r.rule)).1,
        ])?;
    }
    fan_out_webhooks(tx, &org, w, &at)?;
    if let Some((device, key)) = &w.register_key {
        tx.prepare_cached(
            "UPDATE devices SET public_key = ?2 WHERE id = ?1 AND public_key IS NULL",
        )?
        .execute(params![device.to_string(), key])?;
    }
    if let Some((device, head)) = &w.chain_head {
        tx.prepare_cached("UPDATE devices SET chain_head = ?2 WHERE id = ?1")?
            .execute(params![device.to_string(), head])?;
    }
    if let Some(device) = w.device_seen {
        tx.prepare_cached("UPDATE devices SET last_seen_at = ?2 WHERE id = ?1")?
            .execute(params![device.to_string(), at])?;
    }
    let seq = |i: usize| {
        seqs.get(i)
            .copied()
            .ok_or_else(|| StorageError::Corrupt(format!("feed row names event {i}")))
    };
    for row in &w.feed {
        match *row {
            FeedRow::Event { technician, event } => {
                tx.prepare_cached("INSERT INTO feed (technician_id, event_seq) VALUES (?1, ?2)")?
                    .execute(params![technician.to_string(), seq(event)?])?;
            }
            FeedRow::History {
                technician,
                job,
                through,
            } => {
                tx.prepare_cached(
                    "INSERT INTO feed (technician_id, event_seq)
                     SELECT ?1, seq FROM events WHERE job_id = ?2 AND seq <= ?3 ORDER BY seq",
                )?
                .execute(params![
                    technician.to_string(),
                    job.to_string(),
                    seq(through)?
                ])?;
            }
        }
    }
    Ok(())
}

/// The job's row with its view, status and technician.
fn write_view(tx: &Connection, org: &str, view: &JobView, at: &str) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO jobs (id, org_id, status, technician_id, view_json, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
         ON CONFLICT(id) DO UPDATE SET status = excluded.status,
             technician_id = excluded.technician_id, view_json = excluded.view_json,
             updated_at = excluded.updated_at",
    )?
    .execute(params![
        view.id.to_string(),
        org,
        view.status().as_str(),
        view.technician_id.map(|t| t.to_string()),
        to_json(view)?,
        at,
    ])?;
    Ok(())
}

/// The outbox: a delivery per stored event and subscribed endpoint, in this transaction
/// (`crate::webhooks`). One read of the organisation's endpoints per batch.
fn fan_out_webhooks(tx: &Connection, org: &str, w: &Writes<'_>, at: &str) -> Result<()> {
    if w.events.is_empty() {
        return Ok(());
    }
    let endpoints: Vec<(String, String, Option<String>)> = tx
        .prepare_cached(
            "SELECT id, events_json, ordering_party FROM webhook_endpoints WHERE org_id = ?1",
        )?
        .query_map([org], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let endpoints = endpoints
        .into_iter()
        .map(|(id, events, ordering_party)| {
            Ok(Subscription {
                endpoint_id: parse_uuid(&id)?,
                events: from_json(&events)?,
                ordering_party,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let events = w.events.iter().map(|n| (n.event, n.flags.as_slice()));
    let mut insert = tx.prepare_cached(
        "INSERT OR IGNORE INTO webhook_deliveries (id, endpoint_id, org_id, event_id, job_id,
             event_type, created_at, next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
    )?;
    for d in crate::webhooks::fan_out(&endpoints, events, |job| w.ordering_party(job)) {
        insert.execute(params![
            d.id.to_string(),
            d.endpoint_id.to_string(),
            org,
            d.event_id.to_string(),
            d.job_id.to_string(),
            d.event_type.as_str(),
            at,
        ])?;
    }
    Ok(())
}

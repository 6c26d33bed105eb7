//! Who may write an upload's bytes right now: one tus PATCH (or DELETE) at a time, kept apart
//! from the data the storage holds, as tusd keeps its locker apart from its data store. A lease,
//! not a lock: it lapses after silence, so a phone that lost its network mid-PATCH resumes
//! from another network (or another process) within seconds.
//!
//! Two keepers: [`MemoryLeases`] for the embedded default (one process: two fsynced writes per
//! PATCH would queue behind every push on the single writer), and the `uploads` row on
//! PostgreSQL (`postgres::PgStorage`), which every process sees.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Result;

#[async_trait]
pub trait UploadLeases: Send + Sync + std::fmt::Debug {
    /// Take the right to write the upload's bytes until `until`; `false` while another request
    /// holds an unexpired lease.
    async fn take(
        &self,
        id: Uuid,
        token: Uuid,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool>;
    /// Extend a lease `token` still holds to `until`; `false` if it was taken over or released
    /// meanwhile (even if it is free again: another writer may have moved the bytes, so the old
    /// holder must not write another one).
    async fn renew(&self, id: Uuid, token: Uuid, until: DateTime<Utc>) -> Result<bool>;
    /// Give the lease back (a no-op if `token` no longer holds it).
    async fn release(&self, id: Uuid, token: Uuid) -> Result<()>;
}

/// One process's leases: upload id → (holder, expiry).
#[derive(Debug, Default)]
pub struct MemoryLeases(Mutex<HashMap<Uuid, (Uuid, DateTime<Utc>)>>);

impl MemoryLeases {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, (Uuid, DateTime<Utc>)>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `token` holds the upload's lease at `now` (checked before an offset moves).
    pub fn holds(&self, id: Uuid, token: Uuid, now: DateTime<Utc>) -> bool {
        self.map()
            .get(&id)
            .is_some_and(|(holder, until)| *holder == token && *until > now)
    }
}

#[async_trait]
impl UploadLeases for MemoryLeases {
    async fn take(
        &self,
        id: Uuid,
        token: Uuid,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool> {
        let mut leases = self.map();
        match leases.get(&id) {
            Some((holder, expires)) if *holder != token && *expires > now => Ok(false),
            _ => {
                leases.insert(id, (token, until));
                Ok(true)
            }
        }
    }

    async fn renew(&self, id: Uuid, token: Uuid, until: DateTime<Utc>) -> Result<bool> {
        match self.map().get_mut(&id) {
            Some((holder, expires)) if *holder == token => {
                *expires = until;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn release(&self, id: Uuid, token: Uuid) -> Result<()> {
        let mut leases = self.map();
        if leases.get(&id).is_some_and(|(holder, _)| *holder == token) {
            leases.remove(&id);
        }
        Ok(())
    }
}

//! "A job changed": the signal that lets the dispatcher console update live.
//!
//! Whoever stores something about a job (a device push, a desk action, a finished photo upload)
//! calls [`ChangeNotifier::notify`] after the transaction committed; the console's server-sent
//! event stream [`ChangeNotifier::subscribe`]s per organisation and tells the browser to re-fetch.
//!
//! The signal carries ids only, never data: a receiver re-reads the job through `Storage`, so a
//! lost or duplicated signal costs a refresh, never correctness. That is what lets a multi-process
//! deployment swap [`InProcess`] for a database-backed implementation (PostgreSQL
//! `LISTEN`/`NOTIFY`: `notify` sends on a channel, one listener task per process feeds the local
//! broadcast channels) without anything above it changing.

mod postgres;

pub use postgres::Postgres;

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::broadcast;
use uuid::Uuid;

/// One job of one organisation changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub organisation_id: Uuid,
    pub job_id: Uuid,
}

/// Contract: `notify` never blocks and never fails the caller (the data is already stored; a
/// missed signal only delays a screen). `subscribe` yields every change of that organisation
/// notified after the call, in any process sharing the storage, and nothing of other
/// organisations. A slow receiver may see `RecvError::Lagged`, which means "refresh everything".
pub trait ChangeNotifier: Send + Sync + std::fmt::Debug {
    fn notify(&self, organisation_id: Uuid, job_id: Uuid);
    fn subscribe(&self, organisation_id: Uuid) -> broadcast::Receiver<Change>;
}

/// How many signals a subscriber may fall behind before it is told it lagged.
const CAPACITY: usize = 256;

/// One broadcast channel per organisation, in this process only: right for the single-process
/// SQLite deployment.
#[derive(Debug, Default)]
pub struct InProcess {
    channels: Mutex<HashMap<Uuid, broadcast::Sender<Change>>>,
}

impl InProcess {
    fn sender(&self, organisation_id: Uuid) -> broadcast::Sender<Change> {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        // Forget organisations nobody watches any more, so the map does not grow forever.
        channels.retain(|org, tx| *org == organisation_id || tx.receiver_count() > 0);
        channels
            .entry(organisation_id)
            .or_insert_with(|| broadcast::channel(CAPACITY).0)
            .clone()
    }
}

impl ChangeNotifier for InProcess {
    fn notify(&self, organisation_id: Uuid, job_id: Uuid) {
        let tx = self.sender(organisation_id);
        // No receivers is normal (nobody has the console open).
        let _ = tx.send(Change {
            organisation_id,
            job_id,
        });
    }

    fn subscribe(&self, organisation_id: Uuid) -> broadcast::Receiver<Change> {
        self.sender(organisation_id).subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_get_their_organisation_only() {
        let n = InProcess::default();
        let (a, b, job) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let mut rx_a = n.subscribe(a);
        let mut rx_b = n.subscribe(b);
        n.notify(a, job);
        assert_eq!(
            rx_a.recv().await.unwrap(),
            Change {
                organisation_id: a,
                job_id: job
            }
        );
        assert!(rx_b.try_recv().is_err());
    }
}

//! [`ChangeNotifier`] across processes: PostgreSQL `LISTEN`/`NOTIFY`.
//!
//! `notify` hands the change to a sender task (so it never blocks the caller) which runs
//! `pg_notify` on its own connection; every process keeps one listening connection whose
//! notifications feed its local [`InProcess`] channels, its own included. Both connections
//! reconnect after a failure. A change notified while the listening connection was down is
//! lost, which the trait allows: a signal carries no data, and the console re-reads the board
//! on the next one.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{broadcast, mpsc};
use tokio_postgres::{AsyncMessage, NoTls};
use uuid::Uuid;

use super::{Change, ChangeNotifier, InProcess};

const CHANNEL: &str = "fieldcore_changes";

#[derive(Debug)]
pub struct Postgres {
    local: Arc<InProcess>,
    outgoing: mpsc::UnboundedSender<Change>,
}

impl Postgres {
    /// Start the listener and sender tasks on the current tokio runtime.
    pub fn start(url: &str) -> anyhow::Result<Postgres> {
        let config: tokio_postgres::Config = url.parse()?;
        let local = Arc::new(InProcess::default());
        let (outgoing, rx) = mpsc::unbounded_channel();
        tokio::spawn(listen(config.clone(), local.clone()));
        tokio::spawn(send(config, rx));
        Ok(Postgres { local, outgoing })
    }
}

impl ChangeNotifier for Postgres {
    fn notify(&self, organisation_id: Uuid, job_id: Uuid) {
        let _ = self.outgoing.send(Change {
            organisation_id,
            job_id,
        });
    }

    fn subscribe(&self, organisation_id: Uuid) -> broadcast::Receiver<Change> {
        self.local.subscribe(organisation_id)
    }
}

async fn send(config: tokio_postgres::Config, mut rx: mpsc::UnboundedReceiver<Change>) {
    let mut pending: Option<Change> = None;
    loop {
        let client = match config.connect(NoTls).await {
            Ok((client, connection)) => {
                tokio::spawn(connection);
                client
            }
            Err(e) => {
                tracing::warn!(error = %e, "change notifier: cannot connect; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        loop {
            let change = match pending.take() {
                Some(c) => c,
                None => match rx.recv().await {
                    Some(c) => c,
                    None => return,
                },
            };
            let payload = format!("{}:{}", change.organisation_id, change.job_id);
            if let Err(e) = client
                .execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])
                .await
            {
                tracing::warn!(error = %e, "change notifier: NOTIFY failed; reconnecting");
                pending = Some(change);
                break;
            }
        }
    }
}

async fn listen(config: tokio_postgres::Config, local: Arc<InProcess>) {
    loop {
        match config.connect(NoTls).await {
            Ok((client, mut connection)) => {
                let (tx, mut rx) = mpsc::unbounded_channel();
                let pump = tokio::spawn(async move {
                    let mut messages =
                        futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
                    while let Some(Ok(message)) = messages.next().await {
                        if let AsyncMessage::Notification(n) = message {
                            let _ = tx.send(n.payload().to_string());
                        }
                    }
                });
                if client
                    .batch_execute(&format!("LISTEN {CHANNEL}"))
                    .await
                    .is_ok()
                {
                    while let Some(payload) = rx.recv().await {
                        if let Some((org, job)) = payload.split_once(':')
                            && let (Ok(org), Ok(job)) = (org.parse(), job.parse())
                        {
                            local.notify(org, job);
                        }
                    }
                }
                pump.abort();
                tracing::warn!("change listener: connection lost; reconnecting");
            }
            Err(e) => tracing::warn!(error = %e, "change listener: cannot connect; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

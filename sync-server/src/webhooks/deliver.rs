//! The outbox's sender: claims the deliveries due (a lease, so two server processes never send
//! the same one at once), POSTs each, and records what came of it. At least once: a receiver
//! that answered 2xx but whose answer was lost, or a process that died before recording it,
//! gets the delivery again, with the same `webhook-id`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;

use super::{Attempt, DueDelivery, payload, signature};
use crate::AppState;

/// At most this many deliveries in flight per process: a stalled receiver holds a slot only
/// until its timeout, and never holds up the others' sends.
const IN_FLIGHT: usize = 32;

/// Claim what is due now, as many as there are free slots, and start sending each; returns
/// how many were started (their attempts finish in their own tasks).
pub async fn run_once(
    state: &AppState,
    http: &reqwest::Client,
    slots: &Arc<Semaphore>,
) -> anyhow::Result<usize> {
    let free = slots.available_permits();
    if free == 0 {
        return Ok(0);
    }
    let c = &state.config;
    let now = c.clock.now();
    // Longer than an attempt can take, so a lease never lapses while its request runs.
    let lease = chrono::Duration::seconds(i64::try_from(c.webhook_timeout_secs).unwrap_or(60))
        + chrono::Duration::seconds(30);
    let due = state
        .storage
        .claim_deliveries(now, now + lease, free)
        .await?;
    let n = due.len();
    for d in due {
        let permit = slots.clone().acquire_owned().await?;
        let (state, http) = (state.clone(), http.clone());
        tokio::spawn(async move {
            let attempt = send(&state, &http, &d).await;
            let now = state.config.clock.now();
            if let Err(e) = state
                .storage
                .finish_delivery(d.id, d.lease, attempt, now)
                .await
            {
                // The lease lapses and the delivery goes again: at least once.
                tracing::warn!(delivery = %d.id, error = %e, "recording a webhook attempt failed");
            }
            drop(permit);
        });
    }
    Ok(n)
}

async fn send(state: &AppState, http: &reqwest::Client, d: &DueDelivery) -> Attempt {
    let c = &state.config;
    let failed = |status: Option<u16>, error: String| Attempt::Failed {
        status,
        error,
        retry_at: retry_at(c, d.attempts + 1, c.clock.now()),
    };
    let body = match payload(d) {
        Ok(b) => b,
        Err(e) => return failed(None, format!("the stored event is unreadable: {e}")),
    };
    if !c.webhook_allow_private_networks
        && let Some(ip) = super::destination::private_literal(&d.url)
    {
        return failed(None, format!("{ip} is not a public address"));
    }
    let id = d.id.to_string();
    let timestamp = c.clock.now().timestamp();
    let request = http
        .post(&d.url)
        .timeout(Duration::from_secs(c.webhook_timeout_secs.max(1)))
        .header("content-type", "application/json")
        .header("user-agent", "fieldcore-webhooks/1")
        .header("webhook-id", &id)
        .header("webhook-timestamp", timestamp.to_string())
        .header(
            "webhook-signature",
            signature(&d.secret, &id, timestamp, &body),
        )
        .body(body);
    match request.send().await {
        Ok(res) if res.status().is_success() => Attempt::Delivered {
            status: res.status().as_u16(),
        },
        // The status only: a receiver's answer body is never kept or shown, so a webhook
        // cannot be used to read a page from wherever it points.
        Ok(res) => failed(
            Some(res.status().as_u16()),
            format!("answered {}", res.status()),
        ),
        Err(e) if e.is_timeout() => failed(None, "no answer in time".into()),
        Err(e) => failed(None, format!("could not reach it: {}", causes(&e))),
    }
}

/// An error with its causes, `a: b: c`: reqwest's own message names only the URL.
fn causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        out = format!("{out}: {cause}");
        next = cause.source();
    }
    out
}

/// When attempt number `attempts + 1` goes, after `attempts` failed; `None` when they are all
/// spent. The backoff doubles from `webhook_backoff_ms` up to `webhook_max_backoff_secs`.
pub fn retry_at(
    c: &crate::config::Config,
    attempts: u32,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if attempts >= c.webhook_max_attempts {
        return None;
    }
    let cap = c.webhook_max_backoff_secs.saturating_mul(1000).max(1);
    let wait = c
        .webhook_backoff_ms
        .saturating_mul(1u64 << attempts.saturating_sub(1).min(40))
        .min(cap);
    Some(now + chrono::Duration::milliseconds(i64::try_from(wait).unwrap_or(i64::MAX / 2)))
}

/// The client deliveries go out with: no redirects, no proxy, and unless private networks are
/// allowed, names resolved to public addresses only (`destination`).
pub fn client(config: &crate::config::Config) -> anyhow::Result<reqwest::Client> {
    let mut http = reqwest::Client::builder()
        // A receiver's redirect is not followed: the desk configured this URL, and a redirect
        // could lead anywhere.
        .redirect(reqwest::redirect::Policy::none())
        // Straight to the receiver: a proxy would resolve names past the guard.
        .no_proxy();
    if !config.webhook_allow_private_networks {
        http = http.dns_resolver(Arc::new(super::destination::PublicOnly));
    }
    Ok(http.build()?)
}

/// Runs [`run_once`] every `webhook_poll_ms` until the server stops.
pub fn spawn(state: AppState, http: reqwest::Client) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let slots = Arc::new(Semaphore::new(IN_FLIGHT));
        let every = Duration::from_millis(state.config.webhook_poll_ms.max(10));
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = run_once(&state, &http, &slots).await {
                tracing::warn!(error = %e, "webhook deliveries");
            }
        }
    })
}

//! Webhooks for ordering parties: per organisation, endpoints subscribe to job events; each
//! matching event becomes a delivery row **in the same transaction that stores the event** (a
//! durable outbox: no event is stored without its deliveries, none delivered that was not
//! stored), and [`deliver`] sends the rows with retries and backoff (ADR 0015).
//!
//! Deliveries follow the Standard Webhooks signing scheme (the one Svix and others publish):
//! `webhook-id` (the delivery's id, the same on every retry, so a receiver drops duplicates by
//! it), `webhook-timestamp` (Unix seconds, so a receiver refuses replays) and
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` with the endpoint's
//! secret.

pub mod deliver;
pub mod destination;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use fieldcore::domain::{ActionKind, Event};
use fieldcore::protocol::EventFlag;
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The job events an endpoint may subscribe to: what an ordering party acts on.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum WebhookEvent {
    #[serde(rename = "job.created")]
    JobCreated,
    #[serde(rename = "goods.picked_up")]
    GoodsPickedUp,
    #[serde(rename = "visit.checked_in")]
    CheckedIn,
    #[serde(rename = "exception.raised")]
    ExceptionRaised,
    #[serde(rename = "exception.decided")]
    ExceptionDecided,
    #[serde(rename = "job.completed")]
    JobCompleted,
    #[serde(rename = "job.cancelled")]
    JobCancelled,
    #[serde(rename = "complaint.filed")]
    ComplaintFiled,
}

impl WebhookEvent {
    pub const ALL: [WebhookEvent; 8] = [
        WebhookEvent::JobCreated,
        WebhookEvent::GoodsPickedUp,
        WebhookEvent::CheckedIn,
        WebhookEvent::ExceptionRaised,
        WebhookEvent::ExceptionDecided,
        WebhookEvent::JobCompleted,
        WebhookEvent::JobCancelled,
        WebhookEvent::ComplaintFiled,
    ];

    /// The webhook a stored event of this kind raises, if any.
    pub fn of(kind: ActionKind) -> Option<WebhookEvent> {
        Some(match kind {
            ActionKind::JobCreated => WebhookEvent::JobCreated,
            ActionKind::PickupRecorded => WebhookEvent::GoodsPickedUp,
            ActionKind::CheckedIn => WebhookEvent::CheckedIn,
            ActionKind::ExceptionRaised => WebhookEvent::ExceptionRaised,
            ActionKind::ExceptionResolved => WebhookEvent::ExceptionDecided,
            ActionKind::JobCompleted => WebhookEvent::JobCompleted,
            ActionKind::JobCancelled => WebhookEvent::JobCancelled,
            ActionKind::ComplaintFiled => WebhookEvent::ComplaintFiled,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::JobCreated => "job.created",
            WebhookEvent::GoodsPickedUp => "goods.picked_up",
            WebhookEvent::CheckedIn => "visit.checked_in",
            WebhookEvent::ExceptionRaised => "exception.raised",
            WebhookEvent::ExceptionDecided => "exception.decided",
            WebhookEvent::JobCompleted => "job.completed",
            WebhookEvent::JobCancelled => "job.cancelled",
            WebhookEvent::ComplaintFiled => "complaint.filed",
        }
    }

    pub fn parse(s: &str) -> Option<WebhookEvent> {
        WebhookEvent::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

/// An organisation's receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub id: Uuid,
    pub org_id: Uuid,
    pub url: String,
    /// `whsec_` + base64 of 32 random bytes: shown to the desk to configure the receiver.
    pub secret: String,
    pub events: Vec<WebhookEvent>,
    /// Only jobs ordered by this party (`JobOrder::ordering_party`, exactly): a merchant's
    /// receiver never sees another merchant's jobs. `None`: every job of the organisation (its
    /// own systems).
    pub ordering_party: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// What fan-out needs of an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Subscription {
    pub endpoint_id: Uuid,
    pub events: Vec<WebhookEvent>,
    pub ordering_party: Option<String>,
}

/// A delivery to create with the event that raises it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub event_id: Uuid,
    pub job_id: Uuid,
    pub event_type: WebhookEvent,
}

/// The deliveries a batch of stored events raises for the organisation's endpoints: each
/// subscribed event type, of a job of the endpoint's ordering party (`party_of`, from the
/// job's view). Events kept aside (after a cancellation, from a former technician: ADR 0007)
/// changed nothing and raise nothing.
pub fn fan_out<'a>(
    endpoints: &[Subscription],
    events: impl Iterator<Item = (&'a Event, &'a [EventFlag])>,
    party_of: impl Fn(Uuid) -> Option<&'a str>,
) -> Vec<NewDelivery> {
    if endpoints.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (event, flags) in events {
        let kept_aside = flags.iter().any(|f| {
            matches!(
                f,
                EventFlag::AfterCancellation | EventFlag::FormerTechnician
            )
        });
        let Some(kind) = WebhookEvent::of(event.body.kind()).filter(|_| !kept_aside) else {
            continue;
        };
        for s in endpoints {
            let party_matches = s
                .ordering_party
                .as_deref()
                .is_none_or(|p| party_of(event.job_id) == Some(p));
            if s.events.contains(&kind) && party_matches {
                out.push(NewDelivery {
                    id: Uuid::now_v7(),
                    endpoint_id: s.endpoint_id,
                    event_id: event.id,
                    job_id: event.job_id,
                    event_type: kind,
                });
            }
        }
    }
    out
}

/// A delivery due now, with what it takes to send it.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub id: Uuid,
    /// This claim's: [`crate::storage::Storage::finish_delivery`] records the attempt only
    /// while the lease is still this one.
    pub lease: Uuid,
    pub url: String,
    pub secret: String,
    pub event_type: WebhookEvent,
    pub event_json: String,
    /// The hex key of the device that recorded the event (a field event of a device that sent
    /// one): delivered beside the signed event, so a receiver holds each device's key from
    /// the time the work happened, and can pin it when it checks an evidence bundle later
    /// (ADR 0017).
    pub device_public_key: Option<String>,
    pub job_id: Uuid,
    pub created_at: DateTime<Utc>,
    /// Attempts made before this one.
    pub attempts: u32,
}

/// One row of the delivery log.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DeliveryLog {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub url: String,
    pub event_id: Uuid,
    pub job_id: Uuid,
    pub event_type: WebhookEvent,
    pub created_at: DateTime<Utc>,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// Given up after the last retry; the desk may send it again.
    pub failed_at: Option<DateTime<Utc>>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
}

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Delivered {
        status: u16,
    },
    /// Not delivered: try again at `retry_at`, or never (`None`: out of retries).
    Failed {
        status: Option<u16>,
        error: String,
        retry_at: Option<DateTime<Utc>>,
    },
}

/// A new endpoint secret.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    format!("whsec_{}", B64.encode(bytes))
}

/// `v1,<base64 HMAC-SHA256("{id}.{timestamp}.{body}")>`, keyed with the secret's bytes (the
/// base64 after `whsec_`), as Standard Webhooks specifies.
pub fn signature(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = secret
        .strip_prefix("whsec_")
        .and_then(|k| B64.decode(k).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec());
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("HMAC takes a key of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
}

/// The body sent: the event as stored, with what it is about.
pub fn payload(d: &DueDelivery) -> Result<Vec<u8>, serde_json::Error> {
    let event: serde_json::Value = serde_json::from_str(&d.event_json)?;
    let mut data = serde_json::json!({ "job_id": d.job_id, "event": event });
    if let Some(key) = &d.device_public_key {
        data["device_public_key"] = key.as_str().into();
    }
    serde_json::to_vec(&serde_json::json!({
        "type": d.event_type,
        "timestamp": d.created_at,
        "data": data,
    }))
}

/// A receiver's URL: http or https, at most 2 000 bytes, with a host.
pub fn valid_url(url: &str) -> bool {
    url.len() <= 2000
        && reqwest::Url::parse(url)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            signature(secret, id, 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn only_subscribed_events_that_changed_the_job_raise_deliveries() {
        use fieldcore::domain::EventBody;
        use fieldcore::fixtures::{Desk, t0};
        let desk = Desk::default();
        let job = Uuid::now_v7();
        let done = desk.event(
            job,
            t0(),
            EventBody::JobCompleted {
                note: String::new(),
            },
        );
        let cancelled = desk.event(job, t0(), EventBody::JobCancelled { reason: "x".into() });
        let call = desk.event(
            job,
            t0(),
            EventBody::CustomerCallLogged {
                outcome: fieldcore::domain::CallOutcome::Reached,
                note: String::new(),
            },
        );
        let late = desk.event(
            job,
            t0(),
            EventBody::JobCompleted {
                note: String::new(),
            },
        );
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let sub = |endpoint_id, events: &[WebhookEvent], party: Option<&str>| Subscription {
            endpoint_id,
            events: events.to_vec(),
            ordering_party: party.map(str::to_string),
        };
        let endpoints = vec![
            sub(a, &[WebhookEvent::JobCompleted], None),
            sub(b, &WebhookEvent::ALL, Some("ShopCo")),
            // Another merchant's receiver: none of ShopCo's jobs.
            sub(c, &WebhookEvent::ALL, Some("OtherMall")),
        ];
        let kept = [EventFlag::AfterCancellation];
        let out = fan_out(
            &endpoints,
            [
                (&done, &[][..]),
                (&cancelled, &[][..]),
                (&call, &[][..]),
                (&late, &kept[..]),
            ]
            .into_iter(),
            |j| (j == job).then_some("ShopCo"),
        );
        let got: Vec<_> = out.iter().map(|d| (d.endpoint_id, d.event_id)).collect();
        assert_eq!(got, [(a, done.id), (b, done.id), (b, cancelled.id)]);
    }
}

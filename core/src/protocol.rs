//! The wire protocol between devices and the sync server (`/v1`, JSON), shared by both sides so
//! they cannot drift. Errors travel as RFC 9457 `application/problem+json` ([`Problem`]).
//!
//! Clocks: every device request carries the device's wall time and monotonic reading in headers
//! ([`HEADER_DEVICE_TIME`], [`HEADER_DEVICE_MONOTONIC`]) and every response the server's time, so
//! each side can estimate the other's offset. The server anchors an event's time on its own
//! clock through the monotonic delta (a phone's monotonic clock cannot be set by its user), and
//! flags an event whose wall time disagrees with that delta.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{ChecklistTemplate, Event, Missing, Policy, Refusal, Rule};

pub const HEADER_DEVICE_TIME: &str = "fieldcore-device-time";
pub const HEADER_DEVICE_MONOTONIC: &str = "fieldcore-device-monotonic";
/// On every response: the server's clock, RFC 3339.
pub const HEADER_SERVER_TIME: &str = "fieldcore-server-time";

/// How far a device's wall clock may drift from its monotonic clock between an event and the
/// push that carries it before the server flags the event's time as unreliable.
pub const CLOCK_JUMP_TOLERANCE_SECS: i64 = 120;

/// `POST /v1/devices/enroll`: trade a one-time enrolment code for a device token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrollRequest {
    pub code: String,
    pub device_id: Uuid,
    /// Shown to dispatchers ("Li Wei's Pixel 7"); not blank, at most 200 characters.
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 200,
            pattern = "[^\\t\\n\\v\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
        )
    )]
    pub device_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrollResponse {
    /// Bearer token for every later request. Shown once; the server keeps only its hash.
    pub token: String,
    pub technician_id: Uuid,
    pub technician_name: String,
    pub organisation_id: Uuid,
    pub organisation_name: String,
    pub policy: Policy,
    pub checklist: ChecklistTemplate,
    pub server_time: DateTime<Utc>,
}

/// `POST /v1/sync/push`: a batch of the device's events, oldest first. Safe to repeat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushRequest {
    pub device_id: Uuid,
    /// The device's wall clock and monotonic reading when it sent the batch.
    pub sent_at: DateTime<Utc>,
    pub sent_monotonic_ms: i64,
    pub events: Vec<Event>,
    /// The device's public key for the evidence chain (hex of the raw 32-byte Ed25519 key,
    /// ADR 0016). The server keeps the first one a device sends (its token vouches for it, as at
    /// enrolment) and checks every sealed event against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9a-f]{64}$"))]
    pub public_key: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PushStatus {
    Accepted,
    /// The server had this event id already: the earlier push got through.
    Duplicate,
    /// The rulebook refused it; `rule` and `message` say why. The device keeps it as a conflict.
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushResult {
    pub event_id: Uuid,
    pub status: PushStatus,
    /// The refusing rule's code, for a rejection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Kept but flagged: a field event for a job the desk had cancelled, or a clock that jumped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<EventFlag>,
}

impl PushResult {
    pub fn accepted(event_id: Uuid, flags: Vec<EventFlag>) -> PushResult {
        PushResult {
            event_id,
            status: PushStatus::Accepted,
            rule: None,
            message: None,
            flags,
        }
    }

    pub fn duplicate(event_id: Uuid) -> PushResult {
        PushResult {
            event_id,
            status: PushStatus::Duplicate,
            rule: None,
            message: None,
            flags: Vec::new(),
        }
    }

    pub fn rejected(event_id: Uuid, rule: String, message: String) -> PushResult {
        PushResult {
            event_id,
            status: PushStatus::Rejected,
            rule: Some(rule),
            message: Some(message),
            flags: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventFlag {
    /// Recorded on the device after (or without knowing that) the desk cancelled the job.
    AfterCancellation,
    /// The device's wall clock and monotonic clock disagree: its time was changed.
    ClockJumped,
    /// The device restarted between the event and its push, so its time could only be
    /// corrected by the clock offset, not anchored through the monotonic clock.
    DeviceRebooted,
    /// From a technician who no longer holds the job (it was reassigned while they worked
    /// offline): kept on the record, not applied, shown to the desk as a conflict.
    FormerTechnician,
    /// With [`EventFlag::FormerTechnician`]: it happened after the reassignment, by the
    /// server's corrected time.
    AfterReassignment,
    /// From a device, but not sealed (an app from before the evidence chain, or a device whose
    /// key the server does not have): its integrity cannot be checked (ADR 0016).
    Unsigned,
    /// Sealed, but the signature does not match the event as it arrived: altered.
    BadSignature,
    /// Sealed and signed, but not after the device's previous event: one was removed, inserted
    /// or reordered.
    ChainGap,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushResponse {
    pub server_time: DateTime<Utc>,
    pub results: Vec<PushResult>,
}

/// `GET /v1/sync/pull?cursor=<cursor>&limit=<n>`: what changed for this technician.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PullResponse {
    /// Oldest first. A newly assigned job comes with its whole history. Each comes with the
    /// server's corrected time; this device's own events come back too (the echo).
    pub events: Vec<Event>,
    /// The server's log sequence of each event, parallel to `events`: the order of record.
    /// A job's view on every side is its events folded in this order (ADR 0007). Empty from a
    /// server that predates it.
    #[serde(default)]
    pub seqs: Vec<i64>,
    /// Pass back as `cursor` for the next page. Opaque to the device.
    pub next_cursor: String,
    pub has_more: bool,
    pub server_time: DateTime<Utc>,
}

/// tus `Upload-Metadata` keys a photo upload carries (values base64 in the header, as tus says).
pub mod upload_metadata {
    pub const PHOTO_ID: &str = "photo_id";
    pub const JOB_ID: &str = "job_id";
    pub const SHA256: &str = "sha256";
    pub const FILENAME: &str = "filename";
    pub const CONTENT_TYPE: &str = "filetype";
}

/// RFC 9457 problem details, the body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// A URI reference naming the problem type, e.g. `/problems/rate-limited`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The rulebook's rule code, where a rule refused the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// The server's reading of when an event happened, and what it noticed about the device clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrectedTime {
    pub at: DateTime<Utc>,
    pub flags: Vec<EventFlag>,
}

/// How far before its arrival a pushed event may be placed: a phone offline longer than this
/// (or whose clock cannot be corrected into it) is not believed.
pub const EVENT_MAX_AGE_DAYS: i64 = 90;
/// How far after its arrival an event may be placed (network latency and rounding only: an
/// event cannot have happened after the push that carried it).
pub const EVENT_MAX_FUTURE_SECS: i64 = 300;
/// Bound on every raw clock reading a push carries (monotonic readings, offsets): a century in
/// milliseconds. Anything larger is not a clock, and the bound keeps every sum below overflow.
pub const CLOCK_READING_MAX_MS: i64 = 100 * 366 * 24 * 3_600_000;

/// Place an event on the server's clock, or refuse it as [`Rule::ImplausibleTime`].
///
/// The push says what the device's clocks read when it was sent (`sent_at`,
/// `sent_monotonic_ms`) and the server knows when it arrived (`received_at`). Within one boot the
/// monotonic clock is trustworthy, so the event happened `sent_monotonic_ms - event.monotonic_ms`
/// before the push arrived, whatever the wall clock says (`received_at` is when the request's
/// head arrived, before its body: one-way latency, under a second, is ignored). If the wall clock's own account of that interval differs by more than
/// [`CLOCK_JUMP_TOLERANCE_SECS`], the user changed the clock: the event is flagged. After a reboot
/// the monotonic anchor is gone and the device's own offset estimate (or the push's) is used.
///
/// Every reading comes from a device we do not trust, so each is bounded
/// ([`CLOCK_READING_MAX_MS`]), every step is checked arithmetic (no panic, no overflow), and the
/// result must lie in the window `[received_at - EVENT_MAX_AGE_DAYS, received_at +
/// EVENT_MAX_FUTURE_SECS]`; outside it the event is refused with a rule the phone shows, never
/// stored with a time nothing can read back.
///
/// [`Rule::ImplausibleTime`]: crate::domain::Rule::ImplausibleTime
pub fn correct_event_time(
    event: &Event,
    sent_at: DateTime<Utc>,
    sent_monotonic_ms: i64,
    received_at: DateTime<Utc>,
) -> Result<CorrectedTime, Refusal> {
    let kind = event.body.kind();
    let refuse = |name: &str, problem: &str| {
        Refusal::missing(
            Rule::ImplausibleTime,
            kind,
            vec![Missing::Field {
                name: name.into(),
                problem: problem.into(),
            }],
        )
    };
    let bounded = |v: i64| (0..=CLOCK_READING_MAX_MS).contains(&v);
    if !bounded(sent_monotonic_ms) {
        return Err(refuse("sent_monotonic_ms", "not a monotonic clock reading"));
    }
    if event.monotonic_ms.is_some_and(|m| !bounded(m)) {
        return Err(refuse("monotonic_ms", "not a monotonic clock reading"));
    }
    if event
        .clock_offset_ms
        .is_some_and(|o| o.checked_abs().is_none_or(|a| a > CLOCK_READING_MAX_MS))
    {
        return Err(refuse("clock_offset_ms", "not a clock offset"));
    }
    let mut flags = Vec::new();
    let at = match event.monotonic_ms {
        Some(mono) if mono <= sent_monotonic_ms => {
            // Both bounded and non-negative: the difference fits.
            let elapsed = Duration::milliseconds(sent_monotonic_ms - mono);
            let wall_elapsed = sent_at.signed_duration_since(event.recorded_at);
            let jumped = wall_elapsed
                .checked_sub(&elapsed)
                .is_none_or(|d| d.num_seconds().abs() > CLOCK_JUMP_TOLERANCE_SECS);
            if jumped {
                flags.push(EventFlag::ClockJumped);
            }
            received_at.checked_sub_signed(elapsed)
        }
        other => {
            if other.is_some() {
                flags.push(EventFlag::DeviceRebooted);
            }
            let offset = match event.clock_offset_ms {
                Some(ms) => Some(Duration::milliseconds(ms)),
                None => {
                    let d = received_at.signed_duration_since(sent_at);
                    (d.num_milliseconds().abs() <= CLOCK_READING_MAX_MS).then_some(d)
                }
            };
            offset.and_then(|o| event.recorded_at.checked_add_signed(o))
        }
    };
    let earliest = received_at.checked_sub_signed(Duration::days(EVENT_MAX_AGE_DAYS));
    let latest = received_at.checked_add_signed(Duration::seconds(EVENT_MAX_FUTURE_SECS));
    match (at, earliest, latest) {
        (Some(at), Some(lo), Some(hi)) if at >= lo && at <= hi => Ok(CorrectedTime { at, flags }),
        _ => Err(refuse(
            "recorded_at",
            &format!("placed outside the last {EVENT_MAX_AGE_DAYS} days on the server's clock"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Actor, EventBody};
    use chrono::TimeZone;

    fn event(recorded_at: DateTime<Utc>, mono: Option<i64>, offset: Option<i64>) -> Event {
        Event {
            id: Uuid::now_v7(),
            job_id: Uuid::now_v7(),
            actor: Actor::Technician {
                technician_id: Uuid::nil(),
                device_id: Uuid::nil(),
            },
            recorded_at,
            monotonic_ms: mono,
            device_seq: Some(1),
            clock_offset_ms: offset,
            corrected_at: None,
            body: EventBody::CheckedIn { location: None },
            seal: None,
        }
    }

    fn server_now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap()
    }

    #[test]
    fn a_device_clock_five_minutes_fast_is_corrected_without_a_flag() {
        let fast = Duration::minutes(5);
        let happened = server_now() - Duration::hours(2);
        let e = event(happened + fast, Some(1_000), None);
        let sent_mono = 1_000 + 2 * 3_600_000;
        let c = correct_event_time(&e, server_now() + fast, sent_mono, server_now()).unwrap();
        assert_eq!(c.at, happened);
        assert!(c.flags.is_empty());
    }

    #[test]
    fn a_clock_changed_between_event_and_push_is_flagged_and_still_corrected() {
        let happened = server_now() - Duration::hours(2);
        // Recorded with a correct clock; the user then set the phone a day back.
        let e = event(happened, Some(1_000), None);
        let sent_mono = 1_000 + 2 * 3_600_000;
        let c = correct_event_time(
            &e,
            server_now() - Duration::days(1),
            sent_mono,
            server_now(),
        )
        .unwrap();
        assert_eq!(c.at, happened);
        assert_eq!(c.flags, vec![EventFlag::ClockJumped]);
    }

    #[test]
    fn after_a_reboot_the_devices_own_offset_estimate_is_used() {
        let happened = server_now() - Duration::hours(2);
        let e = event(
            happened - Duration::minutes(3),
            Some(9_999_999),
            Some(180_000),
        );
        let c = correct_event_time(&e, server_now(), 5_000, server_now()).unwrap();
        assert_eq!(c.at, happened);
        assert_eq!(c.flags, vec![EventFlag::DeviceRebooted]);
    }

    /// Findings of the security review: each of these panicked or stored a time nothing could
    /// read back. Every one is now refused with the rule the phone shows.
    #[test]
    fn hostile_clock_readings_are_refused_never_a_panic_or_an_unreadable_time() {
        let now = server_now();
        let far = chrono::NaiveDate::from_ymd_opt(10_000, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .unwrap()
            .and_utc();
        let cases: Vec<(Event, DateTime<Utc>, i64)> = vec![
            (event(far, None, None), now, 1_000),
            (event(now, None, Some(1_000_000_000_000_000)), now, 1_000),
            (event(now, None, Some(i64::MAX)), now, 1_000),
            (event(now, None, Some(i64::MIN)), now, 1_000),
            (event(now, Some(0), None), now, i64::MAX),
            (event(now, Some(i64::MIN), None), now, 1_000),
            (event(now, Some(-5), None), now, 1_000),
            (
                event(DateTime::<Utc>::MIN_UTC, None, None),
                DateTime::<Utc>::MAX_UTC,
                1,
            ),
            // Within bounds but placed two years back: outside the window.
            (event(now - Duration::days(800), None, Some(0)), now, 0),
            // A monotonic anchor that places it two years back.
            (event(now, Some(0), None), now, 800 * 86_400_000),
        ];
        for (e, sent_at, sent_mono) in cases {
            let r = correct_event_time(&e, sent_at, sent_mono, now).unwrap_err();
            assert_eq!(r.rule, Rule::ImplausibleTime, "{e:?}");
        }
    }

    #[test]
    fn absurd_wall_clocks_do_not_matter_while_the_monotonic_anchor_holds() {
        let e = event(DateTime::<Utc>::MAX_UTC, Some(0), None);
        let c = correct_event_time(&e, DateTime::<Utc>::MIN_UTC, 1, server_now()).unwrap();
        assert_eq!(c.at, server_now() - Duration::milliseconds(1));
        assert_eq!(c.flags, vec![EventFlag::ClockJumped]);
    }

    #[test]
    fn an_event_a_few_weeks_old_on_an_honest_clock_is_kept() {
        let happened = server_now() - Duration::days(30);
        let e = event(happened, None, Some(0));
        let c = correct_event_time(&e, server_now(), 5_000, server_now()).unwrap();
        assert_eq!(c.at, happened);
    }
}

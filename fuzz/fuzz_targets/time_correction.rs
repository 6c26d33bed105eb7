//! `fieldcore::protocol::correct_event_time` on any clock readings a device could send. Every
//! reading comes from a device we do not trust; a security review once found readings that
//! panicked or stored times nothing could read back.
//!
//! Asserted, from its documentation: no panic; a refusal is always `ImplausibleTime`; a placed
//! time lies in `[received_at - 90 days, received_at + 5 minutes]`; within one boot (the event's
//! monotonic reading not after the push's) the event is placed exactly `sent_monotonic_ms -
//! monotonic_ms` before the arrival whatever the wall clock says, flagged at most
//! `ClockJumped`; otherwise it is flagged `DeviceRebooted` exactly when it has a monotonic
//! reading. And the device's own `corrected_at` changes nothing.
#![no_main]

use arbitrary::{Result, Unstructured};
use chrono::{DateTime, Duration, TimeZone, Utc};
use fieldcore::domain::{Actor, Event, EventBody, Lang, Rule};
use fieldcore::protocol::{CLOCK_READING_MAX_MS, EventFlag, correct_event_time};
use fieldcore_fuzz::clock::assert_within_window;
use libfuzzer_sys::fuzz_target;
use uuid::Uuid;

const DAY_MS: i64 = 86_400_000;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(case) = Case::make(&mut u) else {
        return;
    };
    let Case {
        event,
        sent_at,
        sent_monotonic_ms,
        received_at,
    } = case;
    let result = correct_event_time(&event, sent_at, sent_monotonic_ms, received_at);
    let believed = Event {
        corrected_at: event.corrected_at.map_or(Some(received_at), |_| None),
        ..event.clone()
    };
    assert_eq!(
        correct_event_time(&believed, sent_at, sent_monotonic_ms, received_at),
        result,
        "the device's own corrected_at changed the server's reading"
    );
    let corrected = match result {
        Ok(c) => c,
        Err(refusal) => {
            assert_eq!(refusal.rule, Rule::ImplausibleTime, "{refusal:?}");
            let _ = (refusal.message(Lang::En), refusal.message(Lang::ZhCn));
            return;
        }
    };
    assert_within_window(&corrected, received_at);
    match event.monotonic_ms {
        Some(mono) if mono <= sent_monotonic_ms => {
            assert_eq!(
                Some(corrected.at),
                received_at.checked_sub_signed(Duration::milliseconds(sent_monotonic_ms - mono)),
                "not anchored on the monotonic clock"
            );
            assert!(
                corrected.flags.is_empty() || corrected.flags == [EventFlag::ClockJumped],
                "{:?}",
                corrected.flags
            );
        }
        Some(_) => assert_eq!(corrected.flags, [EventFlag::DeviceRebooted]),
        None => assert!(corrected.flags.is_empty(), "{:?}", corrected.flags),
    }
});

/// One event and the push that carries it.
#[derive(Debug)]
struct Case {
    event: Event,
    sent_at: DateTime<Utc>,
    sent_monotonic_ms: i64,
    received_at: DateTime<Utc>,
}

impl Case {
    fn make(u: &mut Unstructured<'_>) -> Result<Case> {
        let server_now = Utc
            .with_ymd_and_hms(2026, 11, 23, 12, 0, 0)
            .single()
            .expect("a valid date");
        let received_at = if u.ratio(3, 4)? {
            server_now
        } else {
            wall(u, server_now)?
        };
        let event = Event {
            id: Uuid::nil(),
            job_id: Uuid::nil(),
            actor: Actor::Technician {
                technician_id: Uuid::nil(),
                device_id: Uuid::nil(),
            },
            recorded_at: wall(u, received_at)?,
            monotonic_ms: u.arbitrary::<bool>()?.then(|| reading(u)).transpose()?,
            device_seq: None,
            clock_offset_ms: u.arbitrary::<bool>()?.then(|| offset(u)).transpose()?,
            corrected_at: u
                .arbitrary::<bool>()?
                .then(|| wall(u, received_at))
                .transpose()?,
            body: EventBody::CheckedIn { location: None },
            seal: None,
        };
        Ok(Case {
            event,
            sent_at: wall(u, received_at)?,
            sent_monotonic_ms: reading(u)?,
            received_at,
        })
    }
}

/// A wall time: mostly within months of `near` (where the window is), else anything chrono can
/// hold, its ends included.
fn wall(u: &mut Unstructured<'_>, near: DateTime<Utc>) -> Result<DateTime<Utc>> {
    Ok(match u.choose_index(5)? {
        0 => DateTime::<Utc>::MIN_UTC,
        1 => DateTime::<Utc>::MAX_UTC,
        2 => DateTime::from_timestamp(u.arbitrary()?, u.int_in_range(0..=1_999_999_999)?)
            .unwrap_or(near),
        _ => near
            .checked_add_signed(Duration::milliseconds(
                u.int_in_range(-200 * DAY_MS..=200 * DAY_MS)?,
            ))
            .unwrap_or(near),
    })
}

/// A monotonic reading: time since boot, at the bounds, or any i64 at all.
fn reading(u: &mut Unstructured<'_>) -> Result<i64> {
    Ok(match u.choose_index(4)? {
        0 => *u.choose(&[
            0,
            -1,
            CLOCK_READING_MAX_MS,
            CLOCK_READING_MAX_MS + 1,
            i64::MIN,
            i64::MAX,
        ])?,
        1 => u.arbitrary()?,
        _ => u.int_in_range(0..=400 * DAY_MS)?,
    })
}

/// A clock offset (server minus device): small either way, at the bounds, or any i64 at all.
fn offset(u: &mut Unstructured<'_>) -> Result<i64> {
    Ok(match u.choose_index(4)? {
        0 => *u.choose(&[
            CLOCK_READING_MAX_MS,
            CLOCK_READING_MAX_MS + 1,
            -CLOCK_READING_MAX_MS,
            -CLOCK_READING_MAX_MS - 1,
            i64::MIN,
            i64::MAX,
        ])?,
        1 => u.arbitrary()?,
        _ => u.int_in_range(-200 * DAY_MS..=200 * DAY_MS)?,
    })
}

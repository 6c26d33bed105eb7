//! Bounds on what one event may carry and on how much one job may hold.
//!
//! A phone is a device we do not control (design.md invariant 8): without bounds one device could
//! send notes of megabytes, grow a job's view without end and so make every later write to that
//! job (and, on a single-writer database, everyone's writes) slow. The bounds live in the
//! rulebook, so the phone refuses an over-long note as it is typed and the server refuses the
//! same note with the same rule; both sides cannot disagree. Numbers are generous for real work:
//! a technician's note is a few sentences, a call log a handful of calls.

use chrono::{DateTime, Duration, Utc};

use super::event::{ActionKind, Event, EventBody, GeoPoint};
use super::job::{FeeBasis, JobOrder, JobView};
use super::refusal::{Refusal, Rule};

/// Free text a person writes in the field or at the desk: notes, reasons, results.
pub const NOTE_MAX_CHARS: usize = 1000;
/// The work asked for (a repair's symptom may need a paragraph).
pub const WORK_MAX_CHARS: usize = 2000;
/// Names: the customer, the ordering party, the product model, a device.
pub const NAME_MAX_CHARS: usize = 200;
pub const ADDRESS_MAX_CHARS: usize = 500;
pub const PHONE_MAX_CHARS: usize = 40;
/// A checklist item's id (the organisation's template uses short slugs).
pub const ITEM_ID_MAX_CHARS: usize = 64;
/// Photos one exception may name.
pub const EXCEPTION_PHOTOS_MAX: usize = 20;
/// Pieces one delivery may have.
pub const PIECES_MAX: u32 = 10_000;
/// A quote, in cents (a hundred million in the currency's unit).
pub const AMOUNT_MAX_CENTS: i64 = 10_000_000_000;

/// Events one job may hold in all; far above any real visit (a full delivery with photos is
/// about 60), low enough that a job's view and history stay small to read and write.
pub const EVENTS_PER_JOB_MAX: u32 = 1000;
/// Entries of each growing list on one job.
pub const CALLS_PER_JOB_MAX: usize = 100;
pub const PHOTOS_PER_JOB_MAX: usize = 200;
pub const EXCEPTIONS_PER_JOB_MAX: usize = 50;
pub const EXEMPTIONS_PER_JOB_MAX: usize = 20;
pub const COMPLAINTS_PER_JOB_MAX: usize = 20;
/// Field events kept aside on one job (from a former holder, or after a cancellation): a
/// phone that lost a job must not be able to fill it for its new holder.
pub const KEPT_PER_JOB_MAX: usize = 200;

/// How far a time inside an event (an appointment, the goods' arrival) may lie from when the
/// event happened: a visit is booked within a year, goods arrived within a year before.
pub const PAYLOAD_TIME_WINDOW_DAYS: i64 = 366;

/// Check an event's own content: lengths, numbers, times it names. Pure and cheap: called
/// before any rule that reads the job.
pub fn check_event(event: &Event) -> Result<(), Refusal> {
    let kind = event.body.kind();
    if let Some(seal) = &event.seal
        && (!is_lower_hex(&seal.prev, 64)
            || !is_lower_hex(&seal.job_prev, 64)
            || !is_lower_hex(&seal.sig, 128))
    {
        return Err(Refusal::invalid(
            kind,
            "seal",
            "prev and job_prev: 64 hex digits, sig: 128 hex digits",
        ));
    }
    let text = |name: &str, value: &str, max: usize| check_text(kind, name, value, max);
    let note = |value: &str| text("note", value, NOTE_MAX_CHARS);
    match &event.body {
        EventBody::JobCreated { order, .. } | EventBody::OrderAmended { order } => {
            check_order(kind, order)
        }
        EventBody::JobAssigned { .. } | EventBody::JobAccepted | EventBody::CheckedOut => Ok(()),
        EventBody::JobCancelled { reason } => text("reason", reason, NOTE_MAX_CHARS),
        EventBody::ExceptionResolved { note: n, .. }
        | EventBody::ExemptionDecided { note: n, .. }
        | EventBody::ReturnVisitRecorded { note: n, .. }
        | EventBody::ComplaintFiled { note: n, .. }
        | EventBody::ComplaintAnswered { note: n, .. }
        | EventBody::CustomerCallLogged { note: n, .. }
        | EventBody::PickupRecorded { note: n, .. }
        | EventBody::WorkMarkedDone { note: n }
        | EventBody::JobCompleted { note: n }
        | EventBody::ExemptionClaimed { note: n, .. }
        | EventBody::ConflictsAcknowledged { note: n } => {
            note(n)?;
            if let EventBody::PickupRecorded { pieces, .. } = &event.body {
                check_count(kind, "pieces", *pieces, PIECES_MAX)?;
            }
            Ok(())
        }
        EventBody::ComplaintClosed { result, .. } => text("result", result, NOTE_MAX_CHARS),
        EventBody::AppointmentBooked { at, note: n } => {
            note(n)?;
            check_payload_time(kind, "at", *at, event.at())
        }
        EventBody::LogisticsArrived {
            arrived_at,
            note: n,
        } => {
            note(n)?;
            check_payload_time(kind, "arrived_at", *arrived_at, event.at())
        }
        EventBody::AppointmentRescheduled { at, reason, .. } => {
            text("reason", reason, NOTE_MAX_CHARS)?;
            check_payload_time(kind, "at", *at, event.at())
        }
        EventBody::ExceptionRaised {
            note: n, photo_ids, ..
        } => {
            note(n)?;
            if photo_ids.len() > EXCEPTION_PHOTOS_MAX {
                return Err(Refusal::invalid(
                    kind,
                    "photo_ids",
                    &format!("at most {EXCEPTION_PHOTOS_MAX} photos"),
                ));
            }
            Ok(())
        }
        EventBody::CheckedIn { location } => check_location(kind, location.as_ref()),
        EventBody::ChecklistAnswered {
            item_id, note: n, ..
        } => {
            text("item_id", item_id, ITEM_ID_MAX_CHARS)?;
            note(n)
        }
        EventBody::PhotoCaptured { photo } => check_location(kind, photo.location.as_ref()),
        // Fixed-size content (hashes, counts) is checked by the rules that read it.
        EventBody::SignatureCaptured { .. } | EventBody::ConfirmationCodeEntered { .. } => Ok(()),
    }
}

/// `len` lowercase hex digits: how hashes and signatures travel (`hex::encode`).
pub(crate) fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Is there room on this job for one more event of this kind?
pub fn check_room(job: &JobView, event: &Event) -> Result<(), Refusal> {
    let kind = event.body.kind();
    let full = || Err(Refusal::new(Rule::LimitReached, kind));
    // The total binds the field side: the desk must still be able to cancel or decide on a job
    // a phone has filled.
    // Events kept aside (from a former holder) do not count against the holder.
    let applied = job
        .event_count
        .saturating_sub(u32::try_from(job.flagged_events.len()).unwrap_or(u32::MAX));
    if kind.is_field() && applied >= EVENTS_PER_JOB_MAX {
        return full();
    }
    let (have, max) = match kind {
        ActionKind::CustomerCallLogged => (job.calls.len(), CALLS_PER_JOB_MAX),
        ActionKind::PhotoCaptured => (job.photos.len(), PHOTOS_PER_JOB_MAX),
        ActionKind::ExceptionRaised => (job.exceptions.len(), EXCEPTIONS_PER_JOB_MAX),
        ActionKind::ExemptionClaimed => (job.exemptions.len(), EXEMPTIONS_PER_JOB_MAX),
        ActionKind::ComplaintFiled => (job.complaints.len(), COMPLAINTS_PER_JOB_MAX),
        _ => return Ok(()),
    };
    if have >= max { full() } else { Ok(()) }
}

fn check_order(kind: ActionKind, order: &JobOrder) -> Result<(), Refusal> {
    for (name, value, max) in [
        ("customer_name", &order.customer_name, NAME_MAX_CHARS),
        ("address", &order.address, ADDRESS_MAX_CHARS),
        ("phone", &order.phone, PHONE_MAX_CHARS),
        ("product_model", &order.product_model, NAME_MAX_CHARS),
        ("work", &order.work, WORK_MAX_CHARS),
        ("ordering_party", &order.ordering_party, NAME_MAX_CHARS),
    ] {
        check_text(kind, name, value, max)?;
    }
    if let Some(pieces) = order.expected_pieces {
        check_count(kind, "expected_pieces", pieces, PIECES_MAX)?;
    }
    if let FeeBasis::Quoted { amount_cents } = order.fee_basis
        && !(0..=AMOUNT_MAX_CENTS).contains(&amount_cents)
    {
        return Err(Refusal::invalid(
            kind,
            "amount_cents",
            "a quote is an amount from 0 up",
        ));
    }
    Ok(())
}

/// At most `max` characters (not bytes: a Chinese note gets as many characters as an English one).
pub fn check_text(kind: ActionKind, name: &str, value: &str, max: usize) -> Result<(), Refusal> {
    // A cheap upper bound first: a string of at most `max` bytes has at most `max` characters.
    if value.len() > max && value.chars().count() > max {
        return Err(Refusal::invalid(
            kind,
            name,
            &format!("at most {max} characters"),
        ));
    }
    Ok(())
}

fn check_count(kind: ActionKind, name: &str, value: u32, max: u32) -> Result<(), Refusal> {
    if value > max {
        return Err(Refusal::invalid(kind, name, &format!("at most {max}")));
    }
    Ok(())
}

fn check_location(kind: ActionKind, at: Option<&GeoPoint>) -> Result<(), Refusal> {
    let Some(p) = at else { return Ok(()) };
    let ok = (-90.0..=90.0).contains(&p.lat)
        && (-180.0..=180.0).contains(&p.lon)
        && p.accuracy_m.is_none_or(|a| (0.0..=1.0e7).contains(&a));
    if ok {
        Ok(())
    } else {
        Err(Refusal::invalid(
            kind,
            "location",
            "not a place on Earth (latitude -90..90, longitude -180..180)",
        ))
    }
}

/// A time the event names lies within [`PAYLOAD_TIME_WINDOW_DAYS`] of when it happened.
fn check_payload_time(
    kind: ActionKind,
    name: &str,
    value: DateTime<Utc>,
    happened: DateTime<Utc>,
) -> Result<(), Refusal> {
    let window = Duration::days(PAYLOAD_TIME_WINDOW_DAYS);
    let near = happened
        .checked_sub_signed(window)
        .is_some_and(|lo| value >= lo)
        && happened
            .checked_add_signed(window)
            .is_some_and(|hi| value <= hi);
    if near {
        Ok(())
    } else {
        Err(Refusal::missing(
            Rule::ImplausibleTime,
            kind,
            vec![super::refusal::Missing::Field {
                name: name.into(),
                problem: format!("must lie within {PAYLOAD_TIME_WINDOW_DAYS} days of now"),
            }],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_length_counts_characters_not_bytes() {
        let zh = "检".repeat(NOTE_MAX_CHARS);
        assert!(check_text(ActionKind::JobCompleted, "note", &zh, NOTE_MAX_CHARS).is_ok());
        let over = "检".repeat(NOTE_MAX_CHARS + 1);
        let r = check_text(ActionKind::JobCompleted, "note", &over, NOTE_MAX_CHARS).unwrap_err();
        assert_eq!(r.rule, Rule::InvalidInput);
    }
}

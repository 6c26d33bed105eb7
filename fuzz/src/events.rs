//! Job events made from fuzz bytes.
//!
//! Random bytes alone almost never make an event the rulebook accepts (a job must be created,
//! assigned, accepted, booked and checked in before most field actions), so each step is one of:
//! an action the app would offer the technician next (half the steps), a desk action on the job
//! as it stands, a raw event of any kind from any actor with fuzzed fields (a quarter), or the
//! technician ticking down the checklist. The first two fill their fields plausibly (existing ids, valid hashes, times near
//! now) so sequences reach deep states; raw events take whatever the bytes say. Strings are
//! bounded: a few shapes at and past the rulebook's limits plus short fuzzed text. Ids come from
//! a small fixed cast and a counter, never a clock or a random source, so a crash reproduces byte
//! for byte.

use arbitrary::{Result, Unstructured};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use fieldcore::domain::limits::{NOTE_MAX_CHARS, WORK_MAX_CHARS};
use fieldcore::domain::{
    ActionKind, Actor, CallOutcome, Event, EventBody, ExceptionDecision, ExceptionKind,
    ExemptionReason, FeeBasis, GeoPoint, JobKind, JobOrder, JobView, Packaging, PhotoCategory,
    PhotoRef, Rulebook, SignatureRef, TimerKind,
};
use uuid::Uuid;

/// Every kind of event, for raw steps (core lists only the field ones).
pub const ALL_KINDS: [ActionKind; 27] = [
    ActionKind::JobCreated,
    ActionKind::JobAssigned,
    ActionKind::JobCancelled,
    ActionKind::OrderAmended,
    ActionKind::ExceptionResolved,
    ActionKind::ExemptionDecided,
    ActionKind::ReturnVisitRecorded,
    ActionKind::ComplaintFiled,
    ActionKind::ComplaintAnswered,
    ActionKind::ComplaintClosed,
    ActionKind::ConflictsAcknowledged,
    ActionKind::AppointmentBooked,
    ActionKind::JobAccepted,
    ActionKind::CustomerCallLogged,
    ActionKind::LogisticsArrived,
    ActionKind::PickupRecorded,
    ActionKind::ExceptionRaised,
    ActionKind::AppointmentRescheduled,
    ActionKind::CheckedIn,
    ActionKind::ChecklistAnswered,
    ActionKind::PhotoCaptured,
    ActionKind::SignatureCaptured,
    ActionKind::WorkMarkedDone,
    ActionKind::ConfirmationCodeEntered,
    ActionKind::JobCompleted,
    ActionKind::ExemptionClaimed,
    ActionKind::CheckedOut,
];

/// What the desk does to a job that exists, cancelling apart (see [`EventMaker::desk`]).
const DESK_KINDS: [ActionKind; 10] = [
    ActionKind::JobAssigned,
    ActionKind::OrderAmended,
    ActionKind::ExceptionResolved,
    ActionKind::ExemptionDecided,
    ActionKind::ReturnVisitRecorded,
    ActionKind::ComplaintFiled,
    ActionKind::ComplaintAnswered,
    ActionKind::ComplaintClosed,
    ActionKind::ConflictsAcknowledged,
    ActionKind::AppointmentBooked,
];

const JOB_KINDS: [JobKind; 3] = [JobKind::Install, JobKind::DeliveryInstall, JobKind::Repair];
const CALL_OUTCOMES: [CallOutcome; 5] = [
    CallOutcome::Reached,
    CallOutcome::NoAnswer,
    CallOutcome::Busy,
    CallOutcome::Unreachable,
    CallOutcome::WrongNumber,
];
const TIMERS: [TimerKind; 9] = [
    TimerKind::Dispatch,
    TimerKind::FirstContact,
    TimerKind::ArrivalWindow,
    TimerKind::Completion,
    TimerKind::RepairResponse,
    TimerKind::RepairOnSite,
    TimerKind::ReturnVisit,
    TimerKind::ComplaintAnswer,
    TimerKind::ComplaintResult,
];
const EXEMPTION_REASONS: [ExemptionReason; 4] = [
    ExemptionReason::Weather,
    ExemptionReason::Customer,
    ExemptionReason::CodeUnavailable,
    ExemptionReason::Other,
];

/// Longest fuzzed free text: long enough for odd Unicode, short enough to keep runs fast (the
/// length limits are reached by the fixed shapes in [`text`]).
const FUZZED_TEXT_MAX_CHARS: usize = 80;

/// The moment every fuzzed job starts from (the fixtures' t0: 2026-11-23 09:00 in Shanghai).
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0)
        .single()
        .expect("a valid date")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Technician {
    pub id: Uuid,
    pub device: Uuid,
}

/// The people and ids one fuzzed job involves. Few, so events name the same technician,
/// exception or complaint often enough for the rules that compare ids to be reached.
#[derive(Debug, Clone)]
pub struct Cast {
    pub job_id: Uuid,
    pub technicians: [Technician; 2],
    pub dispatcher: Uuid,
    /// Ids raw events refer to (exceptions, complaints, exemption claims, photos) regardless of
    /// what the job holds.
    pub refs: [Uuid; 4],
}

impl Default for Cast {
    fn default() -> Self {
        let id = |n: u128| Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | n);
        Cast {
            job_id: id(1),
            technicians: [
                Technician {
                    id: id(0x10),
                    device: id(0x11),
                },
                Technician {
                    id: id(0x20),
                    device: id(0x21),
                },
            ],
            dispatcher: id(0x30),
            refs: [id(0x40), id(0x41), id(0x42), id(0x43)],
        }
    }
}

/// Makes the events of one job, step by step, against the job as it stands.
#[derive(Debug)]
pub struct EventMaker<'a> {
    cast: &'a Cast,
    rulebook: &'a Rulebook,
    clock: DateTime<Utc>,
    counter: u128,
}

impl<'a> EventMaker<'a> {
    pub fn new(cast: &'a Cast, rulebook: &'a Rulebook) -> Self {
        EventMaker {
            cast,
            rulebook,
            clock: t0(),
            counter: 0,
        }
    }

    /// One step: usually one event, a checklist burst several. `Err` when the input is spent.
    pub fn step(&mut self, u: &mut Unstructured<'_>, view: Option<&JobView>) -> Result<Vec<Event>> {
        self.tick(u)?;
        let holder = view.and_then(|v| v.technician_id.map(|t| (v, t)));
        // Mostly what the app offers, so sequences get deep; a raw event one step in four. A
        // job an exception holds waits for the desk's decision half the time.
        match (u.choose_index(8)?, holder) {
            (0..=3, Some((v, _))) if v.is_blocked() && u.ratio(1, 2)? => self.desk(u, view),
            (0..=3, Some((v, tech))) => self.next_action(u, v, tech),
            (4, _) => self.desk(u, view),
            (5, Some((v, tech))) => self.checklist(u, v, tech),
            (0..=5, None) => self.desk(u, view),
            _ => self.raw(u, view),
        }
    }

    /// Time moves on a few minutes at a time, now and then a jump either way (a clock changed,
    /// events arriving out of order).
    fn tick(&mut self, u: &mut Unstructured<'_>) -> Result<()> {
        let step = if one_in(u, 8)? {
            Duration::seconds(u.int_in_range(-400 * 86_400..=400 * 86_400)?)
        } else {
            Duration::minutes(u.int_in_range(0..=240)?)
        };
        if let Some(t) = self.clock.checked_add_signed(step) {
            self.clock = t;
        }
        Ok(())
    }

    fn next_action(
        &mut self,
        u: &mut Unstructured<'_>,
        view: &JobView,
        tech: Uuid,
    ) -> Result<Vec<Event>> {
        let kinds = self.rulebook.next_actions(view, tech);
        if kinds.is_empty() {
            return self.raw(u, Some(view));
        }
        let kind = *u.choose(&kinds)?;
        let body = self.body(u, kind, Some(view), true)?;
        Ok(vec![self.event(u, self.technician(tech), body)?])
    }

    /// The desk: creates the job, assigns it when nobody holds it, mostly unblocks it when an
    /// exception holds it, and now and then cancels it (rarely: a cancelled job takes no more
    /// field work, so every later step would only test the keeping aside).
    fn desk(&mut self, u: &mut Unstructured<'_>, view: Option<&JobView>) -> Result<Vec<Event>> {
        let kind = match view {
            None => ActionKind::JobCreated,
            Some(v) if v.technician_id.is_none() && u.ratio(3, 4)? => ActionKind::JobAssigned,
            Some(v) if v.is_blocked() && u.ratio(3, 4)? => ActionKind::ExceptionResolved,
            Some(_) if one_in(u, 64)? => ActionKind::JobCancelled,
            Some(_) => *u.choose(&DESK_KINDS)?,
        };
        let body = self.body(u, kind, view, true)?;
        let actor = Actor::Dispatcher {
            dispatcher_id: self.cast.dispatcher,
        };
        Ok(vec![self.event(u, actor, body)?])
    }

    /// The holder answers every required item still open, one "no" among them if the input
    /// says so (a no on a required item raises a conduct exception).
    fn checklist(
        &mut self,
        u: &mut Unstructured<'_>,
        view: &JobView,
        tech: Uuid,
    ) -> Result<Vec<Event>> {
        let open: Vec<String> = self
            .rulebook
            .checklist
            .required()
            .filter(|i| !view.checklist.contains_key(&i.id))
            .map(|i| i.id.clone())
            .collect();
        if open.is_empty() {
            return self.raw(u, Some(view));
        }
        let no = usize::from(u.arbitrary::<u8>()?);
        let mut events = Vec::with_capacity(open.len());
        for (n, item_id) in open.into_iter().enumerate() {
            let body = EventBody::ChecklistAnswered {
                item_id,
                answer: n != no,
                note: String::new(),
            };
            events.push(self.event(u, self.technician(tech), body)?);
        }
        Ok(events)
    }

    /// Any kind, any actor (a cast member or a stranger), fields plausible or fuzzed. A
    /// cancellation is drawn again most of the time, for the reason [`EventMaker::desk`] gives.
    fn raw(&mut self, u: &mut Unstructured<'_>, view: Option<&JobView>) -> Result<Vec<Event>> {
        let mut kind = *u.choose(&ALL_KINDS)?;
        if kind == ActionKind::JobCancelled && !one_in(u, 8)? {
            kind = *u.choose(&ALL_KINDS)?;
        }
        let actor = match u.choose_index(4)? {
            0 => self.technician(self.cast.technicians[0].id),
            1 => self.technician(self.cast.technicians[1].id),
            2 => Actor::Dispatcher {
                dispatcher_id: self.cast.dispatcher,
            },
            _ => Actor::Technician {
                technician_id: Uuid::from_u128(u.arbitrary()?),
                device_id: Uuid::from_u128(u.arbitrary()?),
            },
        };
        let sane = u.arbitrary()?;
        let body = self.body(u, kind, view, sane)?;
        Ok(vec![self.event(u, actor, body)?])
    }

    /// A cast technician acts from their own device; anyone else from an unknown one.
    fn technician(&self, id: Uuid) -> Actor {
        let device = self
            .cast
            .technicians
            .iter()
            .find(|t| t.id == id)
            .map_or(Uuid::nil(), |t| t.device);
        Actor::Technician {
            technician_id: id,
            device_id: device,
        }
    }

    fn fresh_id(&mut self) -> Uuid {
        self.counter += 1;
        Uuid::from_u128(0x0191_0000_0000_7000_8000_0000_0000_0000 | self.counter)
    }

    fn event(&mut self, u: &mut Unstructured<'_>, actor: Actor, body: EventBody) -> Result<Event> {
        // Now and then the server's corrected time differs from the device's.
        let corrected_at = if one_in(u, 4)? {
            self.clock
                .checked_add_signed(Duration::seconds(u.int_in_range(-600..=600)?))
        } else {
            None
        };
        Ok(Event {
            id: self.fresh_id(),
            job_id: self.cast.job_id,
            actor,
            recorded_at: self.clock,
            monotonic_ms: None,
            device_seq: None,
            clock_offset_ms: None,
            corrected_at,
            body,
            seal: None,
        })
    }

    /// A body of `kind`: with `sane`, what the app or the desk would send for the job as it
    /// stands; without, fields straight from the input.
    fn body(
        &mut self,
        u: &mut Unstructured<'_>,
        kind: ActionKind,
        view: Option<&JobView>,
        sane: bool,
    ) -> Result<EventBody> {
        use ActionKind as K;
        let v = view;
        Ok(match kind {
            K::JobCreated => EventBody::JobCreated {
                order: self.order(u, sane, None)?,
                number: u
                    .arbitrary::<Option<u32>>()?
                    .map(fieldcore::domain::JobNumber),
            },
            K::OrderAmended => EventBody::OrderAmended {
                order: self.order(u, sane, v.map(|v| &v.order))?,
            },
            K::JobAssigned => EventBody::JobAssigned {
                technician_id: if sane || u.ratio(3, 4)? {
                    u.choose(&self.cast.technicians)?.id
                } else {
                    Uuid::from_u128(u.arbitrary()?)
                },
            },
            K::JobCancelled => EventBody::JobCancelled {
                reason: note(u, sane)?,
            },
            K::ExceptionResolved => {
                // Open ones holding the job first, as a desk clearing the way would. Stopping
                // is rare: the job then stays held for good.
                let open = v.map(|v| {
                    let holding: Vec<Uuid> = v
                        .blocking_exceptions()
                        .filter(|e| e.is_open())
                        .map(|e| e.id)
                        .collect();
                    if holding.is_empty() {
                        v.exceptions
                            .iter()
                            .filter(|e| e.is_open())
                            .map(|e| e.id)
                            .collect()
                    } else {
                        holding
                    }
                });
                EventBody::ExceptionResolved {
                    exception_id: self.existing(u, open, sane)?,
                    decision: if u.ratio(15, 16)? {
                        ExceptionDecision::Proceed
                    } else {
                        ExceptionDecision::Stop
                    },
                    note: note(u, sane)?,
                }
            }
            K::ExemptionDecided => {
                let open = v.map(|v| {
                    v.exemptions
                        .iter()
                        .filter(|c| c.granted.is_none())
                        .map(|c| c.id)
                        .collect()
                });
                EventBody::ExemptionDecided {
                    claim_id: self.existing(u, open, sane)?,
                    granted: u.arbitrary()?,
                    note: note(u, sane)?,
                }
            }
            K::ReturnVisitRecorded => EventBody::ReturnVisitRecorded {
                quality: rating(u, sane)?,
                attitude: rating(u, sane)?,
                note: note(u, sane)?,
            },
            K::ComplaintFiled => EventBody::ComplaintFiled {
                complaint_id: self.new_ref(u, sane)?,
                note: note(u, sane)?,
            },
            K::ComplaintAnswered => {
                let open = v.map(|v| {
                    v.complaints
                        .iter()
                        .filter(|c| c.answered_at.is_none())
                        .map(|c| c.id)
                        .collect()
                });
                EventBody::ComplaintAnswered {
                    complaint_id: self.existing(u, open, sane)?,
                    accepted: u.arbitrary()?,
                    note: note(u, sane)?,
                }
            }
            K::ComplaintClosed => {
                let open = v.map(|v| {
                    v.complaints
                        .iter()
                        .filter(|c| c.accepted == Some(true) && c.closed_at.is_none())
                        .map(|c| c.id)
                        .collect()
                });
                EventBody::ComplaintClosed {
                    complaint_id: self.existing(u, open, sane)?,
                    result: note(u, sane)?,
                }
            }
            K::ConflictsAcknowledged => EventBody::ConflictsAcknowledged { note: text(u)? },
            K::AppointmentBooked => EventBody::AppointmentBooked {
                at: self.later(u, sane)?,
                note: note(u, sane)?,
            },
            K::JobAccepted => EventBody::JobAccepted,
            K::CustomerCallLogged => EventBody::CustomerCallLogged {
                outcome: *u.choose(&CALL_OUTCOMES)?,
                note: note(u, sane)?,
            },
            K::LogisticsArrived => EventBody::LogisticsArrived {
                arrived_at: if sane {
                    self.clock - Duration::minutes(u.int_in_range(0..=600)?)
                } else {
                    self.later(u, false)?
                },
                note: note(u, sane)?,
            },
            K::PickupRecorded => EventBody::PickupRecorded {
                pieces: match v.and_then(|v| v.order.expected_pieces) {
                    Some(n) if sane && u.ratio(3, 4)? => n,
                    _ if sane => u.int_in_range(1..=3)?,
                    _ => u.arbitrary()?,
                },
                packaging: if u.ratio(3, 4)? {
                    Packaging::Intact
                } else {
                    Packaging::Damaged
                },
                note: note(u, sane)?,
            },
            K::ExceptionRaised => {
                let photos: Vec<Uuid> = v.map_or_else(Vec::new, |v| {
                    v.photos.iter().map(|p| p.photo_id).take(3).collect()
                });
                let photo_ids = if sane {
                    photos
                } else {
                    let n = u.int_in_range(0..=25)?;
                    (0..n)
                        .map(|_| u.choose(&self.cast.refs).copied())
                        .collect::<Result<_>>()?
                };
                EventBody::ExceptionRaised {
                    exception_id: self.new_ref(u, sane)?,
                    kind: *u.choose(&ExceptionKind::ALL)?,
                    note: note(u, sane)?,
                    photo_ids,
                }
            }
            K::AppointmentRescheduled => EventBody::AppointmentRescheduled {
                at: self.later(u, sane)?,
                reason: note(u, sane)?,
                customer_consented: u.arbitrary()?,
            },
            K::CheckedIn => EventBody::CheckedIn {
                location: point(u, sane)?,
            },
            K::ChecklistAnswered => EventBody::ChecklistAnswered {
                item_id: if sane {
                    u.choose(&self.rulebook.checklist.items)?.id.clone()
                } else {
                    text(u)?
                },
                answer: u.arbitrary()?,
                note: text(u)?,
            },
            K::PhotoCaptured => EventBody::PhotoCaptured {
                photo: PhotoRef {
                    photo_id: self.new_ref(u, sane)?,
                    category: *u.choose(&PhotoCategory::ALL)?,
                    sha256: sha256(u, sane)?,
                    location: point(u, sane)?,
                },
            },
            K::SignatureCaptured => EventBody::SignatureCaptured {
                signature: SignatureRef {
                    signature_id: self.fresh_id(),
                    strokes_sha256: sha256(u, sane)?,
                    stroke_count: if sane {
                        u.int_in_range(1..=40)?
                    } else {
                        u.arbitrary()?
                    },
                },
            },
            K::WorkMarkedDone => EventBody::WorkMarkedDone {
                note: note(u, sane)?,
            },
            K::ConfirmationCodeEntered => EventBody::ConfirmationCodeEntered {
                code: if sane {
                    let len = u.int_in_range(4..=12)?;
                    (0..len)
                        .map(|_| {
                            u.choose(b"ABCDEFGHJKMNPQRSTUVWXYZ0123456789")
                                .map(|&b| char::from(b))
                        })
                        .collect::<Result<_>>()?
                } else {
                    text(u)?
                },
            },
            K::JobCompleted => EventBody::JobCompleted {
                note: note(u, sane)?,
            },
            K::ExemptionClaimed => EventBody::ExemptionClaimed {
                claim_id: self.new_ref(u, sane)?,
                timer: *u.choose(&TIMERS)?,
                reason: *u.choose(&EXEMPTION_REASONS)?,
                note: note(u, sane)?,
            },
            K::CheckedOut => EventBody::CheckedOut,
        })
    }

    /// An id for a new record: fresh when sane, else one of the cast's (which may collide).
    fn new_ref(&mut self, u: &mut Unstructured<'_>, sane: bool) -> Result<Uuid> {
        if sane {
            Ok(self.fresh_id())
        } else {
            u.choose(&self.cast.refs).copied()
        }
    }

    /// An id of a record the job holds when sane and there is one, else one of the cast's.
    fn existing(
        &self,
        u: &mut Unstructured<'_>,
        held: Option<Vec<Uuid>>,
        sane: bool,
    ) -> Result<Uuid> {
        match held {
            Some(ids) if sane && !ids.is_empty() => u.choose(&ids).copied(),
            _ => u.choose(&self.cast.refs).copied(),
        }
    }

    /// A time an event names (an appointment, the goods' arrival): within days of now when
    /// sane; otherwise anything from minutes off to the ends of chrono's range.
    fn later(&self, u: &mut Unstructured<'_>, sane: bool) -> Result<DateTime<Utc>> {
        let off = |m: i64| self.clock.checked_add_signed(Duration::minutes(m));
        let t = if sane {
            off(u.int_in_range(30..=7 * 24 * 60)?)
        } else {
            match u.choose_index(4)? {
                0 => Some(DateTime::<Utc>::MIN_UTC),
                1 => Some(DateTime::<Utc>::MAX_UTC),
                _ => off(i64::from(u.arbitrary::<i32>()?)),
            }
        };
        Ok(t.unwrap_or(self.clock))
    }

    /// The desk's order: complete when sane (an amendment keeps the kind and the fee basis);
    /// otherwise each field from the input.
    fn order(
        &self,
        u: &mut Unstructured<'_>,
        sane: bool,
        keep: Option<&JobOrder>,
    ) -> Result<JobOrder> {
        let kind = match keep {
            Some(o) if sane => o.kind,
            _ => *u.choose(&JOB_KINDS)?,
        };
        let field = |u: &mut Unstructured<'_>, good: &str| -> Result<String> {
            if sane { Ok(good.to_owned()) } else { text(u) }
        };
        let fee_basis = match keep {
            Some(o) if sane => o.fee_basis.clone(),
            _ => match u.choose_index(3)? {
                0 => FeeBasis::InWarranty,
                1 => FeeBasis::StandardSchedule,
                _ if sane => FeeBasis::Quoted {
                    amount_cents: u.int_in_range(0..=1_000_000)?,
                },
                _ => FeeBasis::Quoted {
                    amount_cents: u.arbitrary()?,
                },
            },
        };
        Ok(JobOrder {
            kind,
            customer_name: field(u, "王女士")?,
            address: field(u, "上海市浦东新区世纪大道 100 号 12 楼")?,
            phone: field(u, "+86 138 0000 0000")?,
            product_model: field(u, "KFR-35GW")?,
            purchase_date: match u.choose_index(3)? {
                0 => None,
                1 => NaiveDate::from_ymd_opt(2025, 6, 1),
                _ => NaiveDate::from_num_days_from_ce_opt(u.arbitrary()?),
            },
            work: field(u, "install the air conditioner")?,
            ordering_party: field(u, "Example Mall")?,
            severity: if sane {
                (kind == JobKind::Repair)
                    .then(|| u.int_in_range(1..=4))
                    .transpose()?
            } else {
                u.arbitrary()?
            },
            fee_basis,
            requires_verification: u.arbitrary()?,
            expected_pieces: if sane {
                (kind == JobKind::DeliveryInstall)
                    .then(|| u.int_in_range(1..=3))
                    .transpose()?
            } else {
                u.arbitrary()?
            },
        })
    }
}

/// True one time in `n` (at least 2). Unlike `Unstructured::ratio(1, n)`, which says true for
/// ever once the input is spent, false then: the tail of every input must not take the rare
/// branch (it made most fuzzed jobs end cancelled).
pub fn one_in(u: &mut Unstructured<'_>, n: u8) -> Result<bool> {
    Ok(!u.ratio(n.saturating_sub(1), n)?)
}

/// Free text in one of the shapes that matter to the rules: empty, blank, ordinary, Chinese, at
/// and just past the length limits, or short fuzzed text.
pub fn text(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(match u.choose_index(8)? {
        0 => String::new(),
        1 => " \t ".to_owned(),
        2 => "done".to_owned(),
        3 => "客户要求改约".to_owned(),
        4 => "x".repeat(NOTE_MAX_CHARS),
        5 => "检".repeat(NOTE_MAX_CHARS + 1),
        6 => "x".repeat(WORK_MAX_CHARS + 1),
        _ => u
            .arbitrary::<&str>()?
            .chars()
            .take(FUZZED_TEXT_MAX_CHARS)
            .collect(),
    })
}

/// A note a person would write when sane (never blank), any text otherwise.
fn note(u: &mut Unstructured<'_>, sane: bool) -> Result<String> {
    if sane {
        Ok(
            u.choose(&["done", "客户在家", "customer asked to call back"])?
                .to_string(),
        )
    } else {
        text(u)
    }
}

fn rating(u: &mut Unstructured<'_>, sane: bool) -> Result<u8> {
    if sane {
        u.int_in_range(1..=5)
    } else {
        u.arbitrary()
    }
}

/// Lower-case hex of 32 input bytes when sane, any text otherwise.
fn sha256(u: &mut Unstructured<'_>, sane: bool) -> Result<String> {
    if sane {
        let bytes: [u8; 32] = u.arbitrary()?;
        Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
    } else {
        text(u)
    }
}

/// A place: on Earth when sane; otherwise any floats (NaN and infinities included).
fn point(u: &mut Unstructured<'_>, sane: bool) -> Result<Option<GeoPoint>> {
    if !u.arbitrary::<bool>()? {
        return Ok(None);
    }
    Ok(Some(if sane {
        GeoPoint {
            lat: f64::from(u.int_in_range(-90_000_000..=90_000_000)?) / 1e6,
            lon: f64::from(u.int_in_range(-180_000_000..=180_000_000)?) / 1e6,
            accuracy_m: Some(f64::from(u.int_in_range(1..=100)?)),
        }
    } else {
        GeoPoint {
            lat: u.arbitrary()?,
            lon: u.arbitrary()?,
            accuracy_m: u.arbitrary()?,
        }
    }))
}

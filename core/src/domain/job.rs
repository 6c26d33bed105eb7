//! The job: its order data (the desk's) and its view (the fold of every event).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::checklist::ChecklistTemplate;
use super::event::{
    Actor, CallOutcome, Event, EventBody, GeoPoint, Packaging, PhotoCategory, PhotoRef,
    SignatureRef,
};
use super::exception::{ExceptionKind, ExceptionRecord, ExemptionClaim, Resolution};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Install only.
    Install,
    /// Collect the goods at the logistics point, deliver, install.
    DeliveryInstall,
    /// Diagnose and repair, possibly paid if out of warranty.
    Repair,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Install => "install",
            JobKind::DeliveryInstall => "delivery_install",
            JobKind::Repair => "repair",
        }
    }
}

/// What the work is paid on [domain.md, "Intake"].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "basis", rename_all = "snake_case")]
pub enum FeeBasis {
    InWarranty,
    /// A locked quote: once accepted, the job is done at this price [000 一.1].
    Quoted {
        #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 10_000_000_000_i64))]
        amount_cents: i64,
    },
    StandardSchedule,
}

/// The order as the desk took it. The desk owns it; the technician only reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobOrder {
    pub kind: JobKind,
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 200,
            pattern = "[^\\t\\n\\v\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
        )
    )]
    pub customer_name: String,
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 500,
            pattern = "[^\\t\\n\\v\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
        )
    )]
    pub address: String,
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 40,
            pattern = "[^\\t\\n\\v\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
        )
    )]
    pub phone: String,
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub product_model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase_date: Option<NaiveDate>,
    /// The symptom (repair) or the work asked for.
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 2000,
            pattern = "[^\\t\\n\\v\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
        )
    )]
    pub work: String,
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub ordering_party: String,
    /// Repair severity: 1 = service down ... 4 = intermittent [004 "故障划分"].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 4))]
    pub severity: Option<u8>,
    pub fee_basis: FeeBasis,
    /// Orders that must be verified (核销) with the customer's confirmation code.
    pub requires_verification: bool,
    /// Pieces the technician must collect (delivery jobs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(maximum = 10000))]
    pub expected_pieces: Option<u32>,
}

/// Where a job stands, as the technician's list and the desk's board show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Unassigned,
    Assigned,
    Accepted,
    GoodsArrived,
    PickedUp,
    Scheduled,
    OnSite,
    WorkDone,
    Completed,
    /// Held by an exception the desk has not cleared.
    Blocked,
    Cancelled,
}

impl JobStatus {
    pub const ALL: [JobStatus; 11] = [
        JobStatus::Unassigned,
        JobStatus::Assigned,
        JobStatus::Accepted,
        JobStatus::GoodsArrived,
        JobStatus::PickedUp,
        JobStatus::Scheduled,
        JobStatus::OnSite,
        JobStatus::WorkDone,
        JobStatus::Completed,
        JobStatus::Blocked,
        JobStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Unassigned => "unassigned",
            JobStatus::Assigned => "assigned",
            JobStatus::Accepted => "accepted",
            JobStatus::GoodsArrived => "goods_arrived",
            JobStatus::PickedUp => "picked_up",
            JobStatus::Scheduled => "scheduled",
            JobStatus::OnSite => "on_site",
            JobStatus::WorkDone => "work_done",
            JobStatus::Completed => "completed",
            JobStatus::Blocked => "blocked",
            JobStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallRecord {
    pub event_id: Uuid,
    pub at: DateTime<Utc>,
    pub outcome: CallOutcome,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PickupRecord {
    pub at: DateTime<Utc>,
    pub pieces: u32,
    pub packaging: Packaging,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChecklistAnswer {
    pub answer: bool,
    pub note: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReturnVisit {
    pub at: DateTime<Utc>,
    pub quality: u8,
    pub attitude: u8,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Complaint {
    pub id: Uuid,
    pub filed_at: DateTime<Utc>,
    pub note: String,
    /// `Some(true)` accepted, `Some(false)` rejected.
    pub accepted: Option<bool>,
    pub answered_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub result: Option<String>,
}

/// Everything known about a job: the fold of its events, in the order they were applied.
///
/// It is a cache of the event log, never the truth: replaying the log must give the same value
/// (a property test holds us to it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobView {
    pub id: Uuid,
    /// What people call the job (`J-1042`); none for jobs from before numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<super::JobNumber>,
    pub order: JobOrder,
    pub created_at: DateTime<Utc>,
    pub technician_id: Option<Uuid>,
    pub assigned_at: Option<DateTime<Utc>>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub goods_arrived_at: Option<DateTime<Utc>>,
    pub calls: Vec<CallRecord>,
    pub pickup: Option<PickupRecord>,
    pub appointment_at: Option<DateTime<Utc>>,
    pub appointment_booked_at: Option<DateTime<Utc>>,
    pub reschedules: u32,
    pub checked_in_at: Option<DateTime<Utc>>,
    pub check_in_location: Option<GeoPoint>,
    pub checklist: BTreeMap<String, ChecklistAnswer>,
    pub photos: Vec<PhotoRef>,
    pub signature: Option<SignatureRef>,
    pub work_done_at: Option<DateTime<Utc>>,
    pub code_entered_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub checked_out_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
    pub exceptions: Vec<ExceptionRecord>,
    pub exemptions: Vec<ExemptionClaim>,
    pub return_visit: Option<ReturnVisit>,
    pub complaints: Vec<Complaint>,
    /// Field events that arrived after the job was cancelled, or from a technician who no
    /// longer holds the job: kept, not applied, shown to both sides [design.md invariant 4;
    /// ADR 0007].
    pub flagged_events: Vec<Uuid>,
    /// When the job last moved from one technician to another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reassigned_at: Option<DateTime<Utc>>,
    /// How many of `flagged_events` the desk has acknowledged; the rest are an open conflict.
    #[serde(default)]
    pub conflicts_acknowledged: u32,
    pub event_count: u32,
    pub last_event_at: DateTime<Utc>,
}

impl JobView {
    /// A job begins with the desk's `JobCreated`; any other first event is not a job.
    pub fn created(event: &Event) -> Option<JobView> {
        let EventBody::JobCreated { order, number } = &event.body else {
            return None;
        };
        Some(JobView {
            id: event.job_id,
            number: *number,
            order: order.clone(),
            created_at: event.at(),
            technician_id: None,
            assigned_at: None,
            accepted_at: None,
            goods_arrived_at: None,
            calls: Vec::new(),
            pickup: None,
            appointment_at: None,
            appointment_booked_at: None,
            reschedules: 0,
            checked_in_at: None,
            check_in_location: None,
            checklist: BTreeMap::new(),
            photos: Vec::new(),
            signature: None,
            work_done_at: None,
            code_entered_at: None,
            completed_at: None,
            checked_out_at: None,
            cancelled_at: None,
            cancel_reason: None,
            exceptions: Vec::new(),
            exemptions: Vec::new(),
            return_visit: None,
            complaints: Vec::new(),
            flagged_events: Vec::new(),
            reassigned_at: None,
            conflicts_acknowledged: 0,
            event_count: 1,
            last_event_at: event.at(),
        })
    }

    pub fn status(&self) -> JobStatus {
        let delivery = self.order.kind == JobKind::DeliveryInstall;
        if self.cancelled_at.is_some() {
            JobStatus::Cancelled
        } else if self.completed_at.is_some() {
            JobStatus::Completed
        } else if self.is_blocked() {
            JobStatus::Blocked
        } else if self.work_done_at.is_some() {
            JobStatus::WorkDone
        } else if self.checked_in_at.is_some() {
            JobStatus::OnSite
        } else if self.appointment_at.is_some() && (!delivery || self.pickup.is_some()) {
            JobStatus::Scheduled
        } else if self.pickup.is_some() {
            JobStatus::PickedUp
        } else if self.goods_arrived_at.is_some() {
            JobStatus::GoodsArrived
        } else if self.accepted_at.is_some() {
            JobStatus::Accepted
        } else if self.technician_id.is_some() {
            JobStatus::Assigned
        } else {
            JobStatus::Unassigned
        }
    }

    /// Field actions kept aside that the desk has not acknowledged yet.
    pub fn open_conflicts(&self) -> usize {
        self.flagged_events
            .len()
            .saturating_sub(self.conflicts_acknowledged as usize)
    }

    pub fn is_blocked(&self) -> bool {
        self.exceptions.iter().any(ExceptionRecord::holds_job)
    }

    pub fn blocking_exceptions(&self) -> impl Iterator<Item = &ExceptionRecord> {
        self.exceptions.iter().filter(|e| e.holds_job())
    }

    /// Distinct pictures of a category: the same bytes (same SHA-256) count once, also for a
    /// log written before the rulebook refused them ([`Rule::PhotoAlreadyOnJob`]).
    ///
    /// [`Rule::PhotoAlreadyOnJob`]: super::Rule::PhotoAlreadyOnJob
    pub fn photo_count(&self, category: PhotoCategory) -> usize {
        self.photos
            .iter()
            .filter(|p| p.category == category)
            .map(|p| p.sha256.as_str())
            .collect::<std::collections::HashSet<_>>()
            .len()
    }

    pub fn has_exception(&self, kind: ExceptionKind) -> bool {
        self.exceptions.iter().any(|e| e.kind == kind)
    }

    /// Apply an event the rulebook accepted (or that the server already accepted).
    ///
    /// Total by design: a replayed log must never fail halfway. The one thing it refuses to do is
    /// let a field event change a cancelled job; such an event is kept and flagged instead.
    pub fn apply(&mut self, event: &Event, checklist: &ChecklistTemplate) {
        let at = event.at();
        self.event_count += 1;
        self.last_event_at = self.last_event_at.max(at);
        let kind = event.body.kind();
        if self.cancelled_at.is_some() && kind.is_field() {
            self.flagged_events.push(event.id);
            return;
        }
        // A field fact from a technician who no longer holds the job (it reached the server
        // after a reassignment) is kept on the record but does not move the new holder's job.
        if let Actor::Technician { technician_id, .. } = event.actor
            && kind.is_field()
            && self.technician_id != Some(technician_id)
        {
            self.flagged_events.push(event.id);
            return;
        }
        let decided_by = match event.actor {
            Actor::Dispatcher { dispatcher_id } => dispatcher_id,
            Actor::Technician { technician_id, .. } => technician_id,
        };
        match &event.body {
            EventBody::JobCreated { .. } => {}
            EventBody::ConflictsAcknowledged { .. } => {
                self.conflicts_acknowledged =
                    u32::try_from(self.flagged_events.len()).unwrap_or(u32::MAX);
            }
            EventBody::OrderAmended { order } => self.order = order.clone(),
            EventBody::JobAssigned { technician_id } => {
                // Reassignment hands the job over: the new technician accepts afresh.
                if self.technician_id != Some(*technician_id) {
                    self.accepted_at = None;
                    if self.technician_id.is_some() {
                        self.reassigned_at = Some(at);
                    }
                }
                self.technician_id = Some(*technician_id);
                self.assigned_at.get_or_insert(at);
            }
            EventBody::JobCancelled { reason } => {
                self.cancelled_at = Some(at);
                self.cancel_reason = Some(reason.clone());
            }
            EventBody::ExceptionResolved {
                exception_id,
                decision,
                note,
            } => {
                if let Some(e) = self.exceptions.iter_mut().find(|e| e.id == *exception_id) {
                    e.resolution = Some(Resolution {
                        decision: *decision,
                        note: note.clone(),
                        decided_by,
                        decided_at: at,
                    });
                }
            }
            EventBody::ExemptionDecided {
                claim_id, granted, ..
            } => {
                if let Some(c) = self.exemptions.iter_mut().find(|c| c.id == *claim_id) {
                    c.granted = Some(*granted);
                    c.decided_at = Some(at);
                }
            }
            EventBody::ReturnVisitRecorded {
                quality,
                attitude,
                note,
            } => {
                self.return_visit = Some(ReturnVisit {
                    at,
                    quality: *quality,
                    attitude: *attitude,
                    note: note.clone(),
                });
            }
            EventBody::ComplaintFiled { complaint_id, note } => self.complaints.push(Complaint {
                id: *complaint_id,
                filed_at: at,
                note: note.clone(),
                accepted: None,
                answered_at: None,
                closed_at: None,
                result: None,
            }),
            EventBody::ComplaintAnswered {
                complaint_id,
                accepted,
                ..
            } => {
                if let Some(c) = self.complaints.iter_mut().find(|c| c.id == *complaint_id) {
                    c.accepted = Some(*accepted);
                    c.answered_at = Some(at);
                }
            }
            EventBody::ComplaintClosed {
                complaint_id,
                result,
            } => {
                if let Some(c) = self.complaints.iter_mut().find(|c| c.id == *complaint_id) {
                    c.closed_at = Some(at);
                    c.result = Some(result.clone());
                }
            }
            EventBody::AppointmentBooked { at: when, .. } => self.set_appointment(*when, at),
            EventBody::JobAccepted => self.accepted_at = Some(at),
            EventBody::CustomerCallLogged { outcome, note } => self.calls.push(CallRecord {
                event_id: event.id,
                at,
                outcome: *outcome,
                note: note.clone(),
            }),
            EventBody::LogisticsArrived { arrived_at, .. } => {
                self.goods_arrived_at = Some(*arrived_at)
            }
            EventBody::PickupRecorded {
                pieces,
                packaging,
                note,
            } => {
                self.pickup = Some(PickupRecord {
                    at,
                    pieces: *pieces,
                    packaging: *packaging,
                    note: note.clone(),
                });
                // A bad pickup stops the job by itself: the technician must not be able to
                // forget to raise it [000 一.2(4)]. The exception takes the event's id, so a
                // replay makes the very same record.
                let pickup_photos: Vec<Uuid> = self
                    .photos
                    .iter()
                    .filter(|p| p.category == PhotoCategory::Pickup)
                    .map(|p| p.photo_id)
                    .collect();
                let mut raise = |kind| {
                    self.exceptions.push(ExceptionRecord {
                        id: derived_id(event.id, kind as u8),
                        kind,
                        raised_at: at,
                        raised_by_event: event.id,
                        note: note.clone(),
                        photo_ids: pickup_photos.clone(),
                        resolution: None,
                    })
                };
                if *packaging == Packaging::Damaged {
                    raise(ExceptionKind::PickupDamaged);
                }
                if self.order.expected_pieces.is_some_and(|n| n != *pieces) {
                    raise(ExceptionKind::PickupCountMismatch);
                }
            }
            EventBody::ExceptionRaised {
                exception_id,
                kind,
                note,
                photo_ids,
            } => self.exceptions.push(ExceptionRecord {
                id: *exception_id,
                kind: *kind,
                raised_at: at,
                raised_by_event: event.id,
                note: note.clone(),
                photo_ids: photo_ids.clone(),
                resolution: None,
            }),
            EventBody::AppointmentRescheduled { at: when, .. } => {
                self.set_appointment(*when, at);
                self.reschedules += 1;
            }
            EventBody::CheckedIn { location } => {
                self.checked_in_at = Some(at);
                self.check_in_location = *location;
            }
            EventBody::ChecklistAnswered {
                item_id,
                answer,
                note,
            } => {
                self.checklist.insert(
                    item_id.clone(),
                    ChecklistAnswer {
                        answer: *answer,
                        note: note.clone(),
                        at,
                    },
                );
                // "A no on a required item becomes a conduct exception, never a silent pass."
                if !answer && checklist.item(item_id).is_some_and(|i| i.required) {
                    self.exceptions.push(ExceptionRecord {
                        id: derived_id(event.id, ExceptionKind::ConductViolation as u8),
                        kind: ExceptionKind::ConductViolation,
                        raised_at: at,
                        raised_by_event: event.id,
                        note: format!("{item_id}: {note}"),
                        photo_ids: Vec::new(),
                        resolution: None,
                    });
                }
            }
            EventBody::PhotoCaptured { photo } => self.photos.push(photo.clone()),
            EventBody::SignatureCaptured { signature } => self.signature = Some(signature.clone()),
            EventBody::WorkMarkedDone { .. } => self.work_done_at = Some(at),
            EventBody::ConfirmationCodeEntered { .. } => self.code_entered_at = Some(at),
            EventBody::JobCompleted { .. } => self.completed_at = Some(at),
            EventBody::ExemptionClaimed {
                claim_id,
                timer,
                reason,
                note,
            } => self.exemptions.push(ExemptionClaim {
                id: *claim_id,
                timer: *timer,
                reason: *reason,
                note: note.clone(),
                claimed_at: at,
                granted: None,
                decided_at: None,
            }),
            EventBody::CheckedOut => self.checked_out_at = Some(at),
        }
    }
}

impl JobView {
    /// The appointment is the one thing both sides set (the desk books, the technician
    /// reschedules with the customer). The latest agreement by when it was made wins, whatever
    /// order the two reach a log in: a phone offline for hours must not override a fresher
    /// booking just because it synced later, and the phone's replay and the server's apply
    /// agree whatever their order (ADR 0007).
    fn set_appointment(&mut self, when: DateTime<Utc>, made_at: DateTime<Utc>) {
        if self.appointment_booked_at.is_some_and(|b| made_at < b) {
            return;
        }
        self.appointment_at = Some(when);
        self.appointment_booked_at = Some(made_at);
    }
}

/// An id for a record an event makes by itself (an automatic exception), stable across replays.
fn derived_id(event_id: Uuid, salt: u8) -> Uuid {
    let mut bytes = *event_id.as_bytes();
    // Flip the last byte by a salt; keeps the version and variant bits of the source id.
    bytes[15] ^= salt.wrapping_add(1);
    Uuid::from_bytes(bytes)
}

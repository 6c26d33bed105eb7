//! Events: the immutable facts a job is made of.
//!
//! Every change to a job, on the phone or at the desk, is an [`Event`] with a client-made UUIDv7
//! id. The id is what makes upload idempotent, so it is minted once, where the action happens,
//! and never again. A job's state is nothing but the fold of its events ([`super::JobView`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::exception::{ExceptionDecision, ExceptionKind, ExemptionReason};
use super::job::JobOrder;
use super::sla::TimerKind;

/// One fact about one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    pub id: Uuid,
    pub job_id: Uuid,
    pub actor: Actor,
    /// Wall-clock time on the device (or the server, for the desk's events) when it happened.
    /// A phone's clock can be wrong or changed, so this is evidence, not truth: see `corrected_at`.
    pub recorded_at: DateTime<Utc>,
    /// The device's monotonic clock (time since boot, in ms) at the same moment. It cannot be set
    /// by the user, so it exposes a wall clock that jumped between two events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monotonic_ms: Option<i64>,
    /// Position in the device's own sequence (1, 2, 3...), so gaps in what arrives are visible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_seq: Option<i64>,
    /// Server clock minus device clock in ms, as the device last measured it when it recorded the
    /// event: lets the server correct the time even when the monotonic anchor is lost (reboot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_offset_ms: Option<i64>,
    /// The time the server believes, once it has estimated the device's clock offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrected_at: Option<DateTime<Utc>>,
    pub body: EventBody,
    /// A field event's signature and link in its device's chain (`chain`, ADR 0016); the
    /// desk's events and those of apps from before the chain have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<super::chain::Seal>,
}

impl Event {
    /// The time rules and timers use: the corrected time where the server made one.
    pub fn at(&self) -> DateTime<Utc> {
        self.corrected_at.unwrap_or(self.recorded_at)
    }
}

/// Who did it. The technician owns the field record, the desk owns the order (design.md, "Who
/// owns what"), so every event names its side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Actor {
    Technician {
        technician_id: Uuid,
        device_id: Uuid,
    },
    Dispatcher {
        dispatcher_id: Uuid,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GeoPoint {
    pub lat: f64,
    pub lon: f64,
    /// Horizontal accuracy in metres, as the phone reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_m: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// The customer answered.
    Reached,
    NoAnswer,
    Busy,
    Unreachable,
    WrongNumber,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Packaging {
    Intact,
    Damaged,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PhotoCategory {
    Pickup,
    Completion,
    Receipt,
    Exception,
    Signature,
}

impl PhotoCategory {
    pub const ALL: [PhotoCategory; 5] = [
        PhotoCategory::Pickup,
        PhotoCategory::Completion,
        PhotoCategory::Receipt,
        PhotoCategory::Exception,
        PhotoCategory::Signature,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PhotoCategory::Pickup => "pickup",
            PhotoCategory::Completion => "completion",
            PhotoCategory::Receipt => "receipt",
            PhotoCategory::Exception => "exception",
            PhotoCategory::Signature => "signature",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// What the job record keeps of a photo: enough to prove which bytes were meant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PhotoRef {
    pub photo_id: Uuid,
    pub category: PhotoCategory,
    /// SHA-256 of the stored file, lower-case hex.
    pub sha256: String,
    /// Where it was taken, when the phone knew.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<GeoPoint>,
}

/// The customer's signature: the strokes are the evidence, the PNG is for people to look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignatureRef {
    pub signature_id: Uuid,
    /// SHA-256 of the stored stroke data.
    pub strokes_sha256: String,
    pub stroke_count: u32,
}

/// What happened. Field events come from the technician's device, the rest from the desk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventBody {
    // The desk's side.
    JobCreated {
        order: JobOrder,
        /// The organisation's number for the job, given by the server at creation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        number: Option<super::JobNumber>,
    },
    /// First assignment and reassignment alike: the job now belongs to this technician.
    JobAssigned {
        technician_id: Uuid,
    },
    JobCancelled {
        reason: String,
    },
    /// The desk corrected the order's details (a typo in the address, a new phone number). The
    /// job's kind and, once accepted, its fee basis stay as they were: the flow and the SLA
    /// clocks hang on the kind, and an accepted quote is locked [000 一.1].
    OrderAmended {
        order: JobOrder,
    },
    ExceptionResolved {
        exception_id: Uuid,
        decision: ExceptionDecision,
        note: String,
    },
    ExemptionDecided {
        claim_id: Uuid,
        granted: bool,
        note: String,
    },
    ReturnVisitRecorded {
        /// Customer's rating of the work, 1 (poor) to 5 (excellent).
        quality: u8,
        /// Customer's rating of the technician's attitude, 1 to 5.
        attitude: u8,
        note: String,
    },
    ComplaintFiled {
        complaint_id: Uuid,
        note: String,
    },
    ComplaintAnswered {
        complaint_id: Uuid,
        accepted: bool,
        note: String,
    },
    ComplaintClosed {
        complaint_id: Uuid,
        result: String,
    },
    /// The desk has seen the field actions kept aside on this job (ADR 0007): those up to now
    /// no longer show as an open conflict; they stay on the record.
    ConflictsAcknowledged {
        #[serde(default)]
        note: String,
    },

    // Either side: the desk books on intake, the technician after calling the customer.
    AppointmentBooked {
        at: DateTime<Utc>,
        note: String,
    },

    // The technician's side: the field record.
    JobAccepted,
    CustomerCallLogged {
        outcome: CallOutcome,
        note: String,
    },
    LogisticsArrived {
        /// When the goods reached the logistics point (may be earlier than it was recorded).
        arrived_at: DateTime<Utc>,
        note: String,
    },
    PickupRecorded {
        pieces: u32,
        packaging: Packaging,
        note: String,
    },
    ExceptionRaised {
        exception_id: Uuid,
        kind: ExceptionKind,
        note: String,
        #[serde(default)]
        photo_ids: Vec<Uuid>,
    },
    AppointmentRescheduled {
        at: DateTime<Utc>,
        reason: String,
        customer_consented: bool,
    },
    CheckedIn {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        location: Option<GeoPoint>,
    },
    ChecklistAnswered {
        item_id: String,
        answer: bool,
        #[serde(default)]
        note: String,
    },
    PhotoCaptured {
        photo: PhotoRef,
    },
    SignatureCaptured {
        signature: SignatureRef,
    },
    WorkMarkedDone {
        note: String,
    },
    ConfirmationCodeEntered {
        code: String,
    },
    JobCompleted {
        note: String,
    },
    ExemptionClaimed {
        claim_id: Uuid,
        timer: TimerKind,
        reason: ExemptionReason,
        note: String,
    },
    CheckedOut,
}

/// The kind of an event without its payload: what the app lists as "what can I do next".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    JobCreated,
    JobAssigned,
    JobCancelled,
    OrderAmended,
    ExceptionResolved,
    ExemptionDecided,
    ReturnVisitRecorded,
    ComplaintFiled,
    ComplaintAnswered,
    ComplaintClosed,
    ConflictsAcknowledged,
    AppointmentBooked,
    JobAccepted,
    CustomerCallLogged,
    LogisticsArrived,
    PickupRecorded,
    ExceptionRaised,
    AppointmentRescheduled,
    CheckedIn,
    ChecklistAnswered,
    PhotoCaptured,
    SignatureCaptured,
    WorkMarkedDone,
    ConfirmationCodeEntered,
    JobCompleted,
    ExemptionClaimed,
    CheckedOut,
}

impl ActionKind {
    /// The technician's actions, in the order a visit usually goes.
    pub const FIELD: [ActionKind; 15] = [
        ActionKind::JobAccepted,
        ActionKind::CustomerCallLogged,
        ActionKind::LogisticsArrived,
        ActionKind::PhotoCaptured,
        ActionKind::PickupRecorded,
        ActionKind::AppointmentBooked,
        ActionKind::AppointmentRescheduled,
        ActionKind::CheckedIn,
        ActionKind::ChecklistAnswered,
        ActionKind::WorkMarkedDone,
        ActionKind::SignatureCaptured,
        ActionKind::ConfirmationCodeEntered,
        ActionKind::JobCompleted,
        ActionKind::CheckedOut,
        ActionKind::ExceptionRaised,
    ];

    /// Whether this is part of the field record, which only the assigned technician writes.
    /// `AppointmentBooked` is shared and `ExemptionClaimed` is the technician's too.
    pub fn is_field(self) -> bool {
        Self::FIELD.contains(&self) || self == ActionKind::ExemptionClaimed
    }

    /// Events only the desk may record.
    pub fn is_desk_only(self) -> bool {
        matches!(
            self,
            ActionKind::JobCreated
                | ActionKind::JobAssigned
                | ActionKind::JobCancelled
                | ActionKind::OrderAmended
                | ActionKind::ExceptionResolved
                | ActionKind::ExemptionDecided
                | ActionKind::ReturnVisitRecorded
                | ActionKind::ComplaintFiled
                | ActionKind::ComplaintAnswered
                | ActionKind::ComplaintClosed
                | ActionKind::ConflictsAcknowledged
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::JobCreated => "job_created",
            ActionKind::JobAssigned => "job_assigned",
            ActionKind::JobCancelled => "job_cancelled",
            ActionKind::OrderAmended => "order_amended",
            ActionKind::ExceptionResolved => "exception_resolved",
            ActionKind::ExemptionDecided => "exemption_decided",
            ActionKind::ReturnVisitRecorded => "return_visit_recorded",
            ActionKind::ComplaintFiled => "complaint_filed",
            ActionKind::ComplaintAnswered => "complaint_answered",
            ActionKind::ComplaintClosed => "complaint_closed",
            ActionKind::ConflictsAcknowledged => "conflicts_acknowledged",
            ActionKind::AppointmentBooked => "appointment_booked",
            ActionKind::JobAccepted => "job_accepted",
            ActionKind::CustomerCallLogged => "customer_call_logged",
            ActionKind::LogisticsArrived => "logistics_arrived",
            ActionKind::PickupRecorded => "pickup_recorded",
            ActionKind::ExceptionRaised => "exception_raised",
            ActionKind::AppointmentRescheduled => "appointment_rescheduled",
            ActionKind::CheckedIn => "checked_in",
            ActionKind::ChecklistAnswered => "checklist_answered",
            ActionKind::PhotoCaptured => "photo_captured",
            ActionKind::SignatureCaptured => "signature_captured",
            ActionKind::WorkMarkedDone => "work_marked_done",
            ActionKind::ConfirmationCodeEntered => "confirmation_code_entered",
            ActionKind::JobCompleted => "job_completed",
            ActionKind::ExemptionClaimed => "exemption_claimed",
            ActionKind::CheckedOut => "checked_out",
        }
    }
}

impl EventBody {
    pub fn kind(&self) -> ActionKind {
        match self {
            EventBody::JobCreated { .. } => ActionKind::JobCreated,
            EventBody::JobAssigned { .. } => ActionKind::JobAssigned,
            EventBody::JobCancelled { .. } => ActionKind::JobCancelled,
            EventBody::OrderAmended { .. } => ActionKind::OrderAmended,
            EventBody::ExceptionResolved { .. } => ActionKind::ExceptionResolved,
            EventBody::ExemptionDecided { .. } => ActionKind::ExemptionDecided,
            EventBody::ReturnVisitRecorded { .. } => ActionKind::ReturnVisitRecorded,
            EventBody::ComplaintFiled { .. } => ActionKind::ComplaintFiled,
            EventBody::ComplaintAnswered { .. } => ActionKind::ComplaintAnswered,
            EventBody::ComplaintClosed { .. } => ActionKind::ComplaintClosed,
            EventBody::ConflictsAcknowledged { .. } => ActionKind::ConflictsAcknowledged,
            EventBody::AppointmentBooked { .. } => ActionKind::AppointmentBooked,
            EventBody::JobAccepted => ActionKind::JobAccepted,
            EventBody::CustomerCallLogged { .. } => ActionKind::CustomerCallLogged,
            EventBody::LogisticsArrived { .. } => ActionKind::LogisticsArrived,
            EventBody::PickupRecorded { .. } => ActionKind::PickupRecorded,
            EventBody::ExceptionRaised { .. } => ActionKind::ExceptionRaised,
            EventBody::AppointmentRescheduled { .. } => ActionKind::AppointmentRescheduled,
            EventBody::CheckedIn { .. } => ActionKind::CheckedIn,
            EventBody::ChecklistAnswered { .. } => ActionKind::ChecklistAnswered,
            EventBody::PhotoCaptured { .. } => ActionKind::PhotoCaptured,
            EventBody::SignatureCaptured { .. } => ActionKind::SignatureCaptured,
            EventBody::WorkMarkedDone { .. } => ActionKind::WorkMarkedDone,
            EventBody::ConfirmationCodeEntered { .. } => ActionKind::ConfirmationCodeEntered,
            EventBody::JobCompleted { .. } => ActionKind::JobCompleted,
            EventBody::ExemptionClaimed { .. } => ActionKind::ExemptionClaimed,
            EventBody::CheckedOut => ActionKind::CheckedOut,
        }
    }
}

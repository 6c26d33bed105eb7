//! The records and enums the bindings hand out, and their conversions from the core's types.
//!
//! The core's plain enums are exported as they are (`#[uniffi::remote(Enum)]`: the variant lists
//! below must match the core's, which the compiler checks). Records are mirrored where the core
//! type holds something the foreign side cannot take as is (uuids, chrono times, maps) or carries
//! more than the app should see. Ids cross as strings, times as `SystemTime` (Kotlin `Instant`,
//! Swift `Date`), days as ISO `YYYY-MM-DD` strings.

use std::time::SystemTime;

use chrono::{DateTime, Utc};
use fieldcore::domain::{
    ActionKind, CallOutcome, ExceptionDecision, ExceptionKind, ExemptionReason, GeoPoint, JobKind,
    JobStatus, Lang, Missing, Packaging, Phase, PhotoCategory, TimerKind,
};
use fieldcore::store::{HousekeepingReport, PhotoUpload, PushState};
use fieldcore::sync::{Authorization, SyncReport};

// ---- the core's enums, exported as they are ----

#[uniffi::remote(Enum)]
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
    Blocked,
    Cancelled,
}

#[uniffi::remote(Enum)]
pub enum JobKind {
    Install,
    DeliveryInstall,
    Repair,
}

#[uniffi::remote(Enum)]
pub enum CallOutcome {
    Reached,
    NoAnswer,
    Busy,
    Unreachable,
    WrongNumber,
}

#[uniffi::remote(Enum)]
pub enum Packaging {
    Intact,
    Damaged,
}

#[uniffi::remote(Enum)]
pub enum PhotoCategory {
    Pickup,
    Completion,
    Receipt,
    Exception,
    Signature,
}

#[uniffi::remote(Enum)]
pub enum ExceptionKind {
    PickupDamaged,
    PickupCountMismatch,
    GoodsMismatchOrder,
    ExtraFeeNeeded,
    CustomerAbsent,
    RescheduleRequested,
    LateArrival,
    DamageCaused,
    Dispute,
    ConductViolation,
    CompletionCodeUnavailable,
}

#[uniffi::remote(Enum)]
pub enum ExceptionDecision {
    Proceed,
    Stop,
}

#[uniffi::remote(Enum)]
pub enum TimerKind {
    Dispatch,
    FirstContact,
    ArrivalWindow,
    Completion,
    RepairResponse,
    RepairOnSite,
    ReturnVisit,
    ComplaintAnswer,
    ComplaintResult,
}

#[uniffi::remote(Enum)]
pub enum ExemptionReason {
    Weather,
    Customer,
    CodeUnavailable,
    Other,
}

#[uniffi::remote(Enum)]
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

#[uniffi::remote(Enum)]
pub enum Phase {
    BeforeEntering,
    During,
    Finishing,
}

#[uniffi::remote(Enum)]
pub enum PushState {
    Pending,
    Accepted,
    Duplicate,
    Rejected,
    Remote,
}

#[uniffi::remote(Enum)]
pub enum PhotoUpload {
    Waiting,
    Uploaded,
}

#[uniffi::remote(Record)]
pub struct HousekeepingReport {
    pub photos_pruned: u32,
    pub leftovers_removed: u32,
    pub bytes_freed: u64,
    pub deferred: bool,
}

#[uniffi::remote(Record)]
pub struct GeoPoint {
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: Option<f64>,
}

#[uniffi::remote(Record)]
pub struct SyncReport {
    pub events_sent: u32,
    pub accepted: u32,
    pub duplicates: u32,
    pub rejected: u32,
    pub events_received: u32,
    pub photos_uploaded: u32,
    pub bytes_uploaded: u64,
    pub bytes_sent: u64,
    pub retries: u32,
    pub errors: Vec<String>,
    pub events_waiting: u64,
    pub photos_waiting: u32,
    pub clock_offset_ms: Option<i64>,
}

// ---- records made for the app ----

/// How to open the core. Paths are the app's private storage.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CoreConfig {
    /// The SQLite file; its folder is created if needed.
    pub database_path: String,
    /// Where stored photos go; defaults to `photos/` beside the database.
    #[uniffi(default = None)]
    pub photo_dir: Option<String>,
    /// The sync server to use before enrolment names one.
    #[uniffi(default = None)]
    pub server_url: Option<String>,
    /// `en` or `zh-CN`: the language of refusals, checklist texts and labels.
    #[uniffi(default = "en")]
    pub language: String,
    /// Delete the camera's original file once the photo is stored (it holds GPS and device
    /// metadata we do not want left in the app's cache).
    #[uniffi(default = true)]
    pub delete_original_photos: bool,
}

/// The device at a glance, for the status line.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CoreStatus {
    pub device_id: String,
    /// Events recorded here and not yet accepted by the server.
    pub outbox_len: u64,
    pub photos_awaiting_upload: u64,
    pub enrolled: bool,
    /// Whether the server takes this device's syncs, as last heard (kept across restarts):
    /// `Revoked` means the desk withdrew the device and the app shows enrolment again.
    pub authorization: Authorization,
    /// When the last whole sync finished, kept across restarts.
    pub last_synced_at: Option<SystemTime>,
    pub server_url: Option<String>,
    pub technician_id: Option<String>,
}

#[uniffi::remote(Enum)]
pub enum Authorization {
    NotEnrolled,
    Enrolled,
    Revoked,
}

/// Who this device now belongs to.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Enrollment {
    pub technician_id: String,
    pub technician_name: String,
    pub organisation_name: String,
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct JobSummary {
    pub job_id: String,
    /// The id to show and read out: the shortest tail of the id unique on this device.
    pub short_id: String,
    /// The organisation's number for the job (`J-1042`): what the desk and the customer say.
    pub number: Option<String>,
    pub kind: JobKind,
    pub status: JobStatus,
    pub customer_name: String,
    pub address: String,
    pub appointment_at: Option<SystemTime>,
    /// The appointment's date in the organisation's local time, `YYYY-MM-DD`.
    pub appointment_day: Option<String>,
    /// The desk gave the job to another technician while this one worked on it: show it as
    /// such; nothing more can be done on it.
    pub reassigned_away: bool,
    /// My other visits booked too close to this one (a visit plus travel, from the
    /// organisation's policy): a warning to show on the row, the same the desk sees.
    pub schedule_conflicts: Vec<ScheduleConflict>,
}

/// Another visit of mine too close to this job's (see `fieldcore::domain::schedule`).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ScheduleConflict {
    pub other_job_id: String,
    /// The other job's number (`J-1042`), if it has one.
    pub other_number: Option<String>,
    pub other_at: SystemTime,
    /// How many minutes short of a visit plus travel the gap is.
    pub short_by_minutes: i64,
}

impl From<fieldcore::domain::ScheduleConflict> for ScheduleConflict {
    fn from(c: fieldcore::domain::ScheduleConflict) -> Self {
        ScheduleConflict {
            other_job_id: c.other_job_id.to_string(),
            other_number: c.other_number.map(|n| n.to_string()),
            other_at: time(c.other_at),
            short_by_minutes: c.short_by_minutes,
        }
    }
}

/// One thing still needed before the job can be completed.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct MissingItem {
    /// Stable code: `check_in`, `completion_photos`, `signature`, ...
    pub what: String,
    /// What to do, in the configured language.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SlaTimer {
    pub kind: TimerKind,
    /// The complaint a complaint clock belongs to.
    pub subject_id: Option<String>,
    pub started_at: SystemTime,
    /// Earlier than this is a miss too (the arrival window's near edge).
    pub not_before: Option<SystemTime>,
    pub due_at: SystemTime,
    /// When the awaited thing happened; `None` while the clock runs.
    pub stopped_at: Option<SystemTime>,
    /// Seconds left (negative: overdue), at the stop or now.
    pub remaining_secs: i64,
    pub breached: bool,
    pub exempted: bool,
}

/// A checklist item with the technician's answer, in the configured language.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ChecklistEntry {
    pub item_id: String,
    pub phase: Phase,
    pub required: bool,
    pub text: String,
    pub answer: Option<bool>,
    pub note: Option<String>,
    pub answered_at: Option<SystemTime>,
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CallEntry {
    pub event_id: String,
    pub at: SystemTime,
    pub outcome: CallOutcome,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PickupEntry {
    pub at: SystemTime,
    pub pieces: u32,
    pub packaging: Packaging,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct JobPhoto {
    pub photo_id: String,
    pub category: PhotoCategory,
    pub sha256: String,
    pub location: Option<GeoPoint>,
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct JobException {
    pub exception_id: String,
    pub kind: ExceptionKind,
    /// The kind's name in the configured language.
    pub label: String,
    pub note: String,
    pub raised_at: SystemTime,
    /// Holds the job until the desk decides (or because it decided to stop).
    pub holds_job: bool,
    pub decision: Option<ExceptionDecision>,
    pub decision_note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ExemptionEntry {
    pub claim_id: String,
    pub timer: TimerKind,
    pub reason: ExemptionReason,
    pub note: String,
    pub claimed_at: SystemTime,
    /// `None` while the desk has not decided.
    pub granted: Option<bool>,
}

/// One line of the job's timeline.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct TimelineEntry {
    pub event_id: String,
    pub kind: ActionKind,
    /// The time the rules use: the server-corrected time where there is one.
    pub at: SystemTime,
    pub by_technician: bool,
    pub push_state: PushState,
    /// The server's reason, for a rejected event (a conflict to show).
    pub push_note: Option<String>,
    /// For a pending event that no longer fits the server's log (reassigned, cancelled...):
    /// why, in the configured language. The server will most likely say the same.
    pub conflict: Option<String>,
    /// In the server's log, with the server's time.
    pub confirmed: bool,
    /// For a photo taken on this device: whether its bytes reached the server (the event and
    /// the photo sync apart).
    pub photo_upload: Option<PhotoUpload>,
}

/// Everything the job screen shows.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct JobDetail {
    pub job_id: String,
    /// See [`JobSummary::short_id`].
    pub short_id: String,
    /// See [`JobSummary::number`].
    pub number: Option<String>,
    pub kind: JobKind,
    pub status: JobStatus,
    /// See [`JobSummary::reassigned_away`].
    pub reassigned_away: bool,
    pub customer_name: String,
    pub address: String,
    pub phone: String,
    pub product_model: String,
    pub work: String,
    pub ordering_party: String,
    pub severity: Option<u8>,
    pub requires_verification: bool,
    pub expected_pieces: Option<u32>,
    pub created_at: SystemTime,
    pub accepted_at: Option<SystemTime>,
    pub goods_arrived_at: Option<SystemTime>,
    pub appointment_at: Option<SystemTime>,
    pub reschedules: u32,
    pub checked_in_at: Option<SystemTime>,
    pub check_in_location: Option<GeoPoint>,
    pub work_done_at: Option<SystemTime>,
    pub code_entered: bool,
    pub signature_captured: bool,
    pub completed_at: Option<SystemTime>,
    pub checked_out_at: Option<SystemTime>,
    pub cancelled_at: Option<SystemTime>,
    pub cancel_reason: Option<String>,
    /// What the technician may do now, in the usual order of a visit.
    pub next_actions: Vec<ActionKind>,
    /// The photo categories the core accepts now: the cameras to offer (the signature's image
    /// is made from the strokes, never photographed).
    pub photo_categories: Vec<PhotoCategory>,
    /// What completion still needs (empty: ready to complete).
    pub completion_missing: Vec<MissingItem>,
    pub timers: Vec<SlaTimer>,
    pub checklist: Vec<ChecklistEntry>,
    pub calls: Vec<CallEntry>,
    pub pickup: Option<PickupEntry>,
    pub photos: Vec<JobPhoto>,
    pub exceptions: Vec<JobException>,
    pub exemptions: Vec<ExemptionEntry>,
    pub timeline: Vec<TimelineEntry>,
    /// See [`JobSummary::schedule_conflicts`].
    pub schedule_conflicts: Vec<ScheduleConflict>,
}

/// An action that was recorded durably (it will be pushed on the next sync).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct RecordedEvent {
    pub event_id: String,
    pub kind: ActionKind,
    pub recorded_at: SystemTime,
    /// The id the action created, where it made one: the exception of `raise_exception`, the
    /// claim of `claim_exemption`.
    pub subject_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CapturedPhoto {
    pub event_id: String,
    pub photo_id: String,
    pub sha256: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    pub path: String,
    pub thumb_path: String,
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CapturedSignature {
    pub signature_event_id: String,
    pub photo_event_id: String,
    pub strokes_sha256: String,
    pub png_sha256: String,
}

/// One pen sample, in canvas pixels; `t_ms` since the signature started.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct SignaturePoint {
    pub x: f32,
    pub y: f32,
    pub t_ms: u32,
}

/// Pen down to pen up.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SignatureStroke {
    pub points: Vec<SignaturePoint>,
}

// ---- conversions ----

pub(crate) fn time(t: DateTime<Utc>) -> SystemTime {
    t.into()
}

pub(crate) fn opt_time(t: Option<DateTime<Utc>>) -> Option<SystemTime> {
    t.map(time)
}

pub(crate) fn missing_item(m: &Missing, lang: Lang) -> MissingItem {
    let what = match m {
        Missing::CheckIn => "check_in",
        Missing::WorkMarkedDone => "work_marked_done",
        Missing::ChecklistItems { .. } => "checklist_items",
        Missing::CompletionPhotos { .. } => "completion_photos",
        Missing::ReceiptPhoto => "receipt_photo",
        Missing::Signature => "signature",
        Missing::ConfirmationCode => "confirmation_code",
        Missing::PickupPhoto => "pickup_photo",
        Missing::Appointment => "appointment",
        Missing::Pickup => "pickup",
        Missing::ExceptionDecision { .. } => "exception_decision",
        Missing::Wait { .. } => "wait",
        Missing::CallToCustomer => "call_to_customer",
        Missing::Field { .. } => "field",
    };
    MissingItem {
        what: what.into(),
        message: m.message(lang),
    }
}

fn conflicts(c: Vec<fieldcore::domain::ScheduleConflict>) -> Vec<ScheduleConflict> {
    c.into_iter().map(ScheduleConflict::from).collect()
}

impl From<fieldcore::store::JobSummary> for JobSummary {
    fn from(s: fieldcore::store::JobSummary) -> Self {
        JobSummary {
            job_id: s.id.to_string(),
            short_id: s.short_id,
            number: s.number.map(|n| n.to_string()),
            kind: s.kind,
            status: s.status,
            customer_name: s.customer_name,
            address: s.address,
            appointment_at: opt_time(s.appointment_at),
            appointment_day: s.appointment_day.map(|d| d.to_string()),
            reassigned_away: s.reassigned_away,
            schedule_conflicts: conflicts(s.schedule_conflicts),
        }
    }
}

impl From<fieldcore::domain::Timer> for SlaTimer {
    fn from(t: fieldcore::domain::Timer) -> Self {
        SlaTimer {
            kind: t.kind,
            subject_id: t.subject.map(|s| s.to_string()),
            started_at: time(t.started_at),
            not_before: opt_time(t.not_before),
            due_at: time(t.due_at),
            stopped_at: opt_time(t.stopped_at),
            remaining_secs: t.remaining_secs,
            breached: t.breached,
            exempted: t.exempted,
        }
    }
}

impl From<fieldcore::domain::Event> for RecordedEvent {
    fn from(e: fieldcore::domain::Event) -> Self {
        use fieldcore::domain::EventBody;
        let subject_id = match &e.body {
            EventBody::ExceptionRaised { exception_id, .. } => Some(exception_id.to_string()),
            EventBody::ExemptionClaimed { claim_id, .. } => Some(claim_id.to_string()),
            _ => None,
        };
        RecordedEvent {
            event_id: e.id.to_string(),
            kind: e.body.kind(),
            recorded_at: time(e.recorded_at),
            subject_id,
        }
    }
}

/// The job screen's record from the store's detail, the rules in force and the language.
pub(crate) fn job_detail(
    d: fieldcore::store::JobDetail,
    rulebook: &fieldcore::domain::Rulebook,
    lang: Lang,
) -> JobDetail {
    use fieldcore::domain::Actor;
    let v = d.view;
    let checklist = rulebook
        .checklist
        .items
        .iter()
        .map(|item| {
            let answer = v.checklist.get(&item.id);
            ChecklistEntry {
                item_id: item.id.clone(),
                phase: item.phase,
                required: item.required,
                text: item.text(lang).to_string(),
                answer: answer.map(|a| a.answer),
                note: answer.map(|a| a.note.clone()).filter(|n| !n.is_empty()),
                answered_at: answer.map(|a| time(a.at)),
            }
        })
        .collect();
    JobDetail {
        job_id: v.id.to_string(),
        short_id: d.short_id,
        number: v.number.map(|n| n.to_string()),
        kind: v.order.kind,
        status: d.status,
        reassigned_away: d.reassigned_away,
        customer_name: v.order.customer_name,
        address: v.order.address,
        phone: v.order.phone,
        product_model: v.order.product_model,
        work: v.order.work,
        ordering_party: v.order.ordering_party,
        severity: v.order.severity,
        requires_verification: v.order.requires_verification,
        expected_pieces: v.order.expected_pieces,
        created_at: time(v.created_at),
        accepted_at: opt_time(v.accepted_at),
        goods_arrived_at: opt_time(v.goods_arrived_at),
        appointment_at: opt_time(v.appointment_at),
        reschedules: v.reschedules,
        checked_in_at: opt_time(v.checked_in_at),
        check_in_location: v.check_in_location,
        work_done_at: opt_time(v.work_done_at),
        code_entered: v.code_entered_at.is_some(),
        signature_captured: v.signature.is_some(),
        completed_at: opt_time(v.completed_at),
        checked_out_at: opt_time(v.checked_out_at),
        cancelled_at: opt_time(v.cancelled_at),
        cancel_reason: v.cancel_reason,
        next_actions: d.next_actions,
        photo_categories: d.photo_categories,
        completion_missing: d
            .completion_missing
            .iter()
            .map(|m| missing_item(m, lang))
            .collect(),
        timers: d.timers.into_iter().map(SlaTimer::from).collect(),
        checklist,
        calls: v
            .calls
            .into_iter()
            .map(|c| CallEntry {
                event_id: c.event_id.to_string(),
                at: time(c.at),
                outcome: c.outcome,
                note: c.note,
            })
            .collect(),
        pickup: v.pickup.map(|p| PickupEntry {
            at: time(p.at),
            pieces: p.pieces,
            packaging: p.packaging,
            note: p.note,
        }),
        photos: v
            .photos
            .into_iter()
            .map(|p| JobPhoto {
                photo_id: p.photo_id.to_string(),
                category: p.category,
                sha256: p.sha256,
                location: p.location,
            })
            .collect(),
        exceptions: v
            .exceptions
            .iter()
            .map(|x| JobException {
                exception_id: x.id.to_string(),
                kind: x.kind,
                label: x.kind.label(lang).to_string(),
                note: x.note.clone(),
                raised_at: time(x.raised_at),
                holds_job: x.holds_job(),
                decision: x.resolution.as_ref().map(|r| r.decision),
                decision_note: x.resolution.as_ref().map(|r| r.note.clone()),
            })
            .collect(),
        exemptions: v
            .exemptions
            .into_iter()
            .map(|c| ExemptionEntry {
                claim_id: c.id.to_string(),
                timer: c.timer,
                reason: c.reason,
                note: c.note,
                claimed_at: time(c.claimed_at),
                granted: c.granted,
            })
            .collect(),
        timeline: d
            .timeline
            .into_iter()
            .map(|t| TimelineEntry {
                event_id: t.event.id.to_string(),
                kind: t.event.body.kind(),
                at: time(t.event.at()),
                by_technician: matches!(t.event.actor, Actor::Technician { .. }),
                push_state: t.push_state,
                push_note: t.push_note,
                conflict: t.conflict.map(|r| r.message(lang)),
                confirmed: t.confirmed,
                photo_upload: t.photo_upload,
            })
            .collect(),
        schedule_conflicts: conflicts(d.schedule_conflicts),
    }
}

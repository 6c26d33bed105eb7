//! The guards: which event may happen to which job, by whom, and when.
//!
//! [`Rulebook::check`] is the one place a rule lives. The phone calls it before it records an
//! action, the server calls it on every event that arrives, and [`Rulebook::next_actions`] asks
//! it what the technician can do next, so the three can never disagree.

use chrono::Duration;
use uuid::Uuid;

use super::checklist::ChecklistTemplate;
use super::event::{ActionKind, Actor, Event, EventBody, PhotoCategory};
use super::exception::ExceptionKind;
use super::job::{JobKind, JobOrder, JobView};
use super::refusal::{Missing, Refusal, Rule};
use super::sla::Policy;

/// What a log does with an event: the same decision on the server (a push arrives) and on the
/// phone (its pending events rebased on the server's log), so both end with the same view
/// (ADR 0007).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Passes every rule: applies to the job.
    Applies,
    /// A field fact that reached the log after the desk cancelled or reassigned the job: kept on
    /// the record and shown to the desk as a conflict, never applied to the job's state
    /// ([`JobView::apply`] keeps it aside).
    Kept(Kept),
    Refused(Refusal),
}

/// Why a field event was kept aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    AfterCancellation,
    /// From a technician who no longer holds the job; `after_reassignment`: it happened (by its
    /// corrected time) after the hand-over, not only reached the log after it.
    FormerTechnician {
        after_reassignment: bool,
    },
}

/// The rules of one organisation: its policy numbers and its checklist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rulebook {
    pub policy: Policy,
    pub checklist: ChecklistTemplate,
}

impl Rulebook {
    pub fn new(policy: Policy, checklist: ChecklistTemplate) -> Self {
        Rulebook { policy, checklist }
    }

    /// May this event happen to this job (`None`: the job does not exist yet)?
    pub fn check(&self, job: Option<&JobView>, event: &Event) -> Result<(), Refusal> {
        let kind = event.body.kind();
        super::limits::check_event(event)?;
        let Some(job) = job else {
            return match &event.body {
                EventBody::JobCreated { order, .. } => {
                    side(kind, &event.actor)?;
                    validate_order(kind, order)
                }
                _ => Err(Refusal::new(Rule::UnknownJob, kind)),
            };
        };
        super::limits::check_room(job, event)?;
        self.guard_state(job, &event.actor, kind)?;
        self.guard_payload(job, event)
    }

    /// [`Rulebook::check`], with the conflict policy on top: a field fact refused only because
    /// the job was cancelled or given to someone else meanwhile is kept, not refused.
    pub fn admit(&self, job: Option<&JobView>, event: &Event) -> Admission {
        let kind = event.body.kind();
        let full = job.is_some_and(|v| v.flagged_events.len() >= super::limits::KEPT_PER_JOB_MAX);
        match self.check(job, event) {
            Err(r)
                if full
                    && kind.is_field()
                    && matches!(r.rule, Rule::JobCancelled | Rule::NotAssignedToYou) =>
            {
                Admission::Refused(Refusal::new(Rule::LimitReached, kind))
            }
            Ok(()) => Admission::Applies,
            Err(r) if r.rule == Rule::JobCancelled && kind.is_field() => {
                Admission::Kept(Kept::AfterCancellation)
            }
            Err(r)
                if r.rule == Rule::NotAssignedToYou
                    && kind.is_field()
                    && matches!(event.actor, Actor::Technician { .. }) =>
            {
                let after_reassignment = job
                    .and_then(|v| v.reassigned_at)
                    .is_some_and(|lost| event.at() > lost);
                Admission::Kept(Kept::FormerTechnician { after_reassignment })
            }
            Err(r) => Admission::Refused(r),
        }
    }

    /// Apply a checked event (a convenience over [`JobView::apply`] that knows the checklist).
    pub fn apply(&self, job: &mut JobView, event: &Event) {
        job.apply(event, &self.checklist);
    }

    /// Fold a job's events, in log order, into its view. Events before `JobCreated` are ignored.
    pub fn replay<'a>(&self, events: impl IntoIterator<Item = &'a Event>) -> Option<JobView> {
        let mut view: Option<JobView> = None;
        for e in events {
            match view.as_mut() {
                None => view = JobView::created(e),
                Some(v) => v.apply(e, &self.checklist),
            }
        }
        view
    }

    /// What the assigned technician may do next, in the order a visit usually goes.
    pub fn next_actions(&self, job: &JobView, technician_id: Uuid) -> Vec<ActionKind> {
        let actor = Actor::Technician {
            technician_id,
            device_id: Uuid::nil(),
        };
        let mut kinds: Vec<ActionKind> = ActionKind::FIELD.to_vec();
        kinds.push(ActionKind::ExemptionClaimed);
        kinds
            .into_iter()
            .filter(|k| self.guard_state(job, &actor, *k).is_ok())
            .collect()
    }

    /// The categories a photo may be taken in now, by the same rules that check the photo's
    /// record, so the app offers exactly the cameras the core will accept. The signature's
    /// image is not among them: the core renders it from the customer's strokes.
    pub fn photo_categories(&self, job: &JobView, technician_id: Uuid) -> Vec<PhotoCategory> {
        let actor = Actor::Technician {
            technician_id,
            device_id: Uuid::nil(),
        };
        if self
            .guard_state(job, &actor, ActionKind::PhotoCaptured)
            .is_err()
        {
            return Vec::new();
        }
        PhotoCategory::ALL
            .into_iter()
            .filter(|c| *c != PhotoCategory::Signature)
            .filter(|c| photo_category_allowed(job, *c).is_ok())
            .collect()
    }

    /// What still stands between the job and its completion.
    pub fn completion_missing(&self, job: &JobView) -> Vec<Missing> {
        let mut missing = Vec::new();
        if job.checked_in_at.is_none() {
            missing.push(Missing::CheckIn);
        }
        if job.work_done_at.is_none() {
            missing.push(Missing::WorkMarkedDone);
        }
        let unanswered: Vec<String> = self
            .checklist
            .required()
            .filter(|i| !job.checklist.contains_key(&i.id))
            .map(|i| i.id.clone())
            .collect();
        if !unanswered.is_empty() {
            missing.push(Missing::ChecklistItems {
                item_ids: unanswered,
            });
        }
        let have = job.photo_count(PhotoCategory::Completion) as u32;
        if have < self.policy.min_completion_photos {
            missing.push(Missing::CompletionPhotos {
                have,
                need: self.policy.min_completion_photos,
            });
        }
        if (job.photo_count(PhotoCategory::Receipt) as u32) < self.policy.min_receipt_photos {
            missing.push(Missing::ReceiptPhoto);
        }
        if job.signature.is_none() {
            missing.push(Missing::Signature);
        }
        if job.order.requires_verification
            && job.code_entered_at.is_none()
            && !job.has_exception(ExceptionKind::CompletionCodeUnavailable)
        {
            missing.push(Missing::ConfirmationCode);
        }
        missing
    }

    /// The rules that depend only on the job and who acts, not on the event's details.
    fn guard_state(&self, job: &JobView, actor: &Actor, kind: ActionKind) -> Result<(), Refusal> {
        use ActionKind as A;
        let refuse = |rule| Err(Refusal::new(rule, kind));
        let need = |rule, missing| Err(Refusal::missing(rule, kind, missing));

        if kind == A::JobCreated {
            return refuse(Rule::JobAlreadyExists);
        }
        side(kind, actor)?;
        if let Actor::Technician { technician_id, .. } = actor
            && job.technician_id != Some(*technician_id)
        {
            return refuse(Rule::NotAssignedToYou);
        }

        if job.cancelled_at.is_some()
            && (kind.is_field()
                || matches!(kind, A::JobAssigned | A::JobCancelled | A::OrderAmended))
        {
            return refuse(Rule::JobCancelled);
        }
        let after_completion_ok = matches!(
            kind,
            A::CheckedOut
                | A::ExceptionRaised
                | A::ExemptionClaimed
                | A::PhotoCaptured
                | A::ExceptionResolved
                | A::ExemptionDecided
                | A::ReturnVisitRecorded
                | A::ComplaintFiled
                | A::ComplaintAnswered
                | A::ComplaintClosed
                | A::ConflictsAcknowledged
        );
        if job.completed_at.is_some() && !after_completion_ok {
            return refuse(Rule::JobCompleted);
        }
        if kind.is_field() && kind != A::JobAccepted && job.accepted_at.is_none() {
            // The desk may book for a job nobody has accepted yet; the technician may not act.
            if matches!(actor, Actor::Technician { .. }) {
                return refuse(Rule::NotAccepted);
            }
        }

        let moves_job_on = matches!(
            kind,
            A::PickupRecorded
                | A::CheckedIn
                | A::WorkMarkedDone
                | A::SignatureCaptured
                | A::ConfirmationCodeEntered
                | A::JobCompleted
        );
        if moves_job_on && job.is_blocked() {
            let kinds = job.blocking_exceptions().map(|e| e.kind).collect();
            return need(
                Rule::BlockedByException,
                vec![Missing::ExceptionDecision { kinds }],
            );
        }

        let delivery = job.order.kind == JobKind::DeliveryInstall;
        match kind {
            A::JobAccepted if job.accepted_at.is_some() => refuse(Rule::AlreadyRecorded),
            A::LogisticsArrived | A::PickupRecorded if !delivery => refuse(Rule::NotADeliveryJob),
            A::LogisticsArrived if job.goods_arrived_at.is_some() => refuse(Rule::AlreadyRecorded),
            A::PickupRecorded if job.goods_arrived_at.is_none() => refuse(Rule::GoodsNotArrived),
            A::PickupRecorded if job.pickup.is_some() => refuse(Rule::AlreadyRecorded),
            A::PickupRecorded if job.photo_count(PhotoCategory::Pickup) == 0 => {
                need(Rule::PickupNeedsPhoto, vec![Missing::PickupPhoto])
            }
            A::AppointmentBooked | A::AppointmentRescheduled if job.checked_in_at.is_some() => {
                refuse(Rule::AlreadyRecorded)
            }
            A::AppointmentBooked
                if job.appointment_at.is_some() && matches!(actor, Actor::Technician { .. }) =>
            {
                // A booked visit moves only by rescheduling, which records the customer's consent.
                refuse(Rule::AlreadyRecorded)
            }
            A::AppointmentRescheduled if job.appointment_at.is_none() => {
                need(Rule::CheckInNeedsAppointment, vec![Missing::Appointment])
            }
            A::CheckedIn if job.checked_in_at.is_some() => refuse(Rule::AlreadyRecorded),
            A::CheckedIn if job.appointment_at.is_none() => {
                need(Rule::CheckInNeedsAppointment, vec![Missing::Appointment])
            }
            A::CheckedIn if delivery && job.pickup.is_none() => {
                need(Rule::CheckInNeedsPickup, vec![Missing::Pickup])
            }
            A::ChecklistAnswered | A::WorkMarkedDone | A::CheckedOut
                if job.checked_in_at.is_none() =>
            {
                need(Rule::NotCheckedIn, vec![Missing::CheckIn])
            }
            A::WorkMarkedDone if job.work_done_at.is_some() => refuse(Rule::AlreadyRecorded),
            A::CheckedOut if job.checked_out_at.is_some() => refuse(Rule::AlreadyRecorded),
            A::SignatureCaptured | A::ConfirmationCodeEntered if job.work_done_at.is_none() => {
                need(Rule::WorkNotDone, vec![Missing::WorkMarkedDone])
            }
            A::SignatureCaptured if job.signature.is_some() => refuse(Rule::AlreadyRecorded),
            A::ConfirmationCodeEntered if job.code_entered_at.is_some() => {
                refuse(Rule::AlreadyRecorded)
            }
            A::JobCompleted => {
                let missing = self.completion_missing(job);
                if missing.is_empty() {
                    Ok(())
                } else {
                    need(Rule::CompletionIncomplete, missing)
                }
            }
            A::JobCancelled if job.cancelled_at.is_some() => refuse(Rule::AlreadyRecorded),
            A::ReturnVisitRecorded if job.completed_at.is_none() => refuse(Rule::NotCompletedYet),
            A::ReturnVisitRecorded if job.return_visit.is_some() => refuse(Rule::AlreadyRecorded),
            _ => Ok(()),
        }
    }

    /// The rules that read the event's details.
    fn guard_payload(&self, job: &JobView, event: &Event) -> Result<(), Refusal> {
        let kind = event.body.kind();
        let invalid = |name: &str, problem: &str| Err(Refusal::invalid(kind, name, problem));
        match &event.body {
            EventBody::JobAssigned { technician_id }
                if job.technician_id == Some(*technician_id) =>
            {
                return Err(Refusal::new(Rule::AlreadyRecorded, kind));
            }
            EventBody::JobCancelled { reason } if reason.trim().is_empty() => {
                return invalid("reason", "say why the job is cancelled");
            }
            EventBody::OrderAmended { order } => {
                validate_order(kind, order)?;
                if order.kind != job.order.kind {
                    return invalid("kind", "a job's kind cannot change; cancel and create anew");
                }
                if job.accepted_at.is_some() && order.fee_basis != job.order.fee_basis {
                    return invalid(
                        "fee_basis",
                        "the fee basis is locked once the job is accepted",
                    );
                }
            }
            EventBody::ExceptionResolved { exception_id, .. } => {
                let Some(e) = job.exceptions.iter().find(|e| e.id == *exception_id) else {
                    return Err(Refusal::new(Rule::UnknownException, kind));
                };
                if !e.is_open() {
                    return Err(Refusal::new(Rule::ExceptionAlreadyResolved, kind));
                }
            }
            EventBody::ExemptionDecided { claim_id, .. } => {
                let Some(c) = job.exemptions.iter().find(|c| c.id == *claim_id) else {
                    return Err(Refusal::new(Rule::UnknownExemptionClaim, kind));
                };
                if c.granted.is_some() {
                    return Err(Refusal::new(Rule::ExemptionAlreadyDecided, kind));
                }
            }
            EventBody::ConflictsAcknowledged { .. } if job.open_conflicts() == 0 => {
                return Err(Refusal::new(Rule::AlreadyRecorded, kind));
            }
            EventBody::ReturnVisitRecorded {
                quality, attitude, ..
            } if !(1..=5).contains(quality) || !(1..=5).contains(attitude) => {
                return invalid("rating", "ratings go from 1 to 5");
            }
            EventBody::ComplaintFiled { complaint_id, note } => {
                if job.complaints.iter().any(|c| c.id == *complaint_id) {
                    return Err(Refusal::new(Rule::AlreadyRecorded, kind));
                }
                if note.trim().is_empty() {
                    return invalid("note", "say what the customer complains about");
                }
            }
            EventBody::ComplaintAnswered { complaint_id, .. } => {
                let Some(c) = job.complaints.iter().find(|c| c.id == *complaint_id) else {
                    return Err(Refusal::new(Rule::UnknownComplaint, kind));
                };
                if c.answered_at.is_some() {
                    return Err(Refusal::new(Rule::AlreadyRecorded, kind));
                }
            }
            EventBody::ComplaintClosed { complaint_id, .. } => {
                let Some(c) = job.complaints.iter().find(|c| c.id == *complaint_id) else {
                    return Err(Refusal::new(Rule::UnknownComplaint, kind));
                };
                if c.accepted != Some(true) || c.closed_at.is_some() {
                    return Err(Refusal::new(Rule::AlreadyRecorded, kind));
                }
            }
            EventBody::PickupRecorded { pieces, .. } if *pieces == 0 => {
                return invalid("pieces", "count at least one piece");
            }
            EventBody::ExceptionRaised {
                exception_id,
                kind: ex,
                note,
                ..
            } => {
                if job.exceptions.iter().any(|e| e.id == *exception_id) {
                    return Err(Refusal::new(Rule::AlreadyRecorded, kind));
                }
                if note.trim().is_empty() {
                    return invalid("note", "describe what happened");
                }
                match ex {
                    ExceptionKind::CustomerAbsent => self.guard_customer_absent(job, event)?,
                    ExceptionKind::CompletionCodeUnavailable if job.work_done_at.is_none() => {
                        return Err(Refusal::missing(
                            Rule::WorkNotDone,
                            kind,
                            vec![Missing::WorkMarkedDone],
                        ));
                    }
                    _ => {}
                }
            }
            EventBody::AppointmentRescheduled { reason, .. } if reason.trim().is_empty() => {
                return invalid("reason", "say why the visit moves");
            }
            // The technician moves the visit only with the customer's agreement (domain.md,
            // appointment); without it the desk decides, through a `reschedule_requested`
            // exception. So the app must ask, and an unasked "yes" is not a default.
            EventBody::AppointmentRescheduled {
                customer_consented: false,
                ..
            } => {
                return invalid(
                    "customer_consented",
                    "move the visit only with the customer's consent, or ask the desk",
                );
            }
            EventBody::ChecklistAnswered { item_id, .. }
                if self.checklist.item(item_id).is_none() =>
            {
                return Err(Refusal::new(Rule::UnknownChecklistItem, kind));
            }
            EventBody::PhotoCaptured { photo } => {
                if job.photos.iter().any(|p| p.photo_id == photo.photo_id) {
                    return Err(Refusal::new(Rule::AlreadyRecorded, kind));
                }
                if !is_sha256_hex(&photo.sha256) {
                    return invalid("sha256", "not a SHA-256 in hex");
                }
                // Evidence counts once: the same bytes under another category or id would let one
                // picture stand for "several angles" (domain.md, completion).
                if job.photos.iter().any(|p| p.sha256 == photo.sha256) {
                    return Err(Refusal::new(Rule::PhotoAlreadyOnJob, kind));
                }
                photo_category_allowed(job, photo.category)?;
            }
            EventBody::SignatureCaptured { signature }
                if signature.stroke_count == 0 || !is_sha256_hex(&signature.strokes_sha256) =>
            {
                return invalid("signature", "the customer has not signed");
            }
            EventBody::ConfirmationCodeEntered { code } => {
                let code = code.trim();
                if code.len() < 4
                    || code.len() > 32
                    || !code.chars().all(|c| c.is_ascii_alphanumeric())
                {
                    return invalid("code", "a confirmation code is 4 to 32 letters or digits");
                }
            }
            EventBody::ExemptionClaimed {
                claim_id,
                timer,
                note,
                ..
            } => {
                if job.exemptions.iter().any(|c| c.id == *claim_id) {
                    return Err(Refusal::new(Rule::AlreadyRecorded, kind));
                }
                if job
                    .exemptions
                    .iter()
                    .any(|c| c.timer == *timer && c.granted.is_none())
                {
                    // One open claim per clock: the desk decides it before another is made.
                    return Err(Refusal::new(Rule::AlreadyRecorded, kind));
                }
                if note.trim().is_empty() {
                    return invalid("note", "explain why the delay should be excused");
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Knock, repeat, and after the wait call the customer; only then report them absent [004].
    fn guard_customer_absent(&self, job: &JobView, event: &Event) -> Result<(), Refusal> {
        let kind = ActionKind::ExceptionRaised;
        let Some(arrived) = job.checked_in_at else {
            return Err(Refusal::missing(
                Rule::NotCheckedIn,
                kind,
                vec![Missing::CheckIn],
            ));
        };
        let mut missing = Vec::new();
        let waited = event.at() - arrived;
        let wait = Duration::minutes(self.policy.customer_absent_wait_minutes);
        if waited < wait {
            missing.push(Missing::Wait {
                seconds: (wait - waited).num_seconds(),
            });
        }
        if !job.calls.iter().any(|c| c.at >= arrived) {
            missing.push(Missing::CallToCustomer);
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(Refusal::missing(Rule::CustomerAbsentTooSoon, kind, missing))
        }
    }
}

/// The desk's events come from a dispatcher, the field record from a technician; booking the
/// appointment is the one thing both do.
fn side(kind: ActionKind, actor: &Actor) -> Result<(), Refusal> {
    let ok = match actor {
        Actor::Dispatcher { .. } => !kind.is_field() || kind == ActionKind::AppointmentBooked,
        Actor::Technician { .. } => !kind.is_desk_only(),
    };
    if ok {
        Ok(())
    } else {
        Err(Refusal::new(Rule::WrongSide, kind))
    }
}

fn validate_order(kind: ActionKind, order: &JobOrder) -> Result<(), Refusal> {
    let invalid = |name: &str, problem: &str| Err(Refusal::invalid(kind, name, problem));
    for (name, value) in [
        ("customer_name", &order.customer_name),
        ("address", &order.address),
        ("phone", &order.phone),
        ("work", &order.work),
    ] {
        if value.trim().is_empty() {
            return invalid(name, "must not be empty");
        }
    }
    if order.kind == JobKind::Repair && !matches!(order.severity, Some(1..=4)) {
        return invalid("severity", "a repair needs a severity from 1 to 4");
    }
    if order.severity.is_some_and(|s| !(1..=4).contains(&s)) {
        return invalid("severity", "a severity is from 1 to 4");
    }
    if order.kind == JobKind::DeliveryInstall && !matches!(order.expected_pieces, Some(1..)) {
        return invalid(
            "expected_pieces",
            "a delivery needs the number of pieces to collect",
        );
    }
    Ok(())
}

fn is_sha256_hex(s: &str) -> bool {
    super::limits::is_lower_hex(s, 64)
}

/// Whether a photo of `category` belongs to the job now: pickup photos only on a delivery,
/// completion and receipt photos only on site, the signature's image only once the work is done.
fn photo_category_allowed(job: &JobView, category: PhotoCategory) -> Result<(), Refusal> {
    let kind = ActionKind::PhotoCaptured;
    match category {
        PhotoCategory::Pickup if job.order.kind != JobKind::DeliveryInstall => {
            Err(Refusal::new(Rule::NotADeliveryJob, kind))
        }
        PhotoCategory::Completion | PhotoCategory::Receipt if job.checked_in_at.is_none() => Err(
            Refusal::missing(Rule::NotCheckedIn, kind, vec![Missing::CheckIn]),
        ),
        PhotoCategory::Signature if job.work_done_at.is_none() => Err(Refusal::missing(
            Rule::WorkNotDone,
            kind,
            vec![Missing::WorkMarkedDone],
        )),
        _ => Ok(()),
    }
}

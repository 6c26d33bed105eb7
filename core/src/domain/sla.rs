//! SLA timers as data: the organisation's policy and the timers it puts on a job.
//!
//! Every number of domain.md's time-limit table lives in [`Policy`], per organisation, never in
//! code. [`Policy::timers`] is a pure function of a job's view and "now", so the phone, the server
//! and the console agree on what is due and what is breached.

use chrono::{DateTime, Duration, Months, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::calendar::WorkCalendar;
use super::event::CallOutcome;
use super::job::{JobKind, JobView};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TimerKind {
    /// Job created -> assigned to a technician.
    Dispatch,
    /// Goods arrived at the logistics point -> first call to the customer.
    FirstContact,
    /// The booked appointment, plus or minus the window -> check-in.
    ArrivalWindow,
    /// Accepted (install) or goods arrived (delivery) -> completed.
    Completion,
    /// Repair created -> first call to the customer, by severity.
    RepairResponse,
    /// Repair created -> technician on site, by severity.
    RepairOnSite,
    /// Completed -> the desk's return visit, in working days.
    ReturnVisit,
    /// Complaint filed -> accepted or rejected.
    ComplaintAnswer,
    /// Complaint accepted -> result.
    ComplaintResult,
}

impl TimerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TimerKind::Dispatch => "dispatch",
            TimerKind::FirstContact => "first_contact",
            TimerKind::ArrivalWindow => "arrival_window",
            TimerKind::Completion => "completion",
            TimerKind::RepairResponse => "repair_response",
            TimerKind::RepairOnSite => "repair_on_site",
            TimerKind::ReturnVisit => "return_visit",
            TimerKind::ComplaintAnswer => "complaint_answer",
            TimerKind::ComplaintResult => "complaint_result",
        }
    }
}

/// Limits for one repair severity level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RepairLimits {
    pub severity: u8,
    pub response_minutes: i64,
    pub on_site_minutes: i64,
}

/// An organisation's time limits and evidence minimums. `Default` is domain.md's table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Policy {
    pub dispatch_minutes: i64,
    pub first_contact_minutes: i64,
    /// How early or late a technician may arrive around the appointment.
    pub arrival_window_minutes: i64,
    /// How long to knock and wait before calling an absent customer.
    pub customer_absent_wait_minutes: i64,
    pub completion_hours: i64,
    pub return_visit_working_days: u32,
    pub complaint_answer_days: i64,
    pub complaint_result_days: i64,
    /// Repair response and on-site limits by severity. The seeds give level 1 (2 h / 24 h); the
    /// other levels are our defaults for an organisation to change.
    pub repair: Vec<RepairLimits>,
    pub held_goods_free_days: i64,
    pub installation_warranty_months: u32,
    pub min_completion_photos: u32,
    pub min_receipt_photos: u32,
    pub calendar: WorkCalendar,
    /// How long a booked visit is expected to hold the technician, for finding schedule
    /// conflicts (`schedule`). Defaulted for rulebooks stored before it existed.
    #[serde(default = "default_visit_minutes")]
    pub visit_minutes: i64,
    /// Travel time planned between two visits of one technician.
    #[serde(default = "default_travel_minutes")]
    pub travel_minutes: i64,
}

fn default_visit_minutes() -> i64 {
    90
}

fn default_travel_minutes() -> i64 {
    30
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            dispatch_minutes: 10,
            first_contact_minutes: 120,
            arrival_window_minutes: 60,
            customer_absent_wait_minutes: 5,
            completion_hours: 48,
            return_visit_working_days: 1,
            complaint_answer_days: 3,
            complaint_result_days: 15,
            repair: vec![
                RepairLimits {
                    severity: 1,
                    response_minutes: 120,
                    on_site_minutes: 24 * 60,
                },
                RepairLimits {
                    severity: 2,
                    response_minutes: 240,
                    on_site_minutes: 48 * 60,
                },
                RepairLimits {
                    severity: 3,
                    response_minutes: 480,
                    on_site_minutes: 72 * 60,
                },
                RepairLimits {
                    severity: 4,
                    response_minutes: 24 * 60,
                    on_site_minutes: 120 * 60,
                },
            ],
            held_goods_free_days: 15,
            installation_warranty_months: 3,
            min_completion_photos: 2,
            min_receipt_photos: 1,
            calendar: WorkCalendar::default(),
            visit_minutes: default_visit_minutes(),
            travel_minutes: default_travel_minutes(),
        }
    }
}

/// One clock on one job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Timer {
    pub kind: TimerKind,
    /// The complaint a complaint clock belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Uuid>,
    pub started_at: DateTime<Utc>,
    /// Too early before this counts as a miss too (the arrival window's near edge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<DateTime<Utc>>,
    pub due_at: DateTime<Utc>,
    /// When the thing the timer waits for happened; `None` while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<DateTime<Utc>>,
    /// Seconds left until due (negative: overdue), measured at the stop or at "now".
    pub remaining_secs: i64,
    pub breached: bool,
    /// The desk granted an exemption. A breach stays visible either way.
    pub exempted: bool,
}

impl Policy {
    pub fn repair_limits(&self, severity: u8) -> Option<&RepairLimits> {
        self.repair.iter().find(|r| r.severity == severity)
    }

    /// Every timer that applies to the job, as of `now`.
    pub fn timers(&self, job: &JobView, now: DateTime<Utc>) -> Vec<Timer> {
        let mut out = Vec::new();
        // A cancelled job stops its clocks at the cancellation.
        let end = |stop: Option<DateTime<Utc>>| stop.or(job.cancelled_at).unwrap_or(now);
        let mut push = |kind, subject, start, not_before: Option<DateTime<Utc>>, due, stop| {
            let until = end(stop);
            let early = matches!((stop, not_before), (Some(s), Some(nb)) if s < nb);
            out.push(Timer {
                kind,
                subject,
                started_at: start,
                not_before,
                due_at: due,
                // A cancelled job's clocks read as stopped, on the phone as on the desk.
                stopped_at: stop.or(job.cancelled_at.filter(|c| *c <= now)),
                remaining_secs: (due - until).num_seconds(),
                breached: until > due || early,
                exempted: job
                    .exemptions
                    .iter()
                    .any(|c| c.timer == kind && c.granted == Some(true)),
            });
        };

        push(
            TimerKind::Dispatch,
            None,
            job.created_at,
            None,
            job.created_at + Duration::minutes(self.dispatch_minutes),
            job.assigned_at,
        );

        if job.order.kind == JobKind::DeliveryInstall
            && let Some(arrived) = job.goods_arrived_at
        {
            let first_call = job
                .calls
                .iter()
                .map(|c| c.at)
                .filter(|t| *t >= arrived)
                .min();
            push(
                TimerKind::FirstContact,
                None,
                arrived,
                None,
                arrived + Duration::minutes(self.first_contact_minutes),
                first_call,
            );
        }

        if let Some(appt) = job.appointment_at {
            let window = Duration::minutes(self.arrival_window_minutes);
            push(
                TimerKind::ArrivalWindow,
                None,
                job.appointment_booked_at.unwrap_or(appt - window),
                Some(appt - window),
                appt + window,
                job.checked_in_at,
            );
        }

        let completion_start = match job.order.kind {
            JobKind::Install => job.accepted_at,
            JobKind::DeliveryInstall => job.goods_arrived_at,
            JobKind::Repair => None,
        };
        if let Some(start) = completion_start {
            push(
                TimerKind::Completion,
                None,
                start,
                None,
                start + Duration::hours(self.completion_hours),
                job.completed_at,
            );
        }

        if job.order.kind == JobKind::Repair
            && let Some(limits) = job.order.severity.and_then(|s| self.repair_limits(s))
        {
            let contacted = job
                .calls
                .iter()
                .filter(|c| c.outcome == CallOutcome::Reached)
                .map(|c| c.at)
                .min();
            push(
                TimerKind::RepairResponse,
                None,
                job.created_at,
                None,
                job.created_at + Duration::minutes(limits.response_minutes),
                contacted,
            );
            push(
                TimerKind::RepairOnSite,
                None,
                job.created_at,
                None,
                job.created_at + Duration::minutes(limits.on_site_minutes),
                job.checked_in_at,
            );
        }

        if let Some(done) = job.completed_at {
            push(
                TimerKind::ReturnVisit,
                None,
                done,
                None,
                self.calendar
                    .end_of_nth_working_day_after(done, self.return_visit_working_days),
                job.return_visit.as_ref().map(|r| r.at),
            );
        }

        for c in &job.complaints {
            push(
                TimerKind::ComplaintAnswer,
                Some(c.id),
                c.filed_at,
                None,
                c.filed_at + Duration::days(self.complaint_answer_days),
                c.answered_at,
            );
            if let (Some(true), Some(answered)) = (c.accepted, c.answered_at) {
                push(
                    TimerKind::ComplaintResult,
                    Some(c.id),
                    answered,
                    None,
                    answered + Duration::days(self.complaint_result_days),
                    c.closed_at,
                );
            }
        }
        out
    }

    /// When the installation warranty of a completed job runs out.
    pub fn warranty_until(&self, job: &JobView) -> Option<DateTime<Utc>> {
        job.completed_at
            .and_then(|t| t.checked_add_months(Months::new(self.installation_warranty_months)))
    }
}

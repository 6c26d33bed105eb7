//! SLA timers against domain.md's table: start, due, remaining, breached, exempted.

use chrono::{DateTime, Duration, FixedOffset, TimeZone, Utc};
use fieldcore::domain::{
    CallOutcome, EventBody, ExemptionReason, JobKind, JobView, Policy, Rulebook, Timer, TimerKind,
};
use fieldcore::fixtures::{Desk, t0, tech_event};
use uuid::Uuid;

struct Case {
    rules: Rulebook,
    view: JobView,
    tech: Uuid,
    desk: Desk,
}

impl Case {
    /// Created at t0, assigned 2 minutes later.
    fn new(kind: JobKind) -> Case {
        let rules = Rulebook::default();
        let desk = Desk::default();
        let tech = Uuid::now_v7();
        let (_, events) = desk.new_job(kind, tech, t0());
        let view = rules.replay(&events).expect("job");
        Case {
            rules,
            view,
            tech,
            desk,
        }
    }

    fn tech(&mut self, at: DateTime<Utc>, body: EventBody) {
        let e = tech_event(self.view.id, self.tech, at, body);
        self.rules.apply(&mut self.view, &e);
    }

    fn desk(&mut self, at: DateTime<Utc>, body: EventBody) {
        let e = self.desk.event(self.view.id, at, body);
        self.rules.apply(&mut self.view, &e);
    }

    fn timer(&self, kind: TimerKind, now: DateTime<Utc>) -> Timer {
        self.rules
            .policy
            .timers(&self.view, now)
            .into_iter()
            .find(|t| t.kind == kind)
            .unwrap_or_else(|| panic!("no {kind:?} timer"))
    }

    fn has(&self, kind: TimerKind) -> bool {
        self.rules
            .policy
            .timers(&self.view, t0())
            .iter()
            .any(|t| t.kind == kind)
    }
}

fn h(n: i64) -> Duration {
    Duration::hours(n)
}

fn m(n: i64) -> Duration {
    Duration::minutes(n)
}

#[test]
fn the_default_policy_is_domain_md_table() {
    let p = Policy::default();
    assert_eq!(p.dispatch_minutes, 10);
    assert_eq!(p.first_contact_minutes, 120);
    assert_eq!(p.arrival_window_minutes, 60);
    assert_eq!(p.customer_absent_wait_minutes, 5);
    assert_eq!(p.completion_hours, 48);
    assert_eq!(p.return_visit_working_days, 1);
    assert_eq!(p.complaint_answer_days, 3);
    assert_eq!(p.complaint_result_days, 15);
    let l1 = p.repair_limits(1).expect("level 1");
    assert_eq!((l1.response_minutes, l1.on_site_minutes), (120, 24 * 60));
    assert_eq!(p.held_goods_free_days, 15);
    assert_eq!(p.installation_warranty_months, 3);
    // Policy is data: it round-trips through JSON for per-organisation settings.
    let json = serde_json::to_string(&p).expect("ser");
    assert_eq!(serde_json::from_str::<Policy>(&json).expect("de"), p);
}

#[test]
fn dispatch_is_met_when_assigned_within_ten_minutes() {
    let c = Case::new(JobKind::Install);
    let t = c.timer(TimerKind::Dispatch, t0() + h(5));
    assert_eq!(t.started_at, t0());
    assert_eq!(t.due_at, t0() + m(10));
    assert_eq!(t.stopped_at, Some(t0() + m(2)));
    assert_eq!(t.remaining_secs, 8 * 60);
    assert!(!t.breached);
}

#[test]
fn install_completion_runs_48_hours_from_acceptance_and_an_exemption_keeps_the_breach_visible() {
    let mut c = Case::new(JobKind::Install);
    assert!(
        !c.has(TimerKind::Completion),
        "the clock starts at acceptance"
    );
    let accepted = t0() + m(30);
    c.tech(accepted, EventBody::JobAccepted);
    let t = c.timer(TimerKind::Completion, accepted + h(47));
    assert_eq!(t.due_at, accepted + h(48));
    assert_eq!(t.remaining_secs, 3600);
    assert!(!t.breached && !t.exempted);

    let late = c.timer(TimerKind::Completion, accepted + h(50));
    assert!(late.breached);
    assert_eq!(late.remaining_secs, -2 * 3600);

    let claim_id = Uuid::now_v7();
    c.tech(
        accepted + h(49),
        EventBody::ExemptionClaimed {
            claim_id,
            timer: TimerKind::Completion,
            reason: ExemptionReason::Weather,
            note: "snowstorm".into(),
        },
    );
    assert!(
        !c.timer(TimerKind::Completion, accepted + h(50)).exempted,
        "not yet decided"
    );
    c.desk(
        accepted + h(51),
        EventBody::ExemptionDecided {
            claim_id,
            granted: true,
            note: String::new(),
        },
    );
    let t = c.timer(TimerKind::Completion, accepted + h(52));
    assert!(t.breached && t.exempted);
}

#[test]
fn delivery_clocks_start_when_the_goods_arrive() {
    let mut c = Case::new(JobKind::DeliveryInstall);
    c.tech(t0() + m(5), EventBody::JobAccepted);
    let arrived = t0() + h(1);
    c.tech(
        arrived + m(10),
        EventBody::LogisticsArrived {
            arrived_at: arrived,
            note: String::new(),
        },
    );
    let t = c.timer(TimerKind::FirstContact, arrived + h(1));
    assert_eq!(t.due_at, arrived + h(2));
    assert!(!t.breached && t.stopped_at.is_none());
    c.tech(
        arrived + h(3),
        EventBody::CustomerCallLogged {
            outcome: CallOutcome::NoAnswer,
            note: String::new(),
        },
    );
    let t = c.timer(TimerKind::FirstContact, arrived + h(4));
    assert!(t.breached, "called after 3 h, limit 2 h");
    assert_eq!(t.stopped_at, Some(arrived + h(3)));
    assert_eq!(
        c.timer(TimerKind::Completion, arrived).due_at,
        arrived + h(48)
    );
}

#[test]
fn arrival_window_is_an_hour_either_side_of_the_appointment() {
    let appt = t0() + h(24);
    let checked_in_at = |offset: Duration| {
        let mut c = Case::new(JobKind::Install);
        c.tech(t0() + m(5), EventBody::JobAccepted);
        c.tech(
            t0() + m(6),
            EventBody::AppointmentBooked {
                at: appt,
                note: String::new(),
            },
        );
        c.tech(appt + offset, EventBody::CheckedIn { location: None });
        c.timer(TimerKind::ArrivalWindow, appt + h(5))
    };
    let t = checked_in_at(-m(8));
    assert_eq!(t.not_before, Some(appt - h(1)));
    assert_eq!(t.due_at, appt + h(1));
    assert!(!t.breached, "5-10 minutes early is the aim");
    assert!(checked_in_at(-m(61)).breached, "too early is a miss too");
    assert!(!checked_in_at(m(59)).breached);
    assert!(checked_in_at(m(61)).breached);
}

#[test]
fn repair_clocks_depend_on_severity() {
    let mut c = Case::new(JobKind::Repair); // fixture severity: 2
    let resp = c.timer(TimerKind::RepairResponse, t0());
    assert_eq!(resp.due_at, t0() + h(4));
    assert_eq!(c.timer(TimerKind::RepairOnSite, t0()).due_at, t0() + h(48));
    assert!(!c.has(TimerKind::Completion));
    c.view.order.severity = Some(1);
    assert_eq!(c.timer(TimerKind::RepairResponse, t0()).due_at, t0() + h(2));
    assert_eq!(c.timer(TimerKind::RepairOnSite, t0()).due_at, t0() + h(24));
    // Only a call that reached the customer counts as the response.
    c.tech(
        t0() + m(30),
        EventBody::CustomerCallLogged {
            outcome: CallOutcome::Busy,
            note: String::new(),
        },
    );
    assert!(c.timer(TimerKind::RepairResponse, t0() + h(3)).breached);
}

#[test]
fn return_visit_is_due_within_one_working_day_of_completion() {
    let shanghai = FixedOffset::east_opt(8 * 3600).expect("offset");
    let friday_afternoon = shanghai
        .with_ymd_and_hms(2026, 11, 27, 16, 0, 0)
        .single()
        .expect("time")
        .with_timezone(&Utc);
    let mut c = Case::new(JobKind::Install);
    assert!(!c.has(TimerKind::ReturnVisit));
    c.view.completed_at = Some(friday_afternoon);
    let t = c.timer(TimerKind::ReturnVisit, friday_afternoon);
    let end_of_monday = shanghai
        .with_ymd_and_hms(2026, 12, 1, 0, 0, 0)
        .single()
        .expect("time")
        .with_timezone(&Utc);
    assert_eq!(t.due_at, end_of_monday);
    c.desk(
        end_of_monday - h(2),
        EventBody::ReturnVisitRecorded {
            quality: 5,
            attitude: 5,
            note: String::new(),
        },
    );
    assert!(
        !c.timer(TimerKind::ReturnVisit, end_of_monday + h(30))
            .breached
    );
}

#[test]
fn complaints_have_a_three_day_and_a_fifteen_day_clock() {
    let mut c = Case::new(JobKind::Install);
    let complaint_id = Uuid::now_v7();
    let filed = t0() + h(1);
    c.desk(
        filed,
        EventBody::ComplaintFiled {
            complaint_id,
            note: "scratched floor".into(),
        },
    );
    let answer = c.timer(TimerKind::ComplaintAnswer, filed);
    assert_eq!(answer.subject, Some(complaint_id));
    assert_eq!(answer.due_at, filed + Duration::days(3));
    assert!(!c.has(TimerKind::ComplaintResult));
    let answered = filed + Duration::days(4);
    c.desk(
        answered,
        EventBody::ComplaintAnswered {
            complaint_id,
            accepted: true,
            note: String::new(),
        },
    );
    assert!(c.timer(TimerKind::ComplaintAnswer, answered).breached);
    let result = c.timer(TimerKind::ComplaintResult, answered);
    assert_eq!(result.due_at, answered + Duration::days(15));
}

#[test]
fn cancellation_stops_the_clocks() {
    let mut c = Case::new(JobKind::Install);
    c.tech(t0() + m(5), EventBody::JobAccepted);
    c.desk(
        t0() + h(1),
        EventBody::JobCancelled {
            reason: "order withdrawn".into(),
        },
    );
    let t = c.timer(TimerKind::Completion, t0() + h(500));
    assert!(!t.breached, "a job cancelled in time is not late");
}

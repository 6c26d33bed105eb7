//! Property tests over random action sequences, technician and desk interleaved:
//! - no sequence the rulebook allows reaches a state the rulebook forbids;
//! - replaying the event log gives the same job view as the live one, in memory and in the
//!   store on a real SQLite file.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use fieldcore::domain::{
    ActionKind, CallOutcome, Event, EventBody, ExceptionDecision, ExceptionKind, ExemptionReason,
    JobKind, JobView, Packaging, PhotoCategory, Rulebook, TimerKind,
};
use fieldcore::fixtures::{Desk, ManualClock, photo, signature, t0, tech_event};
use fieldcore::store::{ActionError, Clock, Store};
use proptest::prelude::*;
use uuid::Uuid;

/// One random step: what to try, and two numbers that pick its details.
#[derive(Debug, Clone, Copy)]
struct Step {
    what: u8,
    a: u8,
    b: u8,
    minutes: u16,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (any::<u8>(), any::<u8>(), any::<u8>(), 0u16..240).prop_map(|(what, a, b, minutes)| Step {
            what,
            a,
            b,
            minutes,
        }),
        1..120,
    )
}

fn kinds() -> impl Strategy<Value = JobKind> {
    prop_oneof![
        Just(JobKind::Install),
        Just(JobKind::DeliveryInstall),
        Just(JobKind::Repair)
    ]
}

/// Who tries a step.
enum Try {
    Tech(EventBody),
    Desk(EventBody),
}

/// Turn a random step into actions against the job as it stands: usually one, but a technician
/// ticking down the whole checklist is a burst of answers.
fn actions(rules: &Rulebook, view: &JobView, tech: Uuid, now: DateTime<Utc>, s: Step) -> Vec<Try> {
    if s.what % 24 == 10 {
        return rules
            .checklist
            .required()
            .filter(|i| !view.checklist.contains_key(&i.id))
            .map(|i| {
                Try::Tech(EventBody::ChecklistAnswered {
                    item_id: i.id.clone(),
                    answer: !s.b.is_multiple_of(8),
                    note: String::new(),
                })
            })
            .collect();
    }
    vec![action(rules, view, tech, now, s)]
}

fn action(rules: &Rulebook, view: &JobView, tech: Uuid, now: DateTime<Utc>, s: Step) -> Try {
    let pick = |n: usize| s.a as usize % n.max(1);
    match s.what % 24 {
        // Half the time, something the app would offer next: drives sequences deep.
        0..=7 => {
            let next = rules.next_actions(view, tech);
            if next.is_empty() {
                return Try::Tech(EventBody::CheckedOut);
            }
            tech_action(rules, view, next[pick(next.len())], now, s)
        }
        8 => Try::Tech(tech_action_any(rules, view, now, s)),
        9 => Try::Tech(photo(PhotoCategory::ALL[pick(5)], u32::from(s.b))),
        11..=12 => {
            let open: Vec<_> = view.exceptions.iter().filter(|e| e.is_open()).collect();
            let id = open
                .get(pick(open.len()))
                .map(|e| e.id)
                .unwrap_or_else(Uuid::now_v7);
            Try::Desk(EventBody::ExceptionResolved {
                exception_id: id,
                decision: if s.b.is_multiple_of(4) {
                    ExceptionDecision::Stop
                } else {
                    ExceptionDecision::Proceed
                },
                note: "decided".into(),
            })
        }
        13 => {
            let id = view
                .exemptions
                .get(pick(view.exemptions.len()))
                .map(|c| c.id)
                .unwrap_or_else(Uuid::now_v7);
            Try::Desk(EventBody::ExemptionDecided {
                claim_id: id,
                granted: s.b.is_multiple_of(2),
                note: String::new(),
            })
        }
        14 if s.a < 12 => Try::Desk(EventBody::JobCancelled {
            reason: "order withdrawn".into(),
        }),
        15 if s.a < 24 => Try::Desk(EventBody::JobAssigned {
            // Away to someone else, or back to our technician.
            technician_id: if s.b.is_multiple_of(2) {
                Uuid::now_v7()
            } else {
                tech
            },
        }),
        16 => Try::Desk(EventBody::AppointmentBooked {
            at: now + Duration::hours(i64::from(s.b % 48)),
            note: String::new(),
        }),
        17 => Try::Desk(EventBody::ReturnVisitRecorded {
            quality: s.a % 7,
            attitude: s.b % 7,
            note: String::new(),
        }),
        _ => Try::Tech(tech_action_any(rules, view, now, s)),
    }
}

fn tech_action_any(rules: &Rulebook, view: &JobView, now: DateTime<Utc>, s: Step) -> EventBody {
    let all = ActionKind::FIELD;
    match tech_action(rules, view, all[s.b as usize % all.len()], now, s) {
        Try::Tech(b) | Try::Desk(b) => b,
    }
}

fn tech_action(
    rules: &Rulebook,
    view: &JobView,
    kind: ActionKind,
    now: DateTime<Utc>,
    s: Step,
) -> Try {
    let a = s.a as usize;
    let body = match kind {
        ActionKind::JobAccepted => EventBody::JobAccepted,
        ActionKind::CustomerCallLogged => EventBody::CustomerCallLogged {
            outcome: [
                CallOutcome::Reached,
                CallOutcome::NoAnswer,
                CallOutcome::Busy,
                CallOutcome::Unreachable,
            ][a % 4],
            note: String::new(),
        },
        ActionKind::LogisticsArrived => EventBody::LogisticsArrived {
            arrived_at: now - Duration::minutes(i64::from(s.b)),
            note: String::new(),
        },
        // Three times in four, what the job still lacks (as a technician would do).
        ActionKind::PhotoCaptured if !s.b.is_multiple_of(4) && view.checked_in_at.is_some() => {
            let cat = if view.photo_count(PhotoCategory::Completion) < 2 {
                PhotoCategory::Completion
            } else {
                PhotoCategory::Receipt
            };
            photo(cat, u32::from(s.b))
        }
        ActionKind::ChecklistAnswered
            if !s.b.is_multiple_of(4)
                && rules
                    .checklist
                    .required()
                    .any(|i| !view.checklist.contains_key(&i.id)) =>
        {
            let item = rules
                .checklist
                .required()
                .find(|i| !view.checklist.contains_key(&i.id))
                .expect("checked above");
            EventBody::ChecklistAnswered {
                item_id: item.id.clone(),
                answer: !s.a.is_multiple_of(10),
                note: String::new(),
            }
        }
        ActionKind::PhotoCaptured => {
            let cats = [
                PhotoCategory::Pickup,
                PhotoCategory::Completion,
                PhotoCategory::Completion,
                PhotoCategory::Receipt,
                PhotoCategory::Exception,
            ];
            photo(cats[a % cats.len()], u32::from(s.b))
        }
        ActionKind::PickupRecorded => EventBody::PickupRecorded {
            pieces: [2, 2, 2, 1, 3][a % 5],
            packaging: if s.b.is_multiple_of(5) {
                Packaging::Damaged
            } else {
                Packaging::Intact
            },
            note: String::new(),
        },
        ActionKind::ExceptionRaised => EventBody::ExceptionRaised {
            exception_id: Uuid::now_v7(),
            kind: ExceptionKind::ALL[a % ExceptionKind::ALL.len()],
            note: "something came up".into(),
            photo_ids: vec![],
        },
        ActionKind::AppointmentBooked => EventBody::AppointmentBooked {
            at: now + Duration::hours(i64::from(s.b % 30)),
            note: String::new(),
        },
        ActionKind::AppointmentRescheduled => EventBody::AppointmentRescheduled {
            at: now + Duration::hours(i64::from(s.b % 30)),
            reason: "customer asked".into(),
            customer_consented: true,
        },
        ActionKind::CheckedIn => EventBody::CheckedIn { location: None },
        ActionKind::ChecklistAnswered => {
            let items = &rules.checklist.items;
            EventBody::ChecklistAnswered {
                item_id: items[a % items.len()].id.clone(),
                answer: !s.b.is_multiple_of(6),
                note: String::new(),
            }
        }
        ActionKind::WorkMarkedDone => EventBody::WorkMarkedDone {
            note: String::new(),
        },
        ActionKind::SignatureCaptured => signature(),
        ActionKind::ConfirmationCodeEntered => EventBody::ConfirmationCodeEntered {
            code: if s.b.is_multiple_of(9) {
                "x".into()
            } else {
                "834201".into()
            },
        },
        ActionKind::JobCompleted => EventBody::JobCompleted {
            note: String::new(),
        },
        ActionKind::ExemptionClaimed => EventBody::ExemptionClaimed {
            claim_id: Uuid::now_v7(),
            timer: [TimerKind::Completion, TimerKind::ArrivalWindow][a % 2],
            reason: ExemptionReason::Customer,
            note: "customer postponed".into(),
        },
        _ => EventBody::CheckedOut,
    };
    Try::Tech(body)
}

/// What the rulebook promises, checked on every state a sequence reaches.
fn assert_invariants(rules: &Rulebook, view: &JobView) {
    let delivery = view.order.kind == JobKind::DeliveryInstall;
    if view.checked_in_at.is_some() {
        assert!(
            view.appointment_at.is_some(),
            "checked in without an appointment"
        );
        if delivery {
            assert!(view.pickup.is_some(), "checked in without the goods");
        }
    }
    if view.pickup.is_some() {
        assert!(
            view.goods_arrived_at.is_some(),
            "picked up before the goods arrived"
        );
    }
    if let Some(code_at) = view.code_entered_at {
        let done = view
            .work_done_at
            .expect("code entered before the work was done");
        assert!(done <= code_at);
    }
    if view.signature.is_some() {
        assert!(
            view.work_done_at.is_some(),
            "signed before the work was done"
        );
    }
    if view.completed_at.is_some() {
        assert!(view.checked_in_at.is_some());
        assert!(view.work_done_at.is_some());
        assert!(view.signature.is_some());
        assert!(view.photo_count(PhotoCategory::Completion) >= 2);
        assert!(view.photo_count(PhotoCategory::Receipt) >= 1);
        for item in rules.checklist.required() {
            assert!(
                view.checklist.contains_key(&item.id),
                "{} unanswered",
                item.id
            );
        }
        if view.order.requires_verification {
            assert!(
                view.code_entered_at.is_some()
                    || view.has_exception(ExceptionKind::CompletionCodeUnavailable)
            );
        }
    }
    // Every "no" on a required item left a conduct exception behind.
    let noes = view
        .checklist
        .iter()
        .filter(|(id, a)| !a.answer && rules.checklist.item(id).is_some_and(|i| i.required))
        .count();
    let conduct = view
        .exceptions
        .iter()
        .filter(|e| e.kind == ExceptionKind::ConductViolation)
        .count();
    assert!(conduct >= noes);
}

/// Moves that take a job forward must never pass while it is blocked or cancelled.
fn assert_transition(before: &JobView, event: &Event) {
    let kind = event.body.kind();
    if before.cancelled_at.is_some() {
        assert!(!kind.is_field(), "{kind:?} accepted on a cancelled job");
    }
    if before.is_blocked() {
        assert!(
            !matches!(
                kind,
                ActionKind::CheckedIn
                    | ActionKind::WorkMarkedDone
                    | ActionKind::JobCompleted
                    | ActionKind::SignatureCaptured
                    | ActionKind::ConfirmationCodeEntered
            ),
            "{kind:?} accepted on a blocked job"
        );
    }
    if before.completed_at.is_some() {
        assert!(!matches!(
            kind,
            ActionKind::JobCompleted | ActionKind::CheckedIn
        ));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn no_allowed_sequence_breaks_a_rule_and_replay_equals_live(kind in kinds(), steps in steps()) {
        let rules = Rulebook::default();
        let desk = Desk::default();
        let tech = Uuid::now_v7();
        let (_, mut log) = desk.new_job(kind, tech, t0());
        let mut view = rules.replay(&log).expect("job");
        let mut now = t0() + Duration::minutes(3);
        for s in steps {
            now += Duration::minutes(i64::from(s.minutes));
            for t in actions(&rules, &view, tech, now, s) {
                let event = match t {
                    Try::Tech(body) => tech_event(view.id, tech, now, body),
                    Try::Desk(body) => desk.event(view.id, now, body),
                };
                if rules.check(Some(&view), &event).is_ok() {
                    assert_transition(&view, &event);
                    rules.apply(&mut view, &event);
                    log.push(event);
                    assert_invariants(&rules, &view);
                }
            }
        }
        prop_assert_eq!(rules.replay(&log), Some(view));
    }
}

proptest! {
    // Each case writes a real SQLite file with a synced commit per action: fewer cases.
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn the_store_view_equals_the_replay_of_its_log(kind in kinds(), steps in steps()) {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = Arc::new(ManualClock::new(t0()));
        let store = Store::open_with_clock(dir.path().join("p.db"), Rulebook::default(), clock.clone())
            .expect("open");
        let tech = Uuid::now_v7();
        store.set_technician(tech).expect("enrol");
        let desk = Desk::default();
        let (job, events) = desk.new_job(kind, tech, t0());
        store.apply_remote(&events).expect("job");
        let rules = store.rulebook().clone();
        let mut accepted = 0u64;
        for s in steps {
            clock.advance(Duration::minutes(i64::from(s.minutes)));
            let before = store.view(job).expect("view").expect("job");
            for t in actions(&rules, &before, tech, clock.now(), s) {
            let view = store.view(job).expect("view").expect("job");
            match t {
                Try::Tech(body) => match store.act(job, body) {
                    Ok(e) => {
                        assert_transition(&view, &e);
                        accepted += 1;
                    }
                    Err(ActionError::Refused(_)) => {
                        prop_assert_eq!(store.view(job).expect("view"), Some(view));
                    }
                    Err(e) => panic!("store failure: {e}"),
                },
                Try::Desk(body) => {
                    // The desk's event reaches the device as the server would send it:
                    // only if the rules allowed it there.
                    let e = desk.event(job, clock.now(), body);
                    if rules.check(Some(&view), &e).is_ok() {
                        store.apply_remote(&[e]).expect("remote");
                    }
                }
            }
            }
            let live = store.view(job).expect("view").expect("job");
            assert_invariants(&rules, &live);
        }
        let log = store.events_of(job).expect("log");
        prop_assert_eq!(rules.replay(&log), store.view(job).expect("view"));
        prop_assert_eq!(store.outbox_len().expect("outbox"), accepted);
        store.check_integrity().expect("intact");
    }
}

/// The generator is not vacuous: random sequences do reach every interesting state, so the
/// properties above are tested on completed, blocked and cancelled jobs, not only on new ones.
#[test]
fn random_sequences_reach_completion_blocks_and_cancellations() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use std::collections::BTreeSet;

    let rules = Rulebook::default();
    let desk = Desk::default();
    let mut runner = TestRunner::deterministic();
    let mut seen = BTreeSet::new();
    for _ in 0..600 {
        let kind = kinds().new_tree(&mut runner).expect("tree").current();
        let steps = steps().new_tree(&mut runner).expect("tree").current();
        let tech = Uuid::now_v7();
        let (_, log) = desk.new_job(kind, tech, t0());
        let mut view = rules.replay(&log).expect("job");
        let mut now = t0();
        for s in steps {
            now += Duration::minutes(i64::from(s.minutes));
            for t in actions(&rules, &view, tech, now, s) {
                let event = match t {
                    Try::Tech(body) => tech_event(view.id, tech, now, body),
                    Try::Desk(body) => desk.event(view.id, now, body),
                };
                if rules.check(Some(&view), &event).is_ok() {
                    rules.apply(&mut view, &event);
                    seen.insert(view.status());
                }
            }
        }
    }
    use fieldcore::domain::JobStatus::*;
    for status in [
        Accepted, Scheduled, OnSite, WorkDone, Completed, Blocked, Cancelled,
    ] {
        assert!(seen.contains(&status), "never reached {status:?}: {seen:?}");
    }
}

//! Every guard of the rulebook, one situation each, checked the way the app meets it: an action
//! is tried, and either it is allowed or the refusal names the rule and what is missing.

use chrono::{DateTime, Duration, Utc};
use fieldcore::domain::{
    ActionKind, CallOutcome, EventBody, ExceptionDecision, ExceptionKind, ExemptionReason, JobKind,
    JobStatus, JobView, Lang, Missing, Packaging, PhotoCategory, Refusal, Rule, Rulebook,
    TimerKind,
};
use fieldcore::fixtures::{self, Desk, photo, signature, t0, tech_event};
use uuid::Uuid;

/// One job under test: the rulebook, the job's view and the clock, advanced a minute per action.
struct Job {
    rules: Rulebook,
    view: JobView,
    tech: Uuid,
    desk: Desk,
    now: DateTime<Utc>,
}

impl Job {
    fn new(kind: JobKind) -> Job {
        Self::with_order(fixtures::order(kind))
    }

    fn with_order(order: fieldcore::domain::JobOrder) -> Job {
        let rules = Rulebook::default();
        let desk = Desk::default();
        let tech = Uuid::now_v7();
        let job_id = Uuid::now_v7();
        let created = desk.event(job_id, t0(), fixtures::created(order));
        rules
            .check(None, &created)
            .expect("a valid order is accepted");
        let view = JobView::created(&created).expect("created");
        let mut job = Job {
            rules,
            view,
            tech,
            desk,
            now: t0(),
        };
        job.desk(EventBody::JobAssigned {
            technician_id: tech,
        })
        .expect("assign");
        job
    }

    fn tick(&mut self) -> DateTime<Utc> {
        self.now += Duration::minutes(1);
        self.now
    }

    fn act(&mut self, body: EventBody) -> Result<(), Refusal> {
        let at = self.tick();
        let e = tech_event(self.view.id, self.tech, at, body);
        self.rules.check(Some(&self.view), &e)?;
        self.rules.apply(&mut self.view, &e);
        Ok(())
    }

    fn desk(&mut self, body: EventBody) -> Result<(), Refusal> {
        let at = self.tick();
        let e = self.desk.event(self.view.id, at, body);
        self.rules.check(Some(&self.view), &e)?;
        self.rules.apply(&mut self.view, &e);
        Ok(())
    }

    fn ok(&mut self, body: EventBody) {
        let kind = body.kind();
        if let Err(r) = self.act(body) {
            panic!("{kind:?} refused: {r}");
        }
    }

    fn refused(&mut self, body: EventBody, rule: Rule) -> Refusal {
        let before = self.view.clone();
        match self.act(body) {
            Ok(()) => panic!("expected {rule:?}, the action was allowed"),
            Err(r) => {
                assert_eq!(r.rule, rule, "{r}");
                assert_eq!(self.view, before, "a refused action changes nothing");
                r
            }
        }
    }

    fn required_ids(&self) -> Vec<String> {
        self.rules
            .checklist
            .required()
            .map(|i| i.id.clone())
            .collect()
    }

    /// Accept, call, book; for deliveries also goods arrival, photo and a clean pickup.
    fn up_to_check_in(&mut self) {
        self.ok(EventBody::JobAccepted);
        if self.view.order.kind == JobKind::DeliveryInstall {
            self.ok(EventBody::LogisticsArrived {
                arrived_at: self.now,
                note: String::new(),
            });
        }
        self.ok(call(CallOutcome::Reached));
        let appointment = self.now + Duration::hours(2);
        self.ok(EventBody::AppointmentBooked {
            at: appointment,
            note: String::new(),
        });
        if self.view.order.kind == JobKind::DeliveryInstall {
            self.ok(photo(PhotoCategory::Pickup, 1));
            self.ok(pickup(2, Packaging::Intact));
        }
    }

    fn answer_all(&mut self, answer: bool) {
        for id in self.required_ids() {
            self.ok(EventBody::ChecklistAnswered {
                item_id: id,
                answer,
                note: String::new(),
            });
        }
    }
}

fn call(outcome: CallOutcome) -> EventBody {
    EventBody::CustomerCallLogged {
        outcome,
        note: String::new(),
    }
}

fn pickup(pieces: u32, packaging: Packaging) -> EventBody {
    EventBody::PickupRecorded {
        pieces,
        packaging,
        note: "checked at the depot".into(),
    }
}

fn check_in() -> EventBody {
    EventBody::CheckedIn { location: None }
}

fn done() -> EventBody {
    EventBody::WorkMarkedDone {
        note: String::new(),
    }
}

fn code() -> EventBody {
    EventBody::ConfirmationCodeEntered {
        code: "834201".into(),
    }
}

fn complete() -> EventBody {
    EventBody::JobCompleted {
        note: String::new(),
    }
}

#[test]
fn damaged_pickup_blocks_the_job_until_the_desk_decides() {
    let mut job = Job::new(JobKind::DeliveryInstall);
    job.ok(EventBody::JobAccepted);
    job.ok(EventBody::LogisticsArrived {
        arrived_at: job.now,
        note: String::new(),
    });
    job.ok(EventBody::AppointmentBooked {
        at: job.now + Duration::hours(3),
        note: String::new(),
    });
    job.ok(photo(PhotoCategory::Pickup, 1));
    job.ok(pickup(2, Packaging::Damaged));
    assert_eq!(job.view.status(), JobStatus::Blocked);
    let ex = job.view.exceptions[0].clone();
    assert_eq!(ex.kind, ExceptionKind::PickupDamaged);
    assert_eq!(
        ex.photo_ids.len(),
        1,
        "the pickup photos are the exception's evidence"
    );

    let r = job.refused(check_in(), Rule::BlockedByException);
    assert_eq!(
        r.missing,
        vec![Missing::ExceptionDecision {
            kinds: vec![ExceptionKind::PickupDamaged]
        }]
    );
    // Calls and photos still go on while the job waits.
    job.ok(call(CallOutcome::Reached));

    job.desk(EventBody::ExceptionResolved {
        exception_id: ex.id,
        decision: ExceptionDecision::Proceed,
        note: "merchant accepts".into(),
    })
    .expect("desk decides");
    assert_eq!(job.view.status(), JobStatus::Scheduled);
    job.ok(check_in());
}

#[test]
fn wrong_piece_count_blocks_and_a_stop_decision_keeps_it_blocked() {
    let mut job = Job::new(JobKind::DeliveryInstall);
    job.ok(EventBody::JobAccepted);
    job.ok(EventBody::LogisticsArrived {
        arrived_at: job.now,
        note: String::new(),
    });
    job.ok(EventBody::AppointmentBooked {
        at: job.now + Duration::hours(3),
        note: String::new(),
    });
    job.ok(photo(PhotoCategory::Pickup, 1));
    job.ok(pickup(1, Packaging::Intact));
    let ex = job.view.exceptions[0].clone();
    assert_eq!(ex.kind, ExceptionKind::PickupCountMismatch);
    job.desk(EventBody::ExceptionResolved {
        exception_id: ex.id,
        decision: ExceptionDecision::Stop,
        note: "wait for the second box".into(),
    })
    .expect("desk decides");
    assert_eq!(job.view.status(), JobStatus::Blocked);
    job.refused(check_in(), Rule::BlockedByException);
    // Deciding twice is refused: the first decision stands.
    let again = job.desk(EventBody::ExceptionResolved {
        exception_id: ex.id,
        decision: ExceptionDecision::Proceed,
        note: String::new(),
    });
    assert_eq!(
        again.map_err(|r| r.rule),
        Err(Rule::ExceptionAlreadyResolved)
    );
}

#[test]
fn pickup_needs_goods_arrived_and_a_photo_and_only_delivery_jobs_have_one() {
    let mut job = Job::new(JobKind::DeliveryInstall);
    job.ok(EventBody::JobAccepted);
    job.refused(pickup(2, Packaging::Intact), Rule::GoodsNotArrived);
    job.ok(EventBody::LogisticsArrived {
        arrived_at: job.now,
        note: String::new(),
    });
    let r = job.refused(pickup(2, Packaging::Intact), Rule::PickupNeedsPhoto);
    assert_eq!(r.missing, vec![Missing::PickupPhoto]);
    job.ok(photo(PhotoCategory::Pickup, 1));
    job.refused(pickup(0, Packaging::Intact), Rule::InvalidInput);
    job.ok(pickup(2, Packaging::Intact));
    assert!(job.view.exceptions.is_empty());
    job.refused(pickup(2, Packaging::Intact), Rule::AlreadyRecorded);

    let mut install = Job::new(JobKind::Install);
    install.ok(EventBody::JobAccepted);
    install.refused(pickup(1, Packaging::Intact), Rule::NotADeliveryJob);
    install.refused(photo(PhotoCategory::Pickup, 1), Rule::NotADeliveryJob);
}

#[test]
fn check_in_needs_an_appointment_and_for_deliveries_the_goods() {
    let mut job = Job::new(JobKind::DeliveryInstall);
    job.ok(EventBody::JobAccepted);
    let r = job.refused(check_in(), Rule::CheckInNeedsAppointment);
    assert_eq!(r.missing, vec![Missing::Appointment]);
    job.ok(EventBody::AppointmentBooked {
        at: job.now + Duration::hours(1),
        note: String::new(),
    });
    let r = job.refused(check_in(), Rule::CheckInNeedsPickup);
    assert_eq!(r.missing, vec![Missing::Pickup]);

    let mut install = Job::new(JobKind::Install);
    install.ok(EventBody::JobAccepted);
    install.refused(check_in(), Rule::CheckInNeedsAppointment);
    install.ok(EventBody::AppointmentBooked {
        at: install.now + Duration::hours(1),
        note: String::new(),
    });
    install.ok(check_in());
    install.refused(check_in(), Rule::AlreadyRecorded);
    assert_eq!(install.view.status(), JobStatus::OnSite);
}

#[test]
fn the_code_is_asked_only_after_the_work_is_done() {
    let mut job = Job::new(JobKind::Install);
    job.up_to_check_in();
    job.ok(check_in());
    let r = job.refused(code(), Rule::WorkNotDone);
    assert_eq!(r.missing, vec![Missing::WorkMarkedDone]);
    assert!(r.message(Lang::En).contains("after the service"), "{r}");
    job.refused(signature(), Rule::WorkNotDone);
    job.ok(done());
    job.refused(
        EventBody::ConfirmationCodeEntered { code: "1".into() },
        Rule::InvalidInput,
    );
    job.ok(code());
    job.refused(code(), Rule::AlreadyRecorded);
}

#[test]
fn completion_lists_everything_still_missing_then_succeeds() {
    let mut job = Job::new(JobKind::Install);
    job.up_to_check_in();
    let r = job.refused(complete(), Rule::CompletionIncomplete);
    let required = job.required_ids();
    assert_eq!(
        r.missing,
        vec![
            Missing::CheckIn,
            Missing::WorkMarkedDone,
            Missing::ChecklistItems {
                item_ids: required.clone()
            },
            Missing::CompletionPhotos { have: 0, need: 2 },
            Missing::ReceiptPhoto,
            Missing::Signature,
            Missing::ConfirmationCode,
        ]
    );
    job.ok(check_in());
    job.answer_all(true);
    job.ok(done());
    job.ok(photo(PhotoCategory::Completion, 2));
    let r = job.refused(complete(), Rule::CompletionIncomplete);
    assert_eq!(
        r.missing,
        vec![
            Missing::CompletionPhotos { have: 1, need: 2 },
            Missing::ReceiptPhoto,
            Missing::Signature,
            Missing::ConfirmationCode,
        ]
    );
    job.ok(photo(PhotoCategory::Completion, 3));
    job.ok(photo(PhotoCategory::Receipt, 4));
    job.ok(signature());
    let r = job.refused(complete(), Rule::CompletionIncomplete);
    assert_eq!(r.missing, vec![Missing::ConfirmationCode]);
    job.ok(code());
    job.ok(complete());
    assert_eq!(job.view.status(), JobStatus::Completed);
    job.refused(check_in(), Rule::JobCompleted);
    job.ok(EventBody::CheckedOut);
}

#[test]
fn completion_photos_need_a_check_in_and_photos_are_never_recorded_twice() {
    let mut job = Job::new(JobKind::Install);
    job.up_to_check_in();
    job.refused(photo(PhotoCategory::Completion, 1), Rule::NotCheckedIn);
    job.refused(photo(PhotoCategory::Receipt, 1), Rule::NotCheckedIn);
    job.ok(check_in());
    let p = photo(PhotoCategory::Completion, 1);
    job.ok(p.clone());
    job.refused(p, Rule::AlreadyRecorded);
    let bad = EventBody::PhotoCaptured {
        photo: fieldcore::domain::PhotoRef {
            photo_id: Uuid::now_v7(),
            category: PhotoCategory::Completion,
            sha256: "not a hash".into(),
            location: None,
        },
    };
    job.refused(bad, Rule::InvalidInput);
}

#[test]
fn the_same_photo_bytes_count_once_toward_the_minimums() {
    let mut job = Job::new(JobKind::Install);
    job.up_to_check_in();
    job.ok(check_in());
    job.ok(photo(PhotoCategory::Completion, 7));
    // The same picture as a "second angle", or as the receipt: refused, naming the rule.
    let again = job.refused(photo(PhotoCategory::Completion, 7), Rule::PhotoAlreadyOnJob);
    assert!(
        again.message(Lang::En).contains("already on the job"),
        "{again:?}"
    );
    job.refused(photo(PhotoCategory::Receipt, 7), Rule::PhotoAlreadyOnJob);

    // A log written before the rule (replayed, never re-checked) still counts the bytes once.
    let at = job.tick();
    let old = tech_event(
        job.view.id,
        job.tech,
        at,
        photo(PhotoCategory::Completion, 7),
    );
    job.rules.apply(&mut job.view, &old);
    assert_eq!(job.view.photos.len(), 2);
    assert_eq!(job.view.photo_count(PhotoCategory::Completion), 1);
    assert!(
        job.rules
            .completion_missing(&job.view)
            .contains(&Missing::CompletionPhotos { have: 1, need: 2 })
    );
}

#[test]
fn an_order_without_verification_completes_without_a_code() {
    let mut order = fixtures::order(JobKind::Repair);
    order.requires_verification = false;
    let mut job = Job::with_order(order);
    job.up_to_check_in();
    job.ok(check_in());
    job.answer_all(true);
    job.ok(done());
    job.ok(photo(PhotoCategory::Completion, 1));
    job.ok(photo(PhotoCategory::Completion, 2));
    job.ok(photo(PhotoCategory::Receipt, 3));
    job.ok(signature());
    job.ok(complete());
}

#[test]
fn a_code_the_customer_cannot_give_is_reported_instead_and_only_after_the_work() {
    let mut job = Job::new(JobKind::Install);
    job.up_to_check_in();
    job.ok(check_in());
    let unavailable = || EventBody::ExceptionRaised {
        exception_id: Uuid::now_v7(),
        kind: ExceptionKind::CompletionCodeUnavailable,
        note: "the platform's code service is down".into(),
        photo_ids: vec![],
    };
    job.refused(unavailable(), Rule::WorkNotDone);
    job.answer_all(true);
    job.ok(done());
    job.ok(photo(PhotoCategory::Completion, 1));
    job.ok(photo(PhotoCategory::Completion, 2));
    job.ok(photo(PhotoCategory::Receipt, 3));
    job.ok(signature());
    job.refused(complete(), Rule::CompletionIncomplete);
    job.ok(unavailable());
    job.ok(complete());
}

#[test]
fn a_no_on_a_required_item_raises_a_conduct_exception_never_a_silent_pass() {
    let mut job = Job::new(JobKind::Install);
    job.up_to_check_in();
    job.refused(
        EventBody::ChecklistAnswered {
            item_id: "uniform_badge".into(),
            answer: true,
            note: String::new(),
        },
        Rule::NotCheckedIn,
    );
    job.ok(check_in());
    job.ok(EventBody::ChecklistAnswered {
        item_id: "no_gifts_tips".into(),
        answer: false,
        note: "customer insisted on a red envelope".into(),
    });
    let conduct: Vec<_> = job
        .view
        .exceptions
        .iter()
        .filter(|e| e.kind == ExceptionKind::ConductViolation)
        .collect();
    assert_eq!(conduct.len(), 1);
    assert!(conduct[0].note.contains("no_gifts_tips"));
    // A "no" on an optional item is an answer, not a violation.
    job.ok(EventBody::ChecklistAnswered {
        item_id: "shoe_covers".into(),
        answer: false,
        note: "customer declined".into(),
    });
    assert_eq!(job.view.exceptions.len(), 1);
    // It does not stop the visit: the desk follows it up.
    assert_eq!(job.view.status(), JobStatus::OnSite);
    job.refused(
        EventBody::ChecklistAnswered {
            item_id: "no_such_item".into(),
            answer: true,
            note: String::new(),
        },
        Rule::UnknownChecklistItem,
    );
}

#[test]
fn a_cancelled_job_refuses_field_events_and_a_late_one_is_kept_and_flagged() {
    let mut job = Job::new(JobKind::Install);
    job.up_to_check_in();
    job.desk(EventBody::JobCancelled {
        reason: "customer cancelled the order".into(),
    })
    .expect("desk cancels");
    assert_eq!(job.view.status(), JobStatus::Cancelled);
    let r = job.refused(check_in(), Rule::JobCancelled);
    assert!(r.message(Lang::ZhCn).contains("取消"));
    job.refused(call(CallOutcome::Reached), Rule::JobCancelled);

    // An event the device recorded offline before it heard of the cancellation reaches the
    // view anyway (the server keeps it): it is flagged, not applied.
    let late = tech_event(job.view.id, job.tech, job.now, check_in());
    let before_status = job.view.status();
    job.rules.apply(&mut job.view, &late);
    assert_eq!(job.view.flagged_events, vec![late.id]);
    assert_eq!(job.view.checked_in_at, None);
    assert_eq!(job.view.status(), before_status);
}

#[test]
fn only_the_assigned_technician_acts_and_only_after_accepting() {
    let mut job = Job::new(JobKind::Install);
    job.refused(call(CallOutcome::Reached), Rule::NotAccepted);
    let stranger = tech_event(job.view.id, Uuid::now_v7(), job.now, EventBody::JobAccepted);
    assert_eq!(
        job.rules
            .check(Some(&job.view), &stranger)
            .map_err(|r| r.rule),
        Err(Rule::NotAssignedToYou)
    );
    job.ok(EventBody::JobAccepted);
    job.refused(EventBody::JobAccepted, Rule::AlreadyRecorded);

    // Reassignment hands the job over: the old technician is out, the new one accepts afresh.
    let other = Uuid::now_v7();
    job.desk(EventBody::JobAssigned {
        technician_id: other,
    })
    .expect("reassign");
    job.refused(call(CallOutcome::Reached), Rule::NotAssignedToYou);
    job.tech = other;
    job.refused(call(CallOutcome::Reached), Rule::NotAccepted);
    job.ok(EventBody::JobAccepted);
}

#[test]
fn each_side_records_only_its_own_events() {
    let mut job = Job::new(JobKind::Install);
    job.ok(EventBody::JobAccepted);
    job.refused(
        EventBody::JobCancelled {
            reason: "technician wants out".into(),
        },
        Rule::WrongSide,
    );
    let r = job.desk(EventBody::CheckedIn { location: None });
    assert_eq!(r.map_err(|r| r.rule), Err(Rule::WrongSide));
    // Booking is the one thing both do.
    job.desk(EventBody::AppointmentBooked {
        at: job.now + Duration::hours(4),
        note: "booked on intake".into(),
    })
    .expect("desk books");
    // The technician then moves it only by rescheduling, with a reason.
    job.refused(
        EventBody::AppointmentBooked {
            at: job.now,
            note: String::new(),
        },
        Rule::AlreadyRecorded,
    );
    job.refused(
        EventBody::AppointmentRescheduled {
            at: job.now + Duration::hours(6),
            reason: " ".into(),
            customer_consented: true,
        },
        Rule::InvalidInput,
    );
    // Without the customer's consent the technician may not move it: the desk decides.
    job.refused(
        EventBody::AppointmentRescheduled {
            at: job.now + Duration::hours(6),
            reason: "running late".into(),
            customer_consented: false,
        },
        Rule::InvalidInput,
    );
    job.ok(EventBody::AppointmentRescheduled {
        at: job.now + Duration::hours(6),
        reason: "stuck in traffic, customer agreed".into(),
        customer_consented: true,
    });
    assert_eq!(job.view.reschedules, 1);
}

#[test]
fn customer_absent_only_after_waiting_and_calling() {
    let mut job = Job::new(JobKind::Install);
    job.up_to_check_in();
    job.ok(check_in());
    let absent = || EventBody::ExceptionRaised {
        exception_id: Uuid::now_v7(),
        kind: ExceptionKind::CustomerAbsent,
        note: "nobody answers".into(),
        photo_ids: vec![],
    };
    let r = job.refused(absent(), Rule::CustomerAbsentTooSoon);
    assert_eq!(
        r.missing,
        vec![Missing::Wait { seconds: 240 }, Missing::CallToCustomer]
    );
    assert!(r.message(Lang::En).contains("wait 4 more minute"), "{r}");
    job.now += Duration::minutes(5);
    job.ok(call(CallOutcome::NoAnswer));
    job.ok(absent());
    // Not a blocking kind: the technician may leave.
    job.ok(EventBody::CheckedOut);
}

#[test]
fn an_exemption_is_claimed_once_per_clock_and_decided_by_the_desk() {
    let mut job = Job::new(JobKind::Install);
    job.ok(EventBody::JobAccepted);
    let claim_id = Uuid::now_v7();
    let claim = |id| EventBody::ExemptionClaimed {
        claim_id: id,
        timer: TimerKind::Completion,
        reason: ExemptionReason::Weather,
        note: "typhoon warning, roads closed".into(),
    };
    job.ok(claim(claim_id));
    job.refused(claim(Uuid::now_v7()), Rule::AlreadyRecorded);
    let bad = job.desk(EventBody::ExemptionDecided {
        claim_id: Uuid::now_v7(),
        granted: true,
        note: String::new(),
    });
    assert_eq!(bad.map_err(|r| r.rule), Err(Rule::UnknownExemptionClaim));
    job.desk(EventBody::ExemptionDecided {
        claim_id,
        granted: true,
        note: "confirmed with the weather bureau".into(),
    })
    .expect("granted");
    assert_eq!(job.view.exemptions[0].granted, Some(true));
}

#[test]
fn next_actions_follow_the_visit() {
    let mut job = Job::new(JobKind::Install);
    let next = |job: &Job| job.rules.next_actions(&job.view, job.tech);
    assert_eq!(next(&job), vec![ActionKind::JobAccepted]);
    job.up_to_check_in();
    let n = next(&job);
    assert!(n.contains(&ActionKind::CheckedIn));
    assert!(n.contains(&ActionKind::AppointmentRescheduled));
    assert!(!n.contains(&ActionKind::ConfirmationCodeEntered));
    assert!(!n.contains(&ActionKind::JobCompleted));
    job.ok(check_in());
    job.answer_all(true);
    job.ok(done());
    let n = next(&job);
    assert!(n.contains(&ActionKind::ConfirmationCodeEntered));
    assert!(n.contains(&ActionKind::SignatureCaptured));
    assert!(!n.contains(&ActionKind::CheckedIn));
    assert!(!n.contains(&ActionKind::JobCompleted));
    job.ok(photo(PhotoCategory::Completion, 1));
    job.ok(photo(PhotoCategory::Completion, 2));
    job.ok(photo(PhotoCategory::Receipt, 3));
    job.ok(signature());
    job.ok(code());
    assert!(next(&job).contains(&ActionKind::JobCompleted));
    job.ok(complete());
    let n = next(&job);
    assert!(n.contains(&ActionKind::CheckedOut));
    assert!(!n.contains(&ActionKind::JobCompleted));
}

#[test]
fn refusals_speak_both_languages_and_name_what_is_missing() {
    let mut job = Job::new(JobKind::Install);
    job.up_to_check_in();
    let r = job.refused(complete(), Rule::CompletionIncomplete);
    let en = r.message(Lang::En);
    let zh = r.message(Lang::ZhCn);
    assert!(
        en.contains("cannot be completed") && en.contains("signature"),
        "{en}"
    );
    assert!(zh.contains("完工") && zh.contains("签字"), "{zh}");
    assert_eq!(r.to_string(), en);
    assert_eq!(r.rule.code(), "completion_incomplete");
    // The wire form carries the rule code for apps and the server to switch on.
    let json = serde_json::to_value(&r).expect("serialise");
    assert_eq!(json["rule"], "completion_incomplete");
}

#[test]
fn the_desk_validates_orders_and_follows_up_after_the_visit() {
    let rules = Rulebook::default();
    let desk = Desk::default();
    let mut bad = fixtures::order(JobKind::Repair);
    bad.severity = Some(9);
    let e = desk.event(Uuid::now_v7(), t0(), fixtures::created(bad));
    assert_eq!(
        rules.check(None, &e).map_err(|r| r.rule),
        Err(Rule::InvalidInput)
    );
    let mut bad = fixtures::order(JobKind::DeliveryInstall);
    bad.expected_pieces = None;
    let e = desk.event(Uuid::now_v7(), t0(), fixtures::created(bad));
    assert_eq!(
        rules.check(None, &e).map_err(|r| r.rule),
        Err(Rule::InvalidInput)
    );
    let orphan = desk.event(
        Uuid::now_v7(),
        t0(),
        EventBody::JobCancelled { reason: "x".into() },
    );
    assert_eq!(
        rules.check(None, &orphan).map_err(|r| r.rule),
        Err(Rule::UnknownJob)
    );

    let mut job = Job::new(JobKind::Install);
    let visit = |job: &mut Job| {
        job.desk(EventBody::ReturnVisitRecorded {
            quality: 5,
            attitude: 4,
            note: String::new(),
        })
    };
    assert_eq!(
        visit(&mut job).map_err(|r| r.rule),
        Err(Rule::NotCompletedYet)
    );
    let complaint_id = Uuid::now_v7();
    job.desk(EventBody::ComplaintFiled {
        complaint_id,
        note: "technician was late".into(),
    })
    .expect("filed");
    let close = job.desk(EventBody::ComplaintClosed {
        complaint_id,
        result: "done".into(),
    });
    assert_eq!(
        close.map_err(|r| r.rule),
        Err(Rule::AlreadyRecorded),
        "answer before closing"
    );
    job.desk(EventBody::ComplaintAnswered {
        complaint_id,
        accepted: true,
        note: String::new(),
    })
    .expect("answered");
    job.desk(EventBody::ComplaintClosed {
        complaint_id,
        result: "apologised, technician retrained".into(),
    })
    .expect("closed");
}

#[test]
fn the_desk_amends_an_order_but_not_its_kind_nor_an_accepted_fee() {
    let mut job = Job::new(JobKind::Install);
    let mut order = job.view.order.clone();
    order.address = "12 New Street".into();
    order.fee_basis = fieldcore::domain::FeeBasis::Quoted { amount_cents: 9900 };
    job.desk(EventBody::OrderAmended {
        order: order.clone(),
    })
    .expect("amended before acceptance");
    assert_eq!(job.view.order, order);

    // The technician cannot touch the order.
    let amend = |o: &fieldcore::domain::JobOrder| EventBody::OrderAmended { order: o.clone() };
    job.refused(amend(&order), Rule::WrongSide);

    let mut other_kind = order.clone();
    other_kind.kind = JobKind::Repair;
    other_kind.severity = Some(2);
    assert_eq!(
        job.desk(amend(&other_kind)).map_err(|r| r.rule),
        Err(Rule::InvalidInput)
    );
    let mut empty = order.clone();
    empty.phone = " ".into();
    assert_eq!(
        job.desk(amend(&empty)).map_err(|r| r.rule),
        Err(Rule::InvalidInput)
    );

    job.ok(EventBody::JobAccepted);
    let mut cheaper = order.clone();
    cheaper.fee_basis = fieldcore::domain::FeeBasis::Quoted { amount_cents: 100 };
    assert_eq!(
        job.desk(amend(&cheaper)).map_err(|r| r.rule),
        Err(Rule::InvalidInput),
        "the quote is locked once accepted"
    );
    let mut phone = order.clone();
    phone.phone = "+86 137 0000 0009".into();
    job.desk(amend(&phone)).expect("details still change");
    assert_eq!(job.view.order.phone, "+86 137 0000 0009");

    job.desk(EventBody::JobCancelled {
        reason: "customer moved".into(),
    })
    .expect("cancelled");
    assert_eq!(
        job.desk(amend(&order)).map_err(|r| r.rule),
        Err(Rule::JobCancelled)
    );
}

/// Security finding: notes had no length limit and a job could grow without end, so one device
/// could make every write to a job (and, behind one writer, everyone's) slow. The bounds are in
/// the rulebook, so the phone refuses before the server has to.
#[test]
fn free_text_is_bounded_in_characters_and_names_the_field() {
    use fieldcore::domain::limits::NOTE_MAX_CHARS;
    let mut job = Job::new(JobKind::Install);
    job.ok(EventBody::JobAccepted);
    let r = job.refused(
        EventBody::CustomerCallLogged {
            outcome: CallOutcome::Reached,
            note: "x".repeat(15 * 1024),
        },
        Rule::InvalidInput,
    );
    assert!(
        r.message(Lang::En).contains("note"),
        "{}",
        r.message(Lang::En)
    );
    // Chinese counts characters, not bytes: a full-length Chinese note is fine.
    job.ok(EventBody::CustomerCallLogged {
        outcome: CallOutcome::Reached,
        note: "好".repeat(NOTE_MAX_CHARS),
    });
    let mut long = fixtures::order(JobKind::Install);
    long.address = "路".repeat(10_000);
    let created = Desk::default().event(Uuid::now_v7(), t0(), fixtures::created(long));
    assert_eq!(
        Rulebook::default()
            .check(None, &created)
            .map_err(|r| r.rule),
        Err(Rule::InvalidInput)
    );
}

#[test]
fn a_job_holds_a_bounded_number_of_calls_and_the_desk_can_still_act_on_it() {
    use fieldcore::domain::limits::CALLS_PER_JOB_MAX;
    let mut job = Job::new(JobKind::Install);
    job.ok(EventBody::JobAccepted);
    for _ in 0..CALLS_PER_JOB_MAX {
        job.ok(call(CallOutcome::NoAnswer));
    }
    job.refused(call(CallOutcome::NoAnswer), Rule::LimitReached);
    job.desk(EventBody::JobCancelled {
        reason: "customer unreachable".into(),
    })
    .expect("the desk still acts on a full job");
}

#[test]
fn times_inside_an_event_lie_near_when_it_happened() {
    let mut job = Job::new(JobKind::Install);
    job.ok(EventBody::JobAccepted);
    let far = chrono::NaiveDate::from_ymd_opt(10_000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap()
        .and_utc();
    for at in [far, DateTime::<Utc>::MIN_UTC, job.now + Duration::days(400)] {
        job.refused(
            EventBody::AppointmentBooked {
                at,
                note: String::new(),
            },
            Rule::ImplausibleTime,
        );
    }
    let next_month = job.now + Duration::days(30);
    job.ok(EventBody::AppointmentBooked {
        at: next_month,
        note: String::new(),
    });
}

/// A phone that lost a job keeps its field facts on the record (ADR 0007), but only so many:
/// it must not be able to fill the job for its new holder.
#[test]
fn a_former_technician_cannot_fill_a_job_for_its_new_holder() {
    use fieldcore::domain::Admission;
    use fieldcore::domain::limits::KEPT_PER_JOB_MAX;
    let mut job = Job::new(JobKind::Install);
    job.ok(EventBody::JobAccepted);
    let (former, holder) = (job.tech, Uuid::now_v7());
    job.desk(EventBody::JobAssigned {
        technician_id: holder,
    })
    .expect("reassigned");
    let rules = job.rules.clone();
    for _ in 0..KEPT_PER_JOB_MAX {
        let at = job.tick();
        let e = tech_event(job.view.id, former, at, call(CallOutcome::NoAnswer));
        assert!(matches!(
            rules.admit(Some(&job.view), &e),
            Admission::Kept(_)
        ));
        rules.apply(&mut job.view, &e);
    }
    let at = job.tick();
    let e = tech_event(job.view.id, former, at, call(CallOutcome::NoAnswer));
    match rules.admit(Some(&job.view), &e) {
        Admission::Refused(r) => assert_eq!(r.rule, Rule::LimitReached),
        other => panic!("{other:?}"),
    }
    // The new holder works on, unhindered.
    job.tech = holder;
    job.ok(EventBody::JobAccepted);
    job.ok(call(CallOutcome::Reached));
}

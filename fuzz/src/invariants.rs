//! What the rulebook promises about every state a job can reach, and about every move it lets
//! through: the promises `core/tests/properties.rs` checks on forward-moving sequences, here on
//! whatever the fuzzer makes (clock jumps, corrected times, desk actions, raw events).
//!
//! Only promises that hold whatever the clocks say are checked: the order of two recorded times
//! (work done before the code was entered) is not, since a phone's clock may jump back between
//! two events and the rulebook does not (and cannot) refuse that.

use fieldcore::domain::{
    ActionKind, Event, ExceptionKind, JobKind, JobView, PhotoCategory, Rulebook,
};

/// Apply an admitted event to an existing job, checking what the rulebook promises about it: a
/// move it applies breaks none of its rules; one it keeps aside (`kept`: after a cancellation,
/// from a former holder) is counted and recorded and changes nothing else.
pub fn apply_checked(rules: &Rulebook, view: &mut JobView, event: &Event, kept: bool) {
    if kept {
        let mut expected = view.clone();
        expected.event_count += 1;
        expected.last_event_at = expected.last_event_at.max(event.at());
        expected.flagged_events.push(event.id);
        rules.apply(view, event);
        assert_eq!(
            *view,
            expected,
            "{:?} kept aside changed the job",
            event.body.kind()
        );
    } else {
        assert_transition(view, event);
        rules.apply(view, event);
        assert_state(rules, view);
    }
}

/// Nothing the rulebook let through left the job in a state it forbids.
pub fn assert_state(rules: &Rulebook, view: &JobView) {
    let delivery = view.order.kind == JobKind::DeliveryInstall;
    if view.checked_in_at.is_some() {
        assert!(
            view.appointment_at.is_some(),
            "checked in without an appointment"
        );
        assert!(
            !delivery || view.pickup.is_some(),
            "checked in without the goods"
        );
    }
    assert!(
        view.pickup.is_none() || view.goods_arrived_at.is_some(),
        "picked up before the goods arrived"
    );
    assert!(
        view.code_entered_at.is_none() || view.work_done_at.is_some(),
        "code entered before the work was done"
    );
    assert!(
        view.signature.is_none() || view.work_done_at.is_some(),
        "signed before the work was done"
    );
    if view.completed_at.is_some() {
        assert!(view.checked_in_at.is_some(), "completed without a check-in");
        assert!(
            view.work_done_at.is_some(),
            "completed before the work was done"
        );
        assert!(view.signature.is_some(), "completed without a signature");
        let photos = |c| u32::try_from(view.photo_count(c)).unwrap_or(u32::MAX);
        assert!(
            photos(PhotoCategory::Completion) >= rules.policy.min_completion_photos,
            "completed without enough completion photos"
        );
        assert!(
            photos(PhotoCategory::Receipt) >= rules.policy.min_receipt_photos,
            "completed without the receipt photo"
        );
        for item in rules.checklist.required() {
            assert!(
                view.checklist.contains_key(&item.id),
                "completed with {} unanswered",
                item.id
            );
        }
        assert!(
            !view.order.requires_verification
                || view.code_entered_at.is_some()
                || view.has_exception(ExceptionKind::CompletionCodeUnavailable),
            "completed without the confirmation code"
        );
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
    assert!(
        conduct >= noes,
        "a no on a required item raised no exception"
    );
}

/// A move the rulebook applied (not one it kept aside) never takes a cancelled, blocked or
/// completed job forward.
pub fn assert_transition(before: &JobView, event: &Event) {
    let kind = event.body.kind();
    assert!(
        before.cancelled_at.is_none() || !kind.is_field(),
        "{kind:?} applied to a cancelled job"
    );
    assert!(
        !before.is_blocked()
            || !matches!(
                kind,
                ActionKind::CheckedIn
                    | ActionKind::WorkMarkedDone
                    | ActionKind::JobCompleted
                    | ActionKind::SignatureCaptured
                    | ActionKind::ConfirmationCodeEntered
            ),
        "{kind:?} applied to a blocked job"
    );
    assert!(
        before.completed_at.is_none()
            || !matches!(kind, ActionKind::JobCompleted | ActionKind::CheckedIn),
        "{kind:?} applied to a completed job"
    );
}

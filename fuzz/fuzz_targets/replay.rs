//! A job's view is a cache of its event log: whatever sequence of events arrives, the view kept
//! live (admitted and applied event by event, stored as JSON between batches as the server does)
//! must equal the fold of the accepted events as a phone pulls them (ADR 0007). An event the
//! rulebook keeps aside (after a cancellation, from a former holder) must never move the job, and
//! no applied event may break the rulebook's promises (`fieldcore_fuzz::invariants`).
//!
//! Input: a sequence of steps for one job (see `fieldcore_fuzz::events`), each followed by a
//! choice whether a batch ends there.
#![no_main]

use std::sync::LazyLock;

use arbitrary::Unstructured;
use fieldcore::domain::{Admission, Event, JobView, Rulebook};
use fieldcore_fuzz::events::{Cast, EventMaker, one_in};
use fieldcore_fuzz::invariants::apply_checked;
use fieldcore_fuzz::stored::{assert_view_is_fold_of_log, through_json};
use libfuzzer_sys::fuzz_target;

/// Events tried per input: well past the kept-aside cap (200), well below the per-job total
/// (1000) which only makes runs slow.
const MAX_EVENTS: usize = 400;

/// The default organisation's rules (parsed once: the checklist ships as JSON).
static RULEBOOK: LazyLock<Rulebook> = LazyLock::new(Rulebook::default);

fuzz_target!(|data: &[u8]| {
    let rulebook = &*RULEBOOK;
    let cast = Cast::default();
    let mut maker = EventMaker::new(&cast, rulebook);
    let mut u = Unstructured::new(data);
    let mut live: Option<JobView> = None;
    let mut log: Vec<Event> = Vec::new();
    let mut tried = 0;
    while !u.is_empty() && tried < MAX_EVENTS {
        let Ok(events) = maker.step(&mut u, live.as_ref()) else {
            break;
        };
        for event in events {
            tried += 1;
            if admit_and_apply(rulebook, &mut live, &event) {
                log.push(event);
            }
        }
        // The server reads a job once per batch and writes it back at the end. Batches of many
        // steps: the round through JSON dominates the cost of a run.
        if one_in(&mut u, 16).unwrap_or(false) {
            live = live.map(|v| through_json(&v, "a job view"));
        }
    }
    assert_view_is_fold_of_log(rulebook, live.as_ref(), &log);
});

/// What both logs do with an event: admit it, and apply what is admitted. Returns whether it
/// joins the log.
fn admit_and_apply(rulebook: &Rulebook, live: &mut Option<JobView>, event: &Event) -> bool {
    let kept = match rulebook.admit(live.as_ref(), event) {
        Admission::Refused(_) => return false,
        Admission::Applies => false,
        Admission::Kept(_) => true,
    };
    match live.as_mut() {
        Some(view) => apply_checked(rulebook, view, event, kept),
        None => {
            let Some(created) = JobView::created(event).filter(|_| !kept) else {
                panic!(
                    "{:?} admitted on a job that does not exist",
                    event.body.kind()
                );
            };
            *live = Some(created);
        }
    }
    true
}

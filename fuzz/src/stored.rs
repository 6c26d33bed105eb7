//! What a log stores must read back, and a job's view must be the fold of its log.
//!
//! The server keeps each event and each job's view as JSON (`event_json`, `view_json`) and reads
//! them back: the view at the next batch, the events when a phone pulls its feed and folds them
//! into its own view (ADR 0007). A value that serialises but does not parse back (a year past
//! 9999, a NaN) would be a record nothing can read; one that parses back different would make the
//! phone and the desk disagree about the same job.

use fieldcore::domain::{Event, JobView, Rulebook};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// `value` through JSON and back, as storage writes and reads it. Panics (a finding) if it does
/// not serialise or does not parse back.
pub fn through_json<T: Serialize + DeserializeOwned>(value: &T, what: &str) -> T {
    let json =
        serde_json::to_string(value).unwrap_or_else(|e| panic!("{what} does not serialise: {e}"));
    serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("{what} is stored as {json} and cannot be read back: {e}"))
}

/// The view kept live (applied event by event, stored between batches) must equal the fold of
/// the accepted events as a phone receives them (each through JSON, in log order).
pub fn assert_view_is_fold_of_log(rulebook: &Rulebook, live: Option<&JobView>, log: &[Event]) {
    let pulled: Vec<Event> = log.iter().map(|e| through_json(e, "an event")).collect();
    let replayed = rulebook.replay(&pulled);
    assert_eq!(
        replayed.as_ref(),
        live,
        "replaying the log of {} events does not give the live view",
        log.len()
    );
}

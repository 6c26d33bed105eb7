//! The window the server places a pushed event's time in, as `correct_event_time` documents it.

use chrono::{DateTime, Duration, Utc};
use fieldcore::protocol::{CorrectedTime, EVENT_MAX_AGE_DAYS, EVENT_MAX_FUTURE_SECS};

/// A corrected time lies in `[received_at - EVENT_MAX_AGE_DAYS, received_at +
/// EVENT_MAX_FUTURE_SECS]`: anything outside is refused, never stored with a time nothing can
/// read back.
pub fn assert_within_window(corrected: &CorrectedTime, received_at: DateTime<Utc>) {
    let earliest = received_at.checked_sub_signed(Duration::days(EVENT_MAX_AGE_DAYS));
    let latest = received_at.checked_add_signed(Duration::seconds(EVENT_MAX_FUTURE_SECS));
    let (Some(earliest), Some(latest)) = (earliest, latest) else {
        panic!(
            "placed {} though the window around {received_at} does not exist",
            corrected.at
        );
    };
    assert!(
        (earliest..=latest).contains(&corrected.at),
        "placed at {}, outside [{earliest}, {latest}] for an arrival at {received_at}",
        corrected.at
    );
}

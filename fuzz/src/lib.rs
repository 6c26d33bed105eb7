//! What the fuzz targets share: job events made from fuzz bytes ([`events`]), the rulebook's
//! promises about the states a job reaches ([`invariants`]), the checks on what a log stores
//! ([`stored`]) and the window a pushed event's time must land in ([`clock`]).
//!
//! The targets themselves are in `fuzz_targets/`; docs/fuzzing.md says what each asserts.

pub mod clock;
pub mod events;
pub mod invariants;
pub mod stored;

//! A job's number: what the desk, the phone and the customer say aloud ("J-1042").
//!
//! The server gives each new job the next number of its organisation, inside the `JobCreated`
//! event, so the number travels with the job's log to every phone and can never differ between
//! the desk and the field. A job created before numbers existed has none.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct JobNumber(pub u32);

impl JobNumber {
    /// The first number an organisation gives: four digits from the start, so numbers read
    /// alike for the first nine thousand jobs.
    pub const FIRST: JobNumber = JobNumber(1001);

    /// `J-1042`, `j1042` or `J 1042`: a person's way of writing it. The letter is required,
    /// so a number is never mistaken for a short id (those are hex digits).
    pub fn parse(s: &str) -> Option<JobNumber> {
        let s = s.trim();
        let rest = s.strip_prefix(['J', 'j'])?;
        let digits = rest.trim_start_matches(['-', ' ', '#']);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok().filter(|n| *n > 0).map(JobNumber)
    }
}

impl fmt::Display for JobNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "J-{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_and_read_as_people_do() {
        assert_eq!(JobNumber(1042).to_string(), "J-1042");
        for s in ["J-1042", "j1042", " J 1042 ", "J#1042"] {
            assert_eq!(JobNumber::parse(s), Some(JobNumber(1042)), "{s:?}");
        }
        for s in ["1042", "J-", "J-10a", "K-1042", "J-0", "J-99999999999"] {
            assert_eq!(JobNumber::parse(s), None, "{s:?}");
        }
    }
}

//! Job references a person can read out and type: the organisation's job number (`J-1042`,
//! [`JobNumber`]) and a short id unique on this device.
//!
//! A UUIDv7 begins with its creation time, so jobs the desk created in the same second share
//! their first eight hex digits (the CLI once showed one id for a whole day's jobs). The end of
//! the id is random: the short id is the shortest tail, at least [`SHORT_ID_MIN`] digits, that
//! no other job on the device ends with.

use std::collections::HashMap;

use rusqlite::OptionalExtension;
use uuid::Uuid;

use super::{Store, StoreError};
use crate::domain::JobNumber;

/// Hex digits a short id never goes below: 16 million values, so one digit more is rarely
/// needed even for a year of jobs on one phone.
pub const SHORT_ID_MIN: usize = 6;

/// Why a reference names no single job.
#[derive(Debug, thiserror::Error)]
pub enum JobLookupError {
    #[error("no job {0:?} on this device")]
    NotFound(String),
    #[error("{reference:?} matches {count} jobs: type more of it")]
    Ambiguous { reference: String, count: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Each id's short id (see the module's doc).
pub fn short_ids(ids: &[Uuid]) -> HashMap<Uuid, String> {
    // Reversed hex, sorted: ids sharing a tail sit side by side, and the digits one id needs
    // are one more than it shares with either neighbour.
    let mut reversed: Vec<(String, Uuid)> = ids
        .iter()
        .map(|id| (hex(id).chars().rev().collect(), *id))
        .collect();
    reversed.sort();
    reversed.dedup();
    let shared = |a: &str, b: &str| a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    let mut out = HashMap::with_capacity(reversed.len());
    for (i, (rev, id)) in reversed.iter().enumerate() {
        let before = i.checked_sub(1).map_or(0, |j| shared(rev, &reversed[j].0));
        let after = reversed.get(i + 1).map_or(0, |(next, _)| shared(rev, next));
        let len = (before.max(after) + 1).clamp(SHORT_ID_MIN, rev.len());
        let h = hex(id);
        out.insert(*id, h[h.len() - len..].to_string());
    }
    out
}

fn hex(id: &Uuid) -> String {
    id.simple().to_string()
}

impl Store {
    /// The job a person means: its number (`J-1042`), its full id, its short id (or more of the
    /// id's end), or the beginning of the full id. Case and dashes do not matter.
    pub fn find_job(&self, reference: &str) -> Result<Uuid, JobLookupError> {
        if let Some(number) = JobNumber::parse(reference) {
            let found: Option<String> = self
                .lock()
                .query_row(
                    "SELECT id FROM jobs WHERE json_extract(view, '$.number') = ?1",
                    [number.0],
                    |r| r.get(0),
                )
                .optional()
                .map_err(StoreError::from)?;
            return match found {
                Some(id) => Ok(super::parse_uuid(&id)?),
                None => Err(JobLookupError::NotFound(reference.to_string())),
            };
        }
        let ids = self.job_ids()?;
        let wanted: String = reference
            .trim()
            .chars()
            .filter(|c| *c != '-')
            .collect::<String>()
            .to_ascii_lowercase();
        if wanted.is_empty() {
            return Err(JobLookupError::NotFound(reference.to_string()));
        }
        // The whole id, then the end of ids (short ids are tails, unique as tails), and only
        // when no id ends so, the start: a short id always names its own job back.
        let hexes: Vec<(Uuid, String)> = ids.into_iter().map(|id| (id, hex(&id))).collect();
        let pick = |f: &dyn Fn(&str) -> bool| -> Vec<Uuid> {
            hexes
                .iter()
                .filter(|(_, h)| f(h))
                .map(|(id, _)| *id)
                .collect()
        };
        let mut matches = pick(&|h| h == wanted);
        if matches.is_empty() {
            matches = pick(&|h| h.ends_with(&wanted));
        }
        if matches.is_empty() {
            matches = pick(&|h| h.starts_with(&wanted));
        }
        match matches.as_slice() {
            [one] => Ok(*one),
            [] => Err(JobLookupError::NotFound(reference.to_string())),
            _ => Err(JobLookupError::Ambiguous {
                reference: reference.to_string(),
                count: matches.len(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_made_in_one_millisecond_get_distinct_short_ids() {
        let ids: Vec<Uuid> = (0..2000).map(|_| Uuid::now_v7()).collect();
        let short = short_ids(&ids);
        let distinct: std::collections::HashSet<&String> = short.values().collect();
        assert_eq!(distinct.len(), ids.len());
        for id in &ids {
            let s = &short[id];
            assert!(s.len() >= SHORT_ID_MIN);
            assert!(hex(id).ends_with(s.as_str()));
            // Unique: no other id ends with it.
            assert_eq!(
                ids.iter().filter(|o| hex(o).ends_with(s.as_str())).count(),
                1
            );
        }
    }

    #[test]
    fn a_shared_tail_grows_the_short_ids_that_share_it() {
        let a = Uuid::parse_str("00000000-0000-7000-8000-0000001234ab").unwrap();
        let b = Uuid::parse_str("00000000-0000-7000-8000-0000009234ab").unwrap();
        let c = Uuid::parse_str("00000000-0000-7000-8000-00000000ffff").unwrap();
        let short = short_ids(&[a, b, c]);
        assert_eq!(short[&a], "1234ab");
        assert_eq!(short[&b], "9234ab");
        assert_eq!(short[&c], "00ffff");
        let a2 = Uuid::parse_str("00000000-0000-7000-8000-0000011234ab").unwrap();
        let short = short_ids(&[a, a2]);
        assert_eq!(short[&a], "01234ab");
        assert_eq!(short[&a2], "11234ab");
    }
}

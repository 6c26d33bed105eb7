//! The evidence bundle for machines (ADR 0017): one job's record as the server holds it, with
//! what an ordering party needs to check it without trusting us. The device's signatures, its
//! public key, the stretch of its chain that runs through the job, and the photos' bytes. The
//! server writes it ([`Manifest`] plus the photo files, in one zip); [`verify`] checks it
//! offline, and `fieldtech verify` runs that check.
//!
//! What a bundle proves, and what it does not: every field event was signed by the key of the
//! device that recorded it, unchanged since; between the job's first and last events of each
//! device nothing was removed, inserted or reordered (the device's events of other jobs are
//! shown by their signed headers only, see [`crate::domain::chain::Elided`]); every photo is
//! the one its signed event names. The server's times, flags and the desk's events are the
//! server's statements: listed, not signed.

mod verify;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::Event;
use crate::domain::chain::Elided;
use crate::protocol::EventFlag;

pub use verify::{Problem, README, Verification, listed_files, pinned, received, verify};

/// The format this build writes and reads.
pub const FORMAT: &str = "fieldcore-evidence/1";
/// The manifest's name inside the bundle.
pub const MANIFEST: &str = "manifest.json";

/// A bundle's table of contents: everything but the photos' bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub job_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_number: Option<String>,
    pub generated_at: DateTime<Utc>,
    /// Every stored event of the job, in the server's order, with the server's own record of it.
    pub events: Vec<Recorded>,
    /// The job's field events the server refused: the device signed them, so they hold their
    /// places in its chain.
    #[serde(default)]
    pub refused: Vec<Refused>,
    /// One per device that recorded on the job.
    pub chains: Vec<DeviceChain>,
    pub photos: Vec<BundledPhoto>,
}

/// A stored event and what the server noted about it (not signed: the server's statements).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recorded {
    pub event: Event,
    pub server_received_at: DateTime<Utc>,
    pub corrected_at: DateTime<Utc>,
    #[serde(default)]
    pub flags: Vec<EventFlag>,
}

/// A field event the server refused, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refused {
    pub event: Event,
    pub rule: String,
    pub message: String,
    pub received_at: DateTime<Utc>,
}

/// A device's key and its chain from the event before its first on this job (or from its very
/// first event) to the event after its last on this job (where it has recorded one yet).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceChain {
    pub device_id: Uuid,
    /// Hex Ed25519 public key, as the device registered it.
    pub public_key: String,
    pub links: Vec<Link>,
}

/// One place in a device's chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Link {
    /// An event of this job, in `events` or `refused`.
    Job { event_id: Uuid },
    /// An event of another job, by its signed header only.
    Other(Box<Elided>),
}

/// A photo of the job; its bytes are the bundle's file `file`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundledPhoto {
    pub photo_id: Uuid,
    pub category: String,
    /// As the server stored it; `verify` checks the bytes against the hash the device signed.
    pub sha256: String,
    /// `None`: the photo has not reached the server yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

impl DeviceChain {
    /// The stretch of a device's chain a bundle shows for `job`. `events` are the device's
    /// events in its own order (by `device_seq`), at least from the one before its first on the
    /// job to the one after its last; `shown` says which of the job's events the bundle holds.
    /// The stretch runs from the event before the first shown to the event after the last
    /// shown, the job's events by id and the others by their signed headers. It stops before a
    /// job event the bundle does not hold that follows them all: one recorded after the job
    /// was read. Unsealed events are in no chain.
    pub fn around(
        job: Uuid,
        device_id: Uuid,
        public_key: &[u8],
        events: &[Event],
        shown: &dyn Fn(&Uuid) -> bool,
    ) -> DeviceChain {
        let sealed: Vec<&Event> = events.iter().filter(|e| e.seal.is_some()).collect();
        let of_job = |e: &&Event| e.job_id == job && shown(&e.id);
        let links = match (
            sealed.iter().position(of_job),
            sealed.iter().rposition(of_job),
        ) {
            (Some(first), Some(last)) => {
                let after = sealed.get(last + 1).filter(|e| e.job_id != job);
                sealed[first.saturating_sub(1)..=last]
                    .iter()
                    .chain(after)
                    .filter_map(|e| {
                        if e.job_id == job {
                            Some(Link::Job { event_id: e.id })
                        } else {
                            Elided::of(e).map(|e| Link::Other(Box::new(e)))
                        }
                    })
                    .collect()
            }
            _ => Vec::new(),
        };
        DeviceChain {
            device_id,
            public_key: hex::encode(public_key),
            links,
        }
    }
}

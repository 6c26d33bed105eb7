//! The evidence chain (ADR 0016): every field event a device records is signed with the
//! device's Ed25519 key over its content and the hash of the device's previous event, so the
//! device's events form one chain. Anyone holding the device's public key can check, offline,
//! that no event was altered, removed or inserted: an ordering party need not trust our server.
//!
//! What is signed is [`content`]: the event as the device recorded it (id, job, actor, both
//! clocks, sequence, the hash of its body), the previous link, and the link of the device's
//! previous event of the same job, as JSON. The second link makes each device's events of one
//! job a chain of their own (from [`job_start`]), so an evidence bundle proves that none of the
//! job's events before the last one shown was left out, however the device's chain runs
//! through other jobs. Not signed: the
//! corrected time (the server's estimate, added later) and the seal itself. The body enters by
//! its hash so that an evidence bundle can show the chain through the device's other jobs
//! ([`Elided`]) without showing what those events say.

use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Actor, Event, EventBody};

/// A field event's signature and its links to the device's previous event and to the device's
/// previous event of the same job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Seal {
    /// Hex SHA-256 of the previous event's [`content`] ([`genesis`] for the device's first).
    pub prev: String,
    /// Hex SHA-256 of the [`content`] of the device's previous event of this job
    /// ([`job_start`] for the device's first on the job).
    pub job_prev: String,
    /// Hex Ed25519 signature of this event's [`content`].
    pub sig: String,
}

/// Why an event does not continue its device's chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("the event is not signed")]
    Unsigned,
    #[error("the signature does not match the event")]
    BadSignature,
    /// Signed, but not after the event the chain was at: one was removed, inserted or reordered.
    #[error("the event does not follow the device's previous one")]
    Gap,
}

/// What is signed: the event as the device recorded it, its body by hash, and the previous link.
#[derive(Serialize)]
struct Content<'a> {
    v: u8,
    id: &'a uuid::Uuid,
    job_id: &'a uuid::Uuid,
    actor: &'a Actor,
    recorded_at: &'a chrono::DateTime<chrono::Utc>,
    monotonic_ms: &'a Option<i64>,
    device_seq: &'a Option<i64>,
    clock_offset_ms: &'a Option<i64>,
    body_sha256: &'a str,
    prev: &'a str,
    job_prev: &'a str,
}

impl<'a> Content<'a> {
    fn bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an event serialises")
    }
}

/// Hex SHA-256 of an event body as JSON: what the signature covers of it.
pub fn body_hash(body: &EventBody) -> String {
    hex::encode(Sha256::digest(
        serde_json::to_vec(body).expect("an event body serialises"),
    ))
}

/// The bytes a seal signs, and whose hash the next event links to.
pub fn content(event: &Event, prev: &str, job_prev: &str) -> Vec<u8> {
    Content {
        v: 1,
        id: &event.id,
        job_id: &event.job_id,
        actor: &event.actor,
        recorded_at: &event.recorded_at,
        monotonic_ms: &event.monotonic_ms,
        device_seq: &event.device_seq,
        clock_offset_ms: &event.clock_offset_ms,
        body_sha256: &body_hash(&event.body),
        prev,
        job_prev,
    }
    .bytes()
}

/// A sealed event without its body: its signature and its place in the chain can be checked,
/// what it says cannot be read. An evidence bundle shows the device's events of other jobs
/// this way, so the chain through them can be followed without disclosing other customers'
/// work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Elided {
    pub id: uuid::Uuid,
    pub job_id: uuid::Uuid,
    pub actor: Actor,
    pub recorded_at: chrono::DateTime<chrono::Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monotonic_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_seq: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_offset_ms: Option<i64>,
    pub body_sha256: String,
    pub seal: Seal,
}

impl Elided {
    /// The event without its body; `None` for an unsealed event (it is in no chain).
    pub fn of(event: &Event) -> Option<Elided> {
        Some(Elided {
            id: event.id,
            job_id: event.job_id,
            actor: event.actor,
            recorded_at: event.recorded_at,
            monotonic_ms: event.monotonic_ms,
            device_seq: event.device_seq,
            clock_offset_ms: event.clock_offset_ms,
            body_sha256: body_hash(&event.body),
            seal: event.seal.clone()?,
        })
    }

    /// Check it against the device's key and, where known, the link its chain is at; on
    /// success, the link the next event must point to.
    pub fn verify(
        &self,
        public_key: &[u8],
        expected_prev: Option<&str>,
    ) -> Result<String, ChainBreak> {
        let bytes = Content {
            v: 1,
            id: &self.id,
            job_id: &self.job_id,
            actor: &self.actor,
            recorded_at: &self.recorded_at,
            monotonic_ms: &self.monotonic_ms,
            device_seq: &self.device_seq,
            clock_offset_ms: &self.clock_offset_ms,
            body_sha256: &self.body_sha256,
            prev: &self.seal.prev,
            job_prev: &self.seal.job_prev,
        }
        .bytes();
        check(&bytes, &self.seal, public_key, expected_prev)
    }
}

/// The link a device's first event points to: bound to its key, so a chain cannot be moved to
/// another device.
pub fn genesis(public_key: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"fieldcore-chain-v1:");
    h.update(public_key);
    hex::encode(h.finalize())
}

/// Where a device's events of one job start: the `job_prev` of its first event on the job.
pub fn job_start(job_id: &uuid::Uuid) -> String {
    let mut h = Sha256::new();
    h.update(b"fieldcore-job-v1:");
    h.update(job_id.as_bytes());
    hex::encode(h.finalize())
}

/// The link the event after this one points to; `None` for an unsealed event.
pub fn link(event: &Event) -> Option<String> {
    let seal = event.seal.as_ref()?;
    Some(hex::encode(Sha256::digest(content(
        event,
        &seal.prev,
        &seal.job_prev,
    ))))
}

/// Check one event against the device's key and the link its chain is at (`expected_prev`);
/// on success, the link the next event must point to.
pub fn verify(event: &Event, public_key: &[u8], expected_prev: &str) -> Result<String, ChainBreak> {
    let seal = event.seal.as_ref().ok_or(ChainBreak::Unsigned)?;
    check(
        &content(event, &seal.prev, &seal.job_prev),
        seal,
        public_key,
        Some(expected_prev),
    )
}

/// The signature over `bytes`, then the link (unless the chain's position is unknown).
fn check(
    bytes: &[u8],
    seal: &Seal,
    public_key: &[u8],
    expected_prev: Option<&str>,
) -> Result<String, ChainBreak> {
    let sig = hex::decode(&seal.sig).map_err(|_| ChainBreak::BadSignature)?;
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(bytes, &sig)
        .map_err(|_| ChainBreak::BadSignature)?;
    if expected_prev.is_some_and(|p| p != seal.prev) {
        return Err(ChainBreak::Gap);
    }
    Ok(hex::encode(Sha256::digest(bytes)))
}

/// A device's signing key. On a phone its PKCS#8 bytes live in the device store; the platform
/// keystore (Android Keystore, iOS Keychain) is the hardening step (ADR 0016).
pub struct DeviceKey {
    pair: Ed25519KeyPair,
    pkcs8: Vec<u8>,
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceKey")
            .field("public", &hex::encode(self.public_key()))
            .finish_non_exhaustive()
    }
}

impl DeviceKey {
    /// A new random key.
    pub fn generate() -> Result<DeviceKey, ChainKeyError> {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| ChainKeyError)?;
        DeviceKey::from_pkcs8(pkcs8.as_ref())
    }

    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<DeviceKey, ChainKeyError> {
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|_| ChainKeyError)?;
        Ok(DeviceKey {
            pair,
            pkcs8: pkcs8.to_vec(),
        })
    }

    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    pub fn public_key(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    /// Seal `event` after the link `prev` and, on its job, after `job_prev`; returns the link
    /// the next event (of any job, and of this job) points to.
    pub fn seal(&self, event: &mut Event, prev: &str, job_prev: &str) -> String {
        let bytes = content(event, prev, job_prev);
        event.seal = Some(Seal {
            prev: prev.to_string(),
            job_prev: job_prev.to_string(),
            sig: hex::encode(self.pair.sign(&bytes).as_ref()),
        });
        hex::encode(Sha256::digest(&bytes))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the device's signing key could not be made or read")]
pub struct ChainKeyError;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CallOutcome, EventBody};
    use crate::fixtures::{t0, tech_event};

    fn chain(key: &DeviceKey, n: usize) -> Vec<Event> {
        let (job, tech) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        let mut prev = genesis(key.public_key());
        let mut job_prev = job_start(&job);
        (0..n)
            .map(|i| {
                let mut e = tech_event(
                    job,
                    tech,
                    t0(),
                    EventBody::CustomerCallLogged {
                        outcome: CallOutcome::Reached,
                        note: format!("call {i}"),
                    },
                );
                e.device_seq = Some(i as i64 + 1);
                prev = key.seal(&mut e, &prev, &job_prev);
                job_prev = prev.clone();
                e
            })
            .collect()
    }

    fn check(key: &DeviceKey, events: &[Event]) -> Result<(), ChainBreak> {
        let mut at = genesis(key.public_key());
        for e in events {
            at = verify(e, key.public_key(), &at)?;
        }
        Ok(())
    }

    #[test]
    fn an_untouched_chain_verifies_and_survives_a_round_trip_through_json() {
        let key = DeviceKey::generate().unwrap();
        let events = chain(&key, 5);
        assert_eq!(check(&key, &events), Ok(()));
        let again: Vec<Event> =
            serde_json::from_str(&serde_json::to_string(&events).unwrap()).unwrap();
        assert_eq!(check(&key, &again), Ok(()));
        let reopened = DeviceKey::from_pkcs8(key.pkcs8()).unwrap();
        assert_eq!(reopened.public_key(), key.public_key());
    }

    #[test]
    fn a_phone_s_gps_coordinates_read_back_verify() {
        // Coordinates as phones report them, with 17 significant digits: read back from JSON
        // (the store, the push, the server's copy) they must be the numbers that were signed.
        let key = DeviceKey::generate().unwrap();
        let mut e = tech_event(
            uuid::Uuid::now_v7(),
            uuid::Uuid::now_v7(),
            t0(),
            EventBody::CheckedIn {
                location: Some(crate::domain::GeoPoint {
                    lat: 31.230416000000005,
                    lon: 117.63331139400017,
                    accuracy_m: Some(4.900000095367432),
                }),
            },
        );
        let start = genesis(key.public_key());
        let job_prev = job_start(&e.job_id);
        key.seal(&mut e, &start, &job_prev);
        let mut json = serde_json::to_string(&e).unwrap();
        for _ in 0..3 {
            let back: Event = serde_json::from_str(&json).unwrap();
            assert!(verify(&back, key.public_key(), &start).is_ok(), "{json}");
            json = serde_json::to_string(&back).unwrap();
        }
    }

    #[test]
    fn a_changed_event_a_removed_one_and_another_device_s_key_are_caught() {
        let key = DeviceKey::generate().unwrap();
        let events = chain(&key, 4);

        let mut edited = events.clone();
        edited[1].body = EventBody::CustomerCallLogged {
            outcome: CallOutcome::Reached,
            note: "call 9".into(),
        };
        assert_eq!(check(&key, &edited), Err(ChainBreak::BadSignature));

        let mut moved = events.clone();
        moved[2].recorded_at += chrono::Duration::seconds(1);
        assert_eq!(check(&key, &moved), Err(ChainBreak::BadSignature));

        let mut removed = events.clone();
        removed.remove(1);
        assert_eq!(check(&key, &removed), Err(ChainBreak::Gap));

        let mut unsigned = events.clone();
        unsigned[3].seal = None;
        assert_eq!(check(&key, &unsigned), Err(ChainBreak::Unsigned));

        let other = DeviceKey::generate().unwrap();
        assert_eq!(
            verify(&events[0], other.public_key(), &genesis(key.public_key())),
            Err(ChainBreak::BadSignature)
        );
        // Without its body an event still shows its signature and its link, and the same
        // link as in full; a changed header is still caught.
        let elided = Elided::of(&events[1]).unwrap();
        let after_first = link(&events[0]).unwrap();
        assert_eq!(
            elided.verify(key.public_key(), Some(&after_first)),
            Ok(link(&events[1]).unwrap())
        );
        assert_eq!(
            elided.verify(key.public_key(), None),
            Ok(link(&events[1]).unwrap())
        );
        let mut other_job = elided.clone();
        other_job.job_id = uuid::Uuid::now_v7();
        assert_eq!(
            other_job.verify(key.public_key(), None),
            Err(ChainBreak::BadSignature)
        );
        let mut other_body = elided.clone();
        other_body.body_sha256 = "0".repeat(64);
        assert_eq!(
            other_body.verify(key.public_key(), None),
            Err(ChainBreak::BadSignature)
        );

        // The server's corrected time is not part of what the device signed.
        let mut corrected = events.clone();
        corrected[0].corrected_at = Some(t0() + chrono::Duration::minutes(3));
        assert_eq!(check(&key, &corrected), Ok(()));
    }
}

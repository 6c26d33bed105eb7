//! Checking a bundle offline: every signature, every link, every photo's bytes.

use std::collections::{HashMap, HashSet};

use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{FORMAT, Link, Manifest};
use crate::domain::chain::{self, ChainBreak};
use crate::domain::{Actor, Event, EventBody};

/// Why a bundle does not prove what it claims. Each names what to look at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("not a bundle this program reads (format {0:?}, expected {FORMAT:?})")]
    Format(String),
    #[error("event {event} belongs to another job")]
    OtherJob { event: Uuid },
    #[error("device {device}: its public key is not 32 bytes of hex")]
    BadKey { device: Uuid },
    #[error("device {device}: its public key is not the one you pinned for it")]
    KeyMismatch { device: Uuid },
    #[error("device {device} has more than one chain in the bundle")]
    DeviceTwice { device: Uuid },
    #[error("event {event} is in the bundle more than once")]
    Duplicate { event: Uuid },
    #[error("event {event}: not signed by its device")]
    Unsigned { event: Uuid },
    #[error("event {event}: the signature does not match it (the event was altered)")]
    BadSignature { event: Uuid },
    #[error(
        "event {event}: does not follow the one before it in device {device}'s chain \
         (an event was removed, inserted or reordered)"
    )]
    Gap { event: Uuid, device: Uuid },
    #[error("device {device}: the chain shown starts at this job's event {event}, not before it")]
    OpenStart { event: Uuid, device: Uuid },
    #[error("event {event} of this job is in the chain without its body")]
    Hidden { event: Uuid },
    #[error("event {event} was recorded by another device than the chain it is in")]
    WrongDevice { event: Uuid },
    #[error("event {event} is in its device's chain more than once")]
    Repeated { event: Uuid },
    #[error("the chain names event {event}, which the bundle does not hold")]
    Missing { event: Uuid },
    #[error("event {event} from a device is not in its device's chain")]
    NotInChain { event: Uuid },
    #[error("photo {photo}: its file is not in the bundle")]
    PhotoMissing { photo: Uuid },
    #[error("photo {photo}: its bytes are not the ones its event signed (the photo was altered)")]
    PhotoAltered { photo: Uuid },
    #[error("photo {photo}: no signed event of the job names it")]
    PhotoUnvouched { photo: Uuid },
}

/// What [`verify`] found: counts of what it checked, and every problem.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    /// Field events whose signature and place in the chain were checked.
    pub signed_events: usize,
    /// The desk's events: the server's statements, not signed by a device.
    pub desk_events: usize,
    /// Photos whose bytes match their signed hash.
    pub photos: usize,
    pub devices: usize,
    /// Devices that have recorded nothing after their last event on this job yet: their chain
    /// cannot show that nothing of the job followed it.
    pub open_ends: Vec<Uuid>,
    pub problems: Vec<Problem>,
}

impl Verification {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Check `manifest` and the photo files it names (`file` reads one from the bundle).
pub fn verify(manifest: &Manifest, file: &dyn Fn(&str) -> Option<Vec<u8>>) -> Verification {
    let mut out = Verification::default();
    if manifest.format != FORMAT {
        out.problems.push(Problem::Format(manifest.format.clone()));
        return out;
    }
    let job = manifest.job_id;
    let mut held: HashMap<Uuid, &Event> = HashMap::new();
    for e in manifest
        .events
        .iter()
        .map(|r| &r.event)
        .chain(manifest.refused.iter().map(|r| &r.event))
    {
        // Two copies of one event: only one could be checked, the other would be believed.
        if held.insert(e.id, e).is_some() {
            out.problems.push(Problem::Duplicate { event: e.id });
        }
    }
    // In the manifest's order, as every problem below: the same bundle, the same report.
    for e in manifest
        .events
        .iter()
        .map(|r| &r.event)
        .chain(manifest.refused.iter().map(|r| &r.event))
        .filter(|e| e.job_id != job)
    {
        out.problems.push(Problem::OtherJob { event: e.id });
    }

    let mut in_chain = HashSet::new();
    let mut devices = HashSet::new();
    for c in &manifest.chains {
        out.devices += 1;
        // A second chain for a device could carry events signed with another key.
        if !devices.insert(c.device_id) {
            out.problems.push(Problem::DeviceTwice {
                device: c.device_id,
            });
            continue;
        }
        let key = match hex::decode(&c.public_key) {
            Ok(k) if k.len() == 32 => k,
            _ => {
                out.problems.push(Problem::BadKey {
                    device: c.device_id,
                });
                continue;
            }
        };
        walk(
            c.device_id,
            &key,
            &c.links,
            job,
            &held,
            &mut in_chain,
            &mut out,
        );
        if matches!(c.links.last(), Some(Link::Job { .. })) {
            out.open_ends.push(c.device_id);
        }
    }
    for e in manifest
        .events
        .iter()
        .map(|r| &r.event)
        .chain(manifest.refused.iter().map(|r| &r.event))
    {
        match e.actor {
            Actor::Dispatcher { .. } => out.desk_events += 1,
            Actor::Technician { .. } if !in_chain.contains(&e.id) => {
                out.problems.push(Problem::NotInChain { event: e.id })
            }
            Actor::Technician { .. } => {}
        }
    }
    photos(manifest, file, &mut out);
    out
}

/// The bundle's device keys against keys the checker already holds for those devices (from an
/// earlier bundle, or the webhook deliveries it received as the work happened): a bundle's
/// keys are otherwise the server's word, and a server could re-sign a whole chain with a key
/// of its own.
pub fn pinned(manifest: &Manifest, pins: &HashMap<Uuid, String>) -> Vec<Problem> {
    manifest
        .chains
        .iter()
        .filter(|c| {
            pins.get(&c.device_id)
                .is_some_and(|k| !k.eq_ignore_ascii_case(&c.public_key))
        })
        .map(|c| Problem::KeyMismatch {
            device: c.device_id,
        })
        .collect()
}

/// Follow one device's chain link by link.
fn walk(
    device: Uuid,
    key: &[u8],
    links: &[Link],
    job: Uuid,
    held: &HashMap<Uuid, &Event>,
    in_chain: &mut HashSet<Uuid>,
    out: &mut Verification,
) {
    let genesis = chain::genesis(key);
    // The link the next event must name; `None` at the start and after an altered event
    // (the link it really left is unknown).
    let mut at: Option<String> = None;
    for (i, link) in links.iter().enumerate() {
        let (id, checked) = match link {
            Link::Job { event_id } => {
                let id = *event_id;
                let Some(event) = held.get(&id) else {
                    out.problems.push(Problem::Missing { event: id });
                    at = None;
                    continue;
                };
                if !matches!(event.actor, Actor::Technician { device_id, .. } if device_id == device)
                {
                    out.problems.push(Problem::WrongDevice { event: id });
                }
                if !in_chain.insert(id) {
                    out.problems.push(Problem::Repeated { event: id });
                }
                let Some(seal) = &event.seal else {
                    out.problems.push(Problem::Unsigned { event: id });
                    at = None;
                    continue;
                };
                if i == 0 && seal.prev != genesis {
                    out.problems.push(Problem::OpenStart { event: id, device });
                }
                let expected = at.clone().unwrap_or_else(|| seal.prev.clone());
                let checked = chain::verify(event, key, &expected);
                if checked.is_ok() {
                    out.signed_events += 1;
                }
                (id, checked)
            }
            Link::Other(elided) => {
                if elided.job_id == job {
                    out.problems.push(Problem::Hidden { event: elided.id });
                }
                if !matches!(elided.actor, Actor::Technician { device_id, .. } if device_id == device)
                {
                    out.problems.push(Problem::WrongDevice { event: elided.id });
                }
                (elided.id, elided.verify(key, at.as_deref()))
            }
        };
        at = match checked {
            Ok(next) => Some(next),
            Err(ChainBreak::BadSignature) => {
                out.problems.push(Problem::BadSignature { event: id });
                None
            }
            Err(ChainBreak::Gap) => {
                out.problems.push(Problem::Gap { event: id, device });
                held.get(&id)
                    .and_then(|e| chain::link(e))
                    .or_else(|| match link {
                        Link::Other(e) => e.verify(key, None).ok(),
                        Link::Job { .. } => None,
                    })
            }
            Err(ChainBreak::Unsigned) => {
                out.problems.push(Problem::Unsigned { event: id });
                None
            }
        };
    }
}

/// Every photo a signed event names is in the bundle with those bytes, and every photo in
/// the bundle is named by one.
fn photos(manifest: &Manifest, file: &dyn Fn(&str) -> Option<Vec<u8>>, out: &mut Verification) {
    let signed: Vec<(Uuid, &str)> = manifest
        .events
        .iter()
        .filter_map(|r| match &r.event.body {
            EventBody::PhotoCaptured { photo } if r.event.seal.is_some() => {
                Some((photo.photo_id, photo.sha256.as_str()))
            }
            _ => None,
        })
        .collect();
    let named: HashSet<Uuid> = signed.iter().map(|s| s.0).collect();
    let bundled: HashMap<Uuid, &super::BundledPhoto> =
        manifest.photos.iter().map(|p| (p.photo_id, p)).collect();
    for &(photo, sha256) in &signed {
        let bytes = bundled
            .get(&photo)
            .and_then(|p| p.file.as_deref())
            .and_then(file);
        match bytes {
            None => out.problems.push(Problem::PhotoMissing { photo }),
            Some(b) if hex::encode(Sha256::digest(&b)) != sha256 => {
                out.problems.push(Problem::PhotoAltered { photo })
            }
            Some(_) => out.photos += 1,
        }
    }
    for p in &manifest.photos {
        if !named.contains(&p.photo_id) {
            out.problems
                .push(Problem::PhotoUnvouched { photo: p.photo_id });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::chain::DeviceKey;
    use crate::domain::{CallOutcome, PhotoCategory, PhotoRef};
    use crate::evidence::{BundledPhoto, DeviceChain, Recorded};
    use crate::fixtures::t0;

    const PHOTO: &[u8] = b"\xff\xd8\xff\xe0 the pickup photo's bytes";

    /// A device's chain through three jobs, the middle one `job` with a photo; the bundle for
    /// `job` and its photo file.
    fn bundle() -> (Manifest, Vec<u8>) {
        let key = DeviceKey::generate().unwrap();
        let (device, tech) = (Uuid::now_v7(), Uuid::now_v7());
        let (before, job, after) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let photo_id = Uuid::now_v7();
        let call = |n: &str| EventBody::CustomerCallLogged {
            outcome: CallOutcome::Reached,
            note: n.into(),
        };
        let bodies = [
            (before, call("before")),
            (job, EventBody::JobAccepted),
            (before, call("between")),
            (
                job,
                EventBody::PhotoCaptured {
                    photo: PhotoRef {
                        photo_id,
                        category: PhotoCategory::Pickup,
                        sha256: hex::encode(Sha256::digest(PHOTO)),
                        location: None,
                    },
                },
            ),
            (job, call("done")),
            (after, call("after")),
            (after, call("later")),
        ];
        let mut prev = chain::genesis(key.public_key());
        let events: Vec<Event> = bodies
            .into_iter()
            .enumerate()
            .map(|(i, (job_id, body))| {
                let mut e = crate::fixtures::tech_event(job_id, tech, t0(), body);
                e.actor = Actor::Technician {
                    technician_id: tech,
                    device_id: device,
                };
                e.device_seq = Some(i as i64 + 1);
                prev = key.seal(&mut e, &prev);
                e
            })
            .collect();
        let manifest = Manifest {
            format: FORMAT.into(),
            job_id: job,
            job_number: Some("1001".into()),
            generated_at: t0(),
            events: events
                .iter()
                .filter(|e| e.job_id == job)
                .map(|e| Recorded {
                    event: e.clone(),
                    server_received_at: t0(),
                    corrected_at: t0(),
                    flags: vec![],
                })
                .collect(),
            refused: vec![],
            chains: vec![DeviceChain::around(job, device, key.public_key(), &events)],
            photos: vec![BundledPhoto {
                photo_id,
                category: "pickup".into(),
                sha256: hex::encode(Sha256::digest(PHOTO)),
                file: Some(format!("photos/{photo_id}.jpg")),
            }],
        };
        (manifest, PHOTO.to_vec())
    }

    fn check(m: &Manifest, photo: &[u8]) -> Verification {
        verify(m, &|_| Some(photo.to_vec()))
    }

    #[test]
    fn an_untouched_bundle_verifies_and_shows_the_chain_only_around_the_job() {
        let (m, photo) = bundle();
        let v = check(&m, &photo);
        assert_eq!(v.problems, vec![]);
        assert!(v.is_ok());
        assert_eq!((v.signed_events, v.photos, v.devices), (3, 1, 1));
        assert!(v.open_ends.is_empty());
        // From the event before the job's first to the one after its last: not "later".
        let kinds: Vec<bool> = m.chains[0]
            .links
            .iter()
            .map(|l| matches!(l, Link::Job { .. }))
            .collect();
        assert_eq!(kinds, vec![false, true, false, true, true, false]);
    }

    #[test]
    fn one_changed_byte_of_a_photo_an_event_or_a_link_is_refused() {
        let (m, photo) = bundle();
        let mut bad_photo = photo.clone();
        bad_photo[5] ^= 1;
        assert!(matches!(
            check(&m, &bad_photo).problems[..],
            [Problem::PhotoAltered { .. }]
        ));

        let mut event = m.clone();
        event.events[2].event.body = EventBody::CustomerCallLogged {
            outcome: CallOutcome::Reached,
            note: "donE".into(),
        };
        assert!(matches!(
            check(&event, &photo).problems[..],
            [Problem::BadSignature { .. }]
        ));

        // An event of another job, in the middle of the job's stretch, taken out.
        let mut removed = m.clone();
        removed.chains[0].links.remove(2);
        assert!(matches!(
            check(&removed, &photo).problems[..],
            [Problem::Gap { .. }]
        ));

        // One hex digit of a link changed.
        let mut link = m.clone();
        let Link::Other(e) = &mut link.chains[0].links[2] else {
            panic!("the third link is another job's")
        };
        e.seal.prev.replace_range(
            0..1,
            if e.seal.prev.starts_with('0') {
                "1"
            } else {
                "0"
            },
        );
        assert!(matches!(
            check(&link, &photo).problems[..],
            [Problem::BadSignature { .. }]
        ));
    }

    #[test]
    fn hiding_an_event_of_the_job_or_the_chain_s_ends_is_seen() {
        let (m, photo) = bundle();
        // Shown without its body, as if it were another job's.
        let mut hidden = m.clone();
        let done = hidden.events.remove(2).event;
        hidden.chains[0].links[4] = Link::Other(chain::Elided::of(&done).unwrap());
        assert!(matches!(
            check(&hidden, &photo).problems[..],
            [Problem::Hidden { .. }]
        ));

        // Left out of the chain, or the chain cut before the job's first event.
        let mut unchained = m.clone();
        unchained.chains[0].links.remove(4);
        assert!(
            check(&unchained, &photo)
                .problems
                .contains(&Problem::NotInChain {
                    event: m.events[2].event.id
                })
        );
        let mut cut = m.clone();
        cut.chains[0].links.remove(0);
        assert!(matches!(
            check(&cut, &photo).problems[..],
            [Problem::OpenStart { .. }]
        ));

        // Still open at the end: said, not a failure.
        let mut open = m.clone();
        open.chains[0].links.pop();
        let v = check(&open, &photo);
        assert!(v.is_ok());
        assert_eq!(v.open_ends, vec![m.chains[0].device_id]);
    }

    /// One change anyone could make to a bundle on its way to the ordering party.
    #[derive(Debug, Clone)]
    enum Tamper {
        /// A bit of the photo.
        PhotoBit(usize, u8),
        /// An event's recorded time, by some milliseconds.
        EventTime(usize, i64),
        /// An event's sequence number.
        EventSeq(usize, i64),
        LinkRemoved(usize),
        LinksSwapped(usize, usize),
        LinkRepeated(usize),
        /// One hex digit of a link's signature or of the link it names.
        SealDigit {
            link: usize,
            sig: bool,
            at: usize,
        },
        /// An event of the job dropped from the events, its link kept.
        EventDropped(usize),
    }

    fn tamper() -> impl proptest::strategy::Strategy<Value = Tamper> {
        use proptest::prelude::*;
        prop_oneof![
            (any::<usize>(), 0u8..8).prop_map(|(i, b)| Tamper::PhotoBit(i, b)),
            (
                any::<usize>(),
                prop_oneof![-86_400_000i64..-1, 1i64..86_400_000]
            )
                .prop_map(|(i, d)| Tamper::EventTime(i, d)),
            (any::<usize>(), prop_oneof![-5i64..0, 1i64..5])
                .prop_map(|(i, d)| Tamper::EventSeq(i, d)),
            any::<usize>().prop_map(Tamper::LinkRemoved),
            (any::<usize>(), any::<usize>()).prop_map(|(i, j)| Tamper::LinksSwapped(i, j)),
            any::<usize>().prop_map(Tamper::LinkRepeated),
            (any::<usize>(), any::<bool>(), 0usize..64)
                .prop_map(|(link, sig, at)| Tamper::SealDigit { link, sig, at }),
            any::<usize>().prop_map(Tamper::EventDropped),
        ]
    }

    /// Apply `t`; `false` if it changed nothing (two equal links swapped).
    fn apply(t: &Tamper, m: &mut Manifest, photo: &mut [u8]) -> bool {
        let links = &mut m.chains[0].links;
        let n = links.len();
        let events = &mut m.events;
        let k = events.len();
        match *t {
            Tamper::PhotoBit(i, b) => photo[i % photo.len()] ^= 1 << b,
            Tamper::EventTime(i, d) => {
                events[i % k].event.recorded_at += chrono::Duration::milliseconds(d)
            }
            Tamper::EventSeq(i, d) => {
                let e = &mut events[i % k].event;
                e.device_seq = e.device_seq.map(|s| s + d);
            }
            Tamper::LinkRemoved(i) => {
                links.remove(i % n);
            }
            Tamper::LinksSwapped(i, j) => {
                if i % n == j % n {
                    return false;
                }
                links.swap(i % n, j % n);
            }
            Tamper::LinkRepeated(i) => {
                let l = links[i % n].clone();
                links.insert(i % n, l);
            }
            Tamper::SealDigit { link, sig, at } => {
                let seal = match &mut links[link % n] {
                    Link::Other(e) => &mut e.seal,
                    Link::Job { event_id } => {
                        let id = *event_id;
                        let e = events.iter_mut().find(|r| r.event.id == id).unwrap();
                        e.event.seal.as_mut().unwrap()
                    }
                };
                let hex = if sig { &mut seal.sig } else { &mut seal.prev };
                let at = at % hex.len();
                let was = hex.as_bytes()[at];
                let now = if was == b'0' { "1" } else { "0" };
                hex.replace_range(at..at + 1, now);
            }
            Tamper::EventDropped(i) => {
                events.remove(i % k);
            }
        }
        true
    }

    proptest::proptest! {
        /// Whatever one change is made to a bundle, `verify` refuses it, or (the chain's last
        /// link cut off) says the chain is open at its end, which the untouched bundle is not:
        /// the ordering party's promise, tried on every kind of change and place.
        #[test]
        fn any_one_change_to_a_bundle_is_refused_or_shows(t in tamper()) {
            let (mut m, mut photo) = bundle();
            if apply(&t, &mut m, &mut photo) {
                let v = check(&m, &photo);
                proptest::prop_assert!(
                    !v.is_ok() || !v.open_ends.is_empty(),
                    "{t:?} went unnoticed"
                );
            }
        }
    }

    #[test]
    fn a_second_copy_of_an_event_a_second_chain_and_another_key_are_refused() {
        let (m, photo) = bundle();
        let mut copy = m.clone();
        let mut second = copy.events[2].clone();
        if let EventBody::CustomerCallLogged { note, .. } = &mut second.event.body {
            *note = "not what was said".into();
        }
        copy.events.push(second);
        assert!(check(&copy, &photo).problems.contains(&Problem::Duplicate {
            event: m.events[2].event.id
        }));

        // A chain of the same device signed with another key, holding a made-up event.
        let mut forged = m.clone();
        let key = DeviceKey::generate().unwrap();
        let mut e = m.events[2].event.clone();
        e.id = Uuid::now_v7();
        key.seal(&mut e, &chain::genesis(key.public_key()));
        forged.chains.push(DeviceChain {
            device_id: m.chains[0].device_id,
            public_key: hex::encode(key.public_key()),
            links: vec![Link::Job { event_id: e.id }],
        });
        forged.events.push(Recorded {
            event: e,
            server_received_at: t0(),
            corrected_at: t0(),
            flags: vec![],
        });
        assert!(
            check(&forged, &photo)
                .problems
                .contains(&Problem::DeviceTwice {
                    device: m.chains[0].device_id
                })
        );

        // The whole chain re-signed with another key verifies on its own: only a key the
        // checker pinned before tells.
        let device = m.chains[0].device_id;
        let mut pins = HashMap::new();
        pins.insert(device, m.chains[0].public_key.to_uppercase());
        assert_eq!(pinned(&m, &pins), vec![]);
        pins.insert(device, hex::encode(key.public_key()));
        assert_eq!(pinned(&m, &pins), vec![Problem::KeyMismatch { device }]);
    }

    #[test]
    fn a_missing_or_an_extra_photo_and_an_unknown_format_are_refused() {
        let (m, photo) = bundle();
        assert!(matches!(
            verify(&m, &|_| None).problems[..],
            [Problem::PhotoMissing { .. }]
        ));
        let mut extra = m.clone();
        extra.photos.push(BundledPhoto {
            photo_id: Uuid::now_v7(),
            category: "completion".into(),
            sha256: "0".repeat(64),
            file: Some("photos/x.jpg".into()),
        });
        assert!(matches!(
            check(&extra, &photo).problems[..],
            [Problem::PhotoUnvouched { .. }]
        ));
        let mut format = m;
        format.format = "fieldcore-evidence/9".into();
        assert!(matches!(
            check(&format, &photo).problems[..],
            [Problem::Format(_)]
        ));
    }
}

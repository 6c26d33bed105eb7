//! Checking a bundle offline: every signature, every link, every photo's bytes.

use std::collections::{BTreeSet, HashMap, HashSet};

use uuid::Uuid;

use super::{FORMAT, Link, Manifest};
use crate::domain::chain::{self, ChainBreak};
use crate::domain::{Actor, Event, EventBody};

/// Why a bundle does not prove what it claims. Each names what to look at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("not a bundle this program reads (format {0:?}, expected {FORMAT:?})")]
    Format(String),
    #[error("the bundle is job {found}'s, not job {expected}'s")]
    NotTheJob { expected: Uuid, found: Uuid },
    #[error("event {event} belongs to another job")]
    OtherJob { event: Uuid },
    #[error("device {device}: its public key is not 32 bytes of hex")]
    BadKey { device: Uuid },
    #[error("device {device}: its public key is not the one you pinned for it")]
    KeyMismatch { device: Uuid },
    #[error("device {device}: you pinned keys, and not this device's")]
    KeyNotPinned { device: Uuid },
    #[error("device {device} has more than one chain in the bundle")]
    DeviceTwice { device: Uuid },
    #[error("event {event} is in the bundle more than once")]
    Duplicate { event: Uuid },
    #[error("event {event}: a technician's action stated as the desk's (not signed by a device)")]
    DeskFieldEvent { event: Uuid },
    #[error("event {event}: not signed by its device")]
    Unsigned { event: Uuid },
    #[error("event {event}: the signature does not match it (the event was altered)")]
    BadSignature { event: Uuid },
    #[error(
        "event {event}: does not follow the one before it in device {device}'s chain \
         (an event was removed, inserted or reordered)"
    )]
    Gap { event: Uuid, device: Uuid },
    #[error(
        "event {event}: device {device} recorded events of this job before it, and they are \
         not in the bundle"
    )]
    JobStart { event: Uuid, device: Uuid },
    #[error(
        "event {event}: does not follow device {device}'s previous event of this job (one was \
         removed, inserted or reordered)"
    )]
    JobGap { event: Uuid, device: Uuid },
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
    #[error("photo {photo}: no verified event of the job names it")]
    PhotoUnvouched { photo: Uuid },
    #[error("photo {photo} is listed more than once")]
    PhotoTwice { photo: Uuid },
    #[error("photo {photo}: its listed category or hash is not what its event signed")]
    PhotoMislabelled { photo: Uuid },
    #[error("the bundle holds a file it does not list: {name}")]
    Unexpected { name: String },
    #[error("event {event}, which you received as it happened, is not verified in the bundle")]
    NotReceived { event: Uuid },
}

/// What [`verify`] found: counts of what it checked, and every problem.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    /// Field events whose signature and places in their device's chains were checked.
    pub signed_events: usize,
    /// Of those, the ones the server says it refused (kept in the record all the same).
    pub refused_events: usize,
    /// The desk's events: the server's statements, not signed by a device.
    pub desk_events: usize,
    /// Photos whose bytes match their signed hash.
    pub photos: usize,
    pub devices: usize,
    /// Per device, its last event of the job in the bundle: every event of the job the device
    /// recorded up to that one is here, none altered or left out. A chain cannot rule out
    /// events recorded after it; what the job shows then says how far the evidence reaches.
    /// Empty when the bundle has any problem: it then proves nothing of the kind.
    pub shown_through: Vec<(Uuid, Uuid)>,
    /// Photos named by events the server says it refused: not required in the bundle (a refused
    /// photo is never taken in), so listed, as the server's word that they were refused.
    pub refused_photos: Vec<Uuid>,
    /// The events whose signature and places in their chains hold, and the desk's events.
    pub verified: BTreeSet<Uuid>,
    pub problems: Vec<Problem>,
}

impl Verification {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// More problems, found beside [`verify`] (pinned keys, events received): with any, the
    /// bundle proves nothing of how far its evidence reaches.
    pub fn add(&mut self, more: impl IntoIterator<Item = Problem>) {
        self.problems.extend(more);
        if !self.problems.is_empty() {
            self.shown_through.clear();
        }
    }
}

/// The files a bundle may hold besides those its manifest lists.
pub const README: &str = "README.txt";

/// Every file name the manifest accounts for: itself, the README and the photos.
pub fn listed_files(manifest: &Manifest) -> HashSet<String> {
    manifest
        .photos
        .iter()
        .filter_map(|p| p.file.clone())
        .chain([super::MANIFEST.to_string(), README.to_string()])
        .collect()
}

/// Check `manifest` and the photo files it names: `sha256` gives a file's hex SHA-256, or
/// `None` if the bundle has no such file. Each file is hashed once, however many entries name
/// it.
pub fn verify(manifest: &Manifest, sha256: &dyn Fn(&str) -> Option<String>) -> Verification {
    let mut out = Verification::default();
    if manifest.format != FORMAT {
        out.problems.push(Problem::Format(manifest.format.clone()));
        return out;
    }
    let job = manifest.job_id;
    let all = || {
        manifest
            .events
            .iter()
            .map(|r| &r.event)
            .chain(manifest.refused.iter().map(|r| &r.event))
    };
    // In the manifest's order, as every problem below: the same bundle, the same report.
    let mut held: HashMap<Uuid, &Event> = HashMap::new();
    for e in all() {
        // Two copies of one event: only one could be checked, the other would be believed.
        if held.insert(e.id, e).is_some() {
            out.problems.push(Problem::Duplicate { event: e.id });
        }
        if e.job_id != job {
            out.problems.push(Problem::OtherJob { event: e.id });
        }
    }

    let mut verified = HashSet::new();
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
        let mut walk = Walk {
            device: c.device_id,
            key: &key,
            job,
            held: &held,
            in_chain: &mut in_chain,
            verified: &mut verified,
            out: &mut out,
        };
        walk.links(&c.links);
    }
    for e in all() {
        match e.actor {
            // Only the technician's device writes the field record (appointments are booked
            // by either side): such an event from "the desk" is the server's word for it.
            Actor::Dispatcher { .. }
                if e.body.kind().is_field()
                    && e.body.kind() != crate::domain::ActionKind::AppointmentBooked =>
            {
                out.problems.push(Problem::DeskFieldEvent { event: e.id })
            }
            Actor::Dispatcher { .. } => out.desk_events += 1,
            Actor::Technician { .. } if !in_chain.contains(&e.id) => {
                out.problems.push(Problem::NotInChain { event: e.id })
            }
            Actor::Technician { .. } => {}
        }
    }
    out.refused_events = manifest
        .refused
        .iter()
        .filter(|r| verified.contains(&r.event.id))
        .count();
    out.refused_photos = manifest
        .refused
        .iter()
        .filter_map(|r| match &r.event.body {
            EventBody::PhotoCaptured { photo } => Some(photo.photo_id),
            _ => None,
        })
        .collect();
    photos(manifest, &verified, sha256, &mut out);
    out.add([]);
    out.verified = verified.into_iter().collect();
    out.verified
        .extend(all().filter(|e| is_desk(e)).map(|e| e.id));
    out
}

fn is_desk(e: &Event) -> bool {
    matches!(e.actor, Actor::Dispatcher { .. })
}

/// The events the checker received as the work happened (a webhook delivery carries each
/// event's id) against the bundle: a device's whole chain, or any event, left out of a bundle
/// is otherwise invisible in it.
pub fn received(v: &Verification, events: &[Uuid]) -> Vec<Problem> {
    events
        .iter()
        .filter(|e| !v.verified.contains(e))
        .map(|&event| Problem::NotReceived { event })
        .collect()
}

/// The bundle's device keys against keys the checker already holds (from the webhook
/// deliveries it received as the work happened, or an earlier bundle): a bundle's keys are
/// otherwise the server's word, and a server could re-sign a whole chain with a key of its
/// own, under the same device id or a new one. With any key pinned, every device must be.
pub fn pinned(manifest: &Manifest, pins: &HashMap<Uuid, String>) -> Vec<Problem> {
    if pins.is_empty() {
        return Vec::new();
    }
    manifest
        .chains
        .iter()
        .filter_map(|c| match pins.get(&c.device_id) {
            None => Some(Problem::KeyNotPinned {
                device: c.device_id,
            }),
            Some(k) if !k.eq_ignore_ascii_case(&c.public_key) => Some(Problem::KeyMismatch {
                device: c.device_id,
            }),
            Some(_) => None,
        })
        .collect()
}

/// One device's chain, followed link by link.
struct Walk<'a> {
    device: Uuid,
    key: &'a [u8],
    job: Uuid,
    held: &'a HashMap<Uuid, &'a Event>,
    in_chain: &'a mut HashSet<Uuid>,
    verified: &'a mut HashSet<Uuid>,
    out: &'a mut Verification,
}

impl Walk<'_> {
    fn links(&mut self, links: &[Link]) {
        let device = self.device;
        // The link the next event must name; `None` at the start and after an altered event
        // (the link it really left is unknown).
        let mut at: Option<String> = None;
        // The link the device's next event of this job must name as its `job_prev`.
        let mut job_at = chain::job_start(&self.job);
        let mut last_of_job = None;
        for link in links {
            let (id, checked) = match link {
                Link::Job { event_id } => {
                    let id = *event_id;
                    let Some(event) = self.held.get(&id).copied() else {
                        self.out.problems.push(Problem::Missing { event: id });
                        at = None;
                        continue;
                    };
                    if !self.in_chain.insert(id) {
                        // Checked once already: a repeat only says the chain is not as shown.
                        self.out.problems.push(Problem::Repeated { event: id });
                        at = None;
                        continue;
                    }
                    if !matches!(event.actor, Actor::Technician { device_id, .. } if device_id == device)
                    {
                        self.out.problems.push(Problem::WrongDevice { event: id });
                    }
                    let Some(seal) = &event.seal else {
                        self.out.problems.push(Problem::Unsigned { event: id });
                        at = None;
                        continue;
                    };
                    let expected = at.clone().unwrap_or_else(|| seal.prev.clone());
                    let checked = chain::verify(event, self.key, &expected);
                    if !matches!(checked, Err(ChainBreak::BadSignature)) {
                        // Signed by the device: its place among the job's events holds or not.
                        if seal.job_prev != job_at {
                            self.out.problems.push(if last_of_job.is_none() {
                                Problem::JobStart { event: id, device }
                            } else {
                                Problem::JobGap { event: id, device }
                            });
                        }
                        if let Some(next) = chain::link(event) {
                            job_at = next;
                        }
                        last_of_job = Some(id);
                    }
                    if checked.is_ok() {
                        self.out.signed_events += 1;
                        self.verified.insert(id);
                    }
                    (id, checked)
                }
                Link::Other(elided) => {
                    if elided.job_id == self.job {
                        self.out.problems.push(Problem::Hidden { event: elided.id });
                    }
                    if !matches!(elided.actor, Actor::Technician { device_id, .. } if device_id == device)
                    {
                        self.out
                            .problems
                            .push(Problem::WrongDevice { event: elided.id });
                    }
                    (elided.id, elided.verify(self.key, at.as_deref()))
                }
            };
            at = match checked {
                Ok(next) => Some(next),
                Err(ChainBreak::BadSignature) => {
                    self.out.problems.push(Problem::BadSignature { event: id });
                    None
                }
                Err(ChainBreak::Gap) => {
                    self.out.problems.push(Problem::Gap { event: id, device });
                    self.held
                        .get(&id)
                        .and_then(|e| chain::link(e))
                        .or_else(|| match link {
                            Link::Other(e) => e.verify(self.key, None).ok(),
                            Link::Job { .. } => None,
                        })
                }
                Err(ChainBreak::Unsigned) => {
                    self.out.problems.push(Problem::Unsigned { event: id });
                    None
                }
            };
        }
        if let Some(last) = last_of_job {
            self.out.shown_through.push((device, last));
        }
    }
}

/// Every photo a verified event of the job names is in the bundle with those bytes, listed as
/// signed, and every photo in the bundle is named by one.
fn photos(
    manifest: &Manifest,
    verified: &HashSet<Uuid>,
    sha256: &dyn Fn(&str) -> Option<String>,
    out: &mut Verification,
) {
    // Photos of events the server stored; a refused photo event's photo was never taken in.
    let signed: Vec<&crate::domain::PhotoRef> = manifest
        .events
        .iter()
        .filter(|r| verified.contains(&r.event.id))
        .filter_map(|r| match &r.event.body {
            EventBody::PhotoCaptured { photo } => Some(photo),
            _ => None,
        })
        .collect();
    let named: HashSet<Uuid> = signed.iter().map(|p| p.photo_id).collect();
    let mut listed: HashMap<Uuid, &super::BundledPhoto> = HashMap::new();
    for p in &manifest.photos {
        if listed.insert(p.photo_id, p).is_some() {
            out.problems.push(Problem::PhotoTwice { photo: p.photo_id });
        }
    }
    let mut hashes: HashMap<&str, Option<String>> = HashMap::new();
    for photo in signed {
        let id = photo.photo_id;
        let Some(entry) = listed.get(&id) else {
            out.problems.push(Problem::PhotoMissing { photo: id });
            continue;
        };
        if entry.sha256 != photo.sha256 || entry.category != photo.category.as_str() {
            out.problems.push(Problem::PhotoMislabelled { photo: id });
        }
        let hash = entry
            .file
            .as_deref()
            .and_then(|f| hashes.entry(f).or_insert_with(|| sha256(f)).clone());
        match hash {
            None => out.problems.push(Problem::PhotoMissing { photo: id }),
            Some(h) if h != photo.sha256 => out.problems.push(Problem::PhotoAltered { photo: id }),
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
    use crate::domain::{CallOutcome, PhotoCategory, PhotoRef};
    use crate::evidence::{BundledPhoto, DeviceChain, Recorded, Refused};
    use crate::fixtures::t0;
    use sha2::{Digest, Sha256};

    const PHOTO: &[u8] = b"\xff\xd8\xff\xe0 the pickup photo's bytes";

    /// A phone's signed events, as its store seals them: one chain, and one per job.
    struct Phone {
        chain: crate::fixtures::Chain,
        device: Uuid,
        tech: Uuid,
    }

    impl Phone {
        fn new() -> Phone {
            Phone {
                chain: crate::fixtures::Chain::new(),
                device: Uuid::now_v7(),
                tech: Uuid::now_v7(),
            }
        }

        fn record(&mut self, job: Uuid, body: EventBody) -> Event {
            let mut e = crate::fixtures::tech_event(job, self.tech, t0(), body);
            e.actor = Actor::Technician {
                technician_id: self.tech,
                device_id: self.device,
            };
            self.chain.seal(&mut e);
            e
        }
    }

    fn call(n: &str) -> EventBody {
        EventBody::CustomerCallLogged {
            outcome: CallOutcome::Reached,
            note: n.into(),
        }
    }

    fn recorded(e: &Event) -> Recorded {
        Recorded {
            event: e.clone(),
            server_received_at: t0(),
            corrected_at: t0(),
            flags: vec![],
        }
    }

    /// A device's chain through three jobs, the middle one `job` with a photo; the bundle for
    /// `job`, its photo file and the phone.
    fn bundle() -> (Manifest, Vec<u8>, Phone) {
        let mut phone = Phone::new();
        let (before, job, after) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let photo_id = Uuid::now_v7();
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
        let events: Vec<Event> = bodies
            .into_iter()
            .map(|(j, body)| phone.record(j, body))
            .collect();
        let manifest = Manifest {
            format: FORMAT.into(),
            job_id: job,
            job_number: Some("1001".into()),
            generated_at: t0(),
            events: events
                .iter()
                .filter(|e| e.job_id == job)
                .map(recorded)
                .collect(),
            refused: vec![],
            chains: vec![DeviceChain::around(
                job,
                phone.device,
                phone.chain.key.public_key(),
                &events,
                &|_| true,
            )],
            photos: vec![BundledPhoto {
                photo_id,
                category: "pickup".into(),
                sha256: hex::encode(Sha256::digest(PHOTO)),
                file: Some(format!("photos/{photo_id}.jpg")),
            }],
        };
        (manifest, PHOTO.to_vec(), phone)
    }

    fn check(m: &Manifest, photo: &[u8]) -> Verification {
        let hash = hex::encode(Sha256::digest(photo));
        verify(m, &|_| Some(hash.clone()))
    }

    fn last_of_job(m: &Manifest) -> Uuid {
        m.events.last().unwrap().event.id
    }

    #[test]
    fn an_untouched_bundle_verifies_and_shows_the_chain_only_around_the_job() {
        let (m, photo, phone) = bundle();
        let v = check(&m, &photo);
        assert_eq!(v.problems, vec![]);
        assert!(v.is_ok());
        assert_eq!((v.signed_events, v.photos, v.devices), (3, 1, 1));
        assert_eq!(v.shown_through, vec![(phone.device, last_of_job(&m))]);
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
        let (m, photo, _) = bundle();
        let mut bad_photo = photo.clone();
        bad_photo[5] ^= 1;
        assert!(matches!(
            check(&m, &bad_photo).problems[..],
            [Problem::PhotoAltered { .. }]
        ));

        let mut event = m.clone();
        event.events[2].event.body = call("donE");
        assert!(matches!(
            check(&event, &photo).problems[..],
            [Problem::BadSignature { .. }]
        ));

        // An event of another job, in the middle of the job's stretch, taken out.
        let mut removed = m.clone();
        removed.chains[0].links.remove(2);
        let v = check(&removed, &photo);
        // (The photo its event names is then vouched for by nothing in the chain either.)
        assert!(matches!(v.problems[..], [Problem::Gap { .. }, ..]), "{v:?}");

        // One hex digit of a link changed.
        let mut link = m.clone();
        let Link::Other(e) = &mut link.chains[0].links[2] else {
            panic!("the third link is another job's")
        };
        let first = if e.seal.prev.starts_with('0') {
            "1"
        } else {
            "0"
        };
        e.seal.prev.replace_range(0..1, first);
        assert!(matches!(
            check(&link, &photo).problems[..],
            [Problem::BadSignature { .. }]
        ));
    }

    #[test]
    fn hiding_an_event_of_the_job_is_seen_wherever_the_chain_is_cut() {
        let (m, photo, phone) = bundle();
        // Shown without its body, as if it were another job's.
        let mut hidden = m.clone();
        let done = hidden.events.remove(2).event;
        hidden.chains[0].links[4] = Link::Other(Box::new(chain::Elided::of(&done).unwrap()));
        assert!(matches!(
            check(&hidden, &photo).problems[..],
            [Problem::Hidden { .. }]
        ));

        // Left out of the chain.
        let mut unchained = m.clone();
        unchained.chains[0].links.remove(4);
        assert!(
            check(&unchained, &photo)
                .problems
                .contains(&Problem::NotInChain {
                    event: m.events[2].event.id
                })
        );

        // The job's first event and everything before it cut away: the stretch then starts
        // at another job's event, and the job's own chain shows what is missing.
        let mut first_gone = m.clone();
        first_gone.chains[0].links.drain(0..2);
        first_gone.events.remove(0);
        assert_eq!(
            check(&first_gone, &photo).problems,
            vec![Problem::JobStart {
                event: m.events[1].event.id,
                device: phone.device
            }]
        );

        // The job's last events cut away at another job's event: what is shown verifies, and
        // says how far it reaches, which is not as far as the untouched bundle's.
        let mut last_gone = m.clone();
        last_gone.chains[0].links.truncate(3);
        last_gone.events.truncate(1);
        last_gone.photos.clear();
        let v = check(&last_gone, &photo);
        assert_eq!(v.problems, vec![]);
        assert_eq!(v.shown_through, vec![(phone.device, m.events[0].event.id)]);

        // The stretch's ends cut off, nothing of the job missing: the same claim.
        let mut ends = m.clone();
        ends.chains[0].links.remove(5);
        ends.chains[0].links.remove(0);
        let v = check(&ends, &photo);
        assert_eq!(v.problems, vec![]);
        assert_eq!(v.shown_through, vec![(phone.device, last_of_job(&m))]);
    }

    #[test]
    fn an_event_of_another_job_another_device_s_event_or_a_bad_key_is_refused() {
        let (m, photo, mut phone) = bundle();
        // A signed event of another job, passed off as this job's link.
        let mut other = m.clone();
        let foreign = phone.record(Uuid::now_v7(), call("elsewhere"));
        other.events.push(recorded(&foreign));
        assert!(
            check(&other, &photo)
                .problems
                .contains(&Problem::OtherJob { event: foreign.id })
        );

        // An event naming another device in this device's chain.
        let mut device = m.clone();
        device.events[2].event.actor = Actor::Technician {
            technician_id: phone.tech,
            device_id: Uuid::now_v7(),
        };
        assert!(
            check(&device, &photo)
                .problems
                .contains(&Problem::WrongDevice {
                    event: m.events[2].event.id
                })
        );

        let mut key = m.clone();
        key.chains[0].public_key = "ab".repeat(31);
        assert!(check(&key, &photo).problems.contains(&Problem::BadKey {
            device: phone.device
        }));
    }

    #[test]
    fn a_photo_is_vouched_for_only_by_a_verified_device_event() {
        let (m, photo, _) = bundle();
        // "The desk" took a photo: not the device's word, and so no photo of its.
        let mut desk = m.clone();
        let mut e = m.events[1].event.clone();
        e.id = Uuid::now_v7();
        e.actor = Actor::Dispatcher {
            dispatcher_id: Uuid::now_v7(),
        };
        let EventBody::PhotoCaptured { photo: p } = &mut e.body else {
            panic!("the second event is the photo")
        };
        p.photo_id = Uuid::now_v7();
        let (forged, sha256) = (p.photo_id, p.sha256.clone());
        desk.events.push(recorded(&e));
        desk.photos.push(BundledPhoto {
            photo_id: forged,
            category: "pickup".into(),
            sha256,
            file: Some("photos/forged.jpg".into()),
        });
        let v = check(&desk, &photo);
        assert!(
            v.problems
                .contains(&Problem::DeskFieldEvent { event: e.id }),
            "{v:?}"
        );
        assert!(
            v.problems
                .contains(&Problem::PhotoUnvouched { photo: forged })
        );

        // The photo listed twice, or listed as something else than was signed.
        let mut twice = m.clone();
        twice.photos.push(twice.photos[0].clone());
        assert!(
            check(&twice, &photo)
                .problems
                .contains(&Problem::PhotoTwice {
                    photo: m.photos[0].photo_id
                })
        );
        let mut relabelled = m.clone();
        relabelled.photos[0].category = "completion".into();
        assert_eq!(
            check(&relabelled, &photo).problems,
            vec![Problem::PhotoMislabelled {
                photo: m.photos[0].photo_id
            }]
        );
    }

    #[test]
    fn an_event_received_as_it_happened_must_be_in_the_bundle_and_a_failure_claims_nothing() {
        let (m, photo, _) = bundle();
        let v = check(&m, &photo);
        let ids: Vec<Uuid> = m.events.iter().map(|r| r.event.id).collect();
        assert_eq!(received(&v, &ids), vec![]);
        // The job's last event, and the device's whole chain, left out: what was received
        // as it happened shows it.
        let mut cut = m.clone();
        cut.chains[0].links.truncate(3);
        cut.events.truncate(1);
        cut.photos.clear();
        let mut v = check(&cut, &photo);
        assert!(v.is_ok() && !v.shown_through.is_empty());
        v.add(received(&v, &ids));
        assert_eq!(
            v.problems,
            vec![
                Problem::NotReceived { event: ids[1] },
                Problem::NotReceived { event: ids[2] }
            ]
        );
        assert!(
            v.shown_through.is_empty(),
            "a bundle with problems claims no reach"
        );
        let mut none = m.clone();
        none.chains.clear();
        none.events.clear();
        none.photos.clear();
        let mut v = check(&none, &photo);
        v.add(received(&v, &ids[..1]));
        assert_eq!(v.problems, vec![Problem::NotReceived { event: ids[0] }]);
    }

    #[test]
    fn a_refused_event_holds_its_place_and_is_counted() {
        let (mut m, photo, _) = bundle();
        let done = m.events.remove(2).event;
        m.refused.push(Refused {
            event: done,
            rule: "work_not_done".into(),
            message: "Mark the work as done first".into(),
            received_at: t0(),
        });
        let v = check(&m, &photo);
        assert_eq!(v.problems, vec![]);
        assert_eq!((v.signed_events, v.refused_events), (3, 1));

        // A photo event said to be refused: its photo is not required, and is named.
        let shot = m.events.remove(1).event;
        m.refused.push(Refused {
            event: shot,
            rule: "invalid_input".into(),
            message: "".into(),
            received_at: t0(),
        });
        let photo_id = m.photos.remove(0).photo_id;
        let v = check(&m, &photo);
        assert_eq!(v.problems, vec![]);
        assert_eq!(v.refused_photos, vec![photo_id]);
    }

    #[test]
    fn a_second_copy_of_an_event_a_second_chain_and_another_key_are_refused() {
        let (m, photo, phone) = bundle();
        let mut copy = m.clone();
        let mut second = copy.events[2].clone();
        second.event.body = call("not what was said");
        copy.events.push(second);
        assert!(check(&copy, &photo).problems.contains(&Problem::Duplicate {
            event: m.events[2].event.id
        }));

        // A chain of the same device signed with another key, holding a made-up event.
        let mut forged = m.clone();
        let mut other = Phone::new();
        other.device = phone.device;
        other.tech = phone.tech;
        let e = other.record(m.job_id, call("made up"));
        forged.chains.push(DeviceChain {
            device_id: phone.device,
            public_key: hex::encode(other.chain.key.public_key()),
            links: vec![Link::Job { event_id: e.id }],
        });
        forged.events.push(recorded(&e));
        assert!(
            check(&forged, &photo)
                .problems
                .contains(&Problem::DeviceTwice {
                    device: phone.device
                })
        );

        // The whole chain re-signed with another key verifies on its own: only a key the
        // checker pinned before tells, under the device's id or another.
        let mut pins = HashMap::new();
        pins.insert(phone.device, m.chains[0].public_key.to_uppercase());
        assert_eq!(pinned(&m, &pins), vec![]);
        pins.insert(phone.device, hex::encode(other.chain.key.public_key()));
        assert_eq!(
            pinned(&m, &pins),
            vec![Problem::KeyMismatch {
                device: phone.device
            }]
        );
        let mut renamed = m.clone();
        renamed.chains[0].device_id = Uuid::now_v7();
        assert_eq!(
            pinned(&renamed, &pins),
            vec![Problem::KeyNotPinned {
                device: renamed.chains[0].device_id
            }]
        );
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
        /// One hex digit of a link's signature or of the links it names.
        SealDigit {
            link: usize,
            which: u8,
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
            (any::<usize>(), 0u8..3, 0usize..64).prop_map(|(link, which, at)| Tamper::SealDigit {
                link,
                which,
                at
            }),
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
            Tamper::SealDigit { link, which, at } => {
                let seal = match &mut links[link % n] {
                    Link::Other(e) => &mut e.seal,
                    Link::Job { event_id } => {
                        let id = *event_id;
                        let e = events.iter_mut().find(|r| r.event.id == id).unwrap();
                        e.event.seal.as_mut().unwrap()
                    }
                };
                let hex = match which {
                    0 => &mut seal.sig,
                    1 => &mut seal.prev,
                    _ => &mut seal.job_prev,
                };
                let at = at % hex.len();
                let now = if hex.as_bytes()[at] == b'0' { "1" } else { "0" };
                hex.replace_range(at..at + 1, now);
            }
            Tamper::EventDropped(i) => {
                events.remove(i % k);
            }
        }
        true
    }

    proptest::proptest! {
        /// Whatever one change is made to a bundle, `verify` refuses it, or what it verifies
        /// is what the untouched bundle proves: the same events and photos, shown through the
        /// same event (cutting the stretch's ends loses nothing). Tried on every kind of
        /// change and place.
        #[test]
        fn any_one_change_to_a_bundle_is_refused_or_changes_nothing_it_proves(t in tamper()) {
            let (mut m, mut photo, _) = bundle();
            let untouched = check(&m, &photo);
            if apply(&t, &mut m, &mut photo) {
                let v = check(&m, &photo);
                proptest::prop_assert!(
                    !v.is_ok()
                        || (v.signed_events, v.photos, &v.shown_through)
                            == (untouched.signed_events, untouched.photos, &untouched.shown_through),
                    "{t:?} went unnoticed: {v:?}"
                );
            }
        }
    }

    #[test]
    fn a_missing_or_an_extra_photo_and_an_unknown_format_are_refused() {
        let (m, photo, _) = bundle();
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

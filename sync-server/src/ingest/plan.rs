//! One push, planned in memory: the backend loads what the batch touches in one go
//! ([`Wanted`] → [`Loaded`]), [`plan`] decides every event in order exactly as the rulebook and
//! [`decide`] say, and the backend writes the [`Writes`] in a few batched statements. The loop
//! exists once, here, and is tested without a database; a push costs a constant number of round
//! trips to PostgreSQL instead of several per event (ADR 0011).

use std::collections::{HashMap, HashSet};

use fieldcore::domain::chain::ChainBreak;
use fieldcore::domain::{
    Actor, Event, EventBody, JobView, Lang, PhotoRef, Refusal, Rule, Rulebook,
};
use fieldcore::protocol::{EventFlag, PushResult};
use uuid::Uuid;

use super::{Decision, RejectReason, Visible, decide};
use crate::storage::{Incoming, StorageError, Writer};

/// One batch as `Storage::append_events` received it.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    pub org: Uuid,
    pub writer: Writer,
    pub rulebook: &'a Rulebook,
    pub events: &'a [Incoming],
    /// The language of the answer (the desk's record is kept in English).
    pub lang: Lang,
}

/// What the backend loads for a batch, inside its transaction, after taking its job locks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// Every event id of the batch (any of them may be stored already).
    pub event_ids: Vec<Uuid>,
    /// Every job the batch names, once each (sorted; PostgreSQL locks them in the order of
    /// their lock keys).
    pub job_ids: Vec<Uuid>,
    /// A technician's batch: which of `job_ids` were ever assigned to them.
    pub technician: Option<Uuid>,
    /// A technician's batch: the device whose chain (key and head) to load, row-locked.
    pub device: Option<Uuid>,
}

impl Batch<'_> {
    pub fn wanted(&self) -> Wanted {
        let mut job_ids: Vec<Uuid> = self.events.iter().map(|i| i.event.job_id).collect();
        job_ids.sort_unstable();
        job_ids.dedup();
        Wanted {
            event_ids: self.events.iter().map(|i| i.event.id).collect(),
            job_ids,
            technician: self.technician(),
            device: match self.writer {
                Writer::Technician { device_id, .. } => Some(device_id),
                Writer::Dispatcher { .. } => None,
            },
        }
    }

    /// The writing technician (`None` for the desk).
    fn technician(&self) -> Option<Uuid> {
        match self.writer {
            Writer::Technician { technician_id, .. } => Some(technician_id),
            Writer::Dispatcher { .. } => None,
        }
    }
}

/// Where a stored event id lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredEvent {
    pub org: Uuid,
    pub job: Uuid,
}

/// A stored job, as the batch may know it.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredJob {
    /// In the batch's organisation, as it stands.
    Ours(Box<JobView>),
    /// Another organisation's: the id is taken, and nothing more is said about it.
    Elsewhere,
}

/// What the backend found for a [`Wanted`]. Ids it did not find are simply absent.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub events: HashMap<Uuid, StoredEvent>,
    pub jobs: HashMap<Uuid, StoredJob>,
    /// Jobs ever assigned to the writing technician (empty for a desk batch).
    pub assigned: HashSet<Uuid>,
    /// The writing device's evidence chain as stored.
    pub chain: DeviceChain,
    /// Event ids of the batch refused before (kept in `rejections`).
    pub rejected: HashSet<Uuid>,
}

/// A device's evidence chain on the server (ADR 0016).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceChain {
    /// Hex of the raw Ed25519 key, once the device sent one.
    pub public_key: Option<String>,
    /// The link the device's last event left (`None`: none yet, the chain's genesis).
    pub head: Option<String>,
}

/// An accepted event to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent<'a> {
    pub event: &'a Event,
    pub flags: Vec<EventFlag>,
}

/// A photo record to create from an accepted `PhotoCaptured`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPhoto<'a> {
    pub photo: &'a PhotoRef,
    pub job_id: Uuid,
    pub event_id: Uuid,
}

/// A refused event, kept so the desk can see what a device tried.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRejection<'a> {
    pub event: &'a Event,
    pub technician: Option<Uuid>,
    pub rule: String,
    /// In English: the desk's record.
    pub message: String,
}

/// A row of a technician's feed, in the order positions are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedRow {
    /// `Writes::events[event]`.
    Event { technician: Uuid, event: usize },
    /// The job's whole stored history up to and including `Writes::events[through]` (a new
    /// technician gets everything that came before their assignment, the assignment included).
    History {
        technician: Uuid,
        job: Uuid,
        through: usize,
    },
}

/// Everything a batch writes, applied by the backend in this order: views (a new job's row must
/// exist before its events), events, then assignments, photos, rejections, the device's last
/// contact, and last the feed (PostgreSQL draws feed positions under a lock held to commit).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Writes<'a> {
    /// The final view of each job the batch changed: one write per job, not per event.
    pub views: Vec<JobView>,
    pub events: Vec<NewEvent<'a>>,
    /// (job, technician) pairs for `job_technicians`.
    pub assignments: Vec<(Uuid, Uuid)>,
    pub photos: Vec<NewPhoto<'a>>,
    pub rejections: Vec<NewRejection<'a>>,
    pub feed: Vec<FeedRow>,
    /// The device whose last contact is now.
    pub device_seen: Option<Uuid>,
    /// The device's key, first sent with this batch: to keep.
    pub register_key: Option<(Uuid, String)>,
    /// The device's chain moved: its new head.
    pub chain_head: Option<(Uuid, String)>,
}

impl Writes<'_> {
    /// The ordering party of a job this batch changed (from its final view).
    pub fn ordering_party(&self, job: Uuid) -> Option<&str> {
        self.views
            .iter()
            .find(|v| v.id == job)
            .map(|v| v.order.ordering_party.as_str())
    }
}

/// A device head that says "the last event was altered": the link it really left is unknown,
/// so the next sealed event takes the chain up from the link it names.
const RESYNC: &str = "";

/// The writing device's chain as the batch moves it (ADR 0016): each new event is checked
/// against the device's key and the link the chain is at. A broken link is flagged on the event
/// (a visible conflict, never silently accepted), and the chain goes on from the event as it
/// came, so one break does not flag everything after it.
struct Chain {
    device: Option<Uuid>,
    key: Option<Vec<u8>>,
    register: Option<String>,
    head: Option<String>,
    moved: bool,
}

impl Chain {
    fn new(writer: Writer, stored: DeviceChain) -> Chain {
        let Writer::Technician {
            device_id,
            public_key,
            ..
        } = writer
        else {
            return Chain {
                device: None,
                key: None,
                register: None,
                head: None,
                moved: false,
            };
        };
        // The first key a device sends is its key; a different one later is not taken.
        let (key, register) = match (stored.public_key, public_key) {
            (Some(k), _) => (hex::decode(k).ok(), None),
            (None, Some(sent)) => (Some(sent.to_vec()), Some(hex::encode(sent))),
            (None, None) => (None, None),
        };
        Chain {
            device: Some(device_id),
            key,
            register,
            head: stored.head,
            moved: false,
        }
    }

    /// The chain flag for a new event of the device, if its link does not hold.
    fn check(&mut self, event: &Event) -> Option<EventFlag> {
        self.device?;
        let Some(key) = &self.key else {
            return Some(EventFlag::Unsigned);
        };
        let at = match (self.head.as_deref(), &event.seal) {
            // After an altered event the link it really left is unknown: the next sealed event
            // takes the chain up again from the link it names.
            (Some(RESYNC), Some(seal)) => seal.prev.clone(),
            (Some(head), _) => head.to_string(),
            (None, _) => fieldcore::domain::chain::genesis(key),
        };
        let (next, flag) = match fieldcore::domain::chain::verify(event, key, &at) {
            Ok(next) => (Some(next), None),
            Err(ChainBreak::Unsigned) => (None, Some(EventFlag::Unsigned)),
            Err(ChainBreak::BadSignature) => {
                (Some(RESYNC.to_string()), Some(EventFlag::BadSignature))
            }
            // Signed by the device, but not after the last link: the chain goes on from it.
            Err(ChainBreak::Gap) => (
                fieldcore::domain::chain::link(event),
                Some(EventFlag::ChainGap),
            ),
        };
        if let Some(next) = next {
            self.head = Some(next);
            self.moved = true;
        }
        flag
    }

    /// The key to keep and the head to store, into the batch's writes.
    fn write_into(self, w: &mut Writes<'_>) {
        let Some(device) = self.device else {
            return;
        };
        w.register_key = self.register.map(|k| (device, k));
        w.chain_head = self.head.filter(|_| self.moved).map(|h| (device, h));
    }
}

/// The answer to a batch and what to store for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan<'a> {
    /// One per event, in order (a refused desk batch stops at its refusal).
    pub results: Vec<PushResult>,
    /// `None`: a desk request was refused; a desk request is all or nothing (create + assign +
    /// book), so nothing of it is stored.
    pub writes: Option<Writes<'a>>,
}

/// A job as the batch sees it: changed in memory by each accepted event.
struct Job {
    view: Option<JobView>,
    /// The id belongs to another organisation.
    elsewhere: bool,
    /// The batch changed it: its view is written once, at the end.
    changed: bool,
}

/// Decide every event of the batch in order against the jobs as they stand and as the batch
/// changes them.
pub fn plan<'a>(batch: Batch<'a>, loaded: Loaded) -> Result<Plan<'a>, StorageError> {
    let Batch {
        org,
        writer,
        rulebook,
        events,
        lang,
    } = batch;
    let Loaded {
        events: mut stored,
        jobs: loaded_jobs,
        mut assigned,
        chain,
        rejected,
    } = loaded;
    let mut chain = Chain::new(writer, chain);
    let mut jobs: HashMap<Uuid, Job> = loaded_jobs
        .into_iter()
        .map(|(id, j)| {
            let job = match j {
                StoredJob::Ours(v) => Job {
                    view: Some(*v),
                    elsewhere: false,
                    changed: false,
                },
                StoredJob::Elsewhere => Job {
                    view: None,
                    elsewhere: true,
                    changed: false,
                },
            };
            (id, job)
        })
        .collect();
    // Views are written in the order the batch first changed them.
    let mut changed_order = Vec::new();
    let mut results = Vec::with_capacity(events.len());
    let mut w = Writes {
        device_seen: match writer {
            Writer::Technician { device_id, .. } => Some(device_id),
            Writer::Dispatcher { .. } => None,
        },
        ..Writes::default()
    };
    for incoming in events {
        let event = &incoming.event;
        let id = event.id;
        // Every event of the device moves its chain, refused ones too: the phone signed them.
        // Those judged already (stored, or refused: a batch sent again) leave it where it is.
        let judged = rejected.contains(&id)
            || stored
                .get(&id)
                .is_some_and(|home| home.org == org && home.job == event.job_id);
        let chain_flag = if judged { None } else { chain.check(event) };
        match stored.get(&id) {
            // The same event again (its earlier push got through, or it is twice in the batch).
            Some(home) if home.org == org && home.job == event.job_id => {
                results.push(PushResult::duplicate(id));
                continue;
            }
            // The id is taken by an event elsewhere: never answer "duplicate" (the sender would
            // drop an event that was never stored, and learn that the id exists).
            Some(_) => {
                results.push(PushResult::rejected(
                    id,
                    Rule::AlreadyRecorded.code().to_string(),
                    Refusal::new(Rule::AlreadyRecorded, event.body.kind()).message(lang),
                ));
                continue;
            }
            None => {}
        }
        let job = jobs.entry(event.job_id).or_insert(Job {
            view: None,
            elsewhere: false,
            changed: false,
        });
        let visible = match (&job.view, writer) {
            (Some(v), Writer::Technician { .. }) if assigned.contains(&event.job_id) => {
                Visible::Yes(v)
            }
            (Some(v), Writer::Dispatcher { .. }) => Visible::Yes(v),
            _ => Visible::No,
        };
        let decision = if job.elsewhere && matches!(event.body, EventBody::JobCreated { .. }) {
            Decision::Reject(RejectReason::Refused(Refusal::new(
                Rule::JobAlreadyExists,
                event.body.kind(),
            )))
        } else {
            decide(rulebook, writer, visible, incoming)
        };
        let flags = match decision {
            Decision::Accept(mut flags) => {
                flags.extend(chain_flag);
                flags
            }
            Decision::Reject(rejection) => {
                let rule = rejection.rule();
                results.push(PushResult::rejected(
                    id,
                    rule.clone(),
                    rejection.message(lang),
                ));
                match writer {
                    Writer::Dispatcher { .. } => {
                        return Ok(Plan {
                            results,
                            writes: None,
                        });
                    }
                    Writer::Technician { technician_id, .. } => w.rejections.push(NewRejection {
                        event,
                        technician: Some(technician_id),
                        rule,
                        message: rejection.message(Lang::En),
                    }),
                }
                continue;
            }
        };
        let before = job.view.as_ref().and_then(|v| v.technician_id);
        match &mut job.view {
            None => {
                job.view = Some(JobView::created(event).ok_or_else(|| {
                    StorageError::Corrupt("a job must start with JobCreated".into())
                })?);
            }
            Some(v) => rulebook.apply(v, event),
        }
        if !job.changed {
            job.changed = true;
            changed_order.push(event.job_id);
        }
        let now = job.view.as_ref().and_then(|v| v.technician_id);
        let index = w.events.len();
        match &event.body {
            EventBody::JobAssigned { technician_id } if Some(*technician_id) != before => {
                // The new technician gets the whole history, this assignment included; the old
                // one learns they lost the job, and nothing after.
                w.assignments.push((event.job_id, *technician_id));
                if Some(*technician_id) == batch.technician() {
                    assigned.insert(event.job_id);
                }
                w.feed.push(FeedRow::History {
                    technician: *technician_id,
                    job: event.job_id,
                    through: index,
                });
                if let Some(old) = before {
                    w.feed.push(FeedRow::Event {
                        technician: old,
                        event: index,
                    });
                }
            }
            _ => {
                if let Some(t) = now {
                    w.feed.push(FeedRow::Event {
                        technician: t,
                        event: index,
                    });
                }
                // A former holder's own late event goes back to them as well: the echo carries
                // the server's verdict and corrected time to the phone that made it.
                if let Actor::Technician { technician_id, .. } = event.actor
                    && Some(technician_id) != now
                {
                    w.feed.push(FeedRow::Event {
                        technician: technician_id,
                        event: index,
                    });
                }
            }
        }
        if let EventBody::PhotoCaptured { photo } = &event.body {
            w.photos.push(NewPhoto {
                photo,
                job_id: event.job_id,
                event_id: id,
            });
        }
        stored.insert(
            id,
            StoredEvent {
                org,
                job: event.job_id,
            },
        );
        results.push(PushResult::accepted(id, flags.clone()));
        w.events.push(NewEvent { event, flags });
    }
    w.views = changed_order
        .iter()
        .filter_map(|id| jobs.remove(id).and_then(|j| j.view))
        .collect();
    chain.write_into(&mut w);
    Ok(Plan {
        results,
        writes: Some(w),
    })
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use fieldcore::domain::{ChecklistTemplate, JobKind, PhotoCategory, Policy};
    use fieldcore::fixtures::{Desk, photo, t0, tech_event};
    use fieldcore::protocol::{EventFlag, PushStatus};

    use super::*;

    fn rulebook() -> Rulebook {
        Rulebook::new(Policy::default(), ChecklistTemplate::default_template())
    }

    fn incoming(events: &[Event]) -> Vec<Incoming> {
        events
            .iter()
            .map(|e| Incoming {
                event: e.clone(),
                flags: vec![],
                refused: None,
            })
            .collect()
    }

    fn technician(id: Uuid) -> Writer {
        Writer::Technician {
            technician_id: id,
            device_id: Uuid::nil(),
            public_key: None,
        }
    }

    fn statuses(plan: &Plan<'_>) -> Vec<PushStatus> {
        plan.results.iter().map(|r| r.status).collect()
    }

    /// A job the desk created and assigned to `tech`, as the store would load it.
    fn stored_job(org: Uuid, tech: Uuid) -> (Uuid, Vec<Event>, Loaded) {
        let (job, events) = Desk::default().new_job(JobKind::Install, tech, t0());
        let mut loaded = Loaded::default();
        let view = rulebook().replay(&events).unwrap();
        loaded.jobs.insert(job, StoredJob::Ours(Box::new(view)));
        loaded.assigned.insert(job);
        for e in &events {
            loaded.events.insert(e.id, StoredEvent { org, job });
        }
        (job, events, loaded)
    }

    #[test]
    fn the_desk_creates_and_assigns_in_one_batch() {
        let (org, tech, desk) = (Uuid::now_v7(), Uuid::now_v7(), Desk::default());
        let (job, events) = desk.new_job(JobKind::Install, tech, t0());
        let events = incoming(&events);
        let rb = rulebook();
        let batch = Batch {
            org,
            writer: Writer::Dispatcher {
                dispatcher_id: desk.dispatcher_id,
            },
            rulebook: &rb,
            events: &events,
            lang: Lang::En,
        };
        assert_eq!(batch.wanted().job_ids, vec![job]);
        assert_eq!(batch.wanted().technician, None);
        let plan = plan(batch, Loaded::default()).unwrap();
        assert_eq!(statuses(&plan), [PushStatus::Accepted; 2]);
        let w = plan.writes.unwrap();
        assert_eq!(w.views.len(), 1, "one view write for the job");
        assert_eq!(w.views[0].technician_id, Some(tech));
        assert_eq!(w.events.len(), 2);
        assert_eq!(w.assignments, vec![(job, tech)]);
        assert_eq!(
            w.feed,
            vec![FeedRow::History {
                technician: tech,
                job,
                through: 1
            }]
        );
        assert_eq!(w.device_seen, None);
    }

    #[test]
    fn a_refused_desk_request_stores_nothing_and_stops_at_the_refusal() {
        let (org, tech, desk) = (Uuid::now_v7(), Uuid::now_v7(), Desk::default());
        let (job, events) = desk.new_job(JobKind::Install, tech, t0());
        let events = incoming(&events);
        let mut loaded = Loaded::default();
        // The job id is another organisation's.
        loaded.jobs.insert(job, StoredJob::Elsewhere);
        let rb = rulebook();
        let batch = Batch {
            org,
            writer: Writer::Dispatcher {
                dispatcher_id: desk.dispatcher_id,
            },
            rulebook: &rb,
            events: &events,
            lang: Lang::En,
        };
        let plan = plan(batch, loaded).unwrap();
        assert_eq!(plan.results.len(), 1);
        assert_eq!(plan.results[0].status, PushStatus::Rejected);
        assert_eq!(plan.results[0].rule.as_deref(), Some("job_already_exists"));
        assert_eq!(plan.writes, None);
    }

    #[test]
    fn duplicates_in_the_store_and_in_the_batch_are_answered_duplicate_and_stored_once() {
        let (org, tech) = (Uuid::now_v7(), Uuid::now_v7());
        let (job, desk_events, loaded) = stored_job(org, tech);
        let accept = tech_event(job, tech, t0(), EventBody::JobAccepted);
        // A desk event again, the new one, and the new one twice.
        let events = incoming(&[desk_events[1].clone(), accept.clone(), accept]);
        let rb = rulebook();
        let batch = Batch {
            org,
            writer: technician(tech),
            rulebook: &rb,
            events: &events,
            lang: Lang::En,
        };
        let plan = plan(batch, loaded).unwrap();
        assert_eq!(
            statuses(&plan),
            [
                PushStatus::Duplicate,
                PushStatus::Accepted,
                PushStatus::Duplicate
            ]
        );
        let w = plan.writes.unwrap();
        assert_eq!(w.events.len(), 1);
        assert_eq!(
            w.feed,
            vec![FeedRow::Event {
                technician: tech,
                event: 0
            }]
        );
        assert_eq!(w.device_seen, Some(Uuid::nil()));
    }

    #[test]
    fn an_id_stored_elsewhere_is_refused_never_called_a_duplicate() {
        let (org, tech) = (Uuid::now_v7(), Uuid::now_v7());
        let (job, _, mut loaded) = stored_job(org, tech);
        let accept = tech_event(job, tech, t0(), EventBody::JobAccepted);
        loaded.events.insert(
            accept.id,
            StoredEvent {
                org: Uuid::now_v7(),
                job,
            },
        );
        let events = incoming(&[accept]);
        let rb = rulebook();
        let batch = Batch {
            org,
            writer: technician(tech),
            rulebook: &rb,
            events: &events,
            lang: Lang::En,
        };
        let plan = plan(batch, loaded).unwrap();
        assert_eq!(plan.results[0].rule.as_deref(), Some("already_recorded"));
        let w = plan.writes.unwrap();
        assert!(w.events.is_empty() && w.views.is_empty());
        // Not kept as a rejection either: it would overwrite nothing but tell nothing.
        assert!(w.rejections.is_empty());
    }

    #[test]
    fn a_job_never_assigned_to_the_technician_is_unknown_to_them_and_the_try_is_kept() {
        let (org, tech, stranger) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let (job, _, mut loaded) = stored_job(org, tech);
        loaded.assigned.clear();
        let events = incoming(&[tech_event(job, stranger, t0(), EventBody::JobAccepted)]);
        let rb = rulebook();
        let batch = Batch {
            org,
            writer: technician(stranger),
            rulebook: &rb,
            events: &events,
            lang: Lang::En,
        };
        let plan = plan(batch, loaded).unwrap();
        assert_eq!(plan.results[0].rule.as_deref(), Some("unknown_job"));
        let w = plan.writes.unwrap();
        assert!(w.views.is_empty() && w.events.is_empty());
        assert_eq!(w.rejections.len(), 1);
        assert_eq!(w.rejections[0].technician, Some(stranger));
    }

    /// A whole visit in one batch: one view write, equal to folding the log; every event in
    /// the technician's feed in order; the photo recorded.
    #[test]
    fn one_view_write_per_job_equals_the_fold_of_its_log() {
        let (org, tech) = (Uuid::now_v7(), Uuid::now_v7());
        let (job, desk_events, loaded) = stored_job(org, tech);
        let at = |m| t0() + Duration::minutes(m);
        let mine = vec![
            tech_event(job, tech, at(10), EventBody::JobAccepted),
            tech_event(
                job,
                tech,
                at(15),
                EventBody::AppointmentBooked {
                    at: at(20),
                    note: String::new(),
                },
            ),
            tech_event(job, tech, at(20), EventBody::CheckedIn { location: None }),
            tech_event(job, tech, at(30), photo(PhotoCategory::Completion, 1)),
        ];
        let events = incoming(&mine);
        let rb = rulebook();
        let batch = Batch {
            org,
            writer: technician(tech),
            rulebook: &rb,
            events: &events,
            lang: Lang::En,
        };
        let plan = plan(batch, loaded).unwrap();
        assert!(
            plan.results
                .iter()
                .all(|r| r.status == PushStatus::Accepted),
            "{:?}",
            plan.results
        );
        let w = plan.writes.unwrap();
        let log: Vec<Event> = desk_events.into_iter().chain(mine).collect();
        assert_eq!(w.views, vec![rb.replay(&log).unwrap()]);
        assert_eq!(
            w.feed,
            (0..4)
                .map(|event| FeedRow::Event {
                    technician: tech,
                    event
                })
                .collect::<Vec<_>>()
        );
        assert_eq!(w.photos.len(), 1);
        assert_eq!(w.photos[0].event_id, log[5].id);
    }

    /// A reassignment: the new technician gets the whole history (this event included), then
    /// the former one learns of it; their later late event goes back to them as well as to
    /// the new holder.
    #[test]
    fn a_reassignment_feeds_the_new_technician_the_history_and_the_former_one_the_news() {
        let (org, first, second) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let (job, _, loaded) = stored_job(org, first);
        let desk = Desk::default();
        let events = incoming(&[desk.event(
            job,
            t0() + Duration::hours(1),
            EventBody::JobAssigned {
                technician_id: second,
            },
        )]);
        let rb = rulebook();
        let batch = Batch {
            org,
            writer: Writer::Dispatcher {
                dispatcher_id: desk.dispatcher_id,
            },
            rulebook: &rb,
            events: &events,
            lang: Lang::En,
        };
        let w = plan(batch, loaded.clone()).unwrap().writes.unwrap();
        assert_eq!(w.assignments, vec![(job, second)]);
        assert_eq!(
            w.feed,
            vec![
                FeedRow::History {
                    technician: second,
                    job,
                    through: 0
                },
                FeedRow::Event {
                    technician: first,
                    event: 0
                },
            ]
        );
        assert_eq!(w.views[0].technician_id, Some(second));

        // The former holder's late call, pushed afterwards: kept, and echoed to both.
        let mut after = loaded;
        after
            .jobs
            .insert(job, StoredJob::Ours(Box::new(w.views[0].clone())));
        let late = incoming(&[tech_event(
            job,
            first,
            t0() + Duration::minutes(30),
            EventBody::JobAccepted,
        )]);
        let batch = Batch {
            org,
            writer: technician(first),
            rulebook: &rb,
            events: &late,
            lang: Lang::En,
        };
        let p = plan(batch, after).unwrap();
        assert_eq!(p.results[0].status, PushStatus::Accepted, "{:?}", p.results);
        assert!(p.results[0].flags.contains(&EventFlag::FormerTechnician));
        assert_eq!(
            p.writes.unwrap().feed,
            vec![
                FeedRow::Event {
                    technician: second,
                    event: 0
                },
                FeedRow::Event {
                    technician: first,
                    event: 0
                },
            ]
        );
    }

    /// A desk request refused after some of its events were accepted stores none of them.
    #[test]
    fn a_desk_request_refused_midway_stores_nothing_of_what_came_before() {
        let (org, tech, desk) = (Uuid::now_v7(), Uuid::now_v7(), Desk::default());
        let (job, mut events) = desk.new_job(JobKind::Install, tech, t0());
        // Cancelling twice: the second is refused.
        for _ in 0..2 {
            events.push(desk.event(
                job,
                t0() + Duration::minutes(5),
                EventBody::JobCancelled {
                    reason: "duplicate order".into(),
                },
            ));
        }
        let events = incoming(&events);
        let rb = rulebook();
        let batch = Batch {
            org,
            writer: Writer::Dispatcher {
                dispatcher_id: desk.dispatcher_id,
            },
            rulebook: &rb,
            events: &events,
            lang: Lang::ZhCn,
        };
        let plan = plan(batch, Loaded::default()).unwrap();
        assert_eq!(
            statuses(&plan),
            [
                PushStatus::Accepted,
                PushStatus::Accepted,
                PushStatus::Accepted,
                PushStatus::Rejected
            ]
        );
        assert_eq!(plan.writes, None);
    }
}

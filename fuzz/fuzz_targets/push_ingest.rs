//! Any bytes as the body of `POST /v1/sync/push`. What parses as a `PushRequest` goes through the
//! server's own steps: each event's time is placed by `correct_event_time` (at a fixed arrival
//! time) exactly as `api::device::push` does, and each event is decided on by
//! `sync_server::ingest::decide`, the function both storage backends call, against the job as
//! the server's log holds it. The log is kept in memory by [`Ledger`], a reference written apart
//! from the server: duplicate ids, who was ever assigned a job, the view created by the first
//! event and changed by each accepted one. The same events then go through
//! `sync_server::ingest::plan`, the batch planner both databases run, over [`Shadow`], an
//! in-memory database that only loads and applies (runs of the device's events as one batch,
//! each desk event as its own request); both must end with the same views and stored events.
//!
//! A technician cannot create a job, so on its own a push would only ever meet unknown jobs.
//! Events the push attributes to a dispatcher are therefore taken as the desk acting at that
//! point (stamped with the server's time, as `api::dispatcher::desk` stamps them); every other
//! event comes from the pushing device, whose technician is the one its first event names.
//!
//! Asserted: no panic anywhere; a placed time lies in the documented window; an event whose time
//! was refused is never accepted, and an accepted one always carries the server's time; every
//! accepted event and view reads back from the JSON the server stores; the rulebook's promises
//! (`fieldcore_fuzz::invariants`); each job's view equals the fold of its accepted events; the
//! planner agrees with the reference, and its feed rows name events it stores.
#![no_main]

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use chrono::{DateTime, TimeZone, Utc};
use fieldcore::domain::{Actor, Event, EventBody, JobView, Lang, Rule, Rulebook};
use fieldcore::protocol::{EventFlag, PushRequest, correct_event_time};
use fieldcore_fuzz::clock::assert_within_window;
use fieldcore_fuzz::invariants::apply_checked;
use fieldcore_fuzz::stored::{assert_view_is_fold_of_log, through_json};
use libfuzzer_sys::fuzz_target;
use sync_server::ingest::{
    Batch, Decision, FeedRow, Loaded, RejectReason, StoredEvent, StoredJob, Visible, decide, plan,
};
use sync_server::storage::{Incoming, Writer};
use uuid::Uuid;

/// The default organisation's rules (parsed once: the checklist ships as JSON).
static RULEBOOK: LazyLock<Rulebook> = LazyLock::new(Rulebook::default);
/// The handler refuses a longer batch whole, before any event is looked at.
static MAX_PUSH_EVENTS: LazyLock<usize> =
    LazyLock::new(|| sync_server::Config::default().max_push_events);

/// When the push arrives, on the server's clock.
fn received_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0)
        .single()
        .expect("a valid date")
}

fuzz_target!(|data: &[u8]| {
    let Ok(push) = serde_json::from_slice::<PushRequest>(data) else {
        return;
    };
    if push.events.len() > *MAX_PUSH_EVENTS {
        return;
    }
    let sender = push
        .events
        .iter()
        .find_map(|e| match e.actor {
            Actor::Technician { technician_id, .. } => Some(technician_id),
            Actor::Dispatcher { .. } => None,
        })
        .unwrap_or_else(Uuid::nil);
    let device = Writer::Technician {
        technician_id: sender,
        device_id: push.device_id,
        public_key: None,
    };
    let mut ledger = Ledger::default();
    // The same events in requests: runs of the device's, and each desk event alone.
    let mut requests: Vec<(Writer, Vec<Incoming>)> = Vec::new();
    for event in push.events {
        let (writer, incoming) = match event.actor {
            Actor::Dispatcher { dispatcher_id } => {
                (Writer::Dispatcher { dispatcher_id }, from_desk(event))
            }
            Actor::Technician { .. } => (
                device,
                from_device(event, push.sent_at, push.sent_monotonic_ms),
            ),
        };
        ledger.append(&RULEBOOK, writer, incoming.clone());
        match requests.last_mut() {
            Some((w, batch)) if *w == writer && matches!(writer, Writer::Technician { .. }) => {
                batch.push(incoming)
            }
            _ => requests.push((writer, vec![incoming])),
        }
    }
    ledger.check(&RULEBOOK);
    let mut shadow = Shadow::default();
    for (writer, events) in &requests {
        shadow.push(&RULEBOOK, *writer, events);
    }
    assert_eq!(
        shadow.views, ledger.views,
        "the planner's views differ from the reference"
    );
    let stored: HashSet<&Uuid> = shadow.homes.keys().collect();
    let reference: HashSet<&Uuid> = ledger.jobs_of.keys().collect();
    assert_eq!(
        stored, reference,
        "the planner stored other events than the reference"
    );
});

/// The one organisation of the fuzzed pushes.
const ORG: Uuid = Uuid::from_u128(0x0f1e_1dc0);

/// A database that only loads and applies, in memory: what `storage/{sqlite,postgres}/push.rs`
/// do around `ingest::plan`.
#[derive(Debug, Default)]
struct Shadow {
    views: HashMap<Uuid, JobView>,
    /// Stored event id → its job.
    homes: HashMap<Uuid, Uuid>,
    assigned: HashSet<(Uuid, Uuid)>,
}

impl Shadow {
    fn push(&mut self, rulebook: &Rulebook, writer: Writer, events: &[Incoming]) {
        let batch = Batch {
            org: ORG,
            writer,
            rulebook,
            events,
            lang: Lang::ZhCn,
        };
        let wanted = batch.wanted();
        let mut loaded = Loaded::default();
        for id in &wanted.event_ids {
            if let Some(job) = self.homes.get(id) {
                loaded.events.insert(
                    *id,
                    StoredEvent {
                        org: ORG,
                        job: *job,
                    },
                );
            }
        }
        for job in &wanted.job_ids {
            if let Some(v) = self.views.get(job) {
                loaded
                    .jobs
                    .insert(*job, StoredJob::Ours(Box::new(v.clone())));
            }
            if let Some(t) = wanted.technician
                && self.assigned.contains(&(*job, t))
            {
                loaded.assigned.insert(*job);
            }
        }
        let planned = plan(batch, loaded).expect("a plan for any batch");
        assert!(planned.results.len() <= events.len());
        let Some(w) = planned.writes else {
            return;
        };
        for row in &w.feed {
            let (FeedRow::Event { event, .. } | FeedRow::History { through: event, .. }) = *row;
            assert!(event < w.events.len(), "a feed row names no stored event");
        }
        for v in w.views {
            self.views.insert(v.id, v);
        }
        for e in &w.events {
            assert!(
                self.homes.insert(e.event.id, e.event.job_id).is_none(),
                "stored twice"
            );
        }
        self.assigned.extend(w.assignments);
    }
}

/// As `api::device::push` prepares a device's event: the server places its time, and the
/// device's own `corrected_at` is never believed.
fn from_device(mut event: Event, sent_at: DateTime<Utc>, sent_monotonic_ms: i64) -> Incoming {
    match correct_event_time(&event, sent_at, sent_monotonic_ms, received_at()) {
        Ok(corrected) => {
            assert_within_window(&corrected, received_at());
            event.corrected_at = Some(corrected.at);
            Incoming {
                event,
                flags: corrected.flags,
                refused: None,
            }
        }
        Err(refusal) => {
            assert_eq!(refusal.rule, Rule::ImplausibleTime, "{refusal:?}");
            event.corrected_at = None;
            Incoming {
                event,
                flags: Vec::new(),
                refused: Some(refusal),
            }
        }
    }
}

/// As `api::dispatcher::desk` makes a desk event: the server's time, no device clocks.
fn from_desk(event: Event) -> Incoming {
    Incoming {
        event: Event {
            recorded_at: received_at(),
            monotonic_ms: None,
            device_seq: None,
            clock_offset_ms: None,
            corrected_at: Some(received_at()),
            ..event
        },
        flags: Vec::new(),
        refused: None,
    }
}

/// One organisation's log, in memory: what `append_tx` reads and writes in SQLite around
/// `decide`.
#[derive(Debug, Default)]
struct Ledger {
    /// Each job's view (`jobs.view_json`).
    views: HashMap<Uuid, JobView>,
    /// Each job's accepted events, in log order (`events` by `seq`).
    logs: HashMap<Uuid, Vec<Event>>,
    /// The job of every accepted event id (`events.id`).
    jobs_of: HashMap<Uuid, Uuid>,
    /// (job, technician) for everyone ever assigned the job (`job_technicians`).
    assigned: HashSet<(Uuid, Uuid)>,
}

impl Ledger {
    fn append(&mut self, rulebook: &Rulebook, writer: Writer, incoming: Incoming) {
        let event = &incoming.event;
        // Seen before: a duplicate (same job) or an id taken elsewhere; either way not decided.
        if self.jobs_of.contains_key(&event.id) {
            return;
        }
        let view = self.views.get(&event.job_id);
        let visible = match (view, writer) {
            (Some(v), Writer::Dispatcher { .. }) => Visible::Yes(v),
            (Some(v), Writer::Technician { technician_id, .. })
                if self.assigned.contains(&(event.job_id, technician_id)) =>
            {
                Visible::Yes(v)
            }
            _ => Visible::No,
        };
        let flags = match decide(rulebook, writer, visible, &incoming) {
            Decision::Reject(reason) => {
                // Recorded in English, answered in the sender's language: both must render.
                let _ = (
                    reason.rule(),
                    reason.message(Lang::En),
                    reason.message(Lang::ZhCn),
                );
                if let (Some(refused), RejectReason::Refused(r)) = (&incoming.refused, &reason) {
                    assert_eq!(r, refused, "a time refusal answered with another rule");
                }
                return;
            }
            Decision::Accept(flags) => flags,
        };
        assert!(
            incoming.refused.is_none(),
            "accepted an event whose time was refused"
        );
        assert!(
            event.corrected_at.is_some(),
            "accepted an event without the server's time"
        );
        assert!(
            flags.starts_with(&incoming.flags),
            "the clock's flags were lost: {flags:?}"
        );
        // What the feed will hand a phone must read back.
        through_json(event, "an accepted event");
        let kept = flags.iter().any(|f| {
            matches!(
                f,
                EventFlag::AfterCancellation | EventFlag::FormerTechnician
            )
        });
        match self.views.entry(event.job_id) {
            Entry::Occupied(mut v) => apply_checked(rulebook, v.get_mut(), event, kept),
            Entry::Vacant(slot) => {
                let Some(created) = JobView::created(event).filter(|_| !kept) else {
                    panic!(
                        "{:?} accepted on a job that does not exist",
                        event.body.kind()
                    );
                };
                slot.insert(created);
            }
        }
        if let EventBody::JobAssigned { technician_id } = event.body {
            self.assigned.insert((event.job_id, technician_id));
        }
        self.jobs_of.insert(event.id, event.job_id);
        self.logs
            .entry(event.job_id)
            .or_default()
            .push(incoming.event);
    }

    /// At the end of the batch each view is written as JSON; it must read back as written and
    /// equal the fold of its job's log.
    fn check(&self, rulebook: &Rulebook) {
        for (job, view) in &self.views {
            let stored = through_json(view, "a job view");
            assert_eq!(
                &stored, view,
                "a job view reads back different from what was written"
            );
            let log = self.logs.get(job).map_or(&[][..], Vec::as_slice);
            assert_view_is_fold_of_log(rulebook, Some(view), log);
        }
    }
}

//! Sample orders, desk events and a settable clock, shared by the tests of every crate.
//! Compiled only with the `fixtures` feature: none of it ships in the app.

use std::sync::Mutex;

use chrono::{DateTime, Duration, TimeZone, Utc};
use uuid::Uuid;

use crate::domain::{
    Actor, CallOutcome, Event, EventBody, FeeBasis, JobKind, JobOrder, Packaging, PhotoCategory,
    PhotoRef, SignatureRef,
};
use crate::store::{Clock, Store};

/// A fixed moment tests start from: Monday 2026-11-23 09:00 in Shanghai.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0)
        .single()
        .expect("valid time")
}

pub fn order(kind: JobKind) -> JobOrder {
    JobOrder {
        kind,
        customer_name: "王女士".into(),
        address: "上海市浦东新区世纪大道 100 号 12 楼".into(),
        phone: "+86 138 0000 0000".into(),
        product_model: "KFR-35GW".into(),
        purchase_date: None,
        work: match kind {
            JobKind::Repair => "not cooling".into(),
            _ => "install the air conditioner".into(),
        },
        ordering_party: "Example Mall".into(),
        severity: (kind == JobKind::Repair).then_some(2),
        fee_basis: FeeBasis::InWarranty,
        requires_verification: true,
        expected_pieces: (kind == JobKind::DeliveryInstall).then_some(2),
    }
}

/// Events the desk makes, stamped with its own (server) time.
#[derive(Debug, Clone, Copy)]
pub struct Desk {
    pub dispatcher_id: Uuid,
}

impl Default for Desk {
    fn default() -> Self {
        Desk {
            dispatcher_id: Uuid::now_v7(),
        }
    }
}

impl Desk {
    pub fn event(&self, job_id: Uuid, at: DateTime<Utc>, body: EventBody) -> Event {
        Event {
            id: Uuid::now_v7(),
            job_id,
            actor: Actor::Dispatcher {
                dispatcher_id: self.dispatcher_id,
            },
            recorded_at: at,
            monotonic_ms: None,
            device_seq: None,
            clock_offset_ms: None,
            corrected_at: None,
            body,
            seal: None,
        }
    }

    /// A new job, created at `at` and assigned to `technician_id` two minutes later.
    pub fn new_job(
        &self,
        kind: JobKind,
        technician_id: Uuid,
        at: DateTime<Utc>,
    ) -> (Uuid, Vec<Event>) {
        let job_id = Uuid::now_v7();
        let events = vec![
            self.event(job_id, at, created(order(kind))),
            self.event(
                job_id,
                at + Duration::minutes(2),
                EventBody::JobAssigned { technician_id },
            ),
        ];
        (job_id, events)
    }
}

/// A customer's signature as a pad records it: two wavy strokes of 30 points, 16 ms apart.
#[cfg(feature = "photo")]
pub fn pad_signature() -> crate::photo::Signature {
    use crate::photo::{Point, Signature, Stroke};
    let stroke = |y: f32| Stroke {
        points: (0..30)
            .map(|i| Point {
                x: 20.0 + i as f32 * 12.0,
                y: y + (i as f32 * 0.5).sin() * 30.0,
                t_ms: i * 16,
            })
            .collect(),
    };
    Signature {
        width: 480,
        height: 240,
        strokes: vec![stroke(80.0), stroke(150.0)],
    }
}

/// On an enrolled `store`: a new install job from `desk` for the store's technician, accepted
/// and booked for an hour after [`t0`]. Where most store tests begin.
pub fn booked_job(store: &Store, desk: &Desk) -> Uuid {
    let technician = store
        .technician_id()
        .expect("read the device")
        .expect("enrol the store first");
    let (job, events) = desk.new_job(JobKind::Install, technician, t0());
    store.apply_remote(&events).expect("job");
    store.act(job, EventBody::JobAccepted).expect("accept");
    store
        .act(
            job,
            EventBody::AppointmentBooked {
                at: t0() + Duration::hours(1),
                note: String::new(),
            },
        )
        .expect("book");
    job
}

/// [`booked_job`], with the technician checked in on site.
pub fn job_on_site(store: &Store, desk: &Desk) -> Uuid {
    let job = booked_job(store, desk);
    store
        .act(job, EventBody::CheckedIn { location: None })
        .expect("check in");
    job
}

/// A technician's event, for rule tests that run without a store.
pub fn tech_event(job_id: Uuid, technician_id: Uuid, at: DateTime<Utc>, body: EventBody) -> Event {
    Event {
        id: Uuid::now_v7(),
        job_id,
        actor: Actor::Technician {
            technician_id,
            device_id: Uuid::nil(),
        },
        recorded_at: at,
        monotonic_ms: None,
        device_seq: None,
        clock_offset_ms: None,
        corrected_at: None,
        body,
        seal: None,
    }
}

/// The desk's creation of a job with this order (unnumbered, as before job numbers).
pub fn created(order: JobOrder) -> EventBody {
    EventBody::JobCreated {
        order,
        number: None,
    }
}

/// A well-formed (fake) SHA-256 for photo records in rule tests.
pub fn sha(n: u32) -> String {
    format!("{n:064x}")
}

pub fn photo(category: PhotoCategory, n: u32) -> EventBody {
    EventBody::PhotoCaptured {
        photo: PhotoRef {
            photo_id: Uuid::now_v7(),
            category,
            sha256: sha(n),
            location: None,
        },
    }
}

pub fn signature() -> EventBody {
    EventBody::SignatureCaptured {
        signature: SignatureRef {
            signature_id: Uuid::now_v7(),
            strokes_sha256: sha(999),
            stroke_count: 4,
        },
    }
}

/// Every technician action of a clean visit of this kind, in order, from acceptance to
/// check-out, with the appointment at `appointment`. `checklist_ids` are the items to answer.
pub fn clean_visit(
    kind: JobKind,
    appointment: DateTime<Utc>,
    checklist_ids: &[String],
) -> Vec<EventBody> {
    let mut out = vec![EventBody::JobAccepted];
    if kind == JobKind::DeliveryInstall {
        out.push(EventBody::LogisticsArrived {
            arrived_at: appointment - Duration::hours(20),
            note: String::new(),
        });
    }
    out.push(EventBody::CustomerCallLogged {
        outcome: CallOutcome::Reached,
        note: "visit booked".into(),
    });
    out.push(EventBody::AppointmentBooked {
        at: appointment,
        note: String::new(),
    });
    if kind == JobKind::DeliveryInstall {
        out.push(photo(PhotoCategory::Pickup, 1));
        out.push(EventBody::PickupRecorded {
            pieces: 2,
            packaging: Packaging::Intact,
            note: String::new(),
        });
    }
    out.push(EventBody::CheckedIn { location: None });
    for id in checklist_ids {
        out.push(EventBody::ChecklistAnswered {
            item_id: id.clone(),
            answer: true,
            note: String::new(),
        });
    }
    out.push(EventBody::WorkMarkedDone {
        note: String::new(),
    });
    out.push(photo(PhotoCategory::Completion, 2));
    out.push(photo(PhotoCategory::Completion, 3));
    out.push(signature());
    out.push(photo(PhotoCategory::Receipt, 4));
    out.push(EventBody::ConfirmationCodeEntered {
        code: "834201".into(),
    });
    out.push(EventBody::JobCompleted {
        note: String::new(),
    });
    out.push(EventBody::CheckedOut);
    out
}

/// A clock tests move by hand. Its monotonic reading advances with it unless told otherwise,
/// so tests can make the wall clock jump alone.
#[derive(Debug)]
pub struct ManualClock {
    state: Mutex<(DateTime<Utc>, i64)>,
}

impl ManualClock {
    pub fn new(now: DateTime<Utc>) -> Self {
        ManualClock {
            state: Mutex::new((now, 1_000_000)),
        }
    }

    pub fn advance(&self, by: Duration) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.0 += by;
        s.1 += by.num_milliseconds();
    }

    /// The user changes the phone's clock: wall time moves, monotonic time does not.
    pub fn set_wall(&self, to: DateTime<Utc>) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).0 = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).0
    }

    fn monotonic_ms(&self) -> i64 {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).1
    }
}

/// A phone's evidence chain in memory, as the store keeps it on disk (ADR 0016, 0017): its
/// key, its head, each job's head and its sequence.
#[derive(Debug)]
pub struct Chain {
    pub key: crate::domain::chain::DeviceKey,
    pub head: String,
    pub job_heads: std::collections::HashMap<Uuid, String>,
    pub seq: i64,
}

impl Chain {
    pub fn new() -> Chain {
        let key = crate::domain::chain::DeviceKey::generate().expect("a key");
        let head = crate::domain::chain::genesis(key.public_key());
        Chain {
            key,
            head,
            job_heads: Default::default(),
            seq: 0,
        }
    }

    /// Number `e` and seal it after the device's last event and after its job's.
    pub fn seal(&mut self, e: &mut Event) {
        self.seq += 1;
        e.device_seq = Some(self.seq);
        let job_prev = self
            .job_heads
            .get(&e.job_id)
            .cloned()
            .unwrap_or_else(|| crate::domain::chain::job_start(&e.job_id));
        self.head = self.key.seal(e, &self.head, &job_prev);
        self.job_heads.insert(e.job_id, self.head.clone());
    }
}

impl Default for Chain {
    fn default() -> Chain {
        Chain::new()
    }
}

//! The device store on a real SQLite file: actions, queries, persistence, migrations.

use std::sync::Arc;

use chrono::Duration;
use fieldcore::domain::{
    ActionKind, CallOutcome, EventBody, JobKind, JobStatus, Rule, Rulebook, TimerKind,
};
use fieldcore::fixtures::{self, Desk, ManualClock, t0};
use fieldcore::store::{ActionError, Clock, JobFilter, PushState, SCHEMA_V1, Store, StoreError};
use rusqlite::{Connection, params};
use uuid::Uuid;

struct Device {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    store: Store,
    clock: Arc<ManualClock>,
    tech: Uuid,
    desk: Desk,
}

fn device() -> Device {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("device.db");
    let clock = Arc::new(ManualClock::new(t0()));
    let store = Store::open_with_clock(&path, Rulebook::default(), clock.clone()).expect("open");
    let tech = Uuid::now_v7();
    store.set_technician(tech).expect("enrol");
    Device {
        _dir: dir,
        path,
        store,
        clock,
        tech,
        desk: Desk::default(),
    }
}

impl Device {
    /// A job arrives from the server, assigned to this device's technician.
    fn receive_job(&self, kind: JobKind) -> Uuid {
        let (job_id, events) = self.desk.new_job(kind, self.tech, self.clock.now());
        let applied = self.store.apply_remote(&events).expect("apply");
        assert_eq!(applied.applied, 2);
        job_id
    }

    fn act(&self, job: Uuid, body: EventBody) -> fieldcore::domain::Event {
        self.clock.advance(Duration::minutes(3));
        let kind = body.kind();
        self.store
            .act(job, body)
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"))
    }

    fn reopen(self) -> Device {
        let Device {
            _dir,
            path,
            store,
            clock,
            tech,
            desk,
        } = self;
        drop(store);
        let store =
            Store::open_with_clock(&path, Rulebook::default(), clock.clone()).expect("reopen");
        Device {
            _dir,
            path,
            store,
            clock,
            tech,
            desk,
        }
    }
}

fn required_ids() -> Vec<String> {
    Rulebook::default()
        .checklist
        .required()
        .map(|i| i.id.clone())
        .collect()
}

#[test]
fn a_whole_visit_is_recorded_in_the_outbox_in_device_order() {
    let d = device();
    let job = d.receive_job(JobKind::DeliveryInstall);
    let appointment = t0() + Duration::hours(3);
    let visit = fixtures::clean_visit(JobKind::DeliveryInstall, appointment, &required_ids());
    let n = visit.len();
    for body in visit {
        d.act(job, body);
    }
    let detail = d.store.job(job).expect("query").expect("job");
    assert_eq!(detail.status, JobStatus::Completed);
    assert_eq!(detail.timeline.len(), n + 2, "2 desk events + every action");
    assert_eq!(d.store.outbox_len().expect("outbox"), n as u64);

    let pending = d.store.pending_events(1000).expect("pending");
    let seqs: Vec<i64> = pending.iter().filter_map(|e| e.device_seq).collect();
    assert_eq!(
        seqs,
        (1..=n as i64).collect::<Vec<_>>(),
        "contiguous, in order"
    );
    let mut ids: Vec<Uuid> = pending.iter().map(|e| e.id).collect();
    assert!(ids.iter().all(|id| id.get_version_num() == 7), "UUIDv7 ids");
    ids.dedup();
    assert_eq!(ids.len(), n);
    // Device wall time and monotonic reading on every event.
    assert!(pending.iter().all(|e| e.monotonic_ms.is_some()));
    assert!(
        pending
            .windows(2)
            .all(|w| w[0].recorded_at < w[1].recorded_at)
    );
}

#[test]
fn a_refused_action_leaves_no_trace() {
    let d = device();
    let job = d.receive_job(JobKind::Install);
    d.act(job, EventBody::JobAccepted);
    let before_view = d.store.view(job).expect("view");
    let before_outbox = d.store.outbox_len().expect("outbox");
    let err = d
        .store
        .act(job, EventBody::CheckedIn { location: None })
        .expect_err("no appointment yet");
    match err {
        ActionError::Refused(r) => assert_eq!(r.rule, Rule::CheckInNeedsAppointment),
        other => panic!("unexpected {other}"),
    }
    assert_eq!(d.store.view(job).expect("view"), before_view);
    assert_eq!(d.store.outbox_len().expect("outbox"), before_outbox);
    // The sequence has no gap: the refused action did not consume a number.
    let e = d.act(
        job,
        EventBody::CustomerCallLogged {
            outcome: CallOutcome::Reached,
            note: String::new(),
        },
    );
    assert_eq!(e.device_seq, Some(2));
}

#[test]
fn unknown_jobs_and_unenrolled_devices_get_typed_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("d.db"), Rulebook::default()).expect("open");
    assert!(matches!(
        store.act(Uuid::now_v7(), EventBody::JobAccepted),
        Err(ActionError::NotEnrolled)
    ));
    store.set_technician(Uuid::now_v7()).expect("enrol");
    match store.act(Uuid::now_v7(), EventBody::JobAccepted) {
        Err(ActionError::Refused(r)) => assert_eq!(r.rule, Rule::UnknownJob),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn everything_survives_a_reopen() {
    let d = device();
    let job = d.receive_job(JobKind::Install);
    d.act(job, EventBody::JobAccepted);
    let device_id = d.store.device_id();
    let view = d.store.view(job).expect("view");
    let d = d.reopen();
    assert_eq!(
        d.store.device_id(),
        device_id,
        "the device keeps its identity"
    );
    assert_eq!(d.store.technician_id().expect("tech"), Some(d.tech));
    assert_eq!(d.store.view(job).expect("view"), view);
    let e = d.act(
        job,
        EventBody::CustomerCallLogged {
            outcome: CallOutcome::Reached,
            note: String::new(),
        },
    );
    assert_eq!(e.device_seq, Some(2), "the sequence goes on where it was");
}

#[test]
fn my_jobs_by_status_and_by_day() {
    let d = device();
    let today = d.receive_job(JobKind::Install);
    let tomorrow = d.receive_job(JobKind::Repair);
    let unbooked = d.receive_job(JobKind::Install);
    // A job assigned to someone else never shows on this device's list.
    let (other_job, events) = d.desk.new_job(JobKind::Install, Uuid::now_v7(), t0());
    d.store.apply_remote(&events).expect("apply");

    d.act(today, EventBody::JobAccepted);
    d.act(
        today,
        EventBody::AppointmentBooked {
            at: t0() + Duration::hours(5),
            note: String::new(),
        },
    );
    d.act(tomorrow, EventBody::JobAccepted);
    d.act(
        tomorrow,
        EventBody::AppointmentBooked {
            at: t0() + Duration::hours(26),
            note: String::new(),
        },
    );

    let all = d.store.jobs(&JobFilter::default()).expect("jobs");
    let ids: Vec<Uuid> = all.iter().map(|j| j.id).collect();
    assert_eq!(
        ids,
        vec![today, tomorrow, unbooked],
        "appointment order, unbooked last"
    );
    assert!(!ids.contains(&other_job));

    let day = t0().date_naive(); // 09:00 in Shanghai: the same local day
    let on_day = d
        .store
        .jobs(&JobFilter {
            day: Some(day),
            ..Default::default()
        })
        .expect("jobs");
    assert_eq!(on_day.iter().map(|j| j.id).collect::<Vec<_>>(), vec![today]);
    assert_eq!(on_day[0].appointment_day, Some(day));

    let assigned = d
        .store
        .jobs(&JobFilter {
            statuses: vec![JobStatus::Assigned],
            ..Default::default()
        })
        .expect("jobs");
    assert_eq!(
        assigned.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![unbooked]
    );
}

#[test]
fn a_reschedule_too_close_to_another_visit_shows_on_both_jobs_until_it_moves_away() {
    let d = device();
    let first = d.receive_job(JobKind::Install);
    let second = d.receive_job(JobKind::Repair);
    for (job, hours) in [(first, 5), (second, 8)] {
        d.act(job, EventBody::JobAccepted);
        d.act(
            job,
            EventBody::AppointmentBooked {
                at: t0() + Duration::hours(hours),
                note: String::new(),
            },
        );
    }
    let conflicts = |d: &Device| {
        d.store
            .jobs(&JobFilter::default())
            .expect("jobs")
            .into_iter()
            .map(|j| (j.id, j.schedule_conflicts))
            .collect::<Vec<_>>()
    };
    assert!(conflicts(&d).iter().all(|(_, c)| c.is_empty()));

    // 45 minutes after the first visit begins: a 90-minute visit and 30 of travel do not fit.
    let reschedule = |at| EventBody::AppointmentRescheduled {
        at,
        reason: "customer asked".into(),
        customer_consented: true,
    };
    d.act(second, reschedule(t0() + Duration::minutes(5 * 60 + 45)));
    let listed = conflicts(&d);
    let of = |job: Uuid| &listed.iter().find(|(id, _)| *id == job).expect("listed").1;
    assert_eq!(of(first).len(), 1);
    assert_eq!(of(first)[0].other_job_id, second);
    assert_eq!(of(first)[0].short_by_minutes, 75);
    assert_eq!(of(second)[0].other_job_id, first);
    let detail = d.store.job(second).expect("job").expect("exists");
    assert_eq!(&detail.schedule_conflicts, of(second));

    d.act(second, reschedule(t0() + Duration::hours(7)));
    assert!(conflicts(&d).iter().all(|(_, c)| c.is_empty()));
}

#[test]
fn one_job_with_timeline_next_actions_and_timers() {
    let d = device();
    let job = d.receive_job(JobKind::Install);
    d.act(job, EventBody::JobAccepted);
    let detail = d.store.job(job).expect("query").expect("job");
    assert_eq!(detail.status, JobStatus::Accepted);
    assert_eq!(detail.timeline.len(), 3);
    assert_eq!(detail.timeline[0].push_state, PushState::Remote);
    assert_eq!(detail.timeline[2].push_state, PushState::Pending);
    assert!(detail.next_actions.contains(&ActionKind::AppointmentBooked));
    assert!(!detail.next_actions.contains(&ActionKind::JobAccepted));
    let completion = detail
        .timers
        .iter()
        .find(|t| t.kind == TimerKind::Completion)
        .expect("completion clock runs from acceptance");
    assert_eq!(completion.remaining_secs, 48 * 3600);
    assert!(d.store.job(Uuid::now_v7()).expect("query").is_none());
}

#[test]
fn pushed_results_leave_the_outbox_and_rejections_stay_visible() {
    let d = device();
    let job = d.receive_job(JobKind::Install);
    let a = d.act(job, EventBody::JobAccepted);
    let b = d.act(
        job,
        EventBody::CustomerCallLogged {
            outcome: CallOutcome::NoAnswer,
            note: String::new(),
        },
    );
    d.store
        .mark_pushed(&[
            (a.id, PushState::Accepted, None),
            (b.id, PushState::Rejected, Some("job_cancelled".into())),
        ])
        .expect("mark");
    assert_eq!(d.store.outbox_len().expect("outbox"), 0);
    let detail = d.store.job(job).expect("query").expect("job");
    let rejected = detail
        .timeline
        .iter()
        .find(|t| t.event.id == b.id)
        .expect("still on the timeline");
    assert_eq!(rejected.push_state, PushState::Rejected);
    assert_eq!(rejected.push_note.as_deref(), Some("job_cancelled"));
}

#[test]
fn remote_pages_applied_twice_change_nothing() {
    let d = device();
    let (job, events) = d.desk.new_job(JobKind::Install, d.tech, t0());
    assert_eq!(d.store.apply_remote(&events).expect("apply").applied, 2);
    let view = d.store.view(job).expect("view");
    let again = d.store.apply_remote(&events).expect("apply");
    assert_eq!((again.applied, again.already_known), (0, 2));
    assert_eq!(d.store.view(job).expect("view"), view);
    // An event for a job this device never heard of is not invented into a job.
    let stray = d.desk.event(
        Uuid::now_v7(),
        t0(),
        EventBody::JobCancelled { reason: "x".into() },
    );
    assert_eq!(d.store.apply_remote(&[stray]).expect("apply").orphaned, 1);
}

#[test]
fn a_cancellation_from_the_desk_stops_local_actions() {
    let d = device();
    let job = d.receive_job(JobKind::Install);
    d.act(job, EventBody::JobAccepted);
    let cancel = d.desk.event(
        job,
        t0() + Duration::hours(1),
        EventBody::JobCancelled {
            reason: "customer withdrew".into(),
        },
    );
    d.store.apply_remote(&[cancel]).expect("apply");
    match d.store.act(
        job,
        EventBody::CustomerCallLogged {
            outcome: CallOutcome::Reached,
            note: String::new(),
        },
    ) {
        Err(ActionError::Refused(r)) => assert_eq!(r.rule, Rule::JobCancelled),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        d.store.job(job).expect("q").expect("job").status,
        JobStatus::Cancelled
    );
}

/// A pull's pages mark the jobs they touch and the views are rebuilt once, after the last page
/// (one rebuild per job per pull, not per page). Nothing reads a stale view meanwhile: an action
/// and every read settle first, and a pull cut off between pages (the app killed) is settled by
/// the next open.
#[test]
fn a_pull_cut_between_pages_leaves_no_stale_view_behind() {
    let d = device();
    let job = d.receive_job(JobKind::Install);
    let cancel = |at| {
        d.desk.event(
            job,
            at,
            EventBody::JobCancelled {
                reason: "customer withdrew".into(),
            },
        )
    };
    let stored_status = |path: &std::path::Path| -> String {
        Connection::open(path)
            .expect("open")
            .query_row(
                "SELECT status FROM jobs WHERE id = ?1",
                params![job.to_string()],
                |r| r.get(0),
            )
            .expect("row")
    };
    d.store
        .apply_pull_page(&[cancel(t0() + Duration::hours(1))], &[10], "cursor", "c1")
        .expect("page");
    assert_eq!(
        stored_status(&d.path),
        "assigned",
        "the page only marks the job"
    );
    // The killed app: the next open rebuilds before anything reads.
    let d = d.reopen();
    assert_eq!(stored_status(&d.path), "cancelled");
    assert_eq!(d.store.settle().expect("settle"), 0);

    // Reads and actions settle too.
    let job2 = d.receive_job(JobKind::Install);
    let cancel2 = d.desk.event(
        job2,
        t0() + Duration::hours(2),
        EventBody::JobCancelled {
            reason: "customer withdrew".into(),
        },
    );
    d.store
        .apply_pull_page(&[cancel2], &[11], "cursor", "c2")
        .expect("page");
    assert!(matches!(
        d.store.act(job2, EventBody::JobAccepted),
        Err(ActionError::Refused(r)) if r.rule == Rule::JobCancelled
    ));
    assert_eq!(
        d.store.job(job2).expect("q").expect("job").status,
        JobStatus::Cancelled
    );
}

/// A database made by the first schema version, with work in it, upgrades in place the way a
/// phone would on an app update: nothing lost, new columns backfilled.
#[test]
fn upgrade_from_schema_version_1_keeps_every_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("old.db");
    let desk = Desk::default();
    let tech = Uuid::now_v7();
    let (job_id, events) = desk.new_job(JobKind::Install, tech, t0());
    let rules = Rulebook::default();
    let mut view = rules.replay(&events).expect("view");
    let booked = fixtures::tech_event(
        job_id,
        tech,
        t0() + Duration::minutes(5),
        EventBody::AppointmentBooked {
            at: t0() + Duration::hours(15), // 00:00 next day in Shanghai
            note: String::new(),
        },
    );
    rules.apply(&mut view, &booked);
    {
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch(SCHEMA_V1).expect("v1 schema");
        conn.pragma_update(None, "user_version", 1)
            .expect("version");
        conn.execute(
            "INSERT INTO device (singleton, device_id, technician_id, last_seq) VALUES (1, ?1, ?2, 7)",
            params![Uuid::now_v7().to_string(), tech.to_string()],
        )
        .expect("device");
        conn.execute(
            "INSERT INTO jobs (id, kind, status, technician_id, appointment_at, view, updated_at)
             VALUES (?1, 'install', 'assigned', ?2, ?3, ?4, ?5)",
            params![
                job_id.to_string(),
                tech.to_string(),
                view.appointment_at
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
                serde_json::to_string(&view).expect("json"),
                t0().to_rfc3339(),
            ],
        )
        .expect("job");
        for (i, e) in events.iter().chain([&booked]).enumerate() {
            conn.execute(
                "INSERT INTO events (id, job_id, origin, kind, device_seq, recorded_at, body, push_state)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    e.id.to_string(),
                    job_id.to_string(),
                    if i < 2 { "remote" } else { "local" },
                    e.body.kind().as_str(),
                    if i < 2 { None } else { Some(7) },
                    e.recorded_at.to_rfc3339(),
                    serde_json::to_string(e).expect("json"),
                    if i < 2 { "remote" } else { "pending" },
                ],
            )
            .expect("event");
        }
    }

    let store = Store::open(&path, Rulebook::default()).expect("upgrade");
    let version: u32 = Connection::open(&path)
        .expect("open")
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(version, fieldcore::store::CURRENT_VERSION);
    assert_eq!(store.events_of(job_id).expect("events").len(), 3);
    assert_eq!(store.outbox_len().expect("outbox"), 1);
    assert_eq!(store.view(job_id).expect("view"), Some(view));
    // 16:00 UTC on the 23rd is midnight on the 24th in Shanghai.
    let next_day = chrono::NaiveDate::from_ymd_opt(2026, 11, 24).expect("date");
    let on_day = store
        .jobs(&JobFilter {
            day: Some(next_day),
            ..Default::default()
        })
        .expect("jobs");
    assert_eq!(
        on_day.len(),
        1,
        "the appointment day was backfilled in local time"
    );
    assert!(store.photos_awaiting_upload().expect("photos").is_empty());
    store.check_integrity().expect("intact");
    // The next action continues the old sequence.
    store.set_technician(tech).expect("tech");
    let e = store.act(job_id, EventBody::JobAccepted).expect("act");
    assert_eq!(e.device_seq, Some(8));
}

#[test]
fn a_database_from_a_newer_app_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("future.db");
    {
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch("CREATE TABLE precious (x); INSERT INTO precious VALUES (42);")
            .expect("data");
        conn.pragma_update(None, "user_version", 99)
            .expect("version");
    }
    match Store::open(&path, Rulebook::default()) {
        Err(StoreError::NewerSchema { found, supported }) => {
            assert_eq!(found, 99);
            assert_eq!(supported, fieldcore::store::CURRENT_VERSION);
        }
        other => panic!("unexpected {other:?}"),
    }
    let conn = Connection::open(&path).expect("open");
    let x: i64 = conn
        .query_row("SELECT x FROM precious", [], |r| r.get(0))
        .expect("data still there");
    assert_eq!(x, 42);
}

#[test]
fn the_store_runs_in_wal_with_full_sync_and_foreign_keys() {
    let d = device();
    let settings = d.store.settings().expect("settings");
    assert_eq!(settings.journal_mode, "wal");
    assert_eq!(settings.synchronous, 2, "FULL");
    assert!(settings.foreign_keys);
    let conn = Connection::open(&d.path).expect("open");
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("mode");
    assert_eq!(
        mode, "wal",
        "WAL is a property of the file, seen by any connection"
    );
}

/// Security finding: the server refuses over-long text; the phone must refuse it first, through
/// the same rulebook, so nothing it cannot send ever reaches its outbox.
#[test]
fn the_phone_refuses_an_over_long_note_before_it_is_recorded() {
    let d = device();
    let job = d.receive_job(JobKind::Install);
    d.act(job, EventBody::JobAccepted);
    let before = d.store.outbox_len().expect("outbox");
    let err = d
        .store
        .act(
            job,
            EventBody::CustomerCallLogged {
                outcome: fieldcore::domain::CallOutcome::Reached,
                note: "n".repeat(15 * 1024),
            },
        )
        .expect_err("15 KB note");
    match err {
        ActionError::Refused(r) => assert_eq!(r.rule, Rule::InvalidInput),
        other => panic!("unexpected {other}"),
    }
    assert_eq!(d.store.outbox_len().expect("outbox"), before);
}

/// Each event the store records is sealed after the device's previous one and after the
/// device's previous one of the same job (ADR 0016, 0017), also across a reopen: two jobs
/// worked in turn give one device chain and one chain per job.
#[test]
fn every_event_is_sealed_in_the_device_s_chain_and_in_its_job_s() {
    use fieldcore::domain::chain::{genesis, job_start, link, verify};
    let d = device();
    let (a, b) = (
        d.receive_job(JobKind::Install),
        d.receive_job(JobKind::Repair),
    );
    let call = |n: &str| EventBody::CustomerCallLogged {
        outcome: CallOutcome::Reached,
        note: n.into(),
    };
    let mut events = vec![
        d.act(a, EventBody::JobAccepted),
        d.act(b, EventBody::JobAccepted),
        d.act(a, call("a")),
    ];
    let d = d.reopen();
    events.push(d.act(b, call("b")));
    events.push(d.act(a, call("a again")));

    let key = d.store.public_key().expect("a key");
    let mut at = genesis(&key);
    let mut job_at = std::collections::HashMap::new();
    for e in &events {
        at = verify(e, &key, &at).expect("in the device's chain");
        let seal = e.seal.as_ref().expect("sealed");
        let expected = job_at
            .get(&e.job_id)
            .cloned()
            .unwrap_or_else(|| job_start(&e.job_id));
        assert_eq!(seal.job_prev, expected, "{:?}", e.body.kind());
        job_at.insert(e.job_id, link(e).unwrap());
    }
}

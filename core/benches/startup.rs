//! Phone start-up: what the technician waits for between tapping the app and seeing today's jobs,
//! and between tapping a job and seeing it. The store a busy phone holds after months of work:
//! 1 000 jobs and 50 000 events (50 per job: creation, assignment, acceptance, booking, calls),
//! appointments spread over 50 days, a fifth of the jobs with an action of this device's own.
//!
//! Timed, each from a fresh process state as far as the store goes:
//! - `startup_list`: `Store::open` of the existing file + `jobs` for one day (target <= 20 ms);
//! - `job_detail`: `Store::job` (view, timeline, next actions, timers) on an open store
//!   (target <= 5 ms).
//!
//! References in the same run, on the same file: a bare rusqlite open + `SELECT view` of that
//! day's rows (no JSON decoded), and a bare `SELECT` of the job's event rows. They are the floor
//! SQLite sets on this machine; each `ratio` line is ours / that floor.
//!
//! Run: `cargo bench -p fieldcore --bench startup`

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{Duration as Span, NaiveDate};
use fieldcore::domain::{CallOutcome, EventBody, JobKind, Rulebook};
use fieldcore::fixtures::{Desk, t0, tech_event};
use fieldcore::store::{JobFilter, Store};
use rusqlite::{Connection, OpenFlags, params};
use uuid::Uuid;

const JOBS: usize = 1_000;
const EVENTS_PER_JOB: usize = 50;
const DAYS: i64 = 50;
const RUNS: usize = 30;

fn main() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let path = dir.path().join("device.db");
    let (day, job) = fill(&path);

    let filter = JobFilter {
        statuses: Vec::new(),
        day: Some(day),
    };
    let (mut list, mut list_ref, mut detail, mut detail_ref) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut listed = 0;
    let mut timeline = 0;
    for run in 0..=RUNS {
        // Alternate ours and the reference so drift on a noisy machine hits both alike.
        let start = Instant::now();
        let store = Store::open(&path, Rulebook::default()).expect("open");
        let jobs = store.jobs(&filter).expect("jobs");
        let t_list = start.elapsed();
        listed = jobs.len();

        let start = Instant::now();
        let rows = bare_list(&path, day);
        let t_list_ref = start.elapsed();
        assert_eq!(rows, listed, "the reference reads the same rows");

        let start = Instant::now();
        let detail_of = store.job(job).expect("job").expect("there");
        let t_detail = start.elapsed();
        timeline = detail_of.timeline.len();
        drop(store);

        let conn =
            Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open");
        let start = Instant::now();
        let events = bare_events(&conn, job);
        let t_detail_ref = start.elapsed();
        assert_eq!(events, timeline, "the reference reads the same events");

        if run > 0 {
            list.push(t_list);
            list_ref.push(t_list_ref);
            detail.push(t_detail);
            detail_ref.push(t_detail_ref);
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let (a, b, c, d) = (
        median(list),
        median(list_ref),
        median(detail),
        median(detail_ref),
    );
    println!(
        "store jobs {JOBS} events {} day {day} listed {listed} timeline {timeline}",
        JOBS * EVENTS_PER_JOB
    );
    println!(
        "startup_list median_ms {:.2} bare_open_select_ms {:.2}",
        ms(a),
        ms(b)
    );
    println!(
        "job_detail median_ms {:.2} bare_select_events_ms {:.2}",
        ms(c),
        ms(d)
    );
    println!("ratio startup_list {:.2}", ms(a) / ms(b));
    println!("ratio job_detail {:.2}", ms(c) / ms(d));
}

/// The store a busy phone holds; returns a day with appointments and a job of that day.
fn fill(path: &Path) -> (NaiveDate, Uuid) {
    let store = Store::open(path, Rulebook::default()).expect("open");
    let me = Uuid::now_v7();
    store.set_technician(me).expect("enrol");
    let desk = Desk::default();
    let mut ids = Vec::with_capacity(JOBS);
    for i in 0..JOBS {
        let created = t0() + Span::minutes(i as i64);
        let (job, mut events) = desk.new_job(JobKind::Install, me, created);
        let at = |m: i64| created + Span::minutes(3 + m);
        events.push(tech_event(job, me, at(0), EventBody::JobAccepted));
        let day = i as i64 % DAYS;
        events.push(tech_event(
            job,
            me,
            at(1),
            EventBody::AppointmentBooked {
                at: t0() + Span::days(day) + Span::hours(9) + Span::minutes(i as i64 % 480),
                note: String::new(),
            },
        ));
        while events.len() < EVENTS_PER_JOB {
            let n = events.len() as i64;
            events.push(tech_event(
                job,
                me,
                at(n),
                EventBody::CustomerCallLogged {
                    outcome: CallOutcome::Reached,
                    note: format!("call {n}: customer confirmed the address and the parking"),
                },
            ));
        }
        store.apply_remote(&events).expect("apply");
        ids.push(job);
    }
    // A fifth of the jobs carry an action of this device's own (its outbox and local events).
    for job in ids.iter().step_by(5) {
        store
            .act(
                *job,
                EventBody::CustomerCallLogged {
                    outcome: CallOutcome::NoAnswer,
                    note: String::new(),
                },
            )
            .expect("act");
    }
    let job = ids[JOBS / 2];
    let day = store
        .jobs(&JobFilter::default())
        .expect("jobs")
        .into_iter()
        .find(|j| j.id == job)
        .and_then(|j| j.appointment_day)
        .expect("booked");
    (day, job)
}

fn bare_list(path: &Path, day: NaiveDate) -> usize {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open");
    count_rows(
        &conn,
        "SELECT view FROM jobs WHERE appointment_day = ?1 ORDER BY appointment_at",
        day.to_string(),
    )
}

fn bare_events(conn: &Connection, job: Uuid) -> usize {
    count_rows(
        conn,
        "SELECT body FROM events WHERE job_id = ?1",
        job.to_string(),
    )
}

/// Read every row's text (what the store reads, without decoding it) and count the non-empty.
fn count_rows(conn: &Connection, sql: &str, key: String) -> usize {
    let mut stmt = conn.prepare(sql).expect("prepare");
    let rows = stmt
        .query_map(params![key], |r| r.get::<_, String>(0))
        .expect("query");
    rows.map(|r| r.expect("row").len())
        .filter(|&n| n > 0)
        .count()
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

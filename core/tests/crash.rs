//! Crash test: a child process records actions as fast as it can and is SIGKILLed at a random
//! moment, 60 times over. After each kill the store is reopened and must hold every action the
//! child had acknowledged, each one whole (event, sequence number and job view together).

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use fieldcore::domain::{CallOutcome, EventBody, ExceptionKind, Rulebook};
use fieldcore::fixtures::{Desk, job_on_site};
use fieldcore::store::Store;
use rusqlite::Connection;
use uuid::Uuid;

const CHILD_ENV: &str = "FIELDCORE_CRASH_CHILD_DB";
const ROUNDS: u64 = 60;

/// Not a test on its own: the body of the child process the crash test starts and kills.
#[test]
#[ignore = "run by `acknowledged_actions_survive_sigkill` as its child process"]
fn crash_child_writer() {
    let Ok(db) = std::env::var(CHILD_ENV) else {
        return;
    };
    let store = Store::open(&db, Rulebook::default()).expect("child opens the store");
    let job: Uuid = std::env::var("FIELDCORE_CRASH_CHILD_JOB")
        .expect("job id")
        .parse()
        .expect("uuid");
    let items: Vec<String> = Rulebook::default()
        .checklist
        .items
        .iter()
        .map(|i| i.id.clone())
        .collect();
    let mut out = std::io::stdout().lock();
    for n in 0u64.. {
        // A mix of actions that can repeat forever on a job that is on site.
        let body = match n % 3 {
            0 => EventBody::CustomerCallLogged {
                outcome: CallOutcome::Reached,
                note: format!("call {n}"),
            },
            1 => EventBody::ChecklistAnswered {
                item_id: items[n as usize % items.len()].clone(),
                answer: n % 7 != 0,
                note: String::new(),
            },
            _ => EventBody::ExceptionRaised {
                exception_id: Uuid::now_v7(),
                kind: ExceptionKind::LateArrival,
                note: format!("note {n}"),
                photo_ids: vec![],
            },
        };
        let event = store.act(job, body).expect("action");
        // The acknowledgement goes out only after `act` returned: from here the action is owed.
        writeln!(out, "ack {}", event.id).expect("stdout");
        out.flush().expect("flush");
    }
}

/// A small deterministic generator, so a failing round can be run again.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

#[test]
fn acknowledged_actions_survive_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("crash.db");
    let job = {
        let store = Store::open(&db, Rulebook::default()).expect("open");
        store.set_technician(Uuid::now_v7()).expect("enrol");
        job_on_site(&store, &Desk::default())
    };

    let exe = std::env::current_exe().expect("test binary");
    let mut rng = Lcg(0x5eed);
    let mut acked: HashSet<Uuid> = HashSet::new();
    let mut killed_mid_stream = 0;
    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .args(["crash_child_writer", "--exact", "--ignored", "--nocapture"])
            .env(CHILD_ENV, &db)
            .env("FIELDCORE_CRASH_CHILD_JOB", job.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("stdout");
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|l| {
                    l.strip_prefix("ack ")
                        .and_then(|id| id.parse::<Uuid>().ok())
                })
                .collect::<Vec<_>>()
        });
        std::thread::sleep(Duration::from_millis(40 + rng.next(250)));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        let round_acks = reader.join().expect("reader");
        if !round_acks.is_empty() {
            killed_mid_stream += 1;
        }
        acked.extend(round_acks);

        // Reopen as the app would after the crash, and check everything owed is there, whole.
        let store = Store::open(&db, Rulebook::default())
            .unwrap_or_else(|e| panic!("round {round}: reopen failed: {e}"));
        store.check_integrity().expect("integrity");
        let log = store.events_of(job).expect("log");
        let ids: HashSet<Uuid> = log.iter().map(|e| e.id).collect();
        let lost: Vec<_> = acked.difference(&ids).collect();
        assert!(
            lost.is_empty(),
            "round {round}: acknowledged but lost: {lost:?}"
        );
        assert_eq!(
            store.rulebook().replay(&log),
            store.view(job).expect("view"),
            "round {round}: the job view is not the fold of its log (half-applied action)"
        );
        let conn = Connection::open(&db).expect("open");
        let (last_seq, max_seq, pending): (i64, i64, i64) = conn
            .query_row(
                "SELECT (SELECT last_seq FROM device),
                        (SELECT max(device_seq) FROM events),
                        (SELECT count(*) FROM events WHERE push_state = 'pending')",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .expect("counters");
        assert_eq!(
            last_seq, max_seq,
            "round {round}: sequence counter and log disagree"
        );
        assert_eq!(
            pending, max_seq,
            "round {round}: every local event is in the outbox, no gap"
        );
    }
    assert!(
        killed_mid_stream >= ROUNDS / 2,
        "the child was killed before writing anything in most rounds ({killed_mid_stream}/{ROUNDS}): the test proves nothing"
    );
    assert!(
        acked.len() > 100,
        "too few actions to mean anything: {}",
        acked.len()
    );
}

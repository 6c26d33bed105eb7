//! Over a slow link a push's body takes seconds to arrive. The events keep the times they
//! happened at: the server counts back from when the push began to arrive, not from its last
//! byte (ADR 0013).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use fieldcore::domain::{CallOutcome, EventBody, JobKind};
use fieldcore_e2e::proxy::{FaultProxy, Faults};
use fieldcore_e2e::{Device, Server};

#[test]
fn events_pushed_over_a_slow_link_keep_the_times_they_happened_at() {
    let server = Server::start();
    let desk = server.desk("Acme Slow");
    let tech = desk.technician("Zhou Min");
    let job = desk.job(
        JobKind::Install,
        tech,
        Utc::now() + chrono::Duration::hours(20),
    );
    let proxy = FaultProxy::start(server.addr, Faults::none(), 0x5105);
    let phone = Device::new(&proxy.url());
    phone.enroll(&desk.code(tech));
    phone.sync().expect("first sync");
    phone.act(job, EventBody::JobAccepted);
    for i in 0..9 {
        phone.act(
            job,
            EventBody::CustomerCallLogged {
                outcome: CallOutcome::Reached,
                note: format!(
                    "call {i}: {}",
                    "the customer explains the way in. ".repeat(25)
                ),
            },
        );
    }

    proxy.set_faults(Faults {
        rate_bytes_per_sec: 4_000,
        ..Faults::none()
    });
    let started = Instant::now();
    phone.sync().expect("sync over the slow link");
    assert!(
        started.elapsed() > Duration::from_secs(2),
        "the push took seconds to arrive ({:?}): the test proves little",
        started.elapsed()
    );

    let detail = desk.job_detail(job);
    let time = |v: &serde_json::Value| {
        v.as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| panic!("a time: {v}"))
    };
    let mut checked = 0;
    for t in detail["timeline"].as_array().expect("timeline") {
        let e = &t["event"];
        if e["actor"]["role"] != "technician" {
            continue;
        }
        let late = time(&e["corrected_at"]) - time(&e["recorded_at"]);
        assert!(
            late.num_milliseconds().abs() < 1_000,
            "{}: placed {late} from when it happened",
            e["body"]["type"]
        );
        checked += 1;
    }
    assert_eq!(checked, 10, "every field event was checked");
}

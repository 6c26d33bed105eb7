//! Each person sees their own (design.md invariant 6), checked with real phones: a technician's
//! device neither reads nor writes another technician's or another organisation's jobs and
//! photos; a revoked device is refused; forged and expired enrolment codes are refused.

use chrono::{Duration, Utc};
use fieldcore::domain::{EventBody, JobKind, PhotoCategory};
use fieldcore::fixtures::tech_event;
use fieldcore::protocol::{PushRequest, PushResponse, PushStatus};
use fieldcore::store::Clock;
use fieldcore::sync::SyncError;
use fieldcore_e2e::{Device, Server};

#[test]
fn phones_see_and_touch_only_their_own_technicians_jobs() {
    let server = Server::start();
    let acme = server.desk("Acme");
    let rival = server.desk("Rival Co");
    let mine = acme.technician("Li Wei");
    let colleague = acme.technician("Zhang Min");
    let stranger = rival.technician("Chen Jie");
    let soon = Utc::now() + Duration::hours(20);
    let my_job = acme.job(JobKind::Install, mine, soon);
    let colleagues_job = acme.job(JobKind::Install, colleague, soon);
    let rival_job = rival.job(JobKind::Install, stranger, soon);
    let events_before = |desk: &fieldcore_e2e::Desk, job| {
        desk.job_detail(job)["timeline"]
            .as_array()
            .expect("timeline")
            .len()
    };
    let (colleague_before, rival_before) = (
        events_before(&acme, colleagues_job),
        events_before(&rival, rival_job),
    );

    let phone = Device::new(&server.url());
    phone.enroll(&acme.code(mine));
    phone.sync().expect("sync");
    assert_eq!(
        phone.store.job_ids().expect("ids"),
        vec![my_job],
        "only my own job arrives"
    );

    // Forge events for the others' jobs and push them with this phone's real token.
    let token = phone
        .store
        .sync_value("device_token")
        .expect("token")
        .expect("enrolled");
    let technician = phone
        .store
        .technician_id()
        .expect("tech")
        .expect("enrolled");
    let forged: Vec<_> = [colleagues_job, rival_job]
        .into_iter()
        .map(|job| {
            let mut e = tech_event(job, technician, Utc::now(), EventBody::JobAccepted);
            e.actor = fieldcore::domain::Actor::Technician {
                technician_id: technician,
                device_id: phone.store.device_id(),
            };
            e
        })
        .collect();
    let clock = fieldcore::store::SystemClock;
    let res: PushResponse = reqwest::blocking::Client::new()
        .post(format!("{}/v1/sync/push", server.url()))
        .bearer_auth(&token)
        .json(&PushRequest {
            device_id: phone.store.device_id(),
            sent_at: clock.now(),
            sent_monotonic_ms: clock.monotonic_ms(),
            events: forged,
            public_key: None,
        })
        .send()
        .expect("push")
        .json()
        .expect("json");
    for r in &res.results {
        assert_eq!(r.status, PushStatus::Rejected);
        assert_eq!(
            r.rule.as_deref(),
            Some("unknown_job"),
            "no hint the job exists"
        );
    }
    // Nothing reached those jobs.
    assert_eq!(events_before(&acme, colleagues_job), colleague_before);
    assert_eq!(events_before(&rival, rival_job), rival_before);
    let (status, _) = acme.get(&format!("/v1/jobs/{rival_job}"));
    assert_eq!(
        status, 404,
        "a dispatcher sees nothing of another organisation"
    );

    // Photos: the rival desk cannot fetch ours.
    phone.act(my_job, EventBody::JobAccepted);
    phone.act(my_job, EventBody::CheckedIn { location: None });
    let photo = phone.photo(my_job, PhotoCategory::Completion, 7);
    phone.sync().expect("sync");
    let (status, _) = acme.get_bytes(&format!("/v1/photos/{}", photo.photo_id));
    assert_eq!(status, 200);
    let (status, _) = rival.get_bytes(&format!("/v1/photos/{}", photo.photo_id));
    assert_eq!(status, 404);
}

#[test]
fn a_revoked_phone_is_refused_and_keeps_its_unsynced_work() {
    let server = Server::start();
    let desk = server.desk("Acme");
    let tech = desk.technician("Li Wei");
    let job = desk.job(JobKind::Install, tech, Utc::now() + Duration::hours(20));
    let phone = Device::new(&server.url());
    phone.enroll(&desk.code(tech));
    phone.sync().expect("sync");
    phone.act(job, EventBody::JobAccepted);

    let (status, devices) = desk.get("/v1/devices");
    assert_eq!(status, 200);
    let device_id = devices
        .as_array()
        .and_then(|d| d.first())
        .and_then(|d| d["id"].as_str())
        .expect("the phone is listed")
        .to_string();
    let (status, body) = desk.post(
        &format!("/v1/devices/{device_id}/revoke"),
        serde_json::json!({}),
    );
    assert!(status.is_success(), "{status} {body}");

    assert!(matches!(phone.sync(), Err(SyncError::Unauthorized)));
    assert_eq!(
        phone.store.outbox_len().expect("outbox"),
        1,
        "nothing lost locally"
    );
    // Enrolled again with a new code, the same phone delivers what it kept.
    phone.enroll(&desk.code(tech));
    phone.sync().expect("sync after re-enrolment");
    assert_eq!(phone.store.outbox_len().expect("outbox"), 0);
    let detail = desk.job_detail(job);
    assert!(
        detail["view"]["accepted_at"].is_string(),
        "the kept acceptance arrived"
    );
    assert_eq!(detail["status"], "scheduled");
}

#[test]
fn forged_used_and_expired_enrolment_codes_are_refused() {
    let server = Server::start();
    let desk = server.desk("Acme");
    let tech = desk.technician("Li Wei");
    let phone = Device::new(&server.url());
    let refused = |code: &str| {
        matches!(
            phone.client().enroll(&phone.store, code, "phone"),
            Err(SyncError::EnrolmentRefused(_))
        )
    };
    assert!(refused("FORGED1234"));

    let code = desk.code(tech);
    phone.enroll(&code);
    let second = Device::new(&server.url());
    assert!(
        matches!(
            second.client().enroll(&second.store, &code, "phone"),
            Err(SyncError::EnrolmentRefused(_))
        ),
        "a code is good for one device only"
    );

    let late = desk.code(tech);
    server
        .running()
        .state()
        .config
        .clock
        .advance(Duration::hours(25));
    assert!(refused(&late), "codes expire");
}

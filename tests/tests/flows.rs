//! Two technicians' phones, three jobs (one of each kind), worked offline and synced: the desk
//! sees every event and every photo exactly once, with the right status.

use std::collections::HashMap;

use chrono::{Duration, Utc};
use fieldcore::domain::{JobKind, JobStatus};
use fieldcore_e2e::{Device, Server, sha256_hex};
use serde_json::Value;
use uuid::Uuid;

fn count_by_id(items: &[Value], key: impl Fn(&Value) -> Option<String>) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for v in items {
        if let Some(k) = key(v) {
            *out.entry(k).or_insert(0) += 1;
        }
    }
    out
}

#[test]
fn two_devices_three_jobs_every_event_and_photo_reaches_the_desk_once() {
    let server = Server::start_with(|c| {
        c.rate_limit_per_second = 1000.0;
        c.rate_limit_burst = 1000.0;
    });
    let desk = server.desk("Acme Install");
    let li = desk.technician("Li Wei");
    let zhang = desk.technician("Zhang Min");
    let tomorrow = Utc::now() + Duration::hours(20);
    let install = desk.job(JobKind::Install, li, tomorrow);
    let delivery = desk.job(JobKind::DeliveryInstall, li, tomorrow + Duration::hours(3));
    let repair = desk.job(JobKind::Repair, zhang, tomorrow);

    let phone_li = Device::new(&server.url());
    phone_li.enroll(&desk.code(li));
    let phone_zhang = Device::new(&server.url());
    phone_zhang.enroll(&desk.code(zhang));

    // First sync: each phone receives exactly its own jobs.
    phone_li.sync().expect("sync");
    phone_zhang.sync().expect("sync");
    let mut li_jobs: Vec<Uuid> = phone_li.store.job_ids().expect("ids");
    li_jobs.sort();
    let mut expected = vec![install, delivery];
    expected.sort();
    assert_eq!(li_jobs, expected);
    assert_eq!(phone_zhang.store.job_ids().expect("ids"), vec![repair]);

    // The visits happen offline; then the phones sync.
    phone_li.clean_visit(install, JobKind::Install, 100);
    phone_li.clean_visit(delivery, JobKind::DeliveryInstall, 200);
    phone_zhang.clean_visit(repair, JobKind::Repair, 300);
    let r = phone_li.sync().expect("sync");
    assert_eq!(r.rejected, 0, "{r:?}");
    // Install: 2 completion, receipt, signature. Delivery: the same plus the pickup photo.
    assert_eq!(r.photos_uploaded, 9, "{r:?}");
    let r = phone_zhang.sync().expect("sync");
    assert_eq!(r.rejected, 0, "{r:?}");
    assert_eq!(r.photos_uploaded, 4);
    // A second sync has nothing left to do.
    let again = phone_li.sync().expect("sync");
    assert_eq!((again.events_sent, again.photos_uploaded), (0, 0));
    assert_eq!(phone_li.store.outbox_len().expect("outbox"), 0);

    for (phone, job) in [
        (&phone_li, install),
        (&phone_li, delivery),
        (&phone_zhang, repair),
    ] {
        let detail = desk.job_detail(job);
        assert_eq!(detail["status"], JobStatus::Completed.as_str(), "{job}");
        let timeline = detail["timeline"].as_array().expect("timeline");
        let counts = count_by_id(timeline, |t| t["event"]["id"].as_str().map(str::to_string));
        let local = phone.store.events_of(job).expect("events");
        for e in &local {
            assert_eq!(
                counts.get(&e.id.to_string()),
                Some(&1),
                "event {} ({}) must be on the server exactly once",
                e.id,
                e.body.kind().as_str()
            );
        }
        assert_eq!(timeline.len(), local.len(), "nothing extra on the server");
        // Each event has the three times the desk needs.
        for t in timeline {
            assert!(t["server_received_at"].is_string(), "{t}");
        }

        let photos = detail["photos"].as_array().expect("photos");
        let counts = count_by_id(photos, |p| p["photo_id"].as_str().map(str::to_string));
        let view = phone.store.view(job).expect("view").expect("job");
        assert_eq!(photos.len(), view.photos.len());
        for p in &view.photos {
            assert_eq!(counts.get(&p.photo_id.to_string()), Some(&1));
            let on_server = photos
                .iter()
                .find(|s| s["photo_id"] == p.photo_id.to_string())
                .expect("photo");
            assert_eq!(on_server["uploaded"], true, "{on_server}");
            assert_eq!(on_server["sha256"], p.sha256);
            let (status, bytes) = desk.get_bytes(&format!("/v1/photos/{}", p.photo_id));
            assert_eq!(status, 200);
            assert_eq!(
                sha256_hex(&bytes),
                p.sha256,
                "the desk gets the very bytes taken"
            );
        }
    }
}

/// The phone books the visit while offline; the desk booked it meanwhile. The phone's booking
/// is refused by the server (a booked visit moves only by rescheduling, with the customer's
/// consent), and a technician whose phone speaks Chinese reads why in Chinese, as they read the
/// phone's own refusals.
#[test]
fn a_refusal_by_the_server_reaches_the_phone_in_its_language() {
    use fieldcore::domain::{EventBody, Lang};
    use fieldcore::store::PushState;

    let server = Server::start();
    let desk = server.desk("Acme Install");
    let li = desk.technician("Li Wei");
    let (s, v) = desk.post(
        "/v1/jobs",
        serde_json::json!({
            "order": fieldcore::fixtures::order(JobKind::Install),
            "technician_id": li,
        }),
    );
    assert!(s.is_success(), "{v}");
    let job: uuid::Uuid = v["view"]["id"].as_str().unwrap().parse().unwrap();
    let mut phone = Device::new(&server.url());
    phone.lang = Lang::ZhCn;
    phone.enroll(&desk.code(li));
    phone.sync().expect("sync");
    phone.act(job, EventBody::JobAccepted);
    phone.sync().expect("sync");

    // The phone goes offline and books with the customer; the desk books meanwhile.
    let (status, body) = desk.post(
        &format!("/v1/jobs/{job}/appointment"),
        serde_json::json!({ "at": Utc::now() + Duration::hours(20) }),
    );
    assert!(status.is_success(), "{body}");
    let booking = phone.act(
        job,
        EventBody::AppointmentBooked {
            at: Utc::now() + Duration::hours(30),
            note: String::new(),
        },
    );
    let r = phone.sync().expect("sync");
    assert_eq!(r.rejected, 1, "{r:?}");

    let detail = phone.store.job(job).expect("read").expect("job");
    let entry = detail
        .timeline
        .iter()
        .find(|e| e.event.id == booking.id)
        .expect("the booking stays on the phone");
    assert_eq!(entry.push_state, PushState::Rejected);
    let note = entry.push_note.as_deref().expect("the server's reason");
    assert!(note.starts_with("already_recorded"), "{note}");
    assert!(
        note.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
        "{note}"
    );
}

//! The device and dispatcher APIs over a real socket and a real SQLite file.

mod common;

use std::collections::HashSet;

use chrono::Duration;
use common::*;
use fieldcore::domain::{CallOutcome, EventBody, PhotoCategory, PhotoRef};
use fieldcore::protocol::{EventFlag, PushStatus};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

fn call() -> EventBody {
    EventBody::CustomerCallLogged {
        outcome: CallOutcome::Reached,
        note: "ok".into(),
    }
}

fn assert_problem(v: &Value, status: u16, kind: &str) {
    assert_eq!(v["status"], status, "{v}");
    assert_eq!(v["type"], kind, "{v}");
    assert!(v["title"].is_string(), "{v}");
}

#[tokio::test]
async fn enrolment_takes_a_valid_code_once_and_refuses_forged_reused_and_expired_ones() {
    let w = World::start().await;
    let desk = w.desk("Acme").await;
    let tech = desk.technician("Li Wei").await;

    let code = desk.code(tech).await;
    let (s, v) = w.enroll(&code.to_lowercase(), Uuid::now_v7()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["technician_id"], tech.to_string());
    assert_eq!(v["organisation_name"], "Acme");
    assert!(v["policy"]["completion_hours"].is_number());
    assert!(v["checklist"]["items"].is_array());

    let (s, v) = w.enroll(&code, Uuid::now_v7()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "reused");
    assert_problem(&v, 401, "/problems/enrolment-code-invalid");

    let (s, _) = w.enroll("ABCDEFGHJK", Uuid::now_v7()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "forged");

    let late = desk.code(tech).await;
    w.server.state().config.clock.advance(Duration::hours(25));
    let (s, v) = w.enroll(&late, Uuid::now_v7()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "expired");
    assert_problem(&v, 401, "/problems/enrolment-code-invalid");
    w.server.shutdown().await;
}

#[tokio::test]
async fn push_accepts_answers_duplicate_on_retry_and_rejects_with_the_rule() {
    let w = World::start().await;
    let desk = w.desk("Acme").await;
    let tech = desk.technician("Li Wei").await;
    let phone = w.device(&desk, tech).await;
    let job = desk.job_for(tech).await;

    let batch = vec![
        phone.event(job, EventBody::JobAccepted),
        phone.event(job, call()),
        // Not checked in yet: the rulebook refuses.
        phone.event(
            job,
            EventBody::WorkMarkedDone {
                note: String::new(),
            },
        ),
    ];
    let r = phone.push(&batch).await;
    let statuses: Vec<_> = r.results.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            PushStatus::Accepted,
            PushStatus::Accepted,
            PushStatus::Rejected
        ]
    );
    assert_eq!(r.results[2].rule.as_deref(), Some("not_checked_in"));
    assert!(r.results[2].message.as_deref().unwrap().len() > 5);

    let again = phone.push(&batch).await;
    let statuses: Vec<_> = again.results.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            PushStatus::Duplicate,
            PushStatus::Duplicate,
            PushStatus::Rejected
        ]
    );

    // A phone set to Chinese reads the refusal in Chinese; the desk's record stays English.
    let english = again.results[2].message.clone().unwrap();
    let res = phone
        .http
        .post(format!("{}/v1/sync/push", phone.base))
        .bearer_auth(&phone.token)
        .header("Accept-Language", "zh-CN")
        .json(&fieldcore::protocol::PushRequest {
            device_id: phone.device_id,
            sent_at: chrono::Utc::now(),
            sent_monotonic_ms: 0,
            events: batch[2..].to_vec(),
            public_key: None,
        })
        .send()
        .await
        .unwrap();
    let zh: fieldcore::protocol::PushResponse = res.json().await.unwrap();
    assert_eq!(zh.results[0].rule.as_deref(), Some("not_checked_in"));
    let chinese = zh.results[0].message.clone().unwrap();
    assert_ne!(chinese, english);
    assert!(
        chinese
            .chars()
            .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
        "{chinese}"
    );

    let detail = desk.job(job).await;
    assert_eq!(detail["status"], "scheduled");
    assert_eq!(detail["rejections"][0]["rule"], "not_checked_in");
    assert_eq!(detail["rejections"][0]["message"], english.as_str());
    let timeline = detail["timeline"].as_array().unwrap();
    assert_eq!(
        timeline.len(),
        5,
        "created, assigned, booked, accepted, call"
    );
    assert!(timeline[3]["corrected_at"].is_string());
    assert!(timeline[3]["event"]["corrected_at"].is_string());

    // An event claiming another device's name is refused.
    let mut forged = phone.event(job, call());
    forged.actor = fieldcore::domain::Actor::Technician {
        technician_id: tech,
        device_id: Uuid::now_v7(),
    };
    let r = phone.push(&[forged]).await;
    assert_eq!(r.results[0].rule.as_deref(), Some("wrong_device"));

    // Too many events in one batch.
    let many: Vec<_> = (0..501).map(|_| phone.event(job, call())).collect();
    let res = phone.push_raw(&many).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    w.server.shutdown().await;
}

#[tokio::test]
async fn concurrent_pushes_of_the_same_batch_store_each_event_once() {
    let w = World::start().await;
    let desk = w.desk("Acme").await;
    let tech = desk.technician("Li Wei").await;
    let phone = std::sync::Arc::new(w.device(&desk, tech).await);
    let job = desk.job_for(tech).await;
    let mut batch = vec![phone.event(job, EventBody::JobAccepted)];
    batch.extend((0..20).map(|_| phone.event(job, call())));

    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (phone, batch) = (phone.clone(), batch.clone());
            tokio::spawn(async move { phone.push(&batch).await })
        })
        .collect();
    let mut accepted = std::collections::HashMap::<Uuid, usize>::new();
    for t in tasks {
        for r in t.await.unwrap().results {
            assert_ne!(r.status, PushStatus::Rejected, "{r:?}");
            if r.status == PushStatus::Accepted {
                *accepted.entry(r.event_id).or_default() += 1;
            }
        }
    }
    assert_eq!(accepted.len(), batch.len());
    assert!(accepted.values().all(|n| *n == 1));
    let timeline = desk.job(job).await["timeline"].as_array().unwrap().len();
    assert_eq!(timeline, 3 + batch.len());
    w.server.shutdown().await;
}

#[tokio::test]
async fn pull_pages_with_a_cursor_and_follows_assignment() {
    let w = World::start().await;
    let desk = w.desk("Acme").await;
    let a = desk.technician("A").await;
    let b = desk.technician("B").await;
    let phone_a = w.device(&desk, a).await;
    let phone_b = w.device(&desk, b).await;
    let job = desk.job_for(a).await;
    let mut mine = vec![phone_a.event(job, EventBody::JobAccepted)];
    mine.extend((0..10).map(|_| phone_a.event(job, call())));
    phone_a.push(&mine).await;

    // 3 desk events + 11 of the device's, in pages of 5.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = phone_a.pull(cursor.as_deref(), 5).await;
        pages += 1;
        assert!(page.events.len() <= 5);
        seen.extend(page.events.iter().map(|e| e.id));
        cursor = Some(page.next_cursor.clone());
        if !page.has_more {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 14);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 14);
    // Nothing new: an empty page, same cursor.
    let page = phone_a.pull(cursor.as_deref(), 5).await;
    assert!(page.events.is_empty() && !page.has_more);
    assert_eq!(Some(page.next_cursor), cursor);
    let res = phone_a.pull_raw(Some("not-a-cursor"), 5).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    assert!(phone_b.pull_all().await.is_empty(), "B has no jobs yet");

    // Reassign to B: B gets the whole history, A learns it lost the job.
    let (s, v) = desk
        .post(
            &format!("/v1/jobs/{job}/assign"),
            json!({"technician_id": b}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let feed_b = phone_b.pull_all().await;
    assert!(matches!(feed_b[0].body, EventBody::JobCreated { .. }));
    assert_eq!(feed_b.len(), 15);
    assert!(
        matches!(feed_b.last().unwrap().body, EventBody::JobAssigned { technician_id } if technician_id == b)
    );
    let after = phone_a.pull(cursor.as_deref(), 100).await;
    assert_eq!(after.events.len(), 1);
    assert!(
        matches!(after.events[0].body, EventBody::JobAssigned { technician_id } if technician_id == b)
    );

    // Later events reach B only; A may no longer write.
    let (s, _) = desk
        .post(
            &format!("/v1/jobs/{job}/cancel"),
            json!({"reason": "customer moved"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let later = phone_a.pull(Some(&after.next_cursor), 100).await;
    assert!(later.events.is_empty());
    assert!(matches!(
        phone_b.pull_all().await.last().unwrap().body,
        EventBody::JobCancelled { .. }
    ));
    // A's late work is a field fact: kept and flagged for the desk, not applied (ADR 0007).
    let r = phone_a.push(&[phone_a.event(job, call())]).await;
    assert_eq!(r.results[0].status, PushStatus::Accepted, "{r:?}");
    assert!(r.results[0].flags.contains(&EventFlag::FormerTechnician));
    let echo = phone_a.pull(Some(&after.next_cursor), 100).await;
    assert_eq!(echo.events.len(), 1, "A gets its own late event back");
    w.server.shutdown().await;
}

#[tokio::test]
async fn a_cancellation_reaches_the_device_and_a_later_field_event_is_kept_flagged() {
    let w = World::start().await;
    let desk = w.desk("Acme").await;
    let tech = desk.technician("Li Wei").await;
    let phone = w.device(&desk, tech).await;
    let job = desk.job_for(tech).await;
    phone
        .push(&[phone.event(job, EventBody::JobAccepted)])
        .await;

    let (s, v) = desk
        .post(&format!("/v1/jobs/{job}/cancel"), json!({"reason": "  "}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "blank reason");
    assert_problem(&v, 422, "/problems/rule-refused");
    assert_eq!(v["rule"], "invalid_input");
    let (s, _) = desk
        .post(
            &format!("/v1/jobs/{job}/cancel"),
            json!({"reason": "customer cancelled"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = desk
        .post(
            &format!("/v1/jobs/{job}/cancel"),
            json!({"reason": "again"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(v["rule"], "job_cancelled");

    let feed = phone.pull_all().await;
    assert!(matches!(
        feed.last().unwrap().body,
        EventBody::JobCancelled { .. }
    ));

    // The technician checked in offline before hearing of it.
    let late = phone.event(job, EventBody::CheckedIn { location: None });
    let r = phone.push(std::slice::from_ref(&late)).await;
    assert_eq!(r.results[0].status, PushStatus::Accepted);
    assert!(r.results[0].flags.contains(&EventFlag::AfterCancellation));
    let detail = desk.job(job).await;
    assert_eq!(detail["status"], "cancelled");
    assert_eq!(detail["view"]["flagged_events"][0], late.id.to_string());
    let last = detail["timeline"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["flags"][0], "after_cancellation");
    w.server.shutdown().await;
}

#[tokio::test]
async fn each_organisation_numbers_its_jobs_from_j_1001() {
    let w = World::start().await;
    let acme = w.desk("Acme").await;
    let bolt = w.desk("Bolt").await;
    let a = acme.technician("A").await;
    let b = bolt.technician("B").await;
    // A refused order uses no number: the desk's next job is still J-1001.
    let mut bad = fieldcore::fixtures::order(fieldcore::domain::JobKind::Install);
    bad.customer_name = "  ".into();
    let (status, v) = acme.post("/v1/jobs", json!({ "order": bad })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let mut numbers = Vec::new();
    for _ in 0..3 {
        let job = acme.job_for(a).await;
        numbers.push(acme.job(job).await["view"]["number"].clone());
    }
    let other = bolt.job_for(b).await;
    assert_eq!(numbers, [1001, 1002, 1003]);
    assert_eq!(bolt.job(other).await["view"]["number"], 1001);
    w.server.shutdown().await;
}

#[tokio::test]
async fn technicians_and_organisations_are_isolated() {
    let w = World::start().await;
    let desk_a = w.desk("Acme").await;
    let desk_b = w.desk("Bolt").await;
    let a = desk_a.technician("A").await;
    let a2 = desk_a.technician("A2").await;
    let b = desk_b.technician("B").await;
    let phone_a = w.device(&desk_a, a).await;
    let phone_a2 = w.device(&desk_a, a2).await;
    let phone_b = w.device(&desk_b, b).await;
    let job = desk_a.job_for(a).await;
    let photo = PhotoRef {
        photo_id: Uuid::now_v7(),
        category: PhotoCategory::Exception,
        sha256: "ab".repeat(32),
        location: None,
    };
    let r = phone_a
        .push(&[
            phone_a.event(job, EventBody::JobAccepted),
            phone_a.event(
                job,
                EventBody::PhotoCaptured {
                    photo: photo.clone(),
                },
            ),
        ])
        .await;
    assert!(r.results.iter().all(|r| r.status == PushStatus::Accepted));
    // The same bytes under a new photo id count once: the server's rulebook refuses them too.
    let same_bytes = PhotoRef {
        photo_id: Uuid::now_v7(),
        ..photo.clone()
    };
    let r = phone_a
        .push(&[phone_a.event(job, EventBody::PhotoCaptured { photo: same_bytes })])
        .await;
    assert_eq!(r.results[0].status, PushStatus::Rejected);
    assert_eq!(r.results[0].rule.as_deref(), Some("photo_already_on_job"));

    // Another technician of the same organisation, and one of another: unknown job.
    for other in [&phone_a2, &phone_b] {
        let r = other
            .push(&[other.event(job, EventBody::JobAccepted)])
            .await;
        assert_eq!(r.results[0].rule.as_deref(), Some("unknown_job"));
        assert!(other.pull_all().await.is_empty());
        let res = other
            .http
            .post(format!("{}/v1/uploads", other.base))
            .bearer_auth(&other.token)
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", "10")
            .header(
                "Upload-Metadata",
                sync_metadata(photo.photo_id, job, &photo.sha256),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }

    // The other organisation's desk sees nothing of it.
    let (s, v) = desk_b.get(&format!("/v1/jobs/{job}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_problem(&v, 404, "/problems/not-found");
    let (_, list) = desk_b.get("/v1/jobs").await;
    assert_eq!(list.as_array().unwrap().len(), 0);
    let (s, _) = desk_b.get(&format!("/v1/photos/{}", photo.photo_id)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = desk_b
        .post(
            &format!("/v1/jobs/{job}/cancel"),
            json!({"reason": "mine now"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = desk_b
        .post(&format!("/v1/technicians/{a}/enrolment-codes"), json!({}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = desk_a
        .post(
            &format!("/v1/jobs/{job}/assign"),
            json!({"technician_id": b}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "cannot assign another org's technician"
    );
    let (_, list) = desk_a.get("/v1/jobs?status=scheduled").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], job.to_string());
    assert_eq!(list[0]["breached"], false);
    let (_, list) = desk_a.get(&format!("/v1/jobs?technician_id={a2}")).await;
    assert_eq!(list.as_array().unwrap().len(), 0);
    w.server.shutdown().await;
}

pub fn sync_metadata(photo: Uuid, job: Uuid, sha: &str) -> String {
    use base64::Engine;
    let b = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    format!(
        "photo_id {},job_id {},sha256 {}",
        b(&photo.to_string()),
        b(&job.to_string()),
        b(sha)
    )
}

#[tokio::test]
async fn a_revoked_device_and_a_logged_out_desk_get_401() {
    let w = World::start().await;
    let desk = w.desk("Acme").await;
    let tech = desk.technician("Li Wei").await;
    let phone = w.device(&desk, tech).await;
    assert_eq!(phone.pull_raw(None, 10).await.status(), StatusCode::OK);
    let (_, devices) = desk.get("/v1/devices").await;
    assert_eq!(devices[0]["id"], phone.device_id.to_string());
    let (s, _) = desk
        .post(
            &format!("/v1/devices/{}/revoke", phone.device_id),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let res = phone.pull_raw(None, 10).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.headers()["content-type"],
        fieldcore::protocol::PROBLEM_CONTENT_TYPE
    );
    let v: Value = res.json().await.unwrap();
    assert_problem(&v, 401, "/problems/unauthorized");
    assert_eq!(phone.push_raw(&[]).await.status(), StatusCode::UNAUTHORIZED);

    let (s, me) = desk.get("/v1/me").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["organisation_name"], "Acme");
    let (s, _) = desk.post("/v1/auth/logout", json!({})).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = desk.get("/v1/me").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    let res = w
        .http
        .post(w.url("/v1/auth/login"))
        .json(&json!({"email": "desk@acme.example", "password": "wrong password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    w.server.shutdown().await;
}

#[tokio::test]
async fn desk_actions_go_through_the_rulebook_and_reach_the_feed() {
    let w = World::start().await;
    let desk = w.desk("Acme").await;
    let tech = desk.technician("Li Wei").await;
    let phone = w.device(&desk, tech).await;
    let job = desk.job_for(tech).await;
    let exception_id = Uuid::now_v7();
    phone
        .push(&[
            phone.event(job, EventBody::JobAccepted),
            phone.event(
                job,
                EventBody::ExceptionRaised {
                    exception_id,
                    kind: fieldcore::domain::ExceptionKind::GoodsMismatchOrder,
                    note: "wrong model delivered".into(),
                    photo_ids: vec![],
                },
            ),
        ])
        .await;
    let (s, v) = desk
        .post(
            &format!("/v1/jobs/{job}/exceptions/{exception_id}/resolve"),
            json!({"decision": "proceed", "note": "ordering party agrees"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = desk
        .post(
            &format!("/v1/jobs/{job}/exceptions/{exception_id}/resolve"),
            json!({"decision": "stop", "note": "again"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(v["rule"], "exception_already_resolved");
    assert!(matches!(
        phone.pull_all().await.last().unwrap().body,
        EventBody::ExceptionResolved { .. }
    ));
    let (s, v) = desk
        .post(
            &format!("/v1/jobs/{job}/return-visit"),
            json!({"quality": 5, "attitude": 5, "note": ""}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(v["rule"], "not_completed_yet");
    let (s, v) = desk
        .post(
            &format!("/v1/jobs/{job}/complaints"),
            json!({"note": "late"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let cid = v["view"]["complaints"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, _) = desk
        .post(
            &format!("/v1/jobs/{job}/complaints/{cid}/answer"),
            json!({"accepted": true, "note": "looking into it"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = desk
        .post(
            &format!("/v1/jobs/{job}/complaints/{cid}/close"),
            json!({"result": "apologised"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(v["timers"].is_array());
    let (s, v) = desk
        .post(
            &format!("/v1/jobs/{job}/appointment"),
            json!({"at": now() + Duration::days(2), "note": "moved"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _) = desk.get(&format!("/v1/jobs/{}", Uuid::now_v7())).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = desk.get("/v1/jobs/not-a-uuid").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    w.server.shutdown().await;
}

#[tokio::test]
async fn problems_rate_limits_health_openapi_and_the_server_clock() {
    let w = World::start_with(|c| {
        c.rate_limit_per_second = 1.0;
        c.rate_limit_burst = 5.0;
    })
    .await;
    let res = w.http.get(w.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let t = res.headers()["fieldcore-server-time"].to_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(t).is_ok(), "{t}");
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["status"], "ok");

    let res = w.http.get(w.url("/v1/openapi.json")).send().await.unwrap();
    let doc: Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/v1/sync/push",
        "/v1/sync/pull",
        "/v1/uploads/{id}",
        "/v1/jobs/{id}",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }

    let res = w
        .http
        .post(w.url("/v1/devices/enroll"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        res.headers()["content-type"],
        fieldcore::protocol::PROBLEM_CONTENT_TYPE
    );

    let mut limited = None;
    for _ in 0..20 {
        let res = w
            .http
            .get(w.url("/v1/me"))
            .bearer_auth("same-token")
            .send()
            .await
            .unwrap();
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(res);
            break;
        }
    }
    let res = limited.expect("rate limited within 20 requests");
    assert!(
        res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    let v: Value = res.json().await.unwrap();
    assert_problem(&v, 429, "/problems/rate-limited");
    w.server.shutdown().await;
}

/// What the OpenAPI document promises, the server holds to (schemathesis checks the same from
/// outside in `scripts/test-openapi`): bounds are refused, not clamped; JSON bodies are their
/// types (no "1" for true); a whole number written `4.0` is that integer.
#[tokio::test]
async fn the_server_holds_to_the_documents_bounds_and_types() {
    let w = World::start().await;
    let desk = w.desk("Acme").await;
    let tech = desk.technician("Li Wei").await;
    let phone = w.device(&desk, tech).await;
    let job = desk.job_for(tech).await;

    for bad in ["0", "1001"] {
        let res = phone
            .http
            .get(format!("{}/v1/sync/pull?limit={bad}", phone.base))
            .bearer_auth(&phone.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "limit={bad}");
    }
    for bad in ["+5", "%205", "-1"] {
        let res = phone
            .http
            .get(format!("{}/v1/sync/pull?cursor={bad}", phone.base))
            .bearer_auth(&phone.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "cursor={bad}");
    }

    let (s, v) = desk
        .post(
            &format!("/v1/jobs/{job}/return-visit"),
            json!({"quality": "4", "attitude": 5}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = desk
        .post(
            &format!("/v1/jobs/{job}/appointment"),
            json!({"at": (now() + Duration::days(1)).to_rfc3339(), "note": ""}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    let (s, v) = desk
        .post(
            &format!("/v1/technicians/{tech}/enrolment-codes"),
            json!({"ttl_minutes": 0}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = desk
        .post(
            &format!("/v1/technicians/{tech}/enrolment-codes"),
            json!({"ttl_minutes": 60.0}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "a whole number as 60.0: {v}");
    let (s, _) = desk
        .post(
            &format!("/v1/technicians/{tech}/enrolment-codes"),
            Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "null: the default lifetime");

    let (s, _) = desk
        .post("/v1/technicians", json!({"name": "x".repeat(201)}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    let mut order = serde_json::to_value(fieldcore::fixtures::order(
        fieldcore::domain::JobKind::Install,
    ))
    .unwrap();
    order["severity"] = json!(9);
    let (s, v) = desk.post("/v1/jobs", json!({ "order": order })).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "severity 9: {v}");
    w.server.shutdown().await;
}

/// What an operator's Prometheus scrapes: requests by route template (never by raw path),
/// push outcomes, and the open uploads as the database counts them.
#[tokio::test]
async fn metrics_count_requests_by_route_and_push_outcomes() {
    let w = World::start().await;
    let desk = w.desk("Acme").await;
    let tech = desk.technician("Li Wei").await;
    let job = desk.job_for(tech).await;
    let phone = w.device(&desk, tech).await;
    let accept = phone.event(job, EventBody::JobAccepted);
    phone.push(std::slice::from_ref(&accept)).await;
    phone.push(&[accept]).await;
    let scrape = || async {
        let res = w.http.get(w.url("/metrics")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/openmetrics-text")
        );
        res.text().await.unwrap()
    };
    let value = |text: &str, series: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    };
    // A method no route has is counted, under "other": a client cannot add series at will.
    let odd = reqwest::Method::from_bytes(b"QWERTY17").unwrap();
    w.http.request(odd, w.url("/v1/jobs")).send().await.unwrap();
    let text = scrape().await;
    assert!(!text.contains("QWERTY17"));
    assert!(text.contains("method=\"other\""));
    // Counters are per process and the tests share one: at least ours.
    assert!(value(&text, "fieldcore_push_events_total{outcome=\"accepted\"}") >= 1.0);
    assert!(value(&text, "fieldcore_push_events_total{outcome=\"duplicate\"}") >= 1.0);
    assert!(
        value(
            &text,
            "fieldcore_http_requests_total{method=\"POST\",route=\"/v1/sync/push\",status=\"200\"}"
        ) >= 2.0
    );
    assert!(!text.contains(&job.to_string()), "no raw ids in labels");
    assert!(text.contains("fieldcore_write_queue_seconds_count"));
    assert_eq!(value(&text, "fieldcore_open_uploads"), 0.0);
    w.server.shutdown().await;
}

/// A process whose photo store does not answer leaves the load balancer's rotation: `/healthz`
/// says 503 within seconds (the store's client would retry for minutes).
#[tokio::test]
async fn health_fails_when_the_photo_store_does_not_answer() {
    let w = World::start_with(|c| {
        c.object_store_url = Some("s3://nowhere".into());
        c.object_store_options = [
            ("endpoint", "http://127.0.0.1:9"),
            ("allow_http", "true"),
            ("region", "us-east-1"),
            ("access_key_id", "k"),
            ("secret_access_key", "s"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    })
    .await;
    let started = std::time::Instant::now();
    let res = w.http.get(w.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["title"], "The photo store does not answer");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    w.server.shutdown().await;
}

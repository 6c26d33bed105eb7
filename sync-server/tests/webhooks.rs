//! Webhooks against a real receiver on loopback that fails, stalls and restarts: every event
//! is delivered, none is lost, and a duplicate only ever comes with the same delivery id. Runs on
//! PostgreSQL too when `scripts/with-postgres` sets the test cluster.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use common::{Desk, World};
use fieldcore::domain::EventBody;
use fieldcore::protocol::PushStatus;
use serde_json::{Value, json};
use uuid::Uuid;

const OK: u8 = 0;
const FAIL: u8 = 1;
const STALL: u8 = 2;

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Seen {
    id: String,
    event_id: String,
    event_type: String,
    answered: u16,
    body: Value,
}

#[derive(Default)]
struct Receiver {
    mode: AtomicU8,
    seen: Mutex<Vec<Seen>>,
    secret: Mutex<String>,
}

async fn receive(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (id, timestamp) = (h("webhook-id"), h("webhook-timestamp"));
    // The receiver checks what a real one checks: the signature over id, time and body.
    let secret = r.secret.lock().unwrap().clone();
    let expected = sync_server::webhooks::signature(
        &secret,
        &id,
        timestamp.parse().expect("a timestamp"),
        &body,
    );
    assert_eq!(h("webhook-signature"), expected, "a signed delivery");
    let now = chrono::Utc::now().timestamp();
    assert!(
        (now - timestamp.parse::<i64>().unwrap()).abs() < 60,
        "a fresh timestamp"
    );
    let v: Value = serde_json::from_slice(&body).expect("JSON");
    let answered = match r.mode.load(Ordering::SeqCst) {
        FAIL => StatusCode::INTERNAL_SERVER_ERROR,
        STALL => {
            // Longer than the server waits: it gives up, and sends again with the same id.
            tokio::time::sleep(Duration::from_millis(1500)).await;
            StatusCode::OK
        }
        _ => StatusCode::NO_CONTENT,
    };
    r.seen.lock().unwrap().push(Seen {
        id,
        event_id: v["data"]["event"]["id"].as_str().unwrap_or_default().into(),
        event_type: v["type"].as_str().unwrap_or_default().into(),
        answered: answered.as_u16(),
        body: v.clone(),
    });
    answered
}

/// Serve `r` on `addr` (port 0: any) until the handle is aborted.
async fn serve(r: Arc<Receiver>, addr: SocketAddr) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(r);
    let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (addr, task)
}

/// A webhook the desk adds; its answer (id, secret...).
async fn subscribe(desk: &Desk, body: Value) -> Value {
    let (s, hook) = desk.post("/v1/webhooks", body).await;
    assert_eq!(s, StatusCode::CREATED, "{hook}");
    hook
}

impl Receiver {
    /// Check signatures with this webhook's secret.
    fn trust(&self, hook: &Value) {
        *self.secret.lock().unwrap() = hook["secret"].as_str().unwrap().to_string();
    }
}

async fn log(desk: &Desk) -> Vec<Value> {
    let (s, v) = desk.get("/v1/webhooks/deliveries").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v.as_array().cloned().unwrap_or_default()
}

async fn wait_until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let until = tokio::time::Instant::now() + Duration::from_secs(60);
    while !done().await {
        assert!(tokio::time::Instant::now() < until, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn fast(c: &mut sync_server::Config) {
    c.webhook_poll_ms = 20;
    c.webhook_backoff_ms = 50;
    c.webhook_max_backoff_secs = 1;
    c.webhook_timeout_secs = 1;
    c.webhook_max_attempts = 1000;
    // The receiver is on loopback.
    c.webhook_allow_private_networks = true;
}

#[tokio::test]
async fn every_event_reaches_a_receiver_that_fails_stalls_and_restarts() {
    let world = World::start_with(fast).await;
    let desk = world.desk("Merchant Co").await;
    let receiver = Arc::new(Receiver::default());
    receiver.mode.store(FAIL, Ordering::SeqCst);
    let (addr, task) = serve(receiver.clone(), "127.0.0.1:0".parse().unwrap()).await;

    let hook = subscribe(
        &desk,
        json!({ "url": format!("http://{addr}/hook"),
                "events": ["job.created", "visit.checked_in", "job.cancelled"] }),
    )
    .await;
    receiver.trust(&hook);

    let tech = desk.technician("Zhou Yi").await;
    let phone = world.device(&desk, tech).await;
    let mut expected = BTreeSet::new();
    let mut jobs = Vec::new();
    for _ in 0..4 {
        jobs.push(desk.job_for(tech).await);
    }

    // Failing: every attempt answered 500, each delivery tried again and again.
    wait_until(
        "each delivery tried twice against a failing receiver",
        async || {
            let l = log(&desk).await;
            l.len() == 4 && l.iter().all(|d| d["attempts"].as_u64() >= Some(2))
        },
    )
    .await;
    assert!(log(&desk).await.iter().all(|d| d["last_status"] == 500));

    // Stalling: the server gives up on each request; the receiver finishes them late.
    receiver.mode.store(STALL, Ordering::SeqCst);
    let pushed = phone
        .push(&[
            phone.event(jobs[0], EventBody::JobAccepted),
            phone.event(jobs[0], EventBody::CheckedIn { location: None }),
        ])
        .await;
    assert!(
        pushed
            .results
            .iter()
            .all(|r| r.status == PushStatus::Accepted),
        "{pushed:?}"
    );
    wait_until("a stalled attempt recorded", async || {
        log(&desk)
            .await
            .iter()
            .any(|d| d["last_error"].as_str() == Some("no answer in time"))
    })
    .await;

    // Gone: nothing listens on the port; meanwhile the desk cancels a job.
    task.abort();
    let _ = task.await;
    let (s, v) = desk
        .post(
            &format!("/v1/jobs/{}/cancel", jobs[3]),
            json!({ "reason": "the customer changed their mind" }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    wait_until("an attempt that found nobody", async || {
        log(&desk).await.iter().any(|d| {
            d["last_error"]
                .as_str()
                .is_some_and(|e| e.starts_with("could not reach"))
        })
    })
    .await;

    // Back, healthy, on the same port: everything arrives.
    receiver.mode.store(OK, Ordering::SeqCst);
    let (_, task) = serve(receiver.clone(), addr).await;
    wait_until("every delivery delivered", async || {
        let l = log(&desk).await;
        l.len() == 6 && l.iter().all(|d| !d["delivered_at"].is_null())
    })
    .await;
    task.abort();

    let deliveries = log(&desk).await;
    for d in &deliveries {
        expected.insert((
            d["id"].as_str().unwrap().to_string(),
            d["event_id"].as_str().unwrap().to_string(),
        ));
    }
    let seen = receiver.seen.lock().unwrap().clone();
    // Every delivery reached the receiver with a 2xx it sent; nothing else did.
    let delivered: BTreeSet<(String, String)> = seen
        .iter()
        .filter(|s| s.answered < 300)
        .map(|s| (s.id.clone(), s.event_id.clone()))
        .collect();
    assert_eq!(delivered, expected);
    // One id per event: a duplicate is the same delivery again, never a second one.
    let mut ids_of: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for s in &seen {
        ids_of.entry(&s.event_id).or_default().insert(&s.id);
    }
    assert!(ids_of.values().all(|ids| ids.len() == 1), "{ids_of:?}");
    // The events subscribed to, and only those: 4 created, 1 check-in, 1 cancellation.
    let mut types: Vec<&str> = seen
        .iter()
        .filter(|s| s.answered < 300)
        .map(|s| s.event_type.as_str())
        .collect();
    types.sort();
    assert_eq!(
        types,
        [
            "job.cancelled",
            "job.created",
            "job.created",
            "job.created",
            "job.created",
            "visit.checked_in"
        ]
    );
    let stored_job: Uuid = deliveries[0]["job_id"].as_str().unwrap().parse().unwrap();
    assert!(jobs.contains(&stored_job));
}

#[tokio::test]
async fn a_delivery_given_up_is_sent_again_from_the_log_and_other_organisations_see_nothing() {
    let world = World::start_with(|c| {
        fast(c);
        c.webhook_max_attempts = 2;
    })
    .await;
    let desk = world.desk("Shop A").await;
    let other = world.desk("Shop B").await;
    let receiver = Arc::new(Receiver::default());
    receiver.mode.store(FAIL, Ordering::SeqCst);
    let (addr, task) = serve(receiver.clone(), "127.0.0.1:0".parse().unwrap()).await;
    let hook = subscribe(
        &desk,
        json!({ "url": format!("http://{addr}/hook"), "events": ["job.created"] }),
    )
    .await;
    receiver.trust(&hook);
    let tech = desk.technician("Qian Bo").await;
    desk.job_for(tech).await;

    wait_until("given up after two attempts", async || {
        log(&desk)
            .await
            .first()
            .is_some_and(|d| !d["failed_at"].is_null())
    })
    .await;
    let d = log(&desk).await[0].clone();
    assert_eq!(d["attempts"], 2);
    let id = d["id"].as_str().unwrap().to_string();

    // Another organisation can neither see nor retry it.
    assert!(log(&other).await.is_empty());
    let (s, _) = other
        .post(&format!("/v1/webhooks/deliveries/{id}/retry"), json!({}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = other.get("/v1/webhooks").await;
    assert_eq!((s, v), (StatusCode::OK, json!([])));

    receiver.mode.store(OK, Ordering::SeqCst);
    let (s, _) = desk
        .post(&format!("/v1/webhooks/deliveries/{id}/retry"), json!({}))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    wait_until("delivered after the desk's retry", async || {
        !log(&desk).await[0]["delivered_at"].is_null()
    })
    .await;
    task.abort();
    let seen = receiver.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "two failures, then the retry: {seen:?}");
    assert!(seen.iter().all(|s| s.id == id));

    // Not an http(s) URL, or nothing to send: refused.
    for body in [
        json!({ "url": "file:///etc/passwd", "events": ["job.created"] }),
        json!({ "url": "http://example.com/hook", "events": [] }),
        json!({ "url": "http://example.com/hook", "events": ["job.exploded"] }),
    ] {
        let (s, v) = desk.post("/v1/webhooks", body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    }

    // A finished delivery stays in the log for 30 days, then the sweep forgets it. (Read
    // behind the API: the desk's session does not last a month.)
    let state = world.server.state();
    let kept = async || {
        state
            .storage
            .deliveries(desk.organisation_id, 10)
            .await
            .unwrap()
            .len()
    };
    state.config.clock.advance(chrono::Duration::days(29));
    world.server.sweep_now().await.unwrap();
    assert_eq!(kept().await, 1);
    state.config.clock.advance(chrono::Duration::days(2));
    world.server.sweep_now().await.unwrap();
    assert_eq!(kept().await, 0);
}

/// By default a delivery never reaches loopback or a private network, by address or by a name
/// that resolves there: a desk user cannot point the server at its own neighbours.
#[tokio::test]
async fn deliveries_to_private_addresses_are_refused_by_default() {
    let world = World::start_with(|c| {
        fast(c);
        c.webhook_allow_private_networks = false;
    })
    .await;
    let desk = world.desk("Careful Co").await;
    let receiver = Arc::new(Receiver::default());
    let (addr, task) = serve(receiver.clone(), "127.0.0.1:0".parse().unwrap()).await;
    // A literal address is refused when the webhook is made, in any spelling.
    for url in [
        format!("http://{addr}/hook"),
        format!("http://[::ffff:127.0.0.1]:{}/hook", addr.port()),
        format!("http://0x7f.1:{}/hook", addr.port()),
    ] {
        let (s, v) = desk
            .post(
                "/v1/webhooks",
                json!({ "url": url, "events": ["job.created"] }),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {v}");
    }
    // A name is judged where it resolves, at each delivery (it may change: DNS rebinding).
    let url = format!("http://localhost:{}/hook", addr.port());
    subscribe(&desk, json!({ "url": url, "events": ["job.created"] })).await;
    let tech = desk.technician("Li Na").await;
    desk.job_for(tech).await;
    wait_until("the delivery refused", async || {
        log(&desk)
            .await
            .first()
            .is_some_and(|d| d["attempts"].as_u64() >= Some(1))
    })
    .await;
    task.abort();
    assert!(
        receiver.seen.lock().unwrap().is_empty(),
        "nothing reached loopback"
    );
    let error = log(&desk).await[0]["last_error"].clone();
    assert!(
        error
            .as_str()
            .is_some_and(|e| e.contains("localhost does not resolve to a public address")),
        "{error}"
    );
}

/// A merchant's receiver gets the jobs that merchant ordered, and no other's.
#[tokio::test]
async fn an_ordering_party_s_receiver_gets_only_its_own_jobs() {
    let world = World::start_with(fast).await;
    let desk = world.desk("Two Merchants").await;
    let receiver = Arc::new(Receiver::default());
    let (addr, task) = serve(receiver.clone(), "127.0.0.1:0".parse().unwrap()).await;
    let party = fieldcore::fixtures::order(fieldcore::domain::JobKind::Install).ordering_party;
    let mut ids = Vec::new();
    for p in [party.as_str(), "Another Mall"] {
        let hook = subscribe(
            &desk,
            json!({ "url": format!("http://{addr}/hook"), "events": ["job.created"],
                    "ordering_party": p }),
        )
        .await;
        assert_eq!(hook["ordering_party"], p);
        ids.push(hook["id"].as_str().unwrap().to_string());
        if p == party {
            receiver.trust(&hook);
        }
    }
    let tech = desk.technician("Sun Mei").await;
    desk.job_for(tech).await;
    wait_until("delivered", async || {
        log(&desk)
            .await
            .first()
            .is_some_and(|d| !d["delivered_at"].is_null())
    })
    .await;
    task.abort();
    let l = log(&desk).await;
    assert_eq!(l.len(), 1, "{l:?}");
    assert_eq!(l[0]["endpoint_id"], ids[0].as_str());
}

/// A field event's delivery carries the event as the device signed it and the device's key:
/// the receiver holds the key from the time the work happened, to pin it when it checks the
/// job's evidence bundle later (ADR 0017).
#[tokio::test]
async fn a_field_event_arrives_with_its_seal_and_its_device_s_key() {
    let world = World::start_with(fast).await;
    let desk = world.desk("Pinned Keys").await;
    let receiver = Arc::new(Receiver::default());
    let (addr, task) = serve(receiver.clone(), "127.0.0.1:0".parse().unwrap()).await;
    let hook = subscribe(
        &desk,
        json!({ "url": format!("http://{addr}/hook"),
                "events": ["job.created", "visit.checked_in"] }),
    )
    .await;
    receiver.trust(&hook);
    let tech = desk.technician("Gao Lan").await;
    let job = desk.job_for(tech).await;
    let phone = world.device(&desk, tech).await;
    let mut s = common::Signer::new();
    let events = [
        s.seal(&phone, job, EventBody::JobAccepted),
        s.seal(&phone, job, EventBody::CheckedIn { location: None }),
    ];
    let res = phone
        .push_with_key(&events, Some(hex::encode(s.key.public_key())))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    wait_until("both delivered", async || {
        let l = log(&desk).await;
        l.len() == 2 && l.iter().all(|d| !d["delivered_at"].is_null())
    })
    .await;
    task.abort();
    let seen = receiver.seen.lock().unwrap().clone();
    let of = |t: &str| {
        seen.iter()
            .find(|s| s.event_type == t)
            .expect(t)
            .body
            .clone()
    };
    let checked_in = of("visit.checked_in");
    assert_eq!(
        checked_in["data"]["device_public_key"],
        hex::encode(s.key.public_key())
    );
    assert_eq!(
        checked_in["data"]["event"]["seal"]["sig"],
        events[1].seal.as_ref().unwrap().sig.as_str()
    );
    // The desk's events have no device and no key.
    assert!(of("job.created")["data"].get("device_public_key").is_none());
}

/// A sender whose lease lapsed (its request outlived it) and was claimed again by another
/// records nothing: only the holder of the current lease does.
#[tokio::test]
async fn only_the_current_lease_holder_records_an_attempt() {
    let world = World::start_with(|c| {
        fast(c);
        // The background sender stays out of the way: this test claims by hand.
        c.webhook_poll_ms = 3_600_000;
    })
    .await;
    let desk = world.desk("Lease Co").await;
    subscribe(
        &desk,
        json!({ "url": "http://127.0.0.1:9/hook", "events": ["job.created"] }),
    )
    .await;
    let tech = desk.technician("He Jun").await;
    desk.job_for(tech).await;
    let storage = &world.server.state().storage;
    let now = chrono::Utc::now() + chrono::Duration::seconds(1);
    let first = storage
        .claim_deliveries(now, now + chrono::Duration::seconds(5), 10)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    let later = now + chrono::Duration::seconds(6);
    let second = storage
        .claim_deliveries(later, later + chrono::Duration::seconds(5), 10)
        .await
        .unwrap();
    assert_eq!(second.len(), 1, "the lapsed lease is taken again");
    let failed = sync_server::webhooks::Attempt::Failed {
        status: Some(500),
        error: "answered 500".into(),
        retry_at: Some(later),
    };
    storage
        .finish_delivery(first[0].id, first[0].lease, failed, later)
        .await
        .unwrap();
    let delivered = sync_server::webhooks::Attempt::Delivered { status: 204 };
    storage
        .finish_delivery(second[0].id, second[0].lease, delivered, later)
        .await
        .unwrap();
    let l = log(&desk).await;
    assert_eq!(
        l[0]["attempts"], 1,
        "the stale sender's attempt is not counted: {l:?}"
    );
    assert!(!l[0]["delivered_at"].is_null());
    assert!(l[0]["last_error"].is_null());
}

//! The evidence chain on the server (ADR 0016): a device's sealed events are checked against
//! the key it sent first; an altered event, a removed one and an unsigned one are each flagged
//! on the job, visibly, and the desk sees the chain as not verified.

mod common;

use common::{DeviceClient, Signer, World};
use fieldcore::domain::chain::DeviceKey;
use fieldcore::domain::{CallOutcome, Event, EventBody};
use fieldcore::protocol::{EventFlag, PushResponse, PushStatus};
use reqwest::StatusCode;
use uuid::Uuid;

async fn push(phone: &DeviceClient, key: Option<&DeviceKey>, events: &[Event]) -> PushResponse {
    let res = phone
        .push_with_key(events, key.map(|k| hex::encode(k.public_key())))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let r: PushResponse = res.json().await.unwrap();
    assert!(
        r.results.iter().all(|r| r.status == PushStatus::Accepted),
        "{r:?}"
    );
    r
}

fn flags(r: &PushResponse) -> Vec<Vec<EventFlag>> {
    r.results.iter().map(|r| r.flags.clone()).collect()
}

#[tokio::test]
async fn a_sealed_chain_verifies_and_each_kind_of_tampering_is_flagged() {
    let w = World::start().await;
    let desk = w.desk("Evidence Co").await;
    let tech = desk.technician("Lin Tao").await;
    let job = desk.job_for(tech).await;
    let phone = w.device(&desk, tech).await;
    let mut s = Signer::new();

    let accept = s.seal(&phone, job, EventBody::JobAccepted);
    let call = s.call(&phone, job, "on my way");
    let r = push(&phone, Some(&s.key), &[accept, call]).await;
    assert_eq!(flags(&r), [vec![], vec![]]);
    let chain = &desk.job(job).await["evidence_chain"];
    assert_eq!(chain["verified"], true, "{chain}");
    assert_eq!(chain["signed"], 2);

    // One event altered after it was signed (a note rewritten on the way).
    let mut altered = s.call(&phone, job, "customer was rude");
    altered.body = EventBody::CustomerCallLogged {
        outcome: CallOutcome::Reached,
        note: "all fine".into(),
    };
    let r = push(&phone, Some(&s.key), &[altered]).await;
    assert_eq!(flags(&r), [vec![EventFlag::BadSignature]]);

    // The chain goes on after the break: the next event is fine again.
    let next = s.call(&phone, job, "arriving");
    assert_eq!(flags(&push(&phone, Some(&s.key), &[next]).await), [vec![]]);

    // One event held back: the one after it no longer follows the chain.
    let _held_back = s.call(&phone, job, "the customer cancelled");
    let after = s.call(&phone, job, "left the site");
    let r = push(&phone, Some(&s.key), &[after]).await;
    assert_eq!(flags(&r), [vec![EventFlag::ChainGap]]);

    // Unsigned, from a device that has a key.
    let unsigned = phone.event(
        job,
        EventBody::CustomerCallLogged {
            outcome: CallOutcome::Reached,
            note: "no seal".into(),
        },
    );
    let r = push(&phone, Some(&s.key), &[unsigned]).await;
    assert_eq!(flags(&r), [vec![EventFlag::Unsigned]]);

    // Another key sent later is not taken: events signed with it do not verify.
    let mut impostor = Signer::new();
    impostor.head = s.head.clone();
    let forged = impostor.call(&phone, job, "forged");
    let r = push(&phone, Some(&impostor.key), &[forged]).await;
    assert_eq!(flags(&r), [vec![EventFlag::BadSignature]]);

    let v = desk.job(job).await;
    let chain = &v["evidence_chain"];
    assert_eq!(chain["verified"], false, "{chain}");
    assert_eq!(
        (
            chain["signed"].as_u64(),
            chain["broken"].as_u64(),
            chain["unsigned"].as_u64()
        ),
        (Some(3), Some(3), Some(1))
    );
    // The console says so on the job's page.
    let res = w
        .http
        .get(w.url(&format!("/console/jobs/{job}")))
        .header("cookie", format!("fc_session={}", desk.token))
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    assert!(
        html.contains("id=\"evidence-chain\" data-verified=\"false\""),
        "{html}"
    );
}

#[tokio::test]
async fn a_device_that_sends_no_key_has_its_events_marked_unsigned() {
    let w = World::start().await;
    let desk = w.desk("Old App Co").await;
    let tech = desk.technician("Gao Feng").await;
    let job = desk.job_for(tech).await;
    let phone = w.device(&desk, tech).await;
    let r = push(&phone, None, &[phone.event(job, EventBody::JobAccepted)]).await;
    assert_eq!(flags(&r), [vec![EventFlag::Unsigned]]);
    let chain = &desk.job(job).await["evidence_chain"];
    assert_eq!(chain["verified"], false);
    assert_eq!(chain["unsigned"], 1);
}

/// A batch sent again after its answer was lost, with an event the server refused, leaves the
/// chain where it was: the next event is not a false gap.
#[tokio::test]
async fn a_batch_sent_again_with_a_refused_event_does_not_break_the_chain() {
    let w = World::start().await;
    let desk = w.desk("Retry Co").await;
    let tech = desk.technician("Xu Lei").await;
    let job = desk.job_for(tech).await;
    let phone = w.device(&desk, tech).await;
    let mut s = Signer::new();
    let accept = s.seal(&phone, job, EventBody::JobAccepted);
    // Not this technician's job: refused, but signed and chained by the phone.
    let refused = s.call(&phone, Uuid::now_v7(), "a job I do not have");
    let call = s.call(&phone, job, "on my way");
    let batch = [accept, refused, call];
    for _ in 0..2 {
        let res = phone
            .push_with_key(&batch, Some(hex::encode(s.key.public_key())))
            .await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let next = s.call(&phone, job, "arrived");
    assert_eq!(flags(&push(&phone, Some(&s.key), &[next]).await), [vec![]]);
    assert_eq!(desk.job(job).await["evidence_chain"]["verified"], true);
}

/// A seal is two fixed-size hex strings: anything else is refused, never stored.
#[tokio::test]
async fn an_oversized_seal_is_refused() {
    let w = World::start().await;
    let desk = w.desk("Bounds Co").await;
    let tech = desk.technician("Ma Li").await;
    let job = desk.job_for(tech).await;
    let phone = w.device(&desk, tech).await;
    let mut s = Signer::new();
    let mut e = s.seal(&phone, job, EventBody::JobAccepted);
    e.seal.as_mut().unwrap().sig = "ab".repeat(100_000);
    let r = phone.push(&[e]).await;
    assert_eq!(r.results[0].status, PushStatus::Rejected);
    assert_eq!(r.results[0].rule.as_deref(), Some("invalid_input"));
}

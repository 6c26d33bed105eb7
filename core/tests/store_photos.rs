//! Evidence through the store: a photo or signature is processed and recorded with its event in
//! one go, or refused with nothing recorded.

mod photo_support;

use fieldcore::domain::{EventBody, GeoPoint, PhotoCategory, Rule, Rulebook};
use fieldcore::fixtures::{Desk, booked_job, pad_signature};
use fieldcore::photo::{PhotoError, PhotoSource, PipelineConfig, Point, Signature, Stroke};
use fieldcore::store::{ActionError, Store, StoreOptions};
use uuid::Uuid;

struct Phone {
    _dir: tempfile::TempDir,
    store: Store,
    job: Uuid,
}

fn phone_on_site() -> Phone {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_with(StoreOptions::new(dir.path().join("d.db"))).expect("open");
    store.set_technician(Uuid::now_v7()).expect("enrol");
    let job = booked_job(&store, &Desk::default());
    Phone {
        _dir: dir,
        store,
        job,
    }
}

fn camera_jpeg() -> Vec<u8> {
    photo_support::jpeg(&photo_support::textured(1600, 1200, 7), 90)
}

#[test]
fn a_completion_photo_is_stored_recorded_and_queued_for_upload() {
    let p = phone_on_site();
    p.store
        .act(p.job, EventBody::CheckedIn { location: None })
        .expect("check in");
    let here = GeoPoint {
        lat: 31.2304,
        lon: 121.4737,
        accuracy_m: Some(8.0),
    };
    let bytes = camera_jpeg();
    let captured = p
        .store
        .capture_photo(
            p.job,
            PhotoCategory::Completion,
            PhotoSource::Bytes(&bytes),
            Some(here),
            &PipelineConfig::default(),
        )
        .expect("captured");
    assert!(captured.path.exists() && captured.thumb_path.exists());
    assert_eq!((captured.width, captured.height), (1600, 1200));
    let view = p.store.view(p.job).expect("view").expect("job");
    assert_eq!(view.photos.len(), 1);
    assert_eq!(view.photos[0].sha256, captured.sha256);
    assert_eq!(view.photos[0].location, Some(here));

    let pending = p.store.photos_awaiting_upload().expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].photo_id, captured.photo_id);
    assert_eq!(pending[0].path, captured.path);
    assert_eq!(pending[0].bytes, captured.bytes);
    assert_eq!(pending[0].category, "completion");

    // The same picture again, as a "second angle" or as the receipt, would count twice as
    // evidence: refused with the rule named, nothing recorded, the stored file untouched.
    for category in [PhotoCategory::Completion, PhotoCategory::Receipt] {
        match p.store.capture_photo(
            p.job,
            category,
            PhotoSource::Bytes(&bytes),
            None,
            &PipelineConfig::default(),
        ) {
            Err(ActionError::Refused(r)) => {
                assert_eq!(r.rule, Rule::PhotoAlreadyOnJob);
                assert_eq!(r.rule.code(), "photo_already_on_job");
            }
            other => panic!("the same picture twice: {other:?}"),
        }
    }
    assert_eq!(p.store.photos_awaiting_upload().expect("pending").len(), 1);
    assert_eq!(
        p.store
            .view(p.job)
            .expect("view")
            .expect("job")
            .photos
            .len(),
        1
    );
    assert!(captured.path.exists() && captured.thumb_path.exists());
}

#[test]
fn a_refused_photo_costs_no_processing_and_records_nothing() {
    let p = phone_on_site();
    let outbox = p.store.outbox_len().expect("outbox");
    let err = p
        .store
        .capture_photo(
            p.job,
            PhotoCategory::Completion,
            PhotoSource::Bytes(&camera_jpeg()),
            None,
            &PipelineConfig::default(),
        )
        .expect_err("not checked in");
    match err {
        ActionError::Refused(r) => assert_eq!(r.rule, Rule::NotCheckedIn),
        other => panic!("unexpected {other}"),
    }
    assert!(
        !p.store.photo_dir().exists() || photo_support::snapshot(p.store.photo_dir()).is_empty(),
        "no file written for a refused photo"
    );
    assert_eq!(p.store.outbox_len().expect("outbox"), outbox);
}

#[test]
fn bad_images_get_a_typed_error_and_nothing_is_recorded() {
    let p = phone_on_site();
    p.store
        .act(p.job, EventBody::CheckedIn { location: None })
        .expect("check in");
    let outbox = p.store.outbox_len().expect("outbox");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "random",
            (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect(),
        ),
        ("bomb", photo_support::png_claiming(30000, 30000)),
        ("empty", Vec::new()),
    ];
    for (name, bytes) in cases {
        let err = p
            .store
            .capture_photo(
                p.job,
                PhotoCategory::Completion,
                PhotoSource::Bytes(&bytes),
                None,
                &PipelineConfig::default(),
            )
            .expect_err(name);
        assert!(matches!(err, ActionError::Photo(_)), "{name}: {err}");
        if name == "bomb" {
            assert!(matches!(
                err,
                ActionError::Photo(PhotoError::TooManyPixels { .. })
            ));
        }
    }
    assert_eq!(p.store.outbox_len().expect("outbox"), outbox);
    assert!(
        p.store
            .photos_awaiting_upload()
            .expect("pending")
            .is_empty()
    );
}

#[test]
fn the_signature_is_recorded_with_its_rendering_after_the_work_is_done() {
    let p = phone_on_site();
    p.store
        .act(p.job, EventBody::CheckedIn { location: None })
        .expect("check in");
    match p.store.capture_signature(p.job, &pad_signature()) {
        Err(ActionError::Refused(r)) => assert_eq!(r.rule, Rule::WorkNotDone),
        other => panic!("unexpected {other:?}"),
    }
    p.store
        .act(
            p.job,
            EventBody::WorkMarkedDone {
                note: String::new(),
            },
        )
        .expect("done");
    let s = p
        .store
        .capture_signature(p.job, &pad_signature())
        .expect("signed");
    assert_eq!(
        s.signature_event.device_seq.map(|n| n + 1),
        s.photo_event.device_seq,
        "both events in one transaction, in order"
    );
    let view = p.store.view(p.job).expect("view").expect("job");
    let sig = view.signature.expect("signature on the job");
    assert_eq!(sig.strokes_sha256, s.strokes_sha256);
    assert_eq!(sig.stroke_count, 2);
    let pending = p.store.photos_awaiting_upload().expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].category, "signature");
    assert!(pending[0].path.to_string_lossy().ends_with(".png"));
    assert!(pending[0].path.exists());

    let scribble = Signature {
        width: 480,
        height: 240,
        strokes: vec![Stroke {
            points: vec![Point {
                x: 1.0,
                y: 1.0,
                t_ms: 0,
            }],
        }],
    };
    let p2 = phone_on_site();
    p2.store
        .act(p2.job, EventBody::CheckedIn { location: None })
        .expect("check in");
    p2.store
        .act(
            p2.job,
            EventBody::WorkMarkedDone {
                note: String::new(),
            },
        )
        .expect("done");
    assert!(matches!(
        p2.store.capture_signature(p2.job, &scribble),
        Err(ActionError::Photo(PhotoError::SignatureTooSmall))
    ));
    assert!(
        p2.store
            .view(p2.job)
            .expect("view")
            .expect("job")
            .signature
            .is_none()
    );
}

#[test]
fn the_organisations_rulebook_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("d.db");
    let mut rules = Rulebook::default();
    rules.policy.min_completion_photos = 4;
    {
        let store = Store::open_with(StoreOptions::new(&path)).expect("open");
        store.set_rulebook(rules.clone()).expect("set");
    }
    let store = Store::open_with(StoreOptions::new(&path)).expect("reopen");
    assert_eq!(store.rulebook().policy.min_completion_photos, 4);
}

//! `fieldcore::evidence::verify`, what `fieldtech verify` runs on a bundle an ordering party was
//! given: the manifest is whatever the bundle holds, changed on its way or made up.
//!
//! Asserted: no panic on any manifest; a verdict survives the manifest's round trip through
//! JSON (what is checked is what was read); a bundle with no problem has every field event in a
//! chain, so at least one device when it has field events.
#![no_main]

use fieldcore::domain::Actor;
use fieldcore::evidence::{Manifest, verify};
use libfuzzer_sys::fuzz_target;

/// Every photo file of the bundle holds these bytes.
const PHOTO: &[u8] = b"\xff\xd8\xff\xe0 fuzz photo";

fuzz_target!(|data: &[u8]| {
    let Ok(m) = serde_json::from_slice::<Manifest>(data) else {
        return;
    };
    let files = |_: &str| Some(PHOTO.to_vec());
    let v = verify(&m, &files);
    let again: Manifest =
        serde_json::from_slice(&serde_json::to_vec(&m).expect("a manifest serialises"))
            .expect("a serialised manifest reads back");
    assert_eq!(
        verify(&again, &files),
        v,
        "the verdict changed through JSON"
    );
    let field = m
        .events
        .iter()
        .any(|r| matches!(r.event.actor, Actor::Technician { .. }));
    if v.is_ok() && field {
        assert!(v.devices > 0 && v.signed_events > 0, "{v:?}");
    }
});

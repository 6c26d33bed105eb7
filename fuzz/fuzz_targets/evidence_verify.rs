//! `fieldcore::evidence::verify`, what `fieldtech verify` runs on a bundle an ordering party was
//! given: the manifest is whatever the bundle holds, changed on its way or made up.
//!
//! Asserted: no panic on any manifest; a verdict survives the manifest's round trip through
//! JSON (what is checked is what was read); a bundle with no problem has every field event in a
//! chain, so at least one device, signed events and how far each device's evidence reaches,
//! when it has field events.
#![no_main]

use fieldcore::domain::Actor;
use fieldcore::evidence::{Manifest, verify};
use libfuzzer_sys::fuzz_target;

/// Every photo file of the bundle has this hash (the SHA-256 of the empty file).
const PHOTO_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fuzz_target!(|data: &[u8]| {
    let Ok(m) = serde_json::from_slice::<Manifest>(data) else {
        return;
    };
    let files = |_: &str| Some(PHOTO_SHA256.to_string());
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
        assert!(!v.shown_through.is_empty(), "{v:?}");
    }
});

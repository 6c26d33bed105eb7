//! Deleting the camera original and pruning uploaded photos: both idempotent.

mod photo_support;

use fieldcore::photo::{self, PhotoError, PhotoSource, PipelineConfig};
use photo_support::*;

#[test]
fn remove_original_deletes_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("IMG_0001.jpg");
    std::fs::write(&original, jpeg(&textured(100, 80, 20), 85)).unwrap();
    photo::process(
        PhotoSource::Path(&original),
        &PipelineConfig::default(),
        &dir.path().join("p"),
    )
    .unwrap();
    photo::remove_original(&original).unwrap();
    assert!(!original.exists());
    photo::remove_original(&original).unwrap();
}

#[test]
fn prune_deletes_photo_and_thumbnail_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let keep = photo::process(
        PhotoSource::Bytes(&jpeg(&textured(100, 80, 21), 85)),
        &PipelineConfig::default(),
        dir.path(),
    )
    .unwrap();
    let gone = photo::process(
        PhotoSource::Bytes(&jpeg(&textured(100, 80, 22), 85)),
        &PipelineConfig::default(),
        dir.path(),
    )
    .unwrap();
    assert!(photo::prune(dir.path(), &gone.sha256).unwrap());
    assert!(!gone.path.exists() && !gone.thumb_path.exists());
    assert!(keep.path.exists() && keep.thumb_path.exists());
    assert!(!photo::prune(dir.path(), &gone.sha256).unwrap());
}

#[test]
fn prune_refuses_something_that_is_not_a_hash() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["", "../etc/passwd", &"A".repeat(64), &"0".repeat(63)] {
        assert!(
            matches!(
                photo::prune(dir.path(), bad),
                Err(PhotoError::InvalidHash(_))
            ),
            "{bad}"
        );
    }
}

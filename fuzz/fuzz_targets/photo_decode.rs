//! Any bytes as a camera file through the photo pipeline (`fieldcore::photo::process`): the
//! input a phone takes from the gallery or a share intent, so possibly crafted. Errors are the
//! expected answer to most inputs; a panic, an abort or unbounded memory is a finding (the
//! script runs this with `-rss_limit_mb=512`, and libFuzzer's malloc limit follows it).
//!
//! The limits are small (1024 px edge, 16 MiB decode) so each run is fast; the checks that
//! enforce them are the same whatever the numbers.
//!
//! Asserted for a photo that is stored: it fits the configured long edge, its file holds the
//! bytes reported, and it goes through the pipeline again at the same size (what we store as
//! evidence, we can read). Stored files are pruned after each run so the directory stays empty.
#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use fieldcore::photo::{PhotoSource, PipelineConfig, process, prune};
use libfuzzer_sys::fuzz_target;

static CONFIG: LazyLock<PipelineConfig> = LazyLock::new(|| PipelineConfig {
    max_input_bytes: 1024 * 1024,
    max_pixels: 1024 * 1024,
    max_edge: 1024,
    max_decode_bytes: 16 * 1024 * 1024,
    long_edge: 256,
    jpeg_quality: 82,
    thumb_long_edge: 64,
});

/// Where stored photos go for the instant before they are pruned: `FIELDCORE_FUZZ_PHOTO_DIR`
/// (the script points it at a scratch directory) or the system's temp directory, one directory
/// per process so parallel jobs never prune each other's files.
static PHOTO_DIR: LazyLock<PathBuf> = LazyLock::new(|| {
    let base =
        std::env::var_os("FIELDCORE_FUZZ_PHOTO_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let dir = base.join(format!("fieldcore-fuzz-photo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("creating the photo directory");
    dir
});

fuzz_target!(|data: &[u8]| {
    let config = &*CONFIG;
    let dir = PHOTO_DIR.as_path();
    let stored = match process(PhotoSource::Bytes(data), config, dir) {
        Ok(p) => p,
        Err(e) => {
            // The message a technician reads must render.
            let _ = e.to_string();
            return;
        }
    };
    assert!(
        stored.width > 0
            && stored.height > 0
            && stored.width.max(stored.height) <= config.long_edge,
        "stored at {}x{}",
        stored.width,
        stored.height
    );
    let bytes = std::fs::read(&stored.path).expect("the stored photo is there");
    assert_eq!(bytes.len() as u64, stored.bytes, "stored size differs");
    assert!(stored.thumb_path.exists(), "no thumbnail");
    let again = process(PhotoSource::Bytes(&bytes), config, dir)
        .unwrap_or_else(|e| panic!("the stored photo is refused by the pipeline: {e}"));
    assert_eq!(
        (again.width, again.height),
        (stored.width, stored.height),
        "the stored photo changes size when read again"
    );
    for sha256 in [&stored.sha256, &again.sha256] {
        prune(dir, sha256).expect("pruning the stored photo");
    }
});

//! The pipeline on good input: orientation, sizes, alpha, metadata stripping, dedup, concurrency.

mod photo_support;

use std::sync::{Arc, Barrier};

use fieldcore::photo::{self, PhotoSource, PipelineConfig};
use image::RgbImage;
use photo_support::*;

fn decode(bytes: &[u8]) -> RgbImage {
    image::load_from_memory(bytes).unwrap().into_rgb8()
}

#[test]
fn all_eight_exif_orientations_land_the_marked_corner_where_the_tag_says() {
    let (w, h) = (64u32, 48u32);
    let base = jpeg(&marked(w, h), 95);
    // Where the stored top-left corner appears once the tag is applied.
    #[derive(Debug)]
    enum Corner {
        TopLeft,
        TopRight,
        BottomRight,
        BottomLeft,
    }
    use Corner::*;
    let expected = [
        TopLeft,
        TopRight,
        BottomRight,
        BottomLeft,
        TopLeft,
        TopRight,
        BottomRight,
        BottomLeft,
    ];
    for (tag, corner) in (1u16..=8).zip(expected) {
        let dir = tempfile::tempdir().unwrap();
        let input = with_exif(&base, tag);
        let out = photo::process(
            PhotoSource::Bytes(&input),
            &PipelineConfig::default(),
            dir.path(),
        )
        .unwrap();
        let img = decode(&std::fs::read(&out.path).unwrap());
        let (ow, oh) = img.dimensions();
        let dims = if tag >= 5 { (h, w) } else { (w, h) };
        assert_eq!((ow, oh), dims, "tag {tag}");
        assert_eq!((out.width, out.height), dims, "tag {tag}");
        let probe = 4;
        let (x, y) = match corner {
            TopLeft => (2, 2),
            TopRight => (ow - 2 - probe, 2),
            BottomRight => (ow - 2 - probe, oh - 2 - probe),
            BottomLeft => (2, oh - 2 - probe),
        };
        assert!(
            is_red(patch_mean(&img, x, y, probe)),
            "tag {tag}: no red at {corner:?}"
        );
        // And only there: the opposite corner is background.
        let (ox, oy) = (ow - 1 - probe - x, oh - 1 - probe - y);
        assert!(
            !is_red(patch_mean(&img, ox, oy, probe)),
            "tag {tag}: red at the opposite corner"
        );
    }
}

#[test]
fn stored_photo_carries_no_exif_and_no_gps() {
    let dir = tempfile::tempdir().unwrap();
    let input = with_exif(&jpeg(&marked(64, 48), 90), 6);
    assert!(input.windows(6).any(|w| w == b"Exif\0\0"));
    let out = photo::process(
        PhotoSource::Bytes(&input),
        &PipelineConfig::default(),
        dir.path(),
    )
    .unwrap();
    for path in [&out.path, &out.thumb_path] {
        let bytes = std::fs::read(path).unwrap();
        assert!(
            !bytes.windows(6).any(|w| w == b"Exif\0\0"),
            "{path:?} has EXIF"
        );
        assert!(
            !bytes.windows(2).any(|w| w == [0xFF, 0xE1]),
            "{path:?} has an APP1 segment"
        );
        assert!(
            !bytes.windows(4).any(|w| w == b"II*\0"),
            "{path:?} has a TIFF block"
        );
    }
}

#[test]
fn large_photo_is_downscaled_to_the_long_edge_with_a_320_thumbnail() {
    let dir = tempfile::tempdir().unwrap();
    let input = jpeg(&textured(4000, 3000, 3), 85);
    let out = photo::process(
        PhotoSource::Bytes(&input),
        &PipelineConfig::default(),
        dir.path(),
    )
    .unwrap();
    assert_eq!((out.width, out.height), (2048, 1536));
    let stored = std::fs::read(&out.path).unwrap();
    assert_eq!(stored.len() as u64, out.bytes);
    assert_eq!(decode(&stored).dimensions(), (2048, 1536));
    assert_eq!(
        decode(&std::fs::read(&out.thumb_path).unwrap()).dimensions(),
        (320, 240)
    );
}

#[test]
fn small_photo_is_never_upscaled() {
    let dir = tempfile::tempdir().unwrap();
    let input = jpeg(&textured(800, 600, 4), 85);
    let out = photo::process(
        PhotoSource::Bytes(&input),
        &PipelineConfig::default(),
        dir.path(),
    )
    .unwrap();
    assert_eq!((out.width, out.height), (800, 600));
    assert_eq!(
        decode(&std::fs::read(&out.path).unwrap()).dimensions(),
        (800, 600)
    );
    assert_eq!(
        decode(&std::fs::read(&out.thumb_path).unwrap()).dimensions(),
        (320, 240)
    );
}

#[test]
fn transparent_png_becomes_white_not_black() {
    let dir = tempfile::tempdir().unwrap();
    // Left half fully transparent (black underneath), right half opaque blue.
    let input = png_rgba(&rgba(64, 48, |x, _| {
        if x < 32 {
            [0, 0, 0, 0]
        } else {
            [0, 0, 255, 255]
        }
    }));
    let out = photo::process(
        PhotoSource::Bytes(&input),
        &PipelineConfig::default(),
        dir.path(),
    )
    .unwrap();
    let img = decode(&std::fs::read(&out.path).unwrap());
    let left = patch_mean(&img, 4, 20, 8);
    assert!(left.iter().all(|&c| c > 240), "transparent became {left:?}");
    let right = patch_mean(&img, 48, 20, 8);
    assert!(
        right[2] > 200 && right[0] < 60,
        "opaque blue became {right:?}"
    );
}

#[test]
fn stored_name_is_the_sha256_of_the_stored_bytes() {
    use sha2::Digest;
    let dir = tempfile::tempdir().unwrap();
    let input = jpeg(&textured(300, 200, 5), 85);
    let out = photo::process(
        PhotoSource::Bytes(&input),
        &PipelineConfig::default(),
        dir.path(),
    )
    .unwrap();
    let bytes = std::fs::read(&out.path).unwrap();
    assert_eq!(out.sha256, hex::encode(sha2::Sha256::digest(&bytes)));
    assert_eq!(out.path, photo::stored_path(dir.path(), &out.sha256));
    assert_eq!(
        out.path,
        dir.path()
            .join(&out.sha256[..2])
            .join(format!("{}.jpg", out.sha256))
    );
    assert_eq!(
        out.thumb_path,
        dir.path()
            .join(&out.sha256[..2])
            .join(format!("{}.thumb.jpg", out.sha256))
    );
    let thumb = std::fs::read(&out.thumb_path).unwrap();
    assert_eq!(out.thumb_sha256, hex::encode(sha2::Sha256::digest(&thumb)));
}

#[test]
fn from_a_path_works_like_from_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let input = jpeg(&textured(300, 200, 6), 85);
    let original = dir.path().join("camera.jpg");
    std::fs::write(&original, &input).unwrap();
    let photos = dir.path().join("photos");
    let a = photo::process(
        PhotoSource::Path(&original),
        &PipelineConfig::default(),
        &photos,
    )
    .unwrap();
    let b = photo::process(
        PhotoSource::Bytes(&input),
        &PipelineConfig::default(),
        &photos,
    )
    .unwrap();
    assert_eq!(a.sha256, b.sha256);
    assert!(b.already_stored);
}

#[test]
fn the_same_bytes_twice_are_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let input = jpeg(&textured(300, 200, 8), 85);
    let first = photo::process(
        PhotoSource::Bytes(&input),
        &PipelineConfig::default(),
        dir.path(),
    )
    .unwrap();
    let before = snapshot(dir.path());
    let second = photo::process(
        PhotoSource::Bytes(&input),
        &PipelineConfig::default(),
        dir.path(),
    )
    .unwrap();
    assert!(!first.already_stored);
    assert!(second.already_stored);
    assert_eq!(first.sha256, second.sha256);
    assert_eq!(snapshot(dir.path()), before);
    assert_eq!(
        before.len(),
        2,
        "one photo and one thumbnail: {:?}",
        before.keys()
    );
}

#[test]
fn two_threads_at_once_both_succeed_with_intact_files() {
    for same in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let inputs = [
            jpeg(&textured(900, 700, 9), 85),
            jpeg(&textured(900, 700, if same { 9 } else { 10 }), 85),
        ];
        let barrier = Arc::new(Barrier::new(2));
        let results: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = inputs
                .iter()
                .map(|input| {
                    let barrier = Arc::clone(&barrier);
                    let dir = dir.path();
                    s.spawn(move || {
                        barrier.wait();
                        photo::process(PhotoSource::Bytes(input), &PipelineConfig::default(), dir)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap().unwrap())
                .collect()
        });
        for r in &results {
            let bytes = std::fs::read(&r.path).unwrap();
            assert_eq!(bytes.len() as u64, r.bytes);
            assert_eq!(decode(&bytes).dimensions(), (900, 700));
        }
        let files = snapshot(dir.path());
        assert_eq!(files.len(), if same { 2 } else { 4 }, "{:?}", files.keys());
        assert!(files.keys().all(|p| !p.to_string_lossy().ends_with(".tmp")));
    }
}

/// Some phones append vendor data after the JPEG's end marker; that photo is whole and accepted.
#[test]
fn trailing_vendor_data_after_the_end_marker_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let mut input = jpeg(&textured(300, 200, 17), 85);
    input.extend_from_slice(b"SEFHvendor-trailer-bytes");
    let out = photo::process(
        PhotoSource::Bytes(&input),
        &PipelineConfig::default(),
        dir.path(),
    )
    .unwrap();
    assert_eq!((out.width, out.height), (300, 200));
}

/// Two patches in Display P3 (a recent phone's camera): sRGB's pure red and pure green, as P3
/// writes them (the reference values browsers use: `color(display-p3 0.9175 0.2003 0.1386)` is
/// sRGB red, `color(display-p3 0.4584 0.9853 0.2983)` sRGB green). Stored without conversion
/// they would read as a dull brick red and a pale green.
fn p3_patches() -> RgbImage {
    RgbImage::from_fn(256, 128, |x, _| {
        if x < 128 {
            image::Rgb([234, 51, 35])
        } else {
            image::Rgb([117, 251, 76])
        }
    })
}

fn display_p3_icc() -> Vec<u8> {
    moxcms::ColorProfile::new_display_p3()
        .encode()
        .expect("a P3 profile")
}

fn assert_near(got: [u32; 3], want: [u32; 3], what: &str) {
    let off = (0..3).map(|c| got[c].abs_diff(want[c])).max().unwrap_or(0);
    assert!(off <= 8, "{what}: {got:?}, expected about {want:?}");
}

#[test]
fn display_p3_photos_are_stored_in_srgb_looking_as_photographed() {
    use image::ImageEncoder;
    let img = p3_patches();
    let mut tagged_jpeg = Vec::new();
    let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut tagged_jpeg, 95);
    encoder.set_icc_profile(display_p3_icc()).expect("icc");
    encoder
        .write_image(img.as_raw(), 256, 128, image::ExtendedColorType::Rgb8)
        .expect("encode");
    let mut tagged_png = Vec::new();
    let mut encoder = image::codecs::png::PngEncoder::new(&mut tagged_png);
    encoder.set_icc_profile(display_p3_icc()).expect("icc");
    encoder
        .write_image(img.as_raw(), 256, 128, image::ExtendedColorType::Rgb8)
        .expect("encode");

    for (what, input) in [("JPEG", tagged_jpeg), ("PNG", tagged_png)] {
        let dir = tempfile::tempdir().unwrap();
        let out = photo::process(
            PhotoSource::Bytes(&input),
            &PipelineConfig::default(),
            dir.path(),
        )
        .unwrap();
        let bytes = std::fs::read(&out.path).unwrap();
        let stored = decode(&bytes);
        assert_near(patch_mean(&stored, 48, 48, 32), [255, 0, 0], what);
        assert_near(patch_mean(&stored, 176, 48, 32), [0, 255, 0], what);
        // The stored JPEG is plain sRGB: it carries no profile for a viewer to misread.
        assert!(
            !bytes.windows(12).any(|w| w == b"ICC_PROFILE\0"),
            "{what}: a profile was kept"
        );
    }

    // Untagged, the same numbers are taken as sRGB and stored as they are.
    let dir = tempfile::tempdir().unwrap();
    let plain = jpeg(&img, 95);
    let out = photo::process(
        PhotoSource::Bytes(&plain),
        &PipelineConfig::default(),
        dir.path(),
    )
    .unwrap();
    let stored = decode(&std::fs::read(&out.path).unwrap());
    assert_near(patch_mean(&stored, 48, 48, 32), [234, 51, 35], "untagged");
}

//! Bad input: each gets its own typed error, and nothing is written or touched.

mod photo_support;

use std::path::Path;
use std::time::{Duration, Instant};

use fieldcore::photo::{self, PhotoError, PhotoSource, PipelineConfig};
use photo_support::*;

/// A photo dir that already holds one stored photo, so "nothing touched" means something.
fn dir_with_one_photo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let input = jpeg(&textured(200, 150, 11), 85);
    photo::process(
        PhotoSource::Bytes(&input),
        &PipelineConfig::default(),
        dir.path(),
    )
    .unwrap();
    dir
}

fn reject(bytes: &[u8], config: &PipelineConfig) -> PhotoError {
    let dir = dir_with_one_photo();
    let before = snapshot(dir.path());
    let err = photo::process(PhotoSource::Bytes(bytes), config, dir.path()).unwrap_err();
    assert_eq!(
        snapshot(dir.path()),
        before,
        "the photo dir changed after {err:?}"
    );
    // The same through a path, when the input fits on disk.
    let input = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(input.path(), bytes).unwrap();
    let err2 = photo::process(PhotoSource::Path(input.path()), config, dir.path()).unwrap_err();
    assert_eq!(std::mem::discriminant(&err), std::mem::discriminant(&err2));
    assert_eq!(
        snapshot(dir.path()),
        before,
        "the photo dir changed after {err2:?}"
    );
    assert!(!err.to_string().is_empty());
    err
}

#[test]
fn heic_is_refused_by_name() {
    let mut heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic".to_vec();
    heic.extend_from_slice(&[0x55; 500]);
    match reject(&heic, &PipelineConfig::default()) {
        PhotoError::UnsupportedFormat { detected } => {
            assert!(detected.contains("HEIC"), "{detected}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn tiff_is_refused_by_name() {
    let mut tiff = b"II*\0\x08\0\0\0".to_vec();
    tiff.extend_from_slice(&[0; 200]);
    match reject(&tiff, &PipelineConfig::default()) {
        PhotoError::UnsupportedFormat { detected } => {
            assert!(detected.contains("TIFF"), "{detected}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn random_bytes_are_refused() {
    let mut s = 0x1234_5678_9abc_def1u64;
    let bytes: Vec<u8> = (0..4096)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s as u8
        })
        .collect();
    assert!(matches!(
        reject(&bytes, &PipelineConfig::default()),
        PhotoError::UnsupportedFormat { .. }
    ));
}

#[test]
fn random_bytes_behind_a_jpeg_header_are_corrupt() {
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0];
    bytes.extend((0..2000u32).map(|i| (i * 7919 % 251) as u8));
    assert!(matches!(
        reject(&bytes, &PipelineConfig::default()),
        PhotoError::Corrupt(_)
    ));
}

#[test]
fn empty_input_is_refused() {
    assert!(matches!(
        reject(&[], &PipelineConfig::default()),
        PhotoError::Empty
    ));
}

#[test]
fn truncated_jpeg_is_corrupt() {
    let whole = jpeg(&textured(400, 300, 12), 90);
    let half = &whole[..whole.len() / 2];
    assert!(matches!(
        reject(half, &PipelineConfig::default()),
        PhotoError::Corrupt(_)
    ));
}

#[test]
fn truncated_png_is_corrupt() {
    let whole = png_rgba(&rgba(300, 200, |x, y| [x as u8, y as u8, 7, 255]));
    let half = &whole[..whole.len() / 2];
    assert!(matches!(
        reject(half, &PipelineConfig::default()),
        PhotoError::Corrupt(_)
    ));
}

#[test]
fn a_30000_square_header_is_refused_fast_without_decoding() {
    for bomb in [png_claiming(30_000, 30_000), jpeg_claiming(30_000, 30_000)] {
        let start = Instant::now();
        match reject(&bomb, &PipelineConfig::default()) {
            PhotoError::TooManyPixels {
                width,
                height,
                limit,
            } => {
                assert_eq!((width, height, limit), (30_000, 30_000, 50_000_000));
            }
            other => panic!("{other:?}"),
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "took {:?}",
            start.elapsed()
        );
    }
}

/// Security findings: a strip of 1 x 49 000 000 grey pixels passed the pixel cap and took ~2 GB
/// to process; a 7000 x 7000 16-bit PNG took ~600 MB. Both are refused from the header, by what
/// the decode would allocate (bit depth and bytes per pixel included), before any pixel.
#[test]
fn a_header_whose_decode_would_not_fit_in_a_phones_memory_is_refused() {
    for (bomb, w, h) in [
        (png_claiming_as(1, 49_000_000, 8, 0), 1, 49_000_000),
        (png_claiming_as(7000, 7000, 16, 2), 7000, 7000),
        (png_claiming_as(7000, 7000, 16, 6), 7000, 7000),
        (png_claiming_as(7000, 7000, 8, 6), 7000, 7000),
    ] {
        match reject(&bomb, &PipelineConfig::default()) {
            PhotoError::TooLargeToDecode {
                width,
                height,
                limit,
                ..
            } => {
                assert_eq!((width, height), (w, h));
                assert_eq!(limit, PipelineConfig::default().max_decode_bytes);
            }
            other => panic!("{w}x{h}: {other:?}"),
        }
    }
    // A 48 MP 8-bit RGB photo (what a phone camera makes) is still within the limits.
    let config = PipelineConfig::default();
    assert!(8000 * 6000 * 3 <= config.max_decode_bytes && 8000 <= config.max_edge);
}

#[test]
fn a_missing_path_is_not_found() {
    let dir = dir_with_one_photo();
    let before = snapshot(dir.path());
    let missing = dir.path().join("no-such-photo.jpg");
    match photo::process(
        PhotoSource::Path(&missing),
        &PipelineConfig::default(),
        dir.path(),
    ) {
        Err(PhotoError::NotFound(p)) => assert_eq!(p, missing),
        other => panic!("{other:?}"),
    }
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn over_the_byte_cap_is_too_large() {
    let input = jpeg(&textured(200, 150, 13), 90);
    let config = PipelineConfig {
        max_input_bytes: 1000,
        ..PipelineConfig::default()
    };
    match reject(&input, &config) {
        PhotoError::TooLarge { bytes, limit } => {
            assert_eq!((bytes, limit), (input.len() as u64, 1000))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_photo_over_the_pixel_cap_is_refused() {
    let input = jpeg(&textured(200, 150, 14), 90);
    let config = PipelineConfig {
        max_pixels: 200 * 150 - 1,
        ..PipelineConfig::default()
    };
    assert!(matches!(
        reject(&input, &config),
        PhotoError::TooManyPixels {
            width: 200,
            height: 150,
            ..
        }
    ));
}

#[test]
fn errors_read_as_plain_words() {
    let e = PhotoError::UnsupportedFormat {
        detected: "HEIC/HEIF (heic)".into(),
    };
    assert!(e.to_string().contains("JPEG or PNG"));
    assert!(PhotoError::DiskFull.to_string().contains("storage is full"));
    assert!(
        PhotoError::NotFound(Path::new("/x.jpg").into())
            .to_string()
            .contains("/x.jpg")
    );
}

/// An EXIF thumbnail carries its own SOI..EOI: that EOI must not make a cut-off photo look whole.
#[test]
fn an_exif_thumbnails_end_marker_does_not_hide_truncation() {
    let whole = jpeg(&textured(400, 300, 15), 90);
    let embedded = jpeg(&textured(16, 16, 16), 80);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&embedded); // not a valid TIFF, but the bytes FF D9 are what matter
    let mut with_thumb = whole[..2].to_vec();
    with_thumb.extend_from_slice(&[0xFF, 0xE1]);
    with_thumb.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    with_thumb.extend_from_slice(&app1);
    with_thumb.extend_from_slice(&whole[2..]);
    let cut = &with_thumb[..with_thumb.len() * 2 / 3];
    assert!(cut.windows(2).any(|w| w == [0xFF, 0xD9]));
    assert!(matches!(
        reject(cut, &PipelineConfig::default()),
        PhotoError::Corrupt(_)
    ));
}

/// An end-of-image marker in the middle of the scan: the file ends with a proper EOI, so the
/// truncation check passes, but half the picture is missing. libjpeg would fill the rest with
/// grey and only warn; the pipeline refuses it, so a half photo is never stored as evidence.
#[test]
fn a_scan_cut_by_a_marker_is_corrupt() {
    let mut bytes = jpeg(&textured(400, 300, 13), 90);
    let sos = bytes
        .windows(2)
        .position(|w| w == [0xFF, 0xDA])
        .expect("a scan");
    let middle = sos + (bytes.len() - sos) / 2;
    // Not inside a stuffed FF 00 pair: step past any FF.
    let at = (middle..bytes.len())
        .find(|&i| bytes[i - 1] != 0xFF && bytes[i] != 0xFF)
        .unwrap();
    bytes.splice(at..at, [0xFF, 0xD9]);
    match reject(&bytes, &PipelineConfig::default()) {
        PhotoError::Corrupt(why) => assert!(why.contains("damaged"), "{why}"),
        other => panic!("{other:?}"),
    }
}

/// A progressive JPEG makes libjpeg buffer every DCT coefficient of the full-size image (two bytes
/// per sample) whatever the output scale: a 7000 x 7000 progressive header asks for ~294 MB
/// before the first pixel and is refused from the header; the same size in baseline, decoded at
/// 3/8 scale, is not.
#[test]
fn a_progressive_header_too_large_to_buffer_is_refused() {
    let mut progressive = jpeg_claiming(7000, 7000);
    let sof = progressive
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .unwrap();
    progressive[sof + 1] = 0xC2;
    match reject(&progressive, &PipelineConfig::default()) {
        PhotoError::TooLargeToDecode { width, height, .. } => {
            assert_eq!((width, height), (7000, 7000))
        }
        other => panic!("{other:?}"),
    }
    // Baseline at that size passes the limits and fails only on its (16 x 16) data.
    match reject(&jpeg_claiming(7000, 7000), &PipelineConfig::default()) {
        PhotoError::Corrupt(_) => {}
        other => panic!("{other:?}"),
    }
}

/// A baseline frame whose first scan carries fewer components than the frame (one scan per
/// component) makes libjpeg buffer the whole image's coefficients, like a progressive one: the
/// budget counts it from the header.
#[test]
fn a_multi_scan_baseline_header_too_large_to_buffer_is_refused() {
    let mut bytes = jpeg_claiming(7000, 7000);
    let sos = bytes.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    assert_eq!(
        bytes[sos + 4],
        3,
        "a colour JPEG's one scan has 3 components"
    );
    // The first scan becomes luma only: Ns = 1, the other two components' selectors dropped.
    bytes[sos + 3] = 8;
    bytes[sos + 4] = 1;
    bytes.drain(sos + 7..sos + 11);
    match reject(&bytes, &PipelineConfig::default()) {
        PhotoError::TooLargeToDecode { width, height, .. } => {
            assert_eq!((width, height), (7000, 7000))
        }
        other => panic!("{other:?}"),
    }
}

/// Every scan walks the whole image again: a file of hundreds of tiny scans is refused before
/// decoding, not decoded for minutes.
#[test]
fn a_jpeg_with_more_scans_than_any_camera_writes_is_refused() {
    let mut bytes = jpeg(&textured(64, 48, 14), 90);
    let eoi = bytes.len() - 2;
    let scan = [0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00];
    let extra: Vec<u8> = scan
        .iter()
        .copied()
        .cycle()
        .take(scan.len() * 600)
        .collect();
    bytes.splice(eoi..eoi, extra);
    match reject(&bytes, &PipelineConfig::default()) {
        PhotoError::Corrupt(why) => assert!(why.contains("scans"), "{why}"),
        other => panic!("{other:?}"),
    }
}

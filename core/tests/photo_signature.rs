//! The customer's signature: stored as strokes and PNG, hashed, refused when empty or a dot.

use fieldcore::photo::{self, PhotoError, Point, Signature, Stroke};

fn line(from: (f32, f32), to: (f32, f32), n: u32) -> Stroke {
    let points = (0..n)
        .map(|i| {
            let t = i as f32 / (n - 1) as f32;
            Point {
                x: from.0 + t * (to.0 - from.0),
                y: from.1 + t * (to.1 - from.1),
                t_ms: i * 16,
            }
        })
        .collect();
    Stroke { points }
}

fn sample() -> Signature {
    Signature {
        width: 400,
        height: 200,
        strokes: vec![
            line((40.0, 150.0), (200.0, 50.0), 20),
            line((200.0, 50.0), (360.0, 150.0), 20),
        ],
    }
}

#[test]
fn signature_is_stored_hashed_and_rendered() {
    use sha2::Digest;
    let dir = tempfile::tempdir().unwrap();
    let stored = photo::store_signature(&sample(), dir.path()).unwrap();
    assert_eq!(stored.stroke_count, 2);
    let json = std::fs::read(&stored.strokes_path).unwrap();
    assert_eq!(
        stored.strokes_sha256,
        hex::encode(sha2::Sha256::digest(&json))
    );
    let back: Signature = serde_json::from_slice(&json).unwrap();
    assert_eq!(back, sample());
    let png = std::fs::read(&stored.png_path).unwrap();
    assert_eq!(stored.png_sha256, hex::encode(sha2::Sha256::digest(&png)));

    let img = image::load_from_memory(&png).unwrap().into_luma8();
    assert_eq!(img.dimensions(), (400, 200));
    // Dark along both strokes (sampled between the points), white well away from them.
    for (x, y) in [(40, 150), (120, 100), (200, 50), (280, 100), (359, 149)] {
        assert!(img.get_pixel(x, y).0[0] < 80, "light at ({x},{y})");
    }
    for (x, y) in [(5, 5), (200, 190), (395, 5)] {
        assert_eq!(img.get_pixel(x, y).0[0], 255, "ink at ({x},{y})");
    }
}

#[test]
fn storing_the_same_signature_twice_gives_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    let a = photo::store_signature(&sample(), dir.path()).unwrap();
    let b = photo::store_signature(&sample(), dir.path()).unwrap();
    assert_eq!(a, b);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2); // two shards at most
}

#[test]
fn empty_signatures_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let none = Signature {
        width: 400,
        height: 200,
        strokes: vec![],
    };
    let empty_stroke = Signature {
        width: 400,
        height: 200,
        strokes: vec![Stroke { points: vec![] }],
    };
    for sig in [none, empty_stroke] {
        assert!(matches!(
            photo::store_signature(&sig, dir.path()),
            Err(PhotoError::SignatureEmpty)
        ));
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_dot_or_a_tiny_scribble_is_too_small() {
    let dir = tempfile::tempdir().unwrap();
    let dot = Signature {
        width: 400,
        height: 200,
        strokes: vec![Stroke {
            points: vec![Point {
                x: 100.0,
                y: 100.0,
                t_ms: 0,
            }],
        }],
    };
    let few = Signature {
        width: 400,
        height: 200,
        strokes: vec![line((10.0, 10.0), (390.0, 190.0), 9)],
    };
    let tiny = Signature {
        width: 400,
        height: 200,
        strokes: vec![line((100.0, 100.0), (115.0, 105.0), 30)],
    };
    for sig in [dot, few, tiny] {
        let refused = photo::store_signature(&sig, dir.path());
        assert!(
            matches!(refused, Err(PhotoError::SignatureTooSmall)),
            "{refused:?}"
        );
    }
    // A flat but wide one-stroke signature is fine.
    let flat = Signature {
        width: 400,
        height: 200,
        strokes: vec![line((50.0, 100.0), (300.0, 104.0), 30)],
    };
    photo::store_signature(&flat, dir.path()).unwrap();
}

#[test]
fn nonsense_canvas_or_points_are_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let mut huge = sample();
    huge.width = 100_000;
    let mut nan = sample();
    nan.strokes[0].points[3].x = f32::NAN;
    for sig in [huge, nan] {
        assert!(matches!(
            photo::store_signature(&sig, dir.path()),
            Err(PhotoError::SignatureInvalid(_))
        ));
    }
}

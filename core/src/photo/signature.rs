//! The customer's signature, kept as what they actually did (their strokes, with timing) and as a
//! picture anyone can look at. The strokes are the evidence; the PNG is derived from them.
//!
//! Refusal rule (documented for support): a signature needs at least [`MIN_POINTS`] points in
//! total, and its bounding box must span at least [`MIN_EXTENT`] (5%) of the canvas width or of
//! the canvas height. That refuses an empty pad, a tap and a tiny scribble, and accepts a
//! one-stroke signature or a short flat one.

use std::path::{Path, PathBuf};

use image::{ExtendedColorType, GrayImage, ImageEncoder, Luma};
use serde::{Deserialize, Serialize};

use super::error::PhotoError;
use super::files;

/// Fewer points than this is a tap, not a signature.
pub const MIN_POINTS: usize = 10;
/// Smallest extent, as a fraction of the canvas side, on at least one axis.
pub const MIN_EXTENT: f32 = 0.05;
/// Largest canvas side we render, so a bogus canvas size cannot ask for gigabytes.
const MAX_CANVAS: u32 = 8192;
/// Half the pen width (3 px line).
const PEN_RADIUS: f32 = 1.5;

/// One sample of the pen, in canvas pixels; `t_ms` since the signature started.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub x: f32,
    pub y: f32,
    pub t_ms: u32,
}

/// Pen down to pen up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stroke {
    pub points: Vec<Point>,
}

/// Strokes as drawn, with the size of the canvas they were drawn on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signature {
    pub width: u32,
    pub height: u32,
    pub strokes: Vec<Stroke>,
}

/// Where a signature's two files are and what they hash to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSignature {
    pub strokes_sha256: String,
    pub strokes_path: PathBuf,
    pub png_sha256: String,
    pub png_path: PathBuf,
    pub stroke_count: u32,
}

/// Check, serialize canonically, render, and store both content-addressed.
pub fn store_signature(sig: &Signature, photo_dir: &Path) -> Result<StoredSignature, PhotoError> {
    validate(sig)?;
    // serde_json writes struct fields in declaration order and floats in their shortest exact
    // form, so equal signatures give equal bytes and therefore equal hashes.
    let json = serde_json::to_vec(sig).map_err(|e| PhotoError::SignatureInvalid(e.to_string()))?;
    let png = encode_png(&render(sig))?;
    let strokes_sha256 = files::sha256_hex(&json);
    let png_sha256 = files::sha256_hex(&png);
    let strokes_path = super::strokes_path(photo_dir, &strokes_sha256);
    let png_path = files::content_path(photo_dir, &png_sha256, ".png");
    let png_existed = files::write_once(&png_path, &png)?;
    if let Err(e) = files::write_once(&strokes_path, &json) {
        if !png_existed {
            let _ = files::remove_if_exists(&png_path);
        }
        return Err(e);
    }
    Ok(StoredSignature {
        strokes_sha256,
        strokes_path,
        png_sha256,
        png_path,
        stroke_count: u32::try_from(sig.strokes.len()).unwrap_or(u32::MAX),
    })
}

fn validate(sig: &Signature) -> Result<(), PhotoError> {
    if sig.width == 0 || sig.height == 0 || sig.width > MAX_CANVAS || sig.height > MAX_CANVAS {
        return Err(PhotoError::SignatureInvalid(format!(
            "canvas size {}x{} (each side must be 1..={MAX_CANVAS})",
            sig.width, sig.height
        )));
    }
    let points = || sig.strokes.iter().flat_map(|s| s.points.iter());
    if points().any(|p| !p.x.is_finite() || !p.y.is_finite()) {
        return Err(PhotoError::SignatureInvalid(
            "a point is not a finite number".into(),
        ));
    }
    let count = points().count();
    if count == 0 {
        return Err(PhotoError::SignatureEmpty);
    }
    if count < MIN_POINTS {
        return Err(PhotoError::SignatureTooSmall);
    }
    let (mut min_x, mut min_y, mut max_x, mut max_y) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for p in points() {
        min_x = min_x.min(p.x);
        min_y = min_y.min(p.y);
        max_x = max_x.max(p.x);
        max_y = max_y.max(p.y);
    }
    let wide = max_x - min_x >= MIN_EXTENT * sig.width as f32;
    let tall = max_y - min_y >= MIN_EXTENT * sig.height as f32;
    if !wide && !tall {
        return Err(PhotoError::SignatureTooSmall);
    }
    Ok(())
}

/// Black ~3 px lines on white, anti-aliased by distance to the segment: no drawing dependency for
/// a few dozen lines of geometry.
fn render(sig: &Signature) -> GrayImage {
    let mut img = GrayImage::from_pixel(sig.width, sig.height, Luma([255]));
    for stroke in &sig.strokes {
        match stroke.points.as_slice() {
            [] => {}
            [p] => draw_segment(&mut img, (p.x, p.y), (p.x, p.y)),
            pts => {
                for w in pts.windows(2) {
                    draw_segment(&mut img, (w[0].x, w[0].y), (w[1].x, w[1].y));
                }
            }
        }
    }
    img
}

fn draw_segment(img: &mut GrayImage, a: (f32, f32), b: (f32, f32)) {
    let reach = PEN_RADIUS + 1.0;
    let (w, h) = (img.width() as f32, img.height() as f32);
    let x0 = (a.0.min(b.0) - reach).floor().clamp(0.0, w) as u32;
    let x1 = (a.0.max(b.0) + reach).ceil().clamp(0.0, w) as u32;
    let y0 = (a.1.min(b.1) - reach).floor().clamp(0.0, h) as u32;
    let y1 = (a.1.max(b.1) + reach).ceil().clamp(0.0, h) as u32;
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    for y in y0..y1 {
        for x in x0..x1 {
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            let t = if len2 > 0.0 {
                (((px - a.0) * dx + (py - a.1) * dy) / len2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let (cx, cy) = (a.0 + t * dx - px, a.1 + t * dy - py);
            let coverage = (PEN_RADIUS + 0.5 - (cx * cx + cy * cy).sqrt()).clamp(0.0, 1.0);
            if coverage > 0.0 {
                let ink = (255.0 * (1.0 - coverage)).round() as u8;
                let px = img.get_pixel_mut(x, y);
                px.0[0] = px.0[0].min(ink);
            }
        }
    }
}

fn encode_png(img: &GrayImage) -> Result<Vec<u8>, PhotoError> {
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            ExtendedColorType::L8,
        )
        .map_err(|e| PhotoError::SignatureInvalid(format!("PNG encoding failed: {e}")))?;
    Ok(out)
}

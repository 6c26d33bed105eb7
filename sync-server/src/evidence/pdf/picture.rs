//! Photos made small for the report: decoded within bounds, fitted, re-encoded as JPEG.
//!
//! The report never carries a device's bytes: a hostile phone's file could aim at a PDF
//! reader's decoder, and full-size photos would make a report of tens of megabytes. The exact
//! bytes are in the bundle, where `verify` checks them.

use std::io::Cursor;

use image::{DynamicImage, ImageReader, Limits, RgbImage};

use super::layout::Picture;

/// Longest side in the report, in pixels: sharp at the size the report prints a photo.
const SIDE: u32 = 640;
/// Twice the longest side the phone's pipeline writes (2048, ADR 0002); anything bigger is not
/// a photo our app took, and is not decoded.
const MAX_SIDE: u32 = 4096;
/// 4096 x 4096 RGBA.
const MAX_ALLOC: u64 = 64 << 20;

/// `None` if the bytes are not a JPEG or PNG this can decode within the bounds.
pub fn picture(bytes: &[u8]) -> Option<Picture> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .ok()?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let decoded = reader.decode().ok()?;
    let small = if decoded.width() > SIDE || decoded.height() > SIDE {
        decoded.thumbnail(SIDE, SIDE)
    } else {
        decoded
    };
    let rgb = on_white(small);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 82)
        .encode_image(&rgb)
        .ok()?;
    Some(Picture {
        jpeg,
        width: rgb.width(),
        height: rgb.height(),
    })
}

/// Transparent parts (a signature's background) shown on white paper.
fn on_white(img: DynamicImage) -> RgbImage {
    if !img.color().has_alpha() {
        return img.to_rgb8();
    }
    let rgba = img.to_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let p = rgba.get_pixel(x, y).0;
        let a = u16::from(p[3]);
        let mix = |c: u8| ((u16::from(c) * a + 255 * (255 - a)) / 255) as u8;
        image::Rgb([mix(p[0]), mix(p[1]), mix(p[2])])
    })
}

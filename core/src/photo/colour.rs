//! Colour: stored photos are sRGB, what every browser, PDF reader and phone assumes of an
//! untagged JPEG. A camera that tags its picture with another profile (Display P3 on recent
//! phones, Adobe RGB on some cameras) has its pixels converted from that profile, so the evidence
//! looks like what was photographed: the stored JPEG carries no profile (ADR 0002).
//!
//! The profile comes from an untrusted file. It is size-capped, parsed by `moxcms` (pure Rust,
//! the colour engine the `image` crate uses), and only RGB profiles are applied. A profile that
//! cannot be read or applied leaves the pixels as the camera wrote them: a photo is never lost
//! to its colour tag.

use std::panic::{AssertUnwindSafe, catch_unwind};

use image::RgbImage;
use moxcms::{ColorProfile, DataColorSpace, Layout, TransformOptions};

/// The largest ICC profile believed: cameras write a few kilobytes (a P3 profile is ~550 bytes).
pub(crate) const MAX_ICC_BYTES: usize = 1 << 20;

/// `rgb` in sRGB, converted from `icc` when the camera tagged it with an RGB profile.
pub(crate) fn to_srgb(rgb: RgbImage, icc: Option<&[u8]>) -> RgbImage {
    let Some(icc) = icc.filter(|p| !p.is_empty() && p.len() <= MAX_ICC_BYTES) else {
        return rgb;
    };
    // A crafted profile must not crash the app: any panic in the engine keeps the pixels.
    match catch_unwind(AssertUnwindSafe(|| convert(&rgb, icc))) {
        Ok(Some(converted)) => converted,
        _ => rgb,
    }
}

fn convert(rgb: &RgbImage, icc: &[u8]) -> Option<RgbImage> {
    let source = ColorProfile::new_from_slice(icc).ok()?;
    if source.color_space != DataColorSpace::Rgb {
        return None;
    }
    let transform = source
        .create_transform_8bit(
            Layout::Rgb,
            &ColorProfile::new_srgb(),
            Layout::Rgb,
            TransformOptions::default(),
        )
        .ok()?;
    // Many phones tag plain sRGB: a profile that maps a sample of the colour cube to itself is
    // not worth a pass over the photo.
    let probe: Vec<u8> = (0u32..16 * 16 * 16)
        .flat_map(|i| [(i >> 8) & 15, (i >> 4) & 15, i & 15].map(|c| (c * 17) as u8))
        .collect();
    let mut mapped = vec![0u8; probe.len()];
    transform.transform(&probe, &mut mapped).ok()?;
    if probe.iter().zip(&mapped).all(|(a, b)| a.abs_diff(*b) <= 1) {
        return None;
    }
    let mut out = vec![0u8; rgb.as_raw().len()];
    transform.transform(rgb.as_raw(), &mut out).ok()?;
    RgbImage::from_raw(rgb.width(), rgb.height(), out)
}

/// The ICC profile of a JPEG from its APP2 segments (`ICC_PROFILE\0`, sequence number, count,
/// data), which a large profile spreads over several. `None` when there is none, or the chunks
/// do not make one whole profile within [`MAX_ICC_BYTES`].
pub(crate) fn icc_from_app2<'a>(segments: impl Iterator<Item = &'a [u8]>) -> Option<Vec<u8>> {
    let mut chunks: Vec<(u8, u8, &[u8])> = segments
        .filter_map(|s| s.strip_prefix(b"ICC_PROFILE\0"))
        .filter_map(|s| Some((*s.first()?, *s.get(1)?, s.get(2..)?)))
        .collect();
    let count = chunks.first()?.1;
    chunks.sort_by_key(|c| c.0);
    let whole = chunks.len() == usize::from(count)
        && chunks
            .iter()
            .enumerate()
            .all(|(i, c)| c.1 == count && usize::from(c.0) == i + 1);
    let size: usize = chunks.iter().map(|c| c.2.len()).sum();
    (whole && size <= MAX_ICC_BYTES).then(|| chunks.iter().flat_map(|c| c.2).copied().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_split_over_segments_are_joined_in_order_and_partial_ones_refused() {
        let seg = |seq: u8, count: u8, data: &[u8]| {
            let mut s = b"ICC_PROFILE\0".to_vec();
            s.extend([seq, count]);
            s.extend_from_slice(data);
            s
        };
        let (a, b) = (seg(1, 2, b"abc"), seg(2, 2, b"def"));
        let other = b"Exif\0\0junk".to_vec();
        let joined = icc_from_app2([&b[..], &other[..], &a[..]].into_iter());
        assert_eq!(joined.as_deref(), Some(&b"abcdef"[..]));
        assert_eq!(icc_from_app2([&a[..]].into_iter()), None, "a chunk missing");
        assert_eq!(
            icc_from_app2([&a[..], &a[..]].into_iter()),
            None,
            "a chunk twice"
        );
        assert_eq!(icc_from_app2([&other[..]].into_iter()), None);
    }

    #[test]
    fn garbage_and_non_rgb_profiles_leave_the_pixels_alone() {
        let rgb = RgbImage::from_pixel(4, 4, image::Rgb([200, 30, 40]));
        assert_eq!(to_srgb(rgb.clone(), Some(b"not a profile")), rgb);
        assert_eq!(to_srgb(rgb.clone(), None), rgb);
        let gray = ColorProfile::new_gray_with_gamma(2.2)
            .encode()
            .expect("encode");
        assert_eq!(to_srgb(rgb.clone(), Some(&gray)), rgb);
    }

    #[test]
    fn an_srgb_tag_leaves_every_pixel_as_it_was_and_p3_does_not() {
        let rgb = RgbImage::from_fn(64, 64, |x, y| {
            image::Rgb([(x * 4) as u8, (y * 4) as u8, ((x + y) * 2) as u8])
        });
        let srgb = ColorProfile::new_srgb().encode().expect("encode");
        assert_eq!(to_srgb(rgb.clone(), Some(&srgb)), rgb);
        let p3 = ColorProfile::new_display_p3().encode().expect("encode");
        assert_ne!(to_srgb(rgb.clone(), Some(&p3)), rgb, "P3 is converted");
    }
}

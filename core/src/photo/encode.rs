//! Downscale and re-encode. Re-encoding from pixels is also what strips EXIF (GPS, serial
//! numbers) from the stored file: nothing but pixels goes in.
//!
//! `fast_image_resize` (SIMD convolution) is used instead of `image`'s own resize because it is
//! 15x faster here; the JPEG encode is libjpeg-turbo's (`jpeg.rs`). See ADR 0002.

use fast_image_resize::images::{TypedImage, TypedImageRef};
use fast_image_resize::pixels::U8x3;
use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::RgbImage;

use super::error::PhotoError;

/// Size that fits `long_edge`, keeping the aspect ratio; never larger than the input, since
/// upscaling adds bytes and no evidence.
pub(crate) fn fit(width: u32, height: u32, long_edge: u32) -> (u32, u32) {
    let long = width.max(height);
    let long_edge = long_edge.max(1);
    if long <= long_edge {
        return (width, height);
    }
    let scale = |v: u32| -> u32 {
        let scaled = (u64::from(v) * u64::from(long_edge) + u64::from(long) / 2) / u64::from(long);
        u32::try_from(scaled).unwrap_or(u32::MAX).max(1)
    };
    (scale(width), scale(height))
}

/// Resize `image` to exactly `width`x`height`; taking ownership lets the full-size buffer be freed
/// as soon as the small one exists, which keeps peak memory near one decoded photo.
pub(crate) fn resize(image: RgbImage, width: u32, height: u32) -> Result<RgbImage, PhotoError> {
    if image.dimensions() == (width, height) {
        return Ok(image);
    }
    resize_ref(&image, width, height)
}

/// Through `resize_typed` for RGB8 only: the untyped `Resizer::resize` dispatches over every
/// pixel type at run time, which links every type's SIMD kernels and alpha tables into the phone
/// library (3 MB of its 9; `docs/benchmarks.md`, "mobile library size").
pub(crate) fn resize_ref(
    image: &RgbImage,
    width: u32,
    height: u32,
) -> Result<RgbImage, PhotoError> {
    let (sw, sh) = image.dimensions();
    let src = TypedImageRef::<U8x3>::from_buffer(sw, sh, image.as_raw()).map_err(internal)?;
    let len = usize::try_from(u64::from(width) * u64::from(height) * 3).map_err(internal)?;
    let mut out = vec![0u8; len];
    {
        let mut dst = TypedImage::<U8x3>::from_buffer(width, height, &mut out).map_err(internal)?;
        let options =
            ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::CatmullRom));
        Resizer::new()
            .resize_typed(&src, &mut dst, &options)
            .map_err(internal)?;
    }
    RgbImage::from_raw(width, height, out)
        .ok_or_else(|| PhotoError::Corrupt("resized buffer has the wrong size".into()))
}

fn internal(e: impl std::fmt::Display) -> PhotoError {
    PhotoError::Corrupt(format!("resizing failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::fit;

    #[test]
    fn fit_keeps_aspect_and_never_upscales() {
        assert_eq!(fit(4000, 3000, 2048), (2048, 1536));
        assert_eq!(fit(3024, 4032, 2048), (1536, 2048));
        assert_eq!(fit(800, 600, 2048), (800, 600));
        assert_eq!(fit(2048, 1536, 320), (320, 240));
        assert_eq!(fit(10000, 1, 320), (320, 1));
    }
}

//! Limits checked before any pixel is decoded. A phone photo is untrusted input (it may come from
//! the gallery, a share intent or a crafted file): a 40-byte PNG can claim 30000x30000 pixels and
//! ask for gigabytes. So: cap the bytes, sniff the format from magic bytes, read only the header's
//! dimensions, and only then decode, with `image::Limits` as a second guard.

use super::error::PhotoError;

/// Policy for one photo. The defaults fit a 48 MP phone camera with room to spare while keeping
/// decode memory bounded on a low-end device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineConfig {
    /// Refuse inputs larger than this before reading them.
    pub max_input_bytes: u64,
    /// Refuse images whose header claims more pixels than this (decompression bombs).
    pub max_pixels: u64,
    /// Refuse images whose longer side exceeds this: a 1 x 49 000 000 strip passes the pixel
    /// cap but no camera makes it, and resizing it costs gigabytes.
    pub max_edge: u32,
    /// Refuse images whose decode would allocate more than this: the decoded buffer (width x
    /// height x bytes per pixel at the header's bit depth) plus the 8-bit RGB copy the pipeline
    /// works on. The pixel cap alone let a 7000 x 7000 16-bit PNG take ~600 MB.
    pub max_decode_bytes: u64,
    /// Long edge of the stored photo; smaller photos are kept at their size, never upscaled.
    pub long_edge: u32,
    /// JPEG quality of the stored photo and thumbnail (1..=100).
    pub jpeg_quality: u8,
    /// Long edge of the thumbnail shown in job lists.
    pub thumb_long_edge: u32,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            max_input_bytes: 40 * 1024 * 1024,
            max_pixels: 50_000_000,
            max_edge: 16_384,
            // A 48 MP camera JPEG (8000 x 6000 RGB, 144 MB) fits; 16-bit or RGBA images that
            // large do not.
            max_decode_bytes: 160 * 1024 * 1024,
            long_edge: 2048,
            jpeg_quality: 82,
            thumb_long_edge: 320,
        }
    }
}

/// The formats we decode. Everything else is refused by name before a decoder sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// Decoded by libjpeg (`jpeg.rs`).
    Jpeg,
    /// Decoded by the `image` crate.
    Png,
}

impl Format {
    pub(crate) fn image_format(self) -> image::ImageFormat {
        match self {
            Format::Jpeg => image::ImageFormat::Jpeg,
            Format::Png => image::ImageFormat::Png,
        }
    }
}

pub(crate) fn check_size(bytes: u64, config: &PipelineConfig) -> Result<(), PhotoError> {
    if bytes == 0 {
        return Err(PhotoError::Empty);
    }
    if bytes > config.max_input_bytes {
        return Err(PhotoError::TooLarge {
            bytes,
            limit: config.max_input_bytes,
        });
    }
    Ok(())
}

/// Decide the format from magic bytes only: file names and MIME types from the OS lie, and iOS
/// hands out HEIC by default, which must get a clear message rather than "corrupt".
pub(crate) fn sniff(bytes: &[u8]) -> Result<Format, PhotoError> {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.is_empty() {
        return Err(PhotoError::Empty);
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(Format::Jpeg);
    }
    if bytes.starts_with(PNG) {
        return Ok(Format::Png);
    }
    let detected = if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        let brand = String::from_utf8_lossy(&bytes[8..12]).into_owned();
        match brand.as_str() {
            "heic" | "heix" | "heim" | "heis" | "hevc" | "hevx" | "mif1" | "msf1" => {
                format!("HEIC/HEIF ({brand})")
            }
            "avif" | "avis" => "AVIF".to_owned(),
            _ => format!("ISO media ({brand})"),
        }
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        "TIFF (or camera RAW)".to_owned()
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        "WebP".to_owned()
    } else if bytes.starts_with(b"GIF8") {
        "GIF".to_owned()
    } else if bytes.starts_with(b"BM") {
        "BMP".to_owned()
    } else {
        "unknown".to_owned()
    };
    Err(PhotoError::UnsupportedFormat { detected })
}

/// The header's claim, checked in u64 so 65535x65535 cannot overflow.
pub(crate) fn check_pixels(
    width: u32,
    height: u32,
    config: &PipelineConfig,
) -> Result<(), PhotoError> {
    if width == 0 || height == 0 {
        return Err(PhotoError::Corrupt(format!(
            "the image claims a size of {width}x{height}"
        )));
    }
    if u64::from(width) * u64::from(height) > config.max_pixels {
        return Err(PhotoError::TooManyPixels {
            width,
            height,
            limit: config.max_pixels,
        });
    }
    Ok(())
}

/// What decoding will allocate, from the header alone: the decoder's own buffer
/// (`decoded_bytes`, its bytes per pixel and bit depth included) plus the 8-bit RGB copy the
/// pipeline converts it to, unless the decoded image already is that copy.
pub(crate) fn check_decode_cost(
    width: u32,
    height: u32,
    decoded_bytes: u64,
    already_rgb8: bool,
    config: &PipelineConfig,
) -> Result<(), PhotoError> {
    let rgb8 = if already_rgb8 {
        0
    } else {
        u64::from(width)
            .saturating_mul(u64::from(height))
            .saturating_mul(3)
    };
    let bytes = decoded_bytes.saturating_add(rgb8);
    if width.max(height) > config.max_edge || bytes > config.max_decode_bytes {
        return Err(PhotoError::TooLargeToDecode {
            width,
            height,
            bytes,
            limit: config.max_decode_bytes,
        });
    }
    Ok(())
}

/// The decoder-side guard: even if a header lied to the checks above, allocation is bounded.
pub(crate) fn decoder_limits(config: &PipelineConfig) -> image::Limits {
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(config.max_decode_bytes);
    limits.max_image_width = Some(config.max_edge);
    limits.max_image_height = Some(config.max_edge);
    limits
}

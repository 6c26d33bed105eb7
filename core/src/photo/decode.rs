//! Reading the input and turning it into RGB pixels, refusing anything dangerous or broken before
//! the expensive (and allocating) part starts.

use std::borrow::Cow;
use std::fs::File;
use std::io::{Cursor, Read};

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageReader, RgbImage};

use super::PhotoSource;
use super::error::PhotoError;
use super::jpeg;
use super::limits::{self, Format, PipelineConfig};

/// Pixels as the camera stored them, plus the EXIF rotation still to apply. Orientation is applied
/// after the downscale, where rotating costs a sixth of what it would at full size.
#[derive(Debug)]
pub(crate) struct Decoded {
    pub rgb: RgbImage,
    pub orientation: Orientation,
    /// The camera's ICC profile, when it tagged the picture with one (`colour.rs`).
    pub icc: Option<Vec<u8>>,
}

/// The input bytes, after the byte cap. For a path the cap is checked on the file's metadata first
/// and the read is bounded too, so a file that grows while we read cannot exceed it.
pub(crate) fn read_source<'a>(
    source: PhotoSource<'a>,
    config: &PipelineConfig,
) -> Result<Cow<'a, [u8]>, PhotoError> {
    match source {
        PhotoSource::Bytes(bytes) => {
            limits::check_size(bytes.len() as u64, config)?;
            Ok(Cow::Borrowed(bytes))
        }
        PhotoSource::Path(path) => {
            let file = File::open(path).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => PhotoError::NotFound(path.to_path_buf()),
                _ => PhotoError::from(e),
            })?;
            let len = file.metadata()?.len();
            limits::check_size(len, config)?;
            let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
            file.take(config.max_input_bytes + 1)
                .read_to_end(&mut buf)?;
            limits::check_size(buf.len() as u64, config)?;
            Ok(Cow::Owned(buf))
        }
    }
}

/// Sniff, check the header's dimensions, then decode with limits set. JPEG goes to libjpeg at a
/// reduced DCT scale (`jpeg.rs`); PNG to the `image` crate. Alpha is flattened on white because
/// the stored format is JPEG and a transparent receipt scan must not turn black.
pub(crate) fn decode(bytes: &[u8], config: &PipelineConfig) -> Result<Decoded, PhotoError> {
    let format = limits::sniff(bytes)?;
    if format == Format::Jpeg {
        let Some(layout) = jpeg_layout(bytes) else {
            return Err(PhotoError::Corrupt(
                "the JPEG data is cut off before its end".into(),
            ));
        };
        return jpeg::decode(bytes, &layout, config);
    }
    let reader = ImageReader::with_format(Cursor::new(bytes), format.image_format());
    let mut decoder = reader.into_decoder().map_err(from_image)?;
    let (width, height) = decoder.dimensions();
    limits::check_pixels(width, height, config)?;
    limits::check_decode_cost(
        width,
        height,
        decoder.total_bytes(),
        decoder.color_type() == image::ColorType::Rgb8,
        config,
    )?;
    decoder
        .set_limits(limits::decoder_limits(config))
        .map_err(from_image)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let icc = decoder.icc_profile().ok().flatten();
    let image = DynamicImage::from_decoder(decoder).map_err(from_image)?;
    Ok(Decoded {
        rgb: flatten_on_white(image),
        orientation,
        icc,
    })
}

fn flatten_on_white(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    let (w, h) = rgba.dimensions();
    let mut out = RgbImage::new(w, h);
    for (dst, src) in out.pixels_mut().zip(rgba.pixels()) {
        let a = u32::from(src.0[3]);
        for c in 0..3 {
            let v = (u32::from(src.0[c]) * a + 255 * (255 - a) + 127) / 255;
            dst.0[c] = v as u8;
        }
    }
    out
}

/// What the marker walk learnt of a complete JPEG.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct JpegLayout {
    /// libjpeg keeps every DCT coefficient of the image in memory: a progressive frame
    /// (SOF2/6/10/14), or a first scan that carries fewer components than the frame.
    pub buffered: bool,
    /// The frame's components' sampling factors (H, V), for the size of that buffer.
    pub sampling: Vec<(u8, u8)>,
    /// Start-of-scan markers in the file: each scan walks the whole image again.
    pub scans: usize,
}

/// The layout of a complete JPEG, or `None` when the file is cut off. JPEG decoders are lenient
/// and paint a truncated file's missing rows grey, which would store a half photo as evidence. A
/// complete JPEG has an EOI marker after its first scan; inside entropy-coded data 0xFF is always
/// stuffed, so an FF D9 (or FF DA, a further scan) there can only be a real marker. Segments
/// before the scan are skipped by length, so an EXIF thumbnail's EOI does not count.
fn jpeg_layout(b: &[u8]) -> Option<JpegLayout> {
    let mut i = 2; // after SOI
    let mut layout = JpegLayout::default();
    loop {
        while i + 1 < b.len() && b[i] == 0xFF && b[i + 1] == 0xFF {
            i += 1; // fill bytes
        }
        if i + 4 > b.len() || b[i] != 0xFF {
            return None;
        }
        let marker = b[i + 1];
        match marker {
            0x01 | 0xD0..=0xD8 => {
                i += 2;
                continue;
            }
            0xD9 => return None,
            _ => {}
        }
        let len = usize::from(u16::from_be_bytes([b[i + 2], b[i + 3]]));
        let next = i + 2 + len;
        let segment = b.get(i + 4..next.min(b.len())).unwrap_or_default();
        match marker {
            // Start of frame (not DHT 0xC4, JPG 0xC8, DAC 0xCC): precision, height, width, Nf,
            // then (id, H<<4|V, table) per component.
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                layout.buffered |= matches!(marker, 0xC2 | 0xC6 | 0xCA | 0xCE);
                layout.sampling = segment
                    .get(6..)
                    .unwrap_or_default()
                    .chunks_exact(3)
                    .take(usize::from(segment.get(5).copied().unwrap_or(0)))
                    .map(|c| (c[1] >> 4, c[1] & 0x0F))
                    .collect();
            }
            0xDA => {
                let in_scan = usize::from(segment.first().copied().unwrap_or(0));
                layout.buffered |= in_scan < layout.sampling.len();
                let rest = b.get(next..)?;
                if !rest.windows(2).rev().any(|w| w == [0xFF, 0xD9]) {
                    return None;
                }
                layout.scans = 1 + rest.windows(2).filter(|w| *w == [0xFF, 0xDA]).count();
                return Some(layout);
            }
            _ => {}
        }
        i = next;
    }
}

fn from_image(e: ImageError) -> PhotoError {
    match e {
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            PhotoError::Corrupt("the file ends too early".into())
        }
        ImageError::IoError(io) => PhotoError::from(io),
        ImageError::Limits(l) => {
            PhotoError::Corrupt(format!("the image exceeds a decoder limit: {l}"))
        }
        ImageError::Unsupported(u) => PhotoError::UnsupportedFormat {
            detected: u.to_string(),
        },
        other => PhotoError::Corrupt(other.to_string()),
    }
}

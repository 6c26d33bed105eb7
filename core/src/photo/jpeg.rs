//! JPEG decoding in the DCT domain, through libjpeg-turbo (mozjpeg's fork, built from source for
//! every target).
//!
//! Why: a 12 MP camera photo is stored at a 2048 px long edge. libjpeg can run its inverse DCT at
//! M/8 scale (M = 1..8), so a 4032 px photo decodes straight to 2520 px (5/8): less IDCT and
//! colour work, and the full 36 MB RGB image is never held. The smallest scale whose result is
//! still at least the target edge is chosen, so the resize that follows only ever shrinks (the
//! quality of today's full decode + resize, measured as SSIM in the `photo_pipeline` bench).
//! ADR 0002 has the figures and the alternatives measured.
//!
//! The stored photo and thumbnail are encoded by the same library ([`encode`]), with SIMD colour
//! conversion and DCT on x86 and ARM.
//!
//! libjpeg reports errors by calling a function that must not return; ours unwinds (as the
//! mozjpeg crate's does) and [`decode`] catches it, so no input can take the process down.
//! Warnings that mean missing or garbled image data are treated as errors: a lenient decoder
//! paints them grey, and a half photo must not be stored as evidence.
#![allow(unsafe_code)] // The error manager's C callbacks; each unsafe block says why it holds.

use std::os::raw::c_int;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use image::RgbImage;
use image::metadata::Orientation;
use mozjpeg::{ColorSpace, Compress, Decompress, Marker};
use mozjpeg_sys::{
    J_MESSAGE_CODE, JERR_CONVERSION_NOTIMPL, JWRN_HIT_MARKER, JWRN_HUFF_BAD_CODE, JWRN_JPEG_EOF,
    JWRN_MUST_RESYNC, jpeg_common_struct, jpeg_error_mgr, jpeg_std_error,
};

use super::decode::{Decoded, JpegLayout};
use super::error::PhotoError;
use super::limits::{self, PipelineConfig};

/// More scans than any camera writes; see [`decode`].
const MAX_SCANS: usize = 500;

/// Why libjpeg stopped: its message code and text, carried by the unwind to [`decode`].
struct Failure {
    code: J_MESSAGE_CODE,
    message: String,
}

/// Decode `bytes` (already sniffed as JPEG and checked complete) at the smallest DCT scale that
/// still gives at least `config.long_edge` on the long side. Limits are checked on the header's
/// size and on what this decode will allocate before any pixel is decoded.
pub(crate) fn decode(
    bytes: &[u8],
    layout: &JpegLayout,
    config: &PipelineConfig,
) -> Result<Decoded, PhotoError> {
    // Each scan walks the whole image: a crafted file of tiny scans would keep a phone busy for
    // minutes. Cameras write 1 (baseline) to ~10 (progressive); libjpeg-turbo's tools stop at 500.
    if layout.scans > MAX_SCANS {
        return Err(PhotoError::Corrupt(format!(
            "the JPEG has {} scans (at most {MAX_SCANS} are decoded)",
            layout.scans
        )));
    }
    match catch_unwind(AssertUnwindSafe(|| decode_inner(bytes, layout, config))) {
        Ok(result) => result,
        Err(payload) => Err(match payload.downcast::<Failure>() {
            Ok(failure) if failure.code == JERR_CONVERSION_NOTIMPL => {
                PhotoError::UnsupportedFormat {
                    detected: format!(
                        "JPEG in a colour space we cannot convert ({})",
                        failure.message
                    ),
                }
            }
            Ok(failure) => {
                PhotoError::Corrupt(format!("the JPEG data is damaged: {}", failure.message))
            }
            // Not libjpeg's: a bug of ours or the crate's. Still an error, not a crash.
            Err(_) => PhotoError::Corrupt("the JPEG decoder failed".into()),
        }),
    }
}

fn decode_inner(
    bytes: &[u8],
    layout: &JpegLayout,
    config: &PipelineConfig,
) -> Result<Decoded, PhotoError> {
    let mut decompress = Decompress::with_err(error_mgr())
        .with_markers(&[Marker::APP(1), Marker::APP(2)])
        .from_mem(bytes)
        .map_err(|e| PhotoError::Corrupt(format!("the JPEG header is unreadable: {e}")))?;
    let (width, height) = (
        u32::try_from(decompress.width()).unwrap_or(u32::MAX),
        u32::try_from(decompress.height()).unwrap_or(u32::MAX),
    );
    limits::check_pixels(width, height, config)?;
    let numerator = scale_numerator(width.max(height), config.long_edge);
    let (out_w, out_h) = (scaled(width, numerator), scaled(height, numerator));
    // The RGB output, plus (progressive and multi-scan files) libjpeg's whole-image coefficient
    // buffer.
    let coefficients = if layout.buffered {
        coefficient_bytes(width, height, &layout.sampling)
    } else {
        0
    };
    let output = u64::from(out_w) * u64::from(out_h) * 3;
    limits::check_decode_cost(width, height, output + coefficients, true, config)?;

    // A garbled EXIF block must not cost the technician the photo: fall back to "as stored".
    let orientation = decompress
        .markers()
        .find_map(|m| m.data.strip_prefix(b"Exif\0\0"))
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);

    let icc = super::colour::icc_from_app2(
        decompress
            .markers()
            .filter(|m| m.marker == Marker::APP(2))
            .map(|m| m.data),
    );

    let undecodable =
        |e: std::io::Error| PhotoError::Corrupt(format!("the JPEG cannot be decoded: {e}"));
    decompress.scale(numerator);
    let mut started = decompress.rgb().map_err(undecodable)?;
    let (w, h) = (started.width(), started.height());
    let pixels: Vec<u8> = started.read_scanlines().map_err(undecodable)?;
    started.finish().map_err(undecodable)?;
    let rgb = u32::try_from(w)
        .ok()
        .zip(u32::try_from(h).ok())
        .and_then(|(w, h)| RgbImage::from_raw(w, h, pixels))
        .ok_or_else(|| {
            PhotoError::Corrupt("the JPEG decoded to fewer rows than it claims".into())
        })?;
    Ok(Decoded {
        rgb,
        orientation,
        icc,
    })
}

/// Encode RGB pixels as a baseline JPEG, 4:2:0, no metadata beyond JFIF (re-encoding from pixels
/// is what strips the camera's EXIF: GPS, serial numbers). libjpeg-turbo's fastest settings (no
/// trellis, no progressive scans: mozjpeg's size tricks cost 5-10x the time on a phone).
pub(crate) fn encode(image: &RgbImage, quality: u8) -> Result<Vec<u8>, PhotoError> {
    let (w, h) = image.dimensions();
    let encoded = catch_unwind(AssertUnwindSafe(|| -> std::io::Result<Vec<u8>> {
        let mut compress = Compress::new_err(Box::new(error_mgr()), ColorSpace::JCS_RGB);
        compress.set_size(w as usize, h as usize);
        compress.set_fastest_defaults();
        compress.set_quality(f32::from(quality.clamp(1, 100)));
        compress.set_chroma_sampling_pixel_sizes((2, 2), (2, 2));
        let mut started = compress.start_compress(Vec::with_capacity(image.as_raw().len() / 8))?;
        started.write_scanlines(image.as_raw())?;
        started.finish()
    }));
    match encoded {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => Err(PhotoError::Corrupt(format!("JPEG encoding failed: {e}"))),
        Err(payload) => Err(PhotoError::Corrupt(format!(
            "JPEG encoding failed: {}",
            payload
                .downcast::<Failure>()
                .map_or_else(|_| "the encoder failed".to_owned(), |f| f.message)
        ))),
    }
}

/// libjpeg's whole-image coefficient buffer: per component, its blocks (8x8, at its sampling
/// relative to the largest, rounded up to whole MCUs) times 64 coefficients of 2 bytes.
fn coefficient_bytes(width: u32, height: u32, sampling: &[(u8, u8)]) -> u64 {
    let h_max = u64::from(sampling.iter().map(|s| s.0).max().unwrap_or(1).max(1));
    let v_max = u64::from(sampling.iter().map(|s| s.1).max().unwrap_or(1).max(1));
    let (w, h) = (u64::from(width), u64::from(height));
    let (mcu_cols, mcu_rows) = (w.div_ceil(8 * h_max), h.div_ceil(8 * v_max));
    let blocks: u64 = sampling
        .iter()
        .map(|&(hs, vs)| mcu_cols * u64::from(hs) * mcu_rows * u64::from(vs))
        .sum();
    // No frame header read (cannot happen for a file libjpeg accepted): assume 3 full planes.
    let blocks = if sampling.is_empty() {
        w.div_ceil(8) * h.div_ceil(8) * 3
    } else {
        blocks
    };
    blocks.saturating_mul(64 * 2)
}

/// The smallest M (of M/8) whose output long edge, `ceil(long * M / 8)` as libjpeg computes it,
/// is still at least `target`; 8 (no scaling) when the photo is not larger than the target.
pub(crate) fn scale_numerator(long: u32, target: u32) -> u8 {
    (1..8u8).find(|&m| scaled(long, m) >= target).unwrap_or(8)
}

fn scaled(side: u32, numerator: u8) -> u32 {
    let scaled = (u64::from(side) * u64::from(numerator)).div_ceil(8);
    u32::try_from(scaled).unwrap_or(u32::MAX)
}

/// libjpeg's standard error manager with our two hooks.
fn error_mgr() -> jpeg_error_mgr {
    // SAFETY: jpeg_error_mgr is a C struct of integers, pointers and function pointers (all
    // `Option`), for which all-zero is valid; jpeg_std_error fills in every field.
    let mut err: jpeg_error_mgr = unsafe { std::mem::zeroed() };
    // SAFETY: `err` is a valid, exclusively borrowed error manager.
    unsafe { jpeg_std_error(&mut err) };
    err.error_exit = Some(error_exit);
    err.emit_message = Some(emit_message);
    err
}

/// libjpeg's fatal errors: unwind to [`decode`] (`resume_unwind`: no panic hook, no message on
/// stderr; libjpeg's frames are compiled with unwind tables and hold no Rust state).
extern "C-unwind" fn error_exit(cinfo: &mut jpeg_common_struct) {
    resume_unwind(Box::new(failure(cinfo)));
}

/// Warnings (level -1) that mean the image data is cut or garbled (a marker inside the data, a
/// bad Huffman code, the end of the file, restart markers out of order) stop the decode; the others
/// (extra bytes between markers, unknown markers, ...) are common in camera files and harmless.
/// Trace messages (level >= 0) are dropped.
extern "C-unwind" fn emit_message(cinfo: &mut jpeg_common_struct, level: c_int) {
    if level >= 0 {
        return;
    }
    let failure = failure(cinfo);
    if matches!(
        failure.code,
        JWRN_HIT_MARKER | JWRN_HUFF_BAD_CODE | JWRN_JPEG_EOF | JWRN_MUST_RESYNC
    ) {
        resume_unwind(Box::new(failure));
    }
}

fn failure(cinfo: &mut jpeg_common_struct) -> Failure {
    // SAFETY: libjpeg calls the hooks with the decompressor whose `err` points at the manager
    // the mozjpeg crate boxed for it, alive for the decompressor's lifetime.
    let Some(err) = (unsafe { cinfo.err.as_ref() }) else {
        return Failure {
            code: 0,
            message: "unknown error".into(),
        };
    };
    let code = err.msg_code;
    let mut buffer = [0u8; 200]; // JMSG_LENGTH_MAX
    let message = match err.format_message {
        Some(format) => {
            // SAFETY: format_message writes at most JMSG_LENGTH_MAX bytes, NUL-terminated, into
            // the buffer; the binding declares it as `&[u8; 80]`, shorter than ours.
            unsafe {
                let format: unsafe extern "C-unwind" fn(&mut jpeg_common_struct, &mut [u8; 200]) =
                    std::mem::transmute(format);
                format(cinfo, &mut buffer);
            }
            let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
            String::from_utf8_lossy(&buffer[..end]).into_owned()
        }
        None => format!("libjpeg message {code}"),
    };
    Failure { code, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_is_the_smallest_that_still_covers_the_target() {
        assert_eq!(scale_numerator(4032, 2048), 5); // 2520 px
        assert_eq!(scale_numerator(4096, 2048), 4); // exactly 2048
        assert_eq!(scale_numerator(4095, 2048), 4); // ceil(2047.5) = 2048, as libjpeg rounds
        assert_eq!(scale_numerator(2048, 2048), 8);
        assert_eq!(scale_numerator(1000, 2048), 8); // never upscaled, never reduced below
        assert_eq!(scale_numerator(16_384, 2048), 1);
        assert_eq!(scale_numerator(8000, 2048), 3); // 3000 px; 2/8 = 2000 is too small
    }
}

//! The photo pipeline: turns a camera file into stored evidence.
//!
//! Why it exists: photos prove work to the ordering party and settle disputes (`domain.md`,
//! "Evidence"), so a stored photo must be exactly what its hash says, never half-written, never
//! replaced, upright, free of the camera's metadata (GPS, device serials), and small enough to
//! upload over a weak mobile link. The input is untrusted, so limits are checked before any pixel
//! is decoded. The store calls [`process`], then records the returned hash and path together with
//! the capture event in one transaction; this module does no database work.
//!
//! Steps: byte cap, format sniff (JPEG/PNG only), header dimension cap, decode with limits,
//! downscale (never up), colour to sRGB (an embedded ICC profile), EXIF orientation, JPEG
//! re-encode, thumbnail, SHA-256, atomic content-addressed write. See `docs/adr/0002-photo-pipeline.md` for the choices and figures.

mod colour;
mod decode;
mod encode;
mod error;
pub(crate) mod files;
mod jpeg;
mod limits;
mod orient;
mod signature;

use std::path::{Path, PathBuf};

pub use error::PhotoError;
pub use limits::PipelineConfig;
pub use signature::{
    MIN_EXTENT, MIN_POINTS, Point, Signature, StoredSignature, Stroke, store_signature,
};

/// Where the camera's file is: a path (camera intent output) or bytes already in memory (share
/// sheet, tests).
#[derive(Debug, Clone, Copy)]
pub enum PhotoSource<'a> {
    Path(&'a Path),
    Bytes(&'a [u8]),
}

/// What was stored. `width`/`height` are of the stored (upright, downscaled) photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessedPhoto {
    /// Lowercase hex SHA-256 of the stored full-size bytes: the photo's identity everywhere.
    pub sha256: String,
    pub width: u32,
    pub height: u32,
    /// Size of the stored full-size file.
    pub bytes: u64,
    pub path: PathBuf,
    pub thumb_path: PathBuf,
    pub thumb_sha256: String,
    /// The same photo was stored before (same bytes captured twice); nothing was rewritten.
    pub already_stored: bool,
}

/// Turn one camera photo into a stored, hashed, upright JPEG plus thumbnail under `photo_dir`.
///
/// Nothing is written unless every check and step succeeded; on error no file (not even a temp
/// file) is left and existing files are untouched. Safe to call concurrently.
pub fn process(
    source: PhotoSource<'_>,
    config: &PipelineConfig,
    photo_dir: &Path,
) -> Result<ProcessedPhoto, PhotoError> {
    let decoded = {
        let input = decode::read_source(source, config)?;
        decode::decode(&input, config)?
        // The input buffer is freed here, before the resize allocates.
    };
    let (w, h) = decoded.rgb.dimensions();
    let (fw, fh) = encode::fit(w, h, config.long_edge);
    let full = encode::resize(decoded.rgb, fw, fh)?;
    // Converted at the stored size: a sixth of the pixels of a 12 MP photo.
    let full = colour::to_srgb(full, decoded.icc.as_deref());
    let full = orient::apply(full, decoded.orientation);
    let full_jpeg = jpeg::encode(&full, config.jpeg_quality)?;
    let (width, height) = full.dimensions();
    let (tw, th) = encode::fit(width, height, config.thumb_long_edge);
    let thumb = encode::resize_ref(&full, tw, th)?;
    drop(full);
    let thumb_jpeg = jpeg::encode(&thumb, config.jpeg_quality)?;

    let sha256 = files::sha256_hex(&full_jpeg);
    let thumb_sha256 = files::sha256_hex(&thumb_jpeg);
    let path = stored_path(photo_dir, &sha256);
    let thumb_path = thumb_path(photo_dir, &sha256);
    // Thumbnail first: if the full-size write then fails (disk full), the thumbnail we just
    // published is removed again, so a failed call leaves nothing behind.
    let thumb_existed = files::write_once(&thumb_path, &thumb_jpeg)?;
    let already_stored = match files::write_once(&path, &full_jpeg) {
        Ok(existed) => existed,
        Err(e) => {
            if !thumb_existed {
                let _ = files::remove_if_exists(&thumb_path);
            }
            return Err(e);
        }
    };
    Ok(ProcessedPhoto {
        sha256,
        width,
        height,
        bytes: full_jpeg.len() as u64,
        path,
        thumb_path,
        thumb_sha256,
        already_stored,
    })
}

/// Where the full-size photo with this hash lives (whether or not it is there).
pub fn stored_path(photo_dir: &Path, sha256: &str) -> PathBuf {
    files::content_path(photo_dir, sha256, ".jpg")
}

/// Where the thumbnail of the photo with this (full-size) hash lives.
pub fn thumb_path(photo_dir: &Path, sha256: &str) -> PathBuf {
    files::content_path(photo_dir, sha256, ".thumb.jpg")
}

/// Where a signature's strokes (canonical JSON) with this hash live.
pub fn strokes_path(photo_dir: &Path, sha256: &str) -> PathBuf {
    files::content_path(photo_dir, sha256, ".json")
}

/// Delete the camera's original once it is processed (the policy decides when). The original
/// holds GPS and device metadata we do not want lingering in the gallery or app cache.
/// Idempotent: an already-deleted original is fine.
pub fn remove_original(path: &Path) -> Result<(), PhotoError> {
    files::remove_if_exists(path).map(|_| ())
}

/// Free the space of an uploaded photo: delete its full-size file and thumbnail. The record (and
/// its hash, which the server holds the bytes for) stays; that is the caller's business.
/// Returns whether anything was deleted, so a repeat call is harmless and says `false`.
pub fn prune(photo_dir: &Path, sha256: &str) -> Result<bool, PhotoError> {
    files::check_hash(sha256)?;
    let full = stored_path(photo_dir, sha256);
    let removed_full = files::remove_if_exists(&full)?;
    let removed_thumb = files::remove_if_exists(&thumb_path(photo_dir, sha256))?;
    if (removed_full || removed_thumb)
        && let Some(shard) = full.parent()
    {
        files::sync_dir(shard)?;
    }
    Ok(removed_full || removed_thumb)
}

//! One error type for the whole pipeline, so the store and the bindings can map each case to a
//! message a technician (or the support desk reading a log) can act on, without string matching.

use std::path::PathBuf;

/// Why a photo or signature could not be kept. Every message says what went wrong in plain words
/// and, where there is one, what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    #[error("the photo is too large ({bytes} bytes; the limit is {limit} bytes)")]
    TooLarge { bytes: u64, limit: u64 },

    #[error(
        "the photo has too many pixels ({width}x{height}; the limit is {limit} pixels): \
         take it again at a lower camera resolution"
    )]
    TooManyPixels { width: u32, height: u32, limit: u64 },

    #[error(
        "the photo is too large to open on this phone ({width}x{height} would need {bytes} bytes \
         of memory; the limit is {limit}): take it again at a lower camera resolution"
    )]
    TooLargeToDecode {
        width: u32,
        height: u32,
        bytes: u64,
        limit: u64,
    },

    #[error(
        "this kind of picture ({detected}) is not accepted: use JPEG or PNG \
         (on iPhone set the camera to \"Most Compatible\")"
    )]
    UnsupportedFormat { detected: String },

    #[error("the photo is empty (0 bytes): take it again")]
    Empty,

    #[error("the photo is damaged or incomplete and cannot be read: take it again ({0})")]
    Corrupt(String),

    #[error("the photo file was not found: {0}")]
    NotFound(PathBuf),

    #[error("the phone's storage is full: free some space, then save the photo again")]
    DiskFull,

    #[error("not a photo hash (expected 64 lowercase hex characters): {0:?}")]
    InvalidHash(String),

    #[error("the signature is empty: ask the customer to sign")]
    SignatureEmpty,

    #[error("the signature is too small to be a signature: ask the customer to sign again")]
    SignatureTooSmall,

    #[error("the signature data is invalid: {0}")]
    SignatureInvalid(String),

    #[error("reading or writing the photo failed: {0}")]
    Io(#[source] std::io::Error),
}

impl From<std::io::Error> for PhotoError {
    /// A full disk is the one I/O failure a technician can fix themselves, so it gets its own
    /// variant wherever it surfaces (ENOSPC, and EDQUOT for a per-app quota).
    fn from(e: std::io::Error) -> Self {
        use std::io::ErrorKind;
        let full = matches!(e.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded)
            || e.raw_os_error() == Some(libc::ENOSPC)
            || e.raw_os_error() == Some(libc::EDQUOT);
        if full {
            PhotoError::DiskFull
        } else {
            PhotoError::Io(e)
        }
    }
}

//! What can go wrong while syncing, split by what the caller should do about it.

use std::path::PathBuf;
use std::time::Duration;

use crate::protocol::Problem;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// No connection, a cut connection, a timeout: try again later.
    #[error("could not reach the server: {0}")]
    Network(String),
    /// The device token was refused (revoked, or the device was never enrolled there).
    #[error("the server no longer accepts this device; enrol it again")]
    Unauthorized,
    #[error("the server refused the request ({status}): {}", problem.detail.as_deref().unwrap_or(&problem.title))]
    Server {
        status: u16,
        problem: Box<Problem>,
        /// From `Retry-After`, on 429 and 503.
        retry_after: Option<Duration>,
    },
    #[error("this device is not enrolled yet")]
    NotEnrolled,
    #[error("the enrolment code was not accepted: {0}")]
    EnrolmentRefused(String),
    #[error("the photo file {path} cannot be read: {source}")]
    PhotoFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the server answered something this app does not understand: {0}")]
    Protocol(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Stopped through its [`super::Interrupt`]: what was done before the stop is kept.
    #[error("the sync was cancelled")]
    Cancelled,
}

impl SyncError {
    /// Worth retrying after a pause: the same request may well succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            SyncError::Network(_) => true,
            // 423: a tus upload still locked by a request of ours that went silent; it lapses
            // within seconds (the server's Retry-After says when).
            SyncError::Server { status, .. } => {
                matches!(*status, 408 | 423 | 429) || *status >= 500
            }
            _ => false,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SyncError::Server { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl From<ureq::Error> for SyncError {
    fn from(e: ureq::Error) -> Self {
        // Keep the whole chain: "error sending request" alone tells support nothing.
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            source = s.source();
        }
        match e {
            // A request this app built wrong or a body it could not encode: retrying cannot help.
            ureq::Error::BadUri(_) | ureq::Error::Http(_) | ureq::Error::Json(_) => {
                SyncError::Protocol(msg)
            }
            _ => SyncError::Network(msg),
        }
    }
}

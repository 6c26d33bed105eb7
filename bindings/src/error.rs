//! The one public error of the bindings, and the one function that maps the core's errors to it.
//!
//! The core's errors are rich (thiserror, one per layer); the app only needs to know what it can
//! do about a failure: show the technician why (`Refused`), send them to enrolment
//! (`NotEnrolled`, `Unauthorized`), retry later (`Network`, `Server`), ask for another photo
//! (`InvalidPhoto`), or report a device problem (`Storage`). Every message is meant to be shown.

use fieldcore::domain::{Lang, Refusal};
use fieldcore::photo::PhotoError;
use fieldcore::store::{ActionError, StoreError};
use fieldcore::sync::SyncError;

use crate::sync_observer::{FailureKind, SyncFailure};

/// Why a call into the core did not happen.
#[derive(Debug, Clone, thiserror::Error, uniffi::Error)]
pub enum CoreError {
    /// A rule of the rulebook said no. `rule` is the stable code (`Rule::code`, e.g.
    /// `not_checked_in`) to switch on; `detail` is the sentence for the technician, in the
    /// configured language; `missing` lists what is still needed, one line each.
    #[error("{detail}")]
    Refused {
        rule: String,
        detail: String,
        missing: Vec<String>,
    },
    /// The device has no technician yet: enrol it with a code from the desk.
    #[error("{detail}")]
    NotEnrolled { detail: String },
    /// The server no longer accepts this device (token revoked): enrol again.
    #[error("{detail}")]
    Unauthorized { detail: String },
    /// The enrolment code was unknown, used or expired: ask the desk for a new one.
    #[error("{detail}")]
    EnrolmentRefused { detail: String },
    /// The server could not be reached: nothing is lost, sync again later.
    #[error("{detail}")]
    Network { detail: String },
    /// The server answered with an error (or something this app does not understand).
    #[error("{detail}")]
    Server { status: u16, detail: String },
    /// The photo or signature cannot be used as evidence: take or draw it again.
    #[error("{detail}")]
    InvalidPhoto { detail: String },
    /// The phone's storage is full: free some space, then try again.
    #[error("{detail}")]
    StorageFull { detail: String },
    /// The local database or files failed (damaged, newer than the app, I/O).
    #[error("{detail}")]
    Storage { detail: String },
    /// An argument from the app was not valid (a malformed id, date or language).
    #[error("{detail}")]
    InvalidInput { detail: String },
    /// The sync was stopped through its interrupt handle: nothing done before is lost.
    #[error("{detail}")]
    Cancelled { detail: String },
}

/// Every error of the core, so [`map_error`] can take any of them.
#[derive(Debug)]
pub(crate) enum Internal {
    Action(ActionError),
    Store(StoreError),
    Sync(SyncError),
    Photo(PhotoError),
}

impl From<ActionError> for Internal {
    fn from(e: ActionError) -> Self {
        Internal::Action(e)
    }
}
impl From<StoreError> for Internal {
    fn from(e: StoreError) -> Self {
        Internal::Store(e)
    }
}
impl From<SyncError> for Internal {
    fn from(e: SyncError) -> Self {
        Internal::Sync(e)
    }
}
impl From<PhotoError> for Internal {
    fn from(e: PhotoError) -> Self {
        Internal::Photo(e)
    }
}

/// The one mapping from the core's errors to what the app can act on. Refusals are rendered in
/// `lang`; every other message is the core's own (English, written for the technician or for
/// support).
pub(crate) fn map_error(error: impl Into<Internal>, lang: Lang) -> CoreError {
    let refused = |r: &Refusal| CoreError::Refused {
        rule: r.rule.code().to_string(),
        detail: r.message(lang),
        missing: r.missing.iter().map(|m| m.message(lang)).collect(),
    };
    let storage = |e: &StoreError| CoreError::Storage {
        detail: e.to_string(),
    };
    let photo = |e: &PhotoError| match e {
        PhotoError::DiskFull => CoreError::StorageFull {
            detail: e.to_string(),
        },
        PhotoError::Io(_) => CoreError::Storage {
            detail: e.to_string(),
        },
        _ => CoreError::InvalidPhoto {
            detail: e.to_string(),
        },
    };
    let not_enrolled = || CoreError::NotEnrolled {
        detail: match lang {
            Lang::En => "This device is not enrolled yet: enter the code from the desk".into(),
            Lang::ZhCn => "本机尚未绑定:请输入客服提供的绑定码".into(),
        },
    };
    match error.into() {
        Internal::Action(ActionError::Refused(r)) => refused(&r),
        Internal::Action(ActionError::NotEnrolled) => not_enrolled(),
        Internal::Action(ActionError::Store(e)) | Internal::Store(e) => storage(&e),
        Internal::Action(ActionError::Photo(e)) | Internal::Photo(e) => photo(&e),
        Internal::Sync(e) => match e {
            SyncError::NotEnrolled => not_enrolled(),
            SyncError::Unauthorized => CoreError::Unauthorized {
                detail: e.to_string(),
            },
            SyncError::EnrolmentRefused(_) => CoreError::EnrolmentRefused {
                detail: e.to_string(),
            },
            SyncError::Network(_) => CoreError::Network {
                detail: e.to_string(),
            },
            SyncError::Server { status, .. } => CoreError::Server {
                status,
                detail: e.to_string(),
            },
            SyncError::Protocol(_) => CoreError::Server {
                status: 0,
                detail: e.to_string(),
            },
            SyncError::PhotoFile { .. } => CoreError::Storage {
                detail: e.to_string(),
            },
            SyncError::Store(s) => storage(&s),
            SyncError::Cancelled => CoreError::Cancelled {
                detail: match lang {
                    Lang::En => "Sync cancelled: nothing is lost, it goes on next time".into(),
                    Lang::ZhCn => "同步已取消:数据不会丢失,下次继续".into(),
                },
            },
        },
    }
}

/// An argument the app passed that cannot be used.
pub(crate) fn invalid(what: &str, value: &str, why: impl std::fmt::Display) -> CoreError {
    CoreError::InvalidInput {
        detail: format!("{what} {value:?} is not valid: {why}"),
    }
}

/// A failed sync as the observer and the scheduler see it, with the error `sync` returns.
/// Whether it is transient and how long the server asked to wait come from the core's own
/// error before it is flattened into a [`CoreError`].
pub(crate) fn sync_failure(error: impl Into<Internal>, lang: Lang) -> (CoreError, SyncFailure) {
    let error = error.into();
    let (transient, retry_after) = match &error {
        Internal::Sync(e) => (e.is_transient(), e.retry_after()),
        _ => (false, None),
    };
    let core = map_error(error, lang);
    let failure = SyncFailure {
        kind: core.kind(),
        http_status: match &core {
            CoreError::Server { status, .. } if *status != 0 => Some(*status),
            _ => None,
        },
        retry_after_secs: retry_after.map(|d| d.as_secs()),
        transient,
        detail: core.to_string(),
        report: fieldcore::sync::SyncReport::default(),
    };
    (core, failure)
}

impl CoreError {
    /// Which kind of failure this is, for [`SyncFailure`] and logs.
    pub fn kind(&self) -> FailureKind {
        match self {
            CoreError::Refused { .. } => FailureKind::Refused,
            CoreError::NotEnrolled { .. } => FailureKind::NotEnrolled,
            CoreError::Unauthorized { .. } => FailureKind::Unauthorized,
            CoreError::EnrolmentRefused { .. } => FailureKind::EnrolmentRefused,
            CoreError::Network { .. } => FailureKind::Network,
            CoreError::Server { .. } => FailureKind::Server,
            CoreError::InvalidPhoto { .. } => FailureKind::InvalidPhoto,
            CoreError::StorageFull { .. } => FailureKind::StorageFull,
            CoreError::Storage { .. } => FailureKind::Storage,
            CoreError::InvalidInput { .. } => FailureKind::InvalidInput,
            CoreError::Cancelled { .. } => FailureKind::Cancelled,
        }
    }
}

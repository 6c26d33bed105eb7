//! The store's errors: what went wrong with the database, and why an action did not happen.

use crate::domain::Refusal;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored data could not be read: {0}")]
    Json(#[from] serde_json::Error),
    /// A database written by a newer app. Never touched, never deleted: the user's data is in it.
    #[error(
        "the database is schema version {found}, newer than this app supports ({supported}); update the app"
    )]
    NewerSchema { found: u32, supported: u32 },
    #[error("the database is damaged: {0}")]
    Corrupt(String),
    #[error("could not open the database file: {0}")]
    Io(#[from] std::io::Error),
}

/// Why an action was not recorded. `Refused` is the normal case (a rule said no); the others are
/// failures of the device itself.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("this device is not enrolled to a technician yet")]
    NotEnrolled,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The photo or signature could not be turned into evidence; nothing was recorded.
    #[cfg(feature = "photo")]
    #[error(transparent)]
    Photo(#[from] crate::photo::PhotoError),
}

impl From<rusqlite::Error> for ActionError {
    fn from(e: rusqlite::Error) -> Self {
        ActionError::Store(e.into())
    }
}

impl From<serde_json::Error> for ActionError {
    fn from(e: serde_json::Error) -> Self {
        ActionError::Store(e.into())
    }
}

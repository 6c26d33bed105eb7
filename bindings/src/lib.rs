//! fieldcore-ffi: the app core's public API for Kotlin and Swift, through uniffi proc-macros.
//!
//! No logic lives here: every function adapts one call of `fieldcore` (types in, types out,
//! errors mapped in one function, `error::map_error`). The app holds one [`FieldCore`].
//!
//! - [`field_core`]: the object: jobs, actions, evidence, enrolment, sync.
//! - [`types`]: records and enums (the core's own enums exported as they are).
//! - [`error`]: [`CoreError`], what the app can act on.
//! - [`sync_observer`]: the callback interface for sync progress, the typed failure, the
//!   retry rule.
//! - [`sync_gate`]: one sync at a time, requests during one coalesced.
//! - [`watch`]: live queries (job list, one job) told after every change.

// uniffi's generated scaffolding (`setup_scaffolding!` and the `#[uniffi::export]` expansions)
// is `extern "C"` code with raw pointers, so the workspace's `unsafe_code = "deny"` is lifted for
// this crate only. This crate's own code writes no `unsafe`.
#![allow(unsafe_code)]

uniffi::setup_scaffolding!();

pub mod error;
pub mod field_core;
mod sync_gate;
pub mod sync_observer;
pub mod types;
pub mod watch;

pub use error::CoreError;
pub use field_core::{FieldCore, SyncInterruptHandle, language_for_locale};
pub use sync_observer::{FailureKind, SyncFailure, SyncObserver, SyncState, retry_delay_secs};
pub use watch::{JobWatcher, JobsWatcher, WatchHandle};

//! fieldcore: the offline-first core of the field-service app.
//!
//! The phone app, the `fieldtech` CLI and the sync server all stand on this crate:
//! - [`domain`] is the one rulebook (pure, no I/O): what a job is, which events may happen to it
//!   and when, the SLA timers and the conduct checklist. The device runs it to guide the
//!   technician; the server runs the same code to validate what arrives.
//! - [`store`] is the device's durable SQLite store: every technician action is one transaction
//!   that appends an event to the outbox and updates the job's local view.
//! - [`photo`] turns camera files and signatures into trustworthy evidence: bounded decode,
//!   upright, metadata-free, content-addressed and written atomically.

pub mod domain;
/// One job's evidence for ordering parties, and its offline check (ADR 0017).
pub mod evidence;
pub mod migrate;
/// Photos and signatures as evidence: untrusted input in, hashed atomic files out.
#[cfg(feature = "photo")]
pub mod photo;
pub mod protocol;
pub mod store;
#[cfg(feature = "sync-client")]
pub mod sync;

#[cfg(feature = "fixtures")]
pub mod fixtures;

//! The rulebook: jobs, events, guards, SLA timers and the checklist, as pure code.
//!
//! Nothing here touches a disk, a clock or a network, so the same rules run on the phone and on
//! the server and can be exercised by the thousand in property tests.

pub mod calendar;
pub mod chain;
pub mod checklist;
pub mod event;
pub mod exception;
pub mod job;
pub mod job_number;
pub mod limits;
pub mod refusal;
pub mod rules;
pub mod schedule;
pub mod sla;

pub use checklist::{ChecklistItem, ChecklistTemplate, Phase};
pub use event::{
    ActionKind, Actor, CallOutcome, Event, EventBody, GeoPoint, Packaging, PhotoCategory, PhotoRef,
    SignatureRef,
};
pub use exception::{ExceptionDecision, ExceptionKind, ExceptionRecord, ExemptionReason};
pub use job::{FeeBasis, JobKind, JobOrder, JobStatus, JobView};
pub use job_number::JobNumber;
pub use refusal::{Lang, Missing, Refusal, Rule};
pub use rules::{Admission, Kept, Rulebook};
pub use schedule::{ScheduleConflict, Visit};
pub use sla::{Policy, Timer, TimerKind};

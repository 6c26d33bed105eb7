//! How the server decides on arriving events: pure, so every `Storage` implementation runs the
//! same code inside its own transaction and they cannot disagree. [`decide`] rules on one event;
//! [`plan`] runs a whole batch against what the backend loaded in one go and says what to write
//! (ADR 0011: each database only loads and applies).

mod plan;

pub use plan::{
    Batch, DeviceChain, FeedRow, Loaded, NewEvent, NewPhoto, NewRejection, Plan, StoredEvent,
    StoredJob, Wanted, Writes, plan,
};

use fieldcore::domain::{Actor, Admission, JobView, Kept, Lang, Refusal, Rule, Rulebook};
use fieldcore::protocol::EventFlag;

use crate::storage::{Incoming, Writer};

/// What becomes of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Store and apply, with these flags.
    Accept(Vec<EventFlag>),
    Reject(RejectReason),
}

/// Why an event was refused, rendered in whichever language asks: the sender's for its answer,
/// English for the record the desk keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectReason {
    /// A rule of the rulebook.
    Refused(Refusal),
    /// The event names another device or person than the one that sent it.
    WrongDevice,
}

/// The rule kept for [`RejectReason::WrongDevice`]: such an event's actor is whoever the
/// sender claimed, so it is nobody's evidence (an evidence bundle leaves it out).
pub const WRONG_DEVICE: &str = "wrong_device";

impl RejectReason {
    pub fn rule(&self) -> String {
        match self {
            RejectReason::Refused(r) => r.rule.code().to_string(),
            RejectReason::WrongDevice => WRONG_DEVICE.to_string(),
        }
    }

    pub fn message(&self, lang: Lang) -> String {
        match (self, lang) {
            (RejectReason::Refused(r), _) => r.message(lang),
            (RejectReason::WrongDevice, Lang::En) => {
                "This event names another device or person than the one that sent it.".into()
            }
            (RejectReason::WrongDevice, Lang::ZhCn) => {
                "该事件记录的设备或人员与发送者不符。".into()
            }
        }
    }
}

/// The job as the writer may see it.
#[derive(Debug, Clone, Copy)]
pub enum Visible<'a> {
    /// No such job for this writer: unknown, another organisation's, or (for a technician) never
    /// assigned to them. Indistinguishable on purpose.
    No,
    Yes(&'a JobView),
}

/// Decide on an incoming event (its `corrected_at` already set) written by `writer` against the
/// job.
pub fn decide(
    rulebook: &Rulebook,
    writer: Writer,
    job: Visible<'_>,
    incoming: &Incoming,
) -> Decision {
    let Incoming {
        event,
        flags,
        refused,
    } = incoming;
    let actor_ok = match (writer, event.actor) {
        (
            Writer::Technician {
                technician_id,
                device_id,
                ..
            },
            Actor::Technician {
                technician_id: t,
                device_id: d,
            },
        ) => technician_id == t && device_id == d,
        (Writer::Dispatcher { dispatcher_id }, Actor::Dispatcher { dispatcher_id: d }) => {
            dispatcher_id == d
        }
        _ => false,
    };
    if !actor_ok {
        return Decision::Reject(RejectReason::WrongDevice);
    }
    if let Some(r) = refused {
        return Decision::Reject(RejectReason::Refused(r.clone()));
    }
    let view = match job {
        Visible::Yes(v) => Some(v),
        Visible::No => None,
    };
    if view.is_none() && !matches!(writer, Writer::Dispatcher { .. }) {
        return Decision::Reject(RejectReason::Refused(Refusal::new(
            Rule::UnknownJob,
            event.body.kind(),
        )));
    }
    // The same decision the phone makes when it rebases its pending events (ADR 0007).
    match rulebook.admit(view, event) {
        Admission::Applies => Decision::Accept(flags.to_vec()),
        Admission::Kept(kept) => {
            let mut f = flags.to_vec();
            match kept {
                Kept::AfterCancellation => f.push(EventFlag::AfterCancellation),
                Kept::FormerTechnician { after_reassignment } => {
                    f.push(EventFlag::FormerTechnician);
                    if after_reassignment {
                        f.push(EventFlag::AfterReassignment);
                    }
                }
            }
            Decision::Accept(f)
        }
        Admission::Refused(r) => Decision::Reject(RejectReason::Refused(r)),
    }
}

//! Exceptions (things that stop or bend the normal flow) and exemption claims.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::sla::TimerKind;

/// domain.md, "Exceptions".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ExceptionKind {
    PickupDamaged,
    PickupCountMismatch,
    GoodsMismatchOrder,
    ExtraFeeNeeded,
    CustomerAbsent,
    RescheduleRequested,
    LateArrival,
    DamageCaused,
    Dispute,
    ConductViolation,
    CompletionCodeUnavailable,
}

impl ExceptionKind {
    pub const ALL: [ExceptionKind; 11] = [
        ExceptionKind::PickupDamaged,
        ExceptionKind::PickupCountMismatch,
        ExceptionKind::GoodsMismatchOrder,
        ExceptionKind::ExtraFeeNeeded,
        ExceptionKind::CustomerAbsent,
        ExceptionKind::RescheduleRequested,
        ExceptionKind::LateArrival,
        ExceptionKind::DamageCaused,
        ExceptionKind::Dispute,
        ExceptionKind::ConductViolation,
        ExceptionKind::CompletionCodeUnavailable,
    ];

    /// Whether the job must stop until the desk decides. The seeds say "stop and contact the
    /// ordering party" for damaged or miscounted goods, goods that do not match the order and
    /// work that needs an extra fee [000 一.2(4), 五.1-2], and a dispute cannot be worked around.
    /// The others are recorded for the desk while the visit goes on (or has already ended).
    pub fn blocks(self) -> bool {
        matches!(
            self,
            ExceptionKind::PickupDamaged
                | ExceptionKind::PickupCountMismatch
                | ExceptionKind::GoodsMismatchOrder
                | ExceptionKind::ExtraFeeNeeded
                | ExceptionKind::Dispute
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ExceptionKind::PickupDamaged => "pickup_damaged",
            ExceptionKind::PickupCountMismatch => "pickup_count_mismatch",
            ExceptionKind::GoodsMismatchOrder => "goods_mismatch_order",
            ExceptionKind::ExtraFeeNeeded => "extra_fee_needed",
            ExceptionKind::CustomerAbsent => "customer_absent",
            ExceptionKind::RescheduleRequested => "reschedule_requested",
            ExceptionKind::LateArrival => "late_arrival",
            ExceptionKind::DamageCaused => "damage_caused",
            ExceptionKind::Dispute => "dispute",
            ExceptionKind::ConductViolation => "conduct_violation",
            ExceptionKind::CompletionCodeUnavailable => "completion_code_unavailable",
        }
    }

    /// A name a technician reads.
    pub fn label(self, lang: super::Lang) -> &'static str {
        use super::Lang::*;
        match (self, lang) {
            (ExceptionKind::PickupDamaged, En) => "goods damaged at pickup",
            (ExceptionKind::PickupDamaged, ZhCn) => "提货时外包装破损",
            (ExceptionKind::PickupCountMismatch, En) => "wrong piece count at pickup",
            (ExceptionKind::PickupCountMismatch, ZhCn) => "提货件数不符",
            (ExceptionKind::GoodsMismatchOrder, En) => "goods do not match the order",
            (ExceptionKind::GoodsMismatchOrder, ZhCn) => "货物与订单不符",
            (ExceptionKind::ExtraFeeNeeded, En) => "extra fee needed",
            (ExceptionKind::ExtraFeeNeeded, ZhCn) => "需要额外收费",
            (ExceptionKind::CustomerAbsent, En) => "customer absent",
            (ExceptionKind::CustomerAbsent, ZhCn) => "客户不在",
            (ExceptionKind::RescheduleRequested, En) => "reschedule requested",
            (ExceptionKind::RescheduleRequested, ZhCn) => "申请改约",
            (ExceptionKind::LateArrival, En) => "late arrival",
            (ExceptionKind::LateArrival, ZhCn) => "迟到",
            (ExceptionKind::DamageCaused, En) => "damage caused on site",
            (ExceptionKind::DamageCaused, ZhCn) => "现场造成损坏",
            (ExceptionKind::Dispute, En) => "dispute with the customer",
            (ExceptionKind::Dispute, ZhCn) => "与客户发生纠纷",
            (ExceptionKind::ConductViolation, En) => "conduct checklist item not met",
            (ExceptionKind::ConductViolation, ZhCn) => "服务规范未达标",
            (ExceptionKind::CompletionCodeUnavailable, En) => "confirmation code unavailable",
            (ExceptionKind::CompletionCodeUnavailable, ZhCn) => "无法获取服务确认码",
        }
    }
}

/// The desk's decision on an exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ExceptionDecision {
    /// Go on with the job as it is (e.g. the ordering party accepts the damaged goods).
    Proceed,
    /// The job stops here; the desk will cancel or rework it.
    Stop,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExceptionRecord {
    pub id: Uuid,
    pub kind: ExceptionKind,
    pub raised_at: DateTime<Utc>,
    pub raised_by_event: Uuid,
    pub note: String,
    pub photo_ids: Vec<Uuid>,
    pub resolution: Option<Resolution>,
}

impl ExceptionRecord {
    pub fn is_open(&self) -> bool {
        self.resolution.is_none()
    }

    /// Whether it holds the job back: a blocking kind that is still open, or that the desk
    /// decided to stop on.
    pub fn holds_job(&self) -> bool {
        self.kind.blocks()
            && match &self.resolution {
                None => true,
                Some(r) => r.decision == ExceptionDecision::Stop,
            }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Resolution {
    pub decision: ExceptionDecision,
    pub note: String,
    pub decided_by: Uuid,
    pub decided_at: DateTime<Utc>,
}

/// Why a late completion should be excused [000 一.4(1)].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ExemptionReason {
    /// Storms, snow and the like.
    Weather,
    /// The customer caused the delay (absent, asked to postpone...).
    Customer,
    /// Work done, but the confirmation code could not be had through the customer's or the
    /// ordering party's fault.
    CodeUnavailable,
    Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExemptionClaim {
    pub id: Uuid,
    pub timer: TimerKind,
    pub reason: ExemptionReason,
    pub note: String,
    pub claimed_at: DateTime<Utc>,
    /// `None` while the desk has not decided.
    pub granted: Option<bool>,
    pub decided_at: Option<DateTime<Utc>>,
}

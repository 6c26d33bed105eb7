//! Why an action was refused, in words a technician understands.
//!
//! A refusal names the rule (a stable code the apps and the server can switch on) and what is
//! missing, and renders itself in zh-CN or en. The English text is also its `Display`.

use serde::{Deserialize, Serialize};

use super::event::ActionKind;
use super::exception::ExceptionKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Lang {
    #[default]
    #[serde(rename = "en")]
    En,
    #[serde(rename = "zh-CN")]
    ZhCn,
}

impl Lang {
    /// The BCP 47 tag, as `Accept-Language` and `<html lang>` want it.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhCn => "zh-CN",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s.to_ascii_lowercase().as_str() {
            "en" | "en-us" | "en-gb" => Some(Lang::En),
            "zh" | "zh-cn" | "zh-hans" => Some(Lang::ZhCn),
            _ => None,
        }
    }

    /// The language for a device locale (a BCP 47 tag such as `zh-Hans-CN`, or Apple's and
    /// Java's `zh_CN`): Chinese in any script or region reads the Simplified texts, which a
    /// reader of Traditional follows better than English; everything else reads English.
    pub fn for_locale(tag: &str) -> Lang {
        let language = tag.trim().split(['-', '_']).next().unwrap_or_default();
        if language.eq_ignore_ascii_case("zh") {
            Lang::ZhCn
        } else {
            Lang::En
        }
    }
}

/// The rule that refused an action. The snake_case name is the stable code on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Only the job's creation may start a job, and only once.
    JobAlreadyExists,
    UnknownJob,
    /// The desk's events come from the desk, the field record from the technician.
    WrongSide,
    NotAssignedToYou,
    JobCancelled,
    JobCompleted,
    NotAccepted,
    AlreadyRecorded,
    BlockedByException,
    NotADeliveryJob,
    GoodsNotArrived,
    PickupNeedsPhoto,
    /// The same photo bytes (same SHA-256) are already on the job: evidence counts once, so a
    /// second angle must be a second picture.
    PhotoAlreadyOnJob,
    CheckInNeedsAppointment,
    CheckInNeedsPickup,
    NotCheckedIn,
    UnknownChecklistItem,
    WorkNotDone,
    CompletionIncomplete,
    CustomerAbsentTooSoon,
    UnknownException,
    ExceptionAlreadyResolved,
    UnknownExemptionClaim,
    ExemptionAlreadyDecided,
    UnknownComplaint,
    NotCompletedYet,
    InvalidInput,
    /// The job holds as many entries of this kind as it may ([`super::limits`]).
    LimitReached,
    /// A time the event carries cannot be right: far from when it happened, or, on the server,
    /// outside the window around the server's clock that a push may place an event in.
    ImplausibleTime,
}

impl Rule {
    pub fn code(self) -> &'static str {
        match self {
            Rule::JobAlreadyExists => "job_already_exists",
            Rule::UnknownJob => "unknown_job",
            Rule::WrongSide => "wrong_side",
            Rule::NotAssignedToYou => "not_assigned_to_you",
            Rule::JobCancelled => "job_cancelled",
            Rule::JobCompleted => "job_completed",
            Rule::NotAccepted => "not_accepted",
            Rule::AlreadyRecorded => "already_recorded",
            Rule::BlockedByException => "blocked_by_exception",
            Rule::NotADeliveryJob => "not_a_delivery_job",
            Rule::GoodsNotArrived => "goods_not_arrived",
            Rule::PickupNeedsPhoto => "pickup_needs_photo",
            Rule::PhotoAlreadyOnJob => "photo_already_on_job",
            Rule::CheckInNeedsAppointment => "check_in_needs_appointment",
            Rule::CheckInNeedsPickup => "check_in_needs_pickup",
            Rule::NotCheckedIn => "not_checked_in",
            Rule::UnknownChecklistItem => "unknown_checklist_item",
            Rule::WorkNotDone => "work_not_done",
            Rule::CompletionIncomplete => "completion_incomplete",
            Rule::CustomerAbsentTooSoon => "customer_absent_too_soon",
            Rule::UnknownException => "unknown_exception",
            Rule::ExceptionAlreadyResolved => "exception_already_resolved",
            Rule::UnknownExemptionClaim => "unknown_exemption_claim",
            Rule::ExemptionAlreadyDecided => "exemption_already_decided",
            Rule::UnknownComplaint => "unknown_complaint",
            Rule::NotCompletedYet => "not_completed_yet",
            Rule::InvalidInput => "invalid_input",
            Rule::LimitReached => "limit_reached",
            Rule::ImplausibleTime => "implausible_time",
        }
    }
}

/// One thing that must happen before the action is allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum Missing {
    CheckIn,
    WorkMarkedDone,
    ChecklistItems { item_ids: Vec<String> },
    CompletionPhotos { have: u32, need: u32 },
    ReceiptPhoto,
    Signature,
    ConfirmationCode,
    PickupPhoto,
    Appointment,
    Pickup,
    ExceptionDecision { kinds: Vec<ExceptionKind> },
    Wait { seconds: i64 },
    CallToCustomer,
    Field { name: String, problem: String },
}

impl Missing {
    pub fn message(&self, lang: Lang) -> String {
        match (self, lang) {
            (Missing::CheckIn, Lang::En) => "check in on arrival".into(),
            (Missing::CheckIn, Lang::ZhCn) => "到达后签到".into(),
            (Missing::WorkMarkedDone, Lang::En) => "mark the work as done".into(),
            (Missing::WorkMarkedDone, Lang::ZhCn) => "标记服务已完成".into(),
            (Missing::ChecklistItems { item_ids }, Lang::En) => {
                format!("answer the checklist items: {}", item_ids.join(", "))
            }
            (Missing::ChecklistItems { item_ids }, Lang::ZhCn) => {
                format!("完成服务规范检查项:{}", item_ids.join("、"))
            }
            (Missing::CompletionPhotos { have, need }, Lang::En) => {
                format!("take completion photos from several angles ({have} of {need})")
            }
            (Missing::CompletionPhotos { have, need }, Lang::ZhCn) => {
                format!("多角度拍摄完工照片(已拍 {have} 张,需 {need} 张)")
            }
            (Missing::ReceiptPhoto, Lang::En) => "photograph the signed receipt".into(),
            (Missing::ReceiptPhoto, Lang::ZhCn) => "拍摄已签字的服务单".into(),
            (Missing::Signature, Lang::En) => "the customer's own signature".into(),
            (Missing::Signature, Lang::ZhCn) => "客户本人签字".into(),
            (Missing::ConfirmationCode, Lang::En) => {
                "the customer's confirmation code (or report that it cannot be had)".into()
            }
            (Missing::ConfirmationCode, Lang::ZhCn) => {
                "客户的服务确认码(或上报无法获取确认码)".into()
            }
            (Missing::PickupPhoto, Lang::En) => "photograph the packaging and pieces".into(),
            (Missing::PickupPhoto, Lang::ZhCn) => "拍摄外包装和件数照片".into(),
            (Missing::Appointment, Lang::En) => "book the visit with the customer".into(),
            (Missing::Appointment, Lang::ZhCn) => "与客户预约上门时间".into(),
            (Missing::Pickup, Lang::En) => "pick up the goods".into(),
            (Missing::Pickup, Lang::ZhCn) => "提货".into(),
            (Missing::ExceptionDecision { kinds }, Lang::En) => format!(
                "the desk's decision on: {}",
                kinds
                    .iter()
                    .map(|k| k.label(Lang::En))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            (Missing::ExceptionDecision { kinds }, Lang::ZhCn) => format!(
                "等待客服对以下异常的处理:{}",
                kinds
                    .iter()
                    .map(|k| k.label(Lang::ZhCn))
                    .collect::<Vec<_>>()
                    .join("、")
            ),
            (Missing::Wait { seconds }, Lang::En) => {
                format!("wait {} more minute(s)", (seconds + 59) / 60)
            }
            (Missing::Wait { seconds }, Lang::ZhCn) => {
                format!("再等待 {} 分钟", (seconds + 59) / 60)
            }
            (Missing::CallToCustomer, Lang::En) => "call the customer first".into(),
            (Missing::CallToCustomer, Lang::ZhCn) => "先给客户打电话".into(),
            (Missing::Field { name, problem }, Lang::En) => format!("{name}: {problem}"),
            (Missing::Field { name, problem }, Lang::ZhCn) => format!("{name}:{problem}"),
        }
    }
}

/// An action the rulebook refused: the rule, the action, and what is missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}", self.message(Lang::En))]
pub struct Refusal {
    pub rule: Rule,
    pub action: ActionKind,
    #[serde(default)]
    pub missing: Vec<Missing>,
}

impl Refusal {
    pub fn new(rule: Rule, action: ActionKind) -> Self {
        Refusal {
            rule,
            action,
            missing: Vec::new(),
        }
    }

    pub fn missing(rule: Rule, action: ActionKind, missing: Vec<Missing>) -> Self {
        Refusal {
            rule,
            action,
            missing,
        }
    }

    pub fn invalid(action: ActionKind, name: &str, problem: &str) -> Self {
        Refusal::missing(
            Rule::InvalidInput,
            action,
            vec![Missing::Field {
                name: name.into(),
                problem: problem.into(),
            }],
        )
    }

    /// The sentence for the technician: why, then what to do.
    pub fn message(&self, lang: Lang) -> String {
        let head = headline(self.rule, lang);
        if self.missing.is_empty() {
            return head.to_string();
        }
        let items: Vec<String> = self.missing.iter().map(|m| m.message(lang)).collect();
        match lang {
            Lang::En => format!("{head}. Still needed: {}.", items.join("; ")),
            Lang::ZhCn => format!("{head}。还需要:{}。", items.join(";")),
        }
    }
}

fn headline(rule: Rule, lang: Lang) -> &'static str {
    match (rule, lang) {
        (Rule::JobAlreadyExists, Lang::En) => "This job already exists",
        (Rule::JobAlreadyExists, Lang::ZhCn) => "该工单已存在",
        (Rule::UnknownJob, Lang::En) => "This job is not known on this device",
        (Rule::UnknownJob, Lang::ZhCn) => "本机没有该工单",
        (Rule::WrongSide, Lang::En) => "Only the other side (desk or technician) may record this",
        (Rule::WrongSide, Lang::ZhCn) => "此操作只能由另一方(客服或师傅)记录",
        (Rule::NotAssignedToYou, Lang::En) => "This job is not assigned to you",
        (Rule::NotAssignedToYou, Lang::ZhCn) => "该工单未派给您",
        (Rule::JobCancelled, Lang::En) => {
            "The desk cancelled this job; nothing more can be recorded on it"
        }
        (Rule::JobCancelled, Lang::ZhCn) => "该工单已被客服取消,不能再记录任何操作",
        (Rule::JobCompleted, Lang::En) => "This job is already completed",
        (Rule::JobCompleted, Lang::ZhCn) => "该工单已完工",
        (Rule::NotAccepted, Lang::En) => "Accept the job first",
        (Rule::NotAccepted, Lang::ZhCn) => "请先接单",
        (Rule::AlreadyRecorded, Lang::En) => "This was already recorded",
        (Rule::AlreadyRecorded, Lang::ZhCn) => "该操作已记录过",
        (Rule::BlockedByException, Lang::En) => {
            "The job is on hold until the desk decides the exception"
        }
        (Rule::BlockedByException, Lang::ZhCn) => "工单因异常暂停,需等待客服处理",
        (Rule::NotADeliveryJob, Lang::En) => "Only delivery-and-install jobs have goods to collect",
        (Rule::NotADeliveryJob, Lang::ZhCn) => "只有送装工单需要提货",
        (Rule::GoodsNotArrived, Lang::En) => "The goods have not arrived at the logistics point",
        (Rule::GoodsNotArrived, Lang::ZhCn) => "货物尚未到达物流点",
        (Rule::PickupNeedsPhoto, Lang::En) => "Photograph the goods before recording the pickup",
        (Rule::PickupNeedsPhoto, Lang::ZhCn) => "提货前请先拍照",
        (Rule::PhotoAlreadyOnJob, Lang::En) => {
            "This photo is already on the job: take a new picture (each angle is its own photo)"
        }
        (Rule::PhotoAlreadyOnJob, Lang::ZhCn) => "该照片已在工单中，请重新拍摄(每个角度需单独拍照)",
        (Rule::CheckInNeedsAppointment, Lang::En) => "Check-in needs a booked appointment",
        (Rule::CheckInNeedsAppointment, Lang::ZhCn) => "签到前需先与客户预约",
        (Rule::CheckInNeedsPickup, Lang::En) => "Pick up the goods before checking in",
        (Rule::CheckInNeedsPickup, Lang::ZhCn) => "签到前需先提货",
        (Rule::NotCheckedIn, Lang::En) => "Check in at the customer's first",
        (Rule::NotCheckedIn, Lang::ZhCn) => "请先在客户处签到",
        (Rule::UnknownChecklistItem, Lang::En) => "This checklist item is not on the checklist",
        (Rule::UnknownChecklistItem, Lang::ZhCn) => "检查项不存在",
        (Rule::WorkNotDone, Lang::En) => {
            "Mark the work as done first: the confirmation code and signature come after the service"
        }
        (Rule::WorkNotDone, Lang::ZhCn) => "请先标记服务完成:服务完成后才能索要确认码和签字",
        (Rule::CompletionIncomplete, Lang::En) => "The job cannot be completed yet",
        (Rule::CompletionIncomplete, Lang::ZhCn) => "工单尚不能完工",
        (Rule::CustomerAbsentTooSoon, Lang::En) => {
            "Knock, wait 5 minutes and call the customer before reporting them absent"
        }
        (Rule::CustomerAbsentTooSoon, Lang::ZhCn) => "敲门等待 5 分钟并致电客户后,才能上报客户不在",
        (Rule::UnknownException, Lang::En) => "No such exception on this job",
        (Rule::UnknownException, Lang::ZhCn) => "该工单没有此异常",
        (Rule::ExceptionAlreadyResolved, Lang::En) => "This exception was already decided",
        (Rule::ExceptionAlreadyResolved, Lang::ZhCn) => "该异常已处理",
        (Rule::UnknownExemptionClaim, Lang::En) => "No such exemption claim on this job",
        (Rule::UnknownExemptionClaim, Lang::ZhCn) => "该工单没有此免责申请",
        (Rule::ExemptionAlreadyDecided, Lang::En) => "This exemption claim was already decided",
        (Rule::ExemptionAlreadyDecided, Lang::ZhCn) => "该免责申请已处理",
        (Rule::UnknownComplaint, Lang::En) => "No such complaint on this job",
        (Rule::UnknownComplaint, Lang::ZhCn) => "该工单没有此投诉",
        (Rule::NotCompletedYet, Lang::En) => "The job is not completed yet",
        (Rule::NotCompletedYet, Lang::ZhCn) => "工单尚未完工",
        (Rule::InvalidInput, Lang::En) => "Some details are not valid",
        (Rule::InvalidInput, Lang::ZhCn) => "填写的信息无效",
        (Rule::LimitReached, Lang::En) => {
            "This job holds as many entries of this kind as it can; call the desk"
        }
        (Rule::LimitReached, Lang::ZhCn) => "该工单此类记录已达上限,请联系客服",
        (Rule::ImplausibleTime, Lang::En) => {
            "The time on this action cannot be right; check the phone's date and time"
        }
        (Rule::ImplausibleTime, Lang::ZhCn) => "该操作的时间不可能正确,请检查手机的日期和时间",
    }
}

#[cfg(test)]
mod tests {
    use super::Lang;

    #[test]
    fn the_language_follows_the_device_locale() {
        for tag in ["zh", "zh-CN", "zh-Hans-CN", "zh_TW", "ZH-hk"] {
            assert_eq!(Lang::for_locale(tag), Lang::ZhCn, "{tag}");
        }
        for tag in ["en-US", "en_GB", "fr-FR", "", "zho", "-zh"] {
            assert_eq!(Lang::for_locale(tag), Lang::En, "{tag}");
        }
    }
}

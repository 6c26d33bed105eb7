//! HTML building blocks: escaping, the page frame, and the console's words in zh-CN and en.
//!
//! Pages are built with `format!` and `push_str`; every value that did not come from this file
//! goes through [`esc`] (text and attribute values alike), so a customer called
//! `<script>` is shown, never run. Words live next to their use as `ui.t(en, zh)` pairs, so a
//! string cannot exist in one language only.

use std::fmt::Write as _;

use chrono::{DateTime, FixedOffset, Utc};
use fieldcore::domain::{
    ActionKind, ExceptionDecision, ExemptionReason, FeeBasis, JobKind, JobStatus, JobView, Lang,
    PhotoCategory, Timer, TimerKind,
};
use fieldcore::protocol::EventFlag;

/// Escape for HTML text and double-quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encode a query-string value.
pub fn url(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The language of one request, and the org's local time for showing instants.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    pub lang: Lang,
    pub offset: FixedOffset,
}

impl Ui {
    pub fn t(&self, en: &'static str, zh: &'static str) -> &'static str {
        match self.lang {
            Lang::En => en,
            Lang::ZhCn => zh,
        }
    }

    pub fn html_lang(&self) -> &'static str {
        self.t("en", "zh-CN")
    }

    /// An instant in the organisation's local time, with a machine-readable `<time>`.
    pub fn time(&self, t: DateTime<Utc>) -> String {
        format!(
            "<time datetime=\"{}\">{}</time>",
            t.to_rfc3339(),
            self.local(t)
        )
    }

    /// An instant in the organisation's local time, as plain text.
    pub fn local(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.offset)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    }

    pub fn opt_time(&self, t: Option<DateTime<Utc>>) -> String {
        t.map(|t| self.time(t)).unwrap_or_else(|| "—".into())
    }

    /// A value for `<input type="datetime-local">` in local time.
    pub fn local_input(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.offset)
            .format("%Y-%m-%dT%H:%M")
            .to_string()
    }

    /// "1 h 20 min" / "1 小时 20 分".
    pub fn duration(&self, secs: i64) -> String {
        let m = secs.abs() / 60;
        let (d, h, m) = (m / 1440, (m / 60) % 24, m % 60);
        let mut parts = Vec::new();
        if d > 0 {
            parts.push(format!("{d} {}", self.t("d", "天")));
        }
        if h > 0 {
            parts.push(format!("{h} {}", self.t("h", "小时")));
        }
        if d == 0 {
            parts.push(format!("{m} {}", self.t("min", "分")));
        }
        parts.join(" ")
    }

    /// What a timer's `remaining_secs` means to a person.
    pub fn remaining(&self, secs: i64) -> String {
        if secs >= 0 {
            format!("{} {}", self.duration(secs), self.t("left", "剩余"))
        } else {
            format!("{} {}", self.t("overdue by", "已超时"), self.duration(secs))
        }
    }

    pub fn status(&self, s: JobStatus) -> &'static str {
        use JobStatus::*;
        match s {
            Unassigned => self.t("unassigned", "待派单"),
            Assigned => self.t("assigned", "已派单"),
            Accepted => self.t("accepted", "已接单"),
            GoodsArrived => self.t("goods arrived", "货到网点"),
            PickedUp => self.t("picked up", "已提货"),
            Scheduled => self.t("scheduled", "已预约"),
            OnSite => self.t("on site", "已到场"),
            WorkDone => self.t("work done", "已完工"),
            Completed => self.t("completed", "已完成"),
            Blocked => self.t("blocked", "异常待处理"),
            Cancelled => self.t("cancelled", "已取消"),
        }
    }

    pub fn kind(&self, k: JobKind) -> &'static str {
        match k {
            JobKind::Install => self.t("install", "安装"),
            JobKind::DeliveryInstall => self.t("delivery + install", "送装"),
            JobKind::Repair => self.t("repair", "维修"),
        }
    }

    pub fn timer(&self, k: TimerKind) -> &'static str {
        use TimerKind::*;
        match k {
            Dispatch => self.t("dispatch", "派单"),
            FirstContact => self.t("first customer contact", "首次联系客户"),
            ArrivalWindow => self.t("arrival window", "上门时间窗"),
            Completion => self.t("completion", "完工时限"),
            RepairResponse => self.t("repair response", "维修响应"),
            RepairOnSite => self.t("repair on site", "维修到场"),
            ReturnVisit => self.t("return visit", "回访"),
            ComplaintAnswer => self.t("complaint: accept or reject", "投诉受理"),
            ComplaintResult => self.t("complaint: result", "投诉处理结果"),
        }
    }

    pub fn category(&self, c: PhotoCategory) -> &'static str {
        match c {
            PhotoCategory::Pickup => self.t("pickup", "提货"),
            PhotoCategory::Completion => self.t("completion", "完工"),
            PhotoCategory::Receipt => self.t("signed receipt", "签收单"),
            PhotoCategory::Exception => self.t("exception", "异常"),
            PhotoCategory::Signature => self.t("signature", "签名"),
        }
    }

    pub fn flag(&self, f: EventFlag) -> &'static str {
        match f {
            EventFlag::AfterCancellation => self.t("after cancellation", "取消后上报"),
            EventFlag::ClockJumped => self.t("clock jumped", "手机时间被修改"),
            EventFlag::DeviceRebooted => self.t("device rebooted", "设备重启"),
            EventFlag::FormerTechnician => self.t("from the former technician", "来自原技术员"),
            EventFlag::AfterReassignment => self.t("after reassignment", "改派后上报"),
            EventFlag::Unsigned => self.t("not signed", "未签名"),
            EventFlag::BadSignature => {
                self.t("signature does not match: altered", "签名不符：已被改动")
            }
            EventFlag::ChainGap => self.t("out of the device's chain", "与设备记录链不连续"),
        }
    }

    pub fn decision(&self, d: ExceptionDecision) -> &'static str {
        match d {
            ExceptionDecision::Proceed => self.t("proceed", "继续"),
            ExceptionDecision::Stop => self.t("stop", "终止"),
        }
    }

    pub fn reason(&self, r: ExemptionReason) -> &'static str {
        match r {
            ExemptionReason::Weather => self.t("weather", "天气原因"),
            ExemptionReason::Customer => self.t("customer", "客户原因"),
            ExemptionReason::CodeUnavailable => {
                self.t("confirmation code unavailable", "无法获取确认码")
            }
            ExemptionReason::Other => self.t("other", "其他"),
        }
    }

    pub fn action(&self, k: ActionKind) -> &'static str {
        use ActionKind::*;
        match k {
            JobCreated => self.t("job created", "创建工单"),
            JobAssigned => self.t("assigned", "派单"),
            JobCancelled => self.t("cancelled", "取消工单"),
            OrderAmended => self.t("order amended", "修改订单"),
            ExceptionResolved => self.t("exception decided", "异常已处理"),
            ExemptionDecided => self.t("exemption decided", "豁免已决定"),
            ReturnVisitRecorded => self.t("return visit recorded", "已回访"),
            ComplaintFiled => self.t("complaint filed", "登记投诉"),
            ComplaintAnswered => self.t("complaint answered", "投诉已答复"),
            ComplaintClosed => self.t("complaint closed", "投诉结案"),
            ConflictsAcknowledged => self.t("conflict acknowledged", "冲突已确认"),
            AppointmentBooked => self.t("appointment booked", "预约"),
            JobAccepted => self.t("accepted", "接单"),
            CustomerCallLogged => self.t("call logged", "联系客户"),
            LogisticsArrived => self.t("goods arrived", "货到网点"),
            PickupRecorded => self.t("picked up", "提货"),
            ExceptionRaised => self.t("exception raised", "上报异常"),
            AppointmentRescheduled => self.t("rescheduled", "改约"),
            CheckedIn => self.t("checked in", "签到"),
            ChecklistAnswered => self.t("checklist answered", "检查项"),
            PhotoCaptured => self.t("photo taken", "拍照"),
            SignatureCaptured => self.t("signature captured", "客户签名"),
            WorkMarkedDone => self.t("work done", "完工"),
            ConfirmationCodeEntered => self.t("confirmation code entered", "录入确认码"),
            JobCompleted => self.t("completed", "完成"),
            ExemptionClaimed => self.t("exemption claimed", "申请豁免"),
            CheckedOut => self.t("checked out", "离场"),
        }
    }

    /// Where a timer stands: "met", "breached (exempted)", "1 h 5 min left".
    pub fn timer_state(&self, t: &Timer) -> String {
        if t.breached {
            if t.exempted {
                self.t("breached (exempted)", "已超时（已豁免）")
                    .to_string()
            } else {
                self.t("breached", "已超时").to_string()
            }
        } else if t.stopped_at.is_some() {
            self.t("met", "已达成").to_string()
        } else {
            self.remaining(t.remaining_secs)
        }
    }

    /// A check-in against the arrival window: the words, and whether it missed the window
    /// (`None` while there is nothing to judge).
    pub fn arrival(
        &self,
        window: Option<&Timer>,
        checked_in_at: Option<DateTime<Utc>>,
    ) -> (&'static str, Option<bool>) {
        match (window, checked_in_at) {
            (None, _) => (self.t("no appointment booked", "尚未预约"), None),
            (Some(_), None) => (self.t("not checked in yet", "尚未签到"), None),
            (Some(w), Some(at)) if w.not_before.is_some_and(|nb| at < nb) => {
                (self.t("too early", "过早到达"), Some(true))
            }
            (Some(w), Some(at)) if at > w.due_at => (self.t("late", "迟到"), Some(true)),
            (Some(_), Some(_)) => (self.t("within the window", "在时间窗内"), Some(false)),
        }
    }

    /// The order as the desk wrote it, label by label; empty values are for the caller to
    /// leave out. The console's job page and the evidence report show the same.
    pub fn order_fields(&self, v: &JobView) -> Vec<(&'static str, String)> {
        let o = &v.order;
        vec![
            (
                self.t("Job number", "工单号"),
                v.number
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "-".into()),
            ),
            (self.t("Customer", "客户"), o.customer_name.clone()),
            (self.t("Address", "地址"), o.address.clone()),
            (self.t("Phone", "电话"), o.phone.clone()),
            (self.t("Product model", "产品型号"), o.product_model.clone()),
            (self.t("Work", "服务内容"), o.work.clone()),
            (self.t("Ordering party", "下单方"), o.ordering_party.clone()),
            (
                self.t("Severity", "故障等级"),
                o.severity.map(|s| s.to_string()).unwrap_or_default(),
            ),
            (
                self.t("Pieces", "件数"),
                o.expected_pieces.map(|s| s.to_string()).unwrap_or_default(),
            ),
            (self.t("Fee basis", "收费方式"), self.fee(&o.fee_basis)),
        ]
    }

    pub fn fee(&self, f: &FeeBasis) -> String {
        match f {
            FeeBasis::InWarranty => self.t("in warranty", "保内").to_string(),
            FeeBasis::Quoted { amount_cents } => format!(
                "{} {}.{:02}",
                self.t("quoted", "报价"),
                amount_cents / 100,
                amount_cents % 100
            ),
            FeeBasis::StandardSchedule => self.t("standard fee schedule", "标准收费").to_string(),
        }
    }

    pub fn yes_no(&self, b: bool) -> &'static str {
        if b {
            self.t("yes", "是")
        } else {
            self.t("no", "否")
        }
    }
}

/// The hidden field every POST form carries.
/// The hidden fields every console form carries: the session's CSRF token, and a fresh
/// idempotency key, so a form sent twice (a double click, a retried post) acts once
/// (`crate::idempotency`).
pub fn csrf_field(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <input type=\"hidden\" name=\"{}\" value=\"{}\">",
        esc(token),
        crate::idempotency::FORM_FIELD,
        uuid::Uuid::now_v7()
    )
}

/// Who is looking, for the page frame.
pub struct Frame<'a> {
    pub ui: Ui,
    pub title: &'a str,
    /// The dispatcher's name and the CSRF token for the logout form; `None` on the login page.
    pub who: Option<(&'a str, &'a str)>,
    /// The current path and query, so the language switch comes back here.
    pub here: &'a str,
}

/// A whole page around `body`.
pub fn page(f: &Frame<'_>, body: &str) -> String {
    let ui = f.ui;
    let mut nav = String::new();
    if let Some((name, csrf)) = f.who {
        let _ = write!(
            nav,
            "<a href=\"/console\">{}</a> <a href=\"/console/jobs/new\">{}</a> \
             <a href=\"/console/technicians\">{}</a> <a href=\"/console/webhooks\">{}</a>\
             <span class=\"spacer\"></span><span class=\"who\">{}</span>\
             <form method=\"post\" action=\"/console/logout\" class=\"inline\">{}\
             <button type=\"submit\">{}</button></form>",
            ui.t("Board", "看板"),
            ui.t("New job", "新建工单"),
            ui.t("Technicians", "技术员"),
            ui.t("Webhooks", "Webhook 推送"),
            esc(name),
            csrf_field(csrf),
            ui.t("Log out", "退出"),
        );
    } else {
        nav.push_str("<span class=\"spacer\"></span>");
    }
    let switch = match ui.lang {
        Lang::En => ("zh-CN", "中文"),
        Lang::ZhCn => ("en", "English"),
    };
    format!(
        "<!doctype html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · fieldcore</title>\
         <link rel=\"stylesheet\" href=\"/console/static/console.css\">\
         <script src=\"/console/static/console.js\" defer></script></head>\
         <body><header><strong>fieldcore</strong> {nav} \
         <a class=\"lang\" href=\"/console/lang?to={to}&amp;back={back}\">{to_name}</a></header>\
         <main><h1>{title}</h1>{body}</main></body></html>",
        lang = ui.html_lang(),
        title = esc(f.title),
        to = switch.0,
        to_name = switch.1,
        back = esc(&url(f.here)),
    )
}

/// A notice above a page's content (`kind`: "ok" or "error").
pub fn notice(kind: &str, text: &str) -> String {
    format!(
        "<p class=\"notice {}\" role=\"status\">{}</p>",
        esc(kind),
        esc(text)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<script>alert(\"x\")</script>&'"),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"
        );
        assert_eq!(url("a b/ü"), "a%20b%2F%C3%BC");
    }
}

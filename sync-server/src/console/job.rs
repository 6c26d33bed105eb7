//! A job's page (evidence, clocks, what waits for a decision) and every desk form.
//!
//! Forms post to `/console/jobs/{id}/{action}`, carry the session's CSRF token, and act through
//! `api::dispatcher::desk`: the console can do nothing the JSON API cannot, and the rulebook's
//! refusal is shown on the page instead of a problem document.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use fieldcore::domain::{
    Actor, EventBody, FeeBasis, JobKind, JobOrder, Phase, PhotoCategory, Timer, TimerKind,
};
use serde::Deserialize;
use uuid::Uuid;

use super::board::{status_badge, technician_names, timer_tag};
use super::html::{Ui, esc, notice};
use super::{Console, ConsoleError, FormFields, PageResult, csrf_hidden, not_found};
use crate::AppState;
use crate::api::desk_action::DeskAction;
use crate::api::dispatcher::{desk, new_job, technician_of_org};
use crate::error::ApiError;
use crate::storage::{JobDetail, Technician, TimelineEntry};

#[derive(Debug, Default, Deserialize)]
pub struct JobQuery {
    pub fragment: Option<String>,
}

fn parse_id(c: &Console, id: &str) -> Result<Uuid, ConsoleError> {
    id.parse().map_err(|_| not_found(c))
}

/// Field actions kept aside (ADR 0007): they reached the desk after the job was cancelled or
/// given to another technician. Facts, never silently dropped: the desk sees what happened and
/// when, e.g. "checked in 10:02; reassigned 10:05; 3 actions after that".
fn conflict_summary(ui: Ui, d: &JobDetail) -> Option<String> {
    use fieldcore::protocol::EventFlag;
    let kept: Vec<&TimelineEntry> = d
        .timeline
        .iter()
        .filter(|t| {
            t.flags.iter().any(|f| {
                matches!(
                    f,
                    EventFlag::FormerTechnician | EventFlag::AfterCancellation
                )
            })
        })
        .collect();
    if kept.is_empty() {
        return None;
    }
    let after = kept
        .iter()
        .filter(|t| {
            t.flags.iter().any(|f| {
                matches!(
                    f,
                    EventFlag::AfterReassignment | EventFlag::AfterCancellation
                )
            })
        })
        .count();
    let first = kept
        .iter()
        .map(|t| {
            format!(
                "{} {}",
                ui.action(t.event.body.kind()),
                ui.time(t.corrected_at)
            )
        })
        .take(3)
        .collect::<Vec<_>>()
        .join(", ");
    let turn = match (d.view.reassigned_at, d.view.cancelled_at) {
        (_, Some(c)) => format!("{} {}", ui.t("cancelled", "取消于"), ui.time(c)),
        (Some(r), None) => format!("{} {}", ui.t("reassigned", "改派于"), ui.time(r)),
        (None, None) => String::new(),
    };
    Some(
        format!(
            "{}: {} {}; {turn}; {after} {}",
            ui.t("Conflict", "冲突"),
            kept.len(),
            ui.t("field action(s) kept aside", "条现场记录已另存"),
            ui.t("after that", "发生在此之后"),
        ) + &format!(" ({first})"),
    )
}

/// `<input type="datetime-local">` gives local wall time; the organisation's calendar says
/// which offset that is.
fn parse_local(c: &Console, s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
        .ok()?;
    c.org
        .policy
        .calendar
        .offset()
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

pub async fn page(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<JobQuery>,
) -> PageResult {
    let id = parse_id(&c, &id)?;
    render(&state, &c, id, q.fragment.is_some(), None, StatusCode::OK).await
}

/// The job page (or only its live part), optionally with a notice on top.
async fn render(
    state: &AppState,
    c: &Console,
    id: Uuid,
    fragment: bool,
    message: Option<(&str, String)>,
    status: StatusCode,
) -> PageResult {
    let ui = c.ui();
    let Some(d) = state.storage.job(c.org.id, id).await? else {
        return Err(not_found(c));
    };
    let technicians = state.storage.technicians(c.org.id).await?;
    let names = technician_names(&technicians);
    let now = state.config.clock.now();
    let timers = c.org.policy.timers(&d.view, now);
    let v = &d.view;
    let mut o = String::new();
    if let Some((kind, text)) = &message {
        o.push_str(&notice(kind, text));
    }

    // ---- header: where it stands
    let tech = v
        .technician_id
        .map(|t| names.get(&t).cloned().unwrap_or_else(|| t.to_string()));
    let _ = write!(
        o,
        "<p class=\"headline\">{badge} {kind} · {tl}: <b id=\"technician\">{tech}</b></p>",
        badge = status_badge(ui, v.status()),
        kind = ui.kind(v.order.kind),
        tl = ui.t("Technician", "技术员"),
        tech = tech
            .map(|t| esc(&t))
            .unwrap_or_else(|| ui.t("unassigned", "未派单").to_string()),
    );
    if let Some(r) = &v.cancel_reason {
        o.push_str(&notice(
            "error",
            &format!("{}: {r}", ui.t("Cancelled", "已取消")),
        ));
    }
    if let Some(text) = conflict_summary(ui, &d) {
        if d.view.open_conflicts() > 0 {
            o.push_str(&format!(
                "<div class=\"notice error conflict\" role=\"status\">{}\
                 <form method=\"post\" action=\"/console/jobs/{id}/acknowledge\" class=\"inline\">\
                 {csrf}<button type=\"submit\">{ack}</button></form></div>",
                esc(&text),
                csrf = csrf_hidden(c),
                ack = ui.t("Acknowledge", "确认已知悉"),
            ));
        } else {
            o.push_str(&format!(
                "<p class=\"notice conflict-acknowledged\">{} ({})</p>",
                esc(&text),
                ui.t("acknowledged", "已确认")
            ));
        }
    }

    // ---- the evidence chain (ADR 0016)
    let chain = crate::api::dispatcher::EvidenceChain::of(&d.timeline);
    let field_events = chain.signed + chain.unsigned + chain.broken;
    if field_events == 0 {
        // Nothing from the field yet: nothing to verify.
    } else if chain.verified {
        let _ = write!(
            o,
            "<p class=\"notice\" id=\"evidence-chain\" data-verified=\"true\">{} ({} {})</p>",
            ui.t("Evidence chain verified", "证据链已验证"),
            chain.signed,
            ui.t("signed field events", "条已签名的现场记录"),
        );
    } else {
        let _ = write!(
            o,
            "<p class=\"notice error\" id=\"evidence-chain\" data-verified=\"false\">{}: \
             {} {}, {} {}</p>",
            ui.t("Evidence chain not verified", "证据链未通过验证"),
            chain.broken,
            ui.t("altered or out of the device's chain", "条被改动或不连续"),
            chain.unsigned,
            ui.t("unsigned", "条未签名"),
        );
    }

    // ---- the evidence report and bundle for the ordering party (ADR 0017)
    let _ = write!(
        o,
        "<p id=\"evidence-downloads\"><a href=\"/console/jobs/{id}/evidence.pdf\" download>{}</a> · \
         <a href=\"/console/jobs/{id}/evidence.zip\" download>{}</a></p>",
        ui.t("Evidence report (PDF)", "证据报告 (PDF)"),
        ui.t(
            "Evidence bundle for verification (zip)",
            "可核验的证据包 (zip)"
        ),
    );

    // ---- the technician's day: visits booked too close to this one (warnings)
    let conflicts = crate::api::dispatcher::schedule_conflicts(state, &c.org, v).await;
    if !conflicts.is_empty() {
        let _ = write!(
            o,
            "<div class=\"notice warning\" id=\"schedule-conflicts\" role=\"status\"><b>{}</b> \
             ({})<ul>",
            ui.t("Schedule conflict", "排期冲突"),
            esc(&format!(
                "{} {} min + {} {} min",
                ui.t("visit", "上门"),
                c.org.policy.visit_minutes,
                ui.t("travel", "路程"),
                c.org.policy.travel_minutes
            )),
        );
        for k in &conflicts {
            let other = k
                .other_number
                .map(|n| n.to_string())
                .unwrap_or_else(|| k.other_job_id.to_string());
            let _ = write!(
                o,
                "<li><a href=\"/console/jobs/{id}\">{other}</a> {at}: {short} {min}</li>",
                id = k.other_job_id,
                other = esc(&other),
                at = ui.time(k.other_at),
                short = k.short_by_minutes,
                min = ui.t("min too close", "分钟间隔不足"),
            );
        }
        o.push_str("</ul></div>");
    }

    // ---- the order
    let _ = write!(
        o,
        "<section class=\"card\"><h2>{}</h2><dl>",
        ui.t("Order", "订单")
    );
    for (label, value) in ui.order_fields(v) {
        if !value.is_empty() {
            let _ = write!(o, "<dt>{label}</dt><dd>{}</dd>", esc(&value));
        }
    }
    o.push_str("</dl></section>");

    // ---- clocks
    let _ = write!(
        o,
        "<section class=\"card\" id=\"timers\"><h2>{}</h2><table><thead><tr><th>{}</th><th>{}</th>\
         <th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        ui.t("SLA clocks", "SLA 时限"),
        ui.t("Clock", "时限"),
        ui.t("Started", "开始"),
        ui.t("Due", "截止"),
        ui.t("Stopped", "完成于"),
        ui.t("State", "状态"),
    );
    for t in &timers {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ui.timer(t.kind),
            ui.time(t.started_at),
            ui.time(t.due_at),
            ui.opt_time(t.stopped_at),
            timer_tag(ui, t),
        );
    }
    o.push_str("</tbody></table></section>");

    // ---- arrival
    render_arrival(&mut o, ui, v, &timers);

    // ---- calls
    let _ = write!(
        o,
        "<section class=\"card\" id=\"calls\"><h2>{} <b>{}</b></h2><ul>",
        ui.t("Calls to the customer", "联系客户记录"),
        v.calls.len()
    );
    for call in &v.calls {
        let outcome = serde_json::to_value(call.outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let _ = write!(
            o,
            "<li>{} <b>{}</b> {}</li>",
            ui.time(call.at),
            esc(&outcome.replace('_', " ")),
            esc(&call.note)
        );
    }
    o.push_str("</ul></section>");

    // ---- checklist
    let _ = write!(
        o,
        "<section class=\"card\" id=\"checklist\"><h2>{}</h2><table><tbody>",
        ui.t("Conduct checklist", "服务规范检查")
    );
    for phase in [Phase::BeforeEntering, Phase::During, Phase::Finishing] {
        let _ = write!(
            o,
            "<tr><th colspan=\"3\">{}</th></tr>",
            match phase {
                Phase::BeforeEntering => ui.t("Before entering", "进门前"),
                Phase::During => ui.t("During the visit", "服务中"),
                Phase::Finishing => ui.t("Finishing", "完工时"),
            }
        );
        for item in c.org.checklist.items.iter().filter(|i| i.phase == phase) {
            let answer = v.checklist.get(&item.id);
            let (cls, text) = match answer {
                Some(a) if a.answer => ("yes", ui.t("yes", "是")),
                Some(_) => ("no", ui.t("no", "否")),
                None => ("", "—"),
            };
            let _ = write!(
                o,
                "<tr><td>{}{}</td><td class=\"answer {cls}\">{text}</td><td>{}</td></tr>",
                esc(item.text(ui.lang)),
                if item.required { " *" } else { "" },
                answer.map(|a| esc(&a.note)).unwrap_or_default(),
            );
        }
    }
    o.push_str("</tbody></table></section>");

    // ---- photos, signature, code
    let _ = write!(
        o,
        "<section class=\"card\" id=\"photos\"><h2>{}</h2>",
        ui.t("Photos", "照片")
    );
    for cat in PhotoCategory::ALL {
        let in_cat: Vec<_> = d
            .photos
            .iter()
            .filter(|p| p.category == cat.as_str())
            .collect();
        if in_cat.is_empty() {
            continue;
        }
        let _ = write!(
            o,
            "<h3>{}</h3><div class=\"thumbs\" data-category=\"{}\">",
            ui.category(cat),
            cat.as_str()
        );
        for p in in_cat {
            if p.blob_path.is_some() {
                let _ = write!(
                    o,
                    "<a href=\"/console/photos/{id}\" target=\"_blank\" rel=\"noopener\">\
                     <img class=\"thumb\" src=\"/console/photos/{id}\" alt=\"{alt}\" \
                     data-photo=\"{id}\" loading=\"lazy\"></a>",
                    id = p.photo_id,
                    alt = ui.category(cat),
                );
            } else {
                let _ = write!(
                    o,
                    "<span class=\"pending\" data-photo=\"{}\">{}</span>",
                    p.photo_id,
                    ui.t("uploading…", "上传中…")
                );
            }
        }
        o.push_str("</div>");
    }
    if d.photos.is_empty() {
        let _ = write!(o, "<p>{}</p>", ui.t("No photos yet.", "暂无照片。"));
    }
    let _ = write!(
        o,
        "<p id=\"signature\">{}: {}</p><p id=\"code\">{}: {}</p></section>",
        ui.t("Customer's signature", "客户签名"),
        match &v.signature {
            Some(s) => format!(
                "{} ({} {}){}",
                ui.t("captured", "已签"),
                s.stroke_count,
                ui.t("strokes", "笔"),
                // The device sends the rendered strokes as a `signature` photo.
                d.photos
                    .iter()
                    .rev()
                    .find(|p| p.category == PhotoCategory::Signature.as_str()
                        && p.blob_path.is_some())
                    .map(|p| format!(
                        "<br><img class=\"signature\" src=\"/console/photos/{}\" alt=\"{}\">",
                        p.photo_id,
                        ui.t("customer's signature", "客户签名")
                    ))
                    .unwrap_or_default()
            ),
            None => ui.t("not yet", "未签").to_string(),
        },
        ui.t("Confirmation code (verification)", "服务确认码（核销）"),
        match (v.order.requires_verification, v.code_entered_at) {
            (_, Some(t)) => format!("{} {}", ui.t("entered", "已录入"), ui.time(t)),
            (true, None) => ui
                .t("required, not entered yet", "需要，尚未录入")
                .to_string(),
            (false, None) => ui.t("not required", "无需核销").to_string(),
        },
    );

    // ---- exceptions and exemption claims
    render_decisions(&mut o, c, v);

    // ---- after the visit
    render_after(&mut o, c, v, &timers);

    // ---- timeline
    let _ = write!(
        o,
        "<section class=\"card\" id=\"timeline\"><h2>{}</h2><table><thead><tr><th>{}</th>\
         <th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        ui.t("Timeline", "时间线"),
        ui.t("What", "事件"),
        ui.t("Who", "操作人"),
        ui.t("Device time", "设备时间"),
        ui.t("Corrected time", "校正时间"),
        ui.t("Received by server", "服务器接收"),
        ui.t("Flags", "标记"),
    );
    for e in &d.timeline {
        let who = match e.event.actor {
            Actor::Technician { technician_id, .. } => names
                .get(&technician_id)
                .cloned()
                .unwrap_or_else(|| technician_id.to_string()),
            Actor::Dispatcher { .. } => ui.t("desk", "调度").to_string(),
        };
        let flags: Vec<String> = e
            .flags
            .iter()
            .map(|f| {
                format!(
                    "<span class=\"flag\" data-flag=\"{}\">{}</span>",
                    serde_json::to_value(f)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    ui.flag(*f)
                )
            })
            .collect();
        let _ = write!(
            o,
            "<tr data-event=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            e.event.body.kind().as_str(),
            ui.action(e.event.body.kind()),
            esc(&who),
            ui.time(e.event.recorded_at),
            ui.time(e.corrected_at),
            ui.time(e.server_received_at),
            flags.join(" "),
        );
    }
    o.push_str("</tbody></table>");
    if !d.rejections.is_empty() {
        let _ = write!(
            o,
            "<h3>{}</h3><ul>",
            ui.t("Refused device events", "被拒绝的设备事件")
        );
        for r in &d.rejections {
            let _ = write!(
                o,
                "<li>{} {} <code>{}</code> {}</li>",
                ui.time(r.received_at),
                ui.action(r.event.body.kind()),
                esc(&r.rule),
                esc(&r.message)
            );
        }
        o.push_str("</ul>");
    }
    if !d.unreadable.is_empty() {
        let _ = write!(
            o,
            "<h3>{}</h3><ul class=\"unreadable\">",
            ui.t("Entries that could not be read", "无法读取的记录")
        );
        for u in &d.unreadable {
            let _ = write!(
                o,
                "<li>{} <code>{}</code>: {}</li>",
                esc(u.what),
                esc(&u.id),
                esc(&u.problem)
            );
        }
        o.push_str("</ul>");
    }
    o.push_str("</section>");

    // ---- the desk's own actions on the order
    render_desk_forms(&mut o, c, v, &technicians);

    if fragment {
        return Ok((status, Html(o)).into_response());
    }
    let here = format!("/console/jobs/{id}");
    let title = format!(
        "{}{} · {}",
        ui.t("Job", "工单"),
        v.number.map(|n| format!(" {n}")).unwrap_or_default(),
        if v.order.customer_name.is_empty() {
            id.to_string()
        } else {
            v.order.customer_name.clone()
        }
    );
    let body = format!(
        "<div id=\"live\" data-live=\"/console/jobs/{id}?fragment=1\" data-job=\"{id}\" aria-live=\"polite\">{o}</div>"
    );
    Ok((status, Html(c.page(&title, &here, &body))).into_response())
}

fn render_arrival(o: &mut String, ui: Ui, v: &fieldcore::domain::JobView, timers: &[Timer]) {
    let window = timers.iter().find(|t| t.kind == TimerKind::ArrivalWindow);
    let verdict = match ui.arrival(window, v.checked_in_at) {
        (words, None) => words.to_string(),
        (words, Some(true)) => format!("<span class=\"timer breached\">{words}</span>"),
        (words, Some(false)) => format!("<span class=\"timer ok\">{words}</span>"),
    };
    let _ = write!(
        o,
        "<section class=\"card\" id=\"arrival\"><h2>{}</h2><dl><dt>{}</dt><dd>{}</dd>\
         <dt>{}</dt><dd>{} – {}</dd><dt>{}</dt><dd id=\"checked-in\">{}</dd><dt>{}</dt><dd>{}</dd>",
        ui.t("Arrival", "上门签到"),
        ui.t("Appointment", "预约时间"),
        ui.opt_time(v.appointment_at),
        ui.t("Window", "时间窗"),
        ui.opt_time(window.and_then(|w| w.not_before)),
        ui.opt_time(window.map(|w| w.due_at)),
        ui.t("Checked in", "签到时间"),
        ui.opt_time(v.checked_in_at),
        ui.t("Verdict", "结论"),
        verdict,
    );
    if let Some(p) = v.check_in_location {
        let _ = write!(
            o,
            "<dt>{}</dt><dd>{:.5}, {:.5}{}</dd>",
            ui.t("Location", "位置"),
            p.lat,
            p.lon,
            p.accuracy_m
                .map(|a| format!(" (±{a:.0} m)"))
                .unwrap_or_default()
        );
    }
    o.push_str("</dl></section>");
}

fn form_open(c: &Console, id: Uuid, action: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/console/jobs/{id}/{action}\" class=\"inline-form\" data-action=\"{action}\">{}",
        csrf_hidden(c)
    )
}

fn render_decisions(o: &mut String, c: &Console, v: &fieldcore::domain::JobView) {
    let ui = c.ui();
    let _ = write!(
        o,
        "<section class=\"card\" id=\"exceptions\"><h2>{}</h2>",
        ui.t("Exceptions and exemption claims", "异常与豁免申请")
    );
    if v.exceptions.is_empty() && v.exemptions.is_empty() {
        let _ = write!(o, "<p>{}</p>", ui.t("None.", "无。"));
    }
    for e in &v.exceptions {
        let _ = write!(
            o,
            "<div class=\"exception\" data-exception=\"{}\"><b>{}</b>{} · {} · {}",
            e.id,
            esc(e.kind.label(ui.lang)),
            if e.kind.blocks() {
                format!(
                    " <span class=\"timer breached\">{}</span>",
                    ui.t("blocks the job", "阻塞工单")
                )
            } else {
                String::new()
            },
            ui.time(e.raised_at),
            esc(&e.note),
        );
        match &e.resolution {
            Some(r) => {
                let _ = write!(
                    o,
                    "<p>{}: <b>{}</b> {} {}</p>",
                    ui.t("Decided", "已决定"),
                    ui.decision(r.decision),
                    ui.time(r.decided_at),
                    esc(&r.note)
                );
            }
            None => {
                let _ = write!(
                    o,
                    "{}<input type=\"hidden\" name=\"target\" value=\"{}\">\
                     <input name=\"note\" placeholder=\"{}\">\
                     <button name=\"decision\" value=\"proceed\">{}</button>\
                     <button name=\"decision\" value=\"stop\" class=\"danger\">{}</button></form>",
                    form_open(c, v.id, "resolve"),
                    e.id,
                    ui.t("note", "备注"),
                    ui.t("Proceed", "继续"),
                    ui.t("Stop", "终止"),
                );
            }
        }
        o.push_str("</div>");
    }
    for x in &v.exemptions {
        let _ = write!(
            o,
            "<div class=\"exemption\" data-claim=\"{}\"><b>{}: {}</b> · {} · {}",
            x.id,
            ui.t("Exemption claimed for", "豁免申请"),
            ui.timer(x.timer),
            ui.reason(x.reason),
            esc(&x.note),
        );
        match x.granted {
            Some(g) => {
                let _ = write!(
                    o,
                    "<p>{}: <b>{}</b> {}</p>",
                    ui.t("Decided", "已决定"),
                    if g {
                        ui.t("granted", "已批准")
                    } else {
                        ui.t("refused", "已拒绝")
                    },
                    ui.opt_time(x.decided_at)
                );
            }
            None => {
                let _ = write!(
                    o,
                    "{}<input type=\"hidden\" name=\"target\" value=\"{}\">\
                     <input name=\"note\" placeholder=\"{}\">\
                     <button name=\"granted\" value=\"yes\">{}</button>\
                     <button name=\"granted\" value=\"no\" class=\"danger\">{}</button></form>",
                    form_open(c, v.id, "decide"),
                    x.id,
                    ui.t("note", "备注"),
                    ui.t("Grant", "批准"),
                    ui.t("Refuse", "拒绝"),
                );
            }
        }
        o.push_str("</div>");
    }
    o.push_str("</section>");
}

fn rating_select(name: &str) -> String {
    let mut s = format!("<select name=\"{name}\">");
    for n in (1..=5).rev() {
        let _ = write!(s, "<option value=\"{n}\">{n}</option>");
    }
    s.push_str("</select>");
    s
}

fn render_after(o: &mut String, c: &Console, v: &fieldcore::domain::JobView, timers: &[Timer]) {
    let ui = c.ui();
    let _ = write!(
        o,
        "<section class=\"card\" id=\"after\"><h2>{}</h2>",
        ui.t("After the visit", "售后")
    );
    // Return visit.
    match (&v.return_visit, v.completed_at) {
        (Some(r), _) => {
            let _ = write!(
                o,
                "<p id=\"return-visit\">{}: {} · {} {} · {} {} · {}</p>",
                ui.t("Return visit", "回访"),
                ui.time(r.at),
                ui.t("quality", "质量"),
                r.quality,
                ui.t("attitude", "态度"),
                r.attitude,
                esc(&r.note)
            );
        }
        (None, Some(_)) => {
            let due = timers
                .iter()
                .find(|t| t.kind == TimerKind::ReturnVisit)
                .map(|t| timer_tag(ui, t))
                .unwrap_or_default();
            let _ = write!(
                o,
                "<p>{} {due}</p>{}<label>{} {}</label> <label>{} {}</label> \
                 <input name=\"note\" placeholder=\"{}\"> <button>{}</button></form>",
                ui.t("Return visit due", "待回访"),
                form_open(c, v.id, "return-visit"),
                ui.t("Quality", "质量评分"),
                rating_select("quality"),
                ui.t("Attitude", "态度评分"),
                rating_select("attitude"),
                ui.t("what the customer said", "客户反馈"),
                ui.t("Record return visit", "记录回访"),
            );
        }
        (None, None) => {
            let _ = write!(
                o,
                "<p>{}</p>",
                ui.t(
                    "The return visit is due once the job is completed.",
                    "工单完成后需回访。"
                )
            );
        }
    }
    // Complaints with their clocks.
    let _ = write!(o, "<h3>{}</h3>", ui.t("Complaints", "投诉"));
    for k in &v.complaints {
        let clocks: Vec<String> = timers
            .iter()
            .filter(|t| t.subject == Some(k.id))
            .map(|t| timer_tag(ui, t))
            .collect();
        let _ = write!(
            o,
            "<div class=\"complaint\" data-complaint=\"{}\"><p>{} · {} {}</p>",
            k.id,
            ui.time(k.filed_at),
            esc(&k.note),
            clocks.join(" ")
        );
        match (k.accepted, k.closed_at) {
            (None, _) => {
                let _ = write!(
                    o,
                    "{}<input type=\"hidden\" name=\"target\" value=\"{}\">\
                     <input name=\"note\" placeholder=\"{}\">\
                     <button name=\"accepted\" value=\"yes\">{}</button>\
                     <button name=\"accepted\" value=\"no\" class=\"danger\">{}</button></form>",
                    form_open(c, v.id, "answer"),
                    k.id,
                    ui.t("note", "备注"),
                    ui.t("Accept", "受理"),
                    ui.t("Reject", "不予受理"),
                );
            }
            (Some(true), None) => {
                let _ = write!(
                    o,
                    "{}<input type=\"hidden\" name=\"target\" value=\"{}\">\
                     <input name=\"result\" required placeholder=\"{}\"> <button>{}</button></form>",
                    form_open(c, v.id, "close"),
                    k.id,
                    ui.t("result", "处理结果"),
                    ui.t("Close complaint", "结案"),
                );
            }
            (Some(false), _) => {
                let _ = write!(o, "<p>{}</p>", ui.t("Rejected.", "不予受理。"));
            }
            (Some(true), Some(at)) => {
                let _ = write!(
                    o,
                    "<p>{} {} {}</p>",
                    ui.t("Closed", "已结案"),
                    ui.time(at),
                    esc(k.result.as_deref().unwrap_or(""))
                );
            }
        }
        o.push_str("</div>");
    }
    let _ = write!(
        o,
        "{}<input name=\"note\" required placeholder=\"{}\"> <button>{}</button></form></section>",
        form_open(c, v.id, "complaint"),
        ui.t("what the customer complains about", "投诉内容"),
        ui.t("File complaint", "登记投诉"),
    );
}

fn technician_select(ui: Ui, ts: &[Technician], selected: Option<Uuid>, empty: bool) -> String {
    let mut s = String::from("<select name=\"technician\">");
    if empty {
        let _ = write!(
            s,
            "<option value=\"\">{}</option>",
            ui.t("— not yet —", "— 暂不派单 —")
        );
    }
    for t in ts {
        let _ = write!(
            s,
            "<option value=\"{}\"{}>{}</option>",
            t.id,
            if selected == Some(t.id) {
                " selected"
            } else {
                ""
            },
            esc(&t.name)
        );
    }
    s.push_str("</select>");
    s
}

fn render_desk_forms(
    o: &mut String,
    c: &Console,
    v: &fieldcore::domain::JobView,
    ts: &[Technician],
) {
    let ui = c.ui();
    if v.cancelled_at.is_some() || v.completed_at.is_some() {
        return;
    }
    let _ = write!(
        o,
        "<section class=\"card\" id=\"desk\"><h2>{}</h2>\
         {}<label>{} {}</label> <button>{}</button></form>\
         {}<label>{} <input type=\"datetime-local\" name=\"at\" required value=\"{}\"></label> \
         <input name=\"note\" placeholder=\"{}\"> <button>{}</button></form>\
         {}<input name=\"reason\" required placeholder=\"{}\"> <button class=\"danger\">{}</button></form>\
         </section>",
        ui.t("Desk actions", "调度操作"),
        form_open(c, v.id, "assign"),
        ui.t("Technician", "技术员"),
        technician_select(ui, ts, v.technician_id, false),
        ui.t("Assign", "派单"),
        form_open(c, v.id, "appointment"),
        ui.t("Appointment", "预约时间"),
        v.appointment_at
            .map(|t| ui.local_input(t))
            .unwrap_or_default(),
        ui.t("note", "备注"),
        ui.t("Reschedule", "改约"),
        form_open(c, v.id, "cancel"),
        ui.t("why", "取消原因"),
        ui.t("Cancel job", "取消工单"),
    );
    render_edit_form(o, c, v);
}

/// The order's details, prefilled. The kind is fixed (the rulebook refuses a change) and the
/// fee basis is locked by the rulebook once the technician accepted.
fn render_edit_form(o: &mut String, c: &Console, v: &fieldcore::domain::JobView) {
    let ui = c.ui();
    let order = &v.order;
    let field = |name: &str, label: &str, value: &str, required: bool| {
        format!(
            "<label>{label} <input name=\"{name}\" value=\"{}\"{}></label>",
            esc(value),
            if required { " required" } else { "" }
        )
    };
    let (basis, amount) = match &order.fee_basis {
        FeeBasis::InWarranty => ("in_warranty", String::new()),
        FeeBasis::StandardSchedule => ("standard_schedule", String::new()),
        FeeBasis::Quoted { amount_cents } => (
            "quoted",
            format!("{}.{:02}", amount_cents / 100, amount_cents % 100),
        ),
    };
    let mut fees = String::new();
    for (value, label) in [
        ("in_warranty", ui.t("in warranty", "保内")),
        (
            "standard_schedule",
            ui.t("standard fee schedule", "标准收费"),
        ),
        ("quoted", ui.t("quoted", "报价")),
    ] {
        let _ = write!(
            fees,
            "<option value=\"{value}\"{}>{label}</option>",
            if value == basis { " selected" } else { "" }
        );
    }
    let number = |n: Option<u32>| n.map(|n| n.to_string()).unwrap_or_default();
    let _ = write!(
        o,
        "<section class=\"card\" id=\"edit-order\"><details><summary>{title}</summary>\
         <form method=\"post\" action=\"/console/jobs/{id}/edit\" class=\"grid\" data-action=\"edit\">{csrf}\
         <input type=\"hidden\" name=\"kind\" value=\"{kind}\">\
         {customer}{address}{phone}{product}{work}{party}\
         <label>{purchase_l} <input type=\"date\" name=\"purchase_date\" value=\"{purchase}\"></label>\
         {severity}{pieces}\
         <label>{fee_l} <select name=\"fee_basis\">{fees}</select></label>\
         <label>{amount_l} <input type=\"number\" min=\"0\" step=\"0.01\" name=\"quote_amount\" value=\"{amount}\"></label>\
         <label><input type=\"checkbox\" name=\"requires_verification\" value=\"1\"{verify}> {verify_l}</label>\
         <button>{save}</button></form></details></section>",
        title = ui.t("Edit the order", "修改订单"),
        id = v.id,
        csrf = csrf_hidden(c),
        kind = order.kind.as_str(),
        customer = field(
            "customer_name",
            ui.t("Customer", "客户"),
            &order.customer_name,
            true
        ),
        address = field("address", ui.t("Address", "地址"), &order.address, true),
        phone = field("phone", ui.t("Phone", "电话"), &order.phone, true),
        product = field(
            "product_model",
            ui.t("Product model", "产品型号"),
            &order.product_model,
            false
        ),
        work = field(
            "work",
            ui.t("Work / symptom", "服务内容/故障"),
            &order.work,
            true
        ),
        party = field(
            "ordering_party",
            ui.t("Ordering party", "下单方"),
            &order.ordering_party,
            false
        ),
        purchase_l = ui.t("Purchase date", "购买日期"),
        purchase = order
            .purchase_date
            .map(|d| d.to_string())
            .unwrap_or_default(),
        severity = field(
            "severity",
            ui.t("Severity (repairs)", "故障等级（维修）"),
            &number(order.severity.map(u32::from)),
            false
        ),
        pieces = field(
            "expected_pieces",
            ui.t("Pieces (deliveries)", "件数（送装）"),
            &number(order.expected_pieces),
            false
        ),
        fee_l = ui.t("Fee basis", "收费方式"),
        amount_l = ui.t("Quote", "报价金额"),
        verify = if order.requires_verification {
            " checked"
        } else {
            ""
        },
        verify_l = ui.t("needs the confirmation code", "需要核销确认码"),
        save = ui.t("Save order", "保存订单"),
    );
}

// ---------------------------------------------------------------- new job

pub async fn new_page(State(state): State<AppState>, c: Console) -> PageResult {
    let ts = state.storage.technicians(c.org.id).await?;
    Ok(Html(new_job_html(&c, &ts, &HashMap::new(), None)).into_response())
}

fn new_job_html(
    c: &Console,
    ts: &[Technician],
    form: &HashMap<String, String>,
    error: Option<&str>,
) -> String {
    let ui = c.ui();
    let f = |k: &str| esc(form.get(k).map(String::as_str).unwrap_or(""));
    let kind = form.get("kind").map(String::as_str).unwrap_or("install");
    let mut kinds = String::new();
    for k in [JobKind::Install, JobKind::DeliveryInstall, JobKind::Repair] {
        let _ = write!(
            kinds,
            "<option value=\"{}\"{}>{}</option>",
            k.as_str(),
            if kind == k.as_str() { " selected" } else { "" },
            ui.kind(k)
        );
    }
    let text = |name: &str, label: &str, required: bool| {
        format!(
            "<label>{label} <input name=\"{name}\" value=\"{}\"{}></label>",
            f(name),
            if required { " required" } else { "" }
        )
    };
    let body = format!(
        "{err}<form method=\"post\" action=\"/console/jobs\" class=\"card grid\" id=\"new-job\">{csrf}\
         <label>{kind_l} <select name=\"kind\">{kinds}</select></label>\
         {customer}{address}{phone}{product}{work}{party}\
         <label>{purchase_l} <input type=\"date\" name=\"purchase_date\" value=\"{purchase}\"></label>\
         <label>{severity_l} <select name=\"severity\"><option value=\"\">—</option>\
         <option>1</option><option>2</option><option>3</option><option>4</option></select></label>\
         <label>{pieces_l} <input type=\"number\" min=\"1\" name=\"expected_pieces\" value=\"{pieces}\"></label>\
         <label>{fee_l} <select name=\"fee_basis\"><option value=\"in_warranty\">{in_w}</option>\
         <option value=\"standard_schedule\">{std}</option><option value=\"quoted\">{quoted}</option></select></label>\
         <label>{amount_l} <input type=\"number\" min=\"0\" step=\"0.01\" name=\"quote_amount\" value=\"{amount}\"></label>\
         <label><input type=\"checkbox\" name=\"requires_verification\" value=\"1\"> {verify_l}</label>\
         <label>{tech_l} {techs}</label>\
         <label>{appt_l} <input type=\"datetime-local\" name=\"appointment\" value=\"{appt}\"></label>\
         <button type=\"submit\">{create}</button></form>",
        err = error.map(|e| notice("error", e)).unwrap_or_default(),
        csrf = csrf_hidden(c),
        kind_l = ui.t("Kind", "类型"),
        customer = text("customer_name", ui.t("Customer", "客户"), true),
        address = text("address", ui.t("Address", "地址"), true),
        phone = text("phone", ui.t("Phone", "电话"), true),
        product = text("product_model", ui.t("Product model", "产品型号"), false),
        work = text("work", ui.t("Work / symptom", "服务内容/故障"), true),
        party = text("ordering_party", ui.t("Ordering party", "下单方"), false),
        purchase_l = ui.t("Purchase date", "购买日期"),
        purchase = f("purchase_date"),
        severity_l = ui.t("Severity (repairs)", "故障等级（维修）"),
        pieces_l = ui.t("Pieces (deliveries)", "件数（送装）"),
        pieces = f("expected_pieces"),
        fee_l = ui.t("Fee basis", "收费方式"),
        in_w = ui.t("in warranty", "保内"),
        std = ui.t("standard fee schedule", "标准收费"),
        quoted = ui.t("quoted", "报价"),
        amount_l = ui.t("Quote", "报价金额"),
        amount = f("quote_amount"),
        verify_l = ui.t("needs the confirmation code", "需要核销确认码"),
        tech_l = ui.t("Technician", "技术员"),
        techs = technician_select(
            ui,
            ts,
            form.get("technician").and_then(|t| t.parse().ok()),
            true
        ),
        appt_l = ui.t("Appointment", "预约时间"),
        appt = f("appointment"),
        create = ui.t("Create job", "创建工单"),
    );
    c.page(ui.t("New job", "新建工单"), "/console/jobs/new", &body)
}

fn order_from(c: &Console, form: &HashMap<String, String>) -> Result<JobOrder, String> {
    let ui = c.ui();
    let f = |k: &str| {
        form.get(k)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let kind = match f("kind").as_str() {
        "delivery_install" => JobKind::DeliveryInstall,
        "repair" => JobKind::Repair,
        _ => JobKind::Install,
    };
    let number = |k: &str| -> Result<Option<u32>, String> {
        let s = f(k);
        if s.is_empty() {
            return Ok(None);
        }
        s.parse()
            .map(Some)
            .map_err(|_| format!("{}: {k}", ui.t("Not a number", "不是数字")))
    };
    let fee_basis = match f("fee_basis").as_str() {
        "quoted" => {
            let amount: f64 = f("quote_amount").parse().map_err(|_| {
                ui.t("A quote needs an amount.", "报价需要金额。")
                    .to_string()
            })?;
            FeeBasis::Quoted {
                amount_cents: (amount * 100.0).round() as i64,
            }
        }
        "standard_schedule" => FeeBasis::StandardSchedule,
        _ => FeeBasis::InWarranty,
    };
    let purchase = f("purchase_date");
    Ok(JobOrder {
        kind,
        customer_name: f("customer_name"),
        address: f("address"),
        phone: f("phone"),
        product_model: f("product_model"),
        purchase_date: if purchase.is_empty() {
            None
        } else {
            Some(
                NaiveDate::parse_from_str(&purchase, "%Y-%m-%d")
                    .map_err(|_| ui.t("Bad purchase date.", "购买日期无效。").to_string())?,
            )
        },
        work: f("work"),
        ordering_party: f("ordering_party"),
        severity: number("severity")?.map(|n| n.min(255) as u8),
        fee_basis,
        requires_verification: !f("requires_verification").is_empty(),
        expected_pieces: number("expected_pieces")?,
    })
}

/// How a refusal reads on the page: the rulebook's words and its rule code.
fn refusal_text(c: &Console, e: &ApiError) -> String {
    let p = e.parts();
    format!(
        "{} {}{}",
        c.ui()
            .t("The rulebook refused this action:", "规则不允许此操作："),
        p.detail.as_deref().unwrap_or(&p.title),
        p.rule
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    )
}

pub async fn create(
    State(state): State<AppState>,
    c: Console,
    axum::Form(form): FormFields,
) -> PageResult {
    c.check_csrf(&form)?;
    let ts = state.storage.technicians(c.org.id).await?;
    let again = |status: StatusCode, msg: &str| -> PageResult {
        Ok((status, Html(new_job_html(&c, &ts, &form, Some(msg)))).into_response())
    };
    let order = match order_from(&c, &form) {
        Ok(o) => o,
        Err(msg) => return again(StatusCode::UNPROCESSABLE_ENTITY, &msg),
    };
    let technician = form
        .get("technician")
        .filter(|t| !t.is_empty())
        .map(|t| t.parse::<Uuid>())
        .transpose()
        .ok()
        .flatten();
    if let Some(t) = technician
        && technician_of_org(&state, &c.auth, t).await.is_err()
    {
        return Err(not_found(&c));
    }
    let appointment = match form.get("appointment").filter(|a| !a.trim().is_empty()) {
        None => None,
        Some(a) => match parse_local(&c, a) {
            Some(t) => Some(t),
            None => {
                return again(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    c.ui().t("Bad appointment time.", "预约时间无效。"),
                );
            }
        },
    };
    let job_id = Uuid::now_v7();
    let job = (order, technician, appointment);
    if let Err(e) = new_job(&state, &c.auth, &c.org, job_id, job, c.lang).await {
        return again(e.parts().status, &refusal_text(&c, &e));
    }
    Ok(Redirect::to(&format!("/console/jobs/{job_id}")).into_response())
}

// ---------------------------------------------------------------- desk actions

pub async fn act(
    State(state): State<AppState>,
    c: Console,
    Path((id, action)): Path<(String, String)>,
    axum::Form(form): FormFields,
) -> PageResult {
    c.check_csrf(&form)?;
    let id = parse_id(&c, &id)?;
    let ui = c.ui();
    let missing = ui.t("Some details are missing or not valid.", "信息缺失或无效。");
    // The same desk-action type and mapping as the JSON API; the edit form's many order
    // fields are gathered into the order first.
    let parsed = match action.as_str() {
        "edit" => order_from(&c, &form)
            .map(|order| DeskAction::Edit { order })
            .map_err(|msg| (StatusCode::UNPROCESSABLE_ENTITY, msg)),
        "assign" | "appointment" | "cancel" | "resolve" | "decide" | "return-visit"
        | "complaint" | "answer" | "close" | "acknowledge" => DeskAction::from_form(&action, &form)
            .ok_or_else(|| (StatusCode::UNPROCESSABLE_ENTITY, missing.to_string())),
        _ => return Err(not_found(&c)),
    };
    let body: Result<EventBody, (StatusCode, String)> = match parsed {
        Ok(a) => match a
            .into_event(&state, &c.auth, c.org.policy.calendar.offset())
            .await
        {
            Ok(body) => Ok(body),
            Err(e) if e.parts().status == StatusCode::NOT_FOUND => return Err(not_found(&c)),
            Err(e) => Err((e.parts().status, refusal_text(&c, &e))),
        },
        Err(e) => Err(e),
    };
    let outcome = match body {
        Ok(body) => desk(&state, &c.auth, &c.org, id, vec![body], c.lang)
            .await
            .map_err(|e| (e.parts().status, refusal_text(&c, &e))),
        Err(e) => Err(e),
    };
    match outcome {
        // Post/redirect/get: a reload does not repeat the action.
        Ok(()) => Ok(Redirect::to(&format!("/console/jobs/{id}")).into_response()),
        Err((StatusCode::NOT_FOUND, _)) => Err(not_found(&c)),
        Err((status, msg)) => render(&state, &c, id, false, Some(("error", msg)), status).await,
    }
}

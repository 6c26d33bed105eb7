//! Technicians: adding them, enrolment codes for their phones, and their figures over a period
//! (domain.md "Dispatcher's view": on-time arrival rate, SLA breaches, conduct exceptions,
//! complaint rate).
//!
//! The figures are folded from the job views with the same `Policy::timers` the board uses, so
//! a breach counted here is a breach shown there. Attribution is to the job's current
//! technician; a period selects timers by due time, exceptions and complaints by when they
//! happened, and completions by completion time.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use fieldcore::domain::{ExceptionKind, TimerKind};
use serde::Deserialize;
use uuid::Uuid;

use super::board::{JobNow, with_timers};
use super::html::{esc, notice};
use super::{Console, FormFields, PageResult, csrf_hidden, not_found};
use crate::AppState;
use crate::auth::{code_hash, new_enrolment_code};
use crate::storage::JobFilter;

#[derive(Debug, Default, Deserialize)]
pub struct PeriodQuery {
    pub from: Option<String>,
    pub to: Option<String>,
}

/// One technician's figures over a period.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Figures {
    /// Arrival windows that came to a verdict (checked in, or overdue without a check-in).
    pub arrivals: u32,
    pub arrivals_on_time: u32,
    pub breaches: u32,
    pub conduct_exceptions: u32,
    pub completed: u32,
    pub complaints: u32,
}

pub fn figures(jobs: &[JobNow], from: DateTime<Utc>, to: DateTime<Utc>) -> HashMap<Uuid, Figures> {
    let within = |t: DateTime<Utc>| t >= from && t < to;
    let mut out: HashMap<Uuid, Figures> = HashMap::new();
    for j in jobs {
        let Some(tech) = j.view.technician_id else {
            continue;
        };
        let f = out.entry(tech).or_default();
        for t in j.timers.iter().filter(|t| within(t.due_at)) {
            if t.kind == TimerKind::ArrivalWindow && (t.stopped_at.is_some() || t.breached) {
                f.arrivals += 1;
                if !t.breached {
                    f.arrivals_on_time += 1;
                }
            }
            if t.breached {
                f.breaches += 1;
            }
        }
        f.conduct_exceptions += j
            .view
            .exceptions
            .iter()
            .filter(|e| e.kind == ExceptionKind::ConductViolation && within(e.raised_at))
            .count() as u32;
        if j.view.completed_at.is_some_and(within) {
            f.completed += 1;
        }
        f.complaints += j
            .view
            .complaints
            .iter()
            .filter(|k| within(k.filed_at))
            .count() as u32;
    }
    out
}

fn rate(n: u32, of: u32) -> String {
    if of == 0 {
        "—".into()
    } else {
        format!("{:.0}% ({n}/{of})", f64::from(n) * 100.0 / f64::from(of))
    }
}

pub async fn page(
    State(state): State<AppState>,
    c: Console,
    Query(q): Query<PeriodQuery>,
) -> PageResult {
    render(&state, &c, &q, None, StatusCode::OK).await
}

async fn render(
    state: &AppState,
    c: &Console,
    q: &PeriodQuery,
    message: Option<String>,
    status: StatusCode,
) -> PageResult {
    let ui = c.ui();
    let now = state.config.clock.now();
    let cal = &c.org.policy.calendar;
    let today = cal.local_date(now);
    let parse = |s: &Option<String>| {
        s.as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    };
    let to_day = parse(&q.to).unwrap_or(today);
    let from_day = parse(&q.from).unwrap_or(to_day - Duration::days(29));
    let start_of = |d: NaiveDate| {
        cal.offset()
            .from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
            .single()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(now)
    };
    let (from, to) = (start_of(from_day), start_of(to_day + Duration::days(1)));

    let technicians = state.storage.technicians(c.org.id).await?;
    let rows = state.storage.jobs(c.org.id, JobFilter::default()).await?;
    let jobs = with_timers(c, rows, now);
    let figs = figures(&jobs, from, to);

    let mut b = String::new();
    if let Some(m) = message {
        b.push_str(&m);
    }
    let _ = write!(
        b,
        "<section class=\"card\"><h2>{}</h2><form method=\"post\" action=\"/console/technicians\" \
         id=\"new-technician\">{}<label>{} <input name=\"name\" required></label> \
         <label>{} <input name=\"phone\"></label> <button>{}</button></form></section>",
        ui.t("Add a technician", "添加技术员"),
        csrf_hidden(c),
        ui.t("Name", "姓名"),
        ui.t("Phone", "电话"),
        ui.t("Add", "添加"),
    );
    let _ = write!(
        b,
        "<form method=\"get\" action=\"/console/technicians\" class=\"filters\">\
         <label>{} <input type=\"date\" name=\"from\" value=\"{from_day}\"></label>\
         <label>{} <input type=\"date\" name=\"to\" value=\"{to_day}\"></label>\
         <button>{}</button></form>",
        ui.t("From", "从"),
        ui.t("To", "到"),
        ui.t("Show", "查看"),
    );
    let _ = write!(
        b,
        "<table class=\"jobs\" id=\"technicians\"><thead><tr><th>{}</th><th>{}</th><th>{}</th>\
         <th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th></tr></thead><tbody>",
        ui.t("Technician", "技术员"),
        ui.t("Phone", "电话"),
        ui.t("On-time arrival", "准时到达率"),
        ui.t("SLA breaches", "SLA 超时"),
        ui.t("Conduct exceptions", "规范异常"),
        ui.t("Completed", "完成"),
        ui.t("Complaint rate", "投诉率"),
    );
    for t in &technicians {
        let f = figs.get(&t.id).cloned().unwrap_or_default();
        let _ = write!(
            b,
            "<tr data-technician=\"{id}\"><td>{name}</td><td>{phone}</td><td>{arr}</td>\
             <td>{br}</td><td>{ce}</td><td>{done}</td><td>{cr}</td><td>\
             <form method=\"post\" action=\"/console/technicians/{id}/enrolment-code\" class=\"inline\">\
             {csrf}<button>{code}</button></form> \
             <a href=\"/console?technician={id}\">{jobs}</a> \
             <a class=\"day-link\" href=\"/console/technicians/{id}/day\">{day}</a></td></tr>",
            id = t.id,
            name = esc(&t.name),
            phone = esc(&t.phone),
            arr = rate(f.arrivals_on_time, f.arrivals),
            br = f.breaches,
            ce = f.conduct_exceptions,
            done = f.completed,
            cr = rate(f.complaints, f.completed),
            csrf = csrf_hidden(c),
            code = ui.t("Enrolment code", "设备注册码"),
            jobs = ui.t("jobs", "工单"),
            day = ui.t("day", "日程"),
        );
    }
    b.push_str("</tbody></table>");
    let _ = write!(
        b,
        "<p class=\"hint\">{}</p>",
        ui.t(
            "On-time arrival: arrival windows met / windows decided (checked in, or overdue). \
             Complaint rate: complaints filed / jobs completed in the period.",
            "准时到达率：按时签到的时间窗 / 已有结果的时间窗（已签到或已超时）。投诉率：期间投诉数 / 期间完成工单数。"
        )
    );
    let here = format!("/console/technicians?from={from_day}&to={to_day}");
    Ok((
        status,
        Html(c.page(ui.t("Technicians", "技术员"), &here, &b)),
    )
        .into_response())
}

pub async fn create(
    State(state): State<AppState>,
    c: Console,
    axum::Form(form): FormFields,
) -> PageResult {
    c.check_csrf(&form)?;
    let ui = c.ui();
    let name = form.get("name").map(|s| s.trim()).unwrap_or("");
    let phone = form.get("phone").map(|s| s.trim()).unwrap_or("");
    if name.is_empty() {
        return render(
            &state,
            &c,
            &PeriodQuery::default(),
            Some(notice(
                "error",
                ui.t("A technician needs a name.", "请填写姓名。"),
            )),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let t = state
        .storage
        .create_technician(c.org.id, name, phone, state.config.clock.now())
        .await?;
    let msg = format!("{} {}", ui.t("Added", "已添加"), t.name);
    render(
        &state,
        &c,
        &PeriodQuery::default(),
        Some(notice("ok", &msg)),
        StatusCode::OK,
    )
    .await
}

/// A one-time code, shown once on the answer page, never stored in clear.
pub async fn enrolment_code(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<String>,
    axum::Form(form): FormFields,
) -> PageResult {
    c.check_csrf(&form)?;
    let ui = c.ui();
    let found = match id.parse::<Uuid>() {
        Ok(id) => state.storage.technician(c.org.id, id).await?,
        Err(_) => None,
    };
    let Some(t) = found else {
        return Err(not_found(&c));
    };
    let code = new_enrolment_code();
    let expires_at =
        state.config.clock.now() + Duration::minutes(state.config.enrolment_code_ttl_minutes);
    state
        .storage
        .create_enrolment_code(
            c.org.id,
            t.id,
            &code_hash(&code),
            expires_at,
            state.config.clock.now(),
        )
        .await?;
    let msg = format!(
        "<p class=\"notice ok\" role=\"status\">{} {}: <output id=\"enrolment-code\">{}</output> \
         ({} {})</p>",
        ui.t("Enrolment code for", "注册码，技术员"),
        esc(&t.name),
        esc(&code),
        ui.t("valid until", "有效期至"),
        ui.time(expires_at),
    );
    render(
        &state,
        &c,
        &PeriodQuery::default(),
        Some(msg),
        StatusCode::OK,
    )
    .await
}

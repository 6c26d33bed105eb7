//! One technician's day: the booked visits on a timeline, each with its travel allowance, and
//! the ones too close to another marked (ADR 0014). The same rule as the job page, the desk API
//! and the phone's list (`fieldcore::domain::schedule`).
//!
//! The timeline is inline SVG: the console's Content-Security-Policy forbids inline styles, and
//! SVG geometry is attributes, not style.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse};
use chrono::{Duration, NaiveDate, Timelike};
use fieldcore::domain::{ScheduleConflict, Visit, schedule};
use serde::Deserialize;
use uuid::Uuid;

use super::board::status_badge;
use super::html::esc;
use super::{Console, PageResult, not_found};
use crate::AppState;
use crate::storage::JobFilter;

#[derive(Debug, Default, Deserialize)]
pub struct DayQuery {
    /// `YYYY-MM-DD` in the organisation's calendar; today when absent or unreadable.
    pub date: Option<String>,
}

/// A minute of the day is one unit across; a visit is one lane down.
const DAY_MINUTES: i64 = 24 * 60;
const LANE: i64 = 34;
const TOP: i64 = 22;

pub async fn page(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<Uuid>,
    Query(q): Query<DayQuery>,
) -> PageResult {
    let ui = c.ui();
    let Some(technician) = state.storage.technician(c.org.id, id).await? else {
        return Err(not_found(&c));
    };
    let policy = &c.org.policy;
    let offset = policy.calendar.offset();
    let now = state.config.clock.now();
    let day = q
        .date
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .unwrap_or_else(|| policy.calendar.local_date(now));

    let filter = JobFilter {
        status: None,
        technician_id: Some(id),
    };
    let views: Vec<_> = state
        .storage
        .jobs(c.org.id, filter)
        .await?
        .into_iter()
        .map(|row| row.view)
        .collect();
    // Conflicts over all open visits: one just before midnight can clash with one just after.
    let open: Vec<Visit> = views.iter().filter_map(|v| Visit::of(v, id)).collect();
    let mut conflicts: HashMap<Uuid, Vec<ScheduleConflict>> = HashMap::new();
    for k in schedule::conflicts(&open, policy) {
        conflicts.entry(k.job_id).or_default().push(k);
    }
    let numbers: HashMap<Uuid, String> = views
        .iter()
        .map(|v| {
            let n = v.number.map(|n| n.to_string());
            (v.id, n.unwrap_or_else(|| v.id.to_string()))
        })
        .collect();
    // Every visit booked on the day, done or not: the day as planned and as it went.
    let mut visits: Vec<_> = views
        .iter()
        .filter_map(|v| {
            let at = v.appointment_at?.with_timezone(&offset);
            (at.date_naive() == day).then_some((at, v))
        })
        .collect();
    visits.sort_by_key(|(at, v)| (*at, v.id));

    let mut b = String::new();
    let _ = write!(
        b,
        "<form method=\"get\" action=\"/console/technicians/{id}/day\" class=\"filters\">\
         <a href=\"?date={prev}\">&larr; {prev}</a>\
         <label>{date} <input type=\"date\" name=\"date\" value=\"{day}\"></label>\
         <button>{show}</button><a href=\"?date={next}\">{next} &rarr;</a></form>",
        prev = day - Duration::days(1),
        next = day + Duration::days(1),
        date = ui.t("Day", "日期"),
        show = ui.t("Show", "查看"),
    );
    let clashes = visits
        .iter()
        .filter(|(_, v)| conflicts.contains_key(&v.id))
        .count();
    let _ = write!(
        b,
        "<p class=\"hint\">{} {} min + {} {} min. {}: <b id=\"day-conflicts\">{clashes}</b></p>",
        ui.t("Each visit is planned as", "每次上门按"),
        policy.visit_minutes,
        ui.t("travel", "路程"),
        policy.travel_minutes,
        ui.t("Visits too close to another", "间隔不足的上门"),
    );

    // ---- the timeline
    let height = TOP + LANE * i64::try_from(visits.len().max(1)).unwrap_or(1);
    let _ = write!(
        b,
        "<svg class=\"day\" id=\"day-timeline\" viewBox=\"0 0 {DAY_MINUTES} {height}\" \
         preserveAspectRatio=\"none\" role=\"img\" aria-label=\"{}\">",
        ui.t("Visits on the day", "当天的上门"),
    );
    for hour in (0..24).step_by(2) {
        let x = hour * 60;
        let _ = write!(
            b,
            "<line class=\"hour\" x1=\"{x}\" y1=\"{TOP}\" x2=\"{x}\" y2=\"{height}\"/>\
             <text class=\"hour\" x=\"{}\" y=\"14\">{hour:02}:00</text>",
            x + 4
        );
    }
    let visit_len = policy.visit_minutes.clamp(1, DAY_MINUTES);
    let travel_len = policy.travel_minutes.clamp(0, DAY_MINUTES);
    for (lane, (at, v)) in visits.iter().enumerate() {
        let start = i64::from(at.hour() * 60 + at.minute());
        let y = TOP + LANE * i64::try_from(lane).unwrap_or(0) + 4;
        let slot = visit_len.min(DAY_MINUTES - start).max(1);
        let travel = travel_len.min(DAY_MINUTES - start - slot).max(0);
        let clash = if conflicts.contains_key(&v.id) {
            " conflict"
        } else {
            ""
        };
        let _ = write!(
            b,
            "<g class=\"visit{clash}\" data-job=\"{id}\"><title>{title}</title>\
             <rect class=\"slot\" x=\"{start}\" y=\"{y}\" width=\"{slot}\" height=\"26\"/>\
             <rect class=\"travel\" x=\"{tx}\" y=\"{y}\" width=\"{travel}\" height=\"26\"/>\
             <text x=\"{lx}\" y=\"{ty}\">{label}</text></g>",
            id = v.id,
            title = esc(&format!(
                "{} {} {}",
                numbers.get(&v.id).map(String::as_str).unwrap_or_default(),
                at.format("%H:%M"),
                v.order.customer_name
            )),
            tx = start + slot,
            lx = start + 6,
            ty = y + 18,
            label = esc(&format!(
                "{} {}",
                numbers.get(&v.id).map(String::as_str).unwrap_or_default(),
                at.format("%H:%M")
            )),
        );
    }
    b.push_str("</svg>");

    // ---- the same visits as a table, with what each clashes with
    let _ = write!(
        b,
        "<table class=\"jobs\" id=\"day-visits\"><thead><tr><th>{}</th><th>{}</th><th>{}</th>\
         <th>{}</th><th>{}</th></tr></thead><tbody>",
        ui.t("Time", "时间"),
        ui.t("Job", "工单"),
        ui.t("Customer", "客户"),
        ui.t("Status", "状态"),
        ui.t("Schedule conflict", "排期冲突"),
    );
    for (at, v) in &visits {
        let mut with = String::new();
        for k in conflicts.get(&v.id).into_iter().flatten() {
            let other = numbers
                .get(&k.other_job_id)
                .cloned()
                .unwrap_or_else(|| k.other_job_id.to_string());
            let _ = write!(
                with,
                "<a href=\"/console/jobs/{}\">{}</a> {}: {} {} ",
                k.other_job_id,
                esc(&other),
                k.other_at.with_timezone(&offset).format("%m-%d %H:%M"),
                k.short_by_minutes,
                ui.t("min too close", "分钟间隔不足"),
            );
        }
        let _ = write!(
            b,
            "<tr data-job=\"{id}\"{cls}><td>{time}</td><td><a href=\"/console/jobs/{id}\">{num}</a>\
             </td><td>{customer}</td><td>{status}</td><td>{with}</td></tr>",
            id = v.id,
            cls = if with.is_empty() {
                ""
            } else {
                " class=\"conflict\""
            },
            time = at.format("%H:%M"),
            num = esc(numbers.get(&v.id).map(String::as_str).unwrap_or_default()),
            customer = esc(&v.order.customer_name),
            status = status_badge(ui, v.status()),
        );
    }
    if visits.is_empty() {
        let _ = write!(
            b,
            "<tr><td colspan=\"5\">{}</td></tr>",
            ui.t("No visits booked on this day.", "当天没有预约上门。")
        );
    }
    b.push_str("</tbody></table>");

    let title = format!("{} · {day}", technician.name);
    let here = format!("/console/technicians/{id}/day?date={day}");
    Ok(Html(c.page(&title, &here, &b)).into_response())
}

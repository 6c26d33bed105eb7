//! The board: every job of the organisation by technician and status, what is due or breached,
//! what waits for the desk; and the event stream that keeps an open board current.
//!
//! The page holds a `#live` region whose `data-live` URL answers the same board as a fragment;
//! `console.js` re-fetches it whenever `/console/events` says a job changed. So there is one
//! renderer for the first load and every update, and no client-side state to drift.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::fmt::Write as _;
use std::time::Duration as StdDuration;

use axum::extract::{Query, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse};
use chrono::{DateTime, NaiveDate, Utc};
use fieldcore::domain::{JobStatus, JobView, Timer, TimerKind};
use futures_util::Stream;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use super::html::{Ui, esc, url};
use super::{Console, PageResult};
use crate::AppState;
use crate::storage::{JobFilter, JobRow, Technician};

/// "Due soon" on the board: running timers with less than this left.
pub const DUE_SOON_SECS: i64 = 2 * 3600;

#[derive(Debug, Default, Deserialize)]
pub struct BoardQuery {
    pub day: Option<String>,
    pub technician: Option<String>,
    pub status: Option<String>,
    pub breached: Option<String>,
    pub fragment: Option<String>,
}

/// One job with its clocks as of now, as every console view needs it.
pub struct JobNow {
    pub view: JobView,
    pub updated_at: DateTime<Utc>,
    pub timers: Vec<Timer>,
}

impl JobNow {
    pub fn breached(&self) -> bool {
        self.timers.iter().any(|t| t.breached)
    }
}

pub fn with_timers(c: &Console, rows: Vec<JobRow>, now: DateTime<Utc>) -> Vec<JobNow> {
    rows.into_iter()
        .map(|r| JobNow {
            timers: c.org.policy.timers(&r.view, now),
            view: r.view,
            updated_at: r.updated_at,
        })
        .collect()
}

pub fn technician_names(ts: &[Technician]) -> HashMap<Uuid, String> {
    ts.iter().map(|t| (t.id, t.name.clone())).collect()
}

/// A running clock with less than [`DUE_SOON_SECS`] left.
pub fn due_soon(t: &Timer) -> bool {
    t.stopped_at.is_none() && !t.breached && t.remaining_secs <= DUE_SOON_SECS
}

/// The day a job belongs to on the board: its appointment, else its creation, in local time.
fn job_day(c: &Console, v: &JobView) -> NaiveDate {
    c.org
        .policy
        .calendar
        .local_date(v.appointment_at.unwrap_or(v.created_at))
}

pub fn status_badge(ui: Ui, s: JobStatus) -> String {
    format!(
        "<span class=\"status s-{}\" data-status=\"{}\">{}</span>",
        s.as_str(),
        s.as_str(),
        ui.status(s)
    )
}

/// One timer as a short tag: "arrival window: 1 h 5 min left".
pub fn timer_tag(ui: Ui, t: &Timer) -> String {
    let class = if t.breached {
        "timer breached"
    } else if due_soon(t) {
        "timer soon"
    } else {
        "timer"
    };
    let state = ui.timer_state(t);
    format!(
        "<span class=\"{class}\" data-timer=\"{}\">{}: {}</span>",
        t.kind.as_str(),
        ui.timer(t.kind),
        esc(&state)
    )
}

pub async fn board(
    State(state): State<AppState>,
    c: Console,
    Query(q): Query<BoardQuery>,
) -> PageResult {
    let ui = c.ui();
    let now = state.config.clock.now();
    let status = q
        .status
        .as_deref()
        .filter(|s| JobStatus::parse(s).is_some())
        .map(str::to_string);
    let technician = q.technician.as_deref().filter(|s| !s.is_empty());
    let technician_id = technician.and_then(|s| s.parse::<Uuid>().ok());
    let day = q
        .day
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    let breached_only = q.breached.as_deref().is_some_and(|b| !b.is_empty());
    let technicians = state.storage.technicians(c.org.id).await?;
    let names = technician_names(&technicians);
    let rows = state
        .storage
        .jobs(
            c.org.id,
            JobFilter {
                status: status.clone(),
                technician_id,
            },
        )
        .await?;
    let jobs: Vec<JobNow> = with_timers(&c, rows, now)
        .into_iter()
        .filter(|j| technician != Some("none") || j.view.technician_id.is_none())
        .filter(|j| day.is_none_or(|d| job_day(&c, &j.view) == d))
        .filter(|j| !breached_only || j.breached())
        .collect();

    let mut live = String::new();
    render_live(&mut live, &c, &jobs, &names);

    let mut query = String::new();
    for (k, v) in [
        ("day", q.day.as_deref()),
        ("technician", technician),
        ("status", status.as_deref()),
        ("breached", breached_only.then_some("1")),
    ] {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            let _ = write!(query, "{k}={}&", url(v));
        }
    }
    if q.fragment.is_some() {
        return Ok(Html(live).into_response());
    }
    let here = if query.is_empty() {
        "/console".to_string()
    } else {
        format!("/console?{}", query.trim_end_matches('&'))
    };

    let mut body = String::new();
    // Filters: a plain GET form, so a filtered board is a link one can share.
    let _ = write!(
        body,
        "<form method=\"get\" action=\"/console\" class=\"filters\">\
         <label>{day_l} <input type=\"date\" name=\"day\" value=\"{day}\"></label>\
         <label>{tech_l} <select name=\"technician\"><option value=\"\">{all}</option>\
         <option value=\"none\"{none_sel}>{unassigned}</option>",
        day_l = ui.t("Day", "日期"),
        day = esc(&day.map(|d| d.to_string()).unwrap_or_default()),
        tech_l = ui.t("Technician", "技术员"),
        all = ui.t("all", "全部"),
        none_sel = if technician == Some("none") {
            " selected"
        } else {
            ""
        },
        unassigned = ui.t("unassigned", "未派单"),
    );
    for t in &technicians {
        let _ = write!(
            body,
            "<option value=\"{}\"{}>{}</option>",
            t.id,
            if technician_id == Some(t.id) {
                " selected"
            } else {
                ""
            },
            esc(&t.name)
        );
    }
    let _ = write!(
        body,
        "</select></label><label>{} <select name=\"status\"><option value=\"\">{}</option>",
        ui.t("Status", "状态"),
        ui.t("all", "全部")
    );
    for s in ALL_STATUSES {
        let _ = write!(
            body,
            "<option value=\"{}\"{}>{}</option>",
            s.as_str(),
            if status.as_deref() == Some(s.as_str()) {
                " selected"
            } else {
                ""
            },
            ui.status(s)
        );
    }
    let _ = write!(
        body,
        "</select></label><label><input type=\"checkbox\" name=\"breached\" value=\"1\"{}> {}</label>\
         <button type=\"submit\">{}</button> <a href=\"/console\">{}</a></form>",
        if breached_only { " checked" } else { "" },
        ui.t("breached only", "仅看超时"),
        ui.t("Filter", "筛选"),
        ui.t("Clear", "清除"),
    );
    let _ = write!(
        body,
        "<div id=\"live\" data-live=\"/console?{}fragment=1\" aria-live=\"polite\">{}</div>",
        esc(&query),
        live
    );
    Ok(Html(c.page(ui.t("Board", "看板"), &here, &body)).into_response())
}

pub const ALL_STATUSES: [JobStatus; 11] = [
    JobStatus::Unassigned,
    JobStatus::Assigned,
    JobStatus::Accepted,
    JobStatus::GoodsArrived,
    JobStatus::PickedUp,
    JobStatus::Scheduled,
    JobStatus::OnSite,
    JobStatus::WorkDone,
    JobStatus::Completed,
    JobStatus::Blocked,
    JobStatus::Cancelled,
];

fn job_link(v: &JobView) -> String {
    let name = if v.order.customer_name.trim().is_empty() {
        v.id.to_string()
    } else {
        v.order.customer_name.clone()
    };
    // The number first: it is what a caller on the phone reads out.
    let number = v.number.map(|n| format!("{n} ")).unwrap_or_default();
    format!(
        "<a href=\"/console/jobs/{}\">{}{}</a>",
        v.id,
        esc(&number),
        esc(&name)
    )
}

/// The part of the board that changes: counts, what needs the desk, and the jobs.
fn render_live(out: &mut String, c: &Console, jobs: &[JobNow], names: &HashMap<Uuid, String>) {
    let ui = c.ui();
    // Counts by status.
    let mut counts: BTreeMap<JobStatus, usize> = BTreeMap::new();
    for j in jobs {
        *counts.entry(j.view.status()).or_default() += 1;
    }
    out.push_str("<p class=\"counts\">");
    for (s, n) in &counts {
        let _ = write!(
            out,
            "<a href=\"/console?status={}\">{}</a> <b>{n}</b> ",
            s.as_str(),
            status_badge(ui, *s)
        );
    }
    if counts.is_empty() {
        out.push_str(ui.t("No jobs match.", "没有符合条件的工单。"));
    }
    out.push_str("</p>");

    // What needs the desk now.
    let mut soon = Vec::new();
    let mut breached = Vec::new();
    let mut return_visits = Vec::new();
    let mut complaints = Vec::new();
    let mut decisions = Vec::new();
    for j in jobs {
        for t in &j.timers {
            if t.breached && (t.stopped_at.is_none() || !t.exempted) {
                breached.push((j, t));
            } else if due_soon(t) {
                soon.push((j, t));
            }
            if t.stopped_at.is_none() && t.kind == TimerKind::ReturnVisit {
                return_visits.push((j, t));
            }
            if t.stopped_at.is_none()
                && matches!(
                    t.kind,
                    TimerKind::ComplaintAnswer | TimerKind::ComplaintResult
                )
            {
                complaints.push((j, t));
            }
        }
        let open_ex = j.view.exceptions.iter().filter(|e| e.is_open()).count();
        let open_claims = j
            .view
            .exemptions
            .iter()
            .filter(|x| x.granted.is_none())
            .count();
        if open_ex + open_claims > 0 {
            decisions.push((j, open_ex, open_claims));
        }
    }
    soon.sort_by_key(|(_, t)| t.due_at);
    breached.sort_by_key(|(_, t)| t.due_at);
    return_visits.sort_by_key(|(_, t)| t.due_at);
    complaints.sort_by_key(|(_, t)| t.due_at);

    out.push_str("<div class=\"panels\">");
    let timer_panel = |out: &mut String, id: &str, title: &str, items: &[(&JobNow, &Timer)]| {
        let _ = write!(
            out,
            "<section class=\"panel\" id=\"{id}\"><h2>{title} <b>{}</b></h2><ul>",
            items.len()
        );
        for (j, t) in items {
            let _ = write!(
                out,
                "<li>{} {} <small>{}</small></li>",
                job_link(&j.view),
                timer_tag(ui, t),
                ui.time(t.due_at)
            );
        }
        out.push_str("</ul></section>");
    };
    timer_panel(
        out,
        "due-soon",
        ui.t("Due within 2 h", "2 小时内到期"),
        &soon,
    );
    timer_panel(out, "breached", ui.t("Breached", "已超时"), &breached);
    timer_panel(
        out,
        "return-visits",
        ui.t("Return visits due", "待回访"),
        &return_visits,
    );
    timer_panel(
        out,
        "complaints",
        ui.t("Open complaints", "未结投诉"),
        &complaints,
    );
    let _ = write!(
        out,
        "<section class=\"panel\" id=\"decisions\"><h2>{} <b>{}</b></h2><ul>",
        ui.t("Waiting for a decision", "待决定"),
        decisions.len()
    );
    for (j, ex, claims) in &decisions {
        let _ = write!(
            out,
            "<li>{} {} {ex} · {} {claims}</li>",
            job_link(&j.view),
            ui.t("exceptions", "异常"),
            ui.t("exemption claims", "豁免申请"),
        );
    }
    out.push_str("</ul></section></div>");

    // Jobs by technician (unassigned first), newest change first.
    let mut groups: BTreeMap<(bool, String, Option<Uuid>), Vec<&JobNow>> = BTreeMap::new();
    for j in jobs {
        let t = j.view.technician_id;
        let name = t
            .map(|id| names.get(&id).cloned().unwrap_or_else(|| id.to_string()))
            .unwrap_or_default();
        groups.entry((t.is_some(), name, t)).or_default().push(j);
    }
    for ((_, name, tid), mut list) in groups {
        list.sort_by_key(|j| std::cmp::Reverse(j.updated_at));
        let heading = if tid.is_some() {
            esc(&name)
        } else {
            ui.t("Unassigned", "未派单").to_string()
        };
        let _ = write!(
            out,
            "<section class=\"tech\"><h2>{heading}</h2><table class=\"jobs\"><thead><tr>\
             <th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            ui.t("Customer", "客户"),
            ui.t("Kind", "类型"),
            ui.t("Status", "状态"),
            ui.t("Appointment", "预约时间"),
            ui.t("Address", "地址"),
            ui.t("Clocks", "时限"),
        );
        for j in list {
            let v = &j.view;
            // What needs the desk (breached, due soon); failing that, the next clock running,
            // so a dispatcher sees at a glance how long a job has left.
            let mut clocks: Vec<String> = j
                .timers
                .iter()
                .filter(|t| t.breached || due_soon(t))
                .map(|t| timer_tag(ui, t))
                .collect();
            if clocks.is_empty()
                && let Some(next) = j
                    .timers
                    .iter()
                    .filter(|t| t.stopped_at.is_none())
                    .min_by_key(|t| t.remaining_secs)
            {
                clocks.push(timer_tag(ui, next));
            }
            let _ = write!(
                out,
                "<tr id=\"job-{id}\" data-status=\"{st}\"{cls}><td>{link}</td><td>{kind}</td>\
                 <td>{badge}</td><td>{appt}</td><td>{addr}</td><td>{clocks}</td></tr>",
                id = v.id,
                st = v.status().as_str(),
                cls = if j.breached() {
                    " class=\"breached\""
                } else {
                    ""
                },
                link = job_link(v),
                kind = ui.kind(v.order.kind),
                badge = status_badge(ui, v.status()),
                appt = ui.opt_time(v.appointment_at),
                addr = esc(&v.order.address),
                clocks = clocks.join(" "),
            );
        }
        out.push_str("</tbody></table></section>");
    }
}

/// Server-sent events: `change` with the job id whenever a job of this organisation changed
/// (`*` when changes were missed). The browser re-fetches what it shows; the data never travels
/// in the event, so a stale or lost event cannot show anything wrong for long.
pub async fn events(
    State(state): State<AppState>,
    c: Console,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = state.notifier.subscribe(c.org.id);
    let stopping = state.stopping.subscribe();
    let stream =
        futures_util::stream::unfold((rx, stopping), |(mut rx, mut stopping)| async move {
            let next = tokio::select! {
                r = rx.recv() => r,
                _ = stopping.wait_for(|s| *s) => return None,
            };
            let data = match next {
                Ok(change) => change.job_id.to_string(),
                Err(RecvError::Lagged(_)) => "*".to_string(),
                Err(RecvError::Closed) => return None,
            };
            Some((
                Ok(SseEvent::default().event("change").data(data)),
                (rx, stopping),
            ))
        });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(StdDuration::from_secs(15)))
}

//! Webhooks in the console: the organisation's receivers (add, delete, their signing secrets)
//! and the delivery log, with a button to send a delivery again (ADR 0015). The same storage
//! and checks as the JSON API (`api::webhooks`).

use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect};
use uuid::Uuid;

use super::html::{esc, notice};
use super::{Console, FormFields, PageResult, csrf_hidden};
use crate::AppState;
use crate::api::webhooks::{LOG_ROWS, NewWebhook, add};
use crate::webhooks::WebhookEvent;

pub async fn page(State(state): State<AppState>, c: Console) -> PageResult {
    render(&state, &c, None, StatusCode::OK).await
}

async fn render(
    state: &AppState,
    c: &Console,
    message: Option<String>,
    status: StatusCode,
) -> PageResult {
    let ui = c.ui();
    let endpoints = state.storage.webhooks(c.org.id).await?;
    let log = state.storage.deliveries(c.org.id, LOG_ROWS).await?;
    let mut b = message.unwrap_or_default();

    let _ = write!(
        b,
        "<section class=\"card\"><h2>{}</h2><form method=\"post\" action=\"/console/webhooks\" \
         id=\"new-webhook\">{}<label>URL <input name=\"url\" type=\"url\" required size=\"50\" \
         placeholder=\"https://\"></label> <label>{} <input name=\"ordering_party\" \
         maxlength=\"200\" placeholder=\"{}\"></label><div class=\"grid\">",
        ui.t("Send job events to a receiver", "把工单事件推送给接收方"),
        csrf_hidden(c),
        ui.t("Only jobs of ordering party", "仅限下单方"),
        ui.t("every job", "全部工单"),
    );
    for e in WebhookEvent::ALL {
        let _ = write!(
            b,
            "<label><input type=\"checkbox\" name=\"event:{e}\" checked> {e}</label>",
            e = e.as_str()
        );
    }
    let _ = write!(
        b,
        "</div><button type=\"submit\">{}</button></form><p class=\"hint\">{}</p></section>",
        ui.t("Add", "添加"),
        ui.t(
            "Each delivery is signed (webhook-id, webhook-timestamp, webhook-signature: \
             HMAC-SHA256 with the secret, as Standard Webhooks specifies) and retried with \
             backoff until the receiver answers 2xx; a repeat carries the same webhook-id.",
            "每次推送都带签名（webhook-id、webhook-timestamp、webhook-signature：按 Standard \
             Webhooks 以密钥做 HMAC-SHA256），接收方未回 2xx 时按退避重试；重发的 webhook-id 不变。"
        ),
    );

    let _ = write!(
        b,
        "<table class=\"jobs\" id=\"webhooks\"><thead><tr><th>URL</th><th>{}</th><th>{}</th>\
         <th>{}</th><th></th></tr></thead><tbody>",
        ui.t("Ordering party", "下单方"),
        ui.t("Events", "事件"),
        ui.t("Secret", "密钥"),
    );
    for e in &endpoints {
        let events: Vec<&str> = e.events.iter().map(|e| e.as_str()).collect();
        let _ = write!(
            b,
            "<tr data-webhook=\"{id}\"><td>{url}</td><td>{party}</td><td>{events}</td><td>\
             <details><summary>{show}</summary><code>{secret}</code></details></td><td>\
             <form method=\"post\" action=\"/console/webhooks/{id}/delete\" \
             class=\"inline\">{csrf}<button>{delete}</button></form></td></tr>",
            id = e.id,
            url = esc(&e.url),
            party = e
                .ordering_party
                .as_deref()
                .map(esc)
                .unwrap_or_else(|| ui.t("every job", "全部工单").to_string()),
            show = ui.t("show", "显示"),
            events = esc(&events.join(", ")),
            secret = esc(&e.secret),
            csrf = csrf_hidden(c),
            delete = ui.t("Delete", "删除"),
        );
    }
    b.push_str("</tbody></table>");

    let _ = write!(
        b,
        "<h2>{}</h2><table class=\"jobs\" id=\"deliveries\"><thead><tr><th>{}</th><th>{}</th>\
         <th>{}</th><th>URL</th><th>{}</th><th>{}</th><th></th></tr></thead><tbody>",
        ui.t("Deliveries", "推送记录"),
        ui.t("Created", "产生于"),
        ui.t("Event", "事件"),
        ui.t("Job", "工单"),
        ui.t("Attempts", "尝试次数"),
        ui.t("State", "状态"),
    );
    for d in &log {
        let (state_class, state_text) = match (d.delivered_at, d.failed_at) {
            (Some(at), _) => (
                "delivered",
                format!("{} {}", ui.t("delivered", "已送达"), ui.time(at)),
            ),
            (None, Some(_)) => ("failed", ui.t("gave up", "已放弃").to_string()),
            (None, None) => (
                "waiting",
                d.next_attempt_at
                    .map(|t| format!("{} {}", ui.t("next try", "下次重试"), ui.time(t)))
                    .unwrap_or_default(),
            ),
        };
        let error = d
            .last_error
            .as_deref()
            .map(|e| format!("<br><small>{}</small>", esc(e)))
            .unwrap_or_default();
        let retry = if d.delivered_at.is_none() {
            format!(
                "<form method=\"post\" action=\"/console/webhooks/deliveries/{}/retry\" \
                 class=\"inline\">{}<button>{}</button></form>",
                d.id,
                csrf_hidden(c),
                ui.t("Send again", "重新发送")
            )
        } else {
            String::new()
        };
        let _ = write!(
            b,
            "<tr data-delivery=\"{id}\" class=\"{state_class}\"><td>{at}</td><td>{kind}</td>\
             <td><a href=\"/console/jobs/{job}\">{job}</a></td><td>{url}</td><td>{attempts}</td>\
             <td>{state_text}{error}</td><td>{retry}</td></tr>",
            id = d.id,
            at = ui.time(d.created_at),
            kind = d.event_type.as_str(),
            job = d.job_id,
            url = esc(&d.url),
            attempts = d.attempts,
        );
    }
    b.push_str("</tbody></table>");
    Ok((
        status,
        Html(c.page(ui.t("Webhooks", "Webhook 推送"), "/console/webhooks", &b)),
    )
        .into_response())
}

pub async fn create(
    State(state): State<AppState>,
    c: Console,
    axum::Form(form): FormFields,
) -> PageResult {
    c.check_csrf(&form)?;
    let events = WebhookEvent::ALL
        .into_iter()
        .filter(|e| form.contains_key(&format!("event:{}", e.as_str())))
        .collect();
    let url = form.get("url").cloned().unwrap_or_default();
    let ordering_party = form.get("ordering_party").cloned();
    let req = NewWebhook {
        url,
        events,
        ordering_party,
    };
    match add(&state, &c.auth, req).await {
        Ok(_) => Ok(Redirect::to("/console/webhooks").into_response()),
        Err(e) => {
            let p = e.parts();
            let text = match &p.detail {
                Some(d) => format!("{}: {d}", p.title),
                None => p.title.clone(),
            };
            render(&state, &c, Some(notice("error", &text)), p.status).await
        }
    }
}

pub async fn delete(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<Uuid>,
    axum::Form(form): FormFields,
) -> PageResult {
    c.check_csrf(&form)?;
    state.storage.delete_webhook(c.org.id, id).await?;
    Ok(Redirect::to("/console/webhooks").into_response())
}

pub async fn retry(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<Uuid>,
    axum::Form(form): FormFields,
) -> PageResult {
    c.check_csrf(&form)?;
    state
        .storage
        .retry_delivery(c.org.id, id, state.config.clock.now())
        .await?;
    Ok(Redirect::to("/console/webhooks").into_response())
}

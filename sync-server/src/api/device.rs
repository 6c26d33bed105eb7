//! The device API: enrolment, push, pull. A device token speaks for one technician in one
//! organisation and sees nothing else (design.md invariant 6).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use fieldcore::protocol::{
    EnrollRequest, EnrollResponse, PullResponse, PushRequest, PushResponse, correct_event_time,
};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{DeviceAuth, code_hash, new_token, token_hash};
use crate::error::{ApiError, ApiJson, ApiQuery, ApiResult};
use crate::storage::{Incoming, Writer};
use uuid::Uuid;

pub const DEFAULT_PULL_LIMIT: usize = 200;
pub const MAX_PULL_LIMIT: usize = 1000;

pub async fn enroll(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<EnrollRequest>,
) -> ApiResult<Json<EnrollResponse>> {
    let name = req.device_name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::bad_request(
            "device_name: 1 to 200 characters, please",
        ));
    }
    let token = new_token();
    let now = state.config.clock.now();
    let who = state
        .storage
        .enroll_device(
            &code_hash(&req.code),
            now,
            req.device_id,
            name,
            &token_hash(&token),
        )
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "enrolment-code-invalid",
                "This enrolment code is unknown, used or expired",
            )
            .detail("ask the desk for a new code")
        })?;
    let org = state
        .storage
        .organisation(who.organisation_id)
        .await?
        .ok_or_else(|| ApiError::internal("device enrolled into a missing organisation"))?;
    let technician = state
        .storage
        .technician(who.organisation_id, who.technician_id)
        .await?
        .ok_or_else(|| ApiError::internal("device enrolled for a missing technician"))?;
    tracing::info!(device = %who.device_id, technician = %who.technician_id, "device enrolled");
    Ok(Json(EnrollResponse {
        token,
        technician_id: technician.id,
        technician_name: technician.name,
        organisation_id: org.id,
        organisation_name: org.name,
        policy: org.policy,
        checklist: org.checklist,
        server_time: now,
    }))
}

pub async fn push(
    State(state): State<AppState>,
    DeviceAuth(who): DeviceAuth,
    headers: axum::http::HeaderMap,
    ApiJson(req): ApiJson<PushRequest>,
) -> ApiResult<Json<PushResponse>> {
    let max = state.config.max_push_events;
    if req.events.len() > max {
        return Err(ApiError::too_large(format!(
            "at most {max} events per push; send the rest in another batch"
        )));
    }
    if req.device_id != who.device_id {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "wrong-device",
            "This token belongs to another device",
        ));
    }
    let received_at = state.config.clock.now();
    let job_ids: Vec<Uuid> = req.events.iter().map(|e| e.job_id).collect();
    let events = req
        .events
        .into_iter()
        .map(|mut event| {
            match correct_event_time(&event, req.sent_at, req.sent_monotonic_ms, received_at) {
                Ok(corrected) => {
                    event.corrected_at = Some(corrected.at);
                    Incoming {
                        event,
                        flags: corrected.flags,
                        refused: None,
                    }
                }
                Err(refusal) => {
                    // The device's own `corrected_at` is never believed.
                    event.corrected_at = None;
                    Incoming {
                        event,
                        flags: Vec::new(),
                        refused: Some(refusal),
                    }
                }
            }
        })
        .collect();
    let org = state
        .storage
        .organisation(who.organisation_id)
        .await?
        .ok_or_else(|| ApiError::internal("missing organisation"))?;
    let results = state
        .storage
        .append_events(
            who.organisation_id,
            Writer::Technician {
                technician_id: who.technician_id,
                device_id: who.device_id,
            },
            org.rulebook(),
            events,
            received_at,
            super::request_lang(&headers),
        )
        .await?;
    notify_accepted(&state, who.organisation_id, &job_ids, &results);
    Ok(Json(PushResponse {
        server_time: state.config.clock.now(),
        results,
    }))
}

#[derive(Debug, Deserialize)]
pub struct PullQuery {
    pub cursor: Option<String>,
    pub limit: Option<usize>,
}

/// The cursor is a feed position; devices treat it as opaque, so its form may change.
fn parse_cursor(cursor: Option<&str>) -> ApiResult<i64> {
    match cursor.map(str::trim) {
        None | Some("") => Ok(0),
        Some(c) => c.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid-cursor", "Invalid cursor")
                .detail("pass back a next_cursor this server gave, or none to start over")
        }),
    }
}

pub async fn pull(
    State(state): State<AppState>,
    DeviceAuth(who): DeviceAuth,
    ApiQuery(q): ApiQuery<PullQuery>,
) -> ApiResult<Json<PullResponse>> {
    let after = parse_cursor(q.cursor.as_deref())?;
    let limit = q
        .limit
        .unwrap_or(DEFAULT_PULL_LIMIT)
        .clamp(1, MAX_PULL_LIMIT);
    let page = state.storage.feed(who.technician_id, after, limit).await?;
    Ok(Json(PullResponse {
        events: page.events,
        seqs: page.seqs,
        next_cursor: page.last_position.to_string(),
        has_more: page.has_more,
        server_time: state.config.clock.now(),
    }))
}

/// Tell the console about every job that got an event stored (once per job per batch).
pub(crate) fn notify_accepted(
    state: &AppState,
    org: Uuid,
    job_ids: &[Uuid],
    results: &[fieldcore::protocol::PushResult],
) {
    let mut seen = std::collections::HashSet::new();
    for (job, r) in job_ids.iter().zip(results) {
        if r.status == fieldcore::protocol::PushStatus::Accepted && seen.insert(*job) {
            state.notifier.notify(org, *job);
        }
    }
}

//! The device API: enrolment, push, pull. A device token speaks for one technician in one
//! organisation and sees nothing else (design.md invariant 6).

use axum::Json;
use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use fieldcore::protocol::{
    EnrollRequest, EnrollResponse, PullResponse, PushRequest, PushResponse, correct_event_time,
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{DeviceAuth, code_hash, new_token, token_hash};
use crate::error::{ApiError, ApiJson, ApiQuery, ApiResult};
use crate::storage::{Incoming, Writer};
use uuid::Uuid;

/// When a request's head arrived, read before its body. A push's `sent_at` is its device's
/// clock as the body began to leave; over a basement link a batch's body takes seconds to arrive
/// (ADR 0013), and a clock read after it would place every event that much later.
#[derive(Debug, Clone, Copy)]
pub struct Arrived(pub DateTime<Utc>);

impl FromRequestParts<AppState> for Arrived {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        _parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Arrived(state.config.clock.now()))
    }
}

pub const DEFAULT_PULL_LIMIT: usize = 200;
pub const MAX_PULL_LIMIT: usize = 1000;
/// The longest device name kept ("Li Wei's Pixel 7").
pub const DEVICE_NAME_MAX_CHARS: usize = 200;

/// The device API's routes, each with its OpenAPI operation.
pub fn routes(push_body_limit: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(enroll))
        .routes(routes!(push).layer(DefaultBodyLimit::max(push_body_limit)))
        .routes(routes!(pull))
}

#[utoipa::path(
    post,
    path = "/v1/devices/enroll",
    operation_id = "enrollDevice",
    tag = "devices",
    summary = "Enrol a phone with a one-time code from the desk; the token is the `deviceToken` bearer",
    request_body = EnrollRequest,
    responses(
        (status = 200, description = "Enrolled", body = EnrollResponse),
        (status = 400, description = "`device_name` blank or longer than 200 characters"),
        (status = 401, description = "The code is unknown, used or expired"),
        (status = 409, description = "This device id is enrolled for another technician"),
    )
)]
pub async fn enroll(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<EnrollRequest>,
) -> ApiResult<Json<EnrollResponse>> {
    let name = req.device_name.trim();
    if name.is_empty() || req.device_name.chars().count() > DEVICE_NAME_MAX_CHARS {
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

#[utoipa::path(
    post,
    path = "/v1/sync/push",
    operation_id = "syncPush",
    tag = "devices",
    summary = "Send recorded events; each is judged on its own (accepted, duplicate or rejected)",
    params(("Accept-Language" = Option<String>, Header, nullable = false,
        description = "`zh…` for refusals in Chinese")),
    request_body = PushRequest,
    responses(
        (status = 200, description = "One result per event, in order", body = PushResponse),
        (status = 403, description = "The token belongs to another device"),
        (status = 413, description = "More events than the server takes in one push"),
        (status = 503, description = "Busy; nothing was stored (`Retry-After`)"),
    ),
    security(("deviceToken" = []))
)]
pub async fn push(
    State(state): State<AppState>,
    Arrived(received_at): Arrived,
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
    let public_key =
        match req.public_key.as_deref().map(hex::decode) {
            None => None,
            Some(Ok(bytes)) => Some(<[u8; 32]>::try_from(bytes).map_err(|_| {
                ApiError::bad_request("public_key: 64 hex digits (a raw Ed25519 key)")
            })?),
            Some(Err(_)) => {
                return Err(ApiError::bad_request(
                    "public_key: 64 hex digits (a raw Ed25519 key)",
                ));
            }
        };
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
                public_key,
            },
            org.rulebook(),
            events,
            received_at,
            super::request_lang(&headers),
        )
        .await?;
    crate::metrics::count_push(&results);
    notify_accepted(&state, who.organisation_id, &job_ids, &results);
    Ok(Json(PushResponse {
        server_time: state.config.clock.now(),
        results,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PullQuery {
    /// Opaque: the `next_cursor` of the previous page, or none to start over.
    #[param(pattern = r"^[0-9]{0,18}$")]
    pub cursor: Option<String>,
    /// Events per page (200 without it).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// The cursor is a feed position; devices treat it as opaque, so its form may change. Digits
/// only, exactly as this server wrote it.
fn parse_cursor(cursor: Option<&str>) -> ApiResult<i64> {
    let invalid = || {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid-cursor", "Invalid cursor")
            .detail("pass back a next_cursor this server gave, or none to start over")
    };
    match cursor {
        None | Some("") => Ok(0),
        Some(c) if c.len() <= 18 && c.bytes().all(|b| b.is_ascii_digit()) => {
            c.parse::<i64>().map_err(|_| invalid())
        }
        Some(_) => Err(invalid()),
    }
}

#[utoipa::path(
    get,
    path = "/v1/sync/pull",
    operation_id = "syncPull",
    tag = "devices",
    summary = "The technician's feed from a cursor: the desk's events and the jobs' events",
    params(PullQuery),
    responses(
        (status = 200, description = "A page of the feed", body = PullResponse),
        (status = 400, description = "An invalid cursor or limit"),
    ),
    security(("deviceToken" = []))
)]
pub async fn pull(
    State(state): State<AppState>,
    DeviceAuth(who): DeviceAuth,
    ApiQuery(q): ApiQuery<PullQuery>,
) -> ApiResult<Json<PullResponse>> {
    let after = parse_cursor(q.cursor.as_deref())?;
    let limit = q.limit.unwrap_or(DEFAULT_PULL_LIMIT);
    if !(1..=MAX_PULL_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit: 1 to {MAX_PULL_LIMIT}"
        )));
    }
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

//! The dispatcher API: the desk's side. A session sees its own organisation only; anything
//! else is "not found", never "forbidden", so ids of other organisations reveal nothing.
//!
//! Every desk action is an [`Event`] from the dispatcher, checked by the same rulebook as the
//! devices' events and fanned out to the technicians' feeds by the storage.

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Duration, Utc};
use fieldcore::domain::{Actor, Event, EventBody, JobOrder, JobView, Lang, Timer};
use fieldcore::protocol::PushStatus;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::desk_action::DeskAction;
use crate::AppState;
use crate::auth::{DispatcherAuth, decoy_hash, hash_password, new_enrolment_code, new_token};
use crate::auth::{code_hash, token_hash, verify_password};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::storage::{
    Device, Incoming, JobDetail, JobFilter, Organisation, Rejection, Technician, TimelineEntry,
    UnreadableEntry, Writer,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/login", post(login))
        .route("/v1/auth/logout", post(logout))
        .route("/v1/me", get(me))
        .route("/v1/technicians", post(create_technician).get(technicians))
        .route("/v1/technicians/{id}/enrolment-codes", post(enrolment_code))
        .route("/v1/devices", get(devices))
        .route("/v1/devices/{id}/revoke", post(revoke_device))
        .route("/v1/jobs", post(create_job).get(jobs))
        .route("/v1/jobs/{id}", get(job))
        .route("/v1/jobs/{id}/assign", post(assign))
        .route("/v1/jobs/{id}/appointment", post(appointment))
        .route("/v1/jobs/{id}/order", post(amend_order))
        .route("/v1/jobs/{id}/cancel", post(cancel))
        .route(
            "/v1/jobs/{id}/exceptions/{eid}/resolve",
            post(resolve_exception),
        )
        .route(
            "/v1/jobs/{id}/exemptions/{cid}/decide",
            post(decide_exemption),
        )
        .route("/v1/jobs/{id}/return-visit", post(return_visit))
        .route("/v1/jobs/{id}/complaints", post(file_complaint))
        .route(
            "/v1/jobs/{id}/complaints/{cid}/answer",
            post(answer_complaint),
        )
        .route(
            "/v1/jobs/{id}/complaints/{cid}/close",
            post(close_complaint),
        )
        .route(
            "/v1/jobs/{id}/conflicts/acknowledge",
            post(acknowledge_conflicts),
        )
        .route("/v1/photos/{photo_id}", get(photo))
}

// ---------------------------------------------------------------- sessions

#[derive(Debug, Deserialize)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize)]
pub struct LoginResponse {
    pub token: String,
    pub dispatcher_id: Uuid,
    pub organisation_id: Uuid,
    pub name: String,
    pub expires_at: DateTime<Utc>,
}

async fn login(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, Response> {
    // Counted as a failure until the password proves right.
    state
        .limiter
        .logins
        .attempt(&req.email)
        .map_err(crate::ratelimit::too_many)?;
    login_checked(&state, req)
        .await
        .map_err(IntoResponse::into_response)
}

/// The login proper, once the account's throttle let the attempt through.
async fn login_checked(state: &AppState, req: LoginRequest) -> ApiResult<Json<LoginResponse>> {
    let found = state.storage.dispatcher_by_email(req.email.trim()).await?;
    let hash = found
        .as_ref()
        .map(|d| d.password_hash.clone())
        .unwrap_or_else(|| decoy_hash().to_string());
    let password = req.password;
    // Argon2 is deliberately slow: keep it off the async workers.
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(ApiError::internal)?;
    let Some(d) = found.filter(|_| ok) else {
        state.limiter.logins.failed(&req.email);
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid-credentials",
            "Wrong email or password",
        ));
    };
    state.limiter.logins.succeeded(&req.email);
    let token = new_token();
    let expires_at = state.config.clock.now() + Duration::hours(state.config.session_ttl_hours);
    state
        .storage
        .create_session(&token_hash(&token), d.id, expires_at)
        .await?;
    Ok(Json(LoginResponse {
        token,
        dispatcher_id: d.id,
        organisation_id: d.organisation_id,
        name: d.name,
        expires_at,
    }))
}

async fn logout(State(state): State<AppState>, auth: DispatcherAuth) -> ApiResult<StatusCode> {
    state.storage.delete_session(&auth.token_hash).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize)]
pub struct Me {
    pub dispatcher_id: Uuid,
    pub organisation_id: Uuid,
    pub organisation_name: String,
    pub name: String,
    pub email: String,
}

async fn me(State(state): State<AppState>, auth: DispatcherAuth) -> ApiResult<Json<Me>> {
    let org = organisation(&state, &auth).await?;
    let d = auth.dispatcher;
    Ok(Json(Me {
        dispatcher_id: d.id,
        organisation_id: d.organisation_id,
        organisation_name: org.name,
        name: d.name,
        email: d.email,
    }))
}

pub(crate) async fn organisation(
    state: &AppState,
    auth: &DispatcherAuth,
) -> ApiResult<Organisation> {
    state
        .storage
        .organisation(auth.dispatcher.organisation_id)
        .await?
        .ok_or_else(|| ApiError::internal("dispatcher of a missing organisation"))
}

// ---------------------------------------------------------------- technicians and devices

#[derive(Debug, Deserialize)]
pub struct NewTechnician {
    pub name: String,
    #[serde(default)]
    pub phone: String,
}

async fn create_technician(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiJson(req): ApiJson<NewTechnician>,
) -> ApiResult<(StatusCode, Json<Technician>)> {
    let name = req.name.trim();
    if name.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "A technician needs a name",
        ));
    }
    let t = state
        .storage
        .create_technician(auth.dispatcher.organisation_id, name, req.phone.trim())
        .await?;
    Ok((StatusCode::CREATED, Json(t)))
}

async fn technicians(
    State(state): State<AppState>,
    auth: DispatcherAuth,
) -> ApiResult<Json<Vec<Technician>>> {
    Ok(Json(
        state
            .storage
            .technicians(auth.dispatcher.organisation_id)
            .await?,
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct NewCode {
    pub ttl_minutes: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct EnrolmentCode {
    /// Shown once to the dispatcher, who reads it to the technician.
    pub code: String,
    pub technician_id: Uuid,
    pub expires_at: DateTime<Utc>,
}

async fn enrolment_code(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiPath(technician_id): ApiPath<Uuid>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<EnrolmentCode>)> {
    // The body is optional: none (or `{}`) takes the configured lifetime.
    let req: NewCode = if body.iter().all(u8::is_ascii_whitespace) {
        NewCode::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-body",
                "The body does not match the schema",
            )
            .detail(e.to_string())
        })?
    };
    let org = auth.dispatcher.organisation_id;
    state
        .storage
        .technician(org, technician_id)
        .await?
        .ok_or_else(|| ApiError::not_found("technician"))?;
    let ttl = req
        .ttl_minutes
        .unwrap_or(state.config.enrolment_code_ttl_minutes)
        .clamp(1, 7 * 24 * 60);
    let code = new_enrolment_code();
    let expires_at = state.config.clock.now() + Duration::minutes(ttl);
    state
        .storage
        .create_enrolment_code(org, technician_id, &code_hash(&code), expires_at)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(EnrolmentCode {
            code,
            technician_id,
            expires_at,
        }),
    ))
}

async fn devices(
    State(state): State<AppState>,
    auth: DispatcherAuth,
) -> ApiResult<Json<Vec<Device>>> {
    Ok(Json(
        state
            .storage
            .devices(auth.dispatcher.organisation_id)
            .await?,
    ))
}

async fn revoke_device(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiPath(device_id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    let now = state.config.clock.now();
    if state
        .storage
        .revoke_device(auth.dispatcher.organisation_id, device_id, now)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("device"))
    }
}

// ---------------------------------------------------------------- jobs

#[derive(Debug, Deserialize)]
pub struct NewJob {
    pub order: JobOrder,
    pub technician_id: Option<Uuid>,
    pub appointment_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
pub struct PhotoInfo {
    pub photo_id: Uuid,
    pub category: String,
    pub sha256: String,
    pub uploaded: bool,
    /// Where the console fetches the bytes, once uploaded.
    pub url: String,
}

/// A job as the desk sees it: the view, its clocks, every event with its times, the evidence.
#[derive(Debug, Serialize)]
pub struct JobDetailResponse {
    pub view: JobView,
    pub status: String,
    pub timers: Vec<Timer>,
    pub timeline: Vec<TimelineEntry>,
    pub photos: Vec<PhotoInfo>,
    /// Events devices sent for this job that the rulebook refused.
    pub rejections: Vec<Rejection>,
    /// Stored entries that could not be read back (the rest of the job still shows).
    pub unreadable: Vec<UnreadableEntry>,
}

fn detail_response(org: &Organisation, d: JobDetail, now: DateTime<Utc>) -> JobDetailResponse {
    JobDetailResponse {
        status: d.view.status().as_str().to_string(),
        timers: org.policy.timers(&d.view, now),
        photos: d
            .photos
            .into_iter()
            .map(|p| PhotoInfo {
                url: format!("/v1/photos/{}", p.photo_id),
                uploaded: p.blob_path.is_some(),
                photo_id: p.photo_id,
                category: p.category,
                sha256: p.sha256,
            })
            .collect(),
        view: d.view,
        timeline: d.timeline,
        rejections: d.rejections,
        unreadable: d.unreadable,
    }
}

async fn job_detail(
    state: &AppState,
    org: &Organisation,
    job_id: Uuid,
) -> ApiResult<JobDetailResponse> {
    let d = state
        .storage
        .job(org.id, job_id)
        .await?
        .ok_or_else(|| ApiError::not_found("job"))?;
    Ok(detail_response(org, d, state.config.clock.now()))
}

async fn job(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<JobDetailResponse>> {
    let org = organisation(&state, &auth).await?;
    Ok(Json(job_detail(&state, &org, id).await?))
}

#[derive(Debug, Deserialize)]
pub struct JobsQuery {
    pub status: Option<String>,
    pub technician_id: Option<Uuid>,
}

#[derive(Debug, Serialize)]
pub struct JobSummary {
    pub id: Uuid,
    pub kind: String,
    pub status: String,
    pub technician_id: Option<Uuid>,
    pub customer_name: String,
    pub address: String,
    pub appointment_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// Any SLA clock of the job breached, as of now.
    pub breached: bool,
}

async fn jobs(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiQuery(q): ApiQuery<JobsQuery>,
) -> ApiResult<Json<Vec<JobSummary>>> {
    if let Some(s) = &q.status
        && fieldcore::domain::JobStatus::parse(s).is_none()
    {
        return Err(ApiError::bad_request(format!("unknown status {s:?}")));
    }
    let org = organisation(&state, &auth).await?;
    let rows = state
        .storage
        .jobs(
            org.id,
            JobFilter {
                status: q.status,
                technician_id: q.technician_id,
            },
        )
        .await?;
    let now = state.config.clock.now();
    Ok(Json(
        rows.into_iter()
            .map(|r| {
                let v = r.view;
                JobSummary {
                    id: v.id,
                    kind: v.order.kind.as_str().to_string(),
                    status: v.status().as_str().to_string(),
                    technician_id: v.technician_id,
                    breached: org.policy.timers(&v, now).iter().any(|t| t.breached),
                    customer_name: v.order.customer_name,
                    address: v.order.address,
                    appointment_at: v.appointment_at,
                    updated_at: r.updated_at,
                }
            })
            .collect(),
    ))
}

/// Record desk events for one job, in order, all or none; the first refusal answers the request.
/// The JSON API and the console both act through here, so both notify the live board.
pub(crate) async fn desk(
    state: &AppState,
    auth: &DispatcherAuth,
    org: &Organisation,
    job_id: Uuid,
    bodies: Vec<EventBody>,
    lang: Lang,
) -> ApiResult<()> {
    let now = state.config.clock.now();
    let events = bodies
        .into_iter()
        .map(|body| Incoming {
            event: Event {
                id: Uuid::now_v7(),
                job_id,
                actor: Actor::Dispatcher {
                    dispatcher_id: auth.dispatcher.id,
                },
                recorded_at: now,
                monotonic_ms: None,
                device_seq: None,
                clock_offset_ms: None,
                corrected_at: Some(now),
                body,
            },
            flags: Vec::new(),
            refused: None,
        })
        .collect();
    let results = state
        .storage
        .append_events(
            org.id,
            Writer::Dispatcher {
                dispatcher_id: auth.dispatcher.id,
            },
            org.rulebook(),
            events,
            now,
            lang,
        )
        .await?;
    // All or nothing (the storage rolls a refused desk batch back whole).
    if results.iter().all(|r| r.status == PushStatus::Accepted) {
        state.notifier.notify(org.id, job_id);
    }
    match results
        .into_iter()
        .find(|r| r.status != PushStatus::Accepted)
    {
        None => Ok(()),
        Some(r) => Err(ApiError::refused(
            r.rule.as_deref().unwrap_or("unknown"),
            r.message.as_deref().unwrap_or("refused"),
        )),
    }
}

/// Run one desk action and answer with the job as it now stands.
/// A desk action from a JSON body: the same [`DeskAction`] and mapping the console's forms use.
async fn act(
    state: &AppState,
    auth: &DispatcherAuth,
    job_id: Uuid,
    action: &str,
    target: Option<Uuid>,
    body: serde_json::Value,
) -> ApiResult<Json<JobDetailResponse>> {
    let org = organisation(state, auth).await?;
    let action = DeskAction::from_json(action, target, body)?;
    let event = action
        .into_event(state, auth, org.policy.calendar.offset())
        .await?;
    desk(state, auth, &org, job_id, vec![event], Lang::En).await?;
    Ok(Json(job_detail(state, &org, job_id).await?))
}

pub(crate) async fn technician_of_org(
    state: &AppState,
    auth: &DispatcherAuth,
    id: Uuid,
) -> ApiResult<()> {
    state
        .storage
        .technician(auth.dispatcher.organisation_id, id)
        .await?
        .map(|_| ())
        .ok_or_else(|| ApiError::not_found("technician"))
}

async fn create_job(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiJson(req): ApiJson<NewJob>,
) -> ApiResult<(StatusCode, Json<JobDetailResponse>)> {
    if let Some(t) = req.technician_id {
        technician_of_org(&state, &auth, t).await?;
    }
    let org = organisation(&state, &auth).await?;
    let job_id = Uuid::now_v7();
    let bodies =
        super::desk_action::new_job_events(req.order, req.technician_id, req.appointment_at);
    desk(&state, &auth, &org, job_id, bodies, Lang::En).await?;
    Ok((
        StatusCode::CREATED,
        Json(job_detail(&state, &org, job_id).await?),
    ))
}

async fn assign(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> ApiResult<Json<JobDetailResponse>> {
    act(&state, &auth, id, "assign", None, body).await
}

async fn appointment(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> ApiResult<Json<JobDetailResponse>> {
    act(&state, &auth, id, "appointment", None, body).await
}

async fn amend_order(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> ApiResult<Json<JobDetailResponse>> {
    act(&state, &auth, id, "edit", None, body).await
}

async fn cancel(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> ApiResult<Json<JobDetailResponse>> {
    act(&state, &auth, id, "cancel", None, body).await
}

async fn resolve_exception(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiPath((id, exception_id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> ApiResult<Json<JobDetailResponse>> {
    act(&state, &auth, id, "resolve", Some(exception_id), body).await
}

async fn decide_exemption(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiPath((id, claim_id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> ApiResult<Json<JobDetailResponse>> {
    act(&state, &auth, id, "decide", Some(claim_id), body).await
}

async fn return_visit(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> ApiResult<Json<JobDetailResponse>> {
    act(&state, &auth, id, "return-visit", None, body).await
}

/// The server mints the complaint id; it is the last entry of `view.complaints`.
async fn file_complaint(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> ApiResult<Json<JobDetailResponse>> {
    act(&state, &auth, id, "complaint", None, body).await
}

async fn answer_complaint(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiPath((id, complaint_id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> ApiResult<Json<JobDetailResponse>> {
    act(&state, &auth, id, "answer", Some(complaint_id), body).await
}

/// The desk has seen the field actions kept aside on the job (ADR 0007).
async fn acknowledge_conflicts(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> ApiResult<Json<JobDetailResponse>> {
    act(&state, &auth, id, "acknowledge", None, body).await
}

async fn close_complaint(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiPath((id, complaint_id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> ApiResult<Json<JobDetailResponse>> {
    act(&state, &auth, id, "close", Some(complaint_id), body).await
}

// ---------------------------------------------------------------- photos

async fn photo(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiPath(photo_id): ApiPath<Uuid>,
) -> ApiResult<Response> {
    photo_response(&state, auth.dispatcher.organisation_id, photo_id).await
}

/// The bytes of a photo of this organisation; shared with the console, which authorises by
/// cookie because `<img>` cannot send a bearer header.
pub(crate) async fn photo_response(
    state: &AppState,
    org: Uuid,
    photo_id: Uuid,
) -> ApiResult<Response> {
    let p = state
        .storage
        .photo(org, photo_id)
        .await?
        .ok_or_else(|| ApiError::not_found("photo"))?;
    let Some(rel) = p.blob_path else {
        return Err(ApiError::not_found("photo").detail("not uploaded yet"));
    };
    let bytes = tokio::fs::read(state.config.data_dir.join(rel))
        .await
        .map_err(ApiError::internal)?;
    // Served as what the bytes are, whatever was declared or stored: a JPEG or a PNG, and
    // anything else (bytes stored before this check) as a download, never rendered.
    let sniffed = crate::tus::sniff_image(&bytes);
    let (content_type, disposition) = match sniffed {
        Some(t) => (
            t,
            format!(
                "inline; filename=\"{}.{}\"",
                p.photo_id,
                if t == "image/png" { "png" } else { "jpg" }
            ),
        ),
        None => (
            crate::tus::OCTET_STREAM,
            format!("attachment; filename=\"{}.bin\"", p.photo_id),
        ),
    };
    let mut res = Body::from(bytes).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    // Opened on its own (the job page links it in a new tab), the image may run nothing.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; img-src 'self'; sandbox"),
    );
    // Content-addressed: the bytes behind this id never change.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", p.sha256)) {
        h.insert(header::ETAG, v);
    }
    Ok(res)
}

/// `create-dispatcher` and tests: hash outside the async workers.
pub async fn hash_password_blocking(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash_password(&password)).await?
}

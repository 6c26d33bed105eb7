//! The dispatcher API: the desk's side. A session sees its own organisation only; anything
//! else is "not found", never "forbidden", so ids of other organisations reveal nothing.
//!
//! Every desk action is an [`Event`] from the dispatcher, checked by the same rulebook as the
//! devices' events and fanned out to the technicians' feeds by the storage.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use fieldcore::domain::schedule;
use fieldcore::domain::{
    Actor, Event, EventBody, JobKind, JobNumber, JobOrder, JobStatus, JobView, Lang,
    ScheduleConflict, Timer, Visit,
};
use fieldcore::protocol::{EventFlag, PushStatus};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::desk_action::{
    AcknowledgeConflictsRequest, AmendOrderRequest, AnswerComplaintRequest, AppointmentRequest,
    AssignRequest, CancelRequest, CloseComplaintRequest, DecideExemptionRequest, DeskAction,
    FileComplaintRequest, ResolveExceptionRequest, ReturnVisitRequest,
};
use crate::AppState;
use crate::auth::{DispatcherAuth, decoy_hash, hash_password, new_enrolment_code, new_token};
use crate::auth::{code_hash, token_hash, verify_password};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::storage::{
    Device, Incoming, JobDetail, JobFilter, Organisation, Rejection, Technician, TimelineEntry,
    UnreadableEntry, Writer,
};

/// The dispatcher API, each route with its OpenAPI operation (`routes!` keeps them together).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(create_technician, technicians))
        .routes(routes!(enrolment_code))
        .routes(routes!(devices))
        .routes(routes!(revoke_device))
        .routes(routes!(create_job, jobs))
        .routes(routes!(job))
        .routes(routes!(assign))
        .routes(routes!(appointment))
        .routes(routes!(amend_order))
        .routes(routes!(cancel))
        .routes(routes!(resolve_exception))
        .routes(routes!(decide_exemption))
        .routes(routes!(return_visit))
        .routes(routes!(file_complaint))
        .routes(routes!(answer_complaint))
        .routes(routes!(close_complaint))
        .routes(routes!(acknowledge_conflicts))
        .routes(routes!(photo))
}

/// Text the rulebook refuses when blank (Rust's `trim().is_empty()`): at least one character
/// that is not white space, written out because `\S` differs between regex dialects.
pub const NON_BLANK: &str =
    "[^\\t\\n\\v\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]";

// ---------------------------------------------------------------- sessions

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    pub token: String,
    pub dispatcher_id: Uuid,
    pub organisation_id: Uuid,
    pub name: String,
    pub expires_at: DateTime<Utc>,
}

#[utoipa::path(
    post,
    path = "/v1/auth/login",
    operation_id = "login",
    tag = "sessions",
    summary = "Log a dispatcher in; the token is the `dispatcherSession` bearer",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = LoginResponse),
        (status = 401, description = "Wrong email or password"),
        (status = 429, description = "Too many failed logins for this account (`Retry-After`)"),
    )
)]
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
        .create_session(
            &token_hash(&token),
            d.id,
            expires_at,
            state.config.clock.now(),
        )
        .await?;
    Ok(Json(LoginResponse {
        token,
        dispatcher_id: d.id,
        organisation_id: d.organisation_id,
        name: d.name,
        expires_at,
    }))
}

#[utoipa::path(
    post,
    path = "/v1/auth/logout",
    operation_id = "logout",
    tag = "sessions",
    summary = "End this session",
    responses((status = 204, description = "The token no longer works")),
    security(("dispatcherSession" = []))
)]
async fn logout(State(state): State<AppState>, auth: DispatcherAuth) -> ApiResult<StatusCode> {
    state.storage.delete_session(&auth.token_hash).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub dispatcher_id: Uuid,
    pub organisation_id: Uuid,
    pub organisation_name: String,
    pub name: String,
    pub email: String,
}

#[utoipa::path(
    get,
    path = "/v1/me",
    operation_id = "getMe",
    tag = "sessions",
    summary = "Who this session is",
    responses((status = 200, description = "The dispatcher", body = Me)),
    security(("dispatcherSession" = []))
)]
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

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewTechnician {
    #[schema(
        max_length = 200,
        pattern = "[^\\t\\n\\v\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]"
    )]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 40)]
    pub phone: String,
}

/// The longest technician name and phone number kept.
pub const TECHNICIAN_NAME_MAX_CHARS: usize = 200;
pub const TECHNICIAN_PHONE_MAX_CHARS: usize = 40;

#[utoipa::path(
    post,
    path = "/v1/technicians",
    operation_id = "createTechnician",
    tag = "technicians",
    summary = "Add a technician",
    request_body = NewTechnician,
    responses(
        (status = 201, description = "Added", body = Technician),
        (status = 422, description = "A blank or over-long name or phone"),
    ),
    security(("dispatcherSession" = []))
)]
async fn create_technician(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiJson(req): ApiJson<NewTechnician>,
) -> ApiResult<(StatusCode, Json<Technician>)> {
    let name = req.name.trim();
    if name.is_empty()
        || req.name.chars().count() > TECHNICIAN_NAME_MAX_CHARS
        || req.phone.chars().count() > TECHNICIAN_PHONE_MAX_CHARS
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "A technician needs a name",
        )
        .detail(format!(
            "name: 1 to {TECHNICIAN_NAME_MAX_CHARS} characters; phone: at most \
             {TECHNICIAN_PHONE_MAX_CHARS}"
        )));
    }
    let t = state
        .storage
        .create_technician(
            auth.dispatcher.organisation_id,
            name,
            req.phone.trim(),
            state.config.clock.now(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(t)))
}

#[utoipa::path(
    get,
    path = "/v1/technicians",
    operation_id = "listTechnicians",
    tag = "technicians",
    summary = "The organisation's technicians",
    responses((status = 200, description = "Technicians", body = Vec<Technician>)),
    security(("dispatcherSession" = []))
)]
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

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct NewCode {
    /// How long the code stays usable; the server's default without it.
    #[schema(minimum = 1, maximum = 10080)]
    pub ttl_minutes: Option<i64>,
}

/// The longest an enrolment code may be asked to live: a week.
pub const CODE_TTL_MAX_MINUTES: i64 = 7 * 24 * 60;

#[derive(Debug, Serialize, ToSchema)]
pub struct EnrolmentCode {
    /// Shown once to the dispatcher, who reads it to the technician.
    pub code: String,
    pub technician_id: Uuid,
    pub expires_at: DateTime<Utc>,
}

#[utoipa::path(
    post,
    path = "/v1/technicians/{id}/enrolment-codes",
    operation_id = "createEnrolmentCode",
    tag = "technicians",
    summary = "A one-time code the technician types into a new phone",
    params(("id" = Uuid, Path, description = "Technician id")),
    request_body(content = Option<NewCode>, description = "Optional: none, `null` or `{}` takes the server's default lifetime"),
    responses(
        (status = 201, description = "The code, shown once", body = EnrolmentCode),
        (status = 404, description = "No such technician in your organisation"),
        (status = 413, description = "Body too large"),
        (status = 422, description = "The body does not match the schema"),
    ),
    security(("dispatcherSession" = []))
)]
async fn enrolment_code(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiPath(technician_id): ApiPath<Uuid>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<EnrolmentCode>)> {
    // The body is optional: none, `null` or `{}` takes the configured lifetime.
    let invalid = |detail: String| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "The body does not match the schema",
        )
        .detail(detail)
    };
    let req: NewCode = if body.iter().all(u8::is_ascii_whitespace) {
        NewCode::default()
    } else {
        match serde_json::from_slice::<Option<NewCode>>(&body) {
            Ok(code) => code,
            Err(e) => crate::error::whole_numbers_as_integers::<Option<NewCode>>(&body)
                .ok_or_else(|| invalid(e.to_string()))?,
        }
        .unwrap_or_default()
    };
    if req
        .ttl_minutes
        .is_some_and(|m| !(1..=CODE_TTL_MAX_MINUTES).contains(&m))
    {
        return Err(invalid(format!("ttl_minutes: 1 to {CODE_TTL_MAX_MINUTES}")));
    }
    let org = auth.dispatcher.organisation_id;
    state
        .storage
        .technician(org, technician_id)
        .await?
        .ok_or_else(|| ApiError::not_found("technician"))?;
    let ttl = req
        .ttl_minutes
        .unwrap_or(state.config.enrolment_code_ttl_minutes)
        .clamp(1, CODE_TTL_MAX_MINUTES);
    let code = new_enrolment_code();
    let expires_at = state.config.clock.now() + Duration::minutes(ttl);
    state
        .storage
        .create_enrolment_code(
            org,
            technician_id,
            &code_hash(&code),
            expires_at,
            state.config.clock.now(),
        )
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

#[utoipa::path(
    get,
    path = "/v1/devices",
    operation_id = "listDevices",
    tag = "technicians",
    summary = "The organisation's enrolled devices",
    responses((status = 200, description = "Devices", body = Vec<Device>)),
    security(("dispatcherSession" = []))
)]
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

#[utoipa::path(
    post,
    path = "/v1/devices/{id}/revoke",
    operation_id = "revokeDevice",
    tag = "technicians",
    summary = "Revoke a device: its token stops working at once",
    params(("id" = Uuid, Path, description = "Device id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such device in your organisation"),
    ),
    security(("dispatcherSession" = []))
)]
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

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewJob {
    pub order: JobOrder,
    pub technician_id: Option<Uuid>,
    pub appointment_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PhotoInfo {
    pub photo_id: Uuid,
    #[schema(value_type = fieldcore::domain::PhotoCategory)]
    pub category: String,
    pub sha256: String,
    pub uploaded: bool,
    /// Where the console fetches the bytes, once uploaded.
    pub url: String,
}

/// A job as the desk sees it: the view, its clocks, every event with its times, the evidence.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobDetailResponse {
    pub view: JobView,
    pub status: JobStatus,
    pub timers: Vec<Timer>,
    pub timeline: Vec<TimelineEntry>,
    pub photos: Vec<PhotoInfo>,
    /// Events devices sent for this job that the rulebook refused.
    pub rejections: Vec<Rejection>,
    /// Stored entries that could not be read back (the rest of the job still shows).
    pub unreadable: Vec<UnreadableEntry>,
    /// The technician's other visits too close to this one (a visit plus travel, from the
    /// policy): warnings, never refusals. The phone shows the same on its list.
    pub schedule_conflicts: Vec<ScheduleConflict>,
    /// Whether every field event of the job continues its device's signed chain (ADR 0016).
    pub evidence_chain: EvidenceChain,
}

/// The job's field events against their devices' chains (ADR 0016).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct EvidenceChain {
    /// At least one field event, and none altered, out of its chain or unsigned.
    pub verified: bool,
    /// Field events whose signature and link hold.
    pub signed: u32,
    /// Field events without a signature (an app from before the chain).
    pub unsigned: u32,
    /// Field events altered (`bad_signature`) or out of their device's chain (`chain_gap`).
    pub broken: u32,
}

impl EvidenceChain {
    pub fn of(timeline: &[TimelineEntry]) -> EvidenceChain {
        let mut c = EvidenceChain {
            verified: true,
            signed: 0,
            unsigned: 0,
            broken: 0,
        };
        for t in timeline
            .iter()
            .filter(|t| matches!(t.event.actor, Actor::Technician { .. }))
        {
            let has = |f: EventFlag| t.flags.contains(&f);
            if has(EventFlag::BadSignature) || has(EventFlag::ChainGap) {
                c.broken += 1;
            } else if has(EventFlag::Unsigned) || t.event.seal.is_none() {
                // No seal at all: also an event stored before the server checked chains.
                c.unsigned += 1;
            } else {
                c.signed += 1;
            }
        }
        c.verified = c.signed > 0 && c.broken == 0 && c.unsigned == 0;
        c
    }
}

fn detail_response(
    org: &Organisation,
    d: JobDetail,
    schedule_conflicts: Vec<ScheduleConflict>,
    now: DateTime<Utc>,
) -> JobDetailResponse {
    JobDetailResponse {
        schedule_conflicts,
        evidence_chain: EvidenceChain::of(&d.timeline),
        status: d.view.status(),
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
    let conflicts = schedule_conflicts(state, org, &d.view).await;
    Ok(detail_response(org, d, conflicts, state.config.clock.now()))
}

/// The job's conflicts in its technician's schedule, by the same rule the phone applies. The
/// job's own visit comes from `view` (what the answer shows beside it), the others from the
/// technician's jobs. A warning, so best effort: a failed read logs and warns of nothing, and
/// never turns a desk action that was stored into an error.
pub(crate) async fn schedule_conflicts(
    state: &AppState,
    org: &Organisation,
    view: &JobView,
) -> Vec<ScheduleConflict> {
    let Some(visit) = view.technician_id.and_then(|t| Visit::of(view, t)) else {
        return Vec::new();
    };
    let filter = JobFilter {
        status: None,
        technician_id: view.technician_id,
    };
    match state.storage.jobs(org.id, filter).await {
        Ok(rows) => {
            let others: Vec<Visit> = rows
                .iter()
                .filter_map(|row| Visit::of(&row.view, view.technician_id?))
                .collect();
            schedule::conflicts_of(&visit, &others, &org.policy)
        }
        Err(e) => {
            tracing::warn!(job = %view.id, error = %e, "schedule conflicts not computed");
            Vec::new()
        }
    }
}

#[utoipa::path(
    get,
    path = "/v1/jobs/{id}",
    operation_id = "getJob",
    tag = "jobs",
    summary = "One job: its view, clocks, timeline, photos and refusals",
    params(("id" = Uuid, Path, description = "Job id")),
    responses(
        (status = 200, description = "The job", body = JobDetailResponse),
        (status = 404, description = "No such job in your organisation"),
    ),
    security(("dispatcherSession" = []))
)]
async fn job(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<JobDetailResponse>> {
    let org = organisation(&state, &auth).await?;
    Ok(Json(job_detail(&state, &org, id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobsQuery {
    /// Only jobs in this status.
    pub status: Option<JobStatus>,
    /// Only jobs of this technician.
    pub technician_id: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobSummary {
    pub id: Uuid,
    /// What people call the job (`J-1042` is number 1042); none for jobs from before numbers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<JobNumber>,
    pub kind: JobKind,
    pub status: JobStatus,
    pub technician_id: Option<Uuid>,
    pub customer_name: String,
    pub address: String,
    pub appointment_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// Any SLA clock of the job breached, as of now.
    pub breached: bool,
}

#[utoipa::path(
    get,
    path = "/v1/jobs",
    operation_id = "listJobs",
    tag = "jobs",
    summary = "The organisation's jobs, newest first",
    params(JobsQuery),
    responses((status = 200, description = "Jobs", body = Vec<JobSummary>)),
    security(("dispatcherSession" = []))
)]
async fn jobs(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiQuery(q): ApiQuery<JobsQuery>,
) -> ApiResult<Json<Vec<JobSummary>>> {
    let org = organisation(&state, &auth).await?;
    let rows = state
        .storage
        .jobs(
            org.id,
            JobFilter {
                status: q.status.map(|s| s.as_str().to_string()),
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
                    number: v.number,
                    kind: v.order.kind,
                    status: v.status(),
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
/// Create a job (order, technician, appointment), numbered: the order goes through the
/// rulebook first, so a refused one (an empty customer name, say) uses no number. The JSON API
/// and the console's form both create jobs here.
pub(crate) async fn new_job(
    state: &AppState,
    auth: &DispatcherAuth,
    org: &Organisation,
    job_id: Uuid,
    (order, technician, appointment): (JobOrder, Option<Uuid>, Option<DateTime<Utc>>),
    lang: Lang,
) -> ApiResult<()> {
    let probe = desk_event(
        auth,
        job_id,
        EventBody::JobCreated {
            order: order.clone(),
            number: None,
        },
        state.config.clock.now(),
    );
    if let Err(r) = org.rulebook().check(None, &probe) {
        return Err(ApiError::refused(r.rule.code(), &r.message(lang)));
    }
    let number = state.storage.next_job_number(org.id).await?;
    let bodies = super::desk_action::new_job_events(order, number, technician, appointment);
    desk(state, auth, org, job_id, bodies, lang).await
}

/// An event of the desk, stamped by the server's clock.
fn desk_event(auth: &DispatcherAuth, job_id: Uuid, body: EventBody, now: DateTime<Utc>) -> Event {
    Event {
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
        seal: None,
    }
}

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
            event: desk_event(auth, job_id, body, now),
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

/// Run one desk action and answer with the job as it now stands: the same [`DeskAction`] and
/// mapping the console's forms use.
async fn act(
    state: &AppState,
    auth: &DispatcherAuth,
    job_id: Uuid,
    action: DeskAction,
) -> ApiResult<Json<JobDetailResponse>> {
    let org = organisation(state, auth).await?;
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

#[utoipa::path(
    post,
    path = "/v1/jobs",
    operation_id = "createJob",
    tag = "jobs",
    summary = "Create a job, optionally assigned and booked (all or nothing)",
    request_body = NewJob,
    responses(
        (status = 201, description = "The new job", body = JobDetailResponse),
        (status = 404, description = "No such technician in your organisation"),
        (status = 409, description = "The rulebook refused (see `rule`)"),
        (status = 422, description = "Invalid input (rule `invalid_input`)"),
        (status = 503, description = "Busy; nothing was stored (`Retry-After`)"),
    ),
    security(("dispatcherSession" = []))
)]
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
    new_job(
        &state,
        &auth,
        &org,
        job_id,
        (req.order, req.technician_id, req.appointment_at),
        Lang::En,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(job_detail(&state, &org, job_id).await?),
    ))
}

#[utoipa::path(
    post,
    path = "/v1/jobs/{id}/assign",
    operation_id = "assignJob",
    tag = "jobs",
    summary = "Give the job to a technician (or another one)",
    params(
        ("id" = Uuid, Path, description = "Job id"),
    ),
    request_body = AssignRequest,
    responses(
        (status = 200, description = "The job as it now stands", body = JobDetailResponse),
        (status = 404, description = "No such job in your organisation (rule `unknown_job`)"),
        (status = 409, description = "The rulebook refused (see `rule`)"),
        (status = 422, description = "Invalid input (rule `invalid_input`)"),
        (status = 503, description = "Busy; nothing was stored (`Retry-After`)"),
    ),
    security(("dispatcherSession" = []))
)]
async fn assign(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<AssignRequest>,
) -> ApiResult<Json<JobDetailResponse>> {
    act(&state, &auth, id, body.into()).await
}

#[utoipa::path(
    post,
    path = "/v1/jobs/{id}/appointment",
    operation_id = "bookAppointment",
    tag = "jobs",
    summary = "Book (or move) the visit",
    params(
        ("id" = Uuid, Path, description = "Job id"),
    ),
    request_body = AppointmentRequest,
    responses(
        (status = 200, description = "The job as it now stands", body = JobDetailResponse),
        (status = 404, description = "No such job in your organisation (rule `unknown_job`)"),
        (status = 409, description = "The rulebook refused (see `rule`)"),
        (status = 422, description = "Invalid input (rule `invalid_input`)"),
        (status = 503, description = "Busy; nothing was stored (`Retry-After`)"),
    ),
    security(("dispatcherSession" = []))
)]
async fn appointment(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<AppointmentRequest>,
) -> ApiResult<Json<JobDetailResponse>> {
    act(&state, &auth, id, body.into()).await
}

#[utoipa::path(
    post,
    path = "/v1/jobs/{id}/order",
    operation_id = "amendOrder",
    tag = "jobs",
    summary = "Amend the order (the kind and, once accepted, the fee basis stay)",
    params(
        ("id" = Uuid, Path, description = "Job id"),
    ),
    request_body = AmendOrderRequest,
    responses(
        (status = 200, description = "The job as it now stands", body = JobDetailResponse),
        (status = 404, description = "No such job in your organisation (rule `unknown_job`)"),
        (status = 409, description = "The rulebook refused (see `rule`)"),
        (status = 422, description = "Invalid input (rule `invalid_input`)"),
        (status = 503, description = "Busy; nothing was stored (`Retry-After`)"),
    ),
    security(("dispatcherSession" = []))
)]
async fn amend_order(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<AmendOrderRequest>,
) -> ApiResult<Json<JobDetailResponse>> {
    act(&state, &auth, id, body.into()).await
}

#[utoipa::path(
    post,
    path = "/v1/jobs/{id}/cancel",
    operation_id = "cancelJob",
    tag = "jobs",
    summary = "Cancel the job",
    params(
        ("id" = Uuid, Path, description = "Job id"),
    ),
    request_body = CancelRequest,
    responses(
        (status = 200, description = "The job as it now stands", body = JobDetailResponse),
        (status = 404, description = "No such job in your organisation (rule `unknown_job`)"),
        (status = 409, description = "The rulebook refused (see `rule`)"),
        (status = 422, description = "Invalid input (rule `invalid_input`)"),
        (status = 503, description = "Busy; nothing was stored (`Retry-After`)"),
    ),
    security(("dispatcherSession" = []))
)]
async fn cancel(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<CancelRequest>,
) -> ApiResult<Json<JobDetailResponse>> {
    act(&state, &auth, id, body.into()).await
}

#[utoipa::path(
    post,
    path = "/v1/jobs/{id}/exceptions/{eid}/resolve",
    operation_id = "resolveException",
    tag = "jobs",
    summary = "Decide an exception a technician raised",
    params(
        ("id" = Uuid, Path, description = "Job id"),
        ("eid" = Uuid, Path, description = "Exception id (`view.exceptions[].id`)"),
    ),
    request_body = ResolveExceptionRequest,
    responses(
        (status = 200, description = "The job as it now stands", body = JobDetailResponse),
        (status = 404, description = "No such job in your organisation (rule `unknown_job`)"),
        (status = 409, description = "The rulebook refused (see `rule`)"),
        (status = 422, description = "Invalid input (rule `invalid_input`)"),
        (status = 503, description = "Busy; nothing was stored (`Retry-After`)"),
    ),
    security(("dispatcherSession" = []))
)]
async fn resolve_exception(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiPath((id, target)): ApiPath<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<ResolveExceptionRequest>,
) -> ApiResult<Json<JobDetailResponse>> {
    act(&state, &auth, id, body.on(target)).await
}

#[utoipa::path(
    post,
    path = "/v1/jobs/{id}/exemptions/{cid}/decide",
    operation_id = "decideExemption",
    tag = "jobs",
    summary = "Grant or refuse an exemption claim",
    params(
        ("id" = Uuid, Path, description = "Job id"),
        ("cid" = Uuid, Path, description = "Claim id (`view.exemptions[].id`)"),
    ),
    request_body = DecideExemptionRequest,
    responses(
        (status = 200, description = "The job as it now stands", body = JobDetailResponse),
        (status = 404, description = "No such job in your organisation (rule `unknown_job`)"),
        (status = 409, description = "The rulebook refused (see `rule`)"),
        (status = 422, description = "Invalid input (rule `invalid_input`)"),
        (status = 503, description = "Busy; nothing was stored (`Retry-After`)"),
    ),
    security(("dispatcherSession" = []))
)]
async fn decide_exemption(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiPath((id, target)): ApiPath<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<DecideExemptionRequest>,
) -> ApiResult<Json<JobDetailResponse>> {
    act(&state, &auth, id, body.on(target)).await
}

#[utoipa::path(
    post,
    path = "/v1/jobs/{id}/return-visit",
    operation_id = "recordReturnVisit",
    tag = "jobs",
    summary = "Record the customer's ratings from the return visit",
    params(
        ("id" = Uuid, Path, description = "Job id"),
    ),
    request_body = ReturnVisitRequest,
    responses(
        (status = 200, description = "The job as it now stands", body = JobDetailResponse),
        (status = 404, description = "No such job in your organisation (rule `unknown_job`)"),
        (status = 409, description = "The rulebook refused (see `rule`)"),
        (status = 422, description = "Invalid input (rule `invalid_input`)"),
        (status = 503, description = "Busy; nothing was stored (`Retry-After`)"),
    ),
    security(("dispatcherSession" = []))
)]
async fn return_visit(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<ReturnVisitRequest>,
) -> ApiResult<Json<JobDetailResponse>> {
    act(&state, &auth, id, body.into()).await
}

#[utoipa::path(
    post,
    path = "/v1/jobs/{id}/complaints",
    operation_id = "fileComplaint",
    tag = "jobs",
    summary = "File a complaint (the server mints its id: the last of `view.complaints`)",
    params(
        ("id" = Uuid, Path, description = "Job id"),
    ),
    request_body = FileComplaintRequest,
    responses(
        (status = 200, description = "The job as it now stands", body = JobDetailResponse),
        (status = 404, description = "No such job in your organisation (rule `unknown_job`)"),
        (status = 409, description = "The rulebook refused (see `rule`)"),
        (status = 422, description = "Invalid input (rule `invalid_input`)"),
        (status = 503, description = "Busy; nothing was stored (`Retry-After`)"),
    ),
    security(("dispatcherSession" = []))
)]
async fn file_complaint(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<FileComplaintRequest>,
) -> ApiResult<Json<JobDetailResponse>> {
    act(&state, &auth, id, body.into()).await
}

#[utoipa::path(
    post,
    path = "/v1/jobs/{id}/complaints/{cid}/answer",
    operation_id = "answerComplaint",
    tag = "jobs",
    summary = "Answer a complaint",
    params(
        ("id" = Uuid, Path, description = "Job id"),
        ("cid" = Uuid, Path, description = "Complaint id (`view.complaints[].id`)"),
    ),
    request_body = AnswerComplaintRequest,
    responses(
        (status = 200, description = "The job as it now stands", body = JobDetailResponse),
        (status = 404, description = "No such job in your organisation (rule `unknown_job`)"),
        (status = 409, description = "The rulebook refused (see `rule`)"),
        (status = 422, description = "Invalid input (rule `invalid_input`)"),
        (status = 503, description = "Busy; nothing was stored (`Retry-After`)"),
    ),
    security(("dispatcherSession" = []))
)]
async fn answer_complaint(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiPath((id, target)): ApiPath<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<AnswerComplaintRequest>,
) -> ApiResult<Json<JobDetailResponse>> {
    act(&state, &auth, id, body.on(target)).await
}

#[utoipa::path(
    post,
    path = "/v1/jobs/{id}/complaints/{cid}/close",
    operation_id = "closeComplaint",
    tag = "jobs",
    summary = "Close a complaint with its result",
    params(
        ("id" = Uuid, Path, description = "Job id"),
        ("cid" = Uuid, Path, description = "Complaint id (`view.complaints[].id`)"),
    ),
    request_body = CloseComplaintRequest,
    responses(
        (status = 200, description = "The job as it now stands", body = JobDetailResponse),
        (status = 404, description = "No such job in your organisation (rule `unknown_job`)"),
        (status = 409, description = "The rulebook refused (see `rule`)"),
        (status = 422, description = "Invalid input (rule `invalid_input`)"),
        (status = 503, description = "Busy; nothing was stored (`Retry-After`)"),
    ),
    security(("dispatcherSession" = []))
)]
async fn close_complaint(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiPath((id, target)): ApiPath<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<CloseComplaintRequest>,
) -> ApiResult<Json<JobDetailResponse>> {
    act(&state, &auth, id, body.on(target)).await
}

#[utoipa::path(
    post,
    path = "/v1/jobs/{id}/conflicts/acknowledge",
    operation_id = "acknowledgeConflicts",
    tag = "jobs",
    summary = "The desk has seen the field actions kept aside on the job (ADR 0007)",
    params(
        ("id" = Uuid, Path, description = "Job id"),
    ),
    request_body = AcknowledgeConflictsRequest,
    responses(
        (status = 200, description = "The job as it now stands", body = JobDetailResponse),
        (status = 404, description = "No such job in your organisation (rule `unknown_job`)"),
        (status = 409, description = "The rulebook refused (see `rule`)"),
        (status = 422, description = "Invalid input (rule `invalid_input`)"),
        (status = 503, description = "Busy; nothing was stored (`Retry-After`)"),
    ),
    security(("dispatcherSession" = []))
)]
async fn acknowledge_conflicts(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<AcknowledgeConflictsRequest>,
) -> ApiResult<Json<JobDetailResponse>> {
    act(&state, &auth, id, body.into()).await
}

// ---------------------------------------------------------------- photos

#[utoipa::path(
    get,
    path = "/v1/photos/{photo_id}",
    operation_id = "getPhoto",
    tag = "jobs",
    summary = "A photo's bytes, served as what they are (JPEG or PNG; anything else as a download)",
    params(("photo_id" = Uuid, Path, description = "Photo id")),
    responses(
        (status = 200, description = "The photo", content(
            (crate::tus::Binary = "image/jpeg"),
            (crate::tus::Binary = "image/png"),
            (crate::tus::Binary = "application/octet-stream"),
        )),
        (status = 404, description = "No such photo, or not uploaded yet"),
    ),
    security(("dispatcherSession" = []))
)]
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
    let bytes = state
        .blobs
        .read_blob(&rel)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::internal(format!("photo {photo_id}: blob {rel} is missing")))?;
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

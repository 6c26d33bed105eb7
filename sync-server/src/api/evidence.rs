//! A job's evidence for ordering parties (ADR 0017): the report for people and the bundle for
//! machines. Both come from `crate::evidence`; these are their API doors.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::auth::DispatcherAuth;
use crate::error::{ApiError, ApiPath, ApiResult};
use crate::evidence::{Format, download};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(evidence_report))
        .routes(routes!(evidence_bundle))
}

#[utoipa::path(
    get,
    path = "/v1/jobs/{id}/evidence.pdf",
    operation_id = "getEvidenceReport",
    tag = "jobs",
    summary = "The job's evidence report for people (PDF): order, timeline with every clock and \
               flag, arrival, checklist, photos, signature, code, decisions and the evidence check",
    params(
        ("id" = Uuid, Path, description = "Job id"),
        ("Accept-Language" = Option<String>, Header, nullable = false,
            description = "`zh…` for the report in Chinese"),
    ),
    responses(
        (status = 200, description = "The report", content_type = "application/pdf",
            body = crate::tus::Binary),
        (status = 404, description = "No such job in your organisation"),
        (status = 413, description = "The job's photos are too large together for one report"),
    ),
    security(("dispatcherSession" = []))
)]
async fn evidence_report(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    headers: HeaderMap,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Response> {
    let org = super::dispatcher::organisation(&state, &auth).await?;
    let lang = super::request_lang(&headers);
    download(&state, &org, id, Format::Report, lang)
        .await?
        .ok_or_else(|| ApiError::not_found("job"))
}

#[utoipa::path(
    get,
    path = "/v1/jobs/{id}/evidence.zip",
    operation_id = "getEvidenceBundle",
    tag = "jobs",
    summary = "The job's evidence bundle for machines (zip): its events with their devices' \
               signatures and keys, the chain around the job, and the photos; checked offline \
               by `fieldtech verify`",
    params(("id" = Uuid, Path, description = "Job id")),
    responses(
        (status = 200, description = "The bundle", content_type = "application/zip",
            body = crate::tus::Binary),
        (status = 404, description = "No such job in your organisation"),
        (status = 413, description = "The job's photos are too large together for one bundle"),
    ),
    security(("dispatcherSession" = []))
)]
async fn evidence_bundle(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Response> {
    let org = super::dispatcher::organisation(&state, &auth).await?;
    download(
        &state,
        &org,
        id,
        Format::Bundle,
        fieldcore::domain::Lang::En,
    )
    .await?
    .ok_or_else(|| ApiError::not_found("job"))
}

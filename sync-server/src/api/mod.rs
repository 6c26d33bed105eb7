//! The HTTP surface: one router built from the device API, the dispatcher API (and its HTML
//! console) and tus, with the cross-cutting layers (server clock header, rate limit, body
//! limits, timeouts, request logs).

pub mod desk_action;
pub mod device;
pub mod dispatcher;
pub mod evidence;
pub mod webhooks;

use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json, Router};
use chrono::SecondsFormat;
use fieldcore::protocol::HEADER_SERVER_TIME;
use tower::ServiceBuilder;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use serde::Serialize;
use std::sync::Arc;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::config::Config;
use crate::error::{ApiError, ApiResult};

/// The language a request asks for (`Accept-Language`): Chinese for any `zh`, else English.
/// Refusals go back in it, so a technician reads the server's "no" as they read the phone's.
pub fn request_lang(headers: &axum::http::HeaderMap) -> fieldcore::domain::Lang {
    let zh = headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("zh"));
    if zh {
        fieldcore::domain::Lang::ZhCn
    } else {
        fieldcore::domain::Lang::En
    }
}

/// The API's routes with their OpenAPI operations, under the request timeout (tus is not: a
/// chunk on a slow mobile link takes its time, and tus PATCH guards itself with a per-read
/// timeout). The console is not part of the API (HTML, cookie sessions) and joins in `router`.
pub fn api_routes(config: &Config) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(crate::openapi::ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(crate::metrics::metrics))
        .routes(routes!(openapi))
        .merge(device::routes(config.push_body_limit))
        .merge(dispatcher::routes())
        .merge(webhooks::routes())
        .merge(evidence::routes())
        .layer(DefaultBodyLimit::max(config.json_body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(config.request_timeout_secs),
        ))
        .merge(crate::tus::routes())
}

/// Every route of the server, with its state.
pub fn router(state: AppState) -> Router {
    let c = &state.config;
    let (api, doc) = api_routes(c).split_for_parts();
    let doc = Arc::new(crate::openapi::finish(doc, c));
    let console = crate::console::routes()
        .layer(DefaultBodyLimit::max(c.json_body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(c.request_timeout_secs),
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(c.request_timeout_secs),
        ));
    let outer_body_limit = usize::try_from(c.max_upload_bytes)
        .unwrap_or(usize::MAX)
        .max(c.push_body_limit)
        .saturating_add(64 * 1024);
    let app = api
        .merge(console)
        .layer(Extension(doc))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::idempotency::layer,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::ratelimit::limit,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), server_time))
        .layer(middleware::map_response(security_headers))
        .layer(RequestBodyLimitLayer::new(outer_body_limit))
        .layer(TraceLayer::new_for_http())
        // Outermost of the routes' layers: counts what every layer inside answers, by route.
        .layer(middleware::from_fn(crate::metrics::track))
        .with_state(state.clone());
    // Outside routing: the method override must be seen before a route picks its handler, and
    // the contracts must hold for what layers answer on their own (405, 408, 413).
    let outer = ServiceBuilder::new()
        .map_request(crate::tus::method_override)
        .option_layer(cors(&state.config.cors_allowed_origins))
        .layer(middleware::from_fn(contracts))
        .service(app);
    Router::new().fallback_service(outer)
}

/// CORS for the origins the operator lists (off when none): a web client on another origin
/// (an ordering party's portal, a browser tus client) may call the API with a bearer token and
/// read the tus headers it needs. No credentials: the console's cookies never go cross-origin.
fn cors(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim()).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    let names = |list: &[&'static str]| -> Vec<HeaderName> {
        list.iter().map(|n| HeaderName::from_static(n)).collect()
    };
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PATCH,
                Method::HEAD,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers(names(&[
                "authorization",
                "content-type",
                "accept-language",
                "idempotency-key",
                "tus-resumable",
                "upload-length",
                "upload-offset",
                "upload-metadata",
                "upload-checksum",
                "upload-defer-length",
                "x-http-method-override",
                "x-requested-with",
            ]))
            .expose_headers(names(&[
                "location",
                "retry-after",
                "upload-offset",
                "upload-length",
                "upload-metadata",
                "upload-expires",
                "tus-resumable",
                "tus-version",
                "tus-extension",
                "tus-max-size",
                "tus-checksum-algorithm",
                HEADER_SERVER_TIME,
            ]))
            .max_age(Duration::from_secs(24 * 3600)),
    )
}

/// The contracts every response keeps, whichever layer made it: an error is a problem document
/// (a layer's bare 405, 408 or 413 too), a tus response carries `Tus-Resumable`, and a status
/// without a standard reason phrase (tus's 460) gets one on the status line.
async fn contracts(req: Request, next: Next) -> Response {
    let tus = crate::tus::is_tus_path(req.uri().path());
    let mut res = next.run(req).await;
    let status = res.status();
    let bare = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_none_or(|t| t.as_bytes().starts_with(b"text/plain"));
    if (status.is_client_error() || status.is_server_error()) && bare {
        res = problem_for(res);
    }
    if status == crate::tus::checksum_mismatch() {
        res.extensions_mut()
            .insert(hyper::ext::ReasonPhrase::from_static(b"Checksum Mismatch"));
    }
    if tus {
        crate::tus::tus_resumable(&mut res);
    }
    res
}

/// A problem document for an error answered without one, keeping its other headers (`Allow`,
/// `Retry-After`).
fn problem_for(res: Response) -> Response {
    let (parts, _) = res.into_parts();
    let status = parts.status;
    let problem = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            ApiError::new(status, "method-not-allowed", "Method not allowed")
                .detail("the Allow header lists the methods this resource takes")
        }
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::too_large("the request body is larger than this resource accepts")
        }
        StatusCode::REQUEST_TIMEOUT => {
            ApiError::new(status, "request-timeout", "The request took too long")
        }
        _ => ApiError::new(
            status,
            "http-error",
            status.canonical_reason().unwrap_or("Error"),
        ),
    };
    let mut out = problem.into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name, value.clone());
        }
    }
    out
}

/// The policy every response carries unless it set its own (photos set a stricter one): scripts
/// and styles only from the console's own files (no inline script can run, so markup that slips
/// through escaping is inert), no framing, no plugins, forms post only here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// Security headers on every response, console and API alike (SECURITY.md).
async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
    ] {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    }
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    res
}

/// Every response says what time the server has, so devices can estimate their clock offset.
async fn server_time(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let now = state
        .config
        .clock
        .now()
        .to_rfc3339_opts(SecondsFormat::Millis, true);
    if let Ok(v) = HeaderValue::from_str(&now) {
        res.headers_mut()
            .insert(HeaderName::from_static(HEADER_SERVER_TIME), v);
    }
    res
}

/// What `/healthz` answers when the database and the photo store do.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: HealthStatus,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    Ok,
}

#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "health",
    tag = "server",
    summary = "Whether this process, its database and its photo store answer (for load balancers)",
    responses(
        (status = 200, description = "Serving", body = Health),
        (status = 503, description = "The database or the photo store does not answer"),
    )
)]
async fn healthz(State(state): State<AppState>) -> ApiResult<Json<Health>> {
    state.storage.health().await.map_err(|e| {
        tracing::error!(error = %e, "health check failed");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unhealthy",
            "The database does not answer",
        )
    })?;
    state.blobs.health().await.map_err(|e| {
        tracing::error!(error = %e, "health check failed: photo store");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unhealthy",
            "The photo store does not answer",
        )
    })?;
    Ok(Json(Health {
        status: HealthStatus::Ok,
    }))
}

#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    operation_id = "getOpenApi",
    tag = "server",
    summary = "This document",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object))
)]
async fn openapi(Extension(doc): Extension<Arc<serde_json::Value>>) -> Json<serde_json::Value> {
    Json(doc.as_ref().clone())
}

async fn not_found() -> Response {
    ApiError::not_found("route").into_response()
}

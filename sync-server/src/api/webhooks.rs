//! The desk's webhook endpoints and their delivery log (`crate::webhooks`, ADR 0015).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::auth::DispatcherAuth;
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult};
use crate::webhooks::{DeliveryLog, Endpoint, WebhookEvent, new_secret, valid_url};
use fieldcore::domain::limits::NAME_MAX_CHARS;

/// An organisation's receivers at most: each event is sent to every one subscribed.
pub const MAX_ENDPOINTS: usize = 10;
/// How much of the delivery log one answer holds (newest first).
pub const LOG_ROWS: usize = 200;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_webhook, webhooks))
        .routes(routes!(delete_webhook))
        .routes(routes!(deliveries))
        .routes(routes!(retry_delivery))
}

/// `POST /v1/webhooks`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewWebhook {
    /// Where to POST: an http or https URL with a host, at most 2 000 bytes. (The pattern is
    /// a safe subset for generated examples; any URL the WHATWG parser accepts is taken.)
    #[schema(
        max_length = 2000,
        pattern = "^https?://[a-z][a-z0-9-]{0,30}(\\.[a-z][a-z0-9-]{0,30}){0,3}(:[1-9][0-9]{0,3})?(/[A-Za-z0-9._~-]{0,30}){0,4}$"
    )]
    pub url: String,
    /// The job events to send (at least one).
    #[schema(min_items = 1)]
    pub events: Vec<WebhookEvent>,
    /// Only jobs of this ordering party (the order's `ordering_party`, exactly): what a
    /// merchant's or platform's receiver is given. Absent or blank: every job of the
    /// organisation.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub ordering_party: Option<String>,
}

/// A receiver. The secret signs every delivery (`webhook-signature`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Webhook {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<WebhookEvent>,
    pub ordering_party: Option<String>,
    pub secret: String,
    pub created_at: DateTime<Utc>,
}

impl From<Endpoint> for Webhook {
    fn from(e: Endpoint) -> Self {
        Webhook {
            id: e.id,
            url: e.url,
            events: e.events,
            ordering_party: e.ordering_party,
            secret: e.secret,
            created_at: e.created_at,
        }
    }
}

/// Check and store a new endpoint for the dispatcher's organisation: the one place the JSON API
/// and the console's form create them.
pub(crate) async fn add(
    state: &AppState,
    auth: &DispatcherAuth,
    req: NewWebhook,
) -> ApiResult<Webhook> {
    let org = auth.dispatcher.organisation_id;
    let mut events = req.events;
    events.sort();
    events.dedup();
    let party = req
        .ordering_party
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    if !valid_url(req.url.trim())
        || events.is_empty()
        || party.is_some_and(|p| p.chars().count() > NAME_MAX_CHARS)
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "A webhook needs an http(s) URL and at least one event",
        ));
    }
    if !state.config.webhook_allow_private_networks
        && let Some(ip) = crate::webhooks::destination::private_literal(req.url.trim())
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "A webhook goes to a public address",
        )
        .detail(format!("{ip} is not a public address")));
    }
    if state.storage.webhooks(org).await?.len() >= MAX_ENDPOINTS {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "too-many-webhooks",
            "This organisation has as many webhooks as it may have",
        )
        .detail(format!("at most {MAX_ENDPOINTS}; delete one first")));
    }
    let endpoint = Endpoint {
        id: Uuid::now_v7(),
        org_id: org,
        url: req.url.trim().to_string(),
        secret: new_secret(),
        events,
        ordering_party: party.map(str::to_string),
        created_at: state.config.clock.now(),
    };
    state.storage.create_webhook(&endpoint).await?;
    Ok(endpoint.into())
}

#[utoipa::path(
    post,
    path = "/v1/webhooks",
    operation_id = "createWebhook",
    tag = "webhooks",
    summary = "Send job events to a receiver",
    request_body = NewWebhook,
    responses(
        (status = 201, description = "Added; its secret signs every delivery", body = Webhook),
        (status = 409, description = "The organisation has as many webhooks as it may have"),
        (status = 422, description = "Not an http(s) URL, or no events"),
    ),
    security(("dispatcherSession" = []))
)]
async fn create_webhook(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiJson(req): ApiJson<NewWebhook>,
) -> ApiResult<(StatusCode, Json<Webhook>)> {
    Ok((StatusCode::CREATED, Json(add(&state, &auth, req).await?)))
}

#[utoipa::path(
    get,
    path = "/v1/webhooks",
    operation_id = "listWebhooks",
    tag = "webhooks",
    summary = "The organisation's receivers",
    responses((status = 200, description = "Oldest first", body = Vec<Webhook>)),
    security(("dispatcherSession" = []))
)]
async fn webhooks(
    State(state): State<AppState>,
    auth: DispatcherAuth,
) -> ApiResult<Json<Vec<Webhook>>> {
    let all = state
        .storage
        .webhooks(auth.dispatcher.organisation_id)
        .await?;
    Ok(Json(all.into_iter().map(Webhook::from).collect()))
}

#[utoipa::path(
    delete,
    path = "/v1/webhooks/{id}",
    operation_id = "deleteWebhook",
    tag = "webhooks",
    summary = "Stop sending to a receiver (its deliveries go too)",
    params(("id" = Uuid, Path, description = "Webhook id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such webhook in your organisation"),
    ),
    security(("dispatcherSession" = []))
)]
async fn delete_webhook(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    if state
        .storage
        .delete_webhook(auth.dispatcher.organisation_id, id)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("webhook"))
    }
}

#[utoipa::path(
    get,
    path = "/v1/webhooks/deliveries",
    operation_id = "listWebhookDeliveries",
    tag = "webhooks",
    summary = "The delivery log: each event sent, its attempts and what came of them",
    responses((status = 200, description = "Newest first, at most 200", body = Vec<DeliveryLog>)),
    security(("dispatcherSession" = []))
)]
async fn deliveries(
    State(state): State<AppState>,
    auth: DispatcherAuth,
) -> ApiResult<Json<Vec<DeliveryLog>>> {
    let org = auth.dispatcher.organisation_id;
    Ok(Json(state.storage.deliveries(org, LOG_ROWS).await?))
}

#[utoipa::path(
    post,
    path = "/v1/webhooks/deliveries/{id}/retry",
    operation_id = "retryWebhookDelivery",
    tag = "webhooks",
    summary = "Send a delivery again now (given up, or waiting for its next attempt)",
    params(("id" = Uuid, Path, description = "Delivery id (its `webhook-id`)")),
    responses(
        (status = 204, description = "Queued"),
        (status = 404, description = "No such undelivered delivery in your organisation"),
    ),
    security(("dispatcherSession" = []))
)]
async fn retry_delivery(
    State(state): State<AppState>,
    auth: DispatcherAuth,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    let (org, now) = (auth.dispatcher.organisation_id, state.config.clock.now());
    if state.storage.retry_delivery(org, id, now).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("delivery"))
    }
}

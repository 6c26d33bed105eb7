//! Idempotency keys for the desk's requests: a dispatcher whose browser or script retries a
//! request (a timeout, a double click, a flaky office network) must not make a second job, a
//! second technician or a second enrolment code.
//!
//! A `POST` from a dispatcher (API: bearer session; console: the session cookie) that carries a
//! key (`Idempotency-Key` header; console forms a hidden `idempotency_key` field, which every
//! form the console renders has) is run once per organisation and key: the first answer (a
//! success or a redirect) is kept for a day and replayed to every retry with
//! `Idempotent-Replayed: true`. While the first request runs, a retry waits for its answer
//! (up to 10 s, then 409); the same key on a different request, or from another dispatcher,
//! gets 422; a refused first attempt frees the key, so the retry runs. The request runs to its
//! end even if the client goes away. The key is taken before the request runs and its answer
//! stored after it commits: only a process killed between the two leaves a pending key, taken
//! over after a minute (the one window where a retry could act twice).

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::AppState;
use crate::auth::{bearer_header, token_hash};
use crate::error::ApiError;
use crate::storage::{IdempotencyBegin, StoredResponse};

pub const HEADER: &str = "idempotency-key";
/// The console's forms carry their key in this field.
pub const FORM_FIELD: &str = "idempotency_key";
const REPLAYED: &str = "idempotent-replayed";
/// Keys are client-made: a UUID or similar, bounded.
const KEY_MAX: usize = 255;
/// A pending key this old belonged to an attempt that died.
const STALE_SECS: i64 = 60;
/// How long a retry waits for the first request with its key to answer.
const WAIT_FOR_FIRST_MS: u64 = 10_000;

pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let path = req.uri().path().to_string();
    let console = path.starts_with("/console/") && path != "/console/login";
    let api = path.starts_with("/v1/")
        && !path.starts_with("/v1/sync/")
        && !path.starts_with("/v1/uploads")
        && path != "/v1/devices/enroll"
        && path != "/v1/auth/login";
    if !console && !api {
        return next.run(req).await;
    }
    let header_key = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if api && header_key.is_none() {
        return next.run(req).await;
    }
    // Whose request: the dispatcher's organisation, from the session (bearer or cookie).
    let session = match bearer_header(req.headers()) {
        Some(t) => Some(token_hash(t)),
        None => crate::console::session_cookie(req.headers()).map(token_hash),
    };
    let Some(session) = session else {
        return next.run(req).await;
    };
    let (org, dispatcher) = match state
        .storage
        .session(&session, state.config.clock.now())
        .await
    {
        Ok(Some(d)) => (d.organisation_id, d.id),
        // Not logged in: the handler answers that.
        Ok(None) => return next.run(req).await,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, state.config.json_body_limit).await else {
        return ApiError::too_large("the request body is too large").into_response();
    };
    let key = header_key.or_else(|| console_key(&bytes));
    let Some(key) = key else {
        return next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
    };
    if key.is_empty() || key.len() > KEY_MAX || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return ApiError::bad_request(format!(
            "Idempotency-Key: 1 to {KEY_MAX} visible ASCII characters"
        ))
        .into_response();
    }
    let fingerprint = fingerprint(dispatcher, &parts.method, &path, &bytes);
    let mut waited = 0;
    let begun = loop {
        let now = state.config.clock.now();
        let stale = now - chrono::Duration::seconds(STALE_SECS);
        let begun = state
            .storage
            .idempotency_begin(org, &key, &fingerprint, now, stale)
            .await;
        // The first request with this key is still running (a double click): wait for its
        // answer rather than refuse, for a while.
        if matches!(begun, Ok(IdempotencyBegin::InProgress)) && waited < WAIT_FOR_FIRST_MS {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            waited += 100;
            continue;
        }
        break begun;
    };
    match begun {
        Err(e) => ApiError::from(e).into_response(),
        Ok(IdempotencyBegin::Done(stored)) => replay(stored),
        Ok(IdempotencyBegin::InProgress) => ApiError::new(
            StatusCode::CONFLICT,
            "idempotency-key-in-use",
            "A request with this Idempotency-Key is being answered",
        )
        .detail("retry in a moment to get its answer")
        .header(header::RETRY_AFTER, HeaderValue::from_static("1"))
        .into_response(),
        Ok(IdempotencyBegin::Mismatch) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency-key-reused",
            "This Idempotency-Key was used for a different request",
        )
        .into_response(),
        Ok(IdempotencyBegin::Fresh) => {
            let res = next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
            keep(&state, org, &key, res).await
        }
    }
}

/// Keep the answer under the key and hand it on. Only an answer that says nothing was done
/// lets the key go, so the retry runs again: a refusal (4xx), or a 503 / 429 (nothing stored,
/// retry later). Any other answer, a 500 after a commit included, is kept: a retry must not
/// make a second job because the first answer was an error.
async fn keep(state: &AppState, org: Uuid, key: &str, res: Response) -> Response {
    let status = res.status();
    if status.is_client_error() || status == StatusCode::SERVICE_UNAVAILABLE {
        if let Err(e) = state.storage.idempotency_abort(org, key).await {
            tracing::warn!(error = %e, "idempotency key not released; it goes stale");
        }
        return res;
    }
    let (parts, body) = res.into_parts();
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let headers = [header::CONTENT_TYPE, header::LOCATION]
        .iter()
        .filter_map(|h| {
            parts
                .headers
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(|v| (h.as_str().to_string(), v.to_string()))
        })
        .collect();
    let stored = StoredResponse {
        status: status.as_u16(),
        headers,
        body: bytes.to_vec(),
    };
    if let Err(e) = state.storage.idempotency_finish(org, key, &stored).await {
        // The work is done and committed; only the replay is lost (a retry will run again).
        tracing::warn!(error = %e, "idempotent answer not kept");
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn replay(stored: StoredResponse) -> Response {
    let mut res = Body::from(stored.body).into_response();
    *res.status_mut() = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    for (name, value) in stored.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::from_str(&value),
        ) {
            res.headers_mut().insert(n, v);
        }
    }
    res.headers_mut().insert(
        HeaderName::from_static(REPLAYED),
        HeaderValue::from_static("true"),
    );
    res
}

/// The key a console form carries in its hidden field.
fn console_key(body: &[u8]) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == FORM_FIELD)
        .map(|(_, v)| v)
}

/// What the request was, and who sent it: the same key on another request, or from another
/// dispatcher, is refused, not replayed.
fn fingerprint(dispatcher: Uuid, method: &Method, path: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(dispatcher.as_bytes());
    h.update(method.as_str().as_bytes());
    h.update(b" ");
    h.update(path.as_bytes());
    h.update(b"\n");
    h.update(body);
    hex::encode(h.finalize())
}

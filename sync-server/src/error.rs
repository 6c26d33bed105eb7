//! The one error type of the HTTP layer: every failure leaves as RFC 9457
//! `application/problem+json` ([`fieldcore::protocol::Problem`]), with a stable `type` a client
//! can switch on and, where the rulebook refused, the rule's code.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fieldcore::domain::{Refusal, Rule};
use fieldcore::protocol::{PROBLEM_CONTENT_TYPE, Problem};
use serde::de::DeserializeOwned;

use crate::storage::StorageError;

/// Boxed so `Result<T, ApiError>` stays small on the happy path.
#[derive(Debug, thiserror::Error)]
#[error("{} {}: {}", .0.status, .0.kind, .0.title)]
pub struct ApiError(Box<ProblemParts>);

#[derive(Debug)]
pub struct ProblemParts {
    pub status: StatusCode,
    pub kind: String,
    pub title: String,
    pub detail: Option<String>,
    pub rule: Option<String>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, kind: &str, title: &str) -> Self {
        ApiError(Box::new(ProblemParts {
            status,
            kind: format!("/problems/{kind}"),
            title: title.to_string(),
            detail: None,
            rule: None,
            headers: Vec::new(),
        }))
    }

    /// What the problem says, for callers that show it another way (the console's HTML).
    pub fn parts(&self) -> &ProblemParts {
        &self.0
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.0.detail = Some(detail.into());
        self
    }

    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.0.headers.push((name, value));
        self
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", "Bad request").detail(detail)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Missing, unknown, expired or revoked credentials",
        )
        .header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found").detail(format!("no such {what}"))
    }

    pub fn too_large(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Request too large",
        )
        .detail(detail)
    }

    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal server error",
        )
    }

    /// The rulebook said no to a desk action: unknown job 404, bad input 422, state 409.
    pub fn refused(rule: &str, message: &str) -> Self {
        let status = if rule == Rule::UnknownJob.code() {
            StatusCode::NOT_FOUND
        } else if rule == Rule::InvalidInput.code() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::CONFLICT
        };
        let mut e =
            Self::new(status, "rule-refused", "The rulebook refused this action").detail(message);
        e.0.rule = Some(rule.to_string());
        e
    }

    pub fn from_refusal(r: &Refusal) -> Self {
        Self::refused(r.rule.code(), &r.message(fieldcore::domain::Lang::En))
    }

    fn from_rejection(status: StatusCode, text: String) -> Self {
        match status {
            StatusCode::PAYLOAD_TOO_LARGE => Self::too_large(text),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                Self::new(status, "unsupported-media-type", "Unsupported media type").detail(text)
            }
            StatusCode::UNPROCESSABLE_ENTITY => {
                Self::new(status, "invalid-body", "The body does not match the schema").detail(text)
            }
            _ => Self::bad_request(text),
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Conflict(what) => {
                Self::new(StatusCode::CONFLICT, "conflict", "Already exists").detail(what)
            }
            StorageError::DeviceTaken => Self::new(
                StatusCode::CONFLICT,
                "device-id-taken",
                "This device id is enrolled for another technician",
            )
            .detail("the enrolment code was not used; reinstall the app to get a new device id"),
            StorageError::Busy => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "The server is busy; nothing was stored",
            )
            .detail("retry in a few seconds")
            .header(header::RETRY_AFTER, HeaderValue::from_static("5")),
            other => Self::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let p = *self.0;
        let problem = Problem {
            kind: p.kind,
            title: p.title,
            status: p.status.as_u16(),
            detail: p.detail,
            rule: p.rule,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut res = (p.status, body).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
        );
        for (name, value) in p.headers {
            res.headers_mut().insert(name, value);
        }
        res
    }
}

/// `axum::Json`, but a bad body is a problem document, not plain text.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            )
            .detail("send the body as Content-Type: application/json"));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|r| ApiError::from_rejection(r.status(), r.body_text()))?;
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(r) => whole_numbers_as_integers::<T>(&bytes)
                .map(ApiJson)
                .ok_or_else(|| json_rejection(r)),
        }
    }
}

/// `application/json`, or any `+json` type, as axum's `Json` takes.
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(t) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = t
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json"))
}

/// JSON has one number type: `2.0` is the integer 2 to a JSON Schema and to many encoders, and
/// a client that writes it must not be refused. Tried only after the body failed to decode as
/// sent, so a body that decodes pays nothing: whole numbers written with a fraction (within
/// 2^53, where a double holds them exactly) become integers, then the body decodes again.
pub(crate) fn whole_numbers_as_integers<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    fn fix(v: &mut serde_json::Value) -> bool {
        match v {
            serde_json::Value::Number(n) if !n.is_i64() && !n.is_u64() => {
                let Some(f) = n.as_f64() else { return false };
                if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 {
                    // Exact: |f| <= 2^53 is an integer a double holds exactly.
                    *v = serde_json::Value::from(f as i64);
                    return true;
                }
                false
            }
            // Every member is fixed (no short cut): `|=`, not `any`.
            serde_json::Value::Array(a) => {
                let mut changed = false;
                for x in a {
                    changed |= fix(x);
                }
                changed
            }
            serde_json::Value::Object(o) => {
                let mut changed = false;
                for x in o.values_mut() {
                    changed |= fix(x);
                }
                changed
            }
            _ => false,
        }
    }
    let mut v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    if !fix(&mut v) {
        return None;
    }
    serde_json::from_value(v).ok()
}

fn json_rejection(r: JsonRejection) -> ApiError {
    ApiError::from_rejection(r.status(), r.body_text())
}

/// `axum::extract::Path` with problem documents for bad ids.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(r) => Err(path_rejection(r)),
        }
    }
}

fn path_rejection(r: PathRejection) -> ApiError {
    // A malformed id names nothing that exists.
    ApiError::not_found("resource").detail(r.body_text())
}

/// `axum::extract::Query` with problem documents.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(r) => Err(query_rejection(r)),
        }
    }
}

fn query_rejection(r: QueryRejection) -> ApiError {
    ApiError::bad_request(r.body_text())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Rating {
        quality: u8,
        at: f64,
    }

    #[test]
    fn a_whole_number_written_with_a_fraction_is_that_integer() {
        assert_eq!(
            whole_numbers_as_integers::<Rating>(br#"{"quality": 4.0, "at": 1.5}"#),
            Some(Rating {
                quality: 4,
                at: 1.5
            })
        );
        // Not whole, out of range, or nothing to fix: still refused.
        assert_eq!(
            whole_numbers_as_integers::<Rating>(br#"{"quality": 4.5, "at": 1}"#),
            None
        );
        assert_eq!(
            whole_numbers_as_integers::<Rating>(br#"{"quality": 256.0, "at": 1}"#),
            None
        );
        assert_eq!(
            whole_numbers_as_integers::<Rating>(br#"{"quality": "4", "at": 1}"#),
            None
        );
    }
}

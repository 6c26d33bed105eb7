//! The HTTP seam: one blocking client, the device's clock headers on every request, problem
//! documents decoded into typed errors, and a clock offset sample from every response.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::RETRY_AFTER;

use super::error::SyncError;
use crate::domain::Lang;
use crate::protocol::{HEADER_DEVICE_MONOTONIC, HEADER_DEVICE_TIME, HEADER_SERVER_TIME, Problem};
use crate::store::Clock;

#[derive(Debug, Clone)]
pub(crate) struct Http {
    client: Client,
    base_url: String,
}

/// One response, with what it told us about the server's clock.
pub(crate) struct Answer {
    pub response: Response,
    /// Server clock minus device clock, estimated NTP-style from this round trip.
    pub offset_ms: Option<i64>,
}

impl Http {
    pub fn new(base_url: &str, timeout: Duration, lang: Lang) -> Result<Http, SyncError> {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::ACCEPT_LANGUAGE,
            reqwest::header::HeaderValue::from_static(lang.tag()),
        );
        let client = Client::builder()
            .default_headers(headers)
            .connect_timeout(Duration::from_secs(10))
            .timeout(timeout)
            .user_agent(concat!("fieldcore/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Http {
            client,
            base_url: base_url.trim_end_matches('/').to_string(),
        })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// An absolute URL for a path (`/v1/...`) or a `Location` the server returned.
    pub fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            path_or_url.to_string()
        } else {
            format!("{}{}", self.base_url, path_or_url)
        }
    }

    /// Send with the clock headers; turn non-2xx answers into typed errors.
    pub fn send(
        &self,
        request: RequestBuilder,
        clock: &dyn Clock,
        token: Option<&str>,
    ) -> Result<Answer, SyncError> {
        let before = clock.now();
        let mut request = request
            .header(HEADER_DEVICE_TIME, before.to_rfc3339())
            .header(HEADER_DEVICE_MONOTONIC, clock.monotonic_ms().to_string());
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        let response = request.send()?;
        let after = clock.now();
        let offset_ms = response
            .headers()
            .get(HEADER_SERVER_TIME)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
            .map(|server| {
                let midpoint = before + (after - before) / 2;
                (server.with_timezone(&Utc) - midpoint).num_milliseconds()
            });
        let status = response.status();
        if status.is_success() {
            return Ok(Answer {
                response,
                offset_ms,
            });
        }
        if status.as_u16() == 401 {
            return Err(SyncError::Unauthorized);
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let code = status.as_u16();
        let body = response.text().unwrap_or_default();
        let problem = serde_json::from_str::<Problem>(&body).unwrap_or_else(|_| Problem {
            kind: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("error").into(),
            status: code,
            detail: (!body.is_empty()).then(|| body.chars().take(300).collect()),
            rule: None,
        });
        Err(SyncError::Server {
            status: code,
            problem: Box::new(problem),
            retry_after,
        })
    }
}

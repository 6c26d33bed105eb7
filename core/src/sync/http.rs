//! The HTTP seam: one blocking client, the device's clock headers on every request, problem
//! documents decoded into typed errors, and a clock offset sample from every response.
//!
//! The client is `ureq` (ADR 0010): blocking like the sync itself, no async runtime, rustls with
//! the `ring` provider and the OS trust store (platform verifier). It is what the phone library
//! carries, so its size counts: reqwest with tokio, hyper, h2 and aws-lc was most of the
//! library (`docs/benchmarks.md`, "mobile library size").

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use ureq::http::Response;
use ureq::tls::{RootCerts, TlsConfig};
use ureq::{Agent, Body, RequestBuilder};

use super::error::SyncError;
use crate::domain::Lang;
use crate::protocol::{HEADER_DEVICE_MONOTONIC, HEADER_DEVICE_TIME, HEADER_SERVER_TIME, Problem};
use crate::store::Clock;

/// The largest answer read into memory: a pull page of 500 events with long notes is a few
/// megabytes; a server (or a captive portal) sending more is not believed.
const MAX_ANSWER_BYTES: u64 = 64 * 1024 * 1024;

/// The longest `Retry-After` a sync waits inside itself: the header comes from the network, and
/// a longer pause belongs to the platform's scheduler (`next_sync_delay`), not a running sync.
const MAX_RETRY_AFTER_SECS: u64 = 300;

/// The most one read of a request body hands to the HTTP client: so "left the device" is
/// counted close to the socket, not a whole request ahead of it.
const BODY_READ_MAX: usize = 16 * 1024;

/// A request body that tells, as the HTTP client takes it, how much has gone: progress counted
/// as bytes leave, not per confirmed request. (The OS's socket buffer still holds some; no
/// portable API says how much of it reached the network.)
pub(crate) struct CountingBody<'a> {
    body: &'a [u8],
    taken: usize,
    on_taken: &'a dyn Fn(usize),
}

impl<'a> CountingBody<'a> {
    pub fn new(body: &'a [u8], on_taken: &'a dyn Fn(usize)) -> Self {
        CountingBody {
            body,
            taken: 0,
            on_taken,
        }
    }

    pub fn len(&self) -> usize {
        self.body.len()
    }

    /// Bytes the client has taken so far.
    pub fn taken(&self) -> usize {
        self.taken
    }
}

impl Read for CountingBody<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let rest = &self.body[self.taken..];
        let n = rest.len().min(buf.len()).min(BODY_READ_MAX);
        buf[..n].copy_from_slice(&rest[..n]);
        if n > 0 {
            self.taken += n;
            (self.on_taken)(self.taken);
        }
        Ok(n)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Http {
    agent: Agent,
    base_url: String,
    lang: Lang,
}

/// One response, with what it told us about the server's clock.
pub(crate) struct Answer {
    pub response: Response<Body>,
    /// Server clock minus device clock, estimated NTP-style from this round trip.
    pub offset_ms: Option<i64>,
}

impl Answer {
    /// The body as JSON, within [`MAX_ANSWER_BYTES`]. A body cut off or timed out on the way is
    /// a network failure (worth retrying); one that is too large or not the JSON we expect is
    /// the server's.
    pub fn json<T: DeserializeOwned>(mut self) -> Result<T, SyncError> {
        self.response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_json()
            .map_err(|e| match e {
                ureq::Error::Json(j) if j.is_io() => SyncError::Network(j.to_string()),
                ureq::Error::Json(_) | ureq::Error::BodyExceedsLimit(_) => {
                    SyncError::Protocol(e.to_string())
                }
                other => SyncError::from(other),
            })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
    }
}

impl Http {
    /// `timeout` bounds a whole request (photo chunks, pushes and pull pages lift it: they are
    /// sized by time instead); `stall` bounds each read and write of the socket, so a request
    /// fails as soon as nothing moves for that long.
    pub fn new(
        base_url: &str,
        timeout: Duration,
        stall: Duration,
        lang: Lang,
    ) -> Result<Http, SyncError> {
        let agent = Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(timeout))
            .timeout_per_read(Some(stall))
            .timeout_per_write(Some(stall))
            // Non-2xx answers are read here, as problem documents.
            .http_status_as_error(false)
            // A redirect is answered as what it is (a refusal): ureq would follow it and drop
            // the token, and the 401 that follows would read as a revoked device.
            .max_redirects(0)
            .max_redirects_will_error(false)
            .user_agent(concat!("fieldcore/", env!("CARGO_PKG_VERSION")))
            .tls_config(
                TlsConfig::builder()
                    .root_certs(RootCerts::PlatformVerifier)
                    .unversioned_rustls_crypto_provider(Arc::new(
                        rustls::crypto::ring::default_provider(),
                    ))
                    .build(),
            )
            .build()
            .new_agent();
        Ok(Http {
            agent,
            base_url: base_url.trim_end_matches('/').to_string(),
            lang,
        })
    }

    pub fn agent(&self) -> &Agent {
        &self.agent
    }

    /// An absolute URL for a path (`/v1/...`) or a `Location` the server returned.
    pub fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            path_or_url.to_string()
        } else {
            format!("{}{}", self.base_url, path_or_url)
        }
    }

    /// Send with the clock headers (`dispatch` sends the body, or none); turn non-2xx answers
    /// into typed errors.
    pub fn send<B>(
        &self,
        request: RequestBuilder<B>,
        clock: &dyn Clock,
        token: Option<&str>,
        dispatch: impl FnOnce(RequestBuilder<B>) -> Result<Response<Body>, ureq::Error>,
    ) -> Result<Answer, SyncError> {
        let before = clock.now();
        let mut request = request
            .header("Accept-Language", self.lang.tag())
            .header(HEADER_DEVICE_TIME, before.to_rfc3339())
            .header(HEADER_DEVICE_MONOTONIC, clock.monotonic_ms().to_string());
        if let Some(t) = token {
            request = request.header("Authorization", format!("Bearer {t}"));
        }
        let mut response = dispatch(request)?;
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
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|secs| Duration::from_secs(secs.min(MAX_RETRY_AFTER_SECS)));
        let code = status.as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .unwrap_or_default();
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

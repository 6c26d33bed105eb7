//! A token bucket per authenticated principal (keyed by the token's hash, once that token has
//! proved valid) and per client address for everything else: a request with no bearer, or with
//! a bearer this process has not seen authenticate, counts against its address, so minting a
//! fresh random bearer per request buys nothing. Logins also pay per account: each failure for
//! an email makes the next attempt on it wait longer ([`LoginThrottle`]), whatever address it
//! comes from.
//!
//! In memory, so the limit holds per process: N processes behind a load balancer allow up to N
//! times the rate. That is acceptable as abuse protection; a shared limit would live in the
//! database or a cache.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::auth::token_hash;
use crate::error::ApiError;

#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
    /// Token hashes that authenticated lately, with when: only these get a bucket of their own.
    valid: Mutex<HashMap<String, Instant>>,
    pub logins: LoginThrottle,
}

/// How long a token that authenticated keeps its own bucket without authenticating again.
const VALID_FOR: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Above this many keys, full buckets (idle clients) are forgotten.
const PRUNE_ABOVE: usize = 10_000;

impl RateLimiter {
    pub fn new(per_second: f64, burst: f64) -> Self {
        RateLimiter {
            per_second: per_second.max(0.001),
            burst: burst.max(1.0),
            buckets: Mutex::new(HashMap::new()),
            valid: Mutex::new(HashMap::new()),
            logins: LoginThrottle::default(),
        }
    }

    /// The auth extractors call this when a bearer token authenticated.
    pub fn authenticated(&self, token_hash: &str) {
        let now = Instant::now();
        let mut valid = self.valid.lock().unwrap_or_else(|p| p.into_inner());
        if valid.len() > PRUNE_ABOVE {
            valid.retain(|_, at| now.duration_since(*at) < VALID_FOR);
        }
        valid.insert(token_hash.to_string(), now);
    }

    fn is_authenticated(&self, token_hash: &str) -> bool {
        let valid = self.valid.lock().unwrap_or_else(|p| p.into_inner());
        valid
            .get(token_hash)
            .is_some_and(|at| at.elapsed() < VALID_FOR)
    }

    /// Take one token for `key`, or say how long until one is there.
    pub fn take(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            let (rate, burst) = (self.per_second, self.burst);
            buckets.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < burst);
        }
        let b = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        b.tokens =
            (b.tokens + now.duration_since(b.at).as_secs_f64() * self.per_second).min(self.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / self.per_second))
        }
    }
}

pub async fn limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let principal = crate::auth::bearer_header(req.headers())
        .map(token_hash)
        .filter(|h| state.limiter.is_authenticated(h));
    let key = match principal {
        Some(hash) => hash,
        None => match req.extensions().get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(addr)) => format!("ip:{}", addr.ip()),
            None => "anonymous".to_string(),
        },
    };
    match state.limiter.take(&key) {
        Ok(()) => next.run(req).await,
        Err(wait) => too_many(wait),
    }
}

/// 429 with `Retry-After` in whole seconds.
pub fn too_many(wait: Duration) -> Response {
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        "Too many requests",
    )
    .detail(format!("retry in {secs} s"))
    .header(header::RETRY_AFTER, HeaderValue::from(secs))
    .into_response()
}

/// Failed logins per account. The first few failures are free (a typo); after that each one
/// doubles the wait before the next attempt on that account is even checked, up to
/// [`LOGIN_MAX_WAIT`]. A success clears the count. Guessing one dispatcher's password from many
/// addresses is so held to a handful of tries an hour.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

/// Failures allowed before waits begin.
pub const LOGIN_FREE_FAILURES: u32 = 5;
pub const LOGIN_MAX_WAIT: Duration = Duration::from_secs(15 * 60);

impl LoginThrottle {
    fn key(email: &str) -> String {
        email.trim().to_lowercase()
    }

    fn wait_after(failures: u32) -> Duration {
        if failures < LOGIN_FREE_FAILURES {
            return Duration::ZERO;
        }
        let exp = (failures - LOGIN_FREE_FAILURES).min(20);
        Duration::from_secs(1u64 << exp).min(LOGIN_MAX_WAIT)
    }

    /// Take one attempt on the account: `Err(wait)` while it must wait. The attempt counts as a
    /// failure from this moment (under the same lock as the check), so many attempts sent at
    /// once cannot all pass before the first one's password is checked; a success clears it.
    pub fn attempt(&self, email: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() > PRUNE_ABOVE {
            failures.retain(|_, (n, at)| now.duration_since(*at) < Self::wait_after(*n));
        }
        let e = failures.entry(Self::key(email)).or_insert((0, now));
        let wait = Self::wait_after(e.0);
        let passed = now.duration_since(e.1);
        if e.0 > 0 && passed < wait {
            return Err(wait - passed);
        }
        e.0 = e.0.saturating_add(1);
        e.1 = now;
        Ok(())
    }

    /// The attempt's password was wrong: the wait runs from now (the end of the check), not
    /// from when the attempt began.
    pub fn failed(&self, email: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = failures.get_mut(&Self::key(email)) {
            e.1 = Instant::now();
        }
    }

    pub fn succeeded(&self, email: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.remove(&Self::key(email));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_bucket_refills_at_the_rate() {
        let l = RateLimiter::new(1000.0, 3.0);
        assert!(l.take("a").is_ok());
        assert!(l.take("a").is_ok());
        assert!(l.take("a").is_ok());
        assert!(l.take("a").is_err());
        assert!(l.take("b").is_ok(), "keys have their own buckets");
        std::thread::sleep(Duration::from_millis(5));
        assert!(l.take("a").is_ok());
    }

    #[test]
    fn login_waits_grow_per_account_after_the_free_failures_and_a_success_clears_them() {
        let t = LoginThrottle::default();
        // Attempts sent at once: only the free ones pass, whatever their passwords.
        for _ in 0..LOGIN_FREE_FAILURES {
            assert!(t.attempt("Desk@Example.com").is_ok());
        }
        let first = t.attempt(" DESK@example.com").unwrap_err();
        assert!(first <= Duration::from_secs(1));
        assert!(t.attempt("other@example.com").is_ok(), "accounts are apart");
        t.succeeded("desk@example.com");
        assert!(t.attempt("desk@example.com").is_ok());
        assert_eq!(LoginThrottle::wait_after(200), LOGIN_MAX_WAIT);
        assert!(LoginThrottle::wait_after(LOGIN_FREE_FAILURES + 1) > Duration::from_secs(1));
    }
}

//! A token bucket per bearer token (keyed by the token's hash; by client address for requests
//! without one). In memory, so the limit holds per process: N processes behind a load balancer
//! allow up to N times the rate. That is acceptable as abuse protection; a shared limit would
//! live in the database or a cache.

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
}

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
        }
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
    let key = match crate::auth::bearer_header(req.headers()) {
        Some(token) => token_hash(token),
        None => match req.extensions().get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(addr)) => format!("ip:{}", addr.ip()),
            None => "anonymous".to_string(),
        },
    };
    match state.limiter.take(&key) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
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
}

//! Operators' metrics at `GET /metrics`, in the OpenMetrics text format Prometheus scrapes:
//! requests and their latency by route, push events by outcome, upload bytes and open uploads,
//! and how long writes wait for the writer. One set per process (a process is what Prometheus
//! scrapes); the open uploads are counted in the database when scraped, so every process
//! reports the same truth.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use fieldcore::protocol::{PushResult, PushStatus};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::AppState;
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    /// The route's template (`/v1/jobs/{id}`), never the raw path: ids would make a series
    /// per job.
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

struct Metrics {
    registry: Registry,
    requests: Family<RouteLabels, Counter>,
    latency: HistogramFamily<RouteLabels>,
    push_events: Family<OutcomeLabels, Counter>,
    upload_bytes: Counter,
    open_uploads: Gauge,
    open_upload_bytes: Gauge,
    write_queue: Histogram,
}

fn latency_buckets() -> Histogram {
    // 1 ms .. ~33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

impl Metrics {
    fn new() -> Self {
        let mut m = Metrics {
            registry: Registry::with_prefix("fieldcore"),
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_buckets),
            push_events: Family::default(),
            upload_bytes: Counter::default(),
            open_uploads: Gauge::default(),
            open_upload_bytes: Gauge::default(),
            write_queue: latency_buckets(),
        };
        let r = &mut m.registry;
        r.register(
            "http_requests",
            "HTTP requests answered, by method, route and status",
            m.requests.clone(),
        );
        r.register(
            "http_request_duration_seconds",
            "Time to answer, by method, route and status (tus PATCH: the whole body)",
            m.latency.clone(),
        );
        r.register(
            "push_events",
            "Events devices pushed, by outcome (accepted, duplicate, rejected)",
            m.push_events.clone(),
        );
        r.register(
            "upload_bytes",
            "Photo bytes stored by tus PATCH (committed)",
            m.upload_bytes.clone(),
        );
        r.register(
            "open_uploads",
            "Unfinished, unexpired uploads (all processes: counted in the database)",
            m.open_uploads.clone(),
        );
        r.register(
            "open_upload_bytes",
            "Declared bytes of the unfinished, unexpired uploads",
            m.open_upload_bytes.clone(),
        );
        r.register(
            "write_queue_seconds",
            "How long a batch of events waited for the writer (SQLite) or a database \
             connection (PostgreSQL) before its transaction began",
            m.write_queue.clone(),
        );
        m
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The push's results, counted by outcome.
pub fn count_push(results: &[PushResult]) {
    for r in results {
        let outcome = match r.status {
            PushStatus::Accepted => "accepted",
            PushStatus::Duplicate => "duplicate",
            PushStatus::Rejected => "rejected",
        };
        METRICS
            .push_events
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }
}

pub fn count_upload_bytes(n: u64) {
    METRICS.upload_bytes.inc_by(n);
}

/// A write began its transaction `waited` after it was asked for.
pub fn observe_write_queue(waited: Duration) {
    METRICS.write_queue.observe(waited.as_secs_f64());
}

/// Middleware: count and time every request by its route template.
pub async fn track(req: Request, next: Next) -> Response {
    let start = Instant::now();
    // Only the methods the server has; any other token a client sends (hyper accepts any)
    // would be a new series for ever.
    let method = match req.method().as_str() {
        m @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => m,
        _ => "other",
    }
    .to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_string();
    let res = next.run(req).await;
    let labels = RouteLabels {
        method,
        route,
        status: res.status().as_u16(),
    };
    METRICS.requests.get_or_create(&labels).inc();
    METRICS
        .latency
        .get_or_create(&labels)
        .observe(start.elapsed().as_secs_f64());
    res
}

#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "server",
    summary = "Operators' metrics in the OpenMetrics text format (for Prometheus)",
    responses(
        (status = 200, description = "The metrics", content_type = "application/openmetrics-text", body = String),
        (status = 503, description = "The database does not answer"),
    )
)]
pub async fn metrics(State(state): State<AppState>) -> ApiResult<Response> {
    let (n, bytes) = state
        .storage
        .open_uploads(None, state.config.clock.now())
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "metrics: counting open uploads failed");
            ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "unhealthy",
                "The database does not answer",
            )
        })?;
    METRICS
        .open_uploads
        .set(i64::try_from(n).unwrap_or(i64::MAX));
    METRICS
        .open_upload_bytes
        .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    let mut body = String::new();
    prometheus_client::encoding::text::encode(&mut body, &METRICS.registry)
        .map_err(ApiError::internal)?;
    let mut res = body.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    Ok(res)
}

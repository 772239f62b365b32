//! Prometheus metrics, served on the admin listener's `/metrics`.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// Every metric the gateway exports.
pub struct Metrics {
    registry: Registry,
    /// Requests by S3 operation, status class (`2xx`...) and auth scheme.
    pub requests: IntCounterVec,
    /// Request latency by S3 operation, in seconds.
    pub latency: HistogramVec,
    pub bytes_in: IntCounter,
    pub bytes_out: IntCounter,
    /// Upstream connections by whether they were reused from the pool.
    pub upstream_connections: IntCounterVec,
    /// Requests answered 503 SlowDown, by the limit that tripped.
    pub rate_limited: IntCounterVec,
    /// State cache lookups by result (`hit`, `miss`).
    pub state_cache: IntCounterVec,
    /// Access-log records dropped because the buffer was full.
    pub access_log_dropped: IntGauge,
    /// Requests the backend failed (connection lost, timed out), by S3 operation and whether
    /// the answer had begun (`true`: the client's connection was cut mid-answer).
    pub upstream_failures: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("bucketgate".into()), None).unwrap_or_default();
        let requests = IntCounterVec::new(
            Opts::new(
                "requests_total",
                "Requests by S3 operation, status class and auth scheme",
            ),
            &["operation", "status", "auth"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "request_duration_seconds",
                "Request latency by S3 operation",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
            &["operation"],
        )
        .expect("valid metric");
        let bytes_in = IntCounter::new("request_body_bytes_total", "Request body bytes received")
            .expect("valid metric");
        let bytes_out = IntCounter::new("response_body_bytes_total", "Response body bytes sent")
            .expect("valid metric");
        let upstream_connections = IntCounterVec::new(
            Opts::new(
                "upstream_connections_total",
                "Backend connections used, by reuse",
            ),
            &["reused"],
        )
        .expect("valid metric");
        let rate_limited = IntCounterVec::new(
            Opts::new(
                "rate_limited_total",
                "Requests refused with SlowDown, by limit",
            ),
            &["limit"],
        )
        .expect("valid metric");
        let state_cache = IntCounterVec::new(
            Opts::new("state_cache_lookups_total", "State cache lookups by result"),
            &["result"],
        )
        .expect("valid metric");
        let access_log_dropped = IntGauge::new(
            "access_log_dropped_records",
            "Access-log records dropped (buffer full)",
        )
        .expect("valid metric");
        let upstream_failures = IntCounterVec::new(
            Opts::new(
                "upstream_failures_total",
                "Requests the backend failed, by operation and whether the answer had begun",
            ),
            &["operation", "answered"],
        )
        .expect("valid metric");
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(bytes_in.clone()),
            Box::new(bytes_out.clone()),
            Box::new(upstream_connections.clone()),
            Box::new(rate_limited.clone()),
            Box::new(state_cache.clone()),
            Box::new(access_log_dropped.clone()),
            Box::new(upstream_failures.clone()),
        ] {
            // Names are fixed and distinct, so registration cannot collide.
            let _ = registry.register(collector);
        }
        Metrics {
            registry,
            requests,
            latency,
            bytes_in,
            bytes_out,
            upstream_connections,
            rate_limited,
            state_cache,
            access_log_dropped,
            upstream_failures,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// `2xx`, `4xx`, ... for a status code.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "none",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::new();
        m.requests
            .with_label_values(&["GetObject", "2xx", "sigv4-header"])
            .inc();
        m.latency.with_label_values(&["GetObject"]).observe(0.003);
        let text = m.render();
        assert!(text.contains("bucketgate_requests_total{auth=\"sigv4-header\",operation=\"GetObject\",status=\"2xx\"} 1"), "{text}");
        assert!(
            text.contains(
                "bucketgate_request_duration_seconds_bucket{operation=\"GetObject\",le=\"0.005\"} 1"
            ),
            "{text}"
        );
        assert_eq!(status_class(503), "5xx");
    }
}

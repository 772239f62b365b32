//! The admin listener: `/health` (the process is up), `/ready` (the backend answers) and
//! `/metrics` (Prometheus). Separate from the API listeners, so rate limits never touch it.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use http::{Method, Response};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;

use crate::features::access_log::AccessLogs;
use crate::telemetry::metrics::Metrics;
use crate::upstream::client::BackendClient;

pub struct AdminApp {
    pub metrics: Arc<Metrics>,
    pub client: Arc<BackendClient>,
    pub logs: Arc<AccessLogs>,
}

fn answer(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response<Vec<u8>> {
    let body = body.into();
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, content_type)
        .header(http::header::CONTENT_LENGTH, body.len())
        .body(body)
        .unwrap_or_default()
}

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        match session.req_header().uri.path() {
            "/health" => answer(200, "text/plain", "ok\n"),
            "/ready" => match self.client.send(Method::GET, "/", &[], Bytes::new()).await {
                // Any HTTP answer means the backend is up and reachable with our credential path.
                Ok(r) if r.status < 500 => answer(200, "text/plain", "ready\n"),
                Ok(r) => answer(
                    503,
                    "text/plain",
                    format!("backend answered {}\n", r.status),
                ),
                Err(e) => answer(
                    503,
                    "text/plain",
                    format!("backend unreachable: {}\n", e.message()),
                ),
            },
            "/metrics" => {
                self.metrics
                    .access_log_dropped
                    .set(self.logs.dropped() as i64);
                answer(200, "text/plain; version=0.0.4", self.metrics.render())
            }
            _ => answer(
                404,
                "text/plain",
                "not found: try /health, /ready or /metrics\n",
            ),
        }
    }
}

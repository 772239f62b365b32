//! The gateway's own requests to the backend: state documents, listings it filters, probes.
//!
//! Small bodies only (read whole, capped): object data never goes through here. Requests are
//! signed like proxied ones and use pingora's pooled connector, so they share keep-alive
//! connections with nothing but each other.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use http::Method;
use pingora::connectors::http::Connector;
use pingora::http::RequestHeader;
use sha2::{Digest, Sha256};

use crate::s3::error::S3Error;
use crate::s3_error;
use crate::upstream::Backend;

/// The `User-Agent` of the gateway's own backend requests.
pub const INTERNAL_USER_AGENT: &str =
    concat!("bucketgate/", env!("CARGO_PKG_VERSION"), " (internal)");

/// The largest backend answer the gateway reads whole.
const MAX_RESPONSE: usize = 8 * 1024 * 1024;

/// A backend answer, read whole.
#[derive(Debug, Clone)]
pub struct BackendResponse {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl BackendResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The backend's `<Code>`, for error answers.
    pub fn error_code(&self) -> Option<String> {
        let text = std::str::from_utf8(&self.body).ok()?;
        let start = text.find("<Code>")? + 6;
        let end = text[start..].find("</Code>")? + start;
        Some(text[start..end].to_owned())
    }
}

/// A small signed S3 client for the backend.
pub struct BackendClient {
    backend: Arc<Backend>,
    connector: Connector,
}

impl BackendClient {
    pub fn new(backend: Arc<Backend>) -> Self {
        BackendClient {
            backend,
            connector: Connector::new(None),
        }
    }

    /// Sends one request (`path_and_query` path-style and canonically encoded) and reads the
    /// answer whole. A stale pooled connection is retried once on a fresh one.
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<BackendResponse, S3Error> {
        match self
            .attempt(&method, path_and_query, headers, body.clone(), true)
            .await
        {
            Err(Attempt::Reused(_)) => self
                .attempt(&method, path_and_query, headers, body, false)
                .await
                .map_err(Attempt::into_error),
            other => other.map_err(Attempt::into_error),
        }
    }

    async fn attempt(
        &self,
        method: &Method,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        allow_reuse: bool,
    ) -> Result<BackendResponse, Attempt> {
        let internal =
            |what: String| Attempt::Fatal(s3_error!(InternalError, "Backend request: {what}"));
        let mut req = RequestHeader::build(
            method.clone(),
            path_and_query.as_bytes(),
            Some(headers.len() + 6),
        )
        .map_err(|e| internal(e.to_string()))?;
        for (name, value) in headers {
            req.insert_header(name.to_string(), *value)
                .map_err(|e| internal(e.to_string()))?;
        }
        req.insert_header(http::header::CONTENT_LENGTH, body.len().to_string())
            .map_err(|e| internal(e.to_string()))?;
        // The gateway's own requests (state, probes, log delivery) say so, in backend logs and
        // to tests that watch what the backend receives; proxied requests carry no agent.
        req.insert_header(http::header::USER_AGENT, INTERNAL_USER_AGENT)
            .map_err(|e| internal(e.to_string()))?;
        let hash = hex::encode(Sha256::digest(&body));
        self.backend
            .resign(&mut req, &hash, SystemTime::now())
            .map_err(Attempt::Fatal)?;

        let peer = self.backend.peer();
        let unavailable = |e: Box<pingora::Error>| {
            Attempt::Fatal(s3_error!(
                ServiceUnavailable,
                "The storage backend is unreachable; please retry. ({e})"
            ))
        };
        let (mut session, reused) = self
            .connector
            .get_http_session(&*peer)
            .await
            .map_err(unavailable)?;
        let broken = |e: Box<pingora::Error>| {
            let err = s3_error!(
                ServiceUnavailable,
                "The storage backend failed; please retry. ({e})"
            );
            if reused && allow_reuse {
                Attempt::Reused(err)
            } else {
                Attempt::Fatal(err)
            }
        };
        session
            .write_request_header(Box::new(req))
            .await
            .map_err(broken)?;
        if !body.is_empty() {
            session
                .write_request_body(body, true)
                .await
                .map_err(broken)?;
        }
        session.finish_request_body().await.map_err(broken)?;
        session.read_response_header().await.map_err(broken)?;
        let (status, headers) = match session.response_header() {
            Some(h) => (h.status.as_u16(), h.headers.clone()),
            None => return Err(internal("no response header".into())),
        };
        let mut out = BytesMut::new();
        while let Some(chunk) = session.read_response_body().await.map_err(broken)? {
            if out.len() + chunk.len() > MAX_RESPONSE {
                return Err(internal("the backend's answer is too large".into()));
            }
            out.extend_from_slice(&chunk);
        }
        self.connector
            .release_http_session(session, &*peer, Some(Duration::from_secs(60)))
            .await;
        Ok(BackendResponse {
            status,
            headers,
            body: out.freeze(),
        })
    }
}

enum Attempt {
    /// Failed on a pooled connection that may have gone stale: worth one retry.
    Reused(S3Error),
    Fatal(S3Error),
}

impl Attempt {
    fn into_error(self) -> S3Error {
        match self {
            Attempt::Reused(e) | Attempt::Fatal(e) => e,
        }
    }
}

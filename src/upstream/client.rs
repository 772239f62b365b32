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

use crate::auth::chunked::EMPTY_SHA256;
use crate::auth::sigv4::UNSIGNED_PAYLOAD;
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

    /// HeadBucket of `bucket` with the service credential: whether the backend has it for us.
    pub async fn head_bucket(&self, bucket: &str) -> Result<BackendResponse, S3Error> {
        let path = format!("/{}", crate::s3::uri::encode_component(bucket));
        self.send(Method::HEAD, &path, &[], Bytes::new()).await
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
        // The gateway's own requests wait no longer on the backend than proxied ones.
        session.set_read_timeout(peer.options.read_timeout);
        session.set_write_timeout(peer.options.write_timeout);
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

/// How long one read or write of a copy the gateway carries out may wait on the backend.
const COPY_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// One request of a copy the gateway carries out itself.
pub struct Leg<'a> {
    pub method: Method,
    /// Path-style path and query, canonically encoded.
    pub path_and_query: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
}

/// How a copy the gateway carried out ended.
pub enum Copied {
    /// The source could not be read as asked (missing, precondition, wrong key): its answer.
    SourceRefused(BackendResponse),
    /// The source was streamed to the destination: the source's response headers and the
    /// destination's answer (which may itself be an error).
    Written {
        source: http::HeaderMap,
        dest: BackendResponse,
    },
}

impl BackendClient {
    /// Copies by reading `source` (a GET) and streaming its body into `dest` (a PUT of the
    /// source's exact length), for copies the backend cannot carry out right itself.
    ///
    /// Bounded memory whatever the size; a source that ends early or fails leaves the
    /// destination request unfinished, and its connection is dropped, so the backend commits
    /// nothing (abort before commit).
    pub async fn copy(
        &self,
        source: Leg<'_>,
        dest: Leg<'_>,
        max_length: u64,
        mut digest: Option<&mut crate::auth::checksum::Checksum>,
    ) -> Result<Copied, S3Error> {
        let failed = |e: Box<pingora::Error>| {
            s3_error!(
                ServiceUnavailable,
                "The storage backend failed during a copy; please retry. ({e})"
            )
        };
        let peer = self.backend.peer();
        let get = self.request(&source, None, EMPTY_SHA256)?;
        // The read goes on a fresh connection: a stale pooled one would fail it half-way.
        let (mut reader, _) = self
            .connector
            .get_http_session(&*peer)
            .await
            .map_err(failed)?;
        // A backend that stalls fails the copy instead of holding it open forever.
        reader.set_read_timeout(Some(COPY_IDLE_TIMEOUT));
        reader.set_write_timeout(Some(COPY_IDLE_TIMEOUT));
        reader
            .write_request_header(Box::new(get))
            .await
            .map_err(failed)?;
        reader.finish_request_body().await.map_err(failed)?;
        reader.read_response_header().await.map_err(failed)?;
        let (status, source_headers) = match reader.response_header() {
            Some(h) => (h.status.as_u16(), h.headers.clone()),
            None => return Err(s3_error!(InternalError, "Backend copy: no response header")),
        };
        if !(200..300).contains(&status) {
            let body = read_capped(&mut reader).await.map_err(failed)?;
            return Ok(Copied::SourceRefused(BackendResponse {
                status,
                headers: source_headers,
                body,
            }));
        }
        let length = source_headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| {
                s3_error!(
                    InternalError,
                    "Backend copy: the source was answered without a length."
                )
            })?;
        if length > max_length {
            return Err(s3_error!(
                InvalidRequest,
                "The specified copy source is larger than the maximum allowable size for a copy source: {max_length}."
            ));
        }
        let put = self.request(&dest, Some(length), UNSIGNED_PAYLOAD)?;
        let (mut writer, _) = self
            .connector
            .get_http_session(&*peer)
            .await
            .map_err(failed)?;
        writer.set_read_timeout(Some(COPY_IDLE_TIMEOUT));
        writer.set_write_timeout(Some(COPY_IDLE_TIMEOUT));
        writer
            .write_request_header(Box::new(put))
            .await
            .map_err(failed)?;
        let mut sent: u64 = 0;
        while let Some(chunk) = reader.read_response_body().await.map_err(failed)? {
            sent += chunk.len() as u64;
            if sent > length {
                return Err(s3_error!(
                    InternalError,
                    "Backend copy: the source sent more than its length."
                ));
            }
            if let Some(digest) = digest.as_deref_mut() {
                digest.update(&chunk);
            }
            writer
                .write_request_body(chunk, false)
                .await
                .map_err(failed)?;
        }
        if sent != length {
            // `writer` is dropped unfinished: the backend never completes the object.
            return Err(s3_error!(
                ServiceUnavailable,
                "The storage backend ended the copy source early ({sent} of {length} bytes); please retry."
            ));
        }
        writer.finish_request_body().await.map_err(failed)?;
        writer.read_response_header().await.map_err(failed)?;
        let (status, headers) = match writer.response_header() {
            Some(h) => (h.status.as_u16(), h.headers.clone()),
            None => return Err(s3_error!(InternalError, "Backend copy: no response header")),
        };
        let body = read_capped(&mut writer).await.map_err(failed)?;
        for session in [reader, writer] {
            self.connector
                .release_http_session(session, &*peer, Some(Duration::from_secs(60)))
                .await;
        }
        Ok(Copied::Written {
            source: source_headers,
            dest: BackendResponse {
                status,
                headers,
                body,
            },
        })
    }

    /// A signed request head for one leg of a copy.
    fn request(
        &self,
        leg: &Leg<'_>,
        length: Option<u64>,
        payload_hash: &str,
    ) -> Result<RequestHeader, S3Error> {
        let internal = |e: Box<pingora::Error>| s3_error!(InternalError, "Backend copy: {e}");
        let mut req = RequestHeader::build(
            leg.method.clone(),
            leg.path_and_query.as_bytes(),
            Some(leg.headers.len() + 6),
        )
        .map_err(internal)?;
        for (name, value) in leg.headers {
            req.insert_header(name.to_string(), *value)
                .map_err(internal)?;
        }
        if let Some(length) = length {
            req.insert_header(http::header::CONTENT_LENGTH, length.to_string())
                .map_err(internal)?;
        }
        req.insert_header(http::header::USER_AGENT, INTERNAL_USER_AGENT)
            .map_err(internal)?;
        self.backend
            .resign(&mut req, payload_hash, SystemTime::now())?;
        Ok(req)
    }
}

/// An answer's body, read whole up to [`MAX_RESPONSE`] (the rest is dropped).
async fn read_capped(
    session: &mut pingora::protocols::http::client::HttpSession,
) -> pingora::Result<Bytes> {
    let mut out = BytesMut::new();
    while let Some(chunk) = session.read_response_body().await? {
        if out.len() + chunk.len() <= MAX_RESPONSE {
            out.extend_from_slice(&chunk);
        }
    }
    Ok(out.freeze())
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

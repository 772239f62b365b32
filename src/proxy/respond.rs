//! Writing responses the gateway produces itself. The one place an [`S3Error`] becomes bytes.

use bytes::Bytes;
use http::Method;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;

use crate::proxy::ctx::RequestCtx;
use crate::s3::error::S3Error;

/// A response the gateway produces itself, as a value: handlers return it, and the pingora
/// glue writes it in one place ([`answer`]).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub content_type: std::borrow::Cow<'static, str>,
    pub headers: Vec<(http::HeaderName, String)>,
    pub body: Bytes,
}

impl Answer {
    pub fn new(
        status: u16,
        content_type: impl Into<std::borrow::Cow<'static, str>>,
        body: Bytes,
    ) -> Answer {
        Answer {
            status,
            content_type: content_type.into(),
            headers: Vec::new(),
            body,
        }
    }

    /// An XML document with status 200 (or an empty 200 when `body` is empty).
    pub fn xml(body: impl Into<Bytes>) -> Answer {
        Answer::new(200, "application/xml", body.into())
    }

    /// A bodiless answer (`204 No Content`, an empty `200`).
    pub fn empty(status: u16) -> Answer {
        Answer::new(status, "application/xml", Bytes::new())
    }

    pub fn with_header(mut self, name: http::HeaderName, value: String) -> Answer {
        self.headers.push((name, value));
        self
    }
}

/// Writes an [`Answer`].
pub async fn answer(
    session: &mut Session,
    ctx: &RequestCtx,
    answer: Answer,
) -> pingora::Result<()> {
    send_with_headers(
        session,
        ctx,
        answer.status,
        &answer.content_type,
        &answer.headers,
        answer.body,
    )
    .await
}

/// Answers with `err` as an S3 XML error document (headers only for HEAD, as S3 does).
pub async fn error(
    session: &mut Session,
    ctx: &mut RequestCtx,
    err: S3Error,
) -> pingora::Result<()> {
    tracing::debug!(request_id = %ctx.request_id, code = %err.code(), "{}", err.message());
    let body = err.to_xml(&ctx.request_id);
    let status = err.status().as_u16();
    ctx.error = Some(err);
    // A body the client is still sending would be read as the next request: close instead.
    let unread_body = !session.is_body_done();
    if unread_body {
        session.set_keepalive(None);
    }
    // Only an HTTP/1 connection is reset by closing it on unread bytes (a stream of HTTP/2 is
    // not), and a 503 sheds load: it holds nothing a moment longer.
    let linger_after = unread_body && !session.is_http2() && status != 503;
    // SlowDown tells the client when to come back.
    let retry: Vec<(http::HeaderName, String)> = if status == 503 {
        vec![(http::header::RETRY_AFTER, "1".to_owned())]
    } else {
        Vec::new()
    };
    send_with_headers(
        session,
        ctx,
        status,
        "application/xml",
        &retry,
        Bytes::from(body),
    )
    .await?;
    if linger_after {
        linger(session).await;
    }
    Ok(())
}

/// How much of a refused request's body is read and dropped before the connection closes,
/// and for how long at most.
const LINGER_BYTES: usize = 16 << 20;
const LINGER_TIME: std::time::Duration = std::time::Duration::from_secs(2);

/// After an error answered before the request's body was read: reads (and drops) what the
/// client is still sending, for a moment, before the connection closes (nginx's lingering
/// close). Closing a socket with unread bytes resets it, and a client that is still sending
/// (curl without `Expect: 100-continue`) then fails on the reset and never reads the answer.
/// Nothing read here goes anywhere; past the bounds the connection closes anyway.
async fn linger(session: &mut Session) {
    let deadline = tokio::time::Instant::now() + LINGER_TIME;
    let mut dropped = 0;
    while dropped < LINGER_BYTES {
        match tokio::time::timeout_at(deadline, session.read_request_body()).await {
            Ok(Ok(Some(chunk))) => dropped += chunk.len(),
            _ => return,
        }
    }
}

/// Writes a complete response with `body` (omitted for HEAD).
pub async fn send(
    session: &mut Session,
    ctx: &RequestCtx,
    status: u16,
    content_type: &str,
    body: Bytes,
) -> pingora::Result<()> {
    send_with_headers(session, ctx, status, content_type, &[], body).await
}

/// [`send`] with extra response headers.
pub async fn send_with_headers(
    session: &mut Session,
    ctx: &RequestCtx,
    status: u16,
    content_type: &str,
    headers: &[(http::HeaderName, String)],
    body: Bytes,
) -> pingora::Result<()> {
    let head = session.req_header().method == Method::HEAD;
    let mut resp = ResponseHeader::build(status, Some(4 + headers.len() + ctx.cors.len()))?;
    // A cross-origin caller must be able to read errors too.
    for (name, value) in ctx.cors.iter().chain(headers) {
        resp.insert_header(name.clone(), value.as_str())?;
    }
    if !content_type.is_empty() {
        resp.insert_header(http::header::CONTENT_TYPE, content_type)?;
    }
    resp.insert_header(
        http::header::CONTENT_LENGTH,
        if head { 0 } else { body.len() },
    )?;
    resp.insert_header("x-amz-request-id", ctx.request_id.as_str())?;
    if head || body.is_empty() {
        session.write_response_header(Box::new(resp), true).await
    } else {
        session.write_response_header(Box::new(resp), false).await?;
        session.write_response_body(Some(body), true).await
    }
}

//! Writing responses the gateway produces itself. The one place an [`S3Error`] becomes bytes.

use bytes::Bytes;
use http::Method;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;

use crate::proxy::ctx::RequestCtx;
use crate::s3::error::S3Error;

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
    if !session.is_body_done() {
        session.set_keepalive(None);
    }
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
    .await
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

//! Copies the gateway carries out itself, reading the source and streaming it into the
//! destination, where the backend would carry them out wrongly
//! ([`quirks::copies_itself`]): SSE-C copies on RGW 16, and part copies whose source must be
//! pinned to the version the gateway decided on.

use http::{HeaderName, Method};

use super::Gateway;
use super::ctx::RequestCtx;
use super::respond::Answer;
use crate::auth::checksum::Checksum;
use crate::s3::copy_source::CopySource;
use crate::s3::error::S3Error;
use crate::s3::object_checksum::{ChecksumType, ObjectChecksum};
use crate::s3::op::S3Op;
use crate::s3::request::S3Request;
use crate::s3::tags::TagSet;
use crate::s3::uri;
use crate::s3_error;
use crate::upstream::client::{Copied, Leg};
use crate::upstream::plan::{ForwardPlan, SSE_C_HEADERS};
use crate::upstream::quirks;

/// The largest object (or part range) one copy may read: 5 GiB (S3).
const MAX_COPY_SOURCE: u64 = 5 * 1024 * 1024 * 1024;

/// Plan headers that describe the copy request, not the object it writes.
fn describes_the_request(name: &str) -> bool {
    name.starts_with("x-amz-copy-")
        || name.starts_with("x-amz-checksum-")
        || matches!(
            name,
            "x-amz-metadata-directive"
                | "x-amz-tagging-directive"
                | "x-amz-sdk-checksum-algorithm"
                | "content-md5"
        )
}

impl Gateway {
    /// Whether this copy is one the gateway carries out itself on the configured backend.
    pub(super) fn copies_itself(&self, op: S3Op, plan: &ForwardPlan) -> bool {
        let sse_c = plan
            .get("x-amz-copy-source-server-side-encryption-customer-algorithm")
            .is_some()
            || plan.get(SSE_C_HEADERS[0]).is_some();
        let pinned = plan.get("x-amz-copy-source-if-match").is_some();
        quirks::copies_itself(&self.backend.config().capabilities, op, sse_c, pinned)
    }

    /// Carries out CopyObject or UploadPartCopy as a read of `source` streamed into a write
    /// of the plan's object (or part), and answers as S3 answers the copy.
    pub(super) async fn copy_itself(
        &self,
        ctx: &RequestCtx,
        request: &S3Request,
        source: &CopySource,
        plan: &ForwardPlan,
    ) -> Result<Answer, S3Error> {
        let (op, request_id) = (ctx.op, ctx.request_id.as_str());
        let mut source_path = format!(
            "/{}/{}",
            uri::encode_component(&source.bucket),
            uri::encode_path(&source.key)
        );
        if let Some(version) = &source.version_id {
            source_path.push_str("?versionId=");
            source_path.push_str(&uri::encode_component(version));
        }
        let mut read: Vec<(&str, &str)> = plan.sse_c_key(true);
        if let Some(pin) = plan.get("x-amz-copy-source-if-match") {
            read.push(("if-match", pin));
        }
        if op == S3Op::UploadPartCopy
            && let Some(range) = plan.get("x-amz-copy-source-range")
        {
            read.push(("range", range));
        }
        // Under the COPY tagging directive the copy carries the source's tags.
        let copies_tags =
            op == S3Op::CopyObject && plan.get("x-amz-tagging-directive") != Some("REPLACE");
        let source_tags = if copies_tags {
            self.source_tags(source).await?
        } else {
            None
        };
        let mut write: Vec<(&str, &str)> = plan
            .headers
            .iter()
            .filter(|(n, _)| !describes_the_request(n.as_str()))
            .filter(|(n, _)| !(copies_tags && n.as_str() == "x-amz-tagging"))
            .filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?)))
            .collect();
        let rendered_tags = source_tags.as_ref().map(TagSet::to_header);
        if let Some(tags) = &rendered_tags {
            write.push(("x-amz-tagging", tags));
        }
        let mut digest = ctx.copy_checksum.map(Checksum::new);
        let copied = self
            .client
            .copy(
                Leg {
                    method: Method::GET,
                    path_and_query: &source_path,
                    headers: &read,
                },
                Leg {
                    method: Method::PUT,
                    path_and_query: &plan.target,
                    headers: &write,
                },
                MAX_COPY_SOURCE,
                digest.as_mut(),
            )
            .await?;
        let (source_headers, dest) = match copied {
            Copied::SourceRefused(r) => {
                // A range outside the source is a bad request of the copy, as S3 answers it.
                if r.status == 416 {
                    return Err(s3_error!(
                        InvalidArgument,
                        "The x-amz-copy-source-range is outside the source object."
                    ));
                }
                return Ok(super::backend_error(&r, request_id, None));
            }
            Copied::Written { source, dest } => (source, dest),
        };
        if !dest.is_success() {
            return Ok(super::backend_error(&dest, request_id, None));
        }
        let header = |headers: &http::HeaderMap, name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let etag = header(&dest.headers, "etag").unwrap_or_default();
        let etag = if etag.starts_with('"') {
            etag
        } else {
            format!("\"{etag}\"")
        };
        let modified = header(&dest.headers, "date")
            .and_then(|d| httpdate::parse_http_date(&d).ok())
            .unwrap_or_else(std::time::SystemTime::now);
        let modified = iso8601(modified);
        // The checksum computed on the way is recorded by the ETag the backend gave the copy.
        let checksum = match (ctx.copy_checksum, digest) {
            (Some(algorithm), Some(digest)) => {
                let checksum = ObjectChecksum {
                    algorithm,
                    kind: ChecksumType::FullObject,
                    value: digest.finish_base64(),
                };
                let (bucket, key) = (
                    request.bucket.as_deref().unwrap_or_default(),
                    request.key.as_deref().unwrap_or_default(),
                );
                match self
                    .state
                    .set_object_checksum(bucket, key, etag.trim_matches('"'), &checksum)
                    .await
                {
                    Ok(()) => Some(checksum),
                    Err(e) => {
                        tracing::warn!(request_id, "could not record a copy's checksum: {e}");
                        None
                    }
                }
            }
            _ => ctx.copied_checksum.clone(),
        };
        let element = match op {
            S3Op::UploadPartCopy => "CopyPartResult",
            _ => "CopyObjectResult",
        };
        let checksum = checksum
            .map(|c| quirks::checksum_elements(&c))
            .unwrap_or_default();
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{element} xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LastModified>{modified}</LastModified><ETag>{}</ETag>{checksum}</{element}>",
            quick_xml::escape::escape(etag.as_str())
        );
        let mut answer = Answer::new(200, "application/xml", bytes::Bytes::from(body));
        let mut add = |name: &'static str, value: Option<String>| {
            if let Some(value) = value {
                answer.headers.push((HeaderName::from_static(name), value));
            }
        };
        if op == S3Op::CopyObject {
            add(
                "x-amz-version-id",
                header(&dest.headers, "x-amz-version-id"),
            );
        }
        add(
            "x-amz-copy-source-version-id",
            header(&source_headers, "x-amz-version-id"),
        );
        // S3 echoes the destination's SSE-C algorithm and key MD5 (which the backend checked).
        for name in [SSE_C_HEADERS[0], SSE_C_HEADERS[2]] {
            add(name, plan.get(name).map(str::to_owned));
        }
        Ok(answer)
    }

    /// The copy source's tags (`None` when it has none).
    async fn source_tags(&self, source: &CopySource) -> Result<Option<TagSet>, S3Error> {
        let mut path = format!(
            "/{}/{}?tagging",
            uri::encode_component(&source.bucket),
            uri::encode_path(&source.key)
        );
        if let Some(v) = &source.version_id {
            path.push_str("&versionId=");
            path.push_str(&uri::encode_component(v));
        }
        let r = self
            .client
            .send(Method::GET, &path, &[], bytes::Bytes::new())
            .await?;
        if !r.is_success() {
            return Ok(None);
        }
        let tags = TagSet::from_xml(&r.body)?;
        Ok((!tags.is_empty()).then_some(tags))
    }
}

/// A time as S3 writes it in XML (`2026-12-04T21:40:00.000Z`).
fn iso8601(at: std::time::SystemTime) -> String {
    let at = time::OffsetDateTime::from(at);
    at.format(time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].000Z"
    ))
    .unwrap_or_default()
}

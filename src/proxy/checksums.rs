//! Checksums answered as S3 answers them, whatever the backend keeps: the one an upload was
//! verified against goes back in the upload's answer, and the one stored with an object (see
//! [`crate::state::CHECKSUM_META`]) in full-object GET/HEAD answers that ask for it.

use http::HeaderValue;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;

use super::Gateway;
use super::ctx::RequestCtx;
use crate::auth::checksum::ChecksumAlgorithm;
use crate::s3::object_checksum::{
    ChecksumType, ObjectChecksum, PartChecksum, StoredChecksum, UploadChecksum,
};
use crate::s3::op::S3Op;

/// The checksum headers of an answer: `verified` is what the request's body matched,
/// `declared` what a CreateMultipartUpload asked for, `stored` the object's checksum,
/// `mode_enabled` whether the request sent `x-amz-checksum-mode: ENABLED`, `whole` whether the
/// answer is the whole object (not a range or a part).
pub fn checksum_headers(
    op: S3Op,
    status: u16,
    verified: Option<&(ChecksumAlgorithm, String)>,
    declared: Option<UploadChecksum>,
    stored: Option<&ObjectChecksum>,
    mode_enabled: bool,
    whole: bool,
) -> Vec<(&'static str, String)> {
    let ok = (200..300).contains(&status);
    match op {
        S3Op::PutObject | S3Op::UploadPart if ok => match verified {
            Some((a, v)) if op == S3Op::PutObject => vec![
                (a.header(), v.clone()),
                (
                    "x-amz-checksum-type",
                    ChecksumType::FullObject.name().into(),
                ),
            ],
            Some((a, v)) => vec![(a.header(), v.clone())],
            None => Vec::new(),
        },
        S3Op::CreateMultipartUpload if ok => match declared {
            Some(d) => vec![
                ("x-amz-checksum-algorithm", d.algorithm.name().into()),
                ("x-amz-checksum-type", d.kind.name().into()),
            ],
            None => Vec::new(),
        },
        S3Op::GetObject | S3Op::HeadObject if status == 200 && mode_enabled && whole => {
            match stored {
                Some(c) => vec![
                    (c.algorithm.header(), c.value.clone()),
                    ("x-amz-checksum-type", c.kind.name().into()),
                ],
                None => Vec::new(),
            }
        }
        _ => Vec::new(),
    }
}

impl Gateway {
    /// Adds the checksum headers S3 would answer (see [`checksum_headers`]); `meta` is the
    /// object's [`crate::state::CHECKSUM_META`] entry. A multipart object's checksum is read
    /// from the gateway's state only when the answer carries it.
    pub(super) async fn answer_checksum(
        &self,
        session: &Session,
        resp: &mut ResponseHeader,
        ctx: &RequestCtx,
        meta: Option<HeaderValue>,
    ) -> pingora::Result<()> {
        let req = session.req_header();
        let mode_enabled = req
            .headers
            .get("x-amz-checksum-mode")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("ENABLED"));
        let whole = !resp.headers.contains_key(http::header::CONTENT_RANGE)
            && !ctx
                .request
                .as_ref()
                .is_some_and(|r| r.query.has("partNumber"));
        let stored = match meta
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .and_then(StoredChecksum::parse)
        {
            Some(StoredChecksum::Value(c)) => Some(c),
            Some(StoredChecksum::Declared(d))
                if mode_enabled && whole && resp.status == http::StatusCode::OK =>
            {
                self.multipart_checksum(ctx, resp)
                    .await
                    .filter(|c| c.algorithm == d.algorithm)
            }
            _ => None,
        };
        for (name, value) in checksum_headers(
            ctx.op,
            resp.status.as_u16(),
            ctx.checksum.as_ref(),
            ctx.upload_checksum,
            stored.as_ref(),
            mode_enabled,
            whole,
        ) {
            resp.insert_header(name, value)?;
        }
        Ok(())
    }

    /// The recorded checksum of the multipart object this answer carries, by its ETag.
    async fn multipart_checksum(
        &self,
        ctx: &RequestCtx,
        resp: &ResponseHeader,
    ) -> Option<ObjectChecksum> {
        let request = ctx.request.as_ref()?;
        let etag = resp.headers.get(http::header::ETAG)?.to_str().ok()?;
        self.state
            .object_checksum(
                request.bucket.as_deref()?,
                request.key.as_deref()?,
                etag.trim_matches('"'),
            )
            .await
            .inspect_err(|e| {
                tracing::warn!(request_id = %ctx.request_id, "could not read a multipart checksum: {e}")
            })
            .ok()?
    }

    /// After the backend stored an object whose checksum came in a trailer (after the
    /// body, so after its metadata), records the verified value by the object's ETag, before
    /// the client hears the object exists.
    pub(super) async fn record_trailer_checksum(&self, ctx: &RequestCtx, resp: &ResponseHeader) {
        if ctx.op != S3Op::PutObject || resp.status != http::StatusCode::OK {
            return;
        }
        let trailer = ctx
            .body_verifier
            .as_ref()
            .and_then(|v| v.trailer_algorithm());
        let record = || {
            let (algorithm, value) = ctx.checksum.clone()?;
            let request = ctx.request.as_ref()?;
            let etag = resp.headers.get(http::header::ETAG)?.to_str().ok()?;
            let checksum = ObjectChecksum {
                algorithm,
                kind: ChecksumType::FullObject,
                value,
            };
            Some((
                request.bucket.clone()?,
                request.key.clone()?,
                etag.trim_matches('"').to_owned(),
                checksum,
            ))
        };
        if trailer.is_none() {
            return;
        }
        let Some((bucket, key, etag, checksum)) = record() else {
            return;
        };
        if let Err(e) = self
            .state
            .set_object_checksum(&bucket, &key, &etag, &checksum)
            .await
        {
            // Reads then answer no checksum for the object, never a wrong one.
            tracing::warn!(request_id = %ctx.request_id, "could not record a trailer checksum: {e}");
        }
    }

    /// After the backend stored a part whose body matched a checksum, records it for the
    /// upload's completion (the backend need not keep checksums).
    pub(super) async fn record_part_checksum(&self, ctx: &RequestCtx, resp: &ResponseHeader) {
        if ctx.op != S3Op::UploadPart || resp.status != http::StatusCode::OK {
            return;
        }
        let record = || {
            let (algorithm, value) = ctx.checksum.clone()?;
            let request = ctx.request.as_ref()?;
            let part = PartChecksum {
                part: request.query.get("partNumber")?.parse().ok()?,
                size: ctx.plan.as_ref()?.content_length.or(ctx.chunked_length)?,
                etag: resp
                    .headers
                    .get(http::header::ETAG)?
                    .to_str()
                    .ok()?
                    .trim_matches('"')
                    .to_owned(),
                algorithm,
                value,
            };
            Some((
                request.bucket.clone()?,
                request.query.get("uploadId")?.to_owned(),
                part,
            ))
        };
        let Some((bucket, upload_id, part)) = record() else {
            return;
        };
        if let Err(e) = self
            .state
            .record_part_checksum(&bucket, &upload_id, &part)
            .await
        {
            // Completion then names the part whose checksum is missing; the client uploads it again.
            tracing::warn!(request_id = %ctx.request_id, "could not record part {} checksum: {e}", part.part);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(
        op: S3Op,
        status: u16,
        verified: Option<&(ChecksumAlgorithm, String)>,
        stored: Option<&ObjectChecksum>,
        mode: bool,
        whole: bool,
    ) -> Vec<(&'static str, String)> {
        checksum_headers(op, status, verified, None, stored, mode, whole)
    }

    #[test]
    fn uploads_answer_what_they_were_verified_against() {
        let v = (ChecksumAlgorithm::Sha256, "abc=".to_owned());
        assert_eq!(
            h(S3Op::PutObject, 200, Some(&v), None, false, true),
            [
                ("x-amz-checksum-sha256", "abc=".to_owned()),
                ("x-amz-checksum-type", "FULL_OBJECT".to_owned())
            ]
        );
        assert_eq!(
            h(S3Op::UploadPart, 200, Some(&v), None, false, true),
            [("x-amz-checksum-sha256", "abc=".to_owned())]
        );
        assert!(h(S3Op::PutObject, 400, Some(&v), None, false, true).is_empty());
        assert!(h(S3Op::PutObject, 200, None, None, false, true).is_empty());
    }

    #[test]
    fn multipart_uploads_answer_their_declaration() {
        let d = UploadChecksum {
            algorithm: ChecksumAlgorithm::Crc32c,
            kind: ChecksumType::FullObject,
        };
        let answer = |status| {
            checksum_headers(
                S3Op::CreateMultipartUpload,
                status,
                None,
                Some(d),
                None,
                false,
                true,
            )
        };
        assert_eq!(
            answer(200),
            [
                ("x-amz-checksum-algorithm", "CRC32C".to_owned()),
                ("x-amz-checksum-type", "FULL_OBJECT".to_owned())
            ]
        );
        assert!(answer(403).is_empty());
    }

    #[test]
    fn reads_answer_the_stored_checksum_only_when_asked_for_the_whole_object() {
        let stored = ObjectChecksum {
            algorithm: ChecksumAlgorithm::Crc64Nvme,
            kind: ChecksumType::FullObject,
            value: "Qeh8oXvGiSo=".into(),
        };
        let s = Some(&stored);
        assert_eq!(
            h(S3Op::HeadObject, 200, None, s, true, true),
            [
                ("x-amz-checksum-crc64nvme", "Qeh8oXvGiSo=".to_owned()),
                ("x-amz-checksum-type", "FULL_OBJECT".to_owned())
            ]
        );
        let composite = ObjectChecksum {
            algorithm: ChecksumAlgorithm::Sha1,
            kind: ChecksumType::Composite,
            value: "abc=-3".into(),
        };
        assert_eq!(
            h(S3Op::GetObject, 200, None, Some(&composite), true, true),
            [
                ("x-amz-checksum-sha1", "abc=-3".to_owned()),
                ("x-amz-checksum-type", "COMPOSITE".to_owned())
            ]
        );
        assert!(h(S3Op::GetObject, 200, None, s, false, true).is_empty());
        assert!(h(S3Op::GetObject, 206, None, s, true, false).is_empty());
        assert!(h(S3Op::GetObject, 200, None, s, true, false).is_empty());
        assert!(h(S3Op::ListObjects, 200, None, s, true, true).is_empty());
    }
}

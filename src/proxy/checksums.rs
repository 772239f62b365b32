//! Checksums answered as S3 answers them, whatever the backend keeps: the one an upload was
//! verified against goes back in the upload's answer, and the one stored with an object (see
//! [`crate::state::CHECKSUM_META`]) in full-object GET/HEAD answers that ask for it.

use http::HeaderValue;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;

use super::Gateway;
use super::ctx::RequestCtx;
use crate::auth::checksum::ChecksumAlgorithm;
use crate::s3::op::S3Op;

/// The checksum headers of an answer: `verified` is what the request's body matched,
/// `stored` the object's metadata entry, `mode_enabled` whether the request sent
/// `x-amz-checksum-mode: ENABLED`, `whole` whether the answer is the whole object (not a range
/// or a part).
pub fn checksum_headers(
    op: S3Op,
    status: u16,
    verified: Option<&(ChecksumAlgorithm, String)>,
    stored: Option<&str>,
    mode_enabled: bool,
    whole: bool,
) -> Vec<(&'static str, String)> {
    let (algorithm, value) = match op {
        S3Op::PutObject | S3Op::UploadPart if (200..300).contains(&status) => match verified {
            Some((a, v)) => (*a, v.clone()),
            None => return Vec::new(),
        },
        S3Op::GetObject | S3Op::HeadObject if status == 200 && mode_enabled && whole => {
            let Some((a, v)) = stored.and_then(|s| s.split_once(' ')) else {
                return Vec::new();
            };
            match ChecksumAlgorithm::from_name(a) {
                Some(a) => (a, v.to_owned()),
                None => return Vec::new(),
            }
        }
        _ => return Vec::new(),
    };
    let mut out = vec![(algorithm.header(), value)];
    if op != S3Op::UploadPart {
        out.push(("x-amz-checksum-type", "FULL_OBJECT".to_owned()));
    }
    out
}

impl Gateway {
    /// Adds the checksum headers S3 would answer (see [`checksum_headers`]).
    pub(super) fn answer_checksum(
        &self,
        session: &Session,
        resp: &mut ResponseHeader,
        ctx: &RequestCtx,
        stored: Option<HeaderValue>,
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
        let stored = stored.as_ref().and_then(|v| v.to_str().ok());
        for (name, value) in checksum_headers(
            ctx.op,
            resp.status.as_u16(),
            ctx.checksum.as_ref(),
            stored,
            mode_enabled,
            whole,
        ) {
            resp.insert_header(name, value)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_answer_what_they_were_verified_against() {
        let v = (ChecksumAlgorithm::Sha256, "abc=".to_owned());
        assert_eq!(
            checksum_headers(S3Op::PutObject, 200, Some(&v), None, false, true),
            [
                ("x-amz-checksum-sha256", "abc=".to_owned()),
                ("x-amz-checksum-type", "FULL_OBJECT".to_owned())
            ]
        );
        assert_eq!(
            checksum_headers(S3Op::UploadPart, 200, Some(&v), None, false, true),
            [("x-amz-checksum-sha256", "abc=".to_owned())]
        );
        assert!(checksum_headers(S3Op::PutObject, 400, Some(&v), None, false, true).is_empty());
        assert!(checksum_headers(S3Op::PutObject, 200, None, None, false, true).is_empty());
    }

    #[test]
    fn reads_answer_the_stored_checksum_only_when_asked_for_the_whole_object() {
        let stored = Some("CRC64NVME Qeh8oXvGiSo=");
        assert_eq!(
            checksum_headers(S3Op::HeadObject, 200, None, stored, true, true),
            [
                ("x-amz-checksum-crc64nvme", "Qeh8oXvGiSo=".to_owned()),
                ("x-amz-checksum-type", "FULL_OBJECT".to_owned())
            ]
        );
        assert!(checksum_headers(S3Op::GetObject, 200, None, stored, false, true).is_empty());
        assert!(checksum_headers(S3Op::GetObject, 206, None, stored, true, false).is_empty());
        assert!(checksum_headers(S3Op::GetObject, 200, None, stored, true, false).is_empty());
        assert!(checksum_headers(S3Op::GetObject, 200, None, Some("MD5 x"), true, true).is_empty());
        assert!(checksum_headers(S3Op::ListObjects, 200, None, stored, true, true).is_empty());
    }
}

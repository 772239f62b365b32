//! `x-amz-copy-source`, parsed once: the object a CopyObject or UploadPartCopy reads.
//!
//! The gateway authorizes the source it parsed and sends the backend its own re-encoding of it,
//! never the client's string: a value the backend could read differently (an undecodable byte,
//! a stray query parameter) is refused here instead.

use crate::s3::error::S3Error;
use crate::s3::uri;
use crate::s3_error;

/// A copy source: bucket, key and optional version, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySource {
    pub bucket: String,
    pub key: String,
    pub version_id: Option<String>,
}

impl CopySource {
    /// Parses `bucket/key` or `/bucket/key`, URL-encoded, optionally followed by
    /// `?versionId=<id>` (the only parameter S3 defines). Anything else is `400 InvalidArgument`.
    pub fn parse(raw: &str) -> Result<CopySource, S3Error> {
        let invalid = |why: &str| {
            s3_error!(
                InvalidArgument,
                "Invalid copy source {raw:?}: {why}. Use /bucket/key, URL-encoded, optionally with ?versionId=."
            )
        };
        // A literal `?` starts the parameters; an encoded one (`%3F`) belongs to the key.
        let (path, params) = match raw.split_once('?') {
            Some((path, params)) => (path, Some(params)),
            None => (raw, None),
        };
        let version_id = match params {
            None => None,
            Some(params) => {
                let value = params
                    .strip_prefix("versionId=")
                    .filter(|v| !v.contains('&') && !v.contains('='))
                    .ok_or_else(|| invalid("the only parameter allowed is versionId"))?;
                let value = uri::decode(value)
                    .map_err(|_| invalid("the version id is not valid UTF-8 once decoded"))?;
                if value.is_empty() {
                    return Err(invalid("the version id is empty"));
                }
                Some(value)
            }
        };
        let decoded = uri::decode(path).map_err(|_| invalid("not valid UTF-8 once decoded"))?;
        let decoded = decoded.strip_prefix('/').unwrap_or(&decoded);
        let (bucket, key) = decoded
            .split_once('/')
            .ok_or_else(|| invalid("it names no object key"))?;
        if bucket.is_empty() || key.is_empty() {
            return Err(invalid("it needs both a bucket and a key"));
        }
        if !crate::s3::names::is_valid_bucket_name(bucket) {
            return Err(invalid("the bucket name is not valid"));
        }
        if decoded.chars().any(char::is_control) {
            return Err(invalid("it contains control characters"));
        }
        Ok(CopySource {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            version_id,
        })
    }

    /// The header value the backend gets: `/bucket/key[?versionId=id]`, canonically encoded.
    pub fn to_header(&self) -> String {
        let mut out = format!(
            "/{}/{}",
            uri::encode_component(&self.bucket),
            uri::encode_path(&self.key)
        );
        if let Some(version) = &self.version_id {
            out.push_str("?versionId=");
            out.push_str(&uri::encode_component(version));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> CopySource {
        CopySource::parse(raw).unwrap()
    }

    #[test]
    fn forms_from_the_api_reference() {
        assert_eq!(
            ok("/awsexamplebucket/reports/january.pdf"),
            CopySource {
                bucket: "awsexamplebucket".into(),
                key: "reports/january.pdf".into(),
                version_id: None
            }
        );
        assert_eq!(
            ok("awsexamplebucket/reports/january.pdf").bucket,
            "awsexamplebucket"
        );
        let v = ok("/bkt/k%20x?versionId=QUpfdndhfd8438MNFDN93jdnJFkdmqnh893");
        assert_eq!(v.key, "k x");
        assert_eq!(
            v.version_id.as_deref(),
            Some("QUpfdndhfd8438MNFDN93jdnJFkdmqnh893")
        );
        assert_eq!(
            v.to_header(),
            "/bkt/k%20x?versionId=QUpfdndhfd8438MNFDN93jdnJFkdmqnh893"
        );
    }

    #[test]
    fn an_encoded_question_mark_is_part_of_the_key() {
        let c = ok("/bkt/what%3Fnot");
        assert_eq!(c.key, "what?not");
        assert_eq!(c.to_header(), "/bkt/what%3Fnot");
    }

    #[test]
    fn what_a_backend_could_read_differently_is_refused() {
        for raw in [
            "/main/secret.txt?x=%FF",
            "/main/secret.txt?x=1",
            "/main/secret.txt?versionId=1&x=2",
            "/main/secret.txt?versionId=",
            "/main/%FF",
            "/main",
            "/main/",
            "//key",
            "/",
            "",
            "/Not_A_Bucket/k",
            "/bkt/a%0Ab",
        ] {
            let e = CopySource::parse(raw).unwrap_err();
            assert_eq!(e.code().as_str(), "InvalidArgument", "{raw}");
        }
    }
}

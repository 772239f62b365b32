//! Canned ACLs, served by the gateway: bucket ACLs live in the bucket's state record, object
//! ACLs in the object's own metadata (`x-amz-meta-bucketgate-acl`), so they follow the object
//! through overwrites (a new PUT without an ACL is private), deletes and versions, and copies do
//! not inherit them. Anonymous reads are decided here too.
//!
//! Trade-off of the metadata choice: objects are immutable, so in a bucket without versioning
//! PutObjectAcl rewrites the object's metadata (a server-side copy onto itself: its
//! LastModified changes). In a versioned bucket the ACL of a version (the one named by
//! `versionId`, else the current one) is recorded beside it in the system bucket
//! (`version-acls/<bucket>/<version>/<key>`) and wins over its metadata: no copy, no new
//! version, no rollback.

use bytes::Bytes;
use http::Method;

use super::Gateway;
use super::respond::Answer;
use crate::s3::acl::CannedAcl;
use crate::s3::error::S3Error;
use crate::s3::op::S3Op;
use crate::s3::request::S3Request;
use crate::s3::uri;
use crate::s3::xml;
use crate::s3_error;
use crate::state::{ACL_META, WRITER_META};
use crate::upstream::client::BackendResponse;

/// Object headers a metadata rewrite must carry over from the object itself.
pub const CARRIED: &[&str] = &[
    "content-type",
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
    "x-amz-website-redirect-location",
];

/// The object ACL recorded in a HEAD answer's metadata.
pub fn object_acl(head: &http::HeaderMap) -> CannedAcl {
    head.get(ACL_META)
        .and_then(|v| v.to_str().ok())
        .and_then(CannedAcl::parse)
        .unwrap_or_default()
}

/// The user who wrote an object into someone else's bucket, recorded in its metadata.
pub fn object_writer(head: &http::HeaderMap) -> Option<&str> {
    head.get(WRITER_META).and_then(|v| v.to_str().ok())
}

/// The headers that re-create an object's metadata under `x-amz-metadata-directive: REPLACE`,
/// with `acl` as its ACL.
pub fn replacement_headers(head: &http::HeaderMap, acl: CannedAcl) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = head
        .iter()
        .filter(|(n, _)| {
            let n = n.as_str();
            // The copy is its copier's: neither the source's ACL nor its writer comes along.
            CARRIED.contains(&n)
                || (n.starts_with("x-amz-meta-") && n != ACL_META && n != WRITER_META)
        })
        .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    out.push(("x-amz-metadata-directive".into(), "REPLACE".into()));
    if acl == CannedAcl::PublicRead {
        out.push((ACL_META.into(), "public-read".into()));
    }
    out
}

impl Gateway {
    /// HEADs an object through the gateway's own client (`versionId` honoured).
    pub(super) async fn head_object(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<BackendResponse, S3Error> {
        self.head_object_with(bucket, key, version, &[]).await
    }

    /// [`Self::head_object`] with extra headers (an SSE-C object's key).
    pub(super) async fn head_object_with(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<BackendResponse, S3Error> {
        let mut path = format!(
            "/{}/{}",
            uri::encode_component(bucket),
            uri::encode_path(key)
        );
        if let Some(v) = version {
            path.push_str(&format!("?versionId={}", uri::encode_component(v)));
        }
        let r = self
            .client
            .send(Method::HEAD, &path, headers, Bytes::new())
            .await?;
        match r.status {
            200 => Ok(r),
            404 => Err(s3_error!(NoSuchKey, "The specified key does not exist.")),
            400 | 403 => Err(s3_error!(
                InvalidRequest,
                "The object cannot be read without its SSE-C key or version."
            )),
            other => Err(s3_error!(
                ServiceUnavailable,
                "The storage backend answered {other}; please retry."
            )),
        }
    }

    /// The current ETag of the request's object as the bucket listing shows it: what the
    /// gateway can learn of an SSE-C object without its key.
    pub(super) async fn listed_etag(&self, request: &S3Request) -> Option<String> {
        let key = request.key.as_deref()?;
        let path = format!(
            "/{}?list-type=2&prefix={}&max-keys=1",
            uri::encode_component(request.bucket.as_deref()?),
            uri::encode_component(key)
        );
        let r = self
            .client
            .send(Method::GET, &path, &[], Bytes::new())
            .await
            .ok()?;
        r.is_success()
            .then(|| crate::upstream::quirks::listed_etag(&r.body, key))
            .flatten()
    }

    /// The ACL of the object version a HEAD answered for: the one PutObjectAcl recorded for
    /// that version by its id, else the one in its metadata.
    pub(super) async fn effective_acl(
        &self,
        bucket: &str,
        key: &str,
        head: &BackendResponse,
    ) -> Result<CannedAcl, S3Error> {
        let version = head
            .headers
            .get("x-amz-version-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && *v != "null");
        if let Some(version) = version
            && let Some(acl) = self.state.version_acl(bucket, key, version).await?
        {
            return Ok(acl);
        }
        Ok(object_acl(&head.headers))
    }

    /// The ACL a PutBucketAcl/PutObjectAcl asks for: `x-amz-acl`, or an `AccessControlPolicy`
    /// (the verified body).
    fn requested_acl(
        header: Option<&http::HeaderValue>,
        body: &Bytes,
        owner: &str,
    ) -> Result<CannedAcl, S3Error> {
        if let Some(value) = header {
            // The profile has already refused canned ACLs it does not list.
            return value
                .to_str()
                .ok()
                .and_then(CannedAcl::parse)
                .ok_or_else(|| s3_error!(NotImplemented, "This canned ACL is not supported."));
        }
        if body.is_empty() {
            return Err(s3_error!(
                MissingSecurityHeader,
                "Your request was missing a required header: x-amz-acl (or an AccessControlPolicy body)."
            ));
        }
        xml::parse_access_control_policy(body, owner)
    }

    /// Get/PutBucketAcl and Get/PutObjectAcl, for whoever admission let through. The owner
    /// in the documents is the bucket's recorded owner, whoever asks.
    pub(super) async fn serve_acl(
        &self,
        op: S3Op,
        request: &S3Request,
        acl_header: Option<&http::HeaderValue>,
        body: Bytes,
    ) -> Result<Answer, S3Error> {
        let bucket = request.bucket.clone().unwrap_or_default();
        let key = request.key.clone().unwrap_or_default();
        let version = request.query.get("versionId").map(str::to_owned);
        let record = self
            .state
            .bucket(&bucket)
            .await?
            .ok_or_else(|| s3_error!(NoSuchBucket, "The specified bucket does not exist."))?;
        let owner = record.owner.clone();
        let display_name = self.display_name(&owner);
        let policy = |acl| Answer::xml(xml::access_control_policy(&owner, &display_name, acl));
        match op {
            S3Op::GetBucketAcl => Ok(policy(record.acl)),
            S3Op::PutBucketAcl => {
                let acl = Self::requested_acl(acl_header, &body, &owner)?;
                let mut record = (*record).clone();
                record.acl = acl;
                self.state.put_bucket(&bucket, &record).await?;
                Ok(Answer::empty(200))
            }
            S3Op::GetObjectAcl => {
                let head = self.head_object(&bucket, &key, version.as_deref()).await?;
                Ok(policy(self.effective_acl(&bucket, &key, &head).await?))
            }
            S3Op::PutObjectAcl => {
                let acl = Self::requested_acl(acl_header, &body, &owner)?;
                let head = self.head_object(&bucket, &key, version.as_deref()).await?;
                // A version (the one named, or the current one of a versioned bucket) is
                // immutable: its ACL is recorded beside it, in place, with no copy and no new
                // version (a copy of an old one would make it current: a rollback).
                let version_id = version.clone().or_else(|| {
                    head.headers
                        .get("x-amz-version-id")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                });
                if let Some(v) = version_id
                    .as_deref()
                    .filter(|v| !v.is_empty() && *v != "null")
                {
                    self.state.set_version_acl(&bucket, &key, v, acl).await?;
                    return Ok(Answer::empty(200));
                }
                let mut source = format!(
                    "/{}/{}",
                    uri::encode_component(&bucket),
                    uri::encode_path(&key)
                );
                if let Some(v) = &version {
                    source.push_str(&format!("?versionId={}", uri::encode_component(v)));
                }
                let mut headers = replacement_headers(&head.headers, acl);
                headers.push(("x-amz-copy-source".into(), source));
                let borrowed: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                let path = format!(
                    "/{}/{}",
                    uri::encode_component(&bucket),
                    uri::encode_path(&key)
                );
                let r = self
                    .client
                    .send(Method::PUT, &path, &borrowed, Bytes::new())
                    .await?;
                if !r.is_success() || r.error_code().is_some() {
                    return Err(s3_error!(
                        ServiceUnavailable,
                        "The storage backend could not record the ACL ({} {}); please retry.",
                        r.status,
                        r.error_code().unwrap_or_default()
                    ));
                }
                Ok(Answer::empty(200))
            }
            _ => Err(s3_error!(
                InternalError,
                "{} is not an ACL operation.",
                op.name()
            )),
        }
    }

    /// Anonymous requests: reads of public-read objects, listings of public-read buckets.
    /// Everything else is AccessDenied. Returns the object's ETag for public object reads, which
    /// the forwarded GET pins with `If-Match` so an ACL change in between cannot leak.
    ///
    /// A missing key answers `NoSuchKey` only to a caller who may list the bucket (it is
    /// public-read, or `may_list` says a bucket policy lets the caller list that key's prefix);
    /// to anyone else missing and private look alike.
    pub(super) async fn authorize_anonymous(
        &self,
        op: S3Op,
        request: &S3Request,
        caller: Option<&str>,
        may_list: impl AsyncFnOnce() -> Result<bool, S3Error>,
    ) -> Result<Option<String>, S3Error> {
        let denied = || s3_error!(AccessDenied, "Access Denied");
        let Some(bucket) = &request.bucket else {
            return Err(denied());
        };
        let record = self
            .state
            .bucket(bucket)
            .await?
            .ok_or_else(|| s3_error!(NoSuchBucket, "The specified bucket does not exist."))?;
        match (op, &request.key) {
            (S3Op::ListObjects | S3Op::ListObjectsV2, None)
                if record.acl == CannedAcl::PublicRead =>
            {
                Ok(None)
            }
            (S3Op::GetObject | S3Op::HeadObject, Some(key)) => {
                match self
                    .head_object(bucket, key, request.query.get("versionId"))
                    .await
                {
                    // The object's writer (another user the bucket policy let write it)
                    // reads what it wrote, as S3's object-writer ownership lets it.
                    Ok(head)
                        if caller.is_some_and(|c| object_writer(&head.headers) == Some(c))
                            || self.effective_acl(bucket, key, &head).await?
                                == CannedAcl::PublicRead =>
                    {
                        Ok(head
                            .headers
                            .get(http::header::ETAG)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned))
                    }
                    // A missing key may be told apart only to who may list it; whether the
                    // caller may is asked only now, on this rare path.
                    Err(e) if e.code().as_str() == "NoSuchKey" => {
                        if record.acl == CannedAcl::PublicRead || may_list().await? {
                            Err(e)
                        } else {
                            Err(denied())
                        }
                    }
                    _ => Err(denied()),
                }
            }
            _ => Err(denied()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacement_keeps_user_metadata_and_content_headers_but_not_the_acl() {
        let mut head = http::HeaderMap::new();
        head.insert("content-type", "text/plain".parse().unwrap());
        head.insert("x-amz-meta-colour", "blue".parse().unwrap());
        head.insert(ACL_META, "public-read".parse().unwrap());
        head.insert("etag", "\"x\"".parse().unwrap());
        let private = replacement_headers(&head, CannedAcl::Private);
        assert!(private.contains(&("content-type".into(), "text/plain".into())));
        assert!(private.contains(&("x-amz-meta-colour".into(), "blue".into())));
        assert!(private.contains(&("x-amz-metadata-directive".into(), "REPLACE".into())));
        assert!(!private.iter().any(|(n, _)| n == ACL_META || n == "etag"));
        let public = replacement_headers(&head, CannedAcl::PublicRead);
        assert!(public.contains(&(ACL_META.into(), "public-read".into())));
        assert_eq!(object_acl(&head), CannedAcl::PublicRead);
    }
}

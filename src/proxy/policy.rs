//! Bucket policy glue: the facts of a request, the decision, and the policy API (owner only).

use std::time::SystemTime;

use bytes::Bytes;
use pingora::proxy::Session;

use super::Gateway;
use super::respond::Answer;
use crate::auth::Identity;
use crate::auth::credentials::User;
use crate::authz::policy::{self, BucketPolicy, Decision, RequestFacts};
use crate::s3::error::S3Error;
use crate::s3::op::S3Op;
use crate::s3::request::S3Request;
use crate::s3::tags::TagSet;
use crate::s3_error;
use crate::state::ConfigKind;

/// The tags `x-amz-tagging` asks for (none without the header).
pub(super) fn request_tags(headers: &http::HeaderMap) -> Result<TagSet, S3Error> {
    match headers.get("x-amz-tagging") {
        None => Ok(TagSet::default()),
        Some(v) => TagSet::from_header(
            v.to_str()
                .map_err(|_| s3_error!(InvalidTag, "x-amz-tagging must be URL-encoded ASCII."))?,
        ),
    }
}

/// AWS's limit on a bucket policy's size.
const MAX_POLICY_BYTES: usize = 20 * 1024;

impl Gateway {
    /// What the bucket's policy says about this request (`NotApplicable` without a policy).
    pub(super) async fn policy_decision(
        &self,
        session: &Session,
        op: S3Op,
        request: &S3Request,
        identity: &Identity,
    ) -> Result<Decision, S3Error> {
        let headers = &session.req_header().headers;
        let tags = request_tags(headers)?;
        self.policy_decision_on(session, headers, &tags, op, request, identity)
            .await
    }

    /// [`Self::policy_decision`] with the condition values read from `headers` (a form
    /// upload's fields, which are what its object is stored with, rather than the HTTP
    /// request's own headers) and `tags`, the tags the object will be stored with (a
    /// PutObjectTagging body's, or `x-amz-tagging`'s).
    pub(super) async fn policy_decision_on(
        &self,
        session: &Session,
        headers: &http::HeaderMap,
        tags: &TagSet,
        op: S3Op,
        request: &S3Request,
        identity: &Identity,
    ) -> Result<Decision, S3Error> {
        let Some(bucket) = request.bucket.as_deref() else {
            return Ok(Decision::NotApplicable);
        };
        if matches!(op, S3Op::CreateBucket | S3Op::ListBuckets) {
            return Ok(Decision::NotApplicable);
        }
        let Some(policy) = self
            .state
            .config::<BucketPolicy>(ConfigKind::Policy, bucket)
            .await?
        else {
            return Ok(Decision::NotApplicable);
        };
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let mut values: Vec<(String, String)> = Vec::new();
        for (key, header_name) in [
            ("aws:referer", "referer"),
            ("aws:useragent", "user-agent"),
            ("s3:x-amz-acl", "x-amz-acl"),
            (
                "s3:x-amz-server-side-encryption-customer-algorithm",
                "x-amz-server-side-encryption-customer-algorithm",
            ),
        ] {
            if let Some(v) = text(header_name) {
                values.push((key.to_owned(), v));
            }
        }
        // The copy source and directive as the gateway decides them (the source it parsed and
        // authorizes, the directive it sends), not as spelt: `/b/k`, `b/%6b` and `b/k` are one
        // source to the backend, so they are one to the policy.
        if let Some(raw) = text("x-amz-copy-source") {
            let source = crate::s3::copy_source::CopySource::parse(&raw)?;
            let mut value = format!("{}/{}", source.bucket, source.key);
            if let Some(version) = &source.version_id {
                value.push_str("?versionId=");
                value.push_str(version);
            }
            values.push(("s3:x-amz-copy-source".to_owned(), value));
        }
        if let Some(directive) = text("x-amz-metadata-directive") {
            values.push((
                "s3:x-amz-metadata-directive".to_owned(),
                directive.trim().to_ascii_uppercase(),
            ));
        }
        for (key, param) in [
            ("s3:prefix", "prefix"),
            ("s3:delimiter", "delimiter"),
            ("s3:max-keys", "max-keys"),
            ("s3:versionid", "versionId"),
        ] {
            if let Some(v) = request.query.get(param) {
                values.push((key.to_owned(), v.to_owned()));
            }
        }
        // Tags the request asks for, and the object's own where a statement reads them (one
        // GetObjectTagging, made only then).
        for (key, value) in tags.pairs() {
            values.push((format!("{}{key}", policy::REQUEST_TAG), value.to_owned()));
            values.push((policy::REQUEST_TAG_KEYS.to_owned(), key.to_owned()));
        }
        if policy.needs_existing_tags()
            && let Some(key) = &request.key
        {
            for (tag, value) in self
                .object_tags(bucket, key, request.query.get("versionId"))
                .await?
            {
                values.push((format!("{}{tag}", policy::EXISTING_TAG), value));
            }
        }
        let resource = match &request.key {
            Some(key) => format!("arn:aws:s3:::{bucket}/{key}"),
            None => format!("arn:aws:s3:::{bucket}"),
        };
        let facts = RequestFacts {
            user: identity.user.as_ref().map(|u| u.id.as_str()),
            action: policy::action(op),
            resource,
            source_ip: session
                .client_addr()
                .and_then(|a| a.as_inet())
                .map(|a| a.ip()),
            secure: session.digest().is_some_and(|d| d.ssl_digest.is_some()),
            now: Some(SystemTime::now()),
            values,
        };
        Ok(policy.evaluate(&facts))
    }

    /// An object's tags, for policies that read them (none when the object does not exist).
    async fn object_tags(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<Vec<(String, String)>, S3Error> {
        let mut path = format!(
            "/{}/{}?tagging",
            crate::s3::uri::encode_component(bucket),
            crate::s3::uri::encode_path(key)
        );
        if let Some(v) = version {
            path.push_str(&format!(
                "&versionId={}",
                crate::s3::uri::encode_component(v)
            ));
        }
        let r = self
            .client
            .send(http::Method::GET, &path, &[], Bytes::new())
            .await?;
        if !r.is_success() {
            return Ok(Vec::new());
        }
        let tagging: crate::s3::xml::Tagging = crate::s3::xml::parse(&r.body)?;
        Ok(tagging
            .tag_set
            .tags
            .into_iter()
            .map(|t| (t.key, t.value))
            .collect())
    }

    /// Put/Get/DeleteBucketPolicy: only the bucket's owner manages its policy.
    pub(super) async fn serve_policy(
        &self,
        op: S3Op,
        request: &S3Request,
        user: &User,
        body: Bytes,
    ) -> Result<Answer, S3Error> {
        let bucket = request.bucket.clone().unwrap_or_default();
        let record = self
            .state
            .bucket(&bucket)
            .await?
            .ok_or_else(|| s3_error!(NoSuchBucket, "The specified bucket does not exist."))?;
        if record.owner != user.id {
            return Err(s3_error!(
                AccessDenied,
                "Only the bucket owner may manage its policy."
            ));
        }
        match op {
            S3Op::PutBucketPolicy => {
                if body.len() > MAX_POLICY_BYTES {
                    return Err(s3_error!(
                        InvalidArgument,
                        "A bucket policy may be at most {MAX_POLICY_BYTES} bytes."
                    ));
                }
                let parsed = BucketPolicy::parse(&body, &bucket)?;
                self.state
                    .set_config(ConfigKind::Policy, &bucket, Some(&parsed))
                    .await?;
                Ok(Answer::empty(204))
            }
            S3Op::GetBucketPolicy => {
                let parsed = self
                    .state
                    .config::<BucketPolicy>(ConfigKind::Policy, &bucket)
                    .await?
                    .ok_or_else(|| {
                        s3_error!(NoSuchBucketPolicy, "The bucket policy does not exist")
                    })?;
                Ok(Answer::new(
                    200,
                    "application/json",
                    Bytes::from(parsed.document().to_owned()),
                ))
            }
            S3Op::DeleteBucketPolicy => {
                self.state
                    .set_config::<BucketPolicy>(ConfigKind::Policy, &bucket, None)
                    .await?;
                Ok(Answer::empty(204))
            }
            _ => Err(s3_error!(
                InternalError,
                "{} is not a policy operation.",
                op.name()
            )),
        }
    }
}

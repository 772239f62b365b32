//! Admission: the one pipeline every request passes, whatever its form (header-signed,
//! presigned, SigV2, POST form, anonymous, policy-allowed, website host, preflight).
//!
//! classify -> authenticate -> authorize (policy, ownership, grants, ACLs, copy source) ->
//! profile -> route. Its result is a value: an [`Answer`] the gateway serves itself, or a
//! [`ForwardPlan`] that is the only source of the backend request. Nothing a client sends
//! reaches the backend unless it passed through here and the plan carries it.

use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use pingora::proxy::Session;

use super::Gateway;
use super::ctx::{PostUpload, RequestCtx};
use super::respond::Answer;
use crate::auth::body::{BodyVerifier, WholeBody, chunked_decoder, verify_control_body};
use crate::auth::checksum::ChecksumAlgorithm;
use crate::auth::sigv4::{self, SignedParts};
use crate::auth::{self, AuthScheme, Identity, PayloadHash, post_policy};
use crate::authz;
use crate::authz::policy::Decision;
use crate::features::cors::CorsConfiguration;
use crate::features::website::WebsiteConfiguration;
use crate::limits::Scope;
use crate::profile::route::{Route, Served, Validated, route};
use crate::s3::acl::CannedAcl;
use crate::s3::copy_source::CopySource;
use crate::s3::error::{S3Error, S3ErrorCode};
use crate::s3::form;
use crate::s3::object_checksum::{StoredChecksum, UploadChecksum};
use crate::s3::op::S3Op;
use crate::s3::preconditions::{self, CopyConditions};
use crate::s3::request::{Addressing, S3Request};
use crate::s3::tags::TagSet;
use crate::s3::uri::Query;
use crate::s3::xml;
use crate::s3_error;
use crate::state::{ACL_META, CHECKSUM_META, RESERVED_META, TAGGING_META, WRITER_META};
use crate::upstream::plan::{self, ForwardPlan, RESPONSE_OVERRIDES};
use crate::upstream::quirks;

/// The largest control-plane body the gateway reads whole.
pub const MAX_CONTROL_BODY: usize = 1024 * 1024;

/// How much of a request body pingora keeps to send it again on a fresh backend connection
/// (its `BODY_BUF_LIMIT`): a longer body is never retried.
const RETRY_BUFFER_BYTES: u64 = 64 * 1024;

use crate::auth::chunked::EMPTY_SHA256;

/// What admission decided about a request.
pub enum Admission {
    /// The gateway answers itself (ACL, policy, CORS, website, logging, ListBuckets,
    /// preflight, validated configurations).
    Answer(Answer),
    /// The backend gets exactly this request; the body follows through the verifier, if any.
    Forward(Box<ForwardPlan>),
}

impl Gateway {
    /// Runs admission for the request in `session`. Runs in `request_filter`, before any byte
    /// reaches the backend; errors carry the resource they concern.
    pub(super) async fn admit(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Admission, S3Error> {
        let header = session.req_header();
        let host = header
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let request = S3Request::parse(
            &self.hosts,
            host,
            header.uri.path(),
            header.uri.query().unwrap_or(""),
        )?;
        ctx.op = crate::s3::op::classify(&header.method, &request, &header.headers);
        let result = self
            .decide(session, ctx, &request)
            .await
            .map_err(|e| e.with_resource(request.resource()));
        ctx.request = Some(request);
        result
    }

    async fn decide(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        request: &S3Request,
    ) -> Result<Admission, S3Error> {
        if ctx.over_connection_cap {
            session.set_keepalive(None);
            return Err(s3_error!(
                SlowDown,
                "Please reduce your request rate: too many connections are open."
            ));
        }
        let header_bytes: usize = session
            .req_header()
            .headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 4)
            .sum();
        let max_header_bytes = self.limits.load().config().max_header_bytes;
        if header_bytes > max_header_bytes {
            return Err(s3_error!(
                RequestHeaderSectionTooLarge,
                "Your request header section exceeds the maximum allowed size ({header_bytes} bytes; at most {max_header_bytes})."
            ));
        }
        if let Some(ip) = session.client_addr().and_then(|a| a.as_inet()) {
            self.rate_limit(Scope::Ip, &ip.ip())?;
        }
        // Preflights and website reads carry no credentials: their bucket's limit is charged
        // now. Everything else is charged once the caller is proven (below), so requests that
        // fail authentication cannot use up a bucket's budget.
        let preflight = route(ctx.op) == Route::Serve(Served::Preflight);
        if (preflight || request.addressing == Addressing::Website)
            && let Some(bucket) = &request.bucket
        {
            self.rate_limit(Scope::Bucket, bucket)?;
        }
        if preflight {
            return self
                .preflight(session, request)
                .await
                .map(Admission::Answer);
        }
        {
            let header = session.req_header();
            // An actual request that names the method it stands for (as a preflight does) is
            // matched by that method, as RGW (Spaces) matches it.
            let method = if ctx.op == S3Op::PostObject {
                "POST"
            } else {
                header
                    .headers
                    .get("access-control-request-method")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or(header.method.as_str())
            };
            ctx.cors = self.cors_for(request, method, &header.headers).await;
        }
        if ctx.op == S3Op::PostObject {
            return self.admit_post(session, ctx, request).await;
        }
        if request.addressing == Addressing::Website {
            return self.serve_website(session, ctx, request).await;
        }

        // Authenticate.
        let header = session.req_header();
        let parts = SignedParts {
            method: header.method.as_str(),
            decoded_path: &request.decoded_path,
            raw_path: header.uri.path(),
            host_bucket: (request.addressing == Addressing::VirtualHost)
                .then_some(request.bucket.as_deref())
                .flatten(),
            query: &request.query,
            headers: &header.headers,
        };
        let identity = auth::authenticate(&parts, &self.credentials.load(), SystemTime::now())?;
        ctx.caller = Some(identity.caller());
        // Limits are charged to who the caller proved to be, never before.
        if let Some(user) = &identity.user {
            self.rate_limit(Scope::Key, &user.access_key)?;
        }
        if let Some(bucket) = &request.bucket {
            self.rate_limit(Scope::Bucket, bucket)?;
        }

        // The tags the object will carry, read as the backend will be told them: a policy
        // decides on these, and the backend gets the gateway's rendering of them.
        let tags = if ctx.op == S3Op::PutObjectTagging {
            let body = self
                .control_body(session, &identity, MAX_CONTROL_BODY)
                .await?;
            TagSet::from_xml(&body)?
        } else {
            super::policy::request_tags(&session.req_header().headers)?
        };

        // Authorize: an explicit Deny in the bucket policy wins over everything; an Allow
        // stands in for ownership, grants and ACLs (never for managing the policy itself).
        let decision = self
            .policy_decision_on(
                session,
                &session.req_header().headers,
                &tags,
                ctx.op,
                request,
                &identity,
            )
            .await?;
        if decision == Decision::Deny {
            return Err(s3_error!(
                AccessDenied,
                "Access Denied by the bucket policy."
            ));
        }
        // A multi-delete is authorized key by key (below), never by the bucket as a whole.
        let per_key = ctx.op == S3Op::DeleteObjects;
        let policy_allows = decision == Decision::Allow
            && !per_key
            && route(ctx.op) != Route::Serve(Served::Policy);
        if !policy_allows && let Err(denied) = authz::authorize(&identity, ctx.op) {
            return Err(self.missing_bucket_or(request, ctx.op, denied).await);
        }
        self.profile.admit(ctx.op)?;
        if policy_allows {
            ctx.object_writer = self.foreign_writer(ctx.op, request, &identity).await?;
        }
        let headers = &session.req_header().headers;
        self.profile.check_request(ctx.op, request, headers)?;
        let acl = requested_acl(headers);
        let mut pin = None;
        let mut owner_access = false;
        match (&identity.user, ctx.op, &request.bucket) {
            (Some(user), S3Op::CreateBucket, Some(bucket)) => {
                self.claim_bucket(ctx, bucket, user, acl).await?
            }
            (Some(user), S3Op::DeleteObjects, Some(bucket)) => {
                match authz::authorize_bucket(&self.state, user, bucket, ctx.op).await {
                    Ok(()) => owner_access = true,
                    // The bucket policy may still allow some of the keys.
                    Err(e) if e.code() == S3ErrorCode::AccessDenied => {}
                    Err(e) => return Err(e),
                }
            }
            (Some(user), op, Some(bucket)) if !policy_allows => {
                if let Err(e) = authz::authorize_bucket(&self.state, user, bucket, op).await {
                    // `public-read` means everyone: AllUsers includes authenticated users.
                    if e.code() != S3ErrorCode::AccessDenied || !authz::may_be_public(op) {
                        return Err(e);
                    }
                    let may_list = async || self.may_list_key(session, request, &identity).await;
                    pin = self
                        .authorize_anonymous(op, request, Some(&user.id), may_list)
                        .await
                        .map_err(|err| {
                            if err.code() == S3ErrorCode::NoSuchKey {
                                err
                            } else {
                                e
                            }
                        })?;
                }
            }
            (None, _, _) if !policy_allows => {
                let may_list = async || self.may_list_key(session, request, &identity).await;
                pin = self
                    .authorize_anonymous(ctx.op, request, None, may_list)
                    .await?;
            }
            _ => {}
        }
        if identity.user.is_none()
            && let Some(name) = RESPONSE_OVERRIDES.iter().find(|p| request.query.has(p))
        {
            return Err(s3_error!(
                InvalidRequest,
                "Request specific response headers cannot be used for anonymous GET requests ({name})."
            ));
        }
        // Values the backend would echo into response headers carry no control characters.
        if let Some((name, _)) = request
            .query
            .pairs()
            .find(|(n, v)| RESPONSE_OVERRIDES.contains(n) && v.chars().any(char::is_control))
        {
            return Err(s3_error!(
                InvalidArgument,
                "The value of {name} may not contain control characters."
            ));
        }
        let copy_source = match ctx.op {
            S3Op::CopyObject | S3Op::UploadPartCopy => {
                let headers = &session.req_header().headers;
                let raw = headers
                    .get("x-amz-copy-source")
                    .map(|v| v.to_str())
                    .transpose()
                    .map_err(|_| {
                        s3_error!(
                            InvalidArgument,
                            "x-amz-copy-source must be URL-encoded ASCII."
                        )
                    })?
                    .unwrap_or("");
                let source = CopySource::parse(raw)?;
                let pin = self
                    .authorize_copy_source(session, &identity, &source)
                    .await?;
                Some((source, pin))
            }
            _ => None,
        };
        // Authorized: what the backend lacks is said now (to those who may know the bucket).
        quirks::check_backend_has(
            &self.backend.config().capabilities,
            ctx.op,
            &session.req_header().headers,
        )?;
        if matches!(ctx.op, S3Op::PutObject | S3Op::CopyObject)
            && let (Some(bucket), Some(key)) = (&request.bucket, &request.key)
        {
            let object = format!("{bucket}/{key}");
            if self.limits.load().acquire_write(&object)? {
                ctx.write_slot = Some(object);
            }
        }

        // Route.
        match route(ctx.op) {
            Route::Serve(served) => {
                let body = if session.req_header().method == http::Method::PUT {
                    self.control_body(session, &identity, MAX_CONTROL_BODY)
                        .await?
                } else {
                    Bytes::new()
                };
                self.serve(served, session, ctx, request, &identity, body)
                    .await
                    .map(Admission::Answer)
            }
            Route::Complete => {
                // Its x-amz-checksum-* headers are the object's checksum, not the document's
                // (checked against the parts' in `complete_multipart`).
                let mut headers = session.req_header().headers.clone();
                for a in ChecksumAlgorithm::ALL {
                    headers.remove(a.header());
                }
                let body = read_body_capped(session, MAX_COMPLETE_BODY).await?;
                let body = verify_control_body(&headers, &identity.payload, body)?;
                self.complete_multipart(session, ctx, request, body)
                    .await
                    .map(Admission::Answer)
            }
            Route::MultiDelete => {
                let body = self
                    .control_body(session, &identity, MAX_CONTROL_BODY)
                    .await?;
                self.delete_objects(session, ctx, request, &identity, body, owner_access)
                    .await
                    .map(Admission::Answer)
            }
            Route::Validated(kind) => {
                let body = match kind {
                    // Read (and decided on) before authorization.
                    Validated::ObjectTagging => Bytes::from(tags.to_xml()),
                    _ => {
                        self.control_body(session, &identity, MAX_CONTROL_BODY)
                            .await?
                    }
                };
                self.validate_and_forward(kind, session, request, body, &ctx.request_id)
                    .await
                    .map(Admission::Answer)
            }
            Route::Unimplemented => Err(s3_error!(
                NotImplemented,
                "{} is not implemented by this gateway.",
                ctx.op.name()
            )),
            Route::Proxy => {
                let source = copy_source.as_ref().map(|(s, _)| s.clone());
                let plan = self
                    .forward_plan(
                        session,
                        ctx,
                        request,
                        &identity,
                        acl,
                        &tags,
                        copy_source,
                        pin,
                    )
                    .await?;
                if let Some(source) = source
                    && (self.copies_itself(ctx.op, &plan) || ctx.copy_checksum.is_some())
                {
                    return self
                        .copy_itself(ctx, request, &source, &plan)
                        .await
                        .map(Admission::Answer);
                }
                Ok(Admission::Forward(Box::new(plan)))
            }
        }
    }

    /// The caller, when it writes an object into a bucket it does not own (a bucket policy let
    /// it): recorded with the object, so the writer may read what it wrote.
    async fn foreign_writer(
        &self,
        op: S3Op,
        request: &S3Request,
        identity: &Identity,
    ) -> Result<Option<String>, S3Error> {
        let (Some(user), Some(bucket)) = (&identity.user, &request.bucket) else {
            return Ok(None);
        };
        if !matches!(
            op,
            S3Op::PutObject | S3Op::CopyObject | S3Op::CreateMultipartUpload | S3Op::PostObject
        ) {
            return Ok(None);
        }
        Ok(match self.state.bucket(bucket).await? {
            Some(record) if record.owner != user.id => Some(user.id.clone()),
            _ => None,
        })
    }

    /// Whether a bucket policy lets the caller list the prefix that is the requested key (so a
    /// missing key may answer `NoSuchKey` rather than look private).
    async fn may_list_key(
        &self,
        session: &Session,
        request: &S3Request,
        identity: &Identity,
    ) -> Result<bool, S3Error> {
        let Some(key) = &request.key else {
            return Ok(false);
        };
        let listing = S3Request {
            key: None,
            query: Query::parse(&format!("prefix={}", crate::s3::uri::encode_component(key)))?,
            ..request.clone()
        };
        Ok(self
            .policy_decision(session, S3Op::ListObjects, &listing, identity)
            .await?
            == Decision::Allow)
    }

    /// A refusal, unless the bucket does not exist at all: then every caller learns
    /// `404 NoSuchBucket`, as S3 answers (the names are global and public).
    async fn missing_bucket_or(&self, request: &S3Request, op: S3Op, denied: S3Error) -> S3Error {
        match (&request.bucket, op) {
            (Some(bucket), op) if op != S3Op::CreateBucket => match self.state.bucket(bucket).await
            {
                Ok(None) => s3_error!(NoSuchBucket, "The specified bucket does not exist."),
                _ => denied,
            },
            _ => denied,
        }
    }

    /// The answers the gateway serves itself, once admission has authorized them.
    async fn serve(
        &self,
        served: Served,
        session: &mut Session,
        ctx: &mut RequestCtx,
        request: &S3Request,
        identity: &Identity,
        body: Bytes,
    ) -> Result<Answer, S3Error> {
        let method = session.req_header().method.clone();
        match served {
            Served::ListBuckets => {
                let user = identity.user.as_ref().ok_or_else(anonymous_denied)?;
                self.list_buckets(user, request).await
            }
            Served::Location => Ok(Answer::xml(crate::s3::xml::location_constraint(
                &self.region,
            ))),
            Served::Acl => {
                let header = session.req_header().headers.get("x-amz-acl").cloned();
                self.serve_acl(ctx.op, request, header.as_ref(), body).await
            }
            Served::Policy => {
                let user = identity.user.as_ref().ok_or_else(anonymous_denied)?;
                self.serve_policy(ctx.op, request, user, body).await
            }
            Served::Logging => self.serve_logging(ctx.op, request, body).await,
            Served::Cors => {
                self.serve_document::<CorsConfiguration>(&method, request, body)
                    .await
            }
            Served::Website => {
                self.serve_document::<WebsiteConfiguration>(&method, request, body)
                    .await
            }
            Served::Preflight => self.preflight(session, request).await,
        }
    }

    /// May the caller read the copy source: the same decision as a GetObject of it by the
    /// same identity (its bucket's policy, then ownership / grants, or a public-read object
    /// for anonymous callers). The system bucket has no record, so it is never a source.
    async fn authorize_copy_source(
        &self,
        session: &Session,
        identity: &Identity,
        source: &CopySource,
    ) -> Result<Option<String>, S3Error> {
        let mut query = String::new();
        if let Some(v) = &source.version_id {
            query = format!("versionId={}", crate::s3::uri::encode_component(v));
        }
        let as_get = S3Request {
            addressing: Addressing::Path,
            bucket: Some(source.bucket.clone()),
            key: Some(source.key.clone()),
            query: Query::parse(&query)?,
            decoded_path: format!("/{}/{}", source.bucket, source.key),
        };
        let denied = || s3_error!(AccessDenied, "Access Denied to the copy source.");
        match self
            .policy_decision(session, S3Op::GetObject, &as_get, identity)
            .await?
        {
            Decision::Deny => return Err(denied()),
            Decision::Allow => return Ok(None),
            Decision::NotApplicable => {}
        }
        // A source read because it is public-read is pinned to the ETag that was checked, as a
        // public GET is: an ACL change in between cannot leak the next version.
        match &identity.user {
            Some(user) => {
                match authz::authorize_bucket(&self.state, user, &source.bucket, S3Op::GetObject)
                    .await
                {
                    Ok(()) => Ok(None),
                    Err(e) if e.code() == S3ErrorCode::AccessDenied => self
                        .authorize_anonymous(S3Op::GetObject, &as_get, Some(&user.id), async || {
                            Ok(false)
                        })
                        .await
                        .map_err(|_| e),
                    Err(e) => Err(e),
                }
            }
            None => self
                .authorize_anonymous(S3Op::GetObject, &as_get, None, async || Ok(false))
                .await
                .map_err(|_| denied()),
        }
    }

    /// The checksum a CopyObject's destination gets: the source's (its stored value, or a
    /// multipart source's recorded one, found by its ETag) when the request names no other
    /// algorithm; else one the gateway computes while it carries out the copy itself
    /// (`ctx.copy_checksum`). The backend never decides it.
    async fn copy_checksum(
        &self,
        ctx: &mut RequestCtx,
        plan: &mut ForwardPlan,
        source: &CopySource,
        source_headers: &http::HeaderMap,
        source_etag: &str,
        requested: Option<ChecksumAlgorithm>,
    ) -> Result<(), S3Error> {
        let kept = match source_headers
            .get(CHECKSUM_META)
            .and_then(|v| v.to_str().ok())
            .and_then(StoredChecksum::parse)
        {
            Some(StoredChecksum::Value(c)) => Some(c),
            Some(StoredChecksum::Declared(d)) => self
                .state
                .object_checksum(&source.bucket, &source.key, source_etag.trim_matches('"'))
                .await?
                .filter(|c| c.algorithm == d.algorithm),
            None => None,
        };
        plan.remove_where(|n| n == CHECKSUM_META);
        match (requested, kept) {
            (None, Some(c)) => {
                plan.set(CHECKSUM_META, &String::from(c.clone()))?;
                ctx.copied_checksum = Some(c);
            }
            (Some(a), Some(c)) if a == c.algorithm => {
                plan.set(CHECKSUM_META, &String::from(c.clone()))?;
                ctx.copied_checksum = Some(c);
            }
            (Some(algorithm), _) => {
                let upload = UploadChecksum {
                    algorithm,
                    kind: crate::s3::object_checksum::ChecksumType::FullObject,
                };
                plan.set(CHECKSUM_META, &StoredChecksum::declared(upload))?;
                ctx.copy_checksum = Some(algorithm);
            }
            (None, None) => {}
        }
        Ok(())
    }

    /// DeleteObjects: each key is a DeleteObject of its own to authorize (the bucket policy on
    /// `bucket/key`, else ownership or a grant); the backend gets the gateway's document of the
    /// allowed keys, and refused ones come back as `AccessDenied` entries of the result.
    async fn delete_objects(
        &self,
        session: &Session,
        ctx: &RequestCtx,
        request: &S3Request,
        identity: &Identity,
        body: Bytes,
        owner_access: bool,
    ) -> Result<Answer, S3Error> {
        let delete = xml::DeleteRequest::parse(&body)?;
        let bucket = request.bucket.clone().unwrap_or_default();
        let (mut allowed, mut refused) = (Vec::new(), Vec::new());
        for object in &delete.objects {
            let mut query = String::new();
            if let Some(v) = &object.version_id {
                query = format!("versionId={}", crate::s3::uri::encode_component(v));
            }
            let one = S3Request {
                addressing: Addressing::Path,
                bucket: Some(bucket.clone()),
                key: Some(object.key.clone()),
                query: Query::parse(&query)?,
                decoded_path: format!("/{bucket}/{}", object.key),
            };
            let ok = match self
                .policy_decision(session, S3Op::DeleteObject, &one, identity)
                .await?
            {
                Decision::Deny => false,
                Decision::Allow => true,
                Decision::NotApplicable => owner_access,
            };
            if ok {
                allowed.push(object);
            } else {
                refused.push(object);
            }
        }
        if allowed.is_empty() && !owner_access {
            // Nothing in this bucket is the caller's to delete.
            return Err(s3_error!(AccessDenied, "Access Denied"));
        }
        let errors = xml::delete_errors(&refused);
        if allowed.is_empty() {
            return Ok(Answer::xml(format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">{errors}</DeleteResult>"
            )));
        }
        let document = Bytes::from(delete.to_xml(&allowed));
        let r = self
            .send_document(
                S3Op::DeleteObjects,
                http::Method::POST,
                request,
                document,
                &[],
            )
            .await?;
        if !r.is_success() {
            return Ok(super::backend_error(&r, &ctx.request_id, None));
        }
        let text = String::from_utf8_lossy(&r.body);
        let merged = match text.rfind("</DeleteResult>") {
            Some(end) => format!("{}{errors}{}", &text[..end], &text[end..]),
            None => text.into_owned(),
        };
        Ok(Answer::xml(merged))
    }

    /// The backend request for a proxied operation, from what admission understood: the
    /// authorized bucket and key, known query parameters, allow-listed headers, the gateway's
    /// ACL and copy-source decisions, the read pin, and the body's framing and verifier.
    #[allow(clippy::too_many_arguments)]
    async fn forward_plan(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        request: &S3Request,
        identity: &Identity,
        acl: CannedAcl,
        tags: &TagSet,
        copy_source: Option<(CopySource, Option<String>)>,
        pin: Option<String>,
    ) -> Result<ForwardPlan, S3Error> {
        let (copy_source, copy_pin) = match copy_source {
            Some((source, pin)) => (Some(source), pin),
            None => (None, None),
        };
        let header = session.req_header();
        let headers = &header.headers;
        let acl_requested = headers.contains_key("x-amz-acl");
        let mut plan = ForwardPlan::new(
            ctx.op,
            header.method.clone(),
            request,
            identity.payload.as_str(),
        );
        plan.headers = plan::forwarded_headers(
            headers,
            &identity.signed_headers,
            copy_source.is_some(),
            RESERVED_META,
        )?;
        // Object ACLs are the gateway's: the backend keeps every object private, and the ACL
        // travels as metadata that no client may set directly.
        if acl == CannedAcl::PublicRead
            && matches!(ctx.op, S3Op::PutObject | S3Op::CreateMultipartUpload)
        {
            plan.set(ACL_META, "public-read")?;
        }
        // What the backend lacks is refused by name, never passed on to fail in its own way
        // (or, worse, to succeed without it).
        let caps = &self.backend.config().capabilities;
        let sse_c = plan.get(plan::SSE_C_HEADERS[0]).is_some()
            || plan
                .get("x-amz-copy-source-server-side-encryption-customer-algorithm")
                .is_some();
        if sse_c && !caps.features.sse_c {
            return Err(s3_error!(
                NotImplemented,
                "SSE-C (x-amz-server-side-encryption-customer-*) is not supported with the {} storage backend.",
                caps.name
            ));
        }
        // A backend that folds `a//b` into `a/b` would answer for another object.
        let folds = |key: &str| key.starts_with('/') || key.contains("//");
        if !caps.keys.empty_segments
            && (request.key.as_deref().is_some_and(folds)
                || copy_source.as_ref().is_some_and(|s| folds(&s.key)))
        {
            return Err(s3_error!(
                NotImplemented,
                "Object keys with an empty path segment ('a//b', a leading '/') are not supported with the {} storage backend.",
                caps.name
            ));
        }
        if matches!(
            ctx.op,
            S3Op::ListObjects
                | S3Op::ListObjectsV2
                | S3Op::ListObjectVersions
                | S3Op::ListMultipartUploads
        ) {
            ctx.url_encode_listing = match request.query.get("encoding-type") {
                None => false,
                Some("url") => true,
                Some(other) => {
                    return Err(s3_error!(
                        InvalidArgument,
                        "Invalid Encoding Method specified in Request: {other:?} (the one encoding is url)."
                    ));
                }
            };
        }
        if ctx.op == S3Op::ListObjectsV2
            && let Some(token) = request.query.get("continuation-token")
            && plan::backend_continuation_token(token).is_none()
        {
            return Err(s3_error!(
                InvalidArgument,
                "The continuation token provided is incorrect."
            ));
        }
        // A conditional write reaches the backend in the form it honours, or not at all.
        if matches!(ctx.op, S3Op::PutObject | S3Op::DeleteObject) {
            let conditions = quirks::conditional_write_headers(
                &self.backend.config().capabilities,
                ctx.op,
                plan.get("if-match"),
                plan.get("if-none-match"),
            )?;
            plan.remove_where(|n| n == "if-match" || n == "if-none-match");
            for (name, value) in conditions {
                plan.set(name, &value)?;
            }
        }
        // Tags go on in the gateway's spelling, never the client's (see `TagSet`); an upload's
        // wait in the gateway's metadata on a backend that would drop them.
        if !tags.is_empty()
            && matches!(
                ctx.op,
                S3Op::PutObject | S3Op::CreateMultipartUpload | S3Op::CopyObject
            )
        {
            let name = if ctx.op == S3Op::CreateMultipartUpload
                && !quirks::keeps_multipart_tagging(&self.backend.config().capabilities)
            {
                TAGGING_META
            } else {
                "x-amz-tagging"
            };
            plan.set(name, &tags.to_header())?;
        }
        if let Some(source) = &copy_source {
            let header =
                quirks::copy_source_header(&self.backend.config().capabilities, ctx.op, source);
            plan.set("x-amz-copy-source", &header)?;
            // Backends ignore some copy-source conditions (RGW 16 all of them), so the gateway
            // decides them on the source it reads, then pins the copy to that version.
            let conditions = CopyConditions::from_headers(|n| plan.get(n));
            // What the gateway read is all the backend gets: the conditions as sent never go
            // on (one the gateway could not read counts as absent, so the backend must not
            // apply it either); a decided copy is pinned to the ETag it was decided on.
            plan.remove_where(|n| n.starts_with("x-amz-copy-source-if-"));
            // The directive the gateway read (CopyObject only), spelt one way: a value the
            // backend might read as COPY would carry the source's ACL over to the copy.
            let replace = match plan.get("x-amz-metadata-directive").map(str::trim) {
                None => false,
                Some(v) if v.eq_ignore_ascii_case("COPY") => false,
                Some(v) if v.eq_ignore_ascii_case("REPLACE") => true,
                Some(other) => {
                    return Err(s3_error!(
                        InvalidArgument,
                        "Unknown metadata directive {other:?}: use COPY or REPLACE."
                    ));
                }
            };
            let copies_metadata = ctx.op == S3Op::CopyObject && !replace;
            // The tagging directive as the gateway read it, spelt one way.
            if let Some(directive) = plan.get("x-amz-tagging-directive").map(str::trim) {
                let canonical = if directive.eq_ignore_ascii_case("COPY") {
                    "COPY"
                } else if directive.eq_ignore_ascii_case("REPLACE") {
                    "REPLACE"
                } else {
                    return Err(s3_error!(
                        InvalidArgument,
                        "Unknown tagging directive {directive:?}: use COPY or REPLACE."
                    ));
                };
                plan.set("x-amz-tagging-directive", canonical)?;
            }
            if ctx.op == S3Op::CopyObject {
                let same_object = request.bucket.as_deref() == Some(source.bucket.as_str())
                    && request.key.as_deref() == Some(source.key.as_str())
                    && source.version_id.is_none();
                let changes_something = replace
                    || acl_requested
                    || [
                        "x-amz-storage-class",
                        "x-amz-website-redirect-location",
                        "x-amz-server-side-encryption-customer-algorithm",
                    ]
                    .iter()
                    .any(|n| plan.get(n).is_some());
                if same_object && !changes_something {
                    return Err(s3_error!(
                        InvalidRequest,
                        "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
                    ));
                }
                if replace {
                    plan.set("x-amz-metadata-directive", "REPLACE")?;
                    if acl == CannedAcl::PublicRead {
                        plan.set(ACL_META, "public-read")?;
                    }
                }
            }
            // A copy keeps its source's checksum (S3: unless it names another algorithm,
            // which the gateway then computes as it copies).
            let requested_checksum = match plan.get("x-amz-checksum-algorithm").map(str::trim) {
                _ if ctx.op != S3Op::CopyObject => None,
                None => None,
                Some(name) => Some(
                    ChecksumAlgorithm::from_name(&name.to_ascii_uppercase()).ok_or_else(|| {
                        s3_error!(
                            InvalidRequest,
                            "Value for x-amz-checksum-algorithm header is invalid: {name:?}."
                        )
                    })?,
                ),
            };
            plan.remove_where(|n| n == "x-amz-checksum-algorithm");
            if ctx.op == S3Op::CopyObject || copies_metadata || !conditions.is_empty() {
                // An SSE-C source is read with the key the client gave for it.
                let sse_c = plan.sse_c_key(true);
                let head = self
                    .head_object_with(
                        &source.bucket,
                        &source.key,
                        source.version_id.as_deref(),
                        &sse_c,
                    )
                    .await?;
                let header =
                    |name: http::HeaderName| head.headers.get(name).and_then(|v| v.to_str().ok());
                let etag = header(http::header::ETAG).unwrap_or_default().to_owned();
                let last_modified = header(http::header::LAST_MODIFIED)
                    .and_then(|v| httpdate::parse_http_date(v).ok());
                conditions.check(&etag, last_modified)?;
                if !etag.is_empty() {
                    plan.set("x-amz-copy-source-if-match", &etag)?;
                }
                if copies_metadata {
                    // A copy never inherits the source's ACL, so it is re-described under
                    // REPLACE with the source's own metadata (the request's is ignored, as
                    // S3 ignores it under COPY).
                    plan.remove_where(|n| {
                        n.starts_with("x-amz-meta-") || super::acl::CARRIED.contains(&n)
                    });
                    for (name, value) in super::acl::replacement_headers(&head.headers, acl) {
                        plan.set(&name, &value)?;
                    }
                }
                if ctx.op == S3Op::CopyObject {
                    self.copy_checksum(
                        ctx,
                        &mut plan,
                        source,
                        &head.headers,
                        &etag,
                        requested_checksum,
                    )
                    .await?;
                }
            }
        }
        // Backends serve a part number a single-part object does not have (RGW 16 serves the
        // whole object as part 2), so a part past the first is checked against the object's
        // multipart ETag first; part 1 always exists, but a backend that ignores part numbers
        // must not answer a multipart object's part 1 with the whole object.
        if matches!(ctx.op, S3Op::GetObject | S3Op::HeadObject)
            && let Some(part) = request.query.get("partNumber")
        {
            let part = preconditions::part_number(part)?;
            if plan.get("range").is_some() {
                return Err(s3_error!(
                    InvalidRequest,
                    "Cannot specify both Range header and partNumber query parameter."
                ));
            }
            let caps = &self.backend.config().capabilities;
            let serves_parts = quirks::serves_part_numbers(caps);
            if part > 1 || !serves_parts {
                let sse_c = plan.sse_c_key(false);
                let head = match self
                    .head_object_with(
                        request.bucket.as_deref().unwrap_or_default(),
                        request.key.as_deref().unwrap_or_default(),
                        request.query.get("versionId"),
                        &sse_c,
                    )
                    .await
                {
                    Ok(head) => head,
                    // An SSE-C object read without its key: a part it does not have is still
                    // `InvalidPart` (its listed ETag counts its parts), as RGW answers. The
                    // listing shows the current version only.
                    Err(e)
                        if e.code() == S3ErrorCode::InvalidRequest
                            && !request.query.has("versionId") =>
                    {
                        if let Some(etag) = self.listed_etag(request).await {
                            preconditions::check_part(part, &etag)?;
                        }
                        return Err(e);
                    }
                    Err(e) => return Err(e),
                };
                let etag = head
                    .headers
                    .get(http::header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                preconditions::check_part(part, etag)?;
                if !serves_parts && let Some(count) = preconditions::parts_count(etag) {
                    // The part sizes recorded at completion say which bytes the part is: the
                    // backend is asked for that range of the object (same ETag, so the same
                    // object: the read is pinned to it).
                    let sizes = self
                        .state
                        .object_part_sizes(
                            request.bucket.as_deref().unwrap_or_default(),
                            request.key.as_deref().unwrap_or_default(),
                            etag.trim_matches('"'),
                        )
                        .await?;
                    if let Some((first, last)) = sizes
                        .as_deref()
                        .and_then(|sizes| preconditions::part_range(sizes, count, part))
                    {
                        let etag = etag.to_owned();
                        plan.remove_query_param("partNumber");
                        plan.set("range", &format!("bytes={first}-{last}"))?;
                        ctx.part_range = Some((first, last));
                        if plan.get("if-match").is_none() {
                            plan.set("if-match", &etag)?;
                        }
                    } else {
                        return Err(s3_error!(
                            NotImplemented,
                            "Reading one part of this multipart object (partNumber) is not supported with the {} storage backend (its part sizes were not recorded); use a Range request.",
                            caps.name
                        ));
                    }
                }
            }
        }
        // A public read is pinned to the version it was allowed for: the object's, or the copy
        // source's.
        for (etag, header) in [(pin, "if-match"), (copy_pin, "x-amz-copy-source-if-match")] {
            let Some(etag) = etag else { continue };
            match plan.get(header) {
                Some(theirs) if theirs != etag && theirs != "*" => {
                    return Err(s3_error!(
                        PreconditionFailed,
                        "At least one of the pre-conditions you specified did not hold."
                    ));
                }
                _ => plan.set(header, &etag)?,
            }
        }
        // After the copy's metadata was settled: a copy is its copier's.
        if let Some(writer) = &ctx.object_writer
            && matches!(
                ctx.op,
                S3Op::PutObject | S3Op::CreateMultipartUpload | S3Op::CopyObject
            )
        {
            plan.set(WRITER_META, writer)?;
        }
        // The source pin, decided above, under the name the backend honours.
        if let Some(etag) = plan.get("x-amz-copy-source-if-match").map(str::to_owned) {
            for name in quirks::copy_source_pin_headers(&self.backend.config().capabilities, ctx.op)
            {
                plan.set(name, &etag)?;
            }
        }
        let header = session.req_header();
        let headers = &header.headers;
        if let Some(encoding) = headers.get(http::header::CONTENT_ENCODING) {
            let encoding = encoding.to_str().map_err(|_| {
                s3_error!(InvalidArgument, "Content-Encoding is not printable ASCII.")
            })?;
            // `aws-chunked` names the upload's framing, never the object's encoding: S3 drops it
            // from what it stores whether or not the body is chunk-signed.
            if let Some(kept) = plan::content_encoding_without_aws_chunked(encoding) {
                plan.set("content-encoding", &kept)?;
            }
        }

        // The body: its length toward the backend, and what verifies it on the way.
        let verifier = match &identity.payload {
            PayloadHash::Streaming(streaming) => {
                let decoder = chunked_decoder(headers, streaming)?;
                plan.content_length = Some(decoder.decoded_length());
                Some(BodyVerifier::Chunked(Box::new(decoder)))
            }
            payload => {
                plan.content_length = content_length(headers)?;
                // Integrity never rests on a backend that does not check: the gateway checks
                // what it would not (see `backends/<kind>.toml`).
                let verifies = self.backend.config().capabilities.verifies;
                let streams_object = matches!(ctx.op, S3Op::PutObject | S3Op::UploadPart);
                let payload_hash = match payload {
                    PayloadHash::Sha256(hex) if streams_object && !verifies.payload_hash => {
                        Some(hex.as_str())
                    }
                    _ => None,
                };
                let check_md5 = streams_object && !verifies.content_md5;
                WholeBody::new(headers, payload_hash, check_md5)?
                    .map(|w| BodyVerifier::Whole(Box::new(w)))
            }
        };
        // A checksum known before the body (a header's) is stored with the object: the body
        // reaches the backend whole only if it matches.
        if ctx.op == S3Op::PutObject
            && let Some((algorithm, value)) = verifier.as_ref().and_then(|v| v.claimed_checksum())
        {
            plan.set(CHECKSUM_META, &format!("{} {value}", algorithm.name()))?;
        }
        // A trailer's checksum is known only after the body: the object declares it, and the
        // verified value is recorded by the ETag the backend gives the object.
        if ctx.op == S3Op::PutObject
            && let Some(algorithm) = verifier.as_ref().and_then(|v| v.trailer_algorithm())
        {
            let upload = UploadChecksum {
                algorithm,
                kind: crate::s3::object_checksum::ChecksumType::FullObject,
            };
            plan.set(CHECKSUM_META, &StoredChecksum::declared(upload))?;
        }
        // A multipart upload's declared checksum is kept with it: the object's checksum is
        // combined from the parts' at completion.
        if ctx.op == S3Op::CreateMultipartUpload
            && let Some(upload) = UploadChecksum::from_headers(headers)?
        {
            plan.set(CHECKSUM_META, &StoredChecksum::declared(upload))?;
            // The backend is not told: it would want the parts' checksums at completion
            // (SeaweedFS does), which the gateway checks and leaves out (see `to_xml`).
            plan.remove_where(|n| n == "x-amz-checksum-algorithm" || n == "x-amz-checksum-type");
            ctx.upload_checksum = Some(upload);
        }
        let expects_continue = expects_continue(headers);
        let replayable = content_length(headers)?.is_some_and(|n| n <= RETRY_BUFFER_BYTES);
        let mut consumed = false;
        if let Some(mut verifier) = verifier {
            if plan.content_length == Some(0) || session.is_body_empty() {
                // Nothing would hold the backend back from completing an empty body, so it is
                // verified whole before anything is forwarded.
                let body = read_control_body(session).await?;
                verifier.verify_whole(body)?;
                ctx.checksum = verifier.verified_checksum();
                plan.content_length = Some(0);
                consumed = true;
            } else {
                // The gateway may refuse this body on the way: a backend that would store a
                // cut-off Content-Length body as complete gets it chunked instead.
                if !self
                    .backend
                    .config()
                    .capabilities
                    .verifies
                    .short_body_refused
                {
                    ctx.chunked_length = plan.content_length.take();
                }
                // Only a body pingora can replay (it keeps the first 64 KiB it read) may need
                // verifying again; the copy is not made for larger ones.
                if replayable {
                    ctx.body_verifier_start = Some(verifier.clone());
                }
                ctx.body_verifier = Some(verifier);
            }
        }
        if ctx.op == S3Op::CreateBucket && !session.is_body_empty() {
            let body = self
                .control_body(session, identity, MAX_CONTROL_BODY)
                .await?;
            self.check_location(&body)?;
            // The backend has its own region names: the constraint was for us, not for it.
            consumed = true;
            plan.content_length = Some(0);
            plan.payload_hash = EMPTY_SHA256.to_owned();
            plan.remove_where(|n| {
                n == "content-md5" || n == "content-type" || n.starts_with("x-amz-checksum-")
            });
        }
        if plan.content_length.is_none()
            && session.is_body_empty()
            && matches!(plan.method, http::Method::PUT | http::Method::POST)
        {
            plan.content_length = Some(0);
        }
        if expects_continue && !consumed && plan.content_length != Some(0) {
            plan.set("expect", "100-continue")?;
        }
        Ok(plan)
    }

    /// Reads a control document whole and verifies it against what the client signed and
    /// declared (see [`verify_control_body`]).
    pub(super) async fn control_body(
        &self,
        session: &mut Session,
        identity: &Identity,
        cap: usize,
    ) -> Result<Bytes, S3Error> {
        let body = read_body_capped(session, cap).await?;
        verify_control_body(&session.req_header().headers, &identity.payload, body)
    }

    /// A browser POST upload: the form's fields are read (they precede the file), its
    /// signature and policy verified, the bucket policy and ownership decided, and the file
    /// part is forwarded as a PutObject of exactly its length.
    async fn admit_post(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        request: &S3Request,
    ) -> Result<Admission, S3Error> {
        let header = session.req_header();
        let bucket = request.bucket.clone().unwrap_or_default();
        let content_type = header
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let boundary = form::boundary(content_type).ok_or_else(|| {
            s3_error!(
                MalformedPOSTRequest,
                "The body of your POST request is not well-formed multipart/form-data: no boundary."
            )
        })?;
        let content_length = content_length(&header.headers)?.ok_or_else(|| {
            s3_error!(
                MissingContentLength,
                "You must provide the Content-Length HTTP header."
            )
        })?;
        // What is read here is replayed through `request_body_filter` from pingora's retry
        // buffer (64 KiB), where the file extractor skips it again.
        session.as_mut().enable_retry_buffering();
        let preamble = read_form_preamble(session, &boundary).await?;
        if let Some(name) = preamble.duplicate_field() {
            return Err(s3_error!(
                InvalidArgument,
                "The POST form field {name:?} appears more than once; each field may be sent once."
            ));
        }
        let verified = post_policy::verify(
            &preamble,
            &bucket,
            &self.credentials.load(),
            SystemTime::now(),
        )?;
        let identity = Identity {
            user: Some(verified.user.clone()),
            scheme: if verified.signature_v2 {
                AuthScheme::PostV2
            } else {
                AuthScheme::PostV4
            },
            payload: PayloadHash::Unsigned,
            signed_headers: Vec::new(),
        };
        ctx.caller = Some(identity.caller());
        self.rate_limit(Scope::Key, &verified.user.access_key)?;
        self.rate_limit(Scope::Bucket, &bucket)?;
        let as_put = S3Request {
            key: Some(verified.key.clone()),
            query: Query::default(),
            ..request.clone()
        };
        // The object is stored with the form's fields, so the policy decides on them (with
        // the request's own Referer and User-Agent, which a form does not carry).
        let headers: http::HeaderMap = form::object_headers(&preamble)?.into_iter().collect();
        let mut policy_headers = headers.clone();
        for name in [http::header::REFERER, http::header::USER_AGENT] {
            if let Some(value) = session.req_header().headers.get(&name) {
                policy_headers.insert(name, value.clone());
            }
        }
        let decision = self
            .policy_decision_on(
                session,
                &policy_headers,
                &TagSet::default(),
                ctx.op,
                &as_put,
                &identity,
            )
            .await?;
        if decision == Decision::Deny {
            return Err(s3_error!(
                AccessDenied,
                "Access Denied by the bucket policy."
            ));
        }
        authz::authorize(&identity, ctx.op)?;
        if decision != Decision::Allow {
            authz::authorize_bucket(&self.state, &verified.user, &bucket, ctx.op).await?;
        } else {
            ctx.object_writer = self.foreign_writer(ctx.op, &as_put, &identity).await?;
        }
        self.profile.admit(ctx.op)?;
        let extractor = form::FileExtractor::new(&preamble, &boundary, content_length)?;
        let file_length = extractor.file_length();
        if let Some((min, max)) = verified.length_range {
            if file_length > max {
                return Err(s3_error!(
                    EntityTooLarge,
                    "Your proposed upload exceeds the maximum allowed size ({max} bytes)."
                ));
            }
            if file_length < min {
                return Err(s3_error!(
                    EntityTooSmall,
                    "Your proposed upload is smaller than the minimum allowed size ({min} bytes)."
                ));
            }
        }
        self.profile.check_request(ctx.op, &as_put, &headers)?;
        quirks::check_backend_has(&self.backend.config().capabilities, ctx.op, &headers)?;
        let mut plan = ForwardPlan::new(
            S3Op::PutObject,
            http::Method::PUT,
            &as_put,
            sigv4::UNSIGNED_PAYLOAD,
        );
        plan.headers = plan::forwarded_headers(&headers, &[], false, RESERVED_META)?;
        if requested_acl(&headers) == CannedAcl::PublicRead {
            plan.set(ACL_META, "public-read")?;
        }
        if let Some(writer) = &ctx.object_writer {
            plan.set(WRITER_META, writer)?;
        }
        plan.content_length = Some(file_length);
        ctx.post = Some(PostUpload {
            success: form::PostSuccess::from_form(&preamble),
            bucket,
            key: verified.key.clone(),
        });
        ctx.body_verifier = Some(BodyVerifier::Form(extractor));
        Ok(Admission::Forward(Box::new(plan)))
    }
}

fn anonymous_denied() -> S3Error {
    s3_error!(
        AccessDenied,
        "Anonymous access to this operation is not allowed; sign the request."
    )
}

/// The canned ACL a request asks for (`private` when none; the profile refused the others).
fn requested_acl(headers: &http::HeaderMap) -> CannedAcl {
    headers
        .get("x-amz-acl")
        .and_then(|v| v.to_str().ok())
        .and_then(CannedAcl::parse)
        .unwrap_or_default()
}

/// `Content-Length`, if the client sent one; a value that is not a number is refused. With a
/// `Transfer-Encoding` the body is framed by it, whatever a `Content-Length` says (RFC 9112
/// 6.3), and the backend gets it chunked.
fn content_length(headers: &http::HeaderMap) -> Result<Option<u64>, S3Error> {
    if headers.contains_key(http::header::TRANSFER_ENCODING) {
        return Ok(None);
    }
    headers
        .get(http::header::CONTENT_LENGTH)
        .map(|v| {
            v.to_str().ok().and_then(|v| v.parse().ok()).ok_or_else(|| {
                s3_error!(
                    InvalidArgument,
                    "Content-Length must be a non-negative integer."
                )
            })
        })
        .transpose()
}

fn expects_continue(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// The most form data the gateway reads before the file part (it must fit pingora's 64 KiB
/// retry buffer, which replays it).
const MAX_POST_PREAMBLE: usize = 60 * 1024;

/// Reads a POST form up to the start of its file part.
async fn read_form_preamble(
    session: &mut Session,
    boundary: &str,
) -> Result<form::Preamble, S3Error> {
    let too_big = || {
        s3_error!(
            MaxPostPreDataLengthExceeded,
            "Your POST request fields preceding the upload file were too large."
        )
    };
    let io =
        |e: Box<pingora::Error>| s3_error!(IncompleteBody, "Could not read the request body: {e}");
    answer_continue(session).await.map_err(io)?;
    let mut buf = BytesMut::new();
    loop {
        if let Some(preamble) = form::parse_preamble(&buf, boundary)? {
            if session.as_ref().retry_buffer_truncated() {
                return Err(too_big());
            }
            return Ok(preamble);
        }
        if buf.len() > MAX_POST_PREAMBLE {
            return Err(too_big());
        }
        match session.read_request_body().await.map_err(io)? {
            Some(chunk) => buf.extend_from_slice(&chunk),
            None => {
                return Err(s3_error!(
                    MalformedPOSTRequest,
                    "The body of your POST request is not well-formed multipart/form-data: no file part."
                ));
            }
        }
    }
}

/// Sends `100 Continue` when the client waits for it before sending a body the gateway reads
/// itself (proxied requests get the backend's own interim answer).
async fn answer_continue(session: &mut Session) -> pingora::Result<()> {
    if expects_continue(&session.req_header().headers) {
        session.write_continue_response().await?;
    }
    Ok(())
}

/// Reads a small request body whole, answering `100 Continue` first if the client waits for
/// it. Callers that act on the body verify it ([`Gateway::control_body`]).
pub(super) async fn read_control_body(session: &mut Session) -> Result<Bytes, S3Error> {
    read_body_capped(session, MAX_CONTROL_BODY).await
}

/// A CompleteMultipartUpload lists up to 10,000 parts with their checksums: more than a
/// configuration document, still small.
const MAX_COMPLETE_BODY: usize = 4 * 1024 * 1024;

/// Reads a request body whole, at most `cap` bytes.
async fn read_body_capped(session: &mut Session, cap: usize) -> Result<Bytes, S3Error> {
    let io =
        |e: Box<pingora::Error>| s3_error!(IncompleteBody, "Could not read the request body: {e}");
    answer_continue(session).await.map_err(io)?;
    let mut body = BytesMut::new();
    while let Some(chunk) = session.read_request_body().await.map_err(io)? {
        if body.len() + chunk.len() > cap {
            return Err(s3_error!(
                MaxMessageLengthExceeded,
                "Your request was too big: this document may be at most {cap} bytes."
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

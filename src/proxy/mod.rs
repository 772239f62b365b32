//! The pingora glue. [`Gateway`] implements `ProxyHttp`; each phase is a few lines that delegate
//! to the pure modules (`s3`, `auth`, `authz`, `profile`, `upstream`) and read in the order of
//! pingora's phase chart.

mod access_log;
mod acl;
mod cors;
pub mod ctx;
mod policy;
pub mod respond;
mod website;

use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::{ErrorSource, ErrorType};

use crate::auth::body::BodyVerifier;
use crate::auth::checksum::{BodyChecksum, ChecksumAlgorithm};
use crate::auth::chunked::ChunkedDecoder;
use crate::auth::credentials::CredentialStore;
use crate::auth::credentials::User;
use crate::auth::sigv4;
use crate::auth::sigv4::SignedParts;
use crate::auth::{self, AuthScheme, Identity, PayloadHash, Streaming, post_policy};
use crate::authz;
use crate::authz::policy::Decision;
use crate::config::Config;
use crate::features::access_log::AccessLogs;
use crate::limits::{ConnectionGuard, RateLimits, Scope};
use crate::profile::Profile;
use crate::proxy::ctx::{PostUpload, RequestCtx};
use crate::s3::error::S3Error;
use crate::s3::form;
use crate::s3::lifecycle::LifecycleConfiguration;
use crate::s3::op::S3Op;
use crate::s3::request::{Addressing, HostRules, S3Request};
use crate::s3::uri;
use crate::s3::xml;
use crate::s3::xml::CreateBucketConfiguration;
use crate::s3_error;
use crate::state::{BucketDocument, BucketRecord, CannedAcl, StateStore};
use crate::telemetry::RequestIds;
use crate::telemetry::metrics::{Metrics, status_class};
use crate::upstream::client::BackendClient;
use crate::upstream::{Backend, CLIENT_AUTH_PARAMS, SIGV2_QUERY_PARAMS};

/// The largest control-plane body the gateway reads whole.
pub const MAX_CONTROL_BODY: usize = 1024 * 1024;

/// Everything the gateway needs to answer requests; built once from a validated [`Config`].
pub struct Gateway {
    hosts: HostRules,
    region: String,
    /// Swapped whole on reload (SIGHUP): a request sees one consistent store.
    credentials: Arc<ArcSwap<CredentialStore>>,
    profile: Profile,
    backend: Arc<Backend>,
    client: Arc<BackendClient>,
    state: StateStore,
    logs: Arc<AccessLogs>,
    /// Client connections open now (see `max_connections`).
    connections: Arc<std::sync::atomic::AtomicUsize>,
    metrics: Arc<Metrics>,
    limits: Arc<ArcSwap<RateLimits>>,
    request_ids: RequestIds,
}

impl Gateway {
    pub fn new(config: &Config, profile: Profile) -> std::io::Result<Gateway> {
        let backend = Arc::new(Backend::new(config.backend.clone())?);
        let client = Arc::new(BackendClient::new(backend.clone()));
        let metrics = Arc::new(Metrics::new());
        let state = StateStore::new(
            metrics.clone(),
            client.clone(),
            config.backend.system_bucket.clone(),
            std::time::Duration::from_secs(config.server.state_cache_seconds),
        );
        Ok(Gateway {
            hosts: HostRules::new(&config.server.region, &config.server.domain),
            region: config.server.region.clone(),
            credentials: Arc::new(ArcSwap::from_pointee(CredentialStore::new(
                config.users.iter().cloned(),
            ))),
            profile,
            backend,
            client,
            state,
            request_ids: RequestIds::new(),
            logs: Arc::new(AccessLogs::new(config.server.access_log_buffer_records)),
            connections: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            metrics,
            limits: Arc::new(ArcSwap::from_pointee(RateLimits::new(
                config.limits.clone(),
            ))),
        })
    }

    /// Decides what happens to a request: `Ok(true)` means forward it, `Ok(false)` means a
    /// response was already written. Runs in `request_filter`, before any byte reaches the backend.
    async fn admit(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool, S3Error> {
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
        let resource = request.resource();
        let result = self.decide(session, ctx, &request).await;
        ctx.request = Some(request);
        result.map_err(|e| e.with_resource(resource))
    }

    async fn decide(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        request: &S3Request,
    ) -> Result<bool, S3Error> {
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
        let client_ip = session
            .client_addr()
            .and_then(|a| a.as_inet())
            .map(|a| a.ip().to_string());
        if let Some(ip) = &client_ip {
            self.rate_limit(Scope::Ip, ip)?;
        }
        if let Some(bucket) = &request.bucket {
            self.rate_limit(Scope::Bucket, bucket)?;
        }
        if ctx.op == S3Op::PreflightCors {
            self.preflight(session, ctx, request).await?;
            return Ok(false);
        }
        {
            let header = session.req_header();
            let method = if ctx.op == S3Op::PostObject {
                "POST"
            } else {
                header.method.as_str()
            };
            ctx.cors = self.cors_for(request, method, &header.headers).await;
        }
        if ctx.op == S3Op::PostObject {
            return self.admit_post(session, ctx, request).await;
        }
        if request.addressing == Addressing::Website {
            return self.serve_website(session, ctx, request).await;
        }
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
        ctx.backend_target = backend_target(request, identity.scheme);
        if let Some(user) = &identity.user {
            self.rate_limit(Scope::Key, &user.access_key)?;
        }
        // An explicit Deny in the bucket policy wins over everything; an Allow stands in for
        // ownership, grants and ACLs (but never for managing the policy itself).
        let decision = self
            .policy_decision(session, ctx.op, request, &identity)
            .await?;
        if decision == Decision::Deny {
            return Err(s3_error!(
                AccessDenied,
                "Access Denied by the bucket policy."
            ));
        }
        let policy_allows = decision == Decision::Allow
            && !matches!(
                ctx.op,
                S3Op::PutBucketPolicy | S3Op::GetBucketPolicy | S3Op::DeleteBucketPolicy
            );
        if !policy_allows {
            authz::authorize(&identity, ctx.op)?;
        }
        self.profile.admit(ctx.op)?;
        self.profile
            .check_request(ctx.op, request, &header.headers)?;
        if identity.user.is_none() && !policy_allows {
            ctx.if_match = self.authorize_anonymous(ctx.op, request).await?;
        }
        let header = session.req_header();
        if let Some(user) = identity.user.clone() {
            let acl = header
                .headers
                .get("x-amz-acl")
                .and_then(|v| v.to_str().ok())
                .and_then(CannedAcl::parse)
                .unwrap_or_default();
            let copy_source = header
                .headers
                .get("x-amz-copy-source")
                .and_then(|v| v.to_str().ok())
                .and_then(authz::copy_source_bucket);
            match (ctx.op, &request.bucket) {
                (S3Op::ListBuckets, _) => {
                    ctx.identity = Some(identity);
                    self.list_buckets(session, ctx, &user).await?;
                    return Ok(false);
                }
                (S3Op::CreateBucket, Some(bucket)) => {
                    self.claim_bucket(ctx, bucket, &user, acl).await?
                }
                (_, Some(bucket)) if !policy_allows => {
                    authz::authorize_bucket(&self.state, &user, bucket, ctx.op).await?
                }
                (_, Some(_)) => {}
                (_, None) => {}
            }
            if matches!(ctx.op, S3Op::PutObject | S3Op::CopyObject)
                && let (Some(bucket), Some(key)) = (&request.bucket, &request.key)
            {
                let object = format!("{bucket}/{key}");
                if self.limits.load().acquire_write(&object)? {
                    ctx.write_slot = Some(object);
                }
            }
            if let Some(source) = copy_source {
                authz::authorize_bucket(&self.state, &user, &source, S3Op::GetObject).await?;
            }
            if matches!(
                ctx.op,
                S3Op::GetBucketAcl | S3Op::PutBucketAcl | S3Op::GetObjectAcl | S3Op::PutObjectAcl
            ) {
                ctx.identity = Some(identity);
                self.serve_acl(session, ctx, request, &user).await?;
                return Ok(false);
            }
            if matches!(ctx.op, S3Op::PutBucketLogging | S3Op::GetBucketLogging) {
                ctx.identity = Some(identity);
                self.serve_logging(session, ctx, request, &user).await?;
                return Ok(false);
            }
            if matches!(
                ctx.op,
                S3Op::PutBucketPolicy | S3Op::GetBucketPolicy | S3Op::DeleteBucketPolicy
            ) {
                ctx.identity = Some(identity);
                self.serve_policy(session, ctx, request, &user).await?;
                return Ok(false);
            }
            if matches!(
                ctx.op,
                S3Op::GetBucketWebsite | S3Op::PutBucketWebsite | S3Op::DeleteBucketWebsite
            ) {
                ctx.identity = Some(identity);
                self.serve_document::<crate::features::website::WebsiteConfiguration>(
                    session, ctx, request,
                )
                .await?;
                return Ok(false);
            }
            if matches!(
                ctx.op,
                S3Op::GetBucketCors | S3Op::PutBucketCors | S3Op::DeleteBucketCors
            ) {
                ctx.identity = Some(identity);
                self.serve_document::<crate::features::cors::CorsConfiguration>(
                    session, ctx, request,
                )
                .await?;
                return Ok(false);
            }
            if matches!(
                ctx.op,
                S3Op::PutBucketLifecycleConfiguration | S3Op::PutBucketVersioning
            ) {
                ctx.identity = Some(identity);
                self.validate_and_forward(session, ctx).await?;
                return Ok(false);
            }
            if ctx.op == S3Op::CopyObject {
                let header = session.req_header();
                ctx.object_headers = self.copy_headers(request, &header.headers).await?;
            }
        }
        let header = session.req_header();

        ctx.backend_payload_hash = identity.payload.as_str().to_owned();
        let verifier = match &identity.payload {
            PayloadHash::Streaming(streaming) => {
                let decoder = chunked_decoder(&header.headers, streaming)?;
                ctx.decoded_length = Some(decoder.decoded_length());
                Some(BodyVerifier::Chunked(Box::new(decoder)))
            }
            _ => BodyChecksum::from_headers(&header.headers)?
                .map(|c| BodyVerifier::Checksum(Box::new(c))),
        };
        if let Some(verifier) = verifier {
            if ctx.decoded_length == Some(0) || session.is_body_empty() {
                // Nothing would hold the backend back from completing an empty body, so it is
                // verified whole before anything is forwarded.
                let body = read_control_body(session).await?;
                verifier.verify_whole(body)?;
                ctx.body_consumed = ctx.decoded_length.is_some();
            } else {
                ctx.body_verifier = Some(verifier);
            }
        }
        ctx.identity = Some(identity);
        if ctx.op == S3Op::CreateBucket && !session.is_body_empty() {
            let body = read_control_body(session).await?;
            self.check_location(&body)?;
            // The backend has its own region names: the constraint was for us, not for it.
            ctx.body_consumed = true;
            ctx.backend_payload_hash = PayloadHash::Sha256(EMPTY_SHA256.to_owned())
                .as_str()
                .to_owned();
        }
        Ok(true)
    }

    /// A browser POST upload: the form's fields are read (they precede the file), its signature
    /// and policy verified, and the file part is forwarded as a PutObject of exactly its length.
    async fn admit_post(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        request: &S3Request,
    ) -> Result<bool, S3Error> {
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
        let content_length: u64 = header
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| {
                s3_error!(
                    MissingContentLength,
                    "You must provide the Content-Length HTTP header."
                )
            })?;
        // What is read here is replayed through `request_body_filter` from pingora's retry
        // buffer (64 KiB), where the file extractor skips it again.
        session.as_mut().enable_retry_buffering();
        let preamble = read_form_preamble(session, &boundary).await?;
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
        };
        authz::authorize(&identity, ctx.op)?;
        authz::authorize_bucket(&self.state, &verified.user, &bucket, ctx.op).await?;
        self.profile.admit(ctx.op)?;
        ctx.identity = Some(identity);
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
        let headers = form::object_headers(&preamble)?;
        let as_put = S3Request {
            key: Some(verified.key.clone()),
            ..request.clone()
        };
        self.profile
            .check_request(ctx.op, &as_put, &headers.iter().cloned().collect())?;
        ctx.post = Some(PostUpload {
            file_length,
            headers,
            success: form::PostSuccess::from_form(&preamble),
            bucket: bucket.clone(),
            key: verified.key.clone(),
        });
        ctx.body_verifier = Some(BodyVerifier::Form(extractor));
        ctx.backend_payload_hash = sigv4::UNSIGNED_PAYLOAD.to_owned();
        ctx.backend_target = format!(
            "/{}/{}",
            uri::encode_component(&bucket),
            uri::encode_path(&verified.key)
        );
        Ok(true)
    }

    /// Counts the request against one rate limit; SlowDown (and a metric) when it is exceeded.
    fn rate_limit(&self, scope: Scope, id: &str) -> Result<(), S3Error> {
        self.limits.load().check(scope, id).map_err(|(scope, err)| {
            self.metrics
                .rate_limited
                .with_label_values(&[scope.as_str()])
                .inc();
            err
        })
    }

    /// ListBuckets, answered by the gateway: the backend's buckets that the caller owns.
    async fn list_buckets(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        user: &User,
    ) -> Result<(), S3Error> {
        let r = self
            .client
            .send(http::Method::GET, "/", &[], Bytes::new())
            .await?;
        if !r.is_success() {
            return Err(s3_error!(
                ServiceUnavailable,
                "The storage backend could not list buckets ({}); please retry.",
                r.status
            ));
        }
        let all: xml::ListAllMyBuckets = xml::parse(&r.body)?;
        let mut mine: std::collections::HashSet<String> =
            self.state.buckets_of(&user.id).await?.into_iter().collect();
        // Buckets a limited-access user was granted show up too, as Spaces lists them.
        for grant in &user.grants {
            if self.state.bucket(&grant.bucket).await?.is_some() {
                mine.insert(grant.bucket.clone());
            }
        }
        let listed: Vec<xml::ListedBucket> = all
            .buckets
            .bucket
            .into_iter()
            .filter(|b| mine.contains(&b.name))
            .collect();
        let document = xml::list_buckets_result(&user.id, &user.display_name, &listed);
        respond::send(session, ctx, 200, "application/xml", Bytes::from(document))
            .await
            .map_err(|e| s3_error!(InternalError, "Could not answer: {e}"))
    }

    /// CreateBucket: the name must be free (no record, and not a backend bucket the gateway does
    /// not know) and the caller under the bucket limit. The record is written before the backend
    /// creates the bucket, and removed again in `logging` if the backend refuses.
    async fn claim_bucket(
        &self,
        ctx: &mut RequestCtx,
        bucket: &str,
        user: &User,
        acl: CannedAcl,
    ) -> Result<(), S3Error> {
        if let Some(record) = self.state.bucket(bucket).await? {
            return Err(if record.owner == user.id {
                s3_error!(
                    BucketAlreadyOwnedByYou,
                    "Your previous request to create the named bucket succeeded and you already own it."
                )
            } else {
                s3_error!(
                    BucketAlreadyExists,
                    "The requested bucket name is not available. Please select a different name and try again."
                )
            });
        }
        let probe = self
            .client
            .send(
                http::Method::HEAD,
                &format!("/{}", uri::encode_component(bucket)),
                &[],
                Bytes::new(),
            )
            .await?;
        if probe.status != 404 {
            return Err(s3_error!(
                BucketAlreadyExists,
                "The requested bucket name is not available. Please select a different name and try again."
            ));
        }
        let owned = self.state.buckets_of(&user.id).await?.len();
        if owned >= self.profile.limits.max_buckets_per_user {
            return Err(s3_error!(
                TooManyBuckets,
                "You have attempted to create more buckets than allowed ({}).",
                self.profile.limits.max_buckets_per_user
            ));
        }
        self.state
            .put_bucket(
                bucket,
                &BucketRecord {
                    owner: user.id.clone(),
                    acl,
                },
            )
            .await?;
        ctx.claimed_bucket = Some(bucket.to_owned());
        Ok(())
    }

    /// After the backend answered: a refused CreateBucket gives its claim back; a deleted
    /// bucket loses its record. Runs before the answer reaches the client (so its next request
    /// sees the change), and again from `logging` for requests that ended without a backend
    /// answer; only the first call acts.
    async fn settle_state(&self, ctx: &mut RequestCtx, status: u16) {
        if std::mem::replace(&mut ctx.state_settled, true) {
            return;
        }
        let owner = ctx
            .identity
            .as_ref()
            .and_then(|i| i.user.as_ref())
            .map(|u| u.id.clone());
        let bucket = ctx.request.as_ref().and_then(|r| r.bucket.clone());
        let (Some(owner), Some(bucket)) = (owner, bucket) else {
            return;
        };
        let release = match ctx.op {
            S3Op::CreateBucket => ctx.claimed_bucket.is_some() && !(200..300).contains(&status),
            S3Op::DeleteBucket => status == 204,
            _ => false,
        };
        if release && let Err(e) = self.state.delete_bucket(&bucket, &owner).await {
            tracing::warn!(request_id = %ctx.request_id, "could not update the state of bucket {bucket}: {e}");
        }
    }

    /// Put/Get/Delete of a bucket configuration the gateway keeps (CORS, website), for whoever
    /// may configure the bucket (checked before): Put validates and stores, Get answers the XML
    /// or the configuration's "no such" error, Delete answers 204.
    async fn serve_document<T: BucketDocument>(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        request: &S3Request,
    ) -> Result<(), S3Error> {
        let bucket = request.bucket.clone().unwrap_or_default();
        let method = session.req_header().method.clone();
        let (status, body) = match method {
            http::Method::PUT => {
                let document = T::parse_xml(&read_control_body(session).await?)?;
                self.state
                    .set_config(T::KIND, &bucket, Some(&document))
                    .await?;
                (200, Bytes::new())
            }
            http::Method::GET => {
                let document = self
                    .state
                    .config::<T>(T::KIND, &bucket)
                    .await?
                    .ok_or_else(T::missing)?;
                (200, Bytes::from(document.to_xml()))
            }
            http::Method::DELETE => {
                self.state.set_config::<T>(T::KIND, &bucket, None).await?;
                (204, Bytes::new())
            }
            other => {
                return Err(s3_error!(
                    MethodNotAllowed,
                    "{other} is not allowed on this configuration."
                ));
            }
        };
        respond::send(session, ctx, status, "application/xml", body)
            .await
            .map_err(|e| s3_error!(InternalError, "Could not answer: {e}"))
    }

    /// Bucket configurations the gateway must read before the backend may see them: the body is
    /// read whole (capped), validated against the profile, and sent on with the gateway's own
    /// client; the backend's answer goes back as it is.
    async fn validate_and_forward(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<(), S3Error> {
        let body = read_control_body(session).await?;
        match ctx.op {
            S3Op::PutBucketLifecycleConfiguration => {
                LifecycleConfiguration::parse(&body)?;
            }
            S3Op::PutBucketVersioning => {
                let text = String::from_utf8_lossy(&body);
                if text.contains("<MfaDelete>Enabled</MfaDelete>") {
                    return Err(s3_error!(
                        NotImplemented,
                        "MFA delete (MfaDelete) is not supported."
                    ));
                }
            }
            _ => {}
        }
        let header = session.req_header();
        let forwarded: Vec<(String, String)> = header
            .headers
            .iter()
            .filter(|(n, _)| {
                let n = n.as_str();
                n == "content-md5"
                    || n == "content-type"
                    || n.starts_with("x-amz-checksum-")
                    || n == "x-amz-sdk-checksum-algorithm"
            })
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let borrowed: Vec<(&str, &str)> = forwarded
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let r = self
            .client
            .send(header.method.clone(), &ctx.backend_target, &borrowed, body)
            .await?;
        let content_type = r
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/xml")
            .to_owned();
        respond::send(session, ctx, r.status, &content_type, r.body)
            .await
            .map_err(|e| s3_error!(InternalError, "Could not answer: {e}"))
    }

    /// `CreateBucket` may name this gateway's region (or none); any other region is refused as
    /// AWS refuses a constraint for another endpoint.
    fn check_location(&self, body: &[u8]) -> Result<(), S3Error> {
        let config = CreateBucketConfiguration::parse(body)?;
        match config.location_constraint.as_deref() {
            None | Some("") => Ok(()),
            Some(region) if region == self.region => Ok(()),
            Some(other) => Err(s3_error!(
                InvalidLocationConstraint,
                "The specified location-constraint {other:?} is not valid for this endpoint; use {:?} or none.",
                self.region
            )),
        }
    }
}

/// `Content-Encoding` without the `aws-chunked` coding the gateway removed.
fn without_aws_chunked(value: &str) -> String {
    value
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("aws-chunked"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The path-style target for the backend, without the client's authentication parameters.
fn backend_target(request: &S3Request, scheme: AuthScheme) -> String {
    let v2_query = scheme == AuthScheme::SigV2Query;
    let query = request.query.encoded(|n| {
        CLIENT_AUTH_PARAMS.contains(&n) || (v2_query && SIGV2_QUERY_PARAMS.contains(&n))
    });
    if query.is_empty() {
        request.backend_path()
    } else {
        format!("{}?{query}", request.backend_path())
    }
}

/// Builds the decoder for an aws-chunked request from its framing headers.
fn chunked_decoder(
    headers: &http::HeaderMap,
    streaming: &Streaming,
) -> Result<ChunkedDecoder, S3Error> {
    let decoded: u64 = headers
        .get("x-amz-decoded-content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| {
            s3_error!(
                MissingContentLength,
                "aws-chunked uploads must send x-amz-decoded-content-length."
            )
        })?;
    let trailer = match headers
        .get("x-amz-trailer")
        .map(|v| v.to_str().unwrap_or(""))
    {
        None => None,
        Some(_) if !streaming.trailer => {
            return Err(s3_error!(
                InvalidRequest,
                "x-amz-trailer needs a STREAMING-*-TRAILER payload."
            ));
        }
        Some(name) => Some(ChecksumAlgorithm::from_header(name).ok_or_else(|| {
            s3_error!(
                InvalidRequest,
                "The value specified in the x-amz-trailer header is not supported: {name:?}."
            )
        })?),
    };
    Ok(ChunkedDecoder::new(
        streaming.signing.clone(),
        streaming.trailer,
        trailer,
        decoded,
    ))
}

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

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
    let expects_continue = session
        .req_header()
        .headers
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if expects_continue {
        session.write_continue_response().await?;
    }
    Ok(())
}

/// Reads a small request body whole, answering `100 Continue` first if the client waits for it.
async fn read_control_body(session: &mut Session) -> Result<Bytes, S3Error> {
    let io =
        |e: Box<pingora::Error>| s3_error!(IncompleteBody, "Could not read the request body: {e}");
    answer_continue(session).await.map_err(io)?;
    let mut body = BytesMut::new();
    while let Some(chunk) = session.read_request_body().await.map_err(io)? {
        if body.len() + chunk.len() > MAX_CONTROL_BODY {
            return Err(s3_error!(
                MaxMessageLengthExceeded,
                "Your request was too big: this document may be at most {MAX_CONTROL_BODY} bytes."
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx::new(self.request_ids.next())
    }

    /// First phase: count a new connection against `max_connections`, arm the idle-body
    /// timeout, and (HTTP/2) give the request the `Host` header its signature covers.
    async fn early_request_filter(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        // The first request of a connection counts it (a reused one brought its guard along).
        if let Ok(mut slot) = ctx.connection.lock()
            && slot.is_none()
        {
            let (guard, open) = ConnectionGuard::open(&self.connections);
            *slot = Some(guard);
            if let Some(max) = self.limits.load().config().max_connections {
                ctx.over_connection_cap = open > max;
            }
        }
        // A client that stops sending its body mid-request is cut off after this long.
        session.set_read_timeout(Some(self.limits.load().config().body_idle_timeout));
        let header = session.req_header_mut();
        if !header.headers.contains_key(http::header::HOST)
            && let Some(authority) = header.uri.authority().map(|a| a.as_str().to_owned())
        {
            header.insert_header(http::header::HOST, authority)?;
        }
        Ok(())
    }

    /// Parse, classify, authenticate, authorize and apply the profile. Errors are answered here.
    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        match self.admit(session, ctx).await {
            Ok(true) => Ok(false),
            Ok(false) => Ok(true),
            Err(err) => {
                respond::error(session, ctx, err).await?;
                Ok(true)
            }
        }
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        _ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        Ok(self.backend.peer())
    }

    /// Keep-alive: the connection's guard moves on to its next request.
    fn persist_connection_context(
        &self,
        _session: &Session,
        ctx: &RequestCtx,
    ) -> Option<Box<dyn std::any::Any + Send + Sync>> {
        let guard = ctx.connection.lock().ok()?.take()?;
        Some(Box::new(guard))
    }

    /// The next request on a kept-alive connection takes the guard back.
    fn on_connection_reuse(
        &self,
        _session: &mut Session,
        ctx: &mut RequestCtx,
        previous: Box<dyn std::any::Any + Send + Sync>,
    ) {
        if let Ok(guard) = previous.downcast::<ConnectionGuard>()
            && let Ok(mut slot) = ctx.connection.lock()
        {
            *slot = Some(*guard);
        }
    }

    /// Pooled backend connections are what pingora is for: count how often one is reused.
    async fn connected_to_upstream(
        &self,
        _session: &mut Session,
        reused: bool,
        _peer: &HttpPeer,
        #[cfg(unix)] _fd: std::os::unix::io::RawFd,
        #[cfg(windows)] _sock: std::os::windows::io::RawSocket,
        _digest: Option<&pingora::protocols::Digest>,
        _ctx: &mut RequestCtx,
    ) -> Result<()> {
        self.metrics
            .upstream_connections
            .with_label_values(&[if reused { "true" } else { "false" }])
            .inc();
        Ok(())
    }

    /// Point the request at the backend and re-sign it with the service credential.
    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        upstream: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        // Object ACLs are the gateway's: the backend keeps every object private, and the ACL
        // travels as metadata that no client may set directly.
        upstream.remove_header(crate::state::ACL_META);
        let acl = upstream.remove_header("x-amz-acl");
        let public = acl.as_ref().is_some_and(|v| v.as_bytes() == b"public-read");
        if public
            && matches!(
                ctx.op,
                S3Op::PutObject | S3Op::CreateMultipartUpload | S3Op::PostObject
            )
        {
            upstream.insert_header(crate::state::ACL_META, "public-read")?;
        }
        for (name, value) in &ctx.object_headers {
            upstream.insert_header(name.clone(), value.as_str())?;
        }
        if let Some(etag) = &ctx.if_match
            && !upstream.headers.contains_key(http::header::IF_MATCH)
        {
            upstream.insert_header(http::header::IF_MATCH, etag.as_str())?;
        }
        if ctx.body_consumed {
            upstream.remove_header(&http::header::TRANSFER_ENCODING);
            upstream.remove_header(&http::header::EXPECT);
            upstream.remove_header("content-md5");
            upstream.remove_header(&http::header::CONTENT_TYPE);
            upstream.insert_header(http::header::CONTENT_LENGTH, "0")?;
        }
        if let Some(post) = &ctx.post {
            // The form becomes a PutObject of the file part, with the form's object headers.
            upstream.set_method(http::Method::PUT);
            for name in [
                http::header::CONTENT_TYPE,
                http::header::EXPECT,
                http::header::TRANSFER_ENCODING,
            ] {
                upstream.remove_header(&name);
            }
            upstream.insert_header(http::header::CONTENT_LENGTH, post.file_length.to_string())?;
            for (name, value) in &post.headers {
                upstream.insert_header(name.clone(), value.clone())?;
            }
        }
        if let Some(decoded_length) = ctx.decoded_length.filter(|_| !ctx.body_consumed) {
            // The backend gets the decoded bytes with an exact length, nothing of the framing.
            upstream.remove_header(&http::header::TRANSFER_ENCODING);
            upstream.remove_header("x-amz-decoded-content-length");
            upstream.remove_header("x-amz-trailer");
            upstream.insert_header(http::header::CONTENT_LENGTH, decoded_length.to_string())?;
            let encoding = upstream
                .headers
                .get(http::header::CONTENT_ENCODING)
                .and_then(|v| v.to_str().ok())
                .map(without_aws_chunked);
            match encoding {
                Some(rest) if !rest.is_empty() => {
                    upstream.insert_header(http::header::CONTENT_ENCODING, rest)?
                }
                _ => {
                    upstream.remove_header(&http::header::CONTENT_ENCODING);
                }
            }
        }
        self.backend
            .resign(
                upstream,
                &ctx.backend_target,
                &ctx.backend_payload_hash,
                SystemTime::now(),
            )
            .map_err(|e| Error::explain(ErrorType::InternalError, e.to_string()))
    }

    /// aws-chunked bodies are decoded and verified piece by piece, whole bodies checked against
    /// their `x-amz-checksum-*`; a failure cuts the upstream request short (its tail is still held
    /// back), so the backend stores nothing.
    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let Some(verifier) = ctx.body_verifier.as_mut() else {
            return Ok(());
        };
        match verifier.filter(body.take(), end_of_stream) {
            Ok(out) => {
                *body = out;
                Ok(())
            }
            Err(err) => {
                let status = err.status().as_u16();
                let mut e = Error::explain(ErrorType::HTTPStatus(status), err.to_string());
                e.set_retry(false);
                ctx.error = Some(err);
                Err(e)
            }
        }
    }

    /// A request whose body the gateway transforms cannot be replayed: never retry it.
    fn error_while_proxy(
        &self,
        peer: &HttpPeer,
        session: &mut Session,
        e: Box<pingora::Error>,
        ctx: &mut RequestCtx,
        client_reused: bool,
    ) -> Box<pingora::Error> {
        let mut e = e.more_context(format!("Peer: {peer}"));
        if ctx.body_verifier.is_some()
            || !session.req_header().method.is_idempotent()
            || session.as_ref().retry_buffer_truncated()
        {
            e.set_retry(false);
        } else {
            e.retry.decide_reuse(client_reused);
        }
        e
    }

    /// The gateway's request id replaces the backend's, so clients and our logs share one id.
    async fn response_filter(
        &self,
        session: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        resp.insert_header("x-amz-request-id", ctx.request_id.as_str())?;
        resp.remove_header(crate::state::ACL_META);
        for (name, value) in &ctx.cors {
            resp.insert_header(name.clone(), value.as_str())?;
        }
        if !resp.status.is_informational() {
            self.settle_state(ctx, resp.status.as_u16()).await;
        }
        if let Some(post) = ctx.post.as_ref()
            && resp.status == http::StatusCode::OK
        {
            let host = session
                .req_header()
                .headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("")
                .to_owned();
            if let Some(document) = post_success(post, resp, &host)? {
                // The backend's answer to the PUT has no body to put the document in: the
                // gateway writes the whole 201 itself, and pingora skips its own header write.
                let headers: Vec<(http::HeaderName, String)> =
                    [http::header::ETAG, http::header::LOCATION]
                        .into_iter()
                        .filter_map(|n| {
                            resp.headers
                                .get(&n)
                                .and_then(|v| v.to_str().ok())
                                .map(|v| (n, v.to_owned()))
                        })
                        .collect();
                respond::send_with_headers(
                    session,
                    ctx,
                    201,
                    "application/xml",
                    &headers,
                    document,
                )
                .await?;
            }
        }
        Ok(())
    }

    /// A request that failed after admission: the backend was unreachable or broke off, or the
    /// client did. Answer in S3 XML if the client is still listening.
    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &pingora::Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy {
        // An error the gateway raised itself (a bad chunk, say) says more than pingora's view.
        let err = ctx.error.take().or_else(|| proxy_failure(e));
        let can_answer = session.response_written().is_none();
        let code = match (err, can_answer) {
            (Some(err), true) => {
                let status = err.status().as_u16();
                if let Err(write) = respond::error(session, ctx, err).await {
                    tracing::debug!(request_id = %ctx.request_id, "could not send the error response: {write}");
                }
                status
            }
            _ => 0,
        };
        FailToProxy {
            error_code: code,
            can_reuse_downstream: false,
        }
    }

    /// Failures the gateway raised itself, and clients that went away, are reported by the
    /// access log line; pingora's own error log is for the rest.
    fn suppress_error_log(
        &self,
        _session: &Session,
        ctx: &RequestCtx,
        error: &pingora::Error,
    ) -> bool {
        ctx.error.is_some() || error.esource() == &ErrorSource::Downstream
    }

    /// One line per request: who did what to which resource, and how it ended.
    async fn logging(
        &self,
        session: &mut Session,
        e: Option<&pingora::Error>,
        ctx: &mut RequestCtx,
    ) {
        let status = session.response_written().map_or(0, |r| r.status.as_u16());
        self.settle_state(ctx, status).await;
        if let Some(object) = ctx.write_slot.take() {
            self.limits.load().release_write(&object);
        }
        self.record_access(session, ctx, status).await;
        let auth = ctx
            .identity
            .as_ref()
            .map_or("anonymous", |i| i.scheme.as_str());
        self.metrics
            .requests
            .with_label_values(&[ctx.op.name(), status_class(status), auth])
            .inc();
        self.metrics
            .latency
            .with_label_values(&[ctx.op.name()])
            .observe(ctx.started.elapsed().as_secs_f64());
        self.metrics
            .bytes_in
            .inc_by(session.body_bytes_read() as u64);
        self.metrics
            .bytes_out
            .inc_by(session.body_bytes_sent() as u64);
        let user = ctx
            .identity
            .as_ref()
            .and_then(|i| i.user.as_ref())
            .map_or("-", |u| u.id.as_str());
        let resource = ctx
            .request
            .as_ref()
            .map_or_else(|| "-".to_owned(), S3Request::resource);
        let code = ctx.error.as_ref().map_or("-", |e| e.code().as_str());
        tracing::info!(
            request_id = %ctx.request_id,
            op = ctx.op.name(),
            user,
            resource,
            status,
            code,
            error = e.map(|e| e.to_string()).unwrap_or_default(),
            ms = ctx.started.elapsed().as_millis() as u64,
            "request"
        );
    }
}

/// Turns the backend's 200 for the PutObject into the answer the form asked for; returns the
/// `PostResponse` document when the form asked for a 201.
fn post_success(post: &PostUpload, resp: &mut ResponseHeader, host: &str) -> Result<Option<Bytes>> {
    let etag = resp
        .headers
        .get(http::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let location = format!(
        "http://{host}/{}/{}",
        uri::encode_component(&post.bucket),
        uri::encode_path(&post.key)
    );
    resp.insert_header(http::header::LOCATION, location.as_str())?;
    match &post.success {
        form::PostSuccess::Empty(status) => {
            resp.set_status(*status)?;
            if *status == 204 {
                resp.remove_header(&http::header::CONTENT_LENGTH);
            }
        }
        form::PostSuccess::Created => {
            let document = form::post_response_xml(&location, &post.bucket, &post.key, &etag);
            return Ok(Some(Bytes::from(document)));
        }
        form::PostSuccess::Redirect(url) => {
            let sep = if url.contains('?') { '&' } else { '?' };
            let target = format!(
                "{url}{sep}bucket={}&key={}&etag={}",
                uri::encode_component(&post.bucket),
                uri::encode_component(&post.key),
                uri::encode_component(&etag)
            );
            resp.set_status(303)?;
            resp.insert_header(http::header::LOCATION, target.as_str())?;
            resp.insert_header(http::header::CONTENT_LENGTH, "0")?;
        }
    }
    Ok(None)
}

/// Maps a pingora failure to the S3 error the client sees, or `None` when the client is gone.
fn proxy_failure(e: &pingora::Error) -> Option<S3Error> {
    use ErrorType::*;
    match (e.esource(), e.etype()) {
        (_, HTTPStatus(code)) if *code == 400 => Some(s3_error!(
            InvalidRequest,
            "The request could not be processed."
        )),
        (
            _,
            ConnectTimedout | ConnectRefused | ConnectNoRoute | ConnectError | TLSHandshakeFailure,
        ) => Some(s3_error!(
            ServiceUnavailable,
            "The storage backend is unreachable; please retry."
        )),
        (ErrorSource::Upstream, _) => Some(s3_error!(
            ServiceUnavailable,
            "The storage backend failed while handling the request; please retry."
        )),
        (ErrorSource::Downstream, ReadError | WriteError | ConnectionClosed) => None,
        (ErrorSource::Downstream, _) => Some(s3_error!(
            IncompleteBody,
            "The request body was malformed or incomplete."
        )),
        _ => Some(s3_error!(
            InternalError,
            "We encountered an internal error. Please try again."
        )),
    }
}

/// Builds the pingora server for a config: the gateway service on every `listen` address.
pub fn build_server(
    config: Arc<Config>,
    profile: Profile,
    config_path: Option<std::path::PathBuf>,
    upgrade: bool,
) -> std::result::Result<pingora::server::Server, String> {
    use pingora::server::configuration::ServerConf;
    let conf = ServerConf {
        threads: config.server.threads,
        grace_period_seconds: Some(config.server.grace_period_seconds),
        graceful_shutdown_timeout_seconds: Some(config.server.grace_period_seconds),
        upgrade_sock: config.server.upgrade_sock.display().to_string(),
        ..ServerConf::default()
    };
    // With `upgrade`, the listening sockets come from the running process (sent on SIGQUIT).
    let opt = pingora::server::configuration::Opt {
        upgrade,
        daemon: false,
        nocapture: false,
        test: false,
        conf: None,
    };
    let mut server = pingora::server::Server::new_with_opt_and_conf(Some(opt), conf);
    server.bootstrap();
    let gateway = Gateway::new(&config, profile).map_err(|e| format!("backend: {e}"))?;
    let delivery = access_log::LogDelivery {
        logs: gateway.logs.clone(),
        client: gateway.client.clone(),
        interval: std::time::Duration::from_secs(config.server.access_log_interval_seconds),
    };
    let certificates = match &config.tls {
        Some(tls) => Some(Arc::new(crate::tls::CertStore::load(
            tls.certificates.clone(),
        )?)),
        None => None,
    };
    let reloader = config_path.map(|path| crate::config::reload::Reloader {
        path,
        certificates: certificates.clone(),
        credentials: gateway.credentials.clone(),
        limits: gateway.limits.clone(),
    });
    let admin = crate::telemetry::admin::AdminApp {
        metrics: gateway.metrics.clone(),
        client: gateway.client.clone(),
        logs: gateway.logs.clone(),
    };
    let mut service =
        pingora::proxy::http_proxy_service_with_name(&server.configuration, gateway, "bucketgate");
    if let Some(proxy) = service.app_logic_mut() {
        let mut options = pingora::apps::HttpServerOptions::default();
        options.h2c = true;
        proxy.server_options = Some(options);
    }
    for addr in &config.server.listen {
        service.add_tcp(&addr.to_string());
    }
    if let (Some(tls), Some(store)) = (&config.tls, &certificates) {
        for addr in &tls.listen {
            let mut settings = pingora::listeners::tls::TlsSettings::intermediate("", "")
                .map_err(|e| format!("tls: {e}"))?;
            settings.set_cert_resolver(Arc::new(crate::tls::SniResolver(store.clone())));
            settings.enable_h2();
            service.add_tls_with_settings(&addr.to_string(), None, settings);
        }
    }
    server.add_service(service);
    if let Some(addr) = config.server.admin_listen {
        let mut admin_service =
            pingora::services::listening::Service::new("admin".to_owned(), admin);
        admin_service.add_tcp(&addr.to_string());
        server.add_service(admin_service);
    }
    if let Some(reloader) = reloader {
        server.add_service(pingora::services::background::background_service(
            "config reload",
            reloader,
        ));
    }
    server.add_service(pingora::services::background::background_service(
        "access-log delivery",
        delivery,
    ));
    Ok(server)
}

//! The pingora glue. [`Gateway`] implements `ProxyHttp`; each phase is a few lines that delegate
//! to the pure modules (`s3`, `auth`, `authz`, `profile`, `upstream`) and read in the order of
//! pingora's phase chart.

mod access_log;
mod acl;
pub mod admit;
mod checksums;
mod copy;
mod cors;
pub mod ctx;
pub mod header_deadline;
mod policy;
pub mod respond;
pub mod shutdown;
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

use crate::auth::checksum::ChecksumAlgorithm;
use crate::auth::credentials::CredentialStore;
use crate::auth::credentials::User;
use crate::config::Config;
use crate::features::access_log::AccessLogs;
use crate::limits::{ConnectionGuard, RateLimits, Scope};
use crate::profile::Profile;
use crate::profile::route::Validated;
use crate::proxy::admit::Admission;
use crate::proxy::ctx::{PostUpload, RequestCtx};
use crate::proxy::respond::Answer;
use crate::s3::acl::CannedAcl;
use crate::s3::error::S3Error;
use crate::s3::form;
use crate::s3::lifecycle::LifecycleConfiguration;
use crate::s3::object_checksum::{self, StoredChecksum};
use crate::s3::op::S3Op;
use crate::s3::request::{HostRules, S3Request};
use crate::s3::tags::TagSet;
use crate::s3::uri;
use crate::s3::xml;
use crate::s3::xml::CreateBucketConfiguration;
use crate::s3_error;
use crate::state::{BucketDocument, BucketRecord, StateStore};
use crate::telemetry::RequestIds;
use crate::telemetry::metrics::{Metrics, status_class};
use crate::upstream::Backend;
use crate::upstream::client::BackendClient;
use crate::upstream::plan::ForwardPlan;
use crate::upstream::quirks;

/// Everything the gateway needs to answer requests; built once from a validated [`Config`].
pub struct Gateway {
    hosts: HostRules,
    region: String,
    /// Swapped whole on reload (SIGHUP): a request sees one consistent store.
    credentials: Arc<ArcSwap<CredentialStore>>,
    profile: Profile,
    backend: Arc<Backend>,
    client: Arc<BackendClient>,
    state: Arc<StateStore>,
    logs: Arc<AccessLogs>,
    /// Client connections open now (see `max_connections`).
    connections: Arc<std::sync::atomic::AtomicUsize>,
    metrics: Arc<Metrics>,
    limits: Arc<ArcSwap<RateLimits>>,
    request_ids: RequestIds,
    /// Requests being processed (a SIGTERM waits for them, see [`shutdown`]).
    in_flight: shutdown::InFlight,
}

/// The answer to a CreateBucket for a name that is taken: by the caller (`owner`, from the
/// bucket's record) or by anyone else, a bucket the gateway does not know included.
fn name_taken(owner: Option<&str>, user: &User) -> S3Error {
    if owner == Some(user.id.as_str()) {
        s3_error!(
            BucketAlreadyOwnedByYou,
            "Your previous request to create the named bucket succeeded and you already own it."
        )
    } else {
        s3_error!(
            BucketAlreadyExists,
            "The requested bucket name is not available. Please select a different name and try again."
        )
    }
}

impl Gateway {
    pub fn new(config: &Config, profile: Profile) -> std::io::Result<Gateway> {
        let backend = Arc::new(Backend::new(config.backend.clone())?);
        let client = Arc::new(BackendClient::new(backend.clone()));
        let metrics = Arc::new(Metrics::new());
        let state = Arc::new(StateStore::new(
            metrics.clone(),
            client.clone(),
            config.backend.system_bucket.clone(),
            std::time::Duration::from_secs(config.server.state_cache_seconds),
        ));
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
            in_flight: shutdown::InFlight::default(),
            logs: Arc::new(AccessLogs::new(config.server.access_log_buffer_records)),
            connections: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            metrics,
            limits: Arc::new(ArcSwap::from_pointee(RateLimits::new(
                config.limits.clone(),
            ))),
        })
    }

    /// The display name of the user with this id (the id itself for a user no longer
    /// configured).
    fn display_name(&self, id: &str) -> String {
        self.credentials
            .load()
            .display_name(id)
            .unwrap_or(id)
            .to_owned()
    }

    /// Counts the request against one rate limit; SlowDown (and a metric) when it is exceeded.
    fn rate_limit(
        &self,
        scope: Scope,
        id: &(impl std::hash::Hash + ?Sized),
    ) -> Result<(), S3Error> {
        self.limits.load().check(scope, id).map_err(|(scope, err)| {
            self.metrics
                .rate_limited
                .with_label_values(&[scope.as_str()])
                .inc();
            err
        })
    }

    /// ListBuckets, answered by the gateway: the backend's buckets that the caller owns.
    async fn list_buckets(&self, user: &User, request: &S3Request) -> Result<Answer, S3Error> {
        let mut page = xml::BucketPage::from_query(&request.query)?;
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
        let listed = page.select(listed);
        let document = xml::list_buckets_result(&user.id, &user.display_name, &listed, &page);
        Ok(Answer::xml(document))
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
        // The gateway's own state lives in the system bucket: its name is never free, whether
        // or not the backend has created it yet.
        if bucket == self.state.system_bucket() {
            return Err(s3_error!(
                BucketAlreadyExists,
                "The requested bucket name is not available. Please select a different name and try again."
            ));
        }
        let Some(ticket) = self.state.begin_claim(bucket) else {
            return Err(s3_error!(
                OperationAborted,
                "A conflicting conditional operation is currently in progress against this resource. Please try again."
            ));
        };
        ctx.claim_ticket = Some(ticket);
        if let Some(record) = self.state.bucket(bucket).await? {
            return Err(name_taken(Some(&record.owner), user));
        }
        let probe = self.client.head_bucket(bucket).await?;
        if probe.status != 404 {
            // The backend has it: a bucket another replica created a moment ago (its record
            // was written first, and this replica's cache may not show it yet), or one the
            // gateway does not know.
            let owner = self.state.bucket_fresh(bucket).await?;
            return Err(name_taken(owner.as_ref().map(|r| r.owner.as_str()), user));
        }
        let owned = self.state.buckets_of(&user.id).await?.len();
        if owned >= self.profile.limits.max_buckets_per_user {
            return Err(s3_error!(
                TooManyBuckets,
                "You have attempted to create more buckets than allowed ({}).",
                self.profile.limits.max_buckets_per_user
            ));
        }
        let conditional = self
            .backend
            .config()
            .capabilities
            .conditional_writes
            .put_object;
        let record = BucketRecord {
            owner: user.id.clone(),
            acl,
        };
        if !self
            .state
            .claim_bucket(bucket, &record, conditional)
            .await?
        {
            // Another replica claimed the name a moment earlier.
            let owner = self.state.bucket(bucket).await?;
            return Err(name_taken(owner.as_ref().map(|r| r.owner.as_str()), user));
        }
        ctx.claimed_bucket = Some(bucket.to_owned());
        Ok(())
    }

    /// After the backend answered: a refused CreateBucket gives its claim back; a deleted
    /// bucket loses its record; an aborted upload's part checksums are forgotten. Runs before the answer reaches the client (so its next request
    /// sees the change), and again from `logging` for requests that ended without a backend
    /// answer; only the first call acts.
    async fn settle_state(&self, ctx: &mut RequestCtx, status: u16) {
        if std::mem::replace(&mut ctx.state_settled, true) {
            return;
        }
        let Some(bucket) = ctx.request.as_ref().and_then(|r| r.bucket.clone()) else {
            return;
        };
        if ctx.op == S3Op::AbortMultipartUpload
            && status == 204
            && let Some(upload_id) = ctx.request.as_ref().and_then(|r| r.query.get("uploadId"))
        {
            // An aborted upload's part checksums go with it.
            let (state, upload_id) = (self.state.clone(), upload_id.to_owned());
            tokio::spawn(async move { state.forget_part_checksums(&bucket, &upload_id).await });
            return;
        }
        let release = match ctx.op {
            S3Op::CreateBucket => ctx.claimed_bucket.is_some() && !(200..300).contains(&status),
            S3Op::DeleteBucket => status == 204,
            _ => false,
        };
        if !release {
            return;
        }
        if ctx.op == S3Op::CreateBucket
            && self
                .client
                .head_bucket(&bucket)
                .await
                .is_ok_and(|r| r.is_success())
        {
            // The backend has it although it refused this creation: a twin of this claim
            // (the same name claimed at once where writes cannot be conditional) created it.
            // Its record stays, or the bucket would be left without an owner.
            return;
        }
        // The record's owner, not the caller (a bucket policy may let another user delete it).
        let owner = match self.state.bucket(&bucket).await {
            Ok(Some(record)) => record.owner.clone(),
            _ => return,
        };
        if let Err(e) = self.state.delete_bucket(&bucket, &owner).await {
            tracing::warn!(request_id = %ctx.request_id, "could not update the state of bucket {bucket}: {e}");
        }
    }

    /// Put/Get/Delete of a bucket configuration the gateway keeps (CORS, website), for whoever
    /// may configure the bucket (checked before): Put validates and stores the verified `body`,
    /// Get answers the XML or the configuration's "no such" error, Delete answers 204.
    async fn serve_document<T: BucketDocument>(
        &self,
        method: &http::Method,
        request: &S3Request,
        body: Bytes,
    ) -> Result<Answer, S3Error> {
        let bucket = request.bucket.clone().unwrap_or_default();
        match *method {
            http::Method::PUT => {
                let document = T::parse_xml(&body)?;
                self.state
                    .set_config(T::KIND, &bucket, Some(&document))
                    .await?;
                Ok(Answer::empty(200))
            }
            http::Method::GET => {
                let document = self
                    .state
                    .config::<T>(T::KIND, &bucket)
                    .await?
                    .ok_or_else(T::missing)?;
                Ok(Answer::xml(document.to_xml()))
            }
            http::Method::DELETE => {
                self.state.set_config::<T>(T::KIND, &bucket, None).await?;
                Ok(Answer::empty(204))
            }
            ref other => Err(s3_error!(
                MethodNotAllowed,
                "{other} is not allowed on this configuration."
            )),
        }
    }

    /// Bucket configurations the gateway must read before the backend may see them: the
    /// verified body is validated against the profile and sent on with the gateway's own
    /// client, with only the headers that describe it; the backend's answer goes back as it is.
    async fn validate_and_forward(
        &self,
        kind: Validated,
        session: &Session,
        request: &S3Request,
        body: Bytes,
        request_id: &str,
    ) -> Result<Answer, S3Error> {
        // The body was verified whole (and decoded, if it came aws-chunked); the backend gets
        // the gateway's rendering of what it validated, never the client's bytes.
        let (op, document) = match kind {
            Validated::Lifecycle => (
                S3Op::PutBucketLifecycleConfiguration,
                LifecycleConfiguration::parse(&body)?.to_xml(),
            ),
            Validated::Versioning => {
                let config = xml::VersioningConfiguration::parse(&body)?;
                if config.mfa_delete.as_deref() == Some("Enabled") {
                    return Err(s3_error!(
                        NotImplemented,
                        "MFA delete (MfaDelete) is not supported."
                    ));
                }
                (S3Op::PutBucketVersioning, config.to_xml())
            }
            Validated::ObjectTagging => (
                S3Op::PutObjectTagging,
                crate::s3::tags::TagSet::from_xml(&body)?.to_xml(),
            ),
        };
        let method = session.req_header().method.clone();
        let r = self
            .send_document(op, method, request, Bytes::from(document), &[])
            .await?;
        if !r.is_success() {
            return Ok(backend_error(&r, request_id, None));
        }
        let content_type = r
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/xml")
            .to_owned();
        let mut answer = Answer::new(r.status, content_type, r.body);
        if let Some(version) = r
            .headers
            .get("x-amz-version-id")
            .and_then(|v| v.to_str().ok())
        {
            answer = answer.with_header(
                http::HeaderName::from_static("x-amz-version-id"),
                version.to_owned(),
            );
        }
        Ok(answer)
    }

    /// Sends the backend a document the gateway rendered or verified whole, with its own
    /// client: described by its own MD5 and content type, never by the client's framing
    /// headers; `extra` are further headers the gateway decided on.
    pub(super) async fn send_document(
        &self,
        op: S3Op,
        method: http::Method,
        request: &S3Request,
        document: Bytes,
        extra: &[(&str, &str)],
    ) -> Result<crate::upstream::client::BackendResponse, S3Error> {
        let target = ForwardPlan::new(op, method.clone(), request, "").target;
        self.send_document_to(method, &target, document, extra)
            .await
    }

    /// [`Self::send_document`] to a target the gateway built itself.
    async fn send_document_to(
        &self,
        method: http::Method,
        target: &str,
        document: Bytes,
        extra: &[(&str, &str)],
    ) -> Result<crate::upstream::client::BackendResponse, S3Error> {
        let md5 = crate::auth::body::content_md5(&document);
        let mut headers = vec![
            ("content-md5", md5.as_str()),
            ("content-type", "application/xml"),
        ];
        headers.extend_from_slice(extra);
        self.client.send(method, target, &headers, document).await
    }

    /// Whether the requested key's current version is a delete marker (asked only after the
    /// backend answered 404 to a GET/HEAD without versionId): `Some(Some(id))` with the
    /// marker's version id, `Some(None)` when the listing says it is not, `None` when it cannot
    /// tell.
    async fn current_delete_marker(&self, ctx: &RequestCtx) -> Option<Option<String>> {
        let request = ctx.request.as_ref()?;
        if request.query.has("versionId") {
            return None;
        }
        let key = request.key.as_deref()?;
        let path = format!(
            "/{}?versions&prefix={}&max-keys=1",
            uri::encode_component(request.bucket.as_deref()?),
            uri::encode_component(key)
        );
        let r = self
            .client
            .send(http::Method::GET, &path, &[], Bytes::new())
            .await
            .ok()?;
        r.is_success()
            .then(|| quirks::current_delete_marker(&r.body, key))
    }

    /// Headers S3 puts on GetObject/HeadObject answers that backends leave out: a part's
    /// `x-amz-mp-parts-count` (from the multipart ETag), and the `ETag` and `Last-Modified` of
    /// a `304 Not Modified` (RGW 16 sends neither; they are read with a HEAD).
    async fn object_answer_headers(
        &self,
        resp: &mut ResponseHeader,
        ctx: &RequestCtx,
    ) -> Result<()> {
        let Some(request) = ctx.request.as_ref() else {
            return Ok(());
        };
        if resp.status.is_success()
            && request.query.has("partNumber")
            && !resp.headers.contains_key("x-amz-mp-parts-count")
            && let Some(parts) = resp
                .headers
                .get(http::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .and_then(crate::s3::preconditions::parts_count)
        {
            resp.insert_header("x-amz-mp-parts-count", parts)?;
        }
        // A part served as a range, by a backend that answered a HEAD for the whole object.
        if ctx.op == S3Op::HeadObject
            && resp.status == http::StatusCode::OK
            && let Some((first, last)) = ctx.part_range
            && let Some(total) = resp
                .headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .filter(|total| *total > last)
        {
            resp.set_status(http::StatusCode::PARTIAL_CONTENT)?;
            resp.insert_header(http::header::CONTENT_LENGTH, last - first + 1)?;
            resp.insert_header(
                http::header::CONTENT_RANGE,
                format!("bytes {first}-{last}/{total}"),
            )?;
        }
        if resp.status == http::StatusCode::NOT_MODIFIED
            && !resp.headers.contains_key(http::header::ETAG)
            && let (Some(bucket), Some(key)) = (request.bucket.as_deref(), request.key.as_deref())
        {
            let sse_c = ctx
                .plan
                .as_ref()
                .map(|plan| plan.sse_c_key(false))
                .unwrap_or_default();
            if let Ok(head) = self
                .head_object_with(bucket, key, request.query.get("versionId"), &sse_c)
                .await
            {
                for name in [http::header::ETAG, http::header::LAST_MODIFIED] {
                    if let Some(value) = head.headers.get(&name) {
                        resp.insert_header(name, value.clone())?;
                    }
                }
            }
        }
        Ok(())
    }

    /// CompleteMultipartUpload: the parts list is checked as S3 checks it (ascending, each part
    /// once) and sent anew; the answer names the object at the gateway with its ETag, and an
    /// unknown upload is `NoSuchUpload` (RGW 16: 500 "completion already in progress").
    async fn complete_multipart(
        &self,
        session: &Session,
        ctx: &RequestCtx,
        request: &S3Request,
        body: Bytes,
    ) -> Result<Answer, S3Error> {
        let complete = xml::CompleteMultipartUpload::parse(&body)?;
        let document = complete.to_xml();
        // The parts' verified checksums, checked against what the request claims before the
        // backend completes anything.
        let (bucket, key, upload_id) = match (
            request.bucket.as_deref(),
            request.key.as_deref(),
            request.query.get("uploadId"),
        ) {
            (Some(b), Some(k), Some(u)) => (b, k, u),
            _ => {
                return Err(s3_error!(
                    InvalidRequest,
                    "CompleteMultipartUpload names a bucket, a key and an uploadId."
                ));
            }
        };
        let headers = &session.req_header().headers;
        let records = self.state.part_checksums(bucket, upload_id).await?;
        // A retried completion finds its parts' records gone (or going: they are forgotten
        // after the first success) and the object's checksum recorded under the ETag the
        // parts make; an upload of the same parts over again finds the same.
        let claims_object = ChecksumAlgorithm::ALL
            .iter()
            .any(|a| headers.contains_key(a.header()));
        let checked = object_checksum::completion_parts(&complete, &records);
        let previous = match (&checked, complete.multipart_etag()) {
            (Err(_), Some(etag)) => self.state.object_checksum(bucket, key, &etag).await?,
            (Ok(None), Some(etag)) if claims_object => {
                self.state.object_checksum(bucket, key, &etag).await?
            }
            _ => None,
        };
        let checksummed = match previous {
            Some(_) => None,
            None => checked?,
        };
        object_checksum::check_claimed_object_checksum(
            headers,
            checksummed.as_deref(),
            previous.as_ref(),
        )?;
        let headers = &session.req_header().headers;
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let conditions = quirks::conditional_write_headers(
            &self.backend.config().capabilities,
            S3Op::CompleteMultipartUpload,
            text("if-match"),
            text("if-none-match"),
        )?;
        // A backend that cannot read one part of an object is asked for the parts' sizes while
        // the upload still exists, so part reads can be served as ranges later.
        let part_sizes = if quirks::serves_part_numbers(&self.backend.config().capabilities) {
            None
        } else {
            self.upload_part_sizes(request, upload_id, &complete).await
        };
        let sse_c: Vec<(&str, &str)> = crate::upstream::plan::SSE_C_HEADERS
            .into_iter()
            .filter_map(|name| Some((name, text(name)?)))
            .collect();
        let mut extra = sse_c.clone();
        extra.extend(conditions.iter().map(|(n, v)| (*n, v.as_str())));
        let r = self
            .send_document(
                S3Op::CompleteMultipartUpload,
                http::Method::POST,
                request,
                Bytes::from(document),
                &extra,
            )
            .await?;
        if r.status == 500
            && let Some(err) = self.missing_upload(request).await
        {
            return Err(err);
        }
        if !r.is_success() {
            let rename = quirks::renamed_error_code(S3Op::CompleteMultipartUpload, r.status, false);
            return Ok(backend_error(&r, &ctx.request_id, rename));
        }
        let location = object_url(session, request).unwrap_or_default();
        // The upload is complete once the backend answers: its ETag and metadata are readable
        // now (RGW 16 answers an empty ETag; the declared checksum is in the metadata).
        let tags_wait = !quirks::keeps_multipart_tagging(&self.backend.config().capabilities);
        let head = if quirks::complete_lacks_etag(&r.body)
            || checksummed.is_some()
            || part_sizes.is_some()
            || tags_wait
        {
            // An SSE-C object is read with its key, which the completion carries.
            self.head_object_with(bucket, key, None, &sse_c).await.ok()
        } else {
            None
        };
        let head_text = |name: &str| {
            head.as_ref()
                .and_then(|h| h.headers.get(name))
                .and_then(|v| v.to_str().ok())
        };
        let etag = head_text("etag").map(str::to_owned);
        let checksum = match (&checksummed, head_text(crate::state::CHECKSUM_META), &etag) {
            (Some(parts), Some(meta), Some(etag)) => {
                self.record_object_checksum(ctx, request, parts, meta, etag)
                    .await
            }
            _ => previous,
        };
        let version = r
            .headers
            .get("x-amz-version-id")
            .and_then(|v| v.to_str().ok());
        if let Some(tags) = head_text(crate::state::TAGGING_META) {
            self.tag_completed_object(ctx, request, tags, version)
                .await?;
        }
        if let (Some(sizes), Some(etag)) = (&part_sizes, &etag)
            && let Err(e) = self
                .state
                .set_object_part_sizes(bucket, key, etag.trim_matches('"'), sizes)
                .await
        {
            // Reads of one part then answer 501, never wrong bytes.
            tracing::warn!(request_id = %ctx.request_id, "could not record the part sizes of {bucket}/{key}: {e}");
        }
        if !records.is_empty() {
            let state = self.state.clone();
            let (bucket, upload_id) = (bucket.to_owned(), upload_id.to_owned());
            tokio::spawn(async move { state.forget_part_checksums(&bucket, &upload_id).await });
        }
        let fixed = quirks::BodyFix::Complete {
            location,
            etag,
            checksum,
        }
        .apply(&r.body);
        let mut answer = Answer::xml(fixed);
        if let Some(version) = r
            .headers
            .get("x-amz-version-id")
            .and_then(|v| v.to_str().ok())
        {
            answer = answer.with_header(
                http::HeaderName::from_static("x-amz-version-id"),
                version.to_owned(),
            );
        }
        Ok(answer)
    }

    /// The checksum of a just-completed multipart object, combined from its parts' by the
    /// upload's declaration (`meta`, see [`StoredChecksum`]) and recorded by its ETag.
    async fn record_object_checksum(
        &self,
        ctx: &RequestCtx,
        request: &S3Request,
        parts: &[&object_checksum::PartChecksum],
        meta: &str,
        etag: &str,
    ) -> Option<object_checksum::ObjectChecksum> {
        let Some(StoredChecksum::Declared(upload)) = StoredChecksum::parse(meta) else {
            return None;
        };
        // Parts checked with another algorithm than the declared one make no object checksum.
        if parts.first()?.algorithm != upload.algorithm {
            return None;
        }
        let checksum = object_checksum::ObjectChecksum {
            algorithm: upload.algorithm,
            kind: upload.kind,
            value: object_checksum::combine(upload, parts).ok()?,
        };
        let (bucket, key) = (request.bucket.as_deref()?, request.key.as_deref()?);
        if let Err(e) = self
            .state
            .set_object_checksum(bucket, key, etag.trim_matches('"'), &checksum)
            .await
        {
            tracing::warn!(request_id = %ctx.request_id, "could not record the checksum of {bucket}/{key}: {e}");
            return None;
        }
        Some(checksum)
    }

    /// Tags a just-completed multipart object with the tags its upload carried in the
    /// gateway's metadata ([`crate::state::TAGGING_META`]), before the client hears it is
    /// complete. A failure is the completion's: the client retries it and the backend answers
    /// the same object again.
    async fn tag_completed_object(
        &self,
        ctx: &RequestCtx,
        request: &S3Request,
        tags: &str,
        version: Option<&str>,
    ) -> Result<(), S3Error> {
        let tags = TagSet::from_header(tags)?;
        let mut path = format!("{}?tagging", request.backend_path());
        if let Some(v) = version.filter(|v| !v.is_empty() && *v != "null") {
            path.push_str("&versionId=");
            path.push_str(&uri::encode_component(v));
        }
        let r = self
            .send_document_to(http::Method::PUT, &path, Bytes::from(tags.to_xml()), &[])
            .await?;
        if !r.is_success() {
            tracing::warn!(request_id = %ctx.request_id, status = r.status, "could not tag a completed multipart object");
            return Err(s3_error!(
                ServiceUnavailable,
                "The upload completed but its tags could not be set; please retry the completion."
            ));
        }
        Ok(())
    }

    /// The sizes of the parts a completion names, in its order, read from the backend's
    /// ListParts; `None` when the backend cannot tell (the completion then fails anyway, or
    /// part reads of the object answer 501).
    async fn upload_part_sizes(
        &self,
        request: &S3Request,
        upload_id: &str,
        complete: &xml::CompleteMultipartUpload,
    ) -> Option<Vec<u64>> {
        let mut listed = std::collections::HashMap::new();
        let mut marker = 0;
        loop {
            let path = format!(
                "{}?uploadId={}&part-number-marker={marker}",
                request.backend_path(),
                uri::encode_component(upload_id)
            );
            let r = self
                .client
                .send(http::Method::GET, &path, &[], Bytes::new())
                .await
                .ok()?;
            if !r.is_success() {
                return None;
            }
            let page: xml::ListPartsPage = xml::parse(&r.body).ok()?;
            let last = page.parts.last().map(|p| p.part_number);
            for part in page.parts {
                listed.insert(part.part_number, part);
            }
            match (page.is_truncated, page.next_part_number_marker.or(last)) {
                (true, Some(next)) if next > marker => marker = next,
                _ => break,
            }
        }
        let mut sizes = Vec::with_capacity(complete.parts.len());
        let mut previous = None;
        for part in &complete.parts {
            // A part listed twice in a row is one part (see `CompleteMultipartUpload::parse`).
            if previous == Some(part.part_number) {
                continue;
            }
            previous = Some(part.part_number);
            let listed = listed.get(&part.part_number)?;
            if listed.etag.trim_matches('"') != part.etag.trim().trim_matches('"') {
                return None;
            }
            sizes.push(listed.size);
        }
        Some(sizes)
    }

    /// `NoSuchUpload` when the request's multipart upload does not exist at the backend.
    async fn missing_upload(&self, request: &S3Request) -> Option<S3Error> {
        let upload_id = request.query.get("uploadId")?;
        let path = format!(
            "{}?uploadId={}&max-parts=1",
            request.backend_path(),
            uri::encode_component(upload_id)
        );
        let r = self
            .client
            .send(http::Method::GET, &path, &[], Bytes::new())
            .await
            .ok()?;
        (r.status == 404).then(|| {
            s3_error!(
                NoSuchUpload,
                "The specified multipart upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
            )
            .with_resource(request.resource())
        })
    }

    /// Which correction a backend answer's body needs, if any.
    async fn body_fix(
        &self,
        session: &Session,
        resp: &ResponseHeader,
        ctx: &RequestCtx,
    ) -> Option<quirks::BodyFix> {
        let header = session.req_header();
        if header.method == http::Method::HEAD || resp.status.is_informational() {
            return None;
        }
        let xml = resp
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("xml"));
        if resp.status.as_u16() >= 300 && xml {
            return Some(quirks::BodyFix::Error {
                request_id: ctx.request_id.clone(),
                rename: quirks::renamed_error_code(
                    ctx.op,
                    resp.status.as_u16(),
                    ctx.request
                        .as_ref()
                        .is_some_and(|r| r.query.has("versionId")),
                ),
            });
        }
        let lists_owners = match ctx.op {
            S3Op::ListObjects
            | S3Op::ListObjectVersions
            | S3Op::ListMultipartUploads
            | S3Op::ListParts => true,
            S3Op::ListObjectsV2 => ctx
                .request
                .as_ref()
                .is_some_and(|r| r.query.get("fetch-owner") == Some("true")),
            _ => false,
        };
        let opaque_tokens = ctx.op == S3Op::ListObjectsV2;
        if (lists_owners || ctx.url_encode_listing || opaque_tokens)
            && resp.status == http::StatusCode::OK
        {
            let owner = match lists_owners {
                true => {
                    let bucket = ctx.request.as_ref()?.bucket.as_deref()?;
                    let owner = self.state.bucket(bucket).await.ok()??.owner.clone();
                    let display_name = self.display_name(&owner);
                    Some((owner, display_name))
                }
                false => None,
            };
            // ListParts: each part's verified checksum, as S3 lists it (backends may not).
            let parts = match (ctx.op, ctx.request.as_ref()) {
                (S3Op::ListParts, Some(r)) => {
                    match (r.bucket.as_deref(), r.query.get("uploadId")) {
                        (Some(b), Some(u)) => {
                            self.state.part_checksums(b, u).await.unwrap_or_default()
                        }
                        _ => Vec::new(),
                    }
                }
                _ => Vec::new(),
            };
            return Some(quirks::BodyFix::Listing {
                owner,
                url_encode: ctx.url_encode_listing.then_some(ctx.op),
                opaque_tokens,
                parts,
            });
        }
        if matches!(ctx.op, S3Op::CopyObject | S3Op::UploadPartCopy)
            && resp.status == http::StatusCode::OK
        {
            return Some(quirks::BodyFix::CopyResult {
                checksum: ctx.copied_checksum.clone(),
            });
        }
        None
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

#[async_trait]
impl ProxyHttp for Gateway {
    /// Boxed: pingora keeps the context inline in each connection's task, idle ones included;
    /// boxed, an idle keep-alive connection holds 8 bytes of it instead of the whole context
    /// (allocated once its next request's head has arrived).
    type CTX = Box<RequestCtx>;

    fn new_ctx(&self) -> Box<RequestCtx> {
        Box::new(RequestCtx::new(
            self.request_ids.next(),
            self.in_flight.enter(),
        ))
    }

    /// First phase: count a new connection against `max_connections`, arm the idle-body
    /// timeout, and (HTTP/2) give the request the `Host` header its signature covers.
    async fn early_request_filter(&self, session: &mut Session, ctx: &mut Self::CTX) -> Result<()> {
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
    async fn request_filter(&self, session: &mut Session, ctx: &mut Self::CTX) -> Result<bool> {
        match self.admit(session, ctx).await {
            Ok(Admission::Forward(plan)) => {
                ctx.plan = Some(*plan);
                Ok(false)
            }
            Ok(Admission::Answer(answer)) => {
                if answer.status >= 300 {
                    ctx.backend_code = quirks::error_code(&answer.body).map(Into::into);
                }
                respond::answer(session, ctx, answer).await?;
                Ok(true)
            }
            Err(err) => {
                respond::error(session, ctx, err).await?;
                Ok(true)
            }
        }
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        _ctx: &mut Self::CTX,
    ) -> Result<Box<HttpPeer>> {
        Ok(self.backend.peer())
    }

    /// Keep-alive: the connection's guard moves on to its next request.
    fn persist_connection_context(
        &self,
        _session: &Session,
        ctx: &Self::CTX,
    ) -> Option<Box<dyn std::any::Any + Send + Sync>> {
        let guard = ctx.connection.lock().ok()?.take()?;
        Some(Box::new(guard))
    }

    /// The next request on a kept-alive connection takes the guard back.
    fn on_connection_reuse(
        &self,
        _session: &mut Session,
        ctx: &mut Self::CTX,
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
        _ctx: &mut Self::CTX,
    ) -> Result<()> {
        self.metrics
            .upstream_connections
            .with_label_values(&[if reused { "true" } else { "false" }])
            .inc();
        Ok(())
    }

    /// The backend request is built from the forward plan alone (nothing of the client's
    /// header block is carried over) and signed with the service credential.
    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        upstream: &mut RequestHeader,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        let internal = |e: S3Error| Error::explain(ErrorType::InternalError, e.to_string());
        ctx.upstream_attempts = ctx.upstream_attempts.saturating_add(1);
        if ctx.upstream_attempts > 1
            && let Some(start) = &ctx.body_verifier_start
        {
            // The body is replayed from pingora's retry buffer: verified from its start again.
            ctx.body_verifier = Some(start.clone());
        }
        let plan = ctx
            .plan
            .as_ref()
            .ok_or_else(|| Error::explain(ErrorType::InternalError, "no forward plan"))?;
        let mut header = plan.request_header().map_err(internal)?;
        self.backend
            .resign(&mut header, &plan.payload_hash, SystemTime::now())
            .map_err(internal)?;
        *upstream = header;
        Ok(())
    }

    /// aws-chunked bodies are decoded and verified piece by piece, whole bodies checked against
    /// their `x-amz-checksum-*`; a failure cuts the upstream request short (its tail is still held
    /// back), so the backend stores nothing.
    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        let Some(verifier) = ctx.body_verifier.as_mut() else {
            return Ok(());
        };
        match verifier.filter(body.take(), end_of_stream) {
            Ok(out) => {
                *body = out;
                if end_of_stream {
                    ctx.checksum = verifier.verified_checksum();
                }
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

    /// A request that failed on a reused (stale) backend connection goes out again on a fresh
    /// one when that is safe: an idempotent method, and a body still whole in pingora's retry
    /// buffer (a verified body is verified again from its start, see `upstream_request_filter`).
    fn error_while_proxy(
        &self,
        peer: &HttpPeer,
        session: &mut Session,
        e: Box<pingora::Error>,
        ctx: &mut Self::CTX,
        client_reused: bool,
    ) -> Box<pingora::Error> {
        let mut e = e.more_context(format!("Peer: {peer}"));
        if (ctx.body_verifier.is_some() && ctx.body_verifier_start.is_none())
            || !session.req_header().method.is_idempotent()
            || session.as_ref().retry_buffer_truncated()
        {
            e.set_retry(false);
        } else {
            // A pooled connection the backend had closed takes the head into its socket buffer
            // and fails on the body's write. The backend cannot have carried out a request it
            // did not receive whole, nothing was answered and the body is held, so it goes out
            // again on a fresh connection, as pingora retries a reused connection that closes
            // before the answer's first byte. A write to the client that failed is no reason.
            if client_reused
                && e.etype == ErrorType::WriteError
                && e.esource() == &ErrorSource::Upstream
                && session.response_written().is_none()
            {
                e.retry = pingora::RetryType::ReusedOnly;
            }
            e.retry.decide_reuse(client_reused);
        }
        e
    }

    /// The gateway's request id replaces the backend's, so clients and our logs share one id.
    async fn response_filter(
        &self,
        session: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        resp.insert_header("x-amz-request-id", ctx.request_id.as_str())?;
        let stored_checksum = resp.remove_header(crate::state::CHECKSUM_META);
        for name in crate::state::RESERVED_META {
            resp.remove_header(*name);
        }
        self.answer_checksum(session, resp, ctx, stored_checksum)
            .await?;
        self.record_part_checksum(ctx, resp).await;
        self.record_trailer_checksum(ctx, resp).await;
        // Nothing is allocated when there is nothing to drop (the common case).
        while let Some(name) = resp
            .headers
            .keys()
            .find(|n| quirks::is_backend_header(n.as_str()))
            .cloned()
        {
            resp.remove_header(&name);
        }
        if matches!(ctx.op, S3Op::GetObject | S3Op::HeadObject)
            && resp.status == http::StatusCode::NOT_FOUND
            && !quirks::reports_delete_markers(&self.backend.config().capabilities)
            && !resp.headers.contains_key("x-amz-delete-marker")
        {
            // S3 says either way: `true` with the marker's version, or `false` (nothing is said
            // when the listing could not tell: a missing bucket, a version asked for by id).
            match self.current_delete_marker(ctx).await {
                Some(Some(version)) => {
                    resp.insert_header("x-amz-delete-marker", "true")?;
                    resp.insert_header("x-amz-version-id", version)?;
                }
                Some(None) => resp.insert_header("x-amz-delete-marker", "false")?,
                None => {}
            }
        }
        if matches!(ctx.op, S3Op::GetObject | S3Op::HeadObject) {
            self.object_answer_headers(resp, ctx).await?;
        }
        ctx.body_fix = self
            .body_fix(session, resp, ctx)
            .await
            .map(|fix| (fix, BytesMut::new()));
        if ctx.body_fix.is_some() {
            // The corrected body has another length: it goes out chunked (HTTP/2 frames it
            // itself; HTTP/1.0 reads it to the close).
            resp.remove_header(&http::header::CONTENT_LENGTH);
            match session.req_header().version {
                http::Version::HTTP_11 => {
                    resp.insert_header(http::header::TRANSFER_ENCODING, "chunked")?;
                }
                // Without chunked coding, the end of the body is the end of the connection.
                http::Version::HTTP_10 | http::Version::HTTP_09 => {
                    session.set_keepalive(None);
                    resp.insert_header(http::header::CONNECTION, "close")?;
                }
                _ => {}
            }
        }
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

    /// Backend answers whose body names the backend (error documents, multipart locations) are
    /// read whole (they are small) and corrected before they go out.
    fn response_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut Self::CTX,
    ) -> Result<Option<std::time::Duration>> {
        let Some((fix, held)) = ctx.body_fix.as_mut() else {
            return Ok(None);
        };
        if let Some(piece) = body.take() {
            held.extend_from_slice(&piece);
        }
        if held.len() > quirks::MAX_FIXED_BODY {
            // Not the small document expected: pass it on as it came.
            *body = Some(std::mem::take(held).freeze());
            ctx.body_fix = None;
        } else if end_of_stream {
            let fixed = fix.apply(held);
            if matches!(fix, quirks::BodyFix::Error { .. }) {
                ctx.backend_code = quirks::error_code(&fixed).map(Into::into);
            }
            *body = Some(fixed);
            ctx.body_fix = None;
        }
        Ok(None)
    }

    /// A request that failed after admission: the backend was unreachable or broke off, or the
    /// client did. Answer in S3 XML if the client is still listening.
    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &pingora::Error,
        ctx: &mut Self::CTX,
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
        ctx: &Self::CTX,
        error: &pingora::Error,
    ) -> bool {
        ctx.error.is_some() || error.esource() == &ErrorSource::Downstream
    }

    /// One line per request: who did what to which resource, and how it ended.
    async fn logging(
        &self,
        session: &mut Session,
        e: Option<&pingora::Error>,
        ctx: &mut Self::CTX,
    ) {
        let status = session.response_written().map_or(0, |r| r.status.as_u16());
        self.settle_state(ctx, status).await;
        if let Some(object) = ctx.write_slot.take() {
            self.limits.load().release_write(&object);
        }
        self.record_access(session, ctx, status).await;
        let auth = ctx
            .caller
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
        if let Some(e) = e
            && e.esource() == &ErrorSource::Upstream
        {
            let answered = if status == 0 { "false" } else { "true" };
            self.metrics
                .upstream_failures
                .with_label_values(&[ctx.op.name(), answered])
                .inc();
        }
        self.metrics
            .bytes_in
            .inc_by(session.body_bytes_read() as u64);
        self.metrics
            .bytes_out
            .inc_by(session.body_bytes_sent() as u64);
        let user = ctx
            .caller
            .as_ref()
            .and_then(|i| i.user.as_ref())
            .map_or("-", |u| u.id.as_str());
        let resource = ctx.request.as_ref().map(S3Request::resource_display);
        let code = ctx.error_code().unwrap_or("-");
        tracing::info!(
            request_id = %ctx.request_id,
            op = ctx.op.name(),
            user,
            resource = %resource.as_ref().map_or(&"-" as &dyn std::fmt::Display, |r| r),
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

/// Bytes each client connection buffers for reading, beneath pingora's own buffers: none.
/// pingora's default, 64 KiB, is held for the life of every connection, idle keep-alive ones
/// included (~64 MiB per 1,000). It saves nothing: pingora reads a request head into its own
/// 4 KiB buffer and a body in pieces of up to 64 KiB, so most reads went past it to the socket
/// anyway (pingora supports a zero capacity: reads go straight to the socket). Without it an
/// idle connection holds 4 KiB less, with no CPU cost measurable in `scripts/bench.sh`
/// (docs/performance.md).
const CLIENT_READ_BUFFER: usize = 0;

/// A client listener (plain TCP; TLS is added by the caller) with the gateway's read buffer.
fn client_listener(addr: &str) -> pingora::listeners::ListenerConfig {
    pingora::listeners::ListenerConfig::tcp(addr)
        .l4_buffer(pingora::listeners::L4BufferSettings::default().read(CLIENT_READ_BUFFER))
}

/// A backend's error answer, passed on with the gateway's identity (see `quirks::BodyFix`).
pub(super) fn backend_error(
    r: &crate::upstream::client::BackendResponse,
    request_id: &str,
    rename: Option<(&'static str, &'static str)>,
) -> Answer {
    let body = quirks::BodyFix::Error {
        request_id: request_id.to_owned(),
        rename,
    }
    .apply(&r.body);
    Answer::new(r.status, "application/xml", body)
}

/// The object's URL at the gateway, as the client addressed it.
fn object_url(session: &Session, request: &S3Request) -> Option<String> {
    let host = session
        .req_header()
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())?;
    let scheme = if session.digest().is_some_and(|d| d.ssl_digest.is_some()) {
        "https"
    } else {
        "http"
    };
    let key = uri::encode_path(request.key.as_deref()?);
    Some(match request.addressing {
        crate::s3::request::Addressing::VirtualHost => format!("{scheme}://{host}/{key}"),
        _ => format!(
            "{scheme}://{host}/{}/{key}",
            uri::encode_component(request.bucket.as_deref()?)
        ),
    })
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
        (ErrorSource::Upstream, ReadTimedout | WriteTimedout) => Some(s3_error!(
            ServiceUnavailable,
            "The storage backend did not answer in time ([backend] read_timeout_ms); please retry."
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
        state: gateway.state.clone(),
        interval: std::time::Duration::from_secs(config.server.access_log_interval_seconds),
        running: Default::default(),
    };
    let terminate = shutdown::Terminate {
        in_flight: gateway.in_flight.clone(),
        delivery: delivery.clone(),
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
    let mut proxy = pingora::proxy::HttpProxy::new(gateway, server.configuration.clone());
    proxy.handle_init_modules();
    let mut options = pingora::apps::HttpServerOptions::default();
    options.h2c = true;
    proxy.server_options = Some(options);
    // Every request head must arrive within a total deadline (pingora bounds only each read).
    let app = header_deadline::HeaderDeadlineApp {
        inner: Arc::new(proxy),
        deadline: config.limits.header_timeout,
    };
    let app = shutdown::DrainApp {
        inner: Arc::new(app),
        drain: std::time::Duration::from_millis(config.server.grace_period_seconds * 500),
    };
    let mut service = pingora::services::listening::Service::new("bucketgate".to_owned(), app);
    for addr in &config.server.listen {
        service.add_listener(client_listener(&addr.to_string()));
    }
    if let (Some(tls), Some(store)) = (&config.tls, &certificates) {
        for addr in &tls.listen {
            let mut settings = pingora::listeners::tls::TlsSettings::intermediate("", "")
                .map_err(|e| format!("tls: {e}"))?;
            settings.set_cert_resolver(Arc::new(crate::tls::SniResolver(store.clone())));
            settings.enable_h2();
            service.add_listener(client_listener(&addr.to_string()).tls(settings));
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
    server.add_service(pingora::services::background::background_service(
        "shutdown on SIGTERM",
        terminate,
    ));
    server.add_service(pingora::services::background::background_service(
        "backend probe",
        crate::upstream::probe::StartupProbe(config.backend.clone()),
    ));
    Ok(server)
}

//! Access-log glue: the logging configuration API, one record per request from the `logging`
//! phase, and the background delivery service.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use http::Method;
use pingora::proxy::Session;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;

use super::Gateway;
use super::ctx::RequestCtx;
use super::respond::Answer;
use crate::auth::AuthScheme;
use crate::features::access_log::{self, AccessLogs, LoggingTarget, Record};
use crate::s3::error::S3Error;
use crate::s3::op::S3Op;
use crate::s3::request::{Addressing, S3Request};
use crate::s3::uri;
use crate::s3_error;
use crate::state::ConfigKind;
use crate::upstream::client::BackendClient;

impl Gateway {
    /// Put/GetBucketLogging. The target must be another bucket with the same owner as the
    /// source; that owner is recorded with the target, and records go only to a target that
    /// still belongs to it (a deleted and re-created name gets nothing).
    pub(super) async fn serve_logging(
        &self,
        op: S3Op,
        request: &S3Request,
        body: Bytes,
    ) -> Result<Answer, S3Error> {
        let bucket = request.bucket.clone().unwrap_or_default();
        let owner = self
            .state
            .bucket(&bucket)
            .await?
            .ok_or_else(|| s3_error!(NoSuchBucket, "The specified bucket does not exist."))?
            .owner
            .clone();
        match op {
            S3Op::PutBucketLogging => {
                let mut target = access_log::parse_logging_status(&body)?;
                if let Some(t) = &mut target {
                    let invalid = |why: &str| {
                        s3_error!(
                            InvalidTargetBucketForLogging,
                            "The target bucket for logging {why}."
                        )
                    };
                    if t.bucket == bucket {
                        return Err(invalid("must be different from the source bucket"));
                    }
                    match self.state.bucket(&t.bucket).await? {
                        None => return Err(invalid("does not exist")),
                        Some(record) if record.owner != owner => {
                            return Err(invalid("must be owned by you"));
                        }
                        Some(_) => {}
                    }
                    t.owner = Some(owner);
                }
                self.state
                    .set_config(ConfigKind::Logging, &bucket, target.as_ref())
                    .await?;
                Ok(Answer::empty(200))
            }
            S3Op::GetBucketLogging => {
                let target = self
                    .state
                    .config::<LoggingTarget>(ConfigKind::Logging, &bucket)
                    .await?;
                Ok(Answer::xml(access_log::logging_status_xml(target.as_ref())))
            }
            _ => Err(s3_error!(
                InternalError,
                "{} is not a logging operation.",
                op.name()
            )),
        }
    }

    /// From `logging`: one record for a request to a bucket that is logged.
    pub(super) async fn record_access(&self, session: &Session, ctx: &RequestCtx, status: u16) {
        let Some(request) = &ctx.request else { return };
        let Some(bucket) = request.bucket.as_deref() else {
            return;
        };
        let Ok(Some(target)) = self
            .state
            .config::<LoggingTarget>(ConfigKind::Logging, bucket)
            .await
        else {
            return;
        };
        let owner = match self.state.bucket(bucket).await {
            Ok(Some(record)) => record.owner.clone(),
            _ => return,
        };
        // Records follow the owner, not the name: a target deleted and re-created by someone
        // else receives nothing.
        match self.state.bucket(&target.bucket).await {
            Ok(Some(record)) if target.owner.as_deref().is_none_or(|o| o == record.owner) => {}
            _ => return,
        }
        let header = session.req_header();
        let text = |name: &str| {
            header
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (signature_version, auth_type) = match ctx.caller.as_ref().map(|i| i.scheme) {
            Some(AuthScheme::SigV4Header) => (Some("SigV4"), Some("AuthHeader")),
            Some(AuthScheme::SigV4Query) => (Some("SigV4"), Some("QueryString")),
            Some(AuthScheme::SigV2Header) => (Some("SigV2"), Some("AuthHeader")),
            Some(AuthScheme::SigV2Query) => (Some("SigV2"), Some("QueryString")),
            Some(AuthScheme::PostV4) => (Some("SigV4"), Some("PostForm")),
            Some(AuthScheme::PostV2) => (Some("SigV2"), Some("PostForm")),
            Some(AuthScheme::Anonymous) | None => (None, None),
        };
        let object_size = session
            .response_written()
            .and_then(|r| r.headers.get(http::header::CONTENT_LENGTH))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .filter(|_| request.key.is_some());
        let record = Record {
            bucket_owner: owner,
            bucket: bucket.to_owned(),
            time: Some(ctx.received_at),
            remote_ip: session
                .client_addr()
                .and_then(|a| a.as_inet())
                .map(|a| a.ip().to_string()),
            requester: ctx
                .caller
                .as_ref()
                .and_then(|i| i.user.as_ref())
                .map(|u| u.id.clone()),
            request_id: ctx.request_id.clone(),
            operation: access_log::operation_name(
                request.addressing == Addressing::Website,
                header.method.as_str(),
                request.key.is_some(),
                &request.query,
            ),
            key: request.key.clone(),
            request_uri: format!(
                "{} {} {:?}",
                header.method,
                header.uri.path_and_query().map_or("/", |p| p.as_str()),
                header.version
            ),
            status,
            error_code: ctx.error_code().map(str::to_owned),
            bytes_sent: session.body_bytes_sent() as u64,
            object_size,
            total_time_ms: ctx.started.elapsed().as_millis() as u64,
            turnaround_ms: None,
            referer: text("referer"),
            user_agent: text("user-agent"),
            version_id: request.query.get("versionId").map(str::to_owned),
            signature_version: signature_version.map(str::to_owned),
            auth_type: auth_type.map(str::to_owned),
            host_header: text("host"),
            tls_version: None,
        };
        self.logs.push(target, record.to_line());
    }
}

/// Delivers buffered records to their target buckets every interval and at shutdown.
#[derive(Clone)]
pub struct LogDelivery {
    pub logs: Arc<AccessLogs>,
    pub client: Arc<BackendClient>,
    pub state: Arc<crate::state::StateStore>,
    pub interval: Duration,
    /// Held while a delivery runs: a shutdown waits for the one under way before it exits.
    pub running: Arc<tokio::sync::Mutex<()>>,
}

impl LogDelivery {
    pub(super) async fn deliver(&self) {
        let _running = self.running.lock().await;
        for (target, lines) in self.logs.take() {
            // Checked again at delivery: the target may have changed hands since the records
            // were buffered.
            if let Some(owner) = &target.owner {
                match self.state.bucket(&target.bucket).await {
                    Ok(Some(record)) if record.owner == *owner => {}
                    Ok(_) => {
                        tracing::warn!(target_bucket = %target.bucket, "access log target no longer belongs to the source's owner; records dropped");
                        continue;
                    }
                    Err(_) => {
                        self.logs.restore(target, lines);
                        continue;
                    }
                }
            }
            let name = self.logs.object_name(&target.prefix, SystemTime::now());
            let path = format!(
                "/{}/{}",
                uri::encode_component(&target.bucket),
                uri::encode_path(&name)
            );
            let mut body = lines.join("\n");
            body.push('\n');
            let result = self
                .client
                .send(
                    Method::PUT,
                    &path,
                    &[("content-type", "text/plain")],
                    Bytes::from(body),
                )
                .await;
            match result {
                Ok(r) if r.is_success() => {}
                outcome => {
                    tracing::warn!(target_bucket = %target.bucket, "access log delivery failed, retrying next round: {outcome:?}");
                    self.logs.restore(target, lines);
                }
            }
        }
        let dropped = self.logs.dropped();
        if dropped > 0 {
            tracing::warn!(dropped, "access log records dropped so far (buffer full)");
        }
    }
}

#[async_trait]
impl BackgroundService for LogDelivery {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.interval) => self.deliver().await,
                _ = shutdown.changed() => {
                    self.deliver().await;
                    return;
                }
            }
        }
    }
}

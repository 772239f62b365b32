//! Website glue: requests to `<bucket>.<region>-static.<domain>` (anonymous GET/HEAD of
//! public-read objects, index and error documents, redirects), and the bucket's website
//! configuration API. The object itself is proxied like any GET, so Range and conditional
//! requests work; everything the gateway answers itself is HTML.

use bytes::Bytes;
use http::Method;
use pingora::proxy::Session;

use super::Gateway;
use super::acl::object_acl;
use super::admit::Admission;
use super::ctx::RequestCtx;
use super::respond::Answer;
use crate::features::website::{self, WebsiteConfiguration};
use crate::s3::acl::CannedAcl;
use crate::s3::error::S3Error;
use crate::s3::op::S3Op;
use crate::s3::request::S3Request;
use crate::s3::uri;
use crate::state::ConfigKind;
use crate::upstream::plan::{self, ForwardPlan};

const HTML: &str = "text/html; charset=utf-8";

/// The largest error document the gateway serves (a bigger one falls back to its own page).
const MAX_ERROR_DOCUMENT: usize = 256 * 1024;

/// Client headers a website read forwards: ranges and conditionals, nothing else.
const WEBSITE_HEADERS: &[&str] = &[
    "range",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "if-match",
];

/// What a website request turns into.
enum Outcome {
    /// Proxy the object at this key.
    Serve(String, Option<String>),
    /// Answer a redirect.
    Redirect(u16, String),
    /// Answer an error (status, code, message).
    Error(u16, &'static str, String),
}

impl Gateway {
    /// A request on a website host: an object to forward (pinned to the public version that
    /// was checked), a redirect, or an error page.
    pub(super) async fn serve_website(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        request: &S3Request,
    ) -> Result<Admission, S3Error> {
        let method = session.req_header().method.clone();
        let host = session
            .req_header()
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let outcome = if method != Method::GET && method != Method::HEAD {
            Outcome::Error(
                405,
                "MethodNotAllowed",
                format!("The specified method is not allowed against this resource: {method}."),
            )
        } else {
            self.website_outcome(request, &host).await?
        };
        match outcome {
            Outcome::Serve(key, etag) => {
                // What reaches the backend is a read of one object, whatever the page's path
                // looked like as an API request ("/" would classify as a listing).
                ctx.op = if method == Method::HEAD {
                    S3Op::HeadObject
                } else {
                    S3Op::GetObject
                };
                let object = S3Request {
                    key: Some(key),
                    query: Default::default(),
                    ..request.clone()
                };
                let mut plan = ForwardPlan::new(
                    S3Op::GetObject,
                    method,
                    &object,
                    crate::auth::sigv4::UNSIGNED_PAYLOAD,
                );
                plan.headers =
                    plan::forwarded_headers(&session.req_header().headers, &[], false, &[])?;
                plan.remove_where(|n| !WEBSITE_HEADERS.contains(&n));
                if let Some(etag) = etag {
                    match plan.get("if-match") {
                        Some(theirs) if theirs != etag && theirs != "*" => {
                            return Ok(Admission::Answer(Answer::new(
                                412,
                                HTML,
                                Bytes::from(website::error_page(
                                    412,
                                    "PreconditionFailed",
                                    "At least one of the pre-conditions you specified did not hold.",
                                    &ctx.request_id,
                                )),
                            )));
                        }
                        _ => plan.set("if-match", &etag)?,
                    }
                }
                Ok(Admission::Forward(Box::new(plan)))
            }
            Outcome::Redirect(status, location) => Ok(Admission::Answer(
                Answer::new(status, HTML, Bytes::new())
                    .with_header(http::header::LOCATION, location),
            )),
            Outcome::Error(status, code, message) => {
                let (content_type, body) = self
                    .error_document(request, status, code, &message, &ctx.request_id)
                    .await;
                Ok(Admission::Answer(Answer::new(status, content_type, body)))
            }
        }
    }

    async fn website_outcome(&self, request: &S3Request, host: &str) -> Result<Outcome, S3Error> {
        let Some(bucket) = request.bucket.as_deref() else {
            return Ok(Outcome::Error(
                404,
                "NoSuchBucket",
                "The specified bucket does not exist.".into(),
            ));
        };
        let Some(record) = self.state.bucket(bucket).await? else {
            return Ok(Outcome::Error(
                404,
                "NoSuchBucket",
                "The specified bucket does not exist.".into(),
            ));
        };
        let public_listing = record.acl == CannedAcl::PublicRead;
        let denied = || (403, "AccessDenied", "Access Denied".to_owned());
        let Some(config) = self
            .state
            .config::<WebsiteConfiguration>(ConfigKind::Website, bucket)
            .await?
        else {
            return Ok(Outcome::Error(
                404,
                "NoSuchWebsiteConfiguration",
                "The specified bucket does not have a website configuration.".into(),
            ));
        };
        let (index_suffix, rules) = match &config {
            WebsiteConfiguration::RedirectAll {
                host_name,
                protocol,
            } => {
                let path = request.decoded_path.trim_start_matches('/');
                let location = format!(
                    "{}://{host_name}/{}",
                    protocol.as_deref().unwrap_or("http"),
                    uri::encode_path(path)
                );
                return Ok(Outcome::Redirect(301, location));
            }
            WebsiteConfiguration::Site {
                index_suffix,
                routing_rules,
                ..
            } => (index_suffix, routing_rules),
        };
        let key = website::key_for_path(&request.decoded_path, index_suffix);
        if let Some(rule) = website::matching_rule(rules, &key, None) {
            let (status, location) = website::redirect_location(
                &rule.redirect,
                rule.key_prefix_equals.as_deref(),
                &key,
                host,
            );
            return Ok(Outcome::Redirect(status, location));
        }
        let error = match self.head_object(bucket, &key, None).await {
            Ok(head) if self.effective_acl(bucket, &key, &head).await? == CannedAcl::PublicRead => {
                if let Some(target) = head
                    .headers
                    .get("x-amz-website-redirect-location")
                    .and_then(|v| v.to_str().ok())
                {
                    return Ok(Outcome::Redirect(301, target.to_owned()));
                }
                let etag = head
                    .headers
                    .get(http::header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                return Ok(Outcome::Serve(key, etag));
            }
            Ok(_) => denied(),
            Err(e) if e.code().as_str() == "NoSuchKey" => {
                // `dir` names a folder when a public `dir/<index>` exists: send the browser
                // there. A private one tells nothing, as a private object tells nothing.
                if !key.ends_with('/') && !request.decoded_path.ends_with('/') {
                    let folder_index = format!("{key}/{index_suffix}");
                    if let Ok(head) = self.head_object(bucket, &folder_index, None).await
                        && self.effective_acl(bucket, &folder_index, &head).await?
                            == CannedAcl::PublicRead
                    {
                        return Ok(Outcome::Redirect(
                            302,
                            format!("/{}/", uri::encode_path(&key)),
                        ));
                    }
                }
                // Without a public listing, "missing" and "private" must look the same (S3
                // answers 403 for both when the bucket cannot be listed anonymously).
                if public_listing {
                    (
                        404,
                        "NoSuchKey",
                        "The specified key does not exist.".to_owned(),
                    )
                } else {
                    denied()
                }
            }
            Err(e) => return Err(e),
        };
        if let Some(rule) = website::matching_rule(rules, &key, Some(error.0)) {
            let (status, location) = website::redirect_location(
                &rule.redirect,
                rule.key_prefix_equals.as_deref(),
                &key,
                host,
            );
            return Ok(Outcome::Redirect(status, location));
        }
        Ok(Outcome::Error(error.0, error.1, error.2))
    }

    /// The body of a website error: the bucket's public error document, else an HTML page.
    async fn error_document(
        &self,
        request: &S3Request,
        status: u16,
        code: &str,
        message: &str,
        request_id: &str,
    ) -> (String, Bytes) {
        let page = || {
            (
                HTML.to_owned(),
                Bytes::from(website::error_page(status, code, message, request_id)),
            )
        };
        let Some(bucket) = request.bucket.as_deref() else {
            return page();
        };
        let Ok(Some(WebsiteConfiguration::Site {
            error_key: Some(error_key),
            ..
        })) = self
            .state
            .config::<WebsiteConfiguration>(ConfigKind::Website, bucket)
            .await
        else {
            return page();
        };
        let path = format!(
            "/{}/{}",
            uri::encode_component(bucket),
            uri::encode_path(&error_key)
        );
        // At most MAX_ERROR_DOCUMENT bytes are read: a larger document is not served.
        let range = format!("bytes=0-{}", MAX_ERROR_DOCUMENT - 1);
        match self
            .client
            .send(
                Method::GET,
                &path,
                &[("range", range.as_str())],
                Bytes::new(),
            )
            .await
        {
            Ok(r)
                if r.is_success()
                    && object_acl(&r.headers) == CannedAcl::PublicRead
                    && whole_document(&r) =>
            {
                let content_type = r
                    .headers
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or(HTML)
                    .to_owned();
                (content_type, r.body)
            }
            _ => page(),
        }
    }
}

/// Whether a ranged read of an error document got all of it (a 200, or a 206 whose
/// `Content-Range` total is within the range).
fn whole_document(r: &crate::upstream::client::BackendResponse) -> bool {
    if r.status == 200 {
        return r.body.len() <= MAX_ERROR_DOCUMENT;
    }
    r.headers
        .get(http::header::CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit_once('/'))
        .and_then(|(_, total)| total.parse::<usize>().ok())
        .is_some_and(|total| total <= MAX_ERROR_DOCUMENT)
}

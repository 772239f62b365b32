//! CORS glue: preflight answers, the bucket's CORS configuration API, and the headers every
//! cross-origin answer gets (see `features::cors` for the rules themselves).

use bytes::Bytes;
use http::HeaderMap;
use pingora::proxy::Session;

use super::Gateway;
use super::respond::Answer;
use crate::features::cors::{self, CorsConfiguration};
use crate::s3::error::S3Error;
use crate::s3::request::S3Request;
use crate::s3_error;
use crate::state::ConfigKind;

fn forbidden() -> S3Error {
    s3_error!(
        AccessForbidden,
        "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec."
    )
}

impl Gateway {
    /// An `OPTIONS` preflight, answered without credentials from the bucket's CORS rules.
    pub(super) async fn preflight(
        &self,
        session: &Session,
        request: &S3Request,
    ) -> Result<Answer, S3Error> {
        let headers = &session.req_header().headers;
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let origin = text("origin").ok_or_else(|| {
            s3_error!(
                BadRequest,
                "Insufficient information. Origin request header needed."
            )
        })?;
        let method = text("access-control-request-method").ok_or_else(|| {
            s3_error!(
                BadRequest,
                "Invalid Access-Control-Request-Method: the header is missing."
            )
        })?;
        let requested = cors::requested_headers(text("access-control-request-headers").as_deref());
        let bucket = request.bucket.as_deref().ok_or_else(forbidden)?;
        let config = self
            .state
            .config::<CorsConfiguration>(ConfigKind::Cors, bucket)
            .await?
            .ok_or_else(forbidden)?;
        let rule = config
            .matching(&origin, &method, &requested)
            .ok_or_else(forbidden)?;
        let mut answer = Answer::new(200, "", Bytes::new());
        answer.headers = cors::preflight_headers(rule, &origin, &requested);
        Ok(answer)
    }

    /// The CORS headers for an actual request carrying `Origin`, if a rule of its bucket allows it.
    pub(super) async fn cors_for(
        &self,
        request: &S3Request,
        method: &str,
        headers: &HeaderMap,
    ) -> Vec<(http::HeaderName, String)> {
        let (Some(origin), Some(bucket)) = (
            headers.get("origin").and_then(|v| v.to_str().ok()),
            request.bucket.as_deref(),
        ) else {
            return Vec::new();
        };
        // A state lookup failure costs the CORS headers, never the request.
        match self
            .state
            .config::<CorsConfiguration>(ConfigKind::Cors, bucket)
            .await
        {
            Ok(Some(config)) => config
                .matching(origin, method, &[])
                .map(|rule| cors::response_headers(rule, origin))
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}

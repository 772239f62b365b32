//! Per-request state carried across pingora's phases.

use std::time::Instant;

use crate::auth::Caller;
use crate::auth::body::BodyVerifier;
use crate::s3::error::S3Error;
use crate::s3::op::S3Op;
use crate::s3::request::S3Request;
use crate::upstream::plan::ForwardPlan;

/// Everything later phases need to know about a request, filled in as it is learned.
pub struct RequestCtx {
    pub request_id: String,
    pub started: Instant,
    /// When the request arrived (for access logs).
    pub received_at: std::time::SystemTime,
    pub op: S3Op,
    pub request: Option<S3Request>,
    /// Who the request proved to be (set once authentication succeeded).
    pub caller: Option<Caller>,
    /// What the backend gets, when admission decided to forward the request.
    pub plan: Option<ForwardPlan>,
    /// Verifies the body on its way to the backend (aws-chunked decoding, or a checksum).
    pub body_verifier: Option<BodyVerifier>,
    /// The verifier as it was before the body: a request pingora sends again (its first
    /// backend connection was dead) is verified again from here.
    pub body_verifier_start: Option<BodyVerifier>,
    /// The body's length when it goes to the backend chunked (see
    /// `backends` `short_body_refused`): what a part's size is recorded as.
    pub chunked_length: Option<u64>,
    /// Backend attempts made for this request (more than one: a retry).
    pub upstream_attempts: u8,
    /// The writer of the object this request writes, when the bucket policy let someone other
    /// than the bucket's owner write it (recorded with the object).
    pub object_writer: Option<String>,
    /// The checksum the request body was verified against (answered back, as S3 does).
    pub checksum: Option<(crate::auth::checksum::ChecksumAlgorithm, String)>,
    /// The checksum a CreateMultipartUpload declared (answered back, as S3 does).
    pub upload_checksum: Option<crate::s3::object_checksum::UploadChecksum>,
    /// The correction the backend's answer body needs, and the body read so far.
    pub body_fix: Option<(crate::upstream::quirks::BodyFix, bytes::BytesMut)>,
    /// The bucket this CreateBucket claimed in the gateway's state (released if it fails).
    pub claimed_bucket: Option<String>,
    /// Held while this CreateBucket claims its name: no other request of this process does.
    pub claim_ticket: Option<crate::state::ClaimTicket>,
    /// The state consequences of the backend's answer have been applied.
    pub state_settled: bool,
    /// CORS headers for this cross-origin request's answer (empty when none apply).
    pub cors: Vec<(http::HeaderName, String)>,
    /// The object whose concurrent-write slot this request holds (given back in `logging`).
    pub write_slot: Option<String>,
    /// This request's connection, counted against `max_connections` (moved to the next request
    /// on a keep-alive connection, dropped when the connection closes).
    pub connection: std::sync::Mutex<Option<crate::limits::ConnectionGuard>>,
    /// The connection is over the cap: answer SlowDown and close.
    pub over_connection_cap: bool,
    /// A browser POST upload, forwarded as a PutObject.
    pub post: Option<PostUpload>,
    /// The error answered by the gateway itself, if any (for the access log).
    pub error: Option<S3Error>,
    /// The `<Code>` of an error the backend answered and the gateway passed on.
    pub backend_code: Option<Box<str>>,
    /// A listing asked for `encoding-type=url` (the gateway encodes it).
    pub url_encode_listing: bool,
    /// A CopyObject's destination checksum kept from its source (answered in the result).
    pub copied_checksum: Option<crate::s3::object_checksum::ObjectChecksum>,
    /// A CopyObject names a checksum algorithm its source has no value for: the gateway
    /// copies itself and computes it.
    pub copy_checksum: Option<crate::auth::checksum::ChecksumAlgorithm>,
    /// A part read served as this byte range of the object (first, last): a backend that
    /// ignores `Range` on HEAD answers the whole object's length, corrected to the part's.
    pub part_range: Option<(u64, u64)>,
    /// Counts this request as in flight until the context is dropped.
    _in_flight: super::shutdown::RequestGuard,
}

impl RequestCtx {
    /// The S3 error code the client was answered, the gateway's own or the backend's.
    pub fn error_code(&self) -> Option<&str> {
        match &self.error {
            Some(e) => Some(e.code().as_str()),
            None => self.backend_code.as_deref(),
        }
    }

    pub fn new(request_id: String, in_flight: super::shutdown::RequestGuard) -> Self {
        RequestCtx {
            request_id,
            started: Instant::now(),
            received_at: std::time::SystemTime::now(),
            op: S3Op::Unknown,
            request: None,
            caller: None,
            plan: None,
            body_verifier: None,
            body_verifier_start: None,
            upstream_attempts: 0,
            chunked_length: None,
            checksum: None,
            upload_checksum: None,
            object_writer: None,
            body_fix: None,
            post: None,
            claimed_bucket: None,
            claim_ticket: None,
            connection: std::sync::Mutex::new(None),
            over_connection_cap: false,
            write_slot: None,
            cors: Vec::new(),
            state_settled: false,
            error: None,
            backend_code: None,
            url_encode_listing: false,
            copied_checksum: None,
            copy_checksum: None,
            part_range: None,
            _in_flight: in_flight,
        }
    }
}

/// What a verified POST form turns into on its way to the backend, and how it answers.
pub struct PostUpload {
    pub bucket: String,
    pub key: String,
    pub success: crate::s3::form::PostSuccess,
}

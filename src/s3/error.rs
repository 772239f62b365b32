//! The one error type of the gateway, and its wire form.
//!
//! Every failure a client can see is an [`S3Error`]: a code from the closed [`S3ErrorCode`] set, a
//! message naming the problem, and the resource it concerns. The HTTP status belongs to the code,
//! and [`S3Error::to_xml`] renders the `<Error>` document S3 clients parse. Converting an error to a
//! response happens in exactly one place (`proxy::respond`); nothing else formats error bodies.

use std::fmt;

use http::StatusCode;

/// The S3 error codes the gateway produces itself. Backend errors pass through untouched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum S3ErrorCode {
    AccessDenied,
    AccessForbidden,
    AuthorizationHeaderMalformed,
    AuthorizationQueryParametersError,
    BadRequest,
    BadDigest,
    BucketAlreadyExists,
    BucketAlreadyOwnedByYou,
    EntityTooLarge,
    EntityTooSmall,
    IncompleteBody,
    InternalError,
    InvalidAccessKeyId,
    InvalidArgument,
    InvalidBucketName,
    InvalidDigest,
    InvalidLocationConstraint,
    InvalidPart,
    InvalidPartOrder,
    InvalidPolicyDocument,
    InvalidRequest,
    InvalidTag,
    InvalidTargetBucketForLogging,
    InvalidURI,
    KeyTooLongError,
    MalformedACLError,
    MalformedPOSTRequest,
    MalformedPolicy,
    MalformedXML,
    MetadataTooLarge,
    MaxPostPreDataLengthExceeded,
    MaxMessageLengthExceeded,
    MethodNotAllowed,
    MissingContentLength,
    MissingSecurityHeader,
    NoSuchBucket,
    NoSuchBucketPolicy,
    NoSuchCORSConfiguration,
    NoSuchKey,
    NoSuchUpload,
    NoSuchWebsiteConfiguration,
    NotImplemented,
    OperationAborted,
    PreconditionFailed,
    RequestHeaderSectionTooLarge,
    RequestTimeTooSkewed,
    ServiceUnavailable,
    SignatureDoesNotMatch,
    SlowDown,
    TooManyBuckets,
    XAmzContentSHA256Mismatch,
}

impl S3ErrorCode {
    /// The `<Code>` string, exactly as AWS spells it.
    pub fn as_str(self) -> &'static str {
        use S3ErrorCode::*;
        match self {
            AccessDenied => "AccessDenied",
            AccessForbidden => "AccessForbidden",
            AuthorizationHeaderMalformed => "AuthorizationHeaderMalformed",
            AuthorizationQueryParametersError => "AuthorizationQueryParametersError",
            BadRequest => "BadRequest",
            BadDigest => "BadDigest",
            BucketAlreadyExists => "BucketAlreadyExists",
            BucketAlreadyOwnedByYou => "BucketAlreadyOwnedByYou",
            EntityTooLarge => "EntityTooLarge",
            EntityTooSmall => "EntityTooSmall",
            IncompleteBody => "IncompleteBody",
            InternalError => "InternalError",
            InvalidAccessKeyId => "InvalidAccessKeyId",
            InvalidArgument => "InvalidArgument",
            InvalidBucketName => "InvalidBucketName",
            InvalidDigest => "InvalidDigest",
            InvalidLocationConstraint => "InvalidLocationConstraint",
            InvalidPart => "InvalidPart",
            InvalidPartOrder => "InvalidPartOrder",
            InvalidPolicyDocument => "InvalidPolicyDocument",
            InvalidRequest => "InvalidRequest",
            InvalidTag => "InvalidTag",
            InvalidTargetBucketForLogging => "InvalidTargetBucketForLogging",
            InvalidURI => "InvalidURI",
            KeyTooLongError => "KeyTooLongError",
            MalformedACLError => "MalformedACLError",
            MalformedPOSTRequest => "MalformedPOSTRequest",
            MalformedPolicy => "MalformedPolicy",
            MalformedXML => "MalformedXML",
            MetadataTooLarge => "MetadataTooLarge",
            MaxPostPreDataLengthExceeded => "MaxPostPreDataLengthExceeded",
            MaxMessageLengthExceeded => "MaxMessageLengthExceeded",
            MethodNotAllowed => "MethodNotAllowed",
            MissingContentLength => "MissingContentLength",
            MissingSecurityHeader => "MissingSecurityHeader",
            NoSuchBucket => "NoSuchBucket",
            NoSuchBucketPolicy => "NoSuchBucketPolicy",
            NoSuchCORSConfiguration => "NoSuchCORSConfiguration",
            NoSuchKey => "NoSuchKey",
            NoSuchUpload => "NoSuchUpload",
            NoSuchWebsiteConfiguration => "NoSuchWebsiteConfiguration",
            NotImplemented => "NotImplemented",
            OperationAborted => "OperationAborted",
            PreconditionFailed => "PreconditionFailed",
            RequestHeaderSectionTooLarge => "RequestHeaderSectionTooLarge",
            RequestTimeTooSkewed => "RequestTimeTooSkewed",
            ServiceUnavailable => "ServiceUnavailable",
            SignatureDoesNotMatch => "SignatureDoesNotMatch",
            SlowDown => "SlowDown",
            TooManyBuckets => "TooManyBuckets",
            XAmzContentSHA256Mismatch => "XAmzContentSHA256Mismatch",
        }
    }

    /// The HTTP status AWS documents for the code.
    pub fn status(self) -> StatusCode {
        use S3ErrorCode::*;
        match self {
            AccessDenied
            | AccessForbidden
            | InvalidAccessKeyId
            | RequestTimeTooSkewed
            | SignatureDoesNotMatch => StatusCode::FORBIDDEN,
            BucketAlreadyExists | BucketAlreadyOwnedByYou | OperationAborted => {
                StatusCode::CONFLICT
            }
            NoSuchBucket
            | NoSuchBucketPolicy
            | NoSuchKey
            | NoSuchUpload
            | NoSuchCORSConfiguration
            | NoSuchWebsiteConfiguration => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            MissingContentLength => StatusCode::LENGTH_REQUIRED,
            InternalError => StatusCode::INTERNAL_SERVER_ERROR,
            NotImplemented => StatusCode::NOT_IMPLEMENTED,
            ServiceUnavailable | SlowDown => StatusCode::SERVICE_UNAVAILABLE,
            AuthorizationHeaderMalformed
            | AuthorizationQueryParametersError
            | BadRequest
            | BadDigest
            | EntityTooLarge
            | EntityTooSmall
            | IncompleteBody
            | InvalidArgument
            | InvalidBucketName
            | InvalidDigest
            | InvalidLocationConstraint
            | InvalidPart
            | InvalidPartOrder
            | InvalidTag
            | InvalidPolicyDocument
            | InvalidRequest
            | InvalidTargetBucketForLogging
            | InvalidURI
            | KeyTooLongError
            | MalformedACLError
            | MalformedPOSTRequest
            | MalformedPolicy
            | MalformedXML
            | MetadataTooLarge
            | RequestHeaderSectionTooLarge
            | TooManyBuckets
            | MaxPostPreDataLengthExceeded
            | MaxMessageLengthExceeded
            | MissingSecurityHeader
            | XAmzContentSHA256Mismatch => StatusCode::BAD_REQUEST,
        }
    }
}

impl fmt::Display for S3ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A client-visible failure. Boxed inside so `Result<T, S3Error>` stays one word on hot paths.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Error(Box<Inner>);

#[derive(Clone, PartialEq, Eq)]
struct Inner {
    code: S3ErrorCode,
    message: String,
    resource: Option<String>,
}

impl S3Error {
    pub fn new(code: S3ErrorCode, message: impl Into<String>) -> Self {
        S3Error(Box::new(Inner {
            code,
            message: message.into(),
            resource: None,
        }))
    }

    /// Names the bucket or object the error concerns (`<Resource>`).
    pub fn with_resource(mut self, resource: impl Into<String>) -> Self {
        self.0.resource = Some(resource.into());
        self
    }

    pub fn code(&self) -> S3ErrorCode {
        self.0.code
    }

    pub fn message(&self) -> &str {
        &self.0.message
    }

    pub fn status(&self) -> StatusCode {
        self.0.code.status()
    }

    /// The `<Error>` document, with the gateway's request id.
    pub fn to_xml(&self, request_id: &str) -> String {
        let mut out = String::with_capacity(192 + self.0.message.len());
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>");
        out.push_str(self.0.code.as_str());
        out.push_str("</Code><Message>");
        push_escaped(&mut out, &self.0.message);
        out.push_str("</Message>");
        if let Some(resource) = &self.0.resource {
            out.push_str("<Resource>");
            push_escaped(&mut out, resource);
            out.push_str("</Resource>");
        }
        out.push_str("<RequestId>");
        push_escaped(&mut out, request_id);
        out.push_str("</RequestId></Error>");
        out
    }
}

fn push_escaped(out: &mut String, text: &str) {
    out.push_str(&quick_xml::escape::escape(text));
}

impl fmt::Debug for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.0.code, self.0.message)
    }
}

impl fmt::Display for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for S3Error {}

/// `s3_error!(Code, "format {args}")` builds an [`S3Error`] at a call site in one line.
#[macro_export]
macro_rules! s3_error {
    ($code:ident) => {
        $crate::s3::error::S3Error::new($crate::s3::error::S3ErrorCode::$code, stringify!($code))
    };
    ($code:ident, $($arg:tt)+) => {
        $crate::s3::error::S3Error::new($crate::s3::error::S3ErrorCode::$code, format!($($arg)+))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_names_code_message_resource_and_request_id() {
        let e = s3_error!(NoSuchBucket, "The bucket <b> does not exist").with_resource("/b");
        let xml = e.to_xml("tx1");
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchBucket</Code>\
             <Message>The bucket &lt;b&gt; does not exist</Message><Resource>/b</Resource>\
             <RequestId>tx1</RequestId></Error>"
        );
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn statuses_follow_aws() {
        assert_eq!(S3ErrorCode::SignatureDoesNotMatch.status(), 403);
        assert_eq!(S3ErrorCode::AuthorizationHeaderMalformed.status(), 400);
        assert_eq!(S3ErrorCode::NotImplemented.status(), 501);
        assert_eq!(S3ErrorCode::ServiceUnavailable.status(), 503);
        assert_eq!(S3ErrorCode::BucketAlreadyOwnedByYou.status(), 409);
    }
}

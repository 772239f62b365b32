//! Who is calling: turns a request's credentials into an [`Identity`], or an S3 error.
//!
//! Dispatch by what the request carries: an `Authorization` header (SigV4), presigned query
//! parameters (SigV4), or nothing (anonymous). The payload hash the client signed is kept, because
//! re-signing for the backend signs that same hash and lets the backend check the body.

pub mod body;
pub mod checksum;
pub mod chunked;
pub mod credentials;
pub mod post_policy;
pub mod sigv2;
pub mod sigv4;

use std::sync::Arc;
use std::time::SystemTime;

use http::HeaderMap;

use crate::auth::credentials::{CredentialStore, User};
use crate::auth::sigv4::{AuthorizationV4, SignedParts};
use crate::s3::error::S3Error;
use crate::s3_error;

/// How a request proved who sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthScheme {
    Anonymous,
    SigV4Header,
    SigV4Query,
    SigV2Header,
    SigV2Query,
    /// A browser form signed with SigV4 (`x-amz-signature` over the policy).
    PostV4,
    /// A browser form signed with SigV2 (`signature` over the policy).
    PostV2,
}

impl AuthScheme {
    /// The name S3 access logs and metrics use.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthScheme::Anonymous => "anonymous",
            AuthScheme::SigV4Header => "sigv4-header",
            AuthScheme::SigV4Query => "sigv4-query",
            AuthScheme::SigV2Header => "sigv2-header",
            AuthScheme::SigV2Query => "sigv2-query",
            AuthScheme::PostV4 => "post-sigv4",
            AuthScheme::PostV2 => "post-sigv2",
        }
    }
}

/// How the client's body is protected, as `x-amz-content-sha256` declares it.
#[derive(Debug, Clone)]
pub enum PayloadHash {
    /// 64 lowercase hex digits of the body's SHA-256: re-signed as is, so the backend re-checks it.
    Sha256(String),
    /// `UNSIGNED-PAYLOAD` (and every presigned request).
    Unsigned,
    /// An aws-chunked body (`STREAMING-*`): the gateway decodes and verifies it, and forwards the
    /// decoded bytes as `UNSIGNED-PAYLOAD`.
    Streaming(Streaming),
}

/// The aws-chunked flavour of a request.
#[derive(Debug, Clone)]
pub struct Streaming {
    /// Chunk signatures to verify (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`), or none
    /// (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`).
    pub signing: Option<chunked::ChunkSigning>,
    /// Trailing headers follow the final chunk.
    pub trailer: bool,
}

impl PayloadHash {
    /// The value re-signed toward the backend.
    pub fn as_str(&self) -> &str {
        match self {
            PayloadHash::Sha256(hex) => hex,
            PayloadHash::Unsigned | PayloadHash::Streaming(_) => sigv4::UNSIGNED_PAYLOAD,
        }
    }
}

const STREAMING_UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
const STREAMING_SIGNED: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
const STREAMING_SIGNED_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";

/// The caller, once proven.
#[derive(Debug, Clone)]
pub struct Identity {
    pub user: Option<Arc<User>>,
    pub scheme: AuthScheme,
    pub payload: PayloadHash,
    /// The header names the client's SigV4 signature covers (empty for other schemes).
    pub signed_headers: Vec<String>,
}

/// Who a request proved to be, as the phases after admission (access log, metrics, the
/// request log) need it: no signature details.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: Option<Arc<User>>,
    pub scheme: AuthScheme,
}

impl Identity {
    pub fn caller(&self) -> Caller {
        Caller {
            user: self.user.clone(),
            scheme: self.scheme,
        }
    }

    pub fn anonymous() -> Self {
        Identity {
            user: None,
            scheme: AuthScheme::Anonymous,
            payload: PayloadHash::Unsigned,
            signed_headers: Vec::new(),
        }
    }
}

/// Authenticates a request. Anonymous requests succeed here; authorization decides about them.
pub fn authenticate(
    req: &SignedParts<'_>,
    store: &CredentialStore,
    now: SystemTime,
) -> Result<Identity, S3Error> {
    if let Some(value) = req.headers.get(http::header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| {
            s3_error!(
                AuthorizationHeaderMalformed,
                "The authorization header is not valid ASCII."
            )
        })?;
        return authenticate_header(req, value, store, now);
    }
    if req.query.has("X-Amz-Algorithm")
        || req.query.has("X-Amz-Signature")
        || req.query.has("X-Amz-Credential")
    {
        // S3 presigned URLs sign no body unless the signer pinned one in the query.
        let payload = req
            .query
            .get("X-Amz-Content-Sha256")
            .unwrap_or(sigv4::UNSIGNED_PAYLOAD);
        let v = sigv4::verify_presigned(req, payload, store, now)?;
        require_s3_service(&v.scope)?;
        // As with the header form: whoever holds the URL may not add `x-amz-*` headers the
        // signer did not sign (a copy source, an ACL).
        let signed: Vec<String> = req
            .query
            .get("X-Amz-SignedHeaders")
            .unwrap_or("")
            .split(';')
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect();
        require_amz_headers_signed(req.headers, &signed)?;
        return Ok(Identity {
            user: Some(v.user),
            scheme: AuthScheme::SigV4Query,
            payload: PayloadHash::Unsigned,
            signed_headers: signed,
        });
    }
    if req.query.has("AWSAccessKeyId") || (req.query.has("Signature") && req.query.has("Expires")) {
        let user = sigv2::verify_query(req, store, now)?;
        return Ok(Identity {
            user: Some(user),
            scheme: AuthScheme::SigV2Query,
            payload: PayloadHash::Unsigned,
            signed_headers: Vec::new(),
        });
    }
    Ok(Identity::anonymous())
}

fn authenticate_header(
    req: &SignedParts<'_>,
    value: &str,
    store: &CredentialStore,
    now: SystemTime,
) -> Result<Identity, S3Error> {
    let algorithm = value.split_once(' ').map_or(value, |(a, _)| a);
    match algorithm {
        sigv4::ALGORITHM => {}
        "AWS4-ECDSA-P256-SHA256" => {
            return Err(s3_error!(
                NotImplemented,
                "Signature Version 4A (AWS4-ECDSA-P256-SHA256) is not supported."
            ));
        }
        // SigV2 signs no body: the backend checks Content-MD5 when the client sent one.
        "AWS" => {
            let user = sigv2::verify_header(req, value, store, now)?;
            return Ok(Identity {
                user: Some(user),
                scheme: AuthScheme::SigV2Header,
                payload: PayloadHash::Unsigned,
                signed_headers: Vec::new(),
            });
        }
        _ => {
            return Err(s3_error!(
                InvalidArgument,
                "Unsupported Authorization Type {algorithm:?}."
            ));
        }
    }
    let auth = AuthorizationV4::parse(value)?;
    require_s3_service(&auth.scope)?;
    let declared = declared_payload(req.headers)?;
    let verified = sigv4::verify_header(req, &auth, declared, store, now)?;
    require_amz_headers_signed(req.headers, &auth.signed_headers)?;
    let signing = || chunked::ChunkSigning {
        signing_key: verified.signing_key,
        amz_date: verified.amz_date.clone(),
        scope: format!(
            "{}/{}/{}/aws4_request",
            verified.scope.date, verified.scope.region, verified.scope.service
        ),
        seed_signature: verified.signature.clone(),
    };
    let payload = match declared {
        sigv4::UNSIGNED_PAYLOAD => PayloadHash::Unsigned,
        STREAMING_SIGNED => PayloadHash::Streaming(Streaming {
            signing: Some(signing()),
            trailer: false,
        }),
        STREAMING_SIGNED_TRAILER => PayloadHash::Streaming(Streaming {
            signing: Some(signing()),
            trailer: true,
        }),
        STREAMING_UNSIGNED_TRAILER => PayloadHash::Streaming(Streaming {
            signing: None,
            trailer: true,
        }),
        hex => PayloadHash::Sha256(hex.to_ascii_lowercase()),
    };
    Ok(Identity {
        user: Some(verified.user.clone()),
        scheme: AuthScheme::SigV4Header,
        payload,
        signed_headers: auth.signed_headers,
    })
}

fn require_s3_service(scope: &sigv4::CredentialScope) -> Result<(), S3Error> {
    if scope.service != "s3" {
        return Err(s3_error!(
            AuthorizationHeaderMalformed,
            "The authorization header is malformed; incorrect service {:?}. This endpoint belongs to \"s3\".",
            scope.service
        ));
    }
    Ok(())
}

/// Reads and checks `x-amz-content-sha256`, which S3 requires on every header-signed request;
/// returns the value exactly as the client signed it.
fn declared_payload(headers: &HeaderMap) -> Result<&str, S3Error> {
    let value = headers
        .get("x-amz-content-sha256")
        .ok_or_else(|| {
            s3_error!(
                InvalidRequest,
                "Missing required header for this request: x-amz-content-sha256"
            )
        })?
        .to_str()
        .unwrap_or("");
    match value {
        sigv4::UNSIGNED_PAYLOAD
        | STREAMING_SIGNED
        | STREAMING_SIGNED_TRAILER
        | STREAMING_UNSIGNED_TRAILER => Ok(value),
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"
        | "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER" => Err(s3_error!(
            NotImplemented,
            "Signature Version 4A streaming ({value}) is not supported."
        )),
        hex if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(value),
        other => Err(s3_error!(
            InvalidArgument,
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a STREAMING-* value or a SHA-256 hex digest; got {other:?}."
        )),
    }
}

/// S3 refuses requests whose `x-amz-*` headers are not all covered by the signature: an unsigned
/// one (say `x-amz-acl`) could have been added by anyone on the path.
fn require_amz_headers_signed(headers: &HeaderMap, signed: &[String]) -> Result<(), S3Error> {
    let unsigned: Vec<&str> = headers
        .keys()
        .map(|n| n.as_str())
        .filter(|n| n.starts_with("x-amz-") && !signed.iter().any(|s| s == n))
        .collect();
    if !unsigned.is_empty() {
        return Err(s3_error!(
            AccessDenied,
            "There were headers present in the request which were not signed: {}",
            unsigned.join(", ")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::uri::Query;

    fn parts<'a>(h: &'a HeaderMap, q: &'a Query) -> SignedParts<'a> {
        SignedParts {
            method: "GET",
            decoded_path: "/",
            raw_path: "/",
            host_bucket: None,
            query: q,
            headers: h,
        }
    }

    #[test]
    fn nothing_is_anonymous() {
        let (h, q) = (HeaderMap::new(), Query::default());
        let id =
            authenticate(&parts(&h, &q), &CredentialStore::new([]), SystemTime::now()).unwrap();
        assert_eq!(id.scheme, AuthScheme::Anonymous);
    }

    #[test]
    fn unknown_schemes_are_rejected_as_aws_does() {
        let q = Query::default();
        for (value, code) in [
            ("Bearer abc", "InvalidArgument"),
            ("AWS4-ECDSA-P256-SHA256 Credential=x", "NotImplemented"),
            (
                "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=00",
                "AuthorizationHeaderMalformed",
            ),
        ] {
            let mut h = HeaderMap::new();
            h.insert("authorization", value.parse().unwrap());
            let e = authenticate(&parts(&h, &q), &CredentialStore::new([]), SystemTime::now())
                .unwrap_err();
            assert_eq!(e.code().as_str(), code, "{value}");
        }
    }

    #[test]
    fn payload_hash_forms() {
        let mut h = HeaderMap::new();
        assert_eq!(
            declared_payload(&h).unwrap_err().code().as_str(),
            "InvalidRequest"
        );
        for ok in [
            "UNSIGNED-PAYLOAD",
            STREAMING_SIGNED,
            STREAMING_SIGNED_TRAILER,
            STREAMING_UNSIGNED_TRAILER,
            EMPTY,
        ] {
            h.insert("x-amz-content-sha256", ok.parse().unwrap());
            assert_eq!(declared_payload(&h).unwrap(), ok);
        }
        h.insert("x-amz-content-sha256", "nope".parse().unwrap());
        assert_eq!(
            declared_payload(&h).unwrap_err().code().as_str(),
            "InvalidArgument"
        );
        h.insert(
            "x-amz-content-sha256",
            "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD".parse().unwrap(),
        );
        assert_eq!(
            declared_payload(&h).unwrap_err().code().as_str(),
            "NotImplemented"
        );
    }

    const EMPTY: &str = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";

    #[test]
    fn unsigned_amz_headers_are_refused() {
        let mut h = HeaderMap::new();
        h.insert("x-amz-acl", "public-read".parse().unwrap());
        h.insert("x-amz-date", "x".parse().unwrap());
        let e = require_amz_headers_signed(&h, &["host".into(), "x-amz-date".into()]).unwrap_err();
        assert!(e.message().contains("x-amz-acl"));
    }
}

//! AWS Signature Version 4 verification, header and presigned (query) forms, with S3's rules:
//! the path is decoded once and re-encoded once (no double encoding), and never normalised.
//!
//! The verifier rebuilds the canonical request from what arrived, derives (or takes from the
//! cache) the signing key for the credential scope, and compares signatures in constant time.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hmac::{Hmac, KeyInit, Mac};
use http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::credentials::{CredentialStore, User};
use crate::s3::error::S3Error;
use crate::s3::uri::{self, Query};
use crate::s3_error;

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// How far a header-signed request's clock may be from ours (AWS: 15 minutes).
pub const MAX_SKEW: Duration = Duration::from_secs(15 * 60);
/// The longest a presigned URL may live (AWS: 7 days).
pub const MAX_EXPIRES: u64 = 604_800;

/// The parts of a request that SigV4 signs.
#[derive(Debug, Clone, Copy)]
pub struct SignedParts<'a> {
    pub method: &'a str,
    /// The path as the client addressed it, percent-decoded once.
    pub decoded_path: &'a str,
    /// The same path exactly as sent (SigV2 signs it undecoded).
    pub raw_path: &'a str,
    /// The bucket named by a virtual-hosted `Host` (SigV2 puts it in the canonical resource).
    pub host_bucket: Option<&'a str>,
    pub query: &'a Query,
    pub headers: &'a HeaderMap,
}

/// `Credential=AK/20150830/us-east-1/s3/aws4_request`, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScope {
    pub access_key: String,
    pub date: String,
    pub region: String,
    pub service: String,
}

impl CredentialScope {
    fn parse(value: &str) -> Option<Self> {
        let mut parts = value.rsplitn(5, '/');
        let terminator = parts.next()?;
        let service = parts.next()?;
        let region = parts.next()?;
        let date = parts.next()?;
        let access_key = parts.next()?;
        (terminator == "aws4_request"
            && !access_key.is_empty()
            && date.len() == 8
            && date.bytes().all(|b| b.is_ascii_digit()))
        .then(|| CredentialScope {
            access_key: access_key.to_owned(),
            date: date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
        })
    }

    fn scope_string(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

/// A parsed `Authorization: AWS4-HMAC-SHA256 ...` header.
#[derive(Debug, Clone)]
pub struct AuthorizationV4 {
    pub scope: CredentialScope,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

const EXPECTED_CREDENTIAL: &str = "expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\"";

impl AuthorizationV4 {
    /// Parses the header value (the algorithm already recognised by the caller).
    pub fn parse(value: &str) -> Result<Self, S3Error> {
        let rest = value.strip_prefix(ALGORITHM).ok_or_else(|| {
            s3_error!(
                AuthorizationHeaderMalformed,
                "The authorization header is malformed; the algorithm must be {ALGORITHM}."
            )
        })?;
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for part in rest.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let Some((name, value)) = part.split_once('=') else {
                return Err(s3_error!(
                    AuthorizationHeaderMalformed,
                    "The authorization header is malformed; the component {part:?} is not name=value."
                ));
            };
            match name {
                "Credential" => credential = Some(value),
                "SignedHeaders" => signed = Some(value),
                "Signature" => signature = Some(value),
                _ => {
                    return Err(s3_error!(
                        AuthorizationHeaderMalformed,
                        "The authorization header is malformed; unknown component {name:?}."
                    ));
                }
            }
        }
        let missing = |what: &str| {
            s3_error!(
                AuthorizationHeaderMalformed,
                "The authorization header is malformed; missing {what}."
            )
        };
        let credential = credential.ok_or_else(|| missing("Credential"))?;
        let scope = CredentialScope::parse(credential).ok_or_else(|| {
            s3_error!(AuthorizationHeaderMalformed, "The authorization header is malformed; the Credential is mal-formed; {EXPECTED_CREDENTIAL}.")
        })?;
        let signed_headers = parse_signed_headers(signed.ok_or_else(|| missing("SignedHeaders"))?)
            .ok_or_else(|| s3_error!(AuthorizationHeaderMalformed, "The authorization header is malformed; SignedHeaders must be lowercase names separated by ';' and include host."))?;
        let signature = signature.ok_or_else(|| missing("Signature"))?.to_owned();
        Ok(AuthorizationV4 {
            scope,
            signed_headers,
            signature,
        })
    }
}

fn parse_signed_headers(value: &str) -> Option<Vec<String>> {
    let names: Vec<String> = value.split(';').map(str::to_owned).collect();
    let well_formed = names.iter().all(|n| {
        !n.is_empty()
            && n.bytes()
                .all(|b| b.is_ascii_graphic() && !b.is_ascii_uppercase())
    });
    (well_formed && names.iter().any(|n| n == "host")).then_some(names)
}

/// What a successful verification proves.
#[derive(Debug, Clone)]
pub struct VerifiedV4 {
    pub user: Arc<User>,
    pub scope: CredentialScope,
    /// The signature the client sent (seeds the aws-chunked chunk-signature chain).
    pub signature: String,
    pub signing_key: [u8; 32],
    /// The ISO 8601 basic timestamp the request was signed at.
    pub amz_date: String,
}

/// Verifies a header-signed request. `payload_hash` is the hash the client signed (for S3, the
/// `x-amz-content-sha256` value).
pub fn verify_header(
    req: &SignedParts<'_>,
    auth: &AuthorizationV4,
    payload_hash: &str,
    store: &CredentialStore,
    now: SystemTime,
) -> Result<VerifiedV4, S3Error> {
    let user = lookup(store, &auth.scope.access_key)?;
    let amz_date = request_amz_date(req.headers)?;
    let signed_at = parse_amz_date(&amz_date).ok_or_else(|| {
        s3_error!(
            AccessDenied,
            "AWS authentication requires a valid Date or x-amz-date header"
        )
    })?;
    check_skew(signed_at, now)?;
    check_scope_date(&auth.scope, &amz_date)?;
    let canonical = canonical_request(req, &auth.signed_headers, |_| false, payload_hash);
    check_signature(
        store,
        user,
        &auth.scope,
        &amz_date,
        signed_at,
        &canonical,
        &auth.signature,
    )
}

/// Verifies a presigned (query-string) request. `payload_hash` is what the signer hashed the
/// body as (for S3, `UNSIGNED-PAYLOAD`).
pub fn verify_presigned(
    req: &SignedParts<'_>,
    payload_hash: &str,
    store: &CredentialStore,
    now: SystemTime,
) -> Result<VerifiedV4, S3Error> {
    let q = req.query;
    let param = |name: &str| {
        q.get(name).ok_or_else(|| {
            s3_error!(AuthorizationQueryParametersError, "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters; {name} is missing.")
        })
    };
    let algorithm = param("X-Amz-Algorithm")?;
    if algorithm != ALGORITHM {
        return Err(s3_error!(
            AuthorizationQueryParametersError,
            "X-Amz-Algorithm only supports \"{ALGORITHM}\""
        ));
    }
    let scope = CredentialScope::parse(param("X-Amz-Credential")?).ok_or_else(|| {
        s3_error!(
            AuthorizationQueryParametersError,
            "Error parsing the X-Amz-Credential parameter; {EXPECTED_CREDENTIAL}."
        )
    })?;
    let amz_date = param("X-Amz-Date")?.to_owned();
    let signed_at = parse_amz_date(&amz_date).ok_or_else(|| {
        s3_error!(
            AuthorizationQueryParametersError,
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""
        )
    })?;
    let expires: i64 = param("X-Amz-Expires")?.parse().map_err(|_| {
        s3_error!(
            AuthorizationQueryParametersError,
            "X-Amz-Expires should be a number"
        )
    })?;
    // Spaces (RGW) answers an expiry out of range as a refused request, 403, where AWS
    // answers 400: the Spaces profile follows Spaces.
    let Ok(expires) = u64::try_from(expires) else {
        return Err(s3_error!(
            AccessDenied,
            "X-Amz-Expires must be non-negative"
        ));
    };
    if expires < 1 {
        return Err(s3_error!(
            AccessDenied,
            "X-Amz-Expires must be non-negative"
        ));
    }
    if expires > MAX_EXPIRES {
        return Err(s3_error!(
            AccessDenied,
            "X-Amz-Expires must be less than a week (in seconds) that is 604800"
        ));
    }
    let signed_headers = parse_signed_headers(param("X-Amz-SignedHeaders")?).ok_or_else(|| {
        s3_error!(
            AuthorizationQueryParametersError,
            "X-Amz-SignedHeaders must be lowercase names separated by ';' and include host."
        )
    })?;
    let signature = param("X-Amz-Signature")?;
    let user = lookup(store, &scope.access_key)?;
    // Expiry is measured from the signing time, not against the skew window: a URL signed now
    // for 7 days is good for 7 days.
    if now > signed_at + Duration::from_secs(expires) {
        return Err(s3_error!(AccessDenied, "Request has expired"));
    }
    if signed_at > now + MAX_SKEW {
        return Err(s3_error!(AccessDenied, "Request is not valid yet"));
    }
    check_scope_date(&scope, &amz_date)?;
    let canonical = canonical_request(
        req,
        &signed_headers,
        |n| n == "X-Amz-Signature",
        payload_hash,
    );
    check_signature(
        store, user, &scope, &amz_date, signed_at, &canonical, signature,
    )
}

pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// The user holding `access_key`, or `403 InvalidAccessKeyId` (every signature version).
pub(crate) fn lookup<'s>(
    store: &'s CredentialStore,
    access_key: &str,
) -> Result<&'s Arc<User>, S3Error> {
    store.user(access_key).ok_or_else(|| {
        s3_error!(
            InvalidAccessKeyId,
            "The AWS Access Key Id you provided does not exist in our records."
        )
    })
}

/// `403 RequestTimeTooSkewed` beyond [`MAX_SKEW`] (header-signed requests of every version).
pub(crate) fn check_skew(signed_at: SystemTime, now: SystemTime) -> Result<(), S3Error> {
    let skew = now
        .duration_since(signed_at)
        .unwrap_or_else(|e| e.duration());
    if skew > MAX_SKEW {
        return Err(s3_error!(
            RequestTimeTooSkewed,
            "The difference between the request time and the server's time is too large ({} seconds; at most {}).",
            skew.as_secs(),
            MAX_SKEW.as_secs()
        ));
    }
    Ok(())
}

fn check_scope_date(scope: &CredentialScope, amz_date: &str) -> Result<(), S3Error> {
    if !amz_date.starts_with(&scope.date) {
        return Err(s3_error!(
            AuthorizationHeaderMalformed,
            "The authorization header is malformed; Invalid credential date \"{}\". This date is not the same as X-Amz-Date: \"{}\".",
            scope.date,
            &amz_date[..amz_date.len().min(8)]
        ));
    }
    Ok(())
}

fn check_signature(
    store: &CredentialStore,
    user: &Arc<User>,
    scope: &CredentialScope,
    amz_date: &str,
    signed_at: SystemTime,
    canonical_request: &str,
    client_signature: &str,
) -> Result<VerifiedV4, S3Error> {
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{}\n{}",
        scope.scope_string(),
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let signing_key =
        store.signing_key(user, &scope.date, signed_at, &scope.region, &scope.service);
    let expected = hmac_sha256(&signing_key, string_to_sign.as_bytes());
    if !signature_matches(client_signature, &expected) {
        return Err(s3_error!(
            SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided. Check your key and signing method."
        ));
    }
    Ok(VerifiedV4 {
        user: user.clone(),
        scope: scope.clone(),
        signature: client_signature.to_owned(),
        signing_key,
        amz_date: amz_date.to_owned(),
    })
}

/// Compares a hex signature with the expected MAC in constant time (length and content).
pub fn signature_matches(client_hex: &str, expected: &[u8]) -> bool {
    let mut decoded = [0u8; 32];
    if expected.len() != 32 || hex::decode_to_slice(client_hex, &mut decoded).is_err() {
        return false;
    }
    bool::from(decoded.ct_eq(expected))
}

pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The timestamp a header-signed request claims: `x-amz-date`, else `Date` (converted).
fn request_amz_date(headers: &HeaderMap) -> Result<String, S3Error> {
    let denied = || {
        s3_error!(
            AccessDenied,
            "AWS authentication requires a valid Date or x-amz-date header"
        )
    };
    if let Some(v) = headers.get("x-amz-date") {
        return v.to_str().map(str::to_owned).map_err(|_| denied());
    }
    let date = headers
        .get(http::header::DATE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(denied)?;
    let t = parse_date_header(date).ok_or_else(denied)?;
    Ok(format_amz_date(t))
}

/// Parses a `Date` header: the HTTP date forms (`GMT`) or RFC 2822 with a numeric offset
/// (`Tue, 27 Mar 2007 19:36:42 +0000`), which S3 clients also send.
pub fn parse_date_header(value: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(value).ok().or_else(|| {
        time::OffsetDateTime::parse(value.trim(), &time::format_description::well_known::Rfc2822)
            .ok()
            .map(SystemTime::from)
    })
}

const AMZ_DATE: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");

/// Parses `YYYYMMDDTHHMMSSZ`.
pub fn parse_amz_date(s: &str) -> Option<SystemTime> {
    time::PrimitiveDateTime::parse(s, AMZ_DATE)
        .ok()
        .map(|t| t.assume_utc().into())
}

/// Formats a time as `YYYYMMDDTHHMMSSZ` (UTC), digit by digit: the backend signer calls this
/// for every request, and the format machinery costs more than the digits.
pub fn format_amz_date(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    let mut out = String::with_capacity(16);
    push_digits(&mut out, t.year().clamp(0, 9999) as u32, 4);
    push_digits(&mut out, u32::from(u8::from(t.month())), 2);
    push_digits(&mut out, u32::from(t.day()), 2);
    out.push('T');
    push_digits(&mut out, u32::from(t.hour()), 2);
    push_digits(&mut out, u32::from(t.minute()), 2);
    push_digits(&mut out, u32::from(t.second()), 2);
    out.push('Z');
    out
}

/// Appends `n` as exactly `width` (at most 4) decimal digits, zero-padded.
fn push_digits(out: &mut String, n: u32, width: usize) {
    let mut buf = [b'0'; 4];
    let mut n = n;
    for slot in buf[..width].iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.extend(buf[..width].iter().map(|b| char::from(*b)));
}

/// Builds the canonical request: method, canonical URI, canonical query, canonical headers,
/// signed header list and payload hash, separated by newlines.
pub fn canonical_request(
    req: &SignedParts<'_>,
    signed_headers: &[String],
    skip_param: impl Fn(&str) -> bool,
    payload_hash: &str,
) -> String {
    let mut out = String::with_capacity(512);
    out.push_str(req.method);
    out.push('\n');
    out.push_str(&uri::encode_path(req.decoded_path));
    out.push('\n');
    out.push_str(&req.query.canonical(skip_param));
    out.push('\n');
    push_canonical_headers(
        &mut out,
        req.headers,
        signed_headers.iter().map(String::as_str),
    );
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    out.push_str(payload_hash);
    out
}

/// Appends the canonical header lines of `names` (lower-case, in signing order): each
/// `name:value[,value...]\n`, values trimmed. Shared by verification and the backend signer.
pub(crate) fn push_canonical_headers<'a>(
    out: &mut String,
    headers: &HeaderMap,
    names: impl IntoIterator<Item = &'a str>,
) {
    for name in names {
        out.push_str(name);
        out.push(':');
        for (i, value) in headers.get_all(name).iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_trimmed(out, value.as_bytes());
        }
        out.push('\n');
    }
}

/// Appends a header value trimmed, with runs of spaces collapsed to one (SigV4 rule).
fn push_trimmed(out: &mut String, value: &[u8]) {
    let text = String::from_utf8_lossy(value);
    let mut last_space = false;
    for c in text.trim().chars() {
        if c == ' ' || c == '\t' {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
        } else {
            out.push(c);
            last_space = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_dates_are_utc_and_zero_padded() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_369_353_600 + 3_723);
        assert_eq!(format_amz_date(t), "20130524T010203Z");
        assert_eq!(format_amz_date(SystemTime::UNIX_EPOCH), "19700101T000000Z");
        assert_eq!(parse_amz_date(&format_amz_date(t)), Some(t));
    }

    /// The AWS S3 documentation's example credentials ("Signature Calculations for the
    /// Authorization Header: Transferring Payload in a Single Chunk").
    fn doc_store() -> CredentialStore {
        CredentialStore::new([crate::auth::credentials::doc_user()])
    }

    use crate::auth::credentials::header_map as headers;

    fn at(amz: &str) -> SystemTime {
        parse_amz_date(amz).unwrap()
    }

    const EMPTY_SHA: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// AWS doc example "GET Object" with a Range header.
    #[test]
    fn aws_doc_get_object_with_range() {
        let h = headers(&[
            ("host", "examplebucket.s3.amazonaws.com"),
            ("range", "bytes=0-9"),
            ("x-amz-content-sha256", EMPTY_SHA),
            ("x-amz-date", "20130524T000000Z"),
        ]);
        let q = Query::default();
        let req = SignedParts {
            method: "GET",
            decoded_path: "/test.txt",
            raw_path: "/test.txt",
            host_bucket: None,
            query: &q,
            headers: &h,
        };
        let auth = AuthorizationV4::parse("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41").unwrap();
        let v =
            verify_header(&req, &auth, EMPTY_SHA, &doc_store(), at("20130524T000000Z")).unwrap();
        assert_eq!(v.user.id, "doc");
    }

    /// AWS doc example "PUT Object".
    #[test]
    fn aws_doc_put_object() {
        let h = headers(&[
            ("date", "Fri, 24 May 2013 00:00:00 GMT"),
            ("host", "examplebucket.s3.amazonaws.com"),
            (
                "x-amz-content-sha256",
                "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
            ),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ]);
        let q = Query::default();
        let req = SignedParts {
            method: "PUT",
            decoded_path: "/test$file.text",
            raw_path: "/test$file.text",
            host_bucket: None,
            query: &q,
            headers: &h,
        };
        let auth = AuthorizationV4::parse("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd").unwrap();
        verify_header(
            &req,
            &auth,
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
            &doc_store(),
            at("20130524T000000Z"),
        )
        .unwrap();
    }

    /// AWS doc example "GET Bucket Lifecycle".
    #[test]
    fn aws_doc_get_bucket_lifecycle() {
        let h = headers(&[
            ("host", "examplebucket.s3.amazonaws.com"),
            ("x-amz-content-sha256", EMPTY_SHA),
            ("x-amz-date", "20130524T000000Z"),
        ]);
        let q = Query::parse("lifecycle").unwrap();
        let req = SignedParts {
            method: "GET",
            decoded_path: "/",
            raw_path: "/",
            host_bucket: None,
            query: &q,
            headers: &h,
        };
        let auth = AuthorizationV4::parse("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543").unwrap();
        verify_header(&req, &auth, EMPTY_SHA, &doc_store(), at("20130524T000000Z")).unwrap();
    }

    /// AWS doc example "Get Bucket (List Objects)".
    #[test]
    fn aws_doc_list_objects() {
        let h = headers(&[
            ("host", "examplebucket.s3.amazonaws.com"),
            ("x-amz-content-sha256", EMPTY_SHA),
            ("x-amz-date", "20130524T000000Z"),
        ]);
        let q = Query::parse("max-keys=2&prefix=J").unwrap();
        let req = SignedParts {
            method: "GET",
            decoded_path: "/",
            raw_path: "/",
            host_bucket: None,
            query: &q,
            headers: &h,
        };
        let auth = AuthorizationV4::parse("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7").unwrap();
        verify_header(&req, &auth, EMPTY_SHA, &doc_store(), at("20130524T000000Z")).unwrap();
    }

    /// AWS doc example "Authenticating Requests: Using Query Parameters" (presigned GET).
    #[test]
    fn aws_doc_presigned_get() {
        let h = headers(&[("host", "examplebucket.s3.amazonaws.com")]);
        let q = Query::parse("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404").unwrap();
        let req = SignedParts {
            method: "GET",
            decoded_path: "/test.txt",
            raw_path: "/test.txt",
            host_bucket: None,
            query: &q,
            headers: &h,
        };
        verify_presigned(&req, UNSIGNED_PAYLOAD, &doc_store(), at("20130524T010000Z")).unwrap();
        let e = verify_presigned(&req, UNSIGNED_PAYLOAD, &doc_store(), at("20130525T000001Z"))
            .unwrap_err();
        assert_eq!(
            (e.code().as_str(), e.message()),
            ("AccessDenied", "Request has expired")
        );
    }

    #[test]
    fn tampering_is_signature_does_not_match() {
        let h = headers(&[
            ("host", "examplebucket.s3.amazonaws.com"),
            ("range", "bytes=0-10"),
            ("x-amz-content-sha256", EMPTY_SHA),
            ("x-amz-date", "20130524T000000Z"),
        ]);
        let q = Query::default();
        let req = SignedParts {
            method: "GET",
            decoded_path: "/test.txt",
            raw_path: "/test.txt",
            host_bucket: None,
            query: &q,
            headers: &h,
        };
        let auth = AuthorizationV4::parse("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41").unwrap();
        let e = verify_header(&req, &auth, EMPTY_SHA, &doc_store(), at("20130524T000000Z"))
            .unwrap_err();
        assert_eq!(e.code().as_str(), "SignatureDoesNotMatch");
    }

    #[test]
    fn skew_unknown_key_and_malformed_headers() {
        let h = headers(&[("host", "h"), ("x-amz-date", "20130524T000000Z")]);
        let q = Query::default();
        let req = SignedParts {
            method: "GET",
            decoded_path: "/",
            raw_path: "/",
            host_bucket: None,
            query: &q,
            headers: &h,
        };
        let auth = AuthorizationV4::parse("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=00").unwrap();
        let e = verify_header(&req, &auth, EMPTY_SHA, &doc_store(), at("20130524T001600Z"))
            .unwrap_err();
        assert_eq!(e.code().as_str(), "RequestTimeTooSkewed");
        let other = AuthorizationV4::parse("AWS4-HMAC-SHA256 Credential=NOPE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00").unwrap();
        let e = verify_header(
            &req,
            &other,
            EMPTY_SHA,
            &doc_store(),
            at("20130524T000000Z"),
        )
        .unwrap_err();
        assert_eq!(e.code().as_str(), "InvalidAccessKeyId");
        for bad in [
            "AWS4-HMAC-SHA256 Credential=AK/2013/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=x-amz-date, Signature=00",
            "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, Signature=00",
            "AWS4-HMAC-SHA256 garbage",
        ] {
            let e = AuthorizationV4::parse(bad).unwrap_err();
            assert_eq!(e.code().as_str(), "AuthorizationHeaderMalformed", "{bad}");
        }
    }

    #[test]
    fn presigned_expiry_bounds() {
        let h = headers(&[("host", "h")]);
        for (expires, code) in [
            ("0", "AccessDenied"),
            ("-7", "AccessDenied"),
            ("604801", "AccessDenied"),
            ("soon", "AuthorizationQueryParametersError"),
        ] {
            let q = Query::parse(&format!("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host&X-Amz-Signature=00")).unwrap();
            let req = SignedParts {
                method: "GET",
                decoded_path: "/",
                raw_path: "/",
                host_bucket: None,
                query: &q,
                headers: &h,
            };
            let e = verify_presigned(&req, UNSIGNED_PAYLOAD, &doc_store(), at("20130524T000000Z"))
                .unwrap_err();
            assert_eq!(e.code().as_str(), code, "{expires}");
        }
    }

    #[test]
    fn header_values_are_trimmed_and_folded() {
        let h = headers(&[
            ("host", "h"),
            ("my-header1", "  a   b   c  "),
            ("my-header1", "d"),
        ]);
        let q = Query::default();
        let req = SignedParts {
            method: "GET",
            decoded_path: "/",
            raw_path: "/",
            host_bucket: None,
            query: &q,
            headers: &h,
        };
        let c = canonical_request(
            &req,
            &["host".into(), "my-header1".into()],
            |_| false,
            "UNSIGNED-PAYLOAD",
        );
        assert_eq!(
            c,
            "GET\n/\n\nhost:h\nmy-header1:a b c,d\n\nhost;my-header1\nUNSIGNED-PAYLOAD"
        );
    }
}

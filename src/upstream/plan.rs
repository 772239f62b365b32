//! The forward plan: the only source of a proxied backend request.
//!
//! The backend parses requests its own way (RGW reads `_` and `-` in header names as the same
//! character, takes the last of duplicated headers, acts on query parameters the gateway never
//! looked at). So the backend never sees the client's request: it sees the gateway's rendering of
//! what the gateway understood and decided — the method, the path of the bucket and key it
//! authorized, the query parameters it knows, and an allow-list of headers by exact name, each
//! with the one value the gateway read. Everything else a client sends stays here.

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use pingora::http::RequestHeader;

use crate::s3::error::S3Error;
use crate::s3::op::S3Op;
use crate::s3::request::S3Request;
use crate::s3_error;

/// Client headers the backend may see, by exact (lowercase) name. The gateway's decisions are
/// not here: `x-amz-acl` becomes object metadata, `x-amz-copy-source` is re-encoded from what was
/// authorized, `x-amz-tagging` is rendered from the tags the policy decided on, framing and authentication headers are the gateway's own.
const FORWARDED_HEADERS: &[&str] = &[
    "cache-control",
    "content-disposition",
    "content-language",
    "content-md5",
    "content-type",
    "expires",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-unmodified-since",
    "range",
    "x-amz-checksum-algorithm",
    "x-amz-checksum-crc32",
    "x-amz-checksum-crc32c",
    "x-amz-checksum-crc64nvme",
    "x-amz-checksum-mode",
    "x-amz-checksum-sha1",
    "x-amz-checksum-sha256",
    "x-amz-checksum-type",
    "x-amz-metadata-directive",
    "x-amz-sdk-checksum-algorithm",
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-server-side-encryption-customer-key",
    "x-amz-server-side-encryption-customer-key-md5",
    "x-amz-storage-class",
    "x-amz-tagging-directive",
    "x-amz-website-redirect-location",
];

/// The SSE-C headers that give an encrypted object's key.
pub const SSE_C_HEADERS: [&str; 3] = [
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-server-side-encryption-customer-key",
    "x-amz-server-side-encryption-customer-key-md5",
];

/// The copy source's SSE-C headers, in the order of [`SSE_C_HEADERS`].
const COPY_SOURCE_SSE_C_HEADERS: [&str; 3] = [
    "x-amz-copy-source-server-side-encryption-customer-algorithm",
    "x-amz-copy-source-server-side-encryption-customer-key",
    "x-amz-copy-source-server-side-encryption-customer-key-md5",
];

/// Headers that only mean something next to the copy source the gateway authorized.
const COPY_HEADERS: &[&str] = &[
    "x-amz-copy-source-if-match",
    "x-amz-copy-source-if-modified-since",
    "x-amz-copy-source-if-none-match",
    "x-amz-copy-source-if-unmodified-since",
    "x-amz-copy-source-range",
    "x-amz-copy-source-server-side-encryption-customer-algorithm",
    "x-amz-copy-source-server-side-encryption-customer-key",
    "x-amz-copy-source-server-side-encryption-customer-key-md5",
];

/// User metadata: the one family forwarded by prefix (names checked one by one).
const META_PREFIX: &str = "x-amz-meta-";

/// The query parameters the backend may see for `op`: the sub-resource that names the
/// operation and the parameters it takes, nothing else (first value only, as the gateway reads
/// them). A parameter of another operation could make the backend run that one instead (RGW
/// checks `uploadId` before `uploads`, say); authentication parameters, SDK markers (`x-id`)
/// and anything unknown stay here.
pub fn forwarded_params(op: S3Op) -> &'static [&'static str] {
    use S3Op::*;
    // `encoding-type` stays here: the gateway encodes listings itself (see `BodyFix::Listing`).
    const LIST_V1: &[&str] = &["delimiter", "marker", "max-keys", "prefix"];
    const LIST_V2: &[&str] = &[
        "continuation-token",
        "delimiter",
        "fetch-owner",
        "list-type",
        "max-keys",
        "prefix",
        "start-after",
    ];
    const VERSIONS: &[&str] = &[
        "delimiter",
        "key-marker",
        "max-keys",
        "prefix",
        "version-id-marker",
        "versions",
    ];
    const UPLOADS: &[&str] = &[
        "delimiter",
        "key-marker",
        "max-uploads",
        "prefix",
        "upload-id-marker",
        "uploads",
    ];
    match op {
        // GetObject also takes the RESPONSE_OVERRIDES (see `forwarded_query`).
        GetObject | HeadObject => &["partNumber", "versionId"],
        DeleteObject => &["versionId"],
        ListObjects => LIST_V1,
        ListObjectsV2 => LIST_V2,
        ListObjectVersions => VERSIONS,
        ListMultipartUploads => UPLOADS,
        CreateMultipartUpload => &["uploads"],
        UploadPart | UploadPartCopy => &["partNumber", "uploadId"],
        CompleteMultipartUpload | AbortMultipartUpload => &["uploadId"],
        ListParts => &["max-parts", "part-number-marker", "uploadId"],
        DeleteObjects => &["delete"],
        GetObjectTagging | PutObjectTagging | DeleteObjectTagging => &["tagging", "versionId"],
        GetBucketLifecycleConfiguration
        | PutBucketLifecycleConfiguration
        | DeleteBucketLifecycle => &["lifecycle"],
        GetBucketVersioning | PutBucketVersioning => &["versioning"],
        _ => &[],
    }
}

/// The `response-*` overrides, which S3 refuses on anonymous requests.
pub const RESPONSE_OVERRIDES: &[&str] = &[
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
];

/// How a client's header names relate to the signature: a name the client signed but that the
/// gateway will not forward under that spelling is refused rather than silently dropped.
pub trait SignedNames {
    fn is_signed(&self, name: &str) -> bool;
}

impl SignedNames for [String] {
    fn is_signed(&self, name: &str) -> bool {
        self.iter().any(|s| s == name)
    }
}

/// Everything the backend request is made of.
#[derive(Debug, Clone)]
pub struct ForwardPlan {
    pub method: Method,
    /// Path-style path and query, canonically encoded.
    pub target: String,
    /// Headers besides `host`, framing and the signature, in order.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The body length the backend gets; `None` leaves framing to the body (chunked) or to
    /// its absence.
    pub content_length: Option<u64>,
    /// The payload hash signed toward the backend.
    pub payload_hash: String,
}

impl ForwardPlan {
    /// Starts a plan for `op` on `request` (its bucket and key) with the query parameters `op`
    /// takes.
    pub fn new(op: S3Op, method: Method, request: &S3Request, payload_hash: &str) -> ForwardPlan {
        let query = forwarded_query(op, request);
        let path = request.backend_path();
        let target = if query.is_empty() {
            path
        } else {
            format!("{path}?{query}")
        };
        ForwardPlan {
            method,
            target,
            headers: Vec::new(),
            content_length: None,
            payload_hash: payload_hash.to_owned(),
        }
    }

    /// Sets `name` to `value`, replacing whatever the plan had under that name.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), S3Error> {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| s3_error!(InternalError, "Invalid header name {name:?}."))?;
        let value = HeaderValue::from_str(value).map_err(|_| {
            s3_error!(
                InvalidArgument,
                "The value of {name} cannot be sent as a header."
            )
        })?;
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value));
        Ok(())
    }

    /// Removes the query parameter `name` from the backend request (when the gateway serves
    /// what it asks for by other means).
    pub fn remove_query_param(&mut self, name: &str) {
        let Some((path, query)) = self.target.split_once('?') else {
            return;
        };
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| pair.split('=').next() != Some(name))
            .collect();
        self.target = if kept.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{}", kept.join("&"))
        };
    }

    /// Removes every header of the plan for which `drop` answers true.
    pub fn remove_where(&mut self, drop: impl Fn(&str) -> bool) {
        self.headers.retain(|(n, _)| !drop(n.as_str()));
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .and_then(|(_, v)| v.to_str().ok())
    }

    /// The SSE-C key this plan carries for its object (or, with `copy_source`, for the copy
    /// source), as the headers of a request that reads that object.
    pub fn sse_c_key(&self, copy_source: bool) -> Vec<(&'static str, &str)> {
        let carried = if copy_source {
            &COPY_SOURCE_SSE_C_HEADERS
        } else {
            &SSE_C_HEADERS
        };
        SSE_C_HEADERS
            .iter()
            .zip(carried)
            .filter_map(|(name, carried)| Some((*name, self.get(carried)?)))
            .collect()
    }

    /// The backend request head: a new header, nothing of the client's carried over.
    pub fn request_header(&self) -> Result<RequestHeader, S3Error> {
        let internal = |_| s3_error!(InternalError, "Could not build the backend request.");
        let mut header = RequestHeader::build(
            self.method.clone(),
            self.target.as_bytes(),
            Some(self.headers.len() + 8),
        )
        .map_err(internal)?;
        for (name, value) in &self.headers {
            header
                .append_header(name.clone(), value.clone())
                .map_err(internal)?;
        }
        if let Some(length) = self.content_length {
            header
                .insert_header(http::header::CONTENT_LENGTH, length)
                .map_err(internal)?;
        }
        Ok(header)
    }
}

/// A header name the backend might read as something else: `_` (RGW reads it as `-`), or
/// anything outside lowercase letters, digits and `-`.
fn is_ambiguous(name: &str) -> bool {
    !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The client headers the backend gets, each once (the first value, the one the gateway read):
/// names from the allow-list, copy headers for copy operations, user metadata under
/// well-formed names (never the gateway's own entries). A signed header whose name a backend
/// could read as another is `400 InvalidArgument`; an unsigned one is dropped.
pub fn forwarded_headers(
    headers: &HeaderMap,
    signed: &[String],
    copy: bool,
    reserved_meta: &[&str],
) -> Result<Vec<(HeaderName, HeaderValue)>, S3Error> {
    let mut out = Vec::new();
    for name in headers.keys() {
        let n = name.as_str();
        if is_ambiguous(n) {
            if signed.is_signed(n) {
                return Err(s3_error!(
                    InvalidArgument,
                    "Header names may contain only letters, digits and '-': {n:?} is not accepted."
                ));
            }
            continue;
        }
        let allowed = FORWARDED_HEADERS.contains(&n)
            || (copy && COPY_HEADERS.contains(&n))
            || (n.len() > META_PREFIX.len()
                && n.starts_with(META_PREFIX)
                && !reserved_meta.contains(&n));
        if !allowed {
            continue;
        }
        let Some(value) = headers.get(name) else {
            continue;
        };
        if value.to_str().is_err() {
            return Err(s3_error!(
                InvalidArgument,
                "Header {n} has a value that is not printable ASCII."
            ));
        }
        // Backends canonicalize a tab in a signed value each their own way (RGW keeps it,
        // SigV4 signers fold it), so the signature the gateway makes could not hold.
        if value.as_bytes().contains(&b'\t') {
            return Err(s3_error!(
                InvalidArgument,
                "Header {n} has a tab in its value; use spaces."
            ));
        }
        out.push((name.clone(), value.clone()));
    }
    Ok(out)
}

/// The query the backend gets: the parameters `op` takes, the first value of each (the one
/// the gateway read), canonically encoded, in the client's order.
pub fn forwarded_query(op: S3Op, request: &S3Request) -> String {
    let known = forwarded_params(op);
    let overrides = op == S3Op::GetObject;
    let mut seen: Vec<&str> = Vec::new();
    let mut out = String::new();
    for (name, value) in request.query.pairs() {
        let allowed = known.contains(&name) || (overrides && RESPONSE_OVERRIDES.contains(&name));
        if !allowed || seen.contains(&name) {
            continue;
        }
        // Only the first value goes on: the one `Query::get` gives the gateway.
        seen.push(name);
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&crate::s3::uri::encode_component(name));
        // A part number goes on as the number the gateway read (`+2` and `02` are 2 to it; a
        // backend might read them otherwise or not at all).
        if name == "partNumber"
            && let Ok(n) = value.parse::<u32>()
        {
            out.push('=');
            out.push_str(&n.to_string());
        } else if name == "continuation-token" {
            // Admission refused a token the gateway did not give out.
            let token = backend_continuation_token(value).unwrap_or_default();
            out.push('=');
            out.push_str(&crate::s3::uri::encode_component(&token));
        } else if !value.is_empty() {
            out.push('=');
            out.push_str(&crate::s3::uri::encode_component(value));
        }
    }
    out
}

/// The continuation token a client gets for the backend's: opaque (base64url of the
/// backend's, which on RGW is the last key in the clear) and stable (the same position gives
/// the same token).
pub fn client_continuation_token(backend: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(backend)
}

/// The backend's continuation token behind a client's, `None` when it is not one the gateway
/// gave out.
pub fn backend_continuation_token(client: &str) -> Option<String> {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(client.trim())
        .ok()?;
    String::from_utf8(raw).ok()
}

/// `Content-Encoding` without the `aws-chunked` coding the gateway removed (`None`: nothing left).
pub fn content_encoding_without_aws_chunked(value: &str) -> Option<String> {
    let is_framing = |e: &str| e.trim().eq_ignore_ascii_case("aws-chunked");
    if !value.split(',').any(is_framing) {
        // Kept byte for byte: it is what GetObject answers.
        return (!value.trim().is_empty()).then(|| value.to_owned());
    }
    let rest = value
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty() && !is_framing(e))
        .collect::<Vec<_>>()
        .join(", ");
    (!rest.is_empty()).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_tokens_are_opaque_and_round_trip() {
        let backend = "a b+c/ü.txt";
        let client = client_continuation_token(backend);
        assert!(!client.contains("txt") && !client.contains(' '), "{client}");
        assert_eq!(client, client_continuation_token(backend), "stable");
        assert_eq!(
            backend_continuation_token(&client).as_deref(),
            Some(backend)
        );
        assert_eq!(backend_continuation_token("not a token!"), None);
    }
    use crate::s3::request::HostRules;
    use proptest::prelude::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn names(out: &[(HeaderName, HeaderValue)]) -> Vec<&str> {
        out.iter().map(|(n, _)| n.as_str()).collect()
    }

    const RESERVED: &[&str] = &["x-amz-meta-bucketgate-acl"];

    #[test]
    fn underscore_spellings_never_reach_the_backend() {
        let h = headers(&[
            ("x_amz_copy_source", "/main/secret.txt"),
            ("x-amz-meta-bucketgate_acl", "public-read"),
            ("x-amz_acl", "public-read"),
            (
                "x-amz-grant_read",
                "uri=http://acs.amazonaws.com/groups/global/AllUsers",
            ),
            ("x-amz-bucket-object-lock_enabled", "true"),
            ("content-type", "text/plain"),
        ]);
        let out = forwarded_headers(&h, &[], true, RESERVED).unwrap();
        assert_eq!(names(&out), ["content-type"]);
        // Signed, the same spelling is a clear error, not a silent drop.
        let e =
            forwarded_headers(&h, &["x_amz_copy_source".to_owned()], true, RESERVED).unwrap_err();
        assert_eq!(e.code().as_str(), "InvalidArgument");
        assert!(e.message().contains("x_amz_copy_source"));
    }

    #[test]
    fn tabs_in_forwarded_values_are_refused() {
        let h = headers(&[("x-amz-meta-note", "a\tb")]);
        let e = forwarded_headers(&h, &[], false, RESERVED).unwrap_err();
        assert_eq!(e.code().as_str(), "InvalidArgument");
        assert!(e.message().contains("x-amz-meta-note"));
        // Headers the backend never gets are not looked at.
        let h = headers(&[("user-agent", "a\tb")]);
        assert!(
            forwarded_headers(&h, &[], false, RESERVED)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn decisions_are_the_gateways_not_the_clients() {
        let h = headers(&[
            ("x-amz-acl", "public-read"),
            ("x-amz-copy-source", "/main/secret.txt"),
            ("x-amz-grant-read", "id=x"),
            ("x-amz-meta-bucketgate-acl", "public-read"),
            ("x-amz-meta-colour", "blue"),
            ("x-amz-expected-bucket-owner", "123"),
            ("x-amz-copy-source-range", "bytes=0-1"),
            ("authorization", "AWS4-HMAC-SHA256 ..."),
            ("transfer-encoding", "chunked"),
            ("x-amz-decoded-content-length", "5"),
        ]);
        assert_eq!(
            names(&forwarded_headers(&h, &[], false, RESERVED).unwrap()),
            ["x-amz-meta-colour"]
        );
        assert_eq!(
            names(&forwarded_headers(&h, &[], true, RESERVED).unwrap()),
            ["x-amz-meta-colour", "x-amz-copy-source-range"]
        );
    }

    #[test]
    fn duplicated_headers_forward_the_value_the_gateway_read() {
        let h = headers(&[("x-amz-meta-a", "first"), ("x-amz-meta-a", "second")]);
        let out = forwarded_headers(&h, &[], false, RESERVED).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].1, "first");
    }

    #[test]
    fn query_keeps_known_parameters_first_value_only() {
        let rules = HostRules::new("nyc3", "example.test");
        let r = S3Request::parse(
            &rules,
            "h",
            "/b/k",
            "versionId=a&versionId=b&X-Amz-Signature=s&torrent&x-id=GetObject&AWSAccessKeyId=k&response-content-type=text%2Fplain",
        )
        .unwrap();
        assert_eq!(
            forwarded_query(S3Op::GetObject, &r),
            "versionId=a&response-content-type=text%2Fplain"
        );
        let plan = ForwardPlan::new(S3Op::GetObject, Method::GET, &r, "UNSIGNED-PAYLOAD");
        assert_eq!(
            plan.target,
            "/b/k?versionId=a&response-content-type=text%2Fplain"
        );
    }

    #[test]
    fn another_operations_parameters_never_reach_the_backend() {
        let rules = HostRules::new("nyc3", "example.test");
        let parse = |q: &str| S3Request::parse(&rules, "h", "/b/k", q).unwrap();
        // RGW would complete the upload, having checked uploadId first.
        assert_eq!(
            forwarded_query(S3Op::CreateMultipartUpload, &parse("uploads&uploadId=u")),
            "uploads"
        );
        assert_eq!(
            forwarded_query(S3Op::GetObjectTagging, &parse("tagging&uploadId=u")),
            "tagging"
        );
        assert_eq!(forwarded_query(S3Op::HeadObject, &parse("uploadId=u")), "");
        assert_eq!(
            forwarded_query(S3Op::PutObject, &parse("versionId=v&acl&tagging")),
            ""
        );
        // Part numbers as the gateway read them.
        assert_eq!(
            forwarded_query(S3Op::GetObject, &parse("partNumber=%2B02")),
            "partNumber=2"
        );
        assert_eq!(
            forwarded_query(S3Op::UploadPart, &parse("partNumber=007&uploadId=u")),
            "partNumber=7&uploadId=u"
        );
    }

    #[test]
    fn aws_chunked_is_removed_from_content_encoding() {
        assert_eq!(content_encoding_without_aws_chunked("aws-chunked"), None);
        assert_eq!(
            content_encoding_without_aws_chunked("aws-chunked, gzip").as_deref(),
            Some("gzip")
        );
        // The cases of ceph/s3-tests' test_object_content_encoding_aws_chunked.
        for (sent, stored) in [
            ("gzip", Some("gzip")),
            ("deflate, gzip", Some("deflate, gzip")),
            ("gzip, aws-chunked", Some("gzip")),
            ("aws-chunked, aws-chunked", None),
        ] {
            assert_eq!(
                content_encoding_without_aws_chunked(sent).as_deref(),
                stored
            );
        }
    }

    fn arb_name() -> impl Strategy<Value = String> {
        // Header-name tokens, weighted toward the spellings that matter.
        prop_oneof![
            "[a-zA-Z0-9_-]{1,24}",
            "(x|X)[-_](amz|AMZ)[-_](meta|acl|copy|grant|server)[-_a-z]{0,16}",
            Just("x_amz_copy_source".to_owned()),
            Just("X-Amz-Meta-Bucketgate_Acl".to_owned()),
            "[!#$%&'*+.^`|~a-z-]{1,12}",
        ]
    }

    fn arb_value() -> impl Strategy<Value = Vec<u8>> {
        // Visible ASCII, whitespace and obs-text.
        proptest::collection::vec(prop_oneof![0x20u8..0x7f, Just(b'\t'), 0x80u8..=0xff], 0..24)
    }

    proptest! {
        #[test]
        fn the_plan_holds_only_allow_listed_headers(
            pairs in proptest::collection::vec((arb_name(), arb_value()), 0..12),
            sign_all in any::<bool>(),
        ) {
            let mut h = HeaderMap::new();
            let mut signed = Vec::new();
            for (n, v) in &pairs {
                let (Ok(name), Ok(value)) = (
                    HeaderName::from_bytes(n.as_bytes()),
                    HeaderValue::from_bytes(v),
                ) else { continue };
                if sign_all { signed.push(name.as_str().to_owned()); }
                h.append(name, value);
            }
            // Never panics; either an error or a plan inside the allow-list.
            if let Ok(out) = forwarded_headers(&h, &signed, true, RESERVED) {
                let mut seen = Vec::new();
                for (name, value) in &out {
                    let n = name.as_str();
                    prop_assert!(!n.contains('_'), "{n}");
                    prop_assert!(!is_ambiguous(n), "{n}");
                    prop_assert!(
                        FORWARDED_HEADERS.contains(&n)
                            || COPY_HEADERS.contains(&n)
                            || (n.starts_with(META_PREFIX) && !RESERVED.contains(&n)),
                        "{n}"
                    );
                    prop_assert!(value.to_str().is_ok());
                    prop_assert!(!seen.contains(&n), "duplicate {n}");
                    seen.push(n);
                    // The forwarded value is the first one the client sent.
                    prop_assert_eq!(Some(value), h.get(name));
                }
            }
        }
    }
}

//! Property tests: the parsers that see untrusted bytes never panic, and the aws-chunked decoder
//! is indifferent to how the network splits a body. `PROPTEST_CASES=N` runs more cases.

use bucketgate::auth::checksum::{Checksum, ChecksumAlgorithm};
use bucketgate::auth::chunked::ChunkedDecoder;
use bucketgate::auth::sigv4::AuthorizationV4;
use bucketgate::authz::policy::{BucketPolicy, RequestFacts};
use bucketgate::s3::request::{HostRules, S3Request};
use bucketgate::s3::uri::Query;
use bytes::Bytes;
use proptest::prelude::*;

fn unsigned_body(data: &[u8], chunk: usize, crc: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for c in data.chunks(chunk.max(1)) {
        body.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        body.extend_from_slice(c);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("0\r\nx-amz-checksum-crc32c:{crc}\r\n\r\n").as_bytes());
    body
}

fn crc32c(data: &[u8]) -> String {
    let mut c = Checksum::new(ChecksumAlgorithm::Crc32c);
    c.update(data);
    c.finish_base64()
}

/// Feeds `body` split at `cuts`; returns the decoded bytes or the error.
fn decode(mut d: ChunkedDecoder, body: &[u8], cuts: &[usize]) -> Result<Vec<u8>, String> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
    points.sort_unstable();
    let mut out = Vec::new();
    let mut last = 0;
    for p in points.into_iter().chain([body.len()]) {
        out.extend_from_slice(
            &d.feed(Bytes::copy_from_slice(&body[last..p]))
                .map_err(|e| e.to_string())?,
        );
        last = p;
    }
    out.extend_from_slice(&d.finish().map_err(|e| e.to_string())?);
    Ok(out)
}

proptest! {
    #[test]
    fn any_split_of_a_valid_body_decodes_to_the_data(
        data in proptest::collection::vec(any::<u8>(), 0..5000),
        chunk in 1usize..2000,
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let body = unsigned_body(&data, chunk, &crc32c(&data));
        let d = ChunkedDecoder::new(None, true, Some(ChecksumAlgorithm::Crc32c), data.len() as u64);
        prop_assert_eq!(decode(d, &body, &cuts).unwrap(), data);
    }

    #[test]
    fn a_changed_byte_never_passes(
        data in proptest::collection::vec(any::<u8>(), 1..3000),
        chunk in 1usize..1000,
        at in any::<usize>(),
        flip in 1u8..=255,
        cuts in proptest::collection::vec(any::<usize>(), 0..6),
    ) {
        let mut body = unsigned_body(&data, chunk, &crc32c(&data));
        let at = at % body.len();
        body[at] ^= flip;
        let d = ChunkedDecoder::new(None, true, Some(ChecksumAlgorithm::Crc32c), data.len() as u64);
        // Some flips are harmless (hex case in a size, say); none may yield other data.
        if let Ok(out) = decode(d, &body, &cuts) {
            prop_assert_eq!(out, data);
        }
    }

    #[test]
    fn the_decoder_never_panics_on_garbage(
        body in proptest::collection::vec(any::<u8>(), 0..600),
        expected in 0u64..700,
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
        trailer in any::<bool>(),
    ) {
        let d = ChunkedDecoder::new(None, trailer, trailer.then_some(ChecksumAlgorithm::Crc32), expected);
        let _ = decode(d, &body, &cuts);
    }

    #[test]
    fn authorization_parsing_never_panics(value in ".{0,300}") {
        let _ = AuthorizationV4::parse(&value);
        let _ = AuthorizationV4::parse(&format!("AWS4-HMAC-SHA256 {value}"));
    }

    #[test]
    fn request_parsing_never_panics(host in ".{0,80}", path in "/.{0,120}", query in ".{0,120}") {
        let rules = HostRules::new("nyc3", "example.test");
        if let Ok(req) = S3Request::parse(&rules, &host, &path, &query) {
            let _ = req.backend_path();
            let _ = req.query.canonical(|_| false);
        }
        let _ = Query::parse(&query);
    }

    #[test]
    fn policy_parsing_never_panics(json in ".{0,400}") {
        let _ = BucketPolicy::parse(json.as_bytes(), "b");
    }

    #[test]
    fn policy_evaluation_never_panics(
        op_pattern in "s3:[A-Za-z*?]{0,12}",
        condition_value in ".{0,24}",
        operator in proptest::sample::select(vec![
            "StringEquals", "StringNotLike", "IpAddress", "NotIpAddress", "NumericLessThan",
            "DateGreaterThan", "Bool", "ForAllValues:StringLike", "StringEqualsIfExists", "Null",
        ]),
        key in proptest::sample::select(vec!["s3:prefix", "aws:SourceIp", "aws:CurrentTime", "s3:max-keys", "aws:Referer"]),
        request_value in ".{0,24}",
        user in proptest::option::of("[a-z]{1,6}"),
    ) {
        let doc = serde_json::json!({
            "Statement": [{"Effect": "Allow", "Principal": "*", "Action": op_pattern, "Resource": "arn:aws:s3:::b/*",
                           "Condition": {operator: {key: condition_value}}}]
        });
        if let Ok(policy) = BucketPolicy::parse(doc.to_string().as_bytes(), "b") {
            let facts = RequestFacts {
                user: user.as_deref(),
                action: "s3:GetObject",
                resource: "arn:aws:s3:::b/k".into(),
                source_ip: request_value.parse().ok(),
                values: vec![(key.to_ascii_lowercase(), request_value.clone())],
                ..Default::default()
            };
            let _ = policy.evaluate(&facts);
        }
    }

    /// The pure steps of admission over arbitrary header blocks (case, `_`/`-`, duplicates,
    /// whitespace, obs-text) and targets: parse, classify, authenticate, the profile's checks,
    /// the copy source and the forward plan never panic, and the plan's headers are always
    /// well-formed names without `_`, each once.
    #[test]
    fn admission_never_panics_and_plans_stay_clean(
        path in "/[a-z0-9]{3,8}(/[ -~]{0,20})?",
        query in "[ -~]{0,40}",
        method in proptest::sample::select(vec!["GET", "PUT", "POST", "HEAD", "DELETE"]),
        pairs in proptest::collection::vec(
            (
                prop_oneof![
                    "(x|X)[-_](amz|Amz)[-_](meta[-_])?[a-z_-]{0,16}",
                    "[a-zA-Z0-9_-]{1,20}",
                    proptest::sample::select(vec![
                        "x-amz-copy-source".to_owned(), "x_amz_copy_source".to_owned(),
                        "authorization".to_owned(), "x-amz-content-sha256".to_owned(),
                        "x-amz-acl".to_owned(), "content-length".to_owned(),
                        "x-amz-meta-bucketgate-acl".to_owned(), "expect".to_owned(),
                    ]),
                ],
                proptest::collection::vec(
                    prop_oneof![0x20u8..0x7f, Just(b'\t'), 0x80u8..=0xff],
                    0..40,
                ),
            ),
            0..10,
        ),
    ) {
        use bucketgate::auth::credentials::CredentialStore;
        use bucketgate::auth::sigv4::SignedParts;
        use bucketgate::upstream::plan::{forwarded_headers, ForwardPlan};
        let mut headers = http::HeaderMap::new();
        let mut signed = Vec::new();
        for (name, value) in &pairs {
            let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_bytes(value),
            ) else { continue };
            signed.push(n.as_str().to_owned());
            headers.append(n, v);
        }
        let rules = HostRules::new("nyc3", "example.test");
        let Ok(request) = S3Request::parse(&rules, "h", &path, &query) else { return Ok(()) };
        let method: http::Method = method.parse().unwrap();
        let op = bucketgate::s3::op::classify(&method, &request, &headers);
        let parts = SignedParts {
            method: method.as_str(),
            decoded_path: &request.decoded_path,
            raw_path: &path,
            host_bucket: None,
            query: &request.query,
            headers: &headers,
        };
        let _ = bucketgate::auth::authenticate(&parts, &CredentialStore::new([]), std::time::SystemTime::now());
        let profile = bucketgate::profile::Profile::spaces();
        let _ = profile.admit(op);
        let _ = profile.check_request(op, &request, &headers);
        if let Some(Ok(raw)) = headers.get("x-amz-copy-source").map(|v| v.to_str())
            && let Ok(source) = bucketgate::s3::copy_source::CopySource::parse(raw)
        {
            let _ = source.to_header();
        }
        for copy in [false, true] {
            if let Ok(forwarded) = forwarded_headers(&headers, &signed, copy, &["x-amz-meta-bucketgate-acl"]) {
                let mut plan = ForwardPlan::new(op, method.clone(), &request, "UNSIGNED-PAYLOAD");
                plan.headers = forwarded;
                let mut seen = std::collections::HashSet::new();
                for (n, _) in &plan.headers {
                    prop_assert!(!n.as_str().contains('_'), "{}", n);
                    prop_assert!(n.as_str() != "x-amz-meta-bucketgate-acl");
                    prop_assert!(n.as_str() != "x-amz-acl" && n.as_str() != "authorization");
                    prop_assert!(seen.insert(n.as_str().to_owned()), "twice: {}", n);
                }
                prop_assert!(plan.request_header().is_ok());
            }
        }
    }
}

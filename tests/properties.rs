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

    /// Every XML body a client may send, from a soup of the elements they use: never a panic.
    #[test]
    fn xml_bodies_never_panic(doc in xml_soup()) {
        use bucketgate::s3::xml;
        let b = doc.as_bytes();
        let _ = xml::CompleteMultipartUpload::parse(b);
        let _ = xml::DeleteRequest::parse(b);
        let _ = xml::VersioningConfiguration::parse(b);
        let _ = xml::CreateBucketConfiguration::parse(b);
        let _ = xml::parse_access_control_policy(b, "main");
        let _ = bucketgate::s3::tags::TagSet::from_xml(b);
        let _ = bucketgate::s3::lifecycle::LifecycleConfiguration::parse(b);
        let _ = bucketgate::features::cors::CorsConfiguration::parse(b);
        let _ = bucketgate::features::website::WebsiteConfiguration::parse(b);
        let _ = bucketgate::features::access_log::parse_logging_status(b);
    }

    /// A POST form's fields before the file, split anywhere, with any boundary: never a panic.
    #[test]
    fn post_form_preambles_never_panic(
        boundary in "[-a-zA-Z0-9]{1,20}",
        parts in proptest::collection::vec(
            ("[ -~]{0,20}", proptest::collection::vec(any::<u8>(), 0..30)),
            0..6,
        ),
        cut in 0usize..400,
    ) {
        let mut body = Vec::new();
        for (name, value) in &parts {
            body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes());
            body.extend_from_slice(value);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n").as_bytes());
        let _ = bucketgate::s3::form::parse_preamble(&body, &boundary);
        let _ = bucketgate::s3::form::parse_preamble(&body[..cut.min(body.len())], &boundary);
    }

    /// Config files: any soup of sections, keys and values is a config or a list of problems.
    #[test]
    fn config_parsing_never_panics(text in toml_soup()) {
        let _ = bucketgate::config::Config::parse(&text, std::path::Path::new("/tmp"));
    }

    /// SigV2 header and query forms and SigV4 presigned queries, near-valid: never a panic.
    #[test]
    fn signature_forms_never_panic(
        v2 in "AWS [A-Z0-9]{0,20}:[ -~]{0,40}",
        query in prop_oneof![
            "AWSAccessKeyId=[A-Z0-9]{0,20}&Expires=[0-9-]{0,12}&Signature=[ -~]{0,30}",
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=[ -~]{0,60}&X-Amz-Date=[0-9TZ]{0,16}&X-Amz-Expires=[0-9-]{0,8}&X-Amz-SignedHeaders=[a-z;]{0,20}&X-Amz-Signature=[0-9a-f]{0,64}",
        ],
        date in "[ -~]{0,40}",
    ) {
        use bucketgate::auth::credentials::{CredentialStore, SecretKey, User};
        use bucketgate::auth::sigv4::SignedParts;
        let store = CredentialStore::new([User {
            id: "main".into(),
            display_name: "main".into(),
            access_key: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_key: SecretKey::new("secret"),
            grants: Vec::new(),
        }]);
        let rules = HostRules::new("nyc3", "example.test");
        for (header, q) in [(Some(v2.as_str()), ""), (None, query.as_str())] {
            let Ok(request) = S3Request::parse(&rules, "h", "/b/k", q) else { continue };
            let mut headers = http::HeaderMap::new();
            if let Some(Ok(v)) = header.map(http::HeaderValue::from_str) {
                headers.insert(http::header::AUTHORIZATION, v);
            }
            if let Ok(v) = http::HeaderValue::from_str(&date) {
                headers.insert(http::header::DATE, v);
            }
            let parts = SignedParts {
                method: "GET",
                decoded_path: &request.decoded_path,
                raw_path: "/b/k",
                host_bucket: None,
                query: &request.query,
                headers: &headers,
            };
            let _ = bucketgate::auth::authenticate(&parts, &store, std::time::SystemTime::now());
        }
    }
}

/// XML-ish text: the elements of S3 request documents, text and stray markup, in any order.
fn xml_soup() -> impl Strategy<Value = String> {
    let tags = [
        "CompleteMultipartUpload",
        "Part",
        "PartNumber",
        "ETag",
        "ChecksumCRC32",
        "Delete",
        "Object",
        "Key",
        "VersionId",
        "Quiet",
        "VersioningConfiguration",
        "Status",
        "MfaDelete",
        "CreateBucketConfiguration",
        "LocationConstraint",
        "AccessControlPolicy",
        "Owner",
        "ID",
        "AccessControlList",
        "Grant",
        "Grantee",
        "URI",
        "Permission",
        "Tagging",
        "TagSet",
        "Tag",
        "Value",
        "LifecycleConfiguration",
        "Rule",
        "Filter",
        "Prefix",
        "Expiration",
        "Days",
        "Date",
        "AbortIncompleteMultipartUpload",
        "DaysAfterInitiation",
        "CORSConfiguration",
        "CORSRule",
        "AllowedOrigin",
        "AllowedMethod",
        "AllowedHeader",
        "MaxAgeSeconds",
        "WebsiteConfiguration",
        "IndexDocument",
        "Suffix",
        "ErrorDocument",
        "RoutingRules",
        "RoutingRule",
        "Condition",
        "Redirect",
        "HostName",
        "ReplaceKeyPrefixWith",
        "BucketLoggingStatus",
        "LoggingEnabled",
        "TargetBucket",
        "TargetPrefix",
        "TargetObjectKeyFormat",
        "PartitionedPrefix",
    ];
    let token = prop_oneof![
        proptest::sample::select(tags.to_vec()).prop_map(|t| format!("<{t}>")),
        proptest::sample::select(tags.to_vec()).prop_map(|t| format!("</{t}>")),
        proptest::sample::select(tags.to_vec()).prop_map(|t| format!("<{t}/>")),
        "[ -~]{0,10}",
        proptest::sample::select(vec![
            "<?xml version=\"1.0\"?>",
            "<!--",
            "-->",
            "<![CDATA[",
            "]]>",
            "&amp;",
            "&#0;",
            "&bogus;",
            "<",
            ">",
            "\"",
            "\u{feff}",
            "é"
        ])
        .prop_map(str::to_owned),
    ];
    proptest::collection::vec(token, 0..48).prop_map(|t| t.concat())
}

/// TOML-ish text: the config's sections and keys with values of every type, in any order.
fn toml_soup() -> impl Strategy<Value = String> {
    let sections = [
        "[server]",
        "[backend]",
        "[[users]]",
        "[limits]",
        "[tls]",
        "[embedded]",
        "[[users.grants]]",
        "[cors]",
    ];
    let keys = [
        "listen",
        "region",
        "domain",
        "threads",
        "profile",
        "endpoint",
        "kind",
        "access_key",
        "secret_key",
        "secret_key_env",
        "system_bucket",
        "id",
        "bucket",
        "access",
        "connect_timeout_ms",
        "read_timeout_ms",
        "header_read_timeout_seconds",
        "max_connections",
        "certificates",
        "data_dir",
        "admin_listen",
        "state_cache_seconds",
    ];
    let value = prop_oneof![
        "\"[ -~]{0,20}\"",
        "-?[0-9]{1,20}",
        Just("true".to_owned()),
        "\\[(\"[ -~]{0,12}\", ){0,3}\\]",
        Just("{ a = 1 }".to_owned()),
    ];
    let line = prop_oneof![
        proptest::sample::select(sections.to_vec()).prop_map(str::to_owned),
        (proptest::sample::select(keys.to_vec()), value).prop_map(|(k, v)| format!("{k} = {v}")),
        "[ -~]{0,20}",
    ];
    proptest::collection::vec(line, 0..24).prop_map(|l| l.join("\n"))
}

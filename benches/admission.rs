//! Criterion benchmark of the gateway's own work for one request, without a backend:
//! `cargo bench --bench admission`. A header-signed GetObject goes through what admission does
//! on the request path: parse the target, classify the operation, verify the signature (signing
//! key cached, as after the first request of the day), build the forward plan from the
//! allow-listed headers, and re-sign it for the backend. Authorization's inputs come from the
//! state cache (a moka lookup) and the backend call is pingora's, so neither is here. The
//! target of issue 12 is <= 10 us for the whole path.

use std::hint::black_box;
use std::time::SystemTime;

use bucketgate::auth::credentials::{CredentialStore, SecretKey, User};
use bucketgate::auth::sigv4::{self, AuthorizationV4, SignedParts, parse_amz_date};
use bucketgate::s3::op;
use bucketgate::s3::request::{HostRules, S3Request};
use bucketgate::upstream::plan::{self, ForwardPlan};
use bucketgate::upstream::{Backend, BackendConfig, BackendKind};
use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Method};

const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn doc_user() -> User {
    User {
        id: "doc".into(),
        display_name: "doc".into(),
        access_key: "AKIAIOSFODNN7EXAMPLE".into(),
        secret_key: SecretKey::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        grants: Vec::new(),
    }
}

fn backend() -> Backend {
    Backend::new(BackendConfig {
        kind: BackendKind::Rgw,
        capabilities: std::sync::Arc::new(
            bucketgate::upstream::backends::Capabilities::of(BackendKind::Rgw).expect("rgw table"),
        ),
        tls: false,
        host: "127.0.0.1".into(),
        port: 7480,
        region: "us-east-1".into(),
        access_key: "SERVICEKEY".into(),
        secret_key: SecretKey::new("servicesecret"),
        system_bucket: "bucketgate-system".into(),
        connect_timeout_ms: 1000,
        read_timeout_ms: 60_000,
        ca_file: None,
        client_cert: None,
    })
    .expect("a backend at 127.0.0.1")
}

fn bench_admission(c: &mut Criterion) {
    // The AWS documentation's "GET Object" example, virtual-hosted.
    let mut headers = HeaderMap::new();
    headers.insert(
        "host",
        HeaderValue::from_static("examplebucket.s3.amazonaws.com"),
    );
    headers.insert("range", HeaderValue::from_static("bytes=0-9"));
    headers.insert("x-amz-content-sha256", HeaderValue::from_static(EMPTY));
    headers.insert("x-amz-date", HeaderValue::from_static("20130524T000000Z"));
    headers.insert("user-agent", HeaderValue::from_static("aws-sdk-rust/1.0"));
    let authorization = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";
    let now = parse_amz_date("20130524T000000Z").expect("the example's date");
    let rules = HostRules::new("us-east-1", "s3.amazonaws.com");
    let store = CredentialStore::new([doc_user()]);
    let backend = backend();
    let method = Method::GET;

    c.bench_function("admission: parse, classify, verify, plan, re-sign", |b| {
        b.iter(|| {
            let request = S3Request::parse(
                &rules,
                "examplebucket.s3.amazonaws.com",
                black_box("/test.txt"),
                "",
            )
            .expect("parses");
            let op = op::classify(&method, &request, &headers);
            let auth = AuthorizationV4::parse(black_box(authorization)).expect("parses");
            let host_bucket = request.bucket.as_deref();
            let parts = SignedParts {
                method: "GET",
                decoded_path: "/test.txt",
                raw_path: "/test.txt",
                host_bucket,
                query: &request.query,
                headers: &headers,
            };
            let verified =
                sigv4::verify_header(&parts, &auth, EMPTY, &store, now).expect("verifies");
            let mut plan = ForwardPlan::new(op, method.clone(), &request, EMPTY);
            plan.headers = plan::forwarded_headers(&headers, &auth.signed_headers, false, &[])
                .expect("forwardable");
            let mut header = plan.request_header().expect("builds");
            backend
                .resign(&mut header, &plan.payload_hash, SystemTime::now())
                .expect("signs");
            black_box((verified, header))
        })
    });
}

criterion_group!(benches, bench_admission);
criterion_main!(benches);

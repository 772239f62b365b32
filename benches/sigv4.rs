//! Criterion micro-benchmarks of the per-request authentication work:
//! `cargo bench --bench sigv4`.

use std::hint::black_box;
use std::time::SystemTime;

use bucketgate::auth::chunked::{ChunkSigning, ChunkedDecoder};
use bucketgate::auth::credentials::{CredentialStore, SecretKey, User};
use bucketgate::auth::sigv4::{self, AuthorizationV4, SignedParts, hmac_sha256, parse_amz_date};
use bucketgate::s3::uri::Query;
use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};

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

/// The AWS documentation's "GET Object" example (with Range).
fn get_object_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "host",
        HeaderValue::from_static("examplebucket.s3.amazonaws.com"),
    );
    h.insert("range", HeaderValue::from_static("bytes=0-9"));
    h.insert("x-amz-content-sha256", HeaderValue::from_static(EMPTY));
    h.insert("x-amz-date", HeaderValue::from_static("20130524T000000Z"));
    h
}

fn bench_header(c: &mut Criterion) {
    let headers = get_object_headers();
    let query = Query::default();
    let auth = AuthorizationV4::parse("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41").unwrap();
    let now = parse_amz_date("20130524T000000Z").unwrap();
    let parts = SignedParts {
        method: "GET",
        decoded_path: "/test.txt",
        raw_path: "/test.txt",
        host_bucket: None,
        query: &query,
        headers: &headers,
    };
    let cached = CredentialStore::new([doc_user()]);
    let uncached = CredentialStore::uncached([doc_user()]);
    c.bench_function("sigv4 header verify, cached signing key", |b| {
        b.iter(|| sigv4::verify_header(black_box(&parts), &auth, EMPTY, &cached, now).unwrap())
    });
    c.bench_function("sigv4 header verify, uncached signing key", |b| {
        b.iter(|| sigv4::verify_header(black_box(&parts), &auth, EMPTY, &uncached, now).unwrap())
    });
}

fn bench_presigned(c: &mut Criterion) {
    let mut headers = HeaderMap::new();
    headers.insert(
        "host",
        HeaderValue::from_static("examplebucket.s3.amazonaws.com"),
    );
    let query = Query::parse("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404").unwrap();
    let now = parse_amz_date("20130524T010000Z").unwrap();
    let store = CredentialStore::new([doc_user()]);
    c.bench_function(
        "sigv4 presigned verify (query parse included), cached key",
        |b| {
            b.iter(|| {
                let parts = SignedParts {
                    method: "GET",
                    decoded_path: "/test.txt",
                    raw_path: "/test.txt",
                    host_bucket: None,
                    query: &query,
                    headers: &headers,
                };
                sigv4::verify_presigned(black_box(&parts), sigv4::UNSIGNED_PAYLOAD, &store, now)
                    .unwrap()
            })
        },
    );
}

/// The AWS SigV2 documentation's "Object PUT" example.
fn bench_sigv2(c: &mut Criterion) {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("image/jpeg"));
    headers.insert(
        "date",
        HeaderValue::from_static("Tue, 27 Mar 2007 21:15:45 +0000"),
    );
    let query = Query::default();
    let parts = SignedParts {
        method: "PUT",
        decoded_path: "/photos/puppy.jpg",
        raw_path: "/photos/puppy.jpg",
        host_bucket: Some("awsexamplebucket1"),
        query: &query,
        headers: &headers,
    };
    let now = sigv4::parse_date_header("Tue, 27 Mar 2007 21:15:45 +0000").unwrap();
    let store = CredentialStore::new([doc_user()]);
    c.bench_function("sigv2 header verify", |b| {
        b.iter(|| {
            bucketgate::auth::sigv2::verify_header(
                black_box(&parts),
                "AWS AKIAIOSFODNN7EXAMPLE:iqRzw+ileNPu1fhspnRs8nOjjIA=",
                &store,
                now,
            )
            .unwrap()
        })
    });
}

/// 16 MiB in 64 KiB signed chunks (the SDKs' chunk size), fed in 64 KiB pieces that straddle
/// chunk boundaries as network reads do.
fn bench_chunked(c: &mut Criterion) {
    let time: SystemTime = parse_amz_date("20130524T000000Z").unwrap();
    let signing = ChunkSigning {
        signing_key: CredentialStore::signing_key_uncached(&doc_user(), time, "us-east-1", "s3"),
        amz_date: "20130524T000000Z".into(),
        scope: "20130524/us-east-1/s3/aws4_request".into(),
        seed_signature: "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9".into(),
    };
    let total = 16 << 20;
    let data = vec![b'a'; total];
    let mut body = Vec::with_capacity(total + 8192);
    let mut previous = signing.seed_signature.clone();
    for chunk in data.chunks(65536).chain([&[][..]]) {
        let sts = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{previous}\n{EMPTY}\n{}",
            signing.amz_date,
            signing.scope,
            hex::encode(Sha256::digest(chunk))
        );
        let sig = hex::encode(hmac_sha256(&signing.signing_key, sts.as_bytes()));
        body.extend_from_slice(format!("{:x};chunk-signature={sig}\r\n", chunk.len()).as_bytes());
        body.extend_from_slice(chunk);
        body.extend_from_slice(b"\r\n");
        previous = sig;
    }
    let pieces: Vec<Bytes> = body
        .chunks(65536 + 37)
        .map(Bytes::copy_from_slice)
        .collect();
    let mut group = c.benchmark_group("aws-chunked");
    group.throughput(Throughput::Bytes(total as u64));
    group.sample_size(20);
    group.bench_function("signed chunk verification, 64 KiB chunks", |b| {
        b.iter(|| {
            let mut d = ChunkedDecoder::new(Some(signing.clone()), false, None, total as u64);
            let mut n = 0;
            for p in &pieces {
                n += d.feed(p.clone()).unwrap().len();
            }
            n += d.finish().unwrap().len();
            assert_eq!(n, total);
        })
    });
    group.finish();
}

/// 16 MiB of a whole (not aws-chunked) body through the verifier the gateway puts in front of
/// a backend that does not check bodies itself (`backends/<kind>.toml`: SeaweedFS, generic):
/// the signed payload hash and Content-MD5, as the body streams in 64 KiB pieces. Its
/// throughput is the gateway's cost per GB for checking on the backend's behalf.
fn bench_whole_body(c: &mut Criterion) {
    use base64::Engine as _;
    use bucketgate::auth::body::{BodyVerifier, WholeBody};
    let total = 16 << 20;
    let data = vec![b'a'; total];
    let hash = hex::encode(Sha256::digest(&data));
    let md5 =
        base64::engine::general_purpose::STANDARD.encode(<md5::Md5 as md5::Digest>::digest(&data));
    let pieces: Vec<Bytes> = data.chunks(65536).map(Bytes::copy_from_slice).collect();
    let mut group = c.benchmark_group("whole body");
    group.throughput(Throughput::Bytes(total as u64));
    group.sample_size(20);
    for (name, with_md5) in [
        ("signed payload hash", false),
        ("payload hash and Content-MD5", true),
    ] {
        let mut headers = http::HeaderMap::new();
        if with_md5 {
            headers.insert("content-md5", md5.parse().unwrap());
        }
        group.bench_function(name, |b| {
            b.iter(|| {
                let whole = WholeBody::new(&headers, Some(&hash), with_md5)
                    .unwrap()
                    .unwrap();
                let mut v = BodyVerifier::Whole(Box::new(whole));
                let mut n = 0;
                let last = pieces.len() - 1;
                for (i, p) in pieces.iter().enumerate() {
                    n += v
                        .filter(Some(p.clone()), i == last)
                        .unwrap()
                        .map_or(0, |b| b.len());
                }
                assert_eq!(n, total);
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    bench_header,
    bench_presigned,
    bench_sigv2,
    bench_chunked,
    bench_whole_body
);
criterion_main!(benches);

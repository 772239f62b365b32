//! Issue 10, "The backend does only what the gateway decided": each defect class tried as an
//! attacker would, with two ordinary users (main, alt) against the gateway over Ceph RGW.
//!
//! Raw signed requests (`sign_headers`) stand in for what no client sends; aws-sdk-s3 does the
//! rest. Tests that look at what the backend received run their own gateway behind a recording
//! relay (`common::relay`), whose view is checked by `assert_backend_view_clean`.

mod common;

use std::process::Command;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLoggingStatus, IndexDocument, LoggingEnabled, ObjectCannedAcl, WebsiteConfiguration,
};
use common::relay::{Relay, assert_backend_view_clean, assert_backend_view_clean_with};
use common::*;

/// What main keeps private; it must never show up anywhere alt (or anyone) can read it.
const SECRET: &[u8] = b"main's private secret: 7f3a9c1e-do-not-leak";
const DECOY: &[u8] = b"decoy";

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(data))
}

fn md5_base64(data: &[u8]) -> String {
    use base64::Engine;
    use md5::Digest;
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(data))
}

/// Removes the test's buckets (all named `bucket_name(tag)-…`) from the backend when dropped,
/// pass or fail, so repeated runs stay under the bucket limits.
struct Cleanup(String);

impl Cleanup {
    fn new(tag: &str) -> Cleanup {
        Cleanup(bucket_name(tag))
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        remove_backend_buckets(std::slice::from_ref(&self.0), std::slice::from_ref(&self.0));
    }
}

/// A gateway of the test's own behind a recording relay, keeping its state in a system bucket
/// of its own, with clients for main and alt.
struct Env {
    gw: Gateway,
    relay: Relay,
    main: Client,
    alt: Client,
    tag: String,
    /// This gateway's system bucket.
    system: String,
    _cleanup: Cleanup,
}

impl Env {
    /// A bucket name of this test.
    fn name(&self, suffix: &str) -> String {
        bucket_name(&format!("{}-{suffix}", self.tag))
    }
}

fn env(tag: &str) -> Env {
    env_with(tag, "")
}

fn env_with(tag: &str, extra: &str) -> Env {
    let cleanup = Cleanup::new(tag);
    let system = bucket_name(&format!("{tag}-sys"));
    let (gw, relay) =
        spawn_gateway_with_relay_using(|config| with_system_bucket(&config, &system) + extra);
    let main = client_for(&gw, MAIN);
    let alt = client_for(&gw, ALT);
    Env {
        gw,
        relay,
        main,
        alt,
        tag: tag.to_owned(),
        system,
        _cleanup: cleanup,
    }
}

/// main's bucket holding a private `secret.txt`, and alt's (empty) bucket.
async fn buckets(e: &Env) -> (String, String) {
    let (mb, ab) = (e.name("m"), e.name("a"));
    e.main.create_bucket().bucket(&mb).send().await.unwrap();
    e.main
        .put_object()
        .bucket(&mb)
        .key("secret.txt")
        .body(ByteStream::from_static(SECRET))
        .send()
        .await
        .unwrap();
    e.alt.create_bucket().bucket(&ab).send().await.unwrap();
    (mb, ab)
}

/// The bytes of an object as `c` reads them, `None` if it cannot.
async fn read(c: &Client, bucket: &str, key: &str) -> Option<Vec<u8>> {
    let got = c.get_object().bucket(bucket).key(key).send().await.ok()?;
    Some(got.body.collect().await.ok()?.into_bytes().to_vec())
}

/// Asserts `bucket/key` (read by `c`) does not hold main's secret.
async fn assert_no_secret(c: &Client, bucket: &str, key: &str, context: &str) {
    let got = read(c, bucket, key).await;
    assert!(
        got.as_deref() != Some(SECRET),
        "{context}: main's private object was copied into {bucket}/{key}"
    );
}

/// A request signed (SigV4 header, payload hash signed) by `keys`: the `signed` headers are
/// covered by the signature, the `unsigned` ones are added after signing.
#[allow(clippy::too_many_arguments)]
fn signed_request(
    gw: &Gateway,
    keys: (&str, &str),
    method: &str,
    target: &str,
    signed: &[(&str, &str)],
    unsigned: &[(&str, &str)],
    payload_hash: &str,
    body: &[u8],
) -> (u16, String, String) {
    let host = gw.addr.to_string();
    let mut headers = sign_headers(
        method,
        &host,
        target,
        signed,
        payload_hash,
        SystemTime::now(),
        keys,
    );
    headers.push(("host".into(), host));
    for (n, v) in signed.iter().chain(unsigned) {
        headers.push((n.to_string(), v.to_string()));
    }
    if !body.is_empty() || matches!(method, "PUT" | "POST") {
        headers.push(("content-length".into(), body.len().to_string()));
    }
    raw_request(gw.addr, &format_request(method, target, &headers, body))
}

/// [`signed_request`] with the body's own hash.
fn signed(
    gw: &Gateway,
    keys: (&str, &str),
    method: &str,
    target: &str,
    signed_headers: &[(&str, &str)],
    unsigned: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, String) {
    signed_request(
        gw,
        keys,
        method,
        target,
        signed_headers,
        unsigned,
        &sha256_hex(body),
        body,
    )
}

/// An unsigned request with `headers`.
fn anonymous(
    gw: &Gateway,
    method: &str,
    target: &str,
    extra: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, String) {
    let mut headers = vec![("host".to_owned(), gw.addr.to_string())];
    headers.extend(extra.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    if !body.is_empty() || matches!(method, "PUT" | "POST") {
        headers.push(("content-length".into(), body.len().to_string()));
    }
    raw_request(gw.addr, &format_request(method, target, &headers, body))
}

fn code(body: &str) -> Option<&str> {
    xml_tag(body, "Code")
}

fn allow_everyone_policy(bucket: &str, actions: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"open","Effect":"Allow","Principal":"*","Action":{actions},"Resource":["arn:aws:s3:::{bucket}","arn:aws:s3:::{bucket}/*"]}}]}}"#
    )
}

// ---------------------------------------------------------------------------------------------
// The harness itself.

/// The relay records what the backend receives: SDK requests on kept-alive connections, an
/// aws-chunked upload (forwarded decoded, with a length), and a raw `Expect: 100-continue` PUT
/// whose body follows the backend's `100 Continue`. (Not a defect: it fails if the relay breaks.)
#[tokio::test]
async fn relay_records_the_backend_view() {
    let e = env("relay-self");
    let b = e.name("b");
    e.main.create_bucket().bucket(&b).send().await.unwrap();
    e.relay.clear();
    e.main
        .put_object()
        .bucket(&b)
        .key("sdk.txt")
        .body(ByteStream::from_static(b"through the sdk"))
        .send()
        .await
        .unwrap();
    let host = e.gw.addr.to_string();
    let path = format!("/{b}/continued.txt");
    let body = b"sent after 100-continue";
    let mut headers = sign_headers(
        "PUT",
        &host,
        &path,
        &[],
        "UNSIGNED-PAYLOAD",
        SystemTime::now(),
        MAIN,
    );
    headers.push(("host".into(), host.clone()));
    headers.push(("content-length".into(), body.len().to_string()));
    headers.push(("expect".into(), "100-continue".into()));
    {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(e.gw.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(&format_request("PUT", &path, &headers, b""))
            .unwrap();
        let mut interim = [0u8; 25];
        s.read_exact(&mut interim).unwrap();
        assert!(interim.starts_with(b"HTTP/1.1 100"));
        s.write_all(body).unwrap();
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        assert!(String::from_utf8_lossy(&rest).contains(" 200 "));
    }
    for key in ["sdk.txt", "continued.txt"] {
        assert!(read(&e.main, &b, key).await.is_some(), "{key}");
    }
    let heads = e.relay.heads();
    let seen: Vec<String> = heads
        .iter()
        .filter(|h| h.path().starts_with(&format!("/{b}/")))
        .map(|h| format!("{} {}", h.method, h.path()))
        .collect();
    assert_eq!(
        seen,
        [
            format!("PUT /{b}/sdk.txt"),
            format!("PUT /{b}/continued.txt"),
            format!("GET /{b}/sdk.txt"),
            format!("GET /{b}/continued.txt"),
        ],
        "{heads:#?}"
    );
    assert!(
        heads.iter().all(|h| h
            .header("authorization")
            .is_some_and(|a| a.contains(BACKEND_ACCESS_KEY))),
        "every backend request is signed with the service credential"
    );
    assert_eq!(e.relay.parse_errors(), Vec::<String>::new());
}

/// The forward plan's allow-list, seen from the backend: ordinary SDK traffic (PUT with
/// checksums, GET, HEAD, listing, copy, tagging, multipart) reaches the backend with no
/// `x-amz-*` header outside the allow-list. Checks the allow-list against real clients, and
/// that the gateway forwards only what it understood.
#[tokio::test]
async fn ordinary_sdk_traffic_has_a_clean_backend_view() {
    let e = env("clean-view");
    let b = e.name("b");
    let c = &e.main;
    c.create_bucket().bucket(&b).send().await.unwrap();
    c.put_object()
        .bucket(&b)
        .key("a.txt")
        .content_type("text/plain")
        .metadata("origin", "sdk")
        .tagging("k=v")
        .body(ByteStream::from_static(b"hello"))
        .send()
        .await
        .unwrap();
    c.put_object()
        .bucket(&b)
        .key("public.txt")
        .acl(ObjectCannedAcl::PublicRead)
        .body(ByteStream::from_static(b"public"))
        .send()
        .await
        .unwrap();
    read(c, &b, "a.txt").await.unwrap();
    c.head_object()
        .bucket(&b)
        .key("a.txt")
        .send()
        .await
        .unwrap();
    c.list_objects_v2().bucket(&b).send().await.unwrap();
    c.copy_object()
        .bucket(&b)
        .key("b.txt")
        .copy_source(format!("{b}/a.txt"))
        .send()
        .await
        .unwrap();
    c.get_object_tagging()
        .bucket(&b)
        .key("a.txt")
        .send()
        .await
        .unwrap();
    let up = c
        .create_multipart_upload()
        .bucket(&b)
        .key("mpu.bin")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let part = c
        .upload_part()
        .bucket(&b)
        .key("mpu.bin")
        .upload_id(id)
        .part_number(1)
        .body(ByteStream::from_static(b"part"))
        .send()
        .await
        .unwrap();
    c.complete_multipart_upload()
        .bucket(&b)
        .key("mpu.bin")
        .upload_id(id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .parts(
                    aws_sdk_s3::types::CompletedPart::builder()
                        .part_number(1)
                        .e_tag(part.e_tag().unwrap())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    c.delete_object()
        .bucket(&b)
        .key("b.txt")
        .send()
        .await
        .unwrap();
    assert_backend_view_clean_with(&e.relay.heads(), true);
}

// ---------------------------------------------------------------------------------------------
// Class 1: header names with `_`.

/// Class 1 (underscore headers): an unsigned `x_amz_copy_source` on alt's PutObject into its own
/// bucket. RGW reads `_` as `-` and would copy main's private object with the service
/// credential; the gateway must never let a header name with `_` reach the backend.
#[tokio::test]
async fn class1_underscore_copy_source_on_put_object() {
    let e = env("c1-put");
    let (mb, ab) = buckets(&e).await;
    e.relay.clear();
    let source = format!("/{mb}/secret.txt");
    let (status, head, body) = signed(
        &e.gw,
        ALT,
        "PUT",
        &format!("/{ab}/stolen.txt"),
        &[],
        &[("x_amz_copy_source", &source)],
        b"",
    );
    let heads = e.relay.heads();
    assert_no_secret(
        &e.alt,
        &ab,
        "stolen.txt",
        &format!("PUT answered {status}\n{head}\n{body}"),
    )
    .await;
    assert_backend_view_clean(&heads);
}

/// Class 1 (underscore headers): the same through UploadPart of an upload alt created: the part
/// must not become main's object (no UploadPartCopy behind the gateway's back).
#[tokio::test]
async fn class1_underscore_copy_source_on_upload_part() {
    let e = env("c1-part");
    let (mb, ab) = buckets(&e).await;
    let upload = e
        .alt
        .create_multipart_upload()
        .bucket(&ab)
        .key("parts.txt")
        .send()
        .await
        .unwrap();
    let id = upload.upload_id().unwrap().to_owned();
    e.relay.clear();
    let source = format!("/{mb}/secret.txt");
    let (status, head, body) = signed(
        &e.gw,
        ALT,
        "PUT",
        &format!("/{ab}/parts.txt?partNumber=1&uploadId={id}"),
        &[],
        &[("x_amz_copy_source", &source)],
        b"",
    );
    let heads = e.relay.heads();
    let parts = e
        .alt
        .list_parts()
        .bucket(&ab)
        .key("parts.txt")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    if !parts.parts().is_empty() {
        let completed = aws_sdk_s3::types::CompletedMultipartUpload::builder()
            .set_parts(Some(
                parts
                    .parts()
                    .iter()
                    .map(|p| {
                        aws_sdk_s3::types::CompletedPart::builder()
                            .part_number(p.part_number().unwrap())
                            .e_tag(p.e_tag().unwrap())
                            .build()
                    })
                    .collect(),
            ))
            .build();
        let sizes: Vec<Option<i64>> = parts.parts().iter().map(|p| p.size()).collect();
        assert!(
            !sizes.contains(&Some(SECRET.len() as i64)),
            "the part is a copy of main's object ({status}): {sizes:?}\n{head}\n{body}"
        );
        // An empty single part may not complete; what matters is what the object would hold.
        let _ = e
            .alt
            .complete_multipart_upload()
            .bucket(&ab)
            .key("parts.txt")
            .upload_id(&id)
            .multipart_upload(completed)
            .send()
            .await;
        assert_no_secret(
            &e.alt,
            &ab,
            "parts.txt",
            &format!("UploadPart answered {status}\n{head}\n{body}"),
        )
        .await;
    }
    assert_backend_view_clean(&heads);
}

/// Class 1 (underscore headers): spellings of the gateway's ACL metadata and of backend ACL
/// headers. Signed ones (`x-amz-meta-bucketgate_acl`, `x-amz-grant_read`) must be refused with
/// 400 InvalidArgument, unsigned `x-amz_acl` dropped: either way the objects stay private to
/// anonymous readers and the backend never sees such a header.
#[tokio::test]
async fn class1_underscore_acl_spellings_do_not_publish() {
    let e = env("c1-acl");
    let (_, ab) = buckets(&e).await;
    e.relay.clear();
    let all_users = "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"";
    let mut problems = Vec::new();
    for (key, signed_headers, unsigned, refused) in [
        (
            "meta.txt",
            vec![("x-amz-meta-bucketgate_acl", "public-read")],
            vec![],
            true,
        ),
        ("acl.txt", vec![], vec![("x-amz_acl", "public-read")], false),
        (
            "grant.txt",
            vec![("x-amz-grant_read", all_users)],
            vec![],
            true,
        ),
    ] {
        let (status, _, body) = signed(
            &e.gw,
            ALT,
            "PUT",
            &format!("/{ab}/{key}"),
            &signed_headers,
            &unsigned,
            b"underscore spelling",
        );
        let anon = anonymous(&e.gw, "GET", &format!("/{ab}/{key}"), &[], b"").0;
        if anon != 403 {
            problems.push(format!(
                "{key}: anonymous GET answered {anon} (PUT answered {status})"
            ));
        }
        if refused && (status, code(&body)) != (400, Some("InvalidArgument")) {
            problems.push(format!(
                "{key}: a signed header name with '_' answered {status} {:?}, not 400 InvalidArgument",
                code(&body)
            ));
        }
    }
    problems.extend(common::relay::backend_view_problems(
        &e.relay.heads(),
        false,
    ));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Class 1 (underscore headers): a header name with `_` that the client signed is refused with
/// 400 InvalidArgument before anything reaches the backend; nothing is copied.
#[tokio::test]
async fn class1_signed_underscore_header_is_invalid_argument() {
    let e = env("c1-signed");
    let (mb, ab) = buckets(&e).await;
    e.relay.clear();
    let source = format!("/{mb}/secret.txt");
    let (status, head, body) = signed(
        &e.gw,
        ALT,
        "PUT",
        &format!("/{ab}/signed.txt"),
        &[("x_amz_copy_source", &source)],
        &[],
        b"",
    );
    let heads = e.relay.heads();
    assert_no_secret(
        &e.alt,
        &ab,
        "signed.txt",
        &format!("{status}\n{head}\n{body}"),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (400, Some("InvalidArgument")),
        "{head}\n{body}"
    );
    assert_backend_view_clean(&heads);
}

/// Class 1 (underscore headers): a signed `x-amz-bucket-object-lock_enabled` on CreateBucket
/// (object lock is outside the profile) is 400 InvalidArgument and never reaches the backend.
#[tokio::test]
async fn class1_underscore_object_lock_on_create_bucket() {
    let e = env("c1-lock");
    let b = e.name("b");
    e.relay.clear();
    let (status, _, body) = signed(
        &e.gw,
        ALT,
        "PUT",
        &format!("/{b}"),
        &[("x-amz-bucket-object-lock_enabled", "true")],
        &[],
        b"",
    );
    let mut problems = common::relay::backend_view_problems(&e.relay.heads(), false);
    if (status, code(&body)) != (400, Some("InvalidArgument")) {
        problems.push(format!(
            "CreateBucket answered {status}, not 400 InvalidArgument: {body}"
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Class 2: a copy source that is not valid UTF-8 once decoded.

/// Class 2 (copy source parsing): `x-amz-copy-source: /<main's bucket>/secret.txt?x=%FF` is
/// malformed (not UTF-8 after decoding): 400 InvalidArgument, nothing copied, nothing forwarded
/// as a copy.
#[tokio::test]
async fn class2_undecodable_copy_source_is_invalid_argument() {
    let e = env("c2");
    let (mb, ab) = buckets(&e).await;
    e.relay.clear();
    let source = format!("/{mb}/secret.txt?x=%FF");
    let (status, head, body) = signed(
        &e.gw,
        ALT,
        "PUT",
        &format!("/{ab}/copied.txt"),
        &[
            ("x-amz-copy-source", &source),
            ("x-amz-metadata-directive", "REPLACE"),
        ],
        &[],
        b"",
    );
    let heads = e.relay.heads();
    assert_no_secret(
        &e.alt,
        &ab,
        "copied.txt",
        &format!("{status}\n{head}\n{body}"),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (400, Some("InvalidArgument")),
        "{head}\n{body}"
    );
    let copies: Vec<String> = heads
        .iter()
        .filter(|h| h.header("x-amz-copy-source").is_some())
        .map(|h| h.summary())
        .collect();
    assert!(copies.is_empty(), "a copy reached the backend: {copies:#?}");
}

// ---------------------------------------------------------------------------------------------
// Class 3: anonymous requests allowed by a bucket policy.

/// Class 3 (policy-allowed anonymous requests): alt lets anyone `s3:PutObject` into its own
/// bucket; an anonymous CopyObject naming main's private object, or a state document in the
/// system bucket, is still refused and copies nothing.
#[tokio::test]
async fn class3_anonymous_copy_under_an_allowing_policy() {
    let e = env("c3-copy");
    let (mb, ab) = buckets(&e).await;
    e.alt
        .put_bucket_policy()
        .bucket(&ab)
        .policy(allow_everyone_policy(
            &ab,
            r#"["s3:PutObject","s3:GetBucketAcl"]"#,
        ))
        .send()
        .await
        .unwrap();
    // The policy works: anyone may put a plain object.
    let (status, _, body) = anonymous(&e.gw, "PUT", &format!("/{ab}/plain.txt"), &[], b"plain");
    assert_eq!(
        status, 200,
        "the policy admits an anonymous PutObject: {body}"
    );

    let source = format!("/{mb}/secret.txt");
    let (status, head, body) = anonymous(
        &e.gw,
        "PUT",
        &format!("/{ab}/anon-copy.txt"),
        &[("x-amz-copy-source", &source)],
        b"",
    );
    assert_no_secret(
        &e.alt,
        &ab,
        "anon-copy.txt",
        &format!("{status}\n{head}\n{body}"),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (403, Some("AccessDenied")),
        "{head}\n{body}"
    );

    let state = format!("/{}/buckets/{mb}", e.system);
    let (status, head, body) = anonymous(
        &e.gw,
        "PUT",
        &format!("/{ab}/state-copy.txt"),
        &[("x-amz-copy-source", &state)],
        b"",
    );
    let copied = read(&e.alt, &ab, "state-copy.txt").await;
    assert!(
        copied.is_none(),
        "the gateway's state document was copied into alt's bucket ({status}): {:?}",
        copied.map(|c| String::from_utf8_lossy(&c).into_owned())
    );
    assert!(
        matches!(status, 403 | 404),
        "copy from the system bucket answered {status}\n{head}\n{body}"
    );
}

/// Class 3 (policy-allowed anonymous requests): an anonymous GetBucketAcl that alt's policy
/// allows is an operation the gateway serves itself: it is answered by the gateway and never
/// forwarded to the backend (whose own ACL document would come back).
#[tokio::test]
async fn class3_anonymous_get_bucket_acl_is_served_by_the_gateway() {
    let e = env("c3-acl");
    let (_, ab) = buckets(&e).await;
    e.alt
        .put_bucket_policy()
        .bucket(&ab)
        .policy(allow_everyone_policy(
            &ab,
            r#"["s3:PutObject","s3:GetBucketAcl"]"#,
        ))
        .send()
        .await
        .unwrap();
    e.relay.clear();
    let (status, _, body) = anonymous(&e.gw, "GET", &format!("/{ab}?acl"), &[], b"");
    let forwarded: Vec<String> = e
        .relay
        .heads()
        .iter()
        .filter(|h| h.has_query_param("acl"))
        .map(|h| h.summary())
        .collect();
    assert!(
        forwarded.is_empty(),
        "GetBucketAcl reached the backend (answered {status}: {body}): {forwarded:#?}"
    );
    assert!(
        !body.contains(BACKEND_ACCESS_KEY),
        "the backend's ACL document leaked: {body}"
    );
}

// ---------------------------------------------------------------------------------------------
// Class 4: presigned URLs and unsigned x-amz-* headers.

/// Class 4 (presigned URLs): whoever holds main's presigned PUT for one key adds unsigned
/// `x-amz-copy-source` (main's private object) and `x-amz-acl: public-read`. Unsigned `x-amz-*`
/// headers are refused on presigned requests as on header-signed ones: 403 AccessDenied,
/// nothing stored, nothing published.
#[tokio::test]
async fn class4_presigned_put_refuses_unsigned_amz_headers() {
    let e = env("c4");
    let (mb, _) = buckets(&e).await;
    let presign = |key: &'static str| {
        let c = e.main.clone();
        let mb = mb.clone();
        async move {
            c.put_object()
                .bucket(&mb)
                .key(key)
                .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap())
                .await
                .unwrap()
        }
    };
    let source = format!("/{mb}/secret.txt");
    for (key, extra) in [
        (
            "upload.txt",
            vec![
                ("x-amz-copy-source", source.as_str()),
                ("x-amz-acl", "public-read"),
            ],
        ),
        ("acl-only.txt", vec![("x-amz-acl", "public-read")]),
    ] {
        let url = presign(key).await;
        let uri: http::Uri = url.uri().parse().unwrap();
        let target = uri.path_and_query().unwrap().as_str().to_owned();
        let mut headers: Vec<(String, String)> = url
            .headers()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        headers.push(("host".into(), e.gw.addr.to_string()));
        headers.push(("content-length".into(), DECOY.len().to_string()));
        headers.extend(extra.iter().map(|(n, v)| (n.to_string(), v.to_string())));
        let (status, head, body) =
            raw_request(e.gw.addr, &format_request("PUT", &target, &headers, DECOY));
        let anon = anonymous(&e.gw, "GET", &format!("/{mb}/{key}"), &[], b"");
        assert!(
            anon.2.as_bytes() != SECRET,
            "{key}: main's secret is public through the presigned URL ({status}): {}",
            anon.2
        );
        assert_eq!(anon.0, 403, "{key}: the object became public ({status})");
        assert_eq!(
            (status, code(&body)),
            (403, Some("AccessDenied")),
            "{key}: {head}\n{body}"
        );
        assert_eq!(
            read(&e.main, &mb, key).await,
            None,
            "{key}: something was stored"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Class 5: bodies the gateway reads itself.

const DENY_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::BUCKET","arn:aws:s3:::BUCKET/*"]}]}"#;

/// Class 5 (consumed bodies): PutBucketPolicy signed over a Deny document but carrying an
/// "Allow everyone s3:*" body is 400 XAmzContentSHA256Mismatch, and no policy is stored.
#[tokio::test]
async fn class5_policy_body_must_match_the_signed_hash() {
    let e = env("c5-policy");
    let (mb, _) = buckets(&e).await;
    let signed_doc = DENY_ALL.replace("BUCKET", &mb);
    let sent = allow_everyone_policy(&mb, r#""s3:*""#);
    let md5 = md5_base64(sent.as_bytes());
    let (status, head, body) = signed_request(
        &e.gw,
        MAIN,
        "PUT",
        &format!("/{mb}?policy"),
        &[("content-md5", &md5)],
        &[],
        &sha256_hex(signed_doc.as_bytes()),
        sent.as_bytes(),
    );
    let stored = e.main.get_bucket_policy().bucket(&mb).send().await;
    let anon = anonymous(&e.gw, "GET", &format!("/{mb}/secret.txt"), &[], b"").0;
    assert_eq!(
        (status, code(&body)),
        (400, Some("XAmzContentSHA256Mismatch")),
        "{head}\n{body}"
    );
    let err = stored.expect_err("a policy was stored from a body nobody signed");
    assert_eq!(err.code(), Some("NoSuchBucketPolicy"));
    assert_eq!(anon, 403);
}

const CORS_SIGNED: &str = r#"<CORSConfiguration><CORSRule><AllowedOrigin>https://app.example.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>"#;
const CORS_SENT: &str = r#"<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod><AllowedMethod>DELETE</AllowedMethod><AllowedHeader>*</AllowedHeader></CORSRule></CORSConfiguration>"#;

/// Class 5 (consumed bodies): PutBucketCors whose body is not the one signed is 400
/// XAmzContentSHA256Mismatch, and no CORS configuration is stored.
#[tokio::test]
async fn class5_cors_body_must_match_the_signed_hash() {
    let e = env("c5-cors");
    let (mb, _) = buckets(&e).await;
    let md5 = md5_base64(CORS_SENT.as_bytes());
    let (status, head, body) = signed_request(
        &e.gw,
        MAIN,
        "PUT",
        &format!("/{mb}?cors"),
        &[("content-md5", &md5)],
        &[],
        &sha256_hex(CORS_SIGNED.as_bytes()),
        CORS_SENT.as_bytes(),
    );
    let stored = e.main.get_bucket_cors().bucket(&mb).send().await;
    assert_eq!(
        (status, code(&body)),
        (400, Some("XAmzContentSHA256Mismatch")),
        "{head}\n{body}"
    );
    let err = stored.expect_err("a CORS configuration was stored from a body nobody signed");
    assert_eq!(err.code(), Some("NoSuchCORSConfiguration"));
}

/// Class 5 (consumed bodies): PutBucketCors with a wrong Content-MD5 (the body's hash signed
/// correctly) is 400 BadDigest, and no CORS configuration is stored.
#[tokio::test]
async fn class5_cors_content_md5_is_checked() {
    let e = env("c5-md5");
    let (mb, _) = buckets(&e).await;
    let wrong = md5_base64(b"something else");
    let (status, head, body) = signed(
        &e.gw,
        MAIN,
        "PUT",
        &format!("/{mb}?cors"),
        &[("content-md5", &wrong)],
        &[],
        CORS_SENT.as_bytes(),
    );
    let stored = e.main.get_bucket_cors().bucket(&mb).send().await;
    assert_eq!(
        (status, code(&body)),
        (400, Some("BadDigest")),
        "{head}\n{body}"
    );
    let err = stored.expect_err("a CORS configuration was stored despite a wrong Content-MD5");
    assert_eq!(err.code(), Some("NoSuchCORSConfiguration"));
}

// ---------------------------------------------------------------------------------------------
// Class 6: browser POST.

/// boto3's `generate_presigned_post` against `endpoint` for `keys`: (url, fields).
fn presigned_post(
    endpoint: &str,
    keys: (&str, &str),
    bucket: &str,
    key: &str,
    fields: &str,
    conditions: &str,
) -> (String, Vec<(String, String)>) {
    let script = r#"
import sys, json, boto3
from botocore.client import Config
endpoint, ak, sk, bucket, key, fields, conditions = sys.argv[1:8]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="nyc3", aws_access_key_id=ak,
                  aws_secret_access_key=sk, config=Config(signature_version="s3v4"))
post = s3.generate_presigned_post(bucket, key, Fields=json.loads(fields), Conditions=json.loads(conditions), ExpiresIn=300)
print(post["url"])
for k, v in post["fields"].items():
    print(f"{k}={v}")
"#;
    let out = Command::new("python3")
        .args([
            "-c", script, endpoint, keys.0, keys.1, bucket, key, fields, conditions,
        ])
        .output()
        .expect("python3 with boto3 (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let url = lines.next().unwrap().to_owned();
    let fields = lines
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    (url, fields)
}

/// Posts the form with curl, fields in the order given, the file last: (status, response).
fn post_form(url: &str, fields: &[(String, String)], data: &[u8]) -> (u16, String) {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("security-post");
    std::fs::create_dir_all(&dir).unwrap();
    // One file per call: the tests of this binary run at once, and curl reads the file when
    // it sends the form.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!("upload-{}-{call}.bin", std::process::id()));
    std::fs::write(&path, data).unwrap();
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-i", "-X", "POST", "-H", "Expect:"]);
    for (k, v) in fields {
        cmd.arg("--form-string").arg(format!("{k}={v}"));
    }
    cmd.arg("-F")
        .arg(format!("file=@{}", path.display()))
        .arg(url);
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

async fn main_bucket(e: &Env) -> String {
    let b = e.name("b");
    e.main.create_bucket().bucket(&b).send().await.unwrap();
    b
}

/// Class 6 (browser POST): a form with the `key` field twice is refused (400 InvalidArgument)
/// and stores nothing under either key: the policy and the store must not see different keys.
#[tokio::test]
async fn class6_post_with_a_duplicated_key_field() {
    let e = env("c6-dup");
    let b = main_bucket(&e).await;
    let (url, fields) = presigned_post(&e.gw.endpoint(), MAIN, &b, "first.txt", "{}", "[]");
    let mut forged = Vec::new();
    for (k, v) in fields {
        let is_key = k == "key";
        forged.push((k, v));
        if is_key {
            forged.push(("key".into(), "second.txt".into()));
        }
    }
    let (status, text) = post_form(&url, &forged, b"posted twice");
    let first = read(&e.main, &b, "first.txt").await;
    let second = read(&e.main, &b, "second.txt").await;
    assert_eq!(
        (first.is_some(), second.is_some()),
        (false, false),
        "stored under first.txt/second.txt ({status})"
    );
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("<Code>InvalidArgument</Code>"), "{text}");
}

/// Class 6 (browser POST): the bucket policy applies to POST uploads: an explicit Deny on
/// `s3:PutObject` for everyone stops even the owner's form (403 AccessDenied).
#[tokio::test]
async fn class6_post_obeys_an_explicit_deny() {
    let e = env("c6-deny");
    let b = main_bucket(&e).await;
    e.main
        .put_bucket_policy()
        .bucket(&b)
        .policy(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::{b}/*"}}]}}"#
        ))
        .send()
        .await
        .unwrap();
    let err = e
        .main
        .put_object()
        .bucket(&b)
        .key("put.txt")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some("AccessDenied"),
        "the Deny works on PutObject"
    );
    let (url, fields) = presigned_post(&e.gw.endpoint(), MAIN, &b, "posted.txt", "{}", "[]");
    let (status, text) = post_form(&url, &fields, b"posted despite the deny");
    assert_eq!(
        read(&e.main, &b, "posted.txt").await,
        None,
        "stored despite the Deny ({status})"
    );
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("<Code>AccessDenied</Code>"), "{text}");
}

/// Class 6 (browser POST): the form's `acl=public-read` becomes the gateway's ACL (the object is
/// anonymously readable through the gateway) and never a backend ACL (`x-amz-acl`).
#[tokio::test]
async fn class6_post_acl_field_is_the_gateways_acl() {
    let e = env("c6-acl");
    let b = main_bucket(&e).await;
    let (url, fields) = presigned_post(
        &e.gw.endpoint(),
        MAIN,
        &b,
        "public.txt",
        r#"{"acl": "public-read"}"#,
        r#"[{"acl": "public-read"}]"#,
    );
    e.relay.clear();
    let (status, text) = post_form(&url, &fields, b"public by form");
    assert_eq!(status, 204, "{text}");
    let heads = e.relay.heads();
    let (anon, _, body) = anonymous(&e.gw, "GET", &format!("/{b}/public.txt"), &[], b"");
    assert_eq!(
        (anon, body.as_str()),
        (200, "public by form"),
        "acl=public-read in the form did not make the object public through the gateway"
    );
    assert_backend_view_clean_with(&heads, true);
}

/// Class 6 (browser POST): a form field named like the gateway's ACL metadata
/// (`x-amz-meta-bucketgate-acl: public-read`) never sets it: the object stays private.
#[tokio::test]
async fn class6_post_cannot_set_the_acl_metadata() {
    let e = env("c6-meta");
    let b = main_bucket(&e).await;
    let (url, fields) = presigned_post(
        &e.gw.endpoint(),
        MAIN,
        &b,
        "private.txt",
        r#"{"x-amz-meta-bucketgate-acl": "public-read"}"#,
        r#"[{"x-amz-meta-bucketgate-acl": "public-read"}]"#,
    );
    e.relay.clear();
    let (status, _) = post_form(&url, &fields, b"private by default");
    let heads = e.relay.heads();
    let (anon, _, body) = anonymous(&e.gw, "GET", &format!("/{b}/private.txt"), &[], b"");
    assert_eq!(
        anon, 403,
        "the form field published the object (POST answered {status}): {body}"
    );
    assert_backend_view_clean(&heads);
}

// ---------------------------------------------------------------------------------------------
// Class 7: the system bucket name.

/// Class 7 (system bucket): on a backend where the gateway's system bucket does not exist yet,
/// alt's CreateBucket of that name is 409 BucketAlreadyExists; main can still create buckets,
/// and alt can read no state.
#[tokio::test]
async fn class7_the_system_bucket_name_is_reserved() {
    let _cleanup = Cleanup::new("c7");
    let system = bucket_name("c7-system");
    let backend = backend_endpoint();
    let gw = spawn_gateway(|port| with_system_bucket(&config_text(port, &backend, ""), &system));
    let (main, alt) = (client_for(&gw, MAIN), client_for(&gw, ALT));
    let taken = alt.create_bucket().bucket(&system).send().await;
    let mine = bucket_name("c7-main");
    main.create_bucket()
        .bucket(&mine)
        .send()
        .await
        .expect("main can still create a bucket");
    let listing = alt.list_objects_v2().bucket(&system).send().await;
    let record = read(&alt, &system, &format!("buckets/{mine}")).await;
    let listed = alt.list_buckets().send().await.unwrap();
    assert!(
        listing.is_err(),
        "alt lists the gateway's state: {:?}",
        listing.as_ref().ok().map(|l| l
            .contents()
            .iter()
            .filter_map(|o| o.key())
            .collect::<Vec<_>>())
    );
    assert_eq!(
        record.map(|r| String::from_utf8_lossy(&r).into_owned()),
        None,
        "alt reads main's bucket record"
    );
    assert!(
        !listed.buckets().iter().any(|b| b.name() == Some(&system)),
        "alt owns the system bucket"
    );
    let err = taken.expect_err("alt created the system bucket");
    assert_eq!(
        (
            err.raw_response().map(|r| r.status().as_u16()),
            err.code().map(str::to_owned)
        ),
        (Some(409), Some("BucketAlreadyExists".to_owned()))
    );
}

// ---------------------------------------------------------------------------------------------
// Class 8: access-log targets.

fn logging(target: &str, prefix: &str) -> BucketLoggingStatus {
    BucketLoggingStatus::builder()
        .logging_enabled(
            LoggingEnabled::builder()
                .target_bucket(target)
                .target_prefix(prefix)
                .build()
                .unwrap(),
        )
        .build()
}

async fn count_objects(c: &Client, bucket: &str) -> Option<usize> {
    c.list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .ok()
        .map(|l| l.contents().len())
}

/// Class 8 (access logs): main's bucket S logs to main's T; main deletes T and alt creates a
/// bucket of that name: main's logs (with request URIs, presigned ones included) must not be
/// delivered to alt.
#[tokio::test]
async fn class8_logs_never_reach_a_new_owner_of_the_target_name() {
    let backend = backend_endpoint();
    let _cleanup = Cleanup::new("c8");
    let system = bucket_name("c8-sys");
    let gw = spawn_gateway(|port| {
        with_server_setting(
            &with_system_bucket(&config_text(port, &backend, ""), &system),
            "access_log_interval_seconds = 1",
        )
    });
    let (main, alt) = (client_for(&gw, MAIN), client_for(&gw, ALT));
    let (s, t) = (bucket_name("c8-src"), bucket_name("c8-dst"));
    main.create_bucket().bucket(&s).send().await.unwrap();
    main.create_bucket().bucket(&t).send().await.unwrap();
    main.put_bucket_logging()
        .bucket(&s)
        .bucket_logging_status(logging(&t, "logs/"))
        .send()
        .await
        .unwrap();
    main.put_object()
        .bucket(&s)
        .key("before.txt")
        .body(ByteStream::from_static(b"before"))
        .send()
        .await
        .unwrap();
    // Logging works: a log object arrives in T.
    let mut delivered = 0;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        delivered = count_objects(&main, &t).await.unwrap_or(0);
        if delivered > 0 {
            break;
        }
    }
    assert!(delivered > 0, "no access log reached main's target");

    // main empties and deletes T.
    let mut deleted = false;
    for _ in 0..10 {
        let listed = main.list_objects_v2().bucket(&t).send().await.unwrap();
        for o in listed.contents() {
            main.delete_object()
                .bucket(&t)
                .key(o.key().unwrap())
                .send()
                .await
                .unwrap();
        }
        if main.delete_bucket().bucket(&t).send().await.is_ok() {
            deleted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(deleted, "main could not delete its log target");

    alt.create_bucket()
        .bucket(&t)
        .send()
        .await
        .expect("the name is free again");
    for i in 0..5 {
        main.put_object()
            .bucket(&s)
            .key(format!("after-{i}.txt"))
            .body(ByteStream::from_static(b"after"))
            .send()
            .await
            .unwrap();
    }
    main.list_objects_v2().bucket(&s).send().await.unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let listed = alt.list_objects_v2().bucket(&t).send().await.unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert!(
        keys.is_empty(),
        "main's access logs were delivered into alt's bucket: {keys:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Class 9: the smaller ones.

/// Class 9 (SigV2 expiry overflow): `Expires=18446744073709551615` with a valid access key id
/// is an S3 error (403), not a panic of the request task; the gateway answers the next request.
#[tokio::test]
async fn class9_sigv2_expires_overflow_is_an_error() {
    let e = env("c9-v2");
    let (mb, _) = buckets(&e).await;
    let target = format!(
        "/{mb}/secret.txt?AWSAccessKeyId={}&Expires=18446744073709551615&Signature=AAAAAAAAAAAAAAAAAAAAAAAAAAA%3D",
        MAIN.0
    );
    let (status, head, body) = anonymous(&e.gw, "GET", &target, &[], b"");
    let next = anonymous(&e.gw, "GET", "/", &[], b"");
    assert_eq!(
        next.0, 403,
        "the gateway still answers (anonymous ListBuckets)"
    );
    assert_eq!(status, 403, "answered {status}:\n{head}\n{body}");
    assert!(
        matches!(code(&body), Some("AccessDenied" | "SignatureDoesNotMatch")),
        "{body}"
    );
}

/// Class 9 (response overrides): AWS refuses `response-*` overrides on anonymous GETs (400
/// InvalidRequest); a public object must not be served as `text/html` on a stranger's say-so.
#[tokio::test]
async fn class9_anonymous_response_overrides_are_refused() {
    let e = env("c9-override");
    let (gw, c) = (&e.gw, &e.main);
    let b = e.name("b");
    c.create_bucket().bucket(&b).send().await.unwrap();
    c.put_object()
        .bucket(&b)
        .key("page.txt")
        .acl(ObjectCannedAcl::PublicRead)
        .content_type("text/plain")
        .body(ByteStream::from_static(b"<script>alert(1)</script>"))
        .send()
        .await
        .unwrap();
    let (status, _, _) = anonymous(gw, "GET", &format!("/{b}/page.txt"), &[], b"");
    assert_eq!(status, 200, "the object is public");
    let (status, head, body) = anonymous(
        gw,
        "GET",
        &format!("/{b}/page.txt?response-content-type=text/html"),
        &[],
        b"",
    );
    assert_eq!(
        (status, code(&body)),
        (400, Some("InvalidRequest")),
        "{head}\n{body}"
    );
}

/// Class 9 (rate limits): requests that fail authentication are not charged to the bucket's
/// rate limit, or anyone could lock a bucket's owner out with bad signatures.
#[tokio::test]
async fn class9_failed_authentication_does_not_consume_the_bucket_rate_limit() {
    let backend = backend_endpoint();
    let _cleanup = Cleanup::new("c9-rate");
    let system = bucket_name("c9-rate-sys");
    let gw = spawn_gateway(|port| {
        with_system_bucket(
            &config_text(
                port,
                &backend,
                "\n[limits]\nrequests_per_second_per_bucket = 5\n",
            ),
            &system,
        )
    });
    let main = client_for(&gw, MAIN);
    let b = bucket_name("c9-rate");
    main.create_bucket().bucket(&b).send().await.unwrap();
    main.put_object()
        .bucket(&b)
        .key("k.txt")
        .body(ByteStream::from_static(b"k"))
        .send()
        .await
        .unwrap();
    let target = format!("/{b}/k.txt");
    let mut refused = Vec::new();
    for round in 0..3 {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        for _ in 0..12 {
            let (status, _, body) = signed_request(
                &gw,
                (MAIN.0, "not-the-secret"),
                "GET",
                &target,
                &[],
                &[],
                EMPTY_SHA256,
                b"",
            );
            // 403 SignatureDoesNotMatch (503 SlowDown today, once the bucket is "busy").
            let _ = (status, body);
        }
        let (status, _, body) = signed(&gw, MAIN, "GET", &target, &[], &[], b"");
        if status != 200 {
            refused.push(format!("round {round}: {status} {:?}", code(&body)));
        }
    }
    assert!(
        refused.is_empty(),
        "bad signatures used up the owner's bucket rate limit: {refused:?}"
    );
}

/// Class 9 (website existence oracle): on the website host of a bucket that is not
/// public-read, a private object and a missing one answer the same status.
#[tokio::test]
async fn class9_website_private_and_missing_look_the_same() {
    let e = env("c9-site");
    let (gw, c) = (&e.gw, &e.main);
    let b = e.name("b");
    c.create_bucket().bucket(&b).send().await.unwrap();
    c.put_object()
        .bucket(&b)
        .key("private.html")
        .body(ByteStream::from_static(b"secret page"))
        .send()
        .await
        .unwrap();
    c.put_object()
        .bucket(&b)
        .key("dir/index.html")
        .body(ByteStream::from_static(b"private folder"))
        .send()
        .await
        .unwrap();
    c.put_bucket_website()
        .bucket(&b)
        .website_configuration(
            WebsiteConfiguration::builder()
                .index_document(
                    IndexDocument::builder()
                        .suffix("index.html")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let visit = |path: &str| {
        let headers = vec![("host".to_owned(), format!("{b}.{REGION}-static.{DOMAIN}"))];
        raw_request(gw.addr, &format_request("GET", path, &headers, b"")).0
    };
    let (private, missing) = (visit("/private.html"), visit("/missing.html"));
    let (folder, no_folder) = (visit("/dir"), visit("/nodir"));
    assert_eq!(
        (private, folder),
        (missing, no_folder),
        "a private object / private folder answer differently from missing ones"
    );
}

/// Class 9: a request head trickled a line at a time is cut off after the header timeout
/// (`[limits] header_read_timeout_seconds`), on a new connection and on a kept-alive one, while a
/// prompt request is served.
#[test]
fn class9_a_trickled_request_head_is_cut_off() {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};
    let backend = backend_endpoint();
    let gw = spawn_gateway(|port| {
        config_text(
            port,
            &backend,
            "\n[limits]\nheader_read_timeout_seconds = 2\n",
        )
    });
    // Sends `first` at once, then one header line every 300 ms; how long until the gateway
    // closes the connection (None: still open after 8 s).
    let trickle = |prompt: Option<&[u8]>, first: &[u8]| -> Option<Duration> {
        let mut s = std::net::TcpStream::connect(gw.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        if let Some(prompt) = prompt {
            // One complete request and its whole answer first: the connection is kept alive.
            s.write_all(prompt).unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            while !String::from_utf8_lossy(&got).contains("</Error>") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            let got = String::from_utf8_lossy(&got);
            assert!(got.starts_with("HTTP/1.1 403"), "{got}");
        }
        let start = Instant::now();
        s.write_all(first).unwrap();
        let mut buf = [0u8; 4096];
        let mut answered = false;
        while start.elapsed() < Duration::from_secs(8) {
            if s.write_all(b"x-slow: 1\r\n").is_err() {
                return Some(start.elapsed());
            }
            match s.read(&mut buf) {
                Ok(0) => return Some(start.elapsed()),
                Ok(_) => answered = true,
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return Some(start.elapsed()),
            }
        }
        let _ = answered;
        None
    };
    let host = gw.addr.to_string();
    let fresh = trickle(
        None,
        format!("GET / HTTP/1.1\r\nhost: {host}\r\n").as_bytes(),
    );
    eprintln!("fresh connection cut after {fresh:?}");
    assert!(
        fresh.is_some_and(|t| t >= Duration::from_millis(1500) && t < Duration::from_secs(5)),
        "a trickled head on a new connection stayed open: {fresh:?}"
    );
    // Fewer bytes than HTTP/2's preface (24), a byte at a time, or none at all: pingora waits
    // for those before it reads a head, and that wait is held to the same deadline.
    for (what, bytes_per_step) in [("a byte at a time", 1usize), ("nothing", 0)] {
        let mut s = std::net::TcpStream::connect(gw.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let start = Instant::now();
        let line = b"GET / HTTP/1.1\r\n";
        let mut sent = 0;
        let mut buf = [0u8; 64];
        let cut = loop {
            if start.elapsed() > Duration::from_secs(8) {
                break None;
            }
            if bytes_per_step > 0 && sent < line.len() {
                if s.write_all(&line[sent..sent + 1]).is_err() {
                    break Some(start.elapsed());
                }
                sent += 1;
            }
            match s.read(&mut buf) {
                Ok(0) => break Some(start.elapsed()),
                Ok(_) => {}
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => break Some(start.elapsed()),
            }
        };
        assert!(
            cut.is_some_and(|t| t >= Duration::from_millis(1500) && t < Duration::from_secs(5)),
            "a connection sending {what} stayed open: {cut:?}"
        );
    }
    // A prompt (anonymous, refused) request, then a trickled one on the same connection.
    let kept = trickle(
        Some(format!("GET / HTTP/1.1\r\nhost: {host}\r\n\r\n").as_bytes()),
        format!("GET / HTTP/1.1\r\nhost: {host}\r\n").as_bytes(),
    );
    eprintln!("kept-alive connection cut after {kept:?}");
    assert!(
        kept.is_some_and(|t| t >= Duration::from_millis(1500) && t < Duration::from_secs(5)),
        "a trickled head on a kept-alive connection stayed open: {kept:?}"
    );
    // Prompt requests are unaffected.
    let (status, _, _) = raw_request(
        gw.addr,
        &format_request("GET", "/", &[("host".into(), host)], b""),
    );
    assert_eq!(status, 403);
}

/// A copy-source condition the gateway could not read (a date form `httpdate` refuses, which a
/// backend may still parse) is decided by the gateway as absent, so it must not reach the
/// backend either: the backend would apply a condition the gateway ignored.
#[tokio::test]
async fn undecided_copy_source_conditions_do_not_reach_the_backend() {
    let e = env("copyif");
    let (_, ab) = buckets(&e).await;
    e.alt
        .put_object()
        .bucket(&ab)
        .key("own.txt")
        .body(ByteStream::from_static(b"own"))
        .send()
        .await
        .unwrap();
    e.relay.clear();
    let source = format!("/{ab}/own.txt");
    for (target, directive) in [
        ("copy-replace.txt", "REPLACE"),
        ("copy-default.txt", "COPY"),
    ] {
        let (status, head, body) = signed(
            &e.gw,
            ALT,
            "PUT",
            &format!("/{ab}/{target}"),
            &[
                ("x-amz-copy-source", &source),
                ("x-amz-metadata-directive", directive),
                (
                    "x-amz-copy-source-if-modified-since",
                    "Sat, 29 Oct 2100 19:43:31 +0000",
                ),
            ],
            &[],
            b"",
        );
        assert_eq!(status, 200, "{directive}: {head}\n{body}");
    }
    let heads = e.relay.heads();
    for h in &heads {
        assert_eq!(
            h.header("x-amz-copy-source-if-modified-since"),
            None,
            "{}",
            h.summary()
        );
    }
}

/// A bucket policy's `s3:x-amz-copy-source` and `s3:x-amz-metadata-directive` are matched
/// against what the gateway decided (the source it parsed, the directive it sends), not the
/// header as written: an encoded or slash-led spelling of a denied source is still denied.
#[tokio::test]
async fn policy_conditions_see_the_decided_copy_source() {
    let e = env("polcopy");
    let (_, ab) = buckets(&e).await;
    for key in ["private.txt", "public.txt"] {
        e.alt
            .put_object()
            .bucket(&ab)
            .key(key)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
    }
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::{ab}/*",
          "Condition":{{"StringLike":{{"s3:x-amz-copy-source":"{ab}/private*"}}}}}},
        {{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::{ab}/*",
          "Condition":{{"StringEquals":{{"s3:x-amz-metadata-directive":"REPLACE"}}}}}}]}}"#
    );
    e.alt
        .put_bucket_policy()
        .bucket(&ab)
        .policy(policy)
        .send()
        .await
        .unwrap();
    let copy = |source: String, directive: Option<&'static str>| {
        let mut headers = vec![("x-amz-copy-source".to_owned(), source)];
        if let Some(d) = directive {
            headers.push(("x-amz-metadata-directive".to_owned(), d.to_owned()));
        }
        let borrowed: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        signed(
            &e.gw,
            ALT,
            "PUT",
            &format!("/{ab}/copy.txt"),
            &borrowed,
            &[],
            b"",
        )
        .0
    };
    for source in [
        format!("{ab}/private.txt"),
        format!("/{ab}/private.txt"),
        format!("{ab}/%70rivate.txt"),
    ] {
        assert_eq!(copy(source.clone(), None), 403, "copy from {source}");
    }
    assert_eq!(copy(format!("/{ab}/public.txt"), Some("replace")), 403);
    assert_eq!(copy(format!("/{ab}/public.txt"), Some(" REPLACE")), 403);
    assert_eq!(copy(format!("/{ab}/public.txt"), None), 200);
}

/// The copy's source pin reaches RGW under the name RGW 16 honours for CopyObject
/// (`x-amz-copy-if-match`; it ignores the S3 name), so a source replaced between the
/// gateway's decision and the copy is not copied; a client's own `x-amz-copy-if-match`
/// (a name S3 does not define) never reaches it.
#[tokio::test]
async fn the_copy_pin_reaches_rgw_under_its_name() {
    if skipped_on(
        "seaweedfs",
        "asserts RGW's own name for the copy pin header",
    ) {
        return;
    }
    let e = env("copypin");
    let (_, ab) = buckets(&e).await;
    let etag = e
        .alt
        .put_object()
        .bucket(&ab)
        .key("own.txt")
        .body(ByteStream::from_static(b"own"))
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_owned();
    e.relay.clear();
    let (status, head, body) = signed(
        &e.gw,
        ALT,
        "PUT",
        &format!("/{ab}/copy.txt"),
        &[
            ("x-amz-copy-source", &format!("/{ab}/own.txt")),
            ("x-amz-copy-source-if-match", &etag),
            ("x-amz-copy-if-match", "\"attacker\""),
        ],
        &[],
        b"",
    );
    assert_eq!(status, 200, "{head}\n{body}");
    let copy = e
        .relay
        .heads()
        .into_iter()
        .find(|h| h.header("x-amz-copy-source").is_some())
        .expect("the copy reached the backend");
    assert_eq!(
        copy.header("x-amz-copy-if-match").as_deref(),
        Some(etag.as_str())
    );
    assert_eq!(
        copy.header("x-amz-copy-source-if-match").as_deref(),
        Some(etag.as_str())
    );
}

/// The tags a bucket policy decides on are the tags the backend stores. A PutObjectTagging
/// body used to reach the backend unread (so `s3:RequestObjectTag` saw nothing), and
/// `x-amz-tagging` went on as spelt, for the backend to decode its own way (RGW reads `+` as a
/// space, takes the last of duplicated keys). The gateway now reads both, refuses what S3
/// refuses (duplicated keys, too many tags), and sends the backend its own rendering.
#[tokio::test]
async fn tag_conditions_see_the_tags_the_backend_stores() {
    use aws_sdk_s3::types::{Tag, Tagging};
    let e = env("tagpol");
    let (_, ab) = buckets(&e).await;
    e.alt
        .put_object()
        .bucket(&ab)
        .key("doc.txt")
        .body(ByteStream::from_static(b"doc"))
        .send()
        .await
        .unwrap();
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Effect":"Deny","Principal":"*","Action":["s3:PutObject","s3:PutObjectTagging"],"Resource":"arn:aws:s3:::{ab}/*",
          "Condition":{{"StringEquals":{{"s3:RequestObjectTag/visibility":"public"}}}}}}]}}"#
    );
    e.alt
        .put_bucket_policy()
        .bucket(&ab)
        .policy(policy)
        .send()
        .await
        .unwrap();
    let tags = |visibility: &str| {
        Tagging::builder()
            .tag_set(
                Tag::builder()
                    .key("visibility")
                    .value(visibility)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    };
    // A real client's PutObjectTagging: the body's tags are the request's tags.
    let denied = e
        .alt
        .put_object_tagging()
        .bucket(&ab)
        .key("doc.txt")
        .tagging(tags("public"))
        .send()
        .await
        .expect_err("a denied tag was stored");
    assert_eq!(denied.code(), Some("AccessDenied"));
    // Bodies and headers a client would not send.
    let doc = |sets: &str| format!("<Tagging>{sets}</Tagging>");
    let set =
        |v: &str| format!("<TagSet><Tag><Key>visibility</Key><Value>{v}</Value></Tag></TagSet>");
    for body in [
        doc(&(set("private") + &set("public"))),
        doc(
            "<TagSet><Tag><Key>visibility</Key><Value>private</Value></Tag><Tag><Key>visibility</Key><Value>public</Value></Tag></TagSet>",
        ),
    ] {
        let (status, _, answer) = signed(
            &e.gw,
            ALT,
            "PUT",
            &format!("/{ab}/doc.txt?tagging"),
            &[],
            &[],
            body.as_bytes(),
        );
        assert!(
            matches!(code(&answer), Some("MalformedXML" | "InvalidTag")),
            "{body}: {status} {answer}"
        );
    }
    for header in [
        "visibility=private&visibility=public",
        "visibility=pub+lic",
        "visibility=%70ublic",
    ] {
        let (status, _, answer) = signed(
            &e.gw,
            ALT,
            "PUT",
            &format!("/{ab}/tagged.txt"),
            &[("x-amz-tagging", header)],
            &[],
            b"x",
        );
        let stored = e
            .alt
            .get_object_tagging()
            .bucket(&ab)
            .key("tagged.txt")
            .send()
            .await
            .ok()
            .map(|t| {
                t.tag_set()
                    .iter()
                    .map(|t| (t.key().to_owned(), t.value().to_owned()))
                    .collect::<Vec<_>>()
            });
        match header {
            "visibility=pub+lic" => {
                // `+` is a plus to the gateway (as to S3), so to the backend too.
                assert_eq!(status, 200, "{answer}");
                assert_eq!(
                    stored,
                    Some(vec![("visibility".to_owned(), "pub+lic".to_owned())])
                );
            }
            _ => {
                assert_ne!(status, 200, "{header} was accepted: {answer}");
                assert!(
                    stored.iter().flatten().all(|(_, v)| v != "public"),
                    "{header}: stored {stored:?}"
                );
            }
        }
    }
    let stored = e
        .alt
        .get_object_tagging()
        .bucket(&ab)
        .key("doc.txt")
        .send()
        .await
        .unwrap();
    assert!(stored.tag_set().is_empty(), "{:?}", stored.tag_set());
    // What the policy allows still goes through, as the client wrote it.
    e.alt
        .put_object_tagging()
        .bucket(&ab)
        .key("doc.txt")
        .tagging(tags("a b+c/ü"))
        .send()
        .await
        .unwrap();
    let stored = e
        .alt
        .get_object_tagging()
        .bucket(&ab)
        .key("doc.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(stored.tag_set().len(), 1);
    assert_eq!(stored.tag_set()[0].value(), "a b+c/ü");
}

/// A part copied from someone else's public-read object reads exactly the version the gateway
/// allowed. RGW 16's UploadPartCopy honours no source precondition, so the gateway copies such
/// parts itself: it reads the source pinned with `If-Match` (a replacement made after its
/// decision fails the read) and streams it into UploadPart; no UploadPartCopy of a foreign
/// source reaches the backend.
#[tokio::test]
async fn part_copies_of_public_sources_are_pinned() {
    let e = env("partpin");
    let (mb, ab) = buckets(&e).await;
    let put = e
        .main
        .put_object()
        .bucket(&mb)
        .key("shared.bin")
        .acl(ObjectCannedAcl::PublicRead)
        .body(ByteStream::from(vec![b's'; 5 * 1024 * 1024]))
        .send()
        .await
        .unwrap();
    let etag = put.e_tag().unwrap().to_owned();
    let upload = e
        .alt
        .create_multipart_upload()
        .bucket(&ab)
        .key("mine.bin")
        .send()
        .await
        .unwrap();
    let id = upload.upload_id().unwrap();
    e.relay.clear();
    let part = e
        .alt
        .upload_part_copy()
        .bucket(&ab)
        .key("mine.bin")
        .upload_id(id)
        .part_number(1)
        .copy_source(format!("{mb}/shared.bin"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        part.copy_part_result().and_then(|r| r.e_tag()),
        Some(etag.as_str())
    );
    let heads = e.relay.heads();
    assert!(
        heads
            .iter()
            .all(|h| h.header("x-amz-copy-source").is_none()),
        "an unpinnable part copy reached the backend: {:?}",
        heads.iter().map(|h| h.summary()).collect::<Vec<_>>()
    );
    let source_read = heads
        .iter()
        .find(|h| h.method == "GET" && h.path().ends_with("/shared.bin"))
        .expect("the gateway read the source");
    assert_eq!(
        source_read.header("if-match").as_deref(),
        Some(etag.as_str())
    );
    assert_backend_view_clean(&heads);
    // The object alt assembles holds the public bytes.
    e.alt
        .complete_multipart_upload()
        .bucket(&ab)
        .key("mine.bin")
        .upload_id(id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .parts(
                    aws_sdk_s3::types::CompletedPart::builder()
                        .part_number(1)
                        .e_tag(&etag)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let got = read(&e.alt, &ab, "mine.bin").await.unwrap();
    assert!(got.len() == 5 * 1024 * 1024 && got.iter().all(|b| *b == b's'));
    // main's private object stays out of reach.
    let denied = e
        .alt
        .upload_part_copy()
        .bucket(&ab)
        .key("mine.bin")
        .upload_id(id)
        .part_number(2)
        .copy_source(format!("{mb}/secret.txt"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Some("AccessDenied"));
}

/// Integrity never depends on the backend: a body that is not the one whose hash the client
/// signed (a tampered or corrupted body, a wrong Content-MD5) is refused by the gateway before
/// anything is stored, whether the backend would check it or not (RGW 16 and SeaweedFS store
/// a PutObject whose `x-amz-content-sha256` does not match its body).
#[tokio::test]
async fn bodies_that_do_not_match_their_signed_hash_are_never_stored() {
    // RGW checks both itself; as a `generic` backend the gateway assumes it does not, and
    // checks them on the way.
    tampered_bodies_are_refused(env("payload-hash")).await;
    let generic = Cleanup::new("payload-hash-gen");
    let system = bucket_name("payload-hash-gen-sys");
    let (gw, relay) = spawn_gateway_with_relay_using(|config| {
        with_system_bucket(&config, &system).replace(
            &format!("kind = \"{}\"", backend_kind()),
            "kind = \"generic\"",
        )
    });
    let e = Env {
        main: client_for(&gw, MAIN),
        alt: client_for(&gw, ALT),
        gw,
        relay,
        tag: "payload-hash-gen".into(),
        system,
        _cleanup: generic,
    };
    tampered_bodies_are_refused(e).await;
}

/// What a refused upload left at `key`: nothing at all, on every backend (SeaweedFS, which
/// would store a cut-off body as an empty object, gets verified bodies chunked). The one
/// exception is SeaweedFS declared as `generic`, a backend assumed to refuse cut-off bodies:
/// there the gateway keeps Content-Length framing and SeaweedFS may keep an empty object,
/// never the refused bytes.
async fn refused_left(e: &Env, bucket: &str, key: &str) -> Option<Vec<u8>> {
    let misdeclared = e.tag.ends_with("-gen") && backend_kind() == "seaweedfs";
    read(&e.main, bucket, key)
        .await
        .filter(|got| !(misdeclared && got.is_empty()))
}

async fn tampered_bodies_are_refused(e: Env) {
    let (mb, _) = buckets(&e).await;
    let body = b"the body that travelled".repeat(4096);
    let signed_for = sha256_hex(b"the body that was signed");

    for (op, target) in [
        ("PutObject", format!("/{mb}/tampered.bin")),
        ("UploadPart", String::new()),
    ] {
        let target = if op == "UploadPart" {
            let upload = e
                .main
                .create_multipart_upload()
                .bucket(&mb)
                .key("tampered-part.bin")
                .send()
                .await
                .unwrap();
            format!(
                "/{mb}/tampered-part.bin?partNumber=1&uploadId={}",
                upload.upload_id().unwrap()
            )
        } else {
            target
        };
        let (status, _, answer) =
            signed_request(&e.gw, MAIN, "PUT", &target, &[], &[], &signed_for, &body);
        assert_eq!(
            (status, code(&answer)),
            (400, Some("XAmzContentSHA256Mismatch")),
            "{op}: {answer}"
        );
    }
    assert_eq!(refused_left(&e, &mb, "tampered.bin").await, None);
    let parts = e
        .main
        .list_multipart_uploads()
        .bucket(&mb)
        .send()
        .await
        .unwrap();
    for upload in parts.uploads() {
        let listed = e
            .main
            .list_parts()
            .bucket(&mb)
            .key(upload.key().unwrap())
            .upload_id(upload.upload_id().unwrap())
            .send()
            .await
            .unwrap();
        let misdeclared = e.tag.ends_with("-gen") && backend_kind() == "seaweedfs";
        let stored = listed
            .parts()
            .iter()
            .filter(|p| !(misdeclared && p.size() == Some(0)))
            .count();
        assert_eq!(stored, 0, "a tampered part was stored");
    }

    // A Content-MD5 that is not the body's is refused the same way.
    let md5 = md5_base64(b"another body");
    let (status, _, answer) = signed(
        &e.gw,
        MAIN,
        "PUT",
        &format!("/{mb}/wrong-md5.bin"),
        &[("content-md5", &md5)],
        &[],
        &body,
    );
    assert_eq!(
        (status, code(&answer)),
        (400, Some("BadDigest")),
        "{answer}"
    );
    assert_eq!(refused_left(&e, &mb, "wrong-md5.bin").await, None);

    // The body that was signed goes through.
    let (status, _, answer) = signed(
        &e.gw,
        MAIN,
        "PUT",
        &format!("/{mb}/good.bin"),
        &[],
        &[],
        &body,
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        read(&e.main, &mb, "good.bin").await.as_deref(),
        Some(body.as_slice())
    );
}

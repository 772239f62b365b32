//! Client authentication at the gateway: every failure answers the S3 error AWS answers, in S3
//! XML with our request id, before anything reaches the backend.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use common::*;

async fn ensure_bucket(name: &str) {
    let c = client(MAIN);
    let _ = c.create_bucket().bucket(name).send().await;
    c.put_object()
        .bucket(name)
        .key("hello.txt")
        .body(ByteStream::from_static(b"hello"))
        .send()
        .await
        .unwrap();
}

fn error_code_of<E: ProvideErrorMetadata>(e: &E) -> Option<String> {
    e.code().map(str::to_owned)
}

#[tokio::test]
async fn wrong_secret_is_signature_does_not_match() {
    let c = client((MAIN.0, "not-the-secret"));
    let err = c.list_buckets().send().await.unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(403));
    assert_eq!(
        error_code_of(&err.into_service_error()).as_deref(),
        Some("SignatureDoesNotMatch")
    );
}

#[tokio::test]
async fn unknown_key_is_invalid_access_key_id() {
    let c = client(("AKIANOSUCHKEY0000000", "whatever"));
    let err = c.list_buckets().send().await.unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(403));
    assert_eq!(
        error_code_of(&err.into_service_error()).as_deref(),
        Some("InvalidAccessKeyId")
    );
}

#[tokio::test]
async fn backend_credentials_are_not_gateway_credentials() {
    let c = client((BACKEND_ACCESS_KEY, BACKEND_SECRET_KEY));
    let err = c.list_buckets().send().await.unwrap_err();
    assert_eq!(
        error_code_of(&err.into_service_error()).as_deref(),
        Some("InvalidAccessKeyId")
    );
}

#[test]
fn skewed_clock_is_request_time_too_skewed() {
    let gw = gateway();
    let host = gw.addr.to_string();
    let then = SystemTime::now() - Duration::from_secs(20 * 60);
    let mut headers = sign_headers("GET", &host, "/", &[], EMPTY_SHA256, then, MAIN);
    headers.push(("host".into(), host.clone()));
    let (status, head, body) = raw_request(gw.addr, &format_request("GET", "/", &headers, b""));
    assert_eq!(status, 403, "{head}\n{body}");
    assert_eq!(xml_tag(&body, "Code"), Some("RequestTimeTooSkewed"));
    let request_id = xml_tag(&body, "RequestId").unwrap();
    assert!(head.to_ascii_lowercase().contains(&format!(
        "x-amz-request-id: {}",
        request_id.to_ascii_lowercase()
    )));
}

#[test]
fn anonymous_and_malformed_requests() {
    let gw = gateway();
    let host = gw.addr.to_string();
    let anon = format_request("GET", "/", &[("host".into(), host.clone())], b"");
    let (status, _, body) = raw_request(gw.addr, &anon);
    assert_eq!(
        (status, xml_tag(&body, "Code")),
        (403, Some("AccessDenied"))
    );

    for (auth, code, want) in [
        (
            "AWS4-HMAC-SHA256 Credential=GWMAINACCESSKEY00001/2026/nyc3/s3/aws4_request, SignedHeaders=host, Signature=00",
            400,
            "AuthorizationHeaderMalformed",
        ),
        (
            "AWS4-HMAC-SHA256 SignedHeaders=host",
            400,
            "AuthorizationHeaderMalformed",
        ),
        ("Bearer token", 400, "InvalidArgument"),
    ] {
        let req = format_request(
            "GET",
            "/",
            &[
                ("host".into(), host.clone()),
                ("authorization".into(), auth.into()),
            ],
            b"",
        );
        let (status, _, body) = raw_request(gw.addr, &req);
        assert_eq!(
            (status, xml_tag(&body, "Code")),
            (code, Some(want)),
            "{auth}\n{body}"
        );
    }
}

#[test]
fn missing_content_sha256_is_invalid_request() {
    let gw = gateway();
    let host = gw.addr.to_string();
    let mut headers: Vec<(String, String)> = sign_headers(
        "GET",
        &host,
        "/",
        &[],
        EMPTY_SHA256,
        SystemTime::now(),
        MAIN,
    )
    .into_iter()
    .filter(|(n, _)| n != "x-amz-content-sha256")
    .collect();
    headers.push(("host".into(), host));
    let (status, _, body) = raw_request(gw.addr, &format_request("GET", "/", &headers, b""));
    assert_eq!(
        (status, xml_tag(&body, "Code")),
        (400, Some("InvalidRequest")),
        "{body}"
    );
}

/// With `Expect: 100-continue`, a request that fails authentication is answered before the
/// client sends its body: no `100 Continue`, a 403, and the connection closed.
#[test]
fn expect_continue_is_refused_before_the_body() {
    let gw = gateway();
    let host = gw.addr.to_string();
    let path = "/expect-bucket/never.bin";
    let mut headers = sign_headers(
        "PUT",
        &host,
        path,
        &[],
        "UNSIGNED-PAYLOAD",
        SystemTime::now(),
        (MAIN.0, "wrong-secret"),
    );
    headers.push(("host".into(), host.clone()));
    headers.push(("content-length".into(), "1048576".into()));
    headers.push(("expect".into(), "100-continue".into()));
    let mut s = TcpStream::connect(gw.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&format_request("PUT", path, &headers, b""))
        .unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let (status, head, body) = parse_response(&buf);
    assert_eq!(status, 403, "{head}");
    assert!(!head.contains("100 Continue"), "{head}");
    assert_eq!(xml_tag(&body, "Code"), Some("SignatureDoesNotMatch"));
}

/// With a good signature, `Expect: 100-continue` goes through: the body is sent after the
/// interim response and the object is stored.
#[tokio::test]
async fn expect_continue_with_a_good_signature_stores_the_object() {
    let b = bucket_name("expect");
    ensure_bucket(&b).await;
    let gw = gateway();
    let host = gw.addr.to_string();
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
    let mut s = TcpStream::connect(gw.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&format_request("PUT", &path, &headers, b""))
        .unwrap();
    let mut interim = [0u8; 25];
    s.read_exact(&mut interim).unwrap();
    assert!(
        interim.starts_with(b"HTTP/1.1 100"),
        "{}",
        String::from_utf8_lossy(&interim)
    );
    s.write_all(body).unwrap();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    let (status, head, _) =
        parse_response(&rest[rest.windows(4).position(|w| w == b"HTTP").unwrap_or(0)..]);
    assert_eq!(status, 200, "{head}");
    let got = client(MAIN)
        .get_object()
        .bucket(&b)
        .key("continued.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        body
    );
}

#[tokio::test]
async fn presigned_get_and_put_work_and_expire() {
    let b = bucket_name("presign");
    ensure_bucket(&b).await;
    let c = client(MAIN);
    let put = c
        .put_object()
        .bucket(&b)
        .key("presigned.txt")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(60)).unwrap())
        .await
        .unwrap();
    let gw = gateway();
    let uri: http::Uri = put.uri().parse().unwrap();
    let target = uri.path_and_query().unwrap().as_str();
    let mut headers: Vec<(String, String)> = put
        .headers()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    headers.push(("host".into(), gw.addr.to_string()));
    headers.push(("content-length".into(), "9".into()));
    let (status, head, _) = raw_request(
        gw.addr,
        &format_request("PUT", target, &headers, b"presigned"),
    );
    assert_eq!(status, 200, "{head}");

    let get = c
        .get_object()
        .bucket(&b)
        .key("presigned.txt")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(60)).unwrap())
        .await
        .unwrap();
    let uri: http::Uri = get.uri().parse().unwrap();
    let target = uri.path_and_query().unwrap().as_str();
    let (status, _, body) = raw_request(
        gw.addr,
        &format_request("GET", target, &[("host".into(), gw.addr.to_string())], b""),
    );
    assert_eq!((status, body.as_str()), (200, "presigned"));

    let tampered = target.replace("presigned.txt", "hello.txt");
    let (status, _, body) = raw_request(
        gw.addr,
        &format_request(
            "GET",
            &tampered,
            &[("host".into(), gw.addr.to_string())],
            b"",
        ),
    );
    assert_eq!(
        (status, xml_tag(&body, "Code")),
        (403, Some("SignatureDoesNotMatch"))
    );

    let old = c
        .get_object()
        .bucket(&b)
        .key("presigned.txt")
        .presigned(
            PresigningConfig::builder()
                .start_time(SystemTime::now() - Duration::from_secs(120))
                .expires_in(Duration::from_secs(60))
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    let uri: http::Uri = old.uri().parse().unwrap();
    let (status, _, body) = raw_request(
        gw.addr,
        &format_request(
            "GET",
            uri.path_and_query().unwrap().as_str(),
            &[("host".into(), gw.addr.to_string())],
            b"",
        ),
    );
    assert_eq!(
        (status, xml_tag(&body, "Code"), xml_tag(&body, "Message")),
        (403, Some("AccessDenied"), Some("Request has expired"))
    );
}

/// Virtual-hosted style with curl's own SigV4 signer: `<bucket>.nyc3.example.test`.
#[tokio::test]
async fn virtual_hosted_style_with_curl() {
    let b = bucket_name("vhost");
    ensure_bucket(&b).await;
    let gw = gateway();
    let host = format!("{b}.{REGION}.{DOMAIN}");
    let out = std::process::Command::new("curl")
        .args(["-sS", "--fail-with-body", "--connect-to"])
        .arg(format!("{host}:80:{}", gw.addr))
        .args(["--aws-sigv4", "aws:amz:nyc3:s3", "--user"])
        .arg(format!("{}:{}", MAIN.0, MAIN.1))
        .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"])
        .arg(format!("http://{host}/hello.txt"))
        .output()
        .expect("curl is installed by scripts/test.sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello");
}

#[tokio::test]
async fn unreachable_backend_is_503_service_unavailable_not_a_hang() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    // Nothing listens there once the listener is dropped.
    let gw = spawn_gateway(|port| config_text(port, &format!("http://{dead}"), ""));
    let started = std::time::Instant::now();
    let c = aws_sdk_s3::Client::from_conf(
        client_for(&gw, MAIN)
            .config()
            .to_builder()
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
            .build(),
    );
    let err = c.list_buckets().send().await.unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(503));
    assert_eq!(
        error_code_of(&err.into_service_error()).as_deref(),
        Some("ServiceUnavailable")
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

fn presigned_target(p: &aws_sdk_s3::presigning::PresignedRequest) -> String {
    let uri: http::Uri = p.uri().parse().unwrap();
    uri.path_and_query().unwrap().as_str().to_owned()
}

/// Presigned HEAD, DELETE and multipart part uploads, as a browser or curl would use them.
#[tokio::test]
async fn presigned_head_delete_and_part_upload() {
    let b = bucket_name("presign-more");
    ensure_bucket(&b).await;
    let c = client(MAIN);
    let gw = gateway();
    let host = vec![("host".to_owned(), gw.addr.to_string())];
    let cfg = || PresigningConfig::expires_in(Duration::from_secs(60)).unwrap();

    let head = c
        .head_object()
        .bucket(&b)
        .key("hello.txt")
        .presigned(cfg())
        .await
        .unwrap();
    let (status, _, _) = raw_request(
        gw.addr,
        &format_request("HEAD", &presigned_target(&head), &host, b""),
    );
    assert_eq!(status, 200);

    let up = c
        .create_multipart_upload()
        .bucket(&b)
        .key("parts.bin")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let part = c
        .upload_part()
        .bucket(&b)
        .key("parts.bin")
        .upload_id(id)
        .part_number(1)
        .presigned(cfg())
        .await
        .unwrap();
    let mut headers = host.clone();
    headers.push(("content-length".into(), "10".into()));
    let (status, head_text, _) = raw_request(
        gw.addr,
        &format_request("PUT", &presigned_target(&part), &headers, b"0123456789"),
    );
    assert_eq!(status, 200, "{head_text}");
    let parts = c
        .list_parts()
        .bucket(&b)
        .key("parts.bin")
        .upload_id(id)
        .send()
        .await
        .unwrap();
    assert_eq!(parts.parts().first().and_then(|p| p.size()), Some(10));
    c.abort_multipart_upload()
        .bucket(&b)
        .key("parts.bin")
        .upload_id(id)
        .send()
        .await
        .unwrap();

    let delete = c
        .delete_object()
        .bucket(&b)
        .key("hello.txt")
        .presigned(cfg())
        .await
        .unwrap();
    let (status, _, _) = raw_request(
        gw.addr,
        &format_request("DELETE", &presigned_target(&delete), &host, b""),
    );
    assert_eq!(status, 204);
    assert!(
        c.head_object()
            .bucket(&b)
            .key("hello.txt")
            .send()
            .await
            .is_err()
    );
}

/// Content-MD5 passes through and the backend checks it: a wrong digest stores nothing.
#[tokio::test]
async fn content_md5_is_checked_end_to_end() {
    let b = bucket_name("md5");
    ensure_bucket(&b).await;
    let gw = gateway();
    let host = gw.addr.to_string();
    let path = format!("/{b}/md5.txt");
    // base64(md5("something else")), not of the body sent.
    let wrong = "YjE0YmM1MTJkZDdmMTc2Nw==";
    let mut headers = sign_headers(
        "PUT",
        &host,
        &path,
        &[("content-md5", wrong)],
        "UNSIGNED-PAYLOAD",
        SystemTime::now(),
        MAIN,
    );
    headers.extend([
        ("host".into(), host.clone()),
        ("content-md5".into(), wrong.into()),
        ("content-length".into(), "5".into()),
    ]);
    let (status, _, body) = raw_request(gw.addr, &format_request("PUT", &path, &headers, b"hello"));
    assert_eq!(status, 400, "{body}");
    assert!(
        matches!(xml_tag(&body, "Code"), Some("BadDigest" | "InvalidDigest")),
        "{body}"
    );
    assert!(
        client(MAIN)
            .head_object()
            .bucket(&b)
            .key("md5.txt")
            .send()
            .await
            .is_err()
    );
}

/// An error answered before the body was read (here a request whose signature is wrong, with
/// 2 MiB still coming) reaches a client that is still sending: the gateway reads what keeps
/// coming for a moment before it closes. Closing with unread bytes resets the connection, and
/// the reset destroys the answer before the client reads it.
#[test]
fn an_early_error_reaches_a_client_still_sending() {
    let gw = gateway();
    let host = gw.addr.to_string();
    let body = vec![b'x'; 8 * 1024 * 1024];
    for round in 0..5 {
        let path = format!("/early-error-{round}/k");
        let mut headers = sign_headers(
            "PUT",
            &host,
            &path,
            &[],
            "UNSIGNED-PAYLOAD",
            SystemTime::now(),
            ("GWMAINACCESSKEY00001", "not-the-secret"),
        );
        headers.extend([
            ("host".into(), host.clone()),
            ("content-length".into(), body.len().to_string()),
        ]);
        let mut s = TcpStream::connect(gw.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(&format_request("PUT", &path, &headers, b""))
            .unwrap();
        // Like curl without Expect: the whole body goes out, whatever comes back meanwhile,
        // and a reset while sending ends the transfer before the answer is read.
        let sent = body
            .chunks(64 * 1024)
            .try_for_each(|chunk| s.write_all(chunk));
        assert!(sent.is_ok(), "round {round}: reset while sending: {sent:?}");
        let mut answer = Vec::new();
        let read = s.read_to_end(&mut answer);
        let (status, _, text) = parse_response(&answer);
        assert_eq!(status, 403, "round {round}: {read:?} {text}");
        assert_eq!(
            xml_tag(&text, "Code"),
            Some("SignatureDoesNotMatch"),
            "{text}"
        );
    }
}

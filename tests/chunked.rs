//! aws-chunked uploads that go wrong: the gateway answers the error and the backend keeps no
//! object. These bodies are hand-made, because no client sends a corrupted stream on purpose.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::primitives::ByteStream;
use base64::Engine as _;
use common::*;

fn send(headers: &[(String, String)], path: &str, body: &[u8], close_early: bool) -> (u16, String) {
    let gw = gateway();
    let mut s = TcpStream::connect(gw.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(&format_request("PUT", path, headers, b""))
        .unwrap();
    s.write_all(body).unwrap();
    if close_early {
        s.shutdown(std::net::Shutdown::Write).unwrap();
    }
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let (status, _, body) = parse_response(&buf);
    (status, body)
}

/// Whether a refused upload left an object at `key` (on every backend: SeaweedFS, which would
/// store a cut-off body as an empty object, gets verified bodies chunked).
async fn object_exists(bucket: &str, key: &str) -> bool {
    client(MAIN)
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .is_ok()
}

async fn bucket(test: &str) -> String {
    let b = bucket_name(test);
    let _ = client(MAIN).create_bucket().bucket(&b).send().await;
    b
}

#[tokio::test]
async fn a_good_signed_stream_is_stored() {
    let b = bucket("chunk-good").await;
    let path = format!("/{b}/good.bin");
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let req = signed_chunked_put(&gateway().addr.to_string(), &path, &data, 65536);
    let (status, body) = send(&req.headers, &path, &req.body, false);
    assert_eq!(status, 200, "{body}");
    let got = client(MAIN)
        .get_object()
        .bucket(&b)
        .key("good.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        &data[..]
    );
}

#[tokio::test]
async fn a_corrupted_chunk_leaves_no_object() {
    let b = bucket("chunk-corrupt").await;
    let path = format!("/{b}/corrupt.bin");
    let data = vec![7u8; 150_000];
    let mut req = signed_chunked_put(&gateway().addr.to_string(), &path, &data, 65536);
    // A byte in the second chunk's data: the first chunk has already gone to the backend.
    let at = req.body.len() - 30_000;
    req.body[at] ^= 1;
    let (status, body) = send(&req.headers, &path, &req.body, false);
    assert_eq!(
        (status, xml_tag(&body, "Code")),
        (403, Some("SignatureDoesNotMatch")),
        "{body}"
    );
    assert!(
        !object_exists(&b, "corrupt.bin").await,
        "a bad chunk must not commit the object"
    );
}

#[tokio::test]
async fn a_bad_final_chunk_signature_leaves_no_object() {
    let b = bucket("chunk-final").await;
    let path = format!("/{b}/final.bin");
    let data = vec![9u8; 70_000];
    let mut req = signed_chunked_put(&gateway().addr.to_string(), &path, &data, 65536);
    let n = req.body.len();
    req.body[n - 10] = if req.body[n - 10] == b'0' { b'1' } else { b'0' };
    let (status, body) = send(&req.headers, &path, &req.body, false);
    assert_eq!(
        (status, xml_tag(&body, "Code")),
        (403, Some("SignatureDoesNotMatch")),
        "{body}"
    );
    assert!(!object_exists(&b, "final.bin").await);
}

#[tokio::test]
async fn a_truncated_stream_leaves_no_object() {
    let b = bucket("chunk-trunc").await;
    let path = format!("/{b}/trunc.bin");
    let data = vec![3u8; 100_000];
    let req = signed_chunked_put(&gateway().addr.to_string(), &path, &data, 65536);
    let (status, _) = send(&req.headers, &path, &req.body[..req.body.len() - 200], true);
    assert_ne!(status, 200);
    assert!(!object_exists(&b, "trunc.bin").await);
}

#[tokio::test]
async fn a_decoded_length_mismatch_leaves_no_object() {
    let b = bucket("chunk-len").await;
    let path = format!("/{b}/len.bin");
    let data = vec![5u8; 10_000];
    let mut req = signed_chunked_put(&gateway().addr.to_string(), &path, &data, 4096);
    // Claiming more than is sent breaks the seed signature; claiming it unsigned is the attack.
    for (n, v) in req.headers.iter_mut() {
        if n == "x-amz-decoded-content-length" {
            *v = "9000".into();
        }
    }
    let (status, _) = send(&req.headers, &path, &req.body, false);
    assert_eq!(status, 403, "the decoded length is signed");
    assert!(!object_exists(&b, "len.bin").await);
}

fn unsigned_trailer_put(host: &str, path: &str, data: &[u8], crc: &str) -> Signed {
    let decoded = data.len().to_string();
    let mut headers = sign_headers(
        "PUT",
        host,
        path,
        &[
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", &decoded),
            ("x-amz-trailer", "x-amz-checksum-crc32"),
        ],
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        SystemTime::now(),
        MAIN,
    );
    let mut body = format!("{:x}\r\n", data.len()).into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n0\r\nx-amz-checksum-crc32:{crc}\r\n\r\n").as_bytes());
    headers.extend([
        ("host".into(), host.into()),
        ("content-encoding".into(), "aws-chunked".into()),
        ("x-amz-decoded-content-length".into(), decoded),
        ("x-amz-trailer".into(), "x-amz-checksum-crc32".into()),
        ("content-length".into(), body.len().to_string()),
    ]);
    Signed { headers, body }
}

fn crc32_base64(data: &[u8]) -> String {
    let mut d = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32IsoHdlc);
    d.update(data);
    base64::engine::general_purpose::STANDARD.encode((d.finalize() as u32).to_be_bytes())
}

#[tokio::test]
async fn trailing_checksums_are_verified() {
    let b = bucket("trailer").await;
    let host = gateway().addr.to_string();
    let data = b"checksummed by the gateway".repeat(1000);

    let path = format!("/{b}/ok.txt");
    let req = unsigned_trailer_put(&host, &path, &data, &crc32_base64(&data));
    let (status, body) = send(&req.headers, &path, &req.body, false);
    assert_eq!(status, 200, "{body}");
    assert!(object_exists(&b, "ok.txt").await);
    // The trailer's checksum is kept with the object, as a header's is.
    let head = client(MAIN)
        .head_object()
        .bucket(&b)
        .key("ok.txt")
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(head.checksum_crc32(), Some(crc32_base64(&data).as_str()));
    assert_eq!(
        head.checksum_type(),
        Some(&aws_sdk_s3::types::ChecksumType::FullObject)
    );

    let path = format!("/{b}/bad.txt");
    let req = unsigned_trailer_put(&host, &path, &data, &crc32_base64(b"something else"));
    let (status, body) = send(&req.headers, &path, &req.body, false);
    assert_eq!(
        (status, xml_tag(&body, "Code")),
        (400, Some("BadDigest")),
        "{body}"
    );
    assert!(
        !object_exists(&b, "bad.txt").await,
        "a checksum mismatch must not commit the object"
    );
}

/// The SDK's default for streaming bodies is signed aws-chunked with a CRC trailer; an empty
/// object takes the same path.
#[tokio::test]
async fn sdk_default_checksums_for_empty_and_small_streams() {
    let b = bucket("sdk-stream").await;
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    for (name, data) in [
        ("empty.bin", Vec::new()),
        ("small.bin", b"small body".to_vec()),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, &data).unwrap();
        client(MAIN)
            .put_object()
            .bucket(&b)
            .key(name)
            .body(ByteStream::from_path(&path).await.unwrap())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let got = client(MAIN)
            .get_object()
            .bucket(&b)
            .key(name)
            .send()
            .await
            .unwrap();
        assert_eq!(
            got.body.collect().await.unwrap().into_bytes().as_ref(),
            &data[..],
            "{name}"
        );
    }
}

/// A whole (non-chunked) body with an `x-amz-checksum-crc32` header is verified by the gateway:
/// the backend here would not check it.
#[tokio::test]
async fn whole_body_checksum_headers_are_verified() {
    let b = bucket("whole-crc").await;
    let host = gateway().addr.to_string();
    let data = b"a body with a checksum header".repeat(5000);
    for (key, crc, want) in [
        ("ok.bin", crc32_base64(&data), 200),
        ("bad.bin", crc32_base64(b"other"), 400),
    ] {
        let path = format!("/{b}/{key}");
        let mut headers = sign_headers(
            "PUT",
            &host,
            &path,
            &[("x-amz-checksum-crc32", &crc)],
            "UNSIGNED-PAYLOAD",
            SystemTime::now(),
            MAIN,
        );
        headers.extend([
            ("host".into(), host.clone()),
            ("x-amz-checksum-crc32".into(), crc.clone()),
            ("content-length".into(), data.len().to_string()),
        ]);
        let (status, body) = send(&headers, &path, &data, false);
        assert_eq!(status, want, "{key}: {body}");
        if want == 400 {
            assert_eq!(xml_tag(&body, "Code"), Some("BadDigest"));
        }
        assert_eq!(object_exists(&b, key).await, want == 200, "{key}");
    }
}

/// A checksum header on a signed aws-chunked body is verified against the decoded bytes (it
/// used to reach the backend unchecked), and the object keeps it: a mismatch stores nothing.
#[tokio::test]
async fn chunked_bodies_with_checksum_headers_are_verified() {
    let b = bucket("chunk-crc-header").await;
    let host = gateway().addr.to_string();
    let data: Vec<u8> = (0..150_000u32).map(|i| (i % 253) as u8).collect();
    for (key, crc, want) in [
        ("ok.bin", crc32_base64(&data), 200),
        ("bad.bin", crc32_base64(b"other"), 400),
    ] {
        let path = format!("/{b}/{key}");
        let req = signed_chunked_put_with(
            &host,
            &path,
            &data,
            65536,
            &[("x-amz-checksum-crc32", &crc)],
        );
        let (status, body) = send(&req.headers, &path, &req.body, false);
        assert_eq!(status, want, "{key}: {body}");
        if want == 400 {
            assert_eq!(xml_tag(&body, "Code"), Some("BadDigest"));
        }
        assert_eq!(object_exists(&b, key).await, want == 200, "{key}");
    }
    let head = client(MAIN)
        .head_object()
        .bucket(&b)
        .key("ok.bin")
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(head.checksum_crc32(), Some(crc32_base64(&data).as_str()));
}

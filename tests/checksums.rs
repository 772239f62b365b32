//! Checksums round-trip: a checksum the client sent and the gateway verified is answered back
//! by the upload and kept with the object, and full-object reads that ask for it
//! (`x-amz-checksum-mode: ENABLED`) get it, as S3 answers, over a backend (RGW 16) that keeps
//! none. Clients cannot plant one: the gateway's metadata entry is reserved.

mod common;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode};
use base64::Engine as _;
use common::*;
use sha2::Digest;

fn sha256_b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(data))
}

#[tokio::test]
async fn verified_checksums_are_kept_and_answered() {
    let c = client(MAIN);
    let b = bucket_name("cks-roundtrip");
    c.create_bucket().bucket(&b).send().await.unwrap();
    let data = b"A".repeat(1024);
    let sum = sha256_b64(&data);
    // The suite's own vector (ceph/s3-tests test_object_checksum_sha256).
    assert_eq!(sum, "arcu6553sHVAiX4MjW0j7I7vD4w6R+Gz9Ok0Q9lTa+0=");
    let put = c
        .put_object()
        .bucket(&b)
        .key("obj")
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .checksum_sha256(&sum)
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(put.checksum_sha256(), Some(sum.as_str()));

    let plain = c.head_object().bucket(&b).key("obj").send().await.unwrap();
    assert_eq!(
        plain.checksum_sha256(),
        None,
        "only asked-for reads answer it"
    );
    assert!(
        plain
            .metadata()
            .is_none_or(|m| m.keys().all(|k| !k.contains("bucketgate"))),
        "the gateway's entry is not user metadata: {:?}",
        plain.metadata()
    );
    let head = c
        .head_object()
        .bucket(&b)
        .key("obj")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(head.checksum_sha256(), Some(sum.as_str()));
    let get = c
        .get_object()
        .bucket(&b)
        .key("obj")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(get.checksum_sha256(), Some(sum.as_str()));
    assert_eq!(
        get.body.collect().await.unwrap().into_bytes().as_ref(),
        &data[..]
    );
    // A range is not the object: no full-object checksum.
    let range = c
        .get_object()
        .bucket(&b)
        .key("obj")
        .range("bytes=0-9")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(range.checksum_sha256(), None);

    // A copy keeps it (the bytes are the same).
    c.copy_object()
        .bucket(&b)
        .key("copy")
        .copy_source(format!("{b}/obj"))
        .send()
        .await
        .unwrap();
    let copy = c
        .head_object()
        .bucket(&b)
        .key("copy")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(copy.checksum_sha256(), Some(sum.as_str()));

    // A wrong one stores nothing and leaves the object as it was.
    let e = c
        .put_object()
        .bucket(&b)
        .key("obj")
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .checksum_sha256(sha256_b64(b"other"))
        .body(ByteStream::from(b"other bytes".to_vec()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("BadDigest"));
    let kept = c.get_object().bucket(&b).key("obj").send().await.unwrap();
    assert_eq!(
        kept.body.collect().await.unwrap().into_bytes().as_ref(),
        &data[..]
    );
}

/// The gateway's metadata entry cannot be set by a client: a forged checksum is not stored.
#[tokio::test]
async fn a_client_cannot_plant_a_checksum() {
    let c = client(MAIN);
    let b = bucket_name("cks-forged");
    c.create_bucket().bucket(&b).send().await.unwrap();
    c.put_object()
        .bucket(&b)
        .key("obj")
        .metadata(
            "bucketgate-checksum",
            "SHA256 arcu6553sHVAiX4MjW0j7I7vD4w6R+Gz9Ok0Q9lTa+0=",
        )
        .body(ByteStream::from_static(b"not those bytes"))
        .send()
        .await
        .unwrap();
    let head = c
        .head_object()
        .bucket(&b)
        .key("obj")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(head.checksum_sha256(), None);
}

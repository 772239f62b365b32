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

fn b64(raw: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(raw)
}

/// Uploads `parts` to a new multipart upload of `key` declared with `algorithm` (and `kind`),
/// each part with its checksum, and answers the upload id and the parts' checksums.
async fn upload_parts(
    c: &aws_sdk_s3::Client,
    b: &str,
    key: &str,
    algorithm: ChecksumAlgorithm,
    kind: Option<aws_sdk_s3::types::ChecksumType>,
    parts: &[Vec<u8>],
) -> (String, Vec<aws_sdk_s3::types::CompletedPart>) {
    let create = c
        .create_multipart_upload()
        .bucket(b)
        .key(key)
        .checksum_algorithm(algorithm.clone())
        .set_checksum_type(kind)
        .send()
        .await
        .unwrap();
    assert_eq!(create.checksum_algorithm(), Some(&algorithm));
    let upload_id = create.upload_id().unwrap().to_owned();
    let mut done = Vec::new();
    for (i, data) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let part = c
            .upload_part()
            .bucket(b)
            .key(key)
            .upload_id(&upload_id)
            .part_number(n)
            .checksum_algorithm(algorithm.clone())
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
        done.push(
            aws_sdk_s3::types::CompletedPart::builder()
                .part_number(n)
                .e_tag(part.e_tag().unwrap())
                .set_checksum_sha256(part.checksum_sha256().map(str::to_owned))
                .set_checksum_crc64_nvme(part.checksum_crc64_nvme().map(str::to_owned))
                .set_checksum_crc32(part.checksum_crc32().map(str::to_owned))
                .build(),
        );
    }
    (upload_id, done)
}

/// Multipart uploads get S3's object checksum: COMPOSITE is the algorithm over the parts'
/// checksums with `-<parts>`, FULL_OBJECT the CRC of the whole object; the completion answers
/// it and full-object reads that ask for it get it.
#[tokio::test]
async fn multipart_checksums_are_combined_and_answered() {
    use aws_sdk_s3::types::{ChecksumType, CompletedMultipartUpload};
    let c = client(MAIN);
    let b = bucket_name("cks-multipart");
    c.create_bucket().bucket(&b).send().await.unwrap();
    let parts = vec![vec![b'x'; 5 * 1024 * 1024], b"the last part".to_vec()];

    // SHA-256, composite.
    let (upload_id, done) =
        upload_parts(&c, &b, "composite", ChecksumAlgorithm::Sha256, None, &parts).await;
    let mut raw = Vec::new();
    for p in &parts {
        raw.extend_from_slice(&sha2::Sha256::digest(p));
    }
    let composite = format!("{}-2", sha256_b64(&raw));
    // ListParts lists each part's checksum, as S3 does.
    let listed = c
        .list_parts()
        .bucket(&b)
        .key("composite")
        .upload_id(&upload_id)
        .send()
        .await
        .unwrap();
    let listed: Vec<Option<&str>> = listed.parts().iter().map(|p| p.checksum_sha256()).collect();
    let uploaded: Vec<Option<&str>> = done.iter().map(|p| p.checksum_sha256()).collect();
    assert_eq!(listed, uploaded);
    assert!(listed.iter().all(Option::is_some));
    let complete = |claim: String| {
        c.complete_multipart_upload()
            .bucket(&b)
            .key("composite")
            .upload_id(&upload_id)
            .checksum_sha256(claim)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(done.clone()))
                    .build(),
            )
            .send()
    };
    // The object checksum the request gives is checked before anything completes.
    let e = complete(format!("{}-2", sha256_b64(b"wrong")))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("BadDigest"), "{e:?}");
    let complete = complete(composite.clone()).await.unwrap();
    assert_eq!(complete.checksum_sha256(), Some(composite.as_str()));
    assert_eq!(complete.checksum_type(), Some(&ChecksumType::Composite));
    let head = c
        .head_object()
        .bucket(&b)
        .key("composite")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(head.checksum_sha256(), Some(composite.as_str()));
    assert_eq!(head.checksum_type(), Some(&ChecksumType::Composite));

    // CRC64NVME, full object: the CRC of every byte, whatever the parts.
    let (upload_id, done) = upload_parts(
        &c,
        &b,
        "full",
        ChecksumAlgorithm::Crc64Nvme,
        Some(ChecksumType::FullObject),
        &parts,
    )
    .await;
    let complete = c
        .complete_multipart_upload()
        .bucket(&b)
        .key("full")
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut whole = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Nvme);
    for p in &parts {
        whole.update(p);
    }
    let full = b64(&whole.finalize().to_be_bytes());
    assert_eq!(complete.checksum_crc64_nvme(), Some(full.as_str()));
    assert_eq!(complete.checksum_type(), Some(&ChecksumType::FullObject));
    let get = c
        .get_object()
        .bucket(&b)
        .key("full")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(get.checksum_crc64_nvme(), Some(full.as_str()));
    let body = get.body.collect().await.unwrap().into_bytes();
    assert_eq!(body.len(), parts[0].len() + parts[1].len());
}

/// A copy keeps its source's checksum (AWS: "if the source object has a checksum, that
/// checksum value will be copied to the new object by default"), whatever the metadata
/// directive, a multipart source's composite one included; naming another algorithm gets
/// that algorithm's checksum of the copy, computed by the gateway.
#[tokio::test]
async fn copies_keep_their_source_checksum_or_compute_the_one_asked() {
    use aws_sdk_s3::types::{ChecksumType, CompletedMultipartUpload, MetadataDirective};
    let c = client(MAIN);
    let b = bucket_name("cks-copies");
    c.create_bucket().bucket(&b).send().await.unwrap();
    let body = b"copied with its checksum".to_vec();
    c.put_object()
        .bucket(&b)
        .key("source")
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    let sha = sha256_b64(&body);
    let head_checksums = async |key: &str| {
        let h = c
            .head_object()
            .bucket(&b)
            .key(key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        (
            h.checksum_sha256().map(str::to_owned),
            h.checksum_crc32().map(str::to_owned),
            h.checksum_type().cloned(),
        )
    };
    for directive in [MetadataDirective::Copy, MetadataDirective::Replace] {
        let key = format!("copy-{}", directive.as_str());
        let copied = c
            .copy_object()
            .bucket(&b)
            .key(&key)
            .copy_source(format!("{b}/source"))
            .metadata_directive(directive)
            .send()
            .await
            .unwrap();
        let result = copied.copy_object_result().unwrap();
        assert_eq!(result.checksum_sha256(), Some(sha.as_str()), "{key}");
        assert_eq!(
            head_checksums(&key).await,
            (Some(sha.clone()), None, Some(ChecksumType::FullObject)),
            "{key}"
        );
    }

    let crc = b64(
        &(crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32IsoHdlc, &body) as u32).to_be_bytes(),
    );
    let computed = c
        .copy_object()
        .bucket(&b)
        .key("copy-crc32")
        .copy_source(format!("{b}/source"))
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .send()
        .await
        .unwrap();
    assert_eq!(
        computed.copy_object_result().unwrap().checksum_crc32(),
        Some(crc.as_str())
    );
    assert_eq!(
        head_checksums("copy-crc32").await,
        (None, Some(crc.clone()), Some(ChecksumType::FullObject))
    );
    let copied = c
        .get_object()
        .bucket(&b)
        .key("copy-crc32")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(copied.as_ref(), body.as_slice());

    let parts = vec![vec![b'y'; 5 * 1024 * 1024], b"tail".to_vec()];
    let (upload_id, done) =
        upload_parts(&c, &b, "multipart", ChecksumAlgorithm::Sha256, None, &parts).await;
    let complete = c
        .complete_multipart_upload()
        .bucket(&b)
        .key("multipart")
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let composite = complete.checksum_sha256().unwrap().to_owned();
    c.copy_object()
        .bucket(&b)
        .key("multipart-copy")
        .copy_source(format!("{b}/multipart"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        head_checksums("multipart-copy").await,
        (Some(composite), None, Some(ChecksumType::Composite))
    );

    let e = c
        .copy_object()
        .bucket(&b)
        .key("refused")
        .copy_source(format!("{b}/source"))
        .checksum_algorithm(ChecksumAlgorithm::from("MD5"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidRequest"), "{e:?}");
}

/// A completion cannot claim a part checksum other than the one the gateway verified, and a
/// part uploaded again counts with its new checksum.
#[tokio::test]
async fn completions_cannot_claim_other_part_checksums() {
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    let c = client(MAIN);
    let b = bucket_name("cks-claims");
    c.create_bucket().bucket(&b).send().await.unwrap();
    let first = vec![vec![b'a'; 5 * 1024 * 1024], b"end".to_vec()];
    let (upload_id, mut done) =
        upload_parts(&c, &b, "k", ChecksumAlgorithm::Sha256, None, &first).await;

    let forged: Vec<CompletedPart> = done
        .iter()
        .map(|p| {
            CompletedPart::builder()
                .part_number(p.part_number().unwrap())
                .e_tag(p.e_tag().unwrap())
                .checksum_sha256(sha256_b64(b"not these bytes"))
                .build()
        })
        .collect();
    let e = c
        .complete_multipart_upload()
        .bucket(&b)
        .key("k")
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(forged))
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidPart"), "{e:?}");

    // Part 2 again, other bytes: the completion takes the new part and its checksum.
    let again = c
        .upload_part()
        .bucket(&b)
        .key("k")
        .upload_id(&upload_id)
        .part_number(2)
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .body(ByteStream::from(b"another end".to_vec()))
        .send()
        .await
        .unwrap();
    done[1] = CompletedPart::builder()
        .part_number(2)
        .e_tag(again.e_tag().unwrap())
        .build();
    let complete = c
        .complete_multipart_upload()
        .bucket(&b)
        .key("k")
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut raw = Vec::new();
    raw.extend_from_slice(&sha2::Sha256::digest(&first[0]));
    raw.extend_from_slice(&sha2::Sha256::digest(b"another end"));
    assert_eq!(
        complete.checksum_sha256(),
        Some(format!("{}-2", sha256_b64(&raw)).as_str())
    );
}

/// A part checksum is kept by the gateway under a name in its system bucket; base64 values
/// carry `/` and `+`, and a backend that reads a key as a path (SeaweedFS folds `//` into
/// `/`) must not change the value it gives back. The last part's bytes are chosen so that its
/// CRC32 starts with `//`.
#[tokio::test]
async fn part_checksums_with_slashes_survive_the_state_store() {
    use aws_sdk_s3::types::CompletedMultipartUpload;
    let c = client(MAIN);
    let b = bucket_name("cks-slashes");
    c.create_bucket().bucket(&b).send().await.unwrap();
    let parts = vec![
        vec![b'x'; 5 * 1024 * 1024],
        b"a part whose CRC32 has slashes 2751".to_vec(),
    ];
    let (upload_id, done) =
        upload_parts(&c, &b, "slashes", ChecksumAlgorithm::Crc32, None, &parts).await;
    assert_eq!(done[1].checksum_crc32(), Some("//haWw=="));
    let complete = c
        .complete_multipart_upload()
        .bucket(&b)
        .key("slashes")
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let crc32 = |data: &[u8]| crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32IsoHdlc, data) as u32;
    let raw: Vec<u8> = parts.iter().flat_map(|p| crc32(p).to_be_bytes()).collect();
    let composite = format!("{}-2", b64(&crc32(&raw).to_be_bytes()));
    assert_eq!(complete.checksum_crc32(), Some(composite.as_str()));
}

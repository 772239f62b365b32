//! The walking skeleton's operations, end to end through the gateway to Ceph RGW, driven by the
//! real aws-sdk-s3 client with gateway-only credentials.

mod common;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CompletedMultipartUpload, CompletedPart, CreateBucketConfiguration,
    Delete, ObjectIdentifier,
};
use common::*;

async fn create_bucket(client: &aws_sdk_s3::Client, name: &str) {
    client
        .create_bucket()
        .bucket(name)
        .create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(REGION))
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("create {name}: {e:?}"));
}

#[tokio::test]
async fn bucket_create_head_list_delete() {
    let c = client(MAIN);
    let b = bucket_name("lifecycle");
    create_bucket(&c, &b).await;
    c.head_bucket().bucket(&b).send().await.unwrap();
    let listed = c.list_buckets().send().await.unwrap();
    assert!(
        listed
            .buckets()
            .iter()
            .any(|x| x.name() == Some(b.as_str())),
        "{listed:?}"
    );
    c.delete_bucket().bucket(&b).send().await.unwrap();
    let gone = c.head_bucket().bucket(&b).send().await.unwrap_err();
    assert_eq!(gone.raw_response().map(|r| r.status().as_u16()), Some(404));
}

#[tokio::test]
async fn another_region_is_refused() {
    let c = client(MAIN);
    let err = c
        .create_bucket()
        .bucket(bucket_name("wrong-region"))
        .create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    let e = err.into_service_error();
    assert_eq!(
        aws_sdk_s3::error::ProvideErrorMetadata::code(&e),
        Some("InvalidLocationConstraint")
    );
}

#[tokio::test]
async fn objects_put_get_head_range_conditional_copy_delete() {
    let c = client(MAIN);
    let b = bucket_name("objects");
    create_bucket(&c, &b).await;
    let keys = [
        "plain.txt",
        "dir/with space+plus.txt",
        "unicode/ሴ-é.txt",
        "double//slash",
        "q?mark#hash",
    ];
    // A backend that folds `a//b` into `a/b` refuses such keys (tests/listing.rs).
    let keys: Vec<&str> = keys
        .into_iter()
        .filter(|k| !(backend_kind() == "seaweedfs" && k.contains("//")))
        .collect();
    for key in keys.iter().copied() {
        c.put_object()
            .bucket(&b)
            .key(key)
            .body(ByteStream::from_static(b"0123456789abcdef"))
            .content_type("text/plain")
            .metadata("colour", "blue")
            .send()
            .await
            .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
        let got = c.get_object().bucket(&b).key(key).send().await.unwrap();
        assert_eq!(got.content_type(), Some("text/plain"));
        assert_eq!(
            got.body.collect().await.unwrap().into_bytes().as_ref(),
            b"0123456789abcdef",
            "{key}"
        );
    }
    let head = c
        .head_object()
        .bucket(&b)
        .key("plain.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(16));
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("colour"))
            .map(String::as_str),
        Some("blue")
    );

    let range = c
        .get_object()
        .bucket(&b)
        .key("plain.txt")
        .range("bytes=2-5")
        .send()
        .await
        .unwrap();
    assert_eq!(range.content_range(), Some("bytes 2-5/16"));
    assert_eq!(
        range.body.collect().await.unwrap().into_bytes().as_ref(),
        b"2345"
    );

    let etag = head.e_tag().unwrap().to_owned();
    let not_modified = c
        .get_object()
        .bucket(&b)
        .key("plain.txt")
        .if_none_match(&etag)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        not_modified.raw_response().map(|r| r.status().as_u16()),
        Some(304)
    );
    let failed = c
        .get_object()
        .bucket(&b)
        .key("plain.txt")
        .if_match("\"nope\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        failed.raw_response().map(|r| r.status().as_u16()),
        Some(412)
    );

    c.copy_object()
        .bucket(&b)
        .key("copy.txt")
        .copy_source(format!("{b}/dir/with%20space%2Bplus.txt"))
        .send()
        .await
        .unwrap();
    let copied = c
        .get_object()
        .bucket(&b)
        .key("copy.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(
        copied.body.collect().await.unwrap().into_bytes().as_ref(),
        b"0123456789abcdef"
    );

    let missing = c
        .get_object()
        .bucket(&b)
        .key("missing")
        .send()
        .await
        .unwrap_err();
    let e = missing.into_service_error();
    assert!(e.is_no_such_key(), "backend errors pass through: {e:?}");

    c.delete_object()
        .bucket(&b)
        .key("copy.txt")
        .send()
        .await
        .unwrap();
    let all: Vec<ObjectIdentifier> = keys
        .iter()
        .map(|k| ObjectIdentifier::builder().key(*k).build().unwrap())
        .collect();
    let deleted = c
        .delete_objects()
        .bucket(&b)
        .delete(Delete::builder().set_objects(Some(all)).build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.deleted().len(), keys.len(), "{deleted:?}");
    let left = c.list_objects_v2().bucket(&b).send().await.unwrap();
    assert_eq!(left.key_count(), Some(0));
    c.delete_bucket().bucket(&b).send().await.unwrap();
}

#[tokio::test]
async fn listings_v1_and_v2_with_prefix_and_delimiter() {
    let c = client(MAIN);
    let b = bucket_name("listings");
    create_bucket(&c, &b).await;
    for key in ["a/1", "a/2", "b/1", "top", "with space/x"] {
        c.put_object()
            .bucket(&b)
            .key(key)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
    }
    let v2 = c
        .list_objects_v2()
        .bucket(&b)
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let prefixes: Vec<_> = v2
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(prefixes, ["a/", "b/", "with space/"]);
    assert_eq!(
        v2.contents()
            .iter()
            .filter_map(|o| o.key())
            .collect::<Vec<_>>(),
        ["top"]
    );

    let v1 = c
        .list_objects()
        .bucket(&b)
        .prefix("a/")
        .max_keys(1)
        .send()
        .await
        .unwrap();
    assert_eq!(v1.contents().len(), 1);
    assert_eq!(v1.is_truncated(), Some(true));
    let page2 = c
        .list_objects_v2()
        .bucket(&b)
        .prefix("a/")
        .max_keys(1)
        .send()
        .await
        .unwrap();
    let token = page2.next_continuation_token().unwrap();
    let rest = c
        .list_objects_v2()
        .bucket(&b)
        .prefix("a/")
        .continuation_token(token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        rest.contents()
            .iter()
            .filter_map(|o| o.key())
            .collect::<Vec<_>>(),
        ["a/2"]
    );
    let spaced = c
        .list_objects_v2()
        .bucket(&b)
        .prefix("with space/")
        .send()
        .await
        .unwrap();
    assert_eq!(spaced.key_count(), Some(1));
}

#[tokio::test]
async fn multipart_create_upload_list_complete_and_abort() {
    let c = client(MAIN);
    let b = bucket_name("multipart");
    create_bucket(&c, &b).await;
    let up = c
        .create_multipart_upload()
        .bucket(&b)
        .key("big.bin")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let part1 = vec![b'a'; 5 * 1024 * 1024];
    let part2 = vec![b'b'; 1024];
    let mut done = Vec::new();
    for (n, data) in [(1, part1), (2, part2)] {
        let r = c
            .upload_part()
            .bucket(&b)
            .key("big.bin")
            .upload_id(id)
            .part_number(n)
            .body(ByteStream::from(data))
            .send()
            .await
            .unwrap();
        done.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(r.e_tag().unwrap())
                .build(),
        );
    }
    let parts = c
        .list_parts()
        .bucket(&b)
        .key("big.bin")
        .upload_id(id)
        .send()
        .await
        .unwrap();
    assert_eq!(parts.parts().len(), 2);
    let uploads = c.list_multipart_uploads().bucket(&b).send().await.unwrap();
    assert!(uploads.uploads().iter().any(|u| u.upload_id() == Some(id)));
    c.complete_multipart_upload()
        .bucket(&b)
        .key("big.bin")
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let head = c
        .head_object()
        .bucket(&b)
        .key("big.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(5 * 1024 * 1024 + 1024));
    assert!(
        head.e_tag().unwrap().ends_with("-2\""),
        "{:?}",
        head.e_tag()
    );

    let aborted = c
        .create_multipart_upload()
        .bucket(&b)
        .key("gone.bin")
        .send()
        .await
        .unwrap();
    let aid = aborted.upload_id().unwrap();
    c.abort_multipart_upload()
        .bucket(&b)
        .key("gone.bin")
        .upload_id(aid)
        .send()
        .await
        .unwrap();
    let err = c
        .list_parts()
        .bucket(&b)
        .key("gone.bin")
        .upload_id(aid)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(404));
}

#[tokio::test]
async fn unsupported_operations_answer_501_not_implemented() {
    let c = client(MAIN);
    let b = bucket_name("notimpl");
    create_bucket(&c, &b).await;
    let err = c
        .get_bucket_encryption()
        .bucket(&b)
        .send()
        .await
        .unwrap_err();
    let raw = err.raw_response().unwrap();
    assert_eq!(raw.status().as_u16(), 501);
    let e = err.into_service_error();
    assert_eq!(
        aws_sdk_s3::error::ProvideErrorMetadata::code(&e),
        Some("NotImplemented")
    );
    assert!(
        aws_sdk_s3::error::ProvideErrorMetadata::message(&e)
            .unwrap()
            .contains("GetBucketEncryption")
    );
    let err = c
        .get_bucket_replication()
        .bucket(&b)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(501));
}

//! The Spaces profile's element rules and limits, end to end with aws-sdk-s3: refused before
//! anything reaches the backend, with the AWS error and a message naming the element.

mod common;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ObjectCannedAcl, ServerSideEncryption};
use common::*;

fn status_code_message<E: ProvideErrorMetadata>(
    err: aws_sdk_s3::error::SdkError<E>,
) -> (u16, String, String) {
    let status = err.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
    (
        status,
        err.code().unwrap_or("").to_owned(),
        err.message().unwrap_or("").to_owned(),
    )
}

#[tokio::test]
async fn unsupported_elements_are_not_implemented() {
    let c = client(MAIN);
    let b = bucket_name("profile");
    let _ = c.create_bucket().bucket(&b).send().await;

    let err = c
        .put_object()
        .bucket(&b)
        .key("k")
        .acl(ObjectCannedAcl::AuthenticatedRead)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    let (status, code, message) = status_code_message(err);
    assert_eq!((status, code.as_str()), (501, "NotImplemented"));
    assert!(message.contains("authenticated-read"), "{message}");

    let err = c
        .put_object()
        .bucket(&b)
        .key("k")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    let (status, code, message) = status_code_message(err);
    assert_eq!((status, code.as_str()), (501, "NotImplemented"));
    assert!(message.contains("aws:kms"), "{message}");

    let err = c
        .put_object()
        .bucket(&b)
        .key("k")
        .grant_read("id=someone")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(status_code_message(err).1, "NotImplemented");
    assert!(
        c.head_object().bucket(&b).key("k").send().await.is_err(),
        "nothing was stored"
    );

    c.put_object()
        .bucket(&b)
        .key("k")
        .acl(ObjectCannedAcl::PublicRead)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect("public-read is in the profile");
}

#[tokio::test]
async fn limits_answer_their_aws_errors() {
    let c = client(MAIN);
    let b = bucket_name("limits");
    let _ = c.create_bucket().bucket(&b).send().await;
    let long_key = "k".repeat(1025);
    let err = c
        .put_object()
        .bucket(&b)
        .key(&long_key)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(status_code_message(err).1, "KeyTooLongError");

    let err = c
        .put_object()
        .bucket(&b)
        .key("meta")
        .metadata("big", "v".repeat(2100))
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(status_code_message(err).1, "MetadataTooLarge");

    let err = c
        .create_bucket()
        .bucket("Not_A_Valid_Name")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status_code_message(err).1, "InvalidBucketName");

    let up = c
        .create_multipart_upload()
        .bucket(&b)
        .key("mp")
        .send()
        .await
        .unwrap();
    let err = c
        .upload_part()
        .bucket(&b)
        .key("mp")
        .upload_id(up.upload_id().unwrap())
        .part_number(10001)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(status_code_message(err).1, "InvalidArgument");
}

//! Conditional writes as Terraform/OpenTofu's S3 state locking uses them (no binary here: the
//! request sequence, by aws-sdk-s3): the lock is written with `If-None-Match: *`, a second
//! writer gets `412`, state is written with `If-Match` on the previous ETag, and of two
//! concurrent lockers exactly one wins, every round. A condition the backend would ignore is
//! refused with `501`, never dropped.

mod common;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use common::*;

fn status<E>(e: &aws_sdk_s3::error::SdkError<E>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

#[tokio::test]
async fn terraform_state_locking() {
    let c = client(MAIN);
    let b = bucket_name("cond-lock");
    c.create_bucket().bucket(&b).send().await.unwrap();
    let lock = |body: &'static [u8]| {
        c.put_object()
            .bucket(&b)
            .key("env/terraform.tfstate.tflock")
            .if_none_match("*")
            .body(ByteStream::from_static(body))
            .send()
    };
    lock(b"{\"ID\":\"one\"}").await.unwrap();
    let e = lock(b"{\"ID\":\"two\"}").await.unwrap_err();
    assert_eq!(
        (status(&e), e.code()),
        (Some(412), Some("PreconditionFailed"))
    );

    let first = c
        .put_object()
        .bucket(&b)
        .key("env/terraform.tfstate")
        .body(ByteStream::from_static(b"{\"serial\":1}"))
        .send()
        .await
        .unwrap();
    let etag = first.e_tag().unwrap().to_owned();
    let second = c
        .put_object()
        .bucket(&b)
        .key("env/terraform.tfstate")
        .if_match(&etag)
        .body(ByteStream::from_static(b"{\"serial\":2}"))
        .send()
        .await
        .unwrap();
    let stale = c
        .put_object()
        .bucket(&b)
        .key("env/terraform.tfstate")
        .if_match(&etag)
        .body(ByteStream::from_static(b"{\"serial\":3}"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&stale), Some(412));
    let state = c
        .get_object()
        .bucket(&b)
        .key("env/terraform.tfstate")
        .send()
        .await
        .unwrap();
    assert_eq!(state.e_tag(), second.e_tag());
    assert_eq!(
        state.body.collect().await.unwrap().into_bytes().as_ref(),
        b"{\"serial\":2}"
    );
    c.delete_object()
        .bucket(&b)
        .key("env/terraform.tfstate.tflock")
        .send()
        .await
        .unwrap();
    lock(b"{\"ID\":\"three\"}").await.unwrap();

    // Two lockers at once: exactly one wins, every round.
    for round in 0..100 {
        let key = format!("race/{round}.tflock");
        let attempt = |who: &'static [u8]| {
            c.put_object()
                .bucket(&b)
                .key(&key)
                .if_none_match("*")
                .body(ByteStream::from_static(who))
                .send()
        };
        let (a, z) = tokio::join!(attempt(b"a"), attempt(b"z"));
        let wins = [a.is_ok(), z.is_ok()].iter().filter(|w| **w).count();
        assert_eq!(wins, 1, "round {round}: {a:?} {z:?}");
        for loser in [a.err(), z.err()].into_iter().flatten() {
            assert_eq!(status(&loser), Some(412), "round {round}: {loser:?}");
        }
    }
}

/// Conditions a backend would ignore (RGW 16: on DeleteObject and CompleteMultipartUpload)
/// are refused, and `If-None-Match` on a write takes only `*`.
#[tokio::test]
async fn conditions_the_backend_ignores_are_refused() {
    let c = client(MAIN);
    let b = bucket_name("cond-refused");
    c.create_bucket().bucket(&b).send().await.unwrap();
    let put = c
        .put_object()
        .bucket(&b)
        .key("k")
        .body(ByteStream::from_static(b"v"))
        .send()
        .await
        .unwrap();
    let e = c
        .delete_object()
        .bucket(&b)
        .key("k")
        .if_match("\"not-the-etag\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!((status(&e), e.code()), (Some(501), Some("NotImplemented")));
    assert!(c.head_object().bucket(&b).key("k").send().await.is_ok());

    let e = c
        .put_object()
        .bucket(&b)
        .key("k")
        .if_none_match(put.e_tag().unwrap())
        .body(ByteStream::from_static(b"w"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), Some(501));

    let upload = c
        .create_multipart_upload()
        .bucket(&b)
        .key("k")
        .send()
        .await
        .unwrap();
    let id = upload.upload_id().unwrap();
    let part = c
        .upload_part()
        .bucket(&b)
        .key("k")
        .upload_id(id)
        .part_number(1)
        .body(ByteStream::from_static(b"part"))
        .send()
        .await
        .unwrap();
    let e = c
        .complete_multipart_upload()
        .bucket(&b)
        .key("k")
        .upload_id(id)
        .if_none_match("*")
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
        .unwrap_err();
    assert_eq!(status(&e), Some(501));
    let kept = c.get_object().bucket(&b).key("k").send().await.unwrap();
    assert_eq!(
        kept.body.collect().await.unwrap().into_bytes().as_ref(),
        b"v"
    );
}

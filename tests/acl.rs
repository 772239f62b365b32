//! Canned ACLs and anonymous access, end to end: `private` and `public-read` on buckets and
//! objects, through headers and AccessControlPolicy bodies; anonymous reads with curl.

mod common;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    AccessControlPolicy, BucketCannedAcl, BucketVersioningStatus, Grant, Grantee, ObjectCannedAcl,
    Owner, Permission, Type, VersioningConfiguration,
};
use common::*;

/// An anonymous request: (status, body).
fn anonymous(method: &str, target: &str) -> (u16, String) {
    let gw = gateway();
    let (status, _, body) = raw_request(
        gw.addr,
        &format_request(method, target, &[("host".into(), gw.addr.to_string())], b""),
    );
    (status, body)
}

async fn setup(test: &str) -> (aws_sdk_s3::Client, String) {
    let c = client(MAIN);
    let b = bucket_name(test);
    c.create_bucket().bucket(&b).send().await.unwrap();
    (c, b)
}

async fn put(c: &aws_sdk_s3::Client, b: &str, key: &str, acl: Option<ObjectCannedAcl>) {
    c.put_object()
        .bucket(b)
        .key(key)
        .set_acl(acl)
        .body(ByteStream::from_static(b"content"))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn public_read_objects_are_readable_anonymously_and_private_ones_are_not() {
    let (c, b) = setup("acl-objects").await;
    put(&c, &b, "public.txt", Some(ObjectCannedAcl::PublicRead)).await;
    put(&c, &b, "private.txt", None).await;
    assert_eq!(
        anonymous("GET", &format!("/{b}/public.txt")),
        (200, "content".into())
    );
    assert_eq!(anonymous("HEAD", &format!("/{b}/public.txt")).0, 200);
    let (status, body) = anonymous("GET", &format!("/{b}/private.txt"));
    assert_eq!(
        (status, xml_tag(&body, "Code")),
        (403, Some("AccessDenied"))
    );
    // Missing keys are not told apart from private ones while the bucket is private.
    assert_eq!(anonymous("GET", &format!("/{b}/missing.txt")).0, 403);
    // Anonymous writes and listings of a private bucket are refused.
    assert_eq!(anonymous("GET", &format!("/{b}")).0, 403);
    assert_eq!(anonymous("DELETE", &format!("/{b}/public.txt")).0, 403);
    // The ACL metadata never shows.
    let head = c
        .head_object()
        .bucket(&b)
        .key("public.txt")
        .send()
        .await
        .unwrap();
    assert!(
        head.metadata().is_none_or(|m| m.is_empty()),
        "{:?}",
        head.metadata()
    );
}

#[tokio::test]
async fn overwrite_makes_private_and_copies_do_not_inherit() {
    let (c, b) = setup("acl-overwrite").await;
    put(&c, &b, "o.txt", Some(ObjectCannedAcl::PublicRead)).await;
    c.copy_object()
        .bucket(&b)
        .key("copy.txt")
        .copy_source(format!("{b}/o.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        anonymous("GET", &format!("/{b}/copy.txt")).0,
        403,
        "a copy is private unless asked"
    );
    c.copy_object()
        .bucket(&b)
        .key("public-copy.txt")
        .copy_source(format!("{b}/o.txt"))
        .acl(ObjectCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous("GET", &format!("/{b}/public-copy.txt")).0, 200);
    put(&c, &b, "o.txt", None).await;
    assert_eq!(
        anonymous("GET", &format!("/{b}/o.txt")).0,
        403,
        "a new PUT without an ACL is private"
    );
    c.delete_object()
        .bucket(&b)
        .key("public-copy.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous("GET", &format!("/{b}/public-copy.txt")).0, 403);
}

#[tokio::test]
async fn put_and_get_object_acl() {
    let (c, b) = setup("acl-put-object").await;
    c.put_object()
        .bucket(&b)
        .key("k")
        .content_type("text/plain")
        .metadata("colour", "blue")
        .body(ByteStream::from_static(b"content"))
        .send()
        .await
        .unwrap();
    let acl = c.get_object_acl().bucket(&b).key("k").send().await.unwrap();
    assert_eq!(acl.grants().len(), 1);
    assert_eq!(acl.owner().and_then(|o| o.id()), Some("main"));

    c.put_object_acl()
        .bucket(&b)
        .key("k")
        .acl(ObjectCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    assert_eq!(
        anonymous("GET", &format!("/{b}/k")),
        (200, "content".into())
    );
    let acl = c.get_object_acl().bucket(&b).key("k").send().await.unwrap();
    assert!(acl.grants().iter().any(|g| {
        g.grantee()
            .and_then(|x| x.uri())
            .is_some_and(|u| u.ends_with("AllUsers"))
    }));
    let head = c.head_object().bucket(&b).key("k").send().await.unwrap();
    assert_eq!(
        head.content_type(),
        Some("text/plain"),
        "metadata survives an ACL change"
    );
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("colour"))
            .map(String::as_str),
        Some("blue")
    );

    // Back to private with an AccessControlPolicy body holding only the owner's grant.
    let owner = Owner::builder().id("main").build();
    let full = Grant::builder()
        .grantee(
            Grantee::builder()
                .r#type(Type::CanonicalUser)
                .id("main")
                .build()
                .unwrap(),
        )
        .permission(Permission::FullControl)
        .build();
    c.put_object_acl()
        .bucket(&b)
        .key("k")
        .access_control_policy(
            AccessControlPolicy::builder()
                .owner(owner.clone())
                .grants(full.clone())
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous("GET", &format!("/{b}/k")).0, 403);

    // A grant the profile does not support.
    let write = Grant::builder()
        .grantee(
            Grantee::builder()
                .r#type(Type::CanonicalUser)
                .id("alt")
                .build()
                .unwrap(),
        )
        .permission(Permission::Write)
        .build();
    let err = c
        .put_object_acl()
        .bucket(&b)
        .key("k")
        .access_control_policy(
            AccessControlPolicy::builder()
                .owner(owner)
                .grants(full)
                .grants(write)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NotImplemented"));
    // Another user may not read or change the ACL.
    let err = client(ALT)
        .get_object_acl()
        .bucket(&b)
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"));
}

#[tokio::test]
async fn public_read_buckets_list_anonymously() {
    let c = client(MAIN);
    let b = bucket_name("acl-bucket");
    c.create_bucket()
        .bucket(&b)
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    put(&c, &b, "listed.txt", None).await;
    let (status, body) = anonymous("GET", &format!("/{b}?list-type=2"));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<Key>listed.txt</Key>"), "{body}");
    assert_eq!(
        anonymous("GET", &format!("/{b}/listed.txt")).0,
        403,
        "object ACLs still decide reads"
    );
    assert_eq!(
        anonymous("GET", &format!("/{b}/missing.txt")).0,
        404,
        "a public listing may tell what is missing"
    );
    let acl = c.get_bucket_acl().bucket(&b).send().await.unwrap();
    assert_eq!(acl.grants().len(), 2);

    c.put_bucket_acl()
        .bucket(&b)
        .acl(BucketCannedAcl::Private)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous("GET", &format!("/{b}?list-type=2")).0, 403);
    let err = c
        .put_bucket_acl()
        .bucket(&b)
        .acl(BucketCannedAcl::AuthenticatedRead)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NotImplemented"));
}

#[tokio::test]
async fn acls_are_per_version() {
    let (c, b) = setup("acl-versions").await;
    let enabled = c
        .put_bucket_versioning()
        .bucket(&b)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await;
    if refused_without("versioning", &enabled) {
        return;
    }
    enabled.unwrap();
    let v1 = c
        .put_object()
        .bucket(&b)
        .key("k")
        .acl(ObjectCannedAcl::PublicRead)
        .body(ByteStream::from_static(b"one"))
        .send()
        .await
        .unwrap();
    let v1 = v1.version_id().unwrap().to_owned();
    put(&c, &b, "k", None).await;
    assert_eq!(
        anonymous("GET", &format!("/{b}/k")).0,
        403,
        "the current version is private"
    );
    assert_eq!(
        anonymous("GET", &format!("/{b}/k?versionId={v1}")),
        (200, "one".into())
    );
    // PutObjectAcl on an old version changes that version's ACL in place: no new version, and
    // the object is not rolled back to that version's content.
    c.put_object_acl()
        .bucket(&b)
        .key("k")
        .version_id(&v1)
        .acl(ObjectCannedAcl::Private)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous("GET", &format!("/{b}/k?versionId={v1}")).0, 403);
    let current = c.get_object().bucket(&b).key("k").send().await.unwrap();
    assert_eq!(
        current.body.collect().await.unwrap().into_bytes().as_ref(),
        b"content"
    );
    let versions = c.list_object_versions().bucket(&b).send().await.unwrap();
    assert_eq!(versions.versions().len(), 2, "no version was added");
    // And back: the old version is public again, and says so.
    c.put_object_acl()
        .bucket(&b)
        .key("k")
        .version_id(&v1)
        .acl(ObjectCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    assert_eq!(
        anonymous("GET", &format!("/{b}/k?versionId={v1}")),
        (200, "one".into())
    );
    let acl = c
        .get_object_acl()
        .bucket(&b)
        .key("k")
        .version_id(&v1)
        .send()
        .await
        .unwrap();
    assert_eq!(acl.grants().len(), 2, "{acl:?}");
    assert_eq!(
        anonymous("GET", &format!("/{b}/k")).0,
        403,
        "the current one stays private"
    );
}

/// x-amz-acl on CreateMultipartUpload reaches the completed object.
#[tokio::test]
async fn multipart_uploads_carry_their_acl() {
    let (c, b) = setup("acl-multipart").await;
    let up = c
        .create_multipart_upload()
        .bucket(&b)
        .key("mp")
        .acl(ObjectCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let part = c
        .upload_part()
        .bucket(&b)
        .key("mp")
        .upload_id(id)
        .part_number(1)
        .body(ByteStream::from_static(b"parts"))
        .send()
        .await
        .unwrap();
    c.complete_multipart_upload()
        .bucket(&b)
        .key("mp")
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
    assert_eq!(anonymous("GET", &format!("/{b}/mp")), (200, "parts".into()));
}

/// A malformed AccessControlPolicy body is MalformedACLError (no client sends one).
#[tokio::test]
async fn malformed_acl_documents_are_refused() {
    let (_, b) = setup("acl-malformed").await;
    let body = b"<AccessControlPolicy><AccessControlList><Grant>";
    let (status, _, text) = signed_put_document(&format!("/{b}?acl"), body);
    assert_eq!(
        (status, xml_tag(&text, "Code")),
        (400, Some("MalformedACLError")),
        "{text}"
    );
}

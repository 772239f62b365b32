//! Limited-access users (per-bucket grants in config, like Spaces' limited keys), the bucket
//! limit, and ACLs surviving a restart.

mod common;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ObjectCannedAcl;
use common::*;

const READER: (&str, &str) = (
    "GWREADERACCESSKEY003",
    "gateway-reader-secret-0000000000000000000",
);
const WRITER: (&str, &str) = (
    "GWWRITERACCESSKEY004",
    "gateway-writer-secret-0000000000000000000",
);

#[tokio::test]
async fn read_and_readwrite_grants() {
    let b = bucket_name("granted");
    let backend = backend_endpoint();
    let users = format!(
        "[[users]]\nid = \"reader\"\naccess_key = \"{}\"\nsecret_key = \"{}\"\ngrants = [{{ bucket = \"{b}\", access = \"read\" }}]\n\
         [[users]]\nid = \"writer\"\naccess_key = \"{}\"\nsecret_key = \"{}\"\ngrants = [{{ bucket = \"{b}\", access = \"readwrite\" }}]\n",
        READER.0, READER.1, WRITER.0, WRITER.1
    );
    let gw = spawn_gateway(|port| config_text(port, &backend, &users));
    let main = client_for(&gw, MAIN);
    main.create_bucket().bucket(&b).send().await.unwrap();
    main.put_object()
        .bucket(&b)
        .key("doc")
        .body(ByteStream::from_static(b"shared"))
        .send()
        .await
        .unwrap();

    let reader = client_for(&gw, READER);
    let got = reader
        .get_object()
        .bucket(&b)
        .key("doc")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"shared"
    );
    assert_eq!(
        reader
            .list_objects_v2()
            .bucket(&b)
            .send()
            .await
            .unwrap()
            .key_count(),
        Some(1)
    );
    let listed = reader.list_buckets().send().await.unwrap();
    assert!(
        listed
            .buckets()
            .iter()
            .any(|x| x.name() == Some(b.as_str())),
        "granted buckets are listed"
    );
    let err = reader
        .put_object()
        .bucket(&b)
        .key("no")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"));

    let writer = client_for(&gw, WRITER);
    writer
        .put_object()
        .bucket(&b)
        .key("w")
        .body(ByteStream::from_static(b"w"))
        .send()
        .await
        .unwrap();
    writer
        .delete_object()
        .bucket(&b)
        .key("w")
        .send()
        .await
        .unwrap();
    let err = writer
        .put_bucket_acl()
        .bucket(&b)
        .acl(aws_sdk_s3::types::BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some("AccessDenied"),
        "bucket settings need full access"
    );
    let err = writer.delete_bucket().bucket(&b).send().await.unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"));
}

#[tokio::test]
async fn the_bucket_limit_is_too_many_buckets() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let profile = dir.join("two-buckets.toml");
    let spaces =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/policies/spaces.toml"))
            .unwrap();
    std::fs::write(
        &profile,
        spaces.replace("max_buckets_per_user = 100", "max_buckets_per_user = 2"),
    )
    .unwrap();
    let backend = backend_endpoint();
    // A user of its own, so other tests' buckets do not count.
    let user = "[[users]]\nid = \"limited\"\naccess_key = \"GWLIMITEDACCESSKEY05\"\nsecret_key = \"limited-secret-00000000000000000000000000\"\n";
    let gw = spawn_gateway(|port| with_profile(&config_text(port, &backend, user), &profile));
    let c = client_for(
        &gw,
        (
            "GWLIMITEDACCESSKEY05",
            "limited-secret-00000000000000000000000000",
        ),
    );
    for i in 0..2 {
        c.create_bucket()
            .bucket(bucket_name(&format!("limit-{i}")))
            .send()
            .await
            .unwrap();
    }
    let err = c
        .create_bucket()
        .bucket(bucket_name("limit-2"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
    assert_eq!(err.code(), Some("TooManyBuckets"));
    c.delete_bucket()
        .bucket(bucket_name("limit-0"))
        .send()
        .await
        .unwrap();
    c.create_bucket()
        .bucket(bucket_name("limit-2"))
        .send()
        .await
        .expect("room again after a delete");
    // Gone again, so the test holds on a backend that ran it before.
    for name in ["limit-1", "limit-2"] {
        c.delete_bucket()
            .bucket(bucket_name(name))
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn acls_survive_a_restart() {
    let backend = backend_endpoint();
    let b = bucket_name("acl-restart");
    {
        let first = spawn_gateway(|port| config_text(port, &backend, ""));
        let c = client_for(&first, MAIN);
        c.create_bucket()
            .bucket(&b)
            .acl(aws_sdk_s3::types::BucketCannedAcl::PublicRead)
            .send()
            .await
            .unwrap();
        c.put_object()
            .bucket(&b)
            .key("pub")
            .acl(ObjectCannedAcl::PublicRead)
            .body(ByteStream::from_static(b"p"))
            .send()
            .await
            .unwrap();
    }
    let second = spawn_gateway(|port| config_text(port, &backend, ""));
    let host = vec![("host".to_owned(), second.addr.to_string())];
    let (status, _, body) = raw_request(
        second.addr,
        &format_request("GET", &format!("/{b}/pub"), &host, b""),
    );
    assert_eq!((status, body.as_str()), (200, "p"));
    let (status, _, _) = raw_request(
        second.addr,
        &format_request("GET", &format!("/{b}?list-type=2"), &host, b""),
    );
    assert_eq!(status, 200);
    let err = client_for(&second, ALT)
        .put_object()
        .bucket(&b)
        .key("x")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"));
}

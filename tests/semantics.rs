//! The gateway's own S3 semantics, where they must match S3 whatever the backend does:
//! `public-read` for every caller, `NoSuchBucket` for every caller, the gateway's region, and a
//! backend that survives copy sources it would choke on.

mod common;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::operation::RequestId;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketCannedAcl, ObjectCannedAcl};
use common::*;

fn anonymous(method: &str, target: &str) -> (u16, String) {
    let gw = own_gateway();
    let (status, _, body) = raw_request(
        gw.addr,
        &format_request(method, target, &[("host".into(), gw.addr.to_string())], b""),
    );
    (status, body)
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

/// AllUsers includes authenticated users: another user reads a `public-read` object and lists
/// a `public-read` bucket, but nothing private, and a bucket policy's Deny still wins.
#[tokio::test]
async fn public_read_is_readable_by_every_user() {
    let main = client_for(own_gateway(), MAIN);
    let alt = client_for(own_gateway(), ALT);
    let b = bucket_name("sem-public");
    main.create_bucket().bucket(&b).send().await.unwrap();
    put(&main, &b, "public.txt", Some(ObjectCannedAcl::PublicRead)).await;
    put(&main, &b, "private.txt", None).await;

    let got = alt.get_object().bucket(&b).key("public.txt").send().await;
    assert_eq!(
        got.unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes()
            .as_ref(),
        b"content"
    );
    alt.head_object()
        .bucket(&b)
        .key("public.txt")
        .send()
        .await
        .unwrap();
    let e = alt
        .get_object()
        .bucket(&b)
        .key("private.txt")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.into_service_error().code(), Some("AccessDenied"));
    // Public objects do not open the bucket: no listing, no writes.
    let e = alt.list_objects_v2().bucket(&b).send().await.unwrap_err();
    assert_eq!(e.into_service_error().code(), Some("AccessDenied"));
    let e = alt
        .put_object()
        .bucket(&b)
        .key("public.txt")
        .body(ByteStream::from_static(b"overwritten"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.into_service_error().code(), Some("AccessDenied"));

    main.put_bucket_acl()
        .bucket(&b)
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    let listed = alt.list_objects_v2().bucket(&b).send().await.unwrap();
    assert_eq!(listed.contents().len(), 2);

    // An explicit Deny in the bucket policy wins over the ACL.
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":{{"AWS":["*"]}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/public.txt"}}]}}"#
    );
    main.put_bucket_policy()
        .bucket(&b)
        .policy(policy)
        .send()
        .await
        .unwrap();
    let e = alt
        .get_object()
        .bucket(&b)
        .key("public.txt")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.into_service_error().code(), Some("AccessDenied"));
    assert_eq!(anonymous("GET", &format!("/{b}/public.txt")).0, 403);
}

/// A bucket that does not exist is `404 NoSuchBucket` for every caller and operation,
/// including after its owner deleted it.
#[tokio::test]
async fn a_missing_bucket_is_no_such_bucket_for_everyone() {
    let main = client_for(own_gateway(), MAIN);
    let alt = client_for(own_gateway(), ALT);
    let b = bucket_name("sem-gone");
    main.create_bucket().bucket(&b).send().await.unwrap();
    main.delete_bucket().bucket(&b).send().await.unwrap();
    for (method, target) in [
        ("GET", format!("/{b}/k")),
        ("PUT", format!("/{b}/k")),
        ("DELETE", format!("/{b}/k")),
        ("GET", format!("/{b}")),
        ("GET", format!("/{b}?acl")),
    ] {
        let (status, body) = anonymous(method, &target);
        assert_eq!(
            (status, xml_tag(&body, "Code")),
            (404, Some("NoSuchBucket")),
            "anonymous {method} {target}"
        );
    }
    let e = alt
        .get_object()
        .bucket(&b)
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.into_service_error().code(), Some("NoSuchBucket"));
    let e = alt
        .put_object()
        .bucket(&b)
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.into_service_error().code(), Some("NoSuchBucket"));
    let e = main.list_objects_v2().bucket(&b).send().await.unwrap_err();
    assert_eq!(e.into_service_error().code(), Some("NoSuchBucket"));
}

/// GetBucketLocation answers the gateway's region, not the backend's zonegroup.
#[tokio::test]
async fn bucket_location_is_the_gateways_region() {
    let main = client_for(own_gateway(), MAIN);
    let b = bucket_name("sem-location");
    main.create_bucket().bucket(&b).send().await.unwrap();
    let location = main.get_bucket_location().bucket(&b).send().await.unwrap();
    assert_eq!(
        location.location_constraint().map(|c| c.as_str()),
        Some(REGION)
    );
    let e = client_for(own_gateway(), ALT)
        .get_bucket_location()
        .bucket(&b)
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.into_service_error().code(), Some("AccessDenied"));
}

/// RGW 16 aborts on an UploadPartCopy whose source key holds a `%`: the gateway re-encodes
/// the source it parsed, so the copy works and the backend is still up afterwards.
#[tokio::test]
async fn a_percent_in_a_copy_source_key_does_not_take_the_backend_down() {
    let (gw, relay) =
        spawn_gateway_with_relay_using(|c| with_system_bucket(&c, &own_system_bucket()));
    let main = client_for(&gw, MAIN);
    let b = bucket_name("sem-percent");
    main.create_bucket().bucket(&b).send().await.unwrap();
    put(&main, &b, "100%real", None).await;
    let upload = main
        .create_multipart_upload()
        .bucket(&b)
        .key("dst")
        .send()
        .await
        .unwrap();
    let upload_id = upload.upload_id().unwrap();
    for source in [format!("{b}/100%real"), format!("{b}/100%25real")] {
        relay.clear();
        let part = main
            .upload_part_copy()
            .bucket(&b)
            .key("dst")
            .upload_id(upload_id)
            .part_number(1)
            .copy_source(&source)
            .send()
            .await;
        let seen: Vec<String> = relay
            .heads()
            .iter()
            .map(|h| format!("{} {:?}", h.summary(), h.header("x-amz-copy-source")))
            .collect();
        assert!(part.is_ok(), "{source}: {part:?}\nbackend saw: {seen:#?}");
    }
    let backend = backend_endpoint();
    let host = backend.trim_start_matches("http://");
    let (status, _, _) = raw_request(
        host.parse().unwrap(),
        &format_request("GET", "/", &[("host".into(), host.to_owned())], b""),
    );
    // Any answer will do (SeaweedFS refuses anonymous listings): the process is up.
    assert!(status >= 200, "the backend still answers");
    // The part holds the source's bytes: both decodings landed on the authorized key.
    let etag = main
        .list_parts()
        .bucket(&b)
        .key("dst")
        .upload_id(upload_id)
        .send()
        .await
        .unwrap()
        .parts()[0]
        .e_tag()
        .unwrap()
        .to_owned();
    main.complete_multipart_upload()
        .bucket(&b)
        .key("dst")
        .upload_id(upload_id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .parts(
                    aws_sdk_s3::types::CompletedPart::builder()
                        .part_number(1)
                        .e_tag(etag)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let got = main
        .get_object()
        .bucket(&b)
        .key("dst")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"content"
    );
}

/// No backend identity reaches clients: an error's `<RequestId>` is the `x-amz-request-id`
/// header (the gateway's), there is no backend `<HostId>`, no `x-rgw-*` header, and a completed
/// multipart upload's `Location` names the object at the gateway, with its ETag.
#[tokio::test]
async fn answers_carry_the_gateways_identity_not_the_backends() {
    let main = client_for(own_gateway(), MAIN);
    let b = bucket_name("sem-identity");
    main.create_bucket().bucket(&b).send().await.unwrap();
    let gw = own_gateway();
    let host = gw.addr.to_string();
    let target = format!("/{b}/no-such-key");
    let mut headers = sign_headers(
        "GET",
        &host,
        &target,
        &[],
        EMPTY_SHA256,
        std::time::SystemTime::now(),
        MAIN,
    );
    headers.push(("host".into(), host.clone()));
    let (status, head, body) = raw_request(gw.addr, &format_request("GET", &target, &headers, b""));
    assert_eq!(status, 404, "{head}");
    assert_eq!(xml_tag(&body, "Code"), Some("NoSuchKey"));
    let request_id = xml_tag(&body, "RequestId").unwrap();
    assert!(
        head.to_ascii_lowercase().contains(&format!(
            "x-amz-request-id: {}",
            request_id.to_ascii_lowercase()
        )),
        "{head}\n{body}"
    );
    assert!(!body.contains("HostId"), "{body}");
    assert!(!head.to_ascii_lowercase().contains("x-rgw-"), "{head}");

    put(&main, &b, "plain", None).await;
    let got = main
        .get_object()
        .bucket(&b)
        .key("plain")
        .send()
        .await
        .unwrap();
    assert!(
        got.request_id()
            .is_some_and(|id| id.ends_with("bucketgate")),
        "{:?}",
        got.request_id()
    );

    let upload = main
        .create_multipart_upload()
        .bucket(&b)
        .key("multi")
        .send()
        .await
        .unwrap();
    let upload_id = upload.upload_id().unwrap();
    let part = main
        .upload_part()
        .bucket(&b)
        .key("multi")
        .upload_id(upload_id)
        .part_number(1)
        .body(ByteStream::from_static(b"part one"))
        .send()
        .await
        .unwrap();
    let done = main
        .complete_multipart_upload()
        .bucket(&b)
        .key("multi")
        .upload_id(upload_id)
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
    assert_eq!(
        done.location(),
        Some(format!("{}/{b}/multi", gw.endpoint()).as_str())
    );
    let head = main
        .head_object()
        .bucket(&b)
        .key("multi")
        .send()
        .await
        .unwrap();
    assert!(
        head.e_tag().is_some_and(|e| e.ends_with("-1\"")),
        "{head:?}"
    );
    assert_eq!(done.e_tag(), head.e_tag());
}

/// CopyObject as S3 does it: under COPY the request's own metadata is ignored, a copy onto
/// itself that changes nothing is refused, and the result's ETag is quoted (SSE-C copies:
/// `sse_c_copies_work`).
#[tokio::test]
async fn copy_object_follows_s3() {
    let main = client_for(own_gateway(), MAIN);
    let b = bucket_name("sem-copy");
    main.create_bucket().bucket(&b).send().await.unwrap();
    main.put_object()
        .bucket(&b)
        .key("src")
        .metadata("colour", "blue")
        .body(ByteStream::from_static(b"content"))
        .send()
        .await
        .unwrap();

    let copied = main
        .copy_object()
        .bucket(&b)
        .key("dst")
        .copy_source(format!("{b}/src"))
        .metadata("colour", "red")
        .send()
        .await
        .unwrap();
    let etag = copied.copy_object_result().unwrap().e_tag().unwrap();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    let head = main
        .head_object()
        .bucket(&b)
        .key("dst")
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("colour"))
            .map(String::as_str),
        Some("blue"),
        "COPY keeps the source's metadata, not the request's"
    );

    let e = main
        .copy_object()
        .bucket(&b)
        .key("src")
        .copy_source(format!("{b}/src"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.into_service_error().code(), Some("InvalidRequest"));
    main.copy_object()
        .bucket(&b)
        .key("src")
        .copy_source(format!("{b}/src"))
        .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
        .metadata("colour", "green")
        .send()
        .await
        .unwrap();
}

fn sse_c_key(seed: u8) -> (String, String) {
    use base64::Engine;
    let key = [seed; 32];
    (
        base64::engine::general_purpose::STANDARD.encode(key),
        base64::engine::general_purpose::STANDARD.encode(<md5::Md5 as md5::Digest>::digest(key)),
    )
}

/// SSE-C copies work as S3 does them, whatever the backend can do (RGW 16 refuses CopyObject
/// from an SSE-C source with 501, and answers none of the SSE-C headers for one to an SSE-C
/// destination): from and to SSE-C objects, with the source read with its own key, big enough
/// to stream, as whole objects and as ranged parts.
#[tokio::test]
async fn sse_c_copies_work() {
    if skipped_on(
        "seaweedfs",
        "SSE-C is refused there (backends/seaweedfs.toml)",
    ) {
        return;
    }
    let main = client_for(own_gateway(), MAIN);
    let b = bucket_name("sem-ssec");
    main.create_bucket().bucket(&b).send().await.unwrap();
    let (src_key, src_md5) = sse_c_key(9);
    let (dst_key, dst_md5) = sse_c_key(7);
    let data: Vec<u8> = (0..6 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    main.put_object()
        .bucket(&b)
        .key("sealed")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&src_key)
        .sse_customer_key_md5(&src_md5)
        .metadata("colour", "blue")
        .tagging("k=v")
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap();
    main.put_object()
        .bucket(&b)
        .key("plain")
        .body(ByteStream::from_static(b"plain content"))
        .send()
        .await
        .unwrap();
    let read = async |key: &str, sse: Option<(&str, &str)>| {
        let got = main
            .get_object()
            .bucket(&b)
            .key(key)
            .set_sse_customer_algorithm(sse.map(|_| "AES256".to_owned()))
            .set_sse_customer_key(sse.map(|(k, _)| k.to_owned()))
            .set_sse_customer_key_md5(sse.map(|(_, m)| m.to_owned()))
            .send()
            .await
            .unwrap();
        let colour = got.metadata().and_then(|m| m.get("colour")).cloned();
        (
            got.body.collect().await.unwrap().into_bytes().to_vec(),
            colour,
        )
    };

    // SSE-C to SSE-C with another key: the metadata and tags come along (COPY).
    let copied = main
        .copy_object()
        .bucket(&b)
        .key("resealed")
        .copy_source(format!("{b}/sealed"))
        .copy_source_sse_customer_algorithm("AES256")
        .copy_source_sse_customer_key(&src_key)
        .copy_source_sse_customer_key_md5(&src_md5)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&dst_key)
        .sse_customer_key_md5(&dst_md5)
        .send()
        .await
        .unwrap();
    assert_eq!(copied.sse_customer_algorithm(), Some("AES256"));
    assert_eq!(copied.sse_customer_key_md5(), Some(dst_md5.as_str()));
    let etag = copied.copy_object_result().and_then(|r| r.e_tag()).unwrap();
    assert!(etag.starts_with('"') && etag.len() > 2, "{etag}");
    assert!(
        copied
            .copy_object_result()
            .unwrap()
            .last_modified()
            .is_some()
    );
    let (bytes, colour) = read("resealed", Some((&dst_key, &dst_md5))).await;
    assert!(bytes == data, "the SSE-C copy holds other bytes");
    assert_eq!(colour.as_deref(), Some("blue"));
    let tags = main
        .get_object_tagging()
        .bucket(&b)
        .key("resealed")
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tag_set().len(), 1);
    // The source key is not the destination's.
    let e = main
        .get_object()
        .bucket(&b)
        .key("resealed")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&src_key)
        .sse_customer_key_md5(&src_md5)
        .send()
        .await
        .unwrap_err();
    assert!(e.raw_response().is_some_and(|r| r.status().as_u16() >= 400));

    // SSE-C to plain, and plain to SSE-C.
    main.copy_object()
        .bucket(&b)
        .key("unsealed")
        .copy_source(format!("{b}/sealed"))
        .copy_source_sse_customer_algorithm("AES256")
        .copy_source_sse_customer_key(&src_key)
        .copy_source_sse_customer_key_md5(&src_md5)
        .send()
        .await
        .unwrap();
    assert!(read("unsealed", None).await.0 == data);
    let sealed = main
        .copy_object()
        .bucket(&b)
        .key("plain-sealed")
        .copy_source(format!("{b}/plain"))
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&dst_key)
        .sse_customer_key_md5(&dst_md5)
        .send()
        .await
        .unwrap();
    assert_eq!(sealed.sse_customer_key_md5(), Some(dst_md5.as_str()));
    assert_eq!(
        read("plain-sealed", Some((&dst_key, &dst_md5))).await.0,
        b"plain content"
    );

    // The source without its key, or with a wrong one, is refused; nothing is written.
    for key in [None, Some((&dst_key, &dst_md5))] {
        let e = main
            .copy_object()
            .bucket(&b)
            .key("refused")
            .copy_source(format!("{b}/sealed"))
            .set_copy_source_sse_customer_algorithm(key.map(|_| "AES256".to_owned()))
            .set_copy_source_sse_customer_key(key.map(|(k, _)| k.to_owned()))
            .set_copy_source_sse_customer_key_md5(key.map(|(_, m)| m.to_owned()))
            .send()
            .await
            .unwrap_err();
        let status = e.raw_response().map(|r| r.status().as_u16());
        assert!(
            matches!(status, Some(400 | 403)),
            "{key:?}: {status:?} {:?}",
            e.into_service_error().code()
        );
    }
    assert!(
        main.head_object()
            .bucket(&b)
            .key("refused")
            .send()
            .await
            .is_err()
    );

    // A ranged part copied from the SSE-C source into an SSE-C upload.
    let upload = main
        .create_multipart_upload()
        .bucket(&b)
        .key("assembled")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&dst_key)
        .sse_customer_key_md5(&dst_md5)
        .send()
        .await
        .unwrap();
    let id = upload.upload_id().unwrap();
    let part = main
        .upload_part_copy()
        .bucket(&b)
        .key("assembled")
        .upload_id(id)
        .part_number(1)
        .copy_source(format!("{b}/sealed"))
        .copy_source_range("bytes=1-5242881")
        .copy_source_sse_customer_algorithm("AES256")
        .copy_source_sse_customer_key(&src_key)
        .copy_source_sse_customer_key_md5(&src_md5)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&dst_key)
        .sse_customer_key_md5(&dst_md5)
        .send()
        .await
        .unwrap();
    assert_eq!(part.sse_customer_key_md5(), Some(dst_md5.as_str()));
    let part_etag = part.copy_part_result().and_then(|r| r.e_tag()).unwrap();
    main.complete_multipart_upload()
        .bucket(&b)
        .key("assembled")
        .upload_id(id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .parts(
                    aws_sdk_s3::types::CompletedPart::builder()
                        .part_number(1)
                        .e_tag(part_etag)
                        .build(),
                )
                .build(),
        )
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&dst_key)
        .sse_customer_key_md5(&dst_md5)
        .send()
        .await
        .unwrap();
    assert!(read("assembled", Some((&dst_key, &dst_md5))).await.0 == data[1..=5242881]);
}

/// An upload id that does not exist (never made, or aborted) is `404 NoSuchUpload` for every
/// multipart operation, whatever the backend answers (RGW 16: NoSuchKey, or 500 "completion
/// already in progress" for CompleteMultipartUpload).
#[tokio::test]
async fn unknown_uploads_are_no_such_upload() {
    let main = client_for(own_gateway(), MAIN);
    let b = bucket_name("sem-upload");
    main.create_bucket().bucket(&b).send().await.unwrap();
    let upload = main
        .create_multipart_upload()
        .bucket(&b)
        .key("k")
        .send()
        .await
        .unwrap();
    let aborted = upload.upload_id().unwrap();
    main.abort_multipart_upload()
        .bucket(&b)
        .key("k")
        .upload_id(aborted)
        .send()
        .await
        .unwrap();
    for id in ["2~neverexisted", aborted] {
        let e = main
            .list_parts()
            .bucket(&b)
            .key("k")
            .upload_id(id)
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.into_service_error().code(), Some("NoSuchUpload"), "{id}");
        let e = main
            .upload_part()
            .bucket(&b)
            .key("k")
            .upload_id(id)
            .part_number(1)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.into_service_error().code(), Some("NoSuchUpload"), "{id}");
        let e = main
            .complete_multipart_upload()
            .bucket(&b)
            .key("k")
            .upload_id(id)
            .multipart_upload(
                aws_sdk_s3::types::CompletedMultipartUpload::builder()
                    .parts(
                        aws_sdk_s3::types::CompletedPart::builder()
                            .part_number(1)
                            .e_tag("\"0cc175b9c0f1b6a831c399e269772661\"")
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap_err();
        let raw = e.raw_response().map(|r| r.status().as_u16());
        assert_eq!(raw, Some(404), "{id}");
        assert_eq!(e.into_service_error().code(), Some("NoSuchUpload"), "{id}");
    }
}

/// Parts out of order are `400 InvalidPartOrder`, as S3 answers (RGW 16 completes them).
#[tokio::test]
async fn parts_out_of_order_are_invalid_part_order() {
    let main = client_for(own_gateway(), MAIN);
    let b = bucket_name("sem-order");
    main.create_bucket().bucket(&b).send().await.unwrap();
    let upload = main
        .create_multipart_upload()
        .bucket(&b)
        .key("k")
        .send()
        .await
        .unwrap();
    let id = upload.upload_id().unwrap();
    let mut parts = Vec::new();
    for n in 1..=2 {
        let body = vec![n as u8; if n == 1 { 5 * 1024 * 1024 } else { 10 }];
        let part = main
            .upload_part()
            .bucket(&b)
            .key("k")
            .upload_id(id)
            .part_number(n)
            .body(ByteStream::from(body))
            .send()
            .await
            .unwrap();
        parts.push(
            aws_sdk_s3::types::CompletedPart::builder()
                .part_number(n)
                .e_tag(part.e_tag().unwrap())
                .build(),
        );
    }
    let complete = |parts: Vec<aws_sdk_s3::types::CompletedPart>| {
        main.complete_multipart_upload()
            .bucket(&b)
            .key("k")
            .upload_id(id)
            .multipart_upload(
                aws_sdk_s3::types::CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
    };
    let reversed: Vec<_> = parts.iter().rev().cloned().collect();
    let e = complete(reversed).await.unwrap_err();
    assert_eq!(e.into_service_error().code(), Some("InvalidPartOrder"));
    let done = complete(parts).await.unwrap();
    assert!(
        done.e_tag().is_some_and(|e| e.ends_with("-2\"")),
        "{done:?}"
    );
    let head = main.head_object().bucket(&b).key("k").send().await.unwrap();
    assert_eq!(head.content_length(), Some(5 * 1024 * 1024 + 10));
}

/// A versioning document outside the schema is `400 MalformedXML`, before the backend sees it.
#[test]
fn malformed_versioning_documents_are_refused() {
    let b = bucket_name("sem-versioning");
    rt().block_on(async {
        client_for(own_gateway(), MAIN)
            .create_bucket()
            .bucket(&b)
            .send()
            .await
            .unwrap()
    });
    let (status, _, body) = signed_put_document_to(
        own_gateway(),
        &format!("/{b}?versioning"),
        b"<VersioningConfiguration><Status>Sometimes</Status></VersioningConfiguration>",
    );
    assert_eq!(
        (status, xml_tag(&body, "Code")),
        (400, Some("MalformedXML")),
        "{body}"
    );
    let (status, _, body) = signed_put_document_to(
        own_gateway(),
        &format!("/{b}?versioning"),
        b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>",
    );
    assert_eq!(status, 200, "{body}");
}

/// Versioning as S3 answers it: a key whose current version is a delete marker is a 404 that
/// says so (with the marker's version id), one that is not says `x-amz-delete-marker: false`,
/// and an unknown version is `NoSuchVersion`.
#[tokio::test]
async fn delete_markers_and_unknown_versions_answer_as_s3() {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    let main = client_for(own_gateway(), MAIN);
    let b = bucket_name("sem-markers");
    main.create_bucket().bucket(&b).send().await.unwrap();
    main.put_bucket_versioning()
        .bucket(&b)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    put(&main, &b, "k", None).await;
    let marker = main
        .delete_object()
        .bucket(&b)
        .key("k")
        .send()
        .await
        .unwrap();
    let marker_id = marker.version_id().unwrap().to_owned();
    assert_eq!(marker.delete_marker(), Some(true));

    let gw = own_gateway();
    let host = gw.addr.to_string();
    for method in ["GET", "HEAD"] {
        let target = format!("/{b}/k");
        let mut headers = sign_headers(
            method,
            &host,
            &target,
            &[],
            EMPTY_SHA256,
            std::time::SystemTime::now(),
            MAIN,
        );
        headers.push(("host".into(), host.clone()));
        let (status, head, _) =
            raw_request(gw.addr, &format_request(method, &target, &headers, b""));
        let head = head.to_ascii_lowercase();
        assert_eq!(status, 404, "{method}: {head}");
        assert!(
            head.contains("x-amz-delete-marker: true"),
            "{method}: {head}"
        );
        assert!(
            head.contains(&format!(
                "x-amz-version-id: {}",
                marker_id.to_ascii_lowercase()
            )),
            "{method}: {head}"
        );
    }
    // A key that is not a delete marker (never written) says so too.
    let missing = main
        .head_object()
        .bucket(&b)
        .key("never-written")
        .send()
        .await
        .unwrap_err();
    let raw = missing.raw_response().unwrap();
    assert_eq!(raw.status().as_u16(), 404);
    assert_eq!(raw.headers().get("x-amz-delete-marker"), Some("false"));
    let e = main
        .get_object()
        .bucket(&b)
        .key("k")
        .version_id("no-such-version-at-all")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.into_service_error().code(), Some("NoSuchVersion"));
}

/// ListBuckets pages with `max-buckets` and a continuation token, and filters by `prefix`.
#[tokio::test]
async fn list_buckets_pages() {
    let alt = client_for(own_gateway(), ALT);
    let prefix = bucket_name("sem-pages");
    for n in 1..=3 {
        alt.create_bucket()
            .bucket(format!("{prefix}-{n}"))
            .send()
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = alt
            .list_buckets()
            .prefix(&prefix)
            .max_buckets(2)
            .set_continuation_token(token.take())
            .send()
            .await
            .unwrap();
        assert!(page.buckets().len() <= 2);
        seen.extend(
            page.buckets()
                .iter()
                .filter_map(|b| b.name().map(str::to_owned)),
        );
        match page.continuation_token() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        (1..=3).map(|n| format!("{prefix}-{n}")).collect::<Vec<_>>()
    );
}

/// `x-amz-copy-source-if-*` decide a copy as S3 decides it (RGW 16 ignores them all): each
/// condition that does not hold is `412 PreconditionFailed` and nothing is copied.
#[tokio::test]
async fn copy_source_conditions_are_enforced() {
    let main = client_for(own_gateway(), MAIN);
    let b = bucket_name("sem-copyif");
    main.create_bucket().bucket(&b).send().await.unwrap();
    let etag = main
        .put_object()
        .bucket(&b)
        .key("src")
        .body(ByteStream::from_static(b"bar"))
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_owned();
    let past = aws_sdk_s3::primitives::DateTime::from_secs(783_459_811); // 1994-10-29
    let future = aws_sdk_s3::primitives::DateTime::from_secs(4_128_517_411); // 2100-10-29
    let copy = |key: &str| {
        main.copy_object()
            .bucket(&b)
            .key(key)
            .copy_source(format!("{b}/src"))
    };
    let refused = [
        ("if-match", copy("d1").copy_source_if_match("ABCORZ")),
        ("if-none-match", copy("d2").copy_source_if_none_match(&etag)),
        (
            "if-unmodified-since",
            copy("d3").copy_source_if_unmodified_since(past),
        ),
        (
            "if-modified-since",
            copy("d4").copy_source_if_modified_since(future),
        ),
    ];
    for (what, request) in refused {
        let e = request.send().await.unwrap_err();
        let e = e.into_service_error();
        assert_eq!(e.code(), Some("PreconditionFailed"), "{what}");
    }
    for key in ["d1", "d2", "d3", "d4"] {
        let e = main.head_object().bucket(&b).key(key).send().await;
        assert!(e.is_err(), "{key} was copied although its condition failed");
    }
    let allowed = [
        ("if-match", copy("ok1").copy_source_if_match(&etag)),
        (
            "if-none-match",
            copy("ok2").copy_source_if_none_match("ABCORZ"),
        ),
        (
            "if-unmodified-since",
            copy("ok3").copy_source_if_unmodified_since(future),
        ),
        (
            "if-modified-since",
            copy("ok4").copy_source_if_modified_since(past),
        ),
        // if-match holding wins over if-unmodified-since failing (the CopyObject reference).
        (
            "if-match + if-unmodified-since",
            copy("ok5")
                .copy_source_if_match(&etag)
                .copy_source_if_unmodified_since(past),
        ),
    ];
    for (what, request) in allowed {
        request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: {:?}", e.into_service_error()));
    }
}

/// `?partNumber=` reads a part as S3 does: a part past the last one (and part 2 of a
/// single-part object, which RGW 16 serves whole) is `400 InvalidPart`, part 1 of a single-part
/// object is the object, a multipart object's part is exactly that part's bytes (on every
/// backend: the gateway serves them as a range where the backend cannot), and a part number
/// with a Range is `400 InvalidRequest`.
#[tokio::test]
async fn part_numbers_answer_as_s3() {
    let main = client_for(own_gateway(), MAIN);
    let b = bucket_name("sem-parts");
    main.create_bucket().bucket(&b).send().await.unwrap();
    main.put_object()
        .bucket(&b)
        .key("single")
        .body(ByteStream::from_static(b"body"))
        .send()
        .await
        .unwrap();
    let e = main
        .get_object()
        .bucket(&b)
        .key("single")
        .part_number(2)
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.into_service_error().code(), Some("InvalidPart"));
    let got = main
        .get_object()
        .bucket(&b)
        .key("single")
        .part_number(1)
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"body"
    );

    let upload = main
        .create_multipart_upload()
        .bucket(&b)
        .key("multi")
        .send()
        .await
        .unwrap();
    let id = upload.upload_id().unwrap();
    let sizes = [5 * 1024 * 1024, 1024];
    let mut parts = Vec::new();
    for (i, size) in sizes.iter().enumerate() {
        let n = i as i32 + 1;
        let part = main
            .upload_part()
            .bucket(&b)
            .key("multi")
            .upload_id(id)
            .part_number(n)
            .body(ByteStream::from(vec![b'a' + i as u8; *size]))
            .send()
            .await
            .unwrap();
        parts.push(
            aws_sdk_s3::types::CompletedPart::builder()
                .part_number(n)
                .e_tag(part.e_tag().unwrap())
                .build(),
        );
    }
    let completed = main
        .complete_multipart_upload()
        .bucket(&b)
        .key("multi")
        .upload_id(id)
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
    // RGW 16 ignores partNumber (it would serve the whole object as any part): the gateway
    // serves each part as the range its recorded size gives, with the object's ETag.
    for (i, size) in sizes.iter().enumerate() {
        let n = i as i32 + 1;
        let got = main
            .get_object()
            .bucket(&b)
            .key("multi")
            .part_number(n)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET part {n}: {:?}", e.into_service_error()));
        assert_eq!(got.parts_count(), Some(2), "GET part {n}");
        assert_eq!(got.e_tag(), completed.e_tag(), "GET part {n}");
        assert_eq!(got.content_length(), Some(*size as i64), "GET part {n}");
        let bytes = got.body.collect().await.unwrap().into_bytes();
        assert_eq!(bytes.len(), *size, "GET part {n}");
        assert!(bytes.iter().all(|b| *b == b'a' + i as u8), "GET part {n}");
        let head = main
            .head_object()
            .bucket(&b)
            .key("multi")
            .part_number(n)
            .send()
            .await
            .unwrap_or_else(|e| panic!("HEAD part {n}: {e:?}"));
        assert_eq!(head.parts_count(), Some(2), "HEAD part {n}");
        assert_eq!(head.content_length(), Some(*size as i64), "HEAD part {n}");
    }
    let e = main
        .get_object()
        .bucket(&b)
        .key("multi")
        .part_number(1)
        .range("bytes=0-1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.into_service_error().code(), Some("InvalidRequest"));
    let e = main
        .get_object()
        .bucket(&b)
        .key("multi")
        .part_number(3)
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.into_service_error().code(), Some("InvalidPart"));
}

/// The tags a CreateMultipartUpload names tag the completed object (RGW 16 drops them; the
/// gateway carries them through the upload and tags the object before answering).
#[tokio::test]
async fn an_uploads_tags_tag_the_completed_object() {
    let main = client_for(own_gateway(), MAIN);
    let b = bucket_name("sem-mptags");
    main.create_bucket().bucket(&b).send().await.unwrap();
    let upload = main
        .create_multipart_upload()
        .bucket(&b)
        .key("tagged")
        .tagging("Hello=World&note=a%20b%2Bc")
        .send()
        .await
        .unwrap();
    let id = upload.upload_id().unwrap();
    let part = main
        .upload_part()
        .bucket(&b)
        .key("tagged")
        .upload_id(id)
        .part_number(1)
        .body(ByteStream::from_static(b"one part"))
        .send()
        .await
        .unwrap();
    main.complete_multipart_upload()
        .bucket(&b)
        .key("tagged")
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
    let tags = main
        .get_object_tagging()
        .bucket(&b)
        .key("tagged")
        .send()
        .await
        .unwrap();
    let mut got: Vec<(String, String)> = tags
        .tag_set()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("Hello".to_owned(), "World".to_owned()),
            ("note".to_owned(), "a b+c".to_owned())
        ]
    );
    // The carrier never shows.
    let head = main
        .head_object()
        .bucket(&b)
        .key("tagged")
        .send()
        .await
        .unwrap();
    assert!(head.metadata().is_none_or(|m| m.is_empty()), "{head:?}");
}

/// A `304 Not Modified` carries the object's ETag, as S3's does (RGW 16 sends none).
#[tokio::test]
async fn not_modified_answers_carry_the_etag() {
    let main = client_for(own_gateway(), MAIN);
    let b = bucket_name("sem-304");
    main.create_bucket().bucket(&b).send().await.unwrap();
    let etag = main
        .put_object()
        .bucket(&b)
        .key("foo")
        .body(ByteStream::from_static(b"bar"))
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_owned();
    let not_modified = [
        main.get_object().bucket(&b).key("foo").if_none_match(&etag),
        main.get_object()
            .bucket(&b)
            .key("foo")
            .if_modified_since(aws_sdk_s3::primitives::DateTime::from_secs(4_128_517_411)),
    ];
    for request in not_modified {
        let e = request.send().await.unwrap_err();
        let raw = e.raw_response().expect("a response");
        assert_eq!(raw.status().as_u16(), 304);
        assert_eq!(raw.headers().get("etag"), Some(etag.as_str()));
    }
}

/// `aws-chunked` is the upload's framing, never stored as the object's Content-Encoding, with
/// or without chunk signing (the cases of s3-tests' test_object_content_encoding_aws_chunked).
#[tokio::test]
async fn aws_chunked_is_not_a_stored_content_encoding() {
    let main = client_for(own_gateway(), MAIN);
    let b = bucket_name("sem-encoding");
    main.create_bucket().bucket(&b).send().await.unwrap();
    for (sent, stored) in [
        ("gzip", Some("gzip")),
        ("deflate, gzip", Some("deflate, gzip")),
        ("gzip, aws-chunked", Some("gzip")),
        ("aws-chunked, gzip", Some("gzip")),
        ("aws-chunked", None),
        ("aws-chunked, aws-chunked", None),
    ] {
        main.put_object()
            .bucket(&b)
            .key("encoding")
            .content_encoding(sent)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
        let head = main
            .head_object()
            .bucket(&b)
            .key("encoding")
            .send()
            .await
            .unwrap();
        assert_eq!(head.content_encoding(), stored, "sent {sent:?}");
    }
}

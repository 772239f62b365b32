//! Findings of the security review of the admission redesign, each an attack by one ordinary
//! user (alt) on another's (main's) data, through real clients: every one must be refused.

mod common;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketVersioningStatus, CompletedMultipartUpload, CompletedPart, Delete, ObjectCannedAcl,
    ObjectIdentifier, VersioningConfiguration,
};
use common::*;

async fn bucket_with(main: &aws_sdk_s3::Client, test: &str, keys: &[(&str, &str)]) -> String {
    let b = bucket_name(test);
    main.create_bucket().bucket(&b).send().await.unwrap();
    for (key, body) in keys {
        main.put_object()
            .bucket(&b)
            .key(*key)
            .body(ByteStream::from(body.as_bytes().to_vec()))
            .send()
            .await
            .unwrap();
    }
    b
}

async fn read(c: &aws_sdk_s3::Client, b: &str, key: &str) -> Option<Vec<u8>> {
    let got = c.get_object().bucket(b).key(key).send().await.ok()?;
    Some(got.body.collect().await.ok()?.into_bytes().to_vec())
}

/// A policy Deny on one key cannot be dodged by naming it `key%3FversionId=null` in an
/// UploadPartCopy source (RGW decodes that source twice and would split the version off).
#[tokio::test]
async fn a_denied_key_is_not_copied_under_a_version_suffix() {
    let (main, alt) = (
        client_for(own_gateway(), MAIN),
        client_for(own_gateway(), ALT),
    );
    let src = bucket_with(
        &main,
        "rv-upc-src",
        &[("secret.txt", "TOPSECRET"), ("open.txt", "open")],
    )
    .await;
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"alt"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::{src}/*"}},{{"Effect":"Deny","Principal":{{"AWS":"alt"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::{src}/secret.txt"}}]}}"#
    );
    main.put_bucket_policy()
        .bucket(&src)
        .policy(policy)
        .send()
        .await
        .unwrap();
    let dst = bucket_name("rv-upc-dst");
    alt.create_bucket().bucket(&dst).send().await.unwrap();
    let upload = alt
        .create_multipart_upload()
        .bucket(&dst)
        .key("stolen")
        .send()
        .await
        .unwrap();
    let id = upload.upload_id().unwrap();
    let copied = alt
        .upload_part_copy()
        .bucket(&dst)
        .key("stolen")
        .upload_id(id)
        .part_number(1)
        .copy_source(format!("{src}/secret.txt%3FversionId=null"))
        .send()
        .await;
    if let Ok(part) = copied {
        let etag = part
            .copy_part_result()
            .and_then(|r| r.e_tag())
            .unwrap()
            .to_owned();
        alt.complete_multipart_upload()
            .bucket(&dst)
            .key("stolen")
            .upload_id(id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .parts(CompletedPart::builder().part_number(1).e_tag(etag).build())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert_ne!(
            read(&alt, &dst, "stolen").await.as_deref(),
            Some(&b"TOPSECRET"[..])
        );
    }
    // The allowed key still copies.
    let part = alt
        .upload_part_copy()
        .bucket(&dst)
        .key("stolen")
        .upload_id(id)
        .part_number(1)
        .copy_source(format!("{src}/open.txt"))
        .send()
        .await;
    assert!(part.is_ok() || id.is_empty(), "{part:?}");
}

/// DeleteObjects is authorized key by key: a policy that lets alt delete `tmp/*` (and names
/// the bucket ARN too) deletes nothing else, and a Deny on a prefix holds for the owner's
/// grantees and the owner alike.
#[tokio::test]
async fn a_multi_delete_is_authorized_key_by_key() {
    let (main, alt) = (
        client_for(own_gateway(), MAIN),
        client_for(own_gateway(), ALT),
    );
    let b = bucket_with(
        &main,
        "rv-multidel",
        &[("keep.txt", "keep"), ("tmp/a", "a"), ("protected/p", "p")],
    )
    .await;
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"alt"}},"Action":["s3:ListBucket","s3:DeleteObject"],"Resource":["arn:aws:s3:::{b}","arn:aws:s3:::{b}/tmp/*"]}},{{"Effect":"Deny","Principal":"*","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::{b}/protected/*"}}]}}"#
    );
    main.put_bucket_policy()
        .bucket(&b)
        .policy(policy)
        .send()
        .await
        .unwrap();
    let objects = |keys: &[&str]| {
        Delete::builder()
            .set_objects(Some(
                keys.iter()
                    .map(|k| ObjectIdentifier::builder().key(*k).build().unwrap())
                    .collect(),
            ))
            .build()
            .unwrap()
    };
    let out = alt
        .delete_objects()
        .bucket(&b)
        .delete(objects(&["keep.txt", "tmp/a"]))
        .send()
        .await
        .unwrap();
    let deleted: Vec<&str> = out.deleted().iter().filter_map(|d| d.key()).collect();
    let refused: Vec<(&str, &str)> = out
        .errors()
        .iter()
        .filter_map(|e| Some((e.key()?, e.code()?)))
        .collect();
    assert_eq!(deleted, ["tmp/a"]);
    assert_eq!(refused, [("keep.txt", "AccessDenied")]);
    assert_eq!(
        read(&main, &b, "keep.txt").await.as_deref(),
        Some(&b"keep"[..])
    );
    // The owner too is held by the Deny.
    let out = main
        .delete_objects()
        .bucket(&b)
        .delete(objects(&["protected/p", "keep.txt"]))
        .send()
        .await
        .unwrap();
    let deleted: Vec<&str> = out.deleted().iter().filter_map(|d| d.key()).collect();
    assert_eq!(deleted, ["keep.txt"]);
    assert_eq!(
        read(&main, &b, "protected/p").await.as_deref(),
        Some(&b"p"[..])
    );
}

/// A SigV2 presigned GET of an object cannot be turned into GetObjectTagging (or PUT into
/// PutObjectTagging) by adding a sub-resource the signature did not cover.
#[test]
fn a_sigv2_presigned_url_covers_its_own_operation_only() {
    use base64::Engine;
    use hmac::{KeyInit, Mac};
    let b = bucket_name("rv-v2");
    rt().block_on(async {
        bucket_with(
            &client_for(own_gateway(), MAIN),
            "rv-v2",
            &[("obj.txt", "hello")],
        )
        .await;
    });
    let gw = own_gateway();
    let expires = (std::time::SystemTime::now() + std::time::Duration::from_secs(600))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut mac = <hmac::Hmac<sha1::Sha1> as KeyInit>::new_from_slice(MAIN.1.as_bytes()).unwrap();
    mac.update(format!("GET\n\n\n{expires}\n/{b}/obj.txt").as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let auth = format!(
        "AWSAccessKeyId={}&Expires={expires}&Signature={}",
        MAIN.0,
        percent_encode(&signature)
    );
    let get = |target: String| {
        raw_request(
            gw.addr,
            &format_request("GET", &target, &[("host".into(), gw.addr.to_string())], b""),
        )
    };
    let (status, _, body) = get(format!("/{b}/obj.txt?{auth}"));
    assert_eq!((status, body.as_str()), (200, "hello"));
    for extra in ["tagging", "acl", "cors"] {
        let (status, _, body) = get(format!("/{b}/obj.txt?{extra}&{auth}"));
        assert_eq!(status, 403, "?{extra}: {body}");
        assert_eq!(
            xml_tag(&body, "Code"),
            Some("SignatureDoesNotMatch"),
            "?{extra}"
        );
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An ACL change on an old version changes that version's ACL in place: it does not roll the
/// object back to it (which would be a content write by someone allowed only to change ACLs).
#[tokio::test]
async fn an_acl_change_never_restores_an_old_version() {
    let (main, alt) = (
        client_for(own_gateway(), MAIN),
        client_for(own_gateway(), ALT),
    );
    let b = bucket_name("rv-aclver");
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
    let v1 = main
        .put_object()
        .bucket(&b)
        .key("doc")
        .body(ByteStream::from_static(b"OLD-CONTENT"))
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_owned();
    main.put_object()
        .bucket(&b)
        .key("doc")
        .body(ByteStream::from_static(b"NEW-CONTENT"))
        .send()
        .await
        .unwrap();
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"alt"}},"Action":"s3:PutObjectAcl","Resource":"arn:aws:s3:::{b}/*"}}]}}"#
    );
    main.put_bucket_policy()
        .bucket(&b)
        .policy(policy)
        .send()
        .await
        .unwrap();
    alt.put_object_acl()
        .bucket(&b)
        .key("doc")
        .version_id(&v1)
        .acl(ObjectCannedAcl::Private)
        .send()
        .await
        .unwrap();
    assert_eq!(
        read(&main, &b, "doc").await.as_deref(),
        Some(&b"NEW-CONTENT"[..])
    );
    let versions = main.list_object_versions().bucket(&b).send().await.unwrap();
    assert_eq!(versions.versions().len(), 2, "no version was added");
}

/// Parameters of another operation never reach the backend: `?uploads&uploadId=` is a
/// CreateMultipartUpload to the gateway, and must not complete the upload at the backend.
#[tokio::test]
async fn another_operations_parameters_stay_at_the_gateway() {
    let (gw, relay) =
        spawn_gateway_with_relay_using(|c| with_system_bucket(&c, &own_system_bucket()));
    let main = client_for(&gw, MAIN);
    let b = bucket_name("rv-params");
    main.create_bucket().bucket(&b).send().await.unwrap();
    let upload = main
        .create_multipart_upload()
        .bucket(&b)
        .key("mp")
        .send()
        .await
        .unwrap();
    let id = upload.upload_id().unwrap().to_owned();
    let host = gw.addr.to_string();
    let target = format!("/{b}/mp?uploads&uploadId={id}");
    let mut headers = sign_headers(
        "POST",
        &host,
        &target,
        &[],
        EMPTY_SHA256,
        std::time::SystemTime::now(),
        MAIN,
    );
    headers.push(("host".into(), host));
    headers.push(("content-length".into(), "0".into()));
    relay.clear();
    let (status, _, body) = raw_request(gw.addr, &format_request("POST", &target, &headers, b""));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("InitiateMultipartUploadResult"), "{body}");
    for head in relay.heads() {
        assert!(!head.has_query_param("uploadId"), "{}", head.summary());
    }
    // The original upload is still open.
    main.list_parts()
        .bucket(&b)
        .key("mp")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
}

/// Listings name the bucket's owner at the gateway, never the backend's service account
/// (which owns every object at the backend).
#[tokio::test]
async fn listings_name_the_gateway_owner() {
    let alt = client_for(own_gateway(), ALT);
    let b = bucket_with(&alt, "rv-owners", &[("a", "1"), ("b", "2")]).await;
    let v1 = alt.list_objects().bucket(&b).send().await.unwrap();
    let v2 = alt
        .list_objects_v2()
        .bucket(&b)
        .fetch_owner(true)
        .send()
        .await
        .unwrap();
    let versions = alt.list_object_versions().bucket(&b).send().await.unwrap();
    let mut owners: Vec<Option<&str>> = v1
        .contents()
        .iter()
        .map(|o| o.owner().and_then(|o| o.id()))
        .collect();
    owners.extend(v2.contents().iter().map(|o| o.owner().and_then(|o| o.id())));
    owners.extend(
        versions
            .versions()
            .iter()
            .map(|o| o.owner().and_then(|o| o.id())),
    );
    assert_eq!(owners.len(), 6);
    assert!(owners.iter().all(|o| *o == Some("alt")), "{owners:?}");
    assert_eq!(
        v1.contents()[0].owner().and_then(|o| o.display_name()),
        Some("Alt User")
    );
    let upload = alt
        .create_multipart_upload()
        .bucket(&b)
        .key("mp")
        .send()
        .await
        .unwrap();
    let uploads = alt
        .list_multipart_uploads()
        .bucket(&b)
        .send()
        .await
        .unwrap();
    let initiator = uploads.uploads()[0].initiator().and_then(|i| i.id());
    assert_eq!(initiator, Some("alt"));
    alt.abort_multipart_upload()
        .bucket(&b)
        .key("mp")
        .upload_id(upload.upload_id().unwrap())
        .send()
        .await
        .unwrap();
}

/// A public-read source may be copied by anyone who may read it, and the copy is pinned to the
/// version whose ACL was checked (`x-amz-copy-source-if-match`), as a public GET is.
#[tokio::test]
async fn a_public_copy_source_is_pinned_to_the_checked_version() {
    let (gw, relay) =
        spawn_gateway_with_relay_using(|c| with_system_bucket(&c, &own_system_bucket()));
    let (main, alt) = (client_for(&gw, MAIN), client_for(&gw, ALT));
    let src = bucket_name("rv-pin-src");
    main.create_bucket().bucket(&src).send().await.unwrap();
    let put = main
        .put_object()
        .bucket(&src)
        .key("pub.txt")
        .acl(ObjectCannedAcl::PublicRead)
        .body(ByteStream::from_static(b"public v1"))
        .send()
        .await
        .unwrap();
    let etag = put.e_tag().unwrap().to_owned();
    let dst = bucket_name("rv-pin-dst");
    alt.create_bucket().bucket(&dst).send().await.unwrap();
    relay.clear();
    alt.copy_object()
        .bucket(&dst)
        .key("copy")
        .copy_source(format!("{src}/pub.txt"))
        .send()
        .await
        .unwrap();
    let copies: Vec<_> = relay
        .heads()
        .into_iter()
        .filter(|h| h.header("x-amz-copy-source").is_some())
        .collect();
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert_eq!(
        copies[0].header("x-amz-copy-source-if-match").as_deref(),
        Some(etag.as_str())
    );
    assert_eq!(
        read(&alt, &dst, "copy").await.as_deref(),
        Some(&b"public v1"[..])
    );
    // A private object is still no source for alt.
    main.put_object()
        .bucket(&src)
        .key("private.txt")
        .body(ByteStream::from_static(b"private"))
        .send()
        .await
        .unwrap();
    let e = alt
        .copy_object()
        .bucket(&dst)
        .key("copy2")
        .copy_source(format!("{src}/private.txt"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.into_service_error().code(), Some("AccessDenied"));
}

/// `response-*` overrides become response headers at the backend: no control characters.
#[tokio::test]
async fn response_overrides_carry_no_control_characters() {
    let main = client_for(own_gateway(), MAIN);
    let b = bucket_with(&main, "rv-overrides", &[("k", "v")]).await;
    let e = main
        .get_object()
        .bucket(&b)
        .key("k")
        .response_content_type("text/html\r\nSet-Cookie: a=b")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.into_service_error().code(), Some("InvalidArgument"));
    let ok = main
        .get_object()
        .bucket(&b)
        .key("k")
        .response_content_type("text/plain")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.content_type(), Some("text/plain"));
}

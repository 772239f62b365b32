//! Listing details that tools rely on, checked through the gateway against what S3 documents:
//! `encoding-type=url` in every listing that takes it (v1, v2, versions, multipart uploads),
//! `start-after`, continuation tokens that page through awkward keys exactly once, and keys
//! that are only a `/` or end in one.

mod common;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::EncodingType;
use common::*;

/// Keys a listing must carry intact: XML-hostile, URL-hostile, unicode, slashes alone.
const ALL_KEYS: &[&str] = &[
    "/",
    "a b+c/ü.txt",
    "dir/",
    "dir//double",
    "plain",
    "tab\there",
    "x&y<z>'\"",
];

/// The keys this backend stores as they are: one that folds `a//b` into `a/b` refuses keys
/// with an empty path segment (501, see `slash_only_and_trailing_slash_keys_read_back`).
fn stored_keys() -> Vec<&'static str> {
    let folds = backend_kind() == "seaweedfs";
    ALL_KEYS
        .iter()
        .copied()
        .filter(|k| !(folds && (k.starts_with('/') || k.contains("//"))))
        .collect()
}

/// An `encoding-type=url` value decoded as S3 encodes it (form encoding: `+` is a space).
fn url_decoded(value: &str) -> String {
    let spaced = value.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .unwrap_or_else(|e| panic!("{value}: {e}"))
        .into_owned()
}

/// An encoded key carries no character that XML 1.0 or a URL would mangle: no controls, no
/// spaces, no markup, nothing outside ASCII.
fn is_url_safe(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b.is_ascii_graphic() && !b"<>&\"".contains(&b))
}

async fn bucket_with_keys(test: &str) -> (aws_sdk_s3::Client, String) {
    let c = client(MAIN);
    let b = bucket_name(test);
    c.create_bucket().bucket(&b).send().await.unwrap();
    for key in stored_keys() {
        c.put_object()
            .bucket(&b)
            .key(key)
            .body(ByteStream::from(key.as_bytes().to_vec()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("put {key:?}: {e:?}"));
    }
    (c, b)
}

fn sorted(keys: &[&str]) -> Vec<String> {
    let mut keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn url_encoded_listings_decode_to_the_keys() {
    let (c, b) = bucket_with_keys("list-enc").await;
    let v2 = c
        .list_objects_v2()
        .bucket(&b)
        .encoding_type(EncodingType::Url)
        .send()
        .await
        .unwrap();
    assert_eq!(v2.encoding_type(), Some(&EncodingType::Url));
    let refused = c
        .list_objects_v2()
        .bucket(&b)
        .encoding_type(EncodingType::from("base64"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        refused.into_service_error().meta().code(),
        Some("InvalidArgument")
    );
    let raw: Vec<&str> = v2.contents().iter().filter_map(|o| o.key()).collect();
    assert!(raw.iter().all(|k| is_url_safe(k)), "{raw:?}");
    let keys: Vec<String> = raw.iter().map(|k| url_decoded(k)).collect();
    assert_eq!(keys, sorted(&stored_keys()));

    let v1 = c
        .list_objects()
        .bucket(&b)
        .encoding_type(EncodingType::Url)
        .delimiter("/")
        .prefix("a b+c/")
        .send()
        .await
        .unwrap();
    assert_eq!(v1.encoding_type(), Some(&EncodingType::Url));
    let keys: Vec<String> = v1
        .contents()
        .iter()
        .filter_map(|o| o.key())
        .map(url_decoded)
        .collect();
    assert_eq!(keys, ["a b+c/ü.txt"]);
    // As S3 (and the SDKs, which decode the rest) have it: v1's own prefix comes back as sent.
    assert_eq!(v1.prefix(), Some("a b+c/"));
    let paged = c
        .list_objects()
        .bucket(&b)
        .encoding_type(EncodingType::Url)
        .marker("a b+c/")
        .max_keys(1)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            paged.marker().map(url_decoded).as_deref(),
            paged.next_marker().map(url_decoded).as_deref()
        ),
        (Some("a b+c/"), Some("a b+c/ü.txt"))
    );

    let delimited = c
        .list_objects_v2()
        .bucket(&b)
        .encoding_type(EncodingType::Url)
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let prefixes: Vec<String> = delimited
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .map(url_decoded)
        .collect();
    let want: Vec<&str> = ["/", "a b+c/", "dir/"]
        .into_iter()
        .filter(|p| stored_keys().iter().any(|k| k.starts_with(p)))
        .collect();
    assert_eq!(prefixes, want);

    let versions = c
        .list_object_versions()
        .bucket(&b)
        .encoding_type(EncodingType::Url)
        .send()
        .await
        .unwrap();
    let keys: Vec<String> = versions
        .versions()
        .iter()
        .filter_map(|v| v.key())
        .map(url_decoded)
        .collect();
    assert_eq!(keys, sorted(&stored_keys()));

    let mut ids = Vec::new();
    for key in ["a b+c/ü.txt", "x&y<z>'\""] {
        let created = c
            .create_multipart_upload()
            .bucket(&b)
            .key(key)
            .send()
            .await
            .unwrap();
        ids.push((key, created.upload_id().unwrap().to_owned()));
    }
    let uploads = c
        .list_multipart_uploads()
        .bucket(&b)
        .encoding_type(EncodingType::Url)
        .send()
        .await
        .unwrap();
    assert_eq!(uploads.encoding_type(), Some(&EncodingType::Url));
    let raw: Vec<&str> = uploads.uploads().iter().filter_map(|u| u.key()).collect();
    assert!(raw.iter().all(|k| is_url_safe(k)), "{raw:?}");
    let mut keys: Vec<String> = raw.iter().map(|k| url_decoded(k)).collect();
    if backend_kind() == "seaweedfs" {
        // It lists uploads out of key order (open: the gateway does not re-sort pages).
        keys.sort();
    }
    assert_eq!(keys, ["a b+c/ü.txt", "x&y<z>'\""]);
    for (key, id) in ids {
        c.abort_multipart_upload()
            .bucket(&b)
            .key(key)
            .upload_id(id)
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn pages_and_start_after_visit_every_key_once() {
    let (c, b) = bucket_with_keys("list-pages").await;
    // One key per page: every token is a position between awkward keys.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..=stored_keys().len() {
        let page = c
            .list_objects_v2()
            .bucket(&b)
            .max_keys(1)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        seen.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key())
                .map(str::to_owned),
        );
        if !page.is_truncated().unwrap_or(false) {
            token = None;
            break;
        }
        let next = page.next_continuation_token().unwrap().to_owned();
        // Opaque: no key shows through (RGW's own token is the last key in the clear).
        assert!(
            seen.iter()
                .all(|k| k.len() < 3 || !next.contains(k.as_str())),
            "{next}"
        );
        // Stable: asking again from the same place answers the same token.
        let again = c
            .list_objects_v2()
            .bucket(&b)
            .max_keys(1)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(again.next_continuation_token(), Some(next.as_str()));
        token = Some(next);
    }
    assert!(token.is_none(), "the listing never ended");
    let forged = c
        .list_objects_v2()
        .bucket(&b)
        .continuation_token("plain")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(forged.meta().code(), Some("InvalidArgument"));
    assert_eq!(seen, sorted(&stored_keys()));

    let after = c
        .list_objects_v2()
        .bucket(&b)
        .start_after("a b+c/ü.txt")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = after.contents().iter().filter_map(|o| o.key()).collect();
    let want: Vec<String> = sorted(&stored_keys())
        .into_iter()
        .filter(|k| k.as_str() > "a b+c/ü.txt")
        .collect();
    assert_eq!(keys, want);
    assert_eq!(after.start_after(), Some("a b+c/ü.txt"));

    // v1 pages by marker the same way.
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = c
            .list_objects()
            .bucket(&b)
            .max_keys(2)
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap();
        let keys: Vec<String> = page
            .contents()
            .iter()
            .filter_map(|o| o.key())
            .map(str::to_owned)
            .collect();
        marker = keys.last().cloned();
        seen.extend(keys);
        if !page.is_truncated().unwrap_or(false) {
            break;
        }
    }
    assert_eq!(seen, sorted(&stored_keys()));
}

#[tokio::test]
async fn slash_only_and_trailing_slash_keys_read_back() {
    let (c, b) = bucket_with_keys("list-slash").await;
    if backend_kind() == "seaweedfs" {
        // It would store `dir//double` as `dir/double`: refused by name instead.
        for key in ["/", "dir//double"] {
            let e = c
                .put_object()
                .bucket(&b)
                .key(key)
                .body(ByteStream::from_static(b"x"))
                .send()
                .await
                .unwrap_err()
                .into_service_error();
            assert_eq!(e.meta().code(), Some("NotImplemented"), "{key:?}");
        }
        return;
    }
    for key in ["/", "dir/", "dir//double"] {
        let body = c
            .get_object()
            .bucket(&b)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("get {key:?}: {e:?}"))
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes();
        assert_eq!(body.as_ref(), key.as_bytes(), "{key:?}");
    }
    let under_dir = c
        .list_objects_v2()
        .bucket(&b)
        .prefix("dir/")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = under_dir
        .contents()
        .iter()
        .filter_map(|o| o.key())
        .collect();
    let prefixes: Vec<&str> = under_dir
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!((keys, prefixes), (vec!["dir/"], vec!["dir//"]));
}

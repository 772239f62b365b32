//! Browser-style POST uploads: forms made by boto3's `generate_presigned_post` (V4 and V2), sent
//! by curl as a browser sends them (`multipart/form-data`, file last).

mod common;

use std::process::Command;

use common::*;

/// Runs boto3's presigned-post generator and prints `url` then `name=value` lines.
fn presigned_post(
    bucket: &str,
    key: &str,
    v2: bool,
    fields: &str,
    conditions: &str,
) -> (String, Vec<(String, String)>) {
    let script = r#"
import sys, json, boto3
from botocore.client import Config
endpoint, ak, sk, bucket, key, v2, fields, conditions = sys.argv[1:9]
config = Config(signature_version="s3") if v2 == "1" else Config(signature_version="s3v4")
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="nyc3", aws_access_key_id=ak,
                  aws_secret_access_key=sk, config=config)
post = s3.generate_presigned_post(bucket, key, Fields=json.loads(fields), Conditions=json.loads(conditions), ExpiresIn=300)
print(post["url"])
for k, v in post["fields"].items():
    print(f"{k}={v}")
"#;
    let out = Command::new("python3")
        .args([
            "-c",
            script,
            &gateway().endpoint(),
            MAIN.0,
            MAIN.1,
            bucket,
            key,
            if v2 { "1" } else { "0" },
            fields,
            conditions,
        ])
        .output()
        .expect("python3 with boto3 (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let url = lines.next().unwrap().to_owned();
    let fields = lines
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    (url, fields)
}

/// Posts the form with curl; returns (status, headers+body).
fn post_form(url: &str, fields: &[(String, String)], file: &std::path::Path) -> (u16, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-i", "-X", "POST", "-H", "Expect:"]);
    for (k, v) in fields {
        cmd.arg("--form-string").arg(format!("{k}={v}"));
    }
    cmd.arg("-F")
        .arg(format!("file=@{}", file.display()))
        .arg(url);
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

fn file(name: &str, len: usize) -> (std::path::PathBuf, Vec<u8>) {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("post");
    std::fs::create_dir_all(&dir).unwrap();
    let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
    let path = dir.join(name);
    std::fs::write(&path, &data).unwrap();
    (path, data)
}

async fn bucket(test: &str) -> String {
    let b = bucket_name(test);
    let _ = client(MAIN).create_bucket().bucket(&b).send().await;
    b
}

async fn stored(bucket: &str, key: &str) -> Option<Vec<u8>> {
    let got = client(MAIN)
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .ok()?;
    Some(got.body.collect().await.unwrap().into_bytes().to_vec())
}

#[tokio::test]
async fn v4_form_upload_with_filename_and_metadata() {
    let b = bucket("post-v4").await;
    let (path, data) = file("photo.bin", 300_000);
    let (url, fields) = presigned_post(
        &b,
        "uploads/${filename}",
        false,
        r#"{"Content-Type": "image/png", "x-amz-meta-origin": "browser"}"#,
        r#"[["starts-with", "$key", "uploads/"], ["content-length-range", 1, 10485760], {"Content-Type": "image/png"}, {"x-amz-meta-origin": "browser"}]"#,
    );
    let (status, text) = post_form(&url, &fields, &path);
    assert_eq!(status, 204, "{text}");
    assert!(text.to_ascii_lowercase().contains("etag:"), "{text}");
    assert_eq!(
        stored(&b, "uploads/photo.bin").await.as_deref(),
        Some(&data[..])
    );
    let head = client(MAIN)
        .head_object()
        .bucket(&b)
        .key("uploads/photo.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("image/png"));
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("origin"))
            .map(String::as_str),
        Some("browser")
    );
}

#[tokio::test]
async fn v2_form_upload_with_201_response() {
    let b = bucket("post-v2").await;
    let (path, data) = file("v2.bin", 70_000);
    let (url, fields) = presigned_post(
        &b,
        "v2/object.bin",
        true,
        r#"{"success_action_status": "201"}"#,
        r#"[{"success_action_status": "201"}]"#,
    );
    let (status, text) = post_form(&url, &fields, &path);
    assert_eq!(status, 201, "{text}");
    assert!(
        text.contains("<Key>v2/object.bin</Key>")
            && text.contains(&format!("<Bucket>{b}</Bucket>")),
        "{text}"
    );
    assert_eq!(
        stored(&b, "v2/object.bin").await.as_deref(),
        Some(&data[..])
    );
}

#[tokio::test]
async fn policy_violations_store_nothing() {
    let b = bucket("post-deny").await;
    let (path, _) = file("big.bin", 200_000);
    // The policy allows at most 100 KB.
    let (url, fields) = presigned_post(
        &b,
        "limited.bin",
        false,
        "{}",
        r#"[["content-length-range", 1, 100000]]"#,
    );
    let (status, text) = post_form(&url, &fields, &path);
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("<Code>EntityTooLarge</Code>"), "{text}");
    assert_eq!(stored(&b, "limited.bin").await, None);

    // A key the policy does not allow.
    let (url, mut fields) = presigned_post(
        &b,
        "allowed/x.bin",
        false,
        "{}",
        r#"[["starts-with", "$key", "allowed/"]]"#,
    );
    for (k, v) in fields.iter_mut() {
        if k == "key" {
            *v = "elsewhere/x.bin".into();
        }
    }
    let (status, text) = post_form(&url, &fields, &path);
    assert_eq!(status, 403, "{text}");
    assert!(
        text.contains("<Code>AccessDenied</Code>") && text.contains("Policy Condition failed"),
        "{text}"
    );
    assert_eq!(stored(&b, "elsewhere/x.bin").await, None);

    // A field the policy does not mention.
    let (url, mut fields) = presigned_post(&b, "extra.bin", false, "{}", "[]");
    fields.push(("x-amz-meta-sneaky".into(), "1".into()));
    let (status, text) = post_form(&url, &fields, &path);
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("Extra input fields"), "{text}");

    // A signature from the wrong secret.
    let (url, mut fields) = presigned_post(&b, "forged.bin", false, "{}", "[]");
    for (k, v) in fields.iter_mut() {
        if k == "x-amz-signature" {
            *v = "0".repeat(64);
        }
    }
    let (status, text) = post_form(&url, &fields, &path);
    assert_eq!(status, 403, "{text}");
    assert!(
        text.contains("<Code>SignatureDoesNotMatch</Code>"),
        "{text}"
    );
    assert_eq!(stored(&b, "forged.bin").await, None);
}

#[tokio::test]
async fn a_large_form_upload_streams() {
    let b = bucket("post-large").await;
    let (path, data) = file("large.bin", 24 * 1024 * 1024 + 3);
    let (url, fields) = presigned_post(&b, "large.bin", false, "{}", "[]");
    let (status, text) = post_form(&url, &fields, &path);
    assert_eq!(status, 204, "{}", &text[..text.len().min(400)]);
    assert_eq!(stored(&b, "large.bin").await.map(|d| d == data), Some(true));
}

/// A bucket policy decides a form upload on the form's fields, which are what gets stored: a
/// Deny on `s3:x-amz-acl = public-read` holds for an `acl` form field too (the HTTP request
/// carries no `x-amz-acl` header for the policy to see).
#[tokio::test]
async fn bucket_policy_conditions_read_the_form_fields() {
    let b = bucket("post-policy").await;
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::{b}/*","Condition":{{"StringEquals":{{"s3:x-amz-acl":"public-read"}}}}}}]}}"#
    );
    client(MAIN)
        .put_bucket_policy()
        .bucket(&b)
        .policy(policy)
        .send()
        .await
        .unwrap();
    let (path, _) = file("acl.bin", 100);
    let (url, fields) = presigned_post(
        &b,
        "public.bin",
        false,
        r#"{"acl": "public-read"}"#,
        r#"[{"acl": "public-read"}]"#,
    );
    let (status, text) = post_form(&url, &fields, &path);
    assert_eq!(status, 403, "{text}");
    assert_eq!(stored(&b, "public.bin").await, None);
    let (url, fields) = presigned_post(&b, "private.bin", false, r#"{}"#, r#"[]"#);
    let (status, text) = post_form(&url, &fields, &path);
    assert_eq!(status, 204, "{text}");
}

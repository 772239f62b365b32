//! Issue 10, the authorization matrix: for every operation of the profile that is not
//! `not_implemented`, alt against main's private bucket (and an object and an upload in it),
//! with every auth form (SigV4 header, SigV4 presigned, SigV2 header, anonymous, anonymous under
//! an allowing policy on alt's own bucket, browser POST), path-style and virtual-hosted:
//! every answer is 403 AccessDenied or another 4xx the gateway answers itself (the backend never
//! sees the operation), never 2xx, and main's bucket, objects and upload are unchanged.
//!
//! One row per operation; operations that name a second bucket (CopyObject, UploadPartCopy)
//! have a row for each direction. The gateway runs behind a recording relay, which tells
//! whether an operation reached the backend.

mod common;

use std::time::{Duration, SystemTime};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use common::relay::{RecordedHead, Relay};
use common::*;

const SECRET: &[u8] = b"main's private matrix secret";
const PART_ONE: &[u8] = b"part one, written by main";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    V4Header,
    V4Presigned,
    V2Header,
    /// Unsigned. For rows addressed to alt's bucket, this is "anonymous under an allowing
    /// policy": alt's bucket lets `*` do `s3:*`.
    Anonymous,
}

const FORMS: [Form; 4] = [
    Form::V4Header,
    Form::V4Presigned,
    Form::V2Header,
    Form::Anonymous,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Path,
    VirtualHost,
}

/// Which bucket a row addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    None,
    Main,
    Alt,
}

struct Fixture {
    main_bucket: String,
    alt_bucket: String,
    /// main's upload of `mpu.bin` (part 1 uploaded), in main's bucket.
    upload: String,
    part_etag: String,
    /// alt's upload of `alt-mpu.bin`, in alt's bucket.
    alt_upload: String,
}

/// One operation, as alt would send it.
struct Row {
    op: &'static str,
    method: &'static str,
    target: Target,
    key: Option<&'static str>,
    /// The query as sent (already encoded), without `?`.
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn md5_base64(data: &[u8]) -> String {
    use base64::Engine;
    use md5::Digest;
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(data))
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(data))
}

#[allow(clippy::too_many_arguments)]
fn row(
    op: &'static str,
    method: &'static str,
    target: Target,
    key: Option<&'static str>,
    query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Row {
    let mut headers: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    if body.starts_with(b"<") {
        headers.push(("content-md5".into(), md5_base64(body)));
    }
    Row {
        op,
        method,
        target,
        key,
        query: query.to_owned(),
        headers,
        body: body.to_vec(),
    }
}

/// Every operation of `policies/spaces.toml` whose verdict is `proxy` or `gateway` (PostObject
/// and PreflightCors are tried separately: they have their own forms).
fn rows(fx: &Fixture) -> Vec<Row> {
    use Target::*;
    let (mb, ab, u, au) = (&fx.main_bucket, &fx.alt_bucket, &fx.upload, &fx.alt_upload);
    let from_alt = format!("/{ab}/alt.txt");
    let from_main = format!("/{mb}/secret.txt");
    let upload = format!("uploadId={u}");
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::{mb}","arn:aws:s3:::{mb}/*"]}}]}}"#
    );
    let complete = format!(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{}</ETag></Part></CompleteMultipartUpload>",
        fx.part_etag
    );
    let logging = format!(
        "<BucketLoggingStatus><LoggingEnabled><TargetBucket>{ab}</TargetBucket><TargetPrefix>stolen/</TargetPrefix></LoggingEnabled></BucketLoggingStatus>"
    );
    let cors = "<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>";
    let lifecycle = "<LifecycleConfiguration><Rule><ID>gone</ID><Filter><Prefix></Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>";
    let website = "<WebsiteConfiguration><IndexDocument><Suffix>secret.txt</Suffix></IndexDocument></WebsiteConfiguration>";
    let versioning = "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>";
    let tagging =
        "<Tagging><TagSet><Tag><Key>owner</Key><Value>alt</Value></Tag></TagSet></Tagging>";
    let delete = "<Delete><Object><Key>secret.txt</Key></Object></Delete>";
    let public = [("x-amz-acl", "public-read")];
    let k = Some("secret.txt");
    let mpu = Some("mpu.bin");
    vec![
        // Reads.
        row("ListBuckets", "GET", None, Option::None, "", &[], b""),
        row("HeadBucket", "HEAD", Main, Option::None, "", &[], b""),
        row("ListObjects", "GET", Main, Option::None, "", &[], b""),
        row(
            "ListObjectsV2",
            "GET",
            Main,
            Option::None,
            "list-type=2",
            &[],
            b"",
        ),
        row(
            "ListObjectVersions",
            "GET",
            Main,
            Option::None,
            "versions",
            &[],
            b"",
        ),
        row(
            "ListMultipartUploads",
            "GET",
            Main,
            Option::None,
            "uploads",
            &[],
            b"",
        ),
        row("GetBucketAcl", "GET", Main, Option::None, "acl", &[], b""),
        row("GetBucketCors", "GET", Main, Option::None, "cors", &[], b""),
        row(
            "GetBucketLifecycleConfiguration",
            "GET",
            Main,
            Option::None,
            "lifecycle",
            &[],
            b"",
        ),
        row(
            "GetBucketLocation",
            "GET",
            Main,
            Option::None,
            "location",
            &[],
            b"",
        ),
        row(
            "GetBucketLogging",
            "GET",
            Main,
            Option::None,
            "logging",
            &[],
            b"",
        ),
        row(
            "GetBucketPolicy",
            "GET",
            Main,
            Option::None,
            "policy",
            &[],
            b"",
        ),
        row(
            "GetBucketVersioning",
            "GET",
            Main,
            Option::None,
            "versioning",
            &[],
            b"",
        ),
        row(
            "GetBucketWebsite",
            "GET",
            Main,
            Option::None,
            "website",
            &[],
            b"",
        ),
        row("GetObject", "GET", Main, k, "", &[], b""),
        row("HeadObject", "HEAD", Main, k, "", &[], b""),
        row("GetObjectAcl", "GET", Main, k, "acl", &[], b""),
        row("GetObjectTagging", "GET", Main, k, "tagging", &[], b""),
        row("ListParts", "GET", Main, mpu, &upload, &[], b""),
        // Copies out of main's bucket into alt's (alt's bucket lets anyone do anything).
        row(
            "CopyObject (from main's bucket)",
            "PUT",
            Alt,
            Some("stolen.txt"),
            "",
            &[("x-amz-copy-source", from_main.as_str())],
            b"",
        ),
        row(
            "UploadPartCopy (from main's bucket)",
            "PUT",
            Alt,
            Some("alt-mpu.bin"),
            &format!("partNumber=1&uploadId={au}"),
            &[("x-amz-copy-source", from_main.as_str())],
            b"",
        ),
        // Writes into main's bucket.
        row("CreateBucket", "PUT", Main, Option::None, "", &[], b""),
        row("PutObject", "PUT", Main, k, "", &[], b"overwritten by alt"),
        row(
            "CopyObject (into main's bucket)",
            "PUT",
            Main,
            Some("copied.txt"),
            "",
            &[("x-amz-copy-source", from_alt.as_str())],
            b"",
        ),
        row(
            "CreateMultipartUpload",
            "POST",
            Main,
            Some("new.bin"),
            "uploads",
            &[],
            b"",
        ),
        row(
            "UploadPart",
            "PUT",
            Main,
            mpu,
            &format!("partNumber=2&{upload}"),
            &[],
            b"part by alt",
        ),
        row(
            "UploadPartCopy (into main's upload)",
            "PUT",
            Main,
            mpu,
            &format!("partNumber=3&{upload}"),
            &[("x-amz-copy-source", from_alt.as_str())],
            b"",
        ),
        row("PutObjectAcl", "PUT", Main, k, "acl", &public, b""),
        row(
            "PutObjectTagging",
            "PUT",
            Main,
            k,
            "tagging",
            &[],
            tagging.as_bytes(),
        ),
        row(
            "PutBucketAcl",
            "PUT",
            Main,
            Option::None,
            "acl",
            &public,
            b"",
        ),
        row(
            "PutBucketCors",
            "PUT",
            Main,
            Option::None,
            "cors",
            &[],
            cors.as_bytes(),
        ),
        row(
            "PutBucketLifecycleConfiguration",
            "PUT",
            Main,
            Option::None,
            "lifecycle",
            &[],
            lifecycle.as_bytes(),
        ),
        row(
            "PutBucketLogging",
            "PUT",
            Main,
            Option::None,
            "logging",
            &[],
            logging.as_bytes(),
        ),
        row(
            "PutBucketPolicy",
            "PUT",
            Main,
            Option::None,
            "policy",
            &[],
            policy.as_bytes(),
        ),
        row(
            "PutBucketVersioning",
            "PUT",
            Main,
            Option::None,
            "versioning",
            &[],
            versioning.as_bytes(),
        ),
        row(
            "PutBucketWebsite",
            "PUT",
            Main,
            Option::None,
            "website",
            &[],
            website.as_bytes(),
        ),
        // Deletions last: if one goes through, it does not hide the others.
        row(
            "DeleteBucketCors",
            "DELETE",
            Main,
            Option::None,
            "cors",
            &[],
            b"",
        ),
        row(
            "DeleteBucketLifecycle",
            "DELETE",
            Main,
            Option::None,
            "lifecycle",
            &[],
            b"",
        ),
        row(
            "DeleteBucketPolicy",
            "DELETE",
            Main,
            Option::None,
            "policy",
            &[],
            b"",
        ),
        row(
            "DeleteBucketWebsite",
            "DELETE",
            Main,
            Option::None,
            "website",
            &[],
            b"",
        ),
        row(
            "DeleteObjectTagging",
            "DELETE",
            Main,
            k,
            "tagging",
            &[],
            b"",
        ),
        row(
            "CompleteMultipartUpload",
            "POST",
            Main,
            mpu,
            &upload,
            &[],
            complete.as_bytes(),
        ),
        row(
            "AbortMultipartUpload",
            "DELETE",
            Main,
            mpu,
            &upload,
            &[],
            b"",
        ),
        row(
            "DeleteObjects",
            "POST",
            Main,
            Option::None,
            "delete",
            &[],
            delete.as_bytes(),
        ),
        row("DeleteObject", "DELETE", Main, k, "", &[], b""),
        row("DeleteBucket", "DELETE", Main, Option::None, "", &[], b""),
    ]
}

/// A request as it goes on the wire: (target, headers, body).
type Wire = (String, Vec<(String, String)>, Vec<u8>);

/// The Host, and the path as addressed (path-style `/<bucket>/<key>`, virtual-hosted `/<key>`).
fn address(
    gw: &Gateway,
    bucket: Option<&str>,
    key: Option<&str>,
    style: Style,
) -> (String, String) {
    let key_part = key.map(|k| format!("/{k}")).unwrap_or_default();
    match (style, bucket) {
        (Style::VirtualHost, Some(b)) => (
            format!("{b}.{REGION}.{DOMAIN}"),
            if key_part.is_empty() {
                "/".into()
            } else {
                key_part
            },
        ),
        (_, Some(b)) => (gw.addr.to_string(), format!("/{b}{key_part}")),
        (_, None) => (gw.addr.to_string(), "/".into()),
    }
}

/// SigV4 query signing (presigned URL) with aws-sigv4, the way SDKs presign.
fn presign(
    method: &str,
    host: &str,
    target: &str,
    headers: &[(&str, &str)],
    keys: (&str, &str),
) -> String {
    use aws_sigv4::http_request::{
        PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
        UriPathNormalizationMode, sign,
    };
    let identity =
        aws_credential_types::Credentials::new(keys.0, keys.1, None, None, "test").into();
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(300));
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name("s3")
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let mut all = vec![("host", host)];
    all.extend_from_slice(headers);
    let url = format!("http://{host}{target}");
    let signable = SignableRequest::new(
        method,
        url.clone(),
        all.into_iter(),
        SignableBody::UnsignedPayload,
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = http::Request::builder()
        .method(method)
        .uri(&url)
        .body(())
        .unwrap();
    instructions.apply_to_request_http1x(&mut request);
    request.uri().path_and_query().unwrap().as_str().to_owned()
}

/// The SigV2 `Authorization` header value (HMAC-SHA1, sub-resources as botocore signs them).
fn sigv2_authorization(
    method: &str,
    host_bucket: Option<&str>,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    date: &str,
    keys: (&str, &str),
) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    const SUBRESOURCES: &[&str] = &[
        "acl",
        "cors",
        "delete",
        "lifecycle",
        "location",
        "logging",
        "partNumber",
        "policy",
        "tagging",
        "uploadId",
        "uploads",
        "versionId",
        "versioning",
        "versions",
        "website",
    ];
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let mut amz: Vec<(String, String)> = headers
        .iter()
        .filter(|(n, _)| n.to_ascii_lowercase().starts_with("x-amz-"))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    amz.sort();
    let mut resource = String::new();
    if let Some(b) = host_bucket {
        resource.push('/');
        resource.push_str(b);
    }
    resource.push_str(path);
    let mut params: Vec<(&str, &str)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .filter(|(n, _)| SUBRESOURCES.contains(n))
        .collect();
    params.sort();
    for (i, (n, v)) in params.iter().enumerate() {
        resource.push(if i == 0 { '?' } else { '&' });
        resource.push_str(n);
        if !v.is_empty() {
            resource.push('=');
            resource.push_str(v);
        }
    }
    let mut sts = format!(
        "{method}\n{}\n{}\n{date}\n",
        header("content-md5"),
        header("content-type")
    );
    for (n, v) in amz {
        sts.push_str(&format!("{n}:{v}\n"));
    }
    sts.push_str(&resource);
    let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(keys.1.as_bytes()).unwrap();
    mac.update(sts.as_bytes());
    use base64::Engine;
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    format!("AWS {}:{signature}", keys.0)
}

/// Builds the request for `row` in `form` and `style`, signed by `keys`.
#[allow(clippy::too_many_arguments)]
fn build(
    gw: &Gateway,
    method: &str,
    bucket: Option<&str>,
    key: Option<&str>,
    query: &str,
    row_headers: &[(String, String)],
    body: &[u8],
    form: Form,
    style: Style,
    keys: (&str, &str),
) -> Wire {
    let (host, path) = address(gw, bucket, key, style);
    let target = if query.is_empty() {
        path.clone()
    } else {
        format!("{path}?{query}")
    };
    let borrowed: Vec<(&str, &str)> = row_headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let mut headers: Vec<(String, String)> = vec![("host".into(), host.clone())];
    headers.extend(row_headers.iter().cloned());
    let target = match form {
        Form::V4Header => {
            headers.extend(sign_headers(
                method,
                &host,
                &target,
                &borrowed,
                &sha256_hex(body),
                SystemTime::now(),
                keys,
            ));
            target
        }
        Form::V4Presigned => presign(method, &host, &target, &borrowed, keys),
        Form::V2Header => {
            let date = httpdate::fmt_http_date(SystemTime::now());
            let host_bucket = (style == Style::VirtualHost).then_some(bucket).flatten();
            let auth =
                sigv2_authorization(method, host_bucket, &path, query, row_headers, &date, keys);
            headers.push(("date".into(), date));
            headers.push(("authorization".into(), auth));
            target
        }
        Form::Anonymous => target,
    };
    if !body.is_empty() || matches!(method, "PUT" | "POST") {
        headers.push(("content-length".into(), body.len().to_string()));
    }
    (target, headers, body.to_vec())
}

fn send(gw: &Gateway, method: &str, wire: &Wire) -> (u16, String, String) {
    raw_request(gw.addr, &format_request(method, &wire.0, &wire.1, &wire.2))
}

/// Whether the relay saw `method` on the path-style `path` with every parameter of `query`:
/// the operation itself reached the backend. The gateway's own reads (an ACL probe, marked by
/// its internal user agent) are its decision-making, not the client's operation.
fn reached_backend(heads: &[RecordedHead], method: &str, path: &str, query: &str) -> bool {
    let heads: Vec<&RecordedHead> = heads
        .iter()
        .filter(|h| {
            !h.header("user-agent")
                .is_some_and(|ua| ua.starts_with("bucketgate/"))
        })
        .collect();
    let names: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split('=').next().unwrap_or(""))
        .collect();
    heads.iter().any(|h| {
        h.method == method && h.path() == path && names.iter().all(|n| h.has_query_param(n))
    })
}

fn code(body: &str) -> Option<&str> {
    xml_tag(body, "Code")
}

/// Removes the test's buckets from the backend when dropped, pass or fail.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        remove_backend_buckets(std::slice::from_ref(&self.0), &[]);
    }
}

async fn fixture(main: &Client, alt: &Client) -> Fixture {
    let (mb, ab) = (bucket_name("mx-main"), bucket_name("mx-alt"));
    main.create_bucket().bucket(&mb).send().await.unwrap();
    main.put_object()
        .bucket(&mb)
        .key("secret.txt")
        // Tags only where the backend keeps them (elsewhere the gateway refuses them).
        .set_tagging(backend_has("tagging").then(|| "owner=main".to_owned()))
        .body(ByteStream::from_static(SECRET))
        .send()
        .await
        .unwrap();
    let up = main
        .create_multipart_upload()
        .bucket(&mb)
        .key("mpu.bin")
        .send()
        .await
        .unwrap();
    let upload = up.upload_id().unwrap().to_owned();
    let part = main
        .upload_part()
        .bucket(&mb)
        .key("mpu.bin")
        .upload_id(&upload)
        .part_number(1)
        .body(ByteStream::from_static(PART_ONE))
        .send()
        .await
        .unwrap();
    alt.create_bucket().bucket(&ab).send().await.unwrap();
    alt.put_object()
        .bucket(&ab)
        .key("alt.txt")
        .body(ByteStream::from_static(b"alt's own object"))
        .send()
        .await
        .unwrap();
    let alt_up = alt
        .create_multipart_upload()
        .bucket(&ab)
        .key("alt-mpu.bin")
        .send()
        .await
        .unwrap();
    alt.put_bucket_policy()
        .bucket(&ab)
        .policy(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::{ab}","arn:aws:s3:::{ab}/*"]}}]}}"#
        ))
        .send()
        .await
        .unwrap();
    Fixture {
        main_bucket: mb,
        alt_bucket: ab,
        upload,
        part_etag: part.e_tag().unwrap().to_owned(),
        alt_upload: alt_up.upload_id().unwrap().to_owned(),
    }
}

/// What main had before alt tried anything; compared afterwards.
async fn main_state(main: &Client, fx: &Fixture, gw: &Gateway) -> Vec<String> {
    let mb = &fx.main_bucket;
    let mut out = Vec::new();
    let listed = main.list_objects_v2().bucket(mb).send().await;
    out.push(format!(
        "objects: {:?}",
        listed
            .map(|l| l
                .contents()
                .iter()
                .map(|o| format!("{}:{}", o.key().unwrap_or(""), o.size().unwrap_or(-1)))
                .collect::<Vec<_>>())
            .map_err(|e| format!("{e:?}"))
    ));
    let secret = main.get_object().bucket(mb).key("secret.txt").send().await;
    let bytes = match secret {
        Ok(o) => o.body.collect().await.unwrap().into_bytes().to_vec(),
        Err(_) => b"<unreadable>".to_vec(),
    };
    out.push(format!("secret: {}", String::from_utf8_lossy(&bytes)));
    let tags = main
        .get_object_tagging()
        .bucket(mb)
        .key("secret.txt")
        .send()
        .await
        .map(|t| {
            t.tag_set()
                .iter()
                .map(|t| format!("{}={}", t.key(), t.value()))
                .collect::<Vec<_>>()
        });
    out.push(format!("tags: {:?}", tags.ok()));
    let anon = |path: String| {
        raw_request(
            gw.addr,
            &format_request("GET", &path, &[("host".into(), gw.addr.to_string())], b""),
        )
        .0
    };
    out.push(format!(
        "anonymous object read: {}",
        anon(format!("/{mb}/secret.txt"))
    ));
    out.push(format!("anonymous listing: {}", anon(format!("/{mb}"))));
    let parts = main
        .list_parts()
        .bucket(mb)
        .key("mpu.bin")
        .upload_id(&fx.upload)
        .send()
        .await
        .map(|p| {
            p.parts()
                .iter()
                .map(|p| {
                    format!(
                        "{}:{}",
                        p.part_number().unwrap_or(0),
                        p.size().unwrap_or(-1)
                    )
                })
                .collect::<Vec<_>>()
        });
    out.push(format!("upload parts: {:?}", parts.ok()));
    let uploads = main
        .list_multipart_uploads()
        .bucket(mb)
        .send()
        .await
        .map(|u| {
            u.uploads()
                .iter()
                .map(|u| u.key().unwrap_or("").to_owned())
                .collect::<Vec<_>>()
        });
    out.push(format!("uploads: {:?}", uploads.ok()));
    let code_of = |e: Option<&str>| e.unwrap_or("ok").to_owned();
    use aws_sdk_s3::error::ProvideErrorMetadata;
    out.push(format!(
        "policy: {}",
        match main.get_bucket_policy().bucket(mb).send().await {
            Ok(p) => p.policy().unwrap_or("").to_owned(),
            Err(e) => code_of(e.code()),
        }
    ));
    out.push(format!(
        "cors: {}",
        match main.get_bucket_cors().bucket(mb).send().await {
            Ok(c) => format!("{} rules", c.cors_rules().len()),
            Err(e) => code_of(e.code()),
        }
    ));
    out.push(format!(
        "website: {}",
        match main.get_bucket_website().bucket(mb).send().await {
            Ok(_) => "configured".into(),
            Err(e) => code_of(e.code()),
        }
    ));
    out.push(format!(
        "lifecycle: {}",
        match main
            .get_bucket_lifecycle_configuration()
            .bucket(mb)
            .send()
            .await
        {
            Ok(l) => format!("{} rules", l.rules().len()),
            Err(e) => code_of(e.code()),
        }
    ));
    out.push(format!(
        "logging: {:?}",
        main.get_bucket_logging()
            .bucket(mb)
            .send()
            .await
            .map(|l| l.logging_enabled().map(|t| t.target_bucket().to_owned()))
            .map_err(|e| code_of(e.code()))
    ));
    out.push(format!(
        "versioning: {:?}",
        main.get_bucket_versioning()
            .bucket(mb)
            .send()
            .await
            .map(|v| v.status().map(|s| s.as_str().to_owned()))
            .map_err(|e| code_of(e.code()))
    ));
    out.push(format!(
        "bucket acl grants: {:?}",
        main.get_bucket_acl()
            .bucket(mb)
            .send()
            .await
            .map(|a| a.grants().len())
            .map_err(|e| code_of(e.code()))
    ));
    out
}

/// Whether `row`, sent by alt in `form`/`style`, was answered as it must be. `None`: fine.
fn judge(
    row: &Row,
    form: Form,
    status: u16,
    head: &str,
    body: &str,
    forwarded: bool,
    fx: &Fixture,
) -> Option<String> {
    if row.op == "ListBuckets" {
        let leaked = body.contains(&fx.main_bucket);
        return match form {
            Form::Anonymous if status == 403 && !leaked => None,
            Form::Anonymous => Some(format!("anonymous ListBuckets answered {status}")),
            _ if status == 200 && !leaked => None,
            _ if leaked => Some("alt's ListBuckets shows main's bucket".into()),
            _ => Some(format!(
                "alt's ListBuckets answered {status} {:?}",
                code(body)
            )),
        };
    }
    if !(400..500).contains(&status) {
        return Some(format!(
            "answered {status} {:?}",
            code(body).unwrap_or(head.lines().next().unwrap_or(""))
        ));
    }
    if forwarded {
        return Some(format!(
            "answered {status} {:?}, but the operation reached the backend",
            code(body)
        ));
    }
    let gateway_answered = body.is_empty() || body.contains("-bucketgate</RequestId>");
    if !gateway_answered {
        return Some(format!("answered {status} by the backend: {body}"));
    }
    match (status, code(body)) {
        (403, Some("AccessDenied")) | (403, None) => None,
        // S3's answer to a preflight that no CORS rule allows.
        (403, Some("AccessForbidden")) if row.op == "PreflightCors" => None,
        // Anything but AccessDenied for a 403 says the request was not even understood
        // (a signing mistake of this harness, or of the gateway).
        (403, Some(other)) => Some(format!("answered 403 {other}, not AccessDenied")),
        _ => None,
    }
}

#[tokio::test]
async fn alt_can_do_nothing_to_mains_private_bucket() {
    let (gw, relay): (Gateway, Relay) = spawn_gateway_with_relay_using(|config| {
        with_system_bucket(&config, &bucket_name("mx-sys"))
    });
    let _cleanup = Cleanup(bucket_name("mx"));
    let (main, alt) = (client_for(&gw, MAIN), client_for(&gw, ALT));
    let fx = fixture(&main, &alt).await;
    let before = main_state(&main, &fx, &gw).await;

    // Controls: each form and style works for the owner (else a refusal proves nothing).
    for style in [Style::Path, Style::VirtualHost] {
        for form in FORMS {
            let (keys, bucket, key, want): (_, &str, _, &[u8]) = match form {
                Form::Anonymous => (ALT, &fx.alt_bucket, "alt.txt", b"alt's own object"),
                _ => (MAIN, &fx.main_bucket, "secret.txt", SECRET),
            };
            let wire = build(
                &gw,
                "GET",
                Some(bucket),
                Some(key),
                "",
                &[],
                b"",
                form,
                style,
                keys,
            );
            let (status, head, body) = send(&gw, "GET", &wire);
            assert_eq!(
                (status, body.as_bytes()),
                (200, want),
                "control GET {form:?} {style:?}: {head}\n{body}"
            );
            if form != Form::Anonymous {
                let wire = build(
                    &gw,
                    "GET",
                    Some(bucket),
                    None,
                    "acl",
                    &[],
                    b"",
                    form,
                    style,
                    keys,
                );
                let (status, _, body) = send(&gw, "GET", &wire);
                assert_eq!(
                    status, 200,
                    "control GetBucketAcl {form:?} {style:?}: {body}"
                );
                let put_headers = vec![("x-amz-meta-control".to_owned(), "1".to_owned())];
                let wire = build(
                    &gw,
                    "PUT",
                    Some(bucket),
                    Some("control.txt"),
                    "",
                    &put_headers,
                    b"control",
                    form,
                    style,
                    keys,
                );
                let (status, _, body) = send(&gw, "PUT", &wire);
                assert_eq!(status, 200, "control PUT {form:?} {style:?}: {body}");
                main.delete_object()
                    .bucket(bucket)
                    .key("control.txt")
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    let mut failures: Vec<String> = Vec::new();
    let mut tried = 0;
    for r in rows(&fx) {
        let bucket = match r.target {
            Target::None => None,
            Target::Main => Some(fx.main_bucket.as_str()),
            Target::Alt => Some(fx.alt_bucket.as_str()),
        };
        for style in [Style::Path, Style::VirtualHost] {
            if style == Style::VirtualHost && bucket.is_none() {
                continue;
            }
            for form in FORMS {
                tried += 1;
                relay.clear();
                let wire = build(
                    &gw, r.method, bucket, r.key, &r.query, &r.headers, &r.body, form, style, ALT,
                );
                let (status, head, body) = send(&gw, r.method, &wire);
                let heads = relay.heads();
                let backend_path = match (bucket, r.key) {
                    (Some(b), Some(k)) => format!("/{b}/{k}"),
                    (Some(b), None) => format!("/{b}"),
                    _ => "/".into(),
                };
                // An anonymous HEAD of an object is looked up by the gateway itself.
                let forwarded = !(form == Form::Anonymous && r.method == "HEAD")
                    && r.op != "ListBuckets"
                    && reached_backend(&heads, r.method, &backend_path, &r.query);
                let label = if form == Form::Anonymous && r.target == Target::Alt {
                    "Anonymous under alt's allowing policy".to_owned()
                } else {
                    format!("{form:?}")
                };
                if std::env::var_os("MATRIX_VERBOSE").is_some() {
                    eprintln!("{} [{label}, {style:?}]: {status} {:?}", r.op, code(&body));
                }
                if let Some(why) = judge(&r, form, status, &head, &body, forwarded, &fx) {
                    failures.push(format!("{} [{label}, {style:?}]: {why}", r.op));
                }
                // Copies out of main's bucket must never land in alt's.
                if r.target == Target::Alt {
                    if let Ok(o) = alt
                        .get_object()
                        .bucket(&fx.alt_bucket)
                        .key("stolen.txt")
                        .send()
                        .await
                    {
                        let got = o.body.collect().await.unwrap().into_bytes();
                        if got.as_ref() == SECRET {
                            failures.push(format!(
                                "{} [{label}, {style:?}]: main's object was copied into alt's bucket",
                                r.op
                            ));
                        }
                        let _ = alt
                            .delete_object()
                            .bucket(&fx.alt_bucket)
                            .key("stolen.txt")
                            .send()
                            .await;
                    }
                    if let Ok(parts) = alt
                        .list_parts()
                        .bucket(&fx.alt_bucket)
                        .key("alt-mpu.bin")
                        .upload_id(&fx.alt_upload)
                        .send()
                        .await
                        && parts
                            .parts()
                            .iter()
                            .any(|p| p.size() == Some(SECRET.len() as i64))
                    {
                        failures.push(format!(
                            "{} [{label}, {style:?}]: main's object became a part of alt's upload",
                            r.op
                        ));
                        // Reset the part, so the next attempt is judged on its own.
                        alt.upload_part()
                            .bucket(&fx.alt_bucket)
                            .key("alt-mpu.bin")
                            .upload_id(&fx.alt_upload)
                            .part_number(1)
                            .body(ByteStream::from_static(b"reset"))
                            .send()
                            .await
                            .unwrap();
                    }
                }
            }
        }
    }

    // Browser POST: alt's own signed form for main's bucket, and a form with no signature.
    for style in [Style::Path, Style::VirtualHost] {
        for signed in [true, false] {
            tried += 1;
            relay.clear();
            let (status, text) = post(&gw, &fx.main_bucket, style, signed);
            let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
            let forwarded = reached_backend(
                &relay.heads(),
                "PUT",
                &format!("/{}/posted.txt", fx.main_bucket),
                "",
            );
            let label = if signed {
                "PostV4 (alt's form)"
            } else {
                "Post (no signature)"
            };
            let fake = Row {
                op: "PostObject",
                method: "POST",
                target: Target::Main,
                key: None,
                query: String::new(),
                headers: vec![],
                body: vec![],
            };
            if let Some(why) = judge(&fake, Form::V4Header, status, &text, body, forwarded, &fx) {
                failures.push(format!("PostObject [{label}, {style:?}]: {why}"));
            }
        }
    }

    // CORS preflight: main's bucket has no CORS rules; nothing is forwarded.
    for style in [Style::Path, Style::VirtualHost] {
        tried += 1;
        relay.clear();
        let (host, path) = address(&gw, Some(&fx.main_bucket), Some("secret.txt"), style);
        let headers = vec![
            ("host".to_owned(), host),
            ("origin".to_owned(), "https://evil.example.com".to_owned()),
            ("access-control-request-method".to_owned(), "PUT".to_owned()),
        ];
        let (status, head, body) =
            raw_request(gw.addr, &format_request("OPTIONS", &path, &headers, b""));
        let forwarded = reached_backend(
            &relay.heads(),
            "OPTIONS",
            &format!("/{}/secret.txt", fx.main_bucket),
            "",
        );
        let fake = Row {
            op: "PreflightCors",
            method: "OPTIONS",
            target: Target::Main,
            key: None,
            query: String::new(),
            headers: vec![],
            body: vec![],
        };
        if let Some(why) = judge(&fake, Form::Anonymous, status, &head, &body, forwarded, &fx) {
            failures.push(format!("PreflightCors [{style:?}]: {why}"));
        }
    }

    let after = main_state(&main, &fx, &gw).await;
    for (b, a) in before.iter().zip(&after) {
        if b != a {
            failures.push(format!("main's bucket changed: {b}  ->  {a}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {tried} attempts were not refused as they must be:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

/// A browser POST to main's bucket: alt's own V4 form (boto3), or a form with only a key.
fn post(gw: &Gateway, bucket: &str, style: Style, signed: bool) -> (u16, String) {
    let mut fields: Vec<(String, String)> = vec![("key".into(), "posted.txt".into())];
    if signed {
        let script = r#"
import sys, boto3
from botocore.client import Config
endpoint, ak, sk, bucket = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="nyc3", aws_access_key_id=ak,
                  aws_secret_access_key=sk, config=Config(signature_version="s3v4"))
post = s3.generate_presigned_post(bucket, "posted.txt", ExpiresIn=300)
for k, v in post["fields"].items():
    print(f"{k}={v}")
"#;
        let out = std::process::Command::new("python3")
            .args(["-c", script, &gw.endpoint(), ALT.0, ALT.1, bucket])
            .output()
            .expect("python3 with boto3 (scripts/test.sh installs it)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        fields = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
    }
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("authz-matrix");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("posted.txt");
    std::fs::write(&file, b"posted by alt").unwrap();
    let (host, path) = address(gw, Some(bucket), None, style);
    let url = match style {
        Style::Path => format!("http://{}{path}", gw.addr),
        Style::VirtualHost => format!("http://{host}/"),
    };
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["-sS", "-i", "-X", "POST", "-H", "Expect:"]);
    if style == Style::VirtualHost {
        cmd.arg("--connect-to")
            .arg(format!("{host}:80:{}", gw.addr));
    }
    for (k, v) in &fields {
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

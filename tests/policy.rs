//! Bucket policies enforced by the gateway: grants to other users and to anyone, explicit denies
//! that beat ownership, and conditions on the source address and the listing prefix.

mod common;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use common::*;

async fn bucket_with(test: &str, keys: &[&str]) -> (aws_sdk_s3::Client, String) {
    let c = client(MAIN);
    let b = bucket_name(test);
    c.create_bucket().bucket(&b).send().await.unwrap();
    for k in keys {
        c.put_object()
            .bucket(&b)
            .key(*k)
            .body(ByteStream::from_static(b"data"))
            .send()
            .await
            .unwrap();
    }
    (c, b)
}

async fn set_policy(c: &aws_sdk_s3::Client, b: &str, statements: &str) {
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        statements.replace("BUCKET", b)
    );
    c.put_bucket_policy()
        .bucket(b)
        .policy(policy)
        .send()
        .await
        .unwrap();
}

fn anonymous_get(path: &str) -> u16 {
    let gw = gateway();
    raw_request(
        gw.addr,
        &format_request("GET", path, &[("host".into(), gw.addr.to_string())], b""),
    )
    .0
}

#[tokio::test]
async fn policy_api_is_for_the_owner() {
    let (c, b) = bucket_with("policy-api", &[]).await;
    let err = c.get_bucket_policy().bucket(&b).send().await.unwrap_err();
    assert_eq!(
        (err.raw_response().map(|r| r.status().as_u16()), err.code()),
        (Some(404), Some("NoSuchBucketPolicy"))
    );
    let doc = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"read","Effect":"Allow","Principal":{{"AWS":["arn:aws:iam:::user/alt"]}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/*"}}]}}"#
    );
    c.put_bucket_policy()
        .bucket(&b)
        .policy(&doc)
        .send()
        .await
        .unwrap();
    assert_eq!(
        c.get_bucket_policy()
            .bucket(&b)
            .send()
            .await
            .unwrap()
            .policy(),
        Some(doc.as_str())
    );

    for (bad, what) in [
        ("{not json".to_owned(), "JSON"),
        (doc.replace("Allow", "Permit"), "Effect"),
        (doc.replace("s3:GetObject", "s3:Teleport"), "s3:Teleport"),
        (
            doc.replace(&format!(":::{b}/*"), ":::someone-else/*"),
            "someone-else",
        ),
    ] {
        let err = c
            .put_bucket_policy()
            .bucket(&b)
            .policy(bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("MalformedPolicy"), "{what}");
        assert!(
            err.message().unwrap_or("").contains(what),
            "{what}: {:?}",
            err.message()
        );
    }
    let err = client(ALT)
        .put_bucket_policy()
        .bucket(&b)
        .policy(&doc)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"));
    c.delete_bucket_policy().bucket(&b).send().await.unwrap();
    assert!(c.get_bucket_policy().bucket(&b).send().await.is_err());
}

#[tokio::test]
async fn allows_for_users_and_anyone_and_denies_that_beat_ownership() {
    let (c, b) = bucket_with("policy-grants", &["shared/doc", "private/doc", "anon/page"]).await;
    set_policy(
        &c,
        &b,
        r#"{"Effect":"Allow","Principal":{"AWS":"alt"},"Action":["s3:GetObject"],"Resource":"arn:aws:s3:::BUCKET/shared/*"},
           {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::BUCKET/anon/*"},
           {"Effect":"Deny","Principal":"*","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::BUCKET/*"}"#,
    )
    .await;
    let alt = client(ALT);
    alt.get_object()
        .bucket(&b)
        .key("shared/doc")
        .send()
        .await
        .expect("the policy grants alt");
    let err = alt
        .get_object()
        .bucket(&b)
        .key("private/doc")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"));
    let err = alt
        .put_object()
        .bucket(&b)
        .key("shared/new")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"));

    assert_eq!(
        anonymous_get(&format!("/{b}/anon/page")),
        200,
        "a \"*\" principal admits anonymous reads"
    );
    assert_eq!(anonymous_get(&format!("/{b}/private/doc")), 403);

    let err = c
        .delete_object()
        .bucket(&b)
        .key("shared/doc")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some("AccessDenied"),
        "an explicit Deny beats ownership"
    );
    c.get_object()
        .bucket(&b)
        .key("shared/doc")
        .send()
        .await
        .expect("the owner still reads");
}

#[tokio::test]
async fn conditions_on_source_ip_and_prefix() {
    let (c, b) = bucket_with("policy-conditions", &["home/alt/a", "home/main/b"]).await;
    set_policy(
        &c,
        &b,
        r#"{"Effect":"Allow","Principal":{"AWS":"alt"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::BUCKET",
            "Condition":{"StringLike":{"s3:prefix":"home/alt/*"},"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}}"#,
    )
    .await;
    let alt = client(ALT);
    let listed = alt
        .list_objects_v2()
        .bucket(&b)
        .prefix("home/alt/")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.key_count(), Some(1));
    let err = alt
        .list_objects_v2()
        .bucket(&b)
        .prefix("home/main/")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"));
    let err = alt.list_objects_v2().bucket(&b).send().await.unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"), "no prefix, no match");

    set_policy(
        &c,
        &b,
        r#"{"Effect":"Allow","Principal":{"AWS":"alt"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::BUCKET",
            "Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}"#,
    )
    .await;
    let err = alt
        .list_objects_v2()
        .bucket(&b)
        .prefix("home/alt/")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some("AccessDenied"),
        "requests from 127.0.0.1 are outside 10.0.0.0/8"
    );
}

/// Tag conditions, as Spaces users write them: alt may read only objects tagged `public=yes`
/// (the gateway reads the object's tags), and may write only with the tag `team=blue`.
#[tokio::test]
async fn conditions_on_object_tags() {
    let (c, b) = bucket_with("policy-tags", &["plain"]).await;
    let tagged = c
        .put_object()
        .bucket(&b)
        .key("tagged")
        .tagging("public=yes")
        .body(ByteStream::from_static(b"data"))
        .send()
        .await;
    if refused_without("tagging", &tagged) {
        return;
    }
    tagged.unwrap();
    set_policy(
        &c,
        &b,
        r#"{"Effect":"Allow","Principal":{"AWS":"alt"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::BUCKET/*","Condition":{"StringEquals":{"s3:ExistingObjectTag/public":"yes"}}},
           {"Effect":"Allow","Principal":{"AWS":"alt"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::BUCKET/*","Condition":{"StringEquals":{"s3:RequestObjectTag/team":"blue"},"ForAllValues:StringEquals":{"s3:RequestObjectTagKeys":["team"]}}}"#,
    )
    .await;
    let alt = client(ALT);
    assert!(
        alt.get_object()
            .bucket(&b)
            .key("tagged")
            .send()
            .await
            .is_ok()
    );
    let e = alt
        .get_object()
        .bucket(&b)
        .key("plain")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.into_service_error().code(), Some("AccessDenied"));
    let put = |tagging: Option<&'static str>| {
        alt.put_object()
            .bucket(&b)
            .key("from-alt")
            .set_tagging(tagging.map(str::to_owned))
            .body(ByteStream::from_static(b"x"))
            .send()
    };
    assert!(put(Some("team=blue")).await.is_ok());
    for tagging in [None, Some("team=red"), Some("team=blue&owner=alt")] {
        let e = put(tagging).await.unwrap_err();
        assert_eq!(
            e.into_service_error().code(),
            Some("AccessDenied"),
            "{tagging:?}"
        );
    }
}

/// A missing key answers 404 to a caller whom the policy lets list that prefix (S3 tells
/// "missing" from "private" exactly to those who could list it), 403 to anyone else.
#[tokio::test]
async fn a_missing_key_is_404_to_those_who_may_list_it() {
    let (c, b) = bucket_with("policy-list404", &[]).await;
    set_policy(
        &c,
        &b,
        r#"{"Effect":"Allow","Principal":{"AWS":"alt"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::BUCKET","Condition":{"StringLike":{"s3:prefix":"public/*"}}}"#,
    )
    .await;
    let alt = client(ALT);
    let status =
        |r: Result<_, aws_sdk_s3::error::SdkError<_, aws_sdk_s3::config::http::HttpResponse>>| {
            r.map(|_: aws_sdk_s3::operation::head_object::HeadObjectOutput| 200)
                .unwrap_or_else(|e| e.raw_response().map_or(0, |r| r.status().as_u16()))
        };
    assert_eq!(
        status(
            alt.head_object()
                .bucket(&b)
                .key("public/missing")
                .send()
                .await
        ),
        404
    );
    assert_eq!(
        status(
            alt.head_object()
                .bucket(&b)
                .key("private/missing")
                .send()
                .await
        ),
        403
    );
}

/// An object another user writes into a bucket whose policy lets them is theirs to read (S3's
/// object-writer ownership, as RGW, Spaces' engine, keeps it), and a copy of it by them too;
/// nobody else gains anything, the owner keeps its access, and no client can name itself the
/// writer of an object through metadata.
#[tokio::test]
async fn writers_read_what_a_policy_let_them_write() {
    let (main, b) = bucket_with("policy-writer", &["owners.txt"]).await;
    set_policy(
        &main,
        &b,
        &format!(
            r#"{{"Effect":"Allow","Principal":{{"AWS":["{}"]}},"Action":"s3:PutObject","Resource":"arn:aws:s3:::BUCKET/*"}}"#,
            "alt"
        ),
    )
    .await;
    let alt = client(ALT);
    alt.put_object()
        .bucket(&b)
        .key("alts.txt")
        .body(ByteStream::from_static(b"written by alt"))
        .send()
        .await
        .unwrap();
    let got = alt
        .get_object()
        .bucket(&b)
        .key("alts.txt")
        .send()
        .await
        .unwrap();
    assert!(
        got.metadata()
            .is_none_or(|m| m.keys().all(|k| !k.contains("bucketgate"))),
        "{:?}",
        got.metadata()
    );
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"written by alt"
    );
    // alt's copy of its own object is alt's too.
    alt.copy_object()
        .bucket(&b)
        .key("alts-copy.txt")
        .copy_source(format!("{b}/alts.txt"))
        .send()
        .await
        .unwrap();
    alt.head_object()
        .bucket(&b)
        .key("alts-copy.txt")
        .send()
        .await
        .unwrap();
    // The owner's objects stay the owner's; the owner reads alt's.
    let e = alt
        .get_object()
        .bucket(&b)
        .key("owners.txt")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("AccessDenied"));
    main.get_object()
        .bucket(&b)
        .key("alts.txt")
        .send()
        .await
        .unwrap();
    // The owner overwriting alt's key makes it the owner's again.
    main.put_object()
        .bucket(&b)
        .key("alts.txt")
        .body(ByteStream::from_static(b"now the owner's"))
        .send()
        .await
        .unwrap();
    let e = alt
        .get_object()
        .bucket(&b)
        .key("alts.txt")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("AccessDenied"));
    // Anonymous callers gain nothing.
    assert_eq!(anonymous_get(&format!("/{b}/alts-copy.txt")), 403);
    // The writer entry cannot be planted by a client: main names alt in metadata, alt gets
    // nothing.
    main.put_object()
        .bucket(&b)
        .key("planted.txt")
        .metadata("bucketgate-writer", "alt")
        .body(ByteStream::from_static(b"main's"))
        .send()
        .await
        .unwrap();
    let e = alt
        .get_object()
        .bucket(&b)
        .key("planted.txt")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("AccessDenied"));
}

/// AWS's documented log-delivery grant (a `Service` principal, `ArnLike` on `aws:SourceArn`) is
/// accepted, and lets no client write: neither another user nor anyone anonymous.
#[tokio::test]
async fn a_log_delivery_grant_lets_no_client_write() {
    let (c, b) = bucket_with("policy-logsvc", &[]).await;
    set_policy(
        &c,
        &b,
        r#"{"Sid":"S3ServerAccessLogsPolicy","Effect":"Allow","Principal":{"Service":"logging.s3.amazonaws.com"},"Action":["s3:PutObject"],"Resource":"arn:aws:s3:::BUCKET/log/*","Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::source"},"StringEquals":{"aws:SourceAccount":"main"}}}"#,
    )
    .await;
    let err = client(ALT)
        .put_object()
        .bucket(&b)
        .key("log/forged")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"));
    let gw = gateway();
    let (status, _, _) = raw_request(
        gw.addr,
        &format_request(
            "PUT",
            &format!("/{b}/log/forged"),
            &[
                ("host".into(), gw.addr.to_string()),
                ("content-length".into(), "1".into()),
            ],
            b"x",
        ),
    );
    assert_eq!(status, 403);
    // Users and services in one Principal are refused, not half-read.
    let err = c
        .put_bucket_policy()
        .bucket(&b)
        .policy(format!(r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"alt","Service":"logging.s3.amazonaws.com"}},"Action":"s3:PutObject","Resource":"arn:aws:s3:::{b}/*"}}]}}"#))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("MalformedPolicy"));
}

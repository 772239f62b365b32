//! Bucket websites served by the gateway on `<bucket>.nyc3-static.example.test`: a fixture site
//! with index documents, an error document, redirects and routing rules, read like a browser.

mod common;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    Condition, ErrorDocument, IndexDocument, ObjectCannedAcl, Protocol, Redirect,
    RedirectAllRequestsTo, RoutingRule, WebsiteConfiguration,
};
use common::*;

async fn page(c: &aws_sdk_s3::Client, b: &str, key: &str, body: &'static str, public: bool) {
    c.put_object()
        .bucket(b)
        .key(key)
        .content_type("text/html")
        .set_acl(public.then_some(ObjectCannedAcl::PublicRead))
        .body(ByteStream::from_static(body.as_bytes()))
        .send()
        .await
        .unwrap();
}

/// A browser-like GET on the website host: (status, head, body).
fn visit(bucket: &str, method: &str, path: &str, extra: &[(&str, &str)]) -> (u16, String, String) {
    let gw = gateway();
    let mut headers = vec![(
        "host".to_owned(),
        format!("{bucket}.{REGION}-static.{DOMAIN}"),
    )];
    headers.extend(extra.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    raw_request(gw.addr, &format_request(method, path, &headers, b""))
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

async fn fixture(test: &str) -> (aws_sdk_s3::Client, String) {
    let c = client(MAIN);
    let b = bucket_name(test);
    c.create_bucket().bucket(&b).send().await.unwrap();
    page(&c, &b, "index.html", "<h1>home</h1>", true).await;
    page(&c, &b, "docs/index.html", "<h1>docs</h1>", true).await;
    page(&c, &b, "error.html", "<h1>custom error</h1>", true).await;
    page(&c, &b, "private.html", "secret", false).await;
    c.put_object()
        .bucket(&b)
        .key("moved.html")
        .acl(ObjectCannedAcl::PublicRead)
        .website_redirect_location("https://elsewhere.example.com/new")
        .body(ByteStream::from_static(b""))
        .send()
        .await
        .unwrap();
    c.put_bucket_website()
        .bucket(&b)
        .website_configuration(
            WebsiteConfiguration::builder()
                .index_document(
                    IndexDocument::builder()
                        .suffix("index.html")
                        .build()
                        .unwrap(),
                )
                .error_document(ErrorDocument::builder().key("error.html").build().unwrap())
                .routing_rules(
                    RoutingRule::builder()
                        .condition(Condition::builder().key_prefix_equals("old/").build())
                        .redirect(Redirect::builder().replace_key_prefix_with("docs/").build())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    (c, b)
}

#[tokio::test]
async fn a_site_is_served_with_index_error_and_redirects() {
    if skipped_on(
        "seaweedfs",
        "SeaweedFS does not keep x-amz-website-redirect-location, so redirect objects are plain objects",
    ) || skipped_on(
        "s3s-fs",
        "s3s-fs stores keys as files: a key that is also a prefix of others ('docs' beside 'docs/index.html') answers 500, so the gateway cannot tell it is missing",
    ) {
        return;
    }
    let (c, b) = fixture("site").await;
    let (status, head, body) = visit(&b, "GET", "/", &[]);
    assert_eq!((status, body.as_str()), (200, "<h1>home</h1>"), "{head}");
    assert_eq!(
        header(&head, "content-type"),
        Some("text/html"),
        "Content-Type comes from the object"
    );
    assert_eq!(visit(&b, "GET", "/docs/", &[]).2, "<h1>docs</h1>");
    let (status, head, _) = visit(&b, "GET", "/docs", &[]);
    assert_eq!((status, header(&head, "location")), (302, Some("/docs/")));

    // The bucket cannot be listed anonymously: a missing key and a private one answer alike
    // (403 and the error document, as S3 answers without s3:ListBucket), so the website host
    // is no existence oracle.
    let (status, head, body) = visit(&b, "GET", "/missing.html", &[]);
    assert_eq!(
        (status, body.as_str()),
        (403, "<h1>custom error</h1>"),
        "{head}"
    );
    let (status, _, body) = visit(&b, "GET", "/private.html", &[]);
    assert_eq!((status, body.as_str()), (403, "<h1>custom error</h1>"));
    // A private folder index is not revealed by a redirect either.
    page(&c, &b, "hidden/index.html", "secret", false).await;
    assert_eq!(
        visit(&b, "GET", "/hidden", &[]).0,
        visit(&b, "GET", "/nothing-like-it", &[]).0
    );
    let (status, head, _) = visit(&b, "GET", "/moved.html", &[]);
    assert_eq!(
        (status, header(&head, "location")),
        (301, Some("https://elsewhere.example.com/new"))
    );
    let (status, head, _) = visit(&b, "GET", "/old/page.html", &[]);
    assert_eq!(status, 301);
    assert!(
        header(&head, "location")
            .unwrap()
            .ends_with("/docs/page.html"),
        "{head}"
    );
    // Errors answer with the site's error document (HTML, never S3 XML).
    let (status, head, body) = visit(&b, "PUT", "/index.html", &[]);
    assert_eq!((status, body.as_str()), (405, "<h1>custom error</h1>"));
    assert_eq!(header(&head, "content-type"), Some("text/html"));

    // Range and conditional requests reach the object.
    let (status, _, body) = visit(&b, "GET", "/index.html", &[("range", "bytes=4-7")]);
    assert_eq!((status, body.as_str()), (206, "home"));
    let etag = c
        .head_object()
        .bucket(&b)
        .key("index.html")
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_owned();
    assert_eq!(
        visit(&b, "GET", "/index.html", &[("if-none-match", &etag)]).0,
        304
    );
    assert_eq!(visit(&b, "HEAD", "/", &[]).0, 200);
}

#[tokio::test]
async fn without_an_error_document_errors_are_html_pages() {
    let c = client(MAIN);
    let b = bucket_name("site-plain");
    // Public-read: anyone may list it, so a missing key may say so (404).
    c.create_bucket()
        .bucket(&b)
        .acl(aws_sdk_s3::types::BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    let (status, head, body) = visit(&b, "GET", "/", &[]);
    assert_eq!(status, 404, "no website configuration");
    assert!(
        body.contains("NoSuchWebsiteConfiguration")
            && header(&head, "content-type")
                .unwrap()
                .starts_with("text/html")
    );
    c.put_bucket_website()
        .bucket(&b)
        .website_configuration(
            WebsiteConfiguration::builder()
                .index_document(
                    IndexDocument::builder()
                        .suffix("index.html")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let (status, _, body) = visit(&b, "GET", "/nothing-here", &[]);
    assert_eq!(status, 404);
    assert!(
        body.contains("<h1>404 Not Found</h1>") && body.contains("NoSuchKey"),
        "{body}"
    );
    assert_eq!(visit("no-such-bucket-at-all", "GET", "/", &[]).0, 404);
}

#[tokio::test]
async fn redirect_all_requests() {
    let c = client(MAIN);
    let b = bucket_name("site-redirect");
    c.create_bucket().bucket(&b).send().await.unwrap();
    c.put_bucket_website()
        .bucket(&b)
        .website_configuration(
            WebsiteConfiguration::builder()
                .redirect_all_requests_to(
                    RedirectAllRequestsTo::builder()
                        .host_name("www.example.com")
                        .protocol(Protocol::Https)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let (status, head, _) = visit(&b, "GET", "/a/b.html", &[]);
    assert_eq!(
        (status, header(&head, "location")),
        (301, Some("https://www.example.com/a/b.html"))
    );
    let got = c.get_bucket_website().bucket(&b).send().await.unwrap();
    assert_eq!(
        got.redirect_all_requests_to().map(|r| r.host_name()),
        Some("www.example.com")
    );
    c.delete_bucket_website().bucket(&b).send().await.unwrap();
    let err = c.get_bucket_website().bucket(&b).send().await.unwrap_err();
    assert_eq!(err.code(), Some("NoSuchWebsiteConfiguration"));
}

#[tokio::test]
async fn invalid_website_configurations_are_refused() {
    let c = client(MAIN);
    let b = bucket_name("site-invalid");
    c.create_bucket().bucket(&b).send().await.unwrap();
    let err = c
        .put_bucket_website()
        .bucket(&b)
        .website_configuration(
            WebsiteConfiguration::builder()
                .index_document(IndexDocument::builder().suffix("a/b").build().unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        (err.raw_response().map(|r| r.status().as_u16()), err.code()),
        (Some(400), Some("InvalidArgument"))
    );
    let err = client(ALT)
        .get_bucket_website()
        .bucket(&b)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"));
}

/// A preflight on the website host is answered from the bucket's CORS rules.
#[tokio::test]
async fn preflight_on_the_website_host() {
    let (c, b) = fixture("site-cors").await;
    c.put_bucket_cors()
        .bucket(&b)
        .cors_configuration(
            aws_sdk_s3::types::CorsConfiguration::builder()
                .cors_rules(
                    aws_sdk_s3::types::CorsRule::builder()
                        .allowed_origins("https://app.example.com")
                        .allowed_methods("GET")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let (status, head, _) = visit(
        &b,
        "OPTIONS",
        "/index.html",
        &[
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "GET"),
        ],
    );
    assert_eq!(
        (status, header(&head, "access-control-allow-origin")),
        (200, Some("https://app.example.com"))
    );
    let (status, head, _) = visit(&b, "GET", "/", &[("origin", "https://app.example.com")]);
    assert_eq!(
        (status, header(&head, "access-control-allow-origin")),
        (200, Some("https://app.example.com"))
    );
}

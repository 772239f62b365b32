//! Per-bucket CORS served by the gateway: the configuration API, the preflight matrix, headers
//! on actual requests (success and error), and a real browser doing cross-origin PUT and GET.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
use common::*;

fn rule(origins: &[&str], methods: &[&str], headers: &[&str]) -> CorsRule {
    let mut r = CorsRule::builder()
        .max_age_seconds(600)
        .expose_headers("ETag");
    for o in origins {
        r = r.allowed_origins(*o);
    }
    for m in methods {
        r = r.allowed_methods(*m);
    }
    for h in headers {
        r = r.allowed_headers(*h);
    }
    r.build().unwrap()
}

async fn bucket_with_cors(test: &str, rules: Vec<CorsRule>) -> String {
    let c = client(MAIN);
    let b = bucket_name(test);
    c.create_bucket().bucket(&b).send().await.unwrap();
    c.put_bucket_cors()
        .bucket(&b)
        .cors_configuration(
            CorsConfiguration::builder()
                .set_cors_rules(Some(rules))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    b
}

/// An OPTIONS request: (status, head, body).
fn preflight(
    path: &str,
    origin: Option<&str>,
    method: Option<&str>,
    headers: Option<&str>,
) -> (u16, String, String) {
    let gw = gateway();
    let mut h = vec![("host".to_owned(), gw.addr.to_string())];
    if let Some(o) = origin {
        h.push(("origin".into(), o.into()));
    }
    if let Some(m) = method {
        h.push(("access-control-request-method".into(), m.into()));
    }
    if let Some(x) = headers {
        h.push(("access-control-request-headers".into(), x.into()));
    }
    raw_request(gw.addr, &format_request("OPTIONS", path, &h, b""))
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test]
async fn configuration_api() {
    let c = client(MAIN);
    let b = bucket_name("cors-api");
    c.create_bucket().bucket(&b).send().await.unwrap();
    let err = c.get_bucket_cors().bucket(&b).send().await.unwrap_err();
    assert_eq!(
        (err.raw_response().map(|r| r.status().as_u16()), err.code()),
        (Some(404), Some("NoSuchCORSConfiguration"))
    );

    let rules = vec![
        rule(&["https://app.example.com"], &["GET", "PUT"], &["*"]),
        rule(&["*"], &["GET"], &[]),
    ];
    c.put_bucket_cors()
        .bucket(&b)
        .cors_configuration(
            CorsConfiguration::builder()
                .set_cors_rules(Some(rules))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let got = c.get_bucket_cors().bucket(&b).send().await.unwrap();
    assert_eq!(got.cors_rules().len(), 2);
    assert_eq!(
        got.cors_rules()[0].allowed_origins(),
        ["https://app.example.com"]
    );
    assert_eq!(got.cors_rules()[0].max_age_seconds(), Some(600));

    let bad = vec![rule(&["*"], &["PATCH"], &[])];
    let err = c
        .put_bucket_cors()
        .bucket(&b)
        .cors_configuration(
            CorsConfiguration::builder()
                .set_cors_rules(Some(bad))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidRequest"));
    assert!(err.message().unwrap_or("").contains("PATCH"));
    let many: Vec<CorsRule> = (0..101).map(|_| rule(&["*"], &["GET"], &[])).collect();
    let err = c
        .put_bucket_cors()
        .bucket(&b)
        .cors_configuration(
            CorsConfiguration::builder()
                .set_cors_rules(Some(many))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidRequest"));
    let err = client(ALT)
        .get_bucket_cors()
        .bucket(&b)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"));

    c.delete_bucket_cors().bucket(&b).send().await.unwrap();
    assert!(c.get_bucket_cors().bucket(&b).send().await.is_err());
}

#[tokio::test]
async fn preflight_matrix() {
    let b = bucket_with_cors(
        "cors-preflight",
        vec![
            rule(
                &["https://*.example.com"],
                &["GET", "PUT"],
                &["x-amz-*", "content-type"],
            ),
            rule(&["*"], &["HEAD"], &[]),
        ],
    )
    .await;
    let path = format!("/{b}/some/key");

    let (status, head, _) = preflight(
        &path,
        Some("https://app.example.com"),
        Some("PUT"),
        Some("Content-Type, X-Amz-Date"),
    );
    assert_eq!(status, 200, "{head}");
    assert_eq!(
        header(&head, "access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        header(&head, "access-control-allow-methods"),
        Some("GET, PUT")
    );
    assert_eq!(
        header(&head, "access-control-allow-headers"),
        Some("content-type, x-amz-date")
    );
    assert_eq!(header(&head, "access-control-max-age"), Some("600"));
    assert_eq!(header(&head, "access-control-expose-headers"), Some("ETag"));
    assert_eq!(
        header(&head, "vary"),
        Some("Origin, Access-Control-Request-Headers, Access-Control-Request-Method")
    );

    let (status, head, _) = preflight(&path, Some("https://anyone.org"), Some("HEAD"), None);
    assert_eq!(
        (status, header(&head, "access-control-allow-origin")),
        (200, Some("*")),
        "wildcard origin"
    );

    for (origin, method, headers, why) in [
        ("https://evil.org", "PUT", None, "wrong origin"),
        ("https://app.example.com", "DELETE", None, "wrong method"),
        (
            "https://app.example.com",
            "PUT",
            Some("authorization"),
            "wrong header",
        ),
    ] {
        let (status, _, body) = preflight(&path, Some(origin), Some(method), headers);
        assert_eq!(
            (status, xml_tag(&body, "Code")),
            (403, Some("AccessForbidden")),
            "{why}"
        );
        assert!(body.contains("CORSResponse"), "{why}: {body}");
    }
    assert_eq!(
        preflight(&path, None, Some("PUT"), None).0,
        400,
        "no Origin"
    );
    assert_eq!(
        preflight(&path, Some("https://app.example.com"), None, None).0,
        400,
        "no request method"
    );

    let plain = bucket_name("cors-none");
    client(MAIN)
        .create_bucket()
        .bucket(&plain)
        .send()
        .await
        .unwrap();
    let (status, _, body) = preflight(
        &format!("/{plain}/k"),
        Some("https://app.example.com"),
        Some("GET"),
        None,
    );
    assert_eq!(
        (status, xml_tag(&body, "Code")),
        (403, Some("AccessForbidden")),
        "no configuration"
    );
}

#[tokio::test]
async fn actual_requests_get_cors_headers_on_success_and_error() {
    let origin = "https://app.example.com";
    let b = bucket_with_cors("cors-actual", vec![rule(&[origin], &["GET"], &[])]).await;
    client(MAIN)
        .put_object()
        .bucket(&b)
        .key("k")
        .body(ByteStream::from_static(b"v"))
        .send()
        .await
        .unwrap();
    let gw = gateway();
    let host = gw.addr.to_string();
    for (key, want) in [("k", 200), ("missing", 404)] {
        let path = format!("/{b}/{key}");
        let mut headers = sign_headers(
            "GET",
            &host,
            &path,
            &[],
            EMPTY_SHA256,
            SystemTime::now(),
            MAIN,
        );
        headers.extend([
            ("host".into(), host.clone()),
            ("origin".into(), origin.into()),
        ]);
        let (status, head, _) = raw_request(gw.addr, &format_request("GET", &path, &headers, b""));
        assert_eq!(status, want);
        assert_eq!(
            header(&head, "access-control-allow-origin"),
            Some(origin),
            "{head}"
        );
        assert_eq!(header(&head, "access-control-expose-headers"), Some("ETag"));
    }
    // Another origin gets no CORS headers (the browser then blocks the answer).
    let path = format!("/{b}/k");
    let mut headers = sign_headers(
        "GET",
        &host,
        &path,
        &[],
        EMPTY_SHA256,
        SystemTime::now(),
        MAIN,
    );
    headers.extend([
        ("host".into(), host.clone()),
        ("origin".into(), "https://evil.org".into()),
    ]);
    let (_, head, _) = raw_request(gw.addr, &format_request("GET", &path, &headers, b""));
    assert_eq!(header(&head, "access-control-allow-origin"), None);
}

/// Headless Chromium loads a page from one origin and PUTs then GETs an object on the gateway
/// (another origin) with presigned URLs; the page reports what it got.
#[tokio::test]
async fn a_browser_uploads_and_downloads_cross_origin() {
    let page_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let page_origin = format!("http://127.0.0.1:{page_port}");
    let b = bucket_with_cors(
        "cors-browser",
        vec![rule(&[&page_origin], &["GET", "PUT"], &["*"])],
    )
    .await;
    let c = client(MAIN);
    let cfg = || PresigningConfig::expires_in(Duration::from_secs(300)).unwrap();
    let put = c
        .put_object()
        .bucket(&b)
        .key("from-browser.txt")
        .presigned(cfg())
        .await
        .unwrap();
    let get = c
        .get_object()
        .bucket(&b)
        .key("from-browser.txt")
        .presigned(cfg())
        .await
        .unwrap();

    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cors-page");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("index.html"),
        format!(
            r#"<!doctype html><html><body data-result="pending"><script>
(async () => {{
  try {{
    const put = await fetch({put:?}, {{ method: "PUT", body: "hello from the browser" }});
    const get = await fetch({get:?});
    const text = await get.text();
    document.body.setAttribute("data-result", `put=${{put.status}};get=${{get.status}};body=${{text}}`);
  }} catch (e) {{
    document.body.setAttribute("data-result", "error " + e);
  }}
}})();
</script></body></html>"#,
            put = put.uri(),
            get = get.uri()
        ),
    )
    .unwrap();
    let mut server = Command::new("python3")
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &page_port.to_string(),
            "--directory",
        ])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The page server is ready when it accepts (Python starts slowly on a loaded machine).
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", page_port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let profile = tempdir_in_target("chromium-profile");
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=20000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("{page_origin}/index.html"))
        .output();
    let _ = server.kill();
    let _ = server.wait();
    let out = out.expect("chromium is installed by scripts/test.sh");
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("data-result=\"put=200;get=200;body=hello from the browser\""),
        "{dom}\n{}",
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .take(20)
            .collect::<Vec<_>>()
            .join("\n")
    );
    let stored = c
        .get_object()
        .bucket(&b)
        .key("from-browser.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(
        stored.body.collect().await.unwrap().into_bytes().as_ref(),
        b"hello from the browser"
    );
}

fn tempdir_in_target(name: &str) -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

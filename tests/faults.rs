//! Faults injected between the gateway and the backend (the relay of `common::relay`): a
//! backend that dies during an upload or a download, one that hangs, one that is down, and a
//! state store the gateway cannot read. Clients never get a success that did not happen, never
//! a shortened body that looks complete, never a hang past the configured timeouts, and never
//! an allow the gateway's state did not decide.

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ObjectCannedAcl;
use common::relay::{Fault, Relay};
use common::*;

/// A client that tries once: a fault must show as this request's answer, not be retried away.
fn one_try_client(gw: &Gateway, keys: (&str, &str)) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .endpoint_url(gw.endpoint())
        .region(aws_sdk_s3::config::Region::new(REGION))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            keys.0, keys.1, None, None, "test",
        ))
        .force_path_style(true)
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// A gateway in front of `relay`, reading the backend for at most `read_timeout_ms` at a time.
fn gateway_behind(relay: &Relay, read_timeout_ms: u64, extra_server: &str) -> Gateway {
    let backend = relay.endpoint();
    spawn_gateway(|port| {
        config_text(port, &backend, "")
            .replace(
                "connect_timeout_ms = 1000",
                &format!("connect_timeout_ms = 1000\nread_timeout_ms = {read_timeout_ms}"),
            )
            .replace(
                "grace_period_seconds = 1",
                &format!("grace_period_seconds = 1\n{extra_server}"),
            )
    })
}

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// A failed request's HTTP status when the gateway answered one (`None`: the connection was
/// cut, which is also a failure the client sees).
fn failed_status<T: std::fmt::Debug, E: std::fmt::Debug>(
    r: Result<T, aws_sdk_s3::error::SdkError<E>>,
) -> Option<u16> {
    match r {
        Ok(v) => panic!("a request the backend never completed succeeded: {v:?}"),
        Err(e) => e.raw_response().map(|r| r.status().as_u16()),
    }
}

#[tokio::test]
async fn a_backend_that_dies_during_an_upload_stores_nothing() {
    let relay = Relay::start();
    let gw = gateway_behind(&relay, 5000, "");
    let c = one_try_client(&gw, MAIN);
    let b = bucket_name("fault-put");
    c.create_bucket().bucket(&b).send().await.unwrap();

    // A single PUT: the backend goes away after 256 KiB of its 2 MiB.
    relay.set_fault(Fault::CutUploadAfter(256 * 1024));
    let started = Instant::now();
    let put = c
        .put_object()
        .bucket(&b)
        .key("cut")
        .body(ByteStream::from(vec![b'p'; 2 << 20]))
        .send()
        .await;
    if let Some(status) = failed_status(put) {
        assert!(status >= 500, "a dead backend is a 5xx, not {status}");
    }
    assert!(started.elapsed() < Duration::from_secs(20), "no hang");

    // A signed aws-chunked PUT (no client sends one over plain HTTP on its own), the same way.
    relay.set_fault(Fault::CutUploadAfter(256 * 1024));
    let host = gw.addr.to_string();
    let chunked = signed_chunked_put(
        &host,
        &format!("/{b}/cut-chunked"),
        &vec![b'c'; 2 << 20],
        64 * 1024,
    );
    let mut s = std::net::TcpStream::connect(gw.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let _ = s.write_all(&format_request(
        "PUT",
        &format!("/{b}/cut-chunked"),
        &chunked.headers,
        b"",
    ));
    let _ = s.write_all(&chunked.body);
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    if !answer.is_empty() {
        let (status, _, body) = parse_response(&answer);
        assert!(
            status >= 500,
            "a dead backend is a 5xx, not {status}: {body}"
        );
    }

    // A part of a multipart upload, the same way.
    relay.set_fault(Fault::None);
    let upload = c
        .create_multipart_upload()
        .bucket(&b)
        .key("parts")
        .send()
        .await
        .unwrap();
    let id = upload.upload_id().unwrap();
    relay.set_fault(Fault::CutUploadAfter(512 * 1024));
    let part = c
        .upload_part()
        .bucket(&b)
        .key("parts")
        .upload_id(id)
        .part_number(1)
        .body(ByteStream::from(vec![b'q'; 5 << 20]))
        .send()
        .await;
    if let Some(status) = failed_status(part) {
        assert!(status >= 500, "a dead backend is a 5xx, not {status}");
    }

    // The backend is back: nothing of either was stored, and the next requests work.
    relay.set_fault(Fault::None);
    let head = c.head_object().bucket(&b).key("cut").send().await;
    assert_eq!(
        head.map(|h| h.content_length())
            .map_err(|e| e.raw_response().map(|r| r.status().as_u16())),
        Err(Some(404)),
        "a cut-off PUT left an object"
    );
    assert!(
        c.head_object()
            .bucket(&b)
            .key("cut-chunked")
            .send()
            .await
            .is_err(),
        "a cut-off aws-chunked PUT left an object"
    );
    let parts = c
        .list_parts()
        .bucket(&b)
        .key("parts")
        .upload_id(id)
        .send()
        .await
        .unwrap();
    assert!(
        parts.parts().is_empty(),
        "a cut-off part was kept: {parts:?}"
    );
    c.put_object()
        .bucket(&b)
        .key("cut")
        .body(ByteStream::from_static(b"whole"))
        .send()
        .await
        .expect("the first PUT after the backend returned");
    c.abort_multipart_upload()
        .bucket(&b)
        .key("parts")
        .upload_id(id)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_backend_that_dies_during_a_download_cuts_the_client_off() {
    let relay = Relay::start();
    let admin = free_addr();
    let gw = gateway_behind(&relay, 5000, &format!("admin_listen = \"{admin}\""));
    let c = one_try_client(&gw, MAIN);
    let b = bucket_name("fault-get");
    c.create_bucket().bucket(&b).send().await.unwrap();
    c.put_object()
        .bucket(&b)
        .key("big")
        .body(ByteStream::from(vec![b'g'; 4 << 20]))
        .send()
        .await
        .unwrap();

    relay.set_fault(Fault::CutDownloadAfter(1 << 20));
    let started = Instant::now();
    match c.get_object().bucket(&b).key("big").send().await {
        // The answer began: its body must end in an error, not in a clean short end.
        Ok(got) => {
            let body = got.body.collect().await;
            assert!(
                body.is_err(),
                "a cut download ended cleanly with {} bytes",
                body.map(|b| b.into_bytes().len()).unwrap_or(0)
            );
        }
        Err(e) => {
            if let Some(r) = e.raw_response() {
                assert!(r.status().as_u16() >= 500, "{e:?}");
            }
        }
    }
    assert!(started.elapsed() < Duration::from_secs(20), "no hang");

    relay.set_fault(Fault::None);
    let whole = c.get_object().bucket(&b).key("big").send().await.unwrap();
    assert_eq!(
        whole.body.collect().await.unwrap().into_bytes().len(),
        4 << 20
    );
    // Counted: the GET the backend failed after its answer had begun.
    let (_, _, metrics) = raw_request(
        admin,
        &format_request(
            "GET",
            "/metrics",
            &[("host".into(), admin.to_string())],
            b"",
        ),
    );
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("bucketgate_upstream_failures_total")
                && l.contains("operation=\"GetObject\"")
                && l.contains("answered=\"true\"")
                && !l.ends_with(" 0")),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_hung_backend_is_503_within_the_read_timeout() {
    let relay = Relay::start();
    let gw = gateway_behind(&relay, 1000, "");
    let c = one_try_client(&gw, MAIN);
    // Set up through the shared gateway: a bucket creation may take RGW longer than this
    // gateway's 1 s read timeout on a loaded machine. One read through this gateway (retried
    // if the backend is slow) warms its state cache.
    let setup = client(MAIN);
    let b = bucket_name("fault-slow");
    setup.create_bucket().bucket(&b).send().await.unwrap();
    setup
        .put_object()
        .bucket(&b)
        .key("k")
        .body(ByteStream::from_static(b"slow"))
        .send()
        .await
        .unwrap();
    let warm = client_for(&gw, MAIN);
    warm.get_object().bucket(&b).key("k").send().await.unwrap();

    relay.set_fault(Fault::Stall);
    let started = Instant::now();
    let e = c
        .get_object()
        .bucket(&b)
        .key("k")
        .send()
        .await
        .expect_err("a backend that never answers");
    let elapsed = started.elapsed();
    relay.set_fault(Fault::None);
    assert_eq!(
        e.raw_response().map(|r| r.status().as_u16()),
        Some(503),
        "{e:?}"
    );
    let e = e.into_service_error();
    assert_eq!(e.code(), Some("ServiceUnavailable"));
    assert!(
        e.message().unwrap_or_default().contains("read_timeout_ms"),
        "{e:?}"
    );
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(10),
        "answered after {elapsed:?} with read_timeout_ms = 1000"
    );
    warm.get_object()
        .bucket(&b)
        .key("k")
        .send()
        .await
        .expect("the backend answers again");
}

#[tokio::test]
async fn ready_follows_the_backend() {
    let relay = Relay::start();
    let admin = free_addr();
    let _gw = gateway_behind(&relay, 5000, &format!("admin_listen = \"{admin}\""));
    let ready = || {
        let (status, _, _) = raw_request(
            admin,
            &format_request("GET", "/ready", &[("host".into(), admin.to_string())], b""),
        );
        status
    };
    for _ in 0..40 {
        if std::net::TcpStream::connect(admin).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(ready(), 200);
    relay.set_fault(Fault::Refuse);
    assert_eq!(ready(), 503, "ready while the backend refuses connections");
    relay.set_fault(Fault::None);
    assert_eq!(ready(), 200, "ready again once the backend is back");
}

/// The gateway's state lives in a system bucket its service credential cannot read (here: one
/// that another RGW user owns): every request that needs state fails closed with 503, and an
/// unreadable record is never taken for "no owner" (which would let a user claim a bucket).
#[tokio::test]
async fn an_unreadable_state_store_fails_closed() {
    if skipped_on(
        "seaweedfs",
        "needs a second backend user to own the system bucket (scripts/rgw.sh's alt user)",
    ) || skipped_on(
        "s3s-fs",
        "needs a second backend user to own the system bucket (scripts/rgw.sh's alt user)",
    ) {
        return;
    }
    // Through a working gateway: main's bucket with a private and a public-read object.
    let main = client(MAIN);
    let b = bucket_name("fault-state");
    main.create_bucket().bucket(&b).send().await.unwrap();
    for (key, acl) in [
        ("private", None),
        ("public", Some(ObjectCannedAcl::PublicRead)),
    ] {
        main.put_object()
            .bucket(&b)
            .key(key)
            .set_acl(acl)
            .body(ByteStream::from_static(b"state"))
            .send()
            .await
            .unwrap();
    }
    // A system bucket owned by RGW's alt user, whom the service credential cannot read.
    let foreign = bucket_name("fault-foreign-system");
    let rgw_alt = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .endpoint_url(backend_endpoint())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "NOPQRSTUVWXYZABCDEFG",
                "nopqrstuvwxyzabcdefghijklmnabcdefghijklm",
                None,
                None,
                "test",
            ))
            .force_path_style(true)
            .build(),
    );
    rgw_alt
        .create_bucket()
        .bucket(&foreign)
        .send()
        .await
        .unwrap();
    let backend = backend_endpoint();
    let gw = spawn_gateway(|port| with_system_bucket(&config_text(port, &backend, ""), &foreign));

    let alt = one_try_client(&gw, ALT);
    let status = |r: Option<u16>| r.expect("an answer, not a cut connection");
    assert_eq!(
        status(failed_status(
            alt.get_object().bucket(&b).key("private").send().await
        )),
        503
    );
    assert_eq!(
        status(failed_status(alt.create_bucket().bucket(&b).send().await)),
        503,
        "an unreadable owner record let another user claim the bucket"
    );
    let (anonymous, _, _) = raw_request(
        gw.addr,
        &format_request(
            "GET",
            &format!("/{b}/public"),
            &[("host".into(), gw.addr.to_string())],
            b"",
        ),
    );
    assert_eq!(anonymous, 503, "an anonymous read allowed without state");
    // The owner's own request fails closed too (ownership is state).
    assert_eq!(
        status(failed_status(
            one_try_client(&gw, MAIN)
                .get_object()
                .bucket(&b)
                .key("private")
                .send()
                .await
        )),
        503
    );
    rgw_alt
        .delete_bucket()
        .bucket(&foreign)
        .send()
        .await
        .unwrap();
}

/// The backend restarts between requests: every pooled connection the gateway holds is dead.
/// The next GET and the next PUT (its body still whole in the gateway) go out again on a fresh
/// connection and succeed; the client sees nothing of it.
#[tokio::test]
async fn a_backend_restart_between_requests_is_invisible() {
    let relay = Relay::start();
    let gw = gateway_behind(&relay, 5000, "");
    let c = one_try_client(&gw, MAIN);
    let b = bucket_name("fault-restart");
    c.create_bucket().bucket(&b).send().await.unwrap();
    for round in 0..3 {
        c.put_object()
            .bucket(&b)
            .key("k")
            .body(ByteStream::from_static(b"before"))
            .send()
            .await
            .unwrap();
        relay.drop_connections();
        c.put_object()
            .bucket(&b)
            .key("k")
            .body(ByteStream::from_static(b"after"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("round {round}: PUT on a dead pooled connection: {e:?}"));
        relay.drop_connections();
        let got = c
            .get_object()
            .bucket(&b)
            .key("k")
            .send()
            .await
            .unwrap_or_else(|e| panic!("round {round}: GET on a dead pooled connection: {e:?}"));
        assert_eq!(
            got.body.collect().await.unwrap().into_bytes().as_ref(),
            b"after"
        );
    }
}

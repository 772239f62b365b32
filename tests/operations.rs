//! Running bucketgate as infrastructure: the admin listener (`/health`, `/ready`, `/metrics`
//! scraped after traffic) and request-rate limits (a burst answered 503 SlowDown, then recovery).

mod common;

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::primitives::ByteStream;
use common::*;

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let (status, _, body) = raw_request(
        addr,
        &format_request("GET", path, &[("host".into(), addr.to_string())], b""),
    );
    (status, body)
}

/// The value of one sample line (`name{labels} value`) whose name and labels contain `parts`.
fn sample(metrics: &str, parts: &[&str]) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| parts.iter().all(|p| l.contains(p)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn health_ready_and_metrics() {
    let backend = backend_endpoint();
    let admin = free_addr();
    let gw = spawn_gateway(|port| {
        config_text(port, &backend, "").replace(
            "grace_period_seconds = 1",
            &format!("grace_period_seconds = 1\nadmin_listen = \"{admin}\""),
        )
    });
    for _ in 0..40 {
        if std::net::TcpStream::connect(admin).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(get(admin, "/health"), (200, "ok\n".into()));
    assert_eq!(get(admin, "/ready").0, 200);

    let c = client_for(&gw, MAIN);
    let b = bucket_name("metrics");
    c.create_bucket().bucket(&b).send().await.unwrap();
    for i in 0..5 {
        c.put_object()
            .bucket(&b)
            .key(format!("k{i}"))
            .body(ByteStream::from_static(b"0123456789"))
            .send()
            .await
            .unwrap();
        c.get_object()
            .bucket(&b)
            .key(format!("k{i}"))
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap();
    }
    let _ = c.get_object().bucket(&b).key("missing").send().await;
    let _ = client_for(&gw, (MAIN.0, "wrong"))
        .list_buckets()
        .send()
        .await;

    // A request is counted when its log line is written, just after its answer went out: the
    // last one may still be on its way on a loaded machine.
    let requests = |metrics: &str, op: &str, class: &str| {
        sample(
            metrics,
            &[
                "bucketgate_requests_total{",
                &format!("operation=\"{op}\""),
                &format!("status=\"{class}\""),
            ],
        )
    };
    let mut metrics = String::new();
    for _ in 0..50 {
        let (status, text) = get(admin, "/metrics");
        assert_eq!(status, 200);
        metrics = text;
        if requests(&metrics, "ListBuckets", "4xx").is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let requests = |op: &str, class: &str| requests(&metrics, op, class);
    assert_eq!(requests("GetObject", "2xx"), Some(5.0), "{metrics}");
    assert_eq!(requests("PutObject", "2xx"), Some(5.0));
    assert_eq!(requests("GetObject", "4xx"), Some(1.0));
    assert_eq!(requests("ListBuckets", "4xx"), Some(1.0));
    assert!(
        sample(
            &metrics,
            &["bucketgate_request_duration_seconds_count{operation=\"GetObject\"}"]
        )
        .unwrap_or(0.0)
            >= 6.0
    );
    assert!(sample(&metrics, &["bucketgate_response_body_bytes_total"]).unwrap_or(0.0) >= 50.0);
    assert!(sample(&metrics, &["bucketgate_request_body_bytes_total"]).unwrap_or(0.0) >= 50.0);
    assert!(
        sample(
            &metrics,
            &["bucketgate_upstream_connections_total{reused=\"true\"}"]
        )
        .unwrap_or(0.0)
            >= 1.0,
        "{metrics}"
    );
    assert!(
        sample(
            &metrics,
            &["bucketgate_state_cache_lookups_total{result=\"hit\"}"]
        )
        .unwrap_or(0.0)
            >= 1.0
    );
    assert!(metrics.contains("bucketgate_access_log_dropped_records 0"));
    assert_eq!(get(admin, "/nope").0, 404);
}

#[tokio::test]
async fn ready_fails_while_the_backend_is_down() {
    let dead = free_addr();
    let admin = free_addr();
    let _gw = spawn_gateway(|port| {
        config_text(port, &format!("http://{dead}"), "").replace(
            "grace_period_seconds = 1",
            &format!("grace_period_seconds = 1\nadmin_listen = \"{admin}\""),
        )
    });
    for _ in 0..40 {
        if std::net::TcpStream::connect(admin).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(get(admin, "/health").0, 200);
    assert_eq!(get(admin, "/ready").0, 503);
}

#[tokio::test]
async fn a_burst_past_the_ip_limit_slows_down_then_recovers() {
    let backend = backend_endpoint();
    let admin = free_addr();
    let gw = spawn_gateway(|port| {
        format!(
            "{}\n[limits]\nrequests_per_second_per_ip = 5\n",
            config_text(port, &backend, "").replace(
                "grace_period_seconds = 1",
                &format!("grace_period_seconds = 1\nadmin_listen = \"{admin}\"")
            )
        )
    });
    let host = gw.addr.to_string();
    let signed = || {
        let mut h = sign_headers(
            "GET",
            &host,
            "/",
            &[],
            EMPTY_SHA256,
            SystemTime::now(),
            MAIN,
        );
        h.push(("host".into(), host.clone()));
        format_request("GET", "/", &h, b"")
    };
    let mut statuses = Vec::new();
    let mut retry_after = None;
    // All at once: one after the other, a slow backend could spread them over several of the
    // limit's one-second windows.
    let burst: Vec<_> = (0..20)
        .map(|_| {
            let (addr, request) = (gw.addr, signed());
            std::thread::spawn(move || raw_request(addr, &request))
        })
        .collect();
    for answer in burst {
        let (status, head, body) = answer.join().unwrap();
        if status == 503 {
            assert_eq!(xml_tag(&body, "Code"), Some("SlowDown"), "{body}");
            retry_after = head
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("retry-after:"))
                .map(str::to_owned);
        }
        statuses.push(status);
    }
    assert!(
        statuses.iter().filter(|s| **s == 200).count() >= 5,
        "{statuses:?}"
    );
    assert!(statuses.contains(&503), "{statuses:?}");
    assert!(
        retry_after.is_some_and(|h| h.ends_with(" 1")),
        "Retry-After: 1"
    );
    assert_eq!(
        get(admin, "/health").0,
        200,
        "the admin listener is never limited"
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        raw_request(gw.addr, &signed()).0,
        200,
        "recovered after the window"
    );
    let (_, metrics) = get(admin, "/metrics");
    assert!(
        sample(&metrics, &["bucketgate_rate_limited_total{limit=\"ip\"}"]).unwrap_or(0.0) >= 1.0,
        "{metrics}"
    );
}

fn slow_put(gw: &Gateway, path: &str, total: usize, first: usize) -> std::net::TcpStream {
    use std::io::Write;
    let host = gw.addr.to_string();
    let mut headers = sign_headers(
        "PUT",
        &host,
        path,
        &[],
        "UNSIGNED-PAYLOAD",
        SystemTime::now(),
        MAIN,
    );
    headers.extend([
        ("host".into(), host),
        ("content-length".into(), total.to_string()),
    ]);
    let mut s = std::net::TcpStream::connect(gw.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    s.write_all(&format_request("PUT", path, &headers, b""))
        .unwrap();
    s.write_all(&vec![b'q'; first]).unwrap();
    s
}

fn finish(mut s: std::net::TcpStream, rest: usize) -> u16 {
    use std::io::{Read, Write};
    let _ = s.write_all(&vec![b'q'; rest]);
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    parse_response(&answer).0
}

#[tokio::test]
async fn object_write_concurrency_header_size_and_idle_bodies() {
    let backend = backend_endpoint();
    let gw = spawn_gateway(|port| {
        format!(
            "{}\n[limits]\nconcurrent_writes_per_object = 1\nmax_header_bytes = 8192\nbody_idle_timeout_seconds = 1\n",
            config_text(port, &backend, "")
        )
    });
    let b = bucket_name("writes");
    client_for(&gw, MAIN)
        .create_bucket()
        .bucket(&b)
        .send()
        .await
        .unwrap();
    let path = format!("/{b}/busy.bin");

    // A second concurrent write to the same object is slowed down; the first completes.
    let first = slow_put(&gw, &path, 200_000, 50_000);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = slow_put(&gw, &path, 10, 10);
    assert_eq!(finish(second, 0), 503);
    assert_eq!(finish(first, 150_000), 200);
    let other = slow_put(&gw, &path, 10, 10);
    assert_eq!(finish(other, 0), 200, "the slot is free again");

    // A header block over the limit.
    let host = gw.addr.to_string();
    let big = "v".repeat(9000);
    let (status, _, body) = raw_request(
        gw.addr,
        &format_request(
            "GET",
            "/",
            &[("host".into(), host), ("x-padding".into(), big)],
            b"",
        ),
    );
    assert_eq!(
        (status, xml_tag(&body, "Code")),
        (400, Some("RequestHeaderSectionTooLarge"))
    );

    // A client that stalls mid-body is cut off, and nothing is stored.
    let idle_path = format!("/{b}/idle.bin");
    let stalled = slow_put(&gw, &idle_path, 100_000, 1_000);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_ne!(finish(stalled, 0), 200);
    assert!(
        client_for(&gw, MAIN)
            .head_object()
            .bucket(&b)
            .key("idle.bin")
            .send()
            .await
            .is_err()
    );
}

/// Sends one request on a kept-alive connection and reads exactly its answer.
fn keepalive_request(s: &mut std::net::TcpStream, gw: &Gateway) -> u16 {
    use std::io::{Read, Write};
    let host = gw.addr.to_string();
    let mut headers = sign_headers(
        "GET",
        &host,
        "/",
        &[],
        EMPTY_SHA256,
        SystemTime::now(),
        MAIN,
    );
    headers.push(("host".into(), host));
    let mut text = "GET / HTTP/1.1\r\n".to_owned();
    for (n, v) in &headers {
        text.push_str(&format!("{n}: {v}\r\n"));
    }
    text.push_str("\r\n");
    s.write_all(text.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte).unwrap_or(0) == 0 {
            break;
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    let _ = s.read_exact(&mut body);
    head.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn connections_past_the_cap_slow_down() {
    let backend = backend_endpoint();
    let gw = spawn_gateway(|port| {
        format!(
            "{}\n[limits]\nmax_connections = 2\n",
            config_text(port, &backend, "")
        )
    });
    let open = || {
        let s = std::net::TcpStream::connect(gw.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    };
    let (mut first, mut second) = (open(), open());
    assert_eq!(keepalive_request(&mut first, &gw), 200);
    assert_eq!(keepalive_request(&mut second, &gw), 200);
    assert_eq!(
        keepalive_request(&mut first, &gw),
        200,
        "a kept-alive connection stays counted once"
    );
    let mut third = open();
    assert_eq!(
        keepalive_request(&mut third, &gw),
        503,
        "a third connection is over the cap"
    );
    drop(first);
    drop(third);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut fourth = open();
    assert_eq!(
        keepalive_request(&mut fourth, &gw),
        200,
        "room again once a connection closed"
    );
}

/// The system bucket is ready for replicas that start at once on a fresh name (a backend may
/// answer the loser of two creations `409 BucketAlreadyExists`, SeaweedFS does, or fail it,
/// s3s-fs does) and for one that finds it there (s3s-fs always answers
/// `BucketAlreadyExists`): the start-up probe says "system bucket ready" every time.
#[test]
fn the_system_bucket_is_ready_for_replicas_starting_together() {
    let backend = backend_endpoint();
    let state = format!("{}-state", bucket_name("replicas"));
    let config = with_system_bucket(&config_text(1, &backend, ""), &state);
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("replicas-{}.toml", std::process::id()));
    std::fs::write(&path, config).unwrap();
    let probe = || {
        let path = path.clone();
        std::thread::spawn(move || {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_bucketgate"))
                .args(["check-config", "--probe"])
                .arg(&path)
                .output()
                .unwrap();
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    };
    let together: Vec<_> = (0..4).map(|_| probe()).collect();
    let mut answers: Vec<String> = together.into_iter().map(|t| t.join().unwrap()).collect();
    answers.push(probe().join().unwrap());
    remove_backend_buckets(&[], &[state]);
    for text in answers {
        assert!(
            text.contains("system bucket ready") && !text.contains("NOT ready"),
            "{text}"
        );
    }
}

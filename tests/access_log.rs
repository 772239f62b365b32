//! Access logs delivered to another bucket: the configuration rules, and log objects that
//! appear in the target bucket with one record per request, parsed back field by field.

mod common;

use std::time::Duration;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLoggingStatus, LoggingEnabled};
use common::*;

/// Splits an access-log line into fields (brackets and quotes keep their spaces).
fn fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c == ' ' {
            chars.next();
            continue;
        }
        let close = match c {
            '[' => Some(']'),
            '"' => Some('"'),
            _ => None,
        };
        let mut field = String::new();
        if let Some(end) = close {
            chars.next();
            for ch in chars.by_ref() {
                if ch == end {
                    break;
                }
                field.push(ch);
            }
        } else {
            while let Some(&ch) = chars.peek() {
                if ch == ' ' {
                    break;
                }
                field.push(ch);
                chars.next();
            }
        }
        out.push(field);
    }
    out
}

fn logging(target: &str, prefix: &str) -> BucketLoggingStatus {
    BucketLoggingStatus::builder()
        .logging_enabled(
            LoggingEnabled::builder()
                .target_bucket(target)
                .target_prefix(prefix)
                .build()
                .unwrap(),
        )
        .build()
}

#[tokio::test]
async fn logging_configuration_rules() {
    let c = client(MAIN);
    let (source, target) = (bucket_name("log-src-rules"), bucket_name("log-dst-rules"));
    c.create_bucket().bucket(&source).send().await.unwrap();
    c.create_bucket().bucket(&target).send().await.unwrap();
    let theirs = bucket_name("log-alt-bucket");
    client(ALT)
        .create_bucket()
        .bucket(&theirs)
        .send()
        .await
        .unwrap();
    for bad in [source.clone(), bucket_name("log-nowhere"), theirs] {
        let err = c
            .put_bucket_logging()
            .bucket(&source)
            .bucket_logging_status(logging(&bad, "x/"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("InvalidTargetBucketForLogging"), "{bad}");
    }
    c.put_bucket_logging()
        .bucket(&source)
        .bucket_logging_status(logging(&target, "x/"))
        .send()
        .await
        .unwrap();
    let got = c.get_bucket_logging().bucket(&source).send().await.unwrap();
    assert_eq!(
        got.logging_enabled()
            .map(|l| (l.target_bucket(), l.target_prefix())),
        Some((target.as_str(), "x/"))
    );
    c.put_bucket_logging()
        .bucket(&source)
        .bucket_logging_status(BucketLoggingStatus::builder().build())
        .send()
        .await
        .unwrap();
    assert!(
        c.get_bucket_logging()
            .bucket(&source)
            .send()
            .await
            .unwrap()
            .logging_enabled()
            .is_none()
    );
}

#[tokio::test]
async fn records_arrive_in_the_target_bucket() {
    let backend = backend_endpoint();
    let gw = spawn_gateway(|port| {
        config_text(port, &backend, "").replace(
            "grace_period_seconds = 1",
            "grace_period_seconds = 1\naccess_log_interval_seconds = 1",
        )
    });
    let c = client_for(&gw, MAIN);
    let (source, target) = (bucket_name("log-src"), bucket_name("log-dst"));
    c.create_bucket().bucket(&source).send().await.unwrap();
    c.create_bucket().bucket(&target).send().await.unwrap();
    c.put_bucket_logging()
        .bucket(&source)
        .bucket_logging_status(logging(&target, "logs/"))
        .send()
        .await
        .unwrap();

    c.put_object()
        .bucket(&source)
        .key("logged file.txt")
        .body(ByteStream::from_static(b"0123456789"))
        .send()
        .await
        .unwrap();
    c.get_object()
        .bucket(&source)
        .key("logged file.txt")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap();
    // A backend's error is logged with its code too.
    let missing = c
        .get_object()
        .bucket(&source)
        .key("never written")
        .send()
        .await
        .unwrap_err();
    let missing = missing.into_service_error();
    // RGW sends an empty <Message>; clients get AWS's.
    assert_eq!(
        (missing.meta().code(), missing.meta().message()),
        (Some("NoSuchKey"), Some("The specified key does not exist."))
    );
    let host = vec![
        ("host".to_owned(), gw.addr.to_string()),
        ("user-agent".to_owned(), "anonymous-probe/1".to_owned()),
    ];
    let (status, _, _) = raw_request(
        gw.addr,
        &format_request("GET", &format!("/{source}/logged%20file.txt"), &host, b""),
    );
    assert_eq!(status, 403);

    let mut lines = Vec::new();
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let listed = c
            .list_objects_v2()
            .bucket(&target)
            .prefix("logs/")
            .send()
            .await
            .unwrap();
        lines.clear();
        for object in listed.contents() {
            let key = object.key().unwrap();
            let name = key.strip_prefix("logs/").unwrap();
            assert_eq!(name.len(), "2026-01-01-00-00-00-".len() + 16, "{key}");
            let body = c
                .get_object()
                .bucket(&target)
                .key(key)
                .send()
                .await
                .unwrap()
                .body
                .collect()
                .await
                .unwrap()
                .into_bytes();
            lines.extend(
                String::from_utf8(body.to_vec())
                    .unwrap()
                    .lines()
                    .map(str::to_owned),
            );
        }
        if lines.iter().any(|l| l.contains("anonymous-probe/1"))
            && lines.iter().any(|l| l.contains("REST.GET.OBJECT"))
        {
            break;
        }
    }
    let records: Vec<Vec<String>> = lines.iter().map(|l| fields(l)).collect();
    // Every field AWS documents, in order: 26 of them (Access Point ARN and aclRequired last).
    assert!(records.iter().all(|r| r.len() == 26), "{lines:#?}");
    let put = records
        .iter()
        .find(|r| r[6] == "REST.PUT.OBJECT")
        .unwrap_or_else(|| panic!("{lines:#?}"));
    assert_eq!(
        (put[0].as_str(), put[1].as_str(), put[4].as_str()),
        ("main", source.as_str(), "main")
    );
    assert_eq!(
        (put[7].as_str(), put[9].as_str(), put[10].as_str()),
        ("logged%20file.txt", "200", "-")
    );
    assert!(
        put[2].ends_with("+0000") && put[3] == "127.0.0.1",
        "{put:?}"
    );
    assert!(put[5].starts_with("tx"), "request id: {put:?}");
    assert!(
        put[8].starts_with("PUT /") && put[8].ends_with("HTTP/1.1"),
        "{put:?}"
    );
    assert_eq!(
        (put[19].as_str(), put[21].as_str()),
        ("SigV4", "AuthHeader")
    );
    let get = records
        .iter()
        .find(|r| r[6] == "REST.GET.OBJECT" && r[4] == "main")
        .unwrap();
    assert_eq!(
        (get[9].as_str(), get[11].as_str(), get[12].as_str()),
        ("200", "10", "10")
    );
    let anon = records
        .iter()
        .find(|r| r[16] == "anonymous-probe/1")
        .unwrap();
    // Referrer and user agent are quoted, `"-"` when absent.
    assert!(
        lines
            .iter()
            .any(|l| l.contains(" \"-\" \"anonymous-probe/1\" ")),
        "{lines:#?}"
    );
    assert_eq!(
        (anon[4].as_str(), anon[9].as_str(), anon[10].as_str()),
        ("-", "403", "AccessDenied")
    );
    let missing = records
        .iter()
        .find(|r| r[7] == "never%20written")
        .unwrap_or_else(|| panic!("{lines:#?}"));
    assert_eq!(
        (missing[9].as_str(), missing[10].as_str()),
        ("404", "NoSuchKey")
    );
}

/// Records still buffered when the gateway shuts down gracefully are delivered on the way out.
#[tokio::test]
async fn graceful_shutdown_delivers_buffered_records() {
    let backend = backend_endpoint();
    let gw = spawn_gateway(|port| {
        config_text(port, &backend, "").replace(
            "grace_period_seconds = 1",
            "grace_period_seconds = 1\naccess_log_interval_seconds = 3600",
        )
    });
    let c = client_for(&gw, MAIN);
    let (source, target) = (bucket_name("log-src-shut"), bucket_name("log-dst-shut"));
    c.create_bucket().bucket(&source).send().await.unwrap();
    c.create_bucket().bucket(&target).send().await.unwrap();
    c.put_bucket_logging()
        .bucket(&source)
        .bucket_logging_status(logging(&target, "shutdown/"))
        .send()
        .await
        .unwrap();
    c.list_objects_v2().bucket(&source).send().await.unwrap();
    assert_eq!(unsafe { libc::kill(gw.pid as i32, libc::SIGTERM) }, 0);
    let other = client(MAIN);
    let mut found = 0;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        found = other
            .list_objects_v2()
            .bucket(&target)
            .prefix("shutdown/")
            .send()
            .await
            .unwrap()
            .key_count()
            .unwrap_or(0);
        if found > 0 {
            break;
        }
    }
    assert!(found > 0, "no log object was delivered at shutdown");
}

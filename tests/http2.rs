//! HTTP/2 clients (h2c, prior knowledge) reach the HTTP/1.1 backend correctly: the `:authority`
//! pseudo-header stands in for `Host` in the signature, and bodies stream both ways.

mod common;

use std::process::Command;

use common::*;

fn curl_h2(args: &[&str]) -> std::process::Output {
    Command::new("curl")
        .args([
            "-sS",
            "--http2-prior-knowledge",
            "--aws-sigv4",
            "aws:amz:nyc3:s3",
            "--user",
        ])
        .arg(format!("{}:{}", MAIN.0, MAIN.1))
        .args([
            "-H",
            "x-amz-content-sha256: UNSIGNED-PAYLOAD",
            "-w",
            "\n%{http_version} %{http_code}",
        ])
        .args(args)
        .output()
        .expect("curl is installed by scripts/test.sh")
}

#[tokio::test]
async fn put_and_get_over_h2c() {
    let b = bucket_name("h2c");
    let _ = client(MAIN).create_bucket().bucket(&b).send().await;
    let url = format!("{}/{b}/over-h2.txt", gateway().endpoint());
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let file = dir.join("h2c-body.bin");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(&file, &data).unwrap();

    let put = curl_h2(&["-T", file.to_str().unwrap(), &url]);
    let put_out = String::from_utf8_lossy(&put.stdout);
    assert!(
        put_out.trim_end().ends_with("2 200"),
        "PUT over h2c: {put_out}"
    );

    let get = curl_h2(&[&url]);
    let (body, status) = get.stdout.split_at(get.stdout.len() - "\n2 200".len());
    assert_eq!(String::from_utf8_lossy(status), "\n2 200");
    assert_eq!(body, &data[..]);

    let denied = Command::new("curl")
        .args([
            "-sS",
            "--http2-prior-knowledge",
            "-w",
            "\n%{http_version} %{http_code}",
            &url,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&denied.stdout);
    assert!(
        text.contains("<Code>AccessDenied</Code>") && text.ends_with("2 403"),
        "{text}"
    );
}

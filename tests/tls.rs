//! TLS termination with certificates the test makes (rcgen): SNI picks the certificate, real
//! clients verify the chain, ALPN offers h2, and SIGHUP swaps certificates in — a bad one is
//! refused and the old keeps serving.

mod common;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};

struct Ca {
    params: CertificateParams,
    key: KeyPair,
}

fn ca(dir: &Path) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "bucketgate test CA");
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.join("ca.pem"), cert.pem()).unwrap();
    Ca { params, key }
}

fn leaf(ca: &Ca, dir: &Path, name: &str, cn: &str, sans: &[&str]) {
    let mut params =
        CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse::<IpAddr>().unwrap()));
    params.distinguished_name.push(DnType::CommonName, cn);
    let key = KeyPair::generate().unwrap();
    let cert = params
        .signed_by(&key, &Issuer::from_params(&ca.params, &ca.key))
        .unwrap();
    std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
    std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
}

/// The subject CN of the certificate served for `sni`, via openssl s_client.
fn served_cn(addr: std::net::SocketAddr, sni: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl s_client -connect {addr} -servername {sni} </dev/null 2>/dev/null | openssl x509 -noout -subject"
        ))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test]
async fn sni_chain_verification_h2_and_reload() {
    let dir: PathBuf = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tls");
    std::fs::create_dir_all(&dir).unwrap();
    let authority = ca(&dir);
    leaf(
        &authority,
        &dir,
        "api",
        "bucketgate api",
        &["*.nyc3.example.test", "nyc3.example.test"],
    );
    leaf(
        &authority,
        &dir,
        "static",
        "bucketgate websites",
        &["*.nyc3-static.example.test"],
    );
    let tls_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let backend = backend_endpoint();
    let tls_section = format!(
        "[tls]\nlisten = [\"{tls_port}\"]\n\
         [[tls.certificates]]\nnames = [\"*.nyc3.example.test\", \"nyc3.example.test\"]\ncert_file = {:?}\nkey_file = {:?}\n\
         [[tls.certificates]]\nnames = [\"*.nyc3-static.example.test\"]\ncert_file = {:?}\nkey_file = {:?}\n",
        dir.join("api.pem").display().to_string(),
        dir.join("api.key").display().to_string(),
        dir.join("static.pem").display().to_string(),
        dir.join("static.key").display().to_string(),
    );
    let gw = spawn_gateway(|port| format!("{}\n{tls_section}", config_text(port, &backend, "")));
    for _ in 0..40 {
        if std::net::TcpStream::connect(tls_port).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    assert!(served_cn(tls_port, "photos.nyc3.example.test").contains("bucketgate api"));
    assert!(served_cn(tls_port, "site.nyc3-static.example.test").contains("bucketgate websites"));

    // curl verifies the chain against the test CA and negotiates h2 through ALPN.
    let b = bucket_name("tls");
    client_for(&gw, MAIN)
        .create_bucket()
        .bucket(&b)
        .send()
        .await
        .unwrap();
    let host = format!("{b}.nyc3.example.test");
    let body = dir.join("body.txt");
    std::fs::write(&body, b"secret over tls").unwrap();
    let out = Command::new("curl")
        .args(["-sS", "--fail-with-body", "--http2", "--cacert"])
        .arg(dir.join("ca.pem"))
        .arg("--resolve")
        .arg(format!("{host}:{}:127.0.0.1", tls_port.port()))
        .args(["--aws-sigv4", "aws:amz:nyc3:s3", "--user"])
        .arg(format!("{}:{}", MAIN.0, MAIN.1))
        .args([
            "-H",
            "x-amz-content-sha256: UNSIGNED-PAYLOAD",
            "-w",
            "%{http_version}",
            "-T",
        ])
        .arg(&body)
        .arg(format!("https://{host}:{}/over-tls.txt", tls_port.port()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "2",
        "ALPN negotiated HTTP/2"
    );

    // The AWS CLI over TLS, verifying with the CA bundle.
    let ls = Command::new("aws")
        .args([
            "--endpoint-url",
            &format!("https://127.0.0.1:{}", tls_port.port()),
            "--region",
            REGION,
            "--ca-bundle",
        ])
        .arg(dir.join("ca.pem"))
        .args(["s3", "ls", &format!("s3://{b}")])
        .env("AWS_ACCESS_KEY_ID", MAIN.0)
        .env("AWS_SECRET_ACCESS_KEY", MAIN.1)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&ls.stdout).contains("over-tls.txt"),
        "{}",
        String::from_utf8_lossy(&ls.stderr)
    );

    // A new certificate on disk and SIGHUP: served at once.
    leaf(
        &authority,
        &dir,
        "api",
        "bucketgate api v2",
        &["*.nyc3.example.test", "nyc3.example.test"],
    );
    assert_eq!(unsafe { libc::kill(gw.pid as i32, libc::SIGHUP) }, 0);
    let mut swapped = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if served_cn(tls_port, "photos.nyc3.example.test").contains("api v2") {
            swapped = true;
            break;
        }
    }
    assert!(swapped, "the reloaded certificate is served");

    // A broken certificate is refused and the old one keeps serving.
    std::fs::write(
        dir.join("api.pem"),
        "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    assert_eq!(unsafe { libc::kill(gw.pid as i32, libc::SIGHUP) }, 0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(served_cn(tls_port, "photos.nyc3.example.test").contains("api v2"));
}

/// An `https://` backend verified with a configured CA file: here the backend is another
/// bucketgate terminating TLS with the test CA's certificate (client -> B -> TLS -> A -> RGW).
/// Without the CA file the system roots do not trust it, and B answers 503.
#[tokio::test]
async fn an_https_backend_with_a_configured_ca() {
    let dir: PathBuf = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tls-backend");
    std::fs::create_dir_all(&dir).unwrap();
    let authority = ca(&dir);
    leaf(&authority, &dir, "a", "gateway a", &["localhost"]);
    let a_tls = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let rgw = backend_endpoint();
    let b_user = (
        "GWCHAINSERVICEKEY007",
        "chain-service-secret-00000000000000000000",
    );
    let a_extra = format!(
        "[[users]]\nid = \"gateway-b\"\naccess_key = \"{}\"\nsecret_key = \"{}\"\n\
         [tls]\nlisten = [\"{a_tls}\"]\n[[tls.certificates]]\nnames = [\"localhost\"]\ncert_file = {:?}\nkey_file = {:?}\n",
        b_user.0,
        b_user.1,
        dir.join("a.pem").display().to_string(),
        dir.join("a.key").display().to_string()
    );
    let _a = spawn_gateway(|port| format!("{}\n{a_extra}", config_text(port, &rgw, "")));
    for _ in 0..40 {
        if std::net::TcpStream::connect(a_tls).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let chained = |port: u16, with_ca: bool| {
        let mut text = config_text(port, &format!("https://127.0.0.1:{}", a_tls.port()), "")
            .replace(BACKEND_ACCESS_KEY, b_user.0)
            .replace(BACKEND_SECRET_KEY, b_user.1)
            .replace(
                "system_bucket = \"bucketgate-system\"",
                "system_bucket = \"bucketgate-chain-system\"",
            );
        if with_ca {
            text = text.replace(
                "connect_timeout_ms = 1000",
                &format!(
                    "connect_timeout_ms = 1000\nca_file = {:?}",
                    dir.join("ca.pem").display().to_string()
                ),
            );
        }
        text
    };
    let b = spawn_gateway(|port| chained(port, true));
    let c = client_for(&b, MAIN);
    let bucket = bucket_name("chained");
    c.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create through B and A");
    c.put_object()
        .bucket(&bucket)
        .key("k")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"via tls"))
        .send()
        .await
        .unwrap();
    let got = c
        .get_object()
        .bucket(&bucket)
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"via tls"
    );

    let untrusting = spawn_gateway(|port| chained(port, false));
    let err = aws_sdk_s3::Client::from_conf(
        client_for(&untrusting, MAIN)
            .config()
            .to_builder()
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
            .build(),
    )
    .head_bucket()
    .bucket(&bucket)
    .send()
    .await
    .unwrap_err();
    assert_eq!(
        err.raw_response().map(|r| r.status().as_u16()),
        Some(503),
        "an untrusted backend certificate is refused"
    );
}

/// Client certificates for the backend are loaded and checked by `check-config`.
#[test]
fn backend_client_certificates_are_validated() {
    let dir: PathBuf = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tls-client");
    std::fs::create_dir_all(&dir).unwrap();
    let authority = ca(&dir);
    leaf(
        &authority,
        &dir,
        "client",
        "gateway client",
        &["gateway.example"],
    );
    let config = |cert: &str| {
        config_text(1, "https://127.0.0.1:9", "").replace(
            "connect_timeout_ms = 1000",
            &format!(
                "connect_timeout_ms = 1000\nca_file = {:?}\nclient_cert_file = {:?}\nclient_key_file = {:?}",
                dir.join("ca.pem").display().to_string(),
                dir.join(cert).display().to_string(),
                dir.join("client.key").display().to_string()
            ),
        )
    };
    let check = |text: String| {
        let path = dir.join("check.toml");
        std::fs::write(&path, text).unwrap();
        Command::new(env!("CARGO_BIN_EXE_bucketgate"))
            .arg("check-config")
            .arg(&path)
            .output()
            .unwrap()
    };
    let ok = check(config("client.pem"));
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let bad = check(config("missing.pem"));
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("backend.client_cert_file"));
}

//! Shared harness for the integration tests: a real Ceph RGW (started by `scripts/test.sh`) and
//! bucketgate processes started from the binary under test, each with its own generated config.
#![allow(dead_code)]

pub mod relay;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Credentials, Region};

/// Where the backend listens (`scripts/rgw.sh` defaults; `scripts/test.sh` points the
/// SeaweedFS lane elsewhere).
pub fn backend_endpoint() -> String {
    std::env::var("BUCKETGATE_TEST_BACKEND").unwrap_or_else(|_| "http://127.0.0.1:7480".into())
}

/// The backend's `[backend] kind` (`rgw` unless the lane says otherwise).
pub fn backend_kind() -> String {
    std::env::var("BUCKETGATE_TEST_BACKEND_KIND").unwrap_or_else(|_| "rgw".into())
}

/// Skips the rest of a test on a backend where it cannot hold, saying why: `true` means
/// "return now". Every skip names its reason (the README's matrix lists them).
pub fn skipped_on(kind: &str, reason: &str) -> bool {
    if backend_kind() == kind {
        eprintln!("skipped on {kind}: {reason}");
        return true;
    }
    false
}

/// Whether the test backend's capability table (`backends/<kind>.toml`) declares the feature
/// `[features] name`: where it does not, the gateway must refuse what needs it (501).
pub fn backend_has(name: &str) -> bool {
    let path = format!(
        "{}/backends/{}.toml",
        env!("CARGO_MANIFEST_DIR"),
        backend_kind()
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let table: toml::Table = text.parse().unwrap_or_else(|e| panic!("{path}: {e}"));
    table
        .get("features")
        .and_then(|f| f.get(name))
        .and_then(toml::Value::as_bool)
        .unwrap_or_else(|| panic!("{path}: no [features] {name}"))
}

/// On a backend without `feature` (see [`backend_has`]): asserts that `answer` is the
/// gateway's `501 NotImplemented` naming the backend, and answers `true` ("the rest of the test
/// needs the feature: return now"). On a backend with it, answers `false` without looking.
pub fn refused_without<T: std::fmt::Debug, E>(feature: &str, answer: &Result<T, E>) -> bool
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::fmt::Debug,
{
    if backend_has(feature) {
        return false;
    }
    let e = answer
        .as_ref()
        .expect_err("a request needing a missing backend feature succeeded");
    assert_eq!(e.code(), Some("NotImplemented"), "{e:?}");
    assert!(
        e.message().unwrap_or_default().contains("storage backend"),
        "the refusal names the backend: {e:?}"
    );
    eprintln!(
        "skipped on {}: no {feature} (refused with 501)",
        backend_kind()
    );
    true
}

/// The RGW user the gateway signs with (the service credential).
pub const BACKEND_ACCESS_KEY: &str = "ABCDEFGHIJKLMNOPQRST";
pub const BACKEND_SECRET_KEY: &str = "abcdefghijklmnopqrstuvwxyzabcdefghijklmn";

/// Gateway users: keys that exist only in the gateway, never in RGW.
pub const MAIN: (&str, &str) = (
    "GWMAINACCESSKEY00001",
    "gateway-main-secret-0000000000000000000000",
);
pub const ALT: (&str, &str) = (
    "GWALTACCESSKEY000002",
    "gateway-alt-secret-00000000000000000000000",
);

pub const REGION: &str = "nyc3";
/// The system bucket of every test gateway unless a test names its own ([`with_system_bucket`]).
pub const SYSTEM_BUCKET: &str = "bucketgate-system";
pub const DOMAIN: &str = "example.test";

/// A running gateway process.
pub struct Gateway {
    pub addr: SocketAddr,
    pub pid: u32,
    /// The config file it runs from (rewrite it and send SIGHUP to reload).
    pub config_path: PathBuf,
}

impl Gateway {
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Peak resident memory of the gateway process so far (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn scratch_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bucketgate-tests");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The Spaces profile with room for the suite's buckets: every test binary shares one
/// backend and one state, and the main user creates a bucket or more per test (the
/// 100-bucket limit itself is tested with a profile of its own, in `tests/grants.rs`).
fn suite_profile() -> &'static PathBuf {
    static PROFILE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PROFILE.get_or_init(|| {
        let spaces =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/policies/spaces.toml"))
                .unwrap();
        let suite = spaces.replace(
            "max_buckets_per_user = 100 ",
            "max_buckets_per_user = 10000 ",
        );
        assert_ne!(
            suite, spaces,
            "policies/spaces.toml has no bucket limit to raise"
        );
        // Written aside and renamed: test binaries run side by side.
        let path = scratch_dir().join("suite-profile.toml");
        let aside = scratch_dir().join(format!("suite-profile.{}.toml", std::process::id()));
        std::fs::write(&aside, suite).unwrap();
        std::fs::rename(&aside, &path).unwrap();
        path
    })
}

/// `config` running `profile` instead of the suite's.
pub fn with_profile(config: &str, profile: &std::path::Path) -> String {
    let suite = format!("profile = \"{}\"", suite_profile().display());
    config.replace(
        &suite,
        &format!("profile = {:?}", profile.display().to_string()),
    )
}

/// The config every test gateway uses, pointed at `backend`.
pub fn config_text(port: u16, backend: &str, extra: &str) -> String {
    let profile = suite_profile().display();
    format!(
        r#"
[server]
listen = ["127.0.0.1:{port}"]
region = "{REGION}"
domain = "{DOMAIN}"
profile = "{profile}"
grace_period_seconds = 1

[backend]
kind = "{kind}"
endpoint = "{backend}"
region = "us-east-1"
access_key = "{BACKEND_ACCESS_KEY}"
secret_key = "{BACKEND_SECRET_KEY}"
system_bucket = "{SYSTEM_BUCKET}"
connect_timeout_ms = 1000

[[users]]
id = "main"
display_name = "Main User"
access_key = "{}"
secret_key = "{}"

[[users]]
id = "alt"
display_name = "Alt User"
access_key = "{}"
secret_key = "{}"
{extra}
"#,
        MAIN.0,
        MAIN.1,
        ALT.0,
        ALT.1,
        kind = backend_kind()
    )
}

/// Starts a gateway with `config` (a function of the port) and waits until it accepts connections.
/// The process dies with the test binary (PR_SET_PDEATHSIG on a thread that lives as long).
pub fn spawn_gateway(config: impl FnOnce(u16) -> String) -> Gateway {
    let port = free_port();
    let path = scratch_dir().join(format!("gateway-{port}.toml"));
    std::fs::write(&path, config(port)).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let config_path = path.clone();
    std::thread::spawn(move || {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bucketgate"));
        cmd.args(["run", "--config"])
            .arg(&path)
            .stdin(Stdio::null());
        cmd.env(
            "RUST_LOG",
            std::env::var("BUCKETGATE_TEST_LOG").unwrap_or_else(|_| "warn".into()),
        );
        // SAFETY: prctl is async-signal-safe; it only asks the kernel to SIGKILL the child when
        // this (never-ending) thread's process dies.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child: Child = cmd.spawn().expect("start bucketgate");
        tx.send(child.id()).unwrap();
        let mut child = child;
        let _ = child.wait();
        // Keep the thread (the parent of record for PDEATHSIG) alive for the test's lifetime.
        loop {
            std::thread::park();
        }
    });
    let pid = rx.recv().unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "gateway did not start on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
    Gateway {
        addr,
        pid,
        config_path,
    }
}

/// The shared gateway of a test binary, in front of RGW.
pub fn gateway() -> &'static Gateway {
    static GATEWAY: OnceLock<Gateway> = OnceLock::new();
    GATEWAY.get_or_init(|| {
        let backend = backend_endpoint();
        spawn_gateway(|port| config_text(port, &backend, ""))
    })
}

/// A gateway of this test binary's own, keeping its state in a system bucket of its own, so
/// its users' buckets count against the per-user bucket limit apart from the shared gateway's
/// (one suite run creates more buckets than one user may own).
pub fn own_gateway() -> &'static Gateway {
    static GATEWAY: OnceLock<Gateway> = OnceLock::new();
    GATEWAY.get_or_init(|| {
        let backend = backend_endpoint();
        let state = own_system_bucket();
        spawn_gateway(|port| with_system_bucket(&config_text(port, &backend, ""), &state))
    })
}

/// A system bucket name unique to this test binary's run.
pub fn own_system_bucket() -> String {
    format!("{}-state", bucket_name("own"))
}

/// An aws-sdk-s3 client for `gateway` with the given keys, path-style, region nyc3.
pub fn client_for(gateway: &Gateway, keys: (&str, &str)) -> Client {
    let config = aws_sdk_s3::Config::builder()
        .endpoint_url(gateway.endpoint())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(keys.0, keys.1, None, None, "test"))
        .force_path_style(true)
        .build();
    Client::from_conf(config)
}

pub fn client(keys: (&str, &str)) -> Client {
    client_for(gateway(), keys)
}

/// A bucket name unique to this run and test.
pub fn bucket_name(test: &str) -> String {
    static RUN: OnceLock<String> = OnceLock::new();
    let run = RUN.get_or_init(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        format!("{:x}", t.as_millis() % 0xffff_ffff)
    });
    format!("bg-{run}-{test}").replace('_', "-")
}

/// A raw HTTP/1.1 exchange, for what no client sends. Returns (status, headers, body).
pub fn raw_request(addr: SocketAddr, request: &[u8]) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    parse_response(&buf)
}

pub fn parse_response(buf: &[u8]) -> (u16, String, String) {
    let text = String::from_utf8_lossy(buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_owned(), body.to_owned())
}

/// The text of `<tag>` in an XML body.
pub fn xml_tag<'a>(body: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&close)? + start;
    Some(&body[start..end])
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Signs a request the way SDKs do (aws-sigv4, S3 settings) at `time`, returning the headers to
/// add. For hand-crafted requests: skewed clocks, Expect, virtual hosts.
pub fn sign_headers(
    method: &str,
    host: &str,
    path_and_query: &str,
    extra: &[(&str, &str)],
    payload_hash: &str,
    time: std::time::SystemTime,
    keys: (&str, &str),
) -> Vec<(String, String)> {
    use aws_sigv4::http_request::{
        PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
        UriPathNormalizationMode, sign,
    };
    let identity =
        aws_credential_types::Credentials::new(keys.0, keys.1, None, None, "test").into();
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name("s3")
        .time(time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let mut headers = vec![("host", host)];
    headers.extend_from_slice(extra);
    let req = SignableRequest::new(
        method,
        format!("http://{host}{path_and_query}"),
        headers.into_iter(),
        SignableBody::Precomputed(payload_hash.to_owned()),
    )
    .unwrap();
    let (instructions, _) = sign(req, &params).unwrap().into_parts();
    instructions
        .headers()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Formats a raw HTTP/1.1 request with the given headers and body.
pub fn format_request(
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Vec<u8> {
    let mut out = format!("{method} {target} HTTP/1.1\r\n");
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str("connection: close\r\n\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// A signed PUT of a small document (the payload hash signed), for bodies no client would
/// send: (status, head, body).
pub fn signed_put_document(target: &str, body: &[u8]) -> (u16, String, String) {
    signed_put_document_to(gateway(), target, body)
}

/// [`signed_put_document`] to another gateway.
pub fn signed_put_document_to(gw: &Gateway, target: &str, body: &[u8]) -> (u16, String, String) {
    let host = gw.addr.to_string();
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(body));
    let mut headers = sign_headers(
        "PUT",
        &host,
        target,
        &[],
        &sha,
        std::time::SystemTime::now(),
        MAIN,
    );
    headers.extend([
        ("host".into(), host),
        ("content-length".into(), body.len().to_string()),
    ]);
    raw_request(gw.addr, &format_request("PUT", target, &headers, body))
}

/// `config` with another `[backend] system_bucket`.
pub fn with_system_bucket(config: &str, name: &str) -> String {
    let line = format!("system_bucket = \"{SYSTEM_BUCKET}\"");
    assert!(config.contains(&line), "no system_bucket line to replace");
    config.replace(&line, &format!("system_bucket = \"{name}\""))
}

/// `config` with one more `[server]` setting (`extra` is appended after the users, so it can
/// only add tables; this adds keys to `[server]`).
pub fn with_server_setting(config: &str, setting: &str) -> String {
    config.replacen(
        "grace_period_seconds = 1",
        &format!("grace_period_seconds = 1\n{setting}"),
        1,
    )
}

/// A gateway of its own whose backend is a fresh recording relay in front of RGW: what the
/// relay records is exactly what the backend received from this gateway.
pub fn spawn_gateway_with_relay(extra_config: &str) -> (Gateway, relay::Relay) {
    spawn_gateway_with_relay_using(|config| config + extra_config)
}

/// [`spawn_gateway_with_relay`], with `edit` applied to the config text (whose backend is the
/// relay) before the gateway starts.
pub fn spawn_gateway_with_relay_using(
    edit: impl FnOnce(String) -> String,
) -> (Gateway, relay::Relay) {
    let relay = relay::Relay::start();
    let backend = relay.endpoint();
    let gateway = spawn_gateway(|port| edit(config_text(port, &backend, "")));
    (gateway, relay)
}

/// Removes, straight from the backend (service credential), every bucket whose name is one of
/// `names` or starts with one of `prefixes` followed by `-`: uploads aborted, objects deleted,
/// bucket deleted. Best effort, blocking; usable from `Drop` (it runs on its own thread and
/// runtime). For tests whose gateway keeps its state in a system bucket of its own, so nothing
/// else needs to forget them.
pub fn remove_backend_buckets(prefixes: &[String], names: &[String]) {
    let (prefixes, names) = (prefixes.to_vec(), names.to_vec());
    let job = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let config = aws_sdk_s3::Config::builder()
                .endpoint_url(backend_endpoint())
                .region(Region::new("us-east-1"))
                .credentials_provider(Credentials::new(
                    BACKEND_ACCESS_KEY,
                    BACKEND_SECRET_KEY,
                    None,
                    None,
                    "test",
                ))
                .force_path_style(true)
                .build();
            let c = Client::from_conf(config);
            let Ok(listed) = c.list_buckets().send().await else {
                return;
            };
            let doomed = listed
                .buckets()
                .iter()
                .filter_map(|b| b.name())
                .filter(|n| {
                    names.iter().any(|x| x == n)
                        || prefixes.iter().any(|p| {
                            n.strip_prefix(p.as_str())
                                .is_some_and(|r| r.starts_with('-'))
                        })
                });
            for b in doomed {
                if let Ok(ups) = c.list_multipart_uploads().bucket(b).send().await {
                    for u in ups.uploads() {
                        let _ = c
                            .abort_multipart_upload()
                            .bucket(b)
                            .key(u.key().unwrap_or_default())
                            .upload_id(u.upload_id().unwrap_or_default())
                            .send()
                            .await;
                    }
                }
                for _ in 0..20 {
                    let Ok(listed) = c.list_object_versions().bucket(b).send().await else {
                        break;
                    };
                    let versions = listed
                        .versions()
                        .iter()
                        .map(|v| (v.key(), v.version_id()))
                        .chain(
                            listed
                                .delete_markers()
                                .iter()
                                .map(|m| (m.key(), m.version_id())),
                        )
                        .collect::<Vec<_>>();
                    if versions.is_empty() {
                        break;
                    }
                    for (key, version) in versions {
                        let _ = c
                            .delete_object()
                            .bucket(b)
                            .key(key.unwrap_or_default())
                            .set_version_id(version.map(str::to_owned))
                            .send()
                            .await;
                    }
                }
                let _ = c.delete_bucket().bucket(b).send().await;
            }
        });
    });
    let _ = job.join();
}

pub const STREAMING: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";

pub struct Signed {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A signed aws-chunked PUT of `data` in `chunk`-byte chunks, exactly as the AWS docs describe.
pub fn signed_chunked_put(host: &str, path: &str, data: &[u8], chunk: usize) -> Signed {
    signed_chunked_put_with(host, path, data, chunk, &[])
}

/// [`signed_chunked_put`] with further signed headers.
pub fn signed_chunked_put_with(
    host: &str,
    path: &str,
    data: &[u8],
    chunk: usize,
    extra: &[(&str, &str)],
) -> Signed {
    let now = std::time::SystemTime::now();
    let amz_date = bucketgate::auth::sigv4::format_amz_date(now);
    let decoded = data.len().to_string();
    let encoded_len = {
        let mut n = 0;
        for c in data.chunks(chunk).map(<[u8]>::len).chain([0]) {
            n += format!("{c:x}").len() + ";chunk-signature=".len() + 64 + 2 + c + 2;
        }
        n
    };
    let mut signed = vec![
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", decoded.as_str()),
    ];
    signed.extend_from_slice(extra);
    let mut headers = sign_headers("PUT", host, path, &signed, STREAMING, now, MAIN);
    let auth = headers
        .iter()
        .find(|(n, _)| n == "authorization")
        .unwrap()
        .1
        .clone();
    let mut previous = auth.rsplit("Signature=").next().unwrap().to_owned();
    let key = aws_sigv4::sign::v4::generate_signing_key(MAIN.1, now, REGION, "s3");
    let scope = format!("{}/{REGION}/s3/aws4_request", &amz_date[..8]);
    let mut body = Vec::new();
    for c in data.chunks(chunk).chain([&[][..]]) {
        let sts = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope}\n{previous}\n{EMPTY_SHA256}\n{}",
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(c))
        );
        let sig = hex::encode(bucketgate::auth::sigv4::hmac_sha256(
            key.as_ref(),
            sts.as_bytes(),
        ));
        body.extend_from_slice(format!("{:x};chunk-signature={sig}\r\n", c.len()).as_bytes());
        body.extend_from_slice(c);
        body.extend_from_slice(b"\r\n");
        previous = sig;
    }
    assert_eq!(body.len(), encoded_len);
    headers.extend([
        ("host".into(), host.into()),
        ("content-encoding".into(), "aws-chunked".into()),
        ("x-amz-decoded-content-length".into(), decoded),
        ("content-length".into(), body.len().to_string()),
    ]);
    headers.extend(extra.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    Signed { headers, body }
}

//! Configuration: TOML in, a validated [`Config`] out.
//!
//! The raw serde structs reject unknown keys; [`Config::load`] then checks every value and reports
//! every problem at once (key and why), so `bucketgate check-config` can list them all. Nothing
//! downstream re-validates: holding a `Config` means it is good.

pub mod reload;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::auth::credentials::{SecretKey, User};
use crate::upstream::BackendConfig;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    server: RawServer,
    backend: RawBackend,
    #[serde(default)]
    users: Vec<RawUser>,
    embedded: Option<RawEmbedded>,
    #[serde(default)]
    limits: RawLimits,
    tls: Option<RawTls>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    listen: Vec<String>,
    certificates: Vec<RawCert>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCert {
    names: Vec<String>,
    cert_file: PathBuf,
    key_file: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    requests_per_second_per_ip: Option<u32>,
    requests_per_second_per_key: Option<u32>,
    requests_per_second_per_bucket: Option<u32>,
    concurrent_writes_per_object: Option<u32>,
    max_header_bytes: Option<usize>,
    body_idle_timeout_seconds: Option<u64>,
    #[serde(alias = "header_timeout_seconds")]
    header_read_timeout_seconds: Option<u64>,
    max_connections: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Vec<String>,
    region: String,
    domain: String,
    threads: Option<usize>,
    profile: Option<PathBuf>,
    grace_period_seconds: Option<u64>,
    state_cache_seconds: Option<u64>,
    access_log_interval_seconds: Option<u64>,
    access_log_buffer_records: Option<usize>,
    admin_listen: Option<String>,
    #[serde(default)]
    log_format: crate::telemetry::LogFormat,
    upgrade_sock: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecret {
    secret_key: Option<String>,
    secret_key_file: Option<PathBuf>,
    secret_key_env: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBackend {
    #[serde(default)]
    kind: crate::upstream::BackendKind,
    endpoint: String,
    region: String,
    access_key: String,
    #[serde(flatten)]
    secret: RawSecret,
    system_bucket: String,
    connect_timeout_ms: Option<u64>,
    read_timeout_ms: Option<u64>,
    ca_file: Option<PathBuf>,
    client_cert_file: Option<PathBuf>,
    client_key_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    id: String,
    display_name: Option<String>,
    access_key: String,
    #[serde(default)]
    grants: Vec<RawGrant>,
    #[serde(flatten)]
    secret: RawSecret,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrant {
    bucket: String,
    access: crate::auth::credentials::Access,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmbedded {
    data_dir: PathBuf,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub backend: BackendConfig,
    pub users: Vec<User>,
    /// Present when the gateway should run its own in-process S3 backend (`[embedded]`).
    pub embedded: Option<EmbeddedConfig>,
    pub limits: crate::limits::RateLimitConfig,
    /// TLS listeners and their certificates, if the gateway terminates TLS.
    pub tls: Option<TlsConfig>,
}

#[derive(Debug, Clone)]
pub struct TlsConfig {
    pub listen: Vec<SocketAddr>,
    pub certificates: Vec<crate::tls::CertSource>,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: Vec<SocketAddr>,
    pub region: String,
    pub domain: String,
    pub threads: usize,
    /// A profile file replacing the built-in `policies/spaces.toml`.
    pub profile: Option<PathBuf>,
    pub grace_period_seconds: u64,
    /// How long state read from the backend (bucket owners, ACLs) is trusted before re-reading:
    /// the bound on how stale another replica's change can look here.
    pub state_cache_seconds: u64,
    /// How often buffered access-log records are delivered (and once more at shutdown).
    pub access_log_interval_seconds: u64,
    /// The most access-log records held in memory; past it the oldest are dropped.
    pub access_log_buffer_records: usize,
    /// The admin listener (`/health`, `/ready`, `/metrics`), if any.
    pub admin_listen: Option<SocketAddr>,
    /// `text` (default) or `json` log lines.
    pub log_format: crate::telemetry::LogFormat,
    /// Where a new process started with `--upgrade` receives the listening sockets.
    pub upgrade_sock: PathBuf,
}

#[derive(Debug, Clone)]
pub struct EmbeddedConfig {
    pub data_dir: PathBuf,
}

/// One thing wrong with a config file: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub why: String,
}

/// Every problem found in one file.
#[derive(Debug)]
pub struct ConfigError {
    pub file: PathBuf,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}: {}: {}", self.file.display(), p.key, p.why)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads, parses and validates a config file.
    pub fn load(file: &Path) -> Result<Config, ConfigError> {
        let fail = |key: &str, why: String| ConfigError {
            file: file.to_owned(),
            problems: vec![Problem {
                key: key.into(),
                why,
            }],
        };
        let text = std::fs::read_to_string(file)
            .map_err(|e| fail("(file)", format!("cannot read: {e}")))?;
        let base = file.parent().unwrap_or(Path::new("."));
        Config::parse(&text, base).map_err(|problems| ConfigError {
            file: file.to_owned(),
            problems,
        })
    }

    /// Parses and validates TOML text; relative paths resolve against `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Config, Vec<Problem>> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let key = e.span().map_or("(toml)".to_owned(), |s| {
                let line = text[..s.start.min(text.len())].lines().count().max(1);
                format!("line {line}")
            });
            vec![Problem {
                key,
                why: e.message().to_owned(),
            }]
        })?;
        let mut p = Problems::default();
        let server = validate_server(raw.server, base, &mut p);
        let backend = validate_backend(raw.backend, base, &mut p);
        let users = validate_users(raw.users, base, &mut p);
        let tls = raw.tls.map(|t| validate_tls(t, base, &mut p));
        let embedded = raw.embedded.map(|e| EmbeddedConfig {
            data_dir: base.join(e.data_dir),
        });
        if let Some(backend) = &backend
            && embedded.is_some()
            && (backend.tls || !is_loopback(&backend.host))
        {
            p.add(
                "backend.endpoint",
                "with [embedded], the endpoint must be a plain http loopback address the gateway can bind",
            );
        }
        match (server, backend, p.0.is_empty()) {
            (Some(server), Some(backend), true) => Ok(Config {
                server,
                backend,
                users,
                embedded,
                tls: tls.flatten(),
                limits: crate::limits::RateLimitConfig {
                    per_ip: raw.limits.requests_per_second_per_ip,
                    per_key: raw.limits.requests_per_second_per_key,
                    per_bucket: raw.limits.requests_per_second_per_bucket,
                    writes_per_object: raw.limits.concurrent_writes_per_object,
                    max_header_bytes: raw.limits.max_header_bytes.unwrap_or(16 * 1024),
                    body_idle_timeout: std::time::Duration::from_secs(
                        raw.limits.body_idle_timeout_seconds.unwrap_or(60),
                    ),
                    header_timeout: std::time::Duration::from_secs(
                        raw.limits.header_read_timeout_seconds.unwrap_or(30).max(1),
                    ),
                    max_connections: raw.limits.max_connections,
                },
            }),
            _ => Err(p.0),
        }
    }
}

fn validate_tls(raw: RawTls, base: &Path, p: &mut Problems) -> Option<TlsConfig> {
    let before = p.0.len();
    let mut listen = Vec::new();
    for (i, addr) in raw.listen.iter().enumerate() {
        match addr.parse::<SocketAddr>() {
            Ok(a) => listen.push(a),
            Err(_) => p.add(
                format!("tls.listen[{i}]"),
                format!("{addr:?} is not an IP:port address"),
            ),
        }
    }
    let certificates: Vec<crate::tls::CertSource> = raw
        .certificates
        .into_iter()
        .map(|c| crate::tls::CertSource {
            names: c.names,
            cert_file: base.join(c.cert_file),
            key_file: base.join(c.key_file),
        })
        .collect();
    // Load them now, so check-config (and a reload) refuses a certificate that would not serve.
    if let Err(why) = crate::tls::CertStore::load(certificates.clone()) {
        p.add("tls.certificates", why);
    }
    (p.0.len() == before).then_some(TlsConfig {
        listen,
        certificates,
    })
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, key: impl Into<String>, why: impl Into<String>) {
        self.0.push(Problem {
            key: key.into(),
            why: why.into(),
        });
    }
}

fn validate_server(raw: RawServer, base: &Path, p: &mut Problems) -> Option<ServerConfig> {
    let before = p.0.len();
    if raw.listen.is_empty() {
        p.add("server.listen", "at least one address is required");
    }
    let mut listen = Vec::new();
    for (i, addr) in raw.listen.iter().enumerate() {
        match addr.parse::<SocketAddr>() {
            Ok(a) => listen.push(a),
            Err(_) => p.add(
                format!("server.listen[{i}]"),
                format!("{addr:?} is not an IP:port address"),
            ),
        }
    }
    if !is_dns_label_chain(&raw.region) || raw.region.contains('.') {
        p.add(
            "server.region",
            format!(
                "{:?} must be one lowercase DNS label such as \"nyc3\"",
                raw.region
            ),
        );
    }
    if !is_dns_label_chain(&raw.domain) {
        p.add(
            "server.domain",
            format!("{:?} is not a lowercase DNS name", raw.domain),
        );
    }
    let admin_listen = match &raw.admin_listen {
        None => None,
        Some(a) => match a.parse::<SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                p.add(
                    "server.admin_listen",
                    format!("{a:?} is not an IP:port address"),
                );
                None
            }
        },
    };
    let threads = raw.threads.unwrap_or(2);
    if threads == 0 {
        p.add("server.threads", "must be at least 1");
    }
    // One socket per gateway (by its first port), so several can run side by side.
    let first_port = listen.first().map_or(0, |a: &SocketAddr| a.port());
    let upgrade_sock = raw
        .upgrade_sock
        .map(|s| base.join(s))
        .unwrap_or_else(|| PathBuf::from(format!("/tmp/bucketgate-upgrade-{first_port}.sock")));
    (p.0.len() == before).then(|| ServerConfig {
        listen,
        region: raw.region,
        domain: raw.domain,
        threads,
        profile: raw.profile.map(|f| base.join(f)),
        grace_period_seconds: raw.grace_period_seconds.unwrap_or(30),
        state_cache_seconds: raw.state_cache_seconds.unwrap_or(5),
        access_log_interval_seconds: raw.access_log_interval_seconds.unwrap_or(300).max(1),
        access_log_buffer_records: raw.access_log_buffer_records.unwrap_or(100_000),
        admin_listen,
        log_format: raw.log_format,
        upgrade_sock,
    })
}

fn is_dns_label_chain(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

fn resolve_secret(raw: RawSecret, key: &str, base: &Path, p: &mut Problems) -> Option<SecretKey> {
    let sources = [
        raw.secret_key.is_some(),
        raw.secret_key_file.is_some(),
        raw.secret_key_env.is_some(),
    ];
    if sources.iter().filter(|s| **s).count() != 1 {
        p.add(
            key,
            "exactly one of secret_key, secret_key_file, secret_key_env is required",
        );
        return None;
    }
    let secret = if let Some(s) = raw.secret_key {
        s
    } else if let Some(file) = raw.secret_key_file {
        let path = base.join(&file);
        match std::fs::read_to_string(&path) {
            Ok(s) => s.trim_end_matches(['\n', '\r']).to_owned(),
            Err(e) => {
                p.add(
                    format!("{key}_file"),
                    format!("cannot read {}: {e}", path.display()),
                );
                return None;
            }
        }
    } else {
        let var = raw.secret_key_env.unwrap_or_default();
        match std::env::var(&var) {
            Ok(s) => s,
            Err(_) => {
                p.add(
                    format!("{key}_env"),
                    format!("environment variable {var:?} is not set"),
                );
                return None;
            }
        }
    };
    if secret.is_empty() {
        p.add(key, "the secret is empty");
        return None;
    }
    Some(SecretKey::new(secret))
}

fn validate_backend(raw: RawBackend, base: &Path, p: &mut Problems) -> Option<BackendConfig> {
    let before = p.0.len();
    let secret = resolve_secret(raw.secret, "backend.secret_key", base, p);
    let endpoint = parse_endpoint(&raw.endpoint);
    if let Err(why) = &endpoint {
        p.add("backend.endpoint", why.clone());
    }
    if raw.access_key.is_empty() {
        p.add("backend.access_key", "must not be empty");
    }
    if raw.region.is_empty() {
        p.add("backend.region", "must not be empty");
    }
    if !crate::s3::names::is_valid_bucket_name(&raw.system_bucket) {
        p.add(
            "backend.system_bucket",
            format!("{:?} is not a valid S3 bucket name", raw.system_bucket),
        );
    }
    if raw.client_cert_file.is_some() != raw.client_key_file.is_some() {
        p.add(
            "backend.client_cert_file",
            "client_cert_file and client_key_file go together",
        );
    }
    if let Some(ca) = &raw.ca_file
        && let Err(why) = crate::upstream::load_ca(&base.join(ca))
    {
        p.add("backend.ca_file", why);
    }
    if let (Some(c), Some(k)) = (&raw.client_cert_file, &raw.client_key_file)
        && let Err(why) = crate::upstream::load_client_cert(&base.join(c), &base.join(k))
    {
        p.add("backend.client_cert_file", why);
    }
    let (tls, host, port) = endpoint.ok()?;
    let secret_key = secret?;
    if p.0.len() != before {
        return None;
    }
    let capabilities = match crate::upstream::backends::Capabilities::of(raw.kind) {
        Ok(c) => std::sync::Arc::new(c),
        Err(e) => {
            p.add("backend.kind", &e);
            return None;
        }
    };
    Some(BackendConfig {
        kind: raw.kind,
        capabilities,
        tls,
        host,
        port,
        region: raw.region,
        access_key: raw.access_key,
        secret_key,
        system_bucket: raw.system_bucket,
        connect_timeout_ms: raw.connect_timeout_ms.unwrap_or(3000),
        read_timeout_ms: raw.read_timeout_ms.unwrap_or(60_000).max(1),
        ca_file: raw.ca_file.map(|f| base.join(f)),
        client_cert: raw
            .client_cert_file
            .zip(raw.client_key_file)
            .map(|(c, k)| (base.join(c), base.join(k))),
    })
}

/// `http[s]://host[:port]` -> (tls, host, port). Backends are addressed path-style at the root.
fn parse_endpoint(endpoint: &str) -> Result<(bool, String, u16), String> {
    let uri: http::Uri = endpoint
        .parse()
        .map_err(|_| format!("{endpoint:?} is not a URL such as \"http://127.0.0.1:7480\""))?;
    let tls = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err(format!("{endpoint:?} must start with http:// or https://")),
    };
    let host = uri
        .host()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| format!("{endpoint:?} has no host"))?
        .trim_matches(['[', ']'])
        .to_owned();
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(format!(
            "{endpoint:?} must not have a path or query: the backend is addressed path-style"
        ));
    }
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    Ok((tls, host, port))
}

fn validate_users(raw: Vec<RawUser>, base: &Path, p: &mut Problems) -> Vec<User> {
    let mut users: Vec<User> = Vec::new();
    for (i, u) in raw.into_iter().enumerate() {
        let key = format!("users[{i}]");
        if u.id.is_empty() {
            p.add(format!("{key}.id"), "must not be empty");
        } else if u.id.chars().any(|c| c == '/' || c.is_control()) {
            // The id names the user's records in the system bucket (`owners/<id>/<bucket>`).
            p.add(
                format!("{key}.id"),
                "must not contain '/' or control characters",
            );
        }
        if u.access_key.is_empty() {
            p.add(format!("{key}.access_key"), "must not be empty");
        }
        if users.iter().any(|o| o.id == u.id) {
            p.add(
                format!("{key}.id"),
                format!("{:?} is used by another user", u.id),
            );
        }
        if users.iter().any(|o| o.access_key == u.access_key) {
            p.add(format!("{key}.access_key"), "is used by another user");
        }
        if let Some(secret) = resolve_secret(u.secret, &format!("{key}.secret_key"), base, p) {
            for (j, g) in u.grants.iter().enumerate() {
                if !crate::s3::names::is_valid_bucket_name(&g.bucket) {
                    p.add(
                        format!("{key}.grants[{j}].bucket"),
                        format!("{:?} is not a valid bucket name", g.bucket),
                    );
                }
            }
            users.push(User {
                grants: u
                    .grants
                    .into_iter()
                    .map(|g| crate::auth::credentials::BucketGrant {
                        bucket: g.bucket,
                        access: g.access,
                    })
                    .collect(),
                display_name: u.display_name.unwrap_or_else(|| u.id.clone()),
                id: u.id,
                access_key: u.access_key,
                secret_key: secret,
            });
        }
    }
    users
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        [server]
        listen = ["127.0.0.1:8080"]
        region = "nyc3"
        domain = "example.test"
        [backend]
        endpoint = "http://127.0.0.1:7480"
        region = "us-east-1"
        access_key = "AK"
        secret_key = "SK"
        system_bucket = "bucketgate-system"
        [[users]]
        id = "main"
        display_name = "Main User"
        access_key = "UAK"
        secret_key = "USK"
    "#;

    #[test]
    fn a_good_file_loads() {
        let c = Config::parse(GOOD, Path::new(".")).unwrap();
        assert_eq!(c.server.listen, vec!["127.0.0.1:8080".parse().unwrap()]);
        assert_eq!(
            (c.backend.host.as_str(), c.backend.port, c.backend.tls),
            ("127.0.0.1", 7480, false)
        );
        assert_eq!(c.backend.authority(), "127.0.0.1:7480");
        assert_eq!(c.users[0].display_name, "Main User");
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_line() {
        let text = GOOD.replace("region = \"nyc3\"", "region = \"nyc3\"\nregoin = \"x\"");
        let problems = Config::parse(&text, Path::new(".")).unwrap_err();
        assert!(problems[0].why.contains("regoin"), "{problems:?}");
        assert!(problems[0].key.starts_with("line "), "{problems:?}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = GOOD
            .replace("127.0.0.1:8080", "nowhere")
            .replace("http://127.0.0.1:7480", "ftp://x")
            .replace("bucketgate-system", "Bad_Name")
            .replace(
                "secret_key = \"USK\"",
                "secret_key_env = \"BUCKETGATE_TEST_UNSET_VAR\"",
            );
        let problems = Config::parse(&text, Path::new(".")).unwrap_err();
        let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "server.listen[0]",
                "backend.endpoint",
                "backend.system_bucket",
                "users[0].secret_key_env"
            ]
        );
    }

    #[test]
    fn a_user_id_cannot_reach_into_another_users_records() {
        for id in ["main/x", "main\n"] {
            let text = GOOD.replace("id = \"main\"", &format!("id = {id:?}"));
            let problems = Config::parse(&text, Path::new(".")).unwrap_err();
            assert_eq!(problems[0].key, "users[0].id", "{id:?}");
        }
    }

    #[test]
    fn two_secret_sources_are_ambiguous() {
        let text = GOOD.replace(
            "secret_key = \"SK\"",
            "secret_key = \"SK\"\nsecret_key_env = \"X\"",
        );
        let problems = Config::parse(&text, Path::new(".")).unwrap_err();
        assert_eq!(problems[0].key, "backend.secret_key");
    }

    #[test]
    fn the_shipped_configs_validate() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        Config::load(&dir.join("local.toml")).unwrap();
        // production.toml names a secret file and environment variables the operator provides.
        let secret = std::env::temp_dir().join("bucketgate-config-test.secret");
        std::fs::write(&secret, "backend-secret\n").unwrap();
        let text = std::fs::read_to_string(dir.join("production.toml"))
            .unwrap()
            .replace(
                "/etc/bucketgate/backend.secret",
                &secret.display().to_string(),
            )
            .replace(
                "secret_key_env = \"BUCKETGATE_ALICE_SECRET\"",
                "secret_key = \"a\"",
            )
            .replace(
                "secret_key_env = \"BUCKETGATE_REPORTING_SECRET\"",
                "secret_key = \"b\"",
            );
        let c = Config::parse(&text, &dir).unwrap();
        assert_eq!(c.backend.secret_key.expose(), "backend-secret");
        assert_eq!(c.limits.per_ip, Some(800));
        assert!(c.server.admin_listen.is_some());
    }

    #[test]
    fn duplicate_access_keys_are_rejected() {
        let text =
            format!("{GOOD}\n[[users]]\nid = \"alt\"\naccess_key = \"UAK\"\nsecret_key = \"x\"\n");
        let problems = Config::parse(&text, Path::new(".")).unwrap_err();
        assert_eq!(problems[0].key, "users[1].access_key");
    }
}

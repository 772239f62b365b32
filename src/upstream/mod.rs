//! The backend: where requests go and how they are re-signed on the way.
//!
//! The client's credentials never reach the backend. Each forwarded request loses the client's
//! `Authorization` (or presigned query parameters) and is signed anew with the one service
//! credential, over the same payload hash the client signed. A backend that verifies that hash
//! (its capability table says so) checks the body; for any other, the gateway does.

pub mod backends;
pub mod client;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod plan;
pub mod probe;
pub mod quirks;
pub mod sign;

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use pingora::http::RequestHeader;
use pingora::upstreams::peer::HttpPeer;
use pingora::utils::tls::{CertKey, WrappedX509, parse_x509};

use crate::auth::credentials::SecretKey;
use crate::s3::error::S3Error;
use crate::s3_error;

/// Client authentication headers the gateway replaces with its own.
const CLIENT_AUTH_HEADERS: &[&str] = &[
    "authorization",
    "x-amz-date",
    "x-amz-content-sha256",
    "x-amz-security-token",
];

/// Which S3 server the backend is: selects its capability and quirk table
/// (`backends/<kind>.toml`, see [`backends::Capabilities`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackendKind {
    /// Ceph RADOS Gateway (the engine DigitalOcean Spaces runs on).
    Rgw,
    /// SeaweedFS's S3 gateway.
    Seaweedfs,
    /// The s3s project's file-system server (the embedded backend).
    S3sFs,
    /// Amazon S3.
    Aws,
    /// Any other S3 server: S3's rules assumed, bodies verified by the gateway.
    #[default]
    Generic,
}

impl BackendKind {
    pub const ALL: [BackendKind; 5] = [
        BackendKind::Rgw,
        BackendKind::Seaweedfs,
        BackendKind::S3sFs,
        BackendKind::Aws,
        BackendKind::Generic,
    ];

    /// The name `[backend] kind` gives it (for messages that name the backend).
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Rgw => "rgw",
            BackendKind::Seaweedfs => "seaweedfs",
            BackendKind::S3sFs => "s3s-fs",
            BackendKind::Aws => "aws",
            BackendKind::Generic => "generic",
        }
    }
}

/// Where the backend is and the service credential for it, as `[backend]` configures them.
#[derive(Debug, Clone)]
pub struct BackendConfig {
    pub kind: BackendKind,
    /// What this kind of backend does as S3 does (its `backends/<kind>.toml`).
    pub capabilities: Arc<backends::Capabilities>,
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub region: String,
    pub access_key: String,
    pub secret_key: SecretKey,
    pub system_bucket: String,
    pub connect_timeout_ms: u64,
    /// How long one read from (or write to) the backend may wait: a backend that stalls longer
    /// is answered `503 ServiceUnavailable` (or, once the answer has begun, the client's
    /// connection is cut). `[backend] read_timeout_ms`, default 60000.
    pub read_timeout_ms: u64,
    /// Trust these CAs (PEM) for an `https://` backend instead of the system roots.
    pub ca_file: Option<PathBuf>,
    /// A client certificate and key (PEM) presented to an `https://` backend.
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

impl BackendConfig {
    /// `host:port`, as the backend expects it in `Host`.
    pub fn authority(&self) -> String {
        let default_port = if self.tls { 443 } else { 80 };
        if self.port == default_port {
            self.host.clone()
        } else if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// The backend S3 server and the service credential for it.
pub struct Backend {
    config: BackendConfig,
    authority: String,
    addr: SocketAddr,
    signer: sign::BackendSigner,
    ca: Option<Arc<[WrappedX509]>>,
    client_cert: Option<Arc<CertKey>>,
}

/// Loads the CA certificates (PEM) trusted for an `https://` backend.
pub fn load_ca(path: &std::path::Path) -> Result<Arc<[WrappedX509]>, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let ders: Vec<Vec<u8>> = rustls_pemfile::certs(&mut text.as_slice())
        .map(|c| c.map(|c| c.as_ref().to_vec()))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if ders.is_empty() {
        return Err(format!("{}: no certificate found", path.display()));
    }
    Ok(ders
        .into_iter()
        .map(|der| WrappedX509::new(der, parse_x509))
        .collect::<Vec<_>>()
        .into())
}

/// Loads the client certificate and key (PEM) presented to an `https://` backend.
pub fn load_client_cert(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<Arc<CertKey>, String> {
    let name = |p: &std::path::Path| {
        p.to_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("{} is not UTF-8", p.display()))
    };
    let (certs, key_der) = pingora::tls::load_certs_and_key_files(&name(cert)?, &name(key)?)
        .map_err(|e| format!("{} / {}: {e}", cert.display(), key.display()))?
        .ok_or_else(|| format!("{}: no certificate or key found", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate found", cert.display()));
    }
    Ok(Arc::new(CertKey::new(
        certs.iter().map(|c| c.as_ref().to_vec()).collect(),
        key_der.secret_der().to_vec(),
    )))
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("authority", &self.authority)
            .field("addr", &self.addr)
            .finish()
    }
}

impl Backend {
    /// Resolves the backend's address once; the peer is reused for every request so pingora's
    /// connection pool keeps connections alive across requests.
    pub fn new(config: BackendConfig) -> std::io::Result<Backend> {
        let addr = (config.host.as_str(), config.port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| {
                std::io::Error::other(format!("{} resolves to no address", config.host))
            })?;
        let signer = sign::BackendSigner::new(
            config.access_key.clone(),
            config.secret_key.clone(),
            config.region.clone(),
        );
        let ca = config
            .ca_file
            .as_deref()
            .map(load_ca)
            .transpose()
            .map_err(std::io::Error::other)?;
        let client_cert = config
            .client_cert
            .as_ref()
            .map(|(c, k)| load_client_cert(c, k))
            .transpose()
            .map_err(std::io::Error::other)?;
        Ok(Backend {
            authority: config.authority(),
            addr,
            signer,
            ca,
            client_cert,
            config,
        })
    }

    pub fn config(&self) -> &BackendConfig {
        &self.config
    }

    /// The peer every proxied request goes to.
    pub fn peer(&self) -> Box<HttpPeer> {
        let mut peer = HttpPeer::new(self.addr, self.config.tls, self.config.host.clone());
        let connect = Duration::from_millis(self.config.connect_timeout_ms);
        peer.options.connection_timeout = Some(connect);
        peer.options.total_connection_timeout = Some(connect * 2);
        peer.options.idle_timeout = Some(Duration::from_secs(60));
        let io = Some(Duration::from_millis(self.config.read_timeout_ms));
        peer.options.read_timeout = io;
        peer.options.write_timeout = io;
        peer.options.ca = self.ca.clone();
        peer.client_cert_key = self.client_cert.clone();
        Box::new(peer)
    }

    /// Readies a request built for the backend (its path-style target already set): backend
    /// `Host`, no client credentials, and a fresh SigV4 signature over `payload_hash`.
    ///
    /// Only `host`, `x-amz-*`, `content-md5` and `content-type` are signed: signing transport
    /// headers (`expect`, `accept-encoding`, SDK headers) makes strict backends reject requests.
    pub fn resign(
        &self,
        header: &mut RequestHeader,
        payload_hash: &str,
        now: SystemTime,
    ) -> Result<(), S3Error> {
        for name in CLIENT_AUTH_HEADERS {
            header.remove_header(*name);
        }
        header
            .insert_header(http::header::HOST, self.authority.as_str())
            .map_err(|_| {
                s3_error!(
                    InternalError,
                    "Could not prepare the backend request: invalid host."
                )
            })?;
        self.signer.sign(header, payload_hash, now)
    }
}

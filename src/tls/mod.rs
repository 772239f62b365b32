//! TLS termination: certificates chosen by SNI, swapped in on reload without a restart.
//!
//! Each configured certificate names the hostnames it serves (`*.nyc3.example.com` matches one
//! label); a handshake without SNI, or for no listed name, gets the first certificate. A reload
//! loads every file again and swaps the set atomically; if any file fails, the old set stays.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use pingora::tls::sign::CertifiedKey;
use pingora::tls::{ClientHello, CryptoProvider, ResolvesServerCert};

/// One certificate and the names it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSource {
    pub names: Vec<String>,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

type Loaded = Vec<(Vec<String>, Arc<CertifiedKey>)>;

/// The certificates in service, and where they come from.
pub struct CertStore {
    sources: Vec<CertSource>,
    current: ArcSwap<Loaded>,
}

impl std::fmt::Debug for CertStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertStore")
            .field("sources", &self.sources)
            .finish_non_exhaustive()
    }
}

fn load_one(source: &CertSource) -> Result<Arc<CertifiedKey>, String> {
    pingora::tls::install_default_crypto_provider();
    let provider = CryptoProvider::get_default().ok_or("no TLS crypto provider")?;
    let path = |p: &Path| {
        p.to_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("{} is not UTF-8", p.display()))
    };
    let (certs, key) =
        pingora::tls::load_certs_and_key_files(&path(&source.cert_file)?, &path(&source.key_file)?)
            .map_err(|e| {
                format!(
                    "{} / {}: {e}",
                    source.cert_file.display(),
                    source.key_file.display()
                )
            })?
            .ok_or_else(|| {
                format!(
                    "{}: no certificate or key found",
                    source.cert_file.display()
                )
            })?;
    if certs.is_empty() {
        return Err(format!(
            "{}: no certificate found",
            source.cert_file.display()
        ));
    }
    let certs = certs.into_iter().map(|c| c.into_owned()).collect();
    CertifiedKey::from_der(certs, key.clone_key(), provider)
        .map(Arc::new)
        .map_err(|e| {
            format!(
                "{}: the key does not fit the certificate: {e}",
                source.key_file.display()
            )
        })
}

fn load_all(sources: &[CertSource]) -> Result<Loaded, String> {
    sources
        .iter()
        .map(|s| Ok((s.names.clone(), load_one(s)?)))
        .collect()
}

/// `*.example.com` matches exactly one label in front of `example.com`.
fn name_matches(pattern: &str, host: &str) -> bool {
    let (pattern, host) = (pattern.to_ascii_lowercase(), host.to_ascii_lowercase());
    match pattern.strip_prefix("*.") {
        Some(suffix) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
        None => pattern == host,
    }
}

impl CertStore {
    /// Loads every certificate; fails naming the first file that does not load.
    pub fn load(sources: Vec<CertSource>) -> Result<CertStore, String> {
        if sources.is_empty() {
            return Err("at least one certificate is needed".into());
        }
        let loaded = load_all(&sources)?;
        Ok(CertStore {
            sources,
            current: ArcSwap::from_pointee(loaded),
        })
    }

    /// Loads every file again; on success the new set serves the next handshakes.
    pub fn reload(&self) -> Result<(), String> {
        let loaded = load_all(&self.sources)?;
        self.current.store(Arc::new(loaded));
        Ok(())
    }

    fn pick(&self, server_name: Option<&str>) -> Option<Arc<CertifiedKey>> {
        let current = self.current.load();
        server_name
            .and_then(|sni| {
                current
                    .iter()
                    .find(|(names, _)| names.iter().any(|n| name_matches(n, sni)))
            })
            .or_else(|| current.first())
            .map(|(_, key)| key.clone())
    }
}

/// The rustls hook: picks the certificate per handshake.
#[derive(Debug)]
pub struct SniResolver(pub Arc<CertStore>);

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.0.pick(hello.server_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cover_one_label() {
        assert!(name_matches(
            "*.nyc3.example.com",
            "photos.nyc3.example.com"
        ));
        assert!(name_matches(
            "*.NYC3.example.com",
            "Photos.nyc3.example.com"
        ));
        assert!(!name_matches("*.nyc3.example.com", "a.b.nyc3.example.com"));
        assert!(!name_matches("*.nyc3.example.com", "nyc3.example.com"));
        assert!(name_matches("nyc3.example.com", "nyc3.example.com"));
    }

    #[test]
    fn missing_files_are_named() {
        let e = CertStore::load(vec![CertSource {
            names: vec!["x".into()],
            cert_file: "/nonexistent/cert.pem".into(),
            key_file: "/nonexistent/key.pem".into(),
        }])
        .unwrap_err();
        assert!(e.contains("/nonexistent/cert.pem"), "{e}");
    }
}

//! The start-up probe: does the backend take the service credential, is the system bucket
//! there (created if not), and which kind of server answered. A kind other than the one
//! `[backend] kind` declares is worth a warning: the corrections of `backends/<kind>.toml`
//! are for the declared one.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method};

use super::client::BackendClient;
use super::{Backend, BackendConfig, BackendKind};

/// What the probe found.
#[derive(Debug)]
pub struct Probe {
    /// The kind the answer's headers identify, when they do.
    pub answered_as: Option<BackendKind>,
    /// The system bucket exists (or was just created).
    pub system_bucket: Result<(), String>,
}

impl Probe {
    /// A line for the operator: what answered, and a warning when it is not what is declared.
    pub fn describe(&self, declared: BackendKind) -> String {
        let state = match &self.system_bucket {
            Ok(()) => "system bucket ready".to_owned(),
            Err(e) => format!("system bucket NOT ready: {e}"),
        };
        match self.answered_as {
            Some(kind) if kind != declared => format!(
                "warning: the backend answers like {} but [backend] kind is {}; {state}",
                kind.as_str(),
                declared.as_str()
            ),
            Some(kind) => format!("backend answers like {}; {state}", kind.as_str()),
            None => format!(
                "backend kind not recognisable from its answer (declared {}); {state}",
                declared.as_str()
            ),
        }
    }
}

/// The kind of S3 server an answer's headers identify.
pub fn identify(headers: &HeaderMap) -> Option<BackendKind> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let server = header("server").unwrap_or_default();
    if server.starts_with("SeaweedFS") {
        return Some(BackendKind::Seaweedfs);
    }
    if server == "AmazonS3" {
        return Some(BackendKind::Aws);
    }
    // RGW's request ids: `tx` + 21 hex digits, then the time, the zone and the zonegroup.
    let id = header("x-amz-request-id").unwrap_or_default();
    let parts: Vec<&str> = id.split('-').collect();
    if parts.len() >= 3
        && parts[0].len() == 23
        && parts[0].starts_with("tx")
        && parts[0][2..].bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Some(BackendKind::Rgw);
    }
    None
}

/// Probes the backend: ListBuckets with the service credential (an error when refused), then
/// the system bucket.
pub async fn probe(config: &BackendConfig) -> Result<Probe, String> {
    let backend = Arc::new(Backend::new(config.clone()).map_err(|e| format!("backend: {e}"))?);
    let client = BackendClient::new(backend);
    let listed = client
        .send(Method::GET, "/", &[], Bytes::new())
        .await
        .map_err(|e| format!("backend {} unreachable: {e}", config.authority()))?;
    if !listed.is_success() {
        return Err(format!(
            "backend {} refused the service credential: {} {}",
            config.authority(),
            listed.status,
            listed.error_code().unwrap_or_default()
        ));
    }
    let system_bucket = crate::state::create_system_bucket(&client, &config.system_bucket)
        .await
        .map_err(|e| e.to_string());
    Ok(Probe {
        answered_as: identify(&listed.headers),
        system_bucket,
    })
}

/// Runs the probe once, when the gateway starts, and says what it found in the log.
pub struct StartupProbe(pub BackendConfig);

#[async_trait::async_trait]
impl pingora::services::background::BackgroundService for StartupProbe {
    async fn start(&self, _shutdown: pingora::server::ShutdownWatch) {
        match probe(&self.0).await {
            Ok(p)
                if p.answered_as.is_some_and(|k| k != self.0.kind) || p.system_bucket.is_err() =>
            {
                tracing::warn!("{}", p.describe(self.0.kind));
            }
            Ok(p) => tracing::info!("{}", p.describe(self.0.kind)),
            Err(e) => tracing::error!("{e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.insert(*n, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn servers_are_recognised_by_their_answers() {
        // Captured from RGW 16.2.15 and SeaweedFS 4.48.
        let rgw = headers(&[(
            "x-amz-request-id",
            "tx000004b8256a2060344e0-006b13d032-100e-default",
        )]);
        assert_eq!(identify(&rgw), Some(BackendKind::Rgw));
        let seaweed = headers(&[("server", "SeaweedFS 8000GB 4.48 pypi")]);
        assert_eq!(identify(&seaweed), Some(BackendKind::Seaweedfs));
        assert_eq!(
            identify(&headers(&[("server", "AmazonS3")])),
            Some(BackendKind::Aws)
        );
        assert_eq!(
            identify(&headers(&[(
                "x-amz-request-id",
                "18EE4B85D7C30A133C9AC558"
            )])),
            None
        );
        let probe = Probe {
            answered_as: Some(BackendKind::Seaweedfs),
            system_bucket: Ok(()),
        };
        assert!(probe.describe(BackendKind::Rgw).starts_with("warning:"));
        assert!(
            !probe
                .describe(BackendKind::Seaweedfs)
                .starts_with("warning:")
        );
    }
}

//! Reloading without a restart: on SIGHUP the config file is read and validated again, and the
//! users and rate limits are swapped in atomically. A file that does not validate is refused
//! with its problems logged, and the running configuration keeps serving. Listeners and the
//! backend are fixed for the life of the process (use pingora's upgrade for those).

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;

use crate::auth::credentials::CredentialStore;
use crate::config::Config;
use crate::limits::RateLimits;

/// The parts of a running gateway a reload replaces.
pub struct Reloader {
    pub path: PathBuf,
    /// The certificates in service, reloaded from their files.
    pub certificates: Option<Arc<crate::tls::CertStore>>,
    pub credentials: Arc<ArcSwap<CredentialStore>>,
    pub limits: Arc<ArcSwap<RateLimits>>,
}

impl Reloader {
    /// Re-reads the file; swaps users and limits in if it validates.
    pub fn reload(&self) -> Result<usize, String> {
        let config = Config::load(&self.path).map_err(|e| e.to_string())?;
        if let Some(store) = &self.certificates {
            store.reload()?;
        }
        let users = config.users.len();
        self.credentials
            .store(Arc::new(CredentialStore::new(config.users)));
        self.limits.store(Arc::new(RateLimits::new(config.limits)));
        Ok(users)
    }
}

#[async_trait]
impl BackgroundService for Reloader {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut hangups =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("cannot listen for SIGHUP, reloads are off: {e}");
                    return;
                }
            };
        loop {
            tokio::select! {
                _ = hangups.recv() => match self.reload() {
                    Ok(users) => tracing::info!(users, "configuration reloaded from {}", self.path.display()),
                    Err(why) => tracing::warn!("reload refused, the running configuration stays:\n{why}"),
                },
                _ = shutdown.changed() => return,
            }
        }
    }
}

//! Shutdown on SIGTERM: once pingora has stopped accepting, the gateway waits only for the
//! requests still in flight, delivers the access log and exits, rather than sitting out the
//! whole grace period (pingora's, which bounds the wait) with nothing left to do.
//!
//! SIGQUIT (the `--upgrade` hand-over) keeps pingora's grace period: the keep-alive
//! connections of the old process go on being answered while clients move to the new one.
//! pingora itself drops every idle keep-alive connection the moment it stops accepting, which
//! races with a client sending its next request on one (the client sees a reset); [`DrainApp`]
//! holds that back for half the grace period, so each connection's next request is answered,
//! with `Connection: close`, and only connections idle all along are dropped at its end.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use tokio::signal::unix::{SignalKind, signal};

use super::access_log::LogDelivery;

/// The number of client requests being processed now.
#[derive(Clone, Default)]
pub struct InFlight(Arc<AtomicUsize>);

/// One request in flight, counted until it is dropped with its context.
pub struct RequestGuard(Arc<AtomicUsize>);

impl InFlight {
    /// Counts a request from its first phase (its context's creation) to its end.
    pub fn enter(&self) -> RequestGuard {
        self.0.fetch_add(1, Ordering::Relaxed);
        RequestGuard(self.0.clone())
    }

    pub fn count(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }

    /// Resolves once no request is in flight.
    async fn drained(&self) {
        while self.count() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The gateway's connection handler with a drain window at shutdown: idle keep-alive
/// connections stay open for `drain` after the listeners close (see the module's comment).
pub struct DrainApp<A> {
    pub inner: Arc<A>,
    pub drain: Duration,
}

#[async_trait]
impl<A: ServerApp + Send + Sync + 'static> ServerApp for DrainApp<A> {
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        self.inner.process_new(stream, shutdown).await
    }

    /// Runs once the listeners are closed; pingora's own cleanup drops idle connections.
    async fn cleanup(&self) {
        tokio::time::sleep(self.drain).await;
        self.inner.cleanup().await
    }
}

/// Runs beside the gateway service; acts only on SIGTERM.
pub struct Terminate {
    pub in_flight: InFlight,
    pub delivery: LogDelivery,
}

#[async_trait]
impl BackgroundService for Terminate {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut term = match signal(SignalKind::terminate()) {
            Ok(term) => term,
            Err(e) => {
                tracing::warn!("cannot watch for SIGTERM, shutdown waits the grace period: {e}");
                return;
            }
        };
        if shutdown.changed().await.is_err() {
            return;
        }
        // pingora broadcasts shutdown for SIGTERM and SIGQUIT alike: a SIGTERM was delivered
        // to this stream too, at the same moment.
        if tokio::time::timeout(Duration::from_millis(200), term.recv())
            .await
            .is_err()
        {
            return;
        }
        self.in_flight.drained().await;
        // The drained requests' records, delivered before the process ends.
        self.delivery.deliver().await;
        tracing::info!("SIGTERM: no request in flight, exiting");
        std::process::exit(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drained_waits_for_every_request() {
        let in_flight = InFlight::default();
        let (a, b) = (in_flight.enter(), in_flight.enter());
        assert_eq!(in_flight.count(), 2);
        drop(a);
        let waiter = tokio::spawn({
            let in_flight = in_flight.clone();
            async move { in_flight.drained().await }
        });
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(!waiter.is_finished(), "one request is still in flight");
        drop(b);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("drained once the last request ended")
            .unwrap();
    }
}

//! Request-rate limits, as Spaces documents them: per client IP, per access key and per bucket.
//! Exceeding one answers 503 SlowDown with `Retry-After`; the admin listener is never limited.

use std::time::Duration;

use pingora_limits::rate::Rate;

use crate::s3::error::S3Error;
use crate::s3_error;

/// Requests per second allowed per client IP, access key and bucket, and concurrent writes per
/// object (`None`: unlimited); header size and idle-client limits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimitConfig {
    pub per_ip: Option<u32>,
    pub per_key: Option<u32>,
    pub per_bucket: Option<u32>,
    /// Concurrent PUT/COPY to one object (Spaces: 10).
    pub writes_per_object: Option<u32>,
    /// The largest request header block, in bytes.
    pub max_header_bytes: usize,
    /// How long a client may leave the request body idle before the request is cut.
    pub body_idle_timeout: Duration,
    /// How long a client may take to send one whole request head (read at start-up).
    pub header_timeout: Duration,
    /// Client connections served at once (HTTP/2: streams).
    pub max_connections: Option<usize>,
}

/// Counts a client connection while it lives: created with its first request, carried across
/// keep-alive requests, dropped with the connection.
#[derive(Debug)]
pub struct ConnectionGuard {
    counter: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl ConnectionGuard {
    /// Counts one more connection; returns the guard and how many are open now.
    pub fn open(
        counter: &std::sync::Arc<std::sync::atomic::AtomicUsize>,
    ) -> (ConnectionGuard, usize) {
        let now = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        (
            ConnectionGuard {
                counter: counter.clone(),
            },
            now,
        )
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.counter
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Sliding one-second windows for each limit.
pub struct RateLimits {
    config: RateLimitConfig,
    writes: std::sync::Mutex<std::collections::HashMap<String, u32>>,
    ip: Rate,
    key: Rate,
    bucket: Rate,
}

/// Which limit a request crossed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Ip,
    Key,
    Bucket,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ip => "ip",
            Scope::Key => "key",
            Scope::Bucket => "bucket",
        }
    }
}

impl RateLimits {
    pub fn new(config: RateLimitConfig) -> Self {
        let second = Duration::from_secs(1);
        RateLimits {
            config,
            writes: std::sync::Mutex::new(std::collections::HashMap::new()),
            ip: Rate::new(second),
            key: Rate::new(second),
            bucket: Rate::new(second),
        }
    }

    pub fn config(&self) -> &RateLimitConfig {
        &self.config
    }

    /// Takes one of the object's concurrent-write slots; SlowDown when all are taken. The slot
    /// is given back with [`Self::release_write`].
    pub fn acquire_write(&self, object: &str) -> Result<bool, S3Error> {
        let Some(limit) = self.config.writes_per_object else {
            return Ok(false);
        };
        let Ok(mut writes) = self.writes.lock() else {
            return Ok(false);
        };
        let in_flight = writes.entry(object.to_owned()).or_insert(0);
        if *in_flight >= limit {
            return Err(s3_error!(
                SlowDown,
                "Please reduce your request rate: {limit} writes to this object are already in progress."
            ));
        }
        *in_flight += 1;
        Ok(true)
    }

    pub fn release_write(&self, object: &str) {
        let Ok(mut writes) = self.writes.lock() else {
            return;
        };
        if let Some(n) = writes.get_mut(object) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                writes.remove(object);
            }
        }
    }

    /// Counts one request against `scope`'s limit for `id`; SlowDown once it is exceeded.
    pub fn check(
        &self,
        scope: Scope,
        id: &(impl std::hash::Hash + ?Sized),
    ) -> Result<(), (Scope, S3Error)> {
        let (limit, rate) = match scope {
            Scope::Ip => (self.config.per_ip, &self.ip),
            Scope::Key => (self.config.per_key, &self.key),
            Scope::Bucket => (self.config.per_bucket, &self.bucket),
        };
        let Some(limit) = limit else { return Ok(()) };
        if rate.observe(&id, 1) > limit as isize {
            return Err((
                scope,
                s3_error!(
                    SlowDown,
                    "Please reduce your request rate (more than {limit} requests per second per {}).",
                    scope.as_str()
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_writes_per_object() {
        let limits = RateLimits::new(RateLimitConfig {
            writes_per_object: Some(2),
            ..Default::default()
        });
        assert!(limits.acquire_write("b/k").unwrap());
        assert!(limits.acquire_write("b/k").unwrap());
        assert_eq!(
            limits.acquire_write("b/k").unwrap_err().code().as_str(),
            "SlowDown"
        );
        assert!(limits.acquire_write("b/other").unwrap());
        limits.release_write("b/k");
        assert!(limits.acquire_write("b/k").unwrap());
    }

    #[test]
    fn a_burst_past_the_limit_slows_down_and_others_are_unaffected() {
        let limits = RateLimits::new(RateLimitConfig {
            per_ip: Some(3),
            ..Default::default()
        });
        for _ in 0..3 {
            limits.check(Scope::Ip, "10.0.0.1").unwrap();
        }
        let (scope, e) = limits.check(Scope::Ip, "10.0.0.1").unwrap_err();
        assert_eq!(
            (scope, e.code().as_str(), e.status().as_u16()),
            (Scope::Ip, "SlowDown", 503)
        );
        limits.check(Scope::Ip, "10.0.0.2").unwrap();
        limits.check(Scope::Key, "any").unwrap();
    }
}

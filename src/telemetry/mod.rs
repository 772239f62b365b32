//! Logging setup and request ids.

pub mod admin;
pub mod metrics;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (the request line carries every field, the request id included).
    Json,
}

/// Installs the tracing subscriber; `RUST_LOG` overrides the default `info` level.
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour codes only on a terminal: a log file or collector gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Request ids in the shape Ceph RGW (and so Spaces) uses: `tx<21 hex>-<unix time hex>-<instance>`.
/// Unique per process by the counter, across replicas by the random instance id.
#[derive(Debug)]
pub struct RequestIds {
    next: AtomicU64,
    instance: String,
}

impl RequestIds {
    pub fn new() -> Self {
        let mut seed = [0u8; 4];
        // Without OS randomness ids stay unique per process; the instance only tells replicas apart.
        let _ = getrandom::fill(&mut seed);
        RequestIds {
            next: AtomicU64::new(1),
            instance: format!("{:08x}-bucketgate", u32::from_be_bytes(seed)),
        }
    }

    pub fn next(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        // Written digit by digit: one allocation, no formatter (this runs for every request).
        let mut id = String::with_capacity(2 + 21 + 1 + 10 + 1 + self.instance.len());
        id.push_str("tx");
        push_hex(&mut id, u128::from(n), 21);
        id.push('-');
        push_hex(&mut id, u128::from(secs), 10);
        id.push('-');
        id.push_str(&self.instance);
        id
    }
}

/// Appends the low `digits` hex digits of `value`, zero-padded.
fn push_hex(out: &mut String, value: u128, digits: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for i in (0..digits).rev() {
        out.push(HEX[((value >> (4 * i)) & 0xf) as usize] as char);
    }
}

impl Default for RequestIds {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_rgw_shaped() {
        let ids = RequestIds::new();
        let (a, b) = (ids.next(), ids.next());
        assert_ne!(a, b);
        assert!(a.starts_with("tx000000000000000000001-"), "{a}");
        let n: u64 = 0x0012_34ab_cdef;
        let mut hex = String::new();
        push_hex(&mut hex, u128::from(n), 21);
        assert_eq!(hex, format!("{n:021x}"));
        let secs = a.split('-').nth(1).unwrap();
        assert_eq!(secs.len(), 10);
        assert!(u64::from_str_radix(secs, 16).unwrap() > 0x6000_0000);
    }
}

//! The state store's read cache, which a read that raced a write cannot make stale.
//!
//! A read goes to the backend, awaits, then caches what it read. A write of the same record
//! in between (this process claiming a bucket while another request reads its record) would
//! otherwise be overwritten by the older answer, and that answer served for a whole
//! `state_cache_seconds`: a bucket just created would be "no such bucket" here. So every
//! write moves an epoch, and a read caches its answer only if no write happened since it
//! started; it still returns it, as the answer of a read concurrent with the write.

use std::sync::Mutex;
use std::time::Duration;

use moka::sync::Cache;

/// A TTL cache of state documents by key, filled by reads and set by writes.
pub struct ReadCache<V: Clone + Send + Sync + 'static> {
    entries: Cache<String, V>,
    /// Writes so far; held while an entry is filled or set, so a check and its insert are one.
    epoch: Mutex<u64>,
}

impl<V: Clone + Send + Sync + 'static> ReadCache<V> {
    pub fn new(capacity: u64, ttl: Duration) -> Self {
        ReadCache {
            entries: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
            epoch: Mutex::new(0),
        }
    }

    pub fn get(&self, key: &str) -> Option<V> {
        self.entries.get(key)
    }

    /// Taken before a read goes to the backend; given back to [`Self::fill`].
    pub fn epoch(&self) -> u64 {
        *self.lock()
    }

    /// Caches what a read that started at `since` found, unless a write came after it.
    pub fn fill(&self, key: &str, value: V, since: u64) {
        let epoch = self.lock();
        if *epoch == since {
            self.entries.insert(key.to_owned(), value);
        }
    }

    /// What this process just wrote.
    pub fn set(&self, key: &str, value: V) {
        let mut epoch = self.lock();
        *epoch += 1;
        self.entries.insert(key.to_owned(), value);
    }

    /// Forgets `key`: the next read goes to the backend.
    pub fn invalidate(&self, key: &str) {
        let mut epoch = self.lock();
        *epoch += 1;
        self.entries.invalidate(key);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, u64> {
        // A panic while holding it left a counter, which is still a counter.
        self.epoch.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> ReadCache<Option<u32>> {
        ReadCache::new(100, Duration::from_secs(60))
    }

    #[test]
    fn a_read_that_raced_a_write_does_not_replace_it() {
        let c = cache();
        let since = c.epoch();
        // A write lands while the read is at the backend...
        c.set("buckets/b", Some(7));
        // ...and the read, which saw the bucket absent, comes back.
        c.fill("buckets/b", None, since);
        assert_eq!(c.get("buckets/b"), Some(Some(7)));
    }

    #[test]
    fn a_read_with_no_write_since_is_cached() {
        let c = cache();
        let since = c.epoch();
        c.fill("buckets/b", None, since);
        assert_eq!(c.get("buckets/b"), Some(None));
        c.invalidate("buckets/b");
        assert_eq!(c.get("buckets/b"), None);
        // A read begun before the invalidation does not bring the old answer back.
        c.fill("buckets/b", Some(1), since);
        assert_eq!(c.get("buckets/b"), None);
    }
}

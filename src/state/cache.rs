//! The state store's read cache, which a read that raced a write cannot make stale.
//!
//! A read goes to the backend, awaits, then caches what it read. A write of the same record
//! in between (this process claiming a bucket while another request reads its record) would
//! otherwise be overwritten by the older answer, and that answer served for a whole
//! `state_cache_seconds`: a bucket just created would be "no such bucket" here. So every
//! write moves an epoch, and a read caches its answer only if no write happened since it
//! started; it still returns it, as the answer of a read concurrent with the write. Keys
//! share [`SLOTS`] epochs by hash, so writes to one record (which any user can cause) cannot
//! keep the reads of all others from being cached.

use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::Duration;

use moka::sync::Cache;

/// A TTL cache of state documents by key, filled by reads and set by writes.
pub struct ReadCache<V: Clone + Send + Sync + 'static> {
    entries: Cache<String, V>,
    /// Writes so far, per slot of keys; held while an entry is filled or set, so a check and
    /// its insert are one.
    epochs: Mutex<[u64; SLOTS]>,
    slots: RandomState,
}

/// How many epochs the keys share.
const SLOTS: usize = 64;

impl<V: Clone + Send + Sync + 'static> ReadCache<V> {
    pub fn new(capacity: u64, ttl: Duration) -> Self {
        ReadCache {
            entries: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
            epochs: Mutex::new([0; SLOTS]),
            slots: RandomState::new(),
        }
    }

    pub fn get(&self, key: &str) -> Option<V> {
        self.entries.get(key)
    }

    /// Taken before a read of `key` goes to the backend; given back to [`Self::fill`].
    pub fn epoch(&self, key: &str) -> u64 {
        self.lock()[self.slot(key)]
    }

    /// Caches what a read that started at `since` found, unless a write came after it.
    pub fn fill(&self, key: &str, value: V, since: u64) {
        let epochs = self.lock();
        if epochs[self.slot(key)] == since {
            self.entries.insert(key.to_owned(), value);
        }
    }

    /// What this process just wrote.
    pub fn set(&self, key: &str, value: V) {
        let mut epochs = self.lock();
        epochs[self.slot(key)] += 1;
        self.entries.insert(key.to_owned(), value);
    }

    /// Forgets `key`: the next read goes to the backend (also after a write that failed, which
    /// may have landed all the same).
    pub fn invalidate(&self, key: &str) {
        let mut epochs = self.lock();
        epochs[self.slot(key)] += 1;
        self.entries.invalidate(key);
    }

    fn slot(&self, key: &str) -> usize {
        // The hasher's keys are random, so no client can aim its keys at another's slot.
        (self.slots.hash_one(key) % SLOTS as u64) as usize
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, [u64; SLOTS]> {
        // A panic while holding it left counters, which are still counters.
        self.epochs.lock().unwrap_or_else(|p| p.into_inner())
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
        let since = c.epoch("buckets/b");
        // A write lands while the read is at the backend...
        c.set("buckets/b", Some(7));
        // ...and the read, which saw the bucket absent, comes back.
        c.fill("buckets/b", None, since);
        assert_eq!(c.get("buckets/b"), Some(Some(7)));
    }

    #[test]
    fn a_read_with_no_write_since_is_cached() {
        let c = cache();
        let since = c.epoch("buckets/b");
        c.fill("buckets/b", None, since);
        assert_eq!(c.get("buckets/b"), Some(None));
        c.invalidate("buckets/b");
        assert_eq!(c.get("buckets/b"), None);
        // A read begun before the invalidation does not bring the old answer back.
        c.fill("buckets/b", Some(1), since);
        assert_eq!(c.get("buckets/b"), None);
    }

    #[test]
    fn a_write_of_one_key_leaves_other_keys_cacheable() {
        let c = cache();
        // A key in another slot than "buckets/a" (the slots are random per cache).
        let other = (0..)
            .map(|i| format!("buckets/o{i}"))
            .find(|k| c.slot(k) != c.slot("buckets/a"))
            .unwrap();
        let since = c.epoch(&other);
        c.set("buckets/a", Some(1));
        c.fill(&other, Some(2), since);
        assert_eq!(c.get(&other), Some(Some(2)));
    }
}

//! The unique-key index of a table with a `unique_key`: which key values it already holds, for
//! a bounded time (`dedup_horizon`), so its memory and the time to rebuild it at start depend
//! on the horizon and the record rate, never on the table's age.
//!
//! Keys live in time buckets (an eighth of the horizon each) by the time they were written;
//! whole buckets older than the horizon are dropped. A key is recognised as a duplicate for at
//! least the horizon after it was written (and at most one bucket longer).

use std::collections::{BTreeMap, HashMap};

/// Key values a table holds, for at least `horizon_ms` after each was written.
///
/// One hash map from key to its bucket, so a row costs one lookup whatever the number of
/// buckets; the buckets are only counts. When a bucket expires, one pass over the map drops its
/// keys: once per eighth of the horizon, so a fraction of a lookup per row.
#[derive(Debug, Clone)]
pub struct RecentKeys {
    horizon_ms: i64,
    bucket_ms: i64,
    /// Key → start (ms) of the bucket it was written in. foldhash: fast on short keys, seeded
    /// per process (keys come from the stream, so a fixed hash would invite collisions).
    keys: HashMap<Box<str>, i64, foldhash::fast::RandomState>,
    /// Bucket start (ms) → keys written in `[start, start + bucket_ms)`.
    buckets: BTreeMap<i64, usize>,
}

impl RecentKeys {
    pub fn new(horizon_ms: i64) -> RecentKeys {
        let horizon_ms = horizon_ms.max(8);
        RecentKeys { horizon_ms, bucket_ms: horizon_ms / 8, keys: HashMap::default(), buckets: BTreeMap::new() }
    }

    pub fn horizon_ms(&self) -> i64 {
        self.horizon_ms
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn contains(&self, key: &str) -> bool {
        self.keys.contains_key(key)
    }

    /// Adds `key`, written at `at_ms`; `false` when it is already held. Buckets past the
    /// horizon (relative to `at_ms` or the newest bucket, whichever is later) are dropped first.
    pub fn insert(&mut self, key: &str, at_ms: i64) -> bool {
        self.expire(at_ms);
        if self.keys.contains_key(key) {
            return false;
        }
        let start = at_ms.div_euclid(self.bucket_ms) * self.bucket_ms;
        if self.buckets.first_key_value().is_some_and(|(&oldest, _)| start < oldest)
            && self.newest_ms() - at_ms > self.horizon_ms
        {
            // Older than everything kept: it would be dropped at once.
            return true;
        }
        *self.buckets.entry(start).or_default() += 1;
        self.keys.insert(key.into(), start);
        true
    }

    fn newest_ms(&self) -> i64 {
        self.buckets.last_key_value().map_or(i64::MIN, |(&s, _)| s + self.bucket_ms)
    }

    /// Drops the buckets that ended more than the horizon before `now_ms`.
    pub fn expire(&mut self, now_ms: i64) {
        let now = now_ms.max(self.newest_ms());
        let live = |start: i64| start + self.bucket_ms + self.horizon_ms > now;
        if self.buckets.first_key_value().is_none_or(|(&start, _)| live(start)) {
            return;
        }
        self.buckets.retain(|&start, _| live(start));
        self.keys.retain(|_, start| live(*start));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_within_the_horizon_are_found_and_old_keys_are_dropped() {
        let mut keys = RecentKeys::new(80_000);
        assert!(keys.insert("a", 1_000));
        assert!(!keys.insert("a", 50_000), "a duplicate within the horizon");
        for i in 0..1000 {
            assert!(keys.insert(&format!("k{i}"), 60_000 + i));
        }
        assert_eq!(keys.len(), 1001);
        // Long after: everything earlier is gone, so memory is bounded by the horizon.
        assert!(keys.insert("b", 200_000));
        assert_eq!(keys.len(), 1);
        assert!(keys.insert("a", 200_001), "beyond the horizon a key is new again (the documented limit)");
    }

    #[test]
    fn memory_is_bounded_by_the_horizon_not_the_stream_length() {
        let mut keys = RecentKeys::new(10_000);
        let mut most = 0;
        for i in 0..100_000i64 {
            keys.insert(&format!("{i}"), i);
            most = most.max(keys.len());
        }
        assert!(most <= 10_000 + 10_000 / 8 + 1, "held {most}");
    }
}

//! A least-recently-used cache of verified chunks, bounded by the bytes it holds.

use std::collections::{BTreeMap, HashMap};

use crate::ContentHash;

/// Verified chunk bytes by hash. Holding at most `limit` bytes, it drops the least recently
/// used chunks to make room; a chunk larger than the whole limit is not kept.
#[derive(Debug)]
pub struct ChunkCache {
    limit: usize,
    used: usize,
    clock: u64,
    entries: HashMap<ContentHash, (Vec<u8>, u64)>,
    /// Last-use time → chunk; the first entry is the next to evict.
    by_age: BTreeMap<u64, ContentHash>,
}

impl ChunkCache {
    pub fn new(limit: usize) -> ChunkCache {
        ChunkCache {
            limit,
            used: 0,
            clock: 0,
            entries: HashMap::new(),
            by_age: BTreeMap::new(),
        }
    }

    /// The chunk's bytes, marking it as just used.
    pub fn get(&mut self, hash: &ContentHash) -> Option<&[u8]> {
        let (bytes, used_at) = self.entries.get_mut(hash)?;
        self.by_age.remove(used_at);
        self.clock += 1;
        *used_at = self.clock;
        self.by_age.insert(self.clock, *hash);
        Some(bytes)
    }

    /// Whether the chunk is held (without counting it as a use).
    pub fn contains(&self, hash: &ContentHash) -> bool {
        self.entries.contains_key(hash)
    }

    /// Keeps `bytes` as the newest chunk, evicting old ones to stay within the limit.
    pub fn insert(&mut self, hash: ContentHash, bytes: Vec<u8>) {
        if bytes.len() > self.limit {
            return;
        }
        self.remove(&hash);
        while self.used + bytes.len() > self.limit {
            let Some((_, oldest)) = self.by_age.pop_first() else {
                break;
            };
            if let Some((old, _)) = self.entries.remove(&oldest) {
                self.used -= old.len();
            }
        }
        self.clock += 1;
        self.used += bytes.len();
        self.by_age.insert(self.clock, hash);
        self.entries.insert(hash, (bytes, self.clock));
    }

    fn remove(&mut self, hash: &ContentHash) {
        if let Some((old, used_at)) = self.entries.remove(hash) {
            self.used -= old.len();
            self.by_age.remove(&used_at);
        }
    }

    /// Bytes held.
    pub fn used(&self) -> usize {
        self.used
    }

    /// Chunks held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no chunk is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> ContentHash {
        ContentHash([n; 32])
    }

    #[test]
    fn evicts_least_recently_used_within_the_byte_bound() {
        let mut cache = ChunkCache::new(300);
        cache.insert(key(1), vec![1; 100]);
        cache.insert(key(2), vec![2; 100]);
        cache.insert(key(3), vec![3; 100]);
        assert_eq!(cache.used(), 300);
        assert!(cache.get(&key(1)).is_some()); // 2 is now the oldest
        cache.insert(key(4), vec![4; 100]);
        assert!(!cache.contains(&key(2)));
        assert!(cache.contains(&key(1)) && cache.contains(&key(3)) && cache.contains(&key(4)));
        cache.insert(key(5), vec![5; 250]); // room only once all three are gone
        assert!(cache.used() <= 300);
        assert!(cache.contains(&key(5)));
        assert_eq!(cache.len(), 1);
        cache.insert(key(6), vec![6; 301]);
        assert!(!cache.contains(&key(6)));
        assert_eq!(cache.get(&key(5)).unwrap()[0], 5);
    }

    #[test]
    fn reinserting_replaces_without_double_counting() {
        let mut cache = ChunkCache::new(1000);
        cache.insert(key(1), vec![1; 100]);
        cache.insert(key(1), vec![1; 100]);
        assert_eq!(cache.used(), 100);
        assert_eq!(cache.len(), 1);
    }
}

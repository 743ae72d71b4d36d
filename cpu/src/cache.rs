//! The decoded-block cache, keyed by (physical address, code size), with a per-page index so
//! a write to a code page drops every block decoded from it.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;

use crate::ir::Op;

/// A run of decoded instructions at consecutive addresses, ending at a control transfer other
/// than a Jcc, an instruction that changes how later code decodes or runs, a page end or the
/// size cap. A Jcc inside the block leaves it when taken (a side exit, see
/// [`crate::Fault::SIDE_EXIT`]).
pub struct Block {
    /// The ops a run of the whole block executes: one per instruction, except for fused pairs
    /// (see `exec::fused`), one op for two.
    pub ops: Box<[Op]>,
    /// Instructions in the block.
    pub insns: u32,
    /// When the block has fused pairs: one op per instruction, for runs that must stop between
    /// the two of a pair. Empty otherwise (`ops` is that list).
    unfused: Box<[Op]>,
    /// Bytes of guest code the block covers (for the CS limit check on entry).
    pub byte_len: u32,
    /// Times the block was entered (the JIT's hotness counter).
    pub hits: std::cell::Cell<u32>,
    /// The block ends at a near branch, a page end or the size cap, not at an instruction
    /// that changes what the execution loop checks between blocks (HLT, STI, I/O, mode
    /// changes...): when it completes, the next block may follow without those checks.
    pub chains: bool,
    /// An op before the last may write memory or end the block early (see
    /// [`crate::Lowered::pure`]), so the loop checks [`crate::Cpu::end_block`] after each op
    /// instead of only after the last.
    pub checks_each_op: bool,
}

impl Block {
    /// A block running `ops`, whose instructions one op each are `unfused` (the same list when
    /// nothing was fused), covering `byte_len` bytes.
    pub fn new(ops: Vec<Op>, unfused: Vec<Op>, byte_len: u32, chains: bool) -> Self {
        let insns = unfused.len() as u32;
        let unfused = if unfused.len() == ops.len() {
            Box::default()
        } else {
            unfused.into_boxed_slice()
        };
        Self {
            ops: ops.into_boxed_slice(),
            insns,
            unfused,
            byte_len,
            hits: Default::default(),
            chains,
            checks_each_op: false,
        }
    }

    /// The op of instruction `n` on its own (`n` < [`Block::insns`]).
    pub fn unfused(&self, n: usize) -> &Op {
        if self.unfused.is_empty() {
            &self.ops[n]
        } else {
            &self.unfused[n]
        }
    }
}

/// Cache key: physical address of the first byte, plus the code size bit.
pub type BlockKey = u64;

pub fn block_key(phys: u32, code32: bool) -> BlockKey {
    u64::from(phys) | (u64::from(code32) << 32)
}

/// A multiplicative hash for integer keys (the std SipHash is needlessly slow here).
#[derive(Default)]
pub struct IntHasher(u64);

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (n ^ (n >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
}

type IntMap<K, V> = HashMap<K, V, BuildHasherDefault<IntHasher>>;

/// Entries in the lookup cache by linear address.
const FAST_ENTRIES: usize = 4096;

/// A lookup-cache entry: the block last found at a linear address, and the generations of the
/// TLB and of the block cache under which that was true.
#[derive(Clone, Default)]
struct FastEntry {
    /// Linear address in bits 0–31, the [`fast_tag`] above it.
    key: u64,
    /// The TLB generation in bits 32–63, the block cache's generation below it.
    epoch: u64,
    block: Option<Rc<Block>>,
}

/// The decoded-block cache. In front of the map by physical address sits a direct-mapped
/// lookup by linear address, valid while neither the TLB was flushed nor code was invalidated,
/// which saves the translation and the hash on most block entries.
///
/// A block found through the lookup cache stays allocated until the next
/// [`BlockCache::release_dropped`] (which `Cpu::fetch_block` calls): lookup entries are
/// replaced only by [`BlockCache::remember_fast`], [`BlockCache::clear`] keeps the blocks they
/// held in `dropped`, and dropping code from the map leaves the entries (stale) in place. The
/// execution loop relies on this to run chained blocks without reference counting.
pub struct BlockCache {
    blocks: IntMap<BlockKey, Rc<Block>>,
    by_page: IntMap<u32, Vec<BlockKey>>,
    /// A fixed-size array, so that indexing by `lin % FAST_ENTRIES` needs no bounds check.
    fast: Box<[FastEntry; FAST_ENTRIES]>,
    /// Blocks the lookup cache held when it was cleared, kept until `release_dropped`.
    dropped: Vec<Rc<Block>>,
    /// Bumped whenever blocks are dropped, so lookup-cache entries holding them go stale.
    code_generation: u32,
}

impl Default for BlockCache {
    fn default() -> Self {
        Self {
            blocks: IntMap::default(),
            by_page: IntMap::default(),
            fast: vec![FastEntry::default(); FAST_ENTRIES]
                .into_boxed_slice()
                .try_into()
                .unwrap_or_else(|_| unreachable!("the vector has FAST_ENTRIES entries")),
            dropped: Vec::new(),
            code_generation: 0,
        }
    }
}

#[inline(always)]
fn fast_key(lin: u32, tag: u32) -> u64 {
    u64::from(lin) | u64::from(tag) << 32
}

/// The lookup-cache tag: code size and privilege, with a bit so that no tag is zero.
#[inline(always)]
pub fn fast_tag(code32: bool, user: bool) -> u32 {
    4 | code32 as u32 | (user as u32) << 1
}

impl BlockCache {
    /// The block last recorded at linear address `lin` with `tag`, if still valid.
    #[inline(always)]
    pub fn lookup_fast(&self, lin: u32, tag: u32, mmu_generation: u32) -> Option<&Rc<Block>> {
        self.lookup_in_epoch(lin, tag, self.epoch(mmu_generation))
    }

    /// [`BlockCache::lookup_fast`] with the [`BlockCache::epoch`] already computed.
    #[inline(always)]
    pub fn lookup_in_epoch(&self, lin: u32, tag: u32, epoch: u64) -> Option<&Rc<Block>> {
        let entry = &self.fast[lin as usize % FAST_ENTRIES];
        if entry.key == fast_key(lin, tag) && entry.epoch == epoch {
            entry.block.as_ref()
        } else {
            None
        }
    }

    /// Frees the blocks [`BlockCache::clear`] took out of the lookup cache. Not while blocks
    /// found through it may still run (see the type's documentation).
    pub fn release_dropped(&mut self) {
        self.dropped.clear();
    }

    /// Records `block` as the one at linear address `lin` (see the type's documentation for
    /// when this may be called).
    pub fn remember_fast(&mut self, lin: u32, tag: u32, mmu_generation: u32, block: &Rc<Block>) {
        self.fast[lin as usize % FAST_ENTRIES] = FastEntry {
            key: fast_key(lin, tag),
            epoch: self.epoch(mmu_generation),
            block: Some(Rc::clone(block)),
        };
    }

    /// The TLB's and the block cache's generations together: lookup-cache entries recorded in
    /// another epoch are stale.
    #[inline(always)]
    pub fn epoch(&self, mmu_generation: u32) -> u64 {
        u64::from(mmu_generation) << 32 | u64::from(self.code_generation)
    }

    #[inline]
    pub fn get(&self, key: BlockKey) -> Option<&Rc<Block>> {
        self.blocks.get(&key)
    }

    pub fn insert(&mut self, key: BlockKey, block: Rc<Block>) {
        let page = (key as u32) >> 12;
        self.by_page.entry(page).or_default().push(key);
        self.blocks.insert(key, block);
    }

    /// Drops every block decoded from physical page `frame`.
    pub fn invalidate_page(&mut self, frame: u32) {
        if let Some(keys) = self.by_page.remove(&frame) {
            self.code_generation = self.code_generation.wrapping_add(1);
            for key in keys {
                self.blocks.remove(&key);
            }
        }
    }

    pub fn clear(&mut self) {
        self.code_generation = self.code_generation.wrapping_add(1);
        for entry in self.fast.iter_mut() {
            entry.key = 0;
            if let Some(block) = entry.block.take() {
                self.dropped.push(block);
            }
        }
        self.blocks.clear();
        self.by_page.clear();
    }

    pub fn len(&self) -> usize {
        self.blocks.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block of one op with nothing behind it.
    fn block() -> Rc<Block> {
        let op = Op::bare(crate::exec::raise_ud, 1);
        Rc::new(Block::new(vec![op], vec![op], 1, true))
    }

    /// The guarantee the execution loop's chaining relies on: a block found through the
    /// lookup cache stays allocated until `release_dropped`, whatever drops it from the cache.
    #[test]
    fn blocks_found_through_the_lookup_cache_outlive_invalidation_and_clearing() {
        let mut cache = BlockCache::default();
        let tag = fast_tag(true, false);
        let first = block();
        let weak = Rc::downgrade(&first);
        cache.insert(block_key(0x5000, true), Rc::clone(&first));
        cache.remember_fast(0x5000, tag, 0, &first);
        drop(first);
        assert!(cache.lookup_fast(0x5000, tag, 0).is_some());

        // Dropping its page's code makes the entry stale, but it still holds the block.
        cache.invalidate_page(5);
        assert!(cache.lookup_fast(0x5000, tag, 0).is_none());
        assert!(weak.upgrade().is_some(), "freed by invalidate_page");

        let second = block();
        let weak2 = Rc::downgrade(&second);
        cache.insert(block_key(0x6040, true), Rc::clone(&second));
        cache.remember_fast(0x6040, tag, 0, &second);
        drop(second);
        cache.clear();
        assert!(cache.lookup_fast(0x6040, tag, 0).is_none());
        assert!(weak.upgrade().is_some(), "freed by clear");
        assert!(weak2.upgrade().is_some(), "freed by clear");

        cache.release_dropped();
        assert!(weak.upgrade().is_none(), "kept after release_dropped");
        assert!(weak2.upgrade().is_none(), "kept after release_dropped");
    }
}

//! A direct-mapped software TLB. Each entry holds one tag per access kind, so a permission check
//! is a tag compare: a tag is the virtual page number when that kind of access may use the
//! entry without a page walk, and [`NO_TAG`] otherwise.

/// Entries in the TLB (a power of two).
pub(crate) const TLB_ENTRIES: usize = 4096;
/// A tag that matches no virtual page number (those have 20 bits).
pub(crate) const NO_TAG: u32 = u32::MAX;
/// `store_off` of a page not backed by the store (MMIO or unmapped): always the slow path.
pub(crate) const NO_STORE: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
pub(crate) struct TlbEntry {
    /// Indexed by [`crate::Access::index`].
    pub tags: [u32; 4],
    /// Physical page frame number.
    pub frame: u32,
    /// Offset of the page in the physical store, or [`NO_STORE`].
    pub store_off: u32,
    pub global: bool,
}

impl TlbEntry {
    const EMPTY: Self = Self {
        tags: [NO_TAG; 4],
        frame: 0,
        store_off: NO_STORE,
        global: false,
    };
}

pub(crate) struct Tlb {
    pub entries: Box<[TlbEntry]>,
}

impl Tlb {
    pub fn new() -> Self {
        Self {
            entries: vec![TlbEntry::EMPTY; TLB_ENTRIES].into_boxed_slice(),
        }
    }

    #[inline(always)]
    pub fn slot(vpn: u32) -> usize {
        vpn as usize & (TLB_ENTRIES - 1)
    }

    pub fn flush_all(&mut self) {
        self.entries.fill(TlbEntry::EMPTY);
    }

    pub fn flush_non_global(&mut self) {
        for entry in self.entries.iter_mut().filter(|e| !e.global) {
            *entry = TlbEntry::EMPTY;
        }
    }

    pub fn flush_page(&mut self, vpn: u32) {
        let entry = &mut self.entries[Self::slot(vpn)];
        if entry.tags.contains(&vpn) {
            *entry = TlbEntry::EMPTY;
        }
    }

    /// Drops write permission from every entry mapping `frame`, so writes take the slow path
    /// that notices self-modifying code.
    pub fn revoke_writes_to(&mut self, frame: u32) {
        for entry in self.entries.iter_mut().filter(|e| e.frame == frame) {
            entry.tags[1] = NO_TAG;
            entry.tags[3] = NO_TAG;
        }
    }
}

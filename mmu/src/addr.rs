//! Address newtypes: a guest address is never a host `usize`.

/// A 32-bit guest physical address (after paging and the A20 gate).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PhysAddr(pub u32);

/// A 32-bit guest linear address (segment base + offset, before paging).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct LinAddr(pub u32);

impl PhysAddr {
    /// The 4 KiB page frame number.
    pub const fn page(self) -> u32 {
        self.0 >> 12
    }
}

impl LinAddr {
    /// The 4 KiB virtual page number.
    pub const fn page(self) -> u32 {
        self.0 >> 12
    }
}

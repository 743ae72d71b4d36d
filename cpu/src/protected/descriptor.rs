//! Segment and gate descriptors (SDM vol. 3A §3.4.5, §5.8.3, §6.11) and fetching them from the
//! GDT or LDT with the table-limit check (§3.4.2).

use crate::fault::Fault;
use crate::state::{attr, Segment};
use crate::Cpu;

/// System descriptor types (S = 0), SDM vol. 3A table 3-2.
pub mod system {
    pub const TSS16_AVAILABLE: u32 = 1;
    pub const LDT: u32 = 2;
    pub const TSS16_BUSY: u32 = 3;
    pub const CALL_GATE16: u32 = 4;
    pub const TASK_GATE: u32 = 5;
    pub const INT_GATE16: u32 = 6;
    pub const TRAP_GATE16: u32 = 7;
    pub const TSS32_AVAILABLE: u32 = 9;
    pub const TSS32_BUSY: u32 = 11;
    pub const CALL_GATE32: u32 = 12;
    pub const INT_GATE32: u32 = 14;
    pub const TRAP_GATE32: u32 = 15;
    /// The busy bit within a TSS descriptor's type.
    pub const TSS_BUSY_BIT: u32 = 2;
}

/// An 8-byte descriptor as two little-endian dwords.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Descriptor {
    pub low: u32,
    pub high: u32,
}

impl Descriptor {
    pub fn base(&self) -> u32 {
        (self.low >> 16) | ((self.high & 0xFF) << 16) | (self.high & 0xFF00_0000)
    }
    /// The limit in bytes, granularity applied.
    pub fn limit(&self) -> u32 {
        let raw = (self.low & 0xFFFF) | (self.high & 0xF_0000);
        if self.high & attr::G != 0 {
            (raw << 12) | 0xFFF
        } else {
            raw
        }
    }
    /// Type, S, DPL, P, AVL, D/B and G in their [`Segment::attrs`] positions.
    pub fn attrs(&self) -> u32 {
        self.high & 0x00F0_FF00
    }
    /// The 4-bit type field.
    pub fn kind(&self) -> u32 {
        (self.high >> 8) & 0xF
    }
    /// S set: a code or data segment rather than a system descriptor.
    pub fn is_segment(&self) -> bool {
        self.high & attr::S != 0
    }
    pub fn is_system(&self) -> bool {
        !self.is_segment()
    }
    pub fn is_code(&self) -> bool {
        self.is_segment() && self.high & attr::CODE != 0
    }
    pub fn is_data(&self) -> bool {
        self.is_segment() && self.high & attr::CODE == 0
    }
    pub fn conforming(&self) -> bool {
        self.is_code() && self.high & attr::DC != 0
    }
    /// Readable code or any data segment.
    pub fn readable(&self) -> bool {
        self.is_data() || (self.is_code() && self.high & attr::RW != 0)
    }
    pub fn writable_data(&self) -> bool {
        self.is_data() && self.high & attr::RW != 0
    }
    pub fn dpl(&self) -> u32 {
        (self.high >> attr::DPL_SHIFT) & 3
    }
    pub fn present(&self) -> bool {
        self.high & attr::P != 0
    }
    /// A system descriptor of type `kind`.
    pub fn is_system_kind(&self, kind: u32) -> bool {
        self.is_system() && self.kind() == kind
    }
    /// A 32-bit TSS (types 9 and 11) rather than a 16-bit one.
    pub fn is_tss32(&self) -> bool {
        self.kind() & 8 != 0
    }

    /// Gate descriptors: the target selector.
    pub fn gate_selector(&self) -> u16 {
        (self.low >> 16) as u16
    }
    /// Gate descriptors: the target offset. A 16-bit (286) gate has only the low word; the high
    /// word is ignored (test386 POST 20 leaves 0xFFFF there).
    pub fn gate_offset(&self) -> u32 {
        if self.gate32() {
            (self.low & 0xFFFF) | (self.high & 0xFFFF_0000)
        } else {
            self.low & 0xFFFF
        }
    }
    /// Gate descriptors: a 32-bit gate (type bit 3).
    pub fn gate32(&self) -> bool {
        self.kind() & 8 != 0
    }
    /// Call gates: how many stack parameters to copy.
    pub fn gate_param_count(&self) -> u32 {
        self.high & 0x1F
    }

    /// The hidden part a segment register caches for this descriptor.
    pub fn to_segment(self, selector: u16) -> Segment {
        let mut seg = Segment {
            selector: u32::from(selector),
            base: self.base(),
            limit: self.limit(),
            attrs: self.attrs(),
            ..Segment::default()
        };
        seg.refresh_checks(true);
        seg
    }
}

/// The hidden part of a segment register loaded with a null selector in protected mode: every
/// access through it faults.
pub fn null_segment(selector: u16) -> Segment {
    let mut seg = Segment {
        selector: u32::from(selector),
        ..Segment::default()
    };
    seg.refresh_checks(false);
    seg
}

/// Selector fields (SDM vol. 3A §3.4.2).
pub fn is_null(selector: u16) -> bool {
    selector & 0xFFFC == 0
}
pub fn rpl(selector: u16) -> u32 {
    u32::from(selector & 3)
}
/// Table indicator: the selector indexes the LDT.
pub fn in_ldt(selector: u16) -> bool {
    selector & 4 != 0
}

impl Cpu {
    /// The linear address of `selector`'s descriptor, or `None` when it lies beyond the GDT or
    /// LDT limit (or the LDT is unusable).
    pub(crate) fn descriptor_address(&self, selector: u16) -> Option<u32> {
        let offset = u32::from(selector & 0xFFF8);
        let (base, limit) = if in_ldt(selector) {
            let ldtr = &self.state.ldtr;
            if is_null(ldtr.selector as u16) || !ldtr.present() {
                return None;
            }
            (ldtr.base, ldtr.limit)
        } else {
            (self.state.gdtr.base, self.state.gdtr.limit)
        };
        if offset + 7 > limit {
            return None;
        }
        Some(base.wrapping_add(offset))
    }

    /// Reads the descriptor at a linear address (supervisor access: paging faults are #PF).
    pub(crate) fn read_descriptor_at(&mut self, addr: u32) -> Result<Descriptor, Fault> {
        let low = self.read_sys::<4>(addr)?;
        let high = self.read_sys::<4>(addr.wrapping_add(4))?;
        Ok(Descriptor { low, high })
    }

    /// Fetches `selector`'s descriptor and its address; `beyond` is the fault when the selector
    /// is outside its table.
    pub(crate) fn fetch_descriptor(
        &mut self,
        selector: u16,
        beyond: Fault,
    ) -> Result<(u32, Descriptor), Fault> {
        let addr = self.descriptor_address(selector).ok_or(beyond)?;
        Ok((addr, self.read_descriptor_at(addr)?))
    }

    /// Sets the accessed bit of a code or data descriptor in memory (SDM vol. 3A §3.4.5.1).
    pub(crate) fn mark_accessed(&mut self, addr: u32, desc: &mut Descriptor) -> Result<(), Fault> {
        if desc.high & attr::ACCESSED == 0 {
            desc.high |= attr::ACCESSED;
            self.write_sys::<1>(addr.wrapping_add(5), desc.high >> 8)?;
        }
        Ok(())
    }

    /// Sets or clears the busy bit of the TSS descriptor at `addr`.
    pub(crate) fn set_tss_busy(&mut self, addr: u32, busy: bool) -> Result<(), Fault> {
        let byte = self.read_sys::<1>(addr.wrapping_add(5))?;
        let bit = system::TSS_BUSY_BIT;
        let byte = if busy { byte | bit } else { byte & !bit };
        self.write_sys::<1>(addr.wrapping_add(5), byte)
    }
}

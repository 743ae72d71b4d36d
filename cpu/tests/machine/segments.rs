//! Segment caches and descriptors, built by the test as a descriptor load would leave them.

use webx86_cpu::state::{attr, cr0, flag, sreg, CpuState, Segment};

/// A flat segment: base 0, 4 GiB, 32-bit, DPL `dpl`; `code` makes it readable code.
pub fn flat_segment(selector: u32, code: bool, dpl: u32) -> Segment {
    let mut s = Segment {
        selector,
        base: 0,
        limit: u32::MAX,
        attrs: attr::P
            | attr::S
            | attr::RW
            | attr::ACCESSED
            | attr::DB
            | attr::G
            | (dpl << attr::DPL_SHIFT)
            | if code { attr::CODE } else { 0 },
        ..Segment::default()
    };
    s.refresh_checks(true);
    s
}

/// A data segment with the given base, limit and D/B bit (expand-up, writable, DPL 0).
pub fn data_segment(selector: u32, base: u32, limit: u32, big: bool) -> Segment {
    let mut s = Segment {
        selector,
        base,
        limit,
        attrs: attr::P | attr::S | attr::RW | attr::ACCESSED | if big { attr::DB } else { 0 },
        ..Segment::default()
    };
    s.refresh_checks(true);
    s
}

/// The reset state moved to flat 32-bit protected mode at CPL 0 (code selector 0x08, data
/// 0x10, no descriptor tables), paging off, at `eip`.
pub fn flat32_state(eip: u32) -> CpuState {
    let mut s = CpuState::reset();
    s.cr0 |= cr0::PE;
    for (n, seg) in s.segs.iter_mut().enumerate() {
        *seg = if n == sreg::CS as usize {
            flat_segment(0x08, true, 0)
        } else {
            flat_segment(0x10, false, 0)
        };
    }
    s.cpl = 0;
    s.eip = eip;
    s.eflags = flag::FIXED;
    s
}

/// A segment descriptor (SDM vol. 3A §3.4.5): `limit` is the raw 20-bit field, `access` the
/// P/DPL/S/type byte, `flags` the G/D/L/AVL nibble.
pub fn descriptor(base: u32, limit: u32, access: u8, flags: u8) -> u64 {
    let (base, limit) = (u64::from(base), u64::from(limit));
    (limit & 0xFFFF)
        | (base & 0xFF_FFFF) << 16
        | u64::from(access) << 40
        | (limit >> 16 & 0xF) << 48
        | u64::from(flags & 0xF) << 52
        | (base >> 24) << 56
}

/// A gate descriptor (call, interrupt, trap or task gate; SDM vol. 3A §5.8.3, §6.11): `access`
/// is P/DPL/type, `params` the call-gate parameter count.
pub fn gate(selector: u16, offset: u32, access: u8, params: u8) -> u64 {
    let offset = u64::from(offset);
    (offset & 0xFFFF)
        | u64::from(selector) << 16
        | u64::from(params & 0x1F) << 32
        | u64::from(access) << 40
        | (offset >> 16) << 48
}

/// The hidden part a segment register holds after loading `selector` with descriptor `desc`.
pub fn cache_of(selector: u16, desc: u64) -> Segment {
    let high = (desc >> 32) as u32;
    let raw_limit = (desc & 0xFFFF) as u32 | (high & 0xF_0000);
    let limit = if high & attr::G != 0 {
        raw_limit << 12 | 0xFFF
    } else {
        raw_limit
    };
    let mut seg = Segment {
        selector: u32::from(selector),
        base: ((desc >> 16) & 0xFF_FFFF) as u32 | (high & 0xFF00_0000),
        limit,
        attrs: high & 0x00F0_FF00,
        ..Segment::default()
    };
    seg.refresh_checks(selector & !3 != 0);
    seg
}

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

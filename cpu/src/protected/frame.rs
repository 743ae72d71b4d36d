//! Building stack frames for far calls, interrupts and task switches, possibly on a stack that
//! is not loaded yet (the inner stack of a privilege change). Nothing is committed to registers
//! until every push has succeeded, so a fault leaves the CPU state as it was.

use super::descriptor::{is_null, rpl};
use crate::fault::{Exec, Fault};
use crate::state::{perm, reg, sreg, Segment};
use crate::Cpu;

/// Pushes onto the stack `seg` at `esp` without touching SS:ESP.
pub(crate) struct StackWriter {
    pub seg: Segment,
    /// The full ESP; only its low word moves on a 16-bit stack.
    pub esp: u32,
    /// Supervisor or user access for paging.
    user: bool,
    /// The fault for a push beyond the segment's limits.
    limit_fault: Fault,
}

impl StackWriter {
    /// The current stack, as the current privilege level sees it; limit faults are #SS(0).
    pub fn current(cpu: &Cpu) -> Self {
        Self {
            seg: cpu.state.segs[sreg::SS as usize],
            esp: cpu.state.regs[reg::ESP as usize],
            user: cpu.state.user(),
            limit_fault: Fault::ss(0),
        }
    }

    /// A stack about to be loaded for privilege level `cpl`.
    pub fn new(seg: Segment, esp: u32, cpl: u32, limit_fault: Fault) -> Self {
        Self {
            seg,
            esp,
            user: cpl == 3,
            limit_fault,
        }
    }

    /// Pushes a word or a dword.
    pub fn push(&mut self, cpu: &mut Cpu, dword: bool, value: u32) -> Exec {
        let size = if dword { 4 } else { 2 };
        let big = self.seg.big();
        let sp = if big { self.esp } else { self.esp & 0xFFFF };
        let sp = sp.wrapping_sub(size);
        let sp = if big { sp } else { sp & 0xFFFF };
        let s = &self.seg;
        let last = u64::from(sp) + u64::from(size) - 1;
        if s.perms & perm::WRITE == 0 || sp < s.valid_lo || last > u64::from(s.valid_hi) {
            return Err(self.limit_fault);
        }
        let lin = s.base.wrapping_add(sp);
        let result = if dword {
            cpu.mmu.write::<4>(lin, value, self.user)
        } else {
            cpu.mmu.write::<2>(lin, value, self.user)
        };
        result.map_err(|pf| cpu.page_fault(pf))?;
        self.esp = if big {
            sp
        } else {
            (self.esp & 0xFFFF_0000) | sp
        };
        Ok(())
    }

    /// Changes the fault raised for a push beyond the segment's limits.
    pub fn set_limit_fault(&mut self, fault: Fault) {
        self.limit_fault = fault;
    }

    /// Makes this stack pointer ESP (the caller loads SS when the stack is a new one).
    pub fn commit(&self, cpu: &mut Cpu) {
        cpu.state.regs[reg::ESP as usize] = self.esp;
    }
}

impl Cpu {
    /// Reads a word or dword `depth` bytes above the top of the current stack.
    pub(crate) fn peek_sized(&mut self, dword: bool, depth: u32) -> Result<u32, Fault> {
        if dword {
            self.peek::<4>(depth)
        } else {
            self.peek::<2>(depth)
        }
    }

    /// SS:ESP for privilege level `dpl` from the current TSS (SDM vol. 3A §5.8.5, §7.2.1).
    /// `ext` is the EXT bit of error codes.
    pub(crate) fn tss_stack(&mut self, dpl: u32, ext: u32) -> Result<(u16, u32), Fault> {
        let tr = self.state.tr;
        let tss32 = tr.attrs & (8 << 8) != 0;
        let (offset, last) = if tss32 {
            (4 + dpl * 8, 4 + dpl * 8 + 5)
        } else {
            (2 + dpl * 4, 2 + dpl * 4 + 3)
        };
        if last > tr.limit {
            return Err(Fault::ts((tr.selector & 0xFFFC) | ext));
        }
        let at = tr.base.wrapping_add(offset);
        if tss32 {
            let esp = self.read_sys::<4>(at)?;
            let ss = self.read_sys::<2>(at.wrapping_add(4))?;
            Ok((ss as u16, esp))
        } else {
            let sp = self.read_sys::<2>(at)?;
            let ss = self.read_sys::<2>(at.wrapping_add(2))?;
            Ok((ss as u16, sp))
        }
    }

    /// Validates the stack segment for a change to the inner privilege level `dpl` (SDM vol. 2
    /// CALL and INT, "identify stack-segment selector for new privilege level").
    pub(crate) fn check_inner_ss(
        &mut self,
        selector: u16,
        dpl: u32,
        ext: u32,
    ) -> Result<Segment, Fault> {
        let code = u32::from(selector & 0xFFFC) | ext;
        if is_null(selector) {
            return Err(Fault::ts(ext));
        }
        let (addr, mut desc) = self.fetch_descriptor(selector, Fault::ts(code))?;
        if rpl(selector) != dpl || desc.dpl() != dpl || !desc.writable_data() {
            return Err(Fault::ts(code));
        }
        if !desc.present() {
            return Err(Fault::ss(code));
        }
        self.mark_accessed(addr, &mut desc)?;
        Ok(desc.to_segment(selector))
    }

    /// Replaces the EFLAGS bits in `mask` with those of `value` (bit 1 stays set).
    pub(crate) fn replace_eflags(&mut self, value: u32, mask: u32) {
        self.state.materialize_flags();
        self.state.eflags =
            (self.state.eflags & !mask) | (value & mask) | crate::state::flag::FIXED;
        self.end_block = true;
    }

    /// Whether the current TSS is a 32-bit one.
    pub(crate) fn tss32(&self) -> bool {
        self.state.tr.attrs & (8 << 8) != 0
    }
}

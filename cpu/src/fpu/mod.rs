//! The x87 floating-point unit of the P6: register stack, status and control words, tags,
//! exception signaling (SDM vol. 1 ch. 8) and the values it computes on.
//!
//! The instruction handlers live in `exec/x87.rs`; this module holds what they share: the
//! stack discipline with its overflow/underflow responses (§8.5.1.1), writing results with
//! the masked and unmasked responses to exceptions (§8.7), and the checks every x87
//! instruction starts with (#NM for CR0.EM/TS, pending unmasked exceptions → #MF or FERR#).

pub mod arith;
pub mod compare;
pub mod control;
pub mod fit;
pub mod float80;
pub mod load_store;
pub mod transcendental;
pub mod wide;

pub use float80::exc;

use float80::{Class, Rounded, F80};

use crate::fault::{vector, Fault};
use crate::ir::Op;
use crate::state::{cr0, sreg, FpuState};
use crate::Cpu;

/// Status word bits besides the exception flags.
pub mod sw {
    pub const SF: u16 = 1 << 6;
    /// Error summary: some unmasked exception flag is set.
    pub const ES: u16 = 1 << 7;
    pub const C0: u16 = 1 << 8;
    pub const C1: u16 = 1 << 9;
    pub const C2: u16 = 1 << 10;
    pub const TOP_SHIFT: u16 = 11;
    pub const TOP: u16 = 7 << TOP_SHIFT;
    pub const C3: u16 = 1 << 14;
    /// Busy: mirrors ES on the 80387 and later.
    pub const B: u16 = 1 << 15;
    pub const CC: u16 = C0 | C1 | C2 | C3;
}

/// Two-bit tag values.
pub mod tag {
    pub const VALID: u16 = 0;
    pub const ZERO: u16 = 1;
    pub const SPECIAL: u16 = 2;
    pub const EMPTY: u16 = 3;
}

/// The control word after FNINIT: everything masked, 64-bit precision, round to nearest.
pub const CONTROL_INIT: u16 = 0x037F;

/// The tag a value gets when written to a register.
pub fn tag_for(v: F80) -> u16 {
    match v.class() {
        Class::Zero => tag::ZERO,
        Class::Normal => tag::VALID,
        _ => tag::SPECIAL,
    }
}

/// The abridged tag byte of FXSAVE (one bit per physical register: 1 = not empty), from the
/// full tag word. For the FXSAVE/FXRSTOR implementation.
pub fn abridged_tag(full: u16) -> u8 {
    (0..8).fold(0u8, |acc, r| {
        let empty = (full >> (2 * r)) & 3 == tag::EMPTY;
        acc | ((!empty as u8) << r)
    })
}

/// The full tag word FXRSTOR reconstructs from an abridged tag byte and the register contents
/// (SDM vol. 2 FXRSTOR / vol. 1 §10.5.1.1: non-empty tags are recomputed from the values).
pub fn full_tag(fpu: &FpuState, abridged: u8) -> u16 {
    (0..8).fold(0u16, |acc, r| {
        let t = if abridged & (1 << r) == 0 {
            tag::EMPTY
        } else {
            tag_for(fpu.reg(r))
        };
        acc | (t << (2 * r))
    })
}

impl FpuState {
    pub fn top(&self) -> usize {
        usize::from((self.status & sw::TOP) >> sw::TOP_SHIFT)
    }
    pub fn set_top(&mut self, top: usize) {
        self.status = (self.status & !sw::TOP) | (((top & 7) as u16) << sw::TOP_SHIFT);
    }
    /// Physical register number of ST(i).
    pub fn phys(&self, i: u8) -> usize {
        (self.top() + usize::from(i)) & 7
    }
    /// The value of physical register `r`.
    pub fn reg(&self, r: usize) -> F80 {
        F80 {
            sig: self.mantissa[r & 7],
            se: self.sign_exp[r & 7],
        }
    }
    pub fn tag_of(&self, r: usize) -> u16 {
        (self.tag >> (2 * (r & 7))) & 3
    }
    pub fn set_tag(&mut self, r: usize, t: u16) {
        let shift = 2 * (r & 7);
        self.tag = (self.tag & !(3 << shift)) | (t << shift);
    }
    pub fn empty(&self, i: u8) -> bool {
        self.tag_of(self.phys(i)) == tag::EMPTY
    }
    pub fn st(&self, i: u8) -> F80 {
        self.reg(self.phys(i))
    }
    /// Writes physical register `r` and tags it by its contents.
    pub fn set_reg(&mut self, r: usize, v: F80) {
        self.mantissa[r & 7] = v.sig;
        self.sign_exp[r & 7] = v.se;
        self.set_tag(r, tag_for(v));
    }
    pub fn set_st(&mut self, i: u8, v: F80) {
        self.set_reg(self.phys(i), v);
    }
    /// Pushes without checking for overflow.
    pub fn push(&mut self, v: F80) {
        let top = self.top().wrapping_sub(1) & 7;
        self.set_top(top);
        self.set_reg(top, v);
    }
    /// Marks ST(0) empty and increments TOP.
    pub fn pop(&mut self) {
        let top = self.top();
        self.set_tag(top, tag::EMPTY);
        self.set_top(top + 1);
    }
    fn masked(&self, flags: u16) -> bool {
        self.control & flags == flags
    }
    /// Sets exception flags (and SF) and the error summary when any set flag is unmasked.
    pub fn raise(&mut self, flags: u16) {
        self.status |= flags & (exc::ALL | sw::SF);
        self.update_summary();
    }
    /// Recomputes ES and B from the flags and masks (after FLDCW, FLDENV, FRSTOR too).
    pub fn update_summary(&mut self) {
        if self.status & !self.control & exc::ALL != 0 {
            self.status |= sw::ES | sw::B;
        } else {
            self.status &= !(sw::ES | sw::B);
        }
    }
    pub fn set_cc(&mut self, mask: u16, value: u16) {
        self.status = (self.status & !mask) | (value & mask);
    }
    pub fn set_c1(&mut self, on: bool) {
        self.set_cc(sw::C1, if on { sw::C1 } else { 0 });
    }
    /// Whether an instruction with these exception flags is suppressed: an unmasked invalid
    /// operation, denormal operand or zero divide leaves the destination and stack alone.
    pub fn suppressed(&self, flags: u16) -> bool {
        flags & !self.control & (exc::IE | exc::DE | exc::ZE) != 0
    }

    /// Stack underflow: a source register was empty (IE + SF, C1 cleared). With IE masked the
    /// indefinite is written to ST(`dest`) (if any) and the caller proceeds with its pops;
    /// returns whether it may.
    pub fn underflow(&mut self, dest: Option<u8>) -> bool {
        self.set_c1(false);
        self.raise(exc::IE | sw::SF);
        if !self.masked(exc::IE) {
            return false;
        }
        if let Some(d) = dest {
            self.set_st(d, F80::INDEFINITE);
        }
        true
    }

    /// Pushes `v`, or responds to stack overflow when the register below ST(0) is in use
    /// (IE + SF, C1 set; the indefinite is pushed when IE is masked).
    pub fn push_checked(&mut self, v: F80) -> bool {
        if self.tag_of(self.phys(7)) != tag::EMPTY {
            self.set_c1(true);
            self.raise(exc::IE | sw::SF);
            if self.masked(exc::IE) {
                self.push(F80::INDEFINITE);
            }
            return false;
        }
        self.push(v);
        true
    }

    /// Delivers a computed result to ST(`dest`) with its flags: suppressed by an unmasked
    /// IE/DE/ZE, otherwise written (already biased for unmasked overflow/underflow), C1 set
    /// to the rounding direction, and the stack popped when `pop`. Returns whether it was
    /// written.
    pub fn deliver(&mut self, dest: u8, result: Rounded, pop: bool) -> bool {
        if self.suppressed(result.flags) {
            self.set_c1(false);
            self.raise(result.flags & (exc::IE | exc::DE | exc::ZE));
            return false;
        }
        self.set_st(dest, result.f80());
        self.set_c1(result.up);
        self.raise(result.flags);
        if pop {
            self.pop();
        }
        true
    }

    /// FNINIT: control 0x037F, status and tags cleared/emptied, pointers zeroed.
    pub fn init(&mut self) {
        self.control = CONTROL_INIT;
        self.status = 0;
        self.tag = 0xFFFF;
        self.opcode = 0;
        self.fip = 0;
        self.fcs = 0;
        self.fdp = 0;
        self.fds = 0;
    }
}

impl Cpu {
    /// The checks before any x87 instruction (SDM vol. 3A §2.5 table 2-2, §6.15 #NM/#MF):
    /// CR0.EM or CR0.TS → #NM; then, for a waiting instruction, a pending unmasked exception
    /// (ES) → #MF when CR0.NE is set, or FERR# (the platform's [`crate::Platform::fpu_error`],
    /// IRQ 13 on a PC) when it is clear, after which the instruction proceeds as with IGNNE#.
    #[inline(always)]
    pub(crate) fn fpu_enter(&mut self, waiting: bool) -> Result<(), Fault> {
        if self.state.cr0 & (cr0::EM | cr0::TS) != 0 {
            return Err(Fault::new(vector::NM));
        }
        if waiting && self.state.fpu.status & sw::ES != 0 {
            return self.fpu_pending();
        }
        Ok(())
    }

    /// WAIT/FWAIT: #NM only when both CR0.TS and CR0.MP are set; then pending exceptions.
    pub(crate) fn fpu_wait(&mut self) -> Result<(), Fault> {
        if self.state.cr0 & (cr0::TS | cr0::MP) == cr0::TS | cr0::MP {
            return Err(Fault::new(vector::NM));
        }
        if self.state.fpu.status & sw::ES != 0 {
            return self.fpu_pending();
        }
        Ok(())
    }

    #[cold]
    fn fpu_pending(&mut self) -> Result<(), Fault> {
        if self.state.cr0 & cr0::NE != 0 {
            return Err(Fault::new(vector::MF));
        }
        self.platform.fpu_error();
        Ok(())
    }

    /// Records the instruction and data pointers and the opcode of a non-control instruction
    /// (SDM vol. 1 §8.1.8–9). `op.imm2` holds the 11-bit opcode; the data pointer is only
    /// updated by instructions with a memory operand.
    #[inline(always)]
    pub(crate) fn fpu_note(&mut self, op: &Op, mem: Option<u32>) {
        let s = &mut self.state;
        s.fpu.fip = s.eip.wrapping_sub(u32::from(op.len));
        s.fpu.fcs = s.segs[sreg::CS as usize].selector as u16;
        s.fpu.opcode = op.imm2 as u16;
        if let Some(offset) = mem {
            s.fpu.fdp = offset;
            s.fpu.fds = s.segs[usize::from(op.seg & 7)].selector as u16;
        }
    }

    /// Reads `N` bytes at `seg:offset` (the whole range checked against the segment first).
    pub(crate) fn fpu_read<const N: usize>(
        &mut self,
        seg: u8,
        offset: u32,
    ) -> Result<[u8; N], Fault> {
        let lin = self.seg_check(seg, offset, N as u32, false)?;
        let mut out = [0u8; N];
        let mut k = 0;
        while k + 4 <= N {
            let v = self.read_lin::<4>(lin.wrapping_add(k as u32))?;
            out[k..k + 4].copy_from_slice(&v.to_le_bytes());
            k += 4;
        }
        if k + 2 <= N {
            let v = self.read_lin::<2>(lin.wrapping_add(k as u32))?;
            out[k..k + 2].copy_from_slice(&(v as u16).to_le_bytes());
        }
        Ok(out)
    }

    /// Writes `N` bytes at `seg:offset`, all or nothing: segment and pages are checked for
    /// the whole range before the first byte is written.
    pub(crate) fn fpu_write<const N: usize>(
        &mut self,
        seg: u8,
        offset: u32,
        bytes: &[u8; N],
    ) -> Result<(), Fault> {
        let lin = self.seg_check(seg, offset, N as u32, true)?;
        let user = self.state.user();
        self.mmu
            .probe_write(lin, N as u32, user)
            .map_err(|pf| self.page_fault(pf))?;
        let mut k = 0;
        while k + 4 <= N {
            let v = u32::from_le_bytes([bytes[k], bytes[k + 1], bytes[k + 2], bytes[k + 3]]);
            self.write_lin::<4>(lin.wrapping_add(k as u32), v)?;
            k += 4;
        }
        if k + 2 <= N {
            let v = u16::from_le_bytes([bytes[k], bytes[k + 1]]);
            self.write_lin::<2>(lin.wrapping_add(k as u32), u32::from(v))?;
        }
        Ok(())
    }
}

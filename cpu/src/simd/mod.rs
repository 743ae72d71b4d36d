//! MMX, SSE and SSE2: the register files' access rules, the availability checks every SIMD
//! instruction starts with, 64- and 128-bit memory operands, and MXCSR exception reporting.
//! The arithmetic lives in the submodules; `exec/mmx.rs` and `exec/sse*.rs` lower
//! instructions onto it.
//!
//! MMX register *i* is the significand of x87 register R*i* (`state.fpu.mantissa[i]`, SDM vol. 3A
//! §12.2); XMM registers and MXCSR are `state.sse`.

pub mod approx_tables;
pub mod convert;
mod fast_path;
pub mod float;
pub mod fxsave;
pub mod int;
pub mod softfloat;

use webx86_mmu::{Access, LinAddr};

use crate::fault::{vector, Exec, Fault};
use crate::ir::Op;
use crate::state::{cr0, cr4};
use crate::Cpu;

/// A 128-bit XMM value as two little-endian quadwords; MMX values use element 0 only.
pub type Vec128 = [u64; 2];

/// MXCSR bits (SDM vol. 1 §10.2.3).
pub mod mxcsr {
    /// Invalid operation, denormal operand, divide by zero, overflow, underflow, precision.
    pub const IE: u32 = 1 << 0;
    pub const DE: u32 = 1 << 1;
    pub const ZE: u32 = 1 << 2;
    pub const OE: u32 = 1 << 3;
    pub const UE: u32 = 1 << 4;
    pub const PE: u32 = 1 << 5;
    /// All six exception flags.
    pub const FLAGS: u32 = 0x3F;
    /// Exceptions detected before computing (SDM vol. 1 §11.5.1): reported without the
    /// post-computation ones when one of them is unmasked.
    pub const PRE: u32 = IE | DE | ZE;
    /// Denormals are zeros.
    pub const DAZ: u32 = 1 << 6;
    /// The mask bit of exception flag `f` is `f << MASK_SHIFT`.
    pub const MASK_SHIFT: u32 = 7;
    pub const RC_SHIFT: u32 = 13;
    /// Flush to zero.
    pub const FTZ: u32 = 1 << 15;
    /// The bits LDMXCSR and FXRSTOR accept; FXSAVE stores it as MXCSR_MASK. DAZ is supported
    /// (as on the Pentium 4 and Pentium M), so all sixteen low bits are writable.
    pub const WRITABLE: u32 = 0xFFFF;
    /// The value after RESET and FNINIT-independent default: all exceptions masked, round to
    /// nearest.
    pub const DEFAULT: u32 = 0x1F80;
}

/// FSW bits the MMX transition touches.
const FSW_TOP: u16 = 7 << 11;
/// FSW.ES: an unmasked x87 exception is pending.
const FSW_ES: u16 = 1 << 7;

impl Cpu {
    /// Checks for MMX instructions and the MMX-register forms of SSE/SSE2 integer instructions
    /// (SDM vol. 3A table 12-1, vol. 3B table 22-8): CR0.EM → #UD, CR0.TS → #NM, then a pending
    /// x87 exception → #MF. They do not depend on CR4.OSFXSR.
    #[inline(always)]
    pub(crate) fn mmx_check(&mut self) -> Exec {
        let cr0 = self.state.cr0;
        if cr0 & (cr0::EM | cr0::TS) != 0 {
            return Err(if cr0 & cr0::EM != 0 {
                Fault::ud()
            } else {
                Fault::new(vector::NM)
            });
        }
        if self.state.fpu.status & FSW_ES != 0 {
            return self.x87_pending();
        }
        Ok(())
    }

    /// A pending unmasked x87 exception reached an instruction that reports it: #MF with
    /// CR0.NE (SDM vol. 3A §6.15 interrupt 16). With NE clear a PC reports it through FERR# and
    /// IRQ 13 instead, which is the x87 unit's business; the MMX instruction then proceeds.
    #[cold]
    fn x87_pending(&mut self) -> Exec {
        if self.state.cr0 & cr0::NE != 0 {
            return Err(Fault::new(vector::MF));
        }
        self.log_once("pending x87 exception at an MMX instruction with CR0.NE=0 is not reported");
        Ok(())
    }

    /// Checks for SSE/SSE2 instructions (SDM vol. 3A table 13-1): CR0.EM or CR4.OSFXSR clear
    /// → #UD, CR0.TS → #NM.
    #[inline(always)]
    pub(crate) fn sse_check(&self) -> Exec {
        let s = &self.state;
        if s.cr0 & (cr0::EM | cr0::TS) != 0 || s.cr4 & cr4::OSFXSR == 0 {
            return Err(if s.cr0 & cr0::EM != 0 || s.cr4 & cr4::OSFXSR == 0 {
                Fault::ud()
            } else {
                Fault::new(vector::NM)
            });
        }
        Ok(())
    }

    /// [`Cpu::sse_check`] for SSE instructions that also touch MMX state (CVTPI2PS with a
    /// register, MOVQ2DQ, ...): additionally #MF for a pending x87 exception.
    #[inline(always)]
    pub(crate) fn sse_mmx_check(&mut self) -> Exec {
        self.sse_check()?;
        if self.state.fpu.status & FSW_ES != 0 {
            return self.x87_pending();
        }
        Ok(())
    }

    /// The x87 → MMX transition every MMX instruction except EMMS makes on completion: TOP = 0
    /// and every tag valid (SDM vol. 3A §12.2, table 12-2).
    #[inline(always)]
    pub(crate) fn mmx_enter(&mut self) {
        self.state.fpu.status &= !FSW_TOP;
        self.state.fpu.tag = 0;
    }

    /// MMX register `r`.
    #[inline(always)]
    pub(crate) fn mm(&self, r: u8) -> u64 {
        self.state.fpu.mantissa[(r & 7) as usize]
    }

    /// Writes MMX register `r`: the significand of R*r*, with the exponent and sign set to ones
    /// (SDM vol. 3A §12.2), and makes the MMX transition.
    #[inline(always)]
    pub(crate) fn set_mm(&mut self, r: u8, value: u64) {
        let r = (r & 7) as usize;
        self.state.fpu.mantissa[r] = value;
        self.state.fpu.sign_exp[r] = 0xFFFF;
        self.mmx_enter();
    }

    #[inline(always)]
    pub(crate) fn xmm(&self, r: u8) -> Vec128 {
        self.state.sse.xmm[(r & 7) as usize]
    }

    #[inline(always)]
    pub(crate) fn set_xmm(&mut self, r: u8, value: Vec128) {
        self.state.sse.xmm[(r & 7) as usize] = value;
    }

    /// The fault for an unmasked SIMD floating-point exception: #XM with CR4.OSXMMEXCPT, #UD
    /// without (SDM vol. 1 §11.5.1).
    #[cold]
    pub(crate) fn simd_fp_fault(&self) -> Fault {
        if self.state.cr4 & cr4::OSXMMEXCPT != 0 {
            Fault::new(vector::XM)
        } else {
            Fault::ud()
        }
    }

    /// Records exception flags `pre` (invalid, denormal, divide-by-zero, all elements ORed) and
    /// `post` (overflow, underflow, precision) of a SIMD floating-point operation in MXCSR and
    /// says whether the result may be written (SDM vol. 1 §11.5.1): an unmasked pre-computation
    /// exception reports only the pre-computation flags; otherwise all flags are set, and any
    /// unmasked one faults. Either way a faulting instruction leaves its destination alone.
    #[inline(always)]
    pub(crate) fn simd_fp_report(&mut self, pre: u32, post: u32) -> Exec {
        let csr = self.state.sse.mxcsr;
        let unmasked = !(csr >> mxcsr::MASK_SHIFT) & mxcsr::FLAGS;
        if pre & unmasked != 0 {
            self.state.sse.mxcsr = csr | pre;
            return Err(self.simd_fp_fault());
        }
        let all = pre | post;
        self.state.sse.mxcsr = csr | all;
        if all & unmasked != 0 {
            return Err(self.simd_fp_fault());
        }
        Ok(())
    }

    /// Checks a `size`-byte access to the op's memory operand and returns its linear address;
    /// `align` (a power of two, 1 for none) raises #GP(0) for a misaligned linear address (the
    /// 16-byte forms of SSE instructions, SDM vol. 1 §11.6.7).
    #[inline(always)]
    pub(crate) fn simd_lin(
        &self,
        op: &Op,
        size: u32,
        align: u32,
        write: bool,
    ) -> Result<u32, Fault> {
        let offset = self.ea(op);
        self.simd_lin_at(op.seg, offset, size, align, write)
    }

    /// [`Cpu::simd_lin`] for an explicit segment and offset.
    #[inline(always)]
    pub(crate) fn simd_lin_at(
        &self,
        seg: u8,
        offset: u32,
        size: u32,
        align: u32,
        write: bool,
    ) -> Result<u32, Fault> {
        let lin = self.seg_check(seg, offset, size, write)?;
        if lin & (align - 1) != 0 {
            return Err(Fault::GP0);
        }
        Ok(lin)
    }

    /// Reads a quadword at a linear address.
    #[inline(always)]
    pub(crate) fn read_lin_u64(&mut self, lin: u32) -> Result<u64, Fault> {
        let lo = self.read_lin::<4>(lin)?;
        let hi = self.read_lin::<4>(lin.wrapping_add(4))?;
        Ok(u64::from(lo) | u64::from(hi) << 32)
    }

    /// Checks that `size` bytes at `lin` can all be written, so a multi-part store is
    /// all-or-nothing (only a store crossing a page can fault part-way).
    #[inline(always)]
    pub(crate) fn probe_store(&mut self, lin: u32, size: u32) -> Exec {
        if lin & 0xFFF > 0x1000 - size {
            let user = self.state.user();
            self.mmu
                .probe_write(lin, size, user)
                .map_err(|pf| self.page_fault(pf))?;
        }
        Ok(())
    }

    /// Writes a quadword at a linear address already probed with [`Cpu::probe_store`].
    #[inline(always)]
    pub(crate) fn write_lin_u64(&mut self, lin: u32, value: u64) -> Exec {
        self.write_lin::<4>(lin, value as u32)?;
        self.write_lin::<4>(lin.wrapping_add(4), (value >> 32) as u32)
    }

    /// Reads the op's 32-bit memory operand.
    #[inline(always)]
    pub(crate) fn read_m32(&mut self, op: &Op) -> Result<u32, Fault> {
        self.read_mem::<4>(op)
    }

    /// Reads the op's 64-bit memory operand.
    #[inline(always)]
    pub(crate) fn read_m64(&mut self, op: &Op) -> Result<u64, Fault> {
        let lin = self.simd_lin(op, 8, 1, false)?;
        self.read_lin_u64(lin)
    }

    /// Reads the op's 128-bit memory operand, 16-byte aligned when `ALIGNED`.
    #[inline(always)]
    pub(crate) fn read_m128<const ALIGNED: bool>(&mut self, op: &Op) -> Result<Vec128, Fault> {
        let lin = self.simd_lin(op, 16, if ALIGNED { 16 } else { 1 }, false)?;
        Ok([
            self.read_lin_u64(lin)?,
            self.read_lin_u64(lin.wrapping_add(8))?,
        ])
    }

    /// Writes the op's 64-bit memory operand.
    #[inline(always)]
    pub(crate) fn write_m64(&mut self, op: &Op, value: u64) -> Exec {
        let lin = self.simd_lin(op, 8, 1, true)?;
        self.probe_store(lin, 8)?;
        self.write_lin_u64(lin, value)
    }

    /// Writes the op's 128-bit memory operand, 16-byte aligned when `ALIGNED`.
    #[inline(always)]
    pub(crate) fn write_m128<const ALIGNED: bool>(&mut self, op: &Op, value: Vec128) -> Exec {
        let lin = self.simd_lin(op, 16, if ALIGNED { 16 } else { 1 }, true)?;
        self.probe_store(lin, 16)?;
        self.write_lin_u64(lin, value[0])?;
        self.write_lin_u64(lin.wrapping_add(8), value[1])
    }

    /// Translates `lin` for a write without writing (MASKMOVQ with an all-zero mask still
    /// checks its destination, as a P6 does).
    pub(crate) fn probe_lin_write(&mut self, lin: u32, size: u32) -> Exec {
        let user = self.state.user();
        self.mmu
            .translate(LinAddr(lin), Access::write(user))
            .map_err(|pf| self.page_fault(pf))?;
        self.probe_store(lin, size)
    }
}

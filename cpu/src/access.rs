//! Memory access through segments and paging: effective addresses, segment limit and
//! permission checks (SDM vol. 3A §5.3), the stack, and page faults turned into #PF.

use webx86_mmu::{Access, LinAddr, PageFault};

use crate::fault::{vector, Exec, Fault};
use crate::ir::{opflag, Op, NO_REG};
use crate::state::{perm, reg, sreg};
use crate::Cpu;

impl Cpu {
    /// Turns a page fault into #PF, loading CR2.
    #[cold]
    pub fn page_fault(&mut self, pf: PageFault) -> Fault {
        self.state.cr2 = pf.addr.0;
        Fault::with_code(vector::PF, pf.error_code)
    }

    /// The effective address (offset within the segment) of the op's memory operand.
    #[inline(always)]
    pub fn ea(&self, op: &Op) -> u32 {
        let mut addr = op.disp;
        if op.base != NO_REG {
            addr = addr.wrapping_add(self.state.regs[op.base as usize]);
        }
        if op.index != NO_REG {
            addr = addr.wrapping_add(self.state.regs[op.index as usize] << op.scale);
        }
        if op.has(opflag::ADDR16) {
            addr &= 0xFFFF;
        }
        addr
    }

    /// Checks a `size`-byte access at `offset` in segment `seg` and returns its linear address.
    #[inline(always)]
    pub fn seg_check(&self, seg: u8, offset: u32, size: u32, write: bool) -> Result<u32, Fault> {
        let s = &self.state.segs[seg as usize];
        let need = if write { perm::WRITE } else { perm::READ };
        let last = u64::from(offset) + u64::from(size) - 1;
        if s.perms & need != 0 && offset >= s.valid_lo && last <= u64::from(s.valid_hi) {
            Ok(s.base.wrapping_add(offset))
        } else {
            Err(self.seg_fault(seg))
        }
    }

    /// The fault for a failed segment check: #SS for the stack segment, #GP(0) otherwise.
    #[cold]
    pub fn seg_fault(&self, seg: u8) -> Fault {
        if seg == sreg::SS {
            Fault::ss(0)
        } else {
            Fault::GP0
        }
    }

    /// Reads `SIZE` bytes at a linear address with the current privilege.
    #[inline(always)]
    pub fn read_lin<const SIZE: usize>(&mut self, lin: u32) -> Result<u32, Fault> {
        let user = self.state.user();
        self.mmu
            .read::<SIZE>(lin, user)
            .map_err(|pf| self.page_fault(pf))
    }

    /// Writes `SIZE` bytes at a linear address with the current privilege.
    #[inline(always)]
    pub fn write_lin<const SIZE: usize>(&mut self, lin: u32, value: u32) -> Exec {
        let user = self.state.user();
        self.mmu
            .write::<SIZE>(lin, value, user)
            .map_err(|pf| self.page_fault(pf))?;
        self.note_code_write();
        Ok(())
    }

    /// Reads `SIZE` bytes at a linear address as a supervisor (descriptor tables, TSS).
    pub fn read_sys<const SIZE: usize>(&mut self, lin: u32) -> Result<u32, Fault> {
        self.mmu
            .read::<SIZE>(lin, false)
            .map_err(|pf| self.page_fault(pf))
    }

    /// Writes `SIZE` bytes at a linear address as a supervisor (descriptor tables, TSS).
    pub fn write_sys<const SIZE: usize>(&mut self, lin: u32, value: u32) -> Exec {
        self.mmu
            .write::<SIZE>(lin, value, false)
            .map_err(|pf| self.page_fault(pf))?;
        self.note_code_write();
        Ok(())
    }

    /// Ends the block after a write that hit a page holding decoded code, so that the next
    /// instruction is decoded afresh (self-modifying code behaves as on hardware), or that
    /// went to a device's MMIO window, so the device acts on it before the next instruction.
    #[inline(always)]
    pub fn note_code_write(&mut self) {
        if self.mmu.phys.attention() {
            self.end_block = true;
        }
    }

    /// Reads `SIZE` bytes at `seg:offset`.
    #[inline(always)]
    pub fn read_seg<const SIZE: usize>(&mut self, seg: u8, offset: u32) -> Result<u32, Fault> {
        let lin = self.seg_check(seg, offset, SIZE as u32, false)?;
        self.read_lin::<SIZE>(lin)
    }

    /// Writes `SIZE` bytes at `seg:offset`.
    #[inline(always)]
    pub fn write_seg<const SIZE: usize>(&mut self, seg: u8, offset: u32, value: u32) -> Exec {
        let lin = self.seg_check(seg, offset, SIZE as u32, true)?;
        self.write_lin::<SIZE>(lin, value)
    }

    /// Reads the op's `SIZE`-byte memory operand.
    #[inline(always)]
    pub fn read_mem<const SIZE: usize>(&mut self, op: &Op) -> Result<u32, Fault> {
        let offset = self.ea(op);
        self.read_seg::<SIZE>(op.seg, offset)
    }

    /// Writes the op's `SIZE`-byte memory operand.
    #[inline(always)]
    pub fn write_mem<const SIZE: usize>(&mut self, op: &Op, value: u32) -> Exec {
        let offset = self.ea(op);
        self.write_seg::<SIZE>(op.seg, offset, value)
    }

    /// For read-modify-write instructions: checks the op's memory operand for writing (segment
    /// and page, as the CPU's locked read does) and returns its linear address.
    #[inline(always)]
    pub fn rmw_lin<const SIZE: usize>(&mut self, op: &Op) -> Result<u32, Fault> {
        let offset = self.ea(op);
        self.rmw_seg::<SIZE>(op.seg, offset)
    }

    /// [`Cpu::rmw_lin`] for an explicit `seg:offset` (BTS/BTR/BTC with a register bit offset
    /// address a different word than the ModRM operand).
    #[inline(always)]
    pub fn rmw_seg<const SIZE: usize>(&mut self, seg: u8, offset: u32) -> Result<u32, Fault> {
        let lin = self.seg_check(seg, offset, SIZE as u32, true)?;
        let user = self.state.user();
        if SIZE > 1 && lin & 0xFFF > 0x1000 - SIZE as u32 {
            self.mmu
                .probe_write(lin, SIZE as u32, user)
                .map_err(|pf| self.page_fault(pf))?;
        } else {
            self.mmu
                .translate(LinAddr(lin), Access::write(user))
                .map_err(|pf| self.page_fault(pf))?;
        }
        Ok(lin)
    }

    /// The stack pointer as the stack's address size sees it (SP or ESP).
    #[inline(always)]
    pub fn sp(&self) -> u32 {
        let esp = self.state.regs[reg::ESP as usize];
        if self.state.stack32() {
            esp
        } else {
            esp & 0xFFFF
        }
    }

    /// Sets SP or ESP according to the stack's address size.
    #[inline(always)]
    pub fn set_sp(&mut self, value: u32) {
        if self.state.stack32() {
            self.state.regs[reg::ESP as usize] = value;
        } else {
            self.state.set_reg::<2>(reg::ESP, value);
        }
    }

    /// The stack pointer moved by `delta`, wrapped to the stack's address size.
    #[inline(always)]
    pub fn sp_plus(&self, delta: u32) -> u32 {
        let sp = self.sp().wrapping_add(delta);
        if self.state.stack32() {
            sp
        } else {
            sp & 0xFFFF
        }
    }

    /// Pushes a `SIZE`-byte value. Faults leave ESP unchanged.
    #[inline(always)]
    pub fn push<const SIZE: usize>(&mut self, value: u32) -> Exec {
        let sp = self.sp_plus((SIZE as u32).wrapping_neg());
        self.write_seg::<SIZE>(sreg::SS, sp, value)?;
        self.set_sp(sp);
        Ok(())
    }

    /// Reads the `SIZE`-byte value on top of the stack without popping it.
    #[inline(always)]
    pub fn peek<const SIZE: usize>(&mut self, depth: u32) -> Result<u32, Fault> {
        let sp = self.sp_plus(depth);
        self.read_seg::<SIZE>(sreg::SS, sp)
    }

    /// Pops a `SIZE`-byte value. Faults leave ESP unchanged.
    #[inline(always)]
    pub fn pop<const SIZE: usize>(&mut self) -> Result<u32, Fault> {
        let value = self.peek::<SIZE>(0)?;
        let sp = self.sp_plus(SIZE as u32);
        self.set_sp(sp);
        Ok(value)
    }
}

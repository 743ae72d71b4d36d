//! IRET/IRETD in real, V86 and protected mode (SDM vol. 2 IRET; vol. 3A §6.12.1, §20.3.3):
//! returns to the same or an outer level, to V86 mode, and task returns through the back link.

use super::descriptor::rpl;
use super::task::TaskSource;
use crate::fault::{Exec, Fault};
use crate::state::{flag, reg, sreg};
use crate::Cpu;

/// EFLAGS bits that exist on a P6 (bits 1, 3, 5, 15 and 22+ are fixed).
pub(crate) const EFLAGS_DEFINED: u32 = 0x003F_7FD5;
/// Flags any IRETD restores from the popped image in protected mode.
const IRET32_BASE: u32 =
    flag::ARITH | flag::TF | flag::DF | flag::NT | flag::RF | flag::AC | flag::ID;
/// Flags a 16-bit IRET restores in protected mode.
const IRET16_BASE: u32 = flag::ARITH | flag::TF | flag::DF | flag::NT;

impl Cpu {
    /// IRET (`op32` false) or IRETD.
    pub fn iret(&mut self, op32: bool) -> Exec {
        if !self.state.protected_mode() {
            return self.iret_real(op32);
        }
        if self.state.v86_mode() {
            return self.iret_v86(op32);
        }
        if self.state.eflags & flag::NT != 0 {
            return self.task_return();
        }
        let size: u32 = if op32 { 4 } else { 2 };
        let eip = self.peek_sized(op32, 0)?;
        let cs_sel = self.peek_sized(op32, size)? as u16;
        let image = self.peek_sized(op32, 2 * size)?;
        if op32 && image & flag::VM != 0 && self.state.cpl == 0 {
            return self.iret_to_v86(eip, cs_sel, image);
        }
        let (addr, mut desc) = self.check_return_cs(cs_sel)?;
        let new_cpl = rpl(cs_sel);
        let old_cpl = self.state.cpl;
        let mut mask = if op32 { IRET32_BASE } else { IRET16_BASE };
        if old_cpl <= self.state.iopl() {
            mask |= flag::IF;
        }
        if old_cpl == 0 {
            mask |= flag::IOPL;
            if op32 {
                mask |= flag::VIF | flag::VIP;
            }
        }
        if new_cpl > old_cpl {
            let new_esp = self.peek_sized(op32, 3 * size)?;
            let new_ss = self.peek_sized(op32, 4 * size)? as u16;
            let ss = self.check_outer_ss(new_ss, new_cpl)?;
            if eip > desc.limit() {
                return Err(Fault::GP0);
            }
            self.mark_accessed(addr, &mut desc)?;
            self.commit_cs(cs_sel, &desc, new_cpl);
            self.state.eip = eip;
            self.replace_eflags(image, mask);
            self.state.segs[sreg::SS as usize] = ss;
            if ss.big() {
                self.state.regs[reg::ESP as usize] = new_esp;
            } else {
                self.state.set_reg::<2>(reg::ESP, new_esp);
            }
            self.null_inaccessible_data_segs();
        } else {
            if eip > desc.limit() {
                return Err(Fault::GP0);
            }
            self.mark_accessed(addr, &mut desc)?;
            let sp = self.sp_plus(3 * size);
            self.set_sp(sp);
            self.commit_cs(cs_sel, &desc, old_cpl);
            self.state.eip = eip;
            self.replace_eflags(image, mask);
        }
        Ok(())
    }

    /// Real-address mode: IP, CS and FLAGS popped; IRETD keeps VM, VIF and VIP.
    fn iret_real(&mut self, op32: bool) -> Exec {
        let size: u32 = if op32 { 4 } else { 2 };
        let eip = self.peek_sized(op32, 0)?;
        let cs = self.peek_sized(op32, size)? as u16;
        let image = self.peek_sized(op32, 2 * size)?;
        if eip > self.state.segs[sreg::CS as usize].limit {
            return Err(Fault::GP0);
        }
        let sp = self.sp_plus(3 * size);
        self.set_sp(sp);
        self.load_real_cs(cs);
        self.state.eip = eip;
        let mask = if op32 {
            EFLAGS_DEFINED & !(flag::VM | flag::VIF | flag::VIP)
        } else {
            0x7FD5
        };
        self.replace_eflags(image, mask);
        Ok(())
    }

    /// V86 mode: IOPL-sensitive (#GP(0) below 3, no VME); IOPL, VM, VIF and VIP are kept.
    fn iret_v86(&mut self, op32: bool) -> Exec {
        if self.state.iopl() < 3 {
            return Err(Fault::GP0);
        }
        let size: u32 = if op32 { 4 } else { 2 };
        let eip = self.peek_sized(op32, 0)?;
        let cs = self.peek_sized(op32, size)? as u16;
        let image = self.peek_sized(op32, 2 * size)?;
        if eip > 0xFFFF {
            return Err(Fault::GP0);
        }
        let sp = self.sp_plus(3 * size);
        self.set_sp(sp);
        self.load_real_cs(cs);
        self.state.eip = eip;
        let keep = flag::IOPL | flag::VM | flag::VIF | flag::VIP;
        let mask = if op32 { EFLAGS_DEFINED } else { 0x7FD5 } & !keep;
        self.replace_eflags(image, mask);
        Ok(())
    }

    /// IRETD at CPL 0 with VM set in the popped EFLAGS: ESP, SS, ES, DS, FS and GS are popped
    /// too and the CPU enters V86 mode at CPL 3 (SDM vol. 2 IRET, RETURN-TO-VIRTUAL-8086-MODE).
    fn iret_to_v86(&mut self, eip: u32, cs: u16, image: u32) -> Exec {
        let mut popped = [0u32; 6];
        for (i, slot) in popped.iter_mut().enumerate() {
            *slot = self.peek::<4>(12 + 4 * i as u32)?;
        }
        let [esp, ss, es, ds, fs, gs] = popped;
        self.replace_eflags(image, EFLAGS_DEFINED);
        self.state.cpl = 3;
        self.load_real_cs(cs);
        for (seg, selector) in [
            (sreg::SS, ss),
            (sreg::ES, es),
            (sreg::DS, ds),
            (sreg::FS, fs),
            (sreg::GS, gs),
        ] {
            self.load_real_seg(seg, selector as u16);
        }
        self.state.regs[reg::ESP as usize] = esp;
        self.state.eip = eip & 0xFFFF;
        Ok(())
    }

    /// IRET with NT set: switch back to the task in the current TSS's back link.
    fn task_return(&mut self) -> Exec {
        let tr = self.state.tr;
        let link = self.read_sys::<2>(tr.base)? as u16;
        let code = u32::from(link & 0xFFFC);
        if super::descriptor::in_ldt(link) || super::descriptor::is_null(link) {
            return Err(Fault::ts(code));
        }
        let (addr, desc) = self.fetch_descriptor(link, Fault::ts(code))?;
        if !(desc.is_system_kind(super::descriptor::system::TSS16_BUSY)
            || desc.is_system_kind(super::descriptor::system::TSS32_BUSY))
        {
            return Err(Fault::ts(code));
        }
        if !desc.present() {
            return Err(Fault::np(code));
        }
        self.task_switch(link, addr, desc, TaskSource::Iret, None)
    }
}

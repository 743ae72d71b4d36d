//! Far JMP, CALL and RET in real, V86 and protected mode: direct transfers to code segments,
//! call gates with stack switches and parameter copying, and task gates/TSS selectors (SDM
//! vol. 2 JMP, CALL, RET; vol. 3A §5.8).

use super::descriptor::{in_ldt, is_null, rpl, system, Descriptor};
use super::frame::StackWriter;
use super::task::TaskSource;
use crate::fault::{Exec, Fault};
use crate::state::{reg, sreg};
use crate::Cpu;

/// Masks an offset to the operand size.
fn to_size(value: u32, dword: bool) -> u32 {
    if dword {
        value
    } else {
        value & 0xFFFF
    }
}

impl Cpu {
    /// JMP ptr16:16/32 or m16:16/32.
    pub fn far_jump(&mut self, selector: u16, offset: u32, op32: bool) -> Exec {
        let offset = to_size(offset, op32);
        if !self.state.pm_not_v86() {
            if offset > self.state.segs[sreg::CS as usize].limit {
                return Err(Fault::GP0);
            }
            self.load_real_cs(selector);
            self.state.eip = offset;
            return Ok(());
        }
        let (addr, mut desc) = self.fetch_far_target(selector)?;
        let code = u32::from(selector & 0xFFFC);
        let cpl = self.state.cpl;
        if desc.is_code() {
            self.check_direct_code(selector, &desc)?;
            if offset > desc.limit() {
                return Err(Fault::GP0);
            }
            self.mark_accessed(addr, &mut desc)?;
            self.commit_cs(selector, &desc, cpl);
            self.state.eip = offset;
            return Ok(());
        }
        match desc.kind() {
            _ if desc.is_segment() => Err(Fault::gp(code)),
            system::CALL_GATE16 | system::CALL_GATE32 => {
                self.check_gate_access(selector, &desc)?;
                let (target, taddr, mut tdesc) = self.fetch_gate_code(&desc)?;
                let tcode = u32::from(target & 0xFFFC);
                let allowed = if tdesc.conforming() {
                    tdesc.dpl() <= cpl
                } else {
                    tdesc.dpl() == cpl
                };
                if !allowed {
                    return Err(Fault::gp(tcode));
                }
                if !tdesc.present() {
                    return Err(Fault::np(tcode));
                }
                let offset = desc.gate_offset();
                if offset > tdesc.limit() {
                    return Err(Fault::GP0);
                }
                self.mark_accessed(taddr, &mut tdesc)?;
                self.commit_cs(target, &tdesc, cpl);
                self.state.eip = offset;
                Ok(())
            }
            system::TASK_GATE | system::TSS16_AVAILABLE | system::TSS32_AVAILABLE => {
                let (tss, taddr, tdesc) = self.resolve_task_target(selector, &desc)?;
                self.task_switch(tss, taddr, tdesc, TaskSource::Jmp, None)
            }
            _ => Err(Fault::gp(code)),
        }
    }

    /// CALL ptr16:16/32 or m16:16/32.
    pub fn far_call(&mut self, selector: u16, offset: u32, op32: bool) -> Exec {
        let offset = to_size(offset, op32);
        let old_cs = self.state.segs[sreg::CS as usize].selector;
        let old_eip = self.state.eip;
        if !self.state.pm_not_v86() {
            let mut stack = StackWriter::current(self);
            stack.push(self, op32, old_cs)?;
            stack.push(self, op32, old_eip)?;
            if offset > self.state.segs[sreg::CS as usize].limit {
                return Err(Fault::GP0);
            }
            stack.commit(self);
            self.load_real_cs(selector);
            self.state.eip = offset;
            return Ok(());
        }
        let (addr, mut desc) = self.fetch_far_target(selector)?;
        let code = u32::from(selector & 0xFFFC);
        let cpl = self.state.cpl;
        if desc.is_code() {
            self.check_direct_code(selector, &desc)?;
            let mut stack = StackWriter::current(self);
            stack.push(self, op32, old_cs)?;
            stack.push(self, op32, old_eip)?;
            if offset > desc.limit() {
                return Err(Fault::GP0);
            }
            self.mark_accessed(addr, &mut desc)?;
            stack.commit(self);
            self.commit_cs(selector, &desc, cpl);
            self.state.eip = offset;
            return Ok(());
        }
        match desc.kind() {
            _ if desc.is_segment() => Err(Fault::gp(code)),
            system::CALL_GATE16 | system::CALL_GATE32 => self.call_gate(selector, &desc),
            system::TASK_GATE | system::TSS16_AVAILABLE | system::TSS32_AVAILABLE => {
                let (tss, taddr, tdesc) = self.resolve_task_target(selector, &desc)?;
                self.task_switch(tss, taddr, tdesc, TaskSource::Call, None)
            }
            _ => Err(Fault::gp(code)),
        }
    }

    /// CALL through a call gate, to the same or a more privileged level (SDM vol. 3A §5.8.5).
    fn call_gate(&mut self, selector: u16, gate: &Descriptor) -> Exec {
        self.check_gate_access(selector, gate)?;
        let (target, taddr, mut tdesc) = self.fetch_gate_code(gate)?;
        let tcode = u32::from(target & 0xFFFC);
        let cpl = self.state.cpl;
        if tdesc.dpl() > cpl {
            return Err(Fault::gp(tcode));
        }
        if !tdesc.present() {
            return Err(Fault::np(tcode));
        }
        let offset = gate.gate_offset();
        let dword = gate.gate32();
        let old_cs = self.state.segs[sreg::CS as usize].selector;
        let old_eip = self.state.eip;
        if !tdesc.conforming() && tdesc.dpl() < cpl {
            let dpl = tdesc.dpl();
            let (ss_sel, esp) = self.tss_stack(dpl, 0)?;
            let ss = self.check_inner_ss(ss_sel, dpl, 0)?;
            let count = gate.gate_param_count();
            let size = if dword { 4 } else { 2 };
            let mut params = [0u32; 32];
            for i in 0..count {
                params[i as usize] = self.peek_sized(dword, i * size)?;
            }
            let old_ss = self.state.segs[sreg::SS as usize].selector;
            let old_esp = self.state.regs[reg::ESP as usize];
            let mut stack = StackWriter::new(ss, esp, dpl, Fault::ss(u32::from(ss_sel & 0xFFFC)));
            stack.push(self, dword, old_ss)?;
            stack.push(self, dword, old_esp)?;
            for i in (0..count).rev() {
                stack.push(self, dword, params[i as usize])?;
            }
            stack.push(self, dword, old_cs)?;
            stack.push(self, dword, old_eip)?;
            if offset > tdesc.limit() {
                return Err(Fault::GP0);
            }
            self.mark_accessed(taddr, &mut tdesc)?;
            self.state.segs[sreg::SS as usize] = stack.seg;
            stack.commit(self);
            self.commit_cs(target, &tdesc, dpl);
        } else {
            let mut stack = StackWriter::current(self);
            stack.push(self, dword, old_cs)?;
            stack.push(self, dword, old_eip)?;
            if offset > tdesc.limit() {
                return Err(Fault::GP0);
            }
            self.mark_accessed(taddr, &mut tdesc)?;
            stack.commit(self);
            self.commit_cs(target, &tdesc, cpl);
        }
        self.state.eip = offset;
        Ok(())
    }

    /// RETF and RETF imm16: `release` bytes of parameters are discarded after the return
    /// address (and again after the outer stack pointer on a privilege change).
    pub fn far_return(&mut self, op32: bool, release: u16) -> Exec {
        let size: u32 = if op32 { 4 } else { 2 };
        let eip = self.peek_sized(op32, 0)?;
        let cs_sel = self.peek_sized(op32, size)? as u16;
        let release = u32::from(release);
        if !self.state.pm_not_v86() {
            if eip > self.state.segs[sreg::CS as usize].limit {
                return Err(Fault::GP0);
            }
            let sp = self.sp_plus(2 * size + release);
            self.set_sp(sp);
            self.load_real_cs(cs_sel);
            self.state.eip = eip;
            return Ok(());
        }
        let (addr, mut desc) = self.check_return_cs(cs_sel)?;
        let new_cpl = rpl(cs_sel);
        if new_cpl > self.state.cpl {
            let depth = 2 * size + release;
            let new_esp = self.peek_sized(op32, depth)?;
            let new_ss = self.peek_sized(op32, depth + size)? as u16;
            let ss = self.check_outer_ss(new_ss, new_cpl)?;
            if eip > desc.limit() {
                return Err(Fault::GP0);
            }
            self.mark_accessed(addr, &mut desc)?;
            self.commit_cs(cs_sel, &desc, new_cpl);
            self.state.segs[sreg::SS as usize] = ss;
            let esp = new_esp.wrapping_add(release);
            if ss.big() {
                self.state.regs[reg::ESP as usize] = esp;
            } else {
                self.state.set_reg::<2>(reg::ESP, esp);
            }
            self.null_inaccessible_data_segs();
        } else {
            if eip > desc.limit() {
                return Err(Fault::GP0);
            }
            self.mark_accessed(addr, &mut desc)?;
            let sp = self.sp_plus(2 * size + release);
            self.set_sp(sp);
            let cpl = self.state.cpl;
            self.commit_cs(cs_sel, &desc, cpl);
        }
        self.state.eip = eip;
        Ok(())
    }

    /// The descriptor a far JMP or CALL names: #GP(0) for a null selector.
    fn fetch_far_target(&mut self, selector: u16) -> Result<(u32, Descriptor), Fault> {
        if is_null(selector) {
            return Err(Fault::GP0);
        }
        self.fetch_descriptor(selector, Fault::gp(u32::from(selector & 0xFFFC)))
    }

    /// Privilege and presence checks of a direct far JMP/CALL to a code segment.
    fn check_direct_code(&self, selector: u16, desc: &Descriptor) -> Exec {
        let code = u32::from(selector & 0xFFFC);
        let cpl = self.state.cpl;
        let allowed = if desc.conforming() {
            desc.dpl() <= cpl
        } else {
            rpl(selector) <= cpl && desc.dpl() == cpl
        };
        if !allowed {
            return Err(Fault::gp(code));
        }
        if !desc.present() {
            return Err(Fault::np(code));
        }
        Ok(())
    }

    /// A gate used by JMP or CALL: its DPL must allow both CPL and the selector's RPL.
    fn check_gate_access(&self, selector: u16, gate: &Descriptor) -> Exec {
        let code = u32::from(selector & 0xFFFC);
        if gate.dpl() < self.state.cpl || rpl(selector) > gate.dpl() {
            return Err(Fault::gp(code));
        }
        if !gate.present() {
            return Err(Fault::np(code));
        }
        Ok(())
    }

    /// The code segment a call gate points at: it must be a code segment.
    fn fetch_gate_code(&mut self, gate: &Descriptor) -> Result<(u16, u32, Descriptor), Fault> {
        let target = gate.gate_selector();
        if is_null(target) {
            return Err(Fault::GP0);
        }
        let tcode = u32::from(target & 0xFFFC);
        let (addr, desc) = self.fetch_descriptor(target, Fault::gp(tcode))?;
        if !desc.is_code() {
            return Err(Fault::gp(tcode));
        }
        Ok((target, addr, desc))
    }

    /// The TSS a JMP or CALL to a task gate or TSS selector switches to, checked (SDM vol. 3A
    /// §7.3 steps 2–3): gate/TSS DPL against CPL and RPL, an available TSS in the GDT.
    fn resolve_task_target(
        &mut self,
        selector: u16,
        desc: &Descriptor,
    ) -> Result<(u16, u32, Descriptor), Fault> {
        let code = u32::from(selector & 0xFFFC);
        let cpl = self.state.cpl;
        if desc.dpl() < cpl || rpl(selector) > desc.dpl() {
            return Err(Fault::gp(code));
        }
        if !desc.is_system_kind(system::TASK_GATE) {
            if in_ldt(selector) {
                return Err(Fault::gp(code));
            }
            if !desc.present() {
                return Err(Fault::np(code));
            }
            let addr = self.descriptor_address(selector).ok_or(Fault::gp(code))?;
            return Ok((selector, addr, *desc));
        }
        if !desc.present() {
            return Err(Fault::np(code));
        }
        self.resolve_task_gate(desc.gate_selector(), 0)
    }

    /// The TSS named by a task gate: in the GDT, available, present.
    pub(crate) fn resolve_task_gate(
        &mut self,
        tss: u16,
        ext: u32,
    ) -> Result<(u16, u32, Descriptor), Fault> {
        let code = u32::from(tss & 0xFFFC) | ext;
        if in_ldt(tss) || is_null(tss) {
            return Err(Fault::gp(code));
        }
        let (addr, desc) = self.fetch_descriptor(tss, Fault::gp(code))?;
        if !(desc.is_system_kind(system::TSS16_AVAILABLE)
            || desc.is_system_kind(system::TSS32_AVAILABLE))
        {
            return Err(Fault::gp(code));
        }
        if !desc.present() {
            return Err(Fault::np(code));
        }
        Ok((tss, addr, desc))
    }

    /// The CS a far return or IRET pops, checked against the CPL (SDM vol. 2 RET).
    pub(crate) fn check_return_cs(&mut self, selector: u16) -> Result<(u32, Descriptor), Fault> {
        if is_null(selector) {
            return Err(Fault::GP0);
        }
        let code = u32::from(selector & 0xFFFC);
        let (addr, desc) = self.fetch_descriptor(selector, Fault::gp(code))?;
        let new_cpl = rpl(selector);
        if !desc.is_code() || new_cpl < self.state.cpl {
            return Err(Fault::gp(code));
        }
        if desc.conforming() && desc.dpl() > new_cpl {
            return Err(Fault::gp(code));
        }
        if !desc.conforming() && desc.dpl() != new_cpl {
            return Err(Fault::gp(code));
        }
        if !desc.present() {
            return Err(Fault::np(code));
        }
        Ok((addr, desc))
    }
}

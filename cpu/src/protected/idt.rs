//! Interrupt and exception delivery through the IDT in protected and V86 mode (SDM vol. 3A
//! §6.10–6.14, §20.3; vol. 2 INT n pseudo-code).

use super::descriptor::{is_null, null_segment, system, Descriptor};
use super::frame::StackWriter;
use super::task::TaskSource;
use crate::fault::{Exec, Fault};
use crate::interrupt::IntKind;
use crate::state::{flag, reg, sreg};
use crate::Cpu;

impl Cpu {
    /// Delivers `vector` through the IDT in protected or V86 mode. On `Err` nothing has
    /// changed (the caller escalates to #DF or a triple fault).
    pub(crate) fn deliver_protected(
        &mut self,
        vector: u8,
        kind: IntKind,
        error_code: Option<u32>,
    ) -> Exec {
        let software = matches!(kind, IntKind::Software | IntKind::SoftwareTrap);
        // EXT: the event did not come from INT n/INT3/INTO (SDM vol. 3A §6.13).
        let ext = u32::from(!software);
        let v86 = self.state.v86_mode();
        if v86 && kind == IntKind::Software && self.state.iopl() < 3 {
            return Err(Fault::GP0);
        }
        let idt_code = u32::from(vector) * 8 + 2 + ext;
        let entry = u32::from(vector) * 8;
        if entry + 7 > self.state.idtr.limit {
            return Err(Fault::gp(idt_code));
        }
        let gate = self.read_descriptor_at(self.state.idtr.base.wrapping_add(entry))?;
        let is_gate = gate.is_system()
            && matches!(
                gate.kind(),
                system::TASK_GATE
                    | system::INT_GATE16
                    | system::TRAP_GATE16
                    | system::INT_GATE32
                    | system::TRAP_GATE32
            );
        if !is_gate {
            return Err(Fault::gp(idt_code));
        }
        if software && gate.dpl() < self.state.cpl {
            return Err(Fault::gp(idt_code));
        }
        if !gate.present() {
            return Err(Fault::np(idt_code));
        }
        if gate.kind() == system::TASK_GATE {
            let (tss, addr, desc) = self.resolve_task_gate(gate.gate_selector(), ext)?;
            return self.task_switch(tss, addr, desc, TaskSource::Int, error_code);
        }
        self.interrupt_through_gate(&gate, ext, error_code)
    }

    /// Delivery through an interrupt or trap gate, to the same or an inner privilege level.
    fn interrupt_through_gate(
        &mut self,
        gate: &Descriptor,
        ext: u32,
        error_code: Option<u32>,
    ) -> Exec {
        let target = gate.gate_selector();
        if is_null(target) {
            return Err(Fault::gp(ext));
        }
        let tcode = u32::from(target & 0xFFFC) | ext;
        let (taddr, mut tdesc) = self.fetch_descriptor(target, Fault::gp(tcode))?;
        let cpl = self.state.cpl;
        if !tdesc.is_code() || tdesc.dpl() > cpl {
            return Err(Fault::gp(tcode));
        }
        if !tdesc.present() {
            return Err(Fault::np(tcode));
        }
        let v86 = self.state.v86_mode();
        let dword = gate.gate32();
        let offset = gate.gate_offset();
        let old_flags = self.state.flags();
        let old_cs = self.state.segs[sreg::CS as usize].selector;
        let old_eip = self.state.eip;
        let old_ss = self.state.segs[sreg::SS as usize].selector;
        let old_esp = self.state.regs[reg::ESP as usize];
        let inner = !tdesc.conforming() && tdesc.dpl() < cpl;
        let new_cpl;
        let mut stack;
        if inner {
            new_cpl = tdesc.dpl();
            if v86 && new_cpl != 0 {
                return Err(Fault::gp(tcode));
            }
            let (ss_sel, esp) = self.tss_stack(new_cpl, ext)?;
            let ss = self.check_inner_ss(ss_sel, new_cpl, ext)?;
            let limit_fault = Fault::ss(u32::from(ss_sel & 0xFFFC) | ext);
            stack = StackWriter::new(ss, esp, new_cpl, limit_fault);
            if v86 {
                for seg in [sreg::GS, sreg::FS, sreg::DS, sreg::ES] {
                    let selector = self.state.segs[seg as usize].selector;
                    stack.push(self, dword, selector)?;
                }
            }
            stack.push(self, dword, old_ss)?;
            stack.push(self, dword, old_esp)?;
        } else {
            if v86 {
                return Err(Fault::gp(tcode));
            }
            new_cpl = cpl;
            stack = StackWriter::current(self);
            stack.set_limit_fault(Fault::ss(ext));
        }
        stack.push(self, dword, old_flags)?;
        stack.push(self, dword, old_cs)?;
        stack.push(self, dword, old_eip)?;
        if let Some(code) = error_code {
            stack.push(self, dword, code)?;
        }
        if offset > tdesc.limit() {
            return Err(Fault::gp(ext));
        }
        self.mark_accessed(taddr, &mut tdesc)?;

        // Commit.
        if inner {
            self.state.segs[sreg::SS as usize] = stack.seg;
        }
        stack.commit(self);
        let mut clear = flag::TF | flag::NT | flag::VM | flag::RF;
        if matches!(gate.kind(), system::INT_GATE16 | system::INT_GATE32) {
            clear |= flag::IF;
        }
        self.replace_eflags(0, clear);
        if v86 {
            for seg in [sreg::ES, sreg::DS, sreg::FS, sreg::GS] {
                self.state.segs[seg as usize] = null_segment(0);
            }
        }
        self.commit_cs(target, &tdesc, new_cpl);
        self.state.eip = offset;
        Ok(())
    }
}

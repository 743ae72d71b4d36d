//! Hardware task switching (SDM vol. 3A §7.3): JMP/CALL to a TSS or task gate, interrupts
//! through task gates, and IRET with NT set. 32-bit and 16-bit (286) TSS formats.

use super::descriptor::{in_ldt, is_null, rpl, system, Descriptor};
use super::frame::StackWriter;
use super::iret::EFLAGS_DEFINED;
use super::load::LoadFault;
use crate::fault::{Exec, Fault};
use crate::interrupt::IntKind;
use crate::state::{cr0, flag, sreg, Segment};
use crate::Cpu;

/// What started a task switch: it decides the busy bits, NT and the back link (SDM vol. 3A
/// table 7-2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TaskSource {
    Jmp,
    Call,
    /// An interrupt or exception through a task gate.
    Int,
    Iret,
}

/// Field offsets in the two TSS formats (SDM vol. 3A figures 7-2 and 7-11).
struct TssLayout {
    eip: u32,
    eflags: u32,
    regs: u32,
    segs: u32,
    ldt: u32,
    /// Bytes per general register slot.
    reg_size: u32,
    /// Bytes per segment selector slot.
    seg_stride: u32,
    /// Segment registers the format holds (the 16-bit TSS has no FS and GS).
    seg_count: usize,
}

const TSS32: TssLayout = TssLayout {
    eip: 0x20,
    eflags: 0x24,
    regs: 0x28,
    segs: 0x48,
    ldt: 0x60,
    reg_size: 4,
    seg_stride: 4,
    seg_count: 6,
};

const TSS16: TssLayout = TssLayout {
    eip: 0x0E,
    eflags: 0x10,
    regs: 0x12,
    segs: 0x22,
    ldt: 0x2A,
    reg_size: 2,
    seg_stride: 2,
    seg_count: 4,
};

/// The state a task switch loads, read from the new TSS before anything is changed.
#[derive(Default)]
struct TaskImage {
    cr3: u32,
    eip: u32,
    eflags: u32,
    regs: [u32; 8],
    segs: [u16; 6],
    ldt: u16,
    trap: bool,
}

impl Cpu {
    /// Switches to the task whose TSS descriptor (already checked by the caller) is `desc` at
    /// `addr`. Faults before the commit point return `Err` with nothing changed; later ones
    /// (loading the new task's segments) are delivered in the new task's context. For
    /// [`TaskSource::Int`], `error_code` is pushed on the new task's stack.
    pub(crate) fn task_switch(
        &mut self,
        selector: u16,
        addr: u32,
        desc: Descriptor,
        source: TaskSource,
        error_code: Option<u32>,
    ) -> Exec {
        let new32 = desc.is_tss32();
        let min_limit = if new32 { 0x67 } else { 0x2B };
        if desc.limit() < min_limit {
            return Err(Fault::ts(u32::from(selector & 0xFFFC)));
        }
        let image = self.read_task_image(desc.base(), new32)?;

        // Save the outgoing task.
        let old_tr = self.state.tr;
        let old32 = self.tss32();
        let layout = if old32 { &TSS32 } else { &TSS16 };
        let mut old_flags = self.state.flags();
        if source == TaskSource::Iret {
            old_flags &= !flag::NT;
        }
        let base = old_tr.base;
        self.write_tss(base.wrapping_add(layout.eip), old32, self.state.eip)?;
        self.write_tss(base.wrapping_add(layout.eflags), old32, old_flags)?;
        for r in 0..8u32 {
            let value = self.state.regs[r as usize];
            self.write_tss(
                base.wrapping_add(layout.regs + r * layout.reg_size),
                old32,
                value,
            )?;
        }
        for s in 0..layout.seg_count as u32 {
            let value = self.state.segs[s as usize].selector;
            self.write_sys::<2>(
                base.wrapping_add(layout.segs + s * layout.seg_stride),
                value,
            )?;
        }
        if matches!(source, TaskSource::Jmp | TaskSource::Iret) {
            if let Some(old_addr) = self.descriptor_address(old_tr.selector as u16) {
                self.set_tss_busy(old_addr, false)?;
            }
        }
        let mut eflags = image.eflags;
        if matches!(source, TaskSource::Call | TaskSource::Int) {
            self.write_sys::<2>(desc.base(), old_tr.selector)?;
            eflags |= flag::NT;
        }
        let mut desc = desc;
        if source != TaskSource::Iret {
            self.set_tss_busy(addr, true)?;
            desc.high |= system::TSS_BUSY_BIT << 8;
        }

        // Commit: from here on faults belong to the new task.
        self.state.tr = desc.to_segment(selector);
        self.state.cr0 |= cr0::TS;
        if new32 && self.state.cr0 & cr0::PG != 0 {
            self.state.cr3 = image.cr3;
            self.sync_paging();
            self.mmu.flush_non_global();
        }
        self.state.regs = image.regs;
        self.state.eip = image.eip;
        self.replace_eflags(eflags, EFLAGS_DEFINED);
        let v86 = self.state.v86_mode();
        for (s, &sel) in image.segs.iter().enumerate() {
            self.state.segs[s] = super::descriptor::null_segment(sel);
        }
        self.state.ldtr = super::descriptor::null_segment(image.ldt);
        self.state.cpl = if v86 { 3 } else { rpl(image.segs[1]) };
        self.end_block = true;
        if image.trap {
            self.log_once("TSS debug trap bit (T) is not implemented");
        }
        let loaded =
            self.load_task_segments(&image, v86)
                .and_then(|()| match (source, error_code) {
                    (TaskSource::Int, Some(code)) => {
                        let mut stack = StackWriter::current(self);
                        stack.push(self, new32, code)?;
                        stack.commit(self);
                        Ok(())
                    }
                    _ => Ok(()),
                });
        if let Err(fault) = loaded {
            self.interrupt(fault.vector(), IntKind::Exception, fault.error_code());
        }
        Ok(())
    }

    /// Reads the registers, selectors, CR3 and T bit of the TSS at `base`.
    fn read_task_image(&mut self, base: u32, tss32: bool) -> Result<TaskImage, Fault> {
        let layout = if tss32 { &TSS32 } else { &TSS16 };
        let mut image = TaskImage::default();
        if tss32 {
            image.cr3 = self.read_sys::<4>(base.wrapping_add(0x1C))?;
            image.trap = self.read_sys::<2>(base.wrapping_add(0x64))? & 1 != 0;
            image.eip = self.read_sys::<4>(base.wrapping_add(layout.eip))?;
            image.eflags = self.read_sys::<4>(base.wrapping_add(layout.eflags))?;
            for r in 0..8u32 {
                image.regs[r as usize] =
                    self.read_sys::<4>(base.wrapping_add(layout.regs + 4 * r))?;
            }
        } else {
            image.eip = self.read_sys::<2>(base.wrapping_add(layout.eip))?;
            image.eflags = self.read_sys::<2>(base.wrapping_add(layout.eflags))?;
            for r in 0..8u32 {
                let low = self.read_sys::<2>(base.wrapping_add(layout.regs + 2 * r))?;
                // A 16-bit task has no upper register halves: they read as ones after the
                // switch (as test386's 286-TSS test checks, matching Bochs).
                image.regs[r as usize] = 0xFFFF_0000 | low;
            }
        }
        for s in 0..layout.seg_count as u32 {
            image.segs[s as usize] =
                self.read_sys::<2>(base.wrapping_add(layout.segs + s * layout.seg_stride))? as u16;
        }
        image.ldt = self.read_sys::<2>(base.wrapping_add(layout.ldt))? as u16;
        Ok(image)
    }

    fn write_tss(&mut self, lin: u32, tss32: bool, value: u32) -> Exec {
        if tss32 {
            self.write_sys::<4>(lin, value)
        } else {
            self.write_sys::<2>(lin, value)
        }
    }

    /// Loads LDTR and the segment registers of the new task with #TS checks (SDM vol. 3A §7.3
    /// step 14, table 7-1).
    fn load_task_segments(&mut self, image: &TaskImage, v86: bool) -> Exec {
        self.state.ldtr = self.check_ldt_selector(image.ldt, Fault::ts)?;
        if v86 {
            for (s, &sel) in image.segs.iter().enumerate() {
                self.load_real_seg(s as u8, sel);
            }
            return Ok(());
        }
        let cs = image.segs[sreg::CS as usize];
        let code = u32::from(cs & 0xFFFC);
        if is_null(cs) {
            return Err(Fault::ts(code));
        }
        let (addr, mut desc) = self.fetch_descriptor(cs, Fault::ts(code))?;
        let cpl = rpl(cs);
        let ok = desc.is_code()
            && if desc.conforming() {
                desc.dpl() <= cpl
            } else {
                desc.dpl() == cpl
            };
        if !ok {
            return Err(Fault::ts(code));
        }
        if !desc.present() {
            return Err(Fault::np(code));
        }
        self.mark_accessed(addr, &mut desc)?;
        self.state.segs[sreg::CS as usize] = desc.to_segment(cs);
        for seg in [sreg::SS, sreg::DS, sreg::ES, sreg::FS, sreg::GS] {
            let sel = image.segs[seg as usize];
            let cache = self.check_sreg(seg, sel, cpl, LoadFault::TaskSwitch)?;
            self.state.segs[seg as usize] = cache;
        }
        Ok(())
    }

    /// Checks an LDT selector for LLDT (`bad` = #GP) or a task switch (`bad` = #TS) and returns
    /// the LDTR contents; a null selector gives an unusable LDTR.
    pub(crate) fn check_ldt_selector(
        &mut self,
        selector: u16,
        bad: fn(u32) -> Fault,
    ) -> Result<Segment, Fault> {
        if is_null(selector) {
            return Ok(super::descriptor::null_segment(selector));
        }
        let code = u32::from(selector & 0xFFFC);
        if in_ldt(selector) {
            return Err(bad(code));
        }
        let (_, desc) = self.fetch_descriptor(selector, bad(code))?;
        if !desc.is_system_kind(system::LDT) {
            return Err(bad(code));
        }
        if !desc.present() {
            return Err(if bad(0).vector() == crate::fault::vector::TS {
                Fault::ts(code)
            } else {
                Fault::np(code)
            });
        }
        Ok(desc.to_segment(selector))
    }
}

//! Loading data and stack segment registers in protected mode with the checks of SDM vol. 2
//! MOV/POP (segment register) and vol. 3A §5.5–5.7, and the checks after a privilege change.

use super::descriptor::{is_null, null_segment, rpl, Descriptor};
use crate::fault::{Exec, Fault};
use crate::state::{attr, sreg, Segment};
use crate::Cpu;

/// Which fault a failed segment-load check raises: #GP for instructions, #TS while loading a
/// new task's segment registers (SDM vol. 3A §7.3 step 14).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LoadFault {
    General,
    TaskSwitch,
}

impl LoadFault {
    fn fault(self, code: u32) -> Fault {
        match self {
            LoadFault::General => Fault::gp(code),
            LoadFault::TaskSwitch => Fault::ts(code),
        }
    }
}

impl Cpu {
    /// Loads segment register `seg` (not CS) with `selector` in any mode: MOV, POP, LDS and
    /// friends. Loading SS inhibits interrupts for one instruction.
    pub fn load_sreg(&mut self, seg: u8, selector: u16) -> Exec {
        if self.state.pm_not_v86() {
            let cpl = self.state.cpl;
            let cache = self.check_sreg(seg, selector, cpl, LoadFault::General)?;
            self.state.segs[seg as usize] = cache;
        } else {
            self.load_real_seg(seg, selector);
        }
        if seg == sreg::SS {
            self.state.interrupt_shadow = 1;
        }
        Ok(())
    }

    /// Checks a protected-mode load of `selector` into data or stack register `seg` at
    /// privilege `cpl`, sets the descriptor's accessed bit and returns the hidden part to load.
    pub(crate) fn check_sreg(
        &mut self,
        seg: u8,
        selector: u16,
        cpl: u32,
        how: LoadFault,
    ) -> Result<Segment, Fault> {
        let code = u32::from(selector & 0xFFFC);
        if is_null(selector) {
            return if seg == sreg::SS {
                Err(how.fault(if how == LoadFault::TaskSwitch {
                    code
                } else {
                    0
                }))
            } else {
                Ok(null_segment(selector))
            };
        }
        let (addr, mut desc) = self.fetch_descriptor(selector, how.fault(code))?;
        if seg == sreg::SS {
            if rpl(selector) != cpl || !desc.writable_data() || desc.dpl() != cpl {
                return Err(how.fault(code));
            }
            if !desc.present() {
                return Err(Fault::ss(code));
            }
        } else {
            if !desc.readable() {
                return Err(how.fault(code));
            }
            if !desc.conforming() && (rpl(selector) > desc.dpl() || cpl > desc.dpl()) {
                return Err(how.fault(code));
            }
            if !desc.present() {
                return Err(Fault::np(code));
            }
        }
        self.mark_accessed(addr, &mut desc)?;
        Ok(desc.to_segment(selector))
    }

    /// Validates the stack segment a return to outer privilege level `cpl` pops (SDM vol. 2
    /// RET and IRET, RETURN-TO-OUTER-PRIVILEGE-LEVEL).
    pub(crate) fn check_outer_ss(&mut self, selector: u16, cpl: u32) -> Result<Segment, Fault> {
        if is_null(selector) {
            return Err(Fault::GP0);
        }
        let code = u32::from(selector & 0xFFFC);
        let (addr, mut desc) = self.fetch_descriptor(selector, Fault::gp(code))?;
        if rpl(selector) != cpl || !desc.writable_data() || desc.dpl() != cpl {
            return Err(Fault::gp(code));
        }
        if !desc.present() {
            return Err(Fault::ss(code));
        }
        self.mark_accessed(addr, &mut desc)?;
        Ok(desc.to_segment(selector))
    }

    /// After a return to an outer level: ES, DS, FS and GS holding a segment the new CPL may not
    /// use (data or non-conforming code with DPL < CPL) are loaded with a null selector
    /// (SDM vol. 2 RET, IRET: "FOR each SegReg in (ES, FS, GS, DS)").
    pub(crate) fn null_inaccessible_data_segs(&mut self) {
        let cpl = self.state.cpl;
        for seg in [sreg::ES, sreg::DS, sreg::FS, sreg::GS] {
            let s = &mut self.state.segs[seg as usize];
            let conforming_code = s.is_code() && s.attrs & attr::DC != 0;
            let usable = s.attrs & attr::S != 0 && s.present();
            if usable && !conforming_code && u32::from(s.dpl()) < cpl {
                *s = null_segment(0);
            }
        }
    }

    /// Loads CS from a checked code descriptor with RPL = `cpl`, which becomes the CPL.
    pub(crate) fn commit_cs(&mut self, selector: u16, desc: &Descriptor, cpl: u32) {
        let selector = (selector & 0xFFFC) | cpl as u16;
        self.state.segs[sreg::CS as usize] = desc.to_segment(selector);
        self.state.cpl = cpl;
        self.end_block = true;
    }
}

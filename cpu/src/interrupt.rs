//! Interrupt and exception delivery: the double/triple-fault rules (SDM vol. 3A §6.15,
//! table 6-5) and real-mode delivery through the IVT. Protected-mode and V86 delivery through
//! the IDT lives in `protected::idt`.

use crate::fault::{vector, Exec, Fault};
use crate::run::RunExit;
use crate::state::{flag, sreg, Segment};
use crate::Cpu;

/// What raised an interrupt: it decides privilege checks and the pushed return address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntKind {
    /// A fault, trap or abort raised by the CPU.
    Exception,
    /// An external interrupt from the INTR line.
    Hardware,
    /// INT n: gate DPL checked against CPL; IOPL-sensitive in V86 mode.
    Software,
    /// INT3 (0xCC) and INTO: gate DPL checked; not IOPL-sensitive in V86 mode.
    SoftwareTrap,
    /// INT1 (0xF1, ICEBP): delivered like an exception, without the DPL check.
    Icebp,
}

fn contributory(v: u8) -> bool {
    matches!(
        v,
        vector::DE | vector::TS | vector::NP | vector::SS | vector::GP
    )
}

impl Cpu {
    /// Delivers interrupt `vector`. The return address pushed is the current EIP: the faulting
    /// instruction for faults (the loop restored it), the next instruction for traps and INT n.
    pub fn interrupt(&mut self, vector: u8, kind: IntKind, error_code: Option<u32>) {
        let (mut vector, mut error_code) = (vector, error_code);
        if kind == IntKind::Exception {
            if let Some(&previous) = self.delivering.last() {
                if previous == vector::DF {
                    self.delivering.clear();
                    self.state.halted = 0;
                    self.exit = Some(RunExit::Shutdown);
                    return;
                }
                let escalate = (contributory(previous) && contributory(vector))
                    || (previous == vector::PF && (contributory(vector) || vector == vector::PF));
                if escalate {
                    vector = vector::DF;
                    error_code = Some(0);
                }
            }
            self.delivering.push(vector);
        }
        let result = if self.state.protected_mode() {
            self.deliver_protected(vector, kind, error_code)
        } else {
            self.deliver_real(vector)
        };
        match result {
            Ok(()) => {
                self.delivering.clear();
                self.state.halted = 0;
                self.end_block = true;
            }
            Err(fault) => {
                if kind != IntKind::Exception {
                    self.delivering.clear();
                }
                self.interrupt(fault.vector(), IntKind::Exception, fault.error_code());
            }
        }
    }

    /// Delivers an interrupt raised by an instruction (INT n, INT3, INTO, INT1) with EIP at the
    /// next instruction. A fault during delivery is returned, so the loop reports it against
    /// the interrupting instruction itself.
    pub fn software_interrupt(&mut self, vector: u8, kind: IntKind) -> Exec {
        if self.state.protected_mode() {
            self.deliver_protected(vector, kind, None)?;
        } else {
            self.deliver_real(vector)?;
        }
        self.end_block = true;
        Ok(())
    }

    /// Real-mode delivery: FLAGS, CS and IP pushed, CS:IP loaded from the IVT.
    fn deliver_real(&mut self, vector: u8) -> Exec {
        let entry = u32::from(vector) * 4;
        if entry + 3 > self.state.idtr.limit {
            return Err(Fault::GP0);
        }
        let base = self.state.idtr.base;
        let ip = self.read_sys::<2>(base.wrapping_add(entry))?;
        let cs = self.read_sys::<2>(base.wrapping_add(entry + 2))?;
        let flags = self.state.flags();
        let old_cs = self.state.segs[sreg::CS as usize].selector;
        let eip = self.state.eip;
        let sp = self.sp();
        self.push::<2>(flags)?;
        if let Err(fault) = self.push::<2>(old_cs).and_then(|()| self.push::<2>(eip)) {
            self.set_sp(sp);
            return Err(fault);
        }
        self.state.materialize_flags();
        self.state.eflags &= !(flag::IF | flag::TF | flag::AC | flag::RF);
        self.load_real_cs(cs as u16);
        self.state.eip = ip;
        Ok(())
    }

    /// Loads CS in real or V86 mode.
    pub fn load_real_cs(&mut self, selector: u16) {
        self.load_real_seg(sreg::CS, selector);
    }

    /// Loads a segment register in real or V86 mode: base = selector × 16, a present read/write
    /// data segment (as Bochs models it, CS included). Real mode keeps the cached limit and
    /// size bits (so "unreal mode" works); V86 mode forces 64 KiB, 16-bit and DPL 3.
    pub fn load_real_seg(&mut self, seg: u8, selector: u16) {
        use crate::state::attr;
        let s = if self.state.v86_mode() {
            let mut s = Segment::real_mode(selector);
            s.attrs |= 3 << attr::DPL_SHIFT;
            s
        } else {
            let old = self.state.segs[seg as usize];
            let mut s = Segment {
                selector: u32::from(selector),
                base: u32::from(selector) << 4,
                limit: old.limit,
                attrs: (old.attrs & (attr::G | attr::DB))
                    | attr::P
                    | attr::S
                    | attr::RW
                    | attr::ACCESSED,
                ..Segment::default()
            };
            s.refresh_checks(true);
            s
        };
        self.state.segs[seg as usize] = s;
        if seg == sreg::CS {
            self.end_block = true;
        }
    }
}

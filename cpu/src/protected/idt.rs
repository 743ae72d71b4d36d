//! Interrupt and exception delivery through the IDT (SDM vol. 3A §6.10–6.14, §20.3).

use crate::fault::{Exec, Fault};
use crate::interrupt::IntKind;
use crate::Cpu;

impl Cpu {
    /// Delivers `vector` through the IDT in protected or V86 mode.
    pub(crate) fn deliver_protected(
        &mut self,
        vector: u8,
        kind: IntKind,
        error_code: Option<u32>,
    ) -> Exec {
        let _ = (vector, kind, error_code);
        self.log_once("protected-mode interrupt delivery is not implemented yet");
        Err(Fault::GP0)
    }
}

//! I/O-port protection: IOPL and the TSS I/O permission bit map (SDM vol. 1 §19.5; vol. 3A
//! §20.2.8 for V86 mode). IN, OUT, INS and OUTS call [`Cpu::check_io_permission`].

use crate::fault::{Exec, Fault};
use crate::Cpu;

/// Offset of the I/O map base field in a 32-bit TSS.
const IO_MAP_BASE: u32 = 0x66;

impl Cpu {
    /// #GP(0) unless the current task may access `size` bytes at `port`: always in real mode,
    /// when CPL ≤ IOPL in protected mode, and otherwise (and always in V86 mode) only if every
    /// bit for the ports in the 32-bit TSS's I/O bit map is clear and inside the TSS limit.
    pub fn check_io_permission(&mut self, port: u16, size: u8) -> Exec {
        let s = &self.state;
        if !s.protected_mode() || (!s.v86_mode() && s.cpl <= s.iopl()) {
            return Ok(());
        }
        let tr = s.tr;
        // A 16-bit TSS has no bit map; an unloaded TR denies everything.
        if !self.tss32() || !tr.present() || tr.limit < IO_MAP_BASE + 1 {
            return Err(Fault::GP0);
        }
        let map = self.read_sys::<2>(tr.base.wrapping_add(IO_MAP_BASE))?;
        let offset = map + u32::from(port >> 3);
        if offset + 1 > tr.limit {
            return Err(Fault::GP0);
        }
        let bits = self.read_sys::<2>(tr.base.wrapping_add(offset))?;
        let mask = ((1u32 << size.clamp(1, 4)) - 1) << (port & 7);
        if bits & mask != 0 {
            return Err(Fault::GP0);
        }
        Ok(())
    }
}

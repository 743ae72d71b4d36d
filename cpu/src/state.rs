//! The architectural register state. `#[repr(C)]` and `Pod`: allocated once and never moved,
//! so the JIT can bake field addresses (`core::mem::offset_of!`) into generated code.

use bytemuck::{Pod, Zeroable};

use crate::flags::LazyFlags;

/// General-purpose register numbers, in ModRM order.
pub mod reg {
    pub const EAX: u8 = 0;
    pub const ECX: u8 = 1;
    pub const EDX: u8 = 2;
    pub const EBX: u8 = 3;
    pub const ESP: u8 = 4;
    pub const EBP: u8 = 5;
    pub const ESI: u8 = 6;
    pub const EDI: u8 = 7;
}

/// Segment register numbers, in the encoding's order (Sreg field of ModRM).
pub mod sreg {
    pub const ES: u8 = 0;
    pub const CS: u8 = 1;
    pub const SS: u8 = 2;
    pub const DS: u8 = 3;
    pub const FS: u8 = 4;
    pub const GS: u8 = 5;
}

/// EFLAGS bits.
pub mod flag {
    pub const CF: u32 = 1 << 0;
    pub const PF: u32 = 1 << 2;
    pub const AF: u32 = 1 << 4;
    pub const ZF: u32 = 1 << 6;
    pub const SF: u32 = 1 << 7;
    pub const TF: u32 = 1 << 8;
    pub const IF: u32 = 1 << 9;
    pub const DF: u32 = 1 << 10;
    pub const OF: u32 = 1 << 11;
    pub const IOPL: u32 = 3 << 12;
    pub const NT: u32 = 1 << 14;
    pub const RF: u32 = 1 << 16;
    pub const VM: u32 = 1 << 17;
    pub const AC: u32 = 1 << 18;
    pub const VIF: u32 = 1 << 19;
    pub const VIP: u32 = 1 << 20;
    pub const ID: u32 = 1 << 21;
    /// The six arithmetic flags the lazy-flags machinery computes.
    pub const ARITH: u32 = CF | PF | AF | ZF | SF | OF;
    /// Bit 1 always reads as one.
    pub const FIXED: u32 = 1 << 1;
}

/// CR0 bits.
pub mod cr0 {
    pub const PE: u32 = 1 << 0;
    pub const MP: u32 = 1 << 1;
    pub const EM: u32 = 1 << 2;
    pub const TS: u32 = 1 << 3;
    pub const ET: u32 = 1 << 4;
    pub const NE: u32 = 1 << 5;
    pub const WP: u32 = 1 << 16;
    pub const AM: u32 = 1 << 18;
    pub const NW: u32 = 1 << 29;
    pub const CD: u32 = 1 << 30;
    pub const PG: u32 = 1 << 31;
}

/// CR4 bits.
pub mod cr4 {
    pub const VME: u32 = 1 << 0;
    pub const PVI: u32 = 1 << 1;
    pub const TSD: u32 = 1 << 2;
    pub const DE: u32 = 1 << 3;
    pub const PSE: u32 = 1 << 4;
    pub const PAE: u32 = 1 << 5;
    pub const MCE: u32 = 1 << 6;
    pub const PGE: u32 = 1 << 7;
    pub const PCE: u32 = 1 << 8;
    pub const OSFXSR: u32 = 1 << 9;
    pub const OSXMMEXCPT: u32 = 1 << 10;
}

/// Segment permission bits cached in [`Segment::perms`].
pub mod perm {
    pub const READ: u32 = 1 << 0;
    pub const WRITE: u32 = 1 << 1;
}

/// A segment register's hidden part: what the CPU cached when the selector was loaded.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct Segment {
    pub selector: u32,
    pub base: u32,
    /// Effective limit in bytes (granularity applied).
    pub limit: u32,
    /// Bits 8..=23 of the descriptor's high dword, in place: type (8..=11), S (12), DPL (13..=14),
    /// P (15), AVL (20), D/B (22), G (23).
    pub attrs: u32,
    /// Lowest and highest valid offset (differ from 0/limit for expand-down data segments).
    pub valid_lo: u32,
    pub valid_hi: u32,
    /// [`perm`] bits: which accesses through this register are allowed at all.
    pub perms: u32,
}

/// Descriptor attribute bits as stored in [`Segment::attrs`].
pub mod attr {
    pub const ACCESSED: u32 = 1 << 8;
    /// Data: writable. Code: readable.
    pub const RW: u32 = 1 << 9;
    /// Data: expand-down. Code: conforming.
    pub const DC: u32 = 1 << 10;
    pub const CODE: u32 = 1 << 11;
    /// S: code/data (set) or system (clear).
    pub const S: u32 = 1 << 12;
    pub const DPL_SHIFT: u32 = 13;
    pub const P: u32 = 1 << 15;
    pub const AVL: u32 = 1 << 20;
    pub const DB: u32 = 1 << 22;
    pub const G: u32 = 1 << 23;
    pub const TYPE_MASK: u32 = 0xF << 8;
}

impl Segment {
    /// A segment as real mode and V86 mode load it: base = selector × 16, 64 KiB, read/write.
    pub fn real_mode(selector: u16) -> Self {
        let mut seg = Self {
            selector: u32::from(selector),
            base: u32::from(selector) << 4,
            limit: 0xFFFF,
            attrs: attr::P | attr::S | attr::RW | attr::ACCESSED,
            ..Self::default()
        };
        seg.refresh_checks(true);
        seg
    }

    pub fn dpl(&self) -> u8 {
        ((self.attrs >> attr::DPL_SHIFT) & 3) as u8
    }
    pub fn rpl(&self) -> u8 {
        (self.selector & 3) as u8
    }
    /// D/B bit: 32-bit code or a 32-bit stack.
    pub fn big(&self) -> bool {
        self.attrs & attr::DB != 0
    }
    pub fn present(&self) -> bool {
        self.attrs & attr::P != 0
    }
    pub fn is_code(&self) -> bool {
        self.attrs & (attr::S | attr::CODE) == attr::S | attr::CODE
    }

    /// Recomputes `valid_lo`/`valid_hi`/`perms` from `attrs` and `limit`. `usable` is false for
    /// a null selector in protected mode (every access faults).
    pub fn refresh_checks(&mut self, usable: bool) {
        let code = self.attrs & attr::CODE != 0;
        let expand_down = !code && self.attrs & attr::DC != 0;
        if expand_down {
            self.valid_lo = self.limit.wrapping_add(1);
            self.valid_hi = if self.big() { u32::MAX } else { 0xFFFF };
            if self.limit == u32::MAX {
                self.valid_lo = u32::MAX;
                self.valid_hi = 0;
            }
        } else {
            self.valid_lo = 0;
            self.valid_hi = self.limit;
        }
        self.perms = if !usable || self.attrs & attr::S == 0 {
            0
        } else if code {
            if self.attrs & attr::RW != 0 {
                perm::READ
            } else {
                0
            }
        } else if self.attrs & attr::RW != 0 {
            perm::READ | perm::WRITE
        } else {
            perm::READ
        };
    }
}

/// A descriptor-table register (GDTR, IDTR).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct TableReg {
    pub base: u32,
    pub limit: u32,
}

/// The architectural state of one i686 CPU.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct CpuState {
    /// EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI.
    pub regs: [u32; 8],
    pub eip: u32,
    /// EFLAGS; the [`flag::ARITH`] bits are stale while `lazy` holds a pending operation.
    pub eflags: u32,
    pub lazy: LazyFlags,
    /// ES, CS, SS, DS, FS, GS.
    pub segs: [Segment; 6],
    pub ldtr: Segment,
    pub tr: Segment,
    pub gdtr: TableReg,
    pub idtr: TableReg,
    pub cr0: u32,
    pub cr2: u32,
    pub cr3: u32,
    pub cr4: u32,
    pub dr: [u32; 8],
    /// Current privilege level (CS.RPL in protected mode, 3 in V86 mode, 0 in real mode).
    pub cpl: u32,
    /// Nonzero while the CPU is halted waiting for an interrupt.
    pub halted: u32,
    /// Interrupts are inhibited for one instruction after MOV SS / POP SS / STI.
    pub interrupt_shadow: u32,
    pub sysenter_cs: u32,
    pub sysenter_esp: u32,
    pub sysenter_eip: u32,
    /// Offset added to the platform's time stamp to give the TSC (set by WRMSR to the TSC).
    pub tsc: u64,
    /// Instructions retired since reset.
    pub retired: u64,
    /// IA32_MISC_ENABLE (MSR 0x1A0), kept as written.
    pub misc_enable: u64,
    pub fpu: FpuState,
    pub sse: SseState,
}

/// The x87 register file and environment. Registers are stored by physical number (R0–R7,
/// not stack-relative); MMX register *i* aliases the significand of R*i*.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct FpuState {
    /// Significand (bits 0–63) of each 80-bit register.
    pub mantissa: [u64; 8],
    /// Sign (bit 15) and biased exponent (bits 0–14) of each register.
    pub sign_exp: [u16; 8],
    /// FCW.
    pub control: u16,
    /// FSW, with TOP in bits 11–13.
    pub status: u16,
    /// Full two-bit tags (FSAVE format: 00 valid, 01 zero, 10 special, 11 empty).
    pub tag: u16,
    /// Last non-control instruction's opcode (11 bits).
    pub opcode: u16,
    /// Last instruction pointer and data pointer (offset and selector).
    pub fip: u32,
    pub fcs: u16,
    pub _pad0: u16,
    pub fdp: u32,
    pub fds: u16,
    pub _pad1: u16,
}

/// The SSE register file.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct SseState {
    /// XMM0–XMM7 as two little-endian quadwords each.
    pub xmm: [[u64; 2]; 8],
    pub mxcsr: u32,
    pub _pad: u32,
}

impl CpuState {
    /// The state after RESET (SDM vol. 3A §9.1.1, table 9-1).
    pub fn reset() -> Self {
        let mut state = Self::zeroed();
        state.eflags = flag::FIXED;
        state.eip = 0xFFF0;
        for seg in &mut state.segs {
            *seg = Segment::real_mode(0);
        }
        let cs = &mut state.segs[sreg::CS as usize];
        *cs = Segment::real_mode(0xF000);
        cs.base = 0xFFFF_0000;
        state.ldtr = Segment {
            limit: 0xFFFF,
            attrs: attr::P | 2 << 8,
            ..Segment::default()
        };
        state.tr = Segment {
            limit: 0xFFFF,
            attrs: attr::P | 11 << 8,
            ..Segment::default()
        };
        state.gdtr.limit = 0xFFFF;
        state.idtr.limit = 0xFFFF;
        state.cr0 = cr0::ET | cr0::CD | cr0::NW;
        state.regs[reg::EDX as usize] = 0x0000_06D6; // family 6, model 13, stepping 6 (CPUID.1:EAX)
        state.dr[6] = 0xFFFF_0FF0;
        state.dr[7] = 0x0000_0400;
        // SDM vol. 3A table 9-1: after RESET FCW is 0x0040 and every register is +0.0 tagged
        // zero (FINIT instead gives FCW 0x037F and all tags empty).
        state.fpu.control = 0x0040;
        state.fpu.tag = 0x5555;
        state.sse.mxcsr = 0x1F80;
        state
    }

    pub fn protected_mode(&self) -> bool {
        self.cr0 & cr0::PE != 0
    }
    pub fn v86_mode(&self) -> bool {
        self.eflags & flag::VM != 0
    }
    /// Protected mode and not V86 mode: descriptors and privilege checks apply.
    pub fn pm_not_v86(&self) -> bool {
        self.protected_mode() && !self.v86_mode()
    }
    pub fn iopl(&self) -> u32 {
        (self.eflags & flag::IOPL) >> 12
    }
    /// 32-bit default operand/address size for code.
    pub fn code32(&self) -> bool {
        self.segs[sreg::CS as usize].big()
    }
    /// 32-bit stack (SS.B).
    pub fn stack32(&self) -> bool {
        self.segs[sreg::SS as usize].big()
    }
    pub fn user(&self) -> bool {
        self.cpl == 3
    }

    /// Reads a register of `SIZE` bytes. For bytes, 0–3 are AL..BL and 4–7 AH..BH.
    #[inline(always)]
    pub fn reg<const SIZE: usize>(&self, r: u8) -> u32 {
        match SIZE {
            1 => (self.regs[(r & 3) as usize] >> ((r & 4) * 2)) & 0xFF,
            2 => self.regs[(r & 7) as usize] & 0xFFFF,
            _ => self.regs[(r & 7) as usize],
        }
    }

    /// Writes a register of `SIZE` bytes, leaving the other bits of the 32-bit register.
    #[inline(always)]
    pub fn set_reg<const SIZE: usize>(&mut self, r: u8, value: u32) {
        match SIZE {
            1 => {
                let shift = (r & 4) * 2;
                let slot = &mut self.regs[(r & 3) as usize];
                *slot = (*slot & !(0xFF << shift)) | ((value & 0xFF) << shift);
            }
            2 => {
                let slot = &mut self.regs[(r & 7) as usize];
                *slot = (*slot & 0xFFFF_0000) | (value & 0xFFFF);
            }
            _ => self.regs[(r & 7) as usize] = value,
        }
    }
}

/// Mask of a `SIZE`-byte operand.
#[inline(always)]
pub const fn size_mask<const SIZE: usize>() -> u32 {
    match SIZE {
        1 => 0xFF,
        2 => 0xFFFF,
        _ => 0xFFFF_FFFF,
    }
}

/// Sign bit of a `SIZE`-byte operand.
#[inline(always)]
pub const fn sign_bit<const SIZE: usize>() -> u32 {
    1 << (SIZE * 8 - 1)
}

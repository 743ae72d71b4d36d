//! The interpreter's IR: one [`Op`] per guest instruction, a plain `Copy` record holding the
//! handler chosen at decode time (specialised by operation, operand size and operand form) and
//! the decoded operands, so executing it needs no further decoding.

use iced_x86::{Instruction, MemorySize, OpKind, Register};

use crate::fault::Exec;
use crate::Cpu;

/// Executes one instruction. On entry `state.eip` already points at the next instruction; on
/// `Err` the loop restores it to the instruction's own address before delivering the fault.
pub type Handler = fn(&mut Cpu, &Op) -> Exec;

/// "No register" in [`Op::base`], [`Op::index`], [`Op::r0`], [`Op::r1`].
pub const NO_REG: u8 = 0xFF;

/// [`Op::flags`] bits.
pub mod opflag {
    /// The memory operand uses 16-bit addressing (offset wraps at 64 KiB).
    pub const ADDR16: u16 = 1 << 0;
    /// REP / REPE prefix.
    pub const REP: u16 = 1 << 1;
    /// REPNE prefix.
    pub const REPNE: u16 = 1 << 2;
    /// LOCK prefix.
    pub const LOCK: u16 = 1 << 3;
    /// The instruction has a memory operand (described by base/index/scale/disp/seg).
    pub const MEM: u16 = 1 << 4;
    /// 16-bit operand size (for handlers not specialised by size).
    pub const OP16: u16 = 1 << 5;
    /// A segment override prefix was present.
    pub const SEG_OVERRIDE: u16 = 1 << 6;
}

/// One decoded instruction.
#[derive(Clone, Copy)]
pub struct Op {
    pub handler: Handler,
    /// First immediate, or a branch displacement relative to the next instruction.
    pub imm: u32,
    /// Second immediate (ENTER's level, a far pointer's selector, IMUL's third operand).
    pub imm2: u32,
    /// Memory displacement.
    pub disp: u32,
    pub flags: u16,
    /// Instruction length in bytes.
    pub len: u8,
    /// Register of operand 0 (GPR, segment, control or debug register number), or [`NO_REG`].
    pub r0: u8,
    /// Register of operand 1, or [`NO_REG`].
    pub r1: u8,
    /// Memory operand: base and index register numbers ([`NO_REG`] when absent), scale as a
    /// shift count, and the effective segment register.
    pub base: u8,
    pub index: u8,
    pub scale: u8,
    pub seg: u8,
    /// Mnemonic-specific extra byte (condition code, string element size, ...).
    pub aux: u8,
    /// For a fused pair (see `exec::fused`), the length of its first instruction; 0 for an op
    /// of one instruction.
    pub first_len: u8,
    /// Instructions from the start of the op's block through this op (a fused pair counts
    /// two), so that an op ending the block early knows how many have retired.
    pub insn_end: u8,
}

impl Op {
    /// An op with `handler` and nothing decoded.
    pub fn bare(handler: Handler, len: u8) -> Self {
        Self {
            handler,
            imm: 0,
            imm2: 0,
            disp: 0,
            flags: 0,
            len,
            r0: NO_REG,
            r1: NO_REG,
            base: NO_REG,
            index: NO_REG,
            scale: 0,
            seg: 0,
            aux: 0,
            first_len: 0,
            insn_end: 1,
        }
    }

    /// An op with `handler` and every operand of `i` decoded into the fields above.
    pub fn from_instr(i: &Instruction, handler: Handler) -> Self {
        let mut op = Self::bare(handler, i.len() as u8);
        if i.op_count() > 0 {
            op.r0 = operand_reg(i, 0);
        }
        if i.op_count() > 1 {
            op.r1 = operand_reg(i, 1);
        }
        if i.has_rep_prefix() {
            op.flags |= opflag::REP;
        }
        if i.has_repne_prefix() {
            op.flags |= opflag::REPNE;
        }
        if i.has_lock_prefix() {
            op.flags |= opflag::LOCK;
        }
        if i.segment_prefix() != Register::None {
            op.flags |= opflag::SEG_OVERRIDE;
        }
        let has_mem = (0..i.op_count()).any(|n| i.op_kind(n) == OpKind::Memory);
        let string = (0..i.op_count()).any(|n| is_string_operand(i.op_kind(n)));
        if has_mem || string {
            op.seg = sreg_number(i.memory_segment());
            if i.memory_base().size() == 2 || (string && address16(i)) {
                op.flags |= opflag::ADDR16;
            }
        }
        if has_mem {
            op.flags |= opflag::MEM;
            op.base = gpr_number(i.memory_base());
            op.index = gpr_number(i.memory_index());
            op.scale = i.memory_index_scale().trailing_zeros() as u8;
            op.disp = i.memory_displacement32();
            if i.memory_base() == Register::None
                && i.memory_index() == Register::None
                && i.memory_displ_size() == 2
            {
                op.flags |= opflag::ADDR16;
            }
        }
        if let Some(n) = (0..i.op_count()).find(|&n| is_immediate(i.op_kind(n))) {
            op.imm = i.immediate(n) as u32;
            if let Some(m) = (n + 1..i.op_count()).find(|&m| is_immediate(i.op_kind(m))) {
                op.imm2 = i.immediate(m) as u32;
            }
        }
        match i.op0_kind() {
            OpKind::NearBranch16 | OpKind::NearBranch32 => {
                op.imm = (i.near_branch_target() as u32).wrapping_sub(i.next_ip32());
            }
            OpKind::FarBranch16 | OpKind::FarBranch32 => {
                op.imm = i.far_branch32();
                op.imm2 = u32::from(i.far_branch_selector());
            }
            _ => {}
        }
        if i.memory_size() == MemorySize::Unknown && !has_mem {
            op.disp = 0;
        }
        op
    }

    #[inline(always)]
    pub fn has(&self, flag: u16) -> bool {
        self.flags & flag != 0
    }
}

fn is_immediate(kind: OpKind) -> bool {
    matches!(
        kind,
        OpKind::Immediate8
            | OpKind::Immediate8_2nd
            | OpKind::Immediate16
            | OpKind::Immediate32
            | OpKind::Immediate8to16
            | OpKind::Immediate8to32
    )
}

fn is_string_operand(kind: OpKind) -> bool {
    matches!(
        kind,
        OpKind::MemorySegSI
            | OpKind::MemorySegESI
            | OpKind::MemorySegDI
            | OpKind::MemorySegEDI
            | OpKind::MemoryESDI
            | OpKind::MemoryESEDI
    )
}

fn address16(i: &Instruction) -> bool {
    (0..i.op_count()).any(|n| {
        matches!(
            i.op_kind(n),
            OpKind::MemorySegSI | OpKind::MemorySegDI | OpKind::MemoryESDI
        )
    })
}

/// Our number for a register operand: GPRs of any size by ModRM number (AL..BH = 0..7),
/// segment, control and debug registers by their own numbers.
fn operand_reg(i: &Instruction, n: u32) -> u8 {
    if i.op_kind(n) != OpKind::Register {
        return NO_REG;
    }
    register_number(i.op_register(n))
}

/// Number of a register within its class (see [`operand_reg`]).
pub fn register_number(r: Register) -> u8 {
    if r.is_gpr8() {
        (r as u32 - Register::AL as u32) as u8
    } else if r.is_gpr16() {
        (r as u32 - Register::AX as u32) as u8
    } else if r.is_gpr32() {
        (r as u32 - Register::EAX as u32) as u8
    } else if r.is_segment_register() {
        sreg_number(r)
    } else if r.is_cr() {
        (r as u32 - Register::CR0 as u32) as u8
    } else if r.is_dr() {
        (r as u32 - Register::DR0 as u32) as u8
    } else if r.is_tr() {
        (r as u32 - Register::TR0 as u32) as u8
    } else if r.is_st() {
        (r as u32 - Register::ST0 as u32) as u8
    } else if r.is_mm() {
        (r as u32 - Register::MM0 as u32) as u8
    } else if r.is_xmm() {
        (r as u32 - Register::XMM0 as u32) as u8
    } else {
        NO_REG
    }
}

fn gpr_number(r: Register) -> u8 {
    if r == Register::None {
        NO_REG
    } else {
        register_number(r)
    }
}

fn sreg_number(r: Register) -> u8 {
    match r {
        Register::ES => 0,
        Register::CS => 1,
        Register::SS => 2,
        Register::DS => 3,
        Register::FS => 4,
        Register::GS => 5,
        _ => 3,
    }
}

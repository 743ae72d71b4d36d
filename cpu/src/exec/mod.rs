//! Instruction semantics, one file per group. Each group has a `lower` function that turns an
//! `iced-x86` instruction it owns into an [`Op`] with a handler specialised for its operation,
//! operand size and operand form; [`lower`] asks each group in turn.

use iced_x86::{Instruction, Mnemonic, OpKind};

use crate::decode::Lowered;
use crate::fault::{Exec, Fault};
use crate::ir::{Handler, Op};
use crate::state::sreg;
use crate::Cpu;

pub use branch::side_exit_jcc;
pub use fused::fuse;

mod alu;
mod atomic;
mod bcd;
mod bits;
mod branch;
mod cond;
mod control;
mod convert;
mod far;
mod flagops;
mod fused;
mod io;
mod misc;
mod mmx;
mod mov;
mod muldiv;
mod segment;
mod shift;
mod sse;
mod sse_move;
mod stack;
mod string;
mod system;
mod unary;
mod x87;

/// How many of the first groups in [`lower`] have handlers that, without a memory destination,
/// neither write memory nor set [`Cpu::end_block`] (see [`Lowered::pure`]).
const PURE_GROUPS: usize = 11;

/// Lowers a valid decoded instruction. Instructions no group implements raise #UD (logged once
/// when executed).
pub fn lower(i: &Instruction) -> Lowered {
    let groups: [fn(&Instruction) -> Option<Lowered>; 24] = [
        alu::lower,
        mov::lower,
        branch::lower,
        unary::lower,
        muldiv::lower,
        shift::lower,
        bcd::lower,
        bits::lower,
        convert::lower,
        flagops::lower,
        cond::lower,
        atomic::lower,
        stack::lower,
        control::lower,
        string::lower,
        io::lower,
        // Before `misc`, whose fallback raises #NM/#UD for the x87 opcodes.
        x87::lower,
        misc::lower,
        segment::lower,
        far::lower,
        system::lower,
        mmx::lower,
        sse::lower,
        sse_move::lower,
    ];
    for (n, group) in groups.iter().enumerate() {
        if let Some(mut lowered) = group(i) {
            lowered.pure = n < PURE_GROUPS
                && !lowered.ends_block
                && (i.op_count() == 0 || i.op0_kind() != OpKind::Memory);
            return lowered;
        }
    }
    let mut op = Op::bare(raise_unimplemented, i.len() as u8);
    op.imm = i.mnemonic() as u32;
    Lowered::ending(op)
}

/// Raises #UD for an invalid encoding.
pub fn raise_ud(_cpu: &mut Cpu, _op: &Op) -> Exec {
    Err(Fault::ud())
}

/// Raises #UD for an instruction webx86 does not implement, logging its mnemonic once.
fn raise_unimplemented(cpu: &mut Cpu, op: &Op) -> Exec {
    let name = Mnemonic::values()
        .nth(op.imm as usize)
        .map_or_else(|| format!("mnemonic #{}", op.imm), |m| format!("{m:?}"));
    cpu.log_once(&format!("unimplemented instruction {name} raises #UD"));
    Err(Fault::ud())
}

/// Operand size in bytes (1, 2 or 4) of operand `n`.
pub fn operand_size(i: &Instruction, n: u32) -> usize {
    match i.op_kind(n) {
        OpKind::Register => i.op_register(n).size(),
        OpKind::Immediate8 => 1,
        OpKind::Immediate16 | OpKind::Immediate8to16 => 2,
        OpKind::Immediate32 | OpKind::Immediate8to32 => 4,
        _ => i.memory_size().size(),
    }
}

/// Picks the handler for operand size `size` (1, 2 or 4 bytes).
#[inline]
pub fn by_size(size: usize, handlers: [Handler; 3]) -> Handler {
    match size {
        1 => handlers[0],
        2 => handlers[1],
        _ => handlers[2],
    }
}

/// Reads a `SIZE`-byte r/m operand: register `r` or, when `MEM` (chosen at decode time), the
/// op's memory operand.
#[inline(always)]
pub fn read_rm<const SIZE: usize, const MEM: bool>(
    cpu: &mut Cpu,
    op: &Op,
    r: u8,
) -> Result<u32, Fault> {
    if MEM {
        cpu.read_mem::<SIZE>(op)
    } else {
        Ok(cpu.state.reg::<SIZE>(r))
    }
}

/// Operand shapes of two-operand instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// reg, reg
    RegReg,
    /// reg, [mem]
    RegMem,
    /// [mem], reg
    MemReg,
    /// reg, imm
    RegImm,
    /// [mem], imm
    MemImm,
}

/// The shape of a two-operand instruction, if it has one of the [`Form`]s.
pub fn form(i: &Instruction) -> Option<Form> {
    if i.op_count() != 2 {
        return None;
    }
    let imm = |k: OpKind| {
        matches!(
            k,
            OpKind::Immediate8
                | OpKind::Immediate16
                | OpKind::Immediate32
                | OpKind::Immediate8to16
                | OpKind::Immediate8to32
        )
    };
    match (i.op0_kind(), i.op1_kind()) {
        (OpKind::Register, OpKind::Register) => Some(Form::RegReg),
        (OpKind::Register, OpKind::Memory) => Some(Form::RegMem),
        (OpKind::Memory, OpKind::Register) => Some(Form::MemReg),
        (OpKind::Register, k) if imm(k) => Some(Form::RegImm),
        (OpKind::Memory, k) if imm(k) => Some(Form::MemImm),
        _ => None,
    }
}

impl Cpu {
    /// A near branch to `target` (already wrapped to the operand size): #GP(0) beyond the CS limit.
    #[inline(always)]
    pub fn branch_near(&mut self, target: u32) -> Exec {
        if target > self.state.segs[sreg::CS as usize].limit {
            return Err(Fault::GP0);
        }
        self.state.eip = target;
        Ok(())
    }
}

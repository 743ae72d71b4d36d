//! Fused pairs: a 32-bit flag-setting instruction on registers (the eight ALU operations but
//! ADC/SBB, TEST, INC, DEC) followed by a Jcc runs as one op, saving a dispatch and letting
//! the condition test the operands just computed. The pair still retires
//! two instructions, and only the Jcc can fault (#GP(0) for a target beyond the CS limit): the
//! execution loop then leaves EIP at the Jcc and counts the first instruction as retired
//! ([`Op::first_len`]). The block keeps the two instructions' own ops for runs that must stop
//! between them ([`crate::Block::unfused`]). A pair inside a block (not at its end) takes the
//! side-exit form of the Jcc.

use iced_x86::{Instruction, Mnemonic, OpKind};

use super::alu::{self, compute, writes};
use super::unary::{self, record_flags, result};
use super::{form, operand_size, Form};
use crate::fault::Exec;
use crate::ir::{opflag, Handler, Op};
use crate::Cpu;

/// The op running `first` and then `jcc` (a near conditional branch), if the pair fuses: a
/// 32-bit first instruction (handlers are specialised on the condition, so a table per
/// operation and form).
///
/// With `exit`, a taken branch reports a side exit ([`crate::Fault::SIDE_EXIT`]): the pair
/// does not end its block.
pub fn fuse(
    first: &Instruction,
    first_op: &Op,
    jcc: &Instruction,
    jcc_op: &Op,
    exit: bool,
) -> Option<Op> {
    if first.has_lock_prefix() || !jcc.is_jcc_short_or_near() || operand_size(first, 0) != 4 {
        return None;
    }
    let table = if exit {
        tables::<true>(first)?
    } else {
        tables::<false>(first)?
    };
    let cc = (jcc.condition_code() as usize).wrapping_sub(1) & 15;
    let mut op = *first_op;
    op.handler = table[cc];
    op.imm2 = jcc_op.imm;
    op.len = first_op.len.checked_add(jcc_op.len)?;
    op.first_len = first_op.len;
    op.insn_end = jcc_op.insn_end;
    op.flags = (first_op.flags & !opflag::OP16) | (jcc_op.flags & opflag::OP16);
    Some(op)
}

/// The handlers, by condition code, for `i` as the first of a pair.
fn tables<const EXIT: bool>(i: &Instruction) -> Option<[Handler; 16]> {
    match i.mnemonic() {
        Mnemonic::Add => alu_tables::<{ alu::ADD }, EXIT>(i),
        Mnemonic::Or => alu_tables::<{ alu::OR }, EXIT>(i),
        Mnemonic::And => alu_tables::<{ alu::AND }, EXIT>(i),
        Mnemonic::Sub => alu_tables::<{ alu::SUB }, EXIT>(i),
        Mnemonic::Xor => alu_tables::<{ alu::XOR }, EXIT>(i),
        Mnemonic::Cmp => alu_tables::<{ alu::CMP }, EXIT>(i),
        Mnemonic::Test => alu_tables::<{ alu::TEST }, EXIT>(i),
        Mnemonic::Inc => unary_table::<{ unary::INC }, EXIT>(i),
        Mnemonic::Dec => unary_table::<{ unary::DEC }, EXIT>(i),
        _ => None,
    }
}

fn alu_tables<const OP: u8, const EXIT: bool>(i: &Instruction) -> Option<[Handler; 16]> {
    Some(match form(i)? {
        Form::RegReg => alu_table::<OP, false, EXIT>(),
        Form::RegImm => alu_table::<OP, true, EXIT>(),
        _ => return None,
    })
}

fn unary_table<const OP: u8, const EXIT: bool>(i: &Instruction) -> Option<[Handler; 16]> {
    if i.op_count() != 1 || i.op0_kind() != OpKind::Register {
        return None;
    }
    Some([
        unary_jcc::<OP, 0, EXIT>,
        unary_jcc::<OP, 1, EXIT>,
        unary_jcc::<OP, 2, EXIT>,
        unary_jcc::<OP, 3, EXIT>,
        unary_jcc::<OP, 4, EXIT>,
        unary_jcc::<OP, 5, EXIT>,
        unary_jcc::<OP, 6, EXIT>,
        unary_jcc::<OP, 7, EXIT>,
        unary_jcc::<OP, 8, EXIT>,
        unary_jcc::<OP, 9, EXIT>,
        unary_jcc::<OP, 10, EXIT>,
        unary_jcc::<OP, 11, EXIT>,
        unary_jcc::<OP, 12, EXIT>,
        unary_jcc::<OP, 13, EXIT>,
        unary_jcc::<OP, 14, EXIT>,
        unary_jcc::<OP, 15, EXIT>,
    ])
}

/// Handlers for `OP` with a register or immediate source, by condition code.
fn alu_table<const OP: u8, const IMM: bool, const EXIT: bool>() -> [Handler; 16] {
    [
        alu_jcc::<OP, IMM, 0, EXIT>,
        alu_jcc::<OP, IMM, 1, EXIT>,
        alu_jcc::<OP, IMM, 2, EXIT>,
        alu_jcc::<OP, IMM, 3, EXIT>,
        alu_jcc::<OP, IMM, 4, EXIT>,
        alu_jcc::<OP, IMM, 5, EXIT>,
        alu_jcc::<OP, IMM, 6, EXIT>,
        alu_jcc::<OP, IMM, 7, EXIT>,
        alu_jcc::<OP, IMM, 8, EXIT>,
        alu_jcc::<OP, IMM, 9, EXIT>,
        alu_jcc::<OP, IMM, 10, EXIT>,
        alu_jcc::<OP, IMM, 11, EXIT>,
        alu_jcc::<OP, IMM, 12, EXIT>,
        alu_jcc::<OP, IMM, 13, EXIT>,
        alu_jcc::<OP, IMM, 14, EXIT>,
        alu_jcc::<OP, IMM, 15, EXIT>,
    ]
}

/// `r0 OP= r1` (or `imm`), then the Jcc on condition `CC`.
fn alu_jcc<const OP: u8, const IMM: bool, const CC: u8, const EXIT: bool>(
    cpu: &mut Cpu,
    op: &Op,
) -> Exec {
    let s = &mut cpu.state;
    let b = if IMM { op.imm } else { s.reg::<4>(op.r1) };
    let res = compute::<OP, 4>(s, s.reg::<4>(op.r0), b);
    if writes(OP) {
        s.set_reg::<4>(op.r0, res);
    }
    jcc::<CC, EXIT>(cpu, op)
}

/// INC or DEC of `r0`, then the Jcc on condition `CC`.
fn unary_jcc<const OP: u8, const CC: u8, const EXIT: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    let s = &mut cpu.state;
    let a = s.reg::<4>(op.r0);
    let res = result::<OP, 4>(a);
    s.set_reg::<4>(op.r0, res);
    record_flags::<OP, 4>(s, a, res);
    jcc::<CC, EXIT>(cpu, op)
}

/// The Jcc half: displacement `imm2` from the end of the pair; with `EXIT`, a taken branch
/// reports a side exit.
#[inline(always)]
fn jcc<const CC: u8, const EXIT: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    if cpu.state.condition(CC) {
        let mut target = cpu.state.eip.wrapping_add(op.imm2);
        if op.has(opflag::OP16) {
            target &= 0xFFFF;
        }
        cpu.branch_near(target)?;
        if EXIT {
            return Err(crate::Fault::SIDE_EXIT);
        }
    }
    Ok(())
}

//! Relative jumps: Jcc and JMP rel8/rel16/rel32.

use iced_x86::{Instruction, Mnemonic, OpKind};

use crate::decode::Lowered;
use crate::fault::Exec;
use crate::ir::{opflag, Op};
use crate::Cpu;

pub(super) fn lower(i: &Instruction) -> Option<Lowered> {
    let near16 = match i.op0_kind() {
        OpKind::NearBranch16 => true,
        OpKind::NearBranch32 => false,
        _ => return None,
    };
    let handler = match i.mnemonic() {
        Mnemonic::Jmp => jmp_rel,
        m if i.condition_code() != iced_x86::ConditionCode::None && m != Mnemonic::Loop => jcc,
        _ => return None,
    };
    if !matches!(i.mnemonic(), Mnemonic::Jmp) && !is_jcc(i.mnemonic()) {
        return None;
    }
    let mut op = Op::from_instr(i, handler);
    op.aux = (i.condition_code() as u8).wrapping_sub(1);
    if near16 {
        op.flags |= opflag::OP16;
    }
    Some(Lowered::ending(op))
}

fn is_jcc(m: Mnemonic) -> bool {
    matches!(
        m,
        Mnemonic::Jo
            | Mnemonic::Jno
            | Mnemonic::Jb
            | Mnemonic::Jae
            | Mnemonic::Je
            | Mnemonic::Jne
            | Mnemonic::Jbe
            | Mnemonic::Ja
            | Mnemonic::Js
            | Mnemonic::Jns
            | Mnemonic::Jp
            | Mnemonic::Jnp
            | Mnemonic::Jl
            | Mnemonic::Jge
            | Mnemonic::Jle
            | Mnemonic::Jg
    )
}

/// EIP + displacement, wrapped to 16 bits for 16-bit operand size.
#[inline(always)]
pub(crate) fn relative_target(cpu: &Cpu, op: &Op) -> u32 {
    let target = cpu.state.eip.wrapping_add(op.imm);
    if op.has(opflag::OP16) {
        target & 0xFFFF
    } else {
        target
    }
}

fn jmp_rel(cpu: &mut Cpu, op: &Op) -> Exec {
    let target = relative_target(cpu, op);
    cpu.branch_near(target)
}

fn jcc(cpu: &mut Cpu, op: &Op) -> Exec {
    if cpu.state.condition(op.aux) {
        let target = relative_target(cpu, op);
        cpu.branch_near(target)
    } else {
        Ok(())
    }
}

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
        m if is_jcc(m) => JCC[(i.condition_code() as usize).wrapping_sub(1) & 15],
        _ => return None,
    };
    let mut op = Op::from_instr(i, handler);
    if near16 {
        op.flags |= opflag::OP16;
    }
    Some(Lowered::op(op))
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

/// Jcc handlers by condition code (iced's `ConditionCode` minus one is the encoding's nibble).
const JCC: [crate::ir::Handler; 16] = [
    jcc::<0>, jcc::<1>, jcc::<2>, jcc::<3>, jcc::<4>, jcc::<5>, jcc::<6>, jcc::<7>, jcc::<8>,
    jcc::<9>, jcc::<10>, jcc::<11>, jcc::<12>, jcc::<13>, jcc::<14>, jcc::<15>,
];

fn jcc<const CC: u8>(cpu: &mut Cpu, op: &Op) -> Exec {
    if cpu.state.condition(CC) {
        let target = relative_target(cpu, op);
        cpu.branch_near(target)
    } else {
        Ok(())
    }
}

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
        m if is_jcc(m) => {
            JCC[usize::from(near16)][(i.condition_code() as usize).wrapping_sub(1) & 15]
        }
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

/// Jcc handlers by operand size (16-bit targets wrap at 64 KiB) and condition code (iced's
/// `ConditionCode` minus one is the encoding's nibble).
const JCC: [[crate::ir::Handler; 16]; 2] = [
    [
        jcc::<0, false>,
        jcc::<1, false>,
        jcc::<2, false>,
        jcc::<3, false>,
        jcc::<4, false>,
        jcc::<5, false>,
        jcc::<6, false>,
        jcc::<7, false>,
        jcc::<8, false>,
        jcc::<9, false>,
        jcc::<10, false>,
        jcc::<11, false>,
        jcc::<12, false>,
        jcc::<13, false>,
        jcc::<14, false>,
        jcc::<15, false>,
    ],
    [
        jcc::<0, true>,
        jcc::<1, true>,
        jcc::<2, true>,
        jcc::<3, true>,
        jcc::<4, true>,
        jcc::<5, true>,
        jcc::<6, true>,
        jcc::<7, true>,
        jcc::<8, true>,
        jcc::<9, true>,
        jcc::<10, true>,
        jcc::<11, true>,
        jcc::<12, true>,
        jcc::<13, true>,
        jcc::<14, true>,
        jcc::<15, true>,
    ],
];

fn jcc<const CC: u8, const OP16: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    if cpu.state.condition(CC) {
        let mut target = cpu.state.eip.wrapping_add(op.imm);
        if OP16 {
            target &= 0xFFFF;
        }
        cpu.branch_near(target)
    } else {
        Ok(())
    }
}

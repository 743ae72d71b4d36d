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
            let cc = (i.condition_code() as usize).wrapping_sub(1) & 15;
            if near16 {
                jcc_table::<true, false>()[cc]
            } else {
                jcc_table::<false, false>()[cc]
            }
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

/// The side-exit form of the Jcc `i` (see [`crate::Fault::SIDE_EXIT`]), for a Jcc that does
/// not end its block.
pub fn side_exit_jcc(i: &Instruction) -> Option<crate::ir::Handler> {
    let near16 = match i.op0_kind() {
        OpKind::NearBranch16 => true,
        OpKind::NearBranch32 => false,
        _ => return None,
    };
    if !is_jcc(i.mnemonic()) {
        return None;
    }
    let cc = (i.condition_code() as usize).wrapping_sub(1) & 15;
    Some(if near16 {
        jcc_table::<true, true>()[cc]
    } else {
        jcc_table::<false, true>()[cc]
    })
}

/// Jcc handlers by condition code (iced's `ConditionCode` minus one is the encoding's nibble).
fn jcc_table<const OP16: bool, const EXIT: bool>() -> [crate::ir::Handler; 16] {
    [
        jcc::<0, OP16, EXIT>,
        jcc::<1, OP16, EXIT>,
        jcc::<2, OP16, EXIT>,
        jcc::<3, OP16, EXIT>,
        jcc::<4, OP16, EXIT>,
        jcc::<5, OP16, EXIT>,
        jcc::<6, OP16, EXIT>,
        jcc::<7, OP16, EXIT>,
        jcc::<8, OP16, EXIT>,
        jcc::<9, OP16, EXIT>,
        jcc::<10, OP16, EXIT>,
        jcc::<11, OP16, EXIT>,
        jcc::<12, OP16, EXIT>,
        jcc::<13, OP16, EXIT>,
        jcc::<14, OP16, EXIT>,
        jcc::<15, OP16, EXIT>,
    ]
}

/// Jcc on condition `CC`; 16-bit targets wrap at 64 KiB. With `EXIT`, a taken branch reports
/// a side exit.
fn jcc<const CC: u8, const OP16: bool, const EXIT: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    if cpu.state.condition(CC) {
        let mut target = cpu.state.eip.wrapping_add(op.imm);
        if OP16 {
            target &= 0xFFFF;
        }
        cpu.branch_near(target)?;
        if EXIT {
            return Err(crate::Fault::SIDE_EXIT);
        }
    }
    Ok(())
}

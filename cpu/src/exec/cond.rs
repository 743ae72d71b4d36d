//! Conditional data instructions: SETcc and CMOVcc.

use iced_x86::{ConditionCode, Instruction, Mnemonic, OpKind};

use super::{operand_size, read_rm};
use crate::decode::Lowered;
use crate::fault::Exec;
use crate::ir::{Handler, Op};
use crate::Cpu;

pub(super) fn lower(i: &Instruction) -> Option<Lowered> {
    if i.condition_code() == ConditionCode::None {
        return None;
    }
    let mem = |n| i.op_kind(n) == OpKind::Memory;
    let handler: Handler = if is_setcc(i.mnemonic()) {
        if mem(0) {
            set_mem
        } else {
            set_reg
        }
    } else if is_cmovcc(i.mnemonic()) {
        match (operand_size(i, 0), mem(1)) {
            (2, false) => cmov::<2, false>,
            (2, true) => cmov::<2, true>,
            (_, false) => cmov::<4, false>,
            (_, true) => cmov::<4, true>,
        }
    } else {
        return None;
    };
    let mut op = Op::from_instr(i, handler);
    op.aux = (i.condition_code() as u8).wrapping_sub(1);
    Some(Lowered::op(op))
}

fn is_setcc(m: Mnemonic) -> bool {
    use Mnemonic::*;
    matches!(
        m,
        Seto | Setno
            | Setb
            | Setae
            | Sete
            | Setne
            | Setbe
            | Seta
            | Sets
            | Setns
            | Setp
            | Setnp
            | Setl
            | Setge
            | Setle
            | Setg
    )
}

fn is_cmovcc(m: Mnemonic) -> bool {
    use Mnemonic::*;
    matches!(
        m,
        Cmovo
            | Cmovno
            | Cmovb
            | Cmovae
            | Cmove
            | Cmovne
            | Cmovbe
            | Cmova
            | Cmovs
            | Cmovns
            | Cmovp
            | Cmovnp
            | Cmovl
            | Cmovge
            | Cmovle
            | Cmovg
    )
}

/// SETcc r8.
fn set_reg(cpu: &mut Cpu, op: &Op) -> Exec {
    let value = cpu.state.condition(op.aux) as u32;
    cpu.state.set_reg::<1>(op.r0, value);
    Ok(())
}

/// SETcc m8.
fn set_mem(cpu: &mut Cpu, op: &Op) -> Exec {
    let value = cpu.state.condition(op.aux) as u32;
    cpu.write_mem::<1>(op, value)
}

/// CMOVcc: the source is read (and may fault) whatever the condition.
fn cmov<const SIZE: usize, const MEM: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    let value = read_rm::<SIZE, MEM>(cpu, op, op.r1)?;
    if cpu.state.condition(op.aux) {
        cpu.state.set_reg::<SIZE>(op.r0, value);
    }
    Ok(())
}

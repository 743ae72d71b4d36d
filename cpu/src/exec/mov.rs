//! MOV between general registers, memory and immediates; LEA; NOP.

use iced_x86::{Instruction, Mnemonic, OpKind};

use super::{by_size, form, operand_size, Form};
use crate::decode::Lowered;
use crate::fault::Exec;
use crate::ir::{opflag, Op};
use crate::Cpu;

pub(super) fn lower(i: &Instruction) -> Option<Lowered> {
    let handler = match i.mnemonic() {
        Mnemonic::Mov => {
            let gpr = |n| i.op_kind(n) != OpKind::Register || i.op_register(n).is_gpr();
            if !gpr(0) || !gpr(1) {
                return None; // segment, control, debug and test registers: other groups
            }
            let size = operand_size(i, 0);
            match form(i)? {
                Form::RegReg => by_size(size, [reg_reg::<1>, reg_reg::<2>, reg_reg::<4>]),
                Form::RegMem => by_size(size, [load::<1>, load::<2>, load::<4>]),
                Form::MemReg => by_size(size, [store::<1>, store::<2>, store::<4>]),
                Form::RegImm => by_size(size, [reg_imm::<1>, reg_imm::<2>, reg_imm::<4>]),
                Form::MemImm => by_size(size, [store_imm::<1>, store_imm::<2>, store_imm::<4>]),
            }
        }
        Mnemonic::Lea => by_size(operand_size(i, 0), [lea::<2>, lea::<2>, lea::<4>]),
        Mnemonic::Nop => nop,
        _ => return None,
    };
    let mut op = Op::from_instr(i, handler);
    if i.mnemonic() == Mnemonic::Lea {
        op.flags &= !opflag::MEM;
    }
    Some(Lowered::op(op))
}

fn reg_reg<const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let value = cpu.state.reg::<SIZE>(op.r1);
    cpu.state.set_reg::<SIZE>(op.r0, value);
    Ok(())
}

fn reg_imm<const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.state.set_reg::<SIZE>(op.r0, op.imm);
    Ok(())
}

fn load<const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let value = cpu.read_mem::<SIZE>(op)?;
    cpu.state.set_reg::<SIZE>(op.r0, value);
    Ok(())
}

fn store<const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let value = cpu.state.reg::<SIZE>(op.r1);
    cpu.write_mem::<SIZE>(op, value)
}

fn store_imm<const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.write_mem::<SIZE>(op, op.imm)
}

/// LEA: the effective address (already wrapped to the address size), truncated to the
/// operand size.
fn lea<const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let addr = cpu.ea(op);
    cpu.state.set_reg::<SIZE>(op.r0, addr);
    Ok(())
}

fn nop(_cpu: &mut Cpu, _op: &Op) -> Exec {
    Ok(())
}

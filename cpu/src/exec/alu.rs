//! The eight classic two-operand ALU operations and TEST.

use iced_x86::{Instruction, Mnemonic};

use super::{by_size, form, operand_size, Form};
use crate::decode::Lowered;
use crate::fault::Exec;
use crate::flags::op as lazy;
use crate::ir::{Handler, Op};
use crate::state::{size_mask, CpuState};
use crate::Cpu;

pub(super) const ADD: u8 = 0;
pub(super) const OR: u8 = 1;
const ADC: u8 = 2;
const SBB: u8 = 3;
pub(super) const AND: u8 = 4;
pub(super) const SUB: u8 = 5;
pub(super) const XOR: u8 = 6;
pub(super) const CMP: u8 = 7;
pub(super) const TEST: u8 = 8;

pub(super) fn lower(i: &Instruction) -> Option<Lowered> {
    let handler = match i.mnemonic() {
        Mnemonic::Add => handler::<ADD>(i)?,
        Mnemonic::Or => handler::<OR>(i)?,
        Mnemonic::Adc => handler::<ADC>(i)?,
        Mnemonic::Sbb => handler::<SBB>(i)?,
        Mnemonic::And => handler::<AND>(i)?,
        Mnemonic::Sub => handler::<SUB>(i)?,
        Mnemonic::Xor => handler::<XOR>(i)?,
        Mnemonic::Cmp => handler::<CMP>(i)?,
        Mnemonic::Test => handler::<TEST>(i)?,
        _ => return None,
    };
    Some(Lowered::op(Op::from_instr(i, handler)))
}

fn handler<const OP: u8>(i: &Instruction) -> Option<Handler> {
    let size = operand_size(i, 0);
    Some(match form(i)? {
        Form::RegReg => by_size(size, [reg_reg::<OP, 1>, reg_reg::<OP, 2>, reg_reg::<OP, 4>]),
        Form::RegMem => by_size(size, [reg_mem::<OP, 1>, reg_mem::<OP, 2>, reg_mem::<OP, 4>]),
        Form::MemReg => by_size(size, [mem_reg::<OP, 1>, mem_reg::<OP, 2>, mem_reg::<OP, 4>]),
        Form::RegImm => by_size(size, [reg_imm::<OP, 1>, reg_imm::<OP, 2>, reg_imm::<OP, 4>]),
        Form::MemImm => by_size(size, [mem_imm::<OP, 1>, mem_imm::<OP, 2>, mem_imm::<OP, 4>]),
    })
}

/// Whether the operation stores its result (CMP and TEST only set flags).
pub(super) const fn writes(op: u8) -> bool {
    op != CMP && op != TEST
}

/// Computes `a OP b` on `SIZE`-byte operands and records the flags.
#[inline(always)]
pub(crate) fn compute<const OP: u8, const SIZE: usize>(s: &mut CpuState, a: u32, b: u32) -> u32 {
    let mask = size_mask::<SIZE>();
    let (a, b) = (a & mask, b & mask);
    let (kind, res, carry) = match OP {
        ADD => (lazy::ADD, a.wrapping_add(b), false),
        OR => (lazy::LOGIC, a | b, false),
        ADC => {
            let c = s.cf();
            (lazy::ADD, a.wrapping_add(b).wrapping_add(c as u32), c)
        }
        SBB => {
            let c = s.cf();
            (lazy::SUB, a.wrapping_sub(b).wrapping_sub(c as u32), c)
        }
        AND | TEST => (lazy::LOGIC, a & b, false),
        SUB | CMP => (lazy::SUB, a.wrapping_sub(b), false),
        _ => (lazy::LOGIC, a ^ b, false),
    };
    let res = res & mask;
    s.set_lazy(kind, SIZE, res, a, b, carry);
    res
}

fn reg_reg<const OP: u8, const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let s = &mut cpu.state;
    let res = compute::<OP, SIZE>(s, s.reg::<SIZE>(op.r0), s.reg::<SIZE>(op.r1));
    if writes(OP) {
        s.set_reg::<SIZE>(op.r0, res);
    }
    Ok(())
}

fn reg_imm<const OP: u8, const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let s = &mut cpu.state;
    let res = compute::<OP, SIZE>(s, s.reg::<SIZE>(op.r0), op.imm);
    if writes(OP) {
        s.set_reg::<SIZE>(op.r0, res);
    }
    Ok(())
}

fn reg_mem<const OP: u8, const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let b = cpu.read_mem::<SIZE>(op)?;
    let s = &mut cpu.state;
    let res = compute::<OP, SIZE>(s, s.reg::<SIZE>(op.r0), b);
    if writes(OP) {
        s.set_reg::<SIZE>(op.r0, res);
    }
    Ok(())
}

/// `[mem] OP= b`: the store happens before the flags are recorded, so a faulting store
/// leaves the flags as they were.
#[inline(always)]
fn mem_with<const OP: u8, const SIZE: usize>(cpu: &mut Cpu, op: &Op, b: u32) -> Exec {
    if !writes(OP) {
        let a = cpu.read_mem::<SIZE>(op)?;
        compute::<OP, SIZE>(&mut cpu.state, a, b);
        return Ok(());
    }
    let lin = cpu.rmw_lin::<SIZE>(op)?;
    let a = cpu.read_lin::<SIZE>(lin)?;
    let saved = cpu.state.lazy;
    let saved_flags = cpu.state.eflags;
    let res = compute::<OP, SIZE>(&mut cpu.state, a, b);
    if let Err(fault) = cpu.write_lin::<SIZE>(lin, res) {
        cpu.state.lazy = saved;
        cpu.state.eflags = saved_flags;
        return Err(fault);
    }
    Ok(())
}

fn mem_reg<const OP: u8, const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let b = cpu.state.reg::<SIZE>(op.r1);
    mem_with::<OP, SIZE>(cpu, op, b)
}

fn mem_imm<const OP: u8, const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    mem_with::<OP, SIZE>(cpu, op, op.imm)
}

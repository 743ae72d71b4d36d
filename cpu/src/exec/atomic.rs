//! Exchanges: XCHG, XADD, CMPXCHG, CMPXCHG8B.
//!
//! LOCK needs no work in a single-CPU interpreter: every instruction is already atomic with
//! respect to the guest. The decoder (iced-x86) rejects LOCK on instructions and operand forms
//! that do not allow it, and those become #UD (SDM vol. 2A "LOCK"). The memory forms check
//! the destination for writing before reading it, as the locked read does, so a read-only
//! page faults as a write.

use iced_x86::{Instruction, Mnemonic, OpKind};

use super::{by_size, operand_size};
use crate::decode::Lowered;
use crate::fault::Exec;
use crate::flags::op as lazy;
use crate::ir::{Handler, Op};
use crate::state::{flag, reg, size_mask};
use crate::Cpu;

const XCHG: u8 = 0;
const XADD: u8 = 1;
const CMPXCHG: u8 = 2;

pub(super) fn lower(i: &Instruction) -> Option<Lowered> {
    let handler: Handler = match i.mnemonic() {
        Mnemonic::Xchg => forms::<XCHG>(i)?,
        Mnemonic::Xadd => forms::<XADD>(i)?,
        Mnemonic::Cmpxchg => forms::<CMPXCHG>(i)?,
        Mnemonic::Cmpxchg8b if i.op0_kind() == OpKind::Memory => cmpxchg8b,
        _ => return None,
    };
    Some(Lowered::op(Op::from_instr(i, handler)))
}

fn forms<const OP: u8>(i: &Instruction) -> Option<Handler> {
    if i.op_count() != 2 || i.op1_kind() != OpKind::Register {
        return None;
    }
    let size = operand_size(i, 0);
    Some(match i.op0_kind() {
        OpKind::Register => by_size(size, [reg_reg::<OP, 1>, reg_reg::<OP, 2>, reg_reg::<OP, 4>]),
        OpKind::Memory => by_size(size, [mem_reg::<OP, 1>, mem_reg::<OP, 2>, mem_reg::<OP, 4>]),
        _ => return None,
    })
}

/// Register destination `r0`, register source `r1`.
fn reg_reg<const OP: u8, const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let s = &mut cpu.state;
    let dest = s.reg::<SIZE>(op.r0);
    let src = s.reg::<SIZE>(op.r1);
    match OP {
        XCHG => {
            s.set_reg::<SIZE>(op.r0, src);
            s.set_reg::<SIZE>(op.r1, dest);
        }
        XADD => {
            let sum = dest.wrapping_add(src) & size_mask::<SIZE>();
            s.set_reg::<SIZE>(op.r1, dest);
            s.set_reg::<SIZE>(op.r0, sum);
            s.set_lazy(lazy::ADD, SIZE, sum, dest, src, false);
        }
        _ => {
            let acc = s.reg::<SIZE>(reg::EAX);
            let diff = acc.wrapping_sub(dest) & size_mask::<SIZE>();
            if acc == dest {
                s.set_reg::<SIZE>(op.r0, src);
            } else {
                s.set_reg::<SIZE>(reg::EAX, dest);
            }
            s.set_lazy(lazy::SUB, SIZE, diff, acc, dest, false);
        }
    }
    Ok(())
}

/// Memory destination, register source `r1`. CMPXCHG always writes the destination (its old
/// value when the comparison fails), as the SDM describes for the locked bus cycle.
fn mem_reg<const OP: u8, const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let lin = cpu.rmw_lin::<SIZE>(op)?;
    let dest = cpu.read_lin::<SIZE>(lin)?;
    let s = &cpu.state;
    let src = s.reg::<SIZE>(op.r1);
    match OP {
        XCHG => {
            cpu.write_lin::<SIZE>(lin, src)?;
            cpu.state.set_reg::<SIZE>(op.r1, dest);
        }
        XADD => {
            let sum = dest.wrapping_add(src) & size_mask::<SIZE>();
            cpu.write_lin::<SIZE>(lin, sum)?;
            let s = &mut cpu.state;
            s.set_reg::<SIZE>(op.r1, dest);
            s.set_lazy(lazy::ADD, SIZE, sum, dest, src, false);
        }
        _ => {
            let acc = s.reg::<SIZE>(reg::EAX);
            let equal = acc == dest;
            cpu.write_lin::<SIZE>(lin, if equal { src } else { dest })?;
            let s = &mut cpu.state;
            if !equal {
                s.set_reg::<SIZE>(reg::EAX, dest);
            }
            let diff = acc.wrapping_sub(dest) & size_mask::<SIZE>();
            s.set_lazy(lazy::SUB, SIZE, diff, acc, dest, false);
        }
    }
    Ok(())
}

/// CMPXCHG8B m64: compares EDX:EAX with the quadword; equal stores ECX:EBX and sets ZF,
/// otherwise loads EDX:EAX (writing the old value back) and clears ZF. Only ZF changes.
fn cmpxchg8b(cpu: &mut Cpu, op: &Op) -> Exec {
    let lin = cpu.rmw_lin::<8>(op)?;
    let low = cpu.read_lin::<4>(lin)?;
    let high = cpu.read_lin::<4>(lin.wrapping_add(4))?;
    let r = cpu.state.regs;
    let equal = low == r[reg::EAX as usize] && high == r[reg::EDX as usize];
    let (new_low, new_high) = if equal {
        (r[reg::EBX as usize], r[reg::ECX as usize])
    } else {
        (low, high)
    };
    cpu.write_lin::<4>(lin, new_low)?;
    cpu.write_lin::<4>(lin.wrapping_add(4), new_high)?;
    let s = &mut cpu.state;
    if !equal {
        s.regs[reg::EAX as usize] = low;
        s.regs[reg::EDX as usize] = high;
    }
    s.set_arith_flags(flag::ZF, if equal { flag::ZF } else { 0 });
    Ok(())
}

//! One-operand arithmetic: INC, DEC, NEG, NOT on a register or memory (read-modify-write,
//! LOCK allowed on the memory forms).

use iced_x86::{Instruction, Mnemonic, OpKind};

use super::{by_size, operand_size};
use crate::decode::Lowered;
use crate::fault::Exec;
use crate::flags::op as lazy;
use crate::ir::Op;
use crate::state::{size_mask, CpuState};
use crate::Cpu;

pub(super) const INC: u8 = 0;
pub(super) const DEC: u8 = 1;
const NEG: u8 = 2;
const NOT: u8 = 3;

pub(super) fn lower(i: &Instruction) -> Option<Lowered> {
    let handler = match i.mnemonic() {
        Mnemonic::Inc => forms::<INC>(i)?,
        Mnemonic::Dec => forms::<DEC>(i)?,
        Mnemonic::Neg => forms::<NEG>(i)?,
        Mnemonic::Not => forms::<NOT>(i)?,
        _ => return None,
    };
    Some(Lowered::op(Op::from_instr(i, handler)))
}

fn forms<const OP: u8>(i: &Instruction) -> Option<crate::ir::Handler> {
    if i.op_count() != 1 {
        return None;
    }
    let size = operand_size(i, 0);
    Some(match i.op0_kind() {
        OpKind::Register => by_size(size, [reg::<OP, 1>, reg::<OP, 2>, reg::<OP, 4>]),
        OpKind::Memory => by_size(size, [mem::<OP, 1>, mem::<OP, 2>, mem::<OP, 4>]),
        _ => return None,
    })
}

/// The result of `OP` on `a` (masked to the operand size).
#[inline(always)]
pub(super) fn result<const OP: u8, const SIZE: usize>(a: u32) -> u32 {
    let res = match OP {
        INC => a.wrapping_add(1),
        DEC => a.wrapping_sub(1),
        NEG => a.wrapping_neg(),
        _ => !a,
    };
    res & size_mask::<SIZE>()
}

/// Records the flags of `OP` (NOT changes none; INC and DEC keep CF; NEG is `0 - a`).
#[inline(always)]
pub(super) fn record_flags<const OP: u8, const SIZE: usize>(s: &mut CpuState, a: u32, res: u32) {
    match OP {
        INC => s.set_lazy_keep_cf(lazy::INC, SIZE, res, a),
        DEC => s.set_lazy_keep_cf(lazy::DEC, SIZE, res, a),
        NEG => s.set_lazy(lazy::SUB, SIZE, res, 0, a, false),
        _ => {}
    }
}

fn reg<const OP: u8, const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let s = &mut cpu.state;
    let a = s.reg::<SIZE>(op.r0);
    let res = result::<OP, SIZE>(a);
    s.set_reg::<SIZE>(op.r0, res);
    record_flags::<OP, SIZE>(s, a, res);
    Ok(())
}

/// Memory form: the write is checked before the read (as the locked read-modify-write does),
/// and flags are recorded only once the store has happened.
fn mem<const OP: u8, const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let lin = cpu.rmw_lin::<SIZE>(op)?;
    let a = cpu.read_lin::<SIZE>(lin)?;
    let res = result::<OP, SIZE>(a);
    cpu.write_lin::<SIZE>(lin, res)?;
    record_flags::<OP, SIZE>(&mut cpu.state, a, res);
    Ok(())
}

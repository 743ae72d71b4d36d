//! FADD/FMUL/FSUB/FSUBR/FDIV/FDIVR in all operand forms (and their integer FI* and popping
//! P forms), the FCOM/FUCOM/FICOM families, FCOMI/FUCOMI and FTST.

use super::fmt;
use crate::fault::Exec;
use crate::fpu::compare::{compare, Relation};
use crate::fpu::float80::{exc, Rounded, Rounding, F80};
use crate::fpu::{arith, load_store, sw};
use crate::ir::Op;
use crate::state::flag;
use crate::Cpu;

/// Operations, numbered as the ModRM reg field of D8/DC numbers them.
pub const ADD: u8 = 0;
pub const MUL: u8 = 1;
pub const COM: u8 = 2;
pub const COMP: u8 = 3;
pub const SUB: u8 = 4;
pub const SUBR: u8 = 5;
pub const DIV: u8 = 6;
pub const DIVR: u8 = 7;

/// `dest OP src` with precision control.
#[inline(always)]
fn compute<const OP: u8>(dest: F80, src: F80, control: u16) -> Rounded {
    let r = Rounding::controlled(control);
    match OP {
        ADD => arith::add(dest, src, false, &r),
        MUL => arith::mul(dest, src, &r),
        SUB => arith::add(dest, src, true, &r),
        SUBR => arith::add(src, dest, true, &r),
        DIV => arith::div(dest, src, &r),
        _ => arith::div(src, dest, &r),
    }
}

/// Reads a memory source operand of format `FMT` as an extended value, with DE for a
/// denormal single or double.
#[inline(always)]
pub(super) fn read_source<const FMT: u8>(
    cpu: &mut Cpu,
    op: &Op,
) -> Result<(F80, u16), crate::Fault> {
    Ok(match FMT {
        fmt::M32 => load_store::from_real(u64::from(cpu.read_mem::<4>(op)?), load_store::SINGLE),
        fmt::M64 => {
            let offset = cpu.ea(op);
            let b = cpu.fpu_read::<8>(op.seg, offset)?;
            load_store::from_real(u64::from_le_bytes(b), load_store::DOUBLE)
        }
        fmt::I16 => (
            load_store::from_i64(i64::from(cpu.read_mem::<2>(op)? as u16 as i16)),
            0,
        ),
        _ => (
            load_store::from_i64(i64::from(cpu.read_mem::<4>(op)? as i32)),
            0,
        ),
    })
}

pub fn arith_mem<const OP: u8, const FMT: u8>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.fpu_enter(true)?;
    let (src, src_flags) = read_source::<FMT>(cpu, op)?;
    let offset = cpu.ea(op);
    cpu.fpu_note(op, Some(offset));
    let fpu = &mut cpu.state.fpu;
    if OP == COM || OP == COMP {
        compare_with(fpu, 0, src, src_flags, false, (OP == COMP) as u8);
        return Ok(());
    }
    if fpu.empty(0) {
        fpu.underflow(Some(0));
        return Ok(());
    }
    let dest = fpu.st(0);
    let mut result = compute::<OP>(dest, src, fpu.control);
    // A denormal single/double source raises DE unless a NaN operand decided the result or
    // the operation was invalid or a zero divide, which take priority.
    if arith::nan_operands(dest, src).is_none() && result.flags & (exc::IE | exc::ZE) == 0 {
        result.flags |= src_flags;
    }
    fpu.deliver(0, result, false);
    Ok(())
}

/// Register forms: `st0_sti` (DEST_I false: ST(0) ← ST(0) OP ST(i)) and `sti_st0` (DEST_I true:
/// ST(i) ← ST(i) OP ST(0)), popping afterwards when POP.
pub fn arith_reg<const OP: u8, const DEST_I: bool, const POP: bool>(
    cpu: &mut Cpu,
    op: &Op,
) -> Exec {
    cpu.fpu_enter(true)?;
    cpu.fpu_note(op, None);
    let fpu = &mut cpu.state.fpu;
    let (dest, src) = if DEST_I { (op.aux, 0) } else { (0, op.aux) };
    if fpu.empty(dest) || fpu.empty(src) {
        if fpu.underflow(Some(dest)) && POP {
            fpu.pop();
        }
        return Ok(());
    }
    let result = compute::<OP>(fpu.st(dest), fpu.st(src), fpu.control);
    fpu.deliver(dest, result, POP);
    Ok(())
}

/// Compares ST(`a`) with `b` and sets C3/C2/C0 (C1 cleared), popping `pops` times. An empty
/// ST(`a`) is a stack underflow (masked: unordered).
fn compare_with(
    fpu: &mut crate::state::FpuState,
    a: u8,
    b: F80,
    b_flags: u16,
    quiet: bool,
    pops: u8,
) {
    let (relation, flags) = if fpu.empty(a) {
        let masked = fpu.underflow(None);
        fpu.set_cc(sw::CC, Relation::Unordered.condition_codes());
        if !masked {
            return;
        }
        (Relation::Unordered, 0)
    } else {
        let (relation, mut flags) = compare(fpu.st(a), b, quiet);
        // A denormal memory operand counts only when the comparison was ordered.
        if relation != Relation::Unordered {
            flags |= b_flags;
        }
        (relation, flags)
    };
    // The condition codes are set even when an unmasked exception suppresses the pops.
    fpu.set_cc(sw::CC, relation.condition_codes());
    fpu.raise(flags);
    if fpu.suppressed(flags) {
        return;
    }
    for _ in 0..pops {
        fpu.pop();
    }
}

/// FCOM/FCOMP/FCOMPP ST(i) and the FUCOM forms (QUIET).
pub fn compare_reg<const QUIET: bool, const POPS: u8>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.fpu_enter(true)?;
    cpu.fpu_note(op, None);
    let fpu = &mut cpu.state.fpu;
    if fpu.empty(op.aux) {
        let masked = fpu.underflow(None);
        fpu.set_cc(sw::CC, Relation::Unordered.condition_codes());
        if masked {
            for _ in 0..POPS {
                fpu.pop();
            }
        }
        return Ok(());
    }
    let b = fpu.st(op.aux);
    compare_with(fpu, 0, b, 0, QUIET, POPS);
    Ok(())
}

/// FTST: compare ST(0) with +0.0.
pub fn test_zero(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.fpu_enter(true)?;
    cpu.fpu_note(op, None);
    compare_with(&mut cpu.state.fpu, 0, F80::zero(false), 0, false, 0);
    Ok(())
}

/// FCOMI/FUCOMI/FCOMIP/FUCOMIP: the relation in ZF/PF/CF (OF, SF, AF cleared).
pub fn compare_eflags<const QUIET: bool, const POP: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.fpu_enter(true)?;
    cpu.fpu_note(op, None);
    let fpu = &mut cpu.state.fpu;
    // EFLAGS are set even when an unmasked exception suppresses the pop.
    let (relation, pop) = if fpu.empty(0) || fpu.empty(op.aux) {
        (Relation::Unordered, fpu.underflow(None))
    } else {
        let (relation, flags) = compare(fpu.st(0), fpu.st(op.aux), QUIET);
        fpu.raise(flags);
        (relation, !fpu.suppressed(flags))
    };
    if POP && pop {
        fpu.pop();
    }
    let all = flag::ZF | flag::PF | flag::CF | flag::OF | flag::SF | flag::AF;
    cpu.state.set_arith_flags(all, relation.eflags());
    Ok(())
}

//! Operations on the top of the stack: FSQRT, FRNDINT, F2XM1, FSIN, FCOS (ST(0) only);
//! FSCALE, FPREM, FPREM1 (ST(0) with ST(1)); FPATAN, FYL2X, FYL2XP1 (into ST(1), popping);
//! FXTRACT, FPTAN, FSINCOS (replacing ST(0) and pushing).

use crate::fault::Exec;
use crate::fpu::arith::{self, Reduction};
use crate::fpu::float80::{exc, Rounded, Rounding, F80};
use crate::fpu::sw;
use crate::fpu::transcendental::{self as tr, Trig};
use crate::ir::Op;
use crate::state::FpuState;
use crate::Cpu;

pub const SQRT: u8 = 0;
pub const RNDINT: u8 = 1;
pub const F2XM1: u8 = 2;
pub const SIN: u8 = 3;
pub const COS: u8 = 4;

pub const SCALE: u8 = 0;
pub const PREM: u8 = 1;
pub const PREM1: u8 = 2;
pub const PATAN: u8 = 3;
pub const YL2X: u8 = 4;
pub const YL2XP1: u8 = 5;

pub const XTRACT: u8 = 0;
pub const PTAN: u8 = 1;
pub const SINCOS: u8 = 2;

/// Sets C2 (argument out of range / reduction incomplete) and reports whether it was set.
fn set_c2(fpu: &mut FpuState, on: bool) {
    fpu.set_cc(sw::C2, if on { sw::C2 } else { 0 });
}

/// FSIN, FCOS, FSINCOS or FPTAN of |x| ≥ 2^63: C2 set, and C1 cleared as no result was rounded
/// (the operand stays as it was).
fn out_of_range(fpu: &mut FpuState) {
    fpu.set_cc(sw::C1 | sw::C2, sw::C2);
}

pub fn unary<const OP: u8>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.fpu_enter(true)?;
    cpu.fpu_note(op, None);
    let fpu = &mut cpu.state.fpu;
    if fpu.empty(0) {
        fpu.underflow(Some(0));
        return Ok(());
    }
    let x = fpu.st(0);
    let control = fpu.control;
    let result = match OP {
        SQRT => arith::sqrt(x, &Rounding::controlled(control)),
        RNDINT => arith::round_to_integer(x, control),
        F2XM1 => tr::exp2m1(x, control),
        _ => {
            let which = if OP == SIN { Trig::Sin } else { Trig::Cos };
            let Some(result) = tr::trig(x, which, control) else {
                out_of_range(fpu);
                return Ok(());
            };
            set_c2(fpu, false);
            result
        }
    };
    fpu.deliver(0, result, false);
    Ok(())
}

pub fn binary<const OP: u8>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.fpu_enter(true)?;
    cpu.fpu_note(op, None);
    let fpu = &mut cpu.state.fpu;
    let pops = matches!(OP, PATAN | YL2X | YL2XP1);
    let dest = pops as u8;
    if fpu.empty(0) || fpu.empty(1) {
        if matches!(OP, PREM | PREM1) {
            set_c2(fpu, false);
        }
        if fpu.underflow(Some(dest)) && pops {
            fpu.pop();
        }
        return Ok(());
    }
    let (st0, st1) = (fpu.st(0), fpu.st(1));
    let control = fpu.control;
    match OP {
        SCALE => {
            fpu.deliver(0, arith::scale(st0, st1, control), false);
        }
        PREM | PREM1 => {
            let rem = arith::remainder(st0, st1, OP == PREM1, control);
            if !fpu.deliver(0, rem.result, false) {
                set_c2(fpu, false);
            } else {
                match rem.quotient {
                    Reduction::Complete(q) => {
                        let codes = if q & 4 != 0 { sw::C0 } else { 0 }
                            | if q & 2 != 0 { sw::C3 } else { 0 }
                            | if q & 1 != 0 { sw::C1 } else { 0 };
                        fpu.set_cc(sw::CC, codes);
                    }
                    Reduction::Partial => fpu.set_cc(sw::CC, sw::C2),
                    Reduction::NoCodes => set_c2(fpu, false),
                }
            }
        }
        PATAN => {
            fpu.deliver(1, tr::atan2(st1, st0, control), true);
        }
        YL2X => {
            fpu.deliver(1, tr::y_log2_x(st1, st0, control), true);
        }
        _ => {
            fpu.deliver(1, tr::y_log2_xp1(st1, st0, control), true);
        }
    }
    Ok(())
}

/// Writes `first` to ST(0) and pushes `second`, unless an unmasked exception suppresses
/// both.
fn replace_and_push(fpu: &mut FpuState, first: Rounded, second: Rounded) {
    let flags = first.flags | second.flags;
    if fpu.suppressed(flags) {
        fpu.set_c1(false);
        fpu.raise(flags & (exc::IE | exc::DE | exc::ZE));
        return;
    }
    fpu.set_st(0, first.f80());
    fpu.push(second.f80());
    // C1 reports the rounding of the first result (the tangent, the sine).
    fpu.set_c1(first.up);
    fpu.raise(flags);
}

pub fn pushing<const OP: u8>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.fpu_enter(true)?;
    cpu.fpu_note(op, None);
    let fpu = &mut cpu.state.fpu;
    if fpu.empty(0) {
        if fpu.underflow(Some(0)) {
            fpu.push(F80::INDEFINITE);
        }
        return Ok(());
    }
    if !fpu.empty(7) {
        fpu.set_c1(true);
        fpu.raise(exc::IE | sw::SF);
        if fpu.control & exc::IE != 0 {
            fpu.set_st(0, F80::INDEFINITE);
            fpu.push(F80::INDEFINITE);
        }
        return Ok(());
    }
    let x = fpu.st(0);
    let control = fpu.control;
    match OP {
        XTRACT => {
            let (exponent, significand) = arith::extract(x);
            replace_and_push(fpu, exponent, significand);
        }
        PTAN => {
            let Some(tan) = tr::trig(x, Trig::Tan, control) else {
                out_of_range(fpu);
                return Ok(());
            };
            set_c2(fpu, false);
            let one = if tan.f80().is_nan() {
                tan
            } else {
                Rounded::exact(F80::ONE)
            };
            replace_and_push(fpu, tan, one);
        }
        _ => {
            let (Some(sin), Some(cos)) = (
                tr::trig(x, Trig::Sin, control),
                tr::trig(x, Trig::Cos, control),
            ) else {
                out_of_range(fpu);
                return Ok(());
            };
            set_c2(fpu, false);
            replace_and_push(fpu, sin, cos);
        }
    }
    Ok(())
}

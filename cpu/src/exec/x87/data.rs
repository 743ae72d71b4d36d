//! Data transfer and stack instructions: FLD/FILD/FBLD and the constants, FST/FSTP/FIST/
//! FISTP/FBSTP, FXCH, FFREE(P), FINCSTP/FDECSTP, FNOP, FCHS/FABS, FCMOVcc, FXAM.

use super::arith::read_source;
use super::fmt;
use crate::fault::Exec;
use crate::fpu::compare::examine as classify;
use crate::fpu::control::{f80_from_bytes, f80_to_bytes};
use crate::fpu::float80::{exc, rc, Class, F80, J};
use crate::fpu::{load_store, sw};
use crate::ir::Op;
use crate::Cpu;

pub fn load_mem<const FMT: u8>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.fpu_enter(true)?;
    let offset = cpu.ea(op);
    let (value, mut flags) = match FMT {
        fmt::M80 => (f80_from_bytes(&cpu.fpu_read::<10>(op.seg, offset)?), 0),
        fmt::BCD => (load_store::from_bcd(cpu.fpu_read::<10>(op.seg, offset)?), 0),
        fmt::I64 => {
            let b = cpu.fpu_read::<8>(op.seg, offset)?;
            (load_store::from_i64(i64::from_le_bytes(b)), 0)
        }
        _ => read_source::<FMT>(cpu, op)?,
    };
    cpu.fpu_note(op, Some(offset));
    let fpu = &mut cpu.state.fpu;
    let mut value = value;
    if (FMT == fmt::M32 || FMT == fmt::M64) && value.class() == Class::SNaN {
        flags |= exc::IE;
        value = value.quiet();
    }
    if !fpu.empty(7) {
        fpu.push_checked(value);
        return Ok(());
    }
    // An unmasked IE (SNaN) suppresses the load; an unmasked DE does not.
    if flags & !fpu.control & exc::IE != 0 {
        fpu.set_c1(false);
        fpu.raise(flags);
        return Ok(());
    }
    fpu.push(value);
    fpu.set_c1(false);
    fpu.raise(flags);
    Ok(())
}

/// FLD ST(i).
pub fn load_st(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.fpu_enter(true)?;
    cpu.fpu_note(op, None);
    let fpu = &mut cpu.state.fpu;
    if !fpu.empty(7) {
        fpu.push_checked(F80::INDEFINITE);
        return Ok(());
    }
    if fpu.empty(op.aux) {
        if fpu.underflow(None) {
            fpu.push(F80::INDEFINITE);
        }
        return Ok(());
    }
    let value = fpu.st(op.aux);
    fpu.push(value);
    fpu.set_c1(false);
    Ok(())
}

/// The constants as 64-bit truncations and whether the rest of their (infinite) expansion
/// is at least one half ulp: 1, log2(10), log2(e), π, log10(2), ln(2), 0.
const CONSTANTS: [(u16, u64, bool, bool); 7] = [
    (0x3FFF, J, false, false),
    (0x4000, 0xD49A_784B_CD1B_8AFE, true, false),
    (0x3FFF, 0xB8AA_3B29_5C17_F0BB, true, true),
    (0x4000, 0xC90F_DAA2_2168_C234, true, true),
    (0x3FFD, 0x9A20_9A84_FBCF_F798, true, true),
    (0x3FFE, 0xB172_17F7_D1CF_79AB, true, true),
    (0, 0, false, false),
];

/// FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2, FLDZ: the constants are kept to more than
/// 64 bits and rounded per RC (SDM vol. 1 §8.3.8), without raising PE.
pub fn load_const<const K: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.fpu_enter(true)?;
    cpu.fpu_note(op, None);
    let fpu = &mut cpu.state.fpu;
    let (exp, sig, inexact, above_half) = CONSTANTS[K];
    let up = inexact
        && match ((fpu.control >> 10) & 3) as u8 {
            rc::NEAREST => above_half,
            rc::UP => true,
            _ => false,
        };
    let value = F80::new(false, exp, sig + up as u64);
    if fpu.push_checked(value) {
        fpu.set_c1(false);
    }
    Ok(())
}

/// FST/FSTP to memory in every format.
pub fn store_mem<const FMT: u8, const POP: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.fpu_enter(true)?;
    let offset = cpu.ea(op);
    let fpu = &cpu.state.fpu;
    let empty = fpu.empty(0);
    let v = fpu.st(0);
    let control = fpu.control;
    let mut bytes = [0u8; 10];
    let (len, flags, up) = match FMT {
        fmt::M32 => {
            let (bits, flags, up) = if empty {
                (load_store::SINGLE.indefinite(), 0, false)
            } else {
                load_store::to_real(v, load_store::SINGLE, control)
            };
            bytes[..4].copy_from_slice(&(bits as u32).to_le_bytes());
            (4, flags, up)
        }
        fmt::M64 => {
            let (bits, flags, up) = if empty {
                (load_store::DOUBLE.indefinite(), 0, false)
            } else {
                load_store::to_real(v, load_store::DOUBLE, control)
            };
            bytes[..8].copy_from_slice(&bits.to_le_bytes());
            (8, flags, up)
        }
        fmt::M80 => {
            bytes = f80_to_bytes(if empty { F80::INDEFINITE } else { v });
            (10, 0, false)
        }
        fmt::BCD => {
            let (b, flags, up) = if empty {
                (load_store::BCD_INDEFINITE, 0, false)
            } else {
                load_store::to_bcd(v, control)
            };
            bytes = b;
            (10, flags, up)
        }
        _ => {
            let width = match FMT {
                fmt::I16 => 16,
                fmt::I32 => 32,
                _ => 64,
            };
            let (bits, flags, up) = if empty {
                (1u64 << (width - 1), 0, false)
            } else {
                load_store::to_int(v, width, control)
            };
            bytes[..8].copy_from_slice(&bits.to_le_bytes());
            ((width / 8) as usize, flags, up)
        }
    };
    let flags = if empty { exc::IE | sw::SF } else { flags };
    // Unmasked invalid, overflow or underflow: nothing is stored, the stack stays, and the
    // inexact result is not reported.
    let unmasked = flags & !control & (exc::IE | exc::OE | exc::UE | exc::DE);
    let flags = if unmasked & (exc::OE | exc::UE) != 0 {
        flags & !exc::PE
    } else {
        flags
    };
    if unmasked == 0 {
        match len {
            2 => cpu.write_mem::<2>(op, u32::from(u16::from_le_bytes([bytes[0], bytes[1]])))?,
            4 => cpu.write_mem::<4>(
                op,
                u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
            )?,
            8 => {
                let b: [u8; 8] = [
                    bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                ];
                cpu.fpu_write::<8>(op.seg, offset, &b)?
            }
            _ => cpu.fpu_write::<10>(op.seg, offset, &bytes)?,
        }
    }
    cpu.fpu_note(op, Some(offset));
    let fpu = &mut cpu.state.fpu;
    fpu.set_c1(up && !empty && unmasked == 0);
    fpu.raise(flags);
    if unmasked == 0 && POP {
        fpu.pop();
    }
    Ok(())
}

/// FST/FSTP ST(i): a plain copy of ST(0).
pub fn store_st<const POP: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.fpu_enter(true)?;
    cpu.fpu_note(op, None);
    let fpu = &mut cpu.state.fpu;
    if fpu.empty(0) {
        if fpu.underflow(Some(op.aux)) && POP {
            fpu.pop();
        }
        return Ok(());
    }
    let v = fpu.st(0);
    fpu.set_st(op.aux, v);
    fpu.set_c1(false);
    if POP {
        fpu.pop();
    }
    Ok(())
}

/// FXCH ST(i): empty operands become the indefinite first when IE is masked.
pub fn exchange(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.fpu_enter(true)?;
    cpu.fpu_note(op, None);
    let fpu = &mut cpu.state.fpu;
    let i = op.aux;
    if fpu.empty(0) || fpu.empty(i) {
        let (e0, ei) = (fpu.empty(0), fpu.empty(i));
        if !fpu.underflow(None) {
            return Ok(());
        }
        if e0 {
            fpu.set_st(0, F80::INDEFINITE);
        }
        if ei {
            fpu.set_st(i, F80::INDEFINITE);
        }
    }
    let (a, b) = (fpu.st(0), fpu.st(i));
    let (p0, pi) = (fpu.phys(0), fpu.phys(i));
    let (t0, ti) = (fpu.tag_of(p0), fpu.tag_of(pi));
    fpu.set_st(0, b);
    fpu.set_st(i, a);
    fpu.set_tag(p0, ti);
    fpu.set_tag(pi, t0);
    fpu.set_c1(false);
    Ok(())
}

/// FFREE ST(i) and FFREEP ST(i) (FFREE then pop).
pub fn free<const POP: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.fpu_enter(true)?;
    cpu.fpu_note(op, None);
    let fpu = &mut cpu.state.fpu;
    let r = fpu.phys(op.aux);
    fpu.set_tag(r, crate::fpu::tag::EMPTY);
    fpu.set_c1(false);
    if POP {
        fpu.pop();
    }
    Ok(())
}

/// FINCSTP (STEP 1) and FDECSTP (STEP 7): TOP moves, tags stay.
pub fn step_top<const STEP: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.fpu_enter(true)?;
    cpu.fpu_note(op, None);
    let fpu = &mut cpu.state.fpu;
    let top = fpu.top() + STEP;
    fpu.set_top(top);
    fpu.set_c1(false);
    Ok(())
}

pub fn nop(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.fpu_enter(true)?;
    cpu.fpu_note(op, None);
    Ok(())
}

/// FCHS (ABS false) and FABS: the sign bit only, no exceptions even for NaNs.
pub fn sign_op<const ABS: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.fpu_enter(true)?;
    cpu.fpu_note(op, None);
    let fpu = &mut cpu.state.fpu;
    if fpu.empty(0) {
        fpu.underflow(Some(0));
        return Ok(());
    }
    let v = fpu.st(0);
    fpu.set_st(0, if ABS { v.abs() } else { v.negate() });
    fpu.set_c1(false);
    Ok(())
}

/// FCMOVcc ST(0), ST(i): condition `CC` (the Jcc numbering), negated when `NOT`.
pub fn cmov<const CC: u8, const NOT: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.fpu_enter(true)?;
    cpu.fpu_note(op, None);
    let take = cpu.state.condition(CC) != NOT;
    let fpu = &mut cpu.state.fpu;
    if fpu.empty(0) || fpu.empty(op.aux) {
        fpu.underflow(Some(0));
        return Ok(());
    }
    if take {
        let v = fpu.st(op.aux);
        fpu.set_st(0, v);
    }
    Ok(())
}

/// FXAM: classifies ST(0), empty or not.
pub fn examine(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.fpu_enter(true)?;
    cpu.fpu_note(op, None);
    let fpu = &mut cpu.state.fpu;
    let codes = classify(fpu.st(0), fpu.empty(0));
    fpu.set_cc(sw::CC, codes);
    Ok(())
}

//! Shifts and rotates: SHL/SAL, SHR, SAR, ROL, ROR, RCL, RCR by 1, CL or imm8, and the
//! double shifts SHLD and SHRD (SDM vol. 2B "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR",
//! "SHLD", "SHRD").
//!
//! The count is masked to 5 bits; a masked count of 0 changes neither the operand nor any
//! flag. RCL/RCR rotate through CF, so 8- and 16-bit counts act modulo 9 and 17.
//!
//! Flags the SDM leaves undefined are set as the development host (AMD family 19h) sets
//! them, which the host differential tests check over all counts:
//! - AF is set by SHL/SHR/SAR/SHLD/SHRD (count ≠ 0).
//! - OF for counts above 1: SHL, ROL, RCL and SHLD give MSB(result) XOR CF; ROR, RCR and SHRD
//!   give the XOR of the result's two top bits; SHR gives 0; 16-bit SHLD by 16..=31 gives CF.
//! - 8/16-bit SHL/SHR by at least the width: CF is the last bit shifted out (so usually 0).
//! - 16-bit SHLD/SHRD by 17..=31 shift the 48-bit value destination:source:source (SHLD) or
//!   source:source:destination (SHRD), as the host and, by Bochs' account, P6 parts do; CF is
//!   then 0 (Bochs instead takes it from the 32-bit destination:source; test386 does not
//!   exercise these counts).

use iced_x86::{Instruction, Mnemonic, OpKind, Register};

use super::by_size;
use crate::decode::Lowered;
use crate::fault::Exec;
use crate::flags::result_flags;
use crate::ir::{Handler, Op};
use crate::state::{flag, reg, sign_bit, size_mask, CpuState};
use crate::Cpu;

const ROL: u8 = 0;
const ROR: u8 = 1;
const RCL: u8 = 2;
const RCR: u8 = 3;
const SHL: u8 = 4;
const SHR: u8 = 5;
const SAR: u8 = 7;
const SHLD: u8 = 8;
const SHRD: u8 = 9;

pub(super) fn lower(i: &Instruction) -> Option<Lowered> {
    let handler = match i.mnemonic() {
        Mnemonic::Rol => forms::<ROL>(i)?,
        Mnemonic::Ror => forms::<ROR>(i)?,
        Mnemonic::Rcl => forms::<RCL>(i)?,
        Mnemonic::Rcr => forms::<RCR>(i)?,
        Mnemonic::Shl | Mnemonic::Sal => forms::<SHL>(i)?,
        Mnemonic::Shr => forms::<SHR>(i)?,
        Mnemonic::Sar => forms::<SAR>(i)?,
        Mnemonic::Shld => forms::<SHLD>(i)?,
        Mnemonic::Shrd => forms::<SHRD>(i)?,
        _ => return None,
    };
    Some(Lowered::op(Op::from_instr(i, handler)))
}

/// Picks the handler by destination (register or memory), count source (CL or an immediate,
/// including the implicit 1 of D0/D1) and operand size.
fn forms<const OP: u8>(i: &Instruction) -> Option<Handler> {
    let count_operand = if OP >= SHLD { 2 } else { 1 };
    if i.op_count() != count_operand + 1 {
        return None;
    }
    let cl = match i.op_kind(count_operand) {
        OpKind::Register if i.op_register(count_operand) == Register::CL => true,
        OpKind::Immediate8 => false,
        _ => return None,
    };
    let size = super::operand_size(i, 0);
    Some(match (i.op0_kind(), cl) {
        (OpKind::Register, true) => by_size(
            size,
            [reg::<OP, 1, true>, reg::<OP, 2, true>, reg::<OP, 4, true>],
        ),
        (OpKind::Register, false) => by_size(
            size,
            [
                reg::<OP, 1, false>,
                reg::<OP, 2, false>,
                reg::<OP, 4, false>,
            ],
        ),
        (OpKind::Memory, true) => by_size(
            size,
            [mem::<OP, 1, true>, mem::<OP, 2, true>, mem::<OP, 4, true>],
        ),
        (OpKind::Memory, false) => by_size(
            size,
            [
                mem::<OP, 1, false>,
                mem::<OP, 2, false>,
                mem::<OP, 4, false>,
            ],
        ),
        _ => return None,
    })
}

/// An operation's outcome: the result, and the arithmetic flags it changes (`mask`) with their
/// new values.
struct Shifted {
    res: u32,
    mask: u32,
    flags: u32,
}

/// The count, masked to 5 bits.
#[inline(always)]
fn count<const CL: bool>(s: &CpuState, op: &Op) -> u32 {
    let raw = if CL { s.reg::<1>(reg::ECX) } else { op.imm };
    raw & 0x1F
}

/// Applies `OP` to `a` (with `b` the source of SHLD/SHRD) by `count` (1..=31).
#[inline(always)]
fn compute<const OP: u8, const SIZE: usize>(s: &CpuState, a: u32, b: u32, count: u32) -> Shifted {
    let bits = SIZE as u32 * 8;
    let mask = size_mask::<SIZE>();
    let msb = sign_bit::<SIZE>();
    let (a, b) = (a & mask, b & mask);
    let bit = |v: u32, n: u32| v >> n & 1 != 0;
    let of_cf = |of: bool, cf: bool| (of as u32 * flag::OF) | cf as u32;
    match OP {
        ROL | ROR => {
            let n = count % bits;
            let res = if OP == ROL {
                (a << n | a >> ((bits - n) % bits)) & mask
            } else {
                (a >> n | a << ((bits - n) % bits)) & mask
            };
            let (cf, of) = if OP == ROL {
                let cf = bit(res, 0);
                (cf, bit(res, bits - 1) != cf)
            } else {
                (bit(res, bits - 1), bit(res, bits - 1) != bit(res, bits - 2))
            };
            Shifted {
                res,
                mask: flag::CF | flag::OF,
                flags: of_cf(of, cf),
            }
        }
        RCL | RCR => {
            let n = u64::from(count % (bits + 1));
            let width = u64::from(bits) + 1;
            let full = (1u64 << width) - 1;
            let wide = u64::from(s.cf()) << bits | u64::from(a);
            let rotated = if n == 0 {
                wide
            } else if OP == RCL {
                (wide << n | wide >> (width - n)) & full
            } else {
                (wide >> n | wide << (width - n)) & full
            };
            let res = rotated as u32 & mask;
            let cf = rotated >> bits & 1 != 0;
            let of = if OP == RCL {
                bit(res, bits - 1) != cf
            } else {
                bit(res, bits - 1) != bit(res, bits - 2)
            };
            Shifted {
                res,
                mask: flag::CF | flag::OF,
                flags: of_cf(of, cf),
            }
        }
        SHL => {
            let wide = u64::from(a) << count;
            let res = wide as u32 & mask;
            let cf = wide >> bits & 1 != 0;
            let of = (res & msb != 0) != cf;
            shifted::<SIZE>(res, cf, of)
        }
        SHR => {
            let res = (u64::from(a) >> count) as u32;
            let cf = u64::from(a) >> (count - 1) & 1 != 0;
            shifted::<SIZE>(res, cf, a & msb != 0 && count == 1)
        }
        SAR => {
            let signed = i64::from(a) << (64 - bits) >> (64 - bits);
            let res = (signed >> count) as u32 & mask;
            let cf = signed >> (count - 1) & 1 != 0;
            shifted::<SIZE>(res, cf, false)
        }
        SHLD => {
            // destination:source:source, shifted left; the result is the top SIZE bits.
            let wide = u128::from(a) << (2 * bits) | u128::from(b) << bits | u128::from(b);
            let total = 3 * bits;
            let res = (wide << count >> (2 * bits)) as u32 & mask;
            let cf = count <= bits && wide >> (total - count) & 1 != 0;
            let of = if count >= bits {
                cf
            } else {
                (res & msb != 0) != cf
            };
            shifted::<SIZE>(res, cf, of)
        }
        _ => {
            // source:source:destination, shifted right; the result is the low SIZE bits.
            let wide = u128::from(a) | u128::from(b) << bits | u128::from(b) << (2 * bits);
            let res = (wide >> count) as u32 & mask;
            let cf = count <= bits && wide >> (count - 1) & 1 != 0;
            let of = bit(res, bits - 1) != bit(res, bits - 2);
            shifted::<SIZE>(res, cf, of)
        }
    }
}

/// The outcome of a shift setting all six arithmetic flags (AF set: see the module comment).
#[inline(always)]
fn shifted<const SIZE: usize>(res: u32, cf: bool, of: bool) -> Shifted {
    let flags = result_flags::<SIZE>(res) | flag::AF | cf as u32 | (of as u32 * flag::OF);
    Shifted {
        res,
        mask: flag::ARITH,
        flags,
    }
}

#[inline(always)]
fn commit_flags(s: &mut CpuState, out: &Shifted) {
    if out.mask == flag::ARITH {
        s.set_all_arith_flags(out.flags);
    } else {
        s.set_arith_flags(out.mask, out.flags);
    }
}

fn reg<const OP: u8, const SIZE: usize, const CL: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    let s = &mut cpu.state;
    let n = count::<CL>(s, op);
    if n == 0 {
        return Ok(());
    }
    let b = if OP >= SHLD { s.reg::<SIZE>(op.r1) } else { 0 };
    let out = compute::<OP, SIZE>(s, s.reg::<SIZE>(op.r0), b, n);
    s.set_reg::<SIZE>(op.r0, out.res);
    commit_flags(s, &out);
    Ok(())
}

/// Memory destination: checked for writing even when the count is 0 (the processor's
/// read-modify-write sequence does not depend on the count), but then left unwritten.
fn mem<const OP: u8, const SIZE: usize, const CL: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    let lin = cpu.rmw_lin::<SIZE>(op)?;
    let a = cpu.read_lin::<SIZE>(lin)?;
    let n = count::<CL>(&cpu.state, op);
    if n == 0 {
        return Ok(());
    }
    let b = if OP >= SHLD {
        cpu.state.reg::<SIZE>(op.r1)
    } else {
        0
    };
    let out = compute::<OP, SIZE>(&cpu.state, a, b, n);
    cpu.write_lin::<SIZE>(lin, out.res)?;
    commit_flags(&mut cpu.state, &out);
    Ok(())
}

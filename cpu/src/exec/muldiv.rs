//! MUL, IMUL (one-, two- and three-operand forms), DIV and IDIV.
//!
//! Flags: CF and OF are as the SDM defines them. The flags it leaves undefined follow the
//! behaviour measured on the development host (AMD family 19h), which the host differential
//! tests check: multiplies keep SF/ZF/AF/PF; divides set AF, clear SF/ZF/PF and keep CF/OF.
//! Divides therefore change flags, as Intel parts do and as pre-CPUID detection code expects
//! (Cyrix parts are recognised by DIV leaving the flags alone).

use iced_x86::{Instruction, Mnemonic, OpKind};

use super::{by_size, operand_size, read_rm};
use crate::decode::Lowered;
use crate::fault::{Exec, Fault};
use crate::ir::{Handler, Op};
use crate::state::{flag, reg, size_mask, CpuState};
use crate::Cpu;

const MUL: u8 = 0;
const IMUL: u8 = 1;
const DIV: u8 = 2;
const IDIV: u8 = 3;

pub(super) fn lower(i: &Instruction) -> Option<Lowered> {
    let mem = |n| i.op_kind(n) == OpKind::Memory;
    let handler: Handler = match (i.mnemonic(), i.op_count()) {
        (Mnemonic::Mul, 1) => one::<MUL>(i, mem(0)),
        (Mnemonic::Imul, 1) => one::<IMUL>(i, mem(0)),
        (Mnemonic::Div, 1) => one::<DIV>(i, mem(0)),
        (Mnemonic::Idiv, 1) => one::<IDIV>(i, mem(0)),
        (Mnemonic::Imul, 2 | 3) => {
            let three = i.op_count() == 3;
            match (operand_size(i, 0), mem(1), three) {
                (2, false, false) => imul_rm::<2, false, false>,
                (2, true, false) => imul_rm::<2, true, false>,
                (2, false, true) => imul_rm::<2, false, true>,
                (2, true, true) => imul_rm::<2, true, true>,
                (_, false, false) => imul_rm::<4, false, false>,
                (_, true, false) => imul_rm::<4, true, false>,
                (_, false, true) => imul_rm::<4, false, true>,
                (_, true, true) => imul_rm::<4, true, true>,
            }
        }
        _ => return None,
    };
    Some(Lowered::op(Op::from_instr(i, handler)))
}

fn one<const OP: u8>(i: &Instruction, mem: bool) -> Handler {
    let size = operand_size(i, 0);
    if mem {
        by_size(
            size,
            [acc::<OP, 1, true>, acc::<OP, 2, true>, acc::<OP, 4, true>],
        )
    } else {
        by_size(
            size,
            [
                acc::<OP, 1, false>,
                acc::<OP, 2, false>,
                acc::<OP, 4, false>,
            ],
        )
    }
}

/// Sign-extends a `SIZE`-byte value to 64 bits.
#[inline(always)]
fn sext<const SIZE: usize>(v: u32) -> i64 {
    match SIZE {
        1 => i64::from(v as u8 as i8),
        2 => i64::from(v as u16 as i16),
        _ => i64::from(v as i32),
    }
}

/// The double-width accumulator: AX, DX:AX or EDX:EAX.
#[inline(always)]
fn wide_acc<const SIZE: usize>(s: &CpuState) -> u64 {
    match SIZE {
        1 => u64::from(s.reg::<2>(reg::EAX)),
        2 => u64::from(s.reg::<2>(reg::EDX)) << 16 | u64::from(s.reg::<2>(reg::EAX)),
        _ => u64::from(s.regs[reg::EDX as usize]) << 32 | u64::from(s.regs[reg::EAX as usize]),
    }
}

/// Stores a quotient/low half and a remainder/high half into the accumulator registers.
#[inline(always)]
fn set_acc_pair<const SIZE: usize>(s: &mut CpuState, low: u32, high: u32) {
    if SIZE == 1 {
        s.set_reg::<2>(reg::EAX, (low & 0xFF) | (high & 0xFF) << 8);
    } else {
        s.set_reg::<SIZE>(reg::EAX, low);
        s.set_reg::<SIZE>(reg::EDX, high);
    }
}

/// MUL/IMUL/DIV/IDIV with an implicit accumulator and an r/m source.
fn acc<const OP: u8, const SIZE: usize, const MEM: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    let src = read_rm::<SIZE, MEM>(cpu, op, op.r0)?;
    let s = &mut cpu.state;
    let bits = SIZE as u32 * 8;
    let mask = size_mask::<SIZE>();
    match OP {
        MUL => {
            let product = u64::from(s.reg::<SIZE>(reg::EAX)) * u64::from(src);
            let high = (product >> bits) as u32;
            set_acc_pair::<SIZE>(s, product as u32, high);
            set_mul_flags(s, high != 0);
        }
        IMUL => {
            let product = sext::<SIZE>(s.reg::<SIZE>(reg::EAX)) * sext::<SIZE>(src);
            let low = product as u32 & mask;
            set_acc_pair::<SIZE>(s, low, (product >> bits) as u32);
            set_mul_flags(s, sext::<SIZE>(low) != product);
        }
        DIV => {
            let dividend = wide_acc::<SIZE>(s);
            if src == 0 {
                return Err(Fault::de());
            }
            let quotient = dividend / u64::from(src);
            if quotient > u64::from(mask) {
                return Err(Fault::de());
            }
            let remainder = dividend % u64::from(src);
            set_acc_pair::<SIZE>(s, quotient as u32, remainder as u32);
            set_div_flags(s);
        }
        _ => {
            let dividend = match SIZE {
                1 => i64::from(s.reg::<2>(reg::EAX) as u16 as i16),
                2 => i64::from(wide_acc::<2>(s) as u32 as i32),
                _ => wide_acc::<4>(s) as i64,
            };
            let divisor = sext::<SIZE>(src);
            let quotient = dividend.checked_div(divisor).ok_or(Fault::de())?;
            let (lo, hi) = (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1);
            if quotient < lo || quotient > hi {
                return Err(Fault::de());
            }
            let remainder = dividend.wrapping_rem(divisor);
            set_acc_pair::<SIZE>(s, quotient as u32, remainder as u32);
            set_div_flags(s);
        }
    }
    Ok(())
}

/// IMUL r, r/m (`THREE` false: the destination is the first factor) and IMUL r, r/m, imm.
fn imul_rm<const SIZE: usize, const MEM: bool, const THREE: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    let src = read_rm::<SIZE, MEM>(cpu, op, op.r1)?;
    let s = &mut cpu.state;
    let other = if THREE { op.imm } else { s.reg::<SIZE>(op.r0) };
    let product = sext::<SIZE>(src) * sext::<SIZE>(other);
    let low = product as u32 & size_mask::<SIZE>();
    s.set_reg::<SIZE>(op.r0, low);
    set_mul_flags(s, sext::<SIZE>(low) != product);
    Ok(())
}

/// CF = OF = the product did not fit the destination; the other flags are kept.
#[inline(always)]
fn set_mul_flags(s: &mut CpuState, overflow: bool) {
    let value = if overflow { flag::CF | flag::OF } else { 0 };
    s.set_arith_flags(flag::CF | flag::OF, value);
}

/// After a divide: AF set, SF/ZF/PF clear, CF/OF kept (see the module comment).
#[inline(always)]
fn set_div_flags(s: &mut CpuState) {
    s.set_arith_flags(flag::SF | flag::ZF | flag::AF | flag::PF, flag::AF);
}

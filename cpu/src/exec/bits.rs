//! Bit instructions: BT, BTS, BTR, BTC (register and immediate bit offsets), BSF, BSR, BSWAP.
//!
//! Flags the SDM leaves undefined (OF/SF/AF/PF for BTx; CF/OF/SF/AF/PF for BSF/BSR) are left
//! unchanged, as the development host (AMD family 19h) does and the host tests check.

use iced_x86::{Instruction, Mnemonic, OpKind};

use super::{by_size, operand_size, read_rm};
use crate::decode::Lowered;
use crate::fault::Exec;
use crate::ir::{opflag, Handler, Op};
use crate::state::{flag, size_mask, CpuState};
use crate::Cpu;

const BT: u8 = 0;
const BTS: u8 = 1;
const BTR: u8 = 2;
const BTC: u8 = 3;

pub(super) fn lower(i: &Instruction) -> Option<Lowered> {
    let handler: Handler = match i.mnemonic() {
        Mnemonic::Bt => bit_test::<BT>(i)?,
        Mnemonic::Bts => bit_test::<BTS>(i)?,
        Mnemonic::Btr => bit_test::<BTR>(i)?,
        Mnemonic::Btc => bit_test::<BTC>(i)?,
        Mnemonic::Bsf => scan::<false>(i)?,
        Mnemonic::Bsr => scan::<true>(i)?,
        // F3 0F BC/BD: a P6 has neither BMI1 nor LZCNT, so the REP prefix is ignored and these
        // execute as BSF/BSR (Linux's __ffs relies on it: it emits `rep bsf` for either CPU).
        Mnemonic::Tzcnt => scan::<false>(i)?,
        Mnemonic::Lzcnt => scan::<true>(i)?,
        Mnemonic::Bswap => by_size(operand_size(i, 0), [bswap::<2>, bswap::<2>, bswap::<4>]),
        _ => return None,
    };
    Some(Lowered::op(Op::from_instr(i, handler)))
}

fn bit_test<const OP: u8>(i: &Instruction) -> Option<Handler> {
    if i.op_count() != 2 {
        return None;
    }
    let four = operand_size(i, 0) == 4;
    let mem = i.op0_kind() == OpKind::Memory;
    let imm = i.op1_kind() == OpKind::Immediate8;
    Some(match (four, mem, imm) {
        (false, false, false) => reg::<OP, 2, false>,
        (false, false, true) => reg::<OP, 2, true>,
        (false, true, false) => mem_reg_offset::<OP, 2>,
        (false, true, true) => mem_imm_offset::<OP, 2>,
        (true, false, false) => reg::<OP, 4, false>,
        (true, false, true) => reg::<OP, 4, true>,
        (true, true, false) => mem_reg_offset::<OP, 4>,
        (true, true, true) => mem_imm_offset::<OP, 4>,
    })
}

/// The value with bit `n` set, cleared or complemented as `OP` asks (BT returns it unchanged).
#[inline(always)]
fn modify<const OP: u8>(value: u32, n: u32) -> u32 {
    match OP {
        BTS => value | 1 << n,
        BTR => value & !(1 << n),
        BTC => value ^ 1 << n,
        _ => value,
    }
}

#[inline(always)]
fn set_cf(s: &mut CpuState, value: u32, n: u32) {
    s.set_arith_flags(flag::CF, value >> n & 1);
}

/// Register operand: the bit offset (register or immediate) is taken modulo the operand size.
fn reg<const OP: u8, const SIZE: usize, const IMM: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    let s = &mut cpu.state;
    let offset = if IMM { op.imm } else { s.reg::<SIZE>(op.r1) };
    let n = offset & (SIZE as u32 * 8 - 1);
    let value = s.reg::<SIZE>(op.r0);
    if OP != BT {
        s.set_reg::<SIZE>(op.r0, modify::<OP>(value, n));
    }
    set_cf(s, value, n);
    Ok(())
}

/// Memory operand with an immediate offset: the offset is taken modulo the operand size.
fn mem_imm_offset<const OP: u8, const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let n = op.imm & (SIZE as u32 * 8 - 1);
    mem_bit::<OP, SIZE>(cpu, op, cpu.ea(op), n)
}

/// Memory operand with a register offset: the offset is signed and may select any bit string
/// position, so the word or dword addressed moves by `offset >> 4` words or `offset >> 5`
/// dwords (SDM vol. 2A "BT": bit base plus bit offset).
fn mem_reg_offset<const OP: u8, const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let offset = cpu.state.reg::<SIZE>(op.r1);
    let (step, n) = if SIZE == 2 {
        ((i32::from(offset as u16 as i16) >> 4) * 2, offset & 15)
    } else {
        ((offset as i32 >> 5) * 4, offset & 31)
    };
    let mut ea = cpu.ea(op).wrapping_add(step as u32);
    if op.has(opflag::ADDR16) {
        ea &= 0xFFFF;
    }
    mem_bit::<OP, SIZE>(cpu, op, ea, n)
}

#[inline(always)]
fn mem_bit<const OP: u8, const SIZE: usize>(cpu: &mut Cpu, op: &Op, ea: u32, n: u32) -> Exec {
    let value = if OP == BT {
        cpu.read_seg::<SIZE>(op.seg, ea)?
    } else {
        let lin = cpu.rmw_seg::<SIZE>(op.seg, ea)?;
        let value = cpu.read_lin::<SIZE>(lin)?;
        cpu.write_lin::<SIZE>(lin, modify::<OP>(value, n))?;
        value
    };
    set_cf(&mut cpu.state, value, n);
    Ok(())
}

fn scan<const REVERSE: bool>(i: &Instruction) -> Option<Handler> {
    let mem = i.op1_kind() == OpKind::Memory;
    Some(match (operand_size(i, 0), mem) {
        (2, false) => bit_scan::<REVERSE, 2, false>,
        (2, true) => bit_scan::<REVERSE, 2, true>,
        (_, false) => bit_scan::<REVERSE, 4, false>,
        (_, true) => bit_scan::<REVERSE, 4, true>,
    })
}

/// BSF/BSR: ZF set and the destination unchanged when the source is 0 (as P6 and later parts
/// behave; the SDM calls the destination undefined).
fn bit_scan<const REVERSE: bool, const SIZE: usize, const MEM: bool>(
    cpu: &mut Cpu,
    op: &Op,
) -> Exec {
    let src = read_rm::<SIZE, MEM>(cpu, op, op.r1)? & size_mask::<SIZE>();
    let s = &mut cpu.state;
    if src == 0 {
        s.set_arith_flags(flag::ZF, flag::ZF);
        return Ok(());
    }
    let index = if REVERSE {
        31 - src.leading_zeros()
    } else {
        src.trailing_zeros()
    };
    s.set_reg::<SIZE>(op.r0, index);
    s.set_arith_flags(flag::ZF, 0);
    Ok(())
}

/// BSWAP r32 reverses the bytes. With a 16-bit operand (undefined in the SDM) the register's
/// low word becomes 0, as Intel and AMD parts do.
fn bswap<const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let s = &mut cpu.state;
    if SIZE == 2 {
        s.set_reg::<2>(op.r0, 0);
    } else {
        let v = s.reg::<4>(op.r0);
        s.set_reg::<4>(op.r0, v.swap_bytes());
    }
    Ok(())
}

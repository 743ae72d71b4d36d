//! Sign and zero extension: CBW, CWDE, CWD, CDQ, MOVZX, MOVSX.

use iced_x86::{Instruction, Mnemonic, OpKind};

use super::{operand_size, read_rm};
use crate::decode::Lowered;
use crate::fault::Exec;
use crate::ir::{Handler, Op};
use crate::state::{reg, sign_bit};
use crate::Cpu;

pub(super) fn lower(i: &Instruction) -> Option<Lowered> {
    let handler: Handler = match i.mnemonic() {
        Mnemonic::Cbw => extend_acc::<1>,
        Mnemonic::Cwde => extend_acc::<2>,
        Mnemonic::Cwd => split_acc::<2>,
        Mnemonic::Cdq => split_acc::<4>,
        Mnemonic::Movzx => extend::<false>(i)?,
        Mnemonic::Movsx => extend::<true>(i)?,
        _ => return None,
    };
    Some(Lowered::op(Op::from_instr(i, handler)))
}

/// Sign-extends a `SIZE`-byte value to 32 bits.
#[inline(always)]
fn sign_extend<const SIZE: usize>(v: u32) -> u32 {
    match SIZE {
        1 => v as u8 as i8 as u32,
        2 => v as u16 as i16 as u32,
        _ => v,
    }
}

/// CBW (AX from AL) and CWDE (EAX from AX).
fn extend_acc<const FROM: usize>(cpu: &mut Cpu, _op: &Op) -> Exec {
    let s = &mut cpu.state;
    let v = sign_extend::<FROM>(s.reg::<FROM>(reg::EAX));
    if FROM == 1 {
        s.set_reg::<2>(reg::EAX, v);
    } else {
        s.set_reg::<4>(reg::EAX, v);
    }
    Ok(())
}

/// CWD (DX from AX's sign) and CDQ (EDX from EAX's sign).
fn split_acc<const SIZE: usize>(cpu: &mut Cpu, _op: &Op) -> Exec {
    let s = &mut cpu.state;
    let negative = s.reg::<SIZE>(reg::EAX) & sign_bit::<SIZE>() != 0;
    s.set_reg::<SIZE>(reg::EDX, if negative { u32::MAX } else { 0 });
    Ok(())
}

fn extend<const SIGNED: bool>(i: &Instruction) -> Option<Handler> {
    if i.op_count() != 2 {
        return None;
    }
    let mem = i.op1_kind() == OpKind::Memory;
    let to = operand_size(i, 0);
    let from = operand_size(i, 1);
    Some(match (to, from, mem) {
        (2, 1, false) => movx::<SIGNED, 2, 1, false>,
        (2, 1, true) => movx::<SIGNED, 2, 1, true>,
        // MOVZX/MOVSX r16, r/m16 (a 66h prefix on the word form) is a plain move.
        (2, _, false) => movx::<SIGNED, 2, 2, false>,
        (2, _, true) => movx::<SIGNED, 2, 2, true>,
        (_, 1, false) => movx::<SIGNED, 4, 1, false>,
        (_, 1, true) => movx::<SIGNED, 4, 1, true>,
        (_, _, false) => movx::<SIGNED, 4, 2, false>,
        (_, _, true) => movx::<SIGNED, 4, 2, true>,
    })
}

fn movx<const SIGNED: bool, const TO: usize, const FROM: usize, const MEM: bool>(
    cpu: &mut Cpu,
    op: &Op,
) -> Exec {
    let v = read_rm::<FROM, MEM>(cpu, op, op.r1)?;
    let v = if SIGNED { sign_extend::<FROM>(v) } else { v };
    cpu.state.set_reg::<TO>(op.r0, v);
    Ok(())
}

//! Packed-integer instructions on MMX and XMM registers: MMX, the integer additions of SSE
//! (PAVGB, PMINUB, PSADBW, ...) and their 128-bit SSE2 forms, plus PADDQ/PSUBQ/PMULUDQ, the
//! packs, unpacks and shifts, and the SSE bitwise/unpack float instructions that are the same
//! operations (ANDPS, UNPCKLPS, ...). Semantics in [`crate::simd::int`].

use iced_x86::{Code, CpuidFeature, Instruction, Mnemonic, OpKind};

use crate::decode::Lowered;
use crate::fault::{Exec, Fault};
use crate::ir::{Handler, Op};
use crate::simd::int::{self, op, shift};
use crate::simd::Vec128;
use crate::Cpu;

/// Where an instruction's source operand comes from (const-generic parameter).
pub(super) mod src {
    /// MMX register `r1`.
    pub const MM: u8 = 0;
    /// XMM register `r1`.
    pub const XMM: u8 = 1;
    /// General register `r1`.
    pub const GPR: u8 = 2;
    pub const M16: u8 = 3;
    pub const M32: u8 = 4;
    pub const M64: u8 = 5;
    /// 16 bytes, 16-byte aligned.
    pub const M128: u8 = 6;
    /// 16 bytes, any alignment.
    pub const M128U: u8 = 7;
}

/// Reads the source operand of kind `SRC` (register `r1` or the memory operand) into the low
/// bits of a [`Vec128`].
#[inline(always)]
pub(super) fn load<const SRC: u8>(cpu: &mut Cpu, op: &Op) -> Result<Vec128, Fault> {
    Ok(match SRC {
        src::MM => [cpu.mm(op.r1), 0],
        src::XMM => cpu.xmm(op.r1),
        src::GPR => [u64::from(cpu.state.regs[(op.r1 & 7) as usize]), 0],
        src::M16 => [u64::from(cpu.read_mem::<2>(op)?), 0],
        src::M32 => [u64::from(cpu.read_m32(op)?), 0],
        src::M64 => [cpu.read_m64(op)?, 0],
        src::M128 => cpu.read_m128::<true>(op)?,
        _ => cpu.read_m128::<false>(op)?,
    })
}

/// Whether `i` belongs to the instruction sets webx86 implements (MMX, SSE, SSE2 and the
/// instructions that came with them); later extensions sharing mnemonics (the SSE4.1 PEXTRW
/// form, VEX encodings, ...) stay #UD.
pub(super) fn implemented_set(i: &Instruction) -> bool {
    let features = i.cpuid_features();
    !features.is_empty()
        && features.iter().all(|f| {
            matches!(
                f,
                CpuidFeature::MMX
                    | CpuidFeature::SSE
                    | CpuidFeature::SSE2
                    | CpuidFeature::FXSR
                    | CpuidFeature::CLFSH
            )
        })
}

/// The register class of operand `n`: Some(true) for XMM, Some(false) for MMX.
pub(super) fn vector_reg(i: &Instruction, n: u32) -> Option<bool> {
    if i.op_kind(n) != OpKind::Register {
        return None;
    }
    let r = i.op_register(n);
    if r.is_xmm() {
        Some(true)
    } else if r.is_mm() {
        Some(false)
    } else {
        None
    }
}

pub(super) fn lower(i: &Instruction) -> Option<Lowered> {
    if !implemented_set(i) {
        return None;
    }
    let handler = match i.mnemonic() {
        Mnemonic::Emms => emms,
        m => {
            if let Some(o) = binop_of(m) {
                binop_handler(o, i)?
            } else {
                shift_handler(m, i)?
            }
        }
    };
    Some(Lowered::op(Op::from_instr(i, handler)))
}

/// The packed-integer operation of mnemonic `m` (and of the float instructions that are
/// bitwise or unpack operations).
fn binop_of(m: Mnemonic) -> Option<u8> {
    Some(match m {
        Mnemonic::Paddb => op::PADDB,
        Mnemonic::Paddw => op::PADDW,
        Mnemonic::Paddd => op::PADDD,
        Mnemonic::Paddq => op::PADDQ,
        Mnemonic::Paddsb => op::PADDSB,
        Mnemonic::Paddsw => op::PADDSW,
        Mnemonic::Paddusb => op::PADDUSB,
        Mnemonic::Paddusw => op::PADDUSW,
        Mnemonic::Psubb => op::PSUBB,
        Mnemonic::Psubw => op::PSUBW,
        Mnemonic::Psubd => op::PSUBD,
        Mnemonic::Psubq => op::PSUBQ,
        Mnemonic::Psubsb => op::PSUBSB,
        Mnemonic::Psubsw => op::PSUBSW,
        Mnemonic::Psubusb => op::PSUBUSB,
        Mnemonic::Psubusw => op::PSUBUSW,
        Mnemonic::Pand | Mnemonic::Andps | Mnemonic::Andpd => op::PAND,
        Mnemonic::Pandn | Mnemonic::Andnps | Mnemonic::Andnpd => op::PANDN,
        Mnemonic::Por | Mnemonic::Orps | Mnemonic::Orpd => op::POR,
        Mnemonic::Pxor | Mnemonic::Xorps | Mnemonic::Xorpd => op::PXOR,
        Mnemonic::Pcmpeqb => op::PCMPEQB,
        Mnemonic::Pcmpeqw => op::PCMPEQW,
        Mnemonic::Pcmpeqd => op::PCMPEQD,
        Mnemonic::Pcmpgtb => op::PCMPGTB,
        Mnemonic::Pcmpgtw => op::PCMPGTW,
        Mnemonic::Pcmpgtd => op::PCMPGTD,
        Mnemonic::Pmullw => op::PMULLW,
        Mnemonic::Pmulhw => op::PMULHW,
        Mnemonic::Pmulhuw => op::PMULHUW,
        Mnemonic::Pmaddwd => op::PMADDWD,
        Mnemonic::Pmuludq => op::PMULUDQ,
        Mnemonic::Pavgb => op::PAVGB,
        Mnemonic::Pavgw => op::PAVGW,
        Mnemonic::Pminub => op::PMINUB,
        Mnemonic::Pmaxub => op::PMAXUB,
        Mnemonic::Pminsw => op::PMINSW,
        Mnemonic::Pmaxsw => op::PMAXSW,
        Mnemonic::Psadbw => op::PSADBW,
        Mnemonic::Packsswb => op::PACKSSWB,
        Mnemonic::Packssdw => op::PACKSSDW,
        Mnemonic::Packuswb => op::PACKUSWB,
        Mnemonic::Punpcklbw => op::PUNPCKLBW,
        Mnemonic::Punpcklwd => op::PUNPCKLWD,
        Mnemonic::Punpckldq | Mnemonic::Unpcklps => op::PUNPCKLDQ,
        Mnemonic::Punpcklqdq | Mnemonic::Unpcklpd => op::PUNPCKLQDQ,
        Mnemonic::Punpckhbw => op::PUNPCKHBW,
        Mnemonic::Punpckhwd => op::PUNPCKHWD,
        Mnemonic::Punpckhdq | Mnemonic::Unpckhps => op::PUNPCKHDQ,
        Mnemonic::Punpckhqdq | Mnemonic::Unpckhpd => op::PUNPCKHQDQ,
        _ => return None,
    })
}

/// Picks the instantiation of [`binop`] for operation `o` and `i`'s operands.
fn binop_handler(o: u8, i: &Instruction) -> Option<Handler> {
    let xmm = vector_reg(i, 0)?;
    let mem = i.op_kind(1) == OpKind::Memory;
    macro_rules! pick {
        ($($o:ident),*) => {
            match o {
                $(op::$o => match (xmm, mem) {
                    (false, false) => binop::<{ op::$o }, false, { src::MM }>,
                    (false, true) => binop::<{ op::$o }, false, { src::M64 }>,
                    (true, false) => binop::<{ op::$o }, true, { src::XMM }>,
                    (true, true) => binop::<{ op::$o }, true, { src::M128 }>,
                },)*
                _ => return None,
            }
        };
    }
    Some(pick!(
        PADDB, PADDW, PADDD, PADDQ, PADDSB, PADDSW, PADDUSB, PADDUSW, PSUBB, PSUBW, PSUBD, PSUBQ,
        PSUBSB, PSUBSW, PSUBUSB, PSUBUSW, PAND, PANDN, POR, PXOR, PCMPEQB, PCMPEQW, PCMPEQD,
        PCMPGTB, PCMPGTW, PCMPGTD, PMULLW, PMULHW, PMULHUW, PMADDWD, PMULUDQ, PAVGB, PAVGW, PMINUB,
        PMAXUB, PMINSW, PMAXSW, PSADBW, PACKSSWB, PACKSSDW, PACKUSWB, PUNPCKLBW, PUNPCKLWD,
        PUNPCKLDQ, PUNPCKLQDQ, PUNPCKHBW, PUNPCKHWD, PUNPCKHDQ, PUNPCKHQDQ
    ))
}

/// `dest = dest OP src` on MMX (`XMM` false) or XMM registers.
fn binop<const OP: u8, const XMM: bool, const SRC: u8>(cpu: &mut Cpu, op: &Op) -> Exec {
    if XMM {
        cpu.sse_check()?;
        let b = load::<SRC>(cpu, op)?;
        let a = cpu.xmm(op.r0);
        cpu.set_xmm(op.r0, int::binop(OP, a, b, true));
    } else {
        cpu.mmx_check()?;
        let b = load::<SRC>(cpu, op)?;
        let a = [cpu.mm(op.r0), 0];
        cpu.set_mm(op.r0, int::binop(OP, a, b, false)[0]);
    }
    Ok(())
}

fn shift_of(m: Mnemonic) -> Option<u8> {
    Some(match m {
        Mnemonic::Psrlw => shift::PSRLW,
        Mnemonic::Psrld => shift::PSRLD,
        Mnemonic::Psrlq => shift::PSRLQ,
        Mnemonic::Psraw => shift::PSRAW,
        Mnemonic::Psrad => shift::PSRAD,
        Mnemonic::Psllw => shift::PSLLW,
        Mnemonic::Pslld => shift::PSLLD,
        Mnemonic::Psllq => shift::PSLLQ,
        Mnemonic::Psrldq => shift::PSRLDQ,
        Mnemonic::Pslldq => shift::PSLLDQ,
        _ => return None,
    })
}

/// Shifts by an immediate, or by the low quadword of a register or memory operand.
fn shift_handler(m: Mnemonic, i: &Instruction) -> Option<Handler> {
    let s = shift_of(m)?;
    let xmm = vector_reg(i, 0)?;
    // 0 = immediate, 1 = register, 2 = memory.
    let from = match i.op_kind(1) {
        OpKind::Immediate8 => 0,
        OpKind::Register => 1,
        _ => 2,
    };
    macro_rules! pick {
        ($($s:ident),*) => {
            match s {
                $(shift::$s => match (xmm, from) {
                    (false, 0) => shift_imm::<{ shift::$s }, false>,
                    (false, 1) => shift_by::<{ shift::$s }, false, { src::MM }>,
                    (false, _) => shift_by::<{ shift::$s }, false, { src::M64 }>,
                    (true, 0) => shift_imm::<{ shift::$s }, true>,
                    (true, 1) => shift_by::<{ shift::$s }, true, { src::XMM }>,
                    (true, _) => shift_by::<{ shift::$s }, true, { src::M128 }>,
                },)*
                _ => return None,
            }
        };
    }
    Some(pick!(
        PSRLW, PSRLD, PSRLQ, PSRAW, PSRAD, PSLLW, PSLLD, PSLLQ, PSRLDQ, PSLLDQ
    ))
}

fn shift_with<const S: u8, const XMM: bool>(cpu: &mut Cpu, op: &Op, count: u64) {
    if XMM {
        let a = cpu.xmm(op.r0);
        cpu.set_xmm(op.r0, int::shift(S, a, count, true));
    } else {
        let a = [cpu.mm(op.r0), 0];
        cpu.set_mm(op.r0, int::shift(S, a, count, false)[0]);
    }
}

fn shift_imm<const S: u8, const XMM: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    if XMM {
        cpu.sse_check()?;
    } else {
        cpu.mmx_check()?;
    }
    shift_with::<S, XMM>(cpu, op, u64::from(op.imm as u8));
    Ok(())
}

/// The count is the whole low quadword of the source (SDM vol. 2 PSLLW: counts above the lane
/// width clear it).
fn shift_by<const S: u8, const XMM: bool, const SRC: u8>(cpu: &mut Cpu, op: &Op) -> Exec {
    if XMM {
        cpu.sse_check()?;
    } else {
        cpu.mmx_check()?;
    }
    let count = load::<SRC>(cpu, op)?[0];
    shift_with::<S, XMM>(cpu, op, count);
    Ok(())
}

/// EMMS: every x87 tag empty (SDM vol. 2 EMMS) and, as for every MMX instruction, TOP = 0
/// (SDM vol. 3A §12.2); the MMX checks apply.
fn emms(cpu: &mut Cpu, _op: &Op) -> Exec {
    cpu.mmx_check()?;
    cpu.mmx_enter();
    cpu.state.fpu.tag = 0xFFFF;
    Ok(())
}

/// Whether `i` is the SSE2 PEXTRW r32, xmm, imm8 (66 0F C5) rather than the SSE4.1 form.
pub(super) fn is_legacy_pextrw(i: &Instruction) -> bool {
    matches!(
        i.code(),
        Code::Pextrw_r32_mm_imm8 | Code::Pextrw_r32_xmm_imm8
    )
}

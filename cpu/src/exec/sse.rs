//! SSE/SSE2 floating-point instructions: packed and scalar arithmetic, MIN/MAX, SQRT, the
//! RCP/RSQRT approximations, CMPcc, COMIS/UCOMIS and the CVT* conversions. Element semantics in
//! [`crate::simd::float`] and [`crate::simd::convert`]; MXCSR exception reporting in
//! [`Cpu::simd_fp_report`].

use iced_x86::{Instruction, Mnemonic, OpKind};

use super::mmx::{implemented_set, load, src, vector_reg};
use crate::decode::Lowered;
use crate::fault::Exec;
use crate::ir::{Handler, Op};
use crate::simd::convert::{self, kind, Dest};
use crate::simd::float::{self, element, format, op};
use crate::simd::mxcsr::PRE;
use crate::simd::softfloat::Env;
use crate::state::flag;
use crate::Cpu;

pub(super) fn lower(i: &Instruction) -> Option<Lowered> {
    if !implemented_set(i) {
        return None;
    }
    let m = i.mnemonic();
    let handler = if let Some((o, double, scalar)) = arith_of(m, i) {
        arith_handler(o, double, scalar, i.op_kind(1) == OpKind::Memory)?
    } else if let Some(k) = conversion_of(m) {
        conversion_handler(k, i)?
    } else {
        let mem = i.op_kind(1) == OpKind::Memory;
        match (m, mem) {
            (Mnemonic::Comiss, false) => comis::<false, true, false>,
            (Mnemonic::Comiss, true) => comis::<false, true, true>,
            (Mnemonic::Ucomiss, false) => comis::<false, false, false>,
            (Mnemonic::Ucomiss, true) => comis::<false, false, true>,
            (Mnemonic::Comisd, false) => comis::<true, true, false>,
            (Mnemonic::Comisd, true) => comis::<true, true, true>,
            (Mnemonic::Ucomisd, false) => comis::<true, false, false>,
            (Mnemonic::Ucomisd, true) => comis::<true, false, true>,
            _ => return None,
        }
    };
    Some(Lowered::op(Op::from_instr(i, handler)))
}

/// (operation, double precision, scalar) of an arithmetic mnemonic.
fn arith_of(m: Mnemonic, i: &Instruction) -> Option<(u8, bool, bool)> {
    use Mnemonic as M;
    Some(match m {
        M::Addps => (op::ADD, false, false),
        M::Addss => (op::ADD, false, true),
        M::Addpd => (op::ADD, true, false),
        M::Addsd => (op::ADD, true, true),
        M::Subps => (op::SUB, false, false),
        M::Subss => (op::SUB, false, true),
        M::Subpd => (op::SUB, true, false),
        M::Subsd => (op::SUB, true, true),
        M::Mulps => (op::MUL, false, false),
        M::Mulss => (op::MUL, false, true),
        M::Mulpd => (op::MUL, true, false),
        M::Mulsd => (op::MUL, true, true),
        M::Divps => (op::DIV, false, false),
        M::Divss => (op::DIV, false, true),
        M::Divpd => (op::DIV, true, false),
        M::Divsd => (op::DIV, true, true),
        M::Minps => (op::MIN, false, false),
        M::Minss => (op::MIN, false, true),
        M::Minpd => (op::MIN, true, false),
        M::Minsd => (op::MIN, true, true),
        M::Maxps => (op::MAX, false, false),
        M::Maxss => (op::MAX, false, true),
        M::Maxpd => (op::MAX, true, false),
        M::Maxsd => (op::MAX, true, true),
        M::Sqrtps => (op::SQRT, false, false),
        M::Sqrtss => (op::SQRT, false, true),
        M::Sqrtpd => (op::SQRT, true, false),
        M::Sqrtsd => (op::SQRT, true, true),
        M::Rcpps => (op::RCP, false, false),
        M::Rcpss => (op::RCP, false, true),
        M::Rsqrtps => (op::RSQRT, false, false),
        M::Rsqrtss => (op::RSQRT, false, true),
        M::Cmpps => (op::CMP, false, false),
        M::Cmpss => (op::CMP, false, true),
        M::Cmppd => (op::CMP, true, false),
        // CMPSD the string instruction has no XMM operand and belongs to the string group.
        M::Cmpsd if vector_reg(i, 0) == Some(true) => (op::CMP, true, true),
        _ => return None,
    })
}

fn arith_handler(o: u8, double: bool, scalar: bool, mem: bool) -> Option<Handler> {
    macro_rules! pick {
        ($($o:ident),*) => {
            match o {
                $(op::$o => match (double, scalar, mem) {
                    (false, false, false) => arith::<{ op::$o }, false, false, false>,
                    (false, false, true) => arith::<{ op::$o }, false, false, true>,
                    (false, true, false) => arith::<{ op::$o }, false, true, false>,
                    (false, true, true) => arith::<{ op::$o }, false, true, true>,
                    (true, false, false) => arith::<{ op::$o }, true, false, false>,
                    (true, false, true) => arith::<{ op::$o }, true, false, true>,
                    (true, true, false) => arith::<{ op::$o }, true, true, false>,
                    (true, true, true) => arith::<{ op::$o }, true, true, true>,
                },)*
                _ => return None,
            }
        };
    }
    Some(pick!(ADD, SUB, MUL, DIV, MIN, MAX, SQRT, CMP, RCP, RSQRT))
}

/// A packed (16-byte aligned memory source) or scalar (32/64-bit memory source, upper
/// destination elements kept) floating-point operation.
fn arith<const OP: u8, const DOUBLE: bool, const SCALAR: bool, const MEM: bool>(
    cpu: &mut Cpu,
    op: &Op,
) -> Exec {
    cpu.sse_check()?;
    let f = format(DOUBLE);
    let a = cpu.xmm(op.r0);
    let imm = op.imm as u8;
    let (result, flags) = if SCALAR {
        let b = match (MEM, DOUBLE) {
            (true, true) => cpu.read_m64(op)?,
            (true, false) => u64::from(cpu.read_m32(op)?),
            (false, _) => element(cpu.xmm(op.r1), f, 0),
        };
        let env = Env::from_mxcsr(cpu.state.sse.mxcsr);
        float::scalar::<OP>(f, a, b, imm, env)
    } else {
        let b = if MEM {
            cpu.read_m128::<true>(op)?
        } else {
            cpu.xmm(op.r1)
        };
        let env = Env::from_mxcsr(cpu.state.sse.mxcsr);
        float::packed::<OP>(f, a, b, imm, env)
    };
    cpu.simd_fp_report(flags & PRE, flags & !PRE)?;
    cpu.set_xmm(op.r0, result);
    Ok(())
}

/// COMISS/UCOMISS/COMISD/UCOMISD: ZF, PF, CF from the comparison, OF, SF and AF cleared
/// (SDM vol. 2 COMISS); EFLAGS unchanged when an unmasked exception faults.
fn comis<const DOUBLE: bool, const SIGNALLING: bool, const MEM: bool>(
    cpu: &mut Cpu,
    op: &Op,
) -> Exec {
    cpu.sse_check()?;
    let f = format(DOUBLE);
    let b = match (MEM, DOUBLE) {
        (true, true) => cpu.read_m64(op)?,
        (true, false) => u64::from(cpu.read_m32(op)?),
        (false, _) => element(cpu.xmm(op.r1), f, 0),
    };
    let a = element(cpu.xmm(op.r0), f, 0);
    let env = Env::from_mxcsr(cpu.state.sse.mxcsr);
    let ((zf, pf, cf), flags) = float::compare_flags(f, a, b, SIGNALLING, env);
    cpu.simd_fp_report(flags, 0)?;
    let value = if zf { flag::ZF } else { 0 }
        | if pf { flag::PF } else { 0 }
        | if cf { flag::CF } else { 0 };
    cpu.state.set_arith_flags(flag::ARITH, value);
    Ok(())
}

fn conversion_of(m: Mnemonic) -> Option<u8> {
    use Mnemonic as M;
    Some(match m {
        M::Cvtpi2ps => kind::CVTPI2PS,
        M::Cvtps2pi => kind::CVTPS2PI,
        M::Cvttps2pi => kind::CVTTPS2PI,
        M::Cvtsi2ss => kind::CVTSI2SS,
        M::Cvtss2si => kind::CVTSS2SI,
        M::Cvttss2si => kind::CVTTSS2SI,
        M::Cvtpi2pd => kind::CVTPI2PD,
        M::Cvtpd2pi => kind::CVTPD2PI,
        M::Cvttpd2pi => kind::CVTTPD2PI,
        M::Cvtsi2sd => kind::CVTSI2SD,
        M::Cvtsd2si => kind::CVTSD2SI,
        M::Cvttsd2si => kind::CVTTSD2SI,
        M::Cvtpd2dq => kind::CVTPD2DQ,
        M::Cvttpd2dq => kind::CVTTPD2DQ,
        M::Cvtdq2pd => kind::CVTDQ2PD,
        M::Cvtps2pd => kind::CVTPS2PD,
        M::Cvtpd2ps => kind::CVTPD2PS,
        M::Cvtss2sd => kind::CVTSS2SD,
        M::Cvtsd2ss => kind::CVTSD2SS,
        M::Cvtdq2ps => kind::CVTDQ2PS,
        M::Cvtps2dq => kind::CVTPS2DQ,
        M::Cvttps2dq => kind::CVTTPS2DQ,
        _ => return None,
    })
}

/// The memory source size of conversion `k`: the elements it reads.
const fn memory_source(k: u8) -> u8 {
    match k {
        kind::CVTSI2SS | kind::CVTSS2SI | kind::CVTTSS2SI | kind::CVTSI2SD | kind::CVTSS2SD => {
            src::M32
        }
        kind::CVTPI2PS
        | kind::CVTPS2PI
        | kind::CVTTPS2PI
        | kind::CVTPI2PD
        | kind::CVTSD2SI
        | kind::CVTTSD2SI
        | kind::CVTDQ2PD
        | kind::CVTPS2PD
        | kind::CVTSD2SS => src::M64,
        _ => src::M128,
    }
}

fn conversion_handler(k: u8, i: &Instruction) -> Option<Handler> {
    let from = match i.op_kind(1) {
        OpKind::Memory => 0,
        OpKind::Register if i.op_register(1).is_gpr32() => 1,
        OpKind::Register if i.op_register(1).is_mm() => 2,
        OpKind::Register if i.op_register(1).is_xmm() => 3,
        _ => return None,
    };
    macro_rules! pick {
        ($($k:ident),*) => {
            match k {
                $(kind::$k => match from {
                    0 => cvt::<{ kind::$k }, { memory_source(kind::$k) }>,
                    1 => cvt::<{ kind::$k }, { src::GPR }>,
                    2 => cvt::<{ kind::$k }, { src::MM }>,
                    _ => cvt::<{ kind::$k }, { src::XMM }>,
                },)*
                _ => return None,
            }
        };
    }
    Some(pick!(
        CVTPI2PS, CVTPS2PI, CVTTPS2PI, CVTSI2SS, CVTSS2SI, CVTTSS2SI, CVTPI2PD, CVTPD2PI,
        CVTTPD2PI, CVTSI2SD, CVTSD2SI, CVTTSD2SI, CVTPD2DQ, CVTTPD2DQ, CVTDQ2PD, CVTPS2PD,
        CVTPD2PS, CVTSS2SD, CVTSD2SS, CVTDQ2PS, CVTPS2DQ, CVTTPS2DQ
    ))
}

/// Conversion `K` from a source of kind `SRC`. Those with an MMX register operand check for a
/// pending x87 exception and make the MMX transition (SDM vol. 2 CVTPI2PS, CVTPS2PI; vol. 3B
/// table 22-5: CVTPI2PD with a memory source does neither). CVTPI2PS with a memory source
/// checks for the pending exception (table 22-5) but, as hardware does, makes no transition.
fn cvt<const K: u8, const SRC: u8>(cpu: &mut Cpu, op: &Op) -> Exec {
    let mmx = convert::dest(K) == Dest::Mm || SRC == src::MM;
    if mmx || K == kind::CVTPI2PS {
        cpu.sse_mmx_check()?;
    } else {
        cpu.sse_check()?;
    }
    let source = load::<SRC>(cpu, op)?;
    let dest = match convert::dest(K) {
        Dest::Xmm => cpu.xmm(op.r0),
        Dest::Mm => [cpu.mm(op.r0), 0],
        Dest::Gpr => [0, 0],
    };
    let env = Env::from_mxcsr(cpu.state.sse.mxcsr);
    let (result, flags) = convert::run(K, dest, source, env);
    cpu.simd_fp_report(flags & PRE, flags & !PRE)?;
    match convert::dest(K) {
        Dest::Xmm => cpu.set_xmm(op.r0, result),
        Dest::Mm => cpu.set_mm(op.r0, result[0]),
        Dest::Gpr => cpu.state.regs[(op.r0 & 7) as usize] = convert::gpr_result(result),
    }
    if mmx {
        cpu.mmx_enter();
    }
    Ok(())
}

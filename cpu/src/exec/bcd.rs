//! Decimal adjustment: DAA, DAS, AAA, AAS, AAM, AAD, and the undocumented SALC.
//!
//! Results and defined flags follow the SDM vol. 2A pseudo-code. These instructions do not
//! exist in 64-bit mode, so there is no host oracle; the tests check them against a reference
//! model, test386's recorded results and its hardware-validated undefined-flag vectors.
//! Flags the SDM leaves undefined are set as Intel hardware sets them (test386 checks these
//! on a 386SX; no P6 difference is known):
//! - DAA/DAS: OF is the signed overflow from the original to the adjusted AL.
//! - AAA/AAS: SF, ZF, PF and OF are those of the 8-bit AL ± 6 (AL ± 0 without adjustment),
//!   before the high nibble is cleared.
//! - AAM: OF, AF and CF are cleared (SF/ZF/PF follow AL).
//! - AAD: OF, AF and CF are those of the 8-bit addition AL + AH × imm8 that produces AL.

use iced_x86::{Instruction, Mnemonic};

use crate::decode::Lowered;
use crate::fault::{Exec, Fault};
use crate::flags::result_flags;
use crate::ir::{Handler, Op};
use crate::state::{flag, reg, CpuState};
use crate::Cpu;

pub(super) fn lower(i: &Instruction) -> Option<Lowered> {
    let handler: Handler = match i.mnemonic() {
        Mnemonic::Daa => daa,
        Mnemonic::Das => das,
        Mnemonic::Aaa => aaa,
        Mnemonic::Aas => aas,
        Mnemonic::Aam => aam,
        Mnemonic::Aad => aad,
        Mnemonic::Salc => salc,
        _ => return None,
    };
    Some(Lowered::op(Op::from_instr(i, handler)))
}

/// The effect of one adjustment on AX and the six arithmetic flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Adjusted {
    ax: u16,
    flags: u32,
}

fn bit(cond: bool, f: u32) -> u32 {
    if cond {
        f
    } else {
        0
    }
}

/// DAA (`SUB` false) or DAS (`SUB` true) on AL with the incoming CF and AF.
fn decimal_adjust<const SUB: bool>(ax: u16, cf: bool, af: bool) -> Adjusted {
    let old_al = ax as u8;
    let mut al = old_al;
    let mut new_cf = false;
    let mut new_af = false;
    if old_al & 0x0F > 9 || af {
        let (v, carry) = if SUB {
            al.overflowing_sub(6)
        } else {
            al.overflowing_add(6)
        };
        al = v;
        new_cf = cf || carry;
        new_af = true;
    }
    if old_al > 0x99 || cf {
        al = if SUB {
            al.wrapping_sub(0x60)
        } else {
            al.wrapping_add(0x60)
        };
        new_cf = true;
    } else if !SUB {
        new_cf = false;
    }
    let overflow = if SUB {
        old_al & !al & 0x80 != 0
    } else {
        !old_al & al & 0x80 != 0
    };
    let flags = result_flags::<1>(u32::from(al))
        | bit(new_cf, flag::CF)
        | bit(new_af, flag::AF)
        | bit(overflow, flag::OF);
    Adjusted {
        ax: (ax & 0xFF00) | u16::from(al),
        flags,
    }
}

/// AAA (`SUB` false) or AAS (`SUB` true): ASCII adjust after addition or subtraction.
fn ascii_adjust<const SUB: bool>(ax: u16, af: bool) -> Adjusted {
    let al = ax as u8;
    let adjust = al & 0x0F > 9 || af;
    let step = if adjust { 6 } else { 0 };
    let (adjusted_al, overflow) = if SUB {
        (
            al.wrapping_sub(step),
            al & !al.wrapping_sub(step) & 0x80 != 0,
        )
    } else {
        (
            al.wrapping_add(step),
            !al & al.wrapping_add(step) & 0x80 != 0,
        )
    };
    let ax = match (adjust, SUB) {
        (false, _) => ax,
        (true, false) => ax.wrapping_add(0x106),
        (true, true) => ax.wrapping_sub(6).wrapping_sub(0x100),
    } & 0xFF0F;
    let flags = result_flags::<1>(u32::from(adjusted_al))
        | bit(overflow, flag::OF)
        | bit(adjust, flag::CF | flag::AF);
    Adjusted { ax, flags }
}

/// AAM with base `imm` (nonzero): AH = AL / imm, AL = AL mod imm.
fn ascii_adjust_mul(ax: u16, imm: u8) -> Adjusted {
    let al = ax as u8;
    let (q, r) = (al / imm, al % imm);
    Adjusted {
        ax: u16::from(q) << 8 | u16::from(r),
        flags: result_flags::<1>(u32::from(r)),
    }
}

/// AAD with base `imm`: AL = AL + AH × imm, AH = 0.
fn ascii_adjust_div(ax: u16, imm: u8) -> Adjusted {
    let (al, ah) = (ax as u8, (ax >> 8) as u8);
    let product = ah.wrapping_mul(imm);
    let (res, carry) = al.overflowing_add(product);
    let overflow = (al ^ res) & (product ^ res) & 0x80 != 0;
    let half = (al ^ product ^ res) & 0x10 != 0;
    Adjusted {
        ax: u16::from(res),
        flags: result_flags::<1>(u32::from(res))
            | bit(carry, flag::CF)
            | bit(half, flag::AF)
            | bit(overflow, flag::OF),
    }
}

fn commit(s: &mut CpuState, out: Adjusted) {
    s.set_reg::<2>(reg::EAX, u32::from(out.ax));
    s.set_all_arith_flags(out.flags);
}

fn ax(s: &CpuState) -> u16 {
    s.reg::<2>(reg::EAX) as u16
}

fn daa(cpu: &mut Cpu, _op: &Op) -> Exec {
    let s = &mut cpu.state;
    let out = decimal_adjust::<false>(ax(s), s.cf(), s.af());
    commit(s, out);
    Ok(())
}

fn das(cpu: &mut Cpu, _op: &Op) -> Exec {
    let s = &mut cpu.state;
    let out = decimal_adjust::<true>(ax(s), s.cf(), s.af());
    commit(s, out);
    Ok(())
}

fn aaa(cpu: &mut Cpu, _op: &Op) -> Exec {
    let s = &mut cpu.state;
    let out = ascii_adjust::<false>(ax(s), s.af());
    commit(s, out);
    Ok(())
}

fn aas(cpu: &mut Cpu, _op: &Op) -> Exec {
    let s = &mut cpu.state;
    let out = ascii_adjust::<true>(ax(s), s.af());
    commit(s, out);
    Ok(())
}

/// AAM imm8: #DE when the base is 0.
fn aam(cpu: &mut Cpu, op: &Op) -> Exec {
    let imm = op.imm as u8;
    if imm == 0 {
        return Err(Fault::de());
    }
    let s = &mut cpu.state;
    let out = ascii_adjust_mul(ax(s), imm);
    commit(s, out);
    Ok(())
}

fn aad(cpu: &mut Cpu, op: &Op) -> Exec {
    let s = &mut cpu.state;
    let out = ascii_adjust_div(ax(s), op.imm as u8);
    commit(s, out);
    Ok(())
}

/// SALC (D6): AL = CF ? FFh : 00h; no flags change.
fn salc(cpu: &mut Cpu, _op: &Op) -> Exec {
    let s = &mut cpu.state;
    let al = if s.cf() { 0xFF } else { 0 };
    s.set_reg::<1>(reg::EAX, al);
    Ok(())
}

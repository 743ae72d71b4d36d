//! SIMD data movement and state: MOVD/MOVQ, the SSE/SSE2 register moves and stores
//! (MOVAPS ... MOVNTDQ, MASKMOVQ/MASKMOVDQU, MOVNTI), sign masks, shuffles, PEXTRW/PINSRW,
//! LDMXCSR/STMXCSR, FXSAVE/FXRSTOR, the fences and CLFLUSH.

use iced_x86::{Code, Instruction, Mnemonic, OpKind};
use webx86_mmu::{Access, LinAddr};

use super::mmx::{implemented_set, is_legacy_pextrw, load, src, vector_reg};
use crate::decode::Lowered;
use crate::fault::{Exec, Fault};
use crate::ir::{Handler, Op};
use crate::simd::fxsave::{self, AREA_LEN, IMAGE_LEN};
use crate::simd::{int, mxcsr, Vec128};
use crate::state::{cr0, reg};
use crate::Cpu;

pub(super) fn lower(i: &Instruction) -> Option<Lowered> {
    if !implemented_set(i) {
        return None;
    }
    let handler = handler(i)?;
    let mut op = Op::from_instr(i, handler);
    if matches!(i.mnemonic(), Mnemonic::Maskmovq | Mnemonic::Maskmovdqu) {
        // Operand 0 is the implicit DS:(E)DI destination; the registers are operands 1 and 2.
        op.r0 = crate::ir::register_number(i.op_register(1));
        op.r1 = crate::ir::register_number(i.op_register(2));
    }
    let ends = matches!(i.mnemonic(), Mnemonic::Fxrstor | Mnemonic::Ldmxcsr);
    Some(if ends {
        Lowered::ending(op)
    } else {
        Lowered::op(op)
    })
}

fn handler(i: &Instruction) -> Option<Handler> {
    use Code as C;
    let mem1 = i.op_count() > 1 && i.op_kind(1) == OpKind::Memory;
    Some(match i.code() {
        C::Movaps_xmm_xmmm128 | C::Movapd_xmm_xmmm128 | C::Movdqa_xmm_xmmm128 => {
            if mem1 {
                mov_load::<{ src::M128 }>
            } else {
                mov_load::<{ src::XMM }>
            }
        }
        C::Movups_xmm_xmmm128 | C::Movupd_xmm_xmmm128 | C::Movdqu_xmm_xmmm128 => {
            if mem1 {
                mov_load::<{ src::M128U }>
            } else {
                mov_load::<{ src::XMM }>
            }
        }
        C::Movaps_xmmm128_xmm | C::Movapd_xmmm128_xmm | C::Movdqa_xmmm128_xmm => {
            reg_or_store(i, mov_store::<true>)
        }
        C::Movups_xmmm128_xmm | C::Movupd_xmmm128_xmm | C::Movdqu_xmmm128_xmm => {
            reg_or_store(i, mov_store::<false>)
        }
        C::Movntps_m128_xmm | C::Movntpd_m128_xmm | C::Movntdq_m128_xmm => mov_store::<true>,
        C::Movss_xmm_xmmm32 if mem1 => movs_load::<false>,
        C::Movss_xmm_xmmm32 | C::Movss_xmmm32_xmm if !mem1 && i.op0_kind() == OpKind::Register => {
            movs_reg::<false>
        }
        C::Movss_xmmm32_xmm => movs_store::<false>,
        C::Movsd_xmm_xmmm64 if mem1 => movs_load::<true>,
        C::Movsd_xmm_xmmm64 | C::Movsd_xmmm64_xmm if !mem1 && i.op0_kind() == OpKind::Register => {
            movs_reg::<true>
        }
        C::Movsd_xmmm64_xmm => movs_store::<true>,
        C::Movlps_xmm_m64 | C::Movlpd_xmm_m64 => half_load::<0>,
        C::Movhps_xmm_m64 | C::Movhpd_xmm_m64 => half_load::<1>,
        C::Movlps_m64_xmm | C::Movlpd_m64_xmm => half_store::<0>,
        C::Movhps_m64_xmm | C::Movhpd_m64_xmm => half_store::<1>,
        C::Movhlps_xmm_xmm => movhlps,
        C::Movlhps_xmm_xmm => movlhps,
        C::Movmskps_r32_xmm => sign_mask::<0>,
        C::Movmskpd_r32_xmm => sign_mask::<1>,
        C::Pmovmskb_r32_mm => sign_mask::<2>,
        C::Pmovmskb_r32_xmm => sign_mask::<3>,
        C::Movd_mm_rm32 => pick_mem(mem1, movd_to_mm::<true>, movd_to_mm::<false>),
        C::Movd_rm32_mm => pick_mem(
            i.op0_kind() == OpKind::Memory,
            movd_from_mm::<true>,
            movd_from_mm::<false>,
        ),
        C::Movd_xmm_rm32 => pick_mem(mem1, movd_to_xmm::<true>, movd_to_xmm::<false>),
        C::Movd_rm32_xmm => pick_mem(
            i.op0_kind() == OpKind::Memory,
            movd_from_xmm::<true>,
            movd_from_xmm::<false>,
        ),
        C::Movq_mm_mmm64 => {
            if mem1 {
                movq_to_mm::<{ src::M64 }>
            } else {
                movq_to_mm::<{ src::MM }>
            }
        }
        C::Movq_mmm64_mm => {
            if i.op0_kind() == OpKind::Memory {
                movq_store_mm
            } else {
                movq_mm_rr
            }
        }
        C::Movntq_m64_mm => movq_store_mm,
        C::Movq_xmm_xmmm64 => {
            if mem1 {
                movq_to_xmm::<{ src::M64 }>
            } else {
                movq_to_xmm::<{ src::XMM }>
            }
        }
        C::Movq_xmmm64_xmm => {
            if i.op0_kind() == OpKind::Memory {
                movq_store_xmm
            } else {
                movq_xmm_rr
            }
        }
        C::Movq2dq_xmm_mm => movq2dq,
        C::Movdq2q_mm_xmm => movdq2q,
        C::Movnti_m32_r32 => movnti,
        C::Maskmovq_rDI_mm_mm => maskmov::<false>,
        C::Maskmovdqu_rDI_xmm_xmm => maskmov::<true>,
        C::Pshufw_mm_mmm64_imm8 => pick_mem(mem1, pshufw::<true>, pshufw::<false>),
        C::Pshufd_xmm_xmmm128_imm8 => pick_mem(mem1, pshuf::<0, true>, pshuf::<0, false>),
        C::Pshuflw_xmm_xmmm128_imm8 => pick_mem(mem1, pshuf::<1, true>, pshuf::<1, false>),
        C::Pshufhw_xmm_xmmm128_imm8 => pick_mem(mem1, pshuf::<2, true>, pshuf::<2, false>),
        C::Shufps_xmm_xmmm128_imm8 => pick_mem(mem1, pshuf::<3, true>, pshuf::<3, false>),
        C::Shufpd_xmm_xmmm128_imm8 => pick_mem(mem1, pshuf::<4, true>, pshuf::<4, false>),
        _ if is_legacy_pextrw(i) => {
            if vector_reg(i, 1)? {
                pextrw::<true>
            } else {
                pextrw::<false>
            }
        }
        C::Pinsrw_mm_r32m16_imm8 => pick_mem(
            mem1,
            pinsrw::<false, { src::M16 }>,
            pinsrw::<false, { src::GPR }>,
        ),
        C::Pinsrw_xmm_r32m16_imm8 => pick_mem(
            mem1,
            pinsrw::<true, { src::M16 }>,
            pinsrw::<true, { src::GPR }>,
        ),
        C::Ldmxcsr_m32 => ldmxcsr,
        C::Stmxcsr_m32 => stmxcsr,
        C::Fxsave_m512byte => fxsave,
        C::Fxrstor_m512byte => fxrstor,
        C::Sfence | C::Lfence | C::Mfence => fence,
        C::Clflush_m8 => clflush,
        _ => return None,
    })
}

fn pick_mem(mem: bool, with_mem: Handler, with_reg: Handler) -> Handler {
    if mem {
        with_mem
    } else {
        with_reg
    }
}

/// The register-destination encodings of the store forms (MOVAPS xmm1, xmm2 via 0F 29) are
/// plain register moves.
fn reg_or_store(i: &Instruction, store: Handler) -> Handler {
    if i.op0_kind() == OpKind::Memory {
        store
    } else {
        mov_reg_rev
    }
}

fn mov_load<const SRC: u8>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.sse_check()?;
    let v = load::<SRC>(cpu, op)?;
    cpu.set_xmm(op.r0, v);
    Ok(())
}

/// xmm0 ← xmm1 where operand 0 is the destination register (store-form encodings).
fn mov_reg_rev(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.sse_check()?;
    let v = cpu.xmm(op.r1);
    cpu.set_xmm(op.r0, v);
    Ok(())
}

fn mov_store<const ALIGNED: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.sse_check()?;
    let v = cpu.xmm(op.r1);
    cpu.write_m128::<ALIGNED>(op, v)
}

/// The low element's mask: a dword for MOVSS, a quadword for MOVSD.
const fn low_mask(double: bool) -> u64 {
    if double {
        u64::MAX
    } else {
        0xFFFF_FFFF
    }
}

/// MOVSS/MOVSD from memory: the element, the rest of the register cleared.
fn movs_load<const DOUBLE: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.sse_check()?;
    let v = if DOUBLE {
        cpu.read_m64(op)?
    } else {
        u64::from(cpu.read_m32(op)?)
    };
    cpu.set_xmm(op.r0, [v, 0]);
    Ok(())
}

/// MOVSS/MOVSD between registers: only the low element moves.
fn movs_reg<const DOUBLE: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.sse_check()?;
    let m = low_mask(DOUBLE);
    let (mut d, s) = (cpu.xmm(op.r0), cpu.xmm(op.r1));
    d[0] = (d[0] & !m) | (s[0] & m);
    cpu.set_xmm(op.r0, d);
    Ok(())
}

fn movs_store<const DOUBLE: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.sse_check()?;
    let v = cpu.xmm(op.r1)[0];
    if DOUBLE {
        cpu.write_m64(op, v)
    } else {
        cpu.write_mem::<4>(op, v as u32)
    }
}

/// MOVLPS/MOVLPD (`HALF` 0) and MOVHPS/MOVHPD (1) loads: one quadword replaced.
fn half_load<const HALF: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.sse_check()?;
    let v = cpu.read_m64(op)?;
    let mut d = cpu.xmm(op.r0);
    d[HALF] = v;
    cpu.set_xmm(op.r0, d);
    Ok(())
}

fn half_store<const HALF: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.sse_check()?;
    let v = cpu.xmm(op.r1)[HALF];
    cpu.write_m64(op, v)
}

fn movhlps(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.sse_check()?;
    let mut d = cpu.xmm(op.r0);
    d[0] = cpu.xmm(op.r1)[1];
    cpu.set_xmm(op.r0, d);
    Ok(())
}

fn movlhps(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.sse_check()?;
    let mut d = cpu.xmm(op.r0);
    d[1] = cpu.xmm(op.r1)[0];
    cpu.set_xmm(op.r0, d);
    Ok(())
}

/// MOVMSKPS (`KIND` 0), MOVMSKPD (1), PMOVMSKB mm (2) and xmm (3): sign bits into a general
/// register, zero-extended.
fn sign_mask<const KIND: u8>(cpu: &mut Cpu, op: &Op) -> Exec {
    let mask = match KIND {
        0 | 1 => {
            cpu.sse_check()?;
            let v = cpu.xmm(op.r1);
            if KIND == 0 {
                (0..4).fold(0, |acc, i| {
                    acc | (((v[i / 2] >> (32 * (i % 2) + 31)) & 1) << i)
                }) as u32
            } else {
                ((v[0] >> 63) | (v[1] >> 63) << 1) as u32
            }
        }
        2 => {
            cpu.mmx_check()?;
            let m = int::byte_signs([cpu.mm(op.r1), 0], false);
            cpu.mmx_enter();
            m
        }
        _ => {
            cpu.sse_check()?;
            int::byte_signs(cpu.xmm(op.r1), true)
        }
    };
    cpu.state.regs[(op.r0 & 7) as usize] = mask;
    Ok(())
}

fn movd_to_mm<const MEM: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.mmx_check()?;
    let v = if MEM {
        cpu.read_m32(op)?
    } else {
        cpu.state.regs[(op.r1 & 7) as usize]
    };
    cpu.set_mm(op.r0, u64::from(v));
    Ok(())
}

fn movd_from_mm<const MEM: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.mmx_check()?;
    let v = cpu.mm(op.r1) as u32;
    if MEM {
        cpu.write_mem::<4>(op, v)?;
    } else {
        cpu.state.regs[(op.r0 & 7) as usize] = v;
    }
    cpu.mmx_enter();
    Ok(())
}

fn movd_to_xmm<const MEM: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.sse_check()?;
    let v = if MEM {
        cpu.read_m32(op)?
    } else {
        cpu.state.regs[(op.r1 & 7) as usize]
    };
    cpu.set_xmm(op.r0, [u64::from(v), 0]);
    Ok(())
}

fn movd_from_xmm<const MEM: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.sse_check()?;
    let v = cpu.xmm(op.r1)[0] as u32;
    if MEM {
        cpu.write_mem::<4>(op, v)
    } else {
        cpu.state.regs[(op.r0 & 7) as usize] = v;
        Ok(())
    }
}

fn movq_to_mm<const SRC: u8>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.mmx_check()?;
    let v = load::<SRC>(cpu, op)?[0];
    cpu.set_mm(op.r0, v);
    Ok(())
}

/// MOVQ mm1, mm2 through the store encoding (0F 7F /r with mod 11).
fn movq_mm_rr(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.mmx_check()?;
    let v = cpu.mm(op.r1);
    cpu.set_mm(op.r0, v);
    Ok(())
}

/// MOVQ m64, mm and MOVNTQ.
fn movq_store_mm(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.mmx_check()?;
    let v = cpu.mm(op.r1);
    cpu.write_m64(op, v)?;
    cpu.mmx_enter();
    Ok(())
}

/// MOVQ xmm, xmm/m64 (F3 0F 7E): the quadword, the upper half cleared.
fn movq_to_xmm<const SRC: u8>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.sse_check()?;
    let v = load::<SRC>(cpu, op)?[0];
    cpu.set_xmm(op.r0, [v, 0]);
    Ok(())
}

/// MOVQ xmm1, xmm2 through 66 0F D6: also clears the destination's upper half.
fn movq_xmm_rr(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.sse_check()?;
    let v = cpu.xmm(op.r1)[0];
    cpu.set_xmm(op.r0, [v, 0]);
    Ok(())
}

fn movq_store_xmm(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.sse_check()?;
    let v = cpu.xmm(op.r1)[0];
    cpu.write_m64(op, v)
}

fn movq2dq(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.sse_mmx_check()?;
    let v = cpu.mm(op.r1);
    cpu.set_xmm(op.r0, [v, 0]);
    cpu.mmx_enter();
    Ok(())
}

fn movdq2q(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.sse_mmx_check()?;
    let v = cpu.xmm(op.r1)[0];
    cpu.set_mm(op.r0, v);
    Ok(())
}

/// MOVNTI: an ordinary store (webx86 has no caches to bypass); not affected by CR0.EM/TS or
/// CR4.OSFXSR (SDM vol. 3A §13.1.4).
fn movnti(cpu: &mut Cpu, op: &Op) -> Exec {
    let v = cpu.state.regs[(op.r1 & 7) as usize];
    cpu.write_mem::<4>(op, v)
}

/// MASKMOVQ / MASKMOVDQU: stores the bytes of register `r0` whose mask byte in `r1` has its top
/// bit set to DS:(E)DI (segment overridable). The whole destination is checked first, so the
/// store is all-or-nothing, even with an empty mask (which the SDM lets an implementation
/// check).
fn maskmov<const XMM: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    let n: u32 = if XMM { 16 } else { 8 };
    let (data, mask) = if XMM {
        cpu.sse_check()?;
        (cpu.xmm(op.r0), cpu.xmm(op.r1))
    } else {
        cpu.mmx_check()?;
        ([cpu.mm(op.r0), 0], [cpu.mm(op.r1), 0])
    };
    let mut offset = cpu.state.regs[reg::EDI as usize];
    if op.has(crate::ir::opflag::ADDR16) {
        offset &= 0xFFFF;
    }
    let lin = cpu.simd_lin_at(op.seg, offset, n, 1, true)?;
    cpu.probe_lin_write(lin, n)?;
    for i in 0..n {
        let q = (i / 8) as usize;
        let shift = 8 * (i % 8);
        if (mask[q] >> shift) & 0x80 != 0 {
            cpu.write_lin::<1>(lin.wrapping_add(i), ((data[q] >> shift) & 0xFF) as u32)?;
        }
    }
    if !XMM {
        cpu.mmx_enter();
    }
    Ok(())
}

fn pshufw<const MEM: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.mmx_check()?;
    let v = if MEM {
        cpu.read_m64(op)?
    } else {
        cpu.mm(op.r1)
    };
    cpu.set_mm(op.r0, int::shuffle_words(v, op.imm as u8));
    Ok(())
}

/// PSHUFD (`KIND` 0), PSHUFLW (1), PSHUFHW (2), SHUFPS (3), SHUFPD (4).
fn pshuf<const KIND: u8, const MEM: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.sse_check()?;
    let s = if MEM {
        cpu.read_m128::<true>(op)?
    } else {
        cpu.xmm(op.r1)
    };
    let imm = op.imm as u8;
    let d = cpu.xmm(op.r0);
    let r: Vec128 = match KIND {
        0 => int::shuffle_dwords(s, imm),
        1 => [int::shuffle_words(s[0], imm), s[1]],
        2 => [s[0], int::shuffle_words(s[1], imm)],
        3 => int::shufps(d, s, imm),
        _ => int::shufpd(d, s, imm),
    };
    cpu.set_xmm(op.r0, r);
    Ok(())
}

/// PEXTRW r32, mm/xmm, imm8: the selected word, zero-extended.
fn pextrw<const XMM: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    let v = if XMM {
        cpu.sse_check()?;
        cpu.xmm(op.r1)
    } else {
        cpu.mmx_check()?;
        [cpu.mm(op.r1), 0]
    };
    cpu.state.regs[(op.r0 & 7) as usize] = int::word(v, op.imm as u8, XMM);
    if !XMM {
        cpu.mmx_enter();
    }
    Ok(())
}

/// PINSRW mm/xmm, r32/m16, imm8.
fn pinsrw<const XMM: bool, const SRC: u8>(cpu: &mut Cpu, op: &Op) -> Exec {
    if XMM {
        cpu.sse_check()?;
    } else {
        cpu.mmx_check()?;
    }
    let w = load::<SRC>(cpu, op)?[0] as u32;
    if XMM {
        let v = int::with_word(cpu.xmm(op.r0), op.imm as u8, w, true);
        cpu.set_xmm(op.r0, v);
    } else {
        let v = int::with_word([cpu.mm(op.r0), 0], op.imm as u8, w, false);
        cpu.set_mm(op.r0, v[0]);
    }
    Ok(())
}

/// LDMXCSR: #GP(0) for a reserved bit (SDM vol. 2 LDMXCSR). Newly unmasked pending flags fault
/// only at the next SIMD floating-point instruction that detects an exception.
fn ldmxcsr(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.sse_check()?;
    let v = cpu.read_m32(op)?;
    if v & !mxcsr::WRITABLE != 0 {
        return Err(Fault::GP0);
    }
    cpu.state.sse.mxcsr = v;
    Ok(())
}

fn stmxcsr(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.sse_check()?;
    let v = cpu.state.sse.mxcsr;
    cpu.write_mem::<4>(op, v)
}

/// FXSAVE/FXRSTOR are x87-class for CR0: EM or TS → #NM (SDM vol. 2 FXSAVE). They do not check
/// for pending x87 exceptions.
fn fx_check(cpu: &Cpu) -> Exec {
    if cpu.state.cr0 & (cr0::EM | cr0::TS) != 0 {
        return Err(Fault::new(crate::fault::vector::NM));
    }
    Ok(())
}

fn fxsave(cpu: &mut Cpu, op: &Op) -> Exec {
    fx_check(cpu)?;
    let lin = cpu.simd_lin(op, AREA_LEN, 16, true)?;
    cpu.probe_store(lin, AREA_LEN)?;
    let image = fxsave::save(&cpu.state);
    for (n, chunk) in image.chunks_exact(4).enumerate() {
        let word = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        cpu.write_lin::<4>(lin.wrapping_add(4 * n as u32), word)?;
    }
    Ok(())
}

fn fxrstor(cpu: &mut Cpu, op: &Op) -> Exec {
    fx_check(cpu)?;
    let lin = cpu.simd_lin(op, AREA_LEN, 16, false)?;
    let mut image = [0u8; IMAGE_LEN];
    for (n, chunk) in image.chunks_exact_mut(4).enumerate() {
        let word = cpu.read_lin::<4>(lin.wrapping_add(4 * n as u32))?;
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    fxsave::restore(&mut cpu.state, &image)
}

/// SFENCE, LFENCE, MFENCE: webx86 executes loads and stores in program order on one CPU, so
/// every ordering they demand already holds. Not affected by CR0.EM/TS (SDM vol. 3A §13.1.4).
fn fence(_cpu: &mut Cpu, _op: &Op) -> Exec {
    Ok(())
}

/// CLFLUSH m8: there are no caches to flush, but the operand is checked like a byte read
/// (segment limit, page present; SDM vol. 2 CLFLUSH), without touching memory-mapped devices.
fn clflush(cpu: &mut Cpu, op: &Op) -> Exec {
    let lin = cpu.simd_lin(op, 1, 1, false)?;
    let user = cpu.state.user();
    cpu.mmu
        .translate(LinAddr(lin), Access::read(user))
        .map_err(|pf| cpu.page_fault(pf))?;
    Ok(())
}

//! MMX, the SSE integer extensions and SSE2 integer instructions against the host CPU: every
//! two-operand packed-integer operation in its MMX and XMM forms with register and memory
//! sources, shifts by immediates and by registers, shuffles, PEXTRW/PINSRW, the sign-mask
//! moves and the bitwise/unpack float instructions.
#![cfg(target_arch = "x86_64")]

mod simd_machine;

use simd_machine::*;

type HostFn = fn(&mut Regs);

#[derive(Clone, Copy)]
struct Case {
    name: &'static str,
    /// Prefix, opcode and ModRM bytes of the register form (any immediate follows).
    code: &'static [u8],
    host: HostFn,
    /// 0: MMX destination (MM0) and source (MM1); 1: XMM; 2: general register result (EAX).
    kind: u8,
    /// Memory-form ModRM replacing the last code byte (`[esi]` with the same reg field), and the
    /// memory operand size, when the instruction has a memory form.
    mem: Option<(u8, usize)>,
}

macro_rules! cases {
    ($( $name:ident, $text:literal, [$($b:expr),*], $kind:expr, $mem:expr; )*) => {
        $( host_fn!($name, $text); )*
        pub(crate) const CASES: &[Case] = &[
            $( Case { name: $text, code: &[$($b),*], host: $name, kind: $kind, mem: $mem }, )*
        ];
    };
}

/// mm0/xmm0 ← op mm1/xmm1 with the classic ModRM 0xC1; memory form ModRM 0x06.
macro_rules! binops {
    ($( $mm:ident, $xmm:ident, $m:literal, $x:literal, $op:expr; )*) => {
        cases! {
            $( $mm, $m, [0x0F, $op, 0xC1], 0, Some((0x06, 8));
               $xmm, $x, [0x66, 0x0F, $op, 0xC1], 1, Some((0x06, 16)); )*
        }
    };
}

binops! {
    paddb_mm, paddb_x, "paddb mm0, mm1", "paddb xmm0, xmm1", 0xFC;
    paddw_mm, paddw_x, "paddw mm0, mm1", "paddw xmm0, xmm1", 0xFD;
    paddd_mm, paddd_x, "paddd mm0, mm1", "paddd xmm0, xmm1", 0xFE;
    paddq_mm, paddq_x, "paddq mm0, mm1", "paddq xmm0, xmm1", 0xD4;
    paddsb_mm, paddsb_x, "paddsb mm0, mm1", "paddsb xmm0, xmm1", 0xEC;
    paddsw_mm, paddsw_x, "paddsw mm0, mm1", "paddsw xmm0, xmm1", 0xED;
    paddusb_mm, paddusb_x, "paddusb mm0, mm1", "paddusb xmm0, xmm1", 0xDC;
    paddusw_mm, paddusw_x, "paddusw mm0, mm1", "paddusw xmm0, xmm1", 0xDD;
    psubb_mm, psubb_x, "psubb mm0, mm1", "psubb xmm0, xmm1", 0xF8;
    psubw_mm, psubw_x, "psubw mm0, mm1", "psubw xmm0, xmm1", 0xF9;
    psubd_mm, psubd_x, "psubd mm0, mm1", "psubd xmm0, xmm1", 0xFA;
    psubq_mm, psubq_x, "psubq mm0, mm1", "psubq xmm0, xmm1", 0xFB;
    psubsb_mm, psubsb_x, "psubsb mm0, mm1", "psubsb xmm0, xmm1", 0xE8;
    psubsw_mm, psubsw_x, "psubsw mm0, mm1", "psubsw xmm0, xmm1", 0xE9;
    psubusb_mm, psubusb_x, "psubusb mm0, mm1", "psubusb xmm0, xmm1", 0xD8;
    psubusw_mm, psubusw_x, "psubusw mm0, mm1", "psubusw xmm0, xmm1", 0xD9;
    pand_mm, pand_x, "pand mm0, mm1", "pand xmm0, xmm1", 0xDB;
    pandn_mm, pandn_x, "pandn mm0, mm1", "pandn xmm0, xmm1", 0xDF;
    por_mm, por_x, "por mm0, mm1", "por xmm0, xmm1", 0xEB;
    pxor_mm, pxor_x, "pxor mm0, mm1", "pxor xmm0, xmm1", 0xEF;
    pcmpeqb_mm, pcmpeqb_x, "pcmpeqb mm0, mm1", "pcmpeqb xmm0, xmm1", 0x74;
    pcmpeqw_mm, pcmpeqw_x, "pcmpeqw mm0, mm1", "pcmpeqw xmm0, xmm1", 0x75;
    pcmpeqd_mm, pcmpeqd_x, "pcmpeqd mm0, mm1", "pcmpeqd xmm0, xmm1", 0x76;
    pcmpgtb_mm, pcmpgtb_x, "pcmpgtb mm0, mm1", "pcmpgtb xmm0, xmm1", 0x64;
    pcmpgtw_mm, pcmpgtw_x, "pcmpgtw mm0, mm1", "pcmpgtw xmm0, xmm1", 0x65;
    pcmpgtd_mm, pcmpgtd_x, "pcmpgtd mm0, mm1", "pcmpgtd xmm0, xmm1", 0x66;
    pmullw_mm, pmullw_x, "pmullw mm0, mm1", "pmullw xmm0, xmm1", 0xD5;
    pmulhw_mm, pmulhw_x, "pmulhw mm0, mm1", "pmulhw xmm0, xmm1", 0xE5;
    pmulhuw_mm, pmulhuw_x, "pmulhuw mm0, mm1", "pmulhuw xmm0, xmm1", 0xE4;
    pmaddwd_mm, pmaddwd_x, "pmaddwd mm0, mm1", "pmaddwd xmm0, xmm1", 0xF5;
    pmuludq_mm, pmuludq_x, "pmuludq mm0, mm1", "pmuludq xmm0, xmm1", 0xF4;
    pavgb_mm, pavgb_x, "pavgb mm0, mm1", "pavgb xmm0, xmm1", 0xE0;
    pavgw_mm, pavgw_x, "pavgw mm0, mm1", "pavgw xmm0, xmm1", 0xE3;
    pminub_mm, pminub_x, "pminub mm0, mm1", "pminub xmm0, xmm1", 0xDA;
    pmaxub_mm, pmaxub_x, "pmaxub mm0, mm1", "pmaxub xmm0, xmm1", 0xDE;
    pminsw_mm, pminsw_x, "pminsw mm0, mm1", "pminsw xmm0, xmm1", 0xEA;
    pmaxsw_mm, pmaxsw_x, "pmaxsw mm0, mm1", "pmaxsw xmm0, xmm1", 0xEE;
    psadbw_mm, psadbw_x, "psadbw mm0, mm1", "psadbw xmm0, xmm1", 0xF6;
    packsswb_mm, packsswb_x, "packsswb mm0, mm1", "packsswb xmm0, xmm1", 0x63;
    packssdw_mm, packssdw_x, "packssdw mm0, mm1", "packssdw xmm0, xmm1", 0x6B;
    packuswb_mm, packuswb_x, "packuswb mm0, mm1", "packuswb xmm0, xmm1", 0x67;
    punpcklbw_mm, punpcklbw_x, "punpcklbw mm0, mm1", "punpcklbw xmm0, xmm1", 0x60;
    punpcklwd_mm, punpcklwd_x, "punpcklwd mm0, mm1", "punpcklwd xmm0, xmm1", 0x61;
    punpckldq_mm, punpckldq_x, "punpckldq mm0, mm1", "punpckldq xmm0, xmm1", 0x62;
    punpckhbw_mm, punpckhbw_x, "punpckhbw mm0, mm1", "punpckhbw xmm0, xmm1", 0x68;
    punpckhwd_mm, punpckhwd_x, "punpckhwd mm0, mm1", "punpckhwd xmm0, xmm1", 0x69;
    punpckhdq_mm, punpckhdq_x, "punpckhdq mm0, mm1", "punpckhdq xmm0, xmm1", 0x6A;
    psrlw_mm, psrlw_x, "psrlw mm0, mm1", "psrlw xmm0, xmm1", 0xD1;
    psrld_mm, psrld_x, "psrld mm0, mm1", "psrld xmm0, xmm1", 0xD2;
    psrlq_mm, psrlq_x, "psrlq mm0, mm1", "psrlq xmm0, xmm1", 0xD3;
    psraw_mm, psraw_x, "psraw mm0, mm1", "psraw xmm0, xmm1", 0xE1;
    psrad_mm, psrad_x, "psrad mm0, mm1", "psrad xmm0, xmm1", 0xE2;
    psllw_mm, psllw_x, "psllw mm0, mm1", "psllw xmm0, xmm1", 0xF1;
    pslld_mm, pslld_x, "pslld mm0, mm1", "pslld xmm0, xmm1", 0xF2;
    psllq_mm, psllq_x, "psllq mm0, mm1", "psllq xmm0, xmm1", 0xF3;
}

mod more {
    use super::*;
    cases! {
        punpcklqdq, "punpcklqdq xmm0, xmm1", [0x66, 0x0F, 0x6C, 0xC1], 1, Some((0x06, 16));
        punpckhqdq, "punpckhqdq xmm0, xmm1", [0x66, 0x0F, 0x6D, 0xC1], 1, Some((0x06, 16));
        andps, "andps xmm0, xmm1", [0x0F, 0x54, 0xC1], 1, Some((0x06, 16));
        andnpd, "andnpd xmm0, xmm1", [0x66, 0x0F, 0x55, 0xC1], 1, Some((0x06, 16));
        orps, "orps xmm0, xmm1", [0x0F, 0x56, 0xC1], 1, Some((0x06, 16));
        xorpd, "xorpd xmm0, xmm1", [0x66, 0x0F, 0x57, 0xC1], 1, Some((0x06, 16));
        unpcklps, "unpcklps xmm0, xmm1", [0x0F, 0x14, 0xC1], 1, Some((0x06, 16));
        unpckhps, "unpckhps xmm0, xmm1", [0x0F, 0x15, 0xC1], 1, Some((0x06, 16));
        unpcklpd, "unpcklpd xmm0, xmm1", [0x66, 0x0F, 0x14, 0xC1], 1, Some((0x06, 16));
        unpckhpd, "unpckhpd xmm0, xmm1", [0x66, 0x0F, 0x15, 0xC1], 1, Some((0x06, 16));
        psrlw_i_mm, "psrlw mm0, 5", [0x0F, 0x71, 0xD0, 5], 0, None;
        psraw_i_mm, "psraw mm0, 17", [0x0F, 0x71, 0xE0, 17], 0, None;
        psllw_i_mm, "psllw mm0, 3", [0x0F, 0x71, 0xF0, 3], 0, None;
        psrld_i_mm, "psrld mm0, 31", [0x0F, 0x72, 0xD0, 31], 0, None;
        psrad_i_mm, "psrad mm0, 7", [0x0F, 0x72, 0xE0, 7], 0, None;
        pslld_i_mm, "pslld mm0, 40", [0x0F, 0x72, 0xF0, 40], 0, None;
        psrlq_i_mm, "psrlq mm0, 33", [0x0F, 0x73, 0xD0, 33], 0, None;
        psllq_i_mm, "psllq mm0, 64", [0x0F, 0x73, 0xF0, 64], 0, None;
        psrlw_i_x, "psrlw xmm0, 15", [0x66, 0x0F, 0x71, 0xD0, 15], 1, None;
        psraw_i_x, "psraw xmm0, 255", [0x66, 0x0F, 0x71, 0xE0, 255], 1, None;
        psllw_i_x, "psllw xmm0, 1", [0x66, 0x0F, 0x71, 0xF0, 1], 1, None;
        psrld_i_x, "psrld xmm0, 9", [0x66, 0x0F, 0x72, 0xD0, 9], 1, None;
        psrad_i_x, "psrad xmm0, 31", [0x66, 0x0F, 0x72, 0xE0, 31], 1, None;
        pslld_i_x, "pslld xmm0, 32", [0x66, 0x0F, 0x72, 0xF0, 32], 1, None;
        psrlq_i_x, "psrlq xmm0, 63", [0x66, 0x0F, 0x73, 0xD0, 63], 1, None;
        psllq_i_x, "psllq xmm0, 4", [0x66, 0x0F, 0x73, 0xF0, 4], 1, None;
        psrldq_x, "psrldq xmm0, 3", [0x66, 0x0F, 0x73, 0xD8, 3], 1, None;
        psrldq16_x, "psrldq xmm0, 16", [0x66, 0x0F, 0x73, 0xD8, 16], 1, None;
        pslldq_x, "pslldq xmm0, 11", [0x66, 0x0F, 0x73, 0xF8, 11], 1, None;
        pshufw1b, "pshufw mm0, mm1, 0x1B", [0x0F, 0x70, 0xC1, 0x1B], 0, Some((0x06, 8));
        pshufw93, "pshufw mm0, mm1, 0x93", [0x0F, 0x70, 0xC1, 0x93], 0, Some((0x06, 8));
        pshufd1b, "pshufd xmm0, xmm1, 0x1B", [0x66, 0x0F, 0x70, 0xC1, 0x1B], 1, Some((0x06, 16));
        pshufd4e, "pshufd xmm0, xmm1, 0x4E", [0x66, 0x0F, 0x70, 0xC1, 0x4E], 1, Some((0x06, 16));
        pshuflw, "pshuflw xmm0, xmm1, 0xB1", [0xF2, 0x0F, 0x70, 0xC1, 0xB1], 1, Some((0x06, 16));
        pshufhw, "pshufhw xmm0, xmm1, 0x39", [0xF3, 0x0F, 0x70, 0xC1, 0x39], 1, Some((0x06, 16));
        shufps, "shufps xmm0, xmm1, 0x8D", [0x0F, 0xC6, 0xC1, 0x8D], 1, Some((0x06, 16));
        shufps2, "shufps xmm0, xmm1, 0x72", [0x0F, 0xC6, 0xC1, 0x72], 1, Some((0x06, 16));
        shufpd1, "shufpd xmm0, xmm1, 1", [0x66, 0x0F, 0xC6, 0xC1, 1], 1, Some((0x06, 16));
        shufpd2, "shufpd xmm0, xmm1, 2", [0x66, 0x0F, 0xC6, 0xC1, 2], 1, Some((0x06, 16));
        pextrw_mm, "pextrw eax, mm1, 6", [0x0F, 0xC5, 0xC1, 6], 2, None;
        pextrw_x, "pextrw eax, xmm1, 13", [0x66, 0x0F, 0xC5, 0xC1, 13], 2, None;
        pinsrw_mm, "pinsrw mm0, eax, 2", [0x0F, 0xC4, 0xC0, 2], 0, Some((0x06, 2));
        pinsrw_x, "pinsrw xmm0, eax, 7", [0x66, 0x0F, 0xC4, 0xC0, 7], 1, Some((0x06, 2));
        pmovmskb_mm, "pmovmskb eax, mm1", [0x0F, 0xD7, 0xC1], 2, None;
        pmovmskb_x, "pmovmskb eax, xmm1", [0x66, 0x0F, 0xD7, 0xC1], 2, None;
        movmskps, "movmskps eax, xmm1", [0x0F, 0x50, 0xC1], 2, None;
        movmskpd, "movmskpd eax, xmm1", [0x66, 0x0F, 0x50, 0xC1], 2, None;
        movd_mm_r, "movd mm0, eax", [0x0F, 0x6E, 0xC0], 0, Some((0x06, 4));
        movd_r_mm, "movd eax, mm1", [0x0F, 0x7E, 0xC8], 2, None;
        movd_x_r, "movd xmm0, eax", [0x66, 0x0F, 0x6E, 0xC0], 1, Some((0x06, 4));
        movd_r_x, "movd eax, xmm1", [0x66, 0x0F, 0x7E, 0xC8], 2, None;
        movq_mm, "movq mm0, mm1", [0x0F, 0x6F, 0xC1], 0, Some((0x06, 8));
        movq_mm_st, "movq mm0, mm1", [0x0F, 0x7F, 0xC8], 0, None;
        movq_x, "movq xmm0, xmm1", [0xF3, 0x0F, 0x7E, 0xC1], 1, Some((0x06, 8));
        movq_x_st, "movq xmm0, xmm1", [0x66, 0x0F, 0xD6, 0xC8], 1, None;
        movq2dq, "movq2dq xmm0, mm1", [0xF3, 0x0F, 0xD6, 0xC1], 1, None;
        movdq2q, "movdq2q mm0, xmm1", [0xF2, 0x0F, 0xD6, 0xC1], 0, None;
        movss, "movss xmm0, xmm1", [0xF3, 0x0F, 0x10, 0xC1], 1, None;
        movsd, "movsd xmm0, xmm1", [0xF2, 0x0F, 0x10, 0xC1], 1, None;
        movss_st, "movss xmm0, xmm1", [0xF3, 0x0F, 0x11, 0xC8], 1, None;
        movaps, "movaps xmm0, xmm1", [0x0F, 0x28, 0xC1], 1, Some((0x06, 16));
        movupd, "movupd xmm0, xmm1", [0x66, 0x0F, 0x10, 0xC1], 1, Some((0x06, 16));
        movdqa, "movdqa xmm0, xmm1", [0x66, 0x0F, 0x6F, 0xC1], 1, Some((0x06, 16));
        movdqu_st, "movdqu xmm0, xmm1", [0xF3, 0x0F, 0x7F, 0xC8], 1, None;
        movhlps, "movhlps xmm0, xmm1", [0x0F, 0x12, 0xC1], 1, None;
        movlhps, "movlhps xmm0, xmm1", [0x0F, 0x16, 0xC1], 1, None;
    }
}

/// Random operand bits with many lane-boundary values (0, ±1, the signed and unsigned limits).
fn operand(rng: &mut Rng) -> u64 {
    let mut v = rng.next_u64();
    for lane in 0..8 {
        if rng.below(3) == 0 {
            let b: u64 = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0x81, 0xFE][rng.below(7) as usize];
            v = (v & !(0xFF << (8 * lane))) | b << (8 * lane);
        }
    }
    v
}

fn run_cases(cases: &[Case], n: usize, seed: u64) {
    let mut m = Machine::new();
    let mut rng = Rng::new(seed);
    let mut failures = Vec::new();
    for case in cases {
        for iter in 0..n {
            let mut regs = Regs {
                x0: [operand(&mut rng), operand(&mut rng)],
                x1: [operand(&mut rng), operand(&mut rng)],
                mxcsr: 0x1F80,
                eax: rng.next_u32(),
                m0: operand(&mut rng),
                m1: operand(&mut rng),
                flags: 0,
            };
            if case.name.starts_with("ps") && !case.name.contains(", 0x") && rng.below(2) == 0 {
                // Shift counts: mostly in range, sometimes just beyond or huge.
                let count = [rng.below(70) as u64, rng.next_u64()][rng.below(2) as usize];
                regs.x1[0] = count;
                regs.m1 = count;
            }
            let mut want = regs;
            (case.host)(&mut want);
            let mem = case.mem.filter(|_| iter % 2 == 1);
            let mut code = case.code.to_vec();
            if let Some((modrm, size)) = mem {
                let reg_index = case.code.iter().rposition(|&b| b >= 0xC0).unwrap_or(0);
                code[reg_index] = modrm | (case.code[reg_index] & 0x38);
                let src = if case.name.contains("eax") && !case.name.starts_with("pextrw") {
                    u64::from(regs.eax)
                } else if case.kind == 0 {
                    regs.m1
                } else {
                    regs.x1[0]
                };
                let mut bytes = src.to_le_bytes().to_vec();
                bytes.extend_from_slice(&regs.x1[1].to_le_bytes());
                m.write_bytes(DATA, &bytes[..size]);
            }
            let got = m.run(&code, &regs);
            let (w, g) = match case.kind {
                0 => (format!("{:016x}", want.m0), format!("{:016x}", got.m0)),
                1 => (format!("{:016x?}", want.x0), format!("{:016x?}", got.x0)),
                _ => (format!("{:08x}", want.eax), format!("{:08x}", got.eax)),
            };
            if (w != g || got.x1 != want.x1 || got.m1 != want.m1) && failures.len() < 20 {
                failures.push(format!(
                    "{} (mem {}): in {regs:x?}\n   want {w}\n   got  {g}",
                    case.name,
                    mem.is_some()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn packed_integer_ops_match_host() {
    run_cases(CASES, 400, 3);
}

#[test]
fn moves_shuffles_and_shifts_match_host() {
    run_cases(more::CASES, 400, 4);
}

//! The CVT* conversions against the host CPU: every SSE/SSE2 conversion with register and
//! memory sources, at every rounding mode with FTZ/DAZ, over special values, denormals, values
//! near the 32-bit integer limits and near rounding boundaries. Results (XMM, MMX or EAX) and
//! MXCSR must match bit for bit.
#![cfg(target_arch = "x86_64")]

mod simd_machine;

use simd_machine::*;

type HostFn = fn(&mut Regs);

/// Where the source comes from and where the result goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Loc {
    Xmm,
    Mm,
    Eax,
}

#[derive(Clone, Copy)]
struct Case {
    name: &'static str,
    /// Prefix, opcode and register-form ModRM.
    code: &'static [u8],
    host: HostFn,
    from: Loc,
    to: Loc,
    /// Source elements are binary64 (else binary32 or integers).
    double: bool,
    /// The source is integers.
    ints: bool,
    /// Memory operand size.
    mem: usize,
}

macro_rules! cases {
    ($( $name:ident, $text:literal, [$($b:expr),*], $from:ident -> $to:ident, $double:expr, $ints:expr, $mem:expr; )*) => {
        $( host_fn!($name, $text); )*
        const CASES: &[Case] = &[
            $( Case { name: $text, code: &[$($b),*], host: $name, from: Loc::$from, to: Loc::$to,
                      double: $double, ints: $ints, mem: $mem }, )*
        ];
    };
}

cases! {
    cvtpi2ps, "cvtpi2ps xmm0, mm1", [0x0F, 0x2A, 0xC1], Mm -> Xmm, false, true, 8;
    cvtps2pi, "cvtps2pi mm0, xmm1", [0x0F, 0x2D, 0xC1], Xmm -> Mm, false, false, 8;
    cvttps2pi, "cvttps2pi mm0, xmm1", [0x0F, 0x2C, 0xC1], Xmm -> Mm, false, false, 8;
    cvtsi2ss, "cvtsi2ss xmm0, eax", [0xF3, 0x0F, 0x2A, 0xC0], Eax -> Xmm, false, true, 4;
    cvtss2si, "cvtss2si eax, xmm1", [0xF3, 0x0F, 0x2D, 0xC1], Xmm -> Eax, false, false, 4;
    cvttss2si, "cvttss2si eax, xmm1", [0xF3, 0x0F, 0x2C, 0xC1], Xmm -> Eax, false, false, 4;
    cvtpi2pd, "cvtpi2pd xmm0, mm1", [0x66, 0x0F, 0x2A, 0xC1], Mm -> Xmm, false, true, 8;
    cvtpd2pi, "cvtpd2pi mm0, xmm1", [0x66, 0x0F, 0x2D, 0xC1], Xmm -> Mm, true, false, 16;
    cvttpd2pi, "cvttpd2pi mm0, xmm1", [0x66, 0x0F, 0x2C, 0xC1], Xmm -> Mm, true, false, 16;
    cvtsi2sd, "cvtsi2sd xmm0, eax", [0xF2, 0x0F, 0x2A, 0xC0], Eax -> Xmm, false, true, 4;
    cvtsd2si, "cvtsd2si eax, xmm1", [0xF2, 0x0F, 0x2D, 0xC1], Xmm -> Eax, true, false, 8;
    cvttsd2si, "cvttsd2si eax, xmm1", [0xF2, 0x0F, 0x2C, 0xC1], Xmm -> Eax, true, false, 8;
    cvtpd2dq, "cvtpd2dq xmm0, xmm1", [0xF2, 0x0F, 0xE6, 0xC1], Xmm -> Xmm, true, false, 16;
    cvttpd2dq, "cvttpd2dq xmm0, xmm1", [0x66, 0x0F, 0xE6, 0xC1], Xmm -> Xmm, true, false, 16;
    cvtdq2pd, "cvtdq2pd xmm0, xmm1", [0xF3, 0x0F, 0xE6, 0xC1], Xmm -> Xmm, false, true, 8;
    cvtps2pd, "cvtps2pd xmm0, xmm1", [0x0F, 0x5A, 0xC1], Xmm -> Xmm, false, false, 8;
    cvtpd2ps, "cvtpd2ps xmm0, xmm1", [0x66, 0x0F, 0x5A, 0xC1], Xmm -> Xmm, true, false, 16;
    cvtss2sd, "cvtss2sd xmm0, xmm1", [0xF3, 0x0F, 0x5A, 0xC1], Xmm -> Xmm, false, false, 4;
    cvtsd2ss, "cvtsd2ss xmm0, xmm1", [0xF2, 0x0F, 0x5A, 0xC1], Xmm -> Xmm, true, false, 8;
    cvtdq2ps, "cvtdq2ps xmm0, xmm1", [0x0F, 0x5B, 0xC1], Xmm -> Xmm, false, true, 16;
    cvtps2dq, "cvtps2dq xmm0, xmm1", [0x66, 0x0F, 0x5B, 0xC1], Xmm -> Xmm, false, false, 16;
    cvttps2dq, "cvttps2dq xmm0, xmm1", [0xF3, 0x0F, 0x5B, 0xC1], Xmm -> Xmm, false, false, 16;
}

/// A 32-bit integer operand: limits, powers of two and their neighbours (where binary32
/// rounds), or random.
fn int_operand(rng: &mut Rng) -> u64 {
    let v = match rng.below(4) {
        0 => [0, 1, u32::MAX, 0x7FFF_FFFF, 0x8000_0000, 0x8000_0001][rng.below(6) as usize],
        1 => {
            let p = 1u32 << rng.below(31);
            p.wrapping_add(rng.below(9)).wrapping_sub(4) ^ if rng.bool() { u32::MAX } else { 0 }
        }
        _ => rng.next_u32() >> rng.below(32),
    };
    u64::from(v)
}

/// A float operand for conversions to integer: often near ±2^31 and near half-integers.
fn float_operand(rng: &mut Rng, double: bool) -> u64 {
    let (frac, bias) = if double { (52, 1023u64) } else { (23, 127) };
    match rng.below(4) {
        0 => {
            let e = bias + 29 + u64::from(rng.below(4));
            let f = rng.next_u64() & ((1 << frac) - 1);
            let f = if rng.bool() {
                f | ((1 << frac) - 1) ^ u64::from(rng.below(4))
            } else {
                f
            };
            (u64::from(rng.bool()) << (frac + if double { 11 } else { 8 })) | e << frac | f
        }
        1 => {
            // Small magnitudes: exact halves and neighbours.
            let e = bias - 2 + u64::from(rng.below(6));
            let f = (rng.next_u64() & ((1 << frac) - 1)) & !((1 << (frac - 4)) - 1);
            let f = f.wrapping_add(u64::from(rng.below(3))).wrapping_sub(1) & ((1 << frac) - 1);
            (u64::from(rng.bool()) << (frac + if double { 11 } else { 8 })) | e << frac | f
        }
        _ => {
            if double {
                rng.f64()
            } else {
                rng.f32()
            }
        }
    }
}

fn source(rng: &mut Rng, case: &Case) -> [u64; 2] {
    if case.ints {
        [
            int_operand(rng) | int_operand(rng) << 32,
            int_operand(rng) | int_operand(rng) << 32,
        ]
    } else if case.double {
        [float_operand(rng, true), float_operand(rng, true)]
    } else {
        let mut e = || float_operand(rng, false);
        [e() | e() << 32, e() | e() << 32]
    }
}

#[test]
fn conversions_match_host() {
    let mut m = Machine::new();
    let mut rng = Rng::new(5);
    let mut failures = Vec::new();
    for case in CASES {
        for iter in 0..3000 {
            let src = source(&mut rng, case);
            let mut regs = Regs {
                x0: [rng.next_u64(), rng.next_u64()],
                x1: src,
                mxcsr: rng.mxcsr(),
                eax: rng.next_u32(),
                m0: rng.next_u64(),
                m1: src[0],
                flags: 0,
            };
            if case.from == Loc::Eax {
                regs.eax = src[0] as u32;
            }
            let mut want = regs;
            (case.host)(&mut want);
            let mem = iter % 2 == 1;
            let mut code = case.code.to_vec();
            if mem {
                let last = code.len() - 1;
                code[last] = 0x06 | (code[last] & 0x38);
                let mut bytes = src[0].to_le_bytes().to_vec();
                bytes.extend_from_slice(&src[1].to_le_bytes());
                m.write_bytes(DATA, &bytes[..case.mem]);
            }
            let got = m.run(&code, &regs);
            let ok = match case.to {
                Loc::Xmm => got.x0 == want.x0,
                Loc::Mm => got.m0 == want.m0,
                Loc::Eax => got.eax == want.eax,
            } && got.mxcsr == want.mxcsr;
            if !ok && failures.len() < 20 {
                failures.push(format!(
                    "{} (mem {mem}): src {src:016x?} mxcsr {:#06x}\n   want x0 {:016x?} m0 {:016x} eax {:08x} mxcsr {:#06x}\n   got  x0 {:016x?} m0 {:016x} eax {:08x} mxcsr {:#06x}",
                    case.name, regs.mxcsr, want.x0, want.m0, want.eax, want.mxcsr, got.x0, got.m0,
                    got.eax, got.mxcsr
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

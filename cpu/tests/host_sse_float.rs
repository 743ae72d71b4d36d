//! SSE/SSE2 floating-point arithmetic against the host CPU: ADD/SUB/MUL/DIV/MIN/MAX/SQRT and
//! CMPcc in their PS/SS/PD/SD forms, COMIS/UCOMIS, register and memory sources, over special,
//! denormal, near-overflow/underflow and rounding-sensitive operands at every rounding mode,
//! with FTZ and DAZ. Results, MXCSR flags and (for COMIS) EFLAGS must match bit for bit.
#![cfg(target_arch = "x86_64")]

mod simd_machine;

use simd_machine::*;

type HostFn = fn(&mut Regs);

#[derive(Clone, Copy)]
struct Case {
    name: &'static str,
    /// Prefix and opcode bytes (the ModRM and any immediate follow).
    opcode: &'static [u8],
    imm: Option<u8>,
    host: HostFn,
    double: bool,
    /// Memory operand size: 4, 8 or 16 bytes.
    mem: usize,
}

macro_rules! cases {
    ($( $name:ident, $text:literal, [$($b:expr),*], $imm:expr, $double:expr, $mem:expr; )*) => {
        $( host_fn!($name, $text); )*
        const CASES: &[Case] = &[
            $( Case { name: $text, opcode: &[$($b),*], imm: $imm, host: $name, double: $double, mem: $mem }, )*
        ];
    };
}

cases! {
    addps, "addps xmm0, xmm1", [0x0F, 0x58], None, false, 16;
    addss, "addss xmm0, xmm1", [0xF3, 0x0F, 0x58], None, false, 4;
    addpd, "addpd xmm0, xmm1", [0x66, 0x0F, 0x58], None, true, 16;
    addsd, "addsd xmm0, xmm1", [0xF2, 0x0F, 0x58], None, true, 8;
    subps, "subps xmm0, xmm1", [0x0F, 0x5C], None, false, 16;
    subss, "subss xmm0, xmm1", [0xF3, 0x0F, 0x5C], None, false, 4;
    subpd, "subpd xmm0, xmm1", [0x66, 0x0F, 0x5C], None, true, 16;
    subsd, "subsd xmm0, xmm1", [0xF2, 0x0F, 0x5C], None, true, 8;
    mulps, "mulps xmm0, xmm1", [0x0F, 0x59], None, false, 16;
    mulss, "mulss xmm0, xmm1", [0xF3, 0x0F, 0x59], None, false, 4;
    mulpd, "mulpd xmm0, xmm1", [0x66, 0x0F, 0x59], None, true, 16;
    mulsd, "mulsd xmm0, xmm1", [0xF2, 0x0F, 0x59], None, true, 8;
    divps, "divps xmm0, xmm1", [0x0F, 0x5E], None, false, 16;
    divss, "divss xmm0, xmm1", [0xF3, 0x0F, 0x5E], None, false, 4;
    divpd, "divpd xmm0, xmm1", [0x66, 0x0F, 0x5E], None, true, 16;
    divsd, "divsd xmm0, xmm1", [0xF2, 0x0F, 0x5E], None, true, 8;
    minps, "minps xmm0, xmm1", [0x0F, 0x5D], None, false, 16;
    minss, "minss xmm0, xmm1", [0xF3, 0x0F, 0x5D], None, false, 4;
    minpd, "minpd xmm0, xmm1", [0x66, 0x0F, 0x5D], None, true, 16;
    minsd, "minsd xmm0, xmm1", [0xF2, 0x0F, 0x5D], None, true, 8;
    maxps, "maxps xmm0, xmm1", [0x0F, 0x5F], None, false, 16;
    maxss, "maxss xmm0, xmm1", [0xF3, 0x0F, 0x5F], None, false, 4;
    maxpd, "maxpd xmm0, xmm1", [0x66, 0x0F, 0x5F], None, true, 16;
    maxsd, "maxsd xmm0, xmm1", [0xF2, 0x0F, 0x5F], None, true, 8;
    sqrtps, "sqrtps xmm0, xmm1", [0x0F, 0x51], None, false, 16;
    sqrtss, "sqrtss xmm0, xmm1", [0xF3, 0x0F, 0x51], None, false, 4;
    sqrtpd, "sqrtpd xmm0, xmm1", [0x66, 0x0F, 0x51], None, true, 16;
    sqrtsd, "sqrtsd xmm0, xmm1", [0xF2, 0x0F, 0x51], None, true, 8;
    cmpps0, "cmpps xmm0, xmm1, 0", [0x0F, 0xC2], Some(0), false, 16;
    cmpps1, "cmpps xmm0, xmm1, 1", [0x0F, 0xC2], Some(1), false, 16;
    cmpps2, "cmpps xmm0, xmm1, 2", [0x0F, 0xC2], Some(2), false, 16;
    cmpps3, "cmpps xmm0, xmm1, 3", [0x0F, 0xC2], Some(3), false, 16;
    cmpps4, "cmpps xmm0, xmm1, 4", [0x0F, 0xC2], Some(4), false, 16;
    cmpps5, "cmpps xmm0, xmm1, 5", [0x0F, 0xC2], Some(5), false, 16;
    cmpps6, "cmpps xmm0, xmm1, 6", [0x0F, 0xC2], Some(6), false, 16;
    cmpps7, "cmpps xmm0, xmm1, 7", [0x0F, 0xC2], Some(7), false, 16;
    cmpss1, "cmpss xmm0, xmm1, 1", [0xF3, 0x0F, 0xC2], Some(1), false, 4;
    cmpss4, "cmpss xmm0, xmm1, 4", [0xF3, 0x0F, 0xC2], Some(4), false, 4;
    cmppd0, "cmppd xmm0, xmm1, 0", [0x66, 0x0F, 0xC2], Some(0), true, 16;
    cmppd2, "cmppd xmm0, xmm1, 2", [0x66, 0x0F, 0xC2], Some(2), true, 16;
    cmppd3, "cmppd xmm0, xmm1, 3", [0x66, 0x0F, 0xC2], Some(3), true, 16;
    cmppd5, "cmppd xmm0, xmm1, 5", [0x66, 0x0F, 0xC2], Some(5), true, 16;
    cmppd6, "cmppd xmm0, xmm1, 6", [0x66, 0x0F, 0xC2], Some(6), true, 16;
    cmppd7, "cmppd xmm0, xmm1, 7", [0x66, 0x0F, 0xC2], Some(7), true, 16;
    cmpsd0, "cmpsd xmm0, xmm1, 0", [0xF2, 0x0F, 0xC2], Some(0), true, 8;
    cmpsd6, "cmpsd xmm0, xmm1, 6", [0xF2, 0x0F, 0xC2], Some(6), true, 8;
    comiss, "comiss xmm0, xmm1", [0x0F, 0x2F], None, false, 4;
    ucomiss, "ucomiss xmm0, xmm1", [0x0F, 0x2E], None, false, 4;
    comisd, "comisd xmm0, xmm1", [0x66, 0x0F, 0x2F], None, true, 8;
    ucomisd, "ucomisd xmm0, xmm1", [0x66, 0x0F, 0x2E], None, true, 8;
}

fn encode(case: &Case, mem: bool) -> Vec<u8> {
    let mut code = case.opcode.to_vec();
    code.push(if mem { 0x06 } else { 0xC1 });
    code.extend(case.imm);
    code
}

/// Runs every case `n` times from random registers, in the register and the memory form.
fn check(cases: &[Case], n: usize, seed: u64) {
    let mut m = Machine::new();
    let mut rng = Rng::new(seed);
    let mut failures = Vec::new();
    for case in cases {
        for iter in 0..n {
            let x0 = rng.vec(case.double);
            let regs = Regs {
                x0,
                x1: rng.vec_near(x0, case.double),
                mxcsr: rng.mxcsr(),
                eax: rng.next_u32(),
                flags: u64::from(rng.next_u32() & 0x8D5),
                ..Regs::default()
            };
            let mut want = regs;
            (case.host)(&mut want);
            let mem = iter % 2 == 1;
            if mem {
                let mut bytes = Vec::new();
                bytes.extend_from_slice(&regs.x1[0].to_le_bytes());
                bytes.extend_from_slice(&regs.x1[1].to_le_bytes());
                m.write_bytes(DATA, &bytes[..case.mem]);
            }
            let got = m.run(&encode(case, mem), &regs);
            if got != want && failures.len() < 20 {
                failures.push(format!(
                    "{} (mem {mem}): x0 {:016x?} x1 {:016x?} mxcsr {:#06x} flags {:#x}\n   want x0 {:016x?} mxcsr {:#06x} flags {:#x}\n   got  x0 {:016x?} mxcsr {:#06x} flags {:#x}",
                    case.name, regs.x0, regs.x1, regs.mxcsr, regs.flags, want.x0, want.mxcsr,
                    want.flags, got.x0, got.mxcsr, got.flags
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
fn arithmetic_matches_host() {
    let arith: Vec<_> = CASES
        .iter()
        .filter(|c| !c.name.starts_with("cmp") && !c.name.contains("comi"))
        .collect();
    let mut m = Vec::new();
    for c in arith {
        m.push(Case { ..*c });
    }
    check(&m, 4000, 1);
}

#[test]
fn compares_match_host() {
    let cmp: Vec<_> = CASES
        .iter()
        .filter(|c| c.name.starts_with("cmp") || c.name.contains("comi"))
        .map(|c| Case { ..*c })
        .collect();
    check(&cmp, 3000, 2);
}

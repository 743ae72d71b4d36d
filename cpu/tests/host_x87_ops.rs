//! Every x87 instruction against the host CPU: the same instruction bytes run on the host
//! (between FRSTOR and FNSAVE, memory operand at [RSI]) and in the emulator (at [ESI]) from
//! the same random state: all precision and rounding controls, random and special operands,
//! masked and unmasked exceptions. Registers, control/status/tag words (the FNSAVE image less
//! the instruction and data pointers), memory and EFLAGS must be bit-exact.
#![cfg(target_arch = "x86_64")]

#[macro_use]
mod x87_machine;

use x87_machine::*;

ops! {
    OPS:
    fadd_m32 [0xD8, 0x06] M32 2, fmul_m32 [0xD8, 0x0E] M32 2, fcom_m32 [0xD8, 0x16] M32 2,
    fcomp_m32 [0xD8, 0x1E] M32 2, fsub_m32 [0xD8, 0x26] M32 2, fsubr_m32 [0xD8, 0x2E] M32 2,
    fdiv_m32 [0xD8, 0x36] M32 2, fdivr_m32 [0xD8, 0x3E] M32 2,
    fadd_m64 [0xDC, 0x06] M64 2, fmul_m64 [0xDC, 0x0E] M64 2, fcom_m64 [0xDC, 0x16] M64 2,
    fcomp_m64 [0xDC, 0x1E] M64 2, fsub_m64 [0xDC, 0x26] M64 2, fsubr_m64 [0xDC, 0x2E] M64 2,
    fdiv_m64 [0xDC, 0x36] M64 2, fdivr_m64 [0xDC, 0x3E] M64 2,
    fiadd_m32 [0xDA, 0x06] I32 2, fimul_m32 [0xDA, 0x0E] I32 2, ficom_m32 [0xDA, 0x16] I32 2,
    ficomp_m32 [0xDA, 0x1E] I32 2, fisub_m32 [0xDA, 0x26] I32 2, fisubr_m32 [0xDA, 0x2E] I32 2,
    fidiv_m32 [0xDA, 0x36] I32 2, fidivr_m32 [0xDA, 0x3E] I32 2,
    fiadd_m16 [0xDE, 0x06] I16 2, fimul_m16 [0xDE, 0x0E] I16 2, ficom_m16 [0xDE, 0x16] I16 2,
    ficomp_m16 [0xDE, 0x1E] I16 2, fisub_m16 [0xDE, 0x26] I16 2, fisubr_m16 [0xDE, 0x2E] I16 2,
    fidiv_m16 [0xDE, 0x36] I16 2, fidivr_m16 [0xDE, 0x3E] I16 2,
    fadd_st0_st1 [0xD8, 0xC1] None 2, fmul_st0_st2 [0xD8, 0xCA] None 3,
    fsub_st0_st1 [0xD8, 0xE1] None 2, fsubr_st0_st1 [0xD8, 0xE9] None 2,
    fdiv_st0_st1 [0xD8, 0xF1] None 2, fdivr_st0_st1 [0xD8, 0xF9] None 2,
    fadd_st0_st0 [0xD8, 0xC0] None 1,
    fadd_st1_st0 [0xDC, 0xC1] None 2, fmul_st1_st0 [0xDC, 0xC9] None 2,
    fsubr_st1_st0 [0xDC, 0xE1] None 2, fsub_st1_st0 [0xDC, 0xE9] None 2,
    fdivr_st1_st0 [0xDC, 0xF1] None 2, fdiv_st2_st0 [0xDC, 0xFA] None 3,
    faddp [0xDE, 0xC1] None 2, fmulp [0xDE, 0xC9] None 2, fsubrp [0xDE, 0xE1] None 2,
    fsubp [0xDE, 0xE9] None 2, fdivrp [0xDE, 0xF1] None 2, fdivp [0xDE, 0xF9] None 2,
    fcom_st1 [0xD8, 0xD1] None 2, fcomp_st1 [0xD8, 0xD9] None 2, fcompp [0xDE, 0xD9] None 2,
    fcom2 [0xDC, 0xD1] None 2, fcomp3 [0xDC, 0xD9] None 2, fcomp5 [0xDE, 0xD1] None 2,
    fucom_st1 [0xDD, 0xE1] None 2, fucomp_st1 [0xDD, 0xE9] None 2, fucompp [0xDA, 0xE9] None 2,
    fcomi [0xDB, 0xF1] None 2, fucomi [0xDB, 0xE9] None 2,
    fcomip [0xDF, 0xF1] None 2, fucomip [0xDF, 0xE9] None 2,
    ftst [0xD9, 0xE4] None 1, fxam [0xD9, 0xE5] None 1,
    fld_m32 [0xD9, 0x06] M32 1, fld_m64 [0xDD, 0x06] M64 1, fld_m80 [0xDB, 0x2E] M80 1,
    fild_m16 [0xDF, 0x06] I16 1, fild_m32 [0xDB, 0x06] I32 1, fild_m64 [0xDF, 0x2E] I64 1,
    fbld [0xDF, 0x26] Bcd 1, fld_st1 [0xD9, 0xC1] None 2, fld_st0 [0xD9, 0xC0] None 1,
    fld1 [0xD9, 0xE8] None 1, fldl2t [0xD9, 0xE9] None 1, fldl2e [0xD9, 0xEA] None 1,
    fldpi [0xD9, 0xEB] None 1, fldlg2 [0xD9, 0xEC] None 1, fldln2 [0xD9, 0xED] None 1,
    fldz [0xD9, 0xEE] None 1,
    fst_m32 [0xD9, 0x16] None 1, fstp_m32 [0xD9, 0x1E] None 1,
    fst_m64 [0xDD, 0x16] None 1, fstp_m64 [0xDD, 0x1E] None 1, fstp_m80 [0xDB, 0x3E] None 1,
    fist_m16 [0xDF, 0x16] None 1, fistp_m16 [0xDF, 0x1E] None 1,
    fist_m32 [0xDB, 0x16] None 1, fistp_m32 [0xDB, 0x1E] None 1,
    fistp_m64 [0xDF, 0x3E] None 1, fbstp [0xDF, 0x36] None 1,
    fst_st1 [0xDD, 0xD1] None 2, fstp_st1 [0xDD, 0xD9] None 2, fstp_st0 [0xDD, 0xD8] None 1,
    fstp1 [0xD9, 0xD9] None 2, fstp8 [0xDF, 0xD1] None 2, fstp9 [0xDF, 0xD9] None 2,
    fxch_st1 [0xD9, 0xC9] None 2, fxch_st3 [0xD9, 0xCB] None 2, fxch4 [0xDD, 0xC9] None 2,
    fxch7 [0xDF, 0xC9] None 2,
    ffree_st1 [0xDD, 0xC1] None 2, ffreep_st1 [0xDF, 0xC1] None 2,
    fincstp [0xD9, 0xF7] None 2, fdecstp [0xD9, 0xF6] None 2, fnop [0xD9, 0xD0] None 1,
    fchs [0xD9, 0xE0] None 1, fabs [0xD9, 0xE1] None 1,
    fcmovb [0xDA, 0xC1] None 2, fcmove [0xDA, 0xC9] None 2, fcmovbe [0xDA, 0xD1] None 2,
    fcmovu [0xDA, 0xD9] None 2, fcmovnb [0xDB, 0xC1] None 2, fcmovne [0xDB, 0xC9] None 2,
    fcmovnbe [0xDB, 0xD1] None 2, fcmovnu [0xDB, 0xD9] None 2,
    fsqrt [0xD9, 0xFA] None 1, frndint [0xD9, 0xFC] None 1, fscale [0xD9, 0xFD] None 2,
    fprem [0xD9, 0xF8] None 2, fprem1 [0xD9, 0xF5] None 2, fxtract [0xD9, 0xF4] None 1,
    fldcw [0xD9, 0x2E] Cw 1, fnstcw [0xD9, 0x3E] None 1, fnstsw_m [0xDD, 0x3E] None 1,
    fnstsw_ax [0xDF, 0xE0] None 1, fnclex [0xDB, 0xE2] None 1, fninit [0xDB, 0xE3] None 1,
    fneni [0xDB, 0xE0] None 1, fndisi [0xDB, 0xE1] None 1, fnsetpm [0xDB, 0xE4] None 1,
}

#[test]
fn every_instruction_matches_the_host() {
    let mut m = Machine::new();
    let seed = std::env::var("X87_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x9E37_79B9_7F4A_7C15);
    let mut rng = Rng(seed);
    let mut failures = Vec::new();
    let rounds: usize = std::env::var("X87_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500);
    for &(name, code, host, kind, regs) in OPS {
        let mut failed = 0;
        for round in 0..rounds {
            // Occasionally an empty operand (stack underflow) or a full stack (overflow).
            let used = match rng.below(20) {
                0 => regs.saturating_sub(1),
                1 => 8,
                _ => regs,
            };
            let start = random_image(&mut rng, used, round % 4 != 3);
            let mem = operand(&mut rng, kind);
            let flags = rng.next_u64() & 0x8D5;
            if let Err(e) = check(&mut m, name, code, host, &start, mem, flags) {
                failed += 1;
                if failed <= 3 {
                    failures.push(e);
                }
            }
        }
        if failed > 0 {
            failures.push(format!("{name}: {failed}/{rounds} mismatches"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

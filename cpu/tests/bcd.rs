//! DAA, DAS, AAA, AAS, AAM, AAD and SALC. They are invalid in 64-bit mode, so instead of the
//! host CPU the oracles are:
//! - the results test386 recorded on hardware (`test386-EE-reference.txt`, its BCD lines, with
//!   the flag masks test386 prints them with);
//! - test386's undefined-flag vectors for these instructions (validated on a 386SX), compared
//!   on all six flags;
//! - an independent model written from the SDM pseudo-code, over every AL, CF and AF (and
//!   every AAM/AAD base), comparing the defined flags.

mod machine;

use machine::alu::*;
use webx86_cpu::fault::vector;
use webx86_cpu::state::flag::{AF, CF, OF, PF, SF, ZF};

const EAX: usize = 0;

fn opcode(name: &str) -> &'static [u8] {
    match name {
        "daa" => &[0x27],
        "das" => &[0x2F],
        "aaa" => &[0x37],
        "aas" => &[0x3F],
        "aam" => &[0xD4, 0x0A],
        "aad" => &[0xD5, 0x0A],
        _ => panic!("not a BCD instruction: {name}"),
    }
}

fn run(m: &mut Machine, code: &[u8], eax: u32, flags: u32) -> (u32, u32) {
    let mut regs = [0u32; 8];
    regs[EAX] = eax;
    let s = m.step(code, regs, flags);
    (s.regs[EAX], s.eflags & ARITH)
}

#[test]
fn test386_reference_lines() {
    let text = include_str!("../../../shared/conformance/test386/test386-EE-reference.txt");
    let mut m = Machine::new();
    let mut checked = 0;
    for line in text.lines() {
        let name = line.split(' ').next().unwrap_or("");
        if !matches!(name, "daa" | "das" | "aaa" | "aas" | "aam" | "aad") {
            continue;
        }
        let hex = |field: &str| -> Vec<u32> {
            line.split(' ')
                .filter_map(|w| w.strip_prefix(field))
                .map(|v| u32::from_str_radix(v, 16).expect("hex field"))
                .collect()
        };
        let (eax, ps) = (hex("EAX="), hex("PS="));
        assert_eq!((eax.len(), ps.len()), (2, 2), "line {line}");
        // The masks test386 prints each instruction's flags with (its defined flags).
        let mask = match name {
            "daa" | "das" => CF | PF | ZF | SF | AF,
            "aaa" | "aas" => CF | AF,
            _ => PF | ZF | SF,
        };
        let (got_eax, got_flags) = run(&mut m, opcode(name), eax[0], ps[0]);
        assert_eq!(got_eax, eax[1], "EAX: {line}");
        assert_eq!(got_flags & mask, ps[1], "flags {}: {line}", fl(got_flags));
        checked += 1;
    }
    assert_eq!(checked, 44, "BCD lines in the reference");
}

/// test386's `bcd386FlagsTest` vectors: (instruction, AX, flags in, all six flags out).
#[test]
fn hardware_undefined_flags() {
    const PZSO: u32 = PF | ZF | SF | OF;
    const CAO: u32 = CF | AF | OF;
    let vectors: [(&str, u32, u32, u32); 18] = [
        ("aaa", 0x0000, 0, PF | ZF),
        ("aaa", 0x0001, PZSO, 0),
        ("aaa", 0x007A, 0, CF | AF | SF | OF),
        ("aaa", 0x007B, AF, CF | PF | AF | SF | OF),
        ("aad", 0x0001, CAO, 0),
        ("aad", 0x0D8E, 0, CAO),
        ("aad", 0x0106, 0, AF),
        ("aad", 0x01F7, 0, CF | AF),
        ("aam", 0x0000, 0, ZF | PF),
        ("aam", 0x0000, CAO, ZF | PF),
        ("aas", 0x0000, SF | OF, PF | ZF),
        ("aas", 0x0000, AF, CF | PF | AF | SF),
        ("aas", 0x0001, PZSO, 0),
        ("aas", 0x0680, AF, CF | AF | OF),
        ("daa", 0x001A, AF | OF, AF),
        ("daa", 0x001A, CF, CF | AF | SF | OF),
        ("das", 0x0080, OF, SF),
        ("das", 0x0080, AF, AF | OF),
    ];
    let mut m = Machine::new();
    for (name, ax, flags_in, want) in vectors {
        let (_, got) = run(&mut m, opcode(name), ax, flags_in);
        assert_eq!(
            got,
            want,
            "{name} ax={ax:#06x} flags in {}: got {} want {}",
            fl(flags_in),
            fl(got),
            fl(want)
        );
    }
}

/// SF, ZF, PF of an 8-bit value.
fn szp(v: u8) -> u32 {
    let mut f = 0;
    if v & 0x80 != 0 {
        f |= SF;
    }
    if v == 0 {
        f |= ZF;
    }
    if v.count_ones().is_multiple_of(2) {
        f |= PF;
    }
    f
}

/// The SDM's DAA/DAS pseudo-code, step by step: (new AL, CF, AF).
fn sdm_daa_das(sub: bool, al: u8, cf: bool, af: bool) -> (u8, bool, bool) {
    let old_al = al;
    let old_cf = cf;
    let mut al = al;
    let mut cf = false;
    let mut af_out = false;
    if al & 0x0F > 9 || af {
        let wide = if sub {
            i32::from(al) - 6
        } else {
            i32::from(al) + 6
        };
        al = wide as u8;
        cf = old_cf || !(0..=255).contains(&wide);
        af_out = true;
    }
    if old_al > 0x99 || old_cf {
        al = if sub {
            al.wrapping_sub(0x60)
        } else {
            al.wrapping_add(0x60)
        };
        cf = true;
    } else if !sub {
        cf = false;
    }
    (al, cf, af_out)
}

#[test]
fn daa_das_match_sdm_model() {
    let mut m = Machine::new();
    for (name, sub) in [("daa", false), ("das", true)] {
        for al in 0..=255u8 {
            for (cf, af) in [(false, false), (false, true), (true, false), (true, true)] {
                let flags_in = (cf as u32 * CF) | (af as u32 * AF);
                let eax = 0x5A00 | u32::from(al);
                let (got_eax, got_flags) = run(&mut m, opcode(name), eax, flags_in);
                let (want_al, want_cf, want_af) = sdm_daa_das(sub, al, cf, af);
                let want = szp(want_al) | (want_cf as u32 * CF) | (want_af as u32 * AF);
                let ctx = format!("{name} al={al:#04x} cf={cf} af={af}");
                assert_eq!(got_eax, 0x5A00 | u32::from(want_al), "{ctx}");
                assert_eq!(got_flags & !OF, want, "{ctx}: flags {}", fl(got_flags));
            }
        }
    }
}

#[test]
fn aaa_aas_match_sdm_model() {
    let mut m = Machine::new();
    for (name, sub) in [("aaa", false), ("aas", true)] {
        for ah in [0x00u32, 0x01, 0x7F, 0xFF] {
            for al in 0..=255u32 {
                for af in [false, true] {
                    let eax = 0xABCD_0000 | ah << 8 | al;
                    let (got_eax, got_flags) = run(&mut m, opcode(name), eax, af as u32 * AF);
                    let adjust = al & 0x0F > 9 || af;
                    // SDM (P6 and later): AX ← AX ± 106h (AAS: AX − 6, AH − 1), AL &= 0Fh.
                    let ax = eax & 0xFFFF;
                    let ax = if !adjust {
                        ax
                    } else if sub {
                        ax.wrapping_sub(6).wrapping_sub(0x100) & 0xFFFF
                    } else {
                        (ax + 0x106) & 0xFFFF
                    } & 0xFF0F;
                    let ctx = format!("{name} ax={:#06x} af={af}", eax & 0xFFFF);
                    assert_eq!(got_eax, 0xABCD_0000 | ax, "{ctx}");
                    assert_eq!(got_flags & (CF | AF), adjust as u32 * (CF | AF), "{ctx}");
                }
            }
        }
    }
}

#[test]
fn aam_aad_match_sdm_model_for_every_base() {
    let mut m = Machine::new();
    let mut rng = Rng::new(0xBCD);
    for base in 1..=255u32 {
        for _ in 0..24 {
            let ax = rng.next_u32() & 0xFFFF;
            let (al, ah) = (ax & 0xFF, ax >> 8);
            let (got, flags) = run(&mut m, &[0xD4, base as u8], 0x1234_0000 | ax, rng.flags());
            let want_ax = ((al / base) << 8) | (al % base);
            assert_eq!(got, 0x1234_0000 | want_ax, "aam {base:#x} ax={ax:#06x}");
            assert_eq!(
                flags & (SF | ZF | PF),
                szp((al % base) as u8),
                "aam {base:#x} ax={ax:#06x}"
            );
            let (got, flags) = run(&mut m, &[0xD5, base as u8], 0x1234_0000 | ax, rng.flags());
            let want_al = (al + ah * base) & 0xFF;
            assert_eq!(got, 0x1234_0000 | want_al, "aad {base:#x} ax={ax:#06x}");
            assert_eq!(
                flags & (SF | ZF | PF),
                szp(want_al as u8),
                "aad {base:#x} ax={ax:#06x}"
            );
        }
    }
}

#[test]
fn aam_zero_base_raises_de_and_changes_nothing() {
    let mut m = Machine::new();
    let mut regs = [0u32; 8];
    regs[EAX] = 0x1234_5678;
    let flags = CF | ZF | OF;
    let result = m.step_direct(&[0xD4, 0x00], regs, flags);
    assert_eq!(result.map_err(|f| f.vector()), Err(vector::DE));
    assert_eq!(m.cpu.state.regs, regs);
    assert_eq!(m.cpu.state.eflags & ARITH, flags);
    assert_eq!(m.cpu.state.eip, m.code_at);
    // AAD with base 0 is valid: AL is kept, AH cleared.
    let (got, _) = run(&mut m, &[0xD5, 0x00], 0x1234_5678, 0);
    assert_eq!(got, 0x1234_0078);
}

#[test]
fn salc_sets_al_from_carry() {
    let mut m = Machine::new();
    for cf in [false, true] {
        let (got, flags) = run(&mut m, &[0xD6], 0x1234_5678, (cf as u32 * CF) | ZF);
        assert_eq!(got, 0x1234_5600 | if cf { 0xFF } else { 0 });
        assert_eq!(flags, (cf as u32 * CF) | ZF, "SALC changes no flags");
    }
}

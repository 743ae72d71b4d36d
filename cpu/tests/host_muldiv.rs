//! MUL, IMUL (one-, two- and three-operand forms), DIV and IDIV against the host CPU, every
//! operand size, register and memory sources, random and edge operands. Divides that must
//! raise #DE (zero divisor, quotient overflow) are checked to fault with all state unchanged
//! (they are not run on the host).
//!
//! Compared flags: CF and OF always; SF/ZF/AF/PF (undefined after multiplies and divides) only
//! on the AMD family 19h host whose behaviour the emulator copies.
#![cfg(target_arch = "x86_64")]

mod machine;

use machine::alu::*;
use webx86_cpu::fault::vector;
use webx86_cpu::state::flag;

const EAX: usize = 0;
const EDX: usize = 2;

/// One-operand forms on the host: (EAX, EDX, flags) after `op src` with EAX/EDX/flags in.
macro_rules! host_acc {
    ($name:ident, $op:literal) => {
        fn $name(size: usize, eax: u32, edx: u32, src: u32, flags: u32) -> (u32, u32, u32) {
            let mut a = u64::from(eax);
            let mut d = u64::from(edx);
            let s = u64::from(src);
            let mut f = u64::from(flags | 2);
            // SAFETY: register-only computation; callers never pass a faulting divide.
            unsafe {
                match size {
                    1 => host_with_flags!(f, concat!($op, " {s:l}"), s = in(reg) s, inout("rax") a, inout("rdx") d),
                    2 => host_with_flags!(f, concat!($op, " {s:x}"), s = in(reg) s, inout("rax") a, inout("rdx") d),
                    _ => host_with_flags!(f, concat!($op, " {s:e}"), s = in(reg) s, inout("rax") a, inout("rdx") d),
                }
            }
            (a as u32, d as u32, f as u32 & ARITH)
        }
    };
}

host_acc!(host_mul, "mul");
host_acc!(host_imul, "imul");
host_acc!(host_div, "div");
host_acc!(host_idiv, "idiv");

/// IMUL r, r/m on the host: (dest, flags).
fn host_imul2(size: usize, a: u32, b: u32, flags: u32) -> (u32, u32) {
    let mut a = u64::from(a);
    let b = u64::from(b);
    let mut f = u64::from(flags | 2);
    // SAFETY: register-only computation.
    unsafe {
        if size == 2 {
            host_with_flags!(f, "imul {a:x}, {b:x}", a = inout(reg) a, b = in(reg) b);
        } else {
            host_with_flags!(f, "imul {a:e}, {b:e}", a = inout(reg) a, b = in(reg) b);
        }
    }
    (a as u32 & mask(size), f as u32 & ARITH)
}

/// Whether DIV/IDIV of the accumulator by `src` raises #DE.
fn divide_faults(signed: bool, size: usize, eax: u32, edx: u32, src: u32) -> bool {
    let bits = 8 * size as u32;
    let src = src & mask(size);
    if src == 0 {
        return true;
    }
    let dividend: u64 = match size {
        1 => u64::from(eax & 0xFFFF),
        2 => u64::from(edx & 0xFFFF) << 16 | u64::from(eax & 0xFFFF),
        _ => u64::from(edx) << 32 | u64::from(eax),
    };
    if signed {
        let shift = 64 - 2 * bits;
        let n = (dividend << shift) as i64 >> shift;
        let d = i64::from(((src << (32 - bits)) as i32) >> (32 - bits));
        let q = i128::from(n) / i128::from(d);
        q < -(1i128 << (bits - 1)) || q >= 1i128 << (bits - 1)
    } else {
        dividend / u64::from(src) > u64::from(mask(size))
    }
}

/// A divisor/dividend pair that often gives a valid quotient.
fn dividend_for(rng: &mut Rng, size: usize, src: u32) -> (u32, u32) {
    let (eax, edx) = (rng.next_u32(), rng.next_u32());
    match rng.below(3) {
        0 => (eax, edx),
        // High half below the divisor: an unsigned quotient that fits.
        1 => {
            let high = if src & mask(size) == 0 {
                0
            } else {
                rng.next_u32() % (src & mask(size))
            };
            match size {
                1 => ((eax & !0xFF00) | (high & 0xFF) << 8, edx),
                2 => (eax, (edx & !0xFFFF) | (high & 0xFFFF)),
                _ => (eax, high),
            }
        }
        // Sign extension of the low half: a signed quotient that fits.
        _ => {
            let low = eax & mask(size);
            let neg = low & (1 << (8 * size - 1)) != 0;
            let ext = if neg { u32::MAX } else { 0 };
            match size {
                1 => ((eax & 0xFFFF_0000) | (ext & 0xFF) << 8 | low, edx),
                2 => (eax, (edx & 0xFFFF_0000) | (ext & 0xFFFF)),
                _ => (eax, ext),
            }
        }
    }
}

#[test]
fn one_operand_forms_match_host() {
    let mut m = Machine::new();
    let mut rng = Rng::new(0x3D1F);
    let all_flags = host_matches_undefined_flags();
    type Host = fn(usize, u32, u32, u32, u32) -> (u32, u32, u32);
    let ops: [(&str, u8, Host, bool); 4] = [
        ("mul", 4, host_mul, false),
        ("imul", 5, host_imul, false),
        ("div", 6, host_div, true),
        ("idiv", 7, host_idiv, true),
    ];
    for &(name, ext, host, divide) in &ops {
        for size in [1usize, 2, 4] {
            let mut faults = 0;
            for iter in 0..2000 {
                // Source register: not EAX/EDX (their byte halves included) so it is a pure input.
                // (CL, BL, CH, BH or ECX, EBX, EBP, EDI.)
                let src_reg = [1u8, 3, 5, 7][rng.below(4) as usize];
                let mem = iter % 3 == 0;
                let mut regs = regs_with_esi(&mut rng);
                let src = rng.operand(size);
                if divide {
                    let (a, d) = dividend_for(&mut rng, size, src);
                    regs[EAX] = a;
                    regs[EDX] = d;
                } else {
                    regs[EAX] = (regs[EAX] & !mask(size)) | rng.operand(size);
                }
                let flags = rng.flags();
                let rm = if mem {
                    mem_esi(ext)
                } else {
                    modrm(3, ext, src_reg)
                };
                let mut code = prefix(size).to_vec();
                code.extend_from_slice(&[0xF6 | (size != 1) as u8, rm]);
                if mem {
                    m.write(DATA, size, src);
                } else {
                    put_reg(&mut regs, size, src_reg, src);
                }
                let ctx = format!("{name} size {size} eax={:#x} edx={:#x} src={src:#x} flags in {} code {code:02x?}", regs[EAX], regs[EDX], fl(flags));
                if divide && divide_faults(ext == 7, size, regs[EAX], regs[EDX], src) {
                    faults += 1;
                    let r = m.step_direct(&code, regs, flags);
                    assert_eq!(r.map_err(|f| f.vector()), Err(vector::DE), "{ctx}");
                    assert_eq!(m.cpu.state.regs, regs, "registers after #DE: {ctx}");
                    assert_eq!(m.cpu.state.eflags & ARITH, flags, "flags after #DE: {ctx}");
                    assert_eq!(m.cpu.state.eip, m.code_at, "{ctx}");
                    continue;
                }
                let (eax, edx, want_flags) = host(size, regs[EAX], regs[EDX], src, flags);
                let s = m.step(&code, regs, flags);
                let mut want = regs;
                want[EAX] = eax;
                want[EDX] = edx;
                let cmp = if all_flags {
                    ARITH
                } else if divide {
                    0
                } else {
                    flag::CF | flag::OF
                };
                assert_eq!(s.regs, want, "registers: {ctx}");
                assert_eq!(
                    s.eflags & cmp,
                    want_flags & cmp,
                    "flags {} want {}: {ctx}",
                    fl(s.eflags),
                    fl(want_flags)
                );
            }
            if divide {
                assert!(
                    faults > 50 && faults < 1900,
                    "{name} size {size}: {faults} faults, the mix is off"
                );
            }
        }
    }
}

#[test]
fn two_and_three_operand_imul_match_host() {
    let mut m = Machine::new();
    let mut rng = Rng::new(0x1A1);
    let all_flags = host_matches_undefined_flags();
    for size in [2usize, 4] {
        for iter in 0..3000 {
            let (dst, src) = pick_two(&mut rng, size);
            let mut regs = regs_with_esi(&mut rng);
            let a = rng.operand(size);
            let b = rng.operand(size);
            let flags = rng.flags();
            let mem = iter % 2 == 1;
            let rm = if mem {
                mem_esi(dst)
            } else {
                modrm(3, dst, src)
            };
            let mut code = prefix(size).to_vec();
            let (x, y) = match iter % 3 {
                0 => {
                    code.extend_from_slice(&[0x0F, 0xAF, rm]);
                    put_reg(&mut regs, size, dst, a);
                    (a, b)
                }
                1 => {
                    code.extend_from_slice(&[0x6B, rm, a as u8]);
                    (a as u8 as i8 as u32 & mask(size), b)
                }
                _ => {
                    code.extend_from_slice(&[0x69, rm]);
                    code.extend_from_slice(&a.to_le_bytes()[..size]);
                    (a, b)
                }
            };
            if mem {
                m.write(DATA, size, b);
            } else {
                put_reg(&mut regs, size, src, b);
            }
            let (res, want_flags) = host_imul2(size, x, y, flags);
            let s = m.step(&code, regs, flags);
            let mut want = regs;
            put_reg(&mut want, size, dst, res);
            let cmp = if all_flags {
                ARITH
            } else {
                flag::CF | flag::OF
            };
            let ctx = format!("imul size {size} x={x:#x} y={y:#x} code {code:02x?}");
            assert_eq!(s.regs, want, "registers: {ctx}");
            assert_eq!(
                s.eflags & cmp,
                want_flags & cmp,
                "flags {} want {}: {ctx}",
                fl(s.eflags),
                fl(want_flags)
            );
        }
    }
}

#[test]
fn divide_by_zero_in_memory_faults_before_any_change() {
    let mut m = Machine::new();
    let mut regs = [0x1111_1111u32; 8];
    regs[6] = DATA;
    m.write(DATA, 4, 0);
    for code in [[0xF7u8, 0x36], [0xF7, 0x3E], [0xF6, 0x36], [0xF6, 0x3E]] {
        let r = m.step_direct(&code, regs, flag::ZF);
        assert_eq!(r.map_err(|f| f.vector()), Err(vector::DE));
        assert_eq!(m.cpu.state.regs, regs);
        assert_eq!(m.cpu.state.eflags & ARITH, flag::ZF);
    }
}

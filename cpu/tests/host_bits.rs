//! BT, BTS, BTR, BTC (register and immediate offsets; memory operands with signed register
//! offsets that address other words), BSF, BSR and BSWAP against the host CPU. The memory
//! forms run on the host on a buffer, so the addressed word is checked too.
//!
//! Compared flags: CF (BTx) and ZF (BSF/BSR) always; the undefined ones (OF/SF/AF/PF, and CF
//! after BSF/BSR) only on the AMD family 19h host whose behaviour the emulator copies.
#![cfg(target_arch = "x86_64")]

mod machine;

use core::arch::asm;
use machine::alu::*;
use webx86_cpu::state::flag;

macro_rules! host_bt_mem {
    ($name:ident, $op:literal) => {
        /// `$op [base], offset` on a 64-word host buffer with `base` at word 32.
        fn $name(size: usize, buf: &mut [u32; 64], offset: u32, flags: u32) -> u32 {
            let base = buf.as_mut_ptr().wrapping_add(32);
            let mut f = u64::from(flags | 2);
            // SAFETY: the offsets the test uses stay within the buffer (±32 dwords).
            unsafe {
                if size == 2 {
                    host_with_flags!(f, concat!($op, " word ptr [{p}], {o:x}"), p = in(reg) base, o = in(reg) u64::from(offset));
                } else {
                    host_with_flags!(f, concat!($op, " dword ptr [{p}], {o:e}"), p = in(reg) base, o = in(reg) u64::from(offset));
                }
            }
            f as u32 & ARITH
        }
    };
}

host_bt_mem!(host_bt, "bt");
host_bt_mem!(host_bts, "bts");
host_bt_mem!(host_btr, "btr");
host_bt_mem!(host_btc, "btc");

macro_rules! host_bt_reg {
    ($name:ident, $op:literal) => {
        fn $name(size: usize, a: u32, offset: u32, flags: u32) -> (u32, u32) {
            let mut a = u64::from(a);
            let mut f = u64::from(flags | 2);
            // SAFETY: register-only computation.
            unsafe {
                if size == 2 {
                    host_with_flags!(f, concat!($op, " {a:x}, {o:x}"), a = inout(reg) a, o = in(reg) u64::from(offset));
                } else {
                    host_with_flags!(f, concat!($op, " {a:e}, {o:e}"), a = inout(reg) a, o = in(reg) u64::from(offset));
                }
            }
            (a as u32 & mask(size), f as u32 & ARITH)
        }
    };
}

host_bt_reg!(host_bt_r, "bt");
host_bt_reg!(host_bts_r, "bts");
host_bt_reg!(host_btr_r, "btr");
host_bt_reg!(host_btc_r, "btc");
host_bt_reg!(host_bsf, "bsf");
host_bt_reg!(host_bsr, "bsr");

type HostMem = fn(usize, &mut [u32; 64], u32, u32) -> u32;
type HostReg = fn(usize, u32, u32, u32) -> (u32, u32);

#[test]
fn bit_tests_match_host() {
    let mut m = Machine::new();
    let mut rng = Rng::new(0xB17);
    let all_flags = host_matches_undefined_flags();
    let cmp = if all_flags {
        ARITH
    } else {
        flag::CF | flag::ZF
    };
    let ops: [(&str, u8, u8, HostMem, HostReg); 4] = [
        ("bt", 0xA3, 4, host_bt, host_bt_r),
        ("bts", 0xAB, 5, host_bts, host_bts_r),
        ("btr", 0xB3, 6, host_btr, host_btr_r),
        ("btc", 0xBB, 7, host_btc, host_btc_r),
    ];
    for &(name, opcode, ext, host_mem, host_reg) in &ops {
        for size in [2usize, 4] {
            for iter in 0..1500 {
                let (dst, src) = pick_two(&mut rng, size);
                let mut regs = regs_with_esi(&mut rng);
                let flags = rng.flags();
                let a = rng.operand(size);
                let mut code = prefix(size).to_vec();
                match iter % 4 {
                    // Register destination, register offset (any value: taken modulo the size).
                    0 => {
                        let offset = rng.next_u32() & mask(size);
                        code.extend_from_slice(&[0x0F, opcode, modrm(3, src, dst)]);
                        put_reg(&mut regs, size, dst, a);
                        put_reg(&mut regs, size, src, offset);
                        let (want, want_flags) = host_reg(size, a, offset, flags);
                        let s = m.step(&code, regs, flags);
                        let mut want_regs = regs;
                        put_reg(&mut want_regs, size, dst, want);
                        let ctx = format!("{name} r,r size {size} a={a:#x} offset={offset:#x}");
                        assert_eq!(s.regs, want_regs, "{ctx}");
                        assert_eq!(s.eflags & cmp, want_flags & cmp, "{ctx}");
                    }
                    // Register or memory destination, immediate offset (modulo the size).
                    1 | 2 => {
                        let imm = rng.next_u32() as u8;
                        let mem = iter % 4 == 2;
                        let rm = if mem {
                            mem_esi(ext)
                        } else {
                            modrm(3, ext, dst)
                        };
                        code.extend_from_slice(&[0x0F, 0xBA, rm, imm]);
                        if mem {
                            m.write(DATA, size, a);
                        } else {
                            put_reg(&mut regs, size, dst, a);
                        }
                        let n = u32::from(imm) % (8 * size as u32);
                        let (want, want_flags) = host_reg(size, a, n, flags);
                        let s = m.step(&code, regs, flags);
                        let mut want_regs = regs;
                        let got = if mem {
                            m.read(DATA, size)
                        } else {
                            get_reg(&s.regs, size, dst)
                        };
                        if !mem {
                            put_reg(&mut want_regs, size, dst, want);
                        }
                        let ctx = format!("{name} imm size {size} mem {mem} a={a:#x} imm={imm:#x}");
                        assert_eq!(got, want, "{ctx}");
                        assert_eq!(s.regs, want_regs, "{ctx}");
                        assert_eq!(s.eflags & cmp, want_flags & cmp, "{ctx}");
                    }
                    // Memory destination, signed register offset reaching other words.
                    _ => {
                        let words = 32 * 4 / size as i32;
                        let offset = (rng.below(2 * words as u32 * 8 * size as u32) as i32
                            - words * 8 * size as i32) as u32
                            & mask(size);
                        let mut buf: [u32; 64] = core::array::from_fn(|_| rng.next_u32());
                        for (i, w) in buf.iter().enumerate() {
                            m.write(DATA - 128 + 4 * i as u32, 4, *w);
                        }
                        code.extend_from_slice(&[0x0F, opcode, mem_esi(src)]);
                        put_reg(&mut regs, size, src, offset);
                        let want_flags = host_mem(size, &mut buf, offset, flags);
                        let s = m.step(&code, regs, flags);
                        let ctx = format!("{name} m,r size {size} offset={offset:#x}");
                        for (i, w) in buf.iter().enumerate() {
                            assert_eq!(m.read(DATA - 128 + 4 * i as u32, 4), *w, "word {i}: {ctx}");
                        }
                        assert_eq!(s.regs, regs, "{ctx}");
                        assert_eq!(s.eflags & cmp, want_flags & cmp, "{ctx}");
                    }
                }
            }
        }
    }
}

#[test]
fn bit_scans_match_host() {
    let mut m = Machine::new();
    let mut rng = Rng::new(0xB5F);
    let all_flags = host_matches_undefined_flags();
    let cmp = if all_flags { ARITH } else { flag::ZF };
    let scans: [(&str, u8, HostReg); 2] = [("bsf", 0xBC, host_bsf), ("bsr", 0xBD, host_bsr)];
    for &(name, opcode, host) in &scans {
        for size in [2usize, 4] {
            for iter in 0..1500 {
                let (dst, src) = pick_two(&mut rng, size);
                let mut regs = regs_with_esi(&mut rng);
                let flags = rng.flags();
                let v = match iter % 5 {
                    0 => 0,
                    1 => 1 << rng.below(8 * size as u32),
                    _ => rng.operand(size) >> rng.below(8 * size as u32),
                };
                let mem = iter % 2 == 1;
                let mut code = prefix(size).to_vec();
                code.extend_from_slice(&[
                    0x0F,
                    opcode,
                    if mem {
                        mem_esi(dst)
                    } else {
                        modrm(3, dst, src)
                    },
                ]);
                if mem {
                    m.write(DATA, size, v);
                } else {
                    put_reg(&mut regs, size, src, v);
                }
                let old = get_reg(&regs, size, dst);
                let (want, want_flags) = host(size, old, v, flags);
                let s = m.step(&code, regs, flags);
                let mut want_regs = regs;
                put_reg(&mut want_regs, size, dst, want);
                let ctx = format!("{name} size {size} src={v:#x} mem {mem}");
                assert_eq!(s.regs, want_regs, "{ctx}");
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
}

#[test]
fn bswap_matches_host() {
    let mut m = Machine::new();
    let mut rng = Rng::new(0xB5A9);
    for iter in 0..200 {
        let r = pick_reg(&mut rng, 4);
        let v = rng.next_u32();
        let wide = iter % 2 == 0;
        let mut host = u64::from(v);
        // SAFETY: register-only computation.
        unsafe {
            if wide {
                asm!("bswap {a:e}", a = inout(reg) host);
            } else {
                // BSWAP r16 (66 0F C8+r) written as bytes: assemblers refuse it.
                asm!(".byte 0x66, 0x0f, 0xc8", inout("rax") host);
            }
        }
        let mut regs = regs_with_esi(&mut rng);
        regs[r as usize] = v;
        let code: Vec<u8> = if wide {
            vec![0x0F, 0xC8 + r]
        } else {
            vec![0x66, 0x0F, 0xC8 + r]
        };
        let s = m.step(&code, regs, 0);
        let mut want = regs;
        want[r as usize] = host as u32;
        assert_eq!(s.regs, want, "bswap wide {wide} {v:#x}");
    }
}

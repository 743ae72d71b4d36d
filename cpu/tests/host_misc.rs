//! INC, DEC, NEG, NOT; CBW, CWDE, CWD, CDQ, MOVZX, MOVSX; CLC, STC, CMC, LAHF, SAHF; SETcc,
//! CMOVcc; XCHG, XADD, CMPXCHG, CMPXCHG8B against the host CPU (all six flags: none of these
//! leaves a flag undefined), plus LOCK and fault behaviour checked directly. CLD/STD are
//! checked directly (the host's DF must stay clear).
#![cfg(target_arch = "x86_64")]

mod machine;

use core::arch::asm;
use machine::alu::*;
use webx86_cpu::fault::vector;
use webx86_cpu::state::flag;

macro_rules! host_unary {
    ($name:ident, $op:literal) => {
        fn $name(size: usize, a: u32, flags: u32) -> (u32, u32) {
            let mut a = u64::from(a);
            let mut f = u64::from(flags | 2);
            // SAFETY: register-only computation.
            unsafe {
                match size {
                    1 => host_with_flags!(f, concat!($op, " {a:l}"), a = inout(reg) a),
                    2 => host_with_flags!(f, concat!($op, " {a:x}"), a = inout(reg) a),
                    _ => host_with_flags!(f, concat!($op, " {a:e}"), a = inout(reg) a),
                }
            }
            (a as u32 & mask(size), f as u32 & ARITH)
        }
    };
}

host_unary!(host_inc, "inc");
host_unary!(host_dec, "dec");
host_unary!(host_neg, "neg");
host_unary!(host_not, "not");

/// The host oracle of a unary op: (size, operand, flags in) -> (result, flags out).
type HostUnary = fn(usize, u32, u32) -> (u32, u32);

#[test]
fn unary_ops_match_host() {
    let mut m = Machine::new();
    let mut rng = Rng::new(0x1DEC);
    let ops: [(&str, u8, HostUnary); 4] = [
        ("inc", 0, host_inc),
        ("dec", 1, host_dec),
        ("neg", 3, host_neg),
        ("not", 2, host_not),
    ];
    for &(name, ext, host) in &ops {
        for size in [1usize, 2, 4] {
            for iter in 0..1200 {
                let dst = pick_reg(&mut rng, size);
                let mut regs = regs_with_esi(&mut rng);
                let flags = rng.flags();
                let a = rng.operand(size);
                let mem = iter % 3 == 1;
                let lock = mem && iter % 2 == 0;
                let mut code = if lock { vec![0xF0] } else { vec![] };
                code.extend_from_slice(prefix(size));
                match (iter % 3, size, ext) {
                    // The one-byte INC/DEC r16/r32 forms.
                    (2, 2 | 4, 0 | 1) => code.push(0x40 | ext << 3 | dst),
                    _ => {
                        let opcode = if ext < 2 { 0xFE } else { 0xF6 } | (size != 1) as u8;
                        let rm = if mem {
                            mem_esi(ext)
                        } else {
                            modrm(3, ext, dst)
                        };
                        code.extend_from_slice(&[opcode, rm]);
                    }
                }
                if mem {
                    m.write(DATA, size, a);
                } else {
                    put_reg(&mut regs, size, dst, a);
                }
                let (want, want_flags) = host(size, a, flags);
                let s = m.step(&code, regs, flags);
                let got = if mem {
                    m.read(DATA, size)
                } else {
                    get_reg(&s.regs, size, dst)
                };
                let mut want_regs = regs;
                if !mem {
                    put_reg(&mut want_regs, size, dst, want);
                }
                let ctx = format!(
                    "{name} size {size} a={a:#x} flags in {} code {code:02x?}",
                    fl(flags)
                );
                assert_eq!(got, want, "{ctx}");
                assert_eq!(s.regs, want_regs, "{ctx}");
                assert_eq!(
                    s.eflags & ARITH,
                    want_flags,
                    "flags {} want {}: {ctx}",
                    fl(s.eflags),
                    fl(want_flags)
                );
            }
        }
    }
}

#[test]
fn accumulator_extensions_match_host() {
    let mut m = Machine::new();
    let mut rng = Rng::new(0xCBD);
    for iter in 0..2000 {
        let (eax, edx) = (
            rng.operand(4) ^ (rng.next_u32() & 0xFFFF_0000 & (iter % 2) as u32),
            rng.next_u32(),
        );
        let (mut a, mut d) = (u64::from(eax), u64::from(edx));
        let code: &[u8] = match iter % 4 {
            0 => {
                // SAFETY: register-only computation.
                unsafe { asm!("cbw", inout("rax") a) };
                &[0x66, 0x98]
            }
            1 => {
                // SAFETY: register-only computation.
                unsafe { asm!("cwde", inout("rax") a) };
                &[0x98]
            }
            2 => {
                // SAFETY: register-only computation.
                unsafe { asm!("cwd", inout("rax") a, inout("rdx") d) };
                &[0x66, 0x99]
            }
            _ => {
                // SAFETY: register-only computation.
                unsafe { asm!("cdq", inout("rax") a, inout("rdx") d) };
                &[0x99]
            }
        };
        let mut regs = rng.regs();
        regs[0] = eax;
        regs[2] = edx;
        let s = m.step(code, regs, 0);
        let mut want = regs;
        want[0] = a as u32;
        want[2] = d as u32;
        assert_eq!(s.regs, want, "{code:02x?} eax={eax:#x}");
    }
}

#[test]
fn movzx_movsx_match_host() {
    let mut m = Machine::new();
    let mut rng = Rng::new(0x3A5);
    for iter in 0..4000 {
        let signed = iter % 2 == 1;
        let from = if iter % 4 < 2 { 1 } else { 2 };
        let to = if iter % 8 < 4 { 4 } else { 2 };
        let dst = pick_reg(&mut rng, to);
        let src = pick_reg(&mut rng, from);
        let v = rng.operand(from);
        let mem = iter % 3 == 0;
        let mut regs = regs_with_esi(&mut rng);
        let old = regs[dst as usize];
        let host = match (signed, from) {
            (false, 1) => v & 0xFF,
            (false, _) => v & 0xFFFF,
            (true, 1) => v as u8 as i8 as u32,
            (true, _) => v as u16 as i16 as u32,
        };
        let mut code = prefix(to).to_vec();
        let opcode = 0xB6 | (signed as u8) << 3 | (from == 2) as u8;
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
            m.write(DATA, from, v);
        } else {
            put_reg(&mut regs, from, src, v);
        }
        let s = m.step(&code, regs, 0);
        let mut want = regs;
        want[dst as usize] = if to == 2 {
            (old & 0xFFFF_0000) | (host & 0xFFFF)
        } else {
            host
        };
        assert_eq!(s.regs, want, "{code:02x?} v={v:#x}");
    }
}

#[test]
fn flag_instructions_match_host() {
    let mut m = Machine::new();
    let mut rng = Rng::new(0xF1A9);
    for iter in 0..400 {
        let flags = rng.flags();
        let mut regs = rng.regs();
        let mut f = u64::from(flags | 2);
        let mut a = u64::from(regs[0]);
        let code: &[u8] = match iter % 5 {
            0 => {
                // SAFETY: flag-only computation.
                unsafe { host_with_flags!(f, "clc") };
                &[0xF8]
            }
            1 => {
                // SAFETY: flag-only computation.
                unsafe { host_with_flags!(f, "stc") };
                &[0xF9]
            }
            2 => {
                // SAFETY: flag-only computation.
                unsafe { host_with_flags!(f, "cmc") };
                &[0xF5]
            }
            3 => {
                // SAFETY: register-only computation.
                unsafe { host_with_flags!(f, "lahf", inout("rax") a) };
                &[0x9F]
            }
            _ => {
                regs[0] = (regs[0] & !0xFF00) | (rng.next_u32() & 0xFF00);
                a = u64::from(regs[0]);
                // SAFETY: register-only computation.
                unsafe { host_with_flags!(f, "sahf", inout("rax") a) };
                &[0x9E]
            }
        };
        let s = m.step(code, regs, flags);
        let mut want = regs;
        want[0] = a as u32;
        assert_eq!(s.regs, want, "{code:02x?}");
        assert_eq!(
            s.eflags & ARITH,
            f as u32 & ARITH,
            "{code:02x?} flags in {}",
            fl(flags)
        );
    }
    // CLD/STD: only DF changes.
    let s = m.step(&[0xFD], [0; 8], flag::CF);
    assert_eq!(s.eflags & (flag::DF | ARITH), flag::DF | flag::CF);
    let s = m.step(&[0xFC], [0; 8], flag::DF | flag::ZF);
    assert_eq!(s.eflags & (flag::DF | ARITH), flag::ZF);
}

/// The sixteen conditions on the host: bit n set when condition n holds for `flags`.
fn host_conditions(flags: u32) -> u32 {
    let mut out = 0u32;
    macro_rules! cc {
        ($n:expr, $set:literal) => {{
            let mut v: u64 = 0;
            // SAFETY: register-only computation.
            unsafe {
                asm!("push {f}", "popfq", concat!($set, " {v:l}"), f = in(reg) u64::from(flags | 2), v = inout(reg) v);
            }
            out |= ((v & 1) as u32) << $n;
        }};
    }
    cc!(0, "seto");
    cc!(1, "setno");
    cc!(2, "setb");
    cc!(3, "setae");
    cc!(4, "sete");
    cc!(5, "setne");
    cc!(6, "setbe");
    cc!(7, "seta");
    cc!(8, "sets");
    cc!(9, "setns");
    cc!(10, "setp");
    cc!(11, "setnp");
    cc!(12, "setl");
    cc!(13, "setge");
    cc!(14, "setle");
    cc!(15, "setg");
    out
}

#[test]
fn setcc_and_cmovcc_match_host() {
    let mut m = Machine::new();
    let mut rng = Rng::new(0x5E7);
    for _ in 0..150 {
        let flags = rng.flags();
        let want = host_conditions(flags);
        for cc in 0..16u8 {
            let taken = want >> cc & 1;
            let mut regs = regs_with_esi(&mut rng);
            // SETcc r8 and m8.
            let r = pick_reg(&mut rng, 1);
            let s = m.step(&[0x0F, 0x90 | cc, modrm(3, 0, r)], regs, flags);
            let mut want_regs = regs;
            put_reg(&mut want_regs, 1, r, taken);
            assert_eq!(s.regs, want_regs, "setcc {cc:#x} flags {}", fl(flags));
            assert_eq!(s.eflags & ARITH, flags);
            m.write(DATA, 1, 0x55);
            m.step(&[0x0F, 0x90 | cc, mem_esi(0)], regs, flags);
            assert_eq!(
                m.read(DATA, 1),
                taken,
                "setcc m8 {cc:#x} flags {}",
                fl(flags)
            );
            // CMOVcc r32, r32 / r16, m16.
            let (d, src) = pick_two(&mut rng, 4);
            let s = m.step(&[0x0F, 0x40 | cc, modrm(3, d, src)], regs, flags);
            let mut want_regs = regs;
            if taken != 0 {
                want_regs[d as usize] = regs[src as usize];
            }
            assert_eq!(s.regs, want_regs, "cmovcc {cc:#x} flags {}", fl(flags));
            let v = rng.next_u32();
            m.write(DATA, 2, v);
            regs[d as usize] = rng.next_u32();
            let s = m.step(&[0x66, 0x0F, 0x40 | cc, mem_esi(d)], regs, flags);
            let mut want_regs = regs;
            if taken != 0 {
                put_reg(&mut want_regs, 2, d, v);
            }
            assert_eq!(s.regs, want_regs, "cmovcc m16 {cc:#x} flags {}", fl(flags));
        }
    }
}

#[test]
fn cmov_reads_memory_even_when_not_taken() {
    let mut m = Machine::new();
    let mut regs = [0u32; 8];
    regs[6] = 0xFFFF_FFFE; // [esi] runs past the 4 GiB flat limit: #GP(0)
                           // CMOVO with OF clear: not taken, still faults.
    let r = m.step_direct(&[0x0F, 0x40, mem_esi(0)], regs, 0);
    assert_eq!(r.map_err(|f| f.vector()), Err(vector::GP));
    assert_eq!(m.cpu.state.regs, regs);
}

#[test]
fn exchanges_match_host() {
    let mut m = Machine::new();
    let mut rng = Rng::new(0xC3C);
    for size in [1usize, 2, 4] {
        let w = (size != 1) as u8;
        for iter in 0..1500 {
            let (dst, src) = pick_two(&mut rng, size);
            let mut regs = regs_with_esi(&mut rng);
            let flags = rng.flags();
            let a = rng.operand(size);
            let b = rng.operand(size);
            // CMPXCHG: make the comparison succeed half the time.
            let acc = if iter % 2 == 0 { a } else { rng.operand(size) };
            let (dst, src) = if iter % 3 == 2 {
                (dst, src)
            } else if dst == 0 || src == 0 {
                (3, 1)
            } else {
                (dst, src)
            };
            let mem = iter % 3 == 1;
            let lock = mem && iter % 2 == 1;
            let which = iter % 3;
            let mut code = if lock { vec![0xF0] } else { vec![] };
            code.extend_from_slice(prefix(size));
            let rm = if mem {
                mem_esi(src)
            } else {
                modrm(3, src, dst)
            };
            match which {
                0 => code.extend_from_slice(&[0x86 | w, rm]),
                1 => code.extend_from_slice(&[0x0F, 0xC0 | w, rm]),
                _ => code.extend_from_slice(&[0x0F, 0xB0 | w, rm]),
            }
            if mem {
                m.write(DATA, size, a);
            } else {
                put_reg(&mut regs, size, dst, a);
            }
            put_reg(&mut regs, size, src, b);
            if which == 2 && dst != 0 && src != 0 {
                put_reg(&mut regs, size, 0, acc);
            }
            let (a, b) = (
                if mem { a } else { get_reg(&regs, size, dst) },
                get_reg(&regs, size, src),
            );
            let acc_in = get_reg(&regs, size, 0);
            // Host: dest in {d}, source in {s}, accumulator in rax.
            let (mut hd, mut hs, mut hacc) = (u64::from(a), u64::from(b), u64::from(regs[0]));
            let mut f = u64::from(flags | 2);
            // SAFETY: register-only computation.
            unsafe {
                macro_rules! run {
                    ($t:literal) => {
                        host_with_flags!(f, $t, d = inout(reg) hd, s = inout(reg) hs, inout("rax") hacc)
                    };
                }
                match (which, size) {
                    (0, 1) => run!("xchg {d:l}, {s:l}"),
                    (0, 2) => run!("xchg {d:x}, {s:x}"),
                    (0, _) => run!("xchg {d:e}, {s:e}"),
                    (1, 1) => run!("xadd {d:l}, {s:l}"),
                    (1, 2) => run!("xadd {d:x}, {s:x}"),
                    (1, _) => run!("xadd {d:e}, {s:e}"),
                    (_, 1) => run!("cmpxchg {d:l}, {s:l}"),
                    (_, 2) => run!("cmpxchg {d:x}, {s:x}"),
                    (_, _) => run!("cmpxchg {d:e}, {s:e}"),
                }
            }
            // The host ran on three distinct registers; when the emulator's destination or
            // source is the accumulator itself, apply the same writes in program order.
            let s = m.step(&code, regs, flags);
            let mut want = regs;
            let (hd, hs) = (hd as u32 & mask(size), hs as u32 & mask(size));
            match which {
                0 | 1 => {
                    put_reg(&mut want, size, src, hs);
                    if !mem {
                        put_reg(&mut want, size, dst, hd);
                    }
                }
                _ => {
                    let equal = acc_in == a;
                    if equal {
                        if !mem {
                            put_reg(&mut want, size, dst, b);
                        }
                    } else {
                        put_reg(&mut want, size, 0, a);
                    }
                    if dst != 0 && src != 0 {
                        assert_eq!(get_reg(&want, size, 0), hacc as u32 & mask(size));
                        if !mem {
                            assert_eq!(get_reg(&want, size, dst), hd);
                        }
                    }
                }
            }
            let ctx = format!(
                "op {which} size {size} a={a:#x} b={b:#x} acc={acc_in:#x} code {code:02x?}"
            );
            if mem {
                assert_eq!(m.read(DATA, size), hd, "memory: {ctx}");
            }
            assert_eq!(s.regs, want, "registers: {ctx}");
            if which != 0 {
                assert_eq!(
                    s.eflags & ARITH,
                    f as u32 & ARITH,
                    "flags {}: {ctx}",
                    fl(s.eflags)
                );
            } else {
                assert_eq!(s.eflags & ARITH, flags, "{ctx}");
            }
        }
    }
}

#[test]
fn cmpxchg8b_matches_host() {
    let mut m = Machine::new();
    let mut rng = Rng::new(0x8B);
    for iter in 0..400 {
        let mem = [rng.next_u32(), rng.next_u32()];
        let mut regs = regs_with_esi(&mut rng);
        if iter % 2 == 0 {
            regs[0] = mem[0];
            regs[2] = mem[1];
        } else if iter % 4 == 1 {
            regs[0] = mem[0];
        }
        let flags = rng.flags();
        let mut host_mem = [mem[0], mem[1]];
        let (mut eax, mut edx) = (u64::from(regs[0]), u64::from(regs[2]));
        let mut f = u64::from(flags | 2);
        // SAFETY: the memory operand is the local array; RBX is swapped in and restored.
        unsafe {
            asm!(
                "xchg {b}, rbx",
                "push {f}", "popfq",
                "cmpxchg8b [{p}]",
                "pushfq", "pop {f}",
                "xchg {b}, rbx",
                p = in(reg) host_mem.as_mut_ptr(),
                b = in(reg) u64::from(regs[3]),
                f = inout(reg) f,
                inout("eax") eax, inout("edx") edx, in("ecx") regs[1],
            );
        }
        m.write(DATA, 4, mem[0]);
        m.write(DATA + 4, 4, mem[1]);
        let lock = iter % 3 == 0;
        let code: &[u8] = if lock {
            &[0xF0, 0x0F, 0xC7, 0x0E]
        } else {
            &[0x0F, 0xC7, 0x0E]
        };
        let s = m.step(code, regs, flags);
        let mut want = regs;
        want[0] = eax as u32;
        want[2] = edx as u32;
        assert_eq!(s.regs, want, "cmpxchg8b iter {iter}");
        assert_eq!(
            [m.read(DATA, 4), m.read(DATA + 4, 4)],
            host_mem,
            "cmpxchg8b memory iter {iter}"
        );
        assert_eq!(
            s.eflags & ARITH,
            f as u32 & ARITH,
            "cmpxchg8b flags iter {iter}"
        );
    }
}

#[test]
fn lock_is_rejected_on_register_forms_and_non_lockable_instructions() {
    let mut m = Machine::new();
    let regs = regs_with_esi(&mut Rng::new(1));
    let invalid: [&[u8]; 6] = [
        &[0xF0, 0xFF, 0xC0],       // lock inc eax
        &[0xF0, 0x0F, 0xC1, 0xC8], // lock xadd eax, ecx
        &[0xF0, 0x0F, 0xA3, 0x06], // lock bt [esi], eax
        &[0xF0, 0x0F, 0xC7, 0xC8], // lock cmpxchg8b with a register operand
        &[0x0F, 0xC7, 0xC8],       // cmpxchg8b eax: register form
        &[0xF0, 0xD1, 0x26],       // lock shl dword [esi], 1
    ];
    for code in invalid {
        let r = m.step_direct(code, regs, 0);
        assert_eq!(r.map_err(|f| f.vector()), Err(vector::UD), "{code:02x?}");
        assert_eq!(m.cpu.state.regs, regs);
    }
}

#[test]
fn read_modify_write_faults_leave_state_unchanged() {
    let mut m = Machine::new();
    let mut rng = Rng::new(0xFA);
    let mut regs = regs_with_esi(&mut rng);
    regs[6] = 0xFFFF_FFFE; // a dword at [esi] crosses the flat limit
    let flags = flag::CF | flag::SF;
    let codes: [&[u8]; 9] = [
        &[0xFF, 0x06],             // inc dword [esi]
        &[0xF7, 0x1E],             // neg dword [esi]
        &[0xF0, 0x0F, 0xC1, 0x06], // lock xadd [esi], eax
        &[0x0F, 0xB1, 0x0E],       // cmpxchg [esi], ecx
        &[0x87, 0x06],             // xchg [esi], eax
        &[0xD3, 0x26],             // shl dword [esi], cl
        &[0x0F, 0xAB, 0x06],       // bts [esi], eax (eax chosen below to stay in place)
        &[0x0F, 0xC7, 0x0E],       // cmpxchg8b [esi]
        &[0x0F, 0xA5, 0x06],       // shld [esi], eax, cl
    ];
    regs[0] = 5;
    for code in codes {
        let r = m.step_direct(code, regs, flags);
        assert_eq!(r.map_err(|f| f.vector()), Err(vector::GP), "{code:02x?}");
        assert_eq!(m.cpu.state.regs, regs, "{code:02x?}");
        assert_eq!(m.cpu.state.eflags & ARITH, flags, "{code:02x?}");
    }
}

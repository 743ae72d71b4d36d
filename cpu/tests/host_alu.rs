//! ADD, OR, ADC, SBB, AND, SUB, XOR, CMP, TEST against the host CPU: every operand size, the
//! register, memory-destination, memory-source and immediate forms, random and edge operands,
//! random incoming flags. All six arithmetic flags are compared except AF after the logical
//! operations, which the SDM leaves undefined (both the emulator and this host clear it, but
//! only the AMD host is known to).
#![cfg(target_arch = "x86_64")]

mod harness;

use core::arch::asm;
use harness::*;

/// Runs `$op dest, src` on the host with `flags` in and returns (dest, flags out).
macro_rules! host_binop {
    ($name:ident, $op:literal) => {
        fn $name(size: usize, a: u32, b: u32, flags: u32) -> (u32, u32) {
            let mut a = u64::from(a);
            let b = u64::from(b);
            let mut f = u64::from(flags | 2);
            // SAFETY: the block only computes on registers and the flags, restoring the stack.
            unsafe {
                match size {
                    1 => asm!("push {f}", "popfq", concat!($op, " {a:l}, {b:l}"), "pushfq", "pop {f}",
                        a = inout(reg) a, b = in(reg) b, f = inout(reg) f),
                    2 => asm!("push {f}", "popfq", concat!($op, " {a:x}, {b:x}"), "pushfq", "pop {f}",
                        a = inout(reg) a, b = in(reg) b, f = inout(reg) f),
                    _ => asm!("push {f}", "popfq", concat!($op, " {a:e}, {b:e}"), "pushfq", "pop {f}",
                        a = inout(reg) a, b = in(reg) b, f = inout(reg) f),
                }
            }
            (a as u32 & mask(size), f as u32 & ARITH)
        }
    };
}

host_binop!(host_add, "add");
host_binop!(host_or, "or");
host_binop!(host_adc, "adc");
host_binop!(host_sbb, "sbb");
host_binop!(host_and, "and");
host_binop!(host_sub, "sub");
host_binop!(host_xor, "xor");
host_binop!(host_cmp, "cmp");
host_binop!(host_test, "test");

type HostOp = fn(usize, u32, u32, u32) -> (u32, u32);

/// (name, ModRM /n extension and opcode row, host, writes the destination, logical).
const OPS: [(&str, u8, HostOp, bool, bool); 9] = [
    ("add", 0, host_add, true, false),
    ("or", 1, host_or, true, true),
    ("adc", 2, host_adc, true, false),
    ("sbb", 3, host_sbb, true, false),
    ("and", 4, host_and, true, true),
    ("sub", 5, host_sub, true, false),
    ("xor", 6, host_xor, true, true),
    ("cmp", 7, host_cmp, false, false),
    ("test", 8, host_test, false, true),
];

#[derive(Clone, Copy, Debug)]
enum Form {
    RegReg,
    MemReg,
    RegMem,
    RegImm,
    MemImm,
    /// The accumulator short forms (04, 05, ..., A8, A9).
    AccImm,
    /// 83 /n ib: a sign-extended byte immediate on a 16/32-bit operand.
    Imm8Ext,
}

/// Encodes the instruction; returns the bytes and the source operand value the operation uses
/// (the immediate sign-extended where the form does that).
fn encode(ext: u8, size: usize, form: Form, dst: u8, src: u8, imm: u32) -> (Vec<u8>, u32) {
    let w = (size != 1) as u8;
    let mut code = prefix(size).to_vec();
    let test = ext == 8;
    let imm_bytes = |code: &mut Vec<u8>, n: usize| code.extend_from_slice(&imm.to_le_bytes()[..n]);
    let mut used = imm & mask(size);
    match form {
        Form::RegReg | Form::MemReg => {
            code.push(if test { 0x84 } else { ext << 3 } | w);
            code.push(match form {
                Form::RegReg => modrm(3, src, dst),
                _ => mem_esi(src),
            });
        }
        Form::RegMem => {
            // reg, r/m: the direction bit (TEST has none: r/m, reg is the same operation).
            code.push(if test { 0x84 } else { ext << 3 | 2 } | w);
            code.push(mem_esi(dst));
        }
        Form::RegImm | Form::MemImm => {
            code.push(if test { 0xF6 } else { 0x80 } | w);
            let rm = if matches!(form, Form::RegImm) {
                modrm(3, if test { 0 } else { ext }, dst)
            } else {
                mem_esi(if test { 0 } else { ext })
            };
            code.push(rm);
            imm_bytes(&mut code, size);
        }
        Form::AccImm => {
            code.push(if test { 0xA8 } else { ext << 3 | 4 } | w);
            imm_bytes(&mut code, size);
        }
        Form::Imm8Ext => {
            code.push(0x83);
            code.push(modrm(3, ext, dst));
            imm_bytes(&mut code, 1);
            used = imm as u8 as i8 as u32 & mask(size);
        }
    }
    (code, used)
}

#[test]
fn alu_matches_host() {
    let mut m = Machine::new();
    let mut rng = Rng::new(0xA1u64 << 32 | 0x5EED);
    let undefined_af_known = host_matches_undefined_flags();
    for &(name, ext, host, writes, logic) in &OPS {
        for size in [1usize, 2, 4] {
            for iter in 0..1500 {
                // TEST (ext 8) and byte operations have no sign-extended imm8 form.
                let forms: &[Form] = if ext == 8 || size == 1 {
                    &[
                        Form::RegReg,
                        Form::MemReg,
                        Form::RegMem,
                        Form::RegImm,
                        Form::MemImm,
                        Form::AccImm,
                    ]
                } else {
                    &[
                        Form::RegReg,
                        Form::MemReg,
                        Form::RegMem,
                        Form::RegImm,
                        Form::MemImm,
                        Form::AccImm,
                        Form::Imm8Ext,
                    ]
                };
                let form = forms[iter % forms.len()];
                let (mut dst, src) = pick_two(&mut rng, size);
                if matches!(form, Form::AccImm) {
                    dst = 0;
                }
                let same = iter % 50 == 7 && matches!(form, Form::RegReg);
                let src = if same { dst } else { src };
                let mut regs = regs_with_esi(&mut rng);
                let flags = rng.flags();
                let a = rng.operand(size);
                let b = rng.operand(size);
                let imm = if matches!(form, Form::Imm8Ext) {
                    rng.operand(1)
                } else {
                    b
                };
                let (code, b) = encode(ext, size, form, dst, src, imm);
                let mem_dest = matches!(form, Form::MemReg | Form::MemImm);
                let mem_src = matches!(form, Form::RegMem);
                let b = if matches!(form, Form::RegReg | Form::MemReg) {
                    put_reg(&mut regs, size, src, b);
                    b
                } else {
                    b
                };
                if mem_dest {
                    m.write(DATA, size, a);
                } else {
                    put_reg(&mut regs, size, dst, a);
                }
                if mem_src {
                    m.write(DATA, size, b);
                }
                // Read the operands back as the instruction sees them (dst and src may alias).
                let a = if mem_dest {
                    a
                } else {
                    get_reg(&regs, size, dst)
                };
                let b = if matches!(form, Form::RegReg | Form::MemReg) {
                    get_reg(&regs, size, src)
                } else {
                    b
                };
                let (want, want_flags) = host(size, a, b, flags);
                let s = m.step(&code, regs, flags);
                let mut want_regs = regs;
                if writes && !mem_dest {
                    put_reg(&mut want_regs, size, dst, want);
                }
                let got = if mem_dest {
                    m.read(DATA, size)
                } else {
                    get_reg(&s.regs, size, dst)
                };
                let cmp_mask = if logic && !undefined_af_known {
                    ARITH & !harness_af()
                } else {
                    ARITH
                };
                let ctx = format!(
                    "{name} size {size} {form:?} a={a:#x} b={b:#x} flags in {} code {code:02x?}",
                    fl(flags)
                );
                assert_eq!(got, if writes { want } else { a }, "result: {ctx}");
                assert_eq!(s.regs, want_regs, "registers: {ctx}");
                assert_eq!(
                    s.eflags & cmp_mask,
                    want_flags & cmp_mask,
                    "flags {} want {}: {ctx}",
                    fl(s.eflags),
                    fl(want_flags)
                );
            }
        }
    }
}

fn harness_af() -> u32 {
    webx86_cpu::state::flag::AF
}

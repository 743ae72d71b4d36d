//! Runs x87 transcendental instructions on the host CPU for operands read from stdin, so the
//! generators under `scripts/x87-fit/` can measure how the reference hardware rounds.
//!
//! Input, one case per line (numbers in hex): `OP X_SE X_SIG Y_SE Y_SIG CONTROL`, where OP is
//! one of fsin, fcos, fsincos, fptan, fpatan, f2xm1, fyl2x, fyl2xp1; X is loaded into ST(0) and
//! Y into ST(1) (ignored by one-operand instructions). Output, one line per case:
//! `ST0_SE ST0_SIG ST1_SE ST1_SIG STATUS`, the stack after the instruction (ST(1) is the second
//! result of FSINCOS and FPTAN and left over otherwise) and the status word.
//!
//! With `--emulator` the emulator's FPTAN, F2XM1, FSIN and FCOS answer instead (the other
//! instructions are only run on the host), with the same output, so a script can compare the
//! two region by region. Only the registers are meaningful then; the status word is 0.

#[cfg(target_arch = "x86_64")]
fn run(op: &str, x: [u8; 10], y: [u8; 10], control: u16) -> Option<([u8; 10], [u8; 10], u16)> {
    let (mut st0, mut st1) = (x, y);
    let mut status: u16 = 0;
    macro_rules! exec {
        ($insn:literal) => {
            // SAFETY: the sequence only touches the x87 state and the three local buffers it
            // is given, and leaves the x87 stack as it found it (two loads, two stores).
            unsafe {
                core::arch::asm!(
                    "fninit",
                    "fldcw [{c}]",
                    "fld tbyte ptr [{b}]",
                    "fld tbyte ptr [{a}]",
                    $insn,
                    "fnstsw [{s}]",
                    "fstp tbyte ptr [{a}]",
                    "fstp tbyte ptr [{b}]",
                    "fninit",
                    a = in(reg) st0.as_mut_ptr(),
                    b = in(reg) st1.as_mut_ptr(),
                    c = in(reg) &control,
                    s = in(reg) &mut status,
                )
            }
        };
    }
    match op {
        "fsin" => exec!("fsin"),
        "fcos" => exec!("fcos"),
        "fsincos" => exec!("fsincos"),
        "fptan" => exec!("fptan"),
        "fpatan" => exec!("fpatan"),
        "f2xm1" => exec!("f2xm1"),
        "fyl2x" => exec!("fyl2x"),
        "fyl2xp1" => exec!("fyl2xp1"),
        _ => return None,
    }
    Some((st0, st1, status))
}

/// The emulator's answer for the one-result instructions the fitters compare.
fn emulate(op: &str, x: [u8; 10], y: [u8; 10], control: u16) -> Option<([u8; 10], [u8; 10], u16)> {
    use webx86_cpu::fpu::float80::F80;
    use webx86_cpu::fpu::transcendental::{exp2m1, trig, Trig};
    let f80 = |b: [u8; 10]| {
        let sig = u64::from_le_bytes(b[..8].try_into().unwrap_or_default());
        let se = u16::from_le_bytes([b[8], b[9]]);
        F80::new(se & 0x8000 != 0, se & 0x7FFF, sig)
    };
    let bytes = |f: F80| {
        let mut b = [0u8; 10];
        b[..8].copy_from_slice(&f.sig.to_le_bytes());
        b[8..].copy_from_slice(&(u16::from(f.sign()) << 15 | f.exp()).to_le_bytes());
        b
    };
    let one = bytes(F80::new(false, 0x3FFF, 1 << 63));
    match op {
        "fptan" => trig(f80(x), Trig::Tan, control).map(|r| (one, bytes(r.f80()), 0)),
        "f2xm1" => Some((bytes(exp2m1(f80(x), control).f80()), y, 0)),
        "fsin" => trig(f80(x), Trig::Sin, control).map(|r| (bytes(r.f80()), y, 0)),
        "fcos" => trig(f80(x), Trig::Cos, control).map(|r| (bytes(r.f80()), y, 0)),
        _ => None,
    }
}

#[cfg(target_arch = "x86_64")]
fn main() {
    use std::io::{BufRead, Write};

    fn f80(se: &str, sig: &str) -> Option<[u8; 10]> {
        let se = u16::from_str_radix(se, 16).ok()?;
        let sig = u64::from_str_radix(sig, 16).ok()?;
        let mut b = [0u8; 10];
        b[..8].copy_from_slice(&sig.to_le_bytes());
        b[8..].copy_from_slice(&se.to_le_bytes());
        Some(b)
    }
    fn show(b: &[u8; 10]) -> String {
        let sig = u64::from_le_bytes(b[..8].try_into().unwrap_or_default());
        format!("{:04x} {sig:016x}", u16::from_le_bytes([b[8], b[9]]))
    }

    let emulator = std::env::args().any(|a| a == "--emulator");
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (number, line) in stdin.lock().lines().enumerate() {
        let Ok(line) = line else { break };
        let f: Vec<&str> = line.split_whitespace().collect();
        let parsed = match f.as_slice() {
            [op, xse, xsig, yse, ysig, cw] => f80(xse, xsig)
                .zip(f80(yse, ysig))
                .zip(u16::from_str_radix(cw, 16).ok())
                .and_then(|((x, y), cw)| {
                    if emulator {
                        emulate(op, x, y, cw)
                    } else {
                        run(op, x, y, cw)
                    }
                }),
            _ => None,
        };
        let Some((st0, st1, status)) = parsed else {
            eprintln!("x87_probe: line {}: expected `OP X_SE X_SIG Y_SE Y_SIG CONTROL` in hex with a known OP, got {line:?}", number + 1);
            std::process::exit(2);
        };
        if writeln!(out, "{} {} {status:04x}", show(&st0), show(&st1)).is_err() {
            break;
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn main() {
    eprintln!("x87_probe runs the host's x87 unit and needs an x86_64 host");
    std::process::exit(2);
}

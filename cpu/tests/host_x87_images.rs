//! FSAVE/FNSTENV images against the host, byte for byte: the same 108-byte image is loaded
//! with FRSTOR on the host and in the emulator, then stored with FNSAVE (32-bit and 16-bit
//! protected-mode layouts) or FNSTENV (which also masks all exceptions afterwards).
#![cfg(target_arch = "x86_64")]

mod x87_machine;

use core::arch::asm;
use x87_machine::*;

/// Host: FRSTOR `image`, then the store selected by `which` into `out` (0: FNSAVE, 1: 16-bit
/// FNSAVE, 2: FNSTENV then FNSAVE at offset 32), returning the bytes.
fn host(image: &[u8; 108], which: u32) -> [u8; 160] {
    let mut out = [0u8; 160];
    let src = image.as_ptr();
    let dst = out.as_mut_ptr();
    // SAFETY: FRSTOR reads 108 bytes at `src`; the stores write at most 32 + 108 bytes at `dst`.
    unsafe {
        match which {
            0 => asm!("frstor [{s}]", "fnsave [{d}]", s = in(reg) src, d = in(reg) dst),
            1 => asm!("frstor [{s}]", ".byte 0x66, 0xDD, 0x37", s = in(reg) src, in("rdi") dst),
            _ => asm!(
                "frstor [{s}]",
                "fnstenv [{d}]",
                "fnsave [{d} + 32]",
                s = in(reg) src,
                d = in(reg) dst
            ),
        }
    }
    out
}

/// The same in the emulator: FRSTOR [ESI] from DATA, the store to DATA + 0x200.
fn emulated(m: &mut Machine, image: &[u8; 108], which: u32) -> [u8; 160] {
    m.cpu.state.fpu = Default::default();
    m.cpu.state.fpu.init();
    m.write(DATA, image);
    m.cpu.state.regs[6] = DATA;
    m.exec(&[0xDD, 0x26]).expect("frstor");
    m.cpu.state.regs[6] = DATA + 0x200;
    m.write(DATA + 0x200, &[0u8; 160]);
    match which {
        0 => m.exec(&[0xDD, 0x36]).expect("fnsave"),
        1 => m.exec(&[0x66, 0xDD, 0x36]).expect("fnsave16"),
        _ => {
            m.exec(&[0xD9, 0x36]).expect("fnstenv");
            m.exec(&[0xDD, 0x76, 0x20]).expect("fnsave");
        }
    }
    m.cpu.state.regs[6] = DATA;
    m.read::<160>(DATA + 0x200)
}

#[test]
fn saved_images_match_the_host() {
    let mut m = Machine::new();
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    let mut failures = Vec::new();
    for round in 0..3000 {
        let regs = rng.below(9) as usize;
        let mut image = random_image(&mut rng, regs, false);
        // Any flags, pending or not; random pointers and opcode; tags that disagree with the
        // contents (loading recomputes all but empty).
        let status = u16::from_le_bytes([image[4], image[5]]) | (rng.below(0x80) as u16);
        image[4..6].copy_from_slice(&status.to_le_bytes());
        for b in image[12..28].iter_mut() {
            *b = rng.next_u64() as u8;
        }
        if rng.chance(30) {
            let tags = rng.next_u64() as u16;
            image[8..10].copy_from_slice(&tags.to_le_bytes());
        }
        let which = round % 3;
        let e = emulated(&mut m, &image, which);
        // A context switch between the host's instructions can zero its saved pointers (the
        // kernel's XSAVE on this AMD host drops them while no exception is pending): retry.
        let mut h = host(&image, which);
        for _ in 0..5 {
            if h == e {
                break;
            }
            h = host(&image, which);
        }
        if h != e && failures.len() < 5 {
            let diff: Vec<String> = (0..160)
                .filter(|&k| h[k] != e[k])
                .map(|k| format!("[{k}] host {:02x} emu {:02x}", h[k], e[k]))
                .collect();
            failures.push(format!(
                "layout {which}: {}\n start {}",
                diff.join(", "),
                describe(&image)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

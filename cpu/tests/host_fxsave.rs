//! FXSAVE/FXRSTOR and the x87↔MMX state rules against the host CPU: an FXRSTOR → FXSAVE round
//! trip of random images (including the tag word FXRSTOR derives, checked through FNSTENV), and
//! the TOP/tag/exponent effects of MMX instructions, EMMS and the SSE conversions that touch
//! MMX registers.
#![cfg(target_arch = "x86_64")]

mod simd_machine;

use simd_machine::*;

#[repr(C, align(16))]
struct Area([u8; 512]);

/// Loads `img` with FXRSTOR on the host, runs `body` (which may use `{mem}` as a 16-byte
/// aligned scratch operand), and returns the FXSAVE image and FNSTENV's tag word. The host's
/// own x87/SSE state is saved around it.
macro_rules! host_round_trip {
    ($name:ident, $($body:literal),*) => {
        fn $name(img: &[u8; 512], mem: &mut [u8; 16]) -> ([u8; 512], u16) {
            let mut scratch = Area([0; 512]);
            let input = Area(*img);
            let mut out = Area([0; 512]);
            let mut env = [0u16; 16];
            let mut mem_area = Area([0; 512]);
            mem_area.0[..16].copy_from_slice(mem);
            // SAFETY: all pointers are valid, 16-byte aligned 512-byte areas (env: 32 bytes);
            // the host's x87/SSE state is saved first and restored last, so nothing the Rust
            // code relies on changes; the instructions under test run with masked exceptions.
            unsafe {
                core::arch::asm!(
                    "lea rax, [{mem}]",
                    "fxsave [{scratch}]",
                    "fxrstor [{input}]",
                    $($body,)*
                    "fxsave [{out}]",
                    "fnstenv [{env}]",
                    "fxrstor [{scratch}]",
                    scratch = in(reg) scratch.0.as_mut_ptr(),
                    input = in(reg) input.0.as_ptr(),
                    out = in(reg) out.0.as_mut_ptr(),
                    env = in(reg) env.as_mut_ptr(),
                    mem = in(reg) mem_area.0.as_mut_ptr(),
                    out("rax") _,
                );
            }
            mem.copy_from_slice(&mem_area.0[..16]);
            (out.0, env[4])
        }
    };
}

host_round_trip!(host_plain,);
host_round_trip!(host_movq, "movq mm2, mm5");
host_round_trip!(host_movd_load, "movd mm3, [{mem}]");
host_round_trip!(host_movd_store, "movd eax, mm6");
host_round_trip!(host_paddb, "paddb mm7, [{mem}]");
host_round_trip!(host_emms, "emms");
host_round_trip!(host_cvtpi2ps_m, "cvtpi2ps xmm1, [{mem}]");
host_round_trip!(host_cvtpi2pd_m, "cvtpi2pd xmm1, [{mem}]");
host_round_trip!(host_cvtpi2pd_r, "cvtpi2pd xmm1, mm4");
host_round_trip!(host_cvtps2pi, "cvtps2pi mm1, xmm2");
host_round_trip!(host_movq2dq, "movq2dq xmm3, mm0");
host_round_trip!(host_pmovmskb, "pmovmskb eax, mm2");
host_round_trip!(host_pextrw, "pextrw eax, mm2, 1");
host_round_trip!(host_movq_store, "movq [{mem}], mm1");

type Host = fn(&[u8; 512], &mut [u8; 16]) -> ([u8; 512], u16);

/// (name, host, emulator encoding with ESI as the memory operand).
const SEQUENCES: &[(&str, Host, &[u8])] = &[
    ("plain", host_plain, &[]),
    ("movq mm2, mm5", host_movq, &[0x0F, 0x6F, 0xD5]),
    ("movd mm3, [mem]", host_movd_load, &[0x0F, 0x6E, 0x1E]),
    ("movd eax, mm6", host_movd_store, &[0x0F, 0x7E, 0xF0]),
    ("paddb mm7, [mem]", host_paddb, &[0x0F, 0xFC, 0x3E]),
    ("emms", host_emms, &[0x0F, 0x77]),
    ("cvtpi2ps xmm1, [mem]", host_cvtpi2ps_m, &[0x0F, 0x2A, 0x0E]),
    (
        "cvtpi2pd xmm1, [mem]",
        host_cvtpi2pd_m,
        &[0x66, 0x0F, 0x2A, 0x0E],
    ),
    (
        "cvtpi2pd xmm1, mm4",
        host_cvtpi2pd_r,
        &[0x66, 0x0F, 0x2A, 0xCC],
    ),
    ("cvtps2pi mm1, xmm2", host_cvtps2pi, &[0x0F, 0x2D, 0xCA]),
    ("movq2dq xmm3, mm0", host_movq2dq, &[0xF3, 0x0F, 0xD6, 0xD8]),
    ("pmovmskb eax, mm2", host_pmovmskb, &[0x0F, 0xD7, 0xC2]),
    ("pextrw eax, mm2, 1", host_pextrw, &[0x0F, 0xC5, 0xC2, 0x01]),
    ("movq [mem], mm1", host_movq_store, &[0x0F, 0x7F, 0x0E]),
];

/// A random FXSAVE image the host accepts: MXCSR within the writable bits, no pending x87
/// exception (so MMX instructions run), random registers including special encodings.
fn random_image(rng: &mut Rng) -> [u8; 512] {
    let mut img = [0u8; 512];
    for b in img.iter_mut() {
        *b = rng.next_u32() as u8;
    }
    let fcw: u16 = 0x037F & !(rng.next_u32() as u16 & 0x0C00) | (rng.next_u32() as u16 & 0x0F00);
    let fsw: u16 = (rng.next_u32() as u16) & 0x7F00 & !0x0080 | (rng.next_u32() as u16 & 0x0040);
    img[0..2].copy_from_slice(&(fcw | 0x3F).to_le_bytes());
    img[2..4].copy_from_slice(&fsw.to_le_bytes());
    img[5] = 0;
    img[6..8].copy_from_slice(&(rng.next_u32() as u16 & 0x7FF).to_le_bytes());
    let mxcsr = rng.mxcsr() & 0xFFFF;
    img[24..28].copy_from_slice(&mxcsr.to_le_bytes());
    img[28..32].copy_from_slice(&0u32.to_le_bytes());
    for i in 0..8 {
        let at = 32 + 16 * i;
        let exp: u16 = match rng.below(5) {
            0 => 0,
            1 => 0x7FFF,
            2 => 0xFFFF,
            _ => rng.next_u32() as u16,
        };
        let mant: u64 = match rng.below(4) {
            0 => 0,
            1 => 1 << 63,
            2 => rng.next_u64() >> 1,
            _ => rng.next_u64(),
        };
        img[at..at + 8].copy_from_slice(&mant.to_le_bytes());
        img[at + 8..at + 10].copy_from_slice(&exp.to_le_bytes());
        img[at + 10..at + 16].fill(0);
    }
    img
}

/// The bytes of the 32-bit FXSAVE layout that the host stores the same way: everything up to
/// XMM7 except the reserved bytes, MXCSR_MASK (compared separately), the x87 error pointers
/// FOP/FIP/FCS/FDP/FDS (AMD hosts store them only while an x87 exception is pending, and
/// deprecate FCS/FDS) and the padding after each 80-bit register.
fn comparable(offset: usize) -> bool {
    !matches!(offset, 5..=23 | 28..=31) && !(32..160).contains(&offset)
        || (32..160).contains(&offset) && (offset - 32) % 16 < 10
}

#[test]
fn fxsave_images_and_mmx_transitions_match_host() {
    let mut m = Machine::new();
    let mut rng = Rng::new(6);
    let mut failures = Vec::new();
    for iter in 0..400 {
        for &(name, host, code) in SEQUENCES {
            let img = random_image(&mut rng);
            let mut mem = [0u8; 16];
            for b in mem.iter_mut() {
                *b = rng.next_u32() as u8;
            }
            let mut host_mem = mem;
            let (want, want_tags) = host(&img, &mut host_mem);

            // Emulator: FXRSTOR [esi+0x200]; the instruction; FXSAVE [esi+0x400].
            m.write_bytes(DATA + 0x200, &img);
            m.write_bytes(DATA, &mem);
            m.run(
                &[0x0F, 0xAE, 0x8E, 0x00, 0x02, 0x00, 0x00],
                &Regs::default(),
            );
            let saved = m.cpu.state;
            if !code.is_empty() {
                m.load(code);
                m.cpu.state = saved;
                m.cpu.state.eip = m.code_at;
                m.cpu.state.regs[6] = DATA;
                let exit = m.cpu.run(1);
                assert_eq!(
                    m.cpu.state.eip,
                    m.code_at + code.len() as u32,
                    "{name}: {exit:?}"
                );
            }
            let tags = m.cpu.state.fpu.tag;
            let saved = m.cpu.state;
            m.load(&[0x0F, 0xAE, 0x86, 0x00, 0x04, 0x00, 0x00]);
            m.cpu.state = saved;
            m.cpu.state.eip = m.code_at;
            m.cpu.state.regs[6] = DATA;
            m.cpu.run(1);
            let got = m.read_bytes(DATA + 0x400, 512);
            let got_mem = m.read_bytes(DATA, 16);
            let mut diffs: Vec<usize> = (0..288)
                .filter(|&i| comparable(i) && got[i] != want[i])
                .collect();
            let mask = |b: &[u8]| u32::from_le_bytes([b[28], b[29], b[30], b[31]]);
            if mask(&got) != mask(&want) & 0xFFFF {
                diffs.push(28);
            }
            // FNSTENV's tag word is computed from the registers' contents; compare it with the
            // tags FXRSTOR derived (MMX instructions set them all valid instead).
            let tags_differ = code.is_empty() && tags != want_tags;
            // The error pointers round-trip through the emulator's FXRSTOR/FXSAVE unchanged
            // (FOP keeps 11 bits; the reserved bytes after FCS and FDS are stored as zeros).
            let mut pointers = img[6..24].to_vec();
            pointers[1] &= 0x07;
            pointers[8..10].fill(0);
            pointers[16..18].fill(0);
            if got[6..24] != pointers[..] {
                diffs.push(6);
            }
            if (tags_differ || got_mem != host_mem || !diffs.is_empty()) && failures.len() < 10 {
                failures.push(format!(
                    "#{iter} {name}: tags want {want_tags:04x} got {tags:04x}; differing bytes {diffs:?}\n   want {:02x?}\n   got  {:02x?}",
                    &want[..48], &got[..48]
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

//! Harness for the x87 tests: a CPU in flat 32-bit protected mode whose x87 state is set from
//! and compared as an FSAVE image, running one instruction by calling its handler directly,
//! and the host CPU running the same instruction bytes between FRSTOR and FNSAVE.
#![allow(dead_code, unused_macros)]

use iced_x86::{Decoder, DecoderOptions};
use webx86_cpu::fpu::control::{decode_save, encode_save, EnvLayout};
use webx86_cpu::mmu::{Mmu, PhysAddr, PhysMemory};
use webx86_cpu::state::{attr, cr0, flag, sreg, CpuState, Segment};
use webx86_cpu::{Cpu, Fault, NullPlatform, Platform};

pub const CODE: u32 = 0x1_0000;
/// Where the memory operand lives; ESI points here (the instructions use `[esi]`).
pub const DATA: u32 = 0x2_0000;
/// The 32-bit protected-mode layout, which the host's FNSAVE in 64-bit mode also writes.
pub const LAYOUT: EnvLayout = EnvLayout {
    wide: true,
    real: false,
};

/// xorshift64*: a fixed-seed generator, so failures reproduce.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A flat 32-bit CPU at CPL 0 with 1 MiB of RAM.
pub struct Machine {
    pub cpu: Cpu,
}

fn flat32() -> CpuState {
    let mut s = CpuState::reset();
    s.cr0 |= cr0::PE | cr0::NE;
    for (i, seg) in s.segs.iter_mut().enumerate() {
        let code = i == sreg::CS as usize;
        let kind = if code {
            attr::CODE | attr::RW
        } else {
            attr::RW
        };
        *seg = Segment {
            selector: if code { 0x08 } else { 0x10 },
            base: 0,
            limit: u32::MAX,
            attrs: attr::P | attr::S | attr::DB | attr::G | attr::ACCESSED | kind,
            ..Segment::default()
        };
        seg.refresh_checks(true);
    }
    s.eflags = flag::FIXED;
    s.regs[6] = DATA;
    s.regs[4] = 0x8000;
    s
}

impl Default for Machine {
    fn default() -> Self {
        Self::new()
    }
}

impl Machine {
    pub fn new() -> Self {
        Self::with_platform(Box::new(NullPlatform))
    }

    pub fn with_platform(platform: Box<dyn Platform>) -> Self {
        let mut cpu = Cpu::new(Mmu::new(PhysMemory::new(0x10_0000)), platform);
        cpu.state = flat32();
        cpu.sync_paging();
        Self { cpu }
    }

    /// Loads the x87 state from a 108-byte FSAVE image.
    pub fn set_image(&mut self, image: &[u8; 108]) {
        decode_save(&mut self.cpu.state.fpu, image, LAYOUT);
    }

    /// The x87 state as a 108-byte FSAVE image.
    pub fn image(&self) -> [u8; 108] {
        encode_save(&self.cpu.state.fpu, LAYOUT)
    }

    /// Runs one instruction at [`CODE`]: its handler is called as the execution loop does,
    /// and a fault comes back as a value with EIP at the instruction.
    pub fn exec(&mut self, code: &[u8]) -> Result<(), Fault> {
        self.cpu.mmu.phys.write_bytes(PhysAddr(CODE), code);
        let mut decoder = Decoder::with_ip(32, code, u64::from(CODE), DecoderOptions::NONE);
        let instr = decoder.decode();
        if instr.is_invalid() {
            return Err(Fault::new(webx86_cpu::fault::vector::UD));
        }
        let op = webx86_cpu::exec::lower(&instr).op;
        self.cpu.state.eip = CODE + instr.len() as u32;
        let result = (op.handler)(&mut self.cpu, &op);
        if result.is_err() {
            self.cpu.state.eip = CODE;
        }
        self.cpu.state.materialize_flags();
        result
    }

    pub fn write(&mut self, addr: u32, bytes: &[u8]) {
        self.cpu.mmu.phys.write_bytes(PhysAddr(addr), bytes);
    }

    pub fn read<const N: usize>(&mut self, addr: u32) -> [u8; N] {
        let mut out = [0u8; N];
        self.cpu.mmu.phys.read_bytes(PhysAddr(addr), &mut out);
        out
    }
}

/// Bytes of an 80-bit value.
pub fn f80_bytes(sig: u64, se: u16) -> [u8; 10] {
    let mut out = [0u8; 10];
    out[..8].copy_from_slice(&sig.to_le_bytes());
    out[8..].copy_from_slice(&se.to_le_bytes());
    out
}

/// A register value from the classes the x87 distinguishes, weighted towards the interesting.
pub fn random_f80(rng: &mut Rng) -> (u64, u16) {
    let sign = (rng.below(2) as u16) << 15;
    let j = 1u64 << 63;
    let sig = rng.next_u64() | j;
    let k = rng.below(100);
    match k {
        0..=34 => (sig, sign | (0x3FFF + rng.below(140) as u16 - 70)),
        35..=44 => (sig, sign | (1 + rng.below(0x7FFE) as u16)),
        45..=49 => (sig, sign | (1 + rng.below(80) as u16)),
        50..=52 => (sig, sign | (0x7FFE - rng.below(80) as u16)),
        53..=55 => (0, sign),
        56..=59 => (rng.next_u64() >> rng.below(64) & !j, sign),
        60 => (sig, sign),
        61 => (rng.next_u64() & !j, sign | (1 + rng.below(0x7FFE) as u16)),
        62..=64 => (j, sign | 0x7FFF),
        65..=67 => (sig | (1 << 62), sign | 0x7FFF),
        68..=70 => ((sig & !(1 << 62)) | 1, sign | 0x7FFF),
        71 => (0xC000_0000_0000_0000, 0xFFFF),
        72 => (rng.next_u64() & !j, sign | 0x7FFF),
        73..=87 => {
            // Near a rounding boundary of 24, 53 or 64 bits.
            let keep = [24u32, 53][rng.below(2) as usize];
            let base = sig & (u64::MAX << (64 - keep));
            let tweak = match rng.below(5) {
                0 => 0,
                1 => 1u64 << (63 - keep),
                2 => (1u64 << (63 - keep)) + 1,
                3 => (1u64 << (63 - keep)) - 1,
                _ => u64::MAX >> keep,
            };
            (
                base | tweak | j,
                sign | (0x3FFF + rng.below(40) as u16 - 20),
            )
        }
        88..=94 => {
            let v = rng.below(1000) + 1;
            let lz = v.leading_zeros();
            (v << lz, sign | (0x3FFF + 63 - lz as u16))
        }
        _ => {
            let e = 0x3FFF + rng.below(8) as u16 - 4;
            (j | (rng.below(4) << 61), sign | e)
        }
    }
}

/// A single or double real (by `frac_bits`) from the interesting classes.
pub fn random_real(rng: &mut Rng, frac_bits: u32, exp_bits: u32) -> u64 {
    let sign = rng.below(2) << (frac_bits + exp_bits);
    let frac = rng.next_u64() & ((1 << frac_bits) - 1);
    let max = (1u64 << exp_bits) - 1;
    let bias = max >> 1;
    let exp = match rng.below(20) {
        0 => 0,
        1 => max,
        2 => 1,
        3 => max - 1,
        _ => bias + rng.below(40) - 20,
    };
    let frac = match rng.below(10) {
        0 => 0,
        1 => 1 << (frac_bits - 1),
        _ => frac,
    };
    sign | exp << frac_bits | frac
}

/// A random starting state as an FSAVE image: `regs` registers in use from ST(0) (the others
/// empty), random TOP, control word with every precision and rounding control and mostly
/// masked exceptions, status with no unmasked exception pending.
pub fn random_image(rng: &mut Rng, regs: usize, all_masked: bool) -> [u8; 108] {
    let mut img = [0u8; 108];
    let pc = [0u16, 1, 2, 3][rng.below(4) as usize];
    let rc = rng.below(4) as u16;
    let masks = if all_masked || rng.chance(75) {
        0x3F
    } else {
        rng.below(64) as u16
    };
    let control = 0x0040 | masks | pc << 8 | rc << 10;
    let top = rng.below(8) as u16;
    let flags = rng.below(64) as u16 & masks;
    let cc = rng.below(16) as u16;
    let status = flags | top << 11 | (cc & 7) << 8 | (cc >> 3) << 14;
    let mut tag: u16 = 0xFFFF;
    for i in 0..8 {
        let (sig, se) = random_f80(rng);
        img[28 + 10 * i..38 + 10 * i].copy_from_slice(&f80_bytes(sig, se));
        if i < regs {
            let phys = (usize::from(top) + i) & 7;
            tag &= !(3 << (2 * phys));
        }
    }
    img[0..2].copy_from_slice(&control.to_le_bytes());
    img[4..6].copy_from_slice(&status.to_le_bytes());
    img[8..10].copy_from_slice(&tag.to_le_bytes());
    img
}

/// Runs one instruction on the host: (FSAVE image in/out, memory at RSI in/out, RFLAGS
/// in/out, RAX in/out).
pub type HostFn = fn(&mut [u8; 108], &mut [u8; 16], &mut u64, &mut u64);

/// What the memory operand holds before the instruction.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mem {
    None,
    M16,
    M32,
    M64,
    M80,
    I16,
    I32,
    I64,
    Bcd,
    Cw,
}

/// Defines a host function per instruction (the bytes run between FRSTOR and FNSAVE) and a
/// table `$table` of (name, bytes, host function, memory operand, registers in use).
macro_rules! ops {
    ($table:ident: $( $name:ident [$($b:literal),+] $mem:ident $regs:literal ),* $(,)?) => {
        $(
            fn $name(img: &mut [u8; 108], mem: &mut [u8; 16], flags: &mut u64, rax: &mut u64) {
                // SAFETY: the instruction only touches the x87 state, RAX, the flags and the
                // 16-byte buffer at RSI; the image buffer holds 108 bytes.
                unsafe {
                    core::arch::asm!(
                        "push {f}",
                        "popfq",
                        "frstor [{img}]",
                        $(concat!(".byte ", stringify!($b)),)+
                        "fnsave [{img}]",
                        "pushfq",
                        "pop {f}",
                        img = in(reg) img.as_mut_ptr(),
                        f = inout(reg) *flags,
                        in("rsi") mem.as_mut_ptr(),
                        inout("rax") *rax,
                    );
                }
            }
        )*
        /// (name, bytes, host, memory operand, registers in use).
        const $table: &[(&str, &[u8], HostFn, Mem, usize)] = &[
            $( (stringify!($name), &[$($b),+], $name, Mem::$mem, $regs) ),*
        ];
    };
}

/// Fills the memory operand for `kind`.
pub fn operand(rng: &mut Rng, kind: Mem) -> [u8; 16] {
    let mut m = [0u8; 16];
    for b in m.iter_mut() {
        *b = rng.next_u64() as u8;
    }
    let edge_int = |rng: &mut Rng, bits: u32| -> u64 {
        match rng.below(6) {
            0 => 0,
            1 => 1u64 << (bits - 1),
            2 => (1u64 << (bits - 1)).wrapping_sub(1),
            3 => u64::MAX,
            _ => rng.next_u64(),
        }
    };
    match kind {
        Mem::M32 => m[..4].copy_from_slice(&(random_real(rng, 23, 8) as u32).to_le_bytes()),
        Mem::M64 => m[..8].copy_from_slice(&random_real(rng, 52, 11).to_le_bytes()),
        Mem::M80 => {
            let (sig, se) = random_f80(rng);
            m[..10].copy_from_slice(&f80_bytes(sig, se));
        }
        Mem::I16 => m[..2].copy_from_slice(&(edge_int(rng, 16) as u16).to_le_bytes()),
        Mem::I32 => m[..4].copy_from_slice(&(edge_int(rng, 32) as u32).to_le_bytes()),
        Mem::I64 => m[..8].copy_from_slice(&edge_int(rng, 64).to_le_bytes()),
        Mem::Bcd => {
            for b in m[..9].iter_mut() {
                *b = (rng.below(10) as u8) << 4 | rng.below(10) as u8;
            }
            m[9] = if rng.chance(50) { 0x80 } else { 0 };
        }
        Mem::Cw => {
            let cw = rng.next_u64() as u16;
            m[..2].copy_from_slice(&cw.to_le_bytes());
        }
        Mem::None | Mem::M16 => {}
    }
    m
}

pub fn hex(b: &[u8]) -> String {
    b.iter().rev().map(|x| format!("{x:02x}")).collect()
}

/// Describes an FSAVE image for failure messages.
pub fn describe(img: &[u8; 108]) -> String {
    let mut s = format!(
        "cw {} sw {} tw {}",
        hex(&img[0..2]),
        hex(&img[4..6]),
        hex(&img[8..10])
    );
    for i in 0..8 {
        s += &format!(" st{i}={}", hex(&img[28 + 10 * i..38 + 10 * i]));
    }
    s
}

/// Runs `code` from `start`/`mem`/`flags` on the host and in the emulator and compares.
#[allow(clippy::too_many_arguments)]
pub fn check(
    m: &mut Machine,
    name: &str,
    code: &[u8],
    host: HostFn,
    start: &[u8; 108],
    mem: [u8; 16],
    flags: u64,
) -> Result<(), String> {
    let (mut h_img, mut h_mem, mut h_flags, mut h_rax) = (*start, mem, flags | 2, 0x1234_5678u64);
    host(&mut h_img, &mut h_mem, &mut h_flags, &mut h_rax);

    m.set_image(start);
    m.write(DATA, &mem);
    m.cpu.state.eflags = (flags as u32 & 0x8D5) | 2;
    m.cpu.state.regs[0] = 0x1234_5678;
    m.exec(code).map_err(|f| format!("{name}: fault {f:?}"))?;
    let e_img = m.image();
    let e_mem = m.read::<16>(DATA);
    let e_flags = m.cpu.state.eflags & 0x8D5;
    let e_rax = m.cpu.state.regs[0];
    let same_env = h_img[..12] == e_img[..12];
    let same_regs = h_img[28..] == e_img[28..];
    if !same_env
        || !same_regs
        || h_mem != e_mem
        || (h_flags as u32 & 0x8D5) != e_flags
        || h_rax as u32 != e_rax
    {
        return Err(format!(
            "{name} {code:02x?}\n start {}\n mem   {}\n host  {}\n emu   {}\n host mem {} emu mem {}\n host flags {:03x} emu {:03x} host ax {:x} emu {:x}",
            describe(start),
            hex(&mem),
            describe(&h_img),
            describe(&e_img),
            hex(&h_mem),
            hex(&e_mem),
            h_flags & 0x8D5,
            e_flags,
            h_rax as u32,
            e_rax
        ));
    }
    Ok(())
}

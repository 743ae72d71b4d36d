//! Harness for the x87 tests: a CPU in flat 32-bit protected mode whose x87 state is set from
//! and compared as an FSAVE image, running one instruction by calling its handler directly,
//! and the host CPU running the same instruction bytes between FRSTOR and FNSAVE.
#![allow(dead_code)]

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
            let base = sig & (u64::MAX << 64 - keep);
            let tweak = match rng.below(5) {
                0 => 0,
                1 => 1u64 << 63 - keep,
                2 => (1u64 << 63 - keep) + 1,
                3 => (1u64 << 63 - keep) - 1,
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

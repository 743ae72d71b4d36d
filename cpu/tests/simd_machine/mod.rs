//! Harness for the SIMD tests: a flat 32-bit CPU with SSE enabled (CR4.OSFXSR and OSXMMEXCPT),
//! a host-side register image that `asm!` blocks load and store, random and special
//! floating-point operands, and a runner that executes one instruction in the emulator from the
//! same register image.
#![allow(dead_code)]

use iced_x86::{Decoder, DecoderOptions};
use webx86_cpu::mmu::{Mmu, PhysAddr, PhysMemory};
use webx86_cpu::state::{attr, cr0, cr4, flag, sreg, CpuState, Segment};
use webx86_cpu::{Cpu, Fault, NullPlatform, RunExit};

/// Where memory operands live; ESI points here.
pub const DATA: u32 = 0x2_0000;
const CODE_BASE: u32 = 0x10_0000;
const RAM: u32 = 0x40_0000;

/// The registers an instruction under test sees, laid out for the host `asm!` blocks (the
/// offsets are used there): XMM0, XMM1, MXCSR, EAX, MM0, MM1, RFLAGS.
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Regs {
    pub x0: [u64; 2],
    pub x1: [u64; 2],
    pub mxcsr: u32,
    pub eax: u32,
    pub m0: u64,
    pub m1: u64,
    pub flags: u64,
}

/// Runs `$insn` on the host with [`Regs`] loaded into XMM0/XMM1/MM0/MM1/EAX/MXCSR/RFLAGS and
/// stores them back afterwards. MXCSR must mask every exception.
#[macro_export]
macro_rules! host_fn {
    ($name:ident, $insn:literal) => {
        fn $name(r: &mut $crate::simd_machine::Regs) {
            let p: *mut $crate::simd_machine::Regs = r;
            // SAFETY: the block reads and writes only `*p` (a valid, aligned, exclusively
            // borrowed Regs), declares every register it changes, restores the stack, and the
            // instruction under test computes on registers only with all exceptions masked.
            unsafe {
                core::arch::asm!(
                    "ldmxcsr [{p} + 32]",
                    "movdqu xmm0, [{p}]",
                    "movdqu xmm1, [{p} + 16]",
                    "mov eax, [{p} + 36]",
                    "movq mm0, [{p} + 40]",
                    "movq mm1, [{p} + 48]",
                    "push qword ptr [{p} + 56]",
                    "popfq",
                    $insn,
                    "pushfq",
                    "pop qword ptr [{p} + 56]",
                    "movdqu [{p}], xmm0",
                    "movdqu [{p} + 16], xmm1",
                    "mov [{p} + 36], eax",
                    "movq [{p} + 40], mm0",
                    "movq [{p} + 48], mm1",
                    "stmxcsr [{p} + 32]",
                    "emms",
                    "ldmxcsr [{csr}]",
                    p = in(reg) p,
                    csr = in(reg) &0x1F80u32,
                    out("eax") _,
                    out("xmm0") _,
                    out("xmm1") _,
                    out("mm0") _,
                    out("mm1") _,
                );
            }
            r.flags &= 0x8D5;
        }
    };
}

pub struct Machine {
    pub cpu: Cpu,
    slots: Vec<Vec<u8>>,
    pub code_at: u32,
}

impl Default for Machine {
    fn default() -> Self {
        Self::new()
    }
}

/// Flat 32-bit protected mode at CPL 0 with SSE enabled.
pub fn sse_state(eip: u32) -> CpuState {
    let mut s = CpuState::reset();
    s.cr0 |= cr0::PE;
    s.cr4 |= cr4::OSFXSR | cr4::OSXMMEXCPT;
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
    s.eip = eip;
    s.eflags = flag::FIXED;
    s
}

impl Machine {
    pub fn new() -> Self {
        Self {
            cpu: Cpu::new(Mmu::new(PhysMemory::new(RAM)), Box::new(NullPlatform)),
            slots: Vec::new(),
            code_at: 0,
        }
    }

    /// Places `code` in a slot of its own (reused for the same bytes, keeping its decoded block)
    /// and resets the state to [`sse_state`] at it.
    pub fn load(&mut self, code: &[u8]) {
        let slot = match self.slots.iter().position(|c| c == code) {
            Some(n) => n,
            None => {
                if self.slots.len() == 512 {
                    self.cpu.reset();
                    self.slots.clear();
                }
                let n = self.slots.len();
                let mut bytes = code.to_vec();
                bytes.extend_from_slice(&[0xEB, 0xFE]);
                let at = CODE_BASE + n as u32 * 0x40;
                self.cpu.mmu.phys.write_bytes(PhysAddr(at), &bytes);
                self.slots.push(code.to_vec());
                n
            }
        };
        self.code_at = CODE_BASE + slot as u32 * 0x40;
        self.cpu.state = sse_state(self.code_at);
        self.cpu.sync_paging();
    }

    /// Copies `r` into the emulator's registers (ESI = [`DATA`]).
    pub fn set_regs(&mut self, r: &Regs) {
        let s = &mut self.cpu.state;
        s.sse.xmm[0] = r.x0;
        s.sse.xmm[1] = r.x1;
        s.sse.mxcsr = r.mxcsr;
        s.regs[0] = r.eax;
        s.regs[6] = DATA;
        s.fpu.mantissa[0] = r.m0;
        s.fpu.mantissa[1] = r.m1;
        s.eflags = flag::FIXED | (r.flags as u32 & flag::ARITH);
    }

    /// The emulator's registers in [`Regs`] form.
    pub fn regs(&mut self) -> Regs {
        self.cpu.state.materialize_flags();
        let s = &self.cpu.state;
        Regs {
            x0: s.sse.xmm[0],
            x1: s.sse.xmm[1],
            mxcsr: s.sse.mxcsr,
            eax: s.regs[0],
            m0: s.fpu.mantissa[0],
            m1: s.fpu.mantissa[1],
            flags: u64::from(s.eflags & flag::ARITH),
        }
    }

    pub fn write_bytes(&mut self, addr: u32, bytes: &[u8]) {
        self.cpu.mmu.phys.write_bytes(PhysAddr(addr), bytes);
    }

    pub fn read_bytes(&mut self, addr: u32, n: usize) -> Vec<u8> {
        let mut out = vec![0; n];
        self.cpu.mmu.phys.read_bytes(PhysAddr(addr), &mut out);
        out
    }

    /// Runs `code` from `r` through the execution loop; panics unless it completed.
    pub fn run(&mut self, code: &[u8], r: &Regs) -> Regs {
        self.load(code);
        self.set_regs(r);
        let exit = self.cpu.run(1);
        assert!(
            exit == RunExit::Budget && self.cpu.state.eip == self.code_at + code.len() as u32,
            "{code:02x?} did not complete (exit {exit:?}, eip {:#x})",
            self.cpu.state.eip
        );
        self.regs()
    }

    /// Executes `code`'s handler directly from the current state (after [`Machine::load`] and
    /// any setup), returning a fault as a value; EIP is restored on a fault as the loop does.
    pub fn exec(&mut self, code: &[u8]) -> Result<(), Fault> {
        let mut decoder = Decoder::with_ip(32, code, u64::from(self.code_at), DecoderOptions::NONE);
        let instr = decoder.decode();
        assert!(!instr.is_invalid(), "{code:02x?} does not decode");
        let op = webx86_cpu::exec::lower(&instr).op;
        self.cpu.state.eip = self.code_at + instr.len() as u32;
        let result = (op.handler)(&mut self.cpu, &op);
        if result.is_err() {
            self.cpu.state.eip = self.code_at;
        }
        result
    }
}

/// xorshift64*: fixed seeds, so failures reproduce.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    pub fn below(&mut self, n: u32) -> u32 {
        ((u64::from(self.next_u32()) * u64::from(n)) >> 32) as u32
    }
    pub fn bool(&mut self) -> bool {
        self.next_u32() & 1 != 0
    }

    /// A floating-point operand of `frac` fraction bits and `exp` exponent bits: special
    /// values, denormals, values near the overflow and underflow thresholds, values with
    /// rounding-sensitive low bits, and random bit patterns.
    pub fn float(&mut self, frac: u32, exp: u32) -> u64 {
        let bias = (1u64 << (exp - 1)) - 1;
        let exp_all = (1u64 << exp) - 1;
        let frac_mask = (1u64 << frac) - 1;
        let sign = u64::from(self.bool()) << (frac + exp);
        let random_frac = self.next_u64() & frac_mask;
        let e = match self.below(12) {
            0 => {
                let specials = [
                    0,
                    1,
                    frac_mask,
                    1 << frac,
                    exp_all << frac,
                    (exp_all << frac) | 1 << (frac - 1),
                    (exp_all << frac) | 1,
                    (exp_all << frac) | random_frac.max(1),
                    (bias << frac),
                    ((exp_all - 1) << frac) | frac_mask,
                ];
                return sign | specials[self.below(specials.len() as u32) as usize];
            }
            1 => 0,
            2 => 1 + u64::from(self.below(3)),
            3 => exp_all - 1 - u64::from(self.below(3)),
            4 => exp_all,
            5 | 6 => bias - 2 + u64::from(self.below(5)),
            7 => u64::from(self.below(exp_all as u32 + 1)),
            _ => bias - 12 + u64::from(self.below(25)),
        };
        let f = match self.below(4) {
            // Rounding-sensitive tails: ...0111, ...1000, ...1001.
            0 => (random_frac & !0xFF) | [0x7F, 0x80, 0x81, 0xFF, 0x00][self.below(5) as usize],
            1 => random_frac & !((1 << (frac / 2)) - 1),
            _ => random_frac,
        };
        sign | (e << frac) | f
    }
    pub fn f32(&mut self) -> u64 {
        self.float(23, 8)
    }
    pub fn f64(&mut self) -> u64 {
        self.float(52, 11)
    }
    /// A 128-bit register of four binary32 or two binary64 operands.
    pub fn vec(&mut self, double: bool) -> [u64; 2] {
        if double {
            [self.f64(), self.f64()]
        } else {
            [self.f32() | self.f32() << 32, self.f32() | self.f32() << 32]
        }
    }
    /// A second operand related to `a` (same or nearby values, for cancellation and equality)
    /// or independent.
    pub fn vec_near(&mut self, a: [u64; 2], double: bool) -> [u64; 2] {
        if self.below(3) != 0 {
            return self.vec(double);
        }
        let mut b = a;
        let lanes = if double { 2 } else { 4 };
        for i in 0..lanes {
            let (q, shift, width) = if double {
                (i, 0, 64)
            } else {
                (i / 2, 32 * (i % 2), 32)
            };
            let mask = if width == 64 { u64::MAX } else { 0xFFFF_FFFF };
            let mut x = (b[q] >> shift) & mask;
            match self.below(4) {
                0 => {}
                1 => x ^= 1 << (width - 1),
                2 => x = x.wrapping_add(u64::from(self.below(5))) & mask,
                _ => x = (x ^ (1 << (width - 1))).wrapping_sub(u64::from(self.below(3))) & mask,
            }
            b[q] = (b[q] & !(mask << shift)) | x << shift;
        }
        b
    }
    /// MXCSR with every exception masked, random rounding, FTZ, DAZ and sticky flags.
    pub fn mxcsr(&mut self) -> u32 {
        let mut csr = 0x1F80 | (self.next_u32() & (3 << 13));
        if self.below(3) == 0 {
            csr |= 1 << 15;
        }
        if self.below(3) == 0 {
            csr |= 1 << 6;
        }
        if self.below(4) == 0 {
            csr |= self.next_u32() & 0x3F;
        }
        csr
    }
}

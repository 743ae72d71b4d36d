//! A small protected-mode machine for tests: a GDT, an IDT and two TSSs in RAM, and a CPU
//! started in 32-bit protected mode at a chosen privilege level.

use webx86_cpu::mmu::{Mmu, PhysAddr, PhysMemory};
use webx86_cpu::state::{cr0, flag, reg, sreg, Segment, TableReg};
use webx86_cpu::{Cpu, NullPlatform};

pub use super::segments::{cache_of, descriptor, gate};

pub const GDT: u32 = 0x1000;
pub const IDT: u32 = 0x2000;
pub const TSS_A: u32 = 0x3000;
pub const TSS_B: u32 = 0x3100;
pub const KCODE: u32 = 0x5000;
pub const UCODE: u32 = 0x6000;
pub const USTACK: u32 = 0x8000;
pub const KSTACK: u32 = 0x9000;

pub const SEL_KCODE: u16 = 0x08;
pub const SEL_KDATA: u16 = 0x10;
pub const SEL_UCODE: u16 = 0x1B;
pub const SEL_UDATA: u16 = 0x23;
pub const SEL_TSS_A: u16 = 0x28;
pub const SEL_CALL_GATE: u16 = 0x33;
pub const SEL_TSS_B: u16 = 0x38;
pub const SEL_RODATA: u16 = 0x40;
pub const SEL_ABSENT: u16 = 0x48;
pub const SEL_KCODE16: u16 = 0x50;
pub const SEL_TASK_GATE: u16 = 0x58;

pub struct Harness {
    pub cpu: Cpu,
}

impl Harness {
    /// A CPU in 32-bit protected mode at `cpl`, with flat code/data segments for that level,
    /// TSS A loaded (ESP0 = KSTACK, SS0 = kernel data) and an empty IDT.
    pub fn new(cpl: u32) -> Self {
        let mmu = Mmu::new(PhysMemory::new(2 << 20));
        let mut h = Self {
            cpu: Cpu::new(mmu, Box::new(NullPlatform)),
        };
        let gdt = [
            0,
            descriptor(0, 0xFFFFF, 0x9A, 0xC),
            descriptor(0, 0xFFFFF, 0x92, 0xC),
            descriptor(0, 0xFFFFF, 0xFA, 0xC),
            descriptor(0, 0xFFFFF, 0xF2, 0xC),
            descriptor(TSS_A, 0x67, 0x8B, 0),
            gate(SEL_KCODE, KCODE, 0xEC, 2),
            descriptor(TSS_B, 0x67, 0x89, 0),
            descriptor(0, 0xFFFFF, 0x90, 0xC),
            descriptor(0, 0xFFFFF, 0x12, 0xC),
            descriptor(0, 0xFFFF, 0x9A, 0),
            gate(SEL_TSS_B, 0, 0x85, 0),
        ];
        for (i, d) in gdt.iter().enumerate() {
            h.write64(GDT + 8 * i as u32, *d);
        }
        h.write32(TSS_A + 4, KSTACK);
        h.write32(TSS_A + 8, u32::from(SEL_KDATA));
        let s = &mut h.cpu.state;
        s.cr0 = cr0::PE | cr0::ET;
        s.gdtr = TableReg {
            base: GDT,
            limit: 8 * gdt.len() as u32 - 1,
        };
        s.idtr = TableReg {
            base: IDT,
            limit: 0x7FF,
        };
        s.tr = cache_of(SEL_TSS_A, gdt[5]);
        s.eflags = flag::FIXED;
        h.set_level(cpl);
        h
    }

    /// Flat code and data for `cpl`, running at its code area with its stack.
    pub fn set_level(&mut self, cpl: u32) {
        let (code, data, eip, esp) = if cpl == 3 {
            (SEL_UCODE, SEL_UDATA, UCODE, USTACK)
        } else {
            (SEL_KCODE, SEL_KDATA, KCODE, KSTACK)
        };
        let code_desc = self.read64(GDT + u32::from(code & !7));
        let data_desc = self.read64(GDT + u32::from(data & !7));
        let s = &mut self.cpu.state;
        s.cpl = cpl;
        s.segs[sreg::CS as usize] = cache_of(code, code_desc);
        for seg in [sreg::SS, sreg::DS, sreg::ES, sreg::FS, sreg::GS] {
            s.segs[seg as usize] = cache_of(data, data_desc);
        }
        s.eip = eip;
        s.regs[reg::ESP as usize] = esp;
    }

    /// Writes guest memory as a loader or DMA would (decoded code there is dropped).
    pub fn write_bytes(&mut self, addr: u32, bytes: &[u8]) {
        self.cpu.mmu.phys.write_bytes(PhysAddr(addr), bytes);
    }
    pub fn write32(&mut self, addr: u32, value: u32) {
        self.write_bytes(addr, &value.to_le_bytes());
    }
    pub fn write64(&mut self, addr: u32, value: u64) {
        self.write_bytes(addr, &value.to_le_bytes());
    }
    pub fn read32(&self, addr: u32) -> u32 {
        let m = self.cpu.mmu.phys.store();
        u32::from_le_bytes(m[addr as usize..addr as usize + 4].try_into().unwrap())
    }
    pub fn read16(&self, addr: u32) -> u32 {
        self.read32(addr) & 0xFFFF
    }
    pub fn read64(&self, addr: u32) -> u64 {
        u64::from(self.read32(addr)) | u64::from(self.read32(addr + 4)) << 32
    }
    pub fn set_idt(&mut self, vector: u8, desc: u64) {
        self.write64(IDT + 8 * u32::from(vector), desc);
    }
    /// Runs exactly one instruction (or one faulting instruction and its delivery).
    pub fn step(&mut self) {
        self.cpu.run(1);
    }
    pub fn seg(&self, seg: u8) -> Segment {
        self.cpu.state.segs[seg as usize]
    }
    pub fn esp(&self) -> u32 {
        self.cpu.state.regs[reg::ESP as usize]
    }
    /// The dwords on the stack from ESP upwards (flat SS).
    pub fn stack(&self, count: u32) -> Vec<u32> {
        (0..count)
            .map(|i| self.read32(self.esp() + 4 * i))
            .collect()
    }
}

/// Where [`Harness::catch_exceptions`] sends exception `vector`.
pub fn handler(vector: u8) -> u32 {
    0x7000 + 0x10 * u32::from(vector)
}

impl Harness {
    /// Points vectors 0–19 at distinct ring-0 addresses ([`handler`]) through interrupt gates.
    pub fn catch_exceptions(&mut self) {
        for v in 0..20 {
            self.set_idt(v, gate(SEL_KCODE, handler(v), 0x8E, 0));
        }
    }
}

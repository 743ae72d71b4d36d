//! A small harness for the stack, control, string, I/O and misc instruction tests: a CPU with
//! segment caches set directly (flat 32-bit protected mode, or real mode), code bytes placed in
//! RAM, and one instruction decoded and run the way the execution loop runs it, so a test sees
//! the handler's `Exec` result (the fault vector and error code) directly.

#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use iced_x86::{Decoder, DecoderOptions};
use webx86_cpu::exec;
use webx86_cpu::mmu::{LinAddr, Mmu, PhysAddr, PhysMemory};
use webx86_cpu::state::{attr, cr0, flag, reg, sreg, Segment};
use webx86_cpu::{Cpu, Exec, Platform};

/// Guest RAM: 8 MiB.
pub const RAM: u32 = 8 << 20;
/// Where test code is placed (linear = physical when paging is off or identity-mapped).
pub const CODE: u32 = 0x0001_0000;
/// Page directory and the two page tables identity-mapping 0–8 MiB when paging is on.
pub const PAGE_DIR: u32 = 0x0070_0000;
pub const PAGE_TABLES: u32 = 0x0070_1000;

pub const PTE_P: u32 = 1;
pub const PTE_RW: u32 = 2;
pub const PTE_US: u32 = 4;

/// Every port access the guest made: (is write, port, size, value).
pub type IoLog = Rc<RefCell<Vec<(bool, u16, u8, u32)>>>;

/// A platform that records port accesses and answers reads from a queue (0xFFFFFFFF when
/// empty), with a fixed time-stamp offset.
pub struct RecordingPlatform {
    pub log: IoLog,
    pub reads: Rc<RefCell<VecDeque<u32>>>,
}

impl Platform for RecordingPlatform {
    fn io_read(&mut self, port: u16, size: u8) -> u32 {
        let mask = u32::MAX >> (32 - 8 * u32::from(size));
        let value = self.reads.borrow_mut().pop_front().unwrap_or(u32::MAX) & mask;
        self.log.borrow_mut().push((false, port, size, value));
        value
    }
    fn io_write(&mut self, port: u16, size: u8, value: u32) {
        self.log.borrow_mut().push((true, port, size, value));
    }
    fn timestamp(&mut self, retired: u64) -> u64 {
        1_000_000 + retired * 3
    }
}

pub struct Machine {
    pub cpu: Cpu,
    pub io: IoLog,
    pub reads: Rc<RefCell<VecDeque<u32>>>,
}

fn machine() -> Machine {
    let io: IoLog = Rc::default();
    let reads: Rc<RefCell<VecDeque<u32>>> = Rc::default();
    let platform = RecordingPlatform {
        log: Rc::clone(&io),
        reads: Rc::clone(&reads),
    };
    let mut cpu = Cpu::new(Mmu::new(PhysMemory::new(RAM)), Box::new(platform));
    cpu.reset();
    Machine { cpu, io, reads }
}

/// A flat segment: base 0, 4 GiB, 32-bit, DPL `dpl`; `code` makes it readable code.
pub fn flat_segment(selector: u32, code: bool, dpl: u32) -> Segment {
    let mut s = Segment {
        selector,
        base: 0,
        limit: u32::MAX,
        attrs: attr::P
            | attr::S
            | attr::RW
            | attr::ACCESSED
            | attr::DB
            | attr::G
            | (dpl << attr::DPL_SHIFT)
            | if code { attr::CODE } else { 0 },
        ..Segment::default()
    };
    s.refresh_checks(true);
    s
}

/// A data segment with the given base, limit and D/B bit (expand-up, writable, DPL 0).
pub fn data_segment(selector: u32, base: u32, limit: u32, big: bool) -> Segment {
    let mut s = Segment {
        selector,
        base,
        limit,
        attrs: attr::P | attr::S | attr::RW | attr::ACCESSED | if big { attr::DB } else { 0 },
        ..Segment::default()
    };
    s.refresh_checks(true);
    s
}

impl Machine {
    /// 32-bit protected mode at CPL 0 with flat code, data and stack segments, paging off,
    /// ESP = 0x80000.
    pub fn flat32() -> Self {
        let mut m = machine();
        let s = &mut m.cpu.state;
        s.cr0 |= cr0::PE;
        for (n, seg) in s.segs.iter_mut().enumerate() {
            *seg = flat_segment(0x10, false, 0);
            if n == sreg::CS as usize {
                *seg = flat_segment(0x08, true, 0);
            }
        }
        s.cpl = 0;
        s.eip = CODE;
        s.regs[reg::ESP as usize] = 0x0008_0000;
        m
    }

    /// Real mode with every segment at 0 (CS too), EIP = CODE's offset in CS.
    pub fn real() -> Self {
        let mut m = machine();
        let s = &mut m.cpu.state;
        for seg in s.segs.iter_mut() {
            *seg = Segment::real_mode(0);
        }
        s.segs[sreg::CS as usize] = Segment::real_mode((CODE >> 4) as u16);
        s.eip = 0;
        s.regs[reg::ESP as usize] = 0xFFF0;
        m
    }

    /// Switches to CPL 3 with DPL-3 flat segments (CS RPL 3).
    #[allow(clippy::wrong_self_convention)] // "switch to", not a conversion
    pub fn to_ring3(&mut self) {
        let s = &mut self.cpu.state;
        for (n, seg) in s.segs.iter_mut().enumerate() {
            *seg = flat_segment(0x23, false, 3);
            if n == sreg::CS as usize {
                *seg = flat_segment(0x1B, true, 3);
            }
        }
        s.cpl = 3;
    }

    /// Enters V86 mode (EFLAGS.VM, CPL 3) with real-mode-style segments at 0 and the given
    /// IOPL. CS is placed so that CS:IP = CODE.
    #[allow(clippy::wrong_self_convention)] // "switch to", not a conversion
    pub fn to_v86(&mut self, iopl: u32) {
        let s = &mut self.cpu.state;
        s.eflags = (s.eflags & !flag::IOPL) | flag::VM | (iopl << 12);
        for seg in s.segs.iter_mut() {
            *seg = Segment::real_mode(0);
            seg.attrs |= 3 << attr::DPL_SHIFT;
        }
        s.segs[sreg::CS as usize] = Segment::real_mode((CODE >> 4) as u16);
        s.segs[sreg::CS as usize].attrs |= 3 << attr::DPL_SHIFT;
        s.eip = 0;
        s.cpl = 3;
        s.regs[reg::ESP as usize] = 0xFFF0;
    }

    /// Turns paging on with 0–8 MiB identity-mapped by user-writable 4 KiB pages.
    pub fn enable_paging(&mut self) {
        let mem = &mut self.cpu.mmu.phys;
        for t in 0..2 {
            let table = PAGE_TABLES + t * 0x1000;
            mem.write(
                PhysAddr(PAGE_DIR + t * 4),
                4,
                table | PTE_P | PTE_RW | PTE_US,
            );
            for n in 0..1024 {
                let page = (t * 1024 + n) << 12;
                mem.write(PhysAddr(table + n * 4), 4, page | PTE_P | PTE_RW | PTE_US);
            }
        }
        self.cpu.state.cr3 = PAGE_DIR;
        self.cpu.state.cr0 |= cr0::PG;
        self.cpu.sync_paging();
    }

    /// Sets the PTE flags (low 12 bits) of the page holding linear `addr` (paging on).
    pub fn set_pte_flags(&mut self, addr: u32, flags: u32) {
        let pte = PhysAddr(PAGE_TABLES + (addr >> 12) * 4);
        let old = self.cpu.mmu.phys.read(pte, 4);
        self.cpu.mmu.phys.write(pte, 4, (old & !0xFFF) | flags);
        self.cpu.mmu.invalidate_page(LinAddr(addr));
    }

    pub fn write_bytes(&mut self, phys: u32, bytes: &[u8]) {
        self.cpu.mmu.phys.write_bytes(PhysAddr(phys), bytes);
    }
    pub fn read_bytes(&mut self, phys: u32, len: usize) -> Vec<u8> {
        let mut out = vec![0; len];
        self.cpu.mmu.phys.read_bytes(PhysAddr(phys), &mut out);
        out
    }
    pub fn write32(&mut self, phys: u32, value: u32) {
        self.cpu.mmu.phys.write(PhysAddr(phys), 4, value);
    }
    pub fn read32(&mut self, phys: u32) -> u32 {
        self.cpu.mmu.phys.read(PhysAddr(phys), 4)
    }
    pub fn write16(&mut self, phys: u32, value: u32) {
        self.cpu.mmu.phys.write(PhysAddr(phys), 2, value);
    }
    pub fn read16(&mut self, phys: u32) -> u32 {
        self.cpu.mmu.phys.read(PhysAddr(phys), 2)
    }

    pub fn reg(&self, r: u8) -> u32 {
        self.cpu.state.regs[r as usize]
    }
    pub fn set(&mut self, r: u8, value: u32) {
        self.cpu.state.regs[r as usize] = value;
    }
    pub fn esp(&self) -> u32 {
        self.reg(reg::ESP)
    }

    /// Places `code` at CS:EIP and runs that one instruction as the execution loop does:
    /// EIP at the next instruction during the handler, restored on a fault.
    pub fn step(&mut self, code: &[u8]) -> Exec {
        let cs = self.cpu.state.segs[sreg::CS as usize];
        let eip = self.cpu.state.eip;
        let lin = cs.base.wrapping_add(eip);
        self.write_bytes(lin, code);
        let bitness = if cs.big() { 32 } else { 16 };
        let mut decoder = Decoder::with_ip(bitness, code, u64::from(eip), DecoderOptions::NONE);
        let instr = decoder.decode();
        assert!(!instr.is_invalid(), "test code {code:02X?} does not decode");
        assert_eq!(instr.len(), code.len(), "test code must be one instruction");
        let op = exec::lower(&instr).op;
        self.cpu.state.eip = eip.wrapping_add(instr.len() as u32);
        let result = (op.handler)(&mut self.cpu, &op);
        if result.is_err() {
            self.cpu.state.eip = eip;
        }
        self.cpu.end_block = false;
        result
    }

    /// Like [`Self::step`] but re-runs an instruction that moved EIP back to itself (a repeated
    /// string instruction continuing in chunks) until it completes or faults. Returns the
    /// result and how many handler calls it took.
    pub fn step_rep(&mut self, code: &[u8]) -> (Exec, u32) {
        let start = self.cpu.state.eip;
        let mut calls = 0;
        loop {
            calls += 1;
            let result = self.step(code);
            if result.is_err() || self.cpu.state.eip != start {
                return (result, calls);
            }
        }
    }

    /// Resets EIP to the code address (between independent test instructions).
    pub fn rewind(&mut self, eip: u32) {
        self.cpu.state.eip = eip;
    }
}

/// The arithmetic flags of `a - b` (`size` bytes) computed by the host CPU.
#[cfg(target_arch = "x86_64")]
pub fn host_cmp_flags(a: u32, b: u32, size: usize) -> u32 {
    use core::arch::asm;
    let flags: u64;
    // SAFETY: CMP on registers and a balanced PUSHFQ/POP touch only the named registers and
    // the stack slot PUSHFQ uses, which the asm block is allowed to use (no `nostack`).
    unsafe {
        match size {
            1 => {
                asm!("cmp {a:l}, {b:l}", "pushfq", "pop {f}", a = in(reg) a, b = in(reg) b, f = out(reg) flags)
            }
            2 => {
                asm!("cmp {a:x}, {b:x}", "pushfq", "pop {f}", a = in(reg) a, b = in(reg) b, f = out(reg) flags)
            }
            _ => {
                asm!("cmp {a:e}, {b:e}", "pushfq", "pop {f}", a = in(reg) a, b = in(reg) b, f = out(reg) flags)
            }
        }
    }
    flags as u32 & flag::ARITH
}

/// A small deterministic PRNG (xorshift32) for random operands.
pub struct Rng(pub u32);

impl Rng {
    pub fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
}

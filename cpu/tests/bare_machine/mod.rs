//! A CPU on bare RAM, put into real or protected mode directly: descriptor tables, page tables
//! and segment caches are written by the test, not by guest code, so a test needs none of the
//! mode-switching instructions to reach the mode it exercises.
//!
//! Physical layout used in protected mode:
//!
//! | address  | what |
//! | ---      | --- |
//! | `0x0000` | IDT, 256 gates |
//! | `0x0800` | GDT, [`GDT_ENTRIES`] descriptors (selectors below) |
//! | `0x0A00` | TSS (32-bit, or 16-bit for 16-bit setups) |
//! | `0x0B00` | LDT, 8 descriptors |
//! | `0x2000` | page directory |
//! | `0x3000` | page table of linear 0–4 MiB (identity) |
//! | `0x4000` | a spare page table, for tests that add mappings |

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use webx86_cpu::mmu::{Mmu, PhysAddr, PhysMemory};
use webx86_cpu::state::{attr, cr0, flag, reg, sreg, CpuState, Segment};
use webx86_cpu::{Cpu, NullPlatform};

pub const IDT: u32 = 0x0000;
pub const GDT: u32 = 0x0800;
pub const GDT_ENTRIES: u32 = 32;
pub const TSS: u32 = 0x0A00;
pub const LDT: u32 = 0x0B00;
pub const PAGE_DIR: u32 = 0x2000;
pub const PAGE_TABLE: u32 = 0x3000;
pub const SPARE_PAGE_TABLE: u32 = 0x4000;

/// GDT selectors of [`enter_protected_mode`].
pub mod sel {
    pub const CODE0: u16 = 0x08;
    pub const DATA0: u16 = 0x10;
    pub const CODE3: u16 = 0x18 | 3;
    pub const DATA3: u16 = 0x20 | 3;
    pub const TSS: u16 = 0x28;
    pub const LDT: u16 = 0x30;
    /// A call gate (DPL 3) to CODE0.
    pub const CALL_GATE: u16 = 0x38 | 3;
    /// A conforming code segment, DPL 0.
    pub const CONFORMING: u16 = 0x40;
    /// Entries from here on are free for tests.
    pub const FIRST_FREE: u16 = 0x48;
}

/// Descriptor access bytes (bits 40–47): P, DPL, S and type.
pub mod access {
    pub const CODE_READABLE: u8 = 0x9A;
    pub const CODE_CONFORMING: u8 = 0x9E;
    pub const DATA_WRITABLE: u8 = 0x92;
    pub const LDT: u8 = 0x82;
    pub const TSS16_BUSY: u8 = 0x83;
    pub const TSS32_BUSY: u8 = 0x8B;
    pub const CALL_GATE32: u8 = 0x8C;
    pub const INT_GATE16: u8 = 0x86;
    pub const INT_GATE32: u8 = 0x8E;
    /// DPL 3 (or into an access byte).
    pub const DPL3: u8 = 0x60;
}

/// Descriptor flags nibble (bits 52–55).
pub mod dflags {
    pub const DB: u8 = 0x4;
    pub const G: u8 = 0x8;
}

/// Page-table entry bits.
pub mod pte {
    pub const P: u32 = 1 << 0;
    pub const RW: u32 = 1 << 1;
    pub const US: u32 = 1 << 2;
    pub const PS: u32 = 1 << 7;
}

/// A CPU in its reset state over `ram` bytes of zeroed RAM, with nothing on its ports.
pub fn new_cpu(ram: u32) -> Cpu {
    let mut cpu = Cpu::new(Mmu::new(PhysMemory::new(ram)), Box::new(NullPlatform));
    cpu.reset();
    cpu
}

pub fn poke(cpu: &mut Cpu, addr: u32, bytes: &[u8]) {
    cpu.mmu.phys.write_bytes(PhysAddr(addr), bytes);
}

pub fn poke32(cpu: &mut Cpu, addr: u32, value: u32) {
    poke(cpu, addr, &value.to_le_bytes());
}

pub fn poke64(cpu: &mut Cpu, addr: u32, value: u64) {
    poke(cpu, addr, &value.to_le_bytes());
}

/// A segment descriptor (SDM vol. 3A §3.4.5): `limit` is the raw 20-bit field.
pub fn descriptor(base: u32, limit: u32, access: u8, flags: u8) -> u64 {
    let (base, limit) = (u64::from(base), u64::from(limit));
    (limit & 0xFFFF)
        | (base & 0xFF_FFFF) << 16
        | u64::from(access) << 40
        | (limit >> 16 & 0xF) << 48
        | u64::from(flags & 0xF) << 52
        | (base >> 24) << 56
}

/// A gate descriptor (call, interrupt or trap gate; SDM vol. 3A §5.8.3, §6.11).
pub fn gate(selector: u16, offset: u32, access: u8) -> u64 {
    let offset = u64::from(offset);
    (offset & 0xFFFF) | u64::from(selector) << 16 | u64::from(access) << 40 | (offset >> 16) << 48
}

/// The hidden part a segment register holds after loading `selector` with descriptor `desc`.
pub fn cache_of(selector: u16, desc: u64) -> Segment {
    let high = (desc >> 32) as u32;
    let raw_limit = (desc & 0xFFFF) as u32 | (high & 0xF_0000);
    let limit = if high & attr::G != 0 {
        raw_limit << 12 | 0xFFF
    } else {
        raw_limit
    };
    let mut seg = Segment {
        selector: u32::from(selector),
        base: ((desc >> 16) & 0xFF_FFFF) as u32 | (high & 0xFF00_0000),
        limit,
        attrs: high & 0x00F0_FF00,
        ..Segment::default()
    };
    seg.refresh_checks(selector & !3 != 0);
    seg
}

/// Real mode at `cs:ip` with the stack at `ss:sp`; the IVT (at 0) points every vector at
/// `0000:fault_handler` when `fault_handler` is given.
pub fn enter_real_mode(
    cpu: &mut Cpu,
    cs: u16,
    ip: u16,
    ss: u16,
    sp: u16,
    fault_handler: Option<u16>,
) {
    cpu.reset();
    if let Some(handler) = fault_handler {
        for vector in 0..256 {
            poke32(cpu, vector * 4, u32::from(handler));
        }
    }
    let s = &mut cpu.state;
    s.segs[sreg::CS as usize] = Segment::real_mode(cs);
    s.segs[sreg::SS as usize] = Segment::real_mode(ss);
    s.eip = u32::from(ip);
    s.regs[reg::ESP as usize] = u32::from(sp);
    s.idtr.base = 0;
    s.idtr.limit = 0x3FF;
}

/// What [`enter_protected_mode`] sets up.
#[derive(Clone, Copy, Debug)]
pub struct ProtectedSetup {
    /// 32-bit code and stack segments (else 16-bit ones).
    pub code32: bool,
    /// Base of the code and data segments.
    pub base: u32,
    /// Raw 20-bit limit field of the code and data segments (page granular when `code32`).
    pub limit: u32,
    /// CR0.PG with the page directory at [`PAGE_DIR`] identity-mapping linear 0–4 MiB.
    pub paging: bool,
    /// Start at CPL 3 (ring-3 segments) rather than CPL 0.
    pub ring3: bool,
    /// Offset of every IDT gate's handler in the code segment.
    pub fault_handler: u32,
    /// Ring-0 stack pointer in the TSS (and the initial ESP).
    pub stack_top: u32,
}

/// Writes the GDT, IDT, TSS, LDT and (with paging) page tables of `setup` into RAM and puts the
/// CPU into protected mode at `eip`, as if it had loaded them all itself.
pub fn enter_protected_mode(cpu: &mut Cpu, setup: &ProtectedSetup, eip: u32) {
    cpu.reset();
    let size = if setup.code32 {
        dflags::DB | dflags::G
    } else {
        0
    };
    let code0 = descriptor(setup.base, setup.limit, access::CODE_READABLE, size);
    let data0 = descriptor(setup.base, setup.limit, access::DATA_WRITABLE, size);
    let code3 = descriptor(
        setup.base,
        setup.limit,
        access::CODE_READABLE | access::DPL3,
        size,
    );
    let data3 = descriptor(
        setup.base,
        setup.limit,
        access::DATA_WRITABLE | access::DPL3,
        size,
    );
    let (tss_access, tss_limit) = if setup.code32 {
        (access::TSS32_BUSY, 0x67)
    } else {
        (access::TSS16_BUSY, 0x2B)
    };
    let tss = descriptor(TSS, tss_limit, tss_access, 0);
    let ldt = descriptor(LDT, 8 * 8 - 1, access::LDT, 0);
    let gdt = [
        0,
        code0,
        data0,
        code3,
        data3,
        tss,
        ldt,
        gate(
            sel::CODE0,
            setup.fault_handler,
            access::CALL_GATE32 | access::DPL3,
        ),
        descriptor(setup.base, setup.limit, access::CODE_CONFORMING, size),
    ];
    for i in 0..GDT_ENTRIES {
        let desc = gdt.get(i as usize).copied().unwrap_or(0);
        poke64(cpu, GDT + 8 * i, desc);
    }
    for i in 0..8 {
        poke64(cpu, LDT + 8 * i, if i == 1 { data3 } else { 0 });
    }
    let gate_access = if setup.code32 {
        access::INT_GATE32
    } else {
        access::INT_GATE16
    };
    for vector in 0..256 {
        let g = gate(sel::CODE0, setup.fault_handler, gate_access | access::DPL3);
        poke64(cpu, IDT + 8 * vector, g);
    }
    if setup.code32 {
        poke32(cpu, TSS + 4, setup.stack_top); // ESP0
        poke32(cpu, TSS + 8, u32::from(sel::DATA0)); // SS0
    } else {
        poke(cpu, TSS + 2, &(setup.stack_top as u16).to_le_bytes()); // SP0
        poke(cpu, TSS + 4, &sel::DATA0.to_le_bytes()); // SS0
    }
    if setup.paging {
        poke32(cpu, PAGE_DIR, PAGE_TABLE | pte::P | pte::RW | pte::US);
        for page in 0..1024 {
            poke32(
                cpu,
                PAGE_TABLE + 4 * page,
                page << 12 | pte::P | pte::RW | pte::US,
            );
        }
    }

    let (code, data, cpl) = if setup.ring3 {
        ((sel::CODE3, code3), (sel::DATA3, data3), 3)
    } else {
        ((sel::CODE0, code0), (sel::DATA0, data0), 0)
    };
    let s: &mut CpuState = &mut cpu.state;
    s.cr0 = cr0::PE | cr0::ET | if setup.paging { cr0::PG } else { 0 };
    s.cr3 = PAGE_DIR;
    s.gdtr.base = GDT;
    s.gdtr.limit = GDT_ENTRIES * 8 - 1;
    s.idtr.base = IDT;
    s.idtr.limit = 256 * 8 - 1;
    s.tr = cache_of(sel::TSS, tss);
    s.ldtr = cache_of(sel::LDT, ldt);
    for seg in [sreg::ES, sreg::SS, sreg::DS, sreg::FS, sreg::GS] {
        s.segs[seg as usize] = cache_of(data.0, data.1);
    }
    s.segs[sreg::CS as usize] = cache_of(code.0, code.1);
    s.cpl = cpl;
    s.eflags = flag::FIXED;
    s.eip = eip;
    s.regs[reg::ESP as usize] = setup.stack_top;
    cpu.sync_paging();
    cpu.mmu.flush_all();
}

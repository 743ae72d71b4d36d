//! Page tables written by the test.

use webx86_cpu::mmu::PhysAddr;
use webx86_cpu::Cpu;

/// Page-table entry bits.
pub mod pte {
    pub const P: u32 = 1 << 0;
    pub const RW: u32 = 1 << 1;
    pub const US: u32 = 1 << 2;
    pub const PS: u32 = 1 << 7;
}

/// Identity-maps linear 0 to `tables` × 4 MiB with present, writable, user 4 KiB pages: the
/// page directory at `dir`, its page tables at `first_table`, `first_table + 0x1000`, ...
pub fn identity_map(cpu: &mut Cpu, dir: u32, first_table: u32, tables: u32) {
    let mem = &mut cpu.mmu.phys;
    let flags = pte::P | pte::RW | pte::US;
    for t in 0..tables {
        let table = first_table + t * 0x1000;
        mem.write(PhysAddr(dir + t * 4), 4, table | flags);
        for n in 0..1024 {
            mem.write(PhysAddr(table + n * 4), 4, (t * 1024 + n) << 12 | flags);
        }
    }
}

//! Linear → physical translation: the i386 two-level page walk behind a software TLB.
//! SDM vol. 3A §4.3 (32-bit paging), §4.6 (access rights), §4.7 (page-fault error code),
//! §4.8 (accessed and dirty flags), §4.10 (TLBs).

use crate::phys::{PageKind, PhysMemory, PAGE_SIZE};
use crate::tlb::{Tlb, NO_STORE, NO_TAG};
use crate::{LinAddr, PhysAddr};

const PTE_P: u32 = 1 << 0;
const PTE_RW: u32 = 1 << 1;
const PTE_US: u32 = 1 << 2;
const PTE_A: u32 = 1 << 5;
const PTE_D: u32 = 1 << 6;
const PDE_PS: u32 = 1 << 7;
const PTE_G: u32 = 1 << 8;
/// Bits 21:13 of a 4 MiB PDE are reserved without PSE-36 (which we do not advertise).
const PDE_4M_RESERVED: u32 = 0x003F_E000;

/// Page-fault error code bits (SDM vol. 3A §4.7).
const PF_PRESENT: u32 = 1 << 0;
const PF_WRITE: u32 = 1 << 1;
const PF_USER: u32 = 1 << 2;
const PF_RESERVED: u32 = 1 << 3;

/// The paging controls, copied from CR0, CR3 and CR4 whenever the CPU changes them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PagingConfig {
    /// CR0.PG.
    pub enabled: bool,
    /// CR0.WP: supervisor writes honour read-only pages.
    pub write_protect: bool,
    /// CR4.PSE: 4 MiB pages.
    pub pse: bool,
    /// CR4.PGE: global pages survive CR3 loads.
    pub pge: bool,
    /// CR3: page directory base (bits 31:12).
    pub cr3: u32,
}

/// The kind of a memory access, for permission checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    pub write: bool,
    /// A CPL 3 access (descriptor-table and TSS accesses are supervisor even at CPL 3).
    pub user: bool,
}

impl Access {
    pub const fn read(user: bool) -> Self {
        Self { write: false, user }
    }
    pub const fn write(user: bool) -> Self {
        Self { write: true, user }
    }
    /// Index of this kind's tag in a TLB entry.
    #[inline(always)]
    pub const fn index(self) -> usize {
        self.write as usize | ((self.user as usize) << 1)
    }
}

/// A page fault: CR2 and the error code to push.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageFault {
    pub addr: LinAddr,
    pub error_code: u32,
}

/// Physical memory with the paging unit in front of it.
pub struct Mmu {
    pub phys: PhysMemory,
    config: PagingConfig,
    /// `!(1 << 20)` while the A20 gate is closed.
    a20_mask: u32,
    tlb: Tlb,
    /// Bumped whenever cached translations may have changed (any TLB flush), so that caches
    /// keyed by linear address elsewhere (the CPU's block lookup) know to revalidate.
    generation: u32,
}

impl Mmu {
    pub fn new(phys: PhysMemory) -> Self {
        Self {
            phys,
            config: PagingConfig::default(),
            a20_mask: u32::MAX,
            tlb: Tlb::new(),
            generation: 0,
        }
    }

    /// Changes whenever a TLB flush may have changed a linear → physical mapping.
    #[inline(always)]
    pub fn generation(&self) -> u32 {
        self.generation
    }

    pub fn config(&self) -> PagingConfig {
        self.config
    }

    /// Installs new paging controls and flushes what the change invalidates: a CR3 load
    /// keeps global entries; anything else flushes everything.
    pub fn set_config(&mut self, config: PagingConfig) {
        let old = self.config;
        self.config = config;
        if old == config {
            return;
        }
        self.generation = self.generation.wrapping_add(1);
        if (PagingConfig {
            cr3: old.cr3,
            ..config
        }) == old
        {
            self.tlb.flush_non_global();
        } else {
            self.tlb.flush_all();
        }
    }

    /// MOV CR3 with an unchanged value still flushes non-global entries.
    pub fn flush_non_global(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        self.tlb.flush_non_global();
    }

    pub fn flush_all(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        self.tlb.flush_all();
    }

    /// INVLPG.
    pub fn invalidate_page(&mut self, addr: LinAddr) {
        self.generation = self.generation.wrapping_add(1);
        self.tlb.flush_page(addr.page());
    }

    pub fn a20_enabled(&self) -> bool {
        self.a20_mask == u32::MAX
    }

    pub fn set_a20(&mut self, enabled: bool) {
        let mask = if enabled { u32::MAX } else { !(1 << 20) };
        if mask != self.a20_mask {
            self.a20_mask = mask;
            self.flush_all();
        }
    }

    /// Marks physical page `frame` as holding decoded code: writes to it now take the slow
    /// path and are reported by [`PhysMemory::take_written_code_pages`].
    pub fn mark_code_page(&mut self, frame: u32) {
        if !self.phys.is_code(frame) {
            self.phys.mark_code(frame);
            self.tlb.revoke_writes_to(frame);
        }
    }

    /// Translates `addr` for an access of kind `access`, walking the page tables on a TLB miss.
    #[inline]
    pub fn translate(&mut self, addr: LinAddr, access: Access) -> Result<PhysAddr, PageFault> {
        let vpn = addr.page();
        let entry = &self.tlb.entries[Tlb::slot(vpn)];
        if entry.tags[access.index()] == vpn {
            return Ok(PhysAddr((entry.frame << 12) | (addr.0 & (PAGE_SIZE - 1))));
        }
        self.walk(addr, access)
    }

    /// The page walk: checks, sets accessed/dirty bits and fills the TLB entry.
    fn walk(&mut self, addr: LinAddr, access: Access) -> Result<PhysAddr, PageFault> {
        let lin = addr.0;
        let fault = |bits: u32| PageFault {
            addr,
            error_code: bits
                | if access.write { PF_WRITE } else { 0 }
                | if access.user { PF_USER } else { 0 },
        };
        let (frame_addr, writable, user_ok, global, dirty) = if !self.config.enabled {
            (lin & !(PAGE_SIZE - 1), true, true, false, true)
        } else {
            let pde_addr = PhysAddr((self.config.cr3 & !0xFFF) | ((lin >> 22) << 2));
            let pde = self.phys.read(pde_addr, 4);
            if pde & PTE_P == 0 {
                return Err(fault(0));
            }
            if pde & PDE_PS != 0 && self.config.pse {
                if pde & PDE_4M_RESERVED != 0 {
                    return Err(fault(PF_PRESENT | PF_RESERVED));
                }
                let (rw, us) = (pde & PTE_RW != 0, pde & PTE_US != 0);
                self.check_rights(rw, us, access)
                    .map_err(|()| fault(PF_PRESENT))?;
                let new = pde | PTE_A | if access.write { PTE_D } else { 0 };
                if new != pde {
                    self.phys.write(pde_addr, 4, new);
                }
                let frame = (pde & 0xFFC0_0000) | (lin & 0x003F_F000);
                (
                    frame,
                    rw,
                    us,
                    pde & PTE_G != 0 && self.config.pge,
                    new & PTE_D != 0,
                )
            } else {
                let pte_addr = PhysAddr((pde & !0xFFF) | (((lin >> 12) & 0x3FF) << 2));
                let pte = self.phys.read(pte_addr, 4);
                if pte & PTE_P == 0 {
                    return Err(fault(0));
                }
                let rw = pde & pte & PTE_RW != 0;
                let us = pde & pte & PTE_US != 0;
                self.check_rights(rw, us, access)
                    .map_err(|()| fault(PF_PRESENT))?;
                if pde & PTE_A == 0 {
                    self.phys.write(pde_addr, 4, pde | PTE_A);
                }
                let new = pte | PTE_A | if access.write { PTE_D } else { 0 };
                if new != pte {
                    self.phys.write(pte_addr, 4, new);
                }
                (
                    pte & !0xFFF,
                    rw,
                    us,
                    pte & PTE_G != 0 && self.config.pge,
                    new & PTE_D != 0,
                )
            }
        };
        let phys_frame_addr = frame_addr & self.a20_mask;
        let frame = phys_frame_addr >> 12;
        let store_off = match self.phys.kind(frame) {
            PageKind::Ram(off) | PageKind::Rom(off) => off,
            PageKind::Mmio(_) | PageKind::Unmapped => NO_STORE,
        };
        let is_ram = matches!(self.phys.kind(frame), PageKind::Ram(_));
        let may_write = dirty && is_ram && !self.phys.is_code(frame);
        let sup_write = writable || !self.config.write_protect;
        let vpn = addr.page();
        let entry = &mut self.tlb.entries[Tlb::slot(vpn)];
        if entry.tags.iter().all(|&t| t != vpn) {
            entry.tags = [NO_TAG; 4];
        }
        entry.tags[0] = vpn;
        entry.tags[1] = if sup_write && may_write { vpn } else { NO_TAG };
        entry.tags[2] = if user_ok { vpn } else { NO_TAG };
        entry.tags[3] = if user_ok && writable && may_write {
            vpn
        } else {
            NO_TAG
        };
        entry.frame = frame;
        entry.store_off = store_off;
        entry.global = global;
        Ok(PhysAddr(phys_frame_addr | (lin & (PAGE_SIZE - 1))))
    }

    fn check_rights(&self, writable: bool, user_ok: bool, access: Access) -> Result<(), ()> {
        if access.user && !user_ok {
            return Err(());
        }
        if access.write && !writable && (access.user || self.config.write_protect) {
            return Err(());
        }
        Ok(())
    }

    /// The store offset of `addr` when a TLB entry lets `access` touch it directly.
    #[inline(always)]
    fn direct(&self, addr: u32, access: Access) -> Option<usize> {
        let vpn = addr >> 12;
        let entry = &self.tlb.entries[Tlb::slot(vpn)];
        if entry.tags[access.index()] == vpn && entry.store_off != NO_STORE {
            Some((entry.store_off + (addr & (PAGE_SIZE - 1))) as usize)
        } else {
            None
        }
    }

    /// The offset in [`PhysMemory::store`] of linear `addr` when accesses of kind `access` may
    /// touch its page directly (RAM or ROM for reads; for writes, dirty RAM holding no decoded
    /// code), translating the page first. `None` means the access must go through
    /// [`Self::read`] / [`Self::write`]. Bulk string operations use it to copy within a page.
    pub fn host_offset(&mut self, addr: u32, access: Access) -> Result<Option<usize>, PageFault> {
        self.translate(LinAddr(addr), access)?;
        Ok(self.direct(addr, access))
    }

    /// Reads `SIZE` (1, 2 or 4) bytes at a linear address.
    #[inline(always)]
    pub fn read<const SIZE: usize>(&mut self, addr: u32, user: bool) -> Result<u32, PageFault> {
        if addr & (PAGE_SIZE - 1) <= PAGE_SIZE - SIZE as u32 {
            if let Some(at) = self.direct(addr, Access::read(user)) {
                let store = self.phys.store();
                return Ok(match SIZE {
                    1 => u32::from(store[at]),
                    2 => u32::from(u16::from_le_bytes([store[at], store[at + 1]])),
                    _ => {
                        u32::from_le_bytes([store[at], store[at + 1], store[at + 2], store[at + 3]])
                    }
                });
            }
        }
        self.read_slow(addr, SIZE as u8, user)
    }

    /// Writes the low `SIZE` (1, 2 or 4) bytes of `value` at a linear address. An access that
    /// crosses a page is checked on both pages before any byte is written.
    #[inline(always)]
    pub fn write<const SIZE: usize>(
        &mut self,
        addr: u32,
        value: u32,
        user: bool,
    ) -> Result<(), PageFault> {
        if addr & (PAGE_SIZE - 1) <= PAGE_SIZE - SIZE as u32 {
            if let Some(at) = self.direct(addr, Access::write(user)) {
                let store = self.phys.store_mut();
                store[at..at + SIZE].copy_from_slice(&value.to_le_bytes()[..SIZE]);
                return Ok(());
            }
        }
        self.write_slow(addr, SIZE as u8, value, user)
    }

    #[cold]
    fn read_slow(&mut self, addr: u32, size: u8, user: bool) -> Result<u32, PageFault> {
        let access = Access::read(user);
        let first = self.translate(LinAddr(addr), access)?;
        let in_page = PAGE_SIZE - (addr & (PAGE_SIZE - 1));
        if u32::from(size) <= in_page {
            return Ok(self.phys.read(first, size));
        }
        let second = self.translate(LinAddr(addr.wrapping_add(in_page)), access)?;
        let mut value = 0;
        for i in 0..u32::from(size) {
            let phys = if i < in_page {
                PhysAddr(first.0 + i)
            } else {
                PhysAddr(second.0 + i - in_page)
            };
            value |= self.phys.read(phys, 1) << (8 * i);
        }
        Ok(value)
    }

    #[cold]
    fn write_slow(&mut self, addr: u32, size: u8, value: u32, user: bool) -> Result<(), PageFault> {
        let access = Access::write(user);
        let first = self.translate(LinAddr(addr), access)?;
        let in_page = PAGE_SIZE - (addr & (PAGE_SIZE - 1));
        if u32::from(size) <= in_page {
            self.phys.write(first, size, value);
            return Ok(());
        }
        let second = self.translate(LinAddr(addr.wrapping_add(in_page)), access)?;
        for i in 0..u32::from(size) {
            let phys = if i < in_page {
                PhysAddr(first.0 + i)
            } else {
                PhysAddr(second.0 + i - in_page)
            };
            self.phys.write(phys, 1, (value >> (8 * i)) & 0xFF);
        }
        Ok(())
    }

    /// Checks that a write of `size` bytes at `addr` would not fault, without writing.
    /// Used before multi-part stores (far pointers, stack frames) that must be all-or-nothing.
    pub fn probe_write(&mut self, addr: u32, size: u32, user: bool) -> Result<(), PageFault> {
        let last = addr.wrapping_add(size.max(1) - 1);
        self.translate(LinAddr(addr), Access::write(user))?;
        if last >> 12 != addr >> 12 {
            self.translate(LinAddr(last), Access::write(user))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paged() -> Mmu {
        let mut mmu = Mmu::new(PhysMemory::new(4 << 20));
        // Page directory at 0x1000, one page table at 0x2000 covering 0-4 MiB.
        mmu.phys
            .write(PhysAddr(0x1000), 4, 0x2000 | PTE_P | PTE_RW | PTE_US);
        // Linear 0x5000 → physical 0x9000, user read-only.
        mmu.phys
            .write(PhysAddr(0x2000 + 5 * 4), 4, 0x9000 | PTE_P | PTE_US);
        // Linear 0x6000 → physical 0xA000, supervisor read-write.
        mmu.phys
            .write(PhysAddr(0x2000 + 6 * 4), 4, 0xA000 | PTE_P | PTE_RW);
        mmu.set_config(PagingConfig {
            enabled: true,
            cr3: 0x1000,
            ..Default::default()
        });
        mmu
    }

    #[test]
    fn walk_sets_accessed_and_dirty() {
        let mut mmu = paged();
        mmu.phys.write(PhysAddr(0xA010), 4, 0x1234_5678);
        assert_eq!(mmu.read::<4>(0x6010, false), Ok(0x1234_5678));
        assert_eq!(mmu.phys.read(PhysAddr(0x2018), 4) & (PTE_A | PTE_D), PTE_A);
        assert_eq!(mmu.phys.read(PhysAddr(0x1000), 4) & PTE_A, PTE_A);
        mmu.write::<2>(0x6012, 0xBEEF, false).unwrap();
        assert_eq!(mmu.phys.read(PhysAddr(0x2018), 4) & PTE_D, PTE_D);
        assert_eq!(mmu.phys.read(PhysAddr(0xA010), 4), 0xBEEF_5678);
    }

    #[test]
    fn fault_error_codes() {
        let mut mmu = paged();
        fn pf<T>(addr: u32, error_code: u32) -> Result<T, PageFault> {
            Err(PageFault {
                addr: LinAddr(addr),
                error_code,
            })
        }
        assert_eq!(mmu.read::<1>(0x7000, false), pf(0x7000, 0));
        assert_eq!(
            mmu.write::<1>(0x7000, 0, true),
            pf(0x7000, PF_WRITE | PF_USER)
        );
        assert_eq!(
            mmu.read::<1>(0x6000, true),
            pf(0x6000, PF_PRESENT | PF_USER)
        );
        assert_eq!(
            mmu.write::<1>(0x5000, 0, true),
            pf(0x5000, PF_PRESENT | PF_WRITE | PF_USER)
        );
        // Without CR0.WP a supervisor write to a read-only page succeeds; with it, it faults.
        assert_eq!(mmu.write::<1>(0x5000, 1, false), Ok(()));
        let config = PagingConfig {
            write_protect: true,
            ..mmu.config()
        };
        mmu.set_config(config);
        assert_eq!(
            mmu.write::<1>(0x5000, 1, false),
            pf(0x5000, PF_PRESENT | PF_WRITE)
        );
        // A write crossing into a missing page writes nothing.
        mmu.phys.write(PhysAddr(0xAFFE), 2, 0);
        assert_eq!(
            mmu.write::<4>(0x6FFE, u32::MAX, false),
            pf(0x7000, PF_WRITE)
        );
        assert_eq!(mmu.phys.read(PhysAddr(0xAFFE), 2), 0);
    }

    #[test]
    fn tlb_keeps_stale_entries_until_invalidated() {
        let mut mmu = paged();
        assert!(mmu.read::<1>(0x6000, false).is_ok());
        mmu.phys.write(PhysAddr(0x2018), 4, 0);
        assert!(
            mmu.read::<1>(0x6000, false).is_ok(),
            "stale TLB entry still used"
        );
        mmu.invalidate_page(LinAddr(0x6000));
        assert!(mmu.read::<1>(0x6000, false).is_err());
    }

    #[test]
    fn global_pages_survive_cr3_reload() {
        let mut mmu = paged();
        mmu.phys
            .write(PhysAddr(0x2018), 4, 0xA000 | PTE_P | PTE_RW | PTE_G);
        let config = PagingConfig {
            pge: true,
            ..mmu.config()
        };
        mmu.set_config(config);
        assert!(mmu.read::<1>(0x6000, false).is_ok());
        assert!(mmu.read::<1>(0x5000, false).is_ok());
        mmu.phys.write(PhysAddr(0x2018), 4, 0);
        mmu.phys.write(PhysAddr(0x2014), 4, 0);
        mmu.flush_non_global();
        assert!(mmu.read::<1>(0x6000, false).is_ok());
        assert!(mmu.read::<1>(0x5000, false).is_err());
    }

    #[test]
    fn large_pages_and_a20() {
        let mut mmu = Mmu::new(PhysMemory::new(8 << 20));
        mmu.phys.write(
            PhysAddr(0x1000 + 4 * 4),
            4,
            0x0040_0000 | PTE_P | PTE_RW | PDE_PS,
        );
        mmu.phys.write(PhysAddr(0x0040_1234), 4, 77);
        mmu.set_config(PagingConfig {
            enabled: true,
            pse: true,
            cr3: 0x1000,
            ..Default::default()
        });
        assert_eq!(mmu.read::<4>(0x0100_1234, false), Ok(77));
        let mut real = Mmu::new(PhysMemory::new(2 << 20));
        real.phys.write(PhysAddr(0x10), 1, 9);
        real.set_a20(false);
        assert_eq!(real.read::<1>(0x0010_0010, false), Ok(9));
    }

    #[test]
    fn code_pages_take_the_slow_write_path() {
        let mut mmu = Mmu::new(PhysMemory::new(1 << 20));
        mmu.write::<1>(0x3000, 1, false).unwrap();
        mmu.mark_code_page(3);
        mmu.write::<1>(0x3001, 1, false).unwrap();
        assert_eq!(mmu.phys.take_written_code_pages(), vec![3]);
    }
}

//! Guest physical memory and the i386 paging unit.
//!
//! [`PhysMemory`] is the physical address space: one contiguous RAM allocation, ROM images and
//! MMIO windows behind the [`Mmio`] trait, the A20 gate and the per-page "holds decoded code" bits
//! that let the CPU notice self-modifying code. [`Mmu`] adds the two-level paging walk (4 KiB and
//! PSE 4 MiB pages, global pages, WP, U/S, accessed/dirty bits) and a software TLB in front of it.

mod addr;
mod mmu;
mod phys;
mod tlb;

pub use addr::{LinAddr, PhysAddr};
pub use mmu::{Access, Mmu, PageFault, PagingConfig};
pub use phys::{Mmio, PhysMemory, PAGE_SIZE};

//! The physical address space: RAM, ROM images and MMIO windows, page by page.

use crate::PhysAddr;

/// Bytes in a page frame.
pub const PAGE_SIZE: u32 = 4096;
const PAGES: usize = 1 << 20;

/// A memory-mapped device window. Offsets are relative to the window's base.
pub trait Mmio {
    /// Reads `size` (1, 2 or 4) bytes at `offset`.
    fn read(&mut self, offset: u32, size: u8) -> u32;
    /// Writes the low `size` (1, 2 or 4) bytes of `value` at `offset`.
    fn write(&mut self, offset: u32, size: u8, value: u32);
}

/// What a physical page frame is backed by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PageKind {
    /// No device decodes it: reads return all ones, writes are dropped.
    Unmapped,
    /// RAM at this byte offset of the backing store.
    Ram(u32),
    /// ROM at this byte offset of the backing store: writes are dropped.
    Rom(u32),
    /// The MMIO window with this index.
    Mmio(u16),
}

// Page map encoding: two tag bits and a 30-bit payload.
const TAG_SHIFT: u32 = 30;
const TAG_RAM: u32 = 0;
const TAG_ROM: u32 = 1;
const TAG_MMIO: u32 = 2;
const UNMAPPED: u32 = u32::MAX;

struct MmioWindow {
    base: u32,
    device: Box<dyn Mmio>,
}

/// Guest physical memory. RAM is one contiguous allocation that never moves (the JIT and the
/// TLB keep offsets into it); ROM images live after it in the same store.
pub struct PhysMemory {
    store: Vec<u8>,
    ram_size: u32,
    /// Per page frame: where it is backed (see the encoding above).
    page_map: Vec<u32>,
    mmio: Vec<MmioWindow>,
    /// One bit per page frame: the CPU has decoded code from it.
    code_pages: Vec<u64>,
    /// Code pages written since the CPU last asked, in write order.
    written_code_pages: Vec<u32>,
    /// An MMIO window was written since the CPU last asked (a device may have work: a virtio
    /// queue notification needs guest memory to act on, which only the CPU's owner can lend).
    mmio_written: bool,
    /// `written_code_pages` is not empty or `mmio_written` is set: one load for the CPU's
    /// check after every write and at every block end.
    attention: bool,
}

impl PhysMemory {
    /// Guest RAM of `ram_size` bytes (rounded down to whole pages) from physical address 0.
    pub fn new(ram_size: u32) -> Self {
        let ram_size = ram_size & !(PAGE_SIZE - 1);
        let mut page_map = vec![UNMAPPED; PAGES];
        for (page, entry) in page_map
            .iter_mut()
            .enumerate()
            .take((ram_size / PAGE_SIZE) as usize)
        {
            *entry = (TAG_RAM << TAG_SHIFT) | page as u32;
        }
        Self {
            store: vec![0; ram_size as usize],
            ram_size,
            page_map,
            mmio: Vec::new(),
            code_pages: vec![0; PAGES / 64],
            written_code_pages: Vec::new(),
            mmio_written: false,
            attention: false,
        }
    }

    /// Bytes of RAM from physical address 0.
    pub fn ram_size(&self) -> u32 {
        self.ram_size
    }

    /// Maps `image` read-only at `base` (page aligned; the length is rounded up to whole pages,
    /// padded with zeros). Pages it covers stop being RAM or MMIO.
    pub fn map_rom(&mut self, base: PhysAddr, image: &[u8]) {
        let start = self.store.len();
        let pages = image.len().div_ceil(PAGE_SIZE as usize);
        self.store.extend_from_slice(image);
        self.store.resize(start + pages * PAGE_SIZE as usize, 0);
        for i in 0..pages {
            let frame = (base.page() as usize + i) & (PAGES - 1);
            let store_page = (start / PAGE_SIZE as usize + i) as u32;
            self.page_map[frame] = (TAG_ROM << TAG_SHIFT) | store_page;
        }
    }

    /// Routes the pages of `[base, base + len)` to `device`.
    pub fn map_mmio(&mut self, base: PhysAddr, len: u32, device: Box<dyn Mmio>) {
        let index = self.mmio.len() as u32;
        self.mmio.push(MmioWindow {
            base: base.0,
            device,
        });
        let first = base.page() as usize;
        let count = len.div_ceil(PAGE_SIZE) as usize;
        for frame in first..(first + count).min(PAGES) {
            self.page_map[frame] = (TAG_MMIO << TAG_SHIFT) | index;
        }
    }

    pub(crate) fn kind(&self, frame: u32) -> PageKind {
        let entry = self.page_map[(frame as usize) & (PAGES - 1)];
        if entry == UNMAPPED {
            return PageKind::Unmapped;
        }
        let payload = entry & ((1 << TAG_SHIFT) - 1);
        match entry >> TAG_SHIFT {
            TAG_RAM => PageKind::Ram(payload * PAGE_SIZE),
            TAG_ROM => PageKind::Rom(payload * PAGE_SIZE),
            _ => PageKind::Mmio(payload as u16),
        }
    }

    /// The backing store that TLB host offsets index.
    #[inline(always)]
    pub fn store(&self) -> &[u8] {
        &self.store
    }

    /// The backing store, for writes through TLB entries known not to hold code.
    #[inline(always)]
    pub fn store_mut(&mut self) -> &mut [u8] {
        &mut self.store
    }

    /// Reads `size` (1, 2 or 4) bytes that do not cross a page boundary.
    pub fn read(&mut self, addr: PhysAddr, size: u8) -> u32 {
        match self.kind(addr.page()) {
            PageKind::Ram(off) | PageKind::Rom(off) => {
                let at = (off + (addr.0 & (PAGE_SIZE - 1))) as usize;
                read_le(&self.store[at..at + size as usize])
            }
            PageKind::Mmio(index) => {
                let window = &mut self.mmio[index as usize];
                window.device.read(addr.0.wrapping_sub(window.base), size)
            }
            PageKind::Unmapped => u32::MAX >> (32 - 8 * size as u32),
        }
    }

    /// Writes `size` (1, 2 or 4) bytes that do not cross a page boundary. Writes to ROM or to
    /// nothing are dropped; a write to a page holding decoded code is recorded for the CPU.
    pub fn write(&mut self, addr: PhysAddr, size: u8, value: u32) {
        match self.kind(addr.page()) {
            PageKind::Ram(off) => {
                self.note_write(addr.page());
                let at = (off + (addr.0 & (PAGE_SIZE - 1))) as usize;
                write_le(&mut self.store[at..at + size as usize], value);
            }
            PageKind::Mmio(index) => {
                let window = &mut self.mmio[index as usize];
                window
                    .device
                    .write(addr.0.wrapping_sub(window.base), size, value);
                self.mmio_written = true;
                self.attention = true;
            }
            PageKind::Rom(_) | PageKind::Unmapped => {}
        }
    }

    /// Reads bytes for DMA or loaders; crosses pages freely. RAM and ROM pages are copied a
    /// page at a time; MMIO and unmapped pages go byte by byte through [`Self::read`].
    pub fn read_bytes(&mut self, addr: PhysAddr, out: &mut [u8]) {
        let mut done = 0;
        while done < out.len() {
            let at = addr.0.wrapping_add(done as u32);
            let in_page = (PAGE_SIZE - (at & (PAGE_SIZE - 1))) as usize;
            let n = in_page.min(out.len() - done);
            let chunk = &mut out[done..done + n];
            match self.kind(at / PAGE_SIZE) {
                PageKind::Ram(off) | PageKind::Rom(off) => {
                    let from = (off + (at & (PAGE_SIZE - 1))) as usize;
                    chunk.copy_from_slice(&self.store[from..from + n]);
                }
                _ => {
                    for (i, byte) in chunk.iter_mut().enumerate() {
                        *byte = self.read(PhysAddr(at.wrapping_add(i as u32)), 1) as u8;
                    }
                }
            }
            done += n;
        }
    }

    /// Writes bytes for DMA or loaders; crosses pages freely. RAM pages are copied a page at a
    /// time (recording writes to code pages); ROM and unmapped pages drop the bytes; MMIO pages
    /// take them byte by byte through [`Self::write`].
    pub fn write_bytes(&mut self, addr: PhysAddr, data: &[u8]) {
        let mut done = 0;
        while done < data.len() {
            let at = addr.0.wrapping_add(done as u32);
            let in_page = (PAGE_SIZE - (at & (PAGE_SIZE - 1))) as usize;
            let n = in_page.min(data.len() - done);
            let chunk = &data[done..done + n];
            match self.kind(at / PAGE_SIZE) {
                PageKind::Ram(off) => {
                    self.note_write(at / PAGE_SIZE);
                    let to = (off + (at & (PAGE_SIZE - 1))) as usize;
                    self.store[to..to + n].copy_from_slice(chunk);
                }
                PageKind::Mmio(_) => {
                    for (i, byte) in chunk.iter().enumerate() {
                        self.write(PhysAddr(at.wrapping_add(i as u32)), 1, u32::from(*byte));
                    }
                }
                PageKind::Rom(_) | PageKind::Unmapped => {}
            }
            done += n;
        }
    }

    /// Records that decoded code was taken from page `frame`.
    pub fn mark_code(&mut self, frame: u32) {
        let frame = frame as usize & (PAGES - 1);
        self.code_pages[frame / 64] |= 1 << (frame % 64);
    }

    /// Whether code was decoded from page `frame` since it was last written.
    #[inline]
    pub fn is_code(&self, frame: u32) -> bool {
        let frame = frame as usize & (PAGES - 1);
        self.code_pages[frame / 64] & (1 << (frame % 64)) != 0
    }

    #[inline]
    fn note_write(&mut self, frame: u32) {
        if self.is_code(frame) {
            let frame = frame as usize & (PAGES - 1);
            self.code_pages[frame / 64] &= !(1 << (frame % 64));
            self.written_code_pages.push(frame as u32);
            self.attention = true;
        }
    }

    /// Whether a code page or an MMIO window was written since the CPU last took them
    /// ([`Self::take_written_code_pages`], [`Self::take_mmio_written`]).
    #[inline(always)]
    pub fn attention(&self) -> bool {
        self.attention
    }

    /// Returns and clears "an MMIO window was written".
    pub fn take_mmio_written(&mut self) -> bool {
        let written = core::mem::take(&mut self.mmio_written);
        self.attention = !self.written_code_pages.is_empty();
        written
    }

    /// Whether any code page was written since the last [`Self::take_written_code_pages`].
    #[inline(always)]
    pub fn code_written(&self) -> bool {
        !self.written_code_pages.is_empty()
    }

    /// Code pages written since the last call; their code bits are already clear.
    pub fn take_written_code_pages(&mut self) -> Vec<u32> {
        self.attention = self.mmio_written;
        core::mem::take(&mut self.written_code_pages)
    }
}

fn read_le(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .rev()
        .fold(0, |acc, b| (acc << 8) | u32::from(*b))
}

fn write_le(bytes: &mut [u8], value: u32) {
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = (value >> (8 * i)) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo(u32);
    impl Mmio for Echo {
        fn read(&mut self, offset: u32, _size: u8) -> u32 {
            offset + self.0
        }
        fn write(&mut self, _offset: u32, _size: u8, value: u32) {
            self.0 = value;
        }
    }

    #[test]
    fn ram_rom_mmio_and_unmapped() {
        let mut mem = PhysMemory::new(1 << 20);
        mem.write(PhysAddr(0x1234), 4, 0xdead_beef);
        assert_eq!(mem.read(PhysAddr(0x1234), 4), 0xdead_beef);
        assert_eq!(mem.read(PhysAddr(0x1235), 2), 0xadbe);
        mem.map_rom(PhysAddr(0xF0000), &[0xAA; 0x10000]);
        mem.write(PhysAddr(0xF0000), 1, 0x55);
        assert_eq!(mem.read(PhysAddr(0xF0000), 1), 0xAA, "ROM ignores writes");
        assert_eq!(mem.read(PhysAddr(0x0020_0000), 4), 0xFFFF_FFFF);
        assert_eq!(mem.read(PhysAddr(0x0020_0000), 1), 0xFF);
        mem.map_mmio(PhysAddr(0xFEC0_0000), 0x1000, Box::new(Echo(0)));
        assert!(
            !mem.attention(),
            "RAM and ROM writes to non-code pages need nothing"
        );
        mem.write(PhysAddr(0xFEC0_0010), 4, 7);
        assert!(mem.attention(), "an MMIO write is reported");
        assert_eq!(mem.read(PhysAddr(0xFEC0_0004), 4), 11);
        mem.mark_code(1);
        mem.write(PhysAddr(0x1000), 1, 0);
        assert!(mem.take_mmio_written());
        assert!(mem.attention(), "the code write is still pending");
        assert_eq!(mem.take_written_code_pages(), vec![1]);
        assert!(!mem.attention() && !mem.take_mmio_written());
    }

    #[test]
    fn bulk_copies_cross_ram_rom_mmio_and_holes() {
        let mut mem = PhysMemory::new(0x3000);
        mem.map_rom(PhysAddr(0x2000), &[0xAA; 0x1000]);
        mem.map_mmio(PhysAddr(0x4000), 0x1000, Box::new(Echo(0)));
        mem.mark_code(1);
        let data: Vec<u8> = (0..0x1800u32).map(|i| i as u8).collect();
        mem.write_bytes(PhysAddr(0xC00), &data);
        assert_eq!(mem.take_written_code_pages(), vec![1]);
        let mut back = vec![0u8; 0x1800];
        mem.read_bytes(PhysAddr(0xC00), &mut back);
        assert_eq!(&back[..0x1400], &data[..0x1400], "RAM pages 0 and 1");
        assert!(
            back[0x1400..].iter().all(|&b| b == 0xAA),
            "ROM page kept its bytes"
        );
        let mut hole = [0u8; 4];
        mem.read_bytes(PhysAddr(0x3FFE), &mut hole);
        assert_eq!(hole[..2], [0xFF, 0xFF], "unmapped");
        assert_eq!(hole[2..], [0, 1], "MMIO echoes its offset");
        mem.write_bytes(PhysAddr(0x4000), &[7]);
        assert_eq!(mem.read(PhysAddr(0x4000), 1), 7, "MMIO took the byte");
        let mut wrap = [0u8; 2];
        mem.read_bytes(PhysAddr(0xFFFF_FFFF), &mut wrap);
        assert_eq!(wrap, [0xFF, 0], "wraps to address 0");
    }

    #[test]
    fn writes_to_code_pages_are_reported_once() {
        let mut mem = PhysMemory::new(1 << 20);
        mem.mark_code(3);
        mem.write(PhysAddr(0x2FFF), 1, 1);
        assert!(!mem.code_written());
        mem.write(PhysAddr(0x3000), 1, 1);
        mem.write(PhysAddr(0x3001), 1, 1);
        assert_eq!(mem.take_written_code_pages(), vec![3]);
        assert!(!mem.is_code(3));
    }
}

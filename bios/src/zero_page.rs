//! `struct boot_params`, the "zero page" (`Documentation/arch/x86/zero-page.rst`): a 4 KiB page
//! the boot loader fills and hands to the kernel in ESI. webx86 fills only what a boot loader
//! must: the memory map, the copied setup header with the loader's fields, and the memory sizes.
//! Everything else stays zero, which also tells the kernel there is no VGA text screen
//! (`screen_info` with zero rows and columns), so it falls back to the dummy console and the
//! serial console named on the command line.

use crate::setup_header::offset as hdr;

/// Size of `boot_params`.
pub const ZERO_PAGE_SIZE: usize = 4096;
/// Slots in `boot_params.e820_table`.
pub const E820_MAX_ENTRIES: usize = 128;

/// Offsets inside `boot_params` (zero-page.rst).
mod offset {
    /// `screen_info.ext_mem_k`: KiB of memory above 1 MiB, 16-bit (what INT 15h AH=88h says).
    pub const EXT_MEM_K: usize = 0x002;
    /// KiB of memory above 1 MiB, 32-bit (what INT 15h AX=E801h says).
    pub const ALT_MEM_K: usize = 0x1E0;
    pub const E820_ENTRIES: usize = 0x1E8;
    /// Must stay zero: a nonzero sentinel tells the kernel the loader did not clear the page.
    pub const SENTINEL: usize = 0x1EF;
    pub const E820_TABLE: usize = 0x2D0;
}

/// End of conventional memory: the 640 KiB below the legacy VGA/ROM hole.
pub const CONVENTIONAL_END: u32 = 0xA_0000;
/// Start of extended memory.
pub const EXTENDED_START: u32 = 0x10_0000;

/// The type of an e820 range, as INT 15h AX=E820h reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum E820Kind {
    Ram = 1,
    Reserved = 2,
}

/// One entry of the e820 memory map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct E820Entry {
    pub addr: u64,
    pub size: u64,
    pub kind: E820Kind,
}

/// The memory map of a PC with `ram_size` bytes of RAM from address 0 (at least 1 MiB): RAM
/// below 640 KiB, the legacy hole (VGA window, option and BIOS ROMs) reserved, RAM from 1 MiB to
/// the top.
pub fn e820_map(ram_size: u32) -> Vec<E820Entry> {
    let mut map = vec![
        E820Entry {
            addr: 0,
            size: u64::from(CONVENTIONAL_END),
            kind: E820Kind::Ram,
        },
        E820Entry {
            addr: u64::from(CONVENTIONAL_END),
            size: u64::from(EXTENDED_START - CONVENTIONAL_END),
            kind: E820Kind::Reserved,
        },
    ];
    if ram_size > EXTENDED_START {
        map.push(E820Entry {
            addr: u64::from(EXTENDED_START),
            size: u64::from(ram_size - EXTENDED_START),
            kind: E820Kind::Ram,
        });
    }
    map
}

/// A `boot_params` page under construction.
pub struct ZeroPage {
    pub bytes: Box<[u8; ZERO_PAGE_SIZE]>,
}

impl ZeroPage {
    /// A zeroed page holding a copy of the setup header from `kernel_image` (the bzImage file)
    /// at 0x1F1, `header_len` bytes long, as the 32-bit boot protocol asks.
    pub fn with_header(kernel_image: &[u8], header_len: usize) -> Self {
        let mut bytes = Box::new([0u8; ZERO_PAGE_SIZE]);
        let start = hdr::SETUP_SECTS;
        let end = (start + header_len)
            .min(kernel_image.len())
            .min(offset::E820_TABLE);
        bytes[start..end].copy_from_slice(&kernel_image[start..end]);
        Self { bytes }
    }

    pub fn put_u8(&mut self, at: usize, value: u8) {
        self.bytes[at] = value;
    }

    pub fn put_u16(&mut self, at: usize, value: u16) {
        self.bytes[at..at + 2].copy_from_slice(&value.to_le_bytes());
    }

    pub fn put_u32(&mut self, at: usize, value: u32) {
        self.bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
    }

    pub fn u32_at(&self, at: usize) -> u32 {
        u32::from_le_bytes(self.bytes[at..at + 4].try_into().unwrap_or_default())
    }

    /// Stores the memory map (at most [`E820_MAX_ENTRIES`] entries are kept) and the legacy
    /// memory-size fields derived from it.
    pub fn set_memory(&mut self, map: &[E820Entry]) {
        let entries = &map[..map.len().min(E820_MAX_ENTRIES)];
        for (i, entry) in entries.iter().enumerate() {
            let at = offset::E820_TABLE + 20 * i;
            self.bytes[at..at + 8].copy_from_slice(&entry.addr.to_le_bytes());
            self.bytes[at + 8..at + 16].copy_from_slice(&entry.size.to_le_bytes());
            self.put_u32(at + 16, entry.kind as u32);
        }
        self.put_u8(offset::E820_ENTRIES, entries.len() as u8);
        let extended_kib = entries
            .iter()
            .find(|e| e.kind == E820Kind::Ram && e.addr == u64::from(EXTENDED_START))
            .map_or(0, |e| e.size / 1024);
        self.put_u16(offset::EXT_MEM_K, extended_kib.min(0xFFFF) as u16);
        self.put_u32(
            offset::ALT_MEM_K,
            extended_kib.min(u64::from(u32::MAX)) as u32,
        );
    }

    /// Reads the e820 table back (for tests and diagnostics).
    pub fn memory_map(&self) -> Vec<E820Entry> {
        let count = usize::from(self.bytes[offset::E820_ENTRIES]).min(E820_MAX_ENTRIES);
        (0..count)
            .map(|i| {
                let at = offset::E820_TABLE + 20 * i;
                let u64_at = |a: usize| {
                    u64::from_le_bytes(self.bytes[a..a + 8].try_into().unwrap_or_default())
                };
                E820Entry {
                    addr: u64_at(at),
                    size: u64_at(at + 8),
                    kind: if self.u32_at(at + 16) == 1 {
                        E820Kind::Ram
                    } else {
                        E820Kind::Reserved
                    },
                }
            })
            .collect()
    }

    /// Whether the sentinel byte is clear, as the kernel expects of a loader that zeroed the
    /// page (a nonzero sentinel makes it discard fields it cannot trust).
    pub fn sentinel_clear(&self) -> bool {
        self.bytes[offset::SENTINEL] == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup_header::tests::synthetic_bzimage;

    #[test]
    fn e820_for_128_mib() {
        let map = e820_map(128 << 20);
        assert_eq!(
            map,
            vec![
                E820Entry {
                    addr: 0,
                    size: 0xA_0000,
                    kind: E820Kind::Ram
                },
                E820Entry {
                    addr: 0xA_0000,
                    size: 0x6_0000,
                    kind: E820Kind::Reserved
                },
                E820Entry {
                    addr: 0x10_0000,
                    size: (128 << 20) - 0x10_0000,
                    kind: E820Kind::Ram
                },
            ]
        );
    }

    #[test]
    fn e820_table_layout_in_the_page() {
        let image = synthetic_bzimage(4, &[0; 16]);
        let mut page = ZeroPage::with_header(&image, 0x202 + 0x6A - 0x1F1);
        page.set_memory(&e820_map(0xE000_0000));
        assert_eq!(page.bytes[0x1E8], 3);
        // Third entry: addr 1 MiB, size 3.5 GiB - 1 MiB, type 1, little-endian at 0x2D0 + 40.
        let third = &page.bytes[0x2D0 + 40..0x2D0 + 60];
        assert_eq!(&third[0..8], &0x10_0000u64.to_le_bytes());
        assert_eq!(&third[8..16], &(0xE000_0000u64 - 0x10_0000).to_le_bytes());
        assert_eq!(&third[16..20], &1u32.to_le_bytes());
        assert_eq!(page.memory_map(), e820_map(0xE000_0000));
        // Legacy sizes: ext_mem_k saturates at 16 bits, alt_mem_k holds the whole size.
        assert_eq!(&page.bytes[2..4], &0xFFFFu16.to_le_bytes());
        assert_eq!(page.u32_at(0x1E0), (0xE000_0000 - 0x10_0000) / 1024);
        assert!(page.sentinel_clear());
    }

    #[test]
    fn header_is_copied_and_the_rest_is_zero() {
        let image = synthetic_bzimage(4, &[0xAB; 64]);
        let len = 0x202 + 0x6A - 0x1F1;
        let page = ZeroPage::with_header(&image, len);
        assert_eq!(&page.bytes[0x1F1..0x1F1 + len], &image[0x1F1..0x1F1 + len]);
        assert!(page.bytes[..0x1F1].iter().all(|&b| b == 0));
        assert!(page.bytes[0x1F1 + len..].iter().all(|&b| b == 0));
    }
}

//! The kernel proper inside a bzImage, decompressed on the host.
//!
//! A bzImage's protected-mode code is a small decompressor plus the compressed kernel (the
//! "payload", located by the header's `payload_offset`/`payload_length`, protocol 2.08+): an
//! ELF `vmlinux`, with the relocation table of a relocatable kernel appended. Run in the guest,
//! the decompressor unpacks it at `pref_address` (LOAD_PHYSICAL_ADDR), copies each PT_LOAD
//! segment to its physical address, applies relocations only if it moved the kernel elsewhere,
//! and jumps to the ELF entry (`startup_32`, which takes `boot_params` in ESI like the 32-bit
//! boot protocol's entry, and clears its own BSS). Interpreted, that is most of a boot's
//! instructions (about 2.3 G of 2.7 G for Debian's 686 kernel). Doing the same on the host
//! leaves the guest in the state the decompressor would have left it, minus KASLR (whose
//! randomness would come from the guest's TSC anyway). Only XZ payloads (with the x86 BCJ
//! filter, as Linux builds them) are handled; anything else boots the normal way.

use std::io::Read;

/// An ELF PT_LOAD segment: `len` bytes of the decompressed image from `offset`, to be placed
/// at physical address `paddr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub paddr: u32,
    pub offset: usize,
    pub len: usize,
}

/// The decompressed kernel: its bytes, loadable segments and physical entry point.
pub struct Vmlinux {
    pub image: Vec<u8>,
    pub segments: Vec<Segment>,
    pub entry: u32,
}

pub(crate) const XZ_MAGIC: &[u8] = b"\xFD7zXZ\0";
const PT_LOAD: u32 = 1;
const EM_386: u16 = 3;

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

impl Vmlinux {
    /// Decompresses `payload` (the bytes the header's payload fields point at) and reads its
    /// ELF program headers. `None` if it is not an XZ-compressed 32-bit x86 ELF whose entry
    /// lies in a loadable segment.
    pub fn from_payload(payload: &[u8]) -> Option<Self> {
        if !payload.starts_with(XZ_MAGIC) {
            return None;
        }
        let mut image = Vec::new();
        // The build appends the uncompressed size after the XZ stream, which the reader may
        // report as trailing garbage once the stream has ended: what was decoded stands.
        let input = std::io::Cursor::new(payload.to_vec());
        let _ = xz4rust::XzReader::new(input).read_to_end(&mut image);
        Self::from_elf(image)
    }

    /// Reads the program headers of the ELF `image`.
    pub fn from_elf(image: Vec<u8>) -> Option<Self> {
        if !image.starts_with(b"\x7FELF\x01\x01") || u16_at(&image, 0x12)? != EM_386 {
            return None;
        }
        let entry = u32_at(&image, 0x18)?;
        let phoff = u32_at(&image, 0x1C)? as usize;
        let phentsize = usize::from(u16_at(&image, 0x2A)?);
        let phnum = usize::from(u16_at(&image, 0x2C)?);
        let mut segments = Vec::new();
        for i in 0..phnum {
            let ph = phoff.checked_add(i.checked_mul(phentsize)?)?;
            if u32_at(&image, ph)? != PT_LOAD {
                continue;
            }
            let offset = u32_at(&image, ph + 4)? as usize;
            let paddr = u32_at(&image, ph + 0xC)?;
            let len = u32_at(&image, ph + 0x10)? as usize;
            if offset.checked_add(len)? > image.len() {
                return None;
            }
            segments.push(Segment { paddr, offset, len });
        }
        let in_segment =
            |s: &Segment| entry >= s.paddr && u64::from(entry) < u64::from(s.paddr) + s.len as u64;
        if !segments.iter().any(in_segment) {
            return None;
        }
        Some(Self {
            image,
            segments,
            entry,
        })
    }

    /// The highest physical address any segment reaches (exclusive).
    pub fn end(&self) -> u64 {
        self.segments
            .iter()
            .map(|s| u64::from(s.paddr) + s.len as u64)
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF32 with one PT_LOAD of `code` at `paddr`, entry at its start.
    pub(crate) fn tiny_elf(paddr: u32, code: &[u8]) -> Vec<u8> {
        let mut elf = vec![0u8; 0x54];
        elf[..6].copy_from_slice(b"\x7FELF\x01\x01");
        elf[0x12..0x14].copy_from_slice(&EM_386.to_le_bytes());
        elf[0x18..0x1C].copy_from_slice(&paddr.to_le_bytes());
        elf[0x1C..0x20].copy_from_slice(&0x34u32.to_le_bytes());
        elf[0x2A..0x2C].copy_from_slice(&0x20u16.to_le_bytes());
        elf[0x2C..0x2E].copy_from_slice(&1u16.to_le_bytes());
        let ph = 0x34;
        elf[ph..ph + 4].copy_from_slice(&PT_LOAD.to_le_bytes());
        elf[ph + 4..ph + 8].copy_from_slice(&0x54u32.to_le_bytes());
        elf[ph + 0xC..ph + 0x10].copy_from_slice(&paddr.to_le_bytes());
        elf[ph + 0x10..ph + 0x14].copy_from_slice(&(code.len() as u32).to_le_bytes());
        elf.extend_from_slice(code);
        elf
    }

    #[test]
    fn reads_program_headers() {
        let vmlinux = Vmlinux::from_elf(tiny_elf(0x100_0000, &[0xF4; 10])).unwrap();
        assert_eq!(vmlinux.entry, 0x100_0000);
        assert_eq!(
            vmlinux.segments,
            vec![Segment {
                paddr: 0x100_0000,
                offset: 0x54,
                len: 10
            }]
        );
        assert_eq!(vmlinux.end(), 0x100_000A);
    }

    #[test]
    fn rejects_what_it_cannot_load() {
        assert!(Vmlinux::from_payload(b"\x1F\x8B gzip").is_none());
        assert!(Vmlinux::from_elf(b"not an elf".to_vec()).is_none());
        let mut elf = tiny_elf(0x100_0000, &[0; 4]);
        elf[0x18..0x1C].copy_from_slice(&0x200_0000u32.to_le_bytes());
        assert!(
            Vmlinux::from_elf(elf).is_none(),
            "entry outside the segments"
        );
        let mut elf = tiny_elf(0x100_0000, &[0; 4]);
        elf.truncate(0x56);
        assert!(Vmlinux::from_elf(elf).is_none(), "segment past the end");
    }
}

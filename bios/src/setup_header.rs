//! The bzImage setup header (boot protocol "The Real-Mode Kernel Header"): the fields a boot
//! loader reads at offset 0x1F1 of the kernel file. Offsets below are file offsets, which are
//! also the offsets of the same fields inside `boot_params` (the zero page holds a copy of the
//! header at 0x1F1).

use crate::BootError;

/// File offsets of the setup header fields the loader uses.
pub(crate) mod offset {
    pub const SETUP_SECTS: usize = 0x1F1;
    pub const SYSSIZE: usize = 0x1F4;
    pub const VID_MODE: usize = 0x1FA;
    pub const BOOT_FLAG: usize = 0x1FE;
    /// The two-byte JMP at 0x200 skips the header: its 8-bit displacement gives the header's end.
    pub const JUMP_DISP: usize = 0x201;
    pub const HEADER: usize = 0x202;
    pub const VERSION: usize = 0x206;
    pub const TYPE_OF_LOADER: usize = 0x210;
    pub const LOADFLAGS: usize = 0x211;
    pub const CODE32_START: usize = 0x214;
    pub const RAMDISK_IMAGE: usize = 0x218;
    pub const RAMDISK_SIZE: usize = 0x21C;
    pub const CMD_LINE_PTR: usize = 0x228;
    pub const INITRD_ADDR_MAX: usize = 0x22C;
    pub const KERNEL_ALIGNMENT: usize = 0x230;
    pub const RELOCATABLE_KERNEL: usize = 0x234;
    pub const CMDLINE_SIZE: usize = 0x238;
    pub const PAYLOAD_OFFSET: usize = 0x248;
    pub const PAYLOAD_LENGTH: usize = 0x24C;
    pub const PREF_ADDRESS: usize = 0x258;
    pub const INIT_SIZE: usize = 0x260;
}

/// "HdrS", the setup header's magic number.
const HDRS: u32 = u32::from_le_bytes(*b"HdrS");
/// Boot sector signature at 0x1FE.
const BOOT_FLAG: u16 = 0xAA55;
/// The oldest protocol accepted: 2.10 added `pref_address` and `init_size`, which say how much
/// memory decompression needs.
pub const MIN_PROTOCOL: u16 = 0x020A;
/// `loadflags` bit 0: the protected-mode code is loaded at 0x100000 (a bzImage, not a zImage).
pub const LOADED_HIGH: u8 = 1 << 0;
/// Where the boot protocol loads the protected-mode kernel of a bzImage.
pub const KERNEL_LOAD_ADDR: u32 = 0x10_0000;

/// The setup header fields of a bzImage that decide where things go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetupHeader {
    /// Boot protocol version, major in the high byte (0x020F = 2.15).
    pub version: u16,
    /// 512-byte sectors of real-mode setup code after the boot sector (0 means 4).
    pub setup_sects: u8,
    /// Size of the protected-mode code in 16-byte paragraphs.
    pub syssize: u32,
    pub loadflags: u8,
    /// The 32-bit entry point when the kernel is loaded where it asks (1 MiB).
    pub code32_start: u32,
    /// Highest address the initrd may occupy.
    pub initrd_addr_max: u32,
    pub kernel_alignment: u32,
    pub relocatable: bool,
    /// Longest command line the kernel accepts, without the terminating zero.
    pub cmdline_size: u32,
    /// Where the kernel prefers to run: a relocatable kernel decompresses itself there.
    pub pref_address: u64,
    /// Bytes the kernel needs from its run address for decompression and early boot.
    pub init_size: u32,
    /// The compressed kernel: offset from the start of the protected-mode code, and length.
    pub payload_offset: u32,
    pub payload_length: u32,
    /// Bytes from 0x1F1 to the end of the header, as copied into `boot_params`.
    pub header_len: usize,
}

fn u16_at(data: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([data[at], data[at + 1]])
}

fn u32_at(data: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
}

fn u64_at(data: &[u8], at: usize) -> u64 {
    u64::from(u32_at(data, at)) | u64::from(u32_at(data, at + 4)) << 32
}

impl SetupHeader {
    /// Parses and checks the header of the bzImage `image` (the whole kernel file); `name`
    /// names the file in errors.
    pub fn parse(name: &str, image: &[u8]) -> Result<Self, BootError> {
        let not_bzimage = |reason| BootError::NotBzImage {
            name: name.to_string(),
            reason,
        };
        if image.len() < 0x268 {
            return Err(not_bzimage("the file is too short to hold a setup header"));
        }
        if u16_at(image, offset::BOOT_FLAG) != BOOT_FLAG || u32_at(image, offset::HEADER) != HDRS {
            return Err(not_bzimage("no \"HdrS\" setup header at offset 0x202"));
        }
        let version = u16_at(image, offset::VERSION);
        if version < MIN_PROTOCOL {
            return Err(BootError::ProtocolTooOld {
                name: name.to_string(),
                version,
            });
        }
        let loadflags = image[offset::LOADFLAGS];
        if loadflags & LOADED_HIGH == 0 {
            return Err(not_bzimage(
                "it is a zImage (its kernel loads at 0x10000, not 1 MiB)",
            ));
        }
        let header = Self {
            version,
            setup_sects: image[offset::SETUP_SECTS],
            syssize: u32_at(image, offset::SYSSIZE),
            loadflags,
            code32_start: u32_at(image, offset::CODE32_START),
            initrd_addr_max: u32_at(image, offset::INITRD_ADDR_MAX),
            kernel_alignment: u32_at(image, offset::KERNEL_ALIGNMENT),
            relocatable: image[offset::RELOCATABLE_KERNEL] != 0,
            cmdline_size: u32_at(image, offset::CMDLINE_SIZE),
            pref_address: u64_at(image, offset::PREF_ADDRESS),
            init_size: u32_at(image, offset::INIT_SIZE),
            payload_offset: u32_at(image, offset::PAYLOAD_OFFSET),
            payload_length: u32_at(image, offset::PAYLOAD_LENGTH),
            header_len: offset::HEADER + usize::from(image[offset::JUMP_DISP])
                - offset::SETUP_SECTS,
        };
        let kernel_start = header.kernel_offset();
        if kernel_start >= image.len() {
            return Err(not_bzimage("the file ends inside the real-mode setup code"));
        }
        let kernel_len = (image.len() - kernel_start) as u64;
        if u64::from(header.syssize) * 16 > kernel_len {
            return Err(not_bzimage(
                "the file is shorter than its header's syssize says (truncated?)",
            ));
        }
        Ok(header)
    }

    /// File offset of the protected-mode kernel: after the boot sector and the setup sectors.
    pub fn kernel_offset(&self) -> usize {
        let sects = if self.setup_sects == 0 {
            4
        } else {
            usize::from(self.setup_sects)
        };
        (sects + 1) * 512
    }

    /// The compressed kernel inside `image` (the whole file), if the header's payload fields
    /// point inside it.
    pub fn payload<'a>(&self, image: &'a [u8]) -> Option<&'a [u8]> {
        let start = self
            .kernel_offset()
            .checked_add(self.payload_offset as usize)?;
        image.get(start..start.checked_add(self.payload_length as usize)?)
    }

    /// The physical range the kernel decompresses into and runs from at first: from its run
    /// address (`pref_address`, where a relocatable kernel loaded at 1 MiB moves itself, and
    /// where a fixed one was linked) for `init_size` bytes.
    pub fn init_range(&self) -> (u64, u64) {
        let start = self.pref_address.max(u64::from(KERNEL_LOAD_ADDR));
        (start, start + u64::from(self.init_size))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal synthetic bzImage: boot sector + `setup_sects` sectors + `kernel` bytes, with
    /// a protocol 2.15 header shaped like Debian's 686 kernel.
    pub(crate) fn synthetic_bzimage(setup_sects: u8, kernel: &[u8]) -> Vec<u8> {
        let sects = if setup_sects == 0 {
            4
        } else {
            setup_sects as usize
        };
        let mut image = vec![0u8; (sects + 1) * 512];
        let put32 = |img: &mut Vec<u8>, at: usize, v: u32| {
            img[at..at + 4].copy_from_slice(&v.to_le_bytes())
        };
        image[offset::SETUP_SECTS] = setup_sects;
        put32(
            &mut image,
            offset::SYSSIZE,
            kernel.len().div_ceil(16) as u32,
        );
        image[offset::BOOT_FLAG..offset::BOOT_FLAG + 2].copy_from_slice(&BOOT_FLAG.to_le_bytes());
        image[0x200] = 0xEB;
        image[offset::JUMP_DISP] = 0x6A;
        image[offset::HEADER..offset::HEADER + 4].copy_from_slice(b"HdrS");
        image[offset::VERSION..offset::VERSION + 2].copy_from_slice(&0x020Fu16.to_le_bytes());
        image[offset::LOADFLAGS] = LOADED_HIGH;
        put32(&mut image, offset::CODE32_START, KERNEL_LOAD_ADDR);
        put32(&mut image, offset::INITRD_ADDR_MAX, 0x7FFF_FFFF);
        put32(&mut image, offset::KERNEL_ALIGNMENT, 0x100_0000);
        image[offset::RELOCATABLE_KERNEL] = 1;
        put32(&mut image, offset::CMDLINE_SIZE, 2047);
        put32(&mut image, offset::PREF_ADDRESS, 0x100_0000);
        put32(&mut image, offset::INIT_SIZE, 0x20_0000);
        image.extend_from_slice(kernel);
        image.resize(image.len().next_multiple_of(16), 0);
        image
    }

    #[test]
    fn parses_a_synthetic_header() {
        let image = synthetic_bzimage(7, &[0x90; 100]);
        let header = SetupHeader::parse("k", &image).unwrap();
        assert_eq!(header.version, 0x020F);
        assert_eq!(header.setup_sects, 7);
        assert_eq!(header.kernel_offset(), 8 * 512);
        assert_eq!(header.syssize, 7);
        assert_eq!(header.code32_start, 0x10_0000);
        assert_eq!(header.initrd_addr_max, 0x7FFF_FFFF);
        assert_eq!(header.kernel_alignment, 0x100_0000);
        assert!(header.relocatable);
        assert_eq!(header.cmdline_size, 2047);
        assert_eq!(header.header_len, 0x202 + 0x6A - 0x1F1);
        assert_eq!(header.init_range(), (0x100_0000, 0x120_0000));
    }

    #[test]
    fn zero_setup_sects_means_four() {
        let image = synthetic_bzimage(0, &[1; 16]);
        assert_eq!(
            SetupHeader::parse("k", &image).unwrap().kernel_offset(),
            5 * 512
        );
    }

    #[test]
    fn rejects_what_is_not_a_bzimage() {
        let err = SetupHeader::parse("/tmp/notes.txt", b"hello").unwrap_err();
        assert_eq!(
            err.to_string(),
            "/tmp/notes.txt is not a Linux bzImage: the file is too short to hold a setup header"
        );

        let mut image = synthetic_bzimage(4, &[0; 32]);
        image[offset::HEADER] = b'X';
        let err = SetupHeader::parse("k.bin", &image).unwrap_err();
        assert!(err.to_string().contains("no \"HdrS\""), "{err}");

        let mut image = synthetic_bzimage(4, &[0; 32]);
        image[offset::LOADFLAGS] = 0;
        let err = SetupHeader::parse("k.bin", &image).unwrap_err();
        assert!(err.to_string().contains("zImage"), "{err}");

        let mut image = synthetic_bzimage(4, &[0; 64]);
        image.truncate(image.len() - 32);
        let err = SetupHeader::parse("k.bin", &image).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
    }

    #[test]
    fn rejects_old_protocols() {
        let mut image = synthetic_bzimage(4, &[0; 32]);
        image[offset::VERSION..offset::VERSION + 2].copy_from_slice(&0x0209u16.to_le_bytes());
        let err = SetupHeader::parse("old-vmlinuz", &image).unwrap_err();
        assert_eq!(
            err.to_string(),
            "old-vmlinuz uses Linux boot protocol 2.09; webx86 needs 2.10 or later (kernel 2.6.31+)"
        );
        image[offset::VERSION] = 0x0A;
        assert!(SetupHeader::parse("new", &image).is_ok());
    }
}

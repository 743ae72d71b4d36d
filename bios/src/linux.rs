//! Loading a bzImage (and an initrd) into guest memory and starting it through the 32-bit boot
//! protocol (boot.rst, "32-bit Boot Protocol"), with no real-mode setup code run.

use webx86_cpu::state::{attr, cr0, flag, reg, sreg, Segment, TableReg};
use webx86_cpu::Cpu;
use webx86_mmu::{PhysAddr, PhysMemory};

use crate::setup_header::{offset as hdr, SetupHeader, KERNEL_LOAD_ADDR};
use crate::vmlinux::Vmlinux;
use crate::zero_page::{e820_map, ZeroPage};
use crate::BootError;

/// A file's bytes with the name errors should give it (its path).
#[derive(Clone, Copy)]
pub struct Image<'a> {
    pub name: &'a str,
    pub bytes: &'a [u8],
}

impl<'a> Image<'a> {
    pub fn new(name: &'a str, bytes: &'a [u8]) -> Self {
        Self { name, bytes }
    }
}

/// Where the loader puts its own structures in conventional memory. All are below 640 KiB and
/// outside the first page (the real-mode interrupt vector table and the BIOS data area).
pub mod layout {
    /// The boot GDT: null, unused, __BOOT_CS (0x10), __BOOT_DS (0x18).
    pub const GDT: u32 = 0x1000;
    /// `boot_params`.
    pub const ZERO_PAGE: u32 = 0x1_0000;
    /// The NUL-terminated command line; up to 64 KiB.
    pub const CMDLINE: u32 = 0x2_0000;
    pub const CMDLINE_MAX: u32 = 0x1_0000;
    /// The initial stack pointer (the kernel sets up its own stack before using one).
    pub const STACK_TOP: u32 = 0x9_0000;
    /// BIOS data area word holding the conventional memory size in KiB (INT 12h); the kernel
    /// reads it to find the end of usable low memory.
    pub const BDA_BASE_MEMORY_KIB: u32 = 0x413;
}

/// The boot selectors the protocol requires.
const BOOT_CS: u32 = 0x10;
const BOOT_DS: u32 = 0x18;
/// Flat 4 GiB descriptors: base 0, limit 0xFFFFF pages, G=1, D=1, present, DPL 0; execute/read
/// code and read/write data, accessed bit set (the CPU would set it on load anyway).
const GDT_ENTRIES: [u64; 4] = [0, 0, 0x00CF_9B00_0000_FFFF, 0x00CF_9300_0000_FFFF];

/// Initrds go below this address even when the kernel accepts higher ones: a 32-bit kernel with
/// the default 3G/1G split maps only about 896 MiB less its vmalloc area directly, and copies an
/// initrd above that down at boot.
pub const LOWMEM_INITRD_LIMIT: u32 = 0x3700_0000;

/// `type_of_loader` value for a boot loader without an assigned ID.
const LOADER_UNDEFINED: u8 = 0xFF;
/// `vid_mode` "normal" (80x25 text): the real-mode setup, which is not run, would keep it.
const VID_MODE_NORMAL: u16 = 0xFFFF;

/// Where a loaded kernel starts and what the loader put where.
#[derive(Clone, Debug)]
pub struct LinuxBoot {
    pub header: SetupHeader,
    /// The 32-bit entry point.
    pub entry: u32,
    /// Where `boot_params` is (ESI at entry).
    pub zero_page: u32,
    /// Physical address and size of the initrd, if any.
    pub initrd: Option<(u32, u32)>,
    /// The kernel was decompressed on the host and starts at its ELF entry, past the
    /// bzImage's own decompressor.
    pub decompressed_on_host: bool,
}

fn mib_up(bytes: u64) -> u32 {
    bytes.div_ceil(1 << 20).min(u64::from(u32::MAX)) as u32
}

/// Loads `kernel` (a bzImage) and `initrd` into `phys`, whose RAM runs from 0 to
/// `phys.ram_size()`, and writes the boot GDT, `boot_params` and the command line. Call
/// [`enter_linux`] next to point the CPU at the kernel.
///
/// With `host_decompress`, a kernel whose payload the host can unpack (XZ) is decompressed
/// here and entered past its decompressor ([`crate::vmlinux`]); otherwise, or if that fails,
/// the bzImage is loaded at 1 MiB and entered at `code32_start` as the protocol describes.
pub fn load_linux(
    phys: &mut PhysMemory,
    kernel: Image,
    initrd: Option<Image>,
    cmdline: &str,
    host_decompress: bool,
) -> Result<LinuxBoot, BootError> {
    let header = SetupHeader::parse(kernel.name, kernel.bytes)?;
    let ram_size = phys.ram_size();
    let protected_mode_code = &kernel.bytes[header.kernel_offset()..];

    // The kernel must fit where it is loaded and where it decompresses itself.
    let loaded_end = u64::from(KERNEL_LOAD_ADDR) + protected_mode_code.len() as u64;
    let (_, init_end) = header.init_range();
    let needed = loaded_end.max(init_end);
    if needed > u64::from(ram_size) {
        return Err(BootError::KernelTooBig {
            name: kernel.name.to_string(),
            needed_mib: mib_up(needed),
            memory_mib: ram_size >> 20,
        });
    }

    let cmdline_max = header.cmdline_size.min(layout::CMDLINE_MAX - 1);
    if cmdline.len() > cmdline_max as usize {
        return Err(BootError::CommandLineTooLong {
            name: kernel.name.to_string(),
            len: cmdline.len(),
            max: cmdline_max,
        });
    }

    // The initrd goes as high as allowed, page aligned, clear of the kernel.
    let initrd_at = match initrd {
        None => None,
        Some(image) => {
            let limit = u64::from(ram_size)
                .min(u64::from(header.initrd_addr_max) + 1)
                .min(u64::from(LOWMEM_INITRD_LIMIT));
            // Unpacked on the host when it can be, leaving at least half the room below the
            // limit to the kernel (which unpacks the archive into its page cache).
            let unpacked = host_decompress
                .then(|| crate::initrd::unpack_xz(image.bytes, limit.saturating_sub(needed) / 2))
                .flatten();
            let image = Image {
                name: image.name,
                bytes: unpacked.as_deref().unwrap_or(image.bytes),
            };
            let size = image.bytes.len() as u64;
            let start = limit.saturating_sub(size) & !0xFFF;
            if size > limit || start < needed || size > u64::from(u32::MAX) {
                return Err(BootError::InitrdTooBig {
                    name: image.name.to_string(),
                    size: image.bytes.len(),
                    kernel_end: needed as u32,
                    limit: limit as u32,
                });
            }
            phys.write_bytes(PhysAddr(start as u32), image.bytes);
            Some((start as u32, size as u32))
        }
    };

    // Decompressed segments must stay inside the area the decompressor itself would use, and
    // clear of the initrd.
    let vmlinux = host_decompress
        .then(|| header.payload(kernel.bytes).and_then(Vmlinux::from_payload))
        .flatten()
        .filter(|v| {
            let (start, end) = header.init_range();
            let below = initrd_at.map_or(end, |(at, _)| end.min(u64::from(at)));
            v.segments.iter().all(|s| u64::from(s.paddr) >= start) && v.end() <= below
        });
    let entry = match &vmlinux {
        Some(vmlinux) => {
            for segment in &vmlinux.segments {
                let bytes = &vmlinux.image[segment.offset..segment.offset + segment.len];
                phys.write_bytes(PhysAddr(segment.paddr), bytes);
            }
            vmlinux.entry
        }
        None => {
            phys.write_bytes(PhysAddr(KERNEL_LOAD_ADDR), protected_mode_code);
            header.code32_start
        }
    };

    let mut cmdline_bytes = cmdline.as_bytes().to_vec();
    cmdline_bytes.push(0);
    phys.write_bytes(PhysAddr(layout::CMDLINE), &cmdline_bytes);

    let gdt: Vec<u8> = GDT_ENTRIES.iter().flat_map(|d| d.to_le_bytes()).collect();
    phys.write_bytes(PhysAddr(layout::GDT), &gdt);

    let conventional_kib = (crate::zero_page::CONVENTIONAL_END / 1024) as u16;
    phys.write_bytes(
        PhysAddr(layout::BDA_BASE_MEMORY_KIB),
        &conventional_kib.to_le_bytes(),
    );

    let mut page = ZeroPage::with_header(kernel.bytes, header.header_len);
    page.set_memory(&e820_map(ram_size));
    page.put_u16(hdr::VID_MODE, VID_MODE_NORMAL);
    page.put_u8(hdr::TYPE_OF_LOADER, LOADER_UNDEFINED);
    page.put_u32(hdr::CMD_LINE_PTR, layout::CMDLINE);
    let (initrd_addr, initrd_size) = initrd_at.unwrap_or((0, 0));
    page.put_u32(hdr::RAMDISK_IMAGE, initrd_addr);
    page.put_u32(hdr::RAMDISK_SIZE, initrd_size);
    phys.write_bytes(PhysAddr(layout::ZERO_PAGE), &page.bytes[..]);

    Ok(LinuxBoot {
        header,
        entry,
        zero_page: layout::ZERO_PAGE,
        initrd: initrd_at,
        decompressed_on_host: vmlinux.is_some(),
    })
}

/// A flat 4 GiB segment as loaded from one of the boot GDT's descriptors.
fn flat_segment(selector: u32, code: bool) -> Segment {
    let kind = if code { attr::CODE } else { 0 };
    let mut seg = Segment {
        selector,
        base: 0,
        limit: u32::MAX,
        attrs: attr::P | attr::S | attr::RW | attr::ACCESSED | attr::DB | attr::G | kind,
        ..Segment::default()
    };
    seg.refresh_checks(true);
    seg
}

/// Puts `cpu` in the state the 32-bit boot protocol requires at the kernel's entry: protected
/// mode without paging, CS = __BOOT_CS and DS = ES = SS = __BOOT_DS (flat 4 GiB) from a loaded
/// GDT, interrupts disabled, ESI = `boot_params`, EBP = EDI = EBX = 0. The rest is the RESET
/// state, with the caches enabled as a BIOS would leave them.
pub fn enter_linux(cpu: &mut Cpu, boot: &LinuxBoot) {
    cpu.reset();
    let s = &mut cpu.state;
    s.cr0 = cr0::PE | cr0::ET;
    s.gdtr = TableReg {
        base: layout::GDT,
        limit: (GDT_ENTRIES.len() * 8 - 1) as u32,
    };
    s.idtr = TableReg { base: 0, limit: 0 };
    for (index, seg) in s.segs.iter_mut().enumerate() {
        *seg = if index == usize::from(sreg::CS) {
            flat_segment(BOOT_CS, true)
        } else {
            flat_segment(BOOT_DS, false)
        };
    }
    s.cpl = 0;
    s.eflags = flag::FIXED;
    s.regs = [0; 8];
    s.regs[usize::from(reg::ESI)] = boot.zero_page;
    s.regs[usize::from(reg::ESP)] = layout::STACK_TOP;
    s.eip = boot.entry;
    cpu.sync_paging();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup_header::tests::synthetic_bzimage;
    use webx86_cpu::NullPlatform;
    use webx86_mmu::Mmu;

    fn read_u32(phys: &mut PhysMemory, addr: u32) -> u32 {
        phys.read(PhysAddr(addr), 4)
    }

    #[test]
    fn loads_kernel_initrd_cmdline_and_zero_page() {
        let kernel_code: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        let image = synthetic_bzimage(4, &kernel_code);
        let initrd = vec![0x5Au8; 10_000];
        let mut phys = PhysMemory::new(64 << 20);
        let boot = load_linux(
            &mut phys,
            Image::new("bz", &image),
            Some(Image::new("rd", &initrd)),
            "console=ttyS0",
            false,
        )
        .unwrap();

        let mut loaded = vec![0u8; kernel_code.len()];
        phys.read_bytes(PhysAddr(0x10_0000), &mut loaded);
        assert_eq!(loaded, kernel_code);

        // The initrd ends at the top of RAM, page aligned start.
        let (at, size) = boot.initrd.unwrap();
        assert_eq!(size, 10_000);
        assert_eq!(at, ((64 << 20) - 10_000) & !0xFFF);
        let zp = boot.zero_page;
        assert_eq!(read_u32(&mut phys, zp + 0x218), at);
        assert_eq!(read_u32(&mut phys, zp + 0x21C), 10_000);
        assert_eq!(phys.read(PhysAddr(at + 9_999), 1), 0x5A);

        assert_eq!(read_u32(&mut phys, zp + 0x228), layout::CMDLINE);
        let mut cmdline = [0u8; 14];
        phys.read_bytes(PhysAddr(layout::CMDLINE), &mut cmdline);
        assert_eq!(&cmdline, b"console=ttyS0\0");

        assert_eq!(phys.read(PhysAddr(zp + 0x210), 1), 0xFF, "type_of_loader");
        assert_eq!(
            read_u32(&mut phys, zp + 0x202),
            u32::from_le_bytes(*b"HdrS")
        );
        assert_eq!(phys.read(PhysAddr(zp + 0x1E8), 1), 3, "e820 entries");
        assert_eq!(phys.read(PhysAddr(layout::BDA_BASE_MEMORY_KIB), 2), 640);
        assert_eq!(boot.entry, 0x10_0000);
    }

    #[test]
    fn initrd_respects_initrd_addr_max_and_lowmem() {
        let mut image = synthetic_bzimage(4, &[0; 64]);
        image[0x22C..0x230].copy_from_slice(&0x00FF_FFFFu32.to_le_bytes());
        image[0x260..0x264].copy_from_slice(&0x10_0000u32.to_le_bytes());
        image[0x258..0x25C].copy_from_slice(&0x20_0000u32.to_le_bytes());
        let mut phys = PhysMemory::new(64 << 20);
        let boot = load_linux(
            &mut phys,
            Image::new("bz", &image),
            Some(Image::new("rd", &[1; 0x1800])),
            "",
            true,
        )
        .unwrap();
        assert_eq!(boot.initrd, Some((0x100_0000 - 0x2000, 0x1800)));

        let image = synthetic_bzimage(4, &[0; 64]);
        let mut phys = PhysMemory::new(1 << 30);
        let boot = load_linux(
            &mut phys,
            Image::new("bz", &image),
            Some(Image::new("rd", &[1; 4096])),
            "",
            true,
        )
        .unwrap();
        assert_eq!(boot.initrd, Some((LOWMEM_INITRD_LIMIT - 4096, 4096)));
    }

    #[test]
    fn reports_what_does_not_fit() {
        let image = synthetic_bzimage(4, &[0; 64]);
        // pref_address 16 MiB + init_size 2 MiB = 18 MiB needed.
        let mut phys = PhysMemory::new(16 << 20);
        let err = load_linux(
            &mut phys,
            Image::new("/boot/vmlinuz", &image),
            None,
            "",
            false,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "/boot/vmlinuz needs 18 MiB of memory to decompress and start, but the machine has \
             16 MiB (raise --mem)"
        );

        let mut phys = PhysMemory::new(20 << 20);
        let err = load_linux(
            &mut phys,
            Image::new("k", &image),
            Some(Image::new("big.cpio", &vec![0; 3 << 20])),
            "",
            true,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("initrd big.cpio (3145728 bytes) does not fit"),
            "{err}"
        );

        let long = "x".repeat(2048);
        let err = load_linux(&mut phys, Image::new("k", &image), None, &long, false)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "the command line is 2048 bytes; k accepts at most 2047"
        );
    }

    #[test]
    fn entry_state_follows_the_32_bit_protocol() {
        let image = synthetic_bzimage(4, &[0xF4; 16]);
        let mut phys = PhysMemory::new(32 << 20);
        let boot = load_linux(&mut phys, Image::new("k", &image), None, "", false).unwrap();
        let mut cpu = Cpu::new(Mmu::new(phys), Box::new(NullPlatform));
        cpu.state.regs = [0xDEAD_BEEF; 8];
        enter_linux(&mut cpu, &boot);
        let s = &cpu.state;
        assert_eq!(s.eip, 0x10_0000);
        assert_eq!(s.cr0 & (cr0::PE | cr0::PG), cr0::PE);
        assert_eq!(s.eflags & flag::IF, 0);
        assert_eq!(s.regs[reg::ESI as usize], layout::ZERO_PAGE);
        for r in [reg::EBP, reg::EDI, reg::EBX] {
            assert_eq!(s.regs[r as usize], 0);
        }
        let cs = s.segs[sreg::CS as usize];
        assert_eq!((cs.selector, cs.base, cs.limit), (0x10, 0, u32::MAX));
        assert!(cs.is_code() && cs.big());
        for seg in [sreg::DS, sreg::ES, sreg::SS] {
            let seg = s.segs[seg as usize];
            assert_eq!((seg.selector, seg.base, seg.limit), (0x18, 0, u32::MAX));
            assert!(!seg.is_code() && seg.big());
        }
        // The GDT in memory matches the caches: descriptor 0x10 is flat code, 0x18 flat data.
        let gdt = s.gdtr;
        assert_eq!(gdt.limit, 31);
        let phys = &mut cpu.mmu.phys;
        assert_eq!(phys.read(PhysAddr(gdt.base + 0x10), 4), 0x0000_FFFF);
        assert_eq!(phys.read(PhysAddr(gdt.base + 0x14), 4), 0x00CF_9B00);
        assert_eq!(phys.read(PhysAddr(gdt.base + 0x1C), 4), 0x00CF_9300);

        // The CPU runs the kernel's first instruction (HLT with IF=0) in 32-bit mode.
        assert_eq!(cpu.run(10), webx86_cpu::RunExit::HaltedForever);
        assert_eq!(cpu.state.eip, 0x10_0001);
    }
}

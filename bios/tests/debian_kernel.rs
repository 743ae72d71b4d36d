//! The loader against Debian's real 686 kernel, when `images/busybox-initramfs.sh` has fetched
//! it (into `target/guest/`, or `$WEBX86_GUEST_DIR`).

use std::path::PathBuf;

use webx86_bios::{load_linux, Image, SetupHeader};
use webx86_mmu::{PhysAddr, PhysMemory};

fn guest_file(name: &str) -> Option<(String, Vec<u8>)> {
    let dir = std::env::var_os("WEBX86_GUEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/guest"));
    let path = dir.join(name);
    match std::fs::read(&path) {
        Ok(bytes) => Some((path.display().to_string(), bytes)),
        Err(_) => {
            eprintln!(
                "skipped: {} is missing (run images/busybox-initramfs.sh)",
                path.display()
            );
            None
        }
    }
}

#[test]
fn debian_686_kernel_header() {
    let Some((name, kernel)) = guest_file("vmlinuz") else {
        return;
    };
    let header = SetupHeader::parse(&name, &kernel).unwrap();
    // Facts of bookworm's 686 kernels (protocol 2.15, relocatable, 16 MiB aligned).
    assert!(header.version >= 0x020F, "{:#x}", header.version);
    assert!(header.relocatable);
    assert_eq!(header.kernel_alignment, 0x100_0000);
    assert_eq!(header.pref_address, 0x100_0000);
    assert_eq!(header.code32_start, 0x10_0000);
    assert_eq!(header.cmdline_size, 2047);
    assert!(header.init_size >= 0x80_0000);
    let code = kernel.len() - header.kernel_offset();
    assert!(header.syssize as usize * 16 <= code);
}

#[test]
fn debian_686_kernel_loads_with_its_initramfs() {
    let (Some((kname, kernel)), Some((iname, initrd))) = (
        guest_file("vmlinuz"),
        guest_file("busybox-initramfs.cpio.gz"),
    ) else {
        return;
    };
    let mut phys = PhysMemory::new(128 << 20);
    let boot = load_linux(
        &mut phys,
        Image::new(&kname, &kernel),
        Some(Image::new(&iname, &initrd)),
        "console=ttyS0",
        false,
    )
    .unwrap();
    let (at, size) = boot.initrd.unwrap();
    assert_eq!(size as usize, initrd.len());
    assert_eq!(at % 4096, 0);
    assert!(u64::from(at) >= boot.header.init_range().1);
    assert!(at as usize + initrd.len() <= 128 << 20);
    // gzip magic at the initrd, the kernel's first bytes at 1 MiB.
    assert_eq!(phys.read(PhysAddr(at), 2), 0x8B1F);
    let first = u32::from_le_bytes(
        kernel[boot.header.kernel_offset()..][..4]
            .try_into()
            .unwrap(),
    );
    assert_eq!(phys.read(PhysAddr(0x10_0000), 4), first);

    let mut small = PhysMemory::new(24 << 20);
    let err = load_linux(&mut small, Image::new(&kname, &kernel), None, "", false).unwrap_err();
    assert!(err.to_string().contains("MiB of memory"), "{err}");
}

#[test]
fn debian_686_kernel_decompresses_on_the_host() {
    let Some((name, kernel)) = guest_file("vmlinuz") else {
        return;
    };
    let header = SetupHeader::parse(&name, &kernel).unwrap();
    let payload = header.payload(&kernel).expect("payload inside the file");
    let vmlinux = webx86_bios::vmlinux::Vmlinux::from_payload(payload).expect("XZ vmlinux");
    // startup_32 at LOAD_PHYSICAL_ADDR, the kernel inside what init_size reserves.
    assert_eq!(u64::from(vmlinux.entry), header.pref_address);
    assert!(vmlinux.end() <= header.init_range().1);

    let mut phys = PhysMemory::new(128 << 20);
    let boot = load_linux(&mut phys, Image::new(&name, &kernel), None, "", true).unwrap();
    assert!(boot.decompressed_on_host);
    assert_eq!(boot.entry, vmlinux.entry);
    let first = &vmlinux.segments[0];
    let expected = u32::from_le_bytes(vmlinux.image[first.offset..][..4].try_into().unwrap());
    assert_eq!(phys.read(PhysAddr(first.paddr), 4), expected);
    // Nothing was put at 1 MiB: the bzImage's own decompressor is skipped.
    assert_eq!(phys.read(PhysAddr(0x10_0000), 4), 0);
}

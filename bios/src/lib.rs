//! Booting without a BIOS ROM. A PC BIOS would set up memory, find a boot loader and let it
//! load Linux; webx86 skips all that and does what a boot loader does, following the Linux x86
//! boot protocol (`Documentation/arch/x86/boot.rst`, 32-bit boot protocol): read the bzImage's
//! setup header, put the protected-mode kernel at 1 MiB and the initrd high, fill in the
//! "zero page" (`struct boot_params`) with the e820 memory map and the command line, and start
//! the CPU at the kernel's 32-bit entry point.

mod error;
mod initrd;
mod linux;
mod setup_header;
pub mod vmlinux;
mod zero_page;

pub use error::BootError;
pub use linux::{enter_linux, layout, load_linux, Image, LinuxBoot, LOWMEM_INITRD_LIMIT};
pub use setup_header::SetupHeader;
pub use zero_page::{e820_map, E820Entry, E820Kind, ZeroPage};

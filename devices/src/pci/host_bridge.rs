//! The chipset's own PCI functions: an Intel 440FX-like host bridge at 00:00.0 and a PIIX3-like
//! PCI-to-ISA bridge at 00:01.0, so the kernel finds the legacy bus behind PCI.

use super::config::PciConfigSpace;

/// Intel's PCI vendor ID.
pub const VENDOR_INTEL: u16 = 0x8086;
/// 82441FX PMC (440FX host bridge).
pub const DEVICE_440FX: u16 = 0x1237;
/// 82371SB PIIX3 PCI-to-ISA bridge.
pub const DEVICE_PIIX3_ISA: u16 = 0x7000;

/// Host bridge at 00:00.0: class 06/00 (host bridge), single function.
pub fn host_bridge() -> PciConfigSpace {
    let mut c = PciConfigSpace::new(VENDOR_INTEL, DEVICE_440FX, 0x02, 0x06_00_00, 0x00);
    // Memory and bus-master enabled as firmware leaves them; not guest-changeable here.
    c.set16(super::config::offset::COMMAND, 0x0006);
    c.set_mask16(super::config::offset::COMMAND, 0);
    c
}

/// PCI-to-ISA bridge at 00:01.0: class 06/01, multi-function header (PIIX3 also has IDE and
/// USB functions). PIRQA–D route registers 0x60–0x63 are writable and start disabled (0x80),
/// as on the PIIX3; nothing is routed through them by this model.
pub fn isa_bridge() -> PciConfigSpace {
    let mut c = PciConfigSpace::new(VENDOR_INTEL, DEVICE_PIIX3_ISA, 0x00, 0x06_01_00, 0x80);
    c.set16(super::config::offset::COMMAND, 0x0007);
    c.set_mask16(super::config::offset::COMMAND, 0);
    for r in 0x60..0x64 {
        c.bytes[r] = 0x80;
        c.write_mask[r] = 0x8F;
    }
    c
}

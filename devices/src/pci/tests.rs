//! Configuration mechanism #1 and config space tests, probing as Linux's `pci_check_type1` and
//! `__pci_read_base` do.

use super::config::offset;
use super::*;
use crate::PortIo;

fn addr(dev: u8, func: u8, reg: u8) -> u32 {
    0x8000_0000 | (dev as u32) << 11 | (func as u32) << 8 | reg as u32
}

fn cfg_read(h: &mut PciHost, dev: u8, func: u8, reg: u8, size: u8) -> u32 {
    h.write(0, 4, addr(dev, func, reg & 0xFC));
    h.read(4 + (reg & 3) as u16, size)
}

fn cfg_write(h: &mut PciHost, dev: u8, func: u8, reg: u8, size: u8, v: u32) {
    h.write(0, 4, addr(dev, func, reg & 0xFC));
    h.write(4 + (reg & 3) as u16, size, v);
}

#[test]
fn type1_detection_and_enumeration() {
    let mut h = PciHost::new(PciBus::with_chipset());
    h.write(3, 1, 0x01); // outb(0x01, 0xCFB) is not a config access
    h.write(0, 4, 0x8000_0000);
    assert_eq!(h.read(0, 4), 0x8000_0000);
    assert_eq!(cfg_read(&mut h, 0, 0, 0, 4), 0x1237_8086);
    assert_eq!(cfg_read(&mut h, 1, 0, 0, 4), 0x7000_8086);
    assert_eq!(cfg_read(&mut h, 0, 0, 0x0A, 2), 0x0600, "host bridge class");
    assert_eq!(cfg_read(&mut h, 1, 0, 0x0A, 2), 0x0601, "ISA bridge class");
    assert_eq!(
        cfg_read(&mut h, 1, 0, 0x0E, 1),
        0x80,
        "multi-function header"
    );
    assert_eq!(cfg_read(&mut h, 1, 0, 0x02, 1), 0x00, "byte at 0xCFE");
    assert_eq!(cfg_read(&mut h, 1, 0, 0x03, 1), 0x70, "byte at 0xCFF");
    assert_eq!(cfg_read(&mut h, 2, 0, 0, 4), 0xFFFF_FFFF, "empty slot");
    assert_eq!(cfg_read(&mut h, 0, 1, 0, 2), 0xFFFF, "absent function");
    h.write(0, 4, 0x0100_0000);
    assert_eq!(
        h.read(4, 4),
        0xFFFF_FFFF,
        "enable bit clear: no config cycle"
    );
    h.write(0, 4, 0x8001_0000);
    assert_eq!(h.read(4, 4), 0xFFFF_FFFF, "bus 1 does not exist");
}

#[test]
fn bar_sizing_protocol_and_masks() {
    let mut dev = PciConfigSpace::new(0x1AF4, 0x1000, 0, 0x02_00_00, 0);
    dev.add_bar(0, 32, BarKind::Io);
    dev.add_bar(
        1,
        0x1000,
        BarKind::Memory {
            prefetchable: false,
        },
    );
    dev.bytes[offset::INTERRUPT_PIN as usize] = 1;
    let mut bus = PciBus::with_chipset();
    bus.insert(3, 0, Box::new(dev)).unwrap();
    assert!(matches!(
        bus.insert(3, 0, Box::new(host_bridge::host_bridge())),
        Err(PciBusError::Occupied { .. })
    ));
    let mut h = PciHost::new(bus);
    // Sizing: save, write all ones, read the mask, restore.
    assert_eq!(cfg_read(&mut h, 3, 0, 0x10, 4), 0x1);
    cfg_write(&mut h, 3, 0, 0x10, 4, 0xFFFF_FFFF);
    assert_eq!(cfg_read(&mut h, 3, 0, 0x10, 4), 0xFFFF_FFE1);
    cfg_write(&mut h, 3, 0, 0x14, 4, 0xFFFF_FFFF);
    assert_eq!(cfg_read(&mut h, 3, 0, 0x14, 4), 0xFFFF_F000);
    cfg_write(&mut h, 3, 0, 0x10, 4, 0xC040);
    cfg_write(&mut h, 3, 0, 0x14, 4, 0xFEBF_1234);
    assert_eq!(cfg_read(&mut h, 3, 0, 0x10, 4), 0xC041);
    assert_eq!(
        cfg_read(&mut h, 3, 0, 0x18, 4),
        0,
        "unimplemented BAR reads 0"
    );
    cfg_write(&mut h, 3, 0, 0x18, 4, 0xFFFF_FFFF);
    assert_eq!(cfg_read(&mut h, 3, 0, 0x18, 4), 0, "and is not writable");
    // Read-only identity, writable command/interrupt line.
    cfg_write(&mut h, 3, 0, 0x00, 4, 0);
    assert_eq!(cfg_read(&mut h, 3, 0, 0x00, 4), 0x1000_1AF4);
    cfg_write(&mut h, 3, 0, 0x04, 2, 0xFFFF);
    assert_eq!(cfg_read(&mut h, 3, 0, 0x04, 2), 0x0547);
    cfg_write(&mut h, 3, 0, 0x3C, 1, 11);
    assert_eq!(
        cfg_read(&mut h, 3, 0, 0x3C, 2),
        0x010B,
        "line 11, pin INTA#"
    );
    let f = h.bus.function_mut(3, 0).unwrap();
    assert_eq!(f.config_read(0x14, 4) & !0xF, 0xFEBF_1000);
}

#[test]
fn status_bits_are_write_one_to_clear() {
    let mut c = PciConfigSpace::new(0x8086, 0x1234, 0, 0, 0);
    c.set16(offset::STATUS, 0x8000 | 0x2000 | 0x0010);
    c.write(offset::STATUS, 2, 0x8000);
    assert_eq!(c.read(offset::STATUS, 2), 0x2010);
    c.write(offset::STATUS, 2, 0x0010);
    assert_eq!(
        c.read(offset::STATUS, 2),
        0x2010,
        "capability bit is read-only"
    );
}

#[test]
fn reset_control_register() {
    let mut h = PciHost::new(PciBus::with_chipset());
    h.write(1, 1, 0x02);
    assert!(!h.take_reset_request());
    assert_eq!(h.read(1, 1), 0x02);
    h.write(1, 1, 0x06);
    assert!(h.take_reset_request());
    assert!(!h.take_reset_request());
}

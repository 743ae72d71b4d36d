//! The set wired into a chipset and a physical memory, driven through PCI configuration ports
//! and MMIO as the kernel does: enumeration, BAR moves, a request and its interrupt at the PIC.

use webx86_mmu::{PhysAddr, PhysMemory};

use super::*;
use crate::chipset::{Chipset, ChipsetConfig};
use crate::virtio::queue::chain::VIRTQ_DESC_F_WRITE;
use crate::virtio::rng::{EntropySource, VirtioRng};
use crate::virtio::status;
use crate::virtio::transport::common_cfg::reg;
use crate::virtio::transport::layout::{ISR_OFFSET, NOTIFY_OFFSET};
use crate::virtio::{feature, VirtioConsole};

struct Fives;
impl EntropySource for Fives {
    fn fill(&mut self, buf: &mut [u8]) {
        buf.fill(5);
    }
}

fn cfg_addr(dev: u8, reg: u8) -> u32 {
    0x8000_0000 | u32::from(dev) << 11 | u32::from(reg)
}

fn cfg_read(pc: &mut Chipset, dev: u8, reg: u8) -> u32 {
    pc.io_write(0xCF8, 4, cfg_addr(dev, reg), 0);
    pc.io_read(0xCFC, 4, 0)
}

fn cfg_write(pc: &mut Chipset, dev: u8, reg: u8, v: u32) {
    pc.io_write(0xCF8, 4, cfg_addr(dev, reg), 0);
    pc.io_write(0xCFC, 4, v, 0);
}

fn machine() -> (Chipset, PhysMemory, VirtioPciSet) {
    let pc = Chipset::new(&ChipsetConfig {
        rtc_unix_time: 0,
        ram_bytes: 16 << 20,
        a20_enabled: true,
    });
    let mem = PhysMemory::new(16 << 20);
    (pc, mem, VirtioPciSet::new(PCI_HOLE_BASE, PCI_HOLE_LEN))
}

#[test]
fn functions_enumerate_with_firmware_bars_and_irqs() {
    let (mut pc, mut mem, mut set) = machine();
    let bus = &mut pc.devices.pci.bus;
    set.add(
        bus,
        PciSlot { device: 3, irq: 10 },
        VirtioRng::new(Box::new(Fives)),
    )
    .unwrap();
    set.add(
        bus,
        PciSlot { device: 4, irq: 11 },
        VirtioConsole::new(80, 25),
    )
    .unwrap();
    assert!(matches!(
        set.add(
            bus,
            PciSlot { device: 4, irq: 11 },
            VirtioConsole::new(1, 1)
        ),
        Err(VirtioSetError::Bus(_))
    ));
    assert!(matches!(
        set.add(bus, PciSlot { device: 5, irq: 2 }, VirtioConsole::new(1, 1)),
        Err(VirtioSetError::BadIrq(2))
    ));
    mem.map_mmio(PhysAddr(PCI_HOLE_BASE), PCI_HOLE_LEN, set.mmio_window());
    assert_eq!(set.irq_mask(), 1 << 10 | 1 << 11);

    assert_eq!(cfg_read(&mut pc, 3, 0), 0x1044_1AF4);
    assert_eq!(cfg_read(&mut pc, 4, 0), 0x1043_1AF4);
    assert_eq!(cfg_read(&mut pc, 3, 0x3C) & 0xFFFF, 0x010A);
    assert_eq!(cfg_read(&mut pc, 4, 0x3C) & 0xFFFF, 0x010B);
    let bar3 = cfg_read(&mut pc, 3, 0x10);
    let bar4 = cfg_read(&mut pc, 4, 0x10);
    assert_eq!(bar3, PCI_HOLE_BASE);
    assert_eq!(bar4, PCI_HOLE_BASE + 0x4000);
    assert_eq!(cfg_read(&mut pc, 3, 0x04) & 0x2, 0x2, "memory decoding on");
    // num_queues through each BAR.
    assert_eq!(mem.read(PhysAddr(bar3 + reg::NUM_QUEUES), 2), 1);
    assert_eq!(mem.read(PhysAddr(bar4 + reg::NUM_QUEUES), 2), 2);

    // The kernel moves a BAR (decoding off while it sizes and places it).
    cfg_write(&mut pc, 4, 0x04, 0);
    assert_eq!(mem.read(PhysAddr(bar4 + reg::NUM_QUEUES), 2), 0xFFFF);
    cfg_write(&mut pc, 4, 0x10, 0xFFFF_FFFF);
    assert_eq!(cfg_read(&mut pc, 4, 0x10), 0xFFFF_C000);
    cfg_write(&mut pc, 4, 0x10, 0xF000_0000);
    cfg_write(&mut pc, 4, 0x04, 0x6);
    assert_eq!(mem.read(PhysAddr(0xF000_0000 + reg::NUM_QUEUES), 2), 2);
    assert_eq!(mem.read(PhysAddr(bar4 + reg::NUM_QUEUES), 2), 0xFFFF);
    assert_eq!(mem.read(PhysAddr(bar3 + reg::NUM_QUEUES), 2), 1);
}

/// Linux's sequence through MMIO, a request in RAM, the interrupt at the PIC.
#[test]
fn request_through_mmio_interrupts_at_the_pic() {
    let (mut pc, mut mem, mut set) = machine();
    let bus = &mut pc.devices.pci.bus;
    let rng = set
        .add(
            bus,
            PciSlot { device: 3, irq: 10 },
            VirtioRng::new(Box::new(Fives)),
        )
        .unwrap();
    mem.map_mmio(PhysAddr(PCI_HOLE_BASE), PCI_HOLE_LEN, set.mmio_window());
    pc.devices.pic.set_elcr(set.irq_mask());
    // PIC initialised as Linux does, all unmasked.
    for (port, v) in [(0x20, 0x11), (0x21, 0x30), (0x21, 4), (0x21, 1)] {
        pc.io_write(port, 1, v, 0);
    }
    for (port, v) in [(0xA0, 0x11), (0xA1, 0x38), (0xA1, 2), (0xA1, 1)] {
        pc.io_write(port, 1, v, 0);
    }
    pc.io_write(0x21, 1, 0, 0);
    pc.io_write(0xA1, 1, 0, 0);

    let bar = PCI_HOLE_BASE;
    let w = |mem: &mut PhysMemory, r: u32, size: u8, v: u32| mem.write(PhysAddr(bar + r), size, v);
    w(&mut mem, reg::DEVICE_STATUS, 1, 3);
    w(&mut mem, reg::DRIVER_FEATURE_SELECT, 4, 1);
    w(
        &mut mem,
        reg::DRIVER_FEATURE,
        4,
        (feature::VERSION_1 >> 32) as u32,
    );
    w(
        &mut mem,
        reg::DEVICE_STATUS,
        1,
        3 | u32::from(status::FEATURES_OK),
    );
    assert_eq!(mem.read(PhysAddr(bar + reg::DEVICE_STATUS), 1), 0xB);
    let (desc, avail, used) = (0x10000u32, 0x11000u32, 0x12000u32);
    w(&mut mem, reg::QUEUE_SELECT, 2, 0);
    w(&mut mem, reg::QUEUE_SIZE, 2, 16);
    w(&mut mem, reg::QUEUE_DESC_LO, 4, desc);
    w(&mut mem, reg::QUEUE_DRIVER_LO, 4, avail);
    w(&mut mem, reg::QUEUE_DEVICE_LO, 4, used);
    w(&mut mem, reg::QUEUE_ENABLE, 2, 1);
    w(&mut mem, reg::DEVICE_STATUS, 1, 0xF);
    assert!(rng.borrow().live());

    // One 8-byte writable buffer at 0x20000.
    mem.write(PhysAddr(desc), 4, 0x20000);
    mem.write(PhysAddr(desc + 8), 4, 8);
    mem.write(PhysAddr(desc + 12), 2, u32::from(VIRTQ_DESC_F_WRITE));
    set.poll(&mut mem);
    let _ = set.take_irq_change();
    assert!(!set.needs_poll());
    mem.write(PhysAddr(avail + 4), 2, 0);
    mem.write(PhysAddr(avail + 2), 2, 1);
    let wake = set.wake();
    assert!(!wake.pending());
    mem.write(PhysAddr(bar + NOTIFY_OFFSET), 2, 0);
    assert!(wake.pending(), "the notification raises the wake flag");
    assert!(set.needs_poll(), "the notification asks for a poll");
    set.poll(&mut mem);
    assert!(!set.needs_poll());
    assert_eq!(mem.read(PhysAddr(used + 2), 2), 1, "used idx");
    assert_eq!(mem.read(PhysAddr(used + 8), 4), 8, "used len");
    assert_eq!(mem.read(PhysAddr(0x20000), 4), 0x0505_0505);
    assert!(set.take_irq_change());
    set.for_each_irq(|irq, level| pc.devices.pic.set_irq(irq, level));
    assert!(pc.intr());
    assert_eq!(pc.acknowledge(), 0x38 + 2, "IRQ 10");
    // The handler reads the ISR: the line drops.
    assert_eq!(mem.read(PhysAddr(bar + ISR_OFFSET), 1), 1);
    assert!(set.take_irq_change());
    set.for_each_irq(|irq, level| pc.devices.pic.set_irq(irq, level));
    pc.io_write(0xA0, 1, 0x20, 0);
    pc.io_write(0x20, 1, 0x20, 0);
    assert!(!pc.intr(), "level-triggered line is low again");
    assert!(set.take_notices().is_empty());
}

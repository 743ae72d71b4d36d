//! Where things are: the function's PCI configuration space with its virtio capabilities
//! (§4.1.4) and the regions of its memory BAR.
//!
//! BAR 0 is a 16 KiB non-prefetchable 32-bit memory BAR:
//!
//! | offset | region | capability |
//! |---|---|---|
//! | 0x0000 | common configuration (0x38 bytes) | `VIRTIO_PCI_CAP_COMMON_CFG` |
//! | 0x1000 | ISR status (1 byte) | `VIRTIO_PCI_CAP_ISR_CFG` |
//! | 0x2000 | device-specific configuration | `VIRTIO_PCI_CAP_DEVICE_CFG` (if any) |
//! | 0x3000 | queue notifications, 4 bytes per queue | `VIRTIO_PCI_CAP_NOTIFY_CFG` |
//!
//! A `VIRTIO_PCI_CAP_PCI_CFG` capability gives the alternative access through configuration
//! space that §4.1.4.9 requires every device to offer.

use crate::pci::config::offset;
use crate::pci::{BarKind, PciConfigSpace};
use crate::virtio::{VIRTIO_PCI_DEVICE_BASE, VIRTIO_PCI_VENDOR};

/// Size of BAR 0.
pub const BAR_SIZE: u32 = 0x4000;
/// Common configuration region.
pub const COMMON_OFFSET: u32 = 0x0000;
/// Length of the common configuration structure (virtio 1.0/1.1 layout).
pub const COMMON_LEN: u32 = 0x38;
/// ISR status region.
pub const ISR_OFFSET: u32 = 0x1000;
/// Device configuration region.
pub const DEVICE_OFFSET: u32 = 0x2000;
/// Largest device configuration region.
pub const DEVICE_MAX_LEN: u32 = 0x1000;
/// Notification region.
pub const NOTIFY_OFFSET: u32 = 0x3000;
/// Bytes between two queues' notification addresses.
pub const NOTIFY_OFF_MULTIPLIER: u32 = 4;

/// `cfg_type` values (§4.1.4).
pub mod cap_type {
    pub const COMMON_CFG: u8 = 1;
    pub const NOTIFY_CFG: u8 = 2;
    pub const ISR_CFG: u8 = 3;
    pub const DEVICE_CFG: u8 = 4;
    pub const PCI_CFG: u8 = 5;
}

/// Vendor-specific capability ID.
const CAP_ID_VENDOR: u8 = 0x09;
/// PCI status register: capabilities list present.
const STATUS_CAP_LIST: u16 = 1 << 4;
/// Configuration space offset of the capabilities pointer.
const CAP_POINTER: usize = 0x34;
/// Where the capability list starts.
const FIRST_CAP: u8 = 0x40;

/// Offset of the `VIRTIO_PCI_CAP_PCI_CFG` capability in configuration space.
pub const PCI_CFG_CAP: u16 = 0x88;
/// Its `bar` byte, `offset` and `length` dwords, and the `pci_cfg_data` window.
pub const PCI_CFG_BAR: u16 = PCI_CFG_CAP + 4;
pub const PCI_CFG_OFFSET: u16 = PCI_CFG_CAP + 8;
pub const PCI_CFG_LENGTH: u16 = PCI_CFG_CAP + 12;
pub const PCI_CFG_DATA: u16 = PCI_CFG_CAP + 16;

/// The configuration space of a virtio function of `device_type` with `queues` queues and
/// `device_cfg_len` bytes of device configuration, its INTA# wired to `irq`.
pub fn config_space(
    device_type: u16,
    class: u32,
    queues: u16,
    device_cfg_len: u32,
    irq: u8,
) -> PciConfigSpace {
    let device_id = VIRTIO_PCI_DEVICE_BASE.wrapping_add(device_type);
    // Revision 1 and subsystem ID >= 0x40: a modern-only device (§4.1.2.1).
    let mut c = PciConfigSpace::new(VIRTIO_PCI_VENDOR, device_id, 1, class, 0);
    c.set16(offset::SUBSYSTEM_VENDOR_ID, VIRTIO_PCI_VENDOR);
    c.set16(offset::SUBSYSTEM_VENDOR_ID + 2, 0x40 + device_type);
    c.set16(offset::STATUS, STATUS_CAP_LIST);
    c.add_bar(
        0,
        BAR_SIZE,
        BarKind::Memory {
            prefetchable: false,
        },
    );
    c.bytes[offset::INTERRUPT_LINE as usize] = irq;
    c.bytes[offset::INTERRUPT_PIN as usize] = 1;
    c.bytes[CAP_POINTER] = FIRST_CAP;

    let notify_len = u32::from(queues).max(1) * NOTIFY_OFF_MULTIPLIER;
    let mut caps: Vec<(u8, u32, u32)> = vec![
        (cap_type::COMMON_CFG, COMMON_OFFSET, COMMON_LEN),
        (cap_type::NOTIFY_CFG, NOTIFY_OFFSET, notify_len),
        (cap_type::ISR_CFG, ISR_OFFSET, 1),
    ];
    if device_cfg_len > 0 {
        caps.push((
            cap_type::DEVICE_CFG,
            DEVICE_OFFSET,
            device_cfg_len.min(DEVICE_MAX_LEN),
        ));
    }
    // Capabilities start on dword boundaries, each linked to the next; the configuration-
    // access capability, at its fixed place, ends the list.
    let mut at = FIRST_CAP as usize;
    let count = caps.len();
    for (i, (cfg_type, bar_offset, length)) in caps.into_iter().enumerate() {
        let len = if cfg_type == cap_type::NOTIFY_CFG {
            20
        } else {
            16
        };
        write_cap(&mut c, at, cfg_type, bar_offset, length, len as u8);
        if cfg_type == cap_type::NOTIFY_CFG {
            c.bytes[at + 16..at + 20].copy_from_slice(&NOTIFY_OFF_MULTIPLIER.to_le_bytes());
        }
        let next = (at + len + 3) & !3;
        c.bytes[at + 1] = if i + 1 < count {
            next as u8
        } else {
            PCI_CFG_CAP as u8
        };
        at = next;
    }
    debug_assert!(at <= PCI_CFG_CAP as usize);
    write_cap(&mut c, PCI_CFG_CAP as usize, cap_type::PCI_CFG, 0, 0, 20);
    // The driver chooses bar, offset and length; pci_cfg_data is handled by the transport.
    c.write_mask[PCI_CFG_BAR as usize] = 0xFF;
    for i in 0..4 {
        c.write_mask[PCI_CFG_OFFSET as usize + i] = 0xFF;
        c.write_mask[PCI_CFG_LENGTH as usize + i] = 0xFF;
    }
    c
}

/// Writes a `struct virtio_pci_cap` at `at`.
fn write_cap(
    c: &mut PciConfigSpace,
    at: usize,
    cfg_type: u8,
    bar_offset: u32,
    length: u32,
    cap_len: u8,
) {
    c.bytes[at] = CAP_ID_VENDOR;
    c.bytes[at + 1] = 0;
    c.bytes[at + 2] = cap_len;
    c.bytes[at + 3] = cfg_type;
    c.bytes[at + 4] = 0; // BAR 0
    c.bytes[at + 5] = 0; // id
    c.bytes[at + 8..at + 12].copy_from_slice(&bar_offset.to_le_bytes());
    c.bytes[at + 12..at + 16].copy_from_slice(&length.to_le_bytes());
}

//! A type-0 PCI configuration space with per-byte write masks, RW1C status bits and BARs that
//! answer the sizing protocol (write all ones, read back the size mask). PCI Local Bus
//! Specification 3.0 §6.1–6.2.5.

use serde::{Deserialize, Serialize};

/// Standard header offsets.
pub mod offset {
    pub const VENDOR_ID: u16 = 0x00;
    pub const DEVICE_ID: u16 = 0x02;
    pub const COMMAND: u16 = 0x04;
    pub const STATUS: u16 = 0x06;
    pub const REVISION: u16 = 0x08;
    pub const CLASS: u16 = 0x09;
    pub const LATENCY_TIMER: u16 = 0x0D;
    pub const HEADER_TYPE: u16 = 0x0E;
    pub const BAR0: u16 = 0x10;
    pub const SUBSYSTEM_VENDOR_ID: u16 = 0x2C;
    pub const INTERRUPT_LINE: u16 = 0x3C;
    pub const INTERRUPT_PIN: u16 = 0x3D;
}

/// What a BAR decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BarKind {
    /// I/O space (bit 0 set); size at least 4 bytes.
    Io,
    /// 32-bit memory space; size at least 16 bytes.
    Memory { prefetchable: bool },
}

/// 256 bytes of configuration space and what the guest may change in them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PciConfigSpace {
    pub bytes: Vec<u8>,
    /// Bits the guest can write.
    pub write_mask: Vec<u8>,
    /// Bits cleared by writing 1 (status register error bits).
    pub clear_mask: Vec<u8>,
}

impl PciConfigSpace {
    /// A header with the given identity, class code (`class << 16 | subclass << 8 | prog_if`)
    /// and header type; command register bits for I/O, memory, bus master, SERR, parity and
    /// INTx disable writable; status error bits RW1C; latency timer and interrupt line writable.
    pub fn new(vendor: u16, device: u16, revision: u8, class_code: u32, header_type: u8) -> Self {
        let mut c = PciConfigSpace {
            bytes: vec![0; 256],
            write_mask: vec![0; 256],
            clear_mask: vec![0; 256],
        };
        c.set16(offset::VENDOR_ID, vendor);
        c.set16(offset::DEVICE_ID, device);
        c.bytes[offset::REVISION as usize] = revision;
        c.bytes[0x09] = class_code as u8;
        c.bytes[0x0A] = (class_code >> 8) as u8;
        c.bytes[0x0B] = (class_code >> 16) as u8;
        c.bytes[offset::HEADER_TYPE as usize] = header_type;
        c.set_mask16(offset::COMMAND, 0x0547);
        c.clear_mask[offset::STATUS as usize + 1] = 0xF9;
        c.write_mask[offset::LATENCY_TIMER as usize] = 0xFF;
        c.write_mask[offset::INTERRUPT_LINE as usize] = 0xFF;
        c
    }

    /// Sets a 16-bit field (device-side, ignoring masks).
    pub fn set16(&mut self, off: u16, v: u16) {
        let o = off as usize & 0xFE;
        self.bytes[o..o + 2].copy_from_slice(&v.to_le_bytes());
    }

    /// Sets a 32-bit field (device-side).
    pub fn set32(&mut self, off: u16, v: u32) {
        let o = off as usize & 0xFC;
        self.bytes[o..o + 4].copy_from_slice(&v.to_le_bytes());
    }

    /// Makes bits of a 16-bit field guest-writable.
    pub fn set_mask16(&mut self, off: u16, mask: u16) {
        let o = off as usize & 0xFE;
        self.write_mask[o..o + 2].copy_from_slice(&mask.to_le_bytes());
    }

    /// Declares BAR `index` (0–5) of `size` bytes (a power of two). The address bits above the
    /// size become writable, so writing all ones reads back `!(size - 1) | type bits`.
    pub fn add_bar(&mut self, index: usize, size: u32, kind: BarKind) {
        let Some(off) = (index < 6).then(|| offset::BAR0 as usize + 4 * index) else {
            return;
        };
        let size = size.next_power_of_two();
        let (min, type_bits) = match kind {
            BarKind::Io => (4, 0x1),
            BarKind::Memory { prefetchable } => (16, (prefetchable as u32) << 3),
        };
        let mask = !(size.max(min) - 1);
        self.bytes[off..off + 4].copy_from_slice(&type_bits.to_le_bytes());
        self.write_mask[off..off + 4].copy_from_slice(&mask.to_le_bytes());
    }

    /// The base address BAR `index` holds (type bits stripped).
    pub fn bar_address(&self, index: usize) -> u32 {
        if index >= 6 {
            return 0;
        }
        let off = offset::BAR0 as usize + 4 * index;
        let raw = u32::from_le_bytes(self.bytes[off..off + 4].try_into().unwrap_or([0; 4]));
        if raw & 1 != 0 {
            raw & !0x3
        } else {
            raw & !0xF
        }
    }

    /// The command register.
    pub fn command(&self) -> u16 {
        u16::from_le_bytes([self.bytes[4], self.bytes[5]])
    }

    /// Reads `size` bytes at `off` (little endian); bytes past the end read as zero.
    pub fn read(&self, off: u16, size: u8) -> u32 {
        (0..size as usize).fold(0, |acc, i| {
            let b = self.bytes.get(off as usize + i).copied().unwrap_or(0);
            acc | (b as u32) << (8 * i)
        })
    }

    /// Writes `size` bytes at `off` through the write and RW1C masks.
    pub fn write(&mut self, off: u16, size: u8, value: u32) {
        for i in 0..size as usize {
            let o = off as usize + i;
            if o >= 256 {
                break;
            }
            let new = (value >> (8 * i)) as u8;
            let (m, c) = (self.write_mask[o], self.clear_mask[o]);
            self.bytes[o] = (self.bytes[o] & !m | new & m) & !(new & c);
        }
    }
}

/// A device with a standard configuration space only (bridges, placeholders).
impl super::PciDevice for PciConfigSpace {
    fn config_read(&mut self, offset: u16, size: u8) -> u32 {
        self.read(offset, size)
    }

    fn config_write(&mut self, offset: u16, size: u8, value: u32) {
        self.write(offset, size, value)
    }
}

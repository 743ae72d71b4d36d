//! Port I/O: the `PortIo` trait every port-mapped device implements, and `PortBus`, the map
//! from port ranges to devices.
//!
//! The bus is generic over a device key `K` (a small `Copy` enum or index chosen by the owner)
//! so that the owner keeps typed access to its devices: `lookup` tells which device and which
//! offset inside its window a port belongs to, and the owner dispatches. Ports nobody claims read
//! as all ones and swallow writes, as on an ISA bus with nothing decoding the address; the first
//! access to each such port is recorded as an [`UnknownPortNotice`] the machine prints once.

use std::fmt;

/// A device decoding a window of I/O ports.
///
/// `offset` is relative to the start of the window the device was registered at, never an
/// absolute port number. `size` is 1, 2 or 4 bytes; reads return the value in the low `size`
/// bytes, writes use the low `size` bytes of `value`.
pub trait PortIo {
    /// Reads `size` bytes at `offset` inside the device's window.
    fn read(&mut self, offset: u16, size: u8) -> u32;
    /// Writes the low `size` bytes of `value` at `offset` inside the device's window.
    fn write(&mut self, offset: u16, size: u8, value: u32);
}

/// How a device's window answers accesses wider than one byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortWidth {
    /// An 8-bit ISA device: a word or dword access is split into byte accesses at consecutive
    /// ports (which may belong to different devices), low byte first, as the ISA bus does.
    Byte,
    /// The device takes accesses of any size at once (PCI configuration ports, PCI I/O BARs).
    Any,
}

/// One registered window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange<K> {
    /// First port of the window.
    pub base: u16,
    /// Number of ports in the window (at least 1).
    pub len: u16,
    /// Which device decodes it.
    pub key: K,
    /// How wide accesses are handled.
    pub width: PortWidth,
}

/// The first access the guest made to a port no device decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownPortNotice {
    /// The port.
    pub port: u16,
    /// Access size in bytes.
    pub size: u8,
    /// `Some(value)` for a write, `None` for a read.
    pub written: Option<u32>,
}

impl fmt::Display for UnknownPortNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.written {
            Some(v) => write!(
                f,
                "unknown port {:#06x}: {}-byte write of {:#x} dropped (reported once per port)",
                self.port, self.size, v
            ),
            None => write!(
                f,
                "unknown port {:#06x}: {}-byte read answered with all ones (reported once per port)",
                self.port, self.size
            ),
        }
    }
}

/// Error from [`PortBus::insert`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortBusError {
    /// The window is empty or runs past port 0xFFFF.
    BadRange { base: u16, len: u16 },
    /// Part of the window is already claimed.
    Overlap { port: u16 },
}

impl fmt::Display for PortBusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortBusError::BadRange { base, len } => {
                write!(
                    f,
                    "port window {base:#06x}+{len} is empty or runs past 0xffff"
                )
            }
            PortBusError::Overlap { port } => write!(f, "port {port:#06x} is already claimed"),
        }
    }
}

impl std::error::Error for PortBusError {}

/// Maps port windows to device keys; remembers which unclaimed ports were already reported.
#[derive(Clone)]
pub struct PortBus<K> {
    ranges: Vec<PortRange<K>>,
    /// For each of the 65536 ports, 1 + index into `ranges`, or 0 if unclaimed.
    map: Vec<u16>,
    /// One bit per port: an unknown access to it was already reported.
    reported: Vec<u64>,
    notices: Vec<UnknownPortNotice>,
}

impl<K: Copy> Default for PortBus<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Copy> PortBus<K> {
    /// An empty bus: every port unclaimed.
    pub fn new() -> Self {
        PortBus {
            ranges: Vec::new(),
            map: vec![0; 0x10000],
            reported: vec![0; 0x10000 / 64],
            notices: Vec::new(),
        }
    }

    /// Claims `len` ports from `base` for `key`.
    pub fn insert(
        &mut self,
        base: u16,
        len: u16,
        key: K,
        width: PortWidth,
    ) -> Result<(), PortBusError> {
        let end = base as u32 + len as u32;
        if len == 0 || end > 0x10000 || self.ranges.len() >= u16::MAX as usize {
            return Err(PortBusError::BadRange { base, len });
        }
        if let Some(port) = (base as u32..end).find(|&p| self.map[p as usize] != 0) {
            return Err(PortBusError::Overlap { port: port as u16 });
        }
        self.ranges.push(PortRange {
            base,
            len,
            key,
            width,
        });
        let tag = self.ranges.len() as u16;
        for p in base as u32..end {
            self.map[p as usize] = tag;
        }
        Ok(())
    }

    /// Releases the window starting at `base` (e.g. a PCI I/O BAR being moved). Returns its key.
    pub fn remove(&mut self, base: u16) -> Option<K> {
        let tag = self.map[base as usize];
        if tag == 0 || self.ranges[tag as usize - 1].base != base {
            return None;
        }
        let idx = tag as usize - 1;
        let removed = self.ranges.remove(idx);
        // Rebuild the map: indices after `idx` shifted down by one.
        for entry in self.map.iter_mut() {
            if *entry == tag {
                *entry = 0;
            } else if *entry > tag {
                *entry -= 1;
            }
        }
        Some(removed.key)
    }

    /// The window containing `port`, if any.
    #[inline]
    pub fn lookup(&self, port: u16) -> Option<&PortRange<K>> {
        match self.map[port as usize] {
            0 => None,
            tag => Some(&self.ranges[tag as usize - 1]),
        }
    }

    /// All registered windows, in registration order.
    pub fn ranges(&self) -> &[PortRange<K>] {
        &self.ranges
    }

    /// Records an access to an unclaimed port; only the first one per port is kept.
    pub fn note_unknown(&mut self, port: u16, size: u8, written: Option<u32>) {
        let (word, bit) = (port as usize / 64, port % 64);
        if self.reported[word] & (1 << bit) == 0 {
            self.reported[word] |= 1 << bit;
            self.notices.push(UnknownPortNotice {
                port,
                size,
                written,
            });
        }
    }

    /// Takes the notices recorded since the last call (for the machine to print).
    pub fn take_notices(&mut self) -> Vec<UnknownPortNotice> {
        std::mem::take(&mut self.notices)
    }

    /// Reads through the bus, calling `dev(key, offset, size)` for the claimed parts.
    /// Byte-wide windows get one call per byte; unclaimed bytes read as 0xFF.
    pub fn read_with(
        &mut self,
        port: u16,
        size: u8,
        mut dev: impl FnMut(K, u16, u8) -> u32,
    ) -> u32 {
        let size = size.clamp(1, 4);
        if let Some(r) = self.lookup(port) {
            if r.width == PortWidth::Any {
                let (key, off) = (r.key, port - r.base);
                return dev(key, off, size) & size_mask(size);
            }
        }
        let mut value = 0u32;
        for i in 0..size {
            let p = port.wrapping_add(i as u16);
            let byte = match self.lookup(p) {
                Some(r) => {
                    let (key, off) = (r.key, p - r.base);
                    dev(key, off, 1) & 0xFF
                }
                None => {
                    self.note_unknown(p, size, None);
                    0xFF
                }
            };
            value |= byte << (8 * i);
        }
        value
    }

    /// Writes through the bus, calling `dev(key, offset, size, value)` for the claimed parts.
    pub fn write_with(
        &mut self,
        port: u16,
        size: u8,
        value: u32,
        mut dev: impl FnMut(K, u16, u8, u32),
    ) {
        let size = size.clamp(1, 4);
        if let Some(r) = self.lookup(port) {
            if r.width == PortWidth::Any {
                let (key, off) = (r.key, port - r.base);
                dev(key, off, size, value & size_mask(size));
                return;
            }
        }
        for i in 0..size {
            let p = port.wrapping_add(i as u16);
            let byte = (value >> (8 * i)) & 0xFF;
            match self.lookup(p) {
                Some(r) => {
                    let (key, off) = (r.key, p - r.base);
                    dev(key, off, 1, byte)
                }
                None => self.note_unknown(p, size, Some(value & size_mask(size))),
            }
        }
    }
}

/// Mask of the low `size` bytes.
#[inline]
pub fn size_mask(size: u8) -> u32 {
    match size {
        1 => 0xFF,
        2 => 0xFFFF,
        _ => 0xFFFF_FFFF,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Dev {
        A,
        B,
    }

    #[test]
    fn lookup_and_overlap() {
        let mut bus = PortBus::new();
        bus.insert(0x60, 1, Dev::A, PortWidth::Byte).unwrap();
        bus.insert(0x64, 1, Dev::A, PortWidth::Byte).unwrap();
        bus.insert(0x3F8, 8, Dev::B, PortWidth::Byte).unwrap();
        assert_eq!(
            bus.insert(0x3FF, 2, Dev::A, PortWidth::Byte),
            Err(PortBusError::Overlap { port: 0x3FF })
        );
        assert_eq!(
            bus.insert(0xFFFF, 2, Dev::A, PortWidth::Byte),
            Err(PortBusError::BadRange {
                base: 0xFFFF,
                len: 2
            })
        );
        let r = bus.lookup(0x3FC).unwrap();
        assert_eq!((r.key, 0x3FC - r.base), (Dev::B, 4));
        assert!(bus.lookup(0x61).is_none());
        assert_eq!(bus.remove(0x3F8), Some(Dev::B));
        assert!(bus.lookup(0x3FC).is_none());
        assert_eq!(bus.lookup(0x64).unwrap().key, Dev::A);
    }

    #[test]
    fn unknown_ports_read_ones_and_are_reported_once() {
        let mut bus: PortBus<Dev> = PortBus::new();
        for _ in 0..3 {
            assert_eq!(bus.read_with(0x1234, 2, |_, _, _| 0), 0xFFFF);
        }
        bus.write_with(0x1234, 1, 5, |_, _, _, _| {});
        let n = bus.take_notices();
        assert_eq!(n.len(), 2, "one per port: 0x1234 and 0x1235");
        assert_eq!(n[0].port, 0x1234);
        assert_eq!(n[1].port, 0x1235);
        assert!(bus.take_notices().is_empty());
        assert!(n[0].to_string().contains("0x1234"));
    }

    #[test]
    fn wide_access_to_byte_device_is_split() {
        let mut bus = PortBus::new();
        bus.insert(0x70, 2, Dev::A, PortWidth::Byte).unwrap();
        bus.insert(0xCF8, 8, Dev::B, PortWidth::Any).unwrap();
        let mut seen = Vec::new();
        let v = bus.read_with(0x70, 4, |k, off, size| {
            seen.push((k, off, size));
            0x10 + off as u32
        });
        // 0x72/0x73 unclaimed read 0xFF.
        assert_eq!(v, 0xFFFF_1110);
        assert_eq!(seen, vec![(Dev::A, 0, 1), (Dev::A, 1, 1)]);
        let mut w = Vec::new();
        bus.write_with(0xCFC, 4, 0xDEADBEEF, |k, off, size, val| {
            w.push((k, off, size, val))
        });
        assert_eq!(w, vec![(Dev::B, 4, 4, 0xDEADBEEF)]);
    }
}

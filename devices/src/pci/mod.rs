//! PCI: the `PciDevice` trait, bus 0 with its devices, and configuration mechanism #1 at
//! ports 0xCF8–0xCFF with the PIIX reset control register at 0xCF9.
//!
//! Mechanism #1 (PCI Local Bus Specification 3.0 §3.2.2.3.2): a dword write to 0xCF8 sets
//! CONFIG_ADDRESS (bit 31 enable, bus 23:16, device 15:11, function 10:8, register 7:2); byte,
//! word or dword accesses to 0xCFC–0xCFF then reach that register plus the port's low two bits.
//! Absent devices, other buses and disabled cycles read as all ones. Byte accesses to 0xCF9 are
//! the reset control register (bit 2 rising resets; bit 1 selects a hard reset).

pub mod config;
pub mod host_bridge;

use serde::{Deserialize, Serialize};

pub use config::{BarKind, PciConfigSpace};

/// A PCI function's configuration space.
///
/// `offset` is the byte offset in the 256-byte space; `size` is 1, 2 or 4 and the access never
/// crosses a dword boundary.
pub trait PciDevice {
    /// Reads configuration space.
    fn config_read(&mut self, offset: u16, size: u8) -> u32;
    /// Writes configuration space.
    fn config_write(&mut self, offset: u16, size: u8, value: u32);
}

/// Error from [`PciBus::insert`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PciBusError {
    /// Device number above 31 or function above 7.
    BadSlot { device: u8, function: u8 },
    /// The slot already holds a function.
    Occupied { device: u8, function: u8 },
}

impl std::fmt::Display for PciBusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PciBusError::BadSlot { device, function } => {
                write!(
                    f,
                    "PCI slot {device:02x}.{function} does not exist on a bus"
                )
            }
            PciBusError::Occupied { device, function } => {
                write!(f, "PCI slot 00:{device:02x}.{function} is already occupied")
            }
        }
    }
}

impl std::error::Error for PciBusError {}

/// Bus 0: up to 32 devices of up to 8 functions.
pub struct PciBus {
    functions: Vec<Option<Box<dyn PciDevice>>>,
}

impl Default for PciBus {
    fn default() -> Self {
        Self::new()
    }
}

impl PciBus {
    /// An empty bus.
    pub fn new() -> Self {
        PciBus {
            functions: (0..256).map(|_| None).collect(),
        }
    }

    /// The chipset's bus: host bridge at 00.0 and ISA bridge at 01.0.
    pub fn with_chipset() -> Self {
        let mut bus = Self::new();
        bus.functions[0] = Some(Box::new(host_bridge::host_bridge()));
        bus.functions[8] = Some(Box::new(host_bridge::isa_bridge()));
        bus
    }

    /// Plugs `dev` in at `device`.`function`.
    pub fn insert(
        &mut self,
        device: u8,
        function: u8,
        dev: Box<dyn PciDevice>,
    ) -> Result<(), PciBusError> {
        if device > 31 || function > 7 {
            return Err(PciBusError::BadSlot { device, function });
        }
        let slot = &mut self.functions[device as usize * 8 + function as usize];
        if slot.is_some() {
            return Err(PciBusError::Occupied { device, function });
        }
        *slot = Some(dev);
        Ok(())
    }

    /// The function at `device`.`function`, if present.
    pub fn function_mut(
        &mut self,
        device: u8,
        function: u8,
    ) -> Option<&mut (dyn PciDevice + 'static)> {
        if device > 31 || function > 7 {
            return None;
        }
        self.functions[device as usize * 8 + function as usize].as_deref_mut()
    }

    fn read(&mut self, devfn: u8, offset: u16, size: u8) -> u32 {
        match &mut self.functions[devfn as usize] {
            Some(d) => d.config_read(offset, size),
            None => crate::bus::size_mask(size),
        }
    }

    fn write(&mut self, devfn: u8, offset: u16, size: u8, value: u32) {
        if let Some(d) = &mut self.functions[devfn as usize] {
            d.config_write(offset, size, value);
        }
    }
}

/// The registers of configuration mechanism #1 and reset control.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PciHostState {
    /// CONFIG_ADDRESS (0xCF8).
    pub address: u32,
    /// Reset control register (0xCF9), bits 1 and 3.
    pub reset_control: u8,
    pub reset_requested: bool,
}

/// Ports 0xCF8–0xCFF in front of bus 0. Register the window with `PortWidth::Any`.
pub struct PciHost {
    pub state: PciHostState,
    pub bus: PciBus,
}

impl PciHost {
    /// First port of the window.
    pub const PORT: u16 = 0xCF8;
    /// Number of ports.
    pub const PORT_LEN: u16 = 8;

    /// The host in front of `bus`.
    pub fn new(bus: PciBus) -> Self {
        PciHost {
            state: PciHostState::default(),
            bus,
        }
    }

    /// Returns and clears a reset request from 0xCF9.
    pub fn take_reset_request(&mut self) -> bool {
        std::mem::take(&mut self.state.reset_requested)
    }

    /// The target of a data-port access at `offset` (4–7), if a configuration cycle is enabled
    /// for bus 0: (device/function, register byte offset).
    fn target(&self, offset: u16) -> Option<(u8, u16)> {
        let a = self.state.address;
        if a & 0x8000_0000 == 0 || (a >> 16) & 0xFF != 0 {
            return None;
        }
        Some(((a >> 8) as u8, (a & 0xFC) as u16 + (offset & 3)))
    }
}

impl crate::PortIo for PciHost {
    fn read(&mut self, offset: u16, size: u8) -> u32 {
        match (offset, size) {
            (0, 4) => self.state.address,
            (1, 1) => self.state.reset_control as u32,
            (4..=7, _) => {
                // Clip to the dword the access starts in.
                let size = size.min(4 - (offset & 3) as u8);
                match self.target(offset) {
                    Some((devfn, reg)) => self.bus.read(devfn, reg, size),
                    None => crate::bus::size_mask(size),
                }
            }
            _ => crate::bus::size_mask(size),
        }
    }

    fn write(&mut self, offset: u16, size: u8, value: u32) {
        match (offset, size) {
            (0, 4) => self.state.address = value & 0x80FF_FFFC,
            (1, 1) => {
                let v = value as u8;
                if v & 0x04 != 0 && self.state.reset_control & 0x04 == 0 {
                    self.state.reset_requested = true;
                }
                self.state.reset_control = v & 0x0A;
            }
            (4..=7, _) => {
                let size = size.min(4 - (offset & 3) as u8);
                if let Some((devfn, reg)) = self.target(offset) {
                    self.bus.write(devfn, reg, size, value);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;

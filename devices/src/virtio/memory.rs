//! Device access to guest memory (DMA), confined to RAM.
//!
//! Every address a virtio device touches comes from the guest (ring addresses, descriptor
//! buffers), so every access is checked against the RAM size first: an address or length
//! outside `[0, ram_size)` is an error the device turns into its error state, never a read of
//! ROM, of an MMIO window (which could be the device's own, already borrowed) or of host
//! memory.

use webx86_mmu::{PhysAddr, PhysMemory};

/// Guest RAM as a device sees it. Implemented by [`PhysMemory`]; tests use a plain byte
/// vector that asserts every access is inside it.
pub trait GuestMemory {
    /// Bytes of RAM from physical address 0.
    fn ram_size(&self) -> u32;
    /// Reads `buf.len()` bytes at `addr`. The caller guarantees `addr + buf.len() <= ram_size`.
    fn read_ram(&mut self, addr: u32, buf: &mut [u8]);
    /// Writes `data` at `addr`. The caller guarantees `addr + data.len() <= ram_size`.
    fn write_ram(&mut self, addr: u32, data: &[u8]);
}

impl GuestMemory for PhysMemory {
    fn ram_size(&self) -> u32 {
        PhysMemory::ram_size(self)
    }

    fn read_ram(&mut self, addr: u32, buf: &mut [u8]) {
        self.read_bytes(PhysAddr(addr), buf);
    }

    /// Goes through the physical map so that ROM shadowing RAM stays read-only and writes to
    /// pages holding decoded code invalidate that code.
    fn write_ram(&mut self, addr: u32, data: &[u8]) {
        self.write_bytes(PhysAddr(addr), data);
    }
}

/// A guest access outside RAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("guest address {addr:#x} + {len} bytes is outside the {ram_size:#x}-byte RAM")]
pub struct OutOfRam {
    pub addr: u64,
    pub len: u64,
    pub ram_size: u32,
}

/// Bounds-checked access to guest RAM.
pub struct GuestRam<'a> {
    mem: &'a mut dyn GuestMemory,
}

impl<'a> GuestRam<'a> {
    /// Wraps `mem`.
    pub fn new(mem: &'a mut dyn GuestMemory) -> Self {
        GuestRam { mem }
    }

    /// Bytes of RAM.
    pub fn ram_size(&self) -> u32 {
        self.mem.ram_size()
    }

    /// Checks that `[addr, addr + len)` lies inside RAM and returns `addr` as a 32-bit address.
    pub fn check(&self, addr: u64, len: u64) -> Result<u32, OutOfRam> {
        let ram_size = self.mem.ram_size();
        match addr.checked_add(len) {
            Some(end) if end <= u64::from(ram_size) => Ok(addr as u32),
            _ => Err(OutOfRam {
                addr,
                len,
                ram_size,
            }),
        }
    }

    /// Reads `buf.len()` bytes at `addr`.
    pub fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), OutOfRam> {
        let at = self.check(addr, buf.len() as u64)?;
        self.mem.read_ram(at, buf);
        Ok(())
    }

    /// Writes `data` at `addr`.
    pub fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), OutOfRam> {
        let at = self.check(addr, data.len() as u64)?;
        self.mem.write_ram(at, data);
        Ok(())
    }

    /// Reads a little-endian u16.
    pub fn read_u16(&mut self, addr: u64) -> Result<u16, OutOfRam> {
        let mut b = [0; 2];
        self.read(addr, &mut b)?;
        Ok(u16::from_le_bytes(b))
    }

    /// Reads a little-endian u32.
    pub fn read_u32(&mut self, addr: u64) -> Result<u32, OutOfRam> {
        let mut b = [0; 4];
        self.read(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// Reads a little-endian u64.
    pub fn read_u64(&mut self, addr: u64) -> Result<u64, OutOfRam> {
        let mut b = [0; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Writes a little-endian u16.
    pub fn write_u16(&mut self, addr: u64, v: u16) -> Result<(), OutOfRam> {
        self.write(addr, &v.to_le_bytes())
    }

    /// Writes a little-endian u32.
    pub fn write_u32(&mut self, addr: u64, v: u32) -> Result<(), OutOfRam> {
        self.write(addr, &v.to_le_bytes())
    }
}

//! How the CPU reaches the rest of the machine: port I/O and the interrupt line.
//! The root `Machine` implements this; the CPU knows nothing about devices.

use core::any::Any;

use webx86_mmu::PhysMemory;

use crate::{Cpu, RunExit};

/// Something a device asked of the CPU or the memory system, handed over after a port write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlatformRequest {
    /// The A20 gate (i8042 output port bit 1, port 0x92 bit 1) opened or closed.
    SetA20(bool),
    /// A system reset (i8042 command 0xFE, port 0x92 bit 0, port 0xCF9): the CPU stops with
    /// [`RunExit::Reset`] and the machine decides what a reset means.
    Reset,
}

/// The world outside the CPU, as the CPU sees it. `Any` lets the machine that boxed its platform
/// into the CPU reach its concrete type again (`cpu.platform_mut::<T>()`).
pub trait Platform: Any {
    /// IN: reads `size` (1, 2 or 4) bytes from `port`.
    fn io_read(&mut self, port: u16, size: u8) -> u32;
    /// OUT: writes the low `size` bytes of `value` to `port`.
    fn io_write(&mut self, port: u16, size: u8, value: u32);
    /// Whether the INTR line is asserted (a maskable interrupt is waiting).
    fn interrupt_pending(&mut self) -> bool {
        false
    }
    /// INTA cycle: the vector of the highest-priority pending interrupt, if one is still pending.
    fn acknowledge_interrupt(&mut self) -> Option<u8> {
        None
    }
    /// The time-stamp counter for RDTSC, given instructions retired so far. The default is one
    /// tick per instruction (deterministic).
    fn timestamp(&mut self, retired: u64) -> u64 {
        retired
    }
    /// Told the instructions retired so far just before each port access, so devices can be
    /// brought up to the current time first (the count lags by at most the current block).
    fn sync_time(&mut self, _retired: u64) {}
    /// After each port write: a request the write made of the CPU or memory, if any. Called
    /// until it returns `None`.
    fn take_request(&mut self) -> Option<PlatformRequest> {
        None
    }
    /// FERR#: an x87 instruction found an unmasked exception pending while CR0.NE is clear
    /// (MS-DOS-compatible error reporting). A PC raises IRQ 13 for it; the instruction then
    /// proceeds as if IGNNE# were asserted.
    fn fpu_error(&mut self) {}
    /// A write reached an MMIO window (before the next instruction runs): devices that need
    /// guest memory to act on it (a virtio queue notification) may do so now through `mem`.
    fn mmio_written(&mut self, _mem: &mut PhysMemory) {}
}

impl Cpu {
    /// IN / INS: reads a port through the platform, after letting it catch up with time.
    pub(crate) fn port_read(&mut self, port: u16, size: u8) -> u32 {
        self.platform.sync_time(self.state.retired);
        self.platform.io_read(port, size)
    }

    /// OUT / OUTS: writes a port through the platform, then carries out what the write asked
    /// of the CPU (the A20 gate, a reset).
    pub(crate) fn port_write(&mut self, port: u16, size: u8, value: u32) {
        self.platform.sync_time(self.state.retired);
        self.platform.io_write(port, size, value);
        while let Some(request) = self.platform.take_request() {
            match request {
                PlatformRequest::SetA20(enabled) => {
                    // Physical addresses change under every linear one: drop translations
                    // (set_a20 flushes the TLB) and the decoded blocks found through them.
                    if enabled != self.mmu.a20_enabled() {
                        self.mmu.set_a20(enabled);
                        self.cache.clear();
                        self.end_block = true;
                    }
                }
                PlatformRequest::Reset => {
                    self.exit = Some(RunExit::Reset);
                    self.end_block = true;
                }
            }
        }
    }

    /// The platform as its concrete type `T`, if it is one.
    pub fn platform_mut<T: Platform>(&mut self) -> Option<&mut T> {
        let platform: &mut dyn Any = self.platform.as_mut();
        platform.downcast_mut::<T>()
    }
}

/// A platform with nothing attached: reads float high, writes vanish, no interrupts.
#[derive(Default)]
pub struct NullPlatform;

impl Platform for NullPlatform {
    fn io_read(&mut self, _port: u16, size: u8) -> u32 {
        u32::MAX >> (32 - 8 * u32::from(size.clamp(1, 4)))
    }
    fn io_write(&mut self, _port: u16, _size: u8, _value: u32) {}
}

//! How the CPU reaches the rest of the machine: port I/O and the interrupt line.
//! The root `Machine` implements this; the CPU knows nothing about devices.

/// The world outside the CPU, as the CPU sees it.
pub trait Platform {
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
    /// FERR#: an x87 instruction found an unmasked exception pending while CR0.NE is clear
    /// (MS-DOS-compatible error reporting). A PC raises IRQ 13 for it; the instruction then
    /// proceeds as if IGNNE# were asserted.
    fn fpu_error(&mut self) {}
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

//! The PC's small system ports: system control port B (0x61), the PS/2 system control port A
//! with fast A20 and reset (0x92), the POST code port (0x80) and the Bochs/QEMU debug port
//! (0xE9).

use serde::{Deserialize, Serialize};

/// DRAM refresh request period the AT's refresh toggle follows (bit 4 of port 0x61).
pub const REFRESH_PERIOD_NS: u64 = 15_085;

/// System control port B (0x61).
///
/// Bits 0–3 are read/write: 0 = PIT channel 2 gate, 1 = speaker data enable, 2 = parity check
/// disable, 3 = channel check disable. Bits 4–7 are read-only: 4 = refresh toggle (flips every
/// 15.085 µs), 5 = PIT channel 2 OUT, 6 and 7 = channel check / parity error (never set here).
/// The port only stores its bits; the owner wires bit 0 to the PIT gate (`Pit::set_gate(2, ..)`)
/// and feeds OUT2 into [`SystemControlB::read`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemControlB {
    /// The writable low nibble.
    pub bits: u8,
}

impl SystemControlB {
    /// The port.
    pub const PORT: u16 = 0x61;

    /// The value a read returns at machine time `now_ns` with PIT channel 2's OUT at `out2`.
    pub fn read(&self, out2: bool, now_ns: u64) -> u8 {
        let refresh = (now_ns / REFRESH_PERIOD_NS) & 1 == 1;
        self.bits | (refresh as u8) << 4 | (out2 as u8) << 5
    }

    /// Stores the writable bits; returns the new PIT channel 2 gate level.
    pub fn write(&mut self, value: u8) -> bool {
        self.bits = value & 0x0F;
        self.gate2()
    }

    /// PIT channel 2 gate (bit 0).
    pub fn gate2(&self) -> bool {
        self.bits & 0x01 != 0
    }

    /// Speaker data enable (bit 1): the speaker sounds channel 2's OUT when both bits are set.
    pub fn speaker_enabled(&self) -> bool {
        self.bits & 0x03 == 0x03
    }
}

/// System control port A (0x92): bit 1 = fast A20 gate, bit 0 = fast reset (a 0 → 1 transition
/// resets the CPU). Other bits are stored and read back.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FastA20Port {
    pub value: u8,
    pub reset_requested: bool,
}

impl FastA20Port {
    /// The port.
    pub const PORT: u16 = 0x92;

    /// Whether the fast A20 gate is open.
    pub fn a20(&self) -> bool {
        self.value & 0x02 != 0
    }

    /// Opens or closes the gate as firmware would.
    pub fn set_a20(&mut self, enabled: bool) {
        self.value = (self.value & !0x02) | (enabled as u8) << 1;
    }

    /// Returns and clears a reset request.
    pub fn take_reset_request(&mut self) -> bool {
        std::mem::take(&mut self.reset_requested)
    }
}

impl crate::PortIo for FastA20Port {
    fn read(&mut self, _offset: u16, _size: u8) -> u32 {
        self.value as u32
    }

    fn write(&mut self, _offset: u16, _size: u8, value: u32) {
        let value = value as u8;
        if value & 0x01 != 0 && self.value & 0x01 == 0 {
            self.reset_requested = true;
        }
        // The reset bit reads back as written until the reset happens; keep it so that a
        // second write of 1 is not another transition.
        self.value = value;
    }
}

/// Port 0x80: POST codes. Linux writes it for I/O delays; the last code is kept for debugging.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostPort {
    pub last: u8,
}

impl PostPort {
    /// The port.
    pub const PORT: u16 = 0x80;
}

impl crate::PortIo for PostPort {
    fn read(&mut self, _offset: u16, _size: u8) -> u32 {
        self.last as u32
    }

    fn write(&mut self, _offset: u16, _size: u8, value: u32) {
        self.last = value as u8;
    }
}

/// Port 0xE9: bytes written go to an output buffer the machine drains; reads return 0xE9 (the
/// Bochs convention guests use to detect the port).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DebugPort {
    pub output: Vec<u8>,
}

impl DebugPort {
    /// The port.
    pub const PORT: u16 = 0xE9;

    /// Takes the bytes written since the last call.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }
}

impl crate::PortIo for DebugPort {
    fn read(&mut self, _offset: u16, _size: u8) -> u32 {
        0xE9
    }

    fn write(&mut self, _offset: u16, _size: u8, value: u32) {
        self.output.push(value as u8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PortIo;

    #[test]
    fn port61_bits_refresh_toggle_and_out2() {
        let mut p = SystemControlB::default();
        assert!(p.write(0xFF), "gate 2 on");
        assert_eq!(p.read(false, 0), 0x0F, "only the low nibble is writable");
        assert_eq!(p.read(true, 0) & 0x20, 0x20);
        assert_eq!(p.read(false, REFRESH_PERIOD_NS - 1) & 0x10, 0);
        assert_eq!(p.read(false, REFRESH_PERIOD_NS) & 0x10, 0x10);
        assert_eq!(p.read(false, 2 * REFRESH_PERIOD_NS) & 0x10, 0);
        assert!(p.speaker_enabled());
        assert!(!p.write(0x02));
        assert!(!p.speaker_enabled());
    }

    #[test]
    fn port92_a20_and_reset_on_rising_bit0() {
        let mut p = FastA20Port::default();
        assert!(!p.a20());
        p.write(0, 1, 0x02);
        assert!(p.a20());
        assert!(!p.take_reset_request());
        assert_eq!(p.read(0, 1), 0x02);
        p.write(0, 1, 0x03);
        assert!(p.take_reset_request());
        p.write(0, 1, 0x03);
        assert!(!p.take_reset_request(), "no transition, no reset");
        p.set_a20(false);
        assert_eq!(p.read(0, 1), 0x01);
    }

    #[test]
    fn post_and_debug_ports() {
        let mut post = PostPort::default();
        post.write(0, 1, 0x3C);
        assert_eq!(post.read(0, 1), 0x3C);
        let mut dbg = DebugPort::default();
        assert_eq!(dbg.read(0, 1), 0xE9);
        for &b in b"hi\n" {
            dbg.write(0, 1, b as u32);
        }
        assert_eq!(dbg.take_output(), b"hi\n");
        assert!(dbg.take_output().is_empty());
    }
}

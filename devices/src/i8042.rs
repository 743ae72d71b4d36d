//! Intel 8042 keyboard controller (data port 0x60, status/command port 0x64; IRQ 1 for the
//! keyboard, IRQ 12 for the auxiliary (mouse) port) with a PS/2 keyboard and a PS/2 mouse.
//!
//! Enough of the controller for the Linux i8042/atkbd/psmouse probes: self-test (0xAA → 0x55),
//! interface tests, command byte read/write, keyboard and aux port enable/disable, aux loopback
//! (0xD3) and writes to the aux device (0xD4), output port read/write (bit 0 = CPU reset, active
//! low; bit 1 = A20 gate), pulse output lines (0xFE resets the CPU). Devices cannot touch the
//! CPU: the machine polls [`I8042::a20`] and [`I8042::take_reset_request`].
//!
//! The output buffer holds one byte; further bytes wait in queues and move into it when it is
//! empty, at the next status read or [`I8042::advance`] — never within the same data-port read,
//! so each byte gives the PIC a fresh IRQ edge. Key input: [`I8042::push_keyboard_bytes`] takes
//! bytes exactly as the guest should read them (set 1 codes while the command byte asks for
//! translation, which is how Linux runs it).

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Controller command byte bits.
pub mod ctr {
    pub const KBD_INT: u8 = 0x01;
    pub const AUX_INT: u8 = 0x02;
    pub const SYSTEM: u8 = 0x04;
    pub const KBD_DISABLE: u8 = 0x10;
    pub const AUX_DISABLE: u8 = 0x20;
    pub const XLATE: u8 = 0x40;
}

/// Status register bits.
pub mod status {
    pub const OBF: u8 = 0x01;
    pub const SYSTEM: u8 = 0x04;
    pub const COMMAND: u8 = 0x08;
    pub const UNLOCKED: u8 = 0x10;
    pub const AUX_DATA: u8 = 0x20;
}

const ACK: u8 = 0xFA;
const RESEND: u8 = 0xFE;

/// The PS/2 keyboard behind the controller's first port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ps2Keyboard {
    /// Bytes for the controller, oldest first.
    pub queue: VecDeque<u8>,
    /// A command waiting for its parameter byte.
    pub awaiting: Option<u8>,
    pub scanning: bool,
    pub scancode_set: u8,
    pub leds: u8,
    pub typematic: u8,
    pub last_sent: u8,
}

impl Ps2Keyboard {
    fn new() -> Self {
        Ps2Keyboard {
            queue: VecDeque::new(),
            awaiting: None,
            scanning: true,
            scancode_set: 2,
            leds: 0,
            typematic: 0x2B,
            last_sent: 0,
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.queue.extend(bytes);
        if let Some(&b) = bytes.last() {
            self.last_sent = b;
        }
    }

    /// A byte from the host (through the controller's data port).
    fn command(&mut self, byte: u8) {
        if let Some(cmd) = self.awaiting.take() {
            match cmd {
                0xED => self.leds = byte & 7,
                0xF3 => self.typematic = byte & 0x7F,
                _ => {
                    // 0xF0: 0 queries the set; 1–3 select one.
                    if byte == 0 {
                        let set = self.scancode_set;
                        return self.send(&[ACK, set]);
                    }
                    if (1..=3).contains(&byte) {
                        self.scancode_set = byte;
                    } else {
                        return self.send(&[RESEND]);
                    }
                }
            }
            return self.send(&[ACK]);
        }
        match byte {
            0xED | 0xF0 | 0xF3 => {
                self.awaiting = Some(byte);
                self.send(&[ACK]);
            }
            0xEE => self.send(&[0xEE]),
            0xF2 => self.send(&[ACK, 0xAB, 0x83]),
            0xF4 => {
                self.scanning = true;
                self.send(&[ACK]);
            }
            0xF5 => {
                self.scanning = false;
                self.defaults();
                self.send(&[ACK]);
            }
            0xF6 => {
                self.defaults();
                self.send(&[ACK]);
            }
            0xF7..=0xFD => self.send(&[ACK]), // scan code set 3 key types: accepted
            0xFE => {
                let last = self.last_sent;
                self.queue.push_back(last);
            }
            0xFF => {
                self.queue.clear();
                self.defaults();
                self.scanning = true;
                self.send(&[ACK, 0xAA]);
            }
            _ => self.send(&[RESEND]),
        }
    }

    fn defaults(&mut self) {
        self.scancode_set = 2;
        self.typematic = 0x2B;
        self.leds = 0;
    }
}

/// A PS/2 mouse (three-byte packets, no wheel) behind the auxiliary port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ps2Mouse {
    pub queue: VecDeque<u8>,
    pub awaiting: Option<u8>,
    pub reporting: bool,
    pub remote: bool,
    pub wrap: bool,
    pub scaling_2to1: bool,
    pub resolution: u8,
    pub sample_rate: u8,
}

impl Ps2Mouse {
    fn new() -> Self {
        Ps2Mouse {
            queue: VecDeque::new(),
            awaiting: None,
            reporting: false,
            remote: false,
            wrap: false,
            scaling_2to1: false,
            resolution: 2,
            sample_rate: 100,
        }
    }

    fn defaults(&mut self) {
        self.reporting = false;
        self.scaling_2to1 = false;
        self.resolution = 2;
        self.sample_rate = 100;
    }

    fn status_bytes(&self) -> [u8; 3] {
        let b0 =
            (self.remote as u8) << 6 | (self.reporting as u8) << 5 | (self.scaling_2to1 as u8) << 4;
        [b0, self.resolution, self.sample_rate]
    }

    fn command(&mut self, byte: u8) {
        if let Some(cmd) = self.awaiting.take() {
            match cmd {
                0xE8 => self.resolution = byte & 3,
                _ => self.sample_rate = byte,
            }
            return self.queue.push_back(ACK);
        }
        if self.wrap && byte != 0xEC && byte != 0xFF {
            return self.queue.push_back(byte);
        }
        match byte {
            0xE6 | 0xE7 => {
                self.scaling_2to1 = byte == 0xE7;
                self.queue.push_back(ACK);
            }
            0xE8 | 0xF3 => {
                self.awaiting = Some(byte);
                self.queue.push_back(ACK);
            }
            0xE9 => {
                self.queue.push_back(ACK);
                let s = self.status_bytes();
                self.queue.extend(s);
            }
            0xEA | 0xF0 => {
                self.remote = byte == 0xF0;
                self.queue.push_back(ACK);
            }
            0xEB => self.queue.extend([ACK, 0x08, 0, 0]),
            0xEC | 0xEE => {
                self.wrap = byte == 0xEE;
                self.queue.push_back(ACK);
            }
            0xF2 => self.queue.extend([ACK, 0x00]),
            0xF4 | 0xF5 => {
                self.reporting = byte == 0xF4;
                self.queue.push_back(ACK);
            }
            0xF6 => {
                self.defaults();
                self.queue.push_back(ACK);
            }
            0xFF => {
                self.queue.clear();
                self.defaults();
                self.wrap = false;
                self.remote = false;
                self.queue.extend([ACK, 0xAA, 0x00]);
            }
            _ => self.queue.push_back(RESEND),
        }
    }
}

/// The keyboard controller with its two devices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct I8042 {
    /// The byte in the output buffer and whether it came from the aux port.
    pub obf: Option<(u8, bool)>,
    /// Controller responses (and 0xD2/0xD3 injections), with their aux flag.
    pub responses: VecDeque<(u8, bool)>,
    pub command_byte: u8,
    /// A controller command waiting for its data byte.
    pub awaiting: Option<u8>,
    /// Output port: bit 0 = reset line (active low), bit 1 = A20 gate.
    pub output_port: u8,
    /// Status bit 2: set after a successful self-test or via the command byte.
    pub system_flag: bool,
    /// The last write went to the command port (status bit 3).
    pub last_write_command: bool,
    pub reset_requested: bool,
    pub keyboard: Ps2Keyboard,
    pub mouse: Ps2Mouse,
}

impl Default for I8042 {
    fn default() -> Self {
        Self::new()
    }
}

impl I8042 {
    /// Data port (one port).
    pub const DATA_PORT: u16 = 0x60;
    /// Status/command port (one port).
    pub const COMMAND_PORT: u16 = 0x64;
    /// Keyboard IRQ.
    pub const KBD_IRQ: u8 = 1;
    /// Aux (mouse) IRQ.
    pub const AUX_IRQ: u8 = 12;

    /// The state PC firmware leaves: keyboard interrupt on, translation on, system flag set,
    /// A20 gate off, reset line high.
    pub fn new() -> Self {
        I8042 {
            obf: None,
            responses: VecDeque::new(),
            command_byte: ctr::KBD_INT | ctr::SYSTEM | ctr::XLATE,
            awaiting: None,
            output_port: 0x01,
            system_flag: true,
            last_write_command: false,
            reset_requested: false,
            keyboard: Ps2Keyboard::new(),
            mouse: Ps2Mouse::new(),
        }
    }

    /// Whether the output port's A20 gate is open.
    pub fn a20(&self) -> bool {
        self.output_port & 0x02 != 0
    }

    /// Returns and clears a CPU reset request (0xFE pulse or output port bit 0 low).
    pub fn take_reset_request(&mut self) -> bool {
        std::mem::take(&mut self.reset_requested)
    }

    /// Key input from the machine: bytes the guest will read from port 0x60, if scanning is on.
    pub fn push_keyboard_bytes(&mut self, bytes: &[u8]) {
        if self.keyboard.scanning {
            self.keyboard.queue.extend(bytes);
            self.refill();
        }
    }

    /// Lets queued bytes move into an empty output buffer (call at time steps).
    pub fn advance(&mut self) {
        self.refill();
    }

    /// Level of IRQ 1.
    pub fn kbd_irq(&self) -> bool {
        matches!(self.obf, Some((_, false))) && self.command_byte & ctr::KBD_INT != 0
    }

    /// Level of IRQ 12.
    pub fn aux_irq(&self) -> bool {
        matches!(self.obf, Some((_, true))) && self.command_byte & ctr::AUX_INT != 0
    }

    fn refill(&mut self) {
        if self.obf.is_some() {
            return;
        }
        self.obf = if let Some(r) = self.responses.pop_front() {
            Some(r)
        } else if self.command_byte & ctr::KBD_DISABLE == 0 && !self.keyboard.queue.is_empty() {
            self.keyboard.queue.pop_front().map(|b| (b, false))
        } else if self.command_byte & ctr::AUX_DISABLE == 0 && !self.mouse.queue.is_empty() {
            self.mouse.queue.pop_front().map(|b| (b, true))
        } else {
            None
        };
    }

    fn respond(&mut self, byte: u8) {
        self.responses.push_back((byte, false));
        self.refill();
    }

    fn write_output_port(&mut self, value: u8) {
        self.output_port = value;
        if value & 0x01 == 0 {
            self.reset_requested = true;
        }
    }

    fn status(&mut self) -> u8 {
        self.refill();
        let (obf, aux) = match self.obf {
            Some((_, aux)) => (status::OBF, aux),
            None => (0, false),
        };
        obf | ((aux as u8) * status::AUX_DATA)
            | ((self.system_flag as u8) * status::SYSTEM)
            | ((self.last_write_command as u8) * status::COMMAND)
            | status::UNLOCKED
    }

    fn command(&mut self, cmd: u8) {
        match cmd {
            0x20 => self.respond(self.command_byte),
            0x21..=0x3F => self.respond(0),
            0x60..=0x7F | 0xD1..=0xD4 => self.awaiting = Some(cmd),
            0xA7 => self.command_byte |= ctr::AUX_DISABLE,
            0xA8 => self.command_byte &= !ctr::AUX_DISABLE,
            0xA9 | 0xAB => self.respond(0x00),
            0xAA => {
                self.system_flag = true;
                self.respond(0x55);
            }
            0xAD => self.command_byte |= ctr::KBD_DISABLE,
            0xAE => self.command_byte &= !ctr::KBD_DISABLE,
            0xC0 => self.respond(0xFF),
            0xD0 => {
                let obf_bits = match self.obf {
                    Some((_, false)) => 0x10,
                    Some((_, true)) => 0x20,
                    None => 0,
                };
                self.respond(self.output_port & 0xCF | obf_bits);
            }
            0xDD => self.output_port &= !0x02,
            0xDF => self.output_port |= 0x02,
            0xE0 => self.respond(0x00),
            // Pulse the output lines whose bits are 0; line 0 is the CPU reset.
            0xF0..=0xFF if cmd & 0x01 == 0 => self.reset_requested = true,
            _ => {} // Undefined commands are ignored by the controller.
        }
    }

    fn data(&mut self, byte: u8) {
        match self.awaiting.take() {
            Some(0x60) => {
                self.command_byte = byte;
                self.system_flag = byte & ctr::SYSTEM != 0;
            }
            Some(0xD1) => self.write_output_port(byte),
            Some(0xD2) => self.responses.push_back((byte, false)),
            Some(0xD3) => self.responses.push_back((byte, true)),
            Some(0xD4) => {
                self.command_byte &= !ctr::AUX_DISABLE;
                self.mouse.command(byte);
            }
            Some(_) => {} // Controller RAM writes (0x61–0x7F) are not kept.
            None => {
                self.command_byte &= !ctr::KBD_DISABLE;
                self.keyboard.command(byte);
            }
        }
        self.refill();
    }
}

/// Offsets are relative to port 0x60: 0 = data, 4 = status/command (0x61–0x63 belong to other
/// devices; register the controller as two one-port windows or as 0x60–0x64 with a hole).
impl crate::PortIo for I8042 {
    fn read(&mut self, offset: u16, _size: u8) -> u32 {
        match offset {
            0 => match self.obf.take() {
                Some((b, _)) => b as u32,
                None => 0x00,
            },
            4 => self.status() as u32,
            _ => 0xFF,
        }
    }

    fn write(&mut self, offset: u16, _size: u8, value: u32) {
        match offset {
            0 => {
                self.last_write_command = false;
                self.data(value as u8);
            }
            4 => {
                self.last_write_command = true;
                self.command(value as u8);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
#[path = "i8042_tests.rs"]
mod tests;

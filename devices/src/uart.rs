//! National Semiconductor 16550A UART (COM1: ports 0x3F8–0x3FF, IRQ 4).
//!
//! The transmitter is infinitely fast: a byte written to THR goes at once to the output buffer
//! the machine drains with [`Uart16550::take_output`] (or, in loopback mode, into the receiver).
//! Input arrives through [`Uart16550::receive`]; [`Uart16550::rx_space`] says how many bytes fit
//! without an overrun, so the machine can hold back the rest. Time comes from
//! [`Uart16550::advance`] and is only needed for the FIFO character-timeout interrupt (four
//! character times without receiver activity, from the divisor and line format).
//!
//! Interrupts follow the datasheet's IIR priorities: receiver line status, received data
//! available / character timeout, THR empty, modem status. The THRE interrupt is raised when THR
//! empties and when IER's ETBEI bit goes from 0 to 1 while THR is empty, and is cleared by reading
//! IIR (when THRE is the interrupt it reports) or by writing THR, which the Linux 8250 driver's
//! `UART_BUG_THRE` probe relies on. The IRQ line is gated by MCR OUT2 as on the PC, and held
//! inactive in loopback mode.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

const FIFO_SIZE: usize = 16;

/// IER bits.
pub mod ier {
    pub const RX_DATA: u8 = 0x01;
    pub const THRE: u8 = 0x02;
    pub const LINE_STATUS: u8 = 0x04;
    pub const MODEM_STATUS: u8 = 0x08;
}

/// LSR bits.
pub mod lsr {
    pub const DATA_READY: u8 = 0x01;
    pub const OVERRUN: u8 = 0x02;
    pub const PARITY: u8 = 0x04;
    pub const FRAMING: u8 = 0x08;
    pub const BREAK: u8 = 0x10;
    pub const THRE: u8 = 0x20;
    pub const TEMT: u8 = 0x40;
    pub const ERRORS: u8 = OVERRUN | PARITY | FRAMING | BREAK;
}

/// MCR bits.
pub mod mcr {
    pub const DTR: u8 = 0x01;
    pub const RTS: u8 = 0x02;
    pub const OUT1: u8 = 0x04;
    pub const OUT2: u8 = 0x08;
    pub const LOOP: u8 = 0x10;
}

/// MSR status bits (the high nibble; the low nibble holds their change flags).
pub mod msr {
    pub const CTS: u8 = 0x10;
    pub const DSR: u8 = 0x20;
    pub const RI: u8 = 0x40;
    pub const DCD: u8 = 0x80;
}

/// IIR interrupt identification values (bits 3:0).
pub mod iir {
    pub const NONE: u8 = 0x01;
    pub const MODEM_STATUS: u8 = 0x00;
    pub const THRE: u8 = 0x02;
    pub const RX_DATA: u8 = 0x04;
    pub const LINE_STATUS: u8 = 0x06;
    pub const RX_TIMEOUT: u8 = 0x0C;
    /// Bits 7:6 when the FIFOs are enabled.
    pub const FIFO_ENABLED: u8 = 0xC0;
}

/// A 16550A.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uart16550 {
    /// Received bytes not yet read (at most 16 with FIFOs, 1 without).
    pub rx: VecDeque<u8>,
    /// Bytes transmitted, waiting for the machine.
    pub output: Vec<u8>,
    pub ier: u8,
    pub lcr: u8,
    pub mcr: u8,
    /// Error bits of LSR (OE, PE, FE, BI); the others are computed.
    pub lsr_errors: u8,
    /// Modem status: line levels in bits 7:4, change flags in bits 3:0.
    pub msr: u8,
    pub scr: u8,
    pub divisor: u16,
    pub fifo_enabled: bool,
    /// Receiver FIFO trigger level in bytes (1, 4, 8 or 14).
    pub rx_trigger: u8,
    /// THR-empty interrupt pending.
    pub thre_pending: bool,
    /// Levels of the external modem inputs (CTS, DSR, RI, DCD in MSR bit positions).
    pub modem_inputs: u8,
    /// Last received byte (what RBR reads when the receiver is empty).
    pub last_rx: u8,
    /// Machine time of the last `advance`.
    pub now_ns: u64,
    /// Machine time of the last receiver FIFO activity (byte in or out).
    pub rx_activity_ns: u64,
}

impl Default for Uart16550 {
    fn default() -> Self {
        Self::new()
    }
}

impl Uart16550 {
    /// COM1's port window.
    pub const COM1_PORT: u16 = 0x3F8;
    /// COM1's IRQ.
    pub const COM1_IRQ: u8 = 4;
    /// Number of ports in the window.
    pub const PORT_LEN: u16 = 8;

    /// Master-reset state, with a terminal attached (CTS, DSR and DCD asserted).
    pub fn new() -> Self {
        Uart16550 {
            rx: VecDeque::with_capacity(FIFO_SIZE),
            output: Vec::new(),
            ier: 0,
            lcr: 0,
            mcr: 0,
            lsr_errors: 0,
            msr: msr::CTS | msr::DSR | msr::DCD,
            scr: 0,
            divisor: 12,
            fifo_enabled: false,
            rx_trigger: 1,
            thre_pending: false,
            modem_inputs: msr::CTS | msr::DSR | msr::DCD,
            last_rx: 0,
            now_ns: 0,
            rx_activity_ns: 0,
        }
    }

    /// Moves time forward (for the character timeout).
    pub fn advance(&mut self, now_ns: u64) {
        self.now_ns = now_ns.max(self.now_ns);
    }

    /// Takes the bytes the guest transmitted since the last call.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    fn loopback(&self) -> bool {
        self.mcr & mcr::LOOP != 0
    }

    fn capacity(&self) -> usize {
        if self.fifo_enabled {
            FIFO_SIZE
        } else {
            1
        }
    }

    /// How many bytes `receive` can take now without an overrun (0 in loopback mode, where the
    /// receiver is disconnected from the line).
    pub fn rx_space(&self) -> usize {
        if self.loopback() {
            0
        } else {
            self.capacity().saturating_sub(self.rx.len())
        }
    }

    /// A byte arrives on the serial line. Ignored in loopback mode; an overrun sets OE and the
    /// byte is lost.
    pub fn receive(&mut self, byte: u8) {
        if !self.loopback() {
            self.receive_internal(byte);
        }
    }

    fn receive_internal(&mut self, byte: u8) {
        self.rx_activity_ns = self.now_ns;
        if self.rx.len() >= self.capacity() {
            self.lsr_errors |= lsr::OVERRUN;
            return;
        }
        self.rx.push_back(byte);
    }

    /// Sets the external modem inputs (`msr::CTS | msr::DSR | msr::RI | msr::DCD`).
    pub fn set_modem_inputs(&mut self, levels: u8) {
        self.modem_inputs = levels & 0xF0;
        self.refresh_msr();
    }

    /// Recomputes MSR's levels from the inputs (or MCR in loopback) and flags changes.
    fn refresh_msr(&mut self) {
        let levels = if self.loopback() {
            let m = self.mcr;
            ((m & mcr::DTR != 0) as u8 * msr::DSR)
                | ((m & mcr::RTS != 0) as u8 * msr::CTS)
                | ((m & mcr::OUT1 != 0) as u8 * msr::RI)
                | ((m & mcr::OUT2 != 0) as u8 * msr::DCD)
        } else {
            self.modem_inputs
        };
        let old = self.msr & 0xF0;
        let changed = old ^ levels;
        let mut delta = 0;
        if changed & msr::CTS != 0 {
            delta |= 0x01;
        }
        if changed & msr::DSR != 0 {
            delta |= 0x02;
        }
        if changed & msr::RI != 0 && levels & msr::RI == 0 {
            delta |= 0x04; // TERI: trailing edge of RI only
        }
        if changed & msr::DCD != 0 {
            delta |= 0x08;
        }
        self.msr = levels | (self.msr & 0x0F) | delta;
    }

    /// Nanoseconds one character takes on the line (start, data, parity and stop bits).
    fn char_time_ns(&self) -> u64 {
        let data = 5 + (self.lcr & 3) as u64;
        let parity = (self.lcr >> 3 & 1) as u64;
        let stop = 1 + (self.lcr >> 2 & 1) as u64;
        let bits = 1 + data + parity + stop;
        bits * self.divisor.max(1) as u64 * 1_000_000_000 / 115_200
    }

    /// When the character-timeout indication comes on (FIFO mode, data in the FIFO).
    fn timeout_at(&self) -> Option<u64> {
        (self.fifo_enabled && !self.rx.is_empty())
            .then(|| self.rx_activity_ns.saturating_add(4 * self.char_time_ns()))
    }

    /// The interrupt IIR reports now (bits 3:0).
    fn interrupt_id(&self) -> u8 {
        if self.ier & ier::LINE_STATUS != 0 && self.lsr_errors != 0 {
            return iir::LINE_STATUS;
        }
        if self.ier & ier::RX_DATA != 0 && !self.rx.is_empty() {
            if !self.fifo_enabled || self.rx.len() >= self.rx_trigger as usize {
                return iir::RX_DATA;
            }
            if self.timeout_at().is_some_and(|t| self.now_ns >= t) {
                return iir::RX_TIMEOUT;
            }
        }
        if self.ier & ier::THRE != 0 && self.thre_pending {
            return iir::THRE;
        }
        if self.ier & ier::MODEM_STATUS != 0 && self.msr & 0x0F != 0 {
            return iir::MODEM_STATUS;
        }
        iir::NONE
    }

    /// Level of the IRQ line: an interrupt is pending and MCR OUT2 enables the PC's IRQ driver.
    pub fn irq_level(&self) -> bool {
        self.mcr & mcr::OUT2 != 0 && !self.loopback() && self.interrupt_id() != iir::NONE
    }

    /// Machine time of the next event that could raise the IRQ (the character timeout).
    pub fn next_event_ns(&self) -> Option<u64> {
        if self.ier & ier::RX_DATA == 0 || self.rx.len() >= self.rx_trigger as usize {
            return None;
        }
        self.timeout_at().filter(|&t| t > self.now_ns)
    }

    fn lsr(&self) -> u8 {
        ((!self.rx.is_empty()) as u8 * lsr::DATA_READY) | self.lsr_errors | lsr::THRE | lsr::TEMT
    }

    fn transmit(&mut self, byte: u8) {
        if self.loopback() {
            self.receive_internal(byte);
        } else {
            self.output.push(byte);
        }
        // The byte left THR at once: THR is empty again.
        self.thre_pending = true;
    }

    fn write_fcr(&mut self, value: u8) {
        let enable = value & 0x01 != 0;
        if enable != self.fifo_enabled {
            self.rx.clear();
            self.fifo_enabled = enable;
        }
        if !enable {
            return;
        }
        if value & 0x02 != 0 {
            self.rx.clear();
            self.rx_activity_ns = self.now_ns;
        }
        if value & 0x04 != 0 {
            self.thre_pending = true;
        }
        self.rx_trigger = [1, 4, 8, 14][(value >> 6) as usize];
    }

    fn dlab(&self) -> bool {
        self.lcr & 0x80 != 0
    }
}

impl crate::PortIo for Uart16550 {
    fn read(&mut self, offset: u16, _size: u8) -> u32 {
        let value = match offset {
            0 if self.dlab() => self.divisor as u8,
            0 => {
                if let Some(b) = self.rx.pop_front() {
                    self.last_rx = b;
                }
                self.rx_activity_ns = self.now_ns;
                self.last_rx
            }
            1 if self.dlab() => (self.divisor >> 8) as u8,
            1 => self.ier,
            2 => {
                let id = self.interrupt_id();
                if id == iir::THRE {
                    self.thre_pending = false;
                }
                id | if self.fifo_enabled {
                    iir::FIFO_ENABLED
                } else {
                    0
                }
            }
            3 => self.lcr,
            4 => self.mcr,
            5 => {
                let v = self.lsr();
                self.lsr_errors = 0;
                v
            }
            6 => {
                let v = self.msr;
                self.msr &= 0xF0;
                v
            }
            _ => self.scr,
        };
        value as u32
    }

    fn write(&mut self, offset: u16, _size: u8, value: u32) {
        let value = value as u8;
        match offset {
            0 if self.dlab() => self.divisor = (self.divisor & 0xFF00) | value as u16,
            0 => self.transmit(value),
            1 if self.dlab() => self.divisor = (self.divisor & 0x00FF) | (value as u16) << 8,
            1 => {
                let was = self.ier;
                self.ier = value & 0x0F;
                if was & ier::THRE == 0 && self.ier & ier::THRE != 0 {
                    // THR is always empty here: enabling ETBEI raises THRE at once.
                    self.thre_pending = true;
                }
            }
            2 => self.write_fcr(value),
            3 => self.lcr = value,
            4 => {
                self.mcr = value & 0x1F;
                self.refresh_msr();
            }
            5 | 6 => {} // LSR and MSR are read-only (factory test writes ignored).
            _ => self.scr = value,
        }
    }
}

#[cfg(test)]
#[path = "uart_tests.rs"]
mod tests;

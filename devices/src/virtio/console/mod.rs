//! virtio-console (virtio 1.2 §5.3) with its single port 0, which Linux presents as `hvc0`:
//! receiveq 0 carries input to the guest, transmitq 1 carries its output.
//!
//! The machine pushes input bytes ([`VirtioConsole::push_input`]) and drains output
//! ([`VirtioConsole::take_output`]); both are buffered with a bound, so a guest that stops
//! reading input or a host that stops draining output only stalls the console. The window size
//! is in the configuration (`VIRTIO_CONSOLE_F_SIZE`); [`VirtioConsole::set_size`] changes it
//! and raises a configuration-change interrupt, which Linux answers by resizing the tty.
//! `VIRTIO_CONSOLE_F_EMERG_WRITE` lets the guest write a byte through the configuration
//! before the queues are up.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::virtio::queue::{QueueContext, QueueError};
use crate::virtio::{device_type, VirtioDevice};

/// Feature bits (§5.3.3).
pub mod console_feature {
    pub const SIZE: u64 = 1 << 0;
    pub const EMERG_WRITE: u64 = 1 << 2;
}

/// Queue indices.
pub const RECEIVEQ: usize = 0;
pub const TRANSMITQ: usize = 1;
/// Size of both queues.
pub const QUEUE_SIZE: u16 = 64;
/// Input bytes buffered before `push_input` refuses more.
pub const MAX_PENDING_INPUT: usize = 64 << 10;
/// Output bytes buffered before the device stops taking transmit buffers.
pub const MAX_PENDING_OUTPUT: usize = 1 << 20;
/// `struct virtio_console_config`: cols, rows, max_nr_ports, emerg_wr.
const CONFIG_LEN: u32 = 12;
const EMERG_WR_OFFSET: u32 = 8;

/// A virtio console with one port. Its whole state is plain data (serialisable for snapshots).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtioConsole {
    cols: u16,
    rows: u16,
    input: VecDeque<u8>,
    output: Vec<u8>,
    /// Input arrived since the last `process`.
    input_arrived: bool,
    config_changed: bool,
}

impl VirtioConsole {
    /// A console whose window is `cols` x `rows` characters.
    pub fn new(cols: u16, rows: u16) -> Self {
        VirtioConsole {
            cols,
            rows,
            ..Default::default()
        }
    }

    /// Queues input for the guest; returns how many bytes were taken (the rest would exceed
    /// the buffer: offer them again later).
    pub fn push_input(&mut self, bytes: &[u8]) -> usize {
        let n = bytes
            .len()
            .min(MAX_PENDING_INPUT.saturating_sub(self.input.len()));
        self.input.extend(&bytes[..n]);
        self.input_arrived |= n > 0;
        n
    }

    /// Input bytes not yet delivered to the guest.
    pub fn pending_input(&self) -> usize {
        self.input.len()
    }

    /// Output the guest wrote since the last call.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    /// Changes the window size; the guest is told through a configuration-change interrupt.
    pub fn set_size(&mut self, cols: u16, rows: u16) {
        if (cols, rows) != (self.cols, self.rows) {
            self.cols = cols;
            self.rows = rows;
            self.config_changed = true;
        }
    }

    /// The window size (columns, rows).
    pub fn size(&self) -> (u16, u16) {
        (self.cols, self.rows)
    }

    fn config_bytes(&self) -> [u8; CONFIG_LEN as usize] {
        let mut c = [0u8; CONFIG_LEN as usize];
        c[0..2].copy_from_slice(&self.cols.to_le_bytes());
        c[2..4].copy_from_slice(&self.rows.to_le_bytes());
        c[4..8].copy_from_slice(&1u32.to_le_bytes()); // max_nr_ports (no MULTIPORT)
        c
    }

    /// Fills receive buffers with pending input.
    fn deliver_input(&mut self, ctx: &mut QueueContext) -> Result<(), QueueError> {
        while !self.input.is_empty() {
            let Some(chain) = ctx.pop(RECEIVEQ)? else {
                break;
            };
            if !chain.readable.is_empty() {
                return Err(QueueError::BadChain(
                    "console receive buffer is device-readable",
                ));
            }
            let n = (chain.writable.len() as usize).min(self.input.len());
            let bytes: Vec<u8> = self.input.drain(..n).collect();
            chain.writable.write_at(ctx.mem(), 0, &bytes)?;
            ctx.add_used(RECEIVEQ, chain.head, n as u32)?;
        }
        Ok(())
    }

    /// Collects transmitted output while there is room for it.
    fn collect_output(&mut self, ctx: &mut QueueContext) -> Result<(), QueueError> {
        while self.output.len() < MAX_PENDING_OUTPUT {
            let Some(chain) = ctx.pop(TRANSMITQ)? else {
                break;
            };
            if !chain.writable.is_empty() {
                return Err(QueueError::BadChain(
                    "console transmit buffer is device-writable",
                ));
            }
            let bytes = chain.readable.read_all(ctx.mem(), MAX_PENDING_OUTPUT)?;
            self.output.extend_from_slice(&bytes);
            ctx.add_used(TRANSMITQ, chain.head, 0)?;
        }
        Ok(())
    }
}

impl VirtioDevice for VirtioConsole {
    fn device_type(&self) -> u16 {
        device_type::CONSOLE
    }

    fn pci_class(&self) -> u32 {
        0x07_80_00 // simple communication controller, other
    }

    fn features(&self) -> u64 {
        console_feature::SIZE | console_feature::EMERG_WRITE
    }

    fn queue_max_sizes(&self) -> Vec<u16> {
        vec![QUEUE_SIZE, QUEUE_SIZE]
    }

    fn config_len(&self) -> u32 {
        CONFIG_LEN
    }

    fn read_config(&self, offset: u32, data: &mut [u8]) {
        let c = self.config_bytes();
        for (i, b) in data.iter_mut().enumerate() {
            *b = c.get(offset as usize + i).copied().unwrap_or(0);
        }
    }

    /// Only `emerg_wr` is writable: its low byte is output at once.
    fn write_config(&mut self, offset: u32, data: &[u8]) {
        if offset == EMERG_WR_OFFSET && self.output.len() < MAX_PENDING_OUTPUT {
            if let Some(&b) = data.first() {
                self.output.push(b);
            }
        }
    }

    /// Linux reads the size only on a configuration-change interrupt (its probe never reads
    /// it), and a change made before the driver is ready is dropped with no one to tell: so a
    /// driver that negotiated `F_SIZE` is told the current size as soon as it is ready.
    fn activate(&mut self, features: u64) {
        if features & console_feature::SIZE != 0 {
            self.config_changed = true;
        }
    }

    /// Undelivered input stays for the next driver; output already collected stays for the
    /// host.
    fn reset(&mut self) {}

    fn process(&mut self, ctx: &mut QueueContext<'_>) -> Result<(), QueueError> {
        self.input_arrived = false;
        if !ctx.live() {
            return Ok(());
        }
        self.collect_output(ctx)?;
        self.deliver_input(ctx)
    }

    fn take_config_changed(&mut self) -> bool {
        std::mem::take(&mut self.config_changed)
    }

    fn wants_poll(&self) -> bool {
        self.input_arrived || self.config_changed
    }
}

#[cfg(test)]
mod tests;

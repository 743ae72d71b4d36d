//! The virtio-pci modern transport (virtio 1.2 §4.1): one PCI function with its configuration
//! space and capabilities, the memory BAR's register regions, INTx through the ISR, and the
//! glue between a [`VirtioDevice`] and its split virtqueues.
//!
//! Register accesses (MMIO, PCI configuration) only change registers and record work; data moves
//! in [`VirtioPci::poll`], which is given guest memory.

pub mod common_cfg;
pub mod layout;

use std::cell::Cell;
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use crate::pci::{PciConfigSpace, PciDevice};
use crate::virtio::memory::{GuestMemory, GuestRam};
use crate::virtio::queue::{QueueContext, Virtqueue};
use crate::virtio::{feature, status, VirtioDevice};
use layout::*;

/// ISR bit 0: a used buffer notification.
pub const ISR_QUEUE: u8 = 1;
/// ISR bit 1: a configuration change notification.
pub const ISR_CONFIG: u8 = 2;

/// PCI command register: memory space decoding.
const COMMAND_MEMORY: u16 = 1 << 1;
/// PCI command register: INTx emulation disabled.
const COMMAND_INTX_DISABLE: u16 = 1 << 10;
/// PCI status register: an INTx interrupt is pending.
const STATUS_INTERRUPT: u32 = 1 << 3;

/// Most guest-mistake notices kept until the machine takes them.
const MAX_NOTICES: usize = 16;

/// Flags a function raises for its owner, shared so the machine can check them cheaply.
#[derive(Debug, Default)]
pub struct Signals {
    /// Some function's interrupt line may have changed level.
    pub irq_changed: Cell<bool>,
    /// Some function was notified or activated: poll soon.
    pub work: Cell<bool>,
}

/// The transport's registers and queues (everything but the device and the configuration
/// space), serialisable for snapshots.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransportState {
    pub status: u8,
    pub device_feature_select: u32,
    pub driver_feature_select: u32,
    /// Features the driver wrote (accepted once FEATURES_OK sticks).
    pub driver_features: u64,
    pub queue_select: u16,
    pub queues: Vec<Virtqueue>,
    /// ISR status bits; reading the ISR clears them and lowers INTx.
    pub isr: u8,
    pub config_generation: u8,
}

/// A virtio PCI function: transport plus device `D`.
pub struct VirtioPci<D: VirtioDevice> {
    state: TransportState,
    config: PciConfigSpace,
    device: D,
    irq: u8,
    signals: Rc<Signals>,
    notices: Vec<String>,
}

impl<D: VirtioDevice> VirtioPci<D> {
    /// The function for `device` with INTA# wired to ISA IRQ `irq` (also written to the
    /// Interrupt Line register, as firmware would).
    pub fn new(device: D, irq: u8) -> Self {
        Self::with_signals(device, irq, Rc::default())
    }

    /// As [`VirtioPci::new`], raising `signals` (shared with a [`crate::virtio::VirtioPciSet`]).
    pub fn with_signals(device: D, irq: u8, signals: Rc<Signals>) -> Self {
        let sizes = device.queue_max_sizes();
        let config = layout::config_space(
            device.device_type(),
            device.pci_class(),
            sizes.len() as u16,
            device.config_len(),
            irq,
        );
        VirtioPci {
            state: TransportState {
                queues: sizes.into_iter().map(Virtqueue::new).collect(),
                ..Default::default()
            },
            config,
            device,
            irq,
            signals,
            notices: Vec::new(),
        }
    }

    /// The device.
    pub fn device(&self) -> &D {
        &self.device
    }

    /// The device, e.g. to push console input. Call the set's `poll` afterwards for the
    /// change to reach the guest.
    pub fn device_mut(&mut self) -> &mut D {
        &mut self.device
    }

    /// The ISA IRQ INTA# is wired to.
    pub fn irq(&self) -> u8 {
        self.irq
    }

    /// INTA# level: an ISR bit is set and INTx is not disabled in the command register.
    pub fn irq_level(&self) -> bool {
        self.state.isr != 0 && self.config.command() & COMMAND_INTX_DISABLE == 0
    }

    /// The device status register.
    pub fn status(&self) -> u8 {
        self.state.status
    }

    /// Transport registers and queues, for a snapshot.
    pub fn state(&self) -> &TransportState {
        &self.state
    }

    /// The PCI configuration space (BAR, command register...), for a snapshot or inspection.
    pub fn pci_config(&self) -> &PciConfigSpace {
        &self.config
    }

    /// Puts a snapshot back (the device's own state is restored separately).
    pub fn restore(&mut self, state: TransportState, config: PciConfigSpace) {
        self.state = state;
        self.config = config;
        self.signals.irq_changed.set(true);
    }

    /// Where BAR 0 decodes, if memory decoding is enabled and the BAR is placed.
    pub fn bar_window(&self) -> Option<(u32, u32)> {
        let base = self.config.bar_address(0);
        (self.config.command() & COMMAND_MEMORY != 0 && base != 0).then_some((base, BAR_SIZE))
    }

    /// Places BAR 0 at `base` and enables memory decoding, as firmware does.
    pub fn assign_bar(&mut self, base: u32) {
        self.config
            .set32(crate::pci::config::offset::BAR0, base & !(BAR_SIZE - 1));
        let cmd = self.config.command() | COMMAND_MEMORY;
        self.config.set16(crate::pci::config::offset::COMMAND, cmd);
    }

    /// Guest-mistake notices since the last call.
    pub fn take_notices(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notices)
    }

    /// Features offered: the device's plus the transport's.
    pub fn offered_features(&self) -> u64 {
        self.device.features() | feature::VERSION_1 | feature::INDIRECT_DESC | feature::EVENT_IDX
    }

    /// Whether the driver finished setup and the device is usable.
    pub fn live(&self) -> bool {
        let s = self.state.status;
        let ready = status::DRIVER_OK | status::FEATURES_OK;
        s & ready == ready && s & (status::DEVICE_NEEDS_RESET | status::FAILED) == 0
    }

    /// Whether a poll has something to do (a notification, console input, a request in a
    /// backend).
    pub fn wants_poll(&self) -> bool {
        self.device.wants_poll()
    }

    /// Device reset (status 0 written): everything the driver set up is forgotten.
    pub fn reset(&mut self) {
        let before = self.irq_level();
        self.device.reset();
        let s = &mut self.state;
        for q in &mut s.queues {
            q.reset();
        }
        s.status = 0;
        s.device_feature_select = 0;
        s.driver_feature_select = 0;
        s.driver_features = 0;
        s.queue_select = 0;
        s.isr = 0;
        if before != self.irq_level() {
            self.signals.irq_changed.set(true);
        }
    }

    /// The guest broke a rule: enter DEVICE_NEEDS_RESET and tell the driver with a
    /// configuration-change interrupt if it is running (§2.1.2).
    fn device_error(&mut self, why: String) {
        if self.notices.len() < MAX_NOTICES {
            self.notices.push(format!(
                "virtio {} (IRQ {}): {why}; device needs reset",
                self.device.device_type(),
                self.irq
            ));
        }
        if self.state.status & status::DEVICE_NEEDS_RESET != 0 {
            return;
        }
        self.state.status |= status::DEVICE_NEEDS_RESET;
        if self.state.status & status::DRIVER_OK != 0 {
            self.raise(ISR_CONFIG);
        }
    }

    fn raise(&mut self, bits: u8) {
        let before = self.irq_level();
        self.state.isr |= bits;
        if before != self.irq_level() {
            self.signals.irq_changed.set(true);
        }
    }

    /// Reads BAR 0 at `offset`.
    pub fn bar_read(&mut self, offset: u32, size: u8) -> u32 {
        match offset {
            o if o < COMMON_OFFSET + COMMON_LEN => self.common_read(o - COMMON_OFFSET, size),
            ISR_OFFSET => {
                // Reading the ISR acknowledges the interrupt (§4.1.4.5).
                let before = self.irq_level();
                let v = std::mem::take(&mut self.state.isr);
                if before {
                    self.signals.irq_changed.set(true);
                }
                u32::from(v)
            }
            o if (DEVICE_OFFSET..DEVICE_OFFSET + DEVICE_MAX_LEN).contains(&o) => {
                let mut b = [0u8; 4];
                let n = usize::from(size.min(4));
                self.device.read_config(o - DEVICE_OFFSET, &mut b[..n]);
                u32::from_le_bytes(b)
            }
            _ => 0,
        }
    }

    /// Writes BAR 0 at `offset`.
    pub fn bar_write(&mut self, offset: u32, size: u8, value: u32) {
        match offset {
            o if o < COMMON_OFFSET + COMMON_LEN => {
                self.common_write(o - COMMON_OFFSET, size, value)
            }
            o if (DEVICE_OFFSET..DEVICE_OFFSET + DEVICE_MAX_LEN).contains(&o) => {
                let n = usize::from(size.min(4));
                self.device
                    .write_config(o - DEVICE_OFFSET, &value.to_le_bytes()[..n]);
                self.signals.work.set(true);
            }
            o if o >= NOTIFY_OFFSET => {
                // The address names the queue (§4.1.4.4); without VIRTIO_F_NOTIFICATION_DATA
                // the value written is just its index.
                let q = (o - NOTIFY_OFFSET) / NOTIFY_OFF_MULTIPLIER;
                if (q as usize) < self.state.queues.len() {
                    self.signals.work.set(true);
                }
            }
            _ => {}
        }
    }

    /// Does the device's work with guest memory, then updates the used-ring notifications
    /// and the interrupt.
    pub fn poll(&mut self, mem: &mut dyn GuestMemory) {
        let live = self.live();
        let negotiated = self.state.driver_features;
        let event_idx = negotiated & feature::EVENT_IDX != 0;
        let result = {
            let indirect = negotiated & feature::INDIRECT_DESC != 0;
            let mut ctx =
                QueueContext::new(GuestRam::new(mem), &mut self.state.queues, indirect, live);
            self.device.process(&mut ctx)
        };
        if let Err(e) = result {
            self.device_error(e.to_string());
        }
        if self.live() {
            let mut ram = GuestRam::new(mem);
            let mut interrupt = false;
            let mut failure = None;
            for q in &mut self.state.queues {
                let step = (|| {
                    if event_idx {
                        q.publish_avail_event(&mut ram)?;
                    }
                    q.needs_interrupt(&mut ram, event_idx)
                })();
                match step {
                    Ok(need) => interrupt |= need,
                    Err(e) => failure = Some(e),
                }
            }
            if let Some(e) = failure {
                self.device_error(e.to_string());
            } else if interrupt {
                self.raise(ISR_QUEUE);
            }
        }
        if self.device.take_config_changed() {
            self.state.config_generation = self.state.config_generation.wrapping_add(1);
            if self.state.status & status::DRIVER_OK != 0 {
                self.raise(ISR_CONFIG);
            }
        }
    }

    /// The `VIRTIO_PCI_CAP_PCI_CFG` window: a BAR access described by the capability's
    /// `bar`, `offset` and `length` fields (§4.1.4.9). Anything else than BAR 0 with length
    /// 1, 2 or 4 inside it does nothing.
    fn pci_cfg_target(&self) -> Option<(u32, u8)> {
        let bar = self.config.read(PCI_CFG_BAR, 1);
        let off = self.config.read(PCI_CFG_OFFSET, 4);
        let len = self.config.read(PCI_CFG_LENGTH, 4);
        let fits = off.checked_add(len).is_some_and(|end| end <= BAR_SIZE);
        (bar == 0 && matches!(len, 1 | 2 | 4) && fits).then_some((off, len as u8))
    }
}

impl<D: VirtioDevice> PciDevice for VirtioPci<D> {
    fn config_read(&mut self, offset: u16, size: u8) -> u32 {
        if (PCI_CFG_DATA..PCI_CFG_DATA + 4).contains(&offset) {
            return match self.pci_cfg_target() {
                Some((off, len)) => self.bar_read(off, len) >> (8 * (offset - PCI_CFG_DATA)),
                None => 0,
            };
        }
        let mut v = self.config.read(offset, size);
        // Status bit 3 mirrors the INTx state.
        let status = crate::pci::config::offset::STATUS;
        if offset <= status && status < offset + u16::from(size) && self.state.isr != 0 {
            v |= STATUS_INTERRUPT << (8 * (status - offset));
        }
        v
    }

    fn config_write(&mut self, offset: u16, size: u8, value: u32) {
        if (PCI_CFG_DATA..PCI_CFG_DATA + 4).contains(&offset) {
            if let Some((off, len)) = self.pci_cfg_target() {
                self.bar_write(off, len, value);
            }
            return;
        }
        let before = self.irq_level();
        self.config.write(offset, size, value);
        if before != self.irq_level() {
            self.signals.irq_changed.set(true);
        }
    }
}

#[cfg(test)]
mod tests;

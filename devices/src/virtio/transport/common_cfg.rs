//! The common configuration structure (`struct virtio_pci_common_cfg`, §4.1.4.3): feature
//! negotiation, device status and per-queue setup.
//!
//! Every field is handled as one or more registers of at most 32 bits (64-bit queue addresses
//! are two halves, as drivers access them). An access of any size at any offset is split into
//! the registers it overlaps; a partial write merges its bytes into the register's current value,
//! so odd accesses behave like byte lanes of a real register file.

use super::VirtioPci;
use crate::virtio::{feature, status, VirtioDevice};

/// Register offsets.
pub mod reg {
    pub const DEVICE_FEATURE_SELECT: u32 = 0x00;
    pub const DEVICE_FEATURE: u32 = 0x04;
    pub const DRIVER_FEATURE_SELECT: u32 = 0x08;
    pub const DRIVER_FEATURE: u32 = 0x0C;
    pub const CONFIG_MSIX_VECTOR: u32 = 0x10;
    pub const NUM_QUEUES: u32 = 0x12;
    pub const DEVICE_STATUS: u32 = 0x14;
    pub const CONFIG_GENERATION: u32 = 0x15;
    pub const QUEUE_SELECT: u32 = 0x16;
    pub const QUEUE_SIZE: u32 = 0x18;
    pub const QUEUE_MSIX_VECTOR: u32 = 0x1A;
    pub const QUEUE_ENABLE: u32 = 0x1C;
    pub const QUEUE_NOTIFY_OFF: u32 = 0x1E;
    pub const QUEUE_DESC_LO: u32 = 0x20;
    pub const QUEUE_DESC_HI: u32 = 0x24;
    pub const QUEUE_DRIVER_LO: u32 = 0x28;
    pub const QUEUE_DRIVER_HI: u32 = 0x2C;
    pub const QUEUE_DEVICE_LO: u32 = 0x30;
    pub const QUEUE_DEVICE_HI: u32 = 0x34;
}

/// (offset, width in bytes) of every register, in address order.
const REGISTERS: [(u32, u32); 19] = [
    (reg::DEVICE_FEATURE_SELECT, 4),
    (reg::DEVICE_FEATURE, 4),
    (reg::DRIVER_FEATURE_SELECT, 4),
    (reg::DRIVER_FEATURE, 4),
    (reg::CONFIG_MSIX_VECTOR, 2),
    (reg::NUM_QUEUES, 2),
    (reg::DEVICE_STATUS, 1),
    (reg::CONFIG_GENERATION, 1),
    (reg::QUEUE_SELECT, 2),
    (reg::QUEUE_SIZE, 2),
    (reg::QUEUE_MSIX_VECTOR, 2),
    (reg::QUEUE_ENABLE, 2),
    (reg::QUEUE_NOTIFY_OFF, 2),
    (reg::QUEUE_DESC_LO, 4),
    (reg::QUEUE_DESC_HI, 4),
    (reg::QUEUE_DRIVER_LO, 4),
    (reg::QUEUE_DRIVER_HI, 4),
    (reg::QUEUE_DEVICE_LO, 4),
    (reg::QUEUE_DEVICE_HI, 4),
];

/// What MSI-X vector registers read without MSI-X (§4.1.5.1.2).
const VIRTIO_MSI_NO_VECTOR: u32 = 0xFFFF;

/// The parts of registers `[offset, offset + size)` touches: (register offset, register width,
/// first byte inside the register, first byte inside the access, byte count).
fn lanes(offset: u32, size: u8) -> impl Iterator<Item = (u32, u32, u32, u32, u32)> {
    let end = offset.saturating_add(u32::from(size));
    REGISTERS.iter().filter_map(move |&(r, w)| {
        let from = offset.max(r);
        let to = end.min(r + w);
        (from < to).then(|| (r, w, from - r, from - offset, to - from))
    })
}

fn mask(bytes: u32) -> u32 {
    if bytes >= 4 {
        u32::MAX
    } else {
        (1u32 << (8 * bytes)) - 1
    }
}

impl<D: VirtioDevice> VirtioPci<D> {
    /// Reads the common configuration at `offset`.
    pub(super) fn common_read(&self, offset: u32, size: u8) -> u32 {
        lanes(offset, size).fold(0, |acc, (r, _, in_reg, in_access, n)| {
            let v = (self.common_register(r) >> (8 * in_reg)) & mask(n);
            acc | v << (8 * in_access)
        })
    }

    /// Writes the common configuration at `offset`.
    pub(super) fn common_write(&mut self, offset: u32, size: u8, value: u32) {
        for (r, w, in_reg, in_access, n) in lanes(offset, size) {
            let new = (value >> (8 * in_access)) & mask(n);
            let keep = !(mask(n) << (8 * in_reg)) & mask(w);
            let merged = (self.common_register(r) & keep) | new << (8 * in_reg);
            self.common_register_write(r, merged);
        }
    }

    fn common_register(&self, r: u32) -> u32 {
        let s = &self.state;
        let q = s.queues.get(s.queue_select as usize);
        match r {
            reg::DEVICE_FEATURE_SELECT => s.device_feature_select,
            reg::DEVICE_FEATURE => match s.device_feature_select {
                0 => self.offered_features() as u32,
                1 => (self.offered_features() >> 32) as u32,
                _ => 0,
            },
            reg::DRIVER_FEATURE_SELECT => s.driver_feature_select,
            reg::DRIVER_FEATURE => match s.driver_feature_select {
                0 => s.driver_features as u32,
                1 => (s.driver_features >> 32) as u32,
                _ => 0,
            },
            reg::CONFIG_MSIX_VECTOR | reg::QUEUE_MSIX_VECTOR => VIRTIO_MSI_NO_VECTOR,
            reg::NUM_QUEUES => s.queues.len() as u32,
            reg::DEVICE_STATUS => u32::from(s.status),
            reg::CONFIG_GENERATION => u32::from(s.config_generation),
            reg::QUEUE_SELECT => u32::from(s.queue_select),
            // A queue that does not exist reads size 0 (§4.1.4.3.2).
            reg::QUEUE_SIZE => q.map_or(0, |q| u32::from(q.size)),
            reg::QUEUE_ENABLE => q.map_or(0, |q| u32::from(q.ready)),
            reg::QUEUE_NOTIFY_OFF => q.map_or(0, |_| u32::from(s.queue_select)),
            reg::QUEUE_DESC_LO => q.map_or(0, |q| q.desc_table as u32),
            reg::QUEUE_DESC_HI => q.map_or(0, |q| (q.desc_table >> 32) as u32),
            reg::QUEUE_DRIVER_LO => q.map_or(0, |q| q.avail_ring as u32),
            reg::QUEUE_DRIVER_HI => q.map_or(0, |q| (q.avail_ring >> 32) as u32),
            reg::QUEUE_DEVICE_LO => q.map_or(0, |q| q.used_ring as u32),
            reg::QUEUE_DEVICE_HI => q.map_or(0, |q| (q.used_ring >> 32) as u32),
            _ => 0,
        }
    }

    fn common_register_write(&mut self, r: u32, v: u32) {
        match r {
            reg::DEVICE_FEATURE_SELECT => self.state.device_feature_select = v,
            reg::DRIVER_FEATURE_SELECT => self.state.driver_feature_select = v,
            reg::DRIVER_FEATURE => {
                // Features are fixed once FEATURES_OK is set (§3.1.1).
                let s = &mut self.state;
                if s.status & status::FEATURES_OK == 0 {
                    s.driver_features = match s.driver_feature_select {
                        0 => (s.driver_features & !0xFFFF_FFFF) | u64::from(v),
                        1 => (s.driver_features & 0xFFFF_FFFF) | u64::from(v) << 32,
                        _ => s.driver_features,
                    };
                }
            }
            reg::DEVICE_STATUS => self.write_status(v as u8),
            reg::QUEUE_SELECT => self.state.queue_select = v as u16,
            reg::QUEUE_SIZE => self.with_idle_queue(|q| q.size = v as u16),
            // Writing 0 is forbidden to drivers (§4.1.4.3.2) and ignored.
            reg::QUEUE_ENABLE if v & 1 == 1 => self.enable_queue(),
            reg::QUEUE_DESC_LO => self.with_idle_queue(|q| set_lo(&mut q.desc_table, v)),
            reg::QUEUE_DESC_HI => self.with_idle_queue(|q| set_hi(&mut q.desc_table, v)),
            reg::QUEUE_DRIVER_LO => self.with_idle_queue(|q| set_lo(&mut q.avail_ring, v)),
            reg::QUEUE_DRIVER_HI => self.with_idle_queue(|q| set_hi(&mut q.avail_ring, v)),
            reg::QUEUE_DEVICE_LO => self.with_idle_queue(|q| set_lo(&mut q.used_ring, v)),
            reg::QUEUE_DEVICE_HI => self.with_idle_queue(|q| set_hi(&mut q.used_ring, v)),
            // Read-only: device features, queue count, generation, notify offset; MSI-X vectors
            // keep reading NO_VECTOR (no MSI-X capability).
            _ => {}
        }
    }

    /// Changes the selected queue's setup, which is only allowed before it is enabled.
    fn with_idle_queue(&mut self, f: impl FnOnce(&mut crate::virtio::Virtqueue)) {
        let s = &mut self.state;
        if let Some(q) = s.queues.get_mut(s.queue_select as usize) {
            if !q.ready {
                f(q);
            }
        }
    }

    fn enable_queue(&mut self) {
        let s = &mut self.state;
        let index = s.queue_select;
        let Some(q) = s.queues.get_mut(index as usize) else {
            return;
        };
        if q.ready {
            return;
        }
        if !q.config_valid() {
            let why = format!(
                "queue {index} enabled with size {} (max {}), desc {:#x}, avail {:#x}, used {:#x}",
                q.size, q.max_size, q.desc_table, q.avail_ring, q.used_ring
            );
            self.device_error(why);
            return;
        }
        q.ready = true;
        q.next_avail = 0;
        q.next_used = 0;
        q.signalled_used = None;
        q.used_pending = false;
        q.avail_event_published = None;
    }

    /// The device status register (§2.1, §3.1.1).
    fn write_status(&mut self, v: u8) {
        if v == 0 {
            self.reset();
            return;
        }
        let old = self.state.status;
        // DEVICE_NEEDS_RESET belongs to the device: the driver can neither set nor clear it.
        let mut new = (v & !status::DEVICE_NEEDS_RESET) | (old & status::DEVICE_NEEDS_RESET);
        if new & status::FEATURES_OK != 0 && old & status::FEATURES_OK == 0 {
            let wanted = self.state.driver_features;
            let acceptable =
                wanted & !self.offered_features() == 0 && wanted & feature::VERSION_1 != 0;
            if !acceptable {
                // Not accepted: FEATURES_OK does not stick, as §3.1.1 step 6 expects.
                new &= !status::FEATURES_OK;
            }
        }
        self.state.status = new;
        let ready = status::DRIVER_OK | status::FEATURES_OK;
        if new & ready == ready && old & status::DRIVER_OK == 0 {
            let features = self.state.driver_features;
            self.device.activate(features);
            self.signals.work.set(true);
        }
    }
}

fn set_lo(field: &mut u64, v: u32) {
    *field = (*field & !0xFFFF_FFFF) | u64::from(v);
}

fn set_hi(field: &mut u64, v: u32) {
    *field = (*field & 0xFFFF_FFFF) | u64::from(v) << 32;
}

//! Split virtqueues (virtio 1.2 §2.7): the driver's descriptor table and available ring, the
//! device's used ring, with `VIRTIO_F_EVENT_IDX` notification suppression.
//!
//! Ring layout in guest memory for a queue of `size` entries:
//! - available ring (driver area): `flags: u16, idx: u16, ring: [u16; size], used_event: u16`
//! - used ring (device area): `flags: u16, idx: u16, ring: [{id: u32, len: u32}; size],
//!   avail_event: u16`
//!
//! Every ring access is bounds-checked against RAM; a ring outside RAM, an available index
//! that runs more than `size` ahead, or a malformed chain is a [`QueueError`], which the
//! transport turns into `DEVICE_NEEDS_RESET` (§2.1.2).

pub mod chain;

use serde::{Deserialize, Serialize};

pub use chain::{DescriptorChain, Segment, Segments};

use crate::virtio::memory::{GuestRam, OutOfRam};

/// Available ring `flags`: the driver does not want interrupts (without EVENT_IDX).
pub const VIRTQ_AVAIL_F_NO_INTERRUPT: u16 = 1;

/// Largest queue size this implementation offers.
pub const MAX_QUEUE_SIZE: u16 = 256;

/// A guest mistake in a virtqueue: the device stops using its queues until reset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    #[error("{0}")]
    OutOfRam(#[from] OutOfRam),
    #[error("available index {avail_idx} is more than the queue size {size} ahead of {next}")]
    AvailIndexTooFar {
        avail_idx: u16,
        next: u16,
        size: u16,
    },
    #[error("head descriptor {head} is outside the {queue_size}-entry table")]
    HeadOutOfRange { head: u16, queue_size: u16 },
    #[error("next descriptor {next} is outside the {table_len}-entry table")]
    NextOutOfRange { next: u16, table_len: u32 },
    #[error("descriptor chain is longer than its table allows (a loop?) or than 64 MiB")]
    ChainTooLong,
    #[error("indirect descriptor used without VIRTIO_F_INDIRECT_DESC")]
    IndirectNotNegotiated,
    #[error("descriptor has both INDIRECT and NEXT set")]
    IndirectWithNext,
    #[error("indirect descriptor inside an indirect table")]
    NestedIndirect,
    #[error("indirect table length {0} is not a non-zero multiple of 16")]
    BadIndirectLength(u32),
    #[error("device-readable descriptor after a device-writable one")]
    ReadableAfterWritable,
    #[error("descriptor chain has the wrong direction or shape for this queue: {0}")]
    BadChain(&'static str),
    #[error("queue {0} is not configured")]
    NotReady(u16),
}

/// One split virtqueue's configuration and device-side indices.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Virtqueue {
    /// Largest size the device offers.
    pub max_size: u16,
    /// Size the driver chose (a power of two, at most `max_size`).
    pub size: u16,
    /// `queue_enable` was written with 1.
    pub ready: bool,
    /// Descriptor table address.
    pub desc_table: u64,
    /// Available ring (driver area) address.
    pub avail_ring: u64,
    /// Used ring (device area) address.
    pub used_ring: u64,
    /// Next available-ring index the device will take.
    pub next_avail: u16,
    /// Next used-ring index the device will fill (the used `idx` it last published).
    pub next_used: u16,
    /// Used index at the last interrupt decision (for EVENT_IDX), if any was made.
    pub signalled_used: Option<u16>,
    /// The device added used entries since the last interrupt decision.
    pub used_pending: bool,
    /// The `avail_event` value last written (EVENT_IDX), to write it only when it changes.
    pub avail_event_published: Option<u16>,
}

impl Virtqueue {
    /// A queue of at most `max_size` entries, not configured.
    pub fn new(max_size: u16) -> Self {
        Virtqueue {
            max_size,
            size: max_size,
            ..Default::default()
        }
    }

    /// Back to the state after reset (§2.7: sizes return to the maximum).
    pub fn reset(&mut self) {
        *self = Virtqueue::new(self.max_size);
    }

    /// Whether the driver's settings are usable: a power-of-two size within the maximum and
    /// the alignments of §2.7 (descriptor table 16, available ring 2, used ring 4 bytes).
    pub fn config_valid(&self) -> bool {
        self.size != 0
            && self.size.is_power_of_two()
            && self.size <= self.max_size
            && self.desc_table.is_multiple_of(16)
            && self.avail_ring.is_multiple_of(2)
            && self.used_ring.is_multiple_of(4)
    }

    fn avail_idx(&self, mem: &mut GuestRam) -> Result<u16, QueueError> {
        Ok(mem.read_u16(self.avail_ring.wrapping_add(2))?)
    }

    /// Whether the driver has made a chain available that the device has not taken.
    pub fn has_available(&self, mem: &mut GuestRam) -> Result<bool, QueueError> {
        if !self.ready {
            return Ok(false);
        }
        Ok(self.avail_idx(mem)? != self.next_avail)
    }

    /// Takes the next available chain, validated.
    pub fn pop(
        &mut self,
        mem: &mut GuestRam,
        indirect_allowed: bool,
    ) -> Result<Option<DescriptorChain>, QueueError> {
        if !self.ready {
            return Ok(None);
        }
        let avail_idx = self.avail_idx(mem)?;
        let pending = avail_idx.wrapping_sub(self.next_avail);
        if pending == 0 {
            return Ok(None);
        }
        if pending > self.size {
            return Err(QueueError::AvailIndexTooFar {
                avail_idx,
                next: self.next_avail,
                size: self.size,
            });
        }
        let slot = u64::from(self.next_avail % self.size);
        let head = mem.read_u16(self.avail_ring.wrapping_add(4 + 2 * slot))?;
        let chain =
            DescriptorChain::parse(mem, self.desc_table, self.size, head, indirect_allowed)?;
        self.next_avail = self.next_avail.wrapping_add(1);
        Ok(Some(chain))
    }

    /// Publishes `len` bytes written into chain `head` in the used ring.
    pub fn add_used(&mut self, mem: &mut GuestRam, head: u16, len: u32) -> Result<(), QueueError> {
        if !self.ready || self.size == 0 {
            return Err(QueueError::NotReady(head));
        }
        let slot = u64::from(self.next_used % self.size);
        let entry = self.used_ring.wrapping_add(4 + 8 * slot);
        let mut e = [0u8; 8];
        e[0..4].copy_from_slice(&u32::from(head).to_le_bytes());
        e[4..8].copy_from_slice(&len.to_le_bytes());
        mem.write(entry, &e)?;
        self.next_used = self.next_used.wrapping_add(1);
        // The entry is written before the index that publishes it (§2.7.8.2).
        mem.write_u16(self.used_ring.wrapping_add(2), self.next_used)?;
        self.used_pending = true;
        Ok(())
    }

    /// With EVENT_IDX, tells the driver to notify as soon as it makes anything new available
    /// (§2.7.10: `avail_event` after the used ring).
    pub fn publish_avail_event(&mut self, mem: &mut GuestRam) -> Result<(), QueueError> {
        if !self.ready || self.avail_event_published == Some(self.next_avail) {
            return Ok(());
        }
        let at = self.used_ring.wrapping_add(4 + 8 * u64::from(self.size));
        mem.write_u16(at, self.next_avail)?;
        self.avail_event_published = Some(self.next_avail);
        Ok(())
    }

    /// Whether the used entries added since the last decision warrant an interrupt: with
    /// EVENT_IDX when the used index passed the driver's `used_event` (§2.7.10, the
    /// `vring_need_event` rule), otherwise unless the driver set `VIRTQ_AVAIL_F_NO_INTERRUPT`.
    pub fn needs_interrupt(
        &mut self,
        mem: &mut GuestRam,
        event_idx: bool,
    ) -> Result<bool, QueueError> {
        if !self.used_pending || !self.ready {
            return Ok(false);
        }
        self.used_pending = false;
        let new = self.next_used;
        let old = self.signalled_used.replace(new);
        if event_idx {
            let at = self.avail_ring.wrapping_add(4 + 2 * u64::from(self.size));
            let used_event = mem.read_u16(at)?;
            Ok(match old {
                None => true,
                Some(old) => new.wrapping_sub(used_event).wrapping_sub(1) < new.wrapping_sub(old),
            })
        } else {
            let flags = mem.read_u16(self.avail_ring)?;
            Ok(flags & VIRTQ_AVAIL_F_NO_INTERRUPT == 0)
        }
    }
}

/// What a device sees of its queues while it works: guest RAM and the queues, with the
/// negotiated features applied. Queue indices are the device's own (0 = first queue).
pub struct QueueContext<'a> {
    mem: GuestRam<'a>,
    queues: &'a mut [Virtqueue],
    indirect: bool,
    live: bool,
}

impl<'a> QueueContext<'a> {
    /// Built by the transport. `live`: the driver is ready (DRIVER_OK) and the device is not
    /// in its error state; otherwise queues look empty and completions are dropped.
    pub fn new(mem: GuestRam<'a>, queues: &'a mut [Virtqueue], indirect: bool, live: bool) -> Self {
        QueueContext {
            mem,
            queues,
            indirect,
            live,
        }
    }

    /// Whether the driver is ready and the queues usable.
    pub fn live(&self) -> bool {
        self.live
    }

    /// Guest RAM.
    pub fn mem(&mut self) -> &mut GuestRam<'a> {
        &mut self.mem
    }

    /// Whether queue `q` has a chain waiting.
    pub fn has_available(&mut self, q: usize) -> Result<bool, QueueError> {
        match self.queues.get(q) {
            Some(queue) if self.live => queue.has_available(&mut self.mem),
            _ => Ok(false),
        }
    }

    /// Takes the next chain of queue `q`.
    pub fn pop(&mut self, q: usize) -> Result<Option<DescriptorChain>, QueueError> {
        match self.queues.get_mut(q) {
            Some(queue) if self.live => queue.pop(&mut self.mem, self.indirect),
            _ => Ok(None),
        }
    }

    /// Completes chain `head` of queue `q` with `len` bytes written. Dropped if the device is
    /// no longer live (reset or error state since the chain was taken).
    pub fn add_used(&mut self, q: usize, head: u16, len: u32) -> Result<(), QueueError> {
        match self.queues.get_mut(q) {
            Some(queue) if self.live => queue.add_used(&mut self.mem, head, len),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;

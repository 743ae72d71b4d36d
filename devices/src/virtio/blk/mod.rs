//! virtio-blk (virtio 1.2 §5.2): a disk on one request queue, backed by an asynchronous
//! [`BlockBackend`].
//!
//! Each request taken from the queue is checked, then submitted to the backend with its own
//! [`RequestId`]; many may be in flight. When the backend's `poll` yields a completion, the data
//! (for reads) and the status byte are written to the request's buffers, the chain is put in the
//! used ring, and the transport raises the interrupt. A device reset forgets the requests in
//! flight: their completions arrive later and are dropped, never written into memory the driver
//! has since reused.

pub mod request;

use std::collections::BTreeMap;

use webx86_disk::{BlockBackend, Completion, Request, RequestId, SECTOR_SIZE};

use crate::virtio::queue::{QueueContext, QueueError, Segments, MAX_QUEUE_SIZE};
use crate::virtio::{device_type, VirtioDevice};
use request::{blk_status, BlkRequest, Rejection, RequestError, RequestKind, ID_LEN};

/// Feature bits (§5.2.3).
pub mod blk_feature {
    pub const SIZE_MAX: u64 = 1 << 1;
    pub const SEG_MAX: u64 = 1 << 2;
    pub const RO: u64 = 1 << 5;
    pub const BLK_SIZE: u64 = 1 << 6;
    pub const FLUSH: u64 = 1 << 9;
}

/// Largest single data segment offered (`size_max`).
pub const SIZE_MAX: u32 = 1 << 20;
/// Most data segments per request (`seg_max`): header and status take the other two
/// descriptors of a queue-sized chain.
pub const SEG_MAX: u32 = MAX_QUEUE_SIZE as u32 - 2;
/// Bytes of `struct virtio_blk_config` exposed (up to `blk_size`, padded to its topology field).
const CONFIG_LEN: u32 = 24;

/// A request submitted to the backend and not yet completed.
#[derive(Clone, Debug)]
struct InFlight {
    head: u16,
    kind: RequestKind,
    /// Where read data goes.
    data: Segments,
    data_len: u32,
    status: Segments,
}

/// A virtio block device.
pub struct VirtioBlk {
    backend: Box<dyn BlockBackend>,
    /// Disk size in 512-byte sectors.
    capacity: u64,
    read_only: bool,
    id: [u8; ID_LEN],
    inflight: BTreeMap<u64, InFlight>,
    next_id: u64,
    completions: Vec<Completion>,
}

impl VirtioBlk {
    /// A disk backed by `backend` (read-only if the backend is).
    pub fn new(backend: Box<dyn BlockBackend>) -> Self {
        let mut id = [0u8; ID_LEN];
        let name = backend.device_id();
        let n = name.len().min(ID_LEN);
        id[..n].copy_from_slice(&name.as_bytes()[..n]);
        VirtioBlk {
            capacity: backend.len() / SECTOR_SIZE,
            read_only: backend.read_only(),
            backend,
            id,
            inflight: BTreeMap::new(),
            next_id: 0,
            completions: Vec::new(),
        }
    }

    /// Disk size in sectors.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Requests submitted to the backend and not yet completed.
    pub fn in_flight(&self) -> usize {
        self.inflight.len()
    }

    /// The backend, e.g. to flush it at power-off.
    pub fn backend_mut(&mut self) -> &mut dyn BlockBackend {
        &mut *self.backend
    }

    fn config_bytes(&self) -> [u8; CONFIG_LEN as usize] {
        let mut c = [0u8; CONFIG_LEN as usize];
        c[0..8].copy_from_slice(&self.capacity.to_le_bytes());
        c[8..12].copy_from_slice(&SIZE_MAX.to_le_bytes());
        c[12..16].copy_from_slice(&SEG_MAX.to_le_bytes());
        // geometry (16..20) left zero: not offered.
        c[20..24].copy_from_slice(&(SECTOR_SIZE as u32).to_le_bytes());
        c
    }

    /// Takes every available request: answers rejected ones at once, submits the others.
    fn take_requests(&mut self, ctx: &mut QueueContext) -> Result<(), QueueError> {
        while let Some(chain) = ctx.pop(0)? {
            let req = BlkRequest::parse(ctx.mem(), &chain).map_err(|e| match e {
                RequestError::Queue(q) => q,
                RequestError::ShortHeader(_) => QueueError::BadChain("block header under 16 bytes"),
                RequestError::NoStatus => QueueError::BadChain("block request without status"),
            })?;
            if let Err(Rejection(status)) = req.validate(self.capacity, self.read_only) {
                req.status.write_at(ctx.mem(), 0, &[status])?;
                ctx.add_used(0, req.head, 1)?;
                continue;
            }
            let offset = req.sector.wrapping_mul(SECTOR_SIZE);
            let data_len = req.data.len() as u32;
            let backend_request = match req.kind {
                RequestKind::GetId => {
                    let n = req.data.write_at(ctx.mem(), 0, &self.id)?;
                    req.status.write_at(ctx.mem(), 0, &[blk_status::OK])?;
                    ctx.add_used(0, req.head, n as u32 + 1)?;
                    continue;
                }
                RequestKind::In => Request::Read {
                    offset,
                    len: data_len,
                },
                RequestKind::Out => Request::Write {
                    offset,
                    data: req.data.read_all(ctx.mem(), data_len as usize)?,
                },
                RequestKind::Flush => Request::Flush,
                // Rejected by `validate`.
                RequestKind::Unsupported(_) => continue,
            };
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(1);
            self.inflight.insert(
                id,
                InFlight {
                    head: req.head,
                    kind: req.kind,
                    data: req.data,
                    data_len,
                    status: req.status,
                },
            );
            self.backend.submit(RequestId(id), backend_request);
        }
        Ok(())
    }

    /// Completes what the backend finished.
    fn complete_finished(&mut self, ctx: &mut QueueContext) -> Result<(), QueueError> {
        self.backend.poll(&mut self.completions);
        let done = std::mem::take(&mut self.completions);
        for c in done {
            // Unknown ids belong to requests abandoned by a reset.
            let Some(req) = self.inflight.remove(&c.id.0) else {
                continue;
            };
            let (status, used_len) = match (&c.result, req.kind) {
                (Ok(bytes), RequestKind::In) if bytes.len() == req.data_len as usize => {
                    req.data.write_at(ctx.mem(), 0, bytes)?;
                    (blk_status::OK, req.data_len + 1)
                }
                (Ok(_), RequestKind::In) => (blk_status::IOERR, 1),
                (Ok(_), _) => (blk_status::OK, 1),
                (Err(_), _) => (blk_status::IOERR, 1),
            };
            req.status.write_at(ctx.mem(), 0, &[status])?;
            ctx.add_used(0, req.head, used_len)?;
        }
        Ok(())
    }
}

impl VirtioDevice for VirtioBlk {
    fn device_type(&self) -> u16 {
        device_type::BLOCK
    }

    fn pci_class(&self) -> u32 {
        0x01_80_00 // mass storage, other
    }

    fn features(&self) -> u64 {
        let ro = if self.read_only { blk_feature::RO } else { 0 };
        blk_feature::SIZE_MAX
            | blk_feature::SEG_MAX
            | blk_feature::BLK_SIZE
            | blk_feature::FLUSH
            | ro
    }

    fn queue_max_sizes(&self) -> Vec<u16> {
        vec![MAX_QUEUE_SIZE]
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

    /// The configuration is read-only without VIRTIO_BLK_F_CONFIG_WCE.
    fn write_config(&mut self, _offset: u32, _data: &[u8]) {}

    fn activate(&mut self, _features: u64) {}

    fn reset(&mut self) {
        self.inflight.clear();
    }

    fn process(&mut self, ctx: &mut QueueContext<'_>) -> Result<(), QueueError> {
        self.complete_finished(ctx)?;
        self.take_requests(ctx)?;
        // A synchronous backend has finished already: complete in the same poll.
        self.complete_finished(ctx)
    }

    fn wants_poll(&self) -> bool {
        !self.inflight.is_empty()
    }
}

#[cfg(test)]
mod tests;

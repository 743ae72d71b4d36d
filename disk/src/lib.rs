//! Block backends behind one asynchronous interface: a request is submitted now and completes
//! later (natively often at once; in the browser when a chunk fetch resolves), so no caller
//! ever blocks on a read.

use thiserror::Error;

/// Bytes in a sector, the unit of virtio-blk offsets.
pub const SECTOR_SIZE: u64 = 512;

/// Chosen by the submitter; returned with the completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RequestId(pub u64);

/// What a request asks of the backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Read `len` bytes at byte `offset`.
    Read { offset: u64, len: u32 },
    /// Write `data` at byte `offset`; acknowledged only once it is in the backend's store
    /// (an overlay for images), so an acknowledged write is never lost.
    Write { offset: u64, data: Vec<u8> },
    /// Make every acknowledged write durable (fsync natively).
    Flush,
}

/// A finished request. `Ok` carries the bytes read (empty for writes and flushes).
#[derive(Debug)]
pub struct Completion {
    pub id: RequestId,
    pub result: Result<Vec<u8>, DiskError>,
}

/// Why a request or a backend failed. Messages name the file, chunk or URL at fault.
#[derive(Debug, Error)]
pub enum DiskError {
    #[error("request at byte {offset} of length {len} is outside the {size}-byte disk")]
    OutOfRange { offset: u64, len: u64, size: u64 },
    #[error("the disk is read-only")]
    ReadOnly,
    #[error("I/O error on {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// A block device's storage. Requests may complete in any order.
pub trait BlockBackend {
    /// Size in bytes.
    fn len(&self) -> u64;
    /// Whether the disk has no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Whether writes are refused.
    fn read_only(&self) -> bool {
        false
    }
    /// A stable identifier for virtio-blk's GET_ID (at most 20 bytes).
    fn device_id(&self) -> String;
    /// Starts a request; its completion appears in a later [`BlockBackend::poll`].
    fn submit(&mut self, id: RequestId, request: Request);
    /// Moves finished requests into `out`.
    fn poll(&mut self, out: &mut Vec<Completion>);
}
